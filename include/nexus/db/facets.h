/*
 * facets.h -- the counts of GET /products/facets.
 *
 * Each facet is counted over the products that match every filter but its
 * own (struct filter_skip), so a selected value still shows its
 * alternatives. Every query here is one aggregate over such a set, which
 * the filters' indexes find (docs/PERFORMANCE.md, "Discovery").
 */
#ifndef NEXUS_DB_FACETS_H
#define NEXUS_DB_FACETS_H

#include "nexus/db/products.h"

/* Values listed per attribute key and per option name, and how many keys
 * and names. */
#define NX_FACET_VALUES 20
#define NX_FACET_KEYS   20

/* The direct children of category parent_id ("" : the roots), each with
 * the number of matching products in its subtree: rows id, slug, name,
 * count, by name. */
enum nx_err facets_categories(struct db *db, const struct product_filter *f, const char *parent_id,
                              PGresult **out);

/* Prices of the matching products: rows bucket, count, min_cents,
 * max_cents, where bucket is the index of the boundary (an array literal
 * of ascending cents, "{0}" when none were asked) at or below the price,
 * 0 below the first. */
enum nx_err facets_price(struct db *db, const struct product_filter *f, const char *boundaries,
                         PGresult **out);

/* One row: the counts of in_stock=true and in_stock=false. */
enum nx_err facets_in_stock(struct db *db, const struct product_filter *f, PGresult **out);

/* Attribute values: rows key, value, count, key_count, the keys by
 * key_count (most first), at most keys of them, each with its
 * NX_FACET_VALUES most frequent values. only >= 0 counts the key of
 * f->attributes[only] alone, without that filter. */
enum nx_err facets_attributes(struct db *db, const struct product_filter *f, int only,
                              const char *keys, PGresult **out);

/* Option values, the same way: rows name, value, count, name_count, on the
 * variants that match the option filters (and are in stock with
 * in_stock=true). only >= 0 counts the name of f->options[only] alone,
 * without that filter. */
enum nx_err facets_options(struct db *db, const struct product_filter *f, int only,
                           const char *names, PGresult **out);

#endif
