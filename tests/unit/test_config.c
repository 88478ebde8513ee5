/*
 * test_config.c -- config_load over a table of variables instead of the
 * process environment.
 */
#define _GNU_SOURCE /* sched_getaffinity, sched_setaffinity, CPU_* */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/config.h"

#include <sched.h>
#include <string.h>

#define GOOD_DB     "postgresql://nexus:nexus@localhost:5432/nexus"
#define GOOD_SECRET "q7Vd2LxN9sK4pRw1ZbT8mYc3HfJ6gUe0" /* exactly 32 bytes */

struct var {
    const char *name;
    const char *value;
};

/* A NULL-name-terminated table of variables. */
static const char *table_get(const char *name, void *ud) {
    const struct var *v = ud;
    for (; v->name; v++)
        if (strcmp(v->name, name) == 0)
            return v->value;
    return NULL;
}

struct fixture {
    struct config c;
    char err[256];
};

static int setup(void **state) {
    struct fixture *f = test_calloc(1, sizeof *f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    config_clear(&f->c);
    test_free(f);
    return 0;
}

static bool load(struct fixture *f, const struct var *vars) {
    f->err[0] = '\0';
    return config_load(&f->c, table_get, (void *)vars, f->err, sizeof f->err);
}

static void assert_loads(struct fixture *f, const struct var *vars) {
    if (!load(f, vars))
        fail_msg("config_load failed: %s", f->err);
}

/* The load fails and the message starts with "NAME:". */
static void assert_rejected_naming(struct fixture *f, const struct var *vars, const char *name) {
    if (load(f, vars))
        fail_msg("config_load accepted a bad %s", name);
    size_t n = strlen(name);
    if (strncmp(f->err, name, n) != 0 || f->err[n] != ':')
        fail_msg("error \"%s\" does not name %s", f->err, name);
    /* A failed load leaves nothing to free. */
    assert_null(f->c.database_url);
    assert_null(f->c.jwt_secret);
    assert_int_equal(f->c.cors_origin_count, 0);
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults_with_only_database_url(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.port, 8080);
    assert_string_equal(f->c.jwt_issuer, "nexus");
    assert_int_equal(f->c.access_token_ttl, 900);
    assert_int_equal(f->c.refresh_token_ttl, 30 * 86400);
    assert_int_equal(f->c.login_max_failures_per_email, 5);
    assert_int_equal(f->c.login_max_failures_per_client, 50);
    assert_int_equal(f->c.login_failure_window, 300);
    assert_int_equal(f->c.body_max, 1048576);
    assert_int_equal(f->c.log_level, LOG_INFO);
    assert_false(f->c.auto_migrate);
    assert_false(f->c.dev_mode);
    assert_string_equal(f->c.database_url, GOOD_DB);
    assert_null(f->c.database_read_url);
    assert_null(f->c.redis_url);
    assert_string_equal(f->c.redis_prefix, "nexus");
    assert_null(f->c.jwt_secret);
    assert_int_equal(f->c.jwt_secret_len, 0);
    assert_int_equal(f->c.cors_origin_count, 0);
    assert_int_equal(f->c.trusted_proxy_count, 0);
    assert_null(f->c.docs_dir);
    assert_true(f->c.threads >= 1);
    assert_true(f->c.hash_concurrency >= 1);
    assert_int_equal(f->c.cache_local_bytes, 64u * 1024 * 1024);
    assert_int_equal(f->c.cache_local_window_us, 1000);
    assert_int_equal(f->c.replica_max_wait_ms, 20);
    assert_int_equal(f->c.cache_max_entry_bytes, 1024 * 1024);
    assert_int_equal(f->c.connection_limit, 4096);
    assert_int_equal(f->c.per_ip_connection_limit, 1024);
    assert_int_equal(f->c.request_timeout, 30);
    assert_int_equal(f->c.metrics_allow_count, 6);
    assert_null(f->c.metrics_token);
    assert_int_equal(f->c.job_retention, 7 * 86400);
}

/* THREADS and HASH_CONCURRENCY default to the cores the process may run
 * on: its affinity, not every online core. */
static void test_thread_defaults_follow_cpu_affinity(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    assert_loads(f, vars);
    int n = CPU_COUNT(&all) > 64 ? 64 : CPU_COUNT(&all);
    assert_int_equal(f->c.threads, n);
    assert_int_equal(f->c.hash_concurrency, n);
    config_clear(&f->c);

    size_t first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    bool loaded = load(f, vars);
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    if (!loaded)
        fail_msg("config_load failed: %s", f->err);
    assert_int_equal(f->c.threads, 1);
    assert_int_equal(f->c.hash_concurrency, 1);
}

static void test_empty_value_counts_as_unset(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"PORT", ""}, {"JWT_ISSUER", ""}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.port, 8080);
    assert_string_equal(f->c.jwt_issuer, "nexus");
}

