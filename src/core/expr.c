/*
 * expr.c - the condition expression language: tokens, a recursive-descent
 * parser, name resolution and type checking, and the static "can never
 * hold" analysis used to report rules that can never fire.
 *
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' or ')' | compare
 *   compare := operand [op operand]
 *   op      := == != < <= > >= in has contains
 *   operand := path | number | duration | string | true | false | null | list
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile.h"
#include "ticket.h"

typedef enum {
    TK_END,
    TK_WORD,   /* identifier or path */
    TK_NUM,
    TK_DUR,
    TK_STR,
    TK_OP,     /* comparison operator, see op */
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_COMMA,
    TK_BAD
} tk_kind;

typedef struct tok {
    tk_kind kind;
    esc__op op;
    const char *start;
    size_t len;
    double num;
    int64_t dur;
    char *str;         /* TK_STR, TK_WORD: arena copy */
} tok;

typedef struct parser {
    esc__cc *cc;
    const char *src;
    const char *pos;
    int line, col;     /* of src[0] */
    unsigned ctx;
    tok t;             /* current token */
    bool failed;
} parser;

static int col_of(const parser *ps, const char *at)
{
    return ps->col + (int)(at - ps->src);
}

static void perr(parser *ps, const char *at, const char *fmt, const char *arg)
{
    if (ps->failed)
        return;
    ps->failed = true;
    esc__cc_error(ps->cc, ps->line, col_of(ps, at), fmt, arg);
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static void next(parser *ps)
{
    const char *s = ps->pos;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    tok *t = &ps->t;
    memset(t, 0, sizeof(*t));
    t->start = s;
    if (!*s) {
        t->kind = TK_END;
        ps->pos = s;
        return;
    }
    char c = *s;
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') {
        t->kind = c == '(' ? TK_LPAREN : c == ')' ? TK_RPAREN
                : c == '[' ? TK_LBRACK : c == ']' ? TK_RBRACK : TK_COMMA;
        t->len = 1;
        ps->pos = s + 1;
        return;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
        t->kind = TK_OP;
        if (s[1] == '=') {
            t->op = c == '=' ? ESC__OP_EQ : c == '!' ? ESC__OP_NE
                  : c == '<' ? ESC__OP_LE : ESC__OP_GE;
            t->len = 2;
        } else if (c == '<' || c == '>') {
            t->op = c == '<' ? ESC__OP_LT : ESC__OP_GT;
            t->len = 1;
        } else {
            t->kind = TK_BAD;
            t->len = 1;
        }
        ps->pos = s + t->len;
        return;
    }
    if (c == '"' || c == '\'') {
        const char *e = s + 1;
        esc__sb sb;
        esc__sb_init(&sb);
        while (*e && *e != c) {
            if (*e == '\\' && c == '"' && e[1]) {
                e++;
                esc__sb_putc(&sb, *e == 'n' ? '\n' : *e == 't' ? '\t' : *e);
            } else {
                esc__sb_putc(&sb, *e);
            }
            e++;
        }
        if (*e != c) {
            esc__sb_free(&sb);
            t->kind = TK_BAD;
            t->len = (size_t)(e - s);
            ps->pos = e;
            perr(ps, s, "unterminated string%s", "");
            return;
        }
        t->kind = TK_STR;
        t->str = esc__arena_strndup(&ps->cc->p->mem, sb.buf ? sb.buf : "",
                                    sb.len);
        esc__sb_free(&sb);
        t->len = (size_t)(e + 1 - s);
        ps->pos = e + 1;
        return;
    }
    if (isdigit((unsigned char)c) ||
        (c == '-' && isdigit((unsigned char)s[1]))) {
        const char *e = s + 1;
        while (isalnum((unsigned char)*e) || *e == '.')
            e++;
        t->len = (size_t)(e - s);
        char buf[64];
        if (t->len >= sizeof(buf)) {
            t->kind = TK_BAD;
            ps->pos = e;
            perr(ps, s, "number too long%s", "");
            return;
        }
        memcpy(buf, s, t->len);
        buf[t->len] = 0;
        char *end;
        double v = strtod(buf, &end);
        if (*end == 0 && isfinite(v)) {
            t->kind = TK_NUM;
            t->num = v;
        } else if (esc__duration_parse(buf, &t->dur) == 0) {
            t->kind = TK_DUR;
        } else {
            t->kind = TK_BAD;
            perr(ps, s, "'%s' is neither a number nor a duration "
                        "(durations: 30s, 15m, 4h, 3d, 2w, 1h30m)", buf);
        }
        ps->pos = e;
        return;
    }
    if (word_char(c)) {
        const char *e = s;
        while (word_char(*e))
            e++;
        t->len = (size_t)(e - s);
        ps->pos = e;
        t->str = esc__arena_strndup(&ps->cc->p->mem, s, t->len);
        if (!strcmp(t->str, "and"))
            t->kind = TK_AND;
        else if (!strcmp(t->str, "or"))
            t->kind = TK_OR;
        else if (!strcmp(t->str, "not"))
            t->kind = TK_NOT;
        else if (!strcmp(t->str, "in"))
            t->kind = TK_OP, t->op = ESC__OP_IN;
        else if (!strcmp(t->str, "has"))
            t->kind = TK_OP, t->op = ESC__OP_HAS;
        else if (!strcmp(t->str, "contains"))
            t->kind = TK_OP, t->op = ESC__OP_CONTAINS;
        else
            t->kind = TK_WORD;
        return;
    }
    t->kind = TK_BAD;
    t->len = 1;
    ps->pos = s + 1;
    char what[8] = {c, 0};
    perr(ps, s, "unexpected character '%s'", what);
}

