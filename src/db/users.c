/*
 * users.c -- SQL for the users table.
 */
#include "nexus/db/users.h"

#include <stdlib.h>

#define USER_COLUMNS                                                                               \
    "id, email, name, role, is_active, " NX_SQL_TIMESTAMP("created_at") ", " NX_SQL_TIMESTAMP(     \
        "updated_at") ", email_verified"

static struct db_stmt SQL_INSERT = {"INSERT INTO users (email, name, password_hash, role)"
                                    " VALUES ($1, $2, $3, $4) RETURNING " USER_COLUMNS,
                                    4, 0};
static struct db_stmt SQL_CREDENTIALS = {
    "SELECT id, password_hash, role, is_active FROM users WHERE lower(email) = lower($1)", 1, 0};
static struct db_stmt SQL_EMAIL_TAKEN = {
    "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", 1, 0};
static struct db_stmt SQL_GET = {"SELECT " USER_COLUMNS " FROM users WHERE id = $1", 1, 0};
static struct db_stmt SQL_GET_LOCKED = {
    "SELECT " USER_COLUMNS " FROM users WHERE id = $1 FOR NO KEY UPDATE", 1, 0};
static struct db_stmt SQL_GET_BY_EMAIL = {
    "SELECT " USER_COLUMNS " FROM users WHERE lower(email) = lower($1)", 1, 0};
static struct db_stmt SQL_RESET_PASSWORD = {
    "UPDATE users SET password_hash = $2, email_verified = true WHERE id = $1", 2, 0};
static struct db_stmt SQL_SET_VERIFIED = {
    "UPDATE users SET email_verified = true WHERE id = $1 AND NOT email_verified", 1, 0};
static struct db_stmt SQL_AUTH_STATE = {
    "SELECT u.role, u.is_active, EXISTS (SELECT 1 FROM logins l WHERE l.id = $2::uuid"
    " AND l.user_id = u.id AND l.revoked_at IS NULL) FROM users u WHERE u.id = $1",
    2, 0};
static struct db_stmt SQL_UPDATE = {
    "UPDATE users SET name = COALESCE($2, name), role = COALESCE($3, role),"
    " is_active = COALESCE($4::boolean, is_active) WHERE id = $1 RETURNING " USER_COLUMNS,
    4, 0};
static struct db_stmt SQL_SET_PASSWORD = {"UPDATE users SET password_hash = $2 WHERE id = $1", 2,
                                          0};
/* FOR SHARE: it waits for, and holds off, the UPDATE of a deactivation,
 * a role change or a new password (FOR KEY SHARE would not). */
static struct db_stmt SQL_LOGIN_LOCK = {
    "SELECT role, password_hash FROM users WHERE id = $1 AND is_active FOR SHARE", 1, 0};
/* Only over the hash it replaces: a password set meanwhile stays. */
static struct db_stmt SQL_UPGRADE_PASSWORD = {
    "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2", 3, 0};
/* FOR NO KEY UPDATE, here and in SQL_LOCK_ADMINS: it keeps other writers
 * and logins out, but not the key check of a refresh storing its token
 * while it holds its login's row, which the caller ends next (FOR UPDATE
 * made the two deadlock). */
static struct db_stmt SQL_PASSWORD_HASH = {
    "SELECT password_hash, email FROM users WHERE id = $1 FOR NO KEY UPDATE", 1, 0};
/* Rows locked, so that of two admins taking each other's role away at
 * once the second sees the first's change. */
static struct db_stmt SQL_LOCK_ADMINS = {
    "SELECT COALESCE(bool_or(a.id = $1), false), count(*) FILTER (WHERE a.id <> $1) FROM"
    " (SELECT id FROM users WHERE role = 'admin' AND is_active FOR NO KEY UPDATE) a",
    1, 0};

/* Per sort order: the keyset comparison after a cursor and the order. */
static const struct {
    const char *after;
    const char *order;
} LIST_SORTS[] = {
    [USER_SORT_CREATED] = {" AND (created_at, id) > (?::timestamptz,", " ORDER BY created_at, id"},
    [USER_SORT_CREATED_DESC] = {" AND (created_at, id) < (?::timestamptz,",
                                " ORDER BY created_at DESC, id DESC"},
    [USER_SORT_EMAIL] = {" AND (email, id) > (?,", " ORDER BY email, id"},
    [USER_SORT_EMAIL_DESC] = {" AND (email, id) < (?,", " ORDER BY email DESC, id DESC"},
};

