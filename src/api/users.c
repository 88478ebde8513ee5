/*
 * users.c -- user account endpoints.
 *
 * Access is decided by the route table: /users/me needs any login,
 * everything under /users/{id} and the list need an admin. A user's
 * representation carries a strong ETag (the tag of its bytes); a write
 * with If-Match or If-None-Match locks the user's row and compares them
 * with the user as it is then, so of concurrent writers with one tag
 * exactly one wins.
 */
#include "nexus/api/users.h"

#include "nexus/api/common.h"
#include "nexus/api/listing.h"
#include "nexus/auth/password.h"
#include "nexus/core/xmem.h"
#include "nexus/db/account_tokens.h"
#include "nexus/db/logins.h"
#include "nexus/db/users.h"
#include "nexus/http/client.h"
#include "nexus/http/problem.h"
#include "nexus/http/ratelimit.h"
#include "nexus/model/fields.h"
#include "nexus/model/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const USER_SORTS[] = {"created_at", "-created_at", "email", "-email"};
static const struct list_spec USER_LIST = {"users", USER_SORTS, 4, 0};
/* DELETE /users/{id}: the account is kept, deactivated. */
static const struct user_input DEACTIVATE = {.is_active = "false"};

/* Answer with the single user row of r, or 404 when there is none. */
static enum nx_err respond_user(struct request *req, struct response *res, PGresult *r) {
    if (PQntuples(r) != 1)
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such user");
    api_respond_tagged(req, res, 200, user_to_json(r, 0));
    return NX_OK;
}

/* A user's row is never locked for a key change (key is for categories):
 * that would keep out the key check of a refresh storing its token. */
static enum nx_err read_user(struct db *db, const char *id, bool lock, bool key, PGresult **out) {
    (void)key;
    return lock ? users_get_locked(db, id, out) : users_get(db, id, out);
}

/* Users are never removed: no row is an id that never was a user. */
static const struct api_row_kind USER_ROWS = {read_user, user_to_json, "no such user", false};

/* Change what is given; with nothing given, read the row as it is, so an
 * empty PATCH leaves updated_at alone. */
static enum nx_err write_user(struct db *db, const char *id, const char *name, const char *role,
                              const char *is_active, PGresult **r) {
    if (!name && !role && !is_active)
        return users_get(db, id, r);
    return users_update(db, id, name, role, is_active, r);
}

static void principal_id(const struct request *req, char out[24]) {
    snprintf(out, 24, "%lld", (long long)req->principal.user_id);
}

enum nx_err api_users_me(struct request *req, struct response *res) {
    struct db *db;
    PGresult *r = NULL;
    char id[24];
    principal_id(req, id);
    enum nx_err e = api_db(req, &db);
    if (e == NX_OK)
        e = users_get(db, id, &r);
    if (e == NX_OK)
        e = respond_user(req, res, r);
    PQclear(r);
    return e;
}

/* Verify current_password: counted and limited like a login, against
 * the user's email and the client. */
static enum nx_err verify_current_password(struct request *req, const char *hash, const char *email,
                                           const struct user_input *in) {
    struct throttle t;
    char client[NX_IP_TEXT_MAX];
    bool ok = false, stale = false;
    request_client_limit_key(req, client);
    enum nx_err e = login_throttle_begin(req, &t, email, client);
    if (e != NX_OK)
        return e;
    e = password_verify(hash, in->current_password, in->current_password_len, &ok, &stale);
    if (e != NX_OK) {
        throttle_undo(&t);
        return e;
    }
    if (ok) {
        login_throttle_passed(&t);
        return NX_OK;
    }
    throttle_failed(&t);
    return problem_field(req, "current_password", "is incorrect");
}

static enum nx_err check_current_password(struct request *req, struct db *db, const char *id,
                                          const struct user_input *in) {
    PGresult *r = NULL;
    enum nx_err e = users_password_hash(db, id, &r);
    bool found = e == NX_OK && PQntuples(r) == 1;
    /* No row (the user went away): the dummy hash, which never matches. */
    if (e == NX_OK)
        e = verify_current_password(req, found ? PQgetvalue(r, 0, 0) : NULL,
                                    found ? PQgetvalue(r, 0, 1) : "", in);
    PQclear(r);
    if (e == NX_ERR_UNAVAILABLE)
        req->retry_after = 1;
    return e;
}

