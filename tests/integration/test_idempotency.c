/*
 * test_idempotency.c -- Idempotency-Key on POST: a repeat gets the first
 * answer with Idempotent-Replayed and changes nothing; another body with
 * the key is a 422; a duplicate while the first runs is a 409, and of
 * racing duplicates (of a success or a refusal) exactly one runs; keys are scoped to caller and
 * path, bounded, and expire; token answers are never stored.
 */
#include "harness.h"
#include "nexus/auth/token.h"
#include "nexus/core/xmem.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CATEGORIES "/api/v1/categories"
#define PRODUCTS   "/api/v1/products"
#define LOGIN      "/api/v1/auth/login"
#define SECRET     "integration-test-secret-0123456789abcdef" /* the harness's JWT_SECRET */

static struct nexus_server server;
static char *staff_token;
static char *other_staff_token;

/* ---- helpers ----------------------------------------------------------- */

#define expect_sql(...) harness_expect_sql(&server, __VA_ARGS__)

/* POST path as token (may be NULL) with the key (NULL: no header). */
static struct http_res *post_keyed(const char *path, const char *token, const char *body,
                                   const char *key) {
    char header[512];
    if (!key)
        return call("POST", path, token, body);
    /* libcurl sends a header with an empty value only in the "Name;" form. */
    if (key[0])
        snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    else
        snprintf(header, sizeof header, "Idempotency-Key;");
    return call_h("POST", path, token, body, header);
}

