/*
 * http.h - the HTTP front of the service, on libmicrohttpd: an internal
 * epoll thread pool, bodies capped at max_body, idle connections closed
 * after request_timeout.
 */
#ifndef ESC_SERVER_HTTP_H
#define ESC_SERVER_HTTP_H

#include <stddef.h>

#include "auth.h"
#include "config.h"
#include "service.h"

typedef struct http_server http_server;

/* Starts listening; NULL with the reason in err. */
http_server *http_start(service *svc, const auth *a, const server_config *cfg,
                        char *err, size_t size);
/* The port actually bound (useful with port 0). */
int http_port(const http_server *h);
void http_stop(http_server **h);

#endif
