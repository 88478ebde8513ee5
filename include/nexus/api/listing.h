/*
 * listing.h -- the shared parts of every list endpoint: limit, sort,
 * cursor and include_total parameters, and the {items, next_cursor, total}
 * envelope.
 */
#ifndef NEXUS_API_LISTING_H
#define NEXUS_API_LISTING_H

#include "nexus/core/cursor.h"
#include "nexus/db/db.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <libpq-fe.h>

#define NX_LIST_DEFAULT_LIMIT 20
#define NX_LIST_MAX_LIMIT     100

struct list_spec {
    const char *endpoint;
    const char *const *sorts; /* accepted sort values, "-" forms included */
    size_t sort_count;
    size_t default_sort;
};

struct list_request {
    int limit;
    bool include_total;
    size_t sort; /* index into spec->sorts */
    bool has_cursor;
    struct cursor_position after;
    char limit_plus_one[12]; /* the SQL LIMIT: one more row tells if a next page exists */
};

/* A filter's value: v->ptr NULL when the parameter is absent or empty
 * (an empty filter is ignored); 400 when it is repeated or not text. */
enum nx_err list_filter_value(struct request *req, const char *name, struct slice *v);

/* A boolean filter: exactly true or false, else 400. When given, *out is
 * 1 or 0 and "&<name>=1|0" goes onto canonical (the text a cursor is
 * bound to); when absent or empty, *out is left as it is. */
enum nx_err list_bool_filter(struct request *req, const char *name, int *out,
                             struct buf *canonical);

/* Parse limit, sort, cursor and include_total; filters is the canonical
 * text of the request's filters, which the cursor must match. 400 on any
 * malformed value. */
enum nx_err list_parse(struct request *req, const struct list_spec *spec, const char *filters,
                       struct list_request *out);

/* The cursor that continues after a row with this sort value and id. */
char *list_cursor(const struct list_spec *spec, const struct list_request *lr, const char *filters,
                  const char *value, int64_t id);

/* One row of a list's result as its JSON item. */
typedef json_t *(*list_item_fn)(const PGresult *r, int row);

/* Respond 200 with a page read with lr->limit_plus_one: its first
 * lr->limit rows as items, and, when r holds one more, the cursor after
 * the last of them (its value_col and id_col), bound to filters. total < 0
 * leaves it out. */
void list_respond_rows(struct response *res, const struct list_spec *spec,
                       const struct list_request *lr, const char *filters, const PGresult *r,
                       list_item_fn item, int value_col, int id_col, long long total);

/* A list read from one table a page at a time (users, imports): how to
 * read a page and the total of the rows that pass filter (the list's own
 * filters, or NULL when it has none), and the columns of a row's cursor
 * (the sort value's column for each sort index, and the id's). */
struct list_table {
    enum nx_err (*page)(struct db *db, const void *filter, size_t sort, const char *after_value,
                        const char *after_id, const char *limit, PGresult **out);
    enum nx_err (*count)(struct db *db, const void *filter, long long *total);
    list_item_fn item;
    const int *value_cols;
    int id_col;
};

/* Serve such a list: parse the request, read the page (and the total when
 * asked for), respond. filter is handed to page and count; filters is its
 * canonical text, which cursors are bound to ("" without filters). */
enum nx_err list_serve_table(struct request *req, struct response *res,
                             const struct list_spec *spec, const struct list_table *table,
                             const void *filter, const char *filters);

/* Respond 200 with {items, next_cursor[, total]}; items is consumed.
 * total < 0 leaves it out. */
void list_respond(struct response *res, json_t *items, char *next_cursor, long long total);
/* The same; capped adds "total_capped": true (counting stopped at a cap,
 * so at least total items match). */
void list_respond_capped(struct response *res, json_t *items, char *next_cursor, long long total,
                         bool capped);
/* The same with the items already written as one JSON array (the caller
 * keeps items; next_cursor is consumed). */
void list_respond_written(struct response *res, const char *items, size_t items_len,
                          char *next_cursor, long long total, bool capped);

#endif
