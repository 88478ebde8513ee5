/*
 * test_token.c -- the JWT wrapper refuses every token it did not issue
 * exactly as it issues them, whatever libjwt would accept.
 */
#include "nexus/auth/token.h"

#include <jwt.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char SECRET[] = "unit-test-secret-0123456789abcdef0123";
static const char OTHER[] = "another-secret-0123456789abcdef012345";
static const char FAMILY[] = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
static const struct token_keys KEYS = {(const unsigned char *)SECRET, sizeof SECRET - 1, "nexus"};
static const time_t NOW = 1800000000;

/* A token with the given alg and claims, signed with key. */
static char *craft(jwt_alg_t alg, const char *key, const char *claims) {
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    if (alg != JWT_ALG_NONE)
        assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)), 0);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(t);
    return t;
}

static char *good_claims(char *buf, size_t cap, const char *extra) {
    snprintf(buf, cap,
             "{\"sub\":\"42\",\"role\":\"customer\",\"iss\":\"nexus\",\"jti\":\"j1\","
             "\"fam\":\"%s\",\"token_use\":\"access\",\"iat\":%lld%s%s}",
             FAMILY, (long long)NOW, extra[0] ? "," : "", extra);
    return buf;
}

/*
 * test_token is linked with --wrap=jwt_decode: every call of libjwt's
 * decoder comes through here, so a test can tell whether libjwt (and its
 * variable-time signature comparison) saw a token at all.
 */
int __real_jwt_decode(jwt_t **jwt, const char *token, const unsigned char *key, int key_len);
int __wrap_jwt_decode(jwt_t **jwt, const char *token, const unsigned char *key, int key_len);
static int decode_calls;

int __wrap_jwt_decode(jwt_t **jwt, const char *token, const unsigned char *key, int key_len) {
    decode_calls++;
    return __real_jwt_decode(jwt, token, key, key_len);
}

static int verify(const char *token) {
    struct access_claims c;
    return token_verify_access(&KEYS, token, strlen(token), NOW, &c);
}

static void test_issued_token_verifies_with_its_claims(void **state) {
    (void)state;
    char *t = NULL;
    struct access_claims c;
    assert_int_equal(token_issue_access(&KEYS, 42, "staff", FAMILY, NOW, 900, &t), NX_OK);
    assert_int_equal(token_verify_access(&KEYS, t, strlen(t), NOW + 10, &c), NX_OK);
    assert_int_equal(c.user_id, 42);
    assert_string_equal(c.role, "staff");
    assert_string_equal(c.family, FAMILY);
    assert_int_equal(c.exp, NOW + 900);
    free(t);
}

static void test_crafted_good_token_verifies(void **state) {
    (void)state;
    char claims[512], extra[64];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    char *t = craft(JWT_ALG_HS256, SECRET, good_claims(claims, sizeof claims, extra));
    assert_int_equal(verify(t), NX_OK);
    free(t);
}

static char *b64url(const char *s) {
    size_t cap = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)s, strlen(s),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static void check_alg_none(const char *signature) {
    char claims[512], extra[64], token[2048];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    char *p = b64url(good_claims(claims, sizeof claims, extra));
    snprintf(token, sizeof token, "%s.%s.%s", h, p, signature);
    assert_int_equal(verify(token), NX_ERR_UNAUTHORIZED);
    free(h);
    free(p);
}

/* A token of this JOSE header and claims text, signed with SECRET. */
static char *signed_token(const char *header, const char *claims) {
    char token[2048];
    char *h = b64url(header);
    char *p = b64url(claims);
    int n = snprintf(token, sizeof token, "%s.%s", h, p);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, sizeof SECRET - 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (unsigned long long)n);
    crypto_auth_hmacsha256_final(&st, mac);
    char sig[64];
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(token + n, sizeof token - (size_t)n, ".%s", sig);
    free(h);
    free(p);
    return strdup(token);
}

/* A token with this JOSE header and good claims, signed with SECRET. */
static char *signed_with_header(const char *header) {
    char claims[512], extra[64];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    return signed_token(header, good_claims(claims, sizeof claims, extra));
}

/* Signed with the real secret, but a header this server does not issue:
 * "alg" in another case (RFC 7515 names are case-sensitive), a "crit"
 * extension it cannot understand, any other member, or a "typ" not JWT. */
