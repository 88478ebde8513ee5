/*
 * test_graphql_validate.c -- the validation rules of the GraphQL
 * specification's section 5 (graphql/validate) against the catalog schema,
 * and the depth and cost limits (graphql/limits).
 *
 * The cases follow the specification's own examples for each rule, valid
 * and invalid, with its example types (Dog, Cat, ...) replaced by the
 * catalog's (Product, User, ...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../common/gql_introspection_query.h"
#include "nexus/core/xmem.h"
#include "nexus/graphql/limits.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/schema.h"
#include "nexus/graphql/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule_case {
    const char *doc;
    const char *error; /* a part of the one expected error's message; NULL: valid */
};

/* Parse and validate doc; the errors are left in errs. */
static bool validate(const char *doc, struct gql_errors *errs) {
    struct gql_document *d = gql_parse(doc, strlen(doc), errs);
    if (!d)
        fail_msg("does not parse: %s\n%s", errs->items[0].message, doc);
    bool ok = gql_validate(d, errs);
    gql_document_free(d);
    return ok;
}

static void run_cases(const struct rule_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct gql_errors errs = {0};
        bool ok = validate(cases[i].doc, &errs);
        if (!cases[i].error && !ok)
            fail_msg("case %zu should be valid: %s\n%s", i, errs.items[0].message, cases[i].doc);
        if (cases[i].error && ok)
            fail_msg("case %zu should fail with \"%s\"\n%s", i, cases[i].error, cases[i].doc);
        bool found = !cases[i].error;
        for (size_t k = 0; k < errs.count; k++) {
            found = found || strstr(errs.items[k].message, cases[i].error) != NULL;
            assert_true(errs.items[k].loc_count > 0);
        }
        if (!found)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, errs.items[0].message, cases[i].error);
        if (cases[i].error && errs.count != 1)
            fail_msg("case %zu: %zu errors, the first \"%s\", the second \"%s\"", i, errs.count,
                     errs.items[0].message, errs.items[1].message);
        gql_errors_clear(&errs);
    }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof *cases)

/* ---- 5.1, 5.2: documents and operations ----------------------------------- */

static void test_executable_definitions(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"query getProductName { product(id: 1) { name } }", NULL},
        {"query { me { id } }\ntype Dog { name: String }",
         "The \"Dog\" definition is not executable."},
        {"{ me { id } }\nextend type Query { color: String }",
         "The \"Query\" definition is not executable."},
        {"{ me { id } }\n\"described\" scalar Date", "The \"Date\" definition is not executable."},
        {"{ me { id } }\nschema { query: Query }", "The schema definition is not executable."},
        {"{ me { id } }\ndirective @tag on FIELD", "The \"tag\" definition is not executable."},
    };
    RUN(cases);
}

static void test_operation_names(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"query getProduct { product(id: 1) { name } }\n"
         "query getCategory { category(id: 1) { name } }",
         NULL},
        {"query getName { me { name } }\nquery getName { me { email } }",
         "There can be only one operation named \"getName\"."},
        {"{ me { id } }", NULL},
        {"{ me { id } }\nquery getName { me { name } }",
         "This anonymous operation must be the only defined operation."},
    };
    RUN(cases);
}

static void test_mutations_and_subscriptions_are_refused(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"mutation { createProduct { id } }", "execute mutation operations"},
        {"subscription sub { newProduct { id } }", "execute subscription operations"},
    };
    RUN(cases);
    struct gql_errors errs = {0};
    assert_false(validate("query dogOperation { me { id } }\nmutation dogOperation { x }", &errs));
    assert_int_equal(errs.count, 2); /* the name, and the mutation */
    gql_errors_clear(&errs);
}

/* ---- 5.3: fields ------------------------------------------------------------ */

static void test_field_selections(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ product(id: 1) { meowVolume } }",
         "Cannot query field \"meowVolume\" on type \"Product\"."},
        {"{ product(id: 1) { barkVolume: kind } }",
         "Cannot query field \"kind\" on type \"Product\"."},
        {"{ product(id: 1) { ...f } }\nfragment f on Product { name sku }", NULL},
        {"{ product(id: 1) { kind: name } }", NULL},
        {"{ __typename product(id: 1) { __typename category { __typename } } }", NULL},
        {"{ product(id: 1) { __schema { description } } }",
         "Cannot query field \"__schema\" on type \"Product\"."},
        {"{ __type(name: \"Product\") { name fields { name } } }", NULL},
    };
    RUN(cases);
}

