/*
 * import_row.c -- import rows to validated product input: see the header.
 */
#include "nexus/model/import_row.h"

#include "nexus/core/jsonpath.h"
#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"
#include "nexus/model/catalog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const import_column_names[COL__COUNT] = {
    "sku", "name", "slug", "description", "price", "currency", "stock", "category", "is_active",
};

static int column_of(const char *name, size_t len) {
    for (int c = 0; c < COL__COUNT; c++)
        if (strlen(import_column_names[c]) == len && memcmp(import_column_names[c], name, len) == 0)
            return c;
    return -1;
}

/* Whether a header cell is plain and short enough to be its error's
 * field: 1 to 64 characters of UTF-8 text, none of them white space or a
 * control character (a name such as "naïve" is, " sku" is not: the
 * message quotes every cell). */
static bool plain_name(const struct record_field *f) {
    size_t chars = 0;
    for (size_t i = 0; i < f->len; i++) {
        unsigned char b = (unsigned char)f->ptr[i];
        if (b <= 0x20 || b == 0x7f)
            return false;
        chars += (b & 0xC0) != 0x80;
    }
    return chars > 0 && chars <= 64 && utf8_valid(f->ptr, f->len);
}

/* The most of a header cell an error quotes, in bytes. */
#define CELL_SHOWN_MAX 64

/* "column <n> <the cell>": the cell as a JSON string (quotes, backslashes
 * and control characters escaped, a byte that is no UTF-8 written
 * \ufffd), its first CELL_SHOWN_MAX bytes and "..." when it is longer. */
static void name_column(struct buf *m, const struct record_field *f, size_t i) {
    size_t shown = utf8_prefix(f->ptr, f->len, CELL_SHOWN_MAX);
    buf_printf(m, "column %zu ", i + 1);
    buf_json_text(m, f->ptr, shown);
    if (shown < f->len)
        buf_puts(m, "...");
}

static bool is_space_or_tab(char c) {
    return c == ' ' || c == '\t';
}

/* What to fix in a header cell that names no column, where it is evident:
 * a semicolon or a tab inside it (a file whose columns are separated by
 * something else reads as one column), or white space around a name.
 * NULL otherwise. */
static const char *header_hint(const struct record_field *f) {
    size_t start = 0, end = f->len;
    while (start < end && is_space_or_tab(f->ptr[start]))
        start++;
    while (end > start && is_space_or_tab(f->ptr[end - 1]))
        end--;
    if (start == end)
        return NULL;
    if (memchr(f->ptr + start, ';', end - start) || memchr(f->ptr + start, '\t', end - start))
        return "columns must be separated by commas";
    return start > 0 || end < f->len ? "remove the spaces around it" : NULL;
}

/* A header cell's error, the cell named in the message (and as the field
 * when it is plain): "column <n> <the cell><what>[; <hint>]<after>". */
static enum nx_err header_error(struct field_errors *errs, const struct record_field *f, size_t i,
                                const char *what, const char *after) {
    struct buf m = {0};
    const char *hint = header_hint(f);
    name_column(&m, f, i);
    buf_puts(&m, what);
    if (hint)
        buf_printf(&m, "; %s", hint);
    buf_puts(&m, after);
    enum nx_err e = fielderr_add(errs, plain_name(f) ? f->ptr : "", "%s", m.data);
    buf_clear(&m);
    return e;
}

/* ". Known columns: sku, name, ..., attr.<key>" */
static void list_known_columns(struct buf *m) {
    buf_puts(m, ". Known columns: ");
    for (int c = 0; c < COL__COUNT; c++)
        buf_printf(m, "%s, ", import_column_names[c]);
    buf_puts(m, IMPORT_ATTR_PREFIX "<key>");
}

static enum nx_err unknown_column(struct field_errors *errs, const struct record_field *f,
                                  size_t i) {
    struct buf known = {0};
    list_known_columns(&known);
    enum nx_err e = header_error(errs, f, i, " is not a known column", known.data);
    buf_clear(&known);
    return e;
}

