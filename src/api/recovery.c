/*
 * recovery.c -- password reset and email verification endpoints.
 *
 * No answer of the reset request depends on the account: a malformed
 * address is a 422 and a throttled one a 429, whoever owns it; any other
 * request enqueues one job in one transaction and answers 202.
 *
 * A link's token is locked (FOR UPDATE) in the transaction that makes the
 * change it authorises and marked used in it too: of two requests with one
 * token, the second waits for the first to commit, then finds it used.
 */
#include "nexus/api/recovery.h"

#include "nexus/api/common.h"
#include "nexus/auth/password.h"
#include "nexus/auth/token.h"
#include "nexus/core/config.h"
#include "nexus/db/account_tokens.h"
#include "nexus/db/logins.h"
#include "nexus/db/users.h"
#include "nexus/http/client.h"
#include "nexus/http/problem.h"
#include "nexus/http/ratelimit.h"
#include "nexus/jobs/queue.h"
#include "nexus/model/fields.h"
#include "nexus/model/user.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enqueue kind with payload (consumed) in the caller's transaction. */
static enum nx_err enqueue(struct db *db, const char *kind, json_t *payload) {
    enum nx_err e = payload ? queue_enqueue(db, kind, payload, NULL, nx_config->job_max_attempts)
                            : NX_ERR_INTERNAL;
    json_decref(payload);
    return e;
}

/* Count the request against the account email limits, then enqueue
 * payload (consumed) as kind and answer 202. An outage gives the count
 * back. */
static enum nx_err enqueue_mail(struct request *req, struct response *res, const char *email,
                                const char *kind, json_t *payload) {
    struct throttle t;
    struct db *db = NULL;
    char client[NX_IP_TEXT_MAX];
    request_client_limit_key(req, client);
    enum nx_err e = mail_throttle_begin(req, &t, email, client);
    bool counted = e == NX_OK;
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK) {
        e = enqueue(db, kind, payload);
        payload = NULL;
    }
    if (e == NX_OK)
        e = db_commit(db);
    if (counted && e == NX_ERR_UNAVAILABLE)
        throttle_undo(&t);
    if (e == NX_OK)
        response_empty(res, 202);
    if (db)
        db_rollback(db);
    json_decref(payload);
    return e;
}

enum nx_err api_auth_password_reset(struct request *req, struct response *res) {
    struct user_input in;
    enum nx_err e = user_reset_request_input(&req->field_errors, req->json, &in);
    /* An address that names no account (in.email "") is still counted
     * as its own spelling, not with every other such address. */
    const char *counted = in.email[0] ? in.email : field_string(req->json, "email");
    if (e == NX_OK)
        e = enqueue_mail(req, res, counted ? counted : "", "password_reset_email",
                         json_pack("{s:s}", "email", in.email));
    return e;
}

/* Read the body and hash its token into hex; a token that cannot be one
 * we made (truncated, not base64url) is a 422 on token with the others. */
static enum nx_err token_body(struct request *req, bool with_password, struct token_input *in,
                              char hex[NX_TOKEN_HASH_PARAM_LEN]) {
    unsigned char hash[NX_TOKEN_HASH_LEN];
    enum nx_err e = user_token_input(&req->field_errors, req->json, with_password, in);
    if (in->token && !token_hash_opaque(in->token, in->token_len, hash))
        e = problem_field(req, "token",
                          "is not a token from a link: it must be 43 URL-safe base64 characters");
    if (e == NX_OK)
        token_hash_param(hash, hex);
    return e;
}

/* The locked token row t (zero rows: unknown) may authorise a change of
 * kind now; else a 422 on token that says why. */
static enum nx_err token_usable(struct request *req, PGresult *t, const char *kind) {
    if (PQntuples(t) != 1)
        return problem_field(req, "token", "is unknown: use the link of the latest email");
    if (strcmp(PQgetvalue(t, 0, ATC_KIND), kind) != 0)
        return problem_field(req, "token",
                             strcmp(kind, NX_TOKEN_KIND_RESET) == 0
                                 ? "is an email verification token, not a password reset token"
                                 : "is a password reset token, not an email verification token");
    static const struct {
        const char *state, *message;
    } why[] = {
        {"used", "has already been used"},
        {"replaced", "was replaced by a newer link: use the latest email"},
        {"expired", "has expired: ask for a new link"},
        {"inactive", "belongs to a deactivated account"},
    };
    const char *state = PQgetvalue(t, 0, ATC_STATE);
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
        if (strcmp(state, why[i].state) == 0)
            return problem_field(req, "token", why[i].message);
    return NX_OK;
}

