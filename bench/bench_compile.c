/*
 * bench_compile.c - policy compile time: esc_policy_load_file() from the
 * YAML file to the compiled, immutable policy (validation, expressions,
 * templates and the Vectorscan databases with every phrase variant), then
 * esc_policy_unref().
 *
 *   bench_compile POLICY.yaml...
 *
 * Each policy is compiled BENCH_RUNS times (default 3); one RESULT line per
 * policy, named compile_<policy name>, with items = 1 compilation, so its
 * rate is compilations per second and median_s the time of one.
 */
#include <escalator.h>

#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: bench_compile POLICY.yaml...\n", stderr);
        return 2;
    }
    int runs = bench_runs();
    for (int a = 1; a < argc; a++) {
        double secs[100];
        char name[128] = "";
        for (int r = 0; r < runs; r++) {
            esc_policy *p = NULL;
            esc_diags *diags = NULL;
            double t0 = bench_now();
            int rc = esc_policy_load_file(argv[a], &p, &diags);
            secs[r] = bench_now() - t0;
            esc_diags_free(&diags);
            if (rc != 0) {
                fprintf(stderr, "%s: %s (run escalator check)\n", argv[a],
                        esc_strerror(rc));
                return 1;
            }
            snprintf(name, sizeof name, "compile_%s", esc_policy_name(p));
            esc_policy_unref(&p);
            printf("run %d: %s compiled in %.1f ms\n", r + 1, argv[a], secs[r] * 1e3);
        }
        for (char *c = name; *c; c++)
            if (*c == '-')
                *c = '_';
        bench_report(name, secs, runs, 1, 0, "compilations");
    }
    return 0;
}
