/*
 * variant.h -- product variants: validated input from JSON, rows to JSON.
 *
 * A variant is one sellable form of a product (a size, a colour): its own
 * SKU, price, stock and options ({"Size": "M"}: 0..3 names, each with a
 * value, both 1..50 characters). Validation here knows no request and no
 * database: the rules that need the product's other variants (the same
 * option names, no duplicate options, at most 100) are checked where the
 * variants are written.
 */
#ifndef NEXUS_MODEL_VARIANT_H
#define NEXUS_MODEL_VARIANT_H

#include "nexus/core/fielderr.h"
#include "nexus/core/jsonw.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define NX_VARIANTS_MAX         100
#define NX_OPTIONS_MAX          3
#define NX_OPTION_TEXT_MAX      50
#define NX_VARIANT_POSITION_MAX 1000000

/* Columns of every query that returns variants, in this order. */
enum variant_col {
    VC_ID,
    VC_PRODUCT_ID,
    VC_SKU,
    VC_PRICE_CENTS,
    VC_CURRENCY,
    VC_STOCK,
    VC_OPTIONS, /* jsonb text */
    VC_IS_ACTIVE,
    VC_POSITION,
    VC_CREATED_AT,
    VC_UPDATED_AT,
};

enum variant_mode {
    VARIANT_CREATE,   /* POST .../variants: sku, price, stock, options required */
    VARIANT_PATCH,    /* any of the fields */
    VARIANT_EMBEDDED, /* an element of a product's "variants": no position */
};

/* Text values ready to be SQL parameters; NULL / has_* false: not given. */
struct variant_input {
    const char *sku;
    char price_cents[24];
    bool has_price;
    char stock[24];
    bool has_stock;
    char *options; /* compact JSON of the options object (owned), NULL: not given */
    char names_key[NX_OPTIONS_MAX * (NX_OPTION_TEXT_MAX * 4 + 1) + 1]; /* see below */
    const char *is_active;                                             /* "true"/"false" or NULL */
    char position[24];
    bool has_position;
};

/* Validate one variant body. Errors name their field after prefix
 * ("variants[2]." for an element of a product body; "" otherwise).
 * names_key receives the option names, lower-cased and sorted, for
 * comparing the option sets of several variants. */
enum nx_err variant_input_parse(struct field_errors *errs, json_t *body, enum variant_mode mode,
                                const char *prefix, struct variant_input *in);
void variant_input_clear(struct variant_input *in);

/* A product has one spelling of each option name: in->options (when
 * given) takes the names of reference (the options of another variant of
 * the product, JSON text; NULL: none) where they are the same but for
 * case ({"SIZE": "L"} beside {"Size": "S"} becomes {"Size": "L"}). */
void variant_options_spell_as(struct variant_input *in, const char *reference);

/* A product body's "variants": 1..NX_VARIANTS_MAX objects, each valid, all
 * with the same option names, each spelled as the first variant spells
 * it (variant_options_spell_as). *out (count in *n) is allocated even on
 * failure; free it with variant_inputs_free. An array of a count out of
 * range is refused before its elements are looked at: *n is then 0. */
enum nx_err variant_inputs_parse(struct field_errors *errs, json_t *array,
                                 struct variant_input **out, size_t *n);
void variant_inputs_free(struct variant_input *v, size_t n);

/* The order of option names wherever they are listed by name: ignoring
 * ASCII case, then byte by byte (as the product's options summary sorts
 * them). */
int variant_option_name_cmp(const char *a, const char *b);

/* A variant row (VC_* columns) as its JSON object, written into w. */
void variant_write_json(struct jsonw *w, const PGresult *r, int row);
/* The same from a row whose VC_* columns start at column first. */
void variant_write_columns(struct jsonw *w, const PGresult *r, int row, int first);
/* The same as a body of its own (owned by the caller; *len its length). */
char *variant_json(const PGresult *r, int row, size_t *len);

#endif
