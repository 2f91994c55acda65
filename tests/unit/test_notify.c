/*
 * test_notify.c - the parts of notification delivery that need no peer:
 * signatures (against RFC 4231 and openssl(1)), Slack escaping, delivery
 * templates, the routes file's checks, the payload of each channel kind,
 * and the mapping of Zendesk's webhook events.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/notify/notify.h"
#include "escalator.h"

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    unsigned char mac[32];
    const char *data = "what do ya want for nothing?";
    notify_hmac_sha256("Jefe", 4, data, strlen(data), mac);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void hmac_hex(const char *key, size_t klen, const char *data, char hex[65])
{
    unsigned char mac[32];
    notify_hmac_sha256(key, klen, data, strlen(data), mac);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

/* RFC 4231's cases 1, 2 and 6 (a key longer than SHA-256's block) and the
 * empty key, one after another: each thread's context is keyed again for
 * every message. */
static void *hmac_rekeyed(void *arg)
{
    (void)arg;
    char k1[20], k6[131], hex[65];
    memset(k1, 0x0b, sizeof(k1));
    memset(k6, 0xaa, sizeof(k6));
    for (int round = 0; round < 2; round++) {
        hmac_hex(k1, sizeof(k1), "Hi There", hex);
        if (strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
            return "case 1";
        hmac_hex(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First", hex);
        if (strcmp(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"))
            return "case 6";
        hmac_hex("Jefe", 4, "what do ya want for nothing?", hex);
        if (strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
            return "case 2";
        hmac_hex("", 0, "", hex);
        if (strcmp(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"))
            return "empty key";
        hmac_hex(NULL, 0, "", hex);
        if (strcmp(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"))
            return "NULL key";
    }
    return NULL;
}

static void test_hmac_rekeyed(void **state)
{
    (void)state;
    const char *why = hmac_rekeyed(NULL);
    if (why)
        fail_msg("%s", why);
    pthread_t th;
    void *r = NULL;
    assert_int_equal(pthread_create(&th, NULL, hmac_rekeyed, NULL), 0);
    pthread_join(th, &r);
    if (r)
        fail_msg("another thread: %s", (const char *)r);
}

static void test_outbound_signature(void **state)
{
    (void)state;
    char sig[200];
    const char *body = "{\"text\":\"hi\"}";
    /* printf '%s' '1700000000.{"text":"hi"}' | openssl dgst -sha256 -hmac whsec_test */
    notify_sign("whsec_test", 1700000000, body, strlen(body), sig, sizeof(sig));
    assert_string_equal(
        sig, "t=1700000000,v1=add2fc7010ee7aa23f65449ce9240cd32763de7515ca26c43cd1e9d447a5361a");
}

static void test_zendesk_signature(void **state)
{
    (void)state;
    const char *body = "{\"a\":1}", *ts = "2024-04-17T17:18:10Z";
    const char *good = "ApduNuZjFBVqBsEpSsAkCSjZbxwqtu3XSxtzrctG0h8=";
    assert_true(notify_zendesk_verify("zd-secret", ts, body, strlen(body), good));
    assert_false(notify_zendesk_verify("zd-secret", "2024-04-17T17:18:11Z", body, strlen(body), good));
    assert_false(notify_zendesk_verify("other", ts, body, strlen(body), good));
    assert_false(notify_zendesk_verify("zd-secret", ts, "{\"a\":2}", 7, good));
    assert_false(notify_zendesk_verify("zd-secret", ts, body, strlen(body), "AAAA"));
    assert_false(notify_zendesk_verify("", ts, body, strlen(body), good));
    char b64[16];
    notify_base64((const unsigned char *)"ab", 2, b64);
    assert_string_equal(b64, "YWI=");
}

static void test_slack_escape(void **state)
{
    (void)state;
    char *s = notify_slack_escape("@channel URGENT: a & b <c> @here, @channels, x@channel, (@everyone)");
    assert_string_equal(s, "<!channel> URGENT: a &amp; b &lt;c&gt; <!here>, @channels, x@channel, "
                           "(<!everyone>)");
    free(s);
    s = notify_slack_escape("");
    assert_string_equal(s, "");
    free(s);
}

static void test_templates(void **state)
{
    (void)state;
    json_t *ctx = json_pack("{s:{s:s, s:{s:s}, s:[s, s]}, s:i, s:n}", "ticket", "id", "T-1",
                            "customer", "email", "ana@example.com", "tags", "a", "b",
                            "n", 4, "nothing");
    char err[200] = "";
    char *s = notify_template("{{ticket.id}} <{{ ticket.customer.email }}> {{ticket.tags}} "
                              "{{n}} {{ticket.customer.name|friend}} {{nothing|-}}",
                              ctx, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(s, "T-1 <ana@example.com> a, b 4 friend -");
    free(s);
    assert_null(notify_template("Dear {{ticket.customer.name}}", ctx, err, sizeof(err)));
    assert_string_equal(err, "template: no value for 'ticket.customer.name'");
    assert_null(notify_template("{{nothing}}", ctx, err, sizeof(err)));
    assert_string_equal(err, "template: no value for 'nothing'");
    s = notify_template("no placeholders, {{ unclosed", ctx, err, sizeof(err));
    assert_string_equal(s, "no placeholders, {{ unclosed");
    free(s);
    json_decref(ctx);
}

/* Writes text to a temporary routes file and loads it. */
static notify_routes *routes_from(const char *text, char *err, size_t size)
{
    char path[] = "/tmp/escalator-routes-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    notify_routes *r = notify_routes_load(path, err, size);
    /* The message names the file: keep what follows it. */
    if (!r) {
        size_t n = strlen(path);
        assert_memory_equal(err, path, n);
        memmove(err, err + n, strlen(err + n) + 1);
    }
    unlink(path);
    return r;
}

static void test_routes_checks(void **state)
{
    (void)state;
    char err[400];
    assert_null(routes_from("{\"route\": []}", err, sizeof(err)));
    assert_string_equal(err, ": unknown key 'route' (expected smtp and routes)");
    assert_null(routes_from("{\"routes\": [{\"channel\": \"slack\", \"to\": \"#a\"}]}", err,
                            sizeof(err)));
    assert_string_equal(err, ": routes[0]: a slack route needs a url");
    assert_null(routes_from("{\"routes\": [{\"channel\": \"slack\", \"to\": \"#a\", \"ur\": \"x\"}]}",
                            err, sizeof(err)));
    assert_string_equal(err, ": routes[0]: unknown key 'ur'");
    assert_null(routes_from("{\"routes\": [{\"channel\": \"pager\", \"to\": \"x\", \"kind\": \"fax\"}]}",
                            err, sizeof(err)));
    assert_string_equal(err, ": routes[0]: unknown kind 'fax' (expected webhook, slack, pager, "
                             "email or customer)");
    assert_null(routes_from("{\"smtp\": {\"from\": \"a@b\"}}", err, sizeof(err)));
    assert_string_equal(err, ": smtp: url is required (smtp://host:port)");
    unsetenv("ESC_TEST_NO_SUCH_VAR");
    assert_null(routes_from("{\"routes\": [{\"channel\": \"slack\", \"to\": \"#a\", \"url\": "
                            "\"${ESC_TEST_NO_SUCH_VAR}\"}]}",
                            err, sizeof(err)));
    assert_string_equal(err, ": url: the environment has no ESC_TEST_NO_SUCH_VAR");
    assert_null(routes_from("{\"routes\": [", err, sizeof(err)));

    setenv("ESC_TEST_HOOK", "https://hooks.example.com/T/B/X", 1);
    notify_routes *r = routes_from(
        "{\"routes\": [{\"channel\": \"slack\", \"to\": \"#a\", \"url\": \"${ESC_TEST_HOOK}\"},"
        " {\"channel\": \"slack\", \"to\": \"*\", \"url\": \"https://other\"}]}",
        err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(notify_routes_find(r, "slack", "#a"), "url")),
                        "https://hooks.example.com/T/B/X");
    assert_string_equal(json_string_value(json_object_get(notify_routes_find(r, "slack", "#b"), "url")),
                        "https://other");
    assert_null(notify_routes_find(r, "pager", "#a"));
    notify_routes_free(&r);
    assert_null(r);
}

static json_t *row_of(const char *channel, const char *to, const char *text)
{
    json_t *msg = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:s, s:s, s:s}",
                            "event", "escalated", "text", text, "subject",
                            "Escalation to Level 2 - port_in - Ticket #T-1", "ticket", "id",
                            "T-1", "subject", "Port-in", "customer", "email",
                            "ana@example.com", "priority", "p1", "severity", "critical", "team",
                            "l2", "customer_message", "Subject: Re: Port-in\n\nHi Ana,\nsoon.");
    char *m = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    char key[200];
    snprintf(key, sizeof(key), "T-1:escalation:1.1:%s:%s", channel, to);
    json_t *row = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "id", 1, "idempotency_key", key,
                            "event", "escalated", "channel", channel, "recipient", to,
                            "message", m);
    free(m);
    return row;
}

static void test_payloads(void **state)
{
    (void)state;
    char err[400];
    notify_routes *r = routes_from(
        "{\"smtp\": {\"url\": \"smtp://127.0.0.1:25\", \"from\": \"Desk <desk@example.com>\"},"
        " \"routes\": ["
        "  {\"channel\": \"slack\", \"to\": \"#cs-urgent\", \"url\": \"https://hooks.example.com/services/SECRET\"},"
        "  {\"channel\": \"pager\", \"to\": \"on-call\", \"url\": \"https://events.example.com/v2/enqueue\", \"routing_key\": \"RK\"},"
        "  {\"channel\": \"webhook\", \"to\": \"desk\", \"url\": \"https://user:pw@desk.example.com:8443/hook?x=1\", \"secret\": \"s\"},"
        "  {\"channel\": \"email\", \"to\": \"l2\", \"addresses\": [\"l2@example.com\", \"{{ticket.customer.email}}\"]}"
        "]}",
        err, sizeof(err));
    assert_non_null(r);
    notify_request rq;

    json_t *row = row_of("slack", "#cs-urgent", "@channel URGENT <now> & then");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), 0);
    assert_string_equal(rq.kind, "slack");
    assert_string_equal(rq.body, "{\"text\":\"<!channel> URGENT &lt;now&gt; &amp; then\"}");
    assert_string_equal(rq.endpoint, "https://hooks.example.com");
    notify_request_clear(&rq);
    json_decref(row);

    row = row_of("pager", "on-call", "CRITICAL T-1\nmore lines");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), 0);
    json_t *pd = json_loads(rq.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(pd, "routing_key")), "RK");
    assert_string_equal(json_string_value(json_object_get(pd, "event_action")), "trigger");
    assert_string_equal(json_string_value(json_object_get(pd, "dedup_key")),
                        "T-1:escalation:1.1:pager:on-call");
    json_t *payload = json_object_get(pd, "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "summary")), "CRITICAL T-1");
    assert_string_equal(json_string_value(json_object_get(payload, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(payload, "source")), "escalator");
    json_decref(pd);
    notify_request_clear(&rq);
    json_decref(row);

    row = row_of("webhook", "desk", "hello");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), 0);
    assert_string_equal(rq.endpoint, "https://desk.example.com:8443");
    assert_string_equal(rq.secret, "s");
    json_t *wh = json_loads(rq.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(wh, "idempotency_key")),
                        "T-1:escalation:1.1:webhook:desk");
    assert_string_equal(json_string_value(json_object_get(json_object_get(wh, "ticket"), "id")), "T-1");
    json_decref(wh);
    notify_request_clear(&rq);
    json_decref(row);

    row = row_of("email", "l2", "Body line\n.dot line");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), 0);
    assert_int_equal(rq.n_rcpt, 2);
    assert_string_equal(rq.rcpt[1], "ana@example.com");
    assert_string_equal(rq.mail_from, "desk@example.com");
    assert_non_null(strstr(rq.body, "\r\nSubject: Escalation to Level 2 - port_in - Ticket #T-1\r\n"));
    assert_non_null(strstr(rq.body, "\r\nTo: l2@example.com, ana@example.com\r\n"));
    assert_non_null(strstr(rq.body, "\r\n\r\nBody line\r\n.dot line\r\n"));
    assert_string_equal(rq.endpoint, "smtp://127.0.0.1:25 to l2@example.com, ana@example.com");
    notify_request_clear(&rq);
    json_decref(row);

    /* The customer: the decision's message, its Subject line as the header. */
    row = row_of("customer", "customer", "internal text, never for the customer");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), 0);
    assert_string_equal(rq.kind, "customer");
    assert_non_null(strstr(rq.body, "\r\nSubject: Re: Port-in\r\n"));
    assert_non_null(strstr(rq.body, "\r\n\r\nHi Ana,\r\nsoon.\r\n"));
    assert_null(strstr(rq.body, "internal text"));
    notify_request_clear(&rq);
    json_decref(row);

    row = row_of("slack", "#elsewhere", "x");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), -1);
    assert_string_equal(err, "no route for slack recipient '#elsewhere' in notify_routes");
    json_decref(row);
    row = row_of("email", "nobody", "x");
    assert_int_equal(notify_request_build(r, row, &rq, err, sizeof(err)), -1);
    assert_string_equal(err, "no route for email recipient 'nobody' in notify_routes");
    json_decref(row);
    notify_routes_free(&r);
}

