/*
 * exports.c -- the product export, streamed in constant memory.
 *
 * The filters are checked before anything is sent (a bad one is the
 * list's 400). The body is then written as the client reads it: products
 * are fetched in batches of EXPORT_BATCH by id, each batch a statement of
 * its own on the thread's connection (no transaction is held between the
 * client's reads), and turned into lines a few at a time. Memory is one
 * batch and one flush, whatever the catalog's size. A failed batch ends
 * the stream with an error, which closes the connection before the
 * chunked body's last chunk: the client sees a broken transfer, never a
 * short export that looks complete.
 */
#include "nexus/api/exports.h"

#include "nexus/api/common.h"
#include "nexus/api/product_filters.h"
#include "nexus/core/parse.h"
#include "nexus/db/products.h"
#include "nexus/http/problem.h"
#include "nexus/model/import_row.h"
#include "nexus/model/product_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_BATCH     500
#define EXPORT_BATCH_SQL "500"
#define EXPORT_FLUSH     (16u * 1024u) /* bytes of lines rendered per refill */

struct export_stream {
    struct product_query q; /* owns the filter's values */
    enum export_format format;
    char after_id[24]; /* the last id fetched */
    PGresult *batch;
    int next_row;
    bool fetched_all; /* the last batch was short: nothing comes after it */
    struct buf out;
    size_t sent;
    struct export_attrs attrs; /* CSV: the attr.<key> columns */
    char *attr_keys;           /* the same as a text[] literal, or NULL */
};

static void export_stream_free(void *p) {
    struct export_stream *s = p;
    product_query_clear(&s->q);
    PQclear(s->batch);
    buf_clear(&s->out);
    for (size_t i = 0; i < s->attrs.count; i++)
        free(s->attrs.keys[i]);
    free(s->attrs.keys);
    free(s->attr_keys);
    free(s);
}

/* A CSV export's attr.<key> columns: the keys the matching products have,
 * read before the first byte is sent. No more than an import reads
 * (IMPORT_ATTR_COLUMNS_MAX): an export that could not be imported again
 * is refused (422 on format), pointing to NDJSON, which has no such
 * bound. */
static enum nx_err load_attr_keys(struct request *req, struct db *db, struct export_stream *s) {
    PGresult *r = NULL;
    enum nx_err e =
        products_export_attribute_keys(db, &s->q.filter, IMPORT_ATTR_COLUMNS_MAX + 1, &r);
    int n = e == NX_OK ? PQntuples(r) : 0;
    if (n > IMPORT_ATTR_COLUMNS_MAX) {
        PQclear(r);
        fielderr_add(&req->field_errors, "format",
                     "the matching products have more than %d attribute keys, the most a CSV "
                     "import reads as attr.<key> columns: export format=ndjson, or narrow the "
                     "filters",
                     IMPORT_ATTR_COLUMNS_MAX);
        return NX_ERR_VALIDATION;
    }
    struct buf literal = {0};
    s->attrs.keys = xcalloc(n ? (size_t)n : 1, sizeof *s->attrs.keys);
    for (int i = 0; i < n; i++) {
        s->attrs.keys[s->attrs.count++] = xstrdup(PQgetvalue(r, i, 0));
        db_text_array_add(&literal, PQgetvalue(r, i, 0));
    }
    if (n > 0)
        s->attr_keys = xstrndup(literal.data, literal.len);
    buf_clear(&literal);
    PQclear(r);
    return e;
}

static enum nx_err next_batch(struct export_stream *s) {
    struct db *db = db_thread(NULL);
    PQclear(s->batch);
    s->batch = NULL;
    s->next_row = 0;
    if (!db)
        return NX_ERR_UNAVAILABLE;
    enum nx_err e = products_export_page(db, &s->q.filter, s->after_id, EXPORT_BATCH_SQL,
                                         s->attr_keys, &s->batch);
    if (e != NX_OK)
        return e;
    int rows = PQntuples(s->batch);
    s->fetched_all = rows < EXPORT_BATCH;
    if (rows > 0)
        snprintf(s->after_id, sizeof s->after_id, "%s", PQgetvalue(s->batch, rows - 1, PC_ID));
    return NX_OK;
}

/* Render the next lines into the emptied buffer; false on a database
 * error. Leaves it empty at the end of the export. */
static bool refill(struct export_stream *s) {
    s->out.len = 0;
    s->sent = 0;
    while (s->out.len < EXPORT_FLUSH) {
        if (s->batch && s->next_row < PQntuples(s->batch)) {
            product_export_row(&s->out, s->format, s->batch, s->next_row++, &s->attrs);
            continue;
        }
        if (s->fetched_all)
            break;
        if (next_batch(s) != NX_OK)
            return false;
    }
    return true;
}

static long export_stream_read(void *ctx, char *out, size_t max) {
    struct export_stream *s = ctx;
    if (s->sent == s->out.len && !refill(s))
        return -1;
    size_t n = s->out.len - s->sent < max ? s->out.len - s->sent : max;
    if (n > 0)
        memcpy(out, s->out.data + s->sent, n);
    s->sent += n;
    return (long)n;
}

static enum nx_err parse_format(struct request *req, enum export_format *format) {
    struct slice v;
    enum nx_err e = request_query(req, "format", &v);
    if (e != NX_OK)
        return e;
    if (!v.ptr || (v.len == 6 && memcmp(v.ptr, "ndjson", 6) == 0))
        *format = EXPORT_NDJSON;
    else if (v.len == 3 && memcmp(v.ptr, "csv", 3) == 0)
        *format = EXPORT_CSV;
    else
        return problem_detail(req, NX_ERR_BAD_REQUEST, "format must be ndjson or csv");
    return NX_OK;
}

/* Inactive products are exported unless include_inactive=false (the
 * list's parser, which checked the value, defaults it the other way). */
static bool include_inactive(struct request *req) {
    struct slice v;
    bool b = true;
    if (request_query(req, "include_inactive", &v) == NX_OK && v.ptr && v.len)
        parse_bool(v.ptr, v.len, &b);
    return b;
}

enum nx_err api_exports_products(struct request *req, struct response *res) {
    enum export_format format = EXPORT_NDJSON;
    struct db *db = NULL;
    enum nx_err e = parse_format(req, &format);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e != NX_OK)
        return e;
    struct export_stream *s = xcalloc(1, sizeof *s);
    e = product_query_parse(req, db, true, &s->q);
    if (e != NX_OK) {
        export_stream_free(s);
        return e;
    }
    s->q.filter.include_inactive = include_inactive(req);
    s->format = format;
    if (format == EXPORT_CSV && !s->q.matches_nothing &&
        (e = load_attr_keys(req, db, s)) != NX_OK) {
        export_stream_free(s);
        return e;
    }
    s->fetched_all = s->q.matches_nothing;
    memcpy(s->after_id, "0", 2);
    product_export_header(&s->out, format, &s->attrs);
    bool csv = format == EXPORT_CSV;
    response_stream(res, 200, csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
                    export_stream_read, s, export_stream_free);
    response_header(res, "Content-Disposition",
                    csv ? "attachment; filename=\"products.csv\""
                        : "attachment; filename=\"products.ndjson\"");
    return NX_OK;
}
