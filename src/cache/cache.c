/*
 * cache.c -- per-thread hiredis contexts with timeouts, reconnect backoff.
 */
#include "nexus/cache/cache.h"

#include "nexus/core/log.h"
#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct cache_conn {
    redisContext *ctx;
    unsigned pending; /* replies of commands sent by cache_send, not read yet */
    uint64_t next_attempt_us;
    uint32_t backoff_ms;
    uint64_t outages_before; /* outages begun before ctx connected */
    struct cache_conn *next;
};

static struct redis_target target;
static bool enabled;
static struct timeval timeout;
static _Thread_local struct cache_conn *thread_conn;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_conn *registry;

/* Redis as this process saw it last. Every thread has its own connection
 * and backoff, and while Redis is away all of them fail, dozens of times a
 * second together: the first failure of an outage is logged (redis.down),
 * the others counted, and the first answer after it logged (redis.up) with
 * that count. Changes under outage_lock; down is read without it on every
 * answer. */
static pthread_mutex_t outage_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool down;
static _Atomic uint64_t outages_begun;
static uint64_t down_since_us;
static uint64_t failures_unlogged;
static char address[300]; /* the configured address, never its user or password */

static bool copy_bounded(char *dst, size_t cap, const char *src, size_t n) {
    if (n >= cap)
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

static bool parse_db_index(const char *s, size_t n, int *db) {
    int64_t v;
    if (!parse_i64(s, n, 0, 15, &v))
        return false;
    *db = (int)v;
    return true;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* src[0..n) percent-decoded into dst (cap bytes, NUL-ended); false on a
 * malformed escape, an encoded NUL, or a result that does not fit. */
static bool copy_decoded(char *dst, size_t cap, const char *src, size_t n) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (n - i < 3)
                return false;
            int h = hex_digit(src[i + 1]), l = hex_digit(src[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return false;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (len + 1 >= cap)
            return false;
        dst[len++] = c;
    }
    dst[len] = '\0';
    return true;
}

/* The userinfo s[0..n): "user:password", ":password" or "password". */
static bool parse_userinfo(const char *s, size_t n, struct redis_target *t) {
    const char *colon = memchr(s, ':', n);
    const char *pw = colon ? colon + 1 : s;
    if (colon && !copy_decoded(t->user, sizeof t->user, s, (size_t)(colon - s)))
        return false;
    return copy_decoded(t->password, sizeof t->password, pw, (size_t)(s + n - pw));
}

static bool parse_unix(const char *rest, struct redis_target *t) {
    if (rest[0] != '/') {
        /* userinfo: the path begins with '/', so it ends at the first "@/" */
        const char *at = strstr(rest, "@/");
        if (!at || !parse_userinfo(rest, (size_t)(at - rest), t))
            return false;
        rest = at + 1;
    }
    const char *q = strchr(rest, '?');
    size_t n = q ? (size_t)(q - rest) : strlen(rest);
    if (n == 0 || rest[0] != '/' || !copy_bounded(t->host, sizeof t->host, rest, n))
        return false;
    if (!q)
        return true;
    return strncmp(q, "?db=", 4) == 0 && parse_db_index(q + 4, strlen(q + 4), &t->db);
}

static bool parse_tcp(const char *rest, struct redis_target *t) {
    /* the last '@': a host, port and db index hold none */
    const char *at = strrchr(rest, '@');
    if (at) {
        if (!parse_userinfo(rest, (size_t)(at - rest), t))
            return false;
        rest = at + 1;
    }
    /* an IPv6 address is bracketed, as in every URL: redis://[::1]:6379 */
    bool bracketed = rest[0] == '[';
    size_t hostlen = bracketed ? strcspn(rest + 1, "]/") : strcspn(rest, ":/");
    if (bracketed && rest[1 + hostlen] != ']')
        return false;
    if (hostlen == 0 || !copy_bounded(t->host, sizeof t->host, rest + bracketed, hostlen))
        return false;
    rest += hostlen + (bracketed ? 2 : 0);
    t->port = 6379;
    if (*rest == ':') {
        size_t plen = strcspn(rest + 1, "/");
        int64_t port;
        if (!parse_i64(rest + 1, plen, 1, 65535, &port))
            return false;
        t->port = (int)port;
        rest += 1 + plen;
    }
    if (*rest == '/' && rest[1])
        return parse_db_index(rest + 1, strlen(rest + 1), &t->db);
    return *rest == '\0' || (rest[0] == '/' && rest[1] == '\0');
}

bool redis_url_parse(const char *url, struct redis_target *out) {
    memset(out, 0, sizeof *out);
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix(url + 7, out);
    if (strncmp(url, "redis://", 8) == 0)
        return parse_tcp(url + 8, out);
    return false;
}

/* target's address as a URL without its userinfo (the password). */
static void describe_target(void) {
    char db[16] = "";
    if (!target.port) {
        if (target.db)
            snprintf(db, sizeof db, "?db=%d", target.db);
        snprintf(address, sizeof address, "unix://%s%s", target.host, db);
        return;
    }
    if (target.db)
        snprintf(db, sizeof db, "/%d", target.db);
    bool v6 = strchr(target.host, ':') != NULL;
    snprintf(address, sizeof address, "redis://%s%s%s:%d%s", v6 ? "[" : "", target.host,
             v6 ? "]" : "", target.port, db);
}

bool cache_init(const char *url, int timeout_ms) {
    enabled = false;
    if (!url)
        return true;
    if (!redis_url_parse(url, &target))
        return false;
    describe_target();
    atomic_store(&down, false);
    timeout.tv_sec = timeout_ms / 1000;
    timeout.tv_usec = (timeout_ms % 1000) * 1000;
    enabled = true;
    return true;
}

bool cache_enabled(void) {
    return enabled;
}

/* A connection, a command or an answer failed: logged when it begins an
 * outage, else counted. A leftover is the failure of a connection made
 * before the last outage began (Redis closed it then, and it is used only
 * now): it belongs to that outage, and begins none. */
static void redis_failed(const char *why, bool leftover) {
    struct log_field at = {"address", address};
    pthread_mutex_lock(&outage_lock);
    if (atomic_load(&down)) {
        failures_unlogged++;
    } else if (!leftover) {
        atomic_store(&down, true);
        atomic_fetch_add(&outages_begun, 1);
        down_since_us = now_us();
        failures_unlogged = 0;
        nx_log_fields(LOG_WARN, "redis.down", NULL, &at, 1,
                      "%s; the cache is bypassed, and failures are not logged again until "
                      "Redis answers",
                      why);
    }
    pthread_mutex_unlock(&outage_lock);
}

/* Redis answered: the end of an outage, if one was logged. */
static void redis_answered(void) {
    if (!atomic_load_explicit(&down, memory_order_relaxed))
        return;
    struct log_field at = {"address", address};
    pthread_mutex_lock(&outage_lock);
    if (atomic_load(&down)) {
        atomic_store(&down, false);
        nx_log_fields(LOG_INFO, "redis.up", NULL, &at, 1,
                      "Redis answers again after %.1f s; %llu more failures were not logged",
                      (double)(now_us() - down_since_us) / 1e6,
                      (unsigned long long)failures_unlogged);
    }
    pthread_mutex_unlock(&outage_lock);
}

static bool simple_command(redisContext *ctx, const char *what, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    char why[300];
    /* Redis's error replies to AUTH and SELECT never quote their arguments */
    if (r && !ok)
        snprintf(why, sizeof why, "%s failed: %.*s", what, (int)r->len, r->str);
    else if (!ok)
        snprintf(why, sizeof why, "%s failed", what);
    if (!ok)
        redis_failed(why, false);
    freeReplyObject(r);
    return ok;
}

static redisContext *connect_now(void) {
    redisContext *ctx = target.port ? redisConnectWithTimeout(target.host, target.port, timeout)
                                    : redisConnectUnixWithTimeout(target.host, timeout);
    if (!ctx || ctx->err) {
        redis_failed(ctx ? ctx->errstr : "out of memory", false);
        redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, timeout);
    char db[8];
    snprintf(db, sizeof db, "%d", target.db);
    /* AUTH user password for an ACL user, AUTH password for the default
     * one; the log names the command, never its arguments. */
    const char *auth[] = {"AUTH", target.user, target.password};
    const char *auth_default[] = {"AUTH", target.password};
    const char *select[] = {"SELECT", db};
    bool authed = true;
    if (target.user[0])
        authed = simple_command(ctx, "AUTH", 3, auth);
    else if (target.password[0])
        authed = simple_command(ctx, "AUTH", 2, auth_default);
    if (!authed || (target.db && !simple_command(ctx, "SELECT", 2, select))) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

static struct cache_conn *this_thread(void) {
    if (!thread_conn) {
        thread_conn = xcalloc(1, sizeof *thread_conn);
        pthread_mutex_lock(&registry_lock);
        thread_conn->next = registry;
        registry = thread_conn;
        pthread_mutex_unlock(&registry_lock);
    }
    return thread_conn;
}

/* The next attempt after a failure: 100 ms, doubling up to 2 s. */
static void back_off(struct cache_conn *c) {
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > 2000)
        c->backoff_ms = 2000;
    c->next_attempt_us = now_us() + (uint64_t)c->backoff_ms * 1000u;
}

/* A reply came: Redis answers, and the next failure starts the backoff
 * anew. Not on connect: a hung Redis (stopped, or its event loop stuck)
 * still accepts connections, and each would cost a timeout again. */
static void answered(struct cache_conn *c) {
    c->backoff_ms = 0;
    redis_answered();
}

/* A usable context, or NULL while Redis is down and the backoff runs. */
static redisContext *context(void) {
    struct cache_conn *c = this_thread();
    if (c->ctx)
        return c->ctx;
    if (now_us() < c->next_attempt_us)
        return NULL;
    c->outages_before = atomic_load(&outages_begun);
    c->ctx = connect_now();
    if (!c->ctx)
        back_off(c);
    return c->ctx;
}

/* Any error leaves a hiredis context unusable: drop it, retry after backoff. */
static void drop_context(const char *why) {
    struct cache_conn *c = this_thread();
    redis_failed(why, c->outages_before < atomic_load(&outages_begun));
    redisFree(c->ctx);
    c->ctx = NULL;
    c->pending = 0;
    back_off(c);
}

static void log_error_reply(const redisReply *r) {
    if (r->type == REDIS_REPLY_ERROR)
        log_warn("redis.reply", NULL, "%.*s", (int)r->len, r->str);
}

/* Read the replies of the commands cache_send left behind; false (and the
 * context dropped) when the connection failed meanwhile. Redis answers a
 * connection's commands in order, so these come before any later reply. */
static bool drain(struct cache_conn *c) {
    while (c->pending) {
        void *r = NULL;
        if (redisGetReply(c->ctx, &r) != REDIS_OK || !r) {
            drop_context(c->ctx->errstr[0] ? c->ctx->errstr : "no reply");
            return false;
        }
        answered(c);
        log_error_reply(r);
        freeReplyObject(r);
        c->pending--;
    }
    return true;
}

/* This thread's context with no replies outstanding, or NULL. */
static redisContext *ready_context(void) {
    if (!enabled)
        return NULL;
    redisContext *ctx = context();
    return ctx && drain(this_thread()) ? ctx : NULL;
}

bool cache_send(int argc, const char **argv, const size_t *lens) {
    redisContext *ctx = ready_context();
    if (!ctx)
        return false;
    int done = 0;
    if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK)
        goto failed;
    while (!done)
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            goto failed;
    this_thread()->pending++;
    return true;
failed:
    drop_context(ctx->errstr[0] ? ctx->errstr : "write failed");
    return false;
}

redisReply *cache_command(int argc, const char **argv, const size_t *lens) {
    redisContext *ctx = ready_context();
    if (!ctx)
        return NULL;
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    if (!r) {
        drop_context(ctx->errstr[0] ? ctx->errstr : "no reply");
        return NULL;
    }
    answered(this_thread());
    if (r->type == REDIS_REPLY_ERROR) {
        log_error_reply(r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

void cache_retry_now(void) {
    this_thread()->next_attempt_us = 0;
}

enum cache_state cache_ping(void) {
    if (!enabled)
        return CACHE_DISABLED;
    const char *argv[] = {"PING"};
    redisReply *r = cache_command(1, argv, NULL);
    freeReplyObject(r);
    return r ? CACHE_OK : CACHE_UNAVAILABLE;
}

void cache_thread_close(void) {
    struct cache_conn *mine = thread_conn;
    if (!mine)
        return;
    thread_conn = NULL;
    pthread_mutex_lock(&registry_lock);
    for (struct cache_conn **link = &registry; *link; link = &(*link)->next)
        if (*link == mine) {
            *link = mine->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    redisFree(mine->ctx);
    free(mine);
}

void cache_close_all(void) {
    pthread_mutex_lock(&registry_lock);
    struct cache_conn *c = registry;
    registry = NULL;
    pthread_mutex_unlock(&registry_lock);
    while (c) {
        struct cache_conn *next = c->next;
        redisFree(c->ctx);
        free(c);
        c = next;
    }
}
