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
 *   resolve:E       the resolution target of escalation E (the decision's
 *                   resolve_by; an earlier one from a later decision moves it)
 *
 * Durations the service computes itself (the warning point, what is left of
 * a paused clock, the acknowledgement window) are counted in the calendar of
 * the deadline they belong to, as the engine counts respond_by.
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

/* Policy maps are shared between threads by reference (see outbox()). */
#ifndef JANSSON_THREAD_SAFE_REFCOUNT
#error "jansson without atomic reference counts"
#endif
#include "../core/ticket.h"
#include "../core/util.h"
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

    /* Group commit (see "transactions and responses"): the requests whose
     * work waits in the open batch, and how many writers wait for the lock
     * to add theirs. */
    pthread_mutex_t batch_lock; /* the waiters' done flags */
    pthread_cond_t batch_done;
    struct batch_waiter *batch;
    _Atomic int writers_queued;
    _Atomic uint64_t n_batches, n_batched_writes;

    /* Read-only store handles for the GET requests, reused. */
    pthread_mutex_t readers_lock;
    store **readers;
    size_t nreaders, readers_cap;
    timer_heap heap;
    pthread_t timer_thread;
    bool timer_running;
    bool stopping;

    /* Response deadlines decided ahead (prepare_main): key "ticket\ncause"
     * -> [due, policy generation, the row's revision, document, decision,
     * decision text, the breach's "decision" event data as text]. */
    pthread_mutex_t prep_lock;
    pthread_cond_t prep_wake;
    json_t *prepared;
    /* What the timer thread is done with and the deciding thread frees:
     * the decision trees and documents of its firings (prep_lock). */
    json_t *spent;
    pthread_t prep_thread;
    bool prep_running, prep_stop;

    pthread_mutex_t policy_lock;
    esc_policy *policy;
    uint64_t policy_gen;
    pthread_key_t engine_key; /* each thread's engine_slot */
    json_t *rules; /* rule id -> {targets, escalate, next_tier}, from the dump */
    json_t *notify_info; /* notify_policy_info() of the policy, from the dump */
    json_t *clocks; /* clock_map() of the policy: teams, priorities, chain */
    notifier *notifier;  /* delivers the outbox (src/notify/) */

    bool manual;
    _Atomic int64_t manual_now;

    _Atomic uint64_t n_decisions, n_escalations, n_level_changes, n_breaches,
        n_warnings, n_follow_ups, n_ack_timeouts, n_timers_fired, n_reloads,
        n_reload_failures, n_resolution_breaches, n_prepared;
};

typedef struct ctx {
    service *svc;
    const char *id;
    json_t *row; /* the tickets row */
    json_t *doc; /* the ticket document, messages included */
    json_t *decision;
    char *decision_text; /* the engine's JSON of decision, when it made it */
    json_t *probe; /* a decision already made on this document at `now` */
    char *probe_text;
    char *probe_event; /* its "decision" event's data for a breach, as text */
    int64_t now;
    const char *actor;
    /* Where a write's answer wants the engine's text of the decision,
     * instead of the decision in its body; NULL: in the body. */
    char **decision_out;
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
           !strcmp(k, "respond_by") || !strcmp(k, "resolve_by");
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
static json_t *rule_map(json_t *d)
{
    json_t *map = json_object(), *r;
    size_t i;
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
    return map;
}

static json_t *dump_seconds(json_t *o, const char *key)
{
    int64_t d = config_parse_duration(jstr(o, key));
    return d >= 0 ? json_integer(d) : json_null();
}

/* What the clocks need from the policy's compiled form: for each team its
 * tier, calendar and windows, for each priority its calendar and windows
 * (seconds, null when unset), and the acknowledgement chain: the ack_chain
 * setting, or else the teams that have a tier, lowest tier first. */
static json_t *clock_map(service *svc, json_t *d)
{
    json_t *teams = json_object(), *prios = json_object(), *chain = json_array(), *t;
    size_t i;
    static const char *const windows[] = {"respond_within", "resolve_within",
                                          "acknowledge_within", NULL};
    json_array_foreach(json_object_get(d, "teams"), i, t)
    {
        json_t *info = json_pack("{s:O, s:O}", "tier",
                                 json_object_get(t, "tier") ? json_object_get(t, "tier")
                                                            : json_null(),
                                 "calendar", json_object_get(t, "calendar"));
        for (int w = 0; windows[w]; w++)
            json_object_set_new(info, windows[w], dump_seconds(t, windows[w]));
        json_object_set_new(teams, jstr(t, "id"), info);
    }
    json_array_foreach(json_object_get(d, "priorities"), i, t)
    {
        json_t *info = json_pack("{s:O}", "calendar", json_object_get(t, "calendar"));
        for (int w = 0; windows[w]; w++)
            json_object_set_new(info, windows[w], dump_seconds(t, windows[w]));
        json_object_set_new(prios, jstr(t, "id"), info);
    }
    const char *setting = svc->cfg->ack_chain ? svc->cfg->ack_chain : "";
    if (*setting) {
        char *copy = strdup(setting), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok;
             tok = strtok_r(NULL, ", ", &save)) {
            if (!json_object_get(teams, tok))
                fprintf(stderr, "escalator serve: warning: ack_chain: '%s' is not a "
                                "team of the policy\n", tok);
            json_array_append_new(chain, json_string(tok));
        }
        free(copy);
    } else {
        /* Teams by tier; among teams of one tier, the first in the file. */
        for (int tier = 1; tier <= 100; tier++) {
            json_array_foreach(json_object_get(d, "teams"), i, t)
            {
                if (jint(t, "tier", 0) == tier) {
                    json_array_append_new(chain, json_string(jstr(t, "id")));
                    break;
                }
            }
        }
    }
    return json_pack("{s:o, s:o, s:o}", "teams", teams, "priorities", prios, "chain",
                     chain);
}

/* The maps of a policy, from one dump. */
static int policy_maps(service *svc, const esc_policy *p, json_t **rules,
                       json_t **clocks, json_t **info)
{
    char *dump = esc_policy_dump(p);
    json_t *d = dump ? json_loads(dump, 0, NULL) : NULL;
    if (!d) {
        free(dump);
        return -1;
    }
    *rules = rule_map(d);
    *clocks = clock_map(svc, d);
    *info = notify_policy_info(dump);
    json_decref(d);
    free(dump);
    return 0;
}

/* ---- business time ---------------------------------------------------------- */

/* A team's or a priority's clock setting (NULL when unknown), read under the
 * policy lock and copied out. */
static int64_t clock_secs(service *svc, const char *kind, const char *id,
                          const char *window)
{
    pthread_mutex_lock(&svc->policy_lock);
    json_t *v = id ? json_object_get(json_object_get(json_object_get(svc->clocks, kind),
                                                     id),
                                     window)
                   : NULL;
    int64_t secs = json_is_integer(v) ? json_integer_value(v) : -1;
    pthread_mutex_unlock(&svc->policy_lock);
    return secs;
}

static void clock_calendar(service *svc, const char *kind, const char *id, char *out,
                           size_t size)
{
    pthread_mutex_lock(&svc->policy_lock);
    const char *cal = id ? jstr(json_object_get(json_object_get(svc->clocks, kind), id),
                                "calendar")
                         : NULL;
    snprintf(out, size, "%s", cal ? cal : "");
    pthread_mutex_unlock(&svc->policy_lock);
}

/* The calendar that a window of the policy is counted in, as the engine
 * counts it: the priority's when the priority sets the window, else the
 * team's. */
static void window_calendar(service *svc, const char *priority, const char *team,
                            const char *window, char *out, size_t size)
{
    if (clock_secs(svc, "priorities", priority, window) >= 0 || !team)
        clock_calendar(svc, "priorities", priority, out, size);
    else
        clock_calendar(svc, "teams", team, out, size);
}

/* `secs` of the calendar's opening hours after `start` ("" or an unknown
 * calendar: wall-clock time). */
static int64_t biz_add(service *svc, const char *cal, int64_t start, int64_t secs)
{
    int64_t out = start + secs;
    pthread_mutex_lock(&svc->policy_lock);
    if (esc_policy_time_add(svc->policy, cal, start, secs, &out) != ESC_OK)
        out = start + secs;
    pthread_mutex_unlock(&svc->policy_lock);
    return out;
}

static int64_t biz_between(service *svc, const char *cal, int64_t from, int64_t to)
{
    int64_t out = to > from ? to - from : 0;
    pthread_mutex_lock(&svc->policy_lock);
    if (esc_policy_time_between(svc->policy, cal, from, to, &out) != ESC_OK)
        out = to > from ? to - from : 0;
    pthread_mutex_unlock(&svc->policy_lock);
    return out;
}

/* The warning point of a response window. */
static int64_t warn_point(service *svc, const char *cal, int64_t start, int64_t deadline)
{
    double share = svc->cfg->warn_share;
    int64_t window = biz_between(svc, cal, start, deadline);
    return biz_add(svc, cal, start, (int64_t)((double)window * share));
}

/* Evaluates a ticket document at `now`. Returns 0 with *out, or an HTTP
 * status with *body. */
static int evaluate_doc(service *svc, json_t *doc, int64_t now, esc_decision **out,
                        json_t **body)
{
    esc_ticket *t = NULL;
    esc_error e;
    memset(&e, 0, sizeof(e));
    esc_engine *engine = thread_engine(svc);
    if (!engine)
        return fail(body, 500, "internal", "", "out of memory");
    /* The engine reads the document in place: no text round trip. */
    int rc = esc__ticket_from_json(doc, "ticket", &t, &e);
    if (rc == 0)
        rc = esc_engine_evaluate(engine, t, now, 0, out, &e);
    esc_ticket_free(&t);
    if (rc != 0)
        return fail(body, rc == ESC_ENOMEM ? 500 : 422,
                    rc == ESC_ELIMIT ? "too_large" : "invalid_ticket", e.pointer, "%s",
                    e.message[0] ? e.message : esc_strerror(rc));
    return 0;
}

