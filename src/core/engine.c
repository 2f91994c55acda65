/*
 * engine.c - evaluate(policy, ticket, now) -> decision.
 *
 * Pure: no I/O, no clock, no globals. An engine holds the per-thread scratch
 * of the text matcher and an arena reset at every evaluation; the policy is
 * shared and never written.
 *
 * Order of work: check the declared fields, scan the messages once for every
 * signal, compute the facts, evaluate rules (recording evidence, or the
 * first failed condition), apply suppressions, combine the remaining rules
 * (see docs/policy-language.md, "How fired rules combine"), render the
 * templates, evaluate advice, write the decision JSON.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile.h"
#include "ticket.h"

#define MAX_EVIDENCE 3
#define REPEAT_WINDOW 50
#define CONTENT_MAX 64

/*
 * Business-time results already computed by this engine. esc__cal_add() and
 * esc__cal_open_at() are pure functions of (calendar, t, secs) and cost
 * microseconds in ICU; evaluations at one `now` (a triage run, a replay
 * step) ask for the same few deadlines again and again. secs < 0 marks an
 * esc__cal_open_at() result.
 */
#define CAL_MEMO 16
#define SB_POOL 4
typedef struct cal_memo {
    bool used;
    int calendar;
    int64_t t, secs, result;
} cal_memo;

struct esc_engine {
    esc_policy *p;
    esc__scratch *scratch;
    esc__ucal **cals;   /* this engine's clone of each calendar */
    cal_memo memo[CAL_MEMO];
    uint32_t *field_order; /* declared fields' indexes, sorted by name */
    uint32_t *shout_sigs;  /* the signals that count shouting, in order */
    size_t n_shout_sigs;
    /* Builders kept from one evaluation to the next, so that their buffers
     * are allocated once: the decision JSON, a rule's evidence, and a pool
     * for rendered texts and quotes (see pool_get). */
    esc__sb js, because, evj;
    esc__sb pool[SB_POOL];
    esc__arena mem;
};

static int cmp_field_name(const void *a, const void *b, void *ud)
{
    const esc_policy *p = ud;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(p->fields[x].name, p->fields[y].name);
    return c ? c : x < y ? -1 : x > y;
}

int esc_engine_new(esc_policy *p, esc_engine **out)
{
    if (!p || !out)
        return ESC_EINVAL;
    esc_engine *e = esc__xcalloc(1, sizeof(*e));
    e->p = esc_policy_ref(p);
    e->scratch = esc__scratch_new(p->matcher);
    if (!e->scratch) {
        esc_policy_unref(&e->p);
        free(e);
        return ESC_ENOMEM;
    }
    esc__arena_init(&e->mem);
    e->field_order = esc__xcalloc(p->n_fields ? p->n_fields : 1,
                                  sizeof(uint32_t));
    for (size_t i = 0; i < p->n_fields; i++)
        e->field_order[i] = (uint32_t)i;
    qsort_r(e->field_order, p->n_fields, sizeof(uint32_t), cmp_field_name, p);
    /* shouting() runs for every scanned text; few signals count shouting. */
    e->shout_sigs = esc__xcalloc(p->n_signals ? p->n_signals : 1,
                                 sizeof(uint32_t));
    for (size_t i = 0; i < p->n_signals; i++)
        if (p->signals[i].shouting)
            e->shout_sigs[e->n_shout_sigs++] = (uint32_t)i;
    e->cals = esc__xcalloc(p->n_calendars ? p->n_calendars : 1,
                           sizeof(*e->cals));
    for (size_t i = 0; i < p->n_calendars; i++) {
        e->cals[i] = esc__cal_clone(p->calendars[i].proto);
        if (!e->cals[i]) {
            esc_engine_free(&e);
            return ESC_ENOMEM;
        }
    }
    *out = e;
    return 0;
}

void esc_engine_free(esc_engine **ep)
{
    if (!ep || !*ep)
        return;
    esc_engine *e = *ep;
    esc__scratch_free(&e->scratch);
    for (size_t i = 0; e->cals && i < e->p->n_calendars; i++)
        esc__cal_close(&e->cals[i]);
    free(e->cals);
    free(e->field_order);
    free(e->shout_sigs);
    esc__arena_free(&e->mem);
    esc__sb_free(&e->js);
    esc__sb_free(&e->because);
    esc__sb_free(&e->evj);
    for (int i = 0; i < SB_POOL; i++)
        esc__sb_free(&e->pool[i]);
    esc_policy_unref(&e->p);
    free(e);
    *ep = NULL;
}

/* ---- evaluation state --------------------------------------------------- */

typedef struct hit_ev {
    uint32_t pattern;   /* UINT32_MAX: shouting */
    long msg;           /* message index; -1: the subject */
    size_t start, end;
    bool caps;          /* shouting: capitals (else '!!!') */
} hit_ev;

/* The counters come first: they are all an evaluation clears (see
 * esc_engine_evaluate); the hits are read only as far as the counters say. */
typedef struct sig_state {
    unsigned hits, negated;
    unsigned n_ev;
    bool any;
    hit_ev last;        /* the latest hit (any): one span counts once */
    hit_ev neg_ev;      /* the first negated hit (negated > 0) */
    hit_ev ev[MAX_EVIDENCE];
} sig_state;

typedef struct rule_state {
    bool fired;
    int held_by;              /* suppression index, -1 */
    char *because;            /* evidence text (fired) */
    char *evidence_json;      /* JSON array (fired) */
    const esc__cond *failed;  /* first failed condition (not fired) */
} rule_state;

typedef struct ev {
    const esc_policy *p;
    const esc_ticket *t;
    int64_t now;
    esc__ucal **cals;
    cal_memo *memo;           /* the engine's business-time results */
    const uint32_t *field_order; /* the engine's sorted field index */
    const uint32_t *shout_sigs;  /* the engine's shouting signals */
    size_t n_shout_sigs;
    esc__sb *pool;            /* the engine's builders for pool_get() */
    int pool_used;
    esc__arena *mem;
    esc_error *err;
    bool failed;

    esc__value *fields;       /* per declared field */
    sig_state *sig;
    unsigned lex_hits[ESC__LEX_COUNT];
    unsigned shout_msgs;
    esc__value fact[ESC__FACT_COUNT];
    bool fact_done[ESC__FACT_COUNT];
    const char *cur_text;     /* text of the message being scanned */
    long cur_msg;
    unsigned cur_scope;
    /* The content of the customer messages facts.repeats compares (the
     * last REPEAT_WINDOW), taken from their scan: rep_from is the index of
     * the first of them; rep_ok turns false when one could not be taken. */
    size_t rep_from;
    size_t n_rep;
    uint64_t (*rep_hash)[CONTENT_MAX];
    size_t rep_len[REPEAT_WINDOW];
    bool rep_ok;

    /* The decision as far as it is known (for templates and advice). */
    bool escalate;
    int prio;
    const uint32_t *targets;
    size_t n_targets;
    int level;
    int64_t respond_by, resolve_by;
    rule_state *rules;
    const uint32_t *order;    /* active rules, sorted */
    size_t n_order;
    const char **tags;
    size_t n_tags;
    const uint32_t *actions;
    size_t n_actions;
    const char *const *missing;
    size_t n_missing;

    /* Evidence of the condition being evaluated. */
    esc__sb *because;
    esc__sb *evjson;
} ev;

/* ---- values ----------------------------------------------------------- */

/* esc__sb_printf(sb, "%s", s), NULL included, without a format to read:
 * the decision and its texts are written in many short pieces. */
static void put_s(esc__sb *sb, const char *s)
{
    esc__sb_puts(sb, s ? s : "(null)");
}

/* esc__sb_printf(sb, "%s%s", sep, s) with sep never NULL. */
static void put_sep_s(esc__sb *sb, const char *sep, const char *s)
{
    esc__sb_puts(sb, sep);
    put_s(sb, s);
}

static void set_err(ev *e, const char *pointer, const char *fmt, ...)
    ESC__PRINTF(3, 4);

static void set_err(ev *e, const char *pointer, const char *fmt, ...)
{
    if (e->failed)
        return;
    e->failed = true;
    if (!e->err)
        return;
    memset(e->err, 0, sizeof(*e->err));
    snprintf(e->err->pointer, sizeof(e->err->pointer), "%s", pointer);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err->message, sizeof(e->err->message), fmt, ap);
    va_end(ap);
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* The first declared field named key[0..len) in e->field_order, or
 * p->n_fields when none is. */
