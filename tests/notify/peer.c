/*
 * peer.c - the other end of escalator's notifications in the tests.
 *
 *   peer serve --port-file FILE --log FILE [--secret SECRET]
 *       An HTTP receiver on 127.0.0.1 (a free port, written to --port-file)
 *       that appends each request to --log as one JSON line:
 *       {"n", "method", "path", "headers": {lower-case name: value}, "body",
 *        "json", "signature": "ok" | "bad" | "none", "answer"}.
 *       With --secret it checks escalator's X-Escalator-Signature the way
 *       docs/notifications.md tells a receiver to. The path says how to
 *       answer: /fail/CODE/... answers CODE, /slow/MS/... waits MS
 *       milliseconds first, /drop/... closes the connection without an
 *       answer, /flaky/N/... fails the first N requests to that path with
 *       500; anything else is 200. Runs until SIGTERM.
 *   peer sign --secret SECRET --timestamp TS FILE
 *       Prints Zendesk's signature of FILE: base64(HMAC-SHA256(SECRET, TS BODY)).
 *   peer free-port
 *       Prints a TCP port free on 127.0.0.1 now.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../../src/notify/notify.h"

static const char *log_path, *secret;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *flaky_counts; /* path -> requests seen, under log_lock */
static int request_no;

static void die(const char *what)
{
    fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0)
        die("bind");
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void answer(int fd, int code, const char *body)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, strlen(body), body);
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += w;
    }
}

/* "ok", "bad" or "none": escalator's signature of the body. */
static const char *check_signature(json_t *headers, const char *body, size_t len)
{
    const char *sig = json_string_value(json_object_get(headers, "x-escalator-signature"));
    if (!secret)
        return "none";
    if (!sig)
        return "bad";
    /* t=TIMESTAMP,v1=HEX: recompute over "TIMESTAMP." + body. */
    long long t = 0;
    if (sscanf(sig, "t=%lld,", &t) != 1)
        return "bad";
    char want[200];
    notify_sign(secret, t, body, len, want, sizeof(want));
    const char *ts = json_string_value(json_object_get(headers, "x-escalator-timestamp"));
    if (!ts || atoll(ts) != t)
        return "bad";
    return strcmp(want, sig) ? "bad" : "ok";
}

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    char *end = NULL;
    while (buf && !end) {
        if (len == cap) {
            char *g = realloc(buf, cap * 2 + 1);
            if (!g)
                break;
            buf = g;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) {
        free(buf);
        close(fd);
        return NULL;
    }
    char method[16] = "", path[1024] = "";
    sscanf(buf, "%15s %1023s", method, path);
    json_t *headers = json_object();
    size_t clen = 0;
    for (char *line = strstr(buf, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char name[128];
            size_t nl = (size_t)(colon - line) < sizeof(name) - 1 ? (size_t)(colon - line)
                                                                  : sizeof(name) - 1;
            for (size_t i = 0; i < nl; i++)
                name[i] = (char)tolower((unsigned char)line[i]);
            name[nl] = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            json_object_set_new(headers, name, json_stringn(v, (size_t)(eol - v)));
            if (!strcmp(name, "content-length"))
                clen = (size_t)strtoull(v, NULL, 10);
        }
        line = eol + 2;
    }
    size_t head = (size_t)(end + 4 - buf);
    while (len < head + clen) {
        if (len == cap) {
            char *g = realloc(buf, cap * 2 + 1);
            if (!g)
                break;
            buf = g;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    const char *body = buf + head;
    size_t blen = len - head < clen ? len - head : clen;

    int code = 200, slow = 0;
    bool drop = false;
    if (!strncmp(path, "/fail/", 6))
        code = atoi(path + 6);
    else if (!strncmp(path, "/slow/", 6))
        slow = atoi(path + 6);
    else if (!strncmp(path, "/drop/", 6))
        drop = true;

    pthread_mutex_lock(&log_lock);
    if (!strncmp(path, "/flaky/", 7)) {
        json_int_t seen = json_integer_value(json_object_get(flaky_counts, path));
        json_object_set_new(flaky_counts, path, json_integer(seen + 1));
        if (seen < atoi(path + 7))
            code = 500;
    }
    json_t *j = json_loadb(body, blen, 0, NULL);
    json_t *rec = json_pack("{s:i, s:s, s:s, s:o, s:s#, s:o, s:s, s:o}", "n", ++request_no,
                            "method", method, "path", path, "headers", headers, "body", body,
                            (int)blen, "json", j ? j : json_null(), "signature",
                            check_signature(headers, body, blen), "answer",
                            drop ? json_string("drop") : json_integer(code));
    char *line = json_dumps(rec, JSON_COMPACT);
    FILE *f = fopen(log_path, "a");
    if (f && line) {
        fprintf(f, "%s\n", line);
        fclose(f);
    } else if (f) {
        fclose(f);
    }
    free(line);
    json_decref(rec);
    pthread_mutex_unlock(&log_lock);

    if (slow > 0) {
        struct timespec ts = {slow / 1000, (long)(slow % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!drop)
        answer(fd, code, code < 300 ? "{\"ok\":true}" : "{\"error\":\"told to fail\"}");
    free(buf);
    close(fd);
    return NULL;
}

static int serve(int argc, char **argv)
{
    const char *port_file = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port-file"))
            port_file = argv[i + 1];
        else if (!strcmp(argv[i], "--log"))
            log_path = argv[i + 1];
        else if (!strcmp(argv[i], "--secret"))
            secret = argv[i + 1];
    }
    if (!port_file || !log_path) {
        fprintf(stderr, "usage: peer serve --port-file FILE --log FILE [--secret S]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    flaky_counts = json_object();
    int port, fd = listen_any(&port);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    fprintf(f, "%d\n", port);
    fclose(f);
    rename(tmp, port_file);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            die("accept");
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
}

static int sign(int argc, char **argv)
{
    const char *sec = NULL, *ts = NULL, *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--secret") && i + 1 < argc)
            sec = argv[++i];
        else if (!strcmp(argv[i], "--timestamp") && i + 1 < argc)
            ts = argv[++i];
        else
            file = argv[i];
    }
    FILE *f = file ? fopen(file, "rb") : NULL;
    if (!sec || !ts || !f) {
        fprintf(stderr, "usage: peer sign --secret S --timestamp TS FILE\n");
        return 2;
    }
    static char body[1 << 20];
    size_t n = fread(body, 1, sizeof(body), f);
    fclose(f);
    size_t tl = strlen(ts);
    char *msg = malloc(tl + n + 1);
    memcpy(msg, ts, tl);
    memcpy(msg + tl, body, n);
    unsigned char mac[32];
    notify_hmac_sha256(sec, strlen(sec), msg, tl + n, mac);
    free(msg);
    char out[64];
    notify_base64(mac, 32, out);
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "serve"))
        return serve(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "sign"))
        return sign(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "free-port")) {
        int port, fd = listen_any(&port);
        close(fd);
        printf("%d\n", port);
        return 0;
    }
    fprintf(stderr, "usage: peer serve|sign|free-port ...\n");
    return 2;
}
