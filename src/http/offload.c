/*
 * offload.c -- a queue of suspended requests and the threads that run them.
 */
#include "nexus/http/offload.h"
#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/http/fence.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

struct queued {
    struct queued *next;
    struct MHD_Connection *conn;
    offload_job job;
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct queued *head, *tail; /* first in, first run */
static bool running;
static size_t unfinished; /* queued, or taken and not yet resumed */
static pthread_t *threads;
static int thread_count;

/* The next job, or NULL once stopped with nothing left. */
static struct queued *next_job(void) {
    pthread_mutex_lock(&lock);
    while (!head && running)
        pthread_cond_wait(&wake, &lock);
    struct queued *q = head;
    if (q) {
        head = q->next;
        if (!head)
            tail = NULL;
    }
    pthread_mutex_unlock(&lock);
    return q;
}

static void *offload_main(void *arg) {
    char name[16];
    snprintf(name, sizeof name, "nx-offload-%d", (int)(intptr_t)arg);
    /* Named, so that tools watching the server's threads can tell them
     * apart from those that serve connections. */
    prctl(PR_SET_NAME, name, 0, 0, 0);
    for (struct queued *q; (q = next_job()) != NULL; free(q)) {
        fence_resume_at(q->conn, q->job(q->arg));
        pthread_mutex_lock(&lock);
        unfinished--;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

bool offload_start(int count) {
    threads = xcalloc((size_t)count, sizeof *threads);
    pthread_mutex_lock(&lock);
    running = true;
    for (thread_count = 0; thread_count < count; thread_count++)
        if (pthread_create(&threads[thread_count], NULL, offload_main,
                           (void *)(intptr_t)thread_count) != 0)
            break;
    running = thread_count > 0;
    pthread_mutex_unlock(&lock);
    if (thread_count < count)
        log_error("offload.start", NULL, "started %d of %d threads for writes", thread_count,
                  count);
    return running;
}

bool offload_run(struct MHD_Connection *conn, offload_job job, void *arg) {
    struct queued *q = xmalloc(sizeof *q);
    *q = (struct queued){NULL, conn, job, arg};
    pthread_mutex_lock(&lock);
    bool queued = running;
    if (queued) {
        /* Suspended before any thread can take the job: a job resumes
         * only a suspended connection. */
        MHD_suspend_connection(conn);
        if (tail)
            tail->next = q;
        else
            head = q;
        tail = q;
        unfinished++;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (!queued)
        free(q);
    return queued;
}

size_t offload_unfinished(void) {
    pthread_mutex_lock(&lock);
    size_t n = unfinished;
    pthread_mutex_unlock(&lock);
    return n;
}

void offload_stop(void) {
    pthread_mutex_lock(&lock);
    running = false;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < thread_count; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    threads = NULL;
    thread_count = 0;
}
