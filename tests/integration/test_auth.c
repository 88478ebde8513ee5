/*
 * test_auth.c -- register, login, bearer tokens, refresh rotation and
 * reuse detection, logout, and failed-login throttling.
 *
 * Two servers: the main group runs with generous login limits (so reruns
 * within the failure window are not throttled by counters left in Redis);
 * the rate-limit group runs its own server with small limits and gives
 * each test a client address of its own (X-Forwarded-For through a
 * trusted proxy) and e-mail addresses unique to the run.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#define REGISTER "/api/v1/auth/register"
#define LOGIN    "/api/v1/auth/login"
#define REFRESH  "/api/v1/auth/refresh"
#define LOGOUT   "/api/v1/auth/logout"
#define ME       "/api/v1/users/me"
#define USERS    "/api/v1/users"
#define SECRET   "integration-test-secret-0123456789abcdef"

static struct nexus_server server;

struct tokens {
    char *access;
    char *refresh;
};

/* ---- helpers ------------------------------------------------------------- */

/* POST a JSON body (stolen) with optional extra header. */
static struct http_res *post_json_h(const char *path, json_t *body, const char *extra) {
    char *s = dump(body);
    const char *h[] = {"Content-Type: application/json", extra, NULL};
    struct http_res *r = http_request("POST", path, h, s, strlen(s));
    free(s);
    return r;
}

static struct http_res *post_json(const char *path, json_t *body) {
    return post_json_h(path, body, NULL);
}

static struct http_res *post_text(const char *path, const char *body) {
    const char *h[] = {"Content-Type: application/json", NULL};
    return http_request("POST", path, h, body, strlen(body));
}

static json_t *creds(const char *email, const char *password) {
    return json_pack("{s:s, s:s}", "email", email, "password", password);
}

static struct http_res *try_register(const char *email, const char *password, const char *name) {
    return post_json(
        REGISTER, json_pack("{s:s, s:s, s:s}", "email", email, "password", password, "name", name));
}

static long long register_user(const char *email, const char *password, const char *name) {
    struct http_res *r = try_register(email, password, name);
    if (r->status != 201)
        fprintf(stderr, "register %s: %ld %s\n", email, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 201);
    long long id = (long long)json_integer_value(json_object_get(r->json, "id"));
    assert_true(id > 0);
    http_res_free(r);
    return id;
}

static void expect_register_422(const char *email, const char *password, const char *name,
                                const char *field) {
    struct http_res *r = try_register(email, password, name);
    assert_problem(r, 422, field);
    http_res_free(r);
}

static char *take_string(json_t *obj, const char *key) {
    const char *v = json_string_value(json_object_get(obj, key));
    assert_non_null(v);
    assert_true(v[0] != '\0');
    char *copy = strdup(v);
    assert_non_null(copy);
    return copy;
}

static struct tokens tokens_from(const struct http_res *r) {
    struct tokens t = {take_string(r->json, "access_token"), take_string(r->json, "refresh_token")};
    return t;
}

static struct tokens login(const char *email, const char *password) {
    struct http_res *r = post_json(LOGIN, creds(email, password));
    if (r->status != 200)
        fprintf(stderr, "login %s: %ld %s\n", email, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 200);
    struct tokens t = tokens_from(r);
    http_res_free(r);
    return t;
}

static void tokens_free(struct tokens *t) {
    free(t->access);
    free(t->refresh);
    t->access = t->refresh = NULL;
}

static struct http_res *refresh_with(const char *refresh_token) {
    return post_json(REFRESH, json_pack("{s:s}", "refresh_token", refresh_token));
}

static long logout_with(const char *refresh_token) {
    struct http_res *r = post_json(LOGOUT, json_pack("{s:s}", "refresh_token", refresh_token));
    long status = r->status;
    if (status == 204)
        assert_int_equal(r->len, 0);
    http_res_free(r);
    return status;
}

static long refresh_status(const char *refresh_token) {
    struct http_res *r = refresh_with(refresh_token);
    long status = r->status;
    if (status == 401)
        assert_problem(r, 401, NULL);
    http_res_free(r);
    return status;
}

/* GET path with "Authorization: Bearer token" (or none) and return the
 * status; 401s must be proper problems with a Bearer challenge. */
static long get_status(const char *path, const char *token) {
    char auth[4200];
    const char *h[] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[0] = auth;
    }
    struct http_res *r = http_request("GET", path, h, NULL, 0);
    long status = r->status;
    if (status == 401) {
        assert_problem(r, 401, NULL);
        const char *www = http_header(r, "WWW-Authenticate");
        assert_non_null(www);
        assert_int_equal(strncmp(www, "Bearer", 6), 0);
    }
    http_res_free(r);
    return status;
}

static struct http_res *get_with_header(const char *path, const char *h1, const char *h2) {
    const char *h[] = {h1, h2, NULL};
    return http_request("GET", path, h, NULL, 0);
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

static long long count_users(const char *email) {
    char q[512];
    snprintf(q, sizeof q, "SELECT count(*) FROM users WHERE lower(email) = lower('%s')", email);
    char *out = harness_sql(&server, q);
    assert_non_null(out);
    long long n = strtoll(out, NULL, 10);
    free(out);
    return n;
}

static const char *detail_of(const struct http_res *r) {
    const char *d = json_string_value(json_object_get(r->json, "detail"));
    assert_non_null(d);
    return d;
}

static bool ends_with_z(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 0 && s[n - 1] == 'Z';
}

static char *repeat(const char *unit, size_t times) {
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

/* ---- JWT crafting (to check what the server refuses) --------------------- */

static char *b64url(const unsigned char *data, size_t len) {
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    assert_non_null(out);
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* The claims of a token the server issued. */
static json_t *jwt_claims(const char *token) {
    const char *dot1 = strchr(token, '.');
    assert_non_null(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    unsigned char raw[2048];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof raw, dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL,
                                       &raw_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    json_t *claims = json_loadb((const char *)raw, raw_len, 0, NULL);
    assert_true(json_is_object(claims));
    return claims;
}

enum jwt_mac { MAC_HS256, MAC_HS512, MAC_NONE };

/* header.claims.signature of the claims as text. */
static char *jwt_make_text(const char *header_json, const char *payload_json, enum jwt_mac mac,
                           const char *secret) {
    char *hdr = b64url((const unsigned char *)header_json, strlen(header_json));
    char *payload = b64url((const unsigned char *)payload_json, strlen(payload_json));
    size_t cap = strlen(hdr) + strlen(payload) + 200;
    char *tok = malloc(cap);
    assert_non_null(tok);
    snprintf(tok, cap, "%s.%s", hdr, payload);
    size_t signing_len = strlen(tok);
    unsigned char sig[crypto_auth_hmacsha512_BYTES];
    size_t sig_len = 0;
    if (mac == MAC_HS256) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, signing_len);
        crypto_auth_hmacsha256_final(&st, sig);
        sig_len = crypto_auth_hmacsha256_BYTES;
    } else if (mac == MAC_HS512) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha512_update(&st, (const unsigned char *)tok, signing_len);
        crypto_auth_hmacsha512_final(&st, sig);
        sig_len = crypto_auth_hmacsha512_BYTES;
    }
    char *s = sig_len ? b64url(sig, sig_len) : strdup("");
    snprintf(tok + signing_len, cap - signing_len, ".%s", s);
    free(s);
    free(hdr);
    free(payload);
    return tok;
}

/* header.claims.signature; claims is stolen. */
static char *jwt_make(const char *header_json, json_t *claims, enum jwt_mac mac,
                      const char *secret) {
    char *payload_json = dump(claims);
    char *tok = jwt_make_text(header_json, payload_json, mac, secret);
    free(payload_json);
    return tok;
}

static const char HS256_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* A fresh login's access token, re-signed after edit() changed its claims. */
static char *forged_access(const char *email, void (*edit)(json_t *claims)) {
    struct tokens t = login(email, "forge-password");
    json_t *claims = jwt_claims(t.access);
    if (edit)
        edit(claims);
    char *tok = jwt_make(HS256_HEADER, claims, MAC_HS256, SECRET);
    tokens_free(&t);
    return tok;
}

/* ---- group set-up ---------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_EMAIL=100000",
                         "LOGIN_MAX_FAILURES_PER_CLIENT=1000000", NULL};
    harness_start(&server, "auth_rules", env);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&server);
    return 0;
}

/* ---- register -------------------------------------------------------------- */

static void test_register_returns_201_with_location_and_exact_user_json(void **state) {
    (void)state;
    struct http_res *r = try_register("reg-basic@example.com", "password-1", "Reg Basic");
    assert_int_equal(r->status, 201);
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    json_t *u = r->json;
    assert_true(json_is_object(u));
    assert_int_equal(json_object_size(u), 8);
    assert_true(json_is_false(json_object_get(u, "email_verified")));
    json_t *id = json_object_get(u, "id");
    assert_true(json_is_integer(id));
    assert_true(json_integer_value(id) > 0);
    assert_string_equal(json_string_value(json_object_get(u, "email")), "reg-basic@example.com");
    assert_string_equal(json_string_value(json_object_get(u, "name")), "Reg Basic");
    assert_string_equal(json_string_value(json_object_get(u, "role")), "customer");
    assert_true(json_is_true(json_object_get(u, "is_active")));
    const char *created = json_string_value(json_object_get(u, "created_at"));
    const char *updated = json_string_value(json_object_get(u, "updated_at"));
    assert_true(ends_with_z(created));
    assert_true(ends_with_z(updated));
    assert_int_equal(created[4], '-');
    assert_int_equal(created[10], 'T');
    assert_null(json_object_get(u, "password"));
    assert_null(json_object_get(u, "password_hash"));
    assert_null(strstr(r->body, "argon2"));
    char location[64];
    snprintf(location, sizeof location, "/api/v1/users/%lld", (long long)json_integer_value(id));
    assert_non_null(http_header(r, "Location"));
    assert_string_equal(http_header(r, "Location"), location);
    http_res_free(r);
    char *hash =
        harness_sql(&server, "SELECT password_hash FROM users WHERE email='reg-basic@example.com'");
    assert_non_null(hash);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    free(hash);
}

static void test_register_email_is_trimmed_and_lower_cased(void **state) {
    (void)state;
    struct http_res *r = try_register("  Trim.Case@Example.COM \t", "password-1", "Trim");
    assert_int_equal(r->status, 201);
    assert_string_equal(json_string_value(json_object_get(r->json, "email")),
                        "trim.case@example.com");
    http_res_free(r);
    char *stored =
        harness_sql(&server, "SELECT email FROM users WHERE email = 'trim.case@example.com'");
    assert_non_null(stored);
    assert_string_equal(stored, "trim.case@example.com");
    free(stored);
}

static void test_register_duplicate_email_in_any_case_is_409_on_email(void **state) {
    (void)state;
    register_user("dup@example.com", "password-1", "Dup One");
    const char *again[] = {"dup@example.com", "DUP@Example.com", "  Dup@example.COM "};
    for (size_t i = 0; i < 3; i++) {
        struct http_res *r = try_register(again[i], "password-2", "Dup Two");
        assert_problem(r, 409, "email");
        assert_string_equal(json_string_value(json_object_get(r->json, "title")), "Conflict");
        json_t *first = json_array_get(json_object_get(r->json, "errors"), 0);
        assert_string_equal(json_string_value(json_object_get(first, "field")), "email");
        http_res_free(r);
    }
    assert_int_equal(count_users("dup@example.com"), 1);
}

/* argon2id runs so far, from /metrics. */
static long long password_runs(void) {
    struct http_res *r = http_request("GET", "/metrics", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    const char *line = strstr(r->body, "\nnexus_password_hashes_total ");
    assert_non_null(line);
    long long n = strtoll(line + strlen("\nnexus_password_hashes_total "), NULL, 10);
    http_res_free(r);
    return n;
}

static void test_register_duplicate_email_is_409_before_any_hashing(void **state) {
    (void)state;
    register_user("dup-nohash@example.com", "password-1", "First");
    long long before = password_runs();
    for (int i = 0; i < 3; i++) {
        struct http_res *r = try_register(" DUP-NOHASH@example.com", "password-2", "Again");
        assert_problem(r, 409, "email");
        http_res_free(r);
    }
    assert_int_equal(password_runs(), before);
    /* A new address is still hashed: the counter does move. */
    register_user("dup-nohash-2@example.com", "password-1", "Second");
    assert_true(password_runs() > before);
}

static void test_register_role_field_is_rejected(void **state) {
    (void)state;
    const char *roles[] = {"admin", "staff", "customer"};
    for (size_t i = 0; i < 3; i++) {
        struct http_res *r = post_json(
            REGISTER, json_pack("{s:s, s:s, s:s, s:s}", "email", "sneaky@example.com", "password",
                                "password-1", "name", "Sneaky", "role", roles[i]));
        assert_problem(r, 422, "role");
        http_res_free(r);
    }
    assert_int_equal(count_users("sneaky@example.com"), 0);
}

static void test_register_password_of_7_is_422_and_of_8_is_ok(void **state) {
    (void)state;
    expect_register_422("pw7@example.com", "1234567", "Pw", "password");
    assert_int_equal(count_users("pw7@example.com"), 0);
    register_user("pw8@example.com", "12345678", "Pw");
}

static void test_register_password_of_128_is_ok_and_of_129_is_422(void **state) {
    (void)state;
    char *p128 = repeat("x", 128), *p129 = repeat("x", 129);
    register_user("pw128@example.com", p128, "Pw");
    expect_register_422("pw129@example.com", p129, "Pw", "password");
    assert_int_equal(count_users("pw129@example.com"), 0);
    struct tokens t = login("pw128@example.com", p128);
    tokens_free(&t);
    free(p128);
    free(p129);
}

static void test_register_password_length_counts_code_points(void **state) {
    (void)state;
    char *e8 = repeat("\xc3\xa9", 8);     /* 8 characters, 16 bytes */
    char *e4 = repeat("\xc3\xa9", 4);     /* 4 characters, 8 bytes */
    char *e128 = repeat("\xc3\xa9", 128); /* 128 characters, 256 bytes */
    char *e129 = repeat("\xc3\xa9", 129);
    char *emoji7 = repeat("\xf0\x9f\x98\x80", 7); /* 7 characters, 28 bytes */
    register_user("pw-e8@example.com", e8, "Pw");
    expect_register_422("pw-e4@example.com", e4, "Pw", "password");
    register_user("pw-e128@example.com", e128, "Pw");
    expect_register_422("pw-e129@example.com", e129, "Pw", "password");
    expect_register_422("pw-emoji7@example.com", emoji7, "Pw", "password");
    struct tokens t = login("pw-e8@example.com", e8);
    tokens_free(&t);
    free(e8);
    free(e4);
    free(e128);
    free(e129);
    free(emoji7);
}

static void test_register_bad_email_is_422(void **state) {
    (void)state;
    const char *bad[] = {"",
                         "   ",
                         "plainaddress",
                         "@example.com",
                         "user@",
                         "two@@example.com",
                         "a@b@example.com",
                         "sp ace@example.com",
                         "user@exa mple.com",
                         "user@example..com",
                         "user@.example.com",
                         "user@example.com."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = try_register(bad[i], "password-1", "Bad Email");
        if (r->status != 422)
            fprintf(stderr, "email '%s' gave %ld\n", bad[i], r->status);
        assert_problem(r, 422, "email");
        assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
        http_res_free(r);
    }
}

static void test_register_missing_fields_give_one_entry_each(void **state) {
    (void)state;
    struct http_res *r = post_text(REGISTER, "{}");
    assert_problem(r, 422, "email");
    assert_problem(r, 422, "password");
    assert_problem(r, 422, "name");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 3);
    assert_string_equal(detail_of(r), "3 fields are invalid");
    http_res_free(r);
    r = post_text(REGISTER, "{\"email\":\"missing@example.com\"}");
    assert_problem(r, 422, "password");
    assert_problem(r, 422, "name");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 2);
    http_res_free(r);
}

