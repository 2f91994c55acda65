/*
 * test_engine.c - evaluate(policy, ticket, now): how rules combine,
 * suppressions and their exceptions, facts, templates, evidence, and
 * refusal of tickets that do not fit the policy.
 */
#include <pthread.h>
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
#include "ticket.h"

static const char *const POLICY =
    "escalator: 1\n"
    "name: unit\n"
    "settings:\n"
    "  refund_limit: {default: 100}\n"
    "fields:\n"
    "  refund_amount: number\n"
    "  attempts: integer\n"
    "  device: string\n"
    "  done: boolean\n"
    "teams:\n"
    "  - {id: l1, name: Agents, tier: 1, respond_within: 4h}\n"
    "  - {id: l2, name: Seniors, tier: 2, respond_within: 24h, follow_up: "
    "24h, tags: [escalated_l2], requires: [customer.email]}\n"
    "  - {id: l3, name: Engineers, tier: 3, follow_up: [24h, 48h], tags: "
    "[escalated_eng], requires: [fields.device]}\n"
    "  - {id: legal, name: Legal}\n"
    "priorities:\n"
    "  - {id: critical, respond_within: 5m, unsuppressible: true, tags: "
    "[priority_high], promise: within 15 minutes}\n"
    "  - {id: high, respond_within: 1h, promise: within the hour}\n"
    "  - {id: low, promise: within 24 hours}\n"
    "signals:\n"
    "  threat: {phrases: [sue, lawyer, legal action]}\n"
    "  manager: {phrases: [speak to a manager], negation: false}\n"
    "  breach: {phrases: [hacked, data breach]}\n"
    "  anger: {lexicon: anger}\n"
    "rules:\n"
    "  - id: refund\n"
    "    when: fields.refund_amount > settings.refund_limit\n"
    "    targets: [l2]\n"
    "    priority: low\n"
    "    tags: [refund]\n"
    "    reason: \"Refund of ${{fields.refund_amount}}\"\n"
    "  - id: legal\n"
    "    when: signals.threat\n"
    "    targets: [l2, legal]\n"
    "    priority: high\n"
    "    tags: [legal_risk]\n"
    "  - id: breach\n"
    "    when: signals.breach\n"
    "    targets: [l3]\n"
    "    priority: critical\n"
    "    stop_conversation: true\n"
    "  - id: retries\n"
    "    when: fields.attempts >= 3\n"
    "    targets: [next_tier]\n"
    "  - id: manager\n"
    "    when: signals.manager\n"
    "    targets: [l2]\n"
    "    priority: high\n"
    "  - id: stuck\n"
    "    when: facts.age > 72h\n"
    "    escalate: false\n"
    "    tags: [slo_at_risk]\n"
    "  - id: repeated\n"
    "    when: facts.repeats >= 3\n"
    "    targets: [l2]\n"
    "  - id: came_back\n"
    "    when: facts.customer_gap >= 24h and facts.customer_messages >= 2\n"
    "    targets: [l2]\n"
    "suppressions:\n"
    "  - id: not_done\n"
    "    when: not fields.done\n"
    "    applies_to: [retries, manager, refund]\n"
    "    except: customer.flags has vip\n"
    "templates:\n"
    "  - id: senior\n"
    "    for: [l2]\n"
    "    note: \"To {{team.name}}: {{reasons}} / device {{fields.device|n/a}} "
    "/ {{fields.device}}\"\n"
    "    customer:\n"
    "      chat: \"A senior will reply {{priority.promise}}.\"\n"
    "      email: \"Dear {{customer.name|customer}}, ticket {{ticket.id}}.\"\n"
    "advice:\n"
    "  - id: calm\n"
    "    when: signals.anger and not decision.escalate\n"
    "    text: \"Acknowledge: I can hear this has been frustrating.\"\n";

static esc_policy *policy;

static int setup(void **state)
{
    (void)state;
    esc_diags *d = NULL;
    int rc = esc_policy_load_buffer("unit.yaml", POLICY, strlen(POLICY),
                                    &policy, &d);
    for (size_t i = 0; i < esc_diags_count(d); i++)
        fprintf(stderr, "%d:%d: %s\n", esc_diags_at(d, i)->line,
                esc_diags_at(d, i)->col, esc_diags_at(d, i)->message);
    esc_diags_free(&d);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    esc_policy_unref(&policy);
    return 0;
}