static esc__cond *new_cond(parser *ps, esc__cond_kind kind, const char *at)
{
    esc__cond *c = esc__arena_alloc(&ps->cc->p->mem, sizeof(*c));
    c->kind = kind;
    c->line = ps->line;
    c->col = col_of(ps, at);
    return c;
}

static void set_src(parser *ps, esc__cond *c, const char *from, const char *to)
{
    while (to > from && isspace((unsigned char)to[-1]))
        to--;
    c->src = esc__arena_strndup(&ps->cc->p->mem, from, (size_t)(to - from));
}

/* ---- names ------------------------------------------------------------ */

int esc__find_team(const esc_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_teams; i++)
        if (!strcmp(p->teams[i].id, id))
            return (int)i;
    return -1;
}

int esc__find_priority(const esc_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_priorities; i++)
        if (!strcmp(p->priorities[i].id, id))
            return (int)i;
    return -1;
}

int esc__find_level(const esc_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_levels; i++)
        if (!strcmp(p->levels[i].id, id))
            return (int)i;
    return -1;
}

int esc__find_signal(const esc_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_signals; i++)
        if (!strcmp(p->signals[i].id, id))
            return (int)i;
    return -1;
}

int esc__find_field(const esc_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_fields; i++)
        if (!strcmp(p->fields[i].name, name))
            return (int)i;
    return -1;
}

int esc__find_setting(const esc_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_settings; i++)
        if (!strcmp(p->settings[i].name, name))
            return (int)i;
    return -1;
}

static const char *const fact_names[ESC__FACT_COUNT] = {
    [ESC__FACT_AGE] = "age",
    [ESC__FACT_SINCE_CUSTOMER] = "since_customer",
    [ESC__FACT_SINCE_REPLY] = "since_reply",
    [ESC__FACT_CUSTOMER_GAP] = "customer_gap",
    [ESC__FACT_CUSTOMER_MESSAGES] = "customer_messages",
    [ESC__FACT_REPLIES] = "replies",
    [ESC__FACT_REPEATS] = "repeats",
    [ESC__FACT_TROUBLESHOOTING_STEPS] = "troubleshooting_steps",
    [ESC__FACT_SENTIMENT] = "sentiment",
    [ESC__FACT_BUSINESS_HOURS] = "business_hours",
};