/* What the service reads of a decision: the rest is stored and answered as
 * the engine's text. */
static const char *const decision_members[] = {
    "escalate", "priority", "targets", "respond_by", "resolve_by", "reasons",
    "follow_ups", "notifications", "customer_message", NULL};

/* The same, with the decision as a JSON value in *decision and, when text
 * is not NULL, the engine's JSON text of it in *text (stored as it is). With
 * the text, the value holds only decision_members (parsing all of it was
 * 8 % of a durable write's CPU); without, all of it. Not counted in the
 * decisions made. */
static int make_decision(service *svc, json_t *doc, int64_t now, json_t **decision,
                         char **text, json_t **body)
{
    esc_decision *d = NULL;
    int status = evaluate_doc(svc, doc, now, &d, body);
    if (status)
        return status;
    size_t len = 0;
    char *dj = esc_decision_json(d, 0, &len);
    *decision = !dj   ? NULL
                : text ? esc__decision_members(d, decision_members)
                       : json_loadb(dj, len, 0, NULL);
    esc_decision_free(&d);
    if (!*decision) {
        free(dj);
        return fail(body, 500, "internal", "", "cannot render the decision");
    }
    if (text)
        *text = dj;
    else
        free(dj);
    return 0;
}

static int decide(service *svc, json_t *doc, int64_t now, json_t **decision,
                  char **text, json_t **body)
{
    int status = make_decision(svc, doc, now, decision, text, body);
    if (status == 0)
        atomic_fetch_add(&svc->n_decisions, 1);
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

/* Loads the row and the document (messages joined back) from st. */
/* The document of a tickets row, its messages joined back from st. */
static int doc_of_row(store *st, const char *id, json_t *row, json_t **doc)
{
    *doc = json_loads(jstr(row, "doc"), 0, NULL);
    json_t *msgs = NULL;
    if (!*doc || st->ops->messages_list(st, id, &msgs) != STORE_OK) {
        json_decref(*doc);
        *doc = NULL;
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

static int load_ticket_in(store *st, const char *id, json_t **row, json_t **doc)
{
    int rc = st->ops->ticket_get(st, id, row);
    if (rc == STORE_OK && (rc = doc_of_row(st, id, *row, doc)) != STORE_OK) {
        json_decref(*row);
        *row = NULL;
    }
    return rc;
}

static int load_ticket(service *svc, const char *id, json_t **row, json_t **doc)
{
    return load_ticket_in(svc->st, id, row, doc);
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
    /* jansson writes valid UTF-8: no need to check it again. */
    json_object_set_new(c->row, "doc", json_string_nocheck(text));
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
        /* Its deliveries, in the same transaction: what the worker sends.
         * The policy's info is never modified once built (a reload
         * replaces it) and jansson counts references atomically: a
         * reference is enough, no copy. */
        pthread_mutex_lock(&c->svc->policy_lock);
        json_t *info = json_incref(c->svc->notify_info);
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

/* Logs a lifecycle event and puts it in the outbox under the key suffix;
 * data is consumed. */
static int log_and_notify(ctx *c, const char *kind, const char *key_suffix, json_t *data)
{
    int rc = log_event(c, kind, json_incref(data));
    if (rc == STORE_OK)
        return outbox(c, kind, key_suffix, data);
    json_decref(data);
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
    char cal[128];
    window_calendar(c->svc, jstr(esc, "priority"), jstr(esc, "team"), "respond_within",
                    cal, sizeof(cal));
    json_object_set_new(esc, "respond_by", json_integer(respond_by));
    json_t *data = json_pack("{s:I, s:I, s:s, s:I, s:I, s:s?}", "escalation", (json_int_t)e,
                             "level", (json_int_t)n, "team", jstr(esc, "team"),
                             "started_at", (json_int_t)start, "respond_by",
                             (json_int_t)respond_by, "calendar", cal[0] ? cal : NULL);
    snprintf(cause, sizeof(cause), "respond:%" PRId64 ".%" PRId64 ".%" PRId64, e, n, k);
    /* The breach is the first second past the deadline, when rules such
     * as `facts.since_customer > 4h` hold. */
    int rc = arm(c, cause, respond_by + 1, json_incref(data));
    double share = c->svc->cfg->warn_share;
    int64_t warn_at = warn_point(c->svc, cal, start, respond_by);
    if (rc == STORE_OK && share > 0 && warn_at > start && warn_at < respond_by) {
        snprintf(cause, sizeof(cause), "warn:%" PRId64 ".%" PRId64 ".%" PRId64, e, n, k);
        rc = arm(c, cause, warn_at, json_incref(data));
    }
    json_decref(data);
    return rc;
}

/* The acknowledgement window of the escalation's level: the team's
 * acknowledge_within (in its calendar), else the priority's, else the
 * ack_timeout setting (in the calendar of the response deadline). */
static int64_t ack_window(service *svc, json_t *esc, char *cal, size_t size)
{
    const char *team = jstr(esc, "team"), *prio = jstr(esc, "priority");
    int64_t w = clock_secs(svc, "teams", team, "acknowledge_within");
    if (w >= 0) {
        clock_calendar(svc, "teams", team, cal, size);
        return w;
    }
    w = clock_secs(svc, "priorities", prio, "acknowledge_within");
    if (w >= 0) {
        clock_calendar(svc, "priorities", prio, cal, size);
        return w;
    }
    window_calendar(svc, prio, team, "respond_within", cal, size);
    return svc->cfg->ack_timeout;
}

static int arm_ack(ctx *c, json_t *esc, int64_t start)
{
    char cal[128];
    int64_t timeout = ack_window(c->svc, esc, cal, sizeof(cal));
    if (timeout <= 0 || jint(esc, "ack_repeats", 0) >= c->svc->cfg->ack_max_repeats)
        return STORE_OK;
    char cause[128];
    snprintf(cause, sizeof(cause), "ack:%" PRId64 ".%" PRId64 ".%" PRId64,
             jint(esc, "id", 0), jint(esc, "levels", 0), jint(esc, "ack_repeats", 0));
    return arm(c, cause, biz_add(c->svc, cal, start, timeout),
               json_pack("{s:I, s:s, s:I, s:I, s:s?}", "escalation",
                         (json_int_t)jint(esc, "id", 0), "team", jstr(esc, "team"),
                         "started_at", (json_int_t)start, "window_s",
                         (json_int_t)timeout, "calendar", cal[0] ? cal : NULL));
}

/* The resolution target: armed with the first escalating decision's
 * resolve_by, moved earlier by a later decision's. */
static int arm_resolve(ctx *c, json_t *esc)
{
    int64_t rb = c->decision ? jtime(c->decision, "resolve_by") : -1;
    int64_t cur = jint(esc, "resolve_by", -1);
    if (rb <= 0 || (cur > 0 && cur <= rb))
        return STORE_OK;
    const char *prio = jstr(esc, "priority"), *team = jstr(esc, "team");
    char cal[128], cause[64];
    if (clock_secs(c->svc, "priorities", prio, "resolve_within") >= 0 ||
        clock_secs(c->svc, "teams", team, "resolve_within") < 0)
        clock_calendar(c->svc, "priorities", prio, cal, sizeof(cal));
    else
        clock_calendar(c->svc, "teams", team, cal, sizeof(cal));
    json_object_set_new(esc, "resolve_by", json_integer(rb));
    snprintf(cause, sizeof(cause), "resolve:%" PRId64, jint(esc, "id", 0));
    return arm(c, cause, rb + 1,
               json_pack("{s:I, s:s, s:I, s:s?}", "escalation",
                         (json_int_t)jint(esc, "id", 0), "team", team, "resolve_by",
                         (json_int_t)rb, "calendar", cal[0] ? cal : NULL));
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
    /* A new escalation is stored first for its id, which the level and
     * the timers name; one that moves is stored once, below. */
    if (rc == STORE_OK && !json_object_get(esc, "id"))
        rc = ops->escalation_put(st, esc);
    if (rc == STORE_OK)
        rc = ops->level_start(st, jint(esc, "id", 0), team, c->now, cause, respond_by);
    if (rc == STORE_OK)
        rc = arm_level(c, esc, respond_by);
    if (rc == STORE_OK)
        rc = arm_resolve(c, esc);
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

/* The team's place in the acknowledgement chain, -1 when off it; with
 * `next`, the team above it ("" at the top or off the chain). */
static int chain_rank(service *svc, const char *team, char *next, size_t size)
{
    int rank = -1;
    if (next)
        next[0] = '\0';
    pthread_mutex_lock(&svc->policy_lock);
    json_t *chain = json_object_get(svc->clocks, "chain");
    for (size_t i = 0; team && i < json_array_size(chain) && rank < 0; i++) {
        if (!strcmp(json_string_value(json_array_get(chain, i)), team)) {
            rank = (int)i;
            if (next && i + 1 < json_array_size(chain))
                snprintf(next, size, "%s", json_string_value(json_array_get(chain, i + 1)));
        }
    }
    pthread_mutex_unlock(&svc->policy_lock);
    return rank;
}

/* A policy decision never moves an open escalation down ack_chain (where
 * an acknowledgement timeout may have taken it). */
static bool below_in_chain(ctx *c, const char *target)
{
    json_t *esc = NULL;
    if (c->svc->st->ops->escalation_open_get(c->svc->st, c->id, &esc) != STORE_OK)
        return false;
    int cur = chain_rank(c->svc, jstr(esc, "team"), NULL, 0),
        to = chain_rank(c->svc, target, NULL, 0);
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

/* The data of the "decision" event that logs decision dec made on
 * cause. */
static json_t *decision_event(const char *cause, json_t *dec)
{
    return json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "cause", cause, "escalate",
                     json_object_get(dec, "escalate"), "priority",
                     json_object_get(dec, "priority"), "targets",
                     json_object_get(dec, "targets"), "respond_by",
                     json_object_get(dec, "respond_by"), "reasons",
                     json_object_get(dec, "reasons"));
}

/* Evaluates the ticket, logs the decision and applies it: a rule that fires
 * for the first time (or again after it stopped holding) may escalate. */
static int reevaluate(ctx *c, const char *cause, json_t **body)
{
    json_decref(c->decision);
    free(c->decision_text);
    c->decision = c->probe;
    c->decision_text = c->probe_text;
    /* A breach's decision made ahead comes with its event's data. */
    char *event_text = c->probe && !strcmp(cause, "sla_breach") ? c->probe_event : NULL;
    c->probe = NULL;
    c->probe_text = NULL;
    int status = c->decision ? 0
                             : decide(c->svc, c->doc, c->now, &c->decision,
                                      &c->decision_text, body);
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

    /* The store keeps a string as it is: text written by json_dumps. */
    int rc = log_event(c, "decision", event_text ? json_string_nocheck(event_text)
                                                 : decision_event(cause, dec));
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
    if (c->decision_text) {
        /* The engine writes valid UTF-8 (its input was checked). */
        json_object_set_new(c->row, "decision", json_string_nocheck(c->decision_text));
    } else {
        char *dtext = json_dumps(dec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_object_set_new(c->row, "decision", dtext ? json_string(dtext) : json_null());
        free(dtext);
    }
    if (rc == STORE_OK)
        rc = save_ticket(c);
    return rc == STORE_OK ? 0 : store_fail(c->svc, body);
}

/* ---- pause and resume ------------------------------------------------------ */

static const char *const sla_prefixes[] = {"respond:", "warn:", NULL};

static const char *timer_calendar(json_t *t, char *out, size_t size)
{
    json_t *d = json_loads(jstr(t, "data") ? jstr(t, "data") : "{}", 0, NULL);
    snprintf(out, size, "%s", jstr(d, "calendar") ? jstr(d, "calendar") : "");
    json_decref(d);
    return out;
}

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
            !(has_prefix(cause, "respond:") || has_prefix(cause, "warn:") ||
              has_prefix(cause, "resolve:")))
            continue;
        /* What is left, in the hours of the deadline's calendar. */
        char cal[128];
        int64_t left = biz_between(c->svc, timer_calendar(t, cal, sizeof(cal)), c->now,
                                   jint(t, "due_at", 0));
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
    int64_t paused_at = jint(c->row, "paused_at", -1), respond_due = -1, resolve_due = -1;
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
        char cal[128];
        int64_t due = biz_add(c->svc, timer_calendar(t, cal, sizeof(cal)), c->now,
                              jint(t, "due_at", 0));
        if (rc == STORE_OK)
            rc = ops->timer_set(c->svc->st, c->id, cause, "armed", due);
        if (rc == STORE_OK && timer_heap_push(&c->svc->heap, due, c->id, cause) != 0)
            rc = STORE_ERROR;
        /* The deadlines are one second before their timers. */
        if (has_prefix(cause, "respond:"))
            respond_due = due;
        else if (has_prefix(cause, "resolve:"))
            resolve_due = due;
    }
    json_decref(rows);
    pthread_cond_signal(&c->svc->wake);
    if (rc == STORE_OK && ops->escalation_open_get(c->svc->st, c->id, &esc) == STORE_OK) {
        if (respond_due > 0 && jint(esc, "respond_by", -1) > 0)
            json_object_set_new(esc, "respond_by", json_integer(respond_due - 1));
        if (resolve_due > 0 && jint(esc, "resolve_by", -1) > 0)
            json_object_set_new(esc, "resolve_by", json_integer(resolve_due - 1));
        rc = ops->escalation_put(c->svc->st, esc);
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
    if (!reopen && (!strcmp(target, "open") || !strcmp(target, "new"))) {
        /* While an escalation is open the ticket is escalated: `open`
         * (what a help desk says of a ticket in work, or after a wait on
         * the customer) does not take it from the level that holds it.
         * Resolving or closing the ticket ends the escalation. */
        json_t *esc = NULL;
        int g = ops->escalation_open_get(c->svc->st, c->id, &esc);
        json_decref(esc);
        if (g == STORE_ERROR)
            return STORE_ERROR;
        if (g == STORE_OK)
            target = "escalated";
    }
    if (!strcmp(from, target) && !reopen)
        return STORE_OK;
    json_t *ev = json_pack("{s:s, s:s}", "from", from, "to", reopen ? to : target);
    if (!reopen && strcmp(to, target))
        json_object_set_new(ev, "asked", json_string(to));
    int rc = log_event(c, "status", ev);
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
            if (rc == STORE_OK) {
                /* Pages opened for the escalation are resolved. */
                char key[32];
                snprintf(key, sizeof(key), "%" PRId64, jint(esc, "id", 0));
                rc = outbox(c, "resolved", key,
                            json_pack("{s:s, s:I, s:s, s:O}", "ticket", c->id, "escalation",
                                      (json_int_t)jint(esc, "id", 0), "status", target,
                                      "team", json_object_get(esc, "team")));
            }
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
    /* The customer's answer ends the wait on the customer: back to where
     * the ticket was, escalated while an escalation is open. */
    if (rc == STORE_OK && !strcmp(from, "customer") &&
        !strcmp(jstr(c->doc, "status") ? jstr(c->doc, "status") : "", "pending"))
        rc = set_status(c, g == STORE_OK ? "escalated" : "open");
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
    json_decref(c->probe);
    free(c->decision_text);
    free(c->probe_text);
    free(c->probe_event);
}

/* The body of a write's response: the decision and the open escalation. */
static json_t *write_response(ctx *c, bool created)
{
    json_t *esc = NULL;
    if (c->svc->st->ops->escalation_open_get(c->svc->st, c->id, &esc) != STORE_OK)
        esc = json_null();
    present(esc);
    json_t *body = json_pack("{s:s, s:b, s:O, s:O, s:o}", "ticket", c->id,
                             "created", created, "status",
                             json_object_get(c->doc, "status"), "level",
                             json_object_get(c->doc, "level")
                                 ? json_object_get(c->doc, "level")
                                 : json_null(),
                             "escalation", esc);
    if (c->decision_out && c->decision_text) {
        /* The engine's own text, as it was stored: not written again. */
        *c->decision_out = c->decision_text;
        c->decision_text = NULL;
    } else if (c->decision_text) {
        /* c->decision holds only what the service reads (make_decision). */
        json_t *all = json_loads(c->decision_text, 0, NULL);
        json_object_set_new(body, "decision", all ? all : json_null());
    } else {
        json_object_set(body, "decision", c->decision ? c->decision : json_null());
    }
    return body;
}

/*
 * Group commit. A write request takes the service lock through
 * lock_for_write(), which counts it in writers_queued while it waits. Its
 * work is one unit of the open batch (a savepoint of one transaction on the
 * SQLite connection); when the work is done the unit is released and the
 * request joins svc->batch. If no other writer waits for the lock, nobody
 * else will add to the batch soon: the request commits it (the leader) and
 * answers every request of the batch. Otherwise it waits on batch_done
 * (under batch_lock, not the service lock, which it does not take again),
 * and the last writer of the queue commits for all. Each
 * counted writer looks at the queue when it leaves, so a batch with waiters
 * is always committed by someone. A timer or an admin write that commits
 * (commit_unit) commits the open batch with its own unit. A request is
 * answered 2xx only after the COMMIT that holds its work has returned; when
 * that COMMIT fails, every request of the batch gets the error. Timers that
 * lost work pushed on the heap are looked up in the store when they come
 * due (fire), so they never fire for a write that was not committed; the
 * delivery worker reads with its own connection, so it never sees an
 * outbox row before its batch is committed.
 */
typedef struct batch_waiter {
    struct batch_waiter *next;
    bool done;
    int rc;
    char err[300];
} batch_waiter;

static void lock_for_write(service *svc)
{
    atomic_fetch_add(&svc->writers_queued, 1);
    pthread_mutex_lock(&svc->lock);
    atomic_fetch_sub(&svc->writers_queued, 1);
}

/* Commits the open batch and answers its waiters; the lock is held. */
static int flush_batch(service *svc)
{
    int rc = svc->st->ops->flush(svc->st);
    if (rc != STORE_OK)
        fprintf(stderr, "escalator serve: store: commit: %s\n",
                svc->st->ops->errmsg(svc->st));
    size_t n = 0;
    if (svc->batch)
        pthread_mutex_lock(&svc->batch_lock);
    for (batch_waiter *w = svc->batch, *next; w; w = next, n++) {
        next = w->next;
        w->rc = rc;
        if (rc != STORE_OK)
            snprintf(w->err, sizeof(w->err), "%s", svc->st->ops->errmsg(svc->st));
        w->done = true;
    }
    svc->batch = NULL;
    if (n) {
        pthread_cond_broadcast(&svc->batch_done);
        pthread_mutex_unlock(&svc->batch_lock);
        atomic_fetch_add(&svc->n_batches, 1);
        atomic_fetch_add(&svc->n_batched_writes, n);
    }
    /* The delivery worker reads committed rows only: woken once a batch. */
    if (rc == STORE_OK && n)
        notifier_wake(svc->notifier);
    return rc;
}

/* Commits now when requests wait in the batch and no writer is queued to
 * join it; the lock is held. */
static void flush_if_idle(service *svc)
{
    if (svc->batch && atomic_load(&svc->writers_queued) == 0)
        flush_batch(svc);
}

/* Ends the caller's unit and commits it with the open batch: durable on
 * return; the lock is held. */
static int commit_unit(service *svc)
{
    int rc = svc->st->ops->release(svc->st);
    int f = flush_batch(svc);
    return rc == STORE_OK ? f : rc;
}

/* Joins the open batch with the unit just released and returns once a
 * commit holding it has returned: STORE_OK, or STORE_ERROR with the reason
 * in err. The lock is held on entry and released on return. */
static int wait_durable(service *svc, char *err, size_t size)
{
    batch_waiter w = {.next = svc->batch};
    svc->batch = &w;
    flush_if_idle(svc);
    /* batch_lock before the service lock goes: the flush that answers w
     * takes it too, so its wake-up cannot be missed. */
    pthread_mutex_lock(&svc->batch_lock);
    pthread_mutex_unlock(&svc->lock);
    while (!w.done)
        pthread_cond_wait(&svc->batch_done, &svc->batch_lock);
    pthread_mutex_unlock(&svc->batch_lock);
    if (w.rc != STORE_OK)
        snprintf(err, size, "%s", w.err);
    return w.rc;
}

/* Ends a write: when status is 0 its unit joins the batch (the body is
 * built from the state it leaves) and the answer waits until the batch is
 * committed; otherwise only its unit is rolled back. Returns the HTTP
 * status. */
static int finish(ctx *c, int status, int ok_status, bool created, json_t **body)
{
    service *svc = c->svc;
    if (status == 0 && svc->st->ops->release(svc->st) != STORE_OK)
        status = store_fail(svc, body);
    if (status == 0) {
        *body = write_response(c, created);
        status = ok_status;
        char err[300];
        if (wait_durable(svc, err, sizeof(err)) != STORE_OK) { /* unlocks */
            json_decref(*body);
            if (c->decision_out) {
                free(*c->decision_out);
                *c->decision_out = NULL;
            }
            status = fail(body, 500, "store_error", "",
                          "the store failed: %s (nothing was saved)", err);
        }
    } else {
        svc->st->ops->rollback(svc->st);
        flush_if_idle(svc);
        pthread_mutex_unlock(&svc->lock);
    }
    ctx_free(c);
    return status;
}

/* A read-only store handle for a GET request (committed data only), and
 * back into the pool after it. */
static store *reader_get(service *svc, json_t **body)
{
    store *r = NULL;
    pthread_mutex_lock(&svc->readers_lock);
    if (svc->nreaders)
        r = svc->readers[--svc->nreaders];
    pthread_mutex_unlock(&svc->readers_lock);
    if (r)
        return r;
    char err[600];
    if (!(r = svc->st->ops->open_reader(svc->st, err, sizeof(err)))) {
        fprintf(stderr, "escalator serve: store: %s\n", err);
        fail(body, 500, "store_error", "", "the store failed: %s", err);
    }
    return r;
}

static void reader_put(service *svc, store *r)
{
    if (!r)
        return;
    r->ops->rollback(r); /* ends a snapshot left open */
    pthread_mutex_lock(&svc->readers_lock);
    if (svc->nreaders == svc->readers_cap) {
        size_t cap = svc->readers_cap ? svc->readers_cap * 2 : 8;
        store **grown = realloc(svc->readers, cap * sizeof(*grown));
        if (grown) {
            svc->readers = grown;
            svc->readers_cap = cap;
        }
    }
    if (svc->nreaders < svc->readers_cap) {
        svc->readers[svc->nreaders++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&svc->readers_lock);
    if (r)
        r->ops->close(r);
}

static int reader_fail(store *r, json_t **body)
{
    fprintf(stderr, "escalator serve: store: %s\n", r->ops->errmsg(r));
    return fail(body, 500, "store_error", "", "the store failed: %s", r->ops->errmsg(r));
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

int service_evaluate(service *svc, json_t *ticket, char **text, size_t *len,
                     json_t **body)
{
    esc_decision *d = NULL;
    int status = check_input(svc, ticket, body);
    if (status)
        return status;
    status = evaluate_doc(svc, ticket, service_now(svc), &d, body);
    if (status)
        return status;
    atomic_fetch_add(&svc->n_decisions, 1);
    /* The engine's own JSON is the answer: not parsed and written again. */
    *text = esc_decision_json(d, 0, len);
    esc_decision_free(&d);
    if (!*text)
        return fail(body, 500, "internal", "", "cannot render the decision");
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

int service_ticket_put(service *svc, json_t *ticket, json_t **body, char **decision)
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

    /* Validate before anything is written, and before the lock: the
     * policy needs no stored state for it, so writers check their tickets
     * in parallel. */
    int64_t probe_now = service_now(svc);
    json_t *probe = NULL, *shaped = json_deep_copy(ticket);
    char *probe_text = NULL;
    normalize(shaped, probe_now);
    status = decide(svc, shaped, probe_now, &probe, &probe_text, body);
    if (status) {
        json_decref(shaped);
        return status;
    }

    ctx c = {.svc = svc, .id = id, .actor = "api", .decision_out = decision};
    lock_for_write(svc);
    c.now = service_now(svc);
    /* A new ticket is decided on the document just checked: when the
     * clock has not moved (whole seconds), that decision stands. */
    if (c.now == probe_now) {
        c.probe = probe;
        c.probe_text = probe_text;
    } else {
        json_decref(probe);
        free(probe_text);
    }
    /* The document checked is the one to store when the clock has not
     * moved: normalize() filled the same times (the engine only read it). */
    json_t *checked = c.now == probe_now ? shaped : NULL;
    if (!checked)
        json_decref(shaped);
    const store_ops *ops = svc->st->ops;
    if (ops->begin(svc->st) != STORE_OK) {
        json_decref(checked);
        status = store_fail(svc, body);
        return finish(&c, status, 200, false, body);
    }
    json_t *old_doc = NULL;
    int g = load_ticket(svc, id, &c.row, &old_doc);
    bool created = g == STORE_NOTFOUND;
    if (g == STORE_ERROR) {
        json_decref(checked);
        return finish(&c, store_fail(svc, body), 200, false, body);
    }
    if (checked) {
        c.doc = checked;
    } else {
        c.doc = json_deep_copy(ticket);
        normalize(c.doc, c.now);
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
    if (!created) {
        /* A stored ticket's status and history take part: decide again. */
        json_decref(c.probe);
        free(c.probe_text);
        c.probe = NULL;
        c.probe_text = NULL;
    }
    if (status != STORE_OK)
        return finish(&c, store_fail(svc, body), 200, false, body);
    /* The policy reads the document in memory; the row it stores (with the
     * decision and the rules fired) goes in first, and the messages, which
     * refer to it, after: the row is written once. */
    status = reevaluate(&c, created ? "created" : "updated", body);
    if (status)
        return finish(&c, status, 200, false, body);
    int rc = ops->messages_clear(svc->st, id);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c.doc, "messages"), i, m)
    {
        int64_t at = jtime(m, "at");
        if (rc == STORE_OK)
            rc = ops->message_add(svc->st, id, jstr(m, "from"), at < 0 ? c.now : at,
                                  jstr(m, "text") ? jstr(m, "text") : "");
    }
    if (rc != STORE_OK)
        return finish(&c, store_fail(svc, body), 200, false, body);
    return finish(&c, 0, created ? 201 : 200, created, body);
}

/* Opens the transaction and loads the ticket for a write on it. */
static int begin_ticket(service *svc, const char *id, ctx *c, json_t **body)
{
    memset(c, 0, sizeof(*c));
    c->svc = svc;
    c->id = id;
    c->actor = "api";
    lock_for_write(svc);
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

int service_message_add(service *svc, const char *id, json_t *msg, json_t **body,
                        char **decision)
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
    c.decision_out = decision;
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

int service_event_add(service *svc, const char *id, json_t *ev, json_t **body,
                      char **decision)
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
    c.decision_out = decision;
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
        status = decide(svc, c.doc, c.now, &dec, NULL, body);
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
    /* A read-only connection: committed data, one snapshot, and no wait
     * for the writes in progress. */
    store *rd = reader_get(svc, body);
    if (!rd)
        return 500;
    const store_ops *ops = rd->ops;
    json_t *row = NULL, *doc = NULL, *events = NULL, *escs = NULL, *timers = NULL,
           *out = NULL, *e;
    size_t i;
    int status = 200;
    int g = ops->begin(rd);
    if (g == STORE_OK)
        g = load_ticket_in(rd, id, &row, &doc);
    if (g == STORE_NOTFOUND) {
        status = fail(body, 404, "not_found", "", "no ticket '%s'", id);
        goto done;
    }
    if (g != STORE_OK || ops->events_list(rd, id, &events) != STORE_OK ||
        ops->escalations_list(rd, id, &escs) != STORE_OK ||
        ops->timers_list(rd, id, &timers) != STORE_OK ||
        ops->outbox_list(rd, id, &out) != STORE_OK) {
        status = reader_fail(rd, body);
        goto done;
    }
    json_array_foreach(escs, i, e)
    {
        json_t *levels = NULL;
        if (ops->levels_list(rd, jint(e, "id", 0), &levels) == STORE_OK)
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
    reader_put(svc, rd);
    json_decref(row);
    json_decref(doc);
    json_decref(events);
    json_decref(escs);
    json_decref(timers);
    json_decref(out);
    return status;
}

/* Writes a time as the answers do: an RFC 3339 string, or null. */
static void put_time(esc__sb *sb, int64_t t)
{
    char buf[32];
    if (t >= 0 && esc_time_format(t, buf, sizeof(buf)) == 0) {
        esc__sb_putc(sb, '"');
        esc__sb_puts(sb, buf);
        esc__sb_putc(sb, '"');
    } else {
        esc__sb_puts(sb, "null");
    }
}

static void put_str(esc__sb *sb, const char *s)
{
    if (s)
        esc__sb_json_str(sb, s, strlen(s));
    else
        esc__sb_puts(sb, "null");
}

/* `key` is the member's name with its comma, quotes and colon. */
static void put_str_at(esc__sb *sb, const char *key, const char *s)
{
    esc__sb_puts(sb, key);
    put_str(sb, s);
}

static void put_time_at(esc__sb *sb, const char *key, int64_t t)
{
    esc__sb_puts(sb, key);
    put_time(sb, t);
}

typedef struct queue_out {
    service *svc;
    int64_t now;
    esc__sb sb;
    size_t n;
} queue_out;

/* One entry of the answer: the row, its breach state and the seconds left. */
static int queue_put(void *arg, const queue_entry *e)
{
    queue_out *q = arg;
    service *svc = q->svc;
    esc__sb *sb = &q->sb;
    int64_t now = q->now, rb = e->respond_by, paused = e->paused_at;
    int64_t opened = e->opened_at >= 0 ? e->opened_at : now, resolve = e->resolve_by;
    char cal[128];
    window_calendar(svc, e->priority, e->team, "respond_within", cal, sizeof(cal));
    int64_t warn = rb >= 0 ? warn_point(svc, cal, opened, rb) : -1;
    const char *state = "none";
    if (paused >= 0)
        state = "paused";
    else if (rb >= 0 && now > rb)
        state = "breached";
    else if (rb >= 0 && svc->cfg->warn_share > 0 && now >= warn)
        state = "warning";
    else if (rb >= 0)
        state = "ok";
    /* The members in the order of the store's columns, then what is
     * computed here: as the rows were once written by jansson. */
    put_str_at(sb, q->n++ ? ",{\"ticket_id\":" : "{\"ticket_id\":", e->ticket_id);
    put_str_at(sb, ",\"team\":", e->team);
    put_str_at(sb, ",\"priority\":", e->priority);
    put_str_at(sb, ",\"state\":", e->state);
    put_time_at(sb, ",\"respond_by\":", rb);
    put_time_at(sb, ",\"opened_at\":", e->opened_at);
    put_str_at(sb, ",\"owner\":", e->owner);
    put_time_at(sb, ",\"acknowledged_at\":", e->acknowledged_at);
    put_time_at(sb, ",\"resolve_by\":", resolve);
    put_str_at(sb, ",\"status\":", e->status);
    put_time_at(sb, ",\"paused_at\":", paused);
    put_str_at(sb, ",\"breach\":", state);
    if (rb >= 0 && paused < 0)
        esc__sb_printf(sb, ",\"seconds_left\":%" PRId64, rb - now);
    else
        esc__sb_puts(sb, ",\"seconds_left\":null");
    esc__sb_puts(sb, e->acknowledged_at >= 0 ? ",\"acknowledged\":true"
                                             : ",\"acknowledged\":false");
    put_str_at(sb, ",\"resolution\":", resolve < 0     ? "none"
                                       : paused >= 0   ? "paused"
                                       : now > resolve ? "breached"
                                                       : "ok");
    esc__sb_putc(sb, '}');
    return 0;
}

int service_queue(service *svc, const char *team, char **text, size_t *len, json_t **body)
{
    store *rd = reader_get(svc, body);
    if (!rd)
        return 500;
    /* Written as the rows come: a queue of thousands of escalations is
     * not built as values first. */
    queue_out q = {.svc = svc, .now = service_now(svc)};
    esc__sb_init(&q.sb);
    put_str_at(&q.sb, "{\"team\":", team);
    put_time_at(&q.sb, ",\"now\":", q.now);
    esc__sb_puts(&q.sb, ",\"tickets\":[");
    int rc = rd->ops->queue_each(rd, team, queue_put, &q);
    if (rc != STORE_OK)
        rc = reader_fail(rd, body);
    reader_put(svc, rd);
    if (rc != STORE_OK) {
        esc__sb_free(&q.sb);
        return rc;
    }
    esc__sb_puts(&q.sb, "]}");
    *text = esc__sb_take(&q.sb, len);
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
    store *rd = reader_get(svc, body);
    if (!rd)
        return 500;
    int rc = rd->ops->begin(rd);
    if (rc == STORE_OK)
        rc = rd->ops->metrics(rd, &m);
    if (rc != STORE_OK)
        rc = reader_fail(rd, body);
    reader_put(svc, rd);
    if (rc != STORE_OK)
        return rc;
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
    int64_t rmet = jint(m, "resolution_met", 0), rbreached = jint(m, "resolution_breached", 0);
    json_object_set_new(m, "resolution_compliance", ratio(rmet, rmet + rbreached));
    *body = m;
    return 200;
}

char *service_metrics_text(service *svc)
{
    size_t pending;
    int64_t tickets = 0;
    pthread_mutex_lock(&svc->lock);
    pending = svc->heap.len;
    pthread_mutex_unlock(&svc->lock);
    json_t *err = NULL;
    store *rd = reader_get(svc, &err);
    json_decref(err);
    if (rd)
        rd->ops->ticket_count(rd, &tickets);
    reader_put(svc, rd);
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
    COUNTER("resolution_breaches_total", "Resolution targets missed.",
            n_resolution_breaches);
    COUNTER("timers_fired_total", "Timers fired.", n_timers_fired);
    COUNTER("decisions_prepared_total",
            "Response deadlines that fired with the decision made ahead of them.",
            n_prepared);
    COUNTER("policy_reloads_total", "Policy reloads that took effect.", n_reloads);
    COUNTER("policy_reload_failures_total", "Policy reloads refused.", n_reload_failures);
#undef COUNTER
    fprintf(f, "# HELP escalator_timers_pending Timers waiting in the heap.\n"
               "# TYPE escalator_timers_pending gauge\nescalator_timers_pending %zu\n",
            pending);
    fprintf(f, "# HELP escalator_commits_total Store commits of grouped writes.\n"
               "# TYPE escalator_commits_total counter\nescalator_commits_total %" PRIu64
               "\n# HELP escalator_committed_writes_total Write requests those "
               "commits made durable.\n# TYPE escalator_committed_writes_total counter\n"
               "escalator_committed_writes_total %" PRIu64 "\n",
            (uint64_t)atomic_load(&svc->n_batches),
            (uint64_t)atomic_load(&svc->n_batched_writes));
    fprintf(f, "# HELP escalator_tickets Tickets stored.\n"
               "# TYPE escalator_tickets gauge\nescalator_tickets %" PRId64 "\n",
            tickets);
    notifier_metrics(svc->notifier, f);
    fclose(f);
    return out;
}

/* A deadline as the current policy sets it: `window` of the priority, else
 * of the team, counted from `start` in its calendar; -1 when neither sets
 * one. */
static int64_t policy_deadline(service *svc, const char *priority, const char *team,
                               const char *window, int64_t start)
{
    int64_t w = clock_secs(svc, "priorities", priority, window);
    if (w < 0)
        w = clock_secs(svc, "teams", team, window);
    if (w < 0 || start < 0)
        return -1;
    char cal[128];
    window_calendar(svc, priority, team, window, cal, sizeof(cal));
    return biz_add(svc, cal, start, w);
}

/* After a reload: the open escalations whose running deadlines the new
 * policy would set differently (the response deadline from the start of
 * its window, the resolution target from the escalation's opening, in the
 * new policy's calendars). With `recompute` they take the new deadlines,
 * each change logged on its ticket; without, they keep theirs. A clock
 * paused on the customer keeps what it had left. Returns the report. */
static json_t *deadline_changes(service *svc, bool recompute)
{
    const store_ops *ops = svc->st->ops;
    json_t *rows = NULL, *r, *changes = json_array();
    size_t i, n_changed = 0, n_checked = 0, n_paused = 0;
    int rc = STORE_OK;
    pthread_mutex_lock(&svc->lock);
    int64_t now = service_now(svc);
    if (ops->queue_list(svc->st, NULL, &rows) != STORE_OK ||
        (recompute && ops->begin(svc->st) != STORE_OK))
        rc = STORE_ERROR;
    json_array_foreach(rc == STORE_OK ? rows : NULL, i, r)
    {
        const char *id = jstr(r, "ticket_id");
        if (jint(r, "paused_at", -1) >= 0) {
            n_paused++;
            continue;
        }
        n_checked++;
        json_t *esc = NULL, *timers = NULL, *t, *respond = NULL, *resolve = NULL;
        size_t j;
        if (ops->escalation_open_get(svc->st, id, &esc) != STORE_OK ||
            ops->timers_list(svc->st, id, &timers) != STORE_OK) {
            json_decref(esc);
            rc = STORE_ERROR;
            break;
        }
        json_array_foreach(timers, j, t)
        {
            if (strcmp(jstr(t, "state"), "armed"))
                continue;
            if (has_prefix(jstr(t, "cause"), "respond:"))
                respond = t;
            else if (has_prefix(jstr(t, "cause"), "resolve:"))
                resolve = t;
        }
        const char *prio = jstr(esc, "priority"), *team = jstr(esc, "team");
        json_t *rdata = respond ? json_loads(jstr(respond, "data") ? jstr(respond, "data")
                                                                   : "{}", 0, NULL)
                                : NULL;
        int64_t old_rb = respond ? jint(respond, "due_at", 0) - 1 : -1;
        int64_t new_rb = respond ? policy_deadline(svc, prio, team, "respond_within",
                                                   jint(rdata, "started_at",
                                                        jint(esc, "opened_at", -1)))
                                 : -1;
        int64_t old_res = resolve ? jint(resolve, "due_at", 0) - 1 : -1;
        int64_t new_res = resolve ? policy_deadline(svc, prio, team, "resolve_within",
                                                    jint(esc, "opened_at", -1))
                                  : -1;
        bool rb_moves = new_rb > 0 && new_rb != old_rb;
        bool res_moves = new_res > 0 && new_res != old_res;
        if (rb_moves || res_moves) {
            n_changed++;
            json_t *change = json_pack("{s:s, s:s}", "ticket", id, "team", team);
            if (rb_moves)
                json_object_set_new(change, "respond_by",
                                    json_pack("{s:o, s:o}", "from", time_json(old_rb),
                                              "to", time_json(new_rb)));
            if (res_moves)
                json_object_set_new(change, "resolve_by",
                                    json_pack("{s:o, s:o}", "from", time_json(old_res),
                                              "to", time_json(new_res)));
            if (recompute && rc == STORE_OK) {
                ctx c = {.svc = svc, .id = id, .now = now, .actor = "reload"};
                char cause[128];
                if (rb_moves) {
                    /* The warning of the same window moves with it. */
                    const char *k = jstr(respond, "cause") + strlen("respond:");
                    snprintf(cause, sizeof(cause), "warn:%s", k);
                    int64_t start = jint(rdata, "started_at", jint(esc, "opened_at", now));
                    int64_t warn_at = warn_point(svc, jstr(rdata, "calendar") ? jstr(rdata, "calendar") : "",
                                                 start, new_rb);
                    json_object_set_new(rdata, "respond_by", json_integer(new_rb));
                    rc = arm(&c, jstr(respond, "cause"), new_rb + 1, json_incref(rdata));
                    if (rc == STORE_OK && svc->cfg->warn_share > 0 && warn_at > now &&
                        warn_at < new_rb)
                        rc = arm(&c, cause, warn_at, json_incref(rdata));
                    json_object_set_new(esc, "respond_by", json_integer(new_rb));
                }
                if (rc == STORE_OK && res_moves) {
                    json_t *sdata = json_loads(jstr(resolve, "data") ? jstr(resolve, "data")
                                                                     : "{}", 0, NULL);
                    json_object_set_new(sdata, "resolve_by", json_integer(new_res));
                    rc = arm(&c, jstr(resolve, "cause"), new_res + 1, sdata);
                    json_object_set_new(esc, "resolve_by", json_integer(new_res));
                }
                if (rc == STORE_OK)
                    rc = ops->escalation_put(svc->st, esc);
                if (rc == STORE_OK)
                    rc = log_event(&c, "deadlines_recomputed", json_incref(change));
            }
            if (json_array_size(changes) < 100)
                json_array_append(changes, change);
            json_decref(change);
        }
        json_decref(rdata);
        json_decref(timers);
        json_decref(esc);
        if (rc != STORE_OK)
            break;
    }
    if (recompute && rc == STORE_OK && commit_unit(svc) != STORE_OK)
        rc = STORE_ERROR;
    if (recompute && rc != STORE_OK)
        ops->rollback(svc->st);
    pthread_mutex_unlock(&svc->lock);
    json_decref(rows);
    if (rc != STORE_OK) {
        fprintf(stderr, "escalator serve: reload: deadlines: %s\n", ops->errmsg(svc->st));
        json_decref(changes);
        return json_pack("{s:s}", "error", "the open escalations could not be read; "
                                           "nothing was recomputed");
    }
    return json_pack("{s:I, s:I, s:I, s:b, s:o}", "open_escalations", (json_int_t)n_checked,
                     "paused", (json_int_t)n_paused, "would_change", (json_int_t)n_changed,
                     "recomputed", recompute && n_changed > 0, "changes", changes);
}

int service_reload(service *svc, bool recompute, json_t **body)
{
    esc_policy *p = NULL;
    /* The routes file is read again too; a bad one refuses the reload and
     * the routes and policy in force stay. */
    char rerr[700];
    notify_routes *routes = notify_routes_load(svc->cfg->notify_routes, rerr, sizeof(rerr));
    if (!routes) {
        atomic_fetch_add(&svc->n_reload_failures, 1);
        fprintf(stderr, "escalator serve: reload refused: notify_routes: %s\n", rerr);
        *body = service_error("invalid_routes", rerr, svc->cfg->notify_routes);
        return 422;
    }
    if (load_policy(svc, &p, body) != 0) {
        notify_routes_free(&routes);
        atomic_fetch_add(&svc->n_reload_failures, 1);
        return 422;
    }
    json_t *rules = NULL, *clocks = NULL, *info = NULL;
    if (policy_maps(svc, p, &rules, &clocks, &info) != 0) {
        esc_policy_unref(&p);
        notify_routes_free(&routes);
        atomic_fetch_add(&svc->n_reload_failures, 1);
        return fail(body, 500, "out_of_memory", "", "cannot read the policy back");
    }
    if (svc->notifier)
        notifier_set_routes(svc->notifier, routes);
    else
        notify_routes_free(&routes);
    pthread_mutex_lock(&svc->policy_lock);
    esc_policy *old = svc->policy;
    json_t *old_rules = svc->rules, *old_info = svc->notify_info, *old_clocks = svc->clocks;
    svc->policy = p;
    svc->rules = rules;
    svc->notify_info = info;
    svc->clocks = clocks;
    svc->policy_gen++;
    uint64_t gen = svc->policy_gen;
    pthread_mutex_unlock(&svc->policy_lock);
    /* Engines still evaluating with the old policy hold their own
     * references; the last one frees it. */
    esc_policy_unref(&old);
    json_decref(old_rules);
    json_decref(old_info);
    json_decref(old_clocks);
    atomic_fetch_add(&svc->n_reloads, 1);
    fprintf(stderr, "escalator serve: policy %s reloaded (%s)\n", svc->cfg->policy,
            esc_policy_name(p));
    *body = json_pack("{s:s, s:s, s:I, s:o}", "policy", esc_policy_name(p), "file",
                      svc->cfg->policy, "generation", (json_int_t)gen, "deadlines",
                      deadline_changes(svc, recompute));
    return 200;
}

/* ---- firing timers ---------------------------------------------------------- */

/* ---- response deadlines decided ahead ------------------------------------ */

/*
 * A response deadline's firing decides the ticket again at the second it
 * fires (the breach shows in facts such as since_customer), and the engine
 * is pure: the same document, policy and second give the same decision. A
 * thread of its own therefore loads and decides, a little ahead, the
 * tickets whose response timers come due in the next seconds, on the
 * committed state (its own read-only connection, one snapshot per ticket,
 * without the service lock). fire() takes such a ticket and decision only
 * when the row it reads under the lock has the same revision (no write
 * since, so the same document and messages), the second is the one decided
 * for and the policy has not been reloaded since; otherwise it loads and
 * decides itself, as before. The timer thread, which holds the service
 * lock while it fires, is left with the writes, and the next second's
 * tickets are read and decided on another core while it works.
 */
enum {
    PREPARE_AHEAD = 2,      /* seconds ahead of the due time */
    PREPARE_MAX = 4096,     /* tickets kept at most (about 10 KB each) */
    PREPARE_PERIOD_MS = 250 /* how often the thread looks at the heap */
};

static void prepared_key(const char *ticket, const char *cause, char *out, size_t size)
{
    snprintf(out, size, "%s\n%s", ticket, cause);
}

typedef struct prep_scan {
    json_t *seen; /* keys decided already: not again */
    json_t *todo; /* [ticket, cause, due] of the others */
    int64_t now;
} prep_scan;

static void prep_collect(void *arg, const timer_entry *e)
{
    prep_scan *ps = arg;
    char key[300];
    if (e->due <= ps->now || !has_prefix(e->cause, "respond:"))
        return;
    prepared_key(e->ticket, e->cause, key, sizeof(key));
    if (json_object_get(ps->seen, key))
        return;
    json_object_set_new(ps->seen, key, json_integer(e->due));
    json_array_append_new(ps->todo, json_pack("[s, s, I]", e->ticket, e->cause,
                                              (json_int_t)e->due));
}

/* Forgets what is past: decisions nobody took (the timer was cancelled, or
 * fired late) and the keys seen before now. prep_lock is held. */
static void prep_forget(service *svc, json_t *seen, int64_t now)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(svc->prepared, tmp, key, v)
    {
        if (json_integer_value(json_array_get(v, 0)) < now)
            json_object_del(svc->prepared, key);
    }
    json_object_foreach_safe(seen, tmp, key, v)
    {
        if (json_integer_value(v) < now)
            json_object_del(seen, key);
    }
}

static void *prepare_main(void *arg)
{
    service *svc = arg;
    char err[300];
    store *r = svc->st->ops->open_reader(svc->st, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "escalator serve: deciding ahead: %s (timers decide as they fire)\n",
                err);
        return NULL;
    }
    json_t *seen = json_object();
    pthread_mutex_lock(&svc->prep_lock);
    while (!svc->prep_stop) {
        int64_t now = service_now(svc);
        prep_forget(svc, seen, now);
        json_t *spent = svc->spent;
        svc->spent = json_array();
        bool room = json_object_size(svc->prepared) < PREPARE_MAX;
        pthread_mutex_unlock(&svc->prep_lock);
        json_decref(spent); /* off the timer thread's path */

        prep_scan ps = {.seen = seen, .todo = json_array(), .now = now};
        if (room) {
            pthread_mutex_lock(&svc->lock);
            timer_heap_each_until(&svc->heap, now + PREPARE_AHEAD, prep_collect, &ps);
            pthread_mutex_unlock(&svc->lock);
        }
        size_t i;
        json_t *t;
        json_array_foreach(ps.todo, i, t)
        {
            const char *ticket = json_string_value(json_array_get(t, 0));
            const char *cause = json_string_value(json_array_get(t, 1));
            int64_t due = json_integer_value(json_array_get(t, 2));
            json_t *row = NULL, *doc = NULL, *dec = NULL, *body = NULL;
            char *text = NULL;
            pthread_mutex_lock(&svc->policy_lock);
            uint64_t gen = svc->policy_gen;
            pthread_mutex_unlock(&svc->policy_lock);
            int got = r->ops->begin(r);
            if (got == STORE_OK)
                got = load_ticket_in(r, ticket, &row, &doc);
            r->ops->commit(r); /* ends the read snapshot */
            if (got == STORE_OK && make_decision(svc, doc, due, &dec, &text, &body) == 0) {
                char key[300];
                prepared_key(ticket, cause, key, sizeof(key));
                /* What the breach logs of its decision, written here too. */
                json_t *ev = decision_event("sla_breach", dec);
                char *ev_text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(ev);
                pthread_mutex_lock(&svc->prep_lock);
                json_object_set_new(svc->prepared, key,
                                    json_pack("[I, I, I, o, o, s, s?]", (json_int_t)due,
                                              (json_int_t)gen,
                                              (json_int_t)jint(row, "rev", -1), doc, dec,
                                              text, ev_text));
                free(ev_text);
                pthread_mutex_unlock(&svc->prep_lock);
                doc = dec = NULL;
            }
            free(text);
            json_decref(row);
            json_decref(doc);
            json_decref(dec);
            json_decref(body);
        }
        json_decref(ps.todo);

        pthread_mutex_lock(&svc->prep_lock);
        if (svc->prep_stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PREPARE_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&svc->prep_wake, &svc->prep_lock, &until);
    }
    pthread_mutex_unlock(&svc->prep_lock);
    json_decref(seen);
    r->ops->close(r);
    return NULL;
}

/* Loads the ticket of a firing into c (row and document): the one read
 * ahead with its decision when it still holds (the same revision, second
 * and policy), else from the store. */
static int load_for_fire(ctx *c, const char *cause)
{
    service *svc = c->svc;
    json_t *p = NULL;
    if (svc->prep_running && has_prefix(cause, "respond:")) {
        char key[300];
        prepared_key(c->id, cause, key, sizeof(key));
        pthread_mutex_lock(&svc->prep_lock);
        p = json_incref(json_object_get(svc->prepared, key));
        if (p)
            json_object_del(svc->prepared, key);
        pthread_mutex_unlock(&svc->prep_lock);
    }
    int rc = svc->st->ops->ticket_get(svc->st, c->id, &c->row);
    if (rc == STORE_OK && p) {
        pthread_mutex_lock(&svc->policy_lock);
        uint64_t gen = svc->policy_gen;
        pthread_mutex_unlock(&svc->policy_lock);
        if (json_integer_value(json_array_get(p, 0)) == c->now &&
            (uint64_t)json_integer_value(json_array_get(p, 1)) == gen &&
            json_integer_value(json_array_get(p, 2)) == jint(c->row, "rev", -2) &&
            (c->probe_text = strdup(json_string_value(json_array_get(p, 5))))) {
            c->doc = json_incref(json_array_get(p, 3));
            c->probe = json_incref(json_array_get(p, 4));
            const char *ev = json_string_value(json_array_get(p, 6));
            c->probe_event = ev ? strdup(ev) : NULL;
        }
    }
    json_decref(p);
    if (rc == STORE_OK && !c->doc)
        rc = doc_of_row(svc->st, c->id, c->row, &c->doc);
    return rc;
}

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
    /* Marked fired when it is still armed and due: else a stale heap
     * entry (cancelled, fired, paused or moved since it was pushed). */
    rc = ops->timer_fire(svc->st, ticket, cause, c.now, &t);
    if (rc == STORE_NOTFOUND) {
        rc = STORE_OK;
        goto out;
    }
    int64_t due = jint(t, "due_at", 0);
    if (rc == STORE_OK)
        rc = load_for_fire(&c, cause);
    if (rc != STORE_OK)
        goto out;
    atomic_fetch_add(&svc->n_timers_fired, 1);
    const char *colon = strchr(cause, ':');
    sscanf(colon ? colon + 1 : "", "%" SCNd64 ".%" SCNd64 ".%" SCNd64, &e, &n, &k);
    int g = ops->escalation_open_get(svc->st, ticket, &esc);
    /* A level's timer counts while its level lasts; the resolution target
     * while its escalation is open. */
    bool current = g == STORE_OK && jint(esc, "id", 0) == e &&
                   (has_prefix(cause, "resolve:") || jint(esc, "levels", 0) == n);
    /* fired_ms: when it fired on the real clock, in milliseconds (the fire
     * lag is fired_ms - 1000 * due_at on the real clock). */
    struct timespec fired;
    clock_gettime(CLOCK_REALTIME, &fired);
    json_t *data = json_pack("{s:s, s:I, s:O, s:I}", "cause", cause, "due_at", (json_int_t)due,
                             "team", current ? json_object_get(esc, "team") : json_null(),
                             "fired_ms", (json_int_t)fired.tv_sec * 1000 + fired.tv_nsec / 1000000);
    /* The deadline as it stands (a paused clock moved it): one second
     * before a deadline's own timer, the open level's for a warning. */
    if (has_prefix(cause, "respond:") || has_prefix(cause, "resolve:")) {
        json_object_set_new(data, has_prefix(cause, "respond:") ? "respond_by" : "resolve_by",
                            json_integer(due - 1));
    } else if (has_prefix(cause, "warn:") && current &&
               json_is_integer(json_object_get(esc, "respond_by"))) {
        json_object_set(data, "respond_by", json_object_get(esc, "respond_by"));
    }
    if (!current) {
        json_decref(data); /* the level it was armed for is over */
    } else if (has_prefix(cause, "warn:")) {
        atomic_fetch_add(&svc->n_warnings, 1);
        rc = log_and_notify(&c, "sla_warning", cause, data);
    } else if (has_prefix(cause, "respond:")) {
        atomic_fetch_add(&svc->n_breaches, 1);
        rc = ops->level_mark(svc->st, e, "breached_at", c.now);
        if (rc == STORE_OK)
            rc = log_and_notify(&c, "sla_breach", cause, data);
        else
            json_decref(data);
        /* The policy sees the breach in its facts and may escalate further
         * (decided ahead when it could be). */
        if (c.probe) {
            atomic_fetch_add(&svc->n_decisions, 1);
            atomic_fetch_add(&svc->n_prepared, 1);
        }
        if (rc == STORE_OK && reevaluate(&c, "sla_breach", &body) != 0)
            rc = STORE_ERROR;
    } else if (has_prefix(cause, "follow_up:")) {
        atomic_fetch_add(&svc->n_follow_ups, 1);
        json_t *tdata = json_loads(jstr(t, "data") ? jstr(t, "data") : "{}", 0, NULL);
        json_object_set(data, "follow_up_team", json_object_get(tdata, "team"));
        json_decref(tdata);
        rc = log_and_notify(&c, "follow_up", cause, data);
    } else if (has_prefix(cause, "ack:") && strcmp(jstr(esc, "state"), "open") == 0) {
        atomic_fetch_add(&svc->n_ack_timeouts, 1);
        int64_t repeats = jint(esc, "ack_repeats", 0) + 1;
        json_object_set_new(esc, "ack_repeats", json_integer(repeats));
        const char *team = jstr(esc, "team"), *next = NULL;
        char above[256];
        chain_rank(svc, team, above, sizeof(above));
        if (above[0])
            next = above;
        json_object_set_new(data, "repeat", json_integer(repeats));
        json_object_set_new(data, "to", next ? json_string(next) : json_string(team));
        rc = ops->escalation_put(svc->st, esc);
        if (rc == STORE_OK)
            rc = log_and_notify(&c, "ack_timeout", cause, data);
        else
            json_decref(data);
        if (rc == STORE_OK && next) {
            /* Up the chain, with the response window of the next team
             * when it has one, else the same window as the level it leaves
             * (both in their calendar's hours). */
            char cal[128];
            int64_t respond_by = -1, rb = jint(esc, "respond_by", -1);
            int64_t own = clock_secs(svc, "teams", next, "respond_within");
            if (own >= 0) {
                clock_calendar(svc, "teams", next, cal, sizeof(cal));
                respond_by = biz_add(svc, cal, c.now, own);
            } else if (rb > 0) {
                json_t *td = json_loads(jstr(t, "data") ? jstr(t, "data") : "{}", 0, NULL);
                int64_t started = jint(td, "started_at", due - svc->cfg->ack_timeout);
                json_decref(td);
                window_calendar(svc, jstr(esc, "priority"), team, "respond_within", cal,
                                sizeof(cal));
                respond_by = biz_add(svc, cal, c.now, biz_between(svc, cal, started, rb));
            }
            char why[160];
            snprintf(why, sizeof(why), "ack_timeout: %s did not acknowledge", team);
            rc = escalate_to(&c, next, NULL, respond_by, why,
                             json_pack("{s:I}", "repeat", (json_int_t)repeats));
        } else if (rc == STORE_OK) {
            /* Nobody above: remind the same level again, a bounded number
             * of times. */
            rc = arm_ack(&c, esc, c.now);
        }
        if (rc == STORE_OK)
            rc = save_ticket(&c);
    } else if (has_prefix(cause, "resolve:")) {
        atomic_fetch_add(&svc->n_resolution_breaches, 1);
        json_object_set_new(esc, "resolution_breached_at", json_integer(c.now));
        rc = ops->escalation_put(svc->st, esc);
        if (rc == STORE_OK)
            rc = log_and_notify(&c, "resolution_breach", cause, data);
        else
            json_decref(data);
    } else {
        json_decref(data);
    }
out:
    /* The unit joins the open batch; run_due commits the timers it fired
     * together. */
    if (rc == STORE_OK && ops->release(svc->st) != STORE_OK)
        rc = STORE_ERROR;
    if (rc != STORE_OK) {
        fprintf(stderr, "escalator serve: timer %s %s: %s\n", ticket, cause,
                ops->errmsg(svc->st));
        ops->rollback(svc->st);
    }
    json_decref(t);
    json_decref(esc);
    json_decref(body);
    if (svc->prep_running) {
        /* Freeing a decision's and a document's values is a tenth of a
         * firing: the deciding thread does it on its next round. */
        pthread_mutex_lock(&svc->prep_lock);
        /* Appended, or freed here when that fails: either way not ours. */
        json_array_append_new(svc->spent, c.doc);
        json_array_append_new(svc->spent, c.decision);
        c.doc = c.decision = NULL;
        pthread_mutex_unlock(&svc->prep_lock);
    }
    ctx_free(&c);
}

/* Timers fired in one transaction at most: what comes due together shares
 * a commit, and no write waits long behind it. */
enum { FIRE_BATCH = 256 };

/* Fires every timer due by now, committing them in batches; the service
 * lock is held. Returns how many heap entries were looked at. */
static int run_due(service *svc)
{
    int n = 0, pending = 0;
    const timer_entry *top;
    while ((top = timer_heap_peek(&svc->heap)) && top->due <= service_now(svc)) {
        timer_entry e;
        timer_heap_pop(&svc->heap, &e);
        fire(svc, e.ticket, e.cause);
        timer_entry_free(&e);
        n++;
        if (++pending == FIRE_BATCH) {
            flush_batch(svc);
            notifier_wake(svc->notifier);
            pending = 0;
        }
    }
    if (pending) {
        flush_batch(svc);
        notifier_wake(svc->notifier);
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
    /* On the manual clock time moves only by request: nothing to foresee.
     * Started first: the timer thread reads prep_running. */
    if (!svc->manual && pthread_create(&svc->prep_thread, NULL, prepare_main, svc) == 0)
        svc->prep_running = true;
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
    /* What fired is committed before the answer. */
    int rc = fired ? flush_batch(svc) : STORE_OK;
    if (fired)
        notifier_wake(svc->notifier);
    pthread_mutex_unlock(&svc->lock);
    if (rc != STORE_OK)
        return store_fail(svc, body);
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
                int status = service_ticket_put(svc, doc, &body, NULL);
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
    pthread_mutex_init(&svc->batch_lock, NULL);
    pthread_cond_init(&svc->batch_done, NULL);
    pthread_mutex_init(&svc->readers_lock, NULL);
    pthread_mutex_init(&svc->prep_lock, NULL);
    pthread_cond_init(&svc->prep_wake, NULL);
    svc->prepared = json_object();
    svc->spent = json_array();
    pthread_key_create(&svc->engine_key, slot_free);
    timer_heap_init(&svc->heap);
    svc->manual = !strcmp(cfg->clock, "manual");
    atomic_store(&svc->manual_now, cfg->clock_start ? cfg->clock_start : (int64_t)time(NULL));

    if (load_policy(svc, &svc->policy, NULL) != 0) {
        service_free(&svc);
        return NULL;
    }
    svc->policy_gen = 1;
    if (policy_maps(svc, svc->policy, &svc->rules, &svc->clocks, &svc->notify_info) != 0) {
        service_free(&svc);
        return NULL;
    }
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
    if (svc->prep_running) {
        pthread_mutex_lock(&svc->prep_lock);
        svc->prep_stop = true;
        pthread_cond_signal(&svc->prep_wake);
        pthread_mutex_unlock(&svc->prep_lock);
        pthread_join(svc->prep_thread, NULL);
        /* prep_running stays set: the timer thread, still running, reads
         * it; the map it then finds no longer grows. */
    }
    if (svc->timer_running) {
        pthread_mutex_lock(&svc->lock);
        svc->stopping = true;
        pthread_cond_signal(&svc->wake);
        pthread_mutex_unlock(&svc->lock);
        pthread_join(svc->timer_thread, NULL);
    }
    notifier_free(&svc->notifier);
    for (size_t i = 0; i < svc->nreaders; i++)
        svc->readers[i]->ops->close(svc->readers[i]);
    free(svc->readers);
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
    json_decref(svc->clocks);
    pthread_mutex_destroy(&svc->lock);
    pthread_cond_destroy(&svc->wake);
    pthread_mutex_destroy(&svc->policy_lock);
    pthread_mutex_destroy(&svc->batch_lock);
    pthread_cond_destroy(&svc->batch_done);
    pthread_mutex_destroy(&svc->readers_lock);
    pthread_mutex_destroy(&svc->prep_lock);
    pthread_cond_destroy(&svc->prep_wake);
    json_decref(svc->prepared);
    json_decref(svc->spent);
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
    store *rd = reader_get(svc, body);
    if (!rd) {
        json_decref(filter);
        return 500;
    }
    int rc = rd->ops->deliveries_list(rd, filter, &rows);
    if (rc != STORE_OK)
        rc = reader_fail(rd, body);
    reader_put(svc, rd);
    json_decref(filter);
    if (rc != STORE_OK)
        return rc;
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
    store *rd = reader_get(svc, body);
    if (!rd)
        return 500;
    int rc = rd->ops->delivery_get(rd, id, &row);
    if (rc == STORE_ERROR)
        rc = reader_fail(rd, body);
    reader_put(svc, rd);
    if (rc == STORE_NOTFOUND)
        return fail(body, 404, "not_found", "", "no notification '%s'", sid);
    if (rc != STORE_OK)
        return rc;
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
            rc = commit_unit(svc);
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

/* A Zendesk change merged into the stored ticket, which is then written
 * back (and decided again) as by POST /v1/tickets. */
static int inbound_update(service *svc, const char *id, json_t *change, json_t **body)
{
    json_t *row = NULL, *doc = NULL;
    pthread_mutex_lock(&svc->lock);
    int g = load_ticket(svc, id, &row, &doc);
    pthread_mutex_unlock(&svc->lock);
    json_decref(row);
    if (g == STORE_NOTFOUND)
        return fail(body, 404, "not_found", "/detail/id", "no ticket '%s'", id);
    if (g != STORE_OK)
        return store_fail(svc, body);
    json_t *fields = json_object_get(doc, "fields");
    if (!json_is_object(fields)) {
        fields = json_object();
        json_object_set_new(doc, "fields", fields);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(change, "fields"), k, v)
    {
        if (json_is_null(v))
            json_object_del(fields, k); /* cleared in Zendesk */
        else
            json_object_set(fields, k, v);
    }
    if (json_object_get(change, "level"))
        json_object_set(doc, "level", json_object_get(change, "level"));
    json_t *add = json_object_get(change, "tags_added"), *del = json_object_get(change, "tags_removed");
    if (add || del) {
        json_t *old = json_object_get(fields, "zendesk_tags"), *t, *u, *tags = json_array();
        size_t i, j;
        json_array_foreach(json_is_array(old) ? old : NULL, i, t)
        {
            bool gone = false;
            json_array_foreach(del, j, u) gone |= json_equal(t, u);
            if (!gone)
                json_array_append(tags, t);
        }
        json_array_foreach(add, i, t)
        {
            bool have = !json_is_string(t);
            json_array_foreach(tags, j, u) have |= json_equal(t, u);
            if (!have)
                json_array_append(tags, t);
        }
        json_object_set_new(fields, "zendesk_tags", tags);
    }
    int status = service_ticket_put(svc, doc, body, NULL);
    json_decref(doc);
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
            status = service_ticket_put(svc, op_body, &res, NULL);
        }
    } else if (op == INBOUND_MESSAGE) {
        status = service_message_add(svc, ticket, op_body, &res, NULL);
    } else if (op == INBOUND_UPDATE) {
        status = inbound_update(svc, ticket, op_body, &res);
    } else {
        status = service_event_add(svc, ticket, op_body, &res, NULL);
        const char *code = jstr(json_object_get(res, "error"), "code");
        if (status == 409 && code &&
            (!strcmp(code, "not_escalated") || !strcmp(code, "wrong_level"))) {
            /* An agent assigned where nothing is escalated: nothing to
             * acknowledge, and nothing for Zendesk to retry. */
            *body = json_pack("{s:s, s:s, s:b, s:O}", "event", type, "ticket", ticket,
                              "applied", 0, "reason", json_object_get(res, "error"));
            json_decref(res);
            json_decref(op_body);
            json_decref(payload);
            return 200;
        }
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
