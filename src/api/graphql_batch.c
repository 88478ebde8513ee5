/*
 * graphql_batch.c -- the rows under a level of parents, one statement per
 * level: Product.variants, Product.category, Category.parent and
 * Category.children (see graphql_catalog.h).
 */
#include "nexus/api/graphql_catalog.h"

#include "nexus/api/graphql_shape.h"
#include "nexus/db/categories.h"
#include "nexus/db/variants.h"

#include <stdlib.h>
#include <string.h>

typedef json_t *(*row_fn)(const PGresult *r, int row);

/* The rows of r by the id in column key_col: one object each, or, when
 * grouped, an array of the objects of each id. */
static json_t *index_rows(const PGresult *r, int key_col, row_fn row, bool grouped) {
    json_t *index = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *key = PQgetvalue(r, i, key_col);
        json_t *obj = row(r, i), *list = json_object_get(index, key);
        if (!grouped) {
            json_object_set_new(index, key, obj);
            continue;
        }
        if (!list)
            json_object_set_new(index, key, list = json_array());
        json_array_append_new(list, obj);
    }
    return index;
}

/* Store in each source's member what index holds under its key (a copy of
 * its own: the executor tells objects and lists apart by address), or
 * null / an empty list. */
static void store(json_t *sources, const char *member, const json_t *(*get)(const json_t *),
                  const json_t *index, bool grouped) {
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        char id[24];
        gql_id_text(get(s), id);
        const json_t *v = id[0] ? json_object_get(index, id) : NULL;
        json_object_set_new(s, member,
                            v         ? json_deep_copy(v)
                            : grouped ? json_array()
                                      : json_null());
    }
}

/* Load with fn over the literal of the sources' keys, index by key_col,
 * store in the call's member. */
static void load_level(struct gql_field_call *call, const json_t *(*get)(const json_t *),
                       enum nx_err (*fn)(struct gql_catalog *c, struct db *db, const char *ids,
                                         PGresult **r),
                       int key_col, row_fn row, bool grouped) {
    struct gql_catalog *c = call->ctx;
    struct db *db;
    PGresult *r = NULL;
    json_t *index = NULL;
    size_t n;
    char *ids = gql_ids_literal(call->sources, get, &n);
    enum nx_err e = n ? gql_catalog_db(c, &db) : NX_OK;
    if (e == NX_OK && n)
        e = fn(c, db, ids, &r);
    if (e == NX_OK) {
        index = r ? index_rows(r, key_col, row, grouped) : json_object();
        store(call->sources, call->member, get, index, grouped);
    } else {
        gql_catalog_fail(call, e, NULL);
    }
    json_decref(index);
    PQclear(r);
    free(ids);
}

static const json_t *own_id(const json_t *s) {
    return json_object_get(s, "id");
}

static const json_t *category_id(const json_t *s) {
    return json_object_get(json_object_get(s, "category"), "id");
}

static const json_t *parent_id(const json_t *s) {
    return json_object_get(s, "parentId");
}

static enum nx_err variants_of(struct gql_catalog *c, struct db *db, const char *ids,
                               PGresult **r) {
    return variants_list_many(db, ids, c->staff, r);
}

static enum nx_err categories_of(struct gql_catalog *c, struct db *db, const char *ids,
                                 PGresult **r) {
    (void)c;
    return categories_by_ids(db, ids, r);
}

static enum nx_err children_of(struct gql_catalog *c, struct db *db, const char *ids,
                               PGresult **r) {
    (void)c;
    return categories_children_many(db, ids, r);
}

static json_t *variant_row(const PGresult *r, int row) {
    return gql_variant_row(r, row);
}

void gql_product_variants(struct gql_field_call *call) {
    gql_product_ids(call->ctx, call->sources);
    load_level(call, own_id, variants_of, VC_PRODUCT_ID, variant_row, true);
}

/* What a product's row holds of its category (api/graphql_shape: the
 * list's statement joins them). */
static const char *const ROW_CATEGORY_FIELDS[] = {"id", "name", "slug", "__typename", NULL};

void gql_product_category(struct gql_field_call *call) {
    if (gql_field_selects_only(call, ROW_CATEGORY_FIELDS))
        return; /* the row's category answers them: no statement */
    gql_product_categories(call->ctx, call->sources, "category");
    load_level(call, category_id, categories_of, CC_ID, gql_category_row, false);
}

void gql_category_parent(struct gql_field_call *call) {
    load_level(call, parent_id, categories_of, CC_ID, gql_category_row, false);
}

void gql_category_children(struct gql_field_call *call) {
    load_level(call, own_id, children_of, CC_PARENT_ID, gql_category_row, true);
}
