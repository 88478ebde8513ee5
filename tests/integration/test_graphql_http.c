/*
 * test_graphql_http.c -- /graphql as HTTP: hostile and malformed requests
 * (each a 400 with GraphQL errors in JSON, never a 500, a hang or a
 * crash), the server's own answers (401, 405, 413, 415), the cache of GET
 * answers (normalised documents, read-after-write, what is never stored),
 * and the number of SQL statements a request runs, which must not grow
 * with the number of parents.
 */
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
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
static long long first_product;

static long long create_category(const char *slug, long long parent) {
    return gql_test_category(staff, slug, slug, parent);
}

/* 60 products with two variants and an image each, over four categories
 * (two roots with a child each). */
static void create_catalog(void) {
    long long cats[4];
    cats[0] = create_category("alpha", 0);
    cats[1] = create_category("beta", 0);
    cats[2] = create_category("alpha-one", cats[0]);
    cats[3] = create_category("beta-one", cats[1]);
    for (int i = 0; i < 60; i++) {
        char name[32], s1[32], s2[32];
        snprintf(name, sizeof name, "Thing %02d", i);
        snprintf(s1, sizeof s1, "TH-%d-A", i);
        snprintf(s2, sizeof s2, "TH-%d-B", i);
        json_t *b = json_pack(
            "{s:s, s:I, s:[{s:s}], s:[{s:s, s:s, s:i, s:{s:s}}, {s:s, s:s, s:i, s:{s:s}}]}", "name",
            name, "category_id", (json_int_t)cats[i % 4], "images", "url",
            "https://img.example.com/x.jpg", "variants", "sku", s1, "price", "5", "stock", 1,
            "options", "Size", "S", "sku", s2, "price", "6", "stock", 0, "options", "Size", "L");
        struct http_res *r = call_owned("POST", "/api/v1/products", staff, dump(b));
        expect_status(r, 201, "create product");
        if (i == 0)
            first_product = jint(r->json, "id");
        http_res_free(r);
    }
}

static int start(void **state) {
    (void)state;
    harness_start(&server, "graphql_http", NULL);
    harness_staff_and_customer(&server, "graphql-http", &staff, &customer);
    create_catalog();
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff);
    free(customer);
    harness_stop(&server);
    return 0;
}

static void post_fails(const char *query, const char *vars, const char *code, const char *part) {
    struct http_res *r = gql_post(NULL, query, vars);
    gql_expect_error(r, 400, code, part);
    http_res_free(r);
}

/* "{ a { a { ... } } }" n levels deep. */
static char *nested(int n) {
    struct {
        char *p;
        size_t len;
    } b = {malloc((size_t)n * 8 + 16), 0};
    for (int i = 0; i < n; i++)
        b.len += (size_t)sprintf(b.p + b.len, "{ a ");
    for (int i = 0; i < n; i++)
        b.len += (size_t)sprintf(b.p + b.len, "} ");
    return b.p;
}

