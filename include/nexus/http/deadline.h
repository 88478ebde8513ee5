/*
 * deadline.h -- a whole-request deadline for every connection.
 *
 * libmicrohttpd's CONNECTION_TIMEOUT counts idleness, and every byte resets
 * it, so a client that drips one byte a second could hold a connection
 * (and its buffers) forever. This module gives each request REQUEST_TIMEOUT
 * seconds from the moment the connection is ready for it (accepted, or the
 * previous answer finished) until its headers and body have all arrived. A
 * request that misses it gets no answer: its socket is shut down, and
 * libmicrohttpd closes the connection. Time spent handling the request and
 * sending the answer does not count.
 *
 * The clock runs per connection; a housekeeping thread calls
 * deadline_sweep. A socket is shut down only while its connection is
 * registered, and it is unregistered (under the same lock) before
 * libmicrohttpd closes it, so a reused descriptor is never touched.
 */
#ifndef NEXUS_HTTP_DEADLINE_H
#define NEXUS_HTTP_DEADLINE_H

#include <microhttpd.h>
#include <stddef.h>

/* Set the deadline in seconds (before the daemon starts). */
void deadline_init(int seconds);

/* From now on, a connection whose next request has not begun (no header
 * of it in) is shut down `seconds` from now or from its last answer,
 * whichever is later (a draining server's idle connections: one idle for
 * long before may be in use by its client right now, so it gets the same
 * time). A request begun keeps the whole deadline. */
void deadline_shorten(int seconds);

/* conn's request has begun: its headers are in. */
void deadline_request_begun(struct MHD_Connection *conn);

/* The MHD_OPTION_NOTIFY_CONNECTION callback: registers and unregisters. */
void deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);

/* conn is answered before its request's body is read: when libmicrohttpd
 * closes it, its socket goes to http/linger to be drained first. */
void deadline_drain_on_close(struct MHD_Connection *conn);

/* The request on conn has fully arrived: stop its clock. */
void deadline_request_in(struct MHD_Connection *conn);

/* The answer on conn is done: the clock runs for the next request. */
void deadline_next_request(struct MHD_Connection *conn);

/* Shut down every connection whose request is overdue; how many. */
size_t deadline_sweep(void);

#endif
