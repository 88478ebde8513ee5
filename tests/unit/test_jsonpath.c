/*
 * test_jsonpath.c -- the field at a position of a JSON document: members
 * by key, items by index, nesting, strings with brackets and escapes, the
 * top level and keys refused, keys named decoded and cut between
 * characters, integers past 64 bits read as reals, and reals past a
 * double named as fields, however many and however deep.
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
    assert_string_equal(path_after(doc, "7e400"), "k\"ey"); /* the key, its escape read */
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

/* A key is named as it reads, not as it is written: its escapes decoded
 * (a surrogate pair is one character, \u0000 stays as written), cut at 64
 * bytes between characters, and a path cut to its buffer the same way. */
static void test_keys_are_named_decoded(void **state) {
    (void)state;
    assert_string_equal(path_after("{\"st\\u006fck\": 1e400}", "1e4"), "stock");
    assert_string_equal(path_after("{\"attributes\": {\"w\\u0065ight\": 1e400}}", "1e4"),
                        "attributes.weight");
    assert_string_equal(path_after("{\"\\u00C9cran \\ud83d\\ude00\\t\\/\": [1e400]}", "1e4"),
                        "\xC3\x89"
                        "cran \xF0\x9F\x98\x80\t/[0]");
    assert_string_equal(path_after("{\"a\\u0000b\": 1e400}", "1e4"), "a\\u0000b");
    /* 1 + 40 two-byte characters: 63 bytes kept, not 64 with half of one */
    struct buf doc = {0};
    buf_puts(&doc, "{\"a");
    for (int i = 0; i < 40; i++)
        buf_puts(&doc, i % 2 ? "\xC3\xA9" : "\\u00e9");
    buf_puts(&doc, "\": 1e400}");
    const char *key = path_after(doc.data, "1e4");
    assert_int_equal(strlen(key), 63);
    assert_memory_equal(key, "a\xC3\xA9\xC3\xA9", 5);
    assert_memory_equal(key + 61, "\xC3\xA9", 2);
    buf_clear(&doc);
    char out[8];
    assert_true(jsonpath_at("{\"abcde\\u00e9\": 1}", 18, 17, out, 7)); /* "abcde" + 2 bytes */
    assert_string_equal(out, "abcde");
}

/* Integers past 64 bits read as the nearest double, however many; reals
 * past a double still fail as overflows. */
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
    /* an error after one is placed in the text as sent, not in the copy
     * read, which has "e0" after each such integer */
    static const char LATER[] = "{\"a\":123456789012345678901234567890,\"b\":tru}";
    assert_null(jsonpath_load_wide(LATER, sizeof LATER - 1, 0, &err));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 43);
    assert_int_equal(err.position, 43);
    static const char LINES[] = "{\"a\": [12345678901234567890,\n 12345678901234567890, x]}";
    assert_null(jsonpath_load_wide(LINES, sizeof LINES - 1, 0, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 24);
    assert_int_equal(err.position, 53);
    /* however many there are: one pass widens them all */
    struct buf many = {0};
    buf_puts(&many, "[");
    for (int i = 0; i < 5000; i++)
        buf_printf(&many, "%s-99999999999999999999", i ? "," : "");
    buf_puts(&many, "]");
    v = jsonpath_load_wide(many.data, many.len, 0, &err);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 5000);
    assert_true(json_real_value(json_array_get(v, 4999)) == -99999999999999999999.0);
    json_decref(v);
    buf_clear(&many);
}

/* A raw NUL byte is never JSON: jansson alone reads one right after a
 * number or a literal as the token's end ({"a":1<NUL>} as {"a":1}). */
