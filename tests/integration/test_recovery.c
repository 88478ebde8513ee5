/*
 * test_recovery.c -- account recovery and verification: a user's logins
 * (list, end one, what a refresh records), password reset and email
 * verification with their one-time tokens, and the emails that carry them.
 */
#include "harness.h"
#include "nexus/core/xmem.h"
#include "nexus/auth/token.h"
#include "nexus/db/account_tokens.h"
#include "nexus/db/db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#define LOGIN     "/api/v1/auth/login"
#define REFRESH   "/api/v1/auth/refresh"
#define ME        "/api/v1/users/me"
#define LOGINS    "/api/v1/users/me/logins"
#define PASSWORD  "password-123"
#define RESET     "/api/v1/auth/password-reset"
#define CONFIRM   "/api/v1/auth/password-reset/confirm"
#define VERIFY    "/api/v1/auth/verify-email"
#define RESEND    "/api/v1/auth/verify-email/resend"
#define APP_URL   "https://shop.example.test/app"
#define PER_EMAIL 5 /* LOGIN_MAX_FAILURES_PER_EMAIL, the default */

#define RESET_SUBJECT  "Nexus \xe2\x80\x94 reset your password"
#define VERIFY_SUBJECT "Nexus \xe2\x80\x94 confirm your email address"

static struct nexus_server server, worker;
static char temp_dir[] = "/tmp/nexus-recovery-mail.XXXXXX";
/* Two levels below temp_dir, made by the worker itself (as var/mail is in
 * a fresh working directory). */
static char mail_dir[sizeof temp_dir + 16];

/* A logged-in account: its id and one login's tokens. */
struct account {
    long long id;
    char email[128];
    char *access;
    char *refresh;
};

/* ---- helpers --------------------------------------------------------------- */

static void account_free(struct account *a) {
    free(a->access);
    free(a->refresh);
    a->access = a->refresh = NULL;
}

/* Log a in with a given User-Agent header (NULL: the client's default). */
static void login_as(struct account *a, const char *agent_header) {
    struct http_res *r = call_owned_h(
        "POST", LOGIN, NULL, json_body("{s:s, s:s}", "email", a->email, "password", PASSWORD),
        agent_header);
    expect_status(r, 200, "login");
    account_free(a);
    a->access = take(jstr(r->json, "access_token"));
    a->refresh = take(jstr(r->json, "refresh_token"));
    http_res_free(r);
}

