/*
 * test_policy.c - the policy compiler: every diagnostic by its exact text
 * and position, and what a compiled policy holds.
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

#define HEAD                                                              \
    "escalator: 1\n"                                                      \
    "name: t\n"                                                           \
    "fields:\n"                                                           \
    "  refund_amount: number\n"                                           \
    "  kind: {type: string, values: [billing, tech]}\n"               \
    "teams:\n"                                                            \
    "  - {id: l1, tier: 1}\n"                                             \
    "  - {id: l2, tier: 2}\n"                                             \
    "priorities:\n"                                                       \
    "  - id: high\n"                                                      \
    "  - id: low\n"                                                       \
    "signals:\n"                                                          \
    "  threat: {phrases: [sue, lawyer]}\n"                                \
    "rules:\n"

/* Loads `text` and returns every diagnostic, one "line:col: message" a
 * line (malloc'ed), or NULL when the policy is valid. */
static char *diags_of(const char *text)
{
    esc_policy *p = NULL;
    esc_diags *d = NULL;
    int rc = esc_policy_load_buffer("p.yaml", text, strlen(text), &p, &d);
    char *out = NULL;
    if (rc == 0) {
        assert_non_null(p);
        assert_int_equal(esc_diags_count(d), 0);
    } else {
        assert_null(p);
        size_t cap = 4096, len = 0;
        out = calloc(1, cap);
        for (size_t i = 0; i < esc_diags_count(d); i++) {
            const esc_diag *g = esc_diags_at(d, i);
            assert_string_equal(g->file, "p.yaml");
            len += (size_t)snprintf(out + len, cap - len, "%d:%d: %s\n",
                                    g->line, g->col, g->message);
            assert_true(len < cap);
        }
    }
    esc_policy_unref(&p);
    esc_diags_free(&d);
    return out;
}

static void expect_diags(const char *text, const char *want)
{
    char *got = diags_of(text);
    if (!want) {
        if (got)
            fail_msg("unexpected diagnostics:\n%s", got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void valid_policy(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: r, when: signals.threat, targets: [l2]}\n",
                 NULL);
}

static void yaml_syntax(void **state)
{
    (void)state;
    expect_diags("escalator: 1\nname: [x\n", "3:1: invalid YAML: flow "
                 "sequence without a closing bracket\n");
}

/* Invalid UTF-8 is reported where it stands; inside a directive it once
 * made the YAML parser loop. */
static void invalid_utf8(void **state)
{
    (void)state;
    expect_diags("escalator: 1\n%name: bad\x9b\x9b\n", "2:11: invalid UTF-8 "
                 "byte 0x9b\n");
    expect_diags("escalator: 1\nname: caf\xc3\n", "2:10: invalid UTF-8 byte "
                 "0xc3\n");
    static const char nul[] = "escalator: 1\nname: a\0b\n";
    esc_policy *p = NULL;
    esc_diags *d = NULL;
    assert_int_equal(esc_policy_load_buffer("p.yaml", nul, sizeof(nul) - 1,
                                            &p, &d), ESC_EPOLICY);
    assert_string_equal(esc_diags_at(d, 0)->message,
                        "a NUL byte is not allowed in a policy");
    assert_int_equal(esc_diags_at(d, 0)->col, 8);
    esc_diags_free(&d);
}

static void not_a_mapping(void **state)
{
    (void)state;
    expect_diags("- 1\n", "1:1: a policy must be a YAML mapping (escalator: "
                 "1, name: ..., teams: ...)\n");
}

static void version_and_required(void **state)
{
    (void)state;
    expect_diags("escalator: 2\nname: x\n",
                 "1:1: missing required key 'teams'\n"
                 "1:1: missing required key 'priorities'\n"
                 "1:1: missing required key 'rules'\n"
                 "1:12: unsupported format version (expected escalator: 1)\n");
}

static void unknown_key(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: r, when: signals.threat, targets: [l2], "
                      "prio: high}\n",
                 "15:50: unknown key 'prio' in a rule (expected id, "
                 "description, when, targets, priority, tags, actions, "
                 "level, stop_conversation, escalate, unsuppressible, "
                 "template, requires, reason, notify)\n");
}

static void unknown_ids(void **state)
{
    (void)state;
    expect_diags(HEAD "  - id: r\n"
                      "    when: signals.thret\n"
                      "    targets: [l3]\n"
                      "    priority: urgent\n",
                 "16:11: unknown signal 'thret'\n"
                 "17:15: unknown team 'l3'\n"
                 "18:15: unknown priority 'urgent'\n");
}

static void duplicate_ids(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: r, when: signals.threat, targets: [l2]}\n"
                      "  - {id: r, when: signals.threat, targets: [l1]}\n",
                 "16:10: duplicate rule id 'r'\n");
}

static void bad_duration(void **state)
{
    (void)state;
    expect_diags("escalator: 1\nname: t\nteams:\n"
                 "  - {id: l1, respond_within: 4 hours}\n"
                 "priorities: [{id: p}]\nrules: []\n",
                 "4:30: l1.respond_within: '4 hours' is not a duration "
                 "(expected e.g. 30s, 15m, 4h, 3d, 2w, 1h30m, or a duration "
                 "setting)\n");
}

