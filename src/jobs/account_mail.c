/*
 * account_mail.c -- welcome, verification and password reset emails.
 */
#include "nexus/jobs/account_mail.h"

#include "nexus/auth/token.h"
#include "nexus/core/xmem.h"
#include "nexus/db/account_tokens.h"
#include "nexus/db/users.h"
#include "nexus/jobs/mail.h"
#include "nexus/model/fields.h"
#include "nexus/model/user.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* What one account email says; the text and HTML parts are made from it.
 * Paragraphs are plain text (escaped for HTML); the link, if any, comes
 * after the first paragraph. */
struct letter {
    const char *to;
    const char *subject;
    const char *greeting_name;
    const char *paragraphs[3]; /* NULL-terminated when fewer */
    const char *link;          /* NULL: none */
    const char *link_label;
};

static bool payload_user(struct db *db, const struct job *job, char user_id[24], PGresult **r);

static void html_escaped_char(struct buf *b, const char *s) {
    static const char *const entities[][2] = {
        {"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"},
    };
    for (size_t i = 0; i < sizeof entities / sizeof *entities; i++) {
        if (*s == entities[i][0][0]) {
            buf_puts(b, entities[i][1]);
            return;
        }
    }
    buf_append(b, s, 1);
}

/* For an attribute value or the title, which are short. */
static void html_escaped(struct buf *b, const char *s) {
    for (; *s; s++)
        html_escaped_char(b, s);
}

/* A line of an 8bit part holds at most 998 bytes (RFC 5322 2.1.1), and a
 * 200-character name of '&' escapes to 1,000: text is broken into lines
 * with an empty comment, which renders as nothing, between two characters
 * (never inside one's UTF-8 bytes). */
#define HTML_LINE_BREAK_AT 600

static void html_text(struct buf *b, const char *s) {
    size_t line_start = b->len;
    for (; *s; s++) {
        bool starts_char = ((unsigned char)*s & 0xC0) != 0x80;
        if (starts_char && b->len - line_start >= HTML_LINE_BREAK_AT) {
            buf_puts(b, "<!--\n-->");
            line_start = b->len;
        }
        html_escaped_char(b, s);
    }
}

static void render_text(const struct letter *l, struct buf *b) {
    buf_printf(b, "Hello %s,\n\n", l->greeting_name);
    for (size_t i = 0; i < 3 && l->paragraphs[i]; i++) {
        buf_printf(b, "%s\n\n", l->paragraphs[i]);
        if (i == 0 && l->link)
            buf_printf(b, "%s\n\n", l->link);
    }
    buf_puts(b, "-- The Nexus team\n");
}

static void render_html(const struct letter *l, struct buf *b) {
    buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    html_escaped(b, l->subject);
    buf_puts(b, "</title></head>\n<body>\n<p>Hello ");
    html_text(b, l->greeting_name);
    buf_puts(b, ",</p>\n");
    for (size_t i = 0; i < 3 && l->paragraphs[i]; i++) {
        buf_puts(b, "<p>");
        html_text(b, l->paragraphs[i]);
        buf_puts(b, "</p>\n");
        if (i == 0 && l->link) {
            buf_puts(b, "<p><a href=\"");
            html_escaped(b, l->link);
            buf_puts(b, "\">");
            html_escaped(b, l->link_label);
            buf_puts(b, "</a></p>\n");
        }
    }
    buf_puts(b, "<p>&mdash; The Nexus team</p>\n</body></html>\n");
}

static bool send_letter(const struct config *cfg, const struct letter *l, const char *message_id,
                        char *err, size_t errcap) {
    struct buf text = {0}, html = {0};
    render_text(l, &text);
    render_html(l, &html);
    struct mail m = {.to = {l->to},
                     .to_count = 1,
                     .subject = l->subject,
                     .body = text.data,
                     .html = html.data,
                     .message_id = message_id};
    bool ok = mail_send(cfg, &m, err, errcap);
    buf_clear(&text);
    buf_clear(&html);
    return ok;
}

/* The token of the job's link of kind for user_id. Every attempt of one
 * job makes the same (keyed with JWT_SECRET, which every process of a
 * deployment shares): an attempt that delivered its message but was
 * counted failed is retried with the link already sent, under the same
 * Message-ID, rather than with a new one that a mailbox keeping the first
 * copy would never show. A worker without the secret makes a fresh one. */
