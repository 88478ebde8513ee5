/*
 * test_migrate.c -- start-up rules: configuration errors name their
 * variable, help and bad command lines touch nothing, migrations apply
 * once, in order, safely in parallel, and a changed applied migration or a
 * pending one stops the server.
 */
#include "harness.h"

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

static struct nexus_server db;
static char out[16384];

static int setup(void **state) {
    (void)state;
    harness_create_db(&db, "migrate");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    harness_stop(&db);
    return 0;
}

static void expect_config_error(const char *assignment, const char *variable) {
    const char *env[] = {assignment, "NEXUS_ENV=production", NULL};
    const char *args[] = {"serve", NULL};
    int rc = harness_run(&db, env, args, NULL, out, sizeof out);
    if (rc != 2 || !strstr(out, variable))
        fprintf(stderr, "%s: exit %d: %s\n", assignment, rc, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, variable));
}

static void test_bad_configuration_stops_naming_the_variable(void **state) {
    (void)state;
    expect_config_error("PORT=abc", "PORT");
    expect_config_error("PORT=70000", "PORT");
    expect_config_error("THREADS=0", "THREADS");
    expect_config_error("JWT_SECRET=short", "JWT_SECRET");
    expect_config_error("JWT_SECRET=", "JWT_SECRET");
    expect_config_error("JWT_SECRET=compose-development-secret-change-me-0123456789", "JWT_SECRET");
    expect_config_error("JWT_SECRET=abcdefghabcdefghabcdefghabcdefgh", "JWT_SECRET");
    expect_config_error("DATABASE_URL=host=x nosuchoption=1", "DATABASE_URL");
    expect_config_error("REDIS_URL=http://localhost", "REDIS_URL");
    expect_config_error("LOG_LEVEL=loud", "LOG_LEVEL");
    /* an origin no browser sends would never match: refused, not ignored */
    expect_config_error("CORS_ORIGINS=*", "CORS_ORIGINS");
    expect_config_error("CORS_ORIGINS=null", "CORS_ORIGINS");
    expect_config_error("CORS_ORIGINS=http://localhost:3000/", "CORS_ORIGINS");
    expect_config_error("CORS_ORIGINS=http://localhost:3000,localhost:5173", "CORS_ORIGINS");
    expect_config_error("CORS_ORIGINS=http://Shop.example.com", "CORS_ORIGINS");
    expect_config_error("CORS_ORIGINS=https://shop.example.com:0", "CORS_ORIGINS");
    /* what every token or the scraper's header carries must fit one */
    char issuer[300] = "JWT_ISSUER=";
    memset(issuer + strlen(issuer), 'i', 256);
    expect_config_error(issuer, "JWT_ISSUER");
    expect_config_error("JWT_ISSUER=shop\nexample", "JWT_ISSUER");
    expect_config_error("METRICS_TOKEN=0123456789abcdef\nX", "METRICS_TOKEN");
    expect_config_error("METRICS_TOKEN=0123456789 abcdef", "METRICS_TOKEN");
}

static int run_command(const char *const *args) {
    int rc = harness_run_within(&db, NULL, args, out, sizeof out, 20000);
    if (rc == -1)
        fprintf(stderr, "nexus %s %s: still running (killed)\n", args[0], args[1] ? args[1] : "");
    return rc;
}

/* Help anywhere on the line prints the usage and does nothing else: no
 * migration applied, no server started. */
