/*
 * store.h - where the service keeps tickets, their history, escalations,
 * timers and the notification outbox.
 *
 * A store is an opaque handle driven through a table of operations, so that
 * a PostgreSQL back end can sit beside the SQLite one (sqlite.c) without the
 * service knowing which it talks to. All SQL lives behind this interface and
 * runs as prepared statements.
 *
 * Rows come back as jansson objects (column name -> value; integers as
 * integers, NULL as null), owned by the caller (json_decref). String
 * arguments are borrowed. Functions return 0 on success, STORE_NOTFOUND when
 * the row asked for does not exist, or STORE_ERROR with the back end's message
 * in store_errmsg().
 *
 * A store is not thread-safe: the service serialises access to it. Writes made
 * between begin() and commit() are durable once commit() returns (SQLite: WAL
 * with synchronous=NORMAL survives a kill of the process; FULL also survives a
 * power loss).
 *
 * Group commit: begin() starts a unit of work. release() ends it without
 * making it durable: it waits in the open batch, and later units join the
 * same batch; flush() then commits the whole batch at once (one COMMIT, one
 * fsync under FULL). rollback() undoes the current unit only: the units
 * already released stay in the batch. commit() is release() and flush().
 * If flush() fails, every unit of the batch is lost and none may be
 * acknowledged. (SQLite: the batch is one transaction and a unit a
 * SAVEPOINT in it. A back end whose database groups commits itself, such as
 * PostgreSQL, may commit in release() and make flush() a no-op.)
 *
 * Readers: open_reader() gives another handle on the same database that
 * only reads and only sees committed batches, so that reads do not wait for
 * writes; begin() and commit() on it bracket one consistent snapshot.
 */
#ifndef ESC_STORE_H
#define ESC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum { STORE_OK = 0, STORE_NOTFOUND = 1, STORE_ERROR = -1 };

typedef struct store store;

/* An open escalation of a queue: times in seconds, -1 when there is none;
 * priority and owner may be NULL. */
typedef struct queue_entry {
    const char *ticket_id, *team, *priority, *state, *owner, *status;
    int64_t respond_by, opened_at, acknowledged_at, resolve_by, paused_at;
} queue_entry;

