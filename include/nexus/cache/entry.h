/*
 * entry.h -- one cached response, as both tiers of the catalog cache
 * (cache/catalog.h over Redis, cache/local.h in process) hand it out.
 */
#ifndef NEXUS_CACHE_ENTRY_H
#define NEXUS_CACHE_ENTRY_H

#include <stddef.h>

/* Room for a catalog generation as text, with its NUL. */
#define NX_CACHE_GEN_LEN 24

struct cache_entry {
    char etag[40]; /* "" when the response has none */
    char *body;    /* owned */
    size_t len;
};

#endif