#define NOW "2026-11-23T12:00:00Z"

/* Evaluates a ticket and returns the decision (with explain) as JSON. */
static json_t *decide(const char *ticket)
{
    esc_ticket *t = NULL;
    esc_error err;
    int rc = esc_ticket_parse(ticket, strlen(ticket), "t.json", &t, &err);
    if (rc)
        fail_msg("ticket: %s", err.message);
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(policy, &e), 0);
    int64_t now;
    assert_int_equal(esc_time_parse(NOW, &now), 0);
    esc_decision *d = NULL;
    rc = esc_engine_evaluate(e, t, now, ESC_EVAL_EXPLAIN, &d, &err);
    if (rc)
        fail_msg("evaluate: %s: %s", err.pointer, err.message);
    char *s = esc_decision_json(d, ESC_JSON_EXPLAIN, NULL);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("decision is not JSON: %s\n%s", je.text, s);
    free(s);
    esc_decision_free(&d);
    esc_engine_free(&e);
    esc_ticket_free(&t);
    return j;
}

static const char *str_at(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The strings of an array joined by ",". */
static char *joined(json_t *arr, const char *member)
{
    static char buf[1024];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (member)
            v = json_object_get(v, member);
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                i ? "," : "",
                                json_is_string(v) ? json_string_value(v)
                                                  : "null");
    }
    return buf;
}

#define T(body)                                                            \
    "{\"id\":\"T-1\",\"channel\":\"chat\",\"created_at\":"                 \
    "\"2026-11-23T10:00:00Z\",\"customer\":{\"name\":\"Ana\",\"email\":"   \
    "\"a@example.com\"}," body "}"

static void nothing_fires(void **state)
{
    (void)state;
    json_t *j = decide(T("\"messages\":[{\"from\":\"customer\",\"at\":"
                         "\"2026-11-23T10:00:00Z\",\"text\":\"How do I "
                         "change my plan?\"}]"));
    assert_false(json_is_true(json_object_get(j, "escalate")));
    assert_string_equal(str_at(j, "priority"), "low");
    assert_string_equal(joined(json_object_get(j, "reasons"), "because"),
                        "no rule applies: 8 rules checked, none held");
    assert_true(json_is_null(json_object_get(j, "note")));
    json_decref(j);
}

static void combine_by_priority(void **state)
{
    (void)state;
    json_t *j = decide(T("\"fields\":{\"refund_amount\":150,\"done\":true},"
                         "\"messages\":[{\"from\":\"customer\",\"at\":"
                         "\"2026-11-23T10:00:00Z\",\"text\":\"Refund me or "
                         "my lawyer takes legal action.\"}]"));
    assert_true(json_is_true(json_object_get(j, "escalate")));
    assert_string_equal(str_at(j, "priority"), "high");
    assert_string_equal(joined(json_object_get(j, "targets"), NULL),
                        "l2,legal");
    assert_string_equal(joined(json_object_get(j, "reasons"), "rule"),
                        "legal,refund");
    assert_string_equal(joined(json_object_get(j, "tags"), NULL),
                        "legal_risk,refund,escalated_l2");
    assert_string_equal(str_at(j, "respond_by"), "2026-11-23T13:00:00Z");
    assert_string_equal(joined(json_object_get(j, "follow_ups"), "at"),
                        "2026-11-24T12:00:00Z");
    json_t *r1 = json_array_get(json_object_get(j, "reasons"), 1);
    assert_string_equal(str_at(r1, "because"),
                        "fields.refund_amount = 150 > settings.refund_limit "
                        "= 100");
    assert_string_equal(str_at(r1, "reason"), "Refund of $150");
    json_t *r0 = json_array_get(json_object_get(j, "reasons"), 0);
    assert_string_equal(str_at(r0, "because"),
                        "signals.threat: \"lawyer\" in message 0; \"legal "
                        "action\" in message 0");
    json_t *ev = json_array_get(json_object_get(r0, "evidence"), 1);
    assert_string_equal(str_at(ev, "phrase"), "legal action");
    assert_int_equal(json_integer_value(json_object_get(ev, "message")), 0);
    assert_string_equal(str_at(j, "note"),
                        "To Seniors:\n- signals.threat: \"lawyer\" in message "
                        "0; \"legal action\" in message 0\n- Refund of $150 / "
                        "device n/a / [fields.device]");
    assert_string_equal(str_at(j, "customer_message"),
                        "A senior will reply within the hour.");
    json_decref(j);
}

