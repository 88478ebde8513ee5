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
 * the smallest spellings, and one per name with the empty value. */
#define ATTRIBUTES_WANTED                                                                          \
    "(SELECT string_agg(e.key || '=' || e.value, '|' ORDER BY e.key, e.value)"                     \
    " FROM jsonb_each_text(p.attributes) e)"
#define OPTIONS_WANTED(cond)                                                                       \
    "(SELECT string_agg(n || '=' || val, '|' ORDER BY n, val) FROM (SELECT min(e.key) AS n,"       \
    " min(e.value) AS val FROM product_variants v, jsonb_each_text(v.options) e"                   \
    " WHERE v.product_id = p.id AND v.deleted_at IS NULL AND v.is_active" cond                     \
    " GROUP BY lower(e.key), lower(e.value) UNION ALL SELECT min(e.key), ''"                       \
    " FROM product_variants v, jsonb_each_text(v.options) e WHERE v.product_id = p.id"             \
    " AND v.deleted_at IS NULL AND v.is_active" cond " GROUP BY lower(e.key)) g)"
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

/* The terms in created_at order (migration 0019), stored and as the
 * products and variants say them: every attribute of a live active
 * product, every option of a live active variant of one. */
#define ATTRIBUTE_ORDER_STORED "SELECT term, created_at, product_id FROM product_attribute_order"
#define ATTRIBUTE_ORDER_WANTED                                                                     \
    "SELECT e.key || '=' || lower(e.value), p.created_at, p.id FROM products p,"                   \
    " jsonb_each_text(p.attributes) e WHERE p.is_active AND p.deleted_at IS NULL"                  \
    " AND e.value IS NOT NULL"
#define OPTION_ORDER_STORED                                                                        \
    "SELECT term, created_at, product_id, variant_id, options_key, in_stock"                       \
    " FROM product_option_order"
#define OPTION_ORDER_WANTED                                                                        \
    "SELECT jsonb_build_array(lower(e.key), lower(e.value))::text, p.created_at, p.id, v.id,"      \
    " v.options_key, v.stock > 0 FROM products p JOIN product_variants v ON v.product_id = p.id,"  \
    " jsonb_each_text(v.options) e WHERE p.is_active AND p.deleted_at IS NULL"                     \
    " AND v.is_active AND v.deleted_at IS NULL"
/* The rows in one and not in the other, both ways. */
#define DIFFERENCE(stored, wanted)                                                                 \
    "SELECT count(*) FROM ((" stored " EXCEPT ALL " wanted ") UNION ALL (" wanted                  \
    " EXCEPT ALL " stored ")) d"

static void expect_term_order_follows(const struct nexus_server *s, const char *after) {
    char *a =
        harness_sql_value(s, "%s", DIFFERENCE(ATTRIBUTE_ORDER_STORED, ATTRIBUTE_ORDER_WANTED));
    char *o = harness_sql_value(s, "%s", DIFFERENCE(OPTION_ORDER_STORED, OPTION_ORDER_WANTED));
    if (strcmp(a, "0") != 0 || strcmp(o, "0") != 0)
        fail_msg("after %s, %s attribute and %s option rows in created_at order differ", after, a,
                 o);
    free(a);
    free(o);
}

