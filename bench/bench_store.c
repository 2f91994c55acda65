/*
 * bench_store.c - the store's floor under a durable write: SQLite alone
 * storing the rows that `escalator serve` stored for its POST /v1/tickets
 * requests, and doing nothing else.
 *
 *   bench_store SOURCE.db DEST_DIR [WRITES [PER_COMMIT]]
 *
 * SOURCE.db is a store the service wrote (bench/service.sh keeps the one of
 * its durable-write runs). The first WRITES tickets (default 10,000, by
 * their order in the store) are read into memory with every row that
 * belongs to them: the ticket row, its messages, events, escalations and
 * their levels, timers, outbox entries and deliveries. That is not timed.
 *
 * Each run then creates DEST_DIR/store.db (removed at the end) with the
 * source's own schema (its CREATE statements, read from sqlite_master) and
 * the settings the service gives its store (WAL, synchronous = NORMAL, a
 * 64 MiB page cache, statement journals in memory), and inserts the rows
 * again with prepared statements, ticket by ticket, one COMMIT every
 * PER_COMMIT tickets (default 16: with wrk's 16 connections no more writes
 * than that can wait for one commit). The same rows, the same ids, the same indexes; no read,
 * no JSON, no HTTP, and none of the foreign-key checks the service has
 * SQLite make: what SQLite alone costs to make those writes durable, the
 * least the service's store could cost.
 *
 * Each run is made twice: with SQLite's own checkpoints (one each time the
 * WAL passes 1,000 pages, which a store that runs for good needs: the CPU
 * the store costs in all) and with none (the writer's own part: SQLite lets
 * one writer at a time into a database, while checkpoints can run on
 * another core, as the service's do; this bounds the writes a second on any
 * number of cores).
 *
 * Figures, per write, medians of BENCH_RUNS runs (default 3): the CPU time
 * of the process (user and system: the WAL's and the checkpoints' writes
 * are system calls) with checkpoints (cpu_us) and without (writer_us), the
 * wall time with them, and the bytes written to the WAL and the database.
 *
 *   RESULT name=store_floor items=WRITES ... rate=WRITES/CPU-s unit=writes
 *          cpu_us=.. writer_us=.. wall_us=.. per_commit=K rows=.. bytes_written=..
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* One column's value, its text or blob in the arena. */
typedef struct cell {
    int type;
    int64_t i;
    double d;
    size_t off, len;
} cell;

/* One table's rows, in the order of their tickets (owner[r] is the ordinal
 * of row r's ticket among the WRITES kept). */
typedef struct table {
    const char *name;
    const char *select; /* the rows of the kept tickets, with the ordinal last */
    int ncol;
    size_t nrows, cap;
    cell *cells;     /* nrows * ncol */
    size_t *owner;   /* nrows */
    sqlite3_stmt *ins;
} table;

/* The tables a durable write fills, in the order the service writes them.
 * Each SELECT returns the table's own columns (t.*) and the ticket's
 * ordinal in `keep`. */
#define OF_TICKET(t, order)                                                          \
    "SELECT t.*, k.n FROM " t " t JOIN keep k ON k.id = t.ticket_id ORDER BY k.n, " order

static table tables[] = {
    {.name = "tickets",
     .select = "SELECT t.*, k.n FROM tickets t JOIN keep k ON k.id = t.id ORDER BY k.n"},
    {.name = "messages", .select = OF_TICKET("messages", "t.id")},
    {.name = "events", .select = OF_TICKET("events", "t.id")},
    {.name = "escalations", .select = OF_TICKET("escalations", "t.id")},
    {.name = "escalation_levels",
     .select = "SELECT t.*, k.n FROM escalation_levels t"
               " JOIN escalations e ON e.id = t.escalation_id"
               " JOIN keep k ON k.id = e.ticket_id ORDER BY k.n, t.id"},
    {.name = "timers", .select = OF_TICKET("timers", "t.rowid")},
    {.name = "outbox", .select = OF_TICKET("outbox", "t.id")},
    {.name = "deliveries", .select = OF_TICKET("deliveries", "t.id")},
};
enum { NTABLES = sizeof(tables) / sizeof(tables[0]) };

static char *arena;
static size_t arena_used, arena_cap;

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, db ? sqlite3_errmsg(db) : "failed");
    exit(2);
}

static size_t arena_add(const void *p, size_t n)
{
    if (arena_used + n > arena_cap) {
        while (arena_used + n > arena_cap)
            arena_cap = arena_cap ? arena_cap * 2 : (size_t)1 << 24;
        arena = realloc(arena, arena_cap);
        if (!arena)
            die(NULL, "out of memory");
    }
    if (n)
        memcpy(arena + arena_used, p, n);
    arena_used += n;
    return arena_used - n;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_store: %s: %s\n", sql, err ? err : "failed");
        exit(2);
    }
}