static void make_account(struct account *a, const char *email) {
    memset(a, 0, sizeof *a);
    snprintf(a->email, sizeof a->email, "%s", email);
    struct http_res *r = call_owned(
        "POST", "/api/v1/auth/register", NULL,
        json_body("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "name", "Test User"));
    expect_status(r, 201, "register");
    a->id = jint(r->json, "id");
    http_res_free(r);
    login_as(a, NULL);
}

/* A second login of a's account into out. */
static void another_login(const struct account *a, struct account *out, const char *agent_header) {
    memcpy(out, a, sizeof *a);
    out->access = out->refresh = NULL;
    login_as(out, agent_header);
}

/* Refresh a's login (rotating its refresh token) with a User-Agent. */
static void refresh_as(struct account *a, const char *agent_header) {
    struct http_res *r = call_owned_h(
        "POST", REFRESH, NULL, json_body("{s:s}", "refresh_token", a->refresh), agent_header);
    expect_status(r, 200, "refresh");
    account_free(a);
    a->access = take(jstr(r->json, "access_token"));
    a->refresh = take(jstr(r->json, "refresh_token"));
    http_res_free(r);
}

/* GET /users/me/logins as a; the response (owned). */
static struct http_res *list_logins(const struct account *a) {
    struct http_res *r = call("GET", LOGINS, a->access, NULL);
    expect_status(r, 200, "list logins");
    assert_true(json_is_array(json_object_get(r->json, "items")));
    return r;
}

/* The item of the listing flagged current. */
static json_t *current_item(const struct http_res *r) {
    json_t *items = json_object_get(r->json, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it) {
        if (json_is_true(json_object_get(it, "current")))
            return it;
    }
    fail_msg("no login is flagged current");
    return NULL;
}

static long long current_login_id(const struct account *a) {
    struct http_res *r = list_logins(a);
    long long id = jint(current_item(r), "id");
    http_res_free(r);
    return id;
}

static long long sql_ll(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_ll(const char *fmt, ...) {
    char q[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    char *v = harness_sql_value(&server, "%s", q);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The id of the newest job of kind whose payload member key is value,
 * once it is done (waiting up to 60 s for the worker); 0 if there is none. */
static long long done_job(const char *kind, const char *key, const char *value) {
    char sql[512], *v;
    snprintf(sql, sizeof sql,
             "SELECT coalesce(max(id), 0) || '|' || bool_and(state = 'done') FROM jobs"
             " WHERE kind = '%s' AND payload->>'%s' = '%s'",
             kind, key, value);
    long long deadline = now_ms() + 60000;
    for (;;) {
        v = harness_sql(&server, sql);
        assert_non_null(v);
        long long id = strtoll(v, NULL, 10);
        bool done = strstr(v, "|t") != NULL;
        free(v);
        if (id == 0 || done)
            return id;
        if (now_ms() > deadline)
            fail_msg("job %s for %s did not finish within 60 s", kind, value);
        sleep_ms(20);
    }
}

static void eml_path(long long job, char *out, size_t cap) {
    long long created = sql_ll(
        "SELECT (extract(epoch FROM created_at) * 1000000)::bigint FROM jobs WHERE id = %lld", job);
    snprintf(out, cap, "%s/nexus-job-%lld.%lld@localhost.eml", mail_dir, job, created);
}

/* Check the email of job with check_eml.py (a strict parse with Python's
 * email package) and return the token of its link to page (owned). */
static char *mail_token(long long job, const char *page, const char *subject) {
    char path[512], cmd[2048], out[128] = "";
    eml_path(job, path, sizeof path);
    snprintf(cmd, sizeof cmd,
             "python3 '%s/tests/integration/support/check_eml.py' '%s' '%s' '%s' '%s'",
             harness_source_dir(), path, APP_URL, page, subject);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    bool got = fgets(out, sizeof out, p) != NULL;
    int status = pclose(p);
    if (status != 0 || !got)
        fail_msg("%s failed (status %d)", cmd, status);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strlen(out), 43);
    return take(out);
}

/* Ask for a reset of email (as typed); asserts the 202. */
static void request_reset(const char *email) {
    struct http_res *r = call_owned("POST", RESET, NULL, json_body("{s:s}", "email", email));
    expect_status(r, 202, "password reset request");
    assert_int_equal(r->len, 0);
    http_res_free(r);
}

/* Ask for a reset of the normalised address email and return the token
 * of the email that follows (owned). */
static char *reset_token(const char *email) {
    request_reset(email);
    long long job = done_job("password_reset_email", "email", email);
    assert_true(job > 0);
    return mail_token(job, "reset-password", RESET_SUBJECT);
}

/* The verification token of a's welcome email (owned). */
static char *welcome_token(const struct account *a) {
    char id[24];
    snprintf(id, sizeof id, "%lld", a->id);
    long long job = done_job("welcome_email", "user_id", id);
    assert_true(job > 0);
    return mail_token(job, "verify-email", "Welcome to Nexus");
}

static struct http_res *confirm(const char *token, const char *password) {
    return call_owned("POST", CONFIRM, NULL,
                      json_body("{s:s, s:s}", "token", token, "password", password));
}

static struct http_res *verify(const char *token) {
    return call_owned("POST", VERIFY, NULL, json_body("{s:s}", "token", token));
}

/* Assert a 422 on token whose message contains words. */
static void expect_token_problem(struct http_res *r, const char *words) {
    assert_problem(r, 422, "token");
    json_t *e = json_array_get(json_object_get(r->json, "errors"), 0);
    const char *msg = jstr(e, "message");
    if (!strstr(msg, words))
        fail_msg("token message '%s' does not say '%s'", msg, words);
    http_res_free(r);
}

static bool verified(const struct account *a) {
    struct http_res *r = call("GET", ME, a->access, NULL);
    expect_status(r, 200, "me");
    bool v = json_is_true(json_object_get(r->json, "email_verified"));
    http_res_free(r);
    return v;
}

/* Change a's password from PASSWORD through PATCH /users/me. */
static void change_password(const struct account *a) {
    struct http_res *r = call_owned(
        "PATCH", ME, a->access,
        json_body("{s:s, s:s}", "password", "changed password 1", "current_password", PASSWORD));
    expect_status(r, 200, "password change");
    http_res_free(r);
}

/* Expire user id's open tokens of kind through the database, not by
 * waiting. */
static void expire_tokens(long long id, const char *kind) {
    free(harness_sql_value(&server,
                           "UPDATE account_tokens SET expires_at = now() - interval '1 second'"
                           " WHERE user_id = %lld AND kind = '%s'"
                           " AND used_at IS NULL AND replaced_at IS NULL RETURNING 1",
                           id, kind));
}

/* Delete user id's tokens of kind, as the worker does JOB_RETENTION after
 * they expired. */
static void purge_tokens(long long id, const char *kind) {
    free(harness_sql_value(&server,
                           "WITH gone AS (DELETE FROM account_tokens WHERE user_id = %lld"
                           " AND kind = '%s' RETURNING 1) SELECT count(*) FROM gone",
                           id, kind));
}

/* ---- group set-up ------------------------------------------------------------ */

static int start(void **state) {
    (void)state;
    char dir_env[128];
    assert_non_null(mkdtemp(temp_dir));
    snprintf(mail_dir, sizeof mail_dir, "%s/var/mail", temp_dir);
    snprintf(dir_env, sizeof dir_env, "MAIL_DIR=%s", mail_dir);
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_CLIENT=1000000",
                         "APP_URL=" APP_URL "/",
                         dir_env,
                         "JOB_POLL_MS=100",
                         "JOB_BACKOFF_BASE_MS=50",
                         NULL};
    harness_start(&server, "recovery", env);
    harness_start_worker(&server, &worker, "recovery-worker", env);
    return 0;
}

static int stop(void **state) {
    (void)state;
    char cmd[128];
    harness_stop(&worker);
    harness_stop(&server);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", temp_dir);
    return system(cmd);
}

/* ---- user JSON ----------------------------------------------------------------- */

static void test_new_user_is_not_yet_verified(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "unverified@example.com");
    struct http_res *r = call("GET", ME, a.access, NULL);
    expect_status(r, 200, "me");
    assert_true(json_is_false(json_object_get(r->json, "email_verified")));
    http_res_free(r);
    account_free(&a);
}

/* ---- logins ----------------------------------------------------------------------- */

static void test_logins_lists_the_callers_live_logins_only(void **state) {
    (void)state;
    struct account a, second, other;
    make_account(&a, "lister@example.com");
    another_login(&a, &second, "User-Agent: Second Browser/2.0");
    make_account(&other, "other-lister@example.com");

    struct http_res *r = list_logins(&a);
    json_t *items = json_object_get(r->json, "items"), *it;
    assert_int_equal(json_array_size(items), 2);
    size_t i, current = 0;
    json_array_foreach(items, i, it) {
        assert_int_equal(json_object_size(it), 5);
        assert_true(jint(it, "id") > 0);
        assert_timestamp(jstr(it, "created_at"));
        assert_timestamp(jstr(it, "last_used_at"));
        jstr(it, "user_agent");
        current += json_is_true(json_object_get(it, "current"));
    }
    assert_int_equal(current, 1);
    /* most recently used first: the second login */
    assert_string_equal(jstr(json_array_get(items, 0), "user_agent"), "Second Browser/2.0");
    assert_true(json_is_false(json_object_get(json_array_get(items, 0), "current")));
    http_res_free(r);

    /* an ended login is no longer listed */
    http_res_free(call_owned("POST", "/api/v1/auth/logout", NULL,
                             json_body("{s:s}", "refresh_token", second.refresh)));
    r = list_logins(&a);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 1);
    http_res_free(r);
    account_free(&a);
    account_free(&second);
    account_free(&other);
}

static void test_refresh_records_last_use_and_a_clean_user_agent(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "agent@example.com");
    long long id = current_login_id(&a);
    /* Make the recorded use an hour old, so a refresh visibly moves it. */
    free(harness_sql_value(&server,
                           "UPDATE logins SET last_used_at = now() - interval '1 hour'"
                           " WHERE number = %lld RETURNING 1",
                           id));
    refresh_as(&a, "User-Agent: Evil\x01\x1b[2J  Agent\xff/1.0");
    struct http_res *r = list_logins(&a);
    json_t *cur = current_item(r);
    assert_int_equal(jint(cur, "id"), id); /* a refresh keeps the login */
    assert_string_equal(jstr(cur, "user_agent"), "Evil[2J Agent/1.0");
    http_res_free(r);
    assert_int_equal(sql_ll("SELECT count(*) FROM logins WHERE number = %lld"
                            " AND last_used_at > now() - interval '1 minute'",
                            id),
                     1);

    /* a long User-Agent is cut to 256 characters */
    char header[1200] = "User-Agent: ";
    memset(header + 12, 'u', 1000);
    header[1012] = '\0';
    refresh_as(&a, header);
    r = list_logins(&a);
    assert_int_equal(strlen(jstr(current_item(r), "user_agent")), 256);
    http_res_free(r);
    account_free(&a);
}