static size_t first_field_named(const ev *e, const char *key, size_t len)
{
    const esc_policy *p = e->p;
    size_t lo = 0, hi = p->n_fields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *name = p->fields[e->field_order[mid]].name;
        int c = strncmp(name, key, len);
        if (c == 0 && name[len])
            c = 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Converts and checks every declared field of the ticket, in declaration
 * order, stopping at the first one that does not fit. The ticket's own
 * members are looked up in the sorted field index (a ticket carries a few
 * fields; a policy declares dozens); a key with a NUL byte names no field,
 * as with json_object_get().
 */
static void load_fields(ev *e)
{
    const esc_policy *p = e->p;
    e->fields = esc__arena_alloc(e->mem, (p->n_fields ? p->n_fields : 1) *
                                             sizeof(*e->fields));
    size_t nk = json_object_size(e->t->fields);
    if (!nk || !p->n_fields)
        return;
    json_t **vals = esc__arena_alloc(e->mem, p->n_fields * sizeof(json_t *));
    uint32_t *present = esc__arena_alloc(e->mem, p->n_fields * sizeof(uint32_t));
    size_t np = 0;
    const char *key;
    size_t klen;
    json_t *val;
    json_object_keylen_foreach(e->t->fields, key, klen, val) {
        if (strlen(key) != klen)
            continue;
        for (size_t k = first_field_named(e, key, klen);
             k < p->n_fields && !strcmp(p->fields[e->field_order[k]].name, key);
             k++) {
            vals[e->field_order[k]] = val;
            present[np++] = e->field_order[k];
        }
    }
    qsort(present, np, sizeof(uint32_t), cmp_u32);
    for (size_t q = 0; q < np && !e->failed; q++) {
        size_t i = present[q];
        const esc__field *f = &p->fields[i];
        esc__value *v = &e->fields[i];
        json_t *j = vals[i];
        if (json_is_null(j)) {
            v->t = ESC__T_NULL;
            continue;
        }
        /* "/fields/NAME" as snprintf() into ptr would write it (truncated),
         * without its cost for every field of every ticket. */
        char ptr[300];
        size_t nl = strlen(f->name);
        if (nl > sizeof(ptr) - 9)
            nl = sizeof(ptr) - 9;
        memcpy(ptr, "/fields/", 8);
        memcpy(ptr + 8, f->name, nl);
        ptr[8 + nl] = '\0';
        switch (f->type) {
        case ESC__T_NUM:
            if (!json_is_number(j)) {
                set_err(e, ptr, "expected %s, got %s",
                        f->integer ? "an integer" : "a number", json_kind(j));
                break;
            }
            v->t = ESC__T_NUM;
            v->n = json_number_value(j);
            if (f->integer && v->n != floor(v->n))
                set_err(e, ptr, "expected an integer, got %g", v->n);
            break;
        case ESC__T_STR:
            if (!json_is_string(j)) {
                set_err(e, ptr, "expected a string, got %s", json_kind(j));
                break;
            }
            v->t = ESC__T_STR;
            v->s = json_string_value(j);
            if (f->n_values) {
                bool ok = false;
                for (size_t k = 0; k < f->n_values; k++)
                    ok |= !strcmp(f->values[k], v->s);
                if (!ok) {
                    esc__sb sb;
                    esc__sb_init(&sb);
                    for (size_t k = 0; k < f->n_values; k++)
                        esc__sb_printf(&sb, "%s%s", k ? ", " : "",
                                       f->values[k]);
                    set_err(e, ptr, "\"%s\" is not one of: %s", v->s, sb.buf);
                    esc__sb_free(&sb);
                }
            }
            break;
        case ESC__T_BOOL:
            if (!json_is_boolean(j)) {
                set_err(e, ptr, "expected true or false, got %s",
                        json_kind(j));
                break;
            }
            v->t = ESC__T_BOOL;
            v->b = json_is_true(j);
            break;
        case ESC__T_LIST: {
            if (!json_is_array(j)) {
                set_err(e, ptr, "expected a list of strings, got %s",
                        json_kind(j));
                break;
            }
            size_t n = json_array_size(j);
            const char **items = esc__arena_alloc(e->mem,
                                                  (n ? n : 1) * sizeof(char *));
            for (size_t k = 0; k < n; k++) {
                json_t *it = json_array_get(j, k);
                if (!json_is_string(it)) {
                    char ip[340];
                    snprintf(ip, sizeof(ip), "%s/%zu", ptr, k);
                    set_err(e, ip, "expected a string, got %s", json_kind(it));
                    break;
                }
                items[k] = json_string_value(it);
            }
            v->t = ESC__T_LIST;
            v->items = items;
            v->n_items = n;
            break;
        }
        case ESC__T_TIME: {
            int64_t tm;
            if (!json_is_string(j) ||
                esc_time_parse(json_string_value(j), &tm) < 0) {
                set_err(e, ptr, "expected an RFC 3339 time, got %s",
                        json_kind(j));
                break;
            }
            v->t = ESC__T_TIME;
            v->d = tm;
            break;
        }
        default:
            break;
        }
    }
}

static esc__value str_value(const char *s)
{
    esc__value v = {.t = s ? ESC__T_STR : ESC__T_NULL, .s = s};
    return v;
}

static esc__value dur_value(int64_t d)
{
    esc__value v = {.t = ESC__T_DUR, .d = d < 0 ? 0 : d};
    return v;
}

static esc__value num_value(double n)
{
    esc__value v = {.t = ESC__T_NUM, .n = n};
    return v;
}

static int64_t first_time(const esc_ticket *t, int from)
{
    for (size_t i = 0; i < t->n_messages; i++)
        if ((from < 0 || (int)t->messages[i].from == from) &&
            t->messages[i].at != ESC__NO_TIME)
            return t->messages[i].at;
    return ESC__NO_TIME;
}

/* The index of the last message from one of the senders in mask. */
static long last_from(const esc_ticket *t, unsigned mask)
{
    for (size_t i = t->n_messages; i-- > 0;)
        if ((mask >> t->messages[i].from) & 1u)
            return (long)i;
    return -1;
}

static bool similar(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i = 0, j = 0, common = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j])
            common++, i++, j++;
        else if (a[i] < b[j])
            i++;
        else
            j++;
    }
    size_t small = na < nb ? na : nb;
    return common >= 2 && common * 2 >= small;
}

static unsigned repeats(ev *e, esc__scratch *scratch)
{
    const esc_ticket *t = e->t;
    size_t idx[REPEAT_WINDOW];
    size_t n = 0;
    for (size_t i = t->n_messages; i-- > 0 && n < REPEAT_WINDOW;)
        if (t->messages[i].from == ESC__FROM_CUSTOMER)
            idx[n++] = i;
    if (!n)
        return 0;
    uint64_t (*hs)[CONTENT_MAX];
    size_t *nh;
    if (e->rep_ok && e->n_rep == n) {
        /* Taken while scanning (in message order; the order of the
         * comparison does not matter). */
        hs = e->rep_hash;
        nh = e->rep_len;
    } else {
        hs = esc__arena_alloc_raw(e->mem, n * sizeof(*hs)); /* as rep_hash */
        nh = esc__arena_alloc(e->mem, n * sizeof(*nh));
        for (size_t k = 0; k < n; k++) {
            const esc__message *m = &t->messages[idx[k]];
            nh[k] = esc__text_content(e->p->matcher, scratch, m->text, m->len,
                                      hs[k], CONTENT_MAX);
        }
    }
    /* similar() is symmetric: each pair is compared once, and counts in
     * the group of both. */
    unsigned group[REPEAT_WINDOW];
    for (size_t a = 0; a < n; a++)
        group[a] = 1;
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (similar(hs[a], nh[a], hs[b], nh[b]))
                group[a]++, group[b]++;
    unsigned best = 1;
    for (size_t a = 0; a < n; a++)
        if (group[a] > best)
            best = group[a];
    return best;
}

/* esc__cal_add(calendar, t, secs), or for secs < 0 esc__cal_open_at()
 * (as 0 or 1), through the engine's memo. */
static int64_t cal_compute(ev *e, int calendar, int64_t t, int64_t secs)
{
    uint64_t h = ((uint64_t)t * 0x9E3779B97F4A7C15ull) ^
                 ((uint64_t)secs * 0xC2B2AE3D27D4EB4Full) ^ (uint64_t)calendar;
    cal_memo *m = &e->memo[(h ^ (h >> 29)) % CAL_MEMO];
    if (m->used && m->calendar == calendar && m->t == t && m->secs == secs)
        return m->result;
    const esc__calendar *c = &e->p->calendars[calendar];
    int64_t r = secs < 0 ? (int64_t)esc__cal_open_at(c, e->cals[calendar], t)
                         : esc__cal_add(c, e->cals[calendar], t, secs);
    *m = (cal_memo){true, calendar, t, secs, r};
    return r;
}

static void compute_facts(ev *e, esc__scratch *scratch)
{
    const esc_ticket *t = e->t;
    int64_t now = e->now;
    esc__value null = {.t = ESC__T_NULL};
    for (int f = 0; f < ESC__FACT_COUNT; f++)
        e->fact[f] = null;

    int64_t created = t->created_at != ESC__NO_TIME ? t->created_at
                                                    : first_time(t, -1);
    if (created != ESC__NO_TIME)
        e->fact[ESC__FACT_AGE] = dur_value(now - created);
    long lc = last_from(t, 1u << ESC__FROM_CUSTOMER);
    if (lc >= 0 && t->messages[lc].at != ESC__NO_TIME)
        e->fact[ESC__FACT_SINCE_CUSTOMER] = dur_value(now - t->messages[lc].at);
    long lr = last_from(t, (1u << ESC__FROM_AGENT) | (1u << ESC__FROM_BOT));
    if (lr >= 0 && t->messages[lr].at != ESC__NO_TIME) {
        e->fact[ESC__FACT_SINCE_REPLY] = dur_value(now - t->messages[lr].at);
    } else {
        int64_t fc = first_time(t, ESC__FROM_CUSTOMER);
        if (fc != ESC__NO_TIME)
            e->fact[ESC__FACT_SINCE_REPLY] = dur_value(now - fc);
    }
    if (lc > 0 && t->messages[lc].at != ESC__NO_TIME) {
        for (long i = lc - 1; i >= 0; i--)
            if (t->messages[i].at != ESC__NO_TIME) {
                e->fact[ESC__FACT_CUSTOMER_GAP] =
                    dur_value(t->messages[lc].at - t->messages[i].at);
                break;
            }
    }
    unsigned nc = 0, nr = 0;
    for (size_t i = 0; i < t->n_messages; i++) {
        if (t->messages[i].from == ESC__FROM_CUSTOMER)
            nc++;
        else if (t->messages[i].from == ESC__FROM_AGENT ||
                 t->messages[i].from == ESC__FROM_BOT)
            nr++;
    }
    e->fact[ESC__FACT_CUSTOMER_MESSAGES] = num_value(nc);
    e->fact[ESC__FACT_REPLIES] = num_value(nr);
    e->fact[ESC__FACT_TROUBLESHOOTING_STEPS] = num_value((double)t->n_steps);
    e->fact[ESC__FACT_REPEATS] =
        num_value(e->p->uses_repeats ? repeats(e, scratch) : 0);
    unsigned prof = e->lex_hits[ESC__LEX_PROFANITY];
    unsigned anger = e->lex_hits[ESC__LEX_ANGER];
    const char *sent = "neutral";
    if (prof || anger >= 3 || (anger && e->shout_msgs))
        sent = "angry";
    else if (anger || e->shout_msgs)
        sent = "frustrated";
    e->fact[ESC__FACT_SENTIMENT] = str_value(sent);
    if (e->p->n_calendars) {
        e->fact[ESC__FACT_BUSINESS_HOURS].t = ESC__T_BOOL;
        e->fact[ESC__FACT_BUSINESS_HOURS].b =
            cal_compute(e, 0, now, -1) != 0;
    }
}

/* `now` plus a duration, counted in opening hours when the calendar is
 * set. */
static int64_t deadline(ev *e, int calendar, int64_t secs)
{
    if (calendar < 0)
        return e->now + secs;
    return cal_compute(e, calendar, e->now, secs);
}

/* ---- signals ------------------------------------------------------------- */

static int on_hit(void *ud, const esc__hit *h)
{
    ev *e = ud;
    const esc__pattern *pt = &e->p->patterns[h->id];
    if (pt->signal == UINT32_MAX) {
        if (!h->negated && (e->cur_scope & ESC__SCOPE_CUSTOMER))
            e->lex_hits[pt->lexicon]++;
        return 0;
    }
    const esc__signal *s = &e->p->signals[pt->signal];
    if (!(s->scope & e->cur_scope))
        return 0;
    sig_state *st = &e->sig[pt->signal];
    hit_ev hv = {.pattern = h->id, .msg = e->cur_msg, .start = h->start,
                 .end = h->end};
    /* Two phrases of one signal on the same words ("fuck", "fucking" on
     * "fuuuck") are one hit. */
    if (st->any && st->last.msg == hv.msg && st->last.start == hv.start &&
        st->last.end == hv.end)
        return 0;
    st->last = hv;
    st->any = true;
    if (h->negated) {
        if (!st->negated)
            st->neg_ev = hv;
        st->negated++;
        return 0;
    }
    if (st->n_ev < MAX_EVIDENCE)
        st->ev[st->n_ev++] = hv;
    st->hits++;
    return 0;
}

static unsigned scope_of(esc__from f)
{
    switch (f) {
    case ESC__FROM_CUSTOMER: return ESC__SCOPE_CUSTOMER;
    case ESC__FROM_AGENT: return ESC__SCOPE_AGENT;
    case ESC__FROM_BOT: return ESC__SCOPE_BOT;
    case ESC__FROM_SYSTEM: return ESC__SCOPE_SYSTEM;
    }
    return 0;
}

static void shouting(ev *e, const char *text, size_t len)
{
    esc__shouting sh;
    esc__text_shouting(text, len, &sh);
    bool caps = sh.caps_ratio >= 0.6, excl = sh.exclaim_run >= 3;
    if ((caps || excl) && (e->cur_scope & ESC__SCOPE_CUSTOMER))
        e->shout_msgs++;
    for (size_t k0 = 0; k0 < e->n_shout_sigs; k0++) {
        uint32_t i = e->shout_sigs[k0];
        const esc__signal *s = &e->p->signals[i];
        if (!(s->scope & e->cur_scope))
            continue;
        sig_state *st = &e->sig[i];
        for (int k = 0; k < 2; k++) {
            if (!(k == 0 ? caps : excl))
                continue;
            hit_ev hv = {.pattern = UINT32_MAX, .msg = e->cur_msg,
                         .caps = k == 0, .end = len};
            if (st->n_ev < MAX_EVIDENCE)
                st->ev[st->n_ev++] = hv;
            st->hits++;
        }
    }
}

