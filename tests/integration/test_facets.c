/*
 * test_facets.c -- attribute and option filters and GET /products/facets
 * over HTTP: every count of a facets answer against a count computed here
 * in SQL of the test's own, for random filter combinations over a varied
 * catalog (the seed is printed; NEXUS_TEST_SEED repeats a run); the list
 * under the same filters; every malformed parameter; the rule that option
 * filters and in_stock (either side) hold on one variant; cursors bound to the new
 * filters; facets invalidated by variant and attribute writes; the counts
 * kept with the writes (the whole catalog and each category alone) after
 * every kind of write.
 */
#include "harness.h"

#include "nexus/core/xmem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define PRODUCTS     "/api/v1/products"
#define FACETS       "/api/v1/products/facets"
#define CATEGORIES   "/api/v1/categories"
#define COMBINATIONS 40

static struct nexus_server server, worker;
static char *staff_token;
static uint64_t rng;

static uint64_t next_random(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static int pick(int n) {
    return (int)(next_random() % (uint64_t)n);
}

static const char *const BRANDS[] = {"Acme", "acme", "Zelkal", "Bolt", "Orbit"};
static const char *const COLORS[] = {"red", "blue", "green"};
static const char *const SIZES[] = {"S", "M", "L"};
static const char *const VCOLORS[] = {"Red", "Blue"};
static const char *const WORDS[] = {"lamp", "chair", "kettle"};
static char category_slugs[8][32];
static size_t category_count;

static long long create_category(const char *name, const char *slug, long long parent) {
    json_t *b = json_pack("{s:s, s:s}", "name", name, "slug", slug);
    if (parent)
        json_object_set_new(b, "parent_id", json_integer(parent));
    struct http_res *r = call_owned("POST", CATEGORIES, staff_token, dump(b));
    expect_status(r, 201, "create category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    snprintf(category_slugs[category_count++], sizeof category_slugs[0], "%s", slug);
    return id;
}

/* Two roots, two children each, one grandchild under the first child. */
static void create_categories(long long ids[7]) {
    ids[0] = create_category("Home", "home", 0);
    ids[1] = create_category("Garden", "garden", 0);
    ids[2] = create_category("Kitchen", "kitchen", ids[0]);
    ids[3] = create_category("Bath", "bath", ids[0]);
    ids[4] = create_category("Tools", "tools", ids[1]);
    ids[5] = create_category("Plants", "plants", ids[1]);
    ids[6] = create_category("Kettles", "kettles", ids[2]);
}

/* Attributes of product i: brand always, the others now and then. */
static json_t *random_attributes(void) {
    json_t *a = json_pack("{s:s}", "brand", BRANDS[pick(5)]);
    if (pick(4))
        json_object_set_new(a, "color", json_string(COLORS[pick(3)]));
    if (pick(3))
        json_object_set_new(a, "weight", json_integer(100 * (1 + pick(9))));
    else if (pick(2))
        json_object_set_new(a, "weight", json_string("heavy")); /* not a number */
    if (pick(2))
        json_object_set_new(a, "waterproof", json_boolean(pick(2)));
    return a;
}

/* 1..4 variants with distinct Size/Color pairs, or one without options. */
static json_t *random_variants(int i) {
    json_t *list = json_array();
    int n = pick(5), start = pick(6);
    for (int j = 0; j < (n ? n : 1); j++) {
        char sku[32], price[16];
        snprintf(sku, sizeof sku, "F-%d-%d", i, j);
        snprintf(price, sizeof price, "%d.%02d", 1 + pick(300), pick(100));
        json_t *options = json_object();
        if (n) {
            int combo = (start + j) % 6;
            json_object_set_new(options, "Size", json_string(SIZES[combo % 3]));
            json_object_set_new(options, "Color", json_string(VCOLORS[combo / 3]));
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:o, s:b}", "sku", sku, "price",
                                              price, "stock", pick(3) ? pick(4) : 0, "options",
                                              options, "is_active", j == 0 || pick(5) != 0));
    }
    return list;
}

static void create_catalog(void) {
    long long cats[7];
    create_categories(cats);
    for (int i = 0; i < 70; i++) {
        char name[64];
        snprintf(name, sizeof name, "Item %d %s", i, WORDS[pick(3)]);
        json_t *b = json_pack("{s:s, s:s, s:o, s:o, s:b}", "name", name, "currency",
                              pick(4) ? "USD" : "EUR", "attributes", random_attributes(),
                              "variants", random_variants(i), "is_active", pick(10) != 0);
        if (pick(6))
            json_object_set_new(b, "category_id", json_integer(cats[pick(7)]));
        struct http_res *r = call_owned("POST", PRODUCTS, staff_token, dump(b));
        expect_status(r, 201, "create product");
        http_res_free(r);
    }
}

static int start(void **state) {
    (void)state;
    const char *seed = getenv("NEXUS_TEST_SEED");
    rng = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
    if (!rng)
        rng = 1;
    fprintf(stderr, "test_facets: seed %llu (NEXUS_TEST_SEED repeats it)\n",
            (unsigned long long)rng);
    harness_start(&server, "facets", NULL);
    char *customer = NULL;
    harness_staff_and_customer(&server, "facets", &staff_token, &customer);
    free(customer);
    create_catalog();
    harness_start_worker(&server, &worker, "facets-worker", NULL); /* imports */
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    staff_token = NULL;
    harness_stop(&worker);
    harness_stop(&server);
    return 0;
}

/* ---- a filter combination, as a query string and as the test's SQL ------ */

enum part { P_CATEGORY, P_PRICE, P_STOCK, P_BRAND, P_COLOR, P_WEIGHT, P_SIZE, P_VCOLOR, P_COUNT };

struct combo {
    char query[512];
    /* Each part's SQL condition over products p ("" when absent). */
    char cond[P_COUNT][512];
    char category[32];         /* the category filter's slug, "" without one */
    int in_stock;              /* -1, 0, 1 */
    const char *size, *vcolor; /* option values (one or two, comma-joined), or NULL */
    char size_sql[64], vcolor_sql[64];
    char base[256]; /* what every part shares: q, currency, visibility */
};

