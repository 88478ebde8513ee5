/*
 * offload.c -- lane threads for work that would stall a server thread.
 */
#include "nexus/http/offload.h"

#include "nexus/core/err.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define LANES_MAX 64

struct offload_ticket {
    struct offload_ticket *next; /* in the queue */
    struct MHD_Connection *conn;
    struct offload_work work;
    bool done;      /* run (or refused), conn resumed */
    bool abandoned; /* the request ended first: the lane disposes */
};

/* One lock for the queue and every ticket's flags. A lane resumes a
 * connection under it, and a request's completion callback takes it to
 * abandon its ticket: so the connection is never resumed after its
 * request ended. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct offload_ticket *head, **tail = &head; /* first come, first run */
static int queued, queued_max;
static int tickets_out; /* queued until collected or disposed of */
static bool running, refusing;
static pthread_t lanes[LANES_MAX];
static int lane_count;

static struct offload_ticket *take_locked(void) {
    struct offload_ticket *t = head;
    queued--;
    head = t->next;
    if (!head)
        tail = &head;
    return t;
}

static void finish_locked(struct offload_ticket *t) {
    if (t->abandoned) {
        t->work.dispose(t->work.arg);
        free(t);
        tickets_out--;
        return;
    }
    t->done = true;
    MHD_resume_connection(t->conn);
}

/* Until stopped with the queue empty: a work queued before the stop still
 * ends, so that no connection stays suspended. */
static void *lane_main(void *arg) {
    char name[16];
    snprintf(name, sizeof name, "nx-lane-%d", (int)(intptr_t)arg);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    pthread_mutex_lock(&lock);
    for (;;) {
        while (running && !head)
            pthread_cond_wait(&wake, &lock);
        if (!head)
            break;
        struct offload_ticket *t = take_locked();
        bool refuse = refusing, skip = t->abandoned;
        pthread_mutex_unlock(&lock);
        if (refuse)
            t->work.refuse(t->work.arg);
        else if (!skip)
            t->work.run(t->work.arg);
        pthread_mutex_lock(&lock);
        finish_locked(t);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool offload_start(int count, int queue_max) {
    pthread_mutex_lock(&lock);
    running = true;
    refusing = false;
    queued_max = queue_max;
    for (lane_count = 0; lane_count < count && lane_count < LANES_MAX; lane_count++)
        if (pthread_create(&lanes[lane_count], NULL, lane_main, (void *)(intptr_t)lane_count) != 0)
            break;
    running = lane_count > 0;
    bool ok = running;
    int started = lane_count;
    pthread_mutex_unlock(&lock);
    if (started < count)
        log_error("offload.start", NULL, "started %d of %d lane threads", started, count);
    return ok;
}

enum offload_result offload_submit(struct MHD_Connection *conn, const struct offload_work *work,
                                   struct offload_ticket **ticket) {
    struct offload_ticket *t = xcalloc(1, sizeof *t);
    t->conn = conn;
    t->work = *work;
    pthread_mutex_lock(&lock);
    enum offload_result result = !running               ? OFFLOAD_STOPPED
                                 : queued >= queued_max ? OFFLOAD_FULL
                                                        : OFFLOAD_QUEUED;
    if (result == OFFLOAD_QUEUED) {
        /* Suspended before a lane can see it: a lane never resumes a
         * connection that is not suspended. */
        MHD_suspend_connection(conn);
        *tail = t;
        tail = &t->next;
        queued++;
        tickets_out++;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (result != OFFLOAD_QUEUED)
        free(t);
    *ticket = result == OFFLOAD_QUEUED ? t : NULL;
    return result;
}

void *offload_collect(struct offload_ticket *t) {
    pthread_mutex_lock(&lock);
    NX_ASSERT(t->done);
    tickets_out--;
    pthread_mutex_unlock(&lock);
    void *arg = t->work.arg;
    free(t);
    return arg;
}

void offload_abandon(struct offload_ticket *t) {
    pthread_mutex_lock(&lock);
    bool lane_owns = !t->done;
    t->abandoned = true;
    tickets_out -= !lane_owns;
    pthread_mutex_unlock(&lock);
    if (!lane_owns) { /* resumed, then ended before it was collected */
        t->work.dispose(t->work.arg);
        free(t);
    }
}

int offload_tickets_out(void) {
    pthread_mutex_lock(&lock);
    int n = tickets_out;
    pthread_mutex_unlock(&lock);
    return n;
}

void offload_refuse_waiting(void) {
    pthread_mutex_lock(&lock);
    refusing = true;
    pthread_mutex_unlock(&lock);
}

void offload_stop(void) {
    pthread_mutex_lock(&lock);
    running = false;
    pthread_cond_broadcast(&wake);
    int count = lane_count;
    lane_count = 0;
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < count; i++)
        pthread_join(lanes[i], NULL);
}