/*
 * Which scanned texts (the subject when scanned, then the messages in scope,
 * in order) may match one of the policy's regular expressions: one pass of
 * the matcher over all of them. NULL when the policy has none. The n_messages
 * + 1 flags after those say which texts that pass found a match in.
 */
static const bool *regex_candidates(ev *e, esc__scratch *scratch)
{
    const esc_ticket *t = e->t;
    unsigned scope = e->p->scan_scope;
    if (!esc__matcher_regex_count(e->p->matcher))
        return NULL;
    size_t cap = t->n_messages + 1, n = 0;
    const char **texts = esc__arena_alloc(e->mem, cap * sizeof(*texts));
    size_t *lens = esc__arena_alloc(e->mem, cap * sizeof(*lens));
    bool *may = esc__arena_alloc(e->mem, 2 * cap * sizeof(*may));
    if ((scope & ESC__SCOPE_SUBJECT) && t->subject && *t->subject) {
        texts[n] = t->subject;
        lens[n++] = strlen(t->subject);
    }
    for (size_t i = 0; i < t->n_messages; i++)
        if (scope & scope_of(t->messages[i].from)) {
            texts[n] = t->messages[i].text;
            lens[n++] = t->messages[i].len;
        }
    /* On a failure every text is marked: each scan then decides alone. */
    esc__regex_prefilter(e->p->matcher, scratch, texts, lens, n, may,
                         may + cap);
    return may;
}

/* esc__scan_ex()'s flags for text k of regex_candidates(). */
static unsigned scan_flags(const ev *e, const bool *may, size_t k)
{
    if (!may)
        return 0;
    const bool *found = may + e->t->n_messages + 1;
    return !may[k] ? ESC__SCAN_NO_REGEX_MATCH
         : found[k] ? ESC__SCAN_REGEX_FOUND : 0;
}

static int scan_all(ev *e, esc__scratch *scratch)
{
    const esc_ticket *t = e->t;
    unsigned scope = e->p->scan_scope;
    const bool *may = regex_candidates(e, scratch);
    size_t k = 0; /* the index of the text in may[] */
    if ((scope & ESC__SCOPE_SUBJECT) && t->subject && *t->subject) {
        e->cur_msg = -1;
        e->cur_scope = ESC__SCOPE_SUBJECT;
        e->cur_text = t->subject;
        size_t len = strlen(t->subject);
        unsigned flags = scan_flags(e, may, k);
        k++;
        int rc = esc__scan_ex(e->p->matcher, scratch, t->subject, len, flags,
                              on_hit, e);
        if (rc < 0)
            return rc;
        shouting(e, t->subject, len);
    }
    /* The messages facts.repeats will compare start at rep_from. */
    e->rep_ok = e->p->uses_repeats;
    if (e->rep_ok) {
        size_t n = 0;
        e->rep_from = t->n_messages;
        while (e->rep_from > 0 && n < REPEAT_WINDOW)
            if (t->messages[--e->rep_from].from == ESC__FROM_CUSTOMER)
                n++;
        /* Not cleared: a message's row is read up to the count its scan
         * wrote (rep_len). */
        e->rep_hash = esc__arena_alloc_raw(e->mem, (n ? n : 1) *
                                                       sizeof(*e->rep_hash));
    }
    for (size_t i = 0; i < t->n_messages; i++) {
        const esc__message *m = &t->messages[i];
        unsigned sc = scope_of(m->from);
        if (!(scope & sc))
            continue;
        e->cur_msg = (long)i;
        e->cur_scope = sc;
        e->cur_text = m->text;
        unsigned flags = scan_flags(e, may, k);
        k++;
        int rc = esc__scan_ex(e->p->matcher, scratch, m->text, m->len, flags,
                              on_hit, e);
        if (rc < 0)
            return rc;
        if (e->rep_ok && i >= e->rep_from && m->from == ESC__FROM_CUSTOMER) {
            e->rep_ok = esc__scan_content(e->p->matcher, scratch,
                                          e->rep_hash[e->n_rep], CONTENT_MAX,
                                          &e->rep_len[e->n_rep]);
            e->n_rep++;
        }
        shouting(e, m->text, m->len);
    }
    return 0;
}

/* ---- operands and conditions ------------------------------------------- */

static bool signal_holds(const ev *e, uint32_t i)
{
    return e->sig[i].hits >= e->p->signals[i].min_hits;
}

static esc__value operand(ev *e, const esc__operand *o)
{
    const esc_ticket *t = e->t;
    esc__value v = {.t = ESC__T_NULL};
    switch (o->kind) {
    case ESC__OPD_CONST: return o->k;
    case ESC__OPD_FIELD: return e->fields[o->index];
    case ESC__OPD_CUSTOMER_TIER: return str_value(t->customer.tier);
    case ESC__OPD_CUSTOMER_ID: return str_value(t->customer.id);
    case ESC__OPD_CUSTOMER_EMAIL: return str_value(t->customer.email);
    case ESC__OPD_CUSTOMER_NAME: return str_value(t->customer.name);
    case ESC__OPD_CUSTOMER_FLAGS:
        v.t = ESC__T_LIST;
        v.items = (const char *const *)t->customer.flags;
        v.n_items = t->customer.n_flags;
        return v;
    case ESC__OPD_CUSTOMER_TENURE:
        if (t->customer.since != ESC__NO_TIME)
            return dur_value(e->now - t->customer.since);
        return v;
    case ESC__OPD_CHANNEL:
        return t->has_channel ? str_value(esc__channel_name(t->channel)) : v;
    case ESC__OPD_STATUS: return str_value(esc__status_name(t->status));
    case ESC__OPD_LEVEL: return str_value(t->level);
    case ESC__OPD_SUBJECT: return str_value(t->subject);
    case ESC__OPD_SIGNAL:
        v.t = ESC__T_BOOL;
        v.b = signal_holds(e, o->index);
        return v;
    case ESC__OPD_SIGNAL_HITS: return num_value(e->sig[o->index].hits);
    case ESC__OPD_FACT: return e->fact[o->index];
    case ESC__OPD_DECISION_ESCALATE:
        v.t = ESC__T_BOOL;
        v.b = e->escalate;
        return v;
    case ESC__OPD_DECISION_PRIORITY:
        return str_value(e->prio >= 0 ? e->p->priorities[e->prio].id : NULL);
    case ESC__OPD_DECISION_TARGETS: {
        const char **items = esc__arena_alloc(
            e->mem, (e->n_targets ? e->n_targets : 1) * sizeof(char *));
        for (size_t i = 0; i < e->n_targets; i++)
            items[i] = e->p->teams[e->targets[i]].id;
        v.t = ESC__T_LIST;
        v.items = items;
        v.n_items = e->n_targets;
        return v;
    }
    }
    return v;
}

/* The value of an operand that the evaluation already holds (a constant, a
 * field, a fact), without a copy; any other is computed into *tmp. */
static inline const esc__value *operand_ref(ev *e, const esc__operand *o,
                                            esc__value *tmp)
{
    switch (o->kind) {
    case ESC__OPD_CONST: return &o->k;
    case ESC__OPD_FIELD: return &e->fields[o->index];
    case ESC__OPD_FACT: return &e->fact[o->index];
    default:
        *tmp = operand(e, o);
        return tmp;
    }
}

static bool truthy(const esc__value *v)
{
    switch (v->t) {
    case ESC__T_BOOL: return v->b;
    case ESC__T_NUM: return v->n != 0;
    case ESC__T_DUR:
    case ESC__T_TIME: return v->d != 0;
    case ESC__T_STR: return v->s && *v->s;
    case ESC__T_LIST: return v->n_items > 0;
    default: return false;
    }
}

