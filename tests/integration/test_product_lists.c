/*
 * test_product_lists.c -- GET /products: the list envelope, limit, sort
 * (ties by id), every filter alone and combined with every sort, keyset
 * cursors (binding, tampering, stability under concurrent writes),
 * visibility of inactive and deleted products, and query parameters that
 * look like SQL.
 *
 * The expected order of every walk is computed from the database with SQL
 * at the time of the walk.
 */
#include "harness.h"

#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CATEGORIES "/api/v1/categories"
#define PRODUCTS   "/api/v1/products"
#define MAX_IDS    512
#define PATH_MAX_  12288
/* Small enough that the seeded fillers (48) exceed it. */
#define SEARCH_TOTAL_CAP "40"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;

/* The category tree: root R with children A and B; X elsewhere. */
static long long cat_r, cat_a, cat_b, cat_x;
static long long inactive_id, deleted_id;

static const char *const SORTS[] = {"created_at", "-created_at", "price",
                                    "-price",     "name",        "-name"};
static const char *const SORT_SQL[] = {"created_at, id",  "created_at DESC, id DESC",
                                       "price_cents, id", "price_cents DESC, id DESC",
                                       "lower(name), id", "lower(name) DESC, id DESC"};

/* ---- helpers ----------------------------------------------------------------- */

/* Percent-encode everything but unreserved characters. Owned. */
static char *urlencode(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 4, "%%%02X", c);
            o += 3;
        }
    }
    out[o] = '\0';
    return out;
}

static long long make_category(const char *name, const char *slug, long long parent) {
    json_t *b = json_pack("{s:s, s:s}", "name", name, "slug", slug);
    if (parent)
        json_object_set_new(b, "parent_id", json_integer(parent));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct http_res *r = call("POST", CATEGORIES, staff_token, s);
    free(s);
    expect_status(r, 201, "create category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

struct seed {
    const char *name;
    const char *description;
    const char *price;
    int stock;
    const char *currency;
    long long category;
    bool active;
};

static long long make_product(const char *sku, const struct seed *p) {
    json_t *b =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:b}", "sku", sku, "name", p->name, "description",
                  p->description ? p->description : "", "price", p->price, "stock", p->stock,
                  "currency", p->currency ? p->currency : "USD", "is_active", p->active);
    if (p->category)
        json_object_set_new(b, "category_id", json_integer(p->category));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct http_res *r = call("POST", PRODUCTS, staff_token, s);
    free(s);
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static long long make_simple(const char *sku, const char *name, const char *price,
                             long long category) {
    struct seed s = {name, "", price, 3, "USD", category, true};
    return make_product(sku, &s);
}

static void delete_product(long long id) {
    char path[64];
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    struct http_res *r = call("DELETE", path, staff_token, NULL);
    expect_status(r, 204, "delete product");
    http_res_free(r);
}

/* A list item: the product's fields, without its variants. */
static void assert_product_item(json_t *p) {
    assert_true(json_is_object(p));
    assert_int_equal(json_object_size(p), 18);
    const char *keys[] = {
        "id",         "sku",         "name",     "slug",          "description", "price",
        "currency",   "stock",       "in_stock", "is_active",     "category",    "created_at",
        "updated_at", "price_range", "options",  "variant_count", "attributes",  "images"};
    for (size_t i = 0; i < 18; i++)
        assert_non_null(json_object_get(p, keys[i]));
}

static long list_status(const char *query, const char *token) {
    char path[PATH_MAX_];
    snprintf(path, sizeof path, PRODUCTS "?%s", query);
    struct http_res *r = call("GET", path, token, NULL);
    long s = r->status;
    if (s >= 400)
        assert_problem(r, s, NULL);
    http_res_free(r);
    return s;
}

static void expect_list_400(const char *query) {
    long s = list_status(query, NULL);
    if (s != 400)
        fprintf(stderr, "?%s gave %ld, want 400\n", query, s);
    assert_int_equal(s, 400);
}

/* Product ids matching where_sql (over live products), in order_sql. */
static size_t sql_ids(long long *ids, size_t cap, const char *order_sql, const char *where_sql) {
    return parse_ids(harness_sql_value(&server,
                                       "SELECT coalesce(string_agg(id::text, ',' ORDER BY %s), '')"
                                       " FROM products WHERE deleted_at IS NULL AND %s",
                                       order_sql, where_sql),
                     ids, cap);
}

static bool contains(const long long *ids, size_t n, long long id) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* The first page of a query (owned response, 200 asserted). */
static struct http_res *page(const char *query, const char *token) {
    char path[PATH_MAX_];
    snprintf(path, sizeof path, PRODUCTS "?%s", query);
    struct http_res *r = call("GET", path, token, NULL);
    expect_status(r, 200, path);
    assert_true(json_is_array(json_object_get(r->json, "items")));
    json_t *next = json_object_get(r->json, "next_cursor");
    assert_true(json_is_null(next) || json_is_string(next));
    return r;
}

/* Walk a listing from the first page to the last; collect ids, failing
 * at once on a repeated id. */
static size_t walk(const char *query, const char *token, long long *ids, size_t cap,
                   size_t *pages) {
    char path[PATH_MAX_];
    char *cursor = NULL;
    size_t n = 0, np = 0;
    for (;;) {
        snprintf(path, sizeof path, PRODUCTS "?%s%s%s", query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *r = call("GET", path, token, NULL);
        expect_status(r, 200, query);
        np++;
        json_t *items = json_object_get(r->json, "items");
        assert_true(json_is_array(items));
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) {
            assert_product_item(item);
            long long id = jint(item, "id");
            if (contains(ids, n, id))
                fprintf(stderr, "?%s: id %lld listed twice (page %zu)\n", query, id, np);
            assert_false(contains(ids, n, id));
            assert_true(n < cap);
            ids[n++] = id;
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        assert_non_null(next);
        assert_true(json_is_null(next) || json_is_string(next));
        if (json_is_string(next)) {
            assert_true(json_array_size(items) > 0);
            cursor = take(json_string_value(next));
        }
        http_res_free(r);
        if (!cursor)
            break;
    }
    if (pages)
        *pages = np;
    return n;
}

static void assert_same_ids(const char *what, const long long *got, size_t ngot,
                            const long long *want, size_t nwant) {
    bool same = ngot == nwant;
    for (size_t i = 0; same && i < nwant; i++)
        same = got[i] == want[i];
    if (!same) {
        fprintf(stderr, "%s: got %zu ids, want %zu\n  got: ", what, ngot, nwant);
        for (size_t i = 0; i < ngot; i++)
            fprintf(stderr, "%lld ", got[i]);
        fprintf(stderr, "\n want: ");
        for (size_t i = 0; i < nwant; i++)
            fprintf(stderr, "%lld ", want[i]);
        fprintf(stderr, "\n");
    }
    assert_true(same);
}

/* Walk query and compare with the live products matching where_sql in
 * order_sql. */
static void expect_walk(const char *query, const char *token, const char *order_sql,
                        const char *where_sql) {
    long long got[MAX_IDS], want[MAX_IDS];
    size_t ngot = walk(query, token, got, MAX_IDS, NULL);
    size_t nwant = sql_ids(want, MAX_IDS, order_sql, where_sql);
    char what[1024];
    snprintf(what, sizeof what, "?%s vs ORDER BY %s WHERE %s", query, order_sql, where_sql);
    assert_same_ids(what, got, ngot, want, nwant);
}

static long long total_of(const char *query, const char *token) {
    char q[PATH_MAX_];
    snprintf(q, sizeof q, "%s&include_total=true", query);
    struct http_res *r = page(q, token);
    long long t = jint(r->json, "total");
    http_res_free(r);
    return t;
}

static long long sql_count(const char *where_sql) {
    char *n = harness_sql_value(
        &server, "SELECT count(*) FROM products WHERE deleted_at IS NULL AND %s", where_sql);
    long long v = strtoll(n, NULL, 10);
    free(n);
    return v;
}

/* Walk query at limit in each sort against the live products matching
 * where_sql in that sort's order. */
static void expect_walk_in_every_sort(const char *query, int limit, const char *token,
                                      const char *where_sql) {
    for (size_t s = 0; s < 6; s++) {
        char q[1024];
        snprintf(q, sizeof q, "%s&sort=%s&limit=%d", query, SORTS[s], limit);
        expect_walk(q, token, SORT_SQL[s], where_sql);
    }
}

static void expect_total(const char *query, const char *where_sql) {
    char q[1024];
    snprintf(q, sizeof q, "%s&limit=1", query);
    assert_int_equal(total_of(q, NULL), sql_count(where_sql));
}

/* Names of every item of a (single page) listing, joined by '|'. Owned. */
static char *names_of(const char *query) {
    char q[PATH_MAX_];
    snprintf(q, sizeof q, "%s&limit=100&sort=name", query);
    struct http_res *r = page(q, NULL);
    assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
    size_t cap = 1;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r->json, "items"), i, item) cap +=
        strlen(jstr(item, "name")) + 1;
    char *out = calloc(1, cap);
    assert_non_null(out);
    json_array_foreach(json_object_get(r->json, "items"), i, item) {
        if (i)
            strcat(out, "|");
        strcat(out, jstr(item, "name"));
    }
    http_res_free(r);
    return out;
}