static void test_register_name_must_be_1_to_200_characters(void **state) {
    (void)state;
    expect_register_422("name-empty@example.com", "password-1", "", "name");
    expect_register_422("name-blank@example.com", "password-1", "   ", "name");
    char *n200 = repeat("\xc3\xa9", 200), *n201 = repeat("n", 201);
    expect_register_422("name-201@example.com", "password-1", n201, "name");
    struct http_res *r = try_register("name-200@example.com", "password-1", n200);
    assert_int_equal(r->status, 201);
    assert_string_equal(json_string_value(json_object_get(r->json, "name")), n200);
    http_res_free(r);
    free(n200);
    free(n201);
    assert_int_equal(count_users("name-empty@example.com") + count_users("name-201@example.com"),
                     0);
}

/* ---- login ------------------------------------------------------------------- */

static void test_login_returns_bearer_pair_expiring_in_900(void **state) {
    (void)state;
    long long id = register_user("login-ok@example.com", "password-1", "Login");
    struct http_res *r = post_json(LOGIN, creds("login-ok@example.com", "password-1"));
    assert_int_equal(r->status, 200);
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    assert_string_equal(http_header(r, "Cache-Control"), "no-store"); /* tokens */
    assert_int_equal(json_object_size(r->json), 4);
    assert_string_equal(json_string_value(json_object_get(r->json, "token_type")), "Bearer");
    assert_true(json_is_integer(json_object_get(r->json, "expires_in")));
    assert_int_equal(json_integer_value(json_object_get(r->json, "expires_in")), 900);
    struct tokens t = tokens_from(r);
    http_res_free(r);
    assert_string_not_equal(t.access, t.refresh);
    /* The access token is a JWT with the documented claims. */
    json_t *c = jwt_claims(t.access);
    char sub[32];
    snprintf(sub, sizeof sub, "%lld", id);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), sub);
    assert_string_equal(json_string_value(json_object_get(c, "role")), "customer");
    assert_string_equal(json_string_value(json_object_get(c, "iss")), "nexus");
    assert_non_null(json_string_value(json_object_get(c, "jti")));
    json_int_t iat = json_integer_value(json_object_get(c, "iat"));
    assert_int_equal(json_integer_value(json_object_get(c, "exp")) - iat, 900);
    assert_true(llabs((long long)iat - (long long)time(NULL)) < 60);
    json_decref(c);
    assert_int_equal(get_status(ME, t.access), 200);
    tokens_free(&t);
}

static void test_login_email_is_case_insensitive_and_trimmed(void **state) {
    (void)state;
    register_user("login-case@example.com", "password-1", "Case");
    struct tokens a = login("LOGIN-CASE@EXAMPLE.COM", "password-1");
    struct tokens b = login("  Login-Case@Example.com ", "password-1");
    assert_int_equal(get_status(ME, a.access), 200);
    tokens_free(&a);
    tokens_free(&b);
}

static void test_login_wrong_password_is_401_with_bearer_challenge(void **state) {
    (void)state;
    register_user("login-wrong@example.com", "password-1", "Wrong");
    struct http_res *r = post_json(LOGIN, creds("login-wrong@example.com", "password-2"));
    assert_problem(r, 401, NULL);
    assert_string_equal(json_string_value(json_object_get(r->json, "title")), "Unauthorized");
    assert_null(json_object_get(r->json, "errors"));
    const char *www = http_header(r, "WWW-Authenticate");
    assert_non_null(www);
    assert_int_equal(strncmp(www, "Bearer", 6), 0);
    assert_null(json_object_get(r->json, "access_token"));
    http_res_free(r);
    /* The password is case-sensitive. */
    r = post_json(LOGIN, creds("login-wrong@example.com", "PASSWORD-1"));
    assert_problem(r, 401, NULL);
    http_res_free(r);
}

static void test_login_unknown_email_gives_the_same_401_as_wrong_password(void **state) {
    (void)state;
    register_user("login-same@example.com", "password-1", "Same");
    struct http_res *wrong = post_json(LOGIN, creds("login-same@example.com", "password-2"));
    struct http_res *unknown = post_json(LOGIN, creds("nobody-here@example.com", "password-1"));
    assert_problem(wrong, 401, NULL);
    assert_problem(unknown, 401, NULL);
    assert_string_equal(detail_of(unknown), detail_of(wrong));
    assert_string_equal(http_header(unknown, "WWW-Authenticate"),
                        http_header(wrong, "WWW-Authenticate"));
    assert_int_equal(json_object_size(unknown->json), json_object_size(wrong->json));
    http_res_free(wrong);
    http_res_free(unknown);
}

static void test_login_deactivated_user_is_the_same_401(void **state) {
    (void)state;
    register_user("login-inactive@example.com", "password-1", "Inactive");
    struct http_res *wrong = post_json(LOGIN, creds("login-inactive@example.com", "password-x"));
    sql("UPDATE users SET is_active = false WHERE email = 'login-inactive@example.com'");
    struct http_res *r = post_json(LOGIN, creds("login-inactive@example.com", "password-1"));
    assert_problem(r, 401, NULL);
    assert_string_equal(detail_of(r), detail_of(wrong));
    http_res_free(r);
    http_res_free(wrong);
}

static void test_login_malformed_email_is_401_not_422(void **state) {
    (void)state;
    const char *bad[] = {"not-an-email", "", "a@@example.com"};
    struct http_res *ref = post_json(LOGIN, creds("nobody-at-all@example.com", "password-1"));
    for (size_t i = 0; i < 3; i++) {
        struct http_res *r = post_json(LOGIN, creds(bad[i], "password-1"));
        assert_problem(r, 401, NULL);
        assert_null(json_object_get(r->json, "errors"));
        assert_string_equal(detail_of(r), detail_of(ref));
        http_res_free(r);
    }
    http_res_free(ref);
}

/* A NUL in the email or the password is a malformed email or a wrong
 * password: the same 401, never the account before it. */
static void test_login_nul_in_a_credential_is_the_same_401(void **state) {
    (void)state;
    register_user("login-nul@example.com", "password-1", "Nul");
    static const char *const bodies[] = {
        "{\"email\":\"login-nul@example.com\\u0000x\",\"password\":\"password-1\"}",
        "{\"email\":\"login-nul@example.com\",\"password\":\"password-1\\u0000\"}",
    };
    for (size_t i = 0; i < 2; i++) {
        struct http_res *r = post_text(LOGIN, bodies[i]);
        assert_problem(r, 401, NULL);
        assert_null(json_object_get(r->json, "errors"));
        http_res_free(r);
    }
    /* nor a field's error beside one that is (a number past a double) */
    struct http_res *r =
        post_text(LOGIN, "{\"email\":\"login-nul@example.com\\u0000\",\"password\":1e400}");
    assert_problem(r, 422, "password");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    http_res_free(r);
    r = post_json(LOGIN, creds("login-nul@example.com", "password-1"));
    expect_status(r, 200, "login");
    http_res_free(r);
}

