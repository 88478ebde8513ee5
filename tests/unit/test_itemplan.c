/*
 * test_itemplan.c -- the bits that send a product's item read to the full
 * statement first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/db/itemplan.h"

#include <stdint.h>

static int reset(void **state) {
    (void)state;
    item_plan_reset();
    return 0;
}

static void test_flat_first_until_set(void **state) {
    (void)state;
    assert_false(item_plan_full(42));
    item_plan_set_full(42, true);
    assert_true(item_plan_full(42));
    assert_false(item_plan_full(41));
    assert_false(item_plan_full(43));
    item_plan_set_full(42, false);
    assert_false(item_plan_full(42));
}

/* Neighbours in one word of bits keep their own state. */
static void test_each_id_its_own_bit(void **state) {
    (void)state;
    for (int64_t id = 1; id <= 200; id += 3)
        item_plan_set_full(id, true);
    for (int64_t id = 1; id <= 200; id++)
        assert_int_equal(item_plan_full(id), id % 3 == 1);
    item_plan_set_full(64, false); /* not set: nothing changes */
    item_plan_set_full(67, false);
    assert_false(item_plan_full(67));
    assert_true(item_plan_full(70));
}

/* Ids past the table share bits with smaller ones: a shared bit only
 * sends both to the full statement. */
static void test_large_ids_share_bits(void **state) {
    (void)state;
    int64_t big = (int64_t)ITEM_PLAN_BITS + 5;
    item_plan_set_full(big, true);
    assert_true(item_plan_full(big));
    assert_true(item_plan_full(5));
    assert_true(item_plan_full(INT64_MAX - ((INT64_MAX - 5) % ITEM_PLAN_BITS)));
    assert_false(item_plan_full(6));
}

static void test_ids_below_one_are_never_full(void **state) {
    (void)state;
    item_plan_set_full(0, true);
    item_plan_set_full(-1, true);
    item_plan_set_full(INT64_MIN, true);
    assert_false(item_plan_full(0));
    assert_false(item_plan_full(-1));
    assert_false(item_plan_full(INT64_MIN));
    assert_false(item_plan_full((int64_t)ITEM_PLAN_BITS - 1)); /* -1's bit, were it kept */
    assert_false(item_plan_full((int64_t)ITEM_PLAN_BITS));     /* 0's */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flat_first_until_set, reset),
        cmocka_unit_test_setup(test_each_id_its_own_bit, reset),
        cmocka_unit_test_setup(test_large_ids_share_bits, reset),
        cmocka_unit_test_setup(test_ids_below_one_are_never_full, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
