/*
 * variants.c -- the variant endpoints.
 *
 * Reads: anyone sees the active variants of a product they may see; staff
 * also see inactive ones. Writes (staff) lock the product row first, so
 * the rules over a product's variants (at most 100 live ones, one set of
 * option names, never none) hold under concurrent writes, and recompute
 * the product's derived fields (sku, price, stock, ...) in the same
 * transaction. SKU and option uniqueness are the database's indexes.
 */
#include "nexus/api/variants.h"
#include "nexus/api/variant_write.h"

#include "nexus/api/common.h"
#include "nexus/api/products.h"
#include "nexus/db/variants.h"
#include "nexus/http/problem.h"
#include "nexus/model/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The product and variant ids of the path; 404 when either is no id. */
static enum nx_err path_ids(struct request *req, char product_id[24], char id[24]) {
    enum nx_err e = api_path_id(req, 0, product_id);
    return e == NX_OK && id ? api_path_id(req, 1, id) : e;
}

/* Open a transaction and lock the product (which the caller may see). */
static enum nx_err lock_product(struct request *req, struct db *db, const char *product_id,
                                PGresult **product) {
    enum nx_err e = db_begin(db);
    return e == NX_OK ? api_product_visible(req, db, product_id, true, product) : e;
}

/* A live variant the caller may see, into *r; 404 otherwise. */
static enum nx_err load_variant(struct request *req, struct db *db, const char *product_id,
                                const char *id, bool lock, PGresult **r) {
    enum nx_err e = variants_get(db, product_id, id, lock, r);
    if (e != NX_OK)
        return e;
    bool visible =
        PQntuples(*r) == 1 && (PQgetvalue(*r, 0, VC_IS_ACTIVE)[0] == 't' || api_is_staff(req));
    return visible ? NX_OK : problem_detail(req, NX_ERR_NOT_FOUND, "no such variant");
}

/* If-Match against the variant as it is now. */
static enum nx_err check_if_match(struct request *req, const PGresult *r) {
    size_t len;
    char etag[NX_ETAG_LEN + 1], *current = variant_json(r, 0, &len);
    etag_of(current, len, etag);
    free(current);
    return api_check_if_match(req, etag);
}

/* A variant not found (e) by a write with If-Match: a 412 when it, or
 * its product, was deleted (a concurrent DELETE won), else e. */
static enum nx_err deleted_if_matched(struct request *req, struct db *db, const char *product_id,
                                      const char *id, enum nx_err e) {
    bool deleted = false;
    if (e == NX_ERR_NOT_FOUND && id && request_header(req, "If-Match") &&
        variants_was_deleted(db, product_id, id, &deleted) == NX_OK)
        return api_if_match_deleted(req, e, deleted);
    return e;
}

/* A missing product or variant (id NULL: none asked) is a 404 before the
 * body's errors (see api_product_missing_first), and so is a failed
 * precondition a 412 (RFC 9110 13.2.1); a valid write checks it under
 * its lock. */
static enum nx_err missing_first(struct request *req, struct db **db, const char *product_id,
                                 const char *id, enum nx_err e) {
    if (e != NX_ERR_VALIDATION)
        return e;
    enum nx_err d = api_db(req, db);
    if (d != NX_OK)
        return d;
    enum nx_err found = api_product_missing_first(req, *db, product_id, e);
    PGresult *r = NULL;
    if (found == e && id)
        found = load_variant(req, *db, product_id, id, false, &r);
    if (found == NX_OK && api_has_preconditions(req))
        found = check_if_match(req, r);
    PQclear(r);
    found = deleted_if_matched(req, *db, product_id, id, found);
    return found == NX_OK ? e : found;
}

/* After a variant write: the product's derived columns, and the product
 * itself touched (version and updated_at move) even when nothing it
 * derives changed, so that its ETag changes with any of its variants, for
 * the public too (an inactive variant's stock shows nowhere else). */
static enum nx_err rederive_product(struct db *db, const char *product_id) {
    return variants_derive(db, product_id, true);
}

static void respond_variant(struct response *res, unsigned status, const PGresult *r) {
    size_t len;
    char *body = variant_json(r, 0, &len);
    api_respond_tagged_body(res, status, body, len);
}

/* The product and the variant locked for a write and checked against
 * If-Match; one deleted meanwhile (a concurrent DELETE won) fails it too. */
static enum nx_err lock_for_write(struct request *req, struct db *db, const char *product_id,
                                  const char *id, PGresult **product, PGresult **r) {
    enum nx_err e = lock_product(req, db, product_id, product);
    if (e == NX_OK)
        e = load_variant(req, db, product_id, id, true, r);
    e = deleted_if_matched(req, db, product_id, id, e);
    return e == NX_OK ? check_if_match(req, *r) : e;
}

/* All live variants of a product have one set of option names, each
 * spelled one way: in->options takes the other variants' spelling. With
 * no other live variant (a PATCH of the only one), its spelling is the
 * write's own. */
static enum nx_err agree_option_names(struct request *req, struct db *db, const char *product_id,
                                      const char *except_id, struct variant_input *in) {
    bool other = false;
    char *reference = NULL;
    enum nx_err e =
        variants_other_option_names(db, product_id, except_id, in->options, &other, &reference);
    if (e == NX_OK && other)
        e = problem_field(req, "options",
                          "must name the same options as the product's other variants");
    if (e == NX_OK)
        variant_options_spell_as(in, reference);
    free(reference);
    return e;
}

/* For a read: the path's ids, the connection, and the product, which the
 * caller must be allowed to see. */