/* Writes a value for explanations ("4", "5d 2h", "\"port_in\""). */
static void put_value(esc__sb *sb, const esc__value *v)
{
    char buf[64];
    switch (v->t) {
    case ESC__T_NULL: esc__sb_puts(sb, "null"); break;
    case ESC__T_BOOL: esc__sb_puts(sb, v->b ? "true" : "false"); break;
    case ESC__T_NUM: esc__sb_printf(sb, "%.15g", v->n); break;
    case ESC__T_DUR:
        esc__duration_format(v->d, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        break;
    case ESC__T_TIME:
        esc_time_format(v->d, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        break;
    case ESC__T_STR: esc__sb_printf(sb, "\"%s\"", v->s); break;
    case ESC__T_LIST:
        esc__sb_putc(sb, '[');
        for (size_t i = 0; i < v->n_items; i++)
            put_sep_s(sb, i ? ", " : "", v->items[i]);
        esc__sb_putc(sb, ']');
        break;
    default: break;
    }
}

static int cmp_num(const esc__value *a, const esc__value *b)
{
    double x = a->t == ESC__T_NUM ? a->n : (double)a->d;
    double y = b->t == ESC__T_NUM ? b->n : (double)b->d;
    return x < y ? -1 : x > y ? 1 : 0;
}

static bool values_equal(const esc__value *a, const esc__value *b)
{
    if (a->t == ESC__T_NULL || b->t == ESC__T_NULL)
        return a->t == b->t;
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case ESC__T_BOOL: return a->b == b->b;
    case ESC__T_NUM: return a->n == b->n;
    case ESC__T_DUR:
    case ESC__T_TIME: return a->d == b->d;
    case ESC__T_STR: return !strcmp(a->s, b->s);
    case ESC__T_LIST:
        if (a->n_items != b->n_items)
            return false;
        for (size_t i = 0; i < a->n_items; i++)
            if (strcmp(a->items[i], b->items[i]))
                return false;
        return true;
    default: return false;
    }
}

static bool compare(esc__op op, const esc__value *a, const esc__value *b)
{
    if (op == ESC__OP_EQ)
        return values_equal(a, b);
    if (op == ESC__OP_NE)
        return !values_equal(a, b);
    if (a->t == ESC__T_NULL || b->t == ESC__T_NULL)
        return false;
    switch (op) {
    case ESC__OP_LT: return cmp_num(a, b) < 0;
    case ESC__OP_LE: return cmp_num(a, b) <= 0;
    case ESC__OP_GT: return cmp_num(a, b) > 0;
    case ESC__OP_GE: return cmp_num(a, b) >= 0;
    case ESC__OP_IN:
        for (size_t i = 0; i < b->n_items; i++)
            if (a->t == ESC__T_STR && !strcmp(a->s, b->items[i]))
                return true;
        return false;
    case ESC__OP_HAS:
        for (size_t i = 0; i < a->n_items; i++)
            if (b->t == ESC__T_STR && !strcmp(a->items[i], b->s))
                return true;
        return false;
    case ESC__OP_CONTAINS:
        return a->t == ESC__T_STR && b->t == ESC__T_STR &&
               strcasestr(a->s, b->s) != NULL;
    default: return false;
    }
}

/* An empty builder for a text being put together, from the engine's pool
 * when one is free (its buffer is kept for the next evaluation), else a
 * new one; give it back with pool_put, in the reverse order of pool_get. */
static esc__sb *pool_get(ev *e, esc__sb *local)
{
    esc__sb *sb = local;
    if (e->pool_used < SB_POOL)
        sb = &e->pool[e->pool_used++];
    else
        esc__sb_init(local);
    esc__sb_reset(sb);
    return sb;
}

static void pool_put(ev *e, esc__sb *sb, esc__sb *local)
{
    if (sb == local)
        esc__sb_free(local);
    else
        e->pool_used--;
}

/* Quotes a hit: the words the customer wrote, at most 120 bytes. */
static void put_quote(ev *e, esc__sb *sb, const hit_ev *h)
{
    const char *text = h->msg < 0 ? e->t->subject : e->t->messages[h->msg].text;
    size_t start = h->start, end = h->end;
    if (h->pattern == UINT32_MAX) {
        esc__sb_puts(sb, h->caps ? "written in capitals" : "repeated '!'");
        return;
    }
    if (end - start > 120)
        end = start + 120;
    while (end > start && (text[end] & 0xC0) == 0x80)
        end--;
    esc__sb_put(sb, text + start, end - start);
}

static void signal_evidence(ev *e, uint32_t si)
{
    const sig_state *st = &e->sig[si];
    const esc__signal *s = &e->p->signals[si];
    if (e->because) {
        esc__sb_puts(e->because, "signals.");
        put_s(e->because, s->id);
        esc__sb_putc(e->because, ':');
        for (unsigned i = 0; i < st->n_ev; i++) {
            const hit_ev *h = &st->ev[i];
            esc__sb_puts(e->because, i ? ";" : "");
            if (h->pattern == UINT32_MAX) {
                esc__sb_puts(e->because, h->caps ? " written in capitals"
                                                 : " repeated '!'");
            } else {
                const char *ph = e->p->patterns[h->pattern].text;
                const char *text = h->msg < 0 ? e->t->subject
                                              : e->t->messages[h->msg].text;
                esc__sb_puts(e->because, " \"");
                put_s(e->because, ph);
                esc__sb_putc(e->because, '"');
                if (strlen(ph) != h->end - h->start ||
                    strncasecmp(ph, text + h->start, h->end - h->start)) {
                    esc__sb_puts(e->because, " found as \"");
                    put_quote(e, e->because, h);
                    esc__sb_putc(e->because, '"');
                }
            }
            if (h->msg < 0)
                esc__sb_puts(e->because, " in the subject");
            else
                esc__sb_printf(e->because, " in message %ld", h->msg);
        }
        if (st->hits > st->n_ev)
            esc__sb_printf(e->because, " (%u hits in all)", st->hits);
    }
    if (e->evjson) {
        for (unsigned i = 0; i < st->n_ev; i++) {
            const hit_ev *h = &st->ev[i];
            if (e->evjson->len > 1)
                esc__sb_putc(e->evjson, ',');
            esc__sb_puts(e->evjson, "{\"signal\":");
            esc__sb_json_str(e->evjson, s->id, strlen(s->id));
            if (h->pattern != UINT32_MAX) {
                const char *ph = e->p->patterns[h->pattern].text;
                esc__sb_puts(e->evjson,
                             e->p->patterns[h->pattern].regex ? ",\"regex\":"
                                                              : ",\"phrase\":");
                esc__sb_json_str(e->evjson, ph, strlen(ph));
            }
            if (h->msg >= 0)
                esc__sb_printf(e->evjson, ",\"message\":%ld", h->msg);
            else
                esc__sb_puts(e->evjson, ",\"message\":\"subject\"");
            esc__sb local, *quote = pool_get(e, &local);
            put_quote(e, quote, h);
            esc__sb_puts(e->evjson, ",\"quote\":");
            esc__sb_json_str(e->evjson, quote->buf ? quote->buf : "", quote->len);
            pool_put(e, quote, &local);
            esc__sb_putc(e->evjson, '}');
        }
    }
}

static void value_json(esc__sb *sb, const esc__value *v)
{
    char buf[64];
    switch (v->t) {
    case ESC__T_NULL: esc__sb_puts(sb, "null"); break;
    case ESC__T_BOOL: esc__sb_puts(sb, v->b ? "true" : "false"); break;
    case ESC__T_NUM: esc__sb_printf(sb, "%.15g", v->n); break;
    case ESC__T_DUR:
        esc__duration_format(v->d, buf, sizeof(buf));
        esc__sb_json_str(sb, buf, strlen(buf));
        break;
    case ESC__T_TIME:
        esc_time_format(v->d, buf, sizeof(buf));
        esc__sb_json_str(sb, buf, strlen(buf));
        break;
    case ESC__T_STR: esc__sb_json_str(sb, v->s, strlen(v->s)); break;
    case ESC__T_LIST:
        esc__sb_putc(sb, '[');
        for (size_t i = 0; i < v->n_items; i++) {
            if (i)
                esc__sb_putc(sb, ',');
            esc__sb_json_str(sb, v->items[i], strlen(v->items[i]));
        }
        esc__sb_putc(sb, ']');
        break;
    default: esc__sb_puts(sb, "null"); break;
    }
}

static void cmp_evidence(ev *e, const esc__cond *c, const esc__value *a,
                         const esc__value *b)
{
    if (e->because) {
        esc__sb *sb = e->because;
        if (c->kind == ESC__C_TRUTH) {
            esc__sb_printf(sb, "%s = ", c->a.text);
            put_value(sb, a);
        } else {
            esc__sb_puts(sb, c->a.text);
            if (c->a.kind != ESC__OPD_CONST ||
                !strncmp(c->a.text, "settings.", 9)) {
                esc__sb_puts(sb, " = ");
                put_value(sb, a);
            }
            esc__sb_printf(sb, " %s ", esc__op_text(c->op));
            esc__sb_puts(sb, c->b.text);
            if (c->b.kind != ESC__OPD_CONST ||
                !strncmp(c->b.text, "settings.", 9)) {
                esc__sb_puts(sb, " = ");
                put_value(sb, b);
            }
        }
    }
    if (e->evjson) {
        if (e->evjson->len > 1)
            esc__sb_putc(e->evjson, ',');
        esc__sb_puts(e->evjson, "{\"condition\":");
        esc__sb_json_str(e->evjson, c->src, strlen(c->src));
        esc__sb_puts(e->evjson, ",\"value\":");
        value_json(e->evjson, a);
        esc__sb_putc(e->evjson, '}');
    }
}

/* Whether c is a signal and nothing records evidence: the test is then
 * signal_holds() alone, made without a call of eval_cond(). */
static inline bool quiet_signal(const ev *e, const esc__cond *c)
{
    return c->kind == ESC__C_TRUTH && c->a.kind == ESC__OPD_SIGNAL &&
           !e->because && !e->evjson;
}

/*
 * Evaluates a condition. When it holds, its evidence is appended to
 * e->because / e->evjson (when set); when it fails, *failed is the first
 * condition that failed.
 */
static bool eval_cond(ev *e, const esc__cond *c, const esc__cond **failed)
{
    switch (c->kind) {
    case ESC__C_CONST:
        if (!c->value && failed)
            *failed = c;
        if (c->value && e->because)
            esc__sb_puts(e->because, "always");
        return c->value;
    case ESC__C_AND: {
        size_t mark = e->because ? e->because->len : 0;
        for (size_t i = 0; i < c->n_kids; i++) {
            const esc__cond *k = c->kids[i];
            if (quiet_signal(e, k)) {
                if (signal_holds(e, k->a.index))
                    continue;
                if (failed)
                    *failed = k;
                return false;
            }
            if (i && e->because)
                esc__sb_puts(e->because, "; ");
            if (!eval_cond(e, k, failed)) {
                if (e->because) {
                    e->because->len = mark;
                    if (e->because->buf)
                        e->because->buf[mark] = 0;
                }
                return false;
            }
        }
        return true;
    }
    case ESC__C_OR:
        for (size_t i = 0; i < c->n_kids; i++) {
            const esc__cond *k = c->kids[i];
            if (quiet_signal(e, k) ? signal_holds(e, k->a.index)
                                   : eval_cond(e, k, NULL))
                return true;
        }
        if (failed)
            *failed = c;
        return false;
    case ESC__C_NOT: {
        esc__sb *b = e->because, *j = e->evjson;
        e->because = NULL;
        e->evjson = NULL;
        bool inner = eval_cond(e, c->kids[0], NULL);
        e->because = b;
        e->evjson = j;
        if (inner) {
            if (failed)
                *failed = c;
            return false;
        }
        if (e->because)
            esc__sb_printf(e->because, "not (%s)", c->kids[0]->src
                                                       ? c->kids[0]->src
                                                       : "...");
        return true;
    }
    case ESC__C_TRUTH: {
        /* Most conditions are a signal: its value is whether it holds. */
        if (c->a.kind == ESC__OPD_SIGNAL) {
            if (!signal_holds(e, c->a.index)) {
                if (failed)
                    *failed = c;
                return false;
            }
            signal_evidence(e, c->a.index);
            return true;
        }
        esc__value ta;
        const esc__value *a = operand_ref(e, &c->a, &ta);
        if (!truthy(a)) {
            if (failed)
                *failed = c;
            return false;
        }
        cmp_evidence(e, c, a, NULL);
        return true;
    }
    case ESC__C_CMP: {
        esc__value ta, tb;
        const esc__value *a = operand_ref(e, &c->a, &ta);
        const esc__value *b = operand_ref(e, &c->b, &tb);
        if (!compare(c->op, a, b)) {
            if (failed)
                *failed = c;
            return false;
        }
        cmp_evidence(e, c, a, b);
        return true;
    }
    }
    return false;
}

/* Evaluates a condition without recording anything. */
static bool holds(ev *e, const esc__cond *c)
{
    esc__sb *b = e->because, *j = e->evjson;
    e->because = e->evjson = NULL;
    bool r = c ? eval_cond(e, c, NULL) : true;
    e->because = b;
    e->evjson = j;
    return r;
}

/* ---- rendering ------------------------------------------------------------ */

static void render_value(esc__sb *sb, const esc__value *v)
{
    char buf[64];
    switch (v->t) {
    case ESC__T_BOOL: esc__sb_puts(sb, v->b ? "yes" : "no"); break;
    case ESC__T_NUM: esc__sb_printf(sb, "%.15g", v->n); break;
    case ESC__T_DUR:
        esc__duration_words(v->d, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        break;
    case ESC__T_TIME:
        esc_time_format(v->d, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        break;
    case ESC__T_STR: esc__sb_puts(sb, v->s); break;
    case ESC__T_LIST:
        for (size_t i = 0; i < v->n_items; i++)
            put_sep_s(sb, i ? ", " : "", v->items[i]);
        break;
    default: break;
    }
}

static bool present(const esc__value *v)
{
    switch (v->t) {
    case ESC__T_NULL: return false;
    case ESC__T_STR: return v->s && *v->s;
    case ESC__T_LIST: return v->n_items > 0;
    default: return true;
    }
}

static const esc__message *customer_msg(const esc_ticket *t, bool last)
{
    if (last) {
        for (size_t i = t->n_messages; i-- > 0;)
            if (t->messages[i].from == ESC__FROM_CUSTOMER)
                return &t->messages[i];
    } else {
        for (size_t i = 0; i < t->n_messages; i++)
            if (t->messages[i].from == ESC__FROM_CUSTOMER)
                return &t->messages[i];
    }
    return NULL;
}

static void put_excerpt(esc__sb *sb, const char *s, size_t len, size_t max)
{
    if (len <= max) {
        esc__sb_put(sb, s, len);
        return;
    }
    size_t end = max;
    while (end > 0 && ((unsigned char)s[end] & 0xC0) == 0x80)
        end--;
    esc__sb_put(sb, s, end);
    esc__sb_puts(sb, "…");
}

static void render_reason(ev *e, esc__sb *sb, uint32_t r);

/* Appends s; false when there is nothing to append. */
static bool put_str(esc__sb *sb, const char *s)
{
    if (!s)
        return false;
    esc__sb_puts(sb, s);
    return true;
}

/* Renders one placeholder; returns false when its value is absent. */
static bool render_ph(ev *e, esc__sb *sb, const esc__segment *sg)
{
    const esc_policy *p = e->p;
    const esc_ticket *t = e->t;
    const esc__priority *pr = e->prio >= 0 ? &p->priorities[e->prio] : NULL;
    const esc__team *team = e->n_targets ? &p->teams[e->targets[0]] : NULL;
    char buf[64];
    switch (sg->kind) {
    case ESC__PH_TEXT: esc__sb_put(sb, sg->text, sg->len); return true;
    case ESC__PH_OPERAND: {
        esc__value v = operand(e, &sg->opd);
        if (!present(&v))
            return false;
        render_value(sb, &v);
        return true;
    }
    case ESC__PH_TICKET_ID: return put_str(sb, t->id);
    case ESC__PH_PRIORITY_ID: return put_str(sb, pr ? pr->id : NULL);
    case ESC__PH_PRIORITY_NAME: return put_str(sb, pr ? pr->name : NULL);
    case ESC__PH_PRIORITY_PROMISE:
        return put_str(sb, pr ? pr->promise : NULL);
    case ESC__PH_TEAM_ID: return put_str(sb, team ? team->id : NULL);
    case ESC__PH_TEAM_NAME: return put_str(sb, team ? team->name : NULL);
    case ESC__PH_TEAM_PROMISE:
        return put_str(sb, team ? team->promise : NULL);
    case ESC__PH_TEAM_RESPOND:
        if (!team || team->respond_within < 0) return false;
        esc__duration_words(team->respond_within, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        return true;
    case ESC__PH_TARGETS:
        if (!e->n_targets) return false;
        for (size_t i = 0; i < e->n_targets; i++)
            put_sep_s(sb, i ? " + " : "", p->teams[e->targets[i]].name);
        return true;
    case ESC__PH_REASONS:
        if (!e->n_order) return false;
        /* One reason is a phrase; several are a list below the text that
         * leads to them ("Why: {{reasons}}"). */
        while (e->n_order > 1 && sb->len && sb->buf[sb->len - 1] == ' ')
            sb->buf[--sb->len] = 0;
        for (size_t i = 0; i < e->n_order; i++) {
            if (e->n_order > 1)
                esc__sb_puts(sb, "\n- ");
            render_reason(e, sb, e->order[i]);
        }
        return true;
    case ESC__PH_EVIDENCE: {
        bool any = false;
        for (size_t i = 0; i < p->n_signals; i++) {
            const sig_state *st = &e->sig[i];
            for (unsigned k = 0; k < st->n_ev; k++) {
                const hit_ev *h = &st->ev[k];
                esc__sb_puts(sb, any ? "; " : "");
                esc__sb_putc(sb, '"');
                put_quote(e, sb, h);
                if (h->msg < 0)
                    esc__sb_puts(sb, "\" (subject)");
                else
                    esc__sb_printf(sb, "\" (message %ld)", h->msg);
                any = true;
            }
        }
        return any;
    }
    case ESC__PH_TROUBLESHOOTING:
        if (!t->n_steps) return false;
        for (size_t i = 0; i < t->n_steps; i++) {
            esc__sb_printf(sb, "%s%zu. %s", i ? "\n" : "", i + 1,
                           t->steps[i].step);
            if (t->steps[i].result && *t->steps[i].result)
                esc__sb_printf(sb, " → %s", t->steps[i].result);
        }
        return true;
    case ESC__PH_FIRST_MESSAGE:
    case ESC__PH_LAST_MESSAGE: {
        const esc__message *m =
            customer_msg(t, sg->kind == ESC__PH_LAST_MESSAGE);
        if (!m) return false;
        put_excerpt(sb, m->text, m->len, 1000);
        return true;
    }
    case ESC__PH_RESPOND_BY:
    case ESC__PH_RESOLVE_BY: {
        int64_t at = sg->kind == ESC__PH_RESPOND_BY ? e->respond_by : e->resolve_by;
        if (at == ESC__NO_TIME) return false;
        esc_time_format(at, buf, sizeof(buf));
        esc__sb_puts(sb, buf);
        return true;
    }
    case ESC__PH_TAGS:
        if (!e->n_tags) return false;
        for (size_t i = 0; i < e->n_tags; i++)
            put_sep_s(sb, i ? ", " : "", e->tags[i]);
        return true;
    case ESC__PH_ACTIONS:
        if (!e->n_actions) return false;
        for (size_t i = 0; i < e->n_actions; i++)
            put_sep_s(sb, i ? ", " : "", p->actions[e->actions[i]].id);
        return true;
    case ESC__PH_CUSTOMER_SINCE:
        if (t->customer.since == ESC__NO_TIME) return false;
        esc_time_format(t->customer.since, buf, sizeof(buf));
        buf[10] = 0;
        esc__sb_puts(sb, buf);
        return true;
    case ESC__PH_MISSING:
        if (!e->n_missing) return false;
        for (size_t i = 0; i < e->n_missing; i++) {
            const char *m = e->missing[i];
            int f = strncmp(m, "fields.", 7) ? -1
                                             : esc__find_field(p, m + 7);
            put_sep_s(sb, i ? ", " : "",
                      f >= 0 && p->fields[f].label ? p->fields[f].label : m);
        }
        return true;
    case ESC__PH_LEVEL_NAME:
        if (e->level < 0) return false;
        esc__sb_puts(sb, p->levels[e->level].name ? p->levels[e->level].name
                                                  : p->levels[e->level].id);
        return true;
    }
    return false;
}

static void render(ev *e, esc__sb *sb, const esc__tmpl *tm)
{
    for (size_t i = 0; i < tm->n_segs; i++) {
        const esc__segment *sg = &tm->segs[i];
        size_t mark = sb->len;
        if (render_ph(e, sb, sg))
            continue;
        sb->len = mark;
        if (sb->buf)
            sb->buf[mark] = 0;
        if (sg->fallback) {
            esc__sb_puts(sb, sg->fallback);
        } else {
            esc__sb_putc(sb, '[');
            put_s(sb, sg->text);
            esc__sb_putc(sb, ']');
        }
    }
}

static void render_reason(ev *e, esc__sb *sb, uint32_t r)
{
    const esc__rule *ru = &e->p->rules[r];
    if (ru->has_reason)
        render(e, sb, &ru->reason);
    else if (e->rules[r].because && *e->rules[r].because)
        esc__sb_puts(sb, e->rules[r].because);
    else
        esc__sb_puts(sb, ru->description ? ru->description : ru->id);
}

static char *render_str(ev *e, const esc__tmpl *tm)
{
    esc__sb local, *sb = pool_get(e, &local);
    render(e, sb, tm);
    char *s = esc__arena_strndup(e->mem, sb->buf ? sb->buf : "", sb->len);
    pool_put(e, sb, &local);
    return s;
}

/* The note used when no template applies. */
static char *generic_note(ev *e)
{
    const esc_policy *p = e->p;
    const esc_ticket *t = e->t;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_printf(&sb, "## Escalation: %s", p->priorities[e->prio].name);
    if (e->n_targets) {
        esc__sb_puts(&sb, " → ");
        for (size_t i = 0; i < e->n_targets; i++)
            esc__sb_printf(&sb, "%s%s", i ? " + " : "",
                           p->teams[e->targets[i]].name);
    }
    esc__sb_printf(&sb, "\n\nTicket: %s", t->id);
    if (t->subject && *t->subject)
        esc__sb_printf(&sb, " — %s", t->subject);
    esc__sb_puts(&sb, "\nCustomer: ");
    esc__sb_puts(&sb, t->customer.name ? t->customer.name : "(no name)");
    if (t->customer.email)
        esc__sb_printf(&sb, " <%s>", t->customer.email);
    if (t->customer.tier)
        esc__sb_printf(&sb, ", tier %s", t->customer.tier);
    for (size_t i = 0; i < t->customer.n_flags; i++)
        esc__sb_printf(&sb, "%s%s", i ? ", " : " [", t->customer.flags[i]);
    if (t->customer.n_flags)
        esc__sb_putc(&sb, ']');
    esc__sb_puts(&sb, "\n\n### Why\n");
    for (size_t i = 0; i < e->n_order; i++) {
        esc__sb_puts(&sb, "- ");
        render_reason(e, &sb, e->order[i]);
        esc__sb_putc(&sb, '\n');
    }
    if (t->n_steps) {
        esc__sb_puts(&sb, "\n### What was tried\n");
        for (size_t i = 0; i < t->n_steps; i++) {
            esc__sb_printf(&sb, "%zu. %s", i + 1, t->steps[i].step);
            if (t->steps[i].result && *t->steps[i].result)
                esc__sb_printf(&sb, " → %s", t->steps[i].result);
            esc__sb_putc(&sb, '\n');
        }
    }
    const esc__message *m = customer_msg(t, true);
    if (m) {
        esc__sb_puts(&sb, "\n### Customer's latest message\n> ");
        put_excerpt(&sb, m->text, m->len, 1000);
        esc__sb_putc(&sb, '\n');
    }
    esc__sb_printf(&sb, "\nSentiment: %s\n",
                   e->fact[ESC__FACT_SENTIMENT].s);
    char *s = esc__arena_strndup(e->mem, sb.buf, sb.len);
    esc__sb_free(&sb);
    return s;
}

/* ---- the decision ------------------------------------------------------- */

/* The decision's members, in the order of its JSON text. */
enum {
    DM_TICKET, DM_POLICY, DM_ESCALATE, DM_PRIORITY, DM_TARGETS, DM_STOP_CONVERSATION,
    DM_RESPOND_BY, DM_RESOLVE_BY, DM_REASONS, DM_SUPPRESSED, DM_TAGS, DM_ACTIONS,
    DM_LEVEL, DM_FOLLOW_UPS, DM_NOTIFICATIONS, DM_MISSING, DM_NOTE,
    DM_CUSTOMER_MESSAGE, DM_SUGGESTIONS, DM_SENTIMENT, DM_COUNT
};
static const char *const dm_keys[DM_COUNT] = {
    "ticket", "policy", "escalate", "priority", "targets", "stop_conversation",
    "respond_by", "resolve_by", "reasons", "suppressed", "tags", "actions",
    "level", "follow_ups", "notifications", "missing", "note",
    "customer_message", "suggestions", "sentiment"};

struct esc_decision {
    char *json;        /* without "explain" */
    size_t len;
    uint32_t start[DM_COUNT]; /* where each member's value begins in json */
    char *explain;     /* the explain object, or NULL */
    size_t explain_len;
    bool escalate, stop;
    char *priority;
    char **targets;
    size_t n_targets;
};

void esc_decision_free(esc_decision **dp)
{
    if (!dp || !*dp)
        return;
    esc_decision *d = *dp;
    free(d->json);
    free(d->explain);
    free(d->priority);
    for (size_t i = 0; i < d->n_targets; i++)
        free(d->targets[i]);
    free(d->targets);
    free(d);
    *dp = NULL;
}

int esc_decision_escalate(const esc_decision *d) { return d && d->escalate; }
int esc_decision_stop_conversation(const esc_decision *d)
{
    return d && d->stop;
}
const char *esc_decision_priority(const esc_decision *d)
{
    return d ? d->priority : NULL;
}
size_t esc_decision_target_count(const esc_decision *d)
{
    return d ? d->n_targets : 0;
}
const char *esc_decision_target(const esc_decision *d, size_t i)
{
    return d && i < d->n_targets ? d->targets[i] : NULL;
}

json_t *esc__decision_members(const esc_decision *d, const char *const *keys)
{
    if (!d || !keys)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int m = 0; m < DM_COUNT; m++) {
        bool want = false;
        for (size_t k = 0; keys[k] && !want; k++)
            want = !strcmp(keys[k], dm_keys[m]);
        if (!want)
            continue;
        /* The value ends where the next member's ",\"key\":" begins, the
         * last one before the closing brace. */
        size_t end = m + 1 < DM_COUNT ? d->start[m + 1] - strlen(dm_keys[m + 1]) - 4
                                      : d->len - 1;
        json_t *v = json_loadb(d->json + d->start[m], end - d->start[m],
                               JSON_DECODE_ANY, NULL);
        if (!v || json_object_set_new(o, dm_keys[m], v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The keys are literals of plain ASCII letters, which JSON writes as they
 * are: json_key(sb, "ticket", &first) puts "\"ticket\":" in one copy. */
#define json_key(sb, k, first) \
    json_key_text((sb), "\"" k "\":", sizeof(k) + 2, (first))

static void json_key_text(esc__sb *sb, const char *text, size_t n, bool *first)
{
    if (!*first)
        esc__sb_putc(sb, ',');
    *first = false;
    esc__sb_put(sb, text, n);
}

/* json_key() for member m of the decision, noting where its value begins. */
#define member_key(sb, k, m, starts, first) \
    (json_key((sb), k, (first)), (starts)[(m)] = (uint32_t)(sb)->len)

static void json_s(esc__sb *sb, const char *s)
{
    if (s)
        esc__sb_json_str(sb, s, strlen(s));
    else
        esc__sb_puts(sb, "null");
}

static void json_time(esc__sb *sb, int64_t t)
{
    char buf[32];
    if (t == ESC__NO_TIME) {
        esc__sb_puts(sb, "null");
        return;
    }
    /* Digits, '-', ':', 'T' and 'Z': nothing to escape. */
    buf[0] = '"';
    esc_time_format(t, buf + 1, sizeof(buf) - 2);
    size_t n = strlen(buf);
    buf[n] = '"';
    esc__sb_put(sb, buf, n + 1);
}

static void json_strs(esc__sb *sb, const char *const *v, size_t n)
{
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_putc(sb, ',');
        json_s(sb, v[i]);
    }
    esc__sb_putc(sb, ']');
}

static bool add_unique(const char ***v, size_t *n, size_t *cap, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], s))
            return false;
    ESC__PUSH(*v, *n, *cap, s);
    return true;
}

static bool required_present(ev *e, const char *path)
{
    const esc_ticket *t = e->t;
    if (!strncmp(path, "fields.", 7)) {
        int i = esc__find_field(e->p, path + 7);
        return i >= 0 && present(&e->fields[i]);
    }
    if (!strcmp(path, "subject")) return t->subject && *t->subject;
    if (!strcmp(path, "troubleshooting")) return t->n_steps > 0;
    if (!strcmp(path, "messages")) return t->n_messages > 0;
    if (!strcmp(path, "customer.email")) return t->customer.email && *t->customer.email;
    if (!strcmp(path, "customer.name")) return t->customer.name && *t->customer.name;
    if (!strcmp(path, "customer.id")) return t->customer.id && *t->customer.id;
    if (!strcmp(path, "customer.tier")) return t->customer.tier && *t->customer.tier;
    if (!strcmp(path, "customer.since")) return t->customer.since != ESC__NO_TIME;
    return true;
}

static void check_required(ev *e, const char *const *req, size_t n,
                           const char ***miss, size_t *nm, size_t *cap)
{
    for (size_t i = 0; i < n; i++)
        if (!required_present(e, req[i]))
            add_unique(miss, nm, cap, req[i]);
}

static int rule_order_cmp(const void *a, const void *b, void *ud)
{
    const esc_policy *p = ud;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint32_t px = p->rules[x].priority, py = p->rules[y].priority;
    if (px != py)
        return px < py ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* The team one tier above the ticket's current level. */
static int next_tier_team(ev *e)
{
    const esc_policy *p = e->p;
    int cur = 0;
    if (e->t->level) {
        int ti = esc__find_team(p, e->t->level);
        if (ti >= 0)
            cur = p->teams[ti].tier;
    }
    if (cur == 0) {
        /* Unknown level: the ticket sits at the lowest tier. */
        cur = INT32_MAX;
        for (size_t i = 0; i < p->n_teams; i++)
            if (p->teams[i].tier > 0 && p->teams[i].tier < cur)
                cur = p->teams[i].tier;
    }
    int best = -1, top = -1;
    for (size_t i = 0; i < p->n_teams; i++) {
        int tr = p->teams[i].tier;
        if (tr > cur && (best < 0 || tr < p->teams[best].tier))
            best = (int)i;
        if (tr > 0 && (top < 0 || tr > p->teams[top].tier))
            top = (int)i;
    }
    return best >= 0 ? best : top;
}

static const esc__template *choose_template(ev *e)
{
    const esc_policy *p = e->p;
    for (size_t i = 0; i < e->n_order; i++) {
        const esc__rule *r = &p->rules[e->order[i]];
        if (r->escalate && r->tmpl >= 0)
            return &p->templates[r->tmpl];
        if (r->escalate)
            break;
    }
    if (!e->n_targets)
        return NULL;
    uint32_t primary = e->targets[0];
    for (size_t i = 0; i < p->n_templates; i++) {
        const esc__template *t = &p->templates[i];
        bool f = false;
        for (size_t k = 0; k < t->n_for; k++)
            f |= t->for_teams[k] == primary;
        if (f && holds(e, t->when))
            return t;
    }
    for (size_t i = 0; i < p->n_templates; i++) {
        const esc__template *t = &p->templates[i];
        if (!t->n_for && holds(e, t->when))
            return t;
    }
    return NULL;
}

static const esc__tmpl *customer_tmpl(const ev *e, const esc__template *t)
{
    bool email = e->t->has_channel && (e->t->channel == ESC__CH_EMAIL ||
                                       e->t->channel == ESC__CH_WEB);
    if (email && t->has_email)
        return &t->customer_email;
    if (!email && t->has_chat)
        return &t->customer_chat;
    if (t->has_default)
        return &t->customer_default;
    /* A template with only one of chat/email serves both. */
    if (t->has_chat)
        return &t->customer_chat;
    if (t->has_email)
        return &t->customer_email;
    return NULL;
}

typedef struct notif {
    const char *channel, *to, *text;
    unsigned on;      /* ESC__ON_* */
    bool own_text;    /* text or template given, not the generic line */
    const char *team; /* the team whose entry it is, or NULL */
} notif;

/* mask: the events these entries may answer in a decision (a team's
 * chain_step goes out from the service when the chain reaches it). */
static void add_notifs(ev *e, const esc__notify *nt, size_t n, unsigned mask,
                       const char *team, notif **v, size_t *nv, size_t *cap)
{
    for (size_t i = 0; i < n; i++) {
        unsigned on = nt[i].on & mask;
        if (!on || (nt[i].when && !holds(e, nt[i].when)))
            continue;
        bool dup = false;
        for (size_t k = 0; k < *nv; k++)
            dup |= (*v)[k].on == on &&
                   !strcmp((*v)[k].channel, nt[i].channel) &&
                   !strcmp((*v)[k].to ? (*v)[k].to : "",
                           nt[i].to ? nt[i].to : "");
        if (dup)
            continue;
        notif x = {.channel = nt[i].channel, .to = nt[i].to, .on = on, .team = team};
        const esc__template *tm =
            nt[i].tmpl >= 0 ? &e->p->templates[nt[i].tmpl] : NULL;
        if (nt[i].has_text || (tm && tm->has_note)) {
            x.text = render_str(e, nt[i].has_text ? &nt[i].text : &tm->note);
            x.own_text = true;
        } else {
            /* A builder of the pool: its buffer is not allocated anew. */
            esc__sb local, *sb = pool_get(e, &local);
            esc__sb_putc(sb, '[');
            put_s(sb, e->p->priorities[e->prio].name);
            esc__sb_puts(sb, "] Ticket ");
            put_s(sb, e->t->id);
            esc__sb_puts(sb, " escalated to ");
            for (size_t k = 0; k < e->n_targets; k++)
                put_sep_s(sb, k ? " + " : "", e->p->teams[e->targets[k]].name);
            if (e->n_order) {
                esc__sb_puts(sb, ": ");
                render_reason(e, sb, e->order[0]);
            }
            x.text = esc__arena_strndup(e->mem, sb->buf ? sb->buf : "",
                                        sb->len);
            pool_put(e, sb, &local);
        }
        ESC__PUSH(*v, *nv, *cap, x);
    }
}

typedef struct follow {
    int64_t at;
    const char *team;
} follow;

static void add_follow(follow **v, size_t *n, size_t *cap, int64_t at,
                       const char *team)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].at == at && !strcmp((*v)[i].team, team))
            return;
    follow f = {at, team};
    ESC__PUSH(*v, *n, *cap, f);
}

static void explain_json(ev *e, esc__sb *sb, const esc__template *tmpl)
{
    const esc_policy *p = e->p;
    bool first = true;
    esc__sb_putc(sb, '{');
    json_key(sb, "now", &first);
    json_time(sb, e->now);
    json_key(sb, "facts", &first);
    esc__sb_putc(sb, '{');
    for (int f = 0; f < ESC__FACT_COUNT; f++) {
        if (f)
            esc__sb_putc(sb, ',');
        json_s(sb, esc__fact_name((esc__fact)f));
        esc__sb_putc(sb, ':');
        value_json(sb, &e->fact[f]);
    }
    esc__sb_putc(sb, '}');
    json_key(sb, "signals", &first);
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < p->n_signals; i++) {
        const sig_state *st = &e->sig[i];
        esc__sb_printf(sb, "%s{\"signal\":", i ? "," : "");
        json_s(sb, p->signals[i].id);
        esc__sb_printf(sb, ",\"holds\":%s,\"hits\":%u,\"negated\":%u",
                       signal_holds(e, (uint32_t)i) ? "true" : "false",
                       st->hits, st->negated);
        esc__sb evj;
        esc__sb_init(&evj);
        esc__sb_putc(&evj, '[');
        esc__sb *ob = e->because, *oj = e->evjson;
        e->because = NULL;
        e->evjson = &evj;
        signal_evidence(e, (uint32_t)i);
        e->because = ob;
        e->evjson = oj;
        esc__sb_putc(&evj, ']');
        esc__sb_puts(sb, ",\"evidence\":");
        esc__sb_put(sb, evj.buf, evj.len);
        esc__sb_free(&evj);
        if (st->negated) {
            esc__sb_puts(sb, ",\"negated_example\":");
            esc__sb q;
            esc__sb_init(&q);
            put_quote(e, &q, &st->neg_ev);
            esc__sb_json_str(sb, q.buf ? q.buf : "", q.len);
            esc__sb_free(&q);
        }
        esc__sb_putc(sb, '}');
    }
    esc__sb_putc(sb, ']');
    json_key(sb, "rules", &first);
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < p->n_rules; i++) {
        const rule_state *rs = &e->rules[i];
        esc__sb_printf(sb, "%s{\"rule\":", i ? "," : "");
        json_s(sb, p->rules[i].id);
        esc__sb_printf(sb, ",\"fired\":%s", rs->fired ? "true" : "false");
        if (rs->fired && rs->held_by >= 0) {
            esc__sb_puts(sb, ",\"held_by\":");
            json_s(sb, p->suppressions[rs->held_by].id);
        }
        if (!rs->fired && rs->failed) {
            const esc__cond *f = rs->failed;
            esc__sb_puts(sb, ",\"failed\":{\"condition\":");
            json_s(sb, f->src ? f->src : "");
            esc__sb_printf(sb, ",\"at\":\"%s:%d:%d\"", p->file, f->line,
                           f->col);
            if (f->kind == ESC__C_CMP || f->kind == ESC__C_TRUTH) {
                esc__value a = operand(e, &f->a);
                esc__sb_puts(sb, ",\"value\":");
                value_json(sb, &a);
            }
            esc__sb_putc(sb, '}');
        }
        esc__sb_putc(sb, '}');
    }
    esc__sb_putc(sb, ']');
    json_key(sb, "suppressions", &first);
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < p->n_suppressions; i++) {
        const esc__suppression *s = &p->suppressions[i];
        bool when = holds(e, s->when);
        bool except = s->except && holds(e, s->except);
        bool held = false;
        for (size_t r = 0; r < p->n_rules; r++)
            held |= e->rules[r].fired && e->rules[r].held_by == (int)i;
        esc__sb_printf(sb, "%s{\"suppression\":", i ? "," : "");
        json_s(sb, s->id);
        esc__sb_printf(sb, ",\"when\":%s,\"except\":%s,\"held\":%s}",
                       when ? "true" : "false", except ? "true" : "false",
                       held ? "true" : "false");
    }
    esc__sb_putc(sb, ']');
    json_key(sb, "template", &first);
    json_s(sb, tmpl ? tmpl->id : NULL);
    esc__sb_putc(sb, '}');
}

