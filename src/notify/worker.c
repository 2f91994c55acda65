/*
 * worker.c - the delivery thread (see notify.h).
 *
 * One thread drives a libcurl multi handle: it claims due deliveries (a row
 * goes to 'sending' with its attempt counted before anything is sent),
 * runs up to notify_concurrency attempts at once, and records each result
 * in its own short write. The service's lock is never taken: the worker has
 * its own store connection, so a slow receiver never blocks the engine.
 *
 * Rate limit: a (channel, recipient) that was sent notify_rate_limit
 * messages within notify_rate_window has further ones held; when the
 * oldest of the window ages out, everything held for it goes as one digest.
 */
#include "notify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "escalator.h"

typedef struct attempt {
    struct attempt *next;
    CURL *easy;
    json_t *row;
    notify_request rq;
    struct curl_slist *headers, *rcpt;
    size_t upload_off;
    char errbuf[CURL_ERROR_SIZE];
    char resp[512];
    size_t resp_len;
} attempt;

/* The channels counted in the metrics, and "other" for the rest. */
static const char *const metric_channels[] = {"slack", "email", "pager", "webhook", "phone",
                                              "dashboard", "sms", "customer", "other"};
#define N_METRIC_CHANNELS (sizeof(metric_channels) / sizeof(metric_channels[0]))
enum { M_DELIVERED, M_FAILED, M_RETRIED, M_DEAD, N_OUTCOMES };

struct notifier {
    /* Attempts and their outcomes by channel, since the start. */
    _Atomic uint64_t counts[N_METRIC_CHANNELS][N_OUTCOMES];
    const server_config *cfg;
    store *st;
    notify_routes *routes;
    pthread_mutex_t routes_lock; /* routes are replaced on a reload */
    CURLM *multi;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    attempt *flying;
    size_t n_flying;
    unsigned rng;
};

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t jint(json_t *o, const char *k, int64_t def)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "escalator serve: notify: %s\n", msg);
}

/* Writes the row's state columns; a failure is logged and left for the
 * restart (the row stays as it was, at worst sent once more). */
static void save(notifier *n, json_t *row)
{
    json_object_set_new(row, "updated_ms", json_integer(notify_now_ms()));
    if (n->st->ops->delivery_update(n->st, row) != STORE_OK)
        say("delivery %" PRId64 ": %s", jint(row, "id", 0), n->st->ops->errmsg(n->st));
}

static void count(notifier *n, json_t *row, int outcome)
{
    const char *ch = jstr(row, "channel");
    size_t i = 0;
    while (i + 1 < N_METRIC_CHANNELS && !(ch && !strcmp(ch, metric_channels[i])))
        i++;
    atomic_fetch_add(&n->counts[i][outcome], 1);
}

void notifier_metrics(notifier *n, FILE *f)
{
    static const char *const names[N_OUTCOMES][2] = {
        {"delivered", "Notifications delivered, by channel."},
        {"failed", "Delivery attempts that failed, by channel."},
        {"retried", "Failed attempts put back for a retry, by channel."},
        {"dead_lettered", "Notifications given up on (the dead letter), by channel."}};
    for (int o = 0; o < N_OUTCOMES; o++) {
        fprintf(f, "# HELP escalator_notifications_%s_total %s\n"
                   "# TYPE escalator_notifications_%s_total counter\n",
                names[o][0], names[o][1], names[o][0]);
        for (size_t i = 0; i < N_METRIC_CHANNELS; i++)
            fprintf(f, "escalator_notifications_%s_total{channel=\"%s\"} %" PRIu64 "\n",
                    names[o][0], metric_channels[i],
                    n ? (uint64_t)atomic_load(&n->counts[i][o]) : 0);
    }
}

static void set_error(json_t *row, const char *reason)
{
    json_object_set_new(row, "last_error", json_string(reason));
}

/* A delivery that can never go as it stands. */
static void dead_letter(notifier *n, json_t *row, const char *reason)
{
    count(n, row, M_FAILED);
    count(n, row, M_DEAD);
    json_object_set_new(row, "state", json_string("failed"));
    set_error(row, reason);
    save(n, row);
    say("delivery %" PRId64 " (%s %s) failed: %s", jint(row, "id", 0), jstr(row, "channel"),
        jstr(row, "recipient"), reason);
}