static void test_hostile_documents_are_400(void **state) {
    (void)state;
    post_fails("{ product(slug: \"abc) { id } }", NULL, "GRAPHQL_PARSE_FAILED", "Unterminated");
    char *deep = nested(1000);
    post_fails(deep, NULL, "GRAPHQL_LIMIT_EXCEEDED", NULL);
    free(deep);
    /* a document of nearly 1 MiB, in a body within the cap of every body,
     * reaches the parser (not a 413) and is refused */
    size_t big = (1u << 20) - 64;
    char *doc = malloc(big + 1);
    memset(doc, ' ', big);
    memcpy(doc, "{ __typename }", 14);
    doc[big] = '\0';
    post_fails(doc, NULL, "GRAPHQL_LIMIT_EXCEEDED", NULL);
    free(doc);
    /* 10,000 aliases of one field */
    char *aliases = malloc(10000 * 24 + 8);
    size_t n = (size_t)sprintf(aliases, "{");
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(aliases + n, " a%d: __typename", i);
    sprintf(aliases + n, " }");
    post_fails(aliases, NULL, "GRAPHQL_LIMIT_EXCEEDED", NULL);
    free(aliases);
    post_fails("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", NULL,
               "GRAPHQL_VALIDATION_FAILED", "Cannot spread fragment");
    post_fails("{ product(id: $nope) { id } }", NULL, "GRAPHQL_VALIDATION_FAILED", "$nope");
    post_fails("query($id: ID!) { product(id: $id) { id } }", "{\"id\": true}",
               "GRAPHQL_BAD_USER_INPUT", "$id");
    post_fails("query($id: ID!) { product(id: $id) { id } }", NULL, "GRAPHQL_BAD_USER_INPUT",
               "was not provided");
    post_fails("mutation { product(id: 1) { id } }", NULL, "GRAPHQL_VALIDATION_FAILED", "mutation");
    struct http_res *r = gql_get(NULL, "mutation M { product(id: 1) { id } }", NULL);
    gql_expect_error(r, 400, "GRAPHQL_VALIDATION_FAILED", "mutation");
    http_res_free(r);
    /* introspection 24 fields deep (its limit is 20) */
    char intro[512];
    size_t k = (size_t)sprintf(intro, "{ __schema { types { fields { type");
    for (int i = 0; i < 20; i++)
        k += (size_t)sprintf(intro + k, " { ofType");
    k += (size_t)sprintf(intro + k, " { name }");
    for (int i = 0; i < 24; i++)
        k += (size_t)sprintf(intro + k, " }");
    post_fails(intro, NULL, "GRAPHQL_LIMIT_EXCEEDED", "introspection");
    post_fails("{ products(first: 100) { edges { node { category { products(first: 100) { edges { "
               "node { variants { sku } } } } } } } } }",
               NULL, "GRAPHQL_LIMIT_EXCEEDED", "costs");
    post_fails("{ nothing }", NULL, "GRAPHQL_VALIDATION_FAILED", "nothing");
}

/* A raw POST body with a content type. */
static struct http_res *post_raw(const char *body, const char *type) {
    char header[96];
    snprintf(header, sizeof header, "Content-Type: %s", type);
    const char *headers[] = {header, NULL};
    return http_request("POST", "/graphql", headers, body, strlen(body));
}

