/*
 * fuzz_guard.c -- the framing guard and the header checks of the request
 * pipeline (http/guard.h, request_id_is_sane) on arbitrary header counts
 * and values.
 *
 * Input layout: byte 0 selects what is exercised, bytes 1-3 are the
 * Content-Length, Transfer-Encoding and Host header counts, the rest is a
 * header value (cut at its first NUL, as libmicrohttpd hands over C
 * strings).
 *
 * Guarantees checked: framing_check accepts exactly the unambiguous
 * framings (one Host; at most one Content-Length or one Transfer-Encoding,
 * never both; "chunked" as the only transfer coding) and names a reason
 * for every refusal; content_type_is_json is case-insensitive and only
 * says yes to application/json with optional parameters; a request id
 * passed through is 1..NX_REQUEST_ID_MAX safe characters.
 */
#include "nexus/http/guard.h"
#include "nexus/http/request.h"
#include "nexus/http/server.h"

#include <ctype.h>
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

/* The rule, written out independently of guard.c. */
static bool framing_expected(const struct framing *f) {
    if (f->host_count != 1 || f->content_length_count > 1 || f->transfer_encoding_count > 1)
        return false;
    if (f->transfer_encoding_count == 0)
        return true;
    return f->content_length_count == 0 && f->transfer_encoding &&
           strcasecmp(f->transfer_encoding, "chunked") == 0;
}

static void fuzz_framing(const uint8_t *counts, const char *value) {
    struct framing f = {
        .content_length_count = counts[0] % 4u,
        .transfer_encoding_count = counts[1] % 4u,
        .host_count = counts[2] % 4u,
        /* libmicrohttpd gives the first TE value; NULL when there is none */
        .transfer_encoding = (counts[1] % 4u) ? value : NULL,
    };
    if (counts[0] >= 0xf0)
        f.content_length_count = 0xffffffffu - (counts[0] & 0x0f); /* huge counts */
    const char *why = NULL;
    enum nx_err e = framing_check(&f, &why);
    CHECK(e == NX_OK || e == NX_ERR_BAD_REQUEST);
    CHECK((e == NX_OK) == framing_expected(&f));
    if (e != NX_OK)
        CHECK(why && why[0]);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    size_t len = strnlen((const char *)data + 4, size - 4);
    char *value = malloc(len + 1); /* exactly sized: ASan sees overreads */
    CHECK(value);
    memcpy(value, data + 4, len);
    value[len] = '\0';
    switch (data[0] % 3) {
    case 0:
        fuzz_framing(data + 1, value);
        break;
    case 1:
        fuzz_content_type(value, len);
        break;
    default:
        fuzz_request_id(value, len);
        break;
    }
    free(value);
    return 0;
}
