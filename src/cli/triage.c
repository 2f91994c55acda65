/*
 * triage.c - `escalator triage`: one decision per ticket.
 *
 * A single ticket (a file or stdin) gives one decision, pretty-printed unless
 * --compact. With --jsonl every line of the input is a ticket and every line
 * of the output is the compact decision for the line at the same position, or
 * an error object for a line that could not be decided; one engine serves all
 * lines.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

enum { OPT_POLICY, OPT_NOW, OPT_JSONL, OPT_EXPLAIN, OPT_COMPACT };

static const cli_option triage_options[] = {
    [OPT_POLICY] = {"policy", "FILE", "the policy to apply (required)"},
    [OPT_NOW] = {"now", "TIME",
                 "decide as of this RFC 3339 time (default: the clock)"},
    [OPT_JSONL] = {"jsonl", NULL,
                   "one ticket a line in, one compact decision a line out"},
    [OPT_EXPLAIN] = {"explain", NULL,
                     "add \"explain\": all rules, signals, suppressions, fired "
                     "or not"},
    [OPT_COMPACT] = {"compact", NULL, "print the decision on one line"},
    {NULL, NULL, NULL},
};

/*
 * A region for jansson's allocations while --jsonl reads one line: the
 * document of a ticket is some hundred small values, each a malloc() and a
 * free() with jansson's allocator, which made up a third of the time spent
 * parsing. Between lines nothing jansson allocated for the line is alive (the
 * ticket, its decision and any error object are freed first), so the region
 * starts again from its beginning. jansson's allocator is process-wide: it is
 * the region's only while triage_lines() runs, and the region's free() hands
 * anything it did not give out (the policy's values) to free().
 */
#define REGION_BLOCK ((size_t)256 << 10)
#define REGION_LARGE ((size_t)32 << 10)
#define REGION_BLOCKS 8

static struct region {
    char *block[REGION_BLOCKS];
    size_t n;   /* blocks allocated */
    size_t cur; /* the block allocations come from */
    size_t used;
} region;

static void *region_malloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size <= REGION_LARGE) {
        if (region.used + size > REGION_BLOCK && region.cur + 1 < REGION_BLOCKS) {
            if (region.cur + 1 == region.n) {
                char *b = malloc(REGION_BLOCK);
                if (b)
                    region.block[region.n++] = b;
            }
            if (region.cur + 1 < region.n) {
                region.cur++;
                region.used = 0;
            }
        }
        if (region.used + size <= REGION_BLOCK) {
            void *p = region.block[region.cur] + region.used;
            region.used += size;
            return p;
        }
    }
    return malloc(size);
}

static void region_free(void *ptr)
{
    const char *c = ptr;
    for (size_t i = 0; i < region.n; i++)
        if (c >= region.block[i] && c < region.block[i] + REGION_BLOCK)
            return;
    free(ptr);
}

/* Installs the region as jansson's allocator; false when it is unavailable
 * (jansson then keeps malloc()). */
static bool region_begin(void)
{
    region.block[0] = malloc(REGION_BLOCK);
    if (!region.block[0])
        return false;
    region.n = 1;
    region.cur = region.used = 0;
    json_set_alloc_funcs(region_malloc, region_free);
    return true;
}

/* Forgets everything allocated since the last call. */
static void region_rewind(void)
{
    region.cur = region.used = 0;
}

static void region_end(void)
{
    json_set_alloc_funcs(malloc, free);
    for (size_t i = 0; i < region.n; i++)
        free(region.block[i]);
    memset(&region, 0, sizeof region);
}

typedef struct triage {
    esc_engine *engine;
    int64_t now;
    unsigned eval_flags;
    unsigned json_flags;
} triage;

static int load_engine(const char *path, esc_policy **policy, esc_engine **engine)
{
    esc_diags *diags = NULL;
    int rc = esc_policy_load_file(path, policy, &diags);
    if (rc != 0) {
        cli_print_diags(stderr, path, diags, rc);
        esc_diags_free(&diags);
        return -1;
    }
    esc_diags_free(&diags);
    rc = esc_engine_new(*policy, engine);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, esc_strerror(rc));
        esc_policy_unref(policy);
        return -1;
    }
    return 0;
}

/* Parses and evaluates one ticket; on failure *err says where and why. */
static int decide(triage *tr, const char *json, size_t len, const char *name,
                  char **out, size_t *outlen, esc_error *err)
{
    esc_ticket *ticket = NULL;
    esc_decision *decision = NULL;
    memset(err, 0, sizeof(*err));

    int rc = esc_ticket_parse(json, len, name, &ticket, err);
    if (rc == 0)
        rc = esc_engine_evaluate(tr->engine, ticket, tr->now, tr->eval_flags,
                                 &decision, err);
    if (rc == 0) {
        *out = esc_decision_json(decision, tr->json_flags, outlen);
        if (!*out)
            rc = ESC_ENOMEM;
    }
    esc_decision_free(&decision);
    esc_ticket_free(&ticket);
    return rc;
}

