/*
 * test_jobs.c -- the background job queue end to end: jobs enqueued with
 * the change that causes them, run by `nexus worker` processes, delivered
 * through SMTP (a sink in this process), retried with backoff, kept dead
 * after their last attempt, taken back from killed workers, and never lost
 * across a PostgreSQL restart.
 *
 * The test runs its own PostgreSQL cluster (it stops it in one test) and
 * starts its workers itself. Every test begins with an empty jobs table and
 * an empty sink; every worker it starts is stopped by the test's teardown,
 * which requires a clean exit 0 (sanitizer reports make it non-zero).
 */
#include "harness.h"
#include "nexus/core/xmem.h"
#include "smtp_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MAIL_FROM   "shop@nexus.test"
#define MAX_WORKERS 8

static struct nexus_server server;
static struct smtp_sink *sink;
static char dir[] = "/tmp/nexus-jobs.XXXXXX";
static char nexus_bin[PATH_MAX];
static char log_dir[1024];
static char out[65536];

struct worker {
    pid_t pid;
    char log[1100];
};
static struct worker workers[MAX_WORKERS];
static int worker_seq;

/* ---- small helpers ------------------------------------------------------ */

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cluster(const char *verb) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/pg-cluster' %s '%s/pg' '%s/sock' '%s/pg.log' >&2",
             harness_source_dir(), verb, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

/* Run SQL (printf-style); the first column of every row joined by ','. */
__attribute__((format(printf, 1, 2))) static char *sqlf(const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = harness_sql(&server, sql);
    if (!v)
        fprintf(stderr, "SQL failed: %s\n", sql);
    assert_non_null(v);
    return v;
}

/* Like sqlf, but the text is kept in one of a few static buffers (so a
 * failing assertion leaks nothing); valid until four more calls. */
__attribute__((format(printf, 1, 2))) static const char *sqls(const char *fmt, ...) {
    static char ring[4][16384];
    static size_t next;
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = sqlf("%s", sql);
    char *buf = ring[next++ % 4];
    size_t len = strlen(v);
    if (len < sizeof ring[0])
        memcpy(buf, v, len + 1);
    free(v);
    assert_true(len < sizeof ring[0]);
    return buf;
}

__attribute__((format(printf, 1, 2))) static long long sql_ll(const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    const char *v = sqls("%s", sql);
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0')
        fprintf(stderr, "not a number: '%s' from %s\n", v, sql);
    assert_true(*v != '\0' && *end == '\0');
    return n;
}

__attribute__((format(printf, 1, 2))) static double sql_double(const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return strtod(sqls("%s", sql), NULL);
}

/* Poll the SQL until its result is want; false (with the last value
 * printed) after timeout_ms. */
__attribute__((format(printf, 3, 4))) static bool wait_sql(const char *want, int timeout_ms,
                                                           const char *fmt, ...) {
    char sql[4096], last[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *v = harness_sql(&server, sql);
        bool ok = v && strcmp(v, want) == 0;
        snprintf(last, sizeof last, "%s", v ? v : "(error)");
        free(v);
        if (ok)
            return true;
        if (now_ms() > deadline) {
            fprintf(stderr, "waited %d ms for '%s' from %s; last '%s'\n", timeout_ms, want, sql,
                    last);
            return false;
        }
        sleep_ms(10);
    }
}

/* ---- workers ------------------------------------------------------------ */

/* The server's test environment, plus fast queue settings and the sink. */
static char **worker_env(const char *const *extra) {
    char smtp[64], from[128];
    snprintf(smtp, sizeof smtp, "SMTP_URL=smtp://127.0.0.1:%d", smtp_sink_port(sink));
    snprintf(from, sizeof from, "MAIL_FROM=%s", MAIL_FROM);
    const char *settings[48] = {smtp, from, "JOB_BACKOFF_BASE_MS=50", "JOB_BACKOFF_MAX_MS=500",
                                "JOB_POLL_MS=200",
                                /* long: a loaded machine cannot starve a
                                 * worker's heartbeat out of its job; the
                                 * lease tests shorten it */
                                "JOB_LEASE_SECONDS=30", "JOB_MAX_ATTEMPTS=3"};
    size_t n = 7;
    for (size_t i = 0; extra && extra[i] && n + 1 < sizeof settings / sizeof settings[0]; i++)
        settings[n++] = extra[i];
    return harness_env(&server, settings);
}

/* Start `nexus worker` with the worker environment plus extra ("K=V",
 * NULL-terminated, may be NULL); its output goes to a log of its own. */
static pid_t worker_start(const char *const *extra) {
    struct worker *w = NULL;
    for (size_t i = 0; i < MAX_WORKERS && !w; i++)
        if (workers[i].pid == 0)
            w = &workers[i];
    assert_non_null(w);
    snprintf(w->log, sizeof w->log, "%s/jobs-worker-%d.log", log_dir, ++worker_seq);
    char **env = worker_env(extra);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        /* NEXUS_TEST_WRAPPER runs workers under the same tool as the server */
        const char *wrapper = getenv("NEXUS_TEST_WRAPPER");
        if (wrapper && *wrapper) {
            char cmd[PATH_MAX + 1100];
            snprintf(cmd, sizeof cmd, "exec %s '%s' worker", wrapper, nexus_bin);
            char *const sh[] = {(char *)"/bin/sh", (char *)"-c", cmd, NULL};
            execve("/bin/sh", sh, env);
        } else {
            char *const argv[] = {nexus_bin, (char *)"worker", NULL};
            execve(nexus_bin, argv, env);
        }
        _exit(127);
    }
    harness_free_env(env);
    w->pid = pid;
    return pid;
}

static struct worker *worker_of(pid_t pid) {
    for (size_t i = 0; i < MAX_WORKERS; i++)
        if (workers[i].pid == pid)
            return &workers[i];
    return NULL;
}

static void print_worker_log(const struct worker *w) {
    char cmd[1300];
    fprintf(stderr, "---- %s (last lines)\n", w->log);
    snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", w->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

/* Wait up to timeout_ms for pid to exit; true with its wait status if it
 * did. The worker is forgotten once it has exited. */
static bool wait_exit(pid_t pid, int timeout_ms, int *status) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t got = waitpid(pid, status, WNOHANG);
        if (got == pid || (got < 0 && errno == ECHILD)) {
            struct worker *w = worker_of(pid);
            bool clean = WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
            bool killed = WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
            if (w && got == pid && !clean && !killed)
                print_worker_log(w);
            if (w)
                w->pid = 0;
            return true;
        }
        if (now_ms() > deadline)
            return false;
        sleep_ms(5);
    }
}

/* Signal sig to a worker and require exit 0 within timeout_ms. */
static void worker_stop_by(pid_t pid, int sig, int timeout_ms) {
    int status = 0;
    assert_int_equal(kill(pid, sig), 0);
    bool exited = wait_exit(pid, timeout_ms, &status);
    if (!exited) {
        kill(pid, SIGKILL);
        wait_exit(pid, 5000, &status);
        fprintf(stderr, "worker %d did not exit within %d ms of signal %d\n", (int)pid, timeout_ms,
                sig);
    }
    assert_true(exited);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* SIGTERM a worker and require exit 0 within timeout_ms. */
static void worker_stop(pid_t pid, int timeout_ms) {
    worker_stop_by(pid, SIGTERM, timeout_ms);
}

/* Stop every worker still running; non-zero if one did not exit 0 on
 * SIGTERM within 10 s. */
static int stop_all_workers(void) {
    int bad = 0;
    for (size_t i = 0; i < MAX_WORKERS; i++) {
        pid_t pid = workers[i].pid;
        if (pid == 0)
            continue;
        int status = 0;
        kill(pid, SIGTERM);
        if (!wait_exit(pid, 10000, &status)) {
            fprintf(stderr, "worker %d ignored SIGTERM for 10 s\n", (int)pid);
            kill(pid, SIGKILL);
            wait_exit(pid, 5000, &status);
            bad = 1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %d exit status %d on SIGTERM\n", (int)pid, status);
            bad = 1;
        }
        workers[i].pid = 0;
    }
    return bad;
}

/* Wait until n workers are connected and asleep after looking for work
 * (their last statement was the claim and their session is idle). */
static void wait_workers_idle(int n) {
    char want[16];
    snprintf(want, sizeof want, "%d", n);
    assert_true(wait_sql(want, 30000,
                         "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle'"
                         " AND datname = current_database() AND query LIKE 'UPDATE jobs SET state "
                         "= ''running''%%'"));
}

/* ---- API and mail helpers ----------------------------------------------- */

static long long register_user(const char *email, const char *name_json) {
    char body[1024];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"password-123\",\"name\":\"%s\"}",
             email, name_json);
    struct http_res *r = http_expect("POST", "/api/v1/auth/register", NULL, body, 201);
    long long id = (long long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    assert_true(id > 0);
    return id;
}

static long long welcome_job_of(long long user_id) {
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE kind = 'welcome_email'"
                            " AND payload->>'user_id' = '%lld'",
                            user_id),
                     1);
    return sql_ll(
        "SELECT id FROM jobs WHERE kind = 'welcome_email' AND payload->>'user_id' = '%lld'",
        user_id);
}