static void test_field_selection_merging(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ product(id: 1) { ...f } }\nfragment f on Product { name name }", NULL},
        {"{ product(id: 1) { ...f } }\nfragment f on Product { otherName: name otherName: name }",
         NULL},
        {"{ product(id: 1) { ...f } }\nfragment f on Product { name: sku name }",
         "Fields \"name\" conflict because \"sku\" and \"name\" are different fields."},
        {"{ a: products(first: 10) { totalCount } a: products(first: 10) { totalCount } }", NULL},
        {"query ($n: Int) { a: products(first: $n) { totalCount } a: products(first: $n) { "
         "totalCount } }",
         NULL},
        {"{ a: products(first: 10) { totalCount } a: products(first: 5) { totalCount } }",
         "Fields \"a\" conflict because they have differing arguments."},
        {"query ($n: Int) { a: products(first: 10) { totalCount } a: products(first: $n) { "
         "totalCount } }",
         "they have differing arguments"},
        {"{ products { totalCount } products(first: 1) { totalCount } }",
         "they have differing arguments"},
        {"{ a: products(filter: {q: \"x\", inStock: true}) { totalCount } "
         "a: products(filter: {q: \"x\", inStock: true}) { totalCount } }",
         NULL},
        /* input objects are unordered (2.9.8) */
        {"{ a: products(filter: {q: \"x\", inStock: true}) { totalCount } "
         "a: products(filter: {inStock: true, q: \"x\"}) { totalCount } }",
         NULL},
        {"{ a: products(filter: {q: \"x\", inStock: true}) { totalCount } "
         "a: products(filter: {inStock: true, q: \"y\"}) { totalCount } }",
         "they have differing arguments"},
        {"{ a: products(filter: {q: \"x\", inStock: true}) { totalCount } "
         "a: products(filter: {q: \"x\"}) { totalCount } }",
         "they have differing arguments"},
        {"{ a: products(filter: {attributes: [{key: \"k\", values: [\"v\"]}]}) { totalCount } "
         "a: products(filter: {attributes: [{values: [\"v\"], key: \"k\"}]}) { totalCount } }",
         NULL},
        {"{ product(id: 1) { x: name } product(id: 1) { x: sku } }",
         "Fields \"x\" conflict because \"name\" and \"sku\" are different fields."},
        {"{ product(id: 1) { ...A ...B } }\nfragment A on Product { x: name }\n"
         "fragment B on Product { x: sku }",
         "Fields \"x\" conflict"},
        {"{ product(id: 1) { name ... on Product { name } ...A } }\n"
         "fragment A on Product { name }",
         NULL},
    };
    RUN(cases);
}

static void test_leaf_field_selections(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ product(id: 1) { stock } }", NULL},
        {"{ product(id: 1) { stock { sinceWhen } } }",
         "Field \"stock\" must not have a selection since type \"Int!\" has no subfields."},
        {"{ product(id: 1) }",
         "Field \"product\" of type \"Product\" must have a selection of subfields."},
        {"query directQueryOnObjectWithoutSubFields { me }", "must have a selection of subfields"},
        {"{ products { edges } }", "Field \"edges\" of type \"[ProductEdge!]!\" must have"},
        {"{ product(id: 1) { attributes { type { x } } } }", "must not have a selection"},
    };
    RUN(cases);
}

/* ---- 5.4: arguments --------------------------------------------------------- */

static void test_arguments(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ products(sort: PRICE_ASC, first: 2) { totalCount } }", NULL},
        {"{ products(first: 2, sort: PRICE_ASC) { totalCount } }", NULL},
        {"{ product(id: 1, command: CLEAN_UP_HOUSE) { name } }",
         "Unknown argument \"command\" on field \"Query.product\"."},
        {"{ me @include(if: true, unless: false) { id } }",
         "Unknown argument \"unless\" on directive \"@include\"."},
        {"{ product(id: 1, id: 2) { name } }", "There can be only one argument named \"id\"."},
        {"{ products { totalCount } }", NULL},
        {"{ __type { name } }",
         "Field \"__type\" argument \"name\" of type \"String!\" is required, but it was not "
         "provided."},
        {"{ me @skip { id } }",
         "Directive \"@skip\" argument \"if\" of type \"Boolean!\" is required"},
        {"{ __type(name: null) { name } }", "Expected value of type \"String!\", found null."},
    };
    RUN(cases);
}

/* ---- 5.5: fragments ------------------------------------------------------------ */

static void test_fragment_declarations(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ me { ...fragmentOne ...fragmentTwo } }\nfragment fragmentOne on User { name }\n"
         "fragment fragmentTwo on User { email }",
         NULL},
        {"{ me { ...fragmentOne } }\nfragment fragmentOne on User { name }\n"
         "fragment fragmentOne on User { email }",
         "There can be only one fragment named \"fragmentOne\"."},
        {"{ me { ...f } }\nfragment f on NotInSchema { name }", "Unknown type \"NotInSchema\"."},
        {"{ me { ... on NotInSchema { name } } }", "Unknown type \"NotInSchema\"."},
        {"{ me { ... on User { name } ... { email } } }", NULL},
        {"{ me { ...f } }\nfragment f on Int { something }",
         "Fragment \"f\" cannot condition on non composite type \"Int\"."},
        {"{ me { ... on Boolean { somethingElse } } }",
         "Fragment cannot condition on non composite type \"Boolean\"."},
        {"{ me { ...f } }\nfragment f on ProductFilter { q }",
         "cannot condition on non composite type \"ProductFilter\""},
        {"fragment nameFragment on User { name }\n{ me { id } }",
         "Fragment \"nameFragment\" is never used."},
    };
    RUN(cases);
}

