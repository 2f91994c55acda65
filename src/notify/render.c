/*
 * render.c - from a delivery row and its route to what goes on the wire:
 * generic webhook JSON, Slack incoming-webhook JSON (mrkdwn escaped),
 * PagerDuty Events API v2 JSON, or a plain-text e-mail (RFC 5322).
 */
#include "notify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escalator.h"

/* ---- a growing string ----------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->oom = true;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* The finished string (malloc'ed), or NULL when memory ran out. */
static char *sb_done(sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        return strdup("");
    return b->s;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- templates -------------------------------------------------------------- */

static json_t *lookup(json_t *ctx, const char *path, size_t n)
{
    json_t *v = ctx;
    const char *p = path, *end = path + n;
    while (p < end && v) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char key[128];
        if (len == 0 || len >= sizeof(key))
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        p += len + (dot ? 1 : 0);
    }
    return v;
}

static void add_value(sbuf *b, json_t *v)
{
    char num[64];
    size_t i;
    json_t *x;
    switch (json_typeof(v)) {
    case JSON_STRING: sb_add(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        sb_puts(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof(num), "%g", json_real_value(v));
        sb_puts(b, num);
        break;
    case JSON_TRUE: sb_puts(b, "true"); break;
    case JSON_FALSE: sb_puts(b, "false"); break;
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            if (i)
                sb_puts(b, ", ");
            add_value(b, x);
        }
        break;
    default: {
        char *t = json_dumps(v, JSON_COMPACT);
        sb_puts(b, t ? t : "");
        free(t);
    }
    }
}

char *notify_template(const char *tmpl, json_t *ctx, char *err, size_t size)
{
    sbuf b = {0};
    const char *p = tmpl ? tmpl : "";
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            sb_puts(&b, p);
            break;
        }
        sb_add(&b, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            sb_puts(&b, open);
            break;
        }
        const char *s = open + 2, *e = close;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        const char *bar = memchr(s, '|', (size_t)(e - s));
        json_t *v = lookup(ctx, s, (size_t)((bar ? bar : e) - s));
        if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v))) {
            add_value(&b, v);
        } else if (bar) {
            sb_add(&b, bar + 1, (size_t)(e - bar - 1));
        } else {
            snprintf(err, size, "template: no value for '%.*s'", (int)(e - s), s);
            free(b.s);
            return NULL;
        }
        p = close + 2;
    }
    char *out = sb_done(&b);
    if (!out)
        snprintf(err, size, "out of memory");
    return out;
}

char *notify_slack_escape(const char *text)
{
    sbuf b = {0};
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '&')
            sb_puts(&b, "&amp;");
        else if (*p == '<')
            sb_puts(&b, "&lt;");
        else if (*p == '>')
            sb_puts(&b, "&gt;");
        else if (*p == '@' && (p == text || !isalnum((unsigned char)p[-1])) &&
                 (!strncmp(p + 1, "channel", 7) || !strncmp(p + 1, "here", 4) ||
                  !strncmp(p + 1, "everyone", 8))) {
            size_t n = !strncmp(p + 1, "channel", 7) ? 7 : !strncmp(p + 1, "here", 4) ? 4 : 8;
            if (isalnum((unsigned char)p[1 + n]) || p[1 + n] == '_') {
                sb_add(&b, p, 1);
                continue;
            }
            /* Slack's special mentions: <!channel>, <!here>, <!everyone>. */
            sb_puts(&b, "<!");
            sb_add(&b, p + 1, n);
            sb_puts(&b, ">");
            p += n;
        } else {
            sb_add(&b, p, 1);
        }
    }
    return sb_done(&b);
}

const char *notify_default_kind(const char *channel)
{
    if (!strcmp(channel, "slack"))
        return "slack";
    if (!strcmp(channel, "pager") || !strcmp(channel, "phone"))
        return "pager";
    if (!strcmp(channel, "email"))
        return "email";
    if (!strcmp(channel, "customer"))
        return "customer";
    return "webhook";
}

/* ---- requests --------------------------------------------------------------- */

void notify_request_clear(notify_request *rq)
{
    free(rq->kind);
    free(rq->url);
    free(rq->body);
    free(rq->content_type);
    free(rq->secret);
    free(rq->mail_from);
    for (size_t i = 0; i < rq->n_rcpt; i++)
        free(rq->rcpt[i]);
    free(rq->rcpt);
    free(rq->username);
    free(rq->password);
    free(rq->endpoint);
    memset(rq, 0, sizeof(*rq));
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* scheme://host[:port] of a URL: what may be shown (a Slack webhook's
 * path is its secret). */
