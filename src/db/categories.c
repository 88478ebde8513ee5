/*
 * categories.c -- SQL for the categories table.
 */
#include "nexus/db/categories.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATEGORY_COLUMNS                                                                           \
    "id, name, slug, description, parent_id, " NX_SQL_TIMESTAMP(                                   \
        "created_at") ", " NX_SQL_TIMESTAMP("updated_at") ", lower(name)"

static struct db_stmt SQL_GET_BY_ID = {"SELECT " CATEGORY_COLUMNS " FROM categories WHERE id = $1",
                                       1, 0};
static struct db_stmt SQL_GET_BY_SLUG = {
    "SELECT " CATEGORY_COLUMNS " FROM categories WHERE slug = $1", 1, 0};
/* A category and its subtree in one round trip: the category's own id
 * (NULL when there is none) and the array of it and its descendants. */
#define SUBTREE_OF(match)                                                                          \
    "WITH RECURSIVE t AS (SELECT id, true AS top FROM categories WHERE " match                     \
    " UNION ALL SELECT c.id, false FROM categories c JOIN t ON c.parent_id = t.id)"                \
    " SELECT min(id) FILTER (WHERE top), array_agg(id)::text FROM t"
static struct db_stmt SQL_SUBTREE_OF_ID = {SUBTREE_OF("id = $1"), 1, 0};
static struct db_stmt SQL_SUBTREE_OF_SLUG = {SUBTREE_OF("slug = $1"), 1, 0};
/* Lookups of many categories at once (the parents, children or subtrees
 * of a page of them), one statement whatever their number. */
static struct db_stmt SQL_BY_IDS = {
    "SELECT " CATEGORY_COLUMNS " FROM categories WHERE id = ANY ($1::bigint[])", 1, 0};
static struct db_stmt SQL_ALL = {
    "SELECT " CATEGORY_COLUMNS " FROM categories ORDER BY lower(name), id", 0, 0};
static struct db_stmt SQL_ROOTS = {
    "SELECT " CATEGORY_COLUMNS " FROM categories WHERE parent_id IS NULL ORDER BY lower(name), id",
    0, 0};
static struct db_stmt SQL_CHILDREN_MANY = {"SELECT " CATEGORY_COLUMNS
                                           " FROM categories WHERE parent_id = ANY ($1::bigint[])"
                                           " ORDER BY parent_id, lower(name), id",
                                           1, 0};
static struct db_stmt SQL_SUBTREES = {
    "WITH RECURSIVE t AS (SELECT id AS root, id FROM categories WHERE id = ANY ($1::bigint[])"
    " UNION ALL SELECT t.root, c.id FROM categories c JOIN t ON c.parent_id = t.id)"
    " SELECT root, array_agg(id)::text FROM t GROUP BY root",
    1, 0};
static struct db_stmt SQL_INSERT = {
    "INSERT INTO categories (name, slug, description, parent_id)"
    " VALUES ($1, $2, $3, NULLIF($4, '')::bigint) RETURNING " CATEGORY_COLUMNS,
    4, 0};
/* Serialise tree changes so two concurrent moves cannot close a loop. */
static struct db_stmt SQL_LOCK_TREE = {"SELECT pg_advisory_xact_lock(7350082)", 0, 0};
/* A move's row, locked as its update will lock it: for a key change only
 * when the slug (a unique key) is written too. */
static struct db_stmt SQL_LOCK_ROW = {
    "SELECT " CATEGORY_COLUMNS " FROM categories WHERE id = $1 FOR NO KEY UPDATE", 1, 0};
static struct db_stmt SQL_LOCK_ROW_KEY = {
    "SELECT " CATEGORY_COLUMNS " FROM categories WHERE id = $1 FOR UPDATE", 1, 0};
static struct db_stmt SQL_ANCESTOR = {
    "WITH RECURSIVE up AS (SELECT id, parent_id FROM categories WHERE id = $2"
    " UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id)"
    " SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
    2, 0};
