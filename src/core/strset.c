/*
 * strset.c -- a set of strings with insertion indexes: see strset.h.
 */
#include "nexus/core/strset.h"

#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s) { /* FNV-1a */
    size_t h = (size_t)14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211u;
    return h;
}

const char *strset_at(const struct strset *set, size_t i) {
    return set->text.data + set->at[i];
}

/* The slot holding s, or the empty slot where it would go. */
static size_t *slot_of(const struct strset *set, const char *s) {
    for (size_t i = hash(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1))
        if (!set->slots[i] || strcmp(strset_at(set, set->slots[i] - 1), s) == 0)
            return &set->slots[i];
}

size_t strset_find(const struct strset *set, const char *s) {
    if (!set->cap)
        return STRSET_NONE;
    size_t *slot = slot_of(set, s);
    return *slot ? *slot - 1 : STRSET_NONE;
}

static void grow(struct strset *set) {
    size_t cap = set->cap ? set->cap * 2 : 1024;
    size_t *old = set->slots, old_cap = set->cap;
    set->slots = xcalloc(cap, sizeof *set->slots);
    set->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *slot_of(set, strset_at(set, old[i] - 1)) = old[i];
    free(old);
}

size_t strset_add(struct strset *set, const char *s) {
    if (2 * (set->count + 1) > set->cap)
        grow(set);
    size_t *slot = slot_of(set, s);
    if (*slot)
        return *slot - 1;
    if (set->count == set->at_cap) {
        set->at_cap = set->at_cap ? set->at_cap * 2 : 256;
        set->at = xrealloc(set->at, set->at_cap * sizeof *set->at);
    }
    set->at[set->count] = set->text.len;
    buf_append(&set->text, s, strlen(s) + 1);
    *slot = ++set->count;
    return set->count - 1;
}

void strset_empty(struct strset *set) {
    if (set->cap)
        memset(set->slots, 0, set->cap * sizeof *set->slots);
    set->count = 0;
    set->text.len = 0;
}

void strset_free(struct strset *set) {
    free(set->slots);
    free(set->at);
    buf_clear(&set->text);
    *set = (struct strset){0};
}
