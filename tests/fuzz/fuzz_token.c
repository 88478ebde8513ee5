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
 *   - signed mode (byte 0 with bits 0 and 1 clear, bit 2 set): the rest is
 *     the payload, any bytes, under the header {"alg":"HS256","typ":"JWT"};
 *     with bit 3 set too, the rest is the header up to its first NUL and
 *     the payload after it. The target signs them with the key (HS256 over
 *     the bytes as given, so the mutator reaches every claim check, which
 *     a forged signature never does) and verifies the token. It is
 *     accepted exactly when the rules written out below accept it, and
 *     then its claims are the payload's; the same token is refused at its
 *     exp, under another key, and with its signature altered.
 */
#include "nexus/auth/token.h"

#include <jansson.h>
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

/* Another key of the same issuer: it must not verify what KEYS signed. */
static const char OTHER_SECRET[] = "fuzz-token-other-secret-0123456789abcdef-01";
static const struct token_keys OTHER_KEYS = {(const unsigned char *)OTHER_SECRET,
                                             sizeof OTHER_SECRET - 1, "nexus"};

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

/* ---- signed mode: the verifier's rules, written out independently ---- */

/* What the verifier must answer for a token: accepted or not, and when
 * accepted, the claims it must give. */
struct expected {
    bool accepted;
    struct access_claims claims;
};

/* The segment as JSON, duplicate members refused (a JWT we issue has
 * none), or NULL. JSON text holds no NUL byte: jansson 2.14's json_loadb
 * skips one right after a number or a literal ({"exp":1\0}), but
 * libjwt's reading of the segment, as a C string, ends at it. */
static json_t *load_segment(const uint8_t *bytes, size_t len) {
    if (memchr(bytes, '\0', len))
        return NULL;
    return json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, NULL);
}

/* The JOSE header we issue: alg "HS256", typ "JWT" if present, no other
 * member, at most 256 bytes. */
static bool header_acceptable(const uint8_t *bytes, size_t len) {
    json_t *h = len <= 256 ? load_segment(bytes, len) : NULL;
    json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");
    bool ok = json_is_object(h) && json_is_string(alg) &&
              strcmp(json_string_value(alg), "HS256") == 0 &&
              json_object_size(h) == (size_t)(typ ? 2 : 1) &&
              (!typ || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0));
    json_decref(h);
    return ok;
}

/* A string claim that is there and not empty. */
static const char *text_claim(json_t *claims, const char *name) {
    const char *s = json_string_value(json_object_get(claims, name));
    return s && s[0] ? s : NULL;
}

/* A time claim: absent (if optional) or a JSON integer at most limit. */
static bool time_at_most(json_t *claims, const char *name, bool required, int64_t limit) {
    json_t *v = json_object_get(claims, name);
    if (!v)
        return !required;
    return json_is_integer(v) && (int64_t)json_integer_value(v) <= limit;
}

/* A user id as the server spells it: 1 to INT64_MAX in decimal, no sign,
 * no leading zero. */
static bool user_id_text(const char *s, int64_t *id) {
    static const char max[] = "9223372036854775807";
    size_t n = strlen(s);
    if (n == 0 || n > sizeof max - 1 || s[0] == '0' || strspn(s, "0123456789") != n ||
        (n == sizeof max - 1 && strcmp(s, max) > 0))
        return false;
    *id = 0;
    for (size_t i = 0; i < n; i++)
        *id = *id * 10 + (s[i] - '0');
    return true;
}