static void test_malformed_requests_are_400(void **state) {
    (void)state;
    static const struct {
        const char *body, *part;
    } cases[] = {
        {"", "JSON object"},
        {"{", "malformed JSON at line 1, column 1"},
        {"{\"query\": \"{ __typename \\u0000 }\"}", "a NUL character (\\u0000)"},
        {"{\"query\": \"{ __typename }\", \"variables\": {\"s\\u0000\": 1}}", "NUL character"},
        {"[1]", "JSON object"},
        {"null", "JSON object"},
        {"{\"query\": \"{ __typename }\", \"variables\": {\"n\": 1e400}}", "out of range"},
        {"\"query\"", "JSON object"},
        {"{}", "\"query\""},
        {"{\"query\": 5}", "\"query\""},
        {"{\"query\": \"{ __typename }\", \"variables\": [1]}", "\"variables\""},
        {"{\"query\": \"{ __typename }\", \"operationName\": 7}", "\"operationName\""},
        {"{\"query\": \"{ __typename }\", \"query\": \"{ me { id } }\"}", "malformed JSON"},
        {"{\"query\": \"query A { __typename }\", \"operationName\": \"B\"}", "B"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_res *r = post_raw(cases[i].body, "application/json");
        json_t *first = json_array_get(json_object_get(r->json, "errors"), 0);
        if (r->status != 400 || !first || !strstr(jstr(first, "message"), cases[i].part))
            fprintf(stderr, "case %zu: %ld %s\n", i, r->status, r->body);
        assert_int_equal(r->status, 400);
        assert_non_null(strstr(jstr(first, "message"), cases[i].part));
        assert_null(json_object_get(r->json, "data"));
        http_res_free(r);
    }
    struct http_res *r = call("GET", "/graphql", NULL, NULL);
    gql_expect_error(r, 400, "GRAPHQL_BAD_USER_INPUT", "\"query\"");
    http_res_free(r);
    r = call("GET", "/graphql?query=%7B__typename%7D&variables=%5B1%5D", NULL, NULL);
    gql_expect_error(r, 400, "GRAPHQL_BAD_USER_INPUT", "\"variables\"");
    http_res_free(r);
    /* variables that do not load say why, as a POST body's do */
    static const struct {
        const char *variables, *message;
    } bad_get[] = {
        {"%7B%22q%22%3A%22a%5Cu0000%22%7D", "\"variables\": a string holds a NUL character"},
        {"%7B%22q%22%3A%22a%5Cud800%22%7D", "\"variables\": malformed JSON at line 1, column"},
        {"%7B%22q%22%3A", "\"variables\": malformed JSON at line 1, column"},
    };
    for (size_t i = 0; i < sizeof bad_get / sizeof bad_get[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/graphql?query=%%7B__typename%%7D&variables=%s",
                 bad_get[i].variables);
        r = call("GET", path, NULL, NULL);
        gql_expect_error(r, 400, "GRAPHQL_BAD_USER_INPUT", bad_get[i].message);
        http_res_free(r);
    }
}

/* head, then n times "é" (two bytes each), then tail: text that a cut
 * after a number of bytes can split inside a character. */
static char *accented(const char *head, int n, const char *tail) {
    size_t len = strlen(head) + 2 * (size_t)n + strlen(tail);
    char *s = malloc(len + 1), *at = s + strlen(head);
    memcpy(s, head, strlen(head));
    for (int i = 0; i < n; i++, at += 2)
        memcpy(at, "\xc3\xa9", 2);
    strcpy(at, tail);
    return s;
}

/* One error, quoting the client's text with its characters whole. */
static void expect_quoted_whole(struct http_res *r, const char *code, const char *part) {
    gql_expect_error(r, 400, code, part);
    const char *message = jstr(json_array_get(json_object_get(r->json, "errors"), 0), "message");
    assert_null(strstr(message, "\xef\xbf\xbd")); /* no U+FFFD for a byte cut off */
    http_res_free(r);
}

/* A message quotes a few bytes of the client's text: cut inside a
 * character, the error was lost, and the answer was a 400 without one. */
static void test_errors_quote_whole_characters(void **state) {
    (void)state;
    expect_quoted_whole(gql_post(NULL, "{ product(slug: \"\\\xc3\xa9\") { id } }", NULL),
                        "GRAPHQL_PARSE_FAILED", "\"\\\xc3\xa9\"");
    expect_quoted_whole(gql_post(NULL, "{ product(slug: \"\\u000\xc3\xa9\") { id } }", NULL),
                        "GRAPHQL_PARSE_FAILED", "\"\\u000\xc3\xa9\"");
    char *vars = accented("{\"s\": \"a", 60, "\"}");
    expect_quoted_whole(
        gql_post(NULL, "query($s: ProductSort) { products(sort: $s) { totalCount } }", vars),
        "GRAPHQL_BAD_USER_INPUT", "enum");
    free(vars);
    vars = accented("{\"n\": \"", 60, "\"}");
    expect_quoted_whole(
        gql_post(NULL, "query($n: Int) { products(first: $n) { totalCount } }", vars),
        "GRAPHQL_BAD_USER_INPUT", "Int cannot represent");
    free(vars);
    char *query = accented("{ products(first: \"", 60, "\") { totalCount } }");
    expect_quoted_whole(gql_post(NULL, query, NULL), "GRAPHQL_VALIDATION_FAILED",
                        "Int cannot represent");
    free(query);
    char *body =
        accented("{\"query\": \"query A { __typename }\", \"operationName\": \"a", 60, "\"}");
    expect_quoted_whole(post_raw(body, "application/json"), "GRAPHQL_VALIDATION_FAILED",
                        "Unknown operation named \"a\xc3\xa9");
    free(body);
    char path[512];
    int n =
        snprintf(path, sizeof path, "/graphql?query=query%%20A%%7B__typename%%7D&operationName=a");
    for (int i = 0; i < 60; i++)
        n += snprintf(path + n, sizeof path - (size_t)n, "%%C3%%A9");
    expect_quoted_whole(call("GET", path, NULL, NULL), "GRAPHQL_VALIDATION_FAILED",
                        "Unknown operation named \"a\xc3\xa9");
}

/* A document of 62 KB, an operation of a 60,000-byte name with 99
 * variables it does not define: each error quotes 100 bytes of the name,
 * where each quoted it whole (a 5.9 MB answer). */
static void test_long_names_do_not_amplify(void **state) {
    (void)state;
    size_t cap = 70000;
    char *doc = malloc(cap);
    size_t n = (size_t)sprintf(doc, "query ");
    memset(doc + n, 'n', 60000);
    n += 60000;
    n += (size_t)snprintf(doc + n, cap - n, " {");
    for (int i = 0; i < 99; i++)
        n += (size_t)snprintf(doc + n, cap - n, " a%d: product(id: $v%d) { id }", i, i);
    snprintf(doc + n, cap - n, " }");
    struct http_res *r = gql_post(NULL, doc, NULL);
    gql_expect_error(r, 400, "GRAPHQL_VALIDATION_FAILED", "is not defined by operation \"nnn");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 99);
    if (r->len > 40000)
        fail_msg("an answer of %zu bytes", r->len);
    http_res_free(r);
    free(doc);
}

