/*
 * common.c -- helpers shared by the resource handlers.
 */
#include "nexus/api/common.h"

#include "nexus/core/parse.h"
#include "nexus/db/categories.h"
#include "nexus/http/conditional.h"
#include "nexus/http/problem.h"
#include "nexus/model/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum nx_err api_db(struct request *req, struct db **db) {
    *db = db_thread(req->request_id);
    if (*db)
        return NX_OK;
    req->retry_after = 2;
    return problem_detail(req, NX_ERR_UNAVAILABLE, "the database is unavailable; retry later");
}

enum nx_err api_commit_empty(struct db *db, struct response *res, unsigned status, enum nx_err e) {
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK)
        response_empty(res, status);
    if (db)
        db_rollback(db);
    return e;
}

bool api_patch_is_empty(const struct request *req) {
    return req->json && json_object_size(req->json) == 0;
}

enum nx_err api_path_id(struct request *req, size_t i, char out[24]) {
    struct slice s = request_param(req, i);
    int64_t id;
    if (!parse_id(s.ptr, s.len, &id))
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such resource");
    snprintf(out, 24, "%lld", (long long)id);
    return NX_OK;
}

void api_created(struct response *res, json_t *obj, const char *location_prefix) {
    char location[128];
    snprintf(location, sizeof location, "%s%lld", location_prefix,
             (long long)json_integer_value(json_object_get(obj, "id")));
    response_json(res, 201, obj);
    response_header(res, "Location", location);
    json_decref(obj);
}

void api_ok(struct response *res, json_t *obj) {
    response_json(res, 200, obj);
    json_decref(obj);
}

static bool slug_taken(const PGresult *r, const char *slug) {
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), slug) == 0)
            return true;
    return false;
}

/* Candidates are asked about in windows, each by equality (an index
 * probe per candidate): a prefix match (slug LIKE base || '-%') cannot
 * use the slug index under a parameter, and read the whole table per
 * write. The windows follow one another with no gap, each twice as long
 * as the one before (up to SLUG_WINDOW_MAX), so the suffix is the
 * smallest free one (a freed -5 is taken again before -66 is), and a
 * name that thousands of products share takes a few statements. */
#define SLUG_WINDOW     32
#define SLUG_WINDOW_MAX 1024

/* Candidate n: base itself for 1, else base-n (cut to fit). */
static void slug_candidate(const char *base, long n, char out[NX_SLUG_MAX + 1]) {
    if (n == 1)
        snprintf(out, NX_SLUG_MAX + 1, "%s", base);
    else
        slug_with_suffix(base, n, out);
}

/* Candidates first .. first + count - 1 as a text[] literal. */
static void slug_candidates(const char *base, long first, long count, struct buf *array) {
    char name[NX_SLUG_MAX + 1];
    buf_puts(array, "{");
    for (long n = first; n < first + count; n++) {
        slug_candidate(base, n, name);
        buf_printf(array, "%s\"%s\"", n > first ? "," : "", name);
    }
    buf_puts(array, "}");
}

/* The first of candidates first .. first + count - 1 that no row of r
 * holds, into out; false when every one is taken. */
static bool first_free(const PGresult *r, const char *base, long first, long count, char *out) {
    for (long n = first; n < first + count; n++) {
        slug_candidate(base, n, out);
        if (!slug_taken(r, out))
            return true;
    }
    return false;
}

/* The first free candidate of base, into out (NX_SLUG_MAX + 1 bytes);
 * writers deriving from base in the same table wait here until commit. */
static enum nx_err unique_slug(struct db *db, const char *table, slug_lookup lookup,
                               const char *base, const char *except_id, char *out) {
    char lock[NX_SLUG_MAX + 64];
    snprintf(lock, sizeof lock, "slug:%s:%s", table, base);
    enum nx_err e = db_xact_lock(db, lock);
    /* Ends: the rows are finitely many, so some window has a free one. */
    for (long first = 1, count = SLUG_WINDOW; e == NX_OK;
         first += count, count = count < SLUG_WINDOW_MAX ? 2 * count : count) {
        struct buf array = {0};
        PGresult *r = NULL;
        slug_candidates(base, first, count, &array);
        e = lookup(db, array.data, except_id, &r);
        buf_clear(&array);
        bool found = e == NX_OK && first_free(r, base, first, count, out);
        PQclear(r);
        if (found)
            return NX_OK;
    }
    return e;
}

/* Tries when a derived slug is taken between the lookup and the write:
 * each retry follows a writer that committed the slug, so the lookup
 * then sees it. */
#define SLUG_ATTEMPTS 3

enum nx_err api_write_derived_slug(struct db *db, const struct slug_table *table, const char *base,
                                   const char *except_id, char *slug, slug_write write, void *ctx) {
    enum nx_err e = NX_OK;
    for (int attempt = 0; attempt < SLUG_ATTEMPTS; attempt++) {
        if ((e = db_exec_sql(db, "SAVEPOINT slug")) != NX_OK)
            break;
        e = unique_slug(db, table->name, table->lookup, base, except_id, slug);
        if (e != NX_OK)
            break;
        e = write(db, slug, ctx);
        bool taken = e == NX_ERR_CONFLICT && strcmp(db_constraint(db), table->unique_index) == 0;
        if (!taken || attempt + 1 == SLUG_ATTEMPTS)
            break; /* the last failure keeps its constraint name for the 409 */
        if ((e = db_exec_sql(db, "ROLLBACK TO SAVEPOINT slug")) != NX_OK)
            break;
    }
    return e;
}