/* The claims of an access token, read from its payload (owned). */
static json_t *token_claims(const char *jwt) {
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char raw[1024];
    size_t n = 0;
    assert_non_null(dot2);
    assert_int_equal(sodium_base642bin(raw, sizeof raw, dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL,
                                       &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    json_t *claims = json_loadb((const char *)raw, n, 0, NULL);
    assert_non_null(claims);
    return claims;
}

/* Assert that the token pair r, asked for between t0 and t1, says in
 * expires_in what its access token had left then (its exp, 0 once past). */
static void expect_expires_in_of_its_token(const struct http_res *r, time_t t0, time_t t1) {
    json_t *claims = token_claims(jstr(r->json, "access_token"));
    long long exp = jint(claims, "exp"), most = exp - t0, least = exp - t1;
    json_decref(claims);
    long long got = jint(r->json, "expires_in");
    if (got < (least > 0 ? least : 0) || got > (most > 0 ? most : 0))
        fail_msg("expires_in %lld, where the token had %lld to %lld s left", got, least, most);
}

/* Assert that again is the token pair kept (its text), byte for byte,
 * but for expires_in, which can only have gone down. */
static void expect_kept_pair_aged(const char *kept_text, const struct http_res *again) {
    json_t *kept = json_loads(kept_text, 0, NULL);
    json_t *now = json_object_get(again->json, "expires_in");
    assert_true(json_is_integer(now));
    assert_true(json_integer_value(now) <= jint(kept, "expires_in"));
    json_object_set(kept, "expires_in", now);
    char *want = dump(kept);
    assert_int_equal(again->len, strlen(want));
    assert_memory_equal(again->body, want, again->len);
    free(want);
}

static void expect_replay_of(const struct http_res *first, const struct http_res *again) {
    expect_status(again, first->status, "replay");
    assert_string_equal(http_header(again, "Idempotent-Replayed"), "true");
    const char *type = http_header(first, "Content-Type");
    if (json_object_get(first->json, "access_token")) {
        expect_kept_pair_aged(first->body, again);
    } else if (type && strcmp(type, "application/problem+json") == 0) {
        /* the same problem, naming the request that asked again */
        assert_string_equal(jstr(again->json, "request_id"), http_header(again, "X-Request-Id"));
        assert_string_not_equal(jstr(again->json, "request_id"), jstr(first->json, "request_id"));
        json_t *a = json_deep_copy(first->json), *b = json_deep_copy(again->json);
        json_object_del(a, "request_id");
        json_object_del(b, "request_id");
        assert_true(json_equal(a, b));
        json_decref(a);
        json_decref(b);
    } else {
        assert_int_equal(again->len, first->len);
        assert_memory_equal(again->body, first->body, first->len);
    }
    const char *names[] = {"Location", "ETag", "Content-Type", "Cache-Control"};
    for (size_t i = 0; i < 4; i++) {
        const char *a = http_header(first, names[i]), *b = http_header(again, names[i]);
        assert_true((a == NULL) == (b == NULL));
        if (a)
            assert_string_equal(a, b);
    }
}

/* ---- replays ------------------------------------------------------------- */

static void test_repeat_answers_the_first_response_and_does_nothing(void **state) {
    (void)state;
    const char *body =
        "{\"sku\":\"IDEM-1\",\"name\":\"Idempotent Lamp\",\"price\":\"12.5\",\"stock\":3}";
    struct http_res *first = post_keyed(PRODUCTS, staff_token, body, "create-lamp-1");
    expect_status(first, 201, "first POST");
    assert_null(http_header(first, "Idempotent-Replayed"));
    assert_non_null(http_header(first, "Location"));
    for (int i = 0; i < 2; i++) {
        struct http_res *again = post_keyed(PRODUCTS, staff_token, body, "create-lamp-1");
        expect_replay_of(first, again);
        http_res_free(again);
    }
    expect_sql("1", "SELECT count(*) FROM products WHERE sku = 'IDEM-1'");
    expect_sql("1", "SELECT count(*) FROM idempotency_keys WHERE key = 'create-lamp-1'");
    /* Without the header the same body runs: the sku is taken now. */
    expect_problem(post_keyed(PRODUCTS, staff_token, body, NULL), 409, "sku");
    http_res_free(first);
}

static void test_same_key_with_another_body_is_422(void **state) {
    (void)state;
    struct http_res *first =
        post_keyed(CATEGORIES, staff_token, "{\"name\":\"Idem Garden\"}", "garden");
    expect_status(first, 201, "first POST");
    http_res_free(first);
    struct http_res *r =
        post_keyed(CATEGORIES, staff_token, "{\"name\":\"Idem Garden 2\"}", "garden");
    assert_problem(r, 422, "Idempotency-Key");
    assert_null(http_header(r, "Idempotent-Replayed"));
    http_res_free(r);
    /* The body is compared byte for byte: a reordered object is another. */
    r = post_keyed(CATEGORIES, staff_token, "{ \"name\":\"Idem Garden\"}", "garden");
    expect_problem(r, 422, "Idempotency-Key");
    expect_sql("1", "SELECT count(*) FROM categories WHERE name LIKE 'Idem Garden%%'");
}

static void test_keys_are_scoped_to_the_caller_and_the_path(void **state) {
    (void)state;
    const char *body = "{\"name\":\"Idem Scoped\"}";
    struct http_res *a = post_keyed(CATEGORIES, staff_token, body, "scoped");
    struct http_res *b = post_keyed(CATEGORIES, other_staff_token, body, "scoped");
    expect_status(a, 201, "first caller");
    expect_status(b, 201, "second caller");
    assert_null(http_header(b, "Idempotent-Replayed"));
    assert_true(jint(a->json, "id") != jint(b->json, "id"));
    struct http_res *p = post_keyed(
        PRODUCTS, staff_token,
        "{\"sku\":\"IDEM-SCOPED\",\"name\":\"Scoped\",\"price\":\"1\",\"stock\":1}", "scoped");
    expect_status(p, 201, "another path");
    assert_null(http_header(p, "Idempotent-Replayed"));
    expect_sql("2", "SELECT count(*) FROM categories WHERE name = 'Idem Scoped'");
    http_res_free(a);
    http_res_free(b);
    http_res_free(p);
}

static void test_anonymous_register_is_kept_per_client_address(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"idem-reg@example.com\",\"password\":\"password-123\",\"name\":\"Idem\"}";
    struct http_res *first = post_keyed("/api/v1/auth/register", NULL, body, "register-1");
    expect_status(first, 201, "register");
    struct http_res *again = post_keyed("/api/v1/auth/register", NULL, body, "register-1");
    expect_replay_of(first, again);
    expect_sql("1", "SELECT count(*) FROM users WHERE email = 'idem-reg@example.com'");
    expect_sql("1",
               "SELECT count(*) FROM jobs WHERE kind = 'welcome_email'"
               " AND payload->>'user_id' = '%lld'",
               jint(first->json, "id"));
    expect_sql("client:127.0.0.1", "SELECT scope FROM idempotency_keys WHERE key = 'register-1'");
    http_res_free(first);
    http_res_free(again);
}

/* The first request's answer is kept whatever it was, a refusal included:
 * the same request gets it again (and does nothing), and the key cannot
 * then carry another body. */
static void test_refusals_are_kept_like_successes(void **state) {
    (void)state;
    const char *bad = "{\"sku\":\"IDEM-BAD\",\"name\":\"Bad\",\"price\":\"-1\",\"stock\":1}";
    const char *good = "{\"sku\":\"IDEM-BAD\",\"name\":\"Bad\",\"price\":\"1\",\"stock\":1}";
    struct http_res *first = post_keyed(PRODUCTS, staff_token, bad, "bad-price");
    assert_problem(first, 422, "price");
    assert_null(http_header(first, "Idempotent-Replayed"));
    struct http_res *again = post_keyed(PRODUCTS, staff_token, bad, "bad-price");
    expect_replay_of(first, again);
    assert_string_equal(http_header(again, "Content-Type"), "application/problem+json");
    expect_problem(post_keyed(PRODUCTS, staff_token, good, "bad-price"), 422, "Idempotency-Key");
    expect_sql("1", "SELECT count(*) FROM idempotency_keys WHERE key = 'bad-price'");
    expect_sql("0", "SELECT count(*) FROM product_variants WHERE sku = 'IDEM-BAD'");
    http_res_free(first);
    http_res_free(again);
    /* a conflict is an answer too */
    const char *dup = "{\"name\":\"Idem Twin\",\"slug\":\"idem-twin\"}";
    first = post_keyed(CATEGORIES, staff_token, dup, NULL);
    expect_status(first, 201, "category");
    http_res_free(first);
    first = post_keyed(CATEGORIES, staff_token, dup, "twin");
    assert_problem(first, 409, NULL);
    again = post_keyed(CATEGORIES, staff_token, dup, "twin");
    expect_replay_of(first, again);
    http_res_free(first);
    http_res_free(again);
}

/* A login's or a refresh's answer holds tokens: kept sealed with the
 * request's own body, so a repeat gets the same tokens (a retried refresh
 * no longer looks like a stolen token reused, which would end the login),
 * while the kept row shows none of them. */
static void test_token_answers_are_kept_sealed(void **state) {
    (void)state;
    const char *body = "{\"email\":\"idem-staff@example.com\",\"password\":\"catalog-password\"}";
    const char *wrong = "{\"email\":\"idem-staff@example.com\",\"password\":\"other-password\"}";
    struct http_res *a = post_keyed("/api/v1/auth/login", NULL, body, "login-1");
    struct http_res *b = post_keyed("/api/v1/auth/login", NULL, body, "login-1");
    expect_status(a, 200, "login");
    expect_replay_of(a, b);
    const char *refresh = jstr(a->json, "refresh_token");
    expect_sql("0",
               "SELECT count(*) FROM idempotency_keys WHERE key = 'login-1'"
               " AND (body LIKE '%%%s%%' OR body LIKE '%%refresh_token%%')",
               refresh);
    expect_sql("1", "SELECT count(*) FROM idempotency_keys WHERE key = 'login-1'");
    expect_problem(post_keyed("/api/v1/auth/login", NULL, wrong, "login-1"), 422,
                   "Idempotency-Key");
    /* a refresh sent twice under one key rotates once */
    char refresh_body[1024];
    snprintf(refresh_body, sizeof refresh_body, "{\"refresh_token\":\"%s\"}", refresh);
    struct http_res *c = post_keyed("/api/v1/auth/refresh", NULL, refresh_body, "refresh-1");
    struct http_res *d = post_keyed("/api/v1/auth/refresh", NULL, refresh_body, "refresh-1");
    expect_status(c, 200, "refresh");
    expect_replay_of(c, d);
    struct http_res *me = call("GET", "/api/v1/users/me", jstr(c->json, "access_token"), NULL);
    expect_status(me, 200, "the refreshed login is live");
    http_res_free(me);
    http_res_free(a);
    http_res_free(b);
    http_res_free(c);
    http_res_free(d);
    /* The key is still checked there. */
    expect_problem(post_keyed("/api/v1/auth/login", NULL, body, ""), 400, NULL);
}

/* text sealed as a token answer is kept for the request body request:
 * only a keyed hash of that body, under a subkey of JWT_SECRET, opens it. */
static char *seal_as_kept(const char *request, const char *text) {
    static const unsigned char context[crypto_generichash_KEYBYTES] = "nexus idempotency sealed";
    unsigned char subkey[crypto_generichash_KEYBYTES], key[crypto_secretbox_KEYBYTES];
    crypto_generichash(subkey, sizeof subkey, (const unsigned char *)SECRET, strlen(SECRET),
                       context, sizeof context);
    crypto_generichash(key, sizeof key, (const unsigned char *)request, strlen(request), subkey,
                       sizeof subkey);
    size_t len = strlen(text);
    size_t sealed_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *sealed = xmalloc(sealed_len);
    randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, (const unsigned char *)text, len,
                          sealed, key);
    size_t out_len = sodium_base64_ENCODED_LEN(sealed_len, sodium_base64_VARIANT_ORIGINAL);
    char *out = xmalloc(out_len);
    sodium_bin2base64(out, out_len, sealed, sealed_len, sodium_base64_VARIANT_ORIGINAL);
    free(sealed);
    return out;
}

/* Make the login answer first, kept under key for the request body
 * request, one whose access token was issued age seconds ago (for
 * ACCESS_TOKEN_TTL, 900 s): the kept answer is old without waiting. Its
 * text (owned). */
static char *keep_pair_issued_ago(const struct http_res *first, const char *request,
                                  const char *key, int age) {
    static const struct token_keys keys = {(const unsigned char *)SECRET, sizeof SECRET - 1,
                                           "nexus"};
    json_t *claims = token_claims(jstr(first->json, "access_token"));
    char *access = NULL;
    assert_int_equal(token_issue_access(&keys, strtoll(jstr(claims, "sub"), NULL, 10),
                                        jstr(claims, "role"), jstr(claims, "fam"), time(NULL) - age,
                                        900, &access),
                     NX_OK);
    json_decref(claims);
    char *text = dump(json_pack("{s:s, s:s, s:s, s:i}", "access_token", access, "refresh_token",
                                jstr(first->json, "refresh_token"), "token_type", "Bearer",
                                "expires_in", 900));
    char *sealed = seal_as_kept(request, text);
    free(harness_sql_value(&server,
                           "UPDATE idempotency_keys SET body = '%s' WHERE key = '%s' RETURNING 1",
                           sealed, key));
    free(sealed);
    free(access);
    return text;
}

/* A replayed login says in expires_in what its access token has left,
 * from which a client schedules its next refresh (RFC 6749 5.1), not
 * what it had when it was issued; 0 once it has expired. */
static void test_a_replayed_token_pair_says_what_its_access_token_has_left(void **state) {
    (void)state;
    const char *body = "{\"email\":\"idem-staff@example.com\",\"password\":\"catalog-password\"}";
    struct http_res *first = post_keyed(LOGIN, NULL, body, "login-aged");
    expect_status(first, 200, "login");
    const int ages[] = {300, 1000}; /* 600 s left; expired 100 s ago */
    for (size_t i = 0; i < sizeof ages / sizeof *ages; i++) {
        char *kept = keep_pair_issued_ago(first, body, "login-aged", ages[i]);
        time_t t0 = time(NULL);
        struct http_res *again = post_keyed(LOGIN, NULL, body, "login-aged");
        time_t t1 = time(NULL);
        expect_status(again, 200, "replay");
        assert_string_equal(http_header(again, "Idempotent-Replayed"), "true");
        expect_expires_in_of_its_token(again, t0, t1);
        expect_kept_pair_aged(kept, again);
        http_res_free(again);
        free(kept);
    }
    http_res_free(first);
}

/* A kept login or refresh whose login has ended since is no longer
 * handed back: its tokens would not work. */
static void test_a_replay_of_an_ended_login_is_401(void **state) {
    (void)state;
    const char *body = "{\"email\":\"idem-ended@example.com\",\"password\":\"ended-password\"}";
    struct http_res *user = call("POST", "/api/v1/auth/register", NULL,
                                 "{\"email\":\"idem-ended@example.com\","
                                 "\"password\":\"ended-password\",\"name\":\"Ended\"}");
    expect_status(user, 201, "register");
    http_res_free(user);
    struct http_res *a = post_keyed("/api/v1/auth/login", NULL, body, "login-ended");
    expect_status(a, 200, "login");
    char refresh_body[1024];
    snprintf(refresh_body, sizeof refresh_body, "{\"refresh_token\":\"%s\"}",
             jstr(a->json, "refresh_token"));
    struct http_res *r = call("POST", "/api/v1/auth/logout", NULL, refresh_body);
    expect_status(r, 204, "logout");
    http_res_free(r);
    r = post_keyed("/api/v1/auth/login", NULL, body, "login-ended");
    assert_problem(r, 401, NULL);
    assert_non_null(http_header(r, "WWW-Authenticate"));
    assert_null(http_header(r, "Idempotent-Replayed"));
    http_res_free(r);
    http_res_free(a);
    /* a refresh kept, then the user deactivated */
    a = call("POST", "/api/v1/auth/login", NULL, body);
    expect_status(a, 200, "second login");
    snprintf(refresh_body, sizeof refresh_body, "{\"refresh_token\":\"%s\"}",
             jstr(a->json, "refresh_token"));
    struct http_res *b = post_keyed("/api/v1/auth/refresh", NULL, refresh_body, "refresh-ended");
    expect_status(b, 200, "refresh");
    r = post_keyed("/api/v1/auth/refresh", NULL, refresh_body, "refresh-ended");
    expect_replay_of(b, r);
    http_res_free(r);
    free(harness_sql(&server,
                     "UPDATE users SET is_active = false WHERE email = 'idem-ended@example.com'"));
    expect_problem(post_keyed("/api/v1/auth/refresh", NULL, refresh_body, "refresh-ended"), 401,
                   NULL);
    http_res_free(a);
    http_res_free(b);
}

static void test_malformed_keys_are_400_naming_the_header(void **state) {
    (void)state;
    char long_key[300];
    memset(long_key, 'k', 256);
    long_key[256] = '\0';
    const char *body = "{\"name\":\"Idem Bounds\"}";
    const char *bad[] = {"", long_key, "caf\xc3\xa9", "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct http_res *r = post_keyed(CATEGORIES, staff_token, body, bad[i]);
        assert_problem(r, 400, NULL);
        assert_non_null(strstr(jstr(r->json, "detail"), "Idempotency-Key"));
        http_res_free(r);
    }
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff_token);
    const char *twice[] = {auth, "Content-Type: application/json", "Idempotency-Key: a",
                           "Idempotency-Key: b", NULL};
    struct http_res *r = http_request("POST", CATEGORIES, twice, body, strlen(body));
    assert_problem(r, 400, NULL);
    assert_non_null(strstr(jstr(r->json, "detail"), "Idempotency-Key"));
    http_res_free(r);
    expect_sql("0", "SELECT count(*) FROM categories WHERE name = 'Idem Bounds'");
    /* 255 printable characters, spaces and punctuation included, are fine. */
    memset(long_key, '~', 255);
    long_key[0] = ' ' + 1;
    long_key[100] = ' ';
    long_key[255] = '\0';
    struct http_res *ok = post_keyed(CATEGORIES, staff_token, body, long_key);
    expect_status(ok, 201, "255-character key");
    struct http_res *again = post_keyed(CATEGORIES, staff_token, body, long_key);
    expect_replay_of(ok, again);
    http_res_free(ok);
    http_res_free(again);
}

