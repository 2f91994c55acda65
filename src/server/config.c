/*
 * config.c - the settings table of `escalator serve` and its three sources.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "escalator.h"

typedef enum { T_STRING, T_INT, T_DURATION, T_SHARE, T_TIME } setting_type;

typedef struct setting {
    const char *name;
    setting_type type;
    size_t offset;
    const char *def;
    int64_t min, max; /* for T_INT and T_DURATION */
    const char *help;
} setting;

#define OFF(f) offsetof(server_config, f)

static const setting settings[] = {
    {"listen", T_STRING, OFF(listen), "127.0.0.1", 0, 0,
     "IPv4 address to listen on"},
    {"port", T_INT, OFF(port), "8080", 0, 65535,
     "TCP port; 0 picks a free one (see port_file)"},
    {"port_file", T_STRING, OFF(port_file), "", 0, 0,
     "write the bound port to this file once listening"},
    {"db", T_STRING, OFF(db), "escalator.db", 0, 0,
     "SQLite database file (created and migrated at start)"},
    {"synchronous", T_STRING, OFF(synchronous), "normal", 0, 0,
     "normal (durable across a process kill) or full (also power loss)"},
    {"policy", T_STRING, OFF(policy), "policies/meow-mobile.yaml", 0, 0,
     "the policy file; reloaded on SIGHUP and POST /v1/policy/reload"},
    {"clock", T_STRING, OFF(clock), "real", 0, 0,
     "real, or manual: time moves only by POST /v1/admin/clock"},
    {"clock_start", T_TIME, OFF(clock_start), "", 0, 0,
     "RFC 3339 start time of the manual clock (default: now)"},
    {"tokens", T_STRING, OFF(tokens), "", 0, 0,
     "API tokens, ROLE:TOKEN,... with roles bot agent viewer admin; "
     "empty: no authentication"},
    {"threads", T_INT, OFF(threads), "4", 1, 256, "HTTP worker threads"},
    {"max_body", T_INT, OFF(max_body), "1048576", 1024, 64 << 20,
     "largest request body in bytes (413 beyond)"},
    {"max_text", T_INT, OFF(max_text), "65536", 64, 64 << 20,
     "largest string field of a request (message text, reason ...) in bytes"},
    {"request_timeout", T_DURATION, OFF(request_timeout), "10s", 1, 3600,
     "a connection idle this long, or a body still arriving after this "
     "long, is closed (slow clients)"},
    {"connections_per_ip", T_INT, OFF(connections_per_ip), "64", 1, 100000,
     "simultaneous connections from one address"},
    {"warn_share", T_SHARE, OFF(warn_share), "0.8", 0, 0,
     "pre-breach warning at this share of the response target (0 disables)"},
    {"ack_timeout", T_DURATION, OFF(ack_timeout), "15m", 0, 366 * 86400,
     "an escalation not acknowledged within this moves up the chain, "
     "where the policy sets no acknowledge_within (0 disables)"},
    {"ack_chain", T_STRING, OFF(ack_chain), "", 0, 0,
     "team ids, lowest first, comma-separated: where an unacknowledged "
     "escalation goes next; empty: the policy's teams that have a tier, "
     "lowest first (at the top or off the chain it is re-notified)"},
    {"ack_max_repeats", T_INT, OFF(ack_max_repeats), "3", 0, 100,
     "acknowledgement timeouts per escalation before the chain stops"},
    {"seed", T_STRING, OFF(seed), "", 0, 0,
     "folder of ticket JSON files imported at start when not stored yet"},
    {"notify_routes", T_STRING, OFF(notify_routes), "", 0, 0,
     "JSON file mapping the policy's notification recipients to webhook "
     "URLs, addresses, routing keys and secrets, and the SMTP relay "
     "(docs/notifications.md)"},
    {"notify_events", T_STRING, OFF(notify_events), "all", 0, 0,
     "for a policy that names no lifecycle notification (notify on:), the "
     "lifecycle events that notify the recipients of the escalation: all, "
     "none, or some of sla_warning sla_breach follow_up ack_timeout "
     "acknowledged resolution_breach, comma-separated"},
    {"notify_max_attempts", T_INT, OFF(notify_max_attempts), "8", 1, 1000,
     "delivery attempts before a notification is failed (the dead letter)"},
    {"notify_backoff", T_DURATION, OFF(notify_backoff), "2s", 1, 86400,
     "first retry delay; doubles each attempt, with jitter"},
    {"notify_backoff_max", T_DURATION, OFF(notify_backoff_max), "1h", 1, 7 * 86400,
     "longest retry delay"},
    {"notify_timeout", T_DURATION, OFF(notify_timeout), "10s", 1, 600,
     "time one delivery attempt may take (connect, send, answer)"},
    {"notify_concurrency", T_INT, OFF(notify_concurrency), "8", 1, 256,
     "delivery attempts in flight at once"},
    {"notify_rate_limit", T_INT, OFF(notify_rate_limit), "30", 0, 100000,
     "messages per notify_rate_window to one (channel, recipient); more are "
     "folded into a digest (0: no limit)"},
    {"notify_rate_window", T_DURATION, OFF(notify_rate_window), "1m", 1, 86400,
     "the window of notify_rate_limit"},
    {"inbound_secret", T_STRING, OFF(inbound_secret), "", 0, 0,
     "signing secret of the Zendesk webhook posting to /v1/inbound/zendesk; "
     "empty: inbound webhooks are off"},
    {"inbound_tolerance", T_DURATION, OFF(inbound_tolerance), "5m", 0, 86400,
     "how old a signed inbound webhook's timestamp may be (0: any)"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *type_name(setting_type t)
{
    switch (t) {
    case T_STRING: return "string";
    case T_INT: return "integer";
    case T_DURATION: return "duration";
    case T_SHARE: return "number";
    case T_TIME: return "time";
    }
    return "?";
}

int64_t config_parse_duration(const char *s)
{
    if (!s || !*s)
        return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        char *end;
        long long n = strtoll(p, &end, 10);
        if (errno || n > 100000000LL)
            return -1;
        int64_t unit = 1;
        switch (*end) {
        case 's': unit = 1; end++; break;
        case 'm': unit = 60; end++; break;
        case 'h': unit = 3600; end++; break;
        case 'd': unit = 86400; end++; break;
        case 'w': unit = 7 * 86400; end++; break;
        case '\0':
            if (p != s)
                return -1; /* "1h30" */
            break;
        default: return -1;
        }
        total += (int64_t)n * unit;
        if (total > (int64_t)10 * 366 * 86400)
            return -1;
        p = end;
    }
    return total;
}

static const setting *find_setting(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *s = settings[i].name;
        if (strlen(s) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char c = name[j] == '-' ? '_' : name[j];
            if (c != s[j])
                break;
        }
        if (j == len)
            return &settings[i];
    }
    return NULL;
}

