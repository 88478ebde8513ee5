/*
 * auth.c -- the account endpoints: register, login, refresh, logout.
 *
 * A login is a row in `logins`; its refresh tokens rotate on every
 * refresh. Presenting a refresh token that was already used means it was
 * copied: the whole login is revoked, access tokens included (the auth
 * stage checks the login on every request).
 */
#include "nexus/api/auth.h"

#include "nexus/api/common.h"
#include "nexus/auth/password.h"
#include "nexus/auth/token.h"
#include "nexus/core/config.h"
#include "nexus/db/logins.h"
#include "nexus/db/users.h"
#include "nexus/http/auth.h"
#include "nexus/http/client.h"
#include "nexus/http/problem.h"
#include "nexus/http/ratelimit.h"
#include "nexus/jobs/queue.h"
#include "nexus/model/fields.h"
#include "nexus/model/login.h"
#include "nexus/model/user.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum nx_err busy(struct request *req, enum nx_err e) {
    if (e == NX_ERR_UNAVAILABLE && !req->retry_after)
        req->retry_after = 1;
    return e;
}

/* The welcome email, in the transaction that creates the user. */
static enum nx_err enqueue_welcome(struct db *db, PGresult *user) {
    char key[64];
    snprintf(key, sizeof key, "welcome:%s", PQgetvalue(user, 0, UC_ID));
    json_t *payload = json_pack(
        "{s:I, s:s, s:s}", "user_id", (json_int_t)strtoll(PQgetvalue(user, 0, UC_ID), NULL, 10),
        "email", PQgetvalue(user, 0, UC_EMAIL), "name", PQgetvalue(user, 0, UC_NAME));
    enum nx_err e =
        payload ? queue_enqueue(db, "welcome_email", payload, key, nx_config->job_max_attempts)
                : NX_ERR_INTERNAL;
    json_decref(payload);
    return e;
}

/* 409 before any hashing when the email is taken (the insert still
 * catches a registration that wins a race). */
static enum nx_err email_free(struct db *db, const char *email) {
    bool taken = false;
    enum nx_err e = users_email_taken(db, email, &taken);
    if (e == NX_OK && taken)
        e = NX_ERR_CONFLICT;
    return e;
}

enum nx_err api_auth_register(struct request *req, struct response *res) {
    struct user_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    struct throttle t;
    char hash[NX_PASSWORD_HASH_MAX], client[NX_IP_TEXT_MAX];
    enum nx_err e = user_register_input(&req->field_errors, req->json, &in);
    request_client_limit_key(req, client);
    if (e == NX_OK)
        e = register_throttle_begin(req, &t, client);
    bool counted = e == NX_OK;
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = email_free(db, in.email);
    if (e == NX_OK)
        e = busy(req, password_hash(in.password, in.password_len, hash));
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = users_insert(db, in.email, in.name, hash, "customer", &r);
    if (e == NX_OK)
        e = enqueue_welcome(db, r);
    if (e == NX_OK)
        e = db_commit(db);
    /* Like logins, only failed registrations count against the client: a
     * new account gives its count back, and so does an outage. */
    if (counted && (e == NX_OK || e == NX_ERR_UNAVAILABLE))
        throttle_undo(&t);
    else if (counted)
        throttle_failed(&t);
    if (e == NX_ERR_CONFLICT)
        e = problem_conflict(req, "email", "already exists");
    if (e == NX_OK)
        api_created(res, user_to_json(r, 0), "/api/v1/users/");
    if (db)
        db_rollback(db);
    PQclear(r);
    return e;
}

/* Add a fresh refresh token to login and answer with a new token pair. */
static enum nx_err issue_pair(struct response *res, struct db *db, const char *user_id,
                              const char *role, const char *login) {
    char refresh[NX_OPAQUE_TOKEN_LEN + 1], hex[NX_TOKEN_HASH_PARAM_LEN], ttl[16];
    unsigned char hash[NX_TOKEN_HASH_LEN];
    char *access = NULL;
    token_new_opaque(refresh, hash);
    token_hash_param(hash, hex);
    snprintf(ttl, sizeof ttl, "%d", nx_config->refresh_token_ttl);
    enum nx_err e = refresh_store(db, hex, login, user_id, ttl);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK)
        e = token_issue_access(auth_keys(), strtoll(user_id, NULL, 10), role, login, time(NULL),
                               nx_config->access_token_ttl, &access);
    if (e == NX_OK) {
        json_t *body = json_pack("{s:s, s:s, s:s, s:I}", "access_token", access, "refresh_token",
                                 refresh, "token_type", "Bearer", "expires_in",
                                 (json_int_t)nx_config->access_token_ttl);
        api_ok(res, body);
        /* tokens: no cache or proxy may keep them (RFC 6749 5.1) */
        response_header(res, "Cache-Control", "no-store");
    }
    free(access);
    sodium_memzero(refresh, sizeof refresh);
    return e;
}