static void test_login_missing_password_is_422(void **state) {
    (void)state;
    struct http_res *r = post_text(LOGIN, "{\"email\":\"login-ok@example.com\"}");
    assert_problem(r, 422, "password");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    http_res_free(r);
    r = post_text(LOGIN, "{}");
    assert_problem(r, 422, "email");
    assert_problem(r, 422, "password");
    http_res_free(r);
}

static void test_login_non_string_fields_are_422(void **state) {
    (void)state;
    struct http_res *r =
        post_text(LOGIN, "{\"email\":\"login-ok@example.com\",\"password\":12345678}");
    assert_problem(r, 422, "password");
    http_res_free(r);
    r = post_text(LOGIN, "{\"email\":\"login-ok@example.com\",\"password\":null}");
    assert_problem(r, 422, "password");
    http_res_free(r);
    r = post_text(LOGIN, "{\"email\":[\"login-ok@example.com\"],\"password\":\"password-1\"}");
    assert_problem(r, 422, "email");
    http_res_free(r);
}

static void test_login_unknown_field_is_422(void **state) {
    (void)state;
    struct http_res *r = post_text(
        LOGIN,
        "{\"email\":\"login-ok@example.com\",\"password\":\"password-1\",\"remember\":true}");
    assert_problem(r, 422, "remember");
    http_res_free(r);
}

/* ---- bearer tokens ------------------------------------------------------------ */

static void test_users_me_with_token_is_200(void **state) {
    (void)state;
    long long id = register_user("me-ok@example.com", "password-1", "Me Ok");
    struct tokens t = login("me-ok@example.com", "password-1");
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.access);
    struct http_res *r = get_with_header(ME, auth, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_object_size(r->json), 8);
    assert_int_equal(json_integer_value(json_object_get(r->json, "id")), id);
    assert_string_equal(json_string_value(json_object_get(r->json, "email")), "me-ok@example.com");
    http_res_free(r);
    tokens_free(&t);
}

static void test_users_me_without_token_is_401_with_bearer_challenge(void **state) {
    (void)state;
    assert_int_equal(get_status(ME, NULL), 401);
}

/* HTTP's scheme names are case-insensitive (RFC 9110, 11.1). */
static void test_bearer_scheme_in_any_case_is_accepted(void **state) {
    (void)state;
    register_user("scheme@example.com", "password-1", "Scheme");
    struct tokens t = login("scheme@example.com", "password-1");
    static const char *const SPELLINGS[] = {"bearer", "BEARER", "BeArEr"};
    for (size_t i = 0; i < sizeof SPELLINGS / sizeof SPELLINGS[0]; i++) {
        char auth[4200];
        snprintf(auth, sizeof auth, "Authorization: %s %s", SPELLINGS[i], t.access);
        struct http_res *r = get_with_header(ME, auth, NULL);
        assert_int_equal(r->status, 200);
        http_res_free(r);
    }
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Token %s", t.access);
    struct http_res *r = get_with_header(ME, auth, NULL);
    assert_problem(r, 401, NULL);
    assert_non_null(http_header(r, "WWW-Authenticate"));
    http_res_free(r);
    tokens_free(&t);
}

static void test_two_authorization_headers_are_401(void **state) {
    (void)state;
    register_user("two-auth@example.com", "password-1", "Two");
    struct tokens t = login("two-auth@example.com", "password-1");
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.access);
    struct http_res *r = get_with_header(ME, auth, auth);
    assert_problem(r, 401, NULL);
    http_res_free(r);
    tokens_free(&t);
}

static void test_garbage_tokens_are_401(void **state) {
    (void)state;
    const char *bad[] = {"Authorization: Bearer garbage",
                         "Authorization: Bearer a.b.c",
                         "Authorization: Bearer",
                         "Authorization: Bearer  ",
                         "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                         "Authorization: garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = get_with_header(ME, bad[i], NULL);
        if (r->status != 401)
            fprintf(stderr, "'%s' gave %ld\n", bad[i], r->status);
        assert_problem(r, 401, NULL);
        assert_non_null(http_header(r, "WWW-Authenticate"));
        http_res_free(r);
    }
    /* a token sent and refused says so (RFC 6750 3.1); no token, or no
     * bearer, does not */
    struct http_res *r = get_with_header(ME, bad[0], NULL);
    assert_string_equal(http_header(r, "WWW-Authenticate"),
                        "Bearer realm=\"nexus\", error=\"invalid_token\"");
    http_res_free(r);
    r = get_with_header("/healthz", bad[1], NULL);
    assert_non_null(strstr(http_header(r, "WWW-Authenticate"), "error=\"invalid_token\""));
    http_res_free(r);
    r = get_with_header(ME, bad[4], NULL);
    assert_string_equal(http_header(r, "WWW-Authenticate"), "Bearer realm=\"nexus\"");
    http_res_free(r);
    /* a token too long to be one was sent and refused too */
    char *long_token = malloc(5100);
    assert_non_null(long_token);
    int n = snprintf(long_token, 5100, "Authorization: Bearer ");
    memset(long_token + n, 'a', 5000);
    long_token[n + 5000] = '\0';
    r = get_with_header(ME, long_token, NULL);
    assert_non_null(strstr(http_header(r, "WWW-Authenticate"), "error=\"invalid_token\""));
    http_res_free(r);
    free(long_token);
    r = get_with_header(ME, NULL, NULL);
    assert_string_equal(http_header(r, "WWW-Authenticate"), "Bearer realm=\"nexus\"");
    http_res_free(r);
}

/* API.md, Settled details, Auth: "An invalid token is a 401 even on a
 * public endpoint." */
static void test_invalid_token_is_401_even_on_operational_endpoints(void **state) {
    (void)state;
    assert_int_equal(get_status("/healthz", "garbage"), 401);
    assert_int_equal(get_status("/readyz", "garbage"), 401);
    assert_int_equal(get_status("/openapi.yaml", "garbage"), 401);
}

static void test_invalid_token_is_401_even_on_public_api_endpoints(void **state) {
    (void)state;
    struct http_res *r =
        post_json_h(REGISTER,
                    json_pack("{s:s, s:s, s:s}", "email", "public-bad-token@example.com",
                              "password", "password-1", "name", "Public"),
                    "Authorization: Bearer garbage");
    assert_problem(r, 401, NULL);
    http_res_free(r);
    assert_int_equal(count_users("public-bad-token@example.com"), 0);
    r = post_json_h(LOGIN, creds("login-ok@example.com", "password-1"),
                    "Authorization: Bearer garbage");
    assert_problem(r, 401, NULL);
    http_res_free(r);
}

static void test_valid_token_on_public_endpoint_is_fine(void **state) {
    (void)state;
    register_user("public-ok@example.com", "password-1", "Public");
    struct tokens t = login("public-ok@example.com", "password-1");
    assert_int_equal(get_status("/healthz", t.access), 200);
    tokens_free(&t);
}

static void test_refresh_token_used_as_access_token_is_401(void **state) {
    (void)state;
    register_user("refresh-as-access@example.com", "password-1", "RaA");
    struct tokens t = login("refresh-as-access@example.com", "password-1");
    assert_int_equal(get_status(ME, t.refresh), 401);
    assert_int_equal(get_status(ME, t.access), 200);
    tokens_free(&t);
}

static void test_access_token_used_as_refresh_token_is_401(void **state) {
    (void)state;
    register_user("access-as-refresh@example.com", "password-1", "AaR");
    struct tokens t = login("access-as-refresh@example.com", "password-1");
    assert_int_equal(refresh_status(t.access), 401);
    assert_int_equal(refresh_status(t.refresh), 200);
    tokens_free(&t);
}

/* Forged tokens, signed with the server's own secret unless said otherwise. */

static void edit_nothing(json_t *c) {
    (void)c;
}
static void edit_drop_exp(json_t *c) {
    json_object_del(c, "exp");
}
static void edit_expired(json_t *c) {
    json_object_set_new(c, "exp", json_integer((json_int_t)time(NULL) - 5));
    json_object_set_new(c, "iat", json_integer((json_int_t)time(NULL) - 905));
}
static void edit_drop_iss(json_t *c) {
    json_object_del(c, "iss");
}
static void edit_other_iss(json_t *c) {
    json_object_set_new(c, "iss", json_string("someone-else"));
}
static void edit_future_nbf(json_t *c) {
    json_object_set_new(c, "nbf", json_integer((json_int_t)time(NULL) + 3600));
}
static void edit_unknown_user(json_t *c) {
    json_object_set_new(c, "sub", json_string("999999"));
}
static void edit_role_admin(json_t *c) {
    json_object_set_new(c, "role", json_string("admin"));
}

/* 36 characters, as a login id is, but no UUID */
static void edit_family_not_a_uuid(json_t *c) {
    json_object_set_new(c, "fam", json_string("not-a-uuid-but-thirty-six-chars-long"));
}

static void forge_user(void) {
    static bool done;
    if (!done)
        register_user("forge@example.com", "forge-password", "Forge");
    done = true;
}

static void expect_forged(void (*edit)(json_t *), long status) {
    forge_user();
    char *tok = forged_access("forge@example.com", edit);
    assert_int_equal(get_status(ME, tok), status);
    free(tok);
}

static void test_resigned_token_with_unchanged_claims_is_accepted(void **state) {
    (void)state;
    expect_forged(edit_nothing, 200); /* the control for the forgeries below */
}

static void test_token_without_exp_is_401(void **state) {
    (void)state;
    expect_forged(edit_drop_exp, 401);
}

static void test_expired_token_is_401(void **state) {
    (void)state;
    expect_forged(edit_expired, 401);
}

static void test_token_without_iss_or_with_other_iss_is_401(void **state) {
    (void)state;
    expect_forged(edit_drop_iss, 401);
    expect_forged(edit_other_iss, 401);
}

static void test_token_with_future_nbf_is_401(void **state) {
    (void)state;
    expect_forged(edit_future_nbf, 401);
}

static void test_token_for_user_that_does_not_exist_is_401(void **state) {
    (void)state;
    expect_forged(edit_unknown_user, 401);
}

/* The login id is read by every route that looks the caller up: one the
 * server never issues is an invalid token there, not a field at fault. */
static void test_token_whose_login_id_is_not_a_uuid_is_401(void **state) {
    (void)state;
    expect_forged(edit_family_not_a_uuid, 401);
    char *tok = forged_access("forge@example.com", edit_family_not_a_uuid);
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    struct http_res *r = post_json_h(LOGOUT, json_pack("{s:s}", "refresh_token", "x"), auth);
    assert_problem(r, 401, NULL);
    http_res_free(r);
    free(tok);
}

/* A claim given twice (libjwt's parse keeps the last): never in a token
 * the server issued, so an invalid token. */
