/*
 * test_facet_terms.c -- the facet terms each product keeps (migration
 * 0013) follow every kind of write: product create, update and delete,
 * variant create, update, stock change and delete, attribute changes, an
 * import batch, hand-made SQL, and nexus seed. After each write, every
 * live product's terms are compared with what its attributes and variants
 * say, computed here in SQL from the jsonb alone, and the facet counts
 * kept from them (migration 0016) with a count from scratch.
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

#define PRODUCTS "/api/v1/products"

static struct nexus_server server;
static struct nexus_server worker;
static char *staff_token;

/* A product's terms of kind, as "name=value|..." sorted. */
#define STORED(col, kind)                                                                          \
    "(SELECT string_agg(t.name || '=' || t.value, '|' ORDER BY t.name, t.value) FROM unnest(" col  \
    ") u(id) JOIN facet_terms t ON t.id = u.id AND t.kind = " kind ")"
/* What they should be: the attributes; the option values of the live
 * active variants (cond: and which), one per value however spelled, with
 * the smallest spellings. */
#define ATTRIBUTES_WANTED                                                                          \
    "(SELECT string_agg(e.key || '=' || e.value, '|' ORDER BY e.key, e.value)"                     \
    " FROM jsonb_each_text(p.attributes) e)"
#define OPTIONS_WANTED(cond)                                                                       \
    "(SELECT string_agg(n || '=' || val, '|' ORDER BY n, val) FROM (SELECT min(e.key) AS n,"       \
    " min(e.value) AS val FROM product_variants v, jsonb_each_text(v.options) e"                   \
    " WHERE v.product_id = p.id AND v.deleted_at IS NULL AND v.is_active" cond                     \
    " GROUP BY lower(e.key), lower(e.value)) g)"
/* An id in col that is no term of kind. */
#define FOREIGN(col, kind)                                                                         \
    " OR EXISTS (SELECT FROM unnest(" col ") u(id) WHERE NOT EXISTS (SELECT FROM facet_terms t"    \
    " WHERE t.id = u.id AND t.kind = " kind "))"
#define STALE_PRODUCTS                                                                             \
    "SELECT coalesce(string_agg(p.id::text, ',' ORDER BY p.id), 'none') FROM products p"           \
    " WHERE p.deleted_at IS NULL AND (" STORED(                                                    \
        "p.facet_attributes",                                                                      \
        "1") " IS DISTINCT FROM " ATTRIBUTES_WANTED                                                \
             " OR " STORED("p.facet_options", "2") " IS DISTINCT FROM " OPTIONS_WANTED(            \
                 "") " OR " STORED("p.facet_options_in_stock",                                     \
                                   "2") " IS DISTINCT FROM " OPTIONS_WANTED(" AND v.stock > 0")    \
                 FOREIGN("p.facet_attributes", "1") FOREIGN("p.facet_options", "2")                \
                     FOREIGN("p.facet_options_in_stock", "2") ")"

/* Every live product of s holds exactly the terms its data says. */
static void expect_terms_follow(const struct nexus_server *s, const char *after) {
    char *stale = harness_sql_value(s, "%s", STALE_PRODUCTS);
    if (strcmp(stale, "none") != 0)
        fail_msg("after %s, stale facet terms on products %s", after, stale);
    free(stale);
    /* and the counts kept from the terms (migration 0016) */
    harness_expect_facet_counts_exact(s, after);
}

/* The terms of one product, as STORED shows them ("" for none). */
static char *terms_of(long long id, const char *col) {
    return harness_sql_value(&server,
                             "SELECT coalesce(" STORED("p.%s", "2") ", '') FROM products p"
                                                                    " WHERE p.id = %lld",
                             col, id);
}

static void expect_terms(long long id, const char *col, const char *want) {
    char *got = terms_of(id, col);
    if (strcmp(got, want) != 0)
        fail_msg("product %lld %s: %s, want %s", id, col, got, want);
    free(got);
}

