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

static bool name_extends(const char *name, const char *header) {
    size_t n = strlen(header);
    return strncasecmp(name, header, n) == 0 && name[n] != '\0';
}

bool header_name_is_folded_framing(const char *name) {
    return name_extends(name, "Content-Length") || name_extends(name, "Transfer-Encoding");
}

enum nx_err framing_check(const struct framing *f, const char **why) {
    if (f->bad_name_count) {
        *why = "a header name holds a character no name may (such as white space before its colon)";
        return NX_ERR_BAD_REQUEST;
    }
    /* RFC 9112 5.2: obs-fold is refused, or unfolded; it is never framing */
    if (f->folded_framing_count) {
        *why = "a Content-Length or Transfer-Encoding header is folded onto a next line";
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

/* Whether the parameters after a media type ("; a=b; charset=x") name
 * no charset other than UTF-8 (or its subset US-ASCII): the body is read
 * as UTF-8, and bytes declared in another charset would be misread. */
static bool charset_is_utf8(const char *params) {
    static const char *const ok[] = {"utf-8",     "utf8",     "us-ascii",
                                     "\"utf-8\"", "\"utf8\"", "\"us-ascii\""};
    for (const char *p = params; (p = strchr(p, ';')) != NULL;) {
        p++;
        while (is_space(*p))
            p++;
        if (strncasecmp(p, "charset", 7) != 0)
            continue;
        const char *v = p + 7;
        while (is_space(*v))
            v++;
        if (*v != '=')
            continue;
        v++;
        while (is_space(*v))
            v++;
        size_t n = strcspn(v, "; \t");
        bool known = false;
        for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
            known = known || (strlen(ok[i]) == n && strncasecmp(v, ok[i], n) == 0);
        if (!known)
            return false;
    }
    return true;
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
    return *value == '\0' || (*value == ';' && charset_is_utf8(value));
}

bool content_coding_is_identity(const char *value) {
    if (!value)
        return true;
    while (is_space(*value))
        value++;
    size_t n = strcspn(value, " \t");
    const char *rest = value + n;
    while (is_space(*rest))
        rest++;
    return *rest == '\0' && (n == 0 || (n == 8 && strncasecmp(value, "identity", 8) == 0));
}
