/*
 * test_products.c -- the product item endpoints: create (validation,
 * money, currency, slugs, conflicts), get (ETag, If-None-Match,
 * visibility), PUT and PATCH (defaults, If-Match, concurrent writers),
 * soft delete, path ids and SQL-looking input.
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <regex.h>
#include <fnmatch.h>
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

#define CATEGORIES "/api/v1/categories"
#define PRODUCTS   "/api/v1/products"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;
static long long category_id;       /* "Products Home" */
static long long other_category_id; /* "Products Away" */

/* ---- helpers ----------------------------------------------------------------- */

#define expect_sql(...) harness_expect_sql(&server, __VA_ARGS__)

static bool matches(const char *pattern, const char *s) {
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

/* A quoted strong entity tag. */
static void assert_etag(const char *tag) {
    assert_non_null(tag);
    if (!matches("^\"[!#-~]+\"$", tag))
        fprintf(stderr, "not a quoted strong ETag: %s\n", tag);
    assert_true(matches("^\"[!#-~]+\"$", tag));
}

/* Every product field, and "variants" on an item (GET, POST, PUT, PATCH
 * answers) and nothing else. */
static void assert_product_json(json_t *p) {
    static const char *const keys[] = {"id",          "sku",         "name",     "slug",
                                       "description", "price",       "currency", "stock",
                                       "in_stock",    "is_active",   "category", "created_at",
                                       "updated_at",  "price_range", "options",  "variant_count",
                                       "attributes",  "images",      "variants"};
    assert_true(json_is_object(p));
    for (size_t i = 0; i < 19; i++) {
        if (!json_object_get(p, keys[i]))
            fprintf(stderr, "product JSON lacks '%s'\n", keys[i]);
        assert_non_null(json_object_get(p, keys[i]));
    }
    if (json_object_size(p) != 19) {
        char *s = json_dumps(p, JSON_COMPACT);
        fprintf(stderr, "product JSON has extra keys: %s\n", s);
        free(s);
    }
    assert_int_equal(json_object_size(p), 19);
    assert_true(json_is_array(json_object_get(p, "variants")));
    assert_true(jint(p, "variant_count") >= 0);
    assert_true(json_is_object(json_object_get(p, "attributes")));
    assert_true(json_is_array(json_object_get(p, "images")));
    assert_true(jint(p, "id") > 0);
    assert_true(matches("^[A-Za-z0-9._-]{1,64}$", jstr(p, "sku")));
    jstr(p, "name");
    assert_true(matches("^[a-z0-9]+(-[a-z0-9]+)*$", jstr(p, "slug")));
    assert_true(json_is_string(json_object_get(p, "description")));
    assert_true(matches("^[0-9]+\\.[0-9]{2}$", jstr(p, "price")));
    assert_true(matches("^[A-Z]{3}$", jstr(p, "currency")));
    long long stock = jint(p, "stock");
    assert_true(stock >= 0);
    assert_true(json_is_boolean(json_object_get(p, "in_stock")));
    assert_int_equal(json_is_true(json_object_get(p, "in_stock")), stock > 0);
    assert_true(json_is_boolean(json_object_get(p, "is_active")));
    json_t *c = json_object_get(p, "category");
    assert_true(json_is_null(c) || json_is_object(c));
    if (json_is_object(c)) {
        assert_int_equal(json_object_size(c), 3);
        assert_true(jint(c, "id") > 0);
        jstr(c, "name");
        jstr(c, "slug");
    }
    assert_timestamp(jstr(p, "created_at"));
    assert_timestamp(jstr(p, "updated_at"));
}

static long long make_category(const char *name, const char *slug) {
    struct http_res *r = call_owned_h("POST", CATEGORIES, staff_token,
                                      json_body("{s:s, s:s}", "name", name, "slug", slug), NULL);
    expect_status(r, 201, "create category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

/* POST a product body as staff; 201 asserted. */
static struct http_res *post_product(char *body) {
    struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token, body, NULL);
    expect_status(r, 201, "create product");
    assert_product_json(r->json);
    assert_etag(http_header(r, "ETag"));
    return r;
}

/* A minimal valid product. */
static struct http_res *post_simple(const char *sku, const char *name) {
    return post_product(
        json_body("{s:s, s:s, s:s, s:i}", "sku", sku, "name", name, "price", "10", "stock", 5));
}

static long long make_simple(const char *sku, const char *name) {
    struct http_res *r = post_simple(sku, name);
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static void product_path(char *out, size_t cap, long long id) {
    snprintf(out, cap, PRODUCTS "/%lld", id);
}

static struct http_res *get_product(long long id, const char *token, const char *extra) {
    char path[64];
    product_path(path, sizeof path, id);
    return call_h("GET", path, token, NULL, extra);
}

/* The product's current ETag as staff sees it. Owned. */
static char *current_etag(long long id) {
    struct http_res *r = get_product(id, staff_token, NULL);
    expect_status(r, 200, "get for etag");
    char *tag = take(http_header(r, "ETag"));
    http_res_free(r);
    return tag;
}

/* POST an invalid body; expect 422 naming field. */
static void expect_create_422(char *body, const char *field) {
    struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token, body, NULL);
    if (r->status != 422)
        fprintf(stderr, "expected 422 on %s, got %ld: %s\n", field, r->status,
                r->body ? r->body : "");
    assert_problem(r, 422, field);
    assert_string_equal(jstr(r->json, "title"), "Unprocessable Content");
    http_res_free(r);
}

/* A valid product body with one field replaced (value NULL: removed). */
static char *body_with(const char *key, json_t *value) {
    json_t *b = json_pack("{s:s, s:s, s:s, s:i}", "sku", "BODY-WITH", "name", "Body With", "price",
                          "1.00", "stock", 1);
    if (value)
        json_object_set_new(b, key, value);
    else
        json_object_del(b, key);
    return dump(b);
}

static size_t field_count(json_t *errors, const char *field) {
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        n += f && strcmp(f, field) == 0;
    }
    return n;
}

static long long product_rows(void) {
    char *n = harness_sql_value(&server, "SELECT count(*) FROM products");
    long long v = strtoll(n, NULL, 10);
    free(n);
    return v;
}

/* ---- group set-up ---------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    harness_start(&server, "products", NULL);
    harness_staff_and_customer(&server, "prod", &staff_token, &customer_token);
    category_id = make_category("Products Home", "products-home");
    other_category_id = make_category("Products Away", "products-away");
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

static void test_create_with_every_field(void **state) {
    (void)state;
    struct http_res *r = post_product(
        json_body("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:b}", "sku", "FULL-001.a_b", "name",
                  "Full Product", "slug", "full-product-explicit", "description", "Everything set",
                  "price", "19.9", "currency", "eur", "stock", 7, "category_id",
                  (json_int_t)category_id, "is_active", 1));
    long long id = jint(r->json, "id");
    char want[64];
    product_path(want, sizeof want, id);
    assert_non_null(http_header(r, "Location"));
    assert_string_equal(http_header(r, "Location"), want);
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    assert_string_equal(jstr(r->json, "sku"), "FULL-001.a_b");
    assert_string_equal(jstr(r->json, "name"), "Full Product");
    assert_string_equal(jstr(r->json, "slug"), "full-product-explicit");
    assert_string_equal(jstr(r->json, "description"), "Everything set");
    assert_string_equal(jstr(r->json, "price"), "19.90");
    assert_string_equal(jstr(r->json, "currency"), "EUR");
    assert_int_equal(jint(r->json, "stock"), 7);
    assert_true(json_is_true(json_object_get(r->json, "in_stock")));
    assert_true(json_is_true(json_object_get(r->json, "is_active")));
    json_t *c = json_object_get(r->json, "category");
    assert_int_equal(jint(c, "id"), category_id);
    assert_string_equal(jstr(c, "name"), "Products Home");
    assert_string_equal(jstr(c, "slug"), "products-home");
    /* the stored row */
    expect_sql("1990|EUR|7",
               "SELECT price_cents || '|' || currency || '|' || stock FROM products"
               " WHERE id = %lld",
               id);
    /* GET answers the same representation */
    struct http_res *g = get_product(id, NULL, NULL);
    expect_status(g, 200, "get created");
    assert_true(json_equal(g->json, r->json));
    assert_etag(http_header(g, "ETag"));
    http_res_free(g);
    http_res_free(r);
}

static void test_create_defaults(void **state) {
    (void)state;
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:i, s:n}", "sku", "DEFAULTS-1", "name",
                               "Defaults Only", "price", "5", "stock", 0, "description"));
    assert_string_equal(jstr(r->json, "slug"), "defaults-only");
    assert_string_equal(jstr(r->json, "description"), "");
    assert_string_equal(jstr(r->json, "price"), "5.00");
    assert_string_equal(jstr(r->json, "currency"), "USD");
    assert_int_equal(jint(r->json, "stock"), 0);
    assert_true(json_is_false(json_object_get(r->json, "in_stock")));
    assert_true(json_is_true(json_object_get(r->json, "is_active")));
    assert_true(json_is_null(json_object_get(r->json, "category")));
    http_res_free(r);
    r = post_product(json_body("{s:s, s:s, s:s, s:i, s:n}", "sku", "DEFAULTS-2", "name",
                               "Null Category", "price", "0", "stock", 1, "category_id"));
    assert_true(json_is_null(json_object_get(r->json, "category")));
    assert_string_equal(jstr(r->json, "price"), "0.00");
    http_res_free(r);
}

