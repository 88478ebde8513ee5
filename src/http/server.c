/*
 * server.c -- the libmicrohttpd daemon and the request pipeline.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we run every check that needs no body there, so
 * a bad request is refused before its body is read), once per body chunk,
 * and once more when the body is complete (where the handler runs).
 * A response can only be queued on the first or the last call.
 */
#include "nexus/http/server.h"

#include "nexus/auth/token.h"
#include "nexus/cache/cache.h"
#include "nexus/cache/catalog.h"
#include "nexus/core/jsonpath.h"
#include "nexus/core/condwait.h"
#include "nexus/core/log.h"
#include "nexus/core/parse.h"
#include "nexus/db/db.h"
#include "nexus/db/owed_bumps.h"
#include "nexus/db/replica.h"
#include "nexus/http/auth.h"
#include "nexus/http/cachekey.h"
#include "nexus/http/conditional.h"
#include "nexus/http/client.h"
#include "nexus/http/cors.h"
#include "nexus/http/deadline.h"
#include "nexus/http/fdbudget.h"
#include "nexus/http/linger.h"
#include "nexus/http/fence.h"
#include "nexus/http/offload.h"
#include "nexus/http/guard.h"
#include "nexus/http/idempotency.h"
#include "nexus/http/metrics.h"
#include "nexus/http/problem.h"
#include "nexus/http/ratelimit.h"
#include "nexus/http/router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

static const struct config *cfg;

int request_id_is_sane(const char *id) {
    size_t n = 0;
    if (!id)
        return 0;
    for (; id[n]; n++) {
        char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= NX_REQUEST_ID_MAX)
            return 0;
    }
    return n > 0;
}

static void assign_request_id(struct request *req) {
    const char *given = request_header(req, "X-Request-Id");
    /* libmicrohttpd keeps white space after a value, which is no part of
     * it (RFC 9112 5): "abc " is the id "abc". */
    size_t n = given ? strlen(given) : 0;
    while (n > 0 && (given[n - 1] == ' ' || given[n - 1] == '\t'))
        n--;
    if (n > 0 && n <= NX_REQUEST_ID_MAX) {
        memcpy(req->request_id, given, n);
        req->request_id[n] = '\0';
        if (request_id_is_sane(req->request_id))
            return;
    }
    /* A random prefix per thread and a counter: unique without a system
     * call per request. */
    static _Thread_local unsigned char prefix[8];
    static _Thread_local uint32_t counter;
    if (!counter)
        randombytes_buf(prefix, sizeof prefix);
    counter++;
    unsigned char raw[12];
    memcpy(raw, prefix, sizeof prefix);
    memcpy(raw + sizeof prefix, &counter, sizeof counter);
    sodium_bin2hex(req->request_id, sizeof req->request_id, raw, sizeof raw);
}

/* ---- sending ---------------------------------------------------------- */

/* A streamed body: the response's stream function, called by
 * libmicrohttpd as the client reads, with the thread's database
 * connection released after each call like after a pipeline step. */
struct stream_call {
    long (*stream)(void *ctx, char *out, size_t max);
    void *ctx;
    void (*stream_free)(void *ctx);
    int fd;          /* the connection's socket, -1 if unknown */
    uint64_t *bytes; /* the request's count for its access log line */
};

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct stream_call *c = cls;
    long n = c->stream(c->ctx, buf, max);
    db_thread_release();
    if (n < 0) {
        /* A failed stream must end the transfer now. With MHD_USE_TURBO,
         * libmicrohttpd neither shuts the socket down when a reader fails
         * nor closes it before the connection's next event, which can be
         * CONNECTION_TIMEOUT away: the client would wait that long for a
         * body that never ends. */
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* libmicrohttpd reads no more once the request has completed, so the
     * request (which its completion frees) is still there */
    *c->bytes += (uint64_t)n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void free_stream(void *cls) {
    struct stream_call *c = cls;
    c->stream_free(c->ctx);
    free(c);
}

static struct MHD_Response *create_response(struct request *req, struct response *res) {
    if (!res->stream) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            res->body = NULL; /* now owned by r */
        return r;
    }
    struct stream_call *c = xmalloc(sizeof *c);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    *c = (struct stream_call){res->stream, res->stream_ctx, res->stream_free,
                              info ? info->connect_fd : -1, &req->bytes};
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, read_stream, c, free_stream);
    if (r)
        res->stream_ctx = NULL; /* now owned by r */
    else
        free(c);
    return r;
}

/* Set when the server drains: new connections are refused, and each open
 * one is closed after its answer (Connection: close), so that a client
 * that keeps connections (a balancer's pool) takes its next request
 * elsewhere at once instead of meeting the close at the grace period's
 * end, and the drain ends as soon as the answers in hand are sent. */
static atomic_bool draining;

/* How long a draining server lets a connection sit with no request. */
#define DRAIN_IDLE_SECONDS 1

static bool closes_after_answer(const struct request *req) {
    return req->close_connection || atomic_load(&draining);
}

/* The route an answer is of: the request's, its path's (a 405, an
 * OPTIONS), or, for a path no route takes, the one whose pattern it
 * matches but for an invalid id (its 404). */
static const struct route *answer_route(const struct request *req) {
    if (req->route || req->pattern_route)
        return req->route ? req->route : req->pattern_route;
    return req->path ? router_template_route(nx_routes, nx_route_count, req->path) : NULL;
}

/* Whether the answer concerns an account, which no cache may keep. */
static bool answer_no_store(const struct request *req) {
    const struct route *route = answer_route(req);
    return route && (route->flags & ROUTE_NO_STORE);
}

static enum MHD_Result send_response(struct request *req, struct response *res) {
    /* A stream's length is unknown, so libmicrohttpd would send it chunked,
     * and it writes the last chunk even after HEAD's headers, where the
     * next response on the connection is read from: a HEAD of a stream is
     * answered unchunked and closes the connection instead. */
    struct MHD_Response *r = create_response(req, res);
    if (r && res->stream && req->method == HTTP_HEAD)
        MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    if (!r) {
        response_clear(res);
        return MHD_NO;
    }
    if (res->content_type)
        MHD_add_response_header(r, "Content-Type", res->content_type);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    cors_add_headers(cfg, request_header(req, "Origin"), r);
    for (size_t i = 0; i < res->header_count; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    if (!response_header_value(res, "Cache-Control") && answer_no_store(req))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (closes_after_answer(req)) {
        MHD_add_response_header(r, "Connection", "close");
        /* what the client sends after this request stays unread: closing
         * on it would reset the connection, and lose what is not sent */
        deadline_drain_on_close(req->conn);
    }
    enum MHD_Result ok = MHD_queue_response(req->conn, res->status, r);
    MHD_destroy_response(r);
    req->status = res->status;
    if (!res->stream) /* a stream counts what it sends */
        req->bytes = res->len;
    response_clear(res);
    return ok;
}

static enum MHD_Result send_problem(struct request *req, enum nx_err code) {
    struct response res = {0};
    if (code == NX_ERR_INTERNAL)
        log_error("request.failed", req->request_id, "%s %s failed", req->method_name, req->path);
    problem_render(req, code, &res);
    return send_response(req, &res);
}

/* ---- first call: checks that need no body ------------------------------- */

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, "Content-Length") == 0)
        f->content_length_count++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        if (!f->transfer_encoding_count++)
            f->transfer_encoding = value;
    } else if (strcasecmp(key, "Host") == 0)
        f->host_count++;
    else if (strcasecmp(key, "Content-Type") == 0)
        f->content_type_count++;
    if (!header_name_is_token(key))
        f->bad_name_count++;
    if (header_name_is_folded_framing(key))
        f->folded_framing_count++;
    return MHD_YES;
}

