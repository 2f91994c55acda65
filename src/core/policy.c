/*
 * policy.c - the policy compiler: YAML (libfyaml) -> validated, compiled
 * policy. Every problem is reported with file:line:col; compilation goes on
 * after an error so that one run of `check` shows them all.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libfyaml.h>
#include <utf8proc.h>

#include "compile.h"
#include "text.h"
#include "ticket.h"

/* ---- diagnostics ------------------------------------------------------ */

struct esc_diags {
    esc_diag *items;
    size_t n, cap;
    char *file;
};

size_t esc_diags_count(const esc_diags *d)
{
    return d ? d->n : 0;
}

const esc_diag *esc_diags_at(const esc_diags *d, size_t i)
{
    return d && i < d->n ? &d->items[i] : NULL;
}

void esc_diags_free(esc_diags **dp)
{
    if (!dp || !*dp)
        return;
    esc_diags *d = *dp;
    for (size_t i = 0; i < d->n; i++)
        free((char *)d->items[i].message);
    free(d->items);
    free(d->file);
    free(d);
    *dp = NULL;
}

static void diag_add(esc_diags *d, int line, int col, const char *msg)
{
    esc_diag item = {.file = d->file, .line = line, .col = col,
                     .message = esc__xstrdup(msg)};
    ESC__PUSH(d->items, d->n, d->cap, item);
}

void esc__cc_error(esc__cc *cc, int line, int col, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    diag_add(cc->diags, line, col, buf);
}

size_t esc__cc_error_count(const esc__cc *cc)
{
    return cc->diags->n;
}

static int diag_cmp(const void *a, const void *b)
{
    const esc_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

/* ---- YAML access ---------------------------------------------------------- */

/* A node with the best position known for it: its own for scalars, the
 * position of the key that holds it for collections. */
typedef struct yv {
    struct fy_node *n;
    int line, col;
} yv;

typedef struct ctx {
    esc__cc cc;
    const char *data;
    size_t len;
} ctx;

#define CC (&c->cc)
#define MEM (&c->cc.p->mem)

static void scalar_pos(ctx *c, struct fy_node *n, int *line, int *col)
{
    struct fy_token *t = fy_node_get_scalar_token(n);
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (!m) {
        *line = *col = 0;
        return;
    }
    *line = m->line + 1;
    *col = m->column + 1;
    enum fy_node_style st = fy_node_get_style(n);
    if ((st == FYNS_LITERAL || st == FYNS_FOLDED) && m->input_pos < c->len) {
        /* The mark is the start of the first content line: skip the
         * indentation. */
        size_t i = m->input_pos;
        int ind = 0;
        while (i < c->len && c->data[i] == ' ')
            i++, ind++;
        *col = ind + 1;
    }
}

static yv yv_of(ctx *c, struct fy_node *n, int line, int col)
{
    yv v = {.n = n, .line = line, .col = col};
    if (n && fy_node_is_scalar(n))
        scalar_pos(c, n, &v.line, &v.col);
    return v;
}

static bool is_map(yv v) { return v.n && fy_node_is_mapping(v.n); }
static bool is_seq(yv v) { return v.n && fy_node_is_sequence(v.n); }
static bool is_scalar(yv v) { return v.n && fy_node_is_scalar(v.n); }

static const char *kind_name(yv v)
{
    if (!v.n)
        return "nothing";
    if (is_map(v))
        return "a mapping";
    if (is_seq(v))
        return "a list";
    return "a scalar";
}

static const char *scalar(ctx *c, yv v)
{
    size_t len;
    const char *s = fy_node_get_scalar(v.n, &len);
    return esc__arena_strndup(MEM, s ? s : "", s ? len : 0);
}

static bool plain(yv v)
{
    return fy_node_get_style(v.n) == FYNS_PLAIN;
}

/* Looks up key in a mapping; returns a yv with n == NULL when absent. */
static yv get(ctx *c, yv map, const char *key)
{
    yv out = {0};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map.n, &it))) {
        struct fy_node *k = fy_node_pair_key(pair);
        size_t len;
        const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &len)
                                                   : NULL;
        if (ks && len == strlen(key) && !memcmp(ks, key, len)) {
            int line, col;
            scalar_pos(c, k, &line, &col);
            return yv_of(c, fy_node_pair_value(pair), line, col);
        }
    }
    return out;
}

/* Reports keys of `map` that are not in the NULL-terminated `allowed`. */
static void check_keys(ctx *c, yv map, const char *what,
                       const char *const *allowed)
{
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map.n, &it))) {
        struct fy_node *k = fy_node_pair_key(pair);
        int line, col;
        if (!k || !fy_node_is_scalar(k)) {
            esc__cc_error(CC, map.line, map.col, "%s: keys must be strings",
                          what);
            continue;
        }
        scalar_pos(c, k, &line, &col);
        size_t len;
        const char *ks = fy_node_get_scalar(k, &len);
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (len == strlen(allowed[i]) && !memcmp(ks, allowed[i], len))
                ok = true;
        if (!ok) {
            esc__sb sb;
            esc__sb_init(&sb);
            for (size_t i = 0; allowed[i]; i++)
                esc__sb_printf(&sb, "%s%s", i ? ", " : "", allowed[i]);
            esc__cc_error(CC, line, col, "unknown key '%.*s' in %s (expected %s)",
                          (int)len, ks, what, sb.buf);
            esc__sb_free(&sb);
        }
    }
}

static bool expect_scalar(ctx *c, yv v, const char *what)
{
    if (is_scalar(v))
        return true;
    esc__cc_error(CC, v.line, v.col, "%s must be a scalar, not %s", what,
                  kind_name(v));
    return false;
}

static const char *get_str(ctx *c, yv map, const char *key, bool required,
                           const char *what)
{
    yv v = get(c, map, key);
    if (!v.n) {
        if (required)
            esc__cc_error(CC, map.line, map.col, "%s: missing required key '%s'",
                          what, key);
        return NULL;
    }
    char label[128];
    snprintf(label, sizeof(label), "%s.%s", what, key);
    if (!expect_scalar(c, v, label))
        return NULL;
    return scalar(c, v);
}

static bool parse_bool(ctx *c, yv v, const char *what, bool *out)
{
    if (is_scalar(v) && plain(v)) {
        const char *s = scalar(c, v);
        if (!strcmp(s, "true")) {
            *out = true;
            return true;
        }
        if (!strcmp(s, "false")) {
            *out = false;
            return true;
        }
    }
    esc__cc_error(CC, v.line, v.col, "%s must be true or false", what);
    return false;
}

static bool get_bool(ctx *c, yv map, const char *key, const char *what,
                     bool dflt)
{
    yv v = get(c, map, key);
    bool b = dflt;
    if (v.n) {
        char label[128];
        snprintf(label, sizeof(label), "%s.%s", what, key);
        parse_bool(c, v, label, &b);
    }
    return b;
}

static bool parse_num(ctx *c, yv v, double *out)
{
    if (!is_scalar(v) || !plain(v))
        return false;
    const char *s = scalar(c, v);
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* A duration written out ("4h") or read from a duration setting
 * ("settings.l1_response"), so a team changes it in one place. */
static int parse_dur(ctx *c, yv v, int64_t *d)
{
    if (!is_scalar(v))
        return -1;
    const char *s = scalar(c, v);
    if (!strncmp(s, "settings.", 9)) {
        int i = esc__find_setting(c->cc.p, s + 9);
        if (i < 0 || c->cc.p->settings[i].value.t != ESC__T_DUR)
            return -1;
        *d = c->cc.p->settings[i].value.d;
        return 0;
    }
    return esc__duration_parse(s, d);
}

static int64_t get_dur(ctx *c, yv map, const char *key, const char *what)
{
    yv v = get(c, map, key);
    if (!v.n)
        return -1;
    int64_t d;
    if (parse_dur(c, v, &d) < 0) {
        esc__cc_error(CC, v.line, v.col,
                      "%s.%s: '%s' is not a duration (expected e.g. 30s, 15m, "
                      "4h, 3d, 2w, 1h30m, or a duration setting)", what, key,
                      is_scalar(v) ? scalar(c, v) : kind_name(v));
        return -1;
    }
    return d;
}

/* A list of durations, or one. */
static void get_durs(ctx *c, yv map, const char *key, const char *what,
                     int64_t **out, size_t *n_out)
{
    yv v = get(c, map, key);
    *out = NULL;
    *n_out = 0;
    if (!v.n)
        return;
    int64_t *tmp = NULL;
    size_t n = 0, cap = 0;
    if (is_scalar(v)) {
        int64_t d = get_dur(c, map, key, what);
        if (d >= 0)
            ESC__PUSH(tmp, n, cap, d);
    } else if (is_seq(v)) {
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v.n, &it))) {
            yv iv = yv_of(c, item, v.line, v.col);
            int64_t d;
            if (parse_dur(c, iv, &d) < 0) {
                esc__cc_error(CC, iv.line, iv.col,
                              "%s.%s: expected a duration (e.g. 24h)", what,
                              key);
                continue;
            }
            ESC__PUSH(tmp, n, cap, d);
        }
    } else {
        esc__cc_error(CC, v.line, v.col,
                      "%s.%s must be a duration or a list of durations", what,
                      key);
    }
    if (n) {
        *out = esc__arena_alloc(MEM, n * sizeof(**out));
        memcpy(*out, tmp, n * sizeof(**out));
        *n_out = n;
    }
    free(tmp);
}

