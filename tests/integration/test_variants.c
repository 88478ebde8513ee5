/*
 * test_variants.c -- product variants: the default variant of a v1
 * product, products created with variants, the variant endpoints (ETag,
 * If-Match, Location, visibility), the option-set and duplicate rules, SKU
 * uniqueness under races, the last live variant, the 100-variant cap, the
 * product fields derived after each kind of write, sku/price/stock through
 * the product, cached reads after variant writes, stock that no race takes
 * below zero, low-stock alerts per variant, and the product item: the
 * bytes and ETag of its list item and its variants endpoint together, and
 * one snapshot of both while variant writes race its reads.
 */
#include "harness.h"
#include "nexus/model/catalog.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#define PRODUCTS "/api/v1/products"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;

/* ---- helpers ----------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    harness_start(&server, "variants", NULL);
    harness_staff_and_customer(&server, "var", &staff_token, &customer_token);
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

static void product_path(char *out, size_t cap, long long id) {
    snprintf(out, cap, PRODUCTS "/%lld", id);
}

static void variants_path(char *out, size_t cap, long long id) {
    snprintf(out, cap, PRODUCTS "/%lld/variants", id);
}

static void variant_path(char *out, size_t cap, long long id, long long vid) {
    snprintf(out, cap, PRODUCTS "/%lld/variants/%lld", id, vid);
}

/* POST /products with body (consumed); asserts 201; returns the answer. */
static struct http_res *create(char *body) {
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, body);
    expect_status(r, 201, "create product");
    return r;
}

static long long create_simple(const char *sku, const char *price, int stock) {
    struct http_res *r = create(
        json_body("{s:s, s:s, s:s, s:i}", "sku", sku, "name", sku, "price", price, "stock", stock));
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

/* A product with three variants: S (10.00, 2), M (8.00, 3, inactive),
 * L (12.00, 4); names Size and Color. */
static struct http_res *create_three(const char *prefix) {
    char s[32], m[32], l[32];
    snprintf(s, sizeof s, "%s-S", prefix);
    snprintf(m, sizeof m, "%s-M", prefix);
    snprintf(l, sizeof l, "%s-L", prefix);
    return create(
        json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s, s:s}}, {s:s, s:s, s:i, s:{s:s, s:s}, s:b},"
                  " {s:s, s:s, s:i, s:{s:s, s:s}}]}",
                  "name", prefix, "variants", "sku", s, "price", "10.00", "stock", 2, "options",
                  "Size", "S", "Color", "Red", "sku", m, "price", "8.00", "stock", 3, "options",
                  "Size", "M", "Color", "Red", "is_active", 0, "sku", l, "price", "12.00", "stock",
                  4, "options", "Size", "L", "Color", "Blue"));
}

static struct http_res *get(const char *path, const char *token) {
    return call("GET", path, token, NULL);
}

/* The product as the caller sees it (200 asserted). */
static struct http_res *get_product(long long id, const char *token) {
    char path[64];
    product_path(path, sizeof path, id);
    struct http_res *r = get(path, token);
    expect_status(r, 200, "get product");
    return r;
}

static long long variant_id(json_t *product, size_t i) {
    return jint(json_array_get(json_object_get(product, "variants"), i), "id");
}

static char *etag_header(const struct http_res *r) {
    const char *tag = http_header(r, "ETag");
    assert_non_null(tag);
    char *h = malloc(strlen(tag) + 16);
    sprintf(h, "If-Match: %s", tag);
    return h;
}

/* ---- If-Match after a delete ---------------------------------------------------- */

/* Of concurrent writes with one If-Match, one wins and the others get 412,
 * also when the winner was a DELETE: a write with If-Match to a variant
 * deleted meanwhile, or of a product deleted meanwhile, is a 412, not the
 * 404 it is without If-Match. An id that never was stays a 404. */
static void test_if_match_after_a_delete_is_412(void **state) {
    (void)state;
    struct http_res *created = create_three("IFDEL");
    long long id = jint(created->json, "id");
    long long vid = variant_id(created->json, 2);
    char path[96];
    variant_path(path, sizeof path, id, vid);
    struct http_res *v = get(path, staff_token);
    char *h = etag_header(v);
    http_res_free(v);
    http_res_free(call_h("DELETE", path, staff_token, NULL, h));
    expect_problem(call_h("DELETE", path, staff_token, NULL, h), 412, NULL);
    expect_problem(call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 1), h), 412,
                   NULL);
    /* a body at fault too: the precondition comes first */
    expect_problem(call_h("PATCH", path, staff_token, "{\"stock\": -5}", h), 412, NULL);
    expect_problem(call("DELETE", path, staff_token, NULL), 404, NULL);
    variant_path(path, sizeof path, id, 999999);
    expect_problem(call_h("DELETE", path, staff_token, NULL, h), 404, NULL);
    /* the product deleted: its variants' writes with If-Match too */
    vid = variant_id(created->json, 0);
    variant_path(path, sizeof path, id, vid);
    free(h);
    v = get(path, staff_token);
    h = etag_header(v);
    http_res_free(v);
    char product[64];
    product_path(product, sizeof product, id);
    http_res_free(http_expect("DELETE", product, staff_token, NULL, 204));
    expect_problem(call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 1), h), 412,
                   NULL);
    expect_problem(call_h("PATCH", path, staff_token, "{\"stock\": -5}", h), 412, NULL);
    free(h);
    http_res_free(created);
}

/* create_three(prefix), and the path of its variant i. */
static struct http_res *create_three_at(const char *prefix, size_t i, char path[96]) {
    struct http_res *created = create_three(prefix);
    variant_path(path, 96, jint(created->json, "id"), variant_id(created->json, i));
    return created;
}

/* A stale If-Match with a body at fault is a 412, as with a valid body
 * (preconditions before content, RFC 9110 13.2.1); with the current tag,
 * the body's 422. */
static void test_stale_if_match_before_body_errors(void **state) {
    (void)state;
    char path[96];
    struct http_res *created = create_three_at("IFBODY", 1, path);
    struct http_res *v = get(path, staff_token);
    char *h = etag_header(v);
    http_res_free(v);
    struct http_res *r =
        call_owned_h("PATCH", path, staff_token, json_body("{s:i}", "stock", 4), h);
    expect_status(r, 200, "PATCH with the current tag");
    http_res_free(r);
    r = call_h("PATCH", path, staff_token, "{\"price\": \"-1\"}", h);
    assert_problem(r, 412, NULL);
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
    free(h);
    v = get(path, staff_token);
    h = etag_header(v);
    http_res_free(v);
    expect_problem(call_h("PATCH", path, staff_token, "{\"price\": \"-1\"}", h), 422, "price");
    free(h);
    http_res_free(created);
}

/* A 412 says what is known: a tag that is not the variant's (the
 * product's) matches no current ETag of it, which need not mean that it
 * changed; a weak tag (its own, weakened) never matches If-Match. */
static void test_a_failed_if_match_says_why(void **state) {
    (void)state;
    char path[96];
    struct http_res *created = create_three_at("IFWHY", 0, path);
    char *product_tag = etag_header(created);
    struct http_res *r = call_h("PATCH", path, staff_token, "{\"stock\": 5}", product_tag);
    assert_problem(r, 412, NULL);
    assert_string_equal(jstr(r->json, "detail"),
                        "If-Match matches no current ETag of this resource (it has changed since, "
                        "or the tag is not one of its ETags)");
    http_res_free(r);
    struct http_res *v = get(path, staff_token);
    char weak[128];
    snprintf(weak, sizeof weak, "If-Match: W/%s", http_header(v, "ETag"));
    http_res_free(v);
    r = call_h("PATCH", path, staff_token, "{\"stock\": 5}", weak);
    assert_problem(r, 412, NULL);
    assert_string_equal(jstr(r->json, "detail"),
                        "If-Match needs a strong ETag; W/ tags never match");
    http_res_free(r);
    r = call_h("PATCH", path, staff_token, "{\"stock\": 5}", "If-Match: *x");
    assert_problem(r, 412, NULL);
    assert_non_null(strstr(jstr(r->json, "detail"), "nor a list of entity tags"));
    http_res_free(r);
    harness_expect_sql(&server, "2", "SELECT stock FROM product_variants WHERE id = %lld",
                       variant_id(created->json, 0));
    free(product_tag);
    http_res_free(created);
}

/* ---- creating products ------------------------------------------------------- */

static void test_v1_product_gets_one_default_variant(void **state) {
    (void)state;
    long long id = create_simple("DEF-1", "4.50", 6);
    struct http_res *r = get_product(id, NULL);
    json_t *variants = json_object_get(r->json, "variants");
    assert_int_equal(json_array_size(variants), 1);
    json_t *v = json_array_get(variants, 0);
    assert_string_equal(jstr(v, "sku"), "DEF-1");
    assert_string_equal(jstr(v, "price"), "4.50");
    assert_string_equal(jstr(v, "currency"), "USD");
    assert_int_equal(jint(v, "stock"), 6);
    assert_true(json_is_true(json_object_get(v, "in_stock")));
    assert_int_equal(json_object_size(json_object_get(v, "options")), 0);
    assert_int_equal(jint(v, "position"), 1);
    assert_int_equal(jint(v, "product_id"), id);
    assert_int_equal(json_object_size(v), 12);
    assert_int_equal(jint(r->json, "variant_count"), 1);
    assert_string_equal(jstr(json_object_get(r->json, "price_range"), "min"), "4.50");
    assert_string_equal(jstr(json_object_get(r->json, "price_range"), "max"), "4.50");
    assert_int_equal(json_array_size(json_object_get(r->json, "options")), 0);
    http_res_free(r);
}

static void test_create_with_variants_derives_the_product(void **state) {
    (void)state;
    struct http_res *r = create_three("TRIO");
    long long id = jint(r->json, "id");
    /* staff: all three; sku of the first; price the lowest active one */
    assert_string_equal(jstr(r->json, "sku"), "TRIO-S");
    assert_string_equal(jstr(r->json, "price"), "10.00");
    assert_int_equal(jint(r->json, "stock"), 6);
    assert_true(json_is_true(json_object_get(r->json, "in_stock")));
    assert_string_equal(jstr(json_object_get(r->json, "price_range"), "min"), "10.00");
    assert_string_equal(jstr(json_object_get(r->json, "price_range"), "max"), "12.00");
    assert_int_equal(jint(r->json, "variant_count"), 3);
    assert_int_equal(json_array_size(json_object_get(r->json, "variants")), 3);
    char *options = dump(json_incref(json_object_get(r->json, "options")));
    assert_string_equal(options, "[{\"name\":\"Color\",\"values\":[\"Red\",\"Blue\"]},"
                                 "{\"name\":\"Size\",\"values\":[\"S\",\"M\",\"L\"]}]");
    free(options);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(jint(json_array_get(json_object_get(r->json, "variants"), i), "position"),
                         (long long)i + 1);
    http_res_free(r);
    /* the public: the active ones only, counted */
    r = get_product(id, NULL);
    assert_int_equal(jint(r->json, "variant_count"), 2);
    assert_int_equal(json_array_size(json_object_get(r->json, "variants")), 2);
    http_res_free(r);
    /* list items carry the derived fields but not the variants */
    r = get(PRODUCTS "?q=TRIO", NULL);
    expect_status(r, 200, "list");
    json_t *item = json_array_get(json_object_get(r->json, "items"), 0);
    assert_non_null(item);
    assert_null(json_object_get(item, "variants"));
    assert_int_equal(jint(item, "variant_count"), 2);
    http_res_free(r);
    r = get(PRODUCTS "?q=TRIO&include_inactive=true", staff_token);
    assert_int_equal(jint(json_array_get(json_object_get(r->json, "items"), 0), "variant_count"),
                     3);
    http_res_free(r);
}