int esc_engine_evaluate(esc_engine *eng, const esc_ticket *ticket, int64_t now,
                        unsigned flags, esc_decision **out, esc_error *err)
{
    if (!eng || !ticket || !out)
        return ESC_EINVAL;
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    const esc_policy *p = eng->p;
    esc__arena_reset(&eng->mem);
    ev e = {.p = p, .t = ticket, .now = now, .cals = eng->cals, .memo = eng->memo,
            .field_order = eng->field_order, .shout_sigs = eng->shout_sigs,
            .n_shout_sigs = eng->n_shout_sigs, .pool = eng->pool,
            .mem = &eng->mem, .err = err,
            .prio = -1, .level = -1, .respond_by = ESC__NO_TIME,
            .resolve_by = ESC__NO_TIME};

    load_fields(&e);
    if (e.failed)
        return ESC_ETICKET;
    /* A signal's state is over 200 bytes, mostly hits that are read only
     * as far as its counters say: only the counters are cleared. */
    e.sig = esc__arena_alloc_raw(e.mem, (p->n_signals ? p->n_signals : 1) *
                                            sizeof(*e.sig));
    for (size_t i = 0; i < p->n_signals; i++) {
        e.sig[i].hits = e.sig[i].negated = e.sig[i].n_ev = 0;
        e.sig[i].any = false;
    }
    if (scan_all(&e, eng->scratch) < 0) {
        set_err(&e, "", "the text matcher failed");
        return ESC_EMATCH;
    }
    compute_facts(&e, eng->scratch);

    /* Rules. */
    size_t nr = p->n_rules;
    e.rules = esc__arena_alloc(e.mem, (nr ? nr : 1) * sizeof(*e.rules));
    /* The engine's builders, taken for this evaluation (given back below). */
    esc__sb because = eng->because, evj = eng->evj;
    esc__sb_init(&eng->because);
    esc__sb_init(&eng->evj);
    esc__sb_reset(&because);
    esc__sb_reset(&evj);
    for (size_t i = 0; i < nr; i++) {
        rule_state *rs = &e.rules[i];
        rs->held_by = -1;
        /* Most rules do not fire: decide first, then write the evidence of
         * those that do by evaluating them again (eval_cond is a pure
         * function of the evaluation state; a condition that holds sets no
         * failed condition). */
        const esc__cond *when = p->rules[i].when;
        if (quiet_signal(&e, when)) {
            rs->fired = signal_holds(&e, when->a.index);
            rs->failed = rs->fired ? NULL : when;
        } else {
            rs->fired = eval_cond(&e, when, &rs->failed);
        }
        if (rs->fired) {
            const esc__cond *none = NULL;
            esc__sb_reset(&because);
            esc__sb_reset(&evj);
            esc__sb_putc(&evj, '[');
            e.because = &because;
            e.evjson = &evj;
            eval_cond(&e, p->rules[i].when, &none);
            e.because = e.evjson = NULL;
            esc__sb_putc(&evj, ']');
            rs->because = esc__arena_strndup(e.mem, because.buf ? because.buf
                                                                : "",
                                             because.len);
            rs->evidence_json = esc__arena_strndup(e.mem, evj.buf, evj.len);
        }
    }

    /* Suppressions. */
    typedef struct supp_out {
        uint32_t s;
        char *because;
    } supp_out;
    supp_out *supp = NULL;
    size_t nsupp = 0, capsupp = 0;
    for (size_t i = 0; i < p->n_suppressions; i++) {
        const esc__suppression *s = &p->suppressions[i];
        bool any_fired = false;
        for (size_t r = 0; r < nr; r++)
            any_fired |= e.rules[r].fired && e.rules[r].held_by < 0;
        if (!any_fired)
            break;
        esc__sb_reset(&because);
        e.because = &because;
        bool when = eval_cond(&e, s->when, NULL);
        e.because = NULL;
        if (!when || (s->except && holds(&e, s->except)))
            continue;
        bool held_any = false;
        for (size_t r = 0; r < nr; r++) {
            const esc__rule *ru = &p->rules[r];
            rule_state *rs = &e.rules[r];
            if (!rs->fired || rs->held_by >= 0 || ru->unsuppressible ||
                p->priorities[ru->priority].unsuppressible)
                continue;
            bool covered = !s->applies_to;
            for (size_t k = 0; k < s->n_applies_to; k++)
                covered |= s->applies_to[k] == r;
            if (covered) {
                rs->held_by = (int)i;
                held_any = true;
            }
        }
        if (held_any) {
            supp_out so = {(uint32_t)i,
                           esc__arena_strndup(e.mem,
                                              because.buf ? because.buf : "",
                                              because.len)};
            ESC__PUSH(supp, nsupp, capsupp, so);
        }
    }

    /* Combine. */
    uint32_t *order = esc__arena_alloc(e.mem, (nr ? nr : 1) * sizeof(*order));
    size_t no = 0;
    for (size_t i = 0; i < nr; i++)
        if (e.rules[i].fired && e.rules[i].held_by < 0)
            order[no++] = (uint32_t)i;
    qsort_r(order, no, sizeof(*order), rule_order_cmp, (void *)p);
    e.order = order;
    e.n_order = no;

    uint32_t *targets = NULL;
    size_t nt = 0, capt = 0;
    const char **tags = NULL;
    size_t ntag = 0, captag = 0;
    uint32_t *acts = NULL;
    size_t nact = 0, capact = 0;
    bool stop = false;
    int prio = -1;
    for (size_t i = 0; i < no; i++) {
        const esc__rule *r = &p->rules[order[i]];
        if (r->escalate) {
            if (prio < 0)
                prio = (int)r->priority;
            e.escalate = true;
            for (size_t k = 0; k <= r->n_targets; k++) {
                int team = k < r->n_targets ? (int)r->targets[k]
                         : r->next_tier     ? next_tier_team(&e)
                                            : -1;
                if (team < 0)
                    continue;
                bool dup = false;
                for (size_t j = 0; j < nt; j++)
                    dup |= targets[j] == (uint32_t)team;
                if (!dup)
                    ESC__PUSH(targets, nt, capt, (uint32_t)team);
            }
        }
        stop |= r->stop_conversation;
        for (size_t k = 0; k < r->n_tags; k++)
            add_unique(&tags, &ntag, &captag, r->tags[k]);
        for (size_t k = 0; k < r->n_actions; k++) {
            bool dup = false;
            for (size_t j = 0; j < nact; j++)
                dup |= acts[j] == r->actions[k];
            if (!dup)
                ESC__PUSH(acts, nact, capact, r->actions[k]);
        }
        if (r->level > e.level)
            e.level = r->level;
    }
    if (prio < 0)
        prio = (int)p->default_priority;
    e.prio = prio;
    e.targets = targets;
    e.n_targets = nt;
    if (e.escalate) {
        const esc__priority *pr = &p->priorities[prio];
        for (size_t k = 0; k < pr->n_tags; k++)
            add_unique(&tags, &ntag, &captag, pr->tags[k]);
        for (size_t i = 0; i < nt; i++) {
            const esc__team *tm = &p->teams[targets[i]];
            for (size_t k = 0; k < tm->n_tags; k++)
                add_unique(&tags, &ntag, &captag, tm->tags[k]);
        }
        if (pr->respond_within >= 0)
            e.respond_by = deadline(&e, pr->calendar, pr->respond_within);
        else if (nt && p->teams[targets[0]].respond_within >= 0)
            e.respond_by = deadline(&e, p->teams[targets[0]].calendar,
                                    p->teams[targets[0]].respond_within);
        /* The resolution target: the priority's, else the primary
         * target's, else the level's (counted in the priority's hours). */
        if (pr->resolve_within >= 0)
            e.resolve_by = deadline(&e, pr->calendar, pr->resolve_within);
        else if (nt && p->teams[targets[0]].resolve_within >= 0)
            e.resolve_by = deadline(&e, p->teams[targets[0]].calendar,
                                    p->teams[targets[0]].resolve_within);
        else if (e.level >= 0 && p->levels[e.level].resolve_within >= 0)
            e.resolve_by = deadline(&e, pr->calendar,
                                    p->levels[e.level].resolve_within);
    }
    e.tags = tags;
    e.n_tags = ntag;
    e.actions = acts;
    e.n_actions = nact;

    const esc__template *tmpl = e.escalate ? choose_template(&e) : NULL;
    const char **miss = NULL;
    size_t nmiss = 0, capmiss = 0;
    follow *fus = NULL;
    size_t nfu = 0, capfu = 0;
    notif *nts = NULL;
    size_t nnt = 0, capnt = 0;
    char *note = NULL, *cmsg = NULL;
    /* A fired rule's requirements count even when it does not escalate
     * (an action that needs a phone number, say). */
    for (size_t i = 0; i < no; i++)
        check_required(&e, p->rules[order[i]].requires,
                       p->rules[order[i]].n_requires, &miss, &nmiss, &capmiss);
    if (e.escalate) {
        check_required(&e, p->requires, p->n_requires, &miss, &nmiss,
                       &capmiss);
        for (size_t i = 0; i < nt; i++)
            check_required(&e, p->teams[targets[i]].requires,
                           p->teams[targets[i]].n_requires, &miss, &nmiss,
                           &capmiss);
        if (tmpl)
            check_required(&e, tmpl->requires, tmpl->n_requires, &miss,
                           &nmiss, &capmiss);
        const esc__priority *pr = &p->priorities[prio];
        for (size_t k = 0; k < pr->n_follow_ups && nt; k++)
            add_follow(&fus, &nfu, &capfu,
                       deadline(&e, pr->calendar, pr->follow_ups[k]),
                       p->teams[targets[0]].id);
        for (size_t i = 0; i < nt; i++) {
            const esc__team *tm = &p->teams[targets[i]];
            for (size_t k = 0; k < tm->n_follow_ups; k++)
                add_follow(&fus, &nfu, &capfu,
                           deadline(&e, tm->calendar, tm->follow_ups[k]),
                           tm->id);
        }
        add_notifs(&e, pr->notify, pr->n_notify, ~0u, NULL, &nts, &nnt, &capnt);
        for (size_t i = 0; i < nt; i++)
            add_notifs(&e, p->teams[targets[i]].notify,
                       p->teams[targets[i]].n_notify, ~(unsigned)ESC__ON_CHAIN_STEP,
                       p->teams[targets[i]].id, &nts, &nnt, &capnt);
        for (size_t i = 0; i < no; i++)
            add_notifs(&e, p->rules[order[i]].notify,
                       p->rules[order[i]].n_notify, ~0u, NULL, &nts, &nnt, &capnt);
        e.missing = miss;
        e.n_missing = nmiss;
        note = tmpl && tmpl->has_note ? render_str(&e, &tmpl->note)
                                      : generic_note(&e);
        const esc__tmpl *ct = tmpl ? customer_tmpl(&e, tmpl) : NULL;
        if (ct)
            cmsg = render_str(&e, ct);
    }
    const char **sugg = NULL;
    size_t nsugg = 0, capsugg = 0;
    for (size_t i = 0; i < p->n_advice; i++)
        if (holds(&e, p->advice[i].when))
            ESC__PUSH(sugg, nsugg, capsugg,
                      (const char *)render_str(&e, &p->advice[i].text));

    /* The decision JSON, in the order of DESIGN.md. */
    esc__sb js = eng->js;
    esc__sb_init(&eng->js);
    esc__sb_reset(&js);
    bool first = true;
    uint32_t starts[DM_COUNT];
    esc__sb_putc(&js, '{');
    member_key(&js, "ticket", DM_TICKET, starts, &first);
    json_s(&js, ticket->id);
    member_key(&js, "policy", DM_POLICY, starts, &first);
    json_s(&js, p->name);
    member_key(&js, "escalate", DM_ESCALATE, starts, &first);
    esc__sb_puts(&js, e.escalate ? "true" : "false");
    member_key(&js, "priority", DM_PRIORITY, starts, &first);
    json_s(&js, p->priorities[prio].id);
    member_key(&js, "targets", DM_TARGETS, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < nt; i++) {
        if (i)
            esc__sb_putc(&js, ',');
        json_s(&js, p->teams[targets[i]].id);
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "stop_conversation", DM_STOP_CONVERSATION, starts, &first);
    esc__sb_puts(&js, stop ? "true" : "false");
    member_key(&js, "respond_by", DM_RESPOND_BY, starts, &first);
    json_time(&js, e.respond_by);
    member_key(&js, "resolve_by", DM_RESOLVE_BY, starts, &first);
    json_time(&js, e.resolve_by);
    member_key(&js, "reasons", DM_REASONS, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < no; i++) {
        const esc__rule *r = &p->rules[order[i]];
        const rule_state *rs = &e.rules[order[i]];
        esc__sb_puts(&js, i ? ",{\"rule\":" : "{\"rule\":");
        json_s(&js, r->id);
        esc__sb_puts(&js, ",\"because\":");
        json_s(&js, rs->because);
        if (r->has_reason) {
            esc__sb_puts(&js, ",\"reason\":");
            json_s(&js, render_str(&e, &r->reason));
        }
        esc__sb_puts(&js, ",\"priority\":");
        json_s(&js, p->priorities[r->priority].id);
        esc__sb_puts(&js, ",\"evidence\":");
        esc__sb_puts(&js, rs->evidence_json);
        esc__sb_putc(&js, '}');
    }
    if (!no) {
        esc__sb_puts(&js, "{\"rule\":null,\"because\":");
        char buf[256];
        if (nsupp) {
            snprintf(buf, sizeof(buf),
                     "every rule that applied was held back by a "
                     "suppression (%s)", p->suppressions[supp[0].s].id);
        } else {
            snprintf(buf, sizeof(buf),
                     "no rule applies: %zu rule%s checked, none held", nr,
                     nr == 1 ? "" : "s");
        }
        json_s(&js, buf);
        esc__sb_putc(&js, '}');
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "suppressed", DM_SUPPRESSED, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < nsupp; i++) {
        const esc__suppression *s = &p->suppressions[supp[i].s];
        esc__sb_puts(&js, i ? ",{\"suppression\":" : "{\"suppression\":");
        json_s(&js, s->id);
        esc__sb_puts(&js, ",\"rules\":[");
        bool f1 = true;
        for (size_t r = 0; r < nr; r++)
            if (e.rules[r].held_by == (int)supp[i].s) {
                esc__sb_puts(&js, f1 ? "" : ",");
                json_s(&js, p->rules[r].id);
                f1 = false;
            }
        esc__sb_puts(&js, "],\"because\":");
        json_s(&js, supp[i].because);
        if (s->has_reason) {
            esc__sb_puts(&js, ",\"reason\":");
            json_s(&js, render_str(&e, &s->reason));
        }
        esc__sb_putc(&js, '}');
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "tags", DM_TAGS, starts, &first);
    json_strs(&js, tags, ntag);
    member_key(&js, "actions", DM_ACTIONS, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < nact; i++) {
        if (i)
            esc__sb_putc(&js, ',');
        json_s(&js, p->actions[acts[i]].id);
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "level", DM_LEVEL, starts, &first);
    json_s(&js, e.level >= 0 ? p->levels[e.level].id : NULL);
    member_key(&js, "follow_ups", DM_FOLLOW_UPS, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < nfu; i++) {
        esc__sb_puts(&js, i ? ",{\"at\":" : "{\"at\":");
        json_time(&js, fus[i].at);
        esc__sb_puts(&js, ",\"team\":");
        json_s(&js, fus[i].team);
        esc__sb_putc(&js, '}');
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "notifications", DM_NOTIFICATIONS, starts, &first);
    esc__sb_putc(&js, '[');
    for (size_t i = 0; i < nnt; i++) {
        esc__sb_puts(&js, i ? ",{\"channel\":" : "{\"channel\":");
        json_s(&js, nts[i].channel);
        esc__sb_puts(&js, ",\"to\":");
        json_s(&js, nts[i].to);
        esc__sb_puts(&js, ",\"text\":");
        json_s(&js, nts[i].text);
        if (nts[i].on != ESC__ON_ESCALATED) {
            /* Lifecycle events too: the service sends these later. */
            esc__sb_puts(&js, ",\"on\":[");
            for (size_t k = 0, m = 0; esc__notify_events[k]; k++)
                if (nts[i].on & (1u << k))
                    esc__sb_printf(&js, "%s\"%s\"", m++ ? "," : "",
                                   esc__notify_events[k]);
            esc__sb_printf(&js, "],\"own_text\":%s",
                           nts[i].own_text ? "true" : "false");
            if (nts[i].team) {
                /* A team's follow-up reminders go to the team that owns
                 * the follow-up. */
                esc__sb_puts(&js, ",\"team\":");
                json_s(&js, nts[i].team);
            }
        }
        esc__sb_putc(&js, '}');
    }
    esc__sb_putc(&js, ']');
    member_key(&js, "missing", DM_MISSING, starts, &first);
    json_strs(&js, miss, nmiss);
    member_key(&js, "note", DM_NOTE, starts, &first);
    json_s(&js, note);
    member_key(&js, "customer_message", DM_CUSTOMER_MESSAGE, starts, &first);
    json_s(&js, cmsg);
    member_key(&js, "suggestions", DM_SUGGESTIONS, starts, &first);
    json_strs(&js, sugg, nsugg);
    member_key(&js, "sentiment", DM_SENTIMENT, starts, &first);
    json_s(&js, e.fact[ESC__FACT_SENTIMENT].s);
    esc__sb_putc(&js, '}');

    esc_decision *d = esc__xcalloc(1, sizeof(*d));
    memcpy(d->start, starts, sizeof(starts));
    d->len = js.len;
    d->json = esc__xmalloc(js.len + 1);
    memcpy(d->json, js.buf, js.len + 1);
    eng->js = js;
    if (flags & ESC_EVAL_EXPLAIN) {
        esc__sb ex;
        esc__sb_init(&ex);
        explain_json(&e, &ex, tmpl);
        d->explain = esc__sb_take(&ex, &d->explain_len);
    }
    d->escalate = e.escalate;
    d->stop = stop;
    d->priority = esc__xstrdup(p->priorities[prio].id);
    d->n_targets = nt;
    d->targets = esc__xcalloc(nt ? nt : 1, sizeof(char *));
    for (size_t i = 0; i < nt; i++)
        d->targets[i] = esc__xstrdup(p->teams[targets[i]].id);

    free(supp);
    free(targets);
    free(tags);
    free(acts);
    free(miss);
    free(fus);
    free(nts);
    free(sugg);
    eng->because = because;
    eng->evj = evj;
    *out = d;
    return 0;
}