/* "a,b" as the SQL list 'a','b' (lower-cased). */
static void sql_list(const char *csv, char *out, size_t cap) {
    size_t n = 0;
    out[n++] = '\'';
    for (const char *c = csv; *c && n + 4 < cap; c++) {
        if (*c == ',') {
            memcpy(out + n, "','", 3);
            n += 3;
        } else {
            out[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* One or two of the values, comma-joined, in static storage of slot. */
static const char *some_of(const char *const *values, int n, int slot) {
    static char buf[8][64];
    int a = pick(n), b = pick(n);
    if (a == b || pick(2))
        snprintf(buf[slot], sizeof buf[slot], "%s", values[a]);
    else
        snprintf(buf[slot], sizeof buf[slot], "%s,%s", values[a], values[b]);
    return buf[slot];
}

static void add_query(struct combo *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_query(struct combo *c, const char *fmt, ...) {
    va_list ap;
    size_t n = strlen(c->query);
    va_start(ap, fmt);
    vsnprintf(c->query + n, sizeof c->query - n, fmt, ap);
    va_end(ap);
}

/* The SQL of the option filters on one variant v, leaving out skip. */
static void variant_sql(const struct combo *c, enum part skip, bool in_stock, char *out,
                        size_t cap) {
    snprintf(out, cap, "v.product_id = p.id AND v.deleted_at IS NULL AND v.is_active%s%s%s%s%s%s",
             c->size && skip != P_SIZE ? " AND lower(v.options->>'Size') IN (" : "",
             c->size && skip != P_SIZE ? c->size_sql : "", c->size && skip != P_SIZE ? ")" : "",
             c->vcolor && skip != P_VCOLOR ? " AND lower(v.options->>'Color') IN (" : "",
             c->vcolor && skip != P_VCOLOR ? c->vcolor_sql : "",
             c->vcolor && skip != P_VCOLOR ? ")" : "");
    if (in_stock)
        strncat(out, " AND v.stock > 0", cap - strlen(out) - 1);
}

static void combo_start(struct combo *c) {
    memset(c, 0, sizeof *c);
    c->in_stock = -1;
    snprintf(c->base, sizeof c->base, "p.deleted_at IS NULL AND p.is_active");
}

static void combo_category(struct combo *c, const char *slug) {
    snprintf(c->category, sizeof c->category, "%s", slug);
    add_query(c, "&category=%s", c->category);
    snprintf(c->cond[P_CATEGORY], sizeof c->cond[0],
             "p.category_id IN (WITH RECURSIVE t AS (SELECT id FROM categories WHERE slug ="
             " '%s' UNION ALL SELECT k.id FROM categories k JOIN t ON k.parent_id = t.id)"
             " SELECT id FROM t)",
             c->category);
}

static void combo_in_stock(struct combo *c, int in_stock) {
    c->in_stock = in_stock;
    add_query(c, "&in_stock=%s", in_stock ? "true" : "false");
    if (in_stock) /* false: in where_sql, which knows the option filters */
        snprintf(c->cond[P_STOCK], sizeof c->cond[0], "p.stock > 0");
}

static void combo_size(struct combo *c, const char *values) {
    c->size = values;
    sql_list(c->size, c->size_sql, sizeof c->size_sql);
    add_query(c, "&option.Size=%s", c->size);
}

static void combo_vcolor(struct combo *c, const char *values) {
    c->vcolor = values;
    sql_list(c->vcolor, c->vcolor_sql, sizeof c->vcolor_sql);
    add_query(c, "&option.color=%s", c->vcolor); /* names match case-insensitively */
}

static void random_combo(struct combo *c) {
    combo_start(c);
    if (pick(3) == 0)
        combo_category(c, category_slugs[pick((int)category_count)]);
    if (pick(3) == 0) {
        int lo = pick(150), hi = lo + pick(200);
        add_query(c, "&min_price=%d&max_price=%d", lo, hi);
        snprintf(c->cond[P_PRICE], sizeof c->cond[0], "p.price_cents BETWEEN %d AND %d", lo * 100,
                 hi * 100);
    }
    if (pick(3) == 0)
        combo_in_stock(c, pick(2));
    if (pick(3) == 0) {
        const char *v = some_of(BRANDS, 5, 0);
        char list[128];
        sql_list(v, list, sizeof list);
        add_query(c, "&attr.brand=%s", v);
        snprintf(c->cond[P_BRAND], sizeof c->cond[0], "lower(p.attributes->>'brand') IN (%s)",
                 list);
    }
    if (pick(4) == 0) {
        const char *v = some_of(COLORS, 3, 1);
        char list[128];
        sql_list(v, list, sizeof list);
        add_query(c, "&attr.color=%s", v);
        snprintf(c->cond[P_COLOR], sizeof c->cond[0], "lower(p.attributes->>'color') IN (%s)",
                 list);
    }
    if (pick(4) == 0) {
        int lo = 100 * pick(6), hi = lo + 100 * pick(6);
        add_query(c, "&attr.weight.min=%d&attr.weight.max=%d", lo, hi);
        snprintf(c->cond[P_WEIGHT], sizeof c->cond[0],
                 "jsonb_typeof(p.attributes->'weight') = 'number' AND"
                 " (p.attributes->>'weight')::numeric BETWEEN %d AND %d",
                 lo, hi);
    }
    if (pick(3) == 0)
        combo_size(c, some_of(SIZES, 3, 2));
    if (pick(4) == 0)
        combo_vcolor(c, some_of(VCOLORS, 2, 3));
    if (pick(6) == 0) {
        const char *w = WORDS[pick(3)];
        add_query(c, "&q=%s", w);
        size_t n = strlen(c->base);
        snprintf(c->base + n, sizeof c->base - n, " AND p.name ILIKE '%%%s%%'", w);
    }
    if (pick(6) == 0) {
        add_query(c, "&currency=usd");
        size_t n = strlen(c->base);
        snprintf(c->base + n, sizeof c->base - n, " AND p.currency = 'USD'");
    }
}

/* The WHERE condition of c with part skip left out (P_COUNT: none). */
static void where_sql(const struct combo *c, enum part skip, char *out, size_t cap) {
    snprintf(out, cap, "%s", c->base);
    for (int i = 0; i < P_SIZE; i++) {
        if (i == (int)skip || !c->cond[i][0])
            continue;
        strncat(out, " AND ", cap - strlen(out) - 1);
        strncat(out, c->cond[i], cap - strlen(out) - 1);
    }
    bool sizes = c->size && skip != P_SIZE, colors = c->vcolor && skip != P_VCOLOR;
    char v[512];
    if (sizes || colors) {
        variant_sql(c, skip, c->in_stock == 1 && skip != P_STOCK, v, sizeof v);
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " AND EXISTS (SELECT FROM product_variants v WHERE %s)", v);
    }
    /* in_stock=false: no variant holding the option filters is in stock;
     * without option filters, the product is out of stock */
    if (c->in_stock == 0 && skip != P_STOCK) {
        variant_sql(c, skip, true, v, sizeof v);
        size_t n = strlen(out);
        if (sizes || colors)
            snprintf(out + n, cap - n, " AND NOT EXISTS (SELECT FROM product_variants v WHERE %s)",
                     v);
        else
            snprintf(out + n, cap - n, " AND p.stock = 0");
    }
}

static long long sql_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_count(const char *fmt, ...) {
    char q[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    char *v = harness_sql_value(&server, "%s", q);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

static void expect_count(long long got, long long want, const struct combo *c, const char *what) {
    if (got != want)
        fail_msg("%s: the API says %lld, SQL says %lld (query %s)", what, got, want, c->query);
}

/* ---- the facets of one combination against SQL ------------------------- */

static void check_total_and_stock(const struct combo *c, json_t *f) {
    char w[2048];
    where_sql(c, P_COUNT, w, sizeof w);
    expect_count(jint(f, "total"), sql_count("SELECT count(*) FROM products p WHERE %s", w), c,
                 "total");
    where_sql(c, P_STOCK, w, sizeof w);
    json_t *s = json_object_get(f, "in_stock");
    char v[512] = "true";
    if (c->size || c->vcolor)
        variant_sql(c, P_COUNT, true, v, sizeof v);
    expect_count(
        jint(s, "true"),
        sql_count("SELECT count(*) FROM products p WHERE %s AND p.stock > 0 AND %s%s%s", w,
                  c->size || c->vcolor ? "EXISTS (SELECT FROM product_variants v WHERE " : "", v,
                  c->size || c->vcolor ? ")" : ""),
        c, "in_stock.true");
    struct combo out_of_stock = *c;
    out_of_stock.in_stock = 0;
    out_of_stock.cond[P_STOCK][0] = '\0';
    where_sql(&out_of_stock, P_COUNT, w, sizeof w);
    expect_count(jint(s, "false"), sql_count("SELECT count(*) FROM products p WHERE %s", w), c,
                 "in_stock.false");
}

static void check_categories(const struct combo *c, json_t *f) {
    char w[2048], parent[160];
    where_sql(c, P_CATEGORY, w, sizeof w);
    if (c->category[0])
        snprintf(parent, sizeof parent, "parent_id = (SELECT id FROM categories WHERE slug = '%s')",
                 c->category);
    else
        snprintf(parent, sizeof parent, "parent_id IS NULL");
    json_t *list = json_object_get(f, "categories");
    expect_count((long long)json_array_size(list),
                 sql_count("SELECT count(*) FROM categories WHERE %s", parent), c,
                 "number of categories");
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        long long want = sql_count(
            "SELECT count(*) FROM products p WHERE %s AND p.category_id IN (WITH RECURSIVE t AS"
            " (SELECT id FROM categories WHERE id = %lld UNION ALL SELECT k.id FROM categories k"
            " JOIN t ON k.parent_id = t.id) SELECT id FROM t)",
            w, jint(item, "id"));
        expect_count(jint(item, "count"), want, c, jstr(item, "slug"));
    }
}

static const int BOUNDS[] = {0, 50, 100, 200};

static void check_price(const struct combo *c, json_t *f) {
    char w[2048];
    where_sql(c, P_PRICE, w, sizeof w);
    json_t *price = json_object_get(f, "price"), *buckets = json_object_get(price, "buckets");
    assert_int_equal(json_array_size(buckets), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *b = json_array_get(buckets, i);
        long long want =
            i < 3 ? sql_count("SELECT count(*) FROM products p WHERE %s AND p.price_cents >= %d"
                              " AND p.price_cents < %d",
                              w, BOUNDS[i] * 100, BOUNDS[i + 1] * 100)
                  : sql_count("SELECT count(*) FROM products p WHERE %s AND p.price_cents >= %d", w,
                              BOUNDS[i] * 100);
        expect_count(jint(b, "count"), want, c, "price bucket");
    }
    char *min = harness_sql_value(
        &server,
        "SELECT coalesce(to_char(min(p.price_cents) / 100.0, 'FM99999990.00'), 'null')"
        " FROM products p WHERE %s",
        w);
    json_t *got = json_object_get(price, "min");
    if (strcmp(min, json_is_string(got) ? json_string_value(got) : "null") != 0)
        fail_msg("price.min: %s, SQL %s (query %s)",
                 json_is_string(got) ? json_string_value(got) : "null", min, c->query);
    free(min);
}

/* A facet's values as "value=count;..." with lower-cased values, sorted
 * the way the SQL of the checks sorts them. */
static void values_text(json_t *values, char *got, size_t cap) {
    char *parts[32];
    size_t n = 0, i;
    json_t *item;
    got[0] = '\0';
    json_array_foreach(values, i, item) {
        char one[128];
        snprintf(one, sizeof one, "%s=%lld", jstr(item, "value"), jint(item, "count"));
        for (char *p = one; *p && *p != '='; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (n < 32)
            parts[n++] = xstrdup(one);
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(parts[b], parts[a]) < 0) {
                char *t = parts[a];
                parts[a] = parts[b];
                parts[b] = t;
            }
    for (size_t a = 0; a < n; a++) {
        if (a)
            strncat(got, ";", cap - strlen(got) - 1);
        strncat(got, parts[a], cap - strlen(got) - 1);
        free(parts[a]);
    }
}

/* Every value of one attribute key, as SQL counts them, against the
 * facet's list (absent: no value). */
static void check_attribute(const struct combo *c, json_t *f, const char *key, enum part own) {
    char w[2048], q[2600];
    where_sql(c, own, w, sizeof w);
    snprintf(q, sizeof q,
             "SELECT coalesce(string_agg(v || '=' || n, ';' ORDER BY v), '') FROM (SELECT"
             " lower(p.attributes->>'%s') AS v, count(*) AS n FROM products p WHERE %s AND"
             " p.attributes->>'%s' IS NOT NULL GROUP BY 1) x",
             key, w, key);
    char *want = harness_sql_value(&server, "%s", q);
    char got[1024];
    values_text(json_object_get(json_object_get(f, "attributes"), key), got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("attributes.%s: facets %s, SQL %s (query %s)", key, got, want, c->query);
    free(want);
}

/* The same for an option name: products with a variant that has the
 * value and matches the other option filters (with option filters and
 * in_stock=false, none of those variants in stock). */
static void check_option(const struct combo *c, json_t *f, const char *name, enum part own) {
    char w[2048], v[512], q[3200];
    /* the product conditions without any option filter (nor, with
     * in_stock=false, the stock, which the variants decide), then the
     * variant conditions without the name's own */
    struct combo other = *c;
    other.size = other.vcolor = NULL;
    /* without option filters, in_stock=false is the product's stock */
    bool by_variants = c->in_stock == 0 && (c->size || c->vcolor);
    if (by_variants)
        other.in_stock = -1;
    where_sql(&other, P_COUNT, w, sizeof w);
    variant_sql(c, own, c->in_stock == 1, v, sizeof v);
    snprintf(q, sizeof q,
             "SELECT coalesce(string_agg(x || '=' || n, ';' ORDER BY x), '') FROM (SELECT x,"
             " count(*) AS n FROM (SELECT p.id, lower(v.options->>'%s') AS x FROM products p JOIN"
             " product_variants v ON %s WHERE %s AND v.options->>'%s' IS NOT NULL GROUP BY 1, 2"
             " HAVING %s) z GROUP BY 1) y",
             name, v, w, name, by_variants ? "NOT bool_or(v.stock > 0)" : "true");
    char *want = harness_sql_value(&server, "%s", q);
    char got[1024];
    values_text(json_object_get(json_object_get(f, "options"), name), got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("options.%s: facets %s, SQL %s (query %s)", name, got, want, c->query);
    free(want);
}

/* The list under the same filters: exactly the products SQL finds. */
static void check_list(const struct combo *c) {
    char w[2048], path[700];
    where_sql(c, P_COUNT, w, sizeof w);
    char *want = harness_sql_value(
        &server,
        "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM products p WHERE %s", w);
    snprintf(path, sizeof path, PRODUCTS "?limit=100&sort=created_at%s", c->query);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, c->query);
    json_t *items = json_object_get(r->json, "items");
    long long ids[128];
    size_t n = 0, i;
    json_t *item;
    json_array_foreach(items, i, item) ids[n++] = jint(item, "id");
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (ids[b] < ids[a]) {
                long long t = ids[a];
                ids[a] = ids[b];
                ids[b] = t;
            }
    char got[1024] = "";
    for (size_t a = 0; a < n; a++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%lld", a ? "," : "", ids[a]);
    }
    if (strcmp(got, want) != 0)
        fail_msg("list: %s, SQL %s (query %s)", got, want, c->query);
    free(want);
    http_res_free(r);
}

/* Every count of one facets answer against SQL. */
static void check_facets(const struct combo *c, json_t *f) {
    check_total_and_stock(c, f);
    check_categories(c, f);
    check_price(c, f);
    check_attribute(c, f, "brand", P_BRAND);
    check_attribute(c, f, "color", P_COLOR);
    check_attribute(c, f, "weight", P_WEIGHT);
    check_attribute(c, f, "waterproof", P_COUNT);
    check_option(c, f, "Size", P_SIZE);
    check_option(c, f, "Color", P_VCOLOR);
}

/* The facets and the list of c, as token (NULL: anonymous), against SQL. */
static void check_combo(const struct combo *c, const char *token) {
    char path[700];
    snprintf(path, sizeof path, FACETS "?price_buckets=0,50,100,200%s", c->query);
    struct http_res *r = call("GET", path, token, NULL);
    expect_status(r, 200, path);
    check_facets(c, r->json);
    check_list(c);
    http_res_free(r);
}

static void test_facets_match_sql_for_random_filters(void **state) {
    (void)state;
    for (int k = 0; k < COMBINATIONS; k++) {
        struct combo c;
        random_combo(&c);
        check_combo(&c, NULL);
    }
}

/* The storefront's common shapes, which the random ones may miss, as
 * token (NULL: anonymous; another caller's answers are cached apart): one
 * option filter alone or in a category (its own name then counted from
 * the counts kept with the writes), with in_stock either way, and two. */
static void check_option_shapes(const char *token) {
    static const char *const sizes[] = {"M", "S,L", NULL};
    static const char *const colors[] = {NULL, "Red", "Red"};
    for (size_t k = 0; k < 3; k++)
        for (int scoped = 0; scoped < 2; scoped++)
            for (int stock = -1; stock <= 1; stock++) {
                struct combo c;
                combo_start(&c);
                if (scoped)
                    combo_category(&c, category_slugs[0]);
                if (stock >= 0)
                    combo_in_stock(&c, stock);
                if (sizes[k])
                    combo_size(&c, sizes[k]);
                if (colors[k])
                    combo_vcolor(&c, colors[k]);
                check_combo(&c, token);
            }
}

static void test_facets_of_option_filters_match_sql(void **state) {
    (void)state;
    check_option_shapes(NULL);
}

/* The option filters' facets test a lone filter on the entries of its
 * terms; while a bulk load's rebuild is pending those lack its products,
 * and the variants are read instead. Here entries are missing under a
 * pending rebuild, and the counts are still those of the variants. */
static void test_option_facets_read_the_variants_while_a_rebuild_is_pending(void **state) {
    (void)state;
#define SIZE_TERMS " WHERE term IN ('[\"size\", \"m\"]', '[\"size\", \"s\"]')"
    free(harness_sql(&server,
                     "CREATE TABLE held_entries AS SELECT * FROM product_option_order" SIZE_TERMS));
    free(harness_sql(&server, "DELETE FROM product_option_order" SIZE_TERMS));
#undef SIZE_TERMS
    free(harness_sql(&server, "INSERT INTO derived_rebuild_pending DEFAULT VALUES"));
    check_option_shapes(staff_token);
    free(harness_sql(&server, "DELETE FROM derived_rebuild_pending"));
    free(harness_sql(&server, "INSERT INTO product_option_order SELECT * FROM held_entries"));
    free(harness_sql(&server, "DROP TABLE held_entries"));
}

/* ---- bad input ----------------------------------------------------------- */

static void expect_bad(const char *path, const char *param) {
    struct http_res *r = call("GET", path, NULL, NULL);
    assert_problem(r, 400, NULL);
    const char *detail = jstr(r->json, "detail");
    if (!strstr(detail, param))
        fail_msg("%s: detail \"%s\" does not name %s", path, detail, param);
    http_res_free(r);
}

static void test_malformed_parameters_are_400_naming_them(void **state) {
    (void)state;
    const char *bases[] = {PRODUCTS, FACETS};
    for (int i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s?attr.=x", bases[i]);
        expect_bad(p, "attr.");
        snprintf(p, sizeof p, "%s?attr.Brand=x", bases[i]);
        expect_bad(p, "attr.Brand");
        snprintf(p, sizeof p, "%s?attr.brand.min=abc", bases[i]);
        expect_bad(p, "attr.brand.min");
        snprintf(p, sizeof p, "%s?attr.brand.max=1e3", bases[i]);
        expect_bad(p, "attr.brand.max");
        snprintf(p, sizeof p, "%s?attr.brand.avg=1", bases[i]);
        expect_bad(p, "attr.brand.avg");
        snprintf(p, sizeof p, "%s?attr.brand=a,,b", bases[i]);
        expect_bad(p, "attr.brand");
        snprintf(p, sizeof p, "%s?option.=M", bases[i]);
        expect_bad(p, "option.");
        snprintf(p, sizeof p, "%s?attr.brand=a&attr.brand=b", bases[i]);
        expect_bad(p, "attr.brand");
        /* option names compare case-insensitively: these name one option */
        snprintf(p, sizeof p, "%s?option.Size=M&option.size=L", bases[i]);
        expect_bad(p, "option.size");
        snprintf(p, sizeof p, "%s?option.%%C3%%89p=M&option.%%C3%%A9p=L", bases[i]);
        expect_bad(p, "option.\xC3\xA9p");
        snprintf(p, sizeof p,
                 "%s?attr.a=1&attr.b=1&attr.c=1&attr.d=1&attr.e=1&attr.f.min=1&option.a=1"
                 "&option.b=1&option.c=1&option.d=1&option.e=1",
                 bases[i]);
        expect_bad(p, "attr.* and option.*");
    }
    expect_bad(FACETS "?price_buckets=50,10", "price_buckets");
    expect_bad(FACETS "?price_buckets=1e3", "price_buckets");
    expect_bad(FACETS "?price_buckets=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21",
               "price_buckets");
    /* ten are fine, and so are twenty buckets */
    struct http_res *r = call("GET",
                              PRODUCTS "?attr.a=1&attr.b=1&attr.c=1&attr.d=1&attr.e=1&option.a=1"
                                       "&option.b=1&option.c=1&option.d=1&option.e=1",
                              NULL, NULL);
    expect_status(r, 200, "ten discovery parameters");
    http_res_free(r);
    /* empty values are ignored, so they do not count against the ten */
    r = call("GET",
             PRODUCTS "?attr.a=1&attr.b=1&attr.c=1&attr.d=1&attr.e=1&option.a=1&option.b=1"
                      "&option.c=1&option.d=1&option.e=1&attr.f=&attr.g.min=&option.f=",
             NULL, NULL);
    expect_status(r, 200, "ten discovery parameters and three empty ones");
    http_res_free(r);
    r = call("GET", FACETS "?price_buckets=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",
             NULL, NULL);
    expect_status(r, 200, "twenty buckets");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r->json, "price"), "buckets")),
                     20);
    http_res_free(r);
}

static void test_a_key_no_product_has_matches_nothing(void **state) {
    (void)state;
    struct http_res *r = call("GET", PRODUCTS "?attr.no_such_key=1", NULL, NULL);
    expect_status(r, 200, "unknown key");
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
    http_res_free(r);
    r = call("GET", FACETS "?option.Nothing=x&price_buckets=0,10", NULL, NULL);
    expect_status(r, 200, "unknown option");
    assert_int_equal(jint(r->json, "total"), 0);
    json_t *stock = json_object_get(r->json, "in_stock");
    assert_int_equal(jint(stock, "true") + jint(stock, "false"), 0);
    assert_true(json_is_null(json_object_get(json_object_get(r->json, "price"), "min")));
    json_t *b = json_array_get(json_object_get(json_object_get(r->json, "price"), "buckets"), 0);
    assert_int_equal(jint(b, "count"), 0);
    assert_int_equal(json_object_size(json_object_get(r->json, "attributes")), 0);
    http_res_free(r);
}

/* ---- one variant ---------------------------------------------------------- */

static long long create_product(const char *marker, json_t *variants) {
    json_t *b = json_pack("{s:s, s:{s:s}, s:o}", "name", marker, "attributes", "marker", marker,
                          "variants", variants);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, dump(b));
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static json_t *variant(const char *sku, const char *size, const char *color, int stock) {
    return json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", sku, "price", "10", "stock", stock,
                     "options", "Size", size, "Color", color);
}

static long long list_count(const char *query) {
    char path[512];
    snprintf(path, sizeof path, PRODUCTS "?limit=100%s", query);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, query);
    long long n = (long long)json_array_size(json_object_get(r->json, "items"));
    http_res_free(r);
    return n;
}

static void test_option_filters_hold_on_one_variant(void **state) {
    (void)state;
    /* M only in Blue, Red only in S: no variant is "M in Red" */
    create_product("apart", json_pack("[o, o]", variant("SV-1", "M", "Blue", 3),
                                      variant("SV-2", "S", "Red", 3)));
    /* M in Red exists, but only out of stock; S in Red is in stock */
    create_product("stock", json_pack("[o, o]", variant("SV-3", "M", "Red", 0),
                                      variant("SV-4", "S", "Red", 5)));
    assert_int_equal(list_count("&attr.marker=apart&option.Size=M"), 1);
    assert_int_equal(list_count("&attr.marker=apart&option.Color=Red"), 1);
    assert_int_equal(list_count("&attr.marker=apart&option.Size=M&option.Color=Red"), 0);
    assert_int_equal(list_count("&attr.marker=apart&option.Size=m&option.Color=blue"), 1);
    assert_int_equal(list_count("&attr.marker=stock&option.Size=M&option.Color=Red"), 1);
    assert_int_equal(list_count("&attr.marker=stock&option.Size=M&in_stock=true"), 0);
    assert_int_equal(list_count("&attr.marker=stock&option.Size=S&in_stock=true"), 1);
    assert_int_equal(list_count("&attr.marker=stock&in_stock=true"), 1);
    /* the facets count the same way */
    struct http_res *r =
        call("GET", FACETS "?attr.marker=apart,stock&option.Color=Red&in_stock=true", NULL, NULL);
    expect_status(r, 200, "facets");
    assert_int_equal(jint(r->json, "total"), 2);
    json_t *sizes = json_object_get(json_object_get(r->json, "options"), "Size");
    assert_int_equal(json_array_size(sizes), 1); /* only S is in Red and in stock */
    assert_string_equal(jstr(json_array_get(sizes, 0), "value"), "S");
    assert_int_equal(jint(json_array_get(sizes, 0), "count"), 2);
    http_res_free(r);
    /* in_stock=false is the other side: no variant holding the options
     * is in stock, though the product is */
    assert_int_equal(list_count("&attr.marker=stock&option.Size=M&in_stock=false"), 1);
    assert_int_equal(list_count("&attr.marker=stock&option.Size=S&in_stock=false"), 0);
    assert_int_equal(list_count("&attr.marker=stock&in_stock=false"), 0);
    r = call("GET", FACETS "?attr.marker=stock&option.Size=M", NULL, NULL);
    expect_status(r, 200, "facets of M");
    assert_int_equal(jint(json_object_get(r->json, "in_stock"), "true"), 0);
    assert_int_equal(jint(json_object_get(r->json, "in_stock"), "false"), 1);
    http_res_free(r);
    /* S in Red is in stock, so Red is not out of stock; M in Red is, so
     * adding Size=M would find the product */
    r = call("GET", FACETS "?attr.marker=stock&option.Color=Red&in_stock=false", NULL, NULL);
    expect_status(r, 200, "facets out of stock");
    assert_int_equal(jint(r->json, "total"), 0);
    sizes = json_object_get(json_object_get(r->json, "options"), "Size");
    assert_int_equal(json_array_size(sizes), 1);
    assert_string_equal(jstr(json_array_get(sizes, 0), "value"), "M");
    assert_int_equal(list_count("&attr.marker=stock&option.Color=Red&option.Size=M&in_stock=false"),
                     1);
    http_res_free(r);
}

/* Option names of equal counts follow one another by name ignoring case,
 * as the product's options summary lists them. */
static void test_tied_option_names_ignore_case(void **state) {
    (void)state;
    json_t *v = json_pack("[{s:s, s:s, s:i, s:{s:s, s:s, s:s}}]", "sku", "TIE-1", "price", "1",
                          "stock", 1, "options", "color", "red", "Size", "M", "Zeta", "1");
    create_product("tied", v);
    struct http_res *r = call("GET", FACETS "?attr.marker=tied", NULL, NULL);
    expect_status(r, 200, "facets");
    static const char *const want[] = {"color", "Size", "Zeta"};
    size_t i = 0;
    const char *key;
    json_t *values;
    json_object_foreach(json_object_get(r->json, "options"), key, values) {
        assert_true(i < 3);
        assert_string_equal(key, want[i++]);
    }
    assert_int_equal(i, 3);
    http_res_free(r);
}

/* Variants of one option name: sku prefix, name, values. */
static json_t *one_option(const char *prefix, const char *name, const char *const *values,
                          size_t n) {
    json_t *vs = json_array();
    for (size_t i = 0; i < n; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "%s-%zu", prefix, i);
        json_array_append_new(vs, json_pack("{s:s, s:s, s:i, s:{s:s}}", "sku", sku, "price", "5",
                                            "stock", 2, "options", name, values[i]));
    }
    return vs;
}