/* After a failed attempt: again later, or the dead letter. */
static void retry_or_fail(notifier *n, json_t *row, const char *reason)
{
    int64_t attempts = jint(row, "attempts", 1);
    if (attempts >= n->cfg->notify_max_attempts) {
        char why[900];
        snprintf(why, sizeof(why), "gave up after %" PRId64 " attempts: %s", attempts, reason);
        dead_letter(n, row, why);
        return;
    }
    /* Exponential backoff with jitter: between half and all of
     * base * 2^(attempts - 1), at most notify_backoff_max. */
    int64_t base = n->cfg->notify_backoff * 1000, max = n->cfg->notify_backoff_max * 1000;
    int64_t d = base;
    for (int64_t i = 1; i < attempts && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    int64_t wait = d / 2 + (int64_t)(rand_r(&n->rng) % (unsigned)(d / 2 + 1));
    count(n, row, M_FAILED);
    count(n, row, M_RETRIED);
    json_object_set_new(row, "state", json_string("pending"));
    json_object_set_new(row, "next_attempt_ms", json_integer(notify_now_ms() + wait));
    set_error(row, reason);
    save(n, row);
    say("delivery %" PRId64 " (%s %s) attempt %" PRId64 " failed: %s; next in %.1fs",
        jint(row, "id", 0), jstr(row, "channel"), jstr(row, "recipient"), attempts, reason,
        (double)wait / 1000.0);
}

/* ---- one attempt ------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
    attempt *a = p;
    size_t n = size * nmemb, room = sizeof(a->resp) - 1 - a->resp_len;
    size_t take = n < room ? n : room;
    memcpy(a->resp + a->resp_len, data, take);
    a->resp_len += take;
    a->resp[a->resp_len] = '\0';
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *p)
{
    attempt *a = p;
    size_t len = strlen(a->rq.body), left = len - a->upload_off, n = size * nmemb;
    if (n > left)
        n = left;
    memcpy(buf, a->rq.body + a->upload_off, n);
    a->upload_off += n;
    return n;
}

static void attempt_free(attempt *a)
{
    if (!a)
        return;
    if (a->easy)
        curl_easy_cleanup(a->easy);
    curl_slist_free_all(a->headers);
    curl_slist_free_all(a->rcpt);
    notify_request_clear(&a->rq);
    json_decref(a->row);
    free(a);
}

static bool add_header(attempt *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool add_header(attempt *a, const char *fmt, ...)
{
    char h[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h, sizeof(h), fmt, ap);
    va_end(ap);
    struct curl_slist *l = curl_slist_append(a->headers, h);
    if (!l)
        return false;
    a->headers = l;
    return true;
}

/* Starts the attempt; on failure the row is already dealt with. */
static void start(notifier *n, json_t *row)
{
    char err[900] = "";
    attempt *a = calloc(1, sizeof(*a));
    if (!a) {
        retry_or_fail(n, row, "out of memory");
        return;
    }
    a->row = json_incref(row);
    pthread_mutex_lock(&n->routes_lock);
    int built = notify_request_build(n->routes, row, &a->rq, err, sizeof(err));
    pthread_mutex_unlock(&n->routes_lock);
    if (built != 0) {
        json_object_set_new(row, "attempts", json_integer(jint(row, "attempts", 0) + 1));
        dead_letter(n, row, err);
        attempt_free(a);
        return;
    }
    /* Claimed: the attempt counts before anything goes out, so that a
     * crash during it shows, and the restart sends it again. */
    int64_t now = notify_now_ms();
    json_object_set_new(row, "state", json_string("sending"));
    json_object_set_new(row, "attempts", json_integer(jint(row, "attempts", 0) + 1));
    json_object_set_new(row, "sent_ms", json_integer(now));
    save(n, row);

    CURL *e = a->easy = curl_easy_init();
    if (!e) {
        retry_or_fail(n, row, "cannot create a curl handle");
        attempt_free(a);
        return;
    }
    long timeout = (long)n->cfg->notify_timeout * 1000;
    curl_easy_setopt(e, CURLOPT_URL, a->rq.url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    bool mail = !strcmp(a->rq.kind, "email") || !strcmp(a->rq.kind, "customer");
    const char *key = jstr(row, "idempotency_key");
    if (mail) {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, a->rq.mail_from);
        for (size_t i = 0; i < a->rq.n_rcpt; i++) {
            struct curl_slist *l = curl_slist_append(a->rcpt, a->rq.rcpt[i]);
            if (l)
                a->rcpt = l;
        }
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, a->rcpt);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(e, CURLOPT_READDATA, a);
        if (a->rq.username)
            curl_easy_setopt(e, CURLOPT_USERNAME, a->rq.username);
        if (a->rq.password)
            curl_easy_setopt(e, CURLOPT_PASSWORD, a->rq.password);
        if (!strncmp(a->rq.url, "smtp://", 7) && a->rq.username)
            curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    } else {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->rq.body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(a->rq.body));
        bool ok = add_header(a, "Content-Type: %s", a->rq.content_type) &&
                  add_header(a, "User-Agent: escalator/%s", esc_version()) &&
                  add_header(a, "Expect:") && add_header(a, "Idempotency-Key: %s", key) &&
                  add_header(a, "X-Escalator-Event: %s", jstr(row, "event")) &&
                  add_header(a, "X-Escalator-Delivery: %" PRId64, jint(row, "id", 0)) &&
                  add_header(a, "X-Escalator-Attempt: %" PRId64, jint(row, "attempts", 1));
        if (ok && a->rq.secret && *a->rq.secret) {
            /* Signed like Stripe's webhooks: the timestamp is part of what
             * is signed, so an old request cannot be replayed later. */
            int64_t ts = now / 1000;
            char sig[160];
            notify_sign(a->rq.secret, ts, a->rq.body, strlen(a->rq.body), sig, sizeof(sig));
            ok = add_header(a, "X-Escalator-Timestamp: %" PRId64, ts) &&
                 add_header(a, "X-Escalator-Signature: %s", sig);
        }
        if (!ok) {
            retry_or_fail(n, row, "out of memory");
            attempt_free(a);
            return;
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
    }
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK) {
        retry_or_fail(n, row, "cannot start the transfer");
        attempt_free(a);
        return;
    }
    a->next = n->flying;
    n->flying = a;
    n->n_flying++;
}