/* A header of every column a CSV row reads fits one record. */
_Static_assert(COL__COUNT + IMPORT_ATTR_COLUMNS_MAX <= NX_RECORD_MAX_FIELDS,
               "a CSV record holds every import column");

/* An attr.<key> column: errors are named after the column when it is
 * plain. */
static enum nx_err attr_column(struct field_errors *errs, const struct record_field *f, size_t i,
                               struct import_columns *cols) {
    size_t prefix = strlen(IMPORT_ATTR_PREFIX);
    char key[NX_ATTRIBUTE_KEY_MAX + 1];
    const char *field = plain_name(f) ? f->ptr : "";
    size_t n = f->len - prefix;
    if (n > NX_ATTRIBUTE_KEY_MAX || memchr(f->ptr, '\0', f->len))
        n = 0;
    memcpy(key, f->ptr + prefix, n);
    key[n] = '\0';
    if (!attribute_key_is_valid(key))
        return header_error(
            errs, f, i, ": the key must be 1 to 40 of a-z, 0-9 and _, starting with a letter", "");
    for (size_t a = 0; a < cols->attr_count; a++)
        if (strcmp(cols->attr_key[a], key) == 0)
            return fielderr_add(errs, field, "the column is repeated");
    if (cols->attr_count == IMPORT_ATTR_COLUMNS_MAX)
        return fielderr_add(errs, field, "column %zu: at most %d attr.<key> columns", i + 1,
                            IMPORT_ATTR_COLUMNS_MAX);
    memcpy(cols->attr_key[cols->attr_count], key, n + 1);
    cols->attr_at[cols->attr_count++] = (int)i;
    return NX_OK;
}

static bool is_attr_column(const struct record_field *f) {
    size_t prefix = strlen(IMPORT_ATTR_PREFIX);
    return f->len >= prefix && memcmp(f->ptr, IMPORT_ATTR_PREFIX, prefix) == 0;
}

enum nx_err import_columns_parse(struct field_errors *errs, const struct record *header,
                                 struct import_columns *cols) {
    enum nx_err e = NX_OK;
    for (int c = 0; c < COL__COUNT; c++)
        cols->at[c] = -1;
    cols->count = header->count;
    cols->attr_count = 0;
    if (header->error)
        return fielderr_add(errs, "", "%s", header->error);
    for (size_t i = 0; i < header->count; i++) {
        const struct record_field *f = &header->fields[i];
        if (is_attr_column(f)) {
            if (attr_column(errs, f, i, cols) != NX_OK)
                e = NX_ERR_VALIDATION;
            continue;
        }
        int c = column_of(f->ptr, f->len);
        if (c < 0)
            e = unknown_column(errs, f, i);
        else if (cols->at[c] >= 0)
            e = fielderr_add(errs, import_column_names[c], "the column is repeated");
        else
            cols->at[c] = (int)i;
    }
    return e;
}

/* ---- category references ------------------------------------------------ */

static const char CATEGORY_RULE[] = "must be a category id or slug";

static bool all_digits(const char *s, size_t n) {
    return n > 0 && strspn(s, "0123456789") == n;
}

/* An id (digits) or a slug, given as text. */
static enum nx_err category_from_text(struct field_errors *errs, const char *s, size_t n,
                                      struct category_ref *ref) {
    int64_t id;
    ref->given = true;
    if (all_digits(s, n)) {
        if (!parse_id(s, n, &id))
            return fielderr_add(errs, "category", "%s", CATEGORY_RULE);
        ref->is_id = true;
        snprintf(ref->text, sizeof ref->text, "%lld", (long long)id);
        return NX_OK;
    }
    if (n > NX_SLUG_MAX || memchr(s, '\0', n))
        return fielderr_add(errs, "category", "%s", CATEGORY_RULE);
    memcpy(ref->text, s, n);
    ref->text[n] = '\0';
    if (!slug_is_valid(ref->text))
        return fielderr_add(errs, "category", "%s", CATEGORY_RULE);
    return NX_OK;
}

