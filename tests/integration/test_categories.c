/*
 * test_categories.c -- the category endpoints: create (slugs, parents,
 * validation), get by id or slug, list (sort, parent filter, paging,
 * total), patch (rename, moves, cycles), delete (blocked by children and
 * live products) and the category embedded in products.
 */
#include "harness.h"

#include <regex.h>
#include <fnmatch.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define CATEGORIES      "/api/v1/categories"
#define PRODUCTS        "/api/v1/products"
#define MAX_IDS         512
#define expect_sql(...) harness_expect_sql(&server, __VA_ARGS__)

static struct nexus_server server;
static char *staff_token;
static char *customer_token;

/* ---- helpers ----------------------------------------------------------------- */

static void assert_category_json(json_t *c) {
    assert_true(json_is_object(c));
    const char *keys[] = {"id",        "name",       "slug",      "description",
                          "parent_id", "created_at", "updated_at"};
    for (size_t i = 0; i < 7; i++) {
        if (!json_object_get(c, keys[i]))
            fprintf(stderr, "category JSON lacks '%s'\n", keys[i]);
        assert_non_null(json_object_get(c, keys[i]));
    }
    if (json_object_size(c) != 7) {
        char *s = json_dumps(c, JSON_COMPACT);
        fprintf(stderr, "category JSON has extra keys: %s\n", s);
        free(s);
    }
    assert_int_equal(json_object_size(c), 7);
    assert_true(jint(c, "id") > 0);
    jstr(c, "name");
    jstr(c, "slug");
    assert_true(json_is_string(json_object_get(c, "description")));
    json_t *parent = json_object_get(c, "parent_id");
    assert_true(json_is_null(parent) || json_is_integer(parent));
    assert_timestamp(jstr(c, "created_at"));
    assert_timestamp(jstr(c, "updated_at"));
}

/* POST a category as staff; returns the response (201 asserted). */
static struct http_res *post_category(char *body) {
    struct http_res *r = call_owned("POST", CATEGORIES, staff_token, body);
    expect_status(r, 201, "create category");
    assert_category_json(r->json);
    return r;
}

/* Create {name, slug?, parent_id?}; returns the id. */
static long long make_category(const char *name, const char *slug, long long parent) {
    json_t *b = json_pack("{s:s}", "name", name);
    if (slug)
        json_object_set_new(b, "slug", json_string(slug));
    if (parent)
        json_object_set_new(b, "parent_id", json_integer(parent));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct http_res *r = post_category(s);
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static long long make_product(const char *sku, const char *name, long long category, bool active) {
    json_t *b = json_pack("{s:s, s:s, s:s, s:i, s:b}", "sku", sku, "name", name, "price", "9.99",
                          "stock", 3, "is_active", active);
    if (category)
        json_object_set_new(b, "category_id", json_integer(category));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, s);
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static struct http_res *get_category(const char *key) {
    char path[512];
    snprintf(path, sizeof path, CATEGORIES "/%s", key);
    return call_h("GET", path, NULL, NULL, NULL);
}

static struct http_res *patch_category(long long id, char *body) {
    char path[128];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    return call_owned("PATCH", path, staff_token, body);
}

static long delete_category(long long id) {
    char path[128];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    struct http_res *r = call_h("DELETE", path, staff_token, NULL, NULL);
    long s = r->status;
    if (s == 204)
        assert_int_equal(r->len, 0);
    else
        assert_problem(r, s, NULL);
    http_res_free(r);
    return s;
}

static long list_status(const char *query) {
    char path[2048];
    snprintf(path, sizeof path, CATEGORIES "?%s", query);
    struct http_res *r = call_h("GET", path, NULL, NULL, NULL);
    long s = r->status;
    if (s >= 400)
        assert_problem(r, s, NULL);
    http_res_free(r);
    return s;
}

/* Walk a category list from its first page to its last; collect ids. */
static size_t walk(const char *query, long long *ids, size_t cap, size_t *pages) {
    char path[4096];
    char *cursor = NULL;
    size_t n = 0, np = 0;
    for (;;) {
        snprintf(path, sizeof path, CATEGORIES "?%s%s%s", query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *r = call_h("GET", path, NULL, NULL, NULL);
        expect_status(r, 200, path);
        np++;
        assert_true(json_is_array(json_object_get(r->json, "items")));
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "items"), i, item) {
            assert_category_json(item);
            assert_true(n < cap);
            ids[n++] = jint(item, "id");
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        assert_non_null(next); /* always present; null on the last page */
        assert_true(json_is_null(next) || json_is_string(next));
        if (json_is_string(next))
            cursor = take(json_string_value(next));
        http_res_free(r);
        if (!cursor || np > cap + 1)
            break;
    }
    assert_null(cursor);
    if (pages)
        *pages = np;
    return n;
}

static void assert_same_ids(const long long *got, size_t ngot, const long long *want,
                            size_t nwant) {
    if (ngot != nwant)
        fprintf(stderr, "got %zu ids, want %zu\n", ngot, nwant);
    for (size_t i = 0; i < ngot && i < nwant; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "position %zu: got id %lld, want %lld\n", i, got[i], want[i]);
            break;
        }
    assert_int_equal(ngot, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_int_equal(got[i], want[i]);
}

static void expect_list(const char *query, const char *order_sql, const char *where_sql) {
    long long got[MAX_IDS], want[MAX_IDS];
    size_t ngot = walk(query, got, MAX_IDS, NULL);
    size_t nwant =
        parse_ids(harness_sql_value(&server,
                                    "SELECT coalesce(string_agg(id::text, ',' ORDER BY %s), '')"
                                    " FROM categories WHERE %s",
                                    order_sql, where_sql),
                  want, MAX_IDS);
    if (ngot != nwant || memcmp(got, want, nwant * sizeof want[0]) != 0)
        fprintf(stderr, "list ?%s differs from ORDER BY %s\n", query, order_sql);
    assert_same_ids(got, ngot, want, nwant);
}

static bool contains(const long long *ids, size_t n, long long id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* ---- group set-up ---------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    harness_start(&server, "categories", NULL);
    harness_staff_and_customer(&server, "cat", &staff_token, &customer_token);
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    free(customer_token);
    staff_token = customer_token = NULL;
    harness_stop(&server);
    return 0;
}

/* ---- create ---------------------------------------------------------------------- */

static void test_create_answers_201_with_location_and_exact_json(void **state) {
    (void)state;
    struct http_res *r = post_category(json_body("{s:s}", "name", "Audio & Video"));
    long long id = jint(r->json, "id");
    char want[128];
    snprintf(want, sizeof want, CATEGORIES "/%lld", id);
    assert_non_null(http_header(r, "Location"));
    assert_string_equal(http_header(r, "Location"), want);
    assert_string_equal(jstr(r->json, "name"), "Audio & Video");
    assert_string_equal(jstr(r->json, "slug"), "audio-video");
    assert_string_equal(jstr(r->json, "description"), "");
    assert_true(json_is_null(json_object_get(r->json, "parent_id")));
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    http_res_free(r);

    /* description null is "" too; a given one is kept */
    r = post_category(json_body("{s:s, s:n}", "name", "Null Description", "description"));
    assert_string_equal(jstr(r->json, "description"), "");
    http_res_free(r);
    r = post_category(json_body("{s:s, s:s, s:I}", "name", "Headphones", "description",
                                "Over-ear and in-ear", "parent_id", (json_int_t)id));
    assert_string_equal(jstr(r->json, "description"), "Over-ear and in-ear");
    assert_int_equal(jint(r->json, "parent_id"), id);
    assert_string_equal(jstr(r->json, "slug"), "headphones");
    http_res_free(r);
}

static void test_create_needs_staff(void **state) {
    (void)state;
    char *count_before = harness_sql_value(&server, "SELECT count(*) FROM categories");
    struct http_res *r =
        call_owned("POST", CATEGORIES, customer_token, json_body("{s:s}", "name", "Customer Made"));
    expect_problem(r, 403, NULL);
    r = call_owned("POST", CATEGORIES, NULL, json_body("{s:s}", "name", "Anonymous Made"));
    assert_problem(r, 401, NULL);
    assert_non_null(http_header(r, "WWW-Authenticate"));
    http_res_free(r);
    char *count_after = harness_sql_value(&server, "SELECT count(*) FROM categories");
    assert_string_equal(count_before, count_after);
    free(count_before);
    free(count_after);
}

static void test_slug_is_derived_from_the_name(void **state) {
    (void)state;
    struct http_res *r = post_category(json_body("{s:s}", "name", "Crème brûlée"));
    assert_string_equal(jstr(r->json, "slug"), "cr-me-br-l-e");
    assert_string_equal(jstr(r->json, "name"), "Crème brûlée");
    http_res_free(r);
    r = post_category(json_body("{s:s}", "name", "  --Mixed CASE__and 42 spaces!!  "));
    assert_string_equal(jstr(r->json, "slug"), "mixed-case-and-42-spaces");
    http_res_free(r);
}

static void test_derived_slug_clash_gets_a_numeric_suffix(void **state) {
    (void)state;
    const char *want[] = {"garden-tools", "garden-tools-2", "garden-tools-3"};
    const char *names[] = {"Garden Tools", "garden tools", "GARDEN / TOOLS"};
    for (size_t i = 0; i < 3; i++) {
        struct http_res *r = post_category(json_body("{s:s}", "name", names[i]));
        assert_string_equal(jstr(r->json, "slug"), want[i]);
        http_res_free(r);
    }
}

static void test_long_name_gives_a_slug_cut_at_a_hyphen(void **state) {
    (void)state;
    char name[201] = "";
    for (int i = 0; i < 30; i++)
        strcat(name, i ? " word" : "word"); /* 149 characters */
    struct http_res *r = post_category(json_body("{s:s}", "name", name));
    const char *slug = jstr(r->json, "slug");
    assert_true(strlen(slug) <= 100);
    assert_true(strlen(slug) >= 90);
    assert_int_equal(strncmp(slug, "word-word-", 10), 0);
    assert_string_equal(slug + strlen(slug) - 5, "-word"); /* a whole word at the end */
    char first[101];
    snprintf(first, sizeof first, "%s", slug);
    http_res_free(r);
    r = post_category(json_body("{s:s}", "name", name));
    slug = jstr(r->json, "slug");
    assert_true(strlen(slug) <= 100);
    assert_string_not_equal(slug, first);
    assert_string_equal(slug + strlen(slug) - 2, "-2");
    http_res_free(r);
}

static void test_explicit_slug_that_is_taken_is_409(void **state) {
    (void)state;
    make_category("Kitchen", "kitchen", 0);
    struct http_res *r =
        call_owned("POST", CATEGORIES, staff_token,
                   json_body("{s:s, s:s}", "name", "Other Kitchen", "slug", "kitchen"));
    assert_problem(r, 409, "slug");
    assert_string_equal(jstr(r->json, "title"), "Conflict");
    json_t *errors = json_object_get(r->json, "errors");
    assert_true(json_array_size(errors) >= 1);
    assert_string_equal(jstr(json_array_get(errors, 0), "field"), "slug");
    http_res_free(r);
    /* a derived slug that clashes is not a conflict */
    r = post_category(json_body("{s:s}", "name", "Kitchen"));
    assert_string_equal(jstr(r->json, "slug"), "kitchen-2");
    http_res_free(r);
}

static void test_invalid_explicit_slugs_are_422(void **state) {
    (void)state;
    char long_slug[102];
    memset(long_slug, 'a', 101);
    long_slug[101] = '\0';
    const char *bad[] = {"Bad", "a--b", "-a", "a-", "123", "a b", "a_b", "ü", "", long_slug};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r =
            call_owned("POST", CATEGORIES, staff_token,
                       json_body("{s:s, s:s}", "name", "Slug Test", "slug", bad[i]));
        if (r->status != 422)
            fprintf(stderr, "slug '%s' gave %ld\n", bad[i], r->status);
        assert_problem(r, 422, "slug");
        assert_string_equal(jstr(r->json, "title"), "Unprocessable Content");
        http_res_free(r);
    }
    /* 100 characters and digits with a letter are fine */
    long_slug[100] = '\0';
    make_category("Hundred", long_slug, 0);
    make_category("Digits", "2024-sale", 0);
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:i}", "name", "X", "slug", 5)),
                   422, "slug");
}

