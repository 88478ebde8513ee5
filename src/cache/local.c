/*
 * local.c -- the in-process tier of the catalog cache: one generation's
 * response bytes in a chained hash table, bounded in bytes and lifetime.
 * Each entry is also on a second chain, by the product whose item it is
 * (product 0: every other read), so that moving to a later generation
 * drops what changed without walking the table.
 */
#include "nexus/cache/local.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096u /* a power of two */

struct local_entry {
    struct local_entry *next;         /* in its key's bucket */
    struct local_entry *next_product; /* in its product's bucket */
    int64_t product_id;               /* 0: not a product's item */
    uint64_t hash;
    uint64_t expires_us;
    size_t key_len;
    size_t body_len;
    char etag[sizeof((struct cache_entry *)0)->etag];
    char bytes[]; /* the key, then the body and a NUL */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct local_entry *buckets[BUCKETS];
static struct local_entry *product_buckets[BUCKETS];
static char table_gen[NX_CACHE_GEN_LEN];
static size_t used_bytes;
static size_t max_bytes;
static uint64_t ttl_us;

static uint64_t hash_key(const char *key, size_t len) {
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211u;
    }
    return h;
}

static size_t entry_size(size_t key_len, size_t body_len) {
    return sizeof(struct local_entry) + key_len + body_len + 1;
}

static void drop_all_locked(void) {
    for (size_t i = 0; i < BUCKETS; i++) {
        struct local_entry *e = buckets[i];
        while (e) {
            struct local_entry *next = e->next;
            free(e);
            e = next;
        }
        buckets[i] = NULL;
        product_buckets[i] = NULL;
    }
    used_bytes = 0;
}

/* The link that points at key's entry (or at the chain's NULL end). */
static struct local_entry **find_locked(uint64_t hash, const char *key, size_t key_len) {
    struct local_entry **link = &buckets[hash & (BUCKETS - 1)];
    while (*link && !((*link)->hash == hash && (*link)->key_len == key_len &&
                      memcmp((*link)->bytes, key, key_len) == 0))
        link = &(*link)->next;
    return link;
}

static struct local_entry **product_bucket(int64_t product_id) {
    return &product_buckets[(uint64_t)product_id & (BUCKETS - 1)];
}

/* Take e off both its chains and free it; link points at it in its key's
 * chain. */
static void unlink_locked(struct local_entry **link) {
    struct local_entry *e = *link;
    *link = e->next;
    struct local_entry **by_product = product_bucket(e->product_id);
    while (*by_product != e)
        by_product = &(*by_product)->next_product;
    *by_product = e->next_product;
    used_bytes -= entry_size(e->key_len, e->body_len);
    free(e);
}

/* Make room for size more bytes in a full table: drop whole key chains,
 * from where the last sweep stopped, until a quarter of the budget is
 * free. Keys fall in chains by their hash, so this drops a random quarter
 * of the entries: a popular entry mostly stays, where emptying the table
 * sent every read to Redis at once, every time it filled. */
static void make_room_locked(size_t size) {
    static size_t sweep; /* the next chain to drop */
    size_t goal = max_bytes - max_bytes / 4;
    for (size_t n = 0; n < BUCKETS && used_bytes + size > goal; n++) {
        while (buckets[sweep])
            unlink_locked(&buckets[sweep]);
        sweep = (sweep + 1) & (BUCKETS - 1);
    }
}

/* Drop every entry of product_id (0: every entry that is no item). */
static void drop_product_locked(int64_t product_id) {
    struct local_entry *e = *product_bucket(product_id);
    while (e) {
        struct local_entry *next = e->next_product;
        if (e->product_id == product_id)
            unlink_locked(find_locked(e->hash, e->bytes, e->key_len));
        e = next;
    }
}

