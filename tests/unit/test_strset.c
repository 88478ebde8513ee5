/*
 * test_strset.c -- the string set: indexes in insertion order, lookups
 * across growth, emptying.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/strset.h"

#include <stdio.h>
#include <string.h>

static void test_add_gives_insertion_indexes(void **state) {
    (void)state;
    struct strset set = {0};
    assert_int_equal(strset_find(&set, "a"), STRSET_NONE);
    assert_int_equal(strset_add(&set, "a"), 0);
    assert_int_equal(strset_add(&set, "b"), 1);
    assert_int_equal(strset_add(&set, "a"), 0); /* already there */
    assert_int_equal(set.count, 2);
    assert_int_equal(strset_find(&set, "b"), 1);
    assert_int_equal(strset_find(&set, "c"), STRSET_NONE);
    assert_string_equal(strset_at(&set, 1), "b");
    strset_free(&set);
}

/* Thousands of strings: the table grows several times and every string
 * keeps its index and its text. */
static void test_lookups_survive_growth(void **state) {
    (void)state;
    struct strset set = {0};
    char s[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "sku-%d", i);
        assert_int_equal(strset_add(&set, s), (size_t)i);
    }
    assert_true(set.cap >= 2 * set.count);
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "sku-%d", i);
        assert_int_equal(strset_find(&set, s), (size_t)i);
        assert_string_equal(strset_at(&set, (size_t)i), s);
    }
    assert_int_equal(strset_find(&set, "sku-5000"), STRSET_NONE);
    strset_free(&set);
}

static void test_empty_forgets_everything(void **state) {
    (void)state;
    struct strset set = {0};
    strset_add(&set, "x");
    strset_add(&set, "y");
    strset_empty(&set);
    assert_int_equal(set.count, 0);
    assert_int_equal(strset_find(&set, "x"), STRSET_NONE);
    assert_int_equal(strset_add(&set, "y"), 0);
    assert_string_equal(strset_at(&set, 0), "y");
    strset_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_gives_insertion_indexes),
        cmocka_unit_test(test_lookups_survive_growth),
        cmocka_unit_test(test_empty_forgets_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
