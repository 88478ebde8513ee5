/*
 * test_graphql_exec.c -- variable coercion, CollectFields with fragments
 * and @skip/@include, argument defaults, null propagation with paths,
 * batching, and introspection (the JSON of graphql-js 16's introspection
 * query is written to the build directory for tests/graphql/introspection.mjs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../common/gql_introspection_query.h"
#include "nexus/core/xmem.h"
#include "nexus/graphql/coerce.h"
#include "nexus/graphql/exec.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
    size_t values_max; /* set before run(): the executor's bound */
    struct gql_document *doc;
    struct gql_errors errs;
    json_t *vars;
    json_t *data;
};

/* Parse, validate, coerce variables_json and execute over root with the
 * resolvers; data stays NULL when coercion fails. */
static void run(struct run *r, const char *query, const char *variables_json, json_t *root,
                const struct gql_resolver *resolvers, size_t n, void *ctx) {
    size_t values_max = r->values_max;
    memset(r, 0, sizeof *r);
    r->values_max = values_max;
    r->doc = gql_parse(query, strlen(query), &r->errs);
    assert_non_null(r->doc);
    assert_true(gql_validate(r->doc, &r->errs));
    const struct gql_definition *op = gql_operation(r->doc, NULL, &r->errs);
    assert_non_null(op);
    json_t *input = variables_json ? json_loads(variables_json, 0, NULL) : NULL;
    assert_true(!variables_json || input);
    r->vars = gql_coerce_variables(op, input, &r->errs);
    json_decref(input);
    if (!r->vars)
        return;
    struct gql_exec exec = {.doc = r->doc,
                            .operation = op,
                            .variables = r->vars,
                            .resolvers = resolvers,
                            .resolver_count = n,
                            .ctx = ctx,
                            .root = root,
                            .values_max = r->values_max};
    r->data = gql_execute(&exec, &r->errs);
}

static void run_free(struct run *r) {
    json_decref(r->vars);
    json_decref(r->data);
    gql_errors_clear(&r->errs);
    gql_document_free(r->doc);
}

static void assert_json(const json_t *got, const char *want_json) {
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        fprintf(stderr, "got:  %s\nwant: %s\n", g, want_json);
        free(g);
    }
    assert_true(json_equal(got, want));
    json_decref(want);
}