/* A list of strings (a single scalar counts as a list of one). Each item's
 * position is stored in lines/cols when those are non-NULL. */
static const char **get_strs(ctx *c, yv v, const char *what, size_t *n_out,
                             int **lines, int **cols)
{
    *n_out = 0;
    if (lines)
        *lines = NULL;
    if (cols)
        *cols = NULL;
    if (!v.n)
        return NULL;
    const char **tmp = NULL;
    int *tl = NULL, *tc = NULL;
    size_t n = 0, cap = 0, capl = 0, capc = 0, nl = 0, nc = 0;
    if (is_scalar(v)) {
        ESC__PUSH(tmp, n, cap, scalar(c, v));
        ESC__PUSH(tl, nl, capl, v.line);
        ESC__PUSH(tc, nc, capc, v.col);
    } else if (is_seq(v)) {
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v.n, &it))) {
            yv iv = yv_of(c, item, v.line, v.col);
            if (!is_scalar(iv)) {
                esc__cc_error(CC, iv.line, iv.col,
                              "%s: expected a string, not %s", what,
                              kind_name(iv));
                continue;
            }
            ESC__PUSH(tmp, n, cap, scalar(c, iv));
            ESC__PUSH(tl, nl, capl, iv.line);
            ESC__PUSH(tc, nc, capc, iv.col);
        }
    } else {
        esc__cc_error(CC, v.line, v.col, "%s must be a list of strings", what);
    }
    const char **out = NULL;
    if (n) {
        out = esc__arena_alloc(MEM, n * sizeof(*out));
        memcpy(out, tmp, n * sizeof(*out));
    }
    if (lines && n) {
        *lines = esc__arena_alloc(MEM, n * sizeof(int));
        memcpy(*lines, tl, n * sizeof(int));
    }
    if (cols && n) {
        *cols = esc__arena_alloc(MEM, n * sizeof(int));
        memcpy(*cols, tc, n * sizeof(int));
    }
    free(tmp);
    free(tl);
    free(tc);
    *n_out = n;
    return out;
}

static bool valid_id(const char *s)
{
    if (!*s || !(islower((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
              *s == '_'))
            return false;
    return true;
}

/* Reads and checks an `id:`; reports duplicates among ids[0..n). */
static const char *get_id(ctx *c, yv map, const char *what, const char **ids,
                          size_t n)
{
    yv v = get(c, map, "id");
    if (!v.n) {
        esc__cc_error(CC, map.line, map.col, "%s: missing required key 'id'",
                      what);
        return NULL;
    }
    if (!expect_scalar(c, v, "id"))
        return NULL;
    const char *id = scalar(c, v);
    if (!valid_id(id)) {
        esc__cc_error(CC, v.line, v.col,
                      "invalid %s id '%s' (use lower-case letters, digits and "
                      "'_', starting with a letter)", what, id);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] && !strcmp(ids[i], id)) {
            esc__cc_error(CC, v.line, v.col, "duplicate %s id '%s'", what, id);
            return NULL;
        }
    return id;
}

/* Iterates the items of a list of mappings, reporting items that are not
 * mappings. */
#define FOR_EACH_MAP(c, list, what, item)                                   \
    for (void *it_ = NULL, *once_ = (void *)1; once_; once_ = NULL)          \
        for (struct fy_node *n_;                                            \
             (n_ = fy_node_sequence_iterate((list).n, &it_));)              \
            if (((item) = yv_of((c), n_, (list).line, (list).col)),         \
                !is_map(item)                                               \
                    ? (esc__cc_error(&(c)->cc, (item).line, (item).col,     \
                                     "%s: expected a mapping, not %s",      \
                                     (what), kind_name(item)),              \
                       0)                                                   \
                    : 1)

/* Position of a mapping item: that of its first key. */
static void map_pos(ctx *c, yv *v)
{
    void *it = NULL;
    struct fy_node_pair *pair = fy_node_mapping_iterate(v->n, &it);
    if (pair && fy_node_pair_key(pair) &&
        fy_node_is_scalar(fy_node_pair_key(pair)))
        scalar_pos(c, fy_node_pair_key(pair), &v->line, &v->col);
}

static bool need_seq(ctx *c, yv v, const char *what)
{
    if (!v.n)
        return false;
    if (is_seq(v))
        return true;
    esc__cc_error(CC, v.line, v.col, "%s must be a list, not %s", what,
                  kind_name(v));
    return false;
}

static bool need_map(ctx *c, yv v, const char *what)
{
    if (!v.n)
        return false;
    if (is_map(v))
        return true;
    esc__cc_error(CC, v.line, v.col, "%s must be a mapping, not %s", what,
                  kind_name(v));
    return false;
}

/* ---- conditions and templates --------------------------------------------- */

static esc__cond *compile_cond(ctx *c, yv v, unsigned cctx, const char *what);

static esc__cond *cond_list(ctx *c, yv v, esc__cond_kind kind, unsigned cctx,
                            const char *what)
{
    esc__cond **tmp = NULL;
    size_t n = 0, cap = 0;
    bool bad = false;
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v.n, &it))) {
        esc__cond *k = compile_cond(c, yv_of(c, item, v.line, v.col), cctx,
                                    what);
        if (!k)
            bad = true;
        else
            ESC__PUSH(tmp, n, cap, k);
    }
    if (bad || !n) {
        if (!bad)
            esc__cc_error(CC, v.line, v.col, "%s: empty list of conditions",
                          what);
        free(tmp);
        return NULL;
    }
    esc__cond *cd = esc__arena_alloc(MEM, sizeof(*cd));
    cd->kind = kind;
    cd->line = v.line;
    cd->col = v.col;
    cd->kids = esc__arena_alloc(MEM, n * sizeof(*tmp));
    memcpy(cd->kids, tmp, n * sizeof(*tmp));
    cd->n_kids = n;
    cd->src = kind == ESC__C_AND ? "all" : "any";
    free(tmp);
    return cd;
}

static esc__cond *compile_cond(ctx *c, yv v, unsigned cctx, const char *what)
{
    if (!v.n)
        return NULL;
    if (is_scalar(v))
        return esc__expr_parse(CC, scalar(c, v), v.line, v.col, cctx);
    if (is_seq(v))
        return cond_list(c, v, ESC__C_AND, cctx, what);
    map_pos(c, &v);
    size_t count = (size_t)fy_node_mapping_item_count(v.n);
    yv all = get(c, v, "all"), any = get(c, v, "any"), not = get(c, v, "not");
    if (count != 1 || (!all.n && !any.n && !not.n)) {
        esc__cc_error(CC, v.line, v.col,
                      "%s: a condition mapping has exactly one key: all, any "
                      "or not", what);
        return NULL;
    }
    if (all.n || any.n) {
        yv l = all.n ? all : any;
        if (!is_seq(l)) {
            esc__cc_error(CC, l.line, l.col, "%s: '%s' takes a list of "
                          "conditions", what, all.n ? "all" : "any");
            return NULL;
        }
        return cond_list(c, l, all.n ? ESC__C_AND : ESC__C_OR, cctx, what);
    }
    esc__cond *kid = compile_cond(c, not, cctx, what);
    if (!kid)
        return NULL;
    esc__cond *cd = esc__arena_alloc(MEM, sizeof(*cd));
    cd->kind = ESC__C_NOT;
    cd->line = not.line;
    cd->col = not.col;
    cd->kids = esc__arena_alloc(MEM, sizeof(*cd->kids));
    cd->kids[0] = kid;
    cd->n_kids = 1;
    cd->src = "not";
    return cd;
}

static bool compile_text(ctx *c, yv v, const char *what, unsigned cctx,
                         esc__tmpl *out)
{
    if (!v.n)
        return false;
    if (!expect_scalar(c, v, what))
        return false;
    enum fy_node_style st = fy_node_get_style(v.n);
    bool block = st == FYNS_LITERAL || st == FYNS_FOLDED;
    return esc__tmpl_compile(CC, scalar(c, v), v.line, v.col, block, cctx,
                             out) == 0;
}

static const char *const notify_channels[] = {
    "slack", "email", "pager", "webhook", "phone", "dashboard", "sms",
    "customer", NULL};

const char *const esc__notify_events[] = {
    "escalated", "sla_warning", "sla_breach", "acknowledged", "follow_up",
    "chain_step", "resolution_breach", NULL};

/* `on:` of a notify entry: one event or a list of them. */
static unsigned compile_notify_on(ctx *c, yv v)
{
    int *lines, *cols;
    size_t n;
    const char **ev = get_strs(c, v, "notify.on", &n, &lines, &cols);
    unsigned on = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned bit = 0;
        for (size_t k = 0; esc__notify_events[k]; k++)
            if (!strcmp(ev[i], esc__notify_events[k]))
                bit = 1u << k;
        if (!bit)
            esc__cc_error(CC, lines[i], cols[i],
                          "unknown notification event '%s' (expected "
                          "escalated, sla_warning, sla_breach, acknowledged, "
                          "follow_up, chain_step or resolution_breach)", ev[i]);
        on |= bit;
    }
    if (!n && is_seq(v))
        esc__cc_error(CC, v.line, v.col,
                      "notify.on: name at least one event");
    return on;
}

