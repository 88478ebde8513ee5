/*
 * test_hostile.c -- clients that break the rules on purpose: oversized
 * headers, URLs and bodies, slow and idle connections, request smuggling
 * followed by a pipelined request, NUL bytes and invalid UTF-8 everywhere
 * a client can put them, absurd nesting, long query strings and unknown
 * methods.
 *
 * The guarantees: every such request gets a 4xx, never a 5xx or a hang
 * (a request libmicrohttpd cannot even parse ends within the connection
 * timeout), a smuggled request is never executed, a normal client is still
 * served promptly meanwhile, and afterwards the server answers /healthz
 * and exits cleanly (under ASan: no leak, no memory error).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Short, so that connections libmicrohttpd drops without an answer are
 * seen to end within a test's patience. */
#define CONNECTION_TIMEOUT 5
/* Whole-request deadline: headers and body must be in by then. */
#define REQUEST_TIMEOUT 4
/* PER_IP_CONNECTION_LIMIT's default. */
#define PER_IP_DEFAULT 1024
/* A server's timeouts far beyond any test's patience. */
#define PATIENT_TIMEOUT 600
/* Fewer connections than the slow crowd below opens from one address, so
 * only the per-address limit (left at its default) keeps room for others. */
#define CONNECTION_LIMIT 1100
#define STR_(x)          #x
#define STR(x)           STR_(x)

static struct nexus_server server;

static int start(void **state) {
    (void)state;
    static const char *const env[] = {
        "CONNECTION_TIMEOUT=" STR(CONNECTION_TIMEOUT), "REQUEST_TIMEOUT=" STR(REQUEST_TIMEOUT),
        "CONNECTION_LIMIT=" STR(CONNECTION_LIMIT), "PER_IP_CONNECTION_LIMIT=", /* the default */
        NULL};
    harness_start(&server, "hostile", env);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&server);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

/* A request under construction: bytes, NULs allowed. */
struct raw {
    char *data;
    size_t len;
};

static void raw_add(struct raw *r, const void *bytes, size_t len) {
    r->data = realloc(r->data, r->len + len + 1);
    assert_non_null(r->data);
    memcpy(r->data + r->len, bytes, len);
    r->len += len;
    r->data[r->len] = '\0';
}

static void raw_str(struct raw *r, const char *s) {
    raw_add(r, s, strlen(s));
}

static void raw_fmt(struct raw *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw_fmt(struct raw *r, const char *fmt, ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof line);
    raw_add(r, line, (size_t)n);
}

static void raw_free(struct raw *r) {
    free(r->data);
    r->data = NULL;
    r->len = 0;
}

static char reply[1 << 20];

/* Send r over a fresh connection; the status of the first answer (0 when
 * none came). The whole answer is left in reply. */
static int send_raw(const struct raw *r, int timeout_ms) {
    raw_exchange(r->data, r->len, reply, sizeof reply, timeout_ms);
    if (strncmp(reply, "HTTP/1.", 7) != 0 || strlen(reply) < 12)
        return 0;
    return atoi(reply + 9);
}

/* Print what was sent (printably) when a check fails. */
static void show(const char *what, const struct raw *r, int status) {
    fprintf(stderr, "%s: status %d for request:\n", what, status);
    for (size_t i = 0; i < r->len && i < 400; i++) {
        unsigned char c = (unsigned char)r->data[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f))
            fputc(c, stderr);
        else if (c != '\r')
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\nanswer: %.300s\n", reply);
}

static void expect_status_in(const struct raw *r, int lo, int hi, const char *what) {
    int status = send_raw(r, 5000);
    if (status < lo || status > hi)
        show(what, r, status);
    assert_in_range(status, lo, hi);
}

static void expect_4xx(const struct raw *r, const char *what) {
    expect_status_in(r, 400, 499, what);
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

/* A connection to the server from source address from ("127.0.0.N": all
 * of 127/8 is loopback), so that a crowd of them does not take the
 * per-address allowance of the test's normal client (127.0.0.1). */
static int open_connection_from(const char *from) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)harness_port()),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    assert_true(fd >= 0);
    assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int open_connection(void) {
    return open_connection_from("127.0.0.1");
}

static long long count_users(const char *email) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM users WHERE lower(email) = '%s'", email);
    char *out = harness_sql(&server, sql);
    assert_non_null(out);
    long long n = atoll(out);
    free(out);
    return n;
}

/* ---- sizes -------------------------------------------------------------------- */

static void test_header_over_limit_is_431(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Filler: ");
    char *filler = malloc(100000);
    memset(filler, 'a', 100000);
    raw_add(&r, filler, 100000);
    raw_str(&r, "\r\n\r\n");
    int status = send_raw(&r, 5000);
    if (status != 431)
        show("header over the limit", &r, status);
    assert_int_equal(strncmp(reply, "HTTP/1.1 431", 12), 0);
    free(filler);
    raw_free(&r);
}

static void test_url_over_limit_is_414(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "GET /api/v1/products?q=");
    char *filler = malloc(100000);
    memset(filler, 'a', 100000);
    raw_add(&r, filler, 100000);
    raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    int status = send_raw(&r, 5000);
    if (status != 414)
        show("URL over the limit", &r, status);
    assert_int_equal(strncmp(reply, "HTTP/1.1 414", 12), 0);
    free(filler);
    raw_free(&r);
}

static void test_declared_body_over_cap_is_413(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{\"email\":");
    int status = send_raw(&r, 5000);
    if (status != 413)
        show("declared body over the cap", &r, status);
    assert_int_equal(status, 413);
    raw_free(&r);
}

static void test_chunked_body_over_cap_is_413(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = malloc(65536);
    memset(chunk, ' ', 65536);
    for (int i = 0; i < 18; i++) { /* 1.125 MiB: over the 1 MiB default cap */
        raw_str(&r, "10000\r\n");
        raw_add(&r, chunk, 65536);
        raw_str(&r, "\r\n");
    }
    raw_str(&r, "0\r\n\r\n");
    int status = send_raw(&r, 10000);
    if (status != 413)
        show("chunked body over the cap", &r, status);
    assert_int_equal(status, 413);
    free(chunk);
    raw_free(&r);
}