static const esc__type fact_types[ESC__FACT_COUNT] = {
    [ESC__FACT_AGE] = ESC__T_DUR,
    [ESC__FACT_SINCE_CUSTOMER] = ESC__T_DUR,
    [ESC__FACT_SINCE_REPLY] = ESC__T_DUR,
    [ESC__FACT_CUSTOMER_GAP] = ESC__T_DUR,
    [ESC__FACT_CUSTOMER_MESSAGES] = ESC__T_NUM,
    [ESC__FACT_REPLIES] = ESC__T_NUM,
    [ESC__FACT_REPEATS] = ESC__T_NUM,
    [ESC__FACT_TROUBLESHOOTING_STEPS] = ESC__T_NUM,
    [ESC__FACT_SENTIMENT] = ESC__T_STR,
    [ESC__FACT_BUSINESS_HOURS] = ESC__T_BOOL,
};

const char *esc__fact_name(esc__fact f)
{
    return f < ESC__FACT_COUNT ? fact_names[f] : "?";
}

const char *esc__type_name(esc__type t)
{
    switch (t) {
    case ESC__T_NULL: return "null";
    case ESC__T_BOOL: return "boolean";
    case ESC__T_NUM: return "number";
    case ESC__T_DUR: return "duration";
    case ESC__T_STR: return "string";
    case ESC__T_LIST: return "list";
    case ESC__T_TIME: return "time";
    case ESC__T_ANY: return "any";
    }
    return "?";
}

const char *esc__op_text(esc__op op)
{
    static const char *const t[] = {"==", "!=", "<", "<=", ">", ">=",
                                    "in", "has", "contains"};
    return t[op];
}

int esc__operand_resolve(esc__cc *cc, const char *path, int line, int col,
                         unsigned ctx, esc__operand *out)
{
    esc_policy *p = cc->p;
    memset(out, 0, sizeof(*out));
    out->text = esc__arena_strndup(&p->mem, path, strlen(path));
    static const struct {
        const char *name;
        esc__opd_kind kind;
        esc__type type;
    } simple[] = {
        {"channel", ESC__OPD_CHANNEL, ESC__T_STR},
        {"status", ESC__OPD_STATUS, ESC__T_STR},
        {"level", ESC__OPD_LEVEL, ESC__T_STR},
        {"subject", ESC__OPD_SUBJECT, ESC__T_STR},
        {"customer.tier", ESC__OPD_CUSTOMER_TIER, ESC__T_STR},
        {"customer.id", ESC__OPD_CUSTOMER_ID, ESC__T_STR},
        {"customer.email", ESC__OPD_CUSTOMER_EMAIL, ESC__T_STR},
        {"customer.name", ESC__OPD_CUSTOMER_NAME, ESC__T_STR},
        {"customer.flags", ESC__OPD_CUSTOMER_FLAGS, ESC__T_LIST},
        {"customer.tenure", ESC__OPD_CUSTOMER_TENURE, ESC__T_DUR},
    };
    for (size_t i = 0; i < ESC__ARRAY_LEN(simple); i++)
        if (!strcmp(path, simple[i].name)) {
            out->kind = simple[i].kind;
            out->type = simple[i].type;
            return 0;
        }
    if (!strncmp(path, "decision.", 9)) {
        if (!(ctx & ESC__CTX_DECISION)) {
            esc__cc_error(cc, line, col,
                          "'%s' can only be used in templates and advice",
                          path);
            return -1;
        }
        const char *k = path + 9;
        if (!strcmp(k, "escalate"))
            out->kind = ESC__OPD_DECISION_ESCALATE, out->type = ESC__T_BOOL;
        else if (!strcmp(k, "priority"))
            out->kind = ESC__OPD_DECISION_PRIORITY, out->type = ESC__T_STR;
        else if (!strcmp(k, "targets"))
            out->kind = ESC__OPD_DECISION_TARGETS, out->type = ESC__T_LIST;
        else {
            esc__cc_error(cc, line, col,
                          "unknown name '%s' (expected decision.escalate, "
                          "decision.priority or decision.targets)", path);
            return -1;
        }
        return 0;
    }
    if (!strncmp(path, "fields.", 7)) {
        int i = esc__find_field(p, path + 7);
        if (i < 0) {
            esc__cc_error(cc, line, col,
                          "unknown field '%s' (declare it under fields:)",
                          path + 7);
            return -1;
        }
        out->kind = ESC__OPD_FIELD;
        out->index = (uint32_t)i;
        out->type = p->fields[i].type;
        return 0;
    }
    if (!strncmp(path, "settings.", 9)) {
        int i = esc__find_setting(p, path + 9);
        if (i < 0) {
            esc__cc_error(cc, line, col,
                          "unknown setting '%s' (declare it under settings:)",
                          path + 9);
            return -1;
        }
        out->kind = ESC__OPD_CONST;
        out->k = p->settings[i].value;
        out->type = out->k.t;
        return 0;
    }
    if (!strncmp(path, "facts.", 6)) {
        for (int f = 0; f < ESC__FACT_COUNT; f++)
            if (!strcmp(path + 6, fact_names[f])) {
                out->kind = ESC__OPD_FACT;
                out->index = (uint32_t)f;
                out->type = fact_types[f];
                if (f == ESC__FACT_REPEATS)
                    p->uses_repeats = true;
                if (f == ESC__FACT_BUSINESS_HOURS && !p->n_calendars) {
                    esc__cc_error(cc, line, col,
                                  "facts.business_hours needs a calendar "
                                  "(declare one under calendars:)");
                    return -1;
                }
                return 0;
            }
        esc__cc_error(cc, line, col,
                      "unknown fact '%s' (expected age, since_customer, "
                      "since_reply, customer_gap, customer_messages, replies, "
                      "repeats, troubleshooting_steps, sentiment or "
                      "business_hours)",
                      path + 6);
        return -1;
    }
    if (!strncmp(path, "signals.", 8)) {
        char name[128];
        snprintf(name, sizeof(name), "%s", path + 8);
        bool hits = false;
        char *dot = strrchr(name, '.');
        if (dot && !strcmp(dot, ".hits")) {
            *dot = 0;
            hits = true;
        }
        int i = esc__find_signal(p, name);
        if (i < 0) {
            esc__cc_error(cc, line, col, "unknown signal '%s'", name);
            return -1;
        }
        out->kind = hits ? ESC__OPD_SIGNAL_HITS : ESC__OPD_SIGNAL;
        out->type = hits ? ESC__T_NUM : ESC__T_BOOL;
        out->index = (uint32_t)i;
        return 0;
    }
    esc__cc_error(cc, line, col,
                  "unknown name '%s' (expected fields.*, customer.*, "
                  "signals.*, facts.*, settings.*, channel, status, level "
                  "or subject)", path);
    return -1;
}

