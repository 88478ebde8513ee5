/*
 * fuzz_http.c -- raw bytes from a hostile client against the whole server.
 *
 * The real server runs inside this process. LLVMFuzzerInitialize prepares
 * it the way `nexus serve` does (configuration, migrations, password
 * hashing, token and cursor keys) and runs server_run on a thread of its
 * own, on a free loopback port. Each input is sent over a fresh TCP
 * connection; what comes back is read until the server's threads are all
 * idle again (so the input's whole effect, pipelined requests included,
 * falls within its run), at most ANSWER_MS, and the connection is reset.
 *
 * Why in-process rather than a fork/exec of the nexus binary: the
 * server's own code is then coverage-instrumented for libFuzzer, so the
 * mutations are guided by what the request pipeline does, and a sanitizer
 * report in any server thread stops the run with the input that caused it.
 * No change to src/ is needed: server_run waits in sigwait on its thread,
 * and pthread_kill(SIGTERM) to that thread stops it (atexit).
 *
 * With NEXUS_TEST_DATABASE_URL set, the server gets a throwaway database
 * (nx_fuzz_<pid>, dropped at exit; leftovers of dead runs are dropped at
 * start) and an admin account; "@TOKEN@" and "@REFRESH@" in an input are
 * replaced by that admin's current access and refresh tokens, so inputs
 * reach the staff and admin routes. Without it the server has no database
 * (those routes answer 503) and no Redis.
 *
 * Findings, besides sanitizer reports: a 500 among the answers (the server's "bug or
 * unexpected failure"; NEXUS_FUZZ_HTTP_ALLOW_500=1 allows it), a server
 * that stops listening, and a server that stops answering /healthz
 * (checked every PROBE_EVERY inputs).
 */
#include "../common/free_port.h"
#include "nexus/auth/password.h"
#include "nexus/cache/cache.h"
#include "nexus/core/config.h"
#include "nexus/core/cursor.h"
#include "nexus/core/log.h"
#include "nexus/db/db.h"
#include "nexus/db/migrate.h"
#include "nexus/http/auth.h"
#include "nexus/http/offload.h"
#include "nexus/http/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROBE_EVERY 128
#define ANSWER_MS   3000 /* longest wait for an answer (libFuzzer's -timeout is 5 s) */
/* Before fuzzing starts, answers may take much longer: the admin's
 * register and login hash a password, which takes seconds on a machine
 * whose cores are busy, and no libFuzzer timeout runs yet. */
#define SETUP_ANSWER_MS 60000
#define IDLE_MS         20
#define ADMIN_EMAIL     "fuzz-admin@example.com"
#define ADMIN_PASS      "fuzz-admin-password-1"
#define RESPONSE_CAP    (1u << 20)
#define FUZZ_MAX_SIZE   65536

static struct config config;
static pthread_t server_thread;
static bool server_started;
static int port;
static char dbname[64];
static char database_url[1024];
static bool have_db;
static char token[NX_TOKEN_MAX + 1];
static char refresh[128];
static unsigned long inputs;
static char *response; /* RESPONSE_CAP bytes */

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_http: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the client --------------------------------------------------------- */

