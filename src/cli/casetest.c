/*
 * casetest.c - `escalator test`: runs a policy's example cases.
 *
 * A cases file (YAML) lists tickets with the time to decide them at and what
 * the decision must say:
 *
 *     now: 2026-11-23T12:00:00Z          # optional default for every case
 *     cases:
 *       - name: "port-in rejected four times goes to the carrier"
 *         now: 2026-11-23T12:00:00Z
 *         ticket: { id: T-1, channel: chat, ... }
 *         expect: { escalate: true, targets: [carrier], ... }
 *
 * Each case is evaluated with ESC_EVAL_EXPLAIN and its decision JSON is
 * compared with `expect`, field by field, as expect_fields[] below says. The
 * "explain" object of the decisions also gives coverage: a rule is covered
 * when it fired in some case, a signal when it had hits, a suppression when
 * it held.
 *
 * A malformed cases file is an input error (exit 2, FILE:LINE:COL); a case
 * that fails, or with --require-coverage anything left uncovered, is a
 * finding (exit 1).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libfyaml.h>

enum { OPT_REQUIRE_COVERAGE, OPT_VERBOSE };

static const cli_option test_options[] = {
    [OPT_REQUIRE_COVERAGE] = {"require-coverage", NULL,
                              "fail when a rule, signal or suppression is never "
                              "exercised"},
    [OPT_VERBOSE] = {"verbose", NULL,
                     "also name passing cases; print failing decisions"},
    {NULL, NULL, NULL},
};

/* ---- what `expect:` may say --------------------------------------------- */

typedef enum {
    EXPECT_BOOL,         /* true or false, exactly */
    EXPECT_STRING,       /* exactly; null expects null or nothing */
    EXPECT_TIME,         /* the same instant; null expects null or nothing */
    EXPECT_LIST,         /* the same items in the same order */
    EXPECT_SET,          /* the same items in any order */
    EXPECT_INCLUDES,     /* each expected item is present */
    EXPECT_EXCLUDES,     /* no expected item is present */
    EXPECT_CONTAINS,     /* the text contains each expected substring */
    EXPECT_ANY_CONTAINS, /* each substring is in some item's text */
    EXPECT_OBJECTS       /* each expected object matches some item */
} expect_kind;

typedef struct expect_field {
    const char *key;    /* the key under expect: */
    expect_kind kind;
    const char *member; /* the decision's member it is compared with */
    const char *item;   /* for arrays of objects: the member naming an item */
} expect_field;

static const expect_field expect_fields[] = {
    {"escalate", EXPECT_BOOL, "escalate", NULL},
    {"priority", EXPECT_STRING, "priority", NULL},
    {"targets", EXPECT_LIST, "targets", NULL},
    {"tags", EXPECT_INCLUDES, "tags", NULL},
    {"no_tags", EXPECT_EXCLUDES, "tags", NULL},
    {"stop_conversation", EXPECT_BOOL, "stop_conversation", NULL},
    {"rules", EXPECT_INCLUDES, "reasons", "rule"},
    {"no_rules", EXPECT_EXCLUDES, "reasons", "rule"},
    {"suppressed", EXPECT_INCLUDES, "suppressed", "suppression"},
    {"note_contains", EXPECT_CONTAINS, "note", NULL},
    {"message_contains", EXPECT_CONTAINS, "customer_message", NULL},
    {"missing", EXPECT_SET, "missing", "field"},
    {"actions", EXPECT_INCLUDES, "actions", "action"},
    {"level", EXPECT_STRING, "level", NULL},
    {"suggestions_contain", EXPECT_ANY_CONTAINS, "suggestions", "text"},
    {"notifications", EXPECT_INCLUDES, "notifications", "channel"},
    {"no_notifications", EXPECT_EXCLUDES, "notifications", "channel"},
    {"respond_by", EXPECT_TIME, "respond_by", NULL},
    {"resolve_by", EXPECT_TIME, "resolve_by", NULL},
    {"follow_ups", EXPECT_OBJECTS, "follow_ups", NULL},
};

#define NFIELDS (sizeof(expect_fields) / sizeof(expect_fields[0]))

static const expect_field *find_field(const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(expect_fields[i].key, key) == 0)
            return &expect_fields[i];
    return NULL;
}

/* ---- the suite ------------------------------------------------------------ */

typedef struct test_case {
    const char *name;
    int line;
    int64_t now;
    struct fy_node *ticket;
    struct fy_node *expect; /* NULL: the case only has to be decided */
} test_case;