static bool in_list(const char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], v))
            return true;
    return false;
}

static void join_names(esc__sb *sb, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_puts(sb, i + 1 == n ? " or " : ", ");
        esc__sb_puts(sb, list[i]);
    }
}

int esc__operand_check_value(esc__cc *cc, const esc__operand *opd,
                             const char *value, int line, int col)
{
    esc_policy *p = cc->p;
    esc__sb sb;
    esc__sb_init(&sb);
    int rc = 0;
    switch (opd->kind) {
    case ESC__OPD_CHANNEL:
        if (esc__channel_from_name(value) < 0) {
            const char *names[ESC__CH_COUNT];
            for (int i = 0; i < ESC__CH_COUNT; i++)
                names[i] = esc__channel_name((esc__channel)i);
            join_names(&sb, names, ESC__CH_COUNT);
            esc__cc_error(cc, line, col, "unknown channel '%s' (expected %s)",
                          value, sb.buf);
            rc = -1;
        }
        break;
    case ESC__OPD_STATUS:
        if (esc__status_from_name(value) < 0) {
            const char *names[ESC__ST_COUNT];
            for (int i = 0; i < ESC__ST_COUNT; i++)
                names[i] = esc__status_name((esc__status)i);
            join_names(&sb, names, ESC__ST_COUNT);
            esc__cc_error(cc, line, col, "unknown status '%s' (expected %s)",
                          value, sb.buf);
            rc = -1;
        }
        break;
    case ESC__OPD_LEVEL:
        if (esc__find_level(p, value) < 0 && esc__find_team(p, value) < 0) {
            esc__cc_error(cc, line, col,
                          "unknown level '%s' (not a level or team id)",
                          value);
            rc = -1;
        }
        break;
    case ESC__OPD_CUSTOMER_TIER:
        if (p->n_tiers && !in_list(p->tiers, p->n_tiers, value)) {
            join_names(&sb, p->tiers, p->n_tiers);
            esc__cc_error(cc, line, col,
                          "unknown customer tier '%s' (expected %s)", value,
                          sb.buf);
            rc = -1;
        }
        break;
    case ESC__OPD_CUSTOMER_FLAGS:
        if (p->n_flags && !in_list(p->flags, p->n_flags, value)) {
            join_names(&sb, p->flags, p->n_flags);
            esc__cc_error(cc, line, col,
                          "unknown customer flag '%s' (expected %s)", value,
                          sb.buf);
            rc = -1;
        }
        break;
    case ESC__OPD_FIELD: {
        const esc__field *f = &p->fields[opd->index];
        if (f->n_values && !in_list(f->values, f->n_values, value)) {
            join_names(&sb, f->values, f->n_values);
            esc__cc_error(cc, line, col,
                          "'%s' is not a value of fields.%s (expected %s)",
                          value, f->name, sb.buf);
            rc = -1;
        }
        break;
    }
    case ESC__OPD_DECISION_PRIORITY:
        if (esc__find_priority(p, value) < 0) {
            esc__cc_error(cc, line, col, "unknown priority '%s'", value);
            rc = -1;
        }
        break;
    case ESC__OPD_DECISION_TARGETS:
        if (esc__find_team(p, value) < 0) {
            esc__cc_error(cc, line, col, "unknown team '%s'", value);
            rc = -1;
        }
        break;
    default:
        break;
    }
    esc__sb_free(&sb);
    return rc;
}

