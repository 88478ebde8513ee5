/*
 * schema.c -- the schema's tables and their lookups (see schema.h).
 *
 * Names follow GraphQL's conventions (camelCase fields, UPPER_CASE enum
 * values); values follow REST's: money is a decimal string with two
 * places, timestamps are RFC 3339 strings, ids are IDs.
 */
#include "nexus/graphql/schema.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define FIELD(n, t, d)                                                                             \
    { .name = n, .type = t, .description = d }
#define ROW(n, t, d)                                                                               \
    { .name = n, .type = t, .description = d, .cost = GQL_COST_ROW }
#define LIST(n, t, size, d)                                                                        \
    { .name = n, .type = t, .description = d, .cost = GQL_COST_LIST, .list_size = size }
#define EACH(n, t, d)                                                                              \
    { .name = n, .type = t, .description = d, .cost = GQL_COST_EACH }
#define WITH_ARGS(n, t, a, c, d)                                                                   \
    { .name = n, .type = t, .description = d, .args = a, .arg_count = N(a), .cost = c }
#define LIST_WITH_ARGS(n, t, a, size, d)                                                           \
    {                                                                                              \
        .name = n, .type = t, .description = d, .args = a, .arg_count = N(a),                      \
        .cost = GQL_COST_LIST, .list_size = size                                                   \
    }
#define ARG(n, t, def, d)                                                                          \
    { .name = n, .type = t, .default_value = def, .description = d }
#define VALUE(n, d)                                                                                \
    { .name = n, .description = d }
#define OBJECT(n, f, d)                                                                            \
    { .name = n, .kind = GQL_KIND_OBJECT, .description = d, .fields = f, .field_count = N(f) }
#define INPUT(n, f, d)                                                                             \
    {                                                                                              \
        .name = n, .kind = GQL_KIND_INPUT_OBJECT, .description = d, .input_fields = f,             \
        .input_field_count = N(f)                                                                  \
    }
#define ENUM(n, v, d)                                                                              \
    {                                                                                              \
        .name = n, .kind = GQL_KIND_ENUM, .description = d, .enum_values = v,                      \
        .enum_value_count = N(v)                                                                   \
    }
#define SCALAR(n, d)                                                                               \
    { .name = n, .kind = GQL_KIND_SCALAR, .description = d }

/* ---- Query ---------------------------------------------------------------- */

static const struct gql_input_def by_id_or_slug[] = {
    ARG("id", "ID", NULL, "The id. Give exactly one of id and slug."),
    ARG("slug", "String", NULL, "The slug. Give exactly one of id and slug."),
};

static const struct gql_input_def product_list_args[] = {
    ARG("filter", "ProductFilter", NULL, "The filters of GET /api/v1/products."),
    ARG("sort", "ProductSort", "CREATED_AT_DESC", "The order; ties are broken by id."),
    ARG("first", "Int", "20", "How many products, 1 to 100 (null: 20)."),
    ARG("after", "String", NULL,
        "The endCursor of the previous page. Bound to the sort and the filters, like REST's "
        "cursors."),
};

static const struct gql_input_def categories_args[] = {
    ARG("parent", "ID", NULL,
        "Absent or empty: every category (an empty value is ignored, as in REST). null: the "
        "root categories. An id or a slug: that category's children."),
};

static const struct gql_input_def facets_args[] = {
    ARG("filter", "ProductFilter", NULL, "The products to count."),
    ARG("priceBuckets", "[String!]", NULL,
        "Ascending bucket boundaries (decimal strings, at most 20): n boundaries give n "
        "buckets, the last without an upper end."),
};