static void test_token_with_a_duplicated_claim_is_401(void **state) {
    (void)state;
    forge_user();
    struct tokens t = login("forge@example.com", "forge-password");
    char *text = dump(jwt_claims(t.access));
    size_t n = strlen(text);
    char *twice = malloc(n + 32);
    assert_non_null(twice);
    /* the claims as issued, then "role" once more before the closing brace */
    snprintf(twice, n + 32, "%.*s,\"role\":\"admin\"}", (int)(n - 1), text);
    char *tok = jwt_make_text(HS256_HEADER, twice, MAC_HS256, SECRET);
    assert_int_equal(get_status(ME, tok), 401);
    free(tok);
    free(twice);
    free(text);
    tokens_free(&t);
}

static void test_token_signed_with_other_secret_is_401(void **state) {
    (void)state;
    forge_user();
    struct tokens t = login("forge@example.com", "forge-password");
    char *tok = jwt_make(HS256_HEADER, jwt_claims(t.access), MAC_HS256,
                         "a-different-secret-of-at-least-32-bytes!");
    assert_int_equal(get_status(ME, tok), 401);
    free(tok);
    tokens_free(&t);
}

static void test_unsigned_alg_none_token_is_401(void **state) {
    (void)state;
    forge_user();
    struct tokens t = login("forge@example.com", "forge-password");
    char *tok = jwt_make("{\"alg\":\"none\",\"typ\":\"JWT\"}", jwt_claims(t.access), MAC_NONE, "");
    assert_int_equal(get_status(ME, tok), 401);
    free(tok);
    tokens_free(&t);
}

static void test_token_with_other_algorithm_is_401(void **state) {
    (void)state;
    forge_user();
    struct tokens t = login("forge@example.com", "forge-password");
    char *tok =
        jwt_make("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", jwt_claims(t.access), MAC_HS512, SECRET);
    assert_int_equal(get_status(ME, tok), 401);
    free(tok);
    tokens_free(&t);
}

static void test_role_claim_in_token_is_not_trusted(void **state) {
    (void)state;
    forge_user();
    char *tok = forged_access("forge@example.com", edit_role_admin);
    assert_int_equal(get_status(ME, tok), 200);
    assert_int_equal(get_status(USERS, tok), 403);
    free(tok);
}

/* ---- refresh ------------------------------------------------------------------ */

static void test_refresh_returns_a_new_pair_different_from_the_old(void **state) {
    (void)state;
    register_user("refresh-ok@example.com", "password-1", "Refresh");
    struct tokens old = login("refresh-ok@example.com", "password-1");
    struct http_res *r = refresh_with(old.refresh);
    assert_int_equal(r->status, 200);
    assert_string_equal(http_header(r, "Cache-Control"), "no-store");
    assert_string_equal(json_string_value(json_object_get(r->json, "token_type")), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r->json, "expires_in")), 900);
    struct tokens fresh = tokens_from(r);
    http_res_free(r);
    assert_string_not_equal(fresh.access, old.access);
    assert_string_not_equal(fresh.refresh, old.refresh);
    assert_int_equal(get_status(ME, fresh.access), 200);
    /* The new refresh token rotates again. */
    r = refresh_with(fresh.refresh);
    assert_int_equal(r->status, 200);
    struct tokens third = tokens_from(r);
    http_res_free(r);
    assert_string_not_equal(third.refresh, fresh.refresh);
    assert_int_equal(get_status(ME, third.access), 200);
    tokens_free(&old);
    tokens_free(&fresh);
    tokens_free(&third);
}

static void test_refresh_token_reuse_ends_that_login(void **state) {
    (void)state;
    register_user("reuse@example.com", "password-1", "Reuse");
    struct tokens first = login("reuse@example.com", "password-1");
    struct tokens other = login("reuse@example.com", "password-1"); /* independent login */
    struct http_res *r = refresh_with(first.refresh);
    assert_int_equal(r->status, 200);
    struct tokens rotated = tokens_from(r);
    http_res_free(r);
    /* The used token again: reuse. */
    assert_int_equal(refresh_status(first.refresh), 401);
    /* The whole login ended: the newest refresh token and the access tokens. */
    assert_int_equal(refresh_status(rotated.refresh), 401);
    assert_int_equal(get_status(ME, rotated.access), 401);
    assert_int_equal(get_status(ME, first.access), 401);
    /* The other login of the same user is untouched. */
    assert_int_equal(get_status(ME, other.access), 200);
    r = refresh_with(other.refresh);
    assert_int_equal(r->status, 200);
    struct tokens other2 = tokens_from(r);
    http_res_free(r);
    assert_int_equal(get_status(ME, other2.access), 200);
    tokens_free(&first);
    tokens_free(&other);
    tokens_free(&rotated);
    tokens_free(&other2);
}

/* Under an Idempotency-Key, the reuse's 401 is not kept, and the
 * refusal's transaction used to be rolled back: the login it reported
 * ended went on working. */
static void test_refresh_token_reuse_under_a_key_ends_that_login(void **state) {
    (void)state;
    register_user("reuse-key@example.com", "password-1", "Reuse Key");
    struct tokens first = login("reuse-key@example.com", "password-1");
    struct http_res *r = refresh_with(first.refresh);
    assert_int_equal(r->status, 200);
    struct tokens rotated = tokens_from(r);
    http_res_free(r);
    r = post_json_h(REFRESH, json_pack("{s:s}", "refresh_token", first.refresh),
                    "Idempotency-Key: reuse-under-a-key");
    assert_int_equal(r->status, 401);
    http_res_free(r);
    assert_int_equal(get_status(ME, rotated.access), 401);
    assert_int_equal(refresh_status(rotated.refresh), 401);
    tokens_free(&first);
    tokens_free(&rotated);
}

/* A password change whose transaction loses a conflict is run again (see
 * the server's retries): with the body it was sent, not one whose
 * passwords were wiped after the first attempt (a 422 on password). */
static void test_password_change_that_lost_a_conflict_is_run_again_whole(void **state) {
    (void)state;
    register_user("conflict-once@example.com", "password-1", "Conflict");
    struct tokens t = login("conflict-once@example.com", "password-1");
    /* nextval is not rolled back: the first password write conflicts, the
     * retry does not */
    free(harness_sql(&server, "CREATE SEQUENCE conflict_once;"
                              " CREATE FUNCTION conflict_once() RETURNS trigger LANGUAGE plpgsql AS"
                              " $$BEGIN IF nextval('conflict_once') = 1 THEN RAISE EXCEPTION 'lost'"
                              " USING ERRCODE = '40001'; END IF; RETURN NEW; END$$;"
                              " CREATE TRIGGER conflict_once BEFORE UPDATE ON users FOR EACH ROW"
                              " WHEN (OLD.email = 'conflict-once@example.com'"
                              " AND NEW.password_hash <> OLD.password_hash)"
                              " EXECUTE FUNCTION conflict_once()"));
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.access);
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    const char body[] = "{\"current_password\":\"password-1\",\"password\":\"password-2\"}";
    struct http_res *r = http_request("PATCH", ME, h, body, strlen(body));
    free(harness_sql(&server, "DROP TRIGGER conflict_once ON users;"
                              " DROP FUNCTION conflict_once(); DROP SEQUENCE conflict_once"));
    if (r->status != 200)
        fprintf(stderr, "PATCH %s: %ld %s\n", ME, r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 200);
    http_res_free(r);
    struct tokens again = login("conflict-once@example.com", "password-2");
    tokens_free(&again);
    tokens_free(&t);
}

/* Two changes that give the same current password: the second is checked
 * against the first's new password, under the user's row lock, so it is
 * a 422 on current_password, not a 200 for a password that does not
 * work. */
struct password_change {
    const char *access;
};

static long racing_password_change(int i, void *ctx) {
    const struct password_change *c = ctx;
    char auth[4200], body[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->access);
    snprintf(body, sizeof body,
             "{\"current_password\":\"password-1\",\"password\":\"new-pass-%d\"}", i);
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    struct http_res *r = http_request("PATCH", ME, h, body, strlen(body));
    long status = r->status;
    if (status == 422)
        assert_problem(r, 422, "current_password");
    http_res_free(r);
    return status;
}

static void test_racing_password_changes_with_one_current_password_one_wins(void **state) {
    (void)state;
    enum { N = 4 };
    register_user("change-race@example.com", "password-1", "Change Race");
    struct tokens t = login("change-race@example.com", "password-1");
    struct password_change c = {t.access};
    long statuses[N];
    harness_race(N, racing_password_change, &c, statuses);
    assert_int_equal(harness_count_status(statuses, N, 200), 1);
    assert_int_equal(harness_count_status(statuses, N, 422), N - 1);
    int working = 0;
    for (int i = 0; i < N; i++) {
        char password[32];
        snprintf(password, sizeof password, "new-pass-%d", i);
        struct http_res *r = post_json(LOGIN, creds("change-race@example.com", password));
        working += r->status == 200;
        assert_true(r->status == 200 || r->status == 401);
        assert_true((r->status == 200) == (statuses[i] == 200));
        http_res_free(r);
    }
    assert_int_equal(working, 1);
    tokens_free(&t);
}

static void test_refresh_with_missing_or_non_string_token_is_422(void **state) {
    (void)state;
    struct http_res *r = post_text(REFRESH, "{}");
    assert_problem(r, 422, "refresh_token");
    http_res_free(r);
    r = post_text(REFRESH, "{\"refresh_token\":42}");
    assert_problem(r, 422, "refresh_token");
    http_res_free(r);
    r = post_text(REFRESH, "{\"refresh_token\":\"x\",\"extra\":1}");
    assert_problem(r, 422, "extra");
    http_res_free(r);
}

static void test_refresh_with_unknown_token_is_401(void **state) {
    (void)state;
    assert_int_equal(refresh_status("garbage"), 401);
    assert_int_equal(refresh_status(""), 401);
    /* Well-formed (43 characters of base64url) but never issued. */
    assert_int_equal(refresh_status("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401);
}

static void test_refresh_for_deactivated_user_is_401(void **state) {
    (void)state;
    register_user("refresh-inactive@example.com", "password-1", "RI");
    struct tokens t = login("refresh-inactive@example.com", "password-1");
    sql("UPDATE users SET is_active = false WHERE email = 'refresh-inactive@example.com'");
    assert_int_equal(refresh_status(t.refresh), 401);
    tokens_free(&t);
}

/* Concurrent uses of one refresh token: it is single-use, so exactly one
 * of them gets a new pair. */
struct refresh_job {
    const char *token;
    long status;
};

static void *refresh_thread(void *arg) {
    struct refresh_job *j = arg;
    char body[128];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", j->token);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_res *r = http_request("POST", REFRESH, h, body, strlen(body));
    j->status = r->status;
    http_res_free(r);
    return NULL;
}

static void test_concurrent_refreshes_of_one_token_succeed_once(void **state) {
    (void)state;
    enum { N = 6 };
    register_user("refresh-race@example.com", "password-1", "Race");
    struct tokens t = login("refresh-race@example.com", "password-1");
    struct refresh_job jobs[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        jobs[i].token = t.refresh;
        jobs[i].status = 0;
        assert_int_equal(pthread_create(&threads[i], NULL, refresh_thread, &jobs[i]), 0);
    }
    int ok = 0, unauthorized = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ok += jobs[i].status == 200;
        unauthorized += jobs[i].status == 401;
    }
    if (ok != 1 || unauthorized != N - 1)
        fprintf(stderr, "%d x 200, %d x 401 of %d\n", ok, unauthorized, N);
    assert_int_equal(ok, 1);
    assert_int_equal(unauthorized, N - 1);
    tokens_free(&t);
}

struct register_job {
    const char *email;
    long status;
};

static void *register_thread(void *arg) {
    struct register_job *j = arg;
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password-1\",\"name\":\"Racer\"}",
             j->email);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_res *r = http_request("POST", REGISTER, h, body, strlen(body));
    j->status = r->status;
    http_res_free(r);
    return NULL;
}

