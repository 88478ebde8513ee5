/*
 * free_port.h -- a TCP port for a test server, chosen so that nothing else
 * is likely to take it before the server binds it (which can be seconds
 * later: the server migrates first).
 *
 * A port the kernel hands out for bind(0) comes from the ephemeral range
 * (net.ipv4.ip_local_port_range, 32768-60999 by default), the same range
 * every outgoing connection on the machine takes its source port from, so
 * under load another process can take it first. This picks at random below
 * that range instead, among ports free on every address right now.
 */
#ifndef NEXUS_TEST_FREE_PORT_H
#define NEXUS_TEST_FREE_PORT_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TEST_PORT_FIRST 20000
#define TEST_PORT_COUNT 12000 /* 20000..31999 */

static inline int port_is_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A free port below the ephemeral range, or -1 when 1,000 tries found none. */
static inline int test_free_port(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned seed = (unsigned)getpid() ^ (unsigned)ts.tv_nsec;
    for (int i = 0; i < 1000; i++) {
        int port = TEST_PORT_FIRST + rand_r(&seed) % TEST_PORT_COUNT;
        if (port_is_free(port))
            return port;
    }
    return -1;
}

#endif
