/*
 * test_client_address.c -- the client address from the peer, the trusted
 * proxy ranges and X-Forwarded-For, and the address parsing under it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/http/client.h"

#include <stdio.h>
#include <string.h>

static struct ip_range ranges[8];
static size_t range_count;

static void trust(const char *list) {
    range_count = 0;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *p = strtok(copy, ","); p; p = strtok(NULL, ","))
        assert_true(ip_range_parse(p, strlen(p), &ranges[range_count++]));
}

static struct ip_addr addr(const char *text) {
    struct ip_addr a;
    assert_true(ip_parse(text, strlen(text), &a));
    return a;
}

/* The client for peer and the header values (NULL-terminated). */
static void expect_client(const char *peer, const char *const *values, const char *want) {
    size_t n = 0;
    while (values && values[n])
        n++;
    struct ip_addr p = addr(peer);
    struct ip_addr got = client_address_derive(&p, values, n, ranges, range_count);
    char text[NX_IP_TEXT_MAX];
    ip_format(&got, text);
    assert_string_equal(text, want);
}

static void test_untrusted_peer_is_the_client_whatever_the_header(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    const char *const xff[] = {"1.2.3.4", NULL};
    expect_client("203.0.113.7", xff, "203.0.113.7");
    expect_client("203.0.113.7", NULL, "203.0.113.7");
}

static void test_no_trusted_proxies_means_the_peer(void **state) {
    (void)state;
    range_count = 0;
    const char *const xff[] = {"1.2.3.4", NULL};
    expect_client("127.0.0.1", xff, "127.0.0.1");
}

static void test_trusted_peer_gives_the_rightmost_hop(void **state) {
    (void)state;
    trust("172.28.0.0/16");
    const char *const xff[] = {"198.51.100.9", NULL};
    expect_client("172.28.0.5", xff, "198.51.100.9");
}

static void test_walk_skips_every_trusted_hop_from_the_right(void **state) {
    (void)state;
    trust("10.0.0.0/8,127.0.0.1,fd00::/8");
    const char *const xff[] = {"6.6.6.6, 198.51.100.9, 10.1.2.3,fd00::1 , 10.9.9.9", NULL};
    expect_client("127.0.0.1", xff, "198.51.100.9");
}

static void test_twenty_forged_hops_do_not_hide_the_client(void **state) {
    (void)state;
    trust("172.28.0.0/16");
    char header[1024] = "";
    for (int i = 0; i < 24; i++) {
        char hop[32];
        snprintf(hop, sizeof hop, "%s6.6.6.%d", i ? ", " : "", i);
        strcat(header, hop);
    }
    strcat(header, ", 198.51.100.9"); /* the hop the proxy appended: the 25th */
    const char *const xff[] = {header, NULL};
    expect_client("172.28.0.5", xff, "198.51.100.9");
}

static void test_many_trusted_hops_are_all_skipped(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    char header[2048] = "198.51.100.9";
    for (int i = 0; i < 40; i++) {
        char hop[32];
        snprintf(hop, sizeof hop, ", 10.0.%d.1", i);
        strcat(header, hop);
    }
    const char *const xff[] = {header, NULL};
    expect_client("10.0.0.1", xff, "198.51.100.9");
}

static void test_all_trusted_gives_the_leftmost_hop(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    const char *const xff[] = {"10.0.0.3, 10.0.0.2", NULL};
    expect_client("10.0.0.1", xff, "10.0.0.3");
}

static void test_several_header_values_are_one_list(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    /* Arrival order: the last value holds the nearest hops. */
    const char *const xff[] = {"6.6.6.6, 198.51.100.9", "10.0.0.7", "10.0.0.8, 10.0.0.9", NULL};
    expect_client("10.0.0.1", xff, "198.51.100.9");
    const char *const xff2[] = {"6.6.6.6", "198.51.100.9", NULL};
    expect_client("10.0.0.1", xff2, "198.51.100.9");
}

static void test_unreadable_hop_stops_at_the_last_trusted_one(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    static const char *const bad[] = {
        "garbage", "1.2.3.4:5678", "[2001:db8::1]",    "",         " ",
        "1.2.3",   "unknown",      "2001:db8::1%eth0", "999.1.1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[128];
        snprintf(header, sizeof header, "6.6.6.6, %s, 10.0.0.5", bad[i]);
        const char *const xff[] = {header, NULL};
        expect_client("10.0.0.1", xff, "10.0.0.5");
        const char *const alone[] = {bad[i], NULL};
        expect_client("10.0.0.1", alone, "10.0.0.1");
    }
    const char *const empty_hop[] = {"6.6.6.6,,10.0.0.5", NULL};
    expect_client("10.0.0.1", empty_hop, "10.0.0.5");
    const char *const trailing[] = {"6.6.6.6,", NULL};
    expect_client("10.0.0.1", trailing, "10.0.0.1");
}

static void test_ipv6_hops_and_ranges(void **state) {
    (void)state;
    trust("fd00::/8,::1");
    const char *const xff[] = {"2001:db8::1, fd12:3456::2", NULL};
    expect_client("::1", xff, "2001:db8::1");
    const char *const mixed[] = {"2001:db8::1, 198.51.100.9", NULL};
    expect_client("fd00::9", mixed, "198.51.100.9");
}

