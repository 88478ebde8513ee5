/*
 * test_catalog_cache.c -- the catalog cache's local tier across writes,
 * against the test Redis: a write to one product keeps the other products'
 * items in a process's memory, and a gap in the change log empties it.
 *
 * The module is driven directly, not over HTTP, so that which tier
 * answered is known for certain: this process's window is a minute long
 * (nothing it holds goes stale by the clock during the test), and the
 * writes come from this executable run again as a writer, as from another
 * instance.
 */
#include "harness.h"

#include "nexus/cache/cache.h"
#include "nexus/cache/catalog.h"
#include "nexus/core/log.h"
#include "nexus/core/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char prefix[64];

static const struct catalog_cache_limits READER = {300, 1u << 20, 60u * 1000000u, 0};
/* A writer keeps nothing locally and has no window to wait out. */
static const struct catalog_cache_limits WRITER = {300, 0, 0, 0};

static void drop_keys(void) {
    const char *argv[] = {"EVAL",
                          "for _, k in ipairs(redis.call('KEYS', ARGV[1] .. ':*')) do "
                          "redis.call('DEL', k) end return 1",
                          "0", prefix};
    freeReplyObject(cache_command(4, argv, NULL));
}

static int setup(void **state) {
    (void)state;
    const char *base = getenv("NEXUS_TEST_REDIS_URL");
    assert_non_null(base);
    assert_true(cache_init(base, 1000));
    snprintf(prefix, sizeof prefix, "nxtest-catalog-%ld", (long)getpid());
    catalog_cache_init(prefix, &READER);
    drop_keys();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    drop_keys();
    catalog_cache_free();
    cache_close_all();
    return 0;
}

/* A fresh reader for each test: an empty local tier, and no keys in
 * Redis (the next read starts a new generation). */
static int fresh(void **state) {
    (void)state;
    drop_keys();
    catalog_cache_init(prefix, &READER);
    return 0;
}

static uint64_t local_hits(void) {
    return metrics_counter_value(METRIC_CACHE_LOCAL_HITS);
}

static uint64_t resets(void) {
    return metrics_counter_value(METRIC_CACHE_LOCAL_RESETS);
}

/* Look key up; on a miss, store body as the read's answer. Returns
 * whether it was a hit, and checks the bytes of a hit. */
static bool read_through(const char *key, int64_t product_id, const char *body) {
    struct cache_lookup l;
    catalog_cache_get(key, strlen(key), product_id, &l);
    assert_true(l.usable);
    bool hit = l.hit;
    if (hit)
        assert_string_equal(l.entry.body, body);
    else
        catalog_cache_put(&l, key, strlen(key), "\"e\"", body, strlen(body));
    cache_lookup_clear(&l);
    return hit;
}

/* A hit answered from this process's memory, not from Redis. */
static void assert_local_hit(const char *key, int64_t product_id, const char *body) {
    uint64_t before = local_hits();
    assert_true(read_through(key, product_id, body));
    assert_int_equal(local_hits() - before, 1);
}

/* The writes another instance makes, by name (argv of a writer). */
static void write_product_1(int n) {
    for (int i = 0; i < n; i++)
        catalog_cache_bump(CATALOG_CHANGE_PRODUCT, 1);
}

static void create_product(int n) {
    for (int i = 0; i < n; i++)
        catalog_cache_bump(CATALOG_CHANGE_NEW_ITEM, 0);
}

static void write_category(int n) {
    for (int i = 0; i < n; i++)
        catalog_cache_bump(CATALOG_CHANGE_ALL, 0);
}

/* Write product 1, lose the log, write it again: the log then names the
 * second write only. */
static void write_twice_losing_the_log(int n) {
    (void)n;
    catalog_cache_bump(CATALOG_CHANGE_PRODUCT, 1);
    char key[96];
    snprintf(key, sizeof key, "%s:catalog:changes", prefix);
    const char *argv[] = {"DEL", key};
    freeReplyObject(cache_command(2, argv, NULL));
    catalog_cache_bump(CATALOG_CHANGE_PRODUCT, 1);
}

