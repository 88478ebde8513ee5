/*
 * test_recovery.c -- account recovery and verification: a user's logins
 * (list, end one, what a refresh records), password reset and email
 * verification with their one-time tokens, and the emails that carry them.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOGIN    "/api/v1/auth/login"
#define REFRESH  "/api/v1/auth/refresh"
#define ME       "/api/v1/users/me"
#define LOGINS   "/api/v1/users/me/logins"
#define PASSWORD "password-123"

static struct nexus_server server;

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

/* ---- group set-up ------------------------------------------------------------ */

static int start(void **state) {
    (void)state;
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_EMAIL=100000",
                         "LOGIN_MAX_FAILURES_PER_CLIENT=1000000", NULL};
    harness_start(&server, "recovery", env);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&server);
    return 0;
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_user_is_not_yet_verified),
        cmocka_unit_test(test_logins_lists_the_callers_live_logins_only),
        cmocka_unit_test(test_refresh_records_last_use_and_a_clean_user_agent),
        cmocka_unit_test(test_deleting_a_login_ends_it_and_only_it),
        cmocka_unit_test(test_another_users_login_is_404_and_stays_live),
        cmocka_unit_test(test_logins_need_a_login),
        cmocka_unit_test(test_deactivation_ends_every_login),
    };
    return harness_run_group("recovery", tests, sizeof tests / sizeof tests[0], start, stop);
}
