/*
 * test_time.c - esc_time_parse and esc_time_format: the RFC 3339 subset the
 * ticket contract accepts, calendar edge cases, and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "escalator.h"

static int64_t parse_ok(const char *s)
{
    int64_t t = 0;
    int rc = esc_time_parse(s, &t);
    if (rc != 0)
        fail_msg("rejected \"%s\"", s);
    return t;
}

static void assert_rejected(const char *s)
{
    int64_t t = 777;
    int rc = esc_time_parse(s, &t);
    if (rc != ESC_EINVAL)
        fail_msg("accepted \"%s\" (rc %d)", s, rc);
    assert_int_equal(t, 777);
}

static void test_parse_basic(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2026-11-20T10:00:00Z"), 1795168800);
    assert_int_equal(parse_ok("2000-01-01T00:00:00Z"), 946684800);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), INT64_C(-62167219200));
    assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), INT64_C(253402300799));
}

static void test_parse_forms(void **state)
{
    (void)state;
    const int64_t t = 1795168800; /* 2026-11-20T10:00:00Z */
    assert_int_equal(parse_ok("2026-11-20t10:00:00z"), t);
    assert_int_equal(parse_ok("2026-11-20 10:00:00Z"), t);
    assert_int_equal(parse_ok("2026-11-20T10:00:00.999999999Z"), t);
    assert_int_equal(parse_ok("2026-11-20T10:00:00.5Z"), t);
    assert_int_equal(parse_ok("2026-11-20T10:00:00+00:00"), t);
    assert_int_equal(parse_ok("2026-11-20T10:00:00-00:00"), t);
    assert_int_equal(parse_ok("2026-11-20T12:30:00+02:30"), t);
    assert_int_equal(parse_ok("2026-11-20T05:00:00-05:00"), t);
    assert_int_equal(parse_ok("2026-11-20T15:00:00.123+05:00"), t);
    /* an offset that moves the instant across a day and a year boundary */
    assert_int_equal(parse_ok("2026-12-31T23:00:00-23:59"),
                     parse_ok("2027-01-01T22:59:00Z"));
}

static void test_parse_calendar(void **state)
{
    (void)state;
    /* leap years: divisible by 4, except centuries not divisible by 400 */
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800);
    assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400);
    assert_int_equal(parse_ok("2024-03-01T00:00:00Z") -
                         parse_ok("2024-02-28T00:00:00Z"),
                     2 * 86400);
    assert_int_equal(parse_ok("2025-03-01T00:00:00Z") -
                         parse_ok("2025-02-28T00:00:00Z"),
                     86400);
    assert_rejected("2025-02-29T00:00:00Z");
    assert_rejected("1900-02-29T00:00:00Z");
    assert_rejected("2100-02-29T00:00:00Z");
    assert_rejected("2024-02-30T00:00:00Z");
    assert_rejected("2026-04-31T00:00:00Z");
    assert_rejected("2026-06-31T00:00:00Z");
    assert_rejected("2026-09-31T00:00:00Z");
    assert_rejected("2026-11-31T00:00:00Z");
    parse_ok("2026-01-31T00:00:00Z");
    parse_ok("2026-12-31T23:59:59Z");
}

static void test_parse_rejects(void **state)
{
    (void)state;
    assert_rejected("");
    assert_rejected("2026-11-20");
    assert_rejected("2026-11-20T10:00:00");
    assert_rejected("2026-11-20T10:00Z");
    assert_rejected("2026-13-01T00:00:00Z");
    assert_rejected("2026-00-10T00:00:00Z");
    assert_rejected("2026-01-00T00:00:00Z");
    assert_rejected("2026-01-32T00:00:00Z");
    assert_rejected("2026-11-20T24:00:00Z");
    assert_rejected("2026-11-20T10:60:00Z");
    assert_rejected("2026-11-20T10:00:60Z");
    assert_rejected("2026-11-20T10:00:00+24:00");
    assert_rejected("2026-11-20T10:00:00+05:60");
    assert_rejected("2026-11-20T10:00:00+0500");
    assert_rejected("2026-11-20T10:00:00+05");
    assert_rejected("2026-11-20T10:00:00.Z");
    assert_rejected("2026-11-20T10:00:00,5Z");
    assert_rejected("2026-11-20X10:00:00Z");
    assert_rejected("2026-11-20T10:00:00Z ");
    assert_rejected(" 2026-11-20T10:00:00Z");
    assert_rejected("2026-11-20T10:00:00ZZ");
    assert_rejected("26-11-20T10:00:00Z");
    assert_rejected("02026-11-20T10:00:00Z");
    assert_rejected("2026-1-20T10:00:00Z");
    assert_rejected("2026-11-20T1:00:00Z");
    assert_rejected("+2026-11-20T10:00:00Z");
    assert_rejected("2026/11/20T10:00:00Z");
    assert_rejected("2026-11-20T10:00:00UTC");
    assert_rejected("２026-11-20T10:00:00Z");
    assert_int_equal(esc_time_parse(NULL, &(int64_t){0}), ESC_EINVAL);
    assert_int_equal(esc_time_parse("2026-11-20T10:00:00Z", NULL), ESC_EINVAL);
}

static void assert_format(int64_t t, const char *expected)
{
    char buf[21];
    assert_int_equal(esc_time_format(t, buf, sizeof buf), 0);
    assert_string_equal(buf, expected);
}

static void test_format(void **state)
{
    (void)state;
    assert_format(0, "1970-01-01T00:00:00Z");
    assert_format(1795168800, "2026-11-20T10:00:00Z");
    assert_format(-1, "1969-12-31T23:59:59Z");
    assert_format(951782400, "2000-02-29T00:00:00Z");
    assert_format(INT64_C(-62167219200), "0000-01-01T00:00:00Z");
    assert_format(INT64_C(253402300799), "9999-12-31T23:59:59Z");

    char buf[21];
    assert_int_equal(esc_time_format(INT64_C(253402300800), buf, sizeof buf),
                     ESC_EINVAL);
    assert_int_equal(esc_time_format(INT64_C(-62167219201), buf, sizeof buf),
                     ESC_EINVAL);
    assert_int_equal(esc_time_format(INT64_MIN, buf, sizeof buf), ESC_EINVAL);
    assert_int_equal(esc_time_format(INT64_MAX, buf, sizeof buf), ESC_EINVAL);
    assert_int_equal(esc_time_format(0, buf, 20), ESC_EINVAL);
    assert_int_equal(esc_time_format(0, NULL, 21), ESC_EINVAL);
}

/* Every day from 1900 to 2100 (and a stride through the whole range)
 * formats and parses back to the same second. */
static void test_round_trip(void **state)
{
    (void)state;
    char buf[21];
    int64_t from = parse_ok("1900-01-01T00:00:00Z");
    int64_t to = parse_ok("2100-12-31T00:00:00Z");
    for (int64_t t = from; t <= to; t += 86400 + 3671) {
        assert_int_equal(esc_time_format(t, buf, sizeof buf), 0);
        assert_int_equal(parse_ok(buf), t);
    }
    for (int64_t t = INT64_C(-62167219200); t <= INT64_C(253402300799);
         t += INT64_C(86400) * 997 + 13) {
        assert_int_equal(esc_time_format(t, buf, sizeof buf), 0);
        assert_int_equal(parse_ok(buf), t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_calendar),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