static void test_server_answers(void **state) {
    (void)state;
    struct http_res *r = post_raw("{\"query\": \"{ __typename }\"}", "text/plain");
    assert_problem(r, 415, NULL);
    http_res_free(r);
    r = call("PUT", "/graphql", NULL, "{}");
    assert_problem(r, 405, NULL);
    http_res_free(r);
    r = gql_post("bad-token", "{ __typename }", NULL);
    assert_problem(r, 401, NULL);
    http_res_free(r);
    /* 1 MiB is the cap of every body: a body of exactly 1 MiB is read
     * and its document refused by the parser (400), one byte more is a 413. Sent
     * chunked: the server reads the body to its end (dropping what is past
     * the cap) and then answers. A declared Content-Length over the cap is
     * answered at once, while this client may still be sending, so the
     * answer can be lost to the reset of the close (the contract test sends
     * that one without a body). */
    for (size_t size = 1024u * 1024; size <= 1024u * 1024 + 1; size++) {
        static const char head[] = "{\"query\": \"", tail[] = "\"}";
        char *body = malloc(size + 1);
        memset(body, ' ', size);
        memcpy(body, head, sizeof head - 1);
        memcpy(body + size - (sizeof tail - 1), tail, sizeof tail - 1);
        body[size] = '\0';
        const char *headers[] = {"Content-Type: application/json", "Transfer-Encoding: chunked",
                                 NULL};
        r = http_request("POST", "/graphql", headers, body, size);
        if (size == 1024u * 1024)
            gql_expect_error(r, 400, "GRAPHQL_LIMIT_EXCEEDED", NULL);
        else
            assert_problem(r, 413, NULL);
        http_res_free(r);
        free(body);
    }
}

static void test_field_errors_have_paths(void **state) {
    (void)state;
    struct http_res *r =
        gql_post(NULL,
                 "{ ok: product(slug: \"thing-00\") { name } c: categories { products(filter: "
                 "{maxPrice: \"1.999\"}) { totalCount } } }",
                 NULL);
    gql_expect_error(r, 200, "GRAPHQL_BAD_USER_INPUT", "filter.maxPrice");
    json_t *err = json_array_get(json_object_get(r->json, "errors"), 0);
    json_t *loc = json_array_get(json_object_get(err, "locations"), 0);
    assert_int_equal(jint(loc, "line"), 1);
    assert_true(jint(loc, "column") > 1);
    assert_non_null(json_object_get(err, "path"));
    /* the categories list is non-null: its failure nulls data */
    assert_true(json_is_null(json_object_get(r->json, "data")));
    http_res_free(r);
    r = gql_post(NULL, "{ products(filter: {minPrice: \"x\"}) { totalCount } }", NULL);
    err = json_array_get(json_object_get(r->json, "errors"), 0);
    char *path = dump(json_incref(json_object_get(err, "path")));
    assert_string_equal(path, "[\"products\"]");
    free(path);
    http_res_free(r);
}

/* ---- cache --------------------------------------------------------------- */

