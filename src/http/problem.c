/*
 * problem.c -- error codes to RFC 9457 problem+json responses.
 *
 * The body never carries library or SQL text: only the detail sentences
 * that Nexus itself wrote, and the request id to find the log line.
 */
#include "nexus/http/problem.h"

#include "nexus/http/router.h"

#include <stdarg.h>
#include <stdio.h>

static const unsigned status_of[NX_ERR__COUNT] = {
    [NX_OK] = 200,
    [NX_ERR_BAD_REQUEST] = 400,
    [NX_ERR_UNAUTHORIZED] = 401,
    [NX_ERR_FORBIDDEN] = 403,
    [NX_ERR_NOT_FOUND] = 404,
    [NX_ERR_METHOD] = 405,
    [NX_ERR_CONFLICT] = 409,
    [NX_ERR_PRECONDITION] = 412,
    [NX_ERR_TOO_LARGE] = 413,
    [NX_ERR_URI_TOO_LONG] = 414,
    [NX_ERR_UNSUPPORTED_TYPE] = 415,
    [NX_ERR_VALIDATION] = 422,
    [NX_ERR_TOO_MANY] = 429,
    [NX_ERR_HEADERS_TOO_LARGE] = 431,
    [NX_ERR_INTERNAL] = 500,
    [NX_ERR_UNAVAILABLE] = 503,
};

unsigned problem_status(enum nx_err code) {
    return code < NX_ERR__COUNT ? status_of[code] : 500;
}

const char *http_reason(unsigned status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* The sentence used when a stage recorded none. */
static const char *default_detail(enum nx_err code) {
    switch (code) {
    case NX_ERR_BAD_REQUEST:
        return "the request is malformed";
    case NX_ERR_UNAUTHORIZED:
        return "authentication is required";
    case NX_ERR_FORBIDDEN:
        return "you are not allowed to do this";
    case NX_ERR_NOT_FOUND:
        return "no such resource";
    case NX_ERR_METHOD:
        return "this method is not allowed here";
    case NX_ERR_CONFLICT:
        return "the request conflicts with the current state";
    case NX_ERR_PRECONDITION:
        return "a precondition of the request (If-Match or If-None-Match) failed";
    case NX_ERR_TOO_LARGE:
        return "the request body is too large";
    case NX_ERR_URI_TOO_LONG:
        return "the URI is too long";
    case NX_ERR_UNSUPPORTED_TYPE:
        return "the request body must be application/json";
    case NX_ERR_VALIDATION:
        return "the request is invalid";
    case NX_ERR_TOO_MANY:
        return "too many requests; retry later";
    case NX_ERR_HEADERS_TOO_LARGE:
        return "the request headers are too large";
    case NX_ERR_UNAVAILABLE:
        return "the service is temporarily unavailable; retry later";
    default:
        return "an unexpected error occurred";
    }
}

enum nx_err problem_detail(struct request *req, enum nx_err code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    request_set_detail(req, fmt, ap);
    va_end(ap);
    return code;
}

enum nx_err problem_field(struct request *req, const char *field, const char *message) {
    return fielderr_add(&req->field_errors, field, "%s", message);
}

enum nx_err problem_conflict(struct request *req, const char *field, const char *message) {
    fielderr_add(&req->field_errors, field, "%s", message);
    return NX_ERR_CONFLICT;
}

/* The "errors" member: one {field, message} per recorded field error. */
static json_t *errors_json(const struct field_errors *errs) {
    json_t *list = json_array();
    for (size_t i = 0; i < fielderr_count(errs); i++) {
        const struct field_error *fe = fielderr_at(errs, i);
        json_t *entry = json_pack("{s:s, s:s}", "field", fe->field, "message", fe->message);
        NX_ASSERT(entry != NULL);
        json_array_append_new(list, entry);
    }
    return list;
}

static void set_detail(struct request *req, enum nx_err code, json_t *body) {
    size_t nfields = fielderr_count(&req->field_errors);
    char sentence[64];
    const char *detail = req->detail[0] ? req->detail : default_detail(code);
    if (!req->detail[0] && code == NX_ERR_VALIDATION && nfields) {
        snprintf(sentence, sizeof sentence, "%zu field%s invalid", nfields,
                 nfields == 1 ? " is" : "s are");
        detail = sentence;
    }
    /* json_string refuses invalid UTF-8; details may quote user input. */
    json_t *d = json_string(detail);
    json_object_set_new(body, "detail", d ? d : json_string(default_detail(code)));
}

static void add_status_headers(struct request *req, enum nx_err code, struct response *res) {
    char value[128];
    /* A token that was sent and refused says so (RFC 6750 3.1), so that a
     * client can tell an expired token from a missing one. */
    if (code == NX_ERR_UNAUTHORIZED)
        response_header(res, "WWW-Authenticate",
                        req->token_rejected ? "Bearer realm=\"nexus\", error=\"invalid_token\""
                                            : "Bearer realm=\"nexus\"");
    if (code == NX_ERR_METHOD) {
        router_format_allow(req->allow_mask, value, sizeof value);
        response_header(res, "Allow", value);
    }
    /* a conflict says when to retry only when a retry may end it (a
     * request still running under the same Idempotency-Key) */
    bool retry_conflict = code == NX_ERR_CONFLICT && req->conflict_retries;
    if (code == NX_ERR_TOO_MANY || code == NX_ERR_UNAVAILABLE || retry_conflict) {
        snprintf(value, sizeof value, "%u", req->retry_after ? req->retry_after : 1);
        response_header(res, "Retry-After", value);
    }
}

void problem_render(struct request *req, enum nx_err code, struct response *res) {
    unsigned status = problem_status(code);
    json_t *body = json_pack("{s:s, s:s, s:I}", "type", "about:blank", "title", http_reason(status),
                             "status", (json_int_t)status);
    NX_ASSERT(body != NULL);
    set_detail(req, code, body);
    json_object_set_new(body, "request_id", json_string(req->request_id));
    bool with_fields = code == NX_ERR_VALIDATION || code == NX_ERR_CONFLICT;
    if (with_fields && fielderr_count(&req->field_errors))
        json_object_set_new(body, "errors", errors_json(&req->field_errors));
    if (req->problem_extra)
        json_object_update(body, req->problem_extra);
    response_clear(res);
    response_json(res, status, body);
    res->content_type = "application/problem+json";
    add_status_headers(req, code, res);
    json_decref(body);
}
