/*
 * introspect.h -- the resolvers of the introspection system (specification
 * 4.2 and 4.5, with graphql-js 16's additions: `includeDeprecated` on args
 * and inputFields, `isDeprecated` on __InputValue, `specifiedByURL`,
 * `isRepeatable`, the schema's `description`) over the schema's tables.
 *
 * The executor (exec.h) uses them after the caller's resolvers. Their
 * values: __schema an empty object; a __Type its type reference as a
 * string ("[Category!]!"), each field resolved from it; a __Field,
 * __InputValue, __EnumValue or __Directive an object of its fields' values
 * (a `type` member is a __Type's string). defaultValue is the literal's
 * text as the tables hold it. There is no mutation or subscription type,
 * no interface or union (interfaces is [] on object types, possibleTypes
 * null).
 */
#ifndef NEXUS_GRAPHQL_INTROSPECT_H
#define NEXUS_GRAPHQL_INTROSPECT_H

#include "nexus/graphql/resolve.h"

const struct gql_resolver *gql_introspection_resolvers(size_t *count);

#endif