/* team: entries of a team, whose chain_step is sent when the
 * acknowledgement chain moves an escalation to the team, without a
 * decision to evaluate a condition or render a text in. */
static void compile_notify(ctx *c, yv map, const char *what, bool team,
                           esc__notify **out, size_t *n_out)
{
    yv v = get(c, map, "notify");
    *out = NULL;
    *n_out = 0;
    if (!v.n || !need_seq(c, v, "notify"))
        return;
    esc__notify *tmp = NULL;
    size_t n = 0, cap = 0;
    yv item;
    FOR_EACH_MAP(c, v, "notify", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"channel", "to", "text", "when",
                                           "on", "template", NULL};
        check_keys(c, item, "notify", keys);
        esc__notify nt = {.on = ESC__ON_ESCALATED, .tmpl = -1};
        yv ch = get(c, item, "channel");
        nt.channel = get_str(c, item, "channel", true, what);
        nt.to = get_str(c, item, "to", false, what);
        if (nt.channel) {
            bool ok = false;
            for (size_t i = 0; notify_channels[i]; i++)
                if (!strcmp(nt.channel, notify_channels[i]))
                    ok = true;
            if (!ok)
                esc__cc_error(CC, ch.line, ch.col,
                              "unknown notification channel '%s' (expected "
                              "slack, email, pager, webhook, phone, "
                              "dashboard, sms or customer)", nt.channel);
        }
        yv on = get(c, item, "on");
        if (on.n)
            nt.on = compile_notify_on(c, on);
        yv text = get(c, item, "text");
        if (text.n)
            nt.has_text = compile_text(c, text, "notify.text",
                                       ESC__CTX_DECISION, &nt.text);
        yv tm = get(c, item, "template");
        if (tm.n && expect_scalar(c, tm, "notify.template")) {
            for (size_t i = 0; i < c->cc.n_tmpl_ids; i++)
                if (!strcmp(c->cc.tmpl_ids[i], scalar(c, tm)))
                    nt.tmpl = (int)i;
            if (nt.tmpl < 0)
                esc__cc_error(CC, tm.line, tm.col,
                              "unknown template '%s' (declare it under "
                              "templates:)", scalar(c, tm));
            else if (text.n)
                esc__cc_error(CC, tm.line, tm.col,
                              "notify: give either text or template, not "
                              "both");
        }
        yv when = get(c, item, "when");
        if (when.n)
            nt.when = compile_cond(c, when, ESC__CTX_DECISION, what);
        if (nt.channel && nt.channel[0] && !strcmp(nt.channel, "customer") &&
            (nt.on & ~(unsigned)ESC__ON_ESCALATED))
            esc__cc_error(CC, on.line, on.col,
                          "notify: the customer hears of the escalation "
                          "only (on: escalated)");
        if (team && (nt.on & ESC__ON_CHAIN_STEP) && (when.n || text.n || tm.n)) {
            yv at = when.n ? when : text.n ? text : tm;
            esc__cc_error(CC, at.line, at.col,
                          "notify: a team's chain_step entry is sent when the "
                          "chain reaches the team, with the chain step's own "
                          "text; it cannot have when, text or template");
        }
        if (nt.channel)
            ESC__PUSH(tmp, n, cap, nt);
    }
    if (n) {
        *out = esc__arena_alloc(MEM, n * sizeof(*tmp));
        memcpy(*out, tmp, n * sizeof(*tmp));
        *n_out = n;
    }
    free(tmp);
}

/* A required path: customer.*, subject, troubleshooting or a declared
 * field. */
static const char **compile_requires(ctx *c, yv map, size_t *n_out)
{
    yv v = get(c, map, "requires");
    int *lines, *cols;
    const char **r = get_strs(c, v, "requires", n_out, &lines, &cols);
    for (size_t i = 0; i < *n_out; i++) {
        const char *s = r[i];
        bool ok = !strcmp(s, "subject") || !strcmp(s, "troubleshooting") ||
                  !strcmp(s, "customer.email") || !strcmp(s, "customer.name") ||
                  !strcmp(s, "customer.id") || !strcmp(s, "customer.tier") ||
                  !strcmp(s, "customer.since") || !strcmp(s, "messages");
        if (!strncmp(s, "fields.", 7)) {
            if (esc__find_field(c->cc.p, s + 7) < 0) {
                esc__cc_error(CC, lines[i], cols[i],
                              "unknown field '%s' (declare it under fields:)",
                              s + 7);
                continue;
            }
            ok = true;
        }
        if (!ok)
            esc__cc_error(CC, lines[i], cols[i],
                          "'%s' cannot be required (expected fields.NAME, "
                          "customer.email, customer.name, customer.id, "
                          "customer.tier, customer.since, subject, messages "
                          "or troubleshooting)", s);
    }
    return r;
}

/* Resolves team ids to indexes. */
static const uint32_t *team_refs(ctx *c, yv v, const char *what, size_t *n_out,
                                 bool *next_tier)
{
    int *lines, *cols;
    size_t n;
    const char **ids = get_strs(c, v, what, &n, &lines, &cols);
    uint32_t *out = n ? esc__arena_alloc(MEM, n * sizeof(*out)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (next_tier && !strcmp(ids[i], "next_tier")) {
            *next_tier = true;
            continue;
        }
        int t = esc__find_team(c->cc.p, ids[i]);
        if (t < 0) {
            esc__cc_error(CC, lines[i], cols[i], "unknown team '%s'", ids[i]);
            continue;
        }
        out[k++] = (uint32_t)t;
    }
    *n_out = k;
    return out;
}

/* ---- sections ------------------------------------------------------------- */

static void compile_settings(ctx *c, yv root)
{
    yv v = get(c, root, "settings");
    if (!v.n || !need_map(c, v, "settings"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_mapping_item_count(v.n);
    p->settings = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->settings));
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(v.n, &it))) {
        yv key = yv_of(c, fy_node_pair_key(pair), v.line, v.col);
        if (!is_scalar(key))
            continue;
        yv val = yv_of(c, fy_node_pair_value(pair), key.line, key.col);
        esc__setting *s = &p->settings[p->n_settings];
        s->name = scalar(c, key);
        if (!valid_id(s->name)) {
            esc__cc_error(CC, key.line, key.col, "invalid setting name '%s'",
                          s->name);
            continue;
        }
        if (is_map(val)) {
            static const char *const keys[] = {"default", "description", NULL};
            check_keys(c, val, "a setting", keys);
            s->description = get_str(c, val, "description", false, s->name);
            yv d = get(c, val, "default");
            if (!d.n) {
                esc__cc_error(CC, key.line, key.col,
                              "setting '%s' needs a default", s->name);
                continue;
            }
            val = d;
        }
        esc__value *x = &s->value;
        double num;
        int64_t dur;
        if (is_seq(val)) {
            size_t k;
            x->t = ESC__T_LIST;
            x->items = get_strs(c, val, s->name, &k, NULL, NULL);
            x->n_items = k;
        } else if (!is_scalar(val)) {
            esc__cc_error(CC, val.line, val.col,
                          "setting '%s' must be a number, duration, string, "
                          "boolean or list", s->name);
            continue;
        } else if (plain(val) && parse_num(c, val, &num)) {
            x->t = ESC__T_NUM;
            x->n = num;
        } else if (plain(val) &&
                   esc__duration_parse(scalar(c, val), &dur) == 0) {
            x->t = ESC__T_DUR;
            x->d = dur;
        } else if (plain(val) && (!strcmp(scalar(c, val), "true") ||
                                  !strcmp(scalar(c, val), "false"))) {
            x->t = ESC__T_BOOL;
            x->b = scalar(c, val)[0] == 't';
        } else {
            x->t = ESC__T_STR;
            x->s = scalar(c, val);
        }
        if (esc__find_setting(p, s->name) >= 0) {
            esc__cc_error(CC, key.line, key.col, "duplicate setting '%s'",
                          s->name);
            continue;
        }
        p->n_settings++;
    }
}

