/*
 * test_seed.c -- `nexus seed` leaves every index in place: a bulk seed
 * (which drops the secondary indexes, commits its rows and builds them
 * again two at a time) ends with the same indexes as the migrations made,
 * and a seed interrupted after committing its rows finishes the indexes
 * it left when run again; the unique indexes are never missing once the
 * rows are committed. A seed into a running system makes the servers'
 * cached lists unreachable, also when it stops between its commit and
 * its bump, and makes as many categories as asked.
 */
#include "harness.h"
#include "silent_redis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

static struct nexus_server bulk, small, stopped, tree, live, owed, held, uncached;
static char out[16384];

static int setup(void **state) {
    (void)state;
    harness_create_db(&bulk, "seedbulk");
    harness_create_db(&small, "seedsmall");
    harness_create_db(&stopped, "seedstopped");
    harness_create_db(&tree, "seedtree");
    harness_create_db(&held, "seedheld");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&bulk);
    harness_stop(&small);
    harness_stop(&stopped);
    harness_stop(&tree);
    harness_stop(&held);
    if (live.pid)
        harness_stop(&live);
    if (owed.pid)
        harness_stop(&owed);
    if (uncached.pid)
        harness_stop(&uncached);
    return 0;
}

/* Every index of the schema, as one text. */
static const char INDEXES[] = "SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes"
                              " WHERE schemaname = current_schema()";

/* Fail unless s has exactly the indexes want lists (as INDEXES has them). */
static void expect_indexes(const struct nexus_server *s, const char *want) {
    char *got = harness_sql(s, INDEXES);
    assert_string_equal(got, want);
    free(got);
}

/* `nexus seed`, with extra_env; its exit status, its output in out. */
static int run_seed(const struct nexus_server *s, const char *const *extra_env,
                    const char *products, const char *categories) {
    const char *args[] = {"seed", "--products", products, "--categories", categories, NULL};
    return harness_run(s, extra_env, args, NULL, out, sizeof out);
}

static void seed(const struct nexus_server *s, const char *products) {
    int rc = run_seed(s, NULL, products, "52");
    if (rc != 0)
        fprintf(stderr, "seed: %s\n", out);
    assert_int_equal(rc, 0);
}

static void test_bulk_seed_builds_every_index(void **state) {
    (void)state;
    seed(&small, "300");
    seed(&bulk, "20000");
    char *want = harness_sql(&small, INDEXES);
    expect_indexes(&bulk, want);
    free(want);
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
    /* it loaded nothing, and says so */
    assert_non_null(strstr(out, "finished building the indexes of an interrupted seed"));
    assert_null(strstr(out, "seeded 300 products"));
    expect_indexes(&small, want);
    harness_expect_sql(&small, "300|0",
                       "SELECT (SELECT count(*) FROM products) || '|' ||"
                       " (SELECT count(*) FROM seed_pending_indexes)");
    /* then, nothing left to do: the catalog is not empty, nothing seeded */
    seed(&small, "300");
    assert_non_null(strstr(out, "catalog is not empty"));
    harness_expect_sql(&small, "300", "SELECT count(*) FROM products");
    free(want);
}

/* An index build that fails says why: here a unique index over the
 * duplicates a write made while it was missing (a database an older seed
 * left so). */
static void test_a_failed_build_says_why(void **state) {
    (void)state;
    char *want = harness_sql(&small, INDEXES);
    char *slug = harness_sql_value(&small, "SELECT slug FROM products WHERE id = 2");
    free(harness_sql(&small, "INSERT INTO seed_pending_indexes SELECT indexname, indexdef"
                             " FROM pg_indexes WHERE indexname = 'products_slug_key';"
                             "DROP INDEX products_slug_key;"
                             "UPDATE products SET slug = (SELECT slug FROM products WHERE id = 1)"
                             " WHERE id = 2"));
    assert_int_equal(run_seed(&small, NULL, "300", "52"), 1);
    if (!strstr(out, "could not create unique index"))
        fprintf(stderr, "seed: %s\n", out);
    assert_non_null(strstr(out, "could not create unique index"));
    free(harness_sql_value(&small, "UPDATE products SET slug = '%s' WHERE id = 2 RETURNING 1",
                           slug));
    free(slug);
    seed(&small, "300");
    expect_indexes(&small, want);
    free(want);
}