static void test_fragment_spreads(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ me { ...undefinedFragment } }", "Unknown fragment \"undefinedFragment\"."},
        {"{ me { ...nameFragment } }\n"
         "fragment nameFragment on User { name ...barkVolumeFragment }\n"
         "fragment barkVolumeFragment on User { email ...nameFragment }",
         "Cannot spread fragment \"nameFragment\" within itself via \"barkVolumeFragment\"."},
        {"{ me { ...f } }\nfragment f on User { ...f }",
         "Cannot spread fragment \"f\" within itself."},
        {"{ category(id: 1) { ...c } }\nfragment c on Category { name children { ...c } }",
         "Cannot spread fragment \"c\" within itself."},
        {"{ me { ...productFragment } }\nfragment productFragment on Product { name }",
         "Fragment \"productFragment\" cannot be spread here as objects of type \"User\" can "
         "never be of type \"Product\"."},
        {"{ me { ... on Product { name } } }",
         "Fragment cannot be spread here as objects of type \"User\" can never be of type "
         "\"Product\"."},
        {"{ me { ... on User { id } } }", NULL},
    };
    RUN(cases);
}

/* ---- 5.6: values ------------------------------------------------------------------ */

static void test_values_of_correct_type(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ products(first: 10, sort: NAME_DESC, after: \"c\") { totalCount } }", NULL},
        {"{ products(first: \"ten\") { totalCount } }",
         "Int cannot represent non-integer value: \"ten\""},
        {"{ products(first: 4.5) { totalCount } }", "Int cannot represent non-integer value: 4.5"},
        {"{ products(first: 2147483648) { totalCount } }",
         "Int cannot represent non 32-bit signed integer value: 2147483648"},
        {"{ products(first: -2147483648) { totalCount } }", NULL},
        {"{ product(id: 7) { name } p: product(slug: \"x\") { name } }", NULL},
        {"{ product(id: \"7\") { name } }", NULL},
        {"{ product(id: 1.5) { name } }",
         "ID cannot represent a non-string and non-integer value: 1.5"},
        {"{ product(id: true) { name } }",
         "ID cannot represent a non-string and non-integer value: true"},
        {"{ products(sort: CHEAPEST) { totalCount } }",
         "Value \"CHEAPEST\" does not exist in \"ProductSort\" enum."},
        {"{ products(sort: \"PRICE_ASC\") { totalCount } }",
         "Enum \"ProductSort\" cannot represent non-enum value: \"PRICE_ASC\"."},
        {"{ products(filter: {attributes: [{key: \"w\", min: 1, max: 2.5e3}]}) { totalCount } }",
         NULL},
        {"{ products(filter: {attributes: [{key: \"w\", min: \"1\"}]}) { totalCount } }",
         "Float cannot represent non numeric value: \"1\""},
        {"{ products(filter: {attributes: [{key: \"w\", max: 1e999}]}) { totalCount } }",
         "Float cannot represent non numeric value: 1e999"},
        {"{ products(filter: {attributes: {key: \"w\", values: \"x\"}}) { totalCount } }", NULL},
        {"{ facets(priceBuckets: [\"0\", 50]) { total } }",
         "String cannot represent a non string value: 50"},
        {"{ facets(priceBuckets: [null]) { total } }",
         "Expected value of type \"String!\", found null."},
        {"{ facets(priceBuckets: null) { total } }", NULL},
        {"{ products(filter: {inStock: 1}) { totalCount } }",
         "Boolean cannot represent a non boolean value: 1"},
        {"{ products(filter: [{q: \"x\"}]) { totalCount } }",
         "Expected value of type \"ProductFilter\", found [{q: \"x\"}]."},
        {"{ products(filter: {colour: \"red\"}) { totalCount } }",
         "Field \"colour\" is not defined by type \"ProductFilter\"."},
        {"{ products(filter: {q: \"a\", q: \"b\"}) { totalCount } }",
         "There can be only one input field named \"q\"."},
        {"{ products(filter: {options: [{values: [\"M\"]}]}) { totalCount } }",
         "Field \"OptionFilter.name\" of required type \"String!\" was not provided."},
        {"{ products(filter: {options: [{name: null, values: [\"M\"]}]}) { totalCount } }",
         "Expected value of type \"String!\", found null."},
        {"query ($n: Int = \"x\") { products(first: $n) { totalCount } }",
         "Int cannot represent non-integer value: \"x\""},
        {"query ($f: ProductFilter = {q: \"x\", inStock: true}) { products(filter: $f) { "
         "totalCount } }",
         NULL},
    };
    RUN(cases);
}