static void compile_fields(ctx *c, yv root)
{
    yv v = get(c, root, "fields");
    if (!v.n || !need_map(c, v, "fields"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_mapping_item_count(v.n);
    p->fields = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->fields));
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(v.n, &it))) {
        yv key = yv_of(c, fy_node_pair_key(pair), v.line, v.col);
        if (!is_scalar(key))
            continue;
        yv val = yv_of(c, fy_node_pair_value(pair), key.line, key.col);
        esc__field *f = &p->fields[p->n_fields];
        f->name = scalar(c, key);
        if (!valid_id(f->name)) {
            esc__cc_error(CC, key.line, key.col, "invalid field name '%s'",
                          f->name);
            continue;
        }
        yv type = val;
        if (is_map(val)) {
            static const char *const keys[] = {"type", "values", "label",
                                               "description", NULL};
            check_keys(c, val, "a field", keys);
            type = get(c, val, "type");
            f->label = get_str(c, val, "label", false, f->name);
            yv vals = get(c, val, "values");
            size_t k;
            f->values = get_strs(c, vals, "values", &k, NULL, NULL);
            f->n_values = k;
            if (!type.n) {
                esc__cc_error(CC, key.line, key.col,
                              "field '%s' needs a type", f->name);
                continue;
            }
        }
        if (!expect_scalar(c, type, "a field type"))
            continue;
        const char *t = scalar(c, type);
        if (!strcmp(t, "number"))
            f->type = ESC__T_NUM;
        else if (!strcmp(t, "integer"))
            f->type = ESC__T_NUM, f->integer = true;
        else if (!strcmp(t, "string"))
            f->type = ESC__T_STR;
        else if (!strcmp(t, "boolean"))
            f->type = ESC__T_BOOL;
        else if (!strcmp(t, "list"))
            f->type = ESC__T_LIST;
        else if (!strcmp(t, "time"))
            f->type = ESC__T_TIME;
        else {
            esc__cc_error(CC, type.line, type.col,
                          "unknown field type '%s' (expected number, integer, "
                          "string, boolean, list or time)", t);
            continue;
        }
        if (f->n_values && f->type != ESC__T_STR && f->type != ESC__T_LIST)
            esc__cc_error(CC, type.line, type.col,
                          "field '%s': values: needs type string or list",
                          f->name);
        p->n_fields++;
    }
}

static void compile_levels(ctx *c, yv root)
{
    yv v = get(c, root, "levels");
    if (!v.n || !need_seq(c, v, "levels"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->levels = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->levels));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "levels", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"id", "name", "scope",
                                           "resolve_within", "description",
                                           NULL};
        check_keys(c, item, "a level", keys);
        const char *id = get_id(c, item, "level", ids, p->n_levels);
        if (!id)
            continue;
        esc__level *l = &p->levels[p->n_levels];
        ids[p->n_levels] = id;
        l->id = id;
        l->name = get_str(c, item, "name", false, id);
        l->scope = get_str(c, item, "scope", false, id);
        l->resolve_within = get_dur(c, item, "resolve_within", id);
        p->n_levels++;
    }
    free(ids);
}

static int find_calendar(const esc_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_calendars; i++)
        if (!strcmp(p->calendars[i].id, id))
            return (int)i;
    return -1;
}

/* "09:00" -> minutes after midnight ("24:00" is 1440); -1 when invalid. */
static int parse_clock(const char *s, size_t n)
{
    if (n != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
        !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m))
        return -1;
    return h * 60 + m;
}

static void compile_calendars(ctx *c, yv root)
{
    yv v = get(c, root, "calendars");
    if (!v.n || !need_seq(c, v, "calendars"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->calendars = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->calendars));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "calendars", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"id", "timezone", "days", "hours",
                                           "holidays", "description", NULL};
        check_keys(c, item, "a calendar", keys);
        const char *id = get_id(c, item, "calendar", ids, p->n_calendars);
        if (!id)
            continue;
        esc__calendar cal = {.id = id, .days = 0x3e, .open_min = 9 * 60,
                             .close_min = 17 * 60};
        yv tz = get(c, item, "timezone");
        cal.timezone = get_str(c, item, "timezone", true, id);
        char err[256];
        if (cal.timezone &&
            esc__cal_open(cal.timezone, &cal.proto, err, sizeof(err)) < 0) {
            esc__cc_error(CC, tz.line, tz.col, "%s", err);
            continue;
        }
        yv days = get(c, item, "days");
        if (days.n) {
            static const char *const names[] = {"sun", "mon", "tue", "wed",
                                                "thu", "fri", "sat"};
            size_t nd;
            int *dl, *dc;
            const char **ds = get_strs(c, days, "days", &nd, &dl, &dc);
            cal.days = 0;
            for (size_t i = 0; i < nd; i++) {
                int d = -1;
                for (int k = 0; k < 7; k++)
                    if (!strcmp(ds[i], names[k]))
                        d = k;
                if (d < 0)
                    esc__cc_error(CC, dl[i], dc[i],
                                  "unknown day '%s' (expected mon, tue, wed, "
                                  "thu, fri, sat or sun)", ds[i]);
                else
                    cal.days |= 1u << d;
            }
        }
        yv hours = get(c, item, "hours");
        if (hours.n) {
            const char *h = is_scalar(hours) ? scalar(c, hours) : "";
            const char *dash = strchr(h, '-');
            int open = dash ? parse_clock(h, (size_t)(dash - h)) : -1;
            int close = dash ? parse_clock(dash + 1, strlen(dash + 1)) : -1;
            if (open < 0 || close <= open)
                esc__cc_error(CC, hours.line, hours.col,
                              "hours: expected opening and closing time as "
                              "\"09:00-17:30\" (closing after opening)");
            else
                cal.open_min = open, cal.close_min = close;
        }
        yv hol = get(c, item, "holidays");
        if (hol.n) {
            size_t nh;
            int *hl, *hc;
            const char **hs = get_strs(c, hol, "holidays", &nh, &hl, &hc);
            cal.holidays = esc__arena_alloc(MEM, (nh ? nh : 1) *
                                                     sizeof(int32_t));
            for (size_t i = 0; i < nh; i++) {
                char buf[32];
                int64_t t;
                snprintf(buf, sizeof(buf), "%sT00:00:00Z", hs[i]);
                if (strlen(hs[i]) != 10 || esc_time_parse(buf, &t) < 0) {
                    esc__cc_error(CC, hl[i], hc[i],
                                  "holidays: '%s' is not a date (expected "
                                  "YYYY-MM-DD)", hs[i]);
                    continue;
                }
                cal.holidays[cal.n_holidays++] =
                    atoi(hs[i]) * 10000 + atoi(hs[i] + 5) * 100 +
                    atoi(hs[i] + 8);
            }
            qsort(cal.holidays, cal.n_holidays, sizeof(int32_t),
                  esc__cal_cmp_date);
        }
        if (!cal.days)
            esc__cc_error(CC, item.line, item.col,
                          "calendar '%s' has no working days", id);
        ids[p->n_calendars] = id;
        p->calendars[p->n_calendars++] = cal;
    }
    free(ids);
}

/* A team's or priority's `calendar:`; -1 when absent. */
static int get_calendar(ctx *c, yv map)
{
    yv v = get(c, map, "calendar");
    if (!v.n || !expect_scalar(c, v, "calendar"))
        return -1;
    int i = find_calendar(c->cc.p, scalar(c, v));
    if (i < 0)
        esc__cc_error(CC, v.line, v.col,
                      "unknown calendar '%s' (declare it under calendars:)",
                      scalar(c, v));
    return i;
}

static void compile_teams(ctx *c, yv root)
{
    yv v = get(c, root, "teams");
    esc_policy *p = c->cc.p;
    if (!v.n) {
        esc__cc_error(CC, root.line, root.col, "missing required key 'teams'");
        return;
    }
    if (!need_seq(c, v, "teams"))
        return;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->teams = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->teams));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "teams", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {
            "id", "name", "handles", "tier", "respond_within",
            "resolve_within", "acknowledge_within", "follow_up", "promise",
            "tags", "requires", "notify", "calendar", "description", NULL};
        check_keys(c, item, "a team", keys);
        const char *id = get_id(c, item, "team", ids, p->n_teams);
        if (!id)
            continue;
        esc__team *t = &p->teams[p->n_teams];
        ids[p->n_teams] = id;
        t->id = id;
        t->name = get_str(c, item, "name", false, id);
        if (!t->name)
            t->name = id;
        t->handles = get_str(c, item, "handles", false, id);
        t->promise = get_str(c, item, "promise", false, id);
        yv tier = get(c, item, "tier");
        double tv;
        if (tier.n) {
            if (!parse_num(c, tier, &tv) || tv < 1 || tv > 100 ||
                tv != floor(tv))
                esc__cc_error(CC, tier.line, tier.col,
                              "tier must be a whole number from 1 to 100");
            else
                t->tier = (int)tv;
        }
        t->respond_within = get_dur(c, item, "respond_within", id);
        t->resolve_within = get_dur(c, item, "resolve_within", id);
        t->acknowledge_within = get_dur(c, item, "acknowledge_within", id);
        t->calendar = get_calendar(c, item);
        get_durs(c, item, "follow_up", id, &t->follow_ups, &t->n_follow_ups);
        t->tags = get_strs(c, get(c, item, "tags"), "tags", &t->n_tags, NULL,
                           NULL);
        t->requires = compile_requires(c, item, &t->n_requires);
        compile_notify(c, item, id, true, &t->notify, &t->n_notify);
        p->n_teams++;
    }
    free(ids);
    if (!p->n_teams && !esc__cc_error_count(CC))
        esc__cc_error(CC, v.line, v.col, "teams: at least one team is needed");
}

