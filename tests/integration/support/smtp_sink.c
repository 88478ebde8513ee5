/*
 * smtp_sink.c -- a small SMTP server for tests (see smtp_sink.h).
 */
#include "smtp_sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES  1000 /* including CRLF */
#define IDLE_TIMEOUT_MS 30000
#define TICK_MS         50

struct conn_slot {
    struct smtp_sink *sink;
    pthread_t thread;
    int fd;
    bool used;
    bool finished;
};

struct smtp_sink {
    int listen_fd;
    int port;
    pthread_t accept_thread;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct smtp_message *msgs;
    size_t count, cap;
    size_t received;
    int fail_left; /* < 0: fail every one */
    int fail_code;
    char refuse_rcpt[320]; /* "": refuse none */
    int refuse_code;
    int delay_ms;
    struct conn_slot conns[SMTP_SINK_MAX_CONNS];
};

/* ---- small helpers -------------------------------------------------------- */

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool send_all(int fd, const char *s) {
    size_t len = strlen(s), sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, s + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        sent += (size_t)n;
    }
    return true;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void deadline_after(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- line reader ---------------------------------------------------------- */

struct reader {
    struct smtp_sink *sink;
    int fd;
    char buf[4096];
    size_t start, end;
};

enum line_result { LINE_OK, LINE_TOO_LONG, LINE_EOF };

/* Fill the buffer; false on EOF, error, idle timeout or stop. */
static bool fill(struct reader *r) {
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    int idle = 0;
    while (!atomic_load(&r->sink->stopping) && idle < IDLE_TIMEOUT_MS) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int n = poll(&p, 1, TICK_MS);
        if (n < 0 && errno != EINTR)
            return false;
        if (n <= 0) {
            idle += TICK_MS;
            continue;
        }
        ssize_t got = recv(r->fd, r->buf + r->end, sizeof r->buf - r->end, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        r->end += (size_t)got;
        return true;
    }
    return false;
}

/* Read one line without its CRLF (or bare LF) into line (cap bytes,
 * NUL-terminated). A line longer than LINE_MAX_BYTES is consumed whole
 * and reported as LINE_TOO_LONG. */
static enum line_result read_line(struct reader *r, char *line, size_t cap, size_t *len) {
    size_t n = 0;
    bool too_long = false;
    for (;;) {
        while (r->start < r->end) {
            char c = r->buf[r->start++];
            if (c == '\n') {
                if (n > 0 && line[n - 1] == '\r')
                    n--;
                line[n] = '\0';
                *len = n;
                return too_long ? LINE_TOO_LONG : LINE_OK;
            }
            if (n + 1 < cap && n + 1 < LINE_MAX_BYTES)
                line[n++] = c;
            else
                too_long = true;
        }
        if (r->end == sizeof r->buf && r->start == r->end)
            r->start = r->end = 0;
        if (!fill(r))
            return LINE_EOF;
    }
}

/* ---- one SMTP session ----------------------------------------------------- */

struct txn {
    char *from;
    char **rcpt;
    size_t rcpt_count;
    bool in_mail;
};

static void txn_reset(struct txn *t) {
    free(t->from);
    for (size_t i = 0; i < t->rcpt_count; i++)
        free(t->rcpt[i]);
    free(t->rcpt);
    memset(t, 0, sizeof *t);
}

/* "VERB" at the start of line, case-insensitively, followed by the end or
 * a space. */
static bool is_verb(const char *line, const char *verb) {
    size_t n = strlen(verb);
    return strncasecmp(line, verb, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

/* The address after "MAIL FROM:" / "RCPT TO:" (prefix given): inside <>
 * when present, else up to the first space. NULL if malformed. */
static char *parse_path(const char *line, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncasecmp(line, prefix, n) != 0)
        return NULL;
    const char *p = line + n;
    while (*p == ' ')
        p++;
    if (*p == '<') {
        const char *end = strchr(p + 1, '>');
        return end ? dup_n(p + 1, (size_t)(end - p - 1)) : NULL;
    }
    size_t len = strcspn(p, " ");
    return len ? dup_n(p, len) : NULL;
}

struct data_buf {
    char *data;
    size_t len, cap;
    bool too_big;
};

static void data_append(struct data_buf *d, const char *s, size_t n) {
    if (d->too_big)
        return;
    if (d->len + n + 1 > SMTP_SINK_MAX_MESSAGE) {
        d->too_big = true;
        return;
    }
    if (d->len + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < d->len + n + 1)
            cap *= 2;
        char *grown = realloc(d->data, cap);
        if (!grown) {
            d->too_big = true;
            return;
        }
        d->data = grown;
        d->cap = cap;
    }
    memcpy(d->data + d->len, s, n);
    d->len += n;
    d->data[d->len] = '\0';
}

/* Read the message up to the lone ".", undoing dot-stuffing. False when
 * the connection ended first. */
static bool read_data(struct reader *r, struct data_buf *d) {
    char line[LINE_MAX_BYTES + 1];
    size_t len;
    for (;;) {
        enum line_result lr = read_line(r, line, sizeof line, &len);
        if (lr == LINE_EOF)
            return false;
        if (lr == LINE_TOO_LONG) {
            d->too_big = true; /* RFC 5321 4.5.3.1.6: a line is at most 1000 bytes */
            continue;
        }
        if (len == 1 && line[0] == '.')
            return true;
        const char *s = line[0] == '.' ? line + 1 : line;
        data_append(d, s, len - (size_t)(s - line));
        data_append(d, "\r\n", 2);
    }
}

static void store(struct smtp_sink *sink, struct txn *t, struct data_buf *d) {
    if (sink->count == sink->cap) {
        size_t cap = sink->cap ? sink->cap * 2 : 64;
        struct smtp_message *grown = realloc(sink->msgs, cap * sizeof *grown);
        if (!grown)
            return;
        sink->msgs = grown;
        sink->cap = cap;
    }
    struct smtp_message *m = &sink->msgs[sink->count++];
    m->from = t->from;
    m->rcpt = t->rcpt;
    m->rcpt_count = t->rcpt_count;
    m->data = d->data ? d->data : dup_n("", 0);
    m->len = d->len;
    memset(t, 0, sizeof *t);
    memset(d, 0, sizeof *d);
}

/* DATA: take the message, wait as told, then accept, refuse or store. */
static bool do_data(struct smtp_sink *sink, struct reader *r, struct txn *t) {
    struct data_buf d = {0};
    if (!send_all(r->fd, "354 End data with <CR><LF>.<CR><LF>\r\n"))
        return false;
    if (!read_data(r, &d)) {
        free(d.data);
        return false;
    }
    pthread_mutex_lock(&sink->mu);
    sink->received++;
    int delay = sink->delay_ms;
    pthread_cond_broadcast(&sink->cond);
    pthread_mutex_unlock(&sink->mu);
    for (int waited = 0; waited < delay && !atomic_load(&sink->stopping); waited += TICK_MS)
        sleep_ms(delay - waited < TICK_MS ? delay - waited : TICK_MS);

    char reply[128];
    pthread_mutex_lock(&sink->mu);
    if (d.too_big) {
        snprintf(reply, sizeof reply, "552 5.3.4 message too big\r\n");
    } else if (sink->fail_left != 0) {
        snprintf(reply, sizeof reply, "%d %s\r\n", sink->fail_code,
                 sink->fail_code < 500 ? "4.3.0 try again later" : "5.7.1 rejected");
        if (sink->fail_left > 0)
            sink->fail_left--;
    } else {
        snprintf(reply, sizeof reply, "250 2.0.0 OK queued as %zu\r\n", sink->count + 1);
        store(sink, t, &d);
        pthread_cond_broadcast(&sink->cond);
    }
    pthread_mutex_unlock(&sink->mu);
    free(d.data);
    txn_reset(t);
    return send_all(r->fd, reply);
}

/* Whether RCPT TO:<to> is to be refused, with the reply into reply. */
static bool refused_rcpt(struct smtp_sink *sink, const char *to, char *reply, size_t cap) {
    pthread_mutex_lock(&sink->mu);
    bool refuse = sink->refuse_rcpt[0] && strcmp(sink->refuse_rcpt, to) == 0;
    if (refuse)
        snprintf(reply, cap, "%d %s\r\n", sink->refuse_code,
                 sink->refuse_code < 500 ? "4.2.1 mailbox busy" : "5.1.1 no such user");
    pthread_mutex_unlock(&sink->mu);
    return refuse;
}

/* One command; false to end the session. */
static bool command(struct smtp_sink *sink, struct reader *r, struct txn *t, const char *line) {
    int fd = r->fd;
    char reply[128];
    if (is_verb(line, "EHLO")) {
        txn_reset(t);
        return send_all(fd, "250-127.0.0.1 nexus test sink\r\n250-8BITMIME\r\n"
                            "250 SIZE 1048576\r\n");
    }
    if (is_verb(line, "HELO")) {
        txn_reset(t);
        return send_all(fd, "250 127.0.0.1 nexus test sink\r\n");
    }
    if (strncasecmp(line, "MAIL ", 5) == 0) {
        if (t->in_mail)
            return send_all(fd, "503 5.5.1 nested MAIL command\r\n");
        char *from = parse_path(line, "MAIL FROM:");
        if (!from)
            return send_all(fd, "501 5.5.4 syntax: MAIL FROM:<address>\r\n");
        t->from = from;
        t->in_mail = true;
        return send_all(fd, "250 2.1.0 OK\r\n");
    }
    if (strncasecmp(line, "RCPT ", 5) == 0) {
        if (!t->in_mail)
            return send_all(fd, "503 5.5.1 need MAIL before RCPT\r\n");
        if (t->rcpt_count == SMTP_SINK_MAX_RECIPIENTS)
            return send_all(fd, "452 4.5.3 too many recipients\r\n");
        char *to = parse_path(line, "RCPT TO:");
        if (!to)
            return send_all(fd, "501 5.5.4 syntax: RCPT TO:<address>\r\n");
        if (refused_rcpt(sink, to, reply, sizeof reply)) {
            free(to);
            return send_all(fd, reply);
        }
        char **grown = realloc(t->rcpt, (t->rcpt_count + 1) * sizeof *grown);
        if (!grown) {
            free(to);
            return send_all(fd, "452 4.3.1 out of memory\r\n");
        }
        t->rcpt = grown;
        t->rcpt[t->rcpt_count++] = to;
        return send_all(fd, "250 2.1.5 OK\r\n");
    }
    if (is_verb(line, "DATA")) {
        if (!t->in_mail || t->rcpt_count == 0)
            return send_all(fd, "503 5.5.1 need RCPT before DATA\r\n");
        return do_data(sink, r, t);
    }
    if (is_verb(line, "RSET")) {
        txn_reset(t);
        return send_all(fd, "250 2.0.0 OK\r\n");
    }
    if (is_verb(line, "NOOP"))
        return send_all(fd, "250 2.0.0 OK\r\n");
    if (is_verb(line, "VRFY"))
        return send_all(fd, "252 2.5.0 cannot verify, will attempt delivery\r\n");
    if (is_verb(line, "QUIT")) {
        send_all(fd, "221 2.0.0 bye\r\n");
        return false;
    }
    return send_all(fd, "500 5.5.1 command not recognised\r\n");
}

static void *conn_main(void *arg) {
    struct conn_slot *slot = arg;
    struct smtp_sink *sink = slot->sink;
    struct reader *r = calloc(1, sizeof *r);
    struct txn t = {0};
    char line[LINE_MAX_BYTES + 1];
    size_t len;
    if (r) {
        r->sink = sink;
        r->fd = slot->fd;
        bool go = send_all(r->fd, "220 127.0.0.1 nexus test sink ESMTP ready\r\n");
        while (go) {
            enum line_result lr = read_line(r, line, sizeof line, &len);
            if (lr == LINE_EOF)
                break;
            go = lr == LINE_TOO_LONG ? send_all(r->fd, "500 5.5.2 line too long\r\n")
                                     : command(sink, r, &t, line);
        }
    }
    txn_reset(&t);
    free(r);
    pthread_mutex_lock(&sink->mu);
    slot->finished = true;
    pthread_mutex_unlock(&sink->mu);
    return NULL;
}

/* ---- listener ------------------------------------------------------------- */

/* Join finished connection threads; a free slot, or NULL. Called with mu
 * held. */
static struct conn_slot *free_slot(struct smtp_sink *sink) {
    struct conn_slot *found = NULL;
    for (size_t i = 0; i < SMTP_SINK_MAX_CONNS; i++) {
        struct conn_slot *s = &sink->conns[i];
        if (s->used && s->finished) {
            pthread_join(s->thread, NULL);
            close(s->fd);
            s->used = false;
        }
        if (!s->used && !found)
            found = s;
    }
    return found;
}

static void *accept_main(void *arg) {
    struct smtp_sink *sink = arg;
    while (!atomic_load(&sink->stopping)) {
        struct pollfd p = {.fd = sink->listen_fd, .events = POLLIN};
        if (poll(&p, 1, TICK_MS) <= 0)
            continue;
        int fd = accept(sink->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&sink->mu);
        struct conn_slot *slot = free_slot(sink);
        if (slot) {
            slot->sink = sink;
            slot->fd = fd;
            slot->used = true;
            slot->finished = false;
            if (pthread_create(&slot->thread, NULL, conn_main, slot) != 0)
                slot->used = false;
        }
        pthread_mutex_unlock(&sink->mu);
        if (!slot || !slot->used) {
            send_all(fd, "421 4.3.2 too many connections\r\n");
            close(fd);
        }
    }
    return NULL;
}

struct smtp_sink *smtp_sink_start(void) {
    struct smtp_sink *sink = calloc(1, sizeof *sink);
    if (!sink)
        return NULL;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    sink->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sink->listen_fd < 0 || bind(sink->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(sink->listen_fd, 64) != 0 ||
        getsockname(sink->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        if (sink->listen_fd >= 0)
            close(sink->listen_fd);
        free(sink);
        return NULL;
    }
    sink->port = ntohs(a.sin_port);
    atomic_init(&sink->stopping, 0);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sink->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&sink->mu, NULL);
    if (pthread_create(&sink->accept_thread, NULL, accept_main, sink) != 0) {
        close(sink->listen_fd);
        pthread_cond_destroy(&sink->cond);
        pthread_mutex_destroy(&sink->mu);
        free(sink);
        return NULL;
    }
    return sink;
}

int smtp_sink_port(const struct smtp_sink *sink) {
    return sink->port;
}

size_t smtp_sink_count(struct smtp_sink *sink) {
    pthread_mutex_lock(&sink->mu);
    size_t n = sink->count;
    pthread_mutex_unlock(&sink->mu);
    return n;
}

size_t smtp_sink_received(struct smtp_sink *sink) {
    pthread_mutex_lock(&sink->mu);
    size_t n = sink->received;
    pthread_mutex_unlock(&sink->mu);
    return n;
}

bool smtp_sink_message(struct smtp_sink *sink, size_t i, struct smtp_message *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&sink->mu);
    bool found = i < sink->count;
    if (found) {
        const struct smtp_message *m = &sink->msgs[i];
        out->from = dup_n(m->from, strlen(m->from));
        out->rcpt = calloc(m->rcpt_count + 1, sizeof *out->rcpt);
        for (size_t k = 0; out->rcpt && k < m->rcpt_count; k++)
            out->rcpt[k] = dup_n(m->rcpt[k], strlen(m->rcpt[k]));
        out->rcpt_count = out->rcpt ? m->rcpt_count : 0;
        out->data = dup_n(m->data, m->len);
        out->len = m->len;
    }
    pthread_mutex_unlock(&sink->mu);
    return found;
}