static int set_value(server_config *cfg, const setting *st, const char *v,
                     const char *source)
{
    char *base = (char *)cfg + st->offset;
    switch (st->type) {
    case T_STRING: {
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = strdup(v);
        return 0;
    }
    case T_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < st->min || n > st->max) {
            fprintf(stderr,
                    "escalator serve: %s: %s: expected a whole number from "
                    "%lld to %lld, got '%s'\n",
                    source, st->name, (long long)st->min, (long long)st->max, v);
            return -1;
        }
        *(int64_t *)(void *)base = n;
        return 0;
    }
    case T_DURATION: {
        int64_t d = config_parse_duration(v);
        if (d < st->min || d > st->max) {
            fprintf(stderr,
                    "escalator serve: %s: %s: expected a duration (30s, 15m, "
                    "1h30m ...) from %llds to %llds, got '%s'\n",
                    source, st->name, (long long)st->min, (long long)st->max, v);
            return -1;
        }
        *(int64_t *)(void *)base = d;
        return 0;
    }
    case T_SHARE: {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d >= 0.0 && d < 1.0)) {
            fprintf(stderr,
                    "escalator serve: %s: %s: expected a number from 0 to "
                    "below 1, got '%s'\n",
                    source, st->name, v);
            return -1;
        }
        *(double *)(void *)base = d;
        return 0;
    }
    case T_TIME: {
        int64_t t = 0;
        if (*v && esc_time_parse(v, &t) != 0) {
            fprintf(stderr,
                    "escalator serve: %s: %s: expected an RFC 3339 time, got "
                    "'%s'\n",
                    source, st->name, v);
            return -1;
        }
        *(int64_t *)(void *)base = t;
        return 0;
    }
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int load_file(server_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "escalator serve: %s: cannot open: %s\n", path,
                strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char where[600];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!eq) {
            fprintf(stderr, "escalator serve: %s: expected NAME = VALUE\n", where);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        const setting *st = find_setting(name, strlen(name));
        if (!st) {
            fprintf(stderr, "escalator serve: %s: unknown setting '%s'\n",
                    where, name);
            rc = -1;
            break;
        }
        rc = set_value(cfg, st, value, where);
    }
    fclose(f);
    return rc;
}