/* Redis loses everything and restarts under a clock that is behind: the
 * generation starts again below the one this process last saw. */
static void restart_behind(int n) {
    (void)n;
    drop_keys();
    char key[96];
    snprintf(key, sizeof key, "%s:catalog:gen", prefix);
    const char *argv[] = {"SET", key, "1000"};
    freeReplyObject(cache_command(3, argv, NULL));
    catalog_cache_bump(CATALOG_CHANGE_PRODUCT, 1);
}

static const struct {
    const char *name;
    void (*writes)(int);
} WRITERS[] = {
    {"product", write_product_1}, {"new", create_product},
    {"category", write_category}, {"lost-log", write_twice_losing_the_log},
    {"behind", restart_behind},
};

/* This executable run as a writer: PREFIX NAME COUNT. */
static int writer_main(char **argv) {
    snprintf(prefix, sizeof prefix, "%s", argv[1]);
    if (!cache_init(getenv("NEXUS_TEST_REDIS_URL"), 1000))
        return 1;
    catalog_cache_init(prefix, &WRITER);
    int status = 2;
    for (size_t i = 0; i < sizeof WRITERS / sizeof WRITERS[0]; i++)
        if (strcmp(argv[2], WRITERS[i].name) == 0) {
            WRITERS[i].writes(atoi(argv[3]));
            status = 0;
        }
    catalog_cache_free();
    cache_close_all();
    return status;
}

