/*
 * fuzz_policy.c - libFuzzer target for the policy compiler, through the
 * public API. Any input must either compile or be rejected with at least one
 * diagnostic that names a place; a policy that compiles must dump, answer
 * introspection and decide a ticket. Crashes, leaks and sanitizer reports are
 * findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escalator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A ticket with something for most conditions to look at. */
static const char ticket_json[] =
    "{\"id\":\"T-1\",\"channel\":\"chat\",\"subject\":\"Refund, port-in failing\","
    "\"created_at\":\"2026-11-20T10:00:00Z\",\"status\":\"open\",\"level\":\"l1\","
    "\"customer\":{\"id\":\"C-1\",\"tier\":\"standard\",\"flags\":[\"vip\"],"
    "\"since\":\"2024-01-01\"},"
    "\"messages\":[{\"from\":\"customer\",\"at\":\"2026-11-20T10:00:00Z\","
    "\"text\":\"This is the third time. I want a refund or I will call my lawyer.\"},"
    "{\"from\":\"agent\",\"at\":\"2026-11-20T11:00:00Z\",\"text\":\"Sorry!\"}],"
    "\"troubleshooting\":[{\"step\":\"Verified PIN\",\"result\":\"correct\"}],"
    "\"fields\":{\"issue_type\":\"port_in\",\"port_in_rejections\":4,"
    "\"refund_amount\":120}}";

static void decide(esc_policy *policy)
{
    esc_ticket *ticket = NULL;
    esc_engine *engine = NULL;
    esc_decision *decision = NULL;
    esc_error err;

    if (esc_ticket_parse(ticket_json, sizeof(ticket_json) - 1, "fuzz.json",
                         &ticket, &err) != 0)
        abort(); /* the fixed ticket is valid */
    if (esc_engine_new(policy, &engine) != 0)
        abort();
    int64_t now = 1795435200; /* 2026-11-23T12:00:00Z */
    if (esc_engine_evaluate(engine, ticket, now, ESC_EVAL_EXPLAIN, &decision,
                            &err) == 0) {
        char *json = esc_decision_json(decision, ESC_JSON_EXPLAIN, NULL);
        if (!json)
            abort();
        free(json);
        (void)esc_decision_escalate(decision);
        for (size_t i = 0; i < esc_decision_target_count(decision); i++)
            if (!esc_decision_target(decision, i))
                abort();
    } else if (err.message[0] == '\0') {
        abort();
    }
    esc_decision_free(&decision);
    esc_engine_free(&engine);
    esc_ticket_free(&ticket);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    esc_policy *policy = NULL;
    esc_diags *diags = NULL;

    int rc = esc_policy_load_buffer("fuzz.yaml", (const char *)data, size,
                                    &policy, &diags);
    size_t n = diags ? esc_diags_count(diags) : 0;
    for (size_t i = 0; i < n; i++) {
        const esc_diag *d = esc_diags_at(diags, i);
        if (!d || !d->message || !d->message[0] || d->line < 0 || d->col < 0)
            abort();
    }
    if (rc == 0) {
        if (!policy)
            abort();
        char *dump = esc_policy_dump(policy);
        if (!dump)
            abort();
        free(dump);
        for (int kind = ESC_ITEM_RULE; kind <= ESC_ITEM_PRIORITY; kind++) {
            size_t count = esc_policy_count(policy, (esc_item_kind)kind);
            for (size_t i = 0; i < count; i++)
                if (!esc_policy_item(policy, (esc_item_kind)kind, i))
                    abort();
        }
        decide(policy);
        esc_policy_unref(&policy);
    } else if (policy || (rc == ESC_EPOLICY && n == 0)) {
        abort(); /* a rejected policy always says why */
    }
    esc_diags_free(&diags);
    return 0;
}