static void test_headers_other_than_ours_are_rejected(void **state) {
    (void)state;
    static const char *const refused[] = {
        "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
        "[\"HS256\"]",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char *t = signed_with_header(refused[i]);
        if (verify(t) != NX_ERR_UNAUTHORIZED)
            fail_msg("accepted a token with header %s", refused[i]);
        free(t);
    }
    static const char *const accepted[] = {"{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                                           "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
                                           "{\"alg\":\"HS256\"}"};
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        char *t = signed_with_header(accepted[i]);
        assert_int_equal(verify(t), NX_OK);
        free(t);
    }
}

static void test_alg_none_without_signature_is_rejected(void **state) {
    (void)state;
    check_alg_none("");
}

static void test_alg_none_with_signature_is_rejected(void **state) {
    (void)state;
    check_alg_none("c2lnbmF0dXJl");
}

static void test_hs384_and_hs512_with_the_real_secret_are_rejected(void **state) {
    (void)state;
    char claims[512], extra[64];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    good_claims(claims, sizeof claims, extra);
    char *a = craft(JWT_ALG_HS384, SECRET, claims);
    char *b = craft(JWT_ALG_HS512, SECRET, claims);
    assert_int_equal(verify(a), NX_ERR_UNAUTHORIZED);
    assert_int_equal(verify(b), NX_ERR_UNAUTHORIZED);
    free(a);
    free(b);
}

static void test_tampered_payload_is_rejected(void **state) {
    (void)state;
    char *t = NULL, token[4096], claims[512], extra[64];
    assert_int_equal(token_issue_access(&KEYS, 42, "customer", FAMILY, NOW, 900, &t), NX_OK);
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    char *forged = b64url(good_claims(claims, sizeof claims, extra));
    const char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
    snprintf(token, sizeof token, "%.*s.%s%s", (int)(dot1 - t), t, forged, dot2);
    assert_int_equal(verify(token), NX_ERR_UNAUTHORIZED);
    free(forged);
    free(t);
}

static void test_tampered_or_truncated_signature_is_rejected(void **state) {
    (void)state;
    char *t = NULL;
    assert_int_equal(token_issue_access(&KEYS, 42, "customer", FAMILY, NOW, 900, &t), NX_OK);
    char *flipped = strdup(t);
    char *last = flipped + strlen(flipped) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify(flipped), NX_ERR_UNAUTHORIZED);
    t[strlen(t) - 6] = '\0';
    assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
    free(flipped);
    free(t);
}

static void test_token_signed_with_another_secret_is_rejected(void **state) {
    (void)state;
    char claims[512], extra[64];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    char *t = craft(JWT_ALG_HS256, OTHER, good_claims(claims, sizeof claims, extra));
    assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
    free(t);
}

static void test_expired_token_is_rejected(void **state) {
    (void)state;
    char *t = NULL;
    assert_int_equal(token_issue_access(&KEYS, 42, "customer", FAMILY, NOW - 1000, 900, &t), NX_OK);
    assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
    free(t);
}

/* A kept answer's token is read for its exp whether or not it has
 * expired, and only when it is one of ours. */
static void test_expiry_is_read_from_our_tokens_expired_or_not(void **state) {
    (void)state;
    static const struct token_keys other = {(const unsigned char *)OTHER, sizeof OTHER - 1,
                                            "nexus"};
    char *t = NULL;
    int64_t exp = 0;
    assert_int_equal(token_issue_access(&KEYS, 42, "customer", FAMILY, NOW - 1000, 900, &t), NX_OK);
    assert_true(token_access_expiry(&KEYS, t, strlen(t), &exp));
    assert_int_equal(exp, NOW - 100);
    assert_false(token_access_expiry(&other, t, strlen(t), &exp));
    t[strlen(t) - 1] = t[strlen(t) - 1] == 'A' ? 'B' : 'A';
    assert_false(token_access_expiry(&KEYS, t, strlen(t), &exp));
    assert_false(token_access_expiry(&KEYS, "", 0, &exp));
    free(t);
}