static void test_price_is_normalised_to_two_decimals(void **state) {
    (void)state;
    const char *in[] = {"5", "19.9", "19.99", "0.5", "0.01", "99999999.99", "20.00"};
    const char *out[] = {"5.00", "19.90", "19.99", "0.50", "0.01", "99999999.99", "20.00"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "PRICE-%zu", i);
        struct http_res *r = post_product(
            json_body("{s:s, s:s, s:s, s:i}", "sku", sku, "name", sku, "price", in[i], "stock", 1));
        if (strcmp(jstr(r->json, "price"), out[i]) != 0)
            fprintf(stderr, "price %s gave %s\n", in[i], jstr(r->json, "price"));
        assert_string_equal(jstr(r->json, "price"), out[i]);
        http_res_free(r);
    }
}

static void test_bad_prices_are_422(void **state) {
    (void)state;
    long long before = product_rows();
    expect_create_422(body_with("price", json_integer(5)), "price");
    expect_create_422(body_with("price", json_real(19.99)), "price");
    expect_create_422(body_with("price", json_null()), "price");
    expect_create_422(body_with("price", json_true()), "price");
    const char *bad[] = {"1.999", "12,50", "-1",  "NaN", "1e2",       " 5",
                         "5 ",    "",      "abc", "+5",  "100000000", "0x10",
                         "Inf",   "1.2.3", "5.",  "$5",  "5.0.0",     "99999999.999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token,
                                          body_with("price", json_string(bad[i])), NULL);
        if (r->status != 422)
            fprintf(stderr, "price \"%s\" gave %ld: %s\n", bad[i], r->status,
                    r->body ? r->body : "");
        expect_problem(r, 422, "price");
    }
    assert_int_equal(product_rows(), before);
}

static void test_currency(void **state) {
    (void)state;
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:i, s:s}", "sku", "CUR-1", "name",
                               "Currency Lower", "price", "1", "stock", 1, "currency", "eur"));
    assert_string_equal(jstr(r->json, "currency"), "EUR");
    http_res_free(r);
    r = post_product(json_body("{s:s, s:s, s:s, s:i, s:s}", "sku", "CUR-2", "name", "Currency JPY",
                               "price", "1", "stock", 1, "currency", "JPY"));
    assert_string_equal(jstr(r->json, "currency"), "JPY");
    http_res_free(r);
    const char *bad[] = {"QQQ", "EURO", "EU", "", "E1R", "usd ", "ÉUR", "XYZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *e = call_owned_h("POST", PRODUCTS, staff_token,
                                          body_with("currency", json_string(bad[i])), NULL);
        if (e->status != 422)
            fprintf(stderr, "currency \"%s\" gave %ld\n", bad[i], e->status);
        expect_problem(e, 422, "currency");
    }
    expect_create_422(body_with("currency", json_integer(840)), "currency");
    expect_create_422(body_with("currency", json_null()), "currency");
}

static void test_stock(void **state) {
    (void)state;
    expect_create_422(body_with("stock", json_string("5")), "stock");
    expect_create_422(body_with("stock", json_integer(-1)), "stock");
    expect_create_422(body_with("stock", json_real(1.5)), "stock");
    expect_create_422(body_with("stock", json_null()), "stock");
    expect_create_422(body_with("stock", json_integer(4294967296LL)), "stock");
    struct http_res *r = post_product(json_body("{s:s, s:s, s:s, s:i}", "sku", "STOCK-BIG", "name",
                                                "Stock Big", "price", "1", "stock", 2147483647));
    assert_int_equal(jint(r->json, "stock"), 2147483647LL);
    http_res_free(r);
}

static void test_sku_rules(void **state) {
    (void)state;
    char sku65[66], sku64[65];
    memset(sku65, 'S', 65);
    sku65[65] = '\0';
    memset(sku64, 's', 64);
    sku64[64] = '\0';
    const char *bad[] = {"has space", "a/b", "ü", "", "semi;colon", "quote'", sku65, "a+b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token,
                                          body_with("sku", json_string(bad[i])), NULL);
        if (r->status != 422)
            fprintf(stderr, "sku \"%s\" gave %ld\n", bad[i], r->status);
        expect_problem(r, 422, "sku");
    }
    expect_create_422(body_with("sku", json_integer(12)), "sku");
    struct http_res *r = post_product(json_body("{s:s, s:s, s:s, s:i}", "sku", sku64, "name",
                                                "Sku Sixty Four", "price", "1", "stock", 1));
    assert_string_equal(jstr(r->json, "sku"), sku64);
    http_res_free(r);
}

static void test_missing_required_fields_one_entry_each(void **state) {
    (void)state;
    struct http_res *r = call_h("POST", PRODUCTS, staff_token, "{}", NULL);
    assert_problem(r, 422, "sku");
    json_t *errors = json_object_get(r->json, "errors");
    const char *required[] = {"sku", "name", "price", "stock"};
    for (size_t i = 0; i < 4; i++) {
        if (field_count(errors, required[i]) != 1)
            fprintf(stderr, "field %s named %zu times: %s\n", required[i],
                    field_count(errors, required[i]), r->body);
        assert_int_equal(field_count(errors, required[i]), 1);
    }
    assert_int_equal(json_array_size(errors), 4);
    http_res_free(r);
    const char *keys[] = {"sku", "name", "price", "stock"};
    for (size_t i = 0; i < 4; i++) {
        r = call_owned_h("POST", PRODUCTS, staff_token, body_with(keys[i], NULL), NULL);
        assert_problem(r, 422, keys[i]);
        assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
        http_res_free(r);
    }
    /* several bad fields: one entry each */
    r = call_owned_h(
        "POST", PRODUCTS, staff_token,
        json_body("{s:s, s:s, s:i, s:s}", "sku", "bad sku", "name", "", "price", 5, "stock", "x"),
        NULL);
    assert_problem(r, 422, NULL);
    errors = json_object_get(r->json, "errors");
    for (size_t i = 0; i < 4; i++) {
        if (field_count(errors, keys[i]) != 1)
            fprintf(stderr, "field %s named %zu times: %s\n", keys[i], field_count(errors, keys[i]),
                    r->body);
        assert_int_equal(field_count(errors, keys[i]), 1);
    }
    assert_int_equal(json_array_size(errors), 4);
    http_res_free(r);
}

static void test_read_only_and_unknown_fields_are_422(void **state) {
    (void)state;
    long long before = product_rows();
    expect_create_422(body_with("id", json_integer(12345)), "id");
    expect_create_422(body_with("created_at", json_string("2026-01-01T00:00:00Z")), "created_at");
    expect_create_422(body_with("updated_at", json_string("2026-01-01T00:00:00Z")), "updated_at");
    expect_create_422(body_with("in_stock", json_true()), "in_stock");
    expect_create_422(body_with("category", json_pack("{s:i}", "id", 1)), "category");
    expect_create_422(body_with("category", json_null()), "category");
    expect_create_422(body_with("colour", json_string("red")), "colour");
    expect_create_422(body_with("price_cents", json_integer(100)), "price_cents");
    expect_create_422(body_with("deleted_at", json_null()), "deleted_at");
    expect_create_422(body_with("is_active", json_string("true")), "is_active");
    expect_create_422(body_with("description", json_integer(1)), "description");
    assert_int_equal(product_rows(), before);
}

static void test_unknown_category_is_422(void **state) {
    (void)state;
    expect_create_422(body_with("category_id", json_integer(999999)), "category_id");
    expect_create_422(body_with("category_id", json_integer(0)), "category_id");
    expect_create_422(body_with("category_id", json_integer(-3)), "category_id");
    char id[32];
    snprintf(id, sizeof id, "%lld", category_id);
    expect_create_422(body_with("category_id", json_string(id)), "category_id");
    /* named with the other bad fields, one entry per field */
    static const char bad[] = "{\"sku\":\"Q1\",\"name\":\"q\",\"price\":\"abc\",\"stock\":1,"
                              "\"category_id\":999999}";
    struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token, strdup(bad), NULL);
    assert_problem(r, 422, "category_id");
    assert_problem(r, 422, "price");
    http_res_free(r);
    r = call_owned_h("POST", PRODUCTS, staff_token,
                     strdup("{\"sku\":\"CAT-PATCH-1\",\"name\":\"Cat Patch\",\"price\":\"1\","
                            "\"stock\":1}"),
                     NULL);
    expect_status(r, 201, "create");
    char path[64];
    snprintf(path, sizeof path, PRODUCTS "/%lld", jint(r->json, "id"));
    http_res_free(r);
    r = call_owned_h("PATCH", path, staff_token,
                     strdup("{\"price\":\"abc\",\"category_id\":999999}"), NULL);
    assert_problem(r, 422, "category_id");
    assert_problem(r, 422, "price");
    http_res_free(r);
}

