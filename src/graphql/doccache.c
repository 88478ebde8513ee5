/*
 * doccache.c -- parsed and validated documents, kept per thread (see
 * doccache.h).
 */
#include "nexus/graphql/doccache.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/validate.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *text; /* NULL: a free slot */
    size_t len, bytes;
    uint64_t hash, used;
    struct gql_document *doc;
};

struct cache {
    struct entry entries[GQL_DOC_CACHE_COUNT];
    size_t bytes;
    uint64_t clock;
    struct gql_document *loose; /* too large to keep: freed by the next call */
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void entry_free(struct cache *c, struct entry *e) {
    if (!e->text)
        return;
    c->bytes -= e->bytes;
    gql_document_free(e->doc);
    free(e->text);
    memset(e, 0, sizeof *e);
}

static void cache_free(void *p) {
    struct cache *c = p;
    for (size_t i = 0; i < GQL_DOC_CACHE_COUNT; i++)
        entry_free(c, &c->entries[i]);
    gql_document_free(c->loose);
    free(c);
}

static void make_key(void) {
    if (pthread_key_create(&key, cache_free) != 0)
        abort();
}

static struct cache *thread_cache(void) {
    pthread_once(&key_once, make_key);
    struct cache *c = pthread_getspecific(key);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        if (pthread_setspecific(key, c) != 0)
            abort();
    }
    return c;
}

/* FNV-1a, 64 bits. */
static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

/* The least recently used entry that holds a document, or NULL. */
static struct entry *least_used(struct cache *c) {
    struct entry *v = NULL;
    for (size_t i = 0; i < GQL_DOC_CACHE_COUNT; i++)
        if (c->entries[i].text && (!v || c->entries[i].used < v->used))
            v = &c->entries[i];
    return v;
}

static struct entry *free_slot(struct cache *c) {
    for (size_t i = 0; i < GQL_DOC_CACHE_COUNT; i++)
        if (!c->entries[i].text)
            return &c->entries[i];
    struct entry *e = least_used(c);
    entry_free(c, e);
    return e;
}

/* Keep doc for text; one larger than the whole cache is held alone
 * until the next call. */
static void keep(struct cache *c, const char *text, size_t len, uint64_t h,
                 struct gql_document *doc) {
    size_t bytes = len + doc->arena.bytes;
    if (bytes > GQL_DOC_CACHE_BYTES) {
        c->loose = doc;
        return;
    }
    struct entry *lru;
    while (c->bytes + bytes > GQL_DOC_CACHE_BYTES && (lru = least_used(c)))
        entry_free(c, lru);
    struct entry *e = free_slot(c);
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    *e = (struct entry){copy, len, bytes, h, ++c->clock, doc};
    c->bytes += bytes;
}

const struct gql_document *gql_doc_cached(const char *text, size_t len, struct gql_errors *errs) {
    struct cache *c = thread_cache();
    gql_document_free(c->loose);
    c->loose = NULL;
    uint64_t h = hash_text(text, len);
    for (size_t i = 0; i < GQL_DOC_CACHE_COUNT; i++) {
        struct entry *e = &c->entries[i];
        if (e->text && e->hash == h && e->len == len && memcmp(e->text, text, len) == 0) {
            e->used = ++c->clock;
            return e->doc;
        }
    }
    struct gql_document *doc = gql_parse(text, len, errs);
    if (doc && !gql_validate(doc, errs)) {
        gql_document_free(doc);
        doc = NULL;
    }
    if (!doc)
        return NULL;
    keep(c, text, len, h, doc);
    return doc;
}
