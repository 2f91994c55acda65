/*
 * test_server.c - the parts of the service that need no socket: the timer
 * heap, the SQLite store (migrations, once-per-cause timers, the outbox's
 * idempotency, queue order, units of work grouped into one commit, readers
 * that see committed batches only), durations, tokens and roles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../src/server/auth.h"
#include "../../src/server/config.h"
#include "../../src/server/service.h"
#include "../../src/server/timers.h"
#include "../../src/store/store.h"

/* timers_armed_each callbacks: counts the armed timers, summing their due
 * times; stops at once. */
static int count_armed(void *arg, const char *ticket, const char *cause, int64_t due)
{
    int64_t *walked = arg;
    assert_string_equal(ticket, "T-1");
    assert_string_equal(cause, "warn:1.1.0");
    walked[0]++;
    walked[1] += due;
    return 0;
}

static int stop_walk(void *arg, const char *ticket, const char *cause, int64_t due)
{
    (void)arg, (void)ticket, (void)cause, (void)due;
    return 1;
}

static void test_heap_order(void **state)
{
    (void)state;
    timer_heap h;
    timer_heap_init(&h);
    int64_t dues[] = {50, 10, 40, 10, 30, 20, 60, 0, 45, 5};
    char cause[16];
    for (size_t i = 0; i < sizeof(dues) / sizeof(dues[0]); i++) {
        snprintf(cause, sizeof(cause), "c%zu", i);
        assert_int_equal(timer_heap_push(&h, dues[i], "T", cause), 0);
    }
    assert_int_equal(timer_heap_peek(&h)->due, 0);
    int64_t last = INT64_MIN;
    timer_entry e;
    size_t n = 0;
    while (timer_heap_pop(&h, &e) == 0) {
        assert_true(e.due >= last);
        last = e.due;
        assert_string_equal(e.ticket, "T");
        assert_int_equal(e.cause[0], 'c');
        timer_entry_free(&e);
        n++;
    }
    assert_int_equal(n, 10);
    assert_null(timer_heap_peek(&h));
    assert_int_equal(timer_heap_pop(&h, &e), -1);
    /* Entries left in the heap are freed with it. */
    timer_heap_push(&h, 1, "T", "x");
    timer_heap_free(&h);
}

static void count_due(void *arg, const timer_entry *e)
{
    int64_t *sum = arg;
    sum[0]++;
    sum[1] += e->due;
}

/* The walk over the entries due by a time visits exactly those. */
static void test_heap_each_until(void **state)
{
    (void)state;
    timer_heap h;
    timer_heap_init(&h);
    int64_t sum[2] = {0, 0};
    assert_int_equal(timer_heap_each_until(&h, 100, count_due, sum), 0);
    /* 1,000 entries due 0..999, pushed in a scrambled order. */
    for (int64_t i = 0; i < 1000; i++)
        assert_int_equal(timer_heap_push(&h, (i * 617) % 1000, "T", "c"), 0);
    for (int64_t until = -1; until < 1001; until += 37) {
        sum[0] = sum[1] = 0;
        int64_t want = until < 0 ? 0 : until > 999 ? 1000 : until + 1;
        assert_int_equal(timer_heap_each_until(&h, until, count_due, sum), want);
        assert_int_equal(sum[0], want);
        assert_int_equal(sum[1], want * (want - 1) / 2);
    }
    assert_int_equal(h.len, 1000); /* unchanged */
    timer_heap_free(&h);
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(config_parse_duration("90s"), 90);
    assert_int_equal(config_parse_duration("15m"), 900);
    assert_int_equal(config_parse_duration("1h30m"), 5400);
    assert_int_equal(config_parse_duration("2d"), 172800);
    assert_int_equal(config_parse_duration("1w"), 604800);
    assert_int_equal(config_parse_duration("45"), 45);
    assert_int_equal(config_parse_duration("0s"), 0);
    assert_int_equal(config_parse_duration(""), -1);
    assert_int_equal(config_parse_duration("1h30"), -1);
    assert_int_equal(config_parse_duration("m"), -1);
    assert_int_equal(config_parse_duration("-5m"), -1);
    assert_int_equal(config_parse_duration("5y"), -1);
    assert_int_equal(config_parse_duration("99999999w"), -1);
}

