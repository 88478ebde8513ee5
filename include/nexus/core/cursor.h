/*
 * cursor.h -- signed keyset pagination cursors.
 *
 * A cursor holds the position after the last row of a page (its sort
 * value and id) and is bound to the endpoint, the sort and a digest of the
 * filters it was made for. It is base64url(JSON) "." base64url(HMAC), so a
 * client can neither forge a position nor reuse a cursor with another
 * sort or filter: any of those is a 400.
 */
#ifndef NEXUS_CORE_CURSOR_H
#define NEXUS_CORE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_CURSOR_MAX             2048
#define NX_CURSOR_VALUE_MAX       1024 /* a sort value: 200 characters of 4 bytes fit */
#define NX_CURSOR_FINGERPRINT_LEN 17   /* 16 hex digits and a NUL */

struct cursor_scope {
    const char *endpoint; /* "users", "products", ... */
    const char *sort;     /* as requested: "-price" */
    const char *filters;  /* canonical filter text, "" when none */
};

struct cursor_position {
    char value[NX_CURSOR_VALUE_MAX + 1]; /* the sort value, as text */
    int64_t id;
};

/* Derive the signing key from a secret (once, at start-up). */
void cursor_init(const unsigned char *secret, size_t len);

/* A short name of the signing key (a keyed hash under it, which tells
 * nothing of the key or the secret), the same in every process given the
 * same secret: whatever stores answers that carry cursors keys them by it,
 * so that a process with another secret never serves a cursor it cannot
 * read. */
void cursor_key_fingerprint(char out[NX_CURSOR_FINGERPRINT_LEN]);

/* A cursor string for pos in scope; owned by the caller (free). */
char *cursor_encode(const struct cursor_scope *scope, const struct cursor_position *pos);

/* Check and decode; false for anything malformed, tampered or foreign. */
bool cursor_decode(const char *text, size_t len, const struct cursor_scope *scope,
                   struct cursor_position *pos);

#endif