static void test_explicit_values_override_defaults(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB},
                               {"DATABASE_READ_URL", "host=replica dbname=nexus"},
                               {"PORT", "9000"},
                               {"JWT_ISSUER", "shop"},
                               {"JWT_SECRET", GOOD_SECRET},
                               {"ACCESS_TOKEN_TTL", "60"},
                               {"BODY_MAX_KIB", "2"},
                               {"LOG_LEVEL", "debug"},
                               {"AUTO_MIGRATE", "true"},
                               {"REDIS_URL", "redis://localhost:6379/1"},
                               {"REDIS_PREFIX", "shop"},
                               {"CACHE_LOCAL_MIB", "0"},
                               {"CACHE_LOCAL_WINDOW_US", "20000"},
                               {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.port, 9000);
    assert_string_equal(f->c.jwt_issuer, "shop");
    assert_string_equal(f->c.jwt_secret, GOOD_SECRET);
    assert_int_equal(f->c.jwt_secret_len, 32);
    assert_int_equal(f->c.access_token_ttl, 60);
    assert_int_equal(f->c.body_max, 2048);
    assert_int_equal(f->c.log_level, LOG_DEBUG);
    assert_true(f->c.auto_migrate);
    assert_string_equal(f->c.database_read_url, "host=replica dbname=nexus");
    assert_string_equal(f->c.redis_url, "redis://localhost:6379/1");
    assert_string_equal(f->c.redis_prefix, "shop");
    assert_int_equal(f->c.cache_local_bytes, 0);
    assert_int_equal(f->c.cache_local_window_us, 20000);
}

/* ---- DATABASE_URL ------------------------------------------------------- */

static void test_database_url_is_required(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"PORT", "8080"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "DATABASE_URL");
}

static void test_database_url_empty_is_missing(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", ""}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "DATABASE_URL");
}

static void test_database_url_unparsable_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var eq[] = {{"DATABASE_URL", "=bad"}, {NULL, NULL}};
    assert_rejected_naming(f, eq, "DATABASE_URL");
    const struct var noeq[] = {{"DATABASE_URL", "host=x port"}, {NULL, NULL}};
    assert_rejected_naming(f, noeq, "DATABASE_URL");
    const struct var unknown[] = {{"DATABASE_URL", "colour=blue"}, {NULL, NULL}};
    assert_rejected_naming(f, unknown, "DATABASE_URL");
}

static void test_database_url_keyword_form_is_accepted(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", "host=localhost dbname=nexus"}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_string_equal(f->c.database_url, "host=localhost dbname=nexus");
}

static void test_database_read_url_unparsable_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"DATABASE_READ_URL", "=bad"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "DATABASE_READ_URL");
}

/* ---- PORT and other integers -------------------------------------------- */

static void test_port_zero_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"PORT", "0"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "PORT");
}

static void test_port_above_65535_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"PORT", "65536"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "PORT");
}

static void test_port_65535_is_accepted(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"PORT", "65535"}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.port, 65535);
}

static void test_port_non_numeric_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"PORT", "abc"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "PORT");
}

static void test_port_with_leading_space_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"PORT", " 80"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "PORT");
}

static void test_access_token_ttl_below_minimum_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"ACCESS_TOKEN_TTL", "29"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "ACCESS_TOKEN_TTL");
}

static void test_body_max_kib_above_maximum_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"BODY_MAX_KIB", "65537"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "BODY_MAX_KIB");
}

