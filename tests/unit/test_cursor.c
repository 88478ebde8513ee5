/*
 * test_cursor.c -- cursors round-trip, and anything tampered with or used
 * out of its scope is refused.
 */
#include "nexus/core/cursor.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct cursor_scope SCOPE = {"products", "-price", "category=3&q=wire"};

static char *make(int64_t id, const char *value) {
    struct cursor_position pos = {.id = id};
    memcpy(pos.value, value, strlen(value) + 1);
    return cursor_encode(&SCOPE, &pos);
}

static void test_cursor_round_trips(void **state) {
    (void)state;
    char *c = make(1234, "19.99 \"quoted\" é");
    struct cursor_position pos;
    assert_true(cursor_decode(c, strlen(c), &SCOPE, &pos));
    assert_int_equal(pos.id, 1234);
    assert_string_equal(pos.value, "19.99 \"quoted\" é");
    free(c);
}

static void test_cursor_tampered_is_rejected(void **state) {
    (void)state;
    char *c = make(5, "2026-01-01T00:00:00.000000Z");
    struct cursor_position pos;
    for (size_t i = 0; i < strlen(c); i++) {
        char saved = c[i];
        c[i] = saved == 'A' ? 'B' : 'A';
        assert_false(cursor_decode(c, strlen(c), &SCOPE, &pos));
        c[i] = saved;
    }
    assert_false(cursor_decode(c, strlen(c) - 1, &SCOPE, &pos));
    free(c);
}

static void test_cursor_with_another_sort_or_filter_is_rejected(void **state) {
    (void)state;
    char *c = make(5, "10");
    struct cursor_position pos;
    struct cursor_scope other_sort = {"products", "price", SCOPE.filters};
    struct cursor_scope other_filter = {"products", "-price", "category=4&q=wire"};
    struct cursor_scope other_endpoint = {"users", "-price", SCOPE.filters};
    assert_false(cursor_decode(c, strlen(c), &other_sort, &pos));
    assert_false(cursor_decode(c, strlen(c), &other_filter, &pos));
    assert_false(cursor_decode(c, strlen(c), &other_endpoint, &pos));
    free(c);
}

static void test_cursor_from_another_key_is_rejected(void **state) {
    (void)state;
    char *c = make(5, "10");
    struct cursor_position pos;
    cursor_init((const unsigned char *)"another-secret-of-at-least-32-bytes", 35);
    assert_false(cursor_decode(c, strlen(c), &SCOPE, &pos));
    cursor_init((const unsigned char *)"unit-test-secret-0123456789abcdef", 33);
    assert_true(cursor_decode(c, strlen(c), &SCOPE, &pos));
    free(c);
}

static void test_malformed_cursors_are_rejected(void **state) {
    (void)state;
    struct cursor_position pos;
    const char *bad[] = {"", ".", "abc", "abc.", ".abc", "!!!.###", "a.b.c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cursor_decode(bad[i], strlen(bad[i]), &SCOPE, &pos));
    char big[2048];
    memset(big, 'A', sizeof big);
    big[100] = '.';
    assert_false(cursor_decode(big, sizeof big, &SCOPE, &pos));
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    cursor_init((const unsigned char *)"unit-test-secret-0123456789abcdef", 33);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_round_trips),
        cmocka_unit_test(test_cursor_tampered_is_rejected),
        cmocka_unit_test(test_cursor_with_another_sort_or_filter_is_rejected),
        cmocka_unit_test(test_cursor_from_another_key_is_rejected),
        cmocka_unit_test(test_malformed_cursors_are_rejected),
    };
    return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
