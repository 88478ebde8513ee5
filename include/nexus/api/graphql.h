/*
 * graphql.h -- the GraphQL endpoint: POST /graphql and GET /graphql.
 *
 * A request is {"query", "operationName", "variables"}: a JSON object body
 * for POST (parsed here: GraphQL answers its own errors, never
 * problem+json), query parameters of the same names for GET (variables as
 * JSON text). The document goes through the graphql layer (parse,
 * validate, operation, variables, depth and cost) and runs over the
 * catalog's resolvers (graphql_catalog.h).
 *
 * Answers are application/json: 200 with `data` (and `errors` when fields
 * failed) for an operation that ran; 400 with `errors` only for a request
 * that did not get that far (no `query`, a body that is not a JSON object,
 * `variables` not an object, a document that does not parse or validate, a
 * mutation, a bad variable, a limit exceeded). Authentication, 405, 413 and
 * 415 are the server's, as for every route (problem+json).
 *
 * GET answers of anonymous operations are cached like REST's catalog
 * reads (graphql_cache_key); an answer with errors is never stored.
 */
#ifndef NEXUS_API_GRAPHQL_H
#define NEXUS_API_GRAPHQL_H

#include "nexus/core/xmem.h"
#include "nexus/http/request.h"
#include "nexus/http/response.h"

#include <stdbool.h>

enum nx_err api_graphql(struct request *req, struct response *res);

/* The cache key of a GET /graphql (see http/cachekey.h): the staff flag,
 * operationName, the variables re-serialised with sorted keys, and the
 * document's tokens re-printed (white space, commas and comments make no
 * new key), hashed. False, so not cached, for a document that does not
 * lex, a named operation, one that names `me` anywhere (its answer depends
 * on the caller), or malformed parameters (the handler answers 400). */
bool graphql_cache_key(struct request *req, struct buf *out);

#endif
