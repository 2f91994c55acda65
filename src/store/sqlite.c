/*
 * sqlite.c - the SQLite back end of the store: one database file in WAL mode,
 * versioned migrations applied at open, every statement prepared once per
 * connection and reused.
 *
 * The SQL sticks to what PostgreSQL also accepts (BIGINT, TEXT, INTEGER
 * keys written by the database, no SQLite-only functions in queries) so that
 * the PostgreSQL back end can reuse the schema.
 */
#include "store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* Each migration moves the schema from version i to i + 1. Never edit a
 * migration that has shipped: add the next one. */
static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE tickets ("
    "  id TEXT PRIMARY KEY,"
    "  doc TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  level TEXT,"
    "  priority TEXT,"
    "  fired TEXT NOT NULL,"
    "  decision TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  first_response_at BIGINT,"
    "  resolved_at BIGINT,"
    "  paused_at BIGINT);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id TEXT NOT NULL REFERENCES tickets(id),"
    "  sender TEXT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE INDEX messages_ticket ON messages(ticket_id, id);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id TEXT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  actor TEXT,"
    "  data TEXT NOT NULL);"
    "CREATE INDEX events_ticket ON events(ticket_id, id);"
    "CREATE TABLE escalations ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  team TEXT NOT NULL,"
    "  priority TEXT,"
    "  opened_at BIGINT NOT NULL,"
    "  closed_at BIGINT,"
    "  owner TEXT,"
    "  acknowledged_at BIGINT,"
    "  respond_by BIGINT,"
    "  ack_repeats INTEGER NOT NULL,"
    "  levels INTEGER NOT NULL);"
    "CREATE INDEX escalations_ticket ON escalations(ticket_id, state);"
    "CREATE TABLE escalation_levels ("
    "  id INTEGER PRIMARY KEY,"
    "  escalation_id BIGINT NOT NULL REFERENCES escalations(id),"
    "  team TEXT NOT NULL,"
    "  cause TEXT NOT NULL,"
    "  started_at BIGINT NOT NULL,"
    "  ended_at BIGINT,"
    "  respond_by BIGINT,"
    "  acknowledged_at BIGINT,"
    "  responded_at BIGINT,"
    "  breached_at BIGINT);"
    "CREATE INDEX levels_escalation ON escalation_levels(escalation_id, id);"
    "CREATE TABLE timers ("
    "  ticket_id TEXT NOT NULL,"
    "  cause TEXT NOT NULL,"
    "  due_at BIGINT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  data TEXT,"
    "  PRIMARY KEY (ticket_id, cause));"
    "CREATE INDEX timers_due ON timers(state, due_at);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  idempotency_key TEXT NOT NULL UNIQUE,"
    "  ticket_id TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  delivered_at BIGINT);",
    /* 2: deliveries, one row per (outbox event, channel, recipient), worked
     * by src/notify/; inbound webhook event ids already applied. Times in
     * *_ms columns are the real clock in milliseconds. */
    "CREATE TABLE deliveries ("
    "  id INTEGER PRIMARY KEY,"
    "  idempotency_key TEXT NOT NULL UNIQUE,"
    "  outbox_key TEXT,"
    "  ticket_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  recipient TEXT NOT NULL,"
    "  fact TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms BIGINT NOT NULL,"
    "  sent_ms BIGINT,"
    "  delivered_ms BIGINT,"
    "  last_error TEXT,"
    "  digest_id BIGINT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_ms BIGINT NOT NULL);"
    "CREATE INDEX deliveries_due ON deliveries(state, next_attempt_ms);"
    "CREATE INDEX deliveries_ticket ON deliveries(ticket_id, id);"
    "CREATE INDEX deliveries_recipient ON deliveries(channel, recipient, state, sent_ms);"
    "CREATE TABLE inbound_events ("
    "  id TEXT PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  received_at BIGINT NOT NULL);",
    /* 3: the resolution target of an escalation and when it passed. */
    ("ALTER TABLE escalations ADD COLUMN resolve_by BIGINT;"
     "ALTER TABLE escalations ADD COLUMN resolution_breached_at BIGINT;"),
    /* 4: a team's queue reads its open escalations only; a ticket's outbox
     * (the notification plan reads it on every lifecycle event) is found
     * by its index. */
    ("CREATE INDEX escalations_team ON escalations(team, state);"
     "CREATE INDEX outbox_ticket ON outbox(ticket_id, id);"),
    /* 5: a ticket's revision, one more at every write of its row (every
     * change of its document or messages writes it): equal revisions, the
     * same ticket. */
    "ALTER TABLE tickets ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;",
    /* 6: no index of the timers by state and due time: the service keeps
     * the armed ones in memory (read once at start-up, in the table's own
     * order), and every timer armed, fired or cancelled had to change it. */
    "DROP INDEX IF EXISTS timers_due;",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The write connection's page cache: the pages a write touches (ticket,
 * escalation, timers, events, deliveries) stay cached; 64 MiB, used as it
 * fills. */
#define CACHE_PRAGMA "PRAGMA cache_size=-65536"
/* Each unit of work is a SAVEPOINT, and SQLite keeps the pages it changes
 * as they were in a statement journal, written to a temporary file once it
 * passes 64 KiB: a timer's firing passes it, and wrote that file at every
 * firing (a sixth of its time). In memory it is only copied. */
#define TEMP_PRAGMA "PRAGMA temp_store=MEMORY"

#define ESC_COLS                                                               \
    "id, ticket_id, state, team, priority, opened_at, closed_at, owner, "     \
    "acknowledged_at, respond_by, ack_repeats, levels, resolve_by, "          \
    "resolution_breached_at"

#define DLV_COLS                                                               \
    "id, idempotency_key, outbox_key, ticket_id, event, channel, recipient, "  \
    "fact, message, state, attempts, next_attempt_ms, sent_ms, delivered_ms, " \
    "last_error, digest_id, created_at, updated_ms"

