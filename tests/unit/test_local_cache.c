/*
 * test_local_cache.c -- the in-process tier of the catalog cache: one
 * generation at a time, a byte budget, a lifetime.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/cache/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET (64 * 1024)

static int fresh(void **state) {
    (void)state;
    local_cache_init(BUDGET, 300);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    local_cache_free();
    return 0;
}

static void put_item(const char *gen, int64_t product_id, const char *key, const char *body) {
    local_cache_put(gen, product_id, key, strlen(key), "\"etag-1\"", body, strlen(body));
}

static void put(const char *gen, const char *key, const char *body) {
    put_item(gen, 0, key, body);
}

/* The body held under gen and key, or NULL (owned by the caller). */
static char *get(const char *gen, const char *key) {
    struct cache_entry e = {0};
    if (!local_cache_get(gen, key, strlen(key), &e))
        return NULL;
    assert_int_equal(e.len, strlen(e.body));
    return e.body;
}

static void assert_held(const char *gen, const char *key, const char *want) {
    char *body = get(gen, key);
    assert_non_null(body);
    assert_string_equal(body, want);
    free(body);
}

static void test_local_hit_returns_the_bytes_and_etag(void **state) {
    (void)state;
    put("7", "public:/api/v1/products/1?", "{\"id\":1}");
    struct cache_entry e = {0};
    assert_true(local_cache_get("7", "public:/api/v1/products/1?", 26, &e));
    assert_string_equal(e.etag, "\"etag-1\"");
    assert_int_equal(e.len, 8);
    assert_memory_equal(e.body, "{\"id\":1}", 9); /* NUL-terminated copy */
    free(e.body);
}

static void test_local_other_key_or_generation_misses(void **state) {
    (void)state;
    put("7", "a", "A");
    assert_null(get("7", "b"));
    assert_null(get("8", "a"));
    assert_null(get("", "a"));
}

static void test_local_keys_differ_by_length_and_bytes(void **state) {
    (void)state;
    put("7", "ab", "short");
    put("7", "abc", "long");
    assert_held("7", "ab", "short");
    assert_held("7", "abc", "long");
    local_cache_put("7", 0, "a\0b", 3, NULL, "nul", 3);
    assert_null(get("7", "a")); /* "a" is not "a\0b" */
    struct cache_entry e = {0};
    assert_true(local_cache_get("7", "a\0b", 3, &e));
    assert_string_equal(e.etag, "");
    free(e.body);
}

static void test_local_new_generation_drops_the_old(void **state) {
    (void)state;
    put("7", "a", "old");
    put("8", "b", "new");
    assert_null(get("7", "a"));
    assert_null(get("8", "a"));
    assert_held("8", "b", "new");
    assert_true(local_cache_bytes() < 200);
}

/* A store under an earlier generation than the table's is a read that
 * began before the table's writes: it is not kept, and keeps the rest. */
static void test_local_earlier_generation_is_not_stored(void **state) {
    (void)state;
    put("10", "b", "new");
    put("9", "a", "old");
    put("9", "b", "old");
    assert_null(get("9", "a"));
    assert_held("10", "b", "new");
}

/* Moving to a later generation keeps the items of the products that did
 * not change, under the new generation, and drops the changed products'
 * items (every key of them) and every entry that is no item. */
static void test_local_advance_keeps_unchanged_items(void **state) {
    (void)state;
    put_item("7", 1, "item-1", "one");
    put_item("7", 1, "item-1-fields", "one, some fields");
    put_item("7", 2, "item-2", "two");
    put_item("7", 4097, "item-4097", "same bucket as 1");
    put("7", "list", "all");
    int64_t changed[] = {1, 3};
    assert_true(local_cache_advance("7", "9", changed, 2, false));
    assert_null(get("9", "item-1"));
    assert_null(get("9", "item-1-fields"));
    assert_null(get("9", "list"));
    assert_null(get("7", "item-2"));
    assert_held("9", "item-2", "two");
    assert_held("9", "item-4097", "same bucket as 1");
    char gen[24];
    local_cache_generation(gen, sizeof gen);
    assert_string_equal(gen, "9");
    put_item("9", 1, "item-1", "one again"); /* the chains are intact */
    assert_held("9", "item-1", "one again");
    assert_held("9", "item-4097", "same bucket as 1");
}

static void test_local_advance_of_every_item_drops_all(void **state) {
    (void)state;
    put_item("7", 2, "item-2", "two");
    assert_true(local_cache_advance("7", "8", NULL, 0, true));
    assert_null(get("8", "item-2"));
    assert_int_equal(local_cache_bytes(), 0);
}

/* Only from the table's own generation: another thread may have moved it. */
static void test_local_advance_from_another_generation_does_nothing(void **state) {
    (void)state;
    put_item("7", 2, "item-2", "two");
    assert_false(local_cache_advance("6", "8", NULL, 0, false));
    assert_false(local_cache_advance("", "8", NULL, 0, false));
    assert_held("7", "item-2", "two");
}

