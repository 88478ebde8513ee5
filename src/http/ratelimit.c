/*
 * ratelimit.c -- attempt counting in Redis and in-process.
 */
#include "nexus/http/ratelimit.h"

#include "nexus/auth/password.h"
#include "nexus/cache/cache.h"
#include "nexus/core/config.h"
#include "nexus/http/problem.h"

#include <pthread.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCAL_SLOTS 4096
#define LOCAL_PROBE 8

struct local_slot {
    char key[NX_THROTTLE_KEY_MAX];
    long count;
    long pending; /* counted attempts not yet judged (see count_one) */
    time_t window_end;
    long unsynced;       /* attempts counted while Redis did not answer */
    time_t unsynced_end; /* when their window ends */
};

static struct local_slot local[LOCAL_SLOTS];
static pthread_mutex_t local_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char slot_secret[crypto_shorthash_KEYBYTES];
static bool slot_secret_made;

/* The key's first slot, by a hash keyed with a secret of this process, so
 * that which keys share slots cannot be worked out from outside. Locked. */
static size_t slot_hash(const char *key) {
    if (!slot_secret_made) {
        crypto_shorthash_keygen(slot_secret);
        slot_secret_made = true;
    }
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), slot_secret);
    uint64_t v = 0;
    memcpy(&v, h, sizeof v);
    return (size_t)(v % LOCAL_SLOTS);
}

/* The key's slot while its window lasts, else NULL. Locked. */
static struct local_slot *local_find(const char *key, time_t now) {
    size_t h = slot_hash(key);
    for (size_t i = 0; i < LOCAL_PROBE; i++) {
        struct local_slot *s = &local[(h + i) % LOCAL_SLOTS];
        if (strcmp(s->key, key) == 0)
            return s->window_end > now ? s : NULL;
    }
    return NULL;
}

/* A slot that holds no count: never used, its window over, or every
 * attempt given back. */
static bool slot_free(const struct local_slot *s, time_t now) {
    return s->window_end <= now || (s->count == 0 && s->pending == 0);
}

/* The key's live slot, else the first free one of its range, made the
 * key's. NULL when every slot of the range holds another key's count:
 * one is never pushed out, which would forget its attempts; *busy_for is
 * then the seconds until the first of them ends. Locked. */
static struct local_slot *local_claim(const char *key, time_t now, long *busy_for) {
    struct local_slot *s = local_find(key, now);
    if (s)
        return s;
    size_t h = slot_hash(key);
    time_t first_end = 0;
    for (size_t i = 0; i < LOCAL_PROBE; i++) {
        s = &local[(h + i) % LOCAL_SLOTS];
        if (slot_free(s, now)) {
            *s = (struct local_slot){.window_end = now + nx_config->login_failure_window};
            snprintf(s->key, NX_THROTTLE_KEY_MAX, "%s", key);
            return s;
        }
        if (i == 0 || s->window_end < first_end)
            first_end = s->window_end;
    }
    *busy_for = (long)(first_end - now);
    return NULL;
}

/* One attempt counted on a key: the count it makes, the seconds left in
 * its window, and how many attempts counted before were not judged yet. */
struct counted {
    long n;
    long left;
    long pending;
    bool no_room; /* neither Redis nor the table could count it */
};

/* The slot takes Redis's count (rn, ttl seconds left): another instance
 * may have cleared or added to it. The attempts the slot counted while
 * Redis did not answer are added while their window lasts: Redis never
 * saw them, and its return must not start the limit again. Locked. */
static void slot_take_redis_count(struct local_slot *s, long rn, long ttl, time_t now) {
    if (s->unsynced_end <= now)
        s->unsynced = 0;
    time_t end = now + (ttl > 0 ? ttl : 1);
    s->count = rn + s->unsynced;
    s->window_end = s->unsynced && s->unsynced_end > end ? s->unsynced_end : end;
}

/* One attempt Redis did not count, counted by the slot alone. Locked. */
static void slot_count_unsynced(struct local_slot *s, time_t now) {
    if (s->unsynced == 0 || s->unsynced_end <= now) {
        s->unsynced = 0;
        s->unsynced_end = s->window_end;
    }
    s->count++;
    s->unsynced++;
}

/* Count one attempt on key in the table: Redis's count when Redis
 * counted it (rn >= 0, ttl seconds left), else one more of the table's.
 * track: the attempt is to be judged (one more pending). */
static struct counted local_count(const char *key, long rn, long ttl, bool track) {
    time_t now = time(NULL);
    struct counted c = {rn, ttl, 0, false};
    long busy_for = 0;
    pthread_mutex_lock(&local_lock);
    struct local_slot *s = local_claim(key, now, &busy_for);
    if (s) {
        if (rn >= 0)
            slot_take_redis_count(s, rn, ttl, now);
        else
            slot_count_unsynced(s, now);
        c = (struct counted){s->count, (long)(s->window_end - now), s->pending, false};
        s->pending += track;
    } else if (rn < 0) {
        c = (struct counted){0, busy_for > 0 ? busy_for : 1, 0, true};
    }
    pthread_mutex_unlock(&local_lock);
    return c;
}

