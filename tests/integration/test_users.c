/*
 * test_users.c -- /users/me for everyone, and the admin-only user
 * management: list (keyset pagination, sort, total), get, patch, delete.
 */
#include "harness.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOGIN   "/api/v1/auth/login"
#define REFRESH "/api/v1/auth/refresh"
#define ME      "/api/v1/users/me"
#define USERS   "/api/v1/users"
#define MAX_IDS 256

static struct nexus_server server;

struct account {
    long long id;
    char email[128];
    char *access;
    char *refresh;
};

static struct account admin, staff, customer;

/* ---- helpers ------------------------------------------------------------- */

static struct http_res *send_json(const char *method, const char *path, const char *token,
                                  json_t *body) {
    char *s = dump(body);
    char auth[4200];
    const char *h[] = {"Content-Type: application/json", NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[1] = auth;
    }
    struct http_res *r = http_request(method, path, h, s, strlen(s));
    free(s);
    return r;
}

static struct http_res *get(const char *path, const char *token) {
    char auth[4200];
    const char *h[] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[0] = auth;
    }
    return http_request("GET", path, h, NULL, 0);
}

static long status_of(const char *method, const char *path, const char *token) {
    char auth[4200];
    const char *h[] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[0] = auth;
    }
    struct http_res *r = http_request(method, path, h, NULL, 0);
    long status = r->status;
    if (status >= 400)
        assert_problem(r, status, NULL);
    if (status == 401)
        assert_non_null(http_header(r, "WWW-Authenticate"));
    http_res_free(r);
    return status;
}

static char *take_string(json_t *obj, const char *key) {
    const char *v = json_string_value(json_object_get(obj, key));
    assert_non_null(v);
    char *copy = strdup(v);
    assert_non_null(copy);
    return copy;
}

static long long register_user(const char *email, const char *password, const char *name) {
    struct http_res *r =
        send_json("POST", "/api/v1/auth/register", NULL,
                  json_pack("{s:s, s:s, s:s}", "email", email, "password", password, "name", name));
    if (r->status != 201)
        fprintf(stderr, "register %s: %ld %s\n", email, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 201);
    long long id = (long long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    return id;
}

static struct http_res *try_login(const char *email, const char *password) {
    return send_json("POST", LOGIN, NULL,
                     json_pack("{s:s, s:s}", "email", email, "password", password));
}

static void login(struct account *a, const char *password) {
    struct http_res *r = try_login(a->email, password);
    if (r->status != 200)
        fprintf(stderr, "login %s: %ld %s\n", a->email, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 200);
    free(a->access);
    free(a->refresh);
    a->access = take_string(r->json, "access_token");
    a->refresh = take_string(r->json, "refresh_token");
    http_res_free(r);
}

static void account_free(struct account *a) {
    free(a->access);
    free(a->refresh);
    a->access = a->refresh = NULL;
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...) {
    char q[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    char *out = harness_sql(&server, q);
    assert_non_null(out);
    free(out);
}

/* A new account with a role, logged in. */
static void make_account(struct account *a, const char *email, const char *role) {
    memset(a, 0, sizeof *a);
    snprintf(a->email, sizeof a->email, "%s", email);
    a->id = register_user(email, "password-1", "Test User");
    if (strcmp(role, "customer") != 0)
        sql("UPDATE users SET role = '%s' WHERE id = %lld", role, a->id);
    login(a, "password-1");
}

static size_t sql_ids(const char *query, long long *ids, size_t cap) {
    return parse_ids(harness_sql_value(&server, "%s", query), ids, cap);
}

/* Walk a list from the first page to the last with the given query
 * (without cursor); collect ids. Returns how many. */
static size_t walk(const char *query, long long *ids, size_t cap, size_t *pages) {
    char path[2048];
    char *cursor = NULL;
    size_t n = 0;
    *pages = 0;
    for (;;) {
        snprintf(path, sizeof path, USERS "?%s%s%s", query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *r = get(path, admin.access);
        if (r->status != 200)
            fprintf(stderr, "%s: %ld %s\n", path, r->status, r->body ? r->body : "");
        assert_int_equal(r->status, 200);
        (*pages)++;
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "items"), i, item) {
            assert_true(n < cap);
            ids[n++] = (long long)json_integer_value(json_object_get(item, "id"));
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        assert_non_null(next); /* present, null on the last page */
        if (json_is_string(next))
            cursor = strdup(json_string_value(next));
        http_res_free(r);
        if (!cursor || *pages > cap + 1)
            break;
    }
    assert_null(cursor);
    return n;
}

static void assert_same_ids(const long long *got, size_t ngot, const long long *want,
                            size_t nwant) {
    if (ngot != nwant)
        fprintf(stderr, "got %zu ids, want %zu\n", ngot, nwant);
    assert_int_equal(ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        if (got[i] != want[i])
            fprintf(stderr, "position %zu: got id %lld, want %lld\n", i, got[i], want[i]);
        assert_int_equal(got[i], want[i]);
    }
}

/* The next_cursor of the first page of query. Owned. */
static char *first_cursor(const char *query) {
    char path[512];
    snprintf(path, sizeof path, USERS "?%s", query);
    struct http_res *r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    const char *c = json_string_value(json_object_get(r->json, "next_cursor"));
    assert_non_null(c);
    char *copy = strdup(c);
    http_res_free(r);
    return copy;
}

static long list_status(const char *query) {
    char path[2048];
    snprintf(path, sizeof path, USERS "?%s", query);
    return status_of("GET", path, admin.access);
}

static void user_path(char *out, size_t cap, long long id) {
    snprintf(out, cap, USERS "/%lld", id);
}

/* The status of an admin's bodiless request with one extra header. */
static long status_of_h(const char *method, const char *path, const char *extra) {
    struct http_res *r = call_h(method, path, admin.access, NULL, extra);
    long status = r->status;
    if (status >= 400)
        assert_problem(r, status, NULL);
    http_res_free(r);
    return status;
}

/* A column expression of user id's row is want. */
static void expect_user_sql(long long id, const char *expr, const char *want) {
    harness_expect_sql(&server, want, "SELECT %s FROM users WHERE id = %lld", expr, id);
}

static void assert_user_json(json_t *u) {
    assert_true(json_is_object(u));
    assert_int_equal(json_object_size(u), 8);
    const char *keys[] = {"id",        "email",      "name",       "role",
                          "is_active", "created_at", "updated_at", "email_verified"};
    for (size_t i = 0; i < 8; i++)
        assert_non_null(json_object_get(u, keys[i]));
    assert_true(json_is_boolean(json_object_get(u, "email_verified")));
}

/* ---- group set-up ---------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_EMAIL=100000",
                         "LOGIN_MAX_FAILURES_PER_CLIENT=1000000", NULL};
    harness_start(&server, "users_rules", env);
    make_account(&admin, "admin@example.com", "admin");
    make_account(&staff, "staff@example.com", "staff");
    make_account(&customer, "customer@example.com", "customer");
    return 0;
}

static int stop(void **state) {
    (void)state;
    account_free(&admin);
    account_free(&staff);
    account_free(&customer);
    harness_stop(&server);
    return 0;
}

/* ---- no cache keeps an account's answers ------------------------------------ */

/* Assert that r (freed) says Cache-Control: no-store, once, as what. */
static void expect_no_store(struct http_res *r, long status, const char *what) {
    expect_status(r, status, what);
    assert_int_equal(http_header_count(r, "Cache-Control"), 1);
    assert_string_equal(http_header(r, "Cache-Control"), "no-store");
    http_res_free(r);
}

/* Answers that depend on who asked (an email, a login list, a role) must
 * stay out of every cache, a phone's on-disk HTTP cache too: every answer
 * of the account routes, refusals and 304s included. Catalog reads are
 * shared and cached as they were. */
static void test_account_answers_are_never_stored(void **state) {
    (void)state;
    char path[64], if_none_match[200];
    struct http_res *me = get(ME, customer.access);
    snprintf(if_none_match, sizeof if_none_match, "If-None-Match: %s", http_header(me, "ETag"));
    expect_no_store(me, 200, "GET /users/me");
    expect_no_store(call_h("GET", ME, customer.access, NULL, if_none_match), 304, "its 304");
    expect_no_store(get(ME, NULL), 401, "GET /users/me without a token");
    expect_no_store(
        send_json("PATCH", ME, customer.access, json_pack("{s:s}", "name", "Test User")), 200,
        "PATCH /users/me");
    expect_no_store(call("POST", ME, customer.access, NULL), 405, "POST /users/me");
    expect_no_store(get("/api/v1/users/me/logins", customer.access), 200, "the caller's logins");
    expect_no_store(call("DELETE", "/api/v1/users/me/logins/abc", customer.access, NULL), 404,
                    "a login id that is no id");
    expect_no_store(get(USERS, admin.access), 200, "the user list");
    expect_no_store(get(USERS, customer.access), 403, "the user list for a customer");
    user_path(path, sizeof path, customer.id);
    expect_no_store(get(path, admin.access), 200, "GET /users/{id}");
    expect_no_store(send_json("PATCH", path, admin.access, json_pack("{s:s}", "name", "Test User")),
                    200, "PATCH /users/{id}");
    expect_no_store(get(USERS "/abc", admin.access), 404, "a user id that is no id");
    expect_no_store(try_login(customer.email, "not the password"), 401, "a refused login");
    expect_no_store(try_login(customer.email, "password-1"), 200, "a login");
    expect_no_store(call("POST", "/api/v1/auth/password-reset", NULL, "{}"), 422,
                    "a reset request without an email");
    struct http_res *r = get("/api/v1/products", NULL);
    expect_status(r, 200, "the catalog");
    assert_null(http_header(r, "Cache-Control"));
    http_res_free(r);
}

/* ---- /users/me ------------------------------------------------------------- */

static void test_get_me_returns_the_callers_user(void **state) {
    (void)state;
    struct http_res *r = get(ME, customer.access);
    assert_int_equal(r->status, 200);
    assert_user_json(r->json);
    assert_int_equal(json_integer_value(json_object_get(r->json, "id")), customer.id);
    assert_string_equal(json_string_value(json_object_get(r->json, "email")), customer.email);
    assert_string_equal(json_string_value(json_object_get(r->json, "role")), "customer");
    http_res_free(r);
    r = get(ME, admin.access);
    assert_int_equal(json_integer_value(json_object_get(r->json, "id")), admin.id);
    assert_string_equal(json_string_value(json_object_get(r->json, "role")), "admin");
    http_res_free(r);
}

static void test_patch_me_name_updates_name_and_updated_at(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "rename@example.com", "customer");
    struct http_res *before = get(ME, a.access);
    assert_int_equal(before->status, 200);
    struct http_res *r =
        send_json("PATCH", ME, a.access, json_pack("{s:s}", "name", "Renamed Person"));
    assert_int_equal(r->status, 200);
    assert_user_json(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "name")), "Renamed Person");
    const char *u0 = json_string_value(json_object_get(before->json, "updated_at"));
    const char *u1 = json_string_value(json_object_get(r->json, "updated_at"));
    assert_string_not_equal(u1, u0);
    assert_true(strcmp(u1, u0) > 0);
    assert_string_equal(json_string_value(json_object_get(r->json, "created_at")),
                        json_string_value(json_object_get(before->json, "created_at")));
    http_res_free(r);
    http_res_free(before);
    r = get(ME, a.access);
    assert_string_equal(json_string_value(json_object_get(r->json, "name")), "Renamed Person");
    http_res_free(r);
    account_free(&a);
}