/* data as text, keys in response order. */
static void assert_data(const struct run *r, const char *want) {
    char *got = json_dumps(r->data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
    assert_string_equal(got, want);
    free(got);
}

static void assert_one_error(const struct run *r, const char *code, const char *message_part,
                             const char *path) {
    if (r->errs.count != 1 || !strstr(r->errs.items[0].message, message_part))
        for (size_t i = 0; i < r->errs.count; i++)
            fprintf(stderr, "error: %s\n", r->errs.items[i].message);
    assert_int_equal(r->errs.count, 1);
    assert_string_equal(r->errs.items[0].code, code);
    assert_non_null(strstr(r->errs.items[0].message, message_part));
    if (path)
        assert_string_equal(r->errs.items[0].path, path);
    else
        assert_null(r->errs.items[0].path);
}

/* ---- variables ---------------------------------------------------------------- */

static void coerce_fails(const char *query, const char *vars, const char *message_part) {
    struct run r = {0};
    run(&r, query, vars, NULL, NULL, 0, NULL);
    assert_null(r.vars);
    assert_one_error(&r, GQL_CODE_BAD_INPUT, message_part, NULL);
    assert_int_equal(r.errs.items[0].loc_count, 1);
    run_free(&r);
}

static void test_variable_faults(void **state) {
    (void)state;
    coerce_fails("query($id: ID!) { product(id: $id) { name } }", "{}",
                 "Variable \"$id\" of required type \"ID!\" was not provided.");
    coerce_fails("query($id: ID!) { product(id: $id) { name } }", "{\"id\": null}",
                 "Variable \"$id\" of non-null type \"ID!\" must not be null.");
    coerce_fails("query($s: [String!]) { facets(priceBuckets: $s) { total } }",
                 "{\"s\": [\"1\", null]}",
                 "got invalid value null at \"s[1]\"; Expected non-nullable type \"String!\" not "
                 "to be null.");
    coerce_fails("query($id: ID) { product(id: $id) { name } }", "{\"id\": 1.5}",
                 "ID cannot represent value: 1.5");
    coerce_fails("query($n: Int) { products(first: $n) { totalCount } }", "{\"n\": \"5\"}",
                 "Int cannot represent non-integer value: \"5\"");
    coerce_fails("query($n: Int) { products(first: $n) { totalCount } }", "{\"n\": 1.5}",
                 "Int cannot represent non-integer value: 1.5");
    coerce_fails("query($n: Int) { products(first: $n) { totalCount } }", "{\"n\": 2147483648}",
                 "got invalid value 2147483648; Int cannot represent non 32-bit");
    coerce_fails("query($s: ProductSort) { products(sort: $s) { totalCount } }", "{\"s\": \"UP\"}",
                 "Value \"UP\" does not exist in \"ProductSort\" enum.");
    coerce_fails("query($f: ProductFilter) { products(filter: $f) { totalCount } }",
                 "{\"f\": {\"q\": \"x\", \"nope\": 1}}",
                 "Field \"nope\" is not defined by type \"ProductFilter\".");
    coerce_fails("query($f: ProductFilter) { products(filter: $f) { totalCount } }",
                 "{\"f\": {\"attributes\": [{\"key\": \"a\"}, {\"min\": 1}]}}",
                 "at \"f.attributes[1]\"; Field \"key\" of required type \"String!\" was not "
                 "provided.");
    coerce_fails("query($f: ProductFilter) { products(filter: $f) { totalCount } }",
                 "{\"f\": {\"attributes\": [{\"key\": \"a\", \"min\": \"1\"}]}}",
                 "at \"f.attributes[0].min\"; Float cannot represent non numeric value: \"1\"");
    coerce_fails("query($f: ProductFilter) { products(filter: $f) { totalCount } }", "{\"f\": []}",
                 "Expected type \"ProductFilter\" to be an object.");
    /* a key is quoted to 100 bytes, cut after a whole character (é is 2) */
    struct buf vars = {0}, want = {0};
    buf_puts(&vars, "{\"f\": {\"k");
    buf_puts(&want, "Field \"k");
    for (int i = 0; i < 3000; i++)
        buf_puts(&vars, "\xC3\xA9");
    for (int i = 0; i < 50; i++)
        buf_puts(&want, "\xC3\xA9");
    buf_puts(&vars, "\": 1}}");
    buf_puts(&want, "\" is not defined"); /* 1 + 50 x 2 = 101 bytes: the 100th ends a character */
    coerce_fails("query($f: ProductFilter) { products(filter: $f) { totalCount } }", vars.data,
                 want.data);
    buf_clear(&vars);
    buf_clear(&want);
}

/* text with each ~ replaced by name. */
static void expand(struct buf *out, const char *text, const char *name) {
    for (const char *c = text; *c; c++) {
        if (*c == '~')
            buf_puts(out, name);
        else
            buf_append(out, c, 1);
    }
}

/* A variable's name is quoted to 100 bytes, in a message and in the path
 * of the value at fault alike. */
static void coerce_fails_short(const char *query, const char *vars, const char *message_part) {
    struct buf name = {0}, q = {0}, v = {0};
    for (int i = 0; i < 20000; i++)
        buf_puts(&name, "n");
    expand(&q, query, name.data);
    expand(&v, vars, name.data);
    struct run r = {0};
    run(&r, q.data, v.data, NULL, NULL, 0, NULL);
    assert_null(r.vars);
    assert_one_error(&r, GQL_CODE_BAD_INPUT, message_part, NULL);
    const char *m = r.errs.items[0].message;
    name.data[101] = '\0';
    if (strlen(m) > 400 || strstr(m, name.data))
        fail_msg("a message of %zu bytes: %.300s", strlen(m), m);
    run_free(&r);
    buf_clear(&name);
    buf_clear(&q);
    buf_clear(&v);
}

static void test_variable_faults_quote_names_cut(void **state) {
    (void)state;
    coerce_fails_short("query($~: ID!) { product(id: $~) { name } }", "{}",
                       "of required type \"ID!\" was not provided.");
    coerce_fails_short("query($~: ID!) { product(id: $~) { name } }", "{\"~\": null}",
                       "of non-null type \"ID!\" must not be null.");
    coerce_fails_short("query($~: ProductFilter) { products(filter: $~) { totalCount } }",
                       "{\"~\": {\"attributes\": [{\"min\": 1}]}}",
                       ".attributes[0]\"; Field \"key\" of required type \"String!\"");
}

/* A message is at most 1,024 bytes, cut after a whole character, whatever
 * it quotes. */
static void test_messages_are_bounded(void **state) {
    (void)state;
    struct buf text = {0}, want = {0};
    for (int i = 0; i < 3000; i++)
        buf_puts(&text, "\xC3\xA9");
    for (int i = 0; i < GQL_MESSAGE_MAX / 2; i++)
        buf_puts(&want, "\xC3\xA9");
    buf_puts(&want, "...");
    struct gql_errors errs = {0};
    gql_error_add(&errs, GQL_CODE_FIELD, NULL, "%s", text.data);
    assert_string_equal(errs.items[0].message, want.data);
    gql_error_add(&errs, GQL_CODE_FIELD, NULL, "%.*s", GQL_MESSAGE_MAX, text.data);
    assert_int_equal(strlen(errs.items[1].message), GQL_MESSAGE_MAX); /* not cut: no "..." */
    gql_errors_clear(&errs);
    buf_clear(&text);
    buf_clear(&want);
}

static void test_variable_bounds(void **state) {
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{\"b\": [");
    for (int i = 0; i <= GQL_INPUT_VALUES_MAX; i++)
        buf_printf(&b, "%s\"1\"", i ? "," : "");
    buf_puts(&b, "]}");
    coerce_fails("query($b: [String!]) { facets(priceBuckets: $b) { __typename } }", b.data,
                 "more than 10000 values");
    /* a value counts once, whatever wraps its type: 9,000 strings fit */
    b.len = 0;
    buf_puts(&b, "{\"b\": [");
    for (int i = 0; i < 9000; i++)
        buf_printf(&b, "%s\"1\"", i ? "," : "");
    buf_puts(&b, "]}");
    struct run r = {0};
    run(&r, "query($b: [String!]) { facets(priceBuckets: $b) { __typename } }", b.data, NULL, NULL,
        0, NULL);
    assert_non_null(r.vars);
    run_free(&r);
    buf_clear(&b);
}

static void test_variable_values(void **state) {
    (void)state;
    struct run r = {0};
    run(&r,
        "query($n: Int = 5, $f: ProductFilter, $id: ID, $x: Float, $b: [String!], $absent: "
        "String) { products(first: $n, filter: $f) { totalCount } product(id: $id) { name } "
        "facets(priceBuckets: $b) { __typename } q: products(filter: {minPrice: $absent}) { "
        "totalCount } f: products(first: 1, filter: {attributes: {key: \"k\", min: $x}}) { "
        "totalCount } }",
        "{\"f\": {\"attributes\": {\"key\": \"color\", \"values\": \"red\"}}, \"id\": 7, \"x\": 2,"
        " \"b\": \"10.00\"}",
        NULL, NULL, 0, NULL);
    assert_non_null(r.vars);
    assert_json(r.vars, "{\"n\": 5, \"f\": {\"includeInactive\": false, \"attributes\": [{\"key\": "
                        "\"color\", \"values\": "
                        "[\"red\"]}]}, \"id\": \"7\", \"x\": 2.0, \"b\": [\"10.00\"]}");
    assert_true(json_is_real(json_object_get(r.vars, "x")));
    run_free(&r);
}

/* ---- execution ------------------------------------------------------------------- */

static const char *const user_json =
    "{\"me\": {\"id\": \"1\", \"email\": \"a@example.com\", \"name\": \"Ann\", \"role\": "
    "\"ADMIN\", \"isActive\": true, \"emailVerified\": false, \"createdAt\": \"t\", "
    "\"updatedAt\": \"u\"}}";

static void run_on(struct run *r, const char *query, const char *vars, const char *root_json,
                   const struct gql_resolver *res, size_t n, void *ctx) {
    json_t *root = json_loads(root_json, 0, NULL);
    assert_non_null(root);
    run(r, query, vars, root, res, n, ctx);
    json_decref(root);
}

static void test_skip_include(void **state) {
    (void)state;
    struct run r = {0};
    run_on(&r,
           "query($s: Boolean!, $i: Boolean = true) { me { id @skip(if: $s) email @include(if: "
           "$i) name @skip(if: false) role @include(if: false) ... @skip(if: true) { isActive } "
           "...F @include(if: $s) } } fragment F on User { createdAt }",
           "{\"s\": true}", user_json, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 0);
    assert_data(&r, "{\"me\":{\"email\":\"a@example.com\",\"name\":\"Ann\",\"createdAt\":\"t\"}}");
    run_free(&r);
    run_on(&r,
           "query($s: Boolean!, $i: Boolean = true) { me { id @skip(if: $s) email @include(if: $i) "
           "} }",
           "{\"s\": false, \"i\": false}", user_json, NULL, 0, NULL);
    assert_data(&r, "{\"me\":{\"id\":\"1\"}}");
    run_free(&r);
}

static void test_fragments_and_order(void **state) {
    (void)state;
    struct run r = {0};
    run_on(&r,
           "{ me { ... on User { email } id ...F who: name ... { role } ...F email __typename } "
           "__typename } fragment F on User { id name ...G } fragment G on User { isActive }",
           NULL, user_json, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 0);
    assert_data(&r, "{\"me\":{\"email\":\"a@example.com\",\"id\":\"1\",\"name\":\"Ann\","
                    "\"isActive\":true,\"who\":\"Ann\",\"role\":\"ADMIN\",\"__typename\":\"User\"},"
                    "\"__typename\":\"Query\"}");
    run_free(&r);
}

/* Query.products answers the arguments it got as its totalCount's source. */
static json_t *echo_products(struct gql_field_call *c) {
    json_t *edges = json_array();
    return json_pack("{s:o, s:O, s:{s:b}}", "edges", edges, "args", c->args, "pageInfo",
                     "hasNextPage", 0);
}

static json_t *echo_args(struct gql_field_call *c) {
    char *s = json_dumps(json_object_get(c->source, "args"), JSON_COMPACT | JSON_SORT_KEYS);
    json_t *out = json_integer((json_int_t)strlen(s));
    json_object_set_new(c->ctx, c->selection->alias ? c->selection->alias : "args", json_string(s));
    free(s);
    return out;
}

/* Product.name written by its write function: "W" for the product named
 * "P" (counting as many values as the root's "claims" says), declined for
 * any other. */
static bool write_name(struct gql_write_call *c) {
    if (strcmp(json_string_value(json_object_get(c->source, "name")), "P") != 0)
        return false;
    buf_puts(c->out, "\"W\"");
    c->values = (size_t)json_integer_value(json_object_get(c->source, "claims"));
    return true;
}

static void test_write_functions(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Product", "name", NULL, NULL, write_name}};
    struct run r = {0};
    const char *query = "{ product(id: 1) { name n: name sku: slug } }";
    run_on(&r, query, NULL, "{\"product\": {\"name\": \"P\", \"slug\": \"p\"}}", res, 1, NULL);
    assert_int_equal(r.errs.count, 0);
    assert_json(r.data, "{\"product\": {\"name\": \"W\", \"n\": \"W\", \"sku\": \"p\"}}");
    run_free(&r);
    /* Declined: the source's member. */
    run_on(&r, query, NULL, "{\"product\": {\"name\": \"Q\", \"slug\": \"q\"}}", res, 1, NULL);
    assert_json(r.data, "{\"product\": {\"name\": \"Q\", \"n\": \"Q\", \"sku\": \"q\"}}");
    run_free(&r);
    /* Past the bound on values: not used, the usual completion reports it. */
    r.values_max = 50;
    run_on(&r, query, NULL, "{\"product\": {\"name\": \"P\", \"slug\": \"p\", \"claims\": 100}}",
           res, 1, NULL);
    assert_json(r.data, "{\"product\": {\"name\": \"P\", \"n\": \"P\", \"sku\": \"p\"}}");
    run_free(&r);
}

/* The document's data over root_json with the resolvers, executed again
 * on the same document (an operation without variables: the fields it
 * collected the first time are kept with it). */
static void assert_again(struct gql_document *doc, const char *root_json,
                         const struct gql_resolver *res, size_t n, const char *want) {
    struct gql_errors errs = {0};
    json_t *root = json_loads(root_json, 0, NULL), *vars = json_object();
    struct gql_exec exec = {.doc = doc,
                            .operation = gql_operation(doc, NULL, &errs),
                            .variables = vars,
                            .resolvers = res,
                            .resolver_count = n,
                            .root = root};
    struct buf out = {0};
    gql_execute_text(&exec, &errs, &out);
    assert_int_equal(errs.count, 0);
    assert_string_equal(out.data, want);
    buf_clear(&out);
    json_decref(vars);
    json_decref(root);
    gql_errors_clear(&errs);
}

static void test_kept_fields(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Product", "name", NULL, NULL, write_name}};
    const char *query = "{ product(id: 1) { name n: name ...F @skip(if: false) sku: slug @skip(if: "
                        "true) } } fragment F on Product { slug }";
    const char *p = "{\"product\": {\"name\": \"P\", \"slug\": \"p\"}}";
    const char *q = "{\"product\": {\"name\": \"Q\", \"slug\": \"q\"}}";
    struct run r = {0};
    run_on(&r, query, NULL, p, res, 1, NULL);
    assert_int_equal(r.errs.count, 0);
    assert_data(&r, "{\"product\":{\"name\":\"W\",\"n\":\"W\",\"slug\":\"p\"}}");
    /* Again with another root, then without the write function: a table
     * of its own, not the fields kept for the first. */
    assert_again(r.doc, q, res, 1, "{\"product\":{\"name\":\"Q\",\"n\":\"Q\",\"slug\":\"q\"}}");
    assert_again(r.doc, p, NULL, 0, "{\"product\":{\"name\":\"P\",\"n\":\"P\",\"slug\":\"p\"}}");
    assert_again(r.doc, p, res, 1, "{\"product\":{\"name\":\"W\",\"n\":\"W\",\"slug\":\"p\"}}");
    run_free(&r); /* frees what the document kept */
}

static void test_argument_defaults(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {
        {"Query", "products", echo_products, NULL, NULL},
        {"ProductConnection", "totalCount", echo_args, NULL, NULL}};
    json_t *seen = json_object();
    struct run r = {0};
    run_on(&r,
           "query($n: Int, $s: ProductSort) { a: products { a: totalCount } b: products(first: "
           "$n, sort: $s, filter: {q: \"x\"}) { b: totalCount } }",
           "{\"n\": 3}", "{}", res, 2, seen);
    assert_int_equal(r.errs.count, 0);
    assert_json(
        seen,
        "{\"a\": \"{\\\"first\\\":20,\\\"sort\\\":\\\"CREATED_AT_DESC\\\"}\", "
        "\"b\": "
        "\"{\\\"filter\\\":{\\\"includeInactive\\\":false,\\\"q\\\":\\\"x\\\"},\\\"first\\\":3,"
        "\\\"sort\\\":\\\"CREATED_AT_DESC\\\"}\"}");
    run_free(&r);
    json_decref(seen);
}

static json_t *fail_sku(struct gql_field_call *c) {
    if (json_is_true(json_object_get(c->source, "bad")))
        gql_field_fail(c, NULL, "the variant cannot be read");
    return json_incref(json_object_get(c->source, "sku"));
}

static const char *const product_json =
    "{\"product\": {\"name\": \"P\", \"variants\": [{\"sku\": \"A\"}, {\"sku\": \"B\", \"bad\": "
    "true}]}, \"category\": {\"id\": \"1\", \"name\": null}, \"me\": {\"id\": 5}}";

static void test_null_propagation(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Variant", "sku", fail_sku, NULL, NULL}};
    struct run r = {0};
    /* Variant.sku is String!, variants [Variant!]!: the product becomes null. */
    run_on(&r, "{ product(id: 1) { name variants { sku } } me { id } }", NULL, product_json, res, 1,
           NULL);
    assert_data(&r, "{\"product\":null,\"me\":{\"id\":\"5\"}}");
    assert_one_error(&r, GQL_CODE_FIELD, "the variant cannot be read",
                     "[\"product\",\"variants\",1,\"sku\"]");
    assert_int_equal(r.errs.items[0].locs[0].line, 1);
    assert_int_equal(r.errs.items[0].locs[0].column, 36);
    run_free(&r);
    /* A null for a non-null field: the nearest nullable parent is null. */
    run_on(&r, "{ category(id: 1) { id name } }", NULL, product_json, NULL, 0, NULL);
    assert_data(&r, "{\"category\":null}");
    assert_one_error(&r, GQL_CODE_FIELD, "Cannot return null for non-nullable field Category.name.",
                     "[\"category\",\"name\"]");
    run_free(&r);
    /* Up to data itself, through a non-null root field. */
    run_on(&r, "{ categories { id name } }", NULL, "{\"categories\": [{\"id\": 1, \"name\": 2}]}",
           NULL, 0, NULL);
    assert_data(&r, "null");
    assert_one_error(&r, GQL_CODE_FIELD, "String cannot represent value: 2",
                     "[\"categories\",0,\"name\"]");
    run_free(&r);
}

/* A variable's null given to a non-null argument (its default does not
 * apply to an explicit null), and values their types cannot represent. */
static void test_argument_and_value_errors(void **state) {
    (void)state;
    struct run r = {0};
    run(&r, "query($n: String = \"Query\") { __type(name: $n) { name } }", "{\"n\": null}", NULL,
        NULL, 0, NULL);
    assert_data(&r, "{\"__type\":null}");
    assert_one_error(&r, GQL_CODE_BAD_INPUT,
                     "Argument \"name\" of non-null type \"String!\" must not be null.",
                     "[\"__type\"]");
    run_free(&r);
    run(&r, "query($n: String = \"Query\") { __type(name: $n) { name } }", "{}", NULL, NULL, 0,
        NULL);
    assert_data(&r, "{\"__type\":{\"name\":\"Query\"}}");
    run_free(&r);
    run_on(&r, "{ me { id role } }", NULL, "{\"me\": {\"id\": [1], \"role\": \"KING\"}}", NULL, 0,
           NULL);
    assert_data(&r, "{\"me\":null}");
    assert_int_equal(r.errs.count, 1); /* the first non-null field's error nulls me */
    assert_non_null(strstr(r.errs.items[0].message, "ID cannot represent value: [1]"));
    run_free(&r);
    run_on(&r, "{ me { role } categories { children { id } } }", NULL,
           "{\"me\": {\"role\": \"KING\"}, \"categories\": [{\"children\": [{\"id\": 1}, "
           "{\"id\": 2}]}]}",
           NULL, 0, NULL);
    assert_data(&r, "{\"me\":null,\"categories\":[{\"children\":[{\"id\":\"1\"},{\"id\":"
                    "\"2\"}]}]}");
    assert_one_error(&r, GQL_CODE_FIELD, "Role cannot represent value: \"KING\"",
                     "[\"me\",\"role\"]");
    run_free(&r);
    run_on(&r, "{ products { totalCount } }", NULL, "{\"products\": {\"totalCount\": 2147483648}}",
           NULL, 0, NULL);
    assert_data(&r, "null");
    assert_one_error(&r, GQL_CODE_FIELD, "Int cannot represent value: 2147483648",
                     "[\"products\",\"totalCount\"]");
    run_free(&r);
    /* a value quoted in part is cut after a whole character */
    char value[192] = "{\"products\": {\"totalCount\": \"";
    for (int i = 0; i < 60; i++)
        strcat(value, "\xC3\xA9");
    strcat(value, "\"}}");
    run_on(&r, "{ products { totalCount } }", NULL, value, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 1);
    const char *message = r.errs.items[0].message;
    assert_non_null(strstr(message, "Int cannot represent value: \"\xC3\xA9"));
    assert_null(strstr(message, "\xEF\xBF\xBD"));              /* no byte of a character cut off */
    assert_int_equal(strlen(strstr(message, ": \"")) - 3, 80); /* 40 characters of 2 bytes */
    run_free(&r);
}

/* The response's values are bounded as they are made: past the bound,
 * no data and one error. */
static void test_values_bound(void **state) {
    (void)state;
    const char *q = "{ __schema { types { name } } a: __typename }";
    size_t n;
    gql_schema_types(&n);
    struct run r = {.values_max = 1 + 1 + 2 * n + 1}; /* __schema, types, items and names, a */
    run(&r, q, NULL, NULL, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 0);
    run_free(&r);
    r.values_max = 1 + 1 + 2 * n;
    run(&r, q, NULL, NULL, NULL, 0, NULL);
    assert_data(&r, "null");
    assert_one_error(&r, GQL_CODE_LIMIT, "more than", NULL);
    run_free(&r);
    r.values_max = 20;
    run(&r, q, NULL, NULL, NULL, 0, NULL);
    assert_data(&r, "null");
    assert_one_error(&r, GQL_CODE_LIMIT, "The response would have more than 20 values.", NULL);
    run_free(&r);
}

struct batch_count {
    int batches;
};

/* A batch: counted, and made(item) stored as each item's member of the
 * field's name. */
static void batch_store(struct gql_field_call *c, json_t *(*made)(const json_t *item)) {
    struct batch_count *n = c->ctx;
    n->batches++;
    size_t i;
    json_t *item;
    json_array_foreach(c->sources, i, item) {
        json_object_set_new(item, c->field->name, made(item));
    }
}

/* A product's variants: one, whose SKU is the product's name. */
static json_t *variants_of(const json_t *item) {
    return json_pack("[{s:s}]", "sku", json_string_value(json_object_get(item, "name")));
}

static void batch_variants(struct gql_field_call *c) {
    batch_store(c, variants_of);
}

static void test_batch(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Product", "variants", NULL, batch_variants, NULL}};
    struct batch_count n = {0};
    struct run r = {0};
    run_on(&r, "{ categories { id } products { edges { node { variants { sku } } } } }", NULL,
           "{\"categories\": [], \"products\": {\"edges\": [{\"node\": {\"name\": \"x\"}}, "
           "{\"node\": {\"name\": \"y\"}}]}}",
           res, 1, &n);
    assert_int_equal(r.errs.count, 0);
    assert_data(&r, "{\"categories\":[],\"products\":{\"edges\":[{\"node\":{\"variants\":[{"
                    "\"sku\":\"x\"}]}},{\"node\":{\"variants\":[{\"sku\":\"y\"}]}}]}}");
    run_free(&r);
    /* The edges are one list: their nodes' variants are one batch. */
    assert_int_equal(n.batches, 1);
}

/* The introspection query's answer, for tests/graphql/introspection.mjs
 * (buildClientSchema, validateSchema, printSchema against
 * docs/schema.graphql). */
static void test_introspection_query(void **state) {
    (void)state;
    struct run r = {0};
    run(&r, introspection_query, NULL, NULL, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 0);
    json_t *schema = json_object_get(r.data, "__schema");
    assert_json(json_object_get(schema, "queryType"),
                "{\"name\": \"Query\", \"kind\": \"OBJECT\"}");
    assert_true(json_is_null(json_object_get(schema, "mutationType")));
    assert_true(json_is_null(json_object_get(schema, "subscriptionType")));
    size_t n;
    gql_schema_types(&n);
    assert_int_equal(json_array_size(json_object_get(schema, "types")), n);
    json_t *doc = json_pack("{s:O}", "data", r.data);
    assert_int_equal(json_dump_file(doc, NEXUS_BUILD_DIR "/graphql-introspection.json",
                                    JSON_INDENT(1) | JSON_PRESERVE_ORDER),
                     0);
    json_decref(doc);
    run_free(&r);
}

/* __type(name:), ofType chains, arguments' defaults as literal text,
 * deprecated fields only when asked. */
static void test_type_lookup(void **state) {
    (void)state;
    struct run r = {0};
    run(&r,
        "{ __type(name: \"Query\") { name fields { name type { kind name ofType { kind name "
        "ofType { kind name ofType { kind name ofType { name } } } } } args { name "
        "defaultValue } } } none: __type(name: \"Nope\") { name } "
        "sort: __type(name: \"ProductSort\") { kind enumValues(includeDeprecated: true) { name } "
        "fields { name } inputFields { name } interfaces { name } specifiedByURL } "
        "dir: __schema { directives { name isRepeatable locations args { name type { kind } "
        "defaultValue } } } }",
        NULL, NULL, NULL, 0, NULL);
    assert_int_equal(r.errs.count, 0);
    json_t *fields = json_object_get(json_object_get(r.data, "__type"), "fields");
    json_t *categories = json_array_get(fields, 3);
    assert_json(categories,
                "{\"name\": \"categories\", \"type\": {\"kind\": \"NON_NULL\", \"name\": null, "
                "\"ofType\": {\"kind\": \"LIST\", \"name\": null, \"ofType\": {\"kind\": "
                "\"NON_NULL\", \"name\": null, \"ofType\": {\"kind\": \"OBJECT\", \"name\": "
                "\"Category\", \"ofType\": null}}}}, \"args\": [{\"name\": \"parent\", "
                "\"defaultValue\": null}]}");
    json_t *products = json_array_get(fields, 1);
    assert_json(json_array_get(json_object_get(products, "args"), 1),
                "{\"name\": \"sort\", \"defaultValue\": \"CREATED_AT_DESC\"}");
    assert_true(json_is_null(json_object_get(r.data, "none")));
    assert_json(json_object_get(r.data, "sort"),
                "{\"kind\": \"ENUM\", \"enumValues\": [{\"name\": \"CREATED_AT_DESC\"}, "
                "{\"name\": \"CREATED_AT_ASC\"}, {\"name\": \"PRICE_ASC\"}, {\"name\": "
                "\"PRICE_DESC\"}, {\"name\": \"NAME_ASC\"}, {\"name\": \"NAME_DESC\"}], "
                "\"fields\": null, \"inputFields\": null, \"interfaces\": null, "
                "\"specifiedByURL\": null}");
    json_t *deprecated =
        json_array_get(json_object_get(json_object_get(r.data, "dir"), "directives"), 2);
    assert_json(deprecated,
                "{\"name\": \"deprecated\", \"isRepeatable\": false, \"locations\": "
                "[\"FIELD_DEFINITION\", \"ARGUMENT_DEFINITION\", \"ENUM_VALUE\", "
                "\"INPUT_FIELD_DEFINITION\"], \"args\": [{\"name\": \"reason\", \"type\": "
                "{\"kind\": \"SCALAR\"}, \"defaultValue\": \"\\\"No longer supported\\\"\"}]}");
    run_free(&r);
}

/* A category's children: their ids are its id followed by 1 and 2. */
static json_t *children_of(const json_t *item) {
    const char *id = json_string_value(json_object_get(item, "id"));
    return json_pack("[{s:s+}, {s:s+}]", "id", id, "1", "id", id, "2");
}

static void batch_children(struct gql_field_call *c) {
    batch_store(c, children_of);
}

/* Nested lists: one batch per level, however many parents. */
static void test_batch_levels(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Category", "children", NULL, batch_children, NULL}};
    struct batch_count n = {0};
    struct run r = {0};
    run_on(&r, "{ categories { id children { id children { id } } } }", NULL,
           "{\"categories\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", res, 1, &n);
    assert_int_equal(r.errs.count, 0);
    assert_int_equal(n.batches, 2);
    assert_data(&r, "{\"categories\":[{\"id\":\"a\",\"children\":[{\"id\":\"a1\",\"children\":"
                    "[{\"id\":\"a11\"},{\"id\":\"a12\"}]},{\"id\":\"a2\",\"children\":[{\"id\":"
                    "\"a21\"},{\"id\":\"a22\"}]}]},{\"id\":\"b\",\"children\":[{\"id\":\"b1\","
                    "\"children\":[{\"id\":\"b11\"},{\"id\":\"b12\"}]},{\"id\":\"b2\",\"children\":"
                    "[{\"id\":\"b21\"},{\"id\":\"b22\"}]}]}]}");
    run_free(&r);
}

static void batch_fails(struct gql_field_call *c) {
    struct batch_count *n = c->ctx;
    n->batches++;
    gql_field_fail(c, "GRAPHQL_BAD_USER_INPUT", "min_price must be a decimal");
}

/* A failed batch fails the field of each item at the item's own path, and
 * nothing else: the nulls climb from there as the types say (one error
 * when the first item's null reaches data). */
static void test_batch_failure(void **state) {
    (void)state;
    static const struct gql_resolver res[] = {{"Category", "products", NULL, batch_fails, NULL}};
    struct batch_count n = {0};
    struct run r = {0};
    run_on(&r, "{ category(id: 1) { id products { totalCount } } }", NULL,
           "{\"category\": {\"id\": \"a\"}}", res, 1, &n);
    assert_int_equal(n.batches, 1);
    assert_data(&r, "{\"category\":null}");
    assert_one_error(&r, "GRAPHQL_BAD_USER_INPUT", "min_price must be a decimal",
                     "[\"category\",\"products\"]");
    assert_int_equal(r.errs.items[0].locs[0].column, 24);
    run_free(&r);
    run_on(&r, "{ categories { id products { totalCount } } }", NULL,
           "{\"categories\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", res, 1, &n);
    assert_int_equal(n.batches, 2);
    /* The first item's null climbs to data, as in graphql-js: the rest
     * of the list is not completed. */
    assert_data(&r, "null");
    assert_one_error(&r, "GRAPHQL_BAD_USER_INPUT", "min_price", "[\"categories\",0,\"products\"]");
    run_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variable_faults),
        cmocka_unit_test(test_variable_faults_quote_names_cut),
        cmocka_unit_test(test_messages_are_bounded),
        cmocka_unit_test(test_variable_bounds),
        cmocka_unit_test(test_variable_values),
        cmocka_unit_test(test_skip_include),
        cmocka_unit_test(test_fragments_and_order),
        cmocka_unit_test(test_argument_defaults),
        cmocka_unit_test(test_null_propagation),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_argument_and_value_errors),
        cmocka_unit_test(test_values_bound),
        cmocka_unit_test(test_batch_levels),
        cmocka_unit_test(test_batch_failure),
        cmocka_unit_test(test_introspection_query),
        cmocka_unit_test(test_type_lookup),
        cmocka_unit_test(test_write_functions),
        cmocka_unit_test(test_kept_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