static void test_deleting_a_login_ends_it_and_only_it(void **state) {
    (void)state;
    struct account a, second;
    char path[96];
    make_account(&a, "ender@example.com");
    another_login(&a, &second, NULL);
    long long id = current_login_id(&second);
    snprintf(path, sizeof path, LOGINS "/%lld", id);
    struct http_res *r = call("DELETE", path, a.access, NULL);
    expect_status(r, 204, "end login");
    assert_int_equal(r->len, 0);
    http_res_free(r);
    /* its access and refresh tokens stop at once; the caller's own go on */
    expect_problem(call("GET", ME, second.access, NULL), 401, NULL);
    expect_problem(
        call_owned("POST", REFRESH, NULL, json_body("{s:s}", "refresh_token", second.refresh)), 401,
        NULL);
    http_res_free(http_expect("GET", ME, a.access, NULL, 200));
    /* an ended login is gone */
    expect_problem(call("DELETE", path, a.access, NULL), 404, NULL);
    /* ending one's current login is a logout */
    snprintf(path, sizeof path, LOGINS "/%lld", current_login_id(&a));
    http_res_free(http_expect("DELETE", path, a.access, NULL, 204));
    expect_problem(call("GET", ME, a.access, NULL), 401, NULL);
    account_free(&a);
    account_free(&second);
}

static void test_another_users_login_is_404_and_stays_live(void **state) {
    (void)state;
    struct account a, victim;
    char path[96];
    make_account(&a, "prober@example.com");
    make_account(&victim, "victim@example.com");
    snprintf(path, sizeof path, LOGINS "/%lld", current_login_id(&victim));
    expect_problem(call("DELETE", path, a.access, NULL), 404, NULL);
    http_res_free(http_expect("GET", ME, victim.access, NULL, 200));
    const char *bad[] = {LOGINS "/0", LOGINS "/-1", LOGINS "/abc", LOGINS "/99999999999",
                         LOGINS "/1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_problem(call("DELETE", bad[i], a.access, NULL), 404, NULL);
    account_free(&a);
    account_free(&victim);
}

static void test_logins_need_a_login(void **state) {
    (void)state;
    expect_problem(call("GET", LOGINS, NULL, NULL), 401, NULL);
    expect_problem(call("DELETE", LOGINS "/1", NULL, NULL), 401, NULL);
}

static void test_deactivation_ends_every_login(void **state) {
    (void)state;
    struct account a, second;
    char path[64];
    make_account(&a, "deactivated@example.com");
    another_login(&a, &second, NULL);
    harness_create_user(&server, "recovery-admin@example.com", "admin", PASSWORD);
    char *admin = harness_login("recovery-admin@example.com", PASSWORD);
    snprintf(path, sizeof path, "/api/v1/users/%lld", a.id);
    http_res_free(http_expect("DELETE", path, admin, NULL, 204));
    assert_int_equal(sql_ll("SELECT count(*) FROM logins WHERE user_id = %lld"
                            " AND revoked_at IS NULL",
                            a.id),
                     0);
    expect_problem(call("GET", ME, a.access, NULL), 401, NULL);
    expect_problem(call("GET", ME, second.access, NULL), 401, NULL);
    free(admin);
    account_free(&a);
    account_free(&second);
}

/* ---- password reset ------------------------------------------------------------ */

static void test_reset_mail_is_a_real_message_whose_token_sets_the_password(void **state) {
    (void)state;
    struct account a, other_login;
    make_account(&a, "reset-me@example.com");
    another_login(&a, &other_login, NULL);
    assert_false(verified(&a));
    /* an address with upper case finds the account */
    request_reset("  Reset-Me@Example.COM ");
    long long job = done_job("password_reset_email", "email", "reset-me@example.com");
    assert_true(job > 0);
    char *token = mail_token(job, "reset-password", RESET_SUBJECT);
    struct http_res *r = confirm(token, "a brand new password");
    expect_status(r, 204, "confirm");
    assert_int_equal(r->len, 0);
    http_res_free(r);
    /* every login of the user ended; the old password is gone */
    expect_problem(call("GET", ME, a.access, NULL), 401, NULL);
    expect_problem(call("GET", ME, other_login.access, NULL), 401, NULL);
    expect_problem(
        call_owned("POST", REFRESH, NULL, json_body("{s:s}", "refresh_token", a.refresh)), 401,
        NULL);
    expect_problem(call_owned("POST", LOGIN, NULL,
                              json_body("{s:s, s:s}", "email", a.email, "password", PASSWORD)),
                   401, NULL);
    char *access = harness_login(a.email, "a brand new password");
    /* the link reached the address: it is verified too */
    struct account fresh = {.access = access};
    assert_true(verified(&fresh));
    /* the token was used up */
    expect_token_problem(confirm(token, "yet another password"), "already been used");
    free(token);
    free(access);
    account_free(&a);
    account_free(&other_login);
}

/* Log in as email with password; the response (owned). */
static struct http_res *try_login(const char *email, const char *password) {
    return call_owned("POST", LOGIN, NULL,
                      json_body("{s:s, s:s}", "email", email, "password", password));
}

/* Fail email's logins up to the limit: its next login is a 429, even
 * with password, the right one. */
static void lock_out(const char *email, const char *password) {
    for (int i = 0; i < PER_EMAIL; i++)
        expect_problem(try_login(email, "not the password"), 401, NULL);
    struct http_res *r = try_login(email, password);
    assert_problem(r, 429, NULL);
    assert_non_null(http_header(r, "Retry-After"));
    http_res_free(r);
}

static void test_a_confirmed_reset_lets_a_locked_out_owner_log_in(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "locked-out@example.com");
    lock_out(a.email, PASSWORD);
    char *token = reset_token(a.email);
    /* a refused confirm proves nothing: the email stays locked out */
    expect_token_problem(confirm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a new password"),
                         "unknown");
    expect_problem(try_login(a.email, PASSWORD), 429, NULL);
    struct http_res *r = confirm(token, "a new password");
    expect_status(r, 204, "confirm");
    http_res_free(r);
    free(harness_login(a.email, "a new password"));
    free(token);
    account_free(&a);
}

static void test_reset_of_an_unknown_address_answers_the_same_and_sends_nothing(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "known@example.com");
    struct http_res *known =
        call_owned("POST", RESET, NULL, json_body("{s:s}", "email", "known@example.com"));
    /* an unknown address, and one that is not an address at all: the
     * contract's "202 whatever the email" */
    static const char *const OTHERS[] = {"nobody@example.com", " Not An Address "};
    static const char *const KEYS[] = {"nobody@example.com", "not an address"};
    for (size_t k = 0; k < 2; k++) {
        struct http_res *unknown =
            call_owned("POST", RESET, NULL, json_body("{s:s}", "email", OTHERS[k]));
        assert_int_equal(known->status, 202);
        assert_int_equal(unknown->status, 202);
        assert_int_equal(known->len, unknown->len);
        assert_int_equal(known->header_count, unknown->header_count);
        for (size_t i = 0; i < known->header_count; i++) {
            assert_string_equal(known->header_names[i], unknown->header_names[i]);
            if (strcasecmp(known->header_names[i], "X-Request-Id") != 0 &&
                strcasecmp(known->header_names[i], "Date") != 0)
                assert_string_equal(known->header_values[i], unknown->header_values[i]);
        }
        http_res_free(unknown);
        /* the worker looked and wrote nothing */
        long long job = done_job("password_reset_email", "email", KEYS[k]);
        char path[512];
        eml_path(job, path, sizeof path);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    http_res_free(known);
    free(mail_token(done_job("password_reset_email", "email", "known@example.com"),
                    "reset-password", RESET_SUBJECT));
    account_free(&a);
}

