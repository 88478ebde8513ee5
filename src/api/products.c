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
#include "nexus/db/products.h"
#include "nexus/core/config.h"
#include "nexus/http/problem.h"
#include "nexus/jobs/queue.h"
#include "nexus/model/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const PRODUCT_SORTS[] = {"created_at", "-created_at", "price",
                                            "-price",     "name",        "-name"};
static const struct list_spec PRODUCT_LIST = {"products", PRODUCT_SORTS, 6, 1};

/* Tries when a derived slug is taken between the check and the write. */
#define SLUG_ATTEMPTS 3

static bool is_staff(const struct request *req) {
    return req->principal.role >= ACCESS_STAFF;
}

static int sort_column(size_t sort) {
    return sort < 2 ? PC_CREATED_AT : sort < 4 ? PC_PRICE_CENTS : PC_SORT_NAME;
}

/* The page's rows as one JSON array, written straight from the result. */
static char *page_items(PGresult *r, int count, size_t *len) {
    struct jsonw w = {0};
    jsonw_array_open(&w);
    for (int i = 0; i < count; i++)
        product_write_json(&w, r, i);
    jsonw_array_close(&w);
    return jsonw_take(&w, len);
}

/* A search counts one match past SEARCH_TOTAL_CAP: reaching it means the
 * total is only known to be at least the cap. Other lists count all. */
static enum nx_err count_total(struct db *db, const struct product_filter *f, long long *total,
                               bool *capped) {
    long long cap = f->pattern_count ? nx_config->search_total_cap : 0;
    enum nx_err e = products_count(db, f, cap ? cap + 1 : 0, total);
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
        e = count_total(db, &q->filter, &total, &capped);
    if (e == NX_OK) {
        int rows = PQntuples(r), shown = rows > lr->limit ? lr->limit : rows;
        char *next = NULL;
        if (rows > lr->limit)
            next = list_cursor(&PRODUCT_LIST, lr, q->canonical.data,
                               PQgetvalue(r, shown - 1, sort_column(lr->sort)),
                               strtoll(PQgetvalue(r, shown - 1, PC_ID), NULL, 10));
        size_t len;
        char *items = page_items(r, shown, &len);
        api_fields_apply(fields, &items, &len);
        list_respond_written(res, items, len, next, total, capped);
        free(items);
    }
    (void)req;
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
    e = product_query_parse(req, db, is_staff(req), &q);
    if (e == NX_OK)
        e = list_parse(req, &PRODUCT_LIST, q.canonical.data ? q.canonical.data : "", &lr);
    if (e == NX_OK)
        e = list_page(req, res, db, &q, &lr, &fields);
    product_query_clear(&q);
    return e;
}

/* The product in the result's first row, with its ETag; fields (may be
 * NULL) chooses its members. */
static void respond_product(struct response *res, unsigned status, const PGresult *r,
                            const struct fields_choice *fields) {
    size_t len;
    char *body = product_json(r, 0, &len);
    if (fields)
        api_fields_apply(fields, &body, &len);
    api_respond_tagged_body(res, status, body, len);
}

/* Load a live product the caller may see; 404 otherwise. */
static enum nx_err load_visible(struct request *req, struct db *db, const char *id, bool lock,
                                PGresult **r) {
    enum nx_err e = products_get(db, id, lock, r);
    if (e != NX_OK)
        return e;
    bool visible =
        PQntuples(*r) == 1 && (PQgetvalue(*r, 0, PC_IS_ACTIVE)[0] == 't' || is_staff(req));
    return visible ? NX_OK : problem_detail(req, NX_ERR_NOT_FOUND, "no such product");
}

enum nx_err api_products_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    struct fields_choice fields;
    char id[24];
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = api_fields_parse(req, product_field_names, product_field_count, &fields);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = load_visible(req, db, id, false, &r);
    if (e == NX_OK)
        respond_product(res, 200, r, &fields);
    PQclear(r);
    return e;
}

/* The slug to store: the given one, or (create and replace) one derived
 * from the name that no other live product holds. PATCH keeps the stored
 * slug unless it sends one: renaming keeps the slug. */
static enum nx_err choose_slug(struct request *req, struct db *db, struct product_input *in,
                               const char *except_id) {
    char base[NX_SLUG_MAX + 2];
    if (!slug_from_name(in->name, base, NX_SLUG_MAX))
        return problem_field(req, "slug", "cannot be derived from this name; give one");
    enum nx_err e =
        api_unique_slug(db, "products", products_slugs_like, base, except_id, in->derived_slug);
    in->slug = in->derived_slug;
    return e;
}

/* Name the field behind a constraint violation. */
static enum nx_err write_conflict(struct request *req, struct db *db, enum nx_err e) {
    const char *constraint = db_constraint(db);
    if (e == NX_ERR_CONFLICT && strcmp(constraint, "products_sku_key") == 0)
        return problem_conflict(req, "sku", "already exists");
    if (e == NX_ERR_CONFLICT && strcmp(constraint, "products_slug_key") == 0)
        return problem_conflict(req, "slug", "already exists");
    if (e == NX_ERR_CONFLICT && strcmp(db_sqlstate(db), "23503") == 0)
        return problem_field(req, "category_id", "no such category");
    return e;
}

