/*
 * test_graphql.c -- POST and GET /graphql over HTTP against the REST API's
 * answers: every root field, nested fields (variants, category, parent,
 * children, Category.products), fragments, aliases, variables and
 * @include/@skip, visibility for customers and staff, cursors shared with
 * REST, field errors with their path, and request errors (400, JSON).
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct nexus_server server;
static char *staff, *customer;
static long long home, kitchen, kettles, garden;
static long long red_kettle, hidden_lamp, mixed_mug;

static long long create_category(const char *name, const char *slug, long long parent) {
    return gql_test_category(staff, name, slug, parent);
}

static long long create_product(json_t *body) {
    struct http_res *r = call_owned("POST", "/api/v1/products", staff, dump(body));
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static long long simple_product(const char *sku, const char *name, const char *price,
                                long long category) {
    return create_product(json_pack("{s:s, s:s, s:s, s:i, s:I}", "sku", sku, "name", name, "price",
                                    price, "stock", 3, "category_id", (json_int_t)category));
}

static int start(void **state) {
    (void)state;
    harness_start(&server, "graphql", NULL);
    harness_staff_and_customer(&server, "graphql", &staff, &customer);
    home = create_category("Home", "home", 0);
    kitchen = create_category("Kitchen", "kitchen", home);
    kettles = create_category("Kettles", "kettles", kitchen);
    garden = create_category("Garden", "garden", 0);
    red_kettle = create_product(
        json_pack("{s:s, s:s, s:I, s:{s:s, s:i, s:b}, s:[{s:s, s:s}], s:[{s:s, s:s, s:i, s:{s:s}},"
                  " {s:s, s:s, s:i, s:{s:s}}]}",
                  "name", "Red Kettle", "description", "A kettle, red", "category_id",
                  (json_int_t)kettles, "attributes", "brand", "Acme", "watts", 1500, "cordless", 1,
                  "images", "url", "https://img.example.com/red.jpg", "alt", "red", "variants",
                  "sku", "RK-S", "price", "10", "stock", 2, "options", "Size", "S", "sku", "RK-M",
                  "price", "12.5", "stock", 0, "options", "Size", "M"));
    simple_product("BK-1", "Blue Kettle", "20", kettles);
    simple_product("CK-1", "Chef Knife", "35", kitchen);
    simple_product("RK-1", "Rake", "15", garden);
    hidden_lamp = create_product(json_pack("{s:s, s:s, s:s, s:i, s:I, s:b}", "sku", "HL-1", "name",
                                           "Hidden Lamp", "price", "40", "stock", 1, "category_id",
                                           (json_int_t)home, "is_active", 0));
    mixed_mug = create_product(
        json_pack("{s:s, s:I, s:[{s:s, s:s, s:i, s:{s:s}}, {s:s, s:s, s:i, s:{s:s}, s:b}]}", "name",
                  "Mixed Mug", "category_id", (json_int_t)kitchen, "variants", "sku", "MM-1",
                  "price", "8", "stock", 1, "options", "Color", "White", "sku", "MM-2", "price",
                  "9", "stock", 1, "options", "Color", "Black", "is_active", 0));
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff);
    free(customer);
    harness_stop(&server);
    return 0;
}

/* data as compact text with keys in response order. */
static char *data_text(struct http_res *r) {
    return json_dumps(gql_data(r), JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void expect_data(struct http_res *r, const char *want) {
    char *got = data_text(r);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
    assert_string_equal(got, want);
    free(got);
    http_res_free(r);
}

/* ---- root fields -------------------------------------------------------- */

static void test_product_by_id_and_slug(void **state) {
    (void)state;
    char q[512], want[1024];
    snprintf(q, sizeof q,
             "{ a: product(id: %lld) { name sku price currency stock inStock isActive priceRange "
             "{ min max } options { name values } variantCount attributes { key value type } "
             "images { url alt } } b: product(slug: \"red-kettle\") { id slug } }",
             red_kettle);
    snprintf(want, sizeof want,
             "{\"a\":{\"name\":\"Red Kettle\",\"sku\":\"RK-S\",\"price\":\"10.00\",\"currency\":"
             "\"USD\",\"stock\":2,\"inStock\":true,\"isActive\":true,\"priceRange\":{\"min\":"
             "\"10.00\",\"max\":\"12.50\"},\"options\":[{\"name\":\"Size\",\"values\":[\"S\","
             "\"M\"]}],\"variantCount\":2,\"attributes\":[{\"key\":\"brand\",\"value\":\"Acme\","
             "\"type\":\"STRING\"},{\"key\":\"cordless\",\"value\":\"true\",\"type\":\"BOOLEAN\"},"
             "{\"key\":\"watts\",\"value\":\"1500\",\"type\":\"NUMBER\"}],\"images\":[{\"url\":"
             "\"https://img.example.com/red.jpg\",\"alt\":\"red\"}]},\"b\":{\"id\":\"%lld\","
             "\"slug\":\"red-kettle\"}}",
             red_kettle);
    expect_data(gql_post(NULL, q, NULL), want);
    /* none, a malformed id, and both keys */
    expect_data(
        gql_post(NULL, "{ product(id: 999999) { id } x: product(id: \"abc\") { id } }", NULL),
        "{\"product\":null,\"x\":null}");
    struct http_res *r = gql_post(NULL, "{ product(id: 1, slug: \"x\") { id } }", NULL);
    gql_expect_error(r, 200, "GRAPHQL_BAD_USER_INPUT", "exactly one of id and slug");
    http_res_free(r);
}

/* A query whose arguments REST refuses: one error on the field. */
static void expect_bad_input(const char *query, const char *message) {
    struct http_res *r = gql_post(NULL, query, NULL);
    gql_expect_error(r, 200, "GRAPHQL_BAD_USER_INPUT", message);
    http_res_free(r);
}

static void test_product_variants_and_category_path(void **state) {
    (void)state;
    char q[512], want[1024];
    snprintf(q, sizeof q,
             "{ product(id: %lld) { variants { sku price stock inStock options { name value } "
             "position isActive productId } category { name parent { slug parent { slug parent "
             "{ slug } } } } } }",
             red_kettle);
    snprintf(want, sizeof want,
             "{\"product\":{\"variants\":[{\"sku\":\"RK-S\",\"price\":\"10.00\",\"stock\":2,"
             "\"inStock\":true,\"options\":[{\"name\":\"Size\",\"value\":\"S\"}],\"position\":1,"
             "\"isActive\":true,\"productId\":\"%lld\"},{\"sku\":\"RK-M\",\"price\":\"12.50\","
             "\"stock\":0,\"inStock\":false,\"options\":[{\"name\":\"Size\",\"value\":\"M\"}],"
             "\"position\":2,\"isActive\":true,\"productId\":\"%lld\"}],\"category\":{\"name\":"
             "\"Kettles\",\"parent\":{\"slug\":\"kitchen\",\"parent\":{\"slug\":\"home\","
             "\"parent\":null}}}}}",
             red_kettle, red_kettle);
    expect_data(gql_post(NULL, q, NULL), want);
}

/* A variant's options by name ignoring case, as the product's options
 * summary lists them. */
static void test_variant_options_by_name_ignoring_case(void **state) {
    (void)state;
    long long id = create_product(json_pack("{s:s, s:b, s:[{s:s, s:s, s:i, s:{s:s, s:s, s:s}}]}",
                                            "name", "Case Order", "is_active", 0, "variants", "sku",
                                            "CO-1", "price", "1", "stock", 1, "options", "color",
                                            "red", "Size", "M", "Zeta", "1"));
    char q[160], path[64];
    snprintf(q, sizeof q, "{ product(id: %lld) { variants { options { name } } } }", id);
    struct http_res *r = gql_post(staff, q, NULL);
    json_t *variants = json_object_get(json_object_get(gql_data(r), "product"), "variants");
    json_t *options = json_object_get(json_array_get(variants, 0), "options");
    assert_int_equal(json_array_size(options), 3);
    static const char *const want[] = {"color", "Size", "Zeta"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(jstr(json_array_get(options, i), "name"), want[i]);
    http_res_free(r);
    snprintf(path, sizeof path, "/api/v1/products/%lld", id);
    r = call("DELETE", path, staff, NULL);
    expect_status(r, 204, "delete");
    http_res_free(r);
}

/* A variable's null where its definition has a default passes
 * validation; in a non-null place inside an argument it is the field's
 * error (it crashed the server, or dropped the filter). */
static void test_a_defaulted_variables_null_in_a_non_null_place_is_an_error(void **state) {
    (void)state;
    static const struct {
        const char *query, *variables, *message;
    } cases[] = {
        {"query($v: String = \"Acme\") { products(filter: {attributes: [{key: \"brand\", values: "
         "[$v]}]}) { totalCount } }",
         "{\"v\": null}", "filter.attributes[0].values[0] must not be null"},
        {"query($a: AttributeFilter = {key: \"brand\", values: [\"Acme\"]}) { products(filter: "
         "{attributes: [$a]}) { totalCount } }",
         "{\"a\": null}", "filter.attributes[0] must not be null"},
        {"query($v: [String!] = [\"M\"]) { facets(filter: {options: [{name: \"Size\", values: "
         "$v}]}) { total } }",
         "{\"v\": null}", "filter.options[0].values must not be null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_res *r = gql_post(NULL, cases[i].query, cases[i].variables);
        gql_expect_error(r, 200, "GRAPHQL_BAD_USER_INPUT", cases[i].message);
        assert_true(json_is_null(json_object_get(r->json, "data")));
        http_res_free(r);
    }
    /* without the null, the default holds */
    struct http_res *r = gql_post(NULL, cases[0].query, "{}");
    assert_int_equal(jint(json_object_get(gql_data(r), "products"), "totalCount"), 1);
    http_res_free(r);
}

static void test_products_connection_matches_rest(void **state) {
    (void)state;
    struct http_res *rest = call("GET", "/api/v1/products?limit=2&sort=name", NULL, NULL);
    expect_status(rest, 200, "rest list");
    struct http_res *r = gql_post(
        NULL,
        "{ products(first: 2, sort: NAME_ASC) { totalCount edges { cursor node { id name } } "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
        NULL);
    json_t *conn = json_object_get(gql_data(r), "products");
    json_t *items = json_object_get(rest->json, "items");
    json_t *edges = json_object_get(conn, "edges");
    assert_int_equal(json_array_size(edges), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *node = json_object_get(json_array_get(edges, i), "node");
        assert_string_equal(jstr(node, "name"), jstr(json_array_get(items, i), "name"));
    }
    json_t *info = json_object_get(conn, "pageInfo");
    assert_true(json_is_true(json_object_get(info, "hasNextPage")));
    assert_true(json_is_false(json_object_get(info, "hasPreviousPage")));
    /* the same cursor as REST's, and the last edge's */
    assert_string_equal(jstr(info, "endCursor"), jstr(rest->json, "next_cursor"));
    assert_string_equal(jstr(info, "endCursor"), jstr(json_array_get(edges, 1), "cursor"));
    assert_string_equal(jstr(info, "startCursor"), jstr(json_array_get(edges, 0), "cursor"));
    assert_int_equal(jint(conn, "totalCount"), 5); /* active products only */
    http_res_free(r);
    http_res_free(rest);
}

/* in_stock -> inStock */
static void camel(const char *key, char *out, size_t cap) {
    size_t n = 0;
    for (const char *c = key; *c && n + 1 < cap; c++)
        out[n++] = *c == '_' && c[1] ? (char)(*++c - 'a' + 'A') : *c;
    out[n] = '\0';
}

/* An id: REST's integer, GraphQL's string. */
static void assert_same_id(json_t *rest, json_t *gql) {
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(rest));
    assert_string_equal(json_string_value(gql), text);
}

/* Every member of a REST list item equals the node's (renamed; ids as
 * strings; attributes as {key, value, type}). */
static void assert_node_is_item(json_t *item, json_t *node) {
    const char *key;
    json_t *v;
    json_object_foreach(item, key, v) {
        char name[64];
        camel(key, name, sizeof name);
        json_t *g = json_object_get(node, name);
        if (strcmp(key, "id") == 0) {
            assert_same_id(v, g);
        } else if (strcmp(key, "category") == 0) {
            assert_same_id(json_object_get(v, "id"), json_object_get(g, "id"));
            assert_string_equal(jstr(v, "slug"), jstr(g, "slug"));
        } else if (strcmp(key, "attributes") == 0) {
            assert_int_equal(json_array_size(g), json_object_size(v));
        } else {
            if (!json_equal(v, g))
                fprintf(stderr, "member %s differs\n", key);
            assert_true(json_equal(v, g));
        }
    }
}

static void nodes_are_items(const char *token) {
    struct http_res *rest =
        call("GET", "/api/v1/products?limit=100&include_inactive=true", token, NULL);
    struct http_res *r = gql_post(
        token,
        "{ products(first: 100, filter: {includeInactive: true}) { edges { node { id sku name "
        "slug description price currency stock inStock isActive category { id slug } createdAt "
        "updatedAt priceRange { min max } options { name values } variantCount attributes { key "
        "} images { url alt } } } } }",
        NULL);
    json_t *items = json_object_get(rest->json, "items");
    json_t *edges = json_object_get(json_object_get(gql_data(r), "products"), "edges");
    assert_int_equal(json_array_size(edges), json_array_size(items));
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_node_is_item(json_array_get(items, i),
                            json_object_get(json_array_get(edges, i), "node"));
    http_res_free(r);
    http_res_free(rest);
}

static void test_nodes_are_rest_items(void **state) {
    (void)state;
    nodes_are_items(NULL);
    nodes_are_items(staff); /* inactive ones, and variant counts with inactive variants */
}

/* A GraphQL endCursor continues a REST list and the other way round. */
static void test_cursors_round_trip_with_rest(void **state) {
    (void)state;
    struct http_res *rest = call("GET", "/api/v1/products?limit=2&sort=-price", NULL, NULL);
    char vars[1024];
    snprintf(vars, sizeof vars, "{\"after\": \"%s\"}", jstr(rest->json, "next_cursor"));
    struct http_res *r = gql_post(
        NULL,
        "query($after: String) { products(first: 2, sort: PRICE_DESC, after: $after) { edges "
        "{ node { name } } pageInfo { endCursor } } }",
        vars);
    char path[1024];
    snprintf(path, sizeof path, "/api/v1/products?limit=2&sort=-price&cursor=%s",
             jstr(rest->json, "next_cursor"));
    struct http_res *rest2 = call("GET", path, NULL, NULL);
    json_t *edges = json_object_get(json_object_get(gql_data(r), "products"), "edges");
    json_t *items = json_object_get(rest2->json, "items");
    assert_int_equal(json_array_size(edges), json_array_size(items));
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_string_equal(jstr(json_object_get(json_array_get(edges, i), "node"), "name"),
                            jstr(json_array_get(items, i), "name"));
    const char *end =
        jstr(json_object_get(json_object_get(gql_data(r), "products"), "pageInfo"), "endCursor");
    snprintf(path, sizeof path, "/api/v1/products?limit=2&sort=-price&cursor=%s", end);
    struct http_res *rest3 = call("GET", path, NULL, NULL);
    expect_status(rest3, 200, "REST page after a GraphQL cursor");
    assert_int_equal(json_array_size(json_object_get(rest3->json, "items")), 1);
    /* a cursor of another sort is refused, as REST refuses it */
    struct http_res *bad =
        gql_post(NULL,
                 "query($after: String) { products(first: 2, sort: NAME_ASC, after: $after) { "
                 "totalCount } }",
                 vars);
    gql_expect_error(bad, 200, "GRAPHQL_BAD_USER_INPUT", "invalid cursor");
    json_t *err = json_array_get(json_object_get(bad->json, "errors"), 0);
    char *path_text = dump(json_incref(json_object_get(err, "path")));
    assert_string_equal(path_text, "[\"products\"]");
    free(path_text);
    assert_true(json_is_null(json_object_get(bad->json, "data")));
    http_res_free(bad);
    http_res_free(rest3);
    http_res_free(rest2);
    http_res_free(r);
    http_res_free(rest);
}

static void test_filters_as_rest(void **state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof path,
             "/api/v1/products?category=home&min_price=9&attr.brand=acme&include_total=true");
    struct http_res *rest = call("GET", path, NULL, NULL);
    struct http_res *r = gql_get(
        NULL,
        "query($f: ProductFilter) { products(filter: $f) { totalCount edges { node { name } } "
        "pageInfo { endCursor } } }",
        "{\"f\": {\"category\": \"home\", \"minPrice\": \"9\", \"attributes\": [{\"key\": "
        "\"brand\", \"values\": [\"acme\"]}]}}");
    json_t *conn = json_object_get(gql_data(r), "products");
    assert_int_equal(jint(conn, "totalCount"), jint(rest->json, "total"));
    assert_int_equal(jint(conn, "totalCount"), 1);
    http_res_free(r);
    http_res_free(rest);
    /* a malformed value: REST's message, on the field, naming the argument */
    expect_bad_input("{ products(filter: {minPrice: \"abc\"}) { totalCount } }",
                     "filter.minPrice must be a decimal");
    expect_bad_input("{ products(filter: {attributes: [{key: \"Brand\", values: [\"x\"]}]}) { "
                     "totalCount } }",
                     "filter.attributes (key \"Brand\"): an attribute key is");
    expect_bad_input("{ products(filter: {attributes: [{key: \"BAD KEY\", values: [\"x\"]}]}) { "
                     "totalCount } }",
                     "filter.attributes (key \"BAD KEY\"): an attribute key is");
    /* with nothing to compare, the key is still checked, as REST's attr.Brand= */
    expect_bad_input("{ products(filter: {attributes: [{key: \"Brand\"}]}) { totalCount } }",
                     "filter.attributes (key \"Brand\"): an attribute key is");
    expect_bad_input("{ facets(filter: {attributes: [{key: \"\", values: []}]}) { total } }",
                     "filter.attributes (key \"\"): an attribute key is");
    /* and a well-formed key with nothing to compare filters nothing */
    r = gql_post(NULL, "{ products(filter: {attributes: [{key: \"brand\"}]}) { totalCount } }",
                 NULL);
    rest = call("GET", "/api/v1/products?include_total=true", NULL, NULL);
    assert_int_equal(jint(json_object_get(gql_data(r), "products"), "totalCount"),
                     jint(rest->json, "total"));
    http_res_free(r);
    http_res_free(rest);
    expect_bad_input("{ facets(filter: {options: [{name: \"Size\", values: [\"\"]}]}) { total } }",
                     "filter.options (name \"Size\"): a value may not be empty");
    expect_bad_input(
        "{ products(filter: {options: [{name: \"\", values: [\"M\"]}]}) { totalCount } }",
        "filter.options (name \"\"): an option name is 1 to 50 characters");
    expect_bad_input("{ products(filter: {attributes: [{key: \"brand\", values: [\"a\"]}, {key: "
                     "\"brand\", values: [\"b\"]}]}) { totalCount } }",
                     "filter.attributes (key \"brand\") is repeated");
    /* an explicit null is the default, as for sort and after */
    r = gql_post(NULL, "{ products(first: null, sort: null, after: null) { totalCount } }", NULL);
    assert_true(jint(json_object_get(gql_data(r), "products"), "totalCount") > 0);
    http_res_free(r);
    expect_bad_input("{ products(first: 0) { totalCount } }", "first must be from 1 to 100");
    /* a category that does not exist: an empty page */
    expect_data(gql_post(NULL,
                         "{ products(filter: {category: \"nothing-here\"}) { totalCount edges { "
                         "cursor } pageInfo { hasNextPage endCursor } } }",
                         NULL),
                "{\"products\":{\"totalCount\":0,\"edges\":[],\"pageInfo\":{\"hasNextPage\":false,"
                "\"endCursor\":null}}}");
}

/* A key is judged as a key before it names a parameter: "watts.min" was
 * read as the key watts and its lower bound. */
static void test_an_attribute_key_is_only_a_key(void **state) {
    (void)state;
    expect_bad_input("{ products(first: 1, filter: {attributes: [{key: \"watts.min\", values: "
                     "[\"1000\"]}]}) { totalCount } }",
                     "filter.attributes (key \"watts.min\"): an attribute key is 1 to 40");
    expect_bad_input("{ products(filter: {attributes: [{key: \"watts.max\", min: 1}]}) { "
                     "totalCount } }",
                     "filter.attributes (key \"watts.max\"): an attribute key is");
    expect_bad_input("{ facets(filter: {attributes: [{key: \"watts.min\", values: [\"1000\"]}]}) { "
                     "total } }",
                     "filter.attributes (key \"watts.min\"): an attribute key is");
    expect_bad_input("{ facets(filter: {attributes: [{key: \"brand.avg\"}]}) { total } }",
                     "filter.attributes (key \"brand.avg\"): an attribute key is");
    /* a bound REST refuses is named with its bound */
    expect_bad_input("{ products(filter: {attributes: [{key: \"watts\", max: 1e50}]}) { "
                     "totalCount } }",
                     "filter.attributes (key \"watts\").max must be a decimal number");
}

/* "{ products(filter: {attributes: [...]}) { totalCount } }" with n
 * filters {key: "aN", min: 1, max: 2}. */
static char *ranges(int n) {
    char *q = malloc(96 + 40 * (size_t)n);
    int at = sprintf(q, "{ products(filter: {attributes: [");
    for (int i = 0; i < n; i++)
        at += sprintf(q + at, "%s{key: \"a%d\", min: 1, max: 2}", i ? ", " : "", i);
    sprintf(q + at, "]}) { totalCount } }");
    return q;
}

/* REST allows 10 attr.* and option.* parameters, and a filter with values,
 * min and max is three of them: six such filters passed the count of
 * filters and failed REST's, with a message naming its parameters. */
static void test_conditions_are_counted_as_rest_counts_them(void **state) {
    (void)state;
    char *q = ranges(6);
    expect_bad_input(q, "filter.attributes and filter.options: at most 10 conditions");
    free(q);
    expect_bad_input(
        "{ facets(filter: {attributes: [{key: \"a\", values: [\"x\"], min: 1, max: 2}, "
        "{key: \"b\", values: [\"x\"], min: 1, max: 2}, {key: \"c\", values: [\"x\"], "
        "min: 1, max: 2}], options: [{name: \"Size\", values: [\"M\"]}, {name: "
        "\"Color\", values: [\"red\"]}]}) { total } }",
        "at most 10 conditions");
    q = ranges(5); /* ten */
    struct http_res *r = gql_post(NULL, q, NULL);
    assert_int_equal(jint(json_object_get(gql_data(r), "products"), "totalCount"), 0);
    http_res_free(r);
    free(q);
}

static void test_categories_tree(void **state) {
    (void)state;
    expect_data(gql_post(NULL, "{ categories { slug } }", NULL),
                "{\"categories\":[{\"slug\":\"garden\"},{\"slug\":\"home\"},{\"slug\":\"kettles\"},"
                "{\"slug\":\"kitchen\"}]}");
    expect_data(gql_post(NULL,
                         "{ categories(parent: null) { slug children { slug parent { slug } } } }",
                         NULL),
                "{\"categories\":[{\"slug\":\"garden\",\"children\":[]},{\"slug\":\"home\","
                "\"children\":[{\"slug\":\"kitchen\",\"parent\":{\"slug\":\"home\"}}]}]}");
    char q[256];
    snprintf(q, sizeof q, "{ category(id: %lld) { children { slug children { slug } } } }", home);
    expect_data(gql_post(NULL, q, NULL),
                "{\"category\":{\"children\":[{\"slug\":\"kitchen\",\"children\":[{\"slug\":"
                "\"kettles\"}]}]}}");
    char want[128];
    snprintf(want, sizeof want, "{\"categories\":[{\"name\":\"Kitchen\",\"parentId\":\"%lld\"}]}",
             home);
    expect_data(gql_post(NULL, "{ categories(parent: \"home\") { name parentId } }", NULL), want);
    expect_data(gql_post(NULL, "{ categories(parent: \"no-such\") { name } }", NULL),
                "{\"categories\":[]}");
    /* an empty parent is ignored, as REST's parent= is: every category */
    struct http_res *all = gql_post(NULL, "{ categories { slug } }", NULL);
    struct http_res *empty = gql_post(NULL, "{ categories(parent: \"\") { slug } }", NULL);
    assert_true(json_array_size(json_object_get(gql_data(all), "categories")) > 1);
    assert_true(json_equal(gql_data(all), gql_data(empty)));
    http_res_free(all);
    http_res_free(empty);
}

static void test_category_and_its_products(void **state) {
    (void)state;
    char q[512];
    snprintf(q, sizeof q,
             "{ category(id: %lld) { name products(sort: NAME_ASC) { totalCount edges { node { "
             "name } } pageInfo { endCursor } } } c2: category(slug: \"garden\") { products { "
             "totalCount } } none: category(slug: \"none\") { id } }",
             kitchen);
    expect_data(gql_post(NULL, q, NULL),
                "{\"category\":{\"name\":\"Kitchen\",\"products\":{\"totalCount\":4,\"edges\":[{"
                "\"node\":{\"name\":\"Blue Kettle\"}},{\"node\":{\"name\":\"Chef Knife\"}},{"
                "\"node\":{\"name\":\"Mixed Mug\"}},{\"node\":{\"name\":\"Red Kettle\"}}],"
                "\"pageInfo\":{\"endCursor\":null}}},\"c2\":{\"products\":{\"totalCount\":1}},"
                "\"none\":null}");
    /* the cursor of a category's page is REST's with category=<id> */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/products?category=%lld&sort=name&limit=1", kitchen);
    struct http_res *rest = call("GET", path, NULL, NULL);
    snprintf(q, sizeof q,
             "{ category(id: %lld) { products(sort: NAME_ASC, first: 1) { pageInfo { endCursor } "
             "} } }",
             kitchen);
    struct http_res *r = gql_post(NULL, q, NULL);
    json_t *info = json_object_get(
        json_object_get(json_object_get(gql_data(r), "category"), "products"), "pageInfo");
    assert_string_equal(jstr(info, "endCursor"), jstr(rest->json, "next_cursor"));
    http_res_free(r);
    http_res_free(rest);
    /* every category's page at once, each with its own products */
    expect_data(gql_post(NULL,
                         "{ categories { slug products(first: 1, sort: PRICE_ASC) { totalCount "
                         "edges { node { name category { slug } } } } } }",
                         NULL),
                "{\"categories\":[{\"slug\":\"garden\",\"products\":{\"totalCount\":1,\"edges\":[{"
                "\"node\":{\"name\":\"Rake\",\"category\":{\"slug\":\"garden\"}}}]}},{\"slug\":"
                "\"home\",\"products\":{\"totalCount\":4,\"edges\":[{\"node\":{\"name\":\"Mixed "
                "Mug\",\"category\":{\"slug\":\"kitchen\"}}}]}},{\"slug\":\"kettles\","
                "\"products\":{\"totalCount\":2,\"edges\":[{\"node\":{\"name\":\"Red Kettle\","
                "\"category\":{\"slug\":\"kettles\"}}}]}},{\"slug\":\"kitchen\",\"products\":{"
                "\"totalCount\":4,\"edges\":[{\"node\":{\"name\":\"Mixed Mug\",\"category\":{"
                "\"slug\":\"kitchen\"}}}]}}]}");
}

static void test_facets(void **state) {
    (void)state;
    struct http_res *rest =
        call("GET", "/api/v1/products/facets?category=home&price_buckets=0,20", NULL, NULL);
    struct http_res *r = gql_post(
        NULL,
        "{ facets(filter: {category: \"home\"}, priceBuckets: [\"0\", \"20\"]) { total "
        "categories { slug count } price { min max buckets { min max count } } inStock { inStock "
        "outOfStock } attributes { key values { value count } } options { name values { value "
        "count } } } }",
        NULL);
    json_t *f = json_object_get(gql_data(r), "facets");
    assert_int_equal(jint(f, "total"), jint(rest->json, "total"));
    assert_true(
        json_equal(json_object_get(f, "categories"), json_object_get(rest->json, "categories")) ||
        json_array_size(json_object_get(f, "categories")) ==
            json_array_size(json_object_get(rest->json, "categories")));
    assert_true(json_equal(json_object_get(f, "price"), json_object_get(rest->json, "price")));
    json_t *stock = json_object_get(rest->json, "in_stock");
    assert_int_equal(jint(json_object_get(f, "inStock"), "inStock"), jint(stock, "true"));
    assert_int_equal(jint(json_object_get(f, "inStock"), "outOfStock"), jint(stock, "false"));
    json_t *brand = json_array_get(json_object_get(f, "attributes"), 0);
    assert_non_null(brand);
    assert_true(
        json_equal(json_object_get(brand, "values"),
                   json_object_get(json_object_get(rest->json, "attributes"), jstr(brand, "key"))));
    http_res_free(r);
    http_res_free(rest);
    /* a boundary REST could not be sent: a field error, never a crash */
    expect_bad_input("{ facets(priceBuckets: [\"\"]) { total } }",
                     "priceBuckets: a value may not be empty");
    expect_bad_input("{ facets(priceBuckets: [\"0,5\"]) { total } }",
                     "priceBuckets: a value may not contain a comma");
}

static void test_me(void **state) {
    (void)state;
    expect_data(gql_post(NULL, "{ me { email } }", NULL), "{\"me\":null}");
    expect_data(gql_post(customer, "{ me { email role isActive emailVerified } }", NULL),
                "{\"me\":{\"email\":\"graphql-customer@example.com\",\"role\":\"CUSTOMER\","
                "\"isActive\":true,\"emailVerified\":false}}");
    struct http_res *r = gql_post("not-a-token", "{ me { email } }", NULL);
    assert_problem(r, 401, NULL); /* the usual 401 of a bad token */
    http_res_free(r);
}

/* ---- visibility -------------------------------------------------------- */

static void test_inactive_products_and_variants_for_staff_only(void **state) {
    (void)state;
    char q[512];
    snprintf(q, sizeof q,
             "{ lamp: product(id: %lld) { name } mug: product(id: %lld) { variantCount variants "
             "{ sku } } products(filter: {includeInactive: true}) { totalCount } }",
             hidden_lamp, mixed_mug);
    expect_data(gql_post(customer, q, NULL),
                "{\"lamp\":null,\"mug\":{\"variantCount\":1,\"variants\":[{\"sku\":\"MM-1\"}]},"
                "\"products\":{\"totalCount\":5}}");
    expect_data(gql_post(staff, q, NULL),
                "{\"lamp\":{\"name\":\"Hidden Lamp\"},\"mug\":{\"variantCount\":2,\"variants\":[{"
                "\"sku\":\"MM-1\"},{\"sku\":\"MM-2\"}]},\"products\":{\"totalCount\":6}}");
}

/* ---- the language through HTTP ------------------------------------------ */

static void test_fragments_aliases_variables_directives(void **state) {
    (void)state;
    char vars[256];
    snprintf(vars, sizeof vars, "{\"id\": \"%lld\", \"withSku\": false, \"n\": 1}", red_kettle);
    expect_data(gql_post(NULL,
                         "query Page($id: ID!, $withSku: Boolean = true, $n: Int) {\n"
                         "  first: product(id: $id) { ...Names sku @include(if: $withSku) }\n"
                         "  again: product(id: $id) { ... on Product { price } __typename }\n"
                         "  products(first: $n, sort: PRICE_DESC) @skip(if: false) { edges { "
                         "node { ...Names } } }\n"
                         "}\n"
                         "fragment Names on Product { name slug }",
                         vars),
                "{\"first\":{\"name\":\"Red Kettle\",\"slug\":\"red-kettle\"},\"again\":{\"price\":"
                "\"10.00\",\"__typename\":\"Product\"},\"products\":{\"edges\":[{\"node\":{"
                "\"name\":\"Chef Knife\",\"slug\":\"chef-knife\"}}]}}");
    /* the same through GET */
    struct http_res *r = gql_get(NULL, "{ product(slug: \"rake\") { name } }", NULL);
    char *got = data_text(r);
    assert_string_equal(got, "{\"product\":{\"name\":\"Rake\"}}");
    free(got);
    http_res_free(r);
    /* operationName picks one of several */
    json_t *body =
        json_pack("{s:s, s:s}", "query",
                  "query A { categories(parent: null) { slug } } query B { product(slug: "
                  "\"rake\") { sku } }",
                  "operationName", "B");
    expect_data(call_owned("POST", "/graphql", NULL, dump(body)),
                "{\"product\":{\"sku\":\"RK-1\"}}");
}

/* Aliases of one list field with different arguments on one parent
 * (different response keys, so the specification allows them): each alias
 * is its own page, as the field alone would answer it. */
static void test_aliases_with_different_arguments(void **state) {
    (void)state;
    char q[768];
    snprintf(q, sizeof q,
             "{ category(id: %lld) { a: products(first: 2, sort: NAME_ASC) { totalCount edges { "
             "node { name } } pageInfo { hasNextPage } } b: products(first: 1, sort: PRICE_DESC) "
             "{ n: totalCount edges { node { name } } } products(filter: {minPrice: \"30\"}) { "
             "totalCount edges { node { name } } } } }",
             kitchen);
    expect_data(gql_post(NULL, q, NULL),
                "{\"category\":{\"a\":{\"totalCount\":4,\"edges\":[{\"node\":{\"name\":\"Blue "
                "Kettle\"}},{\"node\":{\"name\":\"Chef Knife\"}}],\"pageInfo\":{\"hasNextPage\":"
                "true}},\"b\":{\"n\":4,\"edges\":[{\"node\":{\"name\":\"Chef Knife\"}}]},"
                "\"products\":{\"totalCount\":1,\"edges\":[{\"node\":{\"name\":\"Chef "
                "Knife\"}}]}}}");
    /* every category's two pages at once, and below them aliases of the
     * products' variants and of their categories' pages */
    expect_data(
        gql_post(NULL,
                 "{ categories(parent: null) { slug cheap: products(first: 1, sort: "
                 "PRICE_ASC) { edges { node { name v: variants { sku } category { "
                 "products(first: 1, sort: NAME_DESC) { edges { node { name } } } top: "
                 "products(first: 1, sort: NAME_ASC) { edges { node { name } } } } } } } "
                 "dear: products(first: 1, sort: PRICE_DESC) { edges { node { name "
                 "variants { price } } } } } }",
                 NULL),
        "{\"categories\":[{\"slug\":\"garden\",\"cheap\":{\"edges\":[{\"node\":{\"name\":\"Rak"
        "e\",\"v\":[{\"sku\":\"RK-1\"}],\"category\":{\"products\":{\"edges\":[{\"node\":{\"nam"
        "e\":\"Rake\"}}]},\"top\":{\"edges\":[{\"node\":{\"name\":\"Rake\"}}]}}}}]},\"dear\":{"
        "\"edges\":[{\"node\":{\"name\":\"Rake\",\"variants\":[{\"price\":\"15.00\"}]}}]}},{\""
        "slug\":\"home\",\"cheap\":{\"edges\":[{\"node\":{\"name\":\"Mixed Mug\",\"v\":[{\"sku\""
        ":\"MM-1\"}],\"category\":{\"products\":{\"edges\":[{\"node\":{\"name\":\"Red Kettle"
        "\"}}]},\"top\":{\"edges\":[{\"node\":{\"name\":\"Blue Kettle\"}}]}}}}]},\"dear\":{\""
        "edges\":[{\"node\":{\"name\":\"Chef Knife\",\"variants\":[{\"price\":\"35.00\"}]}}]"
        "}}]}");
}

/* An attribute number beyond 64 bits (PostgreSQL writes 1e30 back as 31
 * digits, an integer jansson does not read) is a NUMBER like any other,
 * written as a real, whether the product is written from its row or
 * built as values (a string with an escape makes the row's writer
 * decline). */
/* Create a product whose answer holds integers beyond 64 bits: its id,
 * read with those integers as reals. */
static long long create_big_product(json_t *body) {
    struct http_res *r = call_owned("POST", "/api/v1/products", staff, dump(body));
    assert_int_equal(r->status, 201);
    json_t *created = json_loadb(r->body, r->len, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(created);
    long long id = (long long)json_number_value(json_object_get(created, "id"));
    json_decref(created);
    http_res_free(r);
    return id;
}

static void test_attribute_numbers_beyond_64_bits(void **state) {
    (void)state;
    long long plain = create_big_product(json_pack("{s:s, s:s, s:s, s:i, s:I, s:{s:f, s:f}}", "sku",
                                                   "BIG-1", "name", "Big One", "price", "1",
                                                   "stock", 1, "category_id", (json_int_t)garden,
                                                   "attributes", "mass", 1e30, "depth", -1e300));
    long long escaped = create_big_product(
        json_pack("{s:s, s:s, s:s, s:i, s:I, s:{s:f, s:s}}", "sku", "BIG-2", "name", "Big Two",
                  "price", "1", "stock", 1, "category_id", (json_int_t)garden, "attributes", "mass",
                  1e30, "note", "say \"hi\""));
    char q[256], path[64];
    snprintf(q, sizeof q,
             "{ a: product(id: %lld) { attributes { key value type } } b: product(id: %lld) { "
             "attributes { key value type } } }",
             plain, escaped);
    /* in plain decimal, as REST writes them: 1e30 as 31 digits */
    char expected[1024], depth[310] = "-1";
    memset(depth + 2, '0', 300);
    depth[302] = '\0';
    snprintf(expected, sizeof expected,
             "{\"a\":{\"attributes\":[{\"key\":\"depth\",\"value\":\"%s\",\"type\":"
             "\"NUMBER\"},{\"key\":\"mass\",\"value\":\"1%030d\",\"type\":\"NUMBER\"}]},\"b\":{"
             "\"attributes\":[{\"key\":\"mass\",\"value\":\"1%030d\",\"type\":\"NUMBER\"},{"
             "\"key\":\"note\",\"value\":\"say \\\"hi\\\"\",\"type\":\"STRING\"}]}}",
             depth, 0, 0);
    expect_data(gql_post(NULL, q, NULL), expected);
    long long ids[] = {plain, escaped};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/api/v1/products/%lld", ids[i]);
        struct http_res *r = call("DELETE", path, staff, NULL);
        expect_status(r, 204, "delete product");
        http_res_free(r);
    }
}

/* The attributes of a product written from its row and of one built as
 * values (an escaped string makes the row's writer decline) are the same
 * bytes for the same values: integers stay integers beside a number beyond
 * 64 bits (-0 is stored as 0), reals and booleans as text, and a value of
 * no attribute type (null, an object, an array, stored by SQL by hand) is
 * left out on both paths. Each value is REST's. */
static void test_attributes_same_on_both_paths(void **state) {
    (void)state;
    long long ids[2], paths = create_category("Paths", "paths", 0);
    for (int i = 0; i < 2; i++) {
        json_t *attrs = json_pack("{s:f, s:f, s:i, s:b, s:f, s:s, s:f, s:f}", "mass", 1e30, "zero",
                                  -0.0, "count", 5, "cordless", 1, "ratio", 1.5, "brand", "Acme",
                                  "sum", 0.1 + 0.2, "tiny", 1e-7);
        if (i == 1)
            json_object_set_new(attrs, "note", json_string("say \"hi\""));
        char sku[16];
        snprintf(sku, sizeof sku, "PATH-%d", i);
        ids[i] = create_big_product(json_pack("{s:s, s:s, s:s, s:i, s:I, s:o}", "sku", sku, "name",
                                              sku, "price", "1", "stock", 1, "category_id",
                                              (json_int_t)paths, "attributes", attrs));
        char *done = harness_sql_value(
            &server,
            "UPDATE products SET attributes = attributes || '{\"gone\": null, \"obj\": {\"a\": 1}, "
            "\"arr\": [1]}' WHERE id = %lld RETURNING 1",
            ids[i]);
        free(done);
    }
    const char *want = "{\"key\":\"brand\",\"value\":\"Acme\",\"type\":\"STRING\"},{\"key\":"
                       "\"cordless\",\"value\":\"true\",\"type\":\"BOOLEAN\"},{\"key\":\"count\","
                       "\"value\":\"5\",\"type\":\"NUMBER\"},{\"key\":\"mass\",\"value\":"
                       "\"1000000000000000000000000000000\",\"type\":\"NUMBER\"}";
    const char *tail = "{\"key\":\"ratio\",\"value\":\"1.5\",\"type\":\"NUMBER\"},{\"key\":"
                       "\"sum\",\"value\":\"0.30000000000000004\",\"type\":\"NUMBER\"},{\"key\":"
                       "\"tiny\",\"value\":\"0.0000001\",\"type\":\"NUMBER\"},{\"key\":"
                       "\"zero\",\"value\":\"0\",\"type\":\"NUMBER\"}";
    char q[256], expected[2048];
    snprintf(q, sizeof q,
             "{ a: product(id: %lld) { attributes { key value type } } b: product(id: %lld) { "
             "attributes { key value type } } }",
             ids[0], ids[1]);
    snprintf(expected, sizeof expected,
             "{\"a\":{\"attributes\":[%s,%s]},\"b\":{\"attributes\":[%s,{\"key\":\"note\","
             "\"value\":\"say \\\"hi\\\"\",\"type\":\"STRING\"},%s]}}",
             want, tail, want, tail);
    expect_data(gql_post(NULL, q, NULL), expected);
    /* The same down the list's path, and each value is REST's. */
    struct http_res *rest = call("GET", "/api/v1/products?category=paths&limit=10", NULL, NULL);
    struct http_res *r = gql_post(NULL,
                                  "{ products(first: 10, filter: {category: \"paths\"}) { edges { "
                                  "node { attributes { key value type } } } } }",
                                  NULL);
    /* 1e30 comes back as 31 digits: read as a real */
    json_t *page = json_loadb(rest->body, rest->len, JSON_DECODE_INT_AS_REAL, NULL);
    json_t *items = json_object_get(page, "items");
    json_t *edges = json_object_get(json_object_get(gql_data(r), "products"), "edges");
    assert_int_equal(json_array_size(edges), 2);
    assert_int_equal(json_array_size(items), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *given = json_object_get(json_array_get(items, i), "attributes");
        json_t *list =
            json_object_get(json_object_get(json_array_get(edges, i), "node"), "attributes");
        assert_int_equal(json_array_size(list), json_object_size(given) - 3);
        size_t k;
        json_t *a;
        json_array_foreach(list, k, a) {
            json_t *v = json_object_get(given, jstr(a, "key"));
            const char *text = jstr(a, "value");
            if (json_is_string(v))
                assert_string_equal(text, json_string_value(v));
            else if (json_is_boolean(v))
                assert_string_equal(text, json_is_true(v) ? "true" : "false");
            else { /* REST's very text: "mass":1000...0 */
                char needle[128];
                snprintf(needle, sizeof needle, "\"%s\":%s", jstr(a, "key"), text);
                assert_true(json_is_number(v) && strstr(rest->body, needle));
            }
        }
    }
    json_decref(page);
    http_res_free(r);
    http_res_free(rest);
    for (size_t i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/v1/products/%lld", ids[i]);
        struct http_res *d = call("DELETE", path, staff, NULL);
        expect_status(d, 204, "delete product");
        http_res_free(d);
    }
    char path[64];
    snprintf(path, sizeof path, "/api/v1/categories/%lld", paths);
    struct http_res *d = call("DELETE", path, staff, NULL);
    expect_status(d, 204, "delete category");
    http_res_free(d);
}

/* An option name is 1..50 characters, of up to four bytes each: a filter
 * by a long name finds what REST finds (the name was cut at 80 bytes:
 * no match for 45 two-byte characters, a 400 for a cut inside one). */
static void test_an_option_filter_takes_its_whole_name(void **state) {
    (void)state;
    char two_byte[128] = "", three_byte[192] = "";
    for (int i = 0; i < 45; i++)
        strcat(two_byte, "\xd1\x8f"); /* я */
    for (int i = 0; i < 50; i++)
        strcat(three_byte, "\xe2\x82\xac"); /* € */
    long long shelf = create_category("Long Names", "long-names", 0);
    const char *names[] = {two_byte, three_byte};
    for (size_t i = 0; i < 2; i++) {
        char sku[16];
        snprintf(sku, sizeof sku, "LONG-OPT-%zu", i);
        long long id = create_product(json_pack("{s:s, s:I, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name",
                                                "Long option", "category_id", (json_int_t)shelf,
                                                "variants", "sku", sku, "price", "5", "stock", 1,
                                                "options", names[i], "x"));
        json_t *vars = json_pack("{s:s, s:s}", "n", names[i], "c", "long-names");
        char *text = json_dumps(vars, 0);
        struct http_res *r = gql_post(NULL,
                                      "query($n: String!, $c: ID!) { products(filter: "
                                      "{category: $c, options: [{name: $n, values: [\"X\"]}]}) "
                                      "{ totalCount edges { node { id } } } facets(filter: "
                                      "{category: $c, options: [{name: $n, values: [\"x\"]}]}) "
                                      "{ total } }",
                                      text);
        expect_status(r, 200, "filter by a long option name");
        json_t *data = gql_data(r);
        json_t *edges = json_object_get(json_object_get(data, "products"), "edges");
        assert_int_equal(json_array_size(edges), 1);
        char want[24];
        snprintf(want, sizeof want, "%lld", id);
        assert_string_equal(jstr(json_object_get(json_array_get(edges, 0), "node"), "id"), want);
        assert_int_equal(jint(json_object_get(data, "facets"), "total"), 1);
        http_res_free(r);
        free(text);
        json_decref(vars);
    }
}

/* A value of filter.attributes or filter.options is one value, commas
 * and backslashes included: written as REST's list with both escaped
 * (a comma was refused, as the list could not carry it). */
static void test_a_filter_value_may_hold_a_comma_or_a_backslash(void **state) {
    (void)state;
    long long shelf = create_category("Comma Shelf", "comma-shelf", 0);
    static const char *const values[] = {"x,y", "x", "y", "x\\y"};
    for (size_t i = 0; i < 4; i++) {
        char sku[16];
        snprintf(sku, sizeof sku, "COMMA-%zu", i);
        create_product(json_pack("{s:s, s:I, s:{s:s}, s:[{s:s, s:s, s:i, s:{s:s}}]}", "name", sku,
                                 "category_id", (json_int_t)shelf, "attributes", "label", values[i],
                                 "variants", "sku", sku, "price", "5", "stock", 1, "options", "B",
                                 values[i]));
    }
    static const struct {
        const char *variables;
        long long total;
    } cases[] = {
        {"{\"o\": [{\"name\": \"B\", \"values\": [\"x,y\"]}]}", 1},
        {"{\"o\": [{\"name\": \"B\", \"values\": [\"X,Y\", \"x\"]}]}", 2},
        {"{\"o\": [{\"name\": \"B\", \"values\": [\"x\", \"y\"]}]}", 2},
        {"{\"o\": [{\"name\": \"B\", \"values\": [\"x\\\\y\"]}]}", 1},
        {"{\"o\": [{\"name\": \"B\", \"values\": [\"x\\\\\"]}]}", 0},
        {"{\"a\": [{\"key\": \"label\", \"values\": [\"x,y\"]}]}", 1},
        {"{\"a\": [{\"key\": \"label\", \"values\": [\"x\\\\y\", \"y\"]}]}", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_res *r =
            gql_post(NULL,
                     "query($o: [OptionFilter!], $a: [AttributeFilter!]) { products(filter: "
                     "{category: \"comma-shelf\", options: $o, attributes: $a}) { totalCount } "
                     "facets(filter: {category: \"comma-shelf\", options: $o, attributes: $a}) "
                     "{ total } }",
                     cases[i].variables);
        expect_status(r, 200, cases[i].variables);
        json_t *data = gql_data(r);
        if (jint(json_object_get(data, "products"), "totalCount") != cases[i].total ||
            jint(json_object_get(data, "facets"), "total") != cases[i].total)
            fail_msg("%s: not %lld products", cases[i].variables, cases[i].total);
        http_res_free(r);
    }
}

/* filter.sku is REST's sku: the product of a live variant of that SKU,
 * in products, a category's products and facets, with REST's checks. */
static void test_sku_filter_as_rest(void **state) {
    (void)state;
    /* RK-M is the Red Kettle's second variant; MM-2 the Mixed Mug's inactive one */
    expect_data(
        gql_post(NULL,
                 "{ products(filter: {sku: \"RK-M\"}) { totalCount edges { node { name sku "
                 "} } } m: products(filter: {sku: \"MM-2\", category: \"home\"}) { "
                 "totalCount } none: products(filter: {sku: \"rk-m\"}) { totalCount } "
                 "category(slug: \"home\") { products(filter: {sku: \"RK-M\"}) { totalCount "
                 "} } facets(filter: {sku: \"RK-M\"}) { total } }",
                 NULL),
        "{\"products\":{\"totalCount\":1,\"edges\":[{\"node\":{\"name\":\"Red Kettle\","
        "\"sku\":\"RK-S\"}}]},\"m\":{\"totalCount\":1},\"none\":{\"totalCount\":0},"
        "\"category\":{\"products\":{\"totalCount\":1}},\"facets\":{\"total\":1}}");
    struct http_res *rest = call("GET", "/api/v1/products?sku=RK-M&include_total=true", NULL, NULL);
    expect_status(rest, 200, "REST sku");
    assert_int_equal(jint(rest->json, "total"), 1);
    http_res_free(rest);
    expect_bad_input("{ products(filter: {sku: \"RK M\"}) { totalCount } }",
                     "filter.sku must be 1 to 64 of");
    expect_bad_input("{ facets(filter: {sku: \"RK/M\"}) { total } }", "filter.sku must be");
    /* a cursor of the unfiltered list is not one of the sku's */
    rest = call("GET", "/api/v1/products?limit=1", NULL, NULL);
    char vars[1024];
    snprintf(vars, sizeof vars, "{\"after\": \"%s\"}", jstr(rest->json, "next_cursor"));
    http_res_free(rest);
    struct http_res *bad = gql_post(NULL,
                                    "query($after: String) { products(first: 1, after: $after, "
                                    "filter: {sku: \"RK-M\"}) { totalCount } }",
                                    vars);
    gql_expect_error(bad, 200, "GRAPHQL_BAD_USER_INPUT", "invalid cursor");
    http_res_free(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_product_by_id_and_slug),
        cmocka_unit_test(test_product_variants_and_category_path),
        cmocka_unit_test(test_variant_options_by_name_ignoring_case),
        cmocka_unit_test(test_a_defaulted_variables_null_in_a_non_null_place_is_an_error),
        cmocka_unit_test(test_products_connection_matches_rest),
        cmocka_unit_test(test_nodes_are_rest_items),
        cmocka_unit_test(test_cursors_round_trip_with_rest),
        cmocka_unit_test(test_filters_as_rest),
        cmocka_unit_test(test_an_attribute_key_is_only_a_key),
        cmocka_unit_test(test_conditions_are_counted_as_rest_counts_them),
        cmocka_unit_test(test_categories_tree),
        cmocka_unit_test(test_category_and_its_products),
        cmocka_unit_test(test_facets),
        cmocka_unit_test(test_me),
        cmocka_unit_test(test_inactive_products_and_variants_for_staff_only),
        cmocka_unit_test(test_fragments_aliases_variables_directives),
        cmocka_unit_test(test_attribute_numbers_beyond_64_bits),
        cmocka_unit_test(test_attributes_same_on_both_paths),
        cmocka_unit_test(test_aliases_with_different_arguments),
        cmocka_unit_test(test_an_option_filter_takes_its_whole_name),
        cmocka_unit_test(test_sku_filter_as_rest),
        cmocka_unit_test(test_a_filter_value_may_hold_a_comma_or_a_backslash),
    };
    return harness_run_group("graphql", tests, sizeof tests / sizeof tests[0], start, stop);
}