/* The statements, prepared on first use. */
#define STATEMENTS(X)                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                \
    X(BEGIN_READ, "BEGIN")                                                     \
    X(COMMIT, "COMMIT")                                                        \
    X(ROLLBACK, "ROLLBACK")                                                    \
    X(SAVEPOINT, "SAVEPOINT unit")                                             \
    X(RELEASE, "RELEASE unit")                                                 \
    X(ROLLBACK_TO, "ROLLBACK TO unit")                                         \
    X(TICKET_GET, "SELECT id, doc, status, level, priority, fired, decision, " \
                  "created_at, updated_at, first_response_at, resolved_at, "   \
                  "paused_at, rev FROM tickets WHERE id = ?1")                 \
    X(TICKET_PUT, "INSERT INTO tickets (id, doc, status, level, priority, "    \
                  "fired, decision, created_at, updated_at, "                  \
                  "first_response_at, resolved_at, paused_at, rev) VALUES "    \
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1) "    \
                  "ON CONFLICT (id) DO UPDATE SET doc = ?2, status = ?3, "      \
                  "level = ?4, priority = ?5, fired = ?6, decision = ?7, "     \
                  "created_at = ?8, updated_at = ?9, first_response_at = ?10, " \
                  "resolved_at = ?11, paused_at = ?12, rev = tickets.rev + 1")  \
    X(TICKET_COUNT, "SELECT COUNT(*) AS n FROM tickets")                       \
    X(MESSAGES_LIST, "SELECT sender, at, body FROM messages "                  \
                     "WHERE ticket_id = ?1 ORDER BY id")                       \
    X(MESSAGE_ADD, "INSERT INTO messages (ticket_id, sender, at, body) "       \
                   "VALUES (?1, ?2, ?3, ?4)")                                  \
    X(MESSAGES_CLEAR, "DELETE FROM messages WHERE ticket_id = ?1")             \
    X(EVENT_ADD, "INSERT INTO events (ticket_id, at, kind, actor, data) "      \
                 "VALUES (?1, ?2, ?3, ?4, ?5)")                                \
    X(EVENTS_LIST, "SELECT id, at, kind, actor, data FROM events "             \
                   "WHERE ticket_id = ?1 ORDER BY id")                         \
    /* The latest open or acknowledged escalation: the later of two rows,  \
     * each found by a max(id) probe at the end of its (ticket_id, state)   \
     * index range; an IN list ordered by id built a temporary B-tree on    \
     * every call. */                                                        \
    X(ESC_OPEN_GET, "SELECT " ESC_COLS " FROM escalations WHERE id = "          \
                    "(SELECT max(id) FROM escalations WHERE ticket_id = ?1 "   \
                    "AND state = 'open') UNION ALL SELECT " ESC_COLS           \
                    " FROM escalations WHERE id = (SELECT max(id) FROM "       \
                    "escalations WHERE ticket_id = ?1 AND state = "            \
                    "'acknowledged') ORDER BY id DESC LIMIT 1")                \
    X(ESC_INSERT, "INSERT INTO escalations (ticket_id, state, team, priority, " \
                  "opened_at, closed_at, owner, acknowledged_at, respond_by, " \
                  "ack_repeats, levels, resolve_by, resolution_breached_at) " \
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, " \
                  "?13)")                                                      \
    X(ESC_UPDATE, "UPDATE escalations SET ticket_id = ?1, state = ?2, "        \
                  "team = ?3, priority = ?4, opened_at = ?5, closed_at = ?6, " \
                  "owner = ?7, acknowledged_at = ?8, respond_by = ?9, "        \
                  "ack_repeats = ?10, levels = ?11, resolve_by = ?12, "        \
                  "resolution_breached_at = ?13 WHERE id = ?14")               \
    X(ESC_LIST, "SELECT " ESC_COLS " FROM escalations WHERE ticket_id = ?1 "   \
                "ORDER BY id")                                                 \
    X(LEVEL_START, "INSERT INTO escalation_levels (escalation_id, team, "      \
                   "cause, started_at, respond_by) VALUES (?1, ?2, ?3, ?4, ?5)") \
    X(LEVEL_END, "UPDATE escalation_levels SET ended_at = ?2 "                 \
                 "WHERE escalation_id = ?1 AND ended_at IS NULL")              \
    X(LEVEL_ACK, "UPDATE escalation_levels SET acknowledged_at = ?2 "          \
                 "WHERE escalation_id = ?1 AND ended_at IS NULL "              \
                 "AND acknowledged_at IS NULL")                                \
    X(LEVEL_RESPONDED, "UPDATE escalation_levels SET responded_at = ?2 "       \
                       "WHERE escalation_id = ?1 AND ended_at IS NULL "        \
                       "AND responded_at IS NULL")                             \
    X(LEVEL_BREACHED, "UPDATE escalation_levels SET breached_at = ?2 "         \
                      "WHERE escalation_id = ?1 AND ended_at IS NULL "         \
                      "AND breached_at IS NULL")                               \
    X(LEVELS_LIST, "SELECT team, cause, started_at, ended_at, respond_by, "    \
                   "acknowledged_at, responded_at, breached_at "               \
                   "FROM escalation_levels WHERE escalation_id = ?1 ORDER BY id") \
    X(TIMER_INSERT, "INSERT INTO timers (ticket_id, cause, due_at, state, "    \
                    "data) VALUES (?1, ?2, ?3, 'armed', ?4) "                  \
                    "ON CONFLICT (ticket_id, cause) DO UPDATE SET due_at = ?3, " \
                    "data = ?4 WHERE timers.state = 'armed'")                  \
    X(TIMER_SET, "UPDATE timers SET state = ?3, due_at = ?4 "                  \
                 "WHERE ticket_id = ?1 AND cause = ?2")                        \
    /* One statement for a firing's check and mark: the row is found    \
     * once. */                                                              \
    X(TIMER_FIRE, "UPDATE timers SET state = 'fired' WHERE ticket_id = ?1 "    \
                  "AND cause = ?2 AND state = 'armed' AND due_at <= ?3 "       \
                  "RETURNING due_at, data")                                    \
    X(TIMERS_OF, "SELECT ticket_id, cause, due_at, state, data FROM timers "   \
                 "WHERE ticket_id = ?1 ORDER BY due_at, cause")                \
    X(TIMERS_ARMED, "SELECT ticket_id, cause, due_at, state, data FROM timers " \
                    "WHERE state = 'armed' ORDER BY due_at")                   \
    /* Start-up: the table in its own order (the unary + keeps the planner \
     * off the due index, which would cost a lookup per row). */           \
    X(TIMERS_ARMED_EACH, "SELECT ticket_id, cause, due_at FROM timers "        \
                         "WHERE +state = 'armed'")                             \
    X(OUTBOX_ADD, "INSERT INTO outbox (idempotency_key, ticket_id, "           \
                  "created_at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5) "    \
                  "ON CONFLICT (idempotency_key) DO NOTHING")                  \
    X(OUTBOX_LIST, "SELECT id, idempotency_key, created_at, kind, payload, "   \
                   "attempts, delivered_at FROM outbox WHERE ticket_id = ?1 "  \
                   "ORDER BY id")                                              \
    X(DLV_ADD, "INSERT INTO deliveries (idempotency_key, outbox_key, "         \
               "ticket_id, event, channel, recipient, fact, message, state, "   \
               "attempts, next_attempt_ms, created_at, updated_ms, "            \
               "delivered_ms, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " \
               "?8, ?9, 0, ?10, ?11, ?12, ?13, ?14) "                           \
               "ON CONFLICT (idempotency_key) DO NOTHING")                      \
    X(DLV_GET, "SELECT " DLV_COLS " FROM deliveries WHERE id = ?1")            \
    X(DLV_UPDATE, "UPDATE deliveries SET state = ?2, attempts = ?3, "          \
                  "next_attempt_ms = ?4, sent_ms = ?5, delivered_ms = ?6, "    \
                  "last_error = ?7, digest_id = ?8, updated_ms = ?9 "          \
                  "WHERE id = ?1")                                             \
    X(DLV_LIST, "SELECT " DLV_COLS " FROM deliveries WHERE "                   \
                "(?1 IS NULL OR state = ?1) AND (?2 IS NULL OR ticket_id = ?2) " \
                "AND (?3 IS NULL OR channel = ?3) AND "                        \
                "(?4 IS NULL OR recipient = ?4) AND (?5 IS NULL OR event = ?5) " \
                "AND id > ?6 ORDER BY id LIMIT ?7")                            \
    /* The same for one ticket, which its index finds without a scan. */     \
    X(DLV_LIST_TICKET, "SELECT " DLV_COLS " FROM deliveries WHERE "            \
                       "ticket_id = ?2 AND (?1 IS NULL OR state = ?1) "        \
                       "AND (?3 IS NULL OR channel = ?3) AND "                 \
                       "(?4 IS NULL OR recipient = ?4) AND "                   \
                       "(?5 IS NULL OR event = ?5) "                           \
                       "AND id > ?6 ORDER BY id LIMIT ?7")                     \
    X(DLV_DUE, "SELECT " DLV_COLS " FROM deliveries WHERE state IN "           \
               "('pending', 'held') AND next_attempt_ms <= ?1 "                \
               "ORDER BY next_attempt_ms, id LIMIT ?2")                        \
    X(DLV_NEXT, "SELECT MIN(next_attempt_ms) AS next_ms FROM deliveries "      \
                "WHERE state IN ('pending', 'held')")                          \
    X(DLV_REQUEUE, "UPDATE deliveries SET state = 'pending', "                 \
                   "next_attempt_ms = ?1, updated_ms = ?1 "                    \
                   "WHERE state = 'sending'")                                  \
    X(DLV_RECENT, "SELECT COUNT(*) AS n, MIN(sent_ms) AS oldest_ms FROM "      \
                  "deliveries WHERE channel = ?1 AND recipient = ?2 AND "      \
                  "state IN ('sending', 'delivered') AND sent_ms > ?3")        \
    /* By the ticket's index (the unary + keeps the planner off the       \
     * recipient index, whose rows for "customer" are all of them). */     \
    X(DLV_FACT, "SELECT id FROM deliveries WHERE ticket_id = ?1 AND "          \
                "+channel = ?2 AND +recipient = ?3 AND fact = ?4 LIMIT 1")     \
    X(INBOUND_ADD, "INSERT INTO inbound_events (id, source, received_at) "     \
                   "VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING")          \
    X(INBOUND_SEEN, "SELECT id FROM inbound_events WHERE id = ?1")             \
    X(QUEUE_ALL, "SELECT e.ticket_id, e.team, e.priority, e.state, "           \
                 "e.respond_by, e.opened_at, e.owner, e.acknowledged_at, "     \
                 "e.resolve_by, t.status, t.paused_at FROM escalations e JOIN tickets t ON " \
                 "t.id = e.ticket_id WHERE e.state IN ('open', 'acknowledged') " \
                 "ORDER BY e.respond_by IS NULL, e.respond_by, e.opened_at, "  \
                 "e.ticket_id")                                                \
    X(QUEUE_TEAM, "SELECT e.ticket_id, e.team, e.priority, e.state, "          \
                  "e.respond_by, e.opened_at, e.owner, e.acknowledged_at, "    \
                  "e.resolve_by, t.status, t.paused_at FROM escalations e JOIN tickets t ON " \
                  "t.id = e.ticket_id WHERE e.state IN ('open', "              \
                  "'acknowledged') AND e.team = ?1 ORDER BY e.respond_by IS "  \
                  "NULL, e.respond_by, e.opened_at, e.ticket_id")              \
    X(M_TICKETS, "SELECT COUNT(*) AS tickets, "                                \
                 "SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) "   \
                 "AS resolved, "                                               \
                 "AVG(CASE WHEN first_response_at IS NOT NULL THEN "           \
                 "first_response_at - created_at END) AS first_response_avg_s, " \
                 "AVG(CASE WHEN resolved_at IS NOT NULL THEN "                 \
                 "resolved_at - created_at END) AS resolution_avg_s "          \
                 "FROM tickets")                                               \
    X(M_ESCALATED, "SELECT COUNT(DISTINCT ticket_id) AS escalated_tickets, "   \
                   "COUNT(*) AS escalations, "                                 \
                   "SUM(CASE WHEN resolve_by IS NOT NULL AND "                 \
                   "resolution_breached_at IS NULL AND closed_at IS NOT NULL " \
                   "THEN 1 ELSE 0 END) AS resolution_met, "                    \
                   "SUM(CASE WHEN resolution_breached_at IS NOT NULL THEN 1 "  \
                   "ELSE 0 END) AS resolution_breached FROM escalations")      \
    X(M_CSAT, "SELECT COUNT(*) AS responses, AVG(CAST(json_extract(data, "     \
              "'$.score') AS REAL)) AS average FROM events WHERE kind = "      \
              "'satisfaction'")                                                \
    X(M_REPEATS, "SELECT COUNT(*) AS n FROM (SELECT ticket_id FROM "           \
                 "escalations GROUP BY ticket_id HAVING COUNT(*) > 1) r")      \
    X(M_LEVELS, "SELECT l.team AS level, COUNT(*) AS entered, "                \
                "(SELECT COUNT(*) FROM escalations r WHERE r.state = "         \
                "'resolved' AND r.team = l.team) AS resolved, "                \
                "AVG(CASE WHEN l.ended_at IS NOT NULL THEN "                   \
                "l.ended_at - l.started_at END) AS time_at_level_avg_s, "      \
                "SUM(CASE WHEN l.respond_by IS NOT NULL AND l.breached_at IS " \
                "NULL AND (l.responded_at IS NOT NULL OR l.ended_at IS NOT "   \
                "NULL) THEN 1 ELSE 0 END) AS sla_met, "                        \
                "SUM(CASE WHEN l.breached_at IS NOT NULL THEN 1 ELSE 0 END) "  \
                "AS sla_breached FROM escalation_levels l JOIN escalations e " \
                "ON e.id = l.escalation_id GROUP BY l.team ORDER BY l.team")