/* The option names of a facets answer, in order, joined by ",". */
static void expect_option_order(const char *query, const char *want) {
    char path[256], got[128] = "";
    snprintf(path, sizeof path, FACETS "?%s", query);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, query);
    const char *key;
    json_t *values;
    json_object_foreach(json_object_get(r->json, "options"), key, values) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s", n ? "," : "", key);
    }
    if (strcmp(got, want) != 0)
        fail_msg("%s: options in the order %s, not %s", query, got, want);
    http_res_free(r);
}

/* Names rank by the products that have them: one product offering four
 * sizes counts once for Size, not four times. Counted from the kept
 * counts (a category alone), from the products' terms (an attribute
 * filter) and from the variants (an option filter). */
static void test_option_names_rank_by_products(void **state) {
    (void)state;
    long long shelf = create_category("Rank Shelf", "rank-shelf", 0);
    static const char *const sizes[] = {"S", "M", "L", "XL"}, *const red[] = {"Red"},
                             *const blue[] = {"Blue"};
    json_t *bodies[] = {
        json_pack("{s:s, s:{s:s}, s:I, s:o}", "name", "Rank Tee", "attributes", "marker", "rank",
                  "category_id", (json_int_t)shelf, "variants",
                  one_option("RK-T", "Size", sizes, 4)),
        json_pack("{s:s, s:{s:s}, s:I, s:o}", "name", "Rank Cap", "attributes", "marker", "rank",
                  "category_id", (json_int_t)shelf, "variants",
                  one_option("RK-C", "Color", red, 1)),
        json_pack("{s:s, s:{s:s}, s:I, s:o}", "name", "Rank Mug", "attributes", "marker", "rank",
                  "category_id", (json_int_t)shelf, "variants",
                  one_option("RK-M", "Color", blue, 1)),
    };
    for (size_t i = 0; i < 3; i++) {
        struct http_res *r = call_owned("POST", PRODUCTS, staff_token, dump(bodies[i]));
        expect_status(r, 201, "create product");
        http_res_free(r);
    }
    /* a fourth with both names: Size in four values, all in Red */
    json_t *both = json_array();
    for (size_t i = 0; i < 4; i++) {
        char sku[32];
        snprintf(sku, sizeof sku, "RK-B-%zu", i);
        json_array_append_new(both,
                              json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "sku", sku, "price", "5",
                                        "stock", 2, "options", "Size", sizes[i], "Color", "Red"));
    }
    struct http_res *r = call_owned(
        "POST", PRODUCTS, staff_token,
        dump(json_pack("{s:s, s:{s:s}, s:I, s:o}", "name", "Rank Hoodie", "attributes", "marker",
                       "rank", "category_id", (json_int_t)shelf, "variants", both)));
    expect_status(r, 201, "create product");
    http_res_free(r);
    /* Color: 3 products (values 2 + 1); Size: 2 products (values 4 + 4) */
    expect_option_order("category=rank-shelf", "Color,Size");
    expect_option_order("attr.marker=rank", "Color,Size");
    expect_option_order("attr.marker=rank&in_stock=true", "Color,Size");
    /* with Color=Red: Size counts the hoodie alone, Color (its own filter
     * left out) its three products */
    expect_option_order("attr.marker=rank&option.Color=Red", "Color,Size");
}