static void test_create_with_variants_validation(void **state) {
    (void)state;
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:s, s:[{s:s, s:s, s:i, s:{}}]}", "name", "Both",
                                        "sku", "BOTH-1", "variants", "sku", "BOTH-2", "price",
                                        "1.00", "stock", 1, "options")),
                   422, "variants");
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:[]}", "name", "Empty", "variants")),
                   422, "variants");
    expect_problem(
        call_owned("POST", PRODUCTS, staff_token,
                   json_body("{s:s, s:[{s:s, s:s, s:i, s:{}}, {s:s, s:s, s:i, s:{}}]}", "name",
                             "Bad", "variants", "sku", "BAD-1", "price", "1.00", "stock", 1,
                             "options", "sku", "BAD-2", "price", "1.001", "stock", 1, "options")),
        422, "variants[1].price");
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:[{s:s, s:s, s:i, s:{}, s:i}]}", "name", "Pos",
                                        "variants", "sku", "POS-1", "price", "1.00", "stock", 1,
                                        "options", "position", 2)),
                   422, "variants[0].position");
    /* one error for it: an unknown field, whatever its value */
    struct http_res *pos = call_owned("POST", PRODUCTS, staff_token,
                                      json_body("{s:s, s:[{s:s, s:s, s:i, s:{}, s:i}]}", "name",
                                                "Pos", "variants", "sku", "POS-1", "price", "1.00",
                                                "stock", 1, "options", "position", 0));
    assert_problem(pos, 422, "variants[0].position");
    assert_int_equal(json_array_size(json_object_get(pos->json, "errors")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(pos->json, "errors"), 0), "message"),
                        "is not a known field");
    http_res_free(pos);
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                                        " {s:s, s:s, s:i, s:{s:s}}]}",
                                        "name", "Sets", "variants", "sku", "SET-1", "price", "1.00",
                                        "stock", 1, "options", "Size", "S", "sku", "SET-2", "price",
                                        "1.00", "stock", 1, "options", "Color", "Red")),
                   422, "variants[1].options");
    /* 101 variants */
    json_t *many = json_array();
    for (int i = 0; i < 101; i++) {
        char sku[32], size[16];
        snprintf(sku, sizeof sku, "MANY-%d", i);
        snprintf(size, sizeof size, "%d", i);
        json_array_append_new(many, json_pack("{s:s, s:s, s:i, s:{s:s}}", "sku", sku, "price",
                                              "1.00", "stock", 1, "options", "Size", size));
    }
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:o}", "name", "Many", "variants", many)),
                   422, "variants");
    /* duplicate options inside one body: the second one's insert conflicts */
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                                        " {s:s, s:s, s:i, s:{s:s}}]}",
                                        "name", "Twins", "variants", "sku", "TWIN-1", "price",
                                        "1.00", "stock", 1, "options", "Size", "M", "sku", "TWIN-2",
                                        "price", "1.00", "stock", 1, "options", "size", "m")),
                   409, "variants[1].options");
    char *left = harness_sql_value(&server, "SELECT count(*) FROM products WHERE name = 'Twins'");
    assert_string_equal(left, "0");
    free(left);
    /* a SKU another product's variant has, first or not: the 409 names the
     * variant of the body that carried it */
    struct http_res *r =
        call_owned("POST", PRODUCTS, staff_token,
                   json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                             " {s:s, s:s, s:i, s:{s:s}}]}",
                             "name", "Holder", "variants", "sku", "HELD-1", "price", "1.00",
                             "stock", 1, "options", "Size", "S", "sku", "HELD-2", "price", "1.00",
                             "stock", 1, "options", "Size", "M"));
    expect_status(r, 201, "holder");
    http_res_free(r);
    for (int held = 1; held <= 2; held++) {
        char sku[16];
        snprintf(sku, sizeof sku, "HELD-%d", held);
        expect_problem(
            call_owned("POST", PRODUCTS, staff_token,
                       json_body("{s:s, s:[{s:s, s:s, s:i, s:{}}]}", "name", "Taker", "variants",
                                 "sku", sku, "price", "1.00", "stock", 1, "options")),
            409, "variants[0].sku");
        expect_problem(call_owned("POST", PRODUCTS, staff_token,
                                  json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                                            " {s:s, s:s, s:i, s:{s:s}}]}",
                                            "name", "Taker", "variants", "sku", "FREE-1", "price",
                                            "1.00", "stock", 1, "options", "Size", "S", "sku", sku,
                                            "price", "1.00", "stock", 1, "options", "Size", "M")),
                       409, "variants[1].sku");
    }
    /* the same SKU twice in one body */
    expect_problem(
        call_owned("POST", PRODUCTS, staff_token,
                   json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                             " {s:s, s:s, s:i, s:{s:s}}]}",
                             "name", "Twice", "variants", "sku", "TWICE-1", "price", "1.00",
                             "stock", 1, "options", "Size", "S", "sku", "TWICE-1", "price", "1.00",
                             "stock", 1, "options", "Size", "M")),
        409, "variants[1].sku");
}

/* ---- the variant endpoints ---------------------------------------------------- */

static void test_variant_crud(void **state) {
    (void)state;
    long long id = create_simple("CRUD-1", "5.00", 1);
    char path[96], vpath[128], first[128];
    variants_path(path, sizeof path, id);
    struct http_res *r = get_product(id, NULL);
    variant_path(first, sizeof first, id, variant_id(r->json, 0));
    http_res_free(r);
    /* the default variant has options {}: a second one with {} is a
     * duplicate, and with other names another set */
    expect_problem(call("POST", path, staff_token,
                        "{\"sku\":\"CRUD-2\",\"price\":\"3.00\",\"stock\":4,\"options\":{}}"),
                   409, "options");
    expect_problem(call("POST", path, staff_token,
                        "{\"sku\":\"CRUD-2\",\"price\":\"3.00\",\"stock\":4,"
                        "\"options\":{\"Size\":\"M\"}}"),
                   422, "options");
    /* the only variant may change its set */
    r = call("PATCH", first, staff_token, "{\"options\":{\"Size\":\"S\"}}");
    expect_status(r, 200, "options of the only variant");
    http_res_free(r);
    expect_problem(call("POST", path, staff_token, "{\"sku\":\"CRUD-2\"}"), 422, "price");
    r = call("POST", path, staff_token,
             "{\"sku\":\"CRUD-2\",\"price\":\"3.00\",\"stock\":4,"
             "\"options\":{\"Size\":\"M\"},\"position\":7}");
    expect_status(r, 201, "create variant");
    long long vid = jint(r->json, "id");
    variant_path(vpath, sizeof vpath, id, vid);
    assert_non_null(http_header(r, "Location"));
    assert_string_equal(http_header(r, "Location"), vpath);
    assert_non_null(http_header(r, "ETag"));
    assert_int_equal(jint(r->json, "position"), 7);
    http_res_free(r);
    r = get_product(id, NULL);
    assert_int_equal(jint(r->json, "variant_count"), 2);
    assert_string_equal(jstr(r->json, "price"), "3.00");
    assert_int_equal(jint(r->json, "stock"), 5);
    http_res_free(r);

    r = get(vpath, NULL);
    expect_status(r, 200, "get variant");
    char *if_match = etag_header(r);
    assert_string_equal(jstr(r->json, "sku"), "CRUD-2");
    http_res_free(r);
    r = get(path, NULL);
    expect_status(r, 200, "list variants");
    assert_int_equal(json_object_size(r->json), 1);
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(jstr(json_array_get(items, 0), "sku"), "CRUD-1");
    assert_string_equal(jstr(json_array_get(items, 1), "sku"), "CRUD-2");
    http_res_free(r);

    /* PATCH with the tag: 200; again with the same (now stale) tag: 412 */
    r = call_h("PATCH", vpath, staff_token, "{\"price\":\"2.50\",\"position\":1}", if_match);
    expect_status(r, 200, "patch variant");
    assert_string_equal(jstr(r->json, "price"), "2.50");
    http_res_free(r);
    expect_problem(call_h("PATCH", vpath, staff_token, "{\"stock\":1}", if_match), 412, NULL);
    expect_problem(call_h("DELETE", vpath, staff_token, NULL, if_match), 412, NULL);
    free(if_match);
    /* both at position 1: CRUD-1 has the lower id, so it stays first */
    r = get_product(id, NULL);
    assert_string_equal(jstr(r->json, "sku"), "CRUD-1");
    assert_string_equal(jstr(r->json, "price"), "2.50");
    http_res_free(r);
    expect_problem(call("PATCH", vpath, staff_token, "{\"position\":0}"), 422, "position");
    expect_problem(call("PATCH", vpath, staff_token, "{\"colour\":\"red\"}"), 422, "colour");
    expect_problem(call("PATCH", vpath, staff_token, "{\"price\":2}"), 422, "price");

    r = call("DELETE", vpath, staff_token, NULL);
    expect_status(r, 204, "delete variant");
    http_res_free(r);
    expect_problem(get(vpath, staff_token), 404, NULL);
    r = get_product(id, NULL);
    assert_int_equal(jint(r->json, "variant_count"), 1);
    assert_string_equal(jstr(r->json, "price"), "5.00");
    assert_int_equal(jint(r->json, "stock"), 1);
    http_res_free(r);
    /* its SKU and options are free again */
    r = call("POST", path, staff_token,
             "{\"sku\":\"CRUD-2\",\"price\":\"1.00\",\"stock\":0,\"options\":{\"Size\":\"M\"}}");
    expect_status(r, 201, "SKU reused");
    http_res_free(r);
    expect_problem(call("GET", PRODUCTS "/999999/variants", NULL, NULL), 404, NULL);
    variant_path(vpath, sizeof vpath, id, 999999);
    expect_problem(get(vpath, NULL), 404, NULL);
    expect_problem(call("POST", path, customer_token, "{}"), 403, NULL);
    expect_problem(call("POST", path, NULL, "{}"), 401, NULL);
}

