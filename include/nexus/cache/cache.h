/*
 * cache.h -- the Redis connection of each thread.
 *
 * Redis is never the source of truth: every caller must work when these
 * functions fail. Connects and commands have millisecond timeouts; a context
 * that saw any error is freed, and reconnects wait behind a backoff (a small
 * circuit breaker), so a dead or hung Redis costs at most one timeout per
 * backoff period per thread, not one per request.
 */
#ifndef NEXUS_CACHE_CACHE_H
#define NEXUS_CACHE_CACHE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

enum cache_state { CACHE_DISABLED, CACHE_OK, CACHE_UNAVAILABLE };

/* Parsed REDIS_URL: redis://[[user]:password@]host[:port][/db] or
 * unix://[[user]:password@]/path/to/socket[?db=N]. The user name and the
 * password are percent-decoded (RFC 3986 userinfo); the userinfo ends at
 * the last '@' (redis://), or at the first '@' before the socket's path
 * (unix://), so a password may hold a bare '@'. A userinfo without ':'
 * is a password. A user name is sent as AUTH user password (an ACL user),
 * a password alone as AUTH password. */
struct redis_target {
    char host[256]; /* host name, or socket path when unix */
    int port;       /* 0 for unix sockets */
    int db;
    char user[128];     /* "" when none is given */
    char password[128]; /* "" when none is given */
};

bool redis_url_parse(const char *url, struct redis_target *out);

/* Set up from the configuration (NULL url: caching disabled). */
bool cache_init(const char *url, int timeout_ms);
bool cache_enabled(void);

/* Run one command on this thread's context. NULL when Redis is disabled,
 * unreachable, or answered with an error; the reply is owned by the caller
 * (freeReplyObject). User data travels only as arguments. */
redisReply *cache_command(int argc, const char **argv, const size_t *lens);

/* Send one command without waiting for its reply (a store whose answer
 * changes nothing): the reply is read, and an error reply logged, before
 * this thread's next command. Redis runs a connection's commands in
 * order, so that next command sees this one's effect. False when Redis is
 * disabled or unreachable. */
bool cache_send(int argc, const char **argv, const size_t *lens);

/* Let this thread's next command connect at once, even while the backoff
 * after a failure runs (for a retry that cannot wait). */
void cache_retry_now(void);

/* PING this thread's context. */
enum cache_state cache_ping(void);

/* Close the calling thread's context, if any: a thread that ends before
 * the process calls this last, or the context stays open until
 * cache_close_all. */
void cache_thread_close(void);

/* Close every thread context (at shutdown). */
void cache_close_all(void);

#endif