/* The three kinds of item coverage is counted for. */
static const struct coverage_kind {
    esc_item_kind kind;
    const char *noun;    /* "rule" */
    const char *list;    /* explain's member: "rules" */
    const char *id;      /* each entry's id member: "rule" */
    const char *covered; /* true or a positive count when covered: "fired" */
} coverage_kinds[3] = {
    {ESC_ITEM_RULE, "rule", "rules", "rule", "fired"},
    {ESC_ITEM_SIGNAL, "signal", "signals", "signal", "hits"},
    {ESC_ITEM_SUPPRESSION, "suppression", "suppressions", "suppression", "held"},
};

typedef struct suite {
    const char *path; /* the cases file */
    esc_policy *policy;
    esc_engine *engine;
    bool verbose;
    test_case *cases;
    size_t ncases, cap;
    int errors; /* problems in the cases file */
    size_t total[3];
    bool *covered[3];
} suite;

/* ---- YAML helpers --------------------------------------------------------- */

/* The 1-based position of a node: its own for a scalar, its first scalar's
 * for a collection; 0 when it has none. */
static void node_pos(struct fy_node *n, int *line, int *col)
{
    *line = *col = 0;
    for (int depth = 0; n && depth < 100; depth++) {
        if (fy_node_is_scalar(n)) {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
            if (m) {
                *line = m->line + 1;
                *col = m->column + 1;
            }
            return;
        }
        void *it = NULL;
        if (fy_node_is_mapping(n)) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p ? fy_node_pair_key(p) : NULL;
        } else {
            n = fy_node_sequence_iterate(n, &it);
        }
    }
}

/* Reports a problem of the cases file at `at`, or at `fallback` when `at`
 * has no position (an empty value). */
static void bad(suite *s, struct fy_node *at, struct fy_node *fallback,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void bad(suite *s, struct fy_node *at, struct fy_node *fallback,
                const char *fmt, ...)
{
    int line, col;
    node_pos(at, &line, &col);
    if (line == 0)
        node_pos(fallback, &line, &col);
    if (line > 0)
        fprintf(stderr, "%s:%d:%d: ", s->path, line, col);
    else
        fprintf(stderr, "%s: ", s->path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s->errors++;
}

/* The text of a scalar node, NULL for anything else. */
static const char *scalar(struct fy_node *n)
{
    if (!n || !fy_node_is_scalar(n) || fy_node_is_alias(n))
        return NULL;
    return fy_node_get_scalar0(n);
}

/* An empty value, ~ or a plain null. */
static bool is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    const char *t = scalar(n);
    return !t || !*t || strcmp(t, "~") == 0 || strcasecmp(t, "null") == 0;
}

/* ---- string lists ---------------------------------------------------------- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static void strv_push(strv *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        char **grown = realloc(l->v, l->cap * sizeof(*l->v));
        if (!grown) {
            fputs("escalator: out of memory\n", stderr);
            abort();
        }
        l->v = grown;
    }
    char *copy = strdup(s);
    if (!copy) {
        fputs("escalator: out of memory\n", stderr);
        abort();
    }
    l->v[l->n++] = copy;
}

static void strv_free(strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static bool strv_has(const strv *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "[a, b]" */
static void put_list(FILE *f, const strv *l)
{
    fputc('[', f);
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s%s", i ? ", " : "", l->v[i]);
    fputc(']', f);
}

/* The expected items: a sequence of scalars, or one scalar. */
static void node_strings(struct fy_node *n, strv *out)
{
    if (fy_node_is_sequence(n)) {
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it)))
            strv_push(out, scalar(item) ? scalar(item) : "");
    } else if (!is_null(n)) {
        strv_push(out, scalar(n) ? scalar(n) : "");
    }
}

/* ---- JSON helpers ---------------------------------------------------------- */

/* A scalar JSON value as text ("true", "4", the string itself); NULL for a
 * missing value, an array or an object. Returns buf or the string. */
static const char *value_text(const json_t *v, char *buf, size_t size)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, size, "%.17g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return v ? (json_is_null(v) ? "null" : NULL) : NULL;
    }
}

/* Writes a JSON value compactly, without quotes around strings:
 * {at: 2026-11-26T12:00:00Z, team: carrier}. */