static void test_raw_nul_is_refused_and_placed(void **state) {
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        int line, column;
    } cases[] = {{"{\"a\":1\0}", 8, 1, 7}, {"{\"a\":true\0}", 11, 1, 10},
                 {"[1\0,2]", 6, 1, 3},     {"{\"a\":\"x\0\"}", 9, 1, 8},
                 {"\0{}", 3, 1, 1},        {"{\"n\":\"\xc3\xa9\",\n \"b\":null\0}", 21, 2, 10}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_error_t err;
        assert_null(jsonpath_loadb(cases[i].text, cases[i].len, JSON_DECODE_ANY, &err));
        assert_int_equal(err.line, cases[i].line);
        assert_int_equal(err.column, cases[i].column);
        assert_string_equal(jsonpath_fault(&err), "malformed JSON (a raw NUL byte)");
        assert_null(jsonpath_load_wide(cases[i].text, cases[i].len, JSON_DECODE_ANY, NULL));
        struct field_errors named = {0};
        assert_null(
            jsonpath_load_past_numbers(cases[i].text, cases[i].len, JSON_DECODE_ANY, &err, &named));
        assert_int_equal(fielderr_count(&named), 0);
    }
    json_t *v = jsonpath_loadb("{\"a\":1}", 7, 0, NULL);
    assert_non_null(v);
    json_decref(v);
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

/* before, then 1e400 in arrays arrays, then after, into doc. */
static void nest_1e400(struct buf *doc, const char *before, int arrays, const char *after) {
    buf_puts(doc, before);
    for (int i = 0; i < arrays; i++)
        buf_puts(doc, "[");
    buf_puts(doc, "1e400");
    for (int i = 0; i < arrays; i++)
        buf_puts(doc, "]");
    buf_puts(doc, after);
}

/* Every real past a double in a well-formed object is read, however many
 * (the first JSONPATH_NAMED_MAX are named) and however deep (as deep as
 * jansson reads, 2,048 levels); a key spelt with escapes is named as it
 * reads. */
static void test_any_count_and_depth_of_numbers_is_named(void **state) {
    (void)state;
    json_error_t err;
    struct field_errors found = {0};
    struct buf doc = {0};
    buf_puts(&doc, "{\"attributes\": {\"a\": [");
    for (int i = 0; i < 65; i++)
        buf_printf(&doc, "%s99999999999999999999", i ? "," : "");
    buf_puts(&doc, ", 1e400]}, \"st\\u006fck\": 1e400");
    for (int i = 0; i < 1000; i++)
        buf_printf(&doc, ", \"n%d\": -2e999", i);
    buf_puts(&doc, "}");
    json_t *v = jsonpath_load_past_numbers(doc.data, doc.len, 0, &err, &found);
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), 64); /* JSONPATH_NAMED_MAX */
    assert_string_equal(fielderr_at(&found, 0)->field, "attributes.a[65]");
    assert_string_equal(fielderr_at(&found, 1)->field, "stock");
    assert_string_equal(fielderr_at(&found, 2)->field, "n0");
    assert_true(
        json_is_real(json_array_get(json_object_get(json_object_get(v, "attributes"), "a"), 64)));
    assert_int_equal(json_integer_value(json_object_get(v, "n999")), 0);
    json_decref(v);
    fielderr_clear(&found);
    buf_clear(&doc);
    /* 2,047 objects and arrays and the number: 2,048 levels, as deep as
     * jansson reads; the path is cut to its buffer */
    nest_1e400(&doc, "{\"attributes\": {\"a\": ", 2045, "}}");
    v = jsonpath_load_past_numbers(doc.data, doc.len, 0, &err, &found);
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), 1);
    assert_memory_equal(fielderr_at(&found, 0)->field, "attributes.a[0][0]", 18);
    json_decref(v);
    fielderr_clear(&found);
    /* a level deeper than jansson reads (the number inside 2,048 arrays
     * and objects) is refused as such, and not walked into */
    buf_clear(&doc);
    nest_1e400(&doc, "{\"a\": ", 2047, "}");
    assert_null(jsonpath_load_past_numbers(doc.data, doc.len, 0, &err, &found));
    assert_int_equal(json_error_code(&err), json_error_stack_overflow);
    assert_int_equal(fielderr_count(&found), 0);
    char out[16];
    assert_false(jsonpath_at(doc.data, doc.len, doc.len - 2048, out, sizeof out));
    assert_true(jsonpath_at(doc.data, doc.len, doc.len - 2053, out, sizeof out)); /* its '[' */
    fielderr_clear(&found);
    buf_clear(&doc);
}