static void test_cache_local_window_above_one_second_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"CACHE_LOCAL_WINDOW_US", "1000001"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "CACHE_LOCAL_WINDOW_US");
}

static void test_replica_max_wait_above_one_second_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"REPLICA_MAX_WAIT_MS", "1001"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "REPLICA_MAX_WAIT_MS");
}

static void test_replica_max_wait_not_a_number_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"REPLICA_MAX_WAIT_MS", "20ms"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "REPLICA_MAX_WAIT_MS");
}

static void test_cache_local_mib_negative_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"CACHE_LOCAL_MIB", "-1"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "CACHE_LOCAL_MIB");
}

static void test_cache_max_entry_bytes_range(void **state) {
    struct fixture *f = *state;
    const struct var low[] = {
        {"DATABASE_URL", GOOD_DB}, {"CACHE_MAX_ENTRY_BYTES", "1023"}, {NULL, NULL}};
    assert_rejected_naming(f, low, "CACHE_MAX_ENTRY_BYTES");
    const struct var high[] = {
        {"DATABASE_URL", GOOD_DB}, {"CACHE_MAX_ENTRY_BYTES", "67108865"}, {NULL, NULL}};
    assert_rejected_naming(f, high, "CACHE_MAX_ENTRY_BYTES");
    const struct var ok[] = {
        {"DATABASE_URL", GOOD_DB}, {"CACHE_MAX_ENTRY_BYTES", "4096"}, {NULL, NULL}};
    assert_loads(f, ok);
    assert_int_equal(f->c.cache_max_entry_bytes, 4096);
}

static void test_request_timeout_range(void **state) {
    struct fixture *f = *state;
    const struct var zero[] = {{"DATABASE_URL", GOOD_DB}, {"REQUEST_TIMEOUT", "0"}, {NULL, NULL}};
    assert_rejected_naming(f, zero, "REQUEST_TIMEOUT");
    const struct var ok[] = {{"DATABASE_URL", GOOD_DB}, {"REQUEST_TIMEOUT", "5"}, {NULL, NULL}};
    assert_loads(f, ok);
    assert_int_equal(f->c.request_timeout, 5);
}

static void test_metrics_access_settings(void **state) {
    struct fixture *f = *state;
    const struct var bad_range[] = {
        {"DATABASE_URL", GOOD_DB}, {"METRICS_ALLOW", "10.0.0.0/8,10.1.2.3/33"}, {NULL, NULL}};
    assert_rejected_naming(f, bad_range, "METRICS_ALLOW");
    const struct var short_token[] = {
        {"DATABASE_URL", GOOD_DB}, {"METRICS_TOKEN", "short"}, {NULL, NULL}};
    assert_rejected_naming(f, short_token, "METRICS_TOKEN");
    const struct var ok[] = {{"DATABASE_URL", GOOD_DB},
                             {"METRICS_ALLOW", "10.0.0.0/8, 2001:db8::/32"},
                             {"METRICS_TOKEN", "a-scraper-token-of-32-characters"},
                             {NULL, NULL}};
    assert_loads(f, ok);
    assert_int_equal(f->c.metrics_allow_count, 2);
    assert_string_equal(f->c.metrics_token, "a-scraper-token-of-32-characters");
    config_clear(&f->c);
    const struct var none[] = {{"DATABASE_URL", GOOD_DB}, {"METRICS_ALLOW", "none"}, {NULL, NULL}};
    assert_loads(f, none);
    assert_int_equal(f->c.metrics_allow_count, 0);
}

static void test_job_retention_range(void **state) {
    struct fixture *f = *state;
    const struct var low[] = {{"DATABASE_URL", GOOD_DB}, {"JOB_RETENTION", "59"}, {NULL, NULL}};
    assert_rejected_naming(f, low, "JOB_RETENTION");
    const struct var ok[] = {{"DATABASE_URL", GOOD_DB}, {"JOB_RETENTION", "3600"}, {NULL, NULL}};
    assert_loads(f, ok);
    assert_int_equal(f->c.job_retention, 3600);
}