static void test_option_sets_and_duplicates(void **state) {
    (void)state;
    struct http_res *r = create_three("OPT");
    long long id = jint(r->json, "id");
    long long small = variant_id(r->json, 0);
    http_res_free(r);
    char path[96], vpath[128];
    variants_path(path, sizeof path, id);
    /* another set of names */
    expect_problem(call_owned("POST", path, staff_token,
                              json_body("{s:s, s:s, s:i, s:{s:s}}", "sku", "OPT-X", "price", "1.00",
                                        "stock", 1, "options", "Size", "XL")),
                   422, "options");
    /* the same names in another case are the same set; the same options in
     * another case are a duplicate */
    expect_problem(
        call_owned("POST", path, staff_token,
                   json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "OPT-Y", "price", "1.00",
                             "stock", 1, "options", "size", "s", "COLOR", "RED")),
        409, "options");
    r = call_owned("POST", path, staff_token,
                   json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "OPT-Z", "price", "1.00",
                             "stock", 1, "options", "size", "XL", "color", "Red"));
    expect_status(r, 201, "same names in another case");
    http_res_free(r);
    /* bad options */
    expect_problem(call_owned("POST", path, staff_token,
                              json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "OPT-W", "price",
                                        "1.00", "stock", 1, "options", "Size", "S", "size", "M")),
                   422, "options");
    expect_problem(call_owned("POST", path, staff_token,
                              json_body("{s:s, s:s, s:i, s:{s:s, s:i}}", "sku", "OPT-W", "price",
                                        "1.00", "stock", 1, "options", "Size", "W", "Color", 3)),
                   422, "options");
    expect_problem(call_owned("POST", path, staff_token,
                              json_body("{s:s, s:s, s:i, s:{s:s, s:s, s:s, s:s}}", "sku", "OPT-W",
                                        "price", "1.00", "stock", 1, "options", "A", "1", "B", "2",
                                        "C", "3", "D", "4")),
                   422, "options");
    char long_value[64];
    memset(long_value, 'v', 51);
    long_value[51] = '\0';
    expect_problem(
        call_owned("POST", path, staff_token,
                   json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "OPT-W", "price", "1.00",
                             "stock", 1, "options", "Size", long_value, "Color", "Red")),
        422, "options");
    expect_problem(call_owned("POST", path, staff_token,
                              json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "OPT-W", "price",
                                        "1.00", "stock", 1, "options", "Size", "", "Color", "Red")),
                   422, "options");
    /* PATCH into a duplicate, or into another set */
    variant_path(vpath, sizeof vpath, id, small);
    expect_problem(
        call("PATCH", vpath, staff_token, "{\"options\":{\"Size\":\"l\",\"Color\":\"blue\"}}"), 409,
        "options");
    expect_problem(call("PATCH", vpath, staff_token, "{\"options\":{\"Size\":\"S\"}}"), 422,
                   "options");
    r = call("PATCH", vpath, staff_token, "{\"options\":{\"Size\":\"XS\",\"Color\":\"Red\"}}");
    expect_status(r, 200, "patch options");
    http_res_free(r);
    r = get_product(id, staff_token);
    char *options = dump(json_incref(json_object_get(r->json, "options")));
    assert_string_equal(options, "[{\"name\":\"Color\",\"values\":[\"Red\",\"Blue\"]},"
                                 "{\"name\":\"Size\",\"values\":[\"XS\",\"M\",\"L\",\"XL\"]}]");
    free(options);
    http_res_free(r);
}

static long long race_products[8];

static long racing_variant(int i, void *ctx) {
    (void)ctx;
    char path[96];
    variants_path(path, sizeof path, race_products[i]);
    struct http_res *r = call("POST", path, staff_token,
                              "{\"sku\":\"RACED-SKU\",\"price\":\"1.00\",\"stock\":1,"
                              "\"options\":{\"Size\":\"Raced\"}}");
    long status = r->status;
    if (status == 409 && !strstr(r->body, "\"sku\""))
        status = -1;
    http_res_free(r);
    return status;
}

static void test_sku_is_unique_everywhere_and_under_races(void **state) {
    (void)state;
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name", "Owner", "variants", "sku",
                         "OWN-1", "price", "1.00", "stock", 1, "options", "Size", "S"));
    long long owner = jint(r->json, "id");
    http_res_free(r);
    char path[96];
    variants_path(path, sizeof path, owner);
    r = call_owned("POST", path, staff_token,
                   json_body("{s:s, s:s, s:i, s:{s:s}}", "sku", "OWN-2", "price", "1.00", "stock",
                             1, "options", "Size", "M"));
    expect_status(r, 201, "second variant");
    http_res_free(r);
    /* a v1 product, a variant of another product, or a product's variants
     * with a taken SKU (first or not): 409 on sku */
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:s, s:s, s:i}", "sku", "OWN-2", "name", "Thief",
                                        "price", "1.00", "stock", 1)),
                   409, "sku");
    expect_problem(call_owned("POST", PRODUCTS, staff_token,
                              json_body("{s:s, s:s, s:s, s:i}", "sku", "OWN-1", "name", "Thief",
                                        "price", "1.00", "stock", 1)),
                   409, "sku");
    long long other = create_simple("OTHER-1", "1.00", 1);
    char opath[96];
    variants_path(opath, sizeof opath, other);
    expect_problem(call_owned("POST", opath, staff_token,
                              json_body("{s:s, s:s, s:i, s:{}}", "sku", "OWN-2", "price", "1.00",
                                        "stock", 1, "options")),
                   409, "sku");
    char vpath[128];
    r = get_product(other, NULL);
    variant_path(vpath, sizeof vpath, other, variant_id(r->json, 0));
    http_res_free(r);
    expect_problem(call("PATCH", vpath, staff_token, "{\"sku\":\"OWN-2\"}"), 409, "sku");
    char ppath[64];
    product_path(ppath, sizeof ppath, other);
    expect_problem(call("PATCH", ppath, staff_token, "{\"sku\":\"OWN-2\"}"), 409, "sku");
    /* deleting the owner frees its SKUs */
    product_path(ppath, sizeof ppath, owner);
    r = call("DELETE", ppath, staff_token, NULL);
    expect_status(r, 204, "delete owner");
    http_res_free(r);
    r = call("PATCH", vpath, staff_token, "{\"sku\":\"OWN-2\"}");
    expect_status(r, 200, "sku freed by the product's delete");
    http_res_free(r);

    /* eight products, one SKU at once: one 201, seven 409 on sku */
    for (int i = 0; i < 8; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "RACER-%d", i);
        struct http_res *p =
            create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name", sku, "variants", "sku",
                             sku, "price", "1.00", "stock", 1, "options", "Size", "S"));
        race_products[i] = jint(p->json, "id");
        http_res_free(p);
    }
    long statuses[8];
    harness_race(8, racing_variant, NULL, statuses);
    assert_int_equal(harness_count_status(statuses, 8, 201), 1);
    assert_int_equal(harness_count_status(statuses, 8, 409), 7);
    char *n =
        harness_sql_value(&server, "SELECT count(*) FROM product_variants WHERE sku = 'RACED-SKU'"
                                   " AND deleted_at IS NULL");
    assert_string_equal(n, "1");
    free(n);
}

static void test_last_live_variant_cannot_be_deleted(void **state) {
    (void)state;
    struct http_res *r = create_three("LAST");
    long long id = jint(r->json, "id");
    long long ids[3] = {variant_id(r->json, 0), variant_id(r->json, 1), variant_id(r->json, 2)};
    http_res_free(r);
    char vpath[128];
    for (int i = 0; i < 2; i++) {
        variant_path(vpath, sizeof vpath, id, ids[i]);
        r = call("DELETE", vpath, staff_token, NULL);
        expect_status(r, 204, "delete variant");
        http_res_free(r);
    }
    variant_path(vpath, sizeof vpath, id, ids[2]);
    r = call("DELETE", vpath, staff_token, NULL);
    assert_problem(r, 409, "id"); /* a 409 names its field */
    http_res_free(r);
    r = get_product(id, NULL);
    assert_string_equal(jstr(r->json, "sku"), "LAST-L");
    assert_string_equal(jstr(r->json, "price"), "12.00");
    assert_int_equal(jint(r->json, "stock"), 4);
    assert_int_equal(jint(r->json, "variant_count"), 1);
    http_res_free(r);
}

static void test_hundred_and_first_variant_is_422(void **state) {
    (void)state;
    json_t *many = json_array();
    for (int i = 0; i < 100; i++) {
        char sku[32], size[16];
        snprintf(sku, sizeof sku, "HUN-%d", i);
        snprintf(size, sizeof size, "%d", i);
        json_array_append_new(many, json_pack("{s:s, s:s, s:i, s:{s:s}}", "sku", sku, "price",
                                              "1.00", "stock", 1, "options", "Size", size));
    }
    struct http_res *r = create(json_body("{s:s, s:o}", "name", "Hundred", "variants", many));
    long long id = jint(r->json, "id");
    assert_int_equal(jint(r->json, "variant_count"), 100);
    assert_int_equal(jint(r->json, "stock"), 100);
    http_res_free(r);
    char path[96];
    variants_path(path, sizeof path, id);
    expect_problem(call("POST", path, staff_token,
                        "{\"sku\":\"HUN-100\",\"price\":\"1.00\",\"stock\":1,"
                        "\"options\":{\"Size\":\"100\"}}"),
                   422, "variants");
}

/* ---- sku, price and stock through the product ---------------------------------- */

static void test_product_writes_of_sku_price_stock(void **state) {
    (void)state;
    long long one = create_simple("SOLO-1", "2.00", 3);
    char path[64];
    product_path(path, sizeof path, one);
    struct http_res *r = call("PATCH", path, staff_token, "{\"price\":\"2.75\",\"stock\":9}");
    expect_status(r, 200, "patch the one variant");
    assert_string_equal(jstr(r->json, "price"), "2.75");
    json_t *v = json_array_get(json_object_get(r->json, "variants"), 0);
    assert_string_equal(jstr(v, "price"), "2.75");
    assert_int_equal(jint(v, "stock"), 9);
    http_res_free(r);
    expect_problem(call("PUT", path, staff_token, "{\"name\":\"Solo\",\"sku\":\"SOLO-1\"}"), 422,
                   "price");

    r = create_three("MULTI");
    long long id = jint(r->json, "id");
    http_res_free(r);
    product_path(path, sizeof path, id);
    r = call("PATCH", path, staff_token, "{\"stock\":5,\"sku\":\"X\",\"name\":\"Multi\"}");
    assert_problem(r, 422, "stock");
    assert_problem(r, 422, "sku");
    assert_true(strstr(r->body, "set it on a variant") != NULL);
    http_res_free(r);
    r = call("PUT", path, staff_token, "{\"name\":\"Multi Renamed\"}");
    expect_status(r, 200, "PUT without sku, price, stock");
    assert_string_equal(jstr(r->json, "sku"), "MULTI-S");
    assert_int_equal(jint(r->json, "stock"), 6);
    http_res_free(r);
    expect_problem(call("PUT", path, staff_token, "{\"name\":\"Multi\",\"variants\":[]}"), 422,
                   "variants");
}

/* A PATCH of a single-variant product's stock alone writes its variant,
 * then the product row once (as what it derives), as a HOT update, and
 * still moves the product's updated_at when the stock it sets is the one
 * it had. */
