/*
 * facets.c -- GET /api/v1/products/facets.
 *
 * The list's filters (api/product_filters.c) plus price_buckets; each
 * facet is counted with every filter but its own (db/facets.c): the
 * numbers in one pass, the attribute and option values in another.
 * Attribute keys and option names with a filter of their own are counted
 * apart, then ranked with the others: the NX_FACET_KEYS with most
 * products first.
 */
#include "nexus/api/facets.h"

#include "nexus/api/common.h"
#include "nexus/api/product_filters.h"
#include "nexus/api/products.h"
#include "nexus/core/parse.h"
#include "nexus/db/facets.h"
#include "nexus/db/imports.h"
#include "nexus/http/problem.h"
#include "nexus/model/variant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MAX 20

struct buckets {
    int64_t cents[BUCKETS_MAX];
    size_t count;
    struct buf literal; /* "{0,5000}" for width_bucket; "{0}" when none were asked */
};

/* price_buckets=0,50,100: ascending decimal amounts, at most 20. */
static enum nx_err parse_buckets(struct request *req, struct buckets *bk) {
    struct slice v;
    enum nx_err e = request_query(req, "price_buckets", &v);
    bk->count = 0;
    if (e != NX_OK)
        return e;
    for (size_t start = 0; v.ptr && v.len && start <= v.len;) {
        const char *comma = memchr(v.ptr + start, ',', v.len - start);
        size_t end = comma ? (size_t)(comma - v.ptr) : v.len;
        int64_t cents;
        if (bk->count == BUCKETS_MAX)
            return problem_detail(req, NX_ERR_BAD_REQUEST,
                                  "price_buckets must have at most %d boundaries", BUCKETS_MAX);
        if (!parse_money(v.ptr + start, end - start, &cents))
            return problem_detail(req, NX_ERR_BAD_REQUEST,
                                  "price_buckets must be decimal amounts such as 0,50,100");
        if (bk->count && cents <= bk->cents[bk->count - 1])
            return problem_detail(req, NX_ERR_BAD_REQUEST, "price_buckets must be ascending");
        bk->cents[bk->count++] = cents;
        start = end + 1;
    }
    buf_puts(&bk->literal, "{");
    for (size_t i = 0; i < bk->count; i++)
        buf_printf(&bk->literal, "%s%lld", i ? "," : "", (long long)bk->cents[i]);
    buf_puts(&bk->literal, bk->count ? "}" : "0}");
    return NX_OK;
}

static json_t *money_or_null(const char *cents_text) {
    char text[32];
    if (!cents_text)
        return json_null();
    format_money(strtoll(cents_text, NULL, 10), text, sizeof text);
    return json_string(text);
}

static json_t *money(int64_t cents) {
    char text[32];
    format_money(cents, text, sizeof text);
    return json_string(text);
}

static long long count_at(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Summary columns (db/facets.h). */
enum { S_KIND, S_ID, S_SLUG, S_NAME, S_SORT, S_N, S_A, S_B };

static bool kind_is(const PGresult *r, int row, char kind) {
    return PQgetvalue(r, row, S_KIND)[0] == kind;
}

/* {"min", "max", "buckets"?} from the summary's price rows. */
static json_t *price_json(const PGresult *r, const struct buckets *bk) {
    long long counts[BUCKETS_MAX + 1] = {0};
    const char *min = NULL, *max = NULL;
    for (int i = 0; r && i < PQntuples(r); i++) {
        if (!kind_is(r, i, '1'))
            continue;
        long long bucket = count_at(r, i, S_ID);
        if (bucket >= 1 && bucket <= (long long)bk->count)
            counts[bucket - 1] = count_at(r, i, S_N);
        if (!min || count_at(r, i, S_A) < strtoll(min, NULL, 10))
            min = PQgetvalue(r, i, S_A);
        if (!max || count_at(r, i, S_B) > strtoll(max, NULL, 10))
            max = PQgetvalue(r, i, S_B);
    }
    json_t *price = json_pack("{s:o, s:o}", "min", money_or_null(min), "max", money_or_null(max));
    if (!bk->count)
        return price;
    json_t *list = json_array();
    for (size_t i = 0; i < bk->count; i++)
        json_array_append_new(list,
                              json_pack("{s:o, s:o, s:I}", "min", money(bk->cents[i]), "max",
                                        i + 1 < bk->count ? money(bk->cents[i + 1]) : json_null(),
                                        "count", (json_int_t)counts[i]));
    json_object_set_new(price, "buckets", list);
    return price;
}

static json_t *categories_json(const PGresult *r) {
    json_t *list = json_array();
    for (int i = 0; r && i < PQntuples(r); i++)
        if (kind_is(r, i, '2'))
            json_array_append_new(
                list, json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)count_at(r, i, S_ID),
                                "slug", PQgetvalue(r, i, S_SLUG), "name", PQgetvalue(r, i, S_NAME),
                                "count", (json_int_t)count_at(r, i, S_N)));
    return list;
}