static void test_import_retention_range(void **state) {
    struct fixture *f = *state;
    const struct var none[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_loads(f, none);
    assert_int_equal(f->c.import_retention, 30 * 86400);
    config_clear(&f->c);
    const struct var low[] = {
        {"DATABASE_URL", GOOD_DB}, {"IMPORT_RETENTION", "3599"}, {NULL, NULL}};
    assert_rejected_naming(f, low, "IMPORT_RETENTION");
    const struct var ok[] = {{"DATABASE_URL", GOOD_DB}, {"IMPORT_RETENTION", "3600"}, {NULL, NULL}};
    assert_loads(f, ok);
    assert_int_equal(f->c.import_retention, 3600);
}

static void test_app_url_and_link_lifetimes(void **state) {
    struct fixture *f = *state;
    const struct var none[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_loads(f, none);
    assert_string_equal(f->c.app_url, "http://localhost:3000");
    assert_int_equal(f->c.password_reset_ttl, 1800);
    assert_int_equal(f->c.email_verify_ttl, 86400);
    config_clear(&f->c);
    const struct var ok[] = {{"DATABASE_URL", GOOD_DB},
                             {"APP_URL", "https://shop.example.com/store/"},
                             {"PASSWORD_RESET_TTL", "600"},
                             {"EMAIL_VERIFY_TTL", "3600"},
                             {NULL, NULL}};
    assert_loads(f, ok);
    assert_string_equal(f->c.app_url, "https://shop.example.com/store"); /* no trailing slash */
    assert_int_equal(f->c.password_reset_ttl, 600);
    assert_int_equal(f->c.email_verify_ttl, 3600);
    config_clear(&f->c);
    const char *bad[] = {"shop.example.com",
                         "ftp://shop.example.com",
                         "https://",
                         "https://shop.example.com/a b",
                         "https://shop.example.com/?x=1",
                         "https://shop.example.com/#top",
                         "javascript:alert(1)",
                         "https://shop.example.com/\"><script>",
                         "https://sh\xc3\xb6p.example"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"APP_URL", bad[i]}, {NULL, NULL}};
        assert_rejected_naming(f, vars, "APP_URL");
    }
    const struct var short_ttl[] = {
        {"DATABASE_URL", GOOD_DB}, {"PASSWORD_RESET_TTL", "59"}, {NULL, NULL}};
    assert_rejected_naming(f, short_ttl, "PASSWORD_RESET_TTL");
    const struct var long_ttl[] = {
        {"DATABASE_URL", GOOD_DB}, {"EMAIL_VERIFY_TTL", "2592001"}, {NULL, NULL}};
    assert_rejected_naming(f, long_ttl, "EMAIL_VERIFY_TTL");
}

/* ---- JWT_SECRET and NEXUS_ENV ------------------------------------------- */

static void test_short_jwt_secret_is_rejected_in_production(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB},
                               {"JWT_SECRET", "0123456789abcdef0123456789abcde"}, /* 31 */
                               {NULL, NULL}};
    assert_rejected_naming(f, vars, "JWT_SECRET");
}

static void test_short_jwt_secret_is_rejected_with_nexus_env_production(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB},
                               {"NEXUS_ENV", "production"},
                               {"JWT_SECRET", "short"},
                               {NULL, NULL}};
    assert_rejected_naming(f, vars, "JWT_SECRET");
}

static void test_jwt_secret_of_32_bytes_is_accepted(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"JWT_SECRET", GOOD_SECRET}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.jwt_secret_len, 32);
}

static void test_short_jwt_secret_is_accepted_in_development(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB},
                               {"NEXUS_ENV", "development"},
                               {"JWT_SECRET", "short"},
                               {NULL, NULL}};
    assert_loads(f, vars);
    assert_true(f->c.dev_mode);
    assert_string_equal(f->c.jwt_secret, "short");
    assert_int_equal(f->c.jwt_secret_len, 5);
}

static void test_unknown_nexus_env_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"NEXUS_ENV", "Development"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "NEXUS_ENV");
}

static void test_require_secret_fails_without_secret_outside_development(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_loads(f, vars);
    char err[128] = "";
    assert_false(config_require_secret(&f->c, err, sizeof err));
    assert_int_equal(strncmp(err, "JWT_SECRET", 10), 0);
}

