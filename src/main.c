/*
 * main.c -- one binary, several verbs: serve, migrate.
 */
#include "nexus/cache/cache.h"
#include "nexus/core/config.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/db/db.h"
#include "nexus/db/migrate.h"
#include "nexus/http/server.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct config config;

static void usage(FILE *out) {
    fputs("usage: nexus <command>\n"
          "  serve     run the HTTP API server\n"
          "  migrate   apply pending database migrations\n"
          "Configuration comes from the environment; see README.md.\n",
          out);
}

/* PostgreSQL may still be starting (containers, scripts): wait a while. */
static struct db *open_with_retry(const char *conninfo, int seconds) {
    for (int i = 0;; i++) {
        struct db *db = db_open(conninfo);
        if (db || i >= seconds * 2)
            return db;
        struct timespec half = {0, 500 * 1000 * 1000};
        nanosleep(&half, NULL);
    }
}

static int run_migrations(bool apply) {
    struct db *db = open_with_retry(config.database_url, 30);
    if (!db) {
        log_error("migrate", NULL, "cannot connect to DATABASE_URL");
        return 1;
    }
    int pending = 0;
    enum nx_err e = migrate_run(db, apply, &pending);
    db_close(db);
    if (e != NX_OK)
        return 1;
    if (pending) {
        log_error("migrate", NULL,
                  "%d migration(s) pending: run `nexus migrate` or set "
                  "AUTO_MIGRATE=1",
                  pending);
        return 1;
    }
    return 0;
}

static int cmd_serve(void) {
    char err[256];
    if (!config_require_secret(&config, err, sizeof err)) {
        fprintf(stderr, "nexus: %s\n", err);
        return 2;
    }
    if (!config.jwt_secret) { /* development only: tokens die with the process */
        unsigned char raw[32];
        randombytes_buf(raw, sizeof raw);
        config.jwt_secret = xmalloc(65);
        sodium_bin2hex(config.jwt_secret, 65, raw, sizeof raw);
        config.jwt_secret_len = 64;
        log_warn("config", NULL, "JWT_SECRET not set: using an ephemeral secret");
    }
    if (run_migrations(config.auto_migrate) != 0)
        return 1;
    return server_run(&config);
}

static int dispatch(int argc, char **argv) {
    const char *verb = argv[1];
    (void)argc;
    if (strcmp(verb, "serve") == 0)
        return cmd_serve();
    if (strcmp(verb, "migrate") == 0)
        return run_migrations(true);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    char err[256];
    if (sodium_init() < 0) {
        fputs("nexus: libsodium failed to initialise\n", stderr);
        return 1;
    }
    if (!config_load_env(&config, err, sizeof err)) {
        fprintf(stderr, "nexus: %s\n", err);
        return 2;
    }
    nx_config = &config;
    log_set_level(config.log_level);
    db_set_statement_timeout(config.db_statement_timeout_ms);
    if (!cache_init(config.redis_url, config.redis_timeout_ms)) {
        fputs("nexus: REDIS_URL: cannot be parsed\n", stderr);
        config_clear(&config);
        return 2;
    }
    int rc = dispatch(argc, argv);
    config_clear(&config);
    return rc;
}
