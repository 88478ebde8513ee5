/*
 * offload.h -- requests that hash a password, run off the server threads.
 *
 * An argon2id hash takes about 100 ms of one core. Run on a server thread,
 * it stalls every other connection that thread serves: a burst of logins
 * or registrations from one client would delay every request, /healthz
 * included, by seconds. Such a request's connection is suspended instead,
 * one of a few lane threads (HASH_CONCURRENCY of them) runs it, and the
 * connection is resumed to send what it left. The queue is bounded: when
 * it is full, the request is refused at once (a 503) rather than left to
 * wait for seconds. Once stopped (at shutdown), nothing more is taken: a
 * caller whose submission is refused so runs the request inline.
 */
#ifndef NEXUS_HTTP_OFFLOAD_H
#define NEXUS_HTTP_OFFLOAD_H

#include <microhttpd.h>
#include <stdbool.h>

/* Runs on a lane thread; cancelled: the job waited past
 * offload_cancel_waiting, and is to be refused rather than run. */
typedef void (*offload_fn)(void *job, bool cancelled);

/* Start `lanes` lane threads (at least one), with at most queue_max jobs
 * waiting for them. */
bool offload_start(int lanes, int queue_max);

enum offload_result {
    OFFLOAD_QUEUED,  /* conn is suspended until its job has run */
    OFFLOAD_FULL,    /* queue_max jobs wait already: answer 503 */
    OFFLOAD_STOPPED, /* no lanes (shut down): run it inline */
};

/* Suspend conn (from its access handler) and queue run(job) for a lane;
 * conn is resumed once it has returned. When it is not queued, conn is
 * left running. */
enum offload_result offload_submit(struct MHD_Connection *conn, offload_fn run, void *job);

/* From now on, a job a lane takes is run cancelled (at shutdown, once
 * the grace period is over: what has not started does not start). */
void offload_cancel_waiting(void);

/* Run what is queued, resume its connections and stop the lanes; later
 * submissions are refused. Call before the daemon stops. */
void offload_stop(void);

#endif
