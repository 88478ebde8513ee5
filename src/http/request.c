/*
 * request.c -- accessors over libmicrohttpd's view of a request.
 *
 * Query arguments are read once with their lengths, because libmicrohttpd
 * hands them over percent-decoded: "a%00b" would look like "a" to strlen,
 * and a repeated key would silently resolve to its first value. A value
 * with a NUL byte or invalid UTF-8 is refused.
 */
#include "nexus/http/request.h"

#include "nexus/http/keyparam.h"
#include "nexus/model/user.h"
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[HTTP__COUNT] = {"GET",   "HEAD",   "POST",    "PUT",
                                                      "PATCH", "DELETE", "OPTIONS", "OTHER"};

enum http_method http_method_parse(const char *name) {
    for (int m = 0; m < HTTP_OTHER; m++)
        if (strcmp(name, method_names[m]) == 0)
            return (enum http_method)m;
    return HTTP_OTHER;
}

const char *http_method_name(enum http_method m) {
    return m < HTTP__COUNT ? method_names[m] : "OTHER";
}

struct slice request_param(const struct request *req, size_t i) {
    struct slice none = {"", 0};
    return i < req->param_count ? req->params[i] : none;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    struct request *req = cls;
    if (query_arg_is_ignored(key, key_size, value))
        return MHD_YES;
    if (req->query_count == NX_MAX_QUERY_ARGS) {
        req->query_overflow = true;
        return MHD_NO;
    }
    struct query_arg *a = &req->query[req->query_count++];
    a->key = key;
    a->value = value;
    a->len = value_size;
    return MHD_YES;
}

static void load_query(struct request *req) {
    if (req->query_loaded)
        return;
    req->query_loaded = true;
    if (req->conn)
        MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, req);
}

void request_set_detail(struct request *req, const char *fmt, va_list ap) {
    vsnprintf(req->detail, sizeof req->detail, fmt, ap);
    /* A sentence may quote the client's text cut short (%.60s, or the
     * buffer's end) inside a character; the rest of it still reads. */
    utf8_drop_cut(req->detail);
}

/* A malformed query argument: 400 with a sentence naming it. */
__attribute__((format(printf, 2, 3))) static enum nx_err bad_query(struct request *req,
                                                                   const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    request_set_detail(req, fmt, ap);
    va_end(ap);
    return NX_ERR_BAD_REQUEST;
}

enum nx_err request_query(struct request *req, const char *name, struct slice *value) {
    /* A parameter the cache key leaves out would share entries with its
     * absence: see http/cachekey.h. */
    NX_ASSERT(!req->key_params || key_params_include(req->key_params, req->key_param_count, name));
    load_query(req);
    value->ptr = NULL;
    value->len = 0;
    if (req->query_overflow)
        return bad_query(req, "too many query parameters");
    bool seen = false;
    for (size_t i = 0; i < req->query_count; i++) {
        const struct query_arg *a = &req->query[i];
        if (strcmp(a->key, name) != 0)
            continue;
        if (seen)
            return bad_query(req, "query parameter '%s' is repeated", name);
        seen = true;
        value->ptr = a->value ? a->value : "";
        value->len = a->value ? a->len : 0;
        if (memchr(value->ptr, '\0', value->len))
            return bad_query(req, "query parameter '%s' contains a NUL byte", name);
        /* Values reach PostgreSQL, which refuses invalid UTF-8 (a 500 if it
         * got that far); checked as strictly as jansson checks it. */
        if (!utf8_valid(value->ptr, value->len))
            return bad_query(req, "query parameter '%s' is not valid UTF-8", name);
    }
    return NX_OK;
}

size_t request_query_names(struct request *req, const char *prefix, const char **names,
                           size_t cap) {
    size_t n = 0, len = strlen(prefix);
    load_query(req);
    for (size_t i = 0; i < req->query_count; i++) {
        if (strncmp(req->query[i].key, prefix, len) != 0)
            continue;
        if (n < cap)
            names[n] = req->query[i].key;
        n++;
    }
    return n;
}

const char *request_header(const struct request *req, const char *name) {
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

struct header_lines {
    const char *name;
    struct buf *out;
    unsigned count;
};

static enum MHD_Result join_header_line(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value) {
    (void)kind;
    struct header_lines *h = cls;
    if (value && strcasecmp(key, h->name) == 0) {
        if (h->count++)
            buf_puts(h->out, ", ");
        buf_puts(h->out, value);
    }
    return MHD_YES;
}

const char *request_header_list(const struct request *req, const char *name, struct buf *out) {
    struct header_lines h = {name, out, 0};
    if (req->conn)
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, join_header_line, &h);
    if (!h.count)
        return NULL;
    return out->len ? out->data : "";
}

void request_forget_problem(struct request *req) {
    req->refusal_commits = false;
    req->detail[0] = '\0';
    req->retry_after = 0;
    req->conflict_retries = false;
    fielderr_clear(&req->field_errors);
    json_decref(req->problem_extra);
    req->problem_extra = NULL;
}

void request_clear(struct request *req) {
    password_memo_clear(&req->hashes);
    if (req->upload && req->upload_free)
        req->upload_free(req->upload);
    req->upload = NULL;
    buf_clear(&req->body);
    /* Wiped only now: a handler may run again (a retry after a lost
     * conflict, a deferred password hash) and needs them each time. */
    user_wipe_secrets(req->json);
    json_decref(req->json);
    fielderr_clear(&req->field_errors);
    fielderr_clear(&req->body_faults);
    json_decref(req->problem_extra);
    req->json = NULL;
    req->problem_extra = NULL;
}
