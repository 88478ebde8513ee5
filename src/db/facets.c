/*
 * facets.c -- SQL for the facet counts.
 *
 * Every filter but a facet's own applies to it (the list's own WHERE
 * clause, products_add_where). Two passes over the matching products
 * serve the common case: one for the total, the categories, the price and
 * in_stock, whose own filters become FILTER clauses of one aggregate; one
 * for the attribute and option values, which counts the products' facet
 * terms (small integers kept per product, migration 0013) and names the
 * few thousand distinct ones at the end. Values group case-insensitively,
 * as the filters compare them, and show the smallest spelling.
 *
 * Public facets with no filter but a category (the storefront's category
 * pages, and the whole catalog) read the counts kept with the writes
 * instead (migrations 0016, 0017): one row per term of the category's own
 * scope, which counts its whole subtree. Only the price buckets still read
 * the products, through the (category, price) index.
 */
#include "nexus/db/facets.h"

#include <stdlib.h>
#include <string.h>

static const struct filter_skip SKIP_PRICE_AND_STOCK = {SKIP_PRICE | SKIP_IN_STOCK, -1, -1};

/* The children and, recursively, every category under each. */
#define CATEGORY_TREE                                                                              \
    " tree AS (SELECT id AS child, id FROM children UNION ALL"                                     \
    " SELECT t.child, c.id FROM categories c JOIN tree t ON c.parent_id = t.id),"

/* s: each matching row's category, price bucket and whether it passes
 * the price filter, in_stock=true and in_stock=false (the in_stock filter
 * is one of them); g: counts per (category, bucket), each facet's own
 * filter left out of its FILTER clause; then one row of totals (kind 0),
 * the buckets (kind 1) and the children with their subtrees (kind 2). */
#define SUMMARY_SELECT                                                                             \
    ") s GROUP BY 1, 2)"                                                                           \
    " SELECT 0 AS kind, NULL::bigint AS id, NULL::text AS slug, NULL::text AS name,"               \
    " NULL::text AS sort, sum(n) AS n, sum(n_in) AS a, sum(n_out) AS b FROM g"                     \
    " UNION ALL SELECT 1, bucket, NULL, NULL, NULL, sum(n_price), min(lo), max(hi) FROM g"         \
    " WHERE lo IS NOT NULL GROUP BY bucket"                                                        \
    " UNION ALL SELECT 2, ch.id, ch.slug, ch.name, lower(ch.name), coalesce(sum(c.n), 0), NULL,"   \
    " NULL FROM children ch LEFT JOIN tree t ON t.child = ch.id LEFT JOIN (SELECT category_id,"    \
    " sum(n) AS n FROM g GROUP BY 1) c ON c.category_id = t.id GROUP BY ch.id, ch.slug, ch.name"   \
    " ORDER BY kind, sort, id"

/* Whether the counts kept with the writes hold the size of f's set
 * (migration 0016): only live active products are counted, per category
 * scope and in stock or not, so no filter but a category and in_stock. */
static bool kept(const struct product_filter *f) {
    return !f->include_inactive && !f->min_cents && !f->max_cents && !f->currency && !f->sku &&
           !f->pattern_count && !f->short_word_count && !f->extra_patterns && !f->attribute_count &&
           !f->option_count;
}

/* Whether they answer the summary, which counts both sides of in_stock. */
static bool counted(const struct product_filter *f) {
    return kept(f) && f->in_stock == -1;
}

/* " c.scope ..." : the kept counts' rows of the filtered category (its
 * scope counts its subtree, migration 0017), or of the whole catalog
 * (scope 0). */
static void add_scope(struct sql_builder *b, const struct product_filter *f) {
    sql_add_param(b, " c.scope = ?::bigint", f->category_ids ? f->category_id : "0");
}

/* children: the direct children of parent_id ("": the roots). */
static void add_children(struct sql_builder *b, const char *parent_id) {
    if (parent_id[0])
        sql_add_param(b,
                      "WITH RECURSIVE children AS (SELECT id, slug, name FROM categories"
                      " WHERE parent_id = ?::bigint),",
                      parent_id);
    else
        sql_add(b, "WITH RECURSIVE children AS (SELECT id, slug, name FROM categories"
                   " WHERE parent_id IS NULL),");
}

#define LIVE " p.is_active AND p.deleted_at IS NULL"

/* lim: the lowest and highest price, from the price index's ends (per
 * category: both ends of each category's range of the (category, price)
 * index). */