/* ---- attribute and option groups ----------------------------------------- */

#define GROUPS_MAX (NX_FACET_KEYS + 2 * NX_DISCOVERY_MAX)

struct group {
    char *key; /* owned */
    long long total;
    json_t *values;
};

struct groups {
    struct group g[GROUPS_MAX];
    size_t count;
};

/* Whether key has a filter of its own (counted apart). */
typedef bool (*own_filter_fn)(const struct product_filter *f, const char *key);

static bool attribute_filtered(const struct product_filter *f, const char *key) {
    for (size_t i = 0; i < f->attribute_count; i++)
        if (strcmp(f->attributes[i].key, key) == 0)
            return true;
    return false;
}

/* Rows kind, key, value, count, key_count (grouped by kind and key) of
 * kind into groups; keys with a filter of their own are left out when
 * skip says so. */
static void add_groups(struct groups *gs, const PGresult *r, char kind,
                       const struct product_filter *f, own_filter_fn skip) {
    struct group *cur = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *key = PQgetvalue(r, i, 1);
        if (PQgetvalue(r, i, 0)[0] != kind || (skip && skip(f, key)))
            continue;
        if (!cur || strcmp(cur->key, key) != 0) {
            if (gs->count == GROUPS_MAX)
                return;
            cur = &gs->g[gs->count++];
            cur->key = xstrdup(key);
            cur->total = count_at(r, i, 4);
            cur->values = json_array();
        }
        json_array_append_new(cur->values, json_pack("{s:s, s:I}", "value", PQgetvalue(r, i, 2),
                                                     "count", (json_int_t)count_at(r, i, 3)));
    }
}

static int compare_groups(const void *a, const void *b) {
    const struct group *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return variant_option_name_cmp(x->key, y->key);
}

/* The NX_FACET_KEYS first groups as an object; frees the groups. */
static json_t *groups_json(struct groups *gs) {
    json_t *obj = json_object();
    qsort(gs->g, gs->count, sizeof gs->g[0], compare_groups);
    for (size_t i = 0; i < gs->count; i++) {
        if (i < NX_FACET_KEYS && !json_object_get(obj, gs->g[i].key))
            json_object_set_new(obj, gs->g[i].key, gs->g[i].values);
        else
            json_decref(gs->g[i].values);
        free(gs->g[i].key);
    }
    gs->count = 0;
    return obj;
}

static const struct filter_skip NO_SKIP = {SKIP_NONE, -1, -1};
static const struct filter_skip SKIP_OPTIONS_ONLY = {SKIP_OPTIONS, -1, -1};

struct group_sets {
    struct groups attributes, options;
};

/* Rows of r of both kinds into sets; keys with a filter of their own are
 * left out when all says the query counted every key. */
static void add_both(struct group_sets *s, const PGresult *r, const struct product_filter *f,
                     bool all) {
    add_groups(&s->attributes, r, '1', f, all ? attribute_filtered : NULL);
    add_groups(&s->options, r, '2', f, all ? product_filter_names_option : NULL);
}

/* Every key and name without a filter of its own over the whole filter,
 * then each filtered one without its filter. Without option filters,
 * attribute and option values are one count of terms; with them, the
 * options' values hold on the variants that match the others, read from
 * the variants (the product's terms cannot tell which variant has which),
 * except for a name whose filter is the only one. */
