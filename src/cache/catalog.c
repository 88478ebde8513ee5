/*
 * catalog.c -- the catalog cache: generation, lookup, fill, bump.
 */
#include "nexus/cache/catalog.h"

#include "nexus/cache/cache.h"
#include "nexus/cache/local.h"
#include "nexus/core/cursor.h"
#include "nexus/core/log.h"
#include "nexus/core/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char gen_key[96];
/* Entry prefixes end with the cursor key's fingerprint (see
 * catalog_cache_init); an entry's key is then its generation, ":" and the
 * request's key. */
static char entry_prefix[128];
static char items_gen_key[96];              /* the generation every item read depends on */
static char product_gen_prefix[96];         /* + id: the generation of one product's item */
static char item_prefix[128];               /* item entries: + product generation + ":" + key */
static char position_key[96];               /* the primary's WAL position of the last write */
static char changes_key[96];                /* the change log of the last bumps */
static catalog_position_fn position_source; /* NULL: bumps carry no position */
static char ttl_text[16];
static size_t max_entry; /* 0: no bound */
/* Bumps that failed for good, and how many of those a later successful
 * bump has made up for (a bump pays every failure counted before it was
 * sent). While one is owed, reads bypass the cache. Counters, not a flag:
 * a bump that succeeds must not clear a failure that came after it. */
static _Atomic uint64_t bumps_owed, bumps_paid;
/* While untrusted, reads try a bump at most this often (microseconds). */
#define RETRUST_INTERVAL_US 1000000
static _Atomic uint64_t next_retrust_us;

/* The generation this thread saw last: the entry under it is fetched in
 * the same round trip as the current generation, and used only if the two
 * agree. After a bump each thread pays one more round trip, once. */
static _Thread_local char known_gen[24];

/* ---- the generation window --------------------------------------------
 *
 * The generation last read from Redis by any thread, and when that read
 * was sent. A read that starts less than window_us after the send may use
 * it without asking Redis again; every catalog write waits window_us after
 * its bump before it answers. So for a write answered at time r, a read
 * starting after r uses a generation read after r - window_us, which is
 * after the bump completed: it sees the bump, on any instance.
 */
static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;
static char window_gen[24];
static uint64_t window_sent_us; /* 0: none */
static uint64_t window_us;      /* 0: every read asks Redis */
/* How long a write waits after its bump: the window of the readers of
 * every instance, so also in a process that keeps no local tier itself
 * (the worker, a seed, a server with CACHE_LOCAL_MIB=0). */
static uint64_t write_wait_us;

static bool window_current(char *gen, size_t cap) {
    if (!window_us)
        return false;
    uint64_t now = now_us();
    pthread_mutex_lock(&window_lock);
    bool current = window_sent_us && now - window_sent_us < window_us && cap >= sizeof window_gen;
    if (current) /* a copy, not snprintf: this runs on every local hit */
        memcpy(gen, window_gen, sizeof window_gen);
    pthread_mutex_unlock(&window_lock);
    return current;
}

/* Keep the generation whose read was sent last: any read sent later than
 * a bump completed shows that bump, whatever order the replies come in. */
static void window_publish(const char *gen, uint64_t sent_us) {
    pthread_mutex_lock(&window_lock);
    if (sent_us > window_sent_us && strlen(gen) < sizeof window_gen) {
        memcpy(window_gen, gen, strlen(gen) + 1);
        window_sent_us = sent_us;
    }
    pthread_mutex_unlock(&window_lock);
}

static void window_reset(void) {
    pthread_mutex_lock(&window_lock);
    window_gen[0] = '\0';
    window_sent_us = 0;
    pthread_mutex_unlock(&window_lock);
}