static void expect_names(const char *query, const char *want) {
    char *got = names_of(query);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "?%s: got [%s], want [%s]\n", query, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* The where clause for live, active products in R's subtree. */
static void where_tree(char *out, size_t cap, const char *more) {
    snprintf(out, cap, "is_active AND category_id IN (%lld, %lld, %lld)%s%s", cat_r, cat_a, cat_b,
             more[0] ? " AND " : "", more);
}

/* ---- seed data ----------------------------------------------------------------- */

static void seed(void) {
    cat_r = make_category("List Root", "list-root", 0);
    cat_a = make_category("List Alpha", "list-alpha", cat_r);
    cat_b = make_category("List Beta", "list-beta", cat_r);
    cat_x = make_category("List Other", "list-other", 0);
    const struct seed special[] = {
        {"Wireless Headphones", "Over-ear, noise cancelling", "199.99", 5, "USD", cat_a, true},
        {"Wired Headset", "Plain and simple", "49.99", 0, "USD", cat_a, true},
        {"100% cotton shirt", "Soft shirt", "19.99", 10, "USD", cat_b, true},
        {"100 cotton sheet", "Bedding", "29.99", 3, "USD", cat_b, true},
        {"snake_case widget", "Underscored name", "10", 2, "USD", cat_r, true},
        {"back\\slash tool", "Escapes", "10", 2, "USD", cat_r, true},
        {"Crème brûlée torch", "Kitchen flame", "35", 1, "EUR", cat_x, true},
        {"zebra lamp", "Striped", "10", 4, "USD", cat_r, true},
        {"Zebra mat", "Striped", "10", 0, "USD", cat_r, true},
        {"ZEBRA nest", "Striped", "10", 7, "USD", cat_r, true},
        {"say \"hi\" mug", "Quoted", "12", 1, "USD", 0, true},
        {"Samsung TV Stand", "Oak, for screens up to 65 inches", "89", 2, "USD", cat_a, true},
        {"Monitor arm", "Holds a 4K panel; gas spring", "59", 0, "USD", cat_a, true},
        {"Gaming PC", "RGB tower, 4k ready, a-b switch", "999", 1, "EUR", cat_b, true},
        {"Étagère", "Wall shelf; Über solid", "45", 3, "EUR", cat_x, true},
        {"Q-tips", "Cotton swabs (x200)", "3", 9, "USD", cat_r, true},
    };
    char sku[32];
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        snprintf(sku, sizeof sku, "SPECIAL-%02zu", i);
        make_product(sku, &special[i]);
    }
    static const char *const prices[] = {"5", "10", "10.00", "19.99", "0", "250.5", "10", "7.25"};
    for (int i = 0; i < 48; i++) {
        char name[64];
        static const char *const stems[] = {"filler item", "Filler Item", "FILLER ITEM"};
        snprintf(name, sizeof name, "%s %02d", stems[i % 3], 47 - i); /* not in creation order */
        long long cats[] = {cat_r, cat_a, cat_b, i % 8 == 3 ? cat_x : 0};
        struct seed s = {name,
                         "plain filler description",
                         prices[i % 8],
                         i % 4 == 0 ? 0 : i,
                         i % 5 == 0   ? "EUR"
                         : i % 7 == 0 ? "GBP"
                                      : "USD",
                         cats[i % 4],
                         true};
        snprintf(sku, sizeof sku, "FILLER-%02d", i);
        make_product(sku, &s);
    }
    struct seed hidden = {"Hidden Lamp", "Inactive", "10", 5, "USD", cat_a, false};
    inactive_id = make_product("HIDDEN-1", &hidden);
    struct seed gone = {"Deleted Lamp", "Soft-deleted", "10", 5, "USD", cat_a, true};
    deleted_id = make_product("DELETED-1", &gone);
    delete_product(deleted_id);
}

/* ---- group set-up ---------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    static const char *const env[] = {"SEARCH_TOTAL_CAP=" SEARCH_TOTAL_CAP, NULL};
    harness_start(&server, "product_lists", env);
    harness_staff_and_customer(&server, "list", &staff_token, &customer_token);
    seed();
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    free(customer_token);
    staff_token = customer_token = NULL;
    harness_stop(&server);
    return 0;
}

/* ---- envelope, limit, total --------------------------------------------------------- */

static void test_envelope_default_limit_and_default_sort(void **state) {
    (void)state;
    struct http_res *r = page("", NULL);
    assert_int_equal(json_object_size(r->json), 2); /* items and next_cursor only */
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 20);
    assert_true(json_is_string(json_object_get(r->json, "next_cursor")));
    assert_null(json_object_get(r->json, "total"));
    assert_string_equal(http_header(r, "Content-Type"), "application/json");
    http_res_free(r);
    size_t pages = 0;
    long long got[MAX_IDS], want[MAX_IDS];
    size_t n = walk("limit=7", NULL, got, MAX_IDS, &pages);
    size_t nw = sql_ids(want, MAX_IDS, "created_at DESC, id DESC", "is_active");
    assert_same_ids("default sort", got, n, want, nw);
    assert_int_equal(pages, (n + 6) / 7);
    expect_walk("", NULL, "created_at DESC, id DESC", "is_active");
    /* the last page says so */
    r = page("limit=100", NULL);
    assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), nw);
    http_res_free(r);
}

static void test_include_total_counts_the_whole_filtered_set(void **state) {
    (void)state;
    assert_int_equal(total_of("limit=3", NULL), sql_count("is_active"));
    char where[512];
    where_tree(where, sizeof where, "");
    assert_int_equal(total_of("category=list-root&limit=2", NULL), sql_count(where));
    where_tree(where, sizeof where, "stock > 0 AND price_cents >= 500");
    assert_int_equal(total_of("category=list-root&in_stock=true&min_price=5&limit=2", NULL),
                     sql_count(where));
    assert_int_equal(total_of("q=filler%204&limit=5", NULL),
                     sql_count("is_active AND (name || ' ' || description) ILIKE '%filler%'"
                               " AND (name || ' ' || description) ILIKE '%4%'"));
    /* a word that fills a page from the first rows a walk passes, with
     * fewer matches than the cap: exact, also once it is known as common */
    for (int i = 0; i < 2; i++)
        assert_int_equal(total_of("q=4&limit=2", NULL),
                         sql_count("is_active AND (name || ' ' || description) ILIKE '%4%'"));
    assert_int_equal(total_of("category=no-such-category", NULL), 0);
    assert_int_equal(total_of("include_inactive=true&limit=1", staff_token), sql_count("true"));
    assert_int_equal(total_of("include_inactive=true&limit=1", customer_token),
                     sql_count("is_active"));
    /* on a later page too */
    struct http_res *r = page("limit=5&include_total=true&sort=price", NULL);
    char q[2048];
    snprintf(q, sizeof q, "limit=5&include_total=true&sort=price&cursor=%s",
             jstr(r->json, "next_cursor"));
    http_res_free(r);
    r = page(q, NULL);
    assert_int_equal(jint(r->json, "total"), sql_count("is_active"));
    http_res_free(r);
    r = page("include_total=false", NULL);
    assert_null(json_object_get(r->json, "total"));
    http_res_free(r);
    expect_list_400("include_total=yes");
    expect_list_400("include_total=1");
}

static void test_limit_must_be_1_to_100(void **state) {
    (void)state;
    long long live = sql_count("is_active");
    const int limits[] = {1, 2, 20, 58, 59, 60, 99, 100};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        char q[32];
        snprintf(q, sizeof q, "limit=%d", limits[k]);
        struct http_res *r = page(q, NULL);
        size_t want = (size_t)(limits[k] < live ? limits[k] : live);
        assert_int_equal(json_array_size(json_object_get(r->json, "items")), want);
        assert_int_equal(json_is_string(json_object_get(r->json, "next_cursor")), limits[k] < live);
        http_res_free(r);
    }
    assert_int_equal(list_status("limit=100", NULL), 200);
    /* a plain decimal integer may have leading zeros */
    struct http_res *r = page("limit=05", NULL);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 5);
    http_res_free(r);
    const char *bad[] = {"limit=0",
                         "limit=101",
                         "limit=-1",
                         "limit=abc",
                         "limit=",
                         "limit=1e2",
                         "limit=0x10",
                         "limit=%205",
                         "limit=5abc",
                         "limit=1.5",
                         "limit=+5",
                         "limit=00",
                         "limit=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_list_400(bad[i]);
}