/* ---- parser ---------------------------------------------------------- */

static esc__cond *parse_or(parser *ps);

static bool is_path_word(const char *w)
{
    static const char *const roots[] = {"fields.", "customer.", "signals.",
                                        "facts.", "settings.", "decision."};
    for (size_t i = 0; i < ESC__ARRAY_LEN(roots); i++)
        if (!strncmp(w, roots[i], strlen(roots[i])))
            return true;
    return !strcmp(w, "channel") || !strcmp(w, "status") ||
           !strcmp(w, "level") || !strcmp(w, "subject");
}

/* Parses one operand. `rhs`: a bare word that is not a path is a string. */
static int parse_operand(parser *ps, bool rhs, esc__operand *out)
{
    tok *t = &ps->t;
    memset(out, 0, sizeof(*out));
    out->kind = ESC__OPD_CONST;
    const char *at = t->start;
    switch (t->kind) {
    case TK_NUM:
        out->k.t = out->type = ESC__T_NUM;
        out->k.n = t->num;
        break;
    case TK_DUR:
        out->k.t = out->type = ESC__T_DUR;
        out->k.d = t->dur;
        break;
    case TK_STR:
        out->k.t = out->type = ESC__T_STR;
        out->k.s = t->str;
        break;
    case TK_WORD:
        if (!strcmp(t->str, "true") || !strcmp(t->str, "false")) {
            out->k.t = out->type = ESC__T_BOOL;
            out->k.b = t->str[0] == 't';
        } else if (!strcmp(t->str, "null")) {
            out->k.t = out->type = ESC__T_NULL;
        } else if (is_path_word(t->str) || !rhs) {
            if (esc__operand_resolve(ps->cc, t->str, ps->line, col_of(ps, at),
                                     ps->ctx, out) < 0) {
                ps->failed = true;
                return -1;
            }
        } else {
            out->k.t = out->type = ESC__T_STR;
            out->k.s = t->str;
        }
        break;
    case TK_LBRACK: {
        const char **items = NULL;
        size_t n = 0, cap = 0;
        next(ps);
        while (t->kind != TK_RBRACK) {
            if (t->kind != TK_WORD && t->kind != TK_STR) {
                free(items);
                perr(ps, t->start, "expected a string in the list%s", "");
                return -1;
            }
            ESC__PUSH(items, n, cap, (const char *)t->str);
            next(ps);
            if (t->kind == TK_COMMA)
                next(ps);
            else if (t->kind != TK_RBRACK) {
                free(items);
                perr(ps, t->start, "expected ',' or ']'%s", "");
                return -1;
            }
        }
        const char **copy = esc__arena_alloc(&ps->cc->p->mem,
                                             (n ? n : 1) * sizeof(*copy));
        if (n)
            memcpy(copy, items, n * sizeof(*copy));
        free(items);
        out->k.t = out->type = ESC__T_LIST;
        out->k.items = copy;
        out->k.n_items = n;
        break;
    }
    case TK_END:
        perr(ps, t->start, "expected a value at the end of the condition%s",
             "");
        return -1;
    default:
        perr(ps, t->start, "expected a value%s", "");
        return -1;
    }
    if (out->kind == ESC__OPD_CONST && !out->text)
        out->text = esc__arena_strndup(&ps->cc->p->mem, at,
                                       (size_t)(ps->pos - at));
    next(ps);
    return 0;
}

