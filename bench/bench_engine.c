/*
 * bench_engine.c - the engine alone, through the public C API, on tickets
 * already parsed.
 *
 *   bench_engine POLICY.yaml CORPUS.jsonl [NOW]
 *
 * The corpus is read into memory and handled in batches of BATCH tickets:
 * each batch is parsed with esc_ticket_parse() (not timed), then every run
 * times esc_engine_evaluate() + esc_decision_free() over the batch, with one
 * engine for the whole program (as `triage --jsonl` and a worker thread use
 * it). Run r's time is the sum of its passes over all batches, so every run
 * decides every ticket once and parsing is never counted. Batches keep the
 * memory of parsed tickets bounded at a million tickets.
 *
 * NOW defaults to 2026-11-23T12:00:00Z, the time gen_tickets writes tickets
 * against. The run prints how many decisions escalated, and fails when a
 * ticket cannot be parsed or decided.
 */
#include <escalator.h>

#include "common.h"

#define BATCH 10000

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fputs("usage: bench_engine POLICY.yaml CORPUS.jsonl [NOW]\n", stderr);
        return 2;
    }
    int64_t now;
    if (esc_time_parse(argc == 4 ? argv[3] : "2026-11-23T12:00:00Z", &now) != 0) {
        fputs("bench_engine: NOW is not an RFC 3339 time\n", stderr);
        return 2;
    }
    esc_policy *policy = NULL;
    esc_diags *diags = NULL;
    int rc = esc_policy_load_file(argv[1], &policy, &diags);
    esc_diags_free(&diags);
    if (rc != 0) {
        fprintf(stderr, "%s: %s (run escalator check)\n", argv[1], esc_strerror(rc));
        return 2;
    }
    esc_engine *engine = NULL;
    if (esc_engine_new(policy, &engine) != 0) {
        fputs("bench_engine: cannot create an engine\n", stderr);
        return 2;
    }
    bench_lines c;
    bench_read_lines(argv[2], &c);

    int runs = bench_runs();
    double secs[100] = {0};
    size_t escalated[100] = {0};
    esc_ticket **tickets = calloc(BATCH, sizeof(*tickets));
    for (size_t b = 0; b < c.n; b += BATCH) {
        size_t n = c.n - b < BATCH ? c.n - b : BATCH;
        for (size_t i = 0; i < n; i++) {
            esc_error err;
            if (esc_ticket_parse(c.line[b + i], c.len[b + i], "corpus", &tickets[i],
                                 &err) != 0) {
                fprintf(stderr, "corpus line %zu: %s\n", b + i + 1, err.message);
                return 1;
            }
        }
        for (int r = 0; r < runs; r++) {
            size_t esc = 0;
            double t0 = bench_now();
            for (size_t i = 0; i < n; i++) {
                esc_decision *d = NULL;
                esc_error err;
                if (esc_engine_evaluate(engine, tickets[i], now, 0, &d, &err) != 0) {
                    fprintf(stderr, "corpus line %zu: %s: %s\n", b + i + 1,
                            err.pointer, err.message);
                    return 1;
                }
                esc += (size_t)esc_decision_escalate(d);
                esc_decision_free(&d);
            }
            secs[r] += bench_now() - t0;
            escalated[r] += esc;
        }
        for (size_t i = 0; i < n; i++)
            esc_ticket_free(&tickets[i]);
    }
    for (int r = 0; r < runs; r++)
        printf("run %d: %zu decisions (%zu escalate) in %.3f s: %.0f tickets/s\n",
               r + 1, c.n, escalated[r], secs[r], (double)c.n / secs[r]);
    bench_report("engine_alone", secs, runs, (double)c.n, (double)c.size,
                 "tickets");
    free(tickets);
    bench_free_lines(&c);
    esc_engine_free(&engine);
    esc_policy_unref(&policy);
    return 0;
}
