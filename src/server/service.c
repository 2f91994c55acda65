/*
 * service.c - the escalation service (see service.h).
 *
 * The stored ticket is its JSON document (the DESIGN.md contract) without
 * its messages, which live in their own table; the two are joined back
 * before every evaluation. Around the pure engine the service keeps what a
 * decision alone cannot: which rules have already fired (each fires once per
 * ticket until its condition stops holding, which re-arms it), the open
 * escalation and its levels, and the timers:
 *
 *   respond:E.N.K   the response deadline of level N of escalation E, armed
 *                   when the level starts and again (K = customer messages
 *                   so far) when the customer writes after a reply
 *   warn:E.N.K      the pre-breach warning at warn_share of that window
 *   ack:E.N.R       the acknowledgement timeout, R the repeats so far
 *   follow_up:E.N.I the decision's follow_ups when the level started
 *
 * Timers are rows of the store; the heap in memory only orders them. A timer
 * fires once: its row goes from armed to fired in the transaction that
 * applies it. While a ticket is pending on the customer its respond and warn
 * timers are paused (due_at then holds the seconds that were left).
 */
#include "service.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escalator.h"
#include "../notify/notify.h"
#include "../store/store.h"
#include "timers.h"

typedef struct engine_slot {
    esc_engine *engine;
    uint64_t gen;
} engine_slot;

struct service {
    const server_config *cfg;
    store *st;

    pthread_mutex_t lock; /* the store, the heap, the manual clock */
    pthread_cond_t wake;  /* the timer thread: the heap or the clock moved */
    timer_heap heap;
    pthread_t timer_thread;
    bool timer_running;
    bool stopping;

    pthread_mutex_t policy_lock;
    esc_policy *policy;
    uint64_t policy_gen;
    pthread_key_t engine_key; /* each thread's engine_slot */
    json_t *rules; /* rule id -> {targets, escalate, next_tier}, from the dump */
    json_t *notify_info; /* notify_policy_info() of the policy, from the dump */
    notifier *notifier;  /* delivers the outbox (src/notify/) */

    bool manual;
    _Atomic int64_t manual_now;

    char **chain;
    size_t nchain;

    _Atomic uint64_t n_decisions, n_escalations, n_level_changes, n_breaches,
        n_warnings, n_follow_ups, n_ack_timeouts, n_timers_fired, n_reloads,
        n_reload_failures;
};

typedef struct ctx {
    service *svc;
    const char *id;
    json_t *row; /* the tickets row */
    json_t *doc; /* the ticket document, messages included */
    json_t *decision;
    int64_t now;
    const char *actor;
} ctx;

/* ---- small helpers ------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t jint(json_t *o, const char *key, int64_t def)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static json_t *time_json(int64_t t)
{
    char buf[32];
    if (esc_time_format(t, buf, sizeof(buf)) != 0)
        return json_null();
    return json_string(buf);
}

/* Seconds of an RFC 3339 string value, or -1. */
static int64_t jtime(json_t *o, const char *key)
{
    int64_t t;
    const char *s = jstr(o, key);
    return s && esc_time_parse(s, &t) == 0 ? t : -1;
}

static bool is_time_key(const char *k)
{
    size_t n = strlen(k);
    return (n > 3 && !strcmp(k + n - 3, "_at")) || !strcmp(k, "at") ||
           !strcmp(k, "respond_by");
}

/* Rewrites integer times (keys ending in _at, respond_by) as RFC 3339, and
 * "data" strings holding JSON as JSON, in place. */
static void present(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) present(x);
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x)
        {
            if (json_is_integer(x) && is_time_key(k)) {
                json_object_set_new(v, k, time_json(json_integer_value(x)));
            } else if (!strcmp(k, "data") || !strcmp(k, "payload")) {
                json_t *parsed = json_is_string(x)
                                     ? json_loads(json_string_value(x), 0, NULL)
                                     : NULL;
                if (parsed) {
                    present(parsed);
                    json_object_set_new(v, k, parsed);
                }
            } else {
                present(x);
            }
        }
    }
}

json_t *service_error(const char *code, const char *message, const char *where)
{
    return json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message",
                     message ? message : "", "where", where ? where : "");
}

static int fail(json_t **body, int status, const char *code, const char *where,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(json_t **body, int status, const char *code, const char *where,
                const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    *body = service_error(code, msg, where);
    return status;
}

static int store_fail(service *svc, json_t **body)
{
    fprintf(stderr, "escalator serve: store: %s\n", svc->st->ops->errmsg(svc->st));
    return fail(body, 500, "store_error", "", "the store failed: %s",
                svc->st->ops->errmsg(svc->st));
}

int64_t service_now(service *svc)
{
    return svc->manual ? atomic_load(&svc->manual_now) : (int64_t)time(NULL);
}

const server_config *service_config(service *svc) { return svc->cfg; }

/* ---- policy and engines -------------------------------------------------- */

static void slot_free(void *p)
{
    engine_slot *s = p;
    if (s) {
        esc_engine_free(&s->engine);
        free(s);
    }
}

/* This thread's engine for the current policy (rebuilt after a reload). */
static esc_engine *thread_engine(service *svc)
{
    engine_slot *s = pthread_getspecific(svc->engine_key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        pthread_setspecific(svc->engine_key, s);
    }
    pthread_mutex_lock(&svc->policy_lock);
    if (!s->engine || s->gen != svc->policy_gen) {
        esc_engine_free(&s->engine);
        if (esc_engine_new(svc->policy, &s->engine) != 0)
            s->engine = NULL;
        s->gen = svc->policy_gen;
    }
    pthread_mutex_unlock(&svc->policy_lock);
    return s->engine;
}

static bool policy_has_team(service *svc, const char *team)
{
    bool found = false;
    pthread_mutex_lock(&svc->policy_lock);
    size_t n = esc_policy_count(svc->policy, ESC_ITEM_TEAM);
    for (size_t i = 0; i < n && !found; i++)
        found = !strcmp(esc_policy_item(svc->policy, ESC_ITEM_TEAM, i), team);
    pthread_mutex_unlock(&svc->policy_lock);
    return found;
}

/* Loads the policy file; on failure fills *err (when given) and returns -1. */
static int load_policy(service *svc, esc_policy **out, json_t **err)
{
    esc_diags *diags = NULL;
    int rc = esc_policy_load_file(svc->cfg->policy, out, &diags);
    if (rc != 0) {
        json_t *list = json_array();
        char first[700] = "", where[300] = "";
        for (size_t i = 0; i < esc_diags_count(diags); i++) {
            const esc_diag *d = esc_diags_at(diags, i);
            char w[300];
            snprintf(w, sizeof(w), "%s:%d:%d", d->file, d->line, d->col);
            json_array_append_new(list, json_pack("{s:s, s:s}", "where", w,
                                                  "message", d->message));
            if (i == 0) {
                snprintf(first, sizeof(first), "%s", d->message);
                snprintf(where, sizeof(where), "%s", w);
            }
        }
        if (!first[0])
            snprintf(first, sizeof(first), "%s", esc_strerror(rc));
        if (!where[0])
            snprintf(where, sizeof(where), "%s", svc->cfg->policy);
        if (err) {
            *err = service_error("invalid_policy", first, where);
            json_object_set_new(json_object_get(*err, "error"), "diagnostics", list);
        } else {
            json_decref(list);
        }
        fprintf(stderr, "escalator serve: %s: policy refused: %s\n", where, first);
        esc_diags_free(&diags);
        return -1;
    }
    esc_diags_free(&diags);
    return 0;
}

/* Rule id -> {targets, escalate, next_tier}: what a decision does not say
 * about each rule, read from the policy's compiled form. */
static json_t *rule_map(const esc_policy *p)
{
    char *dump = esc_policy_dump(p);
    json_t *d = dump ? json_loads(dump, 0, NULL) : NULL, *map = json_object(), *r;
    size_t i;
    free(dump);
    json_array_foreach(json_object_get(d, "rules"), i, r)
    {
        const char *id = jstr(r, "id");
        if (id)
            json_object_set_new(
                map, id,
                json_pack("{s:O, s:b, s:b}", "targets",
                          json_object_get(r, "targets") ? json_object_get(r, "targets")
                                                        : json_array(),
                          "escalate", !json_is_false(json_object_get(r, "escalate")),
                          "next_tier", json_is_true(json_object_get(r, "next_tier"))));
    }
    json_decref(d);
    return map;
}

/* Evaluates a ticket document at `now`. Returns 0 with *decision, or an
 * HTTP status with *body. */
static int decide(service *svc, json_t *doc, int64_t now, json_t **decision,
                  json_t **body)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    esc_ticket *t = NULL;
    esc_decision *d = NULL;
    esc_error e;
    memset(&e, 0, sizeof(e));
    esc_engine *engine = thread_engine(svc);
    int status = 0;
    if (!text || !engine) {
        free(text);
        return fail(body, 500, "internal", "", "out of memory");
    }
    int rc = esc_ticket_parse(text, strlen(text), "ticket", &t, &e);
    if (rc == 0)
        rc = esc_engine_evaluate(engine, t, now, 0, &d, &e);
    if (rc == 0) {
        size_t len = 0;
        char *dj = esc_decision_json(d, 0, &len);
        *decision = dj ? json_loadb(dj, len, 0, NULL) : NULL;
        free(dj);
        if (!*decision)
            status = fail(body, 500, "internal", "", "cannot render the decision");
        else
            atomic_fetch_add(&svc->n_decisions, 1);
    } else {
        status = fail(body, rc == ESC_ENOMEM ? 500 : 422,
                      rc == ESC_ELIMIT ? "too_large" : "invalid_ticket", e.pointer,
                      "%s", e.message[0] ? e.message : esc_strerror(rc));
    }
    esc_decision_free(&d);
    esc_ticket_free(&t);
    free(text);
    return status;
}

/* ---- input checks -------------------------------------------------------- */

/* Every string of v is at most max bytes; else 422 naming the place. */
static int check_sizes(json_t *v, size_t max, char *ptr, size_t cap, json_t **body)
{
    size_t base = strlen(ptr);
    int rc = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) > max)
            return fail(body, 422, "field_too_large", ptr,
                        "a string of %zu bytes exceeds max_text (%zu)",
                        json_string_length(v), max);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strlen(k) > 256)
                return fail(body, 422, "field_too_large", ptr,
                            "a key longer than 256 bytes");
            snprintf(ptr + base, cap - base, "/%s", k);
            if ((rc = check_sizes(x, max, ptr, cap, body)) != 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(ptr + base, cap - base, "/%zu", i);
            if ((rc = check_sizes(x, max, ptr, cap, body)) != 0)
                return rc;
        }
    }
    ptr[base] = '\0';
    return 0;
}