static void add_price_range(struct sql_builder *b, const struct product_filter *f) {
    if (!f->category_ids) {
        sql_add(b, " lim AS (SELECT min(p.price_cents) AS lo, max(p.price_cents) AS hi"
                   " FROM products p WHERE" LIVE "),");
        return;
    }
    sql_add_param(b,
                  " lim AS (SELECT min(lo.price_cents) AS lo, max(hi.price_cents) AS hi"
                  " FROM unnest(?::bigint[]) AS s(id)",
                  f->category_ids);
    sql_add(b, " CROSS JOIN LATERAL (SELECT p.price_cents FROM products p"
               " WHERE p.category_id = s.id AND" LIVE " ORDER BY p.price_cents LIMIT 1) lo"
               " CROSS JOIN LATERAL (SELECT p.price_cents FROM products p"
               " WHERE p.category_id = s.id AND" LIVE " ORDER BY p.price_cents DESC LIMIT 1) hi),");
}

/* buckets: products per price bucket; with no boundaries asked ("{0}"),
 * every product is in bucket 1, which the total counts. */
static void add_price_buckets(struct sql_builder *b, const struct product_filter *f,
                              const char *boundaries) {
    if (strcmp(boundaries, "{0}") == 0) {
        sql_add(b, " buckets AS (SELECT 1 AS bucket, total AS n FROM k)");
        return;
    }
    sql_add_param(b,
                  " buckets AS (SELECT width_bucket(p.price_cents, ?::bigint[]) AS bucket,"
                  " count(*) AS n FROM products p WHERE" LIVE,
                  boundaries);
    if (f->category_ids)
        sql_add_param(b, " AND p.category_id = ANY (?::bigint[])", f->category_ids);
    sql_add(b, " GROUP BY 1)");
}

/* The rows of facets_summary from the kept counts: k the total and in
 * stock, each child's from its own scope (which counts its subtree). Its
 * plan is the same for every category (index probes, one range of the
 * (category, price) index per category of the subtree): prepared,
 * planned once. */
