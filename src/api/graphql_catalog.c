/*
 * graphql_catalog.c -- the root fields of the catalog schema and the table
 * of resolvers (see graphql_catalog.h).
 */
#include "nexus/api/graphql_catalog.h"

#include "nexus/api/common.h"
#include "nexus/api/facets.h"
#include "nexus/api/graphql_args.h"
#include "nexus/api/graphql_shape.h"
#include "nexus/api/products.h"
#include "nexus/core/parse.h"
#include "nexus/db/categories.h"
#include "nexus/db/products.h"
#include "nexus/db/users.h"
#include "nexus/graphql/error.h"
#include "nexus/model/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gql_catalog_init(struct gql_catalog *c, struct request *req) {
    memset(c, 0, sizeof *c);
    c->req = req;
    c->staff = api_is_staff(req);
}

void gql_catalog_clear(struct gql_catalog *c) {
    if (c->snapshot)
        db_end_snapshot(c->db);
    for (size_t i = 0; i < c->query_count; i++) {
        product_query_clear(c->queries[i]);
        free(c->queries[i]);
    }
    free(c->queries);
    for (size_t i = 0; i < c->row_count; i++) {
        json_decref(c->rows[i].full);
        json_decref(c->rows[i].node);
    }
    free(c->rows);
    free(c->node_slots);
    gql_row_memo_free(c);
    for (size_t i = 0; i < c->result_count; i++)
        PQclear(c->results[i]);
    free(c->results);
}

void gql_catalog_keep(struct gql_catalog *c, PGresult *r) {
    if (!r)
        return;
    if (c->result_count == c->result_cap) {
        c->result_cap = c->result_cap ? 2 * c->result_cap : 4;
        c->results = xrealloc(c->results, c->result_cap * sizeof *c->results);
    }
    c->results[c->result_count++] = r;
}

/* An answer's statements (a page, its products' variants, its total)
 * share one snapshot, so that a write landing between two of them cannot
 * give a product derived fields its variants disagree with. A statement
 * that failed (a timeout) fails the snapshot: the fields after it read
 * outside one rather than failing too. */
enum nx_err gql_catalog_db(struct gql_catalog *c, struct db **db) {
    enum nx_err e = NX_OK;
    if (!c->db) {
        e = api_db(c->req, &c->db);
        c->snapshot = e == NX_OK && db_begin_snapshot(c->db);
    } else if (c->snapshot && db_snapshot_failed(c->db)) {
        db_end_snapshot(c->db);
        c->snapshot = false;
    }
    *db = c->db;
    return e;
}

void gql_catalog_fail(struct gql_field_call *call, enum nx_err e,
                      const struct request *detail_req) {
    if (e == NX_ERR_UNAVAILABLE || e == NX_ERR_INTERNAL)
        ((struct gql_catalog *)call->ctx)->db_failed = true;
    char detail[sizeof detail_req->detail + 64];
    if (e == NX_ERR_BAD_REQUEST && detail_req && detail_req->detail[0]) {
        gql_args_detail(detail_req->detail, detail, sizeof detail);
        gql_field_fail(call, GQL_CODE_BAD_INPUT, "%s", detail);
    } else if (e == NX_ERR_UNAVAILABLE && db_thread_timed_out())
        gql_field_fail(call, NULL,
                       "the field needs more than the %d ms the server allows a database "
                       "statement; narrow it (a filter, a smaller first) and retry",
                       db_statement_timeout());
    else if (e == NX_ERR_UNAVAILABLE)
        gql_field_fail(call, NULL, "the database is unavailable; retry later");
    else
        gql_field_fail(call, NULL, "the field could not be read");
}

void gql_id_text(const json_t *v, char out[24]) {
    out[0] = '\0';
    if (json_is_integer(v))
        snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) < 24)
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

char *gql_ids_literal(const json_t *sources, const json_t *(*get)(const json_t *source),
                      size_t *n) {
    struct buf b = {0};
    json_t *seen = json_object();
    size_t i;
    const json_t *s;
    *n = 0;
    buf_puts(&b, "{");
    json_array_foreach(sources, i, s) {
        char id[24];
        int64_t parsed;
        gql_id_text(get(s), id);
        if (!parse_id(id, strlen(id), &parsed) || json_object_get(seen, id))
            continue;
        json_object_set_new(seen, id, json_true());
        buf_printf(&b, "%s%s", *n ? "," : "", id);
        (*n)++;
    }
    buf_puts(&b, "}");
    json_decref(seen);
    return buf_take(&b, NULL);
}