static int check_input(service *svc, json_t *v, json_t **body)
{
    char ptr[1024] = "";
    if (!json_is_object(v))
        return fail(body, 422, "invalid_request", "", "expected a JSON object");
    return check_sizes(v, (size_t)svc->cfg->max_text, ptr, sizeof(ptr), body);
}

static bool valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == ':'))
            return false;
    }
    return true;
}

/* ---- tickets in the store ------------------------------------------------ */

/* Loads the row and the document (messages joined back). */
static int load_ticket(service *svc, const char *id, json_t **row, json_t **doc)
{
    const store_ops *ops = svc->st->ops;
    int rc = ops->ticket_get(svc->st, id, row);
    if (rc != STORE_OK)
        return rc;
    *doc = json_loads(jstr(*row, "doc"), 0, NULL);
    json_t *msgs = NULL;
    if (!*doc || ops->messages_list(svc->st, id, &msgs) != STORE_OK) {
        json_decref(*doc);
        json_decref(*row);
        *doc = *row = NULL;
        return STORE_ERROR;
    }
    json_t *list = json_array(), *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        json_array_append_new(
            list, json_pack("{s:O, s:o, s:O}", "from", json_object_get(m, "sender"),
                            "at", time_json(jint(m, "at", 0)), "text",
                            json_object_get(m, "body")));
    }
    json_decref(msgs);
    json_object_set_new(*doc, "messages", list);
    return STORE_OK;
}

/* Writes the row with the document (without its messages). */
static int save_ticket(ctx *c)
{
    json_t *copy = json_copy(c->doc);
    json_object_del(copy, "messages");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(copy);
    if (!text)
        return STORE_ERROR;
    json_object_set_new(c->row, "doc", json_string(text));
    free(text);
    json_object_set(c->row, "status", json_object_get(c->doc, "status"));
    json_t *level = json_object_get(c->doc, "level");
    json_object_set(c->row, "level", level ? level : json_null());
    json_object_set_new(c->row, "updated_at", json_integer(c->now));
    return c->svc->st->ops->ticket_put(c->svc->st, c->row);
}

static int log_event(ctx *c, const char *kind, json_t *data)
{
    int rc = c->svc->st->ops->event_add(c->svc->st, c->id, c->now, kind,
                                         c->actor, data);
    json_decref(data);
    return rc;
}

static int outbox(ctx *c, const char *kind, const char *key_suffix, json_t *payload)
{
    char key[512];
    snprintf(key, sizeof(key), "%s:%s:%s", c->id, kind, key_suffix);
    int rc = c->svc->st->ops->outbox_add(c->svc->st, key, c->id, c->now, kind,
                                          payload);
    if (rc == STORE_OK) {
        /* Its deliveries, in the same transaction: what the worker sends. */
        pthread_mutex_lock(&c->svc->policy_lock);
        json_t *info = json_deep_copy(c->svc->notify_info);
        pthread_mutex_unlock(&c->svc->policy_lock);
        notify_event ev = {.ticket = c->id, .kind = kind, .outbox_key = key,
                           .now = c->now, .now_ms = notify_now_ms(), .doc = c->doc,
                           .decision = c->decision, .data = payload,
                           .priority = jstr(c->row, "priority"), .policy = info,
                           .events = c->svc->cfg->notify_events};
        int added = 0;
        rc = notify_plan(c->svc->st, &ev, &added);
        json_decref(info);
    }
    json_decref(payload);
    return rc;
}

/* ---- timers --------------------------------------------------------------- */

static int arm(ctx *c, const char *cause, int64_t due, json_t *data)
{
    service *svc = c->svc;
    int rc = svc->st->ops->timer_arm(svc->st, c->id, cause, due, data);
    json_decref(data);
    if (rc == STORE_NOTFOUND)
        return STORE_OK; /* fired or cancelled before: once per cause */
    if (rc != STORE_OK)
        return rc;
    if (timer_heap_push(&svc->heap, due, c->id, cause) != 0)
        return STORE_ERROR;
    pthread_cond_signal(&svc->wake);
    return STORE_OK;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Cancels the ticket's armed or paused timers whose cause starts with one of
 * the prefixes (NULL-terminated; NULL prefixes: all). */
static int cancel_timers(ctx *c, const char *const *prefixes)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *rows = NULL, *t;
    size_t i;
    if (ops->timers_list(c->svc->st, c->id, &rows) != STORE_OK)
        return STORE_ERROR;
    int rc = STORE_OK;
    json_array_foreach(rows, i, t)
    {
        const char *state = jstr(t, "state"), *cause = jstr(t, "cause");
        if (strcmp(state, "armed") && strcmp(state, "paused"))
            continue;
        bool match = !prefixes;
        for (size_t j = 0; prefixes && prefixes[j] && !match; j++)
            match = has_prefix(cause, prefixes[j]);
        if (match && ops->timer_set(c->svc->st, c->id, cause, "cancelled",
                                    jint(t, "due_at", 0)) != STORE_OK)
            rc = STORE_ERROR;
    }
    json_decref(rows);
    return rc;
}

static int64_t customer_messages(json_t *doc)
{
    int64_t n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "messages"), i, m)
        n += jstr(m, "from") && !strcmp(jstr(m, "from"), "customer");
    return n;
}

/* Arms the response deadline (and its warning) of the escalation's current
 * level. */
static int arm_response(ctx *c, json_t *esc, int64_t start, int64_t respond_by)
{
    int64_t e = jint(esc, "id", 0), n = jint(esc, "levels", 0);
    int64_t k = customer_messages(c->doc);
    char cause[128];
    if (respond_by <= 0)
        return STORE_OK;
    json_object_set_new(esc, "respond_by", json_integer(respond_by));
    json_t *data = json_pack("{s:I, s:I, s:s, s:I}", "escalation", (json_int_t)e,
                             "level", (json_int_t)n, "team", jstr(esc, "team"),
                             "respond_by", (json_int_t)respond_by);
    snprintf(cause, sizeof(cause), "respond:%" PRId64 ".%" PRId64 ".%" PRId64, e, n, k);
    /* The breach is the first second past the deadline, when rules such
     * as `facts.since_customer > 4h` hold. */
    int rc = arm(c, cause, respond_by + 1, json_incref(data));
    double share = c->svc->cfg->warn_share;
    int64_t warn_at = start + (int64_t)((double)(respond_by - start) * share);
    if (rc == STORE_OK && share > 0 && warn_at > start && warn_at < respond_by) {
        snprintf(cause, sizeof(cause), "warn:%" PRId64 ".%" PRId64 ".%" PRId64, e, n, k);
        rc = arm(c, cause, warn_at, json_incref(data));
    }
    json_decref(data);
    return rc;
}

static int arm_ack(ctx *c, json_t *esc, int64_t start)
{
    int64_t timeout = c->svc->cfg->ack_timeout;
    if (timeout <= 0 || jint(esc, "ack_repeats", 0) >= c->svc->cfg->ack_max_repeats)
        return STORE_OK;
    char cause[128];
    snprintf(cause, sizeof(cause), "ack:%" PRId64 ".%" PRId64 ".%" PRId64,
             jint(esc, "id", 0), jint(esc, "levels", 0), jint(esc, "ack_repeats", 0));
    return arm(c, cause, start + timeout,
               json_pack("{s:I, s:s}", "escalation", (json_int_t)jint(esc, "id", 0),
                         "team", jstr(esc, "team")));
}

/* The timers of a level that just started. */
static int arm_level(ctx *c, json_t *esc, int64_t respond_by)
{
    int rc = arm_response(c, esc, c->now, respond_by);
    if (rc == STORE_OK)
        rc = arm_ack(c, esc, c->now);
    size_t i;
    json_t *f;
    json_array_foreach(c->decision ? json_object_get(c->decision, "follow_ups") : NULL,
                       i, f)
    {
        int64_t at = jtime(f, "at");
        char cause[128];
        if (rc != STORE_OK || at < 0)
            continue;
        snprintf(cause, sizeof(cause), "follow_up:%" PRId64 ".%" PRId64 ".%zu",
                 jint(esc, "id", 0), jint(esc, "levels", 0), i);
        rc = arm(c, cause, at,
                 json_pack("{s:I, s:O}", "escalation",
                           (json_int_t)jint(esc, "id", 0), "team",
                           json_object_get(f, "team") ? json_object_get(f, "team")
                                                      : json_null()));
    }
    return rc;
}

/* ---- escalations ----------------------------------------------------------- */

/* Opens an escalation to `team`, or moves the open one there. `why` (stolen)
 * is logged with the event. */
static int escalate_to(ctx *c, const char *team, const char *priority,
                       int64_t respond_by, const char *cause, json_t *why)
{
    const store_ops *ops = c->svc->st->ops;
    store *st = c->svc->st;
    json_t *esc = NULL;
    int rc = ops->escalation_open_get(st, c->id, &esc);
    const char *kind = "escalation";
    char from[160] = "";
    if (rc == STORE_ERROR) {
        json_decref(why);
        return rc;
    }
    if (rc == STORE_NOTFOUND) {
        rc = STORE_OK;
        esc = json_pack("{s:s, s:s, s:s, s:o, s:I, s:n, s:n, s:n, s:n, s:i, s:i}",
                        "ticket_id", c->id, "state", "open", "team", team,
                        "priority", priority ? json_string(priority) : json_null(),
                        "opened_at", (json_int_t)c->now, "closed_at", "owner",
                        "acknowledged_at", "respond_by", "ack_repeats", 0,
                        "levels", 1);
        atomic_fetch_add(&c->svc->n_escalations, 1);
    } else {
        if (!strcmp(jstr(esc, "team"), team)) {
            json_decref(esc);
            json_decref(why);
            return STORE_OK; /* already there */
        }
        snprintf(from, sizeof(from), "%s", jstr(esc, "team"));
        kind = "level_change";
        rc = ops->level_end(st, jint(esc, "id", 0), c->now);
        /* The new level has not acknowledged yet; its response timers
         * replace the old level's. */
        static const char *const old[] = {"respond:", "warn:", "ack:", "follow_up:",
                                         NULL};
        if (rc == STORE_OK)
            rc = cancel_timers(c, old);
        json_object_set_new(esc, "team", json_string(team));
        json_object_set_new(esc, "state", json_string("open"));
        json_object_set_new(esc, "owner", json_null());
        json_object_set_new(esc, "acknowledged_at", json_null());
        json_object_set_new(esc, "respond_by", json_null());
        json_object_set_new(esc, "levels", json_integer(jint(esc, "levels", 0) + 1));
        if (priority)
            json_object_set_new(esc, "priority", json_string(priority));
        atomic_fetch_add(&c->svc->n_level_changes, 1);
    }
    if (rc == STORE_OK)
        rc = ops->escalation_put(st, esc);
    if (rc == STORE_OK)
        rc = ops->level_start(st, jint(esc, "id", 0), team, c->now, cause, respond_by);
    if (rc == STORE_OK)
        rc = arm_level(c, esc, respond_by);
    if (rc == STORE_OK)
        rc = ops->escalation_put(st, esc);
    if (rc == STORE_OK) {
        json_object_set_new(c->doc, "status", json_string("escalated"));
        json_object_set_new(c->doc, "level", json_string(team));
        if (priority)
            json_object_set_new(c->row, "priority", json_string(priority));
        json_t *data = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:o}", "escalation",
                                 (json_int_t)jint(esc, "id", 0), "level",
                                 (json_int_t)jint(esc, "levels", 0), "team", team,
                                 "cause", cause, "from", from[0] ? json_string(from) : json_null(),
                                 "respond_by", respond_by > 0 ? json_integer(respond_by) : json_null(),
                                 "why", why ? why : json_null());
        why = NULL;
        rc = log_event(c, kind, data);
        char suffix[64];
        snprintf(suffix, sizeof(suffix), "%" PRId64 ".%" PRId64, jint(esc, "id", 0),
                 jint(esc, "levels", 0));
        json_t *payload = json_pack("{s:s, s:s, s:s, s:o, s:O}", "ticket", c->id,
                                    "team", team, "cause", cause, "priority",
                                    priority ? json_string(priority) : json_null(),
                                    "notifications",
                                    c->decision && json_object_get(c->decision, "notifications")
                                        ? json_object_get(c->decision, "notifications")
                                        : json_null());
        if (rc == STORE_OK)
            rc = outbox(c, "escalation", suffix, payload);
        else
            json_decref(payload);
    }
    json_decref(why);
    json_decref(esc);
    return rc;
}