static void test_require_secret_passes_with_secret(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"JWT_SECRET", GOOD_SECRET}, {NULL, NULL}};
    assert_loads(f, vars);
    char err[128] = "";
    assert_true(config_require_secret(&f->c, err, sizeof err));
}

static void test_require_secret_passes_in_development_without_secret(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"NEXUS_ENV", "development"}, {NULL, NULL}};
    assert_loads(f, vars);
    char err[128] = "";
    assert_true(config_require_secret(&f->c, err, sizeof err));
}

/* ---- JWT_SECRET strength outside development ----------------------------- */

static void assert_secret_rejected(struct fixture *f, const char *env, const char *secret) {
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"NEXUS_ENV", env}, {"JWT_SECRET", secret}, {NULL, NULL}};
    if (load(f, vars))
        fail_msg("JWT_SECRET \"%s\" accepted with NEXUS_ENV=%s", secret, env ? env : "(unset)");
    if (strncmp(f->err, "JWT_SECRET:", 11) != 0)
        fail_msg("error \"%s\" does not name JWT_SECRET", f->err);
    assert_null(f->c.jwt_secret);
}

static void assert_secret_accepted(struct fixture *f, const char *env, const char *secret) {
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"NEXUS_ENV", env}, {"JWT_SECRET", secret}, {NULL, NULL}};
    if (!load(f, vars))
        fail_msg("JWT_SECRET \"%s\" refused: %s", secret, f->err);
    assert_string_equal(f->c.jwt_secret, secret);
    config_clear(&f->c);
}

#define OLD_COMPOSE_SECRET "compose-development-secret-change-me-0123456789"

static void test_published_secrets_are_rejected_outside_development(void **state) {
    struct fixture *f = *state;
    static const char *const published[] = {OLD_COMPOSE_SECRET,
                                            "COMPOSE-DEVELOPMENT-SECRET-CHANGE-ME-0123456789",
                                            "changeme", "secret", "your-256-bit-secret",
                                            /* long enough, but saying what they are */
                                            "please-changeme-before-going-live-0123456789",
                                            "jwt-secret-CHANGE_ME-k3J9x2Lq8vR4tW7yB1nM5pZ0",
                                            "placeholder-for-the-real-key-k3J9x2Lq8vR4tW7yB1n"};
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        assert_secret_rejected(f, NULL, published[i]);
        assert_secret_rejected(f, "production", published[i]);
    }
    assert_secret_rejected(f, NULL, OLD_COMPOSE_SECRET);
    assert_non_null(strstr(f->err, "placeholder"));
}

static void test_secrets_with_too_little_variety_are_rejected(void **state) {
    struct fixture *f = *state;
    static const char *const weak[] = {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",                   /* one character */
        "abababababababababababababababababababab",                   /* two */
        "abcdefgggggggggggggggggggggggggggggggggggfedcba",            /* seven distinct bytes */
        "abcdefghabcdefghabcdefghabcdefgh",                           /* 8 distinct, repeated */
        "0123456789abcdef0123456789abcdef",                           /* a pattern twice */
        "Tr0ub4dor&3xyzTr0ub4dor&3xyzTr0ub4dor&3xyzTr0",              /* repeated, last copy cut */
        "k3J9x2Lq8vR4tW7yB1nM5pZ0d6Hs-k3J9x2Lq8vR4tW7yB1nM5pZ0d6Hs-", /* a long key twice */
    };
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++)
        assert_secret_rejected(f, "production", weak[i]);
    assert_non_null(strstr(f->err, "variety"));
}

static void test_generated_secrets_are_accepted_in_production(void **state) {
    struct fixture *f = *state;
    static const char *const good[] = {
        GOOD_SECRET,
        "3q2+7wAAAAC/4ZbO5k+Jm9Qn1rW0xZy8T6VgR2eH7sKdLp4NcU0mB9fX1aYzQw==", /* base64 of 48 */
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", /* hex of 32 */
        /* the keys of the project's own test harnesses */
        "integration-test-secret-0123456789abcdef",
        "fault-test-secret-0123456789abcdef",
        "node-test-secret-0123456789abcdef0123456789",
        "benchmark-secret-0123456789abcdef0123",
        "fuzz-http-secret-0123456789abcdef-01234567",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_secret_accepted(f, NULL, good[i]);
        assert_secret_accepted(f, "production", good[i]);
    }
}

