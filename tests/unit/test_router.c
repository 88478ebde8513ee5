/*
 * test_router.c -- route matching, Allow masks and table validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/http/router.h"

#include <string.h>

static enum nx_err h_list(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static enum nx_err h_create(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static enum nx_err h_get(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static enum nx_err h_delete(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static enum nx_err h_item(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static enum nx_err h_post_only(struct request *req, struct response *res) {
    (void)req;
    (void)res;
    return NX_OK;
}

static const struct route table[] = {
    {HTTP_GET, "/api/v1/products", h_list, ACCESS_PUBLIC, ROUTE_CACHEABLE},
    {HTTP_POST, "/api/v1/products", h_create, ACCESS_STAFF, ROUTE_JSON_BODY},
    {HTTP_GET, "/api/v1/products/{id}", h_get, ACCESS_PUBLIC, ROUTE_CACHEABLE},
    {HTTP_DELETE, "/api/v1/products/{id}", h_delete, ACCESS_ADMIN, 0},
    {HTTP_PUT, "/api/v1/orders/{order}/items/{item}", h_item, ACCESS_CUSTOMER, 0},
    {HTTP_POST, "/api/v1/login", h_post_only, ACCESS_PUBLIC, ROUTE_JSON_BODY},
    /* after /products/{id}, which it must win against */
    {HTTP_GET, "/api/v1/products/facets", h_list, ACCESS_PUBLIC, ROUTE_CACHEABLE},
};
static const size_t table_len = sizeof table / sizeof table[0];

#define BIT(m) (1u << (m))

static struct request make_req(enum http_method method, const char *path) {
    struct request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    return req;
}

static enum nx_err match(struct request *req) {
    return router_match(table, table_len, req);
}

/* ---- router_match ------------------------------------------------------- */

static void test_match_exact_literal_path(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products");
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[0]);
    assert_int_equal(req.param_count, 0);
}

static void test_match_picks_row_of_requested_method(void **state) {
    (void)state;
    struct request req = make_req(HTTP_POST, "/api/v1/products");
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[1]);
}

static void test_match_captures_param_pointer_and_length(void **state) {
    (void)state;
    static const char path[] = "/api/v1/products/12345";
    struct request req = make_req(HTTP_GET, path);
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[2]);
    assert_int_equal(req.param_count, 1);
    assert_ptr_equal(req.params[0].ptr, path + strlen("/api/v1/products/"));
    assert_int_equal(req.params[0].len, 5);
    struct slice s = request_param(&req, 0);
    assert_memory_equal(s.ptr, "12345", 5);
    assert_int_equal(s.len, 5);
}

static void test_match_captures_two_params_in_order(void **state) {
    (void)state;
    static const char path[] = "/api/v1/orders/7/items/abc";
    struct request req = make_req(HTTP_PUT, path);
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[4]);
    assert_int_equal(req.param_count, 2);
    assert_ptr_equal(req.params[0].ptr, path + strlen("/api/v1/orders/"));
    assert_int_equal(req.params[0].len, 1);
    assert_ptr_equal(req.params[1].ptr, path + strlen("/api/v1/orders/7/items/"));
    assert_int_equal(req.params[1].len, 3);
}

static void test_param_out_of_range_is_empty_slice(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products/9");
    assert_int_equal(match(&req), NX_OK);
    struct slice s = request_param(&req, 1);
    assert_int_equal(s.len, 0);
    assert_non_null(s.ptr);
}

static void test_match_trailing_slash_is_not_found(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products/");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    assert_null(req.route);
    req = make_req(HTTP_GET, "/api/v1/products/1/");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    assert_null(req.route);
}

static void test_match_empty_segment_does_not_match_param(void **state) {
    (void)state;
    struct request req = make_req(HTTP_PUT, "/api/v1/orders//items/1");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    req = make_req(HTTP_PUT, "/api/v1/orders/1/items/");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    assert_null(req.route);
}

static void test_match_extra_segment_is_not_found(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products/1/extra");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    req = make_req(HTTP_GET, "/api/v1/product");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    req = make_req(HTTP_GET, "/");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    req = make_req(HTTP_GET, "");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
}

static void test_match_is_case_sensitive(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/API/v1/products");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
}

static void test_not_found_leaves_allow_mask_unset(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/nope");
    assert_int_equal(match(&req), NX_ERR_NOT_FOUND);
    assert_int_equal(req.allow_mask, 0);
}

static void test_wrong_method_is_405_with_methods_of_all_matching_rows(void **state) {
    (void)state;
    struct request req = make_req(HTTP_PUT, "/api/v1/products");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    assert_null(req.route);
    assert_int_equal(req.allow_mask,
                     BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_POST) | BIT(HTTP_OPTIONS));
}

static void test_405_mask_for_param_route_lists_get_head_delete_options(void **state) {
    (void)state;
    struct request req = make_req(HTTP_PATCH, "/api/v1/products/3");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    assert_int_equal(req.allow_mask,
                     BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_DELETE) | BIT(HTTP_OPTIONS));
}