/* ---- slow and idle clients --------------------------------------------------- */

struct drip {
    int fd;
    volatile int stop;
    int sent;
};

/* One byte every 500 ms of a request that never ends. */
static void *drip_bytes(void *arg) {
    struct drip *d = arg;
    static const char text[] =
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nX-Slow: ";
    for (size_t i = 0; !d->stop; i++) {
        char c = i < sizeof text - 1 ? text[i] : 'a';
        if (send(d->fd, &c, 1, MSG_NOSIGNAL) != 1)
            break;
        d->sent++;
        for (int t = 0; t < 10 && !d->stop; t++)
            sleep_ms(50);
    }
    return NULL;
}

/* Whether the server still holds fd: it has neither answered nor closed. */
static bool still_held(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

/* A server whose timeouts let a silent or dripping client keep its
 * connection for PATIENT_TIMEOUT seconds, on the suite's database; the
 * tests that start it stop it in their teardown, failed or not. */
static struct nexus_server patient;

/* Starts the patient server with per_ip as its PER_IP_CONNECTION_LIMIT
 * setting ("" for the default) and sends the test's requests to it. */
static void start_patient(const char *per_ip) {
    char limit[64];
    snprintf(limit, sizeof limit, "PER_IP_CONNECTION_LIMIT=%s", per_ip);
    const char *const env[] = {"CONNECTION_TIMEOUT=" STR(PATIENT_TIMEOUT),
                               "REQUEST_TIMEOUT=" STR(PATIENT_TIMEOUT),
                               "CONNECTION_LIMIT=" STR(CONNECTION_LIMIT), limit, NULL};
    memset(&patient, 0, sizeof patient);
    harness_start_url(&patient, "hostile-patient", server.database_url, env);
}

static int stop_patient(void **state) {
    (void)state;
    harness_use(&server);
    if (patient.pid)
        harness_stop(&patient);
    return 0;
}

/* On a server that lets a silent or dripping client keep its connection
 * for PATIENT_TIMEOUT seconds, others are answered while those clients hold theirs.
 * The proof is the order of events, not a duration: every idle connection
 * is still held after the last answer, so none of them was freed to make
 * room for it (a server they blocked would answer nobody for that long, and
 * the client gives up after 30 s). */
static void test_slow_and_idle_clients_do_not_block_others(void **state) {
    (void)state;
    enum { IDLE = 200 };
    static int idle[IDLE];
    start_patient("100000"); /* every idle connection admitted */
    struct drip d = {.fd = open_connection_from("127.0.0.2")};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drip_bytes, &d), 0);
    for (int i = 0; i < IDLE; i++) {
        idle[i] = open_connection_from("127.0.0.2");
        if (i % 2) /* half say nothing, half start a request line and stop */
            assert_int_equal(send(idle[i], "GET /heal", 9, MSG_NOSIGNAL), 9);
    }
    for (int round = 0; round < 6; round++) {
        sleep_ms(250);
        http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
    }
    d.stop = 1;
    pthread_join(t, NULL);
    assert_true(d.sent >= 3); /* the drip really was dripping */
    int held = still_held(d.fd);
    for (int i = 0; i < IDLE; i++)
        held += still_held(idle[i]);
    if (held != IDLE + 1)
        fprintf(stderr, "%d of %d slow connections still held (%d s timeouts)\n", held, IDLE + 1,
                PATIENT_TIMEOUT);
    assert_int_equal(held, IDLE + 1);
    close(d.fd);
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
}

/* A crowd of connections, each sent a byte every 250 ms. */
struct crowd {
    int *fds;
    int n;
    volatile int stop;
};

static void *crowd_drip(void *arg) {
    struct crowd *c = arg;
    while (!c->stop) {
        for (int i = 0; i < c->n; i++)
            send(c->fds[i], "X", 1, MSG_NOSIGNAL); /* refused ones fail: fine */
        sleep_ms(250);
    }
    return NULL;
}

/* 1,200 connections from one address, each dripping a request's headers,
 * more than the server's whole connection budget, on a server that would
 * hold each for PATIENT_TIMEOUT seconds: the per-address limit keeps them
 * to its default, and a client elsewhere is served while those are still
 * held (counted after the last answer). */
static void test_a_thousand_slow_connections_do_not_starve_others(void **state) {
    (void)state;
    enum { SLOW = 1200 };
    static int slow[SLOW];
    start_patient(""); /* the default per-address limit */
    static const char start_line[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < SLOW; i++) {
        slow[i] = open_connection_from("127.0.0.3");
        send(slow[i], start_line, sizeof start_line - 1, MSG_NOSIGNAL);
    }
    struct crowd c = {slow, SLOW, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, crowd_drip, &c), 0);
    for (int round = 0; round < 3; round++) {
        sleep_ms(500);
        /* Generous: the machine may be loaded. */
        long long t0 = now_ms();
        long status = 0;
        while (status != 200 && now_ms() - t0 < 30000) {
            struct http_res *r = http_request("GET", "/healthz", NULL, NULL, 0);
            status = r->status;
            http_res_free(r);
            if (status != 200)
                sleep_ms(250);
        }
        if (status != 200)
            fprintf(stderr, "round %d: no 200 within 30 s (last status %ld)\n", round, status);
        assert_int_equal(status, 200);
    }
    c.stop = 1;
    pthread_join(t, NULL);
    int held = 0;
    for (int i = 0; i < SLOW; i++)
        held += still_held(slow[i]);
    if (held != PER_IP_DEFAULT)
        fprintf(stderr, "%d of %d slow connections held\n", held, SLOW);
    assert_int_equal(held, PER_IP_DEFAULT);
    for (int i = 0; i < SLOW; i++)
        close(slow[i]);
}

/* A client that opens a connection per request from many threads, and
 * hangs up itself once it has read each answer: the server reads that
 * close some requests later, and meanwhile the connection still counts
 * against the address, so such a client holds more connections than it
 * uses. With the default per-address limit none of them is refused. */
