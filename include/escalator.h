/*
 * escalator.h - the public C API of libescalator.
 *
 * escalator applies a support team's escalation policy to tickets:
 *
 *     esc_policy_load_file()  -> compiled policy (immutable, reference-counted,
 *                                shared by any number of threads)
 *     esc_ticket_parse()      -> ticket model
 *     esc_engine_new()        -> per-thread evaluator holding scratch memory
 *     esc_engine_evaluate()   -> decision (pure function of policy, ticket, now)
 *     esc_decision_json()     -> the decision as JSON
 *
 * Ownership: every object a function hands out through an `**out` argument is
 * owned by the caller and released with the matching *_free() (or
 * esc_policy_unref()), which clears the caller's pointer. Arguments are
 * borrowed for the duration of the call. Strings returned by accessors stay
 * valid as long as the object they were read from.
 *
 * Errors: functions return int, 0 on success or a negative ESC_E* code; the
 * details (where and what) go into the esc_error or esc_diags the caller
 * passes. esc_strerror() names a code.
 */
#ifndef ESCALATOR_H
#define ESCALATOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESC_VERSION_MAJOR 0
#define ESC_VERSION_MINOR 1
#define ESC_VERSION_PATCH 0
#define ESC_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define ESC_EXTERN __attribute__((visibility("default")))
#else
#define ESC_EXTERN
#endif

/* The error codes: name, value, description. */
#define ESC_ERRNO_MAP(X)                                      \
    X(OK, 0, "success")                                       \
    X(ENOMEM, -1, "out of memory")                            \
    X(EINVAL, -2, "invalid argument")                         \
    X(EIO, -3, "input/output error")                          \
    X(EPOLICY, -4, "invalid policy")                          \
    X(ETICKET, -5, "invalid ticket")                          \
    X(ELIMIT, -6, "input exceeds a limit")                    \
    X(EMATCH, -7, "text matcher failure")

typedef enum {
#define ESC__ERRNO_ENUM(name, value, text) ESC_##name = (value),
    ESC_ERRNO_MAP(ESC__ERRNO_ENUM)
#undef ESC__ERRNO_ENUM
} esc_errno;

/* A short description of an ESC_E* code; never NULL. */
ESC_EXTERN const char *esc_strerror(int err);
ESC_EXTERN const char *esc_version(void);

/*
 * A single error with its place. `where` is a file name, a JSON pointer
 * ("/messages/3/at") or both ("ticket.json: /messages/3/at" is never built:
 * line and col are set when the place is a position in text, `pointer` when
 * it is a place in a JSON document). Empty strings mean unknown.
 */
typedef struct esc_error {
    char where[256];   /* file or input name, "" when unknown */
    int line;          /* 1-based, 0 when unknown */
    int col;           /* 1-based, 0 when unknown */
    char pointer[256]; /* JSON pointer, "" when not applicable */
    char message[512];
} esc_error;

/* Writes "where:line:col: message" or "where: pointer: message" into buf. */
ESC_EXTERN int esc_error_format(const esc_error *err, char *buf, size_t size);

/* ---- diagnostics: every problem found in a policy ---------------------- */

typedef struct esc_diag {
    const char *file; /* the name the policy was loaded under */
    int line;         /* 1-based; 0 when the problem concerns the whole file */
    int col;          /* 1-based; 0 when unknown */
    const char *message;
} esc_diag;

typedef struct esc_diags esc_diags;

ESC_EXTERN size_t esc_diags_count(const esc_diags *d);
ESC_EXTERN const esc_diag *esc_diags_at(const esc_diags *d, size_t i);
ESC_EXTERN void esc_diags_free(esc_diags **d);

/* ---- policies ------------------------------------------------------------ */

typedef struct esc_policy esc_policy;

/*
 * Loads, validates and compiles a policy. On success *out holds a policy with
 * one reference. On ESC_EPOLICY every problem found is in *diags (which the
 * caller frees even on success; it may hold nothing). `diags` may be NULL.
 */
ESC_EXTERN int esc_policy_load_file(const char *path, esc_policy **out,
                                    esc_diags **diags);
ESC_EXTERN int esc_policy_load_buffer(const char *name, const char *data,
                                      size_t len, esc_policy **out,
                                      esc_diags **diags);
/* Adds a reference; returns its argument. Thread-safe. */
ESC_EXTERN esc_policy *esc_policy_ref(esc_policy *p);
/* Drops a reference and clears *p; the last one frees the policy. */
ESC_EXTERN void esc_policy_unref(esc_policy **p);

ESC_EXTERN const char *esc_policy_name(const esc_policy *p);
/* The compiled form as JSON (malloc'ed, caller frees), for `check --dump`. */
ESC_EXTERN char *esc_policy_dump(const esc_policy *p);

