/*
 * seed_terms.c -- the facet terms of the demo catalog.
 */
#include "nexus/db/seed_terms.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seed_term {
    int kind;
    char *name;
    char *value;
};

static uint64_t hash_term(int kind, const char *name, const char *value) {
    uint64_t h = UINT64_C(1469598103934665603) ^ (uint64_t)(unsigned)kind; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* keeps ("ab", "c") apart from ("a", "bc") */
    for (const char *c = value; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

static bool same(const struct seed_term *x, int kind, const char *name, const char *value) {
    return x->kind == kind && strcmp(x->name, name) == 0 && strcmp(x->value, value) == 0;
}

/* The slot of (kind, name, value): where it is, or the empty one where it
 * would go. The table is at most half full. */
static size_t find_slot(const struct seed_terms *t, int kind, const char *name, const char *value) {
    size_t mask = t->slot_count - 1, i = (size_t)hash_term(kind, name, value) & mask;
    while (t->slots[i] && !same(&t->list[t->slots[i] - 1], kind, name, value))
        i = (i + 1) & mask;
    return i;
}

static void grow(struct seed_terms *t) {
    free(t->slots);
    t->slot_count = t->slot_count ? t->slot_count * 2 : 1024;
    t->slots = xcalloc(t->slot_count, sizeof *t->slots);
    for (size_t k = 0; k < t->count; k++) {
        const struct seed_term *x = &t->list[k];
        t->slots[find_slot(t, x->kind, x->name, x->value)] = (int)k + 1;
    }
}

int seed_term_id(struct seed_terms *t, int kind, const char *name, const char *value) {
    if (2 * (t->count + 1) > t->slot_count)
        grow(t);
    size_t i = find_slot(t, kind, name, value);
    if (t->slots[i])
        return t->slots[i];
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 512;
        t->list = xrealloc(t->list, t->cap * sizeof *t->list);
    }
    t->list[t->count] = (struct seed_term){kind, xstrdup(name), xstrdup(value)};
    t->slots[i] = (int)++t->count;
    return (int)t->count;
}

void seed_term_set_add(struct seed_term_set *s, int id) {
    for (int i = 0; i < s->count; i++)
        if (s->ids[i] == id)
            return;
    if (s->count < (int)(sizeof s->ids / sizeof s->ids[0]))
        s->ids[s->count++] = id;
}

static int compare_ids(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void seed_term_set_text(struct seed_term_set *s, struct buf *out) {
    qsort(s->ids, (size_t)s->count, sizeof s->ids[0], compare_ids);
    buf_puts(out, "{");
    for (int i = 0; i < s->count; i++)
        buf_printf(out, "%s%d", i ? "," : "", s->ids[i]);
    buf_puts(out, "}");
}

/* The names and values come from the seed's own vocabulary: no character
 * that COPY's text format would need escaped. */
void seed_terms_lines(const struct seed_terms *t, struct buf *out) {
    for (size_t k = 0; k < t->count; k++)
        buf_printf(out, "%zu\t%d\t%s\t%s\n", k + 1, t->list[k].kind, t->list[k].name,
                   t->list[k].value);
}

void seed_terms_clear(struct seed_terms *t) {
    for (size_t k = 0; k < t->count; k++) {
        free(t->list[k].name);
        free(t->list[k].value);
    }
    free(t->list);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