static struct gql_catalog *catalog(const struct gql_field_call *call) {
    return call->ctx;
}

/* A read by the id or the slug argument (exactly one of them): the row
 * (NULL for none: an id that is not one names nothing) or a failed field. */
typedef enum nx_err (*keyed_fn)(struct db *db, const char *key, bool by_slug, PGresult **r);

static PGresult *keyed_read(struct gql_field_call *call, keyed_fn read) {
    const char *id = json_string_value(json_object_get(call->args, "id"));
    const char *slug = json_string_value(json_object_get(call->args, "slug"));
    struct db *db;
    PGresult *r = NULL;
    int64_t n;
    if ((id != NULL) == (slug != NULL)) {
        gql_field_fail(call, GQL_CODE_BAD_INPUT, "give exactly one of id and slug");
        return NULL;
    }
    if (id && !parse_id(id, strlen(id), &n))
        return NULL;
    enum nx_err e = gql_catalog_db(catalog(call), &db);
    if (e == NX_OK)
        e = read(db, id ? id : slug, id == NULL, &r);
    if (e != NX_OK)
        gql_catalog_fail(call, e, NULL);
    if (r && PQntuples(r) == 1)
        return r;
    PQclear(r);
    return NULL;
}

static enum nx_err product_by_key(struct db *db, const char *key, bool by_slug, PGresult **r) {
    return by_slug ? products_get_by_slug(db, key, r) : products_get(db, key, false, r);
}

/* Query.product: null when there is none or the caller may not see it. */
static json_t *query_product(struct gql_field_call *call) {
    struct gql_catalog *c = catalog(call);
    PGresult *r = keyed_read(call, product_by_key);
    json_t *out = NULL;
    if (r && (c->staff || PQgetvalue(r, 0, PC_IS_ACTIVE)[0] == 't'))
        out = gql_product_node(c, r, 0);
    gql_catalog_keep(c, r);
    return out;
}

/* Query.category: null when there is none. */
static json_t *query_category(struct gql_field_call *call) {
    PGresult *r = keyed_read(call, categories_get);
    json_t *out = r ? gql_category_row(r, 0) : NULL;
    PQclear(r);
    return out;
}

static json_t *category_rows(const PGresult *r) {
    json_t *out = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(out, gql_category_row(r, i));
    return out;
}

/* Query.categories: every category, the roots (parent: null), or one's
 * children (an id or a slug, checked as REST's parent parameter). */
static json_t *query_categories(struct gql_field_call *call) {
    struct gql_catalog *c = catalog(call);
    const json_t *parent = json_object_get(call->args, "parent");
    struct gql_args a;
    struct db *db;
    PGresult *r = NULL;
    char key[128], id[24] = "", ids[32];
    bool by_slug;
    json_t *out = NULL;
    gql_args_init(&a, c->req);
    enum nx_err e = gql_catalog_db(c, &db);
    if (e == NX_OK && (!json_is_string(parent) || json_string_length(parent) == 0))
        e = categories_all(db, json_is_null(parent), &r);
    else if (e == NX_OK) {
        struct slice v = {json_string_value(parent), json_string_length(parent)};
        e = category_key(&a.req, "parent", v, key, sizeof key, &by_slug);
        if (e == NX_OK)
            e = categories_resolve(db, key, by_slug, id);
        snprintf(ids, sizeof ids, "{%s}", id);
        if (e == NX_OK && id[0])
            e = categories_children_many(db, ids, &r);
    }
    if (e != NX_OK)
        gql_catalog_fail(call, e, &a.req);
    else
        out = r ? category_rows(r) : json_array();
    PQclear(r);
    gql_args_clear(&a);
    return out;
}

/* Query.me: the caller, or null without a token. */
static json_t *query_me(struct gql_field_call *call) {
    struct gql_catalog *c = catalog(call);
    struct db *db;
    PGresult *r = NULL;
    char id[24];
    json_t *out = NULL;
    if (c->req->principal.user_id <= 0)
        return NULL;
    snprintf(id, sizeof id, "%lld", (long long)c->req->principal.user_id);
    enum nx_err e = gql_catalog_db(c, &db);
    if (e == NX_OK)
        e = users_get(db, id, &r);
    if (e != NX_OK)
        gql_catalog_fail(call, e, NULL);
    else if (PQntuples(r) == 1) {
        json_t *rest = user_to_json(r, 0);
        out = gql_shape(rest);
        json_decref(rest);
    }
    PQclear(r);
    return out;
}