static enum nx_err check_framing(struct request *req) {
    struct framing f = {.http10 = req->http10};
    const char *why = NULL;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
    enum nx_err e = framing_check(&f, &why);
    if (e != NX_OK) {
        req->close_connection = true;
        return problem_detail(req, e, "%s", why);
    }
    return NX_OK;
}

/* A CORS preflight: an OPTIONS that says its origin and the method its
 * request will have. */
static bool is_preflight(const struct request *req) {
    return req->method == HTTP_OPTIONS && request_header(req, "Origin") &&
           request_header(req, "Access-Control-Request-Method");
}

/* OPTIONS: a CORS preflight or a plain question; both get 204 and Allow. */
static enum MHD_Result answer_options(struct request *req) {
    char allow[128];
    router_format_allow(req->allow_mask, allow, sizeof allow);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    const char *origin = request_header(req, "Origin");
    MHD_add_response_header(r, "Allow", allow);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    cors_add_headers(cfg, origin, r);
    if (request_header(req, "Access-Control-Request-Method"))
        cors_add_preflight(cfg, origin, allow, r);
    if (answer_no_store(req))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (closes_after_answer(req)) {
        MHD_add_response_header(r, "Connection", "close");
        /* what the client sends after this request stays unread: closing
         * on it would reset the connection, and lose what is not sent */
        deadline_drain_on_close(req->conn);
    }
    enum MHD_Result ok = MHD_queue_response(req->conn, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    req->status = MHD_HTTP_NO_CONTENT;
    return ok;
}

static bool declares_body(const struct request *req) {
    const char *cl = request_header(req, "Content-Length");
    return request_header(req, "Transfer-Encoding") || (cl && strspn(cl, "0") != strlen(cl));
}

/* A route that takes no body refuses one before a byte of it is read:
 * otherwise up to BODY_MAX_KIB would be buffered for nothing. */
static enum nx_err refuse_body(struct request *req) {
    if (!declares_body(req))
        return NX_OK;
    return problem_detail(req, NX_ERR_BAD_REQUEST, "this endpoint takes no request body");
}

/* Content type and declared size, for routes that take a JSON body; no
 * body at all for the others. */
static enum nx_err check_body_headers(struct request *req) {
    struct buf codings = {0};
    /* every line: a second one adds to the list (RFC 9110 5.3) */
    bool identity =
        content_coding_is_identity(request_header_list(req, "Content-Encoding", &codings));
    buf_clear(&codings);
    if (declares_body(req) && !identity)
        return problem_detail(req, NX_ERR_UNSUPPORTED_TYPE,
                              "no Content-Encoding is supported: send the body as it is");
    if (req->route->flags & ROUTE_UPLOAD)
        return router_upload(req->route)(req, NULL, 0);
    bool optional = (req->route->flags & ROUTE_EMPTY_BODY_OK) && declares_body(req);
    if (!(req->route->flags & (ROUTE_JSON_BODY | ROUTE_OWN_BODY)) && !optional)
        return refuse_body(req);
    if (!content_type_is_json(request_header(req, "Content-Type")))
        return problem_detail(req, NX_ERR_UNSUPPORTED_TYPE,
                              "the request body must be application/json (UTF-8)");
    const char *cl = request_header(req, "Content-Length");
    if (cl && strlen(cl) > 0) {
        char *end = NULL;
        errno = 0;
        unsigned long long declared = strtoull(cl, &end, 10);
        if (errno == ERANGE || declared > cfg->body_max) {
            return problem_detail(req, NX_ERR_TOO_LARGE, "the request body exceeds %zu bytes",
                                  cfg->body_max);
        }
    }
    return NX_OK;
}

/* Whether the request carries "Bearer <METRICS_TOKEN>" as its one
 * Authorization header. Both sides are hashed first, so the comparison
 * takes the same time whatever the length or the first wrong byte of a
 * guess. */
static bool has_metrics_token(const struct request *req) {
    const char *h = token_bearer_credentials(auth_sole_authorization(req));
    if (!cfg->metrics_token || !h)
        return false;
    unsigned char given[32], want[32];
    crypto_generichash(given, sizeof given, (const unsigned char *)h, strlen(h), NULL, 0);
    crypto_generichash(want, sizeof want, (const unsigned char *)cfg->metrics_token,
                       strlen(cfg->metrics_token), NULL, 0);
    return sodium_memcmp(given, want, sizeof want) == 0;
}

/* A private route (/metrics) exists only for METRICS_ALLOW addresses and
 * the METRICS_TOKEN bearer: anyone else gets the 404 of an unknown path.
 * *by_token: the bearer is the metrics token, not an access token. */
static enum nx_err check_private(struct request *req, bool *by_token) {
    /* the path's route even when the method is not its (405, OPTIONS): a
     * refused client learns nothing of it */
    const struct route *route = req->route ? req->route : req->pattern_route;
    *by_token = false;
    if (!(route->flags & ROUTE_PRIVATE))
        return NX_OK;
    if ((*by_token = has_metrics_token(req))) {
        req->principal.role = ACCESS_PUBLIC;
        return NX_OK;
    }
    struct ip_addr client;
    return request_client_ip(req, &client) &&
                   ip_ranges_contain(cfg->metrics_allow, cfg->metrics_allow_count, &client)
               ? NX_OK
               : NX_ERR_NOT_FOUND;
}

/* An answer on the first call: libmicrohttpd reads none of the body after
 * it and closes the connection, whose socket is drained first (see
 * http/linger.h), so that the client reads the answer, not a reset. */
static enum MHD_Result refuse_on_headers(struct request *req, enum nx_err e) {
    if (declares_body(req)) {
        req->close_connection = true;
        deadline_drain_on_close(req->conn);
    }
    return send_problem(req, e);
}

/* An answer decided from the headers. With a body declared it goes at
 * once, and the body is never read (refuse_on_headers). Without one it
 * waits for the call that ends the request: libmicrohttpd closes the
 * connection of an answer queued while the request is still being read,
 * so every 404, 401 or preflight would cost the client a new connection. */
static enum MHD_Result answer_early(struct request *req, enum nx_err e, bool options) {
    if (declares_body(req) && options) {
        /* the body is never read: the connection closes, after a drain */
        req->close_connection = true;
        deadline_drain_on_close(req->conn);
        return answer_options(req);
    }
    if (declares_body(req))
        return refuse_on_headers(req, e);
    req->answer_early = true;
    req->early_options = options;
    req->early_error = e;
    return MHD_YES;
}

static enum MHD_Result send_early(struct request *req) {
    return req->early_options ? answer_options(req) : send_problem(req, req->early_error);
}

/* libmicrohttpd decodes the request target in place into C strings, so an
 * encoded NUL cuts the path short ("/metrics%00.css" would be routed as
 * "/metrics"). Only this callback sees the target before decoding; its
 * return value is the request context on the first access-handler call. */
static const char ENCODED_NUL[] = "the request target contains %00";
/* The same decoding would make "/api/v1/products%2F1" the path
 * "/api/v1/products/1": an encoded slash belongs to one segment, which no
 * route has, so such a path is unknown (404), as paths match exactly. */
static const char ENCODED_SLASH[] = "no such resource";
static const char TOO_MANY_ARGS[] = "too many query parameters";
static const char TARGET_TOO_LONG[] = "the request target is too long";

/* libmicrohttpd reads a request's line and headers into one pool of
 * CONNECTION_MEMORY per connection, takes a record from it for each query
 * piece, header and cookie (and a copy of the Cookie header), and writes
 * the answer's headers into what is left. A request that fills it gets no
 * answer: the library closes the connection (or lets it hang until the
 * timeout) when it has no room left for the query's records, or for the
 * answer's headers. So the server bounds the head below it. A target
 * costing more than MAX_TARGET, its length and PARSED_COST for each query
 * piece, is a 414 and its query is not parsed: within it, the records fit
 * beside the line and whatever of the headers came with it, as the read
 * buffer then holds at most the line and one step of its growth (an
 * eighth of what is free, under 2 KiB). A line and headers over MAX_HEAD,
 * each record and the Cookie copy counted, are a 431, which keeps
 * ANSWER_ROOM for the answer's headers. Past the whole pool the library
 * answers 414 or 431 itself. */
#define CONNECTION_MEMORY (32 * 1024)
#define PARSED_COST       64 /* a record: 7 words, aligned to 2 */
#define MAX_TARGET        (20 * 1024)
#define ANSWER_ROOM       (2 * 1024)
#define MAX_HEAD          (CONNECTION_MEMORY - ANSWER_ROOM)

/* What the request's line and headers take of the pool (see above). */
static size_t head_cost(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *read =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    int records = MHD_get_connection_values(
        conn, MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND, NULL, NULL);
    const char *cookie = NULL;
    size_t cookie_len = 0;
    MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE,
                                  strlen(MHD_HTTP_HEADER_COOKIE), &cookie, &cookie_len);
    return (read ? read->header_size : 0) + PARSED_COST * (size_t)(records > 0 ? records : 0) +
           (cookie ? cookie_len + 1 : 0);
}

