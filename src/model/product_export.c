/*
 * product_export.c -- products in the import format: see the header.
 */
#include "nexus/model/product_export.h"

#include "nexus/core/jsonpath.h"
#include "nexus/core/jsonw.h"
#include "nexus/core/parse.h"
#include "nexus/model/import_row.h"
#include "nexus/model/product.h"

#include <stdlib.h>
#include <string.h>

#define BOTH (EXPORT_NDJSON | EXPORT_CSV)

/* The parts of a variant line of PC_EXPORT_VARIANTS, in order. */
enum { VP_SKU, VP_PRICE, VP_STOCK, VP_ACTIVE, VP_OPTIONS, VP__COUNT };
#define NOT_VARIANT (-1)

/* In the order of the import's columns (import_column_names), which is
 * the CSV header an import expects. */
const struct export_field product_export_fields[] = {
    {"sku", PC_SKU, EXPORT_TEXT, BOTH, VP_SKU},
    {"name", PC_NAME, EXPORT_TEXT, BOTH, NOT_VARIANT},
    {"slug", PC_SLUG, EXPORT_TEXT, BOTH, NOT_VARIANT},
    {"description", PC_DESCRIPTION, EXPORT_TEXT, BOTH, NOT_VARIANT},
    {"price", PC_PRICE_CENTS, EXPORT_MONEY, BOTH, VP_PRICE},
    {"currency", PC_CURRENCY, EXPORT_TEXT, BOTH, NOT_VARIANT},
    {"stock", PC_STOCK, EXPORT_INTEGER, BOTH, VP_STOCK},
    {"category", PC_CATEGORY_SLUG, EXPORT_TEXT_OR_NULL, BOTH, NOT_VARIANT},
    {"is_active", PC_IS_ACTIVE, EXPORT_BOOL, BOTH, NOT_VARIANT},
    /* CSV carries attributes in attr.<key> columns instead, and no images */
    {"attributes", PC_ATTRIBUTES, EXPORT_JSON, EXPORT_NDJSON, NOT_VARIANT},
    {"images", PC_IMAGES, EXPORT_JSON, EXPORT_NDJSON, NOT_VARIANT},
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

/* One line of PC_EXPORT_VARIANTS split into its parts (pointers into the
 * result, each with its length: not NUL-terminated). */
struct variant_parts {
    const char *at[VP__COUNT];
    size_t len[VP__COUNT];
};

/* The variant line at *p (moved past it); false at the end. Options come
 * last and are not split: jsonb text escapes tabs and newlines. */
static bool next_variant(const char **p, const char *end, struct variant_parts *v) {
    if (*p >= end)
        return false;
    const char *line_end = memchr(*p, '\n', (size_t)(end - *p));
    if (!line_end)
        line_end = end;
    const char *q = *p;
    for (int i = 0; i < VP__COUNT; i++) {
        const char *tab = i < VP_OPTIONS ? memchr(q, '\t', (size_t)(line_end - q)) : NULL;
        const char *stop = tab ? tab : line_end;
        v->at[i] = q;
        v->len[i] = (size_t)(stop - q);
        q = tab ? tab + 1 : line_end;
    }
    *p = line_end < end ? line_end + 1 : end;
    return true;
}

/* A part as a NUL-terminated string in out (cap bytes; parts are short:
 * a sku, digits, t/f). */
static const char *part_text(const struct variant_parts *v, int part, char *out, size_t cap) {
    size_t n = v->len[part] < cap - 1 ? v->len[part] : cap - 1;
    memcpy(out, v->at[part], n);
    out[n] = '\0';
    return out;
}

/* The value as text: what a CSV cell holds, and (but for strings) what
 * an NDJSON value spells. NULL for SQL NULL. first: the product's first
 * variant when the product has PC_EXPORT_VARIANTS, else NULL. */
static const char *value_text(const struct export_field *f, const PGresult *r, int row,
                              const struct variant_parts *first, char text[NX_MONEY_BUF + 72]) {
    char *money = text;
    if (first && f->variant_part != NOT_VARIANT) {
        const char *v = part_text(first, f->variant_part, text + NX_MONEY_BUF, 72);
        if (f->kind == EXPORT_MONEY)
            format_money(strtoll(v, NULL, 10), money, NX_MONEY_BUF);
        return f->kind == EXPORT_MONEY ? money : v;
    }
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
    else if (f->kind == EXPORT_JSON) /* compact, as every answer is written */
        jsonw_put_text(out, text, strlen(text));
    else
        buf_puts(out, text);
}

void product_export_header(struct buf *out, enum export_format format,
                           const struct export_attrs *attrs) {
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
    for (size_t i = 0; attrs && i < attrs->count; i++) {
        struct buf name = {0};
        buf_printf(&name, IMPORT_ATTR_PREFIX "%s", attrs->keys[i]);
        buf_puts(out, ",");
        csv_field(out, name.data, name.len);
        buf_clear(&name);
    }
    buf_puts(out, "\r\n");
}

/* The attr.<key> cells of a CSV record: PC_EXPORT_ATTRS holds one value
 * per key, a string as itself, a number or a boolean as [its text], none
 * as null. A string the import would read as something else (a number, a
 * boolean, a quoted string, nothing) is written as a JSON string, quotes
 * included, which the import reads back as that string. */
static void csv_attributes(struct buf *out, const PGresult *r, int row,
                           const struct export_attrs *attrs) {
    json_t *values = NULL;
    if (!attrs || attrs->count == 0)
        return;
    if (!PQgetisnull(r, row, PC_EXPORT_ATTRS))
        values = jsonpath_load_wide(PQgetvalue(r, row, PC_EXPORT_ATTRS),
                                    (size_t)PQgetlength(r, row, PC_EXPORT_ATTRS), 0, NULL);
    for (size_t i = 0; i < attrs->count; i++) {
        json_t *v = json_array_get(values, i);
        json_t *text = json_is_array(v) ? json_array_get(v, 0) : v;
        buf_puts(out, ",");
        if (!json_is_string(text))
            continue;
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        struct buf literal = {0};
        if (json_is_string(v) && !import_cell_is_text(s, len)) {
            buf_json_text(&literal, s, len);
            s = literal.data, len = literal.len;
        }
        csv_field(out, s, len);
        buf_clear(&literal);
    }
    json_decref(values);
}

/* "variants": each line of PC_EXPORT_VARIANTS as a create's variant. */
static void ndjson_variants(struct buf *out, const char *p, const char *end) {
    struct variant_parts v;
    const char *sep = "";
    buf_puts(out, ",\"variants\":[");
    while (next_variant(&p, end, &v)) {
        char price[NX_MONEY_BUF], cents[24];
        format_money(strtoll(part_text(&v, VP_PRICE, cents, sizeof cents), NULL, 10), price,
                     sizeof price);
        buf_puts(out, sep);
        buf_puts(out, "{\"sku\":");
        buf_json_text(out, v.at[VP_SKU], v.len[VP_SKU]);
        buf_printf(out, ",\"price\":\"%s\",\"stock\":", price);
        buf_append(out, v.at[VP_STOCK], v.len[VP_STOCK]);
        buf_puts(out, ",\"options\":");
        jsonw_put_text(out, v.at[VP_OPTIONS], v.len[VP_OPTIONS]);
        buf_puts(out, v.len[VP_ACTIVE] && v.at[VP_ACTIVE][0] == 't' ? ",\"is_active\":true}"
                                                                    : ",\"is_active\":false}");
        sep = ",";
    }
    buf_puts(out, "]");
}

void product_export_row(struct buf *out, enum export_format format, const PGresult *r, int row,
                        const struct export_attrs *attrs) {
    const char *sep = "";
    bool has_variants = !PQgetisnull(r, row, PC_EXPORT_VARIANTS);
    const char *variants = has_variants ? PQgetvalue(r, row, PC_EXPORT_VARIANTS) : "";
    const char *variants_end =
        variants + (has_variants ? PQgetlength(r, row, PC_EXPORT_VARIANTS) : 0);
    struct variant_parts first;
    const char *p = variants;
    has_variants = has_variants && next_variant(&p, variants_end, &first);
    if (format == EXPORT_NDJSON)
        buf_puts(out, "{");
    for (size_t i = 0; i < product_export_field_count; i++) {
        const struct export_field *f = &product_export_fields[i];
        char text[NX_MONEY_BUF + 72];
        if (!(f->formats & format))
            continue;
        /* with variants, a line has theirs instead of the product's own */
        if (format == EXPORT_NDJSON && has_variants && f->variant_part != NOT_VARIANT)
            continue;
        const char *value = value_text(f, r, row, has_variants ? &first : NULL, text);
        buf_puts(out, sep);
        sep = ",";
        if (format == EXPORT_CSV) {
            if (value)
                csv_field(out, value, strlen(value));
            continue;
        }
        buf_json_text(out, f->name, strlen(f->name));
        buf_puts(out, ":");
        ndjson_value(out, f, value);
    }
    if (format == EXPORT_NDJSON && has_variants)
        ndjson_variants(out, variants, variants_end);
    if (format == EXPORT_CSV)
        csv_attributes(out, r, row, attrs);
    buf_puts(out, format == EXPORT_NDJSON ? "}\n" : "\r\n");
}