/* ---- sort -------------------------------------------------------------------------- */

static void test_every_sort_orders_with_ties_broken_by_id(void **state) {
    (void)state;
    for (size_t s = 0; s < 6; s++) {
        char q[64];
        snprintf(q, sizeof q, "sort=%s&limit=7", SORTS[s]);
        expect_walk(q, NULL, SORT_SQL[s], "is_active");
        snprintf(q, sizeof q, "sort=%s&limit=100", SORTS[s]);
        expect_walk(q, NULL, SORT_SQL[s], "is_active");
    }
    /* the products at 10.00: ids ascending under price, descending under -price */
    long long got[MAX_IDS] = {0}, tens[MAX_IDS] = {0};
    size_t nt = sql_ids(tens, MAX_IDS, "id", "is_active AND price_cents = 1000");
    assert_true(nt >= 5);
    size_t n = walk("sort=price&limit=9&min_price=10&max_price=10", NULL, got, MAX_IDS, NULL);
    assert_same_ids("price ties ascending", got, n, tens, nt);
    n = walk("sort=-price&limit=9&min_price=10&max_price=10", NULL, got, MAX_IDS, NULL);
    long long rev[MAX_IDS];
    for (size_t i = 0; i < nt; i++)
        rev[i] = tens[nt - 1 - i];
    assert_same_ids("price ties descending", got, n, rev, nt);
    /* names ignore case: zebra lamp < Zebra mat < ZEBRA nest, both ways */
    expect_names("q=zebra", "zebra lamp|Zebra mat|ZEBRA nest");
    struct http_res *r = page("q=zebra&sort=-name", NULL);
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(jstr(json_array_get(items, 0), "name"), "ZEBRA nest");
    assert_string_equal(jstr(json_array_get(items, 2), "name"), "zebra lamp");
    http_res_free(r);
}

