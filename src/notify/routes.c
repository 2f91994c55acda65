/*
 * routes.c - the routes file: logical recipients of the policy to endpoints
 * (docs/notifications.md). A string value "${NAME}" is read from the
 * environment, so that secrets can stay out of the file.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_routes {
    json_t *doc; /* {"smtp": {...}, "routes": [...]} after substitution */
};

static const char *const kinds[] = {"webhook", "slack", "pager", "email", "customer",
                                    NULL};

static bool in(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* Replaces "${NAME}" strings by the environment's value, recursively.
 * Returns -1 naming the missing variable in err. */
static int substitute(json_t *v, char *err, size_t size)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x)
        {
            const char *s = json_string_value(x);
            size_t n = s ? strlen(s) : 0;
            if (s && n > 3 && !strncmp(s, "${", 2) && s[n - 1] == '}') {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)(n - 3), s + 2);
                const char *val = getenv(name);
                if (!val) {
                    snprintf(err, size, "%s: the environment has no %s", k, name);
                    return -1;
                }
                json_object_set_new(v, k, json_string(val));
            } else if (substitute(x, err, size) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            const char *s = json_string_value(x);
            size_t n = s ? strlen(s) : 0;
            if (s && n > 3 && !strncmp(s, "${", 2) && s[n - 1] == '}') {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)(n - 3), s + 2);
                const char *val = getenv(name);
                if (!val) {
                    snprintf(err, size, "the environment has no %s", name);
                    return -1;
                }
                json_array_set_new(v, i, json_string(val));
            } else if (substitute(x, err, size) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int check_keys(json_t *o, const char *const *keys, const char *where,
                      char *err, size_t size)
{
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x)
    {
        if (!in(k, keys)) {
            snprintf(err, size, "%s: unknown key '%s'", where, k);
            return -1;
        }
        if (strcmp(k, "addresses") && !json_is_string(x)) {
            snprintf(err, size, "%s: %s: expected a string", where, k);
            return -1;
        }
    }
    return 0;
}

static int validate(json_t *doc, char *err, size_t size)
{
    static const char *const top[] = {"smtp", "routes", NULL};
    static const char *const smtp_keys[] = {"url", "from", "username", "password", NULL};
    static const char *const route_keys[] = {"channel", "to", "kind", "url", "secret",
                                             "routing_key", "addresses", "subject",
                                             "severity", "source", NULL};
    const char *k;
    json_t *x, *r;
    size_t i;
    if (!json_is_object(doc)) {
        snprintf(err, size, "expected a JSON object {\"smtp\": ..., \"routes\": [...]}");
        return -1;
    }
    json_object_foreach(doc, k, x) if (!in(k, top))
    {
        snprintf(err, size, "unknown key '%s' (expected smtp and routes)", k);
        return -1;
    }
    json_t *smtp = json_object_get(doc, "smtp");
    if (smtp && !json_is_object(smtp)) {
        snprintf(err, size, "smtp: expected an object");
        return -1;
    }
    if (smtp && check_keys(smtp, smtp_keys, "smtp", err, size) != 0)
        return -1;
    if (smtp && !json_is_string(json_object_get(smtp, "url"))) {
        snprintf(err, size, "smtp: url is required (smtp://host:port)");
        return -1;
    }
    json_t *routes = json_object_get(doc, "routes");
    if (routes && !json_is_array(routes)) {
        snprintf(err, size, "routes: expected an array");
        return -1;
    }
    json_array_foreach(routes, i, r)
    {
        char where[64];
        snprintf(where, sizeof(where), "routes[%zu]", i);
        if (!json_is_object(r)) {
            snprintf(err, size, "%s: expected an object", where);
            return -1;
        }
        if (check_keys(r, route_keys, where, err, size) != 0)
            return -1;
        const char *ch = json_string_value(json_object_get(r, "channel"));
        const char *to = json_string_value(json_object_get(r, "to"));
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (!ch || !to) {
            snprintf(err, size, "%s: channel and to are required", where);
            return -1;
        }
        if (kind && !in(kind, kinds)) {
            snprintf(err, size, "%s: unknown kind '%s' (expected webhook, slack, pager, "
                                "email or customer)", where, kind);
            return -1;
        }
        if (!kind)
            kind = notify_default_kind(ch);
        bool http = !strcmp(kind, "webhook") || !strcmp(kind, "slack") || !strcmp(kind, "pager");
        if (http && !json_is_string(json_object_get(r, "url"))) {
            snprintf(err, size, "%s: a %s route needs a url", where, kind);
            return -1;
        }
        json_t *addr = json_object_get(r, "addresses"), *a;
        size_t j;
        if (addr && !json_is_array(addr)) {
            snprintf(err, size, "%s: addresses: expected an array of strings", where);
            return -1;
        }
        json_array_foreach(addr, j, a) if (!json_is_string(a))
        {
            snprintf(err, size, "%s: addresses: expected an array of strings", where);
            return -1;
        }
    }
    return 0;
}

notify_routes *notify_routes_load(const char *path, char *err, size_t size)
{
    notify_routes *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, size, "out of memory");
        return NULL;
    }
    if (!path || !*path) {
        r->doc = json_object();
        return r;
    }
    json_error_t jerr;
    r->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    char why[400];
    if (!r->doc) {
        snprintf(err, size, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    } else if (validate(r->doc, why, sizeof(why)) != 0 ||
               substitute(r->doc, why, sizeof(why)) != 0) {
        snprintf(err, size, "%s: %s", path, why);
    } else {
        return r;
    }
    notify_routes_free(&r);
    return NULL;
}

void notify_routes_free(notify_routes **pr)
{
    if (!*pr)
        return;
    json_decref((*pr)->doc);
    free(*pr);
    *pr = NULL;
}

json_t *notify_routes_find(const notify_routes *r, const char *channel,
                           const char *recipient)
{
    json_t *x, *wild = NULL;
    size_t i;
    json_array_foreach(json_object_get(r->doc, "routes"), i, x)
    {
        const char *ch = json_string_value(json_object_get(x, "channel"));
        const char *to = json_string_value(json_object_get(x, "to"));
        if (strcmp(ch, channel))
            continue;
        if (!strcmp(to, recipient))
            return x;
        if (!strcmp(to, "*") && !wild)
            wild = x;
    }
    return wild;
}

json_t *notify_routes_smtp(const notify_routes *r)
{
    return json_object_get(r->doc, "smtp");
}
