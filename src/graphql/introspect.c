/*
 * introspect.c -- the introspection resolvers over the schema's tables (see
 * introspect.h).
 */
#include "nexus/graphql/introspect.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* NULL (null) for a NULL string. */
static json_t *str(const char *s) {
    return s ? json_string(s) : NULL;
}

static json_t *str_n(struct gql_tref t) {
    return json_stringn(t.s, t.len);
}

static bool include_deprecated(const struct gql_field_call *c) {
    return json_is_true(json_object_get(c->args, "includeDeprecated"));
}

static json_t *input_value(const struct gql_input_def *d) {
    return json_pack("{s:s, s:o*, s:s, s:o*, s:b, s:n}", "name", d->name, "description",
                     str(d->description), "type", d->type, "defaultValue", str(d->default_value),
                     "isDeprecated", 0, "deprecationReason");
}

static json_t *input_values(const struct gql_input_def *d, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, input_value(&d[i]));
    return a;
}

/* ---- __schema, __type ------------------------------------------------------- */

static json_t *query_schema(struct gql_field_call *c) {
    (void)c;
    return json_object();
}

static json_t *query_type(struct gql_field_call *c) {
    const struct gql_type_def *t =
        gql_schema_type(json_string_value(json_object_get(c->args, "name")));
    return t ? json_string(t->name) : NULL;
}

static json_t *schema_description(struct gql_field_call *c) {
    (void)c;
    return str(gql_schema_description());
}

static json_t *schema_types(struct gql_field_call *c) {
    (void)c;
    size_t n;
    const struct gql_type_def *t = gql_schema_types(&n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(t[i].name));
    return a;
}

static json_t *schema_query_type(struct gql_field_call *c) {
    (void)c;
    return json_string(gql_schema_query_type()->name);
}

static json_t *none(struct gql_field_call *c) {
    (void)c;
    return NULL;
}

static json_t *directive(const struct gql_directive_def *d) {
    json_t *locations = json_array();
    for (unsigned i = 0; i < GQL_LOC_COUNT; i++)
        if (d->locations & (1u << i))
            json_array_append_new(locations, json_string(gql_directive_location_name(i)));
    return json_pack("{s:s, s:o*, s:b, s:o, s:o}", "name", d->name, "description",
                     str(d->description), "isRepeatable", d->repeatable, "locations", locations,
                     "args", input_values(d->args, d->arg_count));
}

static json_t *schema_directives(struct gql_field_call *c) {
    (void)c;
    size_t n;
    const struct gql_directive_def *d = gql_schema_directives(&n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, directive(&d[i]));
    return a;
}

/* ---- __Type: the source is its reference as a string ------------------------- */

static struct gql_tref source_tref(const struct gql_field_call *c) {
    return (struct gql_tref){json_string_value(c->source), json_string_length(c->source)};
}

/* The named type, or NULL for a wrapper. */
static const struct gql_type_def *named(const struct gql_field_call *c) {
    struct gql_tref t = source_tref(c);
    enum gql_kind k = gql_tref_kind(t);
    return k == GQL_KIND_LIST || k == GQL_KIND_NON_NULL ? NULL : gql_tref_named(t);
}

static json_t *type_kind(struct gql_field_call *c) {
    static const char *const kinds[] = {"SCALAR", "OBJECT",       "INTERFACE", "UNION",
                                        "ENUM",   "INPUT_OBJECT", "LIST",      "NON_NULL"};
    return json_string(kinds[gql_tref_kind(source_tref(c))]);
}

static json_t *type_name(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    return t ? json_string(t->name) : NULL;
}

static json_t *type_description(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    return t ? str(t->description) : NULL;
}

static json_t *type_specified_by(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    return t ? str(t->specified_by_url) : NULL;
}

/* The schema has no OneOf input objects: false for every input object,
 * null for the other kinds (as the specification's __Type.isOneOf). */
static json_t *type_is_one_of(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    return t && t->kind == GQL_KIND_INPUT_OBJECT ? json_false() : NULL;
}

static json_t *field(const struct gql_field_def *f) {
    return json_pack("{s:s, s:o*, s:o, s:s, s:b, s:o*}", "name", f->name, "description",
                     str(f->description), "args", input_values(f->args, f->arg_count), "type",
                     f->type, "isDeprecated", f->deprecation_reason != NULL, "deprecationReason",
                     str(f->deprecation_reason));
}

static json_t *type_fields(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    if (!t || t->kind != GQL_KIND_OBJECT)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < t->field_count; i++)
        if (!t->fields[i].deprecation_reason || include_deprecated(c))
            json_array_append_new(a, field(&t->fields[i]));
    return a;
}

static json_t *type_interfaces(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    return t && t->kind == GQL_KIND_OBJECT ? json_array() : NULL;
}

static json_t *type_enum_values(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    if (!t || t->kind != GQL_KIND_ENUM)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < t->enum_value_count; i++) {
        const struct gql_enum_value_def *v = &t->enum_values[i];
        if (!v->deprecation_reason || include_deprecated(c))
            json_array_append_new(a, json_pack("{s:s, s:o*, s:b, s:o*}", "name", v->name,
                                               "description", str(v->description), "isDeprecated",
                                               v->deprecation_reason != NULL, "deprecationReason",
                                               str(v->deprecation_reason)));
    }
    return a;
}

/* Input fields are never deprecated in the tables: includeDeprecated
 * changes nothing. */
static json_t *type_input_fields(struct gql_field_call *c) {
    const struct gql_type_def *t = named(c);
    if (!t || t->kind != GQL_KIND_INPUT_OBJECT)
        return NULL;
    return input_values(t->input_fields, t->input_field_count);
}

static json_t *type_of_type(struct gql_field_call *c) {
    struct gql_tref t = source_tref(c);
    enum gql_kind k = gql_tref_kind(t);
    return k == GQL_KIND_LIST || k == GQL_KIND_NON_NULL ? str_n(gql_tref_of(t)) : NULL;
}

static const struct gql_resolver resolvers[] = {
    {"Query", "__schema", query_schema, NULL, NULL},
    {"Query", "__type", query_type, NULL, NULL},
    {"__Schema", "description", schema_description, NULL, NULL},
    {"__Schema", "types", schema_types, NULL, NULL},
    {"__Schema", "queryType", schema_query_type, NULL, NULL},
    {"__Schema", "mutationType", none, NULL, NULL},
    {"__Schema", "subscriptionType", none, NULL, NULL},
    {"__Schema", "directives", schema_directives, NULL, NULL},
    {"__Type", "kind", type_kind, NULL, NULL},
    {"__Type", "name", type_name, NULL, NULL},
    {"__Type", "description", type_description, NULL, NULL},
    {"__Type", "specifiedByURL", type_specified_by, NULL, NULL},
    {"__Type", "fields", type_fields, NULL, NULL},
    {"__Type", "interfaces", type_interfaces, NULL, NULL},
    {"__Type", "possibleTypes", none, NULL, NULL},
    {"__Type", "enumValues", type_enum_values, NULL, NULL},
    {"__Type", "inputFields", type_input_fields, NULL, NULL},
    {"__Type", "ofType", type_of_type, NULL, NULL},
    {"__Type", "isOneOf", type_is_one_of, NULL, NULL},
};

const struct gql_resolver *gql_introspection_resolvers(size_t *count) {
    *count = N(resolvers);
    return resolvers;
}
