/*
 * fuzz_api.c - libFuzzer target for the HTTP API's request handling: the
 * routes that take a JSON body, on a real service with a temporary SQLite
 * database and the manual clock. The first byte picks the route, the rest
 * is the body; for the notification routes the rest is the query string or
 * the id in the path, and Zendesk's inbound webhook gets its body signed
 * with the server's secret (or, when the second byte is even, a signature
 * made from the fuzzed bytes). Every answer must be a status with a JSON
 * body; crashes, leaks and sanitizer reports are findings.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../../src/notify/notify.h"
#include "../../src/server/api.h"
#include "../../src/server/auth.h"
#include "../../src/server/config.h"
#include "../../src/server/service.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static service *svc;
static auth *open_auth;
static server_config cfg;

#define INBOUND_SECRET "fuzz-inbound-secret"

/* How the rest of the input reaches the route. */
enum { AS_BODY, AS_QUERY, AS_PATH, AS_SIGNED };

static const struct {
    const char *method, *url;
    int as;
} routes[] = {
    {"POST", "/v1/evaluate", AS_BODY},
    {"POST", "/v1/tickets", AS_BODY},
    {"POST", "/v1/tickets/F-1/messages", AS_BODY},
    {"POST", "/v1/tickets/F-1/events", AS_BODY},
    {"POST", "/v1/admin/clock", AS_BODY},
    {"GET", "/v1/tickets/F-1", AS_BODY},
    {"GET", "/v1/queues", AS_BODY},
    {"GET", "/v1/notifications", AS_QUERY},
    {"GET", "/v1/notifications/", AS_PATH},
    {"POST", "/v1/notifications/%s/resend", AS_PATH},
    {"POST", "/v1/inbound/zendesk", AS_SIGNED},
};

/* The request's headers and query string, for api_handle_ex. */
typedef struct request {
    const char *signature, *timestamp;
    char *query; /* "k=v&k=v" */
} request;

static const char *req_header(void *cls, const char *name)
{
    request *r = cls;
    if (!strcmp(name, "X-Zendesk-Webhook-Signature"))
        return r->signature;
    if (!strcmp(name, "X-Zendesk-Webhook-Signature-Timestamp"))
        return r->timestamp;
    return NULL;
}

static const char *req_query(void *cls, const char *name)
{
    request *r = cls;
    size_t n = strlen(name);
    for (const char *p = r->query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > n && !strncmp(p, name, n) && p[n] == '=') {
            static char value[512];
            size_t v = len - n - 1 < sizeof(value) - 1 ? len - n - 1 : sizeof(value) - 1;
            memcpy(value, p + n + 1, v);
            value[v] = '\0';
            return value;
        }
        p = amp ? amp + 1 : p + len;
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/escalator-fuzz-XXXXXX";
    static char db[300];
    if (!mkdtemp(dir))
        abort();
    snprintf(db, sizeof(db), "--db=%s/db", dir);
    char *args[] = {"serve", db, "--clock=manual", "--clock-start=2026-11-23T12:00:00Z",
                    "--policy=tests/server/policy.yaml", "--max-text=4096",
                    "--inbound-secret=" INBOUND_SECRET, NULL};
    if (config_load(&cfg, 7, args) != 0)
        abort();
    svc = service_new(&cfg);
    const char *err = NULL;
    open_auth = auth_new("", &err);
    if (!svc || !open_auth)
        abort();
    const char *t = "{\"id\":\"F-1\",\"messages\":[{\"from\":\"customer\",\"text\":\"my lawyer\"}]}";
    api_response r;
    api_handle(svc, open_auth, "POST", "/v1/tickets", NULL, t, strlen(t), false, &r);
    free(r.body);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = sizeof(routes) / sizeof(routes[0]);
    size_t which = data[0] % n;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *rest = malloc(len + 1);
    if (!rest)
        abort();
    memcpy(rest, body, len);
    rest[len] = '\0';
    request rq = {0};
    api_lookup lk = {req_header, req_query, &rq};
    char url[700], ts[32], sig[64];
    snprintf(url, sizeof(url), "%s", routes[which].url);
    switch (routes[which].as) {
    case AS_QUERY:
        rq.query = rest;
        len = 0;
        break;
    case AS_PATH: {
        /* The id segment: the input up to a '/', '?' or NUL. */
        char id[200];
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(rest, "/?"), rest);
        if (strstr(routes[which].url, "%s"))
            snprintf(url, sizeof(url), "/v1/notifications/%s/resend", id);
        else
            snprintf(url, sizeof(url), "/v1/notifications/%s", id);
        len = 0;
        break;
    }
    case AS_SIGNED: {
        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
        bool forged = len > 0 && !(data[1] & 1);
        size_t tl = strlen(ts);
        char *msg = malloc(tl + len + 1);
        if (!msg)
            abort();
        memcpy(msg, ts, tl);
        memcpy(msg + tl, body, len);
        unsigned char mac[32];
        notify_hmac_sha256(forged ? body : INBOUND_SECRET,
                           forged ? (len < 16 ? len : 16) : strlen(INBOUND_SECRET), msg,
                           tl + len, mac);
        free(msg);
        notify_base64(mac, sizeof(mac), sig);
        rq.signature = sig;
        rq.timestamp = ts;
        break;
    }
    default:
        break;
    }
    api_response r;
    api_handle_ex(svc, open_auth, routes[which].method, url, NULL, body, len,
                  false, &lk, &r);
    free(rest);
    if (r.status < 200 || r.status > 599 || !r.body)
        abort();
    json_t *answer = json_loadb(r.body, r.len, 0, NULL);
    if (!answer)
        abort();
    if (r.status >= 400) {
        json_t *e = json_object_get(answer, "error");
        if (!json_is_string(json_object_get(e, "code")) ||
            !json_is_string(json_object_get(e, "message")) ||
            !json_is_string(json_object_get(e, "where")))
            abort();
    }
    json_decref(answer);
    free(r.body);
    return 0;
}
