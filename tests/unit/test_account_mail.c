/*
 * test_account_mail.c -- how long an account email says its link works:
 * never longer than it does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/jobs/account_mail.h"

static void expect_duration(int seconds, const char *text) {
    char out[32];
    account_mail_duration_text(seconds, out, sizeof out);
    assert_string_equal(out, text);
}

static void test_whole_days_and_hours_are_named_so(void **state) {
    (void)state;
    expect_duration(86400, "1 day");
    expect_duration(7 * 86400, "7 days");
    expect_duration(3600, "1 hour");
    expect_duration(36 * 3600, "36 hours");
}

static void test_minutes_are_whole_ones_rounded_down(void **state) {
    (void)state;
    expect_duration(60, "1 minute");
    expect_duration(90, "1 minute");
    expect_duration(119, "1 minute");
    expect_duration(1800, "30 minutes");
    expect_duration(5400, "90 minutes");
    expect_duration(3599, "59 minutes");
}

static void test_less_than_a_minute_is_in_seconds(void **state) {
    (void)state;
    expect_duration(1, "1 second");
    expect_duration(59, "59 seconds");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_days_and_hours_are_named_so),
        cmocka_unit_test(test_minutes_are_whole_ones_rounded_down),
        cmocka_unit_test(test_less_than_a_minute_is_in_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
