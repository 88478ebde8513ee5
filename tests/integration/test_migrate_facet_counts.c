/*
 * test_migrate_facet_counts.c -- migration 0016 (facet counts kept with
 * the writes) counts an existing catalog exactly. A database is built at
 * the schema before it and filled by SQL (products in and out of
 * categories, active and not, deleted, in and out of stock, attributes,
 * variants with options in several spellings); `nexus migrate` applies
 * 0016; every kept count must equal a count from scratch, then again
 * after writes made by hand in SQL, and the facets must answer from them.
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

static struct nexus_server db;

static int setup(void **state) {
    (void)state;
    harness_create_db(&db, "migfc");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&db);
    return 0;
}

static const char SEED[] =
    "INSERT INTO categories (name, slug) VALUES ('Shoes', 'shoes'), ('Hats', 'hats');"
    "INSERT INTO categories (name, slug, parent_id)"
    " SELECT 'Boots', 'boots', id FROM categories WHERE slug = 'shoes';"
    "INSERT INTO products (sku, name, slug, price_cents, stock, category_id, is_active,"
    " attributes)"
    " SELECT 'MFC-' || i, 'Counted ' || i, 'counted-' || i, i * 731 % 40000, i % 4,"
    " CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN (SELECT id FROM categories WHERE slug = 'shoes')"
    " WHEN 2 THEN (SELECT id FROM categories WHERE slug = 'boots')"
    " ELSE (SELECT id FROM categories WHERE slug = 'hats') END, i % 7 <> 0,"
    " jsonb_build_object('brand', CASE i % 3 WHEN 0 THEN 'Acme' WHEN 1 THEN 'acme' ELSE 'Bolt'"
    " END, 'weight', i % 5 * 100)"
    " FROM generate_series(1, 40) AS i;"
    "INSERT INTO product_variants (product_id, sku, price_cents, stock, options, position)"
    " SELECT p.id, p.sku || '-' || j, 1000, j % 2, jsonb_build_object('Size',"
    " CASE j WHEN 1 THEN 'M' WHEN 2 THEN 'm' ELSE 'L' END, 'Color',"
    " CASE j WHEN 1 THEN 'Red' WHEN 2 THEN 'blue' ELSE 'Blue' END), j + 1"
    " FROM products p, generate_series(1, 3) AS j WHERE p.id % 2 = 0;"
    "UPDATE products SET deleted_at = now() WHERE id % 10 = 0;";

static void test_migration_counts_the_catalog(void **state) {
    (void)state;
    harness_migrate_before(&db, "0016");
    free(harness_sql(&db, SEED));
    harness_migrate(&db);
    char *total = harness_sql(&db, "SELECT sum(n) FROM facet_counts WHERE scope = 0 AND term = 0");
    char *want = harness_sql(&db, "SELECT count(*) FROM products"
                                  " WHERE is_active AND deleted_at IS NULL");
    assert_string_equal(total, want);
    free(total);
    free(want);
    harness_expect_facet_counts_exact(&db, "after the migration");
    char *folded = harness_sql(&db, "SELECT count(*) FROM facet_terms"
                                    " WHERE lk IS NULL OR lv IS NULL OR lv <> lower(value)");
    assert_string_equal(folded, "0");
    free(folded);

    /* writers by hand: a statement of many rows, a variant, a delete */
    free(harness_sql(&db, "UPDATE products SET stock = 0, category_id ="
                          " (SELECT id FROM categories WHERE slug = 'hats') WHERE id % 3 = 0"));
    harness_expect_facet_counts_exact(&db, "a multi-row update");
    free(harness_sql(&db, "UPDATE product_variants SET options = '{\"Size\": \"XL\"}'"
                          " WHERE sku LIKE '%-3'"));
    harness_expect_facet_counts_exact(&db, "a variant update");
    free(harness_sql(&db, "UPDATE products SET is_active = NOT is_active WHERE id % 5 = 1"));
    harness_expect_facet_counts_exact(&db, "activation changes");
    free(harness_sql(&db, "DELETE FROM product_variants WHERE product_id IN"
                          " (SELECT id FROM products WHERE deleted_at IS NOT NULL);"
                          " DELETE FROM products WHERE deleted_at IS NOT NULL"));
    harness_expect_facet_counts_exact(&db, "a hard delete");

    struct nexus_server server = {0};
    harness_start_url(&server, "migfc-serve", db.database_url, NULL);
    harness_use(&server);
    struct http_res *r = call("GET", "/api/v1/products/facets?category=shoes", NULL, NULL);
    expect_status(r, 200, "facets");
    char *shoes = harness_sql(&db, "SELECT count(*) FROM products WHERE is_active AND deleted_at"
                                   " IS NULL AND category_id IN (SELECT id FROM categories"
                                   " WHERE slug IN ('shoes', 'boots'))");
    assert_int_equal(jint(r->json, "total"), strtoll(shoes, NULL, 10));
    free(shoes);
    http_res_free(r);
    harness_stop(&server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migration_counts_the_catalog),
    };
    return harness_run_group("migrate_facet_counts", tests, sizeof tests / sizeof tests[0], setup,
                             teardown);
}