static void test_v4_mapped_addresses_are_ipv4(void **state) {
    (void)state;
    trust("10.0.0.0/8");
    const char *const xff[] = {"::ffff:198.51.100.9", NULL};
    expect_client("::ffff:10.0.0.1", xff, "198.51.100.9");
    trust("::ffff:10.0.0.0/104");
    expect_client("10.1.1.1", xff, "198.51.100.9");
}

static void test_ranges_match_exactly_their_prefix(void **state) {
    (void)state;
    struct ip_range r;
    struct ip_addr a;
    assert_true(ip_range_parse("192.168.4.0/22", 14, &r));
    assert_true(ip_parse("192.168.7.255", 13, &a));
    assert_true(ip_range_contains(&r, &a));
    assert_true(ip_parse("192.168.8.0", 11, &a));
    assert_false(ip_range_contains(&r, &a));
    assert_true(ip_parse("::ffff:192.168.5.1", 18, &a));
    assert_true(ip_range_contains(&r, &a));
    assert_true(ip_range_parse("2001:db8::/33", 13, &r));
    assert_true(ip_parse("2001:db8:7fff::1", 16, &a));
    assert_true(ip_range_contains(&r, &a));
    assert_true(ip_parse("2001:db8:8000::1", 16, &a));
    assert_false(ip_range_contains(&r, &a));
    assert_true(ip_range_parse("0.0.0.0/0", 9, &r));
    assert_true(ip_parse("255.255.255.255", 15, &a));
    assert_true(ip_range_contains(&r, &a));
    assert_true(ip_parse("::1", 3, &a));
    assert_false(ip_range_contains(&r, &a)); /* families never mix */
    /* Parsers stop at len: no reading past it. */
    assert_true(ip_parse("10.0.0.1xyz", 8, &a));
    assert_false(ip_parse("10.0.0.1\0", 9, &a));
}

static void expect_limit_key(const char *address, const char *want) {
    struct ip_addr a = addr(address);
    char key[NX_IP_TEXT_MAX];
    ip_limit_key(&a, key);
    assert_string_equal(key, want);
}

/* The per-client limits count an IPv6 client by its /64, the block a
 * host is usually given; an IPv4 client, mapped or not, by its address. */
static void test_limit_key_is_the_ipv6_64_or_the_ipv4_address(void **state) {
    (void)state;
    expect_limit_key("2001:db8:1:2::1", "2001:db8:1:2::/64");
    expect_limit_key("2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64");
    expect_limit_key("2001:db8:1:3::1", "2001:db8:1:3::/64");
    expect_limit_key("2001:db8:1:2:8000::", "2001:db8:1:2::/64");
    expect_limit_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff::/64");
    expect_limit_key("::1", "::/64");
    expect_limit_key("198.51.100.9", "198.51.100.9");
    expect_limit_key("198.51.100.10", "198.51.100.10");
    expect_limit_key("::ffff:198.51.100.9", "198.51.100.9");
    expect_limit_key("::ffff:198.51.100.10", "198.51.100.10");
}

/* Behind a trusted proxy, the client X-Forwarded-For gives is keyed the
 * same way. */
static void test_forwarded_client_gets_the_same_limit_key(void **state) {
    (void)state;
    trust("10.0.0.0/8,fd00::/8");
    const char *const one[] = {"2001:db8:5:6::a, fd00::1", NULL};
    const char *const two[] = {"2001:db8:5:6:1234::b", NULL};
    const char *const mapped[] = {"::ffff:203.0.113.5", NULL};
    const char *const *values[] = {one, two, mapped};
    const char *const want[] = {"2001:db8:5:6::/64", "2001:db8:5:6::/64", "203.0.113.5"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = 0;
        while (values[i][n])
            n++;
        struct ip_addr peer = addr("10.0.0.1");
        struct ip_addr client = client_address_derive(&peer, values[i], n, ranges, range_count);
        char key[NX_IP_TEXT_MAX];
        ip_limit_key(&client, key);
        assert_string_equal(key, want[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrusted_peer_is_the_client_whatever_the_header),
        cmocka_unit_test(test_no_trusted_proxies_means_the_peer),
        cmocka_unit_test(test_trusted_peer_gives_the_rightmost_hop),
        cmocka_unit_test(test_walk_skips_every_trusted_hop_from_the_right),
        cmocka_unit_test(test_twenty_forged_hops_do_not_hide_the_client),
        cmocka_unit_test(test_many_trusted_hops_are_all_skipped),
        cmocka_unit_test(test_all_trusted_gives_the_leftmost_hop),
        cmocka_unit_test(test_several_header_values_are_one_list),
        cmocka_unit_test(test_unreadable_hop_stops_at_the_last_trusted_one),
        cmocka_unit_test(test_ipv6_hops_and_ranges),
        cmocka_unit_test(test_v4_mapped_addresses_are_ipv4),
        cmocka_unit_test(test_ranges_match_exactly_their_prefix),
        cmocka_unit_test(test_limit_key_is_the_ipv6_64_or_the_ipv4_address),
        cmocka_unit_test(test_forwarded_client_gets_the_same_limit_key),
    };
    return cmocka_run_group_tests_name("client_address", tests, NULL, NULL);
}