static void test_name_slug_and_description_rules(void **state) {
    (void)state;
    char name[202];
    memset(name, 'n', 201);
    name[201] = '\0';
    expect_create_422(body_with("name", json_string(name)), "name");
    expect_create_422(body_with("name", json_string("")), "name");
    expect_create_422(body_with("slug", json_string("Bad Slug")), "slug");
    expect_create_422(body_with("slug", json_string("a--b")), "slug");
    expect_create_422(body_with("slug", json_string("123")), "slug");
    expect_create_422(body_with("name", json_string("!!!")), "slug");
    expect_create_422(body_with("name", json_string("2024")), "slug");
    char *desc = malloc(10002);
    assert_non_null(desc);
    memset(desc, 'd', 10001);
    desc[10001] = '\0';
    expect_create_422(body_with("description", json_string(desc)), "description");
    free(desc);
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "YEAR-2024", "name", "2024",
                               "slug", "year-2024", "price", "1", "stock", 1));
    assert_string_equal(jstr(r->json, "slug"), "year-2024");
    http_res_free(r);
    r = post_simple("CREME-1", "Crème brûlée");
    assert_string_equal(jstr(r->json, "slug"), "cr-me-br-l-e");
    assert_string_equal(jstr(r->json, "name"), "Crème brûlée");
    http_res_free(r);
}

/* Products named "Twin Lamp" from..to: each derives twin-lamp-<i>. */
static void twin_lamps(int from, int to) {
    for (int i = from; i <= to; i++) {
        char sku[32], want_slug[32];
        snprintf(sku, sizeof sku, "TWIN-B%d", i);
        snprintf(want_slug, sizeof want_slug, "twin-lamp-%d", i);
        struct http_res *r = post_simple(sku, "Twin Lamp");
        assert_string_equal(jstr(r->json, "slug"), want_slug);
        http_res_free(r);
    }
}

/* twin-lamp-<n> deleted: the next "Twin Lamp" takes it again. */
static void reuse_freed_twin_lamp(int n) {
    char sku[32], slug[32];
    snprintf(slug, sizeof slug, "twin-lamp-%d", n);
    snprintf(sku, sizeof sku, "TWIN-GAP-%d", n);
    free(harness_sql_value(
        &server, "UPDATE products SET deleted_at = now() WHERE slug = '%s' RETURNING 1", slug));
    struct http_res *r = post_simple(sku, "Twin Lamp");
    assert_string_equal(jstr(r->json, "slug"), slug);
    http_res_free(r);
}

static void test_duplicates_are_409_and_derived_slugs_get_suffixes(void **state) {
    (void)state;
    http_res_free(post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "DUP-1", "name",
                                         "Duplicate Widget", "slug", "dup-explicit", "price", "3",
                                         "stock", 1)));
    long long before = product_rows();
    struct http_res *r = call_owned_h("POST", PRODUCTS, staff_token,
                                      json_body("{s:s, s:s, s:s, s:i}", "sku", "DUP-1", "name",
                                                "Other", "price", "3", "stock", 1),
                                      NULL);
    assert_problem(r, 409, "sku");
    assert_string_equal(jstr(json_array_get(json_object_get(r->json, "errors"), 0), "field"),
                        "sku");
    assert_string_equal(jstr(r->json, "title"), "Conflict");
    http_res_free(r);
    r = call_owned_h("POST", PRODUCTS, staff_token,
                     json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "DUP-2", "name", "Other", "slug",
                               "dup-explicit", "price", "3", "stock", 1),
                     NULL);
    assert_problem(r, 409, "slug");
    assert_string_equal(jstr(json_array_get(json_object_get(r->json, "errors"), 0), "field"),
                        "slug");
    http_res_free(r);
    assert_int_equal(product_rows(), before);
    const char *want[] = {"twin-lamp", "twin-lamp-2", "twin-lamp-3"};
    const char *names[] = {"Twin Lamp", "twin lamp", "TWIN  LAMP!"};
    for (int i = 0; i < 3; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "TWIN-%d", i);
        r = post_simple(sku, names[i]);
        assert_string_equal(jstr(r->json, "slug"), want[i]);
        http_res_free(r);
    }
    /* past the first window of candidates the server asks about, and with
     * a gap: the first free suffix wins; past the second too (suffixes
     * once jumped from -64 to -97, and grew without bound as products came
     * and went) */
    twin_lamps(4, 40);
    reuse_freed_twin_lamp(7);
    twin_lamps(41, 70);
    reuse_freed_twin_lamp(50);
}

static void test_soft_deleted_product_frees_sku_and_slug(void **state) {
    (void)state;
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "REUSE-1", "name", "Reusable",
                               "slug", "reusable", "price", "2", "stock", 1));
    long long old = jint(r->json, "id");
    http_res_free(r);
    char path[64];
    product_path(path, sizeof path, old);
    http_res_free(http_expect("DELETE", path, staff_token, NULL, 204));
    r = post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "REUSE-1", "name",
                               "Reusable Again", "slug", "reusable", "price", "2", "stock", 1));
    assert_true(jint(r->json, "id") != old);
    assert_string_equal(jstr(r->json, "slug"), "reusable");
    http_res_free(r);
    /* and a derived slug does not count the deleted one either */
    long long gone = make_simple("REUSE-2", "Ghost Item");
    product_path(path, sizeof path, gone);
    http_res_free(http_expect("DELETE", path, staff_token, NULL, 204));
    r = post_simple("REUSE-3", "Ghost Item");
    assert_string_equal(jstr(r->json, "slug"), "ghost-item");
    http_res_free(r);
}

static void test_create_needs_staff(void **state) {
    (void)state;
    long long before = product_rows();
    expect_problem(call_owned_h("POST", PRODUCTS, customer_token, body_with("sku", NULL), NULL),
                   403, NULL);
    struct http_res *r = call_owned_h("POST", PRODUCTS, NULL, body_with("name", NULL), NULL);
    assert_problem(r, 401, NULL);
    assert_non_null(http_header(r, "WWW-Authenticate"));
    http_res_free(r);
    assert_int_equal(product_rows(), before);
    /* framing errors come after authorisation */
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff_token);
    const char *plain[] = {auth, "Content-Type: text/plain", NULL};
    const char *b = "{\"sku\":\"X\"}";
    expect_problem(http_request("POST", PRODUCTS, plain, b, strlen(b)), 415, NULL);
    expect_problem(call_h("POST", PRODUCTS, staff_token, "{\"sku\":", NULL), 400, NULL);
    expect_problem(call_h("POST", PRODUCTS, staff_token, "[]", NULL), 400, NULL);
    expect_problem(call_h("POST", PRODUCTS, staff_token, "", NULL), 400, NULL);
    expect_problem(call_h("POST", PRODUCTS, staff_token, "{\"sku\":\"A\",\"sku\":\"B\"}", NULL),
                   400, NULL);
}

/* ---- get and conditional get -------------------------------------------------------- */

static void test_get_has_etag_and_if_none_match_gives_304(void **state) {
    (void)state;
    long long id = make_simple("ETAG-1", "Etag Product");
    struct http_res *r = get_product(id, NULL, NULL);
    expect_status(r, 200, "get");
    assert_product_json(r->json);
    char *tag = take(http_header(r, "ETag"));
    assert_etag(tag);
    http_res_free(r);
    /* stable while nothing changes */
    r = get_product(id, customer_token, NULL);
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);

    char h[512];
    snprintf(h, sizeof h, "If-None-Match: %s", tag);
    r = get_product(id, NULL, h);
    expect_status(r, 304, "If-None-Match");
    assert_int_equal(r->len, 0);
    assert_non_null(http_header(r, "ETag"));
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    snprintf(h, sizeof h, "If-None-Match: \"other-tag\", %s, \"third\"", tag);
    r = get_product(id, NULL, h);
    expect_status(r, 304, "If-None-Match list");
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    snprintf(h, sizeof h, "If-None-Match: W/%s", tag); /* weak comparison */
    r = get_product(id, NULL, h);
    expect_status(r, 304, "If-None-Match weak");
    http_res_free(r);
    r = get_product(id, NULL, "If-None-Match: \"0123456789abcdef\"");
    expect_status(r, 200, "If-None-Match other");
    assert_product_json(r->json);
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    r = get_product(id, NULL, "If-None-Match: \"a\", \"b\"");
    expect_status(r, 200, "If-None-Match others");
    http_res_free(r);
    /* a list header sent on two lines is one list (RFC 9110 5.3) */
    char path[64];
    product_path(path, sizeof path, id);
    snprintf(h, sizeof h, "If-None-Match: %s", tag);
    const char *two_lines[] = {"If-None-Match: \"other-tag\"", h, NULL};
    r = http_request("GET", path, two_lines, NULL, 0);
    expect_status(r, 304, "If-None-Match on two lines");
    http_res_free(r);
    free(tag);
}

static void test_inactive_product_is_visible_to_staff_only(void **state) {
    (void)state;
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:i, s:b}", "sku", "HIDDEN-1", "name",
                               "Hidden Product", "price", "4", "stock", 2, "is_active", 0));
    long long id = jint(r->json, "id");
    assert_true(json_is_false(json_object_get(r->json, "is_active")));
    http_res_free(r);
    expect_problem(get_product(id, NULL, NULL), 404, NULL);
    expect_problem(get_product(id, customer_token, NULL), 404, NULL);
    r = get_product(id, staff_token, NULL);
    expect_status(r, 200, "staff get inactive");
    assert_true(json_is_false(json_object_get(r->json, "is_active")));
    assert_etag(http_header(r, "ETag"));
    http_res_free(r);
    /* reactivated: public again */
    char path[64];
    product_path(path, sizeof path, id);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:b}", "is_active", 1), NULL);
    expect_status(r, 200, "activate");
    http_res_free(r);
    r = get_product(id, NULL, NULL);
    expect_status(r, 200, "public get after activation");
    http_res_free(r);
}

/* ---- put ----------------------------------------------------------------------------- */

