/*
 * graphql_products.c -- product connections: Query.products (one page, the
 * REST list's statement), Category.products (a page per category of a
 * level, all in one statement) and ProductConnection.totalCount (counted
 * only when selected, one statement per level). See graphql_catalog.h.
 *
 * A connection holds, besides its edges and pageInfo, members the schema
 * does not name (so they are never in a response): the index of its
 * filter in the catalog context, and for a category's page the category
 * and its subtree, which totalCount needs.
 */
#include "nexus/api/graphql_catalog.h"

#include "nexus/api/graphql_args.h"
#include "nexus/api/graphql_shape.h"
#include "nexus/api/listing.h"
#include "nexus/api/products.h"
#include "nexus/core/config.h"
#include "nexus/db/categories.h"
#include "nexus/db/products.h"
#include "nexus/graphql/error.h"
#include "nexus/http/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_QUERY    "_nx_query"
#define M_EMPTY    "_nx_empty"
#define M_CATEGORY "_nx_category"
#define M_SUBTREE  "_nx_subtree"

static const char BAD_CURSOR[] = "invalid cursor (it must come from a previous page of the same "
                                 "list, with the same sort and filters)";

/* Keep q (owned from here) for totalCount; its index. */
static size_t keep_query(struct gql_catalog *c, struct product_query *q) {
    if (c->query_count == c->query_cap) {
        size_t cap = c->query_cap ? 2 * c->query_cap : 4;
        struct product_query **grown = xrealloc(c->queries, cap * sizeof *grown);
        c->queries = grown;
        c->query_cap = cap;
    }
    c->queries[c->query_count] = q;
    return c->query_count++;
}

/* Rows [from, from + rows) of r: one page (with one row more when there is
 * a next page). */
struct page_rows {
    const PGresult *r;
    int from, rows;
};

/* Which cursors a connection holds: each edge's, the first's
 * (startCursor), the last's (endCursor). Each is an HMAC. */
struct cursor_need {
    bool edges, start, end;
};

/* The cursors the field may select: the connection is the field's own
 * (a root field's value, or a parent's member for this response key, all
 * of whose selections the call has). */
static struct cursor_need cursors_selected(const struct gql_field_call *call) {
    return (struct cursor_need){gql_field_may_select(call, "cursor"),
                                gql_field_may_select(call, "startCursor"),
                                gql_field_may_select(call, "endCursor")};
}

/* A connection over a page; canonical is the filter text its cursors are
 * bound to. A cursor that need leaves out is null, or not in its edge:
 * nothing selects it. */
static json_t *connection(struct gql_catalog *c, const struct page_rows *p,
                          const struct list_request *lr, const char *canonical, size_t query,
                          const struct cursor_need *need) {
    int shown = p->rows > lr->limit ? lr->limit : p->rows;
    json_t *edges = json_array(), *start = json_null(), *end = json_null();
    for (int i = 0; i < shown; i++) {
        int row = p->from + i;
        bool last = i == shown - 1 && p->rows > lr->limit;
        json_t *text = NULL, *edge = json_object();
        if (need->edges || (i == 0 && need->start) || (last && need->end)) {
            char *cursor = list_cursor(&api_product_list, lr, canonical,
                                       PQgetvalue(p->r, row, api_product_sort_column(lr->sort)),
                                       strtoll(PQgetvalue(p->r, row, PC_ID), NULL, 10));
            text = json_string(cursor);
            free(cursor);
        }
        if (text && i == 0)
            json_decref(start), start = json_incref(text);
        if (text && last)
            json_decref(end), end = json_incref(text);
        if (text)
            json_object_set_new(edge, "cursor", text);
        json_object_set_new(edge, "node", gql_product_node(c, p->r, row));
        json_array_append_new(edges, edge);
    }
    return json_pack("{s:o, s:{s:b, s:b, s:o, s:o}, s:I}", "edges", edges, "pageInfo",
                     "hasNextPage", p->rows > lr->limit, "hasPreviousPage", 0, "startCursor", start,
                     "endCursor", end, M_QUERY, (json_int_t)query);
}

