/*
 * migrate.c -- apply the embedded migrations in order, exactly once.
 */
#include "nexus/db/migrate.h"

#include "nexus/core/embedded.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <sodium.h>
#include <string.h>

/* An arbitrary constant that names the migration lock. */
static const char MIGRATION_LOCK_KEY[] = "7350081";

static struct db_stmt SQL_LOCK = {"SELECT pg_advisory_lock($1::bigint)", 1, 0};
static struct db_stmt SQL_UNLOCK = {"SELECT pg_advisory_unlock($1::bigint)", 1, 0};
static const char SQL_CREATE_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version text PRIMARY KEY,"
                                       " checksum text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";
static struct db_stmt SQL_CHECKSUM = {"SELECT checksum FROM schema_migrations WHERE version = $1",
                                      1, 0};
static struct db_stmt SQL_UNKNOWN = {
    "SELECT count(*), max(version) FROM schema_migrations WHERE version <> ALL($1::text[])", 1, 0};
static struct db_stmt SQL_RECORD = {
    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", 2, 0};

static void checksum_hex(const struct embedded_file *f, char out[65]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, f->data, f->len);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

/* Whether f is applied; an applied file with another checksum is an error. */
static enum nx_err applied_state(struct db *db, const struct embedded_file *f, const char *sum,
                                 bool *applied) {
    PGresult *r = NULL;
    const char *params[] = {f->name};
    enum nx_err e = db_exec(db, &SQL_CHECKSUM, params, &r);
    if (e != NX_OK)
        return e;
    *applied = PQntuples(r) == 1;
    if (*applied && strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
        log_error("migrate.checksum", NULL, "%s was changed after it was applied", f->name);
        e = NX_ERR_INTERNAL;
    }
    PQclear(r);
    return e;
}

static enum nx_err apply_one(struct db *db, const struct embedded_file *f, const char *sum) {
    char *sql = xstrndup((const char *)f->data, f->len);
    const char *params[] = {f->name, sum};
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = db_exec_sql(db, sql);
    if (e == NX_OK)
        e = db_exec(db, &SQL_RECORD, params, NULL);
    if (e == NX_OK)
        e = db_commit(db);
    if (e != NX_OK) {
        db_rollback(db);
        log_error("migrate.apply", NULL, "%s failed", f->name);
    } else {
        log_info("migrate.apply", NULL, "applied %s", f->name);
    }
    free(sql);
    return e;
}

static enum nx_err walk(struct db *db, bool apply, int *pending) {
    enum nx_err e = db_exec_sql(db, SQL_CREATE_TABLE);
    for (size_t i = 0; e == NX_OK && i < nx_migration_count; i++) {
        const struct embedded_file *f = &nx_migrations[i];
        char sum[65];
        bool applied = false;
        checksum_hex(f, sum);
        e = applied_state(db, f, sum, &applied);
        if (e != NX_OK || applied)
            continue;
        if (apply)
            e = apply_one(db, f, sum);
        else
            (*pending)++;
    }
    return e;
}

/* Migrations applied that this build does not have: a newer build
 * migrated the database (a rollback, say). Said, not refused: what they
 * added is for that build to use, and this one may still work. */
static void warn_unknown(struct db *db) {
    struct buf names = {0};
    buf_puts(&names, "{");
    for (size_t i = 0; i < nx_migration_count; i++)
        buf_printf(&names, "%s\"%s\"", i ? "," : "", nx_migrations[i].name);
    buf_puts(&names, "}");
    const char *params[] = {names.data};
    PGresult *r = NULL;
    if (db_exec(db, &SQL_UNKNOWN, params, &r) == NX_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        log_warn("migrate.unknown", NULL,
                 "the database has %s migration(s) this build does not know, the last %s:"
                 " a newer build migrated it",
                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
    buf_clear(&names);
}

/* The request handlers' limits are not for schema changes: a migration
 * that rewrites the catalog (0010 moves every product onto a variant)
 * takes as long as the catalog needs, minutes for millions, may wait
 * between its statements on a busy machine, and a second migrator waits
 * for the lock until the first is done. For this session only: the
 * caller gives migrate_run a connection of its own. */
static const char SQL_NO_LIMITS[] = "SET statement_timeout = 0; SET lock_timeout = 0;"
                                    " SET idle_in_transaction_session_timeout = 0";

enum nx_err migrate_run(struct db *db, bool apply, int *pending) {
    const char *key[] = {MIGRATION_LOCK_KEY};
    *pending = 0;
    enum nx_err e = db_exec_sql(db, SQL_NO_LIMITS);
    if (e == NX_OK)
        e = db_exec(db, &SQL_LOCK, key, NULL);
    if (e != NX_OK)
        return e;
    e = walk(db, apply, pending);
    if (e == NX_OK)
        warn_unknown(db);
    db_exec(db, &SQL_UNLOCK, key, NULL);
    return e;
}
