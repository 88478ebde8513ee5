/*
 * seed.c -- the demo catalog generator.
 */
#include "nexus/db/seed.h"

#include "nexus/core/log.h"
#include "nexus/core/xmem.h"
#include "nexus/db/seed_indexes.h"
#include "nexus/db/seed_terms.h"
#include "nexus/db/seed_variants.h"
#include "nexus/model/catalog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COPY_CHUNK (1u << 20)

static const char *const DEPARTMENTS[] = {
    "Electronics",  "Home & Kitchen", "Garden",       "Sports & Outdoors",
    "Toys & Games", "Books",          "Clothing",     "Beauty",
    "Automotive",   "Office",         "Pet Supplies", "Grocery",
    "Music",        "Health",         "Tools",        "Baby"};
static const char *const SECTIONS[] = {"Essentials", "Accessories",  "Premium", "Outlet",
                                       "Classics",   "New Arrivals", "Kids",    "Pro"};
static const char *const SHELVES[] = {"Starter", "Everyday", "Travel", "Compact",
                                      "Deluxe",  "Eco",      "Studio", "Vintage"};
/* Brand names are made of two syllables: 1,600 brands, as varied as a
 * real catalog's, so a brand search is as selective as it would be there. */
static const char *const SYLLABLES[] = {"ka",  "lo",  "mi",  "ven", "tor", "bri", "sa",  "nu",
                                        "qua", "zel", "dor", "fin", "gra", "hol", "jun", "kes",
                                        "lum", "mar", "nor", "pel", "ris", "sol", "tam", "ul",
                                        "vor", "wex", "yar", "zan", "bel", "cor", "dan", "el",
                                        "fal", "gor", "hyn", "ix",  "jor", "kal", "lyn", "mox"};
static const char *const ADJECTIVES[] = {
    "Wireless", "Ergonomic",  "Compact",     "Portable",   "Smart",    "Classic", "Rugged",
    "Organic",  "Deluxe",     "Ultra",       "Silent",     "Foldable", "Vintage", "Modern",
    "Handmade", "Waterproof", "Lightweight", "Heavy-Duty", "Crème",    "Premium"};
static const char *const MATERIALS[] = {"Steel",   "Bamboo", "Cotton", "Leather",
                                        "Ceramic", "Oak",    "Carbon", "Glass",
                                        "Wool",    "Copper", "Linen",  "Titanium"};
static const char *const NOUNS[] = {"Headphones", "Backpack", "Kettle",   "Lamp",   "Chair",
                                    "Notebook",   "Speaker",  "Jacket",   "Mug",    "Blender",
                                    "Keyboard",   "Tent",     "Bottle",   "Watch",  "Camera",
                                    "Drill",      "Blanket",  "Sneakers", "Puzzle", "Brûlée Torch"};
static const char *const BLURBS[] = {"built to last and easy to clean",
                                     "a favourite for everyday use",
                                     "designed for small spaces",
                                     "with a two-year warranty",
                                     "made from responsibly sourced materials",
                                     "light enough to take anywhere",
                                     "tested by our team in real conditions",
                                     "a thoughtful gift for any occasion"};

#define COUNT(a) ((long)(sizeof(a) / sizeof((a)[0])))