static void put_value(FILE *f, const json_t *v)
{
    char buf[64];
    const char *key;
    json_t *member;
    size_t i;

    if (!v) {
        fputs("nothing", f);
    } else if (json_is_object(v)) {
        fputc('{', f);
        bool first = true;
        json_object_foreach((json_t *)v, key, member) {
            fprintf(f, "%s%s: ", first ? "" : ", ", key);
            put_value(f, member);
            first = false;
        }
        fputc('}', f);
    } else if (json_is_array(v)) {
        fputc('[', f);
        json_array_foreach(v, i, member) {
            if (i)
                fputs(", ", f);
            put_value(f, member);
        }
        fputc(']', f);
    } else {
        fputs(value_text(v, buf, sizeof(buf)), f);
    }
}

/* The name of one item of a decision's array: the string itself, or the
 * object's `item` member (else "id" or "name"), or the item written out. */
static void item_name(const json_t *el, const char *item, strv *out)
{
    char buf[64];
    if (json_is_object(el)) {
        const char *keys[] = {item, "id", "name"};
        for (size_t k = 0; k < 3; k++) {
            const json_t *m = keys[k] ? json_object_get(el, keys[k]) : NULL;
            const char *t = m && !json_is_null(m) ? value_text(m, buf, sizeof(buf)) : NULL;
            if (t) {
                strv_push(out, t);
                return;
            }
        }
    } else {
        const char *t = value_text(el, buf, sizeof(buf));
        if (t) {
            strv_push(out, t);
            return;
        }
    }
    char *dump = json_dumps(el, JSON_COMPACT | JSON_ENCODE_ANY);
    strv_push(out, dump ? dump : "?");
    free(dump);
}

static void json_names(const json_t *arr, const char *item, strv *out)
{
    size_t i;
    json_t *el;
    if (json_is_array(arr)) {
        json_array_foreach(arr, i, el)
            item_name(el, item, out);
    } else if (arr && !json_is_null(arr)) {
        item_name(arr, item, out);
    }
}

/* Writes s as a double-quoted string, cut after `max` bytes (0: never). */
static void put_quoted(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    bool cut = max && n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* never cut a UTF-8 sequence */
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputs(cut ? "\"..." : "\"", f);
}

static bool same_time(const char *a, const char *b)
{
    int64_t ta, tb;
    if (esc_time_parse(a, &ta) == 0 && esc_time_parse(b, &tb) == 0)
        return ta == tb;
    return strcmp(a, b) == 0;
}

/* ---- loading the cases file ---------------------------------------------- */

static bool parse_time_node(suite *s, struct fy_node *key, struct fy_node *v,
                            int64_t *out)
{
    const char *t = scalar(v);
    if (!t || esc_time_parse(t, out) != 0) {
        bad(s, v, key, "%s: expected an RFC 3339 time such as "
                       "2026-11-23T12:00:00Z", scalar(key));
        return false;
    }
    return true;
}

static bool is_scalar_list(struct fy_node *n)
{
    if (!fy_node_is_sequence(n))
        return n != NULL && scalar(n) != NULL;
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(n, &it)))
        if (!scalar(item))
            return false;
    return true;
}

static bool is_flat_mapping(struct fy_node *n)
{
    if (!fy_node_is_mapping(n))
        return false;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it)))
        if (!scalar(fy_node_pair_key(p)) || !scalar(fy_node_pair_value(p)))
            return false;
    return true;
}

static void check_expect_value(suite *s, const expect_field *f,
                               struct fy_node *key, struct fy_node *v)
{
    const char *t = scalar(v);
    switch (f->kind) {
    case EXPECT_BOOL:
        if (!t || (strcasecmp(t, "true") != 0 && strcasecmp(t, "false") != 0))
            bad(s, v, key, "%s: expected true or false", f->key);
        break;
    case EXPECT_STRING:
        if (!is_null(v) && !t)
            bad(s, v, key, "%s: expected a single value", f->key);
        break;
    case EXPECT_TIME: {
        int64_t ignored;
        if (!is_null(v) && (!t || esc_time_parse(t, &ignored) != 0))
            bad(s, v, key, "%s: expected an RFC 3339 time or null", f->key);
        break;
    }
    case EXPECT_OBJECTS: {
        bool ok = fy_node_is_mapping(v) ? is_flat_mapping(v)
                                        : fy_node_is_sequence(v);
        void *it = NULL;
        struct fy_node *item;
        while (ok && fy_node_is_sequence(v) &&
               (item = fy_node_sequence_iterate(v, &it)))
            ok = is_flat_mapping(item);
        if (!ok)
            bad(s, v, key, "%s: expected a list of mappings such as "
                           "{team: carrier, at: 2026-11-26T12:00:00Z}", f->key);
        break;
    }
    default:
        if (!is_null(v) && !is_scalar_list(v))
            bad(s, v, key, "%s: expected a list of values", f->key);
        break;
    }
}

