/*
 * linger.c -- drain the sockets of connections closed before their
 * request's body was read (see linger.h).
 *
 * One thread polls every lingering socket and a wake-up eventfd. Entries
 * are appended under the lock by the server's threads and removed only by
 * this thread, so the entries it polled keep their places while it reads
 * them without the lock.
 */
#include "nexus/http/linger.h"

#include "nexus/core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct lingering {
    int fd;
    uint64_t until_us;
    size_t dropped;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lingering socks[LINGER_MAX];
static size_t count;
static bool running;
static int wake_fd = -1;
static pthread_t thread;

static void wake(void) {
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("linger.wake", NULL, "cannot wake the draining thread: %s", strerror(errno));
}

/* Read and drop what has arrived; true when the socket is done with: the
 * client closed, an error, or more than LINGER_BYTES. */
static bool drop_arrived(struct lingering *l) {
    static char scratch[64 * 1024]; /* only this thread reads into it */
    for (;;) {
        ssize_t n = recv(l->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0 && (l->dropped += (size_t)n) <= LINGER_BYTES)
            continue;
        return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
               l->dropped > LINGER_BYTES;
    }
}

/* Milliseconds until the first socket's time is up; -1 with none. */
static int poll_timeout_locked(uint64_t now) {
    uint64_t first = UINT64_MAX;
    for (size_t i = 0; i < count; i++)
        if (socks[i].until_us < first)
            first = socks[i].until_us;
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : (int)((first - now) / 1000 + 1);
}

/* Close what is done or out of time (swapping the last entry in). */
static void close_finished_locked(const bool *done, size_t polled, uint64_t now) {
    for (size_t i = polled; i-- > 0;) {
        if (!done[i] && socks[i].until_us > now)
            continue;
        close(socks[i].fd);
        socks[i] = socks[--count];
    }
}

static void *linger_main(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "nx-linger", 0, 0, 0);
    static struct pollfd polled[LINGER_MAX + 1];
    static bool done[LINGER_MAX];
    pthread_mutex_lock(&lock);
    while (running) {
        size_t n = count;
        polled[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        for (size_t i = 0; i < n; i++)
            polled[i + 1] = (struct pollfd){.fd = socks[i].fd, .events = POLLIN};
        int timeout = poll_timeout_locked(now_us());
        pthread_mutex_unlock(&lock);
        if (poll(polled, n + 1, timeout) > 0 && (polled[0].revents & POLLIN)) {
            uint64_t ignored;
            (void)!read(wake_fd, &ignored, sizeof ignored);
        }
        for (size_t i = 0; i < n; i++)
            done[i] = polled[i + 1].revents && drop_arrived(&socks[i]);
        pthread_mutex_lock(&lock);
        close_finished_locked(done, n, now_us());
    }
    while (count)
        close(socks[--count].fd);
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool linger_start(void) {
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0)
        return false;
    pthread_mutex_lock(&lock);
    running = pthread_create(&thread, NULL, linger_main, NULL) == 0;
    bool ok = running;
    pthread_mutex_unlock(&lock);
    if (!ok) {
        close(wake_fd);
        wake_fd = -1;
    }
    return ok;
}

void linger_stop(void) {
    pthread_mutex_lock(&lock);
    bool was = running;
    running = false;
    pthread_mutex_unlock(&lock);
    if (!was)
        return;
    wake();
    pthread_join(thread, NULL);
    close(wake_fd);
    wake_fd = -1;
}

bool linger_socket(int fd) {
    if (fd < 0)
        return false;
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return false;
    /* The answer is written; the client learns it is all (libmicrohttpd,
     * with MHD_USE_TURBO, leaves this to the close the copy delays). */
    shutdown(copy, SHUT_WR);
    pthread_mutex_lock(&lock);
    bool taken = running && count < LINGER_MAX;
    if (taken)
        socks[count++] = (struct lingering){copy, now_us() + LINGER_MS * 1000u, 0};
    pthread_mutex_unlock(&lock);
    if (!taken) {
        close(copy);
        return false;
    }
    wake();
    return true;
}

size_t linger_count(void) {
    pthread_mutex_lock(&lock);
    size_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
