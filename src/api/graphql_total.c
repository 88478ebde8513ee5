/*
 * graphql_total.c -- ProductConnection.totalCount, counted only when it is
 * selected: one count for a Query.products connection, one statement for
 * all the Category.products connections of a level made with one filter
 * (see graphql_products.c for the members a connection holds).
 */
#include "nexus/api/graphql_catalog.h"

#include "nexus/api/products.h"
#include "nexus/core/config.h"
#include "nexus/db/products.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a search counts at most (REST's total is capped the same way). */
static long long search_cap(const struct product_filter *f) {
    return f->pattern_count ? nx_config->search_total_cap : 0;
}

static struct product_query *query_of(const struct gql_catalog *c, const json_t *conn) {
    json_int_t i = json_integer_value(json_object_get(conn, "_nx_query"));
    return i >= 0 && (size_t)i < c->query_count ? c->queries[i] : NULL;
}

/* A Query.products connection: REST's total. */
static enum nx_err count_one(struct gql_catalog *c, struct db *db, json_t *conn,
                             const char *member) {
    struct product_query *q = query_of(c, conn);
    long long total = 0;
    bool capped;
    enum nx_err e = NX_OK;
    if (q && !json_is_true(json_object_get(conn, "_nx_empty")))
        e = api_products_total(db, &q->filter, &total, &capped);
    if (e == NX_OK)
        json_object_set_new(conn, member, json_integer(total));
    return e;
}

/* Every category connection of the level made with query q: one
 * statement. */
static enum nx_err count_categories(struct gql_catalog *c, struct db *db, json_t *sources,
                                    const struct product_query *q, const char *member) {
    struct buf ids = {0}, subtrees = {0};
    PGresult *r = NULL;
    size_t i, n = 0;
    json_t *conn;
    buf_puts(&ids, "{");
    buf_puts(&subtrees, "{");
    json_array_foreach(sources, i, conn) {
        if (query_of(c, conn) != q || !json_object_get(conn, "_nx_category"))
            continue;
        buf_printf(&ids, "%s%s", n ? "," : "",
                   json_string_value(json_object_get(conn, "_nx_category")));
        buf_printf(&subtrees, "%s\"%s\"", n ? "," : "",
                   json_string_value(json_object_get(conn, "_nx_subtree")));
        n++;
    }
    buf_puts(&ids, "}");
    buf_puts(&subtrees, "}");
    struct category_pages pages = {ids.data, subtrees.data, NULL, NULL};
    long long cap = search_cap(&q->filter);
    enum nx_err e = products_count_per_category(db, &q->filter, &pages, cap ? cap + 1 : 0, &r);
    for (int row = 0; e == NX_OK && row < PQntuples(r); row++) {
        long long total = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        json_array_foreach(sources, i, conn) {
            const char *cid = json_string_value(json_object_get(conn, "_nx_category"));
            if (query_of(c, conn) == q && cid && strcmp(cid, PQgetvalue(r, row, 0)) == 0)
                json_object_set_new(conn, member, json_integer(cap && total > cap ? cap : total));
        }
    }
    PQclear(r);
    buf_clear(&ids);
    buf_clear(&subtrees);
    return e;
}

void gql_connection_total(struct gql_field_call *call) {
    struct gql_catalog *c = call->ctx;
    struct db *db;
    size_t i;
    json_t *conn;
    enum nx_err e = gql_catalog_db(c, &db);
    json_array_foreach(call->sources, i, conn) {
        const struct product_query *q = query_of(c, conn);
        if (e != NX_OK || json_object_get(conn, call->member))
            continue; /* counted with an earlier one of its level */
        if (!json_object_get(conn, "_nx_category"))
            e = count_one(c, db, conn, call->member);
        else if (q)
            e = count_categories(c, db, call->sources, q, call->member);
    }
    if (e != NX_OK)
        gql_catalog_fail(call, e, NULL);
}
