/*
 * deadline.c -- connections whose request takes too long to arrive are
 * shut down.
 */
#include "nexus/http/deadline.h"

#include "nexus/core/log.h"
#include "nexus/http/linger.h"
#include "nexus/core/xmem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

struct tracked {
    MHD_socket fd;
    _Atomic uint64_t reading_since_us; /* 0: no request is arriving */
    _Atomic bool begun;                /* the arriving request's headers are in */
    _Atomic bool drain_on_close;
    struct tracked *prev, *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *head;
/* The whole request's, and the one for a request not begun (the same but
 * while draining). */
static _Atomic uint64_t limit_us, idle_limit_us;

void deadline_init(int seconds) {
    atomic_store(&limit_us, (uint64_t)seconds * 1000000u);
    atomic_store(&idle_limit_us, (uint64_t)seconds * 1000000u);
}

void deadline_shorten(int seconds) {
    uint64_t now = now_us();
    pthread_mutex_lock(&lock);
    for (struct tracked *t = head; t; t = t->next) {
        uint64_t since = atomic_load(&t->reading_since_us);
        /* only if still waiting: a request that came in meanwhile keeps 0 */
        if (since && !atomic_load(&t->begun))
            atomic_compare_exchange_strong(&t->reading_since_us, &since, now);
    }
    atomic_store(&idle_limit_us, (uint64_t)seconds * 1000000u);
    pthread_mutex_unlock(&lock);
}

static void track(struct MHD_Connection *conn, void **socket_context) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct tracked *t = xcalloc(1, sizeof *t);
    t->fd = info ? info->connect_fd : MHD_INVALID_SOCKET;
    atomic_store(&t->reading_since_us, now_us());
    pthread_mutex_lock(&lock);
    t->next = head;
    if (head)
        head->prev = t;
    head = t;
    pthread_mutex_unlock(&lock);
    *socket_context = t;
}

static void untrack(struct tracked *t) {
    pthread_mutex_lock(&lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&lock);
    free(t);
}

void deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        track(conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct tracked *t = *socket_context;
        if (atomic_load(&t->drain_on_close)) /* still open here: closed after this call */
            linger_socket(t->fd);
        untrack(t);
        *socket_context = NULL;
    }
}

static struct tracked *of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void deadline_drain_on_close(struct MHD_Connection *conn) {
    struct tracked *t = of(conn);
    if (t)
        atomic_store(&t->drain_on_close, true);
}

void deadline_request_begun(struct MHD_Connection *conn) {
    struct tracked *t = of(conn);
    if (t)
        atomic_store(&t->begun, true);
}

void deadline_request_in(struct MHD_Connection *conn) {
    struct tracked *t = of(conn);
    if (t)
        atomic_store(&t->reading_since_us, 0);
}

void deadline_next_request(struct MHD_Connection *conn) {
    struct tracked *t = of(conn);
    if (t) {
        atomic_store(&t->begun, false);
        atomic_store(&t->reading_since_us, now_us());
    }
}

size_t deadline_sweep(void) {
    size_t closed = 0;
    uint64_t now = now_us(), whole = atomic_load(&limit_us), idle = atomic_load(&idle_limit_us);
    pthread_mutex_lock(&lock);
    for (struct tracked *t = head; t; t = t->next) {
        uint64_t since = atomic_load(&t->reading_since_us);
        uint64_t limit = atomic_load(&t->begun) ? whole : idle;
        if (!since || since > now || now - since <= limit || t->fd == MHD_INVALID_SOCKET)
            continue;
        /* libmicrohttpd sees the connection end and closes it itself. */
        shutdown(t->fd, SHUT_RDWR);
        atomic_store(&t->reading_since_us, 0);
        closed++;
    }
    pthread_mutex_unlock(&lock);
    return closed;
}
