/*
 * import_row.h -- one row of a product import, validated exactly like the
 * same body on POST /api/v1/products.
 *
 * An NDJSON row is that body as one JSON object (`variants` included),
 * with `category` (an id or a slug) allowed in place of `category_id`. A
 * CSV upload has a header row naming its columns (sku, name, slug,
 * description, price, currency, stock, category, is_active, and
 * `attr.<key>` for attributes; each at most once, in any order); each row
 * becomes the body those cells spell: an empty cell is an absent field
 * (or attribute), `stock` a JSON integer when it is one, `is_active` a
 * boolean (`true` or `false`: anything else is "must be true or false"),
 * anything else a string. An `attr.<key>` cell becomes attributes.<key>:
 * a boolean when it is `true` or `false`, a number when it is a JSON
 * number, the string a JSON string spells when it is one (quotes
 * included: `"1.50"`), else a string. So every other cell reaches the
 * same validator (product_input_parse) and gets the message the endpoint
 * would give. The category reference is split off
 * before validation and resolved by the caller (db). No I/O here.
 *
 * Errors go to the caller's field list; an error that is not about one
 * field (a malformed line) has the field "".
 */
#ifndef NEXUS_MODEL_IMPORT_ROW_H
#define NEXUS_MODEL_IMPORT_ROW_H

#include "nexus/core/fielderr.h"
#include "nexus/core/records.h"
#include "nexus/model/product.h"
#include "nexus/model/variant.h"

#include <jansson.h>

enum import_column {
    COL_SKU,
    COL_NAME,
    COL_SLUG,
    COL_DESCRIPTION,
    COL_PRICE,
    COL_CURRENCY,
    COL_STOCK,
    COL_CATEGORY,
    COL_IS_ACTIVE,
    COL__COUNT
};

/* The column names, in the order an export writes them. */
extern const char *const import_column_names[COL__COUNT];

/* Where each column is in a CSV's rows (-1: absent), and the attr.<key>
 * columns: attr_key[i] at attr_at[i]. */
/* attr.<key> columns a header may have: a CSV export has one per key
 * that any of its products has, and a catalog has many more keys than
 * one product may (NX_ATTRIBUTES_MAX, which each row's values still
 * meet). */
#define IMPORT_ATTR_COLUMNS_MAX 1000

struct import_columns {
    int at[COL__COUNT];
    size_t count; /* cells in the header */
    size_t attr_count;
    int attr_at[IMPORT_ATTR_COLUMNS_MAX];
    char attr_key[IMPORT_ATTR_COLUMNS_MAX][NX_ATTRIBUTE_KEY_MAX + 1];
};

/* The prefix of an attribute's CSV column. */
#define IMPORT_ATTR_PREFIX "attr."

/* Read a CSV header: an unknown, repeated or empty column name, an
 * attr.<key> with an invalid key, or more than IMPORT_ATTR_COLUMNS_MAX of them,
 * is an error named after the column (its field when the name is plain;
 * an unknown column's or an invalid key's message quotes the cell, and
 * says what to fix where that is evident). */
enum nx_err import_columns_parse(struct field_errors *errs, const struct record *header,
                                 struct import_columns *cols);

/* A category reference: an id or a slug. */
struct category_ref {
    bool given;
    bool is_id;
    char text[NX_SLUG_MAX + 1]; /* the id in decimal, or the slug */
};

/* A validated row. in points into body, which the row owns. An NDJSON
 * row may carry `variants` (validated by variant_inputs_parse, as a
 * create's are) instead of sku, price and stock: then variants holds them
 * (variant_count of them); otherwise variants is NULL. */
struct import_row {
    json_t *body;
    struct product_input in;
    struct category_ref category;
    struct variant_input *variants;
    size_t variant_count;
    /* A CSV row: it has no column for images, so an upsert keeps the
     * product's (and a new product has none). */
    bool keeps_images;
};

enum nx_err import_row_from_ndjson(struct field_errors *errs, const struct record *rec,
                                   struct import_row *row);
enum nx_err import_row_from_csv(struct field_errors *errs, const struct import_columns *cols,
                                const struct record *rec, struct import_row *row);
void import_row_clear(struct import_row *row);
/* Whether an attr.<key> cell of this text reads as this very string (not
 * a number, a boolean, a JSON string or no attribute): the export writes
 * any other string as a JSON string, so that it imports back as itself. */
bool import_cell_is_text(const char *text, size_t len);

/* Columns of every query that returns an import (db/imports), in order. */
enum import_col {
    IMC_ID,
    IMC_STATUS,
    IMC_FORMAT,
    IMC_MODE,
    IMC_ATOMIC,
    IMC_ROWS,
    IMC_CREATED,
    IMC_UPDATED,
    IMC_FAILED,
    IMC_CREATED_AT,
    IMC_STARTED_AT,
    IMC_FINISHED_AT,
    IMC_RESUME_LINE,
    IMC_ERROR_COUNT,
    IMC_RESUME_OFFSET,
    IMC_FIRST_ERRORS, /* lists only: the first errors, a JSON array */
};

/* Import JSON of row `row` of r, with errors (an array, consumed), or
 * without an errors member when errors is NULL (as lists show it). */
json_t *import_to_json(const PGresult *r, int row, json_t *errors);

/* One error as {line, field, message} (field null when ""); the columns
 * of r are line, field, message. */
json_t *import_error_to_json(const PGresult *r, int row);

#endif