typedef struct store_ops {
    void (*close)(store *s);
    const char *(*errmsg)(store *s);
    int (*schema_version)(store *s);

    int (*begin)(store *s);
    int (*commit)(store *s);
    void (*rollback)(store *s);
    /* Group commit (see above). */
    int (*release)(store *s);
    int (*flush)(store *s);
    /* A read-only handle on the same database, closed with close(); NULL
     * with the reason in err. */
    store *(*open_reader)(store *s, char *err, size_t size);

    /* tickets: {id, doc, status, level, priority, fired, decision,
     * created_at, updated_at, first_response_at, resolved_at, paused_at,
     * rev}; rev, the row's revision, counts its writes */
    int (*ticket_get)(store *s, const char *id, json_t **row);
    /* Inserts or replaces the row; `row` has the columns above (rev is the
     * store's: 1 for a new row, one more at every write). */
    int (*ticket_put)(store *s, json_t *row);
    int (*ticket_count)(store *s, int64_t *n);

    /* messages: the conversation, in order: {seq, sender, at, body} */
    int (*messages_list)(store *s, const char *ticket, json_t **rows);
    int (*message_add)(store *s, const char *ticket, const char *sender,
                       int64_t at, const char *body);
    int (*messages_clear)(store *s, const char *ticket);

    /* events: the append-only log {id, at, kind, actor, data} */
    int (*event_add)(store *s, const char *ticket, int64_t at,
                     const char *kind, const char *actor, json_t *data);
    int (*events_list)(store *s, const char *ticket, json_t **rows);

    /* escalations: {id, ticket_id, state, team, priority, opened_at,
     * closed_at, owner, acknowledged_at, respond_by, ack_repeats, levels}.
     * The open one is the one whose state is 'open' or 'acknowledged'. */
    int (*escalation_open_get)(store *s, const char *ticket, json_t **row);
    /* Inserts when row has no "id" (and sets it), updates otherwise. */
    int (*escalation_put)(store *s, json_t *row);
    int (*escalations_list)(store *s, const char *ticket, json_t **rows);
    /* Level history: a new level starts, the previous one ends. */
    int (*level_start)(store *s, int64_t escalation, const char *team,
                       int64_t at, const char *cause, int64_t respond_by);
    int (*level_end)(store *s, int64_t escalation, int64_t at);
    int (*level_mark)(store *s, int64_t escalation, const char *column,
                      int64_t at); /* acknowledged_at, responded_at, breached_at */
    int (*levels_list)(store *s, int64_t escalation, json_t **rows);

    /* timers: {ticket_id, cause, due_at, state, data}, state armed, fired or
     * cancelled. Arming a (ticket, cause) that fired or was cancelled does
     * nothing and returns STORE_NOTFOUND: each cause fires once. */
    int (*timer_arm)(store *s, const char *ticket, const char *cause,
                     int64_t due, json_t *data);
    int (*timer_set)(store *s, const char *ticket, const char *cause,
                     const char *state, int64_t due);
    /* Marks the timer fired when it is armed and due at or before now, and
     * gives its row as it was ({due_at, data}); STORE_NOTFOUND when it is
     * not (fired, cancelled, paused, moved later or gone). */
    int (*timer_fire)(store *s, const char *ticket, const char *cause, int64_t now,
                      json_t **row);
    /* All timers of a ticket (ticket != NULL) or all armed ones (NULL). */
    int (*timers_list)(store *s, const char *ticket, json_t **rows);
    /* Calls fn for every armed timer, in no particular order, without
     * building the rows: what start-up reads. The strings are valid during
     * the call only. A non-zero return of fn stops the walk and is
     * returned as STORE_ERROR. */
    int (*timers_armed_each)(store *s,
                             int (*fn)(void *arg, const char *ticket,
                                       const char *cause, int64_t due),
                             void *arg);

    /* outbox: at-least-once delivery; a key already there is not added. */
    int (*outbox_add)(store *s, const char *key, const char *ticket,
                      int64_t at, const char *kind, json_t *payload);
    int (*outbox_list)(store *s, const char *ticket, json_t **rows);

    /* deliveries: what src/notify/ sends, one row per (outbox event,
     * channel, recipient): {id, idempotency_key, outbox_key, ticket_id,
     * event, channel, recipient, fact, message, state, attempts,
     * next_attempt_ms, sent_ms, delivered_ms, last_error, digest_id,
     * created_at, updated_ms}. state: pending, sending, delivered, held
     * (over the rate limit, waiting for its digest), digested, returned
     * (handed back in the API response), failed (the dead letter). *_ms
     * columns are the real clock in milliseconds.
     * delivery_add inserts (setting "id") or returns STORE_NOTFOUND when
     * the idempotency key is there already. */
    int (*delivery_add)(store *s, json_t *row);
    int (*delivery_get)(store *s, int64_t id, json_t **row);
    /* Writes state, attempts, next_attempt_ms, sent_ms, delivered_ms,
     * last_error, digest_id and updated_ms of the row with row's "id". */
    int (*delivery_update)(store *s, json_t *row);
    /* filter: {state, ticket, channel, recipient, event, after_id, limit},
     * each optional (limit 100 by default); oldest first. */
    int (*deliveries_list)(store *s, json_t *filter, json_t **rows);
    /* pending or held rows whose next attempt is due by now_ms. */
    int (*deliveries_due)(store *s, int64_t now_ms, int64_t limit, json_t **rows);
    /* The earliest next attempt of a pending or held row; STORE_NOTFOUND
     * when there is none. */
    int (*delivery_next)(store *s, int64_t *next_ms);
    /* sending -> pending: what a stopped process had not confirmed. */
    int (*deliveries_requeue)(store *s, int64_t now_ms);
    /* Sent (sending or delivered) to (channel, recipient) after since_ms:
     * how many, and when the oldest of them went. */
    int (*delivery_recent)(store *s, const char *channel, const char *recipient,
                           int64_t since_ms, int64_t *count, int64_t *oldest_ms);
    /* STORE_OK when the ticket already has a delivery to (channel,
     * recipient) saying the same fact, STORE_NOTFOUND otherwise. */
    int (*delivery_fact_seen)(store *s, const char *ticket, const char *channel,
                              const char *recipient, const char *fact);
    /* Records an inbound webhook event id; STORE_NOTFOUND when it was
     * there already (a retried delivery of the same event). */
    int (*inbound_add)(store *s, const char *id, const char *source, int64_t at);
    /* STORE_OK when the inbound event id was recorded, else STORE_NOTFOUND. */
    int (*inbound_seen)(store *s, const char *id);

    /* Open escalations (of one team, or all), earliest deadline first:
     * {ticket_id, team, priority, state, respond_by, opened_at, owner,
     *  acknowledged_at, resolve_by, status, paused_at} */
    int (*queue_list)(store *s, const char *team, json_t **rows);
    /* The same entries, one at a time to fn, without building rows (the
     * strings are valid during the call only). A non-zero return of fn
     * stops the walk and is returned as STORE_ERROR. */
    int (*queue_each)(store *s, const char *team,
                      int (*fn)(void *arg, const queue_entry *e), void *arg);

    /* Aggregates for /v1/metrics/summary (see api.md). */
    int (*metrics)(store *s, json_t **out);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Opens (creating when absent) and migrates the SQLite database at `path`.
 * `synchronous` is "normal" or "full". On failure returns NULL with the
 * reason in errbuf. */
store *store_sqlite_open(const char *path, const char *synchronous,
                         char *errbuf, size_t errsize);

#endif /* ESC_STORE_H */