/* Records how an attempt ended. */
static void finish(notifier *n, attempt *a, CURLcode res)
{
    long code = 0;
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
    json_t *row = a->row;
    bool mail = !strcmp(a->rq.kind, "email") || !strcmp(a->rq.kind, "customer");
    char reason[900];
    if (res == CURLE_OK && (mail || (code >= 200 && code < 300))) {
        json_object_set_new(row, "state", json_string("delivered"));
        json_object_set_new(row, "delivered_ms", json_integer(notify_now_ms()));
        json_object_set_new(row, "last_error", json_null());
        save(n, row);
        count(n, row, M_DELIVERED);
        return;
    }
    if (res != CURLE_OK) {
        snprintf(reason, sizeof(reason), "%s: %s (%s)", a->rq.endpoint ? a->rq.endpoint : "",
                 a->errbuf[0] ? a->errbuf : curl_easy_strerror(res), curl_easy_strerror(res));
        /* An SMTP server's 5xx (a refused recipient, say) will not change
         * by asking again. */
        if (mail && code >= 500) {
            dead_letter(n, row, reason);
            return;
        }
        retry_or_fail(n, row, reason);
        return;
    }
    for (size_t i = 0; i < a->resp_len; i++)
        if (a->resp[i] == '\n' || a->resp[i] == '\r')
            a->resp[i] = ' ';
    snprintf(reason, sizeof(reason), "%s: HTTP %ld%s%.200s", a->rq.endpoint ? a->rq.endpoint : "",
             code, a->resp_len ? ": " : "", a->resp);
    if (code >= 500 || code == 408 || code == 425 || code == 429)
        retry_or_fail(n, row, reason);
    else
        dead_letter(n, row, reason); /* 3xx, 4xx: the same request would fail again */
}

/* ---- the rate limit and its digests ------------------------------------------ */

static const char *const sev_order[] = {"critical", "error", "warning", "info", NULL};

static int sev_rank(const char *s)
{
    for (int i = 0; sev_order[i]; i++)
        if (s && !strcmp(s, sev_order[i]))
            return i;
    return 1;
}

/* Folds everything held for (channel, recipient) into one digest
 * delivery. */