/* Parse filter and page arguments as the REST list does. */
static enum nx_err parse_list(struct gql_catalog *c, struct db *db, const json_t *args,
                              bool with_cursor, struct gql_args *a, struct product_query *q,
                              struct list_request *lr) {
    enum nx_err e = gql_args_filter(a, json_object_get(args, "filter"));
    if (e == NX_OK)
        e = gql_args_page(a, args, with_cursor);
    if (e == NX_OK)
        e = product_query_parse(&a->req, db, c->staff, q);
    else
        memset(q, 0, sizeof *q); /* cleared by the caller all the same */
    if (e == NX_OK)
        e = list_parse(&a->req, &api_product_list, q->canonical.data ? q->canonical.data : "", lr);
    return e;
}

json_t *gql_query_products(struct gql_field_call *call) {
    struct gql_catalog *c = call->ctx;
    struct gql_args a;
    struct list_request lr;
    struct product_query *q = xcalloc(1, sizeof *q);
    struct db *db = NULL;
    PGresult *r = NULL;
    json_t *out = NULL;
    char after_id[24];
    gql_args_init(&a, c->req);
    enum nx_err e = gql_catalog_db(c, &db);
    if (e == NX_OK)
        e = parse_list(c, db, call->args, true, &a, q, &lr);
    snprintf(after_id, sizeof after_id, "%lld", e == NX_OK ? (long long)lr.after.id : 0LL);
    if (e == NX_OK && !q->matches_nothing)
        e = products_list(db, &q->filter, (enum product_sort)lr.sort,
                          lr.has_cursor ? lr.after.value : NULL, after_id, lr.limit_plus_one, &r);
    if (e == NX_OK) {
        struct page_rows p = {r, 0, r ? PQntuples(r) : 0};
        bool empty = q->matches_nothing;
        struct cursor_need need = cursors_selected(call);
        out = connection(c, &p, &lr, q->canonical.data ? q->canonical.data : "", keep_query(c, q),
                         &need);
        q = NULL;
        if (empty)
            json_object_set_new(out, M_EMPTY, json_true());
    } else {
        gql_catalog_fail(call, e, &a.req);
    }
    if (q)
        product_query_clear(q);
    free(q);
    gql_catalog_keep(c, r); /* the rows of the page's products */
    gql_args_clear(&a);
    return out;
}

/* ---- Category.products ---------------------------------------------------- */

/* The canonical filter text of q with the category cid in its place: the
 * text a REST list with category=<cid> binds its cursors to. */
static void category_canonical(const struct product_query *q, const char *cid, struct buf *out) {
    const char *text = q->canonical.data ? q->canonical.data : "";
    buf_append(out, text, q->category_at);
    buf_printf(out, "&category=%s", cid);
    buf_puts(out, text + q->category_at);
}

/* An element of an array literal: quoted, or NULL. */
static void literal_element(struct buf *b, const char *s) {
    buf_puts(b, b->len > 1 ? "," : "");
    if (!s) {
        buf_puts(b, "NULL");
        return;
    }
    buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_puts(b, "\\");
        buf_append(b, p, 1);
    }
    buf_puts(b, "\"");
}

/* The pages' arrays, one element per category of the subtrees result. */
struct pages_text {
    struct buf ids, subtrees, values, after_ids;
};

static void pages_text_clear(struct pages_text *t) {
    buf_clear(&t->ids);
    buf_clear(&t->subtrees);
    buf_clear(&t->values);
    buf_clear(&t->after_ids);
}

/* Each category's cursor (after, bound to its own canonical text) and
 * subtree into t; false when the cursor is not one of that category's. */
static bool pages_arrays(const PGresult *st, const struct product_query *q,
                         const struct list_request *lr, const char *after, struct pages_text *t) {
    buf_puts(&t->ids, "{");
    buf_puts(&t->subtrees, "{");
    buf_puts(&t->values, "{");
    buf_puts(&t->after_ids, "{");
    for (int i = 0; i < PQntuples(st); i++) {
        struct cursor_position pos;
        struct buf canonical = {0};
        char id[24];
        const char *cid = PQgetvalue(st, i, 0);
        category_canonical(q, cid, &canonical);
        struct cursor_scope scope = {api_product_list.endpoint, api_product_list.sorts[lr->sort],
                                     canonical.data};
        bool ok = !after || cursor_decode(after, strlen(after), &scope, &pos);
        buf_clear(&canonical);
        if (!ok)
            return false;
        literal_element(&t->ids, cid);
        literal_element(&t->subtrees, PQgetvalue(st, i, 1));
        literal_element(&t->values, after ? pos.value : NULL);
        snprintf(id, sizeof id, "%lld", after ? (long long)pos.id : 0LL);
        literal_element(&t->after_ids, after ? id : NULL);
    }
    buf_puts(&t->ids, "}");
    buf_puts(&t->subtrees, "}");
    buf_puts(&t->values, "}");
    buf_puts(&t->after_ids, "}");
    return true;
}