static void test_put_is_a_full_replacement(void **state) {
    (void)state;
    struct http_res *r = post_product(json_body(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:b}", "sku", "PUT-1", "name", "Put Original",
        "slug", "put-custom-slug", "description", "Original text", "price", "12.5", "currency",
        "GBP", "stock", 9, "category_id", (json_int_t)category_id, "is_active", 0));
    long long id = jint(r->json, "id");
    char *created_at = take(jstr(r->json, "created_at"));
    http_res_free(r);
    char path[64];
    product_path(path, sizeof path, id);
    r = call_owned_h("PUT", path, staff_token,
                     json_body("{s:s, s:s, s:s, s:i}", "sku", "PUT-1B", "name", "Put Replaced",
                               "price", "7", "stock", 0),
                     NULL);
    expect_status(r, 200, "put");
    assert_product_json(r->json);
    assert_etag(http_header(r, "ETag"));
    assert_int_equal(jint(r->json, "id"), id);
    assert_string_equal(jstr(r->json, "sku"), "PUT-1B");
    assert_string_equal(jstr(r->json, "name"), "Put Replaced");
    assert_string_equal(jstr(r->json, "slug"), "put-replaced");
    assert_string_equal(jstr(r->json, "description"), "");
    assert_string_equal(jstr(r->json, "price"), "7.00");
    assert_string_equal(jstr(r->json, "currency"), "USD");
    assert_int_equal(jint(r->json, "stock"), 0);
    assert_true(json_is_null(json_object_get(r->json, "category")));
    assert_true(json_is_true(json_object_get(r->json, "is_active")));
    assert_string_equal(jstr(r->json, "created_at"), created_at);
    http_res_free(r);
    r = get_product(id, NULL, NULL); /* active again: public */
    expect_status(r, 200, "get after put");
    assert_string_equal(jstr(r->json, "slug"), "put-replaced");
    http_res_free(r);
    /* the same name again derives the same slug, not a -2 of itself */
    r = call_owned_h("PUT", path, staff_token,
                     json_body("{s:s, s:s, s:s, s:i, s:I}", "sku", "PUT-1B", "name", "Put Replaced",
                               "price", "7", "stock", 1, "category_id",
                               (json_int_t)other_category_id),
                     NULL);
    expect_status(r, 200, "put same name");
    assert_string_equal(jstr(r->json, "slug"), "put-replaced");
    assert_int_equal(jint(json_object_get(r->json, "category"), "id"), other_category_id);
    http_res_free(r);
    /* a name whose slug another product holds gets a suffix */
    make_simple("PUT-OTHER", "Put Taken Name");
    r = call_owned_h("PUT", path, staff_token,
                     json_body("{s:s, s:s, s:s, s:i}", "sku", "PUT-1B", "name", "Put Taken Name",
                               "price", "7", "stock", 1),
                     NULL);
    expect_status(r, 200, "put taken name");
    assert_string_equal(jstr(r->json, "slug"), "put-taken-name-2");
    http_res_free(r);
    free(created_at);
}

static void test_put_validation(void **state) {
    (void)state;
    long long id = make_simple("PUT-VAL", "Put Validation");
    char path[64];
    product_path(path, sizeof path, id);
    char *before =
        harness_sql_value(&server,
                          "SELECT row(sku, name, slug, price_cents, stock, version)::text"
                          " FROM products WHERE id = %lld",
                          id);
    const char *keys[] = {"sku", "name", "price", "stock"};
    for (size_t i = 0; i < 4; i++) {
        struct http_res *r = call_owned_h("PUT", path, staff_token, body_with(keys[i], NULL), NULL);
        assert_problem(r, 422, keys[i]);
        http_res_free(r);
    }
    struct http_res *r = call_h("PUT", path, staff_token, "{}", NULL);
    assert_problem(r, 422, NULL);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(field_count(json_object_get(r->json, "errors"), keys[i]), 1);
    http_res_free(r);
    /* a bad value is that field's one error, not also "is required" */
    const char *bad[] = {"price", "stock", "sku"};
    json_t *bad_values[] = {json_string("x"), json_string("x"), json_integer(5)};
    for (size_t i = 0; i < 3; i++) {
        r = call_owned_h("PUT", path, staff_token, body_with(bad[i], bad_values[i]), NULL);
        assert_problem(r, 422, bad[i]);
        assert_int_equal(field_count(json_object_get(r->json, "errors"), bad[i]), 1);
        http_res_free(r);
    }
    expect_problem(call_owned_h("PUT", path, staff_token, body_with("id", json_integer(id)), NULL),
                   422, "id");
    expect_problem(
        call_owned_h("PUT", path, staff_token, body_with("name", json_string("!!!")), NULL), 422,
        "slug");
    expect_problem(
        call_owned_h("PUT", path, customer_token, body_with("name", json_string("Cust")), NULL),
        403, NULL);
    char *after = harness_sql_value(&server,
                                    "SELECT row(sku, name, slug, price_cents, stock, version)::text"
                                    " FROM products WHERE id = %lld",
                                    id);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* a sku held by another product */
    make_simple("PUT-VAL-OTHER", "Put Validation Other");
    expect_problem(call_owned_h("PUT", path, staff_token,
                                body_with("sku", json_string("PUT-VAL-OTHER")), NULL),
                   409, "sku");
}

/* ---- patch ----------------------------------------------------------------------------- */

static void test_patch_changes_only_given_fields(void **state) {
    (void)state;
    struct http_res *r = post_product(
        json_body("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "sku", "PATCH-1", "name", "Patch Original",
                  "description", "Keep me", "price", "10", "currency", "CHF", "stock", 3,
                  "category_id", (json_int_t)category_id));
    json_t *orig = json_incref(r->json);
    long long id = jint(orig, "id");
    http_res_free(r);
    char path[64];
    product_path(path, sizeof path, id);

    r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "price", "11.5"), NULL);
    expect_status(r, 200, "patch price");
    assert_product_json(r->json);
    assert_etag(http_header(r, "ETag"));
    assert_string_equal(jstr(r->json, "price"), "11.50");
    const char *same[] = {"sku", "name", "slug", "description", "currency", "created_at"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(jstr(r->json, same[i]), jstr(orig, same[i]));
    assert_int_equal(jint(r->json, "stock"), 3);
    assert_true(
        json_equal(json_object_get(r->json, "category"), json_object_get(orig, "category")));
    assert_true(strcmp(jstr(r->json, "updated_at"), jstr(orig, "updated_at")) > 0);
    http_res_free(r);

    /* renaming keeps the slug */
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "name", "Patch Renamed"), NULL);
    expect_status(r, 200, "patch name");
    assert_string_equal(jstr(r->json, "name"), "Patch Renamed");
    assert_string_equal(jstr(r->json, "slug"), "patch-original");
    http_res_free(r);
    /* a name without a usable slug is fine: the slug is kept */
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "name", "!!!"), NULL);
    expect_status(r, 200, "patch name !!!");
    assert_string_equal(jstr(r->json, "slug"), "patch-original");
    http_res_free(r);

    r = call_owned_h("PATCH", path, staff_token,
                     json_body("{s:s, s:n, s:i, s:s, s:s}", "slug", "patched-slug", "category_id",
                               "stock", 0, "currency", "usd", "sku", "PATCH-1X"),
                     NULL);
    expect_status(r, 200, "patch several");
    assert_string_equal(jstr(r->json, "slug"), "patched-slug");
    assert_true(json_is_null(json_object_get(r->json, "category")));
    assert_int_equal(jint(r->json, "stock"), 0);
    assert_true(json_is_false(json_object_get(r->json, "in_stock")));
    assert_string_equal(jstr(r->json, "currency"), "USD");
    assert_string_equal(jstr(r->json, "sku"), "PATCH-1X");
    assert_string_equal(jstr(r->json, "description"), "Keep me");
    assert_string_equal(jstr(r->json, "price"), "11.50");
    http_res_free(r);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:n}", "description"), NULL);
    expect_status(r, 200, "patch description null");
    assert_string_equal(jstr(r->json, "description"), "");
    http_res_free(r);
    r = call_h("PATCH", path, staff_token, "{}", NULL);
    expect_status(r, 200, "empty patch");
    assert_string_equal(jstr(r->json, "slug"), "patched-slug");
    http_res_free(r);
    json_decref(orig);
}

/* GET path; its X-Cache header ("HIT"/"MISS") into cache, its ETag into etag. */
static void get_cached(const char *path, char cache[8], char etag[80]) {
    struct http_res *r = call_h("GET", path, NULL, NULL, NULL);
    expect_status(r, 200, "GET");
    snprintf(cache, 8, "%s", http_header(r, "X-Cache") ? http_header(r, "X-Cache") : "");
    snprintf(etag, 80, "%s", http_header(r, "ETag") ? http_header(r, "ETag") : "");
    http_res_free(r);
}

/* An empty PATCH changes nothing: the same body and ETag, updated_at and
 * version as they were, and no cache bump (the entry cached before it is
 * still served). A real change after it is seen at once. */
