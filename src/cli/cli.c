/*
 * cli.c - option parsing, --help and the I/O helpers shared by the verbs.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const cli_option *find_option(const cli_verb *verb, const char *name,
                                     size_t len, size_t *index)
{
    for (size_t i = 0; verb->options[i].name; i++) {
        if (strlen(verb->options[i].name) == len &&
            memcmp(verb->options[i].name, name, len) == 0) {
            *index = i;
            return &verb->options[i];
        }
    }
    return NULL;
}

int cli_parse_args(const cli_verb *verb, int argc, char **argv, cli_args *out,
                   int *status)
{
    memset(out, 0, sizeof(*out));
    int npos = 0;
    bool options_done = false;

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            argv[1 + npos++] = a; /* never ahead of i: safe in place */
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_verb_help(verb, stdout);
            *status = CLI_OK;
            return -1;
        }
        if (a[1] != '-') {
            *status = cli_usage_error(verb, "unknown option '%s'", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        size_t index = 0;
        const cli_option *opt = find_option(verb, name, len, &index);
        if (!opt) {
            *status = cli_usage_error(verb, "unknown option '--%.*s'",
                                      (int)len, name);
            return -1;
        }
        if (!opt->arg) {
            if (eq) {
                *status = cli_usage_error(
                    verb, "option '--%s' takes no argument", opt->name);
                return -1;
            }
            out->value[index] = "";
        } else if (eq) {
            out->value[index] = eq + 1;
        } else if (i + 1 < argc) {
            out->value[index] = argv[++i];
        } else {
            *status = cli_usage_error(verb, "option '--%s' needs an argument (%s)",
                                      opt->name, opt->arg);
            return -1;
        }
    }
    out->pos = argv + 1;
    out->npos = npos;
    return 0;
}

void cli_print_verb_help(const cli_verb *verb, FILE *f)
{
    fprintf(f, "usage: escalator %s %s\n\n%s\n", verb->name, verb->synopsis,
            verb->description);

    int width = (int)strlen("-h, --help");
    for (size_t i = 0; verb->options[i].name; i++) {
        const cli_option *o = &verb->options[i];
        int w = 2 + (int)strlen(o->name) + (o->arg ? 1 + (int)strlen(o->arg) : 0);
        if (w > width)
            width = w;
    }
    fputs("\noptions:\n", f);
    for (size_t i = 0; verb->options[i].name; i++) {
        const cli_option *o = &verb->options[i];
        int w = fprintf(f, "  --%s%s%s", o->name, o->arg ? " " : "",
                        o->arg ? o->arg : "") - 2;
        fprintf(f, "%*s  %s\n", width - w, "", o->help);
    }
    fprintf(f, "  %-*s  %s\n", width, "-h, --help", "show this help");
}

int cli_usage_error(const cli_verb *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "escalator%s%s: ", verb ? " " : "", verb ? verb->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'escalator%s%s --help'\n", verb ? " " : "",
            verb ? verb->name : "");
    return CLI_USAGE;
}

const char *cli_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

FILE *cli_open(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdin;
    FILE *f = fopen(path, "rb");
    if (!f)
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
    return f;
}

void cli_close(FILE *f)
{
    if (f && f != stdin)
        fclose(f);
}

int cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = cli_open(path);
    if (!f)
        return -1;

    size_t cap = 0, n = 0;
    char *data = NULL;
    for (;;) {
        if (cap - n < 2) {
            cap = cap ? cap * 2 : 64 * 1024;
            char *grown = realloc(data, cap);
            if (!grown) {
                fprintf(stderr, "%s: cannot read: out of memory\n",
                        cli_input_name(path));
                free(data);
                cli_close(f);
                return -1;
            }
            data = grown;
        }
        size_t want = cap - n - 1;
        if (want > max + 1 - n)
            want = max + 1 - n;
        size_t got = fread(data + n, 1, want, f);
        n += got;
        if (got < want || n > max)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: cannot read: %s\n", cli_input_name(path),
                strerror(errno));
        free(data);
        cli_close(f);
        return -1;
    }
    cli_close(f);
    data[n] = '\0';
    *buf = data;
    *len = n;
    return 0;
}

void cli_print_diags(FILE *f, const char *path, const esc_diags *diags, int rc)
{
    size_t n = diags ? esc_diags_count(diags) : 0;
    for (size_t i = 0; i < n; i++) {
        const esc_diag *d = esc_diags_at(diags, i);
        const char *file = d->file && d->file[0] ? d->file : path;
        const char *msg = d->message ? d->message : "";
        if (d->line <= 0)
            fprintf(f, "%s: %s\n", file, msg);
        else if (d->col <= 0)
            fprintf(f, "%s:%d: %s\n", file, d->line, msg);
        else
            fprintf(f, "%s:%d:%d: %s\n", file, d->line, d->col, msg);
    }
    if (rc != 0 && n == 0)
        fprintf(f, "%s: %s\n", path, esc_strerror(rc));
}

void cli_print_error(FILE *f, const esc_error *err, const char *name, int rc)
{
    esc_error e = *err;
    if (!e.where[0])
        snprintf(e.where, sizeof(e.where), "%s", name);
    if (!e.message[0])
        snprintf(e.message, sizeof(e.message), "%s", esc_strerror(rc));
    char buf[2048];
    if (esc_error_format(&e, buf, sizeof(buf)) < 0 || !buf[0])
        snprintf(buf, sizeof(buf), "%s: %s", e.where, e.message);
    fprintf(f, "%s\n", buf);
}

void cli_put_json(FILE *f, const char *json, size_t len)
{
    while (len > 0 && json[len - 1] == '\n')
        len--;
    fwrite(json, 1, len, f);
    fputc('\n', f);
}
