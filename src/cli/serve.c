/*
 * serve.c - `escalator serve`: the escalation service (src/server/).
 *
 * The main thread only starts things and then waits for signals: SIGHUP
 * reloads the policy, SIGINT and SIGTERM stop the server cleanly.
 */
#include "cli.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../server/auth.h"
#include "../server/config.h"
#include "../server/http.h"
#include "../server/service.h"

static int serve_run(const cli_verb *verb, int argc, char **argv)
{
    (void)verb;
    server_config cfg;
    int rc = config_load(&cfg, argc, argv);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? CLI_OK : CLI_USAGE;
    }
    const char *err = NULL;
    auth *a = auth_new(cfg.tokens, &err);
    if (!a) {
        fprintf(stderr, "escalator serve: %s\n", err);
        config_free(&cfg);
        return CLI_USAGE;
    }
    if (auth_open(a))
        fprintf(stderr, "escalator serve: warning: no tokens configured: every "
                        "request is allowed\n");

    /* Signals go to the main thread only: block them before any thread
     * starts, then wait for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Each request frees what it built: keep up to 64 MiB of freed heap
     * rather than hand it back to the system and fault it in again on
     * the next request. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);

    service *svc = service_new(&cfg);
    if (!svc) {
        auth_free(&a);
        config_free(&cfg);
        return CLI_USAGE;
    }
    if (cfg.seed && *cfg.seed)
        service_seed(svc, cfg.seed);
    char msg[512];
    http_server *http = NULL;
    if (service_start_timers(svc) != 0 ||
        !(http = http_start(svc, a, &cfg, msg, sizeof(msg)))) {
        fprintf(stderr, "escalator serve: %s\n", http ? "cannot start the timer thread" : msg);
        service_free(&svc);
        auth_free(&a);
        config_free(&cfg);
        return CLI_USAGE;
    }
    int port = http_port(http);
    if (cfg.port_file && *cfg.port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.port_file);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
            rename(tmp, cfg.port_file);
        }
    }
    fprintf(stderr, "escalator serve: listening on http://%s:%d (db %s, policy %s, "
                    "clock %s)\n",
            cfg.listen, port, cfg.db, cfg.policy, cfg.clock);

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            json_t *body = NULL;
            service_reload(svc, false, &body);
            json_decref(body);
            continue;
        }
        fprintf(stderr, "escalator serve: stopping (%s)\n", strsignal(sig));
        break;
    }
    http_stop(&http);
    service_free(&svc);
    auth_free(&a);
    config_free(&cfg);
    return CLI_OK;
}

static const cli_option serve_options[] = {{NULL, NULL, NULL}};

const cli_verb cli_serve_verb = {
    .name = "serve",
    .synopsis = "[--config FILE] [--SETTING VALUE ...]",
    .summary = "run the escalation service (HTTP API)",
    .description = "See 'escalator serve --help' for every setting.",
    .options = serve_options,
    .run = serve_run,
};