/* The values of option name in a facets answer, "value count" joined by
 * ", ". */
static void expect_option_values(const char *query, const char *name, const char *want) {
    char path[256], got[256] = "";
    snprintf(path, sizeof path, FACETS "?%s", query);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, query);
    json_t *options = json_object_get(r->json, "options"), *value;
    size_t i;
    json_array_foreach(json_object_get(options, name), i, value) {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s %lld", n ? ", " : "", jstr(value, "value"),
                 jint(value, "count"));
    }
    if (strcmp(got, want) != 0)
        fail_msg("%s: %s is [%s], not [%s]", query, name, got, want);
    assert_int_equal(json_object_size(options), 1);
    http_res_free(r);
}

/* An option filter is left out of its own facet whatever the case of its
 * name, in ASCII or not: option.écran is the filter of the name stored
 * as Écran, so Écran counts Verre as option.Écran does. */
static void test_an_option_is_counted_without_its_filter_in_any_case(void **state) {
    (void)state;
    static const char *const finishes[][2] = {
        {"Mat", "Brillant"}, {"Mat", "Brillant"}, {"Brillant", NULL}, {"Mat", "Verre"}};
    for (size_t i = 0; i < 4; i++) {
        size_t n = finishes[i][1] ? 2 : 1;
        char sku[32];
        snprintf(sku, sizeof sku, "ECR-%zu", i);
        create_product("ecran", one_option(sku,
                                           "\xC3\x89"
                                           "cran",
                                           finishes[i], n));
    }
    static const char *const spellings[] = {"%C3%89cran", "%C3%A9cran", "%C3%89CRAN"};
    for (size_t i = 0; i < 3; i++) {
        char query[128];
        snprintf(query, sizeof query, "attr.marker=ecran&option.%s=mat,brillant", spellings[i]);
        expect_option_values(query,
                             "\xC3\x89"
                             "cran",
                             "Brillant 3, Mat 3, Verre 1");
    }
}