/* A 414 or 431 of the server's: first of all checks, as any other answer
 * could find no room either, and the connection is closed after it. */
static enum nx_err check_head_size(struct request *req, const char *target_problem) {
    enum nx_err e = NX_OK;
    if (target_problem == TARGET_TOO_LONG)
        e = problem_detail(req, NX_ERR_URI_TOO_LONG, "the request target exceeds %d bytes",
                           MAX_TARGET);
    else if (head_cost(req->conn) > MAX_HEAD)
        e = problem_detail(req, NX_ERR_HEADERS_TOO_LARGE,
                           "the request line and headers exceed %d bytes", MAX_HEAD);
    if (e != NX_OK)
        req->close_connection = req->head_refused = true;
    return e;
}

static enum MHD_Result on_headers(struct request *req, const char *target_problem) {
    enum nx_err e = check_head_size(req, target_problem);
    if (e != NX_OK)
        return answer_early(req, e, false);
    e = check_framing(req);
    /* a path with an encoded NUL or slash is no route's; a query with too
     * many parameters is checked after the route (404 and 405 first) and
     * after the 404 of a private route */
    bool path_problem = target_problem && target_problem != TOO_MANY_ARGS;
    if (e == NX_OK && path_problem)
        e = problem_detail(req,
                           target_problem == ENCODED_SLASH ? NX_ERR_NOT_FOUND : NX_ERR_BAD_REQUEST,
                           "%s", target_problem);
    if (e == NX_OK) {
        e = router_match(nx_routes, nx_route_count, req);
        /* A browser reports a refused preflight as a network failure, and
         * its app never sees the 404 the request itself would get. */
        if (e == NX_ERR_NOT_FOUND && is_preflight(req))
            e = router_match_template(nx_routes, nx_route_count, req);
    }
    bool by_token = false;
    if (e == NX_OK || e == NX_ERR_METHOD) {
        enum nx_err hidden = check_private(req, &by_token);
        e = hidden == NX_OK ? e : hidden;
    }
    /* after the private route's 404 too: a client it is hidden from
     * learns nothing of it from a 400 */
    if (e == NX_OK && target_problem == TOO_MANY_ARGS)
        e = problem_detail(req, NX_ERR_BAD_REQUEST, "%s", target_problem);
    if (e == NX_OK || e == NX_ERR_METHOD) {
        if (req->method == HTTP_OPTIONS)
            return answer_early(req, NX_OK, true);
    }
    if (e == NX_OK && !by_token)
        e = auth_authorize(req);
    if (e == NX_OK)
        e = check_body_headers(req);
    if (e == NX_OK)
        e = idempotency_check_header(req);
    return e == NX_OK ? MHD_YES : answer_early(req, e, false);
}

/* ---- body and final call ---------------------------------------------- */

/* An upload's piece goes to its route as it arrives; after an error the
 * rest is read and dropped, so that the client gets its answer (the whole
 * request must arrive within REQUEST_TIMEOUT, which bounds that). */
static enum MHD_Result accept_upload(struct request *req, const char *data, size_t size) {
    req->body_seen += size;
    if (req->upload_error != NX_OK)
        return MHD_YES;
    idempotency_feed(req, data, size);
    req->upload_error = router_upload(req->route)(req, data, size);
    return MHD_YES;
}

static enum MHD_Result accept_body(struct request *req, const char *data, size_t size) {
    if (req->route->flags & ROUTE_UPLOAD)
        return accept_upload(req, data, size);
    req->body_seen += size;
    idempotency_feed(req, data, size);
    /* past the cap a chunked body is read and dropped, so that the client
     * gets its 413, within REQUEST_TIMEOUT like any request */
    if (req->body_seen <= cfg->body_max)
        buf_append(&req->body, data, size);
    return MHD_YES;
}

/* Numbers jansson does not keep, and strings holding a NUL (\u0000), in a
 * body that is otherwise well-formed JSON (core/jsonpath): a NUL is an
 * error of its field (a 422). An integer past 64 bits is still a number, read
 * as the nearest double, as a real of the same digits would be, and each
 * field's validation decides whether it may be one. A real past a double
 * has no value to read: in an object, a field error (a 422, as validation
 * would say of a value out of range). NX_OK with req->json set when only
 * integers were widened, NX_ERR_VALIDATION with the fields named, else
 * NX_ERR_BAD_REQUEST (the body is malformed besides). */
static enum nx_err read_past_numbers(struct request *req, json_error_t *err) {
    struct field_errors found = {0};
    /* a ROUTE_NUL_STRINGS handler reads such strings itself */
    size_t nul = (req->route->flags & ROUTE_NUL_STRINGS) ? JSON_ALLOW_NUL : 0;
    json_t *parsed = jsonpath_load_past_numbers(req->body.data, req->body.len,
                                                JSON_REJECT_DUPLICATES | nul, err, &found);
    size_t named = fielderr_count(&found);
    /* a ROUTE_MISSING_FIRST handler answers them after its 404 and 412 */
    bool handed = parsed && named && (req->route->flags & ROUTE_MISSING_FIRST);
    if (handed)
        fielderr_append(&req->body_faults, &found);
    else if (parsed)
        fielderr_append(&req->field_errors, &found);
    if (parsed && (!named || handed))
        req->json = parsed;
    else
        json_decref(parsed);
    fielderr_clear(&found);
    return !parsed ? NX_ERR_BAD_REQUEST : named && !handed ? NX_ERR_VALIDATION : NX_OK;
}

static enum nx_err parse_json_body(struct request *req) {
    if (req->body.len == 0)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "a JSON object body is required");
    json_error_t err;
    /* any value, so that one that is no object is told so, not "malformed" */
    req->json = jsonpath_loadb(req->body.data, req->body.len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    enum nx_err e = NX_ERR_BAD_REQUEST;
    enum json_error_code code = json_error_code(&err);
    if (!req->json && code == json_error_null_character && (req->route->flags & ROUTE_NUL_STRINGS))
        req->json = jsonpath_loadb(req->body.data, req->body.len,
                                   JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    code = req->json ? json_error_unknown : json_error_code(&err);
    if (!req->json && (code == json_error_numeric_overflow || code == json_error_null_character ||
                       code == json_error_null_byte_in_key))
        e = read_past_numbers(req, &err);
    if (e == NX_ERR_VALIDATION)
        return e;
    if (!req->json)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "%s at line %d, column %d",
                              jsonpath_fault(&err), err.line, err.column);
    if (!json_is_object(req->json))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "the body must be a JSON object");
    return NX_OK;
}