static void test_a_stock_patch_writes_the_product_row_once(void **state) {
    (void)state;
    long long id = create_simple("ONCE-1", "2.00", 3);
    char path[64];
    product_path(path, sizeof path, id);
    free(harness_sql(&server, "CREATE TABLE product_row_writes (id bigint, n integer);"
                              "CREATE FUNCTION count_product_row_write() RETURNS trigger"
                              " LANGUAGE plpgsql AS $$ BEGIN UPDATE product_row_writes"
                              " SET n = n + 1 WHERE id = NEW.id; RETURN NULL; END $$;"
                              "CREATE TRIGGER products_count_row_writes AFTER UPDATE ON products"
                              " FOR EACH ROW EXECUTE FUNCTION count_product_row_write()"));
    free(harness_sql_value(&server, "INSERT INTO product_row_writes VALUES (%lld, 0) RETURNING n",
                           id));

    struct http_res *before = call("GET", path, staff_token, NULL);
    expect_status(before, 200, "read before");
    struct http_res *r = call("PATCH", path, staff_token, "{\"stock\":3}");
    expect_status(r, 200, "patch the stock it has");
    assert_int_equal(jint(r->json, "stock"), 3);
    assert_string_not_equal(jstr(r->json, "updated_at"), jstr(before->json, "updated_at"));
    harness_expect_sql(&server, "1", "SELECT n FROM product_row_writes WHERE id = %lld", id);
    http_res_free(r);
    http_res_free(before);

    r = call("PATCH", path, staff_token, "{\"stock\":8}");
    expect_status(r, 200, "patch the stock");
    assert_int_equal(jint(r->json, "stock"), 8);
    assert_int_equal(jint(json_array_get(json_object_get(r->json, "variants"), 0), "stock"), 8);
    harness_expect_sql(&server, "2", "SELECT n FROM product_row_writes WHERE id = %lld", id);
    /* A HOT update: the row's new version is reached from the old one on
     * its page, which no index was told of (a heap-only tuple). */
    free(harness_sql(&server, "CREATE EXTENSION IF NOT EXISTS pageinspect"));
    harness_expect_sql(&server, "t",
                       "WITH r AS (SELECT (ctid::text::point)[0]::integer AS page,"
                       " (ctid::text::point)[1]::integer AS item FROM products WHERE id = %lld)"
                       " SELECT (h.t_infomask2 & 32768) <> 0 FROM r,"
                       " heap_page_items(get_raw_page('products', r.page)) h WHERE h.lp = r.item",
                       id);
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "public read after the write");
    assert_int_equal(jint(r->json, "stock"), 8);
    http_res_free(r);
    free(harness_sql(&server,
                     "DROP TRIGGER products_count_row_writes ON products;"
                     "DROP FUNCTION count_product_row_write(); DROP TABLE product_row_writes"));
}

static void test_derived_fields_after_each_write(void **state) {
    (void)state;
    struct http_res *r = create_three("DER");
    long long id = jint(r->json, "id");
    long long s = variant_id(r->json, 0), m = variant_id(r->json, 1), l = variant_id(r->json, 2);
    http_res_free(r);
    char vpath[128];
    /* activating M (8.00, 3) lowers the price and adds its stock */
    variant_path(vpath, sizeof vpath, id, m);
    r = call("PATCH", vpath, staff_token, "{\"is_active\":true}");
    expect_status(r, 200, "activate");
    http_res_free(r);
    r = get_product(id, NULL);
    assert_string_equal(jstr(r->json, "price"), "8.00");
    assert_int_equal(jint(r->json, "stock"), 9);
    assert_int_equal(jint(r->json, "variant_count"), 3);
    http_res_free(r);
    /* moving L first makes its SKU the product's */
    variant_path(vpath, sizeof vpath, id, l);
    r = call("PATCH", vpath, staff_token, "{\"position\":0}");
    http_res_free(r); /* 422: positions start at 1 */
    r = call("PATCH", vpath, staff_token, "{\"position\":1}");
    expect_status(r, 200, "position");
    http_res_free(r);
    variant_path(vpath, sizeof vpath, id, s);
    r = call("PATCH", vpath, staff_token, "{\"position\":2}");
    expect_status(r, 200, "position");
    http_res_free(r);
    r = get_product(id, NULL);
    assert_string_equal(jstr(r->json, "sku"), "DER-L");
    http_res_free(r);
    /* no active variant: the first one's price, stock 0 */
    for (int i = 0; i < 3; i++) {
        variant_path(vpath, sizeof vpath, id, i == 0 ? s : i == 1 ? m : l);
        r = call("PATCH", vpath, staff_token, "{\"is_active\":false}");
        expect_status(r, 200, "deactivate");
        http_res_free(r);
    }
    r = get_product(id, staff_token);
    assert_string_equal(jstr(r->json, "price"), "12.00");
    assert_int_equal(jint(r->json, "stock"), 0);
    assert_true(json_is_false(json_object_get(r->json, "in_stock")));
    assert_int_equal(jint(r->json, "variant_count"), 3);
    http_res_free(r);
    r = get_product(id, NULL);
    assert_int_equal(jint(r->json, "variant_count"), 0);
    assert_int_equal(json_array_size(json_object_get(r->json, "variants")), 0);
    http_res_free(r);
    /* the list filters on the derived price */
    variant_path(vpath, sizeof vpath, id, m);
    r = call("PATCH", vpath, staff_token, "{\"is_active\":true,\"price\":\"0.50\"}");
    expect_status(r, 200, "cheap");
    http_res_free(r);
    r = get(PRODUCTS "?q=DER&max_price=0.50", NULL);
    expect_status(r, 200, "filter");
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 1);
    http_res_free(r);
}

/* ---- ETags, visibility, cache -------------------------------------------------- */

static void test_product_etag_follows_its_variants(void **state) {
    (void)state;
    struct http_res *r = create_three("TAG");
    long long id = jint(r->json, "id");
    long long m = variant_id(r->json, 1);
    http_res_free(r);
    r = get_product(id, staff_token);
    char *if_match = etag_header(r);
    http_res_free(r);
    r = get_product(id, NULL);
    char *public_tag = etag_header(r);
    http_res_free(r);
    char vpath[128], path[64];
    variant_path(vpath, sizeof vpath, id, m);
    /* the inactive M changes nothing the product derives, yet its tag,
     * the one the public sees included (and its updated_at) */
    r = call("PATCH", vpath, staff_token, "{\"stock\":30}");
    expect_status(r, 200, "patch inactive variant");
    http_res_free(r);
    r = get_product(id, NULL);
    char *public_now = etag_header(r);
    http_res_free(r);
    assert_string_not_equal(public_tag, public_now);
    free(public_tag);
    free(public_now);
    product_path(path, sizeof path, id);
    expect_problem(call_h("PATCH", path, staff_token, "{\"name\":\"Tag\"}", if_match), 412, NULL);
    free(if_match);
    r = get_product(id, staff_token);
    if_match = etag_header(r);
    http_res_free(r);
    r = call_h("PATCH", path, staff_token, "{\"name\":\"Tag\"}", if_match);
    expect_status(r, 200, "current tag");
    http_res_free(r);
    free(if_match);
}

/* Checks run route, role, body syntax, then fields: a product or variant
 * that does not exist is a 404 even when the body is invalid too; an
 * existing one with that body is a 422. */
static void test_a_missing_product_or_variant_is_404_before_bad_fields(void **state) {
    (void)state;
    char path[128];
    long long id = create_simple("ORDER-1", "5.00", 3);
    struct http_res *product = get_product(id, staff_token);
    long long vid = variant_id(product->json, 0);
    http_res_free(product);
    variants_path(path, sizeof path, 999999999);
    expect_problem(call("POST", path, staff_token, "{}"), 404, NULL);
    variant_path(path, sizeof path, 999999999, vid);
    expect_problem(call("PATCH", path, staff_token, "{\"price\": \"-1\"}"), 404, NULL);
    variant_path(path, sizeof path, id, 999999999);
    expect_problem(call("PATCH", path, staff_token, "{\"price\": \"-1\"}"), 404, NULL);
    product_path(path, sizeof path, 999999999);
    expect_problem(call("PATCH", path, staff_token, "{\"price\": 1}"), 404, NULL);
    expect_problem(call("PUT", path, staff_token, "{}"), 404, NULL);
    /* the same bodies on what exists */
    variants_path(path, sizeof path, id);
    expect_problem(call("POST", path, staff_token, "{}"), 422, "sku");
    variant_path(path, sizeof path, id, vid);
    expect_problem(call("PATCH", path, staff_token, "{\"price\": \"-1\"}"), 422, "price");
    product_path(path, sizeof path, id);
    expect_problem(call("PATCH", path, staff_token, "{\"price\": 1}"), 422, "price");
}

/* The 404 and 412 come first for fields named while the body is read (a
 * number past a double, a NUL) too; on what exists, the 422 names those
 * fields, and only them. */
static void test_missing_or_stale_before_fields_read_at_fault(void **state) {
    (void)state;
    static const char *const BODIES[] = {"{\"price\": 1e400}", "{\"name\": \"a\\u0000\"}",
                                         "{\"n\\u0000\": 1}"};
    static const char *const FIELDS[] = {"price", "name", "n\\u0000"};
    char path[128], stale[64];
    long long id = create_simple("ORDER-2", "5.00", 3);
    struct http_res *product = get_product(id, staff_token);
    long long vid = variant_id(product->json, 0);
    http_res_free(product);
    snprintf(stale, sizeof stale, "If-Match: \"0000000000000000\"");
    for (size_t i = 0; i < 3; i++) {
        const char *body = BODIES[i];
        product_path(path, sizeof path, 999999999);
        expect_problem(call("PATCH", path, staff_token, body), 404, NULL);
        expect_problem(call("PUT", path, staff_token, body), 404, NULL);
        variants_path(path, sizeof path, 999999999);
        expect_problem(call("POST", path, staff_token, body), 404, NULL);
        variant_path(path, sizeof path, 999999999, vid);
        expect_problem(call("PATCH", path, staff_token, body), 404, NULL);
        variant_path(path, sizeof path, id, 999999999);
        expect_problem(call("PATCH", path, staff_token, body), 404, NULL);
        /* what exists: a stale If-Match is a 412, else the fields' 422 */
        product_path(path, sizeof path, id);
        expect_problem(call_h("PATCH", path, staff_token, body, stale), 412, NULL);
        struct http_res *r = call("PUT", path, staff_token, body);
        assert_problem(r, 422, FIELDS[i]);
        assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
        http_res_free(r);
        variant_path(path, sizeof path, id, vid);
        expect_problem(call_h("PATCH", path, staff_token, body, stale), 412, NULL);
        r = call("PATCH", path, staff_token, body);
        assert_problem(r, 422, FIELDS[i]);
        assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
        http_res_free(r);
        variants_path(path, sizeof path, id);
        expect_problem(call("POST", path, staff_token, body), 422, FIELDS[i]);
    }
    product = get_product(id, staff_token);
    assert_string_equal(jstr(product->json, "price"), "5.00");
    http_res_free(product);
}

static void test_inactive_variants_are_for_staff(void **state) {
    (void)state;
    struct http_res *r = create_three("VIS");
    long long id = jint(r->json, "id");
    long long m = variant_id(r->json, 1);
    http_res_free(r);
    char vpath[128], path[96];
    variant_path(vpath, sizeof vpath, id, m);
    expect_problem(get(vpath, NULL), 404, NULL);
    expect_problem(get(vpath, customer_token), 404, NULL);
    r = get(vpath, staff_token);
    expect_status(r, 200, "staff sees inactive");
    http_res_free(r);
    variants_path(path, sizeof path, id);
    r = get(path, NULL);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 2);
    http_res_free(r);
    r = get(path, staff_token);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 3);
    http_res_free(r);
    /* an inactive product's variants are hidden with it */
    char ppath[64];
    product_path(ppath, sizeof ppath, id);
    r = call("PATCH", ppath, staff_token, "{\"is_active\":false}");
    expect_status(r, 200, "deactivate product");
    http_res_free(r);
    expect_problem(get(path, NULL), 404, NULL);
    r = get(path, staff_token);
    expect_status(r, 200, "staff");
    http_res_free(r);
}