static int chain_rank(service *svc, const char *team)
{
    for (size_t i = 0; team && i < svc->nchain; i++)
        if (!strcmp(svc->chain[i], team))
            return (int)i;
    return -1;
}

/* A policy decision never moves an open escalation down ack_chain (where
 * an acknowledgement timeout may have taken it). */
static bool below_in_chain(ctx *c, const char *target)
{
    json_t *esc = NULL;
    if (c->svc->st->ops->escalation_open_get(c->svc->st, c->id, &esc) != STORE_OK)
        return false;
    int cur = chain_rank(c->svc, jstr(esc, "team")), to = chain_rank(c->svc, target);
    json_decref(esc);
    return cur >= 0 && to >= 0 && to < cur;
}

static bool json_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (!strcmp(json_string_value(x), s)) return true;
    return false;
}

/* Where the most urgent rule that fired anew sends the ticket: its own first
 * target, or for a next_tier rule the first target of the decision that no
 * rule which already held names. NULL when no new rule escalates. */
static const char *fresh_target(service *svc, json_t *fresh, json_t *fired,
                                json_t *targets)
{
    /* The map is read under the policy lock, never shared by reference:
     * jansson's reference counts are not meant for that. */
    pthread_mutex_lock(&svc->policy_lock);
    json_t *rules = svc->rules, *f, *t;
    const char *target = NULL;
    size_t i, j;
    json_array_foreach(fresh, i, f)
    {
        json_t *info = json_object_get(rules, json_string_value(f));
        if (!info || !json_is_true(json_object_get(info, "escalate")))
            continue;
        json_t *own = json_object_get(info, "targets");
        if (json_array_size(own) > 0) {
            target = json_string_value(json_array_get(own, 0));
            break;
        }
        json_array_foreach(targets, j, t)
        {
            bool claimed = false;
            size_t k;
            json_t *old;
            json_array_foreach(fired, k, old)
            {
                json_t *oi = json_object_get(rules, json_string_value(old));
                if (!json_has(fresh, json_string_value(old)) && oi)
                    claimed |= json_has(json_object_get(oi, "targets"),
                                        json_string_value(t));
            }
            if (!claimed) {
                target = json_string_value(t);
                break;
            }
        }
        if (!target)
            target = json_string_value(json_array_get(targets, 0));
        break;
    }
    /* The string may belong to the map: copied before the lock goes. */
    static _Thread_local char buf[256];
    if (target) {
        snprintf(buf, sizeof(buf), "%s", target);
        target = buf;
    }
    pthread_mutex_unlock(&svc->policy_lock);
    return target;
}

/* Evaluates the ticket, logs the decision and applies it: a rule that fires
 * for the first time (or again after it stopped holding) may escalate. */
static int reevaluate(ctx *c, const char *cause, json_t **body)
{
    json_decref(c->decision);
    c->decision = NULL;
    int status = decide(c->svc, c->doc, c->now, &c->decision, body);
    if (status)
        return status;
    json_t *dec = c->decision;
    json_t *fired = json_loads(jstr(c->row, "fired") ? jstr(c->row, "fired") : "[]",
                               0, NULL);
    if (!json_is_array(fired)) {
        json_decref(fired);
        fired = json_array();
    }
    json_t *now_fired = json_array(), *fresh = json_array(), *r, *f;
    size_t i, j;
    json_array_foreach(json_object_get(dec, "reasons"), i, r)
    {
        const char *rule = jstr(r, "rule");
        if (!rule)
            continue;
        bool seen = false;
        json_array_foreach(fired, j, f) seen |= !strcmp(json_string_value(f), rule);
        json_array_append_new(now_fired, json_string(rule));
        if (!seen)
            json_array_append_new(fresh, json_string(rule));
    }
    json_decref(fired);

    int rc = log_event(c, "decision",
                       json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "cause", cause,
                                 "escalate", json_object_get(dec, "escalate"),
                                 "priority", json_object_get(dec, "priority"),
                                 "targets", json_object_get(dec, "targets"),
                                 "respond_by", json_object_get(dec, "respond_by"),
                                 "reasons", json_object_get(dec, "reasons")));
    const char *st = jstr(c->doc, "status");
    bool closed = st && (!strcmp(st, "resolved") || !strcmp(st, "closed") ||
                         !strcmp(st, "pending"));
    json_t *targets = json_object_get(dec, "targets");
    const char *target = NULL;
    if (json_is_true(json_object_get(dec, "escalate")) && !closed)
        target = fresh_target(c->svc, fresh, now_fired, targets);
    if (rc == STORE_OK && target && !below_in_chain(c, target)) {
        char why[256];
        snprintf(why, sizeof(why), "policy (%s)", cause);
        rc = escalate_to(c, target,
                         jstr(dec, "priority"), jtime(dec, "respond_by"), why,
                         json_pack("{s:O, s:O}", "rules", fresh, "reasons",
                                   json_object_get(dec, "reasons")));
    }
    json_decref(fresh);
    char *text = json_dumps(now_fired, JSON_COMPACT);
    json_object_set_new(c->row, "fired", json_string(text ? text : "[]"));
    free(text);
    json_decref(now_fired);
    char *dtext = json_dumps(dec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_object_set_new(c->row, "decision", dtext ? json_string(dtext) : json_null());
    free(dtext);
    if (rc == STORE_OK)
        rc = save_ticket(c);
    return rc == STORE_OK ? 0 : store_fail(c->svc, body);
}

/* ---- pause and resume ------------------------------------------------------ */

static const char *const sla_prefixes[] = {"respond:", "warn:", NULL};

static int pause_clock(ctx *c)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *rows = NULL, *t;
    size_t i;
    if (ops->timers_list(c->svc->st, c->id, &rows) != STORE_OK)
        return STORE_ERROR;
    int rc = STORE_OK;
    json_array_foreach(rows, i, t)
    {
        const char *cause = jstr(t, "cause");
        if (strcmp(jstr(t, "state"), "armed") ||
            !(has_prefix(cause, "respond:") || has_prefix(cause, "warn:")))
            continue;
        int64_t left = jint(t, "due_at", 0) - c->now;
        if (rc == STORE_OK)
            rc = ops->timer_set(c->svc->st, c->id, cause, "paused", left > 0 ? left : 0);
    }
    json_decref(rows);
    json_object_set_new(c->row, "paused_at", json_integer(c->now));
    return rc;
}

static int resume_clock(ctx *c)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *rows = NULL, *t, *esc = NULL;
    size_t i;
    int64_t paused_at = jint(c->row, "paused_at", -1);
    if (paused_at < 0)
        return STORE_OK;
    if (ops->timers_list(c->svc->st, c->id, &rows) != STORE_OK)
        return STORE_ERROR;
    int rc = STORE_OK;
    json_array_foreach(rows, i, t)
    {
        const char *cause = jstr(t, "cause");
        if (strcmp(jstr(t, "state"), "paused"))
            continue;
        int64_t due = c->now + jint(t, "due_at", 0);
        if (rc == STORE_OK)
            rc = ops->timer_set(c->svc->st, c->id, cause, "armed", due);
        if (rc == STORE_OK && timer_heap_push(&c->svc->heap, due, c->id, cause) != 0)
            rc = STORE_ERROR;
    }
    json_decref(rows);
    pthread_cond_signal(&c->svc->wake);
    if (rc == STORE_OK && ops->escalation_open_get(c->svc->st, c->id, &esc) == STORE_OK) {
        int64_t rb = jint(esc, "respond_by", -1);
        if (rb > 0) {
            json_object_set_new(esc, "respond_by", json_integer(rb + c->now - paused_at));
            rc = ops->escalation_put(c->svc->st, esc);
        }
    }
    json_decref(esc);
    json_object_set_new(c->row, "paused_at", json_null());
    if (rc == STORE_OK)
        rc = log_event(c, "clock_resumed",
                       json_pack("{s:I}", "paused_s", (json_int_t)(c->now - paused_at)));
    return rc;
}

/* Applies a status change with its consequences. `to` is one of the
 * contract's statuses, or "reopened". */
