/*
 * tmpl.c - compiles template texts ("{{path|fallback}}" placeholders) into
 * segments the renderer walks. Unknown paths are compile errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

static const struct {
    const char *path;
    esc__ph_kind kind;
} named[] = {
    {"ticket.id", ESC__PH_TICKET_ID},
    {"priority.id", ESC__PH_PRIORITY_ID},
    {"priority.name", ESC__PH_PRIORITY_NAME},
    {"priority.promise", ESC__PH_PRIORITY_PROMISE},
    {"team.id", ESC__PH_TEAM_ID},
    {"team.name", ESC__PH_TEAM_NAME},
    {"team.promise", ESC__PH_TEAM_PROMISE},
    {"team.respond_within", ESC__PH_TEAM_RESPOND},
    {"targets", ESC__PH_TARGETS},
    {"reasons", ESC__PH_REASONS},
    {"evidence", ESC__PH_EVIDENCE},
    {"troubleshooting", ESC__PH_TROUBLESHOOTING},
    {"first_message", ESC__PH_FIRST_MESSAGE},
    {"last_message", ESC__PH_LAST_MESSAGE},
    {"respond_by", ESC__PH_RESPOND_BY},
    {"resolve_by", ESC__PH_RESOLVE_BY},
    {"tags", ESC__PH_TAGS},
    {"actions", ESC__PH_ACTIONS},
    {"customer.since", ESC__PH_CUSTOMER_SINCE},
    {"level.name", ESC__PH_LEVEL_NAME},
    {"missing", ESC__PH_MISSING},
};

static void position(const char *text, const char *at, int line, int col,
                     bool block, int *out_line, int *out_col)
{
    if (!block) {
        *out_line = line;
        *out_col = col + (int)(at - text);
        return;
    }
    const char *bol = text;
    int l = line;
    for (const char *s = text; s < at; s++)
        if (*s == '\n') {
            l++;
            bol = s + 1;
        }
    *out_line = l;
    *out_col = col + (int)(at - bol);
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

int esc__tmpl_compile(esc__cc *cc, const char *text, int line, int col,
                      bool block, unsigned ctx, esc__tmpl *out)
{
    esc__arena *mem = &cc->p->mem;
    esc__segment *segs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    const char *s = text;
    while (*s) {
        const char *open = strstr(s, "{{");
        if (!open) {
            esc__segment seg = {.kind = ESC__PH_TEXT,
                                .text = esc__arena_strndup(mem, s, strlen(s)),
                                .len = strlen(s)};
            ESC__PUSH(segs, n, cap, seg);
            break;
        }
        if (open > s) {
            esc__segment seg = {.kind = ESC__PH_TEXT,
                                .text = esc__arena_strndup(mem, s,
                                                           (size_t)(open - s)),
                                .len = (size_t)(open - s)};
            ESC__PUSH(segs, n, cap, seg);
        }
        int pl, pc;
        position(text, open, line, col, block, &pl, &pc);
        const char *close = strstr(open + 2, "}}");
        const char *nl = strchr(open + 2, '\n');
        if (!close || (nl && nl < close)) {
            esc__cc_error(cc, pl, pc, "unterminated placeholder (missing '}}')");
            rc = -1;
            break;
        }
        const char *ps = open + 2, *pe = close;
        const char *bar = memchr(ps, '|', (size_t)(pe - ps));
        const char *fb = NULL, *fe = NULL;
        if (bar) {
            fb = bar + 1;
            fe = pe;
            pe = bar;
            trim(&fb, &fe);
        }
        trim(&ps, &pe);
        char *path = esc__arena_strndup(mem, ps, (size_t)(pe - ps));
        esc__segment seg = {.kind = ESC__PH_OPERAND, .text = path,
                            .len = strlen(path)};
        if (fb)
            seg.fallback = esc__arena_strndup(mem, fb, (size_t)(fe - fb));
        bool found = false;
        for (size_t i = 0; i < ESC__ARRAY_LEN(named); i++)
            if (!strcmp(path, named[i].path)) {
                seg.kind = named[i].kind;
                found = true;
            }
        if (!found) {
            int ppl, ppc;
            position(text, ps, line, col, block, &ppl, &ppc);
            if (!*path) {
                esc__cc_error(cc, ppl, ppc, "empty placeholder");
                rc = -1;
            } else if (esc__operand_resolve(cc, path, ppl, ppc,
                                            ctx | ESC__CTX_DECISION,
                                            &seg.opd) < 0) {
                rc = -1;
            }
        }
        ESC__PUSH(segs, n, cap, seg);
        s = close + 2;
    }
    out->n_segs = n;
    out->segs = esc__arena_alloc(mem, (n ? n : 1) * sizeof(*segs));
    if (n)
        memcpy(out->segs, segs, n * sizeof(*segs));
    free(segs);
    return rc;
}