/* Reads the rows of the kept tickets of one table. */
static void load_table(sqlite3 *src, table *t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src, t->select, -1, &st, NULL) != SQLITE_OK)
        die(src, t->name);
    t->ncol = sqlite3_column_count(st) - 1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->nrows == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 1024;
            t->cells = realloc(t->cells, t->cap * (size_t)t->ncol * sizeof(cell));
            t->owner = realloc(t->owner, t->cap * sizeof(size_t));
            if (!t->cells || !t->owner)
                die(NULL, "out of memory");
        }
        cell *c = t->cells + t->nrows * (size_t)t->ncol;
        for (int j = 0; j < t->ncol; j++) {
            c[j].type = sqlite3_column_type(st, j);
            switch (c[j].type) {
            case SQLITE_INTEGER: c[j].i = sqlite3_column_int64(st, j); break;
            case SQLITE_FLOAT: c[j].d = sqlite3_column_double(st, j); break;
            case SQLITE_TEXT:
            case SQLITE_BLOB: {
                const void *p = c[j].type == SQLITE_TEXT
                                    ? (const void *)sqlite3_column_text(st, j)
                                    : sqlite3_column_blob(st, j);
                c[j].len = (size_t)sqlite3_column_bytes(st, j);
                c[j].off = arena_add(p, c[j].len);
                break;
            }
            default: break;
            }
        }
        t->owner[t->nrows++] = (size_t)sqlite3_column_int64(st, t->ncol);
    }
    if (rc != SQLITE_DONE)
        die(src, t->name);
    sqlite3_finalize(st);
}

static void bind_row(table *t, size_t r)
{
    const cell *c = t->cells + r * (size_t)t->ncol;
    for (int j = 0; j < t->ncol; j++) {
        int rc;
        switch (c[j].type) {
        case SQLITE_INTEGER: rc = sqlite3_bind_int64(t->ins, j + 1, c[j].i); break;
        case SQLITE_FLOAT: rc = sqlite3_bind_double(t->ins, j + 1, c[j].d); break;
        case SQLITE_TEXT:
            rc = sqlite3_bind_text(t->ins, j + 1, arena + c[j].off, (int)c[j].len,
                                   SQLITE_STATIC);
            break;
        case SQLITE_BLOB:
            rc = sqlite3_bind_blob(t->ins, j + 1, arena + c[j].off, (int)c[j].len,
                                   SQLITE_STATIC);
            break;
        default: rc = sqlite3_bind_null(t->ins, j + 1); break;
        }
        if (rc != SQLITE_OK)
            die(NULL, "bind");
    }
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The bytes this process has asked the kernel to write (wchar in
 * /proc/self/io). */
static double written_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    double v = 0;
    char key[64];
    unsigned long long n;
    while (f && fscanf(f, "%63[^:]: %llu\n", key, &n) == 2)
        if (!strcmp(key, "wchar"))
            v = (double)n;
    if (f)
        fclose(f);
    return v;
}

/* Removes DIR/store.db and its WAL and shared-memory files; the store's
 * path in path. */