static void test_unknown_sort_is_400(void **state) {
    (void)state;
    const char *bad[] = {"sort=bogus",    "sort=stock",    "sort=PRICE",      "sort=--price",
                         "sort=%2Bprice", "sort=price,id", "sort=id",         "sort=price_cents",
                         "sort=-",        "sort=%20price", "sort=updated_at", "sort="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_list_400(bad[i]);
}

/* ---- filters ------------------------------------------------------------------------- */

static void test_category_filter_includes_descendants(void **state) {
    (void)state;
    char q[128], where[512];
    where_tree(where, sizeof where, "");
    expect_walk("category=list-root&limit=9", NULL, "created_at DESC, id DESC", where);
    snprintf(q, sizeof q, "category=%lld&limit=9", cat_r);
    expect_walk(q, NULL, "created_at DESC, id DESC", where);
    snprintf(where, sizeof where, "is_active AND category_id = %lld", cat_a);
    expect_walk("category=list-alpha&limit=4", NULL, "created_at DESC, id DESC", where);
    /* a category without subcategories walks its own index range, in
     * every sort (its statement is prepared, planned once for any such
     * category) */
    expect_walk_in_every_sort("category=list-alpha", 3, NULL, where);
    snprintf(q, sizeof q, "category=%lld&in_stock=true", cat_b);
    snprintf(where, sizeof where, "is_active AND stock > 0 AND category_id = %lld", cat_b);
    expect_walk_in_every_sort(q, 2, NULL, where);
    snprintf(q, sizeof q, "category=%lld", cat_b);
    snprintf(where, sizeof where, "is_active AND category_id = %lld", cat_b);
    expect_walk(q, NULL, "created_at DESC, id DESC", where);
    /* R holds products of its own too, and the union is all three */
    assert_true(sql_count(where) > 0);
    long long r_total = total_of("category=list-root", NULL);
    long long parts = total_of("category=list-alpha", NULL) + total_of("category=list-beta", NULL);
    snprintf(where, sizeof where, "is_active AND category_id = %lld", cat_r);
    assert_int_equal(r_total, parts + sql_count(where));
    assert_true(sql_count(where) > 0);
    /* well-formed but unknown: empty */
    const char *none[] = {"category=999999", "category=no-such-category", "category=ABC",
                          "category=List-Root"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(q, sizeof q, "%s&include_total=true", none[i]);
        struct http_res *r = page(q, NULL);
        if (json_array_size(json_object_get(r->json, "items")) != 0)
            fprintf(stderr, "?%s was not empty\n", none[i]);
        assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
        assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
        assert_int_equal(jint(r->json, "total"), 0);
        http_res_free(r);
    }
    /* long, but well-formed: still just no match */
    char longkey[256] = "category=";
    for (int i = 0; i < 150; i++)
        strcat(longkey, "a");
    long st = list_status(longkey, NULL);
    if (st != 200)
        fprintf(stderr, "a 150-letter category gave %ld\n", st);
    assert_int_equal(st, 200);
    assert_int_equal(list_status("category=99999999999999999999", NULL), 200);
    const char *bad[] = {"category=bad%20value", "category=bad!value", "category=a_b",
                         "category=a.b",         "category=%27",       "category=1%3B2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_list_400(bad[i]);
    /* empty: ignored */
    expect_walk("category=&limit=50", NULL, "created_at DESC, id DESC", "is_active");
}

static void test_q_matches_words_anywhere(void **state) {
    (void)state;
    expect_names("q=wire%20head", "Wired Headset|Wireless Headphones");
    expect_names("q=WIRELESS", "Wireless Headphones");
    expect_names("q=head%20less", "Wireless Headphones");
    expect_names("q=less%20wire", "Wireless Headphones");  /* word order does not matter */
    expect_names("q=noise", "Wireless Headphones");        /* description */
    expect_names("q=wire%20noise", "Wireless Headphones"); /* name and description */
    expect_names("q=wire%20nothing", "");                  /* every word must match */
    expect_names("q=%20%20wire%09%20headset%20", "Wired Headset");
    /* Unicode's white space splits too: the ideographic space, a no-break
     * space, an em space */
    expect_names("q=wire%E3%80%80headset", "Wired Headset");
    expect_names("q=wire%C2%A0head%E2%80%83less", "Wireless Headphones");
    expect_names("q=zebra%20STRIPED", "zebra lamp|Zebra mat|ZEBRA nest");
    char where[256];
    snprintf(where, sizeof where,
             "is_active AND (name || ' ' || description) ILIKE '%%filler%%'"
             " AND (name || ' ' || description) ILIKE '%%1%%'");
    expect_walk("q=filler%201&sort=name&limit=6", NULL, "lower(name), id", where);
    /* one common word: a walk of the sort order answers it, in created_at
     * order from the index that holds the search text */
    snprintf(where, sizeof where, "is_active AND (name || ' ' || description) ILIKE '%%filler%%'");
    expect_walk_in_every_sort("q=filler", 5, NULL, where);
    expect_walk_in_every_sort("q=FILLER", 5, customer_token, where);
}

static void test_q_wildcards_are_literal(void **state) {
    (void)state;
    expect_names("q=100%25", "100% cotton shirt");
    expect_names("q=100%20cotton", "100 cotton sheet|100% cotton shirt");
    expect_names("q=0%25%20c", "100% cotton shirt");
    expect_names("q=_", "snake_case widget");
    expect_names("q=e_c", "snake_case widget");
    expect_names("q=%5C", "back\\slash tool");
    expect_names("q=k%5Cs", "back\\slash tool");
    expect_names("q=%25", "100% cotton shirt");
    expect_names("q=%22hi%22", "say \"hi\" mug");
    /* past the first eight words too */
    expect_names("q=o%20o%20o%20o%20o%20o%20o%20o%20k%5Cs", "back\\slash tool");
    expect_names("q=m%20m%20m%20m%20m%20m%20m%20m%20%22hi%22", "say \"hi\" mug");
    expect_names("q=e%20e%20e%20e%20e%20e%20e%20e%20e%20e_c", "snake_case widget");
    expect_names("q=o%20o%20o%20o%20o%20o%20o%20o%20o%20nothing-here", "");
    expect_names("q=i%20i%20i%20i%20i%20i%20i%20i%20i%20100%25", "100% cotton shirt");
    /* any case, there too */
    expect_names("q=o%20o%20o%20o%20o%20o%20o%20o%20K%5CS", "back\\slash tool");
    expect_names("q=e%20e%20e%20e%20e%20e%20e%20e%20e%20CR%C3%88ME", "Crème brûlée torch");
}

static void test_q_non_ascii_length_and_empty(void **state) {
    (void)state;
    expect_names("q=br%C3%BBl", "Crème brûlée torch");
    expect_names("q=CR%C3%88ME", "Crème brûlée torch");
    expect_names("q=cr%C3%A8me%20torch", "Crème brûlée torch");
    char q[4096];
    char *letters = malloc(202);
    assert_non_null(letters);
    memset(letters, 'a', 200);
    letters[200] = '\0';
    snprintf(q, sizeof q, "q=%s", letters);
    assert_int_equal(list_status(q, NULL), 200);
    letters[200] = 'a';
    letters[201] = '\0';
    snprintf(q, sizeof q, "q=%s", letters);
    expect_list_400(q);
    free(letters);
    /* 200 characters is 200 characters, however many bytes */
    char e200[2048] = "q=";
    for (int i = 0; i < 200; i++)
        strcat(e200, "%C3%A9");
    assert_int_equal(list_status(e200, NULL), 200);
    strcat(e200, "%C3%A9");
    expect_list_400(e200);
    /* empty: ignored */
    expect_walk("q=&limit=50", NULL, "created_at DESC, id DESC", "is_active");
}

static void test_price_filters(void **state) {
    (void)state;
    expect_walk("min_price=19.99&sort=price&limit=8", NULL, "price_cents, id",
                "is_active AND price_cents >= 1999");
    expect_walk("max_price=10&sort=-price&limit=8", NULL, "price_cents DESC, id DESC",
                "is_active AND price_cents <= 1000");
    expect_walk("min_price=5&max_price=10.00&sort=price&limit=8", NULL, "price_cents, id",
                "is_active AND price_cents BETWEEN 500 AND 1000");
    expect_walk("min_price=7.25&max_price=7.25", NULL, "created_at DESC, id DESC",
                "is_active AND price_cents = 725");
    assert_true(sql_count("is_active AND price_cents = 725") > 0);
    expect_walk("min_price=0", NULL, "created_at DESC, id DESC", "is_active");
    struct http_res *r = page("min_price=20&max_price=19.99&include_total=true", NULL);
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
    assert_int_equal(jint(r->json, "total"), 0);
    http_res_free(r);
    const char *bad[] = {"min_price=abc",  "max_price=abc",   "min_price=-1",
                         "min_price=1e2",  "min_price=1.999", "min_price=12,50",
                         "max_price=%205", "min_price=NaN",   "max_price=100000000",
                         "min_price=0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_list_400(bad[i]);
    expect_walk("min_price=&max_price=&limit=50", NULL, "created_at DESC, id DESC", "is_active");
}

static void test_in_stock_and_currency_filters(void **state) {
    (void)state;
    expect_walk("in_stock=true&limit=9", NULL, "created_at DESC, id DESC",
                "is_active AND stock > 0");
    expect_walk("in_stock=false&limit=9", NULL, "created_at DESC, id DESC",
                "is_active AND stock = 0");
    assert_true(sql_count("is_active AND stock = 0") > 0);
    expect_walk("in_stock=&limit=50", NULL, "created_at DESC, id DESC", "is_active");
    expect_list_400("in_stock=yes");
    expect_list_400("in_stock=TRUE");
    expect_list_400("in_stock=1");
    expect_walk("currency=EUR&limit=4", NULL, "created_at DESC, id DESC",
                "is_active AND currency = 'EUR'");
    expect_walk("currency=GBP&sort=price", NULL, "price_cents, id",
                "is_active AND currency = 'GBP'");
    assert_true(sql_count("is_active AND currency = 'GBP'") > 0);
    expect_walk("currency=&limit=50", NULL, "created_at DESC, id DESC", "is_active");
    expect_list_400("currency=EURO");
    expect_list_400("currency=EU");
    expect_list_400("currency=E1R");
    expect_list_400("currency=%20EUR");
}

static void test_inactive_and_deleted_visibility(void **state) {
    (void)state;
    long long got[MAX_IDS];
    const char *who[] = {NULL, customer_token};
    for (size_t i = 0; i < 2; i++) {
        size_t n = walk("include_inactive=true&limit=50", who[i], got, MAX_IDS, NULL);
        assert_false(contains(got, n, inactive_id));
        assert_false(contains(got, n, deleted_id));
        expect_walk("include_inactive=true&limit=50", who[i], "created_at DESC, id DESC",
                    "is_active");
        n = walk("category=list-alpha&include_inactive=true", who[i], got, MAX_IDS, NULL);
        assert_false(contains(got, n, inactive_id));
    }
    /* staff: only when asked */
    size_t n = walk("limit=50", staff_token, got, MAX_IDS, NULL);
    assert_false(contains(got, n, inactive_id));
    expect_walk("limit=50", staff_token, "created_at DESC, id DESC", "is_active");
    n = walk("include_inactive=true&limit=50", staff_token, got, MAX_IDS, NULL);
    assert_true(contains(got, n, inactive_id));
    assert_false(contains(got, n, deleted_id));
    expect_walk("include_inactive=true&limit=8&sort=name", staff_token, "lower(name), id", "true");
    n = walk("include_inactive=true&category=list-alpha&min_price=10&max_price=10", staff_token,
             got, MAX_IDS, NULL);
    assert_true(contains(got, n, inactive_id));
    assert_false(contains(got, n, deleted_id));
    /* the deleted product is nowhere */
    n = walk("include_inactive=true&q=deleted%20lamp", staff_token, got, MAX_IDS, NULL);
    assert_int_equal(n, 0);
    expect_names("q=lamp", "zebra lamp");
}

/* Set is_active of the fillers whose number is 1 modulo 3. */
static void set_fillers_active(bool active) {
    long long ids[MAX_IDS];
    size_t n = sql_ids(ids, MAX_IDS, "id", "sku LIKE 'FILLER-%' AND substr(sku, 8)::int % 3 = 1");
    assert_int_equal(n, 16);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, PRODUCTS "/%lld", ids[i]);
        struct http_res *r = call("PATCH", path, staff_token,
                                  active ? "{\"is_active\":true}" : "{\"is_active\":false}");
        expect_status(r, 200, "PATCH is_active");
        http_res_free(r);
    }
}

/* A staff list of every product takes the first rows of the active and
 * of the inactive products from the index of each and keeps the first of
 * both: the pages must interleave them exactly, in every sort, through
 * cursors, with a search and with a category. */
static void test_staff_lists_interleave_inactive_products(void **state) {
    (void)state;
    set_fillers_active(false);
    assert_true(sql_count("NOT is_active") >= 17);
    expect_walk_in_every_sort("include_inactive=true", 7, staff_token, "true");
    expect_walk_in_every_sort("include_inactive=true", 1, staff_token, "true");
    char where[256];
    snprintf(where, sizeof where, "(name || ' ' || description) ILIKE '%%filler%%'");
    expect_walk_in_every_sort("include_inactive=true&q=filler", 4, staff_token, where);
    snprintf(where, sizeof where, "(name || ' ' || description) ILIKE '%%filler%%' AND stock > 0");
    expect_walk_in_every_sort("include_inactive=true&q=filler&in_stock=true", 3, staff_token,
                              where);
    snprintf(where, sizeof where, "category_id = %lld", cat_a);
    expect_walk_in_every_sort("include_inactive=true&category=list-alpha", 3, staff_token, where);
    /* the public list still holds active products only */
    expect_walk_in_every_sort("include_inactive=true", 9, customer_token, "is_active");
    set_fillers_active(true);
    assert_int_equal(sql_count("NOT is_active"), 1);
}

/* ---- every filter with every sort ------------------------------------------------------ */

static void test_filters_combined_with_every_sort(void **state) {
    (void)state;
    char tree_stock_min[512], alpha_cheap[512], q_stock[512], tree_eur[512];
    where_tree(tree_stock_min, sizeof tree_stock_min, "stock > 0 AND price_cents >= 500");
    snprintf(alpha_cheap, sizeof alpha_cheap,
             "is_active AND category_id = %lld AND price_cents <= 1999 AND currency = 'USD'",
             cat_a);
    snprintf(q_stock, sizeof q_stock,
             "is_active AND (name || ' ' || description) ILIKE '%%item%%'"
             " AND (name || ' ' || description) ILIKE '%%plain%%' AND stock = 0");
    where_tree(tree_eur, sizeof tree_eur,
               "currency = 'EUR' AND price_cents BETWEEN 0 AND 25050 AND stock > 0");
    struct {
        const char *query;
        const char *where;
    } combos[] = {
        {"category=list-root&min_price=5&in_stock=true", tree_stock_min},
        {"in_stock=true&category=list-root&min_price=5.00", tree_stock_min},
        {"category=list-alpha&max_price=19.99&currency=USD", alpha_cheap},
        {"q=item%20plain&in_stock=false", q_stock},
        {"category=list-root&currency=EUR&min_price=0&max_price=250.50&in_stock=true", tree_eur},
    };
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        assert_true(sql_count(combos[c].where) >= 3);
        expect_walk_in_every_sort(combos[c].query, 7, NULL, combos[c].where);
        expect_walk_in_every_sort(combos[c].query, 2, customer_token, combos[c].where);
        expect_total(combos[c].query, combos[c].where);
    }
}

/* Words of one and two characters (and words with no three letters or
 * digits in a row) are looked up in the index of character pairs: the
 * same matches as any word, in every sort and through every cursor. */
