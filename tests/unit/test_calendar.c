/*
 * test_calendar.c - business-hours calendars: deadlines counted in opening
 * hours across evenings, weekends, holidays and daylight-saving changes, the
 * business_hours fact, and the compiler's diagnostics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "escalator.h"

static const char *const POLICY =
    "escalator: 1\n"
    "name: hours\n"
    "calendars:\n"
    "  - id: us_east\n"
    "    timezone: America/New_York\n"
    "    days: [mon, tue, wed, thu, fri]\n"
    "    hours: \"09:00-17:00\"\n"
    "    holidays: [2026-11-26, 2026-12-25]\n"
    "teams:\n"
    "  - {id: carrier, calendar: us_east, respond_within: 2h, "
    "follow_up: [1h, 24h], resolve_within: 16h}\n"
    "  - {id: l1, respond_within: 2h}\n"
    "priorities:\n"
    "  - {id: normal}\n"
    "signals:\n"
    "  port: {phrases: [port]}\n"
    "  pager: {phrases: [page me]}\n"
    "rules:\n"
    "  - {id: carrier, when: signals.port, targets: [carrier]}\n"
    "  - {id: wall_clock, when: 'not signals.port', targets: [l1]}\n"
    "  - id: after_hours\n"
    "    when: signals.pager and not facts.business_hours\n"
    "    escalate: false\n"
    "    tags: [page_on_call]\n";

static esc_policy *policy;

static int setup(void **state)
{
    (void)state;
    return esc_policy_load_buffer("hours.yaml", POLICY, strlen(POLICY),
                                  &policy, NULL);
}

static int teardown(void **state)
{
    (void)state;
    esc_policy_unref(&policy);
    return 0;
}

static json_t *decide(const char *text, const char *now_s)
{
    char ticket[512];
    snprintf(ticket, sizeof(ticket),
             "{\"id\":\"T\",\"messages\":[{\"from\":\"customer\",\"text\":"
             "\"%s\"}]}", text);
    esc_ticket *t = NULL;
    esc_error err;
    assert_int_equal(esc_ticket_parse(ticket, strlen(ticket), "t", &t, &err),
                     0);
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(policy, &e), 0);
    int64_t now;
    assert_int_equal(esc_time_parse(now_s, &now), 0);
    esc_decision *d = NULL;
    assert_int_equal(esc_engine_evaluate(e, t, now, ESC_EVAL_EXPLAIN, &d,
                                         &err), 0);
    char *s = esc_decision_json(d, ESC_JSON_EXPLAIN, NULL);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    free(s);
    esc_decision_free(&d);
    esc_engine_free(&e);
    esc_ticket_free(&t);
    return j;
}

static void expect_respond_by(const char *text, const char *now,
                              const char *want)
{
    json_t *j = decide(text, now);
    assert_string_equal(json_string_value(json_object_get(j, "respond_by")),
                        want);
    json_decref(j);
}

static void within_a_day(void **state)
{
    (void)state;
    /* Monday 10:00 in New York (EST, UTC-5): two hours later. */
    expect_respond_by("port", "2026-11-30T15:00:00Z", "2026-11-30T17:00:00Z");
    /* Before opening: counted from 09:00. */
    expect_respond_by("port", "2026-11-30T11:00:00Z", "2026-11-30T16:00:00Z");
}

static void over_a_weekend(void **state)
{
    (void)state;
    /* Friday 16:00: one hour on Friday, one on Monday from 09:00. */
    expect_respond_by("port", "2026-12-04T21:00:00Z", "2026-12-07T15:00:00Z");
    /* Saturday: Monday 11:00. */
    expect_respond_by("port", "2026-12-05T15:00:00Z", "2026-12-07T16:00:00Z");
}

static void over_a_holiday(void **state)
{
    (void)state;
    /* Wednesday 16:30 before Thanksgiving: 30 minutes, then Friday. */
    expect_respond_by("port", "2026-11-25T21:30:00Z", "2026-11-27T15:30:00Z");
}

static void across_daylight_saving(void **state)
{
    (void)state;
    /* Friday 6 March 16:00 EST; clocks go forward on Sunday 8 March, so
     * Monday 10:00 is EDT (UTC-4). */
    expect_respond_by("port", "2026-03-06T21:00:00Z", "2026-03-09T14:00:00Z");
}

static void wall_clock_without_calendar(void **state)
{
    (void)state;
    expect_respond_by("hello", "2026-12-05T15:00:00Z",
                      "2026-12-05T17:00:00Z");
}

static void follow_ups_in_business_time(void **state)
{
    (void)state;
    json_t *j = decide("port", "2026-12-04T21:00:00Z");
    json_t *f = json_object_get(j, "follow_ups");
    assert_int_equal(json_array_size(f), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(f, 0), "at")),
                        "2026-12-04T22:00:00Z");
    /* 24 business hours = three 8-hour days: Friday's last hour, Monday,
     * Tuesday, and seven hours of Wednesday. */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(f, 1), "at")),
                        "2026-12-09T21:00:00Z");
    json_decref(j);
}