/* ---- values with commas and backslashes ------------------------------------ */

#define EXPORTS "/api/v1/exports/products"

/* A product of marker "commas" with attribute label and one variant of
 * options {"A": "1", "B": b}. */
static void create_escaped(const char *sku, const char *label, const char *b) {
    json_t *body = json_pack("{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:i, s:{s:s, s:s}}]}", "name", sku,
                             "attributes", "marker", "commas", "label", label, "variants", "sku",
                             sku, "price", "3", "stock", 1, "options", "A", "1", "B", b);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, dump(body));
    expect_status(r, 201, "create product");
    http_res_free(r);
}

/* The names of the products a list (sort, then query) and an export of
 * query find, sorted and joined by " ", as one text: "both" when the two
 * agree, else what each found. */
static void expect_found(const char *query, const char *want) {
    static const char *const SORTS[] = {"-created_at", "price", "name"};
    char path[512];
    for (size_t s = 0; s < sizeof SORTS / sizeof SORTS[0]; s++) {
        snprintf(path, sizeof path, PRODUCTS "?limit=100&sort=%s&%s", SORTS[s], query);
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, path);
        char got[256] = "";
        json_t *items = json_object_get(r->json, "items"), *item;
        size_t i;
        /* sort=name lists them in name order; the others are put in it */
        const char *names[16];
        size_t n = 0;
        json_array_foreach(items, i, item) {
            assert_true(n < 16);
            names[n++] = jstr(item, "name");
        }
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
                const char *t = names[b];
                names[b] = names[b - 1];
                names[b - 1] = t;
            }
        for (size_t k = 0; k < n; k++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%s", k ? " " : "", names[k]);
        }
        if (strcmp(got, want) != 0)
            fail_msg("%s: found [%s], not [%s]", path, got, want);
        http_res_free(r);
    }
    /* an export of the same filters: one NDJSON line per product */
    snprintf(path, sizeof path, EXPORTS "?format=ndjson&%s", query);
    struct http_res *r = call("GET", path, staff_token, NULL);
    expect_status(r, 200, path);
    size_t lines = 0, words = want[0] != '\0';
    for (size_t i = 0; i < r->len; i++)
        lines += r->body[i] == '\n';
    for (const char *c = want; *c; c++)
        words += *c == ' ';
    if (lines != words)
        fail_msg("%s: %zu products exported, not %zu", path, lines, words);
    http_res_free(r);
}

/* The "total" of the answer to GET path, asserting a 200. */
static long long total_at(const char *path) {
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    long long total = jint(r->json, "total");
    http_res_free(r);
    return total;
}

/* The facets total of query. */
static long long facets_total(const char *query) {
    char path[512];
    snprintf(path, sizeof path, FACETS "?%s", query);
    return total_at(path);
}

/* A backslash escapes the next character of an attr.* or option.* list:
 * "\," is a comma in a value, "\\" a backslash, so every value the
 * facets offer can be selected; a list without backslashes means what it
 * always did (%2C is a comma to the server, as MHD decodes it). */
