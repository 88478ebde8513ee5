/*
 * silent_redis.h -- a Redis that takes connections and never answers
 * (hung: its process stopped, its listening socket still taking
 * connections), on a Unix socket. It counts the connections it took.
 */
#ifndef NEXUS_TEST_SILENT_REDIS_H
#define NEXUS_TEST_SILENT_REDIS_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>

#define SILENT_REDIS_HELD 256

struct silent_redis {
    int fd;
    atomic_int accepted;
    int held[SILENT_REDIS_HELD];
    pthread_t acceptor;
    struct sockaddr_un addr;
};

/* Listen at path (a stale socket file there is removed first), taking
 * connections in a thread of its own. */
void silent_redis_start(struct silent_redis *r, const char *path);

/* The connections taken so far. */
int silent_redis_accepted(struct silent_redis *r);

/* Stop listening and close every connection taken: a client then finds
 * its connection closed, and none to be had. */
void silent_redis_stop(struct silent_redis *r);

#endif
