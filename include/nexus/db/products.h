/*
 * products.h -- the products table.
 *
 * Queries that return products return the columns of enum product_col
 * (model/product.h), the category joined in.
 */
#ifndef NEXUS_DB_PRODUCTS_H
#define NEXUS_DB_PRODUCTS_H

#include "nexus/db/db.h"
#include "nexus/model/product.h"

#define NX_SEARCH_WORDS_INDEXED 8
#define NX_SEARCH_WORDS_MAX     100

enum product_sort {
    PS_CREATED,
    PS_CREATED_DESC,
    PS_PRICE,
    PS_PRICE_DESC,
    PS_NAME,
    PS_NAME_DESC,
};

/* At most this many attr.* and option.* parameters in one request. */
#define NX_DISCOVERY_MAX 10

/* attr.<key>=v1,v2 (values: the values as a text[] literal, {"v1","v2"},
 * NULL: none; value_count of them) and attr.<key>.min / .max (decimal
 * text, NULL: no bound), all on one key. */
struct attribute_filter {
    const char *key;
    const char *values;
    size_t value_count;
    const char *min;
    const char *max;
};

/* option.<name>=v1,v2: an active variant has one of the values (a text[]
 * literal, value_count of them). */
struct option_filter {
    const char *name;
    const char *values;
    size_t value_count;
};

struct product_filter {
    bool include_inactive;
    /* Inactive products alone (with include_inactive): one of the two
     * halves a page of every product is taken from (db/products.c). */
    bool inactive_only;
    const char *category_ids; /* array literal "{1,2}", NULL: any */
    const char *category_id;  /* the filtered category itself, whose subtree category_ids is */
    const char *min_cents;    /* NULL: no bound */
    const char *max_cents;
    int in_stock; /* -1: any, 0: out of stock, 1: in stock */
    const char *currency;
    /* The products of which a live variant (active or not, as a product's
     * own sku may be an inactive variant's) has exactly this SKU: at most
     * one, as SKUs are unique among live variants. NULL: any. */
    const char *sku;
    /* the words as ILIKE patterns ("%word%", wildcards escaped), every one
     * must match (checked as LIKE of the lower-cased text, lowered) */
    const char *patterns[NX_SEARCH_WORDS_MAX];
    size_t pattern_count;
    const char *extra_patterns; /* array literal of patterns past the indexed ones */
    /* Indexed words with no three letters or digits in a row ("tv", "4k",
     * "a-b"), as typed: the trigram index cannot find them, so they are
     * also looked up in the index of character pairs. */
    const char *short_words[NX_SEARCH_WORDS_INDEXED];
    size_t short_word_count;
    size_t short_word_pattern[NX_SEARCH_WORDS_INDEXED]; /* patterns[] index of each */
    /* Whether patterns[i]'s word is one character: beside longer words it
     * is checked by LIKE on each row the others find (see db/products.c,
     * add_indexed_words). */
    bool one_character[NX_SEARCH_WORDS_INDEXED];
    /* Whether patterns[i]'s word has one or two characters: its key in
     * that index (the character, or the pair) then decides a match
     * exactly, and where the index is asked the word needs no LIKE. */
    bool keyed_exactly[NX_SEARCH_WORDS_INDEXED];
    /* The words are common (products_words_common): a plan that reads
     * the word indexes checks them by LIKE on every row it reads, never
     * asking the index of characters and pairs, whose keys a plan over
     * most of the rows would compute again for each row (seconds at a
     * million products). */
    bool words_common;
    /* The attr.<key>.min/.max ranges match few products (a page the walks
     * could not fill): their products are then found by id from the
     * numbers' index, where for many a hash of them serves better (see
     * db/products.c, add_range). */
    bool ranges_rare;
    /* The option filters may be tested on the entries of
     * product_option_order (migration 0019) rather than on the variants:
     * a public read while no bulk load's rebuild is pending (facets). */
    bool option_entries;
    /* Every attribute filter holds; every option filter holds on one and
     * the same active variant, which is also in stock when in_stock is 1. */
    struct attribute_filter attributes[NX_DISCOVERY_MAX];
    size_t attribute_count;
    struct option_filter options[NX_DISCOVERY_MAX];
    size_t option_count;
};

/* Which filters a facet leaves out (db/facets.h): its own. */
enum filter_skip_what {
    SKIP_NONE = 0,
    SKIP_CATEGORY = 1,
    SKIP_PRICE = 2,
    SKIP_IN_STOCK = 4,
    SKIP_OPTIONS = 8,    /* the variant condition as a whole */
    SKIP_DISCOVERY = 16, /* every attr.* and option.* condition */
};

struct filter_skip {
    unsigned what; /* enum filter_skip_what bits */
    int attribute; /* index into attributes to leave out, or -1 */
    int option;    /* index into options to leave out, or -1 */
};

/* " WHERE ..." over products p: the filter's conditions but those skip
 * names. */
void products_add_filters(struct sql_builder *b, const struct product_filter *f,
                          const struct filter_skip *skip);
/* The same, and the words of q (for a plan that reads them from their
 * index). */
void products_add_where(struct sql_builder *b, const struct product_filter *f,
                        const struct filter_skip *skip);
/* Whether f's words are in a tenth or more of the first rows that pass
 * its filters: known when a walk filled a first page of them, else from
 * a sample of the first rows (false without words). */
