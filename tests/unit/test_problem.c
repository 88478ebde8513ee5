/*
 * test_problem.c -- error codes to statuses and RFC 9457 problem bodies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/http/problem.h"
#include "nexus/http/request.h"

#include <stdio.h>
#include <string.h>

/* A request and response pair as the server holds them. */
struct fixture {
    struct request req;
    struct response res;
    json_t *body;
};

static int setup(void **state) {
    struct fixture *f = test_calloc(1, sizeof *f);
    f->req.method = HTTP_GET;
    f->req.path = "/api/v1/things";
    snprintf(f->req.request_id, sizeof f->req.request_id, "req-123");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    json_decref(f->body);
    request_clear(&f->req);
    response_clear(&f->res);
    test_free(f);
    return 0;
}

/* Render code and parse the body into f->body. */
static json_t *render(struct fixture *f, enum nx_err code) {
    problem_render(&f->req, code, &f->res);
    assert_non_null(f->res.body);
    json_error_t jerr;
    json_decref(f->body);
    f->body = json_loadb(f->res.body, f->res.len, 0, &jerr);
    if (!f->body)
        fail_msg("problem body is not JSON (%s): %.*s", jerr.text, (int)f->res.len, f->res.body);
    assert_true(json_is_object(f->body));
    return f->body;
}

static const char *header(const struct response *res, const char *name) {
    for (size_t i = 0; i < res->header_count; i++)
        if (strcmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

static size_t header_count_named(const struct response *res, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < res->header_count; i++)
        if (strcmp(res->headers[i].name, name) == 0)
            n++;
    return n;
}

static const char *str_member(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member \"%s\" is missing or not a string", key);
    return json_string_value(v);
}

/* ---- problem_status and http_reason ------------------------------------- */

static void test_status_maps_every_error_code(void **state) {
    (void)state;
    static const struct {
        enum nx_err code;
        unsigned status;
    } want[] = {
        {NX_OK, 200},
        {NX_ERR_BAD_REQUEST, 400},
        {NX_ERR_UNAUTHORIZED, 401},
        {NX_ERR_FORBIDDEN, 403},
        {NX_ERR_NOT_FOUND, 404},
        {NX_ERR_METHOD, 405},
        {NX_ERR_CONFLICT, 409},
        {NX_ERR_PRECONDITION, 412},
        {NX_ERR_TOO_LARGE, 413},
        {NX_ERR_URI_TOO_LONG, 414},
        {NX_ERR_UNSUPPORTED_TYPE, 415},
        {NX_ERR_VALIDATION, 422},
        {NX_ERR_TOO_MANY, 429},
        {NX_ERR_HEADERS_TOO_LARGE, 431},
        {NX_ERR_INTERNAL, 500},
        {NX_ERR_UNAVAILABLE, 503},
    };
    assert_int_equal(sizeof want / sizeof want[0], NX_ERR__COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (problem_status(want[i].code) != want[i].status)
            fail_msg("code %d: status %u, want %u", (int)want[i].code, problem_status(want[i].code),
                     want[i].status);
    }
}

static void test_status_of_unknown_code_is_500(void **state) {
    (void)state;
    assert_int_equal(problem_status(NX_ERR__COUNT), 500);
    assert_int_equal(problem_status((enum nx_err)(NX_ERR__COUNT + 7)), 500);
}

static void test_reason_413_is_content_too_large(void **state) {
    (void)state;
    assert_string_equal(http_reason(413), "Content Too Large");
}

static void test_reason_422_is_unprocessable_content(void **state) {
    (void)state;
    assert_string_equal(http_reason(422), "Unprocessable Content");
}

static void test_reason_phrases_of_common_statuses(void **state) {
    (void)state;
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(400), "Bad Request");
    assert_string_equal(http_reason(401), "Unauthorized");
    assert_string_equal(http_reason(404), "Not Found");
    assert_string_equal(http_reason(405), "Method Not Allowed");
    assert_string_equal(http_reason(409), "Conflict");
    assert_string_equal(http_reason(412), "Precondition Failed");
    assert_string_equal(http_reason(414), "URI Too Long");
    assert_string_equal(http_reason(415), "Unsupported Media Type");
    assert_string_equal(http_reason(429), "Too Many Requests");
    assert_string_equal(http_reason(500), "Internal Server Error");
    assert_string_equal(http_reason(503), "Service Unavailable");
}