static void test_expired_keys_run_again(void **state) {
    (void)state;
    const char *body = "{\"name\":\"Idem Expiring\"}";
    struct http_res *first = post_keyed(CATEGORIES, staff_token, body, "expiring");
    expect_status(first, 201, "first");
    expect_sql("t", "SELECT expires_at BETWEEN created_at + interval '23 hours 59 minutes'"
                    " AND created_at + interval '24 hours 1 minute'"
                    " FROM idempotency_keys WHERE key = 'expiring'");
    free(harness_sql(&server, "UPDATE idempotency_keys SET expires_at = now() - interval '1 s'"
                              " WHERE key = 'expiring'"));
    struct http_res *again = post_keyed(CATEGORIES, staff_token, body, "expiring");
    expect_status(again, 201, "after expiry");
    assert_null(http_header(again, "Idempotent-Replayed"));
    assert_true(jint(first->json, "id") != jint(again->json, "id"));
    expect_sql("2", "SELECT count(*) FROM categories WHERE name = 'Idem Expiring'");
    http_res_free(first);
    http_res_free(again);
}

/* GET path as anyone: its X-Cache, and whether the body holds needle. */
static const char *list_holds(const char *path, const char *needle, bool *holds) {
    static char cache[8];
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    const char *x = http_header(r, "X-Cache");
    snprintf(cache, sizeof cache, "%s", x ? x : "");
    *holds = strstr(r->body, needle) != NULL;
    http_res_free(r);
    return cache;
}

