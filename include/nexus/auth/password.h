/*
 * password.h -- argon2id password hashing (libsodium), bounded.
 *
 * Each hash takes 64 MiB and about a tenth of a second, so at most
 * HASH_CONCURRENCY run at once; a caller that cannot get a slot within a
 * short wait gets NX_ERR_UNAVAILABLE (503 with Retry-After) rather than
 * piling up memory. Unknown users are verified against a dummy hash so a
 * wrong email costs what a wrong password costs.
 */
#ifndef NEXUS_AUTH_PASSWORD_H
#define NEXUS_AUTH_PASSWORD_H

#include "nexus/core/err.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* Set up the semaphore and the dummy hash. Call once, before threads. */
bool password_init(int concurrency);
void password_shutdown(void);

/* Hash a password into out. */
enum nx_err password_hash(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]);

/* Verify password against hash (NULL: the dummy hash, and *ok is false).
 * *needs_rehash says whether the stored hash uses outdated parameters. */
enum nx_err password_verify(const char *hash, const char *password, size_t len, bool *ok,
                            bool *needs_rehash);

/* argon2id runs (hashes and verifications) since start, for /metrics. */
uint64_t password_runs(void);

#endif
