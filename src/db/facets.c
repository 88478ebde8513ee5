/*
 * facets.c -- SQL for the facet counts.
 *
 * Each function is one aggregate over the products that match a filter
 * with one part left out; the WHERE clause is the list's own
 * (products_add_where), so a facet counts exactly what the list would
 * show with that value chosen. Attribute and option values group
 * case-insensitively, as the filters compare them, and show the smallest
 * spelling.
 */
#include "nexus/db/facets.h"

#include <string.h>

static const struct filter_skip SKIP_CATEGORY_ONLY = {SKIP_CATEGORY, -1, -1};
static const struct filter_skip SKIP_PRICE_ONLY = {SKIP_PRICE, -1, -1};
static const struct filter_skip SKIP_IN_STOCK_ONLY = {SKIP_IN_STOCK, -1, -1};

/* The children and, recursively, every category under each. */
#define CATEGORY_TREE                                                                              \
    " tree AS (SELECT id AS child, id FROM children UNION ALL"                                     \
    " SELECT t.child, c.id FROM categories c JOIN tree t ON c.parent_id = t.id),"                  \
    " counts AS (SELECT p.category_id, count(*) AS n FROM products p"
#define CATEGORY_SELECT                                                                            \
    " AND p.category_id IN (SELECT id FROM tree) GROUP BY p.category_id)"                          \
    " SELECT ch.id, ch.slug, ch.name, coalesce(sum(counts.n), 0) FROM children ch"                 \
    " LEFT JOIN tree t ON t.child = ch.id LEFT JOIN counts ON counts.category_id = t.id"           \
    " GROUP BY ch.id, ch.slug, ch.name ORDER BY lower(ch.name), ch.id"

enum nx_err facets_categories(struct db *db, const struct product_filter *f, const char *parent_id,
                              PGresult **out) {
    struct sql_builder b = {0};
    if (parent_id[0])
        sql_add_param(&b,
                      "WITH RECURSIVE children AS (SELECT id, slug, name FROM categories"
                      " WHERE parent_id = ?::bigint),",
                      parent_id);
    else
        sql_add(&b, "WITH RECURSIVE children AS (SELECT id, slug, name FROM categories"
                    " WHERE parent_id IS NULL),");
    sql_add(&b, CATEGORY_TREE);
    products_add_where(&b, f, &SKIP_CATEGORY_ONLY);
    sql_add(&b, CATEGORY_SELECT);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err facets_price(struct db *db, const struct product_filter *f, const char *boundaries,
                         PGresult **out) {
    struct sql_builder b = {0};
    sql_add_param(&b, "SELECT width_bucket(p.price_cents, ?::bigint[]) AS bucket, count(*),",
                  boundaries);
    sql_add(&b, " min(p.price_cents), max(p.price_cents) FROM products p");
    products_add_where(&b, f, &SKIP_PRICE_ONLY);
    sql_add(&b, " GROUP BY bucket ORDER BY bucket");
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* With option filters, in stock means that a variant matching them all is
 * in stock (the list's rule for in_stock=true). */
enum nx_err facets_in_stock(struct db *db, const struct product_filter *f, PGresult **out) {
    struct sql_builder b = {0};
    sql_add(&b, "SELECT count(*) FILTER (WHERE p.stock > 0");
    if (f->option_count) {
        sql_add(&b, " AND EXISTS (SELECT FROM product_variants v WHERE v.product_id = p.id");
        products_add_variant_match(&b, f, -1, true);
        sql_add(&b, ")");
    }
    sql_add(&b, "), count(*) FILTER (WHERE p.stock = 0) FROM products p");
    products_add_where(&b, f, &SKIP_IN_STOCK_ONLY);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* pairs (key, lv, value, n) -> the top keys and their top values. */
#define TOP_VALUES                                                                                 \
    " GROUP BY 1, 2), keys AS (SELECT key, sum(n) AS total FROM pairs GROUP BY key"                \
    " ORDER BY total DESC, key LIMIT ?::integer), ranked AS (SELECT pairs.key, pairs.value,"       \
    " pairs.n, keys.total, row_number() OVER (PARTITION BY pairs.key ORDER BY pairs.n DESC,"       \
    " pairs.lv) AS r FROM pairs JOIN keys ON keys.key = pairs.key)"                                \
    " SELECT key, value, n, total FROM ranked WHERE r <= 20 ORDER BY total DESC, key, r"

/* One key's values (only >= 0) read the key alone; all keys unnest the
 * attributes of every matching product. */
enum nx_err facets_attributes(struct db *db, const struct product_filter *f, int only,
                              const char *keys, PGresult **out) {
    struct sql_builder b = {0};
    struct filter_skip skip = {SKIP_NONE, only, -1};
    if (only >= 0) {
        sql_add_param(&b, "WITH pairs AS (SELECT ?::text AS key,", f->attributes[only].key);
        sql_add(&b, " lower(e.value) AS lv, min(e.value) AS value, count(*) AS n FROM products p"
                    " CROSS JOIN LATERAL (SELECT p.attributes ->> $1 AS value) e");
        products_add_where(&b, f, &skip);
        sql_add(&b, " AND e.value IS NOT NULL");
    } else {
        sql_add(&b, "WITH pairs AS (SELECT e.key, lower(e.value) AS lv, min(e.value) AS value,"
                    " count(*) AS n FROM products p CROSS JOIN LATERAL"
                    " jsonb_each_text(p.attributes) e");
        products_add_where(&b, f, &skip);
    }
    sql_add_param(&b, TOP_VALUES, keys);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* A product counts once per value, however many of its variants have it;
 * a name ranks by the sum of its values' counts. */
enum nx_err facets_options(struct db *db, const struct product_filter *f, int only,
                           const char *names, PGresult **out) {
    struct sql_builder b = {0};
    struct filter_skip skip = {SKIP_OPTIONS, -1, -1};
    sql_add(&b, "WITH matches AS (SELECT DISTINCT p.id, lower(e.key) AS lk, lower(e.value) AS lv,"
                " e.key AS name, e.value FROM products p JOIN product_variants v"
                " ON v.product_id = p.id");
    products_add_variant_match(&b, f, only, f->in_stock == 1);
    sql_add(&b, " CROSS JOIN LATERAL jsonb_each_text(v.options) e");
    products_add_where(&b, f, &skip);
    if (only >= 0)
        sql_add_param(&b, " AND lower(e.key) = lower(?)", f->options[only].name);
    sql_add(&b, "), pairs AS (SELECT lk AS key, lv, min(name) AS name, min(value) AS value,"
                " count(DISTINCT id) AS n FROM matches");
    sql_add_param(&b,
                  " GROUP BY 1, 2), keys AS (SELECT key, min(name) AS name, sum(n) AS total"
                  " FROM pairs GROUP BY key ORDER BY total DESC, key LIMIT ?::integer),"
                  " ranked AS (SELECT keys.name AS key, pairs.value, pairs.n, keys.total,"
                  " keys.key AS lk, row_number() OVER (PARTITION BY pairs.key ORDER BY pairs.n"
                  " DESC, pairs.lv) AS r FROM pairs JOIN keys ON keys.key = pairs.key)"
                  " SELECT key, value, n, total FROM ranked WHERE r <= 20"
                  " ORDER BY total DESC, lk, r",
                  names);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}