static bool comparable(esc__type a, esc__type b)
{
    return a == b || a == ESC__T_NULL || b == ESC__T_NULL;
}

static int check_cmp(parser *ps, esc__cond *c, const char *at_b)
{
    esc__operand *a = &c->a, *b = &c->b;
    int bcol = col_of(ps, at_b);
    char msg[256];
    switch (c->op) {
    case ESC__OP_EQ:
    case ESC__OP_NE:
        if (!comparable(a->type, b->type)) {
            snprintf(msg, sizeof(msg), "cannot compare %s (%s) with %s (%s)",
                     a->text, esc__type_name(a->type), b->text,
                     esc__type_name(b->type));
            esc__cc_error(ps->cc, ps->line, c->col, "%s", msg);
            return -1;
        }
        if (b->kind == ESC__OPD_CONST && b->k.t == ESC__T_STR)
            return esc__operand_check_value(ps->cc, a, b->k.s, ps->line,
                                            bcol);
        return 0;
    case ESC__OP_LT:
    case ESC__OP_LE:
    case ESC__OP_GT:
    case ESC__OP_GE:
        if (a->type != b->type ||
            (a->type != ESC__T_NUM && a->type != ESC__T_DUR &&
             a->type != ESC__T_TIME)) {
            snprintf(msg, sizeof(msg),
                     "cannot order %s (%s) against %s (%s): '%s' compares "
                     "numbers with numbers or durations with durations",
                     a->text, esc__type_name(a->type), b->text,
                     esc__type_name(b->type), esc__op_text(c->op));
            esc__cc_error(ps->cc, ps->line, c->col, "%s", msg);
            return -1;
        }
        return 0;
    case ESC__OP_IN:
        if (b->type != ESC__T_LIST || a->type != ESC__T_STR) {
            snprintf(msg, sizeof(msg),
                     "'in' needs a string on the left and a list on the "
                     "right, not %s and %s", esc__type_name(a->type),
                     esc__type_name(b->type));
            esc__cc_error(ps->cc, ps->line, c->col, "%s", msg);
            return -1;
        }
        if (b->kind == ESC__OPD_CONST)
            for (size_t i = 0; i < b->k.n_items; i++)
                if (esc__operand_check_value(ps->cc, a, b->k.items[i],
                                             ps->line, bcol) < 0)
                    return -1;
        return 0;
    case ESC__OP_HAS:
        if (a->type != ESC__T_LIST || b->type != ESC__T_STR) {
            snprintf(msg, sizeof(msg),
                     "'has' needs a list on the left and a string on the "
                     "right, not %s and %s", esc__type_name(a->type),
                     esc__type_name(b->type));
            esc__cc_error(ps->cc, ps->line, c->col, "%s", msg);
            return -1;
        }
        if (b->kind == ESC__OPD_CONST)
            return esc__operand_check_value(ps->cc, a, b->k.s, ps->line,
                                            bcol);
        return 0;
    case ESC__OP_CONTAINS:
        if (a->type != ESC__T_STR || b->type != ESC__T_STR) {
            snprintf(msg, sizeof(msg),
                     "'contains' needs strings on both sides, not %s and %s",
                     esc__type_name(a->type), esc__type_name(b->type));
            esc__cc_error(ps->cc, ps->line, c->col, "%s", msg);
            return -1;
        }
        return 0;
    }
    return 0;
}