void catalog_cache_wait(uint64_t until_us) {
    for (uint64_t now = now_us(); now < until_us; now = now_us()) {
        struct timespec ts = {(time_t)((until_us - now) / 1000000u),
                              (long)((until_us - now) % 1000000u) * 1000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

void catalog_cache_init(const char *prefix, const struct catalog_cache_limits *limits) {
    /* Answers carry list cursors signed with the cursor key: entries are
     * kept apart by its fingerprint, so a process given another secret (a
     * rotation, or instances of different secrets meanwhile) fills its own
     * entries instead of serving cursors it would refuse. The generations
     * stay shared: a write still reaches every process's entries. */
    char signer[NX_CURSOR_FINGERPRINT_LEN];
    cursor_key_fingerprint(signer);
    snprintf(gen_key, sizeof gen_key, "%s:catalog:gen", prefix);
    snprintf(entry_prefix, sizeof entry_prefix, "%s:catalog:%s:", prefix, signer);
    snprintf(items_gen_key, sizeof items_gen_key, "%s:catalog:items-gen", prefix);
    snprintf(product_gen_prefix, sizeof product_gen_prefix, "%s:catalog:product-gen:", prefix);
    snprintf(item_prefix, sizeof item_prefix, "%s:catalog:item:%s:", prefix, signer);
    snprintf(position_key, sizeof position_key, "%s:catalog:wal-position", prefix);
    snprintf(changes_key, sizeof changes_key, "%s:catalog:changes", prefix);
    snprintf(ttl_text, sizeof ttl_text, "%d", limits->ttl_seconds);
    max_entry = limits->max_entry;
    atomic_store(&bumps_owed, 0);
    atomic_store(&bumps_paid, 0);
    bool local = cache_enabled() && limits->local_bytes && limits->window_us;
    window_us = local ? limits->window_us : 0;
    write_wait_us = cache_enabled() ? limits->window_us : 0;
    window_reset();
    local_cache_init(local ? limits->local_bytes : 0, limits->ttl_seconds);
}

void catalog_cache_free(void) {
    local_cache_free();
    window_us = 0;
    write_wait_us = 0;
}

/* Generations never repeat, so a local entry cannot match a generation
 * reached again after Redis lost its data: the first bump after the key
 * went missing starts it from the wall clock in microseconds. A bump made
 * for a write also raises the catalog's WAL position (KEYS[2]) to the
 * primary's position after the write committed (ARGV[2]; "" for none):
 * positions are fixed-width hex, so they compare as text, and the key only
 * ever moves forward. The new generation also becomes the generation of
 * what the write changed (KEYS[4]): every item (a category's name is in
 * its products), or one product (kept ARGV[4] seconds; see item_lookup
 * for when it is missing). Every bump appends "<generation> <what>" to
 * the change log (KEYS[3], the last CHANGES_KEPT bumps; ARGV[3]: see
 * local_catch_up). Generations are below 2^53, exact as Lua numbers; %.0f
 * prints them whole. */
#define CHANGES_KEPT 512
#define STR(x)       #x
#define XSTR(x)      STR(x)
static const char BUMP_SCRIPT[] =
    "local g = redis.call('INCR', KEYS[1]) "
    "if g == 1 then g = redis.call('INCRBY', KEYS[1], ARGV[1]) end "
    "local gs = string.format('%.0f', g) "
    "if ARGV[2] ~= '' then local p = redis.call('GET', KEYS[2]) "
    "if not p or #ARGV[2] > #p or (#ARGV[2] == #p and ARGV[2] > p) then "
    "redis.call('SET', KEYS[2], ARGV[2]) end end "
    "if KEYS[4] and ARGV[4] then redis.call('SET', KEYS[4], gs, 'EX', ARGV[4]) "
    "elseif KEYS[4] then redis.call('SET', KEYS[4], gs) end "
    "redis.call('RPUSH', KEYS[3], gs .. ' ' .. ARGV[3]) "
    "redis.call('LTRIM', KEYS[3], -" XSTR(CHANGES_KEPT) ", -1) "
                                                        "return g";

/* What a bump marks as changed next to the lists (see catalog.h). */
struct bump_target {
    const char *key; /* NULL: the lists only */
    bool expires;
    const char *what; /* its change log word: "*" every item, a product id, "-" */
};

/* Bump the generation, raising the WAL position to position ("": leave
 * it); the new value goes to the window (as read at a moment after it
 * was sent) and to gen. */
static bool bump_now(const struct bump_target *t, const char *position, char *gen, size_t cap) {
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char seed[24];
    snprintf(seed, sizeof seed, "%lld", (long long)wall.tv_sec * 1000000LL + wall.tv_nsec / 1000);
    const char *argv[] = {
        "EVAL", BUMP_SCRIPT, t->key ? "4" : "3", gen_key, position_key, changes_key,
        t->key, seed,        position,           t->what, ttl_text};
    int argc = 11;
    if (!t->key) { /* no fourth key: the arguments follow the third */
        memmove(&argv[6], &argv[7], 3 * sizeof argv[0]);
        argc = 9;
    } else if (!t->expires) {
        argc = 10;
    }
    uint64_t sent = now_us();
    redisReply *r = cache_command(argc, argv, NULL);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok) {
        snprintf(gen, cap, "%lld", r->integer);
        window_publish(gen, sent);
    }
    freeReplyObject(r);
    return ok;
}

/* The primary's WAL position now, for a bump that stands for a write:
 * false when the primary cannot tell (the bump then fails, and is owed).
 * Without a position source bumps carry none. */
static bool write_position(char *out, size_t cap) {
    out[0] = '\0';
    return !position_source || position_source(out, cap);
}

void catalog_cache_set_position_source(catalog_position_fn fn) {
    position_source = fn;
}

/* Every item and list: for a bump whose write is not known (an owed one). */
static const struct bump_target BUMP_EVERYTHING = {items_gen_key, false, "*"};

static bool trusted(void) {
    return atomic_load(&bumps_paid) >= atomic_load(&bumps_owed);
}

/* bump_now, and on success pay the failures counted before it. An owed
 * bump's write is not known any more, so paying needs one that marks
 * every item changed (any bump pays when none is owed). */
static bool bump_and_pay(const struct bump_target *t) {
    uint64_t owed = atomic_load(&bumps_owed);
    if (owed > atomic_load(&bumps_paid))
        t = &BUMP_EVERYTHING;
    char position[NX_CACHE_POSITION_LEN];
    if (!write_position(position, sizeof position) ||
        !bump_now(t, position, known_gen, sizeof known_gen))
        return false;
    uint64_t paid = atomic_load(&bumps_paid);
    while (paid < owed && !atomic_compare_exchange_weak(&bumps_paid, &paid, owed))
        ;
    return true;
}

/* A bump that failed is tried again this many times, after these pauses
 * (milliseconds), each on a fresh connection: a connection Redis closed or
 * a blip should not cost every instance its cache. */
static const int BUMP_RETRY_PAUSE_MS[] = {5, 25};

static void pause_ms(int ms) {
    struct timespec ts = {0, (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool bump_retrying(const struct bump_target *t) {
    bool ok = bump_and_pay(t);
    for (size_t i = 0; !ok && i < sizeof BUMP_RETRY_PAUSE_MS / sizeof BUMP_RETRY_PAUSE_MS[0]; i++) {
        pause_ms(BUMP_RETRY_PAUSE_MS[i]);
        cache_retry_now();
        ok = bump_and_pay(t);
    }
    return ok;
}

uint64_t catalog_cache_bump_deferred(enum catalog_change change, int64_t product_id) {
    if (!cache_enabled())
        return 0;
    char product_key[sizeof product_gen_prefix + 24];
    snprintf(product_key, sizeof product_key, "%s%lld", product_gen_prefix, (long long)product_id);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)product_id);
    struct bump_target t = {NULL, false, "-"};
    if (change == CATALOG_CHANGE_ALL)
        t = BUMP_EVERYTHING;
    else if (change == CATALOG_CHANGE_PRODUCT)
        t = (struct bump_target){product_key, true, id};
    bool ok = bump_retrying(&t);
    uint64_t bumped = now_us();
    if (!ok) {
        /* The bump is owed: until it lands, this process bypasses the
         * cache, and catalog_cache_maintain keeps trying it, so the other
         * instances stop using older entries as soon as Redis answers. */
        atomic_fetch_add(&bumps_owed, 1);
        window_reset();
        local_cache_clear();
        metrics_count("cache_errors");
        log_warn("cache.bump", NULL,
                 "generation bump failed: cache bypassed until a bump succeeds");
    }
    /* also after a failure: other instances' windows */
    return write_wait_us ? bumped + write_wait_us : 0;
}

void catalog_cache_bump(enum catalog_change change, int64_t product_id) {
    catalog_cache_wait(catalog_cache_bump_deferred(change, product_id));
}

void catalog_cache_maintain(void) {
    if (!cache_enabled() || trusted())
        return;
    cache_retry_now(); /* the owed bump should not wait out a backoff */
    if (bump_and_pay(&BUMP_EVERYTHING)) {
        log_info("cache.trusted", NULL, "owed generation bump done: cache in use again");
    }
}

bool catalog_cache_owes(void) {
    return cache_enabled() && !trusted();
}

bool catalog_cache_bump_everything(void) {
    return cache_enabled() && bump_retrying(&BUMP_EVERYTHING);
}

/* An untrusted cache becomes trusted again by a successful bump (which
 * makes every older entry unreachable). */
static bool cache_trusted(void) {
    if (trusted())
        return true;
    uint64_t now = now_us(), next = atomic_load(&next_retrust_us);
    if (now < next ||
        !atomic_compare_exchange_strong(&next_retrust_us, &next, now + RETRUST_INTERVAL_US))
        return false;
    if (bump_and_pay(&BUMP_EVERYTHING)) {
        log_info("cache.trusted", NULL, "generation bumped: cache in use again");
        return trusted();
    }
    return false;
}

static void entry_key(struct buf *k, const char *prefix, const char *gen, const char *key,
                      size_t key_len) {
    buf_puts(k, prefix);
    buf_puts(k, gen);
    buf_append(k, ":", 1);
    buf_append(k, key, key_len);
}

/* MGET of the generation, the entry under gen and the WAL position: one
 * command, one round trip. Returns the three-element array reply (owned),
 * or NULL. */
static redisReply *fetch(const char *gen, const char *key, size_t key_len) {
    struct buf k = {0};
    entry_key(&k, entry_prefix, gen, key, key_len);
    const char *argv[] = {"MGET", gen_key, k.data, position_key};
    size_t lens[] = {4, strlen(gen_key), k.len, strlen(position_key)};
    redisReply *r = cache_command(4, argv, lens);
    buf_clear(&k);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != 3)) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static bool is_string_or_nil(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
}

/* The WAL position a lookup found ("" when Redis has none, or a value
 * that is not one). */
static void take_position(const redisReply *r, struct cache_lookup *out) {
    out->position[0] = '\0';
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof out->position &&
        strspn(r->str, "0123456789ABCDEF") == r->len)
        memcpy(out->position, r->str, r->len + 1);
}

/* Entry layout: the ETag (maybe empty), a newline, the body bytes. */
static void parse_entry(const redisReply *v, struct cache_lookup *out) {
    const char *nl = memchr(v->str, '\n', v->len);
    size_t tag = nl ? (size_t)(nl - v->str) : 0;
    if (!nl || tag >= sizeof out->entry.etag)
        return;
    memcpy(out->entry.etag, v->str, tag);
    out->entry.etag[tag] = '\0';
    out->entry.len = v->len - tag - 1;
    out->entry.body = xmalloc(out->entry.len + 1);
    memcpy(out->entry.body, nl + 1, out->entry.len);
    out->entry.body[out->entry.len] = '\0';
    out->hit = true;
}

/* ---- the local tier across writes -------------------------------------
 *
 * The local tier holds one generation's entries. Every bump appends
 * "<generation> <what>" to the change log: a product id (that product's
 * item changed), "*" (every item did) or "-" (a new product: the lists
 * only). A process whose table is at generation a and that learns of a
 * later b reads the log once; when it names every generation in (a, b],
 * the table moves to b keeping the items of the products not named (the
 * lists depend on every write and go). Otherwise (the log was trimmed,
 * evicted or lost with Redis's data, or Redis failed) the table is
 * emptied: a gap is never read as "nothing changed".
 */

static bool parse_gen(const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        return false;
    *out = v;
    return true;
}

/* What the log says of the generations in (from, from + n]: the products
 * changed into changed (at most n), every_item when one bump changed every
 * item. False when a generation in that range is missing. */
static bool read_changes(const redisReply *r, uint64_t from, uint64_t n, int64_t *changed,
                         size_t *count, bool *every_item) {
    bool seen[CHANGES_KEPT] = {false};
    uint64_t found = 0;
    *count = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        char word[48];
        if (e->type != REDIS_REPLY_STRING || e->len >= sizeof word)
            return false;
        memcpy(word, e->str, e->len);
        word[e->len] = '\0';
        char *what = strchr(word, ' ');
        uint64_t g;
        if (!what)
            return false;
        *what++ = '\0';
        if (!parse_gen(word, &g) || g <= from || g > from + n || seen[g - from - 1])
            continue;
        seen[g - from - 1] = true;
        found++;
        if (strcmp(what, "*") == 0) {
            *every_item = true;
        } else if (strcmp(what, "-") != 0) {
            char *end;
            long long id = strtoll(what, &end, 10);
            if (*end || id <= 0)
                return false;
            changed[(*count)++] = id;
        }
    }
    return found == n;
}

