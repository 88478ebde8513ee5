/*
 * catalog_bump.h -- the catalog cache bump after a bulk write made outside
 * the servers (an import's batch, a seed), which may change any product.
 */
#ifndef NEXUS_JOBS_CATALOG_BUMP_H
#define NEXUS_JOBS_CATALOG_BUMP_H

#include "nexus/db/db.h"

#include <stdbool.h>

/* Bump every item and list (catalog_cache_bump; catalog_cache_init
 * first). A bump Redis did not take is recorded where every server looks
 * (db/owed_bumps), as this process never reads the catalog cache itself.
 * With uncached_too, so is one this process could not try, having no
 * REDIS_URL: the servers may have one, and entries from before the write
 * in it. */
void catalog_bump_bulk_write(struct db *db, bool uncached_too);

#endif