static void check_expect(suite *s, struct fy_node *expect, struct fy_node *key)
{
    if (is_null(expect))
        return;
    if (!fy_node_is_mapping(expect)) {
        bad(s, expect, key, "expect: expected a mapping");
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(expect, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *name = scalar(k);
        const expect_field *f = name ? find_field(name) : NULL;
        if (!f) {
            char *known = NULL;
            size_t size = 0;
            FILE *m = open_memstream(&known, &size);
            for (size_t i = 0; m && i < NFIELDS; i++)
                fprintf(m, "%s%s", i ? ", " : "", expect_fields[i].key);
            if (m)
                fclose(m);
            bad(s, k, expect, "unknown key '%s' under expect (expected one of: %s)",
                name ? name : "?", known ? known : "");
            free(known);
            continue;
        }
        check_expect_value(s, f, k, fy_node_pair_value(p));
    }
}

static void add_case(suite *s, const test_case *c)
{
    if (s->ncases == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        test_case *grown = realloc(s->cases, s->cap * sizeof(*grown));
        if (!grown) {
            fputs("escalator: out of memory\n", stderr);
            abort();
        }
        s->cases = grown;
    }
    s->cases[s->ncases++] = *c;
}

static void load_case(suite *s, struct fy_node *item, bool has_default_now,
                      int64_t default_now)
{
    if (!fy_node_is_mapping(item)) {
        bad(s, item, NULL, "expected a case: a mapping with name, now, ticket "
                           "and expect");
        return;
    }
    test_case c = {.now = default_now};
    int col;
    node_pos(item, &c.line, &col);
    bool has_now = has_default_now, ok = true;

    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *key = scalar(k);
        if (!key) {
            bad(s, k, item, "expected a key");
            ok = false;
        } else if (strcmp(key, "name") == 0) {
            c.name = scalar(v);
            if (!c.name || !*c.name) {
                bad(s, v, k, "name: expected the case's name");
                ok = false;
            }
        } else if (strcmp(key, "now") == 0) {
            has_now = parse_time_node(s, k, v, &c.now);
            ok = ok && has_now;
        } else if (strcmp(key, "ticket") == 0) {
            if (!fy_node_is_mapping(v)) {
                bad(s, v, k, "ticket: expected a mapping (the ticket JSON "
                             "written as YAML)");
                ok = false;
            }
            c.ticket = v;
        } else if (strcmp(key, "expect") == 0) {
            int before = s->errors;
            check_expect(s, v, k);
            ok = ok && s->errors == before;
            c.expect = is_null(v) ? NULL : v;
        } else if (strcmp(key, "description") != 0) {
            bad(s, k, item, "unknown key '%s' in a case (expected name, now, "
                            "ticket, expect or description)", key);
            ok = false;
        }
    }
    if (!c.name) {
        if (ok)
            bad(s, item, NULL, "the case has no name");
        return;
    }
    if (!c.ticket) {
        bad(s, item, NULL, "case \"%s\" has no ticket", c.name);
        return;
    }
    if (!has_now && ok) {
        bad(s, item, NULL, "case \"%s\" has no 'now' (and the file sets none)",
            c.name);
        return;
    }
    for (size_t i = 0; i < s->ncases; i++) {
        if (strcmp(s->cases[i].name, c.name) == 0) {
            bad(s, item, NULL, "a case named \"%s\" already exists (line %d)",
                c.name, s->cases[i].line);
            return;
        }
    }
    if (ok)
        add_case(s, &c);
}

static void load_suite(suite *s, struct fy_node *root)
{
    if (!fy_node_is_mapping(root)) {
        bad(s, root, NULL, "expected a mapping with a 'cases' list");
        return;
    }
    struct fy_node *cases = NULL, *cases_key = NULL;
    int64_t default_now = 0;
    bool has_default_now = false;

    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *key = scalar(k);
        if (key && strcmp(key, "cases") == 0) {
            cases = v;
            cases_key = k;
        } else if (key && strcmp(key, "now") == 0) {
            has_default_now = parse_time_node(s, k, v, &default_now);
        } else if (!key || strcmp(key, "description") != 0) {
            bad(s, k, root, "unknown key '%s' (expected cases, now or "
                            "description)", key ? key : "?");
        }
    }
    if (!cases_key) {
        bad(s, root, NULL, "no 'cases' list");
        return;
    }
    if (is_null(cases))
        return; /* no cases yet */
    if (!fy_node_is_sequence(cases)) {
        bad(s, cases, cases_key, "cases: expected a list of cases");
        return;
    }
    it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(cases, &it)))
        load_case(s, item, has_default_now, default_now);
}

