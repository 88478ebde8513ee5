/*
 * products.c -- SQL for the products table.
 *
 * The list query is assembled from the constant fragments below: one per
 * filter and per sort order. Every sort has a partial index on
 * (sort value, id) over what the public sees, so a page after a cursor is
 * an index range scan whatever its depth.
 */
#include "nexus/db/products.h"

#include "nexus/core/log.h"
#include "nexus/core/parse.h"
#include "nexus/db/itemplan.h"
#include "nexus/db/variants.h"
#include "nexus/db/wordplan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a product derives from its variants (migration 0010). */
#define DERIVED_COLUMNS                                                                            \
    "p.price_max_cents, p.variant_count, p.variant_active_count, p.variant_options"
#define PRODUCT_COLUMNS                                                                            \
    "p.id, p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock,"              \
    " p.is_active, p.category_id, c.name, c.slug, " NX_SQL_TIMESTAMP(                              \
        "p.created_at") ", " NX_SQL_TIMESTAMP("p.updated_at") ", lower(p.name), p.attributes,"     \
                                                              " p.images, " DERIVED_COLUMNS
/* One product's category, by a probe of its key: for a statement of one
 * product the planner would rather hash the whole (small) table every
 * time, about a tenth of an item read's cost in PostgreSQL. OFFSET 0 keeps
 * the subquery from being pulled up into that join. */
#define PRODUCT_FROM                                                                               \
    " FROM products p LEFT JOIN LATERAL (SELECT name, slug FROM categories"                        \
    " WHERE id = p.category_id OFFSET 0) c ON true"
/* A page is chosen from products alone; only its rows are joined. */
#define PAGE_COLUMNS                                                                               \
    "p.id, p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock,"              \
    " p.is_active, p.category_id, p.created_at, p.updated_at, p.attributes, "                      \
    "p.images, " DERIVED_COLUMNS
#define PAGE_JOIN ") p LEFT JOIN categories c ON c.id = p.category_id"
/* Rows a search walks in sort order before it asks the word indexes
 * instead: a short walk, then, when that found some matches but not a
 * page, a longer one (see products_list). */
static const char *const SEARCH_WALKS[] = {" LIMIT 1000", " LIMIT 10000"};

static struct db_stmt SQL_GET = {
    "SELECT " PRODUCT_COLUMNS PRODUCT_FROM " WHERE p.id = $1 AND p.deleted_at IS NULL", 1, 0};
/* A product item in one round trip: the product's columns repeated on one
 * row per variant the caller may see (a LEFT JOIN: one row of NULL
 * variant columns when there is none), in variant order. */
#define ITEM_SELECT "SELECT " PRODUCT_COLUMNS ", " NX_VARIANT_COLUMNS PRODUCT_FROM
#define ITEM_WHERE  " WHERE p.id = $1 AND p.deleted_at IS NULL ORDER BY v.position, v.id"
#define ITEM_VARIANTS_OF_P                                                                         \
    " v.product_id = p.id AND v.deleted_at IS NULL AND (v.is_active OR $2::boolean)"
/* A product with one live variant holds its columns (migration 0028): the
 * variants table is read only for the others. Each branch's condition on
 * the product alone is a one-time filter, so the other is never run. */
static struct db_stmt SQL_GET_ITEM = {
    ITEM_SELECT " LEFT JOIN LATERAL (SELECT p.solo_variant_id AS id, p.id AS product_id, p.sku,"
                " p.price_cents, p.solo_stock AS stock, p.solo_options AS options,"
                " p.solo_is_active AS is_active, p.solo_position AS position,"
                " p.solo_created_at AS created_at, p.solo_updated_at AS updated_at"
                " WHERE p.solo_variant_id IS NOT NULL AND (p.solo_is_active OR $2::boolean)"
                " UNION ALL SELECT v.id, v.product_id, v.sku, v.price_cents, v.stock, v.options,"
                " v.is_active, v.position, v.created_at, v.updated_at"
                " FROM product_variants v WHERE" ITEM_VARIANTS_OF_P
                " AND p.solo_variant_id IS NULL) v ON true" ITEM_WHERE,
    2, 0};
/* The item of a product whose one live variant the caller may see, from
 * the product's row alone: the columns of SQL_GET_ITEM, the variant's from
 * the solo columns. No row for any other product (db/itemplan.h). */
static struct db_stmt SQL_GET_ITEM_FLAT = {
    "SELECT " PRODUCT_COLUMNS ", p.solo_variant_id, p.id, p.sku, p.price_cents, p.currency,"
    " p.solo_stock, p.solo_options, p.solo_is_active, p.solo_position, " NX_SQL_TIMESTAMP(
        "p.solo_created_at") ", " NX_SQL_TIMESTAMP("p.solo_updated_at") PRODUCT_FROM
    " WHERE p.id = $1 AND p.deleted_at IS NULL AND p.solo_variant_id IS NOT NULL"
    " AND (p.solo_is_active OR $2::boolean)",
    2, 0};
/* The same, the product's row locked, the variants read from their table:
 * a write's first statement. */
static struct db_stmt SQL_GET_ITEM_FOR_UPDATE = {
    ITEM_SELECT " LEFT JOIN product_variants v ON" ITEM_VARIANTS_OF_P ITEM_WHERE " FOR UPDATE OF p",
    2, 0};
static struct db_stmt SQL_GET_BY_SLUG = {
    "SELECT " PRODUCT_COLUMNS PRODUCT_FROM " WHERE p.slug = $1 AND p.deleted_at IS NULL", 1, 0};
static struct db_stmt SQL_GET_FOR_UPDATE = {"SELECT " PRODUCT_COLUMNS PRODUCT_FROM
                                            " WHERE p.id = $1 AND p.deleted_at IS NULL"
                                            " FOR UPDATE OF p",
                                            1, 0};
static struct db_stmt SQL_INSERT = {
    "WITH p AS (INSERT INTO products (sku, name, slug, description, price_cents, currency,"
    " stock, category_id, is_active, attributes, images) VALUES ($1, $2, $3, $4, $5::bigint,"
    " $6, $7::integer, NULLIF($8, '')::bigint, $9::boolean, $10::jsonb, $11::jsonb) RETURNING *)"
    " SELECT " PRODUCT_COLUMNS " FROM p LEFT JOIN categories c ON c.id = p.category_id",
    11, 0};
static struct db_stmt SQL_UPDATE = {
    "WITH p AS (UPDATE products SET sku = COALESCE($2, sku), name = COALESCE($3, name),"
    " slug = COALESCE($4, slug), description = COALESCE($5, description),"
    " price_cents = COALESCE($6::bigint, price_cents), currency = COALESCE($7, currency),"
    " stock = COALESCE($8::integer, stock),"
    " category_id = CASE WHEN $9::boolean THEN NULLIF($10, '')::bigint ELSE category_id END,"
    " is_active = COALESCE($11::boolean, is_active),"
    " attributes = COALESCE($12::jsonb, attributes), images = COALESCE($13::jsonb, images),"
    " version = version + 1"
    " WHERE id = $1 AND deleted_at IS NULL RETURNING *)"
    " SELECT " PRODUCT_COLUMNS " FROM p LEFT JOIN categories c ON c.id = p.category_id",
    13, 0};
static struct db_stmt SQL_DELETE = {"UPDATE products SET deleted_at = now(), version = version + 1"
                                    " WHERE id = $1 AND deleted_at IS NULL",
                                    1, 0};
static struct db_stmt SQL_SLUGS_AMONG = {
    "SELECT slug FROM products WHERE deleted_at IS NULL AND slug = ANY($1::text[])"
    " AND id IS DISTINCT FROM $2::bigint",
    2, 0};

/* The positions (from 1) of the SKUs of $1 that live variants hold. */
static struct db_stmt SQL_SKUS_HELD = {
    "SELECT DISTINCT u.n FROM unnest($1::text[], $2::bigint[]) AS u(sku, n) WHERE EXISTS"
    " (SELECT 1 FROM product_variants v WHERE v.sku = u.sku AND v.deleted_at IS NULL)",
    2, 0};
/* The live products holding the SKUs of $1, locked in id order, as a
 * write through the API locks its product: one that a concurrent write
 * deleted or changed meanwhile is seen as that write left it by every
 * later statement of the transaction. */
static struct db_stmt SQL_LOCK_SKU_OWNERS = {
    "SELECT p.id FROM products p WHERE p.id IN (SELECT v.product_id FROM product_variants v"
    " WHERE v.sku = ANY ($1::text[]) AND v.deleted_at IS NULL) AND p.deleted_at IS NULL"
    " ORDER BY p.id FOR NO KEY UPDATE OF p",
    1, 0};