static int connect_errno;                     /* of the last failed connect */
static long long answer_ms = SETUP_ANSWER_MS; /* ANSWER_MS once fuzzing starts */

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval tv = {(time_t)(answer_ms / 1000), 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        connect_errno = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* A refused or reset connect can be a moment's backlog overflow after a
 * burst of resets; a server that stopped accepting refuses every retry. A
 * timed-out connect is not retried (libFuzzer's own timeout is near). */
static int connect_retrying(void) {
    int fd = connect_server();
    for (int retry = 0; fd < 0 && retry < 3 && connect_errno != EINPROGRESS &&
                        connect_errno != EAGAIN && connect_errno != ETIMEDOUT;
         retry++) {
        usleep(50 * 1000);
        fd = connect_server();
    }
    return fd;
}

/* ---- knowing when the server is done with an input ---------------------- */

/* The server's threads (server_run's and libmicrohttpd's), found at start
 * as the threads that appeared while it started. An input is finished
 * when all of them sleep waiting for events: no request is being parsed
 * or handled, whatever the input left unfinished (a request without its
 * body waits for the connection timeout, which no one needs to see). */
#define MAX_THREADS 256
static pid_t server_tids[MAX_THREADS];
static size_t server_tid_count;

static size_t list_threads(pid_t *out, size_t cap) {
    DIR *d = opendir("/proc/self/task");
    size_t n = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) && n < cap)
        if (e->d_name[0] != '.')
            out[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

static bool read_small(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n > 0;
}

/* A thread asleep in epoll or sigwait has nothing in progress. */
static bool thread_waits(pid_t tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (!read_small(path, buf, sizeof buf))
        return true; /* gone */
    const char *paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ' || paren[2] != 'S')
        return false;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (!read_small(path, buf, sizeof buf))
        return true;
    char *end;
    long nr = strtol(buf, &end, 10);
    if (end == buf)
        return false; /* "running" */
#ifdef SYS_epoll_wait
    if (nr == SYS_epoll_wait)
        return true;
#endif
    return nr == SYS_epoll_pwait || nr == SYS_rt_sigtimedwait;
}

static bool server_idle(void) {
    if (offload_tickets_out() > 0)
        return false; /* a password hash waits or runs, its connection suspended */
    for (size_t i = 0; i < server_tid_count; i++)
        if (!thread_waits(server_tids[i]))
            return false;
    return true;
}

/* The server's housekeeping thread wakes on a timer, not for requests:
 * it is never part of an input's work. Nor is the thread that resumes the
 * connections of held write answers (http/fence): it sleeps on a
 * condition, never in epoll, and a held answer is sent by a server thread,
 * which the watch sees. Nor the thread that drains the sockets of refused
 * bodies (http/linger): it sleeps in poll, and works only after the
 * answer is sent. Nor the lanes that hash passwords (http/offload): they
 * sleep on a condition, and the tickets they hold are counted instead. */
static bool is_housekeeping(pid_t tid) {
    char path[64], name[32];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    return read_small(path, name, sizeof name) &&
           (strncmp(name, "nx-housekeeping", 15) == 0 || strncmp(name, "nx-fence", 8) == 0 ||
            strncmp(name, "nx-linger", 9) == 0 || strncmp(name, "nx-lane-", 8) == 0);
}

static void find_server_threads(const pid_t *before, size_t nbefore) {
    pid_t now[MAX_THREADS];
    size_t n = list_threads(now, MAX_THREADS);
    server_tid_count = 0;
    for (size_t i = 0; i < n; i++) {
        bool old = false;
        for (size_t j = 0; j < nbefore && !old; j++)
            old = now[i] == before[j];
        if (!old && !is_housekeeping(now[i]))
            server_tids[server_tid_count++] = now[i];
    }
}

/* With nothing sent, the server must be seen idle: a thread that sleeps
 * elsewhere than in epoll (a new kind of helper thread) would make every
 * input wait its whole answer_ms, and the target run a few inputs a
 * minute. Such a thread is named, to be counted out above. */
static void expect_idle(void) {
    for (int i = 0, quiet = 0; i < SETUP_ANSWER_MS; i++) {
        quiet = server_idle() ? quiet + 1 : 0;
        if (quiet >= 2)
            return;
        sleep_ms(1);
    }
    for (size_t i = 0; i < server_tid_count; i++) {
        char path[64], name[32] = "?";
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)server_tids[i]);
        if (!thread_waits(server_tids[i]) && read_small(path, name, sizeof name))
            fprintf(stderr, "fuzz_http: thread %d (%s) is never idle\n", (int)server_tids[i],
                    strtok(name, "\n"));
    }
    die("%s", "the server never looks idle: see is_housekeeping");
}

/* Send bytes and read what comes back until the server is idle (or, when
 * its threads cannot be watched, until nothing came for IDLE_MS), at most
 * answer_ms. The connection is then reset, so the server drops it at
 * once. Returns the bytes read into response (NUL-terminated), or -1 when
 * the connection was refused. */
static long exchange(const char *bytes, size_t len) {
    int fd = connect_retrying();
    if (fd < 0)
        return -1;
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before taking it all */
        sent += (size_t)n;
    }
    size_t got = 0;
    int quiet = 0;
    long long start = now_ms(), last = start;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1) > 0) {
            char sink[4096];
            bool keep = got + 1 < RESPONSE_CAP;
            ssize_t n = recv(fd, keep ? response + got : sink,
                             keep ? RESPONSE_CAP - 1 - got : sizeof sink, 0);
            if (n <= 0)
                break; /* closed by the server */
            if (keep)
                got += (size_t)n;
            quiet = 0;
            last = now_ms();
            continue;
        }
        long long t = now_ms();
        if (t - start > answer_ms)
            break;
        if (server_tid_count) {
            quiet = server_idle() ? quiet + 1 : 0; /* twice in a row: not a wake-up race */
            if (quiet >= 2)
                break;
        } else if (t - last > IDLE_MS) {
            break;
        }
    }
    response[got] = '\0';
    struct linger reset = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
    return (long)got;
}

