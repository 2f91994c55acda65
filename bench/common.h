/*
 * common.h - helpers shared by the benchmark programs of bench/: a
 * monotonic clock, the corpus read into memory and split into lines, and
 * the report of several timed runs.
 *
 * Every program prints, per run, a line "run N: ..." and, last, one line
 *
 *   RESULT name=NAME items=N bytes=B runs=R median_s=S min_s=S max_s=S rate=X unit=U
 *
 * where rate = items / median_s; bench/run.sh reads these lines to compute
 * the ratios. Everything here is static: each program is one translation
 * unit plus the libraries it measures.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The corpus: the whole file in memory (NUL-terminated) and its lines,
 * without their '\n'; blank lines are left out. */
typedef struct bench_lines {
    char *data;
    size_t size;
    const char **line;
    size_t *len;
    size_t n;
} bench_lines;

/* Reads `path` or exits with a message. */
static inline void bench_read_lines(const char *path, bench_lines *out)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t cap = 1 << 20, size = 0;
    char *data = malloc(cap);
    for (;;) {
        if (!data) {
            fputs("out of memory\n", stderr);
            exit(2);
        }
        size_t got = fread(data + size, 1, cap - size, f);
        size += got;
        if (size < cap)
            break;
        cap *= 2;
        data = realloc(data, cap);
    }
    fclose(f);
    data = realloc(data, size + 1);
    data[size] = '\0';
    size_t n = 0, lcap = 1024;
    const char **line = malloc(lcap * sizeof(*line));
    size_t *len = malloc(lcap * sizeof(*len));
    for (size_t i = 0; i < size;) {
        char *nl = memchr(data + i, '\n', size - i);
        size_t e = nl ? (size_t)(nl - data) : size;
        size_t l = e - i;
        if (l && data[e - 1] == '\r')
            l--;
        if (l) {
            if (n == lcap) {
                lcap *= 2;
                line = realloc(line, lcap * sizeof(*line));
                len = realloc(len, lcap * sizeof(*len));
            }
            line[n] = data + i;
            len[n] = l;
            n++;
        }
        i = e + 1;
    }
    out->data = data;
    out->size = size;
    out->line = line;
    out->len = len;
    out->n = n;
}

static inline void bench_free_lines(bench_lines *l)
{
    free(l->data);
    free(l->line);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of a[0..n), which it sorts. */
static inline double bench_median(double *a, int n)
{
    qsort(a, (size_t)n, sizeof(double), bench_cmp_double);
    return n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/* Prints the RESULT line for `runs` timings (seconds) of `items` items
 * (tickets, messages, compilations) over `bytes` bytes. */
static inline void bench_report(const char *name, const double *secs, int runs,
                                double items, double bytes, const char *unit)
{
    double *s = malloc((size_t)runs * sizeof(double));
    memcpy(s, secs, (size_t)runs * sizeof(double));
    double med = bench_median(s, runs);
    printf("RESULT name=%s items=%.0f bytes=%.0f runs=%d median_s=%.6f "
           "min_s=%.6f max_s=%.6f rate=%.1f unit=%s\n",
           name, items, bytes, runs, med, s[0], s[runs - 1],
           med > 0 ? items / med : 0.0, unit);
    fflush(stdout);
    free(s);
}

/* Reads BENCH_RUNS (default 3, at least 1). */
static inline int bench_runs(void)
{
    const char *s = getenv("BENCH_RUNS");
    int r = s ? atoi(s) : 3;
    return r < 1 ? 1 : r > 100 ? 100 : r;
}

#endif /* BENCH_COMMON_H */
