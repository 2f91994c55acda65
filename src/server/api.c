/*
 * api.c - the routes of the HTTP API.
 *
 * Every error is {"error": {"code", "message", "where"}}; `where` is a JSON
 * pointer into the request body when the problem is in it. A request is
 * checked whole (syntax, shape, sizes, the ticket against the policy) before
 * the service writes anything.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

typedef enum { R_EVALUATE, R_TICKETS, R_TICKET, R_MESSAGES, R_EVENTS, R_QUEUES,
               R_QUEUE, R_SUMMARY, R_METRICS, R_RELOAD, R_CLOCK, R_CONFIG, R_HEALTH,
               R_NOTIFICATIONS, R_NOTIFICATION, R_RESEND, R_INBOUND } route_id;

typedef struct route {
    route_id id;
    const char *method;
    unsigned perm; /* 0: no authentication */
    bool body;     /* takes a JSON body */
} route;

static const route routes[] = {
    {R_EVALUATE, "POST", PERM_EVALUATE, true},
    {R_TICKETS, "POST", PERM_WRITE, true},
    {R_TICKET, "GET", PERM_READ, false},
    {R_MESSAGES, "POST", PERM_WRITE, true},
    {R_EVENTS, "POST", PERM_WRITE, true},
    {R_QUEUES, "GET", PERM_READ, false},
    {R_QUEUE, "GET", PERM_READ, false},
    {R_SUMMARY, "GET", PERM_READ, false},
    {R_METRICS, "GET", PERM_READ, false},
    {R_RELOAD, "POST", PERM_ADMIN, false},
    {R_CLOCK, "POST", PERM_ADMIN, true},
    {R_CONFIG, "GET", PERM_ADMIN, false},
    {R_HEALTH, "GET", 0, false},
    {R_NOTIFICATIONS, "GET", PERM_READ, false},
    {R_NOTIFICATION, "GET", PERM_READ, false},
    {R_RESEND, "POST", PERM_ADMIN, false},
    {R_INBOUND, "POST", 0, false}, /* authenticated by its signature */
};

/* Matches the path; *arg receives the {id} or {team} segment (copied into
 * argbuf). Returns -1 for an unknown path. */
static int match(const char *url, char *argbuf, size_t size)
{
    static const struct { const char *path; route_id id; } fixed[] = {
        {"/v1/evaluate", R_EVALUATE}, {"/v1/tickets", R_TICKETS},
        {"/v1/queues", R_QUEUES},     {"/v1/metrics/summary", R_SUMMARY},
        {"/metrics", R_METRICS},      {"/v1/policy/reload", R_RELOAD},
        {"/v1/admin/clock", R_CLOCK}, {"/v1/admin/config", R_CONFIG},
        {"/healthz", R_HEALTH},       {"/v1/notifications", R_NOTIFICATIONS},
        {"/v1/inbound/zendesk", R_INBOUND},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!strcmp(url, fixed[i].path))
            return (int)fixed[i].id;
    const char *rest;
    if (!strncmp(url, "/v1/queues/", 11)) {
        rest = url + 11;
        if (!*rest || strchr(rest, '/') || strlen(rest) >= size)
            return -1;
        snprintf(argbuf, size, "%s", rest);
        return R_QUEUE;
    }
    static const struct {
        const char *prefix, *tail;
        route_id id;
    } nested[] = {
        {"/v1/notifications/", "", R_NOTIFICATION},
        {"/v1/notifications/", "/resend", R_RESEND},
        {"/v1/tickets/", "", R_TICKET},
        {"/v1/tickets/", "/messages", R_MESSAGES},
        {"/v1/tickets/", "/events", R_EVENTS},
    };
    for (size_t i = 0; i < sizeof(nested) / sizeof(nested[0]); i++) {
        size_t plen = strlen(nested[i].prefix);
        if (strncmp(url, nested[i].prefix, plen))
            continue;
        rest = url + plen;
        const char *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (n == 0 || n >= size || strcmp(rest + n, nested[i].tail))
            continue;
        memcpy(argbuf, rest, n);
        argbuf[n] = '\0';
        return (int)nested[i].id;
    }
    return -1;
}

