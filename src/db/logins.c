/*
 * logins.c -- SQL for logins and refresh tokens.
 */
#include "nexus/db/logins.h"

#define LOGIN_COLUMNS(current)                                                                     \
    "l.number, " NX_SQL_TIMESTAMP("l.created_at") ", " NX_SQL_TIMESTAMP(                           \
        "l.last_used_at") ", l.user_agent, " current

static struct db_stmt SQL_CREATE = {
    "INSERT INTO logins (user_id, user_agent) VALUES ($1, $2) RETURNING id", 2, 0};
static struct db_stmt SQL_TOUCH = {
    "UPDATE logins SET last_used_at = now(), user_agent = $2 WHERE id = $1::uuid", 2, 0};
/* Live: not ended, and its newest refresh token can still be used. */
static struct db_stmt SQL_LIST = {
    "SELECT " LOGIN_COLUMNS(
        "l.id = $2::uuid") " FROM logins l"
                           " WHERE l.user_id = $1 AND l.revoked_at IS NULL AND EXISTS (SELECT 1 "
                           "FROM refresh_tokens t"
                           " WHERE t.login_id = l.id AND t.used_at IS NULL AND t.revoked_at IS NULL"
                           " AND t.expires_at > now())"
                           " ORDER BY l.last_used_at DESC, l.number DESC LIMIT $3",
    3, 0};
static struct db_stmt SQL_FIND = {
    "SELECT l.id FROM logins l WHERE l.number = $1 AND l.user_id = $2 AND l.revoked_at IS NULL"
    " AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.login_id = l.id AND t.used_at IS NULL"
    " AND t.revoked_at IS NULL AND t.expires_at > now())",
    2, 0};
static struct db_stmt SQL_STORE = {
    "INSERT INTO refresh_tokens (token_hash, login_id, user_id, expires_at)"
    " VALUES ($1::bytea, $2::uuid, $3, now() + make_interval(secs => $4::int))",
    4, 0};
/* The login of a token, its row locked as an UPDATE of the row would lock it:
 * the token's row is not locked here (see refresh_lock). */
static struct db_stmt SQL_LOCK_LOGIN = {
    "SELECT l.id FROM refresh_tokens t JOIN logins l ON l.id = t.login_id"
    " WHERE t.token_hash = $1::bytea FOR NO KEY UPDATE OF l",
    1, 0};
static struct db_stmt SQL_LOCK = {
    "SELECT t.login_id, t.user_id,"
    " CASE WHEN t.revoked_at IS NOT NULL OR l.revoked_at IS NOT NULL OR NOT u.is_active"
    " THEN 'revoked' WHEN t.used_at IS NOT NULL THEN 'used'"
    " WHEN t.expires_at <= now() THEN 'expired' ELSE 'live' END, u.role"
    " FROM refresh_tokens t JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = $1::bytea AND t.login_id = $2::uuid FOR UPDATE OF t",
    2, 0};
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

/* Refresh tokens that expired longer ago than $1 seconds: past its expiry
 * a token is refused whether or not its row is kept. */
static struct db_stmt SQL_PURGE_TOKENS = {
    "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens"
    " WHERE expires_at < now() - make_interval(secs => $1::integer)"
    " ORDER BY expires_at LIMIT $2::integer)",
    2, 0};
/* Logins revoked longer ago than $1 seconds (their tokens go with them). */
static struct db_stmt SQL_PURGE_REVOKED = {
    "DELETE FROM logins WHERE id IN (SELECT id FROM logins"
    " WHERE revoked_at < now() - make_interval(secs => $1::integer)"
    " ORDER BY revoked_at LIMIT $2::integer)",
    2, 0};
/* Logins last used longer ago than $1 seconds that hold no live refresh
 * token (one issued under a longer REFRESH_TOKEN_TTL may still live). */
static struct db_stmt SQL_PURGE_IDLE = {
    "DELETE FROM logins WHERE id IN (SELECT l.id FROM logins l WHERE l.revoked_at IS NULL"
    " AND l.last_used_at < now() - make_interval(secs => $1::integer)"
    " AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.login_id = l.id"
    " AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now())"
    " ORDER BY l.last_used_at LIMIT $2::integer)",
    2, 0};

enum nx_err logins_create(struct db *db, const char *user_id, const char *user_agent,
                          PGresult **out) {
    const char *params[] = {user_id, user_agent};
    return db_exec(db, &SQL_CREATE, params, out);
}

enum nx_err logins_touch(struct db *db, const char *login_id, const char *user_agent) {
    const char *params[] = {login_id, user_agent};
    return db_exec(db, &SQL_TOUCH, params, NULL);
}

enum nx_err logins_list(struct db *db, const char *user_id, const char *current, const char *limit,
                        PGresult **out) {
    const char *params[] = {user_id, current, limit};
    return db_exec(db, &SQL_LIST, params, out);
}

enum nx_err logins_find(struct db *db, const char *number, const char *user_id, PGresult **out) {
    const char *params[] = {number, user_id};
    return db_exec(db, &SQL_FIND, params, out);
}

enum nx_err refresh_store(struct db *db, const char *hash_hex, const char *login_id,
                          const char *user_id, const char *ttl_seconds) {
    const char *params[] = {hash_hex, login_id, user_id, ttl_seconds};
    return db_exec(db, &SQL_STORE, params, NULL);
}

/* The login's row before the token's, in the order every statement that
 * ends a login updates them: the other order deadlocked with those. */
enum nx_err refresh_lock(struct db *db, const char *hash_hex, PGresult **out) {
    const char *params[] = {hash_hex, NULL};
    PGresult *login = NULL;
    enum nx_err e = db_exec(db, &SQL_LOCK_LOGIN, params, &login);
    if (e != NX_OK || PQntuples(login) != 1) {
        *out = login; /* zero rows: an unknown token */
        return e;
    }
    params[1] = PQgetvalue(login, 0, 0);
    e = db_exec(db, &SQL_LOCK, params, out);
    PQclear(login);
    return e;
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

enum nx_err refresh_purge(struct db *db, int expired_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE_TOKENS, expired_seconds, batch, purged);
}

enum nx_err logins_purge_revoked(struct db *db, int revoked_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE_REVOKED, revoked_seconds, batch, purged);
}

enum nx_err logins_purge_idle(struct db *db, int idle_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE_IDLE, idle_seconds, batch, purged);
}