/* A bulk seed stopped after its rows were committed, before its builds
 * (here by a build that fails: an index of the schema's that divides by
 * zero on any row, listed and built first as a GIN index): writes are
 * still checked against every unique index meanwhile. */
static void test_unique_indexes_outlive_an_interrupted_bulk_seed(void **state) {
    (void)state;
    harness_migrate(&stopped);
    free(harness_sql(&stopped, "CREATE INDEX products_zz_doomed_idx ON products"
                               " USING gin ((ARRAY[1 / (id - id)]))"));
    assert_int_equal(run_seed(&stopped, NULL, "20000", "52"), 1);
    assert_non_null(strstr(out, "division by zero"));
    harness_expect_sql(&stopped, "20000", "SELECT count(*) FROM products");
    static const char *const duplicates[] = {
        "UPDATE products SET sku = 'SKU-00000001' WHERE id = 2",
        "UPDATE products SET slug = (SELECT slug FROM products WHERE id = 1) WHERE id = 2",
        "UPDATE product_variants SET sku = (SELECT sku FROM product_variants WHERE id = 1)"
        " WHERE id = 2",
        /* a product's second variant given its first's options */
        "UPDATE product_variants v SET options = f.options FROM product_variants f"
        " WHERE f.product_id = v.product_id AND f.id < v.id"
        " AND v.id = (SELECT min(id) FROM product_variants WHERE position = 2)",
    };
    for (size_t i = 0; i < sizeof duplicates / sizeof *duplicates; i++) {
        char *done = harness_sql(&stopped, duplicates[i]);
        if (done)
            fprintf(stderr, "taken while the seed's builds were pending: %s\n", duplicates[i]);
        assert_null(done);
    }
    harness_expect_sql(&stopped, "0",
                       "SELECT count(*) FROM seed_pending_indexes"
                       " WHERE definition LIKE 'CREATE UNIQUE %%'");
    /* without the doomed index, the seed run again finishes the rest */
    free(harness_sql(&stopped, "DELETE FROM seed_pending_indexes"
                               " WHERE name = 'products_zz_doomed_idx'"));
    seed(&stopped, "20000");
    assert_non_null(strstr(out, "finished building the indexes of an interrupted seed"));
    char *want = harness_sql(&small, INDEXES);
    expect_indexes(&stopped, want);
    free(want);
}

/* --categories M makes M categories, whatever M is. With a Redis of its
 * own, the seed forgets the bump it owed with its rows once its bump
 * landed. */
static void test_seed_makes_the_categories_asked(void **state) {
    (void)state;
    char redis[600];
    snprintf(redis, sizeof redis, "REDIS_URL=%s", getenv("NEXUS_TEST_REDIS_URL"));
    const char *env[] = {redis, NULL};
    assert_int_equal(run_seed(&tree, env, "10", "77"), 0);
    assert_non_null(strstr(out, "in 77 categories"));
    harness_expect_sql(&tree, "77|3",
                       "SELECT count(*) || '|' || count(*) FILTER (WHERE parent_id IS NULL)"
                       " FROM categories");
    harness_expect_sql(&tree, "0", "SELECT count(*) FROM cache_owed_bumps");
}

struct seed_run {
    const char *const *env;
    int rc;
};

static void *seed_in_background(void *arg) {
    struct seed_run *run = arg;
    run->rc = run_seed(&held, run->env, "10", "26");
    return NULL;
}

/* A seed stopped between the commit of its rows and its bump loses no
 * invalidation: the bump is owed in the transaction that commits them, as
 * an import's batch's is. The seed is held there by a Redis that takes
 * its bump's connection and never answers (for 10 s a try). */