static void digest(notifier *n, const char *channel, const char *recipient)
{
    store *st = n->st;
    json_t *filter = json_pack("{s:s, s:s, s:s, s:i}", "state", "held", "channel", channel,
                               "recipient", recipient, "limit", 1000);
    json_t *rows = NULL, *r;
    size_t i;
    int rc = st->ops->begin(st);
    if (rc == STORE_OK)
        rc = st->ops->deliveries_list(st, filter, &rows);
    json_decref(filter);
    if (rc != STORE_OK || json_array_size(rows) == 0) {
        st->ops->rollback(st);
        json_decref(rows);
        return;
    }
    size_t count = json_array_size(rows);
    json_t *items = json_array();
    char head[300];
    snprintf(head, sizeof(head),
             "%zu notification%s held back by the rate limit (%" PRId64 " per %" PRId64
             "s to %s):\n",
             count, count == 1 ? "" : "s", n->cfg->notify_rate_limit,
             n->cfg->notify_rate_window, recipient);
    size_t tlen = strlen(head) + 1;
    char *text = strdup(head);
    int best = 3;
    json_array_foreach(rows, i, r)
    {
        json_t *msg = json_loads(jstr(r, "message") ? jstr(r, "message") : "{}", 0, NULL);
        const char *t = jstr(msg, "text") ? jstr(msg, "text") : "";
        size_t line = strcspn(t, "\n");
        int rank = sev_rank(jstr(msg, "severity"));
        if (rank < best)
            best = rank;
        json_array_append_new(
            items, json_pack("{s:O, s:O, s:O, s:s#}", "idempotency_key",
                             json_object_get(r, "idempotency_key"), "ticket",
                             json_object_get(r, "ticket_id"), "event",
                             json_object_get(r, "event"), "text", t, (int)strlen(t)));
        char *grown = text ? realloc(text, tlen + line + 8) : NULL;
        if (grown) {
            text = grown;
            size_t cur = strlen(text);
            snprintf(text + cur, line + 8, "\n- %.*s", (int)line, t);
            tlen = strlen(text) + 1;
        }
        json_decref(msg);
    }
    json_t *first = json_array_get(rows, 0), *last = json_array_get(rows, count - 1);
    char key[1024], subject[300];
    snprintf(key, sizeof(key), "digest:%s:%s:%" PRId64 "-%" PRId64, channel, recipient,
             jint(first, "id", 0), jint(last, "id", 0));
    snprintf(subject, sizeof(subject), "Digest: %zu escalator notifications", count);
    int64_t now = notify_now_ms();
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:s}}", "event", "digest", "text",
                            text ? text : head, "subject", subject, "severity",
                            sev_order[best], "items", items, "ticket", "id", "digest");
    free(text);
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:I, s:I, s:I}",
                            "idempotency_key", key, "ticket_id",
                            jstr(first, "ticket_id"), "event", "digest", "channel", channel,
                            "recipient", recipient, "fact", key, "message", msg, "state",
                            "pending", "next_attempt_ms", (json_int_t)now, "created_at",
                            (json_int_t)jint(last, "created_at", 0), "updated_ms",
                            (json_int_t)now);
    json_decref(msg);
    rc = st->ops->delivery_add(st, row);
    int64_t did = jint(row, "id", 0);
    json_array_foreach(rows, i, r)
    {
        if (rc != STORE_OK)
            break;
        json_object_set_new(r, "state", json_string("digested"));
        json_object_set_new(r, "digest_id", json_integer(did));
        json_object_set_new(r, "updated_ms", json_integer(now));
        rc = st->ops->delivery_update(st, r);
    }
    if (rc == STORE_OK)
        rc = st->ops->commit(st);
    if (rc != STORE_OK) {
        say("digest for %s %s: %s", channel, recipient, st->ops->errmsg(st));
        st->ops->rollback(st);
    } else {
        say("%zu held notifications for %s %s folded into digest %" PRId64, count, channel,
            recipient, did);
    }
    json_decref(row);
    json_decref(rows);
}

/* True when the row was held back by the rate limit. */
static bool over_limit(notifier *n, json_t *row)
{
    int64_t limit = n->cfg->notify_rate_limit;
    if (limit <= 0 || !strcmp(jstr(row, "event"), "digest"))
        return false;
    int64_t window = n->cfg->notify_rate_window * 1000, now = notify_now_ms();
    int64_t count = 0, oldest = now;
    if (n->st->ops->delivery_recent(n->st, jstr(row, "channel"), jstr(row, "recipient"),
                                    now - window, &count, &oldest) != STORE_OK)
        return false;
    if (count < limit)
        return false;
    json_object_set_new(row, "state", json_string("held"));
    json_object_set_new(row, "next_attempt_ms", json_integer(oldest + window + 1));
    set_error(row, "held by the rate limit: goes out in the next digest");
    save(n, row);
    return true;
}