/* A login id: a UUID as PostgreSQL writes it, lower-case. */
static bool login_id_text(const char *s) {
    static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof form - 1)
        return false;
    for (size_t i = 0; i < sizeof form - 1; i++)
        if (form[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    return true;
}

static struct expected claims_acceptable(const uint8_t *bytes, size_t len) {
    struct expected want;
    memset(&want, 0, sizeof want);
    json_t *c = load_segment(bytes, len);
    json_t *exp = json_object_get(c, "exp");
    const char *iss = text_claim(c, "iss"), *sub = text_claim(c, "sub");
    const char *role = text_claim(c, "role"), *fam = text_claim(c, "fam");
    const char *use = text_claim(c, "token_use");
    want.accepted = json_is_object(c) && json_is_integer(exp) &&
                    (int64_t)json_integer_value(exp) > (int64_t)NOW &&
                    time_at_most(c, "nbf", false, (int64_t)NOW + 60) &&
                    time_at_most(c, "iat", false, (int64_t)NOW + 60) && iss &&
                    strcmp(iss, "nexus") == 0 && use && strcmp(use, "access") == 0 &&
                    text_claim(c, "jti") && sub && user_id_text(sub, &want.claims.user_id) &&
                    role && strlen(role) < sizeof want.claims.role && fam && login_id_text(fam);
    if (want.accepted) {
        want.claims.exp = (int64_t)json_integer_value(exp);
        strcpy(want.claims.role, role);
        strcpy(want.claims.family, fam);
    }
    json_decref(c);
    return want;
}

/* base64url without padding of bytes, appended at out (room enough). */
static size_t put_b64(char *out, const uint8_t *bytes, size_t len) {
    if (len == 0)
        return 0;
    sodium_bin2base64(out, sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                      bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

/* header.payload.signature, HS256 under KEYS (malloc'd, NUL-terminated). */
static char *sign(const uint8_t *header, size_t header_len, const uint8_t *payload,
                  size_t payload_len, size_t *len) {
    enum { B64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING };
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t cap = sodium_base64_ENCODED_LEN(header_len, B64) +
                 sodium_base64_ENCODED_LEN(payload_len, B64) +
                 sodium_base64_ENCODED_LEN(sizeof mac, B64) + 2;
    char *token = malloc(cap);
    CHECK(token);
    size_t n = put_b64(token, header, header_len);
    token[n++] = '.';
    n += put_b64(token + n, payload, payload_len);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, KEYS.secret, KEYS.secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, n);
    crypto_auth_hmacsha256_final(&st, mac);
    token[n++] = '.';
    n += put_b64(token + n, mac, sizeof mac);
    *len = n;
    return token;
}

/* The token's answers besides the one at NOW under KEYS. */
static void check_refusals(char *token, size_t len, const struct access_claims *got) {
    struct access_claims c;
    CHECK(token_verify_access(&KEYS, token, len, (time_t)got->exp, &c) == NX_ERR_UNAUTHORIZED);
    CHECK(token_verify_access(&OTHER_KEYS, token, len, NOW, &c) == NX_ERR_UNAUTHORIZED);
    strrchr(token, '.')[1] ^= 0x01; /* another base64url character, or none */
    CHECK(token_verify_access(&KEYS, token, len, NOW, &c) == NX_ERR_UNAUTHORIZED);
}

static void signed_claims(const uint8_t *data, size_t size, bool with_header) {
    static const char ours[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const uint8_t *header = (const uint8_t *)ours, *payload = data;
    size_t header_len = sizeof ours - 1, payload_len = size;
    if (with_header) {
        const uint8_t *nul = memchr(data, '\0', size);
        header = data;
        header_len = nul ? (size_t)(nul - data) : size;
        payload = nul ? nul + 1 : data + size;
        payload_len = size - (size_t)(payload - data);
    }
    size_t len;
    char *token = sign(header, header_len, payload, payload_len, &len);
    struct expected want = claims_acceptable(payload, payload_len);
    want.accepted = want.accepted && len <= NX_TOKEN_MAX && header_acceptable(header, header_len);

    struct access_claims got, again;
    memset(&got, 0, sizeof got);
    memset(&again, 0, sizeof again);
    enum nx_err e = token_verify_access(&KEYS, token, len, NOW, &got);
    CHECK(e == (want.accepted ? NX_OK : NX_ERR_UNAUTHORIZED));
    CHECK(token_verify_access(&KEYS, token, len, NOW, &again) == e); /* the same answer twice */
    if (e == NX_OK) {
        CHECK(memcmp(&got, &again, sizeof got) == 0);
        CHECK(got.user_id == want.claims.user_id && got.exp == want.claims.exp);
        CHECK(strcmp(got.role, want.claims.role) == 0);
        CHECK(strcmp(got.family, want.claims.family) == 0);
        check_refusals(token, len, &got);
    }
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 2 * NX_TOKEN_MAX)
        return 0;
    if (data[0] & 1)
        from_header(data + 1, size - 1);
    else if (data[0] & 2)
        opaque((const char *)data + 1, size - 1);
    else if (data[0] & 4)
        signed_claims(data + 1, size - 1, data[0] & 8);
    else
        verify((const char *)data + 1, size - 1);
    return 0;
}
