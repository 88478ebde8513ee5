/*
 * test_numtext.c -- a double's shortest spelling and its plain decimal
 * form, as PostgreSQL writes the numeric it keeps: point moved either way,
 * signs, zero, the extremes of a double, a buffer too small.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/numtext.h"

#include <float.h>
#include <string.h>

static const char *plain(double d) {
    static char out[NUMTEXT_BUF];
    assert_true(numtext_plain(d, out, sizeof out) > 0);
    return out;
}

static void test_shortest(void **state) {
    (void)state;
    char out[NUMTEXT_BUF];
    assert_int_equal(numtext_shortest(0.1, out, sizeof out), 3);
    assert_string_equal(out, "0.1");
    numtext_shortest(0.1 + 0.2, out, sizeof out);
    assert_string_equal(out, "0.30000000000000004");
    numtext_shortest(1e-7, out, sizeof out);
    assert_string_equal(out, "1e-07");
    assert_int_equal(numtext_shortest(0.1 + 0.2, out, 8), 0); /* does not fit */
}

static void test_plain(void **state) {
    (void)state;
    assert_string_equal(plain(0.1), "0.1");
    assert_string_equal(plain(123.45), "123.45");
    assert_string_equal(plain(-0.001), "-0.001");
    assert_string_equal(plain(1e-7), "0.0000001");
    assert_string_equal(plain(100), "100");
    assert_string_equal(plain(2.5e20), "250000000000000000000");
    assert_string_equal(plain(1.2345678901234568e29), "123456789012345680000000000000");
    assert_string_equal(plain(0.30000000000000004), "0.30000000000000004");
    assert_string_equal(plain(0.0), "0");
    assert_string_equal(plain(-0.0), "0");
    assert_int_equal(strlen(plain(1e300)), 301);
    assert_int_equal(strlen(plain(DBL_MAX)), 309);
    const char *tiny = plain(5e-324); /* the smallest subnormal */
    assert_int_equal(strlen(tiny), 2 + 323 + 1);
    assert_string_equal(tiny + strlen(tiny) - 2, "05");
    char small[8];
    assert_int_equal(numtext_plain(1e-7, small, sizeof small), 0);
    assert_int_equal(numtext_plain(1e-5, small, sizeof small), 7); /* 0.00001 and its NUL fit */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shortest),
        cmocka_unit_test(test_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