/* Every live product of s holds exactly the terms its data says. */
static void expect_terms_follow(const struct nexus_server *s, const char *after) {
    char *stale = harness_sql_value(s, "%s", STALE_PRODUCTS);
    if (strcmp(stale, "none") != 0)
        fail_msg("after %s, stale facet terms on products %s", after, stale);
    free(stale);
    expect_term_order_follows(s, after);
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

/* The row versions of a product's rows in created_at order, as one text:
 * another when any was written again. */
static char *option_order_versions(long long id) {
    return harness_sql_value(&server,
                             "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY variant_id,"
                             " term) FROM product_option_order WHERE product_id = %lld",
                             id);
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
    /* one value in two spellings ("Red", "RED") is one term; each name one more */
    harness_expect_sql(&server, "5",
                       "SELECT cardinality(facet_options) FROM products WHERE id = %lld", a);
    expect_terms(a, "facet_options_in_stock", "Color=|Color=Red|Size=|Size=M");

    snprintf(path, sizeof path, PRODUCTS "/%lld", a);
    send("PATCH", path, "{\"attributes\":{\"brand\":\"ACME\",\"weight\":400,\"eco\":false}}", 200);
    expect_terms_follow(&server, "an attribute change");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants", a);
    send("POST", path,
         "{\"sku\":\"TA-3\",\"price\":\"7.00\",\"stock\":0,\"options\":{\"Size\":\"S\","
         "\"Color\":\"Blue\"}}",
         201);
    expect_terms_follow(&server, "a variant create");
    expect_terms(a, "facet_options_in_stock", "Color=|Color=Red|Size=|Size=M");

    long long ta3 = variant_of(a, "TA-3");
    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, ta3);
    send("PATCH", path, "{\"stock\":5}", 200);
    expect_terms_follow(&server, "a stock change");
    expect_terms(a, "facet_options_in_stock", "Color=|Color=Blue|Color=Red|Size=|Size=M|Size=S");

    /* a stock change that leaves the variant in stock changes no term:
     * the product's rows in created_at order are not written again */
    char *rows_before = option_order_versions(a);
    send("PATCH", path, "{\"stock\":9}", 200);
    char *rows_after = option_order_versions(a);
    assert_string_equal(rows_after, rows_before);
    free(rows_before);
    free(rows_after);
    expect_terms_follow(&server, "a stock change within stock");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, variant_of(a, "TA-1"));
    send("PATCH", path, "{\"options\":{\"Size\":\"XL\",\"Color\":\"Red\"}}", 200);
    expect_terms_follow(&server, "an options change");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, variant_of(a, "TA-2"));
    send("PATCH", path, "{\"is_active\":false}", 200);
    expect_terms_follow(&server, "a variant deactivated");

    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", a, ta3);
    send("DELETE", path, NULL, 204);
    expect_terms_follow(&server, "a variant delete");
    expect_terms(a, "facet_options", "Color=|Color=Red|Size=|Size=XL");

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
    expect_terms(c, "facet_options_in_stock", "Material=|Material=Oak");
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
    expect_terms(c, "facet_options", "Material=|Material=Oak");

    /* hand-made SQL: a product's own stock (its one variant's), a variant's */
    free(harness_sql(&server, "UPDATE products SET stock = 9 WHERE sku = 'TC-1'"));
    expect_terms_follow(&server, "a product's stock written in SQL");
    expect_terms(c, "facet_options_in_stock", "Material=|Material=Oak");
    free(harness_sql(&server, "UPDATE product_variants SET stock = 0 WHERE sku = 'TD-1'"));
    free(harness_sql(&server, "UPDATE product_variants SET options = '{\"Size\": \"S\"}'"
                              " WHERE sku = 'TD-2'"));
    expect_terms_follow(&server, "variants written in SQL");
}

/* The ids of a list page, "1,2,..." in order, and its cursor (NULL at
 * the end). */
static char *page_ids(const char *query, char **cursor) {
    char path[512];
    snprintf(path, sizeof path, PRODUCTS "?%s%s%s", query, *cursor ? "&cursor=" : "",
             *cursor ? *cursor : "");
    free(*cursor);
    *cursor = NULL;
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    char ids[512] = "";
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r->json, "items"), i, item) {
        size_t len = strlen(ids);
        snprintf(ids + len, sizeof ids - len, "%s%lld", len ? "," : "", jint(item, "id"));
    }
    json_t *next = json_object_get(r->json, "next_cursor");
    if (json_is_string(next))
        *cursor = strdup(json_string_value(next));
    http_res_free(r);
    return strdup(ids);
}

/* Every page of query, one product a page: the ids "1,2,...". */
static char *all_pages(const char *query) {
    char *cursor = NULL, all[512] = "";
    do {
        char *ids = page_ids(query, &cursor);
        size_t len = strlen(all);
        if (ids[0])
            snprintf(all + len, sizeof all - len, "%s%s", len ? "," : "", ids);
        free(ids);
    } while (cursor);
    return strdup(all);
}

static void expect_pages(const char *query, const char *want) {
    char *got = all_pages(query);
    if (strcmp(got, want) != 0)
        fail_msg("%s: products %s, want %s", query, got, want);
    free(got);
}