/* NDJSON: "category" is a positive integer or a string; never beside
 * "category_id". It is taken out of the body either way. */
static enum nx_err take_category(struct field_errors *errs, json_t *body,
                                 struct category_ref *ref) {
    json_t *v = json_object_get(body, "category");
    enum nx_err e = NX_OK;
    if (!v)
        return NX_OK;
    if (json_object_get(body, "category_id"))
        e = fielderr_add(errs, "category", "give category or category_id, not both");
    else if (json_is_integer(v) && json_integer_value(v) > 0) {
        ref->given = ref->is_id = true;
        snprintf(ref->text, sizeof ref->text, "%lld", (long long)json_integer_value(v));
    } else if (json_is_string(v))
        e = category_from_text(errs, json_string_value(v), json_string_length(v), ref);
    else if (!json_is_null(v))
        e = fielderr_add(errs, "category", "%s", CATEGORY_RULE);
    json_object_del(body, "category");
    return e;
}

/* ---- rows --------------------------------------------------------------- */

static enum nx_err validate(struct field_errors *errs, struct import_row *row, enum nx_err e) {
    /* Validated even after a category error, so every bad field is named. */
    if (product_input_parse(errs, row->body, PRODUCT_CREATE, &row->in) != NX_OK)
        e = NX_ERR_VALIDATION;
    /* The variants are checked as a create's, even after other errors. */
    if (row->in.variants &&
        variant_inputs_parse(errs, row->in.variants, &row->variants, &row->variant_count) != NX_OK)
        e = NX_ERR_VALIDATION;
    return e;
}

/* validate, keeping only errors of fields the cells did not name: a cell
 * that is not UTF-8 is left out of the body, and its field is not then
 * also "required". */
static enum nx_err validate_unnamed(struct field_errors *errs, struct import_row *row,
                                    enum nx_err e) {
    struct field_errors more = {0};
    e = validate(&more, row, e);
    for (size_t i = 0; i < fielderr_count(&more); i++) {
        const struct field_error *fe = fielderr_at(&more, i);
        if (!fielderr_names(errs, fe->field))
            fielderr_add(errs, fe->field, "%s", fe->message);
    }
    fielderr_clear(&more);
    return e;
}

/* A cell that is not UTF-8 (a file saved as Latin-1, say) is its field's
 * error: read as anything else, it would be a value nobody wrote. An
 * NDJSON line is told the same, not that it is malformed JSON. */
#define NOT_UTF8 "is not valid UTF-8 (the file must be UTF-8 text)"

enum nx_err import_row_from_ndjson(struct field_errors *errs, const struct record *rec,
                                   struct import_row *row) {
    json_error_t err;
    memset(row, 0, sizeof *row);
    if (rec->error)
        return fielderr_add(errs, "", "%s", rec->error);
    if (!utf8_valid(rec->fields[0].ptr, rec->fields[0].len))
        return fielderr_add(errs, "", "the line " NOT_UTF8);
    /* numbers out of range are named as POST /products names them */
    struct field_errors out_of_range = {0};
    /* any value, so that one that is no object is told so */
    row->body =
        jsonpath_load_past_numbers(rec->fields[0].ptr, rec->fields[0].len,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err, &out_of_range);
    size_t named = fielderr_count(&out_of_range);
    for (size_t i = 0; row->body && i < named; i++)
        fielderr_add(errs, fielderr_at(&out_of_range, i)->field, "%s",
                     fielderr_at(&out_of_range, i)->message);
    fielderr_clear(&out_of_range);
    if (!row->body)
        return fielderr_add(errs, "", "%s at column %d", jsonpath_fault(&err), err.column);
    if (named)
        return NX_ERR_VALIDATION;
    if (!json_is_object(row->body))
        return fielderr_add(errs, "", "the row must be a JSON object");
    return validate(errs, row, take_category(errs, row->body, &row->category));
}