static void test_zendesk_mapping(void **state)
{
    (void)state;
    char id[160], err[300];
    const char *where;
    json_t *body = NULL;
    json_t *p = json_loads(
        "{\"type\": \"zen:event-type:ticket.created\", \"id\": \"e1\", \"time\": "
        "\"2026-11-23T12:00:00Z\", \"detail\": {\"id\": 35436, \"subject\": \"Help\", "
        "\"description\": \"It broke\", \"status\": \"OPEN\", \"requester_id\": \"77\", "
        "\"via\": {\"channel\": \"email\"}}}",
        0, NULL);
    assert_int_equal(notify_zendesk_map(p, id, sizeof(id), &body, err, sizeof(err), &where),
                     INBOUND_TICKET);
    assert_string_equal(id, "zendesk-35436");
    char *t = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "{\"channel\":\"email\",\"created_at\":\"2026-11-23T12:00:00Z\","
                           "\"customer\":{\"id\":\"77\"},\"id\":\"zendesk-35436\",\"messages\":"
                           "[{\"at\":\"2026-11-23T12:00:00Z\",\"from\":\"customer\",\"text\":"
                           "\"It broke\"}],\"status\":\"open\",\"subject\":\"Help\"}");
    free(t);
    json_decref(body);
    json_decref(p);

    p = json_loads("{\"type\": \"zen:event-type:ticket.status_changed\", \"detail\": {\"id\": "
                   "\"9\"}, \"event\": {\"current\": \"HOLD\"}}",
                   0, NULL);
    assert_int_equal(notify_zendesk_map(p, id, sizeof(id), &body, err, sizeof(err), &where),
                     INBOUND_EVENT);
    assert_string_equal(json_string_value(json_object_get(body, "status")), "pending");
    json_decref(body);
    json_decref(p);

    p = json_loads("{\"type\": \"zen:event-type:ticket.created\", \"detail\": {\"id\": \"../x\"}}",
                   0, NULL);
    assert_int_equal(notify_zendesk_map(p, id, sizeof(id), &body, err, sizeof(err), &where), -1);
    assert_string_equal(where, "/detail/id");
    json_decref(p);
    p = json_loads("{\"type\": \"ticket.created\"}", 0, NULL);
    assert_int_equal(notify_zendesk_map(p, id, sizeof(id), &body, err, sizeof(err), &where), -1);
    assert_string_equal(where, "/type");
    json_decref(p);
    p = json_loads("{\"type\": \"zen:event-type:organization.created\"}", 0, NULL);
    assert_int_equal(notify_zendesk_map(p, id, sizeof(id), &body, err, sizeof(err), &where),
                     INBOUND_IGNORE);
    json_decref(p);
}


