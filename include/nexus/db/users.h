/*
 * users.h -- the users table.
 *
 * Every query that returns users returns the same columns, in the order
 * of enum user_col (model/user.h), so model/user.c can turn any of their
 * rows into JSON.
 */
#ifndef NEXUS_DB_USERS_H
#define NEXUS_DB_USERS_H

#include "nexus/db/db.h"
#include "nexus/model/user.h"

enum user_sort { USER_SORT_CREATED, USER_SORT_CREATED_DESC, USER_SORT_EMAIL, USER_SORT_EMAIL_DESC };

/* Insert a user; a taken email is NX_ERR_CONFLICT. *out: the new row. */
enum nx_err users_insert(struct db *db, const char *email, const char *name, const char *hash,
                         const char *role, PGresult **out);

/* id, password_hash, role, is_active of the user with this (normalised)
 * email; zero rows when there is none. */
enum nx_err users_credentials(struct db *db, const char *email, PGresult **out);

/* Whether a user has this (normalised) email, in any case. */
enum nx_err users_email_taken(struct db *db, const char *email, bool *taken);

/* The row of user id (zero rows when there is none). */
enum nx_err users_get(struct db *db, const char *id, PGresult **out);

/* The row of user id (zero rows when there is none), locked until the
 * transaction ends as its update (and users_password_hash) locks it. */
enum nx_err users_get_locked(struct db *db, const char *id, PGresult **out);

/* The row of the user with this (normalised) email, in any case. */
enum nx_err users_get_by_email(struct db *db, const char *email, PGresult **out);

/* A password set through a reset link: the link reached the address, so
 * the address is verified too. */
enum nx_err users_reset_password(struct db *db, const char *id, const char *hash);

/* Mark the user's email address verified. */
enum nx_err users_set_verified(struct db *db, const char *id);

/* role, is_active, and whether login family is live, for user id; zero rows
 * when the user does not exist. */
enum nx_err users_auth_state(struct db *db, const char *id, const char *family, PGresult **out);

/* Partial update: NULL parameters keep their column. Zero rows when the
 * user does not exist. */
enum nx_err users_update(struct db *db, const char *id, const char *name, const char *role,
                         const char *is_active, PGresult **out);

/* Lock the active admins (in the open transaction); one row: whether id
 * is one of them, and how many others there are. */
enum nx_err users_lock_admins(struct db *db, const char *id, PGresult **out);

/* password_hash, email of user id (zero rows when there is none), the
 * row locked until the transaction ends: a password is checked and
 * changed under one lock, so of two changes that give the same current
 * password, the second is checked against the first's new one. */
enum nx_err users_password_hash(struct db *db, const char *id, PGresult **out);

enum nx_err users_set_password(struct db *db, const char *id, const char *hash);

enum user_login_col { ULC_ROLE, ULC_PASSWORD_HASH };

/* The role and password_hash of user id while it is active (zero rows
 * otherwise), the row locked until the transaction ends: a deactivation
 * or a new hash committed before is seen here, and one not yet committed
 * waits for this transaction, so it also ends the login that this
 * transaction starts. */
enum nx_err users_login_lock(struct db *db, const char *id, PGresult **out);

/* Replace the password hash of user id with new_hash (the same password,
 * other costs) only if it is still old_hash: a password set meanwhile is
 * kept. */
enum nx_err users_upgrade_password(struct db *db, const char *id, const char *old_hash,
                                   const char *new_hash);

/* The users list's filters; NULL members do not filter. */
struct user_filter {
    const char *email;     /* the address, normalised (lower-case): one user at most */
    const char *is_active; /* "true" or "false" */
};

/* One page of the users that pass f, in sort order after (after_value,
 * after_id) when after_value is not NULL; limit rows at most. */
enum nx_err users_list(struct db *db, const struct user_filter *f, enum user_sort sort,
                       const char *after_value, const char *after_id, const char *limit,
                       PGresult **out);
/* How many users pass f. */
enum nx_err users_count(struct db *db, const struct user_filter *f, long long *total);

#endif
