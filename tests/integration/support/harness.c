/*
 * harness.c -- start and stop the real server for integration tests.
 */
#include "harness.h"
#include "../../common/free_port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nexus/cache/cache.h"

extern char **environ;

static int current_port;

int harness_port(void) {
    return current_port;
}

void harness_use(const struct nexus_server *s) {
    current_port = s->port;
}

const char *harness_source_dir(void) {
    return NEXUS_SOURCE_DIR;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void) {
    int port = test_free_port();
    assert_true(port > 0);
    return port;
}

static const char *admin_conninfo(void) {
    const char *url = getenv("NEXUS_TEST_DATABASE_URL");
    if (!url) {
        fprintf(stderr, "NEXUS_TEST_DATABASE_URL is not set: run the tests with scripts/test\n");
        fail();
    }
    return url;
}

/* Run one statement on the maintenance database. */
static void admin_exec(const char *sql) {
    PGconn *c = PQconnectdb(admin_conninfo());
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to the test PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        fail();
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

/* s's database (nx_NAME), dropped if an earlier run left it, and made
 * again as a copy of template. */
static void recreate_database(struct nexus_server *s, const char *template) {
    char sql[256];
    snprintf(s->dbname, sizeof s->dbname, "nx_%s", s->name);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", s->dbname);
    admin_exec(sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", s->dbname, template);
    admin_exec(sql);
    snprintf(s->database_url, sizeof s->database_url, "%s dbname=%s", admin_conninfo(), s->dbname);
    s->own_db = true;
}

/* The database every server of harness_start copies: every migration
 * applied by `nexus migrate`, made once per set of migration files (its
 * name holds their digest) by the first test executable that needs it,
 * under an advisory lock, as the executables run side by side. Migrating
 * each server's database from empty cost several times the copy, and a
 * run starts dozens. Nothing connects to it once made, so it can always
 * be copied; the copy is what `nexus migrate` left, and the server's
 * AUTO_MIGRATE finds nothing to do. */
static void migrated_template(char *name, size_t cap) {
    snprintf(name, cap, "nx_migrated_%016llx", (unsigned long long)harness_migrations_digest());
    PGconn *c = PQconnectdb(admin_conninfo()); /* holds the lock */
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pg_advisory_lock(hashtext('nx_migrated'))");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    const char *params[] = {name};
    r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params, NULL, NULL,
                     0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    bool made = PQntuples(r) == 1;
    PQclear(r);
    if (!made) {
        struct nexus_server building = {0};
        snprintf(building.name, sizeof building.name, "%s_new", name + 3);
        recreate_database(&building, "template0");
        harness_migrate(&building);
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" RENAME TO \"%s\"", building.dbname, name);
        admin_exec(sql);
        snprintf(sql, sizeof sql,
                 "ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true", name);
        admin_exec(sql);
    }
    PQfinish(c); /* and with it the lock */
}

/* A connection to the Redis database of url, selected. */
static redisContext *redis_open(const char *url) {
    struct redis_target t;
    assert_true(redis_url_parse(url, &t));
    struct timeval tv = {2, 0};
    redisContext *c = t.port ? redisConnectWithTimeout(t.host, t.port, tv)
                             : redisConnectUnixWithTimeout(t.host, tv);
    assert_true(c && !c->err);
    char db[8];
    snprintf(db, sizeof db, "%d", t.db);
    const char *select[] = {"SELECT", db};
    freeReplyObject(redisCommandArgv(c, 2, select, NULL));
    return c;
}

/* Delete the keys of server name (REDIS_PREFIX test_<name>) from an
 * earlier run. Only its own keys: test executables run side by side and
 * may share a Redis database, so a FLUSHDB would empty another's cache and
 * counters in the middle of its test. */
static void clean_redis_keys(const char *url, const char *name) {
    redisContext *c = redis_open(url);
    char pattern[128], cursor[32] = "0";
    snprintf(pattern, sizeof pattern, "test_%s:*", name);
    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *r = redisCommandArgv(c, 6, scan, NULL);
        assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *del[] = {"UNLINK", r->element[1]->element[i]->str};
            freeReplyObject(redisCommandArgv(c, 2, del, NULL));
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
}

long long harness_catalog_generation(const struct nexus_server *s) {
    redisContext *c = redis_open(s->redis_url);
    char key[sizeof s->name + 32];
    snprintf(key, sizeof key, "test_%s:catalog:gen", s->name);
    const char *get[] = {"GET", key};
    redisReply *r = redisCommandArgv(c, 2, get, NULL);
    assert_non_null(r);
    long long gen = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    redisFree(c);
    return gen;
}

/* Each executable gets a Redis database index picked from its name, and
 * starts without the keys an earlier run left there. */
static void pick_redis(struct nexus_server *s) {
    const char *base = getenv("NEXUS_TEST_REDIS_URL");
    s->redis_url[0] = '\0';
    if (!base)
        return;
    unsigned h = 5381;
    for (const char *p = s->name; *p; p++)
        h = h * 33 + (unsigned char)*p;
    snprintf(s->redis_url, sizeof s->redis_url, "%s%sdb=%u", base, strchr(base, '?') ? "&" : "?",
             h % 15 + 1);
    clean_redis_keys(s->redis_url, s->name);
}

/* Add "K=V" to env, replacing an earlier K (getenv would see the first). */
static void put_env(char **env, size_t *n, size_t cap, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t key = strcspn(line, "=") + 1;
    for (size_t i = 0; i < *n; i++)
        if (strncmp(env[i], line, key) == 0) {
            free(env[i]);
            env[i] = strdup(line);
            return;
        }
    assert_true(*n + 1 < cap);
    env[(*n)++] = strdup(line);
}

char **harness_env(const struct nexus_server *s, const char *const *extra) {
    size_t cap = 256, n = 0;
    char **env = calloc(cap, sizeof *env);
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "NEXUS_", 6) == 0 || strncmp(*e, "DATABASE_URL=", 13) == 0 ||
            strncmp(*e, "REDIS_URL=", 10) == 0 || strncmp(*e, "PORT=", 5) == 0 ||
            strncmp(*e, "BIND_ADDR=", 10) == 0)
            continue;
        if (n + 40 < cap)
            env[n++] = strdup(*e);
    }
    put_env(env, &n, cap, "DATABASE_URL=%s", s->database_url);
    if (s->redis_url[0])
        put_env(env, &n, cap, "REDIS_URL=%s", s->redis_url);
    put_env(env, &n, cap, "REDIS_PREFIX=test_%s", s->name);
    if (s->port)
        put_env(env, &n, cap, "PORT=%d", s->port);
    put_env(env, &n, cap, "THREADS=2");
    put_env(env, &n, cap, "AUTO_MIGRATE=1");
    put_env(env, &n, cap, "JWT_SECRET=integration-test-secret-0123456789abcdef");
    put_env(env, &n, cap, "CORS_ORIGINS=http://allowed.example");
    put_env(env, &n, cap, "LOG_LEVEL=info");
    put_env(env, &n, cap, "SHUTDOWN_GRACE=5");
    /* Every test client is 127.0.0.1: suites that race many clients would
     * meet the per-address limit. test_hostile keeps the default. */
    put_env(env, &n, cap, "PER_IP_CONNECTION_LIMIT=100000");
    for (size_t i = 0; extra && extra[i]; i++)
        put_env(env, &n, cap, "%s", extra[i]);
    env[n] = NULL;
    return env;
}