static void compile_priorities(ctx *c, yv root)
{
    yv v = get(c, root, "priorities");
    esc_policy *p = c->cc.p;
    if (!v.n) {
        esc__cc_error(CC, root.line, root.col,
                      "missing required key 'priorities'");
        return;
    }
    if (!need_seq(c, v, "priorities"))
        return;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->priorities = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->priorities));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "priorities", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {
            "id", "name", "description", "respond_within", "escalate_within",
            "resolve_within", "acknowledge_within", "follow_up", "promise",
            "tags", "unsuppressible", "notify", "calendar", NULL};
        check_keys(c, item, "a priority", keys);
        const char *id = get_id(c, item, "priority", ids, p->n_priorities);
        if (!id)
            continue;
        esc__priority *pr = &p->priorities[p->n_priorities];
        ids[p->n_priorities] = id;
        pr->id = id;
        pr->name = get_str(c, item, "name", false, id);
        if (!pr->name)
            pr->name = id;
        pr->promise = get_str(c, item, "promise", false, id);
        pr->respond_within = get_dur(c, item, "respond_within", id);
        pr->escalate_within = get_dur(c, item, "escalate_within", id);
        pr->resolve_within = get_dur(c, item, "resolve_within", id);
        pr->acknowledge_within = get_dur(c, item, "acknowledge_within", id);
        pr->calendar = get_calendar(c, item);
        get_durs(c, item, "follow_up", id, &pr->follow_ups,
                 &pr->n_follow_ups);
        pr->tags = get_strs(c, get(c, item, "tags"), "tags", &pr->n_tags, NULL,
                            NULL);
        pr->unsuppressible = get_bool(c, item, "unsuppressible", id, false);
        compile_notify(c, item, id, false, &pr->notify, &pr->n_notify);
        p->n_priorities++;
    }
    free(ids);
    if (!p->n_priorities && !esc__cc_error_count(CC))
        esc__cc_error(CC, v.line, v.col,
                      "priorities: at least one priority is needed");
    p->default_priority = p->n_priorities ? (uint32_t)(p->n_priorities - 1) : 0;
    yv d = get(c, root, "default_priority");
    if (d.n && expect_scalar(c, d, "default_priority")) {
        int i = esc__find_priority(p, scalar(c, d));
        if (i < 0)
            esc__cc_error(CC, d.line, d.col, "unknown priority '%s'",
                          scalar(c, d));
        else
            p->default_priority = (uint32_t)i;
    }
}

static void compile_actions(ctx *c, yv root)
{
    yv v = get(c, root, "actions");
    if (!v.n || !need_seq(c, v, "actions"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->actions = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->actions));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    void *it = NULL;
    struct fy_node *nd;
    while ((nd = fy_node_sequence_iterate(v.n, &it))) {
        yv item = yv_of(c, nd, v.line, v.col);
        esc__action *a = &p->actions[p->n_actions];
        const char *id;
        if (is_scalar(item)) {
            id = scalar(c, item);
            bool dup = false;
            for (size_t i = 0; i < p->n_actions; i++)
                dup |= !strcmp(ids[i], id);
            if (!valid_id(id) || dup) {
                esc__cc_error(CC, item.line, item.col, "%s action id '%s'",
                              dup ? "duplicate" : "invalid", id);
                continue;
            }
        } else if (is_map(item)) {
            map_pos(c, &item);
            static const char *const keys[] = {"id", "description", NULL};
            check_keys(c, item, "an action", keys);
            id = get_id(c, item, "action", ids, p->n_actions);
            if (!id)
                continue;
            a->description = get_str(c, item, "description", false, id);
        } else {
            esc__cc_error(CC, item.line, item.col,
                          "actions: expected an id or a mapping");
            continue;
        }
        a->id = id;
        ids[p->n_actions++] = id;
    }
    free(ids);
}

/*
 * Adds a phrase with the articles and possessives customers swap freely:
 * "speak to a manager" also stands for "speak to the manager", "speak to
 * your manager" and "speak to manager". The first determiner of the phrase
 * is varied; it is dropped only when two other words remain, so that "my
 * suggestion" does not shrink to "suggestion".
 */
static int add_phrase(esc__matcher_builder *mb, const char *phrase,
                      uint32_t id, unsigned flags, char *err, size_t errlen)
{
    static const char *const dets[] = {"a",   "an",   "the",   "my",
                                       "your", "our", "their", NULL};
    int rc = esc__mb_add_phrase(mb, phrase, id, flags, err, errlen);
    if (rc < 0 || (flags & ESC__PHRASE_EXACT))
        return rc;
    const char *words[64];
    size_t lens[64], n = 0, others = 0;
    int at = -1;
    for (const char *s = phrase; *s && n < 64;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        words[n] = s;
        lens[n] = (size_t)(e - s);
        bool det = false;
        for (size_t k = 0; dets[k]; k++)
            det |= strlen(dets[k]) == lens[n] &&
                   !strncasecmp(dets[k], s, lens[n]);
        if (det && at < 0)
            at = (int)n;
        else if (!det)
            others++;
        n++;
        s = e;
    }
    if (at < 0)
        return 0;
    for (size_t k = 0; dets[k] || others >= 2; k++) {
        const char *d = dets[k] ? dets[k] : "";
        if (strlen(d) == lens[at] && !strncasecmp(d, words[at], lens[at]))
            continue;
        esc__sb sb;
        esc__sb_init(&sb);
        for (size_t i = 0; i < n; i++) {
            const char *w = (int)i == at ? d : words[i];
            size_t len = (int)i == at ? strlen(d) : lens[i];
            if (!len)
                continue;
            if (sb.len)
                esc__sb_putc(&sb, ' ');
            esc__sb_put(&sb, w, len);
        }
        esc__mb_add_phrase(mb, sb.buf, id, flags, err, errlen);
        esc__sb_free(&sb);
        if (!dets[k])
            break;
    }
    return 0;
}