static void test_empty_patch_changes_nothing(void **state) {
    (void)state;
    long long id = make_simple("EMPTY-PATCH", "Empty Patch Lamp");
    char path[64], cache[8], etag[80], etag_after[80];
    product_path(path, sizeof path, id);
    char *before = harness_sql_value(
        &server, "SELECT updated_at || '|' || version FROM products WHERE id = %lld", id);
    get_cached(path, cache, etag);
    get_cached(path, cache, etag);
    assert_string_equal(cache, "HIT");
    struct http_res *r = call_h("PATCH", path, staff_token, "{}", NULL);
    expect_status(r, 200, "empty PATCH");
    assert_string_equal(http_header(r, "ETag"), etag);
    assert_string_equal(jstr(r->json, "name"), "Empty Patch Lamp");
    http_res_free(r);
    r = call_h("PATCH", path, staff_token, "{}", "If-Match: \"not-the-etag\"");
    expect_status(r, 412, "empty PATCH with a stale If-Match");
    http_res_free(r);
    get_cached(path, cache, etag_after);
    assert_string_equal(cache, "HIT");
    assert_string_equal(etag_after, etag);
    expect_sql(before, "SELECT updated_at || '|' || version FROM products WHERE id = %lld", id);
    free(before);
    r = call_h("PATCH", path, staff_token, "{\"stock\":3}", NULL);
    expect_status(r, 200, "PATCH stock");
    http_res_free(r);
    get_cached(path, cache, etag_after);
    assert_string_equal(cache, "MISS");
    assert_string_not_equal(etag_after, etag);
}

static void test_patch_validation_changes_nothing(void **state) {
    (void)state;
    long long id = make_simple("PATCH-VAL", "Patch Validation");
    http_res_free(post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "PATCH-VAL-2", "name",
                                         "Patch Validation Two", "slug", "patch-val-taken", "price",
                                         "1", "stock", 1)));
    char path[64];
    product_path(path, sizeof path, id);
    char *before =
        harness_sql_value(&server,
                          "SELECT row(sku, name, slug, description, price_cents, currency,"
                          " stock, category_id, is_active, version)::text"
                          " FROM products WHERE id = %lld",
                          id);
    struct {
        const char *body;
        long status;
        const char *field;
    } cases[] = {
        {"{\"price\":5}", 422, "price"},
        {"{\"price\":\"1.999\"}", 422, "price"},
        {"{\"stock\":\"5\"}", 422, "stock"},
        {"{\"stock\":-1}", 422, "stock"},
        {"{\"currency\":\"QQQ\"}", 422, "currency"},
        {"{\"sku\":\"bad sku\"}", 422, "sku"},
        {"{\"sku\":null}", 422, "sku"},
        {"{\"name\":null}", 422, "name"},
        {"{\"name\":\"\"}", 422, "name"},
        {"{\"slug\":\"Bad\"}", 422, "slug"},
        {"{\"category_id\":999999}", 422, "category_id"},
        {"{\"in_stock\":true}", 422, "in_stock"},
        {"{\"id\":1}", 422, "id"},
        {"{\"updated_at\":\"2026-01-01T00:00:00Z\"}", 422, "updated_at"},
        {"{\"name\":\"Fine\",\"colour\":\"red\"}", 422, "colour"},
        {"{\"sku\":\"PATCH-VAL-2\"}", 409, "sku"},
        {"{\"slug\":\"patch-val-taken\"}", 409, "slug"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_res *r = call_h("PATCH", path, staff_token, cases[i].body, NULL);
        if (r->status != cases[i].status)
            fprintf(stderr, "PATCH %s gave %ld: %s\n", cases[i].body, r->status,
                    r->body ? r->body : "");
        expect_problem(r, cases[i].status, cases[i].field);
    }
    char *after =
        harness_sql_value(&server,
                          "SELECT row(sku, name, slug, description, price_cents, currency,"
                          " stock, category_id, is_active, version)::text"
                          " FROM products WHERE id = %lld",
                          id);
    assert_string_equal(before, after);
    free(before);
    free(after);
    expect_problem(
        call_owned_h("PATCH", path, customer_token, json_body("{s:i}", "stock", 1), NULL), 403,
        NULL);
    expect_problem(call_owned_h("PATCH", path, NULL, json_body("{s:i}", "stock", 1), NULL), 401,
                   NULL);
}

/* ---- If-Match ------------------------------------------------------------------------- */

/* A new product (the POST's answer): its path, and an If-Match header of
 * the tag the POST gave. */
static struct http_res *post_tagged(const char *sku, const char *name, char path[64], char h[512]) {
    struct http_res *created = post_simple(sku, name);
    product_path(path, 64, jint(created->json, "id"));
    snprintf(h, 512, "If-Match: %s", http_header(created, "ETag"));
    return created;
}

/* Of concurrent writes with one If-Match, one wins and the others get 412,
 * also when the winner was a DELETE: the product is gone for every other
 * request (404), but a write whose If-Match names it as it was fails its
 * precondition. An id that never was stays a 404. */
static void test_if_match_after_a_delete_is_412(void **state) {
    (void)state;
    char path[64], h[512];
    struct http_res *created = post_tagged("IFDEL-1", "If Match Delete", path, h);
    http_res_free(call_h("DELETE", path, staff_token, NULL, h));
    expect_problem(call_h("DELETE", path, staff_token, NULL, h), 412, NULL);
    expect_problem(call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 1), h), 412,
                   NULL);
    expect_problem(call_h("DELETE", path, staff_token, NULL, "If-Match: *"), 412, NULL);
    expect_problem(call("DELETE", path, staff_token, NULL), 404, NULL);
    expect_problem(call_h("DELETE", PRODUCTS "/999999", staff_token, NULL, h), 404, NULL);
    http_res_free(created);
}

static void test_if_match_on_patch(void **state) {
    (void)state;
    char path[64], h[512];
    /* the tag from the POST is the current one */
    struct http_res *created = post_tagged("IFM-1", "If Match Patch", path, h);
    long long id = jint(created->json, "id");
    struct http_res *r =
        call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 6), h);
    expect_status(r, 200, "If-Match from POST");
    char *tag1 = take(http_header(r, "ETag"));
    assert_string_not_equal(tag1, http_header(created, "ETag"));
    http_res_free(r);
    /* the PATCH response's tag is what GET shows */
    char *got = current_etag(id);
    assert_string_equal(got, tag1);
    free(got);
    snprintf(h, sizeof h, "If-Match: %s", tag1);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 7), h);
    expect_status(r, 200, "If-Match current");
    char *tag2 = take(http_header(r, "ETag"));
    assert_string_not_equal(tag2, tag1);
    http_res_free(r);
    /* stale */
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 99), h);
    assert_problem(r, 412, NULL);
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 99),
                     "If-Match: \"not-the-tag\"");
    expect_problem(r, 412, NULL);
    /* a weak tag never matches If-Match (strong comparison) */
    snprintf(h, sizeof h, "If-Match: W/%s", tag2);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 99), h);
    expect_problem(r, 412, NULL);
    expect_sql("7", "SELECT stock FROM products WHERE id = %lld", id);
    /* a list holding the current tag, and * */
    snprintf(h, sizeof h, "If-Match: \"old\", %s", tag2);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 8), h);
    expect_status(r, 200, "If-Match list");
    http_res_free(r);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 9), "If-Match: *");
    expect_status(r, 200, "If-Match *");
    http_res_free(r);
    /* "*" is a wildcard only as the whole value: anything else that is no
     * list of tags matches nothing */
    const char *malformed[] = {"If-Match: **", "If-Match: *x", "If-Match: *, \"old\"",
                               "If-Match: \"old\" *"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 99), malformed[i]);
        expect_problem(r, 412, NULL);
    }
    expect_sql("9", "SELECT stock FROM products WHERE id = %lld", id);
    /* If-None-Match on a write: "*" or the current tag fails it */
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 99),
                     "If-None-Match: *");
    expect_problem(r, 412, NULL);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 10),
                     "If-None-Match: \"other\"");
    expect_status(r, 200, "If-None-Match with another tag");
    http_res_free(r);
    /* the current tag on the second of two If-Match lines */
    char auth[4200], *current = current_etag(id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff_token);
    snprintf(h, sizeof h, "If-Match: %s", current);
    const char *two_lines[] = {auth, "Content-Type: application/json", "If-Match: \"old\"", h,
                               NULL};
    r = http_request("PATCH", path, two_lines, "{\"stock\": 10}", 13);
    expect_status(r, 200, "If-Match on two lines");
    http_res_free(r);
    free(current);
    free(tag1);
    free(tag2);
    http_res_free(created);
}

/* A precondition is judged before the body (RFC 9110 13.2.1): a stale
 * If-Match, or a matching If-None-Match, with a body at fault is a 412;
 * the body's errors come with a current tag. */
static void test_failed_precondition_before_body_errors(void **state) {
    (void)state;
    char path[64], h[512];
    struct http_res *created = post_tagged("IFB-1", "If Match Body", path, h);
    struct http_res *r =
        call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 3), h);
    expect_status(r, 200, "PATCH with the POST's tag");
    http_res_free(r);
    const char *methods[] = {"PATCH", "PUT"};
    for (size_t i = 0; i < 2; i++) {
        r = call_h(methods[i], path, staff_token, "{\"name\": \"\"}", h);
        assert_problem(r, 412, NULL);
        assert_null(json_object_get(r->json, "errors"));
        http_res_free(r);
    }
    expect_problem(call_h("PATCH", path, staff_token, "{\"name\": \"\"}", "If-None-Match: *"), 412,
                   NULL);
    char *current = current_etag(jint(created->json, "id"));
    snprintf(h, sizeof h, "If-Match: %s", current);
    expect_problem(call_h("PATCH", path, staff_token, "{\"name\": \"\"}", h), 422, "name");
    free(current);
    http_res_free(created);
}

/* A write that waits on a lock past the statement timeout is a 503 that
 * says to retry later (not to narrow the request, as a slow read's does). */