enum {
#define STMT_ENUM(name, sql) S_##name,
    STATEMENTS(STMT_ENUM)
#undef STMT_ENUM
    S_COUNT
};

static const char *const statement_sql[] = {
#define STMT_SQL(name, sql) sql,
    STATEMENTS(STMT_SQL)
#undef STMT_SQL
};

typedef struct sqlite_store {
    store base;
    sqlite3 *db;
    sqlite3_stmt *stmts[S_COUNT];
    char err[512];
    char *path;
    bool reader;  /* open_reader(): read-only, snapshots only */
    bool in_unit; /* between begin() and release(), commit() or rollback() */
    int released; /* units waiting in the open batch for flush() */
    bool lost;    /* released units went with a transaction SQLite ended */
    /* The writer's checkpoints run on a thread of their own (see
     * checkpointer_main): started once the writer is open. */
    struct {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        sqlite3 *db; /* the thread's own connection */
        bool started, due, stop;
    } ck;
} sqlite_store;

#define SS(s) ((sqlite_store *)(s))

static int fail(sqlite_store *s, const char *what)
{
    snprintf(s->err, sizeof(s->err), "%s: %s", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

/* The prepared statement, reset and cleared, or NULL after an error. */
static sqlite3_stmt *stmt(sqlite_store *s, int which)
{
    sqlite3_stmt *st = s->stmts[which];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, statement_sql[which], -1,
                               SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            fail(s, "prepare");
            return NULL;
        }
        s->stmts[which] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds a JSON value: strings as text, integers, null; anything else as its
 * compact JSON text. */
static void bind_json(sqlite3_stmt *st, int i, json_t *v)
{
    if (!v || json_is_null(v)) {
        sqlite3_bind_null(st, i);
    } else if (json_is_string(v)) {
        sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v),
                          SQLITE_TRANSIENT);
    } else if (json_is_integer(v)) {
        sqlite3_bind_int64(st, i, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        sqlite3_bind_int64(st, i, json_is_true(v));
    } else if (json_is_real(v)) {
        sqlite3_bind_double(st, i, json_real_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (t)
            sqlite3_bind_text(st, i, t, -1, free);
        else
            sqlite3_bind_null(st, i);
    }
}

static json_t *column_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
        /* Every text here was valid UTF-8 when it was written (requests
         * and policies are checked on the way in), so it is not checked
         * again on each read: a ticket's row is several kilobytes. */
        return json_stringn_nocheck((const char *)sqlite3_column_text(st, i),
                                    (size_t)sqlite3_column_bytes(st, i));
    default:
        return json_null();
    }
}

