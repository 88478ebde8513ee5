/*
 * test_outage.c -- PostgreSQL stops and comes back: requests get 503 with
 * Retry-After while it is gone, and full service returns within 10 s of
 * its return without restarting nexus.
 *
 * This test runs its own PostgreSQL cluster, so stopping it never disturbs
 * the other tests.
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
#include <unistd.h>

#include <cmocka.h>

static struct nexus_server server;
static char dir[] = "/tmp/nexus-outage.XXXXXX";

static void cluster(const char *verb) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/pg-cluster' %s '%s/pg' '%s/sock' '%s/pg.log' >&2",
             harness_source_dir(), verb, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int start(void **state) {
    (void)state;
    char url[512];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    cluster("start");
    snprintf(url, sizeof url, "host=%s/sock user=postgres dbname=postgres", dir);
    harness_start_url(&server, "outage", url, NULL);
    return 0;
}

static int stop(void **state) {
    (void)state;
    char cmd[600];
    harness_stop(&server);
    cluster("stop");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static const char *register_body(int n, char *buf, size_t cap) {
    snprintf(buf, cap,
             "{\"email\":\"outage%d@example.com\",\"password\":\"password-%d\","
             "\"name\":\"Outage %d\"}",
             n, n, n);
    return buf;
}

static char *login_token(void) {
    char body[256];
    register_body(0, body, sizeof body);
    http_res_free(http_expect("POST", "/api/v1/auth/register", NULL, body, 201));
    struct http_res *r =
        http_expect("POST", "/api/v1/auth/login", NULL,
                    "{\"email\":\"outage0@example.com\",\"password\":\"password-0\"}", 200);
    char *token = strdup(json_string_value(json_object_get(r->json, "access_token")));
    http_res_free(r);
    return token;
}

static void expect_503(const char *method, const char *path, const char *token, const char *body) {
    struct http_res *r = http_expect(method, path, token, body, 503);
    assert_problem(r, 503, NULL);
    const char *retry = http_header(r, "Retry-After");
    assert_non_null(retry);
    assert_true(retry[0] >= '1' && retry[0] <= '9');
    http_res_free(r);
}

static void test_postgres_restart_needs_no_nexus_restart(void **state) {
    (void)state;
    char body[256];
    char *token = login_token();

    cluster("stop");
    struct http_res *r = http_expect("GET", "/readyz", NULL, NULL, 503);
    assert_problem(r, 503, NULL);
    assert_non_null(http_header(r, "Retry-After"));
    json_t *checks = json_object_get(r->json, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "database")), "unavailable");
    http_res_free(r);
    expect_503("POST", "/api/v1/auth/register", NULL, register_body(1, body, sizeof body));
    expect_503("GET", "/api/v1/users/me", token, NULL);
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200)); /* the process lives */

    cluster("start");
    assert_true(harness_wait_status("/readyz", 200, 10000));
    http_res_free(http_expect("GET", "/api/v1/users/me", token, NULL, 200));
    http_res_free(http_expect("POST", "/api/v1/auth/register", NULL,
                              register_body(2, body, sizeof body), 201));
    free(token);
}

static void test_repeated_outages_recover_every_time(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) {
        cluster("stop");
        struct http_res *r = http_request("GET", "/readyz", NULL, NULL, 0);
        assert_int_equal(r->status, 503);
        http_res_free(r);
        cluster("start");
        assert_true(harness_wait_status("/readyz", 200, 10000));
    }
}

/* SIG to the cluster's postmaster and every process it started: a
 * PostgreSQL that keeps its connections open and answers nothing. */
static void cluster_signal(const char *sig) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "pm=$(head -1 '%s/pg/postmaster.pid') && kill -%s $pm $(ps -o pid= --ppid $pm)", dir,
             sig);
    assert_int_equal(system(cmd), 0);
}

/* /readyz asks with a bound of its own: a server whose statements may run
 * for a minute (so a hung answer is given up only after 90 s) still says
 * "not ready" while PostgreSQL hangs, well within the client's 30 s. */
static void test_readyz_answers_503_soon_while_postgres_hangs(void **state) {
    (void)state;
    static const char *const env[] = {"THREADS=1", "DB_STATEMENT_TIMEOUT_MS=60000", NULL};
    struct nexus_server slow = {0};
    harness_start_url(&slow, "outage-hung", server.database_url, env);
    harness_use(&slow);
    http_res_free(http_expect("GET", "/readyz", NULL, NULL, 200)); /* its connection is open */

    cluster_signal("STOP");
    struct http_res *r = http_request("GET", "/readyz", NULL, NULL, 0);
    cluster_signal("CONT");
    assert_int_equal(r->status, 503);
    assert_problem(r, 503, NULL);
    assert_non_null(http_header(r, "Retry-After"));
    json_t *checks = json_object_get(r->json, "checks");
    assert_string_equal(json_string_value(json_object_get(checks, "database")), "unavailable");
    http_res_free(r);

    assert_true(harness_wait_status("/readyz", 200, 10000));
    harness_stop(&slow);
    harness_use(&server);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_restart_needs_no_nexus_restart),
        cmocka_unit_test(test_repeated_outages_recover_every_time),
        cmocka_unit_test(test_readyz_answers_503_soon_while_postgres_hangs),
    };
    return cmocka_run_group_tests_name("outage", tests, start, stop);
}
