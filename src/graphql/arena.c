/*
 * arena.c -- blocks of at least 16 KiB, each holding many allocations;
 * a request larger than a block gets a block of its own.
 */
#include "nexus/graphql/arena.h"

#include "nexus/core/xmem.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES 16384

struct gql_arena_block {
    struct gql_arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

static struct gql_arena_block *new_block(struct gql_arena *a, size_t cap) {
    struct gql_arena_block *b = xmalloc(sizeof *b + cap);
    b->used = 0;
    b->cap = cap;
    b->next = a->head;
    a->head = b;
    a->bytes += sizeof *b + cap;
    return b;
}

void *gql_arena_alloc(struct gql_arena *a, size_t size) {
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    struct gql_arena_block *b = a->head;
    if (!b || b->cap - b->used < size)
        b = new_block(a, size > BLOCK_BYTES ? size : BLOCK_BYTES);
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *gql_arena_strndup(struct gql_arena *a, const char *s, size_t n) {
    char *p = gql_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void gql_arena_free(struct gql_arena *a) {
    struct gql_arena_block *b = a->head;
    while (b) {
        struct gql_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->bytes = 0;
}
