/*
 * request.h -- the per-request state shared by every stage of the pipeline.
 *
 * A request is created on the first access-handler call and freed in the
 * completion callback. Strings it points at (path, header values) belong to
 * libmicrohttpd and live exactly as long as the request.
 */
#ifndef NEXUS_HTTP_REQUEST_H
#define NEXUS_HTTP_REQUEST_H

#include "nexus/auth/password.h"
#include "nexus/core/err.h"
#include "nexus/core/fielderr.h"
#include "nexus/core/xmem.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct response;

struct MHD_Connection;
struct offload_ticket;
struct route;
struct throttle_carry;
struct cache_key_spec;
struct key_param;

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_OTHER,
    HTTP__COUNT
};

enum access { ACCESS_UNSET = 0, ACCESS_PUBLIC, ACCESS_CUSTOMER, ACCESS_STAFF, ACCESS_ADMIN };

#define NX_MAX_PATH_PARAMS 4
#define NX_MAX_QUERY_ARGS  64
/* Pieces of a query between '&'s, empty and ignored ones too: each costs
 * libmicrohttpd a record in the connection's 32 KiB of memory, and some
 * 500 of them leave it unable to answer at all. */
#define NX_MAX_QUERY_PIECES 256
#define NX_REQUEST_ID_MAX   128

struct slice {
    const char *ptr;
    size_t len;
};

struct query_arg {
    const char *key;
    const char *value; /* NULL for a key without '=' */
    size_t len;
};

/* An empty piece of a query ("a=1&&b=2" holds one), or a name holding a
 * NUL (%00), which names no parameter (libmicrohttpd hands names on as C
 * strings: "q%00x" would read as "q"): no parameter, not counted against
 * NX_MAX_QUERY_ARGS, and no part of a cache key. A value may hold a NUL:
 * a route that reads it refuses it (request_query). */
static inline bool query_piece_is_ignored(bool key_empty, bool key_holds_nul, bool value_empty) {
    return (key_empty && value_empty) || key_holds_nul;
}

/* The rule on a decoded argument (a NUL first in the value reads as an
 * empty value). */
static inline bool query_arg_is_ignored(const char *key, size_t key_size, const char *value) {
    return query_piece_is_ignored(key_size == 0, strlen(key) != key_size,
                                  value == NULL || value[0] == '\0');
}

/* Who is calling: filled by the auth stage for non-public routes, and for
 * public routes when a bearer token is present. */
struct principal {
    int64_t user_id;  /* 0: anonymous */
    enum access role; /* ACCESS_PUBLIC when anonymous */
    char family[40];  /* login (token family) id of the access token */
};

struct request {
    struct MHD_Connection *conn;
    enum http_method method;
    const char *method_name;
    const char *path;
    bool http10; /* the request line said HTTP/1.0 */
    const struct route *route;
    /* The first route whose template the path matched, whatever its
     * method (set with route by router_match; the metrics of a 405). */
    const struct route *pattern_route;
    struct slice params[NX_MAX_PATH_PARAMS];
    size_t param_count;
    char request_id[NX_REQUEST_ID_MAX + 1];
    uint64_t started_us;

    struct buf body;
    size_t body_seen; /* bytes received, including discarded ones */
    json_t *json;     /* the parsed body, owned */
    /* Fields named while reading the body (a number past a double, a NUL),
     * handed to a ROUTE_MISSING_FIRST handler with json as far as it reads
     * (see http/router.h); empty otherwise. */
    struct field_errors body_faults;

    struct principal principal;

    /* A streamed upload (ROUTE_UPLOAD): the route's state, owned, freed with
     * upload_free; the error a body chunk met, answered when the body is
     * in; and the bytes dropped since. */
    void *upload;
    void (*upload_free)(void *upload);
    enum nx_err upload_error;

