/*
 * schema.h -- the read-only GraphQL schema, as static tables.
 *
 * Everything here is constant data (docs/GRAPHQL.md has the SDL): the
 * catalog types (Query, Product, Variant, Category, connections, facets,
 * User, the filter inputs and enums), the five built-in scalars, the
 * introspection types (__Schema, __Type, ...) and the directives @include,
 * @skip, @deprecated and @specifiedBy. There is no mutation or
 * subscription root.
 *
 * Type references are strings in GraphQL's own notation ("[Category!]!"),
 * read with the gql_tref_* functions: gql_tref_kind says whether the
 * outermost wrapper is NON_NULL, LIST or none; gql_tref_of strips it; and
 * gql_tref_named finds the named type inside all wrappers. Default values
 * are GraphQL literals as text ("20", "CREATED_AT_DESC"), as introspection
 * reports them.
 *
 * The meta-fields are found by gql_schema_field but are not in the types'
 * field lists (introspection does not list them): __typename on every
 * object type, __schema and __type on Query.
 *
 * Each field says what it costs (the cost rule of validate.h): FREE (a
 * value of the parent row, or static data), ROW (one more row per parent),
 * FIRST (a connection of `first` items), LIST (a list of at most
 * list_size items).
 */
#ifndef NEXUS_GRAPHQL_SCHEMA_H
#define NEXUS_GRAPHQL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* __TypeKind, in its order; LIST and NON_NULL are wrappers (gql_tref_*). */
enum gql_kind {
    GQL_KIND_SCALAR,
    GQL_KIND_OBJECT,
    GQL_KIND_INTERFACE,
    GQL_KIND_UNION,
    GQL_KIND_ENUM,
    GQL_KIND_INPUT_OBJECT,
    GQL_KIND_LIST,
    GQL_KIND_NON_NULL,
};

/* __DirectiveLocation, one bit each, in its order. */
enum gql_directive_location {
    GQL_LOC_QUERY = 1u << 0,
    GQL_LOC_MUTATION = 1u << 1,
    GQL_LOC_SUBSCRIPTION = 1u << 2,
    GQL_LOC_FIELD = 1u << 3,
    GQL_LOC_FRAGMENT_DEFINITION = 1u << 4,
    GQL_LOC_FRAGMENT_SPREAD = 1u << 5,
    GQL_LOC_INLINE_FRAGMENT = 1u << 6,
    GQL_LOC_VARIABLE_DEFINITION = 1u << 7,
    GQL_LOC_SCHEMA = 1u << 8,
    GQL_LOC_SCALAR = 1u << 9,
    GQL_LOC_OBJECT = 1u << 10,
    GQL_LOC_FIELD_DEFINITION = 1u << 11,
    GQL_LOC_ARGUMENT_DEFINITION = 1u << 12,
    GQL_LOC_INTERFACE = 1u << 13,
    GQL_LOC_UNION = 1u << 14,
    GQL_LOC_ENUM = 1u << 15,
    GQL_LOC_ENUM_VALUE = 1u << 16,
    GQL_LOC_INPUT_OBJECT = 1u << 17,
    GQL_LOC_INPUT_FIELD_DEFINITION = 1u << 18,
};
#define GQL_LOC_COUNT 19
/* The name of location bit i (0 .. GQL_LOC_COUNT-1), e.g. "FIELD". */
const char *gql_directive_location_name(unsigned i);

/* What a field costs (graphql/limits.h): nothing, one row, its `first`
 * (a connection), list_size items (a list without `first`), or, for a
 * connection's `edges`, what is selected on each edge, which the
 * connection counts `first` times. */
/* How many items a list without `first` counts as: not its bound (a
 * product has up to 100 variants, a category any number of children) but
 * what a storefront meets, so that a menu of categories, each with its
 * children and a few products, stays well under the limit. */
