/*
 * product_export.c -- products in the import format: see the header.
 */
#include "nexus/model/product_export.h"

#include "nexus/core/parse.h"
#include "nexus/model/product.h"

#include <stdlib.h>
#include <string.h>

#define BOTH (EXPORT_NDJSON | EXPORT_CSV)

/* In the order of the import's columns (import_column_names), which is
 * the CSV header an import expects. */
const struct export_field product_export_fields[] = {
    {"sku", PC_SKU, EXPORT_TEXT, BOTH},
    {"name", PC_NAME, EXPORT_TEXT, BOTH},
    {"slug", PC_SLUG, EXPORT_TEXT, BOTH},
    {"description", PC_DESCRIPTION, EXPORT_TEXT, BOTH},
    {"price", PC_PRICE_CENTS, EXPORT_MONEY, BOTH},
    {"currency", PC_CURRENCY, EXPORT_TEXT, BOTH},
    {"stock", PC_STOCK, EXPORT_INTEGER, BOTH},
    {"category", PC_CATEGORY_SLUG, EXPORT_TEXT_OR_NULL, BOTH},
    {"is_active", PC_IS_ACTIVE, EXPORT_BOOL, BOTH},
    /* not yet in CSV, whose attr.<key> columns an import does not read */
    {"attributes", PC_ATTRIBUTES, EXPORT_JSON, EXPORT_NDJSON},
    {"images", PC_IMAGES, EXPORT_JSON, EXPORT_NDJSON},
};
const size_t product_export_field_count =
    sizeof product_export_fields / sizeof product_export_fields[0];

void csv_field(struct buf *out, const char *s, size_t len) {
    if (strcspn(s, ",\"\r\n") >= len) {
        buf_append(out, s, len);
        return;
    }
    buf_append(out, "\"", 1);
    for (const char *p = s, *end = s + len; p < end;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t n = q ? (size_t)(q - p) + 1 : (size_t)(end - p);
        buf_append(out, p, n);
        if (q)
            buf_append(out, "\"", 1); /* the quote doubled */
        p += n;
    }
    buf_append(out, "\"", 1);
}

/* The value as text: what a CSV cell holds, and (but for strings) what
 * an NDJSON value spells. NULL for SQL NULL. */
static const char *value_text(const struct export_field *f, const PGresult *r, int row,
                              char money[NX_MONEY_BUF]) {
    if (PQgetisnull(r, row, f->col))
        return NULL;
    const char *v = PQgetvalue(r, row, f->col);
    if (f->kind == EXPORT_MONEY) {
        format_money(strtoll(v, NULL, 10), money, NX_MONEY_BUF);
        return money;
    }
    if (f->kind == EXPORT_BOOL)
        return v[0] == 't' ? "true" : "false";
    return v;
}

static void ndjson_value(struct buf *out, const struct export_field *f, const char *text) {
    bool quoted =
        f->kind == EXPORT_TEXT || f->kind == EXPORT_TEXT_OR_NULL || f->kind == EXPORT_MONEY;
    if (!text)
        buf_puts(out, "null");
    else if (quoted)
        buf_json_text(out, text, strlen(text));
    else
        buf_puts(out, text);
}

void product_export_header(struct buf *out, enum export_format format) {
    if (format != EXPORT_CSV)
        return;
    const char *sep = "";
    for (size_t i = 0; i < product_export_field_count; i++) {
        if (!(product_export_fields[i].formats & EXPORT_CSV))
            continue;
        buf_puts(out, sep);
        buf_puts(out, product_export_fields[i].name);
        sep = ",";
    }
    buf_puts(out, "\r\n");
}

void product_export_row(struct buf *out, enum export_format format, const PGresult *r, int row) {
    const char *sep = "";
    if (format == EXPORT_NDJSON)
        buf_puts(out, "{");
    for (size_t i = 0; i < product_export_field_count; i++) {
        const struct export_field *f = &product_export_fields[i];
        char money[NX_MONEY_BUF];
        if (!(f->formats & format))
            continue;
        const char *text = value_text(f, r, row, money);
        buf_puts(out, sep);
        sep = ",";
        if (format == EXPORT_CSV) {
            if (text)
                csv_field(out, text, strlen(text));
            continue;
        }
        buf_json_text(out, f->name, strlen(f->name));
        buf_puts(out, ":");
        ndjson_value(out, f, text);
    }
    buf_puts(out, format == EXPORT_NDJSON ? "}\n" : "\r\n");
}
