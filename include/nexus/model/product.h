/*
 * product.h -- products: validated input from JSON, rows to JSON.
 *
 * Money never passes through a double: price is a JSON string parsed to
 * integer cents, and written back with exactly two decimals.
 */
#ifndef NEXUS_MODEL_PRODUCT_H
#define NEXUS_MODEL_PRODUCT_H

#include "nexus/core/fielderr.h"
#include "nexus/core/jsonw.h"
#include "nexus/model/attributes.h"
#include "nexus/model/catalog.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* Columns of every query that returns products, in this order. */
enum product_col {
    PC_ID,
    PC_SKU,
    PC_NAME,
    PC_SLUG,
    PC_DESCRIPTION,
    PC_PRICE_CENTS,
    PC_CURRENCY,
    PC_STOCK,
    PC_IS_ACTIVE,
    PC_CATEGORY_ID,
    PC_CATEGORY_NAME,
    PC_CATEGORY_SLUG,
    PC_CREATED_AT,
    PC_UPDATED_AT,
    PC_SORT_NAME,  /* lower(name): the name sort's cursor value */
    PC_ATTRIBUTES, /* jsonb text */
    PC_IMAGES,     /* jsonb text */
    /* Derived from the variants (PC_PRICE_CENTS is the lowest active price) */
    PC_PRICE_MAX_CENTS,
    PC_VARIANT_COUNT,        /* live variants */
    PC_VARIANT_ACTIVE_COUNT, /* live and active ones */
    PC_VARIANT_OPTIONS,      /* jsonb text: [{"name", "values"}] */
};

/* An item row (db products_get_item) goes on with one variant's VC_*
 * columns (model/variant.h) from this column: NULL when the product has
 * no variant the caller may see. */
#define PC_ITEM_VARIANT (PC_VARIANT_OPTIONS + 1)

enum product_mode { PRODUCT_CREATE, PRODUCT_REPLACE, PRODUCT_PATCH };

/* Text values ready to be SQL parameters; NULL means "not given" (keep the
 * stored value on PATCH, take the default on create and replace). */
struct product_input {
    const char *sku;
    const char *name;
    const char *slug;
    const char *description;
    char price_cents[24];
    bool has_price;
    char currency[4];
    bool has_currency;
    char stock[24];
    bool has_stock;
    bool has_category;
    char category_id[24];               /* "" for null */
    const char *is_active;              /* "true"/"false" or NULL */
    json_t *variants;                   /* a create's "variants" (borrowed), or NULL */
    char derived_slug[NX_SLUG_MAX + 1]; /* where a slug made from the name lives */
    struct product_extras extras;       /* attributes and images; empty: not given */
};

/* Validate a body: one entry in errs per bad field; defaults filled for
 * create and replace. */
enum nx_err product_input_parse(struct field_errors *errs, json_t *body, enum product_mode mode,
                                struct product_input *in);

/* Free what a parse allocated (call after every product_input_parse). */
void product_input_clear(struct product_input *in);

/* Whether in gives any of the product row's columns (a PATCH may give
 * none once its sku, price and stock went to the product's variant). */
bool product_input_writes_row(const struct product_input *in);

/* A replace or patch may write sku, price and stock only while the product
 * has exactly one live variant (live); a replace must then give them. One
 * entry in errs per field at fault. */
enum nx_err product_variant_fields(struct field_errors *errs, const struct product_input *in,
                                   enum product_mode mode, long long live);

/* A product row (PC_* columns) as its JSON object, written into w. staff:
 * the caller sees inactive variants (variant_count counts them). */
void product_write_json(struct jsonw *w, const PGresult *r, int row, bool staff);
/* One product as a body of its own, from an item result (one row per
 * variant the caller may see, see PC_ITEM_VARIANT; at least one row), its
 * variants embedded; owned by the caller, *len its length. */
char *product_item_json(const PGresult *r, bool staff, size_t *len);
/* The top-level member names of product JSON, in the order it has them
 * (what fields= may name; list items never have "variants"). */
extern const char *const product_field_names[];
extern const size_t product_field_count;

#endif
