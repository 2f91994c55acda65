/*
 * auth.h - API tokens and their roles.
 *
 * Tokens come from the `tokens` setting as ROLE:TOKEN,... Roles grant:
 *   bot     evaluate
 *   viewer  read (tickets, queues, metrics)
 *   agent   evaluate, read, write (tickets, messages, events)
 *   admin   everything, including reload and the manual clock
 * Tokens are compared in constant time with respect to their content.
 */
#ifndef ESC_SERVER_AUTH_H
#define ESC_SERVER_AUTH_H

#include <stdbool.h>

enum {
    PERM_EVALUATE = 1u << 0,
    PERM_READ = 1u << 1,
    PERM_WRITE = 1u << 2,
    PERM_ADMIN = 1u << 3
};

typedef struct auth auth;

/* Parses the tokens setting; NULL with *err set when it is malformed. An
 * empty setting gives an auth that lets everything through (*open = true). */
auth *auth_new(const char *tokens, const char **err);
void auth_free(auth **a);
bool auth_open(const auth *a);
/* The permissions of a bearer token (0 when it is unknown or NULL). */
unsigned auth_permissions(const auth *a, const char *token);

#endif
