/*
 * exec.h -- the execution core (specification section 6) over a validated
 * document: the fields of a selection set (CollectFields: fragments, inline
 * fragments by type condition, @skip and @include with literal or variable
 * arguments), each field's arguments (coerce.h, with the schema's
 * defaults), its value from a resolver, and the completion of the value
 * against the field's type, written as JSON text in document order.
 *
 * Values are jansson values. The parent of a field (its "source") is the
 * value its own field resolved to; the root's is gql_exec.root. A field's
 * value comes from the first resolver of gql_exec.resolvers, then of the
 * introspection table (introspect.h), whose type and field names match;
 * without one, from the source object's member of the field's name (so a
 * row loaded as a JSON object answers its scalar fields by itself), or,
 * for an alias of a field with a batch function, the alias's own member
 * (gql_field_call.member), so that aliases with different arguments do
 * not share one.
 * __typename is the executor's own.
 *
 * The fields of each selection set (CollectFields, with their resolvers
 * and coerced arguments) are collected once per request, and for an
 * operation without variables once per document and resolver table: kept
 * with the document (parse.h), they serve its next requests.
 *
 * Batching: when a list of objects is completed, each field of the items'
 * selection set that has a `batch` function is given all the items at
 * once, before any item's fields resolve; it may load what every item
 * needs in one query and store it in the items (then the default or its
 * own `resolve` picks it up per item). The objects the items hold in
 * fields without a resolve function are batched as the next level: one
 * object each (a connection's edges' nodes) or lists of them (the children
 * a batch function stored), all the lists' items together, once; such a
 * list is not batched again when it completes. So nested lists cost one
 * query per level, not one per parent. An object that no batched level
 * brought (a root field's value, a single parent) is a level of its own,
 * batched alone before its fields resolve, so a batch function is the one
 * place that loads its field. (A list is known by its address:
 * a resolver should not hand the same array to two places that select
 * different batched fields.) A batch that fails fails the field in each of
 * its items, as if each item's resolver had: one error per item, at its
 * own path (graphql-js, resolving item by item, answers the same).
 *
 * Errors ("Handling Field Errors"): a resolver that fails (gql_field_fail),
 * a value that its type cannot represent, or null for a non-null type is
 * one error (GQL_CODE_FIELD, or the code the resolver gives) with the
 * field's location and its response `path`; the field becomes null, or,
 * when its type is non-null, its parent does, up to the nearest nullable
 * field (the whole `data` at the root).
 *
 * Depth and cost are bounded before execution (limits.h): the executor
 * recurses once per level of fields. The response is bounded as it is
 * made: past values_max (GQL_EXEC_VALUES_MAX) fields and list items (introspection
 * costs nothing but can select types' fields' types' fields... with
 * aliases), execution stops with one error (GQL_CODE_LIMIT) and `data` is
 * null.
 */
#ifndef NEXUS_GRAPHQL_EXEC_H
#define NEXUS_GRAPHQL_EXEC_H

#include "nexus/core/xmem.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/resolve.h"

#include <jansson.h>

/* About 25,000 rows (the cost bound) of 20 fields each. */
#define GQL_EXEC_VALUES_MAX 500000

struct gql_exec {
    const struct gql_document *doc;
    const struct gql_definition *operation; /* a query (validated) */
    const json_t *variables;                /* gql_coerce_variables' result */
    /* A table that is never changed or freed (a static one): each thread
     * remembers which of its entries resolves each field definition. */
    const struct gql_resolver *resolvers;
    size_t resolver_count;
    void *ctx;
    json_t *root;      /* the source of Query's fields (may be NULL) */
    size_t values_max; /* 0: GQL_EXEC_VALUES_MAX */
};

/* The operation's `data` appended to out as compact JSON (the bytes
 * json_dumps writes for the same values, members in document order), or
 * `null` when a non-null root field failed. Field errors are added to
 * errs. No tree of values is built for the answer. */
void gql_execute_text(const struct gql_exec *exec, struct gql_errors *errs, struct buf *out);

/* The same as a new value: an object, or json null. */
json_t *gql_execute(const struct gql_exec *exec, struct gql_errors *errs);

#endif