static void test_write_held_by_a_lock_is_503_retry_later(void **state) {
    (void)state;
    long long id = make_simple("LOCKED-1", "Locked Lamp");
    char path[64];
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    PGconn *c = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_true(harness_pg_exec(c, "BEGIN"));
    assert_true(harness_pg_exec(c, "LOCK TABLE products IN ACCESS EXCLUSIVE MODE"));
    struct http_res *r = call("PATCH", path, staff_token, "{\"stock\": 4}");
    assert_problem(r, 503, NULL);
    assert_non_null(http_header(r, "Retry-After"));
    assert_non_null(strstr(jstr(r->json, "detail"), "retry later"));
    http_res_free(r);
    assert_true(harness_pg_exec(c, "ROLLBACK"));
    PQfinish(c);
}

static void test_if_match_on_put_and_delete(void **state) {
    (void)state;
    long long id = make_simple("IFM-2", "If Match Put");
    char path[64], h[512];
    product_path(path, sizeof path, id);
    char *tag = current_etag(id);
    char *put_body = json_body("{s:s, s:s, s:s, s:i}", "sku", "IFM-2", "name", "If Match Put Two",
                               "price", "2", "stock", 2);
    snprintf(h, sizeof h, "If-Match: %s", tag);
    struct http_res *r = call_h("PUT", path, staff_token, put_body, h);
    expect_status(r, 200, "PUT current");
    assert_etag(http_header(r, "ETag"));
    assert_string_not_equal(http_header(r, "ETag"), tag);
    char *tag2 = take(http_header(r, "ETag"));
    http_res_free(r);
    r = call_h("PUT", path, staff_token, put_body, h); /* stale now */
    expect_problem(r, 412, NULL);
    expect_sql("If Match Put Two", "SELECT name FROM products WHERE id = %lld", id);
    r = call_h("DELETE", path, staff_token, NULL, h);
    expect_problem(r, 412, NULL);
    r = get_product(id, NULL, NULL);
    expect_status(r, 200, "still there after stale DELETE");
    http_res_free(r);
    snprintf(h, sizeof h, "If-Match: %s", tag2);
    r = call_h("DELETE", path, staff_token, NULL, h);
    expect_status(r, 204, "DELETE current");
    http_res_free(r);
    expect_problem(get_product(id, NULL, NULL), 404, NULL);
    free(put_body);
    free(tag);
    free(tag2);
}

/* Eight writers with the same If-Match: exactly one wins. */
struct patch_race {
    char path[64];
    char if_match[512];
};

static long racing_patch(int i, void *ctx) {
    struct patch_race *pr = ctx;
    char body[64];
    snprintf(body, sizeof body, "{\"stock\":%d}", 100 + i);
    struct http_res *r = call_h("PATCH", pr->path, staff_token, body, pr->if_match);
    long status = r->status;
    if (status != 200 && status != 412)
        fprintf(stderr, "racing PATCH gave %ld: %s\n", status, r->body ? r->body : "");
    http_res_free(r);
    return status;
}

static void test_concurrent_patches_with_the_same_if_match(void **state) {
    (void)state;
    for (int round = 0; round < 3; round++) {
        char sku[32];
        snprintf(sku, sizeof sku, "RACE-%d", round);
        long long id = make_simple(sku, "Race Product");
        struct patch_race pr;
        product_path(pr.path, sizeof pr.path, id);
        char *tag = current_etag(id);
        snprintf(pr.if_match, sizeof pr.if_match, "If-Match: %s", tag);
        char *version_before =
            harness_sql_value(&server, "SELECT version FROM products WHERE id = %lld", id);
        long statuses[8];
        harness_race(8, racing_patch, &pr, statuses);
        int ok = harness_count_status(statuses, 8, 200),
            failed = harness_count_status(statuses, 8, 412);
        if (ok != 1 || failed != 7)
            fprintf(stderr, "round %d: %d succeeded, %d got 412\n", round, ok, failed);
        assert_int_equal(ok, 1);
        assert_int_equal(failed, 7);
        int winner = 0;
        for (int i = 0; i < 8; i++)
            winner = statuses[i] == 200 ? i : winner;
        char want[32];
        snprintf(want, sizeof want, "%d", 100 + winner);
        expect_sql(want, "SELECT stock FROM products WHERE id = %lld", id);
        snprintf(want, sizeof want, "%lld", strtoll(version_before, NULL, 10) + 1);
        expect_sql(want, "SELECT version FROM products WHERE id = %lld", id);
        free(version_before);
        free(tag);
    }
}

static long racing_create(int i, void *ctx) {
    const char *prefix = ctx;
    char body[256];
    snprintf(body, sizeof body,
             "{\"sku\":\"%s-%d\",\"name\":\"Racing Slug Lamp\",\"price\":\"1\",\"stock\":1}",
             prefix, i);
    struct http_res *r = call_h("POST", PRODUCTS, staff_token, body, NULL);
    long status = r->status;
    if (status != 201)
        fprintf(stderr, "racing POST gave %ld: %s\n", status, r->body ? r->body : "");
    http_res_free(r);
    return status;
}

/* ---- a lost deadlock is retried ------------------------------------------- */

/*
 * The other side of the deadlock, in a child process, with three sessions.
 * The order of events is forced, so the server's transaction is the
 * victim however slow the machine is:
 *   1. gate holds a share lock on the product; partner locks the category
 *      (and looks for deadlocks only after 10 s); "y" on ready_fd.
 *   2. The PATCH locks the product for update: it waits behind gate.
 *   3. partner asks for the product too: it queues behind the PATCH.
 *   4. gate commits. The PATCH, first in the queue, takes the product and
 *      needs the category (its foreign key): it waits for partner, who
 *      already waits for it. The server's session checks for deadlocks
 *      1 s later, well before partner's 10 s, so it is the one cancelled;
 *      partner then gets the product and commits, and the retried PATCH
 *      goes through.
 * Each wait is for a condition, with a generous deadline.
 */
static void deadlock_partner(int ready_fd, long long product, long long category) {
    char sql[256];
    PGconn *gate = PQconnectdb(server.database_url);
    PGconn *partner = PQconnectdb(server.database_url);
    PGconn *monitor = PQconnectdb(server.database_url);
    bool ok = PQstatus(gate) == CONNECTION_OK && PQstatus(partner) == CONNECTION_OK &&
              PQstatus(monitor) == CONNECTION_OK;
    snprintf(sql, sizeof sql, "SELECT 1 FROM products WHERE id = %lld FOR SHARE", product);
    ok = ok && harness_pg_exec(gate, "BEGIN") && harness_pg_exec(gate, sql);
    snprintf(sql, sizeof sql, "SELECT 1 FROM categories WHERE id = %lld FOR UPDATE", category);
    ok = ok && harness_pg_exec(partner, "BEGIN") &&
         harness_pg_exec(partner, "SET LOCAL deadlock_timeout = '10s'") &&
         harness_pg_exec(partner, sql);
    ok = write(ready_fd, ok ? "y" : "n", 1) == 1 && ok;
    ok = ok &&
         harness_pg_wait_nonzero(monitor, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                                          " ON a.pid = l.pid WHERE NOT l.granted"
                                          " AND a.application_name = 'nexus'"
                                          " AND a.datname = current_database()");
    snprintf(sql, sizeof sql, "SELECT 1 FROM products WHERE id = %lld FOR UPDATE", product);
    ok = ok && PQsendQuery(partner, sql) == 1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %d",
             PQbackendPID(partner));
    ok = ok && harness_pg_wait_nonzero(monitor, sql) && harness_pg_exec(gate, "COMMIT");
    PGresult *r = NULL;
    bool locked = false;
    while (ok && (r = PQgetResult(partner)) != NULL) {
        locked = locked || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (PQresultStatus(r) == PGRES_FATAL_ERROR)
            fprintf(stderr, "deadlock partner: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    ok = ok && locked && harness_pg_exec(partner, "COMMIT");
    PQfinish(gate);
    PQfinish(partner);
    PQfinish(monitor);
    _exit(ok ? 0 : 1);
}

/* A PATCH whose transaction PostgreSQL picks as a deadlock's victim is run
 * again, and succeeds, instead of answering 503. */
static void test_deadlock_victim_is_retried(void **state) {
    (void)state;
    long long id = make_simple("DEADLOCK-1", "Deadlock Lamp");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        close(ready[0]);
        deadlock_partner(ready[1], id, other_category_id);
    }
    close(ready[1]);
    char got = 0, path[64], body[64];
    assert_int_equal(read(ready[0], &got, 1), 1);
    close(ready[0]);
    assert_int_equal(got, 'y');
    product_path(path, sizeof path, id);
    snprintf(body, sizeof body, "{\"category_id\":%lld}", other_category_id);
    char request_id[64], header[96];
    snprintf(request_id, sizeof request_id, "deadlock-%lld-%ld", id, (long)getpid());
    snprintf(header, sizeof header, "X-Request-Id: %s", request_id);
    struct http_res *r = call_h("PATCH", path, staff_token, body, header);
    expect_status(r, 200, "PATCH that lost a deadlock");
    assert_int_equal(jint(json_object_get(r->json, "category"), "id"), other_category_id);
    http_res_free(r);
    int status = 0;
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* At least the one retry the deadlock forced. On a busy machine the
     * retry can start before the partner commits and lose to it once
     * more, so up to the limit of 3 is correct too. */
    int retries = harness_log_count(&server, "db.retry", request_id);
    assert_true(retries >= 1 && retries <= 3);
}