static void test_nbf_in_the_future_is_rejected(void **state) {
    (void)state;
    char claims[512], extra[96];
    snprintf(extra, sizeof extra, "\"exp\":%lld,\"nbf\":%lld", (long long)NOW + 7200,
             (long long)NOW + 3600);
    char *t = craft(JWT_ALG_HS256, SECRET, good_claims(claims, sizeof claims, extra));
    assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
    free(t);
}

static void test_wrong_issuer_is_rejected(void **state) {
    (void)state;
    char *t = NULL;
    struct token_keys other = KEYS;
    other.issuer = "someone-else";
    assert_int_equal(token_issue_access(&other, 42, "customer", FAMILY, NOW, 900, &t), NX_OK);
    assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
    free(t);
}

static void test_missing_or_non_integer_exp_is_rejected(void **state) {
    (void)state;
    const char *bad[] = {"", "\"exp\":\"1900000000\"", "\"exp\":1900000000.5", "\"exp\":null",
                         "\"exp\":true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char claims[512];
        char *t = craft(JWT_ALG_HS256, SECRET, good_claims(claims, sizeof claims, bad[i]));
        assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
        free(t);
    }
}

static void test_missing_or_bad_claims_are_rejected(void **state) {
    (void)state;
    const char *bad[] = {
        "{\"sub\":\"42\",\"role\":\"customer\",\"jti\":\"j\",\"fam\":\"%s\","
        "\"token_use\":\"access\",\"exp\":%lld}", /* no iss */
        "{\"sub\":\"abc\",\"role\":\"customer\",\"iss\":\"nexus\",\"jti\":\"j\",\"fam\":\"%s\","
        "\"token_use\":\"access\",\"exp\":%lld}", /* sub not an id */
        "{\"sub\":42,\"role\":\"customer\",\"iss\":\"nexus\",\"jti\":\"j\",\"fam\":\"%s\","
        "\"token_use\":\"access\",\"exp\":%lld}", /* sub a number */
        "{\"sub\":\"42\",\"role\":\"customer\",\"iss\":\"nexus\",\"fam\":\"%s\","
        "\"token_use\":\"access\",\"exp\":%lld}", /* no jti */
        "{\"sub\":\"42\",\"role\":\"customer\",\"iss\":\"nexus\",\"jti\":\"j\",\"fam\":\"%s\","
        "\"token_use\":\"refresh\",\"exp\":%lld}", /* not an access token */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char claims[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(claims, sizeof claims, bad[i], FAMILY, (long long)NOW + 600);
#pragma GCC diagnostic pop
        char *t = craft(JWT_ALG_HS256, SECRET, claims);
        assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
        free(t);
    }
}

/* A login id that is no UUID as the server writes them (36 characters, so
 * only its shape is at fault) is no login of ours. */
static void test_family_that_is_not_a_uuid_is_rejected(void **state) {
    (void)state;
    static const char *const refused[] = {
        "not-a-uuid-but-thirty-six-chars-long", "0b1e2c3d4e5f-4a6b-8c7d-9e0f1a2b3c4d-",
        "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g", "0B1E2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
        "{0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char claims[512];
        assert_int_equal(strlen(refused[i]), NX_FAMILY_LEN);
        snprintf(claims, sizeof claims,
                 "{\"sub\":\"42\",\"role\":\"customer\",\"iss\":\"nexus\",\"jti\":\"j\","
                 "\"fam\":\"%s\",\"token_use\":\"access\",\"exp\":%lld}",
                 refused[i], (long long)NOW + 600);
        char *t = craft(JWT_ALG_HS256, SECRET, claims);
        assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
        free(t);
    }
}

/* A claim given twice: libjwt's parse keeps the last, but a token the
 * server issued never repeats one. */
static void test_duplicated_claim_is_rejected(void **state) {
    (void)state;
    static const char *const twice[] = {"\"role\":\"admin\"", "\"sub\":\"42\"", "\"jti\":\"j2\""};
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        char claims[512], extra[128];
        snprintf(extra, sizeof extra, "\"exp\":%lld,%s", (long long)NOW + 600, twice[i]);
        char *t = signed_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                               good_claims(claims, sizeof claims, extra));
        assert_int_equal(verify(t), NX_ERR_UNAUTHORIZED);
        free(t);
    }
    /* the control: the same claims once each */
    char *t = signed_with_header("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    assert_int_equal(verify(t), NX_OK);
    free(t);
}

