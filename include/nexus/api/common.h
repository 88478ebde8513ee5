/*
 * common.h -- small helpers shared by the resource handlers.
 */
#ifndef NEXUS_API_COMMON_H
#define NEXUS_API_COMMON_H

#include "nexus/db/db.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <jansson.h>

/* This thread's database connection, or NX_ERR_UNAVAILABLE (503 with
 * Retry-After) recorded on the request. */
enum nx_err api_db(struct request *req, struct db **db);

/* The end of a write that answers with no body: when e is NX_OK, commit
 * and answer status; roll back whatever is still open (db may be NULL).
 * Returns the outcome. */
enum nx_err api_commit_empty(struct db *db, struct response *res, unsigned status, enum nx_err e);

/* Path parameter i as a positive id in text form; NX_ERR_NOT_FOUND when
 * it is not one (so "/users/abc" is a 404, like a missing row). */
enum nx_err api_path_id(struct request *req, size_t i, char out[24]);

/* 201 with the body and Location: <prefix><id>. obj is consumed. */
void api_created(struct response *res, json_t *obj, const char *location_prefix);

/* 200 with obj as the body; obj is consumed. */
void api_ok(struct response *res, json_t *obj);

/* True for a PATCH whose body names no field ({}): it changes nothing, so
 * the handler answers the current representation without writing, and
 * updated_at, the ETag and the cache stay as they are. */
bool api_patch_is_empty(const struct request *req);

/* Looks up which of the slugs of a text[] literal live rows hold, except
 * one row's own. */
typedef enum nx_err (*slug_lookup)(struct db *db, const char *slugs, const char *except_id,
                                   PGresult **out);

/* With a body's other fields invalid (e is NX_ERR_VALIDATION), a category
 * it names at field by id (id "": none) that does not exist is named with
 * them, one entry per bad field; a body valid otherwise finds it by the
 * write's foreign key. Returns e. */
enum nx_err api_name_unknown_category(struct request *req, struct db *db, const char *field,
                                      const char *id, enum nx_err e);

/* The write of a row whose slug is derived: given the slug, it writes
 * the row (slug stays valid until the call returns). */
typedef enum nx_err (*slug_write)(struct db *db, const char *slug, void *ctx);

/* A table's slugs: its name, how to look them up, their unique index. */
struct slug_table {
    const char *name;
    slug_lookup lookup;
    const char *unique_index;
};

/*
 * Writes a row with the first of base, base-2, base-3, ... that no other
 * row holds (except_id's own), into slug (NX_SLUG_MAX + 1 bytes). Call in
 * a transaction: writers deriving from the same base wait for each other
 * until commit. A writer deriving from another base ("Tea 2" is another's
 * tea-2) or giving the slug can still take it between the lookup and the
 * write: the write then waits for it and fails on the unique index, and
 * is undone to a savepoint and tried again with the slug that is now seen
 * taken. Returns write's result (a last conflict keeps its constraint).
 */
enum nx_err api_write_derived_slug(struct db *db, const struct slug_table *table, const char *base,
                                   const char *except_id, char *slug, slug_write write, void *ctx);

/* The preconditions of a write against the representation etag:
 * NX_ERR_PRECONDITION (412) when If-Match is given and does not match, or
 * If-None-Match is given and matches ("*" always does). */
enum nx_err api_check_if_match(struct request *req, const char *etag);

/* A resource of one row whose representation is the JSON object of its
 * row, answered through api_respond_tagged (a category, a user). */
struct api_row_kind {
    /* The row of id (zero rows when there is none); with lock, locked as
     * its update locks it (for a key change when key). */
    enum nx_err (*read)(struct db *db, const char *id, bool lock, bool key, PGresult **out);
    json_t *(*to_json)(const PGresult *r, int row);
    const char *missing; /* the 404's detail */
    /* zero rows once its path was resolved: deleted since (a 412 with
     * If-Match, see api_if_match_deleted), not an id that never was */
    bool missing_was_deleted;
};

/* The preconditions of a write against row r of kind k as it is now (the
 * ETag of its representation); zero rows: its 404, or 412. */
enum nx_err api_row_preconditions(struct request *req, const struct api_row_kind *k,
                                  const PGresult *r);

/* A write with If-Match or If-None-Match: its row locked as its update
 * locks it (for a key change when key), and the preconditions checked
 * against it; without them, nothing (the write's statement locks the
 * row). */
enum nx_err api_row_lock_checked(struct request *req, struct db *db, const struct api_row_kind *k,
                                 const char *id, bool key);

/* A precondition is judged before the body (RFC 9110 13.2.1): a body at
 * fault (e NX_ERR_VALIDATION) with a precondition that fails is a 412.
 * Only a refused body pays this read, unlocked; a valid write checks
 * under its lock. Otherwise e. */
enum nx_err api_row_preconditions_first(struct request *req, struct db *db,
                                        const struct api_row_kind *k, const char *id,
                                        enum nx_err e);

/* e, or NX_ERR_VALIDATION when it is NX_OK and reading the body named
 * fields (req->body_faults): a ROUTE_MISSING_FIRST handler calls it on
 * its validation's outcome, so that such a body is refused after its
 * 404 and 412, as one its validation refused. */
enum nx_err api_body_faults(const struct request *req, enum nx_err e);

/* Whether the request carries If-Match or If-None-Match. */
bool api_has_preconditions(const struct request *req);

/* A write with If-Match whose item is not found (e NX_ERR_NOT_FOUND) but
 * was deleted (deleted): 412, as for the losers of concurrent writes with
 * one If-Match (a DELETE won); otherwise e (an id that never was is a
 * 404, RFC 9110 13.2.1). */
enum nx_err api_if_match_deleted(struct request *req, enum nx_err e, bool deleted);

/* 200/201 with the body and its ETag; obj is consumed. (The server turns
 * a 200 into a 304 when If-None-Match matches the ETag.) */
void api_respond_tagged(struct request *req, struct response *res, unsigned status, json_t *obj);
/* The same for a JSON body already written (owned by the response now). */
void api_respond_tagged_body(struct response *res, unsigned status, char *body, size_t len);
/* Add the ETag of the response's body. */
void api_tag_response(struct response *res);

#endif
