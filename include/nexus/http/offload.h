/*
 * offload.h -- requests that may write run on threads of their own.
 *
 * A server thread serves many connections from one epoll loop. A write
 * that waits there for PostgreSQL (a row lock, the WAL flush of its
 * commit) or for an argon2id hash stalls every other connection that
 * thread serves. Such a request is instead suspended and run by one of
 * this module's threads, each with its own PostgreSQL and Redis
 * connections (both are per thread); the job then resumes the connection
 * at its answer's moment (http/fence.h) and the server thread sends the
 * answer. Once stopped (at shutdown), nothing more is taken: the caller
 * runs the request itself.
 */
#ifndef NEXUS_HTTP_OFFLOAD_H
#define NEXUS_HTTP_OFFLOAD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A job: runs the request behind arg and returns the moment (now_us) its
 * answer may be sent; its connection is then resumed at that moment. */
typedef uint64_t (*offload_job)(void *arg);

/* Start the threads. */
bool offload_start(int threads);

/* Suspend conn (from its access handler) and queue job(arg). False, and
 * conn left running, when the module is stopped. */
bool offload_run(struct MHD_Connection *conn, offload_job job, void *arg);

/* Requests queued, or running and not yet resumed. */
size_t offload_unfinished(void);

/* Run what is queued, then stop the threads; later runs are refused.
 * Call before the fence stops. */
void offload_stop(void);

#endif