static void test_a_value_with_a_comma_is_selected_by_escaping_it(void **state) {
    (void)state;
    create_escaped("ESC-1", "a,b;c", "x,y");
    create_escaped("ESC-2", "a", "x");
    create_escaped("ESC-3", "b;c", "y");
    create_escaped("ESC-4", "a\\b", "x\\y");
    create_escaped("ESC-5", "a,b;c", "x,y");
    /* option.B=x\,y: the one value "x,y"; x,y (or x%2Cy): "x" or "y" */
    expect_found("option.B=x%5C%2Cy", "ESC-1 ESC-5");
    expect_found("attr.marker=commas&option.B=X%5C,Y", "ESC-1 ESC-5");
    expect_found("attr.marker=commas&option.B=x,y", "ESC-2 ESC-3");
    expect_found("attr.marker=commas&option.B=x%2Cy", "ESC-2 ESC-3");
    expect_found("attr.marker=commas&option.B=x%5C%2Cy,x", "ESC-1 ESC-2 ESC-5");
    /* x\\y: the value x\y; x\\,y: "x\" (no product) or "y" */
    expect_found("option.B=x%5C%5Cy", "ESC-4");
    expect_found("attr.marker=commas&option.B=x%5C%5C,y", "ESC-3");
    expect_found("attr.marker=commas&option.B=x%5C%5C%5C,y", "");
    /* attributes alike, with the other filters of the list */
    expect_found("attr.label=a%5C,b%3Bc", "ESC-1 ESC-5");
    expect_found("attr.marker=commas&attr.label=a,b%3Bc", "ESC-2 ESC-3");
    expect_found("attr.marker=commas&attr.label=A%5C%5CB", "ESC-4");
    expect_found("attr.label=a%5C,b%3Bc&option.A=1&in_stock=true", "ESC-1 ESC-5");
    /* the facets count what the list finds, and offer the values as stored */
    static const struct {
        const char *query;
        long long total;
    } totals[] = {{"option.B=x%5C%2Cy", 2},
                  {"attr.marker=commas&option.B=x,y", 2},
                  {"attr.marker=commas&attr.label=a%5C%5Cb", 1}};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
        assert_int_equal(facets_total(totals[i].query), totals[i].total);
    struct http_res *r =
        call("GET", FACETS "?attr.marker=commas&option.A=1&option.B=x%5C,y", NULL, NULL);
    expect_status(r, 200, "facets of an escaped comma");
    json_t *values = json_object_get(json_object_get(r->json, "options"), "B");
    assert_int_equal(json_array_size(values), 4); /* counted without its own filter */
    assert_string_equal(jstr(json_array_get(values, 0), "value"), "x,y");
    assert_int_equal(jint(json_array_get(values, 0), "count"), 2);
    http_res_free(r);
    /* a backslash before anything else, or at the end, is a 400 */
    const char *const bad[] = {"option.B=x%5Cq", "option.B=x%5C", "attr.label=a%5Cb",
                               "attr.label=a,%5C"};
    const char *const named[] = {"option.B", "option.B", "attr.label", "attr.label"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, PRODUCTS "?%s", bad[i]);
        expect_bad(path, named[i]);
        snprintf(path, sizeof path, FACETS "?%s", bad[i]);
        expect_bad(path, named[i]);
        snprintf(path, sizeof path, EXPORTS "?format=ndjson&%s", bad[i]);
        r = call("GET", path, staff_token, NULL);
        assert_problem(r, 400, NULL);
        assert_non_null(strstr(jstr(r->json, "detail"), "a backslash escapes only , and \\"));
        http_res_free(r);
    }
}

/* A cursor of option.B=x\,y (one value) does not continue option.B=x,y
 * (two values), nor the other way round. */
static void test_cursor_tells_an_escaped_comma_from_a_list(void **state) {
    (void)state;
    static const char *const filters[] = {"option.B=x%5C,y", "option.B=x,y"};
    for (size_t i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, PRODUCTS "?limit=1&attr.marker=commas&%s", filters[i]);
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, path);
        const char *cursor = jstr(r->json, "next_cursor");
        assert_non_null(cursor);
        snprintf(path, sizeof path, PRODUCTS "?limit=1&attr.marker=commas&%s&cursor=%s", filters[i],
                 cursor);
        struct http_res *next = call("GET", path, NULL, NULL);
        expect_status(next, 200, "the next page of the same filter");
        assert_int_equal(json_array_size(json_object_get(next->json, "items")), 1);
        http_res_free(next);
        snprintf(path, sizeof path, PRODUCTS "?limit=1&attr.marker=commas&%s&cursor=%s",
                 filters[1 - i], cursor);
        expect_problem(call("GET", path, NULL, NULL), 400, NULL);
        http_res_free(r);
    }
}

/* ---- cursors -------------------------------------------------------------- */

static void test_cursor_is_bound_to_the_new_filters(void **state) {
    (void)state;
    struct http_res *r = call("GET", PRODUCTS "?limit=1&attr.brand=acme,zelkal", NULL, NULL);
    expect_status(r, 200, "first page");
    const char *cursor = jstr(r->json, "next_cursor");
    long long first = jint(json_array_get(json_object_get(r->json, "items"), 0), "id");
    char path[1024];
    /* the same filters, in another order and spelling of the list: the
     * cursor is bound to the values as sent */
    snprintf(path, sizeof path, PRODUCTS "?limit=1&attr.brand=acme,zelkal&cursor=%s", cursor);
    struct http_res *next = call("GET", path, NULL, NULL);
    expect_status(next, 200, "second page");
    assert_true(jint(json_array_get(json_object_get(next->json, "items"), 0), "id") != first);
    http_res_free(next);
    const char *others[] = {"attr.brand=acme", "attr.brand=acme,zelkal&attr.color=red",
                            "attr.brand=acme,zelkal&option.Size=M",
                            "attr.brand=acme,zelkal&attr.weight.min=1", ""};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(path, sizeof path, PRODUCTS "?limit=1&%s&cursor=%s", others[i], cursor);
        expect_problem(call("GET", path, NULL, NULL), 400, NULL);
    }
    http_res_free(r);
}

/* An option name may hold '=', ':' or '&' (percent-encoded): one such
 * parameter spelling out two filters is another filter, and a cursor of
 * the two does not continue it. */
static void test_cursor_is_not_continued_by_a_name_spelling_two_filters(void **state) {
    (void)state;
    create_product("spelled", json_pack("[o]", variant("SPELL-1", "M", "Red", 3)));
    create_product("spelled", json_pack("[o]", variant("SPELL-2", "M", "Red", 3)));
    struct http_res *r = call(
        "GET", PRODUCTS "?limit=1&attr.marker=spelled&option.Size=M&option.Color=Red", NULL, NULL);
    expect_status(r, 200, "first page");
    const char *cursor = jstr(r->json, "next_cursor");
    assert_non_null(cursor);
    char path[1024];
    snprintf(path, sizeof path,
             PRODUCTS "?limit=1&attr.marker=spelled&option.color%%3D3%%3Ared%%26option.size=M"
                      "&cursor=%s",
             cursor);
    expect_problem(call("GET", path, NULL, NULL), 400, NULL);
    http_res_free(r);
}

/* Option names and filter values compare case-insensitively: a cursor
 * continues the same filter spelled in another case, whatever order the
 * names then sort in. */
static void test_cursor_continues_the_filter_in_another_case(void **state) {
    (void)state;
    create_product("folded", json_pack("[o]", variant("FOLD-1", "L", "Red", 3)));
    create_product("folded", json_pack("[o]", variant("FOLD-2", "L", "Red", 3)));
    struct http_res *r = call(
        "GET", PRODUCTS "?limit=1&attr.marker=folded&option.color=red&option.Size=L", NULL, NULL);
    expect_status(r, 200, "first page");
    const char *cursor = jstr(r->json, "next_cursor");
    assert_non_null(cursor);
    long long first = jint(json_array_get(json_object_get(r->json, "items"), 0), "id");
    char path[1024];
    snprintf(path, sizeof path,
             PRODUCTS "?limit=1&attr.marker=FOLDED&option.size=l&option.Color=RED&cursor=%s",
             cursor);
    struct http_res *next = call("GET", path, NULL, NULL);
    expect_status(next, 200, "second page, the filter in another case");
    json_t *items = json_object_get(next->json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_true(jint(json_array_get(items, 0), "id") != first);
    assert_true(json_is_null(json_object_get(next->json, "next_cursor")));
    http_res_free(next);
    http_res_free(r);
}

/* ---- cache ---------------------------------------------------------------- */

static struct http_res *facets_twice(const char *path) {
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, path);
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    return r;
}

static void test_facets_are_invalidated_by_variant_and_attribute_writes(void **state) {
    (void)state;
    long long id = create_product("cached", json_pack("[o]", variant("CV-1", "L", "Red", 0)));
    const char *path = FACETS "?attr.marker=cached";
    struct http_res *r = facets_twice(path);
    assert_int_equal(jint(json_object_get(r->json, "in_stock"), "true"), 0);
    http_res_free(r);
    char *vid = harness_sql_value(&server, "SELECT id FROM product_variants WHERE sku = 'CV-1'");
    char vpath[128];
    snprintf(vpath, sizeof vpath, PRODUCTS "/%lld/variants/%s", id, vid);
    free(vid);
    r = call("PATCH", vpath, staff_token, "{\"stock\": 4}");
    expect_status(r, 200, "variant stock");
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "after variant write");
    assert_int_equal(jint(json_object_get(r->json, "in_stock"), "true"), 1);
    http_res_free(r);

    r = facets_twice(path);
    http_res_free(r);
    char ppath[64];
    snprintf(ppath, sizeof ppath, PRODUCTS "/%lld", id);
    r = call("PATCH", ppath, staff_token, "{\"attributes\": {\"marker\": \"moved\"}}");
    expect_status(r, 200, "attribute write");
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "after attribute write");
    assert_int_equal(jint(r->json, "total"), 0);
    http_res_free(r);
}

/* ---- the counts kept with the writes -------------------------------------- */