void harness_free_env(char **env) {
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

static void set_log_path(struct nexus_server *s) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/test-logs", NEXUS_BUILD_DIR);
    mkdir(dir, 0755);
    snprintf(s->log_path, sizeof s->log_path, "%s/%s.log", dir, s->name);
}

/* Run `nexus VERB` as s's process, with s's environment plus extra. */
static void spawn_verb(struct nexus_server *s, const char *verb, const char *const *extra) {
    char **env = harness_env(s, extra);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        /* NEXUS_TEST_WRAPPER runs the server under a tool ("valgrind ..."). */
        const char *wrapper = getenv("NEXUS_TEST_WRAPPER");
        if (wrapper && *wrapper) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "exec %s '%s' %s", wrapper, NEXUS_BIN, verb);
            char *const sh[] = {(char *)"/bin/sh", (char *)"-c", cmd, NULL};
            execve("/bin/sh", sh, env);
        } else {
            char *const argv[] = {(char *)NEXUS_BIN, (char *)verb, NULL};
            execve(NEXUS_BIN, argv, env);
        }
        _exit(127);
    }
    harness_free_env(env);
}

static void spawn(struct nexus_server *s, const char *const *extra) {
    spawn_verb(s, "serve", extra);
}

void harness_start_worker(const struct nexus_server *s, struct nexus_server *w, const char *name,
                          const char *const *extra_env) {
    *w = *s;
    w->own_db = false;
    snprintf(w->name, sizeof w->name, "%s", name);
    set_log_path(w);
    /* The server's Redis prefix (extra_env may still name another): the
     * catalog writes of its jobs invalidate what the server cached. */
    char prefix[sizeof s->name + 32];
    snprintf(prefix, sizeof prefix, "REDIS_PREFIX=test_%s", s->name);
    const char *env[40] = {prefix};
    size_t n = 1;
    for (size_t i = 0; extra_env && extra_env[i] && n + 1 < sizeof env / sizeof env[0]; i++)
        env[n++] = extra_env[i];
    spawn_verb(w, "worker", env);
}

