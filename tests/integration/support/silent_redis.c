/*
 * silent_redis.c -- a Redis that never answers: see the header.
 */
#include "silent_redis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void *silent_accept(void *arg) {
    struct silent_redis *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* the listening socket was shut down */
        int n = atomic_fetch_add(&r->accepted, 1);
        if (n < SILENT_REDIS_HELD)
            r->held[n] = c; /* kept open, never answered */
        else
            close(c);
    }
}

void silent_redis_start(struct silent_redis *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->addr.sun_family = AF_UNIX;
    snprintf(r->addr.sun_path, sizeof r->addr.sun_path, "%s", path);
    unlink(r->addr.sun_path);
    r->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    assert_int_equal(bind(r->fd, (struct sockaddr *)&r->addr, sizeof r->addr), 0);
    assert_int_equal(listen(r->fd, 64), 0);
    assert_int_equal(pthread_create(&r->acceptor, NULL, silent_accept, r), 0);
}

int silent_redis_accepted(struct silent_redis *r) {
    return atomic_load(&r->accepted);
}

void silent_redis_stop(struct silent_redis *r) {
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->acceptor, NULL);
    for (int i = 0; i < silent_redis_accepted(r) && i < SILENT_REDIS_HELD; i++)
        close(r->held[i]);
    unlink(r->addr.sun_path);
}
