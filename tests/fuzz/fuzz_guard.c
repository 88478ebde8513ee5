/*
 * fuzz_guard.c -- the framing guard and the header checks of the request
 * pipeline (http/guard.h, request_id_is_sane) on arbitrary header counts,
 * names and values.
 *
 * Input layout: byte 0 selects what is exercised (modulo 5). In framing
 * mode bytes 1-6 are the counts of Content-Length, Transfer-Encoding,
 * Host and Content-Type headers, of header names that are no tokens and
 * of folded framing headers (each byte modulo 4, or from 0xf0 on a count
 * near UINT_MAX), bit 0 of byte 7 says HTTP/1.0, and the rest is the
 * first Transfer-Encoding value. In the other modes the rest after byte
 * 0 is a Content-Type value, a request id, a header name or a
 * Content-Encoding value. A value is cut at its first NUL, as
 * libmicrohttpd hands over C strings.
 *
 * Guarantees checked: framing_check accepts exactly the unambiguous
 * framings (no malformed or folded header name; one Host, or none in
 * HTTP/1.0; at most one Content-Type; at most one Content-Length or one
 * Transfer-Encoding, never both, never Transfer-Encoding in HTTP/1.0;
 * "chunked" as the only transfer coding) and every refusal gives a
 * reason that is true of the request; content_type_is_json is
 * case-insensitive and only says yes to application/json with optional
 * parameters; a request id passed through is 1..NX_REQUEST_ID_MAX safe
 * characters; a header name is a token exactly when it is 1 or more
 * RFC 9110 token characters, and folded framing exactly when it is
 * Content-Length or Transfer-Encoding (any case) with more after it; a
 * Content-Encoding is identity exactly when it is absent, blank or
 * "identity" (any case) between blanks.
 */
#include "nexus/http/guard.h"
#include "nexus/http/request.h"
#include "nexus/http/server.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_guard: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The framing rules, written out independently of guard.c: each refuses
 * a request it is true of, and its reason says so in these words. */
struct framing_rule {
    bool (*broken)(const struct framing *f);
    const char *reason_says;
};

static bool bad_name(const struct framing *f) {
    return f->bad_name_count > 0;
}
static bool folded(const struct framing *f) {
    return f->folded_framing_count > 0;
}
static bool not_one_host(const struct framing *f) {
    return f->host_count > 1 || (f->host_count == 0 && !f->http10);
}
static bool two_types(const struct framing *f) {
    return f->content_type_count > 1;
}
static bool te_in_http10(const struct framing *f) {
    return f->transfer_encoding_count > 0 && f->http10;
}
static bool two_lengths(const struct framing *f) {
    return f->content_length_count > 1;
}
static bool two_codings(const struct framing *f) {
    return f->transfer_encoding_count > 1;
}
static bool length_and_coding(const struct framing *f) {
    return f->transfer_encoding_count > 0 && f->content_length_count > 0;
}
static bool not_chunked(const struct framing *f) {
    return f->transfer_encoding_count > 0 &&
           (!f->transfer_encoding || strcasecmp(f->transfer_encoding, "chunked") != 0);
}

static const struct framing_rule RULES[] = {
    {bad_name, "header name"},
    {folded, "folded"},
    {not_one_host, "Host"},
    {two_types, "Content-Type"},
    {te_in_http10, "HTTP/1.0"},
    {two_lengths, "more than one Content-Length"},
    {two_codings, "more than one Transfer-Encoding"},
    {length_and_coding, "Content-Length and Transfer-Encoding together"},
    {not_chunked, "only chunked"},
};
#define NRULES (sizeof RULES / sizeof RULES[0])

/* A header count: 0 to 3, or from 0xf0 on near UINT_MAX (no wrap-around). */
static unsigned count_of(uint8_t byte) {
    return byte >= 0xf0 ? UINT_MAX - (byte & 0x0fu) : byte % 4u;
}