static long long create_product(const char *body) {
    struct http_res *r = call("POST", PRODUCTS, staff_token, body);
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static void send(const char *method, const char *path, const char *body, long status) {
    struct http_res *r = call(method, path, staff_token, body);
    expect_status(r, status, path);
    http_res_free(r);
}

static long long variant_of(long long product, const char *sku) {
    char *id = harness_sql_value(&server,
                                 "SELECT id FROM product_variants WHERE product_id = %lld"
                                 " AND sku = '%s' AND deleted_at IS NULL",
                                 product, sku);
    long long v = strtoll(id, NULL, 10);
    free(id);
    return v;
}

/* The count of one attribute value in the whole catalog's facets (0 when
 * it is not listed). */
static long long brand_count(const char *brand) {
    struct http_res *r = call("GET", "/api/v1/products/facets", NULL, NULL);
    expect_status(r, 200, "facets");
    json_t *list = json_object_get(json_object_get(r->json, "attributes"), "brand");
    long long n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        if (strcmp(jstr(item, "value"), brand) == 0)
            n = jint(item, "count");
    }
    http_res_free(r);
    return n;
}

static void test_terms_follow_api_writes(void **state) {
    (void)state;
    char path[128];
    long long a = create_product(
        "{\"name\":\"Terms A\",\"attributes\":{\"brand\":\"Acme\",\"weight\":350},\"variants\":["
        "{\"sku\":\"TA-1\",\"price\":\"5.00\",\"stock\":3,\"options\":{\"Size\":\"M\","
        "\"Color\":\"Red\"}},{\"sku\":\"TA-2\",\"price\":\"6.00\",\"stock\":0,\"options\":"
        "{\"size\":\"L\",\"color\":\"RED\"}}]}");
    long long b =
        create_product("{\"name\":\"Terms B\",\"sku\":\"TB-1\",\"price\":\"2.00\",\"stock\":1,"
                       "\"attributes\":{\"brand\":\"Termsbolt\",\"eco\":true}}");
    expect_terms_follow(&server, "product creates");
    /* one value in two spellings ("Red", "RED") is one term */
    harness_expect_sql(&server, "3",
                       "SELECT cardinality(facet_options) FROM products WHERE id = %lld", a);
    expect_terms(a, "facet_options_in_stock", "Color=Red|Size=M");

    snprintf(path, sizeof path, PRODUCTS "/%lld", a);
    send("PATCH", path, "{\"attributes\":{\"brand\":\"ACME\",\"weight\":400,\"eco\":false}}", 200);
    expect_terms_follow(&server, "an attribute change");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants", a);
    send("POST", path,
         "{\"sku\":\"TA-3\",\"price\":\"7.00\",\"stock\":0,\"options\":{\"Size\":\"S\","
         "\"Color\":\"Blue\"}}",
         201);
    expect_terms_follow(&server, "a variant create");
    expect_terms(a, "facet_options_in_stock", "Color=Red|Size=M");

    long long ta3 = variant_of(a, "TA-3");
    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, ta3);
    send("PATCH", path, "{\"stock\":5}", 200);
    expect_terms_follow(&server, "a stock change");
    expect_terms(a, "facet_options_in_stock", "Color=Blue|Color=Red|Size=M|Size=S");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, variant_of(a, "TA-1"));
    send("PATCH", path, "{\"options\":{\"Size\":\"XL\",\"Color\":\"Red\"}}", 200);
    expect_terms_follow(&server, "an options change");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, variant_of(a, "TA-2"));
    send("PATCH", path, "{\"is_active\":false}", 200);
    expect_terms_follow(&server, "a variant deactivated");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, ta3);
    send("DELETE", path, NULL, 204);
    expect_terms_follow(&server, "a variant delete");
    expect_terms(a, "facet_options", "Color=Red|Size=XL");

    assert_int_equal(brand_count("Termsbolt"), 1);
    snprintf(path, sizeof path, PRODUCTS "/%lld", b);
    send("DELETE", path, NULL, 204);
    expect_terms_follow(&server, "a product delete");
    assert_int_equal(brand_count("Termsbolt"), 0);
}