/* Naming a field costs a step per level it is deep: however many values
 * past a double a body holds, deep down under empty keys, only the named
 * ones (JSONPATH_NAMED_MAX) pay it, so the work is linear in the body. */
static void test_naming_work_is_bounded(void **state) {
    (void)state;
    struct buf doc = {0};
    for (int i = 0; i < 2046; i++)
        buf_puts(&doc, "{\"\":");
    buf_puts(&doc, "[");
    for (int i = 0; i < 5000; i++)
        buf_puts(&doc, i ? ",1e400" : "1e400");
    buf_puts(&doc, "]");
    for (int i = 0; i < 2046; i++)
        buf_puts(&doc, "}");
    struct field_errors found = {0};
    json_error_t err;
    size_t before = jsonpath_levels_written();
    json_t *v = jsonpath_load_past_numbers(doc.data, doc.len, 0, &err, &found);
    size_t levels = jsonpath_levels_written() - before;
    assert_non_null(v);
    assert_int_equal(fielderr_count(&found), JSONPATH_NAMED_MAX);
    /* and each path only as far as its 127 bytes go: the first level, one
     * per byte, and the one that does not fit */
    assert_true(levels <= (size_t)JSONPATH_NAMED_MAX * 129);
    json_decref(v);
    fielderr_clear(&found);
    buf_clear(&doc);
}

/* The fields named loading text, an object that reads (duplicate keys
 * refused, as a body's are): exactly those given (NULL-terminated), in
 * order. */
static void expect_named(const char *text, const char *const *fields) {
    json_error_t err;
    struct field_errors found = {0};
    json_t *v =
        jsonpath_load_past_numbers(text, strlen(text), JSON_REJECT_DUPLICATES, &err, &found);
    assert_non_null(v);
    size_t n = 0;
    for (; fields[n]; n++) {
        assert_true(n < fielderr_count(&found));
        assert_string_equal(fielderr_at(&found, n)->field, fields[n]);
    }
    assert_int_equal(fielderr_count(&found), n);
    json_decref(v);
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
    assert_string_equal(fielderr_at(&found, 0)->message, "must not contain a NUL character");
    json_decref(v);
    fielderr_clear(&found);
    expect_named(TEXT, (const char *[]){"password", "variants[1].sku", "stock", NULL});
    /* an empty key is a level of its own, "" under it is "." */
    expect_named("{\"\": {\"\": 1e400, \"a\": \"\\u0000\"}, \"a\": 1e400, \"b\": [{\"\": 1e400}]}",
                 (const char *[]){".", ".a", "a", "b[0].", NULL});
    /* a key holding one is named like a value; the rest still reads */
    expect_named("{\"a\": {\"b\\\\u0000\\u0000c\": 1}, \"d\": 1e400}",
                 (const char *[]){"a.b\\u0000\\u0000c", "d", NULL});
    /* a value holding one under a key holding one: the key, as sent, is
     * its field (named once); under another key, each is named */
    expect_named("{\"a\\u0000\": \"\\u0000\", \"b\\u0001\": \"\\u0000\", \"c\": 1e400}",
                 (const char *[]){"a\\u0000", "b\x01", "c", NULL});
    expect_named("{\"a\\u0000\": 1e400, \"c\": 1e400}", (const char *[]){"a\\u0000", "c", NULL});
    static const char TOP[] = "\"\\u0000\"";
    assert_null(jsonpath_load_past_numbers(TOP, sizeof TOP - 1, JSON_DECODE_ANY, &err, &found));
    assert_int_equal(fielderr_count(&found), 0);
}

/* What is under a key holding a NUL, however deep, is not named again:
 * the key is its field's one error. */
static void test_nothing_under_a_nul_key_is_named(void **state) {
    (void)state;
    expect_named("{\"a\\u0000\": {\"b\": \"\\u0000\", \"c\": 1e400}}",
                 (const char *[]){"a\\u0000", NULL});
    expect_named("{\"a\\u0000\": [1e400, {\"b\": [\"\\u0000\"]}]}",
                 (const char *[]){"a\\u0000", NULL});
    expect_named("{\"a\\u0000\": {\"b\\u0000\": {\"c\\u0000\": 1}}}",
                 (const char *[]){"a\\u0000", NULL});
    /* past its value, its siblings and theirs are named */
    expect_named("{\"a\\u0000\": {\"b\": 1e400}, \"c\": {\"d\": 1e400}, \"e\": [1e400]}",
                 (const char *[]){"a\\u0000", "c.d", "e[0]", NULL});
}

