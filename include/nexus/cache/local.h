/*
 * local.h -- the in-process tier of the catalog cache.
 *
 * A bounded table of response bytes, all under one catalog generation:
 * storing under another generation first drops everything held, and a
 * lookup under any generation but the table's misses. Entries also expire
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

/* Store (replacing any entry for key). Entries larger than an eighth of
 * the budget are not kept; a full table is emptied before the store. */
void local_cache_put(const char *gen, const char *key, size_t key_len, const char *etag,
                     const char *body, size_t len);

/* Drop every entry (the tier stays on). */
void local_cache_clear(void);

/* Bytes held now (keys, bodies and entry headers). */
size_t local_cache_bytes(void);

/* Drop every entry and turn the tier off. */
void local_cache_free(void);

#endif