/* Run the writes named in a process of their own, as another instance. */
static void as_another_instance(const char *writes, int n) {
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_catalog_cache", prefix, writes, count, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Fill items 1 and 2 and a list, and see each answered from memory. */
static void fill(void) {
    assert_false(read_through("item-1", 1, "one"));
    assert_false(read_through("item-2", 2, "two"));
    assert_false(read_through("list", 0, "list"));
    assert_local_hit("item-1", 1, "one");
    assert_local_hit("item-2", 2, "two");
    assert_local_hit("list", 0, "list");
}

/* The reader learns of the other instance's writes as any read that asks
 * Redis does: here, the first read of a new key. */
static void learn_the_generation(const char *key) {
    assert_false(read_through(key, 0, "other"));
}

static void test_write_to_one_product_keeps_the_others_in_memory(void **state) {
    (void)state;
    fill();
    as_another_instance("product", 1);
    learn_the_generation("other-1");
    assert_local_hit("item-2", 2, "two");
    assert_false(read_through("item-1", 1, "one, written")); /* gone from both tiers */
    assert_false(read_through("list", 0, "list, written"));  /* lists follow every write */
    assert_local_hit("item-1", 1, "one, written");
    assert_local_hit("list", 0, "list, written");
}

static void test_several_writes_are_read_from_the_log_at_once(void **state) {
    (void)state;
    fill();
    uint64_t before = resets();
    as_another_instance("product", 3);
    as_another_instance("new", 2);
    learn_the_generation("other-2");
    assert_local_hit("item-2", 2, "two");
    assert_false(read_through("item-1", 1, "one, written"));
    assert_int_equal(resets() - before, 0);
}

static void test_new_product_keeps_every_item(void **state) {
    (void)state;
    fill();
    as_another_instance("new", 1);
    learn_the_generation("other-3");
    assert_local_hit("item-1", 1, "one");
    assert_local_hit("item-2", 2, "two");
    assert_false(read_through("list", 0, "list with the new one"));
}

static void test_category_write_drops_every_item(void **state) {
    (void)state;
    fill();
    as_another_instance("category", 1);
    learn_the_generation("other-4");
    assert_false(read_through("item-2", 2, "two, renamed category"));
    assert_false(read_through("item-1", 1, "one, renamed category"));
}

/* A read that asked Redis before another read moved the memory on to a
 * later generation stores its answer after that: the memory stays as it
 * is (the log still holds its generation) and keeps answering. */
static void test_an_overtaken_read_leaves_the_memory(void **state) {
    (void)state;
    fill();
    struct cache_lookup slow;
    catalog_cache_get("item-3", strlen("item-3"), 3, &slow);
    assert_true(slow.usable);
    assert_false(slow.hit);
    as_another_instance("product", 1);
    learn_the_generation("other-5");
    uint64_t before = resets();
    catalog_cache_put(&slow, "item-3", strlen("item-3"), "\"e\"", "three", strlen("three"));
    cache_lookup_clear(&slow);
    assert_int_equal(resets() - before, 0);
    assert_local_hit("item-2", 2, "two");
    assert_local_hit("other-5", 0, "other");
}

/* After writes the log cannot account for, the process's memory is
 * emptied: product 2's item comes from Redis again (its own generation kept
 * it there), then from memory. */
static void assert_memory_emptied_by(const char *writes, int n) {
    fill();
    uint64_t before = resets(), hits_before = local_hits();
    as_another_instance(writes, n);
    learn_the_generation(writes);
    assert_true(read_through("item-2", 2, "two"));
    assert_int_equal(local_hits(), hits_before);
    assert_true(resets() - before >= 1);
    assert_local_hit("item-2", 2, "two");
}

/* More writes than the log keeps. */
static void test_a_trimmed_log_empties_the_memory(void **state) {
    (void)state;
    assert_memory_emptied_by("product", 513);
}

static void test_a_lost_log_empties_the_memory(void **state) {
    (void)state;
    assert_memory_emptied_by("lost-log", 0);
}

/* A generation below the memory's: the memory is emptied, then used again
 * under the new generation. */
static void test_a_generation_gone_back_empties_the_memory(void **state) {
    (void)state;
    fill();
    uint64_t before = resets();
    as_another_instance("behind", 0);
    learn_the_generation("behind");
    assert_false(read_through("item-2", 2, "two")); /* lost with Redis */
    assert_true(resets() - before >= 1);
    assert_local_hit("item-2", 2, "two");
}

/* A process that keeps no local tier (the worker, a seed, a server with
 * CACHE_LOCAL_MIB=0) still waits the servers' window out after its bump:
 * their readers may reuse the generation they read before it. */
static void test_a_write_without_a_local_tier_waits_the_window_out(void **state) {
    (void)state;
    const struct catalog_cache_limits no_tier = {300, 0, 60u * 1000000u, 0};
    catalog_cache_init(prefix, &no_tier);
    uint64_t before = now_us();
    uint64_t until = catalog_cache_bump_deferred(CATALOG_CHANGE_ALL, 0);
    assert_true(until >= before + no_tier.window_us);
}

int main(int argc, char **argv) {
    if (argc == 4)
        return writer_main(argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_write_to_one_product_keeps_the_others_in_memory, fresh),
        cmocka_unit_test_setup(test_several_writes_are_read_from_the_log_at_once, fresh),
        cmocka_unit_test_setup(test_new_product_keeps_every_item, fresh),
        cmocka_unit_test_setup(test_category_write_drops_every_item, fresh),
        cmocka_unit_test_setup(test_an_overtaken_read_leaves_the_memory, fresh),
        cmocka_unit_test_setup(test_a_trimmed_log_empties_the_memory, fresh),
        cmocka_unit_test_setup(test_a_lost_log_empties_the_memory, fresh),
        cmocka_unit_test_setup(test_a_generation_gone_back_empties_the_memory, fresh),
        cmocka_unit_test_setup(test_a_write_without_a_local_tier_waits_the_window_out, fresh),
    };
    return harness_run_group("catalog_cache", tests, sizeof tests / sizeof tests[0], setup,
                             teardown);
}