/* The kept answer commits with the write, and the write bumps the catalog
 * generation only after that commit: a retry answered in between (on
 * another instance, or after the writer stopped before its bump) must
 * bump too, or a read after the replay's answer is served a cached list
 * from before the write. Here the write is hidden from the cache with SQL
 * (which bumps nothing) while a list is cached, then shown again: the
 * database holds the write and its kept answer, the cache a list from
 * before it, as when the writer stopped between its commit and its bump. */
static void test_a_replay_makes_the_write_visible_to_reads_after_it(void **state) {
    (void)state;
    if (!getenv("NEXUS_TEST_REDIS_URL"))
        skip();
    const char *list = "/api/v1/products?limit=100&sort=-created_at";
    const char *body =
        "{\"sku\":\"IDEM-SEEN\",\"name\":\"Idem Seen Lamp\",\"price\":\"4\",\"stock\":2}";
    bool holds = false;
    struct http_res *first = post_keyed(PRODUCTS, staff_token, body, "seen-after-replay");
    expect_status(first, 201, "first POST");
    free(harness_sql(&server, "UPDATE products SET is_active = false WHERE sku = 'IDEM-SEEN'"));
    list_holds(list, "IDEM-SEEN", &holds);
    assert_string_equal(list_holds(list, "IDEM-SEEN", &holds), "HIT");
    assert_false(holds);
    free(harness_sql(&server, "UPDATE products SET is_active = true WHERE sku = 'IDEM-SEEN'"));
    struct http_res *again = post_keyed(PRODUCTS, staff_token, body, "seen-after-replay");
    expect_replay_of(first, again);
    const char *cache = list_holds(list, "IDEM-SEEN", &holds);
    if (!holds)
        fail_msg("the list read after the replay (X-Cache: %s) lacks the product", cache);
    assert_string_equal(cache, "MISS");
    http_res_free(first);
    http_res_free(again);
}

