/*
 * graphql_catalog.h -- the resolvers of the catalog schema over the
 * database (docs/GRAPHQL.md, "Resolvers").
 *
 * Every field that is not a member of a row already loaded has a resolver
 * here. Root fields (Query.*) resolve once each; fields that read more rows
 * under a parent (Product.variants, Product.category, Category.parent,
 * Category.children, Category.products, ProductConnection.totalCount) are
 * batch functions only: the executor gives them every parent of a level at
 * once (a single parent is a level of one), and they load what all of them
 * need in one statement (two for Category.products: the subtrees, then the
 * pages) and store it in the parents, where the executor's default
 * resolver finds it. So a request's statements do not grow with the number
 * of parents.
 *
 * Reads reuse the REST code: the same SQL (db/), the same filters, sorts,
 * cursors and messages (graphql_args.h), the same JSON (graphql_shape.h),
 * the same visibility (inactive products and variants for staff only).
 * A bad argument is a field error (GRAPHQL_BAD_USER_INPUT) with the REST
 * message; a database failure is a field error (INTERNAL_SERVER_ERROR).
 */
#ifndef NEXUS_API_GRAPHQL_CATALOG_H
#define NEXUS_API_GRAPHQL_CATALOG_H

#include "nexus/api/product_filters.h"
#include "nexus/db/db.h"
#include "nexus/graphql/resolve.h"
#include "nexus/http/request.h"

#include <stdbool.h>

/* The executor's ctx for one request. */
struct gql_catalog {
    struct request *req; /* the caller's request (principal, request id) */
    struct db *db;       /* NULL until a field needs it */
    bool snapshot;       /* db's statements share a snapshot (gql_catalog_db) */
    bool staff;
    bool db_failed; /* a field failed for the database (not for its input) */
    /* The filters of the connections made, kept for their totalCount
     * (connections hold their index, see graphql_products.c). */
    struct product_query **queries;
    size_t query_count, query_cap;
    /* The results whose rows back products (graphql_row.c), kept until
     * the request ends, and those rows. */
    PGresult **results;
    size_t result_count, result_cap;
    struct gql_row *rows;
    size_t row_count, row_cap;
    /* Each row's index + 1 by its node's address (open addressing, at
     * most half full; 0: a free slot): a node is found without a member
     * of its own. */
    size_t *node_slots;
    size_t node_slot_cap;
    /* The node whose fields are being written, and its row's index: a
     * node's fields are written one after the other. */
    const json_t *last_node;
    size_t last_row;
    /* What graphql_row.c's writers of lists of objects worked out of
     * their sub-fields, once per request (gql_row_memo_free). */
    struct gql_subs_memo *subs_memo;
    /* The columns of Product's fields by their definitions, found once. */
    const void *column_defs[64], *columns[64];
};

/* A product read from its row (see gql_product_node). */
struct gql_row {
    const PGresult *r;
    int row;
    json_t *node; /* held until the request ends: no other value takes its address */
    json_t *full; /* the whole product as values, made on first need */
};

void gql_catalog_init(struct gql_catalog *c, struct request *req);
void gql_catalog_clear(struct gql_catalog *c);
/* The table of resolvers (static). */
const struct gql_resolver *gql_catalog_resolvers(size_t *count);

/* ---- for the resolver modules ---- */

/* Keep r (owned from here) until the request ends. */
void gql_catalog_keep(struct gql_catalog *c, PGresult *r);

/* A product node over one row of r (PC_* columns; r kept with
 * gql_catalog_keep): an object, known to the context by its address,
 * whose fields are read from the row by the Product resolvers of
 * graphql_row.c. */
json_t *gql_product_node(struct gql_catalog *c, const PGresult *r, int row);
/* Free what graphql_row.c kept in c for the request. */
void gql_row_memo_free(struct gql_catalog *c);
/* Give each product node of sources that lacks one its `id` (which
 * Product.variants' batch reads) from its row. */
void gql_product_ids(struct gql_catalog *c, json_t *sources);
/* Give each product node of sources that lacks one its member (`category`
 * for Product.category's batch, which reads the id there to load the
 * rest) of its row's category (`{id, name, slug}` or null). */
void gql_product_categories(struct gql_catalog *c, json_t *sources, const char *member);
/* Product's fields read from a node's row: the value (built once per row
 * with graphql_shape's gql_product_row), and written straight to the
 * answer. */
json_t *gql_product_member(struct gql_field_call *call);
bool gql_product_write(struct gql_write_call *call);

/* The request's connection, or NX_ERR_UNAVAILABLE. */
enum nx_err gql_catalog_db(struct gql_catalog *c, struct db **db);
/* Fail the field for e: a 400's detail recorded on detail_req is the
 * message of a GRAPHQL_BAD_USER_INPUT error; anything else is an
 * INTERNAL_SERVER_ERROR that says no more than REST would, and marks the
 * catalog's db_failed. */
void gql_catalog_fail(struct gql_field_call *call, enum nx_err e, const struct request *detail_req);
/* An array literal ("{3,7}") of the ids that get(source) gives (an integer
 * or a decimal string; others are skipped), each once; *n their number. */
char *gql_ids_literal(const json_t *sources, const json_t *(*get)(const json_t *source), size_t *n);
/* An id member as text (an integer or a string), "" when it is neither. */
void gql_id_text(const json_t *v, char out[24]);

/* The resolvers of graphql_batch.c and graphql_products.c. */
void gql_product_variants(struct gql_field_call *call);
void gql_product_category(struct gql_field_call *call);
void gql_category_parent(struct gql_field_call *call);
void gql_category_children(struct gql_field_call *call);
json_t *gql_query_products(struct gql_field_call *call);
void gql_category_products(struct gql_field_call *call);
void gql_connection_total(struct gql_field_call *call);

#endif