/* xorshift64*: small, fast, and the same everywhere. */
static uint64_t next_random(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint64_t pick(uint64_t *s, uint64_t n) {
    return next_random(s) % n;
}

/* ---- attributes and images ----------------------------------------------
 *
 * Every product has brand, material and color, then up to five more from
 * its department's vocabulary (3 to 8 in all): strings, numbers and
 * booleans, as a storefront's filters would use them. */

static const char *const COLORS[] = {"black", "white", "red",  "blue",  "green",
                                     "grey",  "navy",  "sand", "olive", "orange"};

enum seed_attr_kind { ATTR_NUMBER, ATTR_BOOL, ATTR_TEXT };

struct seed_attr {
    const char *key;
    enum seed_attr_kind kind;
    int lo, hi;                 /* ATTR_NUMBER: lo..hi */
    const char *const *choices; /* ATTR_TEXT: four of them */
};

static const char *const ROOMS[] = {"kitchen", "living room", "bedroom", "office"};
static const char *const SEASONS[] = {"spring", "summer", "autumn", "winter"};
static const char *const SIZES[] = {"S", "M", "L", "XL"};
static const char *const FITS[] = {"slim", "regular", "relaxed", "oversized"};

/* Four vocabularies; a department uses the one of its index modulo 4. */
static const struct seed_attr VOCABULARIES[4][5] = {
    {{"weight_g", ATTR_NUMBER, 50, 3000, NULL},
     {"wireless", ATTR_BOOL, 0, 0, NULL},
     {"battery_h", ATTR_NUMBER, 2, 60, NULL},
     {"warranty_years", ATTR_NUMBER, 1, 5, NULL},
     {"waterproof", ATTR_BOOL, 0, 0, NULL}},
    {{"weight_g", ATTR_NUMBER, 100, 9000, NULL},
     {"room", ATTR_TEXT, 0, 0, ROOMS},
     {"dishwasher_safe", ATTR_BOOL, 0, 0, NULL},
     {"capacity_l", ATTR_NUMBER, 1, 40, NULL},
     {"handmade", ATTR_BOOL, 0, 0, NULL}},
    {{"weight_g", ATTR_NUMBER, 200, 12000, NULL},
     {"waterproof", ATTR_BOOL, 0, 0, NULL},
     {"season", ATTR_TEXT, 0, 0, SEASONS},
     {"capacity_l", ATTR_NUMBER, 5, 80, NULL},
     {"uv_protection", ATTR_BOOL, 0, 0, NULL}},
    {{"size", ATTR_TEXT, 0, 0, SIZES},
     {"fit", ATTR_TEXT, 0, 0, FITS},
     {"weight_g", ATTR_NUMBER, 80, 2000, NULL},
     {"recycled", ATTR_BOOL, 0, 0, NULL},
     {"waterproof", ATTR_BOOL, 0, 0, NULL}},
};

/* The product's attributes as jsonb text (no character that COPY's text
 * format would need escaped: the vocabulary and names have none), and
 * their terms into set: each value as jsonb's text of it. */
static void attributes_text(struct buf *out, uint64_t *s, long vocabulary, const char *brand,
                            const char *material, struct seed_terms *terms,
                            struct seed_term_set *set) {
    long extra = (long)pick(s, 6); /* 0..5 more than the three */
    const char *color = COLORS[pick(s, (uint64_t)COUNT(COLORS))];
    buf_printf(out, "{\"brand\": \"%s\", \"material\": \"%s\", \"color\": \"%s\"", brand, material,
               color);
    set->count = 0;
    seed_term_set_add(set, seed_term_id(terms, SEED_TERM_ATTRIBUTE, "brand", brand));
    seed_term_set_add(set, seed_term_id(terms, SEED_TERM_ATTRIBUTE, "material", material));
    seed_term_set_add(set, seed_term_id(terms, SEED_TERM_ATTRIBUTE, "color", color));
    for (long i = 0; i < extra; i++) {
        const struct seed_attr *a = &VOCABULARIES[vocabulary][i];
        char value[32];
        if (a->kind == ATTR_NUMBER)
            snprintf(value, sizeof value, "%d",
                     a->lo + (int)pick(s, (uint64_t)(a->hi - a->lo + 1)));
        else if (a->kind == ATTR_BOOL)
            snprintf(value, sizeof value, "%s", pick(s, 2) ? "true" : "false");
        else
            snprintf(value, sizeof value, "%s", a->choices[pick(s, 4)]);
        buf_printf(out, a->kind == ATTR_TEXT ? ", \"%s\": \"%s\"" : ", \"%s\": %s", a->key, value);
        seed_term_set_add(set, seed_term_id(terms, SEED_TERM_ATTRIBUTE, a->key, value));
    }
    buf_puts(out, "}");
}

/* One to four https images of the product, with alt text. */
static void images_text(struct buf *out, uint64_t *s, long i, const char *noun) {
    static const char *const VIEWS[] = {"front", "side", "back", "detail"};
    long n = 1 + (long)pick(s, 4);
    buf_puts(out, "[");
    for (long k = 0; k < n; k++)
        buf_printf(out,
                   "%s{\"url\": \"https://img.example.com/p/%ld/%ld.jpg\", \"alt\": \"%s, %s\"}",
                   k ? ", " : "", i + 1, k + 1, noun, VIEWS[k]);
    buf_puts(out, "]");
}

/* A catalog with categories but no products is not empty either: the
 * seed would collide with them. */
static struct db_stmt SQL_COUNT = {
    "SELECT (SELECT count(*) FROM products) + (SELECT count(*) FROM categories)", 0, 0};
/* The products and variants were copied with their ids (COPY writes
 * identity columns as given): the next insert takes the id after them. */
static struct db_stmt SQL_SYNC_IDS = {
    "SELECT setval(pg_get_serial_sequence('products', 'id'), max(id)),"
    " (SELECT setval(pg_get_serial_sequence('product_variants', 'id'), max(id))"
    " FROM product_variants) FROM products",
    0, 0};
/* The foreign keys of products (its category), variants and numeric
 * attributes (their product), as the statements that drop and add them:
 * checked once per table after a bulk load (one join) instead of once per
 * row, which was about a third of the products' COPY. */
static struct db_stmt SQL_FOREIGN_KEYS = {
    "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),"
    " format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,"
    " pg_get_constraintdef(oid)) FROM pg_constraint"
    " WHERE conrelid IN ('products'::regclass, 'product_variants'::regclass,"
    " 'product_attribute_numbers'::regclass)"
    " AND contype = 'f' ORDER BY conrelid::regclass::text, conname",
    0, 0};
static struct db_stmt SQL_ADD_CATEGORY = {
    "INSERT INTO categories (name, slug, description, parent_id)"
    " VALUES ($1, $2, $3, NULLIF($4, '')::bigint) RETURNING id",
    4, 0};

static enum nx_err add_category(struct db *db, const char *name, const char *slug,
                                const char *parent, char id[24]) {
    char description[160];
    snprintf(description, sizeof description, "Everything in %s.", name);
    const char *params[] = {name, slug, description, parent};
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_ADD_CATEGORY, params, &r);
    if (e == NX_OK)
        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return e;
}