static struct db_stmt SQL_BLOCKERS = {
    "SELECT EXISTS (SELECT 1 FROM categories WHERE parent_id = $1),"
    " EXISTS (SELECT 1 FROM products WHERE category_id = $1 AND deleted_at IS NULL)"
    " FROM categories WHERE id = $1 FOR UPDATE",
    1, 0};
static struct db_stmt SQL_RELEASE_DELETED = {
    "UPDATE products SET category_id = NULL WHERE category_id = $1 AND deleted_at IS NOT NULL", 1,
    0};
static struct db_stmt SQL_DELETE = {"DELETE FROM categories WHERE id = $1", 1, 0};
static struct db_stmt SQL_SLUGS_AMONG = {
    "SELECT slug FROM categories WHERE slug = ANY($1::text[]) AND id IS DISTINCT FROM $2::bigint",
    2, 0};

static const struct {
    const char *after;
    const char *order;
} SORTS[] = {
    [CS_NAME] = {" AND (lower(name), id) > (?::text,", " ORDER BY lower(name), id"},
    [CS_NAME_DESC] = {" AND (lower(name), id) < (?::text,", " ORDER BY lower(name) DESC, id DESC"},
    [CS_CREATED] = {" AND (created_at, id) > (?::timestamptz,", " ORDER BY created_at, id"},
    [CS_CREATED_DESC] = {" AND (created_at, id) < (?::timestamptz,",
                         " ORDER BY created_at DESC, id DESC"},
};

static void add_parent(struct sql_builder *b, enum parent_filter pf, const char *parent_id) {
    sql_add(b, " WHERE true");
    if (pf == PARENT_NONE)
        sql_add(b, " AND parent_id IS NULL");
    if (pf == PARENT_ID)
        sql_add_param(b, " AND parent_id = ?::bigint", parent_id);
}

