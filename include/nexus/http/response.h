/*
 * response.h -- what a handler fills: status, body bytes and extra headers.
 *
 * The server adds the common headers (X-Request-Id, CORS, Content-Type) when
 * it sends the response; handlers set only what is theirs.
 */
#ifndef NEXUS_HTTP_RESPONSE_H
#define NEXUS_HTTP_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NX_MAX_RESPONSE_HEADERS 8

struct header {
    const char *name; /* a string literal */
    char *value;      /* owned */
};

struct response {
    unsigned status;
    char *body; /* owned */
    size_t len;
    const char *content_type; /* a string literal; NULL for no body */
    struct header headers[NX_MAX_RESPONSE_HEADERS];
    size_t header_count;
    /* A write route's handler found nothing to change (an empty PATCH): the
     * catalog generation is left alone, so no cached entry is dropped. */
    bool unchanged;
    /* A cacheable read's 200 that must not be stored (a GraphQL answer
     * with errors). */
    bool no_store;
    /* A body streamed as the client reads it (chunked), instead of body:
     * stream puts up to max bytes into out and returns how many, 0 at the
     * end, -1 on a failure (the connection is then closed). It may use the
     * thread's database connection (db_thread) within one call. stream_ctx
     * is freed with stream_free once the answer is done. */
    long (*stream)(void *ctx, char *out, size_t max);
    void *stream_ctx;
    void (*stream_free)(void *ctx);
};

/* Serialise obj compactly as the body (obj is borrowed). */
void response_json(struct response *res, unsigned status, const json_t *obj);
/* Take ownership of body bytes. */
void response_take(struct response *res, unsigned status, const char *content_type, char *body,
                   size_t len);
/* Status with no body (204, 304). */
void response_empty(struct response *res, unsigned status);
/* Add a header; name must be a literal, value is copied. Aborts past the
 * fixed header capacity: that is a bug, not input. */
void response_header(struct response *res, const char *name, const char *value);
/* The value of the first header named name (exactly as added), or NULL. */
const char *response_header_value(const struct response *res, const char *name);
/* Stream the body (see struct response); ctx is owned from here on. */
void response_stream(struct response *res, unsigned status, const char *content_type,
                     long (*stream)(void *ctx, char *out, size_t max), void *ctx,
                     void (*stream_free)(void *ctx));
void response_clear(struct response *res);

#endif