static void fuzz_framing(const uint8_t *fields, const char *value) {
    struct framing f = {
        .content_length_count = count_of(fields[0]),
        .transfer_encoding_count = count_of(fields[1]),
        .host_count = count_of(fields[2]),
        .content_type_count = count_of(fields[3]),
        .bad_name_count = count_of(fields[4]),
        .folded_framing_count = count_of(fields[5]),
        .http10 = fields[6] & 1,
    };
    /* libmicrohttpd gives the first TE value; NULL when there is none */
    f.transfer_encoding = f.transfer_encoding_count ? value : NULL;
    const char *why = NULL;
    enum nx_err e = framing_check(&f, &why);
    CHECK(e == NX_OK || e == NX_ERR_BAD_REQUEST);
    bool any_broken = false, reason_true = false;
    for (size_t i = 0; i < NRULES; i++) {
        bool broken = RULES[i].broken(&f);
        any_broken = any_broken || broken;
        reason_true = reason_true || (broken && why && strstr(why, RULES[i].reason_says));
    }
    CHECK((e == NX_OK) == !any_broken);
    if (e != NX_OK)
        CHECK(reason_true);
}

static void fuzz_content_type(const char *value, size_t len) {
    bool json = content_type_is_json(value);
    /* Case must not matter. */
    char *flipped = malloc(len + 1);
    CHECK(flipped);
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)value[i];
        flipped[i] = (char)(isupper(c) ? tolower(c) : toupper(c));
    }
    CHECK(content_type_is_json(flipped) == json);
    free(flipped);
    if (!json)
        return;
    /* Yes only for: [ \t]* application/json [ \t]* ( end | ';' ... ) */
    const char *p = value + strspn(value, " \t");
    CHECK(strncasecmp(p, "application/json", 16) == 0);
    p += 16;
    p += strspn(p, " \t");
    CHECK(*p == '\0' || *p == ';');
}

static void fuzz_request_id(const char *value, size_t len) {
    if (!request_id_is_sane(value))
        return;
    CHECK(len >= 1 && len <= NX_REQUEST_ID_MAX);
    for (size_t i = 0; i < len; i++)
        CHECK(isalnum((unsigned char)value[i]) || strchr("._-", value[i]));
}

static bool is_tchar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool starts_longer(const char *name, const char *header) {
    size_t n = strlen(header);
    return strlen(name) > n && strncasecmp(name, header, n) == 0;
}

static void fuzz_header_name(const char *name, size_t len) {
    size_t tchars = 0;
    while (tchars < len && is_tchar(name[tchars]))
        tchars++;
    CHECK(header_name_is_token(name) == (len > 0 && tchars == len));
    CHECK(header_name_is_folded_framing(name) ==
          (starts_longer(name, "Content-Length") || starts_longer(name, "Transfer-Encoding")));
}

static void fuzz_content_coding(const char *value, size_t len) {
    CHECK(content_coding_is_identity(NULL));
    size_t start = strspn(value, " \t"), end = len;
    while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;
    bool identity =
        end == start || (end - start == 8 && strncasecmp(value + start, "identity", 8) == 0);
    CHECK(content_coding_is_identity(value) == identity);
}

/* Bytes after the selector that framing mode reads before its value. */
#define FRAMING_FIELDS 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 5u;
    size_t skip = 1 + (mode == 0 ? FRAMING_FIELDS : 0);
    if (size < skip)
        return 0;
    size_t len = strnlen((const char *)data + skip, size - skip);
    char *value = malloc(len + 1); /* exactly sized: ASan sees overreads */
    CHECK(value);
    memcpy(value, data + skip, len);
    value[len] = '\0';
    switch (mode) {
    case 0:
        fuzz_framing(data + 1, value);
        break;
    case 1:
        fuzz_content_type(value, len);
        break;
    case 2:
        fuzz_request_id(value, len);
        break;
    case 3:
        fuzz_header_name(value, len);
        break;
    default:
        fuzz_content_coding(value, len);
        break;
    }
    free(value);
    return 0;
}
