/*
 * import_slugs.c -- derived slugs for a batch of import rows: see the
 * header.
 */
#include "nexus/jobs/import_slugs.h"

#include "nexus/core/strset.h"
#include "nexus/db/imports.h"
#include "nexus/db/products.h"
#include "nexus/db/variants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Candidates of one base: n = 1 is the base itself, then base-n. */
struct base {
    long next;   /* the first candidate not yet passed over */
    long probed; /* candidates up to this one are known taken or free */
    long rows;   /* rows deriving from it */
};

struct choice {
    struct db *db;
    struct strset bases; /* index: the struct base in state */
    struct base *state;
    struct strset taken; /* candidates live products have */
    struct strset used;  /* slugs of the rows before the current one */
};

static void candidate(const char *base, long n, char out[NX_SLUG_MAX + 1]) {
    if (n == 1)
        snprintf(out, NX_SLUG_MAX + 1, "%s", base);
    else
        slug_with_suffix(base, n, out);
}

static enum nx_err lock_bases(struct choice *c) {
    struct buf names = {0};
    char name[NX_SLUG_MAX + 32];
    for (size_t i = 0; i < c->bases.count; i++) {
        snprintf(name, sizeof name, "slug:products:%s", strset_at(&c->bases, i));
        db_text_array_add(&names, name); /* the key POST /products locks */
    }
    enum nx_err e = db_xact_locks(c->db, names.data);
    buf_clear(&names);
    return e;
}

/* Ask about the next window of every base whose candidates ran out: the
 * rows still to come (and a few more), doubling on each round. */
static enum nx_err probe(struct choice *c) {
    struct buf asked = {0};
    char slug[NX_SLUG_MAX + 1];
    PGresult *r = NULL;
    for (size_t i = 0; i < c->bases.count; i++) {
        struct base *b = &c->state[i];
        if (b->next <= b->probed)
            continue;
        long window = b->probed ? b->probed : b->rows + 4;
        for (long n = b->probed + 1; n <= b->probed + window; n++) {
            candidate(strset_at(&c->bases, i), n, slug);
            db_text_array_add(&asked, slug);
        }
        b->probed += window;
    }
    enum nx_err e = products_slugs_taken(c->db, asked.data, &r);
    for (int i = 0; e == NX_OK && i < PQntuples(r); i++)
        strset_add(&c->taken, PQgetvalue(r, i, 0));
    PQclear(r);
    buf_clear(&asked);
    return e;
}

/* The row's slug from its base, or false when the candidates known so far
 * ran out (the base is then left as it is). */
static bool pick(struct choice *c, char slug[NX_SLUG_MAX + 1]) {
    char out[NX_SLUG_MAX + 1];
    struct base *b = &c->state[strset_find(&c->bases, slug)];
    for (; b->next <= b->probed; b->next++) {
        candidate(slug, b->next, out);
        if (strset_find(&c->taken, out) == STRSET_NONE &&
            strset_find(&c->used, out) == STRSET_NONE) {
            b->next++;
            memcpy(slug, out, strlen(out) + 1);
            return true;
        }
    }
    return false;
}

/* The rows whose SKU a live variant holds: updates, which keep their
 * product's slug (owned; false for every other row). */
static enum nx_err find_updates(struct db *db, const char *row_skus, const char *sku_rows, size_t n,
                                bool **updates) {
    PGresult *r = NULL;
    *updates = xcalloc(n ? n : 1, sizeof **updates);
    /* The products the rows name are locked before anything is read of
     * them: a product deleted, or a variant's SKU freed, by a write that
     * commits meanwhile is seen as it left them (a row then makes a new
     * product), never written over as it was. Then every SKU of the batch
     * (db/variants), in one statement, before its first write and its
     * slugs' locks, in the order of an API write (its product, a PUT or
     * PATCH; the SKUs it gives; a create's derived slug): without it, a
     * batch and a write of one SKU could each write one of its two
     * unique keys (the product's, the variant's) and wait for the other's.
     * A write that held a SKU meanwhile may have given it to another
     * product, which is locked in turn, once that write committed. */
    enum nx_err e = n ? products_lock_sku_owners(db, row_skus) : NX_OK;
    if (e == NX_OK && n)
        e = variants_lock_sku_array(db, row_skus);
    if (e == NX_OK && n)
        e = products_lock_sku_owners(db, row_skus);
    if (e == NX_OK && n)
        e = products_skus_held(db, row_skus, sku_rows, &r);
    for (int i = 0; e == NX_OK && i < PQntuples(r); i++) {
        long long at = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (at >= 1 && (size_t)at <= n)
            (*updates)[at - 1] = true;
    }
    PQclear(r);
    return e;
}