enum nx_err categories_list(struct db *db, enum parent_filter pf, const char *parent_id,
                            enum category_sort sort, const char *after_value, const char *after_id,
                            const char *limit, PGresult **out) {
    struct sql_builder b = {.prepare = true}; /* a small table: any plan serves */
    sql_add(&b, "SELECT " CATEGORY_COLUMNS " FROM categories");
    add_parent(&b, pf, parent_id);
    sql_add_page(&b, SORTS[sort].after, SORTS[sort].order, after_value, after_id, limit);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err categories_count(struct db *db, enum parent_filter pf, const char *parent_id,
                             long long *total) {
    struct sql_builder b = {0};
    PGresult *r = NULL;
    sql_add(&b, "SELECT count(*) FROM categories");
    add_parent(&b, pf, parent_id);
    enum nx_err e = db_exec_built(db, &b, &r);
    if (e == NX_OK)
        *total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    sql_clear(&b);
    return e;
}

enum nx_err categories_get(struct db *db, const char *key, bool by_slug, PGresult **out) {
    const char *params[] = {key};
    return db_exec(db, by_slug ? &SQL_GET_BY_SLUG : &SQL_GET_BY_ID, params, out);
}

enum nx_err categories_resolve(struct db *db, const char *key, bool by_slug, char out[24]) {
    PGresult *r = NULL;
    enum nx_err e = categories_get(db, key, by_slug, &r);
    out[0] = '\0';
    if (e == NX_OK && PQntuples(r) == 1) {
        size_t n = strlen(PQgetvalue(r, 0, CC_ID));
        memcpy(out, PQgetvalue(r, 0, CC_ID), n < 23 ? n + 1 : 24);
    }
    PQclear(r);
    return e;
}

enum nx_err categories_resolve_subtree(struct db *db, const char *key, bool by_slug, char id[24],
                                       char **subtree) {
    const char *params[] = {key};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, by_slug ? &SQL_SUBTREE_OF_SLUG : &SQL_SUBTREE_OF_ID, params, &r);
    id[0] = '\0';
    *subtree = NULL;
    if (e == NX_OK && !PQgetisnull(r, 0, 0)) {
        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
        *subtree = xstrdup(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return e;
}

enum nx_err categories_by_ids(struct db *db, const char *ids, PGresult **out) {
    const char *params[] = {ids};
    return db_exec(db, &SQL_BY_IDS, params, out);
}

enum nx_err categories_all(struct db *db, bool roots, PGresult **out) {
    return db_exec(db, roots ? &SQL_ROOTS : &SQL_ALL, NULL, out);
}

enum nx_err categories_children_many(struct db *db, const char *parent_ids, PGresult **out) {
    const char *params[] = {parent_ids};
    return db_exec(db, &SQL_CHILDREN_MANY, params, out);
}

enum nx_err categories_subtrees(struct db *db, const char *ids, PGresult **out) {
    const char *params[] = {ids};
    return db_exec(db, &SQL_SUBTREES, params, out);
}

enum nx_err categories_insert(struct db *db, const char *name, const char *slug,
                              const char *description, const char *parent_id, PGresult **out) {
    const char *params[] = {name, slug, description, parent_id};
    return db_exec(db, &SQL_INSERT, params, out);
}

/* Only the columns given are written: a slug named in the statement locks
 * the row for a key change (a row trigger makes PostgreSQL judge by the
 * columns named, not by the values changed), which waits for every
 * product's foreign key check on it, and parent_id named fires the facet
 * counts' tree lock (migration 0017), which a move alone should take. */
enum nx_err categories_update(struct db *db, const char *id, const char *name, const char *slug,
                              const char *description, bool set_parent, const char *parent_id,
                              PGresult **out) {
    struct sql_builder b = {.prepare = true};
    sql_add_param(&b, "UPDATE categories SET name = COALESCE(?, name)", name);
    sql_add_param(&b, ", description = COALESCE(?, description)", description);
    if (slug)
        sql_add_param(&b, ", slug = ?", slug);
    if (set_parent)
        sql_add_param(&b, ", parent_id = NULLIF(?, '')::bigint", parent_id);
    sql_add_param(&b, " WHERE id = ?::bigint RETURNING " CATEGORY_COLUMNS, id);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err categories_lock_row(struct db *db, const char *id, bool key, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, key ? &SQL_LOCK_ROW_KEY : &SQL_LOCK_ROW, params, out);
}

enum nx_err categories_lock_for_move(struct db *db, const char *id, bool new_slug, PGresult **out) {
    enum nx_err e = db_exec(db, &SQL_LOCK_TREE, NULL, NULL);
    return e == NX_OK ? categories_lock_row(db, id, new_slug, out) : e;
}

enum nx_err categories_would_cycle(struct db *db, const char *id, const char *parent, bool *cycle) {
    const char *params[] = {id, parent};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_ANCESTOR, params, &r);
    *cycle = e == NX_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return e;
}

enum nx_err categories_delete(struct db *db, const char *id, const char **blocked, bool *deleted) {
    const char *params[] = {id};
    PGresult *r = NULL;
    *blocked = NULL;
    *deleted = false;
    enum nx_err e = db_exec(db, &SQL_LOCK_TREE, NULL, NULL);
    if (e == NX_OK)
        e = db_exec(db, &SQL_BLOCKERS, params, &r);
    if (e != NX_OK || PQntuples(r) != 1)
        goto out;
    if (PQgetvalue(r, 0, 0)[0] == 't')
        *blocked = "it still has child categories";
    else if (PQgetvalue(r, 0, 1)[0] == 't')
        *blocked = "it still has products";
    if (*blocked)
        goto out;
    e = db_exec(db, &SQL_RELEASE_DELETED, params, NULL);
    if (e == NX_OK)
        e = db_exec(db, &SQL_DELETE, params, NULL);
    /* a child or a product that committed after SQL_BLOCKERS looked: its
     * foreign key refuses the delete (the transaction is then to be rolled
     * back, as a blocked delete's is) */
    if (e != NX_OK && strcmp(db_sqlstate(db), "23503") == 0) {
        *blocked = "it still has child categories or products";
        e = NX_OK;
    }
    *deleted = e == NX_OK && !*blocked;
out:
    PQclear(r);
    return e;
}

enum nx_err categories_slugs_among(struct db *db, const char *slugs, const char *except_id,
                                   PGresult **out) {
    const char *params[] = {slugs, except_id};
    return db_exec(db, &SQL_SLUGS_AMONG, params, out);
}