static json_t *mapped(const char *payload, int want, char *id, size_t idsize)
{
    char err[300];
    const char *where;
    json_t *body = NULL, *p = json_loads(payload, 0, NULL);
    assert_non_null(p);
    assert_int_equal(notify_zendesk_map(p, id, idsize, &body, err, sizeof(err), &where), want);
    json_decref(p);
    return body;
}

static void assert_json(json_t *v, const char *want)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_string_equal(t, want);
    free(t);
}

static void test_zendesk_more_events(void **state)
{
    (void)state;
    char id[160];
    json_t *b = mapped("{\"type\": \"zen:event-type:ticket.priority_changed\", \"detail\": "
                       "{\"id\": \"5\", \"priority\": \"HIGH\"}, \"event\": {\"current\": "
                       "\"high\", \"previous\": \"normal\"}}",
                       INBOUND_UPDATE, id, sizeof(id));
    assert_string_equal(id, "zendesk-5");
    assert_json(b, "{\"fields\":{\"zendesk_priority\":\"high\"}}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.priority_changed\", \"detail\": {\"id\": 5}, "
               "\"event\": {\"current\": null}}",
               INBOUND_UPDATE, id, sizeof(id));
    assert_json(b, "{\"fields\":{\"zendesk_priority\":null}}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.group_assignment_changed\", \"detail\": "
               "{\"id\": 5, \"group_id\": \"360\"}, \"event\": {\"current\": {\"id\": \"360\", "
               "\"name\": \"Level 2\"}}}",
               INBOUND_UPDATE, id, sizeof(id));
    assert_json(b, "{\"level\":\"level_2\"}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.group_assignment_changed\", \"detail\": "
               "{\"id\": 5, \"group_id\": 360}, \"event\": {}}",
               INBOUND_UPDATE, id, sizeof(id));
    assert_json(b, "{\"level\":\"360\"}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.group_assignment_changed\", \"detail\": "
               "{\"id\": 5}, \"event\": {\"current\": [1]}}",
               -1, id, sizeof(id));
    assert_null(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.agent_assignment_changed\", \"detail\": "
               "{\"id\": 5, \"assignee_id\": 42}, \"event\": {\"current\": {\"id\": 42}}}",
               INBOUND_EVENT, id, sizeof(id));
    assert_json(b, "{\"by\":\"zendesk-agent-42\",\"type\":\"acknowledge\"}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.agent_assignment_changed\", \"detail\": "
               "{\"id\": 5}, \"event\": {\"current\": null}}",
               INBOUND_IGNORE, id, sizeof(id));
    assert_null(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.tags_changed\", \"detail\": {\"id\": 5, "
               "\"tags\": [\"vip\", 3, \"outage\"]}, \"event\": {}}",
               INBOUND_UPDATE, id, sizeof(id));
    assert_json(b, "{\"fields\":{\"zendesk_tags\":[\"vip\",\"outage\"]}}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.tags_changed\", \"detail\": {\"id\": 5}, "
               "\"event\": {\"tags_added\": [\"vip\"]}}",
               INBOUND_UPDATE, id, sizeof(id));
    assert_json(b, "{\"tags_added\":[\"vip\"],\"tags_removed\":[]}");
    json_decref(b);
    b = mapped("{\"type\": \"zen:event-type:ticket.tags_changed\", \"detail\": {\"id\": 5}, "
               "\"event\": {}}",
               -1, id, sizeof(id));
    assert_null(b);
}

