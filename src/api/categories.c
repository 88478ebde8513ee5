/*
 * categories.c -- the category endpoints.
 *
 * Category paths take an id or a slug. The tree is kept acyclic: a move
 * that would make a category its own ancestor is a 422, checked under a
 * lock that serialises tree changes. A category's item carries a strong
 * ETag (the tag of its bytes, like a product's); a write with If-Match or
 * If-None-Match locks the row first and compares them with the category
 * as it is then, so of concurrent writers with one tag exactly one wins.
 */
#include "nexus/api/categories.h"

#include "nexus/api/common.h"
#include "nexus/api/fields.h"
#include "nexus/api/listing.h"
#include "nexus/api/product_filters.h"
#include "nexus/core/parse.h"
#include "nexus/db/categories.h"
#include "nexus/http/problem.h"
#include "nexus/model/category.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CATEGORY_SORTS[] = {"name", "-name", "created_at", "-created_at"};
static const struct list_spec CATEGORY_LIST = {"categories", CATEGORY_SORTS, 4, 0};

/* Resolve the {id-or-slug} path segment to an id; 404 when there is none. */
static enum nx_err path_category(struct request *req, struct db *db, char id[24]) {
    struct slice seg = request_param(req, 0);
    char key[128];
    bool by_slug;
    int64_t n;
    by_slug = !parse_id(seg.ptr, seg.len, &n);
    if (seg.len >= sizeof key || (by_slug && seg.len > NX_SLUG_MAX))
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    memcpy(key, seg.ptr, seg.len);
    key[seg.len] = '\0';
    if (by_slug && !slug_is_valid(key))
        return problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    enum nx_err e = categories_resolve(db, key, by_slug, id);
    if (e == NX_OK && !id[0])
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    return e;
}

/* parent=null (roots), parent=<id or slug>, or none. */
static enum nx_err parse_parent(struct request *req, struct db *db, enum parent_filter *pf,
                                char id[24], struct buf *canonical, bool *nothing) {
    struct slice v;
    char key[128];
    bool by_slug;
    enum nx_err e = request_query(req, "parent", &v);
    *pf = PARENT_ANY;
    if (e != NX_OK || !v.ptr || v.len == 0)
        return e;
    if (v.len == 4 && memcmp(v.ptr, "null", 4) == 0) {
        *pf = PARENT_NONE;
        buf_puts(canonical, "&parent=null");
        return NX_OK;
    }
    if ((e = category_key(req, "parent", v, key, sizeof key, &by_slug)) != NX_OK)
        return e;
    buf_printf(canonical, "&parent=%s", key);
    e = categories_resolve(db, key, by_slug, id);
    *pf = PARENT_ID;
    *nothing = e == NX_OK && !id[0];
    return e;
}

/* The JSON of json_t *v (consumed), with the members fields chooses. */
static char *chosen_json(json_t *v, const struct fields_choice *fields, size_t *len) {
    char *bytes = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    NX_ASSERT(bytes);
    *len = strlen(bytes);
    api_fields_apply(fields, &bytes, len);
    return bytes;
}

static json_t *page_items(PGresult *r, int count) {
    json_t *items = json_array();
    for (int i = 0; i < count; i++)
        json_array_append_new(items, category_to_json(r, i));
    return items;
}

static enum nx_err list_page(struct response *res, struct db *db, enum parent_filter pf,
                             const char *parent, const char *filters, const struct list_request *lr,
                             const struct fields_choice *fields) {
    PGresult *r = NULL;
    long long total = -1;
    char after_id[24];
    snprintf(after_id, sizeof after_id, "%lld", (long long)lr->after.id);
    enum nx_err e =
        categories_list(db, pf, parent, (enum category_sort)lr->sort,
                        lr->has_cursor ? lr->after.value : NULL, after_id, lr->limit_plus_one, &r);
    if (e == NX_OK && lr->include_total)
        e = categories_count(db, pf, parent, &total);
    if (e == NX_OK) {
        int rows = PQntuples(r), shown = rows > lr->limit ? lr->limit : rows;
        char *next = NULL;
        int col = lr->sort < 2 ? CC_SORT_NAME : CC_CREATED_AT;
        if (rows > lr->limit)
            next = list_cursor(&CATEGORY_LIST, lr, filters, PQgetvalue(r, shown - 1, col),
                               strtoll(PQgetvalue(r, shown - 1, CC_ID), NULL, 10));
        size_t len;
        char *items = chosen_json(page_items(r, shown), fields, &len);
        list_respond_written(res, items, len, next, total, false);
        free(items);
    }
    PQclear(r);
    return e;
}

