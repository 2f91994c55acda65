/*
 * bench_scan.c - limit B: Vectorscan scanning the same message bytes for the
 * same phrases, and doing nothing else.
 *
 *   bench_scan POLICY.yaml CORPUS.jsonl
 *
 * The phrases are those of the compiled policy (every `phrases:` entry of
 * every signal and the built-in lexicon words its signals use), as written,
 * compiled into one Vectorscan literal database, case-insensitive
 * (hs_compile_lit_multi, HS_FLAG_CASELESS). The texts are exactly those the
 * engine scans: each ticket is parsed with esc_ticket_parse() (not timed)
 * and its subject and messages are kept when the policy's signals read them
 * (the policy's scan scope). Each run hs_scan()s every kept text once with a
 * callback that only counts matches.
 *
 * A second figure adds the policy's regular expressions (a second database,
 * compiled with the engine's flags) scanned over the same texts: the floor
 * for a matcher that answers every signal of the policy.
 *
 * Like bench_engine, it works in batches of BATCH tickets and sums each
 * run's passes over the batches.
 *
 * This program reads the compiled policy's internals (src/core/policy.h) and
 * links build/libescalator.a, which keeps them.
 */
#include <hs/hs.h>

#include "common.h"
#include "policy.h"
#include "ticket.h"

#define BATCH 10000

typedef struct texts {
    const char **p;
    unsigned *len;
    size_t n, cap;
    double bytes;
} texts;

static void add_text(texts *t, const char *p, size_t len)
{
    if (!len)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1 << 16;
        t->p = realloc(t->p, t->cap * sizeof(*t->p));
        t->len = realloc(t->len, t->cap * sizeof(*t->len));
    }
    t->p[t->n] = p;
    t->len[t->n] = (unsigned)len;
    t->n++;
    t->bytes += (double)len;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ++*(size_t *)ctx;
    return 0;
}

static unsigned scope_bit(esc__from f)
{
    switch (f) {
    case ESC__FROM_CUSTOMER: return ESC__SCOPE_CUSTOMER;
    case ESC__FROM_AGENT: return ESC__SCOPE_AGENT;
    case ESC__FROM_BOT: return ESC__SCOPE_BOT;
    case ESC__FROM_SYSTEM: return ESC__SCOPE_SYSTEM;
    }
    return 0;
}

