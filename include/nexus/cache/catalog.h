/*
 * catalog.h -- cache-aside for public catalog reads, keyed by generation.
 *
 * Every cached response lives under a key that carries the catalog
 * generation current when its read began. Every catalog write bumps the
 * generation after it commits and before it answers, so a read that starts
 * after the answer looks under a key no earlier read could have filled. A
 * slow reader can only ever store under the generation it started with,
 * which nobody reads any more: stale data never comes back.
 *
 * A product's item is keyed by a generation of its own (the later of the
 * items' and the product's), which only writes to that product and
 * category writes move: a write to one product keeps the other products'
 * items (see catalog_cache_bump).
 *
 * Two tiers. Redis holds every entry and is shared by all instances; a
 * lookup there is one command (MGET): the current generation and the
 * entry under the generation the thread saw last (two, once per thread,
 * after a bump). In front of it each process keeps a bounded copy of the
 * current generation's entries (cache/local.h), used without asking Redis
 * while the generation was read from Redis less than a window ago
 * (CACHE_LOCAL_WINDOW_US); every write waits that window out after its
 * bump before it answers, so the promise above holds across instances.
 *
 * When Redis fails, reads go to PostgreSQL; after a failed bump the cache
 * is not trusted again until a bump succeeds, so a write made while Redis
 * was unreachable can never be hidden by an entry from before it on this
 * instance. The other instances learn of the write from the owed bump,
 * delivered as soon as Redis answers this one again; if it never does
 * (this process dies first), entries from before the write live at most
 * CACHE_TTL.
 */
#ifndef NEXUS_CACHE_CATALOG_H
#define NEXUS_CACHE_CATALOG_H

#include "nexus/cache/entry.h"
#include "nexus/core/xmem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_CACHE_KEY_MAX 8192
/* Room for a WAL position as text (16 hex digits), with its NUL. */
#define NX_CACHE_POSITION_LEN 17

struct cache_lookup {
    bool usable; /* Redis answered and is trusted */
    bool hit;
    bool item;                        /* a product's item: keyed by its own generation */
    int64_t product_id;               /* that product (0: not an item) */
    char gen[NX_CACHE_GEN_LEN];       /* the catalog generation the read began with */
    char entry_gen[NX_CACHE_GEN_LEN]; /* the one its Redis entry is under */
    /* The primary's WAL position after the last catalog write that bumped
     * the generation before this lookup ("" unknown): a copy of the
     * catalog that has replayed this far shows every write answered before
     * the read began (see db/replica.h). Only from a Redis lookup, not
     * from a local hit. */
    char position[NX_CACHE_POSITION_LEN];
    struct cache_entry entry;
};

struct catalog_cache_limits {
    int ttl_seconds;    /* entry lifetime, in Redis and locally */
    size_t local_bytes; /* the local tier's budget; 0: off */
    uint64_t window_us; /* how long a generation read may be reused (with a
                         * local tier), and how long each write waits after
                         * its bump (always: the servers' readers may reuse
                         * theirs); 0: off. Give every process the servers'. */
    size_t max_entry;   /* larger responses are not stored; 0: no bound */
};

/* Set the key prefix and limits; call after cache_init. */
void catalog_cache_init(const char *prefix, const struct catalog_cache_limits *limits);

/* Drop the local tier (at shutdown). */
void catalog_cache_free(void);

/* Look key up (key: the request's variant, path and sorted query).
 * product_id > 0: the read is that product's item, cached under the
 * product's own generation (see catalog_cache_bump); 0: any other read,
 * under the catalog generation. */
void catalog_cache_get(const char *key, size_t key_len, int64_t product_id,
                       struct cache_lookup *out);

/* Store a response under the generation the lookup saw, unless it is
 * larger than the limits' max_entry (it is then read from PostgreSQL every
 * time, and costs Redis nothing). */
void catalog_cache_put(const struct cache_lookup *l, const char *key, size_t key_len,
                       const char *etag, const char *body, size_t len);

/* What a catalog write changed, besides the lists (every list and every
 * category read depends on every write). */
enum catalog_change {
    CATALOG_CHANGE_ALL,      /* every product's item too (a category's name is in them) */
    CATALOG_CHANGE_PRODUCT,  /* the item of product_id */
    CATALOG_CHANGE_NEW_ITEM, /* a new product: no item of it was cached */
};

/* Bump the generation after a committed catalog write, retried twice
 * within about 30 ms on fresh connections, and set the generation of what
 * it changed to the new one, then wait out the window (see above) before
 * returning. If it still fails, the write answers anyway;
 * this process bypasses the cache until a later bump succeeds, and that
 * bump is owed: catalog_cache_maintain delivers it, as a change of
 * everything. */
void catalog_cache_bump(enum catalog_change change, int64_t product_id);

/* catalog_cache_bump without its wait: returns the moment (now_us's
 * clock; 0 for none) before which the write must not answer, for a
 * caller that can wait without holding a thread. */
uint64_t catalog_cache_bump_deferred(enum catalog_change change, int64_t product_id);

/* Sleep until now_us() >= until_us. */
void catalog_cache_wait(uint64_t until_us);

/* Call a few times a second from a housekeeping thread: delivers an owed
 * bump as soon as Redis answers again, so every instance stops using the
 * entries from before the write (they only see the generation). */
void catalog_cache_maintain(void);

/* Whether this process owes a bump (one failed and none landed since):
 * the caller records it where other processes look (db/owed_bumps). */
bool catalog_cache_owes(void);

/* A bump of every item and list, retried as a write's is, for bumps
 * another process owed; true when it landed. */
bool catalog_cache_bump_everything(void);

void cache_lookup_clear(struct cache_lookup *l);

/*
 * WAL positions. A bump that stands for a write (catalog_cache_bump, an
 * owed bump) asks source for the primary's WAL position after the write
 * committed and raises the catalog's position in Redis to it, in the same
 * script as the generation: a reader that sees the new generation sees the
 * position too. A source that fails makes the bump fail (it is owed).
 * Without a source bumps carry no position. The position is written as 16
 * upper-case hex digits (see db_wal_position).
 */
typedef bool (*catalog_position_fn)(char *out, size_t cap);
void catalog_cache_set_position_source(catalog_position_fn source);

/* Raise the position to at least position (a lookup found none: Redis
 * lost it, or no write recorded one yet). */
void catalog_cache_raise_position(const char *position);

#endif
