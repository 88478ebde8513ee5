/*
 * common.c -- helpers shared by the resource handlers.
 */
#include "nexus/api/common.h"

#include "nexus/core/parse.h"
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

/* Candidates are asked about in batches, each by equality (an index
 * probe per candidate): a prefix match (slug LIKE base || '-%') cannot use
 * the slug index under a parameter, and read the whole table per write. */
#define SLUG_BATCH 32

/* Candidates first .. first + SLUG_BATCH - 1 (1 is base itself, n the
 * suffix -n) into names, and as a text[] literal into array. */
static void slug_candidates(const char *base, long first, char names[][NX_SLUG_MAX + 1],
                            struct buf *array) {
    buf_puts(array, "{");
    for (int i = 0; i < SLUG_BATCH; i++) {
        long n = first + i;
        if (n == 1)
            snprintf(names[i], NX_SLUG_MAX + 1, "%s", base);
        else
            slug_with_suffix(base, n, names[i]);
        buf_printf(array, "%s\"%s\"", i ? "," : "", names[i]);
    }
    buf_puts(array, "}");
}

enum nx_err api_unique_slug(struct db *db, const char *scope, slug_lookup lookup, const char *base,
                            const char *except_id, char *out) {
    char lock[NX_SLUG_MAX + 64];
    snprintf(lock, sizeof lock, "slug:%s:%s", scope, base);
    enum nx_err e = db_xact_lock(db, lock);
    /* Ends: the rows are finitely many, so some batch has a free one. */
    for (long first = 1; e == NX_OK; first += SLUG_BATCH) {
        char names[SLUG_BATCH][NX_SLUG_MAX + 1];
        struct buf array = {0};
        PGresult *r = NULL;
        slug_candidates(base, first, names, &array);
        e = lookup(db, array.data, except_id, &r);
        buf_clear(&array);
        for (int i = 0; e == NX_OK && i < SLUG_BATCH; i++)
            if (!slug_taken(r, names[i])) {
                snprintf(out, NX_SLUG_MAX + 1, "%.*s", NX_SLUG_MAX, names[i]);
                PQclear(r);
                return NX_OK;
            }
        PQclear(r);
    }
    return e;
}

enum nx_err api_check_if_match(struct request *req, const char *etag) {
    struct buf lines = {0};
    const char *want = request_header_list(req, "If-Match", &lines);
    bool matches = !want || etag_matches(want, etag, false);
    buf_clear(&lines);
    if (matches)
        return NX_OK;
    return problem_detail(req, NX_ERR_PRECONDITION,
                          "the resource has changed: If-Match does not match its ETag");
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