/* ---- cache and conditional GET --------------------------------------- */

/* A 200 whose ETag the client already has becomes a 304 with that ETag. */
static void apply_if_none_match(struct request *req, struct response *res) {
    const char *etag = response_header_value(res, "ETag");
    bool read = req->method == HTTP_GET || req->method == HTTP_HEAD;
    if (!read || res->status != 200 || !etag)
        return;
    struct buf lines = {0};
    const char *none_match = request_header_list(req, "If-None-Match", &lines);
    bool matches = none_match && etag_matches(none_match, etag, true);
    buf_clear(&lines);
    if (matches) {
        /* libmicrohttpd gives every 304 a Content-Length, here 0. The
         * 200's length would be the RFC 9110 spelling, but HTTP clients
         * that read a 304's declared length as a body (wrk's parser among
         * them) then wait for bytes that never come. */
        free(res->body);
        res->body = NULL;
        res->len = 0;
        res->status = 304;
        res->content_type = NULL;
    }
}

struct key_args {
    struct query_arg args[NX_MAX_QUERY_ARGS];
    size_t count;
};

static enum MHD_Result add_key_arg(void *cls, enum MHD_ValueKind kind, const char *k, size_t klen,
                                   const char *v, size_t vlen) {
    (void)kind;
    struct key_args *q = cls;
    if (query_arg_is_ignored(k, klen, v))
        return MHD_YES;
    q->args[q->count++] = (struct query_arg){k, v, vlen};
    return q->count < NX_MAX_QUERY_ARGS ? MHD_YES : MHD_NO;
}

/* The request's cache key (see http/cachekey.h); false when it must not
 * be cached. */
static bool cache_key(struct request *req, struct buf *key) {
    if (req->key_spec->build)
        return req->key_spec->build(req, key) && key->len <= NX_CACHE_KEY_MAX;
    struct key_args q;
    q.count = 0;
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, add_key_arg, &q);
    struct cache_key_input in = {req->principal.role >= ACCESS_STAFF,
                                 req->route->pattern,
                                 req->params,
                                 req->param_count,
                                 q.args,
                                 q.count};
    return cache_key_build(key, req->key_spec, &in) && key->len <= NX_CACHE_KEY_MAX;
}

static void serve_hit(struct response *res, struct cache_lookup *l) {
    response_take(res, 200, "application/json", l->entry.body, l->entry.len);
    l->entry.body = NULL;
    if (l->entry.etag[0])
        response_header(res, "ETag", l->entry.etag);
    response_header(res, "X-Cache", "HIT");
}

/* The product a ROUTE_PRODUCT_ITEM request names, or 0 (any other route,
 * or an id that names no product: such a request answers 404). */
static int64_t product_item(const struct request *req) {
    int64_t id = 0;
    if (!(req->route->flags & ROUTE_PRODUCT_ITEM) || req->param_count < 1)
        return 0;
    struct slice s = request_param(req, 0);
    return parse_id(s.ptr, s.len, &id) ? id : 0;
}

/* A catalog read's handler, on the replica when it has replayed position
 * (see db/replica.h), else on the primary. A read that fails on the
 * replica (it went away mid-read, or recovery cancelled the query) runs
 * again on the primary: the replica never fails a read. */
static enum nx_err run_read(struct request *req, struct response *res, const char *position) {
    bool routed = replica_route(position, req->request_id);
    enum nx_err e = req->route->handler(req, res);
    if (!routed)
        return e;
    bool failed = e == NX_ERR_UNAVAILABLE || e == NX_ERR_INTERNAL;
    replica_route_end(failed);
    if (failed) {
        log_info("replica.retry", req->request_id, "read failed on the replica: on the primary");
        response_clear(res);
        request_forget_problem(req);
        e = req->route->handler(req, res);
    }
    return e;
}

/* A lookup that found no WAL position (no write recorded one since Redis
 * started or lost it) gets the primary's position now: every write
 * answered before this read committed at or before it. Recorded, so that
 * later reads need not ask. */
static void find_position(struct cache_lookup *l) {
    if (!replica_configured() || !l->usable || l->position[0])
        return;
    if (db_wal_position(l->position, sizeof l->position))
        catalog_cache_raise_position(l->position);
}

/* A public catalog read: from the cache when it holds this request's
 * answer, else from the handler, whose 200 then fills the cache. */
static enum nx_err run_cached(struct request *req, struct response *res) {
    struct buf key = {0};
    struct cache_lookup l;
    int64_t item = product_item(req);
    bool item_route = req->route->flags & ROUTE_PRODUCT_ITEM;
    if ((item_route && !item) || !cache_key(req, &key)) {
        buf_clear(&key);
        enum nx_err e = run_read(req, res, NULL);
        if (e == NX_OK)
            response_header(res, "X-Cache", "MISS");
        return e;
    }
    catalog_cache_get(key.data, key.len, item, &l);
    enum nx_err e = NX_OK;
    if (l.hit) {
        serve_hit(res, &l);
    } else {
        find_position(&l);
        e = run_read(req, res, l.position);
        if (e == NX_OK && res->status == 200 && !res->no_store)
            catalog_cache_put(&l, key.data, key.len, response_header_value(res, "ETag"), res->body,
                              res->len);
        if (e == NX_OK)
            response_header(res, "X-Cache", "MISS");
    }
    cache_lookup_clear(&l);
    buf_clear(&key);
    return e;
}

/* A handler whose transaction lost a deadlock or a serialization conflict
 * left nothing behind (PostgreSQL rolled it back whole): run it again, up
 * to NX_CONFLICT_RETRIES more times, before that becomes a 503. Only a
 * conflict lost by this run counts, never one an earlier request on this
 * thread left behind. Each retry first waits a short random while that
 * grows with the attempt, so two transactions that lost to each other do
 * not meet again in lock-step. */
#define NX_CONFLICT_RETRIES 3

/* The route's handler. A body refused for the fields its reading named
 * (see ROUTE_MISSING_FIRST) is a 422 naming those: what the handler found
 * in the rest, read with such a number as 0, is not what the client
 * sent. */
static enum nx_err call_handler(struct request *req, struct response *res) {
    enum nx_err e = req->route->handler(req, res);
    if (e == NX_ERR_VALIDATION && fielderr_count(&req->body_faults)) {
        fielderr_clear(&req->field_errors);
        fielderr_append(&req->field_errors, &req->body_faults);
    }
    return e;
}

static enum nx_err run_once(struct request *req, struct response *res) {
    db_thread_forget_failures();
    if (req->idem_key)
        return idempotency_run(req, res, call_handler);
    return call_handler(req, res);
}

static enum nx_err run_retrying(struct request *req, struct response *res) {
    enum nx_err e = run_once(req, res);
    for (int retry = 1;
         retry <= NX_CONFLICT_RETRIES && e == NX_ERR_UNAVAILABLE && db_thread_lost_conflict();
         retry++) {
        log_info("db.retry", req->request_id, "transaction lost a conflict: attempt %d of %d",
                 retry + 1, NX_CONFLICT_RETRIES + 1);
        usleep((useconds_t)(1000u + randombytes_uniform(10000u * (uint32_t)retry)));
        response_clear(res);
        request_forget_problem(req);
        e = run_once(req, res);
    }
    return e;
}