/* The first diagnostic of a policy that must not compile, as
 * "LINE:COL: message". */
static void first_diag(const char *yaml, char *out, size_t size)
{
    esc_policy *p = NULL;
    esc_diags *d = NULL;
    assert_int_not_equal(esc_policy_load_buffer("p.yaml", yaml, strlen(yaml), &p, &d), 0);
    assert_null(p);
    assert_true(esc_diags_count(d) > 0);
    const esc_diag *g = esc_diags_at(d, 0);
    snprintf(out, size, "%d:%d: %s", g->line, g->col, g->message);
    esc_diags_free(&d);
}

#define POLICY_HEAD                                                                        \
    "escalator: 1\nname: n\nteams:\n  - {id: l2, name: L2}\n"                              \
    "templates:\n  - {id: page, note: \"Page {{ticket.id}}\"}\n"                           \
    "rules:\n  - {id: r, when: subject contains down, targets: [l2]}\npriorities:\n"       \
    "  - id: high\n    notify:\n"

static void test_notify_entries_compile(void **state)
{
    (void)state;
    char d[600];
    first_diag(POLICY_HEAD "      - {on: [sla_breach, breach], channel: slack, to: x}\n", d,
               sizeof(d));
    assert_string_equal(d, "12:27: unknown notification event 'breach' (expected escalated, "
                           "sla_warning, sla_breach, acknowledged, follow_up, chain_step or "
                           "resolution_breach)");
    first_diag(POLICY_HEAD "      - {on: follow_up, channel: fax, to: x}\n", d, sizeof(d));
    assert_string_equal(d, "12:34: unknown notification channel 'fax' (expected slack, email, "
                           "pager, webhook, phone, dashboard, sms or customer)");
    first_diag(POLICY_HEAD "      - {on: follow_up, channel: email, to: x, template: pages}\n", d,
               sizeof(d));
    assert_string_equal(d, "12:58: unknown template 'pages' (declare it under templates:)");
    first_diag(POLICY_HEAD "      - {on: [], channel: email, to: x}\n", d, sizeof(d));
    assert_string_equal(d, "12:10: notify.on: name at least one event");
    first_diag(POLICY_HEAD "      - {on: sla_breach, channel: customer}\n", d, sizeof(d));
    assert_string_equal(d, "12:14: notify: the customer hears of the escalation only (on: "
                           "escalated)");
    first_diag("escalator: 1\nname: n\npriorities: [{id: high}]\nrules:\n"
               "  - {id: r, when: subject contains down, targets: [l2]}\nteams:\n"
               "  - id: l2\n    notify:\n"
               "      - {on: chain_step, channel: pager, to: x, when: channel == chat}\n",
               d, sizeof(d));
    assert_string_equal(d, "9:55: notify: a team's chain_step entry is sent when the chain "
                           "reaches the team, with the chain step's own text; it cannot have "
                           "when, text or template");
}

