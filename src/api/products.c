/*
 * products.c -- the product endpoints.
 *
 * Reads: anyone sees active products; staff also see inactive ones (lists
 * only with include_inactive=true). Soft-deleted products are 404 for
 * everyone. Writes (staff, by the route table) run in a transaction that
 * locks the row first, so If-Match is compared against the version being
 * replaced: of concurrent writers with the same tag exactly one wins.
 */
#include "nexus/api/products.h"

#include "nexus/api/common.h"
#include "nexus/api/fields.h"
#include "nexus/api/listing.h"
#include "nexus/api/product_filters.h"
#include "nexus/api/variant_write.h"
#include "nexus/db/categories.h"
#include "nexus/db/facets.h"
#include "nexus/db/products.h"
#include "nexus/db/variants.h"
#include "nexus/core/config.h"
#include "nexus/http/problem.h"
#include "nexus/model/product.h"
#include "nexus/model/variant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PRODUCT_SORTS[] = {"created_at", "-created_at", "price",
                                            "-price",     "name",        "-name"};
const struct list_spec api_product_list = {"products", PRODUCT_SORTS, 6, 1};

bool api_is_staff(const struct request *req) {
    return req->principal.role >= ACCESS_STAFF;
}

int api_product_sort_column(size_t sort) {
    return sort < 2 ? PC_CREATED_AT : sort < 4 ? PC_PRICE_CENTS : PC_SORT_NAME;
}

/* The page's rows as one JSON array, written straight from the result. */
static char *page_items(PGresult *r, int count, bool staff, size_t *len) {
    struct jsonw w = {0};
    jsonw_array_open(&w);
    for (int i = 0; i < count; i++)
        product_write_json(&w, r, i, staff);
    jsonw_array_close(&w);
    return jsonw_take(&w, len);
}

/* A search counts one match past SEARCH_TOTAL_CAP: reaching it means the
 * total is only known to be at least the cap. Other lists count all,
 * unless the counts kept with the writes hold the total. */
enum nx_err api_products_total(struct db *db, const struct product_filter *f, long long *total,
                               bool *capped) {
    long long cap = f->pattern_count ? nx_config->search_total_cap : 0;
    bool known = false;
    enum nx_err e = facets_kept_total(db, f, &known, total);
    if (e == NX_OK && !known)
        e = products_count(db, f, cap ? cap + 1 : 0, total);
    *capped = e == NX_OK && cap && *total > cap;
    if (*capped)
        *total = cap;
    return e;
}

static enum nx_err list_page(struct request *req, struct response *res, struct db *db,
                             struct product_query *q, const struct list_request *lr,
                             const struct fields_choice *fields) {
    PGresult *r = NULL;
    long long total = lr->include_total ? 0 : -1;
    char after_id[24];
    snprintf(after_id, sizeof after_id, "%lld", (long long)lr->after.id);
    if (q->matches_nothing) {
        list_respond_written(res, "[]", 2, NULL, total, false);
        return NX_OK;
    }
    enum nx_err e =
        products_list(db, &q->filter, (enum product_sort)lr->sort,
                      lr->has_cursor ? lr->after.value : NULL, after_id, lr->limit_plus_one, &r);
    bool capped = false;
    if (e == NX_OK && lr->include_total)
        e = api_products_total(db, &q->filter, &total, &capped);
    if (e == NX_OK) {
        int rows = PQntuples(r), shown = rows > lr->limit ? lr->limit : rows;
        char *next = NULL;
        if (rows > lr->limit)
            next = list_cursor(&api_product_list, lr, q->canonical.data,
                               PQgetvalue(r, shown - 1, api_product_sort_column(lr->sort)),
                               strtoll(PQgetvalue(r, shown - 1, PC_ID), NULL, 10));
        size_t len;
        char *items = page_items(r, shown, api_is_staff(req), &len);
        api_fields_apply(fields, &items, &len);
        list_respond_written(res, items, len, next, total, capped);
        free(items);
    }
    PQclear(r);
    return e;
}

