/*
 * policy.h - the compiled policy: what the engine runs.
 *
 * A compiled policy is built once by the compiler (policy.c) from the YAML
 * document, is immutable afterwards and is shared by threads through a
 * reference count. Every string and array in it is owned by the policy and
 * released with it.
 */
#ifndef ESC_POLICY_H
#define ESC_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "escalator.h"
#include "calendar.h"
#include "text.h"
#include "util.h"

/* ---- values ---------------------------------------------------------- */

typedef enum {
    ESC__T_NULL,
    ESC__T_BOOL,
    ESC__T_NUM,
    ESC__T_DUR,  /* seconds */
    ESC__T_STR,
    ESC__T_LIST, /* of strings */
    ESC__T_TIME, /* Unix seconds */
    ESC__T_ANY   /* compile time only: not known yet */
} esc__type;

typedef struct esc__value {
    esc__type t;
    bool b;
    double n;       /* NUM */
    int64_t d;      /* DUR, TIME */
    const char *s;  /* STR */
    const char *const *items; /* LIST */
    size_t n_items;
} esc__value;

const char *esc__type_name(esc__type t);

/* ---- conditions ------------------------------------------------------ */

typedef enum {
    ESC__OPD_CONST,
    ESC__OPD_FIELD,          /* index: field */
    ESC__OPD_CUSTOMER_TIER,
    ESC__OPD_CUSTOMER_ID,
    ESC__OPD_CUSTOMER_EMAIL,
    ESC__OPD_CUSTOMER_NAME,
    ESC__OPD_CUSTOMER_FLAGS,
    ESC__OPD_CUSTOMER_TENURE,
    ESC__OPD_CHANNEL,
    ESC__OPD_STATUS,
    ESC__OPD_LEVEL,
    ESC__OPD_SUBJECT,
    ESC__OPD_SIGNAL,         /* index: signal */
    ESC__OPD_SIGNAL_HITS,    /* index: signal */
    ESC__OPD_FACT,           /* index: esc__fact */
    ESC__OPD_DECISION_ESCALATE,
    ESC__OPD_DECISION_PRIORITY,
    ESC__OPD_DECISION_TARGETS
} esc__opd_kind;

typedef enum {
    ESC__FACT_AGE,
    ESC__FACT_SINCE_CUSTOMER,
    ESC__FACT_SINCE_REPLY,
    ESC__FACT_CUSTOMER_GAP,
    ESC__FACT_CUSTOMER_MESSAGES,
    ESC__FACT_REPLIES,
    ESC__FACT_REPEATS,
    ESC__FACT_TROUBLESHOOTING_STEPS,
    ESC__FACT_SENTIMENT,
    ESC__FACT_BUSINESS_HOURS,
    ESC__FACT_COUNT
} esc__fact;

const char *esc__fact_name(esc__fact f);

typedef struct esc__operand {
    esc__opd_kind kind;
    esc__type type;
    uint32_t index;
    esc__value k;       /* ESC__OPD_CONST */
    const char *text;   /* as written, for explanations */
} esc__operand;

typedef enum {
    ESC__C_AND,
    ESC__C_OR,
    ESC__C_NOT,
    ESC__C_CMP,
    ESC__C_TRUTH,
    ESC__C_CONST
} esc__cond_kind;

typedef enum {
    ESC__OP_EQ,
    ESC__OP_NE,
    ESC__OP_LT,
    ESC__OP_LE,
    ESC__OP_GT,
    ESC__OP_GE,
    ESC__OP_IN,
    ESC__OP_HAS,
    ESC__OP_CONTAINS
} esc__op;

const char *esc__op_text(esc__op op);

typedef struct esc__cond esc__cond;
struct esc__cond {
    esc__cond_kind kind;
    esc__op op;              /* CMP */
    esc__operand a, b;       /* CMP: a op b; TRUTH: a */
    bool value;              /* CONST */
    esc__cond **kids;        /* AND, OR: n kids; NOT: one */
    size_t n_kids;
    const char *src;         /* source text of this node */
    int line, col;
};