static json_t *row_json(sqlite3_stmt *st)
{
    json_t *row = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        json_object_set_new(row, sqlite3_column_name(st, i), column_json(st, i));
    return row;
}

/* Runs a bound statement that returns no rows. */
static int exec_stmt(sqlite_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(s, what);
    return STORE_OK;
}

/* Collects every row into a new array. */
static int rows_stmt(sqlite_store *s, sqlite3_stmt *st, json_t **rows,
                     const char *what)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row_json(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return fail(s, what);
    }
    *rows = arr;
    return STORE_OK;
}

/* One row into *row, or STORE_NOTFOUND. */
static int row_stmt(sqlite_store *s, sqlite3_stmt *st, json_t **row,
                    const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = row_json(st);
        sqlite3_reset(st);
        return STORE_OK;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return STORE_NOTFOUND;
    return fail(s, what);
}

/* ---- operations ---------------------------------------------------------- */

/* A statement whose one parameter is a ticket id: its rows, or its row. */
static int rows_of(sqlite_store *s, int which, const char *ticket, json_t **rows,
                   const char *what)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, ticket);
    return rows_stmt(s, st, rows, what);
}

static int row_of(sqlite_store *s, int which, const char *ticket, json_t **row,
                  const char *what)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, ticket);
    return row_stmt(s, st, row, what);
}

static void checkpointer_stop(sqlite_store *s);

static void sq_close(store *base)
{
    sqlite_store *s = SS(base);
    if (!s)
        return;
    checkpointer_stop(s);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const char *sq_errmsg(store *s) { return SS(s)->err; }

static int schema_version(sqlite_store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int sq_schema_version(store *s) { return schema_version(SS(s)); }

#define RUN(s, which, what, ...)                                               \
    do {                                                                       \
        sqlite3_stmt *st_ = stmt(s, which);                                    \
        if (!st_)                                                              \
            return STORE_ERROR;                                                \
        __VA_ARGS__;                                                           \
        return exec_stmt(s, st_, what);                                        \
    } while (0)

/* ---- transactions: units of work grouped into batches -------------------
 *
 * The batch is one transaction (BEGIN IMMEDIATE ... COMMIT) and each unit a
 * SAVEPOINT in it. SQLite ends a transaction by itself after some errors
 * (disk full, I/O error, busy): then the units released into it are gone,
 * and flush() must say so rather than commit an empty transaction. */

static int run_simple(sqlite_store *s, int which, const char *what)
{
    sqlite3_stmt *st = stmt(s, which);
    return st ? exec_stmt(s, st, what) : STORE_ERROR;
}

/* True when released units were lost with a transaction SQLite ended; it
 * stays so until flush() has reported it. */
static bool batch_lost(sqlite_store *s)
{
    if (s->released > 0 && sqlite3_get_autocommit(s->db)) {
        s->released = 0;
        s->lost = true;
    }
    if (s->lost)
        snprintf(s->err, sizeof(s->err),
                 "the batch transaction was rolled back by the database");
    return s->lost;
}

static int sq_begin(store *b)
{
    sqlite_store *s = SS(b);
    if (s->reader)
        return run_simple(s, S_BEGIN_READ, "begin");
    if (s->in_unit) {
        snprintf(s->err, sizeof(s->err), "begin: a unit of work is open already");
        return STORE_ERROR;
    }
    if (batch_lost(s))
        return STORE_ERROR;
    if (sqlite3_get_autocommit(s->db) &&
        run_simple(s, S_BEGIN, "begin") != STORE_OK)
        return STORE_ERROR;
    if (run_simple(s, S_SAVEPOINT, "begin") != STORE_OK) {
        if (s->released == 0 && !sqlite3_get_autocommit(s->db))
            run_simple(s, S_ROLLBACK, "rollback");
        return STORE_ERROR;
    }
    s->in_unit = true;
    return STORE_OK;
}

static int sq_release(store *b)
{
    sqlite_store *s = SS(b);
    if (s->reader || !s->in_unit)
        return STORE_OK;
    s->in_unit = false;
    if (sqlite3_get_autocommit(s->db)) {
        /* The transaction is gone, this unit with it, and the units
         * released before it (flush() reports them lost). */
        batch_lost(s);
        snprintf(s->err, sizeof(s->err),
                 "the transaction was rolled back by the database");
        return STORE_ERROR;
    }
    if (run_simple(s, S_RELEASE, "release") != STORE_OK) {
        sqlite3_stmt *st = stmt(s, S_ROLLBACK_TO);
        if (st && exec_stmt(s, st, "rollback") == STORE_OK)
            run_simple(s, S_RELEASE, "release");
        if (s->released == 0 && !sqlite3_get_autocommit(s->db))
            run_simple(s, S_ROLLBACK, "rollback");
        return STORE_ERROR;
    }
    s->released++;
    return STORE_OK;
}

static int sq_flush(store *b)
{
    sqlite_store *s = SS(b);
    if (s->reader)
        return STORE_OK;
    if (batch_lost(s)) {
        s->lost = false;
        return STORE_ERROR;
    }
    if (sqlite3_get_autocommit(s->db))
        return STORE_OK; /* nothing open */
    int rc = run_simple(s, S_COMMIT, "commit");
    if (rc != STORE_OK && !sqlite3_get_autocommit(s->db)) {
        char why[sizeof(s->err)];
        memcpy(why, s->err, sizeof(why));
        run_simple(s, S_ROLLBACK, "rollback");
        memcpy(s->err, why, sizeof(why));
    }
    s->released = 0;
    return rc;
}

static int sq_commit(store *b)
{
    sqlite_store *s = SS(b);
    if (s->reader)
        return sqlite3_get_autocommit(s->db) ? STORE_OK
                                             : run_simple(s, S_COMMIT, "commit");
    if (sq_release(b) != STORE_OK) {
        sq_flush(b); /* what the other units did still goes */
        return STORE_ERROR;
    }
    return sq_flush(b);
}

/* Undoes the current unit; the units released before it stay. */
static void sq_rollback(store *b)
{
    sqlite_store *s = SS(b);
    if (s->reader) {
        if (!sqlite3_get_autocommit(s->db))
            run_simple(s, S_ROLLBACK, "rollback");
        return;
    }
    if (!s->in_unit)
        return; /* nothing of the caller's is open */
    s->in_unit = false;
    char why[sizeof(s->err)];
    memcpy(why, s->err, sizeof(why)); /* keep the error the caller reports */
    if (sqlite3_get_autocommit(s->db)) {
        batch_lost(s); /* SQLite ended the transaction already */
    } else if (s->released == 0) {
        run_simple(s, S_ROLLBACK, "rollback");
    } else if (run_simple(s, S_ROLLBACK_TO, "rollback") != STORE_OK ||
               run_simple(s, S_RELEASE, "rollback") != STORE_OK) {
        /* The savepoint cannot be undone alone: the whole batch goes, and
         * flush() reports it to the units that wait for it. */
        run_simple(s, S_ROLLBACK, "rollback");
        batch_lost(s);
    }
    memcpy(s->err, why, sizeof(why));
}

static int sq_ticket_get(store *b, const char *id, json_t **row)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_TICKET_GET);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return row_stmt(s, st, row, "ticket_get");
}

