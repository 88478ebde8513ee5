/*
 * fuzz_text.c -- the text helpers that see client or operator input:
 * email_normalize, slug_from_name, slug_with_suffix, currency_normalize,
 * etag_matches, redis_url_parse and utf8_length.
 *
 * Input layout: byte 0 picks the function (and a parameter: the slug
 * length, the weak flag), the rest is the text, cut at its first NUL (all
 * of these take C strings). Every output buffer is allocated at exactly
 * the documented size, so ASan sees a write one byte past it.
 *
 * Guarantees checked: normalised emails are lower case, trimmed, have one
 * '@' and normalise to themselves; derived slugs are valid and at most
 * the asked length, and a numeric suffix keeps them valid within
 * NX_SLUG_MAX; a currency code is the upper-cased input and itself valid;
 * "*" and the tag itself always match; a parsed Redis URL has a
 * non-empty host, a port only for TCP and a database 0..15; utf8_length
 * counts the bytes that start a character.
 */
#include "nexus/cache/cache.h"
#include "nexus/http/conditional.h"
#include "nexus/model/catalog.h"
#include "nexus/model/fields.h"
#include "nexus/model/user.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_text: check failed: %s (line %d)\n", #cond, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void fuzz_email(const char *in) {
    char *out = malloc(NX_EMAIL_MAX + 1);
    CHECK(out);
    if (email_normalize(in, out, NX_EMAIL_MAX + 1)) {
        size_t n = strlen(out);
        CHECK(n >= 3 && n <= NX_EMAIL_MAX);
        const char *at = strchr(out, '@');
        CHECK(at && at > out && !strchr(at + 1, '@'));
        for (size_t i = 0; i < n; i++)
            CHECK(!isupper((unsigned char)out[i]) && !isspace((unsigned char)out[i]));
        char again[NX_EMAIL_MAX + 1];
        CHECK(email_normalize(out, again, sizeof again) && strcmp(again, out) == 0);
    }
    free(out);
}

static void fuzz_slug(const char *name, unsigned param) {
    /* Mostly what the API asks for, sometimes shorter (the seeder uses 80). */
    size_t max = param <= 20 ? NX_SLUG_MAX : (size_t)(param - 20) * 4 - 3;
    char *out = malloc(max + 2); /* "out needs max + 2 bytes" */
    CHECK(out);
    if (slug_from_name(name, out, max)) {
        CHECK(strlen(out) <= max);
        CHECK(slug_is_valid(out));
        char suffixed[NX_SLUG_MAX + 1];
        for (long n = 2; n < 100000000L; n *= 97) {
            slug_with_suffix(out, n, suffixed);
            CHECK(strlen(suffixed) <= NX_SLUG_MAX);
            CHECK(slug_is_valid(suffixed));
        }
    }
    free(out);
}

static void fuzz_currency(const char *in) {
    char *out = malloc(4);
    CHECK(out);
    if (currency_normalize(in, out)) {
        CHECK(strlen(out) == 3 && strcasecmp(out, in) == 0);
        for (int i = 0; i < 3; i++)
            CHECK(out[i] >= 'A' && out[i] <= 'Z');
        char again[4];
        CHECK(currency_normalize(out, again) && strcmp(again, out) == 0);
    }
    free(out);
}

static void fuzz_etag(const char *header, unsigned param) {
    char etag[NX_ETAG_LEN + 1];
    etag_of(header, strlen(header), etag);
    bool weak_ok = param & 1;
    (void)etag_matches(header, etag, weak_ok);
    (void)etag_matches(header, "\"abc\"", weak_ok);
    CHECK(etag_matches("*", etag, weak_ok));
    CHECK(etag_matches(etag, etag, weak_ok));
    /* The tag after any list of other tags still matches. */
    if (!strchr(header, '"') && strlen(header) < 512) {
        char list[1024];
        snprintf(list, sizeof list, "\"%s\", %s", header, etag);
        CHECK(etag_matches(list, etag, weak_ok));
    }
}

static void fuzz_redis_url(const char *url) {
    struct redis_target *t = malloc(sizeof *t);
    CHECK(t);
    if (redis_url_parse(url, t)) {
        size_t host = strnlen(t->host, sizeof t->host);
        CHECK(host > 0 && host < sizeof t->host);
        CHECK(strnlen(t->password, sizeof t->password) < sizeof t->password);
        CHECK(t->db >= 0 && t->db <= 15);
        if (strncmp(url, "unix://", 7) == 0)
            CHECK(t->port == 0 && t->host[0] == '/');
        else
            CHECK(t->port >= 1 && t->port <= 65535);
    }
    free(t);
}

static void fuzz_utf8(const char *s) {
    size_t want = 0;
    for (const char *p = s; *p; p++)
        want += ((unsigned char)*p & 0xC0) != 0x80;
    CHECK(utf8_length(s) == want);
    CHECK(want <= strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 8192)
        return 0;
    size_t len = strnlen((const char *)data + 1, size - 1);
    char *text = malloc(len + 1); /* exactly sized: ASan sees overreads */
    CHECK(text);
    memcpy(text, data + 1, len);
    text[len] = '\0';
    unsigned param = data[0] / 6u; /* 0..42 */
    switch (data[0] % 6) {
    case 0:
        fuzz_email(text);
        break;
    case 1:
        fuzz_slug(text, param);
        break;
    case 2:
        fuzz_currency(text);
        break;
    case 3:
        fuzz_etag(text, param);
        break;
    case 4:
        fuzz_redis_url(text);
        break;
    default:
        fuzz_utf8(text);
        break;
    }
    free(text);
    return 0;
}
