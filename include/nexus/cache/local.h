/*
 * local.h -- the in-process tier of the catalog cache.
 *
 * A bounded table of response bytes, all under one catalog generation:
 * storing under a later generation first drops everything held, and a
 * lookup under any generation but the table's misses. Told what changed
 * between two generations, the table moves to the later one and keeps the
 * items of the products that did not change. Entries also expire
 * after the cache TTL, like their Redis copies. Safe to call from every
 * server thread; a hit is copied out, so nothing is shared afterwards.
 *
 * Whether a generation may be used without asking Redis is decided by
 * cache/catalog.c (see catalog.h); this module only keeps bytes.
 */
#ifndef NEXUS_CACHE_LOCAL_H
#define NEXUS_CACHE_LOCAL_H

#include "nexus/cache/entry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hold at most max_bytes (0: the tier is off) for ttl_seconds each. */
void local_cache_init(size_t max_bytes, int ttl_seconds);
bool local_cache_enabled(void);

/* Copy the entry stored under gen and key into out (body owned by out). */
bool local_cache_get(const char *gen, const char *key, size_t key_len, struct cache_entry *out);

/* Store (replacing any entry for key): product_id > 0 when the entry is
 * that product's item. Under a generation later than the table's, the
 * table is emptied first; under an earlier one, nothing is stored (the
 * read began before the table's generation). Entries larger than an
 * eighth of the budget are not kept; a full table first drops a quarter
 * of its entries, picked by their keys' hashes. */
void local_cache_put(const char *gen, int64_t product_id, const char *key, size_t key_len,
                     const char *etag, const char *body, size_t len);

/* Move the table from generation from to the later generation to,
 * keeping only the items of products not in changed[0..count) (none when
 * every_item): every other entry depends on every write. False, and
 * nothing done, when the table is not at from. */
bool local_cache_advance(const char *from, const char *to, const int64_t *changed, size_t count,
                         bool every_item);

/* The table's generation ("" when it holds none yet) into out. */
void local_cache_generation(char *out, size_t cap);

/* Drop every entry (the tier stays on). */
void local_cache_clear(void);

/* Bytes held now (keys, bodies and entry headers). */
size_t local_cache_bytes(void);

/* Drop every entry and turn the tier off. */
void local_cache_free(void);

#endif