static void negation(void **state)
{
    (void)state;
    json_t *j = decide(T("\"messages\":[{\"from\":\"customer\",\"at\":"
                         "\"2026-11-23T10:00:00Z\",\"text\":\"I'm not going "
                         "to sue anyone, I just need help.\"}]"));
    assert_false(json_is_true(json_object_get(j, "escalate")));
    json_t *sig = json_array_get(
        json_object_get(json_object_get(j, "explain"), "signals"), 0);
    assert_string_equal(str_at(sig, "signal"), "threat");
    assert_int_equal(json_integer_value(json_object_get(sig, "negated")), 1);
    assert_string_equal(str_at(sig, "negated_example"), "sue");
    json_decref(j);
}

static void suppression_and_exception(void **state)
{
    (void)state;
    const char *msg = "\"messages\":[{\"from\":\"customer\",\"at\":"
                      "\"2026-11-23T10:00:00Z\",\"text\":\"I want to speak "
                      "to a manager now.\"}]";
    char buf[1024];
    snprintf(buf, sizeof(buf), T("%s"), msg);
    json_t *j = decide(buf);
    assert_false(json_is_true(json_object_get(j, "escalate")));
    json_t *s = json_array_get(json_object_get(j, "suppressed"), 0);
    assert_string_equal(str_at(s, "suppression"), "not_done");
    assert_string_equal(joined(json_object_get(s, "rules"), NULL), "manager");
    assert_string_equal(str_at(s, "because"), "not (fields.done)");
    assert_string_equal(joined(json_object_get(j, "reasons"), "because"),
                        "every rule that applied was held back by a "
                        "suppression (not_done)");
    json_decref(j);

    /* The exception: a VIP is escalated anyway, and articles vary. */
    snprintf(buf, sizeof(buf),
             "{\"id\":\"T-2\",\"customer\":{\"flags\":[\"vip\"]},%s}",
             "\"messages\":[{\"from\":\"customer\",\"text\":\"Let me "
             "speak to your manager.\"}]");
    j = decide(buf);
    assert_true(json_is_true(json_object_get(j, "escalate")));
    assert_int_equal(json_array_size(json_object_get(j, "suppressed")), 0);
    json_decref(j);
}

static void critical_is_never_suppressed(void **state)
{
    (void)state;
    json_t *j = decide(T("\"fields\":{\"attempts\":3},\"messages\":[{\"from\":"
                         "\"customer\",\"at\":\"2026-11-23T11:00:00Z\","
                         "\"text\":\"I think my account was HACKED\"}]"));
    assert_true(json_is_true(json_object_get(j, "escalate")));
    assert_string_equal(str_at(j, "priority"), "critical");
    assert_true(json_is_true(json_object_get(j, "stop_conversation")));
    assert_string_equal(joined(json_object_get(j, "targets"), NULL), "l3");
    assert_string_equal(joined(json_object_get(j, "tags"), NULL),
                        "priority_high,escalated_eng");
    assert_string_equal(joined(json_object_get(j, "missing"), NULL),
                        "fields.device");
    assert_string_equal(joined(json_object_get(j, "follow_ups"), "at"),
                        "2026-11-24T12:00:00Z,2026-11-25T12:00:00Z");
    assert_string_equal(str_at(j, "respond_by"), "2026-11-23T12:05:00Z");
    /* retries fired but was held back by not_done. */
    json_t *s = json_array_get(json_object_get(j, "suppressed"), 0);
    assert_string_equal(joined(json_object_get(s, "rules"), NULL), "retries");
    json_decref(j);
}

static void next_tier(void **state)
{
    (void)state;
    json_t *j = decide("{\"id\":\"T-3\",\"level\":\"l2\",\"fields\":"
                       "{\"attempts\":4,\"done\":true}}");
    assert_string_equal(joined(json_object_get(j, "targets"), NULL), "l3");
    json_decref(j);
    j = decide("{\"id\":\"T-3\",\"fields\":{\"attempts\":4,\"done\":true}}");
    assert_string_equal(joined(json_object_get(j, "targets"), NULL), "l2");
    json_decref(j);
    j = decide("{\"id\":\"T-3\",\"level\":\"l3\",\"fields\":"
               "{\"attempts\":4,\"done\":true}}");
    assert_string_equal(joined(json_object_get(j, "targets"), NULL), "l3");
    json_decref(j);
}