/* ---- 5.7: directives --------------------------------------------------------------- */

static void test_directives(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"{ me @foo { id } }", "Unknown directive \"@foo\"."},
        {"query @skip(if: true) { me { id } }", "Directive \"@skip\" may not be used on QUERY."},
        {"query ($v: Boolean! @include(if: true)) { me @skip(if: $v) { id } }",
         "Directive \"@include\" may not be used on VARIABLE_DEFINITION."},
        {"{ me { ...f } }\nfragment f on User @skip(if: true) { id }",
         "may not be used on FRAGMENT_DEFINITION"},
        {"{ me @deprecated { id } }", "Directive \"@deprecated\" may not be used on FIELD."},
        {"query ($foo: Boolean = true, $bar: Boolean = false) {\n"
         "  me @skip(if: $foo) @skip(if: $bar) { id }\n}",
         "The directive \"@skip\" can only be used once at this location."},
        {"query ($foo: Boolean = true, $bar: Boolean = false) {\n"
         "  me @skip(if: $foo) { id }\n  me @skip(if: $bar) { id }\n}",
         NULL},
        {"{ me @skip(if: false) @include(if: true) { ...f @include(if: true) "
         "... @skip(if: false) { id } } }\nfragment f on User { id }",
         NULL},
        {"{ me @include(if: \"yes\") { id } }",
         "Boolean cannot represent a non boolean value: \"yes\""},
    };
    RUN(cases);
}

/* ---- 5.8: variables ------------------------------------------------------------------ */

static void test_variables(void **state) {
    (void)state;
    static const struct rule_case cases[] = {
        {"query houseTrainedQuery($atOtherHomes: Boolean, $atOtherHomes: Boolean) {\n"
         "  products(filter: {inStock: $atOtherHomes}) { totalCount }\n}",
         "There can be only one variable named \"$atOtherHomes\"."},
        {"query A($atOtherHomes: Boolean = true) { me @include(if: $atOtherHomes) { id } }\n"
         "query B($atOtherHomes: Boolean = true) { me @include(if: $atOtherHomes) { id } }",
         NULL},
        {"query takesCat($cat: Product) { product(id: $cat) { id } }",
         "Variable \"$cat\" cannot be non-input type \"Product\"."},
        {"query takesListOfUsers($users: [User!]!) { product(id: $users) { id } }",
         "Variable \"$users\" cannot be non-input type \"[User!]!\"."},
        {"query ($x: Nope) { me @include(if: $x) { id } }", "Unknown type \"Nope\"."},
        {"query ($f: ProductFilter, $s: [String!]!, $b: Boolean!, $o: ProductSort) {\n"
         "  facets(filter: $f, priceBuckets: $s) { total } products(sort: $o) @include(if: $b) "
         "{ totalCount }\n}",
         NULL},
        {"query variableIsNotDefined { me @include(if: $atOtherHomes) { id } }",
         "Variable \"$atOtherHomes\" is not defined by operation \"variableIsNotDefined\"."},
        {"{ me @include(if: $x) { id } }", "Variable \"$x\" is not defined."},
        {"query q { me { ...f } }\nfragment f on User { id @include(if: $x) }",
         "Variable \"$x\" is not defined by operation \"q\"."},
        {"query a($x: Boolean = true) { me { ...f } }\nquery b { me { ...f } }\n"
         "fragment f on User { id @include(if: $x) }",
         "Variable \"$x\" is not defined by operation \"b\"."},
        {"query variableUnused($atOtherHomes: Boolean) { me { id } }",
         "Variable \"$atOtherHomes\" is never used in operation \"variableUnused\"."},
        {"query q($x: Boolean!) { me { ...f } }\nfragment f on User { ...g }\n"
         "fragment g on User { id @include(if: $x) }",
         NULL},
        {"query ($x: Boolean!) { me { id } }", "Variable \"$x\" is never used."},
        {"query intCannotGoIntoBoolean($intArg: Int) { me @include(if: $intArg) { id } }",
         "Variable \"$intArg\" of type \"Int\" used in position expecting type \"Boolean!\"."},
        {"query ($b: Boolean) { me @include(if: $b) { id } }",
         "Variable \"$b\" of type \"Boolean\" used in position expecting type \"Boolean!\"."},
        {"query ($b: Boolean = true) { me @include(if: $b) { id } }", NULL},
        {"query ($b: Boolean = null) { me @include(if: $b) { id } }",
         "used in position expecting type \"Boolean!\""},
        {"query ($v: String) { facets(priceBuckets: $v) { total } }",
         "Variable \"$v\" of type \"String\" used in position expecting type \"[String!]\"."},
        {"query ($v: [String]) { facets(priceBuckets: $v) { total } }",
         "expecting type \"[String!]\""},
        {"query ($v: [String!]!) { facets(priceBuckets: $v) { total } }", NULL},
        {"query ($s: String!) { facets(priceBuckets: [$s, \"5\"]) { total } }", NULL},
        {"query ($s: Int) { facets(priceBuckets: [$s]) { total } }",
         "Variable \"$s\" of type \"Int\" used in position expecting type \"String!\"."},
        {"query ($n: Int!) { products(first: $n) { totalCount } }", NULL},
        {"query ($k: String!) { products(filter: {options: [{name: $k, values: [\"M\"]}]}) { "
         "totalCount } }",
         NULL},
        {"query ($k: ID) { products(filter: {options: [{name: $k, values: [\"M\"]}]}) { "
         "totalCount } }",
         "Variable \"$k\" of type \"ID\" used in position expecting type \"String!\"."},
        {"query ($x: Int) { product(nope: $x) { id } }", "Unknown argument \"nope\""},
    };
    RUN(cases);
}