/* Development keeps its relaxed rules: any secret, the old default included. */
static void test_weak_secrets_are_accepted_in_development(void **state) {
    struct fixture *f = *state;
    assert_secret_accepted(f, "development", OLD_COMPOSE_SECRET);
    assert_secret_accepted(f, "development", "changeme");
    assert_secret_accepted(f, "development", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

/* ---- BIND_ADDR -------------------------------------------------------------- */

static void test_bind_addr_is_unset_by_default(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"BIND_ADDR", ""}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_null(f->c.bind_addr);
}

static void test_bind_addr_takes_ipv4_and_ipv6_literals(void **state) {
    struct fixture *f = *state;
    static const char *const good[] = {"127.0.0.1", "0.0.0.0",     "10.1.2.3",        "::1",
                                       "::",        "2001:db8::1", "::ffff:127.0.0.1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"BIND_ADDR", good[i]}, {NULL, NULL}};
        assert_loads(f, vars);
        assert_string_equal(f->c.bind_addr, good[i]);
        config_clear(&f->c);
    }
}

static void test_bind_addr_rejects_names_ports_and_malformed_addresses(void **state) {
    struct fixture *f = *state;
    static const char *const bad[] = {
        "localhost", "127.0.0.1:8080", "[::1]",      " 127.0.0.1", "127.0.0.1 ",
        "256.0.0.1", "1.2.3",          "fe80::1%lo", "::1::2",     "*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"BIND_ADDR", bad[i]}, {NULL, NULL}};
        assert_rejected_naming(f, vars, "BIND_ADDR");
        assert_null(f->c.bind_addr);
    }
}

/* ---- lists -------------------------------------------------------------- */

static void test_cors_origins_split_on_comma_and_trimmed(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"CORS_ORIGINS", "http://a, http://b"}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.cors_origin_count, 2);
    assert_string_equal(f->c.cors_origins[0], "http://a");
    assert_string_equal(f->c.cors_origins[1], "http://b");
}

static void test_cors_origins_skip_empty_entries(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"CORS_ORIGINS", " , http://a,,  ,http://b , "}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.cors_origin_count, 2);
    assert_string_equal(f->c.cors_origins[0], "http://a");
    assert_string_equal(f->c.cors_origins[1], "http://b");
}

static void test_cors_origins_over_limit_is_rejected(void **state) {
    struct fixture *f = *state;
    char list[NX_MAX_CORS_ORIGINS * 16 + 16] = "";
    for (int i = 0; i <= NX_MAX_CORS_ORIGINS; i++)
        strcat(list, i ? ",http://x" : "http://x");
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"CORS_ORIGINS", list}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "CORS_ORIGINS");
}

static void assert_range(const struct ip_range *r, const char *base, unsigned prefix) {
    char text[NX_IP_TEXT_MAX];
    ip_format(&r->base, text);
    assert_string_equal(text, base);
    assert_int_equal(r->prefix, prefix);
}

static void test_trusted_proxies_parsed(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"TRUSTED_PROXIES", "10.0.0.1,10.0.0.2"}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.trusted_proxy_count, 2);
    assert_range(&f->c.trusted_proxies[0], "10.0.0.1", 32);
    assert_range(&f->c.trusted_proxies[1], "10.0.0.2", 32);
}

static void test_trusted_proxies_take_cidr_ranges(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB},
        {"TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8,127.0.0.1 ,::1,172.28.5.9/16,0.0.0.0/0"},
        {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.trusted_proxy_count, 6);
    assert_range(&f->c.trusted_proxies[0], "10.0.0.0", 8);
    assert_range(&f->c.trusted_proxies[1], "fd00::", 8);
    assert_range(&f->c.trusted_proxies[2], "127.0.0.1", 32);
    assert_range(&f->c.trusted_proxies[3], "::1", 128);
    assert_range(&f->c.trusted_proxies[4], "172.28.0.0", 16); /* host bits ignored */
    assert_range(&f->c.trusted_proxies[5], "0.0.0.0", 0);
}

