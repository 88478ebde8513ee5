/*
 * token.c -- the JWT wrapper and refresh token helpers.
 */
#include "nexus/auth/token.h"

#include "nexus/core/log.h"
#include "nexus/core/parse.h"

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Clock skew tolerated for iat and nbf (the issuer's clock may run ahead). */
#define CLOCK_SKEW 60

enum nx_err token_issue_access(const struct token_keys *k, int64_t user_id, const char *role,
                               const char *family, time_t now, int ttl, char **out) {
    NX_ASSERT(k->secret_len >= 32);
    jwt_t *jwt = NULL;
    enum nx_err e = NX_ERR_INTERNAL;
    unsigned char raw[16];
    char jti[33], sub[24];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(jti, sizeof jti, raw, sizeof raw);
    snprintf(sub, sizeof sub, "%lld", (long long)user_id);
    *out = NULL;
    if (jwt_new(&jwt) != 0)
        goto out;
    if (jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "role", role) ||
        jwt_add_grant(jwt, "iss", k->issuer) || jwt_add_grant(jwt, "jti", jti) ||
        jwt_add_grant(jwt, "fam", family) || jwt_add_grant(jwt, "token_use", "access") ||
        jwt_add_grant_int(jwt, "iat", (long)now) ||
        jwt_add_grant_int(jwt, "exp", (long)(now + ttl)))
        goto out;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, k->secret, (int)k->secret_len) != 0)
        goto out;
    *out = jwt_encode_str(jwt);
    e = *out ? NX_OK : NX_ERR_INTERNAL;
out:
    jwt_free(jwt);
    return e;
}

static bool claim_string(json_t *claims, const char *name, const char **out) {
    *out = json_string_value(json_object_get(claims, name));
    return *out != NULL && (*out)[0] != '\0';
}

