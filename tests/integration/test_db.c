/*
 * test_db.c -- the database layer against a real PostgreSQL, below HTTP:
 * the record of a lost conflict that decides whether the pipeline runs a
 * handler again.
 */
#include "harness.h"

#include "nexus/core/config.h"
#include "nexus/db/db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static struct nexus_server server;
static struct config config;

static const char *setting(const char *name, void *ud) {
    (void)ud;
    return strcmp(name, "DATABASE_URL") == 0 ? server.database_url : NULL;
}

static int setup(void **state) {
    (void)state;
    char err[256];
    harness_create_db(&server, "db_layer");
    assert_true(config_load(&config, setting, NULL, err, sizeof err));
    nx_config = &config;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    db_close_all();
    config_clear(&config);
    harness_stop(&server);
    return 0;
}

#define RAISE(code) "DO $$BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '" code "'; END$$"

/* A lost conflict is remembered until the pipeline forgets it before the
 * next run of a handler: statements that follow it (a rollback, a retry of
 * something else) do not hide it, and what one request left behind never
 * counts for the next. */
static void test_a_lost_conflict_counts_only_until_forgotten(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    db_thread_forget_conflict();
    assert_int_equal(db_exec_sql(db, RAISE("40P01")), NX_ERR_UNAVAILABLE);
    assert_true(db_thread_lost_conflict());
    assert_int_equal(db_exec_sql(db, "SELECT 1"), NX_OK);
    assert_true(db_thread_lost_conflict());
    db_thread_forget_conflict(); /* the next request begins */
    assert_false(db_thread_lost_conflict());
}

/* Other 503s (a timeout, a cancelled statement) are not conflicts: a
 * handler that met one is not run again. */
static void test_other_unavailable_errors_are_not_conflicts(void **state) {
    (void)state;
    struct db *db = db_thread("db-test");
    assert_non_null(db);
    db_thread_forget_conflict();
    assert_int_equal(db_exec_sql(db, RAISE("57014")), NX_ERR_UNAVAILABLE);
    assert_false(db_thread_lost_conflict());
    assert_int_equal(db_exec_sql(db, RAISE("40001")), NX_ERR_UNAVAILABLE);
    assert_true(db_thread_lost_conflict());
    db_thread_forget_conflict();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_lost_conflict_counts_only_until_forgotten),
        cmocka_unit_test(test_other_unavailable_errors_are_not_conflicts),
    };
    return harness_run_group("db", tests, sizeof tests / sizeof tests[0], setup, teardown);
}
