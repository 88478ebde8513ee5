/*
 * server.h -- the HTTP daemon and the request pipeline.
 *
 * One libmicrohttpd daemon with an internal epoll thread pool. A request
 * goes through: framing guard, request id, route match (404/405),
 * OPTIONS/CORS preflight, authentication and role (401/403), content type
 * (415), size (413), JSON syntax (400), then the handler; errors at any
 * stage are rendered by problem.c. Everything a request owns is freed in
 * the completion callback, which also writes the access log line.
 */
#ifndef NEXUS_HTTP_SERVER_H
#define NEXUS_HTTP_SERVER_H

#include "nexus/core/config.h"

/* Serve until SIGINT or SIGTERM; then stop accepting, let in-flight
 * requests finish (bounded by SHUTDOWN_GRACE) and return 0. */
int server_run(const struct config *cfg);

/* Sanitise a client X-Request-Id: true when 1..128 of [A-Za-z0-9._-]. */
int request_id_is_sane(const char *id);

#endif
