/*
 * bench_parse.c - limit A: jansson parsing the corpus lines and doing
 * nothing else.
 *
 *   bench_parse CORPUS.jsonl
 *
 * The file is read into memory first (not timed). Each run parses every line
 * with json_loadb() using the flags esc_ticket_parse() passes (duplicate keys
 * rejected, any value, NUL allowed) and frees the document with
 * json_decref(). Nothing is read from the document: this is the cost of the
 * JSON library alone, the floor under `escalator triage --jsonl`.
 */
#include <jansson.h>

#include "common.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: bench_parse CORPUS.jsonl\n", stderr);
        return 2;
    }
    bench_lines c;
    bench_read_lines(argv[1], &c);
    int runs = bench_runs();
    double secs[100];
    size_t bad = 0;
    for (int r = 0; r < runs; r++) {
        bad = 0;
        double t0 = bench_now();
        for (size_t i = 0; i < c.n; i++) {
            json_error_t je;
            json_t *root = json_loadb(c.line[i], c.len[i],
                                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                          JSON_ALLOW_NUL,
                                      &je);
            if (!root)
                bad++;
            json_decref(root);
        }
        secs[r] = bench_now() - t0;
        printf("run %d: %zu lines in %.3f s: %.0f lines/s, %.1f MB/s\n", r + 1,
               c.n, secs[r], (double)c.n / secs[r],
               (double)c.size / secs[r] / 1e6);
    }
    if (bad)
        fprintf(stderr, "bench_parse: %zu lines are not valid JSON\n", bad);
    bench_report("limit_a_jansson_parse", secs, runs, (double)c.n,
                 (double)c.size, "tickets");
    bench_free_lines(&c);
    return bad ? 1 : 0;
}