/* ---- concurrency ------------------------------------------------------- */

/* While the first request is held inside its handler (this test holds the
 * slug lock it needs), a duplicate is a 409 on the header; once it has
 * finished, the duplicate is its replay. */
/* The advisory key db_xact_lock takes for a name (db/db.c). */
#define NAME_LOCK(name) "(7350083::bigint * 4294967296 + (hashtext('" name "') & 1023))"

static void test_duplicate_while_the_first_runs_is_409(void **state) {
    (void)state;
    const char *body = "{\"name\":\"Idem Held\"}";
    PGconn *c = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_true(
        harness_pg_exec(c, "SELECT pg_advisory_lock(" NAME_LOCK("slug:categories:idem-held") ")"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct http_res *r = post_keyed(CATEGORIES, staff_token, body, "held");
        _exit(r->status == 201 && !http_header(r, "Idempotent-Replayed") ? 0 : 1);
    }
    assert_true(harness_pg_wait_nonzero(
        c, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
           " ON a.pid = l.pid WHERE NOT l.granted AND l.locktype = 'advisory'"
           " AND a.application_name = 'nexus' AND a.datname = current_database()"));
    struct http_res *r = post_keyed(CATEGORIES, staff_token, body, "held");
    assert_problem(r, 409, "Idempotency-Key");
    /* the first ends in a moment: a client is told when to retry */
    assert_string_equal(http_header(r, "Retry-After"), "1");
    http_res_free(r);
    assert_true(harness_pg_exec(
        c, "SELECT pg_advisory_unlock(" NAME_LOCK("slug:categories:idem-held") ")"));
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    PQfinish(c);
    r = post_keyed(CATEGORIES, staff_token, body, "held");
    expect_status(r, 201, "after the first finished");
    assert_string_equal(http_header(r, "Idempotent-Replayed"), "true");
    http_res_free(r);
    expect_sql("1", "SELECT count(*) FROM categories WHERE name = 'Idem Held'");
}

/* What one racer saw, as a status harness_race can report: 201 for the
 * run, 200 for a replay (of that 201), 409 for one naming the header, 500
 * for a 409 that does not, else the status. */
static long racing_post(int i, void *ctx) {
    (void)i;
    char key[64], body[128];
    snprintf(key, sizeof key, "race-%s", (const char *)ctx);
    snprintf(body, sizeof body, "{\"name\":\"Idem Race %s\"}", (const char *)ctx);
    struct http_res *r = post_keyed(CATEGORIES, staff_token, body, key);
    long out = r->status;
    if (r->status == 201)
        out = http_header(r, "Idempotent-Replayed") ? 200 : 201;
    else if (r->status == 409 && !(r->json && json_object_get(r->json, "errors")))
        out = 500;
    http_res_free(r);
    return out;
}

/* 16 duplicates raced under the key named by tag: exactly one ran (201),
 * each other one was its replay (200) or told it was still running (409). */
static void race_expecting_one_run(long (*racer)(int, void *), const char *tag) {
    long statuses[16];
    harness_race(16, racer, (void *)tag, statuses);
    int ran = harness_count_status(statuses, 16, 201);
    int replayed = harness_count_status(statuses, 16, 200);
    int busy = harness_count_status(statuses, 16, 409);
    if (ran != 1 || ran + replayed + busy != 16)
        fprintf(stderr, "round %s: ran %d, replayed %d, 409 %d\n", tag, ran, replayed, busy);
    assert_int_equal(ran, 1);
    assert_int_equal(ran + replayed + busy, 16);
}

static void test_racing_duplicates_run_once(void **state) {
    (void)state;
    for (int round = 0; round < 5; round++) {
        char tag[16], name[64];
        snprintf(tag, sizeof tag, "%d", round);
        race_expecting_one_run(racing_post, tag);
        snprintf(name, sizeof name, "Idem Race %s", tag);
        expect_sql("1", "SELECT count(*) FROM categories WHERE name = '%s'", name);
    }
}

/* Repeats racing once the first is done are all replays: none is told
 * the first is still running because another repeat holds the key's lock
 * while it replays. */
static void test_racing_repeats_of_a_finished_request_are_replays(void **state) {
    (void)state;
    for (int round = 0; round < 3; round++) {
        char tag[16];
        snprintf(tag, sizeof tag, "done-%d", round);
        long statuses[16];
        harness_race(1, racing_post, tag, statuses);
        assert_int_equal(statuses[0], 201);
        harness_race(16, racing_post, tag, statuses);
        int replayed = harness_count_status(statuses, 16, 200);
        if (replayed != 16)
            fprintf(stderr, "round %s: %d of 16 replayed\n", tag, replayed);
        assert_int_equal(replayed, 16);
    }
}

/* What one racer sent to refuse saw: 201 for the run (a 409 on the slug
 * it asked for, which is taken), 200 for its replay, 409 for one naming
 * the header, 500 for anything else. */
static long racing_refused_post(int i, void *ctx) {
    (void)i;
    char key[64];
    snprintf(key, sizeof key, "refused-%s", (const char *)ctx);
    struct http_res *r =
        post_keyed(CATEGORIES, staff_token, "{\"name\":\"Taken\",\"slug\":\"idem-taken\"}", key);
    json_t *first = json_array_get(json_object_get(r->json, "errors"), 0);
    const char *field = r->status == 409 ? jstr(first, "field") : NULL;
    long out = 500;
    if (field && strcmp(field, "slug") == 0)
        out = http_header(r, "Idempotent-Replayed") ? 200 : 201;
    else if (field && strcmp(field, "Idempotency-Key") == 0)
        out = 409;
    http_res_free(r);
    return out;
}

/* A refusal is kept after its transaction is rolled back, still under the
 * key's lock: no duplicate runs in between (to a refusal of its own). */
static void test_racing_duplicates_of_a_refusal_run_once(void **state) {
    (void)state;
    struct http_res *r = post_keyed(CATEGORIES, staff_token,
                                    "{\"name\":\"Idem Taken\",\"slug\":\"idem-taken\"}", NULL);
    expect_status(r, 201, "the category whose slug is then asked for");
    http_res_free(r);
    for (int round = 0; round < 10; round++) {
        char tag[16];
        snprintf(tag, sizeof tag, "%d", round);
        race_expecting_one_run(racing_refused_post, tag);
    }
}

/* A login's replay and its 422 for another body are password attempts:
 * guesses sent under the key of a login that passed (from the same
 * client address) stop at the email's limit, as logins do, and the
 * replay of the right password is refused then too. */
static void test_guesses_under_a_login_key_count_as_failed_logins(void **state) {
    (void)state;
    harness_create_user(&server, "idem-guess@example.com", "customer", "catalog-password");
    const char *body = "{\"email\":\"idem-guess@example.com\",\"password\":\"catalog-password\"}";
    char guess[128];
    struct http_res *first = post_keyed("/api/v1/auth/login", NULL, body, "guess-1");
    expect_status(first, 200, "login");
    http_res_free(first);
    for (int i = 0; i <= 5; i++) {
        snprintf(guess, sizeof guess,
                 "{\"email\":\"idem-guess@example.com\",\"password\":\"guess-%d\"}", i);
        expect_problem(post_keyed("/api/v1/auth/login", NULL, guess, "guess-1"), i < 5 ? 422 : 429,
                       i < 5 ? "Idempotency-Key" : NULL);
    }
    expect_problem(post_keyed("/api/v1/auth/login", NULL, body, "guess-1"), 429, NULL);
    expect_problem(call("POST", "/api/v1/auth/login", NULL, body), 429, NULL);
}

/* A keyed POST whose body holds a password, raced by racing_password_post. */
struct password_race {
    const char *path;
    const char *key;
    char body[160];
};

/* What one racer saw: 201 for the run (a login's 200 too), 200 for its
 * replay, 409 for one naming the header, else the status. */
static long racing_password_post(int i, void *ctx) {
    (void)i;
    const struct password_race *race = ctx;
    struct http_res *r = post_keyed(race->path, NULL, race->body, race->key);
    long out = r->status;
    if (r->status == 200 || r->status == 201)
        out = http_header(r, "Idempotent-Replayed") ? 200 : 201;
    else if (r->status == 409 && !(r->json && json_object_get(r->json, "errors")))
        out = 500;
    http_res_free(r);
    return out;
}

/* The first request with a key lets go of the key's lock while it waits
 * for its password hash: duplicates meanwhile are told it still runs
 * (409), none hashes a password of its own, and none is refused with a
 * 503 because the first is still being checked. */
static void test_duplicates_of_a_request_waiting_for_its_hash_are_409(void **state) {
    (void)state;
    harness_create_user(&server, "idem-hash@example.com", "customer", "catalog-password");
    struct password_race races[] = {
        {"/api/v1/auth/register", "hash-register", ""},
        {"/api/v1/auth/login", "hash-login", ""},
    };
    snprintf(races[0].body, sizeof races[0].body,
             "{\"email\":\"idem-hash-new@example.com\",\"password\":\"catalog-password\","
             "\"name\":\"Racer\"}");
    snprintf(races[1].body, sizeof races[1].body,
             "{\"email\":\"idem-hash@example.com\",\"password\":\"catalog-password\"}");
    for (size_t k = 0; k < sizeof races / sizeof races[0]; k++) {
        long before = http_metric("nexus_password_hashes_total");
        long statuses[16];
        harness_race(16, racing_password_post, &races[k], statuses);
        int ran = harness_count_status(statuses, 16, 201);
        int replayed = harness_count_status(statuses, 16, 200);
        int busy = harness_count_status(statuses, 16, 409);
        if (ran != 1 || ran + replayed + busy != 16)
            fprintf(stderr, "%s: ran %d, replayed %d, 409 %d\n", races[k].path, ran, replayed,
                    busy);
        assert_int_equal(ran, 1);
        assert_int_equal(ran + replayed + busy, 16);
        assert_int_equal(http_metric("nexus_password_hashes_total") - before, 1);
    }
    expect_sql("1", "SELECT count(*) FROM users WHERE email = 'idem-hash-new@example.com'");
}

/* ---- fixtures ------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    /* A request held on a lock by a test waits without a lock timeout
     * however slow the machine is. */
    const char *env[] = {"DB_STATEMENT_TIMEOUT_MS=600000", NULL};
    harness_start(&server, "idempotency", env);
    char *customer = NULL, *other_customer = NULL;
    harness_staff_and_customer(&server, "idem", &staff_token, &customer);
    harness_staff_and_customer(&server, "idem-other", &other_staff_token, &other_customer);
    free(customer);
    free(other_customer);
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    free(other_staff_token);
    harness_stop(&server);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_answers_the_first_response_and_does_nothing),
        cmocka_unit_test(test_same_key_with_another_body_is_422),
        cmocka_unit_test(test_keys_are_scoped_to_the_caller_and_the_path),
        cmocka_unit_test(test_anonymous_register_is_kept_per_client_address),
        cmocka_unit_test(test_refusals_are_kept_like_successes),
        cmocka_unit_test(test_token_answers_are_kept_sealed),
        cmocka_unit_test(test_a_replayed_token_pair_says_what_its_access_token_has_left),
        cmocka_unit_test(test_a_replay_of_an_ended_login_is_401),
        cmocka_unit_test(test_guesses_under_a_login_key_count_as_failed_logins),
        cmocka_unit_test(test_malformed_keys_are_400_naming_the_header),
        cmocka_unit_test(test_expired_keys_run_again),
        cmocka_unit_test(test_a_replay_makes_the_write_visible_to_reads_after_it),
        cmocka_unit_test(test_duplicate_while_the_first_runs_is_409),
        cmocka_unit_test(test_duplicates_of_a_request_waiting_for_its_hash_are_409),
        cmocka_unit_test(test_racing_duplicates_run_once),
        cmocka_unit_test(test_racing_repeats_of_a_finished_request_are_replays),
        cmocka_unit_test(test_racing_duplicates_of_a_refusal_run_once),
    };
    return harness_run_group("idempotency", tests, sizeof tests / sizeof tests[0], start, stop);
}