static void discard_diag(struct fy_diag *diag, void *user, const char *buf,
                         size_t len)
{
    (void)diag, (void)user, (void)buf, (void)len;
}

/* Parses the cases file; NULL after printing its syntax errors. */
static struct fy_document *parse_cases_file(suite *s, FILE *f)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL; /* errors are collected and printed below, nothing else */
    dcfg.output_fn = discard_diag;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        fprintf(stderr, "%s: out of memory\n", s->path);
        return NULL;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {
        .flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT,
        .diag = diag,
    };
    struct fy_document *doc = fy_document_build_from_fp(&cfg, f);
    if (!doc) {
        void *it = NULL;
        struct fy_diag_error *e;
        int n = 0;
        while ((e = fy_diag_errors_iterate(diag, &it))) {
            if (e->type < FYET_ERROR)
                continue;
            fprintf(stderr, "%s:%d:%d: %s\n", s->path, e->line, e->column,
                    e->msg);
            n++;
        }
        if (n == 0)
            fprintf(stderr, "%s: expected a YAML mapping with a 'cases' list\n",
                    s->path);
    }
    fy_diag_destroy(diag);
    return doc;
}

/* ---- running a case ------------------------------------------------------ */

typedef struct run {
    suite *s;
    const test_case *c;
    int failures;
} run;

static void fail(run *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(run *r, const char *field, const char *fmt, ...)
{
    printf("%s:%d: case \"%s\": %s: ", r->s->path, r->c->line, r->c->name, field);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    r->failures++;
}

/* Builds a message in memory: open it, write to it, then take the text. */
typedef struct membuf {
    char *text;
    size_t size;
    FILE *f;
} membuf;

static FILE *mb_open(membuf *m)
{
    m->text = NULL;
    m->size = 0;
    m->f = open_memstream(&m->text, &m->size);
    if (!m->f) {
        fputs("escalator: out of memory\n", stderr);
        abort();
    }
    return m->f;
}

static const char *mb_text(membuf *m)
{
    fclose(m->f);
    m->f = NULL;
    return m->text ? m->text : "";
}

static bool object_matches(const json_t *el, struct fy_node *want)
{
    if (!json_is_object(el))
        return false;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(want, &it))) {
        const char *k = scalar(fy_node_pair_key(p));
        const char *v = scalar(fy_node_pair_value(p));
        char buf[64];
        const char *got = value_text(json_object_get(el, k), buf, sizeof(buf));
        if (!got || !same_time(v, got))
            return false;
    }
    return true;
}

static void put_mapping(FILE *f, struct fy_node *m)
{
    fputc('{', f);
    void *it = NULL;
    struct fy_node_pair *p;
    bool first = true;
    while ((p = fy_node_mapping_iterate(m, &it))) {
        fprintf(f, "%s%s: %s", first ? "" : ", ", scalar(fy_node_pair_key(p)),
                scalar(fy_node_pair_value(p)));
        first = false;
    }
    fputc('}', f);
}

static void compare_objects(run *r, const expect_field *f, struct fy_node *want,
                            const json_t *got)
{
    membuf m;
    FILE *out = mb_open(&m);
    int missing = 0;
    /* One expected object may be written without the list around it. */
    struct fy_node *single = fy_node_is_mapping(want) ? want : NULL;
    void *it = NULL;
    for (struct fy_node *item = single ? single : fy_node_sequence_iterate(want, &it);
         item; item = single ? NULL : fy_node_sequence_iterate(want, &it)) {
        bool found = false;
        size_t i;
        json_t *el;
        json_array_foreach(got, i, el)
            found = found || object_matches(el, item);
        if (!found) {
            fputs(missing++ ? ", " : "", out);
            put_mapping(out, item);
        }
    }
    if (missing) {
        fputs("], got ", out);
        put_value(out, got);
        fail(r, f->key, "expected to include [%s", mb_text(&m));
    } else {
        mb_text(&m);
    }
    free(m.text);
}

