/*
 * test_migrate_facet_counts.c -- migrations 0016 (facet counts kept with
 * the writes) and 0017 (kept per category subtree) count an existing
 * catalog exactly. A database is built at the schema before one of them
 * and filled by SQL (products in and out of categories, active and not,
 * deleted, in and out of stock, attributes, variants with options in
 * several spellings); `nexus migrate` applies the rest; every kept count
 * must equal a count from scratch, then again after writes made by hand
 * in SQL (categories moved in the tree among them), and the facets must
 * answer from them.
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
    static int databases;
    char name[16];
    snprintf(name, sizeof name, "migfc%d", databases++);
    harness_create_db(&db, name);
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

/* The schema before version, the catalog, then `nexus migrate`. */
static void seed_then_migrate(const char *version) {
    harness_migrate_before(&db, version);
    free(harness_sql(&db, SEED));
    harness_migrate(&db);
}

/* The facets of category slug: their total against SQL over its subtree
 * (the kept counts answer them). */
static void expect_category_total(const char *slug) {
    struct nexus_server server = {0};
    harness_start_url(&server, "migfc-serve", db.database_url, NULL);
    harness_use(&server);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/products/facets?category=%s", slug);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "facets");
    char *want =
        harness_sql_value(&db,
                          "WITH RECURSIVE t AS (SELECT id FROM categories WHERE slug = '%s'"
                          " UNION ALL SELECT c.id FROM categories c JOIN t ON c.parent_id = t.id)"
                          " SELECT count(*) FROM products WHERE is_active AND deleted_at IS NULL"
                          " AND category_id IN (SELECT id FROM t)",
                          slug);
    assert_int_equal(jint(r->json, "total"), strtoll(want, NULL, 10));
    free(want);
    http_res_free(r);
    harness_stop(&server);
}

static void test_migration_counts_the_catalog(void **state) {
    (void)state;
    seed_then_migrate("0016");
    char *total = harness_sql(&db, "SELECT sum(n) FROM facet_counts WHERE scope = 0 AND term = 0");
    char *want = harness_sql_value(&db, "SELECT count(*) FROM products"
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
    expect_category_total("shoes");
}

/* 0017 over counts kept by 0016's triggers (per own category), then
 * categories moved by hand: several in one statement, one under a
 * category that moves too, one made a root. */
static void test_subtree_migration_counts_the_catalog(void **state) {
    (void)state;
    seed_then_migrate("0017");
    harness_expect_facet_counts_exact(&db, "the subtree migration");
    free(harness_sql(&db, "INSERT INTO categories (name, slug, parent_id)"
                          " SELECT 'Laces', 'laces', id FROM categories WHERE slug = 'boots';"
                          " UPDATE products SET category_id = (SELECT id FROM categories"
                          " WHERE slug = 'laces') WHERE id % 6 = 1"));
    harness_expect_facet_counts_exact(&db, "products moved to a third level");
    free(harness_sql(&db, "UPDATE categories SET parent_id = CASE slug"
                          " WHEN 'boots' THEN (SELECT id FROM categories WHERE slug = 'hats')"
                          " ELSE (SELECT id FROM categories WHERE slug = 'boots') END"
                          " WHERE slug IN ('boots', 'shoes')"));
    harness_expect_facet_counts_exact(&db, "two categories moved in one statement");
    free(harness_sql(&db, "UPDATE categories SET parent_id = NULL WHERE slug = 'laces'"));
    harness_expect_facet_counts_exact(&db, "a category made a root");
    expect_category_total("hats");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migration_counts_the_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subtree_migration_counts_the_catalog, setup, teardown),
    };
    return harness_run_group("migrate_facet_counts", tests, sizeof tests / sizeof tests[0], NULL,
                             NULL);
}
