/*
 * fuzz_token.c -- access token checks (auth/token.h) on arbitrary bytes.
 *
 * Input layout: byte 0 picks the mode.
 *   - verify mode: the rest is a bearer token (any bytes, NULs included).
 *     It goes through token_verify_access with a fixed key, issuer and
 *     clock; the seeds are real tokens made with that key (valid ones,
 *     expired ones, other algorithms, tampered claims). A token that
 *     passes must carry sane claims.
 *   - header mode: the rest is split at NUL bytes into 0..3 Authorization
 *     header values for token_from_authorization; a token it picks out is
 *     "Bearer " plus 1..NX_TOKEN_MAX visible ASCII characters of the one
 *     value, and is then verified like above.
 *   - opaque mode (byte 0 even with bit 1 set): the rest is a presented
 *     opaque token (refresh, reset or verification link) for
 *     token_hash_opaque; one it accepts must be 43 URL-safe base64
 *     characters that decode to 32 bytes and encode back to themselves,
 *     and its hash must be the SHA-256 of its text.
 */
#include "nexus/auth/token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_token: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The seeds in corpus/fuzz_token were issued with this key at NOW. */
static const char SECRET[] = "fuzz-token-secret-0123456789abcdef-0123456";
#define NOW ((time_t)1700000000)

static const struct token_keys KEYS = {(const unsigned char *)SECRET, sizeof SECRET - 1, "nexus"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    return 0;
}

static void verify(const char *token, size_t len) {
    struct access_claims c;
    memset(&c, 0, sizeof c);
    enum nx_err e = token_verify_access(&KEYS, token, len, NOW, &c);
    CHECK(e == NX_OK || e == NX_ERR_UNAUTHORIZED);
    if (e != NX_OK)
        return;
    CHECK(len >= 1 && len <= NX_TOKEN_MAX);
    CHECK(c.user_id >= 1);
    CHECK(c.exp > (int64_t)NOW);
    CHECK(strlen(c.family) == NX_FAMILY_LEN);
    CHECK(c.role[0] != '\0' && strlen(c.role) < sizeof c.role);
}

static void from_header(const uint8_t *data, size_t size) {
    /* Header values are C strings: split the input at its NULs. */
    char *copy = malloc(size + 1);
    CHECK(copy);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *values[3] = {NULL, NULL, NULL};
    size_t count = 0;
    for (size_t at = 0; at <= size && count < 3;) {
        values[count++] = copy + at;
        at += strlen(copy + at) + 1;
        if (at > size)
            break;
    }
    if (size == 0)
        count = 0; /* no Authorization header at all */
    const char *token = NULL;
    size_t len = 0;
    enum nx_err e = token_from_authorization(values, count, &token, &len);
    CHECK(e == NX_OK || e == NX_ERR_UNAUTHORIZED);
    if (e == NX_OK) {
        CHECK(count == 1);
        CHECK(strncasecmp(values[0], "Bearer ", 7) == 0);
        CHECK(token > values[0] + 6 && token[-1] == ' ' && token[0] != ' ');
        CHECK(len >= 1 && len <= NX_TOKEN_MAX);
        /* white space after the token is not part of it, and all that may follow */
        CHECK(strspn(token + len, " \t") == strlen(token + len));
        for (size_t i = 0; i < len; i++)
            CHECK(token[i] > 0x20 && token[i] < 0x7f);
        verify(token, len);
    }
    free(copy);
}

static void opaque(const char *token, size_t len) {
    unsigned char hash[NX_TOKEN_HASH_LEN], want[NX_TOKEN_HASH_LEN], raw[32];
    char again[NX_OPAQUE_TOKEN_LEN + 1];
    size_t got = 0;
    if (!token_hash_opaque(token, len, hash))
        return;
    CHECK(len == NX_OPAQUE_TOKEN_LEN);
    for (size_t i = 0; i < len; i++)
        CHECK(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", token[i]) &&
            token[i] != '\0');
    CHECK(sodium_base642bin(raw, sizeof raw, token, len, NULL, &got, NULL,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
          got == sizeof raw);
    sodium_bin2base64(again, sizeof again, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    CHECK(memcmp(again, token, len) == 0);
    crypto_hash_sha256(want, (const unsigned char *)token, len);
    CHECK(memcmp(want, hash, sizeof hash) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 2 * NX_TOKEN_MAX)
        return 0;
    if (data[0] & 1)
        from_header(data + 1, size - 1);
    else if (data[0] & 2)
        opaque((const char *)data + 1, size - 1);
    else
        verify((const char *)data + 1, size - 1);
    return 0;
}