/* ---- reporting ------------------------------------------------------------------------- */

static void test_errors_locate_every_part(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    assert_false(validate("query q {\n  me { ...a }\n}\n"
                          "fragment a on User { ...b }\nfragment b on User { ...a }",
                          &errs));
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].code, GQL_CODE_VALIDATION);
    assert_int_equal(errs.items[0].loc_count, 2); /* the spreads of the cycle */
    assert_int_equal(errs.items[0].locs[0].line, 4);
    assert_int_equal(errs.items[0].locs[0].column, 22);
    assert_int_equal(errs.items[0].locs[1].line, 5);
    gql_errors_clear(&errs);
    assert_false(validate("query q {\n  me @include(if: $x) { id }\n}", &errs));
    assert_int_equal(errs.items[0].loc_count, 2); /* the use, and the operation */
    assert_int_equal(errs.items[0].locs[0].line, 2);
    assert_int_equal(errs.items[0].locs[0].column, 19);
    assert_int_equal(errs.items[0].locs[1].line, 1);
    gql_errors_clear(&errs);
}

static void test_error_list_is_bounded(void **state) {
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{");
    for (int i = 0; i < 500; i++)
        buf_printf(&b, " f%d", i);
    buf_puts(&b, " }");
    struct gql_errors errs = {0};
    assert_false(validate(b.data, &errs));
    assert_int_equal(errs.count, GQL_ERRORS_MAX);
    assert_non_null(strstr(errs.items[GQL_ERRORS_MAX - 1].message, "Too many errors"));
    assert_string_equal(errs.items[GQL_ERRORS_MAX - 1].code, GQL_CODE_LIMIT);
    gql_errors_clear(&errs);
    buf_clear(&b);
}

/* A message quotes a name of the client's at most 100 bytes of it
 * (GQL_NAME): a field name of 5,000 bytes is not repeated whole in its
 * error. */
static void test_messages_quote_long_names_cut(void **state) {
    (void)state;
    const char *kinds[][2] = {{"{ ", " }"}, {"{ ...", " }"}, {"{ products @", " { totalCount } }"}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        struct buf name = {0}, doc = {0};
        for (int i = 0; i < 5000; i++)
            buf_puts(&name, "n");
        buf_printf(&doc, "%s%s%s", kinds[k][0], name.data, kinds[k][1]);
        struct gql_errors errs = {0};
        assert_false(validate(doc.data, &errs));
        const char *m = errs.items[0].message;
        assert_true(strlen(m) < 200);
        char cut[104];
        snprintf(cut, sizeof cut, "%.100s\"", name.data);   /* its first 100 bytes */
        if (!strstr(m, cut) || strstr(m, name.data + 4899)) /* 101 of them */
            fail_msg("%s", m);
        gql_errors_clear(&errs);
        buf_clear(&name);
        buf_clear(&doc);
    }
}

/* Every message that quotes a name of the document quotes at most 100
 * bytes of it: a document with one long name in several places (~ in
 * each case) is answered in short messages, the rule's among them. The
 * lengths keep each document under its 64 KiB. */
struct long_name_case {
    const char *doc;
    size_t name_len;
    const char *message; /* a part of one of the errors */
};

static const struct long_name_case long_name_cases[] = {
    {"query ~ { product(id: $~) { id } }", 20000, "is not defined by operation"},
    {"query ~($~: ID) { me { id } }", 20000, "is never used in operation"},
    {"query($~: Product) { me { id } }", 20000, "cannot be non-input type \"Product\""},
    {"query($~: String) { product(id: $~) { id } }", 20000, "used in position expecting"},
    {"query ~ { me { id } } query ~ { me { id } }", 20000, "only one operation named"},
    {"{ product(id: 1) { ...~ } } fragment ~ on Product { id } fragment ~ on Product { id }", 20000,
     "only one fragment named"},
    {"{ product(id: 1) { ...~ } } fragment ~ on Int { id }", 20000,
     "cannot condition on non composite type"},
    {"{ me { ...~ } } fragment ~ on Product { id }", 20000, "cannot be spread here"},
    {"fragment ~ on Product { ...~b } fragment ~b on Product { ...~ }", 15000, "within itself via"},
    {"{ me { id } } type ~ { a: Int }", 20000, "definition is not executable"},
    {"{ products(sort: ~) { totalCount } }", 20000, "does not exist in \"ProductSort\" enum"},
    {"{ ~: me { id } ~: product(id: 1) { id } }", 20000, "\"me\" and \"product\" are different"},
    {"{ ~: ~ ~: ~b }", 15000, "are different fields"},
    {"query($v: Int = $~) { me { id } }", 20000, "Unexpected variable"},
};

/* doc with each ~ replaced by a name of n bytes. */
static void expand_name(struct buf *out, const char *doc, size_t n) {
    for (const char *c = doc; *c; c++) {
        if (*c != '~') {
            buf_append(out, c, 1);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            buf_puts(out, "n");
    }
}

/* One message short, quoting no 101 bytes of a name; whether it is the
 * rule's. */
static bool check_short_message(size_t k, const char *m, const char *rule) {
    char cut[102];
    memset(cut, 'n', 101);
    cut[101] = '\0';
    if (strlen(m) > 600 || strstr(m, cut))
        fail_msg("case %zu: a message of %zu bytes: %.300s", k, strlen(m), m);
    return strstr(m, rule) != NULL;
}

static void test_messages_quote_every_name_cut(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof long_name_cases / sizeof *long_name_cases; k++) {
        const struct long_name_case *c = &long_name_cases[k];
        struct buf doc = {0};
        expand_name(&doc, c->doc, c->name_len);
        struct gql_errors errs = {0};
        struct gql_document *d = gql_parse(doc.data, doc.len, &errs);
        if (d)
            assert_false(gql_validate(d, &errs));
        bool found = false;
        for (size_t i = 0; i < errs.count; i++)
            found = check_short_message(k, errs.items[i].message, c->message) || found;
        if (!found)
            fail_msg("case %zu: no error says \"%s\"", k, c->message);
        gql_document_free(d);
        gql_errors_clear(&errs);
        buf_clear(&doc);
    }
}

/* A cycle names the first five fragments it passes through, then "...". */
static void test_long_cycles_are_named_in_part(void **state) {
    (void)state;
    struct buf doc = {0};
    for (int i = 0; i < 9; i++)
        buf_printf(&doc, "fragment f%d on Product { ...f%d }\n", i, (i + 1) % 9);
    buf_puts(&doc, "{ product(id: 1) { ...f0 } }");
    struct gql_errors errs = {0};
    assert_false(validate(doc.data, &errs));
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].message, "Cannot spread fragment \"f0\" within itself via "
                                               "\"f1\", \"f2\", \"f3\", \"f4\", \"f5\", ....");
    gql_errors_clear(&errs);
    buf_clear(&doc);
}