/* ---- the signature is checked before libjwt sees the token --------------- */

#define SIG_LEN 43 /* base64url of 32 bytes, no padding */
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A valid token issued with KEYS, and where its signature starts. */
static char *issued(size_t *sig_at) {
    char *t = NULL;
    assert_int_equal(token_issue_access(&KEYS, 42, "customer", FAMILY, NOW, 900, &t), NX_OK);
    *sig_at = (size_t)(strrchr(t, '.') + 1 - t);
    assert_int_equal(strlen(t) - *sig_at, SIG_LEN);
    return t;
}

/* token is refused, and libjwt was never asked to decode it. */
static void assert_refused_before_libjwt(const char *token) {
    decode_calls = 0;
    if (verify(token) != NX_ERR_UNAUTHORIZED)
        fail_msg("accepted: %s", token);
    if (decode_calls != 0)
        fail_msg("libjwt saw: %s", token);
}

static void test_valid_signature_reaches_libjwt_once(void **state) {
    (void)state;
    size_t at;
    char *t = issued(&at);
    decode_calls = 0;
    assert_int_equal(verify(t), NX_OK);
    assert_int_equal(decode_calls, 1);
    free(t);
}

static void test_wrong_signature_of_the_right_length_never_reaches_libjwt(void **state) {
    (void)state;
    size_t at;
    char *t = issued(&at);
    for (size_t i = 0; i < SIG_LEN - 1; i++) { /* the last character: see below */
        char was = t[at + i];
        t[at + i] = was == 'A' ? 'B' : 'A';
        assert_refused_before_libjwt(t);
        t[at + i] = was;
    }
    char claims[512], extra[64];
    snprintf(extra, sizeof extra, "\"exp\":%lld", (long long)NOW + 600);
    char *other = craft(JWT_ALG_HS256, OTHER, good_claims(claims, sizeof claims, extra));
    assert_refused_before_libjwt(other);
    free(other);
    free(t);
}

static void test_truncated_or_extended_signature_never_reaches_libjwt(void **state) {
    (void)state;
    size_t at;
    char *t = issued(&at);
    char token[4200];
    snprintf(token, sizeof token, "%.*s", (int)(at + SIG_LEN - 1), t);
    assert_refused_before_libjwt(token);
    snprintf(token, sizeof token, "%.*s", (int)at, t); /* no signature */
    assert_refused_before_libjwt(token);
    snprintf(token, sizeof token, "%sA", t);
    assert_refused_before_libjwt(token);
    snprintf(token, sizeof token, "%s.%s", t, t + at); /* a fourth part */
    assert_refused_before_libjwt(token);
    free(t);
}

static void test_padded_or_non_canonical_signature_never_reaches_libjwt(void **state) {
    (void)state;
    size_t at;
    char *t = issued(&at);
    char token[4200];
    snprintf(token, sizeof token, "%s=", t);
    assert_refused_before_libjwt(token);
    snprintf(token, sizeof token, "%.*s=", (int)(at + SIG_LEN - 1), t); /* right length */
    assert_refused_before_libjwt(token);
    /* The last character carries 4 bits of the MAC and 2 that must be zero:
     * setting one of those spells the same bytes non-canonically. */
    snprintf(token, sizeof token, "%s", t);
    char *last = token + at + SIG_LEN - 1;
    size_t v = (size_t)(strchr(B64URL, *last) - B64URL);
    assert_int_equal(v & 3, 0);
    *last = B64URL[v | 1];
    assert_refused_before_libjwt(token);
    /* Characters outside base64url, at the right length. */
    const char *alien = "+/=. *";
    for (const char *c = alien; *c; c++) {
        snprintf(token, sizeof token, "%s", t);
        token[at + 7] = *c;
        assert_refused_before_libjwt(token);
    }
    free(t);
}

static void test_refresh_token_is_not_an_access_token(void **state) {
    (void)state;
    char refresh[NX_OPAQUE_TOKEN_LEN + 1];
    unsigned char hash[NX_TOKEN_HASH_LEN], again[NX_TOKEN_HASH_LEN];
    token_new_opaque(refresh, hash);
    assert_int_equal(strlen(refresh), NX_OPAQUE_TOKEN_LEN);
    assert_int_equal(verify(refresh), NX_ERR_UNAUTHORIZED);
    assert_true(token_hash_opaque(refresh, strlen(refresh), again));
    assert_memory_equal(hash, again, sizeof hash);
    assert_false(token_hash_opaque("short", 5, again));
}