static const struct gql_field_def query_fields[] = {
    WITH_ARGS("product", "Product", by_id_or_slug, GQL_COST_ROW,
              "One product; null when there is none or the caller may not see it."),
    WITH_ARGS("products", "ProductConnection!", product_list_args, GQL_COST_FIRST,
              "A page of products (active ones only; staff may ask for inactive ones)."),
    WITH_ARGS("category", "Category", by_id_or_slug, GQL_COST_ROW,
              "One category; null when there is none."),
    LIST_WITH_ARGS("categories", "[Category!]!", categories_args, GQL_LIST_COUNTED,
                   "Categories, by name."),
    LIST_WITH_ARGS(
        "facets", "Facets!", facets_args, GQL_FACETS_COST,
        "The counts of GET /api/v1/products/facets: each facet counted with every filter "
        "but its own."),
    ROW("me", "User", "The caller, when a valid Bearer token came with the request; else null."),
};

/* ---- Product and its parts -------------------------------------------------- */

static const struct gql_field_def product_fields[] = {
    FIELD("id", "ID!", NULL),
    FIELD("sku", "String!", "The first live variant's SKU (by position, then id)."),
    FIELD("name", "String!", NULL),
    FIELD("slug", "String!", NULL),
    FIELD("description", "String!", NULL),
    FIELD("price", "String!",
          "The lowest price among active variants: a decimal string with "
          "two places, e.g. \"19.90\"."),
    FIELD("currency", "String!", "ISO 4217, e.g. \"USD\"."),
    FIELD("stock", "Int!", "The sum over active variants."),
    FIELD("inStock", "Boolean!", "stock > 0"),
    FIELD("isActive", "Boolean!", NULL),
    ROW("category", "Category", NULL),
    FIELD("createdAt", "String!", "RFC 3339, UTC."),
    FIELD("updatedAt", "String!", "RFC 3339, UTC."),
    FIELD("priceRange", "PriceRange!", "Over active variants."),
    FIELD("options", "[ProductOption!]!",
          "The option names of the live variants (sorted), each with its values in variant "
          "order."),
    FIELD("variantCount", "Int!", "The variants the caller can see."),
    FIELD("attributes", "[Attribute!]!", "By key."),
    FIELD("images", "[Image!]!", "In display order."),
    LIST("variants", "[Variant!]!", GQL_LIST_COUNTED,
         "Live variants by position, then id; inactive ones only for staff."),
};

static const struct gql_field_def price_range_fields[] = {
    FIELD("min", "String!", NULL),
    FIELD("max", "String!", NULL),
};

static const struct gql_field_def product_option_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("values", "[String!]!", NULL),
};

static const struct gql_field_def variant_fields[] = {
    FIELD("id", "ID!", NULL),
    FIELD("productId", "ID!", NULL),
    FIELD("sku", "String!", NULL),
    FIELD("price", "String!", "A decimal string with two places."),
    FIELD("currency", "String!", "The product's."),
    FIELD("stock", "Int!", NULL),
    FIELD("inStock", "Boolean!", NULL),
    FIELD("options", "[VariantOption!]!", "Option name and value pairs, by name."),
    FIELD("isActive", "Boolean!", NULL),
    FIELD("position", "Int!", NULL),
    FIELD("createdAt", "String!", NULL),
    FIELD("updatedAt", "String!", NULL),
};

static const struct gql_field_def variant_option_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("value", "String!", NULL),
};

static const struct gql_field_def image_fields[] = {
    FIELD("url", "String!", "An absolute http or https URL."),
    FIELD("alt", "String!", NULL),
};

static const struct gql_field_def attribute_fields[] = {
    FIELD("key", "String!", NULL),
    FIELD("value", "String!",
          "The value as text, as the attribute filters compare it: a string as it is, a number "
          "in plain decimal as REST writes it (\"350\", \"1.5\", \"0.0000001\"), a boolean as "
          "\"true\" or \"false\"."),
    FIELD("type", "AttributeType!", "What the stored JSON value is."),
};

static const struct gql_enum_value_def attribute_type_values[] = {
    VALUE("STRING", NULL),
    VALUE("NUMBER", NULL),
    VALUE("BOOLEAN", NULL),
};

/* ---- Category ------------------------------------------------------------- */