/* An address that is not one (it does not normalise, or holds a NUL) is
 * queued as given and names no account: the worker sends nothing and the
 * job is done. PostgreSQL's lower() folds the Kelvin sign to k, so such a
 * spelling found another account's, past the limit per address; a NUL
 * left a job that failed at every attempt. */
static void test_a_spelling_that_is_no_address_reaches_no_account(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "kelvin-kate@example.com");
    static const char *const SENT[] = {"\xe2\x84\xaa"
                                       "elvin-kate@example.com",
                                       "kelvin\0kate"};
    static const char *const QUEUED[] = {"\xe2\x84\xaa"
                                         "elvin-kate@example.com",
                                         ""};
    for (size_t i = 0; i < 2; i++) {
        json_t *body = json_object();
        json_object_set_new(body, "email", json_stringn(SENT[i], i ? 11 : strlen(SENT[i])));
        struct http_res *r = call_owned("POST", RESET, NULL, dump(body));
        assert_int_equal(r->status, 202);
        http_res_free(r);
        long long job = done_job("password_reset_email", "email", QUEUED[i]);
        assert_true(job > 0);
        char path[512];
        eml_path(job, path, sizeof path);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    account_free(&a);
}

static void test_a_newer_request_replaces_the_earlier_token(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "twice@example.com");
    char *first = reset_token(a.email);
    char *second = reset_token(a.email);
    assert_string_not_equal(first, second);
    expect_token_problem(confirm(first, "new password one"), "replaced by a newer link");
    struct http_res *r = confirm(second, "new password two");
    expect_status(r, 204, "confirm the newer token");
    http_res_free(r);
    free(first);
    free(second);
    account_free(&a);
}

static void test_expired_and_deactivated_tokens_are_422(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "expiry@example.com");
    char *token = reset_token(a.email);
    expire_tokens(a.id, "password_reset");
    expect_token_problem(confirm(token, "new password here"), "has expired");
    free(token);

    token = reset_token(a.email);
    free(harness_sql_value(&server,
                           "UPDATE users SET is_active = false WHERE id = %lld RETURNING 1", a.id));
    expect_token_problem(confirm(token, "new password here"), "deactivated account");
    free(harness_sql_value(&server, "UPDATE users SET is_active = true WHERE id = %lld RETURNING 1",
                           a.id));
    /* the refused attempts used nothing up */
    struct http_res *r = confirm(token, "new password here");
    expect_status(r, 204, "confirm after reactivation");
    http_res_free(r);
    free(token);
    account_free(&a);
}

/* A link sent before the password changed, or before the account was
 * deactivated (and reactivated since), no longer sets the password. */
static void test_a_password_change_or_deactivation_withdraws_reset_links(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "withdrawn@example.com");
    char *token = reset_token(a.email);
    change_password(&a);
    expect_token_problem(confirm(token, "new password here"), "has expired");
    free(token);

    token = reset_token(a.email);
    harness_create_user(&server, "withdraw-admin@example.com", "admin", PASSWORD);
    char *admin = harness_login("withdraw-admin@example.com", PASSWORD);
    snprintf(path, sizeof path, "/api/v1/users/%lld", a.id);
    http_res_free(http_expect("DELETE", path, admin, NULL, 204));
    http_res_free(http_expect("PATCH", path, admin, "{\"is_active\": true}", 200));
    expect_token_problem(confirm(token, "new password here"), "has expired");
    /* a link asked for after the reactivation works */
    free(token);
    token = reset_token(a.email);
    struct http_res *r = confirm(token, "new password here");
    expect_status(r, 204, "a new link");
    http_res_free(r);
    free(token);
    free(admin);
    account_free(&a);
}

static void test_deactivated_account_gets_no_reset_mail(void **state) {
    (void)state;
    struct account a;
    char path[512];
    make_account(&a, "inactive-reset@example.com");
    free(harness_sql_value(&server,
                           "UPDATE users SET is_active = false WHERE id = %lld RETURNING 1", a.id));
    request_reset(a.email);
    eml_path(done_job("password_reset_email", "email", a.email), path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0);
    account_free(&a);
}

/* A reset request for email answers 202. */
static void expect_reset_answered(const char *email) {
    struct http_res *r = call_owned("POST", RESET, NULL, json_body("{s:s}", "email", email));
    expect_status(r, 202, "reset request");
    http_res_free(r);
}

static void test_malformed_tokens_and_passwords_are_422_on_their_field(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "malformed@example.com");
    char *token = reset_token(a.email);
    char buf[64];
    /* truncated, extended, other alphabet, padded, unknown but well formed */
    snprintf(buf, sizeof buf, "%.42s", token);
    expect_token_problem(confirm(buf, "new password here"), "43 URL-safe base64");
    snprintf(buf, sizeof buf, "%sA", token);
    expect_token_problem(confirm(buf, "new password here"), "43 URL-safe base64");
    snprintf(buf, sizeof buf, "%.40s+/=", token);
    expect_token_problem(confirm(buf, "new password here"), "43 URL-safe base64");
    expect_token_problem(confirm("", "new password here"), "43 URL-safe base64");
    expect_token_problem(
        confirm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "new password here"), "is unknown");
    /* the password must be 8 to 128 characters, counted as characters */
    expect_problem(confirm(token, "short"), 422, "password");
    char long_pw[400];
    for (int i = 0; i < 129; i++)
        memcpy(long_pw + 2 * i, "\xc3\xa9", 2);
    long_pw[258] = '\0';
    expect_problem(confirm(token, long_pw), 422, "password");
    /* types, missing and unknown fields */
    expect_problem(call("POST", CONFIRM, NULL, "{\"token\": 5, \"password\": \"new password\"}"),
                   422, "token");
    expect_problem(call("POST", CONFIRM, NULL, "{\"password\": \"new password here\"}"), 422,
                   "token");
    expect_problem(call_owned("POST", CONFIRM, NULL,
                              json_body("{s:s, s:s, s:s}", "token", token, "password",
                                        "new password here", "email", a.email)),
                   422, "email");
    /* 202 whatever the email: one that can be no account's (too long,
     * empty, blank) is answered alike, and each is counted as its own
     * spelling, not with every other such address */
    char *long_address = malloc(600);
    assert_non_null(long_address);
    memset(long_address, 'a', 255);
    long_address[255] = '\0';
    expect_reset_answered(long_address);
    for (int i = 0; i < 254; i++) /* 254 characters, 508 bytes */
        memcpy(long_address + 2 * i, "\xc3\xa9", 2);
    long_address[508] = '\0';
    for (int i = 0; i < 7; i++) {
        long_address[1] = (char)(0xa0 + i); /* a first character of its own */
        expect_reset_answered(long_address);
    }
    memcpy(long_address + 508, "\xc3\xa9", 3); /* 255 characters */
    expect_reset_answered(long_address);
    expect_reset_answered("");
    expect_reset_answered("  ");
    free(long_address);
    /* an address holding a NUL names no account: answered alike, and
     * never read as the address before the NUL */
    struct http_res *nul =
        call("POST", RESET, NULL, "{\"email\": \"nul-reset@example.com\\u0000x\"}");
    expect_status(nul, 202, "reset with a NUL");
    http_res_free(nul);
    harness_expect_sql(&server, "0",
                       "SELECT count(*) FROM jobs WHERE kind = 'password_reset_email'"
                       " AND payload->>'email' LIKE 'nul-reset@%%'");
    nul = call("POST", "/api/v1/auth/logout", NULL, "{\"refresh_token\": \"a\\u0000b\"}");
    expect_status(nul, 204, "logout with a NUL");
    http_res_free(nul);
    expect_problem(call("POST", REFRESH, NULL, "{\"refresh_token\": \"a\\u0000b\"}"), 401, NULL);
    expect_problem(call("POST", RESET, NULL, "{}"), 422, "email");
    expect_problem(call("POST", RESET, NULL, "{\"email\": \"a@example.com\", \"role\": 1}"), 422,
                   "role");
    /* none of that used the token */
    struct http_res *r = confirm(token, "new password here");
    expect_status(r, 204, "confirm after the refusals");
    http_res_free(r);
    free(token);
    account_free(&a);
}