/* The value of a header of the message (before the blank line), unfolded
 * lines not expected; "" when absent. */
static const char *mail_header(const char *data, const char *name, char *buf, size_t cap) {
    size_t n = strlen(name);
    const char *end = strstr(data, "\r\n\r\n");
    buf[0] = '\0';
    for (const char *p = data; p && (!end || p < end); p = strstr(p, "\r\n"), p = p ? p + 2 : p) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(buf, cap, "%.*s", (int)len, v);
            return buf;
        }
    }
    return buf;
}

static const char *mail_body(const char *data) {
    const char *end = strstr(data, "\r\n\r\n");
    return end ? end + 4 : "";
}

#define CREATED_US "(extract(epoch FROM created_at) * 1000000)::bigint"

/* <nexus-job-ID.CREATED@domain>: its database's job, whatever its id. */
static void expected_message_id(long long job_id, char *buf, size_t cap) {
    long long created = sql_ll("SELECT " CREATED_US " FROM jobs WHERE id = %lld", job_id);
    snprintf(buf, cap, "<nexus-job-%lld.%lld@nexus.test>", job_id, created);
}

/* ---- fixtures ----------------------------------------------------------- */

/* The binary the harness runs as the server (the argument before "serve"
 * on its command line, wrapper or not), for the workers. */
static void find_nexus_bin(void) {
    char path[64], cmdline[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)server.pid);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    assert_true(n > 0);
    cmdline[n] = '\0';
    const char *prev = NULL;
    for (const char *arg = cmdline; arg < cmdline + n; arg += strlen(arg) + 1) {
        if (prev && strcmp(arg, "serve") == 0) {
            snprintf(nexus_bin, sizeof nexus_bin, "%s", prev);
            break;
        }
        prev = arg;
    }
    if (access(nexus_bin, X_OK) != 0)
        fprintf(stderr, "cannot find the nexus binary from %s\n", path);
    assert_int_equal(access(nexus_bin, X_OK), 0);
}

static int group_setup(void **state) {
    (void)state;
    char url[600];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    cluster("start");
    snprintf(url, sizeof url, "host=%s/sock user=postgres dbname=postgres", dir);
    const char *env[] = {"LOW_STOCK_THRESHOLD=5", "JOB_MAX_ATTEMPTS=3", NULL};
    harness_start_url(&server, "jobs", url, env);
    find_nexus_bin();
    snprintf(log_dir, sizeof log_dir, "%s", server.log_path);
    char *slash = strrchr(log_dir, '/');
    assert_non_null(slash);
    *slash = '\0';
    sink = smtp_sink_start();
    assert_non_null(sink);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    char cmd[600];
    stop_all_workers();
    smtp_sink_stop(sink);
    sink = NULL;
    harness_stop(&server);
    cluster("stop");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* A worker's connection outlives the worker for a moment: until it is
 * gone, wait_workers_idle would count it for a worker of the next test
 * that has not started yet (and a SIGTERM sent then kills that worker
 * before it can handle the signal). */
static int fresh(void **state) {
    (void)state;
    smtp_sink_reset(sink);
    free(sqlf("DELETE FROM jobs"));
    assert_true(wait_sql("0", 30000,
                         "SELECT count(*) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND query LIKE 'UPDATE jobs SET "
                         "state = ''running''%%'"));
    return 0;
}

static int cleanup(void **state) {
    (void)state;
    smtp_sink_fail_next(sink, 0, 0);
    smtp_sink_refuse_rcpt(sink, NULL, 0);
    smtp_sink_delay_ms(sink, 0);
    return stop_all_workers();
}

/* ---- a. the welcome email ----------------------------------------------- */

static void test_register_delivers_exactly_one_welcome_mail_and_job_ends_done_once(void **state) {
    (void)state;
    char buf[512], want[128];
    worker_start(NULL);
    long long uid = register_user("wanda@example.com", "Wanda Welcome");
    long long job = welcome_job_of(uid);
    assert_true(smtp_sink_wait_count(sink, 1, 30000));
    assert_true(wait_sql("done|1|3", 30000,
                         "SELECT state || '|' || attempts || '|' || max_attempts FROM jobs"
                         " WHERE id = %lld",
                         job));
    sleep_ms(500); /* nothing else may follow */
    assert_int_equal(smtp_sink_count(sink), 1);

    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    assert_string_equal(m.from, MAIL_FROM);
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt[0], "wanda@example.com");
    expected_message_id(job, want, sizeof want);
    assert_string_equal(mail_header(m.data, "Message-ID", buf, sizeof buf), want);
    assert_string_equal(mail_header(m.data, "To", buf, sizeof buf), "wanda@example.com");
    assert_string_equal(mail_header(m.data, "From", buf, sizeof buf), MAIL_FROM);
    assert_string_equal(mail_header(m.data, "Subject", buf, sizeof buf), "Welcome to Nexus");
    assert_non_null(strstr(mail_body(m.data), "Hello Wanda Welcome,"));
    smtp_message_clear(&m);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE id = %lld AND finished_at IS NOT NULL"
                            " AND lease_expires_at IS NULL",
                            job),
                     1);
}

/* A job whose id an earlier job had (the jobs of a database created again,
 * or another database's) has its own Message-ID: a mailbox drops a message
 * whose Message-ID it has seen as a duplicate. */
static void test_job_reusing_an_id_gets_its_own_message_id(void **state) {
    (void)state;
    char first[128], second[128];
    worker_start(NULL);
    long long job = welcome_job_of(register_user("first@example.com", "First"));
    assert_true(smtp_sink_wait_count(sink, 1, 30000));
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    snprintf(first, sizeof first, "%s", mail_header(m.data, "Message-ID", second, sizeof second));
    smtp_message_clear(&m);

    free(sqlf("DELETE FROM jobs"));
    free(sqlf("ALTER TABLE jobs ALTER COLUMN id RESTART WITH %lld", job));
    assert_int_equal(welcome_job_of(register_user("second@example.com", "Second")), job);
    assert_true(smtp_sink_wait_count(sink, 2, 30000));
    assert_true(smtp_sink_message(sink, 1, &m));
    assert_string_equal(m.rcpt[0], "second@example.com");
    mail_header(m.data, "Message-ID", second, sizeof second);
    smtp_message_clear(&m);
    assert_string_not_equal(first, second);
    expected_message_id(job, first, sizeof first);
    assert_string_equal(second, first);
}

/* A name may hold a line with a lone "." (the end of SMTP data) and
 * something that looks like a command: it must arrive as text, in one
 * message, to the one recipient. */
static void test_name_with_lone_dot_line_arrives_intact_and_injects_nothing(void **state) {
    (void)state;
    worker_start(NULL);
    long long uid = register_user("dot@example.com", "Dot\\n.\\nRCPT TO:<evil@example.com>\\n..");
    long long job = welcome_job_of(uid);
    assert_true(wait_sql("done", 30000, "SELECT state FROM jobs WHERE id = %lld", job));
    sleep_ms(300);
    assert_int_equal(smtp_sink_count(sink), 1);
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    assert_int_equal(m.rcpt_count, 1);
    assert_string_equal(m.rcpt[0], "dot@example.com");
    assert_non_null(
        strstr(mail_body(m.data), "Hello Dot\r\n.\r\nRCPT TO:<evil@example.com>\r\n..,"));
    smtp_message_clear(&m);
}

