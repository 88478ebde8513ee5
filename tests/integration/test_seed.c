/*
 * test_seed.c -- `nexus seed` leaves every index in place: a bulk seed
 * (which drops the secondary indexes, commits its rows and builds them
 * again two at a time) ends with the same indexes as the migrations made,
 * and a seed interrupted after committing its rows finishes the indexes
 * it left when run again.
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

static struct nexus_server bulk, small;
static char out[16384];

static int setup(void **state) {
    (void)state;
    harness_create_db(&bulk, "seedbulk");
    harness_create_db(&small, "seedsmall");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&bulk);
    harness_stop(&small);
    return 0;
}

/* Every index of the schema, as one text. */
static const char INDEXES[] = "SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes"
                              " WHERE schemaname = current_schema()";

static void seed(const struct nexus_server *s, const char *products) {
    const char *args[] = {"seed", "--products", products, "--categories", "52", NULL};
    int rc = harness_run(s, NULL, args, NULL, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "seed: %s\n", out);
    assert_int_equal(rc, 0);
}

static void test_bulk_seed_builds_every_index(void **state) {
    (void)state;
    seed(&small, "300");
    seed(&bulk, "20000");
    char *want = harness_sql(&small, INDEXES);
    char *got = harness_sql(&bulk, INDEXES);
    assert_string_equal(got, want);
    free(want);
    free(got);
    harness_expect_sql(&bulk, "20000|0",
                       "SELECT (SELECT count(*) FROM products) || '|' ||"
                       " (SELECT count(*) FROM seed_pending_indexes)");
    /* the numeric attributes were filled and their foreign key is back */
    harness_expect_sql(&bulk, "true|1",
                       "SELECT ((SELECT count(DISTINCT product_id) FROM product_attribute_numbers)"
                       " > 10000) || '|' || (SELECT count(*) FROM pg_constraint WHERE conrelid ="
                       " 'product_attribute_numbers'::regclass AND contype = 'f')");
    /* the one-variant products hold their variant's columns, and the next
     * variant takes the id after the seeded ones */
    harness_expect_sql(&bulk, "t",
                       "SELECT count(*) > 10000 FROM products"
                       " WHERE solo_variant_id IS NOT NULL");
    harness_expect_solo_variants_exact(&bulk, "a bulk seed");
    harness_expect_solo_variants_exact(&small, "a small seed");
    harness_expect_sql(&bulk, "t",
                       "SELECT nextval(pg_get_serial_sequence('product_variants',"
                       " 'id')) > (SELECT max(id) FROM product_variants)");
}

/* As if a seed stopped after committing its rows, two indexes unbuilt. */
static void test_rerun_builds_what_an_interrupted_seed_left(void **state) {
    (void)state;
    char *want = harness_sql(&small, INDEXES);
    free(harness_sql(&small, "INSERT INTO seed_pending_indexes SELECT indexname, indexdef"
                             " FROM pg_indexes WHERE indexname IN ('products_grams_idx',"
                             " 'product_variants_sku_key');"
                             "DROP INDEX products_grams_idx, product_variants_sku_key"));
    seed(&small, "300");
    char *got = harness_sql(&small, INDEXES);
    assert_string_equal(got, want);
    free(got);
    harness_expect_sql(&small, "300|0",
                       "SELECT (SELECT count(*) FROM products) || '|' ||"
                       " (SELECT count(*) FROM seed_pending_indexes)");
    /* then, nothing left to do: the catalog is not empty, nothing seeded */
    seed(&small, "300");
    assert_non_null(strstr(out, "catalog is not empty"));
    harness_expect_sql(&small, "300", "SELECT count(*) FROM products");
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_seed_builds_every_index),
        cmocka_unit_test(test_rerun_builds_what_an_interrupted_seed_left),
    };
    return harness_run_group("seed", tests, sizeof tests / sizeof tests[0], setup, teardown);
}