/* Re-indents compact JSON with two spaces. */
static void pretty(esc__sb *out, const char *s, size_t len, int base)
{
    int depth = base;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            esc__sb_putc(out, c);
            if (c == '\\' && i + 1 < len)
                esc__sb_putc(out, s[++i]);
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            esc__sb_putc(out, c);
            break;
        case '{':
        case '[':
            if (i + 1 < len && (s[i + 1] == '}' || s[i + 1] == ']')) {
                esc__sb_putc(out, c);
                esc__sb_putc(out, s[++i]);
                break;
            }
            esc__sb_putc(out, c);
            depth++;
            esc__sb_putc(out, '\n');
            for (int k = 0; k < depth; k++)
                esc__sb_puts(out, "  ");
            break;
        case '}':
        case ']':
            depth--;
            esc__sb_putc(out, '\n');
            for (int k = 0; k < depth; k++)
                esc__sb_puts(out, "  ");
            esc__sb_putc(out, c);
            break;
        case ',':
            esc__sb_putc(out, c);
            esc__sb_putc(out, '\n');
            for (int k = 0; k < depth; k++)
                esc__sb_puts(out, "  ");
            break;
        case ':':
            esc__sb_puts(out, ": ");
            break;
        default:
            esc__sb_putc(out, c);
        }
    }
}

char *esc_decision_json(const esc_decision *d, unsigned flags, size_t *len)
{
    if (!d)
        return NULL;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb compact;
    esc__sb_init(&compact);
    esc__sb_put(&compact, d->json, d->len - 1); /* without the final '}' */
    if ((flags & ESC_JSON_EXPLAIN) && d->explain) {
        esc__sb_puts(&compact, ",\"explain\":");
        esc__sb_put(&compact, d->explain, d->explain_len);
    }
    esc__sb_putc(&compact, '}');
    if (flags & ESC_JSON_PRETTY) {
        pretty(&sb, compact.buf, compact.len, 0);
        esc__sb_free(&compact);
        return esc__sb_take(&sb, len);
    }
    esc__sb_free(&sb);
    return esc__sb_take(&compact, len);
}