/* An empty PATCH, on /users/me or by an admin, leaves updated_at alone. */
static void test_empty_patch_keeps_updated_at(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "empty-patch@example.com", "customer");
    struct http_res *before = get(ME, a.access);
    assert_int_equal(before->status, 200);
    const char *u0 = json_string_value(json_object_get(before->json, "updated_at"));
    char path[64];
    snprintf(path, sizeof path, "/api/v1/users/%lld", a.id);
    const char *const who[][2] = {{ME, a.access}, {path, admin.access}};
    for (size_t i = 0; i < 2; i++) {
        struct http_res *r = send_json("PATCH", who[i][0], who[i][1], json_object());
        assert_int_equal(r->status, 200);
        assert_user_json(r->json);
        assert_string_equal(json_string_value(json_object_get(r->json, "updated_at")), u0);
        http_res_free(r);
    }
    http_res_free(before);
    account_free(&a);
}

static void test_patch_me_rejects_fields_a_user_cannot_set(void **state) {
    (void)state;
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:s}", "role", "admin")),
                   422, "role");
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:s}", "email", "x@y.z")),
                   422, "email");
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:b}", "is_active", 0)), 422,
                   "is_active");
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:i}", "id", 1)), 422, "id");
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:s}", "name", "")), 422,
                   "name");
    expect_problem(send_json("PATCH", ME, customer.access, json_pack("{s:i}", "name", 5)), 422,
                   "name");
    char *role = harness_sql_value(
        &server, "SELECT role || ',' || email FROM users WHERE id = %lld", customer.id);
    assert_string_equal(role, "customer,customer@example.com");
    free(role);
}

/* PATCH /users/me with body (stolen) is a 422 naming field, and the
 * customer's password hash is what it was. */
