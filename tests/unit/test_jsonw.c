/*
 * test_jsonw.c -- the streaming JSON writer writes what jansson's encoder
 * writes for the same values, byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/jsonpick.h"
#include "nexus/core/jsonw.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void assert_same_as_jansson(struct jsonw *w, json_t *expected) {
    char *want = json_dumps(expected, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len;
    char *got = jsonw_take(w, &len);
    assert_non_null(want);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    free(want);
    json_decref(expected);
}

/* Every ASCII character, alone and inside text, escaped as jansson does. */
static void test_every_ascii_character(void **state) {
    (void)state;
    for (int c = 1; c < 128; c++) {
        char s[8] = {'a', (char)c, 'b', (char)c, '\0'};
        struct jsonw w = {0};
        jsonw_string(&w, s);
        assert_same_as_jansson(&w, json_string(s));
    }
}

/* Strings of every length up to 24 with one byte that needs care (a
 * control character, '"', '\\', DEL's neighbour, a two-byte UTF-8
 * character) at every position: the plain bytes before and after it are
 * read eight at a time, the rest one by one; all escaped as jansson does. */
static void test_special_byte_at_every_position(void **state) {
    (void)state;
    static const char *const specials[] = {"\x01", "\x1f", "\"", "\\", "\x7f", "\xc3\xa9", " "};
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++)
        for (size_t len = 1; len <= 24; len++)
            for (size_t at = 0; at < len; at++) {
                char s[32];
                memset(s, 'x', len);
                size_t n = strlen(specials[k]);
                memcpy(s + at, specials[k], n);
                size_t total = at + n > len ? at + n : len;
                s[total] = '\0';
                struct jsonw w = {0};
                jsonw_string(&w, s);
                assert_same_as_jansson(&w, json_string(s));
            }
}

/* A member named by a literal is the member jsonw_key names. */
static void test_member_is_key(void **state) {
    (void)state;
    struct jsonw w = {0};
    jsonw_object_open(&w);
    jsonw_member(&w, "price_range");
    jsonw_int(&w, 1);
    jsonw_member(&w, "id");
    jsonw_stringn(&w, "ab\"c", 4);
    jsonw_object_close(&w);
    assert_same_as_jansson(&w, json_pack("{s:i, s:s}", "price_range", 1, "id", "ab\"c"));
}

static void test_utf8_is_copied(void **state) {
    (void)state;
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \"/\\ \n\t";
    struct jsonw w = {0};
    jsonw_string(&w, s);
    assert_same_as_jansson(&w, json_string(s));
}

static void test_integers(void **state) {
    (void)state;
    const int64_t values[] = {0, 7, -7, 10, 1234567890123LL, INT64_MAX, INT64_MIN};
    struct jsonw w = {0};
    json_t *want = json_array();
    jsonw_array_open(&w);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        jsonw_int(&w, values[i]);
        json_array_append_new(want, json_integer(values[i]));
    }
    jsonw_array_close(&w);
    assert_same_as_jansson(&w, want);
}

/* Objects in arrays in objects, empty ones, every kind of value, raw
 * bytes: commas and colons where jansson puts them. */
static void test_nesting_and_separators(void **state) {
    (void)state;
    struct jsonw w = {0};
    jsonw_object_open(&w);
    jsonw_key(&w, "items");
    jsonw_array_open(&w);
    for (int i = 0; i < 3; i++) {
        jsonw_object_open(&w);
        jsonw_key(&w, "id");
        jsonw_int(&w, i);
        jsonw_key(&w, "on");
        jsonw_bool(&w, i % 2);
        jsonw_key(&w, "none");
        jsonw_null(&w);
        jsonw_key(&w, "empty");
        jsonw_object_open(&w);
        jsonw_object_close(&w);
        jsonw_key(&w, "list");
        jsonw_array_open(&w);
        jsonw_array_close(&w);
        jsonw_object_close(&w);
    }
    jsonw_raw(&w, "{\"raw\":[1,2]}", 13);
    jsonw_array_close(&w);
    jsonw_key(&w, "next \"cursor\"");
    jsonw_string(&w, "abc");
    jsonw_object_close(&w);

    json_t *want = json_object(), *items = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(items, json_pack("{s:I, s:b, s:n, s:{}, s:[]}", "id", (json_int_t)i,
                                               "on", i % 2, "none", "empty", "list"));
    json_array_append_new(items, json_pack("{s:[i,i]}", "raw", 1, 2));
    json_object_set_new(want, "items", items);
    json_object_set_new(want, "next \"cursor\"", json_string("abc"));
    assert_same_as_jansson(&w, want);
}

/* Text as PostgreSQL writes jsonb (spaces, its escapes, \u001f in lower
 * case) comes out as jansson writes the same value, inside an object. */
