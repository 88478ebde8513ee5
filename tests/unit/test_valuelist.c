/*
 * test_valuelist.c -- the lists of attr.* and option.* values: commas
 * and backslashes escaped by a backslash, read into a text[] literal and
 * written back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/valuelist.h"

#include <string.h>

/* The literal and count of list, asserting it reads. */
static void expect_array(const char *list, const char *want, size_t want_count) {
    struct buf array = {0};
    size_t count = 0;
    if (valuelist_to_array(list, strlen(list), &array, &count) != VALUELIST_OK)
        fail_msg("%s: refused", list);
    assert_string_equal(array.data, want);
    assert_int_equal(count, want_count);
    buf_clear(&array);
}

static void expect_error(const char *list, enum valuelist_error want) {
    struct buf array = {0};
    size_t count = 0;
    if (valuelist_to_array(list, strlen(list), &array, &count) != want)
        fail_msg("%s: not refused as expected", list);
    buf_clear(&array);
}

static void test_plain_values_split_on_commas(void **state) {
    (void)state;
    expect_array("M", "{\"M\"}", 1);
    expect_array("acme,zelkal", "{\"acme\",\"zelkal\"}", 2);
    /* what an array literal gives a meaning to is quoted */
    expect_array("a\"b,{c},d e,NULL", "{\"a\\\"b\",\"{c}\",\"d e\",\"NULL\"}", 4);
}

static void test_a_backslash_escapes_a_comma_or_a_backslash(void **state) {
    (void)state;
    expect_array("x\\,y", "{\"x,y\"}", 1);
    expect_array("x\\,y,z", "{\"x,y\",\"z\"}", 2);
    expect_array("\\,", "{\",\"}", 1);
    expect_array("x\\\\y", "{\"x\\\\y\"}", 1);       /* the value x\y */
    expect_array("x\\\\,y", "{\"x\\\\\",\"y\"}", 2); /* x\ and y */
    expect_array("x\\\\\\,y", "{\"x\\\\,y\"}", 1);   /* x\,y */
}

static void test_empty_values_and_other_escapes_are_refused(void **state) {
    (void)state;
    expect_error(",a", VALUELIST_EMPTY_VALUE);
    expect_error("a,", VALUELIST_EMPTY_VALUE);
    expect_error("a,,b", VALUELIST_EMPTY_VALUE);
    expect_error(",", VALUELIST_EMPTY_VALUE);
    expect_error("x\\q", VALUELIST_BAD_ESCAPE);
    expect_error("x\\", VALUELIST_BAD_ESCAPE);
    expect_error("\\", VALUELIST_BAD_ESCAPE);
    expect_error("a,\\", VALUELIST_BAD_ESCAPE);
    expect_error("\\n", VALUELIST_BAD_ESCAPE);
}

/* Values written with valuelist_append read back as themselves. */
static void test_appended_values_read_back(void **state) {
    (void)state;
    struct buf list = {0};
    valuelist_append(&list, "x,y");
    valuelist_append(&list, "a\\b");
    valuelist_append(&list, "plain");
    valuelist_append(&list, ",\\");
    assert_string_equal(list.data, "x\\,y,a\\\\b,plain,\\,\\\\");
    expect_array(list.data, "{\"x,y\",\"a\\\\b\",\"plain\",\",\\\\\"}", 4);
    buf_clear(&list);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_values_split_on_commas),
        cmocka_unit_test(test_a_backslash_escapes_a_comma_or_a_backslash),
        cmocka_unit_test(test_empty_values_and_other_escapes_are_refused),
        cmocka_unit_test(test_appended_values_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
