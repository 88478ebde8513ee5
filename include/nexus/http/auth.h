/*
 * auth.h -- the authentication and role stage of the pipeline.
 *
 * Every route declares an access level; this stage enforces it before the
 * handler runs, so handlers never check roles themselves. The token's role
 * claim is advisory: the role and is_active stored now decide, and the
 * token's login must still be live, so a demotion, a deactivation or a
 * logout takes effect on the very next request.
 */
#ifndef NEXUS_HTTP_AUTH_H
#define NEXUS_HTTP_AUTH_H

#include "nexus/auth/token.h"
#include "nexus/core/config.h"
#include "nexus/core/err.h"
#include "nexus/http/request.h"

/* Keep the signing keys of cfg (which must outlive the server). */
void auth_init(const struct config *cfg);
const struct token_keys *auth_keys(void);

/* Resolve the caller from the Authorization header and check it against
 * req->route->access. NX_OK, NX_ERR_UNAUTHORIZED (401) or
 * NX_ERR_FORBIDDEN (403); NX_ERR_UNAVAILABLE when the user store is down.
 * An invalid token is a 401 even on a public route. */
enum nx_err auth_authorize(struct request *req);

/* The value of the request's Authorization header when it has exactly
 * one, else NULL. */
const char *auth_sole_authorization(const struct request *req);

/* Whether a caller with role may use a route of level required. */
int access_allows(enum access role, enum access required);

/* "customer" -> ACCESS_CUSTOMER ...; ACCESS_UNSET for anything else. */
enum access access_from_role(const char *role);

#endif
