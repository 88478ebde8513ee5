/*
 * test_jsonpath.c -- the field at a position of a JSON document: members
 * by key, items by index, nesting, strings with brackets and escapes, the
 * top level and keys refused, a number blanked in place, integers past
 * 64 bits read as reals, and reals past a double named as fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/fielderr.h"
#include "nexus/core/jsonpath.h"
#include "nexus/core/xmem.h"

#include <stdlib.h>
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

/* Integers past 64 bits read as the nearest double; reals past a double,
 * and more integers than the bound, still fail as overflows. */
static void test_load_wide(void **state) {
    (void)state;
    static const char TEXT[] =
        "{\"a\": 12345678901234567890, \"b\": [-99999999999999999999], \"c\": 7}";
    json_t *v = jsonpath_load_wide(TEXT, sizeof TEXT - 1, 0, NULL);
    assert_non_null(v);
    assert_true(json_is_real(json_object_get(v, "a")));
    assert_true(json_real_value(json_object_get(v, "a")) == 12345678901234567890.0);
    assert_true(json_real_value(json_array_get(json_object_get(v, "b"), 0)) ==
                -99999999999999999999.0);
    assert_true(json_is_integer(json_object_get(v, "c")));
    json_decref(v);
    json_error_t err;
    static const char REAL[] = "{\"a\": 12345678901234567890, \"b\": 1e400}";
    assert_null(jsonpath_load_wide(REAL, sizeof REAL - 1, 0, &err));
    assert_int_equal(json_error_code(&err), json_error_numeric_overflow);
    struct buf many = {0};
    buf_puts(&many, "[");
    for (int i = 0; i <= JSONPATH_WIDEN_MAX; i++)
        buf_printf(&many, "%s99999999999999999999", i ? "," : "");
    buf_puts(&many, "]");
    assert_null(jsonpath_load_wide(many.data, many.len, 0, &err));
    buf_clear(&many);
    size_t len = 0;
    assert_null(jsonpath_widen_integer("[1.5e999]", 9, 8, &len));
    char *wide = jsonpath_widen_integer("[99999999999999999999]", 22, 21, &len);
    assert_string_equal(wide, "[99999999999999999999e0]");
    assert_int_equal(len, 24);
    free(wide);
}

/* Reals past a double in an object are read as 0 and their fields named;
 * integers past 64 bits are still widened; outside an object, or in a
 * document malformed besides, nothing is read. */
static void test_load_past_numbers(void **state) {
    (void)state;
    static const char TEXT[] = "{\"a\": 1e400, \"b\": [2, -1e999], \"c\": 99999999999999999999,"
                               " \"d\": {\"e\": 1e400}}";
    struct field_errors found = {0};
    json_error_t err;
    json_t *v = jsonpath_load_past_numbers(TEXT, sizeof TEXT - 1, 0, &err, &found);
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), 3);
    assert_string_equal(fielderr_at(&found, 0)->field, "a");
    assert_string_equal(fielderr_at(&found, 1)->field, "b[1]");
    assert_string_equal(fielderr_at(&found, 2)->field, "d.e");
    assert_string_equal(fielderr_at(&found, 0)->message, "is a number out of range");
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 0);
    assert_true(json_is_real(json_object_get(v, "c")));
    json_decref(v);
    fielderr_clear(&found);
    static const char ARRAY[] = " [1e400]";
    assert_null(jsonpath_load_past_numbers(ARRAY, sizeof ARRAY - 1, 0, &err, &found));
    assert_int_equal(fielderr_count(&found), 0);
    static const char BROKEN[] = "{\"a\": 1e400, \"b\": }";
    assert_null(jsonpath_load_past_numbers(BROKEN, sizeof BROKEN - 1, 0, &err, &found));
    fielderr_clear(&found);
}

/* In an object, a string holding a NUL (\u0000), value or key, is its
 * field's error, as a number out of range is; outside an object, the text
 * stays malformed. */
static void test_nul_strings_are_named(void **state) {
    (void)state;
    json_error_t err;
    struct field_errors found = {0};
    static const char TEXT[] = "{\"password\": \"a\\u0000b\", \"ok\": \"a\\\\u0000\","
                               " \"variants\": [{\"sku\": \"x\"}, {\"sku\": \"\\u0000\"}],"
                               " \"stock\": 1e400}";
    json_t *v = jsonpath_load_past_numbers(TEXT, sizeof TEXT - 1, 0, &err, &found);
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), 3);
    assert_string_equal(fielderr_at(&found, 0)->field, "stock");
    assert_string_equal(fielderr_at(&found, 1)->field, "password");
    assert_string_equal(fielderr_at(&found, 1)->message, "must not contain a NUL character");
    assert_string_equal(fielderr_at(&found, 2)->field, "variants[1].sku");
    json_decref(v);
    fielderr_clear(&found);
    /* a key holding one is named like a value; the rest still reads */
    static const char KEY[] = "{\"a\": {\"b\\\\u0000\\u0000c\": 1}, \"d\": 1e400}";
    v = jsonpath_load_past_numbers(KEY, sizeof KEY - 1, 0, &err, &found);
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), 2);
    assert_string_equal(fielderr_at(&found, 0)->field, "a.b\\\\u0000\\u0000c");
    assert_string_equal(fielderr_at(&found, 0)->message, "must not contain a NUL character");
    assert_string_equal(fielderr_at(&found, 1)->field, "d");
    json_decref(v);
    fielderr_clear(&found);
    static const char TOP[] = "\"\\u0000\"";
    assert_null(jsonpath_load_past_numbers(TOP, sizeof TOP - 1, JSON_DECODE_ANY, &err, &found));
    assert_int_equal(fielderr_count(&found), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_items),
        cmocka_unit_test(test_strings_do_not_count),
        cmocka_unit_test(test_top_level_and_keys_have_no_path),
        cmocka_unit_test(test_zero_number),
        cmocka_unit_test(test_load_wide),
        cmocka_unit_test(test_load_past_numbers),
        cmocka_unit_test(test_nul_strings_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
