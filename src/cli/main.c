/*
 * main.c - `escalator VERB ...`: finds the verb and hands it the command line.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

/* serve.c: the service verb (declared here to keep cli.h to the CLI verbs). */
extern const cli_verb cli_serve_verb;

static const cli_verb *const verbs[] = {
    &cli_triage_verb,
    &cli_check_verb,
    &cli_test_verb,
    &cli_serve_verb,
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static const cli_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < NVERBS; i++)
        if (strcmp(verbs[i]->name, name) == 0)
            return verbs[i];
    return NULL;
}

static void print_main_help(FILE *f)
{
    fputs("usage: escalator VERB [OPTION...] [ARG...]\n"
          "\n"
          "escalator applies a support team's escalation policy to tickets: whether\n"
          "to escalate, how urgently, to which team, and what to tell everyone.\n"
          "\n"
          "verbs:\n",
          f);
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(f, "  %-8s %s\n", verbs[i]->name, verbs[i]->summary);
    fprintf(f, "  %-8s %s\n", "help", "show the help of a verb");
    fputs("\n"
          "options:\n"
          "  --version  print the version and exit\n"
          "  --help     show this help\n"
          "\n"
          "Exit status: 0 success, 1 a finding (an invalid policy, a failing case),\n"
          "2 a usage or input error.\n"
          "Run 'escalator VERB --help' for the options of a verb.\n",
          f);
}

static int run_help(int argc, char **argv)
{
    if (argc < 3) {
        print_main_help(stdout);
        return CLI_OK;
    }
    const cli_verb *verb = find_verb(argv[2]);
    if (!verb)
        return cli_usage_error(NULL, "unknown verb '%s'", argv[2]);
    if (verb == &cli_serve_verb) {
        /* serve's help is its settings table (src/server/config.c). */
        char *args[] = {argv[2], (char *)"--help", NULL};
        return verb->run(verb, 2, args);
    }
    cli_print_verb_help(verb, stdout);
    return CLI_OK;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        print_main_help(stderr);
        return CLI_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        print_main_help(stdout);
        return CLI_OK;
    }
    if (strcmp(first, "--version") == 0) {
        printf("escalator %s\n", esc_version());
        return CLI_OK;
    }
    if (strcmp(first, "help") == 0)
        return run_help(argc, argv);
    if (first[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", first);

    const cli_verb *verb = find_verb(first);
    if (!verb)
        return cli_usage_error(NULL, "unknown verb '%s'", first);
    return verb->run(verb, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    int status = dispatch(argc, argv);
    /* A decision that could not be written is not a success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "escalator: cannot write the output: %s\n",
                strerror(errno));
        return CLI_USAGE;
    }
    return status;
}
