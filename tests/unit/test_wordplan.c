/*
 * test_wordplan.c -- the table of the plan that answered each word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/db/wordplan.h"

#include <stdio.h>
#include <string.h>

static int reset(void **state) {
    (void)state;
    word_plan_reset();
    return 0;
}

static void test_unknown_until_put(void **state) {
    (void)state;
    assert_int_equal(word_plan_get("0:0:%ng%", 1000), WORD_PLAN_UNKNOWN);
    word_plan_put("0:0:%ng%", WORD_PLAN_WALK, 1000);
    assert_int_equal(word_plan_get("0:0:%ng%", 1001), WORD_PLAN_WALK);
    word_plan_put("0:0:%ng%", WORD_PLAN_INDEX, 2000);
    assert_int_equal(word_plan_get("0:0:%ng%", 2001), WORD_PLAN_INDEX);
    assert_int_equal(word_plan_get("1:0:%ng%", 2001), WORD_PLAN_UNKNOWN);
}

static void test_entries_expire(void **state) {
    (void)state;
    word_plan_put("0:0:%tv%", WORD_PLAN_INDEX, 5000);
    assert_int_equal(word_plan_get("0:0:%tv%", 5000 + WORD_PLAN_TTL_US - 1), WORD_PLAN_INDEX);
    assert_int_equal(word_plan_get("0:0:%tv%", 5000 + WORD_PLAN_TTL_US), WORD_PLAN_UNKNOWN);
}

/* Many words share few slots: a word whose slot another took is unknown
 * again, never given the other word's plan. */
static void test_a_taken_slot_never_answers_for_another_word(void **state) {
    (void)state;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "0:0:%%w%d%%", i);
        word_plan_put(key, i % 2 ? WORD_PLAN_WALK : WORD_PLAN_INDEX, 1);
    }
    int known = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "0:0:%%w%d%%", i);
        enum word_plan p = word_plan_get(key, 2);
        if (p != WORD_PLAN_UNKNOWN) {
            assert_int_equal(p, i % 2 ? WORD_PLAN_WALK : WORD_PLAN_INDEX);
            known++;
        }
    }
    assert_true(known > 0 && known <= 1024);
}

static void test_long_keys_are_not_remembered(void **state) {
    (void)state;
    char key[WORD_PLAN_KEY_MAX + 2];
    memset(key, 'x', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    word_plan_put(key, WORD_PLAN_INDEX, 1);
    assert_int_equal(word_plan_get(key, 2), WORD_PLAN_UNKNOWN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_unknown_until_put, reset),
        cmocka_unit_test_setup(test_entries_expire, reset),
        cmocka_unit_test_setup(test_a_taken_slot_never_answers_for_another_word, reset),
        cmocka_unit_test_setup(test_long_keys_are_not_remembered, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