static char *url_origin(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return strdup("?");
    p += 3;
    const char *at = NULL, *q = p;
    while (*q && *q != '/' && *q != '?' && *q != '#') {
        if (*q == '@')
            at = q;
        q++;
    }
    const char *host = at ? at + 1 : p;
    size_t scheme = (size_t)(p - url);
    char *out = malloc(scheme + (size_t)(q - host) + 1);
    if (!out)
        return NULL;
    memcpy(out, url, scheme);
    memcpy(out + scheme, host, (size_t)(q - host));
    out[scheme + (size_t)(q - host)] = '\0';
    return out;
}

/* A header value on one line: CR and LF become spaces. */
static void header_value(sbuf *b, const char *s)
{
    bool ascii = true;
    for (const char *p = s; *p; p++)
        ascii &= (unsigned char)*p < 0x80;
    if (ascii) {
        for (const char *p = s; *p; p++)
            sb_add(b, (*p == '\r' || *p == '\n') ? " " : p, 1);
        return;
    }
    /* RFC 2047, in chunks that stay under the line limit and never split
     * a UTF-8 sequence. */
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;
        while (take < n - i && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        char tmp[64], enc[100];
        size_t k = 0;
        for (size_t j = 0; j < take; j++)
            tmp[k++] = (s[i + j] == '\r' || s[i + j] == '\n') ? ' ' : s[i + j];
        notify_base64((const unsigned char *)tmp, k, enc);
        if (!first)
            sb_puts(b, "\r\n ");
        sb_puts(b, "=?UTF-8?B?");
        sb_puts(b, enc);
        sb_puts(b, "?=");
        first = false;
        i += take;
    }
}

/* The body with CRLF line ends (what SMTP carries). */
static void crlf_body(sbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            sb_puts(b, "\r\n");
        else
            sb_add(b, p, 1);
    }
    sb_puts(b, "\r\n");
}

/* What the templates of a route see: the message, with the row's
 * channel, to, idempotency_key and event beside it. */
static json_t *template_ctx(json_t *row, json_t *msg)
{
    json_t *ctx = json_is_object(msg) ? json_copy(msg) : json_object();
    json_object_set(ctx, "channel", json_object_get(row, "channel"));
    json_object_set(ctx, "to", json_object_get(row, "recipient"));
    json_object_set(ctx, "idempotency_key", json_object_get(row, "idempotency_key"));
    json_object_set(ctx, "event", json_object_get(row, "event"));
    return ctx;
}