/* Whether the change log holds generation gen: then Redis issued it, and
 * a later read of an earlier generation was only sent before it. */
static bool log_holds(const char *gen) {
    const char *argv[] = {"LRANGE", changes_key, "-" XSTR(CHANGES_KEPT), "-1"};
    redisReply *r = cache_command(4, argv, NULL);
    size_t n = strlen(gen);
    bool held = false;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && !held; i++) {
        const redisReply *e = r->element[i];
        held = e->type == REDIS_REPLY_STRING && e->len > n && memcmp(e->str, gen, n) == 0 &&
               e->str[n] == ' ';
    }
    freeReplyObject(r);
    return held;
}

/* Move the local tier to generation to (see above). One thread at a time;
 * the others go on to Redis meanwhile. True when the table is now at to
 * or empty. A generation below the table's is usually a read that another
 * thread's later one overtook (the table moved on meanwhile): the table is
 * left as it is, and false returned, when the log still holds the table's
 * generation. */
static bool local_catch_up(const char *to) {
    static pthread_mutex_t catching_up = PTHREAD_MUTEX_INITIALIZER;
    char from[NX_CACHE_GEN_LEN];
    uint64_t a, b;
    local_cache_generation(from, sizeof from);
    if (!from[0] || strcmp(from, to) == 0)
        return true;
    if (!parse_gen(from, &a) || !parse_gen(to, &b) || pthread_mutex_trylock(&catching_up) != 0)
        return false;
    if (b < a && log_holds(from)) {
        pthread_mutex_unlock(&catching_up);
        return false;
    }
    bool done = false;
    /* A generation below the table's (Redis lost its keys and started again
     * under a clock that is behind) has no log to follow: empty the table. */
    if (b > a && b - a <= CHANGES_KEPT) {
        char start[24];
        snprintf(start, sizeof start, "-%llu", (unsigned long long)(b - a + 32));
        const char *argv[] = {"LRANGE", changes_key, start, "-1"};
        redisReply *r = cache_command(4, argv, NULL);
        int64_t changed[CHANGES_KEPT];
        size_t count = 0;
        bool every_item = false;
        if (r && r->type == REDIS_REPLY_ARRAY &&
            read_changes(r, a, b - a, changed, &count, &every_item))
            done = local_cache_advance(from, to, changed, count, every_item);
        freeReplyObject(r);
    }
    if (!done) {
        local_cache_generation(from, sizeof from);
        if (strcmp(from, to) != 0) { /* nobody moved it meanwhile */
            local_cache_clear();
            metrics_count("cache_local_resets");
        }
    }
    pthread_mutex_unlock(&catching_up);
    return true;
}