static void remove_store(const char *dir, char *path, size_t size)
{
    char side[4200];
    snprintf(path, size, "%s/store.db", dir);
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

/* One run: a fresh store with the source's schema, every kept ticket's
 * rows inserted, a COMMIT every per_commit tickets; with SQLite's
 * checkpoints or with none. */
static void run_once(const char *schema_sql, const char *dir, size_t writes, size_t per_commit,
                     bool checkpoints, double *cpu, double *wall, double *bytes)
{
    char path[4096];
    remove_store(dir, path, sizeof(path));
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(db, path);
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, "PRAGMA cache_size=-65536");
    exec(db, "PRAGMA temp_store=MEMORY");
    exec(db, checkpoints ? "PRAGMA wal_autocheckpoint=1000" : "PRAGMA wal_autocheckpoint=0");
    /* Without checkpoints the WAL is removed with the files, not copied
     * into the database when the connection closes. */
    if (!checkpoints)
        sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    exec(db, schema_sql);
    for (int k = 0; k < NTABLES; k++) {
        table *t = &tables[k];
        char sql[512];
        int n = snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (", t->name);
        for (int j = 0; j < t->ncol; j++)
            n += snprintf(sql + n, sizeof(sql) - (size_t)n, j ? ", ?" : "?");
        snprintf(sql + n, sizeof(sql) - (size_t)n, ")");
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->ins, NULL) != SQLITE_OK)
            die(db, sql);
    }
    size_t next[NTABLES] = {0};
    double b0 = written_bytes(), c0 = cpu_now(), w0 = bench_now();
    for (size_t w = 0; w < writes; w++) {
        if (w % per_commit == 0)
            exec(db, "BEGIN");
        for (int k = 0; k < NTABLES; k++) {
            table *t = &tables[k];
            for (; next[k] < t->nrows && t->owner[next[k]] == w; next[k]++) {
                bind_row(t, next[k]);
                if (sqlite3_step(t->ins) != SQLITE_DONE)
                    die(db, t->name);
                sqlite3_reset(t->ins);
            }
        }
        if (w % per_commit == per_commit - 1 || w == writes - 1)
            exec(db, "COMMIT");
    }
    *cpu = cpu_now() - c0;
    *wall = bench_now() - w0;
    *bytes = written_bytes() - b0;
    for (int k = 0; k < NTABLES; k++)
        sqlite3_finalize(tables[k].ins);
    if (sqlite3_close(db) != SQLITE_OK)
        die(db, "close");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: bench_store SOURCE.db DEST_DIR [WRITES [PER_COMMIT]]\n", stderr);
        return 2;
    }
    size_t writes = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
    size_t per_commit = argc > 4 ? strtoul(argv[4], NULL, 10) : 16;
    if (!writes || !per_commit) {
        fputs("bench_store: WRITES and PER_COMMIT are positive numbers\n", stderr);
        return 2;
    }

    sqlite3 *src;
    if (sqlite3_open_v2(argv[1], &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die(src, argv[1]);
    /* The kept tickets, numbered in the order the store holds them. */
    exec(src, "CREATE TEMP TABLE keep (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src,
                           "INSERT INTO keep SELECT id, row_number() OVER (ORDER BY rowid) - 1 "
                           "FROM tickets ORDER BY rowid LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        die(src, "keep");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)writes);
    if (sqlite3_step(st) != SQLITE_DONE)
        die(src, "keep");
    sqlite3_finalize(st);
    size_t kept = (size_t)sqlite3_changes(src);
    if (kept < writes) {
        if (!kept) {
            fprintf(stderr, "bench_store: %s holds no ticket\n", argv[1]);
            return 2;
        }
        writes = kept;
    }

    /* The source's schema, as its CREATE statements, in their order. */
    char *schema = NULL;
    size_t slen = 0;
    if (sqlite3_prepare_v2(src,
                           "SELECT sql FROM main.sqlite_master WHERE sql IS NOT NULL "
                           "AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        die(src, "schema");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(s);
        schema = realloc(schema, slen + n + 3);
        if (!schema)
            die(NULL, "out of memory");
        memcpy(schema + slen, s, n);
        memcpy(schema + slen + n, ";\n", 3);
        slen += n + 2;
    }
    sqlite3_finalize(st);

    size_t rows = 0;
    for (int k = 0; k < NTABLES; k++) {
        load_table(src, &tables[k]);
        rows += tables[k].nrows;
    }
    sqlite3_close(src);
    printf("store: %zu writes, %zu rows (%.1f a write), %.0f bytes of text a write, "
           "a commit every %zu writes\n",
           writes, rows, (double)rows / (double)writes, (double)arena_used / (double)writes,
           per_commit);
    for (int k = 0; k < NTABLES; k++)
        printf("  %-18s %8zu rows\n", tables[k].name, tables[k].nrows);

    int runs = bench_runs();
    double *cpu = malloc((size_t)runs * sizeof(double));
    double *writer = malloc((size_t)runs * sizeof(double));
    double *wall = malloc((size_t)runs * sizeof(double));
    double *bytes = malloc((size_t)runs * sizeof(double));
    for (int r = 0; r < runs; r++) {
        double w, b;
        run_once(schema, argv[2], writes, per_commit, true, &cpu[r], &wall[r], &bytes[r]);
        run_once(schema, argv[2], writes, per_commit, false, &writer[r], &w, &b);
        printf("run %d: %.1f us of CPU a write (%.1f us wall, %.0f bytes written); "
               "without checkpoints %.1f us\n",
               r + 1, cpu[r] * 1e6 / (double)writes, wall[r] * 1e6 / (double)writes,
               bytes[r] / (double)writes, writer[r] * 1e6 / (double)writes);
    }
    char path[4096];
    remove_store(argv[2], path, sizeof(path));
    /* cpu is sorted by its median: the fastest and slowest runs at its ends. */
    double cmed = bench_median(cpu, runs), lo = cpu[0], hi = cpu[runs - 1];
    double us = 1e6 / (double)writes;
    printf("RESULT name=store_floor items=%zu bytes=%.0f runs=%d median_s=%.6f min_s=%.6f "
           "max_s=%.6f rate=%.1f unit=writes cpu_us=%.1f writer_us=%.1f wall_us=%.1f "
           "per_commit=%zu rows=%zu bytes_written=%.0f\n",
           writes, (double)arena_used, runs, cmed, lo, hi, (double)writes / cmed, cmed * us,
           bench_median(writer, runs) * us, bench_median(wall, runs) * us, per_commit, rows,
           bench_median(bytes, runs) / (double)writes);
    free(cpu);
    free(writer);
    free(wall);
    free(bytes);
    free(schema);
    free(arena);
    for (int k = 0; k < NTABLES; k++) {
        free(tables[k].cells);
        free(tables[k].owner);
    }
    return 0;
}