static void expect_password_kept(json_t *body, const char *field) {
    char *before =
        harness_sql_value(&server, "SELECT password_hash FROM users WHERE id = %lld", customer.id);
    expect_problem(send_json("PATCH", ME, customer.access, body), 422, field);
    char *after =
        harness_sql_value(&server, "SELECT password_hash FROM users WHERE id = %lld", customer.id);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_patch_me_password_without_current_password_is_422(void **state) {
    (void)state;
    expect_password_kept(json_pack("{s:s}", "password", "brand-new-pw"), "current_password");
}

static void test_patch_me_password_with_wrong_current_password_is_422(void **state) {
    (void)state;
    expect_password_kept(
        json_pack("{s:s, s:s}", "password", "brand-new-pw", "current_password", "not-my-password"),
        "current_password");
    expect_password_kept(
        json_pack("{s:s, s:s}", "password", "brand-new-pw", "current_password", ""),
        "current_password");
}

static void test_patch_me_new_password_must_be_8_to_128_characters(void **state) {
    (void)state;
    expect_password_kept(
        json_pack("{s:s, s:s}", "password", "short", "current_password", "password-1"), "password");
}

static void test_password_change_ends_other_logins_only(void **state) {
    (void)state;
    struct account a, other;
    make_account(&a, "pwchange@example.com", "customer");
    memset(&other, 0, sizeof other);
    snprintf(other.email, sizeof other.email, "%s", a.email);
    login(&other, "password-1"); /* a second, independent login */
    struct http_res *r = send_json(
        "PATCH", ME, a.access,
        json_pack("{s:s, s:s}", "password", "new-password-2", "current_password", "password-1"));
    if (r->status != 200)
        fprintf(stderr, "password change: %ld %s\n", r->status, r->body);
    assert_int_equal(r->status, 200);
    assert_user_json(r->json);
    assert_null(json_object_get(r->json, "password"));
    http_res_free(r);
    /* The new password works, the old one does not. */
    r = try_login(a.email, "password-1");
    assert_problem(r, 401, NULL);
    http_res_free(r);
    struct account fresh;
    memset(&fresh, 0, sizeof fresh);
    snprintf(fresh.email, sizeof fresh.email, "%s", a.email);
    login(&fresh, "new-password-2");
    assert_int_equal(status_of("GET", ME, fresh.access), 200);
    /* The other login is over: access and refresh. */
    assert_int_equal(status_of("GET", ME, other.access), 401);
    r = send_json("POST", REFRESH, NULL, json_pack("{s:s}", "refresh_token", other.refresh));
    assert_problem(r, 401, NULL);
    http_res_free(r);
    /* The login that made the change keeps working, refresh included. */
    assert_int_equal(status_of("GET", ME, a.access), 200);
    r = send_json("POST", REFRESH, NULL, json_pack("{s:s}", "refresh_token", a.refresh));
    assert_int_equal(r->status, 200);
    http_res_free(r);
    account_free(&a);
    account_free(&other);
    account_free(&fresh);
}

/* ---- who may use the admin routes --------------------------------------------- */

static void test_anonymous_user_list_is_401(void **state) {
    (void)state;
    assert_int_equal(status_of("GET", USERS, NULL), 401);
    assert_int_equal(status_of("GET", USERS "/1", NULL), 401);
}

static void test_customer_cannot_list_users(void **state) {
    (void)state;
    assert_int_equal(status_of("GET", USERS, customer.access), 403);
}

static void test_staff_cannot_list_users(void **state) {
    (void)state;
    assert_int_equal(status_of("GET", USERS, staff.access), 403);
}

static void test_staff_cannot_get_a_user_by_id(void **state) {
    (void)state;
    char path[64];
    assert_int_equal(status_of("GET", USERS "/1", staff.access), 403);
    user_path(path, sizeof path, staff.id);
    assert_int_equal(status_of("GET", path, staff.access), 403);
    expect_problem(send_json("PATCH", path, staff.access, json_pack("{s:s}", "role", "admin")), 403,
                   NULL);
    assert_int_equal(status_of("DELETE", path, staff.access), 403);
}

static void test_customer_cannot_use_own_id_path(void **state) {
    (void)state;
    char path[64];
    user_path(path, sizeof path, customer.id);
    assert_int_equal(status_of("GET", path, customer.access), 403);
    expect_problem(send_json("PATCH", path, customer.access, json_pack("{s:s}", "role", "admin")),
                   403, NULL);
    expect_problem(send_json("PATCH", path, customer.access, json_pack("{s:s}", "name", "Me")), 403,
                   NULL);
    assert_int_equal(status_of("DELETE", path, customer.access), 403);
    char *row = harness_sql_value(
        &server, "SELECT role || ',' || is_active FROM users WHERE id = %lld", customer.id);
    assert_string_equal(row, "customer,true");
    free(row);
}

/* ---- list ------------------------------------------------------------------------ */

static void test_admin_lists_users_with_items_and_next_cursor(void **state) {
    (void)state;
    struct http_res *r = get(USERS, admin.access);
    assert_int_equal(r->status, 200);
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    json_t *items = json_object_get(r->json, "items");
    assert_true(json_is_array(items));
    assert_true(json_array_size(items) >= 3);
    assert_non_null(json_object_get(r->json, "next_cursor"));
    assert_null(json_object_get(r->json, "total"));
    assert_int_equal(json_object_size(r->json), 2);
    size_t i;
    json_t *u;
    json_array_foreach(items, i, u) {
        assert_user_json(u);
    }
    assert_null(strstr(r->body, "argon2"));
    assert_null(strstr(r->body, "password"));
    http_res_free(r);
}

static void test_default_page_is_20_items(void **state) {
    (void)state;
    /* At least 21 users in all. Written in SQL: twenty registrations
     * would spend seconds hashing passwords no test logs in with. */
    sql("INSERT INTO users (email, name, password_hash) "
        "SELECT format('filler%%s@example.com', g), 'Filler', "
        "(SELECT password_hash FROM users ORDER BY id LIMIT 1) FROM generate_series(10, 29) g");
    struct http_res *r = get(USERS, admin.access);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 20);
    assert_true(json_is_string(json_object_get(r->json, "next_cursor")));
    http_res_free(r);
}

static void test_limit_1_pages_through_every_user_exactly_once(void **state) {
    (void)state;
    long long got[MAX_IDS], want[MAX_IDS];
    size_t pages = 0;
    size_t nwant = sql_ids("SELECT id FROM users ORDER BY created_at, id", want, MAX_IDS);
    size_t ngot = walk("limit=1", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    assert_int_equal(pages, nwant);
}

static void test_descending_created_at_pages_in_reverse(void **state) {
    (void)state;
    long long got[MAX_IDS], want[MAX_IDS];
    size_t pages = 0;
    size_t nwant = sql_ids("SELECT id FROM users ORDER BY created_at DESC, id DESC", want, MAX_IDS);
    size_t ngot = walk("limit=3&sort=-created_at", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    assert_int_equal(pages, (nwant + 2) / 3);
}

static void test_include_total_counts_every_user(void **state) {
    (void)state;
    char *count = harness_sql_value(&server, "SELECT count(*) FROM users");
    long long n = strtoll(count, NULL, 10);
    free(count);
    struct http_res *r = get(USERS "?include_total=true&limit=1", admin.access);
    assert_int_equal(r->status, 200);
    assert_true(json_is_integer(json_object_get(r->json, "total")));
    assert_int_equal(json_integer_value(json_object_get(r->json, "total")), n);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 1);
    http_res_free(r);
    /* total counts the whole set on later pages too */
    char *cursor = first_cursor("limit=1&include_total=true");
    char path[1024];
    snprintf(path, sizeof path, USERS "?limit=1&include_total=true&cursor=%s", cursor);
    free(cursor);
    r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_integer_value(json_object_get(r->json, "total")), n);
    http_res_free(r);
    r = get(USERS "?include_total=false", admin.access);
    assert_int_equal(r->status, 200);
    assert_null(json_object_get(r->json, "total"));
    http_res_free(r);
    assert_int_equal(list_status("include_total=yes"), 400);
    assert_int_equal(list_status("include_total=1"), 400);
}