/* The caller's User-Agent as a login keeps it. */
static void client_agent(const struct request *req, char out[NX_USER_AGENT_BYTES]) {
    login_user_agent(request_header(req, "User-Agent"), out);
}

/* The one answer to credentials that do not log in, whatever is wrong. */
static enum nx_err refuse_login(struct request *req) {
    return problem_detail(req, NX_ERR_UNAUTHORIZED, "invalid email or password");
}

/* The hash a login's password was verified against, and the user's hash
 * when start_login found another one (moved). */
struct login_hash {
    const char *verified;
    bool moved;
    char current[NX_PASSWORD_HASH_MAX];
};

/*
 * Start a login for a user whose password was just verified against
 * h->verified, and answer with its first pair. The user's row is locked
 * and read again first: a deactivation that committed since the check
 * refuses the login, and a change that comes later waits for this
 * transaction, then ends the login with the others. When the user's hash
 * is another one now, nothing is written: h->moved, and h->current holds
 * it.
 */
static enum nx_err start_login(struct request *req, struct response *res, struct db *db,
                               const char *user_id, struct login_hash *h) {
    PGresult *user = NULL, *r = NULL;
    char agent[NX_USER_AGENT_BYTES];
    client_agent(req, agent);
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = users_login_lock(db, user_id, &user);
    if (e == NX_OK && PQntuples(user) != 1)
        e = refuse_login(req);
    h->moved = e == NX_OK && strcmp(PQgetvalue(user, 0, ULC_PASSWORD_HASH), h->verified) != 0;
    if (h->moved)
        snprintf(h->current, sizeof h->current, "%s", PQgetvalue(user, 0, ULC_PASSWORD_HASH));
    if (e == NX_OK && !h->moved)
        e = logins_create(db, user_id, agent, &r);
    if (e == NX_OK && !h->moved)
        e = issue_pair(res, db, user_id, PQgetvalue(user, 0, ULC_ROLE), PQgetvalue(r, 0, 0));
    if (e != NX_OK || h->moved)
        db_rollback(db);
    PQclear(user);
    PQclear(r);
    return e;
}

/*
 * Start the login of user_id, whose password in was just verified against
 * hash (start_login). A new password committed since refuses it, but
 * another hash of the same password (another login's upgrade to the
 * current costs) is no change: the password is verified against that one,
 * with no lock held, and the login started with it, once; that hash is
 * not upgraded here (*stale false), the next login does if need be.
 */
static enum nx_err login_verified(struct request *req, struct response *res, struct db *db,
                                  const struct user_input *in, const char *user_id,
                                  const char *hash, bool *stale) {
    struct login_hash h = {.verified = hash};
    char current[NX_PASSWORD_HASH_MAX];
    bool ok = false;
    enum nx_err e = start_login(req, res, db, user_id, &h);
    if (e != NX_OK || !h.moved)
        return e;
    memcpy(current, h.current, sizeof current);
    *stale = false;
    bool other_costs = false;
    e = busy(req, password_verify(current, in->password, in->password_len, &ok, &other_costs));
    if (e == NX_OK && !ok)
        e = refuse_login(req);
    h = (struct login_hash){.verified = current};
    if (e == NX_OK)
        e = start_login(req, res, db, user_id, &h);
    return e == NX_OK && h.moved ? refuse_login(req) : e;
}

/* Upgrade a hash made with older parameters, unless a new password
 * replaced it meanwhile; failure only costs a retry at the next login. */
static void rehash(struct db *db, const char *user_id, const char *old_hash,
                   const struct user_input *in) {
    char hash[NX_PASSWORD_HASH_MAX];
    if (password_hash_here(in->password, in->password_len, hash) == NX_OK)
        users_upgrade_password(db, user_id, old_hash, hash);
}

/* *user: the row of users_credentials; *stale: its hash has older costs. */
static enum nx_err check_credentials(struct request *req, struct db *db,
                                     const struct user_input *in, PGresult **user, bool *stale) {
    bool ok = false;
    enum nx_err e = in->email[0] ? users_credentials(db, in->email, user) : NX_OK;
    if (e != NX_OK)
        return e;
    bool found = *user && PQntuples(*user) == 1;
    /* Unknown users are checked against a dummy hash: same work, same time. */
    e = busy(req, password_verify(found ? PQgetvalue(*user, 0, 1) : NULL, in->password,
                                  in->password_len, &ok, stale));
    if (e != NX_OK)
        return e;
    if (!ok || PQgetvalue(*user, 0, 3)[0] != 't')
        return refuse_login(req);
    return NX_OK;
}