static void test_trusted_proxies_reject_bad_entries(void **state) {
    struct fixture *f = *state;
    static const char *const bad[] = {
        "10.0.0.0/33",     "fd00::/129",  "10.0.0.0/",         "10.0.0.0/-1", "10.0.0.0/+8",
        "10.0.0.0/08",     "10.0.0.0/8x", "10.0.0.0/8/8",      "10.0.0",      "256.0.0.1",
        "10.0.0.1:80",     "nginx",       "fd00::/a",          "/8",          "10.0.0.0 /8",
        "127.0.0.1,proxy", "[::1]",       "::ffff:10.0.0.0/95"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct var vars[] = {
            {"DATABASE_URL", GOOD_DB}, {"TRUSTED_PROXIES", bad[i]}, {NULL, NULL}};
        assert_rejected_naming(f, vars, "TRUSTED_PROXIES");
        assert_int_equal(f->c.trusted_proxy_count, 0);
    }
}

static void test_trusted_proxies_over_limit_is_rejected(void **state) {
    struct fixture *f = *state;
    char list[NX_MAX_TRUSTED_PROXIES * 16 + 16] = "";
    for (int i = 0; i <= NX_MAX_TRUSTED_PROXIES; i++)
        strcat(list, i ? ",10.0.0.1" : "10.0.0.1");
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"TRUSTED_PROXIES", list}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "TRUSTED_PROXIES");
}

/* ---- LOG_LEVEL, AUTO_MIGRATE, REDIS_URL --------------------------------- */

static void test_log_level_accepts_each_name(void **state) {
    struct fixture *f = *state;
    static const char *const names[] = {"debug", "info", "warn", "error"};
    static const enum log_level levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    for (size_t i = 0; i < 4; i++) {
        const struct var vars[] = {
            {"DATABASE_URL", GOOD_DB}, {"LOG_LEVEL", names[i]}, {NULL, NULL}};
        assert_loads(f, vars);
        assert_int_equal(f->c.log_level, levels[i]);
        config_clear(&f->c);
    }
}

static void test_log_level_bad_value_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"LOG_LEVEL", "verbose"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "LOG_LEVEL");
    const struct var upper[] = {{"DATABASE_URL", GOOD_DB}, {"LOG_LEVEL", "INFO"}, {NULL, NULL}};
    assert_rejected_naming(f, upper, "LOG_LEVEL");
}

static void test_auto_migrate_bad_value_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"AUTO_MIGRATE", "yes"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "AUTO_MIGRATE");
}

static void test_redis_url_bad_scheme_is_rejected(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"REDIS_URL", "http://localhost:6379"}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "REDIS_URL");
}

static void test_redis_url_unix_scheme_is_accepted(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"REDIS_URL", "unix:///tmp/redis.sock"}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_string_equal(f->c.redis_url, "unix:///tmp/redis.sock");
}

static void test_redis_prefix_over_64_is_rejected(void **state) {
    struct fixture *f = *state;
    char prefix[66];
    memset(prefix, 'p', 65);
    prefix[65] = '\0';
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {"REDIS_PREFIX", prefix}, {NULL, NULL}};
    assert_rejected_naming(f, vars, "REDIS_PREFIX");
}

static void test_config_clear_twice_is_safe(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {
        {"DATABASE_URL", GOOD_DB}, {"CORS_ORIGINS", "http://a"}, {NULL, NULL}};
    assert_loads(f, vars);
    config_clear(&f->c);
    assert_null(f->c.database_url);
    assert_int_equal(f->c.cors_origin_count, 0);
    config_clear(&f->c);
}

/* ---- product search ----------------------------------------------------- */

static void test_search_total_cap_defaults_to_10000(void **state) {
    struct fixture *f = *state;
    const struct var vars[] = {{"DATABASE_URL", GOOD_DB}, {NULL, NULL}};
    assert_loads(f, vars);
    assert_int_equal(f->c.search_total_cap, 10000);
}