/* A numeric date claim: a JSON integer, nothing else. */
static bool claim_time(json_t *claims, const char *name, bool required, int64_t *out) {
    json_t *v = json_object_get(claims, name);
    if (!v)
        return !required;
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool check_times(json_t *claims, time_t now) {
    int64_t exp = 0, nbf = 0, iat = 0;
    if (!claim_time(claims, "exp", true, &exp) || exp <= (int64_t)now)
        return false;
    if (!claim_time(claims, "nbf", false, &nbf) || nbf > (int64_t)now + CLOCK_SKEW)
        return false;
    return claim_time(claims, "iat", false, &iat) && iat <= (int64_t)now + CLOCK_SKEW;
}

/* A login id as the server writes it: a UUID in PostgreSQL's text form,
 * 8-4-4-4-12 lower-case hex digits. Any other text is no login of ours,
 * and must not reach the database's uuid cast (whose error is a 422). */
static bool is_family_id(const char *s) {
    if (strlen(s) != NX_FAMILY_LEN)
        return false;
    for (size_t i = 0; i < NX_FAMILY_LEN; i++) {
        bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
        if (dash_here ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

static bool check_claims(const struct token_keys *k, json_t *claims, time_t now,
                         struct access_claims *out) {
    const char *iss, *sub, *jti, *role, *fam, *use;
    if (!check_times(claims, now) || !claim_string(claims, "iss", &iss) ||
        strcmp(iss, k->issuer) != 0 || !claim_string(claims, "sub", &sub) ||
        !claim_string(claims, "jti", &jti) || !claim_string(claims, "role", &role) ||
        !claim_string(claims, "fam", &fam) || !claim_string(claims, "token_use", &use) ||
        strcmp(use, "access") != 0)
        return false;
    if (!parse_id(sub, strlen(sub), &out->user_id))
        return false;
    if (!is_family_id(fam) || strlen(role) >= sizeof out->role)
        return false;
    memcpy(out->family, fam, NX_FAMILY_LEN + 1);
    memcpy(out->role, role, strlen(role) + 1);
    out->exp = (int64_t)json_integer_value(json_object_get(claims, "exp"));
    return true;
}

/*
 * libjwt 1.10 compares the signature it computes with the one presented by
 * strcmp, whose running time tells how many leading characters match. So
 * the HMAC-SHA256 of "header.payload" is checked here first, in constant
 * time, and libjwt only ever sees tokens whose signature is right. The
 * signature must be exactly what we issue: the 43 characters of canonical
 * base64url without padding (libsodium refuses any other spelling).
 */
static bool hs256_signature_ok(const struct token_keys *k, const char *token, size_t len) {
    enum { SIG_B64_LEN = 43 };
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || len - (size_t)(dot2 + 1 - token) != SIG_B64_LEN)
        return false;
    unsigned char given[crypto_auth_hmacsha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
    size_t given_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(given, sizeof given, dot2 + 1, SIG_B64_LEN, NULL, &given_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        given_len != sizeof given || end != token + len)
        return false;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->secret, k->secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (size_t)(dot2 - token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    return sodium_memcmp(mac, given, sizeof mac) == 0;
}

/* A base64url segment of a token (at most max bytes decoded), parsed as
 * JSON refusing duplicate keys: a token we issue never repeats
 * a member, and jansson's default (which libjwt uses) keeps the last. */
static json_t *segment_json(const char *start, size_t len, size_t max) {
    unsigned char raw[NX_TOKEN_MAX];
    size_t raw_len = 0;
    if (sodium_base642bin(raw, max < sizeof raw ? max : sizeof raw, start, len, NULL, &raw_len,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return NULL;
    return json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
}

/* The JOSE header must be one we issue: "alg" exactly "HS256" (libjwt
 * reads the name ignoring case, RFC 7515 does not), "typ", if any, "JWT",
 * and nothing else: a "crit" extension must be understood to be accepted
 * (RFC 7515 4.1.11), and this server understands none. */
static bool header_is_ours(const char *token, size_t len) {
    enum { HEADER_MAX = 256 };
    const char *dot = memchr(token, '.', len);
    if (!dot)
        return false;
    json_t *h = segment_json(token, (size_t)(dot - token), HEADER_MAX);
    const char *key;
    json_t *v;
    bool ok = json_is_object(h);
    json_object_foreach(h, key, v) {
        if (strcmp(key, "alg") == 0)
            ok = ok && json_is_string(v) && strcmp(json_string_value(v), "HS256") == 0;
        else if (strcmp(key, "typ") == 0)
            ok = ok && json_is_string(v) && strcmp(json_string_value(v), "JWT") == 0;
        else
            ok = false;
    }
    ok = ok && json_object_get(h, "alg");
    json_decref(h);
    return ok;
}

/* The payload of a token: the segment between its two dots. */
static json_t *payload_json(const char *token, size_t len) {
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2)
        return NULL;
    return segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), NX_TOKEN_MAX);
}

/* A token of our size and header whose HS256 signature under k is right. */
static bool signed_as_ours(const struct token_keys *k, const char *token, size_t len) {
    return len > 0 && len <= NX_TOKEN_MAX && !memchr(token, '\0', len) &&
           hs256_signature_ok(k, token, len) && header_is_ours(token, len);
}

enum nx_err token_verify_access(const struct token_keys *k, const char *token, size_t len,
                                time_t now, struct access_claims *claims) {
    NX_ASSERT(k->secret && k->secret_len >= 32); /* never decode without a key */
    jwt_t *jwt = NULL;
    json_t *parsed = NULL;
    enum nx_err e = NX_ERR_UNAUTHORIZED;
    char copy[NX_TOKEN_MAX + 1];
    if (!signed_as_ours(k, token, len))
        goto out;
    memcpy(copy, token, len);
    copy[len] = '\0';
    if (jwt_decode(&jwt, copy, k->secret, (int)k->secret_len) != 0 || !jwt)
        goto out;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto out;
    /* The claims are read from the payload as sent, not from libjwt's
     * copy: libjwt parses it keeping the last of duplicate members. */
    parsed = payload_json(copy, len);
    if (json_is_object(parsed) && check_claims(k, parsed, now, claims))
        e = NX_OK;
out:
    json_decref(parsed);
    jwt_free(jwt);
    return e;
}

bool token_access_expiry(const struct token_keys *k, const char *token, size_t len, int64_t *exp) {
    if (!signed_as_ours(k, token, len))
        return false;
    json_t *claims = payload_json(token, len);
    bool ok = json_is_object(claims) && claim_time(claims, "exp", true, exp);
    json_decref(claims);
    return ok;
}

static bool is_token_char(char c) {
    return c > 0x20 && c < 0x7f;
}

const char *token_bearer_credentials(const char *value) {
    static const char scheme[] = "Bearer";
    if (!value || strncasecmp(value, scheme, sizeof scheme - 1) != 0 ||
        value[sizeof scheme - 1] != ' ')
        return NULL;
    value += sizeof scheme - 1;
    while (*value == ' ')
        value++;
    return value;
}

enum nx_err token_from_authorization(const char *const *values, size_t count, const char **token,
                                     size_t *len) {
    const char *t = count == 1 ? token_bearer_credentials(values[0]) : NULL;
    if (!t)
        return NX_ERR_UNAUTHORIZED;
    size_t n = 0;
    while (t[n] && n <= NX_TOKEN_MAX && is_token_char(t[n]))
        n++;
    /* white space after a field's value is not part of it (RFC 9110 5.5) */
    size_t end = n;
    while (t[end] == ' ' || t[end] == '\t')
        end++;
    if (n == 0 || n > NX_TOKEN_MAX || t[end] != '\0')
        return NX_ERR_UNAUTHORIZED;
    *token = t;
    *len = n;
    return NX_OK;
}

void token_hash_param(const unsigned char hash[NX_TOKEN_HASH_LEN],
                      char out[NX_TOKEN_HASH_PARAM_LEN]) {
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, NX_TOKEN_HASH_PARAM_LEN - 2, hash, NX_TOKEN_HASH_LEN);
}

/* The token of 32 bytes raw (which is then wiped) and its SHA-256. */
static void opaque_from(unsigned char raw[32], char out[NX_OPAQUE_TOKEN_LEN + 1],
                        unsigned char hash[NX_TOKEN_HASH_LEN]) {
    sodium_bin2base64(out, NX_OPAQUE_TOKEN_LEN + 1, raw, 32,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(hash, (const unsigned char *)out, NX_OPAQUE_TOKEN_LEN);
    sodium_memzero(raw, 32);
}

void token_new_opaque(char out[NX_OPAQUE_TOKEN_LEN + 1], unsigned char hash[NX_TOKEN_HASH_LEN]) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    opaque_from(raw, out, hash);
}

void token_derive_opaque(const unsigned char *key, size_t key_len, const char *purpose,
                         char out[NX_OPAQUE_TOKEN_LEN + 1], unsigned char hash[NX_TOKEN_HASH_LEN]) {
    static const unsigned char context[crypto_generichash_KEYBYTES] = "nexus opaque token";
    unsigned char subkey[crypto_auth_hmacsha256_KEYBYTES], raw[crypto_auth_hmacsha256_BYTES];
    crypto_generichash(subkey, sizeof subkey, key, key_len, context, sizeof context);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, subkey, sizeof subkey);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)purpose, strlen(purpose));
    crypto_auth_hmacsha256_final(&st, raw);
    sodium_memzero(subkey, sizeof subkey);
    sodium_memzero(&st, sizeof st);
    opaque_from(raw, out, hash);
}

bool token_hash_opaque(const char *token, size_t len, unsigned char hash[NX_TOKEN_HASH_LEN]) {
    unsigned char raw[32];
    size_t got = 0;
    const char *end = NULL;
    if (len != NX_OPAQUE_TOKEN_LEN)
        return false;
    /* libsodium 1.0.18 decodes some bytes over 0x7f as if they were
     * base64 characters: only the URL-safe alphabet itself is let in. */
    for (size_t i = 0; i < len; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    /* libsodium rejects non-zero unused bits in the last character, so
     * only the one spelling of each 32 bytes passes. */
    bool ok = sodium_base642bin(raw, sizeof raw, token, len, NULL, &got, &end,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
              got == sizeof raw && end == token + len;
    sodium_memzero(raw, sizeof raw);
    if (ok)
        crypto_hash_sha256(hash, (const unsigned char *)token, len);
    return ok;
}