static int set_status(ctx *c, const char *to)
{
    const store_ops *ops = c->svc->st->ops;
    const char *from_s = jstr(c->doc, "status");
    char from[32];
    snprintf(from, sizeof(from), "%s", from_s ? from_s : "new");
    bool reopen = !strcmp(to, "reopened");
    const char *target = reopen ? "open" : to;
    if (!strcmp(from, target) && !reopen)
        return STORE_OK;
    int rc = log_event(c, "status", json_pack("{s:s, s:s}", "from", from, "to", to));
    json_object_set_new(c->doc, "status", json_string(target));
    if (rc == STORE_OK && !strcmp(from, "pending"))
        rc = resume_clock(c);
    if (rc == STORE_OK && !strcmp(target, "pending"))
        rc = pause_clock(c);
    if (rc == STORE_OK && (!strcmp(target, "resolved") || !strcmp(target, "closed"))) {
        json_t *esc = NULL;
        if (!strcmp(target, "resolved") || json_is_null(json_object_get(c->row, "resolved_at")))
            json_object_set_new(c->row, "resolved_at", json_integer(c->now));
        int g = ops->escalation_open_get(c->svc->st, c->id, &esc);
        if (g == STORE_OK) {
            json_object_set_new(esc, "state", json_string("resolved"));
            json_object_set_new(esc, "closed_at", json_integer(c->now));
            rc = ops->escalation_put(c->svc->st, esc);
            if (rc == STORE_OK)
                rc = ops->level_end(c->svc->st, jint(esc, "id", 0), c->now);
        } else if (g == STORE_ERROR) {
            rc = STORE_ERROR;
        }
        json_decref(esc);
        if (rc == STORE_OK)
            rc = cancel_timers(c, NULL);
    }
    if (rc == STORE_OK && (reopen || ((!strcmp(from, "resolved") || !strcmp(from, "closed")) &&
                                      strcmp(target, "resolved") && strcmp(target, "closed")))) {
        /* Reopening changes the facts: every rule may fire again. */
        json_object_set_new(c->row, "resolved_at", json_null());
        json_object_set_new(c->row, "fired", json_string("[]"));
    }
    return rc;
}

/* A reply by an agent or bot answers the open level's deadline; a customer
 * message after a reply starts the next-reply deadline. */
static int on_message(ctx *c, const char *from)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *esc = NULL;
    int rc = STORE_OK;
    bool reply = !strcmp(from, "agent") || !strcmp(from, "bot");
    if (reply && json_is_null(json_object_get(c->row, "first_response_at")))
        json_object_set_new(c->row, "first_response_at", json_integer(c->now));
    int g = ops->escalation_open_get(c->svc->st, c->id, &esc);
    if (g == STORE_ERROR)
        return STORE_ERROR;
    if (g == STORE_OK && reply) {
        rc = ops->level_mark(c->svc->st, jint(esc, "id", 0), "responded_at", c->now);
        if (rc == STORE_OK)
            rc = cancel_timers(c, sla_prefixes);
        json_object_set_new(esc, "respond_by", json_null());
        if (rc == STORE_OK)
            rc = ops->escalation_put(c->svc->st, esc);
    }
    json_decref(esc);
    if (rc == STORE_OK && !strcmp(from, "customer") &&
        !strcmp(jstr(c->doc, "status") ? jstr(c->doc, "status") : "", "pending"))
        rc = set_status(c, "open");
    return rc;
}

/* After the evaluation of a customer message: when the open level has
 * answered, the decision's respond_by is the next-reply deadline. */
static int arm_next_reply(ctx *c)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *esc = NULL;
    int rc = STORE_OK;
    if (ops->escalation_open_get(c->svc->st, c->id, &esc) != STORE_OK)
        return STORE_OK;
    int64_t rb = c->decision ? jtime(c->decision, "respond_by") : -1;
    if (json_is_null(json_object_get(esc, "respond_by")) && rb > 0) {
        rc = arm_response(c, esc, c->now, rb);
        if (rc == STORE_OK)
            rc = ops->escalation_put(c->svc->st, esc);
    }
    json_decref(esc);
    return rc;
}

/* ---- transactions and responses ------------------------------------------- */

static void ctx_free(ctx *c)
{
    json_decref(c->row);
    json_decref(c->doc);
    json_decref(c->decision);
}

/* The body of a write's response: the decision and the open escalation. */
static json_t *write_response(ctx *c, bool created)
{
    json_t *esc = NULL;
    if (c->svc->st->ops->escalation_open_get(c->svc->st, c->id, &esc) != STORE_OK)
        esc = json_null();
    present(esc);
    json_t *body = json_pack("{s:s, s:b, s:O, s:O, s:o, s:O}", "ticket", c->id,
                             "created", created, "status",
                             json_object_get(c->doc, "status"), "level",
                             json_object_get(c->doc, "level")
                                 ? json_object_get(c->doc, "level")
                                 : json_null(),
                             "escalation", esc, "decision",
                             c->decision ? c->decision : json_null());
    return body;
}

/* Ends a write: commits when status is 0 (filling *body), rolls back
 * otherwise. Returns the HTTP status. */
static int finish(ctx *c, int status, int ok_status, bool created, json_t **body)
{
    service *svc = c->svc;
    if (status == 0) {
        if (svc->st->ops->commit(svc->st) != STORE_OK) {
            status = store_fail(svc, body);
        } else {
            /* The body reads the committed state. */
            *body = write_response(c, created);
            status = ok_status;
            notifier_wake(svc->notifier);
        }
    }
    if (status != ok_status)
        svc->st->ops->rollback(svc->st);
    pthread_mutex_unlock(&svc->lock);
    ctx_free(c);
    return status;
}

/* Fills what the contract leaves optional: created_at, status, the time of
 * each message. */
static void normalize(json_t *doc, int64_t now)
{
    if (!json_object_get(doc, "created_at"))
        json_object_set_new(doc, "created_at", time_json(now));
    if (!json_object_get(doc, "status"))
        json_object_set_new(doc, "status", json_string("new"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "messages"), i, m)
    {
        if (json_is_object(m) && !json_object_get(m, "at"))
            json_object_set_new(m, "at", time_json(now));
    }
}

/* ---- the API operations -------------------------------------------------- */

int service_evaluate(service *svc, json_t *ticket, json_t **body)
{
    json_t *dec = NULL;
    int status = check_input(svc, ticket, body);
    if (status)
        return status;
    status = decide(svc, ticket, service_now(svc), &dec, body);
    if (status)
        return status;
    *body = dec;
    return 200;
}

static const char *const statuses[] = {"new", "open", "pending", "escalated",
                                       "resolved", "closed", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

int service_ticket_put(service *svc, json_t *ticket, json_t **body)
{
    int status = check_input(svc, ticket, body);
    if (status)
        return status;
    const char *id = jstr(ticket, "id");
    if (!json_is_string(json_object_get(ticket, "id")))
        return fail(body, 422, "invalid_ticket", "/id", "required string is missing");
    if (!valid_id(id))
        return fail(body, 422, "invalid_ticket", "/id",
                    "an id is 1 to 128 letters, digits, '-', '_', '.' or ':'");
    json_t *msgs = json_object_get(ticket, "messages");
    if (msgs && !json_is_array(msgs))
        return fail(body, 422, "invalid_ticket", "/messages", "expected an array");
    const char *st = jstr(ticket, "status");
    if (json_object_get(ticket, "status") && !in_list(st, statuses))
        return fail(body, 422, "invalid_ticket", "/status",
                    "expected one of new open pending escalated resolved closed");

    ctx c = {.svc = svc, .id = id, .actor = "api"};
    pthread_mutex_lock(&svc->lock);
    c.now = service_now(svc);
    const store_ops *ops = svc->st->ops;
    if (ops->begin(svc->st) != STORE_OK) {
        status = store_fail(svc, body);
        return finish(&c, status, 200, false, body);
    }
    json_t *old_doc = NULL;
    int g = load_ticket(svc, id, &c.row, &old_doc);
    bool created = g == STORE_NOTFOUND;
    if (g == STORE_ERROR)
        return finish(&c, store_fail(svc, body), 200, false, body);
    c.doc = json_deep_copy(ticket);
    normalize(c.doc, c.now);
    /* Validate before anything is written. */
    json_t *probe = NULL;
    status = decide(svc, c.doc, c.now, &probe, body);
    json_decref(probe);
    if (status) {
        json_decref(old_doc);
        return finish(&c, status, 200, false, body);
    }
    const char *new_status = jstr(c.doc, "status");
    char want[32];
    snprintf(want, sizeof(want), "%s", new_status);
    if (created) {
        c.row = json_pack("{s:s, s:s, s:n, s:n, s:I, s:I, s:n, s:n, s:n}", "id", id,
                          "fired", "[]", "priority", "decision", "created_at",
                          (json_int_t)(jtime(c.doc, "created_at") >= 0
                                           ? jtime(c.doc, "created_at")
                                           : c.now),
                          "updated_at", (json_int_t)c.now, "first_response_at",
                          "resolved_at", "paused_at");
        status = log_event(&c, "created", json_pack("{s:s}", "status", want));
    } else {
        /* The stored status goes through set_status so that pausing,
         * resolving and reopening apply. */
        json_object_set(c.doc, "status", json_object_get(old_doc, "status"));
        status = log_event(&c, "updated", json_object());
        if (status == STORE_OK)
            status = set_status(&c, want);
    }
    json_decref(old_doc);
    if (status == STORE_OK)
        status = save_ticket(&c); /* the row first: messages refer to it */
    if (status == STORE_OK)
        status = ops->messages_clear(svc->st, id);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c.doc, "messages"), i, m)
    {
        int64_t at = jtime(m, "at");
        if (status == STORE_OK)
            status = ops->message_add(svc->st, id, jstr(m, "from"), at < 0 ? c.now : at,
                                      jstr(m, "text") ? jstr(m, "text") : "");
    }
    if (status != STORE_OK)
        return finish(&c, store_fail(svc, body), 200, false, body);
    status = reevaluate(&c, created ? "created" : "updated", body);
    return finish(&c, status, created ? 201 : 200, created, body);
}

/* Opens the transaction and loads the ticket for a write on it. */
static int begin_ticket(service *svc, const char *id, ctx *c, json_t **body)
{
    memset(c, 0, sizeof(*c));
    c->svc = svc;
    c->id = id;
    c->actor = "api";
    pthread_mutex_lock(&svc->lock);
    c->now = service_now(svc);
    if (svc->st->ops->begin(svc->st) != STORE_OK)
        return store_fail(svc, body);
    int g = load_ticket(svc, id, &c->row, &c->doc);
    if (g == STORE_NOTFOUND)
        return fail(body, 404, "not_found", "", "no ticket '%s'", id);
    if (g != STORE_OK)
        return store_fail(svc, body);
    return 0;
}

static const char *const senders[] = {"customer", "agent", "bot", "system", NULL};