static void test_q_short_words_in_every_sort(void **state) {
    (void)state;
    static const char *const words[][2] = {
        {"tv", "'%tv%'"},    {"TV", "'%tv%'"},   {"4k", "'%4k%'"},      {"4K", "'%4k%'"},
        {"pc", "'%pc%'"},    {"x", "'%x%'"},     {"q", "'%q%'"},        {"%C3%A9", "'%é%'"},
        {"%C3%9C", "'%ü%'"}, {"-", "'%-%'"},     {"a-b", "'%a-b%'"},    {"%3B", "'%;%'"},
        {"%28x", "'%(x%'"},  {"%25", "'%\\%%'"}, {"_", "'%\\_%'"},      {"e_", "'%e\\_%'"},
        {"up", "'%up%'"},    {"zz", "'%zz%'"},   {"%C3%A8r", "'%èr%'"}, {"gas", "'%gas%'"},
    };
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        char query[64], where[256];
        snprintf(query, sizeof query, "q=%s", words[w][0]);
        snprintf(where, sizeof where, "is_active AND (name || ' ' || description) ILIKE %s",
                 words[w][1]);
        expect_walk_in_every_sort(query, 2, NULL, where);
    }
    /* the name and the description, case-insensitively */
    expect_names("q=tv", "Samsung TV Stand");
    expect_names("q=4K", "Gaming PC|Monitor arm");
    expect_names("q=%C3%89", "Crème brûlée torch|Étagère");
    expect_names("q=%C3%BC", "Étagère");
    expect_names("q=a-b", "Gaming PC");
    expect_names("q=zz", "");
}

static void test_q_short_words_with_other_words_and_filters(void **state) {
    (void)state;
    char tree[512], tree_stock[512];
    where_tree(tree, sizeof tree, "(name || ' ' || description) ILIKE '%4k%'");
    where_tree(tree_stock, sizeof tree_stock,
               "(name || ' ' || description) ILIKE '%e%'"
               " AND (name || ' ' || description) ILIKE '%r%' AND stock > 0");
    struct {
        const char *query;
        const char *where;
    } combos[] = {
        {"q=4k%20pc", "is_active AND (name || ' ' || description) ILIKE '%4k%'"
                      " AND (name || ' ' || description) ILIKE '%pc%'"},
        {"q=4k%20panel", "is_active AND (name || ' ' || description) ILIKE '%4k%'"
                         " AND (name || ' ' || description) ILIKE '%panel%'"},
        {"q=i%201", "is_active AND (name || ' ' || description) ILIKE '%i%'"
                    " AND (name || ' ' || description) ILIKE '%1%'"},
        {"q=4k&category=list-root", tree},
        {"q=e%20r&category=list-root&in_stock=true", tree_stock},
        {"q=o&currency=EUR&max_price=100", "is_active AND (name || ' ' || description) ILIKE"
                                           " '%o%' AND currency = 'EUR' AND price_cents <= 10000"},
    };
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        expect_walk_in_every_sort(combos[c].query, 3, NULL, combos[c].where);
        expect_total(combos[c].query, combos[c].where);
    }
}

/* The pairs index never loses a row its word's ILIKE matches: for each
 * word, no product matches the ILIKE without holding the word's pairs. */
static void test_pairs_index_holds_every_match(void **state) {
    (void)state;
    static const char *const words[] = {"a",
                                        "é",
                                        "É",
                                        "tv",
                                        "TV",
                                        "4k",
                                        "-",
                                        ";",
                                        "(x",
                                        "a-b",
                                        "Üb",
                                        "ÈRE",
                                        "\xF0\x9F\x98\x80",
                                        "ng",
                                        "up",
                                        "gas",
                                        "x200",
                                        " "};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        char *missed =
            harness_sql_value(&server,
                              "SELECT count(*) FROM products WHERE deleted_at IS NULL"
                              " AND strpos(lower(name || ' ' || description), lower('%s')) > 0"
                              " AND NOT nexus_search_codes(lower(name || ' ' || description))"
                              " @> nexus_search_word_codes(lower('%s'))",
                              words[w], words[w]);
        if (strcmp(missed, "0") != 0)
            fprintf(stderr, "word [%s]: %s matches missing from the pairs\n", words[w], missed);
        assert_string_equal(missed, "0");
        free(missed);
    }
    char *indexdef = harness_sql_value(
        &server, "SELECT indexdef FROM pg_indexes WHERE indexname = 'products_grams_idx'");
    assert_non_null(strstr(indexdef, "gin"));
    free(indexdef);
    /* the trigrams are those of the stored lower-cased text, which the
     * words are checked on */
    indexdef = harness_sql_value(
        &server, "SELECT indexdef FROM pg_indexes WHERE indexname = 'products_search_idx'");
    assert_non_null(strstr(indexdef, "gin (search_text gin_trgm_ops)"));
    free(indexdef);
}

/* A search's total stops at SEARCH_TOTAL_CAP and says so; a total within
 * the cap, and the total of a list without q, are exact. */
static void test_search_total_is_capped(void **state) {
    (void)state;
    long long cap = strtoll(SEARCH_TOTAL_CAP, NULL, 10);
    const char *broad[] = {"q=filler", "q=e", "q=filler%20e&sort=price", "q=i%20l&limit=100"};
    for (size_t i = 0; i < sizeof broad / sizeof broad[0]; i++) {
        char q[256];
        snprintf(q, sizeof q, "%s&include_total=true", broad[i]);
        struct http_res *r = page(q, NULL);
        assert_int_equal(jint(r->json, "total"), cap);
        assert_true(json_is_true(json_object_get(r->json, "total_capped")));
        assert_int_equal(json_object_size(r->json), 4);
        http_res_free(r);
    }
    assert_true(sql_count("is_active AND (name || ' ' || description) ILIKE '%filler%'") > cap);
    /* within the cap: exact, and nothing more said */
    struct http_res *r = page("q=tv&include_total=true", NULL);
    assert_int_equal(jint(r->json, "total"), 1);
    assert_null(json_object_get(r->json, "total_capped"));
    http_res_free(r);
    /* a list without q counts everything */
    assert_true(sql_count("is_active") > cap);
    r = page("limit=1&include_total=true", NULL);
    assert_int_equal(jint(r->json, "total"), sql_count("is_active"));
    assert_null(json_object_get(r->json, "total_capped"));
    http_res_free(r);
    /* the page itself is not cut by the cap */
    long long got[MAX_IDS];
    size_t n = walk("q=filler&limit=100&include_total=true", NULL, got, MAX_IDS, NULL);
    assert_int_equal((long long)n,
                     sql_count("is_active AND (name || ' ' || description) ILIKE '%filler%'"));
}

/* ---- cursors ------------------------------------------------------------------------- */

static char *first_cursor(const char *query) {
    struct http_res *r = page(query, NULL);
    char *c = take(jstr(r->json, "next_cursor"));
    http_res_free(r);
    return c;
}

static void with_cursor(char *out, size_t cap, const char *query, const char *cursor) {
    snprintf(out, cap, "%s&cursor=%s", query, cursor);
}

static void test_cursor_must_be_untouched(void **state) {
    (void)state;
    const char *base = "sort=price&limit=3";
    char *cursor = first_cursor(base);
    char q[4096];
    with_cursor(q, sizeof q, base, cursor);
    assert_int_equal(list_status(q, NULL), 200);
    size_t len = strlen(cursor);
    assert_true(len > 10);
    size_t positions[] = {0, 3, len / 3, len / 2, len - 3};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        char *t = take(cursor);
        size_t p = positions[i];
        if (t[p] == '.')
            p++;
        t[p] = t[p] == 'A' ? 'B' : 'A';
        with_cursor(q, sizeof q, base, t);
        if (list_status(q, NULL) != 400)
            fprintf(stderr, "tampered cursor (position %zu) accepted: %s\n", p, t);
        expect_list_400(q);
        free(t);
    }
    snprintf(q, sizeof q, "%s&cursor=%.*s", base, (int)(len - 4), cursor);
    expect_list_400(q);
    snprintf(q, sizeof q, "%s&cursor=%sA", base, cursor);
    expect_list_400(q);
    const char *random[] = {"garbage", "a.b",  ".", "eyJ9.eyJ9", "AAAA.AAAAAAAAAAAAAAAAAAAAAA",
                            "%00",     "null", "1"};
    for (size_t i = 0; i < sizeof random / sizeof random[0]; i++) {
        with_cursor(q, sizeof q, base, random[i]);
        expect_list_400(q);
    }
    char *huge = malloc(3001);
    assert_non_null(huge);
    memset(huge, 'Q', 3000);
    huge[3000] = '\0';
    huge[1500] = '.';
    with_cursor(q, sizeof q, base, huge);
    expect_list_400(q);
    free(huge);
    /* empty: the first page */
    struct http_res *a = page("sort=price&limit=3&cursor=", NULL);
    struct http_res *b = page("sort=price&limit=3", NULL);
    assert_true(json_equal(json_object_get(a->json, "items"), json_object_get(b->json, "items")));
    http_res_free(a);
    http_res_free(b);
    free(cursor);
}