/* A derived token is the same for one key and purpose, another for
 * another key or purpose, and one the decoder takes with its hash. */
static void test_derived_opaque_token_is_one_per_key_and_purpose(void **state) {
    (void)state;
    static const unsigned char key[] = "a key of thirty-two bytes or more";
    static const unsigned char other_key[] = "another key of thirty-two bytes!";
    char a[NX_OPAQUE_TOKEN_LEN + 1], b[NX_OPAQUE_TOKEN_LEN + 1], c[NX_OPAQUE_TOKEN_LEN + 1];
    unsigned char ha[NX_TOKEN_HASH_LEN], hb[NX_TOKEN_HASH_LEN], decoded[NX_TOKEN_HASH_LEN];
    token_derive_opaque(key, sizeof key - 1, "link of job 7", a, ha);
    token_derive_opaque(key, sizeof key - 1, "link of job 7", b, hb);
    assert_string_equal(a, b);
    assert_memory_equal(ha, hb, sizeof ha);
    assert_true(token_hash_opaque(a, strlen(a), decoded));
    assert_memory_equal(ha, decoded, sizeof ha);
    token_derive_opaque(key, sizeof key - 1, "link of job 8", c, hb);
    assert_string_not_equal(a, c);
    token_derive_opaque(other_key, sizeof other_key - 1, "link of job 7", c, hb);
    assert_string_not_equal(a, c);
}

static void test_opaque_token_decoder_takes_only_canonical_base64url_of_32_bytes(void **state) {
    (void)state;
    char token[NX_OPAQUE_TOKEN_LEN + 1], bad[NX_OPAQUE_TOKEN_LEN + 2];
    unsigned char hash[NX_TOKEN_HASH_LEN], again[NX_TOKEN_HASH_LEN];
    for (int round = 0; round < 100; round++) { /* every issued token decodes */
        token_new_opaque(token, hash);
        assert_true(token_hash_opaque(token, strlen(token), again));
        assert_memory_equal(hash, again, sizeof hash);
    }
    /* truncated, extended */
    assert_false(token_hash_opaque(token, NX_OPAQUE_TOKEN_LEN - 1, again));
    memcpy(bad, token, NX_OPAQUE_TOKEN_LEN);
    bad[NX_OPAQUE_TOKEN_LEN] = 'A';
    assert_false(token_hash_opaque(bad, NX_OPAQUE_TOKEN_LEN + 1, again));
    /* characters outside the URL-safe alphabet, padding, white space, NUL,
     * and bytes over 0x7f (libsodium 1.0.18 decodes some of them) */
    const char subst[] = {'+', '/', '=', ' ', '.', '\0', '\xc3', '\x80', '\xff'};
    for (size_t i = 0; i < sizeof subst; i++) {
        memcpy(bad, token, NX_OPAQUE_TOKEN_LEN);
        bad[10] = subst[i];
        assert_false(token_hash_opaque(bad, NX_OPAQUE_TOKEN_LEN, again));
    }
    /* 43 characters whose last one carries bits past the 32 bytes: the
     * last character of a canonical token is one of 16 ("AEIM...") */
    memset(bad, 'A', NX_OPAQUE_TOKEN_LEN);
    assert_true(token_hash_opaque(bad, NX_OPAQUE_TOKEN_LEN, again));
    bad[NX_OPAQUE_TOKEN_LEN - 1] = 'B';
    assert_false(token_hash_opaque(bad, NX_OPAQUE_TOKEN_LEN, again));
}

static void test_garbage_is_rejected(void **state) {
    (void)state;
    const char *bad[] = {"", "a", "a.b", "a.b.c", "..", "eyJ.eyJ.", "\xff\xfe.\x01.\x02"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify(bad[i]), NX_ERR_UNAUTHORIZED);
}