/* A three-level tree of total categories, 26 to a department (the root,
 * five sections of four shelves each), the last one cut short when total
 * is no multiple of 26; leaf ids go to *leaves. */
static enum nx_err seed_tree(struct db *db, long total, int64_t **leaves, long *leaf_count) {
    long roots = (total + 25) / 26, made = 0;
    enum nx_err e = NX_OK;
    *leaves = xcalloc((size_t)total + 1, sizeof **leaves);
    *leaf_count = 0;
    for (long r = 0; r < roots && e == NX_OK && made < total; r++) {
        char rid[24], name[128], slug[128];
        snprintf(name, sizeof name, "%s %ld", DEPARTMENTS[r % COUNT(DEPARTMENTS)], r + 1);
        snprintf(slug, sizeof slug, "dept-%ld", r + 1);
        e = add_category(db, name, slug, "", rid);
        made++;
        for (long c = 0; c < 5 && e == NX_OK && made < total; c++) {
            char cid[24];
            snprintf(name, sizeof name, "%s %s", DEPARTMENTS[r % COUNT(DEPARTMENTS)],
                     SECTIONS[c % COUNT(SECTIONS)]);
            snprintf(slug, sizeof slug, "dept-%ld-section-%ld", r + 1, c + 1);
            e = add_category(db, name, slug, rid, cid);
            made++;
            for (long g = 0; g < 4 && e == NX_OK && made < total; g++) {
                char gid[24];
                snprintf(name, sizeof name, "%s %s %s", SHELVES[g % COUNT(SHELVES)],
                         SECTIONS[c % COUNT(SECTIONS)], DEPARTMENTS[r % COUNT(DEPARTMENTS)]);
                snprintf(slug, sizeof slug, "dept-%ld-section-%ld-shelf-%ld", r + 1, c + 1, g + 1);
                e = add_category(db, name, slug, cid, gid);
                made++;
                (*leaves)[(*leaf_count)++] = strtoll(gid, NULL, 10);
            }
        }
    }
    return e;
}

/* Seeded products are dated over the year before this instant, so the same
 * arguments give the same catalog on every run. */
#define SEED_EPOCH 1767225600 /* 2026-01-01T00:00:00Z */
#define SEED_YEAR  (365LL * 24 * 3600)

/* Product i's date: in id order, as a store creates them (an id is taken
 * when a product is created), at a random second of its share of the
 * year. Rows are then stored in the order of their dates, as a store's
 * are, and a walk of the newest products reads consecutive pages. */
static long long created_epoch(uint64_t *s, long i, long n) {
    long long share = SEED_YEAR / n > 0 ? SEED_YEAR / n : 1;
    return SEED_EPOCH - SEED_YEAR + (long long)i * SEED_YEAR / n +
           (long long)pick(s, (uint64_t)share);
}