struct race {
    const char *token;
};

static long confirm_once(int i, void *ctx) {
    const struct race *race = ctx;
    char password[32];
    snprintf(password, sizeof password, "racing password %d", i);
    struct http_res *r = confirm(race->token, password);
    long status = r->status;
    http_res_free(r);
    return status;
}

/* Two confirms of one token at the same moment, a few times over: each
 * time one sets the password and the other finds the token used. */
static void test_concurrent_confirms_of_one_token_give_one_204(void **state) {
    (void)state;
    struct account a;
    long statuses[2];
    make_account(&a, "race@example.com");
    for (int round = 1; round <= 3; round++) {
        char *token = reset_token(a.email);
        struct race race = {token};
        harness_race(2, confirm_once, &race, statuses);
        if (harness_count_status(statuses, 2, 204) != 1 ||
            harness_count_status(statuses, 2, 422) != 1)
            fail_msg("round %d: statuses %ld and %ld", round, statuses[0], statuses[1]);
        assert_int_equal(sql_ll("SELECT count(*) FROM account_tokens WHERE user_id = %lld"
                                " AND used_at IS NOT NULL",
                                a.id),
                         round);
        free(token);
    }
    account_free(&a);
}

static void test_a_thousand_requests_for_one_address_queue_at_most_the_limit(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "flood@example.com");
    int accepted = 0, limited = 0;
    for (int i = 0; i < 1000; i++) {
        struct http_res *r =
            call_owned("POST", RESET, NULL, json_body("{s:s}", "email", "Flood@example.com"));
        if (r->status == 202) {
            accepted++;
            assert_int_equal(limited, 0); /* never a 202 after a 429 */
        } else {
            assert_problem(r, 429, NULL);
            assert_non_null(http_header(r, "Retry-After"));
            limited++;
        }
        http_res_free(r);
    }
    assert_int_equal(accepted, PER_EMAIL);
    assert_int_equal(limited, 1000 - PER_EMAIL);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE kind = 'password_reset_email'"
                            " AND payload->>'email' = '%s'",
                            "flood@example.com"),
                     PER_EMAIL);
    account_free(&a);
}

/* ---- email verification ------------------------------------------------------------- */

static void test_welcome_mail_verifies_the_address(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "welcome-verify@example.com");
    char *token = welcome_token(&a);
    /* a verification token is not a reset token */
    expect_token_problem(confirm(token, "new password here"), "not a password reset token");
    struct http_res *r = verify(token);
    expect_status(r, 204, "verify");
    assert_int_equal(r->len, 0);
    http_res_free(r);
    assert_true(verified(&a));
    expect_token_problem(verify(token), "already been used");
    /* nor a reset token a verification token */
    char *reset = reset_token(a.email);
    expect_token_problem(verify(reset), "not an email verification token");
    free(reset);
    free(token);
    account_free(&a);
}

static void test_resend_sends_a_new_link_until_verified(void **state) {
    (void)state;
    struct account a;
    char id[24];
    make_account(&a, "resend@example.com");
    char *first = welcome_token(&a);
    struct http_res *r = call("POST", RESEND, a.access, NULL);
    expect_status(r, 202, "resend");
    http_res_free(r);
    snprintf(id, sizeof id, "%lld", a.id);
    char *second =
        mail_token(done_job("verification_email", "user_id", id), "verify-email", VERIFY_SUBJECT);
    expect_token_problem(verify(first), "replaced by a newer link");
    r = verify(second);
    expect_status(r, 204, "verify with the resent link");
    http_res_free(r);
    assert_true(verified(&a));
    /* verified: a resend is accepted and sends nothing */
    r = call("POST", RESEND, a.access, NULL);
    expect_status(r, 202, "resend when verified");
    http_res_free(r);
    /* an empty JSON object is no body; a field in it is unknown */
    r = call("POST", RESEND, a.access, " {} ");
    expect_status(r, 202, "resend with {}");
    http_res_free(r);
    expect_problem(call("POST", RESEND, a.access, "{\"email\": \"resend@example.com\"}"), 422,
                   "email");
    expect_problem(call("POST", RESEND, a.access, "[]"), 400, NULL);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE kind = 'verification_email'"
                            " AND payload->>'user_id' = '%lld'",
                            a.id),
                     1);
    expect_problem(call("POST", RESEND, NULL, NULL), 401, NULL);
    free(first);
    free(second);
    account_free(&a);
}

/* Queue a verification email for user id as a resend does; its job id. */
static long long queue_verification(long long user_id) {
    return sql_ll("INSERT INTO jobs (kind, payload) VALUES ('verification_email',"
                  " json_build_object('user_id', %lld)) RETURNING id",
                  user_id);
}

/* The token of a's newest verification email, once sent (owned). */
static char *verification_token(const struct account *a) {
    char id[24];
    snprintf(id, sizeof id, "%lld", a->id);
    return mail_token(done_job("verification_email", "user_id", id), "verify-email",
                      VERIFY_SUBJECT);
}

/* Make account a of email, its welcome email sent, then queue a
 * verification email for it; the job, and the token that email carries
 * into *token (owned). */
