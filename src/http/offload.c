/*
 * offload.c -- lane threads for requests that hash a password.
 */
#include "nexus/http/offload.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#define LANES_MAX 64

struct job {
    struct job *next;
    struct MHD_Connection *conn;
    offload_fn run;
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head; /* first come, first run */
static int queued, queued_max;
static bool running, cancelling;
static pthread_t lanes[LANES_MAX];
static int lane_count;

static struct job *take_locked(void) {
    struct job *j = head;
    queued--;
    head = j->next;
    if (!head)
        tail = &head;
    return j;
}

/* Until stopped and the queue is empty: a job queued before the stop
 * still runs, so that no connection stays suspended. */
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
        struct job *j = take_locked();
        bool cancelled = cancelling;
        pthread_mutex_unlock(&lock);
        j->run(j->arg, cancelled);
        MHD_resume_connection(j->conn);
        free(j);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool offload_start(int count, int queue_max) {
    pthread_mutex_lock(&lock);
    running = true;
    queued_max = queue_max;
    for (lane_count = 0; lane_count < count && lane_count < LANES_MAX; lane_count++)
        if (pthread_create(&lanes[lane_count], NULL, lane_main, (void *)(intptr_t)lane_count) != 0)
            break;
    running = lane_count > 0;
    bool ok = running;
    pthread_mutex_unlock(&lock);
    if (lane_count < count)
        log_error("offload.start", NULL, "started %d of %d password-hashing threads", lane_count,
                  count);
    return ok;
}

enum offload_result offload_submit(struct MHD_Connection *conn, offload_fn run, void *arg) {
    struct job *j = xmalloc(sizeof *j);
    *j = (struct job){NULL, conn, run, arg};
    pthread_mutex_lock(&lock);
    enum offload_result result = !running               ? OFFLOAD_STOPPED
                                 : queued >= queued_max ? OFFLOAD_FULL
                                                        : OFFLOAD_QUEUED;
    if (result == OFFLOAD_QUEUED) {
        /* Suspended before a lane can see it: a lane never resumes a
         * connection that is not suspended. */
        MHD_suspend_connection(conn);
        *tail = j;
        tail = &j->next;
        queued++;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (result != OFFLOAD_QUEUED)
        free(j);
    return result;
}

void offload_cancel_waiting(void) {
    pthread_mutex_lock(&lock);
    cancelling = true;
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