static esc__cond *parse_unary(parser *ps)
{
    tok *t = &ps->t;
    const char *at = t->start;
    if (t->kind == TK_NOT) {
        next(ps);
        esc__cond *kid = parse_unary(ps);
        if (!kid)
            return NULL;
        esc__cond *c = new_cond(ps, ESC__C_NOT, at);
        c->kids = esc__arena_alloc(&ps->cc->p->mem, sizeof(*c->kids));
        c->kids[0] = kid;
        c->n_kids = 1;
        set_src(ps, c, at, t->start);
        return c;
    }
    if (t->kind == TK_LPAREN) {
        next(ps);
        esc__cond *c = parse_or(ps);
        if (!c)
            return NULL;
        if (t->kind != TK_RPAREN) {
            perr(ps, t->start, "expected ')'%s", "");
            return NULL;
        }
        next(ps);
        return c;
    }
    esc__cond *c = new_cond(ps, ESC__C_TRUTH, at);
    if (parse_operand(ps, false, &c->a) < 0)
        return NULL;
    if (t->kind == TK_OP) {
        c->kind = ESC__C_CMP;
        c->op = t->op;
        next(ps);
        const char *at_b = t->start;
        if (parse_operand(ps, true, &c->b) < 0)
            return NULL;
        set_src(ps, c, at, t->start);
        if (check_cmp(ps, c, at_b) < 0) {
            ps->failed = true;
            return NULL;
        }
        return c;
    }
    if (t->kind == TK_BAD)
        return NULL;
    set_src(ps, c, at, t->start);
    if (c->a.kind == ESC__OPD_CONST && c->a.k.t == ESC__T_BOOL) {
        c->kind = ESC__C_CONST;
        c->value = c->a.k.b;
    }
    return c;
}

static esc__cond *parse_chain(parser *ps, tk_kind sep, esc__cond_kind kind,
                              esc__cond *(*sub)(parser *))
{
    tok *t = &ps->t;
    const char *at = t->start;
    esc__cond *first = sub(ps);
    if (!first || t->kind != sep)
        return first;
    esc__cond **kids = NULL;
    size_t n = 0, cap = 0;
    ESC__PUSH(kids, n, cap, first);
    while (t->kind == sep) {
        next(ps);
        esc__cond *k = sub(ps);
        if (!k) {
            free(kids);
            return NULL;
        }
        ESC__PUSH(kids, n, cap, k);
    }
    esc__cond *c = new_cond(ps, kind, at);
    c->kids = esc__arena_alloc(&ps->cc->p->mem, n * sizeof(*kids));
    memcpy(c->kids, kids, n * sizeof(*kids));
    c->n_kids = n;
    free(kids);
    set_src(ps, c, at, t->start);
    return c;
}

static esc__cond *parse_and(parser *ps)
{
    return parse_chain(ps, TK_AND, ESC__C_AND, parse_unary);
}

static esc__cond *parse_or(parser *ps)
{
    return parse_chain(ps, TK_OR, ESC__C_OR, parse_and);
}

esc__cond *esc__expr_parse(esc__cc *cc, const char *src, int line, int col,
                           unsigned ctx)
{
    parser ps = {.cc = cc, .src = src, .pos = src, .line = line, .col = col,
                 .ctx = ctx};
    next(&ps);
    if (ps.t.kind == TK_END) {
        esc__cc_error(cc, line, col, "empty condition");
        return NULL;
    }
    esc__cond *c = parse_or(&ps);
    if (c && !ps.failed && ps.t.kind != TK_END) {
        const char *at = ps.t.start;
        char near[32];
        snprintf(near, sizeof(near), "%.*s", (int)ps.t.len, at);
        perr(&ps, at, "unexpected '%s' (expected and, or, or the end of the "
                      "condition)", near);
        return NULL;
    }
    return ps.failed ? NULL : c;
}

/* ---- can a condition ever hold? ----------------------------------------- */

/* Interval of allowed values for one numeric operand in a conjunction. */
typedef struct bound {
    const esc__operand *opd;
    double lo, hi;
    bool lo_open, hi_open;
    const char *eq;       /* required string value, or NULL */
    const char *src;
} bound;

