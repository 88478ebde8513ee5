/*
 * test_graphql_doccache.c -- the per-thread cache of parsed and validated
 * documents (graphql/doccache): the same text answers the same document,
 * other text another, documents that fail are never kept, the least
 * recently used goes first, and a thread's cache is freed when it exits
 * (the sanitizer build reports a leak or a use after free).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/graphql/doccache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const struct gql_document *cached(const char *text, struct gql_errors *errs) {
    return gql_doc_cached(text, strlen(text), errs);
}

static void test_same_text_same_document(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    const struct gql_document *a = cached("{ products { totalCount } }", &errs);
    assert_non_null(a);
    assert_ptr_equal(cached("{ products { totalCount } }", &errs), a);
    const struct gql_document *b = cached("{ products  { totalCount } }", &errs);
    assert_non_null(b);
    assert_ptr_not_equal(b, a); /* exact text, not its meaning */
    assert_int_equal(errs.count, 0);
}

/* A document that fails is answered with its errors every time. */
static void test_failures_are_not_kept(void **state) {
    (void)state;
    for (int i = 0; i < 2; i++) {
        struct gql_errors errs = {0};
        assert_null(cached("{ products { nope } }", &errs));
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].code, GQL_CODE_VALIDATION);
        gql_errors_clear(&errs);
        assert_null(cached("{ products {", &errs));
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].code, GQL_CODE_PARSE);
        gql_errors_clear(&errs);
    }
}

/* Many more documents than the cache holds: one used between each stays,
 * and every document answered is whole. */
static void test_least_recently_used_goes(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    const char *kept = "{ categories { id } }";
    const struct gql_document *k = cached(kept, &errs);
    for (int i = 0; i < 4 * GQL_DOC_CACHE_COUNT; i++) {
        char text[64], alias[16];
        snprintf(alias, sizeof alias, "a%d", i);
        snprintf(text, sizeof text, "{ %s: products { totalCount } }", alias);
        const struct gql_document *d = cached(text, &errs);
        assert_non_null(d);
        assert_string_equal(d->definitions->selections->alias, alias);
        assert_ptr_equal(cached(kept, &errs), k);
    }
    assert_int_equal(errs.count, 0);
}

static void *in_thread(void *arg) {
    struct gql_errors errs = {0};
    *(const struct gql_document **)arg = cached("{ me { id } }", &errs);
    return NULL;
}

static void test_thread_has_its_own(void **state) {
    (void)state;
    const struct gql_document *there = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, in_thread, &there), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(there); /* freed with its thread */
    struct gql_errors errs = {0};
    assert_non_null(cached("{ me { id } }", &errs));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_text_same_document),
        cmocka_unit_test(test_failures_are_not_kept),
        cmocka_unit_test(test_least_recently_used_goes),
        cmocka_unit_test(test_thread_has_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
