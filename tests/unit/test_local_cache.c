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

static void put(const char *gen, const char *key, const char *body) {
    local_cache_put(gen, key, strlen(key), "\"etag-1\"", body, strlen(body));
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
    local_cache_put("7", "a\0b", 3, NULL, "nul", 3);
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
        cmocka_unit_test_setup_teardown(test_local_store_replaces_the_same_key, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_replacing_keeps_the_rest_of_the_chain, fresh,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_budget_is_never_exceeded, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_oversized_entry_is_not_kept, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_entries_expire, fresh, teardown),
        cmocka_unit_test_setup_teardown(test_local_clear_and_off, fresh, teardown),
    };
    return cmocka_run_group_tests_name("local_cache", tests, NULL, NULL);
}