/* Look the token up (and, outside a transaction, release it at once):
 * NX_OK when it is usable for kind now, else its 422. */
static enum nx_err token_check(struct request *req, struct db *db, const char *hex,
                               const char *kind) {
    PGresult *t = NULL;
    enum nx_err e = account_token_lock(db, hex, &t);
    if (e == NX_OK)
        e = token_usable(req, t, kind);
    PQclear(t);
    return e;
}

/* The change the locked token t authorises, in its open transaction: the
 * new password (hash, or NULL for a verification) and the end of every
 * login, or the verified address. */
static enum nx_err apply_token(struct db *db, PGresult *t, const char *hex, const char *hash) {
    const char *user_id = PQgetvalue(t, 0, ATC_USER_ID);
    enum nx_err e =
        hash ? users_reset_password(db, user_id, hash) : users_set_verified(db, user_id);
    if (e == NX_OK)
        e = account_token_use(db, hex);
    if (e == NX_OK && hash) /* whoever knew the old password is logged out */
        e = logins_revoke_others(db, user_id, NULL);
    /* the used link and any asked for before stay dead, even sent again
     * by a job retried after their tokens were purged */
    if (e == NX_OK && hash)
        e = account_reset_links_withdraw(db, user_id);
    return e;
}

/*
 * Check the token of the body, and run the change it authorises (reset
 * with the body's password, or verify) in one transaction that locks the
 * token, checks it again, and uses it up. The password is hashed between
 * the first check and the transaction, so a bad token costs no hash and a
 * good one holds its row lock only for the writes.
 */
static enum nx_err redeem(struct request *req, struct response *res, const char *kind,
                          bool with_password) {
    struct token_input in;
    char hex[NX_TOKEN_HASH_PARAM_LEN], hash[NX_PASSWORD_HASH_MAX];
    struct db *db = NULL;
    PGresult *t = NULL;
    enum nx_err e = token_body(req, with_password, &in, hex);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK && with_password)
        e = token_check(req, db, hex, kind);
    if (e == NX_OK && with_password) {
        e = password_hash(in.password, in.password_len, hash);
        if (e == NX_ERR_UNAVAILABLE)
            req->retry_after = 1;
    }
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = account_token_lock(db, hex, &t);
    if (e == NX_OK)
        e = token_usable(req, t, kind);
    if (e == NX_OK)
        e = apply_token(db, t, hex, with_password ? hash : NULL);
    e = api_commit_empty(db, res, 204, e);
    /* whoever followed the link owns the address: its failed logins, which
     * may have locked its owner out, no longer count (its client's do) */
    if (e == NX_OK && with_password)
        login_throttle_forget_email(PQgetvalue(t, 0, ATC_EMAIL));
    PQclear(t);
    sodium_memzero(hash, sizeof hash);
    return e;
}

enum nx_err api_auth_password_reset_confirm(struct request *req, struct response *res) {
    return redeem(req, res, NX_TOKEN_KIND_RESET, true);
}

enum nx_err api_auth_verify_email(struct request *req, struct response *res) {
    return redeem(req, res, NX_TOKEN_KIND_VERIFY, false);
}

enum nx_err api_auth_verify_email_resend(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)req->principal.user_id);
    /* no fields: an empty object is what some clients send for no body */
    enum nx_err e = req->json ? fields_check(&req->field_errors, req->json, NULL, 0) : NX_OK;
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = users_get(db, id, &r);
    if (e == NX_OK && PQntuples(r) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such user");
    if (e == NX_OK && PQgetvalue(r, 0, UC_EMAIL_VERIFIED)[0] == 't')
        response_empty(res, 202); /* nothing to send: already verified */
    else if (e == NX_OK)
        e = enqueue_mail(req, res, PQgetvalue(r, 0, UC_EMAIL), "verification_email",
                         json_pack("{s:I}", "user_id", (json_int_t)req->principal.user_id));
    PQclear(r);
    return e;
}
