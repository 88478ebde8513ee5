/*
 * fence.c -- held connections, resumed by one thread at their moment.
 */
#include "nexus/http/fence.h"

#include "nexus/core/condwait.h"
#include "nexus/core/log.h"
#include "nexus/core/metrics.h"
#include "nexus/core/xmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>

struct held {
    struct held *next;
    struct MHD_Connection *conn;
    uint64_t until_us;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct held *held; /* in no particular order: writes are few */
static int64_t held_count, held_peak;
static bool running;
static pthread_t thread;

/* Resume and drop the held connections due by now_us (all when now_us is
 * UINT64_MAX); the earliest moment still held, or UINT64_MAX. */
static uint64_t resume_due_locked(uint64_t now) {
    uint64_t next = UINT64_MAX;
    struct held **link = &held;
    while (*link) {
        struct held *h = *link;
        if (h->until_us <= now) {
            *link = h->next;
            MHD_resume_connection(h->conn);
            free(h);
            held_count--;
            metrics_gauge_add(METRIC_ANSWERS_HELD, -1);
        } else {
            if (h->until_us < next)
                next = h->until_us;
            link = &h->next;
        }
    }
    return next;
}

static void *fence_main(void *arg) {
    (void)arg;
    /* Named, so that tools watching the server's threads can tell it apart
     * from those that serve requests (it sleeps on a condition, not in
     * epoll). */
    prctl(PR_SET_NAME, "nx-fence", 0, 0, 0);
    pthread_mutex_lock(&lock);
    while (running) {
        uint64_t next = resume_due_locked(now_us());
        if (next == UINT64_MAX)
            pthread_cond_wait(&wake, &lock);
        else
            cond_wait_until(&wake, &lock, next);
    }
    resume_due_locked(UINT64_MAX);
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool fence_start(void) {
    pthread_mutex_lock(&lock);
    running = pthread_create(&thread, NULL, fence_main, NULL) == 0;
    bool ok = running;
    pthread_mutex_unlock(&lock);
    if (!ok)
        log_error("fence.start", NULL, "cannot start the thread that resumes held answers");
    return ok;
}

/* The gauges of held answers; the peak is what shows, from the server's
 * side, that one thread held many answers at the same time. */
static void count_held_locked(void) {
    held_count++;
    metrics_gauge_add(METRIC_ANSWERS_HELD, 1);
    if (held_count > held_peak) {
        held_peak = held_count;
        metrics_gauge_add(METRIC_ANSWERS_HELD_PEAK, 1);
    }
}

bool fence_hold(struct MHD_Connection *conn, uint64_t until_us) {
    struct held *h = xmalloc(sizeof *h);
    *h = (struct held){NULL, conn, until_us};
    pthread_mutex_lock(&lock);
    bool hold = running;
    if (hold) {
        /* Suspended before the thread can see it: it never resumes a
         * connection that is not suspended. */
        MHD_suspend_connection(conn);
        h->next = held;
        held = h;
        count_held_locked();
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (!hold)
        free(h);
    return hold;
}

void fence_stop(void) {
    pthread_mutex_lock(&lock);
    bool was_running = running;
    running = false;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (was_running)
        pthread_join(thread, NULL);
}