/* Bump the catalog generation for a committed write, marking what it
 * changed (see cache/catalog.h). A bump this process owes (Redis did not
 * take it) is also recorded in PostgreSQL before the answer, so that
 * another process delivers it should this one stop first. */
static void bump_for(struct request *req) {
    int64_t item = product_item(req);
    enum catalog_change change = CATALOG_CHANGE_ALL;
    if (item)
        change = CATALOG_CHANGE_PRODUCT;
    else if (req->route->flags & ROUTE_NEW_PRODUCT)
        change = CATALOG_CHANGE_NEW_ITEM;
    req->answer_after_us = catalog_cache_bump_deferred(change, item);
    struct db *db = catalog_cache_owes() ? db_thread(req->request_id) : NULL;
    if (db && owed_bumps_record(db, NULL) != NX_OK)
        log_warn("cache.owed", req->request_id, "cannot record the owed generation bump");
}

/* Set when the shutdown's grace period is over and the statements still
 * running are cancelled (drain_and_stop). */
static atomic_bool statements_cancelled;

/* A 503 from a statement that ran out of time says so: unlike an outage,
 * the same request will time out again. One cancelled by the shutdown
 * says that instead: it may well succeed on another instance. */
static enum nx_err explain_timeout(struct request *req, enum nx_err e) {
    if (e != NX_ERR_UNAVAILABLE || req->detail[0] || !db_thread_timed_out())
        return e;
    if (atomic_load(&statements_cancelled))
        return problem_detail(req, e,
                              "the server is shutting down and cancelled this request's database "
                              "statement; retry");
    /* a write of one resource that runs out of time waited on a lock (with
     * the default settings PostgreSQL names it a statement timeout) */
    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return problem_detail(req, e,
                              "the database did not finish this write within the %d ms the server "
                              "allows a statement (another request may hold what it needs); retry "
                              "later",
                              db_statement_timeout());
    return problem_detail(req, e,
                          "the request needs more than the %d ms the server allows a database "
                          "statement; narrow it (a filter, a smaller limit) and retry",
                          db_statement_timeout());
}

static enum nx_err run_route(struct request *req, struct response *res) {
    unsigned flags = req->route->flags;
    bool read = req->method == HTTP_GET || req->method == HTTP_HEAD;
    if (flags & ROUTE_CACHEABLE) {
        req->key_spec = cache_key_spec(req->route);
        req->key_params = req->key_spec->params;
        req->key_param_count = req->key_spec->count;
    }
    if ((flags & ROUTE_CACHEABLE) && read && cache_enabled())
        return run_cached(req, res);
    if ((flags & ROUTE_CACHEABLE) && read) /* no cache: no shared write position */
        return run_read(req, res, NULL);
    enum nx_err e = run_retrying(req, res);
    /* After the commit, before the answer: see cache/catalog.h. */
    if (e == NX_OK && (flags & ROUTE_INVALIDATES_CATALOG) && !res->unchanged)
        bump_for(req);
    return e;
}

static enum nx_err run_handler(struct request *req, struct response *res) {
    db_thread_forget_failures();
    return explain_timeout(req, run_route(req, res));
}

/* Send the answer, or keep it while the connection is held until
 * answer_after_us (http/fence.h); without the fence (at shutdown), wait
 * here. */
static enum MHD_Result answer_when_due(struct request *req, struct response *res) {
    if (req->answer_after_us > now_us()) {
        req->held = xmalloc(sizeof *req->held);
        *req->held = *res;
        if (fence_hold(req->conn, req->answer_after_us))
            return MHD_YES;
        free(req->held);
        req->held = NULL;
        catalog_cache_wait(req->answer_after_us);
    }
    return send_response(req, res);
}

/* The connection was resumed: send the answer kept for it. */
static enum MHD_Result send_held(struct request *req) {
    struct response res = *req->held;
    free(req->held);
    req->held = NULL;
    return send_response(req, &res);
}

/* Requests waiting for a hashing lane, at most: about 3 s of hashes on
 * two lanes. More are refused at once (see http/offload.h). */
#define HASH_QUEUE_MAX 64
/* Runs of one request's handler that may defer a hash: changing a
 * password needs three (verify the current one, hash the new one, write).
 * Past that, hashes run inline, so a handler can never loop. */
#define HANDLER_RUNS_DEFERRING 4

static void hash_run(void *job) {
    password_job_run(job);
}

static void hash_refuse(void *job) {
    password_job_refuse(job);
}

static void hash_dispose(void *job) {
    password_job_free(job);
}

/* The hash job the handler deferred: on a lane, the connection suspended
 * (true); else computed here, or refused when the lanes are full (*e). */
static bool hash_off_thread(struct request *req, struct password_job *job, enum nx_err *e) {
    struct offload_work work = {job, hash_run, hash_refuse, hash_dispose};
    enum offload_result r = offload_submit(req->conn, &work, &req->hash_ticket);
    if (r == OFFLOAD_QUEUED)
        return true;
    if (r == OFFLOAD_FULL) {
        password_job_free(job);
        req->retry_after = 1;
        *e = problem_detail(req, NX_ERR_UNAVAILABLE,
                            "the server is busy hashing other passwords; retry in a moment");
        return false;
    }
    password_job_run(job); /* no lanes: at shutdown */
    password_memo_add(&req->hashes, job);
    return false;
}

/* Run the handler. A password hash it needs is not computed on this
 * thread (auth/password.h): the handler unwinds, the hash runs on a lane,
 * and the handler runs again once the connection is resumed. True when
 * the connection is suspended so; else *e and res are the outcome. */
static bool run_deferring_hashes(struct request *req, struct response *res, enum nx_err *e) {
    for (;;) {
        bool defer = req->handler_runs++ < HANDLER_RUNS_DEFERRING;
        if (defer)
            password_defer_begin(&req->hashes);
        *e = run_handler(req, res);
        struct password_job *job = defer ? password_defer_end() : NULL;
        if (!job)
            return false;
        if (*e != NX_ERR_UNAVAILABLE) { /* went on without it (an upgrade of a hash) */
            password_job_free(job);
            return false;
        }
        response_clear(res);
        request_forget_problem(req);
        *e = NX_OK;
        if (hash_off_thread(req, job, e))
            return true;
        if (*e != NX_OK)
            return false;
    }
}

static enum MHD_Result answer(struct request *req, enum nx_err e, struct response *res) {
    if (e != NX_OK) {
        response_clear(res);
        return send_problem(req, e);
    }
    apply_if_none_match(req, res);
    return answer_when_due(req, res);
}

static enum MHD_Result run_and_answer(struct request *req) {
    struct response res = {0};
    enum nx_err e = NX_OK;
    if (run_deferring_hashes(req, &res, &e))
        return MHD_YES;
    return answer(req, e, &res);
}

/* The connection was resumed by its hashing lane: run the handler again,
 * with the hash. One refused at shutdown is a 503. */
static enum MHD_Result on_hashed(struct request *req) {
    struct password_job *job = offload_collect(req->hash_ticket);
    req->hash_ticket = NULL;
    if (password_job_refused(job)) {
        password_job_free(job);
        req->retry_after = 1;
        req->close_connection = true;
        return send_problem(
            req, problem_detail(req, NX_ERR_UNAVAILABLE, "the server is shutting down; retry"));
    }
    password_memo_add(&req->hashes, job);
    return run_and_answer(req);
}

