/*
 * catalog.c -- the catalog cache: generation, lookup, fill, bump.
 */
#include "nexus/cache/catalog.h"

#include "nexus/cache/cache.h"
#include "nexus/core/log.h"
#include "nexus/http/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char gen_key[96];
static char entry_prefix[96];
static char ttl_text[16];
/* False after a failed bump; reads then bypass the cache. */
static atomic_bool trusted = true;
/* While untrusted, reads try a bump at most this often (microseconds). */
#define RETRUST_INTERVAL_US 1000000
static _Atomic uint64_t next_retrust_us;

void catalog_cache_init(const char *prefix, int ttl_seconds) {
    snprintf(gen_key, sizeof gen_key, "%s:catalog:gen", prefix);
    snprintf(entry_prefix, sizeof entry_prefix, "%s:catalog:", prefix);
    snprintf(ttl_text, sizeof ttl_text, "%d", ttl_seconds);
    atomic_store(&trusted, true);
}

static bool bump_now(void) {
    const char *argv[] = {"INCR", gen_key};
    redisReply *r = cache_command(2, argv, NULL);
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    return ok;
}

void catalog_cache_bump(void) {
    if (!cache_enabled())
        return;
    if (bump_now()) {
        atomic_store(&trusted, true);
        return;
    }
    atomic_store(&trusted, false);
    metrics_count("cache_errors");
    log_warn("cache.bump", NULL, "generation bump failed: cache bypassed until a bump succeeds");
}

/* An untrusted cache becomes trusted again by a successful bump (which
 * makes every older entry unreachable). */
static bool cache_trusted(void) {
    if (atomic_load(&trusted))
        return true;
    uint64_t now = now_us(), next = atomic_load(&next_retrust_us);
    if (now < next ||
        !atomic_compare_exchange_strong(&next_retrust_us, &next, now + RETRUST_INTERVAL_US))
        return false;
    if (bump_now()) {
        atomic_store(&trusted, true);
        log_info("cache.trusted", NULL, "generation bumped: cache in use again");
        return true;
    }
    return false;
}

/* The generation this thread saw last: the entry under it is fetched in
 * the same round trip as the current generation, and used only if the two
 * agree. After a bump each thread pays one more round trip, once. */
static _Thread_local char known_gen[24];

static void entry_key(struct buf *k, const char *gen, const char *key, size_t key_len) {
    buf_puts(k, entry_prefix);
    buf_puts(k, gen);
    buf_append(k, ":", 1);
    buf_append(k, key, key_len);
}

/* MGET of the generation and the entry under gen: one command, one round
 * trip. Returns the two-element array reply (owned), or NULL. */
static redisReply *fetch(const char *gen, const char *key, size_t key_len) {
    struct buf k = {0};
    entry_key(&k, gen, key, key_len);
    const char *argv[] = {"MGET", gen_key, k.data};
    size_t lens[] = {4, strlen(gen_key), k.len};
    redisReply *r = cache_command(3, argv, lens);
    buf_clear(&k);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != 2)) {
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static bool is_string_or_nil(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
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

void catalog_cache_get(const char *key, size_t key_len, struct cache_lookup *out) {
    redisReply *r = NULL;
    memset(out, 0, sizeof *out);
    if (!cache_enabled())
        return;
    if (!cache_trusted()) {
        metrics_count("cache_bypasses");
        return;
    }
    for (int round = 0; round < 2; round++) {
        if (!(r = fetch(known_gen, key, key_len))) {
            metrics_count("cache_bypasses");
            return;
        }
        const redisReply *gen = r->element[0], *entry = r->element[1];
        if (!is_string_or_nil(gen) || !is_string_or_nil(entry) || gen->len >= sizeof out->gen)
            break;
        snprintf(out->gen, sizeof out->gen, "%s", gen->type == REDIS_REPLY_NIL ? "0" : gen->str);
        if (strcmp(out->gen, known_gen) == 0) {
            out->usable = true;
            if (entry->type == REDIS_REPLY_STRING)
                parse_entry(entry, out);
            break;
        }
        memcpy(known_gen, out->gen, sizeof known_gen); /* a bump happened: look again */
        freeReplyObject(r);
        r = NULL;
    }
    if (!out->usable)
        metrics_count("cache_errors");
    else
        metrics_count(out->hit ? "cache_hits" : "cache_misses");
    freeReplyObject(r);
}

void catalog_cache_put(const struct cache_lookup *l, const char *key, size_t key_len,
                       const char *etag, const char *body, size_t len) {
    if (!l->usable || l->hit || !atomic_load(&trusted))
        return;
    struct buf k = {0}, v = {0};
    entry_key(&k, l->gen, key, key_len);
    buf_puts(&v, etag ? etag : "");
    buf_append(&v, "\n", 1);
    buf_append(&v, body, len);
    const char *argv[] = {"SET", k.data, v.data, "EX", ttl_text};
    size_t lens[] = {3, k.len, v.len, 2, strlen(ttl_text)};
    freeReplyObject(cache_command(5, argv, lens));
    buf_clear(&k);
    buf_clear(&v);
}

void cache_lookup_clear(struct cache_lookup *l) {
    free(l->entry.body);
    l->entry.body = NULL;
}
