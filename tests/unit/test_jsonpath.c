/*
 * test_jsonpath.c -- the field at a position of a JSON document: members
 * by key, items by index, nesting, strings with brackets and escapes, the
 * top level and keys refused, and a number blanked in place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/jsonpath.h"

#include <string.h>

/* The path at the end of the first occurrence of marker in text. */
static const char *path_after(const char *text, const char *marker) {
    static char out[128];
    const char *at = strstr(text, marker);
    assert_non_null(at);
    size_t offset = (size_t)(at - text) + strlen(marker);
    return jsonpath_at(text, strlen(text), offset, out, sizeof out) ? out : NULL;
}

static void test_members_and_items(void **state) {
    (void)state;
    const char *doc = "{\"stock\": 1e400, \"attributes\": {\"w\": 2e400},"
                      " \"variants\": [{\"sku\": \"a\"}, {\"price\": 3e400}], \"m\": [[4, 5e400]]}";
    assert_string_equal(path_after(doc, "1e400"), "stock");
    assert_string_equal(path_after(doc, "2e400"), "attributes.w");
    assert_string_equal(path_after(doc, "3e400"), "variants[1].price");
    assert_string_equal(path_after(doc, "5e400"), "m[0][1]");
}

static void test_strings_do_not_count(void **state) {
    (void)state;
    const char *doc = "{\"a\": \"[{,:}]\", \"k\\\"ey\": 7e400}";
    assert_string_equal(path_after(doc, "7e400"), "k\\\"ey");
    const char *long_key =
        "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaa\": 1}";
    assert_int_equal(strlen(path_after(long_key, ": 1")), 64); /* a key is cut at 64 bytes */
}

static void test_top_level_and_keys_have_no_path(void **state) {
    (void)state;
    char out[32];
    assert_false(jsonpath_at("1e400", 5, 5, out, sizeof out));
    assert_false(jsonpath_at("{\"a\"", 4, 4, out, sizeof out));      /* a key, before its ':' */
    assert_false(jsonpath_at("{\"a\": 1}}", 9, 9, out, sizeof out)); /* closes what is not open */
    assert_false(jsonpath_at("{\"a\": \"open", 11, 11, out, sizeof out));
    assert_true(jsonpath_at("[1e400]", 7, 6, out, sizeof out));
    assert_string_equal(out, "[0]");
    assert_true(jsonpath_at("{\"abc\": 1}", 10, 9, out, 3)); /* cut to the buffer */
    assert_string_equal(out, "ab");
}

static void test_zero_number(void **state) {
    (void)state;
    char doc[] = "{\"a\": -1.5e+400, \"b\": 2}";
    jsonpath_zero_number(doc, strlen("{\"a\": -1.5e+400"));
    assert_string_equal(doc, "{\"a\": 0        , \"b\": 2}"); /* same length */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_items),
        cmocka_unit_test(test_strings_do_not_count),
        cmocka_unit_test(test_top_level_and_keys_have_no_path),
        cmocka_unit_test(test_zero_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