static void test_name_without_a_usable_slug_needs_one(void **state) {
    (void)state;
    const char *names[] = {"!!!", "2024", "€€€", "---"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct http_res *r =
            call_owned("POST", CATEGORIES, staff_token, json_body("{s:s}", "name", names[i]));
        if (r->status != 422)
            fprintf(stderr, "name '%s' gave %ld\n", names[i], r->status);
        expect_problem(r, 422, "slug");
    }
    struct http_res *r =
        post_category(json_body("{s:s, s:s}", "name", "2024", "slug", "year-2024"));
    assert_string_equal(jstr(r->json, "name"), "2024");
    assert_string_equal(jstr(r->json, "slug"), "year-2024");
    http_res_free(r);
}

static void test_name_and_description_lengths(void **state) {
    (void)state;
    char name[202];
    memset(name, 'n', 201);
    name[201] = '\0';
    expect_problem(call_owned("POST", CATEGORIES, staff_token, json_body("{s:s}", "name", name)),
                   422, "name");
    expect_problem(call_owned("POST", CATEGORIES, staff_token, json_body("{s:s}", "name", "")), 422,
                   "name");
    expect_problem(call_owned("POST", CATEGORIES, staff_token, json_body("{s:n}", "name")), 422,
                   "name");
    expect_problem(
        call_owned("POST", CATEGORIES, staff_token, json_body("{s:s}", "slug", "no-name")), 422,
        "name");
    name[200] = '\0';
    http_res_free(post_category(json_body("{s:s}", "name", name)));
    char *desc = malloc(10002);
    assert_non_null(desc);
    memset(desc, 'd', 10001);
    desc[10001] = '\0';
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:s}", "name", "Long Text", "description", desc)),
                   422, "description");
    desc[10000] = '\0';
    struct http_res *r =
        post_category(json_body("{s:s, s:s}", "name", "Long Text", "description", desc));
    assert_int_equal(strlen(jstr(r->json, "description")), 10000);
    http_res_free(r);
    free(desc);
}

static void test_unknown_or_bad_parent_is_422(void **state) {
    (void)state;
    /* named with the other bad fields, one entry per field */
    struct http_res *both = call_owned("POST", CATEGORIES, staff_token,
                                       json_body("{s:s, s:i}", "name", "", "parent_id", 999999));
    assert_problem(both, 422, "parent_id");
    assert_problem(both, 422, "name");
    http_res_free(both);
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:i}", "name", "Orphan", "parent_id", 999999)),
                   422, "parent_id");
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:i}", "name", "Orphan", "parent_id", 0)),
                   422, "parent_id");
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:i}", "name", "Orphan", "parent_id", -1)),
                   422, "parent_id");
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:s}", "name", "Orphan", "parent_id", "1")),
                   422, "parent_id");
    char *n = harness_sql_value(&server, "SELECT count(*) FROM categories WHERE name = 'Orphan'");
    assert_string_equal(n, "0");
    free(n);
}

static void test_unknown_and_read_only_fields_are_422(void **state) {
    (void)state;
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:s}", "name", "Extra", "colour", "red")),
                   422, "colour");
    expect_problem(call_owned("POST", CATEGORIES, staff_token,
                              json_body("{s:s, s:i}", "name", "Extra", "id", 7)),
                   422, "id");
    expect_problem(
        call_owned("POST", CATEGORIES, staff_token,
                   json_body("{s:s, s:s}", "name", "Extra", "created_at", "2026-01-01T00:00:00Z")),
        422, "created_at");
    expect_problem(
        call_owned("POST", CATEGORIES, staff_token,
                   json_body("{s:s, s:s}", "name", "Extra", "updated_at", "2026-01-01T00:00:00Z")),
        422, "updated_at");
    char *n = harness_sql_value(&server, "SELECT count(*) FROM categories WHERE name = 'Extra'");
    assert_string_equal(n, "0");
    free(n);
}