/* A new password: store it and end every other login of the user. */
static enum nx_err change_password(struct request *req, struct db *db, const char *id,
                                   const struct user_input *in) {
    char hash[NX_PASSWORD_HASH_MAX];
    enum nx_err e = check_current_password(req, db, id, in);
    if (e == NX_OK)
        e = password_hash(in->password, in->password_len, hash);
    if (e == NX_ERR_UNAVAILABLE)
        req->retry_after = 1;
    if (e == NX_OK)
        e = users_set_password(db, id, hash);
    if (e == NX_OK)
        e = logins_revoke_others(db, id, req->principal.family);
    if (e == NX_OK)
        e = account_reset_links_withdraw(db, id);
    return e;
}

enum nx_err api_users_me_patch(struct request *req, struct response *res) {
    struct user_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    principal_id(req, id);
    enum nx_err e = api_body_faults(req, user_self_patch_input(&req->field_errors, req->json, &in));
    if (e == NX_OK && in.current_password && !in.password)
        e = problem_field(req, "password", "is required with current_password");
    if (e == NX_ERR_VALIDATION && api_db(req, &db) == NX_OK)
        e = api_row_preconditions_first(req, db, &USER_ROWS, id, e);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = api_row_lock_checked(req, db, &USER_ROWS, id, false);
    if (e == NX_OK && in.password)
        e = change_password(req, db, id, &in);
    if (e == NX_OK)
        e = write_user(db, id, in.name, NULL, NULL, &r);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK)
        e = respond_user(req, res, r);
    if (db)
        db_rollback(db);
    PQclear(r);
    return e;
}

static enum nx_err count_users(struct db *db, const void *filter, long long *total) {
    return users_count(db, filter, total);
}

static enum nx_err users_page(struct db *db, const void *filter, size_t sort,
                              const char *after_value, const char *after_id, const char *limit,
                              PGresult **out) {
    return users_list(db, filter, (enum user_sort)sort, after_value, after_id, limit, out);
}

/* The list's filters and the text its cursors are bound to. */
struct user_query {
    struct user_filter filter;
    char email[NX_EMAIL_MAX + 1];
    struct buf canonical;
};

/* email: one address, compared as every email is (case-insensitively). */
static enum nx_err parse_email_filter(struct request *req, struct user_query *q) {
    struct slice v;
    enum nx_err e = list_filter_value(req, "email", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    char *given = xstrndup(v.ptr, v.len);
    bool ok = email_normalize(given, q->email, sizeof q->email);
    free(given);
    if (!ok)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "email must be a whole email address (it is matched exactly)");
    q->filter.email = q->email;
    /* its length first: an address may hold '&' */
    buf_printf(&q->canonical, "&email=%zu:%s", strlen(q->email), q->email);
    return NX_OK;
}

static enum nx_err parse_user_filters(struct request *req, struct user_query *q) {
    int active = -1;
    enum nx_err e = parse_email_filter(req, q);
    if (e == NX_OK)
        e = list_bool_filter(req, "is_active", &active, &q->canonical);
    if (active >= 0)
        q->filter.is_active = active ? "true" : "false";
    buf_puts(&q->canonical, "");
    return e;
}

enum nx_err api_users_list(struct request *req, struct response *res) {
    static const int value_cols[] = {UC_CREATED_AT, UC_CREATED_AT, UC_EMAIL, UC_EMAIL};
    static const struct list_table table = {users_page, count_users, user_to_json, value_cols,
                                            UC_ID};
    struct user_query q = {.filter = {NULL, NULL}};
    enum nx_err e = parse_user_filters(req, &q);
    if (e == NX_OK)
        e = list_serve_table(req, res, &USER_LIST, &table, &q.filter,
                             q.canonical.data ? q.canonical.data : "");
    buf_clear(&q.canonical);
    return e;
}