static void test_concurrent_registrations_of_one_email_create_one_user(void **state) {
    (void)state;
    enum { N = 6 };
    const char *spellings[] = {"race@example.com", "RACE@example.com", "Race@Example.com"};
    struct register_job jobs[N];
    pthread_t threads[N];
    for (int i = 0; i < N; i++) {
        jobs[i].email = spellings[i % 3];
        jobs[i].status = 0;
        assert_int_equal(pthread_create(&threads[i], NULL, register_thread, &jobs[i]), 0);
    }
    int created = 0, conflict = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        created += jobs[i].status == 201;
        conflict += jobs[i].status == 409;
    }
    if (created != 1 || conflict != N - 1)
        fprintf(stderr, "%d x 201, %d x 409 of %d\n", created, conflict, N);
    assert_int_equal(created, 1);
    assert_int_equal(conflict, N - 1);
    assert_int_equal(count_users("race@example.com"), 1);
}

/* ---- a login and a change of its user at once ------------------------------- */

struct login_job {
    const char *email;
    long status;
};

static void *login_thread(void *arg) {
    struct login_job *j = arg;
    struct http_res *r = post_json(LOGIN, creds(j->email, "password-1"));
    j->status = r->status;
    http_res_free(r);
    return NULL;
}

/* Log email in with password-1 on a thread while a transaction of the
 * test's, begun with held_sql, holds the user's row; end it with end_sql
 * once waiting (a count on the watch connection) is not 0. The login's
 * status. */
static long login_while_held(const char *email, const char *held_sql, const char *waiting,
                             const char *end_sql) {
    PGconn *tx = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(tx), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    assert_true(harness_pg_exec(tx, held_sql));
    struct login_job job = {email, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, login_thread, &job), 0);
    assert_true(harness_pg_wait_nonzero(watch, waiting));
    assert_true(harness_pg_exec(tx, end_sql));
    pthread_join(t, NULL);
    PQfinish(tx);
    PQfinish(watch);
    return job.status;
}

/* A login whose password was checked before a change of the user committed
 * (the change holds the user's row, as the server's own does, and commits
 * once the login waits for the row, or, without that wait, once the login
 * committed): the login is refused, and the user has no live login, where
 * it used to outlive the change with a refresh token that worked again
 * once the user was reactivated. */
static void expect_login_ended_by(const char *email, const char *change) {
    long long id = register_user(email, "password-1", "Changed");
    char held[512], waiting[512];
    snprintf(held, sizeof held, "BEGIN; SELECT 1 FROM users WHERE id = %lld FOR UPDATE; %s", id,
             change);
    snprintf(waiting, sizeof waiting,
             "SELECT (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
             " AND datname = current_database()) + (SELECT count(*) FROM logins"
             " WHERE user_id = %lld)",
             id);
    assert_int_equal(login_while_held(email, held, waiting, "COMMIT"), 401);
    harness_expect_sql(&server, "0",
                       "SELECT count(*) FROM logins WHERE user_id = %lld AND revoked_at IS NULL",
                       id);
}

static void test_login_racing_a_deactivation_is_401(void **state) {
    (void)state;
    expect_login_ended_by("login-vs-deactivation@example.com",
                          "UPDATE users SET is_active = false"
                          " WHERE email = 'login-vs-deactivation@example.com'");
}

static void test_login_racing_a_new_password_is_401(void **state) {
    (void)state;
    register_user("login-vs-password-other@example.com", "password-2", "Other");
    expect_login_ended_by("login-vs-password@example.com",
                          "UPDATE users SET password_hash = (SELECT password_hash FROM users"
                          " WHERE email = 'login-vs-password-other@example.com')"
                          " WHERE email = 'login-vs-password@example.com'");
    struct tokens t = login("login-vs-password@example.com", "password-2");
    tokens_free(&t);
}

/* Whether a statement of the test's database waits for a lock. */
#define LOCK_WAITS                                                                                 \
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"                         \
    " AND datname = current_database()"

/* A hash of password with opslimit for its cost: other than the server's, a login upgrades it. */
static void hash_with_costs(char out[crypto_pwhash_STRBYTES], const char *password,
                            unsigned long long opslimit) {
    assert_int_equal(crypto_pwhash_str(out, password, strlen(password), opslimit,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE),
                     0);
}

/* Register email with password-1 hashed with older costs, then log it in
 * (login_while_held) while a transaction of the test's holds its row
 * (lock: "SHARE" or "UPDATE") and ends by setting the user's hash to one
 * of password with the current costs. The login's status; *id: the user. */
static long login_while_hash_set(const char *email, const char *lock, const char *password,
                                 long long *id) {
    *id = register_user(email, "password-1", "Rehashed");
    char stale[crypto_pwhash_STRBYTES], fresh[crypto_pwhash_STRBYTES];
    hash_with_costs(stale, "password-1", crypto_pwhash_OPSLIMIT_INTERACTIVE + 1);
    hash_with_costs(fresh, password, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    sql("UPDATE users SET password_hash = '%s' WHERE id = %lld", stale, *id);
    char held[128], end[512];
    snprintf(held, sizeof held, "BEGIN; SELECT 1 FROM users WHERE id = %lld FOR %s", *id, lock);
    snprintf(end, sizeof end, "UPDATE users SET password_hash = '%s' WHERE id = %lld; COMMIT",
             fresh, *id);
    long status = login_while_held(email, held, LOCK_WAITS, end);
    harness_expect_sql(&server, fresh, "SELECT password_hash FROM users WHERE id = %lld", *id);
    return status;
}

/* A login upgrades a hash of older costs; a new password set while it
 * hashes (here committed once the upgrade waits for the user's row) is
 * kept, where the upgrade wrote the old password back: the new one was
 * refused and the old one still logged in. */
static void test_a_hash_upgrade_keeps_a_password_set_meanwhile(void **state) {
    (void)state;
    const char *email = "upgrade-vs-password@example.com";
    long long id = 0;
    assert_int_equal(login_while_hash_set(email, "SHARE", "password-2", &id), 200);
    struct tokens t = login(email, "password-2");
    tokens_free(&t);
}

/* A login whose password was checked before another login's upgrade of
 * the same password to the current costs committed (here once the login
 * waits for the user's row) logs in, with that hash kept: the upgrade is
 * no new password, where the login was refused as after one. */
static void test_login_racing_a_hash_upgrade_of_its_password_is_200(void **state) {
    (void)state;
    long long id = 0;
    assert_int_equal(
        login_while_hash_set("login-vs-upgrade@example.com", "UPDATE", "password-1", &id), 200);
    harness_expect_sql(&server, "1",
                       "SELECT count(*) FROM logins WHERE user_id = %lld AND revoked_at IS NULL",
                       id);
}

/* ---- a refresh and the end of its login at once ------------------------------------ */

/* Whether a statement of the test's database waits for a row of logins (the
 * waiter holds the row's tuple lock while it waits for the row's holder). */
#define LOGIN_ROW_WAITS                                                                            \
    "SELECT count(*) FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid"                     \
    " WHERE k.locktype = 'tuple' AND k.relation = 'logins'::regclass AND k.granted"                \
    " AND a.wait_event_type = 'Lock' AND a.datname = current_database()"

/* Refresh a login of email on a thread while a transaction of the test's
 * ends it as logout, DELETE /users/me/logins/{id} and the end of a user's
 * other logins do: the login's row, then its tokens' rows. Once the
 * refresh waits for the login's row, the transaction takes the tokens'
 * rows without waiting (the refresh holds none of them meanwhile, where it
 * held its token's row and the two deadlocked), then ends with end. The
 * refresh's status. */
static long refresh_while_login_ended(const char *email, const char *end) {
    long long id = register_user(email, "password-1", "Rotate");
    struct tokens t = login(email, "password-1");
    PGconn *tx = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(tx), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    char held[256], tokens[512];
    snprintf(held, sizeof held, "BEGIN; UPDATE logins SET revoked_at = now() WHERE user_id = %lld",
             id);
    assert_true(harness_pg_exec(tx, held));
    struct refresh_job job = {t.refresh, 0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, refresh_thread, &job), 0);
    bool waited = harness_pg_wait_nonzero(watch, LOGIN_ROW_WAITS);
    snprintf(tokens, sizeof tokens,
             "SELECT 1 FROM refresh_tokens WHERE user_id = %lld FOR UPDATE NOWAIT;"
             " UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %lld; %s",
             id, id, end);
    bool taken = waited && harness_pg_exec(tx, tokens);
    if (!taken)
        harness_pg_exec(tx, "ROLLBACK");
    pthread_join(thread, NULL);
    PQfinish(tx);
    PQfinish(watch);
    tokens_free(&t);
    assert_true(waited);
    assert_true(taken);
    return job.status;
}

/* A refresh racing the end of its login waits for it and is then refused,
 * the login ended with all its tokens. */
static void test_refresh_racing_the_end_of_its_login_is_401(void **state) {
    (void)state;
    assert_int_equal(refresh_while_login_ended("refresh-vs-end@example.com", "COMMIT"), 401);
    harness_expect_sql(&server, "0",
                       "SELECT count(*) FROM logins l JOIN users u ON u.id = l.user_id"
                       " WHERE u.email = 'refresh-vs-end@example.com' AND l.revoked_at IS NULL");
}

/* An end of the login that did not commit leaves the refresh its new pair. */
static void test_refresh_waiting_for_an_end_rolled_back_is_200(void **state) {
    (void)state;
    assert_int_equal(refresh_while_login_ended("refresh-vs-undone-end@example.com", "ROLLBACK"),
                     200);
}

/* A request of its own id, on a thread: its status. */
struct tagged_job {
    const char *method, *path, *access, *body;
    char request_id[64];
    long status;
};

static void *tagged_thread(void *arg) {
    struct tagged_job *j = arg;
    char auth[4200], id[96];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", j->access ? j->access : "");
    snprintf(id, sizeof id, "X-Request-Id: %s", j->request_id);
    const char *h[] = {"Content-Type: application/json", id, j->access ? auth : NULL, NULL};
    struct http_res *r = http_request(j->method, j->path, h, j->body, strlen(j->body));
    j->status = r->status;
    http_res_free(r);
    return NULL;
}

/* Whether n statements of the test's database wait for a lock. */
#define LOCK_WAITERS(n)                                                                            \
    "SELECT (count(*) >= " #n ")::int FROM pg_stat_activity"                                       \
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"

/* A password change and a refresh of one of the user's other logins at
 * once. The refresh holds its login's row (first in line while a
 * transaction of the test's holds it) and then stores its new token,
 * whose key check shares the user's row; the change holds the user's row
 * and waits for the login's to end it. The change's lock of the user's
 * row lets a key check through, so the refresh commits and the change
 * then ends its login: no deadlock, so neither is retried. */
