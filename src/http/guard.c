/*
 * guard.c -- framing and content-type decisions, kept free of
 * libmicrohttpd so they can be unit-tested and fuzzed directly.
 */
#include "nexus/http/guard.h"

#include <string.h>
#include <strings.h>

bool header_name_is_token(const char *name) {
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!*name)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(extra, *c)))
            return false;
    return true;
}

enum nx_err framing_check(const struct framing *f, const char **why) {
    if (f->bad_name_count) {
        *why = "a header name holds a character no name may (such as white space before its colon)";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->host_count > 1 || (f->host_count == 0 && !f->http10)) {
        *why = "exactly one Host header is required";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->content_type_count > 1) {
        *why = "more than one Content-Type header";
        return NX_ERR_BAD_REQUEST;
    }
    /* RFC 9112 6.1: HTTP/1.0 has no chunked framing to agree on */
    if (f->transfer_encoding_count && f->http10) {
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->content_length_count > 1) {
        *why = "more than one Content-Length header";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->transfer_encoding_count > 1) {
        *why = "more than one Transfer-Encoding header";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->transfer_encoding_count && f->content_length_count) {
        *why = "Content-Length and Transfer-Encoding together";
        return NX_ERR_BAD_REQUEST;
    }
    if (f->transfer_encoding_count &&
        (!f->transfer_encoding || strcasecmp(f->transfer_encoding, "chunked") != 0)) {
        *why = "unsupported Transfer-Encoding (only chunked)";
        return NX_ERR_BAD_REQUEST;
    }
    return NX_OK;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t';
}

bool content_type_is_json(const char *value) {
    return content_type_is(value, "application/json");
}

bool content_type_is(const char *value, const char *want) {
    size_t n = strlen(want);
    if (!value)
        return false;
    while (is_space(*value))
        value++;
    if (strncasecmp(value, want, n) != 0)
        return false;
    value += n;
    while (is_space(*value))
        value++;
    return *value == '\0' || *value == ';';
}
