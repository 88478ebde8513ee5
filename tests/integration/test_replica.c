/*
 * test_replica.c -- cache misses served by a streaming replica, never
 * stale: a replica that applies WAL 200 ms late, one that is stopped and
 * comes back, one whose processes are stopped, one that sees commits
 * only when the primary's WAL writer flushes them, and one that is
 * promoted.
 *
 * The test runs its own PostgreSQL primary, a replica of it made with
 * pg_basebackup -R (scripts/pg-cluster replica), and its own Redis.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct nexus_server server;
static char dir[] = "/tmp/nexus-replica.XXXXXX";
static char staff[4096];
static char out[8192];
static long product;
static unsigned query_serial; /* makes each uncached read's key new */

static void pg_cluster(const char *args) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/pg-cluster' %s >&2", harness_source_dir(), args);
    assert_int_equal(system(cmd), 0);
}

static void primary_start(void) {
    char args[700];
    snprintf(args, sizeof args, "start '%s/pg' '%s/sock' '%s/pg.log'", dir, dir, dir);
    pg_cluster(args);
}

/* The replica applies each commit 200 ms after the primary made it. */
static void replica_start(void) {
    char args[900];
    snprintf(args, sizeof args,
             "replica '%s/sock' '%s/replica' '%s/rsock' '%s/replica.log' "
             "'-c recovery_min_apply_delay=200ms'",
             dir, dir, dir, dir);
    pg_cluster(args);
}

static void cluster_verb(const char *verb, const char *data) {
    char args[700];
    snprintf(args, sizeof args, "%s '%s/%s'", verb, dir, data);
    pg_cluster(args);
}

static void redis(const char *verb) {
    char cmd[900];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/redis-instance' %s '%s/redis' >&2",
             harness_source_dir(), verb, dir);
    assert_int_equal(system(cmd), 0);
}

static void login_staff(void) {
    const char *args[] = {"user",   "create", "--email", "staff@example.com",
                          "--role", "staff",  NULL};
    assert_int_equal(harness_run(&server, NULL, args, "staff-password\n", out, sizeof out), 0);
    char *token = harness_login("staff@example.com", "staff-password");
    snprintf(staff, sizeof staff, "%s", token);
    free(token);
}

static int start(void **state) {
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    primary_start();
    redis("start");
    replica_start();
    char url[600], read_url[700], redis_url[600];
    snprintf(url, sizeof url, "host=%s/sock user=postgres dbname=postgres", dir);
    snprintf(read_url, sizeof read_url,
             "DATABASE_READ_URL=host=%s/rsock user=postgres dbname=postgres", dir);
    snprintf(redis_url, sizeof redis_url, "REDIS_URL=unix://%s/redis/redis.sock", dir);
    /* A long statement timeout: a hung replica must cost a read the wait
     * for it, not the 90 s the primary's statements may take. */
    const char *env[] = {redis_url, read_url, "REDIS_PREFIX=test_replica",
                         "DB_STATEMENT_TIMEOUT_MS=60000", NULL};
    harness_start_url(&server, "replica", url, env);
    login_staff();
    struct http_res *r = http_expect(
        "POST", "/api/v1/products", staff,
        "{\"sku\":\"REP-1\",\"name\":\"Replica Lamp\",\"price\":\"1.00\",\"stock\":5}", 201);
    product = (long)jint(r->json, "id");
    http_res_free(r);
    return 0;
}

