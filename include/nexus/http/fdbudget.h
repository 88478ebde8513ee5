/*
 * fdbudget.h -- how many client connections the open-files limit allows.
 *
 * Each connection is a descriptor. At start the server raises its soft
 * open-files limit toward the hard one until CONNECTION_LIMIT connections
 * fit beside the descriptors it keeps for itself; where the hard limit is
 * lower it admits what fits, and one address at most half of that: with
 * every connection taken, libmicrohttpd accepts none until its
 * CONNECTION_TIMEOUT drops the ones whose clients reset them, so one
 * address must not be able to take them all.
 */
#ifndef NEXUS_HTTP_FDBUDGET_H
#define NEXUS_HTTP_FDBUDGET_H

#include <stdbool.h>

/* Descriptors kept for everything but client connections: the listening
 * socket, each thread's PostgreSQL, replica and Redis connections, the
 * epoll and wake-up descriptors, logs, the files the server serves. */
#define FDBUDGET_KEPT 256u

struct fd_budget {
    int connections; /* admitted in all */
    int per_ip;      /* admitted from one address */
    bool reduced;    /* fewer than asked for */
};

/* The soft limit to ask for: enough for connections, within hard (0 for
 * unlimited); soft when it is enough already. */
unsigned long long fdbudget_wanted(int connections, unsigned long long soft,
                                   unsigned long long hard);

/* What a soft limit of files (0 for unlimited) admits of the configured
 * limits. */
struct fd_budget fdbudget_fit(int connections, int per_ip, unsigned long long files);

/* Raise this process's limit as fdbudget_wanted says and return what it
 * admits, logging a warning when that is less than configured. */
struct fd_budget fdbudget_apply(int connections, int per_ip);

#endif