static int sq_ticket_put(store *b, json_t *row)
{
    static const char *const cols[] = {
        "id", "doc", "status", "level", "priority", "fired", "decision",
        "created_at", "updated_at", "first_response_at", "resolved_at",
        "paused_at"};
    RUN(SS(b), S_TICKET_PUT, "ticket_put",
        for (int i = 0; i < 12; i++) bind_json(st_, i + 1,
                                               json_object_get(row, cols[i])));
}

static int sq_ticket_count(store *b, int64_t *n)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_TICKET_COUNT);
    json_t *row = NULL;
    if (!st)
        return STORE_ERROR;
    int rc = row_stmt(s, st, &row, "ticket_count");
    if (rc == STORE_OK)
        *n = json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return rc;
}

static int sq_messages_list(store *b, const char *ticket, json_t **rows)
{
    return rows_of(SS(b), S_MESSAGES_LIST, ticket, rows, "messages_list");
}

static int sq_message_add(store *b, const char *ticket, const char *sender,
                          int64_t at, const char *body)
{
    RUN(SS(b), S_MESSAGE_ADD, "message_add", bind_text(st_, 1, ticket);
        bind_text(st_, 2, sender); sqlite3_bind_int64(st_, 3, at);
        bind_text(st_, 4, body));
}

static int sq_messages_clear(store *b, const char *ticket)
{
    RUN(SS(b), S_MESSAGES_CLEAR, "messages_clear", bind_text(st_, 1, ticket));
}

static int sq_event_add(store *b, const char *ticket, int64_t at,
                        const char *kind, const char *actor, json_t *data)
{
    RUN(SS(b), S_EVENT_ADD, "event_add", bind_text(st_, 1, ticket);
        sqlite3_bind_int64(st_, 2, at); bind_text(st_, 3, kind);
        bind_text(st_, 4, actor); bind_json(st_, 5, data));
}

static int sq_events_list(store *b, const char *ticket, json_t **rows)
{
    return rows_of(SS(b), S_EVENTS_LIST, ticket, rows, "events_list");
}

static int sq_escalation_open_get(store *b, const char *ticket, json_t **row)
{
    return row_of(SS(b), S_ESC_OPEN_GET, ticket, row, "escalation_open_get");
}

static int sq_escalation_put(store *b, json_t *row)
{
    static const char *const cols[] = {
        "ticket_id", "state", "team", "priority", "opened_at", "closed_at",
        "owner", "acknowledged_at", "respond_by", "ack_repeats", "levels",
        "resolve_by", "resolution_breached_at"};
    sqlite_store *s = SS(b);
    json_t *id = json_object_get(row, "id");
    sqlite3_stmt *st = stmt(s, id ? S_ESC_UPDATE : S_ESC_INSERT);
    if (!st)
        return STORE_ERROR;
    for (int i = 0; i < 13; i++)
        bind_json(st, i + 1, json_object_get(row, cols[i]));
    if (id)
        bind_json(st, 14, id);
    int rc = exec_stmt(s, st, "escalation_put");
    if (rc == STORE_OK && !id)
        json_object_set_new(row, "id",
                            json_integer(sqlite3_last_insert_rowid(s->db)));
    return rc;
}

static int sq_escalations_list(store *b, const char *ticket, json_t **rows)
{
    return rows_of(SS(b), S_ESC_LIST, ticket, rows, "escalations_list");
}

static int sq_level_start(store *b, int64_t esc, const char *team, int64_t at,
                          const char *cause, int64_t respond_by)
{
    RUN(SS(b), S_LEVEL_START, "level_start", sqlite3_bind_int64(st_, 1, esc);
        bind_text(st_, 2, team); bind_text(st_, 3, cause);
        sqlite3_bind_int64(st_, 4, at);
        if (respond_by > 0) sqlite3_bind_int64(st_, 5, respond_by));
}

static int sq_level_end(store *b, int64_t esc, int64_t at)
{
    RUN(SS(b), S_LEVEL_END, "level_end", sqlite3_bind_int64(st_, 1, esc);
        sqlite3_bind_int64(st_, 2, at));
}

static int sq_level_mark(store *b, int64_t esc, const char *column, int64_t at)
{
    int which;
    if (!strcmp(column, "acknowledged_at"))
        which = S_LEVEL_ACK;
    else if (!strcmp(column, "responded_at"))
        which = S_LEVEL_RESPONDED;
    else if (!strcmp(column, "breached_at"))
        which = S_LEVEL_BREACHED;
    else
        return STORE_ERROR;
    RUN(SS(b), which, "level_mark", sqlite3_bind_int64(st_, 1, esc);
        sqlite3_bind_int64(st_, 2, at));
}

static int sq_levels_list(store *b, int64_t esc, json_t **rows)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_LEVELS_LIST);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, esc);
    return rows_stmt(s, st, rows, "levels_list");
}

static int sq_timer_arm(store *b, const char *ticket, const char *cause,
                        int64_t due, json_t *data)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_TIMER_INSERT);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, ticket);
    bind_text(st, 2, cause);
    sqlite3_bind_int64(st, 3, due);
    bind_json(st, 4, data);
    int rc = exec_stmt(s, st, "timer_arm");
    if (rc != STORE_OK)
        return rc;
    return sqlite3_changes(s->db) > 0 ? STORE_OK : STORE_NOTFOUND;
}