/* A conflict that never clears is retried three times, then answered 503
 * with Retry-After; nothing of it is kept. A trigger makes every attempt
 * lose, so the count does not depend on timing. */
static void test_conflict_that_never_clears_is_503(void **state) {
    (void)state;
    long long id = make_simple("CONFLICT-1", "Conflict Lamp");
    free(harness_sql(&server, "CREATE FUNCTION always_conflict() RETURNS trigger LANGUAGE plpgsql"
                              " AS $$BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40001'; END$$"));
    free(harness_sql(&server, "CREATE TRIGGER always_conflict BEFORE UPDATE ON products FOR EACH"
                              " ROW WHEN (NEW.name = 'Never Written') EXECUTE FUNCTION"
                              " always_conflict()"));
    char path[64], request_id[64], header[96];
    product_path(path, sizeof path, id);
    /* the log outlives a run: the id is this run's own */
    snprintf(request_id, sizeof request_id, "conflict-forever-%lld-%ld", id, (long)getpid());
    snprintf(header, sizeof header, "X-Request-Id: %s", request_id);
    struct http_res *r = call_owned_h("PATCH", path, staff_token,
                                      json_body("{s:s}", "name", "Never Written"), header);
    expect_status(r, 503, "PATCH that loses every attempt");
    assert_non_null(http_header(r, "Retry-After"));
    http_res_free(r);
    free(harness_sql(&server, "DROP TRIGGER always_conflict ON products"));
    int retries = harness_log_count(&server, "db.retry", request_id);
    if (retries != 3)
        fprintf(stderr, "db.retry logged %d times for the request\n", retries);
    assert_int_equal(retries, 3);
    expect_sql("Conflict Lamp", "SELECT name FROM products WHERE id = %lld", id);
}

/* ---- one SKU written by two writers at once ---------------------------------- */

struct sku_write {
    const char *method;
    char path[64];
    char body[320];
    char request_id[64];
    struct http_res *res;
};

static void *send_sku_write(void *arg) {
    struct sku_write *w = arg;
    char header[96];
    snprintf(header, sizeof header, "X-Request-Id: %s", w->request_id);
    w->res = call_h(w->method, w->path, staff_token, w->body, header);
    return NULL;
}

/* Wait (on watch) until at least n of the server's sessions wait for a
 * lock. */
static void wait_for_waiters(PGconn *watch, int n) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT (count(DISTINCT l.pid) >= %d)::int FROM pg_locks l"
             " JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted"
             " AND a.application_name = 'nexus' AND a.datname = current_database()",
             n);
    assert_true(harness_pg_wait_nonzero(watch, sql));
}

/* A create of a SKU and a PATCH giving another product that SKU, at once.
 * A SKU goes into two unique indexes: the create writes its product's row,
 * then its variant; the PATCH the product's one variant, then the row,
 * which derives its SKU from it. Each used to wait for the other's first
 * write, a deadlock one of them lost and ran again. The create is held
 * after its row's insert (its category's foreign key check waits for
 * gate), so the PATCH comes second whatever the machine's speed: it now
 * waits for the create before its first write, and gets its 409. */
static void test_one_sku_created_and_patched_at_once_does_not_deadlock(void **state) {
    (void)state;
    long long category = make_category("Sku Race", "sku-race");
    long long other = make_simple("SKU-RACE-OTHER", "Sku Race Lamp");
    PGconn *gate = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(gate), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM categories WHERE id = %lld FOR UPDATE",
             category);
    assert_true(harness_pg_exec(gate, sql));
    struct sku_write create = {.method = "POST", .path = PRODUCTS};
    snprintf(create.body, sizeof create.body,
             "{\"sku\":\"SKU-RACE\",\"name\":\"Sku Race Create\",\"price\":\"1\",\"stock\":1,"
             "\"category_id\":%lld}",
             category);
    struct sku_write patch = {.method = "PATCH", .body = "{\"sku\":\"SKU-RACE\"}"};
    product_path(patch.path, sizeof patch.path, other);
    /* the log outlives a run: the ids are this run's own */
    snprintf(create.request_id, sizeof create.request_id, "sku-race-create-%ld", (long)getpid());
    snprintf(patch.request_id, sizeof patch.request_id, "sku-race-patch-%ld", (long)getpid());
    pthread_t creating, patching;
    assert_int_equal(pthread_create(&creating, NULL, send_sku_write, &create), 0);
    wait_for_waiters(watch, 1);
    assert_int_equal(pthread_create(&patching, NULL, send_sku_write, &patch), 0);
    wait_for_waiters(watch, 2);
    assert_true(harness_pg_exec(gate, "COMMIT"));
    pthread_join(creating, NULL);
    pthread_join(patching, NULL);
    PQfinish(gate);
    PQfinish(watch);
    expect_status(create.res, 201, "the create, first");
    http_res_free(create.res);
    expect_problem(patch.res, 409, "sku");
    assert_int_equal(harness_log_count(&server, "db.retry", create.request_id), 0);
    assert_int_equal(harness_log_count(&server, "db.retry", patch.request_id), 0);
}

/* A create with variants takes the lock of every SKU it gives, not only
 * its first's: two creates giving SKUs A, B and B, A would otherwise each
 * insert one variant the other then waits for (a deadlock). Here the lock
 * of its second SKU is held (db/variants' key), and the create waits for
 * it before writing anything. */
static void test_a_create_locks_each_sku_it_gives(void **state) {
    (void)state;
    PGconn *gate = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(gate), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    assert_true(harness_pg_exec(
        gate, "BEGIN; SELECT pg_advisory_xact_lock(-7350084, hashtext('SKU-ORDER-B'))"));
    struct sku_write create = {.method = "POST", .path = PRODUCTS};
    snprintf(
        create.body, sizeof create.body,
        "{\"name\":\"Sku Order\",\"variants\":["
        "{\"sku\":\"SKU-ORDER-A\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"S\"}},"
        "{\"sku\":\"SKU-ORDER-B\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"M\"}}]}");
    snprintf(create.request_id, sizeof create.request_id, "sku-order-%ld", (long)getpid());
    pthread_t creating;
    assert_int_equal(pthread_create(&creating, NULL, send_sku_write, &create), 0);
    wait_for_waiters(watch, 1);
    expect_sql("0", "SELECT count(*) FROM product_variants WHERE sku LIKE 'SKU-ORDER-%%'");
    assert_true(harness_pg_exec(gate, "COMMIT"));
    pthread_join(creating, NULL);
    PQfinish(gate);
    PQfinish(watch);
    expect_status(create.res, 201, "the create, once the lock is free");
    http_res_free(create.res);
}

/* Concurrent creates whose names derive the same slug all succeed, with
 * distinct suffixes: a derived slug is never a 409. */
static void test_concurrent_creates_derive_distinct_slugs(void **state) {
    (void)state;
    char prefix[32];
    int created = 0;
    for (int round = 0; round < 8; round++) {
        snprintf(prefix, sizeof prefix, "SLUGRACE%d", round);
        long statuses[32];
        harness_race(32, racing_create, prefix, statuses);
        int ok = harness_count_status(statuses, 32, 201);
        if (ok != 32)
            fprintf(stderr, "round %d: %d of 32 concurrent creates succeeded\n", round, ok);
        assert_int_equal(ok, 32);
        created += ok;
    }
    char want[32];
    snprintf(want, sizeof want, "%d|%d", created, created);
    expect_sql(want, "SELECT count(*) || '|' || count(DISTINCT slug) FROM products"
                     " WHERE name = 'Racing Slug Lamp' AND deleted_at IS NULL");
    expect_sql("1", "SELECT count(*) FROM products WHERE slug = 'racing-slug-lamp'");
}

/* A write is never answered 304: that status is for GET and HEAD. */
static void test_writes_never_answer_304(void **state) {
    (void)state;
    long long id = make_simple("INM-WRITE", "If None Match Write");
    char path[64];
    product_path(path, sizeof path, id);
    struct http_res *r = call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 42),
                                      "If-None-Match: *");
    if (r->status == 304) {
        char *stock = harness_sql_value(&server, "SELECT stock FROM products WHERE id = %lld", id);
        fprintf(stderr, "PATCH with If-None-Match: * answered 304 with no body; stock is now %s\n",
                stock);
        free(stock);
    }
    assert_true(r->status != 304);
    http_res_free(r);
    r = call_owned_h("PUT", path, staff_token,
                     json_body("{s:s, s:s, s:s, s:i}", "sku", "INM-WRITE", "name",
                               "If None Match Write", "price", "10", "stock", 43),
                     "If-None-Match: *");
    assert_true(r->status != 304);
    http_res_free(r);
}

/* Names and descriptions count characters, not bytes. */
static void test_lengths_count_characters(void **state) {
    (void)state;
    char name[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(name, "é");
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "UTF8-NAME", "name", name,
                               "slug", "utf8-name", "price", "1", "stock", 1));
    assert_string_equal(jstr(r->json, "name"), name);
    http_res_free(r);
    strcat(name, "é");
    expect_create_422(body_with("name", json_string(name)), "name");
    char *desc = malloc(20002);
    assert_non_null(desc);
    desc[0] = '\0';
    for (int i = 0; i < 10000; i++)
        memcpy(desc + 2 * i, "é", 3);
    r = post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "UTF8-DESC", "name", "Utf8 Desc",
                               "description", desc, "price", "1", "stock", 1));
    assert_int_equal(strlen(jstr(r->json, "description")), 20000);
    http_res_free(r);
    free(desc);
}