/* Store each source's connection in member (the field's, or its
 * alias's: see resolve.h): its rows of r (grouped by category, in the
 * order of st), or an empty page. */
static void store_pages(struct gql_catalog *c, json_t *sources, const PGresult *st,
                        const PGresult *r, const struct product_query *q,
                        const struct list_request *lr, size_t query, const struct cursor_need *need,
                        const char *member) {
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        char cid[24];
        struct page_rows p = {r, 0, 0};
        const char *subtree = "{}";
        gql_id_text(json_object_get(s, "id"), cid);
        for (int k = 0; k < PQntuples(st); k++)
            if (strcmp(PQgetvalue(st, k, 0), cid) == 0)
                subtree = PQgetvalue(st, k, 1);
        while (p.from < PQntuples(r) && strcmp(PQgetvalue(r, p.from, PC_PAGE_CATEGORY), cid))
            p.from++;
        while (p.from + p.rows < PQntuples(r) &&
               strcmp(PQgetvalue(r, p.from + p.rows, PC_PAGE_CATEGORY), cid) == 0)
            p.rows++;
        struct buf canonical = {0};
        category_canonical(q, cid, &canonical);
        json_t *conn = connection(c, &p, lr, canonical.data, query, need);
        buf_clear(&canonical);
        json_object_set_new(conn, M_CATEGORY, json_string(cid));
        json_object_set_new(conn, M_SUBTREE, json_string(subtree));
        json_object_set_new(s, member, conn);
    }
}

static const json_t *own_id(const json_t *s) {
    return json_object_get(s, "id");
}

/* The subtrees, then the pages: two statements for the whole level. */
static enum nx_err load_pages(struct gql_field_call *call, struct db *db, struct product_query *q,
                              const struct list_request *lr, PGresult **st, PGresult **r) {
    struct pages_text t = {0};
    size_t n;
    const char *after = json_string_value(json_object_get(call->args, "after"));
    char *ids = gql_ids_literal(call->sources, own_id, &n);
    enum nx_err e = categories_subtrees(db, ids, st);
    free(ids);
    if (e == NX_OK && !pages_arrays(*st, q, lr, after && after[0] ? after : NULL, &t)) {
        gql_field_fail(call, GQL_CODE_BAD_INPUT, "%s", BAD_CURSOR);
        e = NX_ERR_BAD_REQUEST;
    }
    struct category_pages pages = {t.ids.data, t.subtrees.data, t.values.data, t.after_ids.data};
    if (e == NX_OK)
        e = products_list_per_category(db, &q->filter, (enum product_sort)lr->sort, &pages,
                                       lr->limit_plus_one, r);
    pages_text_clear(&t);
    return e;
}

void gql_category_products(struct gql_field_call *call) {
    struct gql_catalog *c = call->ctx;
    struct gql_args a;
    struct list_request lr;
    struct product_query *q = xcalloc(1, sizeof *q);
    struct db *db = NULL;
    PGresult *st = NULL, *r = NULL;
    const json_t *filter = json_object_get(call->args, "filter");
    gql_args_init(&a, c->req);
    enum nx_err e = NX_OK;
    if (json_is_string(json_object_get(filter, "category")))
        e = problem_detail(&a.req, NX_ERR_BAD_REQUEST,
                           "filter.category cannot be given here: the category is the parent");
    if (e == NX_OK)
        e = gql_catalog_db(c, &db);
    if (e == NX_OK)
        e = parse_list(c, db, call->args, false, &a, q, &lr);
    if (e == NX_OK)
        e = load_pages(call, db, q, &lr, &st, &r);
    if (e == NX_OK) {
        struct cursor_need need = cursors_selected(call);
        store_pages(c, call->sources, st, r, q, &lr, c->query_count, &need, call->member);
        keep_query(c, q);
        q = NULL;
    } else if (!call->error) {
        gql_catalog_fail(call, e, &a.req);
    }
    if (q)
        product_query_clear(q);
    free(q);
    PQclear(st);
    gql_catalog_keep(c, r); /* the rows of the pages' products */
    gql_args_clear(&a);
}