/* The answer when an answer could not be written (out of memory). */
static void set_render_failure(api_response *out)
{
    out->status = 500;
    out->body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"cannot "
                       "render the response\",\"where\":\"\"}}");
}

static void set_json(api_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    /* Numbers with the engine's 15 significant digits: a decision reads
     * the same in every answer (302.65, not 302.64999999999998). */
    out->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                            JSON_REAL_PRECISION(15))
                     : NULL;
    if (!out->body)
        set_render_failure(out);
    out->len = out->body ? strlen(out->body) : 0;
    json_decref(body);
}

/* set_json() for a write's answer, with the decision's text (consumed)
 * at its "decision" key when the service gave it apart. */
static void set_json_decision(api_response *out, int status, json_t *body, char *decision)
{
    set_json(out, status, body);
    size_t dlen = decision ? strlen(decision) : 0;
    if (decision && out->status == status && out->len >= 2 &&
        out->body[out->len - 1] == '}') {
        static const char key[] = ",\"decision\":";
        size_t n = out->len - 1 + (sizeof(key) - 1) + dlen + 1;
        char *b = malloc(n + 1);
        if (b) {
            memcpy(b, out->body, out->len - 1);
            memcpy(b + out->len - 1, key, sizeof(key) - 1);
            memcpy(b + out->len - 1 + sizeof(key) - 1, decision, dlen);
            b[n - 1] = '}';
            b[n] = '\0';
            free(out->body);
            out->body = b;
            out->len = n;
        } else {
            free(out->body);
            set_render_failure(out);
            out->len = out->body ? strlen(out->body) : 0;
        }
    }
    free(decision);
}

/* An answer the service wrote as JSON text (taken). */
static void set_text(api_response *out, int status, char *text, size_t len)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = text;
    out->len = len;
}

static void set_error(api_response *out, int status, const char *code,
                      const char *message, const char *where)
{
    set_json(out, status, service_error(code, message, where));
}

void api_handle(service *svc, const auth *a, const char *method, const char *url,
                const char *authorization, const char *body, size_t len,
                bool too_large, api_response *out)
{
    api_handle_ex(svc, a, method, url, authorization, body, len, too_large, NULL, out);
}

static const char *lookup_header(const api_lookup *lk, const char *name)
{
    return lk && lk->header ? lk->header(lk->cls, name) : NULL;
}

/* The query arguments a list route reads, as a JSON object. */
static json_t *query_json(const api_lookup *lk, const char *const *names)
{
    json_t *q = json_object();
    for (size_t i = 0; lk && lk->query && names[i]; i++) {
        const char *v = lk->query(lk->cls, names[i]);
        if (v)
            json_object_set_new(q, names[i], json_string(v));
    }
    return q;
}