int service_message_add(service *svc, const char *id, json_t *msg, json_t **body)
{
    int status = check_input(svc, msg, body);
    if (status)
        return status;
    const char *from = jstr(msg, "from"), *text = jstr(msg, "text");
    if (!in_list(from, senders))
        return fail(body, 422, "invalid_message", "/from",
                    "expected one of customer agent bot system");
    if (!text)
        return fail(body, 422, "invalid_message", "/text", "required string is missing");
    int64_t at = -1;
    if (json_object_get(msg, "at") && (at = jtime(msg, "at")) < 0)
        return fail(body, 422, "invalid_message", "/at", "expected an RFC 3339 time");

    ctx c;
    status = begin_ticket(svc, id, &c, body);
    if (status)
        return finish(&c, status, 200, false, body);
    if (at < 0)
        at = c.now;
    json_array_append_new(json_object_get(c.doc, "messages"),
                          json_pack("{s:s, s:o, s:s}", "from", from, "at",
                                    time_json(at), "text", text));
    c.actor = from;
    status = svc->st->ops->message_add(svc->st, id, from, at, text);
    if (status == STORE_OK)
        status = log_event(&c, "message", json_pack("{s:s, s:I}", "from", from,
                                                    "at", (json_int_t)at));
    if (status == STORE_OK)
        status = on_message(&c, from);
    if (status != STORE_OK)
        return finish(&c, store_fail(svc, body), 200, false, body);
    status = reevaluate(&c, "message", body);
    if (status == 0 && !strcmp(from, "customer") && arm_next_reply(&c) != STORE_OK)
        status = store_fail(svc, body);
    return finish(&c, status, 200, false, body);
}

static int acknowledge(ctx *c, json_t *ev, json_t **body)
{
    const store_ops *ops = c->svc->st->ops;
    json_t *esc = NULL;
    const char *by = jstr(ev, "by");
    if (!by)
        return fail(body, 422, "invalid_event", "/by", "required string is missing");
    int g = ops->escalation_open_get(c->svc->st, c->id, &esc);
    if (g == STORE_NOTFOUND)
        return fail(body, 409, "not_escalated", "", "ticket '%s' has no open escalation",
                    c->id);
    if (g != STORE_OK)
        return store_fail(c->svc, body);
    const char *team = jstr(ev, "team");
    if (team && strcmp(team, jstr(esc, "team"))) {
        int s = fail(body, 409, "wrong_level", "/team",
                     "the escalation is with '%s', not '%s'", jstr(esc, "team"), team);
        json_decref(esc);
        return s;
    }
    int rc = STORE_OK;
    if (strcmp(jstr(esc, "state"), "acknowledged")) {
        json_object_set_new(esc, "state", json_string("acknowledged"));
        json_object_set_new(esc, "owner", json_string(by));
        json_object_set_new(esc, "acknowledged_at", json_integer(c->now));
        static const char *const ack[] = {"ack:", NULL};
        rc = ops->escalation_put(c->svc->st, esc);
        if (rc == STORE_OK)
            rc = ops->level_mark(c->svc->st, jint(esc, "id", 0), "acknowledged_at", c->now);
        if (rc == STORE_OK)
            rc = cancel_timers(c, ack);
    }
    if (rc == STORE_OK)
        rc = log_event(c, "acknowledged",
                       json_pack("{s:s, s:O, s:I}", "by", by, "team", json_object_get(esc, "team"),
                                 "escalation", (json_int_t)jint(esc, "id", 0)));
    if (rc == STORE_OK) {
        char key[96];
        snprintf(key, sizeof(key), "%" PRId64 ".%" PRId64, jint(esc, "id", 0),
                 jint(esc, "levels", 0));
        rc = outbox(c, "acknowledged", key,
                    json_pack("{s:s, s:O, s:I}", "by", by, "team", json_object_get(esc, "team"),
                              "escalation", (json_int_t)jint(esc, "id", 0)));
    }
    json_decref(esc);
    return rc == STORE_OK ? 0 : store_fail(c->svc, body);
}

static const char *const event_statuses[] = {"open", "pending", "resolved",
                                             "reopened", "closed", NULL};

int service_event_add(service *svc, const char *id, json_t *ev, json_t **body)
{
    int status = check_input(svc, ev, body);
    if (status)
        return status;
    const char *type = jstr(ev, "type");
    static const char *const types[] = {"troubleshooting", "escalate", "acknowledge",
                                        "link", "status", "satisfaction", NULL};
    if (!in_list(type, types))
        return fail(body, 422, "invalid_event", "/type",
                    "expected one of troubleshooting escalate acknowledge link "
                    "status satisfaction");
    /* Shape checks that need no stored state come first. */
    if (!strcmp(type, "troubleshooting") && !jstr(ev, "step"))
        return fail(body, 422, "invalid_event", "/step", "required string is missing");
    if (!strcmp(type, "escalate") && !jstr(ev, "reason"))
        return fail(body, 422, "invalid_event", "/reason", "required string is missing");
    if (!strcmp(type, "escalate") && !jstr(ev, "team"))
        return fail(body, 422, "invalid_event", "/team", "required string is missing");
    if (!strcmp(type, "escalate") && !policy_has_team(svc, jstr(ev, "team")))
        return fail(body, 422, "invalid_event", "/team", "'%s' is not a team of the policy",
                    jstr(ev, "team"));
    if (!strcmp(type, "link") && !jstr(ev, "external_ticket"))
        return fail(body, 422, "invalid_event", "/external_ticket",
                    "required string is missing");
    if (!strcmp(type, "status") && !in_list(jstr(ev, "status"), event_statuses))
        return fail(body, 422, "invalid_event", "/status",
                    "expected one of open pending resolved reopened closed");
    json_t *score = json_object_get(ev, "score");
    if (!strcmp(type, "satisfaction") &&
        (!json_is_integer(score) || json_integer_value(score) < 1 ||
         json_integer_value(score) > 5))
        return fail(body, 422, "invalid_event", "/score", "expected a whole number from 1 to 5");

    ctx c;
    status = begin_ticket(svc, id, &c, body);
    if (status)
        return finish(&c, status, 200, false, body);
    c.actor = jstr(ev, "by") ? jstr(ev, "by") : "api";
    int rc = STORE_OK;
    const char *cur = jstr(c.doc, "status") ? jstr(c.doc, "status") : "new";
    if (!strcmp(type, "troubleshooting")) {
        json_t *list = json_object_get(c.doc, "troubleshooting");
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(c.doc, "troubleshooting", list);
        }
        json_t *step = json_pack("{s:s}", "step", jstr(ev, "step"));
        if (jstr(ev, "result"))
            json_object_set(step, "result", json_object_get(ev, "result"));
        json_array_append(list, step);
        rc = log_event(&c, "troubleshooting", step);
    } else if (!strcmp(type, "escalate")) {
        json_t *dec = NULL;
        status = decide(svc, c.doc, c.now, &dec, body);
        if (status)
            return finish(&c, status, 200, false, body);
        c.decision = dec;
        if (!strcmp(cur, "resolved") || !strcmp(cur, "closed"))
            return finish(&c, fail(body, 409, "ticket_closed", "/type",
                                   "ticket '%s' is %s: reopen it first", id, cur),
                          200, false, body);
        char cause[300];
        snprintf(cause, sizeof(cause), "manual: %.280s", jstr(ev, "reason"));
        rc = escalate_to(&c, jstr(ev, "team"), jstr(dec, "priority"),
                         jtime(dec, "respond_by"), cause,
                         json_pack("{s:s, s:s}", "reason", jstr(ev, "reason"), "by",
                                   c.actor));
    } else if (!strcmp(type, "acknowledge")) {
        status = acknowledge(&c, ev, body);
        if (status)
            return finish(&c, status, 200, false, body);
    } else if (!strcmp(type, "link")) {
        json_t *fields = json_object_get(c.doc, "fields");
        if (!json_is_object(fields)) {
            fields = json_object();
            json_object_set_new(c.doc, "fields", fields);
        }
        json_object_set(fields, "external_ticket", json_object_get(ev, "external_ticket"));
        rc = log_event(&c, "external_link",
                       json_pack("{s:O, s:O}", "external_ticket",
                                 json_object_get(ev, "external_ticket"), "system",
                                 json_object_get(ev, "system") ? json_object_get(ev, "system")
                                                               : json_null()));
    } else if (!strcmp(type, "status")) {
        rc = set_status(&c, jstr(ev, "status"));
    } else if (!strcmp(type, "satisfaction")) {
        if (strcmp(cur, "resolved") && strcmp(cur, "closed"))
            return finish(&c, fail(body, 409, "not_resolved", "/type",
                                   "satisfaction is recorded after resolution; "
                                   "ticket '%s' is %s", id, cur),
                          200, false, body);
        rc = log_event(&c, "satisfaction",
                       json_pack("{s:O, s:O}", "score", score, "comment",
                                 json_object_get(ev, "comment") ? json_object_get(ev, "comment")
                                                                : json_null()));
    }
    if (rc != STORE_OK)
        return finish(&c, store_fail(svc, body), 200, false, body);
    status = reevaluate(&c, type, body);
    return finish(&c, status, 200, false, body);
}

int service_ticket_get(service *svc, const char *id, json_t **body)
{
    const store_ops *ops = svc->st->ops;
    json_t *row = NULL, *doc = NULL, *events = NULL, *escs = NULL, *timers = NULL,
           *out = NULL, *e;
    size_t i;
    int status = 200;
    pthread_mutex_lock(&svc->lock);
    int g = load_ticket(svc, id, &row, &doc);
    if (g == STORE_NOTFOUND) {
        status = fail(body, 404, "not_found", "", "no ticket '%s'", id);
        goto done;
    }
    if (g != STORE_OK || ops->events_list(svc->st, id, &events) != STORE_OK ||
        ops->escalations_list(svc->st, id, &escs) != STORE_OK ||
        ops->timers_list(svc->st, id, &timers) != STORE_OK ||
        ops->outbox_list(svc->st, id, &out) != STORE_OK) {
        status = store_fail(svc, body);
        goto done;
    }
    json_array_foreach(escs, i, e)
    {
        json_t *levels = NULL;
        if (ops->levels_list(svc->st, jint(e, "id", 0), &levels) == STORE_OK)
            json_object_set_new(e, "history", levels);
    }
    json_array_foreach(timers, i, e)
    {
        if (!strcmp(jstr(e, "state"), "paused")) {
            json_object_set(e, "remaining_s", json_object_get(e, "due_at"));
            json_object_set_new(e, "due_at", json_null());
        }
    }
    json_t *decision = jstr(row, "decision") ? json_loads(jstr(row, "decision"), 0, NULL)
                                             : NULL;
    json_t *fired = json_loads(jstr(row, "fired"), 0, NULL);
    *body = json_pack("{s:O, s:O, s:O, s:O, s:o, s:o, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
                      "ticket", doc, "status", json_object_get(row, "status"),
                      "level", json_object_get(row, "level"), "priority",
                      json_object_get(row, "priority"), "fired_rules",
                      fired ? fired : json_array(), "decision",
                      decision ? decision : json_null(), "escalations", escs,
                      "timers", timers, "events", events, "notifications", out,
                      "paused_at", json_object_get(row, "paused_at"),
                      "first_response_at", json_object_get(row, "first_response_at"),
                      "resolved_at", json_object_get(row, "resolved_at"),
                      "updated_at", json_object_get(row, "updated_at"));
    json_t *ticket = json_object_get(*body, "ticket");
    json_incref(ticket);
    json_object_del(*body, "ticket");
    present(*body);
    json_object_set_new(*body, "ticket", ticket);
done:
    pthread_mutex_unlock(&svc->lock);
    json_decref(row);
    json_decref(doc);
    json_decref(events);
    json_decref(escs);
    json_decref(timers);
    json_decref(out);
    return status;
}