#define GQL_LIST_COUNTED 10
/* What `facets` costs: it counts over every match of its filter (at a
 * million products, hundreds of thousands of rows for a broad one, up to
 * the statement timeout), and an operation runs on one server thread, so
 * one operation holds at most 5: 25 made one anonymous request hold a
 * thread for seconds, and a few of them every thread. */
#define GQL_FACETS_COST 5000
enum gql_cost { GQL_COST_FREE, GQL_COST_ROW, GQL_COST_FIRST, GQL_COST_LIST, GQL_COST_EACH };

/* An argument, or a field of an input object. */
struct gql_input_def {
    const char *name;
    const char *description;
    const char *type;          /* "Int", "[String!]", ... */
    const char *default_value; /* a GraphQL literal, or NULL */
};

struct gql_field_def {
    const char *name;
    const char *description;
    const char *type;
    const struct gql_input_def *args;
    size_t arg_count;
    enum gql_cost cost;
    unsigned list_size;             /* GQL_COST_LIST: counted as this many items */
    const char *deprecation_reason; /* NULL: not deprecated */
};

struct gql_enum_value_def {
    const char *name;
    const char *description;
    const char *deprecation_reason;
};

struct gql_type_def {
    const char *name;
    enum gql_kind kind;
    const char *description;
    const struct gql_field_def *fields; /* OBJECT */
    size_t field_count;
    const struct gql_input_def *input_fields; /* INPUT_OBJECT */
    size_t input_field_count;
    const struct gql_enum_value_def *enum_values; /* ENUM */
    size_t enum_value_count;
    const char *specified_by_url; /* SCALAR, or NULL */
};

struct gql_directive_def {
    const char *name;
    const char *description;
    unsigned locations; /* enum gql_directive_location bits */
    const struct gql_input_def *args;
    size_t arg_count;
    bool repeatable;
};

/* Every named type, in the order introspection lists them. */
const struct gql_type_def *gql_schema_types(size_t *count);
const struct gql_directive_def *gql_schema_directives(size_t *count);
const char *gql_schema_description(void);
/* Lookups by name (n bytes, or the whole NUL-terminated string with
 * gql_schema_type); NULL when there is none. */
const struct gql_type_def *gql_schema_type(const char *name);
const struct gql_type_def *gql_schema_type_n(const char *name, size_t n);
const struct gql_type_def *gql_schema_query_type(void);
const struct gql_field_def *gql_schema_field(const struct gql_type_def *type, const char *name);
const struct gql_input_def *gql_schema_arg(const struct gql_input_def *args, size_t count,
                                           const char *name);
const struct gql_input_def *gql_schema_input_field(const struct gql_type_def *type,
                                                   const char *name);
const struct gql_enum_value_def *gql_schema_enum_value(const struct gql_type_def *type,
                                                       const char *name);
const struct gql_directive_def *gql_schema_directive(const char *name);

/* Object, interface or union: has fields to select. */
bool gql_kind_is_composite(enum gql_kind kind);
/* Scalar or enum: a leaf of a selection. */
bool gql_kind_is_leaf(enum gql_kind kind);
/* Scalar, enum or input object: may be a variable's or an argument's type. */
bool gql_kind_is_input(enum gql_kind kind);

/* ---- type references ---------------------------------------------------- */

struct gql_tref {
    const char *s;
    size_t len;
};

struct gql_tref gql_tref(const char *s);
/* GQL_KIND_NON_NULL, GQL_KIND_LIST, or the named type's kind (GQL_KIND_SCALAR
 * for a name that is not in the schema: check gql_tref_named). */
enum gql_kind gql_tref_kind(struct gql_tref t);
/* The wrapped type of a NON_NULL or LIST reference (t itself otherwise). */
struct gql_tref gql_tref_of(struct gql_tref t);
/* The named type inside all wrappers, or NULL when it is not in the schema. */
const struct gql_type_def *gql_tref_named(struct gql_tref t);
bool gql_tref_equal(struct gql_tref a, struct gql_tref b);

#endif