/* ---- delete ----------------------------------------------------------------------------- */

static void test_delete_is_soft_and_final(void **state) {
    (void)state;
    long long id = make_simple("DEL-1", "Delete Me");
    char path[64];
    product_path(path, sizeof path, id);
    expect_problem(call_h("DELETE", path, customer_token, NULL, NULL), 403, NULL);
    expect_problem(call_h("DELETE", path, NULL, NULL, NULL), 401, NULL);
    struct http_res *r = call_h("DELETE", path, staff_token, NULL, NULL);
    expect_status(r, 204, "delete");
    assert_int_equal(r->len, 0);
    http_res_free(r);
    expect_problem(get_product(id, NULL, NULL), 404, NULL);
    expect_problem(get_product(id, customer_token, NULL), 404, NULL);
    expect_problem(get_product(id, staff_token, NULL), 404, NULL);
    expect_problem(call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 1), NULL),
                   404, NULL);
    expect_problem(call_owned_h("PUT", path, staff_token,
                                json_body("{s:s, s:s, s:s, s:i}", "sku", "DEL-1", "name", "Back",
                                          "price", "1", "stock", 1),
                                NULL),
                   404, NULL);
    expect_problem(call_h("DELETE", path, staff_token, NULL, NULL), 404, NULL);
    expect_sql("t", "SELECT deleted_at IS NOT NULL FROM products WHERE id = %lld", id);
    expect_sql("Delete Me", "SELECT name FROM products WHERE id = %lld", id);
    /* inactive products are deleted the same way */
    struct http_res *c =
        post_product(json_body("{s:s, s:s, s:s, s:i, s:b}", "sku", "DEL-2", "name",
                               "Delete Inactive", "price", "1", "stock", 1, "is_active", 0));
    product_path(path, sizeof path, jint(c->json, "id"));
    expect_sql("f", "SELECT deleted_at IS NOT NULL FROM products WHERE id = %lld",
               jint(c->json, "id"));
    http_res_free(c);
    r = call_h("DELETE", path, staff_token, NULL, NULL);
    expect_status(r, 204, "delete inactive");
    http_res_free(r);
    expect_problem(call_h("GET", path, staff_token, NULL, NULL), 404, NULL);
}

static void test_malformed_path_ids_are_404(void **state) {
    (void)state;
    const char *bad[] = {PRODUCTS "/abc",
                         PRODUCTS "/0",
                         PRODUCTS "/-1",
                         PRODUCTS "/99999999999999999999",
                         PRODUCTS "/1.5",
                         PRODUCTS "/1abc",
                         PRODUCTS "/999999",
                         PRODUCTS "/%201",
                         PRODUCTS "/9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_res *r = call_h("GET", bad[i], NULL, NULL, NULL);
        if (r->status != 404)
            fprintf(stderr, "GET %s gave %ld\n", bad[i], r->status);
        expect_problem(r, 404, NULL);
        r = call_h("GET", bad[i], staff_token, NULL, NULL);
        expect_problem(r, 404, NULL);
        r = call_owned_h("PATCH", bad[i], staff_token, json_body("{s:i}", "stock", 1), NULL);
        if (r->status != 404)
            fprintf(stderr, "PATCH %s gave %ld\n", bad[i], r->status);
        expect_problem(r, 404, NULL);
        r = call_owned_h("PUT", bad[i], staff_token, body_with("sku", json_string("PATH-ID")),
                         NULL);
        expect_problem(r, 404, NULL);
        r = call_h("DELETE", bad[i], staff_token, NULL, NULL);
        if (r->status != 404)
            fprintf(stderr, "DELETE %s gave %ld\n", bad[i], r->status);
        expect_problem(r, 404, NULL);
        /* the route check (404) comes before authentication (401): only
         * an id that could name a product asks for a login */
        r = call_h("DELETE", bad[i], NULL, NULL, NULL);
        expect_problem(r, strcmp(bad[i], PRODUCTS "/999999") == 0 ? 401 : 404, NULL);
    }
    expect_problem(call_h("GET", PRODUCTS "/", NULL, NULL, NULL), 404, NULL);
}

static void test_wrong_method_is_405_before_authentication(void **state) {
    (void)state;
    struct http_res *r = call_h("POST", PRODUCTS "/1", NULL, "{}", NULL);
    assert_problem(r, 405, NULL);
    const char *allow = http_header(r, "Allow");
    assert_non_null(allow);
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "PUT"));
    assert_non_null(strstr(allow, "PATCH"));
    assert_non_null(strstr(allow, "DELETE"));
    assert_null(strstr(allow, "POST"));
    http_res_free(r);
    r = call_h("DELETE", PRODUCTS, customer_token, NULL, NULL);
    assert_problem(r, 405, NULL);
    assert_non_null(strstr(http_header(r, "Allow"), "POST"));
    http_res_free(r);
}

static void test_sql_looking_input_is_data(void **state) {
    (void)state;
    const char *name = "x'; DROP TABLE products; --";
    const char *desc = "\"); DELETE FROM categories; -- \\ % _ $1 ::text";
    struct http_res *r =
        post_product(json_body("{s:s, s:s, s:s, s:s, s:i}", "sku", "SQL-1", "name", name,
                               "description", desc, "price", "1", "stock", 1));
    long long id = jint(r->json, "id");
    assert_string_equal(jstr(r->json, "name"), name);
    assert_string_equal(jstr(r->json, "description"), desc);
    assert_string_equal(jstr(r->json, "slug"), "x-drop-table-products");
    http_res_free(r);
    r = get_product(id, NULL, NULL);
    expect_status(r, 200, "get sql-looking");
    assert_string_equal(jstr(r->json, "name"), name);
    assert_string_equal(jstr(r->json, "description"), desc);
    http_res_free(r);
    char path[64];
    product_path(path, sizeof path, id);
    r = call_owned_h("PATCH", path, staff_token, json_body("{s:s}", "name", "Robert'); --"), NULL);
    expect_status(r, 200, "patch sql-looking");
    assert_string_equal(jstr(r->json, "name"), "Robert'); --");
    http_res_free(r);
    expect_sql("Robert'); --", "SELECT name FROM products WHERE id = %lld", id);
    char *n = harness_sql_value(&server, "SELECT count(*) > 0 FROM categories");
    assert_string_equal(n, "t");
    free(n);
    expect_problem(call_owned_h("POST", PRODUCTS, staff_token,
                                body_with("sku", json_string("x';DROP--")), NULL),
                   422, "sku");
    r = call_h("GET", PRODUCTS "/1%20OR%201=1", NULL, NULL, NULL);
    expect_problem(r, 404, NULL);
}

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants). */
static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_with_every_field),
        cmocka_unit_test(test_create_defaults),
        cmocka_unit_test(test_price_is_normalised_to_two_decimals),
        cmocka_unit_test(test_bad_prices_are_422),
        cmocka_unit_test(test_currency),
        cmocka_unit_test(test_stock),
        cmocka_unit_test(test_sku_rules),
        cmocka_unit_test(test_missing_required_fields_one_entry_each),
        cmocka_unit_test(test_read_only_and_unknown_fields_are_422),
        cmocka_unit_test(test_unknown_category_is_422),
        cmocka_unit_test(test_name_slug_and_description_rules),
        cmocka_unit_test(test_duplicates_are_409_and_derived_slugs_get_suffixes),
        cmocka_unit_test(test_soft_deleted_product_frees_sku_and_slug),
        cmocka_unit_test(test_create_needs_staff),
        cmocka_unit_test(test_get_has_etag_and_if_none_match_gives_304),
        cmocka_unit_test(test_inactive_product_is_visible_to_staff_only),
        cmocka_unit_test(test_put_is_a_full_replacement),
        cmocka_unit_test(test_put_validation),
        cmocka_unit_test(test_patch_changes_only_given_fields),
        cmocka_unit_test(test_patch_validation_changes_nothing),
        cmocka_unit_test(test_empty_patch_changes_nothing),
        cmocka_unit_test(test_if_match_on_patch),
        cmocka_unit_test(test_failed_precondition_before_body_errors),
        cmocka_unit_test(test_if_match_after_a_delete_is_412),
        cmocka_unit_test(test_if_match_on_put_and_delete),
        cmocka_unit_test(test_write_held_by_a_lock_is_503_retry_later),
        cmocka_unit_test(test_concurrent_patches_with_the_same_if_match),
        cmocka_unit_test(test_concurrent_creates_derive_distinct_slugs),
        cmocka_unit_test(test_deadlock_victim_is_retried),
        cmocka_unit_test(test_one_sku_created_and_patched_at_once_does_not_deadlock),
        cmocka_unit_test(test_a_create_locks_each_sku_it_gives),
        cmocka_unit_test(test_conflict_that_never_clears_is_503),
        cmocka_unit_test(test_writes_never_answer_304),
        cmocka_unit_test(test_lengths_count_characters),
        cmocka_unit_test(test_delete_is_soft_and_final),
        cmocka_unit_test(test_malformed_path_ids_are_404),
        cmocka_unit_test(test_wrong_method_is_405_before_authentication),
        cmocka_unit_test(test_sql_looking_input_is_data),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
    };
    return harness_run_group("products", tests, sizeof tests / sizeof tests[0], start, stop);
}