static enum nx_err group_queries(struct db *db, const struct product_filter *f,
                                 struct group_sets *s) {
    PGresult *r = NULL;
    char attribute_keys[16], option_names[16];
    snprintf(attribute_keys, sizeof attribute_keys, "%zu", NX_FACET_KEYS + f->attribute_count);
    snprintf(option_names, sizeof option_names, "%zu", NX_FACET_KEYS + f->option_count);
    bool by_variants = f->option_count > 0;
    enum nx_err e = facets_terms(db, f, &NO_SKIP, by_variants ? FA_ATTRIBUTES : FA_BOTH, NULL,
                                 attribute_keys, option_names, &r);
    if (e == NX_OK && by_variants) {
        add_both(s, r, f, true);
        PQclear(r);
        r = NULL;
        e = facets_options(db, f, -1, option_names, &r);
    }
    if (e == NX_OK)
        add_both(s, r, f, true);
    for (size_t i = 0; e == NX_OK && i < f->attribute_count; i++) {
        struct filter_skip skip = {SKIP_NONE, (int)i, -1};
        PQclear(r);
        r = NULL;
        e = facets_terms(db, f, &skip, FA_ATTRIBUTES, f->attributes[i].key, "1", "0", &r);
        if (e == NX_OK)
            add_both(s, r, f, false);
    }
    for (size_t i = 0; e == NX_OK && i < f->option_count; i++) {
        PQclear(r);
        r = NULL;
        /* the terms cannot tell in_stock=false of the variants either */
        if (f->option_count == 1 && f->in_stock != 0)
            e = facets_terms(db, f, &SKIP_OPTIONS_ONLY, FA_OPTIONS, f->options[i].name, "0", "1",
                             &r);
        else
            e = facets_options(db, f, (int)i, "1", &r);
        if (e == NX_OK)
            add_both(s, r, f, false);
    }
    PQclear(r);
    return e;
}

/* ---- the answer ---------------------------------------------------------- */

static enum nx_err facets_json(struct db *db, const struct product_query *q,
                               const struct buckets *bk, json_t **out) {
    struct product_filter filter = q->filter;
    const struct product_filter *f = &filter;
    PGresult *summary = NULL;
    struct group_sets s = {.attributes = {.count = 0}, .options = {.count = 0}};
    enum nx_err e = NX_OK;
    /* The option filters are tested on the entries of their terms unless
     * a bulk load's rebuild is pending: the entries then lack its
     * products (db/products.h, option_entries). */
    bool pending = true;
    if (filter.option_count && !filter.include_inactive)
        e = imports_derived_pending(db, &pending);
    filter.option_entries = !pending;
    if (e == NX_OK)
        e = facets_summary(db, f, q->category_id, bk->literal.data, &summary);
    if (e == NX_OK)
        e = group_queries(db, f, &s);
    json_t *attributes = groups_json(&s.attributes), *options = groups_json(&s.options);
    if (e == NX_OK)
        *out = json_pack("{s:I, s:o, s:o, s:{s:I, s:I}, s:o, s:o}", "total",
                         (json_int_t)count_at(summary, 0, S_N), "categories",
                         categories_json(summary), "price", price_json(summary, bk), "in_stock",
                         "true", (json_int_t)count_at(summary, 0, S_A), "false",
                         (json_int_t)count_at(summary, 0, S_B), "attributes", attributes, "options",
                         options);
    else {
        json_decref(attributes);
        json_decref(options);
    }
    PQclear(summary);
    return e;
}

/* A filter that matches nothing (a category that does not exist). */
static json_t *empty_json(const struct buckets *bk) {
    return json_pack("{s:i, s:[], s:o, s:{s:i, s:i}, s:{}, s:{}}", "total", 0, "categories",
                     "price", price_json(NULL, bk), "in_stock", "true", 0, "false", 0, "attributes",
                     "options");
}

enum nx_err api_facets_load(struct request *req, struct db *db, bool staff, json_t **body) {
    struct product_query q;
    struct buckets bk = {.count = 0};
    *body = NULL;
    enum nx_err e = product_query_parse(req, db, staff, &q);
    if (e == NX_OK)
        e = parse_buckets(req, &bk);
    if (e == NX_OK && !q.matches_nothing) /* once for every facet's statement */
        e = products_words_common(db, &q.filter, &q.filter.words_common);
    if (e == NX_OK && q.matches_nothing)
        *body = empty_json(&bk);
    else if (e == NX_OK)
        e = facets_json(db, &q, &bk, body);
    product_query_clear(&q);
    buf_clear(&bk.literal);
    return e;
}

enum nx_err api_products_facets(struct request *req, struct response *res) {
    struct db *db = NULL;
    json_t *body = NULL;
    enum nx_err e = api_db(req, &db);
    if (e == NX_OK)
        e = api_facets_load(req, db, api_is_staff(req), &body);
    if (e == NX_OK)
        api_ok(res, body);
    return e;
}