enum nx_err api_products_list(struct request *req, struct response *res) {
    struct product_query q;
    struct list_request lr;
    struct fields_choice fields;
    struct db *db = NULL;
    enum nx_err e = api_fields_parse(req, product_field_names, product_field_count, &fields);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e != NX_OK)
        return e;
    e = product_query_parse(req, db, api_is_staff(req), &q);
    if (e == NX_OK)
        e = list_parse(req, &api_product_list, q.canonical.data ? q.canonical.data : "", &lr);
    if (e == NX_OK)
        e = list_page(req, res, db, &q, &lr, &fields);
    product_query_clear(&q);
    return e;
}

/* Whether the product of an item or product result is there for the
 * caller: live, and active unless the caller is staff. */
static bool visible(const struct request *req, const PGresult *r) {
    return PQntuples(r) > 0 && (PQgetvalue(r, 0, PC_IS_ACTIVE)[0] == 't' || api_is_staff(req));
}

/* The product's item result: one statement for the product and the
 * variants the caller may see; with lock, its row locked. */
static enum nx_err load_item(struct request *req, struct db *db, const char *id, bool lock,
                             PGresult **r) {
    enum nx_err e = products_get_item(db, id, api_is_staff(req), lock, r);
    if (e == NX_OK && !visible(req, *r))
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such product");
    return e;
}

enum nx_err api_product_item(struct request *req, struct db *db, const char *id, char **body,
                             size_t *len) {
    PGresult *r = NULL;
    enum nx_err e = load_item(req, db, id, false, &r);
    if (e == NX_OK)
        *body = product_item_json(r, api_is_staff(req), len);
    PQclear(r);
    return e;
}

enum nx_err api_product_visible(struct request *req, struct db *db, const char *id, bool lock,
                                PGresult **r) {
    enum nx_err e = products_get(db, id, lock, r);
    if (e != NX_OK)
        return e;
    return visible(req, *r) ? NX_OK : problem_detail(req, NX_ERR_NOT_FOUND, "no such product");
}

enum nx_err api_product_missing_first(struct request *req, struct db *db, const char *id,
                                      enum nx_err e) {
    PGresult *r = NULL;
    enum nx_err found = e == NX_ERR_VALIDATION ? api_product_visible(req, db, id, false, &r) : e;
    PQclear(r);
    return found == NX_ERR_NOT_FOUND ? found : e;
}

enum nx_err api_products_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    struct fields_choice fields;
    char id[24], *body = NULL;
    size_t len;
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_fields_parse(req, product_field_names, product_field_count, &fields);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = api_product_item(req, db, id, &body, &len);
    if (e == NX_OK) {
        api_fields_apply(&fields, &body, &len);
        api_respond_tagged_body(res, 200, body, len);
    }
    return e;
}

/* The slug to store: the given one, or (create and replace) one derived
 * from the name that no other live product holds. PATCH keeps the stored
 * slug unless it sends one: renaming keeps the slug. */
static const struct slug_table PRODUCT_SLUGS = {"products", products_slugs_among,
                                                "products_slug_key"};

/* Name the field behind a constraint violation; a variant's fields after
 * variant_prefix (see create_with_variants). */
static enum nx_err write_conflict_at(struct request *req, struct db *db, enum nx_err e,
                                     const char *variant_prefix) {
    const char *constraint = db_constraint(db);
    if (e == NX_ERR_CONFLICT && strcmp(constraint, "products_slug_key") == 0)
        return problem_conflict(req, "slug", "already exists");
    if (e == NX_ERR_CONFLICT && strcmp(db_sqlstate(db), "23503") == 0)
        return problem_field(req, "category_id", "no such category");
    return api_variant_conflict_at(req, db, e, variant_prefix);
}

static enum nx_err write_conflict(struct request *req, struct db *db, enum nx_err e) {
    return write_conflict_at(req, db, e, "");
}

struct product_write {
    struct product_input *in;
    const char *id; /* NULL: insert */
    PGresult **r;
};

static enum nx_err write_row(struct db *db, const char *slug, void *ctx) {
    struct product_write *w = ctx;
    if (slug)
        w->in->slug = slug;
    return w->id ? products_update(db, w->id, w->in, w->r) : products_insert(db, w->in, w->r);
}

