/*
 * seed_variants.h -- the variants of the demo catalog's products.
 *
 * About a third of the seeded products are sold in 2..12 variants over one
 * to three options (Size, Color, Material); the rest in one variant
 * without options. A product's variants depend only on its number and its
 * base price and stock, so the seed can compute them once for the product
 * row (whose sku, price and stock they derive) and again for the variant
 * rows, without keeping them.
 */
#ifndef NEXUS_DB_SEED_VARIANTS_H
#define NEXUS_DB_SEED_VARIANTS_H

#include "nexus/core/xmem.h"
#include "nexus/db/seed_terms.h"

#include <stdbool.h>

#define SEED_VARIANTS_MAX 12

struct seed_variant {
    long long cents;
    long long stock;
    bool active;
    int values[3]; /* per option, an index into its values */
};

struct seed_variants {
    int count;
    int options; /* 0..3: Size, then Color, then Material */
    struct seed_variant v[SEED_VARIANTS_MAX];
};

/* The variants of product number i (0-based) with base price and stock. */
void seed_variants_of(long i, long long cents, long long stock, struct seed_variants *out);

/* What the product derives from them (see migration 0010): the lowest and
 * highest active price (the first variant's when none is active), the
 * active stock, the active count, and the options as JSON text into
 * options (cleared first). */
void seed_variants_derive(const struct seed_variants *vs, long long *min, long long *max,
                          long long *stock, int *active, struct buf *options);

/* The option terms of the active variants (only those in stock when
 * in_stock) into set: the product's facet_options(_in_stock), a term per
 * value and one per name. Every value has one spelling here, so each is
 * its own term. */
void seed_variants_terms(const struct seed_variants *vs, bool in_stock, struct seed_terms *t,
                         struct seed_term_set *set);

/* One variant's COPY line for product_variants (id, product_id, sku,
 * price_cents, stock, options, is_active, position, created_at,
 * updated_at). */
void seed_variant_line(struct buf *out, long i, long long id, const struct seed_variants *vs, int j,
                       const char *created);

#endif
