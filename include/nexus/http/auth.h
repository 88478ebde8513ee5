/*
 * auth.h -- the authentication and role stage of the pipeline.
 *
 * Every route declares an access level; this stage enforces it before the
 * handler runs, so handlers never check roles themselves.
 */
#ifndef NEXUS_HTTP_AUTH_H
#define NEXUS_HTTP_AUTH_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"

/* Resolve the caller from the Authorization header and check it against
 * req->route->access. NX_OK, NX_ERR_UNAUTHORIZED (401) or
 * NX_ERR_FORBIDDEN (403); NX_ERR_UNAVAILABLE when the user store is down. */
enum nx_err auth_authorize(struct request *req);

/* Whether a caller with role may use a route of level access. */
int access_allows(enum access role, enum access required);

#endif