static void test_every_error_status_has_its_own_reason(void **state) {
    (void)state;
    for (int c = NX_ERR_BAD_REQUEST; c < NX_ERR__COUNT; c++) {
        unsigned status = problem_status((enum nx_err)c);
        if (status != 500 && strcmp(http_reason(status), "Internal Server Error") == 0)
            fail_msg("status %u has no reason phrase of its own", status);
    }
}

/* ---- problem_render: the body ------------------------------------------- */

static void test_render_body_has_rfc9457_members(void **state) {
    struct fixture *f = *state;
    problem_detail(&f->req, NX_ERR_NOT_FOUND, "product %d does not exist", 7);
    json_t *body = render(f, NX_ERR_NOT_FOUND);
    assert_int_equal(f->res.status, 404);
    assert_string_equal(f->res.content_type, "application/problem+json");
    assert_string_equal(str_member(body, "type"), "about:blank");
    assert_string_equal(str_member(body, "title"), "Not Found");
    assert_true(json_is_integer(json_object_get(body, "status")));
    assert_int_equal(json_integer_value(json_object_get(body, "status")), 404);
    assert_string_equal(str_member(body, "detail"), "product 7 does not exist");
    assert_string_equal(str_member(body, "request_id"), "req-123");
    assert_null(json_object_get(body, "errors"));
}

static void test_render_title_is_reason_phrase_for_every_code(void **state) {
    struct fixture *f = *state;
    for (int c = NX_ERR_BAD_REQUEST; c < NX_ERR__COUNT; c++) {
        json_t *body = render(f, (enum nx_err)c);
        unsigned status = problem_status((enum nx_err)c);
        assert_int_equal(f->res.status, status);
        assert_int_equal(json_integer_value(json_object_get(body, "status")), status);
        assert_string_equal(str_member(body, "title"), http_reason(status));
        assert_string_equal(str_member(body, "type"), "about:blank");
        assert_true(strlen(str_member(body, "detail")) > 0);
        assert_string_equal(f->res.content_type, "application/problem+json");
    }
}

static void test_render_uses_default_detail_when_none_recorded(void **state) {
    struct fixture *f = *state;
    json_t *body = render(f, NX_ERR_UNSUPPORTED_TYPE);
    assert_string_equal(str_member(body, "detail"), "the request body must be application/json");
}

static void test_problem_detail_returns_code_and_records_sentence(void **state) {
    struct fixture *f = *state;
    assert_int_equal(problem_detail(&f->req, NX_ERR_BAD_REQUEST, "bad %s", "cursor"),
                     NX_ERR_BAD_REQUEST);
    assert_string_equal(f->req.detail, "bad cursor");
}

static void test_problem_detail_truncates_to_buffer(void **state) {
    struct fixture *f = *state;
    char longtext[600];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    problem_detail(&f->req, NX_ERR_BAD_REQUEST, "%s", longtext);
    assert_int_equal(strlen(f->req.detail), sizeof f->req.detail - 1);
    json_t *body = render(f, NX_ERR_BAD_REQUEST);
    assert_int_equal(strlen(str_member(body, "detail")), sizeof f->req.detail - 1);
}

static void test_render_invalid_utf8_detail_falls_back_to_default(void **state) {
    struct fixture *f = *state;
    problem_detail(&f->req, NX_ERR_BAD_REQUEST, "name '%s' is bad", "\xff\xfe");
    json_t *body = render(f, NX_ERR_BAD_REQUEST);
    assert_string_equal(str_member(body, "detail"), "the request is malformed");
}

/* A sentence quoting the client's text cut inside a character keeps the
 * rest of the sentence (it fell back to the generic one). */