static int stop(void **state) {
    (void)state;
    char cmd[600];
    harness_stop(&server);
    cluster_verb("stop", "replica");
    redis("stop");
    cluster_verb("stop", "pg");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* ---- helpers ------------------------------------------------------------ */

#define REPLICA_READS "nexus_db_reads_total{target=\"replica\"}"
#define PRIMARY_READS "nexus_db_reads_total{target=\"primary\"}"

static const char *replica_state(void) {
    static char state[32];
    struct http_res *r = http_expect("GET", "/readyz", NULL, NULL, 200);
    json_t *checks = json_object_get(r->json, "checks");
    snprintf(state, sizeof state, "%s", jstr(checks, "replica"));
    http_res_free(r);
    return state;
}

static bool wait_replica_state(const char *want) {
    for (int i = 0; i < 600; i++) { /* 60 s */
        if (strcmp(replica_state(), want) == 0)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* The same search through GET /graphql, the maximum price a variable:
 * GRAPHQL_READ, the price, GRAPHQL_READ_END. */
#define GRAPHQL_READ                                                                               \
    "/graphql?query=query%28%24m%3AString%29%7Bproducts%28first%3A5%2Cfilter%3A%7Bq%3A%22lamp"     \
    "%22%2CmaxPrice%3A%24m%7D%29%7Bedges%7Bnode%7Bid%20price%7D%7D%7D%7D&variables=%7B%22m%22"     \
    "%3A%22"
#define GRAPHQL_READ_END "%22%7D"

/* A read that misses the cache (its key is new), through REST and through
 * GraphQL in turn; its status, or 500 for a GraphQL answer with errors. */
static long uncached_read(void) {
    char path[400];
    unsigned n = 100000u + query_serial;
    if (query_serial % 2)
        snprintf(path, sizeof path, "%s%u.00%s", GRAPHQL_READ, n, GRAPHQL_READ_END);
    else
        snprintf(path, sizeof path, "/api/v1/products?limit=5&q=lamp&max_price=%u.00", n);
    query_serial++;
    struct http_res *r = http_request("GET", path, NULL, NULL, 0);
    long status = r->status;
    if (status == 200 && json_object_get(r->json, "errors"))
        status = 500;
    if (status != 200)
        fprintf(stderr, "GET %s: %ld %s\n", path, status, r->body);
    http_res_free(r);
    return status;
}

/* Set the product's price to n.00 and read it back, by id and in a list:
 * the number of reads that showed an older price. */
static int write_then_read(long n) {
    char path[64], body[64], want[32];
    snprintf(path, sizeof path, "/api/v1/products/%ld", product);
    snprintf(body, sizeof body, "{\"price\":\"%ld.00\"}", n);
    snprintf(want, sizeof want, "%ld.00", n);
    http_res_free(http_expect("PATCH", path, staff, body, 200));
    int stale = 0;
    struct http_res *r = http_expect("GET", path, NULL, NULL, 200);
    stale += strcmp(jstr(r->json, "price"), want) != 0;
    http_res_free(r);
    r = http_expect("GET", "/api/v1/products?q=replica+lamp", NULL, NULL, 200);
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 1);
    stale += strcmp(jstr(json_array_get(items, 0), "price"), want) != 0;
    http_res_free(r);
    return stale;
}

static long price_serial = 1;

static int write_then_read_pairs(int pairs) {
    int stale = 0;
    for (int i = 0; i < pairs; i++)
        stale += write_then_read(++price_serial);
    return stale;
}

/* Uncached reads until the replica has answered more than before (or 60 s
 * pass); the number that failed. */
static int read_until_replica_used(long replica_before, bool *used) {
    int failed = 0;
    *used = false;
    for (int i = 0; i < 600 && !*used; i++) {
        for (int j = 0; j < 10; j++)
            failed += uncached_read() != 200;
        *used = http_metric(REPLICA_READS) > replica_before;
        if (!*used)
            usleep(100 * 1000);
    }
    return failed;
}

/* ---- tests -------------------------------------------------------------- */

/* Every read after a write's response shows it, though the replica applies
 * the write 200 ms late: such reads go to the primary. */
static void test_no_read_after_a_write_is_stale(void **state) {
    (void)state;
    long replica_before = http_metric(REPLICA_READS), primary_before = http_metric(PRIMARY_READS);
    int stale = write_then_read_pairs(1000);
    long replica = http_metric(REPLICA_READS) - replica_before;
    long primary = http_metric(PRIMARY_READS) - primary_before;
    fprintf(stderr,
            "1000 writes, 2000 reads after them: %d stale; misses on replica %ld, "
            "primary %ld\n",
            stale, replica, primary);
    assert_int_equal(stale, 0);
    assert_true(primary > 0);
}

/* With no writes, the replica catches up and answers the misses. */
static void test_reads_without_writes_use_the_replica(void **state) {
    (void)state;
    bool used = false;
    long before = http_metric(REPLICA_READS);
    assert_int_equal(read_until_replica_used(before, &used), 0);
    assert_true(used);
    assert_true(wait_replica_state("ok"));
}

/* Ask /readyz (any status) until the log has more db.connect lines about
 * target ("primary", "replica") than before (10 s at most): a thread
 * connects again only after its backoff. */
static bool wait_connect_logged(const char *target, int before) {
    char field[64];
    snprintf(field, sizeof field, "\"target\":\"%s\"", target);
    for (int i = 0; i < 100; i++) {
        if (harness_log_count(&server, "\"db.connect\"", field) > before)
            return true;
        http_res_free(http_request("GET", "/readyz", NULL, NULL, 0));
        usleep(100 * 1000);
    }
    return false;
}

static int connect_lines(const char *target) {
    char field[64];
    snprintf(field, sizeof field, "\"target\":\"%s\"", target);
    return harness_log_count(&server, "\"db.connect\"", field);
}

/* A child that runs one pg-cluster command while the parent reads. */
static pid_t in_child(void (*fn)(void)) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    return pid;
}

static void stop_replica(void) {
    cluster_verb("stop", "replica");
}

/* Read while the child works, and 50 times more after; failed reads. */
static int read_while(pid_t child) {
    int failed = 0, st = 0;
    while (waitpid(child, &st, WNOHANG) == 0)
        failed += uncached_read() != 200;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 50; i++)
        failed += uncached_read() != 200;
    return failed;
}