static const char *cache_state(const char *path, const char *token, json_t **json) {
    static char state[16];
    struct http_res *r = get(path, token);
    expect_status(r, 200, path);
    const char *h = http_header(r, "X-Cache");
    snprintf(state, sizeof state, "%s", h ? h : "");
    *json = json_incref(r->json);
    http_res_free(r);
    return state;
}

static void test_cached_reads_follow_variant_writes(void **state) {
    (void)state;
    struct http_res *r = create_three("CACHE");
    long long id = jint(r->json, "id");
    long long s = variant_id(r->json, 0);
    http_res_free(r);
    char path[64], vpath[128], list[128], vlist[96];
    product_path(path, sizeof path, id);
    variant_path(vpath, sizeof vpath, id, s);
    variants_path(vlist, sizeof vlist, id);
    snprintf(list, sizeof list, PRODUCTS "?q=CACHE");
    const char *paths[] = {path, vpath, vlist, list};
    json_t *j;
    for (size_t i = 0; i < 4; i++) {
        cache_state(paths[i], NULL, &j);
        json_decref(j);
        assert_string_equal(cache_state(paths[i], NULL, &j), "HIT");
        json_decref(j);
    }
    r = call("PATCH", vpath, staff_token, "{\"price\":\"9.00\",\"stock\":7}");
    expect_status(r, 200, "patch");
    http_res_free(r);
    cache_state(path, NULL, &j);
    assert_string_equal(jstr(j, "price"), "9.00");
    assert_int_equal(jint(j, "stock"), 11);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "variants"), 0), "price"), "9.00");
    json_decref(j);
    cache_state(vpath, NULL, &j);
    assert_int_equal(jint(j, "stock"), 7);
    json_decref(j);
    cache_state(vlist, NULL, &j);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "items"), 0), "price"), "9.00");
    json_decref(j);
    cache_state(list, NULL, &j);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "items"), 0), "price"), "9.00");
    json_decref(j);
    /* a new variant shows in the item, the variant list and the counts */
    r = call("POST", vlist, staff_token,
             "{\"sku\":\"CACHE-XL\",\"price\":\"1.00\",\"stock\":1,"
             "\"options\":{\"Size\":\"XL\",\"Color\":\"Red\"}}");
    expect_status(r, 201, "new variant");
    http_res_free(r);
    cache_state(path, NULL, &j);
    assert_int_equal(jint(j, "variant_count"), 3);
    assert_string_equal(jstr(j, "price"), "1.00");
    json_decref(j);
    cache_state(list, NULL, &j);
    assert_int_equal(jint(json_array_get(json_object_get(j, "items"), 0), "variant_count"), 3);
    json_decref(j);
    cache_state(vlist, NULL, &j);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 3);
    json_decref(j);
}

/* ---- stock ----------------------------------------------------------------------- */

static long long race_variant;

static long racing_decrement(int i, void *ctx) {
    (void)i;
    (void)ctx;
    char q[160];
    snprintf(q, sizeof q, "UPDATE product_variants SET stock = stock - 1 WHERE id = %lld",
             race_variant);
    char *out = harness_sql(&server, q);
    long status = out ? 200 : 422; /* 422: the stock check refused it */
    free(out);
    return status;
}

static void test_stock_never_goes_below_zero(void **state) {
    (void)state;
    long long id = create_simple("DECR-1", "1.00", 3);
    struct http_res *r = get_product(id, NULL);
    race_variant = variant_id(r->json, 0);
    http_res_free(r);
    long statuses[8];
    harness_race(8, racing_decrement, NULL, statuses);
    assert_int_equal(harness_count_status(statuses, 8, 200), 3);
    assert_int_equal(harness_count_status(statuses, 8, 422), 5);
    char *stock = harness_sql_value(&server, "SELECT stock FROM product_variants WHERE id = %lld",
                                    race_variant);
    assert_string_equal(stock, "0");
    free(stock);
    /* what the product derives, as any writer of variants must ask for */
    free(harness_sql_value(&server, "SELECT nexus_product_derive(%lld)", id));
    char vpath[128];
    variant_path(vpath, sizeof vpath, id, race_variant);
    expect_problem(call("PATCH", vpath, staff_token, "{\"stock\":-1}"), 422, "stock");
}

static void test_low_stock_alert_names_the_variant(void **state) {
    (void)state;
    struct http_res *r = create_three("LOW");
    long long id = jint(r->json, "id");
    long long l = variant_id(r->json, 2);
    http_res_free(r);
    char vpath[128];
    variant_path(vpath, sizeof vpath, id, l);
    r = call("PATCH", vpath, staff_token, "{\"stock\":50}");
    expect_status(r, 200, "restock");
    http_res_free(r);
    r = call("PATCH", vpath, staff_token, "{\"stock\":1}");
    expect_status(r, 200, "sell out");
    http_res_free(r);
    char *jobs = harness_sql_value(&server,
                                   "SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'"
                                   " AND payload->>'sku' = 'LOW-L' AND payload->>'variant_id' = "
                                   "'%lld' AND (payload->>'stock')::int = 1",
                                   l);
    assert_string_equal(jobs, "1");
    free(jobs);
}

/* The streamed bytes are what jansson writes for the same document. */
static void assert_jansson_bytes(const struct http_res *r) {
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    char *again = json_dumps(j, JSON_COMPACT);
    assert_string_equal(r->body, again);
    free(again);
    json_decref(j);
}

static void test_bodies_are_what_jansson_writes(void **state) {
    (void)state;
    struct http_res *r = create(json_body(
        "{s:s, s:s, s:[{s:s, s:s, s:i, s:{s:s, s:s}}, {s:s, s:s, s:i, s:{s:s, s:s}}]}", "name",
        "Crème \"Brûlée\" / Set", "description", "tab\there, newline\nthere", "variants", "sku",
        "BRULEE-1", "price", "0.05", "stock", 0, "options", "Größe", "Ø 12 \"cm\"", "Finish",
        "Matt/\\Gloss", "sku", "BRULEE-2", "price", "99999999.99", "stock", 2147483647, "options",
        "Größe", "Ø 14", "Finish", "Glänzend"));
    assert_jansson_bytes(r);
    long long id = jint(r->json, "id");
    http_res_free(r);
    char path[96];
    r = get_product(id, staff_token);
    assert_jansson_bytes(r);
    http_res_free(r);
    variants_path(path, sizeof path, id);
    r = get(path, NULL);
    assert_jansson_bytes(r);
    http_res_free(r);
    r = get(PRODUCTS "?limit=100&include_inactive=true", staff_token);
    assert_jansson_bytes(r);
    http_res_free(r);
}

/* ---- the item against the list and the variants endpoint ---------------- */

/* One past the end of the object or array that starts at s. */
static const char *value_end(const char *s) {
    int depth = 0;
    bool in_string = false;
    for (; *s; s++) {
        if (in_string) {
            if (*s == '\\')
                s++;
            else if (*s == '"')
                in_string = false;
        } else if (*s == '"') {
            in_string = true;
        } else if (*s == '{' || *s == '[') {
            depth++;
        } else if ((*s == '}' || *s == ']') && --depth == 0) {
            return s + 1;
        }
    }
    return s;
}

/* The text of the array after "items": in body, as sent. */
static const char *items_of(const char *body) {
    const char *items = strstr(body, "\"items\":[");
    assert_non_null(items);
    return items + strlen("\"items\":");
}

/* GET /products/{id} answers exactly the bytes the product's list item and
 * its variants endpoint give: the list item with "variants" appended, the
 * variants endpoint's items as they are, and an ETag of those bytes. */
static void expect_item_as_listed(const char *list_item, size_t item_len, long long id,
                                  const char *token) {
    char path[96];
    variants_path(path, sizeof path, id);
    struct http_res *variants = get(path, token);
    expect_status(variants, 200, "variants");
    const char *vitems = items_of(variants->body);
    size_t vlen = (size_t)(value_end(vitems) - vitems);
    size_t cap = item_len + vlen + 32;
    char *want = malloc(cap);
    snprintf(want, cap, "%.*s,\"variants\":%.*s}", (int)(item_len - 1), list_item, (int)vlen,
             vitems);
    http_res_free(variants);
    char tag[NX_ETAG_LEN + 1];
    etag_of(want, strlen(want), tag);
    struct http_res *r = get_product(id, token);
    assert_string_equal(r->body, want);
    assert_string_equal(http_header(r, "ETag"), tag);
    http_res_free(r);
    free(want);
}

/* expect_item_as_listed for every product from min_id on of the list the
 * caller sees (staff: inactive products too); returns how many. (Earlier
 * tests write some rows behind the cache's back.) */
static long items_as_listed(const char *token, bool staff, long long min_id) {
    char path[512], *cursor = NULL;
    long seen = 0;
    do {
        snprintf(path, sizeof path, PRODUCTS "?limit=100%s%s%s",
                 staff ? "&include_inactive=true" : "", cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *page = get(path, token);
        expect_status(page, 200, "list");
        const char *at = items_of(page->body) + 1; /* past '[' */
        while (*at == '{') {
            const char *end = value_end(at);
            json_t *item = json_loadb(at, (size_t)(end - at), 0, NULL);
            assert_non_null(item);
            long long id = jint(item, "id");
            json_decref(item);
            if (id >= min_id) {
                expect_item_as_listed(at, (size_t)(end - at), id, token);
                seen++;
            }
            at = *end == ',' ? end + 1 : end;
        }
        const char *next = json_string_value(json_object_get(page->json, "next_cursor"));
        cursor = next ? take(next) : NULL;
        http_res_free(page);
    } while (cursor);
    return seen;
}

/* Products with and without variants, attributes and images, inactive
 * variants and an inactive product, as the public and as staff. */
static void test_item_is_the_list_item_with_its_variants(void **state) {
    (void)state;
    struct http_res *r = create_three("ITEM");
    long long first = jint(r->json, "id"), id = first;
    http_res_free(r);
    char path[64];
    product_path(path, sizeof path, id);
    r = call("PATCH", path, staff_token,
             "{\"attributes\":{\"brand\":\"Acme \\\"Q\\\"\",\"weight_g\":350.50,"
             "\"waterproof\":true},\"images\":[{\"url\":\"https://cdn.example.com/a.jpg\","
             "\"alt\":\"Front\"},{\"url\":\"http://cdn.example.com/b.png\"}]}");
    expect_status(r, 200, "attributes and images");
    http_res_free(r);
    r = create_three("ITEM-OFF");
    product_path(path, sizeof path, jint(r->json, "id"));
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"is_active\":false}");
    expect_status(r, 200, "deactivate");
    http_res_free(r);
    create_simple("ITEM-PLAIN", "3.50", 0);
    /* a product whose one variant is inactive: the public sees no variant */
    id = create_simple("ITEM-NONE", "4.50", 1);
    r = get_product(id, staff_token);
    char vpath[128];
    variant_path(vpath, sizeof vpath, id, variant_id(r->json, 0));
    http_res_free(r);
    r = call("PATCH", vpath, staff_token, "{\"is_active\":false}");
    expect_status(r, 200, "deactivate the only variant");
    http_res_free(r);
    r = get_product(id, NULL);
    assert_int_equal(json_array_size(json_object_get(r->json, "variants")), 0);
    http_res_free(r);
    assert_int_equal(items_as_listed(NULL, false, first), 3);
    assert_int_equal(items_as_listed(customer_token, false, first), 3);
    assert_int_equal(items_as_listed(staff_token, true, first), 4);
}

/* ---- the demo catalog ------------------------------------------------------ */

