/*
 * notify.h - delivering the notifications that decisions and SLA timers ask
 * for (docs/notifications.md).
 *
 * The service writes each outbox event and its deliveries in the
 * transaction of the decision that caused them (notify_plan); a worker
 * thread with its own store connection then claims due deliveries, renders
 * each for its channel kind (webhook, slack, pager, email, customer), sends
 * it with libcurl and records the result: delivered, a retry at
 * next_attempt_ms (exponential backoff with jitter), or failed (the dead
 * letter) with the reason. Delivery is at least once: a row claimed but not
 * confirmed when the process stops is sent again after the restart, with
 * the same idempotency key.
 *
 * A policy names logical recipients ("#cs-urgent", "on-call"); the routes
 * file (setting notify_routes) maps them to endpoints, secrets and the SMTP
 * relay. An unmapped recipient is a failed delivery, never a crash.
 *
 * Strings passed in are borrowed; JSON results are owned by the caller.
 */
#ifndef ESC_NOTIFY_H
#define ESC_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../server/config.h"
#include "../store/store.h"

/* ---- routes: logical recipients to endpoints ------------------------------ */

typedef struct notify_routes notify_routes;

/* Loads the routes file (JSON, see docs/notifications.md); path NULL or ""
 * gives an empty table. NULL with the reason in err on a bad file. */
notify_routes *notify_routes_load(const char *path, char *err, size_t size);
void notify_routes_free(notify_routes **r);
/* The route of (channel, recipient): the exact one, else the channel's "*"
 * route; NULL when there is none. The object belongs to the table. */
json_t *notify_routes_find(const notify_routes *r, const char *channel,
                           const char *recipient);
/* {"url", "from", "username", "password", ...} of the SMTP relay, or NULL. */
json_t *notify_routes_smtp(const notify_routes *r);

/* ---- templates and payloads (render.c) ----------------------------------- */

/* Renders "{{a.b}}" placeholders against ctx. A placeholder whose path is
 * absent fails: NULL with "template: no value for 'a.b'" in err. Returns a
 * malloc'ed string. */
char *notify_template(const char *tmpl, json_t *ctx, char *err, size_t size);
/* Slack mrkdwn: & < > escaped, "@channel" and "@here" as Slack's special
 * mentions. malloc'ed. */
char *notify_slack_escape(const char *text);
/* The default kind of a policy channel: slack, pager (for pager and
 * phone), email, customer, webhook (for webhook, dashboard, sms). */
const char *notify_default_kind(const char *channel);

/* What one attempt sends: built from a delivery row and its route. */
typedef struct notify_request {
    char *kind;         /* webhook slack pager email customer */
    char *url;          /* http(s):// for webhooks, smtp(s):// for mail */
    char *body;         /* JSON, or the whole RFC 5322 message */
    char *content_type; /* NULL for mail */
    char *secret;       /* signs HTTP bodies when set */
    char *mail_from;
    char **rcpt;        /* mail recipients */
    size_t n_rcpt;
    char *username, *password;
    char *endpoint;     /* where, for the record: URL without its secret
                           parts, or the addresses */
} notify_request;

/* Builds the request for a delivery row. Returns 0; or -1 with the reason in
 * err when it can never be sent as it stands (no route, a template that
 * names a missing field, no SMTP relay): the delivery fails at once. */
int notify_request_build(const notify_routes *routes, json_t *row,
                         notify_request *rq, char *err, size_t size);
void notify_request_clear(notify_request *rq);

/* ---- signatures (sign.c) -------------------------------------------------- */

/* HMAC-SHA256 of msg under key into out[32]. */
void notify_hmac_sha256(const char *key, size_t key_len, const void *msg,
                        size_t len, unsigned char out[32]);
/* The outbound signature header value "t=TIMESTAMP,v1=HEX", where HEX is
 * HMAC-SHA256(secret, "TIMESTAMP.BODY") in lower-case hex. */
void notify_sign(const char *secret, int64_t timestamp, const char *body,
                 size_t len, char *out, size_t size);
