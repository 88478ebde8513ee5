/*
 * ratelimit.c -- login failure counting in Redis and in-process.
 */
#include "nexus/http/ratelimit.h"

#include "nexus/cache/cache.h"
#include "nexus/core/config.h"
#include "nexus/http/problem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOCAL_SLOTS 4096
#define LOCAL_PROBE 8
#define KEY_MAX     320

struct local_slot {
    char key[KEY_MAX];
    long count;
    time_t window_end;
};

static struct local_slot local[LOCAL_SLOTS];
static pthread_mutex_t local_lock = PTHREAD_MUTEX_INITIALIZER;

static void make_key(char *out, const char *kind, const char *value) {
    snprintf(out, KEY_MAX, "%s:lf:%s:%s", nx_config->redis_prefix, kind, value);
}

static size_t slot_hash(const char *key) {
    size_t h = 14695981039346656037u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211u;
    return h % LOCAL_SLOTS;
}

/* Find the key's slot, or claim an expired (or the oldest) one. Locked. */
static struct local_slot *local_slot_for(const char *key, time_t now) {
    size_t h = slot_hash(key);
    struct local_slot *victim = &local[h];
    for (size_t i = 0; i < LOCAL_PROBE; i++) {
        struct local_slot *s = &local[(h + i) % LOCAL_SLOTS];
        if (strcmp(s->key, key) == 0)
            return s->window_end > now ? s : (s->count = 0, s);
        if (s->window_end <= now || s->window_end < victim->window_end)
            victim = s;
    }
    snprintf(victim->key, KEY_MAX, "%s", key);
    victim->count = 0;
    victim->window_end = 0;
    return victim;
}

static long local_count(const char *key, time_t *window_end) {
    time_t now = time(NULL);
    pthread_mutex_lock(&local_lock);
    struct local_slot *s = local_slot_for(key, now);
    long n = s->count;
    *window_end = s->window_end;
    pthread_mutex_unlock(&local_lock);
    return n;
}

static void local_add(const char *key, long delta) {
    time_t now = time(NULL);
    pthread_mutex_lock(&local_lock);
    struct local_slot *s = local_slot_for(key, now);
    if (delta < 0) {
        s->count = 0;
    } else {
        if (s->count == 0)
            s->window_end = now + nx_config->login_failure_window;
        s->count += delta;
    }
    pthread_mutex_unlock(&local_lock);
}

/* The Redis count and its remaining TTL, or -1 when Redis cannot say. */
static long redis_count(const char *key, long *ttl) {
    const char *get[] = {"GET", key};
    redisReply *r = cache_command(2, get, NULL);
    long n = -1;
    if (r) {
        n = r->type == REDIS_REPLY_STRING ? strtol(r->str, NULL, 10) : 0;
        freeReplyObject(r);
    }
    const char *ttl_cmd[] = {"TTL", key};
    r = n > 0 ? cache_command(2, ttl_cmd, NULL) : NULL;
    *ttl = r && r->type == REDIS_REPLY_INTEGER ? (long)r->integer : 0;
    freeReplyObject(r);
    return n;
}

/* Seconds until key's window ends when it is over max, else 0. */
static unsigned blocked_for(const char *key, int max) {
    time_t window_end;
    long ttl = 0;
    long n = local_count(key, &window_end);
    long rn = redis_count(key, &ttl);
    time_t now = time(NULL);
    unsigned wait = 0;
    if (n >= max && window_end > now)
        wait = (unsigned)(window_end - now);
    if (rn >= max && ttl > 0 && (unsigned)ttl > wait)
        wait = (unsigned)ttl;
    return wait;
}

enum nx_err login_throttle_check(struct request *req, const char *email, const char *client) {
    char ekey[KEY_MAX], ckey[KEY_MAX];
    make_key(ekey, "e", email[0] ? email : "(malformed)");
    make_key(ckey, "c", client);
    unsigned e = blocked_for(ekey, nx_config->login_max_failures_per_email);
    unsigned c = blocked_for(ckey, nx_config->login_max_failures_per_client);
    unsigned wait = e > c ? e : c;
    if (!wait)
        return NX_OK;
    req->retry_after = wait;
    return problem_detail(req, NX_ERR_TOO_MANY, "too many failed logins; retry in %u seconds",
                          wait);
}

static void redis_increment(const char *key) {
    char window[16];
    snprintf(window, sizeof window, "%d", nx_config->login_failure_window);
    const char *incr[] = {"INCR", key};
    redisReply *r = cache_command(2, incr, NULL);
    bool first = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    /* NX: the window starts at the first failure and is never extended. */
    const char *expire[] = {"EXPIRE", key, window, "NX"};
    if (first)
        freeReplyObject(cache_command(4, expire, NULL));
}

void login_throttle_failed(const char *email, const char *client) {
    char ekey[KEY_MAX], ckey[KEY_MAX];
    make_key(ekey, "e", email[0] ? email : "(malformed)");
    make_key(ckey, "c", client);
    local_add(ekey, 1);
    local_add(ckey, 1);
    redis_increment(ekey);
    redis_increment(ckey);
}

void login_throttle_clear(const char *email) {
    char key[KEY_MAX];
    make_key(key, "e", email);
    local_add(key, -1);
    const char *del[] = {"DEL", key};
    freeReplyObject(cache_command(2, del, NULL));
}