enum { CHURN_THREADS = 24, CHURN_REQUESTS = 100 };

struct churn {
    int answered, refused;
};

/* One GET /healthz on a new connection from 127.0.0.4: true when the whole
 * answer came (its headers and the Content-Length bytes after them). */
static bool churn_once(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)harness_port()),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096];
    size_t got = 0;
    bool whole = false;
    if (fd < 0)
        return false;
    if (inet_pton(AF_INET, "127.0.0.4", &src.sin_addr) == 1 &&
        bind(fd, (struct sockaddr *)&src, sizeof src) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        while (!whole && got < sizeof buf - 1) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            const char *end = strstr(buf, "\r\n\r\n"), *len = strstr(buf, "Content-Length: ");
            whole = end && len && got >= (size_t)(end + 4 - buf) + strtoul(len + 16, NULL, 10);
        }
    }
    close(fd);
    return whole && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

static void *churn_run(void *arg) {
    struct churn *c = arg;
    for (int i = 0; i < CHURN_REQUESTS; i++) {
        if (churn_once())
            c->answered++;
        else
            c->refused++;
    }
    return NULL;
}

static void test_a_connection_per_request_from_many_threads_is_never_refused(void **state) {
    (void)state;
    static struct churn churns[CHURN_THREADS];
    pthread_t t[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_run, &churns[i]), 0);
    int answered = 0, refused = 0;
    for (int i = 0; i < CHURN_THREADS; i++) {
        pthread_join(t[i], NULL);
        answered += churns[i].answered;
        refused += churns[i].refused;
    }
    if (refused)
        fprintf(stderr, "%d of %d requests got no answer\n", refused, answered + refused);
    assert_int_equal(refused, 0);
    assert_int_equal(answered, CHURN_THREADS * CHURN_REQUESTS);
}

/* Whether the server closed fd within patience_ms while we drip bytes of
 * text (then 'a's) into it every 200 ms; *answered when it sent anything. */
static bool closed_while_dripping(int fd, const char *text, int patience_ms, bool *answered) {
    long long t0 = now_ms();
    *answered = false;
    for (size_t i = 0; now_ms() - t0 < patience_ms; i++) {
        char c = i < strlen(text) ? text[i] : 'a', buf[256];
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
            return true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                return true;
            *answered = true;
        }
    }
    return false;
}

/* A byte every 200 ms never lets the idle timeout fire; the whole-request
 * deadline ends the request anyway, in its headers or in its body. */
static void test_dripping_cannot_outlive_the_request_deadline(void **state) {
    (void)state;
    static const char *const drips[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ",
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n{\"email\": \"",
    };
    for (size_t i = 0; i < sizeof drips / sizeof drips[0]; i++) {
        int fd = open_connection();
        long long t0 = now_ms();
        bool answered;
        bool closed = closed_while_dripping(fd, drips[i], 6 * CONNECTION_TIMEOUT * 1000, &answered);
        long long took = now_ms() - t0;
        fprintf(stderr, "drip %zu: closed %d after %lld ms\n", i, closed, took);
        assert_true(closed);
        assert_false(answered);
        assert_true(took >= (REQUEST_TIMEOUT - 1) * 1000);
        close(fd);
    }
}

/* A route that takes no body refuses one from its headers, before reading
 * it; an empty declared length is no body. */
static void test_body_on_a_route_without_one_is_400(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    expect_status_in(&r, 400, 400, "GET with a body");
    assert_non_null(strstr(reply, "takes no request body"));
    raw_free(&r);
    raw_str(&r, "DELETE /api/v1/products/1 HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    expect_status_in(&r, 400, 401, "DELETE with a chunked body");
    raw_free(&r);
    raw_str(&r, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Length: 0\r\n\r\n");
    expect_status_in(&r, 200, 200, "GET with Content-Length: 0");
    raw_free(&r);
}

/* ---- smuggling ------------------------------------------------------------------ */

/* A register request for email, closing the connection after it. */
static void add_register(struct raw *r, const char *email) {
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"email\":\"%s\",\"password\":\"hostile-password\",\"name\":\"Smuggled\"}",
                     email);
    raw_fmt(r,
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
            n, body);
}

/* A connection to the server whose receive window is small, so that a
 * large answer waits in the server's socket until the client reads. */
static int narrow_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int size = 8192;
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)harness_port()),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *bytes) {
    size_t len = strlen(bytes), sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL);
        assert_true(n > 0);
        sent += (size_t)n;
    }
}

/* A refusal that closes its connection, pipelined behind a large answer,
 * with a next request sent once the server has read both: the server
 * drains what comes after the refusal rather than closing on it unread,
 * which resets the connection and throws away what it had not sent yet
 * (the large answer's end and the refusal). Every refusal that closes
 * (a framing 400, the 414 and the 431) is read whole, then the close. */
static void test_a_closing_refusal_loses_nothing_sent_before_it(void **state) {
    (void)state;
    static char refused[3][40000];
    snprintf(refused[0], sizeof refused[0], "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    int n = snprintf(refused[1], sizeof refused[1], "GET /api/v1/products?q=");
    memset(refused[1] + n, 'x', 21000);
    snprintf(refused[1] + n + 21000, sizeof refused[1] - (size_t)n - 21000,
             " HTTP/1.1\r\nHost: a\r\n\r\n");
    n = snprintf(refused[2], sizeof refused[2], "GET /healthz HTTP/1.1\r\nHost: a\r\n");
    for (int h = 0; h < 33; h++) {
        n += snprintf(refused[2] + n, sizeof refused[2] - (size_t)n, "X-Pad-%d: ", h);
        memset(refused[2] + n, 'p', 900);
        n += 900;
        n += snprintf(refused[2] + n, sizeof refused[2] - (size_t)n, "\r\n");
    }
    snprintf(refused[2] + n, sizeof refused[2] - (size_t)n, "\r\n");
    const char *status[] = {"HTTP/1.1 400 ", "HTTP/1.1 414 ", "HTTP/1.1 431 "};
    static char got[1 << 20];
    for (int i = 0; i < 3; i++) {
        int fd = narrow_connect();
        send_all(fd, "GET /openapi.yaml HTTP/1.1\r\nHost: a\r\n\r\n");
        send_all(fd, refused[i]);
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 30000), 1); /* the large answer began: both were read */
        send_all(fd, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
        size_t len = 0;
        bool reset = false;
        while (len < sizeof got - 1 && poll(&p, 1, 30000) == 1) {
            ssize_t r = recv(fd, got + len, sizeof got - 1 - len, 0);
            reset = r < 0;
            if (r <= 0)
                break;
            len += (size_t)r;
        }
        got[len] = '\0';
        close(fd);
        const char *refusal = strstr(got, status[i]);
        if (reset || !refusal)
            fail_msg("refusal %d: %s after %zu bytes, no \"%s\"", i, reset ? "reset" : "closed",
                     len, refusal ? "" : status[i]);
        assert_non_null(strstr(refusal, "\r\n\r\n{"));
        assert_int_equal(got[len - 1], '}');
    }
}