static void test_sort_by_email_ascending_and_descending(void **state) {
    (void)state;
    long long got[MAX_IDS], want[MAX_IDS];
    size_t pages = 0;
    size_t nwant = sql_ids("SELECT id FROM users ORDER BY email, id", want, MAX_IDS);
    size_t ngot = walk("sort=email&limit=100", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    ngot = walk("sort=email&limit=2", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    nwant = sql_ids("SELECT id FROM users ORDER BY email DESC, id DESC", want, MAX_IDS);
    ngot = walk("sort=-email&limit=100", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    ngot = walk("sort=-email&limit=2", got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
    /* And the emails themselves come in order. */
    char *first = harness_sql_value(&server, "SELECT email FROM users ORDER BY email, id LIMIT 1");
    char *last =
        harness_sql_value(&server, "SELECT email FROM users ORDER BY email DESC, id DESC LIMIT 1");
    struct http_res *r = get(USERS "?sort=email&limit=1", admin.access);
    json_t *items = json_object_get(r->json, "items");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "email")),
                        first);
    http_res_free(r);
    r = get(USERS "?sort=-email&limit=1", admin.access);
    items = json_object_get(r->json, "items");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "email")),
                        last);
    http_res_free(r);
    assert_true(strcmp(first, last) < 0);
    free(first);
    free(last);
}

/* Keyset paging: rows inserted or deleted between two page requests cause
 * neither a duplicate nor a skipped row. */
static void test_pages_stay_consistent_when_rows_change_between_requests(void **state) {
    (void)state;
    long long got[MAX_IDS], want[MAX_IDS];
    size_t nwant = sql_ids("SELECT id FROM users ORDER BY email, id", want, MAX_IDS);
    size_t ngot = 0, pages = 0;
    long long early = 0, late = 0, deleted = 0;
    char path[2048];
    char *cursor = NULL;
    do {
        snprintf(path, sizeof path, USERS "?sort=email&limit=2%s%s", cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *r = get(path, admin.access);
        assert_int_equal(r->status, 200);
        json_t *items = json_object_get(r->json, "items");
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) {
            assert_true(ngot < MAX_IDS);
            got[ngot++] = (long long)json_integer_value(json_object_get(item, "id"));
        }
        if (json_is_string(json_object_get(r->json, "next_cursor")))
            cursor = strdup(json_string_value(json_object_get(r->json, "next_cursor")));
        const char *last_email = json_string_value(
            json_object_get(json_array_get(items, json_array_size(items) - 1), "email"));
        if (++pages == 1) { /* one row before the position, one after */
            early = register_user("aaaa-early@example.com", "password-1", "Early");
            late = register_user("zzzz-late@example.com", "password-1", "Late");
        }
        if (!deleted && cursor && last_email && strncmp(last_email, "filler", 6) == 0) {
            deleted = got[ngot - 1]; /* the row the cursor points at disappears */
            sql("DELETE FROM users WHERE id = %lld", deleted);
        }
        http_res_free(r);
    } while (cursor && pages < MAX_IDS);
    assert_true(deleted > 0);
    assert_true(early > 0 && late > 0);
    /* Everything that existed at the start, once, in order; then the late row. */
    assert_true(nwant + 1 < MAX_IDS);
    want[nwant++] = late;
    assert_same_ids(got, ngot, want, nwant);
}

static void test_unknown_sort_is_400(void **state) {
    (void)state;
    const char *bad[] = {"sort=bogus", "sort=name",    "sort=password_hash", "sort=%2Bemail",
                         "sort=EMAIL", "sort=--email", "sort=email,id",      "sort="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (list_status(bad[i]) != 400)
            fprintf(stderr, "%s was not a 400\n", bad[i]);
        assert_int_equal(list_status(bad[i]), 400);
    }
    assert_int_equal(list_status("sort=created_at"), 200);
    assert_int_equal(list_status("sort=-created_at"), 200);
}

static void test_bad_limit_is_400(void **state) {
    (void)state;
    const char *bad[] = {"limit=0",    "limit=101",  "limit=abc",  "limit=",
                         "limit=1e2",  "limit=%205", "limit=5abc", "limit=1.5",
                         "limit=0x10", "limit=-1",   "limit=+5",   "limit=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long s = list_status(bad[i]);
        if (s != 400)
            fprintf(stderr, "%s gave %ld\n", bad[i], s);
        assert_int_equal(s, 400);
    }
    assert_int_equal(list_status("limit=1"), 200);
    assert_int_equal(list_status("limit=100"), 200);
}

static void test_tampered_cursor_is_400(void **state) {
    (void)state;
    char *cursor = first_cursor("limit=1");
    char query[1024];
    snprintf(query, sizeof query, "limit=1&cursor=%s", cursor);
    assert_int_equal(list_status(query), 200);
    size_t len = strlen(cursor);
    size_t positions[] = {3, len / 3, len - 3}; /* payload, payload, signature */
    for (size_t i = 0; i < 3; i++) {
        char *t = strdup(cursor);
        size_t p = positions[i];
        if (t[p] == '.')
            p++;
        t[p] = t[p] == 'A' ? 'B' : 'A';
        snprintf(query, sizeof query, "limit=1&cursor=%s", t);
        if (list_status(query) != 400)
            fprintf(stderr, "tampered cursor %s was accepted\n", t);
        assert_int_equal(list_status(query), 400);
        free(t);
    }
    snprintf(query, sizeof query, "limit=1&cursor=%.*s", (int)(len - 5), cursor);
    assert_int_equal(list_status(query), 400);
    assert_int_equal(list_status("limit=1&cursor=garbage"), 400);
    assert_int_equal(list_status("limit=1&cursor=a.b"), 400);
    /* An empty cursor is the first page. */
    assert_int_equal(list_status("limit=1&cursor="), 200);
    free(cursor);
}

/* The status of query with cursor. */
static long status_with_cursor(const char *query, const char *cursor) {
    char with[1024];
    snprintf(with, sizeof with, "%s&cursor=%s", query, cursor);
    return list_status(with);
}