enum nx_err products_words_common(struct db *db, const struct product_filter *f, bool *common);
/* " AND ..." of the price range (nothing without one). */
void products_add_price(struct sql_builder *b, const struct product_filter *f);
/* " AND ..." of in_stock (nothing without it); with in_stock=true and
 * option filters, one variant matching them all is in stock: added to
 * products_add_filters with SKIP_IN_STOCK, the filter without the skip. */
void products_add_in_stock(struct sql_builder *b, const struct product_filter *f);
/* " AND ..." over product_variants v: active, live, every option filter but
 * skip_option (-1: none), and in stock when in_stock. */
void products_add_variant_match(struct sql_builder *b, const struct product_filter *f,
                                int skip_option, bool in_stock);

/* One page: rows after (after_value, after_id) in sort order when
 * after_value is not NULL, at most limit rows. */
enum nx_err products_list(struct db *db, const struct product_filter *f, enum product_sort sort,
                          const char *after_value, const char *after_id, const char *limit,
                          PGresult **out);
/* The number of matching products, counting at most limit of them when
 * limit > 0 (a search's total is capped: counting every match of a common
 * word would read most of the table). */
enum nx_err products_count(struct db *db, const struct product_filter *f, long long limit,
                           long long *total);

/* Matching products with an id above after_id, in id order, at most
 * limit rows: an export's next batch. Each row has the product columns
 * and then PC_EXPORT_VARIANTS and PC_EXPORT_ATTRS (model/product_export.h):
 * the latter is NULL unless attr_keys (a text[] literal of attribute
 * keys) is given. */
enum nx_err products_export_page(struct db *db, const struct product_filter *f,
                                 const char *after_id, const char *limit, const char *attr_keys,
                                 PGresult **out);
/* The attribute keys the matching products have, sorted (a CSV export's
 * attr.<key> columns), the first limit of them. */
enum nx_err products_export_attribute_keys(struct db *db, const struct product_filter *f, int limit,
                                           PGresult **out);

/* A live (not deleted) product; zero rows when there is none. With lock,
 * the row is locked for the rest of the transaction. */
enum nx_err products_get(struct db *db, const char *id, bool lock, PGresult **out);
/* A live product with its live variants (inactive ones only with
 * all_variants), one row per variant: see PC_ITEM_VARIANT
 * (model/product.h). Zero rows when there is no such product. With lock,
 * the product's row is locked for the rest of the transaction. */
enum nx_err products_get_item(struct db *db, const char *id, bool all_variants, bool lock,
                              PGresult **out);

/* A live product by slug; zero rows when there is none. */
enum nx_err products_get_by_slug(struct db *db, const char *slug, PGresult **out);

/* The pages of several categories at once, as array literals of the same
 * length: each category's id, its subtree (an array literal of ids, as
 * text), and the cursor its page starts after (value and id; NULL
 * elements for a first page). */
struct category_pages {
    const char *ids;          /* bigint[] */
    const char *subtrees;     /* text[] of bigint[] literals */
    const char *after_values; /* text[] */
    const char *after_ids;    /* bigint[] */
};
/* For each category of pages, in their order, its page of products that
 * match f (whose category_ids must be NULL) in its subtree, at most limit
 * rows: the product columns, then the row's place in its page and the
 * category's id (PC_PAGE_CATEGORY), in one statement. */
enum nx_err products_list_per_category(struct db *db, const struct product_filter *f,
                                       enum product_sort sort, const struct category_pages *pages,
                                       const char *limit, PGresult **out);
#define PC_PAGE_CATEGORY (PC_VARIANT_OPTIONS + 2)
/* For each category of pages (cursors unused), in their order, rows (id,
 * how many products of its subtree match f), counting at most limit of
 * them when limit > 0; one statement. */
enum nx_err products_count_per_category(struct db *db, const struct product_filter *f,
                                        const struct category_pages *pages, long long limit,
                                        PGresult **out);

enum nx_err products_insert(struct db *db, const struct product_input *in, PGresult **out);
/* Update the given fields of a live product (zero rows when none). */
enum nx_err products_update(struct db *db, const char *id, const struct product_input *in,
                            PGresult **out);
/* Soft delete; *deleted says whether a live product was there. */
enum nx_err products_delete(struct db *db, const char *id, bool *deleted);
/* *was: product id existed and is deleted now. */
enum nx_err products_was_deleted(struct db *db, const char *id, bool *was);

/* Which slugs of a text[] literal live products other than except_id
 * hold (an index probe each, whatever the database's collation). */
enum nx_err products_slugs_among(struct db *db, const char *slugs, const char *except_id,
                                 PGresult **out);
/* Which slugs of a text[] literal live products have (one index probe
 * each: the way to ask about many candidates at once). */
enum nx_err products_slugs_taken(struct db *db, const char *slugs, PGresult **out);
/* Lock (in the open transaction) the live products whose live variants
 * hold the SKUs of skus (a text[] literal), as the API's writes lock a
 * product: what later statements find of them stays as they find it. */
enum nx_err products_lock_sku_owners(struct db *db, const char *skus);
/* The rows that name a product: of skus (a text[] literal) and the row
 * of each (rows, a bigint[] literal), the rows one of whose skus a live
 * variant holds, one result row each. */
enum nx_err products_skus_held(struct db *db, const char *skus, const char *rows, PGresult **out);

#endif