static void compare_field(run *r, const expect_field *f, struct fy_node *want,
                          const json_t *decision)
{
    const json_t *got = json_object_get(decision, f->member);
    const char *wt = scalar(want);
    char buf[64];
    const char *gt = value_text(got, buf, sizeof(buf));
    size_t cut = r->s->verbose ? 0 : 200;
    strv w = {0}, g = {0};
    membuf m;

    switch (f->kind) {
    case EXPECT_BOOL: {
        bool expected = strcasecmp(wt, "true") == 0;
        if (!json_is_boolean(got) || json_is_true(got) != expected)
            fail(r, f->key, "expected %s, got %s", expected ? "true" : "false",
                 gt ? gt : "nothing");
        break;
    }
    case EXPECT_STRING:
    case EXPECT_TIME:
        if (is_null(want)) {
            if (got && !json_is_null(got)) {
                FILE *out = mb_open(&m);
                put_value(out, got);
                fail(r, f->key, "expected null, got %s", mb_text(&m));
                free(m.text);
            }
        } else if (!gt || (f->kind == EXPECT_TIME ? !same_time(wt, gt)
                                                   : strcmp(wt, gt) != 0)) {
            fail(r, f->key, "expected %s, got %s", wt, gt ? gt : "nothing");
        }
        break;
    case EXPECT_LIST:
    case EXPECT_SET: {
        node_strings(want, &w);
        json_names(got, f->item, &g);
        bool same = w.n == g.n;
        if (same && w.n > 0 && f->kind == EXPECT_SET) {
            strv ws = {0}, gs = {0};
            for (size_t i = 0; i < w.n; i++) {
                strv_push(&ws, w.v[i]);
                strv_push(&gs, g.v[i]);
            }
            qsort(ws.v, ws.n, sizeof(*ws.v), cmp_str);
            qsort(gs.v, gs.n, sizeof(*gs.v), cmp_str);
            for (size_t i = 0; same && i < ws.n; i++)
                same = strcmp(ws.v[i], gs.v[i]) == 0;
            strv_free(&ws);
            strv_free(&gs);
        } else {
            for (size_t i = 0; same && i < w.n; i++)
                same = strcmp(w.v[i], g.v[i]) == 0;
        }
        if (!same) {
            FILE *out = mb_open(&m);
            put_list(out, &w);
            fputs(f->kind == EXPECT_SET ? " in any order, got " : ", got ", out);
            put_list(out, &g);
            fail(r, f->key, "expected %s", mb_text(&m));
            free(m.text);
        }
        break;
    }
    case EXPECT_INCLUDES:
    case EXPECT_EXCLUDES: {
        node_strings(want, &w);
        json_names(got, f->item, &g);
        bool includes = f->kind == EXPECT_INCLUDES;
        strv off = {0};
        for (size_t i = 0; i < w.n; i++)
            if (strv_has(&g, w.v[i]) != includes)
                strv_push(&off, w.v[i]);
        if (off.n) {
            FILE *out = mb_open(&m);
            fputs(includes ? "expected to include " : "expected none of ", out);
            put_list(out, &off);
            fputs(", got ", out);
            put_list(out, &g);
            fail(r, f->key, "%s", mb_text(&m));
            free(m.text);
        }
        strv_free(&off);
        break;
    }
    case EXPECT_CONTAINS: {
        node_strings(want, &w);
        const char *text = json_is_string(got) ? json_string_value(got) : "";
        FILE *out = mb_open(&m);
        int missing = 0;
        for (size_t i = 0; i < w.n; i++) {
            if (!strstr(text, w.v[i])) {
                fputs(missing++ ? ", " : "", out);
                put_quoted(out, w.v[i], 0);
            }
        }
        if (missing) {
            fputs(", got ", out);
            if (json_is_string(got))
                put_quoted(out, text, cut);
            else
                put_value(out, got);
            fail(r, f->key, "expected to contain %s", mb_text(&m));
        } else {
            mb_text(&m);
        }
        free(m.text);
        break;
    }
    case EXPECT_ANY_CONTAINS: {
        node_strings(want, &w);
        json_names(got, f->item, &g);
        FILE *out = mb_open(&m);
        int missing = 0;
        for (size_t i = 0; i < w.n; i++) {
            bool found = false;
            for (size_t j = 0; !found && j < g.n; j++)
                found = strstr(g.v[j], w.v[i]) != NULL;
            if (!found) {
                fputs(missing++ ? ", " : "", out);
                put_quoted(out, w.v[i], 0);
            }
        }
        if (missing) {
            fputs(", got [", out);
            for (size_t j = 0; j < g.n; j++) {
                fputs(j ? ", " : "", out);
                put_quoted(out, g.v[j], cut);
            }
            fputc(']', out);
            fail(r, f->key, "expected some item to contain %s", mb_text(&m));
        } else {
            mb_text(&m);
        }
        free(m.text);
        break;
    }
    case EXPECT_OBJECTS:
        compare_objects(r, f, want, got);
        break;
    }
    strv_free(&w);
    strv_free(&g);
}

