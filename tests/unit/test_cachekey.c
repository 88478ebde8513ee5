/*
 * test_cachekey.c -- cache keys from the parsed request: what makes two
 * requests share an entry, and what keeps them apart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/http/cachekey.h"

#include <stdlib.h>
#include <string.h>

static enum nx_err h_list(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static const struct key_param PARAMS[] = {
    {"q", KEY_TEXT},          {"limit", KEY_STRICT},      {"in_stock", KEY_BOOL},
    {"min_price", KEY_MONEY}, {"currency", KEY_CURRENCY}, {"fields", KEY_NAMES},
    {"attr.", KEY_PREFIX},
};
static const struct cache_key_spec SPEC = {h_list, PARAMS, 7, NULL};

#define MAX_ARGS 8

/* The key of "staff?" plus args given as "k=v" / "k" strings. */
static char *key_of(bool staff, const char *const *query, bool *cacheable) {
    struct query_arg args[MAX_ARGS];
    char keys[MAX_ARGS][32];
    size_t n = 0;
    for (; query && query[n]; n++) {
        const char *eq = strchr(query[n], '=');
        size_t klen = eq ? (size_t)(eq - query[n]) : strlen(query[n]);
        memcpy(keys[n], query[n], klen);
        keys[n][klen] = '\0';
        args[n] = (struct query_arg){keys[n], eq ? eq + 1 : NULL, eq ? strlen(eq + 1) : 0};
    }
    struct slice path[] = {{"7", 1}};
    struct cache_key_input in = {staff, "/api/v1/things/{id}", path, 1, args, n};
    struct buf b = {0};
    *cacheable = cache_key_build(&b, &SPEC, &in);
    buf_puts(&b, "");
    return buf_take(&b, NULL);
}

static void assert_same(const char *const *a, const char *const *b) {
    bool ca, cb;
    char *ka = key_of(false, a, &ca), *kb = key_of(false, b, &cb);
    assert_true(ca && cb);
    assert_string_equal(ka, kb);
    free(ka);
    free(kb);
}

static void assert_apart(const char *const *a, const char *const *b) {
    bool ca, cb;
    char *ka = key_of(false, a, &ca), *kb = key_of(false, b, &cb);
    assert_true(ca && cb);
    assert_string_not_equal(ka, kb);
    free(ka);
    free(kb);
}

/* fields= names in any order are one entry; a choice of fields, none,
 * an empty value and a malformed list are four. */
static void test_field_lists(void **state) {
    (void)state;
    const char *none[] = {NULL};
    const char *a[] = {"fields=name,id,price", NULL};
    const char *b[] = {"fields=price,name,id", NULL};
    const char *id[] = {"fields=id", NULL};
    const char *empty[] = {"fields=", NULL};
    const char *repeated[] = {"fields=id,id", NULL};
    const char *hole[] = {"fields=id,,name", NULL};
    const char *id_name[] = {"fields=id,name", NULL};
    assert_same(a, b);
    assert_apart(none, id);
    assert_apart(none, empty);
    assert_apart(id, empty);
    assert_apart(id, repeated);
    assert_apart(hole, id_name);
    assert_apart(a, id_name);
}

static void test_order_and_unknown_parameters_do_not_matter(void **state) {
    (void)state;
    const char *a[] = {"limit=20", "q=lamp", NULL};
    const char *b[] = {"utm=x", "q=lamp", "z", "limit=20", "z=1", NULL};
    assert_same(a, b);
}

static void test_empty_values_are_absent_except_strict_ones(void **state) {
    (void)state;
    const char *none[] = {NULL};
    const char *empty_q[] = {"q=", "in_stock", NULL};
    const char *empty_limit[] = {"limit=", NULL};
    assert_same(none, empty_q);
    assert_apart(none, empty_limit);
}

