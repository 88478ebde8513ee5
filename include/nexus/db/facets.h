/*
 * facets.h -- the counts of GET /products/facets.
 *
 * Each facet is counted over the products that match every filter but its
 * own (struct filter_skip), so a selected value still shows its
 * alternatives. Every query here is one aggregate over such a set, which
 * the filters' indexes find (docs/PERFORMANCE.md, "Discovery"); public
 * facets with no filter but a category read the counts kept with the
 * writes instead (migrations 0016, 0017: one scope per category, counting
 * its subtree), with the same rows as answer.
 */
#ifndef NEXUS_DB_FACETS_H
#define NEXUS_DB_FACETS_H

#include "nexus/db/products.h"

/* Values listed per attribute key and per option name, and how many keys
 * and names. */
#define NX_FACET_VALUES 20
#define NX_FACET_KEYS   20

/* One pass for the facets that are one number per group, rows kind, id,
 * slug, name, sort, n, a, b ordered by kind:
 * - kind 0, one row: n the total, a and b the counts of in_stock=true and
 *   in_stock=false (NULL when nothing matches);
 * - kind 1, the price buckets that have products: id the index of the
 *   boundary (boundaries: an array literal of ascending cents, "{0}" when
 *   none were asked) at or below the price, 0 below the first; n the
 *   count, a and b the lowest and highest price;
 * - kind 2, the direct children of category parent_id ("": the roots),
 *   by name: id, slug, name, and n the matching products in its subtree. */
enum nx_err facets_summary(struct db *db, const struct product_filter *f, const char *parent_id,
                           const char *boundaries, PGresult **out);

/* The facet terms a count reads (migration 0013). */
enum facet_arrays { FA_ATTRIBUTES, FA_OPTIONS, FA_BOTH };

/* Attribute (kind 1) and option (kind 2) values counted from the
 * products' facet terms, over the filter but skip: rows kind, key, value,
 * count, key_count, by kind, then the keys by key_count (most first), at
 * most attribute_keys and option_names of them, each with its
 * NX_FACET_VALUES most frequent values. Option values are those of the
 * active variants (in stock with in_stock=true): right when no option
 * filter applies, since those hold on the variant. only_name: count that
 * key or name alone (NULL: all). */
enum nx_err facets_terms(struct db *db, const struct product_filter *f,
                         const struct filter_skip *skip, enum facet_arrays arrays,
                         const char *only_name, const char *attribute_keys,
                         const char *option_names, PGresult **out);

/* Option values read from the variants, as rows of facets_terms (kind
 * 2), on the variants that match the option filters (and are in stock with
 * in_stock=true). only >= 0 counts the name of f->options[only] alone,
 * without that filter. */
enum nx_err facets_options(struct db *db, const struct product_filter *f, int only,
                           const char *names, PGresult **out);

/* The size of f's set from the kept counts, when they hold it (*known):
 * public lists with no filter but a category and in_stock, and no bulk
 * load's rebuild pending. One index probe instead of counting rows. */
enum nx_err facets_kept_total(struct db *db, const struct product_filter *f, bool *known,
                              long long *total);

#endif
