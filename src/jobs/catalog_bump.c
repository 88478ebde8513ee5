/*
 * catalog_bump.c -- the catalog cache bump after a bulk write: see the
 * header.
 */
#include "nexus/jobs/catalog_bump.h"

#include "nexus/cache/cache.h"
#include "nexus/cache/catalog.h"
#include "nexus/core/log.h"
#include "nexus/db/owed_bumps.h"

void catalog_bump_bulk_write(struct db *db, bool uncached_too) {
    catalog_cache_bump(CATALOG_CHANGE_ALL, 0);
    bool owed = cache_enabled() ? catalog_cache_owes() : uncached_too;
    if (owed && owed_bumps_record(db) != NX_OK)
        log_warn("cache.owed", NULL, "cannot record the owed generation bump");
}