/* ---- the loop ---------------------------------------------------------------- */

static void claim(notifier *n)
{
    size_t room = (size_t)n->cfg->notify_concurrency - n->n_flying;
    if (room == 0)
        return;
    json_t *rows = NULL, *r;
    size_t i;
    if (n->st->ops->deliveries_due(n->st, notify_now_ms(), (int64_t)room, &rows) != STORE_OK) {
        say("%s", n->st->ops->errmsg(n->st));
        return;
    }
    json_array_foreach(rows, i, r)
    {
        if (!strcmp(jstr(r, "state"), "held")) {
            digest(n, jstr(r, "channel"), jstr(r, "recipient"));
            continue;
        }
        if (over_limit(n, r))
            continue;
        start(n, r);
    }
    json_decref(rows);
}

static void reap(notifier *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        attempt *a = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
        CURLcode res = m->data.result;
        curl_multi_remove_handle(n->multi, m->easy_handle);
        for (attempt **p = &n->flying; *p; p = &(*p)->next)
            if (*p == a) {
                *p = a->next;
                break;
            }
        n->n_flying--;
        finish(n, a, res);
        attempt_free(a);
    }
}

static void *worker_main(void *arg)
{
    notifier *n = arg;
    while (!atomic_load(&n->stop)) {
        claim(n);
        int running = 0;
        curl_multi_perform(n->multi, &running);
        reap(n);
        int64_t next = 0, now = notify_now_ms();
        int wait = 1000;
        if (n->n_flying < (size_t)n->cfg->notify_concurrency &&
            n->st->ops->delivery_next(n->st, &next) == STORE_OK)
            wait = next <= now ? 0 : next - now < 1000 ? (int)(next - now) : 1000;
        /* A few milliseconds at least: a row that stays due (its store
         * write failed) must not spin the thread. */
        curl_multi_poll(n->multi, NULL, 0, wait > 5 ? wait : 5, NULL);
    }
    return NULL;
}

/* ---- life cycle -------------------------------------------------------------- */

notifier *notifier_new(const server_config *cfg)
{
    char err[700];
    notifier *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->cfg = cfg;
    n->rng = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)n;
    pthread_mutex_init(&n->routes_lock, NULL);
    if (!(n->routes = notify_routes_load(cfg->notify_routes, err, sizeof(err)))) {
        fprintf(stderr, "escalator serve: notify_routes: %s\n", err);
        pthread_mutex_destroy(&n->routes_lock);
        free(n);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    n->st = store_sqlite_open(cfg->db, cfg->synchronous, err, sizeof(err));
    n->multi = n->st ? curl_multi_init() : NULL;
    if (!n->st || !n->multi) {
        fprintf(stderr, "escalator serve: notify: %s\n", n->st ? "cannot start libcurl" : err);
        notifier_free(&n);
        return NULL;
    }
    /* What the last process claimed and did not confirm goes again. */
    if (n->st->ops->deliveries_requeue(n->st, notify_now_ms()) != STORE_OK)
        say("%s", n->st->ops->errmsg(n->st));
    return n;
}

int notifier_start(notifier *n)
{
    if (pthread_create(&n->thread, NULL, worker_main, n) != 0)
        return -1;
    n->running = true;
    return 0;
}

void notifier_set_routes(notifier *n, notify_routes *routes)
{
    pthread_mutex_lock(&n->routes_lock);
    notify_routes *old = n->routes;
    n->routes = routes;
    pthread_mutex_unlock(&n->routes_lock);
    notify_routes_free(&old);
}

void notifier_wake(notifier *n)
{
    if (n && n->multi)
        curl_multi_wakeup(n->multi);
}

void notifier_free(notifier **pn)
{
    notifier *n = *pn;
    if (!n)
        return;
    if (n->running) {
        atomic_store(&n->stop, true);
        curl_multi_wakeup(n->multi);
        pthread_join(n->thread, NULL);
    }
    while (n->flying) {
        attempt *a = n->flying;
        n->flying = a->next;
        curl_multi_remove_handle(n->multi, a->easy);
        attempt_free(a);
    }
    if (n->multi)
        curl_multi_cleanup(n->multi);
    if (n->st)
        n->st->ops->close(n->st);
    notify_routes_free(&n->routes);
    pthread_mutex_destroy(&n->routes_lock);
    curl_global_cleanup();
    free(n);
    *pn = NULL;
}
