/*
 * test_migrate_variants.c -- migration 0010 (variants) changes nothing a
 * v1 client reads. A database is built at the schema before it (the
 * migration files up to 0009, recorded as `nexus migrate` records them)
 * and filled; what v1 answers for each product is written down from those
 * rows; then `nexus migrate` applies 0010 and the server's item and list
 * answers must carry exactly those v1 fields, in the same order, with the
 * same bytes, the new fields after them.
 */
#include "harness.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define V1_FIELDS 13

static struct nexus_server db;
static char out[16384];

static int setup(void **state) {
    (void)state;
    harness_create_db(&db, "migvar");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&db);
    return 0;
}

/* Products of every kind v1 knew: with and without a category, active and
 * not, in and out of stock, deleted, other currencies, text that needs
 * escaping, distinct timestamps. */
static const char SEED[] =
    "INSERT INTO categories (name, slug) VALUES ('Shoes', 'shoes'), ('Hats \"&\" Caps', 'hats');"
    "INSERT INTO products (sku, name, slug, description, price_cents, currency, stock,"
    " category_id, is_active, created_at, updated_at)"
    " SELECT 'MIG-' || i, 'Migrated ' || i || CASE WHEN i % 5 = 0 THEN ' Größe ü' ELSE '' END,"
    " 'migrated-' || i, CASE WHEN i % 3 = 0 THEN E'Line \"quoted\"\\n\\ttab' ELSE '' END,"
    " CASE WHEN i = 7 THEN 9999999999 ELSE (i * 137) % 100000 END,"
    " CASE WHEN i % 4 = 0 THEN 'EUR' ELSE 'USD' END, i % 7,"
    " CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN (SELECT id FROM categories WHERE slug = 'shoes')"
    " ELSE (SELECT id FROM categories WHERE slug = 'hats') END, i % 6 <> 0,"
    " timestamptz '2025-01-01 00:00:00.123456+00' + i * interval '1 hour 7.000321 seconds',"
    " timestamptz '2025-06-01 00:00:00+00' + i * interval '3 minutes'"
    " FROM generate_series(1, 30) AS i;"
    "UPDATE products SET deleted_at = now() WHERE id % 10 = 0;";

/* What v1 answers for each live product, from its row: one JSON text per
 * product, by id. */
static const char EXPECTED[] =
    "SELECT json_build_object('id', p.id, 'sku', p.sku, 'name', p.name, 'slug', p.slug,"
    " 'description', p.description,"
    " 'price', (p.price_cents / 100)::text || '.' || lpad((p.price_cents % 100)::text, 2, '0'),"
    " 'currency', p.currency, 'stock', p.stock, 'in_stock', p.stock > 0,"
    " 'is_active', p.is_active, 'category', CASE WHEN c.id IS NULL THEN NULL ELSE"
    " json_build_object('id', c.id, 'name', c.name, 'slug', c.slug) END,"
    " 'created_at', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " 'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"
    " FROM products p LEFT JOIN categories c ON c.id = p.category_id"
    " WHERE p.deleted_at IS NULL ORDER BY p.id";

/* Every column v1 had, as stored. */
static const char V1_ROWS[] = "SELECT string_agg(row(id, sku, name, slug, description,"
                              " price_cents, currency, stock, category_id, is_active, version,"
                              " created_at, updated_at, deleted_at)::text, ';' ORDER BY id)"
                              " FROM products";

static json_t *expected_by_id(json_t *expected, long long id) {
    size_t i;
    json_t *p;
    json_array_foreach(expected, i,
                       p) if (json_integer_value(json_object_get(p, "id")) == id) return p;
    return NULL;
}

/* The answer's first V1_FIELDS members, in its order, equal want's; then
 * only new fields. */
static void assert_v1_prefix(json_t *want, json_t *got) {
    json_t *prefix = json_object();
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(got, key, v) {
        if (n++ < V1_FIELDS)
            json_object_set(prefix, key, v);
        else
            assert_null(json_object_get(want, key));
    }
    char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(prefix, JSON_COMPACT);
    if (strcmp(w, g) != 0)
        fprintf(stderr, "v1 fields differ:\n want %s\n  got %s\n", w, g);
    assert_string_equal(w, g);
    free(w);
    free(g);
    json_decref(prefix);
}

static json_t *load_expected(void) {
    PGconn *c = PQconnectdb(db.database_url);
    PGresult *r = PQexec(c, EXPECTED);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    json_t *all = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *p = json_loads(PQgetvalue(r, i, 0), 0, NULL);
        assert_non_null(p);
        json_array_append_new(all, p);
    }
    PQclear(r);
    PQfinish(c);
    return all;
}

