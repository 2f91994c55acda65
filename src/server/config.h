/*
 * config.h - the settings of `escalator serve`: one table (name, type,
 * default, description) that the config-file parser, the environment, the
 * command line, `serve --help` and docs/api.md all follow.
 *
 * Precedence, lowest first: the defaults, the config file (--config FILE or
 * ESCALATOR_CONFIG), the environment (ESCALATOR_NAME in upper case), the
 * command line (--name VALUE or --name=VALUE; '-' and '_' are the same).
 */
#ifndef ESC_SERVER_CONFIG_H
#define ESC_SERVER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef struct server_config {
    char *listen;
    int64_t port;
    char *port_file;
    char *db;
    char *synchronous;
    char *policy;
    char *clock;
    int64_t clock_start; /* Unix seconds; 0: the real time at start */
    char *tokens;
    int64_t threads;
    int64_t max_body;
    int64_t max_text;
    int64_t request_timeout;
    int64_t connections_per_ip;
    double warn_share;
    int64_t ack_timeout;
    char *ack_chain;
    int64_t ack_max_repeats;
    char *seed;
    /* notifications (src/notify/, docs/notifications.md) */
    char *notify_routes;
    char *notify_events;
    int64_t notify_max_attempts;
    int64_t notify_backoff;
    int64_t notify_backoff_max;
    int64_t notify_timeout;
    int64_t notify_concurrency;
    int64_t notify_rate_limit;
    int64_t notify_rate_window;
    char *inbound_secret;
    int64_t inbound_tolerance;
} server_config;

/* Fills *cfg from the defaults, the file, the environment and argv (argv[0]
 * is the verb). Returns 0; 1 after printing --help to stdout; -1 after
 * printing the error ("escalator serve: ...") to stderr. */
int config_load(server_config *cfg, int argc, char **argv);
void config_free(server_config *cfg);
void config_print_help(FILE *f);
/* The effective settings as a JSON object (caller decrefs); the tokens are
 * replaced by their roles. */
struct json_t;
struct json_t *config_json(const server_config *cfg);
/* "15m", "1h30m", "90s", "2d", "45" (seconds) -> seconds; -1 when invalid. */
int64_t config_parse_duration(const char *s);

#endif