static void test_body_framing_errors(void **state) {
    (void)state;
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff_token);
    const char *plain[] = {auth, "Content-Type: text/plain", NULL};
    const char *body = "{\"name\":\"Framing\"}";
    struct http_res *r = http_request("POST", CATEGORIES, plain, body, strlen(body));
    expect_problem(r, 415, NULL);
    const char *charset[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
    r = http_request("POST", CATEGORIES, charset, body, strlen(body));
    expect_status(r, 201, "json with charset");
    http_res_free(r);
    expect_problem(call_h("POST", CATEGORIES, staff_token, "{\"name\":", NULL), 400, NULL);
    expect_problem(call_h("POST", CATEGORIES, staff_token, "[\"name\"]", NULL), 400, NULL);
    expect_problem(call_h("POST", CATEGORIES, staff_token, "{\"name\":\"A\",\"name\":\"B\"}", NULL),
                   400, NULL);
    /* role before content type: a customer with a wrong type gets 403 */
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", customer_token);
    r = http_request("POST", CATEGORIES, plain, body, strlen(body));
    expect_problem(r, 403, NULL);
}

/* ---- get ------------------------------------------------------------------------ */

static void test_get_by_id_and_by_slug(void **state) {
    (void)state;
    struct http_res *created =
        post_category(json_body("{s:s, s:s}", "name", "Board Games", "description", "Family fun"));
    long long id = jint(created->json, "id");
    char key[32];
    snprintf(key, sizeof key, "%lld", id);
    struct http_res *by_id = get_category(key);
    expect_status(by_id, 200, "get by id");
    assert_category_json(by_id->json);
    assert_true(json_equal(by_id->json, created->json));
    struct http_res *by_slug = get_category("board-games");
    expect_status(by_slug, 200, "get by slug");
    assert_true(json_equal(by_slug->json, created->json));
    /* a customer and staff see the same */
    struct http_res *r = call_h("GET", CATEGORIES "/board-games", customer_token, NULL, NULL);
    expect_status(r, 200, "customer get");
    assert_true(json_equal(r->json, created->json));
    http_res_free(r);
    http_res_free(created);
    http_res_free(by_id);
    http_res_free(by_slug);
}

static void test_get_unknown_is_404(void **state) {
    (void)state;
    const char *bad[] = {"999999",      "no-such-slug", "0",   "-1", "99999999999999999999",
                         "Board-Games", "board_games",  "a--b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = get_category(bad[i]);
        if (r->status != 404)
            fprintf(stderr, "GET /categories/%s gave %ld\n", bad[i], r->status);
        assert_problem(r, 404, NULL);
        assert_null(json_object_get(r->json, "errors"));
        http_res_free(r);
    }
    /* a slug that starts with digits is still a slug */
    struct http_res *r = get_category("2024-sale");
    expect_status(r, 200, "GET /categories/2024-sale");
    assert_string_equal(jstr(r->json, "slug"), "2024-sale");
    http_res_free(r);
    /* trailing slash is another path */
    expect_problem(call_h("GET", CATEGORIES "/board-games/", NULL, NULL, NULL), 404, NULL);
}

/* ---- list ----------------------------------------------------------------------- */

static void test_list_envelope_and_default_sort_by_name_case_insensitive(void **state) {
    (void)state;
    long long lower = make_category("aardvark things", NULL, 0);
    long long upper = make_category("Aardwolf Things", NULL, 0);
    long long shout = make_category("AARDVARKS MORE", NULL, 0);
    struct http_res *r = call_h("GET", CATEGORIES, NULL, NULL, NULL);
    expect_status(r, 200, "list");
    assert_true(json_is_array(json_object_get(r->json, "items")));
    assert_non_null(json_object_get(r->json, "next_cursor"));
    assert_null(json_object_get(r->json, "total"));
    assert_true(json_array_size(json_object_get(r->json, "items")) <= 20);
    http_res_free(r);
    long long got[MAX_IDS];
    size_t n = walk("limit=100", got, MAX_IDS, NULL);
    size_t pl = n, pu = n, ps = n;
    for (size_t i = 0; i < n; i++) {
        pl = got[i] == lower ? i : pl;
        pu = got[i] == upper ? i : pu;
        ps = got[i] == shout ? i : ps;
    }
    assert_true(pl < n && pu < n && ps < n);
    /* aardvark things < AARDVARKS MORE < Aardwolf Things */
    assert_true(pl < ps);
    assert_true(ps < pu);
    expect_list("limit=100", "lower(name), id", "true");
    expect_list("limit=7", "lower(name), id", "true");
    expect_list("sort=name&limit=9", "lower(name), id", "true");
}

static void test_list_sorts(void **state) {
    (void)state;
    expect_list("sort=-name&limit=6", "lower(name) DESC, id DESC", "true");
    expect_list("sort=created_at&limit=6", "created_at, id", "true");
    expect_list("sort=-created_at&limit=6", "created_at DESC, id DESC", "true");
    const char *bad[] = {"sort=bogus",   "sort=price",   "sort=NAME", "sort=--name",
                         "sort=%2Bname", "sort=name,id", "sort=slug", "sort="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long s = list_status(bad[i]);
        if (s != 400)
            fprintf(stderr, "%s gave %ld\n", bad[i], s);
        assert_int_equal(s, 400);
    }
}

static void test_list_parent_filter(void **state) {
    (void)state;
    long long root = make_category("Parent Filter Root", "pf-root", 0);
    long long kids[3];
    kids[0] = make_category("pf child b", NULL, root);
    kids[1] = make_category("PF Child A", NULL, root);
    kids[2] = make_category("pf child c", NULL, root);
    long long grandchild = make_category("pf grandchild", NULL, kids[0]);
    char q[256], where[256];
    snprintf(q, sizeof q, "parent=%lld&limit=2", root);
    snprintf(where, sizeof where, "parent_id = %lld", root);
    expect_list(q, "lower(name), id", where);
    long long got[MAX_IDS];
    size_t n = walk("parent=pf-root", got, MAX_IDS, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(got[0], kids[1]);
    assert_int_equal(got[1], kids[0]);
    assert_int_equal(got[2], kids[2]);
    assert_false(contains(got, n, grandchild)); /* children only, not descendants */
    /* roots only */
    n = walk("parent=null&limit=100", got, MAX_IDS, NULL);
    assert_true(contains(got, n, root));
    assert_false(contains(got, n, kids[0]));
    assert_false(contains(got, n, grandchild));
    expect_list("parent=null&limit=5", "lower(name), id", "parent_id IS NULL");
    expect_list("parent=null&sort=-created_at&limit=5", "created_at DESC, id DESC",
                "parent_id IS NULL");
    /* well-formed but unknown: empty */
    const char *empty[] = {"parent=no-such", "parent=999999", "parent=ABC"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(q, sizeof q, CATEGORIES "?%s&include_total=true", empty[i]);
        struct http_res *r = call_h("GET", q, NULL, NULL, NULL);
        expect_status(r, 200, q);
        assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
        assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
        assert_int_equal(jint(r->json, "total"), 0);
        http_res_free(r);
    }
    /* malformed: 400 */
    const char *bad[] = {"parent=bad!value", "parent=bad%20value", "parent=a_b", "parent=a.b",
                         "parent=%27%3B--"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long s = list_status(bad[i]);
        if (s != 400)
            fprintf(stderr, "%s gave %ld\n", bad[i], s);
        assert_int_equal(s, 400);
    }
    /* an empty filter value is ignored */
    expect_list("parent=&limit=50", "lower(name), id", "true");
}

static void test_wrong_method_is_405_before_authentication(void **state) {
    (void)state;
    struct http_res *r = call_h("PUT", CATEGORIES "/1", NULL, "{}", NULL);
    assert_problem(r, 405, NULL);
    const char *allow = http_header(r, "Allow");
    assert_non_null(allow);
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "PATCH"));
    assert_non_null(strstr(allow, "DELETE"));
    assert_null(strstr(allow, "PUT"));
    http_res_free(r);
    r = call_h("DELETE", CATEGORIES, customer_token, NULL, NULL);
    assert_problem(r, 405, NULL);
    assert_non_null(strstr(http_header(r, "Allow"), "POST"));
    http_res_free(r);
}

