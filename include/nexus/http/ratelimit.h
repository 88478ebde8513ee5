/*
 * ratelimit.h -- failed-login counters per email and per client address.
 *
 * Counts live in Redis (shared by every instance) with the window as TTL,
 * and always also in a small in-process table, so a Redis outage makes the
 * limit per-instance, never unlimited.
 */
#ifndef NEXUS_HTTP_RATELIMIT_H
#define NEXUS_HTTP_RATELIMIT_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"

/* NX_OK, or NX_ERR_TOO_MANY with req->retry_after set when either the
 * email or the client address is over its limit. */
enum nx_err login_throttle_check(struct request *req, const char *email, const char *client);

/* Count one failure for both. */
void login_throttle_failed(const char *email, const char *client);

/* A successful login clears the email's counter. */
void login_throttle_clear(const char *email);

#endif
