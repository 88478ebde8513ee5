/*
 * test_fdbudget.c -- the client connections an open-files limit allows.
 */
#include "nexus/http/fdbudget.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_a_soft_limit_that_fits_is_kept(void **state) {
    (void)state;
    assert_int_equal(fdbudget_wanted(4096, 20000, 20000), 20000);
    assert_int_equal(fdbudget_wanted(4096, 0, 0), 0); /* unlimited */
    assert_int_equal(fdbudget_wanted(4096, 4096 + FDBUDGET_KEPT, 8192), 4096 + FDBUDGET_KEPT);
}

static void test_a_low_soft_limit_is_raised_within_the_hard_one(void **state) {
    (void)state;
    assert_int_equal(fdbudget_wanted(4096, 1024, 1048576), 4096 + FDBUDGET_KEPT);
    assert_int_equal(fdbudget_wanted(4096, 1024, 0), 4096 + FDBUDGET_KEPT);
    assert_int_equal(fdbudget_wanted(4096, 1024, 2048), 2048);
    assert_int_equal(fdbudget_wanted(4096, 1024, 1024), 1024);
}

static void test_enough_files_admit_what_is_configured(void **state) {
    (void)state;
    struct fd_budget b = fdbudget_fit(4096, 1024, 4096 + FDBUDGET_KEPT);
    assert_int_equal(b.connections, 4096);
    assert_int_equal(b.per_ip, 1024);
    assert_false(b.reduced);
    b = fdbudget_fit(4096, 4096, 0);
    assert_int_equal(b.per_ip, 4096); /* unlimited files: as configured */
    assert_false(b.reduced);
}

static void test_too_few_files_admit_what_fits_and_half_per_address(void **state) {
    (void)state;
    struct fd_budget b = fdbudget_fit(4096, 1024, 1024);
    assert_int_equal(b.connections, 1024 - FDBUDGET_KEPT);
    assert_int_equal(b.per_ip, (1024 - FDBUDGET_KEPT) / 2);
    assert_true(b.reduced);
    b = fdbudget_fit(4096, 100, 1024); /* a lower per-address limit stays */
    assert_int_equal(b.per_ip, 100);
    b = fdbudget_fit(4096, 1024, 10); /* never below a handful */
    assert_int_equal(b.connections, 4);
    assert_int_equal(b.per_ip, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_soft_limit_that_fits_is_kept),
        cmocka_unit_test(test_a_low_soft_limit_is_raised_within_the_hard_one),
        cmocka_unit_test(test_enough_files_admit_what_is_configured),
        cmocka_unit_test(test_too_few_files_admit_what_fits_and_half_per_address),
    };
    return cmocka_run_group_tests_name("fdbudget", tests, NULL, NULL);
}