static int build_mail(const notify_routes *routes, json_t *route, json_t *row,
                      json_t *msg, json_t *ctx, bool customer, notify_request *rq,
                      char *err, size_t size)
{
    json_t *smtp = notify_routes_smtp(routes);
    if (!smtp) {
        snprintf(err, size, "no SMTP relay: the routes file has no \"smtp\" section");
        return -1;
    }
    const char *recipient = jstr(row, "recipient");
    json_t *addrs = route ? json_object_get(route, "addresses") : NULL, *a;
    size_t i;
    json_t *list = json_array();
    if (json_array_size(addrs)) {
        json_array_foreach(addrs, i, a) json_array_append(list, a);
    } else if (customer || (recipient && !strcmp(recipient, "customer"))) {
        json_array_append_new(list, json_string("{{ticket.customer.email}}"));
    } else if (recipient && strchr(recipient, '@')) {
        json_array_append_new(list, json_string(recipient));
    } else {
        json_decref(list);
        snprintf(err, size, "no address for email recipient '%s': give its route "
                            "\"addresses\"", recipient ? recipient : "");
        return -1;
    }
    rq->n_rcpt = json_array_size(list);
    rq->rcpt = calloc(rq->n_rcpt, sizeof(char *));
    sbuf to = {0};
    json_array_foreach(list, i, a)
    {
        char *addr = notify_template(json_string_value(a), ctx, err, size);
        if (!addr) {
            json_decref(list);
            free(to.s);
            return -1;
        }
        if (!strchr(addr, '@') || strpbrk(addr, "\r\n<>, ")) {
            snprintf(err, size, "'%s' is not an e-mail address", addr);
            free(addr);
            json_decref(list);
            free(to.s);
            return -1;
        }
        if (i)
            sb_puts(&to, ", ");
        sb_puts(&to, addr);
        rq->rcpt[i] = addr;
    }
    json_decref(list);

    if (customer && !jstr(msg, "customer_message")) {
        /* Never the internal text: the customer hears what the policy
         * wrote for them, or nothing. */
        snprintf(err, size, "the decision has no customer message for this ticket");
        return -1;
    }
    const char *text = customer ? jstr(msg, "customer_message") : jstr(msg, "text");
    char *subject = NULL;
    char *body_owned = NULL;
    const char *body = text ? text : "";
    /* A text that opens with "Subject: ..." (as the seeds' e-mail templates
     * do) carries its own subject line. */
    if (!strncmp(body, "Subject:", 8)) {
        const char *nl = strchr(body, '\n');
        size_t n = nl ? (size_t)(nl - body) : strlen(body);
        subject = strndup(body + 8, n - 8);
        body = nl ? nl + 1 : "";
        while (*body == '\n' || *body == '\r')
            body++;
    }
    const char *rsub = route ? jstr(route, "subject") : NULL;
    if (rsub) {
        free(subject);
        subject = notify_template(rsub, ctx, err, size);
        if (!subject) {
            free(to.s);
            return -1;
        }
    }
    if (!subject) {
        const char *d = customer ? jstr(msg, "customer_subject") : jstr(msg, "subject");
        subject = strdup(d ? d : "escalator notification");
    }
    char *trimmed = subject;
    while (*trimmed == ' ')
        trimmed++;

    const char *from = jstr(smtp, "from") ? jstr(smtp, "from") : "escalator@localhost";
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    /* The Message-ID is a function of the idempotency key: a receiver
     * that sees the same one twice can drop the copy. */
    unsigned char mac[32];
    const char *key = jstr(row, "idempotency_key") ? jstr(row, "idempotency_key") : "";
    notify_hmac_sha256("escalator-message-id", 20, key, strlen(key), mac);
    char mid[40];
    for (int j = 0; j < 16; j++)
        snprintf(mid + 2 * j, 3, "%02x", mac[j]);

    sbuf m = {0};
    sb_puts(&m, "From: ");
    header_value(&m, from);
    sb_puts(&m, "\r\nTo: ");
    header_value(&m, to.s ? to.s : "");
    sb_puts(&m, "\r\nSubject: ");
    header_value(&m, trimmed);
    sb_puts(&m, "\r\nDate: ");
    sb_puts(&m, date);
    sb_puts(&m, "\r\nMessage-ID: <");
    sb_puts(&m, mid);
    sb_puts(&m, "@escalator>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\nX-Escalator-Idempotency-Key: ");
    header_value(&m, key);
    sb_puts(&m, "\r\nX-Escalator-Event: ");
    header_value(&m, jstr(row, "event") ? jstr(row, "event") : "");
    sb_puts(&m, "\r\n\r\n");
    crlf_body(&m, body);
    free(subject);
    free(body_owned);

    rq->body = sb_done(&m);
    rq->url = strdup(jstr(smtp, "url"));
    /* The envelope sender is the bare address of "Name <address>". */
    const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    rq->mail_from = lt && gt ? strndup(lt + 1, (size_t)(gt - lt - 1)) : strdup(from);
    rq->username = dup_or_null(jstr(smtp, "username"));
    rq->password = dup_or_null(jstr(smtp, "password"));
    char *origin = url_origin(rq->url);
    size_t elen = strlen(origin ? origin : "") + (to.s ? strlen(to.s) : 0) + 8;
    rq->endpoint = malloc(elen);
    if (rq->endpoint)
        snprintf(rq->endpoint, elen, "%s to %s", origin ? origin : "", to.s ? to.s : "");
    free(origin);
    free(to.s);
    if (!rq->body || !rq->url || !rq->mail_from) {
        snprintf(err, size, "out of memory");
        return -1;
    }
    return 0;
}

/* The first line of text, at most max bytes (PagerDuty's summary). */
static json_t *first_line(const char *text, size_t max)
{
    const char *t = text ? text : "";
    while (*t == '\n')
        t++;
    size_t n = strcspn(t, "\n");
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--;
    }
    return json_stringn(t, n);
}