/* A parent value made of [A-Za-z0-9-] (or a positive integer) that
 * matches nothing is an empty list, however long. */
static void test_long_well_formed_parent_is_an_empty_list(void **state) {
    (void)state;
    char q[512] = "parent=";
    for (int i = 0; i < 150; i++)
        strcat(q, "a");
    long s = list_status(q);
    if (s != 200)
        fprintf(stderr, "a 150-letter parent gave %ld\n", s);
    assert_int_equal(s, 200);
    assert_int_equal(list_status("parent=99999999999999999999"), 200);
}

static void test_paging_walks_every_category_once_with_total(void **state) {
    (void)state;
    for (int i = 0; i < 12; i++) {
        char name[64];
        snprintf(name, sizeof name, "Paging Filler %02d", i);
        make_category(name, NULL, 0);
    }
    char *count = harness_sql_value(&server, "SELECT count(*) FROM categories");
    long long total = strtoll(count, NULL, 10);
    free(count);
    long long got[MAX_IDS];
    size_t pages = 0;
    size_t n = walk("limit=1", got, MAX_IDS, &pages);
    assert_int_equal(n, (size_t)total);
    assert_int_equal(pages, (size_t)total);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_true(got[i] != got[j]);
    expect_list("limit=4&sort=created_at", "created_at, id", "true");

    struct http_res *r = call_h("GET", CATEGORIES "?include_total=true&limit=3", NULL, NULL, NULL);
    expect_status(r, 200, "include_total");
    assert_int_equal(jint(r->json, "total"), total);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 3);
    /* the total stays the same on later pages */
    char path[2048];
    snprintf(path, sizeof path, CATEGORIES "?include_total=true&limit=3&cursor=%s",
             jstr(r->json, "next_cursor"));
    http_res_free(r);
    r = call_h("GET", path, NULL, NULL, NULL);
    expect_status(r, 200, "include_total page 2");
    assert_int_equal(jint(r->json, "total"), total);
    http_res_free(r);
    r = call_h("GET", CATEGORIES "?include_total=false", NULL, NULL, NULL);
    expect_status(r, 200, "include_total=false");
    assert_null(json_object_get(r->json, "total"));
    http_res_free(r);
    /* the total of a filtered list */
    r = call_h("GET", CATEGORIES "?parent=null&include_total=true&limit=1", NULL, NULL, NULL);
    char *roots =
        harness_sql_value(&server, "SELECT count(*) FROM categories WHERE parent_id IS NULL");
    assert_int_equal(jint(r->json, "total"), strtoll(roots, NULL, 10));
    free(roots);
    http_res_free(r);
    assert_int_equal(list_status("include_total=yes"), 400);
}

static void test_list_limit_and_cursor_rules(void **state) {
    (void)state;
    const char *bad[] = {"limit=0",   "limit=101",  "limit=-1",   "limit=abc",  "limit=",
                         "limit=1e2", "limit=0x10", "limit=%205", "limit=5abc", "limit=1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long s = list_status(bad[i]);
        if (s != 400)
            fprintf(stderr, "%s gave %ld\n", bad[i], s);
        assert_int_equal(s, 400);
    }
    assert_int_equal(list_status("limit=1"), 200);
    assert_int_equal(list_status("limit=100"), 200);
    struct http_res *r = call_h("GET", CATEGORIES "?limit=2", NULL, NULL, NULL);
    char *cursor = take(jstr(r->json, "next_cursor"));
    http_res_free(r);
    char q[2048];
    snprintf(q, sizeof q, "limit=2&cursor=%s", cursor);
    assert_int_equal(list_status(q), 200);
    snprintf(q, sizeof q, "limit=2&sort=-name&cursor=%s", cursor);
    assert_int_equal(list_status(q), 400);
    snprintf(q, sizeof q, "limit=2&sort=created_at&cursor=%s", cursor);
    assert_int_equal(list_status(q), 400);
    snprintf(q, sizeof q, "limit=2&parent=null&cursor=%s", cursor);
    assert_int_equal(list_status(q), 400);
    char *t = take(cursor);
    t[4] = t[4] == 'A' ? 'B' : 'A';
    snprintf(q, sizeof q, "limit=2&cursor=%s", t);
    assert_int_equal(list_status(q), 400);
    free(t);
    assert_int_equal(list_status("cursor=garbage"), 400);
    assert_int_equal(list_status("cursor="), 200);
    /* a category cursor is not a product cursor */
    snprintf(q, sizeof q, PRODUCTS "?limit=2&sort=name&cursor=%s", cursor);
    r = call_h("GET", q, NULL, NULL, NULL);
    expect_problem(r, 400, NULL);
    free(cursor);
}

/* ---- patch ---------------------------------------------------------------------- */

static void test_patch_rename_keeps_the_slug(void **state) {
    (void)state;
    struct http_res *created = post_category(json_body("{s:s}", "name", "Old Name Shelf"));
    long long id = jint(created->json, "id");
    struct http_res *r = patch_category(id, json_body("{s:s}", "name", "New Name Shelf"));
    expect_status(r, 200, "patch name");
    assert_category_json(r->json);
    assert_string_equal(jstr(r->json, "name"), "New Name Shelf");
    assert_string_equal(jstr(r->json, "slug"), "old-name-shelf");
    assert_string_equal(jstr(r->json, "created_at"), jstr(created->json, "created_at"));
    assert_true(strcmp(jstr(r->json, "updated_at"), jstr(created->json, "updated_at")) > 0);
    http_res_free(r);
    r = get_category("old-name-shelf");
    expect_status(r, 200, "get after rename");
    assert_string_equal(jstr(r->json, "name"), "New Name Shelf");
    http_res_free(r);
    /* other fields, and the path by slug */
    r = call_owned("PATCH", CATEGORIES "/old-name-shelf", staff_token,
                   json_body("{s:s, s:s}", "slug", "shelf", "description", "Wooden"));
    expect_status(r, 200, "patch slug by slug path");
    assert_string_equal(jstr(r->json, "slug"), "shelf");
    assert_string_equal(jstr(r->json, "description"), "Wooden");
    assert_string_equal(jstr(r->json, "name"), "New Name Shelf");
    http_res_free(r);
    r = patch_category(id, json_body("{s:n}", "description"));
    expect_status(r, 200, "patch description null");
    assert_string_equal(jstr(r->json, "description"), "");
    http_res_free(r);
    http_res_free(created);
}

/* An empty PATCH changes nothing: updated_at stays, and the cached
 * category is still served (no cache bump). */
static void test_empty_patch_changes_nothing(void **state) {
    (void)state;
    long long id = make_category("Empty Patch Shelf", NULL, 0);
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    http_res_free(call("GET", path, NULL, NULL));
    struct http_res *before = call("GET", path, NULL, NULL);
    assert_string_equal(http_header(before, "X-Cache"), "HIT");
    struct http_res *r = patch_category(id, json_body("{}"));
    expect_status(r, 200, "empty PATCH");
    assert_string_equal(jstr(r->json, "updated_at"), jstr(before->json, "updated_at"));
    assert_string_equal(jstr(r->json, "name"), "Empty Patch Shelf");
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    assert_string_equal(jstr(r->json, "updated_at"), jstr(before->json, "updated_at"));
    http_res_free(r);
    http_res_free(before);
}