/* The pipelined register after an accepted request does run: the control
 * that makes "the email does not exist" below mean something. */
static void test_pipelined_request_after_a_normal_one_runs(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    add_register(&r, "pipelined-control@example.com");
    send_raw(&r, 5000);
    assert_int_equal(strncmp(reply, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(reply + 12, "HTTP/1.1 201"));
    assert_int_equal(count_users("pipelined-control@example.com"), 1);
    raw_free(&r);
}

struct smuggle {
    const char *name;
    const char *head;  /* the attempt */
    const char *after; /* non-NULL: head is followed by the length of the rest, then this */
};

static void test_smuggled_request_is_never_executed(void **state) {
    (void)state;
    /* No "Connection: close" on the attempts: if one were accepted, the
     * connection would stay open and the register after it would run. */
#define LOGIN_HEAD                                                                                 \
    "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    static const struct smuggle cases[] = {
        {"two-content-lengths", LOGIN_HEAD "Content-Length: 0\r\nContent-Length: ", "\r\n\r\n"},
        {"content-length-list", LOGIN_HEAD "Content-Length: 0, ", "\r\n\r\n"},
        {"cl-then-te",
         LOGIN_HEAD "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", NULL},
        {"te-then-cl", LOGIN_HEAD "Transfer-Encoding: chunked\r\nContent-Length: ", "\r\n\r\n"},
        {"te-gzip", LOGIN_HEAD "Transfer-Encoding: gzip\r\n\r\n", NULL},
        {"te-gzip-chunked", LOGIN_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", NULL},
        {"te-chunked-bad-size", LOGIN_HEAD "Transfer-Encoding: chunked\r\n\r\nzz\r\n", NULL},
        {"te-chunked-twice",
         LOGIN_HEAD "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         NULL},
        {"te-chunked-then-identity",
         "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
         NULL},
    };
#undef LOGIN_HEAD
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char email[128];
        snprintf(email, sizeof email, "smuggled-%zu@example.com", i);
        struct raw tail = {0}, r = {0};
        add_register(&tail, email);
        raw_str(&r, cases[i].head);
        if (cases[i].after) {
            raw_fmt(&r, "%zu", tail.len);
            raw_str(&r, cases[i].after);
        }
        raw_add(&r, tail.data, tail.len);
        int status = send_raw(&r, 5000);
        /* libmicrohttpd may repeat its own 400 head; no success may follow */
        bool no_success = !strstr(reply + 12, "HTTP/1.1 2");
        long long n = count_users(email);
        if (status != 400 || !no_success || n != 0) {
            fprintf(stderr, "smuggling case %s\n", cases[i].name);
            show("smuggling", &r, status);
        }
        assert_int_equal(status, 400);
        assert_true(no_success);
        assert_int_equal(n, 0);
        raw_free(&tail);
        raw_free(&r);
    }
}

/* A chunked body whose data is a whole request: it stays body. */
static void test_request_inside_chunk_data_stays_body(void **state) {
    (void)state;
    struct raw inner = {0}, r = {0};
    add_register(&inner, "inside-chunk@example.com");
    raw_fmt(&r,
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
            "application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
            inner.len);
    raw_add(&r, inner.data, inner.len);
    raw_str(&r, "\r\n0\r\n\r\n");
    expect_4xx(&r, "request inside chunk data");
    assert_null(strstr(reply + 12, "HTTP/1.1 "));
    assert_int_equal(count_users("inside-chunk@example.com"), 0);
    raw_free(&inner);
    raw_free(&r);
}

/* ---- NUL bytes and invalid UTF-8 ---------------------------------------------- */

struct bad_bytes {
    const char *name;
    const char *bytes;
    size_t len;
};

#define BAD(s)                                                                                     \
    { #s, s, sizeof s - 1 }
static const struct bad_bytes ENCODED[] = {
    BAD("%00"), BAD("a%00b"), BAD("%C3%28"), BAD("%FF"), BAD("%ED%A0%80"), BAD("%F4%90%80%80"),
};
static const struct bad_bytes RAW[] = {
    BAD("\xff"), BAD("a\xff"), BAD("\xc3\x28"), BAD("\xc0\xaf"), BAD("\xed\xa0\x80"),
};

static void test_bad_bytes_in_path_are_4xx(void **state) {
    (void)state;
    static const char *const prefixes[] = {"/api/v1/products/", "/api/v1/categories/",
                                           "/api/v1/users/", "/healthz"};
    for (size_t p = 0; p < 4; p++) {
        for (size_t i = 0; i < sizeof ENCODED / sizeof ENCODED[0]; i++) {
            struct raw r = {0};
            raw_fmt(&r, "GET %s%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", prefixes[p],
                    ENCODED[i].bytes);
            expect_4xx(&r, "percent-encoded bytes in the path");
            raw_free(&r);
        }
        for (size_t i = 0; i < sizeof RAW / sizeof RAW[0]; i++) {
            struct raw r = {0};
            raw_fmt(&r, "GET %s", prefixes[p]);
            raw_add(&r, RAW[i].bytes, RAW[i].len);
            raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            expect_4xx(&r, "raw bytes in the path");
            raw_free(&r);
        }
    }
}

/* libmicrohttpd decodes %2F to a slash before routing; an encoded slash
 * is data inside one segment, so no route matches it (a proxy that filters
 * paths must not be passed by spelling a slash differently). In the query
 * it is just a value. */
static void test_an_encoded_slash_stays_inside_its_segment(void **state) {
    (void)state;
    static const char *const paths[] = {"/api%2Fv1%2Fcategories", "/api/v1/categories%2f",
                                        "/healthz%2F", "/api/v1/users%2Fme"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        expect_problem(call("GET", paths[i], NULL, NULL), 404, NULL);
    struct http_res *r = call("GET", "/api/v1/categories?q=%2F", NULL, NULL);
    expect_status(r, 200, "%2F in the query");
    http_res_free(r);
}

/* RFC 9112: an HTTP/1.0 request may leave Host out, and a target in
 * absolute form names the same resource as its path. */
static void test_http10_and_absolute_targets_are_served(void **state) {
    (void)state;
    static const char *const ok[] = {
        "GET /healthz HTTP/1.0\r\n\r\n",
        "GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET HTTPS://example.org/api/v1/categories?limit=1 HTTP/1.1\r\nHost: example.org\r\n"
        "Connection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct raw r = {0};
        raw_str(&r, ok[i]);
        expect_status_in(&r, 200, 200, "HTTP/1.0 or absolute form");
        raw_free(&r);
    }
    struct raw r = {0};
    raw_str(&r, "GET http://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect_status_in(&r, 404, 404, "the root of an absolute target"); /* "/" is no route */
    raw_free(&r);
    raw_str(&r, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    expect_status_in(&r, 400, 400, "HTTP/1.1 without Host");
    raw_free(&r);
}

/* The server's log line for request id, parsed; NULL if none within
 * timeout_ms (the access line is written as the request completes). */
static json_t *log_line_of(const char *id, int timeout_ms) {
    char needle[128];
    snprintf(needle, sizeof needle, "\"request_id\":\"%s\"", id);
    for (long long deadline = now_ms() + timeout_ms;; sleep_ms(50)) {
        FILE *f = fopen(server.log_path, "r");
        char line[8192];
        json_t *found = NULL;
        while (f && !found && fgets(line, sizeof line, f)) {
            if (!strstr(line, needle))
                continue;
            json_error_t err;
            found = json_loads(line, 0, &err);
            if (!found)
                fail_msg("log line is not JSON (%s): %s", err.text, line);
        }
        if (f)
            fclose(f);
        if (found || now_ms() > deadline)
            return found;
    }
}

/* Bytes that are not UTF-8 in the path still give a valid JSON access line,
 * each of them as U+FFFD. */
static void test_bad_bytes_in_path_leave_a_valid_json_log_line(void **state) {
    (void)state;
    static const struct {
        const char *target, *logged;
    } cases[] = {
        {"/%FF", "/\xef\xbf\xbd"},
        {"/a\xff\xc3\xa9", "/a\xef\xbf\xbd\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[64]; /* new on every run: the log file is appended to */
        snprintf(id, sizeof id, "utf8-log-%d-%lld-%zu", (int)getpid(), now_ms(), i);
        struct raw r = {0};
        raw_fmt(&r, "GET %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n",
                cases[i].target, id);
        expect_4xx(&r, "bytes that are not UTF-8 in the path");
        raw_free(&r);
        json_t *line = log_line_of(id, 10000);
        if (!line)
            fail_msg("no log line for %s", id);
        assert_string_equal(json_string_value(json_object_get(line, "path")), cases[i].logged);
        json_decref(line);
    }
}

/* Each endpoint with the parameters it reads (others are ignored). */
static void test_bad_bytes_in_query_values_are_4xx(void **state) {
    (void)state;
    static const struct {
        const char *path;
        const char *params[8];
    } reads[] = {
        {"/api/v1/products",
         {"q", "category", "sort", "limit", "cursor", "min_price", "in_stock", NULL}},
        {"/api/v1/categories", {"parent", "sort", "limit", "cursor", NULL}},
    };
    for (size_t p = 0; p < 2; p++) {
        const char *const *params = reads[p].params;
        const char *const path = reads[p].path;
        for (size_t k = 0; params[k]; k++) {
            for (size_t i = 0; i < sizeof ENCODED / sizeof ENCODED[0]; i++) {
                struct raw r = {0};
                raw_fmt(&r, "GET %s?%s=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path,
                        params[k], ENCODED[i].bytes);
                expect_4xx(&r, "percent-encoded bytes in a query value");
                raw_free(&r);
            }
            for (size_t i = 0; i < sizeof RAW / sizeof RAW[0]; i++) {
                struct raw r = {0};
                raw_fmt(&r, "GET %s?%s=", path, params[k]);
                raw_add(&r, RAW[i].bytes, RAW[i].len);
                raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                expect_4xx(&r, "raw bytes in a query value");
                raw_free(&r);
            }
        }
    }
}

/* A NUL in the query is the parameters' business: a route that reads the
 * parameter refuses it (above), an unknown one is ignored like any, a
 * name holding one names no parameter (not "limit" for "limit%00x"), and
 * route and authentication come first. It was a 400 for the whole target. */
static void test_a_nul_in_the_query_is_the_parameters_business(void **state) {
    (void)state;
    expect_problem(call("GET", "/api/v1/nope?x=%00", NULL, NULL), 404, NULL);
    expect_problem(call("GET", "/api/v1/users?x=%00", NULL, NULL), 401, NULL);
    expect_problem(call("GET", "/api/v1/categories%00", NULL, NULL), 400, NULL);
    free(harness_sql_value(&server, "WITH c AS (INSERT INTO categories (name, slug) VALUES"
                                    " ('Nul one', 'nul-one'), ('Nul two', 'nul-two') RETURNING 1)"
                                    " SELECT count(*) FROM c"));
    struct http_res *plain = call("GET", "/api/v1/categories?sort=-created_at", NULL, NULL);
    expect_status(plain, 200, "the list");
    assert_true(json_array_size(json_object_get(plain->json, "items")) >= 2);
    static const char *const ignored[] = {"&utm=%00", "&limit%00x=1", "&%00=1"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/categories?sort=-created_at%s", ignored[i]);
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, path);
        assert_int_equal(r->len, plain->len);
        assert_memory_equal(r->body, plain->body, plain->len);
        http_res_free(r);
    }
    http_res_free(plain);
}

/* Each header on a request it matters to, so the answer is a 4xx either
 * way: the bad value is refused, or ignored and the request still is. */
static void test_bad_bytes_in_header_values_are_4xx(void **state) {
    (void)state;
    static const struct {
        const char *header;
        const char *request; /* up to the header */
        const char *rest;    /* after it */
    } cases[] = {
        {"Authorization: Bearer ",
         "GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", "\r\n\r\n"},
        {"Authorization: ", "GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
         "\r\n\r\n"},
        {"Content-Type: application/json",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
         "\r\nContent-Length: 2\r\n\r\n{}"},
        {"Content-Type: ", "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
         "\r\nContent-Length: 2\r\n\r\n{}"},
        {"X-Request-Id: ", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", "\r\n\r\n"},
        {"If-None-Match: \"",
         "GET /api/v1/products/999999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", "\"\r\n\r\n"},
        {"If-Match: \"", "PATCH /api/v1/products/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
         "\"\r\n\r\n"},
        {"Origin: http://", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", "\r\n\r\n"},
        {"X-Forwarded-For: ",
         "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
         "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"},
    };
    static const struct bad_bytes values[] = {
        BAD("a\0b"), BAD("\0"), BAD("\xff\xfe"), BAD("\xc3\x28"), BAD("%00"),
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            struct raw r = {0};
            raw_str(&r, cases[c].request);
            raw_str(&r, cases[c].header);
            raw_add(&r, values[v].bytes, values[v].len);
            raw_str(&r, cases[c].rest);
            expect_4xx(&r, "bad bytes in a header value");
            raw_free(&r);
        }
}

static void post_body(const char *path, const void *body, size_t len, struct raw *r) {
    raw_fmt(r,
            "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\n\r\n",
            path, len);
    raw_add(r, body, len);
}

static void test_bad_bytes_in_json_bodies_are_4xx(void **state) {
    (void)state;
    static const struct bad_bytes bodies[] = {
        BAD("{\"email\":\"a\\u0000@example.com\",\"password\":\"hostile-password\",\"name\":"
            "\"N\"}"),
        BAD("{\"email\":\"nul@example.com\",\"password\":\"hostile\\u0000password\",\"name\":"
            "\"N\"}"),
        BAD("{\"email\":\"nul2@example.com\",\"password\":\"hostile-password\",\"name\":"
            "\"N\\u0000\"}"),
        BAD("{\"email\":\"raw\0@example.com\",\"password\":\"hostile-password\",\"name\":\"N\"}"),
        BAD("{\"email\":\"raw@example.com\",\"password\":\"hostile-password\",\"name\":\"N\"}\0"),
        BAD("\0{}"),
        BAD("{\"email\":\"\xff@example.com\",\"password\":\"hostile-password\",\"name\":\"N\"}"),
        BAD("{\"email\":\"ff@example.com\",\"password\":\"hostile\xc3\x28password\",\"name\":"
            "\"N\"}"),
        BAD("{\"email\":\"sur@example.com\",\"password\":\"hostile-password\",\"name\":"
            "\"\xed\xa0\x80\"}"),
        BAD("{\"email\":\"lone@example.com\",\"password\":\"hostile-password\",\"name\":"
            "\"\\ud800\"}"),
        BAD("{\"\xff\":1}"),
        BAD("{\"name\\u0000\":1}"),
    };
    static const char *const paths[] = {"/api/v1/auth/register", "/api/v1/auth/login"};
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
            struct raw r = {0};
            post_body(paths[p], bodies[i].bytes, bodies[i].len, &r);
            expect_4xx(&r, "bad bytes in a JSON body");
            raw_free(&r);
        }
    /* nothing of it was stored */
    char *out = harness_sql(&server, "SELECT count(*) FROM users WHERE email LIKE '%nul%' "
                                     "OR email LIKE '%raw%' OR email LIKE '%sur%'");
    assert_non_null(out);
    assert_string_equal(out, "0");
    free(out);
}

/* ---- structure and size of what is well-formed -------------------------------- */

/* A NUL written \u0000 is valid JSON but no field's value: a 422 naming
 * the field, not "malformed JSON". */
static void test_a_nul_in_a_string_is_its_fields_error(void **state) {
    (void)state;
    expect_problem(call("POST", "/api/v1/auth/register", NULL,
                        "{\"email\": \"nul@example.com\", \"password\": \"long\\u0000password\","
                        " \"name\": \"N\"}"),
                   422, "password");
    /* a key holding one too: the key is the field at fault */
    expect_problem(call("POST", "/api/v1/auth/register", NULL,
                        "{\"email\": \"nulkey@example.com\", \"password\": \"long-password\","
                        " \"name\": \"N\", \"x\\u0000\": 1}"),
                   422, "x\\u0000");
}

static void test_deeply_nested_json_is_400(void **state) {
    (void)state;
    enum { DEPTH = 100000 };
    char *body = malloc(5 * DEPTH);
    struct raw r = {0};
    memset(body, '[', DEPTH); /* arrays, closed */
    memset(body + DEPTH, ']', DEPTH);
    post_body("/api/v1/auth/register", body, 2 * DEPTH, &r);
    int status = send_raw(&r, 10000);
    assert_int_equal(status, 400);
    raw_free(&r);
    for (size_t i = 0; i < DEPTH; i++) /* objects, never closed: 500 KB */
        memcpy(body + 5 * i, "{\"a\":", 5);
    post_body("/api/v1/auth/login", body, 5 * DEPTH, &r);
    status = send_raw(&r, 10000);
    assert_int_equal(status, 400);
    raw_free(&r);
    free(body);
}

static void test_ten_kilobyte_query_strings_get_an_answer(void **state) {
    (void)state;
    static const char *const paths[] = {"/api/v1/products", "/api/v1/categories", "/healthz",
                                        "/api/v1/products/1"};
    char big[10241], part[257];
    memset(big, 'a', 10240);
    big[10240] = '\0';
    memset(part, 'b', 256);
    part[256] = '\0';
    for (size_t p = 0; p < 4; p++) {
        struct raw r = {0};
        raw_fmt(&r, "GET %s?q=", paths[p]);
        raw_str(&r, big);
        raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        expect_status_in(&r, 200, 499, "one 10 KB query value");
        raw_free(&r);

        raw_fmt(&r, "GET %s?", paths[p]); /* 40 parameters of 256 bytes */
        for (int i = 0; i < 40; i++)
            raw_fmt(&r, "%sp%d=%s", i ? "&" : "", i, part);
        raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        expect_status_in(&r, 200, 499, "10 KB in 40 query parameters");
        raw_free(&r);

        raw_fmt(&r, "GET %s?", paths[p]); /* more parameters than are read: 400 */
        for (int i = 0; i < 80; i++)
            raw_fmt(&r, "%sp%d=%.120s", i ? "&" : "", i, part);
        raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        expect_status_in(&r, 200, 499, "10 KB in 80 query parameters");
        raw_free(&r);
    }
}

/* Thousands of tiny parameters would exhaust libmicrohttpd's per-connection
 * memory while it parses them (and it would then answer nothing); the
 * server cuts such a query off before the library parses it and answers
 * 400. Without the cut, no answer comes at all: the connection ends
 * unanswered, or at the request deadline, which also sends nothing. */
static void test_thousands_of_query_parameters_are_a_400(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "GET /api/v1/products?");
    for (int i = 0; r.len < 10240; i++)
        raw_str(&r, i ? "&a" : "a");
    raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(send_raw(&r, 30000), 400);
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
    raw_free(&r);
}

/* Empty pieces of a query ("&&") are no parameters: however many, they
 * count for nothing, on a miss and on a hit alike, and 64 real ones
 * around them are still read. */
static void test_empty_query_pieces_are_not_parameters(void **state) {
    (void)state;
    static const char *const paths[] = {"/api/v1/products?q=lamp", "/api/v1/products?",
                                        "/api/v1/categories?"};
    for (size_t p = 0; p < 3; p++)
        for (int pass = 0; pass < 2; pass++) { /* a miss, then what the cache holds */
            struct raw r = {0};
            raw_str(&r, "GET ");
            raw_str(&r, paths[p]);
            for (int i = 0; i < 200; i++)
                raw_str(&r, "&");
            raw_str(&r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assert_int_equal(send_raw(&r, 5000), 200);
            raw_free(&r);
        }
    struct raw r = {0};
    raw_str(&r, "GET /api/v1/products?");
    for (int i = 0; i < 64; i++)
        raw_fmt(&r, "&&p%d=1", i);
    raw_str(&r, "&&limit=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(send_raw(&r, 5000), 400); /* 65 real ones: too many */
    raw_free(&r);
}

/* A GET whose target is target_len bytes long (when the parts below fit):
 * /api/v1/products with pieces query pieces, up to 64 parameters and the
 * rest empty, or a path under it without a query for 0 pieces; and, when
 * header_len is not 0, an Authorization header line of that many bytes. */
static void sized_request(struct raw *r, size_t target_len, int pieces, size_t header_len) {
    int params = pieces <= 65 ? pieces : 64;
    raw_str(r, pieces ? "GET /api/v1/products?" : "GET /api/v1/products/");
    for (int i = 0; i < params - 1; i++)
        raw_fmt(r, "p%d=1&", i);
    for (int i = params; i < pieces; i++)
        raw_str(r, "&");
    raw_str(r, pieces ? "q=" : "");
    size_t fill = target_len + 4 > r->len ? target_len + 4 - r->len : 0;
    char *filler = malloc(fill + header_len + 1);
    assert_non_null(filler);
    memset(filler, 'a', fill + header_len);
    raw_add(r, filler, fill);
    raw_str(r, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if (header_len) {
        raw_str(r, "Authorization: Bearer ");
        raw_add(r, filler, header_len - strlen("Authorization: Bearer \r\n"));
        raw_str(r, "\r\n");
    }
    raw_str(r, "\r\n");
    free(filler);
}

/* libmicrohttpd reads a request's line and headers, and a record for each
 * query piece and header, into 32 KiB per connection, and writes the
 * answer's headers into what is left. Near that bound it answered nothing:
 * with 64 parameters beside a long target it had no room for their
 * records and closed the connection (or let it hang), and a target a few
 * hundred bytes short of 32 KiB left no room for any answer. Every length
 * across the bound gets an answer now: a 414 past 20 KiB (each query
 * piece counting 64 bytes), a 431 past 30 KiB of line and headers, never
 * a connection closed or left open without a status line, and never two
 * status lines (the library's own refusal, then the server's). */
static void test_every_target_length_gets_an_answer(void **state) {
    (void)state;
    static const int pieces[] = {0, 64, 65, 256, 257};
    static const size_t headers[] = {0, 16 * 1024};
    size_t served_too_long = 0; /* a target past the bound that was not refused */
    for (size_t h = 0; h < 2; h++)
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++)
            for (size_t len = 8 * 1024; len <= 40 * 1024; len += 512) {
                struct raw r = {0};
                sized_request(&r, len, pieces[p], headers[h]);
                /* the server answers or closes; 20 s without either is the hang */
                int status = send_raw(&r, 20000);
                bool known = status == 200 || status == 400 || status == 401 || status == 404 ||
                             status == 414 || status == 431;
                bool refused = status == 414 || status == 431;
                bool one_answer = !strstr(reply + 8, "HTTP/1.1 "); /* never a second */
                if (!known || !one_answer || (len > 20 * 1024 && !refused)) {
                    fprintf(stderr, "target of %zu bytes, %d pieces, %zu-byte header\n", len,
                            pieces[p], headers[h]);
                    show("a sized request", &r, status);
                }
                assert_true(known);
                assert_true(one_answer);
                if (len > 20 * 1024 && !refused && !served_too_long)
                    served_too_long = len;
                raw_free(&r);
            }
    assert_int_equal(served_too_long, 0);
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
}

static void test_unknown_methods_are_4xx(void **state) {
    (void)state;
    static const char *const lines[] = {
        "BREW /healthz HTTP/1.1",
        "PROPFIND /api/v1/products HTTP/1.1",
        "get /healthz HTTP/1.1",
        "FOO /nope HTTP/1.1",
        "TRACE / HTTP/1.1",
        "CONNECT localhost:443 HTTP/1.1",
        "G\x01T /healthz HTTP/1.1",
        "POSTPOSTPOSTPOSTPOSTPOSTPOSTPOSTPOSTPOST /api/v1/products HTTP/1.1",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct raw r = {0};
        raw_fmt(&r, "%s\r\nHost: x\r\nConnection: close\r\n\r\n", lines[i]);
        int status = send_raw(&r, 5000);
        if (status != 400 && status != 404 && status != 405)
            show("unknown method", &r, status);
        assert_true(status == 400 || status == 404 || status == 405);
        raw_free(&r);
    }
}

/* A name that fills the slug exactly, then one more word: the derived slug
 * is cut at the word end (and must not overrun its buffer doing so). */
static void test_long_category_name_derives_a_fitting_slug(void **state) {
    (void)state;
    char out[1024];
    int rc = harness_run(&server, NULL,
                         (const char *[]){"user", "create", "--email", "hostile-staff@example.com",
                                          "--role", "staff", NULL},
                         "hostile-password\n", out, sizeof out);
    assert_int_equal(rc, 0);
    struct http_res *login = http_expect(
        "POST", "/api/v1/auth/login", NULL,
        "{\"email\":\"hostile-staff@example.com\",\"password\":\"hostile-password\"}", 200);
    const char *token = json_string_value(json_object_get(login->json, "access_token"));
    assert_non_null(token);
    char body[512], slug[128];
    memset(slug, 'a', 100);
    slug[100] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s b\"}", slug);
    struct http_res *r = http_expect("POST", "/api/v1/categories", token, body, 201);
    assert_string_equal(json_string_value(json_object_get(r->json, "slug")), slug);
    http_res_free(r);
    http_res_free(login);
}

/* A chunked body whose trailers overflow the library's memory gets the
 * library's own 431, whole, and nothing after it: the server's bare
 * status line is for its own refusals only. */
static void test_oversized_trailers_get_one_answer(void **state) {
    (void)state;
    struct raw r = {0};
    raw_str(&r, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\n{}\r\n0\r\nX-T: ");
    char *filler = malloc(40000);
    assert_non_null(filler);
    memset(filler, 'a', 40000);
    raw_add(&r, filler, 40000);
    free(filler);
    raw_str(&r, "\r\n\r\n");
    int status = send_raw(&r, 20000);
    if (status != 431 || strstr(reply + 8, "HTTP/1.1 "))
        show("oversized trailers", &r, status);
    assert_int_equal(status, 431);
    assert_null(strstr(reply + 8, "HTTP/1.1 "));
    raw_free(&r);
}

static void test_server_is_still_healthy(void **state) {
    (void)state;
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
    struct http_res *r = http_expect("GET", "/readyz", NULL, NULL, 200);
    http_res_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_over_limit_is_431),
        cmocka_unit_test(test_url_over_limit_is_414),
        cmocka_unit_test(test_declared_body_over_cap_is_413),
        cmocka_unit_test(test_chunked_body_over_cap_is_413),
        cmocka_unit_test_teardown(test_slow_and_idle_clients_do_not_block_others, stop_patient),
        cmocka_unit_test(test_a_connection_per_request_from_many_threads_is_never_refused),
        cmocka_unit_test_teardown(test_a_thousand_slow_connections_do_not_starve_others,
                                  stop_patient),
        cmocka_unit_test(test_dripping_cannot_outlive_the_request_deadline),
        cmocka_unit_test(test_body_on_a_route_without_one_is_400),
        cmocka_unit_test(test_pipelined_request_after_a_normal_one_runs),
        cmocka_unit_test(test_a_closing_refusal_loses_nothing_sent_before_it),
        cmocka_unit_test(test_smuggled_request_is_never_executed),
        cmocka_unit_test(test_request_inside_chunk_data_stays_body),
        cmocka_unit_test(test_bad_bytes_in_path_are_4xx),
        cmocka_unit_test(test_an_encoded_slash_stays_inside_its_segment),
        cmocka_unit_test(test_http10_and_absolute_targets_are_served),
        cmocka_unit_test(test_bad_bytes_in_path_leave_a_valid_json_log_line),
        cmocka_unit_test(test_bad_bytes_in_query_values_are_4xx),
        cmocka_unit_test(test_a_nul_in_the_query_is_the_parameters_business),
        cmocka_unit_test(test_bad_bytes_in_header_values_are_4xx),
        cmocka_unit_test(test_bad_bytes_in_json_bodies_are_4xx),
        cmocka_unit_test(test_a_nul_in_a_string_is_its_fields_error),
        cmocka_unit_test(test_deeply_nested_json_is_400),
        cmocka_unit_test(test_ten_kilobyte_query_strings_get_an_answer),
        cmocka_unit_test(test_thousands_of_query_parameters_are_a_400),
        cmocka_unit_test(test_empty_query_pieces_are_not_parameters),
        cmocka_unit_test(test_every_target_length_gets_an_answer),
        cmocka_unit_test(test_oversized_trailers_get_one_answer),
        cmocka_unit_test(test_unknown_methods_are_4xx),
        cmocka_unit_test(test_long_category_name_derives_a_fitting_slug),
        cmocka_unit_test(test_server_is_still_healthy),
    };
    return cmocka_run_group_tests_name("hostile", tests, start, stop);
}
