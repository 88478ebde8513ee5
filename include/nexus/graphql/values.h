/*
 * values.h -- literal values against input types (specification 5.6:
 * Values of Correct Type, Input Object Field Names, Uniqueness and
 * Required Fields), and the type relations of variables (5.8.5).
 *
 * A literal is checked against a type reference of the schema (schema.h):
 * Int (a 32-bit integer literal), Float (an Int or Float literal, finite),
 * String, Boolean, ID (a String or an Int literal), enum values that the
 * enum has, input objects (known fields, each once, the required ones
 * given), lists (a list literal, or one item, which input coercion makes
 * a list of one), null for a nullable type only. Each fault is one error
 * (GQL_CODE_VALIDATION) at the faulty literal.
 *
 * Variables inside a literal are not checked here: each is handed to
 * on_variable with the type its position expects and whether that
 * position has a default value, for "All Variable Usages Are Allowed".
 */
#ifndef NEXUS_GRAPHQL_VALUES_H
#define NEXUS_GRAPHQL_VALUES_H

#include "nexus/core/xmem.h"
#include "nexus/graphql/arena.h"
#include "nexus/graphql/error.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/schema.h"

typedef void (*gql_variable_fn)(void *ctx, const struct gql_value *variable,
                                struct gql_tref expected, bool has_default);

struct gql_value_check {
    struct gql_errors *errs;
    gql_variable_fn on_variable; /* may be NULL */
    void *ctx;
};

void gql_check_literal(const struct gql_value_check *c, const struct gql_value *v,
                       struct gql_tref type, bool has_default);

/* The text of a variable's type ("[Int!]!"), in the arena. */
const char *gql_type_text(struct gql_arena *a, const struct gql_type_ref *t);

/* AreTypesCompatible: may a variable of type var be used where loc is
 * expected (after the caller's allowance for defaults, 5.8.5). */
bool gql_types_compatible(struct gql_tref var, struct gql_tref loc);

/* A literal as GraphQL source, cut after about max bytes ("..."). */
void gql_print_value(struct buf *b, const struct gql_value *v, size_t max);

/* The 32-bit integer an Int literal spells; false when out of range. */
bool gql_int_literal(const char *text, long long *out);

#endif