void config_print_help(FILE *f)
{
    fputs("usage: escalator serve [--config FILE] [--SETTING VALUE ...]\n"
          "\n"
          "Runs the escalation service: the HTTP API (docs/api.md), the SQLite\n"
          "store and the SLA timers. Each setting comes from, by increasing\n"
          "precedence: its default, the config file (NAME = VALUE lines),\n"
          "the environment (ESCALATOR_NAME) and the command line (--name VALUE).\n"
          "SIGHUP reloads the policy; SIGINT and SIGTERM stop the server.\n"
          "\n"
          "settings:\n",
          f);
    fprintf(f, "  %-19s %-9s %-27s %s\n", "NAME", "TYPE", "DEFAULT", "DESCRIPTION");
    fprintf(f, "  %-19s %-9s %-27s %s\n", "config", "string", "\"\"",
            "a file of NAME = VALUE lines (env ESCALATOR_CONFIG)");
    for (size_t i = 0; i < NSETTINGS; i++) {
        char def[64];
        snprintf(def, sizeof(def), "%s", *settings[i].def ? settings[i].def : "\"\"");
        fprintf(f, "  %-19s %-9s %-27s %s\n", settings[i].name,
                type_name(settings[i].type), def, settings[i].help);
    }
    fputs("\nOn the command line '-' may replace '_' in a name (--port-file).\n", f);
}

json_t *config_json(const server_config *cfg)
{
    json_t *out = json_object();
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *st = &settings[i];
        const char *base = (const char *)cfg + st->offset;
        json_t *v = NULL;
        char buf[32];
        switch (st->type) {
        case T_STRING: {
            const char *str = *(char *const *)(const void *)base;
            if (!strcmp(st->name, "inbound_secret")) {
                v = json_string(str && *str ? "***" : "");
            } else if (!strcmp(st->name, "tokens")) {
                /* Never the secrets: ROLE:*** for each. */
                v = json_array();
                const char *p = str ? str : "";
                while (*p) {
                    p += strspn(p, ", ");
                    size_t n = strcspn(p, ", ");
                    const char *colon = memchr(p, ':', n);
                    if (n && colon)
                        json_array_append_new(v, json_sprintf("%.*s:***", (int)(colon - p), p));
                    p += n;
                }
            } else {
                v = json_string(str ? str : "");
            }
            break;
        }
        case T_INT:
            v = json_integer(*(const int64_t *)(const void *)base);
            break;
        case T_DURATION:
            snprintf(buf, sizeof(buf), "%llds", (long long)*(const int64_t *)(const void *)base);
            v = json_string(buf);
            break;
        case T_SHARE:
            v = json_real(*(const double *)(const void *)base);
            break;
        case T_TIME: {
            int64_t t = *(const int64_t *)(const void *)base;
            v = t && esc_time_format(t, buf, sizeof(buf)) == 0 ? json_string(buf) : json_null();
            break;
        }
        }
        json_object_set_new(out, st->name, v ? v : json_null());
    }
    return out;
}

void config_free(server_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == T_STRING) {
            char **slot = (char **)(void *)((char *)cfg + settings[i].offset);
            free(*slot);
            *slot = NULL;
        }
}

int config_load(server_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NSETTINGS; i++)
        if (set_value(cfg, &settings[i], settings[i].def, "default") != 0)
            return -1;

    /* The config file first: flags and environment override it. */
    const char *file = getenv("ESCALATOR_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            config_print_help(stdout);
            return 1;
        }
        if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
        else if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "escalator serve: option '--config' needs an "
                                "argument (FILE)\n");
                return -1;
            }
            file = argv[++i];
        }
    }
    if (file && *file && load_file(cfg, file) != 0)
        return -1;

    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64] = "ESCALATOR_";
        size_t n = strlen(env);
        for (const char *p = settings[i].name; *p && n + 1 < sizeof(env); p++)
            env[n++] = (char)toupper((unsigned char)*p);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && set_value(cfg, &settings[i], v, env) != 0)
            return -1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "escalator serve: unexpected argument '%s'\n"
                            "try 'escalator serve --help'\n", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const setting *st = find_setting(name, len);
        if (!st) {
            fprintf(stderr, "escalator serve: unknown option '--%.*s'\n"
                            "try 'escalator serve --help'\n", (int)len, name);
            return -1;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(stderr, "escalator serve: option '--%s' needs an argument\n",
                    st->name);
            return -1;
        }
        if (set_value(cfg, st, v, "command line") != 0)
            return -1;
    }
    if (strcmp(cfg->clock, "real") && strcmp(cfg->clock, "manual")) {
        fprintf(stderr, "escalator serve: clock: expected real or manual, got "
                        "'%s'\n", cfg->clock);
        return -1;
    }
    if (strcmp(cfg->synchronous, "normal") && strcmp(cfg->synchronous, "full")) {
        fprintf(stderr, "escalator serve: synchronous: expected normal or full, "
                        "got '%s'\n", cfg->synchronous);
        return -1;
    }
    return 0;
}