static void compile_signals(ctx *c, yv root, esc__matcher_builder *mb)
{
    yv v = get(c, root, "signals");
    esc_policy *p = c->cc.p;
    esc__pattern *pats = NULL;
    size_t np = 0, capp = 0;
    char err[512];
    /* The built-in lexicons are always in the matcher: the sentiment fact
     * reads them. */
    for (int lex = 0; lex < ESC__LEX_COUNT; lex++) {
        const char *const *words = esc__lexicon_words((esc__lexicon)lex);
        for (size_t i = 0; words && words[i]; i++) {
            if (esc__mb_add_phrase(mb, words[i], (uint32_t)np, 0, err,
                                   sizeof(err)) < 0)
                continue;
            esc__pattern pt = {.signal = UINT32_MAX, .lexicon = lex,
                               .text = words[i]};
            ESC__PUSH(pats, np, capp, pt);
        }
    }
    if (v.n && need_map(c, v, "signals")) {
        size_t n = (size_t)fy_node_mapping_item_count(v.n);
        p->signals = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->signals));
        void *it = NULL;
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(v.n, &it))) {
            yv key = yv_of(c, fy_node_pair_key(pair), v.line, v.col);
            if (!is_scalar(key))
                continue;
            yv def = yv_of(c, fy_node_pair_value(pair), key.line, key.col);
            const char *id = scalar(c, key);
            if (!valid_id(id)) {
                esc__cc_error(CC, key.line, key.col, "invalid signal id '%s'",
                              id);
                continue;
            }
            if (!is_map(def)) {
                esc__cc_error(CC, def.line, def.col,
                              "signal '%s' must be a mapping (phrases:, "
                              "regex:, lexicon: ...)", id);
                continue;
            }
            static const char *const keys[] = {
                "phrases", "exact", "regex", "regexes", "lexicon", "in",
                "negation", "min_hits", "shouting", "description", NULL};
            check_keys(c, def, "a signal", keys);
            uint32_t si = (uint32_t)p->n_signals;
            esc__signal *s = &p->signals[si];
            s->id = id;
            s->line = key.line;
            s->col = key.col;
            s->lexicon = -1;
            s->description = get_str(c, def, "description", false, id);
            s->min_hits = 1;
            yv mh = get(c, def, "min_hits");
            double mv;
            if (mh.n) {
                if (!parse_num(c, mh, &mv) || mv < 1 || mv > 1000 ||
                    mv != floor(mv))
                    esc__cc_error(CC, mh.line, mh.col,
                                  "min_hits must be a whole number from 1 "
                                  "to 1000");
                else
                    s->min_hits = (unsigned)mv;
            }
            bool negation = get_bool(c, def, "negation", id, true);
            bool exact = get_bool(c, def, "exact", id, false);
            unsigned flags = (negation ? ESC__PHRASE_NEGATABLE : 0) |
                             (exact ? ESC__PHRASE_EXACT : 0);
            yv lexv = get(c, def, "lexicon");
            if (lexv.n && expect_scalar(c, lexv, "lexicon")) {
                const char *ln = scalar(c, lexv);
                for (int lex = 0; lex < ESC__LEX_COUNT; lex++)
                    if (!strcmp(ln, esc__lexicon_name((esc__lexicon)lex)))
                        s->lexicon = lex;
                if (s->lexicon < 0)
                    esc__cc_error(CC, lexv.line, lexv.col,
                                  "unknown lexicon '%s' (expected profanity "
                                  "or anger)", ln);
            }
            s->shouting = get_bool(c, def, "shouting", id,
                                   s->lexicon == ESC__LEX_ANGER);
            /* Phrases of the signal, then those of its lexicon. */
            size_t nph;
            int *lines, *cols;
            const char **phr = get_strs(c, get(c, def, "phrases"), "phrases",
                                        &nph, &lines, &cols);
            for (size_t i = 0; i < nph; i++) {
                if (add_phrase(mb, phr[i], (uint32_t)np, flags, err,
                                       sizeof(err)) < 0) {
                    esc__cc_error(CC, lines[i], cols[i], "phrase '%s': %s",
                                  phr[i], err);
                    continue;
                }
                esc__pattern pt = {.signal = si, .text = phr[i]};
                ESC__PUSH(pats, np, capp, pt);
                s->n_phrases++;
            }
            if (s->lexicon >= 0) {
                const char *const *words =
                    esc__lexicon_words((esc__lexicon)s->lexicon);
                for (size_t i = 0; words && words[i]; i++) {
                    if (esc__mb_add_phrase(mb, words[i], (uint32_t)np, flags,
                                           err, sizeof(err)) < 0)
                        continue;
                    esc__pattern pt = {.signal = si, .text = words[i]};
                    ESC__PUSH(pats, np, capp, pt);
                    s->n_phrases++;
                }
            }
            yv rx1 = get(c, def, "regex"), rxs = get(c, def, "regexes");
            size_t nrx1 = 0, nrxs = 0;
            int *l1, *c1, *ls, *cs;
            const char **r1 = rx1.n ? get_strs(c, rx1, "regex", &nrx1, &l1, &c1)
                                    : NULL;
            const char **rs = rxs.n ? get_strs(c, rxs, "regexes", &nrxs, &ls,
                                               &cs)
                                    : NULL;
            for (size_t i = 0; i < nrx1 + nrxs; i++) {
                const char *re = i < nrx1 ? r1[i] : rs[i - nrx1];
                int line = i < nrx1 ? l1[i] : ls[i - nrx1];
                int col = i < nrx1 ? c1[i] : cs[i - nrx1];
                int off = -1;
                if (esc__mb_add_regex(mb, re, (uint32_t)np, err, sizeof(err),
                                      &off) < 0) {
                    esc__cc_error(CC, line, off >= 0 ? col + off : col,
                                  "invalid regular expression: %s", err);
                    continue;
                }
                esc__pattern pt = {.signal = si, .text = re, .regex = true};
                ESC__PUSH(pats, np, capp, pt);
                s->n_regexes++;
            }
            if (!s->n_phrases && !s->n_regexes && s->lexicon < 0 &&
                !s->shouting)
                esc__cc_error(CC, key.line, key.col,
                              "signal '%s' has nothing to look for (give "
                              "phrases, regex, regexes or lexicon)", id);
            /* Which texts. */
            yv in = get(c, def, "in");
            s->scope = ESC__SCOPE_CUSTOMER;
            if (in.n) {
                size_t nin;
                int *il, *ic;
                const char **ins = get_strs(c, in, "in", &nin, &il, &ic);
                s->scope = 0;
                for (size_t i = 0; i < nin; i++) {
                    const char *w = ins[i];
                    unsigned bit = !strcmp(w, "customer") ? ESC__SCOPE_CUSTOMER
                                 : !strcmp(w, "agent")    ? ESC__SCOPE_AGENT
                                 : !strcmp(w, "bot")      ? ESC__SCOPE_BOT
                                 : !strcmp(w, "system")   ? ESC__SCOPE_SYSTEM
                                 : !strcmp(w, "subject")  ? ESC__SCOPE_SUBJECT
                                 : !strcmp(w, "any")
                                     ? (ESC__SCOPE_CUSTOMER | ESC__SCOPE_AGENT |
                                        ESC__SCOPE_BOT | ESC__SCOPE_SYSTEM |
                                        ESC__SCOPE_SUBJECT)
                                     : 0;
                    if (!bit)
                        esc__cc_error(CC, il[i], ic[i],
                                      "unknown text '%s' in 'in' (expected "
                                      "customer, agent, bot, system, subject "
                                      "or any)", w);
                    s->scope |= bit;
                }
            }
            bool dup = false;
            for (size_t i = 0; i < p->n_signals; i++)
                dup |= !strcmp(p->signals[i].id, id);
            if (dup) {
                esc__cc_error(CC, key.line, key.col, "duplicate signal id '%s'",
                              id);
                continue;
            }
            p->scan_scope |= s->scope;
            p->n_signals++;
        }
    }
    p->scan_scope |= ESC__SCOPE_CUSTOMER; /* for the sentiment fact */
    p->n_patterns = np;
    p->patterns = esc__arena_alloc(MEM, (np ? np : 1) * sizeof(*pats));
    if (np)
        memcpy(p->patterns, pats, np * sizeof(*pats));
    free(pats);

    yv typos = get(c, root, "typos");
    if (typos.n && need_map(c, typos, "typos")) {
        void *it = NULL;
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(typos.n, &it))) {
            yv k = yv_of(c, fy_node_pair_key(pair), typos.line, typos.col);
            yv w = yv_of(c, fy_node_pair_value(pair), k.line, k.col);
            if (!is_scalar(k) || !is_scalar(w)) {
                esc__cc_error(CC, k.line, k.col,
                              "typos: expected 'misspelling: word' pairs");
                continue;
            }
            if (esc__mb_add_typo(mb, scalar(c, k), scalar(c, w)) < 0)
                esc__cc_error(CC, k.line, k.col,
                              "typos: '%s' and '%s' must be single words",
                              scalar(c, k), scalar(c, w));
        }
    }
    yv neg = get(c, root, "negators");
    if (neg.n) {
        size_t nn;
        int *nl, *nc;
        const char **ws = get_strs(c, neg, "negators", &nn, &nl, &nc);
        for (size_t i = 0; i < nn; i++)
            if (esc__mb_add_negator(mb, ws[i]) < 0)
                esc__cc_error(CC, nl[i], nc[i],
                              "negators: '%s' must be a single word", ws[i]);
    }
}

static void collect_template_ids(ctx *c, yv root)
{
    yv v = get(c, root, "templates");
    if (!is_seq(v))
        return;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    c->cc.tmpl_ids = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(char *));
    void *it = NULL;
    struct fy_node *nd;
    while ((nd = fy_node_sequence_iterate(v.n, &it))) {
        yv item = yv_of(c, nd, v.line, v.col);
        const char *id = NULL;
        if (is_map(item)) {
            yv idv = get(c, item, "id");
            if (is_scalar(idv))
                id = scalar(c, idv);
        }
        c->cc.tmpl_ids[c->cc.n_tmpl_ids++] = id ? id : "";
    }
}

static void compile_rules(ctx *c, yv root)
{
    yv v = get(c, root, "rules");
    esc_policy *p = c->cc.p;
    if (!v.n) {
        esc__cc_error(CC, root.line, root.col, "missing required key 'rules'");
        return;
    }
    if (!need_seq(c, v, "rules"))
        return;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->rules = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->rules));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "rules", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {
            "id", "description", "when", "targets", "priority", "tags",
            "actions", "level", "stop_conversation", "escalate",
            "unsuppressible", "template", "requires", "reason", "notify",
            NULL};
        check_keys(c, item, "a rule", keys);
        const char *id = get_id(c, item, "rule", ids, p->n_rules);
        if (!id)
            continue;
        esc__rule *r = &p->rules[p->n_rules];
        r->id = id;
        r->line = item.line;
        r->col = item.col;
        r->description = get_str(c, item, "description", false, id);
        yv when = get(c, item, "when");
        if (!when.n)
            esc__cc_error(CC, item.line, item.col,
                          "rule '%s': missing required key 'when'", id);
        else
            r->when = compile_cond(c, when, 0, id);
        r->escalate = get_bool(c, item, "escalate", id, true);
        r->stop_conversation = get_bool(c, item, "stop_conversation", id,
                                        false);
        r->unsuppressible = get_bool(c, item, "unsuppressible", id, false);
        yv tg = get(c, item, "targets");
        r->targets = team_refs(c, tg, "targets", &r->n_targets,
                               &r->next_tier);
        if (r->escalate && !tg.n)
            esc__cc_error(CC, item.line, item.col,
                          "rule '%s': missing required key 'targets' (or set "
                          "escalate: false)", id);
        if (r->next_tier) {
            bool tiers = false;
            for (size_t i = 0; i < p->n_teams; i++)
                tiers |= p->teams[i].tier > 0;
            if (!tiers)
                esc__cc_error(CC, tg.line, tg.col,
                              "rule '%s': next_tier needs teams with tier:",
                              id);
        }
        r->priority = p->default_priority;
        yv pr = get(c, item, "priority");
        if (pr.n && expect_scalar(c, pr, "priority")) {
            int i = esc__find_priority(p, scalar(c, pr));
            if (i < 0)
                esc__cc_error(CC, pr.line, pr.col, "unknown priority '%s'",
                              scalar(c, pr));
            else
                r->priority = (uint32_t)i;
        }
        r->tags = get_strs(c, get(c, item, "tags"), "tags", &r->n_tags, NULL,
                           NULL);
        size_t na;
        int *al, *ac;
        const char **acts = get_strs(c, get(c, item, "actions"), "actions",
                                     &na, &al, &ac);
        uint32_t *ai = na ? esc__arena_alloc(MEM, na * sizeof(*ai)) : NULL;
        for (size_t i = 0; i < na; i++) {
            size_t k;
            for (k = 0; k < p->n_actions; k++)
                if (!strcmp(p->actions[k].id, acts[i]))
                    break;
            if (k == p->n_actions)
                esc__cc_error(CC, al[i], ac[i],
                              "unknown action '%s' (declare it under "
                              "actions:)", acts[i]);
            else
                ai[r->n_actions++] = (uint32_t)k;
        }
        r->actions = ai;
        r->level = -1;
        yv lv = get(c, item, "level");
        if (lv.n && expect_scalar(c, lv, "level")) {
            r->level = esc__find_level(p, scalar(c, lv));
            if (r->level < 0)
                esc__cc_error(CC, lv.line, lv.col,
                              "unknown level '%s' (declare it under levels:)",
                              scalar(c, lv));
        }
        r->tmpl = -1;
        yv tm = get(c, item, "template");
        if (tm.n && expect_scalar(c, tm, "template")) {
            for (size_t i = 0; i < c->cc.n_tmpl_ids; i++)
                if (!strcmp(c->cc.tmpl_ids[i], scalar(c, tm)))
                    r->tmpl = (int)i;
            if (r->tmpl < 0)
                esc__cc_error(CC, tm.line, tm.col, "unknown template '%s'",
                              scalar(c, tm));
        }
        r->requires = compile_requires(c, item, &r->n_requires);
        yv reason = get(c, item, "reason");
        if (reason.n)
            r->has_reason = compile_text(c, reason, "reason", 0, &r->reason);
        compile_notify(c, item, id, false, &r->notify, &r->n_notify);
        char why[512];
        if (r->when && esc__cond_never(r->when, why, sizeof(why)))
            esc__cc_error(CC, when.line, when.col,
                          "rule '%s' can never fire: %s", id, why);
        ids[p->n_rules++] = id;
    }
    free(ids);
}

