/*
 * compile.h - shared state of the policy compiler (policy.c, expr.c,
 * tmpl.c). Nothing here is used once a policy is compiled.
 */
#ifndef ESC_COMPILE_H
#define ESC_COMPILE_H

#include "policy.h"

typedef struct esc__cc {
    esc_policy *p;
    const char *file;
    esc_diags *diags;
    /* Template ids, known before rules are compiled. */
    const char **tmpl_ids;
    size_t n_tmpl_ids;
} esc__cc;

/* What an expression may refer to. */
enum {
    ESC__CTX_DECISION = 1u << 0 /* decision.* (templates, advice) */
};

/* Records a diagnostic at line:col (1-based; 0 for unknown). */
void esc__cc_error(esc__cc *cc, int line, int col, const char *fmt, ...)
    ESC__PRINTF(4, 5);
size_t esc__cc_error_count(const esc__cc *cc);

/*
 * Parses an expression string. `line`/`col` locate its first character in
 * the file; errors are reported with the column of the offending token.
 * Returns NULL after reporting when the expression is invalid.
 */
esc__cond *esc__expr_parse(esc__cc *cc, const char *src, int line, int col,
                           unsigned ctx);
/*
 * Resolves a path such as "fields.refund_amount" or "facts.age" to an
 * operand. Returns 0, or -1 after reporting an error at line:col.
 */
int esc__operand_resolve(esc__cc *cc, const char *path, int line, int col,
                         unsigned ctx, esc__operand *out);
/* Checks that a constant is an allowed value for the operand (channel names,
 * declared field values, level ids ...); reports and returns -1 if not. */
int esc__operand_check_value(esc__cc *cc, const esc__operand *opd,
                             const char *value, int line, int col);

/*
 * Compiles a template text. `line`/`col` locate the text's first character
 * (for block scalars: the first content line); `block` tells that newlines
 * in the text are line breaks in the file. Returns 0 or -1 after reporting.
 */
int esc__tmpl_compile(esc__cc *cc, const char *text, int line, int col,
                      bool block, unsigned ctx, esc__tmpl *out);

/* Looks up ids; -1 when absent. */
int esc__find_team(const esc_policy *p, const char *id);
int esc__find_priority(const esc_policy *p, const char *id);
int esc__find_level(const esc_policy *p, const char *id);
int esc__find_signal(const esc_policy *p, const char *id);
int esc__find_field(const esc_policy *p, const char *name);
int esc__find_setting(const esc_policy *p, const char *name);

/* Reports conditions that can never hold (for rules that can never fire). */
bool esc__cond_never(const esc__cond *c, char *why, size_t size);

#endif /* ESC_COMPILE_H */