/* Keep a response in the local tier, after moving the table up to its
 * generation (a store under a later generation would empty the table). */
static void local_store(const char *gen, int64_t product_id, const char *key, size_t key_len,
                        const char *etag, const char *body, size_t len) {
    if (local_catch_up(gen))
        local_cache_put(gen, product_id, key, key_len, etag, body, len);
}

/* A hit from the local tier under a generation still inside the window:
 * no Redis round trip. On a miss, the window's generation (if any) is the
 * one Redis is asked for next. */
static bool local_hit(const char *key, size_t key_len, struct cache_lookup *out) {
    if (!window_current(out->gen, sizeof out->gen))
        return false;
    memcpy(known_gen, out->gen, sizeof known_gen);
    if (!local_cache_get(out->gen, key, key_len, &out->entry) &&
        !(local_catch_up(out->gen) && local_cache_get(out->gen, key, key_len, &out->entry)))
        return false;
    out->usable = out->hit = true;
    return true;
}

/* Count a Redis lookup's outcome; a hit also goes to the local tier. */
static void count_lookup(const char *key, size_t key_len, const struct cache_lookup *out) {
    if (!out->usable) {
        metrics_count("cache_bypasses");
        return;
    }
    metrics_count(out->hit ? "cache_hits" : "cache_misses");
    if (out->hit && window_us)
        local_store(out->gen, out->product_id, key, key_len, out->entry.etag, out->entry.body,
                    out->entry.len);
}