static void compile_suppressions(ctx *c, yv root)
{
    yv v = get(c, root, "suppressions");
    if (!v.n || !need_seq(c, v, "suppressions"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->suppressions = esc__arena_alloc(MEM,
                                       (n ? n : 1) * sizeof(*p->suppressions));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "suppressions", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"id", "description", "when",
                                           "applies_to", "except", "reason",
                                           NULL};
        check_keys(c, item, "a suppression", keys);
        const char *id = get_id(c, item, "suppression", ids,
                                p->n_suppressions);
        if (!id)
            continue;
        esc__suppression *s = &p->suppressions[p->n_suppressions];
        s->id = id;
        s->line = item.line;
        s->col = item.col;
        s->description = get_str(c, item, "description", false, id);
        yv when = get(c, item, "when");
        if (!when.n)
            esc__cc_error(CC, item.line, item.col,
                          "suppression '%s': missing required key 'when'", id);
        else
            s->when = compile_cond(c, when, 0, id);
        yv ex = get(c, item, "except");
        if (ex.n)
            s->except = compile_cond(c, ex, 0, id);
        yv at = get(c, item, "applies_to");
        if (at.n) {
            size_t na;
            int *al, *ac;
            const char **rs = get_strs(c, at, "applies_to", &na, &al, &ac);
            uint32_t *ri = na ? esc__arena_alloc(MEM, na * sizeof(*ri)) : NULL;
            for (size_t i = 0; i < na; i++) {
                size_t k;
                for (k = 0; k < p->n_rules; k++)
                    if (!strcmp(p->rules[k].id, rs[i]))
                        break;
                if (k == p->n_rules)
                    esc__cc_error(CC, al[i], ac[i], "unknown rule '%s'",
                                  rs[i]);
                else
                    ri[s->n_applies_to++] = (uint32_t)k;
            }
            s->applies_to = ri;
            if (!s->n_applies_to)
                s->applies_to = NULL;
            if (!na)
                esc__cc_error(CC, at.line, at.col,
                              "suppression '%s': applies_to is empty", id);
        }
        yv reason = get(c, item, "reason");
        if (reason.n)
            s->has_reason = compile_text(c, reason, "reason", 0, &s->reason);
        char why[512];
        if (s->when && esc__cond_never(s->when, why, sizeof(why)))
            esc__cc_error(CC, when.line, when.col,
                          "suppression '%s' can never hold: %s", id, why);
        /* A suppression that always holds, without exceptions, makes the
         * suppressible rules it covers unreachable. */
        if (s->when && s->when->kind == ESC__C_CONST && s->when->value &&
            !s->except) {
            for (size_t r = 0; r < p->n_rules; r++) {
                const esc__rule *ru = &p->rules[r];
                bool covered = !s->applies_to;
                for (size_t k = 0; k < s->n_applies_to; k++)
                    covered |= s->applies_to[k] == r;
                if (covered && !ru->unsuppressible &&
                    !p->priorities[ru->priority].unsuppressible)
                    esc__cc_error(CC, ru->line, ru->col,
                                  "rule '%s' can never fire: suppression "
                                  "'%s' always holds it back", ru->id, id);
            }
        }
        ids[p->n_suppressions++] = id;
    }
    free(ids);
}

static void compile_templates(ctx *c, yv root)
{
    yv v = get(c, root, "templates");
    if (!v.n || !need_seq(c, v, "templates"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->templates = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->templates));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "templates", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"id", "for", "when", "requires",
                                           "note", "customer", "description",
                                           NULL};
        check_keys(c, item, "a template", keys);
        /* Keep indexes aligned with collect_template_ids even on errors. */
        const char *id = get_id(c, item, "template", ids, p->n_templates);
        esc__template *t = &p->templates[p->n_templates];
        ids[p->n_templates++] = id ? id : "";
        t->id = id ? id : "";
        if (!id)
            continue;
        yv f = get(c, item, "for");
        t->for_teams = team_refs(c, f, "for", &t->n_for, NULL);
        yv when = get(c, item, "when");
        if (when.n)
            t->when = compile_cond(c, when, ESC__CTX_DECISION, id);
        t->requires = compile_requires(c, item, &t->n_requires);
        yv note = get(c, item, "note");
        if (note.n)
            t->has_note = compile_text(c, note, "note", ESC__CTX_DECISION,
                                       &t->note);
        yv cust = get(c, item, "customer");
        if (cust.n && is_scalar(cust)) {
            t->has_default = compile_text(c, cust, "customer",
                                          ESC__CTX_DECISION,
                                          &t->customer_default);
        } else if (cust.n && need_map(c, cust, "customer")) {
            static const char *const ck[] = {"chat", "email", "default", NULL};
            check_keys(c, cust, "customer", ck);
            yv ch = get(c, cust, "chat"), em = get(c, cust, "email"),
               df = get(c, cust, "default");
            if (ch.n)
                t->has_chat = compile_text(c, ch, "customer.chat",
                                           ESC__CTX_DECISION,
                                           &t->customer_chat);
            if (em.n)
                t->has_email = compile_text(c, em, "customer.email",
                                            ESC__CTX_DECISION,
                                            &t->customer_email);
            if (df.n)
                t->has_default = compile_text(c, df, "customer.default",
                                              ESC__CTX_DECISION,
                                              &t->customer_default);
        }
    }
    free(ids);
}

static void compile_advice(ctx *c, yv root)
{
    yv v = get(c, root, "advice");
    if (!v.n || !need_seq(c, v, "advice"))
        return;
    esc_policy *p = c->cc.p;
    size_t n = (size_t)fy_node_sequence_item_count(v.n);
    p->advice = esc__arena_alloc(MEM, (n ? n : 1) * sizeof(*p->advice));
    const char **ids = esc__xcalloc(n ? n : 1, sizeof(*ids));
    yv item;
    FOR_EACH_MAP(c, v, "advice", item)
    {
        map_pos(c, &item);
        static const char *const keys[] = {"id", "when", "text", NULL};
        check_keys(c, item, "an advice", keys);
        const char *id = get_id(c, item, "advice", ids, p->n_advice);
        if (!id)
            continue;
        esc__advice *a = &p->advice[p->n_advice];
        a->id = id;
        yv when = get(c, item, "when");
        if (!when.n)
            esc__cc_error(CC, item.line, item.col,
                          "advice '%s': missing required key 'when'", id);
        else
            a->when = compile_cond(c, when, ESC__CTX_DECISION, id);
        yv text = get(c, item, "text");
        if (!text.n)
            esc__cc_error(CC, item.line, item.col,
                          "advice '%s': missing required key 'text'", id);
        else
            compile_text(c, text, "text", ESC__CTX_DECISION, &a->text);
        ids[p->n_advice++] = id;
    }
    free(ids);
}

/* ---- loading ------------------------------------------------------------- */

static void ignore_output(struct fy_diag *d, void *user, const char *buf,
                          size_t len)
{
    (void)d, (void)user, (void)buf, (void)len;
}

/* YAML is UTF-8: an invalid byte is reported where it stands (and never
 * reaches the YAML parser, which can loop on one inside a directive).
 * Returns false after reporting. */
static bool valid_utf8(esc__cc *cc, const char *data, size_t len)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)data + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (n < 0 || cp == 0) {
            esc__cc_error(cc, line, col,
                          cp == 0 && n > 0 ? "a NUL byte is not allowed in a "
                                             "policy"
                                           : "invalid UTF-8 byte 0x%02x",
                          (unsigned char)data[i]);
            return false;
        }
        if (cp == '\n')
            line++, col = 1;
        else
            col++;
        i += (size_t)n;
    }
    return true;
}