static struct db_stmt SQL_SLUGS_TAKEN = {
    "SELECT slug FROM products WHERE deleted_at IS NULL AND slug = ANY($1::text[])", 1, 0};

static int limit_rows(const char *limit) {
    int64_t n = 0;
    parse_i64(limit, strlen(limit), 0, 1000, &n);
    return (int)n;
}

/* Per sort order: the keyset comparison after a cursor, the ORDER BY that
 * walks the sort's index, and one that the planner cannot serve from the
 * index (same order), which makes it collect matches from the word index
 * and sort them. */
static const struct {
    const char *after;
    const char *order;
    const char *order_unindexed;
} SORTS[] = {
    [PS_CREATED] = {" AND (p.created_at, p.id) > (?::timestamptz,", " ORDER BY p.created_at, p.id",
                    " ORDER BY p.created_at + interval '0', p.id"},
    [PS_CREATED_DESC] = {" AND (p.created_at, p.id) < (?::timestamptz,",
                         " ORDER BY p.created_at DESC, p.id DESC",
                         " ORDER BY p.created_at + interval '0' DESC, p.id DESC"},
    [PS_PRICE] = {" AND (p.price_cents, p.id) > (?::bigint,", " ORDER BY p.price_cents, p.id",
                  " ORDER BY p.price_cents + 0, p.id"},
    [PS_PRICE_DESC] = {" AND (p.price_cents, p.id) < (?::bigint,",
                       " ORDER BY p.price_cents DESC, p.id DESC",
                       " ORDER BY p.price_cents + 0 DESC, p.id DESC"},
    [PS_NAME] = {" AND (lower(p.name), p.id) > (?::text,", " ORDER BY lower(p.name), p.id",
                 " ORDER BY lower(p.name) || '', p.id"},
    [PS_NAME_DESC] = {" AND (lower(p.name), p.id) < (?::text,",
                      " ORDER BY lower(p.name) DESC, p.id DESC",
                      " ORDER BY lower(p.name) || '' DESC, p.id DESC"},
};

static const struct filter_skip NO_SKIP = {SKIP_NONE, -1, -1};
static const struct filter_skip SKIP_DISCOVERY_ONLY = {SKIP_DISCOVERY, -1, -1};

/* attr.* and option.* filters: like words, their share of the rows is
 * unknown to the planner (its estimate for an overlap of terms, and of
 * option filters that only hold together, is off by orders of
 * magnitude), so a page asks them the way it asks a search. */
static bool has_discovery(const struct product_filter *f) {
    return f->attribute_count || f->option_count;
}

/* Conditions in two forms: for a plan that finds rows through the terms
 * indexes (migration 0012), and for rows already at hand (a walk of a
 * sort index), where computing every term of a row would cost more than
 * looking the one key up. Both compare lower-cased text. */
enum form { INDEXED, WALKED };

/* A walked row's value among a filter's values (a text[] literal), the
 * values lowered once per statement: in a generic plan a function of a
 * parameter runs again for every row tested. (The cast makes the
 * sub-select one array, not a set of rows to compare.) */
#define WALKED_VALUES " = ANY ((SELECT array_agg(lower(x)) FROM unnest(?::text[]) AS x)::text[])"

/* Every option filter but skip_option, over v (a variant, or an entry of
 * product_option_order, which carries the variant's options_key). */
static void option_values(struct sql_builder *b, const struct product_filter *f, int skip_option,
                          enum form form) {
    for (size_t i = 0; i < f->option_count; i++) {
        if ((int)i == skip_option)
            continue;
        if (form == INDEXED)
            sql_add_param(b, " AND nexus_option_terms(v.options) && nexus_option_query(?,",
                          f->options[i].name);
        else /* options_key: the options lower-cased, names included */
            sql_add_param(b, " AND (v.options_key::jsonb ->> (SELECT lower(?)))",
                          f->options[i].name);
        sql_add_param(b, form == INDEXED ? " ?::text[])" : WALKED_VALUES, f->options[i].values);
    }
}

static void variant_match(struct sql_builder *b, const struct product_filter *f, int skip_option,
                          bool in_stock, enum form form) {
    sql_add(b, " AND v.deleted_at IS NULL AND v.is_active");
    option_values(b, f, skip_option, form);
    if (in_stock)
        sql_add(b, " AND v.stock > 0");
}

void products_add_variant_match(struct sql_builder *b, const struct product_filter *f,
                                int skip_option, bool in_stock) {
    variant_match(b, f, skip_option, in_stock, INDEXED);
}

/* attr.<key>.min/.max: found in product_attribute_numbers (migration
 * 0012) by a plan that looks rows up, checked on the row by a walk. The
 * planner guesses a range's share of one key's numbers from every key's,
 * often 20 times too many: for a range the walks found rare it joined
 * every product to the numbers (130 ms for 5,000 matches at a million
 * products); their ids gathered first are looked up by the primary key
 * instead (47 ms). Not for a count, which may be of most products (a
 * hash join 0.4 s, the ids looked up 1.5 s). */
static void add_range(struct sql_builder *b, const struct attribute_filter *a, enum form form,
                      bool rare) {
    if (form == INDEXED) {
        sql_add_param(b,
                      rare ? " AND p.id = ANY (ARRAY(SELECT n.product_id FROM"
                             " product_attribute_numbers n WHERE n.key = ?"
                           : " AND p.id IN (SELECT n.product_id FROM product_attribute_numbers n"
                             " WHERE n.key = ?",
                      a->key);
        if (a->min)
            sql_add_param(b, " AND n.value >= ?::numeric", a->min);
        if (a->max)
            sql_add_param(b, " AND n.value <= ?::numeric", a->max);
        sql_add(b, rare ? "))" : ")");
        return;
    }
    if (a->min) {
        sql_add_param(b, " AND nexus_attribute_number(p.attributes, ?)", a->key);
        sql_add_param(b, " >= ?::numeric", a->min);
    }
    if (a->max) {
        sql_add_param(b, " AND nexus_attribute_number(p.attributes, ?)", a->key);
        sql_add_param(b, " <= ?::numeric", a->max);
    }
}

/* Whether a filter besides the attr.* ranges can lead a plan to its rows
 * (a category, a word, an attribute's or an option's values). The walks
 * finding the whole set rare then says nothing of the ranges' own share,
 * which may be most products: their ids gathered first and looked up one
 * by one took seconds (a rare option beside a range of two thirds of the
 * catalog: 1.1 s at 100,000 products). */
static bool narrowed_beside_ranges(const struct product_filter *f) {
    if (f->category_ids || f->pattern_count || f->option_count)
        return true;
    for (size_t i = 0; i < f->attribute_count; i++)
        if (f->attributes[i].values)
            return true;
    return false;
}

/* attr.*: the values through the terms index (migration 0012); a range
 * on the number, checked on the rows the other conditions leave. */
static void add_attributes(struct sql_builder *b, const struct product_filter *f, int skip,
                           enum form form) {
    for (size_t i = 0; i < f->attribute_count; i++) {
        const struct attribute_filter *a = &f->attributes[i];
        if ((int)i == skip)
            continue;
        if (a->values && form == INDEXED) {
            sql_add_param(b, " AND nexus_attribute_terms(p.attributes) && nexus_attribute_query(?,",
                          a->key);
            sql_add_param(b, " ?::text[])", a->values);
        }
        if (a->values && form == WALKED) {
            sql_add_param(b, " AND lower(p.attributes ->> ?)", a->key);
            sql_add_param(b, WALKED_VALUES, a->values);
        }
        if (a->min || a->max)
            add_range(b, a, form, f->ranges_rare);
    }
}

/* The one option filter but skip_option, or -1 when there are more (or
 * none): several are found together by intersecting their terms in the
 * variants' GIN index, fewer rows than any one term's entries. */
static int only_option_but(const struct product_filter *f, int skip_option) {
    int found = -1;
    for (size_t i = 0; i < f->option_count; i++) {
        if ((int)i == skip_option)
            continue;
        if (found >= 0)
            return -1;
        found = (int)i;
    }
    return found;
}

/* " EXISTS (...)": a variant of p holds every option filter but
 * skip_option, and is in stock with in_stock. With f->option_entries and
 * one such filter, from the entries of its terms in product_option_order,
 * which carry whether the variant is in stock: an index-only scan, where
 * the variants the GIN index finds are read from the heap (336,000 of
 * them for "Size M" at 1,000,000 products, about a second). */