/* One MGET (two, once per thread after a bump): the current generation
 * and the entry under the one this thread saw last. */
static void redis_lookup(const char *key, size_t key_len, struct cache_lookup *out) {
    redisReply *r = NULL;
    for (int round = 0; round < 2 && !out->usable; round++) {
        freeReplyObject(r);
        uint64_t sent = now_us();
        if (!(r = fetch(known_gen, key, key_len)))
            break;
        const redisReply *gen = r->element[0], *entry = r->element[1];
        if (!is_string_or_nil(gen) || !is_string_or_nil(entry) ||
            !is_string_or_nil(r->element[2]) || gen->len >= sizeof out->gen) {
            metrics_count("cache_errors");
            break;
        }
        if (gen->type == REDIS_REPLY_NIL) { /* none yet, or Redis lost it: make one */
            if (!bump_now(&BUMP_EVERYTHING, "", known_gen, sizeof known_gen))
                break;
            continue;
        }
        memcpy(out->gen, gen->str, gen->len + 1);
        memcpy(out->entry_gen, out->gen, sizeof out->entry_gen);
        window_publish(out->gen, sent);
        if (strcmp(out->gen, known_gen) != 0) { /* a bump happened: look again */
            memcpy(known_gen, out->gen, sizeof known_gen);
            continue;
        }
        out->usable = true;
        take_position(r->element[2], out);
        if (entry->type == REDIS_REPLY_STRING)
            parse_entry(entry, out);
    }
    freeReplyObject(r);
    count_lookup(key, key_len, out);
}