static void test_cursor_is_bound_to_sort_and_filters(void **state) {
    (void)state;
    char q[4096];
    char *by_price = first_cursor("sort=price&limit=3");
    const char *other_sorts[] = {"sort=-price&limit=3", "sort=name&limit=3", "limit=3",
                                 "sort=created_at&limit=3", "sort=-created_at&limit=3"};
    for (size_t i = 0; i < 5; i++) {
        with_cursor(q, sizeof q, other_sorts[i], by_price);
        expect_list_400(q);
    }
    with_cursor(q, sizeof q, "sort=price&limit=5", by_price); /* another limit is fine */
    assert_int_equal(list_status(q, NULL), 200);
    const char *base = "category=list-root&min_price=5&in_stock=true&sort=name&limit=2";
    char *filtered = first_cursor(base);
    with_cursor(q, sizeof q, base, filtered);
    assert_int_equal(list_status(q, NULL), 200);
    /* the same filters in another order are the same filters */
    with_cursor(q, sizeof q, "in_stock=true&sort=name&min_price=5&category=list-root&limit=2",
                filtered);
    assert_int_equal(list_status(q, NULL), 200);
    const char *other_filters[] = {
        "category=list-alpha&min_price=5&in_stock=true&sort=name&limit=2",
        "min_price=5&in_stock=true&sort=name&limit=2",
        "category=list-root&in_stock=true&sort=name&limit=2",
        "category=list-root&min_price=6&in_stock=true&sort=name&limit=2",
        "category=list-root&min_price=5&in_stock=false&sort=name&limit=2",
        "category=list-root&min_price=5&sort=name&limit=2",
        "category=list-root&min_price=5&in_stock=true&q=item&sort=name&limit=2",
        "category=list-root&min_price=5&in_stock=true&currency=USD&sort=name&limit=2",
        "category=list-root&min_price=5&in_stock=true&max_price=100&sort=name&limit=2",
        "category=list-root&min_price=5&in_stock=true&sort=-name&limit=2",
        "sort=name&limit=2",
    };
    for (size_t i = 0; i < sizeof other_filters / sizeof other_filters[0]; i++) {
        with_cursor(q, sizeof q, other_filters[i], filtered);
        if (list_status(q, NULL) != 400)
            fprintf(stderr, "cursor of ?%s accepted by ?%s\n", base, other_filters[i]);
        expect_list_400(q);
    }
    /* by the category's id rather than its slug: the same category, the
     * same list, the same cursors */
    char by_id[256];
    snprintf(by_id, sizeof by_id, "category=%lld&min_price=5&in_stock=true&sort=name&limit=2",
             cat_r);
    with_cursor(q, sizeof q, by_id, filtered);
    assert_int_equal(list_status(q, NULL), 200);
    /* a product cursor is not a category cursor */
    snprintf(q, sizeof q, CATEGORIES "?limit=2&cursor=%s", by_price);
    struct http_res *r = call("GET", q, NULL, NULL);
    assert_problem(r, 400, NULL);
    http_res_free(r);
    free(by_price);
    free(filtered);
}

/* A cursor binds to the list served: include_inactive is ignored for
 * anyone but staff, and false is the default, so those spellings are one
 * list; a staff list with inactive products is another. */
static void test_cursor_binds_to_the_inactive_products_served(void **state) {
    (void)state;
    char q[4096];
    char *flagged = first_cursor("include_inactive=true&limit=1");
    const char *same[] = {"limit=1", "include_inactive=false&limit=1"};
    for (size_t i = 0; i < 2; i++) {
        with_cursor(q, sizeof q, same[i], flagged);
        assert_int_equal(list_status(q, NULL), 200);
        with_cursor(q, sizeof q, same[i], flagged);
        assert_int_equal(list_status(q, customer_token), 200);
    }
    struct http_res *r = page("include_inactive=true&limit=1", staff_token);
    char *staff = take(jstr(r->json, "next_cursor"));
    http_res_free(r);
    with_cursor(q, sizeof q, "include_inactive=true&limit=1", staff);
    assert_int_equal(list_status(q, staff_token), 200);
    expect_list_400(q); /* the same text from anyone else: another list */
    with_cursor(q, sizeof q, "limit=1", staff);
    assert_int_equal(list_status(q, staff_token), 400);
    free(flagged);
    free(staff);
}

/* The filter text a cursor is bound to must not be forgeable through q:
 * q="lamp&min_price=500" is another filter than q=lamp&min_price=5. */
static void test_cursor_binding_is_not_fooled_by_q_text(void **state) {
    (void)state;
    const char *base = "q=item&min_price=5&limit=2";
    char *cursor = first_cursor(base);
    char q[4096];
    with_cursor(q, sizeof q, "q=item%26min_price%3D500&limit=2", cursor);
    long s = list_status(q, NULL);
    if (s != 400)
        fprintf(stderr, "cursor of ?%s accepted with q=\"item&min_price=500\" (%ld)\n", base, s);
    assert_int_equal(s, 400);
    free(cursor);
}

/* ---- keyset paging under concurrent writes --------------------------------------------- */

static long long price_cents_of(json_t *item) {
    const char *p = jstr(item, "price");
    long long whole = 0, frac = 0;
    assert_int_equal(sscanf(p, "%lld.%lld", &whole, &frac), 2);
    return whole * 100 + frac;
}

static void test_walk_under_churn_sees_stable_rows_once_in_order(void **state) {
    (void)state;
    static const char *const prices[] = {"3", "7", "7", "7", "12.5", "20", "20", "33.33", "40"};
    for (int variant = 0; variant < 2; variant++) {
        char cname[32], cslug[32];
        snprintf(cname, sizeof cname, "Churn %d", variant);
        snprintf(cslug, sizeof cslug, "churn-%d", variant);
        long long churn = make_category(cname, cslug, 0);
        for (int i = 0; i < 27; i++) {
            char sku[32], name[64];
            snprintf(sku, sizeof sku, "CHURN-%d-%02d", variant, i);
            snprintf(name, sizeof name, "Churn Item %02d", i);
            make_simple(sku, name, prices[i % 9], churn);
        }
        const char *sort = variant == 0 ? "price" : "-created_at";
        const char *order = variant == 0 ? "price_cents, id" : "created_at DESC, id DESC";
        char where[128];
        snprintf(where, sizeof where, "is_active AND category_id = %lld AND stock > 0", churn);
        long long initial[MAX_IDS], seen[MAX_IDS], deleted_unseen[64], added[64];
        size_t ninit = sql_ids(initial, MAX_IDS, order, where);
        size_t nseen = 0, ndel = 0, nadd = 0, pages = 0;
        long long last_key = -1, last_id = -1;
        char *cursor = NULL;
        char path[4096];
        do {
            snprintf(path, sizeof path, PRODUCTS "?category=%s&in_stock=true&sort=%s&limit=5%s%s",
                     cslug, sort, cursor ? "&cursor=" : "", cursor ? cursor : "");
            free(cursor);
            cursor = NULL;
            struct http_res *r = call("GET", path, NULL, NULL);
            expect_status(r, 200, path);
            pages++;
            size_t i;
            json_t *item;
            json_array_foreach(json_object_get(r->json, "items"), i, item) {
                long long id = jint(item, "id");
                if (contains(seen, nseen, id))
                    fprintf(stderr, "churn walk (%s): id %lld seen twice\n", sort, id);
                assert_false(contains(seen, nseen, id));
                if (variant == 0) { /* strictly increasing (price, id) */
                    long long key = price_cents_of(item);
                    assert_true(key > last_key || (key == last_key && id > last_id));
                    last_key = key;
                } else {
                    assert_true(last_id < 0 || id < last_id || !contains(initial, ninit, id));
                }
                last_id = id;
                seen[nseen++] = id;
            }
            if (json_is_string(json_object_get(r->json, "next_cursor")))
                cursor = take(json_string_value(json_object_get(r->json, "next_cursor")));
            http_res_free(r);
            if (!cursor)
                break;
            /* churn: new rows at both ends, a seen row and an unseen row deleted */
            char sku[32];
            snprintf(sku, sizeof sku, "CHURN-NEW-%d-%zu-A", variant, pages);
            added[nadd++] = make_simple(sku, "Churn New Cheap", "0.01", churn);
            snprintf(sku, sizeof sku, "CHURN-NEW-%d-%zu-B", variant, pages);
            added[nadd++] = make_simple(sku, "Churn New Dear", "999", churn);
            snprintf(sku, sizeof sku, "CHURN-NEW-%d-%zu-C", variant, pages);
            added[nadd++] = make_simple(sku, "Churn New Same", "7", churn);
            delete_product(seen[nseen - 1]); /* the row the cursor points at */
            if (nseen >= 3)
                delete_product(seen[nseen - 3]);
            for (size_t k = ninit; k-- > 0;)
                if (!contains(seen, nseen, initial[k]) &&
                    !contains(deleted_unseen, ndel, initial[k])) {
                    delete_product(initial[k]); /* the last unseen row */
                    deleted_unseen[ndel++] = initial[k];
                    break;
                }
        } while (pages < 100);
        assert_null(cursor);
        assert_true(pages >= 3);
        /* every row that lived through the walk: once, in order */
        long long stable[MAX_IDS], seen_stable[MAX_IDS];
        size_t nstable = 0, nss = 0;
        for (size_t k = 0; k < ninit; k++)
            if (!contains(deleted_unseen, ndel, initial[k]))
                stable[nstable++] = initial[k];
        for (size_t k = 0; k < nseen; k++)
            if (contains(initial, ninit, seen[k]))
                seen_stable[nss++] = seen[k];
        assert_same_ids(sort, seen_stable, nss, stable, nstable);
        for (size_t k = 0; k < ndel; k++)
            assert_false(contains(seen, nseen, deleted_unseen[k]));
        /* rows added behind the position never show; price 999 is ahead */
        for (size_t k = 0; k < nadd; k++) {
            bool cheap = k % 3 == 0, dear = k % 3 == 1;
            if (variant == 1 || cheap)
                assert_false(contains(seen, nseen, added[k]));
            if (variant == 0 && dear)
                assert_true(contains(seen, nseen, added[k]));
        }
    }
}