/* A 200-character name of '&' escapes to 1,000 bytes of HTML: the part
 * (8bit) still has no line over 998 bytes, and the name is all there
 * once the empty comments that break its line are taken out. */
static void test_name_that_escapes_long_keeps_every_line_within_998_bytes(void **state) {
    (void)state;
    char name[201], want[1024] = "<p>Hello ";
    memset(name, '&', 200);
    name[200] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(want, "&amp;");
    strcat(want, ",</p>");
    worker_start(NULL);
    long long job = welcome_job_of(register_user("amp@example.com", name));
    assert_true(wait_sql("done", 30000, "SELECT state FROM jobs WHERE id = %lld", job));
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    for (const char *p = m.data; *p;) {
        size_t n = strcspn(p, "\r\n");
        assert_true(n <= 998);
        p += n + strspn(p + n, "\r\n");
    }
    struct buf html = {0};
    for (const char *p = strstr(m.data, "<p>Hello "); p && *p;) {
        const char *cut = strstr(p, "<!--\r\n-->");
        size_t n = cut ? (size_t)(cut - p) : strlen(p);
        buf_append(&html, p, n);
        p = cut ? cut + strlen("<!--\r\n-->") : NULL;
    }
    assert_non_null(html.data);
    assert_non_null(strstr(html.data, want));
    buf_clear(&html);
    smtp_message_clear(&m);
}

/* A running job is its worker's: made due again, a second worker would
 * run it beside the first (its lease ends it, should that one die). */
static void test_retry_leaves_a_running_job_alone(void **state) {
    (void)state;
    char id[32];
    long long job = sql_ll("INSERT INTO jobs (kind, payload, state, locked_by, lease_expires_at,"
                           " attempts) VALUES ('welcome_email', '{}', 'running', 'elsewhere',"
                           " now() + interval '1 hour', 1) RETURNING id");
    snprintf(id, sizeof id, "%lld", job);
    const char *retry[] = {"jobs", "retry", id, NULL};
    assert_int_equal(harness_run(&server, NULL, retry, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "running job"));
    assert_string_equal(sqls("SELECT state || '|' || attempts || '|' || locked_by FROM jobs"
                             " WHERE id = %lld",
                             job),
                        "running|1|elsewhere");
    free(sqlf("DELETE FROM jobs WHERE id = %lld", job));
}

/* ---- b. transient failures ---------------------------------------------- */