/* A literal segment beats a parameter, for every method: the row listed
 * after /products/{id} serves GET, and the other methods are 405 with
 * only its own in Allow (not 404 or 401 from a product id "facets"). */
static void test_literal_segment_beats_parameter(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products/facets");
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[6]);
    static const enum http_method others[] = {HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_POST};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        req = make_req(others[i], "/api/v1/products/facets");
        assert_int_equal(match(&req), NX_ERR_METHOD);
        assert_null(req.route);
        assert_int_equal(req.allow_mask, BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_OPTIONS));
    }
    req = make_req(HTTP_DELETE, "/api/v1/products/7");
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[3]);
}

/* {id} and {vid} must be positive integers in range, else the path matches
 * nothing for any method (not a 405 on a method the pattern lacks); other
 * parameters are not looked at. */
static void test_ids_must_name_something(void **state) {
    (void)state;
    static const struct {
        const char *path;
        bool valid;
    } cases[] = {{"/api/v1/products/7", true},
                 {"/api/v1/products/abc", false},
                 {"/api/v1/products/0", false},
                 {"/api/v1/products/-1", false},
                 {"/api/v1/products/9223372036854775808", false},
                 {"/api/v1/orders/x/items/y", true}};
    static const enum http_method methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_OPTIONS};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            struct request req = make_req(methods[m], cases[i].path);
            enum nx_err e = match(&req);
            if (!cases[i].valid)
                assert_int_equal(e, NX_ERR_NOT_FOUND);
            else
                assert_int_not_equal(e, NX_ERR_NOT_FOUND);
        }
}

static void test_405_mask_without_get_row_has_no_head(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/login");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    assert_int_equal(req.allow_mask, BIT(HTTP_POST) | BIT(HTTP_OPTIONS));
}

static void test_head_is_matched_by_get_row(void **state) {
    (void)state;
    struct request req = make_req(HTTP_HEAD, "/api/v1/products/42");
    assert_int_equal(match(&req), NX_OK);
    assert_ptr_equal(req.route, &table[2]);
    assert_int_equal(req.param_count, 1);
    assert_int_equal(req.params[0].len, 2);
}

static void test_head_without_get_row_is_405(void **state) {
    (void)state;
    struct request req = make_req(HTTP_HEAD, "/api/v1/login");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    assert_null(req.route);
}

static void test_success_sets_allow_mask_too(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/api/v1/products");
    assert_int_equal(match(&req), NX_OK);
    assert_int_equal(req.allow_mask,
                     BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_POST) | BIT(HTTP_OPTIONS));
}

static void test_options_request_is_405_with_allow_mask(void **state) {
    (void)state;
    struct request req = make_req(HTTP_OPTIONS, "/api/v1/products/1");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    assert_int_equal(req.allow_mask,
                     BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_DELETE) | BIT(HTTP_OPTIONS));
}

/* ---- router_format_allow ------------------------------------------------ */