/* ---- SQL-looking query parameters -------------------------------------------------------- */

static void test_sql_looking_query_parameters_are_data(void **state) {
    (void)state;
    struct seed s = {"x'; DROP TABLE products; --", "robert'); --", "1", 1, "USD", 0, true};
    long long id = make_product("SQL-LIST", &s);
    char *before = harness_sql_value(&server, "SELECT count(*) FROM products");
    const char *hostile[] = {"x'; DROP TABLE products; --",
                             "' OR '1'='1",
                             "1; DELETE FROM products",
                             "1 OR 1=1",
                             "$1",
                             "%' OR name LIKE '%",
                             "\\'; SELECT pg_sleep(5); --",
                             "\") ; --",
                             "{1,2}",
                             "NULL"};
    const char *params[] = {"q",         "category", "sort",     "cursor", "min_price",
                            "max_price", "currency", "in_stock", "limit",  "include_inactive"};
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++)
        for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++) {
            char *enc = urlencode(hostile[h]);
            char q[4096];
            snprintf(q, sizeof q, "%s=%s", params[p], enc);
            free(enc);
            long st = list_status(q, NULL);
            if (st != 200 && st != 400)
                fprintf(stderr, "?%s gave %ld\n", q, st);
            assert_true(st == 200 || st == 400);
            bool must_reject = strcmp(params[p], "q") != 0 &&
                               strcmp(params[p], "include_inactive") != 0 &&
                               strcmp(params[p], "category") != 0;
            if (must_reject)
                assert_int_equal(st, 400);
            st = list_status(q, staff_token);
            assert_true(st == 200 || st == 400);
        }
    /* q is plain text: the product named like an injection is found */
    long long got[MAX_IDS];
    size_t n = walk("q=DROP%20TABLE", NULL, got, MAX_IDS, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], id);
    n = walk("q=x%27%3B%20DROP%20TABLE%20products%3B%20--", NULL, got, MAX_IDS, NULL);
    assert_int_equal(n, 1);
    n = walk("q=robert%27%29%3B", NULL, got, MAX_IDS, NULL);
    assert_int_equal(n, 1);
    n = walk("q=%27%20OR%20%271%27%3D%271", NULL, got, MAX_IDS, NULL);
    assert_int_equal(n, 0);
    char *after = harness_sql_value(&server, "SELECT count(*) FROM products");
    assert_string_equal(before, after);
    free(before);
    free(after);
    char *tables = harness_sql_value(&server, "SELECT count(*) FROM pg_tables WHERE tablename IN"
                                              " ('products', 'categories', 'users')");
    assert_string_equal(tables, "3");
    free(tables);
}

/* ---- long values in cursors ------------------------------------------------------------- */

/* A q of 200 characters is allowed, so paging through its results must
 * work: 200 four-byte characters are 800 bytes of filter text. */
static void test_paging_with_the_longest_q(void **state) {
    (void)state;
    char word[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(word, "\xF0\x9F\x98\x80"); /* U+1F600 */
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        char sku[32], name[64];
        snprintf(sku, sizeof sku, "LONG-Q-%d", i);
        snprintf(name, sizeof name, "Long Query Match %d", i);
        struct seed s = {name, word, "1", 1, "USD", 0, true};
        ids[i] = make_product(sku, &s);
    }
    char *enc = urlencode(word);
    char q[4096];
    snprintf(q, sizeof q, "q=%s&limit=1&sort=created_at", enc);
    free(enc);
    long long got[MAX_IDS];
    size_t n = walk(q, NULL, got, MAX_IDS, NULL);
    assert_same_ids("longest q", got, n, ids, 3);
}

/* Names are up to 200 characters of any script: paging by name must
 * neither repeat nor lose a row (a 4-byte character is 4 bytes). */
static void test_paging_by_name_through_long_four_byte_names(void **state) {
    (void)state;
    long long cat = make_category("Long Four", "long-four", 0);
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        char name[1024] = "";
        for (int k = 0; k < 199; k++)
            strcat(name, "\xF0\x9F\x98\x80");
        char tail[2] = {(char)('a' + i), '\0'};
        strcat(name, tail);
        char sku[32];
        snprintf(sku, sizeof sku, "LONG-NAME4-%d", i);
        struct seed s = {name, "", "1", 1, "USD", cat, true};
        ids[i] = make_product(sku, &s);
    }
    long long got[MAX_IDS];
    size_t n = walk("category=long-four&sort=name&limit=1", NULL, got, MAX_IDS, NULL);
    assert_same_ids("long 4-byte names", got, n, ids, 3);
}

/* The same with three-byte characters (200 of them are 600 bytes). */
static void test_paging_by_name_through_long_three_byte_names(void **state) {
    (void)state;
    long long cat = make_category("Long Three", "long-three", 0);
    long long ids[3];
    for (int i = 0; i < 3; i++) {
        char name[1024] = "";
        for (int k = 0; k < 199; k++)
            strcat(name, "€");
        char tail[2] = {(char)('a' + i), '\0'};
        strcat(name, tail);
        char sku[32];
        snprintf(sku, sizeof sku, "LONG-NAME3-%d", i);
        struct seed s = {name, "", "1", 1, "USD", cat, true};
        ids[i] = make_product(sku, &s);
    }
    long long got[MAX_IDS];
    size_t n = walk("category=long-three&sort=name&limit=1", NULL, got, MAX_IDS, NULL);
    assert_same_ids("long 3-byte names", got, n, ids, 3);
}

/* A word in 1% of 3,000 products: the short walk (the newest or oldest
 * 1,000) does not fill a page of 20, the long one does, and the word is
 * remembered as one the long walk answers, which then reads the words
 * from the index of search text (migration 0023): every page, in both
 * created_at orders, is the one SQL gives. Last: it grows the catalog. */
static void test_a_sparse_word_walks_the_index_of_search_text(void **state) {
    (void)state;
    free(harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO products (sku, name, slug, description, price_cents, currency,"
        " stock, is_active, created_at) SELECT 'SPARSE-' || g, 'Sparse ' || g, 'sparse-' || g,"
        " CASE WHEN g %% 100 = 0 THEN 'with qzsparse inside' ELSE 'plain' END, 100, 'USD', 1,"
        " true, now() - (3000 - g) * interval '1 second' FROM generate_series(1, 3000) g"
        " RETURNING 1) SELECT count(*) FROM i"));
    const char *where = "is_active AND (name || ' ' || description) ILIKE '%qzsparse%'";
    assert_int_equal(sql_count(where), 30);
    for (int round = 0; round < 2; round++) { /* learnt, then remembered */
        expect_walk("q=qzsparse", NULL, "created_at DESC, id DESC", where);
        expect_walk("q=QZSPARSE&sort=created_at", NULL, "created_at, id", where);
    }
}

/* A description of any length up to the limit is written and found: the
 * index of search text refused an active product whose text did not
 * compress below a btree entry's 2,704 bytes (a 500), and now holds only
 * texts short enough; a walk reads a longer one from the table. Here a
 * word in 1% of 3,000 more products, each of those with 3,200 characters
 * of hex before it. */