static void test_a_password_change_and_a_refresh_at_once_never_deadlock(void **state) {
    (void)state;
    long long id = register_user("change-vs-refresh@example.com", "password-1", "Both");
    struct tokens changer = login("change-vs-refresh@example.com", "password-1");
    struct tokens other = login("change-vs-refresh@example.com", "password-1");
    char body[128], held[256];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", other.refresh);
    struct tagged_job refresh = {"POST", REFRESH, NULL, body, "", 0};
    struct tagged_job change = {"PATCH",
                                ME,
                                changer.access,
                                "{\"current_password\":\"password-1\",\"password\":\"password-2\"}",
                                "",
                                0};
    snprintf(refresh.request_id, sizeof refresh.request_id, "refresh-vs-change-%ld",
             (long)getpid());
    snprintf(change.request_id, sizeof change.request_id, "change-vs-refresh-%ld", (long)getpid());
    PGconn *tx = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(tx), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    snprintf(held, sizeof held, /* the other login, the later of the two */
             "BEGIN; SELECT 1 FROM logins WHERE number = (SELECT max(number) FROM logins"
             " WHERE user_id = %lld) FOR UPDATE",
             id);
    assert_true(harness_pg_exec(tx, held));
    pthread_t refresher, changer_thread;
    assert_int_equal(pthread_create(&refresher, NULL, tagged_thread, &refresh), 0);
    bool waited = harness_pg_wait_nonzero(watch, LOCK_WAITERS(1));
    assert_int_equal(pthread_create(&changer_thread, NULL, tagged_thread, &change), 0);
    waited = waited && harness_pg_wait_nonzero(watch, LOCK_WAITERS(2));
    harness_pg_exec(tx, "ROLLBACK");
    pthread_join(refresher, NULL);
    pthread_join(changer_thread, NULL);
    PQfinish(tx);
    PQfinish(watch);
    assert_true(waited);
    assert_int_equal(change.status, 200);
    assert_true(refresh.status == 200 || refresh.status == 401);
    assert_int_equal(harness_log_count(&server, "db.retry", refresh.request_id), 0);
    assert_int_equal(harness_log_count(&server, "db.retry", change.request_id), 0);
    tokens_free(&changer);
    tokens_free(&other);
}

/* ---- logout ---------------------------------------------------------------------- */

static void test_logout_is_204_and_ends_that_login(void **state) {
    (void)state;
    register_user("logout@example.com", "password-1", "Logout");
    struct tokens t = login("logout@example.com", "password-1");
    struct tokens other = login("logout@example.com", "password-1");
    assert_int_equal(logout_with(t.refresh), 204);
    assert_int_equal(refresh_status(t.refresh), 401);
    assert_int_equal(get_status(ME, t.access), 401);
    assert_int_equal(get_status(ME, other.access), 200);
    assert_int_equal(refresh_status(other.refresh), 200);
    /* Logging out an ended login again is still 204. */
    assert_int_equal(logout_with(t.refresh), 204);
    tokens_free(&t);
    tokens_free(&other);
}

static void test_logout_with_unknown_token_is_204(void **state) {
    (void)state;
    assert_int_equal(logout_with("garbage"), 204);
    assert_int_equal(logout_with(""), 204);
    assert_int_equal(logout_with("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 204);
}

static void test_logout_without_refresh_token_is_422(void **state) {
    (void)state;
    struct http_res *r = post_text(LOGOUT, "{}");
    assert_problem(r, 422, "refresh_token");
    http_res_free(r);
    r = post_text(LOGOUT, "{\"refresh_token\":null}");
    assert_problem(r, 422, "refresh_token");
    http_res_free(r);
}

static void test_logout_with_rotated_refresh_token_ends_the_login(void **state) {
    (void)state;
    register_user("logout-rotated@example.com", "password-1", "LR");
    struct tokens first = login("logout-rotated@example.com", "password-1");
    struct tokens other = login("logout-rotated@example.com", "password-1");
    struct http_res *r = refresh_with(first.refresh);
    assert_int_equal(r->status, 200);
    struct tokens rotated = tokens_from(r);
    http_res_free(r);
    assert_int_equal(logout_with(first.refresh), 204);
    assert_int_equal(refresh_status(rotated.refresh), 401);
    assert_int_equal(get_status(ME, rotated.access), 401);
    assert_int_equal(get_status(ME, other.access), 200);
    tokens_free(&first);
    tokens_free(&other);
    tokens_free(&rotated);
}

/* ---- stored state, not the token, decides ------------------------------------------- */

static void test_deactivation_takes_effect_on_existing_access_token(void **state) {
    (void)state;
    register_user("deactivate@example.com", "password-1", "Deactivate");
    struct tokens t = login("deactivate@example.com", "password-1");
    assert_int_equal(get_status(ME, t.access), 200);
    sql("UPDATE users SET is_active = false WHERE email = 'deactivate@example.com'");
    assert_int_equal(get_status(ME, t.access), 401);
    tokens_free(&t);
}

static void test_demotion_takes_effect_on_existing_access_token(void **state) {
    (void)state;
    register_user("demote@example.com", "password-1", "Demote");
    sql("UPDATE users SET role = 'admin' WHERE email = 'demote@example.com'");
    struct tokens t = login("demote@example.com", "password-1");
    assert_int_equal(get_status(USERS, t.access), 200);
    sql("UPDATE users SET role = 'customer' WHERE email = 'demote@example.com'");
    assert_int_equal(get_status(USERS, t.access), 403);
    assert_int_equal(get_status(ME, t.access), 200);
    tokens_free(&t);
}

static void test_promotion_takes_effect_on_existing_access_token(void **state) {
    (void)state;
    register_user("promote@example.com", "password-1", "Promote");
    struct tokens t = login("promote@example.com", "password-1");
    assert_int_equal(get_status(USERS, t.access), 403);
    sql("UPDATE users SET role = 'admin' WHERE email = 'promote@example.com'");
    assert_int_equal(get_status(USERS, t.access), 200);
    tokens_free(&t);
}

/* ---- failed-login throttling (own server, small limits) ------------------------------ */

#define RL_PER_EMAIL 3
#define RL_WINDOW    60

static unsigned run_tag;

static int start_ratelimit(void **state) {
    (void)state;
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_EMAIL=3", "LOGIN_MAX_FAILURES_PER_CLIENT=8",
                         "LOGIN_FAILURE_WINDOW=60", "TRUSTED_PROXIES=127.0.0.0/8,::1/128", NULL};
    run_tag = ((unsigned)time(NULL) * 2654435761u) ^ ((unsigned)getpid() << 4);
    harness_start(&server, "auth_ratelimit", env);
    return 0;
}

/* An e-mail address and a client address unique to this run. */
static void rl_email(char *out, size_t cap, const char *who) {
    snprintf(out, cap, "rl-%08x-%s@example.com", run_tag, who);
}

static void rl_client(char *out, size_t cap, unsigned k) {
    snprintf(out, cap, "X-Forwarded-For: 10.%u.%u.%u", (run_tag >> 8) & 255u, run_tag & 255u,
             k + 1);
}

static struct http_res *rl_login(const char *client, const char *email, const char *password) {
    return post_json_h(LOGIN, creds(email, password), client);
}

static struct http_res *rl_try_register(const char *client, const char *email) {
    return post_json_h(
        REGISTER,
        json_pack("{s:s, s:s, s:s}", "email", email, "password", "password-1", "name", "Limited"),
        client);
}

/* Register email (password "password-1") from a client of its own, so
 * registrations never reach a client's limit. */
static void rl_register(const char *email) {
    static unsigned next = 200;
    char client[64];
    rl_client(client, sizeof client, next++);
    struct http_res *r = rl_try_register(client, email);
    expect_status(r, 201, email);
    http_res_free(r);
}

static void rl_expect_429(struct http_res *r) {
    assert_problem(r, 429, NULL);
    assert_string_equal(json_string_value(json_object_get(r->json, "title")), "Too Many Requests");
    const char *retry = http_header(r, "Retry-After");
    assert_non_null(retry);
    char *end = NULL;
    long secs = strtol(retry, &end, 10);
    assert_true(end != retry && *end == '\0');
    assert_true(secs > 0 && secs <= RL_WINDOW);
}

static void rl_expect(const char *client, const char *email, const char *password, long status) {
    struct http_res *r = rl_login(client, email, password);
    if (r->status != status)
        fprintf(stderr, "login %s via %s: expected %ld, got %ld: %s\n", email, client, status,
                r->status, r->body ? r->body : "");
    assert_int_equal(r->status, status);
    if (status == 429) {
        rl_expect_429(r);
        assert_null(json_object_get(r->json, "access_token"));
    }
    http_res_free(r);
}

static void test_failures_for_one_email_lock_it_even_with_the_right_password(void **state) {
    (void)state;
    char email[128], upper[128], client[64];
    rl_email(email, sizeof email, "locked");
    rl_client(client, sizeof client, 0);
    rl_register(email);
    snprintf(upper, sizeof upper, "RL-%08X-LOCKED@EXAMPLE.COM", run_tag);
    /* Failures count per address whatever its spelling. */
    rl_expect(client, email, "wrong-1", 401);
    rl_expect(client, upper, "wrong-2", 401);
    rl_expect(client, email, "wrong-3", 401);
    rl_expect(client, email, "password-1", 429);
    rl_expect(client, upper, "password-1", 429);
    /* Still locked from another client: the counter is per e-mail. */
    char client2[64];
    rl_client(client2, sizeof client2, 1);
    rl_expect(client2, email, "password-1", 429);
}

static void test_failures_for_unknown_emails_count(void **state) {
    (void)state;
    char email[128], client[64];
    rl_email(email, sizeof email, "ghost");
    rl_client(client, sizeof client, 2);
    for (int i = 0; i < RL_PER_EMAIL; i++)
        rl_expect(client, email, "whatever-1", 401);
    rl_expect(client, email, "whatever-1", 429);
}

static void test_failures_from_one_client_lock_that_client_for_every_email(void **state) {
    (void)state;
    char victim[128], good[128], e[128], client[64], elsewhere[64];
    rl_client(client, sizeof client, 3);
    rl_client(elsewhere, sizeof elsewhere, 4);
    rl_email(good, sizeof good, "client-good");
    rl_register(good);
    /* 3 failures lock one address... */
    rl_email(victim, sizeof victim, "client-e1");
    for (int i = 0; i < RL_PER_EMAIL; i++)
        rl_expect(client, victim, "wrong", 401);
    rl_expect(client, victim, "wrong", 429);
    /* ...but another address from the same client still works. */
    rl_expect(client, good, "password-1", 200);
    /* 5 more failures spread over addresses under their own limit reach
     * the client's 8. */
    const char *who[] = {"client-e2", "client-e2", "client-e3", "client-e3", "client-e4"};
    for (size_t i = 0; i < 5; i++) {
        rl_email(e, sizeof e, who[i]);
        rl_expect(client, e, "wrong", 401);
    }
    rl_expect(client, good, "password-1", 429);
    rl_email(e, sizeof e, "client-e5");
    rl_expect(client, e, "wrong", 429);
    /* Another client is not affected. */
    rl_expect(elsewhere, good, "password-1", 200);
}

/* A client of this run in IPv6 block b (a /64), address k in it. */
static void rl_client_v6(char *out, size_t cap, unsigned b, unsigned k) {
    snprintf(out, cap, "X-Forwarded-For: 2001:%x:%x:%x::%x", (run_tag >> 16) & 0xffffu,
             run_tag & 0xffffu, b, k + 1);
}

/* An IPv6 host usually has a whole /64: failures from its addresses count
 * as one client's, so changing address grants no new allowance. */
static void test_failures_from_one_ipv6_64_count_as_one_client(void **state) {
    (void)state;
    char good[128], e[128], client[80], elsewhere[80];
    rl_email(good, sizeof good, "v6-good");
    rl_register(good);
    /* 8 failures, each from an address of its own in one /64 and for an
     * email of its own: the client's 8 */
    for (unsigned i = 0; i < 8; i++) {
        char who[16];
        snprintf(who, sizeof who, "v6-e%u", i);
        rl_email(e, sizeof e, who);
        rl_client_v6(client, sizeof client, 1, i);
        rl_expect(client, e, "wrong", 401);
    }
    rl_client_v6(client, sizeof client, 1, 100);
    rl_expect(client, good, "password-1", 429);
    /* the next /64 is another client */
    rl_client_v6(elsewhere, sizeof elsewhere, 2, 0);
    rl_expect(elsewhere, good, "password-1", 200);
}

static void test_successful_login_clears_the_email_counter(void **state) {
    (void)state;
    char email[128], client[64];
    rl_email(email, sizeof email, "clears");
    rl_client(client, sizeof client, 5);
    rl_register(email);
    rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "password-1", 200);
    rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "password-1", 200);
}