static void facts(void **state)
{
    (void)state;
    json_t *j = decide(
        "{\"id\":\"T-4\",\"channel\":\"email\",\"created_at\":"
        "\"2026-11-19T10:00:00Z\",\"customer\":{\"email\":\"b@example.com\"},"
        "\"messages\":["
        "{\"from\":\"customer\",\"at\":\"2026-11-19T10:00:00Z\",\"text\":"
        "\"My eSIM activation keeps failing with an error.\"},"
        "{\"from\":\"agent\",\"at\":\"2026-11-19T11:00:00Z\",\"text\":"
        "\"Please restart the phone.\"},"
        "{\"from\":\"customer\",\"at\":\"2026-11-20T10:00:00Z\",\"text\":"
        "\"Restarted, the eSIM activation still fails with the same error.\"},"
        "{\"from\":\"customer\",\"at\":\"2026-11-22T10:00:00Z\",\"text\":"
        "\"Again: eSIM activation failing, error every time.\"}]}");
    json_t *f = json_object_get(json_object_get(j, "explain"), "facts");
    assert_string_equal(str_at(f, "age"), "4d 2h");
    assert_string_equal(str_at(f, "since_customer"), "1d 2h");
    assert_string_equal(str_at(f, "since_reply"), "4d 1h");
    assert_string_equal(str_at(f, "customer_gap"), "2d");
    assert_int_equal(json_integer_value(json_object_get(f, "customer_messages")),
                     3);
    assert_int_equal(json_integer_value(json_object_get(f, "repeats")), 3);
    assert_string_equal(joined(json_object_get(j, "reasons"), "rule"),
                        "stuck,repeated,came_back");
    assert_string_equal(joined(json_object_get(j, "tags"), NULL),
                        "slo_at_risk,escalated_l2");
    assert_string_equal(str_at(j, "customer_message"),
                        "Dear customer, ticket T-4.");
    json_decref(j);
}

static void advice_when_not_escalated(void **state)
{
    (void)state;
    json_t *j = decide(T("\"messages\":[{\"from\":\"customer\",\"at\":"
                         "\"2026-11-23T10:00:00Z\",\"text\":\"This is "
                         "ridiculous and unacceptable!!!\"}]"));
    assert_false(json_is_true(json_object_get(j, "escalate")));
    assert_string_equal(joined(json_object_get(j, "suggestions"), NULL),
                        "Acknowledge: I can hear this has been frustrating.");
    assert_string_equal(str_at(j, "sentiment"), "angry");
    json_decref(j);
}

static void explain_not_fired(void **state)
{
    (void)state;
    json_t *j = decide(T("\"fields\":{\"refund_amount\":99}"));
    json_t *rules = json_object_get(json_object_get(j, "explain"), "rules");
    json_t *r = json_array_get(rules, 0);
    assert_string_equal(str_at(r, "rule"), "refund");
    assert_false(json_is_true(json_object_get(r, "fired")));
    json_t *f = json_object_get(r, "failed");
    assert_string_equal(str_at(f, "condition"),
                        "fields.refund_amount > settings.refund_limit");
    assert_string_equal(str_at(f, "at"), "unit.yaml:26:11");
    assert_int_equal(json_integer_value(json_object_get(f, "value")), 99);
    json_decref(j);
}

static void field_type_refused(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"id\":\"x\",\"fields\":{\"refund_amount\":\"a lot\"}}",
         "/fields/refund_amount: expected a number, got a string"},
        {"{\"id\":\"x\",\"fields\":{\"attempts\":2.5}}",
         "/fields/attempts: expected an integer, got 2.5"},
        {"{\"id\":\"x\",\"fields\":{\"done\":1}}",
         "/fields/done: expected true or false, got a number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        esc_ticket *t = NULL;
        esc_error err;
        assert_int_equal(esc_ticket_parse(bad[i][0], strlen(bad[i][0]),
                                          "t.json", &t, &err), 0);
        esc_engine *e = NULL;
        assert_int_equal(esc_engine_new(policy, &e), 0);
        esc_decision *d = NULL;
        assert_int_equal(esc_engine_evaluate(e, t, 0, 0, &d, &err),
                         ESC_ETICKET);
        assert_null(d);
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s: %s", err.pointer, err.message);
        assert_string_equal(msg, bad[i][1]);
        esc_engine_free(&e);
        esc_ticket_free(&t);
    }
}