static const struct gql_field_def category_fields[] = {
    FIELD("id", "ID!", NULL),
    FIELD("name", "String!", NULL),
    FIELD("slug", "String!", NULL),
    FIELD("description", "String!", NULL),
    FIELD("parentId", "ID", NULL),
    ROW("parent", "Category", NULL),
    LIST("children", "[Category!]!", GQL_LIST_COUNTED, "The direct children, by name."),
    WITH_ARGS("products", "ProductConnection!", product_list_args, GQL_COST_FIRST,
              "Products of this category and its descendants, with the other filters."),
    FIELD("createdAt", "String!", NULL),
    FIELD("updatedAt", "String!", NULL),
};

/* ---- connections ------------------------------------------------------------ */

static const struct gql_field_def product_connection_fields[] = {
    EACH("edges", "[ProductEdge!]!", NULL),
    FIELD("pageInfo", "PageInfo!", NULL),
    ROW("totalCount", "Int!",
        "How many products match the filters (one count query); with filter.q, at most "
        "SEARCH_TOTAL_CAP (10,000 unless configured), as REST's total."),
};

static const struct gql_field_def product_edge_fields[] = {
    FIELD("cursor", "String!", "A cursor that resumes after this product."),
    FIELD("node", "Product!", NULL),
};

static const struct gql_field_def page_info_fields[] = {
    FIELD("hasNextPage", "Boolean!", NULL),
    FIELD("hasPreviousPage", "Boolean!", "Always false: pages are read forwards."),
    FIELD("startCursor", "String", NULL),
    FIELD("endCursor", "String", "Pass it as `after` for the next page; null on the last."),
};

/* ---- facets --------------------------------------------------------------- */

static const struct gql_field_def facets_fields[] = {
    FIELD("total", "Int!", "Products matching every filter."),
    FIELD("categories", "[CategoryFacet!]!",
          "The direct children of the filtered category (the roots without one), each counting "
          "its descendants."),
    FIELD("price", "PriceFacet!", NULL),
    FIELD("inStock", "StockFacet!", NULL),
    FIELD("attributes", "[AttributeFacet!]!", "At most 20 keys, most frequent first."),
    FIELD("options", "[OptionFacet!]!", "At most 20 option names, most frequent first."),
};

static const struct gql_field_def category_facet_fields[] = {
    FIELD("id", "ID!", NULL),
    FIELD("slug", "String!", NULL),
    FIELD("name", "String!", NULL),
    FIELD("count", "Int!", NULL),
};

static const struct gql_field_def price_facet_fields[] = {
    FIELD("min", "String", "null when no product matches."),
    FIELD("max", "String", "null when no product matches."),
    FIELD("buckets", "[PriceBucket!]!", "Empty without priceBuckets."),
};

static const struct gql_field_def price_bucket_fields[] = {
    FIELD("min", "String!", NULL),
    FIELD("max", "String", "null for the last bucket."),
    FIELD("count", "Int!", NULL),
};

static const struct gql_field_def stock_facet_fields[] = {
    FIELD("inStock", "Int!", NULL),
    FIELD("outOfStock", "Int!", NULL),
};

static const struct gql_field_def attribute_facet_fields[] = {
    FIELD("key", "String!", NULL),
    FIELD("values", "[FacetValue!]!", "The 20 most frequent values (ties by value)."),
};

static const struct gql_field_def option_facet_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("values", "[FacetValue!]!", "The 20 most frequent values (ties by value)."),
};

static const struct gql_field_def facet_value_fields[] = {
    FIELD("value", "String!", NULL),
    FIELD("count", "Int!", NULL),
};

/* ---- User ------------------------------------------------------------------- */

static const struct gql_field_def user_fields[] = {
    FIELD("id", "ID!", NULL),
    FIELD("email", "String!", NULL),
    FIELD("name", "String!", NULL),
    FIELD("role", "Role!", NULL),
    FIELD("isActive", "Boolean!", NULL),
    FIELD("emailVerified", "Boolean!", NULL),
    FIELD("createdAt", "String!", NULL),
    FIELD("updatedAt", "String!", NULL),
};

static const struct gql_enum_value_def role_values[] = {
    VALUE("CUSTOMER", NULL),
    VALUE("STAFF", "Manages the catalog."),
    VALUE("ADMIN", "Manages users too."),
};