int notify_request_build(const notify_routes *routes, json_t *row,
                         notify_request *rq, char *err, size_t size)
{
    memset(rq, 0, sizeof(*rq));
    const char *channel = jstr(row, "channel"), *recipient = jstr(row, "recipient");
    json_t *route = notify_routes_find(routes, channel, recipient);
    const char *kind = route && jstr(route, "kind") ? jstr(route, "kind")
                                                    : notify_default_kind(channel);
    bool customer = !strcmp(kind, "customer");
    if (!route && !customer && strcmp(kind, "email")) {
        snprintf(err, size, "no route for %s recipient '%s' in notify_routes", channel,
                 recipient);
        return -1;
    }
    if (!route && !strcmp(kind, "email") && strcmp(recipient, "customer")) {
        snprintf(err, size, "no route for %s recipient '%s' in notify_routes", channel,
                 recipient);
        return -1;
    }
    json_t *msg = json_object_get(row, "message");
    json_t *parsed = NULL;
    if (json_is_string(msg))
        msg = parsed = json_loads(json_string_value(msg), 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(parsed);
        snprintf(err, size, "the stored message is not a JSON object");
        return -1;
    }
    json_t *ctx = template_ctx(row, msg);
    int rc = 0;
    rq->kind = strdup(kind);
    if (!strcmp(kind, "email") || customer) {
        rc = build_mail(routes, route, row, msg, ctx, customer, rq, err, size);
    } else {
        json_t *body;
        const char *text = jstr(msg, "text") ? jstr(msg, "text") : "";
        if (!strcmp(kind, "slack")) {
            char *esc = notify_slack_escape(text);
            body = json_pack("{s:s}", "text", esc ? esc : "");
            free(esc);
        } else if (!strcmp(kind, "pager")) {
            const char *rk = jstr(route, "routing_key");
            if (!rk) {
                snprintf(err, size, "the pager route for '%s' has no routing_key", recipient);
                rc = -1;
                body = NULL;
            } else {
                const char *sev = jstr(route, "severity") ? jstr(route, "severity")
                                  : jstr(msg, "severity") ? jstr(msg, "severity")
                                                          : "error";
                json_t *details = json_pack(
                    "{s:O, s:O, s:s, s:O, s:O}", "ticket",
                    json_object_get(json_object_get(msg, "ticket"), "id")
                        ? json_object_get(json_object_get(msg, "ticket"), "id")
                        : json_null(),
                    "event", json_object_get(row, "event"), "text", text, "priority",
                    json_object_get(msg, "priority") ? json_object_get(msg, "priority")
                                                     : json_null(),
                    "team", json_object_get(msg, "team") ? json_object_get(msg, "team")
                                                         : json_null());
                const char *action = jstr(msg, "pager_action");
                if (action && jstr(msg, "pager_dedup_key")) {
                    /* acknowledge (or resolve): only the incident's key. */
                    json_decref(details);
                    body = json_pack("{s:s, s:s, s:s}", "routing_key", rk, "event_action",
                                     action, "dedup_key", jstr(msg, "pager_dedup_key"));
                } else {
                    body = json_pack("{s:s, s:s, s:O, s:{s:o, s:s, s:s, s:o}}", "routing_key",
                                     rk, "event_action", "trigger", "dedup_key",
                                     json_object_get(row, "idempotency_key"), "payload",
                                     "summary", first_line(text, 1024), "source",
                                     jstr(route, "source") ? jstr(route, "source")
                                                           : "escalator",
                                     "severity", sev, "custom_details", details);
                }
            }
        } else {
            body = json_pack("{s:O, s:O, s:O, s:O, s:s}", "idempotency_key",
                             json_object_get(row, "idempotency_key"), "event",
                             json_object_get(row, "event"), "channel",
                             json_object_get(row, "channel"), "to",
                             json_object_get(row, "recipient"), "text", text);
            static const char *const extra[] = {"subject", "priority", "severity", "team",
                                                "targets", "respond_by", "at", "ticket",
                                                "items", NULL};
            for (size_t i = 0; body && extra[i]; i++)
                if (json_object_get(msg, extra[i]))
                    json_object_set(body, extra[i], json_object_get(msg, extra[i]));
        }
        if (rc == 0) {
            rq->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            rq->url = strdup(jstr(route, "url"));
            rq->content_type = strdup("application/json");
            rq->secret = dup_or_null(jstr(route, "secret"));
            rq->endpoint = url_origin(rq->url);
            if (!rq->body || !rq->url) {
                snprintf(err, size, "out of memory");
                rc = -1;
            }
        }
        json_decref(body);
    }
    json_decref(ctx);
    json_decref(parsed);
    if (rc != 0)
        notify_request_clear(rq);
    return rc;
}