    /* The Idempotency-Key of a POST whose answer is kept (http/idempotency),
     * or NULL; the fingerprint of its method, query and body, hashed as the
     * body arrives and finished (64 hex digits) before the handler runs. */
    const char *idem_key;
    crypto_auth_hmacsha256_state idem_hash; /* keyed: see http/idempotency.c */
    char idem_fingerprint[2 * crypto_auth_hmacsha256_BYTES + 1];
    /* Its run let go of the key's lock to wait for a password hash: the
     * key (its lock's number) is marked as still running meanwhile. */
    bool idem_waiting;
    int64_t idem_lock;
    /* The token of its claim on the key, taken when the headers of an
     * upload arrived (32 hex digits), or "": see http/idempotency.h. */
    char idem_claim[33];

    /* What problem.c renders when a stage returns an error. */
    char detail[256];
    struct field_errors field_errors; /* what validation found, in order */
    json_t *problem_extra;            /* more members for the problem body, owned */
    unsigned retry_after;             /* seconds, for 429 and 503 */
    bool conflict_retries; /* its 409 ends on a retry (a key still running): Retry-After */
    bool token_rejected;   /* a 401 for the bearer token sent (RFC 6750 3.1) */
    unsigned allow_mask;   /* methods for Allow on 405 and OPTIONS */
    bool close_connection;
    bool head_refused;  /* the server's own 414 or 431 of its head (http/server.c) */
    bool body_arriving; /* its body is still coming in (a drain does not wait for it) */
    /* The handler's refusal comes with writes that must stand (a reused
     * refresh token ends its login): they are committed, not rolled back
     * with the refusal, under an Idempotency-Key too. */
    bool refusal_commits;
    /* An answer decided from the headers of a request without a body,
     * sent on the call that ends the request (see http/server.c): the
     * problem early_error, or the OPTIONS answer. */
    bool answer_early;
    bool early_options;
    enum nx_err early_error;

    /* Query arguments, read once on first use. */
    struct query_arg query[NX_MAX_QUERY_ARGS];
    size_t query_count;
    bool query_loaded;
    bool query_overflow;
    /* A cacheable route: its cache key's row, and in it the only query
     * parameters its handler may read (key_params, key_param_count). */
    const struct cache_key_spec *key_spec;
    const struct key_param *key_params;
    size_t key_param_count;

    /* A catalog write's answer waits until now_us() reaches this (0: no
     * wait; see cache/catalog.h); meanwhile the connection is suspended
     * and the answer kept here (see http/fence.h). */
    uint64_t answer_after_us;
    struct response *held;

    /* Password hashes computed off the server thread for this request, and
     * the ticket of the one computing now (see auth/password.h, and
     * http/offload.h); how many times the handler has run. */
    struct password_memo hashes;
    struct offload_ticket *hash_ticket;
    int handler_runs;
    struct throttle_carry *throttle_carry; /* see http/ratelimit.h */

    unsigned status; /* sent status, for the access log and metrics */
    uint64_t bytes;
};

/* Map a method name to its enum; unknown names give HTTP_OTHER. */
enum http_method http_method_parse(const char *name);
const char *http_method_name(enum http_method m);

/* Path parameter i (in pattern order). */
struct slice request_param(const struct request *req, size_t i);

/*
 * Look up query argument name. Returns NX_OK with *value NULL when absent,
 * NX_OK with the value when present once, and NX_ERR_BAD_REQUEST (detail
 * recorded) when repeated, holding a NUL byte or not valid UTF-8.
 */
enum nx_err request_query(struct request *req, const char *name, struct slice *value);

/* The names of the query arguments that start with prefix, in the order
 * sent: at most cap of them into names; returns how many there are (more
 * than cap when some did not fit). Their values are read with
 * request_query, which checks them. */
size_t request_query_names(struct request *req, const char *prefix, const char **names, size_t cap);

/* A request header value, or NULL. */
const char *request_header(const struct request *req, const char *name);

/* A list header (If-Match, If-None-Match) sent on one line or several:
 * every line, joined with ", " into out (RFC 9110 5.3), or NULL when the
 * header is absent. The caller clears out. */
const char *request_header_list(const struct request *req, const char *name, struct buf *out);

/* Record the detail sentence of the request's error (problem_detail is
 * the variadic form); it is cut to fit req->detail. */
void request_set_detail(struct request *req, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drop what a failed stage set for the problem body (before a retry). */
void request_forget_problem(struct request *req);

/* Free what the request owns (not the struct itself). */
void request_clear(struct request *req);

#endif
