/*
 * limits.h -- the depth and cost of an operation, checked before it runs.
 *
 * After validation, the executor picks the operation (gql_operation,
 * validate.h) and checks these limits on it with the request's variables:
 *   depth: the longest path of nested fields, fragments expanded, at most
 *     GQL_DEPTH_MAX; the introspection fields (__schema, __type and all
 *     below them) are measured apart, at most GQL_INTROSPECTION_DEPTH_MAX,
 *     since the introspection query of GraphQL clients nests type references
 *     deeply (graphql-js 16's getIntrospectionQuery is 15 fields deep).
 *   cost: each field that returns a connection costs its `first` (default
 *     20), and what is selected on each of its edges counts `first` times
 *     (what is selected on the connection itself, once); each list without
 *     `first` (variants, children, categories) counts as GQL_LIST_COUNTED
 *     items, what is below it that many times; each field that reads one
 *     more row (product, category, parent, me, facets, totalCount) costs 1;
 *     values of the parent row and introspection cost nothing. @skip and
 *     @include are not applied (the cost is a bound); every occurrence of a
 *     field counts. At most GQL_COST_MAX.
 * Both are GQL_CODE_LIMIT errors at the operation.
 */
#ifndef NEXUS_GRAPHQL_LIMITS_H
#define NEXUS_GRAPHQL_LIMITS_H

#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"

#include <limits.h>
#include <stdbool.h>

#define GQL_DEPTH_MAX               10
#define GQL_INTROSPECTION_DEPTH_MAX 20
#define GQL_COST_MAX                25000

/* The integer a variable holds, for `first: $n`: true and *value when the
 * request gives one; true and GQL_VARIABLE_NULL when it gives null (the
 * argument's default is used, as execution uses it); false when it gives
 * none (the variable's default, then the argument's, is used). */
#define GQL_VARIABLE_NULL LLONG_MIN
typedef bool (*gql_int_variable_fn)(void *ctx, const char *name, long long *value);

struct gql_measure {
    unsigned depth;               /* catalog fields */
    unsigned introspection_depth; /* __schema, __type and below */
    unsigned long long cost;
};

/* Measure a validated operation; false with a GQL_CODE_LIMIT error when
 * it is deeper or costs more than the limits. var may be NULL. The
 * measure of an operation without variables is kept with doc (parse.h)
 * and not worked out again. */
bool gql_check_limits(const struct gql_document *doc, const struct gql_definition *op,
                      gql_int_variable_fn var, void *ctx, struct gql_measure *out,
                      struct gql_errors *errs);

#endif
