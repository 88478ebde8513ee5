/*
 * categories.h -- the categories table.
 *
 * Queries that return categories return the columns of enum category_col
 * (model/category.h).
 */
#ifndef NEXUS_DB_CATEGORIES_H
#define NEXUS_DB_CATEGORIES_H

#include "nexus/db/db.h"
#include "nexus/model/category.h"

enum category_sort { CS_NAME, CS_NAME_DESC, CS_CREATED, CS_CREATED_DESC };

/* How the list is narrowed by parent. */
enum parent_filter { PARENT_ANY, PARENT_NONE, PARENT_ID };

/* One page of categories, optionally only the children of parent_id (or
 * only the roots), after (after_value, after_id) in sort order. */
enum nx_err categories_list(struct db *db, enum parent_filter pf, const char *parent_id,
                            enum category_sort sort, const char *after_value, const char *after_id,
                            const char *limit, PGresult **out);
enum nx_err categories_count(struct db *db, enum parent_filter pf, const char *parent_id,
                             long long *total);

/* By id or by slug (key is one or the other); zero rows when none. */
enum nx_err categories_get(struct db *db, const char *key, bool by_slug, PGresult **out);

/* The id of the category with this id or slug, "" when there is none. */
enum nx_err categories_resolve(struct db *db, const char *key, bool by_slug, char out[24]);

/* The category with this id or slug ("" when there is none) and, when
 * there is one, the array literal of its id and all its descendants' ids
 * (owned; NULL otherwise), in one statement. */
enum nx_err categories_resolve_subtree(struct db *db, const char *key, bool by_slug, char id[24],
                                       char **subtree);

/* The categories of an array literal of ids ("{1,2}"), in no order. */
enum nx_err categories_by_ids(struct db *db, const char *ids, PGresult **out);
/* Every category (roots: only the roots), by name then id. */
enum nx_err categories_all(struct db *db, bool roots, PGresult **out);
/* The children of the categories of an array literal, by parent_id, then
 * name and id. */
enum nx_err categories_children_many(struct db *db, const char *parent_ids, PGresult **out);
/* Rows (root id, array literal of its subtree's ids) for each existing
 * category of the array literal ids. */
enum nx_err categories_subtrees(struct db *db, const char *ids, PGresult **out);
enum nx_err categories_insert(struct db *db, const char *name, const char *slug,
                              const char *description, const char *parent_id, PGresult **out);
/* Given fields only; set_parent with parent_id "" makes it a root. */
enum nx_err categories_update(struct db *db, const char *id, const char *name, const char *slug,
                              const char *description, bool set_parent, const char *parent_id,
                              PGresult **out);

/* A move's locks, in its transaction, in the order that cannot deadlock:
 * tree changes one at a time (two moves cannot close a loop together),
 * then the category's row as the update will lock it (for a key change
 * when new_slug), both before the update's trigger takes the facet
 * counts' tree lock, as a product's write locks the category's row (its
 * foreign key's check; an import's batch, every category it sets, before
 * its first write) before it takes that lock. *out (may be NULL): the
 * locked row, zero rows when there is none. */
enum nx_err categories_lock_for_move(struct db *db, const char *id, bool new_slug, PGresult **out);
/* The category's row (zero rows when there is none), locked as an update
 * locks it: for a key change when key (a new slug, or a delete). */
enum nx_err categories_lock_row(struct db *db, const char *id, bool key, PGresult **out);
/* Whether making parent the parent of id would close a loop (under
 * categories_lock_for_move). */
enum nx_err categories_would_cycle(struct db *db, const char *id, const char *parent, bool *cycle);

/* Delete a category that has no children and no live products (soft-deleted
 * products let go of it). *blocked names what blocks it, or is NULL. */
enum nx_err categories_delete(struct db *db, const char *id, const char **blocked, bool *deleted);

/* Which slugs of a text[] literal categories other than except_id hold. */
enum nx_err categories_slugs_among(struct db *db, const char *slugs, const char *except_id,
                                   PGresult **out);

#endif