static void test_foreign_text_is_rewritten(void **state) {
    (void)state;
    static const char *const texts[] = {
        "{}",
        "[]",
        "{\"a\": 1, \"ok\": true, \"no\": false, \"brand\": \"Acme\", \"ratio\": 1.5}",
        "[{\"alt\": \"\", \"url\": \"https://a.example/x.jpg?a=1&b=2\"}, {\"alt\": \"x\","
        " \"url\": \"http://b\"}]",
        "{\"s\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0001\\u001f\\u001F \\u00e9\\u20ac"
        " \\ud83d\\ude00 caf\xc3\xa9 \x7f\"}",
        "{\"nested\": {\"list\": [1, -2, [], {}, null]}, \"k\": \"a , b : c\"}",
        "-7",
        "\"just text\"",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_error_t err;
        json_t *v = json_loads(texts[i], JSON_DECODE_ANY, &err);
        if (!v)
            fail_msg("bad test JSON %s: %s", texts[i], err.text);
        struct jsonw w = {0};
        jsonw_object_open(&w);
        jsonw_key(&w, "id");
        jsonw_int(&w, 1);
        jsonw_key(&w, "v");
        jsonw_text(&w, texts[i], strlen(texts[i]));
        jsonw_key(&w, "after");
        jsonw_bool(&w, true);
        jsonw_object_close(&w);
        assert_same_as_jansson(&w, json_pack("{s:i, s:o, s:b}", "id", 1, "v", v, "after", 1));
    }
}

/* jansson's answer for a projection: the members of each object not in
 * keep deleted. */
static json_t *deleted_but(json_t *v, const char *const *keep, size_t n) {
    json_t *objects = json_is_array(v) ? v : json_pack("[O]", v), *o;
    size_t i;
    json_array_foreach(objects, i, o) {
        const char *key;
        void *tmp;
        json_t *value;
        json_object_foreach_safe(o, tmp, key, value) {
            bool kept = false;
            for (size_t k = 0; k < n; k++)
                kept |= strcmp(key, keep[k]) == 0;
            if (!kept)
                json_object_del(o, key);
        }
    }
    if (objects != v)
        json_decref(objects);
    return v;
}

/* Projections keep the chosen members of each object, in their order,
 * with nested values (strings with commas, quotes, braces) intact. */
static void test_projection(void **state) {
    (void)state;
    static const char *const texts[] = {
        "{\"id\":1,\"name\":\"a,\\\"b\\\"}{[\",\"category\":{\"id\":2,\"name\":\"c\"},"
        "\"images\":[{\"url\":\"u\",\"alt\":\"\"}],\"price\":\"1.00\",\"n\":null,\"t\":true}",
        "[{\"id\":1,\"name\":\"x\",\"attributes\":{\"name\":\"inner\"}},{\"id\":2},{}]",
        "[]",
        "{}",
    };
    static const char *const keep[][3] = {
        {"id", NULL}, {"id", "name", NULL}, {"id", "category", "images"}, {"attributes", "t", "n"}};
    static const size_t counts[] = {1, 2, 3, 3};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++)
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
            struct buf out = {0};
            jsonpick(&out, texts[t], strlen(texts[t]), keep[k], counts[k]);
            struct jsonw w = {0};
            jsonw_raw(&w, out.data, out.len);
            buf_clear(&out);
            json_t *v = json_loads(texts[t], 0, NULL);
            assert_non_null(v);
            assert_same_as_jansson(&w, deleted_but(v, keep[k], counts[k]));
        }
}

static void test_take_resets_the_writer(void **state) {
    (void)state;
    struct jsonw w = {0};
    jsonw_array_open(&w);
    jsonw_int(&w, 1);
    jsonw_array_close(&w);
    free(jsonw_take(&w, NULL));
    jsonw_int(&w, 2);
    assert_same_as_jansson(&w, json_integer(2));
}

/* A tree, nested deeper than the writer's own levels, with every kind of
 * value, written as one value among others. */
static void test_jansson_value(void **state) {
    (void)state;
    json_t *deep = json_string("leaf \"q\" \x01 \xc3\xa9");
    for (int i = 0; i < 2 * JSONW_MAX_DEPTH; i++)
        deep = json_pack(i % 2 ? "[o]" : "{s:o}", i % 2 ? (void *)deep : "k", deep);
    json_t *tree = json_pack("{s:o, s:i, s:I, s:f, s:b, s:b, s:n, s:[], s:{}, s:s%}", "deep", deep,
                             "int", -42, "big", (json_int_t)INT64_MIN, "real", 0.1, "t", 1, "f", 0,
                             "null", "empty", "none", "nul", "a\0b", (size_t)3);
    json_object_set_new(tree, "z first?", json_integer(1));
    json_object_set_new(tree, "a last", json_integer(2));
    struct jsonw w = {0};
    jsonw_array_open(&w);
    jsonw_int(&w, 1);
    jsonw_value(&w, tree);
    jsonw_value(&w, json_null());
    jsonw_array_close(&w);
    assert_same_as_jansson(&w, json_pack("[i, O, n]", 1, tree, NULL));
    json_decref(tree);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_ascii_character),
        cmocka_unit_test(test_utf8_is_copied),
        cmocka_unit_test(test_special_byte_at_every_position),
        cmocka_unit_test(test_member_is_key),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_nesting_and_separators),
        cmocka_unit_test(test_foreign_text_is_rewritten),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_take_resets_the_writer),
        cmocka_unit_test(test_jansson_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