static void test_patch_validation(void **state) {
    (void)state;
    long long id = make_category("Patch Target", NULL, 0);
    make_category("Patch Other", "patch-other", 0);
    char *before =
        harness_sql_value(&server,
                          "SELECT name || slug || description || coalesce(parent_id::text, '-')"
                          " FROM categories WHERE id = %lld",
                          id);
    expect_problem(patch_category(id, json_body("{s:s}", "slug", "patch-other")), 409, "slug");
    expect_problem(patch_category(id, json_body("{s:s}", "slug", "Bad Slug")), 422, "slug");
    expect_problem(patch_category(id, json_body("{s:s}", "name", "")), 422, "name");
    expect_problem(patch_category(id, json_body("{s:i}", "parent_id", 999999)), 422, "parent_id");
    struct http_res *both =
        patch_category(id, json_body("{s:s, s:i}", "name", "", "parent_id", 999999));
    assert_problem(both, 422, "parent_id");
    assert_problem(both, 422, "name");
    http_res_free(both);
    expect_problem(patch_category(id, json_body("{s:s}", "colour", "red")), 422, "colour");
    expect_problem(patch_category(id, json_body("{s:i}", "id", 1)), 422, "id");
    char *after =
        harness_sql_value(&server,
                          "SELECT name || slug || description || coalesce(parent_id::text, '-')"
                          " FROM categories WHERE id = %lld",
                          id);
    assert_string_equal(before, after);
    free(before);
    free(after);
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    expect_problem(
        call_owned("PATCH", path, customer_token, json_body("{s:s}", "name", "Customer")), 403,
        NULL);
    expect_problem(call_owned("PATCH", path, NULL, json_body("{s:s}", "name", "Anonymous")), 401,
                   NULL);
}

static void test_patch_parent_rules(void **state) {
    (void)state;
    long long a = make_category("Cycle A", NULL, 0);
    long long b = make_category("Cycle B", NULL, a);
    long long c = make_category("Cycle C", NULL, b);
    /* its own parent */
    expect_problem(patch_category(a, json_body("{s:I}", "parent_id", (json_int_t)a)), 422,
                   "parent_id");
    /* A -> B -> C; A under C would be a loop */
    expect_problem(patch_category(a, json_body("{s:I}", "parent_id", (json_int_t)c)), 422,
                   "parent_id");
    expect_problem(patch_category(a, json_body("{s:I}", "parent_id", (json_int_t)b)), 422,
                   "parent_id");
    expect_problem(patch_category(b, json_body("{s:I}", "parent_id", (json_int_t)c)), 422,
                   "parent_id");
    char *parent = harness_sql_value(&server,
                                     "SELECT coalesce(parent_id::text, 'null') FROM categories"
                                     " WHERE id = %lld",
                                     a);
    assert_string_equal(parent, "null");
    free(parent);
    /* a legal move: C up to A */
    struct http_res *r = patch_category(c, json_body("{s:I}", "parent_id", (json_int_t)a));
    expect_status(r, 200, "move C under A");
    assert_int_equal(jint(r->json, "parent_id"), a);
    http_res_free(r);
    /* null makes a root */
    r = patch_category(b, json_body("{s:n}", "parent_id"));
    expect_status(r, 200, "make B a root");
    assert_true(json_is_null(json_object_get(r->json, "parent_id")));
    http_res_free(r);
    long long got[MAX_IDS];
    size_t n = walk("parent=null&limit=100", got, MAX_IDS, NULL);
    assert_true(contains(got, n, b));
    /* now A under B is fine (B no longer below A) */
    r = patch_category(a, json_body("{s:I}", "parent_id", (json_int_t)b));
    expect_status(r, 200, "move A under B");
    assert_int_equal(jint(r->json, "parent_id"), b);
    http_res_free(r);
    /* and B under C is a loop again: B -> A -> C */
    expect_problem(patch_category(b, json_body("{s:I}", "parent_id", (json_int_t)c)), 422,
                   "parent_id");
}

/* ---- delete ---------------------------------------------------------------------- */

static void test_delete_rules(void **state) {
    (void)state;
    long long parent = make_category("Delete Parent", NULL, 0);
    long long child = make_category("Delete Child", NULL, parent);
    struct http_res *r;
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", parent);
    r = call_h("DELETE", path, staff_token, NULL, NULL);
    assert_problem(r, 409, NULL);
    assert_string_equal(jstr(r->json, "title"), "Conflict");
    http_res_free(r);
    assert_int_equal(delete_category(child), 204);
    assert_int_equal(delete_category(parent), 204);
    r = call_h("GET", path, NULL, NULL, NULL);
    expect_problem(r, 404, NULL);
    assert_int_equal(delete_category(parent), 404);
    assert_int_equal(delete_category(999999), 404);
    expect_problem(call_h("DELETE", CATEGORIES "/no-such-cat", staff_token, NULL, NULL), 404, NULL);
    snprintf(path, sizeof path, CATEGORIES "/%lld", child);
    expect_problem(call_h("DELETE", path, customer_token, NULL, NULL), 403, NULL);
    expect_problem(call_h("DELETE", path, NULL, NULL, NULL), 401, NULL);

    /* live products block, active or not */
    long long active = make_category("Has Active Product", NULL, 0);
    long long pa = make_product("DEL-ACTIVE", "Delete Active Product", active, true);
    assert_int_equal(delete_category(active), 409);
    long long inactive = make_category("Has Inactive Product", NULL, 0);
    long long pi = make_product("DEL-INACTIVE", "Delete Inactive Product", inactive, false);
    assert_int_equal(delete_category(inactive), 409);
    /* a soft-deleted product does not */
    char ppath[64];
    snprintf(ppath, sizeof ppath, PRODUCTS "/%lld", pi);
    http_res_free(http_expect("DELETE", ppath, staff_token, NULL, 204));
    assert_int_equal(delete_category(inactive), 204);
    char *kept = harness_sql_value(&server, "SELECT count(*) FROM products WHERE id = %lld", pi);
    assert_string_equal(kept, "1");
    free(kept);
    snprintf(ppath, sizeof ppath, PRODUCTS "/%lld", pa);
    http_res_free(http_expect("DELETE", ppath, staff_token, NULL, 204));
    assert_int_equal(delete_category(active), 204);
}

static void test_delete_by_slug_path(void **state) {
    (void)state;
    make_category("Delete By Slug", "delete-by-slug", 0);
    struct http_res *r = call_h("DELETE", CATEGORIES "/delete-by-slug", staff_token, NULL, NULL);
    expect_status(r, 204, "delete by slug");
    http_res_free(r);
    expect_problem(get_category("delete-by-slug"), 404, NULL);
    /* its slug is free again */
    make_category("Delete By Slug", NULL, 0);
    r = get_category("delete-by-slug");
    expect_status(r, 200, "slug reused");
    http_res_free(r);
}

/* ---- embedded in products --------------------------------------------------------- */