/* Rows in order; a row whose base ran out of known candidates waits for
 * the next probe, and so do the rows after it. */
static enum nx_err choose(struct db *db, const char (*bases)[NX_SLUG_MAX + 1],
                          char (*slugs)[NX_SLUG_MAX + 1], const bool *derived, const bool *updates,
                          size_t n) {
    struct choice c = {.db = db, .state = xcalloc(n ? n : 1, sizeof *c.state)};
    enum nx_err e = NX_OK;
    for (size_t i = 0; i < n; i++) {
        memcpy(slugs[i], bases[i], sizeof *slugs);
        if (!derived[i] || updates[i])
            continue;
        struct base *b = &c.state[strset_add(&c.bases, slugs[i])];
        b->next = 1;
        b->rows++;
    }
    if (c.bases.count)
        e = lock_bases(&c);
    for (size_t i = 0; e == NX_OK && i < n;) {
        if (updates[i] && derived[i])
            i++; /* its slug is its product's */
        else if (!derived[i] || pick(&c, slugs[i]))
            strset_add(&c.used, slugs[i++]);
        else
            e = probe(&c);
    }
    strset_free(&c.bases);
    strset_free(&c.taken);
    strset_free(&c.used);
    free(c.state);
    return e;
}

enum nx_err import_slugs_choose(struct db *db, const char (*bases)[NX_SLUG_MAX + 1],
                                char (*slugs)[NX_SLUG_MAX + 1], const bool *derived,
                                const char *row_skus, const char *sku_rows, size_t n) {
    bool *updates = NULL;
    enum nx_err e = find_updates(db, row_skus, sku_rows, n, &updates);
    if (e == NX_OK)
        e = choose(db, bases, slugs, derived, updates, n);
    free(updates);
    return e;
}

/* The chosen slugs of the rows that make products, into the stage. */
static enum nx_err stage_slugs(struct db *db, const PGresult *rows,
                               const char (*slugs)[NX_SLUG_MAX + 1], const bool *updates,
                               size_t n) {
    struct buf lines = {0}, chosen = {0};
    for (size_t i = 0; i < n; i++) {
        if (updates[i])
            continue;
        db_text_array_add(&lines, PQgetvalue(rows, (int)i, 0));
        db_text_array_add(&chosen, slugs[i]);
    }
    enum nx_err e = lines.len ? import_stage_set_slugs(db, lines.data, chosen.data) : NX_OK;
    buf_clear(&lines);
    buf_clear(&chosen);
    return e;
}

enum nx_err import_slugs_choose_staged(struct db *db) {
    PGresult *r = NULL;
    enum nx_err e = import_stage_derived_rows(db, &r);
    size_t n = e == NX_OK ? (size_t)PQntuples(r) : 0;
    char(*bases)[NX_SLUG_MAX + 1] = xcalloc(n ? n : 1, sizeof *bases);
    char(*slugs)[NX_SLUG_MAX + 1] = xcalloc(n ? n : 1, sizeof *slugs);
    bool *derived = xcalloc(n ? n : 1, sizeof *derived);
    bool *updates = xcalloc(n ? n : 1, sizeof *updates);
    for (size_t i = 0; i < n; i++) {
        char base[NX_SLUG_MAX + 2]; /* as the row's was derived when it was read */
        slug_from_name(PQgetvalue(r, (int)i, 1), base, NX_SLUG_MAX);
        size_t len = strnlen(base, NX_SLUG_MAX); /* cut by slug_from_name */
        memcpy(bases[i], base, len);
        bases[i][len] = '\0';
        derived[i] = true;
        updates[i] = PQgetvalue(r, (int)i, 2)[0] == 't';
    }
    if (n)
        e = choose(db, (const char(*)[NX_SLUG_MAX + 1]) bases, slugs, derived, updates, n);
    if (e == NX_OK && n)
        e = stage_slugs(db, r, (const char(*)[NX_SLUG_MAX + 1]) slugs, updates, n);
    PQclear(r);
    free(bases);
    free(slugs);
    free(derived);
    free(updates);
    return e;
}