/* The list's total for the combination (the whole catalog or a
 * category) and each side of in_stock: the kept counts answer those too. */
static void check_list_totals(const struct combo *c) {
    static const char *const stock[] = {"", "&in_stock=true", "&in_stock=false"};
    static const char *const stock_sql[] = {"", " AND p.stock > 0", " AND p.stock = 0"};
    for (size_t i = 0; i < 3; i++) {
        char path[800], where[1400];
        snprintf(path, sizeof path, PRODUCTS "?limit=1&include_total=true%s%s", c->query, stock[i]);
        snprintf(where, sizeof where, "%s%s%s%s", c->base, c->cond[P_CATEGORY][0] ? " AND " : "",
                 c->cond[P_CATEGORY], stock_sql[i]);
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, path);
        expect_count(jint(r->json, "total"),
                     sql_count("SELECT count(*) FROM products p WHERE %s", where), c, path);
        http_res_free(r);
    }
}

/* The kept counts, then the facets of the whole catalog alone, of the
 * first root alone (with its subtree) and of the category slug `also`
 * (or of each category when every_category) against SQL (the kept counts
 * answer those, each category from its own scope; every kept count is
 * checked anyway). */
static void check_counted_facets(const char *after, bool every_category, const char *also) {
    harness_expect_facet_counts_exact(&server, after);
    for (size_t k = 0; k <= category_count; k++) {
        if (!every_category && k != 0 && k != category_count &&
            !(also && strcmp(also, category_slugs[k]) == 0))
            continue;
        struct combo c;
        memset(&c, 0, sizeof c);
        c.in_stock = -1;
        snprintf(c.base, sizeof c.base, "p.deleted_at IS NULL AND p.is_active");
        if (k < category_count) {
            snprintf(c.category, sizeof c.category, "%s", category_slugs[k]);
            add_query(&c, "&category=%s", c.category);
            snprintf(c.cond[P_CATEGORY], sizeof c.cond[0],
                     "p.category_id IN (WITH RECURSIVE t AS (SELECT id FROM categories WHERE slug"
                     " = '%s' UNION ALL SELECT k.id FROM categories k JOIN t ON k.parent_id = t.id)"
                     " SELECT id FROM t)",
                     c.category);
        }
        char path[700];
        snprintf(path, sizeof path, FACETS "?price_buckets=0,50,100,200%s", c.query);
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, path);
        check_facets(&c, r->json);
        http_res_free(r);
        check_list_totals(&c);
    }
}

/* A write, then the kept counts and facets (also: a category to check
 * besides the whole catalog and the first root, NULL: none). */
static void write_checked(const char *method, const char *path, const char *body, long status,
                          const char *also) {
    struct http_res *r = call(method, path, staff_token, body);
    expect_status(r, status, path);
    http_res_free(r);
    check_counted_facets(body ? body : method, false, also);
}

static void write_ok(const char *method, const char *path, const char *body, long status) {
    write_checked(method, path, body, status, NULL);
}

static long long category_id_of(const char *slug) {
    char *v = harness_sql_value(&server, "SELECT id FROM categories WHERE slug = '%s'", slug);
    long long id = strtoll(v, NULL, 10);
    free(v);
    return id;
}

static void test_kept_counts_follow_every_write(void **state) {
    (void)state;
    check_counted_facets("the catalog's creation", true, NULL);
    long long kitchen = category_id_of("kitchen"), tools = category_id_of("tools");
    char body[512], path[128], vpath[160];
    /* a product with one variant, written through its own columns */
    snprintf(body, sizeof body,
             "{\"name\": \"Kept\", \"sku\": \"KEPT-1\", \"price\": \"20.00\", \"stock\": 0,"
             " \"category_id\": %lld, \"attributes\": {\"brand\": \"Bolt\", \"weight\": 300}}",
             kitchen);
    struct http_res *r = call("POST", PRODUCTS, staff_token, body);
    expect_status(r, 201, "create");
    long long id = jint(r->json, "id");
    http_res_free(r);
    check_counted_facets("a create", false, NULL);
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    write_ok("PATCH", path, "{\"price\": \"120.00\"}", 200);
    write_ok("PATCH", path, "{\"stock\": 7}", 200);
    /* a product moved to a category under another root */
    snprintf(body, sizeof body, "{\"category_id\": %lld}", tools);
    write_checked("PATCH", path, body, 200, "garden");
    write_ok("PATCH", path, "{\"attributes\": {\"brand\": \"Orbit\", \"color\": \"green\"}}", 200);
    write_ok("PATCH", path, "{\"is_active\": false}", 200);
    write_ok("PATCH", path, "{\"is_active\": true}", 200);
    /* variants with options: create, patch, delete */
    long long vid =
        create_product("kept-variants", json_pack("[o, o]", variant("KV-1", "M", "Red", 0),
                                                  variant("KV-2", "S", "Blue", 2)));
    check_counted_facets("a create with variants", false, NULL);
    snprintf(path, sizeof path, PRODUCTS "/%lld/variants", vid);
    write_ok("POST", path,
             "{\"sku\": \"KV-3\", \"price\": \"5\", \"stock\": 1,"
             " \"options\": {\"Size\": \"L\", \"Color\": \"Red\"}}",
             201);
    char *v1 = harness_sql_value(&server, "SELECT id FROM product_variants WHERE sku = 'KV-1'");
    snprintf(vpath, sizeof vpath, "%s/%s", path, v1);
    free(v1);
    write_ok("PATCH", vpath, "{\"stock\": 3, \"options\": {\"Size\": \"XL\", \"Color\": \"Red\"}}",
             200);
    write_ok("PATCH", vpath, "{\"is_active\": false}", 200);
    write_ok("DELETE", vpath, NULL, 204);
    /* a category with a child moved under another root: the scopes of its
     * old and new ancestors follow; then its child made a root */
    snprintf(path, sizeof path, CATEGORIES "/%lld", kitchen);
    snprintf(body, sizeof body, "{\"parent_id\": %lld}", category_id_of("garden"));
    write_checked("PATCH", path, body, 200, "garden");
    snprintf(path, sizeof path, CATEGORIES "/%lld", category_id_of("kettles"));
    write_checked("PATCH", path, "{\"parent_id\": null}", 200, "kettles");
    /* soft deletes */
    snprintf(path, sizeof path, PRODUCTS "/%lld", vid);
    write_ok("DELETE", path, NULL, 204);
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    write_ok("DELETE", path, NULL, 204);
    /* an import: new products (one with variants) and an update */
    char *sku =
        harness_sql_value(&server, "SELECT sku FROM products WHERE deleted_at IS NULL"
                                   " AND is_active AND variant_count = 1 ORDER BY id LIMIT 1");
    char ndjson[1400];
    snprintf(ndjson, sizeof ndjson,
             "{\"sku\": \"IMP-1\", \"name\": \"Imported one\", \"price\": \"60.00\","
             " \"stock\": 2, \"category\": \"plants\", \"attributes\": {\"brand\": \"Zelkal\"}}\n"
             "{\"name\": \"Imported two\", \"category\": \"kettles\","
             " \"attributes\": {\"color\": \"blue\"},"
             " \"variants\": [{\"sku\": \"IMP-2-M\", \"price\": \"9.00\", \"stock\": 4,"
             " \"options\": {\"Size\": \"M\", \"Color\": \"Blue\"}}]}\n"
             "{\"sku\": \"%s\", \"name\": \"Updated by import\", \"price\": \"250.00\","
             " \"stock\": 0, \"category\": \"bath\", \"attributes\": {\"brand\": \"Acme\"}}\n",
             sku);
    free(sku);
    harness_import_ndjson(staff_token, ndjson);
    check_counted_facets("an import", true, NULL);
}

/* One racer: a create in the category, or a write of stock, price and
 * attributes of product ids[i] (which changes the same kept keys as the
 * other racers: same category, same brand); after the first round, the
 * first racer moves the category to another parent instead (which
 * changes the scopes the others write). */
struct race {
    long long category;
    long long parents[2];
    long long ids[8];
    int round;
};

static long racing_write(int i, void *ctx) {
    const struct race *race = ctx;
    char body[256], path[64];
    struct http_res *r;
    if (i == 0 && race->round > 0) {
        snprintf(path, sizeof path, CATEGORIES "/%lld", race->category);
        snprintf(body, sizeof body, "{\"parent_id\": %lld}", race->parents[race->round % 2]);
        r = call("PATCH", path, staff_token, body);
    } else if (i % 2) {
        snprintf(body, sizeof body,
                 "{\"name\": \"Raced %d\", \"sku\": \"RACED-%d-%d\", \"price\": \"7.00\","
                 " \"stock\": %d, \"category_id\": %lld, \"attributes\": {\"brand\": \"Acme\"}}",
                 i, race->round, i, i % 3, race->category);
        r = call("POST", PRODUCTS, staff_token, body);
    } else {
        snprintf(path, sizeof path, PRODUCTS "/%lld", race->ids[i]);
        snprintf(body, sizeof body,
                 "{\"stock\": %d, \"price\": \"%d.00\", \"attributes\": {\"brand\": \"Bolt\"}}",
                 (i + 1) % 3, 40 + i);
        r = call("PATCH", path, staff_token, body);
    }
    long status = r->status;
    http_res_free(r);
    return status;
}

