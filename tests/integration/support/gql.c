/*
 * gql.c -- GraphQL requests for the integration tests (see harness.h).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* application/x-www-form-urlencoded style: unreserved bytes as they are,
 * every other byte as %XX. */
static void url_encode(const char *s, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
}

struct http_res *gql_post(const char *token, const char *query, const char *variables) {
    json_t *body = json_pack("{s:s}", "query", query);
    if (variables)
        json_object_set_new(body, "variables", json_loads(variables, 0, NULL));
    return call_owned("POST", "/graphql", token, dump(body));
}

struct http_res *gql_get(const char *token, const char *query, const char *variables) {
    size_t cap = 3 * (strlen(query) + (variables ? strlen(variables) : 0)) + 64;
    char *path = malloc(cap), *q = malloc(cap), *v = malloc(cap);
    url_encode(query, q, cap);
    url_encode(variables ? variables : "", v, cap);
    snprintf(path, cap, "/graphql?query=%s%s%s", q, variables ? "&variables=" : "", v);
    struct http_res *r = call("GET", path, token, NULL);
    free(path);
    free(q);
    free(v);
    return r;
}

json_t *gql_data(struct http_res *r) {
    expect_status(r, 200, "graphql");
    if (json_object_get(r->json, "errors"))
        fprintf(stderr, "unexpected errors: %.2000s\n", r->body);
    assert_null(json_object_get(r->json, "errors"));
    json_t *data = json_object_get(r->json, "data");
    assert_non_null(data);
    return data;
}

void gql_expect_error(struct http_res *r, long status, const char *code, const char *message_part) {
    if (r->status != status || !json_is_array(json_object_get(r->json, "errors")))
        fprintf(stderr, "got %ld: %.2000s\n", r->status, r->body ? r->body : "");
    assert_int_equal(r->status, status);
    const char *type = http_header(r, "Content-Type");
    assert_non_null(type);
    assert_non_null(strstr(type, "application/json"));
    json_t *errors = json_object_get(r->json, "errors");
    assert_true(json_array_size(errors) >= 1);
    json_t *first = json_array_get(errors, 0);
    const char *got =
        json_string_value(json_object_get(json_object_get(first, "extensions"), "code"));
    const char *message = json_string_value(json_object_get(first, "message"));
    if (!got || strcmp(got, code) != 0 || (message_part && !strstr(message, message_part)))
        fprintf(stderr, "got %.2000s\n", r->body);
    assert_string_equal(got, code);
    if (message_part)
        assert_non_null(strstr(message, message_part));
    if (status == 400)
        assert_null(json_object_get(r->json, "data"));
}

long long gql_test_category(const char *token, const char *name, const char *slug,
                            long long parent) {
    json_t *b = json_pack("{s:s, s:s}", "name", name, "slug", slug);
    if (parent)
        json_object_set_new(b, "parent_id", json_integer(parent));
    struct http_res *r = call_owned("POST", "/api/v1/categories", token, dump(b));
    expect_status(r, 201, "create category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}