static enum nx_err summary_counted(struct db *db, const struct product_filter *f,
                                   const char *parent_id, const char *boundaries, PGresult **out) {
    struct sql_builder b = {.prepare = true};
    add_children(&b, parent_id);
    sql_add(&b, " k AS (SELECT coalesce(sum(c.n) FILTER (WHERE c.term = 0), 0) AS total,"
                " coalesce(sum(c.n) FILTER (WHERE c.term = -1), 0) AS in_stock"
                " FROM facet_counts c WHERE c.term IN (0, -1) AND");
    add_scope(&b, f);
    sql_add(&b, "),");
    add_price_range(&b, f);
    add_price_buckets(&b, f, boundaries);
    sql_add(&b, " SELECT 0 AS kind, NULL::bigint AS id, NULL::text AS slug, NULL::text AS name,"
                " NULL::text AS sort, total AS n, in_stock AS a, total - in_stock AS b FROM k"
                " UNION ALL SELECT 1, bucket, NULL, NULL, NULL, n, lo, hi FROM buckets, lim"
                " WHERE lo IS NOT NULL"
                " UNION ALL SELECT 2, ch.id, ch.slug, ch.name, lower(ch.name),"
                " coalesce(sum(c.n), 0), NULL, NULL FROM children ch"
                " LEFT JOIN facet_counts c ON c.scope = ch.id AND c.term = 0"
                " GROUP BY ch.id, ch.slug, ch.name ORDER BY kind, sort, id");
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* The categories facet needs no FILTER of its own: only the filtered
 * category's children are counted, whose subtrees its filter holds. */
enum nx_err facets_summary(struct db *db, const struct product_filter *f, const char *parent_id,
                           const char *boundaries, PGresult **out) {
    if (counted(f))
        return summary_counted(db, f, parent_id, boundaries, out);
    struct sql_builder b = {0};
    add_children(&b, parent_id);
    sql_add(&b, CATEGORY_TREE);
    /* The in_stock filter is one of the two sides, not a third condition:
     * with option filters each side is a test of the variants, planned
     * once per time it is written. */
    const char *stock = f->in_stock == 1 ? "in_stock" : f->in_stock == 0 ? "out_of_stock" : "true";
    sql_add(&b, " g AS (SELECT category_id, bucket, count(*) FILTER (WHERE price AND ");
    sql_add(&b, stock);
    sql_add(&b, ") AS n, count(*) FILTER (WHERE ");
    sql_add(&b, stock);
    sql_add(&b, ") AS n_price, min(price_cents) FILTER (WHERE ");
    sql_add(&b, stock);
    sql_add(&b, ") AS lo, max(price_cents) FILTER (WHERE ");
    sql_add(&b, stock);
    sql_add(&b, ") AS hi, count(*) FILTER (WHERE price AND in_stock) AS n_in,"
                " count(*) FILTER (WHERE price AND out_of_stock) AS n_out");
    sql_add_param(&b,
                  " FROM (SELECT p.category_id, p.price_cents,"
                  " width_bucket(p.price_cents, ?::bigint[]) AS bucket, (true",
                  boundaries);
    products_add_price(&b, f);
    sql_add(&b, ") AS price, (true");
    struct product_filter side = *f;
    side.in_stock = 1;
    products_add_in_stock(&b, &side);
    sql_add(&b, ") AS in_stock, (true");
    side.in_stock = 0;
    products_add_in_stock(&b, &side);
    sql_add(&b, ") AS out_of_stock FROM products p");
    products_add_where(&b, f, &SKIP_PRICE_AND_STOCK);
    /* OFFSET 0 keeps the row's conditions a subquery of their own, each
     * computed once per row: pulled up, each FILTER that names one
     * computed it again (a hashed subplan of the variants each time). */
    sql_add(&b, " OFFSET 0");
    sql_add(&b, SUMMARY_SELECT);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* A product's in-stock option terms: from products_facets_idx, which
 * holds them unless the product has too many terms to fit an index entry
 * (migration 0040); then from the table, by id. */
#define OPTIONS_IN_STOCK                                                                           \
    "coalesce(p.facet_options_in_stock_head, nexus_product_options_in_stock(p.id))"

/* The arrays a count unnests, by enum facet_arrays and in_stock=true. */
static const char *const ARRAYS[][2] = {
    [FA_ATTRIBUTES] = {"p.facet_attributes", "p.facet_attributes"},
    [FA_OPTIONS] = {"p.facet_options", OPTIONS_IN_STOCK},
    [FA_BOTH] = {"p.facet_attributes || p.facet_options",
                 "p.facet_attributes || " OPTIONS_IN_STOCK},
};

/* c: products per term; pairs: per kind, key and value as the filters
 * compare them (migration 0016 keeps them with each term), the smallest
 * spellings; keys: the kept keys, ranked by their products, at most the
 * given number per kind; then each kept key's top values (ranked within
 * the key's number, so that only ties compare text). A product holds one
 * term per attribute key, one per option value however spelled and one
 * per option name (the empty value, migration 0036), so the sum over a
 * value's spellings counts products, and so does a name's term. */
#define TERMS_PAIRS                                                                                \
    " pairs AS (SELECT d.kind, d.lk, d.lv, min(d.name) AS name, min(d.value) AS value,"            \
    " sum(c.n) AS n FROM c JOIN facet_terms d ON d.id = c.id"
#define KEY_PRODUCTS "coalesce(sum(n) FILTER (WHERE lv = ''), sum(n))"
#define TERMS_KEYS                                                                                 \
    " GROUP BY 1, 2, 3), keys AS (SELECT kind, lk, min(name) AS name, " KEY_PRODUCTS " AS total,"  \
    " row_number() OVER (PARTITION BY kind ORDER BY " KEY_PRODUCTS " DESC, lk) AS kr FROM pairs"   \
    " GROUP BY kind, lk), kept AS (SELECT * FROM keys"
#define TERMS_TOP                                                                                  \
    "), ranked AS (SELECT p.kind, k.name AS key, p.value, p.n, k.total, k.kr,"                     \
    " row_number() OVER (PARTITION BY p.kind, k.kr ORDER BY p.n DESC, p.lv) AS r"                  \
    " FROM pairs p JOIN kept k ON k.kind = p.kind AND k.lk = p.lk WHERE p.lv <> '')"               \
    " SELECT kind, key, value, n, total FROM ranked WHERE r <= 20 ORDER BY kind, kr, r"

/* c from the counts kept with the writes: attributes and options, no
 * filter but a category (migrations 0016, 0017). */
static void add_counted_terms(struct sql_builder *b, const struct product_filter *f) {
    sql_add(b, "WITH c AS (SELECT c.term AS id, sum(c.n) AS n FROM facet_counts c"
               " WHERE c.term > 0 AND");
    add_scope(b, f);
    sql_add(b, " GROUP BY 1 HAVING sum(c.n) > 0),");
}

/* c from the matching products' terms. */
static void add_product_terms(struct sql_builder *b, const struct product_filter *f,
                              const struct filter_skip *skip, enum facet_arrays arrays) {
    /* unnest in the select list (ProjectSet): cheaper per element than a
     * lateral function scan */
    sql_add(b, "WITH c AS (SELECT t.id, count(*) AS n FROM (SELECT unnest(");
    sql_add(b, ARRAYS[arrays][f->in_stock == 1]);
    sql_add(b, ") AS id FROM products p");
    products_add_where(b, f, skip);
    sql_add(b, ") t GROUP BY t.id),");
}

enum nx_err facets_terms(struct db *db, const struct product_filter *f,
                         const struct filter_skip *skip, enum facet_arrays arrays,
                         const char *only_name, const char *attribute_keys,
                         const char *option_names, PGresult **out) {
    struct sql_builder b = {0};
    /* What is counted: f, without its option filters when they are
     * skipped (an option's own facet under its only filter), which the
     * kept counts may then answer. */
    struct product_filter rest = *f;
    if (skip->what == SKIP_OPTIONS)
        rest.option_count = 0;
    bool from_counts = (skip->what == SKIP_NONE || skip->what == SKIP_OPTIONS) &&
                       skip->attribute < 0 && skip->option < 0 && counted(&rest);
    /* the kept counts' plans are the same for every category: prepared */
    b.prepare = from_counts && arrays == FA_BOTH && !only_name;
    if (from_counts)
        add_counted_terms(&b, &rest);
    else
        add_product_terms(&b, f, skip, arrays);
    sql_add(&b, TERMS_PAIRS);
    /* the kept counts hold both kinds */
    sql_add(&b, arrays == FA_ATTRIBUTES ? " WHERE d.kind = 1"
                : arrays == FA_OPTIONS  ? " WHERE d.kind = 2"
                                        : " WHERE true");
    if (only_name && arrays == FA_ATTRIBUTES)
        sql_add_param(&b, " AND d.name = ?", only_name);
    else if (only_name)
        sql_add_param(&b, " AND d.lk = lower(?)", only_name);
    sql_add(&b, TERMS_KEYS);
    sql_add_param(&b, " WHERE kr <= CASE kind WHEN 1 THEN ?::integer", attribute_keys);
    sql_add_param(&b, " ELSE ?::integer END", option_names);
    sql_add(&b, TERMS_TOP);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* Read from the matching variants: a product counts once per value,
 * however many of its variants have it, and once per name. With option
 * filters and in_stock=false, a value counts the products none of whose
 * variants with it (and the other options) is in stock, as that filter
 * would. */
enum nx_err facets_options(struct db *db, const struct product_filter *f, int only,
                           const char *names, PGresult **out) {
    struct sql_builder b = {0};
    struct filter_skip skip = {SKIP_OPTIONS | (f->in_stock == 0 ? SKIP_IN_STOCK : 0), -1, -1};
    sql_add(&b, "WITH matches AS (SELECT p.id, lower(e.key) AS lk, lower(e.value) AS lv,"
                " min(e.key) AS name, min(e.value) AS value FROM products p JOIN product_variants v"
                " ON v.product_id = p.id");
    products_add_variant_match(&b, f, only, f->in_stock == 1);
    sql_add(&b, " CROSS JOIN LATERAL jsonb_each_text(v.options) e");
    products_add_where(&b, f, &skip);
    if (only >= 0)
        sql_add_param(&b, " AND lower(e.key) = lower(?)", f->options[only].name);
    sql_add(&b, " GROUP BY 1, 2, 3");
    if (f->in_stock == 0)
        sql_add(&b, " HAVING NOT bool_or(v.stock > 0)");
    /* matches holds a product once per (key, value): a pair counts its
     * rows (hashed, no sort), a key its distinct products */
    sql_add(&b, "), pairs AS (SELECT lk AS key, lv, min(name) AS name, min(value) AS value,"
                " count(*) AS n FROM matches");
    sql_add_param(&b,
                  " GROUP BY 1, 2), keys AS (SELECT lk AS key, min(name) AS name,"
                  " count(DISTINCT id) AS total FROM matches GROUP BY 1"
                  " ORDER BY total DESC, key LIMIT ?::integer),"
                  " ranked AS (SELECT keys.name AS key, pairs.value, pairs.n, keys.total,"
                  " keys.key AS lk, row_number() OVER (PARTITION BY pairs.key ORDER BY pairs.n"
                  " DESC, pairs.lv) AS r FROM pairs JOIN keys ON keys.key = pairs.key)"
                  " SELECT 2 AS kind, key, value, n, total FROM ranked WHERE r <= 20"
                  " ORDER BY total DESC, lk, r",
                  names);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* While a bulk load's derived data waits for its rebuild (migration
 * 0020) the kept counts lag behind the products: the flag, read in the
 * same snapshot as the counts, says so. */
static struct db_stmt SQL_KEPT_TOTAL = {
    "SELECT EXISTS (SELECT FROM derived_rebuild_pending),"
    " coalesce(sum(n) FILTER (WHERE term = 0), 0), coalesce(sum(n) FILTER (WHERE term = -1), 0)"
    " FROM facet_counts WHERE scope = $1::bigint AND term IN (0, -1)",
    1, 0};

enum nx_err facets_kept_total(struct db *db, const struct product_filter *f, bool *known,
                              long long *total) {
    *known = false;
    if (!kept(f))
        return NX_OK;
    const char *params[] = {f->category_ids ? f->category_id : "0"};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_KEPT_TOTAL, params, &r);
    if (e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "f") == 0) {
        long long all = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        long long stocked = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        *total = f->in_stock == 1 ? stocked : f->in_stock == 0 ? all - stocked : all;
        *known = true;
    }
    PQclear(r);
    return e;
}