/* " WHERE ..." of the list's filters: the email through users_email_key. */
static void add_list_filters(struct sql_builder *b, const struct user_filter *f) {
    sql_add(b, " WHERE true");
    if (f->email)
        sql_add_param(b, " AND lower(email) = ?", f->email);
    if (f->is_active)
        sql_add_param(b, " AND is_active = ?::boolean", f->is_active);
}

/* Prepared (a generic plan) only without filters: a few shapes, each
 * walking its order whatever the cursor and limit. */
static bool unfiltered(const struct user_filter *f) {
    return !f->email && !f->is_active;
}

enum nx_err users_insert(struct db *db, const char *email, const char *name, const char *hash,
                         const char *role, PGresult **out) {
    const char *params[] = {email, name, hash, role};
    return db_exec(db, &SQL_INSERT, params, out);
}

enum nx_err users_credentials(struct db *db, const char *email, PGresult **out) {
    const char *params[] = {email};
    return db_exec(db, &SQL_CREDENTIALS, params, out);
}

enum nx_err users_email_taken(struct db *db, const char *email, bool *taken) {
    const char *params[] = {email};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_EMAIL_TAKEN, params, &r);
    if (e == NX_OK)
        *taken = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return e;
}

enum nx_err users_get(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_GET, params, out);
}

enum nx_err users_get_locked(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_GET_LOCKED, params, out);
}

enum nx_err users_get_by_email(struct db *db, const char *email, PGresult **out) {
    const char *params[] = {email};
    return db_exec(db, &SQL_GET_BY_EMAIL, params, out);
}

enum nx_err users_reset_password(struct db *db, const char *id, const char *hash) {
    const char *params[] = {id, hash};
    return db_exec(db, &SQL_RESET_PASSWORD, params, NULL);
}

enum nx_err users_set_verified(struct db *db, const char *id) {
    const char *params[] = {id};
    return db_exec(db, &SQL_SET_VERIFIED, params, NULL);
}

enum nx_err users_auth_state(struct db *db, const char *id, const char *family, PGresult **out) {
    const char *params[] = {id, family};
    return db_exec(db, &SQL_AUTH_STATE, params, out);
}

enum nx_err users_update(struct db *db, const char *id, const char *name, const char *role,
                         const char *is_active, PGresult **out) {
    const char *params[] = {id, name, role, is_active};
    return db_exec(db, &SQL_UPDATE, params, out);
}

enum nx_err users_lock_admins(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_LOCK_ADMINS, params, out);
}

enum nx_err users_password_hash(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_PASSWORD_HASH, params, out);
}

enum nx_err users_set_password(struct db *db, const char *id, const char *hash) {
    const char *params[] = {id, hash};
    return db_exec(db, &SQL_SET_PASSWORD, params, NULL);
}

enum nx_err users_login_lock(struct db *db, const char *id, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, &SQL_LOGIN_LOCK, params, out);
}

enum nx_err users_upgrade_password(struct db *db, const char *id, const char *old_hash,
                                   const char *new_hash) {
    const char *params[] = {id, old_hash, new_hash};
    return db_exec(db, &SQL_UPGRADE_PASSWORD, params, NULL);
}

enum nx_err users_list(struct db *db, const struct user_filter *f, enum user_sort sort,
                       const char *after_value, const char *after_id, const char *limit,
                       PGresult **out) {
    struct sql_builder b = {.prepare = unfiltered(f)};
    sql_add(&b, "SELECT " USER_COLUMNS " FROM users");
    add_list_filters(&b, f);
    sql_add_page(&b, LIST_SORTS[sort].after, LIST_SORTS[sort].order, after_value, after_id, limit);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err users_count(struct db *db, const struct user_filter *f, long long *total) {
    struct sql_builder b = {.prepare = unfiltered(f)};
    PGresult *r = NULL;
    sql_add(&b, "SELECT count(*) FROM users");
    add_list_filters(&b, f);
    enum nx_err e = db_exec_built(db, &b, &r);
    if (e == NX_OK)
        *total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    sql_clear(&b);
    return e;
}
