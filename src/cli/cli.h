/*
 * cli.h - what the verbs of the escalator command line share.
 *
 * Each verb (triage.c, check.c, casetest.c) describes itself with a cli_verb:
 * its synopsis, a table of its options and its entry point. main.c dispatches
 * on the verb's name; cli.c parses options against the verb's table and
 * prints --help from the same table, so the two cannot disagree.
 *
 * Exit codes (DESIGN.md): 0 success, 1 a finding (invalid policy, failing
 * case), 2 usage or input error.
 */
#ifndef ESC_CLI_H
#define ESC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "escalator.h"

enum { CLI_OK = 0, CLI_FINDING = 1, CLI_USAGE = 2 };

/* The most options one verb may declare. */
#define CLI_MAX_OPTIONS 16

typedef struct cli_option {
    const char *name; /* long name without the leading "--" */
    const char *arg;  /* name of its argument in --help, NULL for a flag */
    const char *help; /* one line */
} cli_option;

typedef struct cli_verb cli_verb;
struct cli_verb {
    const char *name;
    const char *synopsis;    /* what follows "escalator VERB" in usage */
    const char *summary;     /* one line, for the verb list */
    const char *description; /* paragraphs printed after the usage line */
    const cli_option *options; /* ends with an entry whose name is NULL */
    /* argv[0] is the verb's name. Returns the exit code. */
    int (*run)(const cli_verb *verb, int argc, char **argv);
};

extern const cli_verb cli_triage_verb;
extern const cli_verb cli_check_verb;
extern const cli_verb cli_test_verb;

/*
 * The parsed command line of a verb. value[i] belongs to options[i]: NULL
 * when the option was not given, its argument when it takes one, "" for a
 * flag that was given. The positional arguments are moved to the front of
 * argv (after the verb), in order; pos points at them.
 */
typedef struct cli_args {
    const char *value[CLI_MAX_OPTIONS];
    char **pos;
    int npos;
} cli_args;

/*
 * Parses argv against verb->options. Returns 0 when the verb should go on;
 * otherwise returns -1 with *status set: 0 after printing --help, 2 after
 * printing a usage error. Accepts "--name VALUE", "--name=VALUE", "--" to end
 * the options, and "-" as a positional argument.
 */
int cli_parse_args(const cli_verb *verb, int argc, char **argv, cli_args *out,
                   int *status);

/* Prints the verb's --help text. */
void cli_print_verb_help(const cli_verb *verb, FILE *f);

/*
 * Prints "escalator VERB: MESSAGE" and "try 'escalator VERB --help'" to
 * stderr and returns CLI_USAGE. verb may be NULL for the top level.
 */
int cli_usage_error(const cli_verb *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The name inputs are reported under: "<stdin>" for "-". */
const char *cli_input_name(const char *path);

/*
 * Reads a whole file ("-" is stdin) into a malloc'ed, NUL-terminated buffer.
 * Stops after max + 1 bytes so that an oversized input is reported by the
 * parser's limit rather than exhausting memory. Returns 0, or -1 after
 * printing "PATH: cannot read: REASON" to stderr.
 */
int cli_read_file(const char *path, size_t max, char **buf, size_t *len);

/* Opens a file for reading ("-" is stdin). Returns NULL after printing
 * "PATH: cannot open: REASON" to stderr. */
FILE *cli_open(const char *path);
void cli_close(FILE *f);

/*
 * Prints a policy's diagnostics as "FILE:LINE:COL: message" ("FILE: message"
 * when the line is unknown). When loading failed (rc != 0) and there is no
 * diagnostic to say why, prints "PATH: " and esc_strerror(rc).
 */
void cli_print_diags(FILE *f, const char *path, const esc_diags *diags, int rc);

/* Prints esc_error_format's text; fills in `name` when the error names no
 * place, and esc_strerror(rc) when it carries no message. */
void cli_print_error(FILE *f, const esc_error *err, const char *name, int rc);

/* Writes a JSON document from the library followed by exactly one newline. */
void cli_put_json(FILE *f, const char *json, size_t len);

#endif /* ESC_CLI_H */