/* An attempt counted with track was judged (or given back). */
static void local_settle(const char *key) {
    pthread_mutex_lock(&local_lock);
    struct local_slot *s = local_find(key, time(NULL));
    if (s && s->pending > 0)
        s->pending--;
    pthread_mutex_unlock(&local_lock);
}

/* Take one back from key (forget: all of them); unsynced: it was one
 * that Redis did not count. */
static void local_decrement(const char *key, bool forget, bool unsynced) {
    pthread_mutex_lock(&local_lock);
    struct local_slot *s = local_find(key, time(NULL));
    if (s && (forget || s->count <= 1))
        s->count = 0;
    else if (s)
        s->count--;
    if (s && (forget || (unsynced && s->unsynced > 0)))
        s->unsynced = forget ? 0 : s->unsynced - 1;
    pthread_mutex_unlock(&local_lock);
}

/* INCR and TTL in one step: the window starts at the first count and is
 * never extended (a key left without a TTL gets one). */
static const char INCREMENT_SCRIPT[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "local ttl = redis.call('TTL', KEYS[1]) "
    "if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end "
    "return {n, ttl}";

/* DECR that never leaves a key at zero or below (nor makes one). */
static const char DECREMENT_SCRIPT[] =
    "if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end return 0";

/* The Redis count after adding one, and its TTL; -1 when Redis cannot say. */
static long redis_increment(const char *key, long *ttl) {
    char window[16];
    snprintf(window, sizeof window, "%d", nx_config->login_failure_window);
    const char *argv[] = {"EVAL", INCREMENT_SCRIPT, "1", key, window};
    redisReply *r = cache_command(5, argv, NULL);
    long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER) {
        n = (long)r->element[0]->integer;
        *ttl = (long)r->element[1]->integer;
    }
    freeReplyObject(r);
    return n;
}

static void redis_decrement(const char *key, bool forget) {
    const char *del[] = {"DEL", key};
    const char *decr[] = {"EVAL", DECREMENT_SCRIPT, "1", key};
    freeReplyObject(forget ? cache_command(2, del, NULL) : cache_command(4, decr, NULL));
}

static void add_key(struct throttle *t, const char *kind, const char *value, int max) {
    snprintf(t->keys[t->count].key, NX_THROTTLE_KEY_MAX, "%s:lf:%s:%s", nx_config->redis_prefix,
             kind, value);
    t->keys[t->count].max = max;
    t->keys[t->count].in_redis = false;
    t->count++;
}

/* Count one attempt on key i; the seconds until it may retry when that
 * made it over its limit, else 0. The count is Redis's whenever Redis
 * answers (shared by every instance), the table's only when it does not.
 * *judged_over: the attempts already judged make it over; when only those
 * of this process still being judged (their hashes computed) do, it may
 * well be under once they are, and is not yet refused as one too many.
 * *no_room: it could not be counted at all (and the seconds are until
 * the table has room). */
static unsigned count_one(struct throttle *t, size_t i, bool *judged_over, bool *no_room) {
    long ttl = 0;
    long rn = redis_increment(t->keys[i].key, &ttl);
    t->keys[i].in_redis = rn >= 0;
    struct counted c = local_count(t->keys[i].key, rn, ttl, t->tracks_pending);
    long max = t->keys[i].max;
    *no_room = c.no_room;
    *judged_over = c.n - c.pending > max;
    if (c.no_room || c.n > max)
        return (unsigned)(c.left > 0 ? c.left : 1);
    return 0;
}

static void give_all_back(struct throttle *t);

/* The counts of a request's runs that deferred a password hash, kept
 * for its next run (see throttle_undo). A request has one or two. */
#define CARRIED_MAX 4
struct throttle_carry {
    size_t count;
    struct throttle kept[CARRIED_MAX];
};

static bool same_keys(const struct throttle *a, const struct throttle *b) {
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->keys[i].key, b->keys[i].key) != 0)
            return false;
    return true;
}

/* Take over the counts an earlier run of the request kept for t's keys. */
static bool adopt_carried(struct request *req, struct throttle *t) {
    struct throttle_carry *c = req->throttle_carry;
    for (size_t i = 0; c && i < c->count; i++)
        if (same_keys(&c->kept[i], t)) {
            *t = c->kept[i];
            c->kept[i] = c->kept[--c->count];
            return true;
        }
    return false;
}

static bool carry(struct throttle *t) {
    struct request *req = t->req;
    if (!req->throttle_carry)
        req->throttle_carry = xcalloc(1, sizeof *req->throttle_carry);
    struct throttle_carry *c = req->throttle_carry;
    if (c->count == CARRIED_MAX)
        return false;
    c->kept[c->count++] = *t;
    t->count = 0;
    return true;
}

/* Count the attempt on every key of t; over any limit, give all back. An
 * attempt judged (pending_what: what they are, or NULL for requests that
 * count whatever they find) that is over only while others are still
 * being judged is a 503 to retry in a moment: a 429 would tell a user
 * with the right password to wait out the window. */