enum nx_err api_auth_login(struct request *req, struct response *res) {
    struct user_input in;
    struct db *db = NULL;
    PGresult *user = NULL;
    struct throttle t;
    char client[NX_IP_TEXT_MAX];
    bool stale = false;
    enum nx_err e = user_login_input(&req->field_errors, req->json, &in);
    request_client_limit_key(req, client);
    /* Counted before the check, as the address was given: a malformed
     * one has a counter of its own like any unknown address. */
    if (e == NX_OK)
        e = login_throttle_begin(req, &t, field_string(req->json, "email"), client);
    if (e == NX_OK) {
        e = api_db(req, &db);
        if (e == NX_OK)
            e = check_credentials(req, db, &in, &user, &stale);
        /* a deactivation or a new password since the check is a 401 too,
         * counted as a deactivated account's is */
        if (e == NX_OK)
            e = login_verified(req, res, db, &in, PQgetvalue(user, 0, 0), PQgetvalue(user, 0, 1),
                               &stale);
        if (e == NX_OK)
            login_throttle_passed(&t);
        else if (e == NX_ERR_UNAUTHORIZED)
            throttle_failed(&t);
        else
            throttle_undo(&t);
    }
    /* after the login committed, so that no lock is held while hashing */
    if (e == NX_OK && stale)
        rehash(db, PQgetvalue(user, 0, 0), PQgetvalue(user, 0, 1), &in);
    PQclear(user);
    return e;
}

/* Read {refresh_token} and hash it; *valid is false when it cannot be a
 * token we issued. */
static enum nx_err refresh_input(struct request *req, char hex[NX_TOKEN_HASH_PARAM_LEN],
                                 bool *valid) {
    static const struct field_spec spec[] = {{"refresh_token", FIELD_STRING, true}};
    enum nx_err e = fields_check(&req->field_errors, req->json, spec, 1);
    if (e != NX_OK)
        return e;
    json_t *v = json_object_get(req->json, "refresh_token");
    unsigned char hash[NX_TOKEN_HASH_LEN];
    *valid = token_hash_opaque(json_string_value(v), json_string_length(v), hash);
    if (*valid)
        token_hash_param(hash, hex);
    return NX_OK;
}

static enum nx_err rotate(struct request *req, struct response *res, struct db *db, PGresult *t) {
    const char *state = PQgetvalue(t, 0, RC_STATE);
    const char *login = PQgetvalue(t, 0, RC_LOGIN_ID);
    if (strcmp(state, "used") == 0) { /* reuse: end the whole login */
        req->refusal_commits = true;
        enum nx_err e = logins_revoke(db, login);
        if (e == NX_OK)
            e = db_commit(db);
        return e != NX_OK ? e
                          : problem_detail(req, NX_ERR_UNAUTHORIZED,
                                           "refresh token reuse detected; the login was ended");
    }
    if (strcmp(state, "live") != 0)
        return problem_detail(req, NX_ERR_UNAUTHORIZED, "the refresh token is no longer valid");
    char agent[NX_USER_AGENT_BYTES];
    client_agent(req, agent);
    enum nx_err e = logins_touch(db, login, agent);
    if (e != NX_OK)
        return e;
    return issue_pair(res, db, PQgetvalue(t, 0, RC_USER_ID), PQgetvalue(t, 0, RC_ROLE), login);
}

enum nx_err api_auth_refresh(struct request *req, struct response *res) {
    char hex[NX_TOKEN_HASH_PARAM_LEN];
    bool valid = false;
    struct db *db = NULL;
    PGresult *t = NULL;
    enum nx_err e = refresh_input(req, hex, &valid);
    if (e == NX_OK && !valid)
        e = problem_detail(req, NX_ERR_UNAUTHORIZED, "the refresh token is not valid");
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = refresh_lock(db, hex, &t);
    if (e == NX_OK && PQntuples(t) != 1)
        e = problem_detail(req, NX_ERR_UNAUTHORIZED, "the refresh token is not valid");
    if (e == NX_OK) /* the row is locked: it is used now, whatever follows */
        e = refresh_mark_used(db, hex);
    if (e == NX_OK)
        e = rotate(req, res, db, t);
    if (db)
        db_rollback(db); /* no-op after a commit */
    PQclear(t);
    return e;
}

enum nx_err api_auth_logout(struct request *req, struct response *res) {
    char hex[NX_TOKEN_HASH_PARAM_LEN];
    bool valid = false;
    struct db *db = NULL;
    PGresult *t = NULL;
    enum nx_err e = refresh_input(req, hex, &valid);
    if (e == NX_OK && valid) {
        e = api_db(req, &db);
        if (e == NX_OK)
            e = db_begin(db);
        if (e == NX_OK)
            e = refresh_lock(db, hex, &t);
        if (e == NX_OK && PQntuples(t) == 1)
            e = logins_revoke(db, PQgetvalue(t, 0, RC_LOGIN_ID));
        if (e == NX_OK)
            e = db_commit(db);
        if (db)
            db_rollback(db);
    }
    PQclear(t);
    if (e == NX_OK)
        response_empty(res, 204);
    return e;
}