static void test_auth_roles(void **state)
{
    (void)state;
    const char *err = NULL;
    auth *a = auth_new("bot:bbbbbbbb, agent:aaaaaaaa,viewer:vvvvvvvv,admin:AAAAAAAA", &err);
    assert_non_null(a);
    assert_false(auth_open(a));
    assert_int_equal(auth_permissions(a, "bbbbbbbb"), PERM_EVALUATE);
    assert_int_equal(auth_permissions(a, "vvvvvvvv"), PERM_READ);
    assert_int_equal(auth_permissions(a, "aaaaaaaa"), PERM_EVALUATE | PERM_READ | PERM_WRITE);
    assert_int_equal(auth_permissions(a, "AAAAAAAA"),
                     PERM_EVALUATE | PERM_READ | PERM_WRITE | PERM_ADMIN);
    assert_int_equal(auth_permissions(a, "aaaaaaa"), 0);
    assert_int_equal(auth_permissions(a, "aaaaaaaaa"), 0);
    assert_int_equal(auth_permissions(a, ""), 0);
    assert_int_equal(auth_permissions(a, NULL), 0);
    auth_free(&a);
    assert_null(a);

    assert_null(auth_new("root:xxxxxxxx", &err));
    assert_non_null(err);
    assert_null(auth_new("admin:short", &err));
    assert_null(auth_new("adminxxxxxxxx", &err));
    a = auth_new("", &err);
    assert_true(auth_open(a));
    assert_int_equal(auth_permissions(a, NULL) & PERM_ADMIN, PERM_ADMIN);
    auth_free(&a);
}

/* A new temporary folder in dir (a mkdtemp() template) and the path of a
 * database in it. */
static void temp_db(char *dir, char path[300])
{
    assert_non_null(mkdtemp(dir));
    snprintf(path, 300, "%s/db", dir);
}