/* The end of the head of the answer at response[at] (after its blank
 * line), or 0 when it is not all in response[..len). */
static size_t head_end(size_t at, size_t len) {
    for (size_t i = at; i + 4 <= len; i++)
        if (memcmp(response + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

/* The value of header name in the head response[at..end) (NULL: none). */
static const char *header_in(size_t at, size_t end, const char *name) {
    size_t n = strlen(name);
    for (size_t i = at; i + n < end; i++)
        if (response[i] == '\n' && strncasecmp(response + i + 1, name, n) == 0 &&
            response[i + 1 + n] == ':')
            return response + i + 2 + n;
    return NULL;
}

/* The end of the line at response[at] (after its CRLF), or 0 when it is
 * not all in response[..len). */
static size_t line_end(size_t at, size_t len) {
    for (size_t i = at; i + 2 <= len; i++)
        if (response[i] == '\r' && response[i + 1] == '\n')
            return i + 2;
    return 0;
}

/* The end of the chunked body from response[at], or 0 when it is not all
 * in response[..len). */
static size_t chunks_end(size_t at, size_t len) {
    while (at < len) {
        size_t next = line_end(at, len);
        char *after;
        unsigned long size = strtoul(response + at, &after, 16);
        if (!next || after == response + at || size > len)
            return 0;
        at = next + size + 2;
        if (size == 0)
            return at <= len ? at : 0;
    }
    return 0;
}

/* Whether any answer in response[..len) is a 500: each answer is framed by
 * its Content-Length or its chunks, and the walk ends at one framed by the
 * connection's close, or at bytes that are no answer (a HEAD's answer has
 * no body its length would frame: what follows it then reads as no answer,
 * a miss and never a false alarm). */
static bool any_answer_is_500(size_t len) {
    for (size_t at = 0; at + 12 <= len && memcmp(response + at, "HTTP/1.", 7) == 0;) {
        if (strncmp(response + at + 9, "500", 3) == 0)
            return true;
        size_t end = head_end(at, len);
        if (!end)
            return false;
        const char *length = header_in(at, end, "Content-Length");
        const char *coding = header_in(at, end, "Transfer-Encoding");
        unsigned long size = length ? strtoul(length, NULL, 10) : 0;
        if (size > len)
            return false;
        if (length)
            at = end + size;
        else if (coding && strncasecmp(coding + strspn(coding, " "), "chunked", 7) == 0)
            at = chunks_end(end, len);
        else if (response[at + 9] == '1' || strncmp(response + at + 9, "304", 3) == 0 ||
                 strncmp(response + at + 9, "204", 3) == 0)
            at = end;
        else
            return false;
        if (!at)
            return false;
    }
    return false;
}

/* Status of the first answer in response, 0 when there is none. */
static int first_status(void) {
    if (strncmp(response, "HTTP/1.", 7) != 0 || strlen(response) < 12)
        return 0;
    return atoi(response + 9);
}

/* The JSON body of the first answer in response, or NULL. */
static json_t *first_json(void) {
    const char *body = strstr(response, "\r\n\r\n");
    return body ? json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static int request(const char *method, const char *path, const char *auth, const char *json) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, auth ? "Authorization: Bearer " : "", auth ? auth : "",
                     auth ? "\r\n" : "", json ? strlen(json) : 0, json ? json : "");
    if (n < 0 || (size_t)n >= sizeof buf)
        die("request too long: %s", path);
    if (exchange(buf, (size_t)n) < 0)
        die("the server refused a connection (%s)", path);
    return first_status();
}

/* ---- the throwaway database --------------------------------------------- */

static PGresult *admin_sql(const char *conninfo, const char *sql) {
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to PostgreSQL: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die("SQL failed: %s", PQerrorMessage(c));
    PQfinish(c);
    return r;
}

/* Drop nx_fuzz_<pid> databases whose process is gone (a crashed run
 * exits without its atexit handlers). */
static void drop_stale_databases(const char *admin) {
    PGresult *r = admin_sql(admin, "SELECT datname FROM pg_database "
                                   "WHERE datname ~ '^nx_fuzz_[0-9]+$'");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        long pid = strtol(name + strlen("nx_fuzz_"), NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char sql[160];
            snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
            PQclear(admin_sql(admin, sql));
        }
    }
    PQclear(r);
}

static void create_database(void) {
    const char *admin = getenv("NEXUS_TEST_DATABASE_URL");
    if (!admin) {
        /* no database: data routes answer 503, which is still worth fuzzing */
        snprintf(database_url, sizeof database_url,
                 "host=/nonexistent-nexus-fuzz dbname=none connect_timeout=1");
        return;
    }
    char sql[160];
    drop_stale_databases(admin);
    snprintf(dbname, sizeof dbname, "nx_fuzz_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", dbname);
    PQclear(admin_sql(admin, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE template0", dbname);
    PQclear(admin_sql(admin, sql));
    snprintf(database_url, sizeof database_url, "%s dbname=%s", admin, dbname);
    have_db = true;
}

static void drop_database(void) {
    const char *admin = getenv("NEXUS_TEST_DATABASE_URL");
    if (!have_db || !admin)
        return;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", dbname);
    PGconn *c = PQconnectdb(admin);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    have_db = false;
}

static void migrate(void) {
    if (!have_db)
        return;
    struct db *db = db_open(config.database_url);
    int pending = 0;
    if (!db || migrate_run(db, true, &pending) != NX_OK || pending)
        die("%s", "cannot migrate the fuzz database");
    db_close(db);
}

/* ---- the admin session -------------------------------------------------- */

/* Make sure the admin account exists, is active and is an admin (inputs
 * may have changed it), and log it in again. */
static void admin_login(void) {
    if (!have_db)
        return;
    request("POST", "/api/v1/auth/register", NULL,
            "{\"email\":\"" ADMIN_EMAIL "\",\"password\":\"" ADMIN_PASS
            "\",\"name\":\"Fuzz Admin\"}");
    PQclear(admin_sql(database_url, "UPDATE users SET role = 'admin', is_active = true "
                                    "WHERE lower(email) = '" ADMIN_EMAIL "'"));
    int status = request("POST", "/api/v1/auth/login", NULL,
                         "{\"email\":\"" ADMIN_EMAIL "\",\"password\":\"" ADMIN_PASS "\"}");
    json_t *body = first_json();
    const char *access = json_string_value(json_object_get(body, "access_token"));
    const char *renew = json_string_value(json_object_get(body, "refresh_token"));
    if (status != 200 || !access || !renew || strlen(access) > NX_TOKEN_MAX ||
        strlen(renew) >= sizeof refresh)
        die("admin login failed: %s", response);
    memcpy(token, access, strlen(access) + 1);
    memcpy(refresh, renew, strlen(renew) + 1);
    json_decref(body);
}

/* ---- the server ----------------------------------------------------------- */

static int free_port(void) {
    int found = test_free_port();
    if (found < 0)
        die("%s", "cannot find a free port");
    return found;
}

static char port_text[16];

/* The configuration: fixed values, not the caller's environment. */
static const char *setting(const char *name, void *ud) {
    (void)ud;
    static const char *const fixed[][2] = {
        {"THREADS", "2"},
        {"JWT_SECRET", "fuzz-http-secret-0123456789abcdef-01234567"},
        {"AUTO_MIGRATE", "1"},
        {"CONNECTION_TIMEOUT", "5"},
        {"SHUTDOWN_GRACE", "1"},
        {"HASH_CONCURRENCY", "2"},
        {"DB_STATEMENT_TIMEOUT_MS", "2000"},
        {"LOGIN_MAX_FAILURES_PER_CLIENT", "1000000"},
        {"LOGIN_MAX_FAILURES_PER_EMAIL", "100000"},
        {"CORS_ORIGINS", "http://allowed.example"},
    };
    if (strcmp(name, "PORT") == 0)
        return port_text;
    if (strcmp(name, "DATABASE_URL") == 0)
        return database_url;
    if (strcmp(name, "LOG_LEVEL") == 0)
        return getenv("NEXUS_FUZZ_LOG_LEVEL") ? getenv("NEXUS_FUZZ_LOG_LEVEL") : "error";
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(name, fixed[i][0]) == 0)
            return fixed[i][1];
    return NULL;
}

static void *serve(void *arg) {
    (void)arg;
    int rc = server_run(&config);
    if (rc != 0)
        die("%s", "server_run failed");
    return NULL;
}

static void stop_server(void) {
    if (server_started) {
        pthread_kill(server_thread, SIGTERM); /* server_run waits for it in sigwait */
        pthread_join(server_thread, NULL);
        server_started = false;
    }
    password_shutdown();
    drop_database();
    config_clear(&config);
    curl_global_cleanup();
    free(response);
    response = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[256];
    /* As main does; this also sets OpenSSL up on this thread rather than
     * on a server thread that exits before the process does. */
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die("%s", "library initialisation failed");
    response = malloc(RESPONSE_CAP);
    if (!response)
        die("%s", "out of memory");
    port = free_port();
    snprintf(port_text, sizeof port_text, "%d", port);
    create_database();
    if (!config_load(&config, setting, NULL, err, sizeof err))
        die("configuration: %s", err);
    nx_config = &config;
    log_set_level(config.log_level);
    db_set_statement_timeout(config.db_statement_timeout_ms);
    if (!cache_init(NULL, config.redis_timeout_ms))
        die("%s", "cache_init failed");
    migrate();
    if (!password_init(config.hash_concurrency))
        die("%s", "password_init failed");
    auth_init(&config);
    cursor_init((const unsigned char *)config.jwt_secret, config.jwt_secret_len);
    atexit(stop_server);
    pid_t before[MAX_THREADS];
    size_t nbefore = list_threads(before, MAX_THREADS);
    if (pthread_create(&server_thread, NULL, serve, NULL) != 0)
        die("%s", "cannot start the server thread");
    server_started = true;
    static const char healthz[] = "GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n";
    for (int i = 0;; i++) {
        if (exchange(healthz, sizeof healthz - 1) > 0 && first_status() == 200)
            break;
        if (i == 300)
            die("%s", "the server did not answer /healthz within 30 s");
        sleep_ms(100);
    }
    find_server_threads(before, nbefore);
    admin_login();
    expect_idle();
    answer_ms = ANSWER_MS;
    fprintf(stderr, "fuzz_http: server on port %d (%zu threads watched), %s\n", port,
            server_tid_count, have_db ? database_url : "no database");
    return 0;
}

/* ---- one input ------------------------------------------------------------ */

/* Copy the input with @TOKEN@ and @REFRESH@ replaced; owned by the caller. */
static char *substitute(const uint8_t *data, size_t size, size_t *len) {
    static const char *const marks[] = {"@TOKEN@", "@REFRESH@"};
    const char *values[] = {token, refresh};
    size_t cap = size + 1;
    for (size_t i = 0; i + 7 <= size; i++)
        if (data[i] == '@')
            cap += NX_TOKEN_MAX;
    char *out = malloc(cap);
    size_t n = 0;
    if (!out)
        die("%s", "out of memory");
    for (size_t i = 0; i < size;) {
        size_t k = 0;
        for (; k < 2; k++) {
            size_t mlen = strlen(marks[k]);
            if (have_db && size - i >= mlen && memcmp(data + i, marks[k], mlen) == 0)
                break;
        }
        if (k < 2) {
            memcpy(out + n, values[k], strlen(values[k]));
            n += strlen(values[k]);
            i += strlen(marks[k]);
        } else {
            out[n++] = (char)data[i++];
        }
    }
    *len = n;
    return out;
}

/* Every PROBE_EVERY inputs: the server still answers, and the admin
 * session still works (an input may have logged it out or demoted it). */
static void probe(void) {
    if (request("GET", "/healthz", NULL, NULL) != 200)
        die("the server no longer answers /healthz: %s", response);
    if (have_db && request("GET", "/api/v1/users/me", token, NULL) != 200)
        admin_login();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > FUZZ_MAX_SIZE)
        return 0;
    size_t len;
    char *bytes = substitute(data, size, &len);
    long got = exchange(bytes, len);
    free(bytes);
    if (got < 0)
        die("the server stopped accepting connections: %s", strerror(connect_errno));
    if (any_answer_is_500((size_t)got) && !getenv("NEXUS_FUZZ_HTTP_ALLOW_500"))
        die("the server answered 500:\n%s", response);
    if (++inputs % PROBE_EVERY == 0)
        probe();
    return 0;
}