static void test_forged_hops_left_of_the_client_do_not_change_it(void **state) {
    (void)state;
    char real[64], e[128];
    rl_client(real, sizeof real, 6);
    const char *addr = real + strlen("X-Forwarded-For: ");
    /* Each attempt forges 20 different hops left of the one the trusted
     * proxy wrote: they are one client all the same, and reach its 8. */
    for (int attempt = 0; attempt < 9; attempt++) {
        char header[1024] = "X-Forwarded-For: ";
        for (int hop = 0; hop < 20; hop++) {
            char h[32];
            snprintf(h, sizeof h, "6.6.%d.%d, ", attempt, hop);
            strcat(header, h);
        }
        strcat(header, addr);
        char who[32];
        snprintf(who, sizeof who, "forged-%d", attempt);
        rl_email(e, sizeof e, who);
        rl_expect(header, e, "wrong", attempt < 8 ? 401 : 429);
    }
}

struct login_race {
    const char *email;
};

static long racing_wrong_login(int i, void *ctx) {
    const struct login_race *race = ctx;
    char client[64];
    rl_client(client, sizeof client, 100 + (unsigned)i); /* one client each */
    struct http_res *r = rl_login(client, race->email, "wrong-password");
    long status = r->status;
    http_res_free(r);
    return status;
}

static void test_concurrent_wrong_logins_verify_at_most_the_limit(void **state) {
    (void)state;
    enum { N = 32 };
    char email[128];
    rl_email(email, sizeof email, "racer");
    rl_register(email);
    struct login_race race = {email};
    long statuses[N];
    long long before = password_runs();
    harness_race(N, racing_wrong_login, &race, statuses);
    int wrong = harness_count_status(statuses, N, 401);
    int limited = harness_count_status(statuses, N, 429);
    int busy = harness_count_status(statuses, N, 503); /* while others were checked */
    if (wrong > RL_PER_EMAIL || wrong + limited + busy != N)
        fprintf(stderr, "%d x 401, %d x 429, %d x 503 of %d\n", wrong, limited, busy, N);
    /* Counted before the check: no more than the limit reach argon2. */
    assert_true(wrong >= 1 && wrong <= RL_PER_EMAIL);
    assert_int_equal(wrong + limited + busy, N);
    assert_true(password_runs() - before <= RL_PER_EMAIL);
}

static long racing_right_login(int i, void *ctx) {
    const struct login_race *race = ctx;
    char client[64];
    rl_client(client, sizeof client, 300 + (unsigned)i); /* one client each */
    struct http_res *r = rl_login(client, race->email, "password-1");
    long status = r->status;
    if (status == 503)
        assert_string_equal(http_header(r, "Retry-After"), "1");
    http_res_free(r);
    return status;
}

/* More logins with the right password at once than the limit of failures:
 * none has failed, so none is a 429 (which would say to wait out the
 * window). Those counted while others are still being checked are a 503
 * to retry in a moment. */
static void test_concurrent_right_logins_are_never_429(void **state) {
    (void)state;
    enum { N = 12 };
    char email[128];
    rl_email(email, sizeof email, "right");
    rl_register(email);
    struct login_race race = {email};
    long statuses[N];
    harness_race(N, racing_right_login, &race, statuses);
    int ok = harness_count_status(statuses, N, 200);
    int busy = harness_count_status(statuses, N, 503);
    if (ok + busy != N)
        fprintf(stderr, "%d x 200, %d x 503 of %d\n", ok, busy, N);
    assert_int_equal(ok + busy, N);
    assert_true(ok >= 1);
}

static void test_registrations_from_one_client_are_limited(void **state) {
    (void)state;
    char client[64], other[64], e[128];
    rl_client(client, sizeof client, 7);
    rl_client(other, sizeof other, 8);
    rl_email(e, sizeof e, "reg-first");
    struct http_res *r = rl_try_register(client, e);
    expect_status(r, 201, "first registration");
    http_res_free(r);
    /* A new account gives its count back; duplicates (each one probes an
     * address) count: 8 of them reach the limit. */
    for (int i = 0; i < 8; i++) {
        r = rl_try_register(client, e);
        expect_problem(r, 409, "email");
    }
    rl_email(e, sizeof e, "reg-late");
    r = rl_try_register(client, e);
    rl_expect_429(r);
    http_res_free(r);
    /* Other clients register, and this client still logs in. */
    r = rl_try_register(other, e);
    expect_status(r, 201, "registration from another client");
    http_res_free(r);
    rl_expect(client, e, "password-1", 200);
}

/* A registration that creates its account costs its client nothing: more
 * new accounts than the limit, from one address, are all 201. */
static void test_successful_registrations_do_not_count(void **state) {
    (void)state;
    char client[64], e[128], tag[32];
    rl_client(client, sizeof client, 11);
    for (int i = 0; i < 10; i++) {
        snprintf(tag, sizeof tag, "reg-many-%d", i);
        rl_email(e, sizeof e, tag);
        struct http_res *r = rl_try_register(client, e);
        expect_status(r, 201, "registration within the limit of failures");
        http_res_free(r);
    }
}

static struct http_res *rl_change_password(const char *client, const char *token,
                                           const char *current) {
    return call_owned_h(
        "PATCH", ME, token,
        json_body("{s:s, s:s}", "current_password", current, "password", "password-2"), client);
}

static void test_wrong_current_passwords_lock_the_email(void **state) {
    (void)state;
    char email[128], client[64], client2[64];
    rl_email(email, sizeof email, "me-locked");
    rl_client(client, sizeof client, 9);
    rl_client(client2, sizeof client2, 10);
    rl_register(email);
    struct http_res *r = rl_login(client, email, "password-1");
    expect_status(r, 200, "login");
    struct tokens t = tokens_from(r);
    http_res_free(r);
    for (int i = 0; i < RL_PER_EMAIL; i++)
        expect_problem(rl_change_password(client, t.access, "wrong"), 422, "current_password");
    /* The right password now waits, here and at the login of any client. */
    r = rl_change_password(client, t.access, "password-1");
    rl_expect_429(r);
    http_res_free(r);
    r = rl_change_password(client2, t.access, "password-1");
    rl_expect_429(r);
    http_res_free(r);
    rl_expect(client2, email, "password-1", 429);
    tokens_free(&t);
}

static void test_wrong_current_passwords_count_against_the_client(void **state) {
    (void)state;
    char email[128], e[128], client[64];
    rl_email(email, sizeof email, "me-client");
    rl_client(client, sizeof client, 11);
    rl_register(email);
    struct http_res *r = rl_login(client, email, "password-1"); /* passed: not counted */
    expect_status(r, 200, "login");
    struct tokens t = tokens_from(r);
    http_res_free(r);
    for (int i = 0; i < 2; i++)
        expect_problem(rl_change_password(client, t.access, "wrong"), 422, "current_password");
    /* 6 wrong logins for other addresses reach the client's 8. */
    const char *who[] = {"me-c1", "me-c1", "me-c2", "me-c2", "me-c3", "me-c3"};
    for (size_t i = 0; i < 6; i++) {
        rl_email(e, sizeof e, who[i]);
        rl_expect(client, e, "wrong", 401);
    }
    rl_email(e, sizeof e, "me-c4");
    rl_expect(client, e, "wrong", 429);
    r = rl_change_password(client, t.access, "password-1");
    rl_expect_429(r);
    http_res_free(r);
    tokens_free(&t);
}

static void test_each_malformed_email_has_its_own_counter(void **state) {
    (void)state;
    char bad[128], bad2[128], spelled[128], client[64], fresh[64];
    snprintf(bad, sizeof bad, "rl-%08x-not-an-address", run_tag);
    snprintf(spelled, sizeof spelled, "  RL-%08X-NOT-AN-ADDRESS ", run_tag);
    snprintf(bad2, sizeof bad2, "rl-%08x-totally-unique", run_tag);
    rl_client(client, sizeof client, 12);
    rl_client(fresh, sizeof fresh, 13);
    rl_expect(client, bad, "wrong", 401);
    rl_expect(client, spelled, "wrong", 401); /* the same address, spelled otherwise */
    rl_expect(client, bad, "wrong", 401);
    rl_expect(client, bad, "wrong", 429);
    rl_expect(fresh, spelled, "wrong", 429);
    /* Any other malformed address is an unknown one, with its own count. */
    rl_expect(fresh, bad2, "wrong", 401);
    rl_expect(client, bad2, "wrong", 401);
}

/* A second instance on the rate-limit server's database and Redis keys,
 * stopped after its test however that ends. */
static struct nexus_server other;

static int stop_other(void **state) {
    (void)state;
    harness_stop(&other);
    harness_use(&server);
    return 0;
}

/* Instances count in Redis together: a right password on one clears the
 * email's failures for every one, and the next failures are counted
 * afresh wherever they arrive. */
static void test_a_login_on_another_instance_clears_the_email_counter(void **state) {
    (void)state;
    if (!server.redis_url[0])
        skip(); /* without Redis each instance counts on its own */
    char email[128], client[64], redis[600];
    rl_email(email, sizeof email, "two-instances");
    rl_client(client, sizeof client, 14);
    rl_register(email);
    snprintf(redis, sizeof redis, "REDIS_URL=%s", server.redis_url);
    const char *env[] = {"LOGIN_MAX_FAILURES_PER_EMAIL=3",
                         "LOGIN_MAX_FAILURES_PER_CLIENT=8",
                         "LOGIN_FAILURE_WINDOW=60",
                         "TRUSTED_PROXIES=127.0.0.0/8,::1/128",
                         redis,
                         "REDIS_PREFIX=test_auth_ratelimit",
                         NULL};
    harness_start_url(&other, "auth_ratelimit_other", server.database_url, env);
    harness_use(&server);
    rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "wrong", 401);
    harness_use(&other);
    rl_expect(client, email, "password-1", 200);
    harness_use(&server);
    for (int i = 0; i < RL_PER_EMAIL; i++)
        rl_expect(client, email, "wrong", 401);
    rl_expect(client, email, "password-1", 429);
    harness_use(&other);
    rl_expect(client, email, "password-1", 429);
}