static void link_token(const struct config *cfg, const struct job *job, const char *user_id,
                       const char *kind, char token[NX_OPAQUE_TOKEN_LEN + 1],
                       unsigned char hash[NX_TOKEN_HASH_LEN]) {
    char purpose[160];
    if (!cfg->jwt_secret) {
        token_new_opaque(token, hash);
        return;
    }
    snprintf(purpose, sizeof purpose, "account link %s of job %lld.%lld for user %s", kind,
             (long long)job->id, (long long)job->created_us, user_id);
    token_derive_opaque((const unsigned char *)cfg->jwt_secret, cfg->jwt_secret_len, purpose, token,
                        hash);
}

/* Make the job's token of kind for user_id (committed before the mail goes
 * out: a link that arrives always works) and its link APP_URL + page. */
static bool issue_link(const struct config *cfg, struct db *db, const struct job *job,
                       const char *user_id, const char *kind, int ttl, const char *page, char *link,
                       size_t cap, char *err, size_t errcap) {
    char token[NX_OPAQUE_TOKEN_LEN + 1], hex[NX_TOKEN_HASH_PARAM_LEN], ttl_text[16], queued[24];
    unsigned char hash[NX_TOKEN_HASH_LEN];
    link_token(cfg, job, user_id, kind, token, hash);
    token_hash_param(hash, hex);
    snprintf(ttl_text, sizeof ttl_text, "%d", ttl);
    snprintf(queued, sizeof queued, "%lld", (long long)job->created_us);
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = account_token_issue(db, user_id, kind, hex, ttl_text, queued);
    if (e == NX_OK)
        e = db_commit(db);
    if (e != NX_OK) {
        db_rollback(db);
        snprintf(err, errcap, "cannot store the %s token", kind);
    } else {
        snprintf(link, cap, "%s/%s?token=%s", cfg->app_url, page, token);
    }
    sodium_memzero(token, sizeof token);
    return e == NX_OK;
}

/* The user row r (zero rows: none) is one to write to: it exists and is
 * active (and, for verification, not verified yet). */
static bool addressee(PGresult *r, bool unverified_only) {
    return PQntuples(r) == 1 && PQgetvalue(r, 0, UC_IS_ACTIVE)[0] == 't' &&
           (!unverified_only || PQgetvalue(r, 0, UC_EMAIL_VERIFIED)[0] != 't');
}

void account_mail_duration_text(int seconds, char *out, size_t cap) {
    int minutes = seconds / 60;
    if (seconds % 86400 == 0)
        snprintf(out, cap, "%d day%s", seconds / 86400, seconds == 86400 ? "" : "s");
    else if (seconds % 3600 == 0)
        snprintf(out, cap, "%d hour%s", seconds / 3600, seconds == 3600 ? "" : "s");
    else if (minutes == 0)
        snprintf(out, cap, "%d second%s", seconds, seconds == 1 ? "" : "s");
    else
        snprintf(out, cap, "%d minute%s", minutes, minutes == 1 ? "" : "s");
}

bool account_mail_verify(const struct config *cfg, struct db *db, const struct job *job,
                         const char *message_id, char *err, size_t errcap) {
    char user_id[24], link[1024], first[512], last[300], ttl[32];
    PGresult *r = NULL;
    if (!payload_user(db, job, user_id, &r)) {
        snprintf(err, errcap, "cannot read the user");
        return false;
    }
    if (!r) {
        snprintf(err, errcap, "payload has no user_id");
        return false;
    }
    bool ok = true;
    if (addressee(r, true) &&
        (ok = issue_link(cfg, db, job, user_id, NX_TOKEN_KIND_VERIFY, cfg->email_verify_ttl,
                         "verify-email", link, sizeof link, err, errcap))) {
        account_mail_duration_text(cfg->email_verify_ttl, ttl, sizeof ttl);
        snprintf(first, sizeof first,
                 "please confirm that %s is your email address by opening this link within %s:",
                 PQgetvalue(r, 0, UC_EMAIL), ttl);
        snprintf(last, sizeof last, "If you did not create a Nexus account, ignore this email.");
        struct letter l = {.to = PQgetvalue(r, 0, UC_EMAIL),
                           .subject = "Nexus \xe2\x80\x94 confirm your email address",
                           .greeting_name = PQgetvalue(r, 0, UC_NAME),
                           .paragraphs = {first, last, NULL},
                           .link = link,
                           .link_label = "Confirm my email address"};
        ok = send_letter(cfg, &l, message_id, err, errcap);
        sodium_memzero(link, sizeof link);
    }
    PQclear(r);
    return ok;
}