void api_handle_ex(service *svc, const auth *a, const char *method, const char *url,
                   const char *authorization, const char *body, size_t len,
                   bool too_large, const api_lookup *lk, api_response *out)
{
    memset(out, 0, sizeof(*out));
    char arg[256] = "";
    int id = match(url, arg, sizeof(arg));
    if (id < 0) {
        set_error(out, 404, "not_found", "no such resource", "");
        return;
    }
    const route *r = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if ((int)routes[i].id == id)
            r = &routes[i];
    if (strcmp(method, r->method)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "use %s", r->method);
        set_error(out, 405, "method_not_allowed", msg, "");
        return;
    }
    if (r->perm) {
        const char *token = NULL;
        if (authorization && !strncmp(authorization, "Bearer ", 7))
            token = authorization + 7;
        unsigned perms = auth_permissions(a, token);
        if (!perms) {
            set_error(out, 401, "unauthorized",
                      token ? "unknown token" : "missing 'Authorization: Bearer TOKEN'",
                      "");
            return;
        }
        if (!(perms & r->perm)) {
            set_error(out, 403, "forbidden", "this token's role may not do that", "");
            return;
        }
    }
    if (too_large) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the body exceeds max_body (%lld bytes)",
                 (long long)service_config(svc)->max_body);
        set_error(out, 413, "body_too_large", msg, "");
        return;
    }
    json_t *in = NULL, *res = NULL;
    if (r->body) {
        json_error_t jerr;
        if (len == 0) {
            set_error(out, 400, "invalid_json", "the request needs a JSON body", "");
            return;
        }
        in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!in) {
            char msg[300];
            snprintf(msg, sizeof(msg), "line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            set_error(out, 400, "invalid_json", msg, "");
            return;
        }
    }
    int status = 500;
    switch ((route_id)id) {
    case R_EVALUATE: {
        char *text = NULL;
        size_t tlen = 0;
        status = service_evaluate(svc, in, &text, &tlen, &res);
        if (text) {
            json_decref(in);
            set_text(out, status, text, tlen);
            return;
        }
        break;
    }
    case R_TICKETS:
    case R_MESSAGES:
    case R_EVENTS: {
        char *decision = NULL;
        status = id == R_TICKETS   ? service_ticket_put(svc, in, &res, &decision)
                 : id == R_MESSAGES ? service_message_add(svc, arg, in, &res, &decision)
                                    : service_event_add(svc, arg, in, &res, &decision);
        json_decref(in);
        set_json_decision(out, status, res, decision);
        return;
    }
    case R_TICKET: status = service_ticket_get(svc, arg, &res); break;
    case R_QUEUES:
    case R_QUEUE: {
        char *text = NULL;
        size_t tlen = 0;
        status = service_queue(svc, id == R_QUEUE ? arg : NULL, &text, &tlen, &res);
        if (text) {
            json_decref(in);
            set_text(out, status, text, tlen);
            return;
        }
        break;
    }
    case R_SUMMARY: status = service_metrics_summary(svc, &res); break;
    case R_RELOAD: {
        static const char *const names[] = {"recompute", NULL};
        json_t *q = query_json(lk, names);
        const char *v = json_string_value(json_object_get(q, "recompute"));
        if (v && strcmp(v, "true") && strcmp(v, "false")) {
            json_decref(q);
            set_error(out, 400, "invalid_argument", "recompute: expected true or false",
                      "recompute");
            return;
        }
        status = service_reload(svc, v && !strcmp(v, "true"), &res);
        json_decref(q);
        break;
    }
    case R_CLOCK: status = service_clock(svc, in, &res); break;
    case R_CONFIG:
        status = 200;
        res = config_json(service_config(svc));
        break;
    case R_HEALTH:
        status = 200;
        res = json_pack("{s:s}", "status", "ok");
        break;
    case R_NOTIFICATIONS: {
        static const char *const names[] = {"state", "ticket", "channel", "to", "event",
                                            "limit", "after", NULL};
        json_t *q = query_json(lk, names);
        status = service_notifications_list(svc, q, &res);
        json_decref(q);
        break;
    }
    case R_NOTIFICATION: status = service_notification_get(svc, arg, &res); break;
    case R_RESEND: status = service_notification_resend(svc, arg, &res); break;
    case R_INBOUND:
        status = service_inbound_zendesk(
            svc, lookup_header(lk, "X-Zendesk-Webhook-Signature"),
            lookup_header(lk, "X-Zendesk-Webhook-Signature-Timestamp"), body, len, &res);
        break;
    case R_METRICS: {
        json_decref(in);
        char *text = service_metrics_text(svc);
        if (!text) {
            set_error(out, 500, "internal", "out of memory", "");
            return;
        }
        out->status = 200;
        out->body = text;
        out->len = strlen(text);
        out->content_type = "text/plain; version=0.0.4";
        return;
    }
    }
    json_decref(in);
    set_json(out, status, res);
}