static void business_hours_fact(void **state)
{
    (void)state;
    json_t *j = decide("page me", "2026-12-05T15:00:00Z"); /* Saturday */
    json_t *facts = json_object_get(json_object_get(j, "explain"), "facts");
    assert_true(json_is_false(json_object_get(facts, "business_hours")));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(j, "tags"), 0)),
                        "page_on_call");
    json_decref(j);
    j = decide("page me", "2026-12-07T15:00:00Z"); /* Monday 10:00 */
    facts = json_object_get(json_object_get(j, "explain"), "facts");
    assert_true(json_is_true(json_object_get(facts, "business_hours")));
    assert_int_equal(json_array_size(json_object_get(j, "tags")), 0);
    json_decref(j);
}

static int64_t at(const char *s)
{
    int64_t t;
    assert_int_equal(esc_time_parse(s, &t), 0);
    return t;
}

/* The resolution target, like respond_by, in the team's opening hours:
 * 16h asked at 16:00 on Wednesday 2026-11-25 (Thursday a holiday) is 1h on
 * Wednesday, 8h on Friday, 7h on Monday: 16:00 New York on Monday. */
static void resolve_by_in_business_time(void **state)
{
    (void)state;
    json_t *j = decide("my port failed", "2026-11-25T21:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "resolve_by")),
                        "2026-11-30T21:00:00Z");
    json_decref(j);
    j = decide("hello", "2026-11-25T21:00:00Z");
    assert_true(json_is_null(json_object_get(j, "resolve_by")));
    json_decref(j);
}

/* The public business-time functions the service counts its own
 * durations with. */
static void time_add_and_between(void **state)
{
    (void)state;
    int64_t out = 0;
    assert_int_equal(esc_policy_time_add(policy, "us_east",
                                         at("2026-11-25T21:00:00Z"), 16 * 3600,
                                         &out), ESC_OK);
    assert_int_equal(out, at("2026-11-30T21:00:00Z"));
    assert_int_equal(esc_policy_time_between(policy, "us_east",
                                             at("2026-11-25T21:00:00Z"),
                                             at("2026-11-30T21:00:00Z"), &out),
                     ESC_OK);
    assert_int_equal(out, 16 * 3600);
    /* Nights, the weekend and the holiday count nothing. */
    assert_int_equal(esc_policy_time_between(policy, "us_east",
                                             at("2026-11-25T22:00:00Z"),
                                             at("2026-11-27T14:00:00Z"), &out),
                     ESC_OK);
    assert_int_equal(out, 0);
    assert_int_equal(esc_policy_time_between(policy, "us_east",
                                             at("2026-11-27T14:00:00Z"),
                                             at("2026-11-25T22:00:00Z"), &out),
                     ESC_OK);
    assert_int_equal(out, 0);
    /* Without a calendar: wall-clock time. */
    assert_int_equal(esc_policy_time_add(policy, NULL, 100, 50, &out), ESC_OK);
    assert_int_equal(out, 150);
    assert_int_equal(esc_policy_time_between(policy, "", 100, 150, &out),
                     ESC_OK);
    assert_int_equal(out, 50);
    assert_int_equal(esc_policy_time_add(policy, "nowhere", 0, 1, &out),
                     ESC_EINVAL);
    assert_int_equal(esc_policy_time_add(policy, "us_east", 0, -1, &out),
                     ESC_EINVAL);
}

static void diagnostics(void **state)
{
    (void)state;
    const char *text =
        "escalator: 1\nname: x\n"
        "calendars:\n"
        "  - {id: a, timezone: Mars/Olympus, hours: '09:00-17:00'}\n"
        "  - {id: b, timezone: UTC, hours: '18:00-09:00', days: [mon, fry],"
        " holidays: [2026-02-30]}\n"
        "teams: [{id: t, calendar: c}]\npriorities: [{id: p}]\n"
        "rules: [{id: r, when: 'true', targets: [t]}]\n";
    esc_policy *p = NULL;
    esc_diags *d = NULL;
    assert_int_equal(esc_policy_load_buffer("c.yaml", text, strlen(text), &p,
                                            &d), ESC_EPOLICY);
    char all[2048] = "";
    for (size_t i = 0; i < esc_diags_count(d); i++) {
        const esc_diag *g = esc_diags_at(d, i);
        size_t len = strlen(all);
        snprintf(all + len, sizeof(all) - len, "%d:%d: %s\n", g->line, g->col,
                 g->message);
    }
    assert_string_equal(all,
        "4:23: unknown time zone 'Mars/Olympus' (expected an IANA name such "
        "as Europe/Paris or America/New_York)\n"
        "5:36: hours: expected opening and closing time as \"09:00-17:30\" "
        "(closing after opening)\n"
        "5:62: unknown day 'fry' (expected mon, tue, wed, thu, fri, sat or "
        "sun)\n"
        "5:79: holidays: '2026-02-30' is not a date (expected YYYY-MM-DD)\n"
        "6:27: unknown calendar 'c' (declare it under calendars:)\n");
    esc_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(within_a_day),
        cmocka_unit_test(over_a_weekend),
        cmocka_unit_test(over_a_holiday),
        cmocka_unit_test(across_daylight_saving),
        cmocka_unit_test(wall_clock_without_calendar),
        cmocka_unit_test(follow_ups_in_business_time),
        cmocka_unit_test(business_hours_fact),
        cmocka_unit_test(resolve_by_in_business_time),
        cmocka_unit_test(time_add_and_between),
        cmocka_unit_test(diagnostics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