/* ---- item reads ------------------------------------------------------------
 *
 * The WAL position comes back too, fourth (see BUMP_SCRIPT).
 * A product's item is cached under its own generation: the later of the
 * generation of every item (bumped by category writes: a category's name
 * is in its products) and the product's (bumped by writes to it), each set
 * to the catalog generation of its bump. A write to one product leaves the
 * other products' entries reachable. One script, one round trip: the
 * catalog generation (for the window and the local tier, whose entries
 * stay keyed by it), the item's generation, and the entry under it. A
 * missing item or product generation (never bumped, expired or evicted)
 * is set to the current catalog generation, which is later than any it
 * could have had: no entry from before becomes reachable by its loss.
 * Generations compare as numbers: by length, then by text.
 */
static const char ITEM_SCRIPT[] =
    "local g = redis.call('GET', KEYS[1]) "
    "if not g then return {} end "
    "local i = redis.call('GET', KEYS[2]) "
    "if not i then i = g redis.call('SET', KEYS[2], g) end "
    "local p = redis.call('GET', KEYS[3]) "
    "if not p then p = g redis.call('SET', KEYS[3], g, 'EX', ARGV[3]) end "
    "local e = p "
    "if #i > #p or (#i == #p and i > p) then e = i end "
    "return {g, e, redis.call('GET', ARGV[1] .. e .. ':' .. ARGV[2]), redis.call('GET', KEYS[4])}";

static bool is_gen(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < NX_CACHE_GEN_LEN;
}