static void test_terms_follow_imports_and_sql(void **state) {
    (void)state;
    long long c = create_product(
        "{\"name\":\"Terms C\",\"attributes\":{\"brand\":\"Cee\"},\"variants\":[{\"sku\":"
        "\"TC-1\",\"price\":\"3.00\",\"stock\":4,\"options\":{\"Material\":\"Oak\"}}]}");
    expect_terms(c, "facet_options_in_stock", "Material=Oak");
    /* a new product with variants, and an upsert of C's attributes and stock
     * through its own columns (to its one variant, by trigger) */
    harness_import_ndjson(
        staff_token,
        "{\"name\":\"Terms D\",\"attributes\":{\"brand\":\"Dee\","
        "\"waterproof\":true},\"variants\":[{\"sku\":\"TD-1\",\"price\":\"4.00\","
        "\"stock\":2,\"options\":{\"Size\":\"M\"}},{\"sku\":\"TD-2\",\"price\":\"4.00\","
        "\"stock\":0,\"options\":{\"Size\":\"XS\"}}]}\n"
        "{\"sku\":\"TC-1\",\"name\":\"Terms C\",\"price\":\"3.00\",\"stock\":0,"
        "\"attributes\":{\"brand\":\"Cee\",\"fit\":\"slim\"}}\n");
    expect_terms_follow(&server, "an import batch");
    expect_terms(c, "facet_options_in_stock", "");
    expect_terms(c, "facet_options", "Material=Oak");

    /* hand-made SQL: a product's own stock (its one variant's), a variant's */
    free(harness_sql(&server, "UPDATE products SET stock = 9 WHERE sku = 'TC-1'"));
    expect_terms_follow(&server, "a product's stock written in SQL");
    expect_terms(c, "facet_options_in_stock", "Material=Oak");
    free(harness_sql(&server, "UPDATE product_variants SET stock = 0 WHERE sku = 'TD-1'"));
    free(harness_sql(&server, "UPDATE product_variants SET options = '{\"Size\": \"S\"}'"
                              " WHERE sku = 'TD-2'"));
    expect_terms_follow(&server, "variants written in SQL");
}

static void test_terms_follow_the_seed(void **state) {
    (void)state;
    struct nexus_server seeded;
    char out[4096];
    harness_start(&seeded, "facet_terms_seed", NULL);
    const char *args[] = {"seed", "--products", "400", "--categories", "52", NULL};
    assert_int_equal(harness_run(&seeded, NULL, args, NULL, out, sizeof out), 0);
    expect_terms_follow(&seeded, "nexus seed");
    harness_expect_sql(&seeded, "t",
                       "SELECT count(*) FILTER (WHERE cardinality(facet_options) > 0) > 0"
                       " AND count(*) FILTER (WHERE cardinality(facet_attributes) >= 3) = count(*)"
                       " FROM products");
    /* the next term a writer adds takes an id after the seed's */
    free(harness_sql(&seeded, "INSERT INTO products (sku, name, slug, price_cents, stock,"
                              " attributes) VALUES ('AFTER-SEED', 'After Seed', 'after-seed', 100,"
                              " 1, '{\"brand\": \"Neverseeded\"}')"));
    harness_expect_sql(&seeded, "1",
                       "SELECT count(*) FROM products p, unnest(p.facet_attributes) u(id)"
                       " JOIN facet_terms t ON t.id = u.id WHERE p.sku = 'AFTER-SEED'");
    expect_terms_follow(&seeded, "an insert after nexus seed");
    harness_stop(&seeded);
}

static int start(void **state) {
    (void)state;
    char *customer = NULL;
    harness_start(&server, "facet_terms", NULL);
    harness_staff_and_customer(&server, "facet_terms", &staff_token, &customer);
    free(customer);
    harness_start_worker(&server, &worker, "facet-terms-worker", NULL);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&worker);
    free(staff_token);
    harness_stop(&server);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_follow_api_writes),
        cmocka_unit_test(test_terms_follow_imports_and_sql),
        cmocka_unit_test(test_terms_follow_the_seed),
    };
    return harness_run_group("facet_terms", tests, sizeof tests / sizeof tests[0], start, stop);
}
