/*
 * strset.h -- a set of strings, each with its index in the order they were
 * added: open addressing over one text buffer, so a set of many short
 * strings costs a few allocations, not one per string.
 */
#ifndef NEXUS_CORE_STRSET_H
#define NEXUS_CORE_STRSET_H

#include "nexus/core/xmem.h"

#include <stddef.h>

#define STRSET_NONE ((size_t)-1)

struct strset {
    size_t *slots; /* index + 1 of the string there; 0: empty */
    size_t cap;    /* slots: a power of two, at most half full */
    size_t *at;    /* offset of string i in text */
    size_t count, at_cap;
    struct buf text; /* the strings, each NUL-terminated */
};

/* Add s unless it is there; its index either way. */
size_t strset_add(struct strset *set, const char *s);
/* The index of s, or STRSET_NONE. */
size_t strset_find(const struct strset *set, const char *s);
/* String i (i < count). */
const char *strset_at(const struct strset *set, size_t i);
/* Empty it, keeping its memory. */
void strset_empty(struct strset *set);
void strset_free(struct strset *set);

#endif