static void test_many_aliases_merge_quickly(void **state) {
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{");
    for (int i = 0; i < 3000; i++)
        buf_puts(&b, " a: name");
    buf_puts(&b, " }");
    char *doc = NULL;
    struct buf d = {0};
    buf_printf(&d, "{ product(id: 1) %s }", b.data);
    doc = buf_take(&d, NULL);
    struct gql_errors errs = {0};
    assert_true(validate(doc, &errs));
    free(doc);
    buf_clear(&b);
}

/* Fragments that double the fields at each level: 2^40 paths, refused
 * after a bounded amount of work. */
static void test_exponential_fragments_are_refused(void **state) {
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{ category(id: 1) { ...F0 } }\n");
    for (int i = 0; i < 40; i++)
        buf_printf(&b,
                   "fragment F%d on Category { a: children { ...F%d } b: children { ...F%d } }\n",
                   i, i + 1, i + 1);
    buf_puts(&b, "fragment F40 on Category { id }\n");
    struct gql_errors errs = {0};
    assert_false(validate(b.data, &errs));
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].code, GQL_CODE_LIMIT);
    gql_errors_clear(&errs);
    buf_clear(&b);
}

/* 30 fragments, each 40 levels deep: 1,200 levels once expanded, refused
 * before the check recurses that deep. */
static void test_deep_fragment_chains_are_refused(void **state) {
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{ category(id: 1) { ...F0 } }\n");
    for (int i = 0; i < 30; i++) {
        buf_printf(&b, "fragment F%d on Category {", i);
        for (int k = 0; k < 39; k++)
            buf_puts(&b, " parent {");
        buf_printf(&b, " ...F%d", i + 1);
        for (int k = 0; k < 40; k++)
            buf_puts(&b, " }");
        buf_puts(&b, "\n");
    }
    buf_puts(&b, "fragment F30 on Category { id }\n");
    struct gql_errors errs = {0};
    assert_false(validate(b.data, &errs));
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].code, GQL_CODE_LIMIT);
    assert_non_null(strstr(errs.items[0].message, "deeper than 128 levels"));
    gql_errors_clear(&errs);
    buf_clear(&b);
}