static void test_detail_cut_inside_a_character_keeps_its_sentence(void **state) {
    struct fixture *f = *state;
    problem_detail(&f->req, NX_ERR_BAD_REQUEST, "%.4s: a value may not be empty",
                   "\xe2\x82\xac\xe2\x82\xac");
    json_t *body = render(f, NX_ERR_BAD_REQUEST);
    assert_string_equal(str_member(body, "detail"), "\xe2\x82\xac: a value may not be empty");
}

static void test_render_escapes_quotes_in_detail(void **state) {
    struct fixture *f = *state;
    problem_detail(&f->req, NX_ERR_BAD_REQUEST, "field \"x\" \\ bad");
    json_t *body = render(f, NX_ERR_BAD_REQUEST);
    assert_string_equal(str_member(body, "detail"), "field \"x\" \\ bad");
}

/* ---- problem_render: field errors --------------------------------------- */

static void test_problem_field_returns_validation(void **state) {
    struct fixture *f = *state;
    assert_int_equal(problem_field(&f->req, "name", "is required"), NX_ERR_VALIDATION);
}

static void test_problem_conflict_returns_conflict(void **state) {
    struct fixture *f = *state;
    assert_int_equal(problem_conflict(&f->req, "sku", "is taken"), NX_ERR_CONFLICT);
}

static void test_render_422_lists_one_entry_per_field(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "name", "is required");
    enum nx_err code = problem_field(&f->req, "price", "must be at most 99999999.99");
    json_t *body = render(f, code);
    assert_int_equal(f->res.status, 422);
    assert_string_equal(str_member(body, "title"), "Unprocessable Content");
    json_t *errors = json_object_get(body, "errors");
    assert_true(json_is_array(errors));
    assert_int_equal(json_array_size(errors), 2);
    assert_string_equal(str_member(json_array_get(errors, 0), "field"), "name");
    assert_string_equal(str_member(json_array_get(errors, 0), "message"), "is required");
    assert_string_equal(str_member(json_array_get(errors, 1), "field"), "price");
    assert_string_equal(str_member(json_array_get(errors, 1), "message"),
                        "must be at most 99999999.99");
}

/* A field or message that is no UTF-8 (a byte cut of the client's text)
 * is still rendered, its bad bytes as U+FFFD: the process stopped on it. */
static void test_render_422_field_that_is_no_utf8(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "attributes.a\xc3", "is \xff bad");
    json_t *body = render(f, NX_ERR_VALIDATION);
    json_t *entry = json_array_get(json_object_get(body, "errors"), 0);
    assert_string_equal(str_member(entry, "field"), "attributes.a\xef\xbf\xbd");
    assert_string_equal(str_member(entry, "message"), "is \xef\xbf\xbd bad");
}

static void test_render_422_default_detail_counts_fields(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "name", "is required");
    problem_field(&f->req, "price", "is required");
    json_t *body = render(f, NX_ERR_VALIDATION);
    assert_string_equal(str_member(body, "detail"), "2 fields are invalid");
}

static void test_render_422_default_detail_singular_for_one_field(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "name", "is required");
    json_t *body = render(f, NX_ERR_VALIDATION);
    assert_string_equal(str_member(body, "detail"), "1 field is invalid");
}

static void test_render_422_recorded_detail_wins_over_count(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "name", "is required");
    problem_detail(&f->req, NX_ERR_VALIDATION, "the product is incomplete");
    json_t *body = render(f, NX_ERR_VALIDATION);
    assert_string_equal(str_member(body, "detail"), "the product is incomplete");
    assert_int_equal(json_array_size(json_object_get(body, "errors")), 1);
}

static void test_render_422_without_fields_has_no_errors_member(void **state) {
    struct fixture *f = *state;
    problem_detail(&f->req, NX_ERR_VALIDATION, "no good");
    json_t *body = render(f, NX_ERR_VALIDATION);
    assert_null(json_object_get(body, "errors"));
}

static void test_render_409_lists_conflicting_field(void **state) {
    struct fixture *f = *state;
    enum nx_err code = problem_conflict(&f->req, "email", "is already registered");
    json_t *body = render(f, code);
    assert_int_equal(f->res.status, 409);
    json_t *errors = json_object_get(body, "errors");
    assert_true(json_is_array(errors));
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(str_member(json_array_get(errors, 0), "field"), "email");
    assert_string_equal(str_member(json_array_get(errors, 0), "message"), "is already registered");
    assert_string_equal(str_member(body, "detail"), "the request conflicts with the current state");
}