/* Removes a folder of temp_db() and what is in it. */
static void remove_dir(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static store *open_store(const char *path)
{
    char err[512];
    store *s = store_sqlite_open(path, "normal", err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    return s;
}

/* A tickets row for the store: an open ticket with document doc. */
static json_t *ticket_row(const char *id, const char *doc)
{
    return json_pack("{s:s, s:s, s:s, s:n, s:n, s:s, s:n, s:i, s:i, s:n, s:n, s:n}", "id", id,
                     "doc", doc, "status", "open", "level", "priority", "fired", "[]",
                     "decision", "created_at", 100, "updated_at", 100, "first_response_at",
                     "resolved_at", "paused_at");
}

/* Appends each queue entry's ticket id and a space to arg; its times are
 * -1 or seconds. */
static int queue_ids(void *arg, const queue_entry *e)
{
    char *seen = arg;
    assert_true(e->opened_at == 100);
    assert_true(e->acknowledged_at == -1 && e->paused_at == -1);
    assert_null(e->owner);
    strcat(seen, e->ticket_id);
    strcat(seen, " ");
    return 0;
}

static int stop_queue(void *arg, const queue_entry *e)
{
    (void)arg;
    (void)e;
    return 1;
}

static void test_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/escalator-test-XXXXXX", path[300];
    temp_db(dir, path);

    store *s = open_store(path);
    const store_ops *ops = s->ops;
    assert_int_equal(ops->schema_version(s), 6);

    json_t *row = ticket_row("T-1", "{\"id\":\"T-1\"}");
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->ticket_put(s, row), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "customer", 100, "hello"), STORE_OK);

    /* Each cause arms once: a fired timer is not armed again. */
    assert_int_equal(ops->timer_arm(s, "T-1", "respond:1.1.0", 500, NULL), STORE_OK);
    assert_int_equal(ops->timer_arm(s, "T-1", "respond:1.1.0", 600, NULL), STORE_OK);
    assert_int_equal(ops->timer_set(s, "T-1", "respond:1.1.0", "fired", 600), STORE_OK);
    assert_int_equal(ops->timer_arm(s, "T-1", "respond:1.1.0", 700, NULL), STORE_NOTFOUND);

    /* The outbox keeps one row per key. */
    json_t *payload = json_pack("{s:s}", "team", "l2");
    assert_int_equal(ops->outbox_add(s, "T-1:x:1", "T-1", 100, "x", payload), STORE_OK);
    assert_int_equal(ops->outbox_add(s, "T-1:x:1", "T-1", 101, "x", payload), STORE_OK);
    json_decref(payload);
    assert_int_equal(ops->commit(s), STORE_OK);

    /* A rolled-back transaction leaves nothing. */
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 200, "lost"), STORE_OK);
    ops->rollback(s);
    ops->close(s);

    /* Reopened: the migrations are not applied twice, the data is there. */
    s = open_store(path);
    ops = s->ops;
    assert_int_equal(ops->schema_version(s), 6);
    json_t *got = NULL, *rows = NULL;
    assert_int_equal(ops->ticket_get(s, "T-1", &got), STORE_OK);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "open");
    json_decref(got);
    assert_int_equal(ops->ticket_get(s, "T-2", &got), STORE_NOTFOUND);
    assert_int_equal(ops->messages_list(s, "T-1", &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    assert_int_equal(ops->outbox_list(s, "T-1", &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    assert_int_equal(ops->timers_list(s, NULL, &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 0); /* the only timer fired */
    json_decref(rows);

    /* Start-up walks the armed timers without building rows. */
    assert_int_equal(ops->timer_arm(s, "T-1", "warn:1.1.0", 800, NULL), STORE_OK);
    assert_int_equal(ops->timer_arm(s, "T-1", "ack:1.1.0", 900, NULL), STORE_OK);
    assert_int_equal(ops->timer_set(s, "T-1", "ack:1.1.0", "cancelled", 900), STORE_OK);
    int64_t walked[2] = {0, 0};
    assert_int_equal(ops->timers_armed_each(s, count_armed, walked), STORE_OK);
    assert_int_equal(walked[0], 1);
    assert_int_equal(walked[1], 800);
    assert_int_equal(ops->timers_armed_each(s, stop_walk, NULL), STORE_ERROR);

    /* A firing marks an armed timer that is due, once; not one due later,
     * fired or cancelled. */
    assert_int_equal(ops->begin(s), STORE_OK);
    json_t *data = json_pack("{s:s}", "team", "l2");
    assert_int_equal(ops->timer_arm(s, "T-1", "follow_up:1.1.0", 850, data), STORE_OK);
    json_decref(data);
    assert_int_equal(ops->timer_fire(s, "T-1", "follow_up:1.1.0", 849, &got),
                     STORE_NOTFOUND);
    assert_int_equal(ops->timer_fire(s, "T-1", "follow_up:1.1.0", 850, &got), STORE_OK);
    assert_int_equal(json_integer_value(json_object_get(got, "due_at")), 850);
    assert_string_equal(json_string_value(json_object_get(got, "data")),
                        "{\"team\":\"l2\"}");
    json_decref(got);
    assert_int_equal(ops->timer_fire(s, "T-1", "follow_up:1.1.0", 900, &got),
                     STORE_NOTFOUND);
    assert_int_equal(ops->timer_fire(s, "T-1", "ack:1.1.0", 1000, &got), STORE_NOTFOUND);
    assert_int_equal(ops->timer_fire(s, "T-1", "respond:1.1.0", 1000, &got),
                     STORE_NOTFOUND);
    assert_int_equal(ops->timers_list(s, "T-1", &rows), STORE_OK);
    const char *fu_state = NULL;
    json_t *tr;
    size_t ti;
    json_array_foreach(rows, ti, tr)
    {
        if (!strcmp(json_string_value(json_object_get(tr, "cause")), "follow_up:1.1.0"))
            fu_state = json_string_value(json_object_get(tr, "state"));
    }
    assert_non_null(fu_state);
    assert_string_equal(fu_state, "fired");
    json_decref(rows);
    assert_int_equal(ops->commit(s), STORE_OK);

    /* Queues: earliest deadline first, no deadline last. */
    const char *teams[] = {"l2", "l2", "carrier"};
    int64_t due[] = {900, 300, 0};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "E-%d", i);
        json_object_set_new(row, "id", json_string(id));
        assert_int_equal(ops->ticket_put(s, row), STORE_OK);
        json_t *esc = json_pack("{s:s, s:s, s:s, s:n, s:i, s:n, s:n, s:n, s:o, s:i, s:i}",
                                "ticket_id", id, "state", "open", "team", teams[i],
                                "priority", "opened_at", 100, "closed_at", "owner",
                                "acknowledged_at", "respond_by",
                                due[i] ? json_integer(due[i]) : json_null(),
                                "ack_repeats", 0, "levels", 1);
        assert_int_equal(ops->escalation_put(s, esc), STORE_OK);
        assert_true(json_integer_value(json_object_get(esc, "id")) > 0);
        json_decref(esc);
    }
    assert_int_equal(ops->queue_list(s, NULL, &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "ticket_id")), "E-1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "ticket_id")), "E-0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "ticket_id")), "E-2");
    json_decref(rows);
    assert_int_equal(ops->queue_list(s, "carrier", &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
    /* The same entries, one at a time, in the same order. */
    char seen[64] = "";
    assert_int_equal(ops->queue_each(s, NULL, queue_ids, seen), STORE_OK);
    assert_string_equal(seen, "E-1 E-0 E-2 ");
    seen[0] = '\0';
    assert_int_equal(ops->queue_each(s, "carrier", queue_ids, seen), STORE_OK);
    assert_string_equal(seen, "E-2 ");
    assert_int_equal(ops->queue_each(s, NULL, stop_queue, NULL), STORE_ERROR);
    ops->close(s);
    json_decref(row);

    remove_dir(dir);
}

static size_t count_messages(store *r, const char *ticket)
{
    json_t *rows = NULL;
    assert_int_equal(r->ops->messages_list(r, ticket, &rows), STORE_OK);
    size_t n = json_array_size(rows);
    json_decref(rows);
    return n;
}

/* How many schema objects of the database at path are named name. */
static int schema_objects(const char *path, const char *name)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A database of schema 5 (with the timers' due index) is brought to the
 * current schema on open: the index goes, the armed timers stay. */
static void test_store_upgrade(void **state)
{
    (void)state;
    char dir[] = "/tmp/escalator-test-XXXXXX", path[300];
    temp_db(dir, path);
    store *s = open_store(path);
    const store_ops *ops = s->ops;
    json_t *row = ticket_row("T-1", "{\"id\":\"T-1\"}");
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->ticket_put(s, row), STORE_OK);
    assert_int_equal(ops->timer_arm(s, "T-1", "respond:1.1.0", 500, NULL), STORE_OK);
    assert_int_equal(ops->timer_arm(s, "T-1", "warn:1.1.0", 400, NULL), STORE_OK);
    assert_int_equal(ops->commit(s), STORE_OK);
    json_decref(row);
    ops->close(s);

    /* Back to schema 5 as it was. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE INDEX timers_due ON timers(state, due_at);"
                                  "DELETE FROM schema_version WHERE version > 5;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(schema_objects(path, "timers_due"), 1);

    s = open_store(path);
    ops = s->ops;
    assert_int_equal(ops->schema_version(s), 6);
    assert_int_equal(schema_objects(path, "timers_due"), 0);
    json_t *rows = NULL;
    assert_int_equal(ops->timers_list(s, NULL, &rows), STORE_OK);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "cause")),
                        "warn:1.1.0");
    json_decref(rows);
    ops->close(s);
    remove_dir(dir);
}

/* Units of work share one commit: a reader sees none of them before
 * flush(), a failed unit is undone alone, and a failed COMMIT loses the
 * whole batch. */
static void test_store_batches(void **state)
{
    (void)state;
    char dir[] = "/tmp/escalator-test-XXXXXX", path[300], err[512];
    temp_db(dir, path);
    store *s = open_store(path);
    const store_ops *ops = s->ops;
    store *r = ops->open_reader(s, err, sizeof(err));
    assert_non_null(r);

    json_t *row = ticket_row("T-1", "{\"id\":\"T-1\"}");
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->ticket_put(s, row), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "customer", 100, "one"), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);
    /* This unit fails (no such ticket): only it is undone. */
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 101, "undone"), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-9", "agent", 101, "orphan"), STORE_ERROR);
    ops->rollback(s);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "customer", 102, "two"), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);

    /* Nothing is committed yet: the reader sees nothing. */
    json_t *got = NULL;
    assert_int_equal(r->ops->ticket_get(r, "T-1", &got), STORE_NOTFOUND);
    assert_int_equal(ops->flush(s), STORE_OK);
    assert_int_equal(r->ops->ticket_get(r, "T-1", &got), STORE_OK);
    json_decref(got);
    assert_int_equal(count_messages(r, "T-1"), 2);
    assert_int_equal(ops->flush(s), STORE_OK); /* nothing open: nothing to do */

    /* A reader's snapshot holds still while batches commit. */
    assert_int_equal(r->ops->begin(r), STORE_OK);
    assert_int_equal(count_messages(r, "T-1"), 2);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 103, "three"), STORE_OK);
    assert_int_equal(ops->commit(s), STORE_OK);
    assert_int_equal(count_messages(r, "T-1"), 2);
    assert_int_equal(r->ops->commit(r), STORE_OK);
    assert_int_equal(count_messages(r, "T-1"), 3);

    /* A COMMIT that fails: a deferred foreign key, checked only at COMMIT,
     * breaks when a message says "poison". Every unit of the batch is lost,
     * and the store goes on with the next one. */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE poison (m TEXT REFERENCES tickets(id) "
                                  "DEFERRABLE INITIALLY DEFERRED);"
                                  "CREATE TRIGGER poisoned AFTER INSERT ON messages "
                                  "WHEN NEW.body = 'poison' BEGIN "
                                  "INSERT INTO poison VALUES ('no such ticket'); END;"
                                  "CREATE TRIGGER abort_all AFTER INSERT ON messages "
                                  "WHEN NEW.body = 'rollback' BEGIN "
                                  "SELECT RAISE(ROLLBACK, 'the whole transaction'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    ops->close(s);
    s = open_store(path);
    ops = s->ops;
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 104, "fine"), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 105, "poison"), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);
    assert_int_equal(ops->flush(s), STORE_ERROR);
    assert_non_null(strstr(ops->errmsg(s), "FOREIGN KEY"));
    assert_int_equal(count_messages(r, "T-1"), 3);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 106, "after"), STORE_OK);
    assert_int_equal(ops->commit(s), STORE_OK);
    assert_int_equal(count_messages(r, "T-1"), 4);

    /* A statement that makes SQLite end the whole transaction: the unit
     * fails, the units released before it are reported lost by flush(),
     * and the next batch works. */
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 107, "gone"), STORE_OK);
    assert_int_equal(ops->release(s), STORE_OK);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 108, "rollback"), STORE_ERROR);
    ops->rollback(s);
    assert_int_equal(ops->begin(s), STORE_ERROR); /* until the loss is reported */
    assert_int_equal(ops->flush(s), STORE_ERROR);
    assert_int_equal(count_messages(r, "T-1"), 4);
    assert_int_equal(ops->begin(s), STORE_OK);
    assert_int_equal(ops->message_add(s, "T-1", "agent", 109, "again"), STORE_OK);
    assert_int_equal(ops->commit(s), STORE_OK);
    assert_int_equal(count_messages(r, "T-1"), 5);

    r->ops->close(r);
    ops->close(s);
    json_decref(row);
    remove_dir(dir);
}