static void test_transient_451_is_retried_with_backoff_then_delivered_once(void **state) {
    (void)state;
    char buf[512], want[128];
    smtp_sink_fail_next(sink, 2, 451);
    /* A base of 3 s (first retry after 1.5-4.5 s, second after 2-6 s with
     * the 4 s cap) keeps each pending state in view for over a second, so a
     * slow or busy machine still sees it. */
    const char *env[] = {"JOB_BACKOFF_BASE_MS=3000", "JOB_BACKOFF_MAX_MS=4000", NULL};
    worker_start(env);
    long long uid = register_user("retry@example.com", "Ray Retry");
    long long job = welcome_job_of(uid);

    assert_true(wait_sql("pending|1", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    const char *err = sqls("SELECT last_error FROM jobs WHERE id = %lld", job);
    assert_non_null(strstr(err, "451"));
    /* run_at = now() + delay and updated_at = now() in the same statement */
    double delay1 =
        sql_double("SELECT extract(epoch FROM run_at - updated_at) FROM jobs WHERE id = %lld", job);
    double run1 = sql_double("SELECT extract(epoch FROM run_at) FROM jobs WHERE id = %lld", job);
    fprintf(stderr, "first backoff %.3f s\n", delay1);
    assert_true(delay1 >= 1.499 && delay1 <= 4.501);

    assert_true(wait_sql("pending|2", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    double delay2 =
        sql_double("SELECT extract(epoch FROM run_at - updated_at) FROM jobs WHERE id = %lld", job);
    double run2 = sql_double("SELECT extract(epoch FROM run_at) FROM jobs WHERE id = %lld", job);
    fprintf(stderr, "second backoff %.3f s\n", delay2);
    assert_true(delay2 >= 1.999 && delay2 <= 6.001);
    assert_true(run2 > run1);
    err = sqls("SELECT last_error FROM jobs WHERE id = %lld", job);
    assert_non_null(strstr(err, "451"));

    assert_true(smtp_sink_wait_count(sink, 1, 30000));
    assert_true(wait_sql("done|3", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    sleep_ms(500);
    assert_int_equal(smtp_sink_received(sink), 3);
    assert_int_equal(smtp_sink_count(sink), 1);
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    expected_message_id(job, want, sizeof want);
    assert_string_equal(mail_header(m.data, "Message-ID", buf, sizeof buf), want);
    assert_string_equal(m.rcpt[0], "retry@example.com");
    smtp_message_clear(&m);
}

/* ---- c. permanent failures ---------------------------------------------- */

/* The line of `nexus jobs list` output for job id, or NULL. */
static const char *list_line(const char *listing, long long id, char *buf, size_t cap) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%lld ", id);
    for (const char *p = listing; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            snprintf(buf, cap, "%.*s", (int)strcspn(p, "\n"), p);
            return buf;
        }
    return NULL;
}

static void test_554_makes_job_dead_after_max_attempts_and_retry_delivers_it(void **state) {
    (void)state;
    char line[1024], id_text[32];
    smtp_sink_fail_next(sink, -1, 554);
    worker_start(NULL);
    long long uid = register_user("dead@example.com", "Dee Dead");
    long long job = welcome_job_of(uid);
    snprintf(id_text, sizeof id_text, "%lld", job);

    assert_true(wait_sql("dead|3|3", 30000,
                         "SELECT state || '|' || attempts || '|' || max_attempts FROM jobs"
                         " WHERE id = %lld",
                         job));
    const char *err = sqls("SELECT last_error FROM jobs WHERE id = %lld", job);
    fprintf(stderr, "last_error: %s\n", err);
    assert_non_null(strstr(err, "554"));
    assert_int_equal(
        sql_ll("SELECT count(*) FROM jobs WHERE id = %lld AND finished_at IS NOT NULL", job), 1);
    /* a dead job is due no more: it shows when it died, not a next try */
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE id = %lld AND run_at <= now()"
                            " AND run_at = finished_at",
                            job),
                     1);
    sleep_ms(700); /* a dead job is not tried again */
    assert_int_equal(smtp_sink_received(sink), 3);
    assert_int_equal(smtp_sink_count(sink), 0);

    const char *dead[] = {"jobs", "list", "--state", "dead", NULL};
    assert_int_equal(harness_run(&server, NULL, dead, NULL, out, sizeof out), 0);
    assert_non_null(list_line(out, job, line, sizeof line));
    assert_non_null(strstr(line, "welcome_email"));
    assert_non_null(strstr(line, " dead "));
    assert_non_null(strstr(line, "3/3"));
    assert_non_null(strstr(line, "554"));
    const char *pending[] = {"jobs", "list", "--state", "pending", NULL};
    assert_int_equal(harness_run(&server, NULL, pending, NULL, out, sizeof out), 0);
    assert_null(list_line(out, job, line, sizeof line));

    smtp_sink_fail_next(sink, 0, 0);
    const char *retry[] = {"jobs", "retry", id_text, NULL};
    assert_int_equal(harness_run(&server, NULL, retry, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "due again"));
    assert_true(smtp_sink_wait_count(sink, 1, 30000));
    assert_true(wait_sql("done|1", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    assert_string_equal(m.rcpt[0], "dead@example.com");
    smtp_message_clear(&m);

    /* done jobs, unknown ids and malformed ids are refused */
    assert_int_equal(harness_run(&server, NULL, retry, NULL, out, sizeof out), 1);
    const char *unknown[] = {"jobs", "retry", "987654321", NULL};
    assert_int_equal(harness_run(&server, NULL, unknown, NULL, out, sizeof out), 1);
    const char *bad[] = {"jobs", "retry", "12abc", NULL};
    assert_int_equal(harness_run(&server, NULL, bad, NULL, out, sizeof out), 2);
    assert_int_equal(smtp_sink_count(sink), 1);
}

static void test_unknown_kind_and_bad_payloads_go_dead_with_their_reason(void **state) {
    (void)state;
    free(sqlf("INSERT INTO jobs (kind, payload, max_attempts) VALUES"
              " ('mystery', '{}', 2), ('welcome_email', '[1]', 2),"
              " ('welcome_email', '{\"name\": \"No Address\"}', 1)"));
    worker_start(NULL);
    assert_true(wait_sql("3", 30000, "SELECT count(*) FROM jobs WHERE state = 'dead'"));
    const char *rows =
        sqls("SELECT kind || '|' || attempts || '|' || last_error FROM jobs ORDER BY id");
    assert_string_equal(rows, "mystery|2|no handler for job kind 'mystery',"
                              "welcome_email|2|payload is not a JSON object,"
                              "welcome_email|1|payload has no email");
    assert_int_equal(smtp_sink_received(sink), 0);
}

/* ---- d. a worker killed mid-job ----------------------------------------- */

static void test_job_of_killed_worker_is_taken_back_after_lease_and_delivered(void **state) {
    (void)state;
    char buf[512], want[128];
    static const char *const short_lease[] = {"JOB_LEASE_SECONDS=2", NULL};
    smtp_sink_delay_ms(sink, 3000);
    pid_t first = worker_start(short_lease);
    long long uid = register_user("killed@example.com", "Kim Killed");
    long long job = welcome_job_of(uid);
    /* the message is in the sink, which holds its answer: kill the worker */
    assert_true(smtp_sink_wait_received(sink, 1, 30000));
    long long sent_at = now_ms(); /* a few ms after the claim */
    const char *row = sqls("SELECT state || '|' || locked_by FROM jobs WHERE id = %lld", job);
    char tail[32];
    snprintf(tail, sizeof tail, ":%d", (int)first);
    assert_true(strncmp(row, "running|", 8) == 0);
    assert_non_null(strstr(row, tail));
    int status;
    assert_int_equal(kill(first, SIGKILL), 0);
    assert_true(wait_exit(first, 5000, &status));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    smtp_sink_delay_ms(sink, 0);
    worker_start(NULL);
    assert_true(wait_sql("done|2", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    long long taken_back = now_ms() - sent_at;
    fprintf(stderr, "taken back and done %lld ms after the first send\n", taken_back);
    assert_true(taken_back >= 1500); /* not before the 2 s lease ran out */
    const char *err = sqls("SELECT last_error FROM jobs WHERE id = %lld", job);
    assert_non_null(strstr(err, "lease expired"));
    /* The sink took the killed worker's copy too once its delay ended: at
     * least once means two copies here, recognisable as one message. */
    assert_true(smtp_sink_wait_count(sink, 2, 30000));
    sleep_ms(300);
    assert_int_equal(smtp_sink_count(sink), 2);
    expected_message_id(job, want, sizeof want);
    for (size_t i = 0; i < smtp_sink_count(sink); i++) {
        struct smtp_message m;
        assert_true(smtp_sink_message(sink, i, &m));
        assert_string_equal(mail_header(m.data, "Message-ID", buf, sizeof buf), want);
        assert_int_equal(m.rcpt_count, 1);
        assert_string_equal(m.rcpt[0], "killed@example.com");
        smtp_message_clear(&m);
    }
}

/* A job that is still running when its lease runs out (a slow SMTP server:
 * 6 s for a 4 s lease, which the worker renews every third of it) belongs
 * to its worker all the same: the other worker must not take it back and
 * send it again meanwhile, and it ends done after one attempt. */
static void test_job_outliving_its_lease_is_not_run_again_while_its_worker_runs_it(void **state) {
    (void)state;
    static const char *const short_lease[] = {"JOB_LEASE_SECONDS=4", NULL};
    smtp_sink_delay_ms(sink, 6000);
    worker_start(short_lease);
    worker_start(short_lease);
    wait_workers_idle(2);
    free(sqlf("INSERT INTO jobs (kind, payload) VALUES ('welcome_email',"
              " '{\"email\": \"slow@example.com\", \"name\": \"Slow\"}')"));
    assert_true(smtp_sink_wait_received(sink, 1, 30000));
    smtp_sink_delay_ms(sink, 0);
    assert_true(smtp_sink_wait_count(sink, 1, 30000)); /* the first answer, after 6 s */
    /* By then the lease had run out two seconds before: a worker that took the
     * job back would have sent it again already. */
    bool done = wait_sql("done|1|", 30000,
                         "SELECT state || '|' || attempts || '|' || coalesce(last_error, '')"
                         " FROM jobs");
    const char *row = sqls("SELECT state || '|' || attempts || '|' || coalesce(last_error, '')"
                           " FROM jobs");
    fprintf(stderr, "job: %s; sink received %zu, accepted %zu\n", row, smtp_sink_received(sink),
            smtp_sink_count(sink));
    assert_int_equal(smtp_sink_received(sink), 1);
    assert_true(done);
    assert_string_equal(row, "done|1|");
}

static void test_sigterm_mid_job_finishes_the_job_then_exits_0(void **state) {
    (void)state;
    smtp_sink_delay_ms(sink, 1500);
    pid_t w = worker_start(NULL);
    long long uid = register_user("term@example.com", "Terry Term");
    long long job = welcome_job_of(uid);
    assert_true(smtp_sink_wait_received(sink, 1, 30000));
    worker_stop(w, 30000); /* a bound on a hang, not on its speed */
    assert_int_equal(smtp_sink_count(sink), 1);
    const char *row = sqls("SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job);
    assert_string_equal(row, "done|1");
}

/* ---- e. many jobs, two workers ------------------------------------------ */

static void test_two_workers_run_each_of_1000_jobs_exactly_once(void **state) {
    (void)state;
    worker_start(NULL);
    worker_start(NULL);
    wait_workers_idle(2);
    long long t0 = now_ms();
    free(sqlf("INSERT INTO jobs (kind) SELECT 'noop' FROM generate_series(1, 1000)"));
    assert_true(wait_sql("1000", 60000, "SELECT count(*) FROM jobs WHERE state = 'done'"));
    fprintf(stderr, "1000 noop jobs in %lld ms\n", now_ms() - t0);
    sleep_ms(300);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs"), 1000);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE state <> 'done' OR attempts <> 1"
                            " OR last_error IS NOT NULL"),
                     0);
    const char *split = sqls("SELECT count(*) FROM jobs GROUP BY locked_by ORDER BY 1");
    fprintf(stderr, "jobs per worker: %s\n", split);
    assert_int_equal(sql_ll("SELECT count(DISTINCT locked_by) FROM jobs"), 2);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_two_workers_deliver_200_mails_with_200_distinct_message_ids(void **state) {
    (void)state;
    enum { N = 200 };
    char buf[512], to[512];
    worker_start(NULL);
    worker_start(NULL);
    wait_workers_idle(2);
    free(sqlf("INSERT INTO jobs (kind, payload) SELECT 'welcome_email',"
              " jsonb_build_object('user_id', g, 'email', 'bulk' || g || '@example.com',"
              " 'name', 'Bulk ' || g) FROM generate_series(1, %d) g",
              N));
    assert_true(smtp_sink_wait_count(sink, N, 60000));
    assert_true(wait_sql("200", 30000, "SELECT count(*) FROM jobs WHERE state = 'done'"));
    sleep_ms(500);
    assert_int_equal(smtp_sink_count(sink), N);
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs WHERE attempts <> 1"), 0);
    long long min_id = sql_ll("SELECT min(id) FROM jobs");
    char *ids[N], *rcpts[N];
    for (size_t i = 0; i < N; i++) {
        struct smtp_message m;
        assert_true(smtp_sink_message(sink, i, &m));
        assert_int_equal(m.rcpt_count, 1);
        assert_string_equal(mail_header(m.data, "To", to, sizeof to), m.rcpt[0]);
        ids[i] = strdup(mail_header(m.data, "Message-ID", buf, sizeof buf));
        rcpts[i] = strdup(m.rcpt[0]);
        /* the id names the job that carries this address */
        long long job = 0, created = 0;
        assert_int_equal(sscanf(ids[i], "<nexus-job-%lld.%lld@nexus.test>", &job, &created), 2);
        assert_int_equal(sql_ll("SELECT " CREATED_US " FROM jobs WHERE id = %lld", job), created);
        assert_true(job >= min_id && job < min_id + N);
        snprintf(buf, sizeof buf, "bulk%lld@example.com", job - min_id + 1);
        assert_string_equal(m.rcpt[0], buf);
        smtp_message_clear(&m);
    }
    qsort(ids, N, sizeof ids[0], compare_strings);
    qsort(rcpts, N, sizeof rcpts[0], compare_strings);
    for (size_t i = 1; i < N; i++) {
        assert_string_not_equal(ids[i - 1], ids[i]);
        assert_string_not_equal(rcpts[i - 1], rcpts[i]);
    }
    for (size_t i = 0; i < N; i++) {
        free(ids[i]);
        free(rcpts[i]);
    }
}

/* ---- f. no job without its change --------------------------------------- */

static void test_rolled_back_or_invalid_register_leaves_no_job(void **state) {
    (void)state;
    register_user("twice@example.com", "Tina Twice");
    long long jobs = sql_ll("SELECT count(*) FROM jobs");
    long long users = sql_ll("SELECT count(*) FROM users");
    assert_int_equal(jobs, 1);

    struct http_res *r =
        http_expect("POST", "/api/v1/auth/register", NULL,
                    "{\"email\":\"twice@example.com\",\"password\":\"password-123\","
                    "\"name\":\"Tina Again\"}",
                    409);
    assert_problem(r, 409, "email");
    http_res_free(r);
    http_res_free(http_expect("POST", "/api/v1/auth/register", NULL,
                              "{\"email\":\"TWICE@Example.com\",\"password\":\"password-123\","
                              "\"name\":\"Tina Upper\"}",
                              409));
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs"), jobs);

    const char *invalid[] = {
        "{\"email\":\"short@example.com\",\"password\":\"short\",\"name\":\"S\"}",
        "{\"email\":\"not-an-email\",\"password\":\"password-123\",\"name\":\"N\"}",
        "{\"email\":\"noname@example.com\",\"password\":\"password-123\"}",
        "{\"email\":\"blank@example.com\",\"password\":\"password-123\",\"name\":\"  \"}",
        "{\"email\":\"role@example.com\",\"password\":\"password-123\",\"name\":\"R\","
        "\"role\":\"admin\"}",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        http_res_free(http_expect("POST", "/api/v1/auth/register", NULL, invalid[i], 422));
    http_res_free(http_expect("POST", "/api/v1/auth/register", NULL, "{\"email\":", 400));
    assert_int_equal(sql_ll("SELECT count(*) FROM jobs"), jobs);
    assert_int_equal(sql_ll("SELECT count(*) FROM users"), users);
}

/* ---- h. low stock ------------------------------------------------------- */

static void create_user(const char *email, const char *role) {
    const char *args[] = {"user", "create", "--email", email, "--role", role, "--name", role, NULL};
    int rc = harness_run(&server, NULL, args, "staff-password-1\n", out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "user create: %s\n", out);
    assert_int_equal(rc, 0);
}

static long long low_stock_jobs(long long product) {
    return sql_ll("SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'"
                  " AND payload->>'product_id' = '%lld'",
                  product);
}

static void set_stock(const char *method, const char *path, const char *token, int stock) {
    char body[256];
    if (strcmp(method, "PUT") == 0)
        snprintf(body, sizeof body,
                 "{\"sku\":\"LOW-1\",\"name\":\"Low Lamp\",\"price\":\"10\",\"stock\":%d}", stock);
    else
        snprintf(body, sizeof body, "{\"stock\":%d}", stock);
    struct http_res *r = http_expect(method, path, token, body, 200);
    assert_int_equal(json_integer_value(json_object_get(r->json, "stock")), stock);
    http_res_free(r);
}

/* Create product sku "Low Lamp" with 10 in stock as staff; its id, and
 * its path into path. */
static long long create_low_lamp(const char *staff, const char *sku, char *path, size_t cap) {
    char body[128];
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Low Lamp\",\"price\":\"10\",\"stock\":10}", sku);
    struct http_res *r = http_expect("POST", "/api/v1/products", staff, body, 201);
    long long product = (long long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    snprintf(path, cap, "/api/v1/products/%lld", product);
    assert_int_equal(low_stock_jobs(product), 0);
    return product;
}

static void test_low_stock_alert_once_per_crossing_below_threshold_to_active_staff(void **state) {
    (void)state;
    char path[64], buf[512];
    create_user("low-admin@example.com", "admin");
    create_user("low-staff@example.com", "staff");
    create_user("low-gone@example.com", "staff");
    free(sqlf("UPDATE users SET is_active = false WHERE email = 'low-gone@example.com'"));
    register_user("low-customer@example.com", "Cus Tomer");
    char *staff = harness_login("low-staff@example.com", "staff-password-1");

    long long product = create_low_lamp(staff, "LOW-1", path, sizeof path);

    worker_start(NULL);
    set_stock("PATCH", path, staff, 3); /* 10 -> 3 crosses */
    assert_int_equal(low_stock_jobs(product), 1);
    const char *payload = sqls("SELECT concat_ws('|', payload->>'sku', payload->>'name',"
                               " payload->>'stock', payload->>'threshold') FROM jobs"
                               " WHERE kind = 'low_stock_alert'");
    assert_string_equal(payload, "LOW-1|Low Lamp|3|5");
    assert_true(wait_sql("1", 30000,
                         "SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'"
                         " AND state = 'done' AND attempts = 1"));

    /* exactly one message with that subject, to every active staff/admin */
    const char *staff_list = sqls("SELECT email FROM users WHERE role IN ('staff', 'admin')"
                                  " AND is_active ORDER BY email");
    assert_non_null(strstr(staff_list, "low-admin@example.com"));
    assert_non_null(strstr(staff_list, "low-staff@example.com"));
    assert_null(strstr(staff_list, "low-gone@example.com"));
    size_t alerts = 0;
    assert_true(smtp_sink_wait_count(sink, 2, 30000)); /* with the customer's welcome */
    for (size_t i = 0; i < smtp_sink_count(sink); i++) {
        struct smtp_message m;
        assert_true(smtp_sink_message(sink, i, &m));
        if (strcmp(mail_header(m.data, "Subject", buf, sizeof buf), "Low stock: LOW-1") == 0) {
            alerts++;
            qsort(m.rcpt, m.rcpt_count, sizeof m.rcpt[0], compare_strings);
            char joined[2048] = "";
            for (size_t k = 0; k < m.rcpt_count; k++)
                snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s",
                         k ? "," : "", m.rcpt[k]);
            assert_string_equal(joined, staff_list);
            assert_non_null(strstr(mail_body(m.data), "\"Low Lamp\") is down to 3 in stock,"
                                                      " below the alert threshold of 5."));
        }
        smtp_message_clear(&m);
    }
    assert_int_equal(alerts, 1);

    set_stock("PATCH", path, staff, 2); /* already low: nothing more */
    assert_int_equal(low_stock_jobs(product), 1);
    http_res_free(http_expect("PATCH", path, staff, "{\"name\":\"Low Lamp\"}", 200));
    assert_int_equal(low_stock_jobs(product), 1);
    set_stock("PATCH", path, staff, 20);
    assert_int_equal(low_stock_jobs(product), 1);
    set_stock("PATCH", path, staff, 1); /* crosses again */
    assert_int_equal(low_stock_jobs(product), 2);
    set_stock("PATCH", path, staff, 5); /* back to the threshold: not low */
    assert_int_equal(low_stock_jobs(product), 2);
    set_stock("PATCH", path, staff, 4); /* 5 -> 4 crosses */
    assert_int_equal(low_stock_jobs(product), 3);
    set_stock("PUT", path, staff, 20);
    set_stock("PUT", path, staff, 0); /* a full replacement crosses too */
    assert_int_equal(low_stock_jobs(product), 4);
    /* a conditional write that fails writes nothing and enqueues nothing */
    set_stock("PATCH", path, staff, 30);
    const char *stale[] = {"Content-Type: application/json", NULL, "If-Match: \"stale\"", NULL};
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff);
    stale[1] = auth;
    struct http_res *r =
        http_request("PATCH", path, stale, "{\"stock\":1}", strlen("{\"stock\":1}"));
    assert_int_equal(r->status, 412);
    http_res_free(r);
    assert_int_equal(low_stock_jobs(product), 4);

    assert_true(wait_sql("4", 30000,
                         "SELECT count(*) FROM jobs WHERE kind = 'low_stock_alert'"
                         " AND state = 'done'"));
    alerts = 0;
    for (size_t i = 0; i < smtp_sink_count(sink); i++) {
        struct smtp_message m;
        assert_true(smtp_sink_message(sink, i, &m));
        alerts += strcmp(mail_header(m.data, "Subject", buf, sizeof buf), "Low stock: LOW-1") == 0;
        smtp_message_clear(&m);
    }
    assert_int_equal(alerts, 4);
    free(staff);
}

/* A write that renames the product as it takes its stock low alerts
 * under the new name, as an import row does. */
static void test_low_stock_alert_names_the_product_as_the_write_leaves_it(void **state) {
    (void)state;
    char path[64];
    create_user("rename-staff@example.com", "staff");
    char *staff = harness_login("rename-staff@example.com", "staff-password-1");
    long long product = create_low_lamp(staff, "LOW-RENAMED", path, sizeof path);
    http_res_free(
        http_expect("PATCH", path, staff, "{\"stock\":1,\"name\":\"Renamed Lamp\"}", 200));
    assert_int_equal(low_stock_jobs(product), 1);
    assert_string_equal(sqls("SELECT payload->>'name' FROM jobs WHERE kind = 'low_stock_alert'"
                             " AND payload->>'sku' = 'LOW-RENAMED'"),
                        "Renamed Lamp");
    free(staff);
}

/* A staff address the mail server refuses (550 at RCPT TO) is left out:
 * the others are told, once, and the job is done rather than failing at
 * every attempt for everyone. */
static void test_low_stock_alert_reaches_staff_beside_a_refused_address(void **state) {
    (void)state;
    char buf[512];
    create_user("bounce-staff@example.com", "staff");
    create_user("kept-staff@example.com", "staff");
    smtp_sink_refuse_rcpt(sink, "bounce-staff@example.com", 550);
    free(sqlf("INSERT INTO jobs (kind, payload) VALUES ('low_stock_alert', '{\"product_id\": 7,"
              " \"sku\": \"BOUNCE-1\", \"name\": \"Lamp\", \"stock\": 1, \"threshold\": 5}')"));
    worker_start(NULL);
    assert_true(wait_sql(
        "t", 30000, "SELECT state IN ('done', 'dead') FROM jobs WHERE kind = 'low_stock_alert'"));
    assert_string_equal(sqls("SELECT state || ' ' || attempts FROM jobs"
                             " WHERE kind = 'low_stock_alert'"),
                        "done 1");
    const char *told =
        sqls("SELECT email FROM users WHERE role IN ('staff', 'admin')"
             " AND is_active AND email <> 'bounce-staff@example.com' ORDER BY email");
    assert_non_null(strstr(told, "kept-staff@example.com"));
    assert_int_equal(smtp_sink_count(sink), 1);
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    assert_string_equal(mail_header(m.data, "Subject", buf, sizeof buf), "Low stock: BOUNCE-1");
    qsort(m.rcpt, m.rcpt_count, sizeof m.rcpt[0], compare_strings);
    char joined[2048] = "";
    for (size_t k = 0; k < m.rcpt_count; k++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", k ? "," : "",
                 m.rcpt[k]);
    smtp_message_clear(&m);
    assert_string_equal(joined, told);
}

/* ---- metrics ------------------------------------------------------------ */

/* The value of a metric line "name value" in the /metrics text; -1 when
 * absent. */
static double metric(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void test_metrics_show_jobs_by_state_and_oldest_due_age(void **state) {
    (void)state;
    free(sqlf("INSERT INTO jobs (kind, run_at) VALUES ('noop', now() - interval '30 seconds'),"
              " ('noop', now() + interval '1 hour')"));
    free(sqlf("INSERT INTO jobs (kind, state, attempts) VALUES ('noop', 'dead', 1)"));
    struct http_res *r = http_expect("GET", "/metrics", NULL, NULL, 200);
    assert_non_null(strstr(r->body, "# TYPE nexus_jobs gauge"));
    assert_non_null(strstr(r->body, "# TYPE nexus_jobs_oldest_due_seconds gauge"));
    assert_true(metric(r->body, "nexus_jobs{state=\"pending\"}") == 2);
    assert_true(metric(r->body, "nexus_jobs{state=\"running\"}") == 0);
    assert_true(metric(r->body, "nexus_jobs{state=\"done\"}") == -1); /* never counted */
    assert_true(metric(r->body, "nexus_jobs{state=\"dead\"}") == 1);
    double age = metric(r->body, "nexus_jobs_oldest_due_seconds");
    fprintf(stderr, "oldest due: %.3f s\n", age);
    assert_true(age >= 29.0 && age < 120.0);
    http_res_free(r);

    worker_start(NULL);
    assert_true(wait_sql("1", 30000, "SELECT count(*) FROM jobs WHERE state = 'done'"));
    sleep_ms(500); /* the job due in an hour is not run early */
    r = http_expect("GET", "/metrics", NULL, NULL, 200);
    assert_true(metric(r->body, "nexus_jobs{state=\"pending\"}") == 1);
    assert_true(metric(r->body, "nexus_jobs{state=\"done\"}") == -1);
    assert_true(metric(r->body, "nexus_jobs{state=\"dead\"}") == 1);
    assert_true(metric(r->body, "nexus_jobs_oldest_due_seconds") == 0);
    http_res_free(r);
}

/* Done jobs past JOB_RETENTION (7 days) are deleted by the worker; recent
 * done jobs and unfinished ones of any age stay. */
static void test_worker_purges_done_jobs_past_retention(void **state) {
    (void)state;
    free(sqlf("INSERT INTO jobs (kind, state, finished_at, created_at)"
              " SELECT 'noop', 'done', now() - interval '8 days', now() - interval '9 days'"
              " FROM generate_series(1, 1200)"));
    free(sqlf("INSERT INTO jobs (kind, state, finished_at) VALUES"
              " ('noop', 'done', now() - interval '6 days'), ('noop', 'done', now())"));
    free(sqlf("INSERT INTO jobs (kind, state, attempts, finished_at, created_at) VALUES"
              " ('noop', 'dead', 5, now() - interval '30 days', now() - interval '30 days')"));
    free(sqlf("INSERT INTO jobs (kind, run_at, created_at) VALUES"
              " ('noop', now() + interval '1 day', now() - interval '30 days')"));
    worker_start(NULL);
    assert_true(wait_sql("0", 20000,
                         "SELECT count(*) FROM jobs WHERE state = 'done'"
                         " AND finished_at < now() - interval '7 days'"));
    assert_true(wait_sql("2|1|1", 5000,
                         "SELECT count(*) FILTER (WHERE state = 'done') || '|' ||"
                         " count(*) FILTER (WHERE state = 'dead') || '|' ||"
                         " count(*) FILTER (WHERE state = 'pending') FROM jobs"));
}

/* Idempotency keys past their expiry are deleted by the worker (more than
 * one batch of them); live ones stay. */
static void test_worker_purges_expired_idempotency_keys(void **state) {
    (void)state;
    free(sqlf("DELETE FROM idempotency_keys"));
    free(sqlf("INSERT INTO idempotency_keys (scope, path, key, fingerprint, status, expires_at)"
              " SELECT 'user:1', '/api/v1/products', 'old-' || i, repeat('a', 64), 201,"
              " now() - interval '1 hour' FROM generate_series(1, 1200) i"));
    free(sqlf("INSERT INTO idempotency_keys (scope, path, key, fingerprint, status, expires_at)"
              " VALUES ('user:1', '/api/v1/products', 'live', repeat('b', 64), 201,"
              " now() + interval '1 hour')"));
    worker_start(NULL);
    assert_true(
        wait_sql("0", 20000, "SELECT count(*) FROM idempotency_keys WHERE expires_at <= now()"));
    assert_true(wait_sql("live", 5000, "SELECT string_agg(key, ',') FROM idempotency_keys"));
}

/* A user of the purge tests' own (logins and imports need one). */
static char *purge_user(void) {
    return sqlf("INSERT INTO users (email, password_hash, name, role) VALUES"
                " ('purge-' || gen_random_uuid() || '@example.com', 'x', 'Purge', 'customer')"
                " RETURNING id");
}

/* A login of user as the SQL values revoked_at and last_used_at say, with
 * one unused refresh token expiring at expires_at; its id. */
static char *purge_login(const char *user, const char *revoked_at, const char *last_used_at,
                         const char *expires_at) {
    char *id = sqlf("INSERT INTO logins (user_id, revoked_at, last_used_at) VALUES (%s, %s, %s)"
                    " RETURNING id",
                    user, revoked_at, last_used_at);
    free(sqlf("INSERT INTO refresh_tokens (token_hash, login_id, user_id, expires_at)"
              " VALUES (sha256(gen_random_uuid()::text::bytea), '%s', %s, %s)",
              id, user, expires_at));
    return id;
}

/* The worker deletes what ended long enough ago (JOB_RETENTION, 7 days):
 * refresh tokens expired that long, logins revoked that long (more than a
 * batch of them), and logins whose last refresh token expired that long
 * (last used more than REFRESH_TOKEN_TTL, 30 days, and 7 days ago). A
 * login last used that long ago that holds a live token (one issued under
 * a longer REFRESH_TOKEN_TTL) stays, as do recent ends and live logins. */
static void test_worker_purges_ended_logins_and_expired_refresh_tokens(void **state) {
    (void)state;
    char *user = purge_user();
    free(sqlf("INSERT INTO logins (user_id, revoked_at) SELECT %s, now() - interval '8 days'"
              " FROM generate_series(1, 600)",
              user));
    char *revoked = purge_login(user, "now() - interval '8 days'", "now() - interval '9 days'",
                                "now() + interval '20 days'");
    char *idle =
        purge_login(user, "NULL", "now() - interval '38 days'", "now() - interval '8 days'");
    char *recently_revoked =
        purge_login(user, "now() - interval '1 hour'", "now()", "now() + interval '30 days'");
    char *idle_live =
        purge_login(user, "NULL", "now() - interval '38 days'", "now() + interval '1 day'");
    char *live = purge_login(user, "NULL", "now()", "now() + interval '30 days'");
    /* two tokens the live login used before its current one */
    free(sqlf("INSERT INTO refresh_tokens (token_hash, login_id, user_id, expires_at, used_at)"
              " VALUES (sha256('old'::bytea), '%s', %s, now() - interval '8 days',"
              " now() - interval '38 days'), (sha256('recent'::bytea), '%s', %s,"
              " now() - interval '1 day', now() - interval '31 days')",
              live, user, live, user));
    worker_start(NULL);
    assert_true(wait_sql("3", 20000, "SELECT count(*) FROM logins WHERE user_id = %s", user));
    char *kept = sqlf("SELECT string_agg(id::text, ',' ORDER BY id) FROM logins"
                      " WHERE id IN ('%s', '%s', '%s')",
                      recently_revoked, idle_live, live);
    assert_true(wait_sql(kept, 5000,
                         "SELECT string_agg(id::text, ',' ORDER BY id) FROM logins"
                         " WHERE user_id = %s",
                         user));
    assert_true(wait_sql("0|1|4", 5000,
                         "SELECT count(*) FILTER (WHERE token_hash = sha256('old'::bytea)) || '|'"
                         " || count(*) FILTER (WHERE token_hash = sha256('recent'::bytea)) || '|'"
                         " || count(*) FROM refresh_tokens WHERE user_id = %s",
                         user));
    free(kept);
    free(user);
    free(revoked);
    free(idle);
    free(recently_revoked);
    free(idle_live);
    free(live);
}

/* Imports finished more than IMPORT_RETENTION (30 days) ago are deleted
 * with their errors, more than a batch of errors included; recent ones
 * and unfinished ones of any age stay, with theirs. */
static void test_worker_purges_imports_finished_past_retention(void **state) {
    (void)state;
    char *user = purge_user();
    static const char INSERT[] =
        "INSERT INTO imports (user_id, status, format, mode, atomic, created_at, finished_at)"
        " VALUES (%s, '%s', 'ndjson', 'upsert', false, now() - interval '60 days', %s)"
        " RETURNING id";
    char *old = sqlf(INSERT, user, "done", "now() - interval '31 days'");
    char *failed = sqlf(INSERT, user, "failed", "now() - interval '31 days'");
    char *recent = sqlf(INSERT, user, "done", "now() - interval '29 days'");
    char *running = sqlf(INSERT, user, "running", "NULL");
    free(sqlf("INSERT INTO import_errors (import_id, n, line, message)"
              " SELECT %s, i, i + 1, 'bad' FROM generate_series(1, 12000) i",
              old));
    free(sqlf("INSERT INTO import_errors (import_id, n, line, message)"
              " SELECT id, 1, 2, 'bad' FROM imports WHERE id IN (%s, %s, %s)",
              failed, recent, running));
    worker_start(NULL);
    assert_true(
        wait_sql("0", 20000, "SELECT count(*) FROM imports WHERE id IN (%s, %s)", old, failed));
    assert_true(
        wait_sql("0|2|2", 5000,
                 "SELECT (SELECT count(*) FROM import_errors WHERE import_id IN (%s, %s))"
                 " || '|' || (SELECT count(*) FROM import_errors WHERE import_id IN (%s, %s))"
                 " || '|' || (SELECT count(*) FROM imports WHERE id IN (%s, %s))",
                 old, failed, recent, running, recent, running));
    free(user);
    free(old);
    free(failed);
    free(recent);
    free(running);
}

/* ---- i. signals and wake-ups -------------------------------------------- */

/* SIGTERM wakes an idle worker, which exits 0 at once: with a 60 s poll
 * interval, an exit within the test's 30 s patience cannot have waited for
 * the next poll. */
static void test_idle_worker_exits_0_on_sigterm_without_waiting_for_its_poll(void **state) {
    (void)state;
    const char *env[] = {"JOB_POLL_MS=60000", NULL};
    pid_t w = worker_start(env);
    wait_workers_idle(1);
    long long t0 = now_ms();
    worker_stop(w, 30000);
    fprintf(stderr, "idle worker stopped in %lld ms\n", now_ms() - t0);
}

/* SIGHUP (its terminal closed) stops a worker as SIGTERM does, exit 0:
 * it killed it. */
static void test_idle_worker_exits_0_on_sighup(void **state) {
    (void)state;
    const char *env[] = {"JOB_POLL_MS=60000", NULL};
    pid_t w = worker_start(env);
    wait_workers_idle(1);
    worker_stop_by(w, SIGHUP, 30000);
}

/* With a 60 s poll interval, only the NOTIFY at commit can wake the worker
 * in time. */
static void test_enqueue_wakes_sleeping_worker_without_waiting_for_poll(void **state) {
    (void)state;
    const char *env[] = {"JOB_POLL_MS=60000", NULL};
    worker_start(env);
    wait_workers_idle(1);
    for (size_t i = 1; i <= 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "wake%zu@example.com", i);
        long long t0 = now_ms();
        register_user(email, "Wake Up");
        /* far below the 60 s poll, with room for a slow machine */
        assert_true(smtp_sink_wait_count(sink, i, 20000));
        fprintf(stderr, "woken and delivered in %lld ms\n", now_ms() - t0);
        sleep_ms(300); /* let it fall asleep again */
    }
}

/* A worker's connection cut while it runs a job: the job's outcome is
 * recorded on a new connection (the statement is run again there), and
 * the worker listens there too, so a job enqueued next still wakes it at
 * once rather than after the poll interval. */
static void test_worker_cut_mid_job_still_wakes_on_enqueue(void **state) {
    (void)state;
    const char *env[] = {"JOB_POLL_MS=60000", NULL};
    smtp_sink_delay_ms(sink, 5000); /* time enough to cut the connection mid-job */
    worker_start(env);
    wait_workers_idle(1);
    long long pid = sql_ll("SELECT pid FROM pg_stat_activity WHERE state = 'idle'"
                           " AND datname = current_database()"
                           " AND query LIKE 'UPDATE jobs SET state = ''running''%%'");
    long long uid = register_user("cut@example.com", "Cut Mid Job");
    long long job = welcome_job_of(uid);
    assert_true(smtp_sink_wait_received(sink, 1, 30000));
    assert_string_equal(sqls("SELECT pg_terminate_backend(%lld)", pid), "t");
    smtp_sink_delay_ms(sink, 0);
    assert_true(wait_sql("done", 30000, "SELECT state FROM jobs WHERE id = %lld", job));
    wait_workers_idle(1); /* on its new connection */
    register_user("after-cut@example.com", "After The Cut");
    /* far below the 60 s poll, with room for a slow machine */
    assert_true(smtp_sink_wait_count(sink, 2, 20000));
}

/* ---- g. PostgreSQL restarts --------------------------------------------- */

/* Stop the cluster, wait, start it again and wait for /readyz 200. */
static void restart_postgres(int down_ms, pid_t stop_meanwhile) {
    cluster("stop");
    long long t0 = now_ms();
    if (stop_meanwhile) { /* a worker told to stop while the database is away exits 0 */
        sleep_ms(300);
        long long t1 = now_ms();
        worker_stop(stop_meanwhile, 10000);
        fprintf(stderr, "worker stopped during the outage in %lld ms\n", now_ms() - t1);
    }
    long long left = down_ms - (now_ms() - t0);
    if (left > 0)
        sleep_ms((int)left);
    cluster("start");
    assert_true(harness_wait_status("/readyz", 200, 15000));
}

static void test_worker_recovers_from_postgres_restart_without_being_restarted(void **state) {
    (void)state;
    char body[256];
    pid_t w = worker_start(NULL);
    pid_t other = worker_start(NULL);
    wait_workers_idle(2);
    restart_postgres(2000, other);

    /* The first write on a server thread whose connection PostgreSQL cut
     * may get a 503 even after /readyz said 200 (the next test pins that
     * down); this test is about the worker, so it tries again. */
    long long t0 = now_ms();
    snprintf(body, sizeof body,
             "{\"email\":\"phoenix@example.com\",\"password\":\"password-123\","
             "\"name\":\"Phoenix\"}");
    struct http_res *r = NULL;
    for (int i = 0; i < 4; i++) {
        http_res_free(r);
        r = http_request("POST", "/api/v1/auth/register",
                         (const char *const[]){"Content-Type: application/json", NULL}, body,
                         strlen(body));
        if (r->status != 503)
            break;
        fprintf(stderr, "register after the restart: 503, trying again\n");
    }
    assert_int_equal(r->status, 201);
    long long uid = (long long)json_integer_value(json_object_get(r->json, "id"));
    http_res_free(r);
    long long job = welcome_job_of(uid);
    assert_true(smtp_sink_wait_count(sink, 1, 30000));
    fprintf(stderr, "delivered %lld ms after the register\n", now_ms() - t0);
    assert_true(wait_sql("done|1", 30000,
                         "SELECT state || '|' || attempts FROM jobs WHERE id = %lld", job));
    struct smtp_message m;
    assert_true(smtp_sink_message(sink, 0, &m));
    assert_string_equal(m.rcpt[0], "phoenix@example.com");
    smtp_message_clear(&m);
    int status;
    assert_int_equal(waitpid(w, &status, WNOHANG), 0); /* the same process, still running */
}

/* Registers sent from several threads 25 ms apart, so that every server
 * thread gets one (each is busy hashing a password for longer). */
struct parallel_register {
    pthread_t thread;
    char body[256];
    long status;
    char answer[512];
};

static void *send_register(void *arg) {
    struct parallel_register *p = arg;
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct http_res *r =
        http_request("POST", "/api/v1/auth/register", headers, p->body, strlen(p->body));
    p->status = r->status;
    snprintf(p->answer, sizeof p->answer, "%s", r->body ? r->body : "");
    http_res_free(r);
    return NULL;
}

/* Send n overlapping registers; the number that got a 503. */
static int register_burst(const char *prefix, int n) {
    struct parallel_register p[8];
    int unavailable = 0;
    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        snprintf(p[i].body, sizeof p[i].body,
                 "{\"email\":\"%s%d@example.com\",\"password\":\"password-123\","
                 "\"name\":\"Burst\"}",
                 prefix, i);
        assert_int_equal(pthread_create(&p[i].thread, NULL, send_register, &p[i]), 0);
        sleep_ms(25); /* a thread that accepts one is busy with it when the next comes */
    }
    for (int i = 0; i < n; i++) {
        pthread_join(p[i].thread, NULL);
        if (p[i].status != 201)
            fprintf(stderr, "register %s%d: %ld %s\n", prefix, i, p[i].status, p[i].answer);
        unavailable += p[i].status == 503;
    }
    return unavailable;
}

/* Once /readyz answers 200 after a restart, writes succeed: a connection
 * that PostgreSQL cut while it was idle is replaced, not reported as 503.
 * Every server thread holds such a connection here, and each register
 * opens a transaction first. */
static void test_writes_after_postgres_restart_succeed_once_readyz_is_200(void **state) {
    (void)state;
    /* give every server thread a live connection (a 503 here is the same
     * fault, left by the restart of the test before) */
    register_burst("before-a", 4);
    register_burst("before-b", 4);
    restart_postgres(500, 0);
    assert_int_equal(register_burst("after-restart", 4), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_register_delivers_exactly_one_welcome_mail_and_job_ends_done_once, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_name_with_lone_dot_line_arrives_intact_and_injects_nothing, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_name_that_escapes_long_keeps_every_line_within_998_bytes, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_retry_leaves_a_running_job_alone, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_job_reusing_an_id_gets_its_own_message_id, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            test_transient_451_is_retried_with_backoff_then_delivered_once, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_554_makes_job_dead_after_max_attempts_and_retry_delivers_it, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_unknown_kind_and_bad_payloads_go_dead_with_their_reason, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_job_of_killed_worker_is_taken_back_after_lease_and_delivered, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_job_outliving_its_lease_is_not_run_again_while_its_worker_runs_it, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_sigterm_mid_job_finishes_the_job_then_exits_0, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(test_two_workers_run_each_of_1000_jobs_exactly_once, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            test_two_workers_deliver_200_mails_with_200_distinct_message_ids, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_rolled_back_or_invalid_register_leaves_no_job, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            test_low_stock_alert_once_per_crossing_below_threshold_to_active_staff, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_low_stock_alert_names_the_product_as_the_write_leaves_it, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_low_stock_alert_reaches_staff_beside_a_refused_address,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_metrics_show_jobs_by_state_and_oldest_due_age, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(test_worker_purges_done_jobs_past_retention, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(test_worker_purges_ended_logins_and_expired_refresh_tokens,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_worker_purges_imports_finished_past_retention, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(test_worker_purges_expired_idempotency_keys, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            test_idle_worker_exits_0_on_sigterm_without_waiting_for_its_poll, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_idle_worker_exits_0_on_sighup, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_enqueue_wakes_sleeping_worker_without_waiting_for_poll,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_worker_cut_mid_job_still_wakes_on_enqueue, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            test_worker_recovers_from_postgres_restart_without_being_restarted, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            test_writes_after_postgres_restart_succeed_once_readyz_is_200, fresh, cleanup),
    };
    return cmocka_run_group_tests_name("jobs", tests, group_setup, group_teardown);
}
