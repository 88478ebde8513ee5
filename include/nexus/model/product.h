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
};

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
    char derived_slug[NX_SLUG_MAX + 1]; /* where a slug made from the name lives */
    struct product_extras extras;       /* attributes and images; empty: not given */
};

/* Validate a body: one entry in errs per bad field; defaults filled for
 * create and replace. */
enum nx_err product_input_parse(struct field_errors *errs, json_t *body, enum product_mode mode,
                                struct product_input *in);

/* Free what a parse allocated (call after every product_input_parse). */
void product_input_clear(struct product_input *in);

/* A product row (PC_* columns) as its JSON object, written into w. */
void product_write_json(struct jsonw *w, const PGresult *r, int row);
/* The top-level member names of product JSON, in the order it has them
 * (what fields= may name). */
extern const char *const product_field_names[];
extern const size_t product_field_count;

/* The same as a body of its own (owned by the caller; *len its length). */
char *product_json(const PGresult *r, int row, size_t *len);

#endif