static void add_variant_exists(struct sql_builder *b, const struct product_filter *f,
                               int skip_option, bool in_stock, enum form form) {
    int entry = f->option_entries && !f->include_inactive && form == INDEXED
                    ? only_option_but(f, skip_option)
                    : -1;
    if (entry < 0) {
        sql_add(b, " EXISTS (SELECT FROM product_variants v WHERE v.product_id = p.id");
        variant_match(b, f, skip_option, in_stock, form);
        sql_add(b, ")");
        return;
    }
    sql_add(b, " EXISTS (SELECT FROM product_option_order v WHERE v.product_id = p.id");
    sql_add_param(b, " AND v.term = ANY (nexus_option_query(?,", f->options[entry].name);
    sql_add_param(b, " ?::text[]))", f->options[entry].values);
    if (in_stock)
        sql_add(b, " AND v.in_stock");
    sql_add(b, ")");
}

/* option.*: one variant holds them all ("size M in red"), and with
 * in_stock=true that variant is in stock. */
static void add_options(struct sql_builder *b, const struct product_filter *f, int skip,
                        bool in_stock, enum form form) {
    if (f->option_count == 0 || (f->option_count == 1 && skip == 0))
        return;
    sql_add(b, " AND");
    add_variant_exists(b, f, skip, in_stock, form);
}

static void add_discovery(struct sql_builder *b, const struct product_filter *f,
                          const struct filter_skip *skip, enum form form);

/* min_price above max_price matches nothing. Said as a constant, the
 * plan reads no row; as two bounds it scanned the table for none. */
static bool price_range_empty(const struct product_filter *f) {
    return f->min_cents && f->max_cents &&
           strtoll(f->min_cents, NULL, 10) > strtoll(f->max_cents, NULL, 10);
}

void products_add_price(struct sql_builder *b, const struct product_filter *f) {
    if (price_range_empty(f))
        sql_add(b, " AND false");
    if (f->min_cents)
        sql_add_param(b, " AND p.price_cents >= ?::bigint", f->min_cents);
    if (f->max_cents)
        sql_add_param(b, " AND p.price_cents <= ?::bigint", f->max_cents);
}

/* in_stock=false: with option.* filters (those not skipped), no variant
 * that holds them is in stock, so that in_stock=true and =false split the
 * products the options find; without, the product is out of stock. */
static void add_out_of_stock(struct sql_builder *b, const struct product_filter *f,
                             int skip_option) {
    if (f->option_count == 0 || (f->option_count == 1 && skip_option == 0)) {
        sql_add(b, " AND NOT p.in_stock");
        return;
    }
    sql_add(b, " AND NOT");
    add_variant_exists(b, f, skip_option, true, INDEXED);
}

void products_add_in_stock(struct sql_builder *b, const struct product_filter *f) {
    if (f->in_stock == 0)
        add_out_of_stock(b, f, -1);
    if (f->in_stock != 1)
        return;
    sql_add(b, " AND p.in_stock");
    if (f->option_count) {
        sql_add(b, " AND");
        add_variant_exists(b, f, -1, true, INDEXED);
    }
}

/* Whether the filtered category has no subcategories. */
static bool one_category(const struct product_filter *f) {
    return f->category_id && !strchr(f->category_ids, ',');
}

/* A category without subcategories is matched with =: the planner then
 * reads its range of a (category, sort key) index in order and stops at
 * the page. = ANY of a subtree promises no order, so for such a category
 * it walked the whole catalog's sort index, passing the other
 * categories' rows. */
static void add_category(struct sql_builder *b, const struct product_filter *f) {
    if (one_category(f))
        sql_add_param(b, " AND p.category_id = ?::bigint", f->category_id);
    else
        sql_add_param(b, " AND p.category_id = ANY (?::bigint[])", f->category_ids);
}

void products_add_filters(struct sql_builder *b, const struct product_filter *f,
                          const struct filter_skip *skip) {
    sql_add(b, " WHERE p.deleted_at IS NULL");
    if (!f->include_inactive)
        sql_add(b, " AND p.is_active");
    else if (f->inactive_only)
        sql_add(b, " AND NOT p.is_active");
    else if (f->category_ids && !(skip->what & SKIP_CATEGORY))
        /* The indexes by category hold active products only, and inactive
         * ones have their own (migration 0039): the two arms let a staff
         * count or facets over a few categories read both (a BitmapOr),
         * where one condition read the whole table (80-200 ms for a
         * category of 3 products at 100,000). */
        sql_add(b, " AND (p.is_active OR NOT p.is_active)");
    if (f->category_ids && !(skip->what & SKIP_CATEGORY))
        add_category(b, f);
    if (!(skip->what & SKIP_PRICE))
        products_add_price(b, f);
    if (f->in_stock == 1 && !(skip->what & SKIP_IN_STOCK))
        sql_add(b, " AND p.in_stock");
    if (f->in_stock == 0 && !(skip->what & SKIP_IN_STOCK)) {
        struct product_filter no_options = *f;
        no_options.option_count = 0;
        add_out_of_stock(b, skip->what & SKIP_OPTIONS ? &no_options : f, skip->option);
    }
    if (f->currency)
        sql_add_param(b, " AND p.currency = ?", f->currency);
    if (f->sku) /* a probe of product_variants_sku_key, then the product by its key */
        sql_add_param(b,
                      " AND p.id IN (SELECT v.product_id FROM product_variants v"
                      " WHERE v.sku = ? AND v.deleted_at IS NULL)",
                      f->sku);
    if (!(skip->what & SKIP_DISCOVERY))
        add_discovery(b, f, skip, INDEXED);
}

/* Whether an attr.<key>=values filter is there to find the rows. */
static bool has_attribute_values(const struct product_filter *f, int skip) {
    for (size_t i = 0; i < f->attribute_count; i++)
        if ((int)i != skip && f->attributes[i].values)
            return true;
    return false;
}

/* When attribute values find the rows, their few products are checked
 * for the options one by one (through the variants' product index):
 * the planner, unable to tell which side is rarer, otherwise hashed
 * every variant with the option (67,000 of them for "Size M" at 200,000
 * products) to keep 31 of 110 products. */
static void add_discovery(struct sql_builder *b, const struct product_filter *f,
                          const struct filter_skip *skip, enum form form) {
    add_attributes(b, f, skip->attribute, form);
    enum form options = has_attribute_values(f, skip->attribute) ? WALKED : form;
    if (!(skip->what & SKIP_OPTIONS))
        add_options(b, f, skip->option, f->in_stock == 1 && !(skip->what & SKIP_IN_STOCK), options);
}

static void add_filters(struct sql_builder *b, const struct product_filter *f) {
    products_add_filters(b, f, &NO_SKIP);
}

/* Each word: LIKE of the stored lower-cased text (migration 0022), which
 * answers what ILIKE over name and description does, with the word
 * lowered; trigram-indexed (migration 0029). With keyed, not for a word
 * whose key in the index of characters and pairs decides it exactly (the
 * caller asks that index for it). A plan made for any value lowers each
 * word once (a sub-select) instead of for every row it checks; a plan made
 * for the values sees the lowered word itself, and estimates from it. */
static void add_words(struct sql_builder *b, const struct product_filter *f, bool keyed) {
    const char *word = b->prepare ? " AND p.search_text LIKE (SELECT lower(?))"
                                  : " AND p.search_text LIKE lower(?)";
    for (size_t i = 0; i < f->pattern_count && i < NX_SEARCH_WORDS_INDEXED; i++)
        if (!keyed || !f->keyed_exactly[i])
            sql_add_param(b, word, f->patterns[i]);
    if (f->extra_patterns) /* lower-casing the array's text lower-cases each word */
        sql_add_param(b,
                      b->prepare ? " AND p.search_text LIKE ALL ((SELECT lower(?))::text[])"
                                 : " AND p.search_text LIKE ALL (lower(?)::text[])",
                      f->extra_patterns);
}

/* The words, for a walk of the sort index that checks every row it
 * passes: the same test on the stored lower-cased text (migration 0022),
 * which spares lowering name and description per row. Each word is
 * lowered once per statement (a sub-select): in a generic plan, lower()
 * of a parameter would run again for every row tested. */
static void add_walked_words(struct sql_builder *b, const struct product_filter *f) {
    for (size_t i = 0; i < f->pattern_count && i < NX_SEARCH_WORDS_INDEXED; i++)
        sql_add_param(b, " AND p.search_text LIKE (SELECT lower(?))", f->patterns[i]);
    if (f->extra_patterns) /* lower-casing the array's text lower-cases each word */
        sql_add_param(b, " AND p.search_text LIKE ALL ((SELECT lower(?))::text[])",
                      f->extra_patterns);
}