static int sq_timer_set(store *b, const char *ticket, const char *cause,
                        const char *state, int64_t due)
{
    RUN(SS(b), S_TIMER_SET, "timer_set", bind_text(st_, 1, ticket);
        bind_text(st_, 2, cause); bind_text(st_, 3, state);
        sqlite3_bind_int64(st_, 4, due));
}

static int sq_timer_fire(store *b, const char *ticket, const char *cause, int64_t now,
                         json_t **row)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_TIMER_FIRE);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, ticket);
    bind_text(st, 2, cause);
    sqlite3_bind_int64(st, 3, now);
    return row_stmt(s, st, row, "timer_fire");
}

static int sq_timers_list(store *b, const char *ticket, json_t **rows)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, ticket ? S_TIMERS_OF : S_TIMERS_ARMED);
    if (!st)
        return STORE_ERROR;
    if (ticket)
        bind_text(st, 1, ticket);
    return rows_stmt(s, st, rows, "timers_list");
}

static int sq_timers_armed_each(store *b,
                                int (*fn)(void *arg, const char *ticket,
                                          const char *cause, int64_t due),
                                void *arg)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_TIMERS_ARMED_EACH);
    if (!st)
        return STORE_ERROR;
    /* One pass over the whole timers table: through a small page cache,
     * so that it does not stay resident after start-up. */
    sqlite3_exec(s->db, "PRAGMA cache_size=-2000", NULL, NULL, NULL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ticket = (const char *)sqlite3_column_text(st, 0);
        const char *cause = (const char *)sqlite3_column_text(st, 1);
        if (fn(arg, ticket ? ticket : "", cause ? cause : "",
               (int64_t)sqlite3_column_int64(st, 2)) != 0) {
            sqlite3_reset(st);
            sqlite3_exec(s->db, CACHE_PRAGMA, NULL, NULL, NULL);
            snprintf(s->err, sizeof(s->err), "timers_armed_each: stopped");
            return STORE_ERROR;
        }
    }
    sqlite3_reset(st);
    sqlite3_exec(s->db, CACHE_PRAGMA, NULL, NULL, NULL);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "timers_armed_each");
}

static int sq_outbox_add(store *b, const char *key, const char *ticket,
                         int64_t at, const char *kind, json_t *payload)
{
    RUN(SS(b), S_OUTBOX_ADD, "outbox_add", bind_text(st_, 1, key);
        bind_text(st_, 2, ticket); sqlite3_bind_int64(st_, 3, at);
        bind_text(st_, 4, kind); bind_json(st_, 5, payload));
}

static int sq_outbox_list(store *b, const char *ticket, json_t **rows)
{
    return rows_of(SS(b), S_OUTBOX_LIST, ticket, rows, "outbox_list");
}

/* ---- deliveries ------------------------------------------------------------ */

static const char *jstr_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void bind_int_or_null(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_integer(v))
        sqlite3_bind_int64(st, i, json_integer_value(v));
    else
        sqlite3_bind_null(st, i);
}

static int sq_delivery_add(store *b, json_t *row)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_DLV_ADD);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, jstr_of(row, "idempotency_key"));
    bind_text(st, 2, jstr_of(row, "outbox_key"));
    bind_text(st, 3, jstr_of(row, "ticket_id"));
    bind_text(st, 4, jstr_of(row, "event"));
    bind_text(st, 5, jstr_of(row, "channel"));
    bind_text(st, 6, jstr_of(row, "recipient"));
    bind_text(st, 7, jstr_of(row, "fact"));
    bind_json(st, 8, json_object_get(row, "message"));
    bind_text(st, 9, jstr_of(row, "state"));
    bind_int_or_null(st, 10, json_object_get(row, "next_attempt_ms"));
    bind_int_or_null(st, 11, json_object_get(row, "created_at"));
    bind_int_or_null(st, 12, json_object_get(row, "updated_ms"));
    bind_int_or_null(st, 13, json_object_get(row, "delivered_ms"));
    bind_text(st, 14, jstr_of(row, "last_error"));
    int rc = exec_stmt(s, st, "delivery_add");
    if (rc != STORE_OK)
        return rc;
    if (sqlite3_changes(s->db) == 0)
        return STORE_NOTFOUND;
    json_object_set_new(row, "id", json_integer(sqlite3_last_insert_rowid(s->db)));
    return STORE_OK;
}

static int sq_delivery_get(store *b, int64_t id, json_t **row)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_DLV_GET);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    return row_stmt(s, st, row, "delivery_get");
}

static int sq_delivery_update(store *b, json_t *row)
{
    RUN(SS(b), S_DLV_UPDATE, "delivery_update",
        bind_int_or_null(st_, 1, json_object_get(row, "id"));
        bind_text(st_, 2, jstr_of(row, "state"));
        bind_int_or_null(st_, 3, json_object_get(row, "attempts"));
        bind_int_or_null(st_, 4, json_object_get(row, "next_attempt_ms"));
        bind_int_or_null(st_, 5, json_object_get(row, "sent_ms"));
        bind_int_or_null(st_, 6, json_object_get(row, "delivered_ms"));
        bind_text(st_, 7, jstr_of(row, "last_error"));
        bind_int_or_null(st_, 8, json_object_get(row, "digest_id"));
        bind_int_or_null(st_, 9, json_object_get(row, "updated_ms")));
}

static int sq_deliveries_list(store *b, json_t *filter, json_t **rows)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, jstr_of(filter, "ticket") ? S_DLV_LIST_TICKET : S_DLV_LIST);
    if (!st)
        return STORE_ERROR;
    static const char *const keys[] = {"state", "ticket", "channel", "recipient",
                                       "event"};
    for (int i = 0; i < 5; i++)
        bind_text(st, i + 1, jstr_of(filter, keys[i]));
    json_t *after = json_object_get(filter, "after_id"), *limit = json_object_get(filter, "limit");
    sqlite3_bind_int64(st, 6, json_is_integer(after) ? json_integer_value(after) : 0);
    sqlite3_bind_int64(st, 7, json_is_integer(limit) ? json_integer_value(limit) : 100);
    return rows_stmt(s, st, rows, "deliveries_list");
}

static int sq_deliveries_due(store *b, int64_t now_ms, int64_t limit, json_t **rows)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_DLV_DUE);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, limit);
    return rows_stmt(s, st, rows, "deliveries_due");
}

static int sq_delivery_next(store *b, int64_t *next_ms)
{
    sqlite_store *s = SS(b);
    json_t *row = NULL;
    sqlite3_stmt *st = stmt(s, S_DLV_NEXT);
    if (!st)
        return STORE_ERROR;
    int rc = row_stmt(s, st, &row, "delivery_next");
    if (rc != STORE_OK)
        return rc;
    json_t *v = json_object_get(row, "next_ms");
    rc = json_is_integer(v) ? STORE_OK : STORE_NOTFOUND;
    if (rc == STORE_OK)
        *next_ms = json_integer_value(v);
    json_decref(row);
    return rc;
}