/* Many threads share one compiled policy, each with its own engine. */
static void *worker(void *arg)
{
    const char *ticket = arg;
    esc_engine *e = NULL;
    if (esc_engine_new(policy, &e))
        return (void *)1;
    esc_ticket *t = NULL;
    esc_error err;
    if (esc_ticket_parse(ticket, strlen(ticket), "t", &t, &err))
        return (void *)1;
    uintptr_t bad = 0;
    for (int i = 0; i < 200; i++) {
        esc_decision *d = NULL;
        if (esc_engine_evaluate(e, t, 1795000000, 0, &d, &err) ||
            !esc_decision_escalate(d) ||
            strcmp(esc_decision_priority(d), "high") ||
            esc_decision_target_count(d) != 2 ||
            strcmp(esc_decision_target(d, 1), "legal"))
            bad++;
        esc_decision_free(&d);
    }
    esc_ticket_free(&t);
    esc_engine_free(&e);
    return (void *)bad;
}

static void threads_share_a_policy(void **state)
{
    (void)state;
    static const char ticket[] =
        "{\"id\":\"T\",\"messages\":[{\"from\":\"customer\",\"text\":"
        "\"You will hear from my lawyer.\"}]}";
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker,
                                        (void *)ticket), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_true(r == NULL);
    }
}

/* esc__decision_members(): each member named, equal to the same member of
 * the whole decision parsed, in the decision's order; nothing else. The
 * first and the last members take part: their spans end at another
 * member's key and at the closing brace. */
static void decision_members(void **state)
{
    (void)state;
    static const char *const tickets[] = {
        T("\"subject\":\"Hacked\",\"messages\":[{\"from\":\"customer\","
          "\"text\":\"I will sue. \\\"Data breach\\\", \\u00e9t\\u00e9!\"}]"),
        T("\"messages\":[{\"from\":\"customer\",\"text\":\"hello\"}]"),
    };
    static const char *const keys[] = {"sentiment", "ticket", "reasons", "escalate",
                                       "respond_by", "notifications", NULL};
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(policy, &e), 0);
    int64_t now;
    assert_int_equal(esc_time_parse(NOW, &now), 0);
    for (size_t i = 0; i < sizeof(tickets) / sizeof(*tickets); i++) {
        esc_ticket *t = NULL;
        esc_error err;
        assert_int_equal(esc_ticket_parse(tickets[i], strlen(tickets[i]), "t.json", &t, &err), 0);
        esc_decision *d = NULL;
        assert_int_equal(esc_engine_evaluate(e, t, now, 0, &d, &err), 0);
        char *text = esc_decision_json(d, 0, NULL);
        json_t *all = json_loads(text, 0, NULL);
        json_t *some = esc__decision_members(d, keys);
        assert_non_null(all);
        assert_non_null(some);
        assert_int_equal(json_object_size(some), 6);
        for (size_t k = 0; keys[k]; k++)
            assert_true(json_equal(json_object_get(some, keys[k]),
                                   json_object_get(all, keys[k])));
        /* In the order of the decision: ticket first, sentiment last. */
        assert_string_equal(json_object_iter_key(json_object_iter(some)), "ticket");
        char *dumped = json_dumps(some, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_non_null(strstr(dumped, "\"sentiment\":"));
        assert_null(strstr(strstr(dumped, "\"sentiment\":"), "\"reasons\""));
        free(dumped);
        json_decref(some);
        json_decref(all);
        free(text);
        esc_decision_free(&d);
        esc_ticket_free(&t);
    }
    esc_engine_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_fires),
        cmocka_unit_test(combine_by_priority),
        cmocka_unit_test(negation),
        cmocka_unit_test(suppression_and_exception),
        cmocka_unit_test(critical_is_never_suppressed),
        cmocka_unit_test(next_tier),
        cmocka_unit_test(facts),
        cmocka_unit_test(advice_when_not_escalated),
        cmocka_unit_test(explain_not_fired),
        cmocka_unit_test(field_type_refused),
        cmocka_unit_test(threads_share_a_policy),
        cmocka_unit_test(decision_members),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
