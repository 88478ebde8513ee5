/*
 * account_tokens.c -- SQL for the one-time tokens of account emails.
 */
#include "nexus/db/account_tokens.h"

#include <stdio.h>

/* A token issued again (the same job's next attempt, or a retry of the
 * job long after) replaces nothing and is left as it is when used,
 * replaced or withdrawn; else it works for ttl from now again, as the
 * message sent with it says, even when it had expired meanwhile. A token
 * issued first is of the request that queued its job at $5 (µs since the
 * epoch), whenever the job runs: it replaces the user's open tokens of its
 * kind requested before, and is stored replaced already when a token of a
 * later request exists (the jobs ran in the other order, or an old job was
 * retried after its token was purged). A reset token of a request made
 * before the user's reset links were last withdrawn is stored withdrawn
 * already: its row may have been purged since, and the withdrawal is to
 * outlive it. */
static struct db_stmt SQL_ISSUE = {
    "WITH issued AS (SELECT 1 FROM account_tokens WHERE token_hash = $3::bytea),"
    " asked AS (SELECT to_timestamp(0) + $5::bigint * interval '1 microsecond' AS at),"
    " later AS (SELECT 1 FROM account_tokens, asked WHERE user_id = $1 AND kind = $2"
    " AND requested_at > asked.at),"
    " withdrawn AS (SELECT 1 FROM users, asked WHERE id = $1 AND $2 = '" NX_TOKEN_KIND_RESET "'"
    " AND reset_links_withdrawn_at > asked.at),"
    " old AS (UPDATE account_tokens SET replaced_at = now() FROM asked WHERE user_id = $1"
    " AND kind = $2 AND used_at IS NULL AND replaced_at IS NULL AND requested_at < asked.at"
    " AND NOT EXISTS (SELECT FROM issued)),"
    " again AS (UPDATE account_tokens SET expires_at = now() + make_interval(secs => $4::int)"
    " WHERE token_hash = $3::bytea AND used_at IS NULL AND replaced_at IS NULL"
    " AND withdrawn_at IS NULL)"
    " INSERT INTO account_tokens (token_hash, kind, user_id, requested_at, expires_at,"
    " replaced_at, withdrawn_at)"
    " SELECT $3::bytea, $2, $1, asked.at,"
    " CASE WHEN EXISTS (SELECT FROM withdrawn) THEN now()"
    " ELSE now() + make_interval(secs => $4::int) END,"
    " CASE WHEN EXISTS (SELECT FROM later) THEN now() END,"
    " CASE WHEN EXISTS (SELECT FROM withdrawn) THEN now() END"
    " FROM asked WHERE NOT EXISTS (SELECT FROM issued)",
    5, 0};
static struct db_stmt SQL_LOCK = {
    "SELECT t.kind, t.user_id,"
    " CASE WHEN t.used_at IS NOT NULL THEN 'used' WHEN t.replaced_at IS NOT NULL THEN 'replaced'"
    " WHEN t.expires_at <= now() THEN 'expired' WHEN NOT u.is_active THEN 'inactive'"
    " ELSE 'live' END, u.email"
    " FROM account_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = $1::bytea FOR UPDATE OF t",
    1, 0};
static struct db_stmt SQL_USE = {
    "WITH t AS (UPDATE account_tokens SET used_at = now() WHERE token_hash = $1::bytea"
    " RETURNING user_id, kind)"
    " UPDATE account_tokens a SET replaced_at = now() FROM t WHERE a.user_id = t.user_id"
    " AND a.kind = t.kind AND a.token_hash <> $1::bytea AND a.used_at IS NULL"
    " AND a.replaced_at IS NULL",
    1, 0};
/* Withdrawn tokens expire now (the link is refused as expired) and stay
 * so: those that expired already are withdrawn too, so that no retried
 * job makes one work again. The user keeps the time, for the tokens of
 * earlier requests stored later (SQL_ISSUE). */
static struct db_stmt SQL_WITHDRAW_RESET = {
    "WITH mark AS (UPDATE users SET reset_links_withdrawn_at = now() WHERE id = $1)"
    " UPDATE account_tokens SET withdrawn_at = now(), expires_at = least(expires_at, now())"
    " WHERE user_id = $1 AND kind = '" NX_TOKEN_KIND_RESET "' AND used_at IS NULL"
    " AND replaced_at IS NULL AND withdrawn_at IS NULL",
    1, 0};
/* The user's row, shared by an issue and taken by a redemption before its
 * token: every path that writes a user's tokens takes the user's row
 * first (a password change, a reset and a deactivation lock it for their
 * update), so an issue waits for a withdrawal in flight and then sees it,
 * and a withdrawal after an issue sees its token. */
static struct db_stmt SQL_SHARE_USER = {"SELECT 1 FROM users WHERE id = $1 FOR SHARE", 1, 0};
static struct db_stmt SQL_LOCK_TOKEN_USER = {
    "SELECT 1 FROM users WHERE id = (SELECT user_id FROM account_tokens"
    " WHERE token_hash = $1::bytea) FOR NO KEY UPDATE",
    1, 0};
static struct db_stmt SQL_PURGE = {
    "DELETE FROM account_tokens WHERE token_hash IN (SELECT token_hash FROM account_tokens"
    " WHERE expires_at < now() - make_interval(secs => $1::integer)"
    " ORDER BY expires_at LIMIT $2::integer)",
    2, 0};

enum nx_err account_token_issue(struct db *db, const char *user_id, const char *kind,
                                const char *hash_hex, const char *ttl_seconds,
                                const char *job_created_us) {
    const char *params[] = {user_id, kind, hash_hex, ttl_seconds, job_created_us};
    /* One issue of a user's kind at a time: SQL_ISSUE sees only committed
     * tokens, so two workers issuing at once would each miss the other's
     * and both links would stay open. The lock is the transaction's first,
     * and nothing holding another waits for it. */
    char name[96];
    snprintf(name, sizeof name, "account links %s of user %s", kind, user_id);
    enum nx_err e = db_xact_lock(db, name);
    if (e == NX_OK)
        e = db_exec(db, &SQL_SHARE_USER, params, NULL);
    return e == NX_OK ? db_exec(db, &SQL_ISSUE, params, NULL) : e;
}

enum nx_err account_token_lock(struct db *db, const char *hash_hex, PGresult **out) {
    const char *params[] = {hash_hex};
    enum nx_err e = db_exec(db, &SQL_LOCK_TOKEN_USER, params, NULL);
    return e == NX_OK ? db_exec(db, &SQL_LOCK, params, out) : e;
}

enum nx_err account_token_use(struct db *db, const char *hash_hex) {
    const char *params[] = {hash_hex};
    return db_exec(db, &SQL_USE, params, NULL);
}

enum nx_err account_reset_links_withdraw(struct db *db, const char *user_id) {
    const char *params[] = {user_id};
    return db_exec(db, &SQL_WITHDRAW_RESET, params, NULL);
}

enum nx_err account_tokens_purge(struct db *db, int retention_seconds, int batch, int *purged) {
    return db_purge(db, &SQL_PURGE, retention_seconds, batch, purged);
}
