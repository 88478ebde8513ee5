/*
 * cors.c -- CORS headers from the configured origin list.
 */
#include "nexus/http/cors.h"

#include <microhttpd.h>
#include <string.h>

bool cors_origin_allowed(const struct config *cfg, const char *origin) {
    if (!origin)
        return false;
    for (size_t i = 0; i < cfg->cors_origin_count; i++)
        if (strcmp(cfg->cors_origins[i], origin) == 0)
            return true;
    return false;
}

void cors_add_headers(const struct config *cfg, const char *origin, struct MHD_Response *r) {
    MHD_add_response_header(r, "Vary", "Origin");
    if (!cors_origin_allowed(cfg, origin))
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    /* the origin is echoed, never "*": a page may send its cookies or
     * Authorization with credentials: 'include' and read the answer */
    MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
    MHD_add_response_header(r, "Access-Control-Expose-Headers",
                            "Content-Disposition, ETag, Idempotent-Replayed, Location, Retry-After,"
                            " WWW-Authenticate, X-Cache, X-Request-Id");
}

void cors_add_preflight(const struct config *cfg, const char *origin, const char *allow,
                        struct MHD_Response *r) {
    if (!cors_origin_allowed(cfg, origin))
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match,"
                            " X-Request-Id");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
}