/* Insert (id NULL) or update inside the caller's transaction. */
static enum nx_err write_product(struct request *req, struct db *db, struct product_input *in,
                                 enum product_mode mode, const char *id, PGresult **r) {
    struct product_write w = {in, id, r};
    if (in->slug || mode == PRODUCT_PATCH)
        return write_row(db, NULL, &w);
    char base[NX_SLUG_MAX + 2];
    if (!slug_from_name(in->name, base, NX_SLUG_MAX))
        return problem_field(req, "slug", "cannot be derived from this name; give one");
    return api_write_derived_slug(db, &PRODUCT_SLUGS, base, id, in->derived_slug, write_row, &w);
}

/* The body of a create's "variants", in order (positions 1..n), and the
 * product's derived columns from them; *failed is the index of a variant
 * whose insert failed. */
static enum nx_err insert_variants(struct db *db, const char *product_id, struct variant_input *v,
                                   size_t n, size_t *failed) {
    enum nx_err e = NX_OK;
    for (size_t i = 0; i < n && e == NX_OK; i++) {
        snprintf(v[i].position, sizeof v[i].position, "%zu", i + 1);
        v[i].has_position = true;
        e = variants_insert(db, product_id, &v[i], NULL);
        *failed = i;
    }
    return e == NX_OK ? variants_derive(db, product_id, false) : e;
}

/* A create with "variants": the product row takes the first variant's sku
 * and price until variants_derive replaces them with what they derive.
 * On a failure, *failed is the index of the variant at fault (the first,
 * whose sku the product row carried, until the variants are inserted). */
static enum nx_err create_with_variants(struct request *req, struct db *db,
                                        struct product_input *in, struct variant_input *v, size_t n,
                                        PGresult **r, size_t *failed) {
    in->sku = v[0].sku;
    memcpy(in->price_cents, v[0].price_cents, sizeof in->price_cents);
    snprintf(in->stock, sizeof in->stock, "0");
    *failed = 0;
    enum nx_err e = variants_explicit(db, true);
    if (e == NX_OK)
        e = write_product(req, db, in, PRODUCT_CREATE, NULL, r);
    if (e == NX_OK)
        e = variants_explicit(db, false);
    char id[24];
    if (e == NX_OK) {
        snprintf(id, sizeof id, "%s", PQgetvalue(*r, 0, PC_ID));
        PQclear(*r);
        *r = NULL;
        e = insert_variants(db, id, v, n, failed);
    }
    if (e == NX_OK)
        e = products_get(db, id, false, r);
    return e;
}

/* The SKUs a create gives (db/variants): the product's one, or each of
 * its variants', the product's row taking the first. */
static enum nx_err lock_new_skus(struct db *db, const struct product_input *in,
                                 const struct variant_input *v, size_t n) {
    if (!in->variants)
        return variants_lock_sku(db, in->sku);
    const char **skus = xcalloc(n ? n : 1, sizeof *skus);
    for (size_t i = 0; i < n; i++)
        skus[i] = v[i].sku;
    enum nx_err e = variants_lock_skus(db, skus, n);
    free(skus);
    return e;
}

enum nx_err api_products_create(struct request *req, struct response *res) {
    struct product_input in;
    struct variant_input *variants = NULL;
    size_t variant_count = 0, len = 0, failed = 0;
    struct db *db = NULL;
    PGresult *r = NULL;
    char *body = NULL;
    enum nx_err e = product_input_parse(&req->field_errors, req->json, PRODUCT_CREATE, &in);
    if (in.variants &&
        variant_inputs_parse(&req->field_errors, in.variants, &variants, &variant_count) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (e == NX_ERR_VALIDATION && in.has_category && in.category_id[0] && api_db(req, &db) == NX_OK)
        e = api_name_unknown_category(req, db, "category_id", in.category_id, e);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = lock_new_skus(db, &in, variants, variant_count);
    if (e == NX_OK)
        e = in.variants ? create_with_variants(req, db, &in, variants, variant_count, &r, &failed)
                        : write_product(req, db, &in, PRODUCT_CREATE, NULL, &r);
    if (e == NX_OK)
        e = api_product_item(req, db, PQgetvalue(r, 0, PC_ID), &body, &len);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK) {
        char location[64];
        snprintf(location, sizeof location, "/api/v1/products/%s", PQgetvalue(r, 0, PC_ID));
        api_respond_tagged_body(res, 201, body, len);
        body = NULL;
        response_header(res, "Location", location);
    }
    free(body);
    variant_inputs_free(variants, variant_count);
    if (db)
        db_rollback(db);
    PQclear(r);
    char prefix[32] = "";
    if (in.variants)
        snprintf(prefix, sizeof prefix, "variants[%zu].", failed);
    product_input_clear(&in);
    return e == NX_OK || !db ? e : write_conflict_at(req, db, e, prefix);
}

