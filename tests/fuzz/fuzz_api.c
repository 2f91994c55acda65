/*
 * fuzz_api.c - libFuzzer target for the HTTP API's request handling: the
 * routes that take a JSON body, on a real service with a temporary SQLite
 * database and the manual clock. The first byte picks the route, the rest
 * is the body. Every answer must be a status with a JSON body; crashes,
 * leaks and sanitizer reports are findings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../src/server/api.h"
#include "../../src/server/auth.h"
#include "../../src/server/config.h"
#include "../../src/server/service.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static service *svc;
static auth *open_auth;
static server_config cfg;

static const struct {
    const char *method, *url;
} routes[] = {
    {"POST", "/v1/evaluate"},
    {"POST", "/v1/tickets"},
    {"POST", "/v1/tickets/F-1/messages"},
    {"POST", "/v1/tickets/F-1/events"},
    {"POST", "/v1/admin/clock"},
    {"GET", "/v1/tickets/F-1"},
    {"GET", "/v1/queues"},
};

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
                    "--policy=tests/server/policy.yaml", "--max-text=4096", NULL};
    if (config_load(&cfg, 6, args) != 0)
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
    api_response r;
    api_handle(svc, open_auth, routes[which].method, routes[which].url, NULL,
               (const char *)data + 1, size - 1, false, &r);
    if (r.status < 200 || r.status > 599 || !r.body)
        abort();
    json_t *body = json_loadb(r.body, r.len, 0, NULL);
    if (!body)
        abort();
    if (r.status >= 400) {
        json_t *e = json_object_get(body, "error");
        if (!json_is_string(json_object_get(e, "code")) ||
            !json_is_string(json_object_get(e, "message")) ||
            !json_is_string(json_object_get(e, "where")))
            abort();
    }
    json_decref(body);
    free(r.body);
    return 0;
}
