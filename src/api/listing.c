/*
 * listing.c -- list parameters and the list envelope.
 */
#include "nexus/api/listing.h"

#include "nexus/api/common.h"

#include "nexus/core/jsonw.h"
#include "nexus/core/parse.h"
#include "nexus/http/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum nx_err list_filter_value(struct request *req, const char *name, struct slice *v) {
    enum nx_err e = request_query(req, name, v);
    if (e == NX_OK && v->ptr && v->len == 0)
        v->ptr = NULL;
    return e;
}

enum nx_err list_bool_filter(struct request *req, const char *name, int *out,
                             struct buf *canonical) {
    struct slice v;
    bool b;
    enum nx_err e = list_filter_value(req, name, &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (!parse_bool(v.ptr, v.len, &b))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "%s must be true or false", name);
    *out = b;
    buf_printf(canonical, "&%s=%d", name, b);
    return NX_OK;
}

static enum nx_err parse_limit(struct request *req, struct list_request *out) {
    struct slice v;
    enum nx_err e = request_query(req, "limit", &v);
    int64_t n = NX_LIST_DEFAULT_LIMIT;
    if (e != NX_OK)
        return e;
    /* plain decimal: leading zeros are allowed ("05"), as in money */
    while (v.ptr && v.len > 1 && v.ptr[0] == '0') {
        v.ptr++;
        v.len--;
    }
    if (v.ptr && !parse_i64(v.ptr, v.len, 1, NX_LIST_MAX_LIMIT, &n))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "limit must be an integer from 1 to %d",
                              NX_LIST_MAX_LIMIT);
    out->limit = (int)n;
    snprintf(out->limit_plus_one, sizeof out->limit_plus_one, "%d", out->limit + 1);
    return NX_OK;
}

static enum nx_err parse_sort(struct request *req, const struct list_spec *spec,
                              struct list_request *out) {
    struct slice v;
    enum nx_err e = request_query(req, "sort", &v);
    out->sort = spec->default_sort;
    /* Not a filter: an empty sort= is an unknown field, not the default. */
    if (e != NX_OK || !v.ptr)
        return e;
    for (size_t i = 0; i < spec->sort_count; i++)
        if (strlen(spec->sorts[i]) == v.len && memcmp(spec->sorts[i], v.ptr, v.len) == 0) {
            out->sort = i;
            return NX_OK;
        }
    return problem_detail(req, NX_ERR_BAD_REQUEST, "unknown sort field");
}

static enum nx_err parse_total(struct request *req, struct list_request *out) {
    struct slice v;
    enum nx_err e = request_query(req, "include_total", &v);
    out->include_total = false;
    if (e != NX_OK || !v.ptr || v.len == 0)
        return e;
    if (!parse_bool(v.ptr, v.len, &out->include_total))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "include_total must be true or false");
    return NX_OK;
}

static enum nx_err parse_cursor(struct request *req, const struct list_spec *spec,
                                const char *filters, struct list_request *out) {
    struct slice v;
    enum nx_err e = request_query(req, "cursor", &v);
    out->has_cursor = false;
    if (e != NX_OK || !v.ptr || v.len == 0)
        return e;
    struct cursor_scope scope = {spec->endpoint, spec->sorts[out->sort], filters};
    if (!cursor_decode(v.ptr, v.len, &scope, &out->after))
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "invalid cursor (it must come from a previous page of the same "
                              "list, with the same sort and filters)");
    out->has_cursor = true;
    return NX_OK;
}

enum nx_err list_parse(struct request *req, const struct list_spec *spec, const char *filters,
                       struct list_request *out) {
    memset(out, 0, sizeof *out);
    enum nx_err e = parse_limit(req, out);
    if (e == NX_OK)
        e = parse_sort(req, spec, out);
    if (e == NX_OK)
        e = parse_total(req, out);
    if (e == NX_OK)
        e = parse_cursor(req, spec, filters, out);
    return e;
}

char *list_cursor(const struct list_spec *spec, const struct list_request *lr, const char *filters,
                  const char *value, int64_t id) {
    struct cursor_scope scope = {spec->endpoint, spec->sorts[lr->sort], filters};
    struct cursor_position pos = {.id = id};
    size_t n = strlen(value);
    NX_ASSERT(n <= NX_CURSOR_VALUE_MAX); /* sort values are bounded by the schema */
    memcpy(pos.value, value, n + 1);
    return cursor_encode(&scope, &pos);
}

void list_respond_rows(struct response *res, const struct list_spec *spec,
                       const struct list_request *lr, const char *filters, const PGresult *r,
                       list_item_fn item, int value_col, int id_col, long long total) {
    int rows = PQntuples(r), shown = rows > lr->limit ? lr->limit : rows;
    char *next = NULL;
    if (rows > lr->limit)
        next = list_cursor(spec, lr, filters, PQgetvalue(r, shown - 1, value_col),
                           strtoll(PQgetvalue(r, shown - 1, id_col), NULL, 10));
    json_t *items = json_array();
    for (int i = 0; i < shown; i++)
        json_array_append_new(items, item(r, i));
    list_respond(res, items, next, total);
}

void list_respond(struct response *res, json_t *items, char *next_cursor, long long total) {
    list_respond_capped(res, items, next_cursor, total, false);
}

void list_respond_capped(struct response *res, json_t *items, char *next_cursor, long long total,
                         bool capped) {
    char *bytes = json_dumps(items, JSON_COMPACT);
    json_decref(items);
    list_respond_written(res, bytes, strlen(bytes), next_cursor, total, capped);
    free(bytes);
}

void list_respond_written(struct response *res, const char *items, size_t items_len,
                          char *next_cursor, long long total, bool capped) {
    struct jsonw w = {0};
    jsonw_object_open(&w);
    jsonw_key(&w, "items");
    jsonw_raw(&w, items, items_len);
    jsonw_key(&w, "next_cursor");
    if (next_cursor)
        jsonw_string(&w, next_cursor);
    else
        jsonw_null(&w);
    if (total >= 0) {
        jsonw_key(&w, "total");
        jsonw_int(&w, total);
    }
    if (total >= 0 && capped) {
        jsonw_key(&w, "total_capped");
        jsonw_bool(&w, true);
    }
    jsonw_object_close(&w);
    free(next_cursor);
    size_t len;
    char *body = jsonw_take(&w, &len);
    response_take(res, 200, "application/json", body, len);
}

enum nx_err list_serve_table(struct request *req, struct response *res,
                             const struct list_spec *spec, const struct list_table *table,
                             const void *filter, const char *filters) {
    struct list_request lr;
    struct db *db = NULL;
    PGresult *r = NULL;
    long long total = -1;
    char after_id[24];
    enum nx_err e = list_parse(req, spec, filters, &lr);
    if (e == NX_OK)
        e = api_db(req, &db);
    snprintf(after_id, sizeof after_id, "%lld", (long long)lr.after.id);
    if (e == NX_OK)
        e = table->page(db, filter, lr.sort, lr.has_cursor ? lr.after.value : NULL, after_id,
                        lr.limit_plus_one, &r);
    if (e == NX_OK && lr.include_total)
        e = table->count(db, filter, &total);
    if (e == NX_OK)
        list_respond_rows(res, spec, &lr, filters, r, table->item, table->value_cols[lr.sort],
                          table->id_col, total);
    PQclear(r);
    return e;
}
