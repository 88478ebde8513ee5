/*
 * logins.c -- SQL for logins and refresh tokens.
 */
#include "nexus/db/logins.h"

static struct db_stmt SQL_CREATE = {"INSERT INTO logins (user_id) VALUES ($1) RETURNING id", 1, 0};
static struct db_stmt SQL_STORE = {
    "INSERT INTO refresh_tokens (token_hash, login_id, user_id, expires_at)"
    " VALUES ($1::bytea, $2::uuid, $3, now() + make_interval(secs => $4::int))",
    4, 0};
static struct db_stmt SQL_LOCK = {
    "SELECT t.login_id, t.user_id,"
    " CASE WHEN t.revoked_at IS NOT NULL OR l.revoked_at IS NOT NULL OR NOT u.is_active"
    " THEN 'revoked' WHEN t.used_at IS NOT NULL THEN 'used'"
    " WHEN t.expires_at <= now() THEN 'expired' ELSE 'live' END, u.role"
    " FROM refresh_tokens t JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = $1::bytea FOR UPDATE OF t",
    1, 0};
static struct db_stmt SQL_MARK_USED = {
    "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1::bytea", 1, 0};
static struct db_stmt SQL_REVOKE_LOGIN = {
    "WITH t AS (UPDATE refresh_tokens SET revoked_at = now()"
    " WHERE login_id = $1::uuid AND revoked_at IS NULL)"
    " UPDATE logins SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL",
    1, 0};
static struct db_stmt SQL_REVOKE_OTHERS = {
    "WITH l AS (UPDATE logins SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
    " AND id IS DISTINCT FROM $2::uuid RETURNING id)"
    " UPDATE refresh_tokens SET revoked_at = now() WHERE login_id IN (SELECT id FROM l)"
    " AND revoked_at IS NULL",
    2, 0};

enum nx_err logins_create(struct db *db, const char *user_id, PGresult **out) {
    const char *params[] = {user_id};
    return db_exec(db, &SQL_CREATE, params, out);
}

enum nx_err refresh_store(struct db *db, const char *hash_hex, const char *login_id,
                          const char *user_id, const char *ttl_seconds) {
    const char *params[] = {hash_hex, login_id, user_id, ttl_seconds};
    return db_exec(db, &SQL_STORE, params, NULL);
}

enum nx_err refresh_lock(struct db *db, const char *hash_hex, PGresult **out) {
    const char *params[] = {hash_hex};
    return db_exec(db, &SQL_LOCK, params, out);
}

enum nx_err refresh_mark_used(struct db *db, const char *hash_hex) {
    const char *params[] = {hash_hex};
    return db_exec(db, &SQL_MARK_USED, params, NULL);
}

enum nx_err logins_revoke(struct db *db, const char *login_id) {
    const char *params[] = {login_id};
    return db_exec(db, &SQL_REVOKE_LOGIN, params, NULL);
}

enum nx_err logins_revoke_others(struct db *db, const char *user_id, const char *keep) {
    const char *params[] = {user_id, keep};
    return db_exec(db, &SQL_REVOKE_OTHERS, params, NULL);
}