static void cover(suite *s, const json_t *decision)
{
    const json_t *explain = json_object_get(decision, "explain");
    for (size_t k = 0; k < 3; k++) {
        const struct coverage_kind *ck = &coverage_kinds[k];
        const json_t *list = json_object_get(explain, ck->list);
        size_t i;
        json_t *el;
        json_array_foreach(list, i, el) {
            const char *id = json_string_value(json_object_get(el, ck->id));
            const json_t *flag = json_object_get(el, ck->covered);
            bool covered = json_is_true(flag) ||
                           (json_is_number(flag) && json_number_value(flag) > 0);
            if (!id || !covered)
                continue;
            for (size_t j = 0; j < s->total[k]; j++) {
                const char *item = esc_policy_item(s->policy, ck->kind, j);
                if (item && strcmp(item, id) == 0)
                    s->covered[k][j] = true;
            }
        }
    }
}

/* Returns true when the case passed. */
static bool run_case(suite *s, const test_case *c)
{
    run r = {.s = s, .c = c};
    esc_ticket *ticket = NULL;
    esc_decision *decision = NULL;
    char *decision_json = NULL;
    json_t *root = NULL;
    esc_error err;
    memset(&err, 0, sizeof(err));

    char *ticket_json = fy_emit_node_to_string(
        c->ticket, FYECF_MODE_JSON_ONELINE | FYECF_NO_ENDING_NEWLINE);
    if (!ticket_json) {
        fail(&r, "ticket", "cannot be written as JSON");
        goto done;
    }
    int rc = esc_ticket_parse(ticket_json, strlen(ticket_json), s->path, &ticket,
                              &err);
    if (rc != 0) {
        fail(&r, "ticket", "%s%s%s", err.pointer, err.pointer[0] ? ": " : "",
             err.message[0] ? err.message : esc_strerror(rc));
        goto done;
    }
    rc = esc_engine_evaluate(s->engine, ticket, c->now, ESC_EVAL_EXPLAIN,
                             &decision, &err);
    if (rc != 0) {
        fail(&r, "evaluate", "%s%s%s", err.pointer, err.pointer[0] ? ": " : "",
             err.message[0] ? err.message : esc_strerror(rc));
        goto done;
    }
    size_t len = 0;
    decision_json = esc_decision_json(decision, ESC_JSON_EXPLAIN, &len);
    json_error_t jerr;
    root = decision_json ? json_loadb(decision_json, len, 0, &jerr) : NULL;
    if (!json_is_object(root)) {
        fail(&r, "decision", "not a JSON object: %s",
             decision_json ? jerr.text : "out of memory");
        goto done;
    }
    cover(s, root);

    if (c->expect) {
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(c->expect, &it))) {
            const expect_field *f = find_field(scalar(fy_node_pair_key(p)));
            compare_field(&r, f, fy_node_pair_value(p), root);
        }
    }

done:
    if (r.failures && s->verbose && decision) {
        char *pretty = esc_decision_json(decision, ESC_JSON_PRETTY, NULL);
        if (pretty)
            cli_put_json(stdout, pretty, strlen(pretty));
        free(pretty);
    } else if (!r.failures && s->verbose) {
        printf("%s:%d: case \"%s\": ok\n", s->path, c->line, c->name);
    }
    json_decref(root);
    free(decision_json);
    esc_decision_free(&decision);
    esc_ticket_free(&ticket);
    free(ticket_json);
    return r.failures == 0;
}

/* Prints the coverage summary; returns the number of uncovered items. */
static size_t report_coverage(suite *s)
{
    size_t uncovered = 0, covered[3] = {0};
    for (size_t k = 0; k < 3; k++)
        for (size_t j = 0; j < s->total[k]; j++)
            covered[k] += s->covered[k][j];
    printf("coverage: %zu/%zu rules, %zu/%zu signals, %zu/%zu suppressions\n",
           covered[0], s->total[0], covered[1], s->total[1], covered[2],
           s->total[2]);
    for (size_t k = 0; k < 3; k++) {
        for (size_t j = 0; j < s->total[k]; j++) {
            if (!s->covered[k][j]) {
                printf("uncovered %s: %s\n", coverage_kinds[k].noun,
                       esc_policy_item(s->policy, coverage_kinds[k].kind, j));
                uncovered++;
            }
        }
    }
    return uncovered;
}