static void print_log_tail(const struct nexus_server *s) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", s->log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no server log at %s)\n", s->log_path);
}

/* Whether s's log, from offset on, has a line containing needle. */
static bool log_has(const struct nexus_server *s, long offset, const char *needle) {
    FILE *f = fopen(s->log_path, "r");
    char line[1024];
    bool found = false;
    if (f && fseek(f, offset, SEEK_SET) == 0)
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

static long log_size(const struct nexus_server *s) {
    struct stat st;
    return stat(s->log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* Wait for /healthz; false when the server exited because another process
 * took its port in the meantime (the caller starts it again elsewhere). */
static bool wait_until_up(struct nexus_server *s, long log_offset) {
    char listening[64];
    snprintf(listening, sizeof listening, ", port %d with ", s->port);
    for (int i = 0; i < 1200; i++) { /* 120 s: sanitized or valgrind runs start slowly */
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            if (log_has(s, log_offset, "cannot listen on "))
                return false;
            fprintf(stderr, "nexus exited during start-up (status %d)\n", status);
            print_log_tail(s);
            fail();
        }
        /* Its own start-up line first: another server that holds the
         * port (this one then exits) would answer /healthz too. */
        if (log_has(s, log_offset, listening) && harness_wait_status("/healthz", 200, 0))
            return true;
        sleep_ms(100);
    }
    print_log_tail(s);
    fail_msg("nexus did not answer /healthz within 120 s");
    return false;
}

void harness_start_url(struct nexus_server *s, const char *name, const char *database_url,
                       const char *const *extra_env) {
    if (!s->own_db) {
        memset(s, 0, sizeof *s);
        snprintf(s->database_url, sizeof s->database_url, "%s", database_url);
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    pick_redis(s);
    set_log_path(s);
    for (int attempt = 0;; attempt++) {
        s->port = free_port();
        current_port = s->port;
        long offset = log_size(s);
        spawn(s, extra_env);
        if (wait_until_up(s, offset))
            return;
        fprintf(stderr, "port %d was taken before nexus could listen on it; another port\n",
                s->port);
        assert_true(attempt < 5);
    }
}

void harness_create_db(struct nexus_server *s, const char *name) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    recreate_database(s, "template0");
}

static void child_io(int in_fd, int out_fd) {
    dup2(in_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    close(in_fd);
    close(out_fd);
}

/* harness_run, killing the child if its output has not ended within
 * timeout_ms (0: no limit). */
static int run_within(const struct nexus_server *s, const char *const *extra_env,
                      const char *const *args, const char *stdin_text, char *out, size_t cap,
                      int timeout_ms) {
    int in[2], outp[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(outp), 0);
    char **env = harness_env(s, extra_env);
    char *argv[16] = {(char *)NEXUS_BIN};
    for (size_t i = 0; args[i] && i < 14; i++)
        argv[i + 1] = (char *)args[i];
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(in[1]);
        close(outp[0]);
        child_io(in[0], outp[1]);
        execve(NEXUS_BIN, argv, env);
        _exit(127);
    }
    harness_free_env(env);
    close(in[0]);
    close(outp[1]);
    if (stdin_text && write(in[1], stdin_text, strlen(stdin_text)) < 0)
        fprintf(stderr, "harness_run: cannot write stdin\n");
    close(in[1]);
    size_t got = 0;
    ssize_t n = 1;
    long long deadline = now_ms() + timeout_ms;
    struct pollfd p = {outp[0], POLLIN, 0};
    char rest[4096]; /* output past cap is read and dropped: a child
                      * writing to a closed pipe would die of SIGPIPE */
    while (n > 0) {
        int wait_ms = timeout_ms ? (int)(deadline - now_ms()) : -1;
        if (timeout_ms && (wait_ms <= 0 || poll(&p, 1, wait_ms) == 0)) {
            kill(pid, SIGKILL);
            break;
        }
        if (got + 1 >= cap)
            n = read(outp[0], rest, sizeof rest);
        else if ((n = read(outp[0], out + got, cap - 1 - got)) > 0)
            got += (size_t)n;
    }
    out[got] = '\0';
    close(outp[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int harness_run(const struct nexus_server *s, const char *const *extra_env, const char *const *args,
                const char *stdin_text, char *out, size_t cap) {
    return run_within(s, extra_env, args, stdin_text, out, cap, 0);
}

int harness_run_within(const struct nexus_server *s, const char *const *extra_env,
                       const char *const *args, char *out, size_t cap, int timeout_ms) {
    return run_within(s, extra_env, args, NULL, out, cap, timeout_ms);
}

void harness_start(struct nexus_server *s, const char *name, const char *const *extra_env) {
    char template[64];
    migrated_template(template, sizeof template);
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    recreate_database(s, template);
    harness_start_url(s, name, s->database_url, extra_env);
}

/* A server that exited badly (a sanitizer report, a crash) fails the test
 * program even when it was stopped in a group teardown, whose failure
 * cmocka reports but does not count in its result. */
static bool a_server_failed;

static void sql_forget(const char *url);

static void fail_program_if_a_server_failed(void) {
    if (a_server_failed) {
        fprintf(stderr, "a nexus server exited with a failure status: see above\n");
        _exit(1);
    }
}

void harness_stop(struct nexus_server *s) {
    static bool registered;
    if (!registered)
        registered = atexit(fail_program_if_a_server_failed) == 0;
    int status = 0;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        pid_t got = 0;
        for (int i = 0; i < 1200 && got == 0; i++) {
            got = waitpid(s->pid, &status, WNOHANG);
            if (got == 0)
                sleep_ms(100);
        }
        if (got == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            fprintf(stderr, "nexus did not stop within 120 s of SIGTERM\n");
            status = -1;
        }
        s->pid = 0;
    }
    if (status != 0) {
        print_log_tail(s);
        fprintf(stderr, "nexus exit status %d (log: %s)\n", status, s->log_path);
        a_server_failed = true;
    }
    if (s->own_db) {
        sql_forget(s->database_url);
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", s->dbname);
        admin_exec(sql);
        s->own_db = false;
    }
    assert_int_equal(status, 0);
}

/* harness_sql's connections, one per database URL, kept open between
 * calls: a new PostgreSQL session per statement (a backend started,
 * authenticated and its caches warmed) cost more than most statements.
 * A child process (harness_race) must not touch its parent's sessions: it
 * forgets them and opens its own. */
#define SQL_CONNS 4
static struct {
    PGconn *conn;
    char url[1024];
} sql_conns[SQL_CONNS];
static pid_t sql_conns_pid;
static unsigned sql_conns_next;

static void sql_conns_for_this_process(void) {
    if (sql_conns_pid == getpid())
        return;
    memset(sql_conns, 0, sizeof sql_conns); /* the parent's: not ours to close */
    sql_conns_pid = getpid();
}

/* Close the kept session to url, if any (before its database is dropped). */
static void sql_forget(const char *url) {
    sql_conns_for_this_process();
    for (size_t i = 0; i < SQL_CONNS; i++)
        if (sql_conns[i].conn && strcmp(sql_conns[i].url, url) == 0) {
            PQfinish(sql_conns[i].conn);
            sql_conns[i].conn = NULL;
        }
}

/* A session to url, kept or new (replacing the oldest kept); NULL, with
 * the error printed, when PostgreSQL cannot be reached. */
static PGconn *sql_session(const char *url) {
    sql_conns_for_this_process();
    for (size_t i = 0; i < SQL_CONNS; i++)
        if (sql_conns[i].conn && strcmp(sql_conns[i].url, url) == 0) {
            if (PQstatus(sql_conns[i].conn) == CONNECTION_OK)
                return sql_conns[i].conn;
            sql_forget(url);
            break;
        }
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness_sql: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    size_t slot = sql_conns_next++ % SQL_CONNS;
    if (sql_conns[slot].conn)
        PQfinish(sql_conns[slot].conn);
    sql_conns[slot].conn = c;
    snprintf(sql_conns[slot].url, sizeof sql_conns[slot].url, "%s", url);
    return c;
}

/* The first column of r's rows joined by ',' (owned). */
static char *first_column(const PGresult *r) {
    size_t cap = 1;
    for (int i = 0; i < PQntuples(r); i++)
        cap += strlen(PQgetvalue(r, i, 0)) + 1;
    char *out = calloc(1, cap);
    size_t used = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        size_t n = strlen(PQgetvalue(r, i, 0));
        if (i)
            out[used++] = ',';
        memcpy(out + used, PQgetvalue(r, i, 0), n);
        used += n;
    }
    return out;
}

char *harness_sql(const struct nexus_server *s, const char *sql) {
    /* A kept session PostgreSQL closed since (a restart, a dropped
     * database) fails before the statement is sent: once more on a new one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = sql_session(s->database_url);
        if (!c)
            return NULL;
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        char *out = NULL;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            out = first_column(r);
        bool lost = !out && PQstatus(c) != CONNECTION_OK;
        if (!out && (!lost || attempt > 0))
            fprintf(stderr, "harness_sql: %s", PQerrorMessage(c));
        PQclear(r);
        /* A transaction left open ends with its session, as it did when
         * every call had a session of its own. */
        if (lost || PQtransactionStatus(c) != PQTRANS_IDLE)
            sql_forget(s->database_url);
        if (!lost)
            return out;
    }
    return NULL;
}

/* harness_sql of a printf-style query; fails the test on an error. */
static char *sql_value_v(const struct nexus_server *s, const char *fmt, va_list ap) {
    char q[4096];
    vsnprintf(q, sizeof q, fmt, ap);
    char *out = harness_sql(s, q);
    if (!out)
        fprintf(stderr, "SQL failed: %s\n", q);
    assert_non_null(out);
    return out;
}

char *harness_sql_value(const struct nexus_server *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *out = sql_value_v(s, fmt, ap);
    va_end(ap);
    return out;
}

void harness_expect_sql(const struct nexus_server *s, const char *want, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *got = sql_value_v(s, fmt, ap);
    va_end(ap);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s: got '%s', want '%s'\n", fmt, got, want);
    assert_string_equal(got, want);
    free(got);
}

void harness_wait_sql(const struct nexus_server *s, const char *want, const char *sql) {
    char *got = NULL;
    /* 60 s: a bound on a hang */
    for (int i = 0; i < 1200 && !(got && strcmp(got, want) == 0); i++) {
        if (got) {
            struct timespec pause = {0, 50 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        free(got);
        got = harness_sql_value(s, "%s", sql);
    }
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s: still '%s', want '%s'\n", sql, got, want);
    assert_string_equal(got, want);
    free(got);
}

void harness_create_user(const struct nexus_server *s, const char *email, const char *role,
                         const char *password) {
    char out[1024], input[256];
    snprintf(input, sizeof input, "%s\n", password);
    const char *args[] = {"user", "create", "--email", email, "--role", role, NULL};
    int rc = harness_run(s, NULL, args, input, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "user create %s: %d %s\n", email, rc, out);
    assert_int_equal(rc, 0);
}

char *json_body(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *j = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!j)
        fprintf(stderr, "json_pack: %s\n", err.text);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(text);
    return text;
}

/* Statuses a racing child can report through its exit code. */
static const long RACE_STATUSES[] = {200, 201, 204, 304, 400, 401, 403,
                                     404, 409, 412, 422, 429, 500, 503};
#define RACE_KNOWN (sizeof RACE_STATUSES / sizeof RACE_STATUSES[0])

void harness_race(int n, long (*fn)(int i, void *ctx), void *ctx, long *statuses) {
    int gate[2];
    pid_t kids[32];
    assert_true(n <= 32);
    assert_int_equal(pipe(gate), 0);
    for (int i = 0; i < n; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            char c;
            close(gate[1]);
            if (read(gate[0], &c, 1) < 0)
                _exit(100);
            long status = fn(i, ctx);
            for (size_t k = 0; k < RACE_KNOWN; k++)
                if (RACE_STATUSES[k] == status)
                    _exit((int)k);
            fprintf(stderr, "racing request %d gave %ld\n", i, status);
            _exit(99);
        }
    }
    close(gate[0]);
    close(gate[1]); /* open the gate: every child's read returns */
    for (int i = 0; i < n; i++) {
        int st = 0;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 98;
        statuses[i] = code < (int)RACE_KNOWN ? RACE_STATUSES[code] : -code;
    }
}

bool harness_pg_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok;
}

bool harness_pg_wait_nonzero(PGconn *c, const char *sql) {
    for (int i = 0; i < 3000; i++) {
        PGresult *r = PQexec(c, sql);
        bool seen = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0;
        PQclear(r);
        if (seen)
            return true;
        usleep(10 * 1000);
    }
    fprintf(stderr, "gave up waiting for: %s\n", sql);
    return false;
}

int harness_count_status(const long *statuses, int n, long want) {
    int c = 0;
    for (int i = 0; i < n; i++)
        c += statuses[i] == want;
    return c;
}

/* Whether name matches one of the comma-separated patterns in
 * NEXUS_TEST_SKIP. */
static bool skipped(const char *name) {
    const char *list = getenv("NEXUS_TEST_SKIP");
    char pattern[256];
    while (list && *list) {
        size_t len = strcspn(list, ",");
        snprintf(pattern, sizeof pattern, "%.*s", (int)len, list);
        if (len && fnmatch(pattern, name, 0) == 0)
            return true;
        list += len + (list[len] == ',');
    }
    return false;
}

int harness_run_group(const char *group, const struct CMUnitTest *tests, size_t n,
                      CMFixtureFunction setup, CMFixtureFunction teardown) {
    struct CMUnitTest *chosen = calloc(n ? n : 1, sizeof *chosen);
    assert_non_null(chosen);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!skipped(tests[i].name))
            chosen[kept++] = tests[i];
    int failed = _cmocka_run_group_tests(group, chosen, kept, setup, teardown);
    free(chosen);
    return failed;
}

int harness_log_count(const struct nexus_server *s, const char *a, const char *b) {
    FILE *f = fopen(s->log_path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, a) != NULL && strstr(line, b) != NULL;
    if (f)
        fclose(f);
    return n;
}

const char *harness_access_line(const struct nexus_server *s, const char *request_id, char *line,
                                size_t cap) {
    char needle[256];
    snprintf(needle, sizeof needle, "\"request_id\":\"%s\"", request_id);
    for (int tries = 0; tries < 500; tries++) {
        FILE *f = fopen(s->log_path, "r");
        bool found = false;
        while (f && !found && fgets(line, (int)cap, f))
            found = strstr(line, needle) && strstr(line, "\"event\":\"request\"");
        if (f)
            fclose(f);
        if (found)
            return line;
        usleep(20000);
    }
    return "";
}