static int sq_deliveries_requeue(store *b, int64_t now_ms)
{
    RUN(SS(b), S_DLV_REQUEUE, "deliveries_requeue", sqlite3_bind_int64(st_, 1, now_ms));
}

static int sq_delivery_recent(store *b, const char *channel, const char *recipient,
                              int64_t since_ms, int64_t *count, int64_t *oldest_ms)
{
    sqlite_store *s = SS(b);
    json_t *row = NULL;
    sqlite3_stmt *st = stmt(s, S_DLV_RECENT);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, channel);
    bind_text(st, 2, recipient);
    sqlite3_bind_int64(st, 3, since_ms);
    int rc = row_stmt(s, st, &row, "delivery_recent");
    if (rc != STORE_OK)
        return rc;
    json_t *n = json_object_get(row, "n"), *o = json_object_get(row, "oldest_ms");
    *count = json_is_integer(n) ? json_integer_value(n) : 0;
    *oldest_ms = json_is_integer(o) ? json_integer_value(o) : since_ms;
    json_decref(row);
    return STORE_OK;
}

static int sq_delivery_fact_seen(store *b, const char *ticket, const char *channel,
                                 const char *recipient, const char *fact)
{
    sqlite_store *s = SS(b);
    json_t *row = NULL;
    sqlite3_stmt *st = stmt(s, S_DLV_FACT);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, ticket);
    bind_text(st, 2, channel);
    bind_text(st, 3, recipient);
    bind_text(st, 4, fact);
    int rc = row_stmt(s, st, &row, "delivery_fact_seen");
    json_decref(row);
    return rc;
}

static int sq_inbound_add(store *b, const char *id, const char *source, int64_t at)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = stmt(s, S_INBOUND_ADD);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, id);
    bind_text(st, 2, source);
    sqlite3_bind_int64(st, 3, at);
    int rc = exec_stmt(s, st, "inbound_add");
    if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
        return STORE_NOTFOUND;
    return rc;
}

static int sq_inbound_seen(store *b, const char *id)
{
    sqlite_store *s = SS(b);
    json_t *row = NULL;
    sqlite3_stmt *st = stmt(s, S_INBOUND_SEEN);
    if (!st)
        return STORE_ERROR;
    bind_text(st, 1, id);
    int rc = row_stmt(s, st, &row, "inbound_seen");
    json_decref(row);
    return rc;
}

/* The queue's statement, of one team or all, ready to step; NULL after an
 * error. */
static sqlite3_stmt *queue_stmt(sqlite_store *s, const char *team)
{
    sqlite3_stmt *st = stmt(s, team ? S_QUEUE_TEAM : S_QUEUE_ALL);
    if (st && team)
        bind_text(st, 1, team);
    return st;
}

static int sq_queue_list(store *b, const char *team, json_t **rows)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = queue_stmt(s, team);
    return st ? rows_stmt(s, st, rows, "queue_list") : STORE_ERROR;
}

static int64_t column_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : (int64_t)sqlite3_column_int64(st, i);
}

