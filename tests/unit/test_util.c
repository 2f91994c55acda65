/*
 * test_util.c - the string builder, JSON escaping, the arena, durations,
 * hashing, and the error helpers of errors.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escalator.h"
#include "util.h"

/* ---- allocation ---------------------------------------------------------- */

static void test_strdup(void **state)
{
    (void)state;
    char *a = esc__xstrdup("hello");
    char *b = esc__xstrndup("hello", 3);
    char *c = esc__xstrndup("hi", 10);
    assert_string_equal(a, "hello");
    assert_string_equal(b, "hel");
    assert_string_equal(c, "hi");
    free(a);
    free(b);
    free(c);
}

static void test_push(void **state)
{
    (void)state;
    int *arr = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++)
        ESC__PUSH(arr, n, cap, i);
    assert_int_equal(n, 1000);
    assert_true(cap >= 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(arr[i], i);
    free(arr);
}

/* ---- string builder ------------------------------------------------------ */

static void test_sb_basic(void **state)
{
    (void)state;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_puts(&sb, "abc");
    esc__sb_putc(&sb, '-');
    esc__sb_put(&sb, "xyz", 2);
    esc__sb_printf(&sb, "[%d:%s]", 42, "q");
    assert_string_equal(sb.buf, "abc-xy[42:q]");
    assert_int_equal(sb.len, 12);
    assert_false(sb.failed);

    esc__sb_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.buf, "");
    for (int i = 0; i < 10000; i++)
        esc__sb_printf(&sb, "%04d", i % 10000);
    assert_int_equal(sb.len, 40000);
    assert_memory_equal(sb.buf + 39996, "9999", 4);

    /* one format result larger than the room left */
    char long_arg[1001];
    memset(long_arg, 'z', 1000);
    long_arg[1000] = '\0';
    esc__sb_printf(&sb, "<%s>", long_arg);
    assert_int_equal(sb.len, 41002);
    assert_int_equal(sb.buf[40000], '<');
    assert_int_equal(sb.buf[41001], '>');
    assert_int_equal(sb.buf[41002], '\0');
    sb.len = 40000;
    sb.buf[40000] = '\0';

    size_t len = 0;
    char *s = esc__sb_take(&sb, &len);
    assert_int_equal(len, 40000);
    assert_int_equal(strlen(s), 40000);
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    free(s);
    esc__sb_free(&sb);
}

/* Once the builder has failed, appends are ignored until a reset. */
static void test_sb_sticky_failure(void **state)
{
    (void)state;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_puts(&sb, "kept");
    sb.failed = true;
    esc__sb_puts(&sb, " dropped");
    esc__sb_printf(&sb, "%d", 5);
    esc__sb_json_str(&sb, "x", 1);
    assert_string_equal(sb.buf, "kept");
    assert_true(sb.failed);
    esc__sb_reset(&sb);
    assert_false(sb.failed);
    esc__sb_puts(&sb, "again");
    assert_string_equal(sb.buf, "again");
    esc__sb_free(&sb);
}