int service_queue(service *svc, const char *team, json_t **body)
{
    json_t *rows = NULL, *r;
    size_t i;
    pthread_mutex_lock(&svc->lock);
    int64_t now = service_now(svc);
    int rc = svc->st->ops->queue_list(svc->st, team, &rows);
    pthread_mutex_unlock(&svc->lock);
    if (rc != STORE_OK)
        return store_fail(svc, body);
    json_array_foreach(rows, i, r)
    {
        int64_t rb = jint(r, "respond_by", -1), opened = jint(r, "opened_at", now);
        int64_t paused = jint(r, "paused_at", -1);
        int64_t warn = opened + (int64_t)((double)(rb - opened) * svc->cfg->warn_share);
        const char *state = "none";
        if (paused >= 0)
            state = "paused";
        else if (rb >= 0 && now > rb)
            state = "breached";
        else if (rb >= 0 && svc->cfg->warn_share > 0 && now >= warn)
            state = "warning";
        else if (rb >= 0)
            state = "ok";
        json_object_set_new(r, "breach", json_string(state));
        json_object_set_new(r, "seconds_left",
                            rb >= 0 && paused < 0 ? json_integer(rb - now) : json_null());
        json_object_set_new(r, "acknowledged",
                            json_boolean(!json_is_null(json_object_get(r, "acknowledged_at"))));
    }
    present(rows);
    *body = json_pack("{s:o, s:o, s:o}", "team", team ? json_string(team) : json_null(),
                      "now", time_json(now), "tickets", rows);
    return 200;
}

static json_t *ratio(int64_t a, int64_t b)
{
    return b > 0 ? json_real((double)a / (double)b) : json_null();
}

int service_metrics_summary(service *svc, json_t **body)
{
    json_t *m = NULL, *l;
    size_t i;
    pthread_mutex_lock(&svc->lock);
    int rc = svc->st->ops->metrics(svc->st, &m);
    pthread_mutex_unlock(&svc->lock);
    if (rc != STORE_OK)
        return store_fail(svc, body);
    int64_t tickets = jint(m, "tickets", 0), met = 0, breached = 0;
    json_object_set_new(m, "escalation_rate", ratio(jint(m, "escalated_tickets", 0), tickets));
    json_object_set_new(m, "resolution_rate", ratio(jint(m, "resolved", 0), tickets));
    json_array_foreach(json_object_get(m, "levels"), i, l)
    {
        json_object_set_new(l, "resolution_rate",
                            ratio(jint(l, "resolved", 0), jint(l, "entered", 0)));
        met += jint(l, "sla_met", 0);
        breached += jint(l, "sla_breached", 0);
    }
    json_object_set_new(m, "sla_met", json_integer(met));
    json_object_set_new(m, "sla_breached", json_integer(breached));
    json_object_set_new(m, "sla_compliance", ratio(met, met + breached));
    *body = m;
    return 200;
}

char *service_metrics_text(service *svc)
{
    size_t pending;
    int64_t tickets = 0;
    pthread_mutex_lock(&svc->lock);
    pending = svc->heap.len;
    svc->st->ops->ticket_count(svc->st, &tickets);
    pthread_mutex_unlock(&svc->lock);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
#define COUNTER(name, help, field)                                              \
    fprintf(f, "# HELP escalator_" name " " help "\n# TYPE escalator_" name      \
               " counter\nescalator_" name " %" PRIu64 "\n",                     \
            (uint64_t)atomic_load(&svc->field))
    COUNTER("decisions_total", "Decisions made.", n_decisions);
    COUNTER("escalations_total", "Escalations opened.", n_escalations);
    COUNTER("level_changes_total", "Escalations moved to another level.", n_level_changes);
    COUNTER("sla_breaches_total", "Response deadlines breached.", n_breaches);
    COUNTER("sla_warnings_total", "Pre-breach warnings.", n_warnings);
    COUNTER("follow_ups_total", "Follow-up reminders fired.", n_follow_ups);
    COUNTER("ack_timeouts_total", "Acknowledgement timeouts.", n_ack_timeouts);
    COUNTER("timers_fired_total", "Timers fired.", n_timers_fired);
    COUNTER("policy_reloads_total", "Policy reloads that took effect.", n_reloads);
    COUNTER("policy_reload_failures_total", "Policy reloads refused.", n_reload_failures);
#undef COUNTER
    fprintf(f, "# HELP escalator_timers_pending Timers waiting in the heap.\n"
               "# TYPE escalator_timers_pending gauge\nescalator_timers_pending %zu\n",
            pending);
    fprintf(f, "# HELP escalator_tickets Tickets stored.\n"
               "# TYPE escalator_tickets gauge\nescalator_tickets %" PRId64 "\n",
            tickets);
    fclose(f);
    return out;
}

int service_reload(service *svc, json_t **body)
{
    esc_policy *p = NULL;
    if (load_policy(svc, &p, body) != 0) {
        atomic_fetch_add(&svc->n_reload_failures, 1);
        return 422;
    }
    json_t *rules = rule_map(p);
    char *dump = esc_policy_dump(p);
    json_t *info = notify_policy_info(dump);
    free(dump);
    pthread_mutex_lock(&svc->policy_lock);
    esc_policy *old = svc->policy;
    json_t *old_rules = svc->rules, *old_info = svc->notify_info;
    svc->policy = p;
    svc->rules = rules;
    svc->notify_info = info;
    svc->policy_gen++;
    uint64_t gen = svc->policy_gen;
    pthread_mutex_unlock(&svc->policy_lock);
    /* Engines still evaluating with the old policy hold their own
     * references; the last one frees it. */
    esc_policy_unref(&old);
    json_decref(old_rules);
    json_decref(old_info);
    atomic_fetch_add(&svc->n_reloads, 1);
    fprintf(stderr, "escalator serve: policy %s reloaded (%s)\n", svc->cfg->policy,
            esc_policy_name(p));
    *body = json_pack("{s:s, s:s, s:I}", "policy", esc_policy_name(p), "file",
                      svc->cfg->policy, "generation", (json_int_t)gen);
    return 200;
}

/* ---- firing timers ---------------------------------------------------------- */

/* Applies one due timer; the service lock is held. */
static void fire(service *svc, const char *ticket, const char *cause)
{
    const store_ops *ops = svc->st->ops;
    json_t *t = NULL, *esc = NULL, *body = NULL;
    ctx c = {.svc = svc, .id = ticket, .actor = "timer"};
    c.now = service_now(svc);
    int64_t e = 0, n = 0, k = 0;
    int rc = ops->begin(svc->st);
    if (rc != STORE_OK)
        goto out;
    if (ops->timer_get(svc->st, ticket, cause, &t) != STORE_OK ||
        strcmp(jstr(t, "state"), "armed") || jint(t, "due_at", 0) > c.now)
        goto out; /* stale heap entry */
    int64_t due = jint(t, "due_at", 0);
    rc = ops->timer_set(svc->st, ticket, cause, "fired", due);
    if (rc == STORE_OK)
        rc = load_ticket(svc, ticket, &c.row, &c.doc);
    if (rc != STORE_OK)
        goto out;
    atomic_fetch_add(&svc->n_timers_fired, 1);
    const char *colon = strchr(cause, ':');
    sscanf(colon ? colon + 1 : "", "%" SCNd64 ".%" SCNd64 ".%" SCNd64, &e, &n, &k);
    int g = ops->escalation_open_get(svc->st, ticket, &esc);
    bool current = g == STORE_OK && jint(esc, "id", 0) == e && jint(esc, "levels", 0) == n;
    /* fired_ms: when it fired on the real clock, in milliseconds (the fire
     * lag is fired_ms - 1000 * due_at on the real clock). */
    struct timespec fired;
    clock_gettime(CLOCK_REALTIME, &fired);
    json_t *data = json_pack("{s:s, s:I, s:O, s:I}", "cause", cause, "due_at", (json_int_t)due,
                             "team", current ? json_object_get(esc, "team") : json_null(),
                             "fired_ms", (json_int_t)fired.tv_sec * 1000 + fired.tv_nsec / 1000000);
    if (has_prefix(cause, "warn:") || has_prefix(cause, "respond:")) {
        json_t *td = json_loads(jstr(t, "data") ? jstr(t, "data") : "{}", 0, NULL);
        if (json_is_integer(json_object_get(td, "respond_by")))
            json_object_set(data, "respond_by", json_object_get(td, "respond_by"));
        json_decref(td);
    }
    char key[128];
    snprintf(key, sizeof(key), "%s", cause);

    if (!current) {
        json_decref(data); /* the level it was armed for is over */
    } else if (has_prefix(cause, "warn:")) {
        atomic_fetch_add(&svc->n_warnings, 1);
        rc = log_event(&c, "sla_warning", json_incref(data));
        if (rc == STORE_OK)
            rc = outbox(&c, "sla_warning", key, data);
        else
            json_decref(data);
    } else if (has_prefix(cause, "respond:")) {
        atomic_fetch_add(&svc->n_breaches, 1);
        rc = ops->level_mark(svc->st, e, "breached_at", c.now);
        if (rc == STORE_OK)
            rc = log_event(&c, "sla_breach", json_incref(data));
        if (rc == STORE_OK)
            rc = outbox(&c, "sla_breach", key, data);
        else
            json_decref(data);
        /* The policy sees the breach in its facts and may escalate further. */
        if (rc == STORE_OK && reevaluate(&c, "sla_breach", &body) != 0)
            rc = STORE_ERROR;
    } else if (has_prefix(cause, "follow_up:")) {
        atomic_fetch_add(&svc->n_follow_ups, 1);
        json_t *tdata = json_loads(jstr(t, "data") ? jstr(t, "data") : "{}", 0, NULL);
        json_object_set(data, "follow_up_team", json_object_get(tdata, "team"));
        json_decref(tdata);
        rc = log_event(&c, "follow_up", json_incref(data));
        if (rc == STORE_OK)
            rc = outbox(&c, "follow_up", key, data);
        else
            json_decref(data);
    } else if (has_prefix(cause, "ack:") && strcmp(jstr(esc, "state"), "open") == 0) {
        atomic_fetch_add(&svc->n_ack_timeouts, 1);
        int64_t repeats = jint(esc, "ack_repeats", 0) + 1;
        json_object_set_new(esc, "ack_repeats", json_integer(repeats));
        const char *team = jstr(esc, "team"), *next = NULL;
        for (size_t i = 0; i + 1 < svc->nchain; i++)
            if (!strcmp(svc->chain[i], team))
                next = svc->chain[i + 1];
        json_object_set_new(data, "repeat", json_integer(repeats));
        json_object_set_new(data, "to", next ? json_string(next) : json_string(team));
        rc = ops->escalation_put(svc->st, esc);
        if (rc == STORE_OK)
            rc = log_event(&c, "ack_timeout", json_incref(data));
        if (rc == STORE_OK)
            rc = outbox(&c, "ack_timeout", key, data);
        else
            json_decref(data);
        if (rc == STORE_OK && next) {
            /* Up the chain, with the same response window as the level
             * it leaves. */
            int64_t window = jint(esc, "respond_by", -1) > 0
                                 ? jint(esc, "respond_by", 0) - (due - svc->cfg->ack_timeout)
                                 : -1;
            char why[160];
            snprintf(why, sizeof(why), "ack_timeout: %s did not acknowledge", team);
            rc = escalate_to(&c, next, NULL, window > 0 ? c.now + window : -1, why,
                             json_pack("{s:I}", "repeat", (json_int_t)repeats));
        } else if (rc == STORE_OK) {
            /* Nobody above: remind the same level again, a bounded number
             * of times. */
            rc = arm_ack(&c, esc, c.now);
        }
        if (rc == STORE_OK)
            rc = save_ticket(&c);
    } else {
        json_decref(data);
    }
out:
    if (rc == STORE_OK && ops->commit(svc->st) != STORE_OK)
        rc = STORE_ERROR;
    if (rc == STORE_OK)
        notifier_wake(svc->notifier);
    if (rc != STORE_OK) {
        fprintf(stderr, "escalator serve: timer %s %s: %s\n", ticket, cause,
                ops->errmsg(svc->st));
        ops->rollback(svc->st);
    }
    json_decref(t);
    json_decref(esc);
    json_decref(body);
    ctx_free(&c);
}