/* {"key": [values]} as [{name: key, values: [values]}], in its order. */
static json_t *named_lists(const json_t *obj, const char *name) {
    json_t *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v)
        json_array_append_new(out, json_pack("{s:s, s:O}", name, k, "values", v));
    return out;
}

/* The REST facets body in the schema's shape (maps become lists). */
static json_t *facets_shape(const json_t *rest) {
    const json_t *stock = json_object_get(rest, "in_stock");
    json_t *price = json_deep_copy(json_object_get(rest, "price"));
    if (!json_object_get(price, "buckets"))
        json_object_set_new(price, "buckets", json_array());
    return json_pack("{s:O, s:O, s:o, s:{s:O, s:O}, s:o, s:o}", "total",
                     json_object_get(rest, "total"), "categories",
                     json_object_get(rest, "categories"), "price", price, "inStock", "inStock",
                     json_object_get(stock, "true"), "outOfStock", json_object_get(stock, "false"),
                     "attributes", named_lists(json_object_get(rest, "attributes"), "key"),
                     "options", named_lists(json_object_get(rest, "options"), "name"));
}

/* Query.facets: GET /products/facets with the filter and priceBuckets. */
static json_t *query_facets(struct gql_field_call *call) {
    struct gql_catalog *c = catalog(call);
    struct gql_args a;
    struct db *db;
    json_t *rest = NULL, *out = NULL;
    gql_args_init(&a, c->req);
    enum nx_err e = gql_args_filter(&a, json_object_get(call->args, "filter"));
    if (e == NX_OK)
        e = gql_args_add_list(&a, "price_buckets", json_object_get(call->args, "priceBuckets"),
                              false);
    if (e == NX_OK)
        e = gql_catalog_db(c, &db);
    if (e == NX_OK)
        e = api_facets_load(&a.req, db, c->staff, &rest);
    if (e != NX_OK)
        gql_catalog_fail(call, e, &a.req);
    else
        out = facets_shape(rest);
    json_decref(rest);
    gql_args_clear(&a);
    return out;
}

static const struct gql_resolver RESOLVERS[] = {
    {"Query", "product", query_product, NULL, NULL},
    {"Query", "products", gql_query_products, NULL, NULL},
    {"Query", "category", query_category, NULL, NULL},
    {"Query", "categories", query_categories, NULL, NULL},
    {"Query", "facets", query_facets, NULL, NULL},
    {"Query", "me", query_me, NULL, NULL},
    {"Product", "id", gql_product_member, NULL, gql_product_write},
    {"Product", "sku", gql_product_member, NULL, gql_product_write},
    {"Product", "name", gql_product_member, NULL, gql_product_write},
    {"Product", "slug", gql_product_member, NULL, gql_product_write},
    {"Product", "description", gql_product_member, NULL, gql_product_write},
    {"Product", "price", gql_product_member, NULL, gql_product_write},
    {"Product", "currency", gql_product_member, NULL, gql_product_write},
    {"Product", "stock", gql_product_member, NULL, gql_product_write},
    {"Product", "inStock", gql_product_member, NULL, gql_product_write},
    {"Product", "isActive", gql_product_member, NULL, gql_product_write},
    {"Product", "createdAt", gql_product_member, NULL, gql_product_write},
    {"Product", "updatedAt", gql_product_member, NULL, gql_product_write},
    {"Product", "priceRange", gql_product_member, NULL, gql_product_write},
    {"Product", "options", gql_product_member, NULL, gql_product_write},
    {"Product", "variantCount", gql_product_member, NULL, gql_product_write},
    {"Product", "attributes", gql_product_member, NULL, gql_product_write},
    {"Product", "images", gql_product_member, NULL, gql_product_write},
    {"Product", "variants", NULL, gql_product_variants, NULL},
    {"Product", "category", NULL, gql_product_category, gql_product_write},
    {"Category", "parent", NULL, gql_category_parent, NULL},
    {"Category", "children", NULL, gql_category_children, NULL},
    {"Category", "products", NULL, gql_category_products, NULL},
    {"ProductConnection", "totalCount", NULL, gql_connection_total, NULL},
};

const struct gql_resolver *gql_catalog_resolvers(size_t *count) {
    *count = sizeof RESOLVERS / sizeof RESOLVERS[0];
    return RESOLVERS;
}