static void test_authorization_header_rules(void **state) {
    (void)state;
    const char *token;
    size_t len;
    const char *ok[] = {"Bearer abc.def.ghi"};
    assert_int_equal(token_from_authorization(ok, 1, &token, &len), NX_OK);
    assert_int_equal(len, 11);
    const char *two[] = {"Bearer a.b.c", "Bearer a.b.c"};
    assert_int_equal(token_from_authorization(two, 2, &token, &len), NX_ERR_UNAUTHORIZED);
    /* HTTP's scheme names are case-insensitive, and one or more spaces
     * separate the credentials */
    const char *lower[] = {"bearer abc"};
    assert_int_equal(token_from_authorization(lower, 1, &token, &len), NX_OK);
    assert_int_equal(len, 3);
    const char *upper[] = {"BEARER abc"};
    assert_int_equal(token_from_authorization(upper, 1, &token, &len), NX_OK);
    const char *glued[] = {"Bearerabc"};
    assert_int_equal(token_from_authorization(glued, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    const char *basic[] = {"Basic dXNlcjpwYXNz"};
    assert_int_equal(token_from_authorization(basic, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    const char *empty[] = {"Bearer "};
    assert_int_equal(token_from_authorization(empty, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    const char *spaced[] = {"Bearer  abc"};
    assert_int_equal(token_from_authorization(spaced, 1, &token, &len), NX_OK);
    assert_string_equal(token, "abc");
    /* white space after the value is not part of it; inside, it is */
    const char *trailing[] = {"Bearer abc \t"};
    assert_int_equal(token_from_authorization(trailing, 1, &token, &len), NX_OK);
    assert_int_equal(len, 3);
    const char *two_words[] = {"Bearer abc def"};
    assert_int_equal(token_from_authorization(two_words, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    const char *only_spaces[] = {"Bearer   "};
    assert_int_equal(token_from_authorization(only_spaces, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    char *big = malloc(NX_TOKEN_MAX + 16);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', NX_TOKEN_MAX + 1);
    big[7 + NX_TOKEN_MAX + 1] = '\0';
    const char *oversized[] = {big};
    assert_int_equal(token_from_authorization(oversized, 1, &token, &len), NX_ERR_UNAUTHORIZED);
    assert_int_equal(verify(big + 7), NX_ERR_UNAUTHORIZED);
    free(big);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_token_verifies_with_its_claims),
        cmocka_unit_test(test_derived_opaque_token_is_one_per_key_and_purpose),
        cmocka_unit_test(test_crafted_good_token_verifies),
        cmocka_unit_test(test_headers_other_than_ours_are_rejected),
        cmocka_unit_test(test_alg_none_without_signature_is_rejected),
        cmocka_unit_test(test_alg_none_with_signature_is_rejected),
        cmocka_unit_test(test_hs384_and_hs512_with_the_real_secret_are_rejected),
        cmocka_unit_test(test_tampered_payload_is_rejected),
        cmocka_unit_test(test_tampered_or_truncated_signature_is_rejected),
        cmocka_unit_test(test_token_signed_with_another_secret_is_rejected),
        cmocka_unit_test(test_expired_token_is_rejected),
        cmocka_unit_test(test_nbf_in_the_future_is_rejected),
        cmocka_unit_test(test_wrong_issuer_is_rejected),
        cmocka_unit_test(test_missing_or_non_integer_exp_is_rejected),
        cmocka_unit_test(test_missing_or_bad_claims_are_rejected),
        cmocka_unit_test(test_family_that_is_not_a_uuid_is_rejected),
        cmocka_unit_test(test_duplicated_claim_is_rejected),
        cmocka_unit_test(test_valid_signature_reaches_libjwt_once),
        cmocka_unit_test(test_wrong_signature_of_the_right_length_never_reaches_libjwt),
        cmocka_unit_test(test_truncated_or_extended_signature_never_reaches_libjwt),
        cmocka_unit_test(test_padded_or_non_canonical_signature_never_reaches_libjwt),
        cmocka_unit_test(test_refresh_token_is_not_an_access_token),
        cmocka_unit_test(test_opaque_token_decoder_takes_only_canonical_base64url_of_32_bytes),
        cmocka_unit_test(test_garbage_is_rejected),
        cmocka_unit_test(test_expiry_is_read_from_our_tokens_expired_or_not),
        cmocka_unit_test(test_authorization_header_rules),
    };
    return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