/* ---- templates ------------------------------------------------------- */

typedef enum {
    ESC__PH_TEXT,       /* literal text */
    ESC__PH_OPERAND,    /* an operand path (fields., customer., facts. ...) */
    ESC__PH_TICKET_ID,
    ESC__PH_PRIORITY_ID,
    ESC__PH_PRIORITY_NAME,
    ESC__PH_PRIORITY_PROMISE,
    ESC__PH_TEAM_ID,
    ESC__PH_TEAM_NAME,
    ESC__PH_TEAM_PROMISE,
    ESC__PH_TEAM_RESPOND,
    ESC__PH_TARGETS,
    ESC__PH_REASONS,
    ESC__PH_EVIDENCE,
    ESC__PH_TROUBLESHOOTING,
    ESC__PH_FIRST_MESSAGE,
    ESC__PH_LAST_MESSAGE,
    ESC__PH_RESPOND_BY,
    ESC__PH_RESOLVE_BY,
    ESC__PH_TAGS,
    ESC__PH_ACTIONS,
    ESC__PH_CUSTOMER_SINCE,
    ESC__PH_LEVEL_NAME,
    ESC__PH_MISSING
} esc__ph_kind;

typedef struct esc__segment {
    esc__ph_kind kind;
    const char *text;     /* TEXT: the literal; otherwise the path */
    size_t len;
    esc__operand opd;     /* OPERAND */
    const char *fallback; /* NULL: render "[path]" when absent */
} esc__segment;

typedef struct esc__tmpl {
    esc__segment *segs;
    size_t n_segs;
} esc__tmpl;

/* ---- the policy ------------------------------------------------------ */

/* The events a notify entry answers (its `on:`), as bits. */
enum {
    ESC__ON_ESCALATED = 1u << 0,
    ESC__ON_SLA_WARNING = 1u << 1,
    ESC__ON_SLA_BREACH = 1u << 2,
    ESC__ON_ACKNOWLEDGED = 1u << 3,
    ESC__ON_FOLLOW_UP = 1u << 4,
    ESC__ON_CHAIN_STEP = 1u << 5,
    ESC__ON_RESOLUTION_BREACH = 1u << 6
};
/* Their names, in bit order, NULL-terminated. */
extern const char *const esc__notify_events[];

typedef struct esc__notify {
    const char *channel;
    const char *to;
    esc__tmpl text;     /* may be empty */
    bool has_text;
    struct esc__cond *when; /* NULL: always */
    unsigned on;        /* ESC__ON_* bits; ESC__ON_ESCALATED by default */
    int tmpl;           /* index into templates whose note is the text; -1 */
} esc__notify;

typedef struct esc__field {
    const char *name;
    esc__type type;     /* NUM for number and integer */
    bool integer;
    const char *const *values; /* allowed string values, or NULL */
    size_t n_values;
    const char *label;
} esc__field;

typedef struct esc__setting {
    const char *name;
    esc__value value;
    const char *description;
} esc__setting;

typedef struct esc__team {
    const char *id, *name, *handles, *promise;
    int tier;           /* 0 when unset */
    int calendar;       /* index into calendars; -1: wall-clock time */
    int64_t respond_within, resolve_within; /* -1 when unset */
    int64_t acknowledge_within;             /* -1 when unset */
    int64_t *follow_ups;
    size_t n_follow_ups;
    const char **tags;
    size_t n_tags;
    const char **requires;
    size_t n_requires;
    esc__notify *notify;
    size_t n_notify;
} esc__team;

typedef struct esc__priority {
    const char *id, *name, *promise;
    int64_t respond_within, escalate_within; /* -1 when unset */
    int64_t resolve_within, acknowledge_within; /* -1 when unset */
    int64_t *follow_ups;
    size_t n_follow_ups;
    const char **tags;
    size_t n_tags;
    bool unsuppressible;
    int calendar;       /* index into calendars; -1: wall-clock time */
    esc__notify *notify;
    size_t n_notify;
} esc__priority;

