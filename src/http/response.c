/*
 * response.c -- building a handler's response.
 */
#include "nexus/http/response.h"

#include "nexus/core/err.h"
#include "nexus/core/xmem.h"

#include <stdlib.h>
#include <string.h>

static int append_dump(const char *data, size_t n, void *b) {
    buf_append(b, data, n);
    return 0;
}

void response_json(struct response *res, unsigned status, const json_t *obj) {
    struct buf b = {0}; /* one pass: json_dumpb would need a second to size it */
    NX_ASSERT(json_dump_callback(obj, append_dump, &b, JSON_COMPACT) == 0);
    size_t len;
    char *body = buf_take(&b, &len);
    response_take(res, status, "application/json", body, len);
}

void response_take(struct response *res, unsigned status, const char *content_type, char *body,
                   size_t len) {
    free(res->body);
    res->status = status;
    res->content_type = content_type;
    res->body = body;
    res->len = len;
}

void response_empty(struct response *res, unsigned status) {
    response_take(res, status, NULL, NULL, 0);
}

void response_header(struct response *res, const char *name, const char *value) {
    NX_ASSERT(res->header_count < NX_MAX_RESPONSE_HEADERS);
    res->headers[res->header_count].name = name;
    res->headers[res->header_count].value = xstrdup(value);
    res->header_count++;
}

const char *response_header_value(const struct response *res, const char *name) {
    for (size_t i = 0; i < res->header_count; i++)
        if (strcmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

void response_stream(struct response *res, unsigned status, const char *content_type,
                     long (*stream)(void *ctx, char *out, size_t max), void *ctx,
                     void (*stream_free)(void *ctx)) {
    res->status = status;
    res->content_type = content_type;
    res->stream = stream;
    res->stream_ctx = ctx;
    res->stream_free = stream_free;
}

void response_clear(struct response *res) {
    if (res->stream_ctx && res->stream_free)
        res->stream_free(res->stream_ctx);
    free(res->body);
    for (size_t i = 0; i < res->header_count; i++)
        free(res->headers[i].value);
    memset(res, 0, sizeof *res);
}