static long long verification_of_new_account(struct account *a, const char *email, char **token) {
    make_account(a, email);
    free(welcome_token(a));
    long long job = queue_verification(a->id);
    *token = verification_token(a);
    return job;
}

/* Verify a's address with token: a 204, and a is verified. */
static void expect_verified_with(const struct account *a, const char *token, const char *what) {
    struct http_res *r = verify(token);
    expect_status(r, 204, what);
    http_res_free(r);
    assert_true(verified(a));
}

/* Run job again, as after an attempt that delivered its message but was
 * counted failed (or as `nexus jobs retry` does), or a job held by
 * queue_held for the first time, and return the token of its link to page
 * that its message then carries (owned). */
static char *token_of_retry_to(long long job, const char *page, const char *subject) {
    free(harness_sql_value(&server,
                           "UPDATE jobs SET state = 'pending', run_at = now() WHERE id = %lld"
                           " RETURNING 1",
                           job));
    for (long long deadline = now_ms() + 60000;
         sql_ll("SELECT count(*) FROM jobs WHERE id = %lld AND state = 'done'", job) != 1;
         sleep_ms(20))
        if (now_ms() > deadline)
            fail_msg("job %lld did not finish again within 60 s", job);
    return mail_token(job, page, subject);
}

static char *token_of_retry(long long job) {
    return token_of_retry_to(job, "verify-email", VERIFY_SUBJECT);
}

/* A retried job's message has the Message-ID of the first (a mailbox may
 * keep only the first copy): it carries the link the first carried, which
 * keeps working. A newer request's link still replaces it, and a retry of
 * the older job afterwards takes nothing from the newer link. */
static void test_a_retried_job_sends_the_link_it_sent_before(void **state) {
    (void)state;
    struct account a;
    char *first;
    long long older = verification_of_new_account(&a, "retried@example.com", &first);
    char *again = token_of_retry(older);
    assert_string_equal(again, first);
    long long newer = queue_verification(a.id);
    char *newest = verification_token(&a);
    assert_true(newer > older);
    assert_string_not_equal(newest, first);
    char *late = token_of_retry(older);
    assert_string_equal(late, first);
    expect_token_problem(verify(first), "replaced by a newer link");
    expect_verified_with(&a, newest, "verify with the newer link");
    free(first);
    free(again);
    free(newest);
    free(late);
    account_free(&a);
}

/* A retried job whose link expired meanwhile (its attempts ran out for
 * longer than the link works, and it was retried later) sends the link it
 * sent before, working for as long as its message says again. */
static void test_a_job_retried_after_its_link_expired_sends_a_working_link(void **state) {
    (void)state;
    struct account a;
    char *first;
    long long job = verification_of_new_account(&a, "retried-late@example.com", &first);
    expire_tokens(a.id, "email_verify");
    expect_token_problem(verify(first), "has expired");
    char *again = token_of_retry(job);
    assert_string_equal(again, first);
    expect_verified_with(&a, again, "verify with the link sent again");
    free(first);
    free(again);
    account_free(&a);
}

/* A job retried after its token was purged (it expired more than
 * JOB_RETENTION ago) stores its token again, and replaces no token of a
 * request newer than the job. */
static void test_a_job_retried_after_its_token_was_purged_keeps_a_newer_link(void **state) {
    (void)state;
    struct account a;
    char *first;
    long long older = verification_of_new_account(&a, "purged-token@example.com", &first);
    purge_tokens(a.id, "email_verify");
    queue_verification(a.id);
    char *newest = verification_token(&a);
    char *late = token_of_retry(older);
    assert_string_equal(late, first);
    expect_verified_with(&a, newest, "verify with the newer link");
    free(first);
    free(newest);
    free(late);
    account_free(&a);
}

/* Make account a of email and return the job of a reset email for it,
 * the token that email carries into *token (owned). */
static long long reset_of_new_account(struct account *a, const char *email, char **token) {
    make_account(a, email);
    *token = reset_token(a->email);
    return done_job("password_reset_email", "email", a->email);
}

/* Retry job, the reset email that carried token: it carries token again,
 * refused as expired. */
static void expect_retried_reset_refused(long long job, const char *token) {
    char *again = token_of_retry_to(job, "reset-password", RESET_SUBJECT);
    assert_string_equal(again, token);
    expect_token_problem(confirm(again, "another password"), "has expired");
    free(again);
}

/* A reset link withdrawn by a password change stays withdrawn when its
 * job is retried, even one that had expired before the change. */
static void test_a_retried_job_does_not_bring_a_withdrawn_link_back(void **state) {
    (void)state;
    struct account a;
    char *token;
    long long job = reset_of_new_account(&a, "withdrawn-retry@example.com", &token);
    expire_tokens(a.id, "password_reset");
    change_password(&a);
    expect_retried_reset_refused(job, token);
    free(token);
    account_free(&a);
}

/* A reset link withdrawn by a password change stays withdrawn when its
 * job is retried after its token was purged (JOB_RETENTION after it
 * expired); a link asked for after the change works. */
static void test_a_job_retried_after_its_withdrawn_token_was_purged_stays_refused(void **state) {
    (void)state;
    struct account a;
    char *token;
    long long job = reset_of_new_account(&a, "withdrawn-purged@example.com", &token);
    change_password(&a);
    purge_tokens(a.id, "password_reset");
    expect_retried_reset_refused(job, token);
    char *fresh = reset_token(a.email);
    struct http_res *r = confirm(fresh, "new password here");
    expect_status(r, 204, "a link asked for after the change");
    http_res_free(r);
    free(token);
    free(fresh);
    account_free(&a);
}

/* A reset link that set the password stays used up when its job is
 * retried after its token was purged. */
static void test_a_job_retried_after_its_used_token_was_purged_stays_refused(void **state) {
    (void)state;
    struct account a;
    char *token;
    long long job = reset_of_new_account(&a, "used-purged@example.com", &token);
    struct http_res *r = confirm(token, "new password here");
    expect_status(r, 204, "confirm");
    http_res_free(r);
    purge_tokens(a.id, "password_reset");
    expect_retried_reset_refused(job, token);
    free(token);
    account_free(&a);
}

/* Queue an email of kind for a (a reset's names its address, a
 * verification's its id) as a request seconds_ago back does, held as
 * while the worker is stopped: it runs only when token_of_retry_to runs
 * it. The job. */
static long long queue_held(const struct account *a, const char *kind, int seconds_ago) {
    char payload[256];
    bool reset = strcmp(kind, "password_reset") == 0;
    if (reset)
        snprintf(payload, sizeof payload, "json_build_object('email', '%s')", a->email);
    else
        snprintf(payload, sizeof payload, "json_build_object('user_id', %lld)", a->id);
    return sql_ll("INSERT INTO jobs (kind, payload, run_at, created_at) VALUES ('%s', %s,"
                  " 'infinity', now() - interval '%d seconds') RETURNING id",
                  reset ? "password_reset_email" : "verification_email", payload, seconds_ago);
}

