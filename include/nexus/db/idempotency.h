/*
 * idempotency.h -- the SQL of the idempotency_keys table.
 *
 * A row is the answer to the first POST made with an Idempotency-Key,
 * scoped to (scope, path, key): scope names the caller ("user:<id>" or
 * "client:<address>"); or, until that answer is known, a claim of the key
 * by the request that will give it (idempotency_claim). Rows are written in the transaction of the
 * change they answer for, and are live until expires_at; the worker deletes the expired ones
 * (idempotency_purge).
 */
#ifndef NEXUS_DB_IDEMPOTENCY_H
#define NEXUS_DB_IDEMPOTENCY_H

#include "nexus/db/db.h"

#include <stdint.h>

/* Columns of idempotency_find's row. */
enum idem_col { IC_FINGERPRINT, IC_STATUS, IC_CONTENT_TYPE, IC_HEADERS, IC_BODY };

/* Take the session lock named by lock_key without waiting; *taken false
 * when another session holds it. A session lock outlives a rollback, so
 * a request that is refused can keep its refusal before a repeat may run;
 * it is held until idempotency_unlock (or the connection ends). */
enum nx_err idempotency_try_lock(struct db *db, int64_t lock_key, bool *taken);

/* Take the same lock, waiting (within the statement timeout) while another
 * session holds it: only for a holder known to let go at once. */
enum nx_err idempotency_lock(struct db *db, int64_t lock_key);

/* Release what idempotency_try_lock or idempotency_lock took (nothing when the connection
 * was renewed since); an error when the statement failed. */
enum nx_err idempotency_unlock(struct db *db, int64_t lock_key);

/* The live (not expired) answer for (scope, path, key): zero or one row with
 * the columns of enum idem_col (content_type may be NULL, headers is a
 * JSON object). *out owned by the caller. */
enum nx_err idempotency_find(struct db *db, const char *scope, const char *path, const char *key,
                             PGresult **out);

/* Who holds a key when a request claims it (idempotency_claim). */
enum idem_holder {
    IDEM_CLAIMED,  /* the claiming request: no live row was there */
    IDEM_ANSWERED, /* a request that ran: its answer is kept */
    IDEM_RUNNING,  /* another request, still running */
};

/* Claim (scope, path, key) for a request whose answer is not yet known,
 * as a row with the token claim (32 hex digits) and no answer, live
 * ttl_seconds: taken only when no live row is there (*holder then
 * IDEM_CLAIMED). The answer, stored under the key's lock, replaces it;
 * idempotency_release deletes it. */
enum nx_err idempotency_claim(struct db *db, const char *scope, const char *path, const char *key,
                              const char *claim, int ttl_seconds, enum idem_holder *holder);

/* Delete the claim of token claim on (scope, path, key), if it is still
 * a claim (no answer replaced it). */
enum nx_err idempotency_release(struct db *db, const char *scope, const char *path, const char *key,
                                const char *claim);

/* What is kept of an answer. */
struct idem_record {
    const char *scope, *path, *key;
    const char *fingerprint;  /* 64 hex digits */
    unsigned status;          /* 2xx */
    const char *content_type; /* NULL for no body */
    const char *headers;      /* a JSON object text */
    const char *body;         /* NUL-terminated text ("" for none) */
    int ttl_seconds;
};

/* Store rec, replacing an expired row or a claim of the same key. */
enum nx_err idempotency_store(struct db *db, const struct idem_record *rec);

/* Delete up to batch expired rows, oldest first; *purged: how many. */
enum nx_err idempotency_purge(struct db *db, int batch, int *purged);

#endif