/* Many entries of one product and of others, dropped and stored again in
 * turn: the byte count comes back to what is held. */
static void test_local_advance_accounts_every_byte(void **state) {
    (void)state;
    char key[32], from[8], to[8];
    size_t empty = local_cache_bytes();
    for (int round = 0; round < 5; round++) {
        snprintf(from, sizeof from, "%d", 10 + round);
        snprintf(to, sizeof to, "%d", 11 + round);
        for (int i = 0; i < 300; i++) {
            snprintf(key, sizeof key, "k-%d", i);
            put_item(from, i % 7 + 1, key, "body");
        }
        int64_t changed[] = {3};
        assert_true(local_cache_advance(from, to, changed, 1, false));
        assert_null(get(to, "k-2")); /* product 3 */
        assert_held(to, "k-3", "body");
    }
    local_cache_clear();
    assert_int_equal(local_cache_bytes(), empty);
}

static void test_local_store_replaces_the_same_key(void **state) {
    (void)state;
    put("7", "a", "first");
    size_t one = local_cache_bytes();
    put("7", "a", "again");
    assert_held("7", "a", "again");
    assert_int_equal(local_cache_bytes(), one);
}

/* Replacing a key keeps every other key of its hash chain: with five keys
 * a bucket on average, every other key is stored again, and all are still
 * held, each with its latest body. */
static void test_local_replacing_keeps_the_rest_of_the_chain(void **state) {
    (void)state;
    enum { KEYS = 20000 };
    char key[32];
    local_cache_init(64u << 20, 300);
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put("7", key, "first");
    }
    for (int i = 0; i < KEYS; i += 2) {
        snprintf(key, sizeof key, "key-%d", i);
        put("7", key, "second");
    }
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_held("7", key, i % 2 ? "first" : "second");
    }
}

static void test_local_budget_is_never_exceeded(void **state) {
    (void)state;
    char body[4000], key[32];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put("7", key, body);
        assert_true(local_cache_bytes() <= BUDGET);
        assert_held("7", key, body); /* the entry just stored is always kept */
    }
}

/* A full table makes room by dropping some of its entries, not all: most
 * of what it held before the store that overflowed it is still there. */
static void test_local_full_table_keeps_most_entries(void **state) {
    (void)state;
    char body[1000], key[32];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    int stored = 0;
    for (; local_cache_bytes() + 2 * sizeof body < BUDGET; stored++) {
        snprintf(key, sizeof key, "key-%d", stored);
        put("7", key, body);
    }
    size_t full = local_cache_bytes();
    for (int i = 0; i < 4; i++, stored++) { /* past the budget */
        snprintf(key, sizeof key, "key-%d", stored);
        put("7", key, body);
        assert_true(local_cache_bytes() <= BUDGET);
        assert_held("7", key, body);
    }
    assert_true(local_cache_bytes() >= full / 2);
    int held = 0;
    for (int i = 0; i < stored; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        char *b = get("7", key);
        held += b != NULL;
        free(b);
    }
    assert_true(held >= stored / 2);
    assert_true(held < stored); /* something had to go */
}

static void test_local_oversized_entry_is_not_kept(void **state) {
    (void)state;
    size_t n = BUDGET / 8 + 1;
    char *body = malloc(n + 1);
    assert_non_null(body);
    memset(body, 'y', n);
    body[n] = '\0';
    put("7", "big", body);
    assert_null(get("7", "big"));
    assert_int_equal(local_cache_bytes(), 0);
    free(body);
}

static void test_local_entries_expire(void **state) {
    (void)state;
    local_cache_init(BUDGET, 0); /* a lifetime of zero: gone at once */
    put("7", "a", "A");
    assert_null(get("7", "a"));
    assert_int_equal(local_cache_bytes(), 0);
}

static void test_local_clear_and_off(void **state) {
    (void)state;
    put("7", "a", "A");
    local_cache_clear();
    assert_null(get("7", "a"));
    assert_true(local_cache_enabled());
    local_cache_init(0, 300);
    assert_false(local_cache_enabled());
    put("7", "a", "A");
    assert_null(get("7", "a"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_hit_returns_the_bytes_and_etag, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_other_key_or_generation_misses, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_keys_differ_by_length_and_bytes, fresh,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_new_generation_drops_the_old, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_earlier_generation_is_not_stored, fresh,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_advance_keeps_unchanged_items, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_advance_of_every_item_drops_all, fresh,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_advance_from_another_generation_does_nothing,
                                        fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_advance_accounts_every_byte, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_store_replaces_the_same_key, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_replacing_keeps_the_rest_of_the_chain, fresh,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_budget_is_never_exceeded, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_full_table_keeps_most_entries, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_oversized_entry_is_not_kept, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_entries_expire, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_clear_and_off, fresh, teardown),
    };
    return cmocka_run_group_tests_name("local_cache", tests, NULL, NULL);
}
