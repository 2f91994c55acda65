/*
 * service.h - the escalation service: tickets in the store, decisions from
 * the engine, escalations with their level history, SLA and
 * acknowledgement timers, the notification outbox.
 *
 * Every write takes the service lock for its unit of work in the store, so
 * each request or timer is applied whole or not at all; writes that arrive
 * together share one commit, and a write is answered only once that commit
 * has returned. Reads use read-only connections that see committed data
 * and never wait for the lock. Evaluation itself runs on a per-thread
 * engine. Results are JSON: *body is owned by the caller, and
 * on an error *body is the {"error": {...}} document with *status its HTTP
 * status.
 */
#ifndef ESC_SERVER_SERVICE_H
#define ESC_SERVER_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

typedef struct service service;

/* Opens the store, loads the policy, loads the armed timers and fires those
 * already due. Returns NULL after printing why to stderr. */
service *service_new(const server_config *cfg);
void service_free(service **svc);

/* Starts the timer thread (real clock only). */
int service_start_timers(service *svc);

int64_t service_now(service *svc);
const server_config *service_config(service *svc);

/* Builds {"error": {"code", "message", "where"}}. */
json_t *service_error(const char *code, const char *message, const char *where);

/* The API operations; each returns the HTTP status. */
/* POST /v1/evaluate: 200 with the decision's JSON text in *text (malloc'ed,
 * *len bytes), else the status with the error in *body. */
int service_evaluate(service *svc, json_t *ticket, char **text, size_t *len,
                     json_t **body);
/* The writes: the answer in *body. With `decision` not NULL, a 2xx answer
 * may leave the decision out of *body and give the engine's JSON text of
 * it in *decision (malloc'ed), which belongs at the body's "decision" key
 * (last); *decision is NULL otherwise. */
int service_ticket_put(service *svc, json_t *ticket, json_t **body, char **decision);
int service_message_add(service *svc, const char *id, json_t *msg, json_t **body,
                        char **decision);
int service_event_add(service *svc, const char *id, json_t *ev, json_t **body,
                      char **decision);
int service_ticket_get(service *svc, const char *id, json_t **body);
/* GET /v1/queues[/{team}]: 200 with the answer's JSON text in *text
 * (malloc'ed, *len bytes), else the status with the error in *body. */
int service_queue(service *svc, const char *team, char **text, size_t *len,
                  json_t **body);
int service_metrics_summary(service *svc, json_t **body);
/* Prometheus text format, malloc'ed. */
char *service_metrics_text(service *svc);
/* Reloads the policy file; the old policy stays when the new one fails. */
int service_reload(service *svc, bool recompute, json_t **body);
/* Manual clock: {"advance": "90m"} or {"now": TIME}; fires what came due. */
int service_clock(service *svc, json_t *req, json_t **body);
/* Deliveries of notifications (docs/notifications.md). query: {state,
 * ticket, channel, to, event, limit, after}, each optional. */
int service_notifications_list(service *svc, json_t *query, json_t **body);
int service_notification_get(service *svc, const char *id, json_t **body);
/* Admin: a failed (or delivered) notification goes again, attempts reset. */
int service_notification_resend(service *svc, const char *id, json_t **body);
/* A Zendesk webhook event, authenticated by its signature headers (NULL
 * when absent) over the raw body. */
int service_inbound_zendesk(service *svc, const char *signature, const char *timestamp,
                            const char *raw, size_t len, json_t **body);
/* Imports every *.json ticket of a folder that is not stored yet. */
int service_seed(service *svc, const char *dir);

#endif