static void test_render_409_without_fields_has_no_errors_member(void **state) {
    struct fixture *f = *state;
    json_t *body = render(f, NX_ERR_CONFLICT);
    assert_null(json_object_get(body, "errors"));
}

static void test_render_other_codes_omit_recorded_field_errors(void **state) {
    struct fixture *f = *state;
    problem_field(&f->req, "name", "is required");
    json_t *body = render(f, NX_ERR_BAD_REQUEST);
    assert_null(json_object_get(body, "errors"));
    body = render(f, NX_ERR_INTERNAL);
    assert_null(json_object_get(body, "errors"));
}

/* ---- problem_render: headers -------------------------------------------- */

static void test_render_401_adds_bearer_challenge(void **state) {
    struct fixture *f = *state;
    render(f, NX_ERR_UNAUTHORIZED);
    assert_int_equal(f->res.status, 401);
    const char *www = header(&f->res, "WWW-Authenticate");
    assert_non_null(www);
    assert_int_equal(strncmp(www, "Bearer", 6), 0);
}

static void test_render_403_has_no_challenge(void **state) {
    struct fixture *f = *state;
    render(f, NX_ERR_FORBIDDEN);
    assert_null(header(&f->res, "WWW-Authenticate"));
}

static void test_render_405_adds_allow_from_mask(void **state) {
    struct fixture *f = *state;
    f->req.allow_mask = 1u << HTTP_GET | 1u << HTTP_HEAD | 1u << HTTP_DELETE | 1u << HTTP_OPTIONS;
    render(f, NX_ERR_METHOD);
    assert_int_equal(f->res.status, 405);
    const char *allow = header(&f->res, "Allow");
    assert_non_null(allow);
    assert_string_equal(allow, "GET, HEAD, DELETE, OPTIONS");
}

static void test_render_429_adds_default_retry_after(void **state) {
    struct fixture *f = *state;
    render(f, NX_ERR_TOO_MANY);
    assert_int_equal(f->res.status, 429);
    const char *ra = header(&f->res, "Retry-After");
    assert_non_null(ra);
    assert_string_equal(ra, "1");
}

static void test_render_429_uses_explicit_retry_after(void **state) {
    struct fixture *f = *state;
    f->req.retry_after = 120;
    render(f, NX_ERR_TOO_MANY);
    assert_string_equal(header(&f->res, "Retry-After"), "120");
}

static void test_render_503_adds_default_retry_after(void **state) {
    struct fixture *f = *state;
    render(f, NX_ERR_UNAVAILABLE);
    assert_int_equal(f->res.status, 503);
    assert_string_equal(header(&f->res, "Retry-After"), "1");
}

static void test_render_503_uses_explicit_retry_after(void **state) {
    struct fixture *f = *state;
    f->req.retry_after = 5;
    render(f, NX_ERR_UNAVAILABLE);
    assert_string_equal(header(&f->res, "Retry-After"), "5");
}

/* A 409 of a request still running under its Idempotency-Key says when
 * to retry; another 409 (a taken value) does not. */
static void test_render_409_of_a_key_still_running_adds_retry_after(void **state) {
    struct fixture *f = *state;
    f->req.conflict_retries = true;
    render(f, NX_ERR_CONFLICT);
    assert_string_equal(header(&f->res, "Retry-After"), "1");
    f->req.conflict_retries = false;
    render(f, NX_ERR_CONFLICT);
    assert_int_equal(header_count_named(&f->res, "Retry-After"), 0);
}