/* What a decision carries for the service: entries of other events name
 * them, with the template's note as their text. */
static void test_notify_entries_in_decision(void **state)
{
    (void)state;
    const char *yaml = POLICY_HEAD
        "      - {channel: slack, to: \"#a\"}\n"
        "      - {on: [escalated, sla_breach], channel: email, to: lead, template: page}\n"
        "      - {on: follow_up, channel: pager, to: oncall, when: channel == chat}\n"
        "      - {on: chain_step, channel: phone, to: boss}\n";
    esc_policy *p = NULL;
    esc_diags *dg = NULL;
    assert_int_equal(esc_policy_load_buffer("p.yaml", yaml, strlen(yaml), &p, &dg), 0);
    esc_diags_free(&dg);
    char *dump = esc_policy_dump(p);
    json_t *info = notify_policy_info(dump);
    json_t *dj = json_loads(dump, 0, NULL);
    assert_json(json_array_get(json_object_get(dj, "notifications"), 1),
                "{\"channel\":\"email\",\"on\":[\"escalated\",\"sla_breach\"],\"priority\":"
                "\"high\",\"template\":\"page\",\"text\":false,\"to\":\"lead\",\"when\":null}");
    assert_true(json_is_true(json_object_get(info, "lifecycle")));
    json_decref(dj);
    json_decref(info);
    free(dump);
    const char *tj = "{\"id\": \"T-1\", \"channel\": \"email\", \"subject\": \"site down\"}";
    esc_ticket *t = NULL;
    esc_error err;
    assert_int_equal(esc_ticket_parse(tj, strlen(tj), "t", &t, &err), 0);
    esc_engine *e = NULL;
    assert_int_equal(esc_engine_new(p, &e), 0);
    esc_decision *dec = NULL;
    assert_int_equal(esc_engine_evaluate(e, t, 1795780800, 0, &dec, &err), 0);
    char *js = esc_decision_json(dec, 0, NULL);
    json_t *d = json_loads(js, 0, NULL);
    assert_json(json_object_get(d, "notifications"),
                "[{\"channel\":\"slack\",\"text\":\"[high] Ticket T-1 escalated to L2: "
                "subject = \\\"site down\\\" contains down\",\"to\":\"#a\"},"
                "{\"channel\":\"email\",\"on\":[\"escalated\",\"sla_breach\"],\"own_text\":true,"
                "\"text\":\"Page T-1\",\"to\":\"lead\"},"
                "{\"channel\":\"phone\",\"on\":[\"chain_step\"],\"own_text\":false,\"text\":"
                "\"[high] Ticket T-1 escalated to L2: subject = \\\"site down\\\" contains down\",\"to\":\"boss\"}]");
    json_decref(d);
    free(js);
    esc_decision_free(&dec);
    esc_engine_free(&e);
    esc_policy_unref(&p);

    /* A team's entries for follow-ups name the team; its chain_step entry
     * stays out of decisions (the service sends it when the chain arrives). */
    const char *y2 = "escalator: 1\nname: n\npriorities: [{id: high}]\n"
                     "rules:\n  - {id: r, when: subject contains down, targets: [l2]}\n"
                     "teams:\n  - id: l2\n    notify:\n"
                     "      - {on: [follow_up, chain_step], channel: email, to: l2-team}\n";
    assert_int_equal(esc_policy_load_buffer("p.yaml", y2, strlen(y2), &p, &dg), 0);
    esc_diags_free(&dg);
    assert_int_equal(esc_engine_new(p, &e), 0);
    assert_int_equal(esc_engine_evaluate(e, t, 1795780800, 0, &dec, &err), 0);
    js = esc_decision_json(dec, 0, NULL);
    d = json_loads(js, 0, NULL);
    json_t *only = json_array_get(json_object_get(d, "notifications"), 0);
    json_object_del(only, "text");
    assert_json(only, "{\"channel\":\"email\",\"on\":[\"follow_up\"],\"own_text\":false,"
                      "\"team\":\"l2\",\"to\":\"l2-team\"}");
    json_decref(d);
    free(js);
    esc_decision_free(&dec);
    esc_engine_free(&e);
    esc_ticket_free(&t);
    esc_policy_unref(&p);
}

static void test_default_kinds(void **state)
{
    (void)state;
    assert_string_equal(notify_default_kind("slack"), "slack");
    assert_string_equal(notify_default_kind("phone"), "pager");
    assert_string_equal(notify_default_kind("pager"), "pager");
    assert_string_equal(notify_default_kind("email"), "email");
    assert_string_equal(notify_default_kind("customer"), "customer");
    assert_string_equal(notify_default_kind("dashboard"), "webhook");
    assert_string_equal(notify_default_kind("sms"), "webhook");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231),     cmocka_unit_test(test_hmac_rekeyed),
        cmocka_unit_test(test_outbound_signature),
        cmocka_unit_test(test_zendesk_signature), cmocka_unit_test(test_slack_escape),
        cmocka_unit_test(test_templates),         cmocka_unit_test(test_routes_checks),
        cmocka_unit_test(test_payloads),          cmocka_unit_test(test_zendesk_mapping),
        cmocka_unit_test(test_default_kinds),    cmocka_unit_test(test_zendesk_more_events),
        cmocka_unit_test(test_notify_entries_compile),
        cmocka_unit_test(test_notify_entries_in_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
