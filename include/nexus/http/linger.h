/*
 * linger.h -- a connection closed while its request's body is still on its
 * way is drained before its socket is really closed.
 *
 * A request refused on its headers (401, 404, 413, a framing error) is
 * answered at once, and libmicrohttpd then closes the connection without
 * reading the body. Closing a socket with bytes unread, or receiving bytes
 * after it is closed, resets the connection, and a client still writing
 * its body can lose the answer it was sent. So such a connection's socket
 * is kept open by a duplicate descriptor, whose thread reads and drops
 * what arrives until the client closes, for at most LINGER_MS and
 * LINGER_BYTES, LINGER_MAX sockets at a time (beyond that the socket is
 * simply closed, as before).
 */
#ifndef NEXUS_HTTP_LINGER_H
#define NEXUS_HTTP_LINGER_H

#include <stdbool.h>
#include <stddef.h>

#define LINGER_MS    5000
#define LINGER_BYTES (64u * 1024 * 1024)
#define LINGER_MAX   256

/* Start and stop the draining thread; stopping closes what it still holds. */
bool linger_start(void);
void linger_stop(void);

/* Drain the socket fd (a duplicate of it: the caller closes its own).
 * False when it is not taken (no thread, too many, no descriptor). */
bool linger_socket(int fd);

/* How many sockets are being drained now. */
size_t linger_count(void);

#endif
