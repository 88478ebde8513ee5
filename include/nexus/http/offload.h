/*
 * offload.h -- work run off the server threads, its connection suspended.
 *
 * A server thread serves many connections: a tenth of a second of work
 * on it (a password hash) delays every one of them, /healthz included. Such
 * work runs on one of a few lane threads instead, its connection suspended
 * meanwhile and resumed once it is done; the request then goes on from
 * where it was. The queue is bounded: when it is full, the caller answers
 * at once (a 503) rather than make the request wait for seconds.
 *
 * The request and its connection belong to libmicrohttpd's thread, never
 * to a lane: a lane touches only the work it was given and the ticket.
 * Should the request end while its work waits or runs, the lane frees the
 * work and leaves the connection alone.
 */
#ifndef NEXUS_HTTP_OFFLOAD_H
#define NEXUS_HTTP_OFFLOAD_H

#include <microhttpd.h>
#include <stdbool.h>

struct offload_ticket;

struct offload_work {
    void *arg;
    void (*run)(void *arg);    /* on a lane */
    void (*refuse)(void *arg); /* instead of run, once refusing (shutdown) */
    void (*dispose)(void *arg);
};

/* Start `lanes` lane threads, with at most queue_max works waiting. */
bool offload_start(int lanes, int queue_max);

enum offload_result {
    OFFLOAD_QUEUED,  /* conn is suspended until the work is done */
    OFFLOAD_FULL,    /* queue_max works wait already: refuse the request */
    OFFLOAD_STOPPED, /* no lanes (not started, or shut down): do it inline */
};

/* From conn's access handler: suspend conn and queue the work. When it is
 * queued, *ticket is the request's until offload_collect or
 * offload_abandon; otherwise the work is still the caller's. */
enum offload_result offload_submit(struct MHD_Connection *conn, const struct offload_work *work,
                                   struct offload_ticket **ticket);

/* Once conn is resumed: the work's arg, done; the ticket is freed. */
void *offload_collect(struct offload_ticket *ticket);

/* The request ended with its ticket out (its completion callback): the
 * work is disposed of, now or by its lane, and conn never resumed. */
void offload_abandon(struct offload_ticket *ticket);

/* Tickets out: queued, run or running, and not yet collected or disposed
 * of. Zero once every work given to the lanes is back with its request
 * (what tells the HTTP fuzz target that an input's work is over). */
int offload_tickets_out(void);

/* From now on, works a lane takes are refused rather than run (at
 * shutdown, once the grace period is over). */
void offload_refuse_waiting(void);

/* Finish what is queued, resume its connections and stop the lanes;
 * later submissions are OFFLOAD_STOPPED. Call before the daemon stops. */
void offload_stop(void);

#endif