/* Introspection, for coverage reports: the ids of rules, signals and
 * suppressions in file order. */
typedef enum {
    ESC_ITEM_RULE,
    ESC_ITEM_SIGNAL,
    ESC_ITEM_SUPPRESSION,
    ESC_ITEM_TEAM,
    ESC_ITEM_PRIORITY
} esc_item_kind;
ESC_EXTERN size_t esc_policy_count(const esc_policy *p, esc_item_kind kind);
ESC_EXTERN const char *esc_policy_item(const esc_policy *p, esc_item_kind kind,
                                       size_t i);

/* Business time, counted in one of the policy's calendars (`calendar` is
 * its id; NULL or "" counts wall-clock time). esc_policy_time_add stores in
 * *out the time at which `secs` seconds of opening hours have passed after
 * `start`; esc_policy_time_between stores the seconds of opening hours in
 * [from, to), 0 when to <= from. Times are Unix seconds. Each returns ESC_OK,
 * ESC_EINVAL for an unknown calendar or a negative duration, or ESC_ENOMEM.
 * Safe to call from several threads on one policy. */
ESC_EXTERN int esc_policy_time_add(const esc_policy *p, const char *calendar,
                                   int64_t start, int64_t secs, int64_t *out);
ESC_EXTERN int esc_policy_time_between(const esc_policy *p,
                                       const char *calendar, int64_t from,
                                       int64_t to, int64_t *out);

/* ---- tickets ------------------------------------------------------------- */

typedef struct esc_ticket esc_ticket;

/* Limits applied while parsing; exceeding one is ESC_ELIMIT. */
#define ESC_TICKET_MAX_BYTES (64u * 1024u * 1024u)
#define ESC_TICKET_MAX_MESSAGES 1000000u

/*
 * Parses a ticket from JSON text (the contract in DESIGN.md). `name` is used
 * in error messages ("ticket.json"). On failure returns ESC_ETICKET (or
 * ESC_ELIMIT, ESC_ENOMEM) and fills *err with the place: line and column for
 * syntax errors, a JSON pointer for wrong types or values.
 */
ESC_EXTERN int esc_ticket_parse(const char *json, size_t len, const char *name,
                                esc_ticket **out, esc_error *err);
ESC_EXTERN void esc_ticket_free(esc_ticket **t);
ESC_EXTERN const char *esc_ticket_id(const esc_ticket *t);

/* ---- time -------------------------------------------------------------- */

/* RFC 3339 ("2026-11-20T10:00:00Z", offsets, fractions) to Unix seconds. */
ESC_EXTERN int esc_time_parse(const char *s, int64_t *out);
/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ"; buf needs 21 bytes. */
ESC_EXTERN int esc_time_format(int64_t t, char *buf, size_t size);

/* ---- the engine ---------------------------------------------------------- */

typedef struct esc_engine esc_engine;
typedef struct esc_decision esc_decision;

/*
 * An engine evaluates tickets against one policy. It holds a reference to the
 * policy and the scratch memory of the text matcher: create one per thread;
 * one engine must not be used by two threads at once.
 */
ESC_EXTERN int esc_engine_new(esc_policy *p, esc_engine **out);
ESC_EXTERN void esc_engine_free(esc_engine **e);

enum {
    ESC_EVAL_EXPLAIN = 1u << 0 /* record rules that did not fire, and why */
};

/*
 * Decides what to do with `ticket` at time `now` (Unix seconds). Pure: no
 * I/O, no clock. Returns ESC_ETICKET with *err set when the ticket does not
 * fit the policy (a declared field of the wrong type, for example).
 */
ESC_EXTERN int esc_engine_evaluate(esc_engine *e, const esc_ticket *ticket,
                                   int64_t now, unsigned flags,
                                   esc_decision **out, esc_error *err);
ESC_EXTERN void esc_decision_free(esc_decision **d);

enum {
    ESC_JSON_PRETTY = 1u << 0, /* indent by two spaces */
    ESC_JSON_EXPLAIN = 1u << 1 /* include the "explain" object */
};

/* The decision as JSON (malloc'ed, NUL-terminated; caller frees). */
ESC_EXTERN char *esc_decision_json(const esc_decision *d, unsigned flags,
                                   size_t *len);

ESC_EXTERN int esc_decision_escalate(const esc_decision *d);
ESC_EXTERN const char *esc_decision_priority(const esc_decision *d);
ESC_EXTERN size_t esc_decision_target_count(const esc_decision *d);
ESC_EXTERN const char *esc_decision_target(const esc_decision *d, size_t i);
ESC_EXTERN int esc_decision_stop_conversation(const esc_decision *d);

#ifdef __cplusplus
}
#endif

#endif /* ESCALATOR_H */