static void test_cursor_is_bound_to_its_sort(void **state) {
    (void)state;
    char *by_email = first_cursor("sort=email&limit=1");
    assert_int_equal(status_with_cursor("sort=created_at&limit=1", by_email), 400);
    assert_int_equal(status_with_cursor("limit=1", by_email), 400);
    assert_int_equal(status_with_cursor("sort=-email&limit=1", by_email), 400);
    assert_int_equal(status_with_cursor("sort=email&limit=1", by_email), 200);
    char *by_created = first_cursor("limit=1");
    assert_int_equal(status_with_cursor("sort=email&limit=1", by_created), 400);
    assert_int_equal(status_with_cursor("sort=-created_at&limit=1", by_created), 400);
    free(by_email);
    free(by_created);
}

/* ---- get ------------------------------------------------------------------------ */

static void test_admin_gets_a_user_by_id(void **state) {
    (void)state;
    char path[64];
    user_path(path, sizeof path, customer.id);
    struct http_res *r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    assert_user_json(r->json);
    assert_int_equal(json_integer_value(json_object_get(r->json, "id")), customer.id);
    assert_string_equal(json_string_value(json_object_get(r->json, "email")), customer.email);
    http_res_free(r);
    user_path(path, sizeof path, admin.id);
    assert_int_equal(status_of("GET", path, admin.access), 200);
}

static void test_unknown_or_malformed_user_id_is_404(void **state) {
    (void)state;
    const char *bad[] = {
        USERS "/999999", USERS "/abc",  USERS "/0",    USERS "/-1",
        USERS "/1.5",    USERS "/1abc", USERS "/%201", USERS "/99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long s = status_of("GET", bad[i], admin.access);
        if (s != 404)
            fprintf(stderr, "%s gave %ld\n", bad[i], s);
        assert_int_equal(s, 404);
    }
}

/* ---- patch ----------------------------------------------------------------------- */

static void test_admin_role_change_applies_to_the_users_existing_token(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "promoted@example.com", "customer");
    user_path(path, sizeof path, a.id);
    struct http_res *r =
        send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "staff"));
    assert_int_equal(r->status, 200);
    assert_user_json(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "role")), "staff");
    http_res_free(r);
    /* The same token now carries the stored role: staff, not admin. */
    r = get(ME, a.access);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "role")), "staff");
    http_res_free(r);
    assert_int_equal(status_of("GET", USERS, a.access), 403);
    r = send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "admin"));
    assert_int_equal(r->status, 200);
    http_res_free(r);
    assert_int_equal(status_of("GET", USERS, a.access), 200);
    r = send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "customer"));
    assert_int_equal(r->status, 200);
    http_res_free(r);
    assert_int_equal(status_of("GET", USERS, a.access), 403);
    account_free(&a);
}

static void test_admin_can_deactivate_and_rename(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "deactivated@example.com", "customer");
    user_path(path, sizeof path, a.id);
    struct http_res *r = send_json("PATCH", path, admin.access, json_pack("{s:b}", "is_active", 0));
    assert_int_equal(r->status, 200);
    assert_true(json_is_false(json_object_get(r->json, "is_active")));
    http_res_free(r);
    assert_int_equal(status_of("GET", ME, a.access), 401);
    r = try_login(a.email, "password-1");
    assert_problem(r, 401, NULL);
    http_res_free(r);
    r = send_json("PATCH", path, admin.access,
                  json_pack("{s:b, s:s}", "is_active", 1, "name", "Back Again"));
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "is_active")));
    assert_string_equal(json_string_value(json_object_get(r->json, "name")), "Back Again");
    http_res_free(r);
    login(&a, "password-1");
    assert_int_equal(status_of("GET", ME, a.access), 200);
    account_free(&a);
}

static void set_active(long long id, bool active) {
    char path[64];
    user_path(path, sizeof path, id);
    struct http_res *r =
        send_json("PATCH", path, admin.access, json_pack("{s:b}", "is_active", active));
    assert_int_equal(r->status, 200);
    http_res_free(r);
}

/* The tokens of a login made before the account was deactivated. */
static void assert_login_is_over(const struct account *a) {
    assert_int_equal(status_of("GET", ME, a->access), 401);
    struct http_res *r =
        send_json("POST", REFRESH, NULL, json_pack("{s:s}", "refresh_token", a->refresh));
    assert_problem(r, 401, NULL);
    http_res_free(r);
}

static long long live_logins(long long id) {
    char *n = harness_sql_value(
        &server, "SELECT count(*) FROM logins WHERE user_id = %lld AND revoked_at IS NULL", id);
    long long count = strtoll(n, NULL, 10);
    free(n);
    return count;
}

static void test_reactivation_revives_no_login_made_before_deactivation(void **state) {
    (void)state;
    struct account a, second;
    make_account(&a, "revived@example.com", "customer");
    memset(&second, 0, sizeof second);
    snprintf(second.email, sizeof second.email, "%s", a.email);
    login(&second, "password-1");
    assert_int_equal(live_logins(a.id), 2);
    set_active(a.id, false);
    assert_int_equal(live_logins(a.id), 0);
    set_active(a.id, true);
    assert_login_is_over(&a);
    assert_login_is_over(&second);
    /* A new login works as ever. */
    login(&a, "password-1");
    assert_int_equal(status_of("GET", ME, a.access), 200);
    account_free(&a);
    account_free(&second);
}

static void test_reactivation_after_delete_revives_no_earlier_login(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "undeleted@example.com", "customer");
    user_path(path, sizeof path, a.id);
    http_res_free(http_expect("DELETE", path, admin.access, NULL, 204));
    assert_int_equal(live_logins(a.id), 0);
    set_active(a.id, true);
    assert_login_is_over(&a);
    account_free(&a);
}

/* Only deactivation ends logins: a rename or a reactivation does not. */
static void test_other_admin_changes_keep_the_users_logins(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "kept-logins@example.com", "customer");
    user_path(path, sizeof path, a.id);
    struct http_res *r = send_json("PATCH", path, admin.access,
                                   json_pack("{s:s, s:b}", "name", "Renamed", "is_active", 1));
    assert_int_equal(r->status, 200);
    http_res_free(r);
    assert_int_equal(live_logins(a.id), 1);
    assert_int_equal(status_of("GET", ME, a.access), 200);
    account_free(&a);
}

static void test_admin_patch_rejects_email_password_and_bad_values(void **state) {
    (void)state;
    char path[64];
    user_path(path, sizeof path, staff.id);
    char *before =
        harness_sql_value(&server,
                          "SELECT email || ',' || role || ',' || password_hash || ',' || name"
                          " FROM users WHERE id = %lld",
                          staff.id);
    expect_problem(
        send_json("PATCH", path, admin.access, json_pack("{s:s}", "email", "new@example.com")), 422,
        "email");
    expect_problem(
        send_json("PATCH", path, admin.access, json_pack("{s:s}", "password", "new-password-9")),
        422, "password");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "superuser")),
                   422, "role");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "Admin")), 422,
                   "role");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:s}", "is_active", "false")),
                   422, "is_active");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:s}", "name", "")), 422,
                   "name");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:i}", "id", 5)), 422, "id");
    /* One bad field spoils the whole patch. */
    expect_problem(send_json("PATCH", path, admin.access,
                             json_pack("{s:s, s:s}", "name", "Fine", "email", "n@example.com")),
                   422, "email");
    char *after =
        harness_sql_value(&server,
                          "SELECT email || ',' || role || ',' || password_hash || ',' || name"
                          " FROM users WHERE id = %lld",
                          staff.id);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

