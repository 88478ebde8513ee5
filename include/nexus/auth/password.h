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

/* Hash a password on this thread, deferral or not: for the upgrade of a
 * stale hash after a login has passed (rare: only after the costs change),
 * which must not run the login again. */
enum nx_err password_hash_here(const char *password, size_t len, char out[NX_PASSWORD_HASH_MAX]);

/* Verify password against hash (NULL: the dummy hash, and *ok is false).
 * *needs_rehash says whether the stored hash uses outdated parameters. */
enum nx_err password_verify(const char *hash, const char *password, size_t len, bool *ok,
                            bool *needs_rehash);

/* argon2id runs (hashes and verifications) since start, for /metrics. */
uint64_t password_runs(void);

/*
 * Deferred hashing. A hash takes a core for a tenth of a second, and a
 * server thread serves many connections: it must not compute one itself.
 * While a thread runs a request with password_defer_begin, a hash or a
 * verification that the request's memo does not hold yet is not computed:
 * it is recorded as the request's pending job and the call returns
 * NX_ERR_UNAVAILABLE, so the handler unwinds as for a 503 (nothing
 * written, counters given back). The server then runs the job elsewhere
 * (password_job_run), adds it to the memo (password_memo_add) and runs the
 * request again from the start: this time the call returns the result.
 */
struct password_job;

/* A request's finished jobs, in the order they ran. */
struct password_memo {
    struct password_job *done;
};

/* From now until password_defer_end, this thread's hashes defer to memo. */
void password_defer_begin(struct password_memo *memo);
/* End the deferral; the job recorded meanwhile (the caller owns it), or
 * NULL when every hash found its result in the memo. */
struct password_job *password_defer_end(void);
/* Whether this thread's request has recorded a job (its body's secrets
 * are still needed for the run that follows). */
bool password_deferred(void);

/* Compute the job (with a hash slot, as password_hash does). */
void password_job_run(struct password_job *job);
/* Make the job's result a refusal: the server is stopping and will not
 * compute it (the request's answer is a 503). */
void password_job_refuse(struct password_job *job);
bool password_job_refused(const struct password_job *job);
void password_memo_add(struct password_memo *memo, struct password_job *job);
void password_job_free(struct password_job *job);
/* Free the memo's jobs, their secrets wiped. */
void password_memo_clear(struct password_memo *memo);

#endif
