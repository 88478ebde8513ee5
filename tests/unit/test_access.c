/*
 * test_access.c -- the access check that every route relies on: roles
 * include the ones below them, and the route table gives each resource the
 * level it must have.
 */
#include "nexus/http/auth.h"
#include "nexus/http/router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_staff_route_refuses_customers_and_anonymous(void **state) {
    (void)state;
    assert_false(access_allows(ACCESS_PUBLIC, ACCESS_STAFF));
    assert_false(access_allows(ACCESS_CUSTOMER, ACCESS_STAFF));
    assert_true(access_allows(ACCESS_STAFF, ACCESS_STAFF));
    assert_true(access_allows(ACCESS_ADMIN, ACCESS_STAFF));
}

static void test_roles_include_the_ones_below(void **state) {
    (void)state;
    for (int role = ACCESS_PUBLIC; role <= ACCESS_ADMIN; role++)
        for (int need = ACCESS_PUBLIC; need <= ACCESS_ADMIN; need++)
            assert_int_equal(access_allows((enum access)role, (enum access)need) != 0,
                             role >= need);
}

static void test_unset_level_allows_nobody(void **state) {
    (void)state;
    assert_false(access_allows(ACCESS_ADMIN, ACCESS_UNSET));
}

static void test_role_names_map_to_levels(void **state) {
    (void)state;
    assert_int_equal(access_from_role("customer"), ACCESS_CUSTOMER);
    assert_int_equal(access_from_role("staff"), ACCESS_STAFF);
    assert_int_equal(access_from_role("admin"), ACCESS_ADMIN);
    assert_int_equal(access_from_role("Admin"), ACCESS_UNSET);
    assert_int_equal(access_from_role(""), ACCESS_UNSET);
}

static void test_user_management_routes_are_admin_only(void **state) {
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < nx_route_count; i++) {
        const struct route *r = &nx_routes[i];
        if (strcmp(r->pattern, "/api/v1/users") == 0 ||
            strcmp(r->pattern, "/api/v1/users/{id}") == 0) {
            assert_int_equal(r->access, ACCESS_ADMIN);
            checked++;
        }
    }
    assert_int_equal(checked, 4);
}

static void test_every_route_has_an_access_level(void **state) {
    (void)state;
    char err[256];
    assert_true(router_validate(nx_routes, nx_route_count, err, sizeof err));
    struct route bad[] = {{HTTP_GET, "/x", nx_routes[0].handler, ACCESS_UNSET, 0}};
    assert_false(router_validate(bad, 1, err, sizeof err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_staff_route_refuses_customers_and_anonymous),
        cmocka_unit_test(test_roles_include_the_ones_below),
        cmocka_unit_test(test_unset_level_allows_nobody),
        cmocka_unit_test(test_role_names_map_to_levels),
        cmocka_unit_test(test_user_management_routes_are_admin_only),
        cmocka_unit_test(test_every_route_has_an_access_level),
    };
    return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}
