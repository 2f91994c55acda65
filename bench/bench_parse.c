/*
 * bench_parse.c - limit A: jansson parsing the corpus lines and doing
 * nothing else.
 *
 *   bench_parse CORPUS.jsonl [both|plain|region]
 *
 * The file is read into memory first (not timed). Each run parses every line
 * with json_loadb() using the flags esc_ticket_parse() passes (duplicate keys
 * rejected, any value, NUL allowed) and frees the document with
 * json_decref(). Nothing is read from the document: this is the cost of the
 * JSON library alone, the floor under `escalator triage --jsonl`.
 *
 * A second figure does the same with jansson's allocations taken from a
 * region rewound between lines, as `escalator triage --jsonl` does
 * (src/cli/triage.c): the floor under triage with the allocator it uses.
 * The second argument picks one of the two figures (default: both).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define REGION_SIZE ((size_t)4 << 20)

static char *region;
static size_t region_used;

static void *region_malloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (region_used + size > REGION_SIZE)
        return malloc(size);
    void *p = region + region_used;
    region_used += size;
    return p;
}

static void region_free(void *ptr)
{
    const char *c = ptr;
    if (c >= region && c < region + REGION_SIZE)
        return;
    free(ptr);
}

/* One timed pass over every line; returns the seconds and counts bad lines. */
static double parse_all(const bench_lines *c, bool use_region, size_t *bad)
{
    *bad = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < c->n; i++) {
        json_error_t je;
        if (use_region)
            region_used = 0;
        json_t *root = json_loadb(c->line[i], c->len[i],
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                      JSON_ALLOW_NUL,
                                  &je);
        if (!root)
            (*bad)++;
        json_decref(root);
    }
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    const char *which = argc == 3 ? argv[2] : "both";
    bool plain = !strcmp(which, "both") || !strcmp(which, "plain");
    bool with_region = !strcmp(which, "both") || !strcmp(which, "region");
    if ((argc != 2 && argc != 3) || (!plain && !with_region)) {
        fputs("usage: bench_parse CORPUS.jsonl [both|plain|region]\n", stderr);
        return 2;
    }
    bench_lines c;
    bench_read_lines(argv[1], &c);
    int runs = bench_runs();
    double secs[100];
    size_t bad = 0;
    for (int r = 0; plain && r < runs; r++) {
        secs[r] = parse_all(&c, false, &bad);
        printf("run %d: %zu lines in %.3f s: %.0f lines/s, %.1f MB/s\n", r + 1,
               c.n, secs[r], (double)c.n / secs[r],
               (double)c.size / secs[r] / 1e6);
    }
    if (plain)
        bench_report("limit_a_jansson_parse", secs, runs, (double)c.n,
                     (double)c.size, "tickets");

    if (with_region) {
        region = malloc(REGION_SIZE);
        if (!region) {
            fputs("bench_parse: out of memory\n", stderr);
            return 1;
        }
        json_set_alloc_funcs(region_malloc, region_free);
        for (int r = 0; r < runs; r++) {
            secs[r] = parse_all(&c, true, &bad);
            printf("run %d, region allocator: %zu lines in %.3f s: %.0f lines/s\n",
                   r + 1, c.n, secs[r], (double)c.n / secs[r]);
        }
        json_set_alloc_funcs(malloc, free);
        free(region);
        bench_report("limit_a_jansson_region", secs, runs, (double)c.n,
                     (double)c.size, "tickets");
    }
    if (bad)
        fprintf(stderr, "bench_parse: %zu lines are not valid JSON\n", bad);
    bench_free_lines(&c);
    return bad ? 1 : 0;
}