void smtp_message_clear(struct smtp_message *m) {
    free(m->from);
    for (size_t i = 0; i < m->rcpt_count; i++)
        free(m->rcpt[i]);
    free(m->rcpt);
    free(m->data);
    memset(m, 0, sizeof *m);
}

static bool wait_for(struct smtp_sink *sink, const size_t *counter, size_t n, int timeout_ms) {
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&sink->mu);
    int rc = 0;
    while (*counter < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&sink->cond, &sink->mu, &deadline);
    bool ok = *counter >= n;
    pthread_mutex_unlock(&sink->mu);
    return ok;
}

bool smtp_sink_wait_count(struct smtp_sink *sink, size_t n, int timeout_ms) {
    return wait_for(sink, &sink->count, n, timeout_ms);
}

bool smtp_sink_wait_received(struct smtp_sink *sink, size_t n, int timeout_ms) {
    return wait_for(sink, &sink->received, n, timeout_ms);
}

void smtp_sink_fail_next(struct smtp_sink *sink, int n, int code) {
    pthread_mutex_lock(&sink->mu);
    sink->fail_left = n;
    sink->fail_code = code;
    pthread_mutex_unlock(&sink->mu);
}

void smtp_sink_refuse_rcpt(struct smtp_sink *sink, const char *address, int code) {
    pthread_mutex_lock(&sink->mu);
    snprintf(sink->refuse_rcpt, sizeof sink->refuse_rcpt, "%s", address ? address : "");
    sink->refuse_code = code;
    pthread_mutex_unlock(&sink->mu);
}