/* Why If-Match (want) matched no ETag: a stale tag cannot be told from a
 * tag that never was this resource's, so the detail names both. */
static enum nx_err if_match_failed(struct request *req, const char *want) {
    switch (etag_list_kind(want)) {
    case ETAG_LIST_WEAK_ONLY:
        return problem_detail(req, NX_ERR_PRECONDITION,
                              "If-Match needs a strong ETag; W/ tags never match");
    case ETAG_LIST_MALFORMED:
        return problem_detail(req, NX_ERR_PRECONDITION,
                              "If-Match is neither \"*\" nor a list of entity tags: it matches "
                              "nothing");
    default:
        return problem_detail(req, NX_ERR_PRECONDITION,
                              "If-Match matches no current ETag of this resource (it has changed "
                              "since, or the tag is not one of its ETags)");
    }
}

enum nx_err api_check_if_match(struct request *req, const char *etag) {
    struct buf lines = {0};
    const char *want = request_header_list(req, "If-Match", &lines);
    enum nx_err e = want && !etag_matches(want, etag, false) ? if_match_failed(req, want) : NX_OK;
    buf_clear(&lines);
    if (e != NX_OK)
        return e;
    /* RFC 9110 13.1.2: on a write, a matching If-None-Match ("*": the
     * resource exists) fails the write */
    const char *not_want = request_header_list(req, "If-None-Match", &lines);
    bool matches = not_want && etag_matches(not_want, etag, true);
    buf_clear(&lines);
    if (matches)
        return problem_detail(req, NX_ERR_PRECONDITION,
                              "the resource matches If-None-Match: it exists as tagged");
    return NX_OK;
}

enum nx_err api_row_preconditions(struct request *req, const struct api_row_kind *k,
                                  const PGresult *r) {
    if (PQntuples(r) != 1)
        return api_if_match_deleted(req, problem_detail(req, NX_ERR_NOT_FOUND, "%s", k->missing),
                                    k->missing_was_deleted);
    char etag[NX_ETAG_LEN + 1];
    json_t *obj = k->to_json(r, 0);
    char *bytes = json_dumps(obj, JSON_COMPACT); /* the bytes response_json writes */
    json_decref(obj);
    NX_ASSERT(bytes);
    etag_of(bytes, strlen(bytes), etag);
    free(bytes);
    return api_check_if_match(req, etag);
}

enum nx_err api_row_lock_checked(struct request *req, struct db *db, const struct api_row_kind *k,
                                 const char *id, bool key) {
    if (!api_has_preconditions(req))
        return NX_OK;
    PGresult *r = NULL;
    enum nx_err e = k->read(db, id, true, key, &r);
    if (e == NX_OK)
        e = api_row_preconditions(req, k, r);
    PQclear(r);
    return e;
}

enum nx_err api_row_preconditions_first(struct request *req, struct db *db,
                                        const struct api_row_kind *k, const char *id,
                                        enum nx_err e) {
    if (e != NX_ERR_VALIDATION || !api_has_preconditions(req))
        return e;
    PGresult *r = NULL;
    enum nx_err c = k->read(db, id, false, false, &r);
    if (c == NX_OK)
        c = api_row_preconditions(req, k, r);
    PQclear(r);
    return c == NX_ERR_PRECONDITION ? c : e;
}

enum nx_err api_body_faults(const struct request *req, enum nx_err e) {
    return e == NX_OK && fielderr_count(&req->body_faults) ? NX_ERR_VALIDATION : e;
}

bool api_has_preconditions(const struct request *req) {
    return request_header(req, "If-Match") || request_header(req, "If-None-Match");
}

enum nx_err api_if_match_deleted(struct request *req, enum nx_err e, bool deleted) {
    if (e != NX_ERR_NOT_FOUND || !deleted || !request_header(req, "If-Match"))
        return e;
    return problem_detail(req, NX_ERR_PRECONDITION,
                          "the resource was deleted: If-Match matches no current representation");
}

void api_respond_tagged(struct request *req, struct response *res, unsigned status, json_t *obj) {
    (void)req; /* If-None-Match is answered by the server, cached or not */
    response_json(res, status, obj);
    json_decref(obj);
    api_tag_response(res);
}

void api_respond_tagged_body(struct response *res, unsigned status, char *body, size_t len) {
    response_take(res, status, "application/json", body, len);
    api_tag_response(res);
}

void api_tag_response(struct response *res) {
    char etag[NX_ETAG_LEN + 1];
    etag_of(res->body, res->len, etag);
    response_header(res, "ETag", etag);
}

enum nx_err api_name_unknown_category(struct request *req, struct db *db, const char *field,
                                      const char *id, enum nx_err e) {
    PGresult *r = NULL;
    if (e != NX_ERR_VALIDATION || !db || !id[0] || fielderr_names(&req->field_errors, field))
        return e;
    if (categories_get(db, id, false, &r) == NX_OK && PQntuples(r) == 0)
        problem_field(req, field, "no such category");
    PQclear(r);
    return e;
}
