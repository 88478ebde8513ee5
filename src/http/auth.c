/*
 * auth.c -- the access stage: route access level against the caller.
 */
#include "nexus/http/auth.h"

#include "nexus/http/problem.h"
#include "nexus/http/router.h"

int access_allows(enum access role, enum access required) {
    return role >= required;
}

enum nx_err auth_authorize(struct request *req) {
    req->principal.role = ACCESS_PUBLIC;
    if (access_allows(req->principal.role, req->route->access))
        return NX_OK;
    return problem_detail(req, NX_ERR_UNAUTHORIZED, "a bearer token is required");
}