void smtp_sink_delay_ms(struct smtp_sink *sink, int ms) {
    pthread_mutex_lock(&sink->mu);
    sink->delay_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&sink->mu);
}

static void free_messages(struct smtp_sink *sink) {
    for (size_t i = 0; i < sink->count; i++)
        smtp_message_clear(&sink->msgs[i]);
    sink->count = 0;
}

void smtp_sink_reset(struct smtp_sink *sink) {
    pthread_mutex_lock(&sink->mu);
    free_messages(sink);
    sink->received = 0;
    sink->fail_left = 0;
    sink->fail_code = 0;
    sink->refuse_rcpt[0] = '\0';
    sink->refuse_code = 0;
    sink->delay_ms = 0;
    pthread_mutex_unlock(&sink->mu);
}

void smtp_sink_stop(struct smtp_sink *sink) {
    if (!sink)
        return;
    atomic_store(&sink->stopping, 1);
    pthread_join(sink->accept_thread, NULL);
    close(sink->listen_fd);
    pthread_mutex_lock(&sink->mu);
    for (size_t i = 0; i < SMTP_SINK_MAX_CONNS; i++)
        if (sink->conns[i].used)
            shutdown(sink->conns[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&sink->mu);
    for (size_t i = 0; i < SMTP_SINK_MAX_CONNS; i++) {
        struct conn_slot *s = &sink->conns[i];
        if (s->used) { /* no other thread touches slots once accept_main ended */
            pthread_join(s->thread, NULL);
            close(s->fd);
            s->used = false;
        }
    }
    free_messages(sink);
    free(sink->msgs);
    pthread_cond_destroy(&sink->cond);
    pthread_mutex_destroy(&sink->mu);
    free(sink);
}