/* One EVAL of ITEM_SCRIPT: false when Redis failed or has no generation. */
static bool item_fetch(const char *key, size_t key_len, int64_t product_id,
                       struct cache_lookup *out, bool *no_gen) {
    char product_key[sizeof product_gen_prefix + 24];
    snprintf(product_key, sizeof product_key, "%s%lld", product_gen_prefix, (long long)product_id);
    const char *argv[] = {"EVAL",      ITEM_SCRIPT,  "4",         gen_key, items_gen_key,
                          product_key, position_key, item_prefix, key,     ttl_text};
    size_t lens[10];
    for (size_t i = 0; i < 10; i++)
        lens[i] = strlen(argv[i]);
    lens[8] = key_len;
    uint64_t sent = now_us();
    redisReply *r = cache_command(10, argv, lens);
    *no_gen = r && r->type == REDIS_REPLY_ARRAY && r->elements == 0;
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 && is_gen(r->element[0]) &&
              is_gen(r->element[1]) && is_string_or_nil(r->element[2]) &&
              is_string_or_nil(r->element[3]);
    if (ok) {
        memcpy(out->gen, r->element[0]->str, r->element[0]->len + 1);
        memcpy(out->entry_gen, r->element[1]->str, r->element[1]->len + 1);
        memcpy(known_gen, out->gen, sizeof known_gen);
        window_publish(out->gen, sent);
        out->usable = true;
        take_position(r->element[3], out);
        if (r->element[2]->type == REDIS_REPLY_STRING)
            parse_entry(r->element[2], out);
    } else if (r && !*no_gen) {
        metrics_count("cache_errors");
    }
    freeReplyObject(r);
    return ok;
}

static void item_lookup(const char *key, size_t key_len, int64_t product_id,
                        struct cache_lookup *out) {
    bool no_gen = false;
    if (!item_fetch(key, key_len, product_id, out, &no_gen) && no_gen &&
        bump_now(&BUMP_EVERYTHING, "", known_gen, sizeof known_gen)) /* none yet: make one */
        item_fetch(key, key_len, product_id, out, &no_gen);
    count_lookup(key, key_len, out);
}

void catalog_cache_get(const char *key, size_t key_len, int64_t product_id,
                       struct cache_lookup *out) {
    memset(out, 0, sizeof *out);
    if (!cache_enabled())
        return;
    if (!cache_trusted()) {
        metrics_count("cache_bypasses");
        return;
    }
    if (local_hit(key, key_len, out)) {
        metrics_count("cache_hits");
        metrics_count("cache_local_hits");
        return;
    }
    out->item = product_id > 0;
    out->product_id = product_id > 0 ? product_id : 0;
    if (out->item)
        item_lookup(key, key_len, product_id, out);
    else
        redis_lookup(key, key_len, out);
}

void catalog_cache_put(const struct cache_lookup *l, const char *key, size_t key_len,
                       const char *etag, const char *body, size_t len) {
    if (!l->usable || l->hit || !trusted())
        return;
    if (max_entry && len > max_entry) {
        metrics_count("cache_oversize");
        return;
    }
    struct buf k = {0}, v = {0};
    entry_key(&k, l->item ? item_prefix : entry_prefix, l->entry_gen, key, key_len);
    buf_puts(&v, etag ? etag : "");
    buf_append(&v, "\n", 1);
    buf_append(&v, body, len);
    const char *argv[] = {"SET", k.data, v.data, "EX", ttl_text};
    size_t lens[] = {3, k.len, v.len, 2, strlen(ttl_text)};
    cache_send(5, argv, lens); /* its reply is read before this thread's next command */
    buf_clear(&k);
    buf_clear(&v);
    if (window_us)
        local_store(l->gen, l->product_id, key, key_len, etag, body, len);
}

void cache_lookup_clear(struct cache_lookup *l) {
    free(l->entry.body);
    l->entry.body = NULL;
}

/* Raise the position to at least the primary's position now (for a
 * lookup that found none): a bump of nothing but the position would need
 * a generation change, so this is a plain compare-and-set. */
static const char RAISE_SCRIPT[] = "local p = redis.call('GET', KEYS[1]) "
                                   "if not p or #ARGV[1] > #p or (#ARGV[1] == #p and ARGV[1] > p) "
                                   "then redis.call('SET', KEYS[1], ARGV[1]) end "
                                   "return 1";

void catalog_cache_raise_position(const char *position) {
    if (!cache_enabled() || !position[0])
        return;
    const char *argv[] = {"EVAL", RAISE_SCRIPT, "1", position_key, position};
    freeReplyObject(cache_command(5, argv, NULL));
}