static void test_rename_shows_in_products(void **state) {
    (void)state;
    long long cat = make_category("Embed Before", "embed-cat", 0);
    long long pid = make_product("EMBED-1", "Embedded Product", cat, true);
    char ppath[64], lpath[128];
    snprintf(ppath, sizeof ppath, PRODUCTS "/%lld", pid);
    snprintf(lpath, sizeof lpath, PRODUCTS "?category=%lld", cat);
    struct http_res *before = call_h("GET", ppath, NULL, NULL, NULL);
    expect_status(before, 200, "product before");
    json_t *embedded = json_object_get(before->json, "category");
    assert_int_equal(json_object_size(embedded), 3);
    assert_int_equal(jint(embedded, "id"), cat);
    assert_string_equal(jstr(embedded, "name"), "Embed Before");
    assert_string_equal(jstr(embedded, "slug"), "embed-cat");
    struct http_res *list = call_h("GET", lpath, NULL, NULL, NULL);
    expect_status(list, 200, "list before");
    http_res_free(list);
    const char *old_etag = http_header(before, "ETag");
    assert_non_null(old_etag);

    struct http_res *r = patch_category(cat, json_body("{s:s}", "name", "Embed After"));
    expect_status(r, 200, "rename");
    http_res_free(r);

    const char *readers[] = {NULL, customer_token, staff_token};
    for (size_t i = 0; i < 3; i++) {
        r = call_h("GET", ppath, readers[i], NULL, NULL);
        expect_status(r, 200, "product after");
        embedded = json_object_get(r->json, "category");
        assert_string_equal(jstr(embedded, "name"), "Embed After");
        assert_string_equal(jstr(embedded, "slug"), "embed-cat");
        assert_non_null(http_header(r, "ETag"));
        assert_string_not_equal(http_header(r, "ETag"), old_etag);
        http_res_free(r);
        r = call_h("GET", lpath, readers[i], NULL, NULL);
        expect_status(r, 200, "list after");
        json_t *items = json_object_get(r->json, "items");
        assert_int_equal(json_array_size(items), 1);
        embedded = json_object_get(json_array_get(items, 0), "category");
        assert_string_equal(jstr(embedded, "name"), "Embed After");
        http_res_free(r);
        r = call_h("GET", PRODUCTS "?category=embed-cat", readers[i], NULL, NULL);
        expect_status(r, 200, "list by slug after");
        items = json_object_get(r->json, "items");
        assert_int_equal(json_array_size(items), 1);
        embedded = json_object_get(json_array_get(items, 0), "category");
        assert_string_equal(jstr(embedded, "name"), "Embed After");
        http_res_free(r);
    }
    /* If-None-Match with the old tag no longer matches */
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", old_etag);
    r = call_h("GET", ppath, NULL, NULL, inm);
    expect_status(r, 200, "old tag");
    http_res_free(r);
    http_res_free(before);
}

/* ---- concurrency ------------------------------------------------------------------ */

static long racing_create(int i, void *ctx) {
    (void)i;
    const char *name = ctx;
    char *body = json_body("{s:s}", "name", name);
    struct http_res *r = call_h("POST", CATEGORIES, staff_token, body, NULL);
    free(body);
    long status = r->status;
    if (status != 201)
        fprintf(stderr, "racing POST %s gave %ld: %s\n", name, status, r->body ? r->body : "");
    http_res_free(r);
    return status;
}

/* Concurrent creates whose names derive the same slug all succeed: a
 * derived slug is made unique with a suffix, never a 409. */
static void test_concurrent_creates_derive_distinct_slugs(void **state) {
    (void)state;
    char name[64];
    for (int round = 0; round < 10; round++) {
        snprintf(name, sizeof name, "Racing Shelf %d", round);
        long statuses[8];
        harness_race(8, racing_create, name, statuses);
        int created = harness_count_status(statuses, 8, 201);
        if (created != 8)
            fprintf(stderr, "round %d: %d of 8 concurrent creates of '%s' succeeded\n", round,
                    created, name);
        assert_int_equal(created, 8);
    }
    char *n =
        harness_sql_value(&server, "SELECT count(*) || '|' || count(DISTINCT slug) FROM categories"
                                   " WHERE name LIKE 'Racing Shelf %%'");
    assert_string_equal(n, "80|80");
    free(n);
}

struct move_race {
    long long a, b;
};

static long racing_move(int i, void *ctx) {
    struct move_race *m = ctx;
    long long id = i == 0 ? m->a : m->b, parent = i == 0 ? m->b : m->a;
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    char *body = json_body("{s:I}", "parent_id", (json_int_t)parent);
    struct http_res *r = call_h("PATCH", path, staff_token, body, NULL);
    free(body);
    long status = r->status;
    http_res_free(r);
    return status;
}

/* Two concurrent moves that together would close a loop: one wins. */
static void test_concurrent_moves_cannot_make_a_cycle(void **state) {
    (void)state;
    for (int round = 0; round < 5; round++) {
        char name[64];
        struct move_race m;
        snprintf(name, sizeof name, "Move Race A%d", round);
        m.a = make_category(name, NULL, 0);
        snprintf(name, sizeof name, "Move Race B%d", round);
        m.b = make_category(name, NULL, 0);
        long statuses[2];
        harness_race(2, racing_move, &m, statuses);
        assert_int_equal(harness_count_status(statuses, 2, 200), 1);
        assert_int_equal(harness_count_status(statuses, 2, 422), 1);
        char *roots = harness_sql_value(&server,
                                        "SELECT count(*) FROM categories WHERE id IN (%lld, %lld)"
                                        " AND parent_id IS NULL",
                                        m.a, m.b);
        assert_string_equal(roots, "1");
        free(roots);
    }
}

/* PATCH of a category that does not exist: 404, and nothing else
 * happens. (Kept apart, near the end: a sanitized server that reads
 * uninitialised input here aborts.) */
/* fn(arg) on a thread of its own while a transaction of the test's, begun
 * with tx_sql, holds what it needs; the transaction commits once waiting
 * (a count of pg_stat_activity) says the request waits for it. */
static void run_against_held_tx(const char *tx_sql, const char *waiting, void *(*fn)(void *),
                                void *arg) {
    PGconn *tx = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(tx), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    assert_true(harness_pg_exec(tx, tx_sql));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE %s AND datname = current_database()",
             waiting);
    assert_true(harness_pg_wait_nonzero(watch, sql));
    assert_true(harness_pg_exec(tx, "COMMIT"));
    pthread_join(t, NULL);
    PQfinish(tx);
    PQfinish(watch);
}

struct racing_patch {
    char path[64];
    char *body;
    long status;
};

static void *send_patch(void *arg) {
    struct racing_patch *p = arg;
    struct http_res *r = call("PATCH", p->path, staff_token, p->body);
    p->status = r ? r->status : -1;
    http_res_free(r);
    return NULL;
}

/* A PATCH whose category is deleted between its lookup and its write
 * answers 404: it read the row it did not get back (the process died).
 * The delete commits while the PATCH waits for the tree's lock. */
static void test_a_patch_racing_a_delete_is_404(void **state) {
    (void)state;
    long long parent = make_category("Race parent", NULL, 0);
    long long gone = make_category("Race gone", NULL, 0);
    char sql[160];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(7350082); DELETE FROM categories WHERE id = %lld",
             gone);
    struct racing_patch p = {.status = 0};
    snprintf(p.path, sizeof p.path, CATEGORIES "/%lld", gone);
    char body[64];
    snprintf(body, sizeof body, "{\"parent_id\":%lld}", parent);
    p.body = body;
    run_against_held_tx(sql, "wait_event = 'advisory'", send_patch, &p);
    assert_int_equal(p.status, 404);
    struct http_res *r = call_h("GET", "/healthz", NULL, NULL, NULL);
    expect_status(r, 200, "server still up");
    http_res_free(r);
}

struct racing_delete {
    char path[64];
    struct http_res *res;
};

static void *send_delete(void *arg) {
    struct racing_delete *d = arg;
    d->res = call("DELETE", d->path, staff_token, NULL);
    return NULL;
}

/* A delete that finds no child, then waits while a child's insert holds
 * the row, is refused by the foreign key once the child commits: a 409
 * naming `id`, as when the child was there first (it was a 409 without
 * `errors`). */
static void test_a_delete_racing_a_child_is_409_on_id(void **state) {
    (void)state;
    long long parent = make_category("Race mother", NULL, 0);
    char sql[200];
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO categories (name, slug, parent_id)"
             " VALUES ('Race child', 'race-child', %lld)",
             parent);
    struct racing_delete d = {.res = NULL};
    snprintf(d.path, sizeof d.path, CATEGORIES "/%lld", parent);
    run_against_held_tx(sql, "wait_event_type = 'Lock'", send_delete, &d);
    expect_problem(d.res, 409, "id");
}

struct racing_create {
    const char *name;
    struct http_res *res;
};

static void *send_create(void *arg) {
    struct racing_create *c = arg;
    c->res = call_owned("POST", CATEGORIES, staff_token, json_body("{s:s}", "name", c->name));
    return NULL;
}

