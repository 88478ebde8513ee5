/*
 * cors.h -- cross-origin headers for the origins named in CORS_ORIGINS.
 *
 * Access-Control-Allow-Origin echoes a configured origin, never "*", with
 * Access-Control-Allow-Credentials: true, and every response says Vary:
 * Origin so shared caches keep them apart.
 */
#ifndef NEXUS_HTTP_CORS_H
#define NEXUS_HTTP_CORS_H

#include "nexus/core/config.h"

#include <stdbool.h>

struct MHD_Response;

bool cors_origin_allowed(const struct config *cfg, const char *origin);

/* Add the CORS headers of an ordinary response. */
void cors_add_headers(const struct config *cfg, const char *origin, struct MHD_Response *r);

/* Add the preflight answer's headers (allowed methods from allow). */
void cors_add_preflight(const struct config *cfg, const char *origin, const char *allow,
                        struct MHD_Response *r);

#endif