static enum nx_err count_attempt(struct request *req, struct throttle *t, const char *what,
                                 const char *pending_what) {
    t->req = req;
    t->tracks_pending = pending_what != NULL;
    if (adopt_carried(req, t))
        return NX_OK;
    unsigned wait = 0, room_wait = 0;
    bool judged_over = false;
    for (size_t i = 0; i < t->count; i++) {
        bool over = false, no_room = false;
        unsigned w = count_one(t, i, &over, &no_room);
        unsigned *longest = no_room ? &room_wait : &wait;
        *longest = w > *longest ? w : *longest;
        judged_over = judged_over || (w && over);
    }
    if (!wait && !room_wait)
        return NX_OK;
    give_all_back(t);
    if (!wait) {
        /* Without Redis, attempts the table cannot count would be
         * unlimited: refused until a slot's window ends. */
        req->retry_after = room_wait;
        return problem_detail(req, NX_ERR_UNAVAILABLE,
                              "too many %s are being counted; retry in %u seconds", what,
                              room_wait);
    }
    if (!judged_over && pending_what) {
        req->retry_after = 1;
        return problem_detail(req, NX_ERR_UNAVAILABLE,
                              "other %s are still being checked; retry in a moment", pending_what);
    }
    req->retry_after = wait;
    return problem_detail(req, NX_ERR_TOO_MANY, "too many %s; retry in %u seconds", what, wait);
}

/* The email as a key: a hash of its trimmed, lower-cased text (the
 * spelling rules of email_normalize), whatever it holds and however long. */
static void email_digest(const char *email, char hex[2 * 16 + 1]) {
    static const char space[] = " \t\n\r";
    size_t start = strspn(email, space), end = strlen(email);
    while (end > start && strchr(space, email[end - 1]))
        end--;
    crypto_generichash_state st;
    unsigned char chunk[64], digest[16];
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    for (size_t i = start; i < end;) {
        size_t n = 0;
        for (; n < sizeof chunk && i < end; n++, i++)
            chunk[n] =
                (unsigned char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
        crypto_generichash_update(&st, chunk, n);
    }
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_bin2hex(hex, 2 * sizeof digest + 1, digest, sizeof digest);
}

enum nx_err login_throttle_begin(struct request *req, struct throttle *t, const char *email,
                                 const char *client) {
    char digest[2 * 16 + 1];
    email_digest(email, digest);
    t->count = 0;
    add_key(t, "e", digest, nx_config->login_max_failures_per_email);
    add_key(t, "c", client, nx_config->login_max_failures_per_client);
    return count_attempt(req, t, "failed password attempts", "password attempts");
}

enum nx_err mail_throttle_begin(struct request *req, struct throttle *t, const char *email,
                                const char *client) {
    char digest[2 * 16 + 1];
    email_digest(email, digest);
    t->count = 0;
    add_key(t, "me", digest, nx_config->login_max_failures_per_email);
    add_key(t, "mc", client, nx_config->login_max_failures_per_client);
    return count_attempt(req, t, "account email requests", NULL);
}

enum nx_err register_throttle_begin(struct request *req, struct throttle *t, const char *client) {
    t->count = 0;
    add_key(t, "r", client, nx_config->login_max_failures_per_client);
    return count_attempt(req, t, "registrations", "registrations");
}

static void give_back(struct throttle *t, size_t i, bool forget) {
    if (t->tracks_pending)
        local_settle(t->keys[i].key);
    local_decrement(t->keys[i].key, forget, !t->keys[i].in_redis);
    if (t->keys[i].in_redis || forget)
        redis_decrement(t->keys[i].key, forget);
}

static void give_all_back(struct throttle *t) {
    for (size_t i = 0; i < t->count; i++)
        give_back(t, i, false);
    t->count = 0;
}

void throttle_undo(struct throttle *t) {
    if (t->count && t->req && password_deferred() && carry(t))
        return;
    give_all_back(t);
}

void throttle_release_carried(struct request *req) {
    struct throttle_carry *c = req->throttle_carry;
    for (size_t i = 0; c && i < c->count; i++)
        give_all_back(&c->kept[i]);
    free(c);
    req->throttle_carry = NULL;
}

void login_throttle_passed(struct throttle *t) {
    /* keys[0] is the email's, keys[1] the client's. */
    for (size_t i = 0; i < t->count; i++)
        give_back(t, i, i == 0);
    t->count = 0;
}

void login_throttle_forget_email(const char *email) {
    struct throttle t = {.count = 0};
    char digest[2 * 16 + 1];
    email_digest(email, digest);
    add_key(&t, "e", digest, nx_config->login_max_failures_per_email);
    give_back(&t, 0, true);
}

void throttle_failed(struct throttle *t) {
    for (size_t i = 0; t->tracks_pending && i < t->count; i++)
        local_settle(t->keys[i].key);
    t->count = 0;
}
