/*
 * logins.h -- logins (token families) and their refresh tokens.
 *
 * Token hashes travel as bytea in hex text form ("\\x..."), so no binary
 * parameters are needed.
 */
#ifndef NEXUS_DB_LOGINS_H
#define NEXUS_DB_LOGINS_H

#include "nexus/db/db.h"
#include "nexus/model/login.h"

enum refresh_col { RC_LOGIN_ID, RC_USER_ID, RC_STATE, RC_ROLE };

/* Start a login for user id from a client that says it is user_agent
 * (cleaned, see model/login.h); *out holds its uuid in column 0. */
enum nx_err logins_create(struct db *db, const char *user_id, const char *user_agent,
                          PGresult **out);

/* The login was used now, by a client that says it is user_agent. */
enum nx_err logins_touch(struct db *db, const char *login_id, const char *user_agent);

/* Up to limit live logins of user id (columns of enum login_col, most
 * recently used first); current (a uuid) is flagged. */
enum nx_err logins_list(struct db *db, const char *user_id, const char *current, const char *limit,
                        PGresult **out);

/* The uuid of the live login numbered number of user id (zero rows when
 * there is none: another user's, ended or unknown). */
enum nx_err logins_find(struct db *db, const char *number, const char *user_id, PGresult **out);

/* Store a refresh token hash (hex bytea) for a login, valid ttl seconds. */
enum nx_err refresh_store(struct db *db, const char *hash_hex, const char *login_id,
                          const char *user_id, const char *ttl_seconds);

/*
 * Lock the token's login row, then the token's row (the order of the
 * statements that end a login), and report: login id, user id, state,
 * user role.
 * state is one of "live", "used", "revoked" (token or login revoked, user
 * inactive) or "expired". Zero rows: unknown token. Call in a transaction.
 */
enum nx_err refresh_lock(struct db *db, const char *hash_hex, PGresult **out);

enum nx_err refresh_mark_used(struct db *db, const char *hash_hex);

/* End a login: it and all its refresh tokens are revoked. */
enum nx_err logins_revoke(struct db *db, const char *login_id);

/* End every login of a user except keep (which may be NULL). */
enum nx_err logins_revoke_others(struct db *db, const char *user_id, const char *keep);

/*
 * The worker's purges, each of up to batch rows, oldest first; *purged:
 * how many. Refresh tokens expired more than expired_seconds ago; logins
 * revoked more than revoked_seconds ago; logins last used more than
 * idle_seconds ago that hold no live refresh token. A login's access
 * tokens need its row (a missing login is an ended one), so a login must
 * go only after the last of them expired.
 */
enum nx_err refresh_purge(struct db *db, int expired_seconds, int batch, int *purged);
enum nx_err logins_purge_revoked(struct db *db, int revoked_seconds, int batch, int *purged);
enum nx_err logins_purge_idle(struct db *db, int idle_seconds, int batch, int *purged);

#endif