static enum nx_err open_product(struct request *req, char product_id[24], char *id, struct db **db,
                                PGresult **product) {
    enum nx_err e = path_ids(req, product_id, id);
    if (e == NX_OK)
        e = api_db(req, db);
    return e == NX_OK ? api_product_visible(req, *db, product_id, false, product) : e;
}

enum nx_err api_variants_list(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *product = NULL, *r = NULL;
    char product_id[24];
    enum nx_err e = open_product(req, product_id, NULL, &db, &product);
    if (e == NX_OK)
        e = variants_list(db, product_id, api_is_staff(req), &r);
    if (e == NX_OK) {
        struct jsonw w = {0};
        size_t len;
        jsonw_object_open(&w);
        jsonw_key(&w, "items");
        jsonw_array_open(&w);
        for (int i = 0; i < PQntuples(r); i++)
            variant_write_json(&w, r, i);
        jsonw_array_close(&w);
        jsonw_object_close(&w);
        char *body = jsonw_take(&w, &len);
        response_take(res, 200, "application/json", body, len);
    }
    PQclear(product);
    PQclear(r);
    return e;
}

enum nx_err api_variants_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *product = NULL, *r = NULL;
    char product_id[24], id[24];
    enum nx_err e = open_product(req, product_id, id, &db, &product);
    if (e == NX_OK)
        e = load_variant(req, db, product_id, id, false, &r);
    if (e == NX_OK)
        respond_variant(res, 200, r);
    PQclear(product);
    PQclear(r);
    return e;
}

/* Room for one more live variant, with the same option names (spelled as
 * the product's). */
static enum nx_err check_new_variant(struct request *req, struct db *db, const char *product_id,
                                     struct variant_input *in) {
    long long live = 0;
    char first[24];
    enum nx_err e = variants_count(db, product_id, &live, first);
    if (e == NX_OK && live >= NX_VARIANTS_MAX)
        return problem_field(req, "variants", "a product has at most 100 live variants");
    return e == NX_OK ? agree_option_names(req, db, product_id, NULL, in) : e;
}

enum nx_err api_variants_create(struct request *req, struct response *res) {
    struct variant_input in;
    struct db *db = NULL;
    PGresult *product = NULL, *r = NULL;
    char product_id[24];
    enum nx_err e = path_ids(req, product_id, NULL);
    if (e == NX_OK)
        e = api_body_faults(
            req, variant_input_parse(&req->field_errors, req->json, VARIANT_CREATE, "", &in));
    else
        memset(&in, 0, sizeof in);
    e = missing_first(req, &db, product_id, NULL, e);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = lock_product(req, db, product_id, &product);
    if (e == NX_OK)
        e = check_new_variant(req, db, product_id, &in);
    if (e == NX_OK)
        e = variants_lock_sku(db, in.sku);
    if (e == NX_OK)
        e = variants_insert(db, product_id, &in, &r);
    if (e == NX_OK)
        e = rederive_product(db, product_id);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK) {
        char location[96];
        snprintf(location, sizeof location, "/api/v1/products/%s/variants/%s", product_id,
                 PQgetvalue(r, 0, VC_ID));
        respond_variant(res, 201, r);
        response_header(res, "Location", location);
    }
    if (db)
        db_rollback(db);
    variant_input_clear(&in);
    PQclear(product);
    PQclear(r);
    return e == NX_OK || !db ? e : api_variant_conflict(req, db, e);
}

enum nx_err api_variants_patch(struct request *req, struct response *res) {
    struct variant_input in;
    struct db *db = NULL;
    PGresult *product = NULL, *r = NULL;
    char product_id[24], id[24];
    memset(&in, 0, sizeof in);
    enum nx_err e = path_ids(req, product_id, id);
    if (e == NX_OK)
        e = api_body_faults(
            req, variant_input_parse(&req->field_errors, req->json, VARIANT_PATCH, "", &in));
    e = missing_first(req, &db, product_id, id, e);
    if (e == NX_OK)
        e = api_db(req, &db);
    bool nothing = api_patch_is_empty(req);
    if (e == NX_OK)
        e = lock_for_write(req, db, product_id, id, &product, &r);
    if (e == NX_OK && !nothing && in.options)
        e = agree_option_names(req, db, product_id, id, &in);
    if (e == NX_OK && !nothing) {
        PQclear(r);
        r = NULL;
        e = api_variant_write(req, db, product_id, id, &in, PQgetvalue(product, 0, PC_NAME), &r);
    }
    if (e == NX_OK && !nothing)
        e = rederive_product(db, product_id);
    if (e == NX_OK && !nothing)
        e = db_commit(db);
    if (e == NX_OK)
        respond_variant(res, 200, r);
    res->unchanged = nothing;
    if (db)
        db_rollback(db);
    variant_input_clear(&in);
    PQclear(product);
    PQclear(r);
    return e == NX_OK || !db ? e : api_variant_conflict(req, db, e);
}

enum nx_err api_variants_delete(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *product = NULL, *r = NULL;
    char product_id[24], id[24], first[24];
    long long live = 0;
    enum nx_err e = path_ids(req, product_id, id);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = lock_for_write(req, db, product_id, id, &product, &r);
    if (e == NX_OK)
        e = variants_count(db, product_id, &live, first);
    if (e == NX_OK && live <= 1) {
        problem_detail(req, NX_ERR_CONFLICT,
                       "a product keeps at least one live variant: this is its last");
        e = problem_conflict(req, "id", "is the product's last live variant");
    }
    if (e == NX_OK)
        e = variants_delete(db, product_id, id);
    if (e == NX_OK)
        e = rederive_product(db, product_id);
    e = api_commit_empty(db, res, 204, e);
    PQclear(product);
    PQclear(r);
    return e;
}