/* If-Match and If-None-Match against the product's item as it is now
 * (r: its item result). */
static enum nx_err check_preconditions(struct request *req, const PGresult *r) {
    size_t len;
    char etag[NX_ETAG_LEN + 1], *current = product_item_json(r, api_is_staff(req), &len);
    etag_of(current, len, etag);
    free(current);
    return api_check_if_match(req, etag);
}

/* Open a transaction, lock the product and check If-Match against what it
 * is now (its item, variants included), in one statement. *now (may be
 * NULL) receives that item result (the product's columns on its first
 * row), owned by the caller. */
static enum nx_err lock_for_write(struct request *req, struct db *db, const char *id,
                                  PGresult **now) {
    PGresult *r = NULL;
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = load_item(req, db, id, true, &r);
    bool deleted = false;
    if (e == NX_ERR_NOT_FOUND && request_header(req, "If-Match") &&
        products_was_deleted(db, id, &deleted) == NX_OK)
        e = api_if_match_deleted(req, e, deleted);
    if (e == NX_OK)
        e = check_preconditions(req, r);
    if (e == NX_OK && now) {
        *now = r;
        r = NULL;
    }
    PQclear(r);
    return e;
}

/* The product's live variants and the first of them, under the lock. A
 * staff caller's locked item holds them all, in order, and the row their
 * count (a write needs staff; another caller asks the database). */
static enum nx_err live_variants(struct request *req, struct db *db, const char *id,
                                 const PGresult *product, long long *live, char first[24]) {
    if (!api_is_staff(req))
        return variants_count(db, id, live, first);
    *live = strtoll(PQgetvalue(product, 0, PC_VARIANT_COUNT), NULL, 10);
    snprintf(first, 24, "%s", PQgetvalue(product, 0, PC_ITEM_VARIANT + VC_ID));
    return NX_OK;
}

/* sku, price and stock of a replace or patch go to the product's one live
 * variant (and nowhere else: the product derives them), or are a 422. */
static enum nx_err write_own_variant(struct request *req, struct db *db, const char *id,
                                     struct product_input *in, enum product_mode mode,
                                     const PGresult *product) {
    long long live = 0;
    char first[24];
    enum nx_err e = live_variants(req, db, id, product, &live, first);
    if (e == NX_OK)
        e = product_variant_fields(&req->field_errors, in, mode, live);
    if (e != NX_OK || !(in->sku || in->has_price || in->has_stock))
        return e;
    struct variant_input v = {
        .sku = in->sku, .has_price = in->has_price, .has_stock = in->has_stock};
    memcpy(v.price_cents, in->price_cents, sizeof v.price_cents);
    memcpy(v.stock, in->stock, sizeof v.stock);
    in->sku = NULL;
    in->has_price = in->has_stock = false;
    /* a low-stock alert names the product as this write leaves it */
    const char *name = in->name ? in->name : PQgetvalue(product, 0, PC_NAME);
    return api_variant_write(req, db, id, first, &v, name, NULL);
}

/* The sku, price and stock rules, checked before the row is locked so
 * that a 422 names every field at fault at once (write_own_variant checks
 * again under the lock). A product with no live variant is not there: the
 * lock answers 404. e: the body's validation so far. */
