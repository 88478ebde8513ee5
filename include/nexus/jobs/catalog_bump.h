/*
 * catalog_bump.h -- the catalog cache bump after a bulk write made outside
 * the servers (an import's batch, a seed), which may change any product.
 */
#ifndef NEXUS_JOBS_CATALOG_BUMP_H
#define NEXUS_JOBS_CATALOG_BUMP_H

#include "nexus/db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Bump every item and list (catalog_cache_bump; catalog_cache_init
 * first). A bump Redis did not take is recorded where every server looks
 * (db/owed_bumps), as this process never reads the catalog cache itself. */
void catalog_bump_bulk_write(struct db *db);

/* A bulk write that must not lose its bump should the process stop right
 * after its commit (an import's batch, a seed): inside its transaction,
 * the bump recorded as owed (db/owed_bumps; *owed its id), so that the
 * servers deliver it from the moment the write commits. When this process
 * has no REDIS_URL, nothing is recorded (*owed 0), as the servers share
 * an import worker's configuration, unless uncached_too: a seed may be run
 * with only DATABASE_URL, and the servers may have a Redis with entries
 * from before the write. After the commit, catalog_bump_owed_landed bumps
 * (as catalog_bump_bulk_write does) and forgets the owed record once the
 * bump landed; one Redis did not take, or this process could not try,
 * stays owed. */
enum nx_err catalog_bump_owe(struct db *db, bool uncached_too, int64_t *owed);
void catalog_bump_owed_landed(struct db *db, int64_t owed);

#endif