/*
 * Insert (id NULL) or update inside the caller's transaction. Writers that
 * derive the same slug are serialised (api_unique_slug), but a concurrent
 * write with that slug given explicitly can still take it: then roll back
 * to the savepoint and derive again.
 */
static enum nx_err write_product(struct request *req, struct db *db, struct product_input *in,
                                 enum product_mode mode, const char *id, PGresult **r) {
    bool derive = !in->slug && mode != PRODUCT_PATCH;
    enum nx_err e = NX_OK;
    for (int attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
        if ((e = db_exec_sql(db, "SAVEPOINT slug")) != NX_OK)
            break;
        if (derive && (e = choose_slug(req, db, in, id)) != NX_OK)
            break;
        e = id ? products_update(db, id, in, r) : products_insert(db, in, r);
        bool slug_race =
            e == NX_ERR_CONFLICT && derive && strcmp(db_constraint(db), "products_slug_key") == 0;
        if (!slug_race || attempt + 1 == SLUG_ATTEMPTS)
            break; /* the last failure keeps its constraint name for the 409 */
        if ((e = db_exec_sql(db, "ROLLBACK TO SAVEPOINT slug")) != NX_OK)
            break;
    }
    return e;
}

enum nx_err api_products_create(struct request *req, struct response *res) {
    struct product_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    enum nx_err e = product_input_parse(&req->field_errors, req->json, PRODUCT_CREATE, &in);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = write_product(req, db, &in, PRODUCT_CREATE, NULL, &r);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK) {
        char location[64];
        snprintf(location, sizeof location, "/api/v1/products/%s", PQgetvalue(r, 0, PC_ID));
        respond_product(res, 201, r, NULL);
        response_header(res, "Location", location);
    }
    if (db)
        db_rollback(db);
    PQclear(r);
    product_input_clear(&in);
    return e == NX_OK || !db ? e : write_conflict(req, db, e);
}

/* Open a transaction, lock the product and check If-Match against what it
 * is now. *stock (may be NULL) receives the stock before the write; *now
 * (may be NULL) the product's row as it is, owned by the caller. */
static enum nx_err lock_for_write(struct request *req, struct db *db, const char *id,
                                  long long *stock, PGresult **now) {
    PGresult *r = NULL;
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = load_visible(req, db, id, true, &r);
    if (e == NX_OK) {
        size_t len;
        char etag[NX_ETAG_LEN + 1], *current = product_json(r, 0, &len);
        etag_of(current, len, etag);
        free(current);
        e = api_check_if_match(req, etag);
        if (stock)
            *stock = strtoll(PQgetvalue(r, 0, PC_STOCK), NULL, 10);
    }
    if (e == NX_OK && now) {
        *now = r;
        r = NULL;
    }
    PQclear(r);
    return e;
}

/* A write that takes the stock from at or above the threshold to below it
 * alerts staff, in the same transaction (once per such write). */
static enum nx_err alert_low_stock(struct db *db, long long before, PGresult *after) {
    long long threshold = nx_config->low_stock_threshold;
    long long stock = strtoll(PQgetvalue(after, 0, PC_STOCK), NULL, 10);
    if (!(before >= threshold && stock < threshold))
        return NX_OK;
    char key[128];
    snprintf(key, sizeof key, "low_stock:%s:%s", PQgetvalue(after, 0, PC_ID),
             PQgetvalue(after, 0, PC_UPDATED_AT));
    json_t *payload = json_pack("{s:I, s:s, s:s, s:I, s:I}", "product_id",
                                (json_int_t)strtoll(PQgetvalue(after, 0, PC_ID), NULL, 10), "sku",
                                PQgetvalue(after, 0, PC_SKU), "name", PQgetvalue(after, 0, PC_NAME),
                                "stock", (json_int_t)stock, "threshold", (json_int_t)threshold);
    enum nx_err e =
        payload ? queue_enqueue(db, "low_stock_alert", payload, key, nx_config->job_max_attempts)
                : NX_ERR_INTERNAL;
    json_decref(payload);
    return e;
}

static enum nx_err update(struct request *req, struct response *res, enum product_mode mode) {
    struct product_input in = {0};
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24];
    long long stock_before = 0;
    enum nx_err e = api_path_id(req, 0, id);
    if (e == NX_OK)
        e = product_input_parse(&req->field_errors, req->json, mode, &in);
    if (e == NX_OK)
        e = api_db(req, &db);
    bool nothing = mode == PRODUCT_PATCH && api_patch_is_empty(req);
    if (e == NX_OK)
        e = lock_for_write(req, db, id, &stock_before, nothing ? &r : NULL);
    if (e == NX_OK && !nothing)
        e = write_product(req, db, &in, mode, id, &r);
    if (e == NX_OK && !nothing)
        e = alert_low_stock(db, stock_before, r);
    if (e == NX_OK && !nothing)
        e = db_commit(db);
    if (e == NX_OK)
        respond_product(res, 200, r, NULL);
    res->unchanged = nothing;
    if (db)
        db_rollback(db);
    PQclear(r);
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
        e = lock_for_write(req, db, id, NULL, NULL);
    if (e == NX_OK)
        e = products_delete(db, id, &deleted);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK)
        response_empty(res, 204);
    if (db)
        db_rollback(db);
    return e;
}