typedef struct esc__level {
    const char *id, *name, *scope;
    int64_t resolve_within;
} esc__level;

typedef struct esc__action {
    const char *id, *description;
} esc__action;

typedef enum {
    ESC__SCOPE_CUSTOMER = 1u << 0,
    ESC__SCOPE_AGENT = 1u << 1,
    ESC__SCOPE_BOT = 1u << 2,
    ESC__SCOPE_SYSTEM = 1u << 3,
    ESC__SCOPE_SUBJECT = 1u << 4
} esc__scope;

typedef struct esc__signal {
    const char *id, *description;
    unsigned scope;
    unsigned min_hits;
    bool shouting;
    int lexicon;        /* -1 or esc__lexicon */
    size_t n_phrases, n_regexes;
    int line, col;
} esc__signal;

/* What a matcher pattern id stands for. */
typedef struct esc__pattern {
    uint32_t signal;    /* index into signals; UINT32_MAX: internal lexicon */
    int lexicon;        /* for internal patterns: esc__lexicon */
    const char *text;   /* the phrase or regex as written */
    bool regex;
} esc__pattern;

typedef struct esc__rule {
    const char *id, *description;
    esc__cond *when;
    const uint32_t *targets;  /* team indexes */
    size_t n_targets;
    bool next_tier;           /* target the next tier up */
    uint32_t priority;        /* index into priorities */
    const char **tags;
    size_t n_tags;
    const uint32_t *actions;
    size_t n_actions;
    int level;                /* index into levels, -1 when unset */
    bool stop_conversation;
    bool escalate;
    bool unsuppressible;
    int tmpl;                 /* index into templates, -1 when unset */
    const char **requires;
    size_t n_requires;
    esc__tmpl reason;
    bool has_reason;
    esc__notify *notify;
    size_t n_notify;
    int line, col;
} esc__rule;

typedef struct esc__suppression {
    const char *id, *description;
    esc__cond *when;
    esc__cond *except;        /* NULL when none */
    const uint32_t *applies_to; /* rule indexes; NULL: all */
    size_t n_applies_to;
    esc__tmpl reason;
    bool has_reason;
    int line, col;
} esc__suppression;

typedef struct esc__template {
    const char *id;
    const uint32_t *for_teams;
    size_t n_for;
    esc__cond *when;          /* NULL: always */
    const char **requires;
    size_t n_requires;
    esc__tmpl note;
    bool has_note;
    esc__tmpl customer_chat, customer_email, customer_default;
    bool has_chat, has_email, has_default;
} esc__template;

typedef struct esc__advice {
    const char *id;
    esc__cond *when;
    esc__tmpl text;
} esc__advice;

struct esc_policy {
    atomic_int refs;
    const char *file;
    const char *name, *description;

    esc__setting *settings;   size_t n_settings;
    esc__field *fields;       size_t n_fields;
    const char **tiers;       size_t n_tiers;   /* customer tiers; 0: any */
    const char **flags;       size_t n_flags;   /* customer flags */
    esc__level *levels;       size_t n_levels;
    esc__calendar *calendars; size_t n_calendars;
    esc__team *teams;         size_t n_teams;
    esc__priority *priorities; size_t n_priorities;
    uint32_t default_priority;
    esc__action *actions;     size_t n_actions;
    const char **requires;    size_t n_requires;
    esc__signal *signals;     size_t n_signals;
    esc__pattern *patterns;   size_t n_patterns;
    esc__rule *rules;         size_t n_rules;
    esc__suppression *suppressions; size_t n_suppressions;
    esc__template *templates; size_t n_templates;
    esc__advice *advice;      size_t n_advice;

    unsigned scan_scope;      /* union of the signals' scopes */
    bool uses_repeats;        /* facts.repeats is read somewhere */
    esc__matcher *matcher;

    /* Everything above is allocated from this arena. */
    esc__arena mem;
};

#endif /* ESC_POLICY_H */