static enum MHD_Result on_complete(struct request *req) {
    enum nx_err e = NX_OK;
    deadline_request_in(req->conn);
    if (req->route->flags & ROUTE_UPLOAD) {
        e = req->upload_error;
    } else if (req->body_seen > cfg->body_max) {
        req->close_connection = true;
        e = problem_detail(req, NX_ERR_TOO_LARGE, "the request body exceeds %zu bytes",
                           cfg->body_max);
    } else if ((req->route->flags & ROUTE_JSON_BODY) ||
               ((req->route->flags & ROUTE_EMPTY_BODY_OK) && req->body_seen)) {
        e = parse_json_body(req);
    }
    if (e != NX_OK)
        return send_problem(req, e);
    return run_and_answer(req);
}

/* Whether s[0..len) holds the escape %<hex> (upper or lower case). */
static bool holds_escape(const char *s, size_t len, const char hex[2]) {
    for (const char *p = memchr(s, '%', len); p && (size_t)(p - s) + 2 < len;
         p = memchr(p + 1, '%', len - (size_t)(p + 1 - s)))
        if (p[1] == hex[0] && (p[2] | 0x20) == (hex[1] | 0x20))
            return true;
    return false;
}

/* Whether the piece p[0..len) of a query, still encoded, is one that
 * query_arg_is_ignored leaves out once libmicrohttpd has decoded it: a
 * name decodes empty only when it is empty, and holds a NUL only where
 * "%00" stands (no escape's '%' is part of another escape). */
static bool raw_query_piece_is_ignored(const char *p, size_t len) {
    const char *eq = memchr(p, '=', len);
    size_t key_len = eq ? (size_t)(eq - p) : len;
    size_t value_len = eq ? len - key_len - 1 : 0;
    bool value_empty = value_len == 0 || holds_escape(eq + 1, value_len < 3 ? value_len : 3, "00");
    return query_piece_is_ignored(key_len == 0, holds_escape(p, key_len, "00"), value_empty);
}

/* The pieces of a raw query that libmicrohttpd hands on (each one before
 * a '&', and the last one unless it is empty) and the parameters among
 * them (those query_arg_is_ignored keeps), counted until either is past
 * its bound. */
struct query_count {
    size_t pieces, params;
};

static bool query_count_within(struct query_count n) {
    return n.pieces <= NX_MAX_QUERY_PIECES && n.params <= NX_MAX_QUERY_ARGS;
}