/* The replica stops in the middle of reads and comes back: no read fails
 * or is stale, and the replica is used again once it is back. */
static void test_replica_stopped_and_restarted(void **state) {
    (void)state;
    bool used = false;
    assert_int_equal(read_until_replica_used(http_metric(REPLICA_READS), &used), 0);
    assert_true(used);
    int connects = connect_lines("replica");
    int failed = read_while(in_child(stop_replica));
    assert_string_equal(replica_state(), "unavailable");
    bool logged = wait_connect_logged("replica", connects); /* the log says which server */
    assert_int_equal(write_then_read_pairs(50), 0);
    failed += read_while(in_child(replica_start));
    long before = http_metric(REPLICA_READS);
    failed += read_until_replica_used(before, &used);
    fprintf(stderr, "replica stopped and restarted: %d failed reads, used again: %d\n", failed,
            used);
    assert_int_equal(failed, 0);
    assert_true(used);
    assert_true(wait_replica_state("ok"));
    assert_true(logged);
}

/* Send signal to the replica's postmaster and all its processes. */
static void signal_replica(const char *signal) {
    char cmd[900];
    snprintf(cmd, sizeof cmd,
             "pid=$(head -n 1 '%s/replica/postmaster.pid') && kill -%s \"$pid\" &&"
             " pkill -%s -P \"$pid\"",
             dir, signal, signal);
    assert_int_equal(system(cmd), 0);
}

/* A replica that answers nothing (its processes stopped) costs each read
 * after a write no more than the wait for it: the read is answered by the
 * primary, not after the 90 s a statement's answer may take (the client
 * gives up after 30 s, far from both). */
static void test_a_hung_replica_costs_a_read_only_its_wait(void **state) {
    (void)state;
    bool used = false;
    assert_int_equal(read_until_replica_used(http_metric(REPLICA_READS), &used), 0);
    assert_true(used);
    char path[64], body[64];
    snprintf(path, sizeof path, "/api/v1/products/%ld", product);
    int failed = 0;
    signal_replica("STOP");
    for (int i = 0; i < 5 && failed == 0; i++) { /* a read after a write asks the replica */
        snprintf(body, sizeof body, "{\"price\":\"%ld.00\"}", ++price_serial);
        struct http_res *r = call("PATCH", path, staff, body);
        failed += r->status != 200;
        http_res_free(r);
        failed += uncached_read() != 200;
    }
    signal_replica("CONT");
    assert_int_equal(failed, 0);
    assert_int_equal(read_until_replica_used(http_metric(REPLICA_READS), &used), 0);
    assert_true(used);
}

/* While the primary is down, /readyz (a 503) still reports the replica,
 * which answers and serves reads: ok, since its lag cannot be measured
 * without the primary. */
