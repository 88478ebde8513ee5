/*
 * test_jsonscan.c -- the cursor over JSON text: spans of values, objects
 * and arrays walked in PostgreSQL's jsonb spelling, and malformed or cut
 * text making the scanner bad without reading past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/jsonscan.h"

#include <stdlib.h>
#include <string.h>

static bool span_is(struct jsonspan s, const char *want) {
    return s.len == strlen(want) && memcmp(s.s, want, s.len) == 0;
}

static void test_object_members(void **state) {
    (void)state;
    const char *text = "{\"a\": [1, {\"x\": \"]}\"}], \"b\\\"c\": \"d\\\\\", \"n\": -1.5e3, "
                       "\"t\": true, \"z\": null}";
    const char *keys[] = {"a", "b\\\"c", "n", "t", "z"};
    const char *values[] = {"[1, {\"x\": \"]}\"}]", "\"d\\\\\"", "-1.5e3", "true", "null"};
    struct jsonscan js;
    struct jsonspan key, value;
    bool first = true;
    size_t n = 0;
    jsonscan_init(&js, text, strlen(text));
    assert_true(jsonscan_open(&js, '{'));
    while (jsonscan_more(&js, '}', &first)) {
        assert_true(n < 5);
        assert_true(jsonscan_key(&js, &key));
        assert_true(jsonscan_value(&js, &value));
        assert_true(span_is(key, keys[n]));
        assert_true(span_is(value, values[n]));
        n++;
    }
    assert_int_equal(n, 5);
    assert_false(js.bad);
    assert_int_equal(jsonscan_peek(&js), 0);
    assert_true(jsonspan_escaped((struct jsonspan){keys[1], strlen(keys[1])}));
    assert_false(jsonspan_escaped((struct jsonspan){keys[0], 1}));
    assert_true(jsonspan_is((struct jsonspan){"url", 3}, "url"));
    assert_false(jsonspan_is((struct jsonspan){"url", 3}, "ur"));
}

static void test_array_of_strings(void **state) {
    (void)state;
    const char *text = " [ \"S\" , \"M\",\"L\" ] ";
    const char *want[] = {"S", "M", "L"};
    struct jsonscan js;
    struct jsonspan s;
    bool first = true;
    size_t n = 0;
    jsonscan_init(&js, text, strlen(text));
    assert_true(jsonscan_open(&js, '['));
    while (jsonscan_more(&js, ']', &first)) {
        assert_true(n < 3);
        assert_true(jsonscan_string(&js, &s));
        assert_true(span_is(s, want[n++]));
    }
    assert_int_equal(n, 3);
    assert_false(js.bad);
    jsonscan_init(&js, "[]", 2);
    first = true;
    assert_true(jsonscan_open(&js, '['));
    assert_false(jsonscan_more(&js, ']', &first));
    assert_false(js.bad);
}

/* Every prefix of a document is cut: walking it ends bad, never past its
 * end (the copy has no terminator for ASan to find it). */
static bool walk(const char *text, size_t len) {
    struct jsonscan js;
    struct jsonspan key, value;
    bool first = true;
    jsonscan_init(&js, text, len);
    if (!jsonscan_open(&js, '{'))
        return false;
    while (jsonscan_more(&js, '}', &first))
        if (!jsonscan_key(&js, &key) || !jsonscan_value(&js, &value))
            return false;
    return !js.bad;
}

static void test_cut_and_malformed_text(void **state) {
    (void)state;
    const char *text = "{\"a\": [1, 2], \"b\": \"x\\\"y\", \"c\": {\"d\": false}}";
    size_t len = strlen(text);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, text, n);
        assert_false(walk(copy, n));
        free(copy);
    }
    assert_true(walk(text, len));
    const char *bad[] = {"{\"a\" 1}", "{\"a\": 1,}", "{\"a\": 1 \"b\": 2}", "{1: 2}",
                         "[1]",       "{\"a\": }",   "{\"a\": ]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(walk(bad[i], strlen(bad[i])));
    struct jsonscan js;
    struct jsonspan s;
    jsonscan_init(&js, "1", 1);
    assert_false(jsonscan_string(&js, &s));
    assert_true(js.bad);
    assert_false(jsonscan_open(&js, '['));
    assert_int_equal(jsonscan_peek(&js), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_members),
        cmocka_unit_test(test_array_of_strings),
        cmocka_unit_test(test_cut_and_malformed_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
