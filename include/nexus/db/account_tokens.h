/*
 * account_tokens.h -- the one-time tokens of password reset and email
 * verification links.
 *
 * Only a token's SHA-256 is stored (hex bytea text, "\\x..."). Issuing a
 * token replaces the user's open tokens of the same kind requested earlier
 * (by the time its email's job was queued, not the time the job ran). A
 * token is used by account_token_use in the transaction of the change it
 * authorises, after account_token_lock took its row: of two requests
 * presenting one token at once, the second waits for the first and then
 * sees it used.
 */
#ifndef NEXUS_DB_ACCOUNT_TOKENS_H
#define NEXUS_DB_ACCOUNT_TOKENS_H

#include "nexus/db/db.h"

#define NX_TOKEN_KIND_RESET  "password_reset"
#define NX_TOKEN_KIND_VERIFY "email_verify"

enum account_token_col { ATC_KIND, ATC_USER_ID, ATC_STATE, ATC_EMAIL };

/* Store a token of kind for user id, valid ttl_seconds, for the email
 * job queued at job_created_us (µs since the epoch, the time of the
 * request), replacing the user's open tokens of that kind requested
 * before; stored replaced already when the user has one requested later,
 * and withdrawn already when it is a reset token of a request made before
 * the user's reset links were last withdrawn.
 * A token stored already is issued again: it replaces nothing, and unless
 * used, replaced or withdrawn it is valid ttl_seconds from now again,
 * expired or not. Call in a transaction: it waits for another issue of
 * the user's kind until that one's transaction ends. */
enum nx_err account_token_issue(struct db *db, const char *user_id, const char *kind,
                                const char *hash_hex, const char *ttl_seconds,
                                const char *job_created_us);

/*
 * Lock the token's user's row (first, as every writer of a user's tokens
 * does), then the token's row, and report kind, user id, state and the
 * user's email. The state is "live", "used", "replaced", "expired" or
 * "inactive" (the user is deactivated), in that order of precedence. Zero
 * rows: unknown token. Call in a transaction.
 */
enum nx_err account_token_lock(struct db *db, const char *hash_hex, PGresult **out);

/* Use the token, and retire every other open token of its kind of its
 * user (a reset makes older reset links useless too). */
enum nx_err account_token_use(struct db *db, const char *hash_hex);

/* Withdraw the user's reset links: the tokens not used or replaced
 * expire now, and for good (issued again, they stay expired), and so does
 * any token of a request made before that is stored later (its job ran
 * late, or was retried after its token was purged): a reset link asked
 * for before the password changed or was reset, or before the account was
 * deactivated, no longer works. */
enum nx_err account_reset_links_withdraw(struct db *db, const char *user_id);

/* Delete up to batch tokens that expired more than retention_seconds ago;
 * *purged: how many. */
enum nx_err account_tokens_purge(struct db *db, int retention_seconds, int batch, int *purged);

#endif
