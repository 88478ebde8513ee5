/*
 * test_graphql_key.c -- the cache key of GET /graphql: one key for
 * spellings of one request (white space, commas, comments, the order of
 * the variables' keys), other keys for other documents, variables,
 * operation names and callers, and none for what must not be shared.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/api/graphql.h"

#include <stdlib.h>
#include <string.h>

/* A request with these query parameters (NULL: absent); the key or NULL. */
static char *key_of(const char *query, const char *name, const char *vars, bool staff) {
    struct request req;
    memset(&req, 0, sizeof req);
    req.query_loaded = true;
    req.principal.role = staff ? ACCESS_STAFF : ACCESS_PUBLIC;
    const char *keys[] = {"query", "operationName", "variables"};
    const char *values[] = {query, name, vars};
    for (size_t i = 0; i < 3; i++)
        if (values[i])
            req.query[req.query_count++] =
                (struct query_arg){keys[i], values[i], strlen(values[i])};
    struct buf out = {0};
    bool ok = graphql_cache_key(&req, &out);
    request_clear(&req);
    if (!ok)
        buf_clear(&out);
    return ok ? buf_take(&out, NULL) : NULL;
}

static void assert_same(char *a, char *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void assert_differ(char *a, char *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void test_spellings_of_one_document_share_a_key(void **state) {
    (void)state;
    const char *q = "{ product(id: 7) { name variants { sku } } }";
    assert_same(
        key_of(q, NULL, NULL, false),
        key_of("# a comment\n{product(id:7),{name,,variants{\tsku}}}\n", NULL, NULL, false));
    assert_same(key_of("{ product(slug: \"a\\u0062\") { id } }", NULL, NULL, false),
                key_of("{ product(slug: \"ab\") { id } }", NULL, NULL, false));
    assert_same(key_of(q, NULL, "{\"a\": 1, \"b\": [2]}", false),
                key_of(q, NULL, "{ \"b\" : [2], \"a\" : 1 }", false));
    assert_same(key_of(q, NULL, "", false), key_of(q, NULL, NULL, false));
    /* variables null run as none: one answer, one key */
    assert_same(key_of(q, NULL, "null", false), key_of(q, NULL, NULL, false));
    assert_same(key_of(q, NULL, " null ", false), key_of(q, NULL, NULL, false));
}

static void test_other_requests_have_other_keys(void **state) {
    (void)state;
    const char *q = "query($n: Int) { products(first: $n) { totalCount } }";
    assert_differ(key_of(q, NULL, "{\"n\": 1}", false), key_of(q, NULL, "{\"n\": 2}", false));
    assert_differ(key_of(q, NULL, NULL, false), key_of(q, NULL, NULL, true));
    assert_differ(key_of("{ a: categories { id } }", NULL, NULL, false),
                  key_of("{ b: categories { id } }", NULL, NULL, false));
    assert_differ(key_of("{ product(slug: \"a b\") { id } }", NULL, NULL, false),
                  key_of("{ product(slug: \"a  b\") { id } }", NULL, NULL, false));
    assert_differ(key_of(q, NULL, NULL, false), key_of(q, "x", NULL, false));
}

static void test_what_must_not_be_shared_has_no_key(void **state) {
    (void)state;
    assert_null(key_of("query Named { categories { id } }", NULL, NULL, false));
    assert_null(key_of("{ me { email } }", NULL, NULL, false));
    assert_null(key_of("{ x: categories { id } ...F } fragment F on Query { me { id } }", NULL,
                       NULL, false));
    assert_null(key_of("{ product(slug: \"abc) { id } }", NULL, NULL, false)); /* does not lex */
    assert_null(key_of(NULL, NULL, NULL, false));
    assert_null(key_of("{ categories { id } }", NULL, "[1]", false));
    assert_null(key_of("{ categories { id } }", NULL, "1", false));
    assert_null(key_of("{ categories { id } }", NULL, "nul", false));
    /* an empty operationName names no operation: not the document's entry */
    assert_null(key_of("{ categories { id } }", "", NULL, false));
    /* an anonymous query with variables is cached; a field named query is not a name */
    char *k =
        key_of("query($s: String) { product(slug: $s) { id } }", NULL, "{\"s\": \"a\"}", false);
    assert_non_null(k);
    free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings_of_one_document_share_a_key),
        cmocka_unit_test(test_other_requests_have_other_keys),
        cmocka_unit_test(test_what_must_not_be_shared_has_no_key),
    };
    return cmocka_run_group_tests_name("graphql_key", tests, NULL, NULL);
}