static void test_replica_reported_while_the_primary_is_down(void **state) {
    (void)state;
    assert_true(wait_replica_state("ok"));
    int connects = connect_lines("primary");
    char replica[2][32];
    cluster_verb("stop", "pg");
    for (int i = 0; i < 2; i++) { /* the open connection fails, then a new one */
        struct http_res *r = http_expect("GET", "/readyz", NULL, NULL, 503);
        json_t *checks = json_object_get(r->json, "checks");
        assert_string_equal(jstr(checks, "database"), "unavailable");
        snprintf(replica[i], sizeof replica[i], "%s", jstr(checks, "replica"));
        http_res_free(r);
    }
    bool logged = wait_connect_logged("primary", connects);
    primary_start();
    /* Every server thread's connection to the old primary process failed
     * and was made anew: a thread whose request has not found out yet
     * would answer the next test's read with a 503. */
    int in_a_row = 0;
    for (int i = 0; i < 600 && in_a_row < 50; i++) { /* 60 s at most */
        struct http_res *r = http_request("GET", "/readyz", NULL, NULL, 0);
        in_a_row = r->status == 200 ? in_a_row + 1 : 0;
        if (r->status != 200)
            usleep(100 * 1000);
        http_res_free(r);
    }
    assert_int_equal(in_a_row, 50);
    assert_true(wait_replica_state("ok"));
    assert_string_equal(replica[0], "ok");
    assert_string_equal(replica[1], "ok");
    assert_true(logged); /* the log says which server */
}

/* Set a setting of the primary for every session, or reset it (value NULL). */
static void primary_setting(const char *name, const char *value) {
    char sql[200];
    if (value)
        snprintf(sql, sizeof sql, "ALTER SYSTEM SET %s = '%s'", name, value);
    else
        snprintf(sql, sizeof sql, "ALTER SYSTEM RESET %s", name);
    free(harness_sql_value(&server, "%s", sql));
    harness_expect_sql(&server, "t", "SELECT pg_reload_conf()");
}

/* With synchronous_commit off a commit may wait in the primary's WAL
 * buffers until the WAL writer's next round (here every second), and the
 * replica gets it only then: a read after the write still shows it, also
 * when the replica had caught up with everything written before. */
static void test_asynchronous_commits_are_never_read_stale(void **state) {
    (void)state;
    primary_setting("synchronous_commit", "off");
    primary_setting("wal_writer_delay", "1s");
    int stale = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(wait_replica_state("ok"));
        stale += write_then_read(++price_serial);
    }
    primary_setting("wal_writer_delay", NULL);
    primary_setting("synchronous_commit", NULL);
    fprintf(stderr, "asynchronous commits: %d stale reads of 20\n", stale);
    assert_int_equal(stale, 0);
}

/* A promoted replica is no copy of the primary any more: it is not used,
 * and nothing is stale or fails. */
static void test_promoted_replica_is_not_used(void **state) {
    (void)state;
    cluster_verb("promote", "replica");
    int stale = write_then_read_pairs(100);
    int failed = 0;
    for (int i = 0; i < 200; i++)
        failed += uncached_read() != 200;
    long not_standby = http_metric("nexus_replica_fallbacks_total{reason=\"not_standby\"}");
    fprintf(stderr, "promoted replica: %d stale, %d failed, %ld not-standby fallbacks\n", stale,
            failed, not_standby);
    assert_int_equal(stale, 0);
    assert_int_equal(failed, 0);
    assert_true(not_standby > 0);
    assert_string_equal(replica_state(), "unavailable");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_read_after_a_write_is_stale),
        cmocka_unit_test(test_reads_without_writes_use_the_replica),
        cmocka_unit_test(test_replica_stopped_and_restarted),
        cmocka_unit_test(test_a_hung_replica_costs_a_read_only_its_wait),
        cmocka_unit_test(test_asynchronous_commits_are_never_read_stale),
        cmocka_unit_test(test_replica_reported_while_the_primary_is_down),
        cmocka_unit_test(test_promoted_replica_is_not_used),
    };
    return harness_run_group("replica", tests, sizeof tests / sizeof tests[0], start, stop);
}
