/*
 * idempotency.c -- SQL for idempotency keys.
 */
#include "nexus/db/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt SQL_TRY_LOCK = {"SELECT pg_try_advisory_lock($1::bigint)", 1, 0};
static struct db_stmt SQL_LOCK = {"SELECT pg_advisory_lock($1::bigint)", 1, 0};
static struct db_stmt SQL_UNLOCK = {"SELECT pg_advisory_unlock($1::bigint)", 1, 0};
static struct db_stmt SQL_FIND = {
    "SELECT fingerprint, status, content_type, headers::text, body FROM idempotency_keys"
    " WHERE scope = $1 AND path = $2 AND key = $3 AND expires_at > now() AND claim IS NULL",
    3, 0};
/* The claim, or what holds the key instead: its live answer, or another
 * live claim. No row at all: the key was taken after this statement's
 * snapshot, by a request that is running or has just answered. */
static struct db_stmt SQL_CLAIM = {
    "WITH claimed AS (INSERT INTO idempotency_keys (scope, path, key, claim, expires_at)"
    " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::integer))"
    " ON CONFLICT (scope, path, key) DO UPDATE SET claim = EXCLUDED.claim, fingerprint = NULL,"
    " status = NULL, content_type = NULL, headers = '{}', body = '', created_at = now(),"
    " expires_at = EXCLUDED.expires_at"
    " WHERE idempotency_keys.expires_at <= now() RETURNING 'claimed'::text AS held)"
    " SELECT held FROM claimed UNION ALL"
    " SELECT CASE WHEN claim IS NULL THEN 'answered' ELSE 'running' END FROM idempotency_keys"
    " WHERE scope = $1 AND path = $2 AND key = $3 AND expires_at > now()"
    " AND NOT EXISTS (SELECT 1 FROM claimed)",
    5, 0};
static struct db_stmt SQL_RELEASE = {
    "DELETE FROM idempotency_keys WHERE scope = $1 AND path = $2 AND key = $3 AND claim = $4", 4,
    0};
static struct db_stmt SQL_STORE = {
    "INSERT INTO idempotency_keys"
    " (scope, path, key, fingerprint, status, content_type, headers, body, expires_at)"
    " VALUES ($1, $2, $3, $4, $5::integer, $6, $7::jsonb, $8,"
    " now() + make_interval(secs => $9::integer))"
    " ON CONFLICT (scope, path, key) DO UPDATE SET claim = NULL,"
    " fingerprint = EXCLUDED.fingerprint,"
    " status = EXCLUDED.status, content_type = EXCLUDED.content_type,"
    " headers = EXCLUDED.headers, body = EXCLUDED.body, created_at = now(),"
    " expires_at = EXCLUDED.expires_at"
    /* Only an expired row or a claim is replaced: a live answer means the
     * lock failed. The claim is the request's own, or one a repeat took
     * when that expired, which then finds this answer. */
    " WHERE idempotency_keys.expires_at <= now() OR idempotency_keys.claim IS NOT NULL",
    9, 0};
/* Over idempotency_keys_expires_idx. */
static struct db_stmt SQL_PURGE = {
    "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
    " WHERE expires_at <= now() ORDER BY expires_at LIMIT $1::integer)",
    1, 0};

/* Run a statement of one lock key; *r owned by the caller. */
static enum nx_err exec_on_key(struct db *db, struct db_stmt *st, int64_t lock_key, PGresult **r) {
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)lock_key);
    const char *params[] = {key};
    return db_exec(db, st, params, r);
}

enum nx_err idempotency_try_lock(struct db *db, int64_t lock_key, bool *taken) {
    PGresult *r = NULL;
    enum nx_err e = exec_on_key(db, &SQL_TRY_LOCK, lock_key, &r);
    *taken = e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return e;
}

/* Run a statement of one lock key whose rows are not needed. */
static enum nx_err run_on_key(struct db *db, struct db_stmt *st, int64_t lock_key) {
    PGresult *r = NULL;
    enum nx_err e = exec_on_key(db, st, lock_key, &r);
    PQclear(r);
    return e;
}

enum nx_err idempotency_lock(struct db *db, int64_t lock_key) {
    return run_on_key(db, &SQL_LOCK, lock_key);
}

enum nx_err idempotency_unlock(struct db *db, int64_t lock_key) {
    return run_on_key(db, &SQL_UNLOCK, lock_key);
}

enum nx_err idempotency_find(struct db *db, const char *scope, const char *path, const char *key,
                             PGresult **out) {
    const char *params[] = {scope, path, key};
    return db_exec(db, &SQL_FIND, params, out);
}

enum nx_err idempotency_claim(struct db *db, const char *scope, const char *path, const char *key,
                              const char *claim, int ttl_seconds, enum idem_holder *holder) {
    char ttl[16];
    PGresult *r = NULL;
    snprintf(ttl, sizeof ttl, "%d", ttl_seconds);
    const char *params[] = {scope, path, key, claim, ttl};
    enum nx_err e = db_exec(db, &SQL_CLAIM, params, &r);
    const char *held = e == NX_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "running";
    *holder = strcmp(held, "claimed") == 0    ? IDEM_CLAIMED
              : strcmp(held, "answered") == 0 ? IDEM_ANSWERED
                                              : IDEM_RUNNING;
    PQclear(r);
    return e;
}

enum nx_err idempotency_release(struct db *db, const char *scope, const char *path, const char *key,
                                const char *claim) {
    PGresult *r = NULL;
    const char *params[] = {scope, path, key, claim};
    enum nx_err e = db_exec(db, &SQL_RELEASE, params, &r);
    PQclear(r);
    return e;
}

enum nx_err idempotency_store(struct db *db, const struct idem_record *rec) {
    char status[16], ttl[16];
    PGresult *r = NULL;
    snprintf(status, sizeof status, "%u", rec->status);
    snprintf(ttl, sizeof ttl, "%d", rec->ttl_seconds);
    const char *params[] = {rec->scope,       rec->path, rec->key,
                            rec->fingerprint, status,    rec->content_type,
                            rec->headers,     rec->body, ttl};
    enum nx_err e = db_exec(db, &SQL_STORE, params, &r);
    /* No row written: a live row exists although we hold the key's lock,
     * which only a broken invariant (or a lock-key collision) explains. */
    if (e == NX_OK && strcmp(PQcmdTuples(r), "1") != 0)
        e = NX_ERR_CONFLICT;
    PQclear(r);
    return e;
}

enum nx_err idempotency_purge(struct db *db, int batch, int *purged) {
    char limit[16];
    PGresult *r = NULL;
    snprintf(limit, sizeof limit, "%d", batch);
    const char *params[] = {limit};
    enum nx_err e = db_exec(db, &SQL_PURGE, params, &r);
    *purged = e == NX_OK ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}