static void expect_cache(struct http_res *r, const char *want) {
    expect_status(r, 200, "graphql GET");
    const char *got = http_header(r, "X-Cache");
    if (!got || strcmp(got, want) != 0)
        fprintf(stderr, "X-Cache %s, want %s: %.300s\n", got ? got : "(none)", want, r->body);
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* A public GET of query with variables (NULL: none), answered with
 * X-Cache want. */
static void get_expecting(const char *query, const char *variables, const char *want) {
    struct http_res *r = gql_get(NULL, query, variables);
    expect_cache(r, want);
    http_res_free(r);
}

static void test_get_is_cached_on_the_normalised_document(void **state) {
    (void)state;
    char q1[256], q2[256], patch[64];
    snprintf(q1, sizeof q1, "{ product(id: %lld) { name variants { sku } } }", first_product);
    snprintf(q2, sizeof q2,
             "# the same query\n{product(id:%lld),{name,,variants{  sku }}}  # spelled apart",
             first_product);
    struct http_res *a = gql_get(NULL, q1, NULL);
    expect_cache(a, "MISS");
    struct http_res *b = gql_get(NULL, q2, NULL);
    expect_cache(b, "HIT");
    assert_string_equal(a->body, b->body);
    http_res_free(b);
    /* a write, then the read after it sees it */
    snprintf(patch, sizeof patch, "/api/v1/products/%lld", first_product);
    struct http_res *w = call("PATCH", patch, staff, "{\"name\": \"Renamed Thing\"}");
    expect_status(w, 200, "patch");
    http_res_free(w);
    b = gql_get(NULL, q2, NULL);
    expect_cache(b, "MISS");
    assert_non_null(strstr(b->body, "Renamed Thing"));
    http_res_free(b);
    b = gql_get(NULL, q1, NULL);
    expect_cache(b, "HIT");
    assert_non_null(strstr(b->body, "Renamed Thing"));
    http_res_free(b);
    http_res_free(a);
    /* other variables are another entry */
    const char *vq = "query($s: String) { product(slug: $s) { slug } }";
    get_expecting(vq, "{\"s\": \"thing-01\"}", "MISS");
    a = gql_get(NULL, vq, "{\"s\": \"thing-02\"}");
    expect_cache(a, "MISS");
    assert_non_null(strstr(a->body, "thing-02"));
    http_res_free(a);
    get_expecting(vq, "{ \"s\" : \"thing-02\" }", "HIT");
    /* variables null run as none, and are cached as none */
    const char *nq = "{ product(slug: \"thing-03\") { slug } }";
    a = gql_get(NULL, nq, "null");
    expect_cache(a, "MISS");
    assert_non_null(strstr(a->body, "thing-03"));
    http_res_free(a);
    get_expecting(nq, "null", "HIT");
    get_expecting(nq, NULL, "HIT");
}

/* Asked several times, so that a server thread sees the same text again (and
 * answers its key from what it remembers of it). */
static void never_from_cache(const char *token, const char *query) {
    for (int i = 0; i < 6; i++) {
        struct http_res *r = gql_get(token, query, NULL);
        expect_cache(r, "MISS");
        http_res_free(r);
    }
}

static void test_what_is_never_cached(void **state) {
    (void)state;
    never_from_cache(NULL, "query Named { categories { slug } }");
    never_from_cache(customer, "{ me { email } categories { slug } }");
    never_from_cache(customer, "{ ...F } fragment F on Query { me { email } }");
    never_from_cache(NULL, "{ products(first: 0) { totalCount } }"); /* an answer with errors */
    for (int i = 0; i < 2; i++) {
        struct http_res *r = gql_post(NULL, "{ categories { slug } }", NULL);
        expect_status(r, 200, "POST");
        const char *x = http_header(r, "X-Cache");
        assert_true(x == NULL || strcmp(x, "HIT") != 0);
        http_res_free(r);
    }
}

static void test_staff_and_public_are_cached_apart(void **state) {
    (void)state;
    char patch[64];
    snprintf(patch, sizeof patch, "/api/v1/products/%lld", first_product);
    struct http_res *w = call("PATCH", patch, staff, "{\"is_active\": false}");
    expect_status(w, 200, "deactivate");
    http_res_free(w);
    const char *q = "{ products(filter: {includeInactive: true}) { totalCount } }";
    struct http_res *s = gql_get(staff, q, NULL);
    assert_non_null(strstr(s->body, "\"totalCount\":60"));
    http_res_free(s);
    s = gql_get(NULL, q, NULL);
    expect_cache(s, "MISS");
    assert_non_null(strstr(s->body, "\"totalCount\":59"));
    http_res_free(s);
    w = call("PATCH", patch, staff, "{\"is_active\": true}");
    http_res_free(w);
}

/* ---- statements per request ------------------------------------------------ */

static long statements_of(const char *query) {
    long before = http_metric("nexus_db_statements_total");
    struct http_res *r = gql_post(NULL, query, NULL);
    gql_data(r);
    http_res_free(r);
    long after = http_metric("nexus_db_statements_total");
    assert_true(before >= 0 && after > before);
    return after - before;
}

/* The statements of a selection of the categories are the same for the
 * 2 roots as for all 4. */
static void same_for_roots_and_all(const char *selection) {
    char roots[512], all[512];
    snprintf(roots, sizeof roots, "{ categories(parent: null) %s }", selection);
    snprintf(all, sizeof all, "{ categories %s }", selection);
    statements_of(roots); /* every thread's statements prepared once */
    statements_of(all);
    long few = statements_of(roots), many = statements_of(all);
    fprintf(stderr, "statements: %ld for 2 categories, %ld for 4\n", few, many);
    assert_int_equal(few, many);
}

static void test_statements_do_not_grow_with_parents(void **state) {
    (void)state;
    static const char PAGE[] = "{ products(first: %d) { edges { node { name images { url } "
                               "variants { sku } category { name parent { name } children { "
                               "slug } } } } } }";
    char q5[512], q50[512];
    snprintf(q5, sizeof q5, PAGE, 5);
    snprintf(q50, sizeof q50, PAGE, 50);
    statements_of(q5); /* every thread's statements prepared once */
    statements_of(q50);
    long few = statements_of(q5), many = statements_of(q50);
    fprintf(stderr, "statements: %ld for 5 products, %ld for 50\n", few, many);
    assert_int_equal(few, many);
    assert_true(few <= 7); /* 6 reads, and the COMMIT of their snapshot (its BEGIN goes with
                              the first read) */
    /* a page per category, each with its products' variants */
    same_for_roots_and_all("{ slug products(first: 2) { totalCount edges { node { "
                           "variants { sku } } } } }");
    /* two pages per category under two aliases: one load per alias */
    same_for_roots_and_all("{ a: products(first: 1) { totalCount edges { node { v: "
                           "variants { sku } } } } b: products(first: 2, sort: PRICE_ASC) { edges "
                           "{ node { name } } } }");
}

/* A product's category asked only for what the page's row holds (id,
 * name, slug) runs no statement of its own, and answers what loading it
 * answers. */
static void test_row_category_needs_no_statement(void **state) {
    (void)state;
    static const char ROW[] = "{ products(first: 5) { edges { node { category { id name slug "
                              "__typename } } } } }";
    static const char LOADED[] = "{ products(first: 5) { edges { node { category { id name slug "
                                 "__typename } full: category { description } } } } }";
    statements_of(ROW); /* every thread's statements prepared once */
    statements_of(LOADED);
    assert_int_equal(statements_of(ROW) + 1, statements_of(LOADED));
    struct http_res *row = gql_post(NULL, ROW, NULL), *loaded = gql_post(NULL, LOADED, NULL);
    json_t *a = json_object_get(json_object_get(gql_data(row), "products"), "edges");
    json_t *b = json_object_get(json_object_get(gql_data(loaded), "products"), "edges");
    assert_int_equal(json_array_size(a), 5);
    assert_int_equal(json_array_size(b), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *x = json_object_get(json_object_get(json_array_get(a, i), "node"), "category");
        json_t *y = json_object_get(json_object_get(json_array_get(b, i), "node"), "category");
        assert_true(json_is_object(x) && json_equal(x, y));
    }
    http_res_free(row);
    http_res_free(loaded);
}

static void *post_in_thread(void *query) {
    return gql_post(NULL, query, NULL);
}

/* A variant write that commits between an answer's statement for its
 * product and the one for the product's variants: the answer shows both
 * as they were before the write, the product's stock the sum of its
 * variants' (before, the variants were read after the write and the
 * product before it). A lock on the variants table held by the writer
 * makes the variants' statement wait until the write has committed:
 * nothing depends on timing. */
static void test_a_product_and_its_variants_are_one_snapshot(void **state) {
    (void)state;
    char query[160];
    snprintf(query, sizeof query, "{ product(id: %lld) { stock variants { stock } } }",
             first_product);
    PGconn *held = PQconnectdb(server.database_url), *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(held), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    assert_true(
        harness_pg_exec(held, "BEGIN; LOCK TABLE product_variants IN ACCESS EXCLUSIVE MODE"));
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, post_in_thread, query), 0);
    assert_true(harness_pg_wait_nonzero(watch, "SELECT count(*) FROM pg_stat_activity"
                                               " WHERE wait_event_type = 'Lock'"
                                               " AND datname = current_database()"));
    char write[160];
    snprintf(write, sizeof write,
             "UPDATE product_variants SET stock = stock + 10 WHERE product_id = %lld;"
             " SELECT nexus_product_derive(%lld, true); COMMIT",
             first_product, first_product);
    assert_true(harness_pg_exec(held, write));
    struct http_res *r;
    assert_int_equal(pthread_join(reader, (void **)&r), 0);
    json_t *product = json_object_get(gql_data(r), "product"), *v;
    json_int_t sum = 0;
    size_t i;
    json_array_foreach(json_object_get(product, "variants"), i, v) sum +=
        json_integer_value(json_object_get(v, "stock"));
    assert_int_equal(i, 2);
    assert_int_equal(json_integer_value(json_object_get(product, "stock")), sum);
    http_res_free(r);
    PQfinish(held);
    PQfinish(watch);
}

