/*
 * fence.h -- answers held back until a moment, without holding a thread.
 *
 * A catalog write may answer only after the cache's window has passed
 * since its generation bump (see cache/catalog.h). Sleeping that long on
 * a server thread would stall every other connection the thread serves,
 * so the write's connection is suspended instead, and this module's
 * thread resumes it when its moment comes; the server then sends the
 * answer it kept. Once stopped (at shutdown), nothing more is held: a
 * caller whose hold is refused waits inline.
 */
#ifndef NEXUS_HTTP_FENCE_H
#define NEXUS_HTTP_FENCE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

/* Start the thread that resumes held connections. */
bool fence_start(void);

/* Suspend conn (from its access handler) until now_us() >= until_us.
 * False, and conn left running, when the module is stopped. */
bool fence_hold(struct MHD_Connection *conn, uint64_t until_us);

/* Resume every held connection now and stop the thread; later holds are
 * refused. Call before the daemon stops. */
void fence_stop(void);

#endif
