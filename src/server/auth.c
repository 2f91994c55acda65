/*
 * auth.c - API tokens (see auth.h).
 */
#include "auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct token {
    char *secret;
    size_t len;
    unsigned perms;
} token;

struct auth {
    token *tokens;
    size_t n;
};

static unsigned role_perms(const char *role, size_t len)
{
#define IS(s) (len == strlen(s) && !memcmp(role, s, len))
    if (IS("bot"))
        return PERM_EVALUATE;
    if (IS("viewer"))
        return PERM_READ;
    if (IS("agent"))
        return PERM_EVALUATE | PERM_READ | PERM_WRITE;
    if (IS("admin"))
        return PERM_EVALUATE | PERM_READ | PERM_WRITE | PERM_ADMIN;
#undef IS
    return 0;
}

auth *auth_new(const char *spec, const char **err)
{
    auth *a = calloc(1, sizeof(*a));
    if (!a) {
        *err = "out of memory";
        return NULL;
    }
    const char *p = spec ? spec : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *end = p + strcspn(p, ", ");
        const char *colon = memchr(p, ':', (size_t)(end - p));
        unsigned perms = colon ? role_perms(p, (size_t)(colon - p)) : 0;
        if (!colon || !perms || end - colon - 1 < 8) {
            *err = "tokens: expected ROLE:TOKEN,... with roles bot, viewer, agent "
                   "or admin and tokens of at least 8 characters";
            auth_free(&a);
            return NULL;
        }
        token *grown = realloc(a->tokens, (a->n + 1) * sizeof(*grown));
        if (!grown) {
            *err = "out of memory";
            auth_free(&a);
            return NULL;
        }
        a->tokens = grown;
        a->tokens[a->n].len = (size_t)(end - colon - 1);
        a->tokens[a->n].secret = strndup(colon + 1, a->tokens[a->n].len);
        a->tokens[a->n].perms = perms;
        a->n++;
        p = end;
    }
    return a;
}

void auth_free(auth **pa)
{
    auth *a = *pa;
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->tokens[i].secret);
    free(a->tokens);
    free(a);
    *pa = NULL;
}

bool auth_open(const auth *a) { return a->n == 0; }

/* Equal in time that depends on the lengths only, not on where they differ. */
static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char diff = (unsigned char)(alen != blen);
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

unsigned auth_permissions(const auth *a, const char *given)
{
    if (auth_open(a))
        return PERM_EVALUATE | PERM_READ | PERM_WRITE | PERM_ADMIN;
    if (!given)
        return 0;
    size_t glen = strlen(given);
    unsigned perms = 0;
    /* Every token is compared, so the time does not say which matched. */
    for (size_t i = 0; i < a->n; i++)
        if (ct_equal(given, glen, a->tokens[i].secret, a->tokens[i].len))
            perms |= a->tokens[i].perms;
    return perms;
}