/* The words, for a plan that reads them from an index: a word without a
 * trigram is also looked up in the index of characters and character
 * pairs (migrations 0006 and 0018), which holds what its LIKE needs. Only
 * for such plans: computed per row, the pairs would cost more than the
 * LIKE they narrow. */
static size_t indexed_word_count(const struct product_filter *f) {
    return f->pattern_count < NX_SEARCH_WORDS_INDEXED ? f->pattern_count : NX_SEARCH_WORDS_INDEXED;
}

/* Whether the one-character words are checked on each row the other words
 * find rather than asked of the index of characters and pairs: when
 * there are other words. A character's key is in most products, so the
 * index reads most of its entries for it; and where PostgreSQL reads the
 * other words from the trigram index, it tested the character's key as a
 * filter, computing every row's keys (about 40 µs a row: `q=iris 5` took
 * 90 ms at a million products, against 3 ms for `q=iris`). */
static bool characters_checked_per_row(const struct product_filter *f) {
    size_t ones = 0, n = indexed_word_count(f);
    for (size_t i = 0; i < n; i++)
        ones += f->one_character[i];
    return ones && ones < n;
}

static void add_indexed_words(struct sql_builder *b, const struct product_filter *f) {
    if (f->words_common) { /* see product_filter */
        add_words(b, f, false);
        return;
    }
    add_words(b, f, true);
    bool per_row = characters_checked_per_row(f);
    for (size_t i = 0; per_row && i < indexed_word_count(f); i++)
        if (f->one_character[i]) /* "|| ''": a form no index serves, for any value */
            sql_add_param(b, " AND (p.search_text || '') LIKE (SELECT lower(?))", f->patterns[i]);
    for (size_t i = 0; i < f->short_word_count; i++)
        if (!per_row || !f->one_character[f->short_word_pattern[i]])
            sql_add_param(b,
                          " AND nexus_search_codes(lower(p.name || ' ' || p.description))"
                          " @> nexus_search_word_codes(lower(?))",
                          f->short_words[i]);
}

void products_add_where(struct sql_builder *b, const struct product_filter *f,
                        const struct filter_skip *skip) {
    products_add_filters(b, f, skip);
    add_indexed_words(b, f);
}

static void add_cursor(struct sql_builder *b, enum product_sort sort, const char *after_value,
                       const char *after_id) {
    if (!after_value)
        return;
    sql_add_param(b, SORTS[sort].after, after_value);
    sql_add_param(b, " ?::bigint)", after_id);
}

/* SELECT <page columns, joined> FROM (<inner page>) ORDER BY <sort>. */
static enum nx_err run_page(struct db *db, struct sql_builder *b, enum product_sort sort,
                            PGresult **out) {
    sql_add(b, PAGE_JOIN);
    sql_add(b, SORTS[sort].order);
    enum nx_err e = db_exec_built(db, b, out);
    sql_clear(b);
    return e;
}

/* Whether a list's plan can be chosen once for every value of its
 * parameters (a prepared statement's generic plan): true when only the
 * cursor and the limit are parameters, and the plan walks the sort's index
 * whatever they are. A category without subcategories is one of them:
 * each sort has a (category, sort key) index (migrations 0003 and 0033),
 * whose range for the category is walked whatever its size. A subtree or
 * a price filter is not: without its values PostgreSQL guesses how many
 * rows match, and for a broad filter that guess chose reading and sorting
 * every match over walking the index. */
static bool walk_fits_any_values(const struct product_filter *f) {
    return (!f->category_ids || one_category(f)) && !f->min_cents && !f->max_cents &&
           !f->currency && !f->sku && !f->attribute_count && !f->option_count;
}

static bool plan_fits_any_values(const struct product_filter *f) {
    return !f->pattern_count && !f->category_ids && walk_fits_any_values(f);
}

static bool by_name(enum product_sort sort) {
    return sort == PS_NAME || sort == PS_NAME_DESC;
}

/* The order of a walk's matches. A walk sorted by name hands its rows on
 * with their key as a column (name_key): ordered by lower(p.name) over
 * the walk's output, PostgreSQL cannot tell the walk is in that order
 * already, and reads the whole walk and sorts it instead of stopping at a
 * full page. */
static const char *walked_order(enum product_sort sort) {
    if (sort == PS_NAME)
        return " ORDER BY p.name_key, p.id";
    if (sort == PS_NAME_DESC)
        return " ORDER BY p.name_key DESC, p.id DESC";
    return SORTS[sort].order;
}

/* A walk sorted by name hands its sort key on as a column (see
 * walked_order). */
#define NAME_KEY ", lower(p.name) AS name_key"

/* SELECT columns FROM products p: the rows of f, and of the condition
 * also when given, after the cursor, in the order of sort. */
static void add_rows(struct sql_builder *b, const struct product_filter *f, enum product_sort sort,
                     const char *columns, const char *also, const char *after_value,
                     const char *after_id) {
    sql_add(b, "SELECT ");
    sql_add(b, columns);
    sql_add(b, " FROM products p");
    products_add_filters(b, f, &SKIP_DISCOVERY_ONLY);
    if (also)
        sql_add(b, also);
    add_cursor(b, sort, after_value, after_id);
    sql_add(b, SORTS[sort].order);
}

/* SELECT columns FROM products p: the rows of f (attr.* and option.*
 * filters aside) after the cursor, in sort order, the first of them: at
 * most limit_literal (" LIMIT n"), or, when that is NULL, limit_param.
 * The sort indexes hold active products only (the public lists), so with
 * inactive products the first rows of each kind come from their own
 * index (migration 0032), merged in order (by NAME_KEY, which columns
 * then hold, when sorted by name): reading and sorting every product
 * took 1.2 s at a million products. */
static void add_rows_in_order(struct sql_builder *b, const struct product_filter *f,
                              enum product_sort sort, const char *columns, const char *after_value,
                              const char *after_id, const char *limit_literal,
                              const char *limit_param) {
    if (f->include_inactive && !f->inactive_only) {
        NX_ASSERT(!by_name(sort) || strstr(columns, NAME_KEY));
        struct product_filter active = *f, inactive = *f;
        active.include_inactive = false;
        inactive.inactive_only = true;
        sql_add(b, "SELECT * FROM ((");
        add_rows_in_order(b, &active, sort, columns, after_value, after_id, limit_literal,
                          limit_param);
        sql_add(b, ") UNION ALL (");
        add_rows_in_order(b, &inactive, sort, columns, after_value, after_id, limit_literal,
                          limit_param);
        sql_add(b, ")) p");
        sql_add(b, walked_order(sort));
    } else {
        add_rows(b, f, sort, columns, NULL, after_value, after_id);
    }
    if (limit_literal)
        sql_add(b, limit_literal);
    else
        sql_add_param(b, " LIMIT ?::integer", limit_param);
}

/* The condition of products_created_text_idx beside is_active and
 * deleted_at, word for word, so that the planner matches it (migration
 * 0040); NOT it, products_created_long_text_idx's. */
#define TEXT_FITS_INDEX " (octet_length(p.search_text) < 2600)"

/* Whether a walk can read its words from products_created_text_idx
 * (migration 0023): a public search by words alone, in created_at order
 * (every other filter tests a column that index does not hold). */
static bool walk_fits_text_index(const struct product_filter *f, enum product_sort sort) {
    return (sort == PS_CREATED || sort == PS_CREATED_DESC) && f->pattern_count &&
           !has_discovery(f) && !f->include_inactive && !f->category_ids && !f->min_cents &&
           !f->max_cents && f->in_stock == -1 && !f->currency && !f->sku;
}

/* That walk: the words are checked on the index's rows (an index-only
 * scan where the table's pages are all visible), and only the page's rows
 * are read from the table, by id. */