/* ---- inputs and enums ------------------------------------------------------ */

static const struct gql_input_def product_filter_fields[] = {
    ARG("category", "ID", NULL, "A category id or slug; its descendants' products are included."),
    ARG("q", "String", NULL, "Words matched anywhere in the name or description."),
    ARG("minPrice", "String", NULL, "A decimal string."),
    ARG("maxPrice", "String", NULL, "A decimal string."),
    ARG("inStock", "Boolean", NULL, NULL),
    ARG("currency", "String", NULL, "ISO 4217."),
    ARG("sku", "String", NULL,
        "The product of which a live variant has exactly this SKU (case-sensitive; REST's "
        "sku)."),
    ARG("includeInactive", "Boolean", "false", "Staff only; ignored for others."),
    ARG("attributes", "[AttributeFilter!]", NULL,
        "All must hold (REST's attr.*). With options, at most 10 conditions: each values, min "
        "and max is one."),
    ARG("options", "[OptionFilter!]", NULL,
        "All must hold on the same active variant (REST's option.*); each values is one of the "
        "10 conditions."),
};

static const struct gql_input_def attribute_filter_fields[] = {
    ARG("key", "String!", NULL, "1 to 40 of a-z, 0-9 and _, starting with a letter."),
    ARG("values", "[String!]", NULL, "The value's text equals one of these."),
    ARG("min", "Float", NULL,
        "A numeric value at least this; written out as a decimal, at most 40 characters "
        "(as REST's attr.<key>.min)."),
    ARG("max", "Float", NULL,
        "A numeric value at most this; written out as a decimal, at most 40 characters "
        "(as REST's attr.<key>.max)."),
};

static const struct gql_input_def option_filter_fields[] = {
    ARG("name", "String!", NULL, NULL),
    ARG("values", "[String!]!", NULL, "The variant's value is one of these (any case)."),
};

static const struct gql_enum_value_def product_sort_values[] = {
    VALUE("CREATED_AT_DESC", "Newest first (the default)."),
    VALUE("CREATED_AT_ASC", NULL),
    VALUE("PRICE_ASC", NULL),
    VALUE("PRICE_DESC", NULL),
    VALUE("NAME_ASC", NULL),
    VALUE("NAME_DESC", NULL),
};

/* ---- introspection ----------------------------------------------------------- */

static const struct gql_input_def include_deprecated[] = {
    ARG("includeDeprecated", "Boolean", "false", NULL),
};

static const struct gql_field_def schema_fields[] = {
    FIELD("description", "String", NULL),
    FIELD("types", "[__Type!]!", "Every type of the schema."),
    FIELD("queryType", "__Type!", NULL),
    FIELD("mutationType", "__Type", NULL),
    FIELD("subscriptionType", "__Type", NULL),
    FIELD("directives", "[__Directive!]!", NULL),
};

static const struct gql_field_def type_fields[] = {
    FIELD("kind", "__TypeKind!", NULL),
    FIELD("name", "String", NULL),
    FIELD("description", "String", NULL),
    FIELD("specifiedByURL", "String", NULL),
    WITH_ARGS("fields", "[__Field!]", include_deprecated, GQL_COST_FREE, NULL),
    FIELD("interfaces", "[__Type!]", NULL),
    FIELD("possibleTypes", "[__Type!]", NULL),
    WITH_ARGS("enumValues", "[__EnumValue!]", include_deprecated, GQL_COST_FREE, NULL),
    WITH_ARGS("inputFields", "[__InputValue!]", include_deprecated, GQL_COST_FREE, NULL),
    FIELD("ofType", "__Type", NULL),
    FIELD("isOneOf", "Boolean", "True for a OneOf input object; this schema has none."),
};

static const struct gql_field_def field_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("description", "String", NULL),
    WITH_ARGS("args", "[__InputValue!]!", include_deprecated, GQL_COST_FREE, NULL),
    FIELD("type", "__Type!", NULL),
    FIELD("isDeprecated", "Boolean!", NULL),
    FIELD("deprecationReason", "String", NULL),
};