static void test_render_other_codes_add_no_headers(void **state) {
    struct fixture *f = *state;
    static const enum nx_err codes[] = {
        NX_ERR_BAD_REQUEST,  NX_ERR_FORBIDDEN, NX_ERR_NOT_FOUND,    NX_ERR_CONFLICT,
        NX_ERR_PRECONDITION, NX_ERR_TOO_LARGE, NX_ERR_URI_TOO_LONG, NX_ERR_UNSUPPORTED_TYPE,
        NX_ERR_VALIDATION,   NX_ERR_INTERNAL,
    };
    f->req.retry_after = 9;
    f->req.allow_mask = 1u << HTTP_GET;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        render(f, codes[i]);
        if (f->res.header_count != 0)
            fail_msg("code %d added header %s", (int)codes[i], f->res.headers[0].name);
    }
}

static void test_render_twice_replaces_previous_response(void **state) {
    struct fixture *f = *state;
    render(f, NX_ERR_TOO_MANY);
    render(f, NX_ERR_UNAUTHORIZED);
    assert_int_equal(f->res.status, 401);
    assert_int_equal(header_count_named(&f->res, "Retry-After"), 0);
    assert_int_equal(header_count_named(&f->res, "WWW-Authenticate"), 1);
}

/* ---- problem_render: extra members -------------------------------------- */

static void test_render_merges_problem_extra_members(void **state) {
    struct fixture *f = *state;
    f->req.problem_extra = json_pack("{s:i, s:s}", "limit", 5, "window", "300s");
    assert_non_null(f->req.problem_extra);
    json_t *body = render(f, NX_ERR_TOO_MANY);
    assert_int_equal(json_integer_value(json_object_get(body, "limit")), 5);
    assert_string_equal(str_member(body, "window"), "300s");
    assert_string_equal(str_member(body, "type"), "about:blank");
    assert_int_equal(json_integer_value(json_object_get(body, "status")), 429);
}

static void test_render_request_id_is_empty_string_when_unset(void **state) {
    struct fixture *f = *state;
    f->req.request_id[0] = '\0';
    json_t *body = render(f, NX_ERR_NOT_FOUND);
    assert_string_equal(str_member(body, "request_id"), "");
}

#define FT(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_maps_every_error_code),
        cmocka_unit_test(test_status_of_unknown_code_is_500),
        cmocka_unit_test(test_reason_413_is_content_too_large),
        cmocka_unit_test(test_reason_422_is_unprocessable_content),
        cmocka_unit_test(test_reason_phrases_of_common_statuses),
        cmocka_unit_test(test_every_error_status_has_its_own_reason),
        FT(test_render_body_has_rfc9457_members),
        FT(test_render_title_is_reason_phrase_for_every_code),
        FT(test_render_uses_default_detail_when_none_recorded),
        FT(test_problem_detail_returns_code_and_records_sentence),
        FT(test_problem_detail_truncates_to_buffer),
        FT(test_render_invalid_utf8_detail_falls_back_to_default),
        FT(test_detail_cut_inside_a_character_keeps_its_sentence),
        FT(test_render_escapes_quotes_in_detail),
        FT(test_problem_field_returns_validation),
        FT(test_problem_conflict_returns_conflict),
        FT(test_render_422_lists_one_entry_per_field),
        FT(test_render_422_field_that_is_no_utf8),
        FT(test_render_422_default_detail_counts_fields),
        FT(test_render_422_default_detail_singular_for_one_field),
        FT(test_render_422_recorded_detail_wins_over_count),
        FT(test_render_422_without_fields_has_no_errors_member),
        FT(test_render_409_lists_conflicting_field),
        FT(test_render_409_without_fields_has_no_errors_member),
        FT(test_render_other_codes_omit_recorded_field_errors),
        FT(test_render_401_adds_bearer_challenge),
        FT(test_render_403_has_no_challenge),
        FT(test_render_405_adds_allow_from_mask),
        FT(test_render_429_adds_default_retry_after),
        FT(test_render_429_uses_explicit_retry_after),
        FT(test_render_503_adds_default_retry_after),
        FT(test_render_503_uses_explicit_retry_after),
        FT(test_render_409_of_a_key_still_running_adds_retry_after),
        FT(test_render_other_codes_add_no_headers),
        FT(test_render_twice_replaces_previous_response),
        FT(test_render_merges_problem_extra_members),
        FT(test_render_request_id_is_empty_string_when_unset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
