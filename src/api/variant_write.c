/*
 * variant_write.c -- the variant write that product and variant endpoints
 * share, and the 409s of variant constraints.
 */
#include "nexus/api/variant_write.h"

#include "nexus/core/config.h"
#include "nexus/db/variants.h"
#include "nexus/http/problem.h"
#include "nexus/jobs/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The field of a write that took the product's stock past the range of
 * its column: a create's variants together (prefix given: the sum is no
 * one variant's doing), else the body's stock, else (a PATCH that only
 * activates a variant) its is_active. */
static const char *stock_total_field(const struct request *req, const char *prefix) {
    if (*prefix)
        return "variants";
    bool activates = json_is_true(json_object_get(req->json, "is_active"));
    return activates && !json_object_get(req->json, "stock") ? "is_active" : "stock";
}

/* products.stock (an integer, as the API's Stock is) is the sum over the
 * active variants, which nexus_product_derive casts to integer: a sum past
 * its range fails there with numeric_value_out_of_range, in the write's
 * transaction, so nothing of it is kept. */
static bool stock_total_passed(struct db *db, enum nx_err e) {
    return e == NX_ERR_VALIDATION && strcmp(db_sqlstate(db), "22003") == 0;
}

enum nx_err api_variant_conflict_at(struct request *req, struct db *db, enum nx_err e,
                                    const char *prefix) {
    if (stock_total_passed(db, e))
        return problem_field(req, stock_total_field(req, prefix),
                             "the product's stock (the sum over its active variants) would pass "
                             "2147483647");
    if (e != NX_ERR_CONFLICT)
        return e;
    const char *constraint = db_constraint(db);
    char field[48];
    if (strcmp(constraint, "product_variants_sku_key") == 0 ||
        strcmp(constraint, "products_sku_key") == 0) {
        snprintf(field, sizeof field, "%ssku", prefix);
        return problem_conflict(req, field, "already exists");
    }
    if (strcmp(constraint, "product_variants_options_key") == 0) {
        snprintf(field, sizeof field, "%soptions", prefix);
        return problem_conflict(req, field, "another variant of this product has the same options");
    }
    return e;
}

enum nx_err api_variant_conflict(struct request *req, struct db *db, enum nx_err e) {
    return api_variant_conflict_at(req, db, e, "");
}

/* A write that takes a variant's stock from at or above the threshold to
 * below it alerts staff, in the same transaction (once per such write). */
static enum nx_err alert_low_stock(struct db *db, long long before, const char *product_name,
                                   const PGresult *after) {
    long long threshold = nx_config->low_stock_threshold;
    long long stock = strtoll(PQgetvalue(after, 0, VC_STOCK), NULL, 10);
    if (!(before >= threshold && stock < threshold))
        return NX_OK;
    char key[128];
    snprintf(key, sizeof key, "low_stock:%s:%s:%s", PQgetvalue(after, 0, VC_PRODUCT_ID),
             PQgetvalue(after, 0, VC_ID), PQgetvalue(after, 0, VC_UPDATED_AT));
    json_t *payload =
        json_pack("{s:I, s:I, s:s, s:s, s:I, s:I}", "product_id",
                  (json_int_t)strtoll(PQgetvalue(after, 0, VC_PRODUCT_ID), NULL, 10), "variant_id",
                  (json_int_t)strtoll(PQgetvalue(after, 0, VC_ID), NULL, 10), "sku",
                  PQgetvalue(after, 0, VC_SKU), "name", product_name, "stock", (json_int_t)stock,
                  "threshold", (json_int_t)threshold);
    enum nx_err e =
        payload ? queue_enqueue(db, "low_stock_alert", payload, key, nx_config->job_max_attempts)
                : NX_ERR_INTERNAL;
    json_decref(payload);
    return e;
}

enum nx_err api_variant_write(struct request *req, struct db *db, const char *product_id,
                              const char *id, const struct variant_input *in,
                              const char *product_name, PGresult **out) {
    PGresult *before = NULL, *after = NULL;
    enum nx_err e = variants_get(db, product_id, id, true, &before);
    if (e == NX_OK && PQntuples(before) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such variant");
    if (e == NX_OK)
        e = variants_lock_sku(db, in->sku);
    if (e == NX_OK)
        e = variants_update(db, product_id, id, in, &after);
    if (e == NX_OK)
        e = alert_low_stock(db, strtoll(PQgetvalue(before, 0, VC_STOCK), NULL, 10), product_name,
                            after);
    if (e == NX_OK && out) {
        *out = after;
        after = NULL;
    }
    PQclear(before);
    PQclear(after);
    return e;
}
