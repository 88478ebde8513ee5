/*
 * product_export.h -- products written in the import format, a row at a
 * time, so an export can be imported again (model/import_row.h reads it).
 *
 * NDJSON: one object per line with the fields below, `category` the
 * category's slug (or null). A product whose one variant is what a body
 * without variants makes (active, no options) is written with its sku,
 * price and stock; any other without them and with `variants`: its live
 * variants in position order, each {sku, price, stock, options,
 * is_active}, as a create with variants takes them. CSV (RFC 4180): a header row of the field
 * names, then one row per product; a field holding a comma, a quote, CR
 * or LF is quoted, its quotes doubled; a missing category is an empty
 * cell (an absent field to the importer). CSV has no column for
 * variants: its sku, price and stock are the first variant's own. CSV
 * carries attributes in `attr.<key>` columns after the others, one per
 * key any exported product has (sorted): a string as it is, a number as
 * JSON spells it, a boolean as true or false, empty when the product has
 * no such key.
 *
 * The fields are a table (product_export_fields): each names the import
 * column, the column of the export query it comes from, and how its value
 * is written. A new kind of value (a JSON array of variants, say) gets a
 * kind of its own, and formats says which formats carry the field.
 */
#ifndef NEXUS_MODEL_PRODUCT_EXPORT_H
#define NEXUS_MODEL_PRODUCT_EXPORT_H

#include "nexus/core/xmem.h"
#include "nexus/model/product.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

enum export_format { EXPORT_NDJSON = 1u << 0, EXPORT_CSV = 1u << 1 };

enum export_kind {
    EXPORT_TEXT,         /* a string */
    EXPORT_TEXT_OR_NULL, /* a string, or null (CSV: an empty cell) when SQL NULL */
    EXPORT_MONEY,        /* integer cents, written as a decimal string "19.90" */
    EXPORT_INTEGER,      /* a JSON number; CSV: its digits */
    EXPORT_BOOL,         /* t/f, written true/false */
    EXPORT_JSON,         /* jsonb text, written compact (NDJSON only) */
};

struct export_field {
    const char *name; /* the import column (and NDJSON key) */
    int col;          /* the column of the export query (enum product_col) */
    enum export_kind kind;
    unsigned formats; /* EXPORT_NDJSON | EXPORT_CSV: the formats that carry it */
    int variant_part; /* >= 0: what a variant line holds instead (sku, price or stock) */
};

/* The export query's column after the product's (enum product_col): its
 * variants as text (see EXPORT_VARIANTS in db/products.c), NULL when a
 * product's own sku, price and stock describe its one variant. */
#define PC_EXPORT_VARIANTS (PC_VARIANT_OPTIONS + 1)
/* And then, for CSV, the product's attributes: a JSON array of the value
 * of each attr key (struct export_attrs) as text, null when absent. */
#define PC_EXPORT_ATTRS (PC_EXPORT_VARIANTS + 1)

/* A CSV export's attr.<key> columns, in order (keys sorted). */
struct export_attrs {
    char **keys;
    size_t count;
};

extern const struct export_field product_export_fields[];
extern const size_t product_export_field_count;

/* What a format's output starts with: the CSV header line (CRLF
 * terminated); nothing for NDJSON. attrs may be NULL (no attr columns). */
void product_export_header(struct buf *out, enum export_format format,
                           const struct export_attrs *attrs);

/* Row `row` of r (product_col columns) as one NDJSON line or CSV record;
 * a CSV record has a cell for each of attrs (may be NULL). */
void product_export_row(struct buf *out, enum export_format format, const PGresult *r, int row,
                        const struct export_attrs *attrs);

/* One CSV field, quoted when RFC 4180 requires it. */
void csv_field(struct buf *out, const char *s, size_t len);

#endif
