/*
 * variants.c -- SQL for the product_variants table.
 *
 * The database holds the rules a race could break: SKUs unique among live
 * variants (product_variants_sku_key), options unique per product
 * (product_variants_options_key), stock never below zero. The handlers
 * lock the product row before any variant write, which serialises the
 * checks that read the product's other variants (option names, count).
 */
#include "nexus/db/variants.h"

#include "nexus/core/xmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VARIANT_FROM " FROM product_variants v JOIN products p ON p.id = v.product_id"

static struct db_stmt SQL_LIST = {"SELECT " NX_VARIANT_COLUMNS VARIANT_FROM
                                  " WHERE v.product_id = $1 AND v.deleted_at IS NULL"
                                  " AND (v.is_active OR $2::boolean) ORDER BY v.position, v.id",
                                  2, 0};
/* The variants of many products at once (a page of them): one statement
 * whatever their number. */
static struct db_stmt SQL_LIST_MANY = {"SELECT " NX_VARIANT_COLUMNS VARIANT_FROM
                                       " WHERE v.product_id = ANY ($1::bigint[])"
                                       " AND v.deleted_at IS NULL AND (v.is_active OR $2::boolean)"
                                       " ORDER BY v.product_id, v.position, v.id",
                                       2, 0};
static struct db_stmt SQL_GET = {"SELECT " NX_VARIANT_COLUMNS VARIANT_FROM
                                 " WHERE v.product_id = $1 AND v.id = $2 AND v.deleted_at IS NULL",
                                 2, 0};
static struct db_stmt SQL_GET_FOR_UPDATE = {
    "SELECT " NX_VARIANT_COLUMNS VARIANT_FROM
    " WHERE v.product_id = $1 AND v.id = $2 AND v.deleted_at IS NULL FOR UPDATE OF v",
    2, 0};
static struct db_stmt SQL_COUNT = {
    "SELECT count(*), (SELECT id FROM product_variants WHERE product_id = $1"
    " AND deleted_at IS NULL ORDER BY position, id LIMIT 1)"
    " FROM product_variants WHERE product_id = $1 AND deleted_at IS NULL",
    1, 0};
/* And the options of the first of the others, by position then id (as
 * the product's options summary spells the names): the spelling a write
 * takes. */
static struct db_stmt SQL_OTHER_NAMES = {
    "SELECT EXISTS (SELECT 1 FROM product_variants WHERE product_id = $1"
    " AND deleted_at IS NULL AND id IS DISTINCT FROM $2::bigint"
    " AND option_names <> nexus_option_names($3::jsonb)),"
    " (SELECT options FROM product_variants WHERE product_id = $1 AND deleted_at IS NULL"
    " AND id IS DISTINCT FROM $2::bigint ORDER BY position, id LIMIT 1)",
    3, 0};
/* Without a position, one after the last, but never past the last a
 * variant may take (NX_VARIANT_POSITION_MAX, the column's CHECK): ties
 * are ordered by id, so the new variant still comes last. */
static struct db_stmt SQL_INSERT = {
    "WITH v AS (INSERT INTO product_variants (product_id, sku, price_cents, stock, options,"
    " is_active, position) VALUES ($1, $2, $3::bigint, $4::integer, $5::jsonb,"
    " COALESCE($6::boolean, true), COALESCE($7::integer, (SELECT LEAST(COALESCE(max(position), 0)"
    " + 1, 1000000) FROM product_variants WHERE product_id = $1 AND deleted_at IS NULL)))"
    " RETURNING *)"
    " SELECT " NX_VARIANT_COLUMNS " FROM v JOIN products p ON p.id = v.product_id",
    7, 0};
static struct db_stmt SQL_UPDATE = {
    "WITH v AS (UPDATE product_variants SET sku = COALESCE($3, sku),"
    " price_cents = COALESCE($4::bigint, price_cents), stock = COALESCE($5::integer, stock),"
    " options = COALESCE($6::jsonb, options), is_active = COALESCE($7::boolean, is_active),"
    " position = COALESCE($8::integer, position)"
    " WHERE product_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING *)"
    " SELECT " NX_VARIANT_COLUMNS " FROM v JOIN products p ON p.id = v.product_id",
    8, 0};
static struct db_stmt SQL_DELETE = {"UPDATE product_variants SET deleted_at = now()"
                                    " WHERE product_id = $1 AND id = $2 AND deleted_at IS NULL",
                                    2, 0};
static struct db_stmt SQL_DERIVE = {"SELECT nexus_product_derive($1::bigint, $2::boolean)", 2, 0};
/* The two-key form with a negative first key: a key space of its own (the
 * other locks take one key, or an import's id, never negative, first). */