/* cases/<name> next to the policy. */
static char *default_cases_path(const char *policy)
{
    const char *slash = strrchr(policy, '/');
    int dirlen = slash ? (int)(slash - policy + 1) : 0;
    char *path = NULL;
    if (asprintf(&path, "%.*scases/%s", dirlen, policy,
                 slash ? slash + 1 : policy) < 0)
        return NULL;
    return path;
}

static int run_suite(suite *s, bool require_coverage)
{
    int rc = esc_engine_new(s->policy, &s->engine);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", esc_policy_name(s->policy), esc_strerror(rc));
        return CLI_USAGE;
    }
    for (size_t k = 0; k < 3; k++) {
        s->total[k] = esc_policy_count(s->policy, coverage_kinds[k].kind);
        s->covered[k] = calloc(s->total[k] + 1, sizeof(bool));
        if (!s->covered[k]) {
            fputs("escalator: out of memory\n", stderr);
            abort();
        }
    }
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < s->ncases; i++) {
        if (run_case(s, &s->cases[i]))
            passed++;
        else
            failed++;
    }
    size_t uncovered = report_coverage(s);
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed || (require_coverage && uncovered) ? CLI_FINDING : CLI_OK;
}

static int test_run(const cli_verb *verb, int argc, char **argv)
{
    cli_args a;
    int status;
    if (cli_parse_args(verb, argc, argv, &a, &status) != 0)
        return status;
    if (a.npos < 1 || a.npos > 2)
        return cli_usage_error(verb, "expected POLICY [CASES], got %d argument%s",
                               a.npos, a.npos == 1 ? "" : "s");

    const char *policy_path = a.pos[0];
    char *default_path = a.npos == 2 ? NULL : default_cases_path(policy_path);
    suite s = {
        .path = a.npos == 2 ? a.pos[1] : default_path,
        .verbose = a.value[OPT_VERBOSE] != NULL,
    };
    struct fy_document *doc = NULL;
    FILE *f = NULL;
    status = CLI_USAGE;
    if (!s.path)
        goto out;

    esc_diags *diags = NULL;
    int rc = esc_policy_load_file(policy_path, &s.policy, &diags);
    if (rc != 0) {
        cli_print_diags(stderr, policy_path, diags, rc);
        esc_diags_free(&diags);
        status = rc == ESC_EPOLICY ? CLI_FINDING : CLI_USAGE;
        goto out;
    }
    esc_diags_free(&diags);

    f = cli_open(s.path);
    if (!f)
        goto out;
    doc = parse_cases_file(&s, f);
    if (!doc)
        goto out;
    load_suite(&s, fy_document_root(doc));
    if (s.errors)
        goto out;
    status = run_suite(&s, a.value[OPT_REQUIRE_COVERAGE] != NULL);

out:
    for (size_t k = 0; k < 3; k++)
        free(s.covered[k]);
    free(s.cases);
    fy_document_destroy(doc);
    cli_close(f);
    esc_engine_free(&s.engine);
    esc_policy_unref(&s.policy);
    free(default_path);
    return status;
}

const cli_verb cli_test_verb = {
    .name = "test",
    .synopsis = "POLICY [CASES] [--require-coverage] [--verbose]",
    .summary = "run a policy's example cases",
    .description =
        "Decides each ticket of the cases file (default: cases/NAME next to the\n"
        "policy) and compares the decision with the case's expect: block. Each\n"
        "mismatch is printed as CASES:LINE: case \"NAME\": FIELD: expected X, got Y.\n"
        "Then coverage: the rules that fired, the signals that matched and the\n"
        "suppressions that held in some case. The last line counts the cases that\n"
        "passed and failed.\n"
        "\n"
        "expect: keys: escalate, priority, targets (exact, in order), tags and\n"
        "no_tags, stop_conversation, rules and no_rules (the reasons' rules),\n"
        "suppressed, note_contains, message_contains, missing (exact set), actions,\n"
        "level, suggestions_contain, notifications and no_notifications\n"
        "(channels), respond_by, resolve_by, follow_ups ({team, at}).\n"
        "\n"
        "Exit status 1 when a case failed, or with --require-coverage when\n"
        "something is uncovered; 2 when the cases file is malformed.",
    .options = test_options,
    .run = test_run,
};
