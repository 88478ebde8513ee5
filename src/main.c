/*
 * main.c -- one binary, several verbs: serve, worker, migrate, seed, jobs,
 * user create.
 */
#include "nexus/api/docs.h"
#include "nexus/api/graphiql.h"
#include "nexus/auth/password.h"
#include "nexus/cache/cache.h"
#include "nexus/cache/catalog.h"
#include "nexus/core/cursor.h"
#include "nexus/core/config.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/db/db.h"
#include "nexus/db/migrate.h"
#include "nexus/db/seed.h"
#include "nexus/db/users.h"
#include "nexus/http/auth.h"
#include "nexus/model/fields.h"
#include "nexus/core/parse.h"
#include "nexus/model/user.h"
#include "nexus/http/server.h"
#include "nexus/jobs/catalog_bump.h"
#include "nexus/jobs/queue.h"
#include "nexus/jobs/worker.h"

#include <curl/curl.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct config config;

static void usage(FILE *out) {
    fputs("usage: nexus <command>\n"
          "  serve     run the HTTP API server\n"
          "  worker    run background jobs from the queue\n"
          "  migrate   apply pending database migrations\n"
          "  jobs list [--state pending|running|done|dead] [--limit N]\n"
          "  jobs retry ID\n"
          "            inspect the job queue; make a dead job due again\n"
          "  seed --products N [--categories M]\n"
          "            load a deterministic demo catalog into an empty database\n"
          "            (migrating it first)\n"
          "  user create --email EMAIL [--role customer|staff|admin] [--name NAME]\n"
          "              [--password-env VAR] [--if-missing]\n"
          "            create an account; the password is read from stdin unless\n"
          "            --password-env names a variable that holds it\n"
          "  --version print the version; --help (anywhere) prints this\n"
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
    if (config.jwt_secret && config.jwt_secret_len < 32) {
        /* development only (config refuses it otherwise): stretch it to a key */
        unsigned char key[32];
        crypto_generichash(key, sizeof key, (const unsigned char *)config.jwt_secret,
                           config.jwt_secret_len, NULL, 0);
        free(config.jwt_secret);
        config.jwt_secret = xmalloc(65);
        sodium_bin2hex(config.jwt_secret, 65, key, sizeof key);
        config.jwt_secret_len = 64;
        log_warn("config", NULL, "JWT_SECRET is shorter than 32 bytes (development only)");
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
    /* PostgreSQL answers within the statement timeout; one that says
     * nothing for half as long again (at least 2 s) is hung, and a request
     * gets a 503 instead of waiting on it for good. */
    int margin =
        config.db_statement_timeout_ms / 2 > 2000 ? config.db_statement_timeout_ms / 2 : 2000;
    db_set_answer_timeout(config.db_statement_timeout_ms + margin);
    if (!password_init(config.hash_concurrency)) {
        log_error("password", NULL, "cannot initialise password hashing");
        return 1;
    }
    auth_init(&config);
    cursor_init((const unsigned char *)config.jwt_secret, config.jwt_secret_len);
    docs_load(config.docs_dir);     /* Swagger UI for /docs; a warning, never fatal */
    graphiql_load(config.docs_dir); /* GraphiQL for /graphiql; likewise */
    int rc = server_run(&config);
    password_shutdown();
    return rc;
}

struct user_options {
    const char *email, *role, *name, *password_env;
    bool if_missing;
};

static bool parse_user_options(int argc, char **argv, struct user_options *o) {
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char **target = strcmp(a, "--email") == 0          ? &o->email
                              : strcmp(a, "--role") == 0         ? &o->role
                              : strcmp(a, "--name") == 0         ? &o->name
                              : strcmp(a, "--password-env") == 0 ? &o->password_env
                                                                 : NULL;
        if (strcmp(a, "--if-missing") == 0)
            o->if_missing = true;
        else if (target && !*target && i + 1 < argc) /* each option once */
            *target = argv[++i];
        else
            return false;
    }
    if (!o->role)
        o->role = "customer";
    return o->email != NULL;
}

/* The password from the named variable, or the first line of stdin; NULL,
 * or why not. */
static const char *read_password(const struct user_options *o, char *buf, size_t cap) {
    if (o->password_env) {
        const char *v = getenv(o->password_env);
        if (!v)
            return "the variable --password-env names is not set";
        if (strlen(v) >= cap)
            return "the password must be 8 to 128 characters";
        memcpy(buf, v, strlen(v) + 1);
        return NULL;
    }
    if (!fgets(buf, (int)cap, stdin))
        return "no password on the standard input";
    buf[strcspn(buf, "\r\n")] = '\0';
    return NULL;
}

/* The name of an account created without --name: its email's local part
 * (before the @, as the address is read: surrounding white space left
 * out). A valid address's is 1 to 64 characters, a valid name; that of an
 * invalid one is cut there, whole characters kept, and never named in an
 * error (the address is refused for itself). */
static const char *default_name(const char *email, char *out, size_t cap) {
    email += strspn(email, " \t\r\n");
    size_t local = strcspn(email, "@");
    snprintf(out, cap, "%.*s", (int)utf8_prefix(email, local, 64), email);
    return out;
}

/* The account checked as a registration's body is, with the same rules
 * and messages (the name defaults to the email's local part); the body
 * owns what in points to. NULL (after saying why) when it is refused. */
static json_t *user_body_checked(const struct user_options *o, const char *password,
                                 struct user_input *in) {
    json_t *pw = json_string(password); /* NULL unless UTF-8 */
    if (!pw) {
        fputs("nexus: the password must be UTF-8 text\n", stderr);
        return NULL;
    }
    char local[64 + 4 + 1];
    json_t *body = json_pack("{s:s?, s:o, s:s?}", "email", o->email, "password", pw, "name",
                             o->name ? o->name : default_name(o->email, local, sizeof local));
    struct field_errors errs = {0};
    enum nx_err e = body ? user_register_input(&errs, body, in) : NX_ERR_VALIDATION;
    if (!body)
        fputs(o->name ? "nexus: --email and --name must be UTF-8 text\n"
                      : "nexus: --email must be UTF-8 text\n",
              stderr);
    for (size_t i = 0; i < fielderr_count(&errs); i++) {
        const struct field_error *f = fielderr_at(&errs, i);
        if (!o->name && strcmp(f->field, "name") == 0)
            continue; /* a default from an invalid --email, refused below or above */
        fprintf(stderr, "nexus: %s%s: %s\n", strcmp(f->field, "password") ? "--" : "", f->field,
                f->message);
    }
    fielderr_clear(&errs);
    if (e == NX_OK)
        return body;
    if (body)
        user_wipe_secrets(body);
    json_decref(body);
    return NULL;
}

/* A command's statement failed (the error itself is logged): say what
 * could not be done, and, when a table or column it needs is missing
 * (undefined_table, undefined_column), that the database may not be
 * migrated (run against an empty one, or before `nexus migrate`). */
static void say_cannot(const struct db *db, const char *what) {
    const char *state = db_sqlstate(db);
    bool unmigrated = strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0;
    fprintf(stderr, "nexus: cannot %s%s\n", what, unmigrated ? " (is the database migrated?)" : "");
}

static int insert_user(const struct user_options *o, const struct user_input *in) {
    char hash[NX_PASSWORD_HASH_MAX];
    if (password_hash(in->password, in->password_len, hash) != NX_OK)
        return 1;
    struct db *db = open_with_retry(config.database_url, 30);
    if (!db)
        return 1;
    PGresult *r = NULL;
    enum nx_err e = users_insert(db, in->email, in->name, hash, o->role, &r);
    if (e == NX_OK)
        printf("created user %s (%s) with id %s\n", in->email, o->role, PQgetvalue(r, 0, 0));
    else if (e == NX_ERR_CONFLICT && o->if_missing)
        printf("user %s already exists\n", in->email);
    else if (e == NX_ERR_CONFLICT)
        fprintf(stderr, "nexus: user %s already exists\n", in->email);
    else
        say_cannot(db, "create the user");
    PQclear(r);
    db_close(db);
    return e == NX_OK || (e == NX_ERR_CONFLICT && o->if_missing) ? 0 : 1;
}

static int cmd_user_create(int argc, char **argv) {
    struct user_options o = {0};
    char password[NX_PASSWORD_MAX * 4 + 2];
    if (argc < 3 || strcmp(argv[2], "create") != 0 || !parse_user_options(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    if (access_from_role(o.role) == ACCESS_UNSET) {
        fputs("nexus: --role must be customer, staff or admin\n", stderr);
        return 2;
    }
    const char *unread = read_password(&o, password, sizeof password);
    if (unread) {
        fprintf(stderr, "nexus: %s\n", unread);
        return 2;
    }
    struct user_input in;
    json_t *body = user_body_checked(&o, password, &in);
    sodium_memzero(password, sizeof password);
    if (!body)
        return 2;
    int rc = password_init(1) ? insert_user(&o, &in) : 1;
    user_wipe_secrets(body);
    json_decref(body);
    password_shutdown();
    return rc;
}

static bool parse_count(const char *s, long max, long *out) {
    int64_t v;
    if (!s || !parse_i64(s, strlen(s), 0, max, &v))
        return false;
    *out = (long)v;
    return true;
}

/* Once the seed's rows are committed, the servers' cached lists and items
 * are older than the catalog: the bump is owed in their transaction (every
 * server delivers it, should this process stop before its own bump), as
 * an import's batch's is, also when this process cannot bump, having no
 * Redis of its own (run with only DATABASE_URL). */
static enum nx_err seed_committing(struct db *db, int64_t *owed) {
    return catalog_bump_owe(db, true, owed);
}

/* Then bumped, and the owed record forgotten once the bump landed. A seed
 * that only finished an interrupted one's index builds owes nothing of
 * its own (the rows' transaction recorded it): it bumps as an import's
 * later attempt does. */
static void seed_committed(struct db *db, int64_t owed) {
    /* the servers' window: the bump waits it out, as their writes do */
    struct catalog_cache_limits limits = {config.cache_ttl, 0,
                                          (uint64_t)config.cache_local_window_us,
                                          (size_t)config.cache_max_entry_bytes};
    catalog_cache_init(config.redis_prefix, &limits);
    catalog_cache_set_position_source(db_wal_position); /* for readers of replicas */
    if (owed > 0)
        catalog_bump_owed_landed(db, owed);
    else
        catalog_bump_bulk_write(db);
}

static int cmd_seed(int argc, char **argv) {
    struct seed_options o = {0, 260, true, config.database_url, seed_committing, seed_committed};
    for (int i = 2; i < argc; i++) {
        bool ok = i + 1 < argc && ((strcmp(argv[i], "--products") == 0 &&
                                    parse_count(argv[i + 1], 50000000, &o.products)) ||
                                   (strcmp(argv[i], "--categories") == 0 &&
                                    parse_count(argv[i + 1], 100000, &o.categories)));
        if (!ok) {
            fputs("nexus: seed takes --products N (1 to 50000000) and --categories M"
                  " (0 to 100000)\n",
                  stderr);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (o.products < 1) {
        fputs("nexus: seed needs --products N, at least 1\n", stderr);
        usage(stderr);
        return 2;
    }
    if (run_migrations(true) != 0)
        return 1;
    struct db *db = open_with_retry(config.database_url, 30);
    if (!db)
        return 1;
    uint64_t start = now_us();
    enum seed_outcome outcome;
    enum nx_err e = seed_catalog(db, &o, &outcome);
    db_close(db);
    db_thread_close(); /* the bump's, if any */
    cache_thread_close();
    catalog_cache_free();
    if (e == NX_ERR_CONFLICT) {
        printf("the catalog is not empty (it has products or categories); nothing seeded\n");
        return 0;
    }
    if (e != NX_OK)
        return 1;
    double seconds = (double)(now_us() - start) / 1e6;
    if (outcome == SEED_RESUMED)
        printf("finished building the indexes of an interrupted seed in %.1f s; nothing seeded\n",
               seconds);
    else
        printf("seeded %ld products in %ld categories in %.1f s\n", o.products, o.categories,
               seconds);
    return 0;
}

static int cmd_worker(void) {
    if (run_migrations(config.auto_migrate) != 0)
        return 1;
    return worker_run(&config);
}

static bool is_job_state(const char *s) {
    static const char *const states[] = {"pending", "running", "done", "dead"};
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        if (strcmp(s, states[i]) == 0)
            return true;
    return false;
}

/* `jobs list` takes --state and --limit; anything else is refused. */
static bool parse_jobs_list(int argc, char **argv, const char **state, const char **limit) {
    for (int i = 3; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (value && strcmp(argv[i], "--state") == 0 && is_job_state(value))
            *state = value;
        else if (value && strcmp(argv[i], "--limit") == 0 && parse_count(value, 100000, &n) &&
                 n >= 1)
            *limit = value;
        else
            return false;
    }
    return true;
}

static int jobs_list(struct db *db, const char *state, const char *limit) {
    PGresult *r = NULL;
    if (queue_list(db, state, limit, &r) != NX_OK) {
        say_cannot(db, "list the jobs");
        return 1;
    }
    printf("%-8s %-20s %-8s %-9s %-28s %s\n", "id", "kind", "state", "attempts", "run_at",
           "last_error");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-8s %-20s %-8s %3s/%-5s %-28s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
               PQgetvalue(r, i, 6));
    PQclear(r);
    return 0;
}

static int jobs_retry(struct db *db, const char *id_text) {
    bool found = false;
    if (queue_retry(db, id_text, &found) != NX_OK) {
        say_cannot(db, "retry the job");
        return 1;
    }
    /* A running job is not touched: a second worker would run it beside
     * the one that holds it (its lease ends it if that one died). */
    if (found)
        printf("job %s is due again\n", id_text);
    else
        fprintf(stderr,
                "nexus: no dead or pending job %s (a running job is retried when its lease "
                "ends)\n",
                id_text);
    return found ? 0 : 1;
}

static int cmd_jobs(int argc, char **argv) {
    bool list = argc >= 3 && strcmp(argv[2], "list") == 0;
    bool retry = argc == 4 && strcmp(argv[2], "retry") == 0;
    const char *state = NULL, *limit = "50";
    if (!list && !retry) {
        usage(stderr);
        return 2;
    }
    if (list && !parse_jobs_list(argc, argv, &state, &limit)) {
        fputs("nexus: jobs list takes --state pending|running|done|dead and --limit 1..100000\n",
              stderr);
        usage(stderr);
        return 2;
    }
    int64_t id;
    if (retry && !parse_id(argv[3], strlen(argv[3]), &id)) {
        fputs("nexus: jobs retry takes a job id, a positive integer\n", stderr);
        usage(stderr);
        return 2;
    }
    struct db *db = open_with_retry(config.database_url, 30);
    if (!db)
        return 1;
    int rc = list ? jobs_list(db, state, limit) : jobs_retry(db, argv[3]);
    db_close(db);
    return rc;
}

static int dispatch(int argc, char **argv) {
    const char *verb = argv[1];
    if (strcmp(verb, "jobs") == 0)
        return cmd_jobs(argc, argv);
    if (strcmp(verb, "seed") == 0)
        return cmd_seed(argc, argv);
    if (strcmp(verb, "user") == 0)
        return cmd_user_create(argc, argv);
    if (strcmp(verb, "worker") == 0)
        return cmd_worker();
    if (strcmp(verb, "serve") == 0)
        return cmd_serve();
    return run_migrations(true);
}

static bool asks_for_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

/* The verbs that take arguments check them themselves; the others take
 * none, so `nexus serve --port 1` is refused rather than serving. */
static bool is_known_command(int argc, char **argv) {
    static const char *const with_args[] = {"jobs", "seed", "user"};
    static const char *const bare[] = {"serve", "worker", "migrate"};
    for (size_t i = 0; i < sizeof with_args / sizeof *with_args; i++)
        if (strcmp(argv[1], with_args[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof bare / sizeof *bare; i++)
        if (strcmp(argv[1], bare[i]) == 0)
            return argc == 2;
    return false;
}

int main(int argc, char **argv) {
    /* Answered before the configuration is read: help never runs a verb
     * and needs no DATABASE_URL. */
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("nexus %s\n", NEXUS_VERSION);
        return 0;
    }
    if (argc >= 2 && asks_for_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || !is_known_command(argc, argv)) {
        usage(stderr);
        return 2;
    }
    char err[256];
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
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
    curl_global_cleanup();
    return rc;
}
