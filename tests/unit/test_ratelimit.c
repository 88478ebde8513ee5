/*
 * test_ratelimit.c -- the in-process attempt counters, as they hold
 * without Redis: a key that finds no room is refused, never counted in
 * another's place, so a flood of new keys cannot wipe a count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/config.h"
#include "nexus/http/ratelimit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PER_EMAIL  5
#define PER_CLIENT 50
#define WINDOW     300
/* Many times the table's slots: every slot is taken, whatever the hash. */
#define FLOOD 40000

static struct config cfg = {
    .redis_prefix = "test",
    .login_max_failures_per_email = PER_EMAIL,
    .login_max_failures_per_client = PER_CLIENT,
    .login_failure_window = WINDOW,
};

static int setup(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    nx_config = &cfg; /* no redis_url: Redis never answers */
    return 0;
}

/* One password attempt for email from client; a counted one failed. */
static enum nx_err failed_login(const char *email, const char *client, unsigned *retry_after) {
    struct request req;
    memset(&req, 0, sizeof req);
    struct throttle t;
    enum nx_err e = login_throttle_begin(&req, &t, email, client);
    if (e == NX_OK)
        throttle_failed(&t);
    if (retry_after)
        *retry_after = req.retry_after;
    return e;
}

/* FLOOD registrations, each from a client of its own, each kept. */
static size_t flood_of_new_keys(void) {
    size_t refused = 0;
    for (unsigned i = 0; i < FLOOD; i++) {
        char client[32];
        snprintf(client, sizeof client, "10.%u.%u.%u", i >> 16, (i >> 8) & 255u, i & 255u);
        struct request req;
        memset(&req, 0, sizeof req);
        struct throttle t;
        enum nx_err e = register_throttle_begin(&req, &t, client);
        if (e == NX_OK)
            throttle_failed(&t);
        else
            refused++;
    }
    return refused;
}

static void test_new_keys_never_push_out_a_count(void **state) {
    (void)state;
    char email[64];
    /* an email at its limit, and a client at its own */
    for (int i = 0; i < PER_EMAIL; i++)
        assert_int_equal(failed_login("victim@example.com", "192.0.2.1", NULL), NX_OK);
    for (int i = 0; i < PER_CLIENT; i++) {
        snprintf(email, sizeof email, "guess-%d@example.com", i);
        assert_int_equal(failed_login(email, "192.0.2.2", NULL), NX_OK);
    }
    /* more new keys than the table holds: the last ones find no room */
    size_t refused = flood_of_new_keys();
    unsigned retry = 0;
    assert_int_equal(failed_login("victim@example.com", "192.0.2.3", &retry), NX_ERR_TOO_MANY);
    assert_true(retry > 0 && retry <= WINDOW);
    assert_int_equal(failed_login("guess-0@example.com", "192.0.2.2", &retry), NX_ERR_TOO_MANY);
    assert_int_equal(failed_login("fresh@example.com", "192.0.2.2", &retry), NX_ERR_TOO_MANY);
    assert_true(retry > 0 && retry <= WINDOW);
    assert_true(refused > 0);
}

/* A key the full table has no room for is refused, with the seconds
 * until a slot of its range ends, and counted nowhere. */
static void test_a_key_without_room_is_refused_until_a_window_ends(void **state) {
    (void)state;
    unsigned retry = 0;
    for (int i = 0; i < 64; i++) {
        char email[64], client[32];
        snprintf(email, sizeof email, "late-%d@example.com", i);
        snprintf(client, sizeof client, "198.51.100.%d", i);
        assert_int_equal(failed_login(email, client, &retry), NX_ERR_UNAVAILABLE);
        assert_true(retry > 0 && retry <= WINDOW);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_keys_never_push_out_a_count),
        cmocka_unit_test(test_a_key_without_room_is_refused_until_a_window_ends),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, setup, NULL);
}