/* `nexus seed` writes each product's derived columns itself (the variant
 * triggers are off for its COPY): they must be exactly what
 * nexus_product_derive computes from the variants. Deriving every product
 * again writes only the rows that differ, so a snapshot taken before must
 * still match after. The variants are realistic: about a third of the
 * products have 2 to 12 over 1 to 3 options, every live variant of a
 * product has the same option names. */
static void test_seeded_catalog_derives_like_the_database(void **state) {
    (void)state;
    struct nexus_server seeded;
    char out[4096];
    harness_start(&seeded, "variants_seed", NULL);
    const char *args[] = {"seed", "--products", "600", "--categories", "52", NULL};
    assert_int_equal(harness_run(&seeded, NULL, args, NULL, out, sizeof out), 0);
    harness_expect_sql(&seeded, "0",
                       "CREATE TEMP TABLE seeded AS SELECT id, sku, price_cents, price_max_cents,"
                       " stock, variant_count, variant_active_count, variant_options FROM products;"
                       "SELECT count(nexus_product_derive(id)) FROM products;"
                       "SELECT count(*) FROM products p JOIN seeded s USING (id)"
                       " WHERE (p.sku, p.price_cents, p.price_max_cents, p.stock, p.variant_count,"
                       " p.variant_active_count, p.variant_options) IS DISTINCT FROM (s.sku,"
                       " s.price_cents, s.price_max_cents, s.stock, s.variant_count,"
                       " s.variant_active_count, s.variant_options)");
    harness_expect_solo_variants_exact(&seeded, "a seed");
    /* the counts also against the variant rows themselves */
    harness_expect_sql(&seeded, "600",
                       "SELECT count(*) FROM products p WHERE variant_count = (SELECT count(*)"
                       " FROM product_variants v WHERE v.product_id = p.id)");
    harness_expect_sql(&seeded, "t",
                       "SELECT count(*) FILTER (WHERE variant_count > 1) BETWEEN 150 AND 250"
                       " AND max(variant_count) <= 12"
                       " AND bool_and(jsonb_array_length(variant_options) BETWEEN 1 AND 3)"
                       " FILTER (WHERE variant_count > 1)"
                       " AND bool_and(variant_options = '[]') FILTER (WHERE variant_count = 1)"
                       " FROM products");
    harness_expect_sql(&seeded, "0",
                       "SELECT count(*) FROM (SELECT product_id FROM product_variants"
                       " GROUP BY product_id HAVING count(DISTINCT option_names) > 1) x");
    /* the seeded items, some variants inactive, read as the lists read them */
    harness_expect_sql(&seeded, "",
                       "UPDATE product_variants SET is_active = false WHERE id %% 7 = 0"
                       " AND product_id IN (SELECT product_id FROM product_variants"
                       " GROUP BY product_id HAVING count(*) > 2)");
    char *staff = NULL, *customer = NULL;
    harness_staff_and_customer(&seeded, "seeded", &staff, &customer);
    char *live =
        harness_sql_value(&seeded, "SELECT count(*) FROM products WHERE deleted_at IS NULL");
    assert_int_equal(items_as_listed(staff, true, 0), atol(live));
    assert_true(items_as_listed(NULL, false, 0) > 0);
    free(live);
    free(staff);
    free(customer);
    harness_stop(&seeded);
    harness_use(&server);
}

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants); so
 * also after a write of a product's own stock, which its trigger passes on
 * to the variant (the way an import's row or a v1 writer reaches it). */
/* ---- one snapshot per item ------------------------------------------------- */

struct snapshot_race {
    long long id, variants[2];
    atomic_int writers_left;
    atomic_int reads, torn, failed; /* failed: answers other than 200 */
};

/* Stock PATCHes of the product's two active variants, in turn. The
 * threads of this race count what went wrong and the test asserts it: a
 * failed assertion may not leave a thread. */
static void *write_stocks(void *arg) {
    struct snapshot_race *race = arg;
    char path[96], body[32];
    for (int i = 0; i < 120; i++) {
        variant_path(path, sizeof path, race->id, race->variants[i % 2]);
        snprintf(body, sizeof body, "{\"stock\": %d}", i % 50);
        struct http_res *r = call("PATCH", path, staff_token, body);
        if (r->status != 200)
            atomic_fetch_add(&race->failed, 1);
        http_res_free(r);
    }
    atomic_fetch_sub(&race->writers_left, 1);
    return NULL;
}

/* Whether the item's stock is the sum of its active variants' stock. */
static bool item_is_one_snapshot(json_t *product) {
    json_t *variants = json_object_get(product, "variants"), *v;
    long long sum = 0;
    size_t i;
    json_array_foreach(variants, i, v) {
        if (json_is_true(json_object_get(v, "is_active")))
            sum += json_integer_value(json_object_get(v, "stock"));
    }
    return json_array_size(variants) == 3 &&
           sum == json_integer_value(json_object_get(product, "stock"));
}

/* Reads of the item while the writers run (and at least 50). */
static void *read_items(void *arg) {
    struct snapshot_race *race = arg;
    char path[64];
    product_path(path, sizeof path, race->id);
    for (int n = 0; n < 50 || atomic_load(&race->writers_left) > 0; n++) {
        struct http_res *r = get(path, staff_token);
        atomic_fetch_add(&race->reads, 1);
        if (r->status != 200)
            atomic_fetch_add(&race->failed, 1);
        else if (!item_is_one_snapshot(r->json)) {
            if (atomic_fetch_add(&race->torn, 1) == 0)
                fprintf(stderr, "torn item: %s\n", r->body);
        }
        http_res_free(r);
    }
    return NULL;
}

/* An item is one snapshot: a variant write racing the read never pairs
 * the product's derived stock with older or newer variants (as reading
 * the product and its variants in two statements would: with that, this
 * test saw 10-21 torn items in 700 reads). Readers and writers race on a
 * server without a cache, so that every read reaches PostgreSQL. */
static void test_an_item_read_is_one_snapshot_of_its_variants(void **state) {
    (void)state;
    static const char *const env[] = {"REDIS_URL=", NULL};
    struct nexus_server plain = {0};
    struct http_res *created = create_three("SNAP");
    harness_start_url(&plain, "variants-plain", server.database_url, env);
    struct snapshot_race race = {.id = jint(created->json, "id")};
    race.variants[0] = variant_id(created->json, 0);
    race.variants[1] = variant_id(created->json, 2); /* the middle one is inactive */
    http_res_free(created);
    atomic_init(&race.writers_left, 2);
    pthread_t threads[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, i < 2 ? write_stocks : read_items, &race), 0);
    for (int i = 0; i < 6; i++)
        pthread_join(threads[i], NULL);
    fprintf(stderr, "%d reads during 240 variant writes, %d torn\n", atomic_load(&race.reads),
            atomic_load(&race.torn));
    assert_int_equal(atomic_load(&race.failed), 0);
    assert_int_equal(atomic_load(&race.torn), 0);
    harness_use(&server);
    harness_stop(&plain);
}

/* The statements a public GET of product id ran on the current server
 * (one without a cache), and the number of variants it listed. */
static long statements_of_item(long long id, size_t *variants) {
    long before = http_metric("nexus_db_statements_total");
    struct http_res *r = get_product(id, NULL);
    *variants = json_array_size(json_object_get(r->json, "variants"));
    http_res_free(r);
    long after = http_metric("nexus_db_statements_total");
    assert_true(before >= 0 && after > before);
    return after - before;
}

/* POST a variant of id with options {"Size": size}; its id. */
static long long add_sized_variant(long long id, const char *sku, const char *size) {
    char path[96];
    variants_path(path, sizeof path, id);
    struct http_res *r = call_owned("POST", path, staff_token,
                                    json_body("{s:s, s:s, s:i, s:{s:s}}", "sku", sku, "price",
                                              "4.00", "stock", 1, "options", "Size", size));
    expect_status(r, 201, "add variant");
    long long vid = jint(r->json, "id");
    http_res_free(r);
    return vid;
}

static void expect_item_statements(long long id, long statements, size_t variants) {
    size_t listed = 0;
    assert_int_equal(statements_of_item(id, &listed), statements);
    assert_int_equal(listed, variants);
}

/* A one-variant product's item is one statement (its row alone); a
 * product with several variants costs a second statement the first time
 * it is read, then one; when it is down to one variant again, its row
 * alone answers again. Every read shows what the last write left. */
static void test_an_item_costs_one_statement_once_its_shape_is_known(void **state) {
    (void)state;
    static const char *const env[] = {"REDIS_URL=", NULL};
    struct nexus_server plain = {0};
    harness_start_url(&plain, "variants-plans", server.database_url, env);
    long long id = create_simple("PLAN-S", "5.00", 2);
    char first[128], added[128];
    struct http_res *r = get_product(id, NULL);
    variant_path(first, sizeof first, id, variant_id(r->json, 0));
    http_res_free(r);
    r = call("PATCH", first, staff_token, "{\"options\":{\"Size\":\"S\"}}");
    expect_status(r, 200, "options of the only variant");
    http_res_free(r);
    size_t listed = 0;
    for (int i = 0; i < 4; i++) /* every connection of the server used once */
        statements_of_item(id, &listed);
    long one = statements_of_item(id, &listed);
    assert_int_equal(listed, 1);

    variant_path(added, sizeof added, id, add_sized_variant(id, "PLAN-M", "M"));
    expect_item_statements(id, one + 1, 2); /* the row alone did not answer */
    expect_item_statements(id, one, 2);     /* now known: the full statement first */
    r = call("DELETE", added, staff_token, NULL);
    expect_status(r, 204, "delete variant");
    http_res_free(r);
    expect_item_statements(id, one, 1); /* the full statement, which says it has one */
    add_sized_variant(id, "PLAN-L", "L");
    expect_item_statements(id, one + 1, 2); /* so the row alone was asked first again */
    expect_item_statements(id, one, 2);
    harness_use(&server);
    harness_stop(&plain);
}

/* ---- one error per field, option names as the database folds them, stock totals ---- */

/* How many of an answer's errors name field. */
static size_t errors_on(const struct http_res *r, const char *field) {
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "errors"), i, e) {
        n += strcmp(jstr(e, "field"), field) == 0;
    }
    return n;
}

/* A 422 with exactly one error, on field. */
static void expect_one_error(struct http_res *r, const char *field) {
    assert_problem(r, 422, field);
    if (json_array_size(json_object_get(r->json, "errors")) != 1)
        fprintf(stderr, "errors: %s\n", r->body);
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    assert_int_equal(errors_on(r, field), 1);
    http_res_free(r);
}

static void test_variants_of_the_wrong_shape_are_one_error(void **state) {
    (void)state;
    expect_one_error(call("POST", PRODUCTS, staff_token, "{\"name\":\"Shape\",\"variants\":\"x\"}"),
                     "variants");
    expect_one_error(call("POST", PRODUCTS, staff_token, "{\"name\":\"Shape\",\"variants\":null}"),
                     "variants");
    expect_one_error(call("POST", PRODUCTS, staff_token,
                          "{\"name\":\"Shape\",\"sku\":\"SHAPE-1\",\"variants\":{}}"),
                     "variants");
    expect_one_error(call("POST", PRODUCTS, staff_token,
                          "{\"name\":\"Shape\",\"sku\":\"SHAPE-1\",\"price\":\"1.00\","
                          "\"stock\":1,\"variants\":[]}"),
                     "variants");
}

