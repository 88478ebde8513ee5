/*
 * calls.c -- the request and assertion shorthands the API test files share:
 * calls with a token and a JSON body, status and problem checks, typed
 * reads of JSON members, and a login.
 */
#include "harness.h"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct http_res *call_h(const char *method, const char *path, const char *token, const char *body,
                        const char *extra) {
    char auth[4200];
    const char *h[4] = {0};
    size_t n = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[n++] = auth;
    }
    if (body)
        h[n++] = "Content-Type: application/json";
    if (extra)
        h[n++] = extra;
    return http_request(method, path, h, body, body ? strlen(body) : 0);
}

struct http_res *call(const char *method, const char *path, const char *token, const char *body) {
    return call_h(method, path, token, body, NULL);
}

struct http_res *call_owned_h(const char *method, const char *path, const char *token, char *body,
                              const char *extra) {
    struct http_res *r = call_h(method, path, token, body, extra);
    free(body);
    return r;
}

struct http_res *call_owned(const char *method, const char *path, const char *token, char *body) {
    return call_owned_h(method, path, token, body, NULL);
}

void expect_status(const struct http_res *r, long status, const char *what) {
    if (r->status != status)
        fprintf(stderr, "%s: expected %ld, got %ld: %s\n", what, status, r->status,
                r->body ? r->body : "");
    assert_int_equal(r->status, status);
}

void expect_problem(struct http_res *r, long status, const char *field) {
    assert_problem(r, status, field);
    http_res_free(r);
}

long long jint(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fprintf(stderr, "'%s' is not an integer\n", key);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

const char *jstr(json_t *obj, const char *key) {
    const char *v = json_string_value(json_object_get(obj, key));
    if (!v)
        fprintf(stderr, "'%s' is not a string\n", key);
    assert_non_null(v);
    return v;
}

char *take(const char *s) {
    assert_non_null(s);
    char *c = strdup(s);
    assert_non_null(c);
    return c;
}

char *dump(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

void assert_timestamp(const char *s) {
    regex_t re;
    assert_int_equal(
        regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?Z$",
                REG_EXTENDED | REG_NOSUB),
        0);
    int rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fprintf(stderr, "not an RFC 3339 UTC timestamp: %s\n", s);
    assert_int_equal(rc, 0);
}

char *harness_login(const char *email, const char *password) {
    struct http_res *r = call_owned("POST", "/api/v1/auth/login", NULL,
                                    json_body("{s:s, s:s}", "email", email, "password", password));
    expect_status(r, 200, "login");
    char *token = take(jstr(r->json, "access_token"));
    http_res_free(r);
    return token;
}

size_t parse_ids(char *csv, long long *ids, size_t cap) {
    size_t n = 0;
    for (char *p = csv; p && *p && n < cap;) {
        ids[n++] = strtoll(p, &p, 10);
        if (*p == ',')
            p++;
    }
    free(csv);
    return n;
}

void harness_staff_and_customer(const struct nexus_server *s, const char *prefix, char **staff,
                                char **customer) {
    char email[128];
    snprintf(email, sizeof email, "%s-staff@example.com", prefix);
    harness_create_user(s, email, "staff", "catalog-password");
    *staff = harness_login(email, "catalog-password");
    snprintf(email, sizeof email, "%s-customer@example.com", prefix);
    harness_create_user(s, email, "customer", "catalog-password");
    *customer = harness_login(email, "catalog-password");
}

long http_metric(const char *sample) {
    struct http_res *r = http_expect("GET", "/metrics", NULL, NULL, 200);
    char line[256];
    snprintf(line, sizeof line, "\n%s ", sample);
    const char *p = strstr(r->body, line);
    long v = p ? strtol(p + strlen(line), NULL, 10) : -1;
    http_res_free(r);
    return v;
}

struct patch_race {
    const char *path, *token, *member, *extra;
};

static long racing_patch(int i, void *ctx) {
    const struct patch_race *pr = ctx;
    char value[32];
    snprintf(value, sizeof value, "racer %d", i);
    struct http_res *r = call_owned_h("PATCH", pr->path, pr->token,
                                      json_body("{s:s}", pr->member, value), pr->extra);
    long status = r->status;
    if (status != 200 && status != 412)
        fprintf(stderr, "racing PATCH gave %ld: %s\n", status, r->body ? r->body : "");
    http_res_free(r);
    return status;
}

int harness_race_patches_one_wins(int n, const char *path, const char *token, const char *body_fmt,
                                  const char *extra) {
    struct patch_race pr = {path, token, body_fmt, extra};
    long statuses[32];
    harness_race(n, racing_patch, &pr, statuses);
    assert_int_equal(harness_count_status(statuses, n, 200), 1);
    assert_int_equal(harness_count_status(statuses, n, 412), n - 1);
    int winner = 0;
    for (int i = 0; i < n; i++)
        winner = statuses[i] == 200 ? i : winner;
    return winner;
}