/* One base's suffixed candidate is another's base: a create deriving
 * race-pair-2 from "Race pair" (race-pair taken) while "Race pair 2"'s
 * insert of race-pair-2 is not yet committed waits for it on the unique
 * index, then derives again: 201 with race-pair-3 (it was a 409 on slug
 * it never gave). */
static void test_a_derived_slug_taken_meanwhile_is_derived_again(void **state) {
    (void)state;
    make_category("Race pair", NULL, 0);
    struct racing_create c = {"Race pair", NULL};
    run_against_held_tx("BEGIN; INSERT INTO categories (name, slug)"
                        " VALUES ('Race pair 2', 'race-pair-2')",
                        "wait_event_type = 'Lock'", send_create, &c);
    expect_status(c.res, 201, "derived again");
    assert_string_equal(json_string_value(json_object_get(c.res->json, "slug")), "race-pair-3");
    http_res_free(c.res);
}

struct held_category {
    long long id;
    char body[128];
    char request_id[64];
    long status;
};

static void *send_held_patch(void *arg) {
    struct held_category *h = arg;
    char path[64], header[96];
    snprintf(path, sizeof path, CATEGORIES "/%lld", h->id);
    snprintf(header, sizeof header, "X-Request-Id: %s", h->request_id);
    struct http_res *r = call_h("PATCH", path, staff_token, h->body, header);
    h->status = r ? r->status : -1;
    http_res_free(r);
    return NULL;
}

/* PATCH h while tx holds what a product's write setting the category
 * holds after its foreign key check (the row, key share); once the PATCH
 * is done or waits, tx takes what the write's facet counts take next (the
 * tree lock, shared). True when tx got it: no deadlock. */
static bool patch_against_a_product_write(struct held_category *h) {
    PGconn *tx = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(tx), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT xmin::text FROM categories WHERE id = %lld", h->id);
    char *xmin = harness_sql_value(&server, "%s", sql);
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM categories WHERE id = %lld FOR KEY SHARE",
             h->id);
    assert_true(harness_pg_exec(tx, sql));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_held_patch, h), 0);
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM categories WHERE id = %lld AND xmin::text <> '%s')"
             " + (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
             " WHERE NOT l.granted AND a.application_name = 'nexus'"
             " AND a.datname = current_database())",
             h->id, xmin);
    free(xmin);
    assert_true(harness_pg_wait_nonzero(watch, sql));
    bool got = harness_pg_exec(tx, "SELECT pg_advisory_xact_lock_shared("
                                   "hashtext('nexus_facet_counts_tree'))");
    assert_true(harness_pg_exec(tx, got ? "COMMIT" : "ROLLBACK"));
    pthread_join(t, NULL);
    PQfinish(tx);
    PQfinish(watch);
    return got;
}

/* A product's write that sets a category locks its row (key share, the
 * foreign key's check), then the facet counts' tree lock (shared). A
 * category's PATCH (a rename, a new slug, a move, or both) used to take
 * the tree lock first, then wait for its row (the slug, a key, always
 * rewritten): each waited for the other, a deadlock one of them lost,
 * retried, or answered 503 once it lost four times. A PATCH now takes the
 * tree lock only to move, after its own row, and locks the row for
 * a key change only when the slug changes. */
static void test_a_patch_never_deadlocks_with_a_product_write(void **state) {
    (void)state;
    long long parent = make_category("Held parent", NULL, 0);
    int run = (int)getpid(); /* slugs and log ids of this run's own */
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "Held category %d", i);
        struct held_category h = {.id = make_category(name, NULL, 0)};
        if (i == 0)
            snprintf(h.body, sizeof h.body, "{\"name\":\"Held renamed\"}");
        else if (i == 1)
            snprintf(h.body, sizeof h.body, "{\"slug\":\"held-slug-%d\"}", run);
        else if (i == 2)
            snprintf(h.body, sizeof h.body, "{\"parent_id\":%lld}", parent);
        else
            snprintf(h.body, sizeof h.body, "{\"parent_id\":%lld,\"slug\":\"held-moved-%d\"}",
                     parent, run);
        snprintf(h.request_id, sizeof h.request_id, "held-category-%lld-%d", h.id, run);
        if (!patch_against_a_product_write(&h))
            fail_msg("%s: the product's write lost a deadlock", h.body);
        if (h.status != 200)
            fail_msg("%s: %ld", h.body, h.status);
        if (harness_log_count(&server, "db.retry", h.request_id) != 0)
            fail_msg("%s: the PATCH lost a deadlock", h.body);
    }
}

static void test_patch_unknown_category_is_404(void **state) {
    (void)state;
    expect_problem(call_owned("PATCH", CATEGORIES "/999999", staff_token,
                              json_body("{s:s}", "name", "Nobody")),
                   404, NULL);
    expect_problem(call_owned("PATCH", CATEGORIES "/no-such-cat", staff_token,
                              json_body("{s:s}", "name", "N")),
                   404, NULL);
    expect_problem(
        call_owned("PATCH", CATEGORIES "/999999", staff_token, json_body("{s:i}", "parent_id", 1)),
        404, NULL);
    struct http_res *r = call_h("GET", "/healthz", NULL, NULL, NULL);
    expect_status(r, 200, "server still up");
    http_res_free(r);
}

/* Paging by name must work for the longest names, whatever their script:
 * 200 characters of a 3-byte UTF-8 character are 600 bytes. */
static void test_paging_by_name_through_long_non_ascii_names(void **state) {
    (void)state;
    long long root = make_category("Long Names Root", "long-names-root", 0);
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        char name[1024] = "";
        for (int k = 0; k < 199; k++)
            strcat(name, "€");
        char tail[2] = {(char)('a' + i), '\0'};
        strcat(name, tail);
        char slug[32];
        snprintf(slug, sizeof slug, "long-name-%d", i);
        ids[i] = make_category(name, slug, root);
    }
    char q[128];
    snprintf(q, sizeof q, "parent=%lld&limit=1", root);
    long long got[MAX_IDS];
    size_t n = walk(q, got, MAX_IDS, NULL);
    assert_same_ids(got, n, ids, 3);
    snprintf(q, sizeof q, "parent=%lld&limit=1&sort=-name", root);
    n = walk(q, got, MAX_IDS, NULL);
    long long rev[3] = {ids[2], ids[1], ids[0]};
    assert_same_ids(got, n, rev, 3);
}

/* ---- ETag and If-Match ---------------------------------------------------------- */

static void assert_strong_etag(const char *tag) {
    assert_non_null(tag);
    assert_int_equal(strlen(tag), 34); /* a quoted 32-digit tag, no W/ */
    assert_int_equal(tag[0], '"');
    assert_int_equal(tag[33], '"');
}

static char *if_match(const char *tag) {
    assert_non_null(tag);
    char *h = malloc(strlen(tag) + 16);
    assert_non_null(h);
    sprintf(h, "If-Match: %s", tag);
    return h;
}

/* A category's reads and writes carry its ETag, the cached read too, and
 * a GET with If-None-Match listing it is a 304, from the cache as well. */
static void test_category_etag_on_reads_and_writes(void **state) {
    (void)state;
    struct http_res *created = post_category(json_body("{s:s}", "name", "Tagged Shelf"));
    assert_strong_etag(http_header(created, "ETag"));
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", jint(created->json, "id"));
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "GET after POST");
    assert_string_equal(http_header(r, "ETag"), http_header(created, "ETag"));
    http_res_free(r);
    r = get_category("tagged-shelf"); /* by slug: the same representation */
    assert_string_equal(http_header(r, "ETag"), http_header(created, "ETag"));
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    assert_string_equal(http_header(r, "ETag"), http_header(created, "ETag"));
    http_res_free(r);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", http_header(created, "ETag"));
    r = call_h("GET", path, NULL, NULL, inm);
    expect_status(r, 304, "GET with the current tag");
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    assert_string_equal(http_header(r, "ETag"), http_header(created, "ETag"));
    http_res_free(r);
    /* a PATCH answers with the new tag, which a GET shows */
    r = call_owned("PATCH", path, staff_token, json_body("{s:s}", "description", "Pine"));
    expect_status(r, 200, "PATCH");
    assert_strong_etag(http_header(r, "ETag"));
    assert_string_not_equal(http_header(r, "ETag"), http_header(created, "ETag"));
    struct http_res *got = call("GET", path, NULL, NULL);
    assert_string_equal(http_header(got, "ETag"), http_header(r, "ETag"));
    http_res_free(got);
    http_res_free(r);
    r = call_h("GET", path, NULL, NULL, inm);
    expect_status(r, 200, "GET with the old tag");
    http_res_free(r);
    http_res_free(created);
}