/* PostgreSQL compares option names lower-cased in the database's locale
 * (C.UTF-8, so beyond ASCII): the API's own checks must fold them alike. */
static void test_option_names_fold_as_the_database_folds_them(void **state) {
    (void)state;
    /* É and é are one name to the database, so an option named twice */
    expect_one_error(call_owned("POST", PRODUCTS, staff_token,
                                json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s, s:s}}]}", "name",
                                          "Fold", "variants", "sku", "FOLD-0", "price", "1.00",
                                          "stock", 1, "options", "É", "a", "é", "b")),
                     "variants[0].options");
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                         " {s:s, s:s, s:i, s:{s:s}}]}",
                         "name", "Fold", "variants", "sku", "FOLD-1", "price", "1.00", "stock", 1,
                         "options", "ÉPAISSEUR", "1mm", "sku", "FOLD-2", "price", "1.00", "stock",
                         1, "options", "épaisseur", "2mm"));
    long long id = jint(r->json, "id");
    assert_int_equal(jint(r->json, "variant_count"), 2);
    http_res_free(r);
    char path[96], vpath[128];
    variants_path(path, sizeof path, id);
    expect_one_error(call_owned("POST", path, staff_token,
                                json_body("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", "FOLD-3", "price",
                                          "1.00", "stock", 1, "options", "Σ", "x", "σ", "y")),
                     "options");
    r = get_product(id, staff_token);
    variant_path(vpath, sizeof vpath, id, variant_id(r->json, 1));
    http_res_free(r);
    expect_one_error(
        call_owned("PATCH", vpath, staff_token,
                   json_body("{s:{s:s, s:s}}", "options", "Épaisseur", "3mm", "épaisseur", "4mm")),
        "options");
    /* the same name in a third case, through the variant endpoint */
    r = call_owned("POST", path, staff_token,
                   json_body("{s:s, s:s, s:i, s:{s:s}}", "sku", "FOLD-3", "price", "1.00", "stock",
                             1, "options", "Épaisseur", "5mm"));
    expect_status(r, 201, "the same name in another case");
    http_res_free(r);
}

/* ---- one spelling of each option name --------------------------------------- */

/* The value of option name in the options of variant i of product. */
static const char *option_of(json_t *product, size_t i, const char *name) {
    json_t *v = json_array_get(json_object_get(product, "variants"), i);
    json_t *value = json_object_get(json_object_get(v, "options"), name);
    return json_is_string(value) ? json_string_value(value) : "(none)";
}

/* The option names the product's live variants are stored with. */
static void expect_stored_names(long long id, const char *names) {
    harness_expect_sql(&server, names,
                       "SELECT string_agg(DISTINCT k, ',' ORDER BY k) FROM product_variants v,"
                       " jsonb_object_keys(v.options) k WHERE v.product_id = %lld"
                       " AND v.deleted_at IS NULL",
                       id);
}

/* The names of the product's options summary, in its order. */
static void expect_summary_names(long long id, const char *names) {
    harness_expect_sql(&server, names,
                       "SELECT string_agg(o->>'name', ',' ORDER BY n) FROM products p,"
                       " jsonb_array_elements(p.variant_options) WITH ORDINALITY AS x(o, n)"
                       " WHERE p.id = %lld",
                       id);
}

/* A product has one spelling of each option name: a write that spells one
 * in another case is stored (and answered) as the product's variants
 * spell it, the first variant's for a product created with variants. */
static void test_option_names_keep_the_products_spelling(void **state) {
    (void)state;
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s, s:s}}, {s:s, s:s, s:i, s:{s:s, s:s}}]}",
                         "name", "Spelled", "variants", "sku", "SPELL-S", "price", "1.00", "stock",
                         1, "options", "Girth", "S", "Hue", "Red", "sku", "SPELL-M", "price",
                         "1.00", "stock", 1, "options", "girth", "M", "HUE", "Red"));
    long long id = jint(r->json, "id");
    long long medium = variant_id(r->json, 1);
    assert_string_equal(option_of(r->json, 1, "Girth"), "M");
    assert_string_equal(option_of(r->json, 1, "Hue"), "Red");
    http_res_free(r);
    char path[96], vpath[128];
    variants_path(path, sizeof path, id);
    r = call("POST", path, staff_token,
             "{\"sku\":\"SPELL-L\",\"price\":\"3\",\"stock\":0,"
             "\"options\":{\"GIRTH\":\"L\",\"hue\":\"Blue\"}}");
    expect_status(r, 201, "a new variant spelling the names in another case");
    assert_string_equal(jstr(json_object_get(r->json, "options"), "Girth"), "L");
    assert_string_equal(jstr(json_object_get(r->json, "options"), "Hue"), "Blue");
    http_res_free(r);
    variant_path(vpath, sizeof vpath, id, medium);
    r = call("PATCH", vpath, staff_token, "{\"options\":{\"gIRTH\":\"XL\",\"Hue\":\"Red\"}}");
    expect_status(r, 200, "a PATCH spelling a name in another case");
    assert_string_equal(jstr(json_object_get(r->json, "options"), "Girth"), "XL");
    http_res_free(r);
    expect_stored_names(id, "Girth,Hue");
    expect_summary_names(id, "Girth,Hue");
    r = get_product(id, NULL);
    for (size_t i = 0; i < 3; i++)
        assert_string_not_equal(option_of(r->json, i, "Girth"), "(none)");
    http_res_free(r);
    /* the option filter and the facets find it under one spelling */
    r = get(PRODUCTS "?option.GIRTH=xl", NULL);
    expect_status(r, 200, "option filter");
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_int_equal(jint(json_array_get(items, 0), "id"), id);
    http_res_free(r);
    r = get(PRODUCTS "/facets?option.hue=Red", NULL);
    expect_status(r, 200, "facets");
    /* each name once, as the product spells it */
    size_t found = 0;
    const char *name;
    json_t *values;
    json_object_foreach(json_object_get(r->json, "options"), name, values) {
        if (strcasecmp(name, "Girth") == 0 || strcasecmp(name, "Hue") == 0) {
            assert_true(strcmp(name, "Girth") == 0 || strcmp(name, "Hue") == 0);
            found++;
        }
    }
    assert_int_equal(found, 2);
    http_res_free(r);
}

/* The only live variant has nothing to agree with: a PATCH of its options
 * respells the names, and the product's next variant takes that spelling. */
static void test_the_only_variant_may_respell_its_names(void **state) {
    (void)state;
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name", "Respelled", "variants",
                         "sku", "RESPELL-S", "price", "1.00", "stock", 1, "options", "Girth", "S"));
    long long id = jint(r->json, "id");
    char path[96], vpath[128];
    variant_path(vpath, sizeof vpath, id, variant_id(r->json, 0));
    http_res_free(r);
    r = call("PATCH", vpath, staff_token, "{\"options\":{\"GIRTH\":\"S\"}}");
    expect_status(r, 200, "a rename of the only variant's names");
    assert_string_equal(jstr(json_object_get(r->json, "options"), "GIRTH"), "S");
    http_res_free(r);
    expect_summary_names(id, "GIRTH");
    variants_path(path, sizeof path, id);
    r = call("POST", path, staff_token,
             "{\"sku\":\"RESPELL-M\",\"price\":\"1\",\"stock\":0,\"options\":{\"Girth\":\"M\"}}");
    expect_status(r, 201, "a second variant");
    assert_string_equal(jstr(json_object_get(r->json, "options"), "GIRTH"), "M");
    http_res_free(r);
    expect_stored_names(id, "GIRTH");
}

#define STOCK_MAX    2147483647
#define STOCK_PASSED "the product's stock (the sum over its active variants) would pass 2147483647"

/* A 422 whose one error names field with the message of a stock total
 * past the integer range. */
static void expect_stock_passed(struct http_res *r, const char *field) {
    assert_problem(r, 422, field);
    json_t *e = json_array_get(json_object_get(r->json, "errors"), 0);
    assert_non_null(e);
    assert_string_equal(jstr(e, "message"), STOCK_PASSED);
    expect_one_error(r, field);
}

static void test_a_stock_total_past_the_integer_range_is_422_on_its_field(void **state) {
    (void)state;
    expect_stock_passed(
        call_owned("POST", PRODUCTS, staff_token,
                   json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                             " {s:s, s:s, s:i, s:{s:s}}]}",
                             "name", "Overflow", "variants", "sku", "OVER-1", "price", "1.00",
                             "stock", STOCK_MAX, "options", "Size", "S", "sku", "OVER-2", "price",
                             "1.00", "stock", STOCK_MAX, "options", "Size", "M")),
        "variants");
    harness_expect_sql(&server, "0", "SELECT count(*) FROM products WHERE name = 'Overflow'");
    harness_expect_sql(&server, "0", "SELECT count(*) FROM product_variants WHERE sku = 'OVER-1'");
    /* one variant holds the most a product may: any more is refused, and
     * the write that would pass it leaves nothing behind */
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name", "Full", "variants", "sku",
                         "FULL-1", "price", "1.00", "stock", STOCK_MAX, "options", "Size", "S"));
    long long id = jint(r->json, "id");
    assert_int_equal(jint(r->json, "stock"), STOCK_MAX);
    http_res_free(r);
    char path[96], vpath[128];
    variants_path(path, sizeof path, id);
    expect_stock_passed(call("POST", path, staff_token,
                             "{\"sku\":\"FULL-2\",\"price\":\"1.00\",\"stock\":1,"
                             "\"options\":{\"Size\":\"M\"}}"),
                        "stock");
    harness_expect_sql(&server, "1",
                       "SELECT count(*) FROM product_variants WHERE product_id = %lld", id);
    r = call("POST", path, staff_token,
             "{\"sku\":\"FULL-2\",\"price\":\"1.00\",\"stock\":0,\"options\":{\"Size\":\"M\"}}");
    expect_status(r, 201, "a variant of stock 0");
    variant_path(vpath, sizeof vpath, id, jint(r->json, "id"));
    http_res_free(r);
    expect_stock_passed(call("PATCH", vpath, staff_token, "{\"stock\":1}"), "stock");
    r = call("PATCH", vpath, staff_token, "{\"stock\":5,\"is_active\":false}");
    expect_status(r, 200, "an inactive variant's stock does not count");
    http_res_free(r);
    expect_stock_passed(call("PATCH", vpath, staff_token, "{\"is_active\":true}"), "is_active");
    r = call("POST", path, staff_token,
             "{\"sku\":\"FULL-3\",\"price\":\"1.00\",\"stock\":7,\"options\":{\"Size\":\"L\"},"
             "\"is_active\":false}");
    expect_status(r, 201, "an inactive variant");
    http_res_free(r);
    r = get_product(id, staff_token);
    assert_int_equal(jint(r->json, "stock"), STOCK_MAX);
    assert_int_equal(jint(r->json, "variant_count"), 3);
    http_res_free(r);
    harness_expect_sql(&server, "2147483647,2147483647,5,7",
                       "SELECT p.stock FROM products p WHERE p.id = %lld UNION ALL"
                       " (SELECT stock FROM product_variants WHERE product_id = %lld"
                       " ORDER BY position, id)",
                       id, id);
}

/* The default position is one after the last, but never past the last
 * position a variant may have: ties are ordered by id, so it still comes
 * last. */