/* Run job of a link of kind; its token (owned). */
static char *token_of_job(long long job, const char *kind) {
    if (strcmp(kind, "password_reset") == 0)
        return token_of_retry_to(job, "reset-password", RESET_SUBJECT);
    return token_of_retry(job);
}

/* Use token, a link of kind, and return the answer (owned). */
static struct http_res *use_token(const char *token, const char *kind) {
    return strcmp(kind, "password_reset") == 0 ? confirm(token, "new password here")
                                               : verify(token);
}

/* Two requests for a link of kind, a second apart, queued while no job
 * runs; their jobs then run, the newer's first when newer_first. The
 * newer request's link works and the older's is refused as replaced,
 * also when run again, where the link whose job ran last replaced the
 * other (or none of them replaced the other). */
static void expect_the_later_request_to_win(const char *email, const char *kind, bool newer_first) {
    struct account a;
    make_account(&a, email);
    free(welcome_token(&a));
    long long older = queue_held(&a, kind, 1), newer = queue_held(&a, kind, 0);
    char *newest = newer_first ? token_of_job(newer, kind) : NULL;
    char *first = token_of_job(older, kind);
    if (!newest)
        newest = token_of_job(newer, kind);
    expect_token_problem(use_token(first, kind), "replaced by a newer link");
    char *again = token_of_job(older, kind);
    assert_string_equal(again, first);
    expect_token_problem(use_token(again, kind), "replaced by a newer link");
    struct http_res *r = use_token(newest, kind);
    expect_status(r, 204, "use the newer request's link");
    http_res_free(r);
    free(first);
    free(again);
    free(newest);
    account_free(&a);
}

static void test_the_later_of_two_waiting_requests_replaces_the_earlier(void **state) {
    (void)state;
    expect_the_later_request_to_win("waiting-resets@example.com", "password_reset", false);
    expect_the_later_request_to_win("waiting-verifications@example.com", "email_verify", false);
}

static void test_an_earlier_request_whose_job_runs_last_is_replaced(void **state) {
    (void)state;
    expect_the_later_request_to_win("late-reset@example.com", "password_reset", true);
    expect_the_later_request_to_win("late-verification@example.com", "email_verify", true);
}

/* ---- two workers issuing one user's links at once ------------------------------- */

/* One worker's issue of a reset token: the token's hash parameter (64 hex
 * digits of fill), of the request queued at queued_us, in a transaction
 * of a connection of its own, left open (commit with issue_end). */
struct issue {
    const char *user_id;
    char hash[NX_TOKEN_HASH_PARAM_LEN];
    long long queued_us;
    struct db *db;
    _Atomic bool done;
};

static void issue_begin(struct issue *is) {
    is->db = db_open(server.database_url);
    assert_non_null(is->db);
    assert_int_equal(db_begin(is->db), NX_OK);
    char queued[24];
    snprintf(queued, sizeof queued, "%lld", is->queued_us);
    assert_int_equal(
        account_token_issue(is->db, is->user_id, "password_reset", is->hash, "600", queued), NX_OK);
}

static void issue_end(struct issue *is) {
    assert_int_equal(db_commit(is->db), NX_OK);
    db_close(is->db);
}

static void *issue_thread(void *arg) {
    struct issue *is = arg;
    issue_begin(is);
    issue_end(is);
    is->done = true;
    return NULL;
}

/* Until issue is done or a statement of the test's database waits for a
 * lock. */
static void wait_for_issue_to_wait(const struct issue *is) {
    PGconn *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    for (int i = 0; i < 3000 && !is->done; i++) {
        PGresult *r = PQexec(watch, "SELECT count(*) FROM pg_stat_activity"
                                    " WHERE wait_event_type = 'Lock'"
                                    " AND datname = current_database()");
        bool waits = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0;
        PQclear(r);
        if (waits)
            break;
        usleep(10 * 1000);
    }
    PQfinish(watch);
}

/* Whether the token of hash is replaced ("t" or "f"). */
static void expect_replaced(const struct issue *is, const char *replaced) {
    harness_expect_sql(&server, replaced,
                       "SELECT replaced_at IS NOT NULL FROM account_tokens"
                       " WHERE token_hash = '%s'::bytea",
                       is->hash);
}

/* Two workers issue the reset links of two requests of one user at once:
 * the first's transaction is open while the second issues and commits
 * (it waits for the first, or, when nothing holds it, is done). Whichever
 * worker ran first, the newer request's link is the one left open, where
 * each missed the other's uncommitted token and both stayed open. */
static void expect_one_open_link_of_two_at_once(const char *email, bool newer_first) {
    struct account a;
    make_account(&a, email);
    char id[24];
    snprintf(id, sizeof id, "%lld", a.id);
    long long now_us = (long long)time(NULL) * 1000000;
    struct issue older = {.user_id = id, .queued_us = now_us - 2000000};
    struct issue newer = {.user_id = id, .queued_us = now_us - 1000000};
    memset(older.hash, 'a', sizeof older.hash - 1);
    memset(newer.hash, 'b', sizeof newer.hash - 1);
    memcpy(older.hash, "\\x", 2);
    memcpy(newer.hash, "\\x", 2);
    struct issue *first = newer_first ? &newer : &older, *second = newer_first ? &older : &newer;
    issue_begin(first);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, issue_thread, second), 0);
    wait_for_issue_to_wait(second);
    issue_end(first);
    pthread_join(t, NULL);
    expect_replaced(&older, "t");
    expect_replaced(&newer, "f");
    account_free(&a);
}

static void test_two_workers_at_once_leave_the_newer_link_alone_open(void **state) {
    (void)state;
    expect_one_open_link_of_two_at_once("two-workers-older-first@example.com", false);
    expect_one_open_link_of_two_at_once("two-workers-newer-first@example.com", true);
}

/* A worker issues the reset link of a request made before a password
 * change while the change's transaction, which withdraws the user's reset
 * links, is open: the link ends up withdrawn (refused as expired), where
 * each missed the other's work and the link stayed open. */
static void test_a_link_issued_during_a_withdrawal_is_withdrawn(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "issued-during-withdrawal@example.com");
    char id[24];
    snprintf(id, sizeof id, "%lld", a.id);
    struct issue is = {.user_id = id, .queued_us = (long long)time(NULL) * 1000000 - 2000000};
    memset(is.hash, 'c', sizeof is.hash - 1);
    memcpy(is.hash, "\\x", 2);
    struct db *change = db_open(server.database_url);
    assert_non_null(change);
    assert_int_equal(db_begin(change), NX_OK); /* as a password change does */
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT 1 FROM users WHERE id = %s FOR NO KEY UPDATE", id);
    assert_int_equal(db_exec_sql(change, lock), NX_OK);
    assert_int_equal(account_reset_links_withdraw(change, id), NX_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, issue_thread, &is), 0);
    wait_for_issue_to_wait(&is);
    assert_int_equal(db_commit(change), NX_OK);
    db_close(change);
    pthread_join(t, NULL);
    harness_expect_sql(&server, "t",
                       "SELECT withdrawn_at IS NOT NULL AND expires_at <= now() FROM account_tokens"
                       " WHERE token_hash = '%s'::bytea",
                       is.hash);
    account_free(&a);
}

