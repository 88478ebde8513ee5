/*
 * test_migrate_search_codes.c -- migration 0018 (the index of characters
 * and pairs with bigint keys) answers every word as the text keys did. A
 * database is built at the schema before it and filled by SQL (names and
 * descriptions with accents, upper case, symbols, an emoji, deleted and
 * inactive products); for each word, the products whose text holds the
 * word's keys are noted; `nexus migrate` applies 0018; the new keys, read
 * through the index, must find exactly the same products, and a search
 * for each short word must list exactly the products its text matches.
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
    harness_create_db(&db, "migsc");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&db);
    return 0;
}

static const char SEED[] =
    "INSERT INTO products (sku, name, slug, description, price_cents, stock, is_active)"
    " SELECT 'MSC-' || i, (ARRAY['Ultra TV 4K', 'Crème Brûlée Torch', 'ÜBER-Lamp',"
    " 'a-b (x) test;', 'Mug \xF0\x9F\x98\x80 large', 'X200 Drill', 'Gas Up Stove', 'É', 'tv',"
    " 'Kettle'])[i % 10 + 1] || ' ' || i, 'searched-' || i,"
    " (ARRAY['', 'Ng and more', 'plain words', 'Ère nouvelle', 'a', 'UP!', '4k screen', "
    " 'x', 'tvtv'])[i % 9 + 1], 100 + i, i % 3, i % 7 <> 0"
    " FROM generate_series(1, 90) AS i;"
    "UPDATE products SET deleted_at = now() WHERE id % 11 = 0;";

/* Words without a trigram, and a few with one. */
static const char *const WORDS[] = {
    "a",  "é",  "É",   "tv",   "TV", "4k", "-", ";", "(x", "a-b", "Üb", "ÈRE", "\xF0\x9F\x98\x80",
    "ng", "up", "gas", "x200", " ",  "!",  "k", "z", "zz", "tvtv"};
#define WORD_COUNT (sizeof WORDS / sizeof WORDS[0])

/* The ids (in order) of the live products whose keys hold the word's,
 * through functions, read through the index. */
static char *matched(const char *codes, const char *word_codes, const char *word) {
    return harness_sql_value(&db,
                             "SET enable_seqscan = off;"
                             "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '')"
                             " FROM products WHERE deleted_at IS NULL"
                             " AND %s(lower(name || ' ' || description)) @> %s(lower('%s'))",
                             codes, word_codes, word);
}

/* The ids a search for the word lists (it fits one page here). */
static char *searched(const char *word) {
    char path[256], *ids = calloc(1, 2048);
    snprintf(path, sizeof path, "/api/v1/products?limit=100&sort=price&q=%s", word);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r->json, "items"), i, item)
        snprintf(ids + strlen(ids), 2048 - strlen(ids), "%s%lld", i ? "," : "", jint(item, "id"));
    http_res_free(r);
    return ids;
}

static void test_migration_keeps_every_answer(void **state) {
    (void)state;
    harness_migrate_before(&db, "0018");
    free(harness_sql(&db, SEED));
    char *before[WORD_COUNT];
    for (size_t w = 0; w < WORD_COUNT; w++)
        before[w] = matched("nexus_search_grams", "nexus_search_word_grams", WORDS[w]);
    harness_migrate(&db);
    harness_expect_sql(&db, "t",
                       "SELECT indexdef LIKE '%%USING gin (nexus_search_codes(%%' FROM pg_indexes"
                       " WHERE indexname = 'products_grams_idx'");
    for (size_t w = 0; w < WORD_COUNT; w++) {
        char *after = matched("nexus_search_codes", "nexus_search_word_codes", WORDS[w]);
        if (strcmp(before[w], after) != 0)
            fprintf(stderr, "word [%s]: [%s] before, [%s] after\n", WORDS[w], before[w], after);
        assert_string_equal(before[w], after);
        free(after);
        free(before[w]);
    }

    /* the searches (price sort: the ids' order) list what their text matches */
    struct nexus_server server = {0};
    harness_start_url(&server, "migsc-serve", db.database_url, NULL);
    harness_use(&server);
    static const char *const SEARCHES[][2] = {{"tv", "tv"},    {"4k", "4k"},   {"x", "x"},
                                              {"%C3%A9", "é"}, {"a-b", "a-b"}, {"up", "up"}};
    for (size_t s = 0; s < sizeof SEARCHES / sizeof SEARCHES[0]; s++) {
        char *want = harness_sql_value(
            &db,
            "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM products"
            " WHERE is_active AND deleted_at IS NULL"
            " AND strpos(lower(name || ' ' || description), lower('%s')) > 0",
            SEARCHES[s][1]);
        char *got = searched(SEARCHES[s][0]);
        assert_true(strlen(want) > 0);
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
    harness_stop(&server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migration_keeps_every_answer),
    };
    return harness_run_group("migrate_search_codes", tests, sizeof tests / sizeof tests[0], setup,
                             teardown);
}