/* Fires every timer due by now; the service lock is held. Returns how many
 * heap entries were looked at. */
static int run_due(service *svc)
{
    int n = 0;
    const timer_entry *top;
    while ((top = timer_heap_peek(&svc->heap)) && top->due <= service_now(svc)) {
        timer_entry e;
        timer_heap_pop(&svc->heap, &e);
        fire(svc, e.ticket, e.cause);
        timer_entry_free(&e);
        n++;
    }
    return n;
}

static void *timer_main(void *arg)
{
    service *svc = arg;
    pthread_mutex_lock(&svc->lock);
    while (!svc->stopping) {
        run_due(svc);
        const timer_entry *top = timer_heap_peek(&svc->heap);
        if (svc->manual || !top) {
            pthread_cond_wait(&svc->wake, &svc->lock);
        } else {
            struct timespec ts = {.tv_sec = (time_t)top->due, .tv_nsec = 0};
            pthread_cond_timedwait(&svc->wake, &svc->lock, &ts);
        }
    }
    pthread_mutex_unlock(&svc->lock);
    return NULL;
}

int service_start_timers(service *svc)
{
    if (pthread_create(&svc->timer_thread, NULL, timer_main, svc) != 0)
        return -1;
    svc->timer_running = true;
    return notifier_start(svc->notifier);
}

int service_clock(service *svc, json_t *req, json_t **body)
{
    if (!svc->manual)
        return fail(body, 409, "clock_not_manual", "",
                    "the server runs on the real clock (start it with --clock=manual)");
    if (!json_is_object(req))
        return fail(body, 422, "invalid_request", "", "expected a JSON object");
    int64_t now = atomic_load(&svc->manual_now), to;
    const char *adv = jstr(req, "advance"), *at = jstr(req, "now");
    if (adv) {
        int64_t d = config_parse_duration(adv);
        if (d < 0)
            return fail(body, 422, "invalid_request", "/advance",
                        "expected a duration such as 90s, 15m or 1h30m");
        to = now + d;
    } else if (at) {
        if (esc_time_parse(at, &to) != 0)
            return fail(body, 422, "invalid_request", "/now", "expected an RFC 3339 time");
        if (to < now)
            return fail(body, 422, "invalid_request", "/now",
                        "the clock does not go backwards");
    } else {
        return fail(body, 422, "invalid_request", "",
                    "expected \"advance\" (a duration) or \"now\" (a time)");
    }
    pthread_mutex_lock(&svc->lock);
    /* Step through the due times in order, so that each timer sees the
     * clock at its own due time and what it arms fires in turn. */
    int fired = 0;
    for (;;) {
        const timer_entry *top = timer_heap_peek(&svc->heap);
        if (!top || top->due > to)
            break;
        if (top->due > atomic_load(&svc->manual_now))
            atomic_store(&svc->manual_now, top->due);
        timer_entry e;
        timer_heap_pop(&svc->heap, &e);
        fire(svc, e.ticket, e.cause);
        timer_entry_free(&e);
        fired++;
    }
    atomic_store(&svc->manual_now, to);
    pthread_mutex_unlock(&svc->lock);
    *body = json_pack("{s:o, s:i}", "now", time_json(to), "timers_checked", fired);
    return 200;
}

int service_seed(service *svc, const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "escalator serve: seed: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int imported = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        char path[4096];
        if (len > 5 && !strcmp(name + len - 5, ".json")) {
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            json_error_t jerr;
            json_t *doc = json_load_file(path, 0, &jerr), *row = NULL, *body = NULL;
            const char *id = doc ? jstr(doc, "id") : NULL;
            pthread_mutex_lock(&svc->lock);
            int g = id ? svc->st->ops->ticket_get(svc->st, id, &row) : STORE_ERROR;
            pthread_mutex_unlock(&svc->lock);
            json_decref(row);
            if (g == STORE_NOTFOUND) {
                int status = service_ticket_put(svc, doc, &body);
                if (status >= 300) {
                    char *t = json_dumps(body, JSON_COMPACT);
                    fprintf(stderr, "escalator serve: seed: %s: %s\n", path, t ? t : "");
                    free(t);
                } else {
                    imported++;
                }
            } else if (!doc) {
                fprintf(stderr, "escalator serve: seed: %s:%d:%d: %s\n", path,
                        jerr.line, jerr.column, jerr.text);
            }
            json_decref(body);
            json_decref(doc);
        }
        free(names[i]);
    }
    free(names);
    if (imported)
        fprintf(stderr, "escalator serve: seed: %d tickets imported from %s\n",
                imported, dir);
    return 0;
}

/* ---- life cycle ----------------------------------------------------------- */

static int split_chain(service *svc, const char *s)
{
    char *copy = strdup(s ? s : ""), *save = NULL;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char **grown = realloc(svc->chain, (svc->nchain + 1) * sizeof(*grown));
        if (!grown) {
            free(copy);
            return -1;
        }
        svc->chain = grown;
        svc->chain[svc->nchain++] = strdup(tok);
        if (!policy_has_team(svc, tok))
            fprintf(stderr, "escalator serve: warning: ack_chain: '%s' is not a "
                            "team of the policy\n", tok);
    }
    free(copy);
    return 0;
}

/* One armed timer read at start-up into the heap. */
static int load_timer(void *arg, const char *ticket, const char *cause, int64_t due)
{
    return timer_heap_push(arg, due, ticket, cause);
}

service *service_new(const server_config *cfg)
{
    service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return NULL;
    svc->cfg = cfg;
    pthread_mutex_init(&svc->lock, NULL);
    pthread_cond_init(&svc->wake, NULL);
    pthread_mutex_init(&svc->policy_lock, NULL);
    pthread_key_create(&svc->engine_key, slot_free);
    timer_heap_init(&svc->heap);
    svc->manual = !strcmp(cfg->clock, "manual");
    atomic_store(&svc->manual_now, cfg->clock_start ? cfg->clock_start : (int64_t)time(NULL));

    if (load_policy(svc, &svc->policy, NULL) != 0) {
        service_free(&svc);
        return NULL;
    }
    svc->policy_gen = 1;
    svc->rules = rule_map(svc->policy);
    char *dump = esc_policy_dump(svc->policy);
    svc->notify_info = notify_policy_info(dump);
    free(dump);
    split_chain(svc, cfg->ack_chain);
    char err[600];
    svc->st = store_sqlite_open(cfg->db, cfg->synchronous, err, sizeof(err));
    if (!svc->st) {
        fprintf(stderr, "escalator serve: store: %s\n", err);
        service_free(&svc);
        return NULL;
    }
    /* The delivery worker, with its own connection to the database. */
    if (!(svc->notifier = notifier_new(cfg))) {
        service_free(&svc);
        return NULL;
    }
    /* The timers armed before the last stop, then those already due. */
    if (svc->st->ops->timers_armed_each(svc->st, load_timer, &svc->heap) != STORE_OK) {
        fprintf(stderr, "escalator serve: store: %s\n", svc->st->ops->errmsg(svc->st));
        service_free(&svc);
        return NULL;
    }
    pthread_mutex_lock(&svc->lock);
    size_t loaded = svc->heap.len;
    int fired = run_due(svc);
    pthread_mutex_unlock(&svc->lock);
    fprintf(stderr, "escalator serve: %zu timers loaded, %d due at start-up\n",
            loaded, fired);
    return svc;
}

void service_free(service **psvc)
{
    service *svc = *psvc;
    if (!svc)
        return;
    if (svc->timer_running) {
        pthread_mutex_lock(&svc->lock);
        svc->stopping = true;
        pthread_cond_signal(&svc->wake);
        pthread_mutex_unlock(&svc->lock);
        pthread_join(svc->timer_thread, NULL);
    }
    notifier_free(&svc->notifier);
    if (svc->st)
        svc->st->ops->close(svc->st);
    timer_heap_free(&svc->heap);
    engine_slot *mine = pthread_getspecific(svc->engine_key);
    slot_free(mine);
    pthread_setspecific(svc->engine_key, NULL);
    pthread_key_delete(svc->engine_key);
    esc_policy_unref(&svc->policy);
    json_decref(svc->rules);
    json_decref(svc->notify_info);
    for (size_t i = 0; i < svc->nchain; i++)
        free(svc->chain[i]);
    free(svc->chain);
    pthread_mutex_destroy(&svc->lock);
    pthread_cond_destroy(&svc->wake);
    pthread_mutex_destroy(&svc->policy_lock);
    free(svc);
    *psvc = NULL;
}