static struct query_count count_query(const char *query) {
    struct query_count n = {0, 0};
    /* strchr's steps, not a byte at a time: a GraphQL document makes long
     * targets with few '&' */
    for (const char *p = query ? query + 1 : NULL; p && *p && query_count_within(n);) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        n.pieces++;
        n.params += !raw_query_piece_is_ignored(p, len);
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

/* More query parameters than any endpoint reads, or a target too long
 * (MAX_TARGET), would exhaust libmicrohttpd's per-connection memory while
 * it parses them, and it would then answer nothing. The target is still
 * raw here and parsed just after this callback, so the query is cut off
 * (the request is refused anyway) before the library sees it. NULL, or
 * the mark of the refusal. */
static const char *cut_costly_query(const char *uri) {
    char *query = strchr(uri, '?');
    struct query_count n = count_query(query);
    bool too_many = !query_count_within(n); /* then it is not parsed: no records */
    bool too_long = strlen(uri) + (too_many ? 0 : PARSED_COST * n.pieces) > MAX_TARGET;
    if (!too_long && !too_many)
        return NULL;
    if (query)
        query[1] = '\0'; /* the target lives in the connection's own buffer */
    return too_long ? TARGET_TOO_LONG : TOO_MANY_ARGS;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    /* a NUL in the query is the parameters' business (request.h) */
    size_t path_len = strcspn(uri, "?");
    /* whatever else is wrong: the memory guard */
    const char *cut = cut_costly_query(uri);
    if (cut == TARGET_TOO_LONG) /* before all: the answer must fit */
        return (void *)TARGET_TOO_LONG;
    if (holds_escape(uri, path_len, "00"))
        return (void *)ENCODED_NUL;
    /* an unknown path's 404 comes before the parameters' 400 */
    if (holds_escape(uri, path_len, "2F"))
        return (void *)ENCODED_SLASH;
    return (void *)cut;
}

static bool is_target_mark(const void *ctx) {
    return ctx == ENCODED_NUL || ctx == TOO_MANY_ARGS || ctx == ENCODED_SLASH ||
           ctx == TARGET_TOO_LONG;
}

/* The path of a target in absolute form ("http://host/path", which a
 * server must accept, RFC 9112 3.2.2): what follows the authority. */
static const char *origin_form(const char *url) {
    size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                    : strncasecmp(url, "https://", 8) == 0 ? 8
                                                           : 0;
    if (!scheme)
        return url;
    const char *path = strchr(url + scheme, '/');
    return path ? path : "/";
}

/* Requests begun and not yet ended (on_completed), and those of them
 * whose body is still coming in: a drain waits for the others. */
static atomic_int requests_in_flight, bodies_arriving;

static void body_arrived(struct request *req) {
    if (req->body_arriving) {
        req->body_arriving = false;
        atomic_fetch_sub(&bodies_arriving, 1);
    }
}

static enum MHD_Result run_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)cls;
    struct request *req = *con_cls;
    if (!req || is_target_mark(*con_cls)) {
        const char *target_problem = req ? (const char *)*con_cls : NULL;
        req = xcalloc(1, sizeof *req);
        atomic_fetch_add(&requests_in_flight, 1);
        req->conn = conn;
        req->path = origin_form(url);
        req->http10 = version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
        req->method_name = method;
        req->method = http_method_parse(method);
        req->started_us = now_us();
        *con_cls = req;
        deadline_request_begun(conn);
        assign_request_id(req);
        enum MHD_Result r = on_headers(req, target_problem);
        if (!req->status && declares_body(req)) {
            req->body_arriving = true;
            atomic_fetch_add(&bodies_arriving, 1);
        }
        return r;
    }
    if (req->hash_ticket)
        return on_hashed(req);
    if (req->held)
        return send_held(req);
    if (req->answer_early && !req->status) {
        *upload_data_size = 0;
        return send_early(req);
    }
    if (req->status) { /* answered on the first call; drop any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return accept_body(req, upload_data, n);
    }
    body_arrived(req);
    return on_complete(req);
}

/* A request holds its thread's database connection only while one of its
 * steps runs: between steps the thread serves other connections. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
    enum MHD_Result r =
        run_access(cls, conn, url, method, version, upload_data, upload_data_size, con_cls);
    db_thread_release();
    return r;
}

/* A 414 or 431 of the server's for a head that leaves less of the
 * library's pool than the answer's headers need, a few hundred bytes
 * short of it: the library then closes the connection without a byte.
 * The status line is written to the socket as it is instead, and the
 * socket drained before it closes (http/linger.h), so that the client
 * reads it. A refusal that was sent ends otherwise than with an error.
 * Not for the library's own refusals: those it sends whole and still
 * ends with an error, so a second status line would follow them. */
static void answer_unsent_refusal(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *queued =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!queued || !fd || (queued->http_status != 414 && queued->http_status != 431))
        return;
    char date[64], text[256];
    struct tm tm;
    time_t now = time(NULL);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
    int n = snprintf(text, sizeof text,
                     "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     queued->http_status, http_reason(queued->http_status), date);
    deadline_drain_on_close(conn);
    /* a client already gone takes nothing, and nothing more is owed it */
    (void)send(fd->connect_fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    struct request *req = *con_cls;
    bool library_answered = !req || is_target_mark(*con_cls);
    /* only the server's own: the library may refuse a request the server
     * already took (a chunked body's trailers too large), and sends its
     * answer whole */
    if (toe == MHD_REQUEST_TERMINATED_WITH_ERROR && !library_answered && req->head_refused)
        answer_unsent_refusal(conn);
    deadline_next_request(conn);
    if (library_answered)
        return;
    uint64_t elapsed = now_us() - req->started_us;
    /* a 405 or an OPTIONS has no route of its own: its path's template,
     * as /metrics counts it */
    const struct route *route = req->route ? req->route : req->pattern_route;
    struct access_entry e = {req->method_name, req->path, route ? route->pattern : NULL,
                             req->status,      elapsed,   req->request_id,
                             req->bytes};
    log_access(&e);
    metrics_observe(req->route, req->pattern_route, req->method, req->status, elapsed);
    if (req->hash_ticket) /* the request ended while its hash was computed */
        offload_abandon(req->hash_ticket);
    idempotency_request_end(req);
    throttle_release_carried(req);
    if (req->held) { /* the connection ended while its answer was held */
        response_clear(req->held);
        free(req->held);
    }
    body_arrived(req);
    request_clear(req);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&requests_in_flight, 1);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* BIND_ADDR on PORT into sa (and the daemon flags it needs); false when
 * BIND_ADDR is unset: every interface, IPv6 and IPv4. */
static bool bind_address(struct sockaddr_storage *sa, unsigned *flags) {
    memset(sa, 0, sizeof *sa);
    if (!cfg->bind_addr)
        return false;
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    *flags &= ~(unsigned)MHD_USE_DUAL_STACK;
    if (inet_pton(AF_INET, cfg->bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else { /* config.c let only IPv4 and IPv6 literals through */
        inet_pton(AF_INET6, cfg->bind_addr, &v6->sin6_addr);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        *flags |= MHD_USE_IPv6;
    }
    return true;
}

static const char *listen_name(void) {
    return cfg->bind_addr ? cfg->bind_addr : "every interface";
}

static enum MHD_Result accept_unless_draining(void *cls, const struct sockaddr *addr,
                                              socklen_t addrlen) {
    (void)cls;
    (void)addr;
    (void)addrlen;
    return atomic_load(&draining) ? MHD_NO : MHD_YES;
}

/* libmicrohttpd's own messages (a port in use, an accept that failed) as
 * log lines like every other, not plain text on stderr. */
__attribute__((format(printf, 2, 0))) static void log_daemon_message(void *cls, const char *fmt,
                                                                     va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    log_warn("http.daemon", NULL, "%s", msg);
}

/* The connections libmicrohttpd admits in all (split between its threads). */
static int admitted_connections;

static struct MHD_Daemon *start_daemon(void) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_DUAL_STACK | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_storage sa;
    bool one_address = bind_address(&sa, &flags);
    struct fd_budget budget = fdbudget_apply(cfg->connection_limit, cfg->per_ip_connection_limit);
    admitted_connections = budget.connections;
    /* Empty (an END first) unless BIND_ADDR is set. */
    struct MHD_OptionItem listen_on[] = {
        {one_address ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, &sa},
        {MHD_OPTION_END, 0, NULL},
    };
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: libmicrohttpd's default sets
     * SO_REUSEADDR alone, so a restart binds at once (its closed connections
     * in TIME_WAIT notwithstanding), while a second server on a port in use
     * fails to start instead of sharing that port's connections (which
     * SO_REUSEPORT, the option's 1, would allow; its 0 sets neither). */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_daemon_message, NULL}, /* first, or unused */
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, budget.connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, budget.per_ip, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        /* Headers and URL must fit here (else 431/414); it is cleared for
         * every request, so larger costs time on every request. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)deadline_notify, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
        /* last: one thread is the daemon's own, no pool of one (which
         * libmicrohttpd would warn about), so the list ends here */
        {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)cfg->port, accept_unless_draining, NULL, on_access, NULL,
                         MHD_OPTION_ARRAY, opts, MHD_OPTION_ARRAY, listen_on, MHD_OPTION_END);
    if (!d && errno == EAFNOSUPPORT && !one_address)
        d = MHD_start_daemon(flags & ~(unsigned)MHD_USE_DUAL_STACK, (uint16_t)cfg->port,
                             accept_unless_draining, NULL, on_access, NULL, MHD_OPTION_ARRAY, opts,
                             MHD_OPTION_END);
    return d;
}

/* ---- housekeeping: request deadlines, owed cache bumps -------------------------------------- */

static pthread_mutex_t housekeeping_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t housekeeping_wake = PTHREAD_COND_INITIALIZER;
static bool housekeeping_stop;

#define HOUSEKEEPING_INTERVAL_MS 200
#define OWED_RETRY_EVERY         5 /* passes: a lost connection is opened again once a second */

/* The bumps any process recorded as owed (db/owed_bumps), delivered as one
 * bump of everything and then forgotten: a process that stopped before
 * Redis came back cannot leave entries from before its write in use. The
 * housekeeping thread's own connection listens for new ones, so they are
 * looked up only when one was recorded, when it (re)connects (it may have
 * missed some), and while one waits for Redis. A server without a
 * REDIS_URL (the servers share their configuration: there is no cache)
 * forgets them as it finds them: a seed run with only DATABASE_URL owes
 * its bump to servers it cannot tell have none, and nothing else would
 * ever delete it. */
struct owed_watch {
    struct db *db;
    uint64_t listening; /* the serial of the connection that LISTENs */
    bool check;
    unsigned since_lost;
};

/* LISTEN on the watch's connection; a new one may have missed bumps. */
static enum nx_err listen_owed(struct owed_watch *w) {
    enum nx_err e = owed_bumps_listen(w->db);
    w->listening = db_connection_serial(w->db);
    w->check = true;
    return e;
}

static enum nx_err deliver_owed_bumps(struct owed_watch *w) {
    int64_t latest = 0;
    enum nx_err e = owed_bumps_latest(w->db, &latest);
    if (e != NX_OK || (latest > 0 && cache_enabled() && !catalog_cache_bump_everything()))
        return e; /* Redis still away: the next pass tries again */
    if (latest > 0)
        e = owed_bumps_paid(w->db, latest);
    if (e == NX_OK && latest > 0)
        log_info("cache.owed", NULL,
                 cache_enabled() ? "owed generation bumps delivered"
                                 : "owed generation bumps forgotten: no cache to bump");
    w->check = e != NX_OK;
    return e;
}

static void watch_owed_bumps(struct owed_watch *w) {
    if (!w->db && w->since_lost++ % OWED_RETRY_EVERY == 0) {
        w->db = db_open(cfg->database_url);
        if (w->db && listen_owed(w) != NX_OK) {
            db_close(w->db);
            w->db = NULL;
        }
    }
    bool notified = false;
    enum nx_err e = w->db ? owed_bumps_poll(w->db, &notified) : NX_OK;
    w->check = w->check || notified;
    if (w->db && e == NX_OK && w->check)
        e = deliver_owed_bumps(w);
    /* a statement that found the connection cut ran again on a new one,
     * which does not listen */
    if (w->db && e == NX_OK && db_connection_serial(w->db) != w->listening)
        e = listen_owed(w);
    if (w->db && e != NX_OK) {
        db_close(w->db);
        w->db = NULL;
        w->since_lost = 1;
    }
}

/* The first housekeeping pass ends before the server says it listens. */
static bool first_pass_done;

static void *housekeeping_main(void *arg) {
    (void)arg;
    /* Named, so that tools watching the server's threads can tell it apart
     * from those that serve requests. */
    prctl(PR_SET_NAME, "nx-housekeeping", 0, 0, 0);
    struct owed_watch owed = {0};
    pthread_mutex_lock(&housekeeping_lock);
    while (!housekeeping_stop) {
        pthread_mutex_unlock(&housekeeping_lock);
        catalog_cache_maintain(); /* an owed generation bump */
        watch_owed_bumps(&owed);
        size_t closed = deadline_sweep();
        if (closed)
            log_info("request.deadline", NULL,
                     "%zu connection(s) closed: request not in after %d s", closed,
                     atomic_load(&draining) ? DRAIN_IDLE_SECONDS : cfg->request_timeout);
        pthread_mutex_lock(&housekeeping_lock);
        if (!first_pass_done) {
            first_pass_done = true;
            pthread_cond_broadcast(&housekeeping_wake);
        }
        if (!housekeeping_stop)
            cond_wait_for(&housekeeping_wake, &housekeeping_lock, HOUSEKEEPING_INTERVAL_MS * 1000u);
    }
    pthread_mutex_unlock(&housekeeping_lock);
    if (owed.db)
        db_close(owed.db);
    return NULL;
}

/* Wait (2 s at most) for the first housekeeping pass: owed bumps found
 * at start are delivered before the server says it listens. */
static void housekeeping_first_pass(void) {
    uint64_t until = now_us() + 2000000u;
    pthread_mutex_lock(&housekeeping_lock);
    while (!first_pass_done && cond_wait_until(&housekeeping_wake, &housekeeping_lock, until) == 0)
        ;
    pthread_mutex_unlock(&housekeeping_lock);
}

static void housekeeping_end(pthread_t thread) {
    pthread_mutex_lock(&housekeeping_lock);
    housekeeping_stop = true;
    pthread_cond_signal(&housekeeping_wake);
    pthread_mutex_unlock(&housekeeping_lock);
    pthread_join(thread, NULL);
}

static unsigned active_connections(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

static void sleep_ms(long ms) {
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Wait until at most `most` connections are open or the clock passes
 * deadline. */
static void wait_for_connections(struct MHD_Daemon *d, unsigned most, uint64_t deadline) {
    while (active_connections(d) > most && now_us() < deadline)
        sleep_ms(20);
}

/* The write end of the pipe whose read end took the listening socket's
 * descriptor; closed once the daemon has stopped. */
static int unlistened_fd = -1;

/* Stop listening, so that the kernel refuses new connections (and resets
 * those it queued but nobody accepted): a balancer then retries any
 * request on another instance, a POST too, where a connection accepted and
 * closed unanswered leaves it not knowing whether the request ran.
 *
 * Not with MHD_quiesce_daemon: with a thread pool on epoll,
 * libmicrohttpd 0.9.75's quiesce removes the listening socket from each
 * thread's epoll set while that thread may be removing it too, and aborts
 * the process when its own removal finds it gone. Instead the socket's
 * descriptor is replaced with the read end of a pipe: the socket closes
 * (which takes it out of every epoll set), and the pipe is never readable,
 * so no thread accepts on it, and libmicrohttpd closes it when it stops.
 * libmicrohttpd still counts the socket as in its sets, and removes it
 * (aborting when that fails) once a thread reaches its share of the
 * connection limit; the accept policy refuses every connection by now,
 * so the count only falls: the swap waits until no thread can be at its
 * share. */
static void stop_listening(struct MHD_Daemon *d, uint64_t deadline) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    int share = admitted_connections / (cfg->threads > 0 ? cfg->threads : 1);
    int never_readable[2];
    if (!info || info->listen_fd == MHD_INVALID_SOCKET || share <= 0)
        return;
    wait_for_connections(d, (unsigned)share - 1, deadline);
    if (active_connections(d) >= (unsigned)share || pipe(never_readable) != 0)
        return; /* new connections stay accepted and closed */
    if (dup2(never_readable[0], info->listen_fd) < 0) {
        close(never_readable[1]);
        never_readable[1] = -1;
    }
    close(never_readable[0]);
    unlistened_fd = never_readable[1];
}

/* Stop accepting; in-flight requests get the grace period. Then a statement still running
 * (say, waiting on a lock held elsewhere, under a long
 * DB_STATEMENT_TIMEOUT_MS) is cancelled, so that its request answers (a
 * 503) and its thread can stop: the process exits soon after the grace
 * period whatever the database is doing. */
static void drain_and_stop(struct MHD_Daemon *d) {
    uint64_t deadline = now_us() + (uint64_t)cfg->shutdown_grace * 1000000u;
    atomic_store(&draining, true); /* the accept policy refuses from now */
    /* a connection kept open with no request in (a balancer's idle pool)
     * gets no answer to close it: shut down a second from now */
    deadline_shorten(DRAIN_IDLE_SECONDS);
    stop_listening(d, deadline);
    wait_for_connections(d, 0, deadline);
    offload_refuse_waiting(); /* a password hash not begun by now is a 503 */
    if (atomic_load(&requests_in_flight) > 0) {
        atomic_store(&statements_cancelled, true);
        size_t sent = db_cancel_all();
        log_info("server.stop", NULL, "grace period over: %zu statement cancel(s) sent", sent);
        /* their answers (and the 503s of hashes not begun) sent, or their
         * clients gone; 10 s only bound a hang. A request still sending
         * its body is not waited for: it is closed. */
        for (int i = 0; i < 500 && atomic_load(&requests_in_flight) > atomic_load(&bodies_arriving);
             i++)
            sleep_ms(20);
    }
    offload_stop(); /* no connection may stay suspended when the daemon stops */
    fence_stop();
    MHD_stop_daemon(d);
    if (unlistened_fd >= 0)
        close(unlistened_fd);
    linger_stop();
}

int server_run(const struct config *config) {
    cfg = config;
    char err[256];
    if (!router_validate(nx_routes, nx_route_count, err, sizeof err)) {
        log_error("server.routes", NULL, "%s", err);
        return 1;
    }
    if (!cache_keys_validate(nx_routes, nx_route_count, err, sizeof err)) {
        log_error("server.routes", NULL, "%s", err);
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);                /* its terminal closed: drain, not die mid-request */
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    metrics_init(metrics_series_needed());
    struct catalog_cache_limits limits = {cfg->cache_ttl, cfg->cache_local_bytes,
                                          (uint64_t)cfg->cache_local_window_us,
                                          (size_t)cfg->cache_max_entry_bytes};
    catalog_cache_init(cfg->redis_prefix, &limits);
    catalog_cache_set_position_source(db_wal_position);
    replica_init(cfg->database_read_url != NULL, cfg->replica_max_wait_ms);
    deadline_init(cfg->request_timeout);
    fence_start(); /* without it, writes wait out the cache's window inline */
    if (!offload_start(cfg->hash_concurrency, HASH_QUEUE_MAX)) /* without it, hashes run inline */
        log_warn("server.start", NULL, "password hashes run on the server threads");
    if (!linger_start()) /* without it, refused bodies may meet a reset */
        log_warn("server.start", NULL, "cannot start the thread that drains refused bodies");
    struct MHD_Daemon *d = start_daemon();
    pthread_t housekeeper;
    if (d && pthread_create(&housekeeper, NULL, housekeeping_main, NULL) != 0) {
        MHD_stop_daemon(d);
        d = NULL;
    }
    if (!d) {
        offload_stop();
        fence_stop();
        linger_stop();
        log_error("server.start", NULL, "cannot listen on %s, port %d", listen_name(), cfg->port);
        metrics_free();
        return 1;
    }
    housekeeping_first_pass();
    log_info("server.start", NULL, "listening on %s, port %d with %d threads", listen_name(),
             cfg->port, cfg->threads);
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("server.stop", NULL, "signal %d: draining", sig);
    drain_and_stop(d);
    housekeeping_end(housekeeper);
    db_close_all();
    cache_close_all();
    catalog_cache_free();
    metrics_free();
    log_info("server.stop", NULL, "stopped");
    return 0;
}
