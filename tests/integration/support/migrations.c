/*
 * migrations.c -- a database at the schema of an earlier version: the
 * migration files before a number, applied and recorded as `nexus
 * migrate` applies them, so that the rest is applied by `nexus migrate`
 * over rows written at that schema.
 */
#include "harness.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s\n", PQerrorMessage(c));
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
}

/* scandir's filter takes no argument: the bound of the current call. */
static char before_version[16];

static int is_earlier(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0 && strcmp(e->d_name, before_version) < 0;
}

void harness_migrate_before(const struct nexus_server *s, const char *version) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/migrations", harness_source_dir());
    snprintf(before_version, sizeof before_version, "%s", version);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_earlier, alphasort);
    assert_true(n >= 1);
    PGconn *c = PQconnectdb(s->database_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
               " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    for (int i = 0; i < n; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        char *text = read_text(path);
        exec_ok(c, "BEGIN");
        exec_ok(c, text);
        const char *params[] = {names[i]->d_name, text};
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO schema_migrations (version, checksum) VALUES"
                                   " ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'))",
                                   2, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        exec_ok(c, "COMMIT");
        free(text);
        free(names[i]);
    }
    free(names);
    PQfinish(c);
}

static int is_migration(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0;
}

static uint64_t fnv1a(uint64_t h, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

uint64_t harness_migrations_digest(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/migrations", harness_source_dir());
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_migration, alphasort);
    assert_true(n >= 1);
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < n; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        char *text = read_text(path);
        h = fnv1a(fnv1a(h, names[i]->d_name), text);
        free(text);
        free(names[i]);
    }
    free(names);
    return h;
}

void harness_migrate(const struct nexus_server *s) {
    char out[16384];
    const char *args[] = {"migrate", NULL};
    int rc = harness_run(s, NULL, args, NULL, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", out);
    assert_int_equal(rc, 0);
}