static void test_admin_patch_unknown_user_is_404(void **state) {
    (void)state;
    expect_problem(
        send_json("PATCH", USERS "/999999", admin.access, json_pack("{s:s}", "name", "Nobody")),
        404, NULL);
    expect_problem(
        send_json("PATCH", USERS "/abc", admin.access, json_pack("{s:s}", "name", "Nobody")), 404,
        NULL);
    /* a 404 before the body's errors (checks run route, ..., fields),
     * those named while reading it too (a number past a double, a NUL) */
    expect_problem(
        send_json("PATCH", USERS "/999999", admin.access, json_pack("{s:s}", "role", "god")), 404,
        NULL);
    expect_problem(call("PATCH", USERS "/999999", admin.access, "{\"name\": 1e400}"), 404, NULL);
    expect_problem(call("PATCH", USERS "/999999", admin.access, "{\"name\": \"a\\u0000\"}"), 404,
                   NULL);
    char path[64];
    user_path(path, sizeof path, admin.id);
    struct http_res *r = call("PATCH", path, admin.access, "{\"name\": 1e400, \"role\": \"god\"}");
    assert_problem(r, 422, "name");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    http_res_free(r);
}

/* ---- delete ------------------------------------------------------------------------ */

static void test_delete_deactivates_idempotently_and_ends_access(void **state) {
    (void)state;
    struct account a;
    char path[64];
    make_account(&a, "deleted@example.com", "customer");
    user_path(path, sizeof path, a.id);
    struct http_res *r = http_expect("DELETE", path, admin.access, NULL, 204);
    assert_int_equal(r->len, 0);
    http_res_free(r);
    r = http_expect("DELETE", path, admin.access, NULL, 204);
    http_res_free(r);
    r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    assert_true(json_is_false(json_object_get(r->json, "is_active")));
    http_res_free(r);
    assert_int_equal(status_of("GET", ME, a.access), 401);
    r = send_json("POST", REFRESH, NULL, json_pack("{s:s}", "refresh_token", a.refresh));
    assert_problem(r, 401, NULL);
    http_res_free(r);
    r = try_login(a.email, "password-1");
    assert_problem(r, 401, NULL);
    http_res_free(r);
    account_free(&a);
}

static void test_delete_unknown_user_is_404(void **state) {
    (void)state;
    assert_int_equal(status_of("DELETE", USERS "/999999", admin.access), 404);
    assert_int_equal(status_of("DELETE", USERS "/abc", admin.access), 404);
}

/* ---- the last admin ------------------------------------------------------------------ */

static long long active_admins(void) {
    char *n =
        harness_sql_value(&server, "SELECT count(*) FROM users WHERE role = 'admin' AND is_active");
    long long count = strtoll(n, NULL, 10);
    free(n);
    return count;
}

/* Without an active admin, users could be managed only from the command
 * line: the last one cannot give up the role, by PATCH or DELETE. */
/* `nexus user create` without --name names the account after its
 * email's local part, whatever the address's length (one of 222
 * characters was refused: its whole text was the name, over 200). */
static void test_user_create_names_the_account_by_its_email(void **state) {
    (void)state;
    char local[65], email[256];
    snprintf(local, sizeof local, "ops.%060d", 0); /* the longest allowed, 64 */
    /* 64 + 1 + 157: labels of 63, 63 and 25 characters, then com */
    snprintf(email, sizeof email, "%s@%063d.%063d.%025d.com", local, 0, 0, 0);
    assert_int_equal(strlen(email), 222);
    const char *args[] = {"user", "create", "--email", email, NULL};
    char out[4096];
    int rc = harness_run(&server, NULL, args, "a long passphrase\n", out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "user create: %d %s\n", rc, out);
    assert_int_equal(rc, 0);
    harness_expect_sql(&server, local, "SELECT name FROM users WHERE email = '%s'", email);
}

static void test_the_last_active_admin_keeps_the_role(void **state) {
    (void)state;
    char path[64];
    sql("UPDATE users SET is_active = false WHERE role = 'admin' AND id <> %lld", admin.id);
    user_path(path, sizeof path, admin.id);
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:s}", "role", "staff")), 409,
                   "role");
    expect_problem(send_json("PATCH", path, admin.access, json_pack("{s:b}", "is_active", 0)), 409,
                   "is_active");
    assert_int_equal(status_of("DELETE", path, admin.access), 409);
    /* a change that keeps the role goes through */
    struct http_res *r = send_json("PATCH", path, admin.access,
                                   json_pack("{s:s, s:b}", "role", "admin", "is_active", 1));
    assert_int_equal(r->status, 200);
    http_res_free(r);
    assert_int_equal(active_admins(), 1);
    assert_int_equal(status_of("GET", USERS, admin.access), 200);
}

struct demotion {
    const char *token;
    const char *if_match; /* NULL: none */
    char path[64];
    long status;
};

static void *demote(void *arg) {
    struct demotion *d = arg;
    struct http_res *r = call_h("PATCH", d->path, d->token, "{\"role\":\"staff\"}", d->if_match);
    d->status = r->status;
    http_res_free(r);
    return NULL;
}

/* Two admins taking the role from each other at once: one succeeds, the
 * other is refused, and an admin is left; with If-Match too (the
 * precondition's lock taken in the order of the admins' own). */