static void wrong_types(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: a, when: fields.refund_amount > 3h, "
                      "targets: [l2]}\n"
                      "  - {id: b, when: fields.kind == other, targets: [l2]}\n"
                      "  - {id: c, when: channel == fax, targets: [l2]}\n"
                      "  - {id: d, when: customer.flags has royal, "
                      "targets: [l2]}\n"
                      "  - {id: e, when: fields.nope, targets: [l2]}\n"
                      "  - {id: f, when: fields.kind > 3, targets: [l2]}\n",
                 "15:19: cannot order fields.refund_amount (number) against "
                 "3h (duration): '>' compares numbers with numbers or "
                 "durations with durations\n"
                 "16:34: 'other' is not a value of fields.kind (expected "
                 "billing or tech)\n"
                 "17:30: unknown channel 'fax' (expected chat, email, phone, "
                 "web, bot or social)\n"
                 "18:38: unknown customer flag 'royal' (expected vip, "
                 "enterprise, influencer or executive)\n"
                 "19:19: unknown field 'nope' (declare it under fields:)\n"
                 "20:19: cannot order fields.kind (string) against 3 "
                 "(number): '>' compares numbers with numbers or durations "
                 "with durations\n");
}

static void never_fires(void **state)
{
    (void)state;
    expect_diags(HEAD "  - id: a\n"
                      "    when: facts.age > 3d and facts.age < 1h\n"
                      "    targets: [l2]\n"
                      "  - id: b\n"
                      "    when: {all: [fields.kind == billing, "
                      "fields.kind == tech]}\n"
                      "    targets: [l2]\n"
                      "  - {id: c, when: false, targets: [l2]}\n",
                 "16:11: rule 'a' can never fire: no value of facts.age "
                 "satisfies all of its comparisons (last: 'facts.age < 1h')\n"
                 "19:5: rule 'b' can never fire: 'fields.kind == billing' "
                 "and 'fields.kind == tech' cannot both hold\n"
                 "21:19: rule 'c' can never fire: its condition is always "
                 "false\n");
}

static void always_suppressed(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: a, when: signals.threat, targets: [l2]}\n"
                      "suppressions:\n"
                      "  - {id: s, when: true}\n",
                 "15:6: rule 'a' can never fire: suppression 's' always "
                 "holds it back\n");
}

static void expression_syntax(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: a, when: 'signals.threat and', "
                      "targets: [l2]}\n"
                      "  - {id: b, when: 'signals.threat )', targets: [l2]}\n"
                      "  - {id: c, when: 'fields.kind == \"x', "
                      "targets: [l2]}\n",
                 "15:38: expected a value at the end of the condition\n"
                 "16:35: unexpected ')' (expected and, or, or the end of the "
                 "condition)\n"
                 "17:35: unterminated string\n");
}

static void template_placeholders(void **state)
{
    (void)state;
    expect_diags(HEAD "  - {id: a, when: signals.threat, targets: [l2]}\n"
                      "templates:\n"
                      "  - id: t\n"
                      "    note: |\n"
                      "      Hello {{customer.name}}\n"
                      "      Bad {{ fields.nope }} and {{oops\n",
                 "20:14: unknown field 'nope' (declare it under fields:)\n"
                 "20:33: unterminated placeholder (missing '}}')\n");
}

static void bad_regex(void **state)
{
    (void)state;
    char *d = diags_of("escalator: 1\nname: t\nteams: [{id: a}]\n"
                       "priorities: [{id: p}]\n"
                       "signals:\n  code: {regex: 'error ([0-9]+'}\n"
                       "rules: [{id: r, when: signals.code, targets: [a]}]\n");
    assert_non_null(d);
    assert_non_null(strstr(d, "6:"));
    assert_non_null(strstr(d, "invalid regular expression"));
    free(d);
}

/* Anchors and aliases stand for the anchored value. */
static void yaml_aliases(void **state)
{
    (void)state;
    const char *text =
        "escalator: 1\nname: t\nteams: [{id: a}]\npriorities: [{id: p}]\n"
        "rules: [{id: r, when: 'true', targets: [a]}]\n"
        "templates:\n"
        "  - {id: x, for: [a], when: channel == email, note: &shared 'N {{ticket.id}}'}\n"
        "  - {id: y, for: [a], note: *shared}\n";
    esc_policy *p = NULL;
    assert_int_equal(esc_policy_load_buffer("p.yaml", text, strlen(text), &p,
                                            NULL), 0);
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(p, &e), 0);
    esc_ticket *t = NULL;
    esc_error err;
    const char *tj = "{\"id\":\"T-9\",\"channel\":\"chat\"}";
    assert_int_equal(esc_ticket_parse(tj, strlen(tj), "t", &t, &err), 0);
    esc_decision *d = NULL;
    assert_int_equal(esc_engine_evaluate(e, t, 0, 0, &d, &err), 0);
    char *js = esc_decision_json(d, 0, NULL);
    assert_non_null(strstr(js, "\"note\":\"N T-9\""));
    free(js);
    esc_decision_free(&d);
    esc_ticket_free(&t);
    esc_engine_free(&e);
    esc_policy_unref(&p);
}