static const struct gql_field_def input_value_fields[] = {
    FIELD("name", "String!", NULL),          FIELD("description", "String", NULL),
    FIELD("type", "__Type!", NULL),          FIELD("defaultValue", "String", "A GraphQL literal."),
    FIELD("isDeprecated", "Boolean!", NULL), FIELD("deprecationReason", "String", NULL),
};

static const struct gql_field_def enum_value_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("description", "String", NULL),
    FIELD("isDeprecated", "Boolean!", NULL),
    FIELD("deprecationReason", "String", NULL),
};

static const struct gql_field_def directive_fields[] = {
    FIELD("name", "String!", NULL),
    FIELD("description", "String", NULL),
    FIELD("isRepeatable", "Boolean!", NULL),
    FIELD("locations", "[__DirectiveLocation!]!", NULL),
    WITH_ARGS("args", "[__InputValue!]!", include_deprecated, GQL_COST_FREE, NULL),
};

static const struct gql_enum_value_def type_kind_values[] = {
    VALUE("SCALAR", NULL), VALUE("OBJECT", NULL),   VALUE("INTERFACE", NULL),
    VALUE("UNION", NULL),  VALUE("ENUM", NULL),     VALUE("INPUT_OBJECT", NULL),
    VALUE("LIST", NULL),   VALUE("NON_NULL", NULL),
};

static const struct gql_enum_value_def directive_location_values[GQL_LOC_COUNT] = {
    VALUE("QUERY", NULL),
    VALUE("MUTATION", NULL),
    VALUE("SUBSCRIPTION", NULL),
    VALUE("FIELD", NULL),
    VALUE("FRAGMENT_DEFINITION", NULL),
    VALUE("FRAGMENT_SPREAD", NULL),
    VALUE("INLINE_FRAGMENT", NULL),
    VALUE("VARIABLE_DEFINITION", NULL),
    VALUE("SCHEMA", NULL),
    VALUE("SCALAR", NULL),
    VALUE("OBJECT", NULL),
    VALUE("FIELD_DEFINITION", NULL),
    VALUE("ARGUMENT_DEFINITION", NULL),
    VALUE("INTERFACE", NULL),
    VALUE("UNION", NULL),
    VALUE("ENUM", NULL),
    VALUE("ENUM_VALUE", NULL),
    VALUE("INPUT_OBJECT", NULL),
    VALUE("INPUT_FIELD_DEFINITION", NULL),
};

/* ---- the types ------------------------------------------------------------ */