enum nx_err api_categories_list(struct request *req, struct response *res) {
    struct db *db = NULL;
    struct list_request lr;
    struct buf filters = {0};
    enum parent_filter pf = PARENT_ANY;
    char parent[24] = "";
    bool nothing = false;
    struct fields_choice fields;
    enum nx_err e = api_fields_parse(req, category_field_names, category_field_count, &fields);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = parse_parent(req, db, &pf, parent, &filters, &nothing);
    buf_puts(&filters, "");
    if (e == NX_OK)
        e = list_parse(req, &CATEGORY_LIST, filters.data, &lr);
    if (e == NX_OK && nothing)
        list_respond(res, json_array(), NULL, lr.include_total ? 0 : -1);
    else if (e == NX_OK)
        e = list_page(res, db, pf, parent, filters.data, &lr, &fields);
    buf_clear(&filters);
    return e;
}

enum nx_err api_categories_get(struct request *req, struct response *res) {
    struct db *db = NULL;
    PGresult *r = NULL;
    struct fields_choice fields;
    char id[24];
    enum nx_err e = api_fields_parse(req, category_field_names, category_field_count, &fields);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = path_category(req, db, id);
    if (e == NX_OK)
        e = categories_get(db, id, false, &r);
    if (e == NX_OK && PQntuples(r) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    if (e == NX_OK) {
        size_t len;
        char *body = chosen_json(category_to_json(r, 0), &fields, &len);
        api_respond_tagged_body(res, 200, body, len);
    }
    PQclear(r);
    return e;
}

static enum nx_err write_conflict(struct request *req, struct db *db, enum nx_err e) {
    if (e == NX_ERR_CONFLICT && strcmp(db_constraint(db), "categories_slug_key") == 0)
        return problem_conflict(req, "slug", "already exists");
    if (e == NX_ERR_CONFLICT && strcmp(db_sqlstate(db), "23503") == 0)
        return problem_field(req, "parent_id", "no such category");
    return e;
}

static void parent_text(const struct category_input *in, char out[24]) {
    out[0] = '\0';
    if (in->has_parent && in->parent_id)
        snprintf(out, 24, "%lld", (long long)in->parent_id);
}

static const struct slug_table CATEGORY_SLUGS = {"categories", categories_slugs_among,
                                                 "categories_slug_key"};

struct category_write {
    const struct category_input *in;
    const char *parent;
    PGresult **r;
};

static enum nx_err insert_row(struct db *db, const char *slug, void *ctx) {
    const struct category_write *w = ctx;
    const char *description = w->in->description ? w->in->description : "";
    return categories_insert(db, w->in->name, slug, description, w->parent, w->r);
}

enum nx_err api_categories_create(struct request *req, struct response *res) {
    struct category_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    char slug[NX_SLUG_MAX + 1], base[NX_SLUG_MAX + 2], parent[24];
    struct category_write w = {&in, parent, &r};
    enum nx_err e = category_input_parse(&req->field_errors, req->json, true, &in);
    if (e == NX_OK && !in.slug && !slug_from_name(in.name, base, NX_SLUG_MAX))
        e = problem_field(req, "slug", "cannot be derived from this name; give one");
    parent_text(&in, parent);
    if (e == NX_ERR_VALIDATION && parent[0] && api_db(req, &db) == NX_OK)
        e = api_name_unknown_category(req, db, "parent_id", parent, e);
    if (e == NX_OK)
        e = api_db(req, &db);
    if (e == NX_OK)
        e = db_begin(db);
    if (e == NX_OK)
        e = in.slug ? insert_row(db, in.slug, &w)
                    : api_write_derived_slug(db, &CATEGORY_SLUGS, base, NULL, slug, insert_row, &w);
    if (e == NX_OK)
        e = db_commit(db);
    if (e == NX_OK) {
        api_created(res, category_to_json(r, 0), "/api/v1/categories/");
        api_tag_response(res);
    }
    if (db)
        db_rollback(db);
    PQclear(r);
    return e == NX_OK || !db ? e : write_conflict(req, db, e);
}

static enum nx_err read_category(struct db *db, const char *id, bool lock, bool key,
                                 PGresult **out) {
    return lock ? categories_lock_row(db, id, key, out) : categories_get(db, id, false, out);
}

/* A category found by its path and gone under the lock was deleted since
 * (the losers of concurrent writes with one If-Match when a DELETE won). */
static const struct api_row_kind CATEGORY_ROWS = {read_category, category_to_json,
                                                  "no such category", true};

/* A write's locks with its preconditions checked under them: the tree's
 * (tree, a move or a delete) and the row's (for a key change when key).
 * Without preconditions a write that is no move locks nothing here: its
 * statement locks the row. */
static enum nx_err lock_for_write(struct request *req, struct db *db, const char *id, bool tree,
                                  bool key) {
    if (!tree)
        return api_row_lock_checked(req, db, &CATEGORY_ROWS, id, key);
    PGresult *r = NULL;
    enum nx_err e = categories_lock_for_move(db, id, key, &r);
    if (e == NX_OK && api_has_preconditions(req))
        e = api_row_preconditions(req, &CATEGORY_ROWS, r);
    PQclear(r);
    return e;
}

/* A move, under its locks: a new parent must exist and must not be the
 * category or below it. */
static enum nx_err begin_move(struct request *req, struct db *db, const char *id,
                              const char *parent, bool new_slug) {
    bool cycle = false;
    enum nx_err e = lock_for_write(req, db, id, true, new_slug);
    if (e == NX_OK && strcmp(id, parent) == 0)
        return problem_field(req, "parent_id", "a category cannot be its own parent");
    if (e == NX_OK && parent[0])
        e = categories_would_cycle(db, id, parent, &cycle);
    if (e == NX_OK && cycle)
        e = problem_field(req, "parent_id", "would make a cycle in the category tree");
    return e;
}

enum nx_err api_categories_patch(struct request *req, struct response *res) {
    struct category_input in;
    struct db *db = NULL;
    PGresult *r = NULL;
    char id[24] = "", parent[24];
    enum nx_err e = api_db(req, &db);
    memset(&in, 0, sizeof in);
    if (e == NX_OK)
        e = path_category(req, db, id);
    if (e == NX_OK)
        e = api_body_faults(req, category_input_parse(&req->field_errors, req->json, false, &in));
    parent_text(&in, parent);
    e = api_name_unknown_category(req, db, "parent_id", parent, e);
    if (db && id[0])
        e = api_row_preconditions_first(req, db, &CATEGORY_ROWS, id, e);
    if (e == NX_OK)
        e = db_begin(db);
    bool nothing = api_patch_is_empty(req);
    if (e == NX_OK)
        e = in.has_parent ? begin_move(req, db, id, parent, in.slug != NULL)
                          : lock_for_write(req, db, id, false, in.slug != NULL);
    if (e == NX_OK && nothing)
        e = categories_get(db, id, false, &r);
    else if (e == NX_OK)
        e = categories_update(db, id, in.name, in.slug, in.description, in.has_parent, parent, &r);
    /* deleted since path_category found it */
    if (e == NX_OK && PQntuples(r) != 1)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    if (e == NX_OK)
        e = db_commit(db);
    res->unchanged = nothing;
    if (e == NX_OK)
        api_respond_tagged(req, res, 200, category_to_json(r, 0));
    if (db)
        db_rollback(db);
    PQclear(r);
    return e == NX_OK || !db ? e : write_conflict(req, db, e);
}

enum nx_err api_categories_delete(struct request *req, struct response *res) {
    struct db *db = NULL;
    char id[24];
    const char *blocked = NULL;
    bool deleted = false;
    enum nx_err e = api_db(req, &db);
    if (e == NX_OK)
        e = path_category(req, db, id);
    if (e == NX_OK)
        e = db_begin(db);
    /* a delete's own locks, in its order (categories_delete) */
    if (e == NX_OK && api_has_preconditions(req))
        e = lock_for_write(req, db, id, true, true);
    if (e == NX_OK)
        e = categories_delete(db, id, &blocked, &deleted);
    if (e == NX_OK && blocked)
        e = problem_conflict(req, "id", blocked);
    if (e == NX_OK && !deleted)
        e = problem_detail(req, NX_ERR_NOT_FOUND, "no such category");
    e = api_commit_empty(db, res, 204, e);
    return e;
}
