/*
 * test_migrate_option_spelling.c -- migration 0045 gives each product one
 * spelling of each option name. A database is built at the schema before
 * it and filled by SQL with variants whose names were stored as each write
 * spelled them, as earlier releases stored them; `nexus migrate` applies
 * 0045. Every live variant must then spell each name as the product's
 * first live variant (by position, then id) spells it, with the options
 * summary, option terms and facet counts following; deleted variants, and
 * every row of a product whose variants already agreed, stay as they were
 * (the same row versions); and the catalog cache bump the migration owes
 * is recorded for the servers to deliver.
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

/* Products whose variants are written here, derived afterwards as the
 * releases before 0045 derived them. */
static const char PRODUCTS[] =
    "INSERT INTO categories (name, slug) VALUES ('Cases', 'cases');"
    "SELECT set_config('nexus.explicit_variants', 'on', true);"
    "INSERT INTO products (sku, name, slug, price_cents, stock, category_id)"
    " SELECT s, initcap(s), lower(s), 1000, 1, (SELECT id FROM categories)"
    " FROM unnest(ARRAY['CASE', 'THICK', 'CLEAN', 'GONE']) AS s;";

/* CASE: its variant listed first (position 1) was written second; a
 * deleted one spells the names its own way. THICK: two variants at
 * position 1, the first by id inactive, and names that lower() folds
 * beyond ASCII. CLEAN agrees already. GONE is a deleted product. */
static const char VARIANTS[] =
    "INSERT INTO product_variants (product_id, sku, price_cents, stock, options, position,"
    " is_active, deleted_at)"
    " SELECT p.id, v.sku, 1000, v.stock, v.options::jsonb, v.position, v.active,"
    " CASE WHEN v.deleted THEN now() END"
    " FROM (VALUES"
    " ('CASE', 'CASE-V1', 1, '{\"SIZE\": \"S\", \"color\": \"Black\", \"MATERIAL\": \"Steel\"}',"
    " 2, true, false),"
    " ('CASE', 'CASE-V2', 1, '{\"Size\": \"M\", \"Color\": \"Black\", \"Material\": \"Steel\"}',"
    " 1, true, false),"
    " ('CASE', 'CASE-V3', 0, '{\"size\": \"L\", \"COLOR\": \"Red\", \"material\": \"Steel\"}',"
    " 3, true, false),"
    " ('CASE', 'CASE-OLD', 0, '{\"sIzE\": \"XL\", \"cOlOr\": \"Red\", \"mAtErIaL\": \"Steel\"}',"
    " 4, true, true),"
    " ('THICK', 'THICK-1', 2, '{\"Épaisseur\": \"1 mm\"}', 1, false, false),"
    " ('THICK', 'THICK-2', 2, '{\"ÉPAISSEUR\": \"2 mm\"}', 1, true, false),"
    " ('THICK', 'THICK-3', 0, '{\"épaisseur\": \"3 mm\"}', 2, true, false),"
    " ('CLEAN', 'CLEAN-S', 1, '{\"Size\": \"S\"}', 1, true, false),"
    " ('CLEAN', 'CLEAN-M', 0, '{\"Size\": \"M\"}', 2, true, false),"
    " ('GONE', 'GONE-S', 1, '{\"Size\": \"S\"}', 1, true, false),"
    " ('GONE', 'GONE-M', 1, '{\"SIZE\": \"M\"}', 2, true, false))"
    " AS v(product, sku, stock, options, position, active, deleted)"
    " JOIN products p ON p.slug = lower(v.product) ORDER BY v.sku;"
    "SELECT count(nexus_product_derive(id)) FROM products;"
    "UPDATE products SET deleted_at = now() WHERE slug = 'gone';";

/* The row versions of what must not be written: the products that agree
 * or are deleted, and their variants, and every deleted variant. */
static const char UNTOUCHED[] =
    "SELECT string_agg(x, ',' ORDER BY x) FROM ("
    " SELECT 'p' || id || ':' || xmin AS x FROM products WHERE slug IN ('clean', 'gone')"
    " UNION ALL SELECT 'v' || v.id || ':' || v.xmin FROM product_variants v"
    " JOIN products p ON p.id = v.product_id"
    " WHERE p.slug IN ('clean', 'gone') OR v.deleted_at IS NOT NULL) r";

/* The product's variants as sku=options, by sku. */
#define OPTIONS_OF                                                                                 \
    "SELECT string_agg(v.sku || '=' || v.options::text, ';' ORDER BY v.sku)"                       \
    " FROM product_variants v JOIN products p ON p.id = v.product_id WHERE p.slug = '%s'"

/* The names of the product's option terms, sorted. */
#define TERM_NAMES_OF                                                                              \
    "SELECT string_agg(DISTINCT t.name, ',' ORDER BY t.name) FROM products p,"                     \
    " unnest(p.facet_options || p.facet_options_in_stock) AS u(id)"                                \
    " JOIN facet_terms t ON t.id = u.id WHERE p.slug = '%s'"

/* A database of its own (name), at the schema before 0045, filled. */
static void seed_before_0045(const char *name) {
    harness_create_db(&db, name);
    harness_migrate_before(&db, "0045");
    free(harness_sql(&db, PRODUCTS));
    char *derived = harness_sql(&db, VARIANTS);
    assert_non_null(derived);
    free(derived);
}

/* What a client reads of CASE: every variant spells Size, Color and
 * Material as its first variant does. */