static void test_a_long_description_is_written_and_walked(void **state) {
    (void)state;
    free(harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO products (sku, name, slug, description, price_cents, currency,"
        " stock, is_active, created_at) SELECT 'LONGTEXT-' || g, 'Long text ' || g,"
        " 'long-text-' || g, CASE WHEN g %% 100 = 0 THEN (SELECT string_agg(md5(g || '-' || k),"
        " '') FROM generate_series(1, 100) k) || ' qzlongtext' ELSE 'plain' END, 100, 'USD', 1,"
        " true, now() + g * interval '1 second' FROM generate_series(1, 3000) g"
        " RETURNING 1) SELECT count(*) FROM i"));
    const char *where = "is_active AND (name || ' ' || description) ILIKE '%qzlongtext%'";
    assert_int_equal(sql_count(where), 30);
    for (int round = 0; round < 2; round++) {
        expect_walk("q=qzlongtext", NULL, "created_at DESC, id DESC", where);
        expect_walk("q=QZLONGTEXT&sort=created_at", NULL, "created_at, id", where);
    }
    /* and through the API: 10,000 characters that do not compress */
    static char description[10001];
    unsigned bits = 12345;
    for (size_t i = 0; i < sizeof description - 1; i++) {
        bits = bits * 1103515245u + 12345u;
        description[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[(bits >> 16) % 37];
    }
    struct seed api = {"Long text API", description, "1", 1, "USD", 0, true};
    make_product("LONGTEXT-API", &api);
}

/* ---- sku ------------------------------------------------------------------------------ */

/* The live products with a live variant of that SKU, as a where clause. */
static void where_sku(char *out, size_t cap, const char *more, const char *sku) {
    snprintf(out, cap,
             "%s id IN (SELECT product_id FROM product_variants WHERE deleted_at IS NULL"
             " AND sku = '%s')",
             more, sku);
}

/* sku= finds the product of any of its live variants, exactly (SKUs are
 * case-sensitive), with every other filter, sort and the total; it is
 * bound into cursors and validated like a SKU. */
static void test_sku_finds_the_product_of_a_live_variant(void **state) {
    (void)state;
    struct http_res *r = call("POST", PRODUCTS, staff_token,
                              "{\"name\":\"Lookup Duo\",\"variants\":["
                              "{\"sku\":\"DUO-A\",\"price\":\"5\",\"stock\":1,"
                              "\"options\":{\"Size\":\"S\"}},"
                              "{\"sku\":\"DUO-b\",\"price\":\"6\",\"stock\":0,"
                              "\"options\":{\"Size\":\"M\"},\"is_active\":false},"
                              "{\"sku\":\"DUO-C\",\"price\":\"7\",\"stock\":2,"
                              "\"options\":{\"Size\":\"L\"}}]}");
    expect_status(r, 201, "create a product with variants");
    long long duo = jint(r->json, "id");
    json_t *variants = json_object_get(r->json, "variants");
    long long third = jint(json_array_get(variants, 2), "id");
    http_res_free(r);
    char path[128], where[512];
    snprintf(path, sizeof path, PRODUCTS "/%lld/variants/%lld", duo, third);
    r = call("DELETE", path, staff_token, NULL);
    expect_status(r, 204, "delete a variant");
    http_res_free(r);
    /* each live variant's SKU, the product's own (first) one or not,
     * active or not, in every sort */
    const char *const skus[] = {"FILLER-03", "DUO-A", "DUO-b"};
    for (size_t i = 0; i < 3; i++) {
        char q[128];
        where_sku(where, sizeof where, "is_active AND", skus[i]);
        assert_int_equal(sql_count(where), 1);
        snprintf(q, sizeof q, "sku=%s", skus[i]);
        expect_walk_in_every_sort(q, 1, NULL, where);
        expect_total(q, where);
    }
    long long got[MAX_IDS];
    assert_int_equal(walk("sku=DUO-b", NULL, got, MAX_IDS, NULL), 1);
    assert_true(got[0] == duo);
    /* another case, a deleted variant's, a deleted or inactive product's:
     * nothing (the inactive one for staff who ask for inactive products) */
    const char *const none[] = {"sku=duo-a", "sku=DUO-C", "sku=DELETED-1", "sku=HIDDEN-1",
                                "sku=NO-SUCH-SKU"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(walk(none[i], NULL, got, MAX_IDS, NULL), 0);
        assert_int_equal(total_of(none[i], NULL), 0);
    }
    assert_int_equal(walk("sku=HIDDEN-1&include_inactive=true", staff_token, got, MAX_IDS, NULL),
                     1);
    assert_true(got[0] == inactive_id);
    /* with the other filters */
    where_sku(where, sizeof where, "is_active AND price_cents >= 500 AND stock > 0 AND", "DUO-A");
    expect_walk("sku=DUO-A&min_price=5&in_stock=true&currency=USD&q=duo", NULL, "id", where);
    assert_int_equal(walk("sku=DUO-A&max_price=4.99", NULL, got, MAX_IDS, NULL), 0);
    assert_int_equal(walk("sku=DUO-A&q=filler", NULL, got, MAX_IDS, NULL), 0);
    assert_int_equal(walk("sku=FILLER-03&currency=GBP", NULL, got, MAX_IDS, NULL), 0);
    assert_int_equal(walk("sku=DUO-A&option.Size=S", NULL, got, MAX_IDS, NULL), 1);
    assert_int_equal(walk("sku=DUO-A&option.Size=L", NULL, got, MAX_IDS, NULL), 0);
    /* empty: ignored, as every empty filter */
    struct http_res *a = page("sku=&limit=5&include_total=true", NULL);
    struct http_res *b = page("limit=5&include_total=true", NULL);
    assert_true(json_equal(a->json, b->json));
    http_res_free(a);
    http_res_free(b);
    /* bound into cursors: another list's cursor is refused */
    char q[4096];
    char *unfiltered = first_cursor("limit=1");
    with_cursor(q, sizeof q, "sku=FILLER-03&limit=1", unfiltered);
    expect_list_400(q);
    with_cursor(q, sizeof q, "sku=&limit=1", unfiltered);
    assert_int_equal(list_status(q, NULL), 200);
    free(unfiltered);
    /* a SKU's characters and length */
    char longest[80] = "sku=";
    memset(longest + 4, 'K', 64);
    assert_int_equal(list_status(longest, NULL), 200);
    strcat(longest, "K");
    expect_list_400(longest);
    const char *bad[] = {"sku=DUO%20A", "sku=DUO/A", "sku=DUO%2CA", "sku=%C3%89T%C3%89",
                         "sku=a'b",     "sku=%25",   "sku=DUO-A%0A"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_list_400(bad[i]);
    delete_product(duo);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_default_limit_and_default_sort),
        cmocka_unit_test(test_include_total_counts_the_whole_filtered_set),
        cmocka_unit_test(test_limit_must_be_1_to_100),
        cmocka_unit_test(test_every_sort_orders_with_ties_broken_by_id),
        cmocka_unit_test(test_unknown_sort_is_400),
        cmocka_unit_test(test_category_filter_includes_descendants),
        cmocka_unit_test(test_q_matches_words_anywhere),
        cmocka_unit_test(test_q_wildcards_are_literal),
        cmocka_unit_test(test_q_non_ascii_length_and_empty),
        cmocka_unit_test(test_q_short_words_in_every_sort),
        cmocka_unit_test(test_q_short_words_with_other_words_and_filters),
        cmocka_unit_test(test_pairs_index_holds_every_match),
        cmocka_unit_test(test_search_total_is_capped),
        cmocka_unit_test(test_price_filters),
        cmocka_unit_test(test_in_stock_and_currency_filters),
        cmocka_unit_test(test_inactive_and_deleted_visibility),
        cmocka_unit_test(test_staff_lists_interleave_inactive_products),
        cmocka_unit_test(test_filters_combined_with_every_sort),
        cmocka_unit_test(test_cursor_must_be_untouched),
        cmocka_unit_test(test_cursor_is_bound_to_sort_and_filters),
        cmocka_unit_test(test_cursor_binds_to_the_inactive_products_served),
        cmocka_unit_test(test_cursor_binding_is_not_fooled_by_q_text),
        cmocka_unit_test(test_walk_under_churn_sees_stable_rows_once_in_order),
        cmocka_unit_test(test_sql_looking_query_parameters_are_data),
        cmocka_unit_test(test_paging_with_the_longest_q),
        cmocka_unit_test(test_paging_by_name_through_long_four_byte_names),
        /* last: with the bug it reports, the server aborts */
        cmocka_unit_test(test_paging_by_name_through_long_three_byte_names),
        cmocka_unit_test(test_a_sparse_word_walks_the_index_of_search_text),
        cmocka_unit_test(test_a_long_description_is_written_and_walked),
        cmocka_unit_test(test_sku_finds_the_product_of_a_live_variant),
    };
    return harness_run_group("product_lists", tests, sizeof tests / sizeof tests[0], start, stop);
}
