/*
 * import_slugs.h -- the slugs of an import batch's rows that give none.
 *
 * POST /products derives a slug from the name: the first of base,
 * base-2, base-3, ... that no live product has, under a lock on the
 * base. A batch chooses them the same way for all its rows at once: one
 * statement takes the locks of every base (sorted), and candidates are
 * asked about a window at a time (one index probe each), so a batch costs
 * a couple of round trips however many rows derive their slug.
 */
#ifndef NEXUS_JOBS_IMPORT_SLUGS_H
#define NEXUS_JOBS_IMPORT_SLUGS_H

#include "nexus/db/db.h"
#include "nexus/model/catalog.h"

#include <stdbool.h>
#include <stddef.h>

/* bases[i] is the slug row i gives, or (derived[i]) the base derived from
 * its name; slugs[i] receives the row's slug: the one given, or the first
 * candidate of its base free among live products and the slugs of the
 * rows before it. A row that updates a product (one of its SKUs, in the
 * text[] literal row_skus, names one; sku_rows holds the row of each,
 * from 1) keeps that product's slug, so it takes none from the rows after
 * it. The bases stay as they are, so a batch applied again chooses again
 * from them. Needs the batch's transaction. */
enum nx_err import_slugs_choose(struct db *db, const char (*bases)[NX_SLUG_MAX + 1],
                                char (*slugs)[NX_SLUG_MAX + 1], const bool *derived,
                                const char *row_skus, const char *sku_rows, size_t n);

/* The same choice for the rows of the stage that derive their slug, made
 * again just before their merge: rows an earlier row of their batch held
 * back (import_stage_take_deferred). One that looked like an update when
 * its batch was chosen may make a product now (the earlier row freed its
 * SKU), and the new products of the merge before hold their slugs. */
enum nx_err import_slugs_choose_staged(struct db *db);

#endif