/* ---- notifications (src/notify/) ------------------------------------------ */

static json_t *ms_time(json_t *v)
{
    return json_is_integer(v) ? time_json(json_integer_value(v) / 1000) : json_null();
}

/* A deliveries row as the API shows it. */
static json_t *delivery_json(json_t *r)
{
    json_t *msg = jstr(r, "message") ? json_loads(jstr(r, "message"), 0, NULL) : NULL;
    const char *state = jstr(r, "state");
    bool waiting = state && (!strcmp(state, "pending") || !strcmp(state, "held"));
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o, s:o, s:o, s:o, "
                     "s:O, s:O, s:o}",
                     "id", json_object_get(r, "id"), "idempotency_key",
                     json_object_get(r, "idempotency_key"), "ticket",
                     json_object_get(r, "ticket_id"), "event", json_object_get(r, "event"),
                     "channel", json_object_get(r, "channel"), "to",
                     json_object_get(r, "recipient"), "state", json_object_get(r, "state"),
                     "attempts", json_object_get(r, "attempts"), "last_error",
                     json_object_get(r, "last_error"), "created_at",
                     time_json(jint(r, "created_at", 0)), "next_attempt_at",
                     waiting ? ms_time(json_object_get(r, "next_attempt_ms")) : json_null(),
                     "sent_at", ms_time(json_object_get(r, "sent_ms")), "delivered_at",
                     ms_time(json_object_get(r, "delivered_ms")), "digest_id",
                     json_object_get(r, "digest_id"), "cause",
                     json_object_get(r, "outbox_key"), "message",
                     msg ? msg : json_null());
}

static const char *const delivery_states[] = {"pending", "sending", "delivered", "held",
                                              "digested", "returned", "failed", NULL};

int service_notifications_list(service *svc, json_t *query, json_t **body)
{
    const char *state = jstr(query, "state"), *limit_s = jstr(query, "limit");
    const char *after_s = jstr(query, "after");
    if (state && !in_list(state, delivery_states))
        return fail(body, 422, "invalid_request", "state",
                    "expected one of pending sending delivered held digested returned failed");
    long long limit = 100, after = 0;
    char *end;
    if (limit_s && ((limit = strtoll(limit_s, &end, 10)) < 1 || limit > 1000 || *end))
        return fail(body, 422, "invalid_request", "limit", "expected a whole number from 1 to 1000");
    if (after_s && ((after = strtoll(after_s, &end, 10)) < 0 || *end))
        return fail(body, 422, "invalid_request", "after", "expected a delivery id");
    json_t *filter = json_pack("{s:I, s:I}", "limit", (json_int_t)limit, "after_id",
                               (json_int_t)after);
    static const char *const keys[] = {"state", "ticket", "channel", "to", "event"};
    static const char *const cols[] = {"state", "ticket", "channel", "recipient", "event"};
    for (int i = 0; i < 5; i++)
        if (jstr(query, keys[i]))
            json_object_set(filter, cols[i], json_object_get(query, keys[i]));
    json_t *rows = NULL, *r;
    size_t i;
    pthread_mutex_lock(&svc->lock);
    int rc = svc->st->ops->deliveries_list(svc->st, filter, &rows);
    pthread_mutex_unlock(&svc->lock);
    json_decref(filter);
    if (rc != STORE_OK)
        return store_fail(svc, body);
    json_t *list = json_array();
    json_array_foreach(rows, i, r) json_array_append_new(list, delivery_json(r));
    json_decref(rows);
    *body = json_pack("{s:o, s:I}", "notifications", list, "count",
                      (json_int_t)json_array_size(list));
    return 200;
}

static int delivery_id(const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0)
        return -1;
    *id = v;
    return 0;
}

int service_notification_get(service *svc, const char *sid, json_t **body)
{
    int64_t id;
    json_t *row = NULL;
    if (delivery_id(sid, &id) != 0)
        return fail(body, 404, "not_found", "", "no notification '%s'", sid);
    pthread_mutex_lock(&svc->lock);
    int rc = svc->st->ops->delivery_get(svc->st, id, &row);
    pthread_mutex_unlock(&svc->lock);
    if (rc == STORE_NOTFOUND)
        return fail(body, 404, "not_found", "", "no notification '%s'", sid);
    if (rc != STORE_OK)
        return store_fail(svc, body);
    *body = delivery_json(row);
    json_decref(row);
    return 200;
}

int service_notification_resend(service *svc, const char *sid, json_t **body)
{
    int64_t id;
    json_t *row = NULL;
    if (delivery_id(sid, &id) != 0)
        return fail(body, 404, "not_found", "", "no notification '%s'", sid);
    const store_ops *ops = svc->st->ops;
    pthread_mutex_lock(&svc->lock);
    int rc = ops->begin(svc->st);
    if (rc == STORE_OK)
        rc = ops->delivery_get(svc->st, id, &row);
    int status = 0;
    if (rc == STORE_NOTFOUND) {
        status = fail(body, 404, "not_found", "", "no notification '%s'", sid);
    } else if (rc != STORE_OK) {
        status = store_fail(svc, body);
    } else if (!in_list(jstr(row, "state"), (const char *const[]){"failed", "delivered",
                                                                  "returned", NULL})) {
        status = fail(body, 409, "not_resendable", "",
                      "notification %s is %s: only failed or delivered ones are sent again",
                      sid, jstr(row, "state"));
    } else {
        char was[600];
        snprintf(was, sizeof(was), "%s", jstr(row, "state"));
        json_object_set_new(row, "state", json_string("pending"));
        json_object_set_new(row, "attempts", json_integer(0));
        json_object_set_new(row, "next_attempt_ms", json_integer(notify_now_ms()));
        json_object_set_new(row, "updated_ms", json_integer(notify_now_ms()));
        rc = ops->delivery_update(svc->st, row);
        json_t *data = json_pack("{s:I, s:O, s:O, s:s, s:O}", "notification", (json_int_t)id,
                                 "channel", json_object_get(row, "channel"), "to",
                                 json_object_get(row, "recipient"), "was", was,
                                 "last_error", json_object_get(row, "last_error"));
        if (rc == STORE_OK)
            rc = ops->event_add(svc->st, jstr(row, "ticket_id"), service_now(svc),
                                "notification_resent", "admin", data);
        json_decref(data);
        if (rc == STORE_OK)
            rc = ops->commit(svc->st);
        if (rc != STORE_OK)
            status = store_fail(svc, body);
    }
    if (status)
        ops->rollback(svc->st);
    pthread_mutex_unlock(&svc->lock);
    if (!status) {
        notifier_wake(svc->notifier);
        *body = delivery_json(row);
        status = 200;
    }
    json_decref(row);
    return status;
}

int service_inbound_zendesk(service *svc, const char *signature, const char *timestamp,
                            const char *raw, size_t len, json_t **body)
{
    const char *secret = svc->cfg->inbound_secret;
    if (!secret || !*secret)
        return fail(body, 404, "not_found", "",
                    "inbound webhooks are off: set inbound_secret");
    if (!signature || !timestamp)
        return fail(body, 401, "invalid_signature", "",
                    "missing X-Zendesk-Webhook-Signature and its timestamp");
    if (!notify_zendesk_verify(secret, timestamp, raw ? raw : "", len, signature))
        return fail(body, 401, "invalid_signature", "",
                    "the signature does not match the body and timestamp");
    /* The signed timestamp bounds replays, on the real clock. */
    int64_t ts = 0;
    char *end;
    if (esc_time_parse(timestamp, &ts) != 0) {
        ts = strtoll(timestamp, &end, 10);
        if (*end)
            ts = 0;
    }
    int64_t tol = svc->cfg->inbound_tolerance, now = (int64_t)time(NULL);
    if (tol > 0 && (ts <= 0 || ts < now - tol || ts > now + tol))
        return fail(body, 401, "stale_signature", "",
                    "the signed timestamp is outside inbound_tolerance");
    json_error_t jerr;
    json_t *payload = json_loadb(raw ? raw : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!payload)
        return fail(body, 400, "invalid_json", "", "line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
    char ticket[160] = "", err[300] = "";
    const char *where = "";
    json_t *op_body = NULL;
    int op = notify_zendesk_map(payload, ticket, sizeof(ticket), &op_body, err, sizeof(err),
                                &where);
    const char *eid = jstr(payload, "id");
    const char *type = jstr(payload, "type") ? jstr(payload, "type") : "";
    int status;
    if (op < 0) {
        status = fail(body, 422, "invalid_request", where, "%s", err);
        json_decref(payload);
        return status;
    }
    /* Zendesk retries a webhook it did not see answered: the same event id
     * is applied once. */
    char key[300];
    snprintf(key, sizeof(key), "zendesk:%s", eid ? eid : "");
    pthread_mutex_lock(&svc->lock);
    int seen = eid ? svc->st->ops->inbound_seen(svc->st, key) : STORE_NOTFOUND;
    pthread_mutex_unlock(&svc->lock);
    if (seen == STORE_OK || op == INBOUND_IGNORE) {
        *body = json_pack("{s:s, s:s, s:b}", "event", type, "ticket", ticket, "applied", 0);
        json_decref(op_body);
        json_decref(payload);
        return 200;
    }
    json_t *res = NULL;
    if (op == INBOUND_TICKET) {
        json_t *row = NULL;
        pthread_mutex_lock(&svc->lock);
        int g = svc->st->ops->ticket_get(svc->st, ticket, &row);
        pthread_mutex_unlock(&svc->lock);
        json_decref(row);
        if (g == STORE_OK) {
            status = 200; /* created before: its later events carry the changes */
            res = json_pack("{s:s}", "ticket", ticket);
        } else {
            status = service_ticket_put(svc, op_body, &res);
        }
    } else if (op == INBOUND_MESSAGE) {
        status = service_message_add(svc, ticket, op_body, &res);
    } else {
        status = service_event_add(svc, ticket, op_body, &res);
    }
    json_decref(op_body);
    if (status < 300 && eid) {
        pthread_mutex_lock(&svc->lock);
        if (svc->st->ops->inbound_add(svc->st, key, "zendesk", service_now(svc)) == STORE_ERROR)
            fprintf(stderr, "escalator serve: inbound: %s\n", svc->st->ops->errmsg(svc->st));
        pthread_mutex_unlock(&svc->lock);
    }
    if (status < 300) {
        *body = json_pack("{s:s, s:s, s:b, s:o}", "event", type, "ticket", ticket, "applied",
                          1, "result", res ? res : json_null());
    } else {
        *body = res;
    }
    json_decref(payload);
    return status;
}