static int triage_one(triage *tr, const char *json, size_t len, const char *name)
{
    char *out = NULL;
    size_t outlen = 0;
    esc_error err;
    int rc = decide(tr, json, len, name, &out, &outlen, &err);
    if (rc != 0) {
        cli_print_error(stderr, &err, name, rc);
        return CLI_USAGE;
    }
    cli_put_json(stdout, out, outlen);
    free(out);
    return CLI_OK;
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* The error object written in place of a decision, and its stderr line. */
static void report_bad_line(const char *name, long lineno, const esc_error *err,
                            int rc)
{
    const char *message = err->message[0] ? err->message : esc_strerror(rc);
    const char *code = rc == ESC_ETICKET || rc == ESC_ELIMIT ? "invalid_ticket"
                                                               : "evaluation_failed";
    json_t *obj = json_pack("{s:I, s:{s:s, s:s, s:s}}", "line", (json_int_t)lineno,
                            "error", "code", code, "message", message, "where",
                            err->pointer);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        puts(text);
    else
        printf("{\"line\":%ld,\"error\":{\"code\":\"%s\"}}\n", lineno, code);
    json_free_t jfree = free;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(text); /* json_dumps() allocates with jansson's allocator */
    json_decref(obj);

    if (err->line > 0 && err->col > 0)
        fprintf(stderr, "%s:%ld:%d: %s\n", name, lineno, err->col, message);
    else if (err->pointer[0])
        fprintf(stderr, "%s:%ld: %s: %s\n", name, lineno, err->pointer, message);
    else
        fprintf(stderr, "%s:%ld: %s\n", name, lineno, message);
}

static int triage_lines(triage *tr, FILE *in, const char *name, bool streaming)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    bool bad = false;

    tr->json_flags &= ~(unsigned)ESC_JSON_PRETTY;
    /* A decision is a few kilobytes: stdio's default buffer of one page
     * made a write() every line or two, and a read() every few lines. */
    static char inbuf[1 << 18], outbuf[1 << 18];
    setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
    if (!streaming)
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    bool use_region = region_begin();
    while ((n = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (use_region)
            region_rewind();
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (is_blank(line, len))
            continue;

        char *out = NULL;
        size_t outlen = 0;
        esc_error err;
        int rc = decide(tr, line, len, name, &out, &outlen, &err);
        if (rc != 0) {
            bad = true;
            report_bad_line(name, lineno, &err, rc);
        } else {
            cli_put_json(stdout, out, outlen);
            free(out);
        }
        if (streaming)
            fflush(stdout);
    }
    int read_errno = ferror(in) ? errno : 0;
    if (use_region)
        region_end();
    free(line);
    if (read_errno) {
        fprintf(stderr, "%s: cannot read: %s\n", name, strerror(read_errno));
        return CLI_USAGE;
    }
    return bad ? CLI_USAGE : CLI_OK;
}

static int triage_run(const cli_verb *verb, int argc, char **argv)
{
    cli_args a;
    int status;
    if (cli_parse_args(verb, argc, argv, &a, &status) != 0)
        return status;

    const char *policy_path = a.value[OPT_POLICY];
    if (!policy_path)
        return cli_usage_error(verb, "--policy FILE is required");
    if (a.npos > 1)
        return cli_usage_error(verb, "expected one ticket, got %d (use --jsonl "
                                     "for many)", a.npos);
    const char *input = a.npos == 1 ? a.pos[0] : "-";

    triage tr = {0};
    if (a.value[OPT_NOW]) {
        if (esc_time_parse(a.value[OPT_NOW], &tr.now) != 0)
            return cli_usage_error(verb, "--now: '%s' is not an RFC 3339 time",
                                   a.value[OPT_NOW]);
    } else {
        tr.now = (int64_t)time(NULL);
    }
    bool explain = a.value[OPT_EXPLAIN] != NULL;
    tr.eval_flags = explain ? ESC_EVAL_EXPLAIN : 0;
    tr.json_flags = (explain ? ESC_JSON_EXPLAIN : 0) |
                    (a.value[OPT_COMPACT] ? 0 : ESC_JSON_PRETTY);

    /* The input is opened (a single ticket read) before the policy is
     * loaded, so that a ticket that cannot be read is reported as such
     * whatever the policy. */
    FILE *in = NULL;
    char *json = NULL;
    size_t len = 0;
    if (a.value[OPT_JSONL]) {
        in = cli_open(input);
        if (!in)
            return CLI_USAGE;
    } else if (cli_read_file(input, ESC_TICKET_MAX_BYTES, &json, &len) != 0) {
        return CLI_USAGE;
    }

    esc_policy *policy = NULL;
    if (load_engine(policy_path, &policy, &tr.engine) != 0) {
        cli_close(in);
        free(json);
        return CLI_USAGE;
    }

    if (in) {
        struct stat st;
        bool streaming = fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode);
        status = triage_lines(&tr, in, cli_input_name(input), streaming);
        cli_close(in);
    } else {
        status = triage_one(&tr, json, len, cli_input_name(input));
        free(json);
    }
    esc_engine_free(&tr.engine);
    esc_policy_unref(&policy);
    return status;
}

const cli_verb cli_triage_verb = {
    .name = "triage",
    .synopsis = "--policy FILE [--now TIME] [--jsonl] [--explain] [--compact] "
                "[TICKET.json|-]",
    .summary = "decide what to do with a ticket",
    .description =
        "Applies the policy to a ticket (JSON, from the file or stdin) and prints\n"
        "the decision as JSON: whether to escalate, the priority, the target teams,\n"
        "the deadline, the reasons, tags, follow-ups, the hand-off note and the\n"
        "message for the customer.\n"
        "\n"
        "With --jsonl each input line is a ticket and each output line is its\n"
        "decision, or {\"line\":N,\"error\":{...}} for a line that could not be\n"
        "decided; blank lines are skipped. The exit status is 2 if any line was bad.",
    .options = triage_options,
    .run = triage_run,
};