/* Writers of the same kept keys at once neither wait on each other there
 * nor lose a count, nor do they when the category moves meanwhile. */
static void test_kept_counts_stay_exact_under_concurrent_writes(void **state) {
    (void)state;
    struct race race = {
        category_id_of("kettles"), {category_id_of("bath"), category_id_of("tools")}, {0}, 0};
    for (int i = 0; i < 8; i += 2) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"name\": \"Race base %d\", \"sku\": \"RACE-%d\", \"price\": \"3.00\","
                 " \"stock\": 0, \"category_id\": %lld, \"attributes\": {\"brand\": \"Acme\"}}",
                 i, i, race.category);
        struct http_res *r = call("POST", PRODUCTS, staff_token, body);
        expect_status(r, 201, "create");
        race.ids[i] = jint(r->json, "id");
        http_res_free(r);
    }
    for (race.round = 0; race.round < 3; race.round++) {
        long statuses[8];
        harness_race(8, racing_write, &race, statuses);
        assert_int_equal(harness_count_status(statuses, 8, 201), 4);
        assert_int_equal(harness_count_status(statuses, 8, 200), 4);
        harness_expect_facet_counts_exact(&server, "concurrent writes");
    }
    check_counted_facets("concurrent writes", true, NULL);
}

/* The whole catalog's list total (limit makes each request's key new, so
 * no cached answer stands in for the count). */
static long long catalog_total(int limit) {
    char path[128];
    snprintf(path, sizeof path, PRODUCTS "?limit=%d&include_total=true", limit);
    return total_at(path);
}

/* A list total comes from the kept counts, except while a bulk load's
 * rebuild is pending (its counts lag): then the rows are counted. A
 * count row written by hand shows which one answered. */
static void test_list_totals_count_the_rows_while_a_rebuild_is_pending(void **state) {
    (void)state;
    long long rows = sql_count("SELECT count(*) FROM products p"
                               " WHERE p.deleted_at IS NULL AND p.is_active");
    assert_int_equal(catalog_total(2), rows);
    free(harness_sql(&server, "INSERT INTO facet_counts (scope, term, n) VALUES (0, 0, 987654)"));
    assert_int_equal(catalog_total(3), rows + 987654);
    free(harness_sql(&server, "INSERT INTO derived_rebuild_pending DEFAULT VALUES"));
    assert_int_equal(catalog_total(4), rows);
    free(harness_sql(&server, "DELETE FROM derived_rebuild_pending"));
    free(harness_sql(&server, "DELETE FROM facet_counts WHERE n = 987654"));
    assert_int_equal(catalog_total(5), rows);
    harness_expect_facet_counts_exact(&server, "the hand-written row removed");
}

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants). */
static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
}

/* A product at the contract's limits (50 attributes, 100 variants of
 * three options, every value its own, all in stock) is written and
 * counted: its terms made an entry of the facets' covering index over a
 * btree entry's 2,704 bytes (a 500); that index now leaves out the
 * in-stock terms of such a product, which a count reads from the table. */
static void test_a_product_with_the_most_terms_is_written_and_counted(void **state) {
    (void)state;
    json_t *variants = json_array(), *attributes = json_object();
    for (int i = 0; i < 100; i++) {
        char sku[32], size[16], color[16], material[16];
        snprintf(sku, sizeof sku, "MOST-%d", i);
        snprintf(size, sizeof size, "size %d", i);
        snprintf(color, sizeof color, "colour %d", i);
        snprintf(material, sizeof material, "material %d", i);
        json_array_append_new(variants, json_pack("{s:s, s:s, s:i, s:{s:s, s:s, s:s}}", "sku", sku,
                                                  "price", "1", "stock", 1, "options", "Size", size,
                                                  "Color", color, "Material", material));
    }
    for (int i = 0; i < 50; i++) {
        char key[16], value[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "value number %d", i);
        json_object_set_new(attributes, key, json_string(value));
    }
    json_object_set_new(attributes, "marker", json_string("most"));
    json_object_del(attributes, "k49");
    json_t *b = json_pack("{s:s, s:o, s:o}", "name", "Most terms", "attributes", attributes,
                          "variants", variants);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, dump(b));
    expect_status(r, 201, "a product with the most terms");
    http_res_free(r);
    r = call("GET", FACETS "?attr.marker=most&in_stock=true", NULL, NULL);
    expect_status(r, 200, "its facets in stock");
    assert_int_equal(jint(r->json, "total"), 1);
    json_t *sizes = json_object_get(json_object_get(r->json, "options"), "Size");
    assert_int_equal(json_array_size(sizes), 20);
    assert_int_equal(jint(json_array_get(sizes, 0), "count"), 1);
    http_res_free(r);
}

/* sku= counts the one product of that variant's SKU, each facet without
 * its own filter as always (in_stock here). */
static void test_facets_of_a_sku_count_its_product(void **state) {
    (void)state;
    create_product("bysku", json_pack("[o, o]", variant("SKU-FACET-1", "M", "Red", 3),
                                      variant("SKU-FACET-2", "S", "Red", 0)));
    struct http_res *r = call("GET", FACETS "?sku=SKU-FACET-2&price_buckets=0,100", NULL, NULL);
    expect_status(r, 200, "facets of a sku");
    assert_int_equal(jint(r->json, "total"), 1);
    json_t *stock = json_object_get(r->json, "in_stock");
    assert_int_equal(jint(stock, "true"), 1);
    assert_int_equal(jint(stock, "false"), 0);
    json_t *b = json_array_get(json_object_get(json_object_get(r->json, "price"), "buckets"), 0);
    assert_int_equal(jint(b, "count"), 1);
    json_t *sizes = json_object_get(json_object_get(r->json, "options"), "Size");
    assert_int_equal(json_array_size(sizes), 2);
    json_t *markers = json_object_get(json_object_get(r->json, "attributes"), "marker");
    assert_int_equal(json_array_size(markers), 1);
    assert_string_equal(jstr(json_array_get(markers, 0), "value"), "bysku");
    http_res_free(r);
    r = call("GET", FACETS "?sku=SKU-FACET-1&in_stock=false", NULL, NULL);
    expect_status(r, 200, "facets of a sku out of stock");
    assert_int_equal(jint(r->json, "total"), 0);
    assert_int_equal(jint(json_object_get(r->json, "in_stock"), "true"), 1);
    http_res_free(r);
    const char *none[] = {FACETS "?sku=sku-facet-1", FACETS "?sku=NO-SUCH-SKU"};
    for (size_t i = 0; i < 2; i++) {
        r = call("GET", none[i], NULL, NULL);
        expect_status(r, 200, none[i]);
        assert_int_equal(jint(r->json, "total"), 0);
        http_res_free(r);
    }
    expect_bad(FACETS "?sku=SKU%20FACET", "sku");
    expect_bad(PRODUCTS "?sku=SKU%2FFACET", "sku");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facets_match_sql_for_random_filters),
        cmocka_unit_test(test_facets_of_option_filters_match_sql),
        cmocka_unit_test(test_option_facets_read_the_variants_while_a_rebuild_is_pending),
        cmocka_unit_test(test_malformed_parameters_are_400_naming_them),
        cmocka_unit_test(test_a_key_no_product_has_matches_nothing),
        cmocka_unit_test(test_option_filters_hold_on_one_variant),
        cmocka_unit_test(test_cursor_is_bound_to_the_new_filters),
        cmocka_unit_test(test_cursor_continues_the_filter_in_another_case),
        cmocka_unit_test(test_cursor_is_not_continued_by_a_name_spelling_two_filters),
        cmocka_unit_test(test_facets_are_invalidated_by_variant_and_attribute_writes),
        cmocka_unit_test(test_kept_counts_follow_every_write),
        cmocka_unit_test(test_kept_counts_stay_exact_under_concurrent_writes),
        cmocka_unit_test(test_list_totals_count_the_rows_while_a_rebuild_is_pending),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
        cmocka_unit_test(test_tied_option_names_ignore_case),
        cmocka_unit_test(test_option_names_rank_by_products),
        cmocka_unit_test(test_an_option_is_counted_without_its_filter_in_any_case),
        cmocka_unit_test(test_a_value_with_a_comma_is_selected_by_escaping_it),
        cmocka_unit_test(test_cursor_tells_an_escaped_comma_from_a_list),
        cmocka_unit_test(test_a_product_with_the_most_terms_is_written_and_counted),
        cmocka_unit_test(test_facets_of_a_sku_count_its_product),
    };
    return harness_run_group("facets", tests, sizeof tests / sizeof tests[0], start, stop);
}