bool account_mail_reset(const struct config *cfg, struct db *db, const struct job *job,
                        const char *message_id, char *err, size_t errcap) {
    const char *email = json_string_value(json_object_get(job->payload, "email"));
    char link[1024], first[512], ttl[32], normal[NX_EMAIL_MAX + 1];
    PGresult *r = NULL;
    if (!email) {
        snprintf(err, errcap, "payload has no email");
        return false;
    }
    /* A request answers any address alike and queues it as given; one
     * that is no address (empty, or not normalised as every stored one
     * is) names no account. Looked up, PostgreSQL's lower() would fold
     * some (the Kelvin sign to k) onto another account's, past the
     * request's limit per address. */
    if (!email_normalize(email, normal, sizeof normal) || strcmp(normal, email) != 0)
        return true;
    if (users_get_by_email(db, email, &r) != NX_OK) {
        snprintf(err, errcap, "cannot look the address up");
        return false;
    }
    bool ok = true;
    if (addressee(r, false) &&
        (ok = issue_link(cfg, db, job, PQgetvalue(r, 0, UC_ID), NX_TOKEN_KIND_RESET,
                         cfg->password_reset_ttl, "reset-password", link, sizeof link, err,
                         errcap))) {
        account_mail_duration_text(cfg->password_reset_ttl, ttl, sizeof ttl);
        snprintf(first, sizeof first,
                 "someone (we hope you) asked to reset the password of your Nexus account %s. "
                 "To choose a new password, open this link within %s:",
                 PQgetvalue(r, 0, UC_EMAIL), ttl);
        struct letter l = {
            .to = PQgetvalue(r, 0, UC_EMAIL),
            .subject = "Nexus \xe2\x80\x94 reset your password",
            .greeting_name = PQgetvalue(r, 0, UC_NAME),
            .paragraphs = {first,
                           "The link works once, and a newer request replaces it. Using it ends "
                           "every login of your account.",
                           "If you did not ask for this, ignore this email: your password stays "
                           "as it is."},
            .link = link,
            .link_label = "Choose a new password"};
        ok = send_letter(cfg, &l, message_id, err, errcap);
        sodium_memzero(link, sizeof link);
    }
    PQclear(r);
    return ok;
}

/* The user of payload member user_id into *r (NULL when the payload has
 * none); false when the database cannot say. */
static bool payload_user(struct db *db, const struct job *job, char user_id[24], PGresult **r) {
    json_t *id = json_object_get(job->payload, "user_id");
    *r = NULL;
    if (!json_is_integer(id) || json_integer_value(id) < 1)
        return true;
    snprintf(user_id, 24, "%lld", (long long)json_integer_value(id));
    return users_get(db, user_id, r) == NX_OK;
}

bool account_mail_welcome(const struct config *cfg, struct db *db, const struct job *job,
                          const char *message_id, char *err, size_t errcap) {
    const char *email = json_string_value(json_object_get(job->payload, "email"));
    const char *name = json_string_value(json_object_get(job->payload, "name"));
    char ready[600], ttl[32], link[1024] = "", user_id[24];
    PGresult *r = NULL;
    if (!email || !email[0]) {
        snprintf(err, errcap, "payload has no email");
        return false;
    }
    if (!payload_user(db, job, user_id, &r)) {
        snprintf(err, errcap, "cannot read the user");
        return false;
    }
    struct letter l = {.to = email,
                       .subject = "Welcome to Nexus",
                       .greeting_name = name ? name : "",
                       .paragraphs = {ready, NULL}};
    bool ok = true;
    /* A new account's address is verified through its welcome email. */
    bool verify = r && addressee(r, true);
    if (verify)
        ok = issue_link(cfg, db, job, user_id, NX_TOKEN_KIND_VERIFY, cfg->email_verify_ttl,
                        "verify-email", link, sizeof link, err, errcap);
    account_mail_duration_text(cfg->email_verify_ttl, ttl, sizeof ttl);
    snprintf(ready, sizeof ready, "welcome to Nexus! Your account %s is ready.", email);
    if (verify) {
        size_t n = strlen(ready);
        snprintf(
            ready + n, sizeof ready - n,
            " Please confirm that this is your email address by opening this link within %s:", ttl);
        l.link = link;
        l.link_label = "Confirm my email address";
    }
    if (ok)
        ok = send_letter(cfg, &l, message_id, err, errcap);
    sodium_memzero(link, sizeof link);
    PQclear(r);
    return ok;
}