static void test_search_total_cap_takes_1_to_100000000(void **state) {
    struct fixture *f = *state;
    const char *good[] = {"1", "40", "100000000"};
    const int want[] = {1, 40, 100000000};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const struct var vars[] = {
            {"DATABASE_URL", GOOD_DB}, {"SEARCH_TOTAL_CAP", good[i]}, {NULL, NULL}};
        assert_loads(f, vars);
        assert_int_equal(f->c.search_total_cap, want[i]);
        config_clear(&f->c);
    }
    const char *bad[] = {"0", "-1", "100000001", "1e4", "10k", " 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct var vars[] = {
            {"DATABASE_URL", GOOD_DB}, {"SEARCH_TOTAL_CAP", bad[i]}, {NULL, NULL}};
        assert_rejected_naming(f, vars, "SEARCH_TOTAL_CAP");
    }
}

#define FT(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        FT(test_defaults_with_only_database_url),
        FT(test_thread_defaults_follow_cpu_affinity),
        FT(test_empty_value_counts_as_unset),
        FT(test_explicit_values_override_defaults),
        FT(test_database_url_is_required),
        FT(test_database_url_empty_is_missing),
        FT(test_database_url_unparsable_is_rejected),
        FT(test_database_url_keyword_form_is_accepted),
        FT(test_database_read_url_unparsable_is_rejected),
        FT(test_port_zero_is_rejected),
        FT(test_port_above_65535_is_rejected),
        FT(test_port_65535_is_accepted),
        FT(test_port_non_numeric_is_rejected),
        FT(test_port_with_leading_space_is_rejected),
        FT(test_access_token_ttl_below_minimum_is_rejected),
        FT(test_body_max_kib_above_maximum_is_rejected),
        FT(test_cache_local_window_above_one_second_is_rejected),
        FT(test_replica_max_wait_above_one_second_is_rejected),
        FT(test_replica_max_wait_not_a_number_is_rejected),
        FT(test_cache_local_mib_negative_is_rejected),
        FT(test_cache_max_entry_bytes_range),
        FT(test_request_timeout_range),
        FT(test_metrics_access_settings),
        FT(test_job_retention_range),
        FT(test_import_retention_range),
        FT(test_app_url_and_link_lifetimes),
        FT(test_short_jwt_secret_is_rejected_in_production),
        FT(test_short_jwt_secret_is_rejected_with_nexus_env_production),
        FT(test_jwt_secret_of_32_bytes_is_accepted),
        FT(test_short_jwt_secret_is_accepted_in_development),
        FT(test_unknown_nexus_env_is_rejected),
        FT(test_require_secret_fails_without_secret_outside_development),
        FT(test_require_secret_passes_with_secret),
        FT(test_require_secret_passes_in_development_without_secret),
        FT(test_published_secrets_are_rejected_outside_development),
        FT(test_secrets_with_too_little_variety_are_rejected),
        FT(test_generated_secrets_are_accepted_in_production),
        FT(test_weak_secrets_are_accepted_in_development),
        FT(test_bind_addr_is_unset_by_default),
        FT(test_bind_addr_takes_ipv4_and_ipv6_literals),
        FT(test_bind_addr_rejects_names_ports_and_malformed_addresses),
        FT(test_cors_origins_split_on_comma_and_trimmed),
        FT(test_cors_origins_skip_empty_entries),
        FT(test_cors_origins_over_limit_is_rejected),
        FT(test_trusted_proxies_parsed),
        FT(test_trusted_proxies_take_cidr_ranges),
        FT(test_trusted_proxies_reject_bad_entries),
        FT(test_trusted_proxies_over_limit_is_rejected),
        FT(test_log_level_accepts_each_name),
        FT(test_log_level_bad_value_is_rejected),
        FT(test_auto_migrate_bad_value_is_rejected),
        FT(test_redis_url_bad_scheme_is_rejected),
        FT(test_redis_url_unix_scheme_is_accepted),
        FT(test_redis_prefix_over_64_is_rejected),
        FT(test_config_clear_twice_is_safe),
        FT(test_search_total_cap_defaults_to_10000),
        FT(test_search_total_cap_takes_1_to_100000000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