/* A COMMIT that fails at the service: the write is answered 500 and is not
 * there, and the timers its work pushed on the heap do not fire when they
 * come due (each is looked up in the store first). */
static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The WAL is copied back into the database by the store's own thread once
 * it passes 1,000 pages, while the writer goes on. */
static void test_store_checkpoints(void **state)
{
    (void)state;
    char dir[] = "/tmp/escalator-test-XXXXXX", path[300], wal[310];
    temp_db(dir, path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    store *s = open_store(path);
    const store_ops *ops = s->ops;
    long before = file_size(path);
    /* About 1,600 pages: each ticket row holds a 6 KB document. */
    char *big = malloc(6001);
    assert_non_null(big);
    memset(big, 'x', 6000);
    big[6000] = '\0';
    for (int i = 0; i < 800; i++) {
        char id[32];
        snprintf(id, sizeof(id), "T-%d", i);
        json_t *row = ticket_row(id, big);
        assert_int_equal(ops->begin(s), STORE_OK);
        assert_int_equal(ops->ticket_put(s, row), STORE_OK);
        assert_int_equal(ops->commit(s), STORE_OK);
        json_decref(row);
    }
    free(big);
    /* No COMMIT copied anything: the database file grows only when the
     * checkpoint thread has run. */
    long after = before;
    for (int i = 0; i < 500 && after <= before + 1000000; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
        after = file_size(path);
    }
    assert_true(after > before + 1000000);
    assert_true(file_size(wal) > 0);
    ops->close(s);
    remove_dir(dir);
}

static void test_service_failed_commit(void **state)
{
    (void)state;
    char dir[] = "/tmp/escalator-test-XXXXXX", path[300];
    temp_db(dir, path);
    char *argv[] = {"serve", "--db", path, "--policy", "tests/server/policy.yaml",
                    "--clock", "manual", "--clock-start", "2026-11-23T12:00:00Z",
                    "--ack-timeout", "0", NULL};
    server_config cfg;
    assert_int_equal(config_load(&cfg, 11, argv), 0);
    service *svc = service_new(&cfg);
    assert_non_null(svc);

    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE poison (m TEXT REFERENCES tickets(id) "
                                  "DEFERRABLE INITIALLY DEFERRED);"
                                  "CREATE TRIGGER poisoned AFTER INSERT ON messages "
                                  "WHEN NEW.body = 'poison' BEGIN "
                                  "INSERT INTO poison VALUES ('no such ticket'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);

    /* Escalates to the carrier (timers armed), then the COMMIT fails. */
    json_t *t = json_pack("{s:s, s:s, s:s, s:{s:i}, s:[{s:s, s:s}]}", "id", "P-1",
                          "channel", "chat", "status", "open", "fields",
                          "port_in_rejections", 4, "messages", "from", "customer",
                          "text", "poison");
    json_t *body = NULL;
    assert_int_equal(service_ticket_put(svc, t, &body, NULL), 500);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "error"),
                                                          "code")),
                        "store_error");
    json_decref(body);
    json_decref(t);
    body = NULL;
    assert_int_equal(service_ticket_get(svc, "P-1", &body), 404);
    json_decref(body);

    /* The heap still holds the failed write's timers: looked at, not fired. */
    json_t *adv = json_pack("{s:s}", "advance", "100h");
    body = NULL;
    assert_int_equal(service_clock(svc, adv, &body), 200);
    assert_true(json_integer_value(json_object_get(body, "timers_checked")) > 0);
    json_decref(body);
    json_decref(adv);
    char *metrics = service_metrics_text(svc);
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "escalator_timers_fired_total 0\n"));
    free(metrics);

    /* The next write goes through. */
    t = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", "P-2", "channel", "chat",
                  "status", "open", "messages", "from", "customer", "text", "hello");
    body = NULL;
    assert_int_equal(service_ticket_put(svc, t, &body, NULL), 201);
    json_decref(body);
    json_decref(t);
    body = NULL;
    assert_int_equal(service_ticket_get(svc, "P-2", &body), 200);
    json_decref(body);

    service_free(&svc);
    config_free(&cfg);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_order),
        cmocka_unit_test(test_heap_each_until),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_auth_roles),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_store_upgrade),
        cmocka_unit_test(test_store_batches),
        cmocka_unit_test(test_store_checkpoints),
        cmocka_unit_test(test_service_failed_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