/* A cell as the JSON value it spells (see the header); NULL when empty. */
static json_t *cell_value(enum import_column c, const struct record_field *f) {
    if (f->len == 0)
        return NULL;
    if (c == COL_STOCK) { /* the JSON number it spells, as in a body (-0 too) */
        json_t *n = f->len <= 32 && strspn(f->ptr, "-0123456789") == f->len
                        ? jsonpath_load_wide(f->ptr, f->len, JSON_DECODE_ANY, NULL)
                        : NULL;
        if (json_is_number(n))
            return n;
        json_decref(n);
    }
    bool b;
    if (c == COL_IS_ACTIVE && parse_bool(f->ptr, f->len, &b))
        return json_boolean(b);
    return json_stringn(f->ptr, f->len); /* UTF-8: the caller checked */
}

/* An attr.<key> cell as the attribute value it spells (see the header). */
/* The longest number cell read: a double written out in full, as an
 * export writes what PostgreSQL keeps (1e308 has 309 digits). */
#define NUMBER_CELL_MAX 1024

/* A cell's value; NULL for a JSON number past a double (1e400), which
 * has none, as in a body. */
static json_t *attr_value(const char *text, size_t len) {
    bool b;
    if ((len == 4 || len == 5) && parse_bool(text, len, &b))
        return json_boolean(b);
    /* a JSON number, and nothing else, reads as one */
    if (len <= NUMBER_CELL_MAX && jsonpath_is_number(text, len)) {
        json_error_t err;
        json_t *n = jsonpath_load_wide(text, len, JSON_DECODE_ANY, &err);
        if (json_is_number(n))
            return n;
        json_decref(n);
        if (!n && json_error_code(&err) == json_error_numeric_overflow)
            return NULL;
    }
    /* a JSON string, quotes included, is that string (an export writes so
     * a string that would read as anything else) */
    if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
        json_t *s = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        if (json_is_string(s))
            return s;
        json_decref(s);
    }
    json_t *s = json_stringn(text, len);
    return s ? s : json_integer(0) /* invalid UTF-8: refused as not a string */;
}

bool import_cell_is_text(const char *text, size_t len) {
    json_t *v = len ? attr_value(text, len) : NULL;
    if (len && !v)
        return false; /* a number out of range: written as a JSON string */
    bool same = json_is_string(v) && json_string_length(v) == len &&
                memcmp(json_string_value(v), text, len) == 0;
    json_decref(v);
    return same;
}

/* The attr.<key> cells that are not empty, as the row's "attributes"; a
 * number out of range is its field's error, as in a body. */
static enum nx_err csv_attributes(struct field_errors *errs, const struct import_columns *cols,
                                  const struct record *rec, json_t *body) {
    enum nx_err e = NX_OK;
    json_t *attrs = NULL;
    for (size_t a = 0; a < cols->attr_count; a++) {
        const struct record_field *f = &rec->fields[cols->attr_at[a]];
        if (f->len == 0)
            continue;
        bool text = utf8_valid(f->ptr, f->len);
        json_t *v = text ? attr_value(f->ptr, f->len) : NULL;
        if (!v) {
            char field[sizeof "attributes." + NX_ATTRIBUTE_KEY_MAX];
            snprintf(field, sizeof field, "attributes.%s", cols->attr_key[a]);
            e = fielderr_add(errs, field, "%s", text ? "is a number out of range" : NOT_UTF8);
            continue;
        }
        if (!attrs)
            attrs = json_object();
        json_object_set_new(attrs, cols->attr_key[a], v);
    }
    if (attrs)
        json_object_set_new(body, "attributes", attrs);
    return e;
}

