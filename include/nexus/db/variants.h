/*
 * variants.h -- the product_variants table.
 *
 * Queries that return variants return the columns of enum variant_col
 * (model/variant.h), the product's currency joined in. Every write here
 * leaves the product's derived columns stale until variants_derive runs in
 * the same transaction (the handlers lock the product row first).
 */
#ifndef NEXUS_DB_VARIANTS_H
#define NEXUS_DB_VARIANTS_H

#include "nexus/db/db.h"
#include "nexus/model/variant.h"

/* The columns of enum variant_col, from product_variants v joined to its
 * products p. */
#define NX_VARIANT_COLUMNS                                                                         \
    "v.id, v.product_id, v.sku, v.price_cents, p.currency, v.stock, v.options, v.is_active,"       \
    " v.position, " NX_SQL_TIMESTAMP("v.created_at") ", " NX_SQL_TIMESTAMP("v.updated_at")

/* The live variants of a product, by position then id; inactive ones
 * only with all. */
enum nx_err variants_list(struct db *db, const char *product_id, bool all, PGresult **out);
/* The same for the products of an array literal ("{1,2}"), in one
 * statement, by product id, then position and id. */
enum nx_err variants_list_many(struct db *db, const char *product_ids, bool all, PGresult **out);
/* One live variant of the product (zero rows when none); with lock, the
 * row is locked for the rest of the transaction. */
enum nx_err variants_get(struct db *db, const char *product_id, const char *id, bool lock,
                         PGresult **out);
/* How many live variants the product has, and the first one's id. */
enum nx_err variants_count(struct db *db, const char *product_id, long long *live,
                           char first_id[24]);
/* Whether a live variant of the product other than except_id (NULL: none)
 * has another set of option names than options (JSON text); and into
 * *reference (owned by the caller, NULL when there is no other) the
 * options of the first of those variants, whose spelling of the names
 * the write takes (variant_options_spell_as). */
enum nx_err variants_other_option_names(struct db *db, const char *product_id,
                                        const char *except_id, const char *options, bool *other,
                                        char **reference);
/* Insert one; position NULL in the input: after the last. */
enum nx_err variants_insert(struct db *db, const char *product_id, const struct variant_input *in,
                            PGresult **out);
/* Update the given fields of a live variant (zero rows when none). */
enum nx_err variants_update(struct db *db, const char *product_id, const char *id,
                            const struct variant_input *in, PGresult **out);
/* Soft delete; frees its SKU. */
enum nx_err variants_delete(struct db *db, const char *product_id, const char *id);
/* *was: the variant existed and it, or its product, is deleted now. */
enum nx_err variants_was_deleted(struct db *db, const char *product_id, const char *id, bool *was);
/* Recompute the product's sku, price, stock and the rest it derives from
 * its variants (SQL function nexus_product_derive). touch: write the row
 * (its version and updated_at move) even when nothing it derives changed,
 * for a product write that had nothing else to write to the row. */
enum nx_err variants_derive(struct db *db, const char *product_id, bool touch);
/* Lock sku (NULL: none) for the rest of the transaction, before the first
 * write that gives it to a product or a variant. A SKU goes into two
 * unique indexes, the products' (a product's SKU, derived from its first
 * variant) and the variants': a product's create writes its row, then its
 * variant; a variant write (a product's PATCH of its sku among them) the
 * variant, then the product's derived row. Two writers of one SKU in
 * opposite orders would each wait for the other's first write (a
 * deadlock); under this lock the later waits for the earlier to end. */
enum nx_err variants_lock_sku(struct db *db, const char *sku);
/* The same for each of n SKUs (NULL ones skipped), taken in one order
 * whatever theirs, so that two creates giving the same SKUs in opposite
 * orders cannot deadlock either. */
enum nx_err variants_lock_skus(struct db *db, const char *const *skus, size_t n);
/* The same for the SKUs of a text[] literal (NULL or "": none), in one
 * statement however many: an import's batch. */
enum nx_err variants_lock_sku_array(struct db *db, const char *skus);
/* Whether the next product inserted in this transaction brings its own
 * variants (true) or gets a default one from its sku, price and stock. */
enum nx_err variants_explicit(struct db *db, bool on);

#endif