static void demote_each_other(const char *other_email, const char *if_match) {
    struct account other;
    make_account(&other, other_email, "admin");
    sql("UPDATE users SET is_active = false WHERE role = 'admin' AND id NOT IN (%lld, %lld)",
        admin.id, other.id);
    for (int round = 0; round < 20; round++) {
        sql("UPDATE users SET role = 'admin' WHERE id IN (%lld, %lld)", admin.id, other.id);
        struct demotion d[2] = {{.token = admin.access, .if_match = if_match},
                                {.token = other.access, .if_match = if_match}};
        user_path(d[0].path, sizeof d[0].path, other.id);
        user_path(d[1].path, sizeof d[1].path, admin.id);
        pthread_t threads[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&threads[i], NULL, demote, &d[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(threads[i], NULL);
        /* the one refused: 409, or 403 when its role was read after the
         * other's change */
        long refused = d[0].status == 200 ? d[1].status : d[0].status;
        if ((d[0].status != 200 && d[1].status != 200) || (refused != 409 && refused != 403))
            fprintf(stderr, "round %d: %ld and %ld\n", round, d[0].status, d[1].status);
        assert_true(d[0].status == 200 || d[1].status == 200);
        assert_true(refused == 409 || refused == 403);
        assert_int_equal(active_admins(), 1);
    }
    sql("UPDATE users SET role = 'admin' WHERE id = %lld", admin.id);
    sql("UPDATE users SET role = 'customer' WHERE id = %lld", other.id);
    account_free(&other);
}

static void test_two_admins_demoting_each_other_leave_one(void **state) {
    (void)state;
    demote_each_other("second-admin@example.com", NULL);
}

static void test_two_admins_demoting_each_other_with_if_match_leave_one(void **state) {
    (void)state;
    demote_each_other("third-admin@example.com", "If-Match: *");
}

/* ---- ETag and If-Match ------------------------------------------------------ */

static char *if_match(const char *tag) {
    assert_non_null(tag);
    assert_int_equal(strlen(tag), 34); /* a quoted 32-digit tag, no W/ */
    char *h = malloc(64);
    assert_non_null(h);
    snprintf(h, 64, "If-Match: %s", tag);
    return h;
}

/* The If-Match header of user path's current ETag, as an admin reads it. */
static char *current_if_match(const char *path) {
    struct http_res *r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    char *h = if_match(http_header(r, "ETag"));
    http_res_free(r);
    return h;
}

/* A user's representation carries its ETag, the same under /users/{id}
 * and /users/me; If-None-Match listing it is a 304. */
static void test_user_reads_carry_an_etag(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "etag-reader@example.com", "customer");
    char path[64];
    user_path(path, sizeof path, a.id);
    char *h = current_if_match(path);
    const char *tag = h + strlen("If-Match: ");
    struct http_res *r = get(ME, a.access);
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", tag);
    r = call_h("GET", ME, a.access, NULL, inm);
    assert_int_equal(r->status, 304);
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    r = call_h("GET", path, admin.access, NULL, inm);
    assert_int_equal(r->status, 304);
    http_res_free(r);
    free(h);
    account_free(&a);
}

/* If-Match on an admin's PATCH and DELETE: a tag that is not the user's
 * current one is a 412 and changes nothing, a body at fault included; the
 * current one, and "*", let the write through, which answers the new tag. */
static void test_admin_writes_honour_if_match(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "etag-admin-target@example.com", "customer");
    char path[64];
    user_path(path, sizeof path, a.id);
    const char *refused[] = {"If-Match: \"bogus\"", "If-Match: W/\"bogus\"", "If-Match: **"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        struct http_res *r =
            call_h("PATCH", path, admin.access, "{\"role\":\"staff\"}", refused[i]);
        assert_problem(r, 412, NULL);
        http_res_free(r);
        assert_int_equal(status_of_h("DELETE", path, refused[i]), 412);
    }
    struct http_res *r =
        call_h("PATCH", path, admin.access, "{\"role\":\"nobody\"}", "If-Match: \"bogus\"");
    assert_problem(r, 412, NULL);
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
    char *before = current_if_match(path);
    expect_problem(call_h("PATCH", path, admin.access, "{\"role\":\"nobody\"}", before), 422,
                   "role");
    expect_user_sql(a.id, "role || is_active::text", "customertrue");
    r = call_h("PATCH", path, admin.access, "{\"role\":\"staff\"}", before);
    assert_int_equal(r->status, 200);
    char *after = if_match(http_header(r, "ETag"));
    http_res_free(r);
    char *now = current_if_match(path);
    assert_string_equal(after, now);
    expect_problem(call_h("PATCH", path, admin.access, "{\"name\":\"Late\"}", before), 412, NULL);
    assert_int_equal(status_of_h("DELETE", path, before), 412);
    expect_user_sql(a.id, "role || is_active::text || name", "stafftrueTest User");
    r = call_h("PATCH", path, admin.access, "{\"name\":\"Starred\"}", "If-Match: *");
    assert_int_equal(r->status, 200);
    http_res_free(r);
    free(now);
    now = current_if_match(path);
    assert_int_equal(status_of_h("DELETE", path, now), 204);
    expect_user_sql(a.id, "is_active::text", "false");
    /* a user that does not exist is a 404 still */
    expect_problem(
        call_h("PATCH", USERS "/999999", admin.access, "{\"name\":\"N\"}", "If-Match: *"), 404,
        NULL);
    free(before);
    free(after);
    free(now);
    account_free(&a);
}

/* PATCH /users/me with If-Match: the same rules, a password change too. */
static void test_patch_me_honours_if_match(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "etag-self@example.com", "customer");
    char path[64];
    user_path(path, sizeof path, a.id);
    char *before = current_if_match(path);
    expect_problem(call_h("PATCH", ME, a.access, "{\"name\":\"Mine\"}", "If-Match: \"bogus\""), 412,
                   NULL);
    expect_problem(call_h("PATCH", ME, a.access,
                          "{\"password\":\"password-2\",\"current_password\":\"password-1\"}",
                          "If-Match: \"bogus\""),
                   412, NULL);
    expect_problem(call_h("PATCH", ME, a.access, "{\"name\":\"\"}", "If-Match: \"bogus\""), 412,
                   NULL);
    expect_user_sql(a.id, "name", "Test User");
    login(&a, "password-1"); /* the password is unchanged */
    struct http_res *r = call_h("PATCH", ME, a.access, "{\"name\":\"Mine\"}", before);
    assert_int_equal(r->status, 200);
    char *after = if_match(http_header(r, "ETag"));
    http_res_free(r);
    char *now = current_if_match(path);
    assert_string_equal(after, now);
    expect_problem(call_h("PATCH", ME, a.access, "{\"name\":\"Again\"}", before), 412, NULL);
    r = call_h("PATCH", ME, a.access,
               "{\"password\":\"password-2\",\"current_password\":\"password-1\"}", now);
    assert_int_equal(r->status, 200);
    http_res_free(r);
    expect_user_sql(a.id, "name", "Mine");
    free(before);
    free(after);
    free(now);
    account_free(&a);
}

/* Eight PATCHes with one If-Match: exactly one wins. */
static void test_concurrent_user_patches_with_the_same_if_match(void **state) {
    (void)state;
    struct account a;
    make_account(&a, "etag-raced@example.com", "customer");
    char path[64], want[32];
    user_path(path, sizeof path, a.id);
    for (int round = 0; round < 3; round++) {
        char *h = current_if_match(path);
        int winner = harness_race_patches_one_wins(8, path, admin.access, "name", h);
        snprintf(want, sizeof want, "racer %d", winner);
        expect_user_sql(a.id, "name", want);
        free(h);
    }
    account_free(&a);
}

/* ---- filters ---------------------------------------------------------------- */

static long long total_of(const char *query) {
    char path[1024];
    snprintf(path, sizeof path, USERS "?%s&include_total=true", query);
    struct http_res *r = get(path, admin.access);
    assert_int_equal(r->status, 200);
    long long total = (long long)json_integer_value(json_object_get(r->json, "total"));
    http_res_free(r);
    return total;
}