static void policy_free(esc_policy *p)
{
    if (!p)
        return;
    esc__matcher_free(&p->matcher);
    for (size_t i = 0; i < p->n_calendars; i++)
        esc__cal_close(&p->calendars[i].proto);
    esc__arena_free(&p->mem);
    free(p);
}

static void compile_root(ctx *c, yv root)
{
    esc_policy *p = c->cc.p;
    static const char *const keys[] = {
        "escalator", "name", "description", "settings", "fields",
        "customer_tiers", "customer_flags", "levels", "calendars", "teams",
        "priorities",
        "default_priority", "actions", "requires", "signals", "typos",
        "negators", "rules", "suppressions", "templates", "advice", NULL};
    check_keys(c, root, "the policy", keys);
    yv ver = get(c, root, "escalator");
    if (!ver.n)
        esc__cc_error(CC, 1, 1,
                      "missing required key 'escalator' (the format version: "
                      "escalator: 1)");
    else if (!is_scalar(ver) || strcmp(scalar(c, ver), "1"))
        esc__cc_error(CC, ver.line, ver.col,
                      "unsupported format version (expected escalator: 1)");
    p->name = get_str(c, root, "name", true, "the policy");
    if (!p->name)
        p->name = "";
    p->description = get_str(c, root, "description", false, "the policy");

    compile_settings(c, root);
    compile_fields(c, root);
    size_t nt;
    p->tiers = get_strs(c, get(c, root, "customer_tiers"), "customer_tiers",
                        &nt, NULL, NULL);
    p->n_tiers = nt;
    yv fl = get(c, root, "customer_flags");
    if (fl.n) {
        p->flags = get_strs(c, fl, "customer_flags", &nt, NULL, NULL);
        p->n_flags = nt;
    } else {
        static const char *const dflt[] = {"vip", "enterprise", "influencer",
                                           "executive"};
        p->flags = esc__arena_alloc(MEM, sizeof(dflt));
        memcpy(p->flags, dflt, sizeof(dflt));
        p->n_flags = ESC__ARRAY_LEN(dflt);
    }
    compile_levels(c, root);
    compile_calendars(c, root);
    /* Before teams and priorities: their notify entries name templates. */
    collect_template_ids(c, root);
    compile_teams(c, root);
    compile_priorities(c, root);
    compile_actions(c, root);
    size_t nr;
    p->requires = compile_requires(c, root, &nr);
    p->n_requires = nr;

    esc__matcher_builder *mb = esc__mb_new();
    compile_signals(c, root, mb);
    compile_rules(c, root);
    compile_suppressions(c, root);
    compile_templates(c, root);
    compile_advice(c, root);
    if (!esc__cc_error_count(CC)) {
        char err[512];
        if (esc__mb_build(mb, &p->matcher, err, sizeof(err)) < 0)
            esc__cc_error(CC, 0, 0, "cannot compile the phrase matcher: %s",
                          err);
    }
    esc__mb_free(&mb);
}

int esc_policy_load_buffer(const char *name, const char *data, size_t len,
                           esc_policy **out, esc_diags **diags_out)
{
    if (!out || (!data && len))
        return ESC_EINVAL;
    *out = NULL;
    if (diags_out)
        *diags_out = NULL;
    esc_diags *diags = esc__xcalloc(1, sizeof(*diags));
    diags->file = esc__xstrdup(name ? name : "<policy>");
    esc_policy *p = esc__xcalloc(1, sizeof(*p));
    esc__arena_init(&p->mem);
    atomic_init(&p->refs, 1);
    p->file = esc__arena_strndup(&p->mem, diags->file, strlen(diags->file));

    ctx c = {.cc = {.p = p, .file = diags->file, .diags = diags},
             .data = data, .len = len};

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    if (!valid_utf8(&c.cc, data ? data : "", len))
        goto done;
    dcfg.fp = NULL;
    dcfg.output_fn = ignore_output;
    dcfg.colorize = false;
    struct fy_diag *fd = fy_diag_create(&dcfg);
    if (!fd) {
        esc__cc_error(&c.cc, 0, 0, "out of memory");
    } else {
        fy_diag_set_collect_errors(fd, true);
        struct fy_parse_cfg pcfg = {
            .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_RESOLVE_DOCUMENT,
            .diag = fd};
        struct fy_document *doc =
            fy_document_build_from_string(&pcfg, data ? data : "", len);
        if (!doc) {
            void *it = NULL;
            struct fy_diag_error *e;
            size_t before = diags->n;
            while ((e = fy_diag_errors_iterate(fd, &it)))
                esc__cc_error(&c.cc, e->line, e->column, "invalid YAML: %s",
                              e->msg);
            if (diags->n == before)
                esc__cc_error(&c.cc, 0, 0, "invalid YAML");
        } else {
            struct fy_node *rn = fy_document_root(doc);
            yv root = yv_of(&c, rn, 1, 1);
            if (!rn || !is_map(root))
                esc__cc_error(&c.cc, 1, 1,
                              "a policy must be a YAML mapping (escalator: 1, "
                              "name: ..., teams: ...)");
            else
                compile_root(&c, root);
            fy_document_destroy(doc);
        }
        fy_diag_destroy(fd);
    }

done:;
    int rc = 0;
    if (diags->n) {
        qsort(diags->items, diags->n, sizeof(*diags->items), diag_cmp);
        policy_free(p);
        rc = ESC_EPOLICY;
    } else {
        *out = p;
    }
    if (diags_out)
        *diags_out = diags;
    else
        esc_diags_free(&diags);
    return rc;
}

int esc_policy_load_file(const char *path, esc_policy **out,
                         esc_diags **diags_out)
{
    if (!path || !out)
        return ESC_EINVAL;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    esc__sb sb;
    esc__sb_init(&sb);
    int err = 0;
    if (!f) {
        err = errno;
    } else {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            esc__sb_put(&sb, buf, n);
        if (ferror(f))
            err = errno ? errno : EIO;
        fclose(f);
    }
    if (err) {
        esc__sb_free(&sb);
        if (diags_out) {
            esc_diags *d = esc__xcalloc(1, sizeof(*d));
            d->file = esc__xstrdup(path);
            char msg[512];
            snprintf(msg, sizeof(msg), "cannot read the policy: %s",
                     strerror(err));
            diag_add(d, 0, 0, msg);
            *diags_out = d;
        }
        return ESC_EIO;
    }
    int rc = esc_policy_load_buffer(path, sb.buf ? sb.buf : "", sb.len, out,
                                    diags_out);
    esc__sb_free(&sb);
    return rc;
}

esc_policy *esc_policy_ref(esc_policy *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void esc_policy_unref(esc_policy **pp)
{
    if (!pp || !*pp)
        return;
    esc_policy *p = *pp;
    *pp = NULL;
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        policy_free(p);
}

const char *esc_policy_name(const esc_policy *p)
{
    return p ? p->name : NULL;
}

size_t esc_policy_count(const esc_policy *p, esc_item_kind kind)
{
    if (!p)
        return 0;
    switch (kind) {
    case ESC_ITEM_RULE: return p->n_rules;
    case ESC_ITEM_SIGNAL: return p->n_signals;
    case ESC_ITEM_SUPPRESSION: return p->n_suppressions;
    case ESC_ITEM_TEAM: return p->n_teams;
    case ESC_ITEM_PRIORITY: return p->n_priorities;
    }
    return 0;
}

const char *esc_policy_item(const esc_policy *p, esc_item_kind kind, size_t i)
{
    if (!p || i >= esc_policy_count(p, kind))
        return NULL;
    switch (kind) {
    case ESC_ITEM_RULE: return p->rules[i].id;
    case ESC_ITEM_SIGNAL: return p->signals[i].id;
    case ESC_ITEM_SUPPRESSION: return p->suppressions[i].id;
    case ESC_ITEM_TEAM: return p->teams[i].id;
    case ESC_ITEM_PRIORITY: return p->priorities[i].id;
    }
    return NULL;
}

/* The two business-time entry points share this: a calendar clone per call,
 * as ICU calendars may not be shared between threads. */
static int business_time(const esc_policy *p, const char *calendar,
                         int64_t a, int64_t b, bool between, int64_t *out)
{
    if (!p || !out || (!between && b < 0))
        return ESC_EINVAL;
    if (!calendar || !*calendar) {
        *out = between ? (b > a ? b - a : 0) : a + b;
        return ESC_OK;
    }
    int i = find_calendar(p, calendar);
    if (i < 0)
        return ESC_EINVAL;
    const esc__calendar *c = &p->calendars[i];
    esc__ucal *uc = esc__cal_clone(c->proto);
    if (!uc)
        return ESC_ENOMEM;
    *out = between ? esc__cal_between(c, uc, a, b) : esc__cal_add(c, uc, a, b);
    esc__cal_close(&uc);
    return ESC_OK;
}

int esc_policy_time_add(const esc_policy *p, const char *calendar,
                        int64_t start, int64_t secs, int64_t *out)
{
    return business_time(p, calendar, start, secs, false, out);
}

int esc_policy_time_between(const esc_policy *p, const char *calendar,
                            int64_t from, int64_t to, int64_t *out)
{
    return business_time(p, calendar, from, to, true, out);
}