static enum nx_err text_walk_page(struct db *db, const struct product_filter *f,
                                  enum product_sort sort, const char *after_value,
                                  const char *after_id, const char *limit, size_t walk,
                                  PGresult **out) {
    struct sql_builder b = {.prepare = true};
    sql_add(&b, "SELECT " PRODUCT_COLUMNS " FROM (SELECT p.id FROM (SELECT * FROM ((");
    /* A btree entry holds at most 2,704 bytes: the index holds the rows
     * whose text fits beside the key, and the rare longer ones have an
     * index of their own (migration 0040); the two are merged in order. */
    add_rows(&b, f, sort, "p.id, p.created_at, p.search_text", " AND" TEXT_FITS_INDEX, after_value,
             after_id);
    sql_add(&b, SEARCH_WALKS[walk]);
    sql_add(&b, ") UNION ALL (");
    add_rows(&b, f, sort, "p.id, p.created_at, p.search_text", " AND NOT" TEXT_FITS_INDEX,
             after_value, after_id);
    sql_add(&b, SEARCH_WALKS[walk]);
    sql_add(&b, ")) p");
    sql_add(&b, SORTS[sort].order);
    sql_add(&b, SEARCH_WALKS[walk]);
    sql_add(&b, ") p WHERE true");
    add_walked_words(&b, f);
    sql_add(&b, SORTS[sort].order);
    sql_add_param(&b, " LIMIT ?::integer", limit);
    sql_add(&b,
            ") k JOIN products p ON p.id = k.id LEFT JOIN categories c ON c.id = p.category_id");
    sql_add(&b, SORTS[sort].order);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* The page in index order; for a search (or attr.* and option.*
 * filters), words (and those filters) are checked on the first rows of
 * that walk only, as many as SEARCH_WALKS[walk] says. */
static enum nx_err walk_page(struct db *db, const struct product_filter *f, enum product_sort sort,
                             const char *after_value, const char *after_id, const char *limit,
                             size_t walk, PGresult **out) {
    /* The words are checked on a walk of fixed length (SEARCH_WALKS), so
     * their values cannot change the plan either. */
    struct sql_builder b = {.prepare = walk_fits_any_values(f)};
    sql_add(&b, "SELECT " PRODUCT_COLUMNS " FROM (");
    if (!(f->pattern_count > 0 || has_discovery(f))) {
        const char *columns =
            f->include_inactive && by_name(sort) ? PAGE_COLUMNS NAME_KEY : PAGE_COLUMNS;
        add_rows_in_order(&b, f, sort, columns, after_value, after_id, NULL, limit);
        return run_page(db, &b, sort, out);
    }
    /* the walked rows carry the text their words are checked on */
    const char *walked =
        by_name(sort) ? PAGE_COLUMNS ", p.search_text" NAME_KEY : PAGE_COLUMNS ", p.search_text";
    sql_add(&b, "SELECT " PAGE_COLUMNS " FROM (");
    add_rows_in_order(&b, f, sort, walked, after_value, after_id, SEARCH_WALKS[walk], NULL);
    sql_add(&b, ") p WHERE true");
    add_walked_words(&b, f);
    add_discovery(&b, f, &NO_SKIP, WALKED);
    sql_add(&b, walked_order(sort));
    sql_add_param(&b, " LIMIT ?::integer", limit);
    return run_page(db, &b, sort, out);
}

/* Whether the word index's plan can be chosen once for every value of the
 * words: when each word has a trigram, the plan collects the matches from
 * the trigram index and sorts them whatever the words are (the order is
 * one no index gives), and parsing and planning the statement again cost
 * about a third of it; likewise when every word has one or two characters
 * and is keyed exactly (the index of characters and pairs). Not for a word
 * without a trigram among words with one: which index should lead depends
 * on the words (`q=tv kettle` from the pairs, `q=iris tv` from the
 * trigrams), and planned for any value the plan read the common word from
 * the trigram index and computed each match's keys for the rare one (5 s,
 * the statement timeout, at a million products, against 4 ms planned for
 * the words). Nor for a word without a trigram that is not keyed exactly:
 * planned without its value, its LIKE could be given to the trigram index,
 * which would then read every entry it holds for it. Nor with a filter
 * whose values change the plan (see above). PostgreSQL's guess for one
 * word it does not know is 0.5% of the rows, which at a million products
 * would make the plan parallel, and a rare word then took 30 times as
 * long: the statement names nexus_serial_plan() (migration 0030), which
 * keeps it serial. */
static bool words_fit_any_values(const struct product_filter *f) {
    size_t keyed = 0, n = indexed_word_count(f);
    for (size_t i = 0; i < n; i++)
        keyed += f->keyed_exactly[i];
    bool one_kind = f->short_word_count == 0 || f->short_word_count == n;
    return one_kind && keyed == f->short_word_count && !f->extra_patterns && !f->category_ids &&
           walk_fits_any_values(f);
}

/* The page of a search from the word index: all matches, sorted. */
static enum nx_err search_page(struct db *db, const struct product_filter *f,
                               enum product_sort sort, const char *after_value,
                               const char *after_id, const char *limit, PGresult **out) {
    struct sql_builder b = {.prepare = words_fit_any_values(f)};
    sql_add(&b, "SELECT " PRODUCT_COLUMNS " FROM (SELECT " PAGE_COLUMNS " FROM products p");
    add_filters(&b, f);
    add_indexed_words(&b, f);
    if (b.prepare)
        sql_add(&b, " AND nexus_serial_plan()");
    add_cursor(&b, sort, after_value, after_id);
    sql_add(&b, SORTS[sort].order_unindexed);
    sql_add_param(&b, " LIMIT ?::integer", limit);
    return run_page(db, &b, sort, out);
}

/* The key under which a search's plan is remembered (see db/wordplan.h):
 * the sort, whether inactive products are listed, and the words in their
 * order (a word holds no white space, which separates them). False when
 * it is not remembered: with a filter besides the words, their share of
 * the rows walked depends on the filter; past the indexed words, or when
 * the key would be too long, it is simply not kept. */
static bool word_plan_key(const struct product_filter *f, enum product_sort sort, char *key,
                          size_t cap) {
    if (!f->pattern_count || f->extra_patterns || f->category_ids || f->min_cents || f->max_cents ||
        f->in_stock != -1 || f->currency || f->sku || f->attribute_count || f->option_count)
        return false;
    int n = snprintf(key, cap, "%d:%d", (int)sort, f->include_inactive);
    for (size_t i = 0; i < f->pattern_count && n > 0 && (size_t)n < cap; i++)
        n += snprintf(key + n, cap - (size_t)n, "%c%s", i ? ' ' : ':', f->patterns[i]);
    return n > 0 && (size_t)n < cap;
}

/* ---- term walks (migration 0019) -----------------------------------------
 *
 * product_attribute_order and product_option_order hold each attribute and
 * option term's live active products in created_at order. For the
 * created_at sorts of a public list with an attr.<key>= or option.<name>=
 * filter of one value, the page walks that term's entries from the cursor
 * and tests every other filter on each: a term held by few products ends
 * the walk early, a common one fills the page within its first entries;
 * either way no sort and no visit of a product off the page's way. The
 * walk reads at most TERM_WALK entries: when the other filters are rare
 * among the term's products (or the term's entries run out first), the
 * page is not full and the plans below take over (they cannot tell a
 * short list from an unfinished walk, so they answer it again, which is
 * what every page did before; and while a bulk load's rebuild is pending,
 * TERM_TABLES_KEPT). An attribute term is walked rather than an
 * option term when both are there: the options are then checked on the
 * walked products' variants, as add_discovery does. */
#define TERM_WALK " LIMIT 1000"
/* While a bulk load has left the tables to its rebuild (migration 0020)
 * they lack its products: no entry is walked, and the plans below answer. */
#define TERM_TABLES_KEPT " AND NOT EXISTS (SELECT FROM derived_rebuild_pending)"

/* The index of the first filter of one value with values, or -1. */
static int first_single_attribute(const struct product_filter *f) {
    for (size_t i = 0; i < f->attribute_count; i++)
        if (f->attributes[i].values && f->attributes[i].value_count == 1)
            return (int)i;
    return -1;
}

static int first_single_option(const struct product_filter *f) {
    for (size_t i = 0; i < f->option_count; i++)
        if (f->options[i].value_count == 1)
            return (int)i;
    return -1;
}

/* Per created_at sort: the walk's order and cursor over the entries o. */
static const struct {
    const char *order;
    const char *after;
    const char *distinct_order; /* the order of option_entries' products */
} TERM_SORTS[] = {
    [PS_CREATED] = {" ORDER BY o.created_at, o.product_id", " AND (o.created_at, o.product_id) > (",
                    " ORDER BY v.created_at, v.product_id)"},
    [PS_CREATED_DESC] = {" ORDER BY o.created_at DESC, o.product_id DESC",
                         " AND (o.created_at, o.product_id) < (",
                         " ORDER BY v.created_at DESC, v.product_id DESC)"},
};

static bool term_walk_fits(const struct product_filter *f, enum product_sort sort) {
    return (sort == PS_CREATED || sort == PS_CREATED_DESC) && !f->include_inactive &&
           (first_single_attribute(f) >= 0 || first_single_option(f) >= 0);
}

static void add_term_cursor(struct sql_builder *b, enum product_sort sort, const char *after_value,
                            const char *after_id) {
    if (!after_value)
        return;
    sql_add(b, TERM_SORTS[sort].after);
    sql_add_param(b, "?::timestamptz,", after_value);
    sql_add_param(b, " ?::bigint)", after_id);
}

/* The entries of the attribute term a: (created_at, product_id). */
static void attribute_entries(struct sql_builder *b, const struct attribute_filter *a,
                              enum product_sort sort, const char *after_value,
                              const char *after_id) {
    sql_add_param(b,
                  "(SELECT o.created_at, o.product_id FROM product_attribute_order o"
                  " WHERE o.term = ? || '='",
                  a->key);
    sql_add_param(b, " || lower((?::text[])[1])", a->values); /* its one value */
    sql_add(b, TERM_TABLES_KEPT);
    add_term_cursor(b, sort, after_value, after_id);
    sql_add(b, TERM_SORTS[sort].order);
    sql_add(b, TERM_WALK ")");
}

/* The products of which a variant holds the option term (the filter at
 * index walked) and every other option filter, and is in stock when
 * in_stock=true: each product once, in walk order. */
static void option_entries(struct sql_builder *b, const struct product_filter *f, int walked,
                           enum product_sort sort, const char *after_value, const char *after_id) {
    sql_add(b, "(SELECT DISTINCT ON (v.created_at, v.product_id) v.created_at, v.product_id FROM"
               " (SELECT o.created_at, o.product_id, o.options_key, o.in_stock"
               " FROM product_option_order o WHERE o.term = jsonb_build_array(");
    sql_add_param(b, "lower(?),", f->options[walked].name);
    sql_add_param(b, " lower((?::text[])[1]))::text", f->options[walked].values);
    sql_add(b, TERM_TABLES_KEPT);
    add_term_cursor(b, sort, after_value, after_id);
    sql_add(b, TERM_SORTS[sort].order);
    sql_add(b, TERM_WALK ") v WHERE true");
    option_values(b, f, walked, WALKED);
    if (f->in_stock == 1)
        sql_add(b, " AND v.in_stock");
    sql_add(b, TERM_SORTS[sort].distinct_order);
}

/* The page from a term walk; *out holds fewer rows than limit when the
 * walk did not fill it. Prepared once per shape: the plan (the term's
 * entries in order, each product by its key) suits any values, as the
 * walk bounds what it reads. */
static enum nx_err term_page(struct db *db, const struct product_filter *f, enum product_sort sort,
                             const char *after_value, const char *after_id, const char *limit,
                             PGresult **out) {
    struct sql_builder b = {.prepare = true};
    int attribute = first_single_attribute(f);
    sql_add(&b, "SELECT " PRODUCT_COLUMNS " FROM (SELECT " PAGE_COLUMNS " FROM ");
    if (attribute >= 0)
        attribute_entries(&b, &f->attributes[attribute], sort, after_value, after_id);
    else
        option_entries(&b, f, first_single_option(f), sort, after_value, after_id);
    sql_add(&b, " o JOIN products p ON p.id = o.product_id");
    products_add_filters(&b, f, &SKIP_DISCOVERY_ONLY);
    add_words(&b, f, false);
    if (attribute >= 0)
        add_discovery(&b, f, &NO_SKIP, WALKED);
    else
        add_attributes(&b, f, -1, WALKED);
    sql_add(&b, TERM_SORTS[sort].order);
    sql_add_param(&b, " LIMIT ?::integer", limit);
    return run_page(db, &b, sort, out);
}

/*
 * A search has two good plans: walk the sort index and test each row (fast
 * when the words are common), or collect the matches from the word indexes
 * and sort them (fast when they are rare). The planner cannot tell which
 * from its estimates, so a search tries a bounded walk first: if it fills
 * the page, that is the answer. If it found at least a fifth of a page,
 * the words are still common enough for a ten times longer walk (which
 * should fill the page in half its length) to be cheaper than sorting
 * their matches: a word in 1% of a million products costs about 2,000
 * rows tested instead of 10,000 fetched and sorted. Otherwise the words
 * are rare enough for the index. Several words are most often rare
 * together, but not always: two common words ("e a", "model made") are
 * in most products, and their matches fetched and sorted took seconds at
 * a million products where the walk fills the page at once.
 *
 * The plan that answered a search's first page is remembered for a while
 * (db/wordplan.h): the next search of the same words goes at once to the
 * walk or the indexes that answered it.
 */
enum nx_err products_list(struct db *db, const struct product_filter *f, enum product_sort sort,
                          const char *after_value, const char *after_id, const char *limit,
                          PGresult **out) {
    /* A SKU names one product at most: its row is found through the
     * SKU's index and sorted, never looked for by a walk. */
    if (f->sku)
        return search_page(db, f, sort, after_value, after_id, limit, out);
    if (term_walk_fits(f, sort)) {
        enum nx_err e = term_page(db, f, sort, after_value, after_id, limit, out);
        if (e != NX_OK || PQntuples(*out) >= limit_rows(limit))
            return e;
        PQclear(*out);
        *out = NULL;
    }
    char key[WORD_PLAN_KEY_MAX + 1];
    bool keyed = word_plan_key(f, sort, key, sizeof key);
    enum word_plan known = keyed ? word_plan_get(key, now_us()) : WORD_PLAN_UNKNOWN;
    /* Only a first page teaches: a later one may not fill because the
     * list ends, which says nothing about the word. */
    bool remember = keyed && !after_value;
    if (known == WORD_PLAN_INDEX)
        return search_page(db, f, sort, after_value, after_id, limit, out);
    bool selective = f->pattern_count || has_discovery(f);
    size_t walks = selective ? sizeof SEARCH_WALKS / sizeof SEARCH_WALKS[0] : 1;
    /* A common word (one the short walk answered) passes few rows per
     * match: its walk reads them from the table. A rarer one's long walk
     * passes many, and reads them from the index of search text. */
    bool common = known == WORD_PLAN_SHORT_WALK;
    for (size_t walk = known == WORD_PLAN_UNKNOWN ? 0 : 1; walk < walks; walk++) {
        bool from_text = walk > 0 && !common && walk_fits_text_index(f, sort);
        enum nx_err e = from_text
                            ? text_walk_page(db, f, sort, after_value, after_id, limit, walk, out)
                            : walk_page(db, f, sort, after_value, after_id, limit, walk, out);
        if (e != NX_OK || !selective)
            return e;
        int found = PQntuples(*out);
        if (found >= limit_rows(limit)) {
            if (remember)
                word_plan_put(key, walk == 0 || common ? WORD_PLAN_SHORT_WALK : WORD_PLAN_WALK,
                              now_us());
            return NX_OK;
        }
        PQclear(*out);
        *out = NULL;
        if (found * 5 < limit_rows(limit)) /* at this rate, 5,000 rows would not fill it */
            break;
    }
    if (remember)
        word_plan_put(key, WORD_PLAN_INDEX, now_us());
    struct product_filter rare = *f; /* the walks found too few matches */
    rare.ranges_rare = !narrowed_beside_ranges(f);
    return search_page(db, &rare, sort, after_value, after_id, limit, out);
}

/* A product's live variants for an export, in position order, one line
 * each: sku, price_cents, stock, is_active (t/f) and options (jsonb text,
 * which escapes tabs and newlines), tab-separated. NULL for a product
 * whose one variant is what a body without variants makes (active, no
 * options): its own sku, price and stock say it all. */
#define EXPORT_VARIANTS                                                                            \
    "(SELECT string_agg(concat_ws(E'\\t', v.sku, v.price_cents, v.stock, v.is_active, v.options)," \
    " E'\\n' ORDER BY v.position, v.id) FROM product_variants v"                                   \
    " WHERE v.product_id = p.id AND v.deleted_at IS NULL"                                          \
    " HAVING count(*) > 1 OR bool_or(NOT v.is_active OR v.options <> '{}'))"

/* An export walks the primary key: each batch starts after the last id
 * sent, so a product changed or added meanwhile is sent at most once. */
enum nx_err products_export_page(struct db *db, const struct product_filter *f,
                                 const char *after_id, const char *limit, const char *attr_keys,
                                 PGresult **out) {
    /* never a generic plan: not knowing the id it starts after, that plan
     * reads every product after it and sorts them for each batch, where
     * the primary key in order stops after one batch */
    struct sql_builder b = {.prepare = false};
    sql_add(&b, "SELECT " PRODUCT_COLUMNS ", " EXPORT_VARIANTS);
    /* the attributes' values, in the order of attr_keys: a string as
     * itself, a number or a boolean as [its text] (PostgreSQL's spelling),
     * none as null */
    if (attr_keys)
        sql_add_param(&b,
                      ", array_to_json(ARRAY(SELECT CASE jsonb_typeof(p.attributes -> u.k)"
                      " WHEN 'string' THEN to_json(p.attributes ->> u.k)"
                      " WHEN 'number' THEN json_build_array(p.attributes ->> u.k)"
                      " WHEN 'boolean' THEN json_build_array(p.attributes ->> u.k) END"
                      " FROM unnest(?::text[]) WITH ORDINALITY u(k, o) ORDER BY u.o))::text",
                      attr_keys);
    else
        sql_add(&b, ", NULL::text");
    sql_add(&b, " FROM (SELECT " PAGE_COLUMNS " FROM products p");
    add_filters(&b, f);
    add_indexed_words(&b, f);
    sql_add_param(&b, " AND p.id > ?::bigint ORDER BY p.id", after_id);
    sql_add_param(&b, " LIMIT ?::integer", limit);
    sql_add(&b, PAGE_JOIN " ORDER BY p.id");
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err products_export_attribute_keys(struct db *db, const struct product_filter *f, int limit,
                                           PGresult **out) {
    char n[16];
    struct sql_builder b = {.prepare = plan_fits_any_values(f)};
    snprintf(n, sizeof n, "%d", limit);
    sql_add(&b, "SELECT DISTINCT k FROM products p CROSS JOIN LATERAL"
                " jsonb_object_keys(p.attributes) AS a(k)");
    add_filters(&b, f);
    add_indexed_words(&b, f);
    sql_add(&b, " ORDER BY k");
    sql_add_param(&b, " LIMIT ?::integer", n);
    enum nx_err e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

/* Counting the matches of a word among the rows as they come (a walk)
 * costs about a microsecond per row passed; counting them through the
 * word indexes costs several per match (each row fetched and checked
 * again), and far more when the matches are so many that the bitmap of
 * rows turns to pages (at 1,000,000 products, 10,000 matches of a word in
 * a tenth of the rows took 100 ms to walk and 150 to 400 through the
 * indexes). A walk wins for a word held by a tenth of the rows or more: a
 * sample of the first rows tells, and a walk passes at most
 * COUNT_WALK_ROWS_PER_MATCH rows per match it may count. */
#define COUNT_SAMPLE_ROWS         1000
#define COUNT_WALK_ROWS_PER_MATCH 20

static enum nx_err run_count(struct db *db, struct sql_builder *b, long long *total) {
    PGresult *r = NULL;
    enum nx_err e = db_exec_built(db, b, &r);
    if (e == NX_OK)
        *total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    sql_clear(b);
    return e;
}

/* What the plans that answered first pages of f's words (in any sort,
 * products_list remembers them) say: WORD_PLAN_WALK when a walk did,
 * WORD_PLAN_INDEX when only the word indexes did, else unknown. */
static enum word_plan remembered_plan(const struct product_filter *f) {
    char key[WORD_PLAN_KEY_MAX + 1];
    uint64_t now = now_us();
    enum word_plan seen = WORD_PLAN_UNKNOWN;
    for (int sort = PS_CREATED; sort <= PS_NAME_DESC; sort++) {
        enum word_plan plan = word_plan_key(f, (enum product_sort)sort, key, sizeof key)
                                  ? word_plan_get(key, now)
                                  : WORD_PLAN_UNKNOWN;
        if (plan == WORD_PLAN_SHORT_WALK || plan == WORD_PLAN_WALK)
            return WORD_PLAN_WALK;
        if (plan == WORD_PLAN_INDEX)
            seen = plan;
    }
    return seen;
}

/* Whether a search's total is first tried by a walk: for words with no
 * other filter (a filter's own index narrows the rows for the planner),
 * unless they are known to be rare. */
static bool count_walk_first(const struct product_filter *f) {
    char key[WORD_PLAN_KEY_MAX + 1];
    return word_plan_key(f, PS_CREATED, key, sizeof key) && remembered_plan(f) != WORD_PLAN_INDEX;
}

/* Count up to limit matches among the table's first rows (at most
 * rows of them), checking the words on each row. */
static enum nx_err count_walked(struct db *db, const struct product_filter *f, long long rows,
                                long long limit, long long *found) {
    struct sql_builder b = {0};
    char rows_text[24], limit_text[24];
    snprintf(rows_text, sizeof rows_text, "%lld", rows);
    snprintf(limit_text, sizeof limit_text, "%lld", limit);
    sql_add(&b, "SELECT count(*) FROM (SELECT FROM (SELECT p.search_text FROM products p");
    add_filters(&b, f);
    sql_add_param(&b, " LIMIT ?::bigint) p WHERE true", rows_text);
    add_walked_words(&b, f);
    sql_add_param(&b, " LIMIT ?::bigint) p", limit_text);
    return run_count(db, &b, found);
}

/* The count of a common word by a walk, when a sample shows it to be
 * common enough (see COUNT_SAMPLE_ROWS): true when that settled the
 * total (limit matches found), false to count through the indexes. */
static bool counted_by_walk(struct db *db, const struct product_filter *f, long long limit,
                            long long *total, enum nx_err *e) {
    long long sample = limit < COUNT_SAMPLE_ROWS ? limit : COUNT_SAMPLE_ROWS;
    *e = count_walked(db, f, sample, limit, total);
    if (*e != NX_OK || *total >= limit)
        return true;
    if (*total * 10 < sample)
        return false;
    long long rows = limit > LLONG_MAX / COUNT_WALK_ROWS_PER_MATCH
                         ? LLONG_MAX
                         : limit * COUNT_WALK_ROWS_PER_MATCH;
    *e = count_walked(db, f, rows, limit, total);
    return *e != NX_OK || *total >= limit;
}

enum nx_err products_words_common(struct db *db, const struct product_filter *f, bool *common) {
    *common = false;
    if (!f->pattern_count)
        return NX_OK;
    enum word_plan known = remembered_plan(f);
    if (known != WORD_PLAN_UNKNOWN) {
        *common = known == WORD_PLAN_WALK;
        return NX_OK;
    }
    long long found = 0;
    enum nx_err e = count_walked(db, f, COUNT_SAMPLE_ROWS, COUNT_SAMPLE_ROWS, &found);
    *common = e == NX_OK && found * 10 >= COUNT_SAMPLE_ROWS;
    return e;
}

enum nx_err products_count(struct db *db, const struct product_filter *f, long long limit,
                           long long *total) {
    enum nx_err e = NX_OK;
    /* Unless the words are known to be rare, a sample of the first rows
     * (about a millisecond) tells whether a walk counts them: common
     * words counted through the word indexes cost up to seconds at a
     * million products (every match fetched, and where the bitmap of
     * rows turned to pages, their keys computed again for each row). */
    if (limit > 0 && !has_discovery(f) && count_walk_first(f) &&
        counted_by_walk(db, f, limit, total, &e))
        return e;
    struct sql_builder b = {0};
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%lld", limit);
    sql_add(&b, "SELECT count(*) FROM (SELECT FROM products p");
    add_filters(&b, f);
    add_indexed_words(&b, f);
    if (limit > 0)
        sql_add_param(&b, " LIMIT ?::bigint", limit_text);
    sql_add(&b, ") p");
    return run_count(db, &b, total);
}

enum nx_err products_get(struct db *db, const char *id, bool lock, PGresult **out) {
    const char *params[] = {id};
    return db_exec(db, lock ? &SQL_GET_FOR_UPDATE : &SQL_GET, params, out);
}

/* Whether the flat statement would have answered the item r read by the
 * full one: one live variant, which the caller may see. */
static bool flat_would_answer(const PGresult *r, bool all_variants) {
    if (PQntuples(r) < 1)
        return false;
    int live = PQfnumber(r, "variant_count"), active = PQfnumber(r, "variant_active_count");
    return live >= 0 && active >= 0 && strcmp(PQgetvalue(r, 0, live), "1") == 0 &&
           (all_variants || strcmp(PQgetvalue(r, 0, active), "1") == 0);
}

enum nx_err products_get_item(struct db *db, const char *id, bool all_variants, bool lock,
                              PGresult **out) {
    const char *params[] = {id, all_variants ? "true" : "false"};
    if (lock)
        return db_exec(db, &SQL_GET_ITEM_FOR_UPDATE, params, out);
    int64_t key = 0;
    parse_id(id, strlen(id), &key); /* not an id: no row, and nothing remembered */
    if (!item_plan_full(key)) {
        enum nx_err e = db_exec(db, &SQL_GET_ITEM_FLAT, params, out);
        if (e != NX_OK || PQntuples(*out) > 0)
            return e;
        PQclear(*out);
        item_plan_set_full(key, true);
        return db_exec(db, &SQL_GET_ITEM, params, out);
    }
    enum nx_err e = db_exec(db, &SQL_GET_ITEM, params, out);
    if (e == NX_OK && flat_would_answer(*out, all_variants))
        item_plan_set_full(key, false);
    return e;
}

enum nx_err products_insert(struct db *db, const struct product_input *in, PGresult **out) {
    const char *params[] = {
        in->sku,          in->name,  in->slug,        in->description, in->price_cents,
        in->currency,     in->stock, in->category_id, in->is_active,   in->extras.attributes,
        in->extras.images};
    return db_exec(db, &SQL_INSERT, params, out);
}

enum nx_err products_update(struct db *db, const char *id, const struct product_input *in,
                            PGresult **out) {
    const char *params[] = {id,
                            in->sku,
                            in->name,
                            in->slug,
                            in->description,
                            in->has_price ? in->price_cents : NULL,
                            in->has_currency ? in->currency : NULL,
                            in->has_stock ? in->stock : NULL,
                            in->has_category ? "true" : "false",
                            in->category_id,
                            in->is_active,
                            in->extras.attributes,
                            in->extras.images};
    return db_exec(db, &SQL_UPDATE, params, out);
}

enum nx_err products_delete(struct db *db, const char *id, bool *deleted) {
    const char *params[] = {id};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_DELETE, params, &r);
    *deleted = e == NX_OK && strtol(PQcmdTuples(r), NULL, 10) == 1;
    PQclear(r);
    return e;
}

static struct db_stmt SQL_WAS_DELETED = {
    "SELECT EXISTS (SELECT 1 FROM products WHERE id = $1 AND deleted_at IS NOT NULL)", 1, 0};

enum nx_err products_was_deleted(struct db *db, const char *id, bool *was) {
    const char *params[] = {id};
    return db_exec_bool(db, &SQL_WAS_DELETED, params, was);
}

enum nx_err products_slugs_among(struct db *db, const char *slugs, const char *except_id,
                                 PGresult **out) {
    const char *params[] = {slugs, except_id};
    return db_exec(db, &SQL_SLUGS_AMONG, params, out);
}

enum nx_err products_skus_held(struct db *db, const char *skus, const char *rows, PGresult **out) {
    const char *params[] = {skus, rows};
    return db_exec(db, &SQL_SKUS_HELD, params, out);
}

enum nx_err products_lock_sku_owners(struct db *db, const char *skus) {
    const char *params[] = {skus};
    return db_exec(db, &SQL_LOCK_SKU_OWNERS, params, NULL);
}

enum nx_err products_slugs_taken(struct db *db, const char *slugs, PGresult **out) {
    const char *params[] = {slugs};
    return db_exec(db, &SQL_SLUGS_TAKEN, params, out);
}

enum nx_err products_get_by_slug(struct db *db, const char *slug, PGresult **out) {
    const char *params[] = {slug};
    return db_exec(db, &SQL_GET_BY_SLUG, params, out);
}

/* ---- pages of many categories in one statement ---------------------------
 *
 * Each category k of the arrays gets its own page (its subtree's products,
 * the filter, its own cursor) from a LATERAL subquery: one statement for
 * all of them, each page planned like a search's (search_page).
 */

#define IN_SUBTREE " AND p.category_id = ANY (k.subtree::bigint[])"

/* The keyset comparison with each category's own cursor (none: NULL). */
static const char *const PER_CATEGORY_AFTER[] = {
    [PS_CREATED] = " AND (k.after_value IS NULL OR (p.created_at, p.id) >"
                   " (k.after_value::timestamptz, k.after_id))",
    [PS_CREATED_DESC] = " AND (k.after_value IS NULL OR (p.created_at, p.id) <"
                        " (k.after_value::timestamptz, k.after_id))",
    [PS_PRICE] = " AND (k.after_value IS NULL OR (p.price_cents, p.id) >"
                 " (k.after_value::bigint, k.after_id))",
    [PS_PRICE_DESC] = " AND (k.after_value IS NULL OR (p.price_cents, p.id) <"
                      " (k.after_value::bigint, k.after_id))",
    [PS_NAME] =
        " AND (k.after_value IS NULL OR (lower(p.name), p.id) > (k.after_value, k.after_id))",
    [PS_NAME_DESC] = " AND (k.after_value IS NULL OR (lower(p.name), p.id) <"
                     " (k.after_value, k.after_id))",
};

static void add_pages(struct sql_builder *b, const struct category_pages *pages) {
    sql_add_param(b, " FROM unnest(?::bigint[],", pages->ids);
    sql_add_param(b, " ?::text[],", pages->subtrees);
    sql_add_param(b, " ?::text[],", pages->after_values);
    sql_add_param(b, " ?::bigint[]) WITH ORDINALITY AS k(cid, subtree, after_value, after_id, ord)",
                  pages->after_ids);
}

/* *g: f, and whether its words are common (see product_filter). */
static enum nx_err knowing_common_words(struct db *db, const struct product_filter *f,
                                        struct product_filter *g) {
    *g = *f;
    return products_words_common(db, f, &g->words_common);
}

/* Whether each category of a subtree can give its first rows of the page
 * from its (category, sort key) index: a page without words, attr.* or
 * option.* filters, price bounds or currency, of public products. Each
 * category then reads at most a page, and the subtree's page is the first
 * of those; otherwise every match of the subtree is read and sorted (at
 * 100,000 products, a department's 10,000 rows for each parent of a
 * level: 750 ms for ten). */
static bool walks_each_category(const struct product_filter *f) {
    return !f->pattern_count && !f->include_inactive && walk_fits_any_values(f);
}

/* The rows of k's page, into the builder: its subtree's matches, sorted. */
static void add_subtree_rows(struct sql_builder *b, const struct product_filter *g,
                             enum product_sort sort, const char *limit) {
    bool walk = walks_each_category(g);
    if (walk)
        sql_add(b, "SELECT p.* FROM unnest(k.subtree::bigint[]) AS s(cat)"
                   " CROSS JOIN LATERAL (");
    sql_add(b, "SELECT " PAGE_COLUMNS " FROM products p");
    products_add_where(b, g, &NO_SKIP);
    sql_add(b, walk ? " AND p.category_id = s.cat" : IN_SUBTREE);
    sql_add(b, PER_CATEGORY_AFTER[sort]);
    sql_add(b, walk ? SORTS[sort].order : SORTS[sort].order_unindexed);
    sql_add_param(b, " LIMIT ?::integer", limit);
    if (walk) {
        sql_add(b, ") p");
        sql_add(b, SORTS[sort].order);
        sql_add_param(b, " LIMIT ?::integer", limit);
    }
}

enum nx_err products_list_per_category(struct db *db, const struct product_filter *f,
                                       enum product_sort sort, const struct category_pages *pages,
                                       const char *limit, PGresult **out) {
    NX_ASSERT(!f->category_ids);
    struct product_filter g;
    enum nx_err e = knowing_common_words(db, f, &g);
    if (e != NX_OK)
        return e;
    struct sql_builder b = {0};
    sql_add(&b, "SELECT x.*, k.cid");
    add_pages(&b, pages);
    sql_add(&b, " CROSS JOIN LATERAL (SELECT " PRODUCT_COLUMNS ", row_number() OVER (");
    sql_add(&b, SORTS[sort].order);
    sql_add(&b, ") AS nx_rn FROM (");
    add_subtree_rows(&b, &g, sort, limit);
    sql_add(&b, PAGE_JOIN ") x ORDER BY k.ord, x.nx_rn");
    e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}

enum nx_err products_count_per_category(struct db *db, const struct product_filter *f,
                                        const struct category_pages *pages, long long limit,
                                        PGresult **out) {
    NX_ASSERT(!f->category_ids);
    struct product_filter g;
    enum nx_err e = knowing_common_words(db, f, &g);
    if (e != NX_OK)
        return e;
    struct sql_builder b = {0};
    char limit_text[24];
    snprintf(limit_text, sizeof limit_text, "%lld", limit);
    sql_add(&b, "SELECT k.cid, (SELECT count(*) FROM (SELECT FROM products p");
    products_add_where(&b, &g, &NO_SKIP);
    sql_add(&b, IN_SUBTREE);
    if (limit > 0)
        sql_add_param(&b, " LIMIT ?::bigint", limit_text);
    sql_add(&b, ") n)");
    add_pages(&b, pages);
    sql_add(&b, " ORDER BY k.ord");
    e = db_exec_built(db, &b, out);
    sql_clear(&b);
    return e;
}
