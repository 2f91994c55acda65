/*
 * http.c - libmicrohttpd glue: collects each request body (up to max_body,
 * the rest is read and dropped so that the client gets a 413 rather than a
 * reset; a declared Content-Length over the limit is answered at once),
 * hands the request to api_handle and queues its response.
 *
 * Each worker thread of the pool polls its own share of the connections, so
 * a request that takes long holds up the others of its thread. A policy
 * reload (compiling the policy: up to a second or more) therefore runs on a
 * thread of its own while its connection is suspended, and is answered when
 * it is done; the other connections go on being served.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "api.h"

struct http_server {
    struct MHD_Daemon *daemon;
    service *svc;
    const auth *auth;
    size_t max_body;
    double deadline; /* seconds a body may take to arrive whole */
    int port;
    atomic_int aside; /* requests running on a thread of their own */
};

typedef struct request {
    char *buf;
    size_t len, cap;
    bool too_large;
    struct timespec started; /* when the headers were in */
    /* A request handled aside (see above): */
    struct MHD_Connection *conn;
    http_server *h;
    char *method, *url, *authz;
    atomic_bool done;
    api_response out;
} request;

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static enum MHD_Result respond(struct MHD_Connection *conn, api_response *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char *conn_header(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_HEADER_KIND, name);
}

static const char *conn_query(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, name);
}

/* Requests too slow for a polling thread: a policy reload. */
static bool runs_aside(const char *method, const char *url)
{
    return !strcmp(method, "POST") && !strcmp(url, "/v1/policy/reload");
}

static void *aside_main(void *arg)
{
    request *rq = arg;
    http_server *h = rq->h;
    api_lookup lk = {conn_header, conn_query, rq->conn};
    api_handle_ex(h->svc, h->auth, rq->method, rq->url, rq->authz, rq->buf, rq->len,
                  rq->too_large, &lk, &rq->out);
    atomic_store(&rq->done, true);
    MHD_resume_connection(rq->conn);
    atomic_fetch_sub(&h->aside, 1);
    return NULL;
}

/* Only an admin's reload gets a thread: any other is refused at once, in
 * line, by api_handle. */
static bool may_reload(http_server *h, struct MHD_Connection *conn)
{
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    const char *token = authz && !strncmp(authz, "Bearer ", 7) ? authz + 7 : NULL;
    return (auth_permissions(h->auth, token) & PERM_ADMIN) != 0;
}

/* Suspends the connection and handles the request on a thread of its own;
 * MHD calls on_request again once it is resumed. */
static enum MHD_Result start_aside(http_server *h, struct MHD_Connection *conn,
                                   request *rq, const char *method, const char *url)
{
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    rq->conn = conn;
    rq->h = h;
    rq->method = strdup(method);
    rq->url = strdup(url);
    rq->authz = authz ? strdup(authz) : NULL;
    if (!rq->method || !rq->url || (authz && !rq->authz))
        return MHD_NO;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&h->aside, 1);
    MHD_suspend_connection(conn);
    int rc = pthread_create(&t, &attr, aside_main, rq);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        MHD_resume_connection(conn);
        atomic_fetch_sub(&h->aside, 1);
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    http_server *h = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        clock_gettime(CLOCK_MONOTONIC, &rq->started);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->max_body) {
            /* Refused before its body is read: MHD closes the connection
             * after the answer rather than reading the rest. */
            api_response r;
            const char *authz = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
            api_handle(h->svc, h->auth, method, url, authz, NULL, 0, true, &r);
            return respond(conn, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        /* A client that trickles its body, each byte within the idle
         * timeout, is cut off when the whole has taken too long. */
        if (since(&rq->started) > h->deadline)
            return MHD_NO;
        if (rq->too_large || rq->len + n > h->max_body) {
            rq->too_large = true;
            return MHD_YES;
        }
        if (rq->len + n > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n)
                cap *= 2;
            char *buf = realloc(rq->buf, cap);
            if (!buf)
                return MHD_NO;
            rq->buf = buf;
            rq->cap = cap;
        }
        memcpy(rq->buf + rq->len, upload, n);
        rq->len += n;
        return MHD_YES;
    }
    if (rq->h) /* resumed: the request handled aside is done, or not yet */
        return atomic_load(&rq->done) ? respond(conn, &rq->out) : MHD_YES;
    if (runs_aside(method, url) && may_reload(h, conn))
        return start_aside(h, conn, rq, method, url);
    api_response r;
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    api_lookup lk = {conn_header, conn_query, conn};
    api_handle_ex(h->svc, h->auth, method, url, authz, rq->buf, rq->len,
                  rq->too_large, &lk, &r);
    return respond(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request *rq = *con_cls;
    if (rq) {
        free(rq->buf);
        free(rq->method);
        free(rq->url);
        free(rq->authz);
        free(rq);
    }
    *con_cls = NULL;
}

http_server *http_start(service *svc, const auth *a, const server_config *cfg,
                        char *err, size_t size)
{
    http_server *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, size, "out of memory");
        return NULL;
    }
    h->svc = svc;
    h->auth = a;
    h->max_body = (size_t)cfg->max_body;
    h->deadline = (double)cfg->request_timeout;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->listen, &addr.sin_addr) != 1) {
        snprintf(err, size, "listen: '%s' is not an IPv4 address", cfg->listen);
        free(h);
        return NULL;
    }
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)cfg->port, NULL, NULL, on_request, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->request_timeout,
        MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, size, "cannot listen on %s:%lld: %s", cfg->listen,
                 (long long)cfg->port, strerror(errno));
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (int)cfg->port;
    return h;
}

int http_port(const http_server *h) { return h->port; }

void http_stop(http_server **ph)
{
    http_server *h = *ph;
    if (!h)
        return;
    /* A suspended connection must be resumed before the daemon stops. */
    while (atomic_load(&h->aside) > 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    MHD_stop_daemon(h->daemon);
    free(h);
    *ph = NULL;
}