static hs_database_t *compile(const esc_policy *p, bool regex, size_t *count)
{
    size_t n = 0;
    const char **expr = calloc(p->n_patterns + 1, sizeof(*expr));
    size_t *lens = calloc(p->n_patterns + 1, sizeof(*lens));
    unsigned *flags = calloc(p->n_patterns + 1, sizeof(*flags));
    unsigned *ids = calloc(p->n_patterns + 1, sizeof(*ids));
    for (size_t i = 0; i < p->n_patterns; i++) {
        if (p->patterns[i].regex != regex)
            continue;
        expr[n] = p->patterns[i].text;
        lens[n] = strlen(expr[n]);
        flags[n] = regex ? HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST
                         : HS_FLAG_CASELESS;
        ids[n] = (unsigned)i;
        n++;
    }
    *count = n;
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_error_t rc = HS_SUCCESS;
    if (n && regex)
        rc = hs_compile_multi(expr, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL,
                              &db, &ce);
    else if (n)
        rc = hs_compile_lit_multi(expr, flags, ids, lens, (unsigned)n,
                                  HS_MODE_BLOCK, NULL, &db, &ce);
    if (rc != HS_SUCCESS) {
        fprintf(stderr, "bench_scan: cannot compile: %s\n",
                ce && ce->message ? ce->message : "?");
        exit(2);
    }
    free(expr);
    free(lens);
    free(flags);
    free(ids);
    return db;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: bench_scan POLICY.yaml CORPUS.jsonl\n", stderr);
        return 2;
    }
    esc_policy *policy = NULL;
    esc_diags *diags = NULL;
    if (esc_policy_load_file(argv[1], &policy, &diags) != 0) {
        fprintf(stderr, "%s: invalid policy (run escalator check)\n", argv[1]);
        return 2;
    }
    esc_diags_free(&diags);
    size_t n_lit = 0, n_re = 0;
    hs_database_t *lit = compile(policy, false, &n_lit);
    hs_database_t *re = compile(policy, true, &n_re);
    hs_scratch_t *scratch = NULL;
    if ((lit && hs_alloc_scratch(lit, &scratch) != HS_SUCCESS) ||
        (re && hs_alloc_scratch(re, &scratch) != HS_SUCCESS)) {
        fputs("bench_scan: cannot allocate scratch\n", stderr);
        return 2;
    }
    unsigned scope = policy->scan_scope;
    printf("policy %s: %zu phrases, %zu regexes; scanned: %s%s%s%s%s\n",
           policy->name, n_lit, n_re,
           scope & ESC__SCOPE_CUSTOMER ? "customer " : "",
           scope & ESC__SCOPE_AGENT ? "agent " : "",
           scope & ESC__SCOPE_BOT ? "bot " : "",
           scope & ESC__SCOPE_SYSTEM ? "system " : "",
           scope & ESC__SCOPE_SUBJECT ? "subject " : "");

    bench_lines c;
    bench_read_lines(argv[2], &c);
    int runs = bench_runs();
    double secs_lit[100] = {0}, secs_all[100] = {0};
    size_t matches = 0, n_texts = 0;
    double bytes = 0;
    esc_ticket **tickets = calloc(BATCH, sizeof(*tickets));
    texts t = {0};
    for (size_t b = 0; b < c.n; b += BATCH) {
        size_t n = c.n - b < BATCH ? c.n - b : BATCH;
        t.n = 0;
        t.bytes = 0;
        for (size_t i = 0; i < n; i++) {
            esc_error err;
            if (esc_ticket_parse(c.line[b + i], c.len[b + i], "corpus", &tickets[i],
                                 &err) != 0) {
                fprintf(stderr, "corpus line %zu: %s\n", b + i + 1, err.message);
                return 1;
            }
            const esc_ticket *tk = tickets[i];
            if ((scope & ESC__SCOPE_SUBJECT) && tk->subject)
                add_text(&t, tk->subject, strlen(tk->subject));
            for (size_t m = 0; m < tk->n_messages; m++)
                if (scope & scope_bit(tk->messages[m].from))
                    add_text(&t, tk->messages[m].text, tk->messages[m].len);
        }
        n_texts += t.n;
        bytes += t.bytes;
        for (int r = 0; r < runs; r++) {
            size_t found = 0;
            double t0 = bench_now();
            for (size_t i = 0; i < t.n && lit; i++)
                hs_scan(lit, t.p[i], t.len[i], 0, scratch, on_match, &found);
            double t1 = bench_now();
            for (size_t i = 0; i < t.n && re; i++)
                hs_scan(re, t.p[i], t.len[i], 0, scratch, on_match, &found);
            double t2 = bench_now();
            secs_lit[r] += t1 - t0;
            secs_all[r] += t2 - t0;
            if (r == 0)
                matches += found;
        }
        for (size_t i = 0; i < n; i++)
            esc_ticket_free(&tickets[i]);
    }
    printf("%zu tickets: %zu texts, %.0f bytes scanned, %zu matches\n", c.n, n_texts,
           bytes, matches);
    for (int r = 0; r < runs; r++)
        printf("run %d: phrases %.3f s (%.0f tickets/s, %.0f MB/s); "
               "phrases + regexes %.3f s (%.0f tickets/s)\n",
               r + 1, secs_lit[r], (double)c.n / secs_lit[r],
               bytes / secs_lit[r] / 1e6, secs_all[r], (double)c.n / secs_all[r]);
    bench_report("limit_b_vectorscan_phrases", secs_lit, runs, (double)c.n, bytes,
                 "tickets");
    bench_report("limit_b_phrases_and_regexes", secs_all, runs, (double)c.n, bytes,
                 "tickets");
    free(t.p);
    free(t.len);
    free(tickets);
    bench_free_lines(&c);
    hs_free_scratch(scratch);
    hs_free_database(lit);
    hs_free_database(re);
    esc_policy_unref(&policy);
    return 0;
}