/* Walk query and compare with the users of the SQL query, in order. */
static void expect_users(const char *query, const char *sql_query) {
    long long got[MAX_IDS], want[MAX_IDS];
    size_t pages = 0;
    size_t nwant = sql_ids(sql_query, want, MAX_IDS);
    size_t ngot = walk(query, got, MAX_IDS, &pages);
    assert_same_ids(got, ngot, want, nwant);
}

/* email= finds one user by address, in any case; is_active= the active or
 * inactive users; both are bound into cursors and checked. */
static void test_list_filters_by_email_and_is_active(void **state) {
    (void)state;
    long long zoe = register_user("Zoe.Filter@Example.com", "password-1", "Zoe");
    for (int i = 0; i < 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "gone-%d@filters.example.com", i);
        set_active(register_user(email, "password-1", "Gone"), false);
    }
    long long got[MAX_IDS];
    size_t pages = 0;
    const char *const spellings[] = {
        "email=zoe.filter@example.com", "email=ZOE.FILTER%40EXAMPLE.COM",
        "email=%20Zoe.Filter@Example.com", "email=zoe.filter@example.com&is_active=true"};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        assert_int_equal(walk(spellings[i], got, MAX_IDS, &pages), 1);
        assert_int_equal(got[0], zoe);
        assert_int_equal(total_of(spellings[i]), 1);
    }
    const char *const none[] = {"email=zoe.filter@example.org",
                                "email=zoe.filter@example.com&is_active=false"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(walk(none[i], got, MAX_IDS, &pages), 0);
        assert_int_equal(total_of(none[i]), 0);
    }
    expect_users("is_active=false&limit=1",
                 "SELECT id FROM users WHERE NOT is_active ORDER BY created_at, id");
    assert_true(total_of("is_active=false") >= 3);
    expect_users("is_active=false&limit=2&sort=-email",
                 "SELECT id FROM users WHERE NOT is_active ORDER BY email DESC, id DESC");
    expect_users("is_active=true&limit=7&sort=email",
                 "SELECT id FROM users WHERE is_active ORDER BY email, id");
    /* empty: ignored, as every empty filter */
    expect_users("email=&is_active=&limit=9", "SELECT id FROM users ORDER BY created_at, id");
    /* malformed */
    const char *const bad[] = {"email=zoe",          "email=zoe@",    "email=a@b@example.com",
                               "email=@example.com", "is_active=yes", "is_active=TRUE",
                               "is_active=1",        "is_active=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(list_status(bad[i]), 400);
    /* cursors are bound to the filters */
    char *inactive = first_cursor("is_active=false&limit=1");
    assert_int_equal(status_with_cursor("is_active=false&limit=1", inactive), 200);
    const char *const others[] = {"limit=1", "is_active=true&limit=1",
                                  "is_active=false&email=zoe.filter@example.com&limit=1"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_int_equal(status_with_cursor(others[i], inactive), 400);
    char *unfiltered = first_cursor("limit=1");
    assert_int_equal(status_with_cursor("is_active=false&limit=1", unfiltered), 400);
    assert_int_equal(status_with_cursor("is_active=&limit=1", unfiltered), 200);
    free(inactive);
    free(unfiltered);
    /* still the admin's list */
    assert_int_equal(status_of("GET", USERS "?email=zoe.filter@example.com", staff.access), 403);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_me_returns_the_callers_user),
        cmocka_unit_test(test_patch_me_name_updates_name_and_updated_at),
        cmocka_unit_test(test_patch_me_rejects_fields_a_user_cannot_set),
        cmocka_unit_test(test_empty_patch_keeps_updated_at),
        cmocka_unit_test(test_patch_me_password_without_current_password_is_422),
        cmocka_unit_test(test_patch_me_password_with_wrong_current_password_is_422),
        cmocka_unit_test(test_patch_me_new_password_must_be_8_to_128_characters),
        cmocka_unit_test(test_password_change_ends_other_logins_only),
        cmocka_unit_test(test_anonymous_user_list_is_401),
        cmocka_unit_test(test_customer_cannot_list_users),
        cmocka_unit_test(test_staff_cannot_list_users),
        cmocka_unit_test(test_staff_cannot_get_a_user_by_id),
        cmocka_unit_test(test_customer_cannot_use_own_id_path),
        cmocka_unit_test(test_admin_lists_users_with_items_and_next_cursor),
        cmocka_unit_test(test_default_page_is_20_items),
        cmocka_unit_test(test_limit_1_pages_through_every_user_exactly_once),
        cmocka_unit_test(test_descending_created_at_pages_in_reverse),
        cmocka_unit_test(test_include_total_counts_every_user),
        cmocka_unit_test(test_sort_by_email_ascending_and_descending),
        cmocka_unit_test(test_pages_stay_consistent_when_rows_change_between_requests),
        cmocka_unit_test(test_unknown_sort_is_400),
        cmocka_unit_test(test_bad_limit_is_400),
        cmocka_unit_test(test_tampered_cursor_is_400),
        cmocka_unit_test(test_cursor_is_bound_to_its_sort),
        cmocka_unit_test(test_admin_gets_a_user_by_id),
        cmocka_unit_test(test_unknown_or_malformed_user_id_is_404),
        cmocka_unit_test(test_admin_role_change_applies_to_the_users_existing_token),
        cmocka_unit_test(test_admin_can_deactivate_and_rename),
        cmocka_unit_test(test_reactivation_revives_no_login_made_before_deactivation),
        cmocka_unit_test(test_reactivation_after_delete_revives_no_earlier_login),
        cmocka_unit_test(test_other_admin_changes_keep_the_users_logins),
        cmocka_unit_test(test_admin_patch_rejects_email_password_and_bad_values),
        cmocka_unit_test(test_admin_patch_unknown_user_is_404),
        cmocka_unit_test(test_delete_deactivates_idempotently_and_ends_access),
        cmocka_unit_test(test_delete_unknown_user_is_404),
        cmocka_unit_test(test_user_create_names_the_account_by_its_email),
        cmocka_unit_test(test_the_last_active_admin_keeps_the_role),
        cmocka_unit_test(test_two_admins_demoting_each_other_leave_one),
        cmocka_unit_test(test_two_admins_demoting_each_other_with_if_match_leave_one),
        cmocka_unit_test(test_user_reads_carry_an_etag),
        cmocka_unit_test(test_admin_writes_honour_if_match),
        cmocka_unit_test(test_patch_me_honours_if_match),
        cmocka_unit_test(test_concurrent_user_patches_with_the_same_if_match),
        cmocka_unit_test(test_list_filters_by_email_and_is_active),
        cmocka_unit_test(test_account_answers_are_never_stored),
    };
    return cmocka_run_group_tests_name("users", tests, start, stop);
}
