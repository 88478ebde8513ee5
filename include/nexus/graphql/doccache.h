/*
 * doccache.h -- parsed and validated documents, kept per thread.
 *
 * Clients send the same few documents over and over (a page's query, with
 * other variables). gql_doc_cached answers a document that parsed and
 * passed validation for exactly these bytes of text, from the calling
 * thread's cache, or parses and validates it now and keeps it. Only what
 * depends on the document alone is skipped: choosing the operation,
 * coercing the variables and the limits (which read variables) still run
 * for each request; an operation without variables has its measure and
 * the executor's collected fields kept with the document (see parse.h).
 *
 * Each thread has its own cache (no locks): at most GQL_DOC_CACHE_COUNT
 * documents and GQL_DOC_CACHE_BYTES bytes of text and AST, the least
 * recently used evicted first; it is freed when the thread exits. A
 * document that fails to parse or validate is not kept; one larger than
 * the whole cache is held only until the thread's next call.
 *
 * The AST is never changed after parsing (the validator, the limits and
 * the executor take it const), so a kept document serves any number of
 * requests.
 */
#ifndef NEXUS_GRAPHQL_DOCCACHE_H
#define NEXUS_GRAPHQL_DOCCACHE_H

#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"

#include <stddef.h>

#define GQL_DOC_CACHE_COUNT 64
#define GQL_DOC_CACHE_BYTES (1024 * 1024)

/* The document of len bytes of text, parsed and validated; NULL with the
 * errors of gql_parse or gql_validate. It belongs to the cache and stays
 * valid until the same thread's next call. */
const struct gql_document *gql_doc_cached(const char *text, size_t len, struct gql_errors *errs);

#endif
