/*
 * seed.h -- a deterministic demo catalog, loaded with COPY.
 *
 * The same arguments always give the same catalog: a three-level category
 * tree and products with realistic names, descriptions, prices and stock.
 * Large loads drop the products' secondary indexes, copy, commit, and build
 * them again two at a time (db/seed_indexes.h), which is several times
 * faster than maintaining them row by row.
 */
#ifndef NEXUS_DB_SEED_H
#define NEXUS_DB_SEED_H

#include "nexus/db/db.h"

#include <stdbool.h>
#include <stdint.h>

struct seed_options {
    long products;
    long categories;
    bool progress;        /* a progress line on stderr */
    const char *conninfo; /* for a second connection building indexes */
    /* Called in the rows' transaction, last before its commit: what must
     * commit with them (the cache bump they owe; *owed an id for
     * committed). Its error fails the seed. May be NULL. */
    enum nx_err (*committing)(struct db *db, int64_t *owed);
    /* Called once the rows are committed, before the index builds (which
     * may take minutes): the catalog has changed. Also when a seed only
     * finishes an interrupted one's builds (owed 0), which may have
     * stopped before calling it. May be NULL. */
    void (*committed)(struct db *db, int64_t owed);
};

/* What a seed that succeeded did. */
enum seed_outcome {
    SEED_LOADED,  /* loaded the catalog, then built its indexes */
    SEED_RESUMED, /* loaded nothing: built the indexes an interrupted seed left */
};

/* Seed an empty catalog. NX_ERR_CONFLICT when it already has products,
 * unless a seed interrupted while building its indexes left some to
 * build: then it builds them. */
enum nx_err seed_catalog(struct db *db, const struct seed_options *o, enum seed_outcome *outcome);

#endif