static void test_sb_take_empty(void **state)
{
    (void)state;
    esc__sb sb;
    esc__sb_init(&sb);
    size_t len = 99;
    char *s = esc__sb_take(&sb, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
}

static char *json_str(const char *s, size_t n)
{
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_json_str(&sb, s, n);
    return esc__sb_take(&sb, NULL);
}

#define assert_json(input, expected)                                      \
    do {                                                                  \
        char *got_ = json_str((input), sizeof(input) - 1);                \
        assert_string_equal(got_, (expected));                           \
        free(got_);                                                       \
    } while (0)

static void test_json_escape(void **state)
{
    (void)state;
    assert_json("", "\"\"");
    assert_json("plain text", "\"plain text\"");
    assert_json("say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"");
    assert_json("a\nb\rc\td\be\ff", "\"a\\nb\\rc\\td\\be\\ff\"");
    assert_json("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    assert_json("nul\0here", "\"nul\\u0000here\"");
    assert_json("a/b", "\"a/b\"");
    /* valid multi-byte UTF-8 passes through */
    assert_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_json_escape_invalid_utf8(void **state)
{
    (void)state;
    /* a stray continuation byte, an invalid lead byte */
    assert_json("a\x80z", "\"a\xef\xbf\xbdz\"");
    assert_json("\xff", "\"\xef\xbf\xbd\"");
    /* overlong encodings of '/' and NUL */
    assert_json("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    assert_json("\xe0\x80\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* a UTF-16 surrogate encoded in UTF-8 */
    assert_json("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* above U+10FFFF */
    assert_json("\xf4\x90\x80\x80",
                "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* a truncated sequence counts once, then the next character follows */
    assert_json("\xe2\x82z", "\"\xef\xbf\xbdz\"");
    assert_json("end\xe2\x82", "\"end\xef\xbf\xbd\"");
    assert_json("\xf0\x9f\x98", "\"\xef\xbf\xbd\"");
    /* the largest valid code point */
    assert_json("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
}

/* Each byte that needs a look, at every place of strings of 1 to 40 bytes:
 * inside and at the edges of the 16-byte and 8-byte blocks the scan reads
 * at a time, and in the tail it reads byte by byte. */
static void test_json_escape_every_position(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } special[] = {
        {"\"", "\\\""},     {"\\", "\\\\"},       {"\n", "\\n"},
        {"\x01", "\\u0001"}, {"\x1f", "\\u001f"},    {"\xc3\xa9", "\xc3\xa9"},
        {"\xff", "\xef\xbf\xbd"},
    };
    char in[64], want[96];
    for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
        size_t sl = strlen(special[k].in);
        for (size_t n = sl; n <= 40; n++) {
            for (size_t at = 0; at + sl <= n; at++) {
                memset(in, 'a', n);
                memcpy(in + at, special[k].in, sl);
                int w = snprintf(want, sizeof(want), "\"%.*s%s%.*s\"", (int)at, in,
                                 special[k].out, (int)(n - at - sl), in + at + sl);
                assert_true(w > 0 && (size_t)w < sizeof(want));
                char *got = json_str(in, n);
                assert_string_equal(got, want);
                free(got);
            }
        }
    }
}

/* ---- arena --------------------------------------------------------------- */

static void test_arena(void **state)
{
    (void)state;
    esc__arena a;
    esc__arena_init(&a);

    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 37) + 1;
        unsigned char *p = esc__arena_alloc(&a, n);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xAB, n);
    }
    /* a big allocation gets its own block and is zeroed too */
    size_t big = 1u << 20;
    unsigned char *b = esc__arena_alloc(&a, big);
    assert_int_equal((uintptr_t)b % 16, 0);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[big - 1], 0);
    memset(b, 1, big);
    void *after = esc__arena_alloc(&a, 8);
    assert_int_equal((uintptr_t)after % 16, 0);

    char *s = esc__arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    char *f = esc__arena_printf(&a, "%s=%d", "x", 7);
    assert_string_equal(f, "x=7");
    char *e = esc__arena_printf(&a, "%s", "");
    assert_string_equal(e, "");
    char long_arg[301];
    memset(long_arg, 'q', 300);
    long_arg[300] = '\0';
    char *l = esc__arena_printf(&a, "[%s]", long_arg);
    assert_int_equal(strlen(l), 302);
    assert_int_equal(l[301], ']');
    assert_true(a.used_total > big);

    esc__arena_reset(&a);
    assert_int_equal(a.used_total, 0);
    assert_non_null(a.head);
    /* memory handed out after a reset is zeroed again */
    for (int i = 0; i < 100; i++) {
        unsigned char *p = esc__arena_alloc(&a, 100);
        for (size_t k = 0; k < 100; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xCD, 100);
    }
    void *z = esc__arena_alloc(&a, 0);
    assert_non_null(z);
    esc__arena_free(&a);
    assert_null(a.head);
    esc__arena_free(&a);
}

static void test_arena_big_first(void **state)
{
    (void)state;
    esc__arena a;
    esc__arena_init(&a);
    char *p = esc__arena_alloc(&a, 200000);
    p[199999] = 'x';
    char *q = esc__arena_alloc(&a, 16);
    q[15] = 'y';
    esc__arena_reset(&a);
    esc__arena_reset(&a);
    q = esc__arena_alloc(&a, 16);
    assert_int_equal(q[15], 0);
    esc__arena_free(&a);
}

/* ---- durations ----------------------------------------------------------- */

static int64_t dur(const char *s)
{
    int64_t v = -12345;
    assert_int_equal(esc__duration_parse(s, &v), 0);
    return v;
}

static void assert_bad_duration(const char *s)
{
    int64_t v = -12345;
    assert_int_equal(esc__duration_parse(s, &v), -1);
    assert_int_equal(v, -12345);
}

static void test_duration_parse(void **state)
{
    (void)state;
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
    assert_int_equal(dur("90s"), 90);
    assert_int_equal(dur("15m"), 900);
    assert_int_equal(dur("4h"), 14400);
    assert_int_equal(dur("3d"), 259200);
    assert_int_equal(dur("2w"), 1209600);
    assert_int_equal(dur("1h30m"), 5400);
    assert_int_equal(dur("1w2d3h4m5s"), 604800 + 2 * 86400 + 3 * 3600 + 245);
    assert_int_equal(dur("120m"), 7200);
    assert_int_equal(dur("007m"), 420);
    assert_int_equal(dur("15250284452471w3d"),
                     INT64_C(15250284452471) * 604800 + 3 * 86400);
}

static void test_duration_parse_bad(void **state)
{
    (void)state;
    assert_bad_duration("");
    assert_bad_duration("15");
    assert_bad_duration("-5m");
    assert_bad_duration("+5m");
    assert_bad_duration("5x");
    assert_bad_duration("5M");
    assert_bad_duration("5 m");
    assert_bad_duration(" 5m");
    assert_bad_duration("5m ");
    assert_bad_duration("1h 30m");
    assert_bad_duration("m");
    assert_bad_duration("1h30");
    assert_bad_duration("30m1h");
    assert_bad_duration("1h1h");
    assert_bad_duration("1.5h");
    assert_bad_duration("00");
    /* overflow: in the number, in the unit product, in the sum */
    assert_bad_duration("9223372036854775808s");
    assert_bad_duration("99999999999999999999s");
    assert_bad_duration("15250284452472w");
    assert_bad_duration("15250284452471w4d");
    assert_int_equal(esc__duration_parse(NULL, &(int64_t){0}), -1);
}

static void assert_format(int64_t secs, const char *expected)
{
    char buf[32];
    esc__duration_format(secs, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

static void test_duration_format(void **state)
{
    (void)state;
    assert_format(0, "0s");
    assert_format(45, "45s");
    assert_format(900, "15m");
    assert_format(5400, "1h 30m");
    assert_format(3 * 86400 + 4 * 3600 + 30 * 60 + 5, "3d 4h");
    assert_format(86400 + 300, "1d 5m");
    assert_format(14 * 86400, "14d");
    assert_format(61, "1m 1s");
    assert_format(-900, "-15m");
    assert_format(INT64_MIN, "-106751991167300d 15h");
    assert_format(INT64_MAX, "106751991167300d 15h");
    char small[4];
    esc__duration_format(5400, small, sizeof small);
    assert_string_equal(small, "1h ");
}

static void assert_words(int64_t secs, const char *expected)
{
    char buf[64];
    esc__duration_words(secs, buf, sizeof buf);
    assert_string_equal(buf, expected);
}

static void test_duration_words(void **state)
{
    (void)state;
    assert_words(0, "0 seconds");
    assert_words(1, "1 second");
    assert_words(30, "30 seconds");
    assert_words(60, "1 minute");
    assert_words(90, "1 minute and 30 seconds");
    assert_words(900, "15 minutes");
    assert_words(3600, "1 hour");
    assert_words(5400, "1 hour and 30 minutes");
    assert_words(24 * 3600, "24 hours");
    assert_words(48 * 3600, "48 hours");
    assert_words(72 * 3600, "72 hours");
    assert_words(96 * 3600, "4 days");
    assert_words(100 * 3600, "4 days and 4 hours");
    assert_words(7 * 86400, "1 week");
    assert_words(10 * 86400, "10 days");
    assert_words(14 * 86400, "2 weeks");
    assert_words(-5, "0 seconds");
    char small[5];
    esc__duration_words(900, small, sizeof small);
    assert_string_equal(small, "15 m");
}

/* ---- hashing ------------------------------------------------------------- */

static void test_hash64(void **state)
{
    (void)state;
    assert_true(esc__hash64("", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(esc__hash64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(esc__hash64("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

/* ---- errors.c ------------------------------------------------------------ */

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(esc_strerror(ESC_OK), "success");
    assert_string_equal(esc_strerror(ESC_ETICKET), "invalid ticket");
    assert_string_equal(esc_strerror(ESC_ELIMIT), "input exceeds a limit");
    assert_string_equal(esc_strerror(ESC_EMATCH), "text matcher failure");
    assert_string_equal(esc_strerror(-99), "unknown error");
    assert_string_equal(esc_version(), "0.1.0");
}

static void assert_error_text(const esc_error *e, const char *expected)
{
    char buf[1200];
    int n = esc_error_format(e, buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_int_equal(n, (int)strlen(expected));
}

static void test_error_format(void **state)
{
    (void)state;
    esc_error e;
    memset(&e, 0, sizeof e);
    strcpy(e.message, "something broke");
    assert_error_text(&e, "something broke");

    strcpy(e.where, "ticket.json");
    assert_error_text(&e, "ticket.json: something broke");

    strcpy(e.pointer, "/messages/3/from");
    assert_error_text(&e, "ticket.json: /messages/3/from: something broke");

    e.where[0] = '\0';
    assert_error_text(&e, "/messages/3/from: something broke");

    strcpy(e.where, "policy.yaml");
    e.pointer[0] = '\0';
    e.line = 12;
    e.col = 7;
    assert_error_text(&e, "policy.yaml:12:7: something broke");
    e.col = 0;
    assert_error_text(&e, "policy.yaml:12: something broke");

    char tiny[8];
    int n = esc_error_format(&e, tiny, sizeof tiny);
    assert_string_equal(tiny, "policy.");
    assert_int_equal(n, (int)strlen("policy.yaml:12: something broke"));
    assert_int_equal(esc_error_format(NULL, tiny, sizeof tiny), ESC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strdup),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_sb_basic),
        cmocka_unit_test(test_sb_sticky_failure),
        cmocka_unit_test(test_sb_take_empty),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_escape_invalid_utf8),
        cmocka_unit_test(test_json_escape_every_position),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_big_first),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_parse_bad),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_duration_words),
        cmocka_unit_test(test_hash64),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_error_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
