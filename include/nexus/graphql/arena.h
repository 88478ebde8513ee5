/*
 * arena.h -- one allocation pool for a GraphQL document.
 *
 * A parsed document (its AST, decoded strings and names) and the
 * validator's scratch data live in blocks owned by one arena, freed
 * together by arena_free. Allocation aborts on out-of-memory (core/xmem);
 * the callers bound what they allocate (document size, token count).
 */
#ifndef NEXUS_GRAPHQL_ARENA_H
#define NEXUS_GRAPHQL_ARENA_H

#include <stddef.h>

struct gql_arena_block;

struct gql_arena {
    struct gql_arena_block *head;
    size_t bytes; /* held in blocks (the documents' cache bounds it) */
};

/* size bytes, zeroed and aligned for any object. */
void *gql_arena_alloc(struct gql_arena *a, size_t size);
/* A NUL-terminated copy of the first n bytes of s. */
char *gql_arena_strndup(struct gql_arena *a, const char *s, size_t n);
void gql_arena_free(struct gql_arena *a);

#endif