enum nx_err api_users_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = users_get(db, id, &r);
    if (e == NX_OK)
        e = respond_user(req, res, r);
    PQclear(r);
    return e;
}

/* The field whose change takes the admin role from its user (a new role,
 * or deactivation), or NULL. */
static const char *admin_role_taken_by(const struct user_input *in) {
    if (in->role && strcmp(in->role, "admin") != 0)
        return "role";
    if (in->is_active && strcmp(in->is_active, "false") == 0)
        return "is_active";
    return NULL;
}

/* The store keeps an active admin: only an admin can make another, so
 * without one, users could be managed only from the command line. The
 * active admins' rows are locked; *last: id is the last of them. */
static enum nx_err lock_admins(struct db *db, const char *id, bool *last) {
    PGresult *r = NULL;
    enum nx_err e = users_lock_admins(db, id, &r);
    *last = e == NX_OK && PQgetvalue(r, 0, 0)[0] == 't' && strcmp(PQgetvalue(r, 0, 1), "0") == 0;
    PQclear(r);
    return e;
}

/*
 * An admin's change to user id, in one transaction. Deactivating ends every
 * login of the user with it, so reactivating the account later revives no
 * refresh token issued before (a stolen one included): the user logs in
 * again. The last active admin keeps the role (409 on field, or on the
 * field that would take it). *out: the updated row, or zero rows when
 * there is no such user.
 */
static enum nx_err update_user(struct request *req, struct db *db, const char *id,
                               const struct user_input *in, const char *field, PGresult **out) {
    bool deactivating = in->is_active && strcmp(in->is_active, "false") == 0, last = false;
    enum nx_err e = db_begin(db);
    if (e == NX_OK && admin_role_taken_by(in))
        e = lock_admins(db, id, &last);
    /* after the admins' rows (the order of every such write), and a failed
     * precondition before the 409 */
    if (e == NX_OK)
        e = api_row_lock_checked(req, db, &USER_ROWS, id, false);
    if (e == NX_OK && last)
        e = problem_conflict(req, field ? field : admin_role_taken_by(in),
                             "would leave no active admin: make another admin first");
    if (e == NX_OK)
        e = write_user(db, id, in->name, in->role, in->is_active, out);
    if (e == NX_OK && deactivating && PQntuples(*out) == 1)
        e = logins_revoke_others(db, id, NULL);
    if (e == NX_OK && deactivating && PQntuples(*out) == 1)
        e = account_reset_links_withdraw(db, id);
    if (e == NX_OK)
        e = db_commit(db);
    if (e != NX_OK) {
        db_rollback(db);
        PQclear(*out);
        *out = NULL;
    }
    return e;
}

/* A user that does not exist is a 404 before the body's errors. */
static enum nx_err user_missing_first(struct request *req, struct db *db, const char *id,
                                      enum nx_err e) {
    PGresult *r = NULL;
    enum nx_err found = users_get(db, id, &r);
    if (found == NX_OK && PQntuples(r) == 0)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such user");
    PQclear(r);
    return e;
}

enum nx_err api_users_patch(struct request *req, struct response *res) {
    struct user_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_body_faults(req, user_admin_patch_input(&req->field_errors, req->json, &in));
    if (e == NX_ERR_VALIDATION) {
        enum nx_err d = api_db(req, &db);
        e = d == NX_OK ? api_row_preconditions_first(req, db, &USER_ROWS, id,
                                                     user_missing_first(req, db, id, e))
                       : d;
    }
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = update_user(req, db, id, &in, NULL, &r);
    if (e == NX_OK)
        e = respond_user(req, res, r);
    PQclear(r);
    return e;
}

enum nx_err api_users_delete(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = update_user(req, db, id, &DEACTIVATE, "id", &r);
    if (e == NX_OK && PQntuples(r) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such user");
    if (e == NX_OK)
        response_empty(res, 204);
    PQclear(r);
    return e;
}