static void test_the_default_position_stops_at_the_last_one(void **state) {
    (void)state;
    long long id = create_simple("LASTPOS-1", "1.00", 1);
    struct http_res *r = get_product(id, staff_token);
    char path[96], vpath[128];
    variant_path(vpath, sizeof vpath, id, variant_id(r->json, 0));
    http_res_free(r);
    r = call("PATCH", vpath, staff_token, "{\"position\":1000000,\"options\":{\"Size\":\"S\"}}");
    expect_status(r, 200, "the last position");
    http_res_free(r);
    variants_path(path, sizeof path, id);
    r = call("POST", path, staff_token,
             "{\"sku\":\"LASTPOS-2\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"Size\":\"M\"}}");
    expect_status(r, 201, "a variant after the last position");
    assert_int_equal(jint(r->json, "position"), 1000000);
    http_res_free(r);
    r = get(path, NULL);
    expect_status(r, 200, "variants");
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(jstr(json_array_get(items, 1), "sku"), "LASTPOS-2");
    http_res_free(r);
}

/* A worker for the imports of one test, stopped even when it fails. */
static struct nexus_server worker;

static int start_worker(void **state) {
    (void)state;
    harness_start_worker(&server, &worker, "variants-worker", NULL);
    return 0;
}

static int stop_worker(void **state) {
    (void)state;
    harness_stop(&worker);
    return 0;
}

/* Error i of an import: at line, on field. */
static void expect_row_error(json_t *imp, size_t i, long long line, const char *field,
                             const char *message) {
    json_t *e = json_array_get(json_object_get(imp, "errors"), i);
    if (!e || jint(e, "line") != line || strcmp(jstr(e, "field"), field) != 0)
        fprintf(stderr, "import: %s\n", dump(json_incref(imp)));
    assert_non_null(e);
    assert_int_equal(jint(e, "line"), line);
    assert_string_equal(jstr(e, "field"), field);
    if (message)
        assert_string_equal(jstr(e, "message"), message);
}

/* An import row that would take a product's stock past the integer range
 * is a row error naming its field, as the same body on the API is; the
 * rows beside it are applied. */
static void test_an_import_row_past_the_stock_total_is_a_row_error(void **state) {
    (void)state;
    struct http_res *r =
        create(json_body("{s:s, s:[{s:s, s:s, s:i, s:{s:s}},"
                         " {s:s, s:s, s:i, s:{s:s}}]}",
                         "name", "Imported Full", "variants", "sku", "IMPF-1", "price", "1.00",
                         "stock", STOCK_MAX, "options", "Size", "S", "sku", "IMPF-2", "price",
                         "1.00", "stock", 0, "options", "Size", "M"));
    long long id = jint(r->json, "id");
    http_res_free(r);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    assert_non_null(f);
    /* 1: a new product whose two variants pass it together */
    fprintf(f,
            "{\"name\":\"Imp Over\",\"variants\":[{\"sku\":\"IMPO-1\",\"price\":\"1.00\","
            "\"stock\":%d,\"options\":{\"Size\":\"S\"}},{\"sku\":\"IMPO-2\",\"price\":\"1.00\","
            "\"stock\":%d,\"options\":{\"Size\":\"M\"}}]}\n",
            STOCK_MAX, STOCK_MAX);
    /* 2: a row without variants writing the stock of a variant beside a full one */
    fprintf(f, "{\"sku\":\"IMPF-2\",\"name\":\"Imported Full\",\"price\":\"1.00\",\"stock\":1}\n");
    /* 3: a row that is fine */
    fprintf(f, "{\"sku\":\"IMP-FINE\",\"name\":\"Imp Fine\",\"price\":\"1.00\",\"stock\":3}\n");
    /* 4: variants that are no array: one error */
    fprintf(f, "{\"name\":\"Imp Shape\",\"variants\":\"x\"}\n");
    /* 5: the existing product's variants replaced by ones that pass it */
    fprintf(f,
            "{\"name\":\"Imported Full\",\"variants\":[{\"sku\":\"IMPF-1\",\"price\":\"1.00\","
            "\"stock\":%d,\"options\":{\"Size\":\"S\"}},{\"sku\":\"IMPF-2\",\"price\":\"1.00\","
            "\"stock\":9,\"options\":{\"Size\":\"M\"}}]}\n",
            STOCK_MAX);
    fclose(f);
    json_t *imp = harness_import_run(staff_token, body);
    free(body);
    if (strcmp(jstr(imp, "status"), "done") != 0 || jint(imp, "failed") != 4)
        fprintf(stderr, "import: %s\n", dump(json_incref(imp)));
    assert_string_equal(jstr(imp, "status"), "done");
    assert_int_equal(jint(imp, "rows"), 5);
    assert_int_equal(jint(imp, "created"), 1);
    assert_int_equal(jint(imp, "failed"), 4);
    assert_int_equal(json_array_size(json_object_get(imp, "errors")), 4);
    expect_row_error(imp, 0, 1, "variants", STOCK_PASSED);
    expect_row_error(imp, 1, 2, "stock", STOCK_PASSED);
    expect_row_error(imp, 2, 4, "variants", "must be an array");
    expect_row_error(imp, 3, 5, "variants", STOCK_PASSED);
    json_decref(imp);
    harness_expect_sql(&server, "0", "SELECT count(*) FROM product_variants WHERE sku = 'IMPO-1'");
    harness_expect_sql(&server, "1",
                       "SELECT count(*) FROM products WHERE sku = 'IMP-FINE'"
                       " AND deleted_at IS NULL");
    harness_expect_sql(&server, "2147483647|0",
                       "SELECT p.stock || '|' || v.stock FROM products p JOIN product_variants v"
                       " ON v.product_id = p.id WHERE p.id = %lld AND v.sku = 'IMPF-2'",
                       id);
}

/* An import row's variants are one set, spelled as its first variant
 * spells the names: for a new product, and for the product whose set a
 * row replaces. The product's summary and option terms spell them so. */
static void test_an_import_row_spells_the_names_as_its_first_variant(void **state) {
    (void)state;
    struct http_res *r = create(json_body(
        "{s:s, s:[{s:s, s:s, s:i, s:{s:s}}, {s:s, s:s, s:i, s:{s:s}}]}", "name", "Imp Waist",
        "variants", "sku", "IMPSPX-1", "price", "1.00", "stock", 1, "options", "Waist", "S", "sku",
        "IMPSPX-2", "price", "1.00", "stock", 1, "options", "Waist", "M"));
    long long existing = jint(r->json, "id");
    http_res_free(r);
    const char *body =
        "{\"name\":\"Imp Spelled\",\"variants\":["
        "{\"sku\":\"IMPSP-1\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"Girth\":\"S\"}},"
        "{\"sku\":\"IMPSP-2\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"girth\":\"M\"}},"
        "{\"sku\":\"IMPSP-3\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"GIRTH\":\"L\"}}]}\n"
        "{\"name\":\"Imp Waist\",\"variants\":["
        "{\"sku\":\"IMPSPX-1\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"WAIST\":\"S\"}},"
        "{\"sku\":\"IMPSPX-2\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"waist\":\"XS\"}},"
        "{\"sku\":\"IMPSPX-3\",\"price\":\"1.00\",\"stock\":1,\"options\":{\"Waist\":\"L\"}}]}\n";
    json_t *imp = harness_import_run(staff_token, body);
    assert_string_equal(jstr(imp, "status"), "done");
    assert_int_equal(jint(imp, "created"), 1);
    assert_int_equal(jint(imp, "updated"), 1);
    assert_int_equal(jint(imp, "failed"), 0);
    json_decref(imp);
    char *created =
        harness_sql_value(&server, "SELECT product_id FROM product_variants WHERE sku = 'IMPSP-1'"
                                   " AND deleted_at IS NULL");
    long long id = strtoll(created, NULL, 10);
    free(created);
    expect_stored_names(id, "Girth");
    expect_summary_names(id, "Girth");
    expect_stored_names(existing, "WAIST");
    expect_summary_names(existing, "WAIST");
    /* the product's option terms spell it so too */
    harness_expect_sql(
        &server, "Girth",
        "SELECT string_agg(DISTINCT ft.name, ',') FROM products p JOIN facet_terms ft"
        " ON ft.id = ANY (p.facet_options) WHERE p.id = %lld",
        id);
}

static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
    long long id = create_simple("SOLO-SYNC", "1.00", 3);
    free(harness_sql_value(&server, "UPDATE products SET stock = 9 WHERE id = %lld", id));
    harness_expect_sql(&server, "9", "SELECT stock FROM product_variants WHERE product_id = %lld",
                       id);
    harness_expect_solo_variants_exact(&server, "a write of the product's own stock");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_product_gets_one_default_variant),
        cmocka_unit_test(test_if_match_after_a_delete_is_412),
        cmocka_unit_test(test_stale_if_match_before_body_errors),
        cmocka_unit_test(test_a_failed_if_match_says_why),
        cmocka_unit_test(test_create_with_variants_derives_the_product),
        cmocka_unit_test(test_create_with_variants_validation),
        cmocka_unit_test(test_a_missing_product_or_variant_is_404_before_bad_fields),
        cmocka_unit_test(test_missing_or_stale_before_fields_read_at_fault),
        cmocka_unit_test(test_variant_crud),
        cmocka_unit_test(test_option_sets_and_duplicates),
        cmocka_unit_test(test_sku_is_unique_everywhere_and_under_races),
        cmocka_unit_test(test_last_live_variant_cannot_be_deleted),
        cmocka_unit_test(test_hundred_and_first_variant_is_422),
        cmocka_unit_test(test_product_writes_of_sku_price_stock),
        cmocka_unit_test(test_a_stock_patch_writes_the_product_row_once),
        cmocka_unit_test(test_derived_fields_after_each_write),
        cmocka_unit_test(test_product_etag_follows_its_variants),
        cmocka_unit_test(test_inactive_variants_are_for_staff),
        cmocka_unit_test(test_cached_reads_follow_variant_writes),
        cmocka_unit_test(test_stock_never_goes_below_zero),
        cmocka_unit_test(test_low_stock_alert_names_the_variant),
        cmocka_unit_test(test_bodies_are_what_jansson_writes),
        cmocka_unit_test(test_item_is_the_list_item_with_its_variants),
        cmocka_unit_test(test_seeded_catalog_derives_like_the_database),
        cmocka_unit_test(test_an_item_read_is_one_snapshot_of_its_variants),
        cmocka_unit_test(test_an_item_costs_one_statement_once_its_shape_is_known),
        cmocka_unit_test(test_variants_of_the_wrong_shape_are_one_error),
        cmocka_unit_test(test_option_names_fold_as_the_database_folds_them),
        cmocka_unit_test(test_a_stock_total_past_the_integer_range_is_422_on_its_field),
        cmocka_unit_test(test_the_default_position_stops_at_the_last_one),
        cmocka_unit_test_setup_teardown(test_an_import_row_past_the_stock_total_is_a_row_error,
                                        start_worker, stop_worker),
        cmocka_unit_test(test_option_names_keep_the_products_spelling),
        cmocka_unit_test(test_the_only_variant_may_respell_its_names),
        cmocka_unit_test_setup_teardown(test_an_import_row_spells_the_names_as_its_first_variant,
                                        start_worker, stop_worker),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
    };
    return harness_run_group("variants", tests, sizeof tests / sizeof tests[0], start, stop);
}