static void timestamp_text(long long epoch, char out[32]) {
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* What the variant rows of a product need from its line (see
 * seed_variants.h): its base price and stock, and its date. */
struct seed_state {
    const struct seed_options *o;
    const int64_t *leaves;
    long leaf_count;
    uint64_t random;
    long long *cents;
    long long *stock;
    long long *created;
    long long next_variant; /* the id of the next variant line (the table starts empty) */
    struct buf options;
    struct seed_terms terms;
};

/* The solo columns of a product whose variants are vs, the first with id
 * first (migration 0028): its one variant's, or all NULL. */
static void solo_text(struct buf *out, const struct seed_variants *vs, long long first,
                      const char *created) {
    if (vs->count != 1) {
        buf_puts(out, "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N");
        return;
    }
    const struct seed_variant *v = &vs->v[0];
    buf_printf(out, "\t%lld\t%lld\t{}\t%s\t1\t%s\t%s", first, v->stock, v->active ? "t" : "f",
               created, created);
}

/* Append product i as a COPY text line: sku, price and stock derived from
 * its variants. */
static void product_line(struct buf *out, long i, struct seed_state *st) {
    uint64_t *s = &st->random;
    char brand[16];
    snprintf(brand, sizeof brand, "%s%s", SYLLABLES[pick(s, (uint64_t)COUNT(SYLLABLES))],
             SYLLABLES[pick(s, (uint64_t)COUNT(SYLLABLES))]);
    brand[0] = (char)(brand[0] - 'a' + 'A');
    const char *adj = ADJECTIVES[pick(s, (uint64_t)COUNT(ADJECTIVES))];
    const char *mat = MATERIALS[pick(s, (uint64_t)COUNT(MATERIALS))];
    const char *noun = NOUNS[pick(s, (uint64_t)COUNT(NOUNS))];
    const char *blurb = BLURBS[pick(s, (uint64_t)COUNT(BLURBS))];
    uint64_t tier = pick(s, 10);
    long long cents = tier < 6   ? 199 + (long long)pick(s, 5000)
                      : tier < 9 ? 5000 + (long long)pick(s, 45000)
                                 : 50000 + (long long)pick(s, 450000);
    long long stock = pick(s, 10) == 0 ? 0 : (long long)pick(s, 500) + 1;
    const char *currency = pick(s, 10) < 8 ? "USD" : pick(s, 2) ? "EUR" : "GBP";
    bool active = pick(s, 100) >= 3;
    char name[160], slug[NX_SLUG_MAX + 2], created[32], category[24] = "\\N";
    snprintf(name, sizeof name, "%s %s %s %s", brand, adj, mat, noun);
    slug_from_name(name, slug, 80);
    long long epoch = created_epoch(s, i, st->o->products);
    timestamp_text(epoch, created);
    long leaf = st->leaf_count ? (long)pick(s, (uint64_t)st->leaf_count) : 0;
    if (st->leaf_count)
        snprintf(category, sizeof category, "%lld", (long long)st->leaves[leaf]);
    st->cents[i] = cents;
    st->stock[i] = stock;
    st->created[i] = epoch;
    struct seed_variants vs;
    long long min, max, total;
    int active_variants;
    seed_variants_of(i, cents, stock, &vs);
    seed_variants_derive(&vs, &min, &max, &total, &active_variants, &st->options);
    buf_printf(
        out,
        "%ld\tSKU-%08ld\t%s\t%s-%ld\t%s %s %s, model %c%c-%u: %s.\t%lld\t%s\t%lld\t%s\t%s\t%s"
        "\t%s\t%lld\t%d\t%d\t%s\t",
        i + 1, i + 1, name, slug, i + 1, adj, mat, noun, (char)('A' + pick(s, 26)),
        (char)('A' + pick(s, 26)), (unsigned)pick(s, 10000), blurb, min, currency, total, category,
        active ? "t" : "f", created, created, max, vs.count, active_variants, st->options.data);
    /* leaves come 20 to a department (seed_tree), in department order */
    struct seed_term_set set;
    attributes_text(out, s, (leaf / 20) % COUNT(DEPARTMENTS) % 4, brand, mat, &st->terms, &set);
    buf_puts(out, "\t");
    images_text(out, s, i, noun);
    buf_puts(out, "\t");
    seed_term_set_text(&set, out);
    for (int in_stock = 0; in_stock <= 1; in_stock++) {
        seed_variants_terms(&vs, in_stock, &st->terms, &set);
        buf_puts(out, "\t");
        seed_term_set_text(&set, out);
    }
    solo_text(out, &vs, st->next_variant, created);
    st->next_variant += vs.count;
    buf_puts(out, "\n");
}

/* Append the variant lines of product i. */
static void variant_lines(struct buf *out, long i, struct seed_state *st) {
    struct seed_variants vs;
    char created[32];
    seed_variants_of(i, st->cents[i], st->stock[i], &vs);
    timestamp_text(st->created[i], created);
    for (int j = 0; j < vs.count; j++)
        seed_variant_line(out, i, st->next_variant++, &vs, j, created);
}

/* Start a COPY ... FROM STDIN. */
static bool copy_begin(PGconn *c, const char *copy) {
    PGresult *r = PQexec(c, copy);
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    return ok;
}

/* End the COPY (abort it unless ok) and take its result. */
static enum nx_err copy_end(PGconn *c, bool ok) {
    if (PQputCopyEnd(c, ok ? NULL : "seed failed") != 1)
        ok = false;
    PGresult *r = PQgetResult(c);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        log_error("seed.copy", NULL, "%s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    return ok ? NX_OK : NX_ERR_INTERNAL;
}

/* COPY one table's rows, made per product by line. */
static enum nx_err copy_rows(struct db *db, const char *copy, struct seed_state *st,
                             void (*line)(struct buf *, long, struct seed_state *),
                             const char *what) {
    PGconn *c = db_conn(db);
    bool ok = copy_begin(c, copy);
    struct buf chunk = {0};
    long n = st->o->products;
    for (long i = 0; ok && i < n; i++) {
        line(&chunk, i, st);
        if (chunk.len >= COPY_CHUNK || i + 1 == n) {
            ok = PQputCopyData(c, chunk.data, (int)chunk.len) == 1;
            chunk.len = 0;
        }
        if (st->o->progress && (i + 1) % 100000 == 0)
            fprintf(stderr, "\rseed: %s of %ld / %ld products", what, i + 1, n);
    }
    buf_clear(&chunk);
    if (st->o->progress)
        fprintf(stderr, "\n");
    return copy_end(c, ok);
}

/* The facet terms the product rows name (migration 0013), with the ids
 * they were given; the next term a writer adds takes the id after them. */
static enum nx_err copy_terms(struct db *db, const struct seed_terms *terms) {
    PGconn *c = db_conn(db);
    bool ok = copy_begin(c, "COPY facet_terms (id, kind, name, value) FROM STDIN");
    struct buf lines = {0};
    seed_terms_lines(terms, &lines);
    if (ok && lines.len)
        ok = PQputCopyData(c, lines.data, (int)lines.len) == 1;
    buf_clear(&lines);
    enum nx_err e = copy_end(c, ok);
    if (e == NX_OK)
        e = db_exec_sql(db, "SELECT setval(pg_get_serial_sequence('facet_terms', 'id'), max(id))"
                            " FROM facet_terms");
    return e;
}

/* The products, then their variants, then the facet terms they name. The
 * product rows already carry what they derive from their variants and
 * their facet terms, so the triggers that serve other writers (a default
 * variant per product, derived defaults, terms) are off for the copy:
 * inside the transaction, which holds the tables meanwhile. */
static enum nx_err copy_products(struct db *db, const struct seed_options *o, const int64_t *leaves,
                                 long leaf_count) {
    size_t n = o->products > 0 ? (size_t)o->products : 1;
    struct seed_state st = {o,
                            leaves,
                            leaf_count,
                            0x9E3779B97F4A7C15ull,
                            xcalloc(n, sizeof(long long)),
                            xcalloc(n, sizeof(long long)),
                            xcalloc(n, sizeof(long long)),
                            1,
                            {0},
                            {0}};
    /* the catalog is empty: no product holds a term */
    enum nx_err e = db_exec_sql(db, "DELETE FROM facet_terms");
    if (e == NX_OK)
        e = db_exec_sql(db, "ALTER TABLE products DISABLE TRIGGER USER");
    if (e == NX_OK)
        e = db_exec_sql(db, "ALTER TABLE product_variants DISABLE TRIGGER USER");
    if (e == NX_OK)
        e = copy_rows(db,
                      "COPY products (id, sku, name, slug, description, price_cents, currency,"
                      " stock, category_id, is_active, created_at, updated_at, price_max_cents,"
                      " variant_count, variant_active_count, variant_options, attributes, images,"
                      " facet_attributes, facet_options, facet_options_in_stock, solo_variant_id,"
                      " solo_stock, solo_options, solo_is_active, solo_position, solo_created_at,"
                      " solo_updated_at) FROM STDIN",
                      &st, product_line, "products");
    st.next_variant = 1; /* the same ids again, now for the variants' own lines */
    if (e == NX_OK)
        e = copy_rows(db,
                      "COPY product_variants (id, product_id, sku, price_cents, stock, options,"
                      " is_active, position, created_at, updated_at) FROM STDIN",
                      &st, variant_lines, "variants");
    if (e == NX_OK)
        e = copy_terms(db, &st.terms);
    /* the numeric attributes' rows, the terms in created_at order and the
     * facet counts, which triggers keep for other writers (migration 0020,
     * as after a bulk import) */
    if (e == NX_OK)
        e = db_exec_sql(db, "SELECT nexus_attribute_numbers_rebuild()");
    if (e == NX_OK)
        e = db_exec_sql(db, "SELECT nexus_derived_rebuild()");
    if (e == NX_OK)
        e = db_exec(db, &SQL_SYNC_IDS, NULL, NULL);
    if (e == NX_OK)
        e = db_exec_sql(db, "ALTER TABLE products ENABLE TRIGGER USER");
    if (e == NX_OK)
        e = db_exec_sql(db, "ALTER TABLE product_variants ENABLE TRIGGER USER");
    free(st.cents);
    free(st.stock);
    free(st.created);
    buf_clear(&st.options);
    seed_terms_clear(&st.terms);
    return e;
}

/* Run column col of every row of r as a statement. */
static enum nx_err run_each(struct db *db, const PGresult *r, int col) {
    enum nx_err e = NX_OK;
    for (int i = 0; e == NX_OK && i < PQntuples(r); i++)
        e = db_exec_sql(db, PQgetvalue(r, i, col));
    return e;
}

static enum nx_err catalog_is_empty(struct db *db) {
    PGresult *r = NULL;
    enum nx_err e = db_exec(db, &SQL_COUNT, NULL, &r);
    if (e == NX_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        e = NX_ERR_CONFLICT;
    PQclear(r);
    return e;
}

/* The rows, in one transaction: a bulk load drops the secondary indexes
 * and the foreign keys first, and adds the keys back (one join each). */
static enum nx_err load(struct db *db, const struct seed_options *o, int64_t *owed) {
    int64_t *leaves = NULL;
    long leaf_count = 0;
    PGresult *keys = NULL;
    bool bulk = o->products >= 20000;
    enum nx_err e = db_begin(db);
    if (e == NX_OK)
        e = seed_tree(db, o->categories, &leaves, &leaf_count);
    if (e == NX_OK && bulk)
        e = seed_indexes_drop(db, INDEXES_ALL);
    if (e == NX_OK && bulk)
        e = db_exec(db, &SQL_FOREIGN_KEYS, NULL, &keys);
    if (e == NX_OK && bulk)
        e = run_each(db, keys, 0);
    if (e == NX_OK)
        e = copy_products(db, o, leaves, leaf_count);
    if (e == NX_OK && bulk)
        e = seed_indexes_restore_writers(db);
    if (e == NX_OK && bulk)
        e = run_each(db, keys, 1);
    if (e == NX_OK && o->committing)
        e = o->committing(db, owed);
    if (e == NX_OK)
        e = db_commit(db);
    db_rollback(db);
    PQclear(keys);
    free(leaves);
    return e;
}

enum nx_err seed_catalog(struct db *db, const struct seed_options *o, enum seed_outcome *outcome) {
    bool pending = false;
    int64_t owed = 0;
    /* A bulk load legitimately runs longer than any API statement. */
    enum nx_err e = db_exec_sql(db, "SET statement_timeout = 0");
    if (e == NX_OK)
        e = seed_indexes_pending(db, &pending);
    if (e == NX_OK && pending)
        log_info("seed.resume", NULL, "building the indexes an interrupted seed left");
    else if (e == NX_OK)
        e = catalog_is_empty(db);
    if (e == NX_OK && !pending)
        e = load(db, o, &owed);
    if (e == NX_OK && o->committed)
        o->committed(db, owed);
    if (e == NX_OK)
        e = seed_indexes_build(db, o->conninfo, o->progress);
    *outcome = pending ? SEED_RESUMED : SEED_LOADED;
    return e;
}