static enum nx_err precheck_variant_fields(struct request *req, struct db *db, const char *id,
                                           const struct product_input *in, enum product_mode mode,
                                           enum nx_err e) {
    long long live = 0;
    char first[24];
    enum nx_err c = variants_count(db, id, &live, first);
    if (c != NX_OK)
        return c;
    if (live > 0 && product_variant_fields(&req->field_errors, in, mode, live) != NX_OK)
        return NX_ERR_VALIDATION;
    return e;
}

/* The product row, once its variant took sku, price and stock: its fields,
 * then what it derives; a PATCH that gave nothing else (a stock update)
 * writes the row once, as its derivation, touched so that version and
 * updated_at move as for any write. */
static enum nx_err write_row_and_derive(struct request *req, struct db *db,
                                        struct product_input *in, enum product_mode mode,
                                        const char *id, PGresult **r) {
    if (mode == PRODUCT_PATCH && !product_input_writes_row(in))
        return variants_derive(db, id, true);
    enum nx_err e = write_product(req, db, in, mode, id, r);
    return e == NX_OK ? variants_derive(db, id, false) : e;
}

/* A body at fault with a precondition that fails is answered 412, as a
 * valid one would be (RFC 9110 13.2.1: preconditions come before the
 * content). Only a refused body pays this read; a valid write checks
 * under its lock. e: the body's validation. */
static enum nx_err preconditions_first(struct request *req, struct db *db, const char *id,
                                       enum nx_err e) {
    if (e != NX_ERR_VALIDATION || !api_has_preconditions(req))
        return e;
    PGresult *r = NULL;
    bool deleted = false;
    enum nx_err c = products_get_item(db, id, api_is_staff(req), false, &r);
    if (c == NX_OK && visible(req, r))
        c = check_preconditions(req, r);
    else if (c == NX_OK && products_was_deleted(db, id, &deleted) == NX_OK)
        c = api_if_match_deleted(req, NX_ERR_NOT_FOUND, deleted);
    PQclear(r);
    return c == NX_ERR_PRECONDITION ? c : e;
}

static enum nx_err update(struct request *req, struct response *res, enum product_mode mode) {
    struct product_input in = {0};
    struct db *db = NULL;
    PGresult *r = NULL, *before = NULL;
    char id[24], *body = NULL;
    size_t len = 0;
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_body_faults(req, product_input_parse(&req->field_errors, req->json, mode, &in));
    if (e == NX_OK || e == NX_ERR_VALIDATION) {
        enum nx_err d = api_db(req, &db);
        e = d == NX_OK ? precheck_variant_fields(req, db, id, &in, mode, e) : d;
        if (d == NX_OK)
            e = api_name_unknown_category(req, db, "category_id",
                                          in.has_category ? in.category_id : "", e);
    }
    if (db)
        e = api_product_missing_first(req, db, id, preconditions_first(req, db, id, e));
    bool nothing = mode == PRODUCT_PATCH && api_patch_is_empty(req);
    if (e == NX_OK)
        e = lock_for_write(req, db, id, &before);
    if (e == NX_OK && !nothing)
        e = write_own_variant(req, db, id, &in, mode, before);
    if (e == NX_OK && !nothing)
        e = write_row_and_derive(req, db, &in, mode, id, &r);
    if (e == NX_OK)
        e = api_product_item(req, db, id, &body, &len);
    if (e == NX_OK && !nothing)
        e = db_commit(db);
    if (e == NX_OK) {
        api_respond_tagged_body(res, 200, body, len);
        body = NULL;
    }
    free(body);
    res->unchanged = nothing;
    if (db)
        db_rollback(db);
    PQclear(r);
    PQclear(before);
    product_input_clear(&in);
    return e == NX_OK || !db ? e : write_conflict(req, db, e);
}

enum nx_err api_products_replace(struct request *req, struct response *res) {
    return update(req, res, PRODUCT_REPLACE);
}

enum nx_err api_products_patch(struct request *req, struct response *res) {
    return update(req, res, PRODUCT_PATCH);
}

enum nx_err api_products_delete(struct request *req, struct response *res) {
    struct db *db = NULL;
    char id[24];
    bool deleted = false;
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = lock_for_write(req, db, id, NULL);
    if (e == NX_OK)
        e = products_delete(db, id, &deleted);
    e = api_commit_empty(db, res, 204, e);
    return e;
}