static const struct gql_type_def types[] = {
    OBJECT("Query", query_fields, "The catalog, read-only."),
    OBJECT("Product", product_fields, "A product, as GET /api/v1/products/{id} answers it."),
    OBJECT("PriceRange", price_range_fields, "Lowest and highest price of active variants."),
    OBJECT("ProductOption", product_option_fields, "An option name and its values."),
    OBJECT("Variant", variant_fields, "A sellable variant of a product."),
    OBJECT("VariantOption", variant_option_fields, "One option of a variant."),
    OBJECT("Image", image_fields, "An image URL and its alternative text."),
    OBJECT("Attribute", attribute_fields, "One key of a product's attributes."),
    ENUM("AttributeType", attribute_type_values, "The JSON type of an attribute's value."),
    OBJECT("Category", category_fields, "A category of the catalog tree."),
    OBJECT("ProductConnection", product_connection_fields, "A page of products."),
    OBJECT("ProductEdge", product_edge_fields, "A product and its cursor."),
    OBJECT("PageInfo", page_info_fields, "Where the page ends."),
    OBJECT("Facets", facets_fields, "Counts for a storefront's filter sidebar."),
    OBJECT("CategoryFacet", category_facet_fields, NULL),
    OBJECT("PriceFacet", price_facet_fields, NULL),
    OBJECT("PriceBucket", price_bucket_fields, "Prices in [min, max)."),
    OBJECT("StockFacet", stock_facet_fields, NULL),
    OBJECT("AttributeFacet", attribute_facet_fields, NULL),
    OBJECT("OptionFacet", option_facet_fields, NULL),
    OBJECT("FacetValue", facet_value_fields, NULL),
    OBJECT("User", user_fields, "An account; never its password hash or tokens."),
    ENUM("Role", role_values, "Each role has the rights of the one before it."),
    INPUT("ProductFilter", product_filter_fields, "The product list's filters, all combined."),
    INPUT("AttributeFilter", attribute_filter_fields,
          "Values, a numeric range, or both, of one attribute key."),
    INPUT("OptionFilter", option_filter_fields, "Values of one variant option."),
    ENUM("ProductSort", product_sort_values, "The product list's orders."),
    SCALAR("Int", "A signed 32-bit integer."),
    SCALAR("Float", "A double-precision floating-point number."),
    SCALAR("String", "UTF-8 text."),
    SCALAR("Boolean", "true or false."),
    SCALAR("ID", "A unique identifier, written as a string; an integer is accepted as input."),
    OBJECT("__Schema", schema_fields, "A GraphQL service's type system."),
    OBJECT("__Type", type_fields, "A type of the schema, or a list or non-null wrapper."),
    OBJECT("__Field", field_fields, "A field of an object type."),
    OBJECT("__InputValue", input_value_fields, "An argument or an input object's field."),
    OBJECT("__EnumValue", enum_value_fields, "One value of an enum."),
    OBJECT("__Directive", directive_fields, "A directive the service accepts."),
    ENUM("__TypeKind", type_kind_values, "What kind of type a __Type is."),
    ENUM("__DirectiveLocation", directive_location_values, "Where a directive may be used."),
};

/* ---- directives ------------------------------------------------------------ */

static const struct gql_input_def if_arg[] = {ARG("if", "Boolean!", NULL, NULL)};
static const struct gql_input_def reason_arg[] = {
    ARG("reason", "String", "\"No longer supported\"", NULL),
};
static const struct gql_input_def url_arg[] = {ARG("url", "String!", NULL, NULL)};

#define WHERE_SELECTED (GQL_LOC_FIELD | GQL_LOC_FRAGMENT_SPREAD | GQL_LOC_INLINE_FRAGMENT)

static const struct gql_directive_def directives[] = {
    {"include", "Include this only when `if` is true.", WHERE_SELECTED, if_arg, N(if_arg), false},
    {"skip", "Skip this when `if` is true.", WHERE_SELECTED, if_arg, N(if_arg), false},
    {"deprecated", "Marks an element of the schema as no longer supported.",
     GQL_LOC_FIELD_DEFINITION | GQL_LOC_ARGUMENT_DEFINITION | GQL_LOC_INPUT_FIELD_DEFINITION |
         GQL_LOC_ENUM_VALUE,
     reason_arg, N(reason_arg), false},
    {"specifiedBy", "The specification of a custom scalar.", GQL_LOC_SCALAR, url_arg, N(url_arg),
     false},
};

/* ---- meta-fields --------------------------------------------------------- */

static const struct gql_input_def type_name_arg[] = {ARG("name", "String!", NULL, NULL)};
static const struct gql_field_def typename_field =
    FIELD("__typename", "String!", "The name of the object's type.");
static const struct gql_field_def schema_field = FIELD("__schema", "__Schema!", NULL);
static const struct gql_field_def type_field =
    WITH_ARGS("__type", "__Type", type_name_arg, GQL_COST_FREE, NULL);

/* ---- lookups --------------------------------------------------------------- */

const struct gql_type_def *gql_schema_types(size_t *count) {
    *count = N(types);
    return types;
}

const struct gql_directive_def *gql_schema_directives(size_t *count) {
    *count = N(directives);
    return directives;
}

const char *gql_schema_description(void) {
    return "The Nexus catalog: products, variants, categories, facets and the caller's account.";
}

const char *gql_directive_location_name(unsigned i) {
    return i < GQL_LOC_COUNT ? directive_location_values[i].name : NULL;
}