/* ---- password hashing off the server threads ------------------------------ */

/* One server thread and one hashing lane: a hash on the server thread
 * would hold every other request it serves. No grace at shutdown. */
static int start_lanes(void **state) {
    (void)state;
    const char *env[] = {"THREADS=1",
                         "HASH_CONCURRENCY=1",
                         "SHUTDOWN_GRACE=0",
                         "LOGIN_MAX_FAILURES_PER_EMAIL=100000",
                         "LOGIN_MAX_FAILURES_PER_CLIENT=1000000",
                         NULL};
    harness_start(&server, "auth_lanes", env);
    return 0;
}

enum { LANE_LOGINS = 12 };
static atomic_int logins_answered;
static long lane_statuses[LANE_LOGINS];
static pthread_t lane_threads[LANE_LOGINS];

static void *wrong_login_thread(void *arg) {
    int i = (int)(intptr_t)arg;
    char email[64];
    snprintf(email, sizeof email, "lane-%d@example.com", i);
    struct http_res *r = post_json(LOGIN, creds(email, "wrong-password"));
    lane_statuses[i] = r->status;
    http_res_free(r);
    atomic_fetch_add(&logins_answered, 1);
    return NULL;
}

/* LANE_LOGINS wrong logins at once; back when two hashes are done or under
 * way, so every login has long been sent and most wait for the lane. */
static long long start_login_burst(void) {
    long long before = password_runs();
    atomic_store(&logins_answered, 0);
    for (int i = 0; i < LANE_LOGINS; i++)
        assert_int_equal(
            pthread_create(&lane_threads[i], NULL, wrong_login_thread, (void *)(intptr_t)i), 0);
    while (password_runs() - before < 2)
        usleep(5000);
    return before;
}

static void join_login_burst(void) {
    for (int i = 0; i < LANE_LOGINS; i++)
        pthread_join(lane_threads[i], NULL);
}

static long patch_name(const char *token) {
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    const char body[] = "{\"name\":\"Renamed\"}";
    struct http_res *r = http_request("PATCH", "/api/v1/users/me", h, body, strlen(body));
    long status = r->status;
    http_res_free(r);
    return status;
}

/* While a burst of logins waits for the one hashing lane, other requests
 * are answered at once, those on the hashing routes that hash nothing (a
 * name change, a login without a password) too: they answer with most
 * logins still waiting (on the server thread, or in the lane's queue,
 * they would come after all of them, in line). */
static void test_logins_waiting_to_hash_do_not_hold_other_requests(void **state) {
    (void)state;
    register_user("lane-user@example.com", "password-1", "Lane");
    struct tokens t = login("lane-user@example.com", "password-1");
    long long before = start_login_burst();
    assert_int_equal(get_status("/healthz", NULL), 200);
    assert_int_equal(patch_name(t.access), 200);
    struct http_res *r = post_json(LOGIN, json_pack("{s:s}", "email", "lane-user@example.com"));
    assert_problem(r, 422, "password");
    http_res_free(r);
    int answered = atomic_load(&logins_answered);
    join_login_burst();
    if (answered >= LANE_LOGINS - 2)
        fprintf(stderr, "answered after %d of %d logins\n", answered, LANE_LOGINS);
    assert_true(answered < LANE_LOGINS - 2);
    assert_int_equal(harness_count_status(lane_statuses, LANE_LOGINS, 401), LANE_LOGINS);
    assert_int_equal(password_runs() - before, LANE_LOGINS);
    tokens_free(&t);
}

/* SIGTERM with logins waiting and no grace: the one hashing finishes,
 * those not begun are 503s, every one is answered, and the server exits
 * cleanly (harness_stop requires it). */
static void test_shutdown_refuses_the_logins_not_begun(void **state) {
    (void)state;
    start_login_burst();
    harness_stop(&server);
    join_login_burst();
    int wrong = harness_count_status(lane_statuses, LANE_LOGINS, 401);
    int refused = harness_count_status(lane_statuses, LANE_LOGINS, 503);
    if (wrong + refused != LANE_LOGINS || refused == 0)
        fprintf(stderr, "%d x 401, %d x 503 of %d\n", wrong, refused, LANE_LOGINS);
    assert_int_equal(wrong + refused, LANE_LOGINS);
    assert_true(refused > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_returns_201_with_location_and_exact_user_json),
        cmocka_unit_test(test_register_email_is_trimmed_and_lower_cased),
        cmocka_unit_test(test_register_duplicate_email_in_any_case_is_409_on_email),
        cmocka_unit_test(test_register_duplicate_email_is_409_before_any_hashing),
        cmocka_unit_test(test_register_role_field_is_rejected),
        cmocka_unit_test(test_register_password_of_7_is_422_and_of_8_is_ok),
        cmocka_unit_test(test_register_password_of_128_is_ok_and_of_129_is_422),
        cmocka_unit_test(test_register_password_length_counts_code_points),
        cmocka_unit_test(test_register_bad_email_is_422),
        cmocka_unit_test(test_register_missing_fields_give_one_entry_each),
        cmocka_unit_test(test_register_name_must_be_1_to_200_characters),
        cmocka_unit_test(test_login_returns_bearer_pair_expiring_in_900),
        cmocka_unit_test(test_login_email_is_case_insensitive_and_trimmed),
        cmocka_unit_test(test_login_wrong_password_is_401_with_bearer_challenge),
        cmocka_unit_test(test_login_unknown_email_gives_the_same_401_as_wrong_password),
        cmocka_unit_test(test_login_deactivated_user_is_the_same_401),
        cmocka_unit_test(test_login_malformed_email_is_401_not_422),
        cmocka_unit_test(test_login_nul_in_a_credential_is_the_same_401),
        cmocka_unit_test(test_login_missing_password_is_422),
        cmocka_unit_test(test_login_non_string_fields_are_422),
        cmocka_unit_test(test_login_unknown_field_is_422),
        cmocka_unit_test(test_users_me_with_token_is_200),
        cmocka_unit_test(test_users_me_without_token_is_401_with_bearer_challenge),
        cmocka_unit_test(test_bearer_scheme_in_any_case_is_accepted),
        cmocka_unit_test(test_two_authorization_headers_are_401),
        cmocka_unit_test(test_garbage_tokens_are_401),
        cmocka_unit_test(test_invalid_token_is_401_even_on_operational_endpoints),
        cmocka_unit_test(test_invalid_token_is_401_even_on_public_api_endpoints),
        cmocka_unit_test(test_valid_token_on_public_endpoint_is_fine),
        cmocka_unit_test(test_refresh_token_used_as_access_token_is_401),
        cmocka_unit_test(test_access_token_used_as_refresh_token_is_401),
        cmocka_unit_test(test_resigned_token_with_unchanged_claims_is_accepted),
        cmocka_unit_test(test_token_without_exp_is_401),
        cmocka_unit_test(test_expired_token_is_401),
        cmocka_unit_test(test_token_without_iss_or_with_other_iss_is_401),
        cmocka_unit_test(test_token_with_future_nbf_is_401),
        cmocka_unit_test(test_token_for_user_that_does_not_exist_is_401),
        cmocka_unit_test(test_token_whose_login_id_is_not_a_uuid_is_401),
        cmocka_unit_test(test_token_with_a_duplicated_claim_is_401),
        cmocka_unit_test(test_token_signed_with_other_secret_is_401),
        cmocka_unit_test(test_unsigned_alg_none_token_is_401),
        cmocka_unit_test(test_token_with_other_algorithm_is_401),
        cmocka_unit_test(test_role_claim_in_token_is_not_trusted),
        cmocka_unit_test(test_refresh_returns_a_new_pair_different_from_the_old),
        cmocka_unit_test(test_refresh_token_reuse_ends_that_login),
        cmocka_unit_test(test_refresh_token_reuse_under_a_key_ends_that_login),
        cmocka_unit_test(test_password_change_that_lost_a_conflict_is_run_again_whole),
        cmocka_unit_test(test_racing_password_changes_with_one_current_password_one_wins),
        cmocka_unit_test(test_refresh_with_missing_or_non_string_token_is_422),
        cmocka_unit_test(test_refresh_with_unknown_token_is_401),
        cmocka_unit_test(test_refresh_for_deactivated_user_is_401),
        cmocka_unit_test(test_concurrent_refreshes_of_one_token_succeed_once),
        cmocka_unit_test(test_concurrent_registrations_of_one_email_create_one_user),
        cmocka_unit_test(test_login_racing_a_deactivation_is_401),
        cmocka_unit_test(test_login_racing_a_new_password_is_401),
        cmocka_unit_test(test_a_hash_upgrade_keeps_a_password_set_meanwhile),
        cmocka_unit_test(test_login_racing_a_hash_upgrade_of_its_password_is_200),
        cmocka_unit_test(test_refresh_racing_the_end_of_its_login_is_401),
        cmocka_unit_test(test_refresh_waiting_for_an_end_rolled_back_is_200),
        cmocka_unit_test(test_a_password_change_and_a_refresh_at_once_never_deadlock),
        cmocka_unit_test(test_logout_is_204_and_ends_that_login),
        cmocka_unit_test(test_logout_with_unknown_token_is_204),
        cmocka_unit_test(test_logout_without_refresh_token_is_422),
        cmocka_unit_test(test_logout_with_rotated_refresh_token_ends_the_login),
        cmocka_unit_test(test_deactivation_takes_effect_on_existing_access_token),
        cmocka_unit_test(test_demotion_takes_effect_on_existing_access_token),
        cmocka_unit_test(test_promotion_takes_effect_on_existing_access_token),
    };
    const struct CMUnitTest ratelimit_tests[] = {
        cmocka_unit_test(test_failures_for_one_email_lock_it_even_with_the_right_password),
        cmocka_unit_test(test_failures_for_unknown_emails_count),
        cmocka_unit_test(test_failures_from_one_client_lock_that_client_for_every_email),
        cmocka_unit_test(test_failures_from_one_ipv6_64_count_as_one_client),
        cmocka_unit_test(test_successful_login_clears_the_email_counter),
        cmocka_unit_test(test_forged_hops_left_of_the_client_do_not_change_it),
        cmocka_unit_test(test_concurrent_wrong_logins_verify_at_most_the_limit),
        cmocka_unit_test(test_concurrent_right_logins_are_never_429),
        cmocka_unit_test(test_registrations_from_one_client_are_limited),
        cmocka_unit_test(test_successful_registrations_do_not_count),
        cmocka_unit_test(test_wrong_current_passwords_lock_the_email),
        cmocka_unit_test(test_wrong_current_passwords_count_against_the_client),
        cmocka_unit_test(test_each_malformed_email_has_its_own_counter),
        cmocka_unit_test_teardown(test_a_login_on_another_instance_clears_the_email_counter,
                                  stop_other),
    };
    int failed = cmocka_run_group_tests_name("auth", tests, start, stop);
    failed += cmocka_run_group_tests_name("auth_ratelimit", ratelimit_tests, start_ratelimit, stop);
    const struct CMUnitTest lane_tests[] = {
        cmocka_unit_test(test_logins_waiting_to_hash_do_not_hold_other_requests),
        cmocka_unit_test(test_shutdown_refuses_the_logins_not_begun),
    };
    failed += cmocka_run_group_tests_name("auth_lanes", lane_tests, start_lanes, stop);
    return failed;
}
