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

/* Read the generation and the entry under it in one round trip. */
static const char LOOKUP_SCRIPT[] = "local g = redis.call('GET', KEYS[1]) or '0' "
                                    "return {g, redis.call('GET', ARGV[1] .. g .. ARGV[2])}";

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

/* EVAL sends the script's 100 bytes each time; Redis keeps it compiled,
 * so this costs no more than EVALSHA and never needs a fallback. */
static redisReply *run_lookup(const char *key, size_t key_len) {
    struct buf suffix = {0};
    buf_append(&suffix, ":", 1);
    buf_append(&suffix, key, key_len);
    const char *argv[] = {"EVAL", LOOKUP_SCRIPT, "1", gen_key, entry_prefix, suffix.data};
    size_t lens[] = {4,         sizeof LOOKUP_SCRIPT - 1, 1, strlen(gen_key), strlen(entry_prefix),
                     suffix.len};
    redisReply *r = cache_command(6, argv, lens);
    buf_clear(&suffix);
    return r;
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
    memset(out, 0, sizeof *out);
    if (!cache_enabled())
        return;
    if (!cache_trusted()) {
        metrics_count("cache_bypasses");
        return;
    }
    redisReply *r = run_lookup(key, key_len);
    bool shaped = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                  r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < sizeof out->gen;
    if (!shaped) {
        metrics_count(r ? "cache_errors" : "cache_bypasses");
        freeReplyObject(r);
        return;
    }
    out->usable = true;
    memcpy(out->gen, r->element[0]->str, r->element[0]->len);
    out->gen[r->element[0]->len] = '\0';
    if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        parse_entry(r->element[1], out);
    metrics_count(out->hit ? "cache_hits" : "cache_misses");
    freeReplyObject(r);
}

void catalog_cache_put(const struct cache_lookup *l, const char *key, size_t key_len,
                       const char *etag, const char *body, size_t len) {
    if (!l->usable || l->hit || !atomic_load(&trusted))
        return;
    struct buf k = {0}, v = {0};
    buf_printf(&k, "%s%s:", entry_prefix, l->gen);
    buf_append(&k, key, key_len);
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
