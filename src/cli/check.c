/*
 * check.c - `escalator check`: validates policy files.
 *
 * Every problem of every file is reported as FILE:LINE:COL: message on
 * stderr. An invalid policy is a finding (exit 1); a file that cannot be read
 * is an input error (exit 2), which wins over a finding.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_DUMP };

static const cli_option check_options[] = {
    [OPT_DUMP] = {"dump", NULL,
                  "print each compiled policy as JSON (summary to stderr)"},
    {NULL, NULL, NULL},
};

static void print_summary(FILE *f, const char *path, const esc_policy *p)
{
    static const struct {
        esc_item_kind kind;
        const char *one, *many;
    } counted[] = {
        {ESC_ITEM_RULE, "rule", "rules"},
        {ESC_ITEM_SIGNAL, "signal", "signals"},
        {ESC_ITEM_SUPPRESSION, "suppression", "suppressions"},
        {ESC_ITEM_TEAM, "team", "teams"},
        {ESC_ITEM_PRIORITY, "priority", "priorities"},
    };
    fprintf(f, "%s: ok (", path);
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
        size_t n = esc_policy_count(p, counted[i].kind);
        fprintf(f, "%s%zu %s", i ? ", " : "", n,
                n == 1 ? counted[i].one : counted[i].many);
    }
    fputs(")\n", f);
}

static int check_one(const char *path, bool dump)
{
    esc_policy *policy = NULL;
    esc_diags *diags = NULL;
    int rc = esc_policy_load_file(path, &policy, &diags);
    /* On success the diagnostics, if any, are warnings. */
    cli_print_diags(stderr, path, diags, rc);
    esc_diags_free(&diags);
    if (rc != 0)
        return rc == ESC_EPOLICY ? CLI_FINDING : CLI_USAGE;

    int status = CLI_OK;
    if (dump) {
        char *json = esc_policy_dump(policy);
        if (json) {
            cli_put_json(stdout, json, strlen(json));
            print_summary(stderr, path, policy);
        } else {
            fprintf(stderr, "%s: %s\n", path, esc_strerror(ESC_ENOMEM));
            status = CLI_USAGE;
        }
        free(json);
    } else {
        print_summary(stdout, path, policy);
    }
    esc_policy_unref(&policy);
    return status;
}

static int check_run(const cli_verb *verb, int argc, char **argv)
{
    cli_args a;
    int status;
    if (cli_parse_args(verb, argc, argv, &a, &status) != 0)
        return status;
    if (a.npos == 0)
        return cli_usage_error(verb, "no policy file given");

    status = CLI_OK;
    for (int i = 0; i < a.npos; i++) {
        int s = check_one(a.pos[i], a.value[OPT_DUMP] != NULL);
        if (s > status)
            status = s;
    }
    return status;
}

const cli_verb cli_check_verb = {
    .name = "check",
    .synopsis = "[--dump] FILE...",
    .summary = "validate policy files",
    .description =
        "Loads, validates and compiles each policy. Every problem is reported as\n"
        "FILE:LINE:COL: message on stderr; a valid policy prints FILE: ok with the\n"
        "number of its rules, signals, suppressions, teams and priorities.\n"
        "Exit status 1 when a policy is invalid, 2 when a file cannot be read.",
    .options = check_options,
    .run = check_run,
};
