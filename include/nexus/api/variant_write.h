/*
 * variant_write.h -- a variant write shared by the product endpoints (sku,
 * price and stock of a one-variant product) and the variant endpoints.
 */
#ifndef NEXUS_API_VARIANT_WRITE_H
#define NEXUS_API_VARIANT_WRITE_H

#include "nexus/db/db.h"
#include "nexus/http/request.h"
#include "nexus/model/variant.h"

/* Update variant id of product product_id (both locked by the caller's
 * transaction) with the given fields, and queue a low-stock alert naming
 * its SKU when the write takes its stock below the threshold. *out (may be
 * NULL) receives the variant's row. The product's derived columns are the
 * caller's to recompute. */
enum nx_err api_variant_write(struct request *req, struct db *db, const char *product_id,
                              const char *id, const struct variant_input *in,
                              const char *product_name, PGresult **out);

/* A failed variant write's unique violation as the 409 naming its field
 * (sku or options), and a write that took the product's stock (the sum
 * over its active variants) past 2147483647 as the 422 naming the field
 * that did (stock, or is_active for a PATCH that only activates a
 * variant); other errors unchanged. */
enum nx_err api_variant_conflict(struct request *req, struct db *db, enum nx_err e);
/* The same, the field named after prefix ("variants[2]." for the third
 * variant of a create's body); a stock total past the range is then the
 * 422 on "variants", which it is the sum of. */
enum nx_err api_variant_conflict_at(struct request *req, struct db *db, enum nx_err e,
                                    const char *prefix);

#endif