static void test_format_allow_get_head_options(void **state) {
    (void)state;
    char buf[128];
    router_format_allow(BIT(HTTP_GET) | BIT(HTTP_HEAD) | BIT(HTTP_OPTIONS), buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, OPTIONS");
}

static void test_format_allow_follows_enum_order(void **state) {
    (void)state;
    char buf[128];
    router_format_allow(BIT(HTTP_OPTIONS) | BIT(HTTP_DELETE) | BIT(HTTP_POST) | BIT(HTTP_GET) |
                            BIT(HTTP_HEAD),
                        buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST, DELETE, OPTIONS");
}

static void test_format_allow_all_methods(void **state) {
    (void)state;
    char buf[128];
    router_format_allow(0xffffffffu, buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
}

static void test_format_allow_empty_mask_is_empty_string(void **state) {
    (void)state;
    char buf[16];
    memset(buf, 'x', sizeof buf);
    router_format_allow(0, buf, sizeof buf);
    assert_string_equal(buf, "");
}

static void test_format_allow_stays_within_capacity(void **state) {
    (void)state;
    char buf[12];
    memset(buf, 'x', sizeof buf);
    router_format_allow(0xffffffffu, buf, 8);
    assert_true(strlen(buf) < 8);
    assert_int_equal(buf[8], 'x');
}

static void test_format_allow_of_match_result(void **state) {
    (void)state;
    struct request req = make_req(HTTP_PUT, "/api/v1/products");
    assert_int_equal(match(&req), NX_ERR_METHOD);
    char buf[128];
    router_format_allow(req.allow_mask, buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD, POST, OPTIONS");
}

/* ---- router_validate ---------------------------------------------------- */

static void test_validate_accepts_good_table(void **state) {
    (void)state;
    char err[256] = "";
    assert_true(router_validate(table, table_len, err, sizeof err));
}

static void test_validate_rejects_unset_access_level(void **state) {
    (void)state;
    const struct route bad[] = {
        {HTTP_GET, "/ok", h_list, ACCESS_PUBLIC, 0},
        {HTTP_POST, "/open", h_create, ACCESS_UNSET, 0},
    };
    char err[256] = "";
    assert_false(router_validate(bad, 2, err, sizeof err));
    assert_non_null(strstr(err, "/open"));
    assert_non_null(strstr(err, "access"));
}

static void test_validate_rejects_out_of_range_access_level(void **state) {
    (void)state;
    const struct route bad[] = {
        {HTTP_GET, "/x", h_list, (enum access)(ACCESS_ADMIN + 1), 0},
    };
    char err[256] = "";
    assert_false(router_validate(bad, 1, err, sizeof err));
}

static void test_validate_rejects_null_handler(void **state) {
    (void)state;
    const struct route bad[] = {
        {HTTP_GET, "/ok", h_list, ACCESS_PUBLIC, 0},
        {HTTP_GET, "/nohandler", NULL, ACCESS_PUBLIC, 0},
    };
    char err[256] = "";
    assert_false(router_validate(bad, 2, err, sizeof err));
    assert_non_null(strstr(err, "handler"));
}

static void test_validate_rejects_null_or_relative_pattern(void **state) {
    (void)state;
    const struct route no_pattern[] = {{HTTP_GET, NULL, h_list, ACCESS_PUBLIC, 0}};
    const struct route relative[] = {{HTTP_GET, "relative", h_list, ACCESS_PUBLIC, 0}};
    char err[256] = "";
    assert_false(router_validate(no_pattern, 1, err, sizeof err));
    assert_false(router_validate(relative, 1, err, sizeof err));
}

static void test_validate_rejects_explicit_head_and_options_rows(void **state) {
    (void)state;
    const struct route head[] = {{HTTP_HEAD, "/x", h_list, ACCESS_PUBLIC, 0}};
    const struct route options[] = {{HTTP_OPTIONS, "/x", h_list, ACCESS_PUBLIC, 0}};
    char err[256] = "";
    assert_false(router_validate(head, 1, err, sizeof err));
    assert_false(router_validate(options, 1, err, sizeof err));
}

static void test_validate_accepts_real_route_table(void **state) {
    (void)state;
    char err[256] = "";
    assert_true(nx_route_count > 0);
    if (!router_validate(nx_routes, nx_route_count, err, sizeof err))
        fail_msg("nx_routes rejected: %s", err);
}

static void test_real_route_table_serves_healthz(void **state) {
    (void)state;
    struct request req = make_req(HTTP_GET, "/healthz");
    assert_int_equal(router_match(nx_routes, nx_route_count, &req), NX_OK);
    assert_non_null(req.route);
    assert_string_equal(req.route->pattern, "/healthz");
    assert_int_equal(router_index(req.route), (size_t)(req.route - nx_routes));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_exact_literal_path),
        cmocka_unit_test(test_match_picks_row_of_requested_method),
        cmocka_unit_test(test_match_captures_param_pointer_and_length),
        cmocka_unit_test(test_match_captures_two_params_in_order),
        cmocka_unit_test(test_param_out_of_range_is_empty_slice),
        cmocka_unit_test(test_match_trailing_slash_is_not_found),
        cmocka_unit_test(test_match_empty_segment_does_not_match_param),
        cmocka_unit_test(test_match_extra_segment_is_not_found),
        cmocka_unit_test(test_match_is_case_sensitive),
        cmocka_unit_test(test_not_found_leaves_allow_mask_unset),
        cmocka_unit_test(test_wrong_method_is_405_with_methods_of_all_matching_rows),
        cmocka_unit_test(test_405_mask_for_param_route_lists_get_head_delete_options),
        cmocka_unit_test(test_literal_segment_beats_parameter),
        cmocka_unit_test(test_ids_must_name_something),
        cmocka_unit_test(test_405_mask_without_get_row_has_no_head),
        cmocka_unit_test(test_head_is_matched_by_get_row),
        cmocka_unit_test(test_head_without_get_row_is_405),
        cmocka_unit_test(test_success_sets_allow_mask_too),
        cmocka_unit_test(test_options_request_is_405_with_allow_mask),
        cmocka_unit_test(test_format_allow_get_head_options),
        cmocka_unit_test(test_format_allow_follows_enum_order),
        cmocka_unit_test(test_format_allow_all_methods),
        cmocka_unit_test(test_format_allow_empty_mask_is_empty_string),
        cmocka_unit_test(test_format_allow_stays_within_capacity),
        cmocka_unit_test(test_format_allow_of_match_result),
        cmocka_unit_test(test_validate_accepts_good_table),
        cmocka_unit_test(test_validate_rejects_unset_access_level),
        cmocka_unit_test(test_validate_rejects_out_of_range_access_level),
        cmocka_unit_test(test_validate_rejects_null_handler),
        cmocka_unit_test(test_validate_rejects_null_or_relative_pattern),
        cmocka_unit_test(test_validate_rejects_explicit_head_and_options_rows),
        cmocka_unit_test(test_validate_accepts_real_route_table),
        cmocka_unit_test(test_real_route_table_serves_healthz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