static void check_items(json_t *expected, const char *token, size_t *seen) {
    size_t i;
    json_t *want;
    json_array_foreach(expected, i, want) {
        long long id = json_integer_value(json_object_get(want, "id"));
        bool active = json_is_true(json_object_get(want, "is_active"));
        char path[64];
        snprintf(path, sizeof path, "/api/v1/products/%lld", id);
        struct http_res *r = call("GET", path, token, NULL);
        if (!active && !token) {
            assert_int_equal(r->status, 404);
        } else {
            expect_status(r, 200, path);
            assert_v1_prefix(want, r->json);
            ++*seen;
        }
        http_res_free(r);
    }
}

static void check_list(json_t *expected, const char *query, const char *token, size_t want_count) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/products?limit=100&%s", query);
    struct http_res *r = call("GET", path, token, NULL);
    expect_status(r, 200, path);
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), want_count);
    size_t i;
    json_t *got;
    json_array_foreach(items, i, got) {
        json_t *want = expected_by_id(expected, json_integer_value(json_object_get(got, "id")));
        assert_non_null(want);
        assert_v1_prefix(want, got);
    }
    http_res_free(r);
}

static void test_v1_answers_survive_the_variants_migration(void **state) {
    (void)state;
    harness_migrate_before(&db, "0010");
    free(harness_sql(&db, SEED));
    json_t *expected = load_expected();
    assert_int_equal(json_array_size(expected), 27);
    char *rows_before = harness_sql(&db, V1_ROWS);
    assert_non_null(rows_before);

    const char *args[] = {"migrate", NULL};
    int rc = harness_run(&db, NULL, args, NULL, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", out);
    assert_int_equal(rc, 0);
    char *rows_after = harness_sql(&db, V1_ROWS);
    assert_string_equal(rows_before, rows_after);
    char *variants = harness_sql(&db, "SELECT count(*) FILTER (WHERE v.sku = p.sku"
                                      " AND v.price_cents = p.price_cents AND v.stock = p.stock"
                                      " AND v.options = '{}' AND v.position = 1)"
                                      " || '/' || count(*) FROM products p"
                                      " JOIN product_variants v ON v.product_id = p.id"
                                      " WHERE p.deleted_at IS NULL AND v.deleted_at IS NULL");
    assert_string_equal(variants, "27/27");
    harness_expect_solo_variants_exact(&db, "the migrations");

    struct nexus_server server = {0};
    harness_start_url(&server, "migvar-serve", db.database_url, NULL);
    harness_use(&server);
    char *staff = NULL, *customer = NULL;
    harness_staff_and_customer(&server, "migvar", &staff, &customer);
    size_t seen = 0;
    check_items(expected, NULL, &seen);
    check_items(expected, staff, &seen);
    assert_int_equal(seen, 23 + 27);
    check_list(expected, "", NULL, 23);
    check_list(expected, "include_inactive=true", staff, 27);
    check_list(expected, "sort=price", NULL, 23);
    check_list(expected, "sort=-name&in_stock=true", NULL, 19);
    free(staff);
    free(customer);
    harness_stop(&server);
    free(rows_before);
    free(rows_after);
    free(variants);
    json_decref(expected);
}

/* The request handlers' statement timeout does not apply to a migration:
 * 0010 moves every product of a catalog onto a variant, which takes far
 * longer than the 10 ms allowed here, and must still be applied. */
static void test_migration_of_a_large_catalog_outlasts_the_statement_timeout(void **state) {
    (void)state;
    struct nexus_server big = {0};
    harness_create_db(&big, "migvarbig");
    harness_migrate_before(&big, "0010");
    free(harness_sql(&big, "INSERT INTO products (sku, name, slug, price_cents, currency, stock)"
                           " SELECT 'BIG-' || i, 'Big ' || i, 'big-' || i, i, 'USD', i % 9"
                           " FROM generate_series(1, 20000) AS i"));
    const char *env[] = {"DB_STATEMENT_TIMEOUT_MS=10", NULL};
    const char *args[] = {"migrate", NULL};
    int rc = harness_run(&big, env, args, NULL, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", out);
    assert_int_equal(rc, 0);
    char *variants = harness_sql(&big, "SELECT count(*) FROM product_variants");
    assert_string_equal(variants, "20000");
    free(variants);
    harness_stop(&big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_answers_survive_the_variants_migration),
        cmocka_unit_test(test_migration_of_a_large_catalog_outlasts_the_statement_timeout),
    };
    return harness_run_group("migrate_variants", tests, sizeof tests / sizeof tests[0], setup,
                             teardown);
}