enum nx_err import_row_from_csv(struct field_errors *errs, const struct import_columns *cols,
                                const struct record *rec, struct import_row *row) {
    enum nx_err e = NX_OK;
    memset(row, 0, sizeof *row);
    if (rec->error)
        return fielderr_add(errs, "", "%s", rec->error);
    if (rec->count != cols->count)
        return fielderr_add(errs, "", "the row has %zu fields; the header has %zu", rec->count,
                            cols->count);
    row->body = json_object();
    for (int c = 0; c < COL__COUNT; c++) {
        if (cols->at[c] < 0)
            continue;
        const struct record_field *f = &rec->fields[cols->at[c]];
        if (!utf8_valid(f->ptr, f->len)) {
            e = fielderr_add(errs, import_column_names[c], "%s", NOT_UTF8);
            continue;
        }
        if (c == COL_CATEGORY) {
            if (f->len && category_from_text(errs, f->ptr, f->len, &row->category) != NX_OK)
                e = NX_ERR_VALIDATION;
            continue;
        }
        /* a body's "must be a boolean" would not say what a cell may hold
         * (a spreadsheet writes TRUE, or 1) */
        bool b;
        if (c == COL_IS_ACTIVE && f->len && !parse_bool(f->ptr, f->len, &b)) {
            e = fielderr_add(errs, "is_active", "must be true or false");
            continue;
        }
        json_t *v = cell_value((enum import_column)c, f);
        if (v)
            json_object_set_new(row->body, import_column_names[c], v);
    }
    if (csv_attributes(errs, cols, rec, row->body) != NX_OK)
        e = NX_ERR_VALIDATION;
    row->keeps_images = true;
    return validate_unnamed(errs, row, e);
}

void import_row_clear(struct import_row *row) {
    variant_inputs_free(row->variants, row->variant_count);
    row->variants = NULL;
    row->variant_count = 0;
    product_input_clear(&row->in);
    json_decref(row->body);
    row->body = NULL;
}

/* ---- import JSON -------------------------------------------------------- */

static json_t *count_of(const PGresult *r, int row, int col) {
    return json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

static json_t *time_or_null(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

json_t *import_to_json(const PGresult *r, int row, json_t *errors) {
    json_t *o = json_object();
    json_object_set_new(o, "id", count_of(r, row, IMC_ID));
    json_object_set_new(o, "status", json_string(PQgetvalue(r, row, IMC_STATUS)));
    json_object_set_new(o, "format", json_string(PQgetvalue(r, row, IMC_FORMAT)));
    json_object_set_new(o, "mode", json_string(PQgetvalue(r, row, IMC_MODE)));
    json_object_set_new(o, "atomic", json_boolean(PQgetvalue(r, row, IMC_ATOMIC)[0] == 't'));
    json_object_set_new(o, "rows", count_of(r, row, IMC_ROWS));
    json_object_set_new(o, "created", count_of(r, row, IMC_CREATED));
    json_object_set_new(o, "updated", count_of(r, row, IMC_UPDATED));
    json_object_set_new(o, "failed", count_of(r, row, IMC_FAILED));
    if (errors)
        json_object_set_new(o, "errors", errors);
    json_object_set_new(o, "created_at", json_string(PQgetvalue(r, row, IMC_CREATED_AT)));
    json_object_set_new(o, "started_at", time_or_null(r, row, IMC_STARTED_AT));
    json_object_set_new(o, "finished_at", time_or_null(r, row, IMC_FINISHED_AT));
    return o;
}

json_t *import_error_to_json(const PGresult *r, int row) {
    json_t *o = json_object();
    json_object_set_new(o, "line", count_of(r, row, 0));
    json_object_set_new(o, "field",
                        PQgetisnull(r, row, 1) ? json_null() : json_string(PQgetvalue(r, row, 1)));
    /* Messages may quote input: json_string refuses invalid UTF-8. */
    json_t *m = json_string(PQgetvalue(r, row, 2));
    json_object_set_new(o, "message", m ? m : json_string("invalid text"));
    return o;
}
