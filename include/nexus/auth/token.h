/*
 * token.h -- access tokens (HS256 JWTs) and opaque refresh tokens.
 *
 * This module is the only caller of jwt_decode. libjwt 1.10 accepts tokens
 * it should not (no key: no signature check; HS384/HS512 with our key),
 * compares signatures in variable time, and checks no claim at all. So
 * before decoding we verify the HS256 signature ourselves in constant time,
 * and after decoding we pin the algorithm and check every claim ourselves,
 * typed through jansson, from the payload as sent (libjwt's parse keeps the
 * last of duplicate members; a token with any is refused).
 *
 * Refresh tokens are not JWTs: they are opaque tokens, 256 bits from
 * libsodium's generator (randombytes_buf) as unpadded URL-safe base64
 * (43 characters), stored only as their SHA-256. So a refresh token can
 * never pass as an access token, and the database never holds a usable
 * token. The one-time tokens of reset and verification links are opaque
 * tokens too.
 */
#ifndef NEXUS_AUTH_TOKEN_H
#define NEXUS_AUTH_TOKEN_H

#include "nexus/core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NX_TOKEN_MAX        4096 /* longest bearer token accepted */
#define NX_FAMILY_LEN       36   /* a login (token family) id: a UUID */
#define NX_OPAQUE_TOKEN_LEN 43
#define NX_TOKEN_HASH_LEN   32

struct token_keys {
    const unsigned char *secret; /* at least 32 bytes */
    size_t secret_len;
    const char *issuer;
};

struct access_claims {
    int64_t user_id;
    char role[16];
    char family[NX_FAMILY_LEN + 1];
    int64_t exp;
};

/* Issue an access token; *out is owned by the caller (free). */
enum nx_err token_issue_access(const struct token_keys *k, int64_t user_id, const char *role,
                               const char *family, time_t now, int ttl, char **out);

/* Verify an access token at time now. NX_OK with claims filled, or
 * NX_ERR_UNAUTHORIZED for anything wrong with it. */
enum nx_err token_verify_access(const struct token_keys *k, const char *token, size_t len,
                                time_t now, struct access_claims *claims);

/* The exp claim of an access token signed with k as this server signs
 * them (its signature and header checked, its times not: it may have
 * expired). False for any other token. */
bool token_access_expiry(const struct token_keys *k, const char *token, size_t len, int64_t *exp);

/* The credentials of an Authorization value of the scheme "Bearer" (any
 * case: HTTP's scheme names are case-insensitive) and one or more spaces,
 * or NULL for any other. */
const char *token_bearer_credentials(const char *value);

/* Pick the bearer token out of the Authorization header values. Exactly one
 * header, the scheme "Bearer" as above, and a token of 1 to NX_TOKEN_MAX
 * visible ASCII characters. */
enum nx_err token_from_authorization(const char *const *values, size_t count, const char **token,
                                     size_t *len);

/* Bytes of a token hash as PostgreSQL bytea hex text ("\\x" + 64 hex
 * digits + NUL), the form the db layer takes. */
#define NX_TOKEN_HASH_PARAM_LEN (2 * NX_TOKEN_HASH_LEN + 3)
void token_hash_param(const unsigned char hash[NX_TOKEN_HASH_LEN],
                      char out[NX_TOKEN_HASH_PARAM_LEN]);

/* A fresh opaque token (NUL-terminated) and its SHA-256. */
void token_new_opaque(char out[NX_OPAQUE_TOKEN_LEN + 1], unsigned char hash[NX_TOKEN_HASH_LEN]);

/* The opaque token (and its SHA-256) that key makes for purpose: the
 * same each time for one key and purpose, and as unguessable as a fresh
 * one without the key (an HMAC-SHA256 under a subkey of key). */
void token_derive_opaque(const unsigned char *key, size_t key_len, const char *purpose,
                         char out[NX_OPAQUE_TOKEN_LEN + 1], unsigned char hash[NX_TOKEN_HASH_LEN]);

/* SHA-256 of a presented opaque token; false if it cannot be one we made:
 * not exactly NX_OPAQUE_TOKEN_LEN characters, or not the canonical
 * unpadded URL-safe base64 of 32 bytes (a truncated or altered token,
 * padding, white space, characters of the other alphabet). */
bool token_hash_opaque(const char *token, size_t len, unsigned char hash[NX_TOKEN_HASH_LEN]);

#endif