/* Generations are decimal integers: compare by length, then by text. */
static int compare_gen(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

void local_cache_init(size_t bytes, int ttl_seconds) {
    pthread_mutex_lock(&lock);
    drop_all_locked();
    table_gen[0] = '\0';
    max_bytes = bytes;
    ttl_us = (uint64_t)ttl_seconds * 1000000u;
    pthread_mutex_unlock(&lock);
}

bool local_cache_enabled(void) {
    return max_bytes > 0;
}

bool local_cache_get(const char *gen, const char *key, size_t key_len, struct cache_entry *out) {
    uint64_t hash = hash_key(key, key_len), now = now_us();
    bool hit = false;
    pthread_mutex_lock(&lock);
    if (max_bytes && strcmp(gen, table_gen) == 0) {
        struct local_entry **link = find_locked(hash, key, key_len);
        if (*link && (*link)->expires_us <= now) {
            unlink_locked(link);
        } else if (*link) {
            const struct local_entry *e = *link;
            memcpy(out->etag, e->etag, sizeof out->etag);
            out->len = e->body_len;
            out->body = xmalloc(e->body_len + 1);
            memcpy(out->body, e->bytes + e->key_len, e->body_len + 1);
            hit = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

static struct local_entry *new_entry(uint64_t hash, int64_t product_id, const char *key,
                                     size_t key_len, const char *etag, const char *body,
                                     size_t len) {
    struct local_entry *e = xmalloc(entry_size(key_len, len));
    e->next = NULL;
    e->product_id = product_id > 0 ? product_id : 0;
    e->hash = hash;
    e->expires_us = now_us() + ttl_us;
    e->key_len = key_len;
    e->body_len = len;
    size_t tag = etag ? strlen(etag) : 0;
    if (tag >= sizeof e->etag)
        tag = 0; /* cannot happen: ETags are fixed-size hashes */
    memcpy(e->etag, etag ? etag : "", tag);
    e->etag[tag] = '\0';
    memcpy(e->bytes, key, key_len);
    memcpy(e->bytes + key_len, body, len);
    e->bytes[key_len + len] = '\0';
    return e;
}

void local_cache_put(const char *gen, int64_t product_id, const char *key, size_t key_len,
                     const char *etag, const char *body, size_t len) {
    size_t size = entry_size(key_len, len);
    if (!max_bytes || size > max_bytes / 8 || !gen[0] || strlen(gen) >= sizeof table_gen)
        return;
    uint64_t hash = hash_key(key, key_len);
    struct local_entry *e = new_entry(hash, product_id, key, key_len, etag, body, len);
    pthread_mutex_lock(&lock);
    if (table_gen[0] && compare_gen(gen, table_gen) < 0) { /* read before the table's */
        pthread_mutex_unlock(&lock);
        free(e);
        return;
    }
    if (strcmp(gen, table_gen) != 0) { /* a later generation: the old one is dead */
        drop_all_locked();
        memcpy(table_gen, gen, strlen(gen) + 1);
    }
    struct local_entry **link = find_locked(hash, key, key_len);
    if (*link)
        unlink_locked(link);
    if (used_bytes + size > max_bytes) {
        make_room_locked(size);
        link = find_locked(hash, key, key_len);
    }
    e->next = *link; /* what followed a replaced entry stays in the chain */
    *link = e;
    e->next_product = *product_bucket(e->product_id);
    *product_bucket(e->product_id) = e;
    used_bytes += size;
    pthread_mutex_unlock(&lock);
}

bool local_cache_advance(const char *from, const char *to, const int64_t *changed, size_t count,
                         bool every_item) {
    if (strlen(to) >= sizeof table_gen)
        return false;
    pthread_mutex_lock(&lock);
    bool moved = from[0] && strcmp(from, table_gen) == 0;
    if (moved && every_item) {
        drop_all_locked();
    } else if (moved) {
        drop_product_locked(0);
        for (size_t i = 0; i < count; i++)
            if (changed[i] > 0)
                drop_product_locked(changed[i]);
    }
    if (moved)
        memcpy(table_gen, to, strlen(to) + 1);
    pthread_mutex_unlock(&lock);
    return moved;
}

void local_cache_generation(char *out, size_t cap) {
    pthread_mutex_lock(&lock);
    snprintf(out, cap, "%s", table_gen);
    pthread_mutex_unlock(&lock);
}

void local_cache_clear(void) {
    pthread_mutex_lock(&lock);
    drop_all_locked();
    table_gen[0] = '\0';
    pthread_mutex_unlock(&lock);
}

size_t local_cache_bytes(void) {
    pthread_mutex_lock(&lock);
    size_t n = used_bytes;
    pthread_mutex_unlock(&lock);
    return n;
}

void local_cache_free(void) {
    local_cache_init(0, 0);
}