/* A key holding a NUL is read as another key, which must not be one of
 * its object's: two keys are one only when they are in the text. */
static void test_nul_keys_meet_no_other_key(void **state) {
    (void)state;
    expect_named("{\"a\\u0000\": 1, \"a\\u0001\": 2}", (const char *[]){"a\\u0000", NULL});
    expect_named("{\"a\\u0001\": 2, \"a\\u0000\": 1}", (const char *[]){"a\\u0000", NULL});
    expect_named("{\"a\\u0000\\u0001\": 1, \"a\\u0001\\u0001\": 2, \"a\\u0001\\u0000\": 3}",
                 (const char *[]){"a\\u0000\x01", "a\x01\\u0000", NULL});
    expect_named("{\"o\": {\"a\\u0001\": 1e400, \"a\\u0000\": [\"\\u0000\"]}}",
                 (const char *[]){"o.a\x01", "o.a\\u0000", NULL});
    /* keys that are one in the text stay one: the body is malformed, at
     * the column where jansson stops the same text without a NUL */
    static const char *const TWICE[][2] = {
        {"{\"a\\u0001\": 1, \"a\\u0001\": 2, \"b\\u0000\": 3}",
         "{\"a\\u0001\": 1, \"a\\u0001\": 2, \"b\\u0002\": 3}"},
        {"{\"b\\u0000\": 3,\n \"a\\u0001\": 1, \"a\\u0001\": 2}",
         "{\"b\\u0002\": 3,\n \"a\\u0001\": 1, \"a\\u0001\": 2}"},
        {"{\"a\\u0000\": 1, \"a\\u0000\": 2, \"c\\u0001\": 3}",
         "{\"a\\u0002\": 1, \"a\\u0002\": 2, \"c\\u0001\": 3}"},
    };
    for (size_t i = 0; i < sizeof TWICE / sizeof *TWICE; i++) {
        json_error_t err, want;
        struct field_errors found = {0};
        assert_null(jsonpath_load_past_numbers(TWICE[i][0], strlen(TWICE[i][0]),
                                               JSON_REJECT_DUPLICATES, &err, &found));
        assert_null(json_loads(TWICE[i][1], JSON_REJECT_DUPLICATES, &want));
        assert_int_equal(json_error_code(&want), json_error_duplicate_key);
        assert_int_equal(err.line, want.line);
        assert_int_equal(err.column, want.column);
        assert_int_equal(err.position, want.position);
        fielderr_clear(&found);
    }
    /* without a key holding a NUL, a key holding \u0001 is read as sent */
    static const char WIDE[] = "{\"k\\u0001\": 123456789012345678901234567890}";
    struct field_errors found = {0};
    json_t *v =
        jsonpath_load_past_numbers(WIDE, sizeof WIDE - 1, JSON_REJECT_DUPLICATES, NULL, &found);
    assert_non_null(json_object_get(v, "k\x01"));
    assert_int_equal(fielderr_count(&found), 0);
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_items),
        cmocka_unit_test(test_strings_do_not_count),
        cmocka_unit_test(test_top_level_and_keys_have_no_path),
        cmocka_unit_test(test_keys_are_named_decoded),
        cmocka_unit_test(test_load_wide),
        cmocka_unit_test(test_raw_nul_is_refused_and_placed),
        cmocka_unit_test(test_load_past_numbers),
        cmocka_unit_test(test_any_count_and_depth_of_numbers_is_named),
        cmocka_unit_test(test_nul_strings_are_named),
        cmocka_unit_test(test_nothing_under_a_nul_key_is_named),
        cmocka_unit_test(test_nul_keys_meet_no_other_key),
        cmocka_unit_test(test_naming_work_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