/* Called for every value the executor completes (type references are
 * text): the first character rules out most types without a strlen. */
const struct gql_type_def *gql_schema_type_n(const char *name, size_t n) {
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < N(types); i++) {
        const char *t = types[i].name;
        if (t[0] == name[0] && strncmp(t, name, n) == 0 && t[n] == '\0')
            return &types[i];
    }
    return NULL;
}

const struct gql_type_def *gql_schema_type(const char *name) {
    return gql_schema_type_n(name, strlen(name));
}

const struct gql_type_def *gql_schema_query_type(void) {
    return &types[0];
}

const struct gql_field_def *gql_schema_field(const struct gql_type_def *type, const char *name) {
    if (type->kind != GQL_KIND_OBJECT)
        return NULL;
    if (strcmp(name, "__typename") == 0)
        return &typename_field;
    if (type == gql_schema_query_type() && strcmp(name, "__schema") == 0)
        return &schema_field;
    if (type == gql_schema_query_type() && strcmp(name, "__type") == 0)
        return &type_field;
    for (size_t i = 0; i < type->field_count; i++)
        if (strcmp(type->fields[i].name, name) == 0)
            return &type->fields[i];
    return NULL;
}

const struct gql_input_def *gql_schema_arg(const struct gql_input_def *args, size_t count,
                                           const char *name) {
    for (size_t i = 0; i < count; i++)
        if (strcmp(args[i].name, name) == 0)
            return &args[i];
    return NULL;
}

const struct gql_input_def *gql_schema_input_field(const struct gql_type_def *type,
                                                   const char *name) {
    return gql_schema_arg(type->input_fields, type->input_field_count, name);
}

const struct gql_enum_value_def *gql_schema_enum_value(const struct gql_type_def *type,
                                                       const char *name) {
    for (size_t i = 0; i < type->enum_value_count; i++)
        if (strcmp(type->enum_values[i].name, name) == 0)
            return &type->enum_values[i];
    return NULL;
}

const struct gql_directive_def *gql_schema_directive(const char *name) {
    for (size_t i = 0; i < N(directives); i++)
        if (strcmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

bool gql_kind_is_composite(enum gql_kind kind) {
    return kind == GQL_KIND_OBJECT || kind == GQL_KIND_INTERFACE || kind == GQL_KIND_UNION;
}

bool gql_kind_is_leaf(enum gql_kind kind) {
    return kind == GQL_KIND_SCALAR || kind == GQL_KIND_ENUM;
}

bool gql_kind_is_input(enum gql_kind kind) {
    return kind == GQL_KIND_SCALAR || kind == GQL_KIND_ENUM || kind == GQL_KIND_INPUT_OBJECT;
}

/* ---- type references --------------------------------------------------------- */

struct gql_tref gql_tref(const char *s) {
    return (struct gql_tref){s, strlen(s)};
}

enum gql_kind gql_tref_kind(struct gql_tref t) {
    if (t.len > 0 && t.s[t.len - 1] == '!')
        return GQL_KIND_NON_NULL;
    if (t.len > 0 && t.s[0] == '[')
        return GQL_KIND_LIST;
    const struct gql_type_def *named = gql_schema_type_n(t.s, t.len);
    return named ? named->kind : GQL_KIND_SCALAR;
}

struct gql_tref gql_tref_of(struct gql_tref t) {
    enum gql_kind k = gql_tref_kind(t);
    if (k == GQL_KIND_NON_NULL)
        return (struct gql_tref){t.s, t.len - 1};
    if (k == GQL_KIND_LIST && t.len >= 2)
        return (struct gql_tref){t.s + 1, t.len - 2};
    return t;
}

const struct gql_type_def *gql_tref_named(struct gql_tref t) {
    size_t start = 0, end = t.len;
    while (start < end && t.s[start] == '[')
        start++;
    while (end > start && (t.s[end - 1] == '!' || t.s[end - 1] == ']'))
        end--;
    return gql_schema_type_n(t.s + start, end - start);
}

bool gql_tref_equal(struct gql_tref a, struct gql_tref b) {
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}
