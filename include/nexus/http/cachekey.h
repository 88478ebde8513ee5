/*
 * cachekey.h -- the cache key of a public catalog read.
 *
 * A key names what the answer depends on and nothing else: who it is for
 * (staff see more), the route, its path parameters, and the query
 * parameters its handler reads, in the route's fixed order, with values in
 * a canonical spelling where two spellings are the same request
 * ("in_stock=true" and "in_stock=TRUE" are not: the second is a 400).
 * Unknown parameters, their order and spellings that do not change the
 * answer therefore make no new key, so a client cannot grow the cache by
 * varying them.
 *
 * Every cacheable route has a row in nx_cache_keys (api/routes.c) naming
 * each query parameter its handler reads; the server refuses to start
 * without one (cache_keys_validate), and request_query aborts when a
 * handler of a cacheable route reads a parameter its row does not name,
 * so a new parameter cannot silently share entries with its absence.
 */
#ifndef NEXUS_HTTP_CACHEKEY_H
#define NEXUS_HTTP_CACHEKEY_H

#include "nexus/core/xmem.h"
#include "nexus/http/keyparam.h"
#include "nexus/http/router.h"

#include <stdbool.h>
#include <stddef.h>

/* A route's own key (a GraphQL document is keyed on its normal form, not
 * on its text): appended to out; false when the request must not be
 * cached. */
typedef bool (*cache_key_fn)(struct request *req, struct buf *out);

struct cache_key_spec {
    route_handler handler; /* the cacheable route this row describes */
    const struct key_param *params;
    size_t count;
    cache_key_fn build; /* NULL: built from params (cache_key_build) */
};

/* The rows, defined in api/routes.c next to the route table. */
extern const struct cache_key_spec nx_cache_keys[];
extern const size_t nx_cache_key_count;

/* The row of route r, or NULL. */
const struct cache_key_spec *cache_key_spec(const struct route *r);

/* Check that every cacheable row of a route table has a key row. */
bool cache_keys_validate(const struct route *routes, size_t n, char *err, size_t errcap);

/* What a key is built from. */
struct cache_key_input {
    bool staff;
    const char *pattern; /* the route's pattern */
    const struct slice *path_params;
    size_t path_param_count;
    const struct query_arg *args; /* the query, as sent */
    size_t arg_count;
};

/* Append the key to out. False when the request must not be cached: a
 * parameter of spec is repeated (the handler answers 400). */
bool cache_key_build(struct buf *out, const struct cache_key_spec *spec,
                     const struct cache_key_input *in);

#endif
