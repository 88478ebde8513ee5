/*
 * auth.c -- bearer token to principal, and the route's access check.
 */
#include "nexus/http/auth.h"

#include "nexus/db/db.h"
#include "nexus/db/users.h"
#include "nexus/http/problem.h"
#include "nexus/http/router.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct token_keys keys;

void auth_init(const struct config *cfg) {
    keys.secret = (const unsigned char *)cfg->jwt_secret;
    keys.secret_len = cfg->jwt_secret_len;
    keys.issuer = cfg->jwt_issuer;
}

const struct token_keys *auth_keys(void) {
    return &keys;
}

int access_allows(enum access role, enum access required) {
    return required != ACCESS_UNSET && role >= required;
}

enum access access_from_role(const char *role) {
    if (strcmp(role, "customer") == 0)
        return ACCESS_CUSTOMER;
    if (strcmp(role, "staff") == 0)
        return ACCESS_STAFF;
    if (strcmp(role, "admin") == 0)
        return ACCESS_ADMIN;
    return ACCESS_UNSET;
}

struct auth_headers {
    const char *values[2];
    size_t count;
};

static enum MHD_Result collect_authorization(void *cls, enum MHD_ValueKind kind, const char *key,
                                             const char *value) {
    (void)kind;
    struct auth_headers *h = cls;
    if (strcasecmp(key, "Authorization") == 0) {
        if (h->count < 2)
            h->values[h->count] = value;
        h->count++;
    }
    return MHD_YES;
}

static enum nx_err unauthorized(struct request *req, const char *why) {
    return problem_detail(req, NX_ERR_UNAUTHORIZED, "%s", why);
}

/* Load the caller's stored role and check the login is live. */
static enum nx_err load_principal(struct request *req, const struct access_claims *c) {
    struct db *db = db_thread(req->request_id);
    PGresult *r = NULL;
    char id[24];
    if (!db) {
        req->retry_after = 2;
        return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is unavailable; retry later");
    }
    snprintf(id, sizeof id, "%lld", (long long)c->user_id);
    enum nx_err e = users_auth_state(db, id, c->family, &r);
    if (e != NX_OK)
        return e;
    bool live = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't' && PQgetvalue(r, 0, 2)[0] == 't';
    if (live) {
        req->principal.user_id = c->user_id;
        req->principal.role = access_from_role(PQgetvalue(r, 0, 0));
        memcpy(req->principal.family, c->family, sizeof c->family);
    }
    PQclear(r);
    req->token_rejected = !live;
    return live ? NX_OK : unauthorized(req, "the token's user or login is no longer active");
}

static struct auth_headers authorization_headers(const struct request *req) {
    struct auth_headers h = {{NULL, NULL}, 0};
    if (req->conn)
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_authorization, &h);
    return h;
}

const char *auth_sole_authorization(const struct request *req) {
    struct auth_headers h = authorization_headers(req);
    return h.count == 1 ? h.values[0] : NULL;
}

/* Check the bearer token, if any; with lookup, also load the caller's
 * stored role and login state. */
static enum nx_err authenticate(struct request *req, bool lookup) {
    struct auth_headers h = authorization_headers(req);
    const char *token;
    size_t len;
    struct access_claims claims;
    if (h.count == 0)
        return NX_OK; /* anonymous */
    if (token_from_authorization(h.values, h.count, &token, &len) != NX_OK) {
        /* one Bearer header with something in it: a token sent, refused */
        const char *sent = h.count == 1 ? token_bearer_credentials(h.values[0]) : NULL;
        req->token_rejected = sent && sent[strspn(sent, " \t")] != '\0';
        return unauthorized(req, "the Authorization header must be one 'Bearer <token>'");
    }
    if (token_verify_access(&keys, token, len, time(NULL), &claims) != NX_OK) {
        req->token_rejected = true;
        return unauthorized(req, "the access token is invalid or expired");
    }
    return lookup ? load_principal(req, &claims) : NX_OK;
}

enum nx_err auth_authorize(struct request *req) {
    req->principal.role = ACCESS_PUBLIC;
    /* Probes never wait on the database: a token there is only checked
     * for validity (an invalid token is a 401 everywhere). */
    enum nx_err e = authenticate(req, !(req->route->flags & ROUTE_NO_AUTH));
    if (e != NX_OK)
        return e;
    if (access_allows(req->principal.role, req->route->access))
        return NX_OK;
    if (req->principal.user_id == 0)
        return unauthorized(req, "a bearer token is required");
    return problem_detail(req, NX_ERR_FORBIDDEN, "this needs the %s role",
                          req->route->access == ACCESS_ADMIN   ? "admin"
                          : req->route->access == ACCESS_STAFF ? "staff"
                                                               : "customer");
}
