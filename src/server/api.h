/*
 * api.h - the routes of the HTTP API (docs/api.md): from a method, a path,
 * the bearer token and the body to a status and a JSON (or text) response.
 * Independent of the HTTP library, so that it can be tested without sockets.
 */
#ifndef ESC_SERVER_API_H
#define ESC_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "service.h"

typedef struct api_response {
    int status;
    char *body;               /* malloc'ed; the caller frees */
    size_t len;
    const char *content_type; /* static */
} api_response;

/* `too_large`: the body went past max_body and was not kept. */
void api_handle(service *svc, const auth *a, const char *method, const char *url,
                const char *authorization, const char *body, size_t len,
                bool too_large, api_response *out);

/* What else of the request a route may read: a header or a query-string
 * argument by name (NULL when absent). */
typedef struct api_lookup {
    const char *(*header)(void *cls, const char *name);
    const char *(*query)(void *cls, const char *name);
    void *cls;
} api_lookup;

/* api_handle with the request's headers and query string (lk may be NULL:
 * none). */
void api_handle_ex(service *svc, const auth *a, const char *method, const char *url,
                   const char *authorization, const char *body, size_t len,
                   bool too_large, const api_lookup *lk, api_response *out);

#endif