static void test_help_never_runs_a_command(void **state) {
    (void)state;
    const char *const lines[][4] = {
        {"--help", NULL},
        {"migrate", "--help", NULL},
        {"serve", "--help", NULL},
        {"worker", "-h", NULL},
        {"jobs", "list", "--help", NULL},
        {"seed", "--help", NULL},
        {"user", "create", "--help", NULL},
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        assert_int_equal(run_command(lines[i]), 0);
        assert_non_null(strstr(out, "usage: nexus"));
    }
    const char *version[] = {"--version", NULL};
    assert_int_equal(run_command(version), 0);
    assert_true(strncmp(out, "nexus ", 6) == 0);
    harness_expect_sql(&db, "0", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
}

/* Arguments a command does not take: exit 2, before the database. */
static void test_bad_command_lines_exit_2(void **state) {
    (void)state;
    const char *const lines[][5] = {
        {"bogus", NULL},
        {"serve", "--port", "1", NULL},
        {"migrate", "now", NULL},
        {"jobs", "list", "--state", "bogus", NULL},
        {"jobs", "list", "--state", NULL},
        {"jobs", "list", "--limit", "0", NULL},
        {"jobs", "retry", "x", NULL},
        {"seed", NULL},
        {"seed", "--products", "0", NULL},
        {"seed", "--products", "100000000", NULL},
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        int rc = run_command(lines[i]);
        if (rc != 2)
            fprintf(stderr, "nexus %s %s: exit %d: %s\n", lines[i][0],
                    lines[i][1] ? lines[i][1] : "", rc, out);
        assert_int_equal(rc, 2);
    }
    harness_expect_sql(&db, "0", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
}

/* `nexus args...` with stdin_text on its standard input exits want_rc and
 * says says. */
static void expect_exit_saying(const char *const *args, const char *stdin_text, int want_rc,
                               const char *says) {
    int rc = harness_run(&db, NULL, args, stdin_text, out, sizeof out);
    if (rc != want_rc || !strstr(out, says))
        fprintf(stderr, "nexus %s %s: exit %d: %s\n", args[0], args[1] ? args[1] : "", rc, out);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(out, says));
}

/* `user create` checks the account as a registration's body is checked
 * (the same rules), and says which option is wrong: exit 2, before the
 * database. */
static void test_user_create_refuses_what_registration_refuses(void **state) {
    (void)state;
    static const char good_pw[] = "a long passphrase\n";
    char long_name[256];
    memset(long_name, 'n', 201);
    long_name[201] = '\0';
    const struct {
        const char *args[9];
        const char *stdin_text, *says;
    } cases[] = {
        {{"user", "create", "--email", "cli@example.com", "--name", "", NULL}, good_pw, "--name"},
        {{"user", "create", "--email", "cli@example.com", "--name", "   ", NULL},
         good_pw,
         "--name"},
        {{"user", "create", "--email", "cli@example.com", "--name", long_name, NULL},
         good_pw,
         "--name"},
        {{"user", "create", "--email", "not-an-address", NULL}, good_pw, "--email"},
        /* the name it defaults to is not an option given: never named */
        {{"user", "create", "--email", long_name, NULL}, good_pw, "--email"},
        {{"user", "create", "--email", "@example.com", NULL}, good_pw, "--email"},
        {{"user", "create", "--email", "cli@example.com", NULL}, "short\n", "password"},
        {{"user", "create", "--email", "cli@example.com", NULL},
         "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\n",
         "UTF-8"},
        {{"user", "create", "--email", "cli@example.com", "--password-env", "NX_UNSET_VARIABLE",
          NULL},
         NULL,
         "is not set"},
        {{"user", "create", "--email", "a@example.com", "--email", "b@example.com", NULL},
         good_pw,
         "usage: nexus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_exit_saying(cases[i].args, cases[i].stdin_text, 2, cases[i].says);
        if (!strstr(cases[i].says, "--name"))
            assert_null(strstr(out, "--name:"));
    }
    harness_expect_sql(&db, "0", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
}

/* Commands that read or write tables, run against a database not yet
 * migrated (the compose worker's health check is `jobs list`): exit 1,
 * each saying what it could not do and asking whether the database is
 * migrated, and nothing created. */
static void test_commands_on_an_unmigrated_database_ask_whether_it_is(void **state) {
    (void)state;
    const struct {
        const char *args[6];
        const char *stdin_text, *says;
    } cases[] = {
        {{"user", "create", "--email", "cli@example.com", NULL},
         "a long passphrase\n",
         "cannot create the user (is the database migrated?)"},
        {{"jobs", "list", NULL}, NULL, "cannot list the jobs (is the database migrated?)"},
        {{"jobs", "list", "--state", "dead", NULL},
         NULL,
         "cannot list the jobs (is the database migrated?)"},
        {{"jobs", "retry", "1", NULL}, NULL, "cannot retry the job (is the database migrated?)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_exit_saying(cases[i].args, cases[i].stdin_text, 1, cases[i].says);
    harness_expect_sql(&db, "0", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
}

static void test_serve_refuses_pending_migrations(void **state) {
    (void)state;
    const char *env[] = {"AUTO_MIGRATE=0", NULL};
    const char *args[] = {"serve", NULL};
    int rc = harness_run(&db, env, args, NULL, out, sizeof out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "pending"));
}

static pid_t spawn_migrate(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static char buf[4096];
        const char *args[] = {"migrate", NULL};
        _exit(harness_run(&db, NULL, args, NULL, buf, sizeof buf));
    }
    return pid;
}

static void test_concurrent_migrations_apply_each_once(void **state) {
    (void)state;
    pid_t a = spawn_migrate(), b = spawn_migrate(), c = spawn_migrate();
    int sa, sb, sc;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    waitpid(c, &sc, 0);
    assert_int_equal(WEXITSTATUS(sa), 0);
    assert_int_equal(WEXITSTATUS(sb), 0);
    assert_int_equal(WEXITSTATUS(sc), 0);
    char *versions = harness_sql(&db, "SELECT string_agg(version, ' ' ORDER BY version) "
                                      "FROM schema_migrations");
    char *distinct =
        harness_sql(&db, "SELECT count(*) = count(DISTINCT version) FROM schema_migrations");
    assert_non_null(strstr(versions, "0001_foundation.sql"));
    assert_non_null(strstr(versions, "0002_users.sql"));
    assert_string_equal(distinct, "t");
    free(versions);
    free(distinct);
}

static void test_migrate_again_is_a_no_op(void **state) {
    (void)state;
    const char *args[] = {"migrate", NULL};
    char *before = harness_sql(&db, "SELECT count(*) FROM schema_migrations");
    assert_int_equal(harness_run(&db, NULL, args, NULL, out, sizeof out), 0);
    char *after = harness_sql(&db, "SELECT count(*) FROM schema_migrations");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* A migration this build does not have (a newer build migrated the
 * database): said, and the rest goes on. */
static void test_a_migration_of_a_newer_build_is_reported(void **state) {
    (void)state;
    const char *args[] = {"migrate", NULL};
    free(harness_sql(&db, "INSERT INTO schema_migrations (version, checksum)"
                          " VALUES ('9999_from_a_newer_build.sql', 'x')"));
    int rc = harness_run(&db, NULL, args, NULL, out, sizeof out);
    free(harness_sql(&db, "DELETE FROM schema_migrations WHERE version LIKE '9999_%'"));
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "1 migration(s) this build does not know"));
    assert_non_null(strstr(out, "9999_from_a_newer_build.sql"));
    assert_int_equal(harness_run(&db, NULL, args, NULL, out, sizeof out), 0);
    assert_null(strstr(out, "does not know"));
}

static void test_changed_applied_migration_is_an_error(void **state) {
    (void)state;
    const char *args[] = {"migrate", NULL};
    free(harness_sql(&db, "UPDATE schema_migrations SET checksum = 'x' "
                          "WHERE version = '0001_foundation.sql'"));
    assert_int_equal(harness_run(&db, NULL, args, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "changed after it was applied"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configuration_stops_naming_the_variable),
        cmocka_unit_test(test_help_never_runs_a_command),
        cmocka_unit_test(test_bad_command_lines_exit_2),
        cmocka_unit_test(test_user_create_refuses_what_registration_refuses),
        cmocka_unit_test(test_commands_on_an_unmigrated_database_ask_whether_it_is),
        cmocka_unit_test(test_serve_refuses_pending_migrations),
        cmocka_unit_test(test_concurrent_migrations_apply_each_once),
        cmocka_unit_test(test_migrate_again_is_a_no_op),
        cmocka_unit_test(test_a_migration_of_a_newer_build_is_reported),
        cmocka_unit_test(test_changed_applied_migration_is_an_error),
    };
    return cmocka_run_group_tests_name("migrate", tests, setup, teardown);
}