/* If-Match on PATCH and DELETE: the current tag (or "*") lets the write
 * through, any other tag is a 412 and changes nothing, a body at fault
 * included; a weak tag never matches, and the 412 says why. */
static void test_category_if_match_on_patch_and_delete(void **state) {
    (void)state;
    struct http_res *created = post_category(json_body("{s:s}", "name", "Guarded Shelf"));
    long long id = jint(created->json, "id");
    long long parent = make_category("Guarded Parent", NULL, 0);
    char path[64];
    snprintf(path, sizeof path, CATEGORIES "/%lld", id);
    char *first = if_match(http_header(created, "ETag"));
    struct http_res *r =
        call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "description", "One"), first);
    expect_status(r, 200, "PATCH with the POST's tag");
    char *current = if_match(http_header(r, "ETag"));
    http_res_free(r);
    /* stale, foreign, malformed: nothing changes */
    const char *refused[] = {first, "If-Match: \"bogus\"", "If-Match: **"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "description", "Two"),
                         refused[i]);
        assert_problem(r, 412, NULL);
        assert_null(json_object_get(r->json, "errors"));
        http_res_free(r);
        expect_problem(call_owned_h("PATCH", path, staff_token,
                                    json_body("{s:i}", "parent_id", parent), refused[i]),
                       412, NULL);
        expect_problem(call_h("DELETE", path, staff_token, NULL, refused[i]), 412, NULL);
    }
    r = call_h("PATCH", path, staff_token, "{\"description\": \"Two\"}", first);
    assert_problem(r, 412, NULL);
    assert_non_null(strstr(jstr(r->json, "detail"), "not one of its ETags"));
    http_res_free(r);
    char weak[128];
    snprintf(weak, sizeof weak, "If-Match: W/%s", current + strlen("If-Match: "));
    r = call_h("PATCH", path, staff_token, "{\"description\": \"Two\"}", weak);
    assert_problem(r, 412, NULL);
    assert_string_equal(jstr(r->json, "detail"),
                        "If-Match needs a strong ETag; W/ tags never match");
    http_res_free(r);
    /* a precondition is judged before the body */
    expect_problem(call_h("PATCH", path, staff_token, "{\"name\": \"\"}", first), 412, NULL);
    expect_problem(call_h("PATCH", path, staff_token, "{\"name\": \"\"}", current), 422, "name");
    expect_problem(call_h("PATCH", path, staff_token, "{}", "If-None-Match: *"), 412, NULL);
    expect_sql("One", "SELECT description FROM categories WHERE id = %lld", id);
    /* the current tag, in a list, and "*" */
    char listed[256];
    snprintf(listed, sizeof listed, "If-Match: \"old\", %s", current + strlen("If-Match: "));
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "parent_id", parent), listed);
    expect_status(r, 200, "a move with the current tag in a list");
    free(current);
    current = if_match(http_header(r, "ETag"));
    http_res_free(r);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "description", "Three"),
                     "If-Match: *");
    expect_status(r, 200, "PATCH with *");
    http_res_free(r);
    expect_problem(call_h("DELETE", path, staff_token, NULL, current), 412, NULL);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "still there after a stale DELETE");
    free(current);
    current = if_match(http_header(r, "ETag"));
    http_res_free(r);
    r = call_h("DELETE", path, staff_token, NULL, current);
    expect_status(r, 204, "DELETE with the current tag");
    http_res_free(r);
    expect_problem(call("GET", path, NULL, NULL), 404, NULL);
    free(first);
    free(current);
    http_res_free(created);
}

/* Eight PATCHes with one If-Match: exactly one wins. */
static void test_concurrent_category_patches_with_the_same_if_match(void **state) {
    (void)state;
    for (int round = 0; round < 3; round++) {
        char name[64], path[64], want[32];
        snprintf(name, sizeof name, "Raced Shelf %d", round);
        struct http_res *created = post_category(json_body("{s:s}", "name", name));
        long long id = jint(created->json, "id");
        char *h = if_match(http_header(created, "ETag"));
        snprintf(path, sizeof path, CATEGORIES "/%lld", id);
        int winner = harness_race_patches_one_wins(8, path, staff_token, "description", h);
        snprintf(want, sizeof want, "racer %d", winner);
        expect_sql(want, "SELECT description FROM categories WHERE id = %lld", id);
        free(h);
        http_res_free(created);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_answers_201_with_location_and_exact_json),
        cmocka_unit_test(test_create_needs_staff),
        cmocka_unit_test(test_slug_is_derived_from_the_name),
        cmocka_unit_test(test_derived_slug_clash_gets_a_numeric_suffix),
        cmocka_unit_test(test_long_name_gives_a_slug_cut_at_a_hyphen),
        cmocka_unit_test(test_explicit_slug_that_is_taken_is_409),
        cmocka_unit_test(test_invalid_explicit_slugs_are_422),
        cmocka_unit_test(test_name_without_a_usable_slug_needs_one),
        cmocka_unit_test(test_name_and_description_lengths),
        cmocka_unit_test(test_unknown_or_bad_parent_is_422),
        cmocka_unit_test(test_unknown_and_read_only_fields_are_422),
        cmocka_unit_test(test_body_framing_errors),
        cmocka_unit_test(test_get_by_id_and_by_slug),
        cmocka_unit_test(test_get_unknown_is_404),
        cmocka_unit_test(test_list_envelope_and_default_sort_by_name_case_insensitive),
        cmocka_unit_test(test_list_sorts),
        cmocka_unit_test(test_list_parent_filter),
        cmocka_unit_test(test_wrong_method_is_405_before_authentication),
        cmocka_unit_test(test_long_well_formed_parent_is_an_empty_list),
        cmocka_unit_test(test_paging_walks_every_category_once_with_total),
        cmocka_unit_test(test_list_limit_and_cursor_rules),
        cmocka_unit_test(test_patch_rename_keeps_the_slug),
        cmocka_unit_test(test_patch_validation),
        cmocka_unit_test(test_empty_patch_changes_nothing),
        cmocka_unit_test(test_patch_parent_rules),
        cmocka_unit_test(test_delete_rules),
        cmocka_unit_test(test_delete_by_slug_path),
        cmocka_unit_test(test_rename_shows_in_products),
        cmocka_unit_test(test_concurrent_creates_derive_distinct_slugs),
        cmocka_unit_test(test_concurrent_moves_cannot_make_a_cycle),
        cmocka_unit_test(test_patch_unknown_category_is_404),
        cmocka_unit_test(test_a_patch_racing_a_delete_is_404),
        cmocka_unit_test(test_a_delete_racing_a_child_is_409_on_id),
        cmocka_unit_test(test_a_derived_slug_taken_meanwhile_is_derived_again),
        cmocka_unit_test(test_a_patch_never_deadlocks_with_a_product_write),
        /* last: with the bug it reports, the server aborts */
        cmocka_unit_test(test_paging_by_name_through_long_non_ascii_names),
        cmocka_unit_test(test_category_etag_on_reads_and_writes),
        cmocka_unit_test(test_category_if_match_on_patch_and_delete),
        cmocka_unit_test(test_concurrent_category_patches_with_the_same_if_match),
    };
    return harness_run_group("categories", tests, sizeof tests / sizeof tests[0], start, stop);
}