/* A statement on the server's database, formatted. */
static void run_sqlf(const char *fmt, ...) {
    char sql[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    free(harness_sql(&server, sql));
}

/* A write through the API after writes in SQL, so that cached lists
 * (kept per catalog generation, which SQL does not move) are read anew. */
static void catalog_written(long long id) {
    char path[64];
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    send("PATCH", path, "{\"description\":\"Written in SQL.\"}", 200);
}

/* A product of brand Eorder with two variants (M/Red in stock, M/Blue
 * not), created at a given time. */
static long long order_product(int n, const char *created) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"Order %d\",\"attributes\":{\"brand\":\"Eorder\"},\"variants\":["
             "{\"sku\":\"TO-%d-1\",\"price\":\"5.00\",\"stock\":2,\"options\":{\"Size\":\"M\","
             "\"Color\":\"Red\"}},{\"sku\":\"TO-%d-2\",\"price\":\"5.00\",\"stock\":0,"
             "\"options\":{\"Size\":\"M\",\"Color\":\"Blue\"}}]}",
             n, n, n);
    long long id = create_product(body);
    run_sqlf("UPDATE products SET created_at = '%s' WHERE id = %lld", created, id);
    return id;
}

/* The product's own state (active, category, created_at, a hard delete)
 * moves its rows in created_at order; the pages read from them (one
 * product a page, so each page is a walk of those rows that fills) list
 * the right products in the right order, the option filters on one
 * variant. */
static void test_term_order_follows_product_state(void **state) {
    (void)state;
    char path[128], want[128];
    long long p1 = order_product(1, "2020-01-01T00:00:01Z");
    long long p2 = order_product(2, "2020-01-01T00:00:02Z");
    long long p3 = order_product(3, "2020-01-01T00:00:03Z");
    catalog_written(p3);
    expect_terms_follow(&server, "creates with their created_at written in SQL");
    const char *brand = "attr.brand=eorder&limit=1";
    const char *red = "option.Size=m&option.color=RED&in_stock=true&limit=1";
    const char *blue = "option.Size=M&option.Color=Blue&in_stock=true&limit=1";
    snprintf(want, sizeof want, "%lld,%lld,%lld", p3, p2, p1);
    expect_pages(brand, want);
    expect_pages(red, want);
    expect_pages(blue, ""); /* blue exists, but not in stock, on another variant than red */
    snprintf(want, sizeof want, "%lld,%lld,%lld", p1, p2, p3);
    expect_pages("attr.brand=Eorder&sort=created_at&limit=1", want);

    snprintf(path, sizeof path, PRODUCTS "/%lld", p2);
    send("PATCH", path, "{\"is_active\":false}", 200);
    expect_terms_follow(&server, "a product deactivated");
    snprintf(want, sizeof want, "%lld,%lld", p3, p1);
    expect_pages(brand, want);
    expect_pages(red, want);
    send("PATCH", path, "{\"is_active\":true}", 200);
    expect_terms_follow(&server, "a product activated");

    free(harness_sql(&server, "INSERT INTO categories (name, slug) VALUES ('Order', 'order-cat')"));
    char *category =
        harness_sql_value(&server, "SELECT id FROM categories WHERE slug = 'order-cat'");
    char body[64];
    snprintf(body, sizeof body, "{\"category_id\":%s}", category);
    free(category);
    send("PATCH", path, body, 200);
    expect_terms_follow(&server, "a category change");
    snprintf(want, sizeof want, "%lld", p2);
    expect_pages("attr.brand=Eorder&category=order-cat&limit=1", want);

    run_sqlf("UPDATE products SET created_at = '2020-01-01T00:00:04Z' WHERE id = %lld", p1);
    catalog_written(p1);
    expect_terms_follow(&server, "a created_at change");
    snprintf(want, sizeof want, "%lld,%lld,%lld", p1, p3, p2);
    expect_pages(brand, want);
    expect_pages(red, want);

    run_sqlf("DELETE FROM products WHERE id = %lld", p3);
    catalog_written(p1);
    expect_terms_follow(&server, "a hard delete");
    snprintf(want, sizeof want, "%lld,%lld", p1, p2);
    expect_pages(brand, want);
    expect_pages(red, want);
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

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants). */
static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_follow_api_writes),
        cmocka_unit_test(test_terms_follow_imports_and_sql),
        cmocka_unit_test(test_term_order_follows_product_state),
        cmocka_unit_test(test_terms_follow_the_seed),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
    };
    return harness_run_group("facet_terms", tests, sizeof tests / sizeof tests[0], start, stop);
}