/* ---- operation choice -------------------------------------------------------------------- */

static void test_operation_choice(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    const char *src = "query A { me { id } }\nquery B { me { name } }";
    struct gql_document *doc = gql_parse(src, strlen(src), &errs);
    assert_string_equal(gql_operation(doc, "B", &errs)->name, "B");
    assert_null(gql_operation(doc, NULL, &errs));
    assert_non_null(strstr(errs.items[0].message, "operationName"));
    assert_null(gql_operation(doc, "C", &errs));
    assert_non_null(strstr(errs.items[1].message, "Unknown operation named \"C\""));
    gql_document_free(doc);
    /* only a null name picks the one operation: "" names none */
    src = "query A { me { id } }";
    doc = gql_parse(src, strlen(src), &errs);
    assert_string_equal(gql_operation(doc, NULL, &errs)->name, "A");
    assert_null(gql_operation(doc, "", &errs));
    assert_non_null(strstr(errs.items[2].message, "Unknown operation named \"\""));
    gql_document_free(doc);
    gql_errors_clear(&errs);
}

/* ---- limits ------------------------------------------------------------------------------- */

static bool measure(const char *src, gql_int_variable_fn var, void *ctx, struct gql_measure *m,
                    struct gql_errors *errs) {
    struct gql_document *doc = gql_parse(src, strlen(src), errs);
    assert_non_null(doc);
    if (!gql_validate(doc, errs))
        fail_msg("invalid: %s", errs->items[0].message);
    const struct gql_definition *op = gql_operation(doc, NULL, errs);
    bool ok = gql_check_limits(doc, op, var, ctx, m, errs);
    /* Again on the same document (the measure of an operation without
     * variables is kept with it): the same answer. */
    struct gql_measure again;
    struct gql_errors more = {0};
    assert_int_equal(gql_check_limits(doc, op, var, ctx, &again, &more), ok);
    assert_int_equal(again.depth, m->depth);
    assert_int_equal(again.introspection_depth, m->introspection_depth);
    assert_true(again.cost == m->cost);
    assert_int_equal(more.count == 0, ok);
    gql_errors_clear(&more);
    gql_document_free(doc);
    return ok;
}

static char *nested_parents(int n) {
    struct buf b = {0};
    buf_puts(&b, "{ category(id: 1) {");
    for (int i = 0; i < n; i++)
        buf_puts(&b, " parent {");
    buf_puts(&b, " name");
    for (int i = 0; i <= n; i++)
        buf_puts(&b, " }");
    buf_puts(&b, " }");
    return buf_take(&b, NULL);
}

static void test_depth_limit(void **state) {
    (void)state;
    struct gql_measure m;
    struct gql_errors errs = {0};
    char *ten = nested_parents(8), *eleven = nested_parents(9);
    assert_true(measure(ten, NULL, NULL, &m, &errs));
    assert_int_equal(m.depth, 10);
    assert_false(measure(eleven, NULL, NULL, &m, &errs));
    assert_int_equal(m.depth, 11);
    assert_string_equal(errs.items[0].code, GQL_CODE_LIMIT);
    assert_non_null(strstr(errs.items[0].message, "11 fields deep"));
    free(ten);
    free(eleven);
    gql_errors_clear(&errs);
    /* through fragments */
    assert_false(measure("{ category(id: 1) { ...A } }\n"
                         "fragment A on Category { parent { parent { parent { ...B } } } }\n"
                         "fragment B on Category { parent { parent { parent { ...C } } } }\n"
                         "fragment C on Category { parent { parent { parent { name } } } }",
                         NULL, NULL, &m, &errs));
    assert_int_equal(m.depth, 11);
    gql_errors_clear(&errs);
}

static bool first_is_5(void *ctx, const char *name, long long *value) {
    (void)ctx;
    if (strcmp(name, "n") != 0)
        return false;
    *value = 5;
    return true;
}

static bool first_is_null(void *ctx, const char *name, long long *value) {
    (void)ctx;
    (void)name;
    *value = GQL_VARIABLE_NULL;
    return true;
}