static void test_seed_owes_its_bump_with_its_rows(void **state) {
    (void)state;
    struct silent_redis r;
    char sock[64], url[600];
    snprintf(sock, sizeof sock, "/tmp/nexus-seed-silent-%d.sock", (int)getpid());
    silent_redis_start(&r, sock);
    snprintf(url, sizeof url, "REDIS_URL=unix://%s", sock);
    const char *env[] = {url, "REDIS_TIMEOUT_MS=10000", NULL};
    struct seed_run run = {env, -1};
    pthread_t seeder;
    assert_int_equal(pthread_create(&seeder, NULL, seed_in_background, &run), 0);
    /* the seed's first use of Redis is its bump, after its commit */
    for (int i = 0; i < 1200 && silent_redis_accepted(&r) == 0; i++) {
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_true(silent_redis_accepted(&r) >= 1);
    harness_expect_sql(&held, "10|1",
                       "SELECT (SELECT count(*) FROM products) || '|' ||"
                       " (SELECT count(*) FROM cache_owed_bumps)");
    /* Redis gone: the bump fails at once, and stays owed */
    silent_redis_stop(&r);
    pthread_join(seeder, NULL);
    assert_int_equal(run.rc, 0);
    harness_expect_sql(&held, "1", "SELECT count(*) FROM cache_owed_bumps");
}

static size_t listed_products(void) {
    struct http_res *r = http_request("GET", "/api/v1/products", NULL, NULL, 0);
    expect_status(r, 200, "the product list");
    size_t n = json_array_size(json_object_get(r->json, "items"));
    http_res_free(r);
    return n;
}

/* A server that has cached the empty list. */
static void start_with_empty_list_cached(struct nexus_server *s, const char *name) {
    harness_start(s, name, NULL);
    assert_int_equal(listed_products(), 0);
    struct http_res *r = http_request("GET", "/api/v1/products", NULL, NULL, 0);
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    http_res_free(r);
}

/* A seed into a running system bumps the catalog cache once its rows are
 * committed: the next read of a list sees them. */
static void test_seed_bumps_the_running_servers_cache(void **state) {
    (void)state;
    start_with_empty_list_cached(&live, "seedlive");
    assert_int_equal(run_seed(&live, NULL, "10", "26"), 0);
    assert_int_equal(listed_products(), 10);
}

/* Run without Redis (only DATABASE_URL), it records the bump as owed,
 * which the servers deliver: the list shows the rows long before the
 * entry's CACHE_TTL. */
static void test_seed_without_redis_owes_the_bump(void **state) {
    (void)state;
    start_with_empty_list_cached(&owed, "seedowed");
    const char *no_redis[] = {"REDIS_URL=", NULL};
    assert_int_equal(run_seed(&owed, no_redis, "10", "26"), 0);
    size_t n = 0;
    /* 60 s: a bound on a hang, well short of the entry's CACHE_TTL */
    for (int i = 0; i < 1200 && (n = listed_products()) == 0; i++) {
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(n, 10);
}

/* With no Redis anywhere, there is no cache to be stale: a server without
 * one forgets the bump a seed without one owes (it cannot tell whether the
 * servers have a Redis), and nothing stays owed. */
static void test_seed_without_any_redis_leaves_nothing_owed(void **state) {
    (void)state;
    const char *no_redis[] = {"REDIS_URL=", NULL};
    harness_start(&uncached, "seeduncached", no_redis);
    assert_int_equal(run_seed(&uncached, no_redis, "10", "26"), 0);
    assert_int_equal(listed_products(), 10);
    harness_wait_sql(&uncached, "0", "SELECT count(*) FROM cache_owed_bumps");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_seed_builds_every_index),
        cmocka_unit_test(test_rerun_builds_what_an_interrupted_seed_left),
        cmocka_unit_test(test_a_failed_build_says_why),
        cmocka_unit_test(test_unique_indexes_outlive_an_interrupted_bulk_seed),
        cmocka_unit_test(test_seed_makes_the_categories_asked),
        cmocka_unit_test(test_seed_owes_its_bump_with_its_rows),
        cmocka_unit_test(test_seed_bumps_the_running_servers_cache),
        cmocka_unit_test(test_seed_without_redis_owes_the_bump),
        cmocka_unit_test(test_seed_without_any_redis_leaves_nothing_owed),
    };
    return harness_run_group("seed", tests, sizeof tests / sizeof tests[0], setup, teardown);
}