static void test_equivalent_spellings_share_a_key(void **state) {
    (void)state;
    const char *a[] = {"min_price=5", "currency=usd", "in_stock=true", NULL};
    const char *b[] = {"min_price=5.00", "currency=USD", "in_stock=true", NULL};
    assert_same(a, b);
}

static void test_refused_spellings_never_meet_canonical_ones(void **state) {
    (void)state;
    const char *good[] = {"in_stock=true", NULL};
    const char *bad[] = {"in_stock=1", NULL};
    const char *cents[] = {"min_price=500", NULL};
    const char *odd[] = {"min_price=5.", NULL};
    const char *dollars[] = {"min_price=5", NULL};
    assert_apart(good, bad);
    assert_apart(cents, dollars);
    assert_apart(odd, dollars);
}

static void test_values_cannot_imitate_other_parameters(void **state) {
    (void)state;
    const char *a[] = {"q=a&limit=5", NULL};
    const char *b[] = {"q=a", "limit=5", NULL};
    assert_apart(a, b);
}

static void test_repeated_known_parameter_is_not_cacheable(void **state) {
    (void)state;
    const char *q[] = {"limit=5", "limit=5", NULL};
    const char *unknown[] = {"z=1", "z=2", NULL};
    bool cacheable;
    free(key_of(false, q, &cacheable));
    assert_false(cacheable);
    free(key_of(false, unknown, &cacheable));
    assert_true(cacheable);
}

static void test_staff_and_public_keys_differ(void **state) {
    (void)state;
    bool c1, c2;
    char *pub = key_of(false, NULL, &c1), *staff = key_of(true, NULL, &c2);
    assert_string_not_equal(pub, staff);
    free(pub);
    free(staff);
}

/* attr.* parameters: every one is in the key, in any order, and a
 * repeated one is not cached (the handler's 400). */
static void test_prefixed_parameters(void **state) {
    (void)state;
    bool cacheable;
    const char *none[] = {NULL};
    const char *a[] = {"attr.size=M", "attr.brand=Acme", NULL};
    const char *b[] = {"attr.brand=Acme", "x=1", "attr.size=M", NULL};
    const char *other[] = {"attr.brand=Acme", "attr.size=L", NULL};
    const char *moved[] = {"attr.brand=Acme,attr.size=M", NULL};
    const char *repeated[] = {"attr.brand=Acme", "attr.brand=Zelkal", NULL};
    assert_same(a, b);
    assert_apart(a, other);
    assert_apart(a, moved);
    assert_apart(none, a);
    free(key_of(false, repeated, &cacheable));
    assert_false(cacheable);
    assert_true(key_params_include(PARAMS, 7, "attr.brand.min"));
    assert_false(key_params_include(PARAMS, 7, "attr"));
}

static void test_every_cacheable_route_has_a_key_row(void **state) {
    (void)state;
    char err[256];
    assert_true(cache_keys_validate(nx_routes, nx_route_count, err, sizeof err));
    const struct route missing[] = {{HTTP_GET, "/x", h_list, ACCESS_PUBLIC, ROUTE_CACHEABLE}};
    assert_false(cache_keys_validate(missing, 1, err, sizeof err));
    assert_non_null(strstr(err, "/x"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_unknown_parameters_do_not_matter),
        cmocka_unit_test(test_field_lists),
        cmocka_unit_test(test_empty_values_are_absent_except_strict_ones),
        cmocka_unit_test(test_equivalent_spellings_share_a_key),
        cmocka_unit_test(test_refused_spellings_never_meet_canonical_ones),
        cmocka_unit_test(test_values_cannot_imitate_other_parameters),
        cmocka_unit_test(test_repeated_known_parameter_is_not_cacheable),
        cmocka_unit_test(test_staff_and_public_keys_differ),
        cmocka_unit_test(test_prefixed_parameters),
        cmocka_unit_test(test_every_cacheable_route_has_a_key_row),
    };
    return cmocka_run_group_tests_name("cachekey", tests, NULL, NULL);
}