/* Zendesk's webhook signature: base64(HMAC-SHA256(secret, TIMESTAMP BODY))
 * compared in constant time. */
bool notify_zendesk_verify(const char *secret, const char *timestamp,
                           const char *body, size_t len, const char *signature);
/* base64 of data; out needs 4 * ceil(len / 3) + 1 bytes. */
void notify_base64(const unsigned char *data, size_t len, char *out);

/* ---- fan-out, in the caller's transaction (plan.c) ------------------------ */

typedef struct notify_event {
    const char *ticket;     /* ticket id */
    const char *kind;       /* the outbox kind: escalation, sla_warning,
                               sla_breach, follow_up, ack_timeout,
                               acknowledged */
    const char *outbox_key; /* the outbox row's idempotency key */
    int64_t now;            /* the service clock, seconds */
    int64_t now_ms;         /* the real clock, milliseconds */
    json_t *doc;            /* the ticket document */
    json_t *decision;       /* the decision that caused it, or NULL */
    json_t *data;           /* the outbox payload */
    const char *priority;   /* the ticket's priority when the decision
                               does not say (lifecycle events) */
    json_t *policy;         /* notify_policy_info() of the policy in force */
    const char *events;     /* setting notify_events: "all", or the
                               lifecycle kinds that notify, comma-separated */
} notify_event;

/* Adds the event's deliveries to the store: for an escalation, one per
 * notification of the decision (a (channel, recipient) that already heard
 * the same fact about this ticket is skipped); for a lifecycle event, one
 * per recipient that heard of the ticket's escalation. Sets *added to the
 * number of rows written. */
int notify_plan(store *st, const notify_event *ev, int *added);
/* {"priorities": [ids, most urgent first], "teams": {id: name}} from the
 * policy's compiled form (its esc_policy_dump JSON text). */
json_t *notify_policy_info(const char *dump);

/* ---- inbound webhooks (inbound.c) ----------------------------------------- */

/* One operation on the service that a Zendesk webhook event maps to. */
typedef enum {
    INBOUND_IGNORE,  /* an event type escalator does not use */
    INBOUND_TICKET,  /* body: a ticket document for POST /v1/tickets */
    INBOUND_MESSAGE, /* body: a message for POST /v1/tickets/{id}/messages */
    INBOUND_EVENT,   /* body: an event for POST /v1/tickets/{id}/events */
    INBOUND_UPDATE   /* body: {"fields": {...}} and/or {"level": ...} to merge
                        into the stored ticket */
} inbound_op;

/* Maps a Zendesk webhook payload ({type, id, time, subject, detail,
 * event}). Returns the op with *body (owned) and ticket_id filled, or -1
 * with the reason in err and the JSON pointer of the problem in where. */
int notify_zendesk_map(json_t *payload, char *ticket_id, size_t id_size,
                       json_t **body, char *err, size_t size, const char **where);

/* ---- the worker (worker.c) ------------------------------------------------ */

typedef struct notifier notifier;

/* Opens its own connection to the database, loads the routes and puts back
 * to pending what a previous process left in sending. NULL after printing
 * why to stderr. */
notifier *notifier_new(const server_config *cfg);
/* Starts the delivery thread. */
int notifier_start(notifier *n);
/* Puts routes (taken over, from notify_routes_load) in force for the
 * attempts that start from now on; the old table is freed. */
void notifier_set_routes(notifier *n, notify_routes *routes);
/* The delivery counters by channel in Prometheus text: delivered, failed
 * attempts, retries and dead letters since the start (zeros for n NULL). */
void notifier_metrics(notifier *n, FILE *f);
/* Tells the thread that new deliveries may be due (cheap, any thread). */
void notifier_wake(notifier *n);
/* Stops the thread (in-flight attempts stay 'sending' and are sent again
 * at the next start) and frees everything. */
void notifier_free(notifier **n);

/* The real clock in milliseconds. */
int64_t notify_now_ms(void);

#endif
