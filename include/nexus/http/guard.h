/*
 * guard.h -- the request framing guard.
 *
 * libmicrohttpd 0.9.75 lets ambiguous framing through (two Content-Length
 * headers, Content-Length with Transfer-Encoding, unknown transfer codings,
 * no Host). Any of those can desynchronise a proxy in front of us from us,
 * so such a request is refused with 400 and the connection closed, before
 * any body byte is read.
 */
#ifndef NEXUS_HTTP_GUARD_H
#define NEXUS_HTTP_GUARD_H

#include "nexus/core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct framing {
    unsigned content_length_count;
    unsigned transfer_encoding_count;
    unsigned host_count;
    const char *transfer_encoding; /* first value, or NULL */
    bool http10;                   /* HTTP/1.0, where Host is optional */
    unsigned content_type_count;
    unsigned bad_name_count;       /* names that are not tokens ("Content-Length ") */
    unsigned folded_framing_count; /* folded framing headers ("Content-Length45") */
};

/* Whether a header name is an RFC 9110 token: white space before the
 * colon, which a proxy may read otherwise, makes it none. */
bool header_name_is_token(const char *name);

/* Whether a header name is a Content-Length or Transfer-Encoding header
 * continued on a folded line (obs-fold, a line that starts with white
 * space). libmicrohttpd 0.9.75 appends such a line to the NAME, its
 * leading white space dropped: "Content-Length:\r\n 45" arrives as the
 * header "Content-Length45" with an empty value, which frames no body
 * for the library while a proxy that unfolds it reads a length. */
bool header_name_is_folded_framing(const char *name);

/* Decide on a request's framing headers. NX_OK, or NX_ERR_BAD_REQUEST with
 * *why set to a static sentence. */
enum nx_err framing_check(const struct framing *f, const char **why);

/* Whether a Content-Type value's media type is want (case-insensitive,
 * parameters such as "; charset=utf-8" allowed, but no charset other than
 * UTF-8 or US-ASCII: bodies are read as UTF-8). */
bool content_type_is(const char *value, const char *want);
bool content_type_is_json(const char *value);

/* Whether a Content-Encoding value (NULL when absent) leaves the body as
 * sent: absent, empty or "identity". No other coding is decoded. */
bool content_coding_is_identity(const char *value);

#endif
