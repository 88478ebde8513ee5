/*
 * catalog_bump.c -- the catalog cache bump after a bulk write: see the
 * header.
 */
#include "nexus/jobs/catalog_bump.h"

#include "nexus/cache/cache.h"
#include "nexus/cache/catalog.h"
#include "nexus/core/log.h"
#include "nexus/db/owed_bumps.h"

void catalog_bump_bulk_write(struct db *db) {
    catalog_cache_bump(CATALOG_CHANGE_ALL, 0);
    if (catalog_cache_owes() && owed_bumps_record(db, NULL) != NX_OK)
        log_warn("cache.owed", NULL, "cannot record the owed generation bump");
}

enum nx_err catalog_bump_owe(struct db *db, bool uncached_too, int64_t *owed) {
    *owed = 0;
    return cache_enabled() || uncached_too ? owed_bumps_record(db, owed) : NX_OK;
}

/* Once this process's own bump landed, the owed record is forgotten. The
 * servers were notified when the write committed, whatever happens after:
 * one that looked the record up before it was forgotten bumps again (a
 * bump more, of everything, after the write: harmless), while the others
 * find nothing to deliver. Left in place, every server would bump for
 * every batch, so the catalog cache would be invalidated as many times
 * more as there are servers. If this process stops between its bump and
 * the delete, or the delete fails, the servers deliver it all the same.
 * Without a REDIS_URL of its own, this process bumped nothing: the record
 * stays for the servers. */
void catalog_bump_owed_landed(struct db *db, int64_t owed) {
    catalog_cache_bump(CATALOG_CHANGE_ALL, 0);
    bool landed = cache_enabled() && !catalog_cache_owes();
    if (owed > 0 && landed && owed_bumps_forget(db, owed) != NX_OK)
        log_warn("cache.owed", NULL, "cannot forget an owed generation bump already made");
}
