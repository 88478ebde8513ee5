/*
 * router.h -- the route table as data, and its matcher.
 *
 * Each row declares method, path pattern ("/api/v1/products/{id}"),
 * handler, access level and flags. router_validate refuses a table with a
 * row that has no access level, so no route is ever public by accident.
 * Matching is exact: a trailing slash is a different path.
 */
#ifndef NEXUS_HTTP_ROUTER_H
#define NEXUS_HTTP_ROUTER_H

#include "nexus/core/err.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <stdbool.h>
#include <stddef.h>

enum route_flags {
    ROUTE_JSON_BODY = 1u << 0,           /* takes a JSON object body */
    ROUTE_CACHEABLE = 1u << 1,           /* public catalog read */
    ROUTE_INVALIDATES_CATALOG = 1u << 2, /* catalog write */
    ROUTE_RAW = 1u << 3,                 /* handler writes non-JSON bytes (spec, docs, metrics) */
    ROUTE_NO_AUTH = 1u << 4,             /* operational: a token is verified, never looked up */
    ROUTE_PRIVATE =
        1u << 5, /* METRICS_ALLOW addresses or the METRICS_TOKEN bearer only; else 404 */
    /* A POST whose answers are never kept (GraphQL, which writes nothing):
     * an Idempotency-Key is checked only. */
    ROUTE_NO_REPLAY = 1u << 6,
    /* The body is not buffered: each piece goes to the row's upload
     * function as it arrives (see route_upload). */
    ROUTE_UPLOAD = 1u << 7,
    /* The first path parameter is a product id: a cacheable read is that
     * product's item (cached under its own generation), a catalog write
     * changes that product only, besides the lists. */
    ROUTE_PRODUCT_ITEM = 1u << 8,
    ROUTE_NEW_PRODUCT = 1u << 9, /* a catalog write that adds a product, besides the lists */
    /* Takes a JSON body that the handler parses and answers for itself
     * (GraphQL answers its own errors, never problem+json): the content
     * type is checked (415) and the body buffered up to BODY_MAX_KIB, as
     * for every route (413), but not parsed. */
    ROUTE_OWN_BODY = 1u << 10,
    /* {id} is an id or a slug (a category): any segment may name one */
    ROUTE_ID_OR_SLUG = 1u << 11,
    /* Takes no body, but accepts a JSON object one (parsed into req->json
     * for the handler to refuse its fields): many clients send {} with
     * every POST. */
    ROUTE_EMPTY_BODY_OK = 1u << 12,
    /* A POST whose answer carries tokens (login, refresh): an
     * Idempotency-Key keeps it sealed, readable only with the request's
     * own body (the password, the refresh token) and JWT_SECRET. */
    ROUTE_SEALED_REPLAY = 1u << 13,
    /* Strings holding a NUL (\u0000) reach the handler, which reads them
     * itself (a login's malformed email or wrong password is its 401),
     * instead of the 422 naming their field. */
    ROUTE_NUL_STRINGS = 1u << 14,
    /* The body gives an email and its password (login, register): an
     * Idempotency-Key's replay and its 422 for another body are password
     * attempts for that email (see idempotency.c). */
    ROUTE_PASSWORD_BODY = 1u << 15,
    /* A write to one resource (a product, a variant, a user) whose handler
     * answers that it does not exist (404), or that a precondition fails
     * (412), before the body's field errors. A body whose reading named
     * fields (a number past a double, a NUL) reaches it too: req->json as
     * read (such a number as 0), the fields in req->body_faults, which
     * the handler must refuse (api_body_faults); its 422 names those
     * fields only. */
    ROUTE_MISSING_FIRST = 1u << 16,
    /* Its answers concern an account (its tokens, its data, its logins):
     * every one, refusals and 304s included, says Cache-Control: no-store,
     * so that no cache (a phone's HTTP cache on disk) keeps it. So do the
     * answers to a path its pattern matches but for an invalid id. */
    ROUTE_NO_STORE = 1u << 17,
};

typedef enum nx_err (*route_handler)(struct request *req, struct response *res);

/* A ROUTE_UPLOAD row's body sink: called once with data NULL when the
 * headers are in (it checks content type, size and query, instead of the
 * JSON checks), then with each piece of the body. An error is answered
 * (by problem.c, from what it recorded) once the body is in, and the rest
 * of the body is dropped. */
typedef enum nx_err (*route_upload)(struct request *req, const char *data, size_t len);

struct route {
    enum http_method method;
    const char *pattern;
    route_handler handler;
    enum access access;
    unsigned flags;
};

/* The body sink of each ROUTE_UPLOAD row, by its handler (defined in
 * api/routes.c next to the table); router_validate requires one. */
struct upload_spec {
    route_handler handler;
    route_upload upload;
};
extern const struct upload_spec nx_uploads[];
extern const size_t nx_upload_count;

/* The upload function of a ROUTE_UPLOAD row (NULL if it has none). */
route_upload router_upload(const struct route *r);

/* The table of the API, defined in api/routes.c. */
extern const struct route nx_routes[];
extern const size_t nx_route_count;

/*
 * Find the route for (method, path). On NX_OK req->route and req->params are
 * set. NX_ERR_NOT_FOUND when no pattern matches the path; NX_ERR_METHOD when
 * some do but not for this method, with req->allow_mask set to the methods
 * that do (HEAD is matched by GET rows).
 */
enum nx_err router_match(const struct route *routes, size_t n, struct request *req);

/* router_match by the patterns alone: an {id} or {vid} need not be a
 * valid id. For a CORS preflight, which asks what the path's route allows
 * before its request finds out whether the id names anything. */
enum nx_err router_match_template(const struct route *routes, size_t n, struct request *req);

/* The row whose pattern path matches (ids unchecked, the fewest parameters
 * first), whatever the method; NULL when none does. */
const struct route *router_template_route(const struct route *routes, size_t n, const char *path);

/* Check a table: every row has an access level, a handler and a pattern. */
bool router_validate(const struct route *routes, size_t n, char *err, size_t errcap);

/* "GET, HEAD, OPTIONS" style list for an Allow header. */
void router_format_allow(unsigned mask, char *buf, size_t cap);

/* Index of route r in the table, for metrics. */
size_t router_index(const struct route *r);

#endif
