/*
 * seed_indexes.h -- the secondary indexes around a bulk load (a seed; an
 * import into an empty catalog, jobs/import.h).
 *
 * A bulk load drops the secondary indexes of products, variants and the
 * products' numeric attributes, keeps
 * their definitions in seed_pending_indexes (migration 0018) and commits
 * that list (with its rows, for a seed). The indexes are then built on two
 * connections
 * at once (the GIN builds are most of the seed and each runs on one core),
 * each build committed with the removal of its row, and the tables
 * analyzed. Meanwhile readers see the whole catalog, served without the
 * missing indexes (slowly), and writers to products and variants wait
 * while a build holds its table. A load interrupted after the list was
 * committed builds what is still listed when run again.
 */
#ifndef NEXUS_DB_SEED_INDEXES_H
#define NEXUS_DB_SEED_INDEXES_H

#include "nexus/db/db.h"

#include <stdbool.h>

/* Which indexes a load drops: all of them (the seed, which loads alone
 * in its transaction and builds what writers check again before it
 * commits: seed_indexes_restore_writers), or only those that serve
 * readers, keeping what writers check and look up as they go (the unique
 * indexes, those of a product's variants and numbers), so that writes
 * stay checked while the others are missing (an import). Either way no
 * write after the commit finds a unique index missing. */
enum index_set { INDEXES_ALL, INDEXES_OF_READERS };

/* Drop the indexes of set, listing them in seed_pending_indexes; inside a
 * transaction (the list commits with the drops). */
enum nx_err seed_indexes_drop(struct db *db, enum index_set set);

/* Build again, in db's transaction, the listed indexes that
 * INDEXES_OF_READERS keeps, and take them off the list: a load that
 * dropped them all commits with them in place (building them once is
 * cheaper than keeping them row by row, and the drops hold the tables
 * until the commit, so no writer finds them missing). */
enum nx_err seed_indexes_restore_writers(struct db *db);

/* Whether seed_pending_indexes lists an index to build. */
enum nx_err seed_indexes_pending(struct db *db, bool *pending);

/* Build every listed index and analyze the catalog's tables, on db and a
 * second connection to conninfo; outside any transaction. */
enum nx_err seed_indexes_build(struct db *db, const char *conninfo, bool progress);

#endif
