/*
 * test_cidr.c -- address ranges: parsing, refusals and membership.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/cidr.h"

#include <string.h>

static bool parses(const char *s) {
    struct cidr c;
    return cidr_parse(s, strlen(s), &c);
}

static bool in(const char *list, const char *addr) {
    struct cidr ranges[8];
    size_t n;
    const char *bad;
    assert_true(cidr_parse_list(list, ranges, 8, &n, &bad));
    return cidr_list_contains(ranges, n, addr);
}

static void test_good_ranges_parse(void **state) {
    (void)state;
    assert_true(parses("10.0.0.0/8"));
    assert_true(parses("127.0.0.1"));
    assert_true(parses("0.0.0.0/0"));
    assert_true(parses("::1"));
    assert_true(parses("fc00::/7"));
    assert_true(parses("2001:db8::/32"));
    assert_true(parses("192.168.1.7/32"));
}

static void test_bad_ranges_are_refused(void **state) {
    (void)state;
    const char *bad[] = {
        "",           "/8",        "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08",
        "10.1.2.3/8", "10.0.0/8",  "::1/129",   "fc00::1/7",   "host/8",      "10.0.0.0/8 ",
        " 10.0.0.0",  "1.2.3.4/8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parses(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_membership(void **state) {
    (void)state;
    const char *list = "10.0.0.0/8, 172.16.0.0/12,192.168.0.0/16 ,::1,fc00::/7";
    assert_true(in(list, "10.255.1.2"));
    assert_true(in(list, "172.31.255.255"));
    assert_false(in(list, "172.32.0.1"));
    assert_true(in(list, "192.168.3.4"));
    assert_false(in(list, "192.169.0.1"));
    assert_true(in(list, "::1"));
    assert_false(in(list, "::2"));
    assert_true(in(list, "fd12:3456::1"));
    assert_false(in(list, "fe80::1"));
    assert_false(in(list, "8.8.8.8"));
    assert_false(in(list, "unknown"));
    assert_false(in(list, ""));
}

static void test_mapped_ipv4_matches_ipv4_ranges(void **state) {
    (void)state;
    assert_true(in("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_false(in("::ffff:0:0/96", "::1"));
    assert_true(in("::ffff:0:0/96", "192.0.2.1"));
    assert_false(parses("::ffff:10.0.0.0/95"));
    assert_true(in("::ffff:10.0.0.0/104", "10.1.2.3"));
}

static void test_list_limits_and_reports_the_bad_entry(void **state) {
    (void)state;
    struct cidr ranges[2];
    size_t n;
    const char *bad;
    assert_true(cidr_parse_list(" , 10.0.0.0/8 ,,", ranges, 2, &n, &bad));
    assert_int_equal(n, 1);
    assert_false(cidr_parse_list("10.0.0.0/8,1.2.3.4/40", ranges, 2, &n, &bad));
    assert_string_equal(bad, "1.2.3.4/40");
    assert_false(cidr_parse_list("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8", ranges, 2, &n, &bad));
    assert_true(cidr_parse_list("", ranges, 2, &n, &bad));
    assert_int_equal(n, 0);
}

static void test_prefix_zero_matches_its_family_only(void **state) {
    (void)state;
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_false(in("0.0.0.0/0", "2001:db8::1"));
    assert_true(in("::/0", "2001:db8::1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_ranges_parse),
        cmocka_unit_test(test_bad_ranges_are_refused),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_mapped_ipv4_matches_ipv4_ranges),
        cmocka_unit_test(test_list_limits_and_reports_the_bad_entry),
        cmocka_unit_test(test_prefix_zero_matches_its_family_only),
    };
    return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