static void test_cost_limit(void **state) {
    (void)state;
    struct gql_measure m;
    struct gql_errors errs = {0};
    const char *page = "{ products(first: 100) { edges { node { variants { id } } } } }";
    assert_true(measure(page, NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 100 + 100 * 10); /* a list without first counts 10 items */
    assert_true(measure("{ products { totalCount edges { node { name category { name } } } } }",
                        NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 20 + 20 * 1 + 1); /* default first 20; totalCount once */
    assert_true(measure("query ($n: Int = 100) { products(first: $n) { edges { node { variants { "
                        "id } } } } }",
                        NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 1100); /* the variable's default */
    assert_true(measure("query ($n: Int = 100) { products(first: $n) { edges { node { variants { "
                        "id } } } } }",
                        first_is_5, NULL, &m, &errs));
    assert_int_equal(m.cost, 5 + 5 * 10); /* the request's value */
    assert_true(measure("query ($n: Int = 100) { products(first: $n) { edges { node { variants { "
                        "id } } } } }",
                        first_is_null, NULL, &m, &errs));
    assert_int_equal(m.cost, 20 + 20 * 10); /* a null: the argument's default, as executed */
    /* a storefront's menu: categories, their children, a few products each */
    assert_true(measure("{ categories { name children { name products(first: 4) { totalCount "
                        "pageInfo { hasNextPage } edges { node { name price } } } } } }",
                        NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 10 + 10 * (10 + 10 * (4 + 1)));
    /* edges selected through a fragment on the connection count per edge too */
    assert_true(measure("{ products(first: 50) { ...c } } fragment c on ProductConnection { "
                        "totalCount edges { node { category { name } } } }",
                        NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 50 + 50 * 1 + 1);
    assert_int_equal(errs.count, 0);
    const char *nested = "products(first: 100) { edges { node { category { products(first: 100) "
                         "{ totalCount } } } } }";
    struct buf three = {0};
    buf_printf(&three, "{ a: %s b: %s c: %s }", nested, nested, nested);
    assert_false(measure(three.data, NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 3 * (100 + 100 * (1 + 100 + 1)));
    assert_non_null(strstr(errs.items[0].message, "costs 30900"));
    buf_clear(&three);
    gql_errors_clear(&errs);
    assert_false(
        measure("{ products(first: 100) { edges { node { category { products(first: 100) { "
                "edges { node { variants { id } } } } } } } } }",
                NULL, NULL, &m, &errs));
    assert_int_equal(m.cost, 100 + 100 * (1 + 100 + 100 * 10));
    gql_errors_clear(&errs);
    /* facets count over every match: 5 fit, a 6th alias does not */
    for (int n = 5; n <= 6; n++) {
        struct buf facets = {0};
        buf_puts(&facets, "{");
        for (int i = 0; i < n; i++)
            buf_printf(&facets, " f%d: facets(filter: { q: \"x%d\" }) { total }", i, i);
        buf_puts(&facets, " }");
        assert_true(measure(facets.data, NULL, NULL, &m, &errs) == (n == 5));
        assert_int_equal(m.cost, (unsigned long long)n * GQL_FACETS_COST);
        buf_clear(&facets);
    }
    gql_errors_clear(&errs);
}

static void test_introspection_query_passes(void **state) {
    (void)state;
    struct gql_measure m;
    struct gql_errors errs = {0};
    assert_true(measure(introspection_query, NULL, NULL, &m, &errs));
    assert_int_equal(m.introspection_depth, 15);
    assert_int_equal(m.depth, 0);
    assert_int_equal(m.cost, 0);
    struct buf b = {0};
    buf_puts(&b, "{ __type(name: \"Product\") { fields { type {");
    for (int i = 0; i < 17; i++)
        buf_puts(&b, " ofType {");
    buf_puts(&b, " name");
    for (int i = 0; i < 21; i++)
        buf_puts(&b, " }");
    assert_false(measure(b.data, NULL, NULL, &m, &errs));
    assert_int_equal(m.introspection_depth, 21);
    assert_non_null(strstr(errs.items[0].message, "introspection is 21 fields deep"));
    buf_clear(&b);
    gql_errors_clear(&errs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_executable_definitions),
        cmocka_unit_test(test_operation_names),
        cmocka_unit_test(test_mutations_and_subscriptions_are_refused),
        cmocka_unit_test(test_field_selections),
        cmocka_unit_test(test_field_selection_merging),
        cmocka_unit_test(test_leaf_field_selections),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_fragment_declarations),
        cmocka_unit_test(test_fragment_spreads),
        cmocka_unit_test(test_values_of_correct_type),
        cmocka_unit_test(test_directives),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_errors_locate_every_part),
        cmocka_unit_test(test_error_list_is_bounded),
        cmocka_unit_test(test_messages_quote_long_names_cut),
        cmocka_unit_test(test_messages_quote_every_name_cut),
        cmocka_unit_test(test_long_cycles_are_named_in_part),
        cmocka_unit_test(test_many_aliases_merge_quickly),
        cmocka_unit_test(test_exponential_fragments_are_refused),
        cmocka_unit_test(test_deep_fragment_chains_are_refused),
        cmocka_unit_test(test_operation_choice),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_cost_limit),
        cmocka_unit_test(test_introspection_query_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