static void expect_case_answered_respelled(void) {
    struct nexus_server server = {0};
    harness_start_url(&server, "migsp-serve", db.database_url, NULL);
    harness_use(&server);
    /* the owed bump reaches the server, which delivers it and deletes its row */
    harness_wait_sql(&db, "0", "SELECT count(*) FROM cache_owed_bumps");
    char *id = harness_sql_value(&db, "SELECT id FROM products WHERE slug = 'case'");
    char path[64];
    snprintf(path, sizeof path, "/api/v1/products/%s", id);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    json_t *variants = json_object_get(r->json, "variants");
    assert_int_equal(json_array_size(variants), 3);
    size_t i;
    json_t *v;
    json_array_foreach(variants, i, v) {
        json_t *options = json_object_get(v, "options");
        assert_int_equal(json_object_size(options), 3);
        assert_non_null(json_object_get(options, "Size"));
        assert_non_null(json_object_get(options, "Color"));
        assert_non_null(json_object_get(options, "Material"));
    }
    http_res_free(r);
    free(id);
    harness_stop(&server);
}

static void test_mixed_spellings_take_the_first_variants(void **state) {
    (void)state;
    seed_before_0045("migsp");
    harness_expect_sql(&db, "COLOR,Color,MATERIAL,SIZE,Size,size", TERM_NAMES_OF, "case");
    char *untouched = harness_sql_value(&db, "%s", UNTOUCHED);
    char *version = harness_sql_value(&db, "SELECT version + 1 FROM products WHERE slug = 'case'");
    harness_migrate(&db);

    harness_expect_sql(&db,
                       "CASE-OLD={\"sIzE\": \"XL\", \"cOlOr\": \"Red\", \"mAtErIaL\": \"Steel\"};"
                       "CASE-V1={\"Size\": \"S\", \"Color\": \"Black\", \"Material\": \"Steel\"};"
                       "CASE-V2={\"Size\": \"M\", \"Color\": \"Black\", \"Material\": \"Steel\"};"
                       "CASE-V3={\"Size\": \"L\", \"Color\": \"Red\", \"Material\": \"Steel\"}",
                       OPTIONS_OF, "case");
    harness_expect_sql(&db,
                       "THICK-1={\"Épaisseur\": \"1 mm\"};THICK-2={\"Épaisseur\": \"2 mm\"};"
                       "THICK-3={\"Épaisseur\": \"3 mm\"}",
                       OPTIONS_OF, "thick");
    harness_expect_sql(&db, "GONE-M={\"SIZE\": \"M\"};GONE-S={\"Size\": \"S\"}", OPTIONS_OF,
                       "gone");
    harness_expect_sql(&db, untouched, "%s", UNTOUCHED);

    /* what depends on the options follows */
    harness_expect_sql(&db,
                       "[{\"name\": \"Color\", \"values\": [\"Black\", \"Red\"]},"
                       " {\"name\": \"Material\", \"values\": [\"Steel\"]},"
                       " {\"name\": \"Size\", \"values\": [\"M\", \"S\", \"L\"]}]",
                       "SELECT variant_options FROM products WHERE slug = 'case'");
    harness_expect_sql(&db, "0",
                       "SELECT count(*) FROM products WHERE deleted_at IS NULL"
                       " AND variant_options <> nexus_variant_options(id)");
    harness_expect_sql(&db, "Color,Material,Size", TERM_NAMES_OF, "case");
    harness_expect_sql(&db, "Épaisseur", TERM_NAMES_OF, "thick");
    harness_expect_facet_counts_exact(&db, "the spelling migration");
    harness_expect_solo_variants_exact(&db, "the spelling migration");

    /* written as a variant write is: the product's ETag moves, and the
     * cache bump is owed */
    harness_expect_sql(&db, version, "SELECT version FROM products WHERE slug = 'case'");
    harness_expect_sql(&db, "1", "SELECT count(*) FROM cache_owed_bumps");
    expect_case_answered_respelled();
    free(untouched);
    free(version);
    harness_stop(&db);
}

/* A catalog whose products each spell their names one way: nothing is
 * written, not even a cache bump. */
static void test_a_catalog_that_agrees_is_not_written(void **state) {
    (void)state;
    seed_before_0045("migspclean");
    free(harness_sql(&db, "DELETE FROM product_variants WHERE sku IN ('CASE-V1', 'CASE-V3',"
                          " 'THICK-2', 'THICK-3');"
                          " SELECT count(nexus_product_derive(id)) FROM products"));
    const char *every_row = "SELECT string_agg(x, ',' ORDER BY x) FROM ("
                            " SELECT 'p' || id || ':' || xmin AS x FROM products"
                            " UNION ALL SELECT 'v' || id || ':' || xmin FROM product_variants"
                            " UNION ALL SELECT 't' || id || ':' || xmin FROM facet_terms) r";
    char *before = harness_sql_value(&db, "%s", every_row);
    harness_migrate(&db);
    harness_expect_sql(&db, before, "%s", every_row);
    harness_expect_sql(&db, "0", "SELECT count(*) FROM cache_owed_bumps");
    free(before);
    harness_stop(&db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_spellings_take_the_first_variants),
        cmocka_unit_test(test_a_catalog_that_agrees_is_not_written),
    };
    return harness_run_group("migrate_option_spelling", tests, sizeof tests / sizeof tests[0], NULL,
                             NULL);
}