static struct db_stmt SQL_LOCK_SKUS = {
    "SELECT count(pg_advisory_xact_lock(-7350084, h))"
    " FROM (SELECT DISTINCT hashtext(s) AS h FROM unnest($1::text[]) s ORDER BY 1) o",
    1, 0};
static struct db_stmt SQL_EXPLICIT = {"SELECT set_config('nexus.explicit_variants', $1, true)", 1,
                                      0};

enum nx_err variants_list(struct db *db, const char *product_id, bool all, PGresult **out) {
    const char *params[] = {product_id, all ? "true" : "false"};
    return db_exec(db, &SQL_LIST, params, out);
}

enum nx_err variants_list_many(struct db *db, const char *product_ids, bool all, PGresult **out) {
    const char *params[] = {product_ids, all ? "true" : "false"};
    return db_exec(db, &SQL_LIST_MANY, params, out);
}

enum nx_err variants_get(struct db *db, const char *product_id, const char *id, bool lock,
                         PGresult **out) {
    const char *params[] = {product_id, id};
    return db_exec(db, lock ? &SQL_GET_FOR_UPDATE : &SQL_GET, params, out);
}

enum nx_err variants_count(struct db *db, const char *product_id, long long *live,
                           char first_id[24]) {
    const char *params[] = {product_id};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_COUNT, params, &r);
    if (e == NX_OK) {
        *live = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(first_id, 24, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return e;
}

enum nx_err variants_other_option_names(struct db *db, const char *product_id,
                                        const char *except_id, const char *options, bool *other,
                                        char **reference) {
    const char *params[] = {product_id, except_id, options};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_OTHER_NAMES, params, &r);
    *other = e == NX_OK && PQgetvalue(r, 0, 0)[0] == 't';
    *reference = e == NX_OK && !PQgetisnull(r, 0, 1) ? xstrdup(PQgetvalue(r, 0, 1)) : NULL;
    PQclear(r);
    return e;
}

enum nx_err variants_insert(struct db *db, const char *product_id, const struct variant_input *in,
                            PGresult **out) {
    const char *params[] = {product_id,
                            in->sku,
                            in->price_cents,
                            in->stock,
                            in->options ? in->options : "{}",
                            in->is_active,
                            in->has_position ? in->position : NULL};
    return db_exec(db, &SQL_INSERT, params, out);
}

enum nx_err variants_update(struct db *db, const char *product_id, const char *id,
                            const struct variant_input *in, PGresult **out) {
    const char *params[] = {product_id,
                            id,
                            in->sku,
                            in->has_price ? in->price_cents : NULL,
                            in->has_stock ? in->stock : NULL,
                            in->options,
                            in->is_active,
                            in->has_position ? in->position : NULL};
    return db_exec(db, &SQL_UPDATE, params, out);
}

enum nx_err variants_delete(struct db *db, const char *product_id, const char *id) {
    const char *params[] = {product_id, id};
    return db_exec(db, &SQL_DELETE, params, NULL);
}

static struct db_stmt SQL_WAS_DELETED = {
    "SELECT EXISTS (SELECT 1 FROM product_variants v JOIN products p ON p.id = v.product_id"
    " WHERE v.product_id = $1 AND v.id = $2"
    " AND (v.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL))",
    2, 0};

enum nx_err variants_was_deleted(struct db *db, const char *product_id, const char *id, bool *was) {
    const char *params[] = {product_id, id};
    return db_exec_bool(db, &SQL_WAS_DELETED, params, was);
}

enum nx_err variants_derive(struct db *db, const char *product_id, bool touch) {
    const char *params[] = {product_id, touch ? "true" : "false"};
    return db_exec(db, &SQL_DERIVE, params, NULL);
}

enum nx_err variants_explicit(struct db *db, bool on) {
    const char *params[] = {on ? "on" : "off"};
    return db_exec(db, &SQL_EXPLICIT, params, NULL);
}

enum nx_err variants_lock_sku_array(struct db *db, const char *skus) {
    const char *params[] = {skus};
    return skus && skus[0] ? db_exec(db, &SQL_LOCK_SKUS, params, NULL) : NX_OK;
}

enum nx_err variants_lock_skus(struct db *db, const char *const *skus, size_t n) {
    struct buf list = {0};
    for (size_t i = 0; i < n; i++)
        if (skus[i])
            db_text_array_add(&list, skus[i]);
    enum nx_err e = variants_lock_sku_array(db, list.data);
    buf_clear(&list);
    return e;
}

enum nx_err variants_lock_sku(struct db *db, const char *sku) {
    return variants_lock_skus(db, &sku, 1);
}