/* Durations can come from settings; {{missing}} lists what is absent. */
static void duration_settings_and_missing(void **state)
{
    (void)state;
    expect_diags("escalator: 1\nname: t\nsettings: {n: 5}\n"
                 "teams: [{id: a, respond_within: settings.n}]\n"
                 "priorities: [{id: p}]\nrules: []\n",
                 "4:33: a.respond_within: 'settings.n' is not a duration "
                 "(expected e.g. 30s, 15m, 4h, 3d, 2w, 1h30m, or a duration "
                 "setting)\n");
    const char *text =
        "escalator: 1\nname: t\nsettings: {sla: 90m}\n"
        "fields: {device: {type: string, label: Device model}}\n"
        "teams: [{id: a, respond_within: settings.sla, requires: "
        "[fields.device, customer.email]}]\n"
        "priorities: [{id: p}]\n"
        "rules: [{id: r, when: 'true', targets: [a]}]\n"
        "templates: [{id: x, note: 'Still needed: {{missing}}'}]\n";
    esc_policy *p = NULL;
    assert_int_equal(esc_policy_load_buffer("p.yaml", text, strlen(text), &p,
                                            NULL), 0);
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(p, &e), 0);
    esc_ticket *t = NULL;
    esc_error err;
    const char *tj = "{\"id\":\"T\"}";
    assert_int_equal(esc_ticket_parse(tj, strlen(tj), "t", &t, &err), 0);
    esc_decision *d = NULL;
    assert_int_equal(esc_engine_evaluate(e, t, 0, 0, &d, &err), 0);
    char *js = esc_decision_json(d, 0, NULL);
    assert_non_null(strstr(js, "\"respond_by\":\"1970-01-01T01:30:00Z\""));
    assert_non_null(strstr(js, "\"note\":\"Still needed: Device model, "
                               "customer.email\""));
    free(js);
    esc_decision_free(&d);
    esc_ticket_free(&t);
    esc_engine_free(&e);
    esc_policy_unref(&p);
}

static void file_errors(void **state)
{
    (void)state;
    esc_policy *p = NULL;
    esc_diags *d = NULL;
    assert_int_equal(esc_policy_load_file("/nonexistent/x.yaml", &p, &d),
                     ESC_EIO);
    assert_int_equal(esc_diags_count(d), 1);
    assert_string_equal(esc_diags_at(d, 0)->message,
                        "cannot read the policy: No such file or directory");
    esc_diags_free(&d);
    assert_null(d);
}

static void introspection(void **state)
{
    (void)state;
    const char *text = HEAD
        "  - {id: r1, when: signals.threat, targets: [l2]}\n"
        "  - {id: r2, when: fields.refund_amount > 100, targets: [l2]}\n"
        "suppressions:\n"
        "  - {id: s1, when: fields.kind == tech}\n";
    esc_policy *p = NULL;
    assert_int_equal(esc_policy_load_buffer("p.yaml", text, strlen(text), &p,
                                            NULL), 0);
    assert_string_equal(esc_policy_name(p), "t");
    assert_int_equal(esc_policy_count(p, ESC_ITEM_RULE), 2);
    assert_string_equal(esc_policy_item(p, ESC_ITEM_RULE, 1), "r2");
    assert_string_equal(esc_policy_item(p, ESC_ITEM_SIGNAL, 0), "threat");
    assert_string_equal(esc_policy_item(p, ESC_ITEM_SUPPRESSION, 0), "s1");
    assert_string_equal(esc_policy_item(p, ESC_ITEM_PRIORITY, 0), "high");
    assert_null(esc_policy_item(p, ESC_ITEM_TEAM, 2));
    char *dump = esc_policy_dump(p);
    assert_non_null(strstr(dump, "\"when\":\"fields.refund_amount > 100\""));
    assert_non_null(strstr(dump, "\"default_priority\":\"low\""));
    free(dump);
    esc_policy *q = esc_policy_ref(p);
    esc_policy_unref(&p);
    assert_null(p);
    assert_string_equal(esc_policy_name(q), "t");
    esc_policy_unref(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_policy),
        cmocka_unit_test(yaml_syntax),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(not_a_mapping),
        cmocka_unit_test(version_and_required),
        cmocka_unit_test(unknown_key),
        cmocka_unit_test(unknown_ids),
        cmocka_unit_test(duplicate_ids),
        cmocka_unit_test(bad_duration),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(never_fires),
        cmocka_unit_test(always_suppressed),
        cmocka_unit_test(expression_syntax),
        cmocka_unit_test(template_placeholders),
        cmocka_unit_test(bad_regex),
        cmocka_unit_test(yaml_aliases),
        cmocka_unit_test(duration_settings_and_missing),
        cmocka_unit_test(file_errors),
        cmocka_unit_test(introspection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