/* The text of a file (owned). */
static char *file_text(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_append(&b, "", 1);
    return b.data;
}

/* An address of the longest length allowed (254) is written whole into
 * the sentence that names it. */
static void test_the_longest_address_is_named_whole(void **state) {
    (void)state;
    char email[255], sentence[400], path[512], id[24];
    /* a 64-character local part and labels of 63, 63 and 56 before .test */
    const size_t parts[] = {64, 63, 63, 56};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        memset(email + n, 'l' + (int)i, parts[i]);
        n += parts[i];
        email[n++] = i == 0 ? '@' : '.';
    }
    snprintf(email + n, sizeof email - n, "test");
    assert_int_equal(strlen(email), 254);
    struct http_res *r = call_owned(
        "POST", "/api/v1/auth/register", NULL,
        json_body("{s:s, s:s, s:s}", "email", email, "password", PASSWORD, "name", "Long"));
    expect_status(r, 201, "register");
    snprintf(id, sizeof id, "%lld", (long long)jint(r->json, "id"));
    long long user = jint(r->json, "id");
    http_res_free(r);
    queue_verification(user);
    long long job = done_job("verification_email", "user_id", id);
    eml_path(job, path, sizeof path);
    char *text = file_text(path);
    snprintf(
        sentence, sizeof sentence,
        "please confirm that %s is your email address by opening this link within 1 day:", email);
    if (!strstr(text, sentence))
        fail_msg("the message does not say '%s'", sentence);
    free(text);
}

/* ---- equal timing --------------------------------------------------------------------- */

/* The statements one reset request sends to PostgreSQL (its answer checked). */
static long statements_of_reset(const char *email) {
    long before = http_metric("nexus_db_statements_total");
    request_reset(email);
    long after = http_metric("nexus_db_statements_total");
    assert_true(before >= 0 && after > before);
    return after - before;
}

static long reset_jobs_for(const char *email) {
    char *v = harness_sql_value(&server,
                                "SELECT count(*) FROM jobs WHERE kind = 'password_reset_email'"
                                " AND payload->>'email' = '%s'",
                                email);
    long n = v ? strtol(v, NULL, 10) : -1;
    free(v);
    return n;
}

/*
 * Requests for existing and for unknown addresses take the same time
 * because they do the same work: the request only counts the address and
 * queues a job (the worker looks the account up later), so each costs the
 * same statements and queues one job, whichever the address. Counted, not
 * timed: a clock would measure the machine's load as much as the server.
 */
static void test_reset_request_does_the_same_work_for_known_and_unknown_addresses(void **state) {
    (void)state;
    enum { N = 10 };
    free(harness_sql_value(&server,
                           "WITH u AS (INSERT INTO users (email, name, password_hash)"
                           " SELECT 'timing-' || g || '@example.com', 'Timing', 'not-a-hash'"
                           " FROM generate_series(1, %d) g RETURNING 1) SELECT count(*) FROM u",
                           N));
    char known[64], unknown[64];
    long first = -1;
    for (int i = 0; i < N; i++) {
        snprintf(known, sizeof known, "timing-%d@example.com", i + 1);
        snprintf(unknown, sizeof unknown, "no-timing-%d@example.com", i + 1);
        long k = statements_of_reset(known), u = statements_of_reset(unknown);
        if (first < 0)
            first = k;
        if (k != first || u != first)
            fprintf(stderr, "statements: %ld known, %ld unknown, %ld the first\n", k, u, first);
        assert_int_equal(k, first);
        assert_int_equal(u, first);
        assert_int_equal(reset_jobs_for(known), 1);
        assert_int_equal(reset_jobs_for(unknown), 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_user_is_not_yet_verified),
        cmocka_unit_test(test_logins_lists_the_callers_live_logins_only),
        cmocka_unit_test(test_refresh_records_last_use_and_a_clean_user_agent),
        cmocka_unit_test(test_deleting_a_login_ends_it_and_only_it),
        cmocka_unit_test(test_another_users_login_is_404_and_stays_live),
        cmocka_unit_test(test_logins_need_a_login),
        cmocka_unit_test(test_deactivation_ends_every_login),
        cmocka_unit_test(test_reset_mail_is_a_real_message_whose_token_sets_the_password),
        cmocka_unit_test(test_a_confirmed_reset_lets_a_locked_out_owner_log_in),
        cmocka_unit_test(test_reset_of_an_unknown_address_answers_the_same_and_sends_nothing),
        cmocka_unit_test(test_a_spelling_that_is_no_address_reaches_no_account),
        cmocka_unit_test(test_a_newer_request_replaces_the_earlier_token),
        cmocka_unit_test(test_expired_and_deactivated_tokens_are_422),
        cmocka_unit_test(test_a_password_change_or_deactivation_withdraws_reset_links),
        cmocka_unit_test(test_deactivated_account_gets_no_reset_mail),
        cmocka_unit_test(test_malformed_tokens_and_passwords_are_422_on_their_field),
        cmocka_unit_test(test_concurrent_confirms_of_one_token_give_one_204),
        cmocka_unit_test(test_a_thousand_requests_for_one_address_queue_at_most_the_limit),
        cmocka_unit_test(test_welcome_mail_verifies_the_address),
        cmocka_unit_test(test_resend_sends_a_new_link_until_verified),
        cmocka_unit_test(test_a_retried_job_sends_the_link_it_sent_before),
        cmocka_unit_test(test_a_job_retried_after_its_link_expired_sends_a_working_link),
        cmocka_unit_test(test_a_job_retried_after_its_token_was_purged_keeps_a_newer_link),
        cmocka_unit_test(test_a_retried_job_does_not_bring_a_withdrawn_link_back),
        cmocka_unit_test(test_a_job_retried_after_its_withdrawn_token_was_purged_stays_refused),
        cmocka_unit_test(test_a_job_retried_after_its_used_token_was_purged_stays_refused),
        cmocka_unit_test(test_the_later_of_two_waiting_requests_replaces_the_earlier),
        cmocka_unit_test(test_an_earlier_request_whose_job_runs_last_is_replaced),
        cmocka_unit_test(test_two_workers_at_once_leave_the_newer_link_alone_open),
        cmocka_unit_test(test_a_link_issued_during_a_withdrawal_is_withdrawn),
        cmocka_unit_test(test_the_longest_address_is_named_whole),
        cmocka_unit_test(test_reset_request_does_the_same_work_for_known_and_unknown_addresses),
    };
    return harness_run_group("recovery", tests, sizeof tests / sizeof tests[0], start, stop);
}