static const char *column_str(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int sq_queue_each(store *b, const char *team,
                         int (*fn)(void *arg, const queue_entry *e), void *arg)
{
    sqlite_store *s = SS(b);
    sqlite3_stmt *st = queue_stmt(s, team);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* The columns of QUEUE_ALL and QUEUE_TEAM, in their order. */
        queue_entry e = {
            .ticket_id = column_str(st, 0) ? column_str(st, 0) : "",
            .team = column_str(st, 1) ? column_str(st, 1) : "",
            .priority = column_str(st, 2),
            .state = column_str(st, 3) ? column_str(st, 3) : "",
            .respond_by = column_time(st, 4),
            .opened_at = column_time(st, 5),
            .owner = column_str(st, 6),
            .acknowledged_at = column_time(st, 7),
            .resolve_by = column_time(st, 8),
            .status = column_str(st, 9) ? column_str(st, 9) : "",
            .paused_at = column_time(st, 10),
        };
        if (fn(arg, &e) != 0) {
            sqlite3_reset(st);
            snprintf(s->err, sizeof(s->err), "queue_each: stopped");
            return STORE_ERROR;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "queue_each");
}

static int sq_metrics(store *b, json_t **out)
{
    sqlite_store *s = SS(b);
    json_t *m = json_object(), *row = NULL, *rows = NULL;
    sqlite3_stmt *st;
    int rc = STORE_ERROR;

    if (!(st = stmt(s, S_M_TICKETS)) ||
        row_stmt(s, st, &row, "metrics") != STORE_OK)
        goto done;
    json_object_update(m, row);
    json_decref(row);
    row = NULL;
    if (!(st = stmt(s, S_M_ESCALATED)) ||
        row_stmt(s, st, &row, "metrics") != STORE_OK)
        goto done;
    json_object_update(m, row);
    json_decref(row);
    row = NULL;
    if (!(st = stmt(s, S_M_REPEATS)) ||
        row_stmt(s, st, &row, "metrics") != STORE_OK)
        goto done;
    json_object_set(m, "repeat_escalations", json_object_get(row, "n"));
    json_decref(row);
    row = NULL;
    if (!(st = stmt(s, S_M_CSAT)) || row_stmt(s, st, &row, "metrics") != STORE_OK)
        goto done;
    json_object_set(m, "satisfaction", row);
    if (!(st = stmt(s, S_M_LEVELS)) || rows_stmt(s, st, &rows, "metrics") != STORE_OK)
        goto done;
    json_object_set_new(m, "levels", rows);
    rc = STORE_OK;
done:
    json_decref(row);
    if (rc == STORE_OK)
        *out = m;
    else
        json_decref(m);
    return rc;
}

static store *sq_open_reader(store *b, char *errbuf, size_t errsize);

static const store_ops sqlite_ops = {
    .close = sq_close,
    .errmsg = sq_errmsg,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .release = sq_release,
    .flush = sq_flush,
    .open_reader = sq_open_reader,
    .ticket_get = sq_ticket_get,
    .ticket_put = sq_ticket_put,
    .ticket_count = sq_ticket_count,
    .messages_list = sq_messages_list,
    .message_add = sq_message_add,
    .messages_clear = sq_messages_clear,
    .event_add = sq_event_add,
    .events_list = sq_events_list,
    .escalation_open_get = sq_escalation_open_get,
    .escalation_put = sq_escalation_put,
    .escalations_list = sq_escalations_list,
    .level_start = sq_level_start,
    .level_end = sq_level_end,
    .level_mark = sq_level_mark,
    .levels_list = sq_levels_list,
    .timer_arm = sq_timer_arm,
    .timer_set = sq_timer_set,
    .timer_fire = sq_timer_fire,
    .timers_list = sq_timers_list,
    .timers_armed_each = sq_timers_armed_each,
    .outbox_add = sq_outbox_add,
    .outbox_list = sq_outbox_list,
    .delivery_add = sq_delivery_add,
    .delivery_get = sq_delivery_get,
    .delivery_update = sq_delivery_update,
    .deliveries_list = sq_deliveries_list,
    .deliveries_due = sq_deliveries_due,
    .delivery_next = sq_delivery_next,
    .deliveries_requeue = sq_deliveries_requeue,
    .delivery_recent = sq_delivery_recent,
    .delivery_fact_seen = sq_delivery_fact_seen,
    .inbound_add = sq_inbound_add,
    .inbound_seen = sq_inbound_seen,
    .queue_list = sq_queue_list,
    .queue_each = sq_queue_each,
    .metrics = sq_metrics,
};

/* Applies the migrations the database has not seen, each in its own
 * transaction with its version row. */
static int migrate(sqlite_store *s)
{
    if (sqlite3_exec(s->db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "schema_version");
    int v = schema_version(s);
    if (v < 0)
        v = 0;
    if (v > NMIGRATIONS) {
        snprintf(s->err, sizeof(s->err),
                 "the database has schema version %d; this escalator knows "
                 "up to %d",
                 v, NMIGRATIONS);
        return STORE_ERROR;
    }
    for (int i = v; i < NMIGRATIONS; i++) {
        sqlite3_stmt *ins = NULL;
        char what[64];
        snprintf(what, sizeof(what), "migration %d", i + 1);
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return fail(s, what);
        int ok = sqlite3_exec(s->db, migrations[i], NULL, NULL, NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(s->db,
                                    "INSERT INTO schema_version (version, applied_at) "
                                    "VALUES (?1, ?2)",
                                    -1, &ins, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_int(ins, 1, i + 1);
            sqlite3_bind_int64(ins, 2, (sqlite3_int64)time(NULL));
            ok = sqlite3_step(ins) == SQLITE_DONE;
        }
        sqlite3_finalize(ins);
        if (!ok) {
            fail(s, what);
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return STORE_ERROR;
        }
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return fail(s, what);
    }
    return STORE_OK;
}

/*
 * Checkpoints off the write path. By default SQLite copies the WAL back
 * into the database inside the COMMIT that makes the WAL pass 1,000 pages,
 * and that commit (and every request waiting on it) pays for it: a tenth
 * of a durable write's time in the profiles. The writer connection instead
 * only notes, from its WAL hook, that the WAL has grown past the mark, and
 * a thread of its own with its own connection runs a PASSIVE checkpoint,
 * which copies what no reader still needs without blocking the writer or
 * the readers. When the writer keeps the WAL busy the checkpoint copies
 * what it can and runs again after the next commits.
 */
enum { CHECKPOINT_FRAMES = 1000 };

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    sqlite_store *s = arg;
    if (frames >= CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&s->ck.lock);
        s->ck.due = true;
        pthread_cond_signal(&s->ck.wake);
        pthread_mutex_unlock(&s->ck.lock);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    sqlite_store *s = arg;
    pthread_mutex_lock(&s->ck.lock);
    while (!s->ck.stop) {
        if (!s->ck.due) {
            pthread_cond_wait(&s->ck.wake, &s->ck.lock);
            continue;
        }
        s->ck.due = false;
        pthread_mutex_unlock(&s->ck.lock);
        int rc = sqlite3_wal_checkpoint_v2(s->ck.db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                           NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            fprintf(stderr, "escalator: store: checkpoint: %s\n", sqlite3_errmsg(s->ck.db));
        pthread_mutex_lock(&s->ck.lock);
    }
    pthread_mutex_unlock(&s->ck.lock);
    return NULL;
}

static int checkpointer_start(sqlite_store *s)
{
    if (sqlite3_open_v2(s->path, &s->ck.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(s->err, sizeof(s->err), "checkpoint connection: %s",
                 s->ck.db ? sqlite3_errmsg(s->ck.db) : "cannot open");
        sqlite3_close(s->ck.db);
        s->ck.db = NULL;
        return STORE_ERROR;
    }
    sqlite3_busy_timeout(s->ck.db, 5000);
    /* A connection finds the WAL when it first reads: before that, a
     * checkpoint on it does nothing. */
    sqlite3_exec(s->ck.db, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL, NULL, NULL);
    pthread_mutex_init(&s->ck.lock, NULL);
    pthread_cond_init(&s->ck.wake, NULL);
    if (pthread_create(&s->ck.thread, NULL, checkpointer_main, s) != 0) {
        snprintf(s->err, sizeof(s->err), "cannot start the checkpoint thread");
        pthread_cond_destroy(&s->ck.wake);
        pthread_mutex_destroy(&s->ck.lock);
        sqlite3_close(s->ck.db);
        s->ck.db = NULL;
        return STORE_ERROR;
    }
    s->ck.started = true;
    sqlite3_wal_hook(s->db, wal_hook, s); /* replaces the automatic checkpoint */
    return STORE_OK;
}

static void checkpointer_stop(sqlite_store *s)
{
    if (!s->ck.started)
        return;
    sqlite3_wal_hook(s->db, NULL, NULL);
    pthread_mutex_lock(&s->ck.lock);
    s->ck.stop = true;
    pthread_cond_signal(&s->ck.wake);
    pthread_mutex_unlock(&s->ck.lock);
    pthread_join(s->ck.thread, NULL);
    pthread_cond_destroy(&s->ck.wake);
    pthread_mutex_destroy(&s->ck.lock);
    sqlite3_close(s->ck.db); /* the writer, closed last, checkpoints the rest */
    s->ck.db = NULL;
    s->ck.started = false;
}

store *store_sqlite_open(const char *path, const char *synchronous,
                         char *errbuf, size_t errsize)
{
    sqlite_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->path = strdup(path);
    const char *sync = synchronous && !strcmp(synchronous, "full")
                           ? "PRAGMA synchronous=FULL"
                           : "PRAGMA synchronous=NORMAL";
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(errbuf, errsize, "%s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
        sq_close(&s->base);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, sync, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, CACHE_PRAGMA, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, TEMP_PRAGMA, NULL, NULL, NULL) != SQLITE_OK ||
        migrate(s) != STORE_OK || checkpointer_start(s) != STORE_OK) {
        if (!s->err[0])
            fail(s, path);
        snprintf(errbuf, errsize, "%s: %s", path, s->err);
        sq_close(&s->base);
        return NULL;
    }
    return &s->base;
}

/* Another connection to the same file, opened read-only: in WAL mode it
 * reads the last committed state while the writer works on the next batch. */
static store *sq_open_reader(store *b, char *errbuf, size_t errsize)
{
    sqlite_store *w = SS(b);
    sqlite_store *s = calloc(1, sizeof(*s));
    if (!s || !w->path) {
        free(s);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->reader = true;
    s->path = strdup(w->path);
    if (!s->path || sqlite3_open_v2(w->path, &s->db,
                                    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                    NULL) != SQLITE_OK) {
        snprintf(errbuf, errsize, "%s: %s", w->path,
                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
        sq_close(&s->base);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, "PRAGMA query_only=ON", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(errbuf, errsize, "%s: %s", w->path, sqlite3_errmsg(s->db));
        sq_close(&s->base);
        return NULL;
    }
    return &s->base;
}