/* A Float is a number whatever its spelling: an exponent in the document
 * or a variable, or an integer past 64 bits in the variables' JSON, filters
 * as REST's plain decimal would (1e-7 is attr.grain.min=0.0000001). */
static void test_floats_filter_in_any_spelling(void **state) {
    (void)state;
    static const char *const BODIES[] = {
        "{\"name\": \"Grain fine\", \"sku\": \"GR-FINE\", \"price\": \"1\", \"stock\": 1,"
        " \"attributes\": {\"grain\": 0.0000005}}",
        "{\"name\": \"Grain coarse\", \"sku\": \"GR-COARSE\", \"price\": \"1\", \"stock\": 1,"
        " \"attributes\": {\"grain\": 5}}"};
    for (size_t i = 0; i < 2; i++) {
        struct http_res *r = call("POST", "/api/v1/products", staff, BODIES[i]);
        expect_status(r, 201, "create product");
        http_res_free(r);
    }
    static const char LITERAL[] = "{ products(filter: { attributes: [{ key: \"grain\", min: 1e-7,"
                                  " max: 1E-6 }] }) { totalCount } }";
    struct http_res *r = gql_post(NULL, LITERAL, NULL);
    assert_int_equal(jint(json_object_get(gql_data(r), "products"), "totalCount"), 1);
    http_res_free(r);
    r = post_raw("{\"query\": \"query($min: Float, $max: Float) { products(filter: { attributes:"
                 " [{ key: \\\"grain\\\", min: $min, max: $max }] }) { totalCount } }\","
                 " \"variables\": {\"min\": 0, \"max\": 100000000000000000000000}}",
                 "application/json");
    assert_int_equal(jint(json_object_get(gql_data(r), "products"), "totalCount"), 2);
    http_res_free(r);
    r = call("GET", "/graphql?query=%7B__typename%7D&variables=null", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(gql_data(r), "__typename"), "Query");
    http_res_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_documents_are_400),
        cmocka_unit_test(test_malformed_requests_are_400),
        cmocka_unit_test(test_server_answers),
        cmocka_unit_test(test_errors_quote_whole_characters),
        cmocka_unit_test(test_long_names_do_not_amplify),
        cmocka_unit_test(test_field_errors_have_paths),
        cmocka_unit_test(test_get_is_cached_on_the_normalised_document),
        cmocka_unit_test(test_what_is_never_cached),
        cmocka_unit_test(test_staff_and_public_are_cached_apart),
        cmocka_unit_test(test_statements_do_not_grow_with_parents),
        cmocka_unit_test(test_row_category_needs_no_statement),
        cmocka_unit_test(test_a_product_and_its_variants_are_one_snapshot),
        cmocka_unit_test(test_floats_filter_in_any_spelling),
    };
    return harness_run_group("graphql_http", tests, sizeof tests / sizeof tests[0], start, stop);
}