static bool same_operand(const esc__operand *a, const esc__operand *b)
{
    return a->kind == b->kind && a->kind != ESC__OPD_CONST &&
           a->index == b->index;
}

static double const_num(const esc__operand *o)
{
    return o->k.t == ESC__T_DUR || o->k.t == ESC__T_TIME ? (double)o->k.d
                                                         : o->k.n;
}

/* Collects the leaves of an AND chain (nested ANDs flattened). */
static void and_leaves(const esc__cond *c, const esc__cond ***out, size_t *n,
                       size_t *cap)
{
    if (c->kind == ESC__C_AND) {
        for (size_t i = 0; i < c->n_kids; i++)
            and_leaves(c->kids[i], out, n, cap);
        return;
    }
    ESC__PUSH(*out, *n, *cap, c);
}

bool esc__cond_never(const esc__cond *c, char *why, size_t size)
{
    if (!c)
        return false;
    if (c->kind == ESC__C_CONST && !c->value) {
        snprintf(why, size, "its condition is always false");
        return true;
    }
    if (c->kind == ESC__C_OR) {
        for (size_t i = 0; i < c->n_kids; i++)
            if (!esc__cond_never(c->kids[i], why, size))
                return false;
        return c->n_kids > 0;
    }
    if (c->kind != ESC__C_AND)
        return false;
    const esc__cond **leaves = NULL;
    size_t n = 0, cap = 0;
    and_leaves(c, &leaves, &n, &cap);
    bound *b = esc__xcalloc(n ? n : 1, sizeof(*b));
    size_t nb = 0;
    bool never = false;
    for (size_t i = 0; i < n && !never; i++) {
        const esc__cond *l = leaves[i];
        if (esc__cond_never(l, why, size)) {
            never = true;
            break;
        }
        if (l->kind != ESC__C_CMP || l->a.kind == ESC__OPD_CONST ||
            l->b.kind != ESC__OPD_CONST)
            continue;
        bound *cur = NULL;
        for (size_t j = 0; j < nb; j++)
            if (same_operand(b[j].opd, &l->a))
                cur = &b[j];
        if (!cur) {
            cur = &b[nb++];
            cur->opd = &l->a;
            cur->lo = -INFINITY;
            cur->hi = INFINITY;
        }
        if (l->b.k.t == ESC__T_STR && l->op == ESC__OP_EQ) {
            if (cur->eq && strcmp(cur->eq, l->b.k.s)) {
                snprintf(why, size, "'%s' and '%s' cannot both hold",
                         cur->src, l->src);
                never = true;
            }
            cur->eq = l->b.k.s;
            cur->src = l->src;
            continue;
        }
        if (l->b.k.t != ESC__T_NUM && l->b.k.t != ESC__T_DUR &&
            l->b.k.t != ESC__T_TIME)
            continue;
        double v = const_num(&l->b);
        switch (l->op) {
        case ESC__OP_GT:
            if (v > cur->lo || (v == cur->lo && !cur->lo_open))
                cur->lo = v, cur->lo_open = true;
            break;
        case ESC__OP_GE:
            if (v > cur->lo)
                cur->lo = v, cur->lo_open = false;
            break;
        case ESC__OP_LT:
            if (v < cur->hi || (v == cur->hi && !cur->hi_open))
                cur->hi = v, cur->hi_open = true;
            break;
        case ESC__OP_LE:
            if (v < cur->hi)
                cur->hi = v, cur->hi_open = false;
            break;
        case ESC__OP_EQ:
            if (v > cur->lo || (v == cur->lo && !cur->lo_open))
                cur->lo = v, cur->lo_open = false;
            if (v < cur->hi || (v == cur->hi && !cur->hi_open))
                cur->hi = v, cur->hi_open = false;
            break;
        default:
            continue;
        }
        if (cur->lo > cur->hi ||
            (cur->lo == cur->hi && (cur->lo_open || cur->hi_open))) {
            snprintf(why, size, "no value of %s satisfies all of its "
                                "comparisons (last: '%s')",
                     cur->opd->text, l->src);
            never = true;
        }
        cur->src = l->src;
    }
    free(b);
    free(leaves);
    return never;
}
