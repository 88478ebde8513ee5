/*
 * test_http.c -- the HTTP rules every route shares: routing errors,
 * problem+json, request ids, CORS, framing guard, operational endpoints.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct nexus_server server;

static int start(void **state) {
    (void)state;
    harness_start(&server, "http", NULL);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&server);
    return 0;
}

static void test_unknown_path_is_404_problem(void **state) {
    (void)state;
    struct http_res *r = http_expect("GET", "/nope", NULL, NULL, 404);
    assert_problem(r, 404, NULL);
    assert_string_equal(json_string_value(json_object_get(r->json, "title")), "Not Found");
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
}

static void test_trailing_slash_is_a_different_path(void **state) {
    (void)state;
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
    struct http_res *r = http_expect("GET", "/healthz/", NULL, NULL, 404);
    assert_problem(r, 404, NULL);
    http_res_free(r);
}

static void test_wrong_method_is_405_with_allow(void **state) {
    (void)state;
    struct http_res *r = http_expect("DELETE", "/healthz", NULL, NULL, 405);
    assert_problem(r, 405, NULL);
    assert_string_equal(http_header(r, "Allow"), "GET, HEAD, OPTIONS");
    http_res_free(r);
}

static void test_options_answers_204_with_allow(void **state) {
    (void)state;
    struct http_res *r = http_expect("OPTIONS", "/readyz", NULL, NULL, 204);
    assert_string_equal(http_header(r, "Allow"), "GET, HEAD, OPTIONS");
    http_res_free(r);
}

static void test_head_is_served_by_get_routes(void **state) {
    (void)state;
    struct http_res *r = http_expect("HEAD", "/healthz", NULL, NULL, 200);
    assert_int_equal(r->len, 0);
    http_res_free(r);
}

static void test_sane_request_id_is_echoed(void **state) {
    (void)state;
    const char *h[] = {"X-Request-Id: abc.DEF_123-xyz", NULL};
    struct http_res *r = http_request("GET", "/healthz", h, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(http_header(r, "X-Request-Id"), "abc.DEF_123-xyz");
    http_res_free(r);
}

static void test_insane_request_id_is_replaced(void **state) {
    (void)state;
    const char *h[] = {"X-Request-Id: bad id with spaces", NULL};
    struct http_res *r = http_request("GET", "/nope", h, NULL, 0);
    const char *id = http_header(r, "X-Request-Id");
    assert_non_null(id);
    assert_string_not_equal(id, "bad id with spaces");
    assert_true(strlen(id) >= 16);
    assert_string_equal(json_string_value(json_object_get(r->json, "request_id")), id);
    http_res_free(r);
}

static void test_generated_request_ids_differ(void **state) {
    (void)state;
    struct http_res *a = http_request("GET", "/healthz", NULL, NULL, 0);
    struct http_res *b = http_request("GET", "/healthz", NULL, NULL, 0);
    assert_string_not_equal(http_header(a, "X-Request-Id"), http_header(b, "X-Request-Id"));
    http_res_free(a);
    http_res_free(b);
}

static void test_cors_preflight_for_allowed_origin(void **state) {
    (void)state;
    const char *h[] = {"Origin: http://allowed.example", "Access-Control-Request-Method: GET",
                       NULL};
    struct http_res *r = http_request("OPTIONS", "/healthz", h, NULL, 0);
    assert_int_equal(r->status, 204);
    assert_string_equal(http_header(r, "Access-Control-Allow-Origin"), "http://allowed.example");
    /* a page's fetch with credentials: 'include' may read the answers */
    assert_string_equal(http_header(r, "Access-Control-Allow-Credentials"), "true");
    assert_non_null(http_header(r, "Access-Control-Allow-Methods"));
    assert_non_null(strstr(http_header(r, "Vary"), "Origin"));
    http_res_free(r);
}

/* The Allow of an OPTIONS of path with headers h, whose status is want;
 * owned, NULL without one. */
static char *options_allow(const char *path, const char *const *h, long want) {
    struct http_res *r = http_request("OPTIONS", path, h, NULL, 0);
    assert_int_equal(r->status, want);
    const char *allow = http_header(r, "Allow");
    char *copy = allow ? take(allow) : NULL;
    if (want == 204) {
        assert_string_equal(http_header(r, "Access-Control-Allow-Origin"),
                            "http://allowed.example");
        assert_non_null(http_header(r, "Access-Control-Allow-Methods"));
    }
    http_res_free(r);
    return copy;
}

/* A preflight asks what a path's route allows before its request finds
 * out whether the id names anything: a path that is a route's but for
 * its id is answered as the route's preflight, so that the request is
 * sent and the app sees its 404 (with the CORS headers). A plain OPTIONS
 * there, and a preflight of a path no route's pattern matches, stay 404s. */
static void test_cors_preflight_of_a_path_whose_id_is_no_id(void **state) {
    (void)state;
    const char *h[] = {"Origin: http://allowed.example", "Access-Control-Request-Method: GET",
                       NULL};
    const char *valid[] = {"/api/v1/products/1", "/api/v1/products/1/variants/1",
                           "/api/v1/users/1"};
    const char *invalid[] = {"/api/v1/products/abc", "/api/v1/products/1/variants/0",
                             "/api/v1/users/99999999999999999999999"};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        char *want = options_allow(valid[i], h, 204);
        char *got = options_allow(invalid[i], h, 204);
        assert_string_equal(got, want);
        free(want);
        free(got);
        free(options_allow(invalid[i], NULL, 404));
    }
    free(options_allow("/api/v1/no-such-things/abc", h, 404));
    const char *origin[] = {"Origin: http://allowed.example", NULL};
    struct http_res *r = http_request("GET", "/api/v1/products/abc", origin, NULL, 0);
    assert_problem(r, 404, NULL);
    assert_string_equal(http_header(r, "Access-Control-Allow-Origin"), "http://allowed.example");
    http_res_free(r);
}

static void test_cors_other_origin_gets_no_allow_origin(void **state) {
    (void)state;
    const char *h[] = {"Origin: http://evil.example", "Access-Control-Request-Method: GET", NULL};
    struct http_res *r = http_request("OPTIONS", "/healthz", h, NULL, 0);
    assert_int_equal(r->status, 204);
    assert_null(http_header(r, "Access-Control-Allow-Origin"));
    assert_null(http_header(r, "Access-Control-Allow-Credentials"));
    assert_non_null(strstr(http_header(r, "Vary"), "Origin"));
    http_res_free(r);
}

static void test_cors_simple_request_echoes_allowed_origin(void **state) {
    (void)state;
    const char *h[] = {"Origin: http://allowed.example", NULL};
    struct http_res *r = http_request("GET", "/healthz", h, NULL, 0);
    assert_string_equal(http_header(r, "Access-Control-Allow-Origin"), "http://allowed.example");
    assert_null(strstr(http_header(r, "Access-Control-Allow-Origin"), "*"));
    assert_string_equal(http_header(r, "Access-Control-Allow-Credentials"), "true");
    http_res_free(r);
}

static void test_healthz_and_readyz(void **state) {
    (void)state;
    struct http_res *r = http_expect("GET", "/healthz", NULL, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "status")), "ok");
    http_res_free(r);
    r = http_expect("GET", "/readyz", NULL, NULL, 200);
    json_t *checks = json_object_get(r->json, "checks");
    assert_string_equal(json_string_value(json_object_get(r->json, "status")), "ready");
    assert_string_equal(json_string_value(json_object_get(checks, "database")), "ok");
    const char *redis = json_string_value(json_object_get(checks, "redis"));
    assert_string_equal(redis, getenv("NEXUS_TEST_REDIS_URL") ? "ok" : "disabled");
    http_res_free(r);
}

/* A 405 (and an OPTIONS) has no route of its own: its access log line
 * names its path's template, as /metrics counts it. */
static void test_access_log_names_the_template_of_a_405(void **state) {
    (void)state;
    char id[64], header[96], line[4096];
    snprintf(id, sizeof id, "template-405-%d-%lld", (int)getpid(), (long long)time(NULL));
    snprintf(header, sizeof header, "X-Request-Id: %s", id);
    const char *const headers[] = {header, NULL};
    struct http_res *r = http_request("PUT", "/api/v1/products/facets", headers, NULL, 0);
    assert_int_equal(r->status, 405);
    http_res_free(r);
    const char *got = harness_access_line(&server, id, line, sizeof line);
    if (!strstr(got, "\"route\":\"/api/v1/products/facets\",\"status\":405"))
        fail_msg("the access log line: %s", got);
}

static void test_openapi_yaml_is_served(void **state) {
    (void)state;
    struct http_res *r = http_expect("GET", "/openapi.yaml", NULL, NULL, 200);
    assert_non_null(strstr(http_header(r, "Content-Type"), "yaml"));
    assert_non_null(strstr(r->body, "openapi: 3.1"));
    /* revalidated by its ETag, like the docs page that loads it */
    const char *tag = http_header(r, "ETag");
    assert_non_null(tag);
    assert_true(tag[0] == '"' && strlen(tag) > 2 && tag[strlen(tag) - 1] == '"');
    char h[128];
    snprintf(h, sizeof h, "If-None-Match: %s", tag);
    const char *const headers[] = {h, NULL};
    struct http_res *again = http_request("GET", "/openapi.yaml", headers, NULL, 0);
    assert_int_equal(again->status, 304);
    assert_int_equal(again->len, 0);
    assert_string_equal(http_header(again, "ETag"), tag);
    http_res_free(again);
    http_res_free(r);
}

static void test_metrics_label_routes_by_template(void **state) {
    (void)state;
    http_res_free(http_request("GET", "/no/such/raw/path", NULL, NULL, 0));
    /* every status the server answers has its own label, 202 included */
    static const char RESET[] = "{\"email\": \"metrics@example.com\"}";
    http_res_free(http_expect("POST", "/api/v1/auth/password-reset", NULL, RESET, 202));
    /* a template matched with a method it has no route for: its own series */
    http_res_free(http_expect("PUT", "/healthz", NULL, NULL, 405));
    http_res_free(http_expect("OPTIONS", "/api/v1/products", NULL, NULL, 204));
    /* a request is counted once its answer has been written, which its
     * client may read before that: wait for the last one counted */
    static const char RESET_LINE[] =
        "{route=\"/api/v1/auth/password-reset\",method=\"POST\",status=\"202\"}";
    struct http_res *r = NULL;
    for (int i = 0; i < 100; i++) {
        http_res_free(r);
        r = http_expect("GET", "/metrics", NULL, NULL, 200);
        if (strstr(r->body, RESET_LINE) &&
            strstr(r->body, "{route=\"/api/v1/products\",method=\"OPTIONS\",status=\"204\"}") &&
            strstr(r->body, "{route=\"/healthz\",method=\"PUT\",status=\"405\"}"))
            break;
        usleep(50 * 1000);
    }
    assert_non_null(strstr(r->body, "{route=\"/healthz\",method=\"PUT\",status=\"405\"}"));
    assert_non_null(
        strstr(r->body, "{route=\"/api/v1/products\",method=\"OPTIONS\",status=\"204\"}"));
    assert_null(strstr(r->body, "route=\"unmatched\",method=\"\",status=\"405\""));
    assert_non_null(strstr(r->body, RESET_LINE));
    assert_non_null(strstr(r->body, "nexus_http_requests_total{route=\"/healthz\""));
    assert_non_null(strstr(r->body, "route=\"unmatched\""));
    assert_null(strstr(r->body, "/no/such/raw/path"));
    assert_non_null(strstr(r->body, "nexus_http_request_duration_seconds_bucket"));
    http_res_free(r);
}

/* The value of the unlabelled sample name in Prometheus text, which must
 * also declare the metric's type. */
static long long metric_value(const char *text, const char *name, const char *type) {
    char want[160];
    snprintf(want, sizeof want, "# TYPE %s %s\n", name, type);
    if (!strstr(text, want))
        fail_msg("no \"%s\" line in:\n%s", want, text);
    snprintf(want, sizeof want, "\n%s ", name);
    const char *p = strstr(text, want);
    if (!p)
        fail_msg("no sample of %s in:\n%s", name, text);
    char *end;
    long long v = strtoll(p + strlen(want), &end, 10);
    if (end == p + strlen(want) || *end != '\n')
        fail_msg("sample of %s is not an integer", name);
    return v;
}

static void test_metrics_report_database_connection_gauges(void **state) {
    (void)state;
    for (int i = 0; i < 8; i++)
        http_res_free(http_expect("GET", "/readyz", NULL, NULL, 200));
    struct http_res *r = http_expect("GET", "/metrics", NULL, NULL, 200);
    long long open = metric_value(r->body, "nexus_db_connections_open", "gauge");
    long long in_use = metric_value(r->body, "nexus_db_connections_in_use", "gauge");
    long long waiting = metric_value(r->body, "nexus_db_connections_waiting", "gauge");
    /* The server threads that answered /readyz keep their connections. */
    assert_true(open >= 1 && open <= 64);
    /* Every request above has finished, and a connection is in use only
     * while a step of a request runs (the scrape takes none to render). */
    assert_int_equal(in_use, 0);
    assert_int_equal(waiting, 0);
    http_res_free(r);
}

/* ---- framing guard: raw requests ---------------------------------------- */

static void expect_raw_400_and_close(const char *raw) {
    char out[8192];
    raw_exchange(raw, strlen(raw), out, sizeof out, 3000);
    if (strncmp(out, "HTTP/1.1 400", 12) != 0)
        fprintf(stderr, "got: %s\n", out);
    assert_int_equal(strncmp(out, "HTTP/1.1 400", 12), 0);
    /* Exactly one response: the smuggled request was never executed. */
    assert_null(strstr(out + 12, "HTTP/1.1 "));
    assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
}

/* /metrics exists only for METRICS_ALLOW addresses and the METRICS_TOKEN
 * bearer: here 127.0.0.1 is outside the allowed range, so only the token
 * opens it, and everyone else gets exactly the 404 of an unknown path. */
static void test_metrics_only_for_allowed_addresses_or_the_token(void **state) {
    (void)state;
    struct nexus_server closed = {0};
    static const char *const env[] = {"METRICS_ALLOW=10.0.0.0/8",
                                      "METRICS_TOKEN=scrape-token-0123456789", NULL};
    harness_start(&closed, "http-metrics", env);
    struct http_res *r;
    struct http_res *unknown = http_request("GET", "/no-such-path", NULL, NULL, 0);
    struct http_res *denied = http_request("GET", "/metrics", NULL, NULL, 0);
    assert_problem(denied, 404, NULL);
    assert_string_equal(json_string_value(json_object_get(denied->json, "detail")),
                        json_string_value(json_object_get(unknown->json, "detail")));
    http_res_free(unknown);
    http_res_free(denied);
    /* nor do other methods tell it exists: no 405, no preflight's Allow */
    const char *methods[] = {"POST", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        r = http_request(methods[i], "/metrics", NULL, NULL, 0);
        assert_problem(r, 404, NULL);
        assert_null(http_header(r, "Allow"));
        http_res_free(r);
    }
    const char *wrong[] = {"Authorization: Bearer scrape-token-0123456788", NULL};
    r = http_request("GET", "/metrics", wrong, NULL, 0);
    assert_problem(r, 404, NULL);
    http_res_free(r);
    /* the token is one Authorization header, not the first of two */
    const char *two[] = {"Authorization: Bearer scrape-token-0123456789",
                         "Authorization: Bearer other", NULL};
    r = http_request("GET", "/metrics", two, NULL, 0);
    assert_problem(r, 404, NULL);
    http_res_free(r);
    /* nor does a query with more parameters than any route reads: the
     * 404 of an unknown path, as /no-such-path gets with the same query */
    char crowded[1024] = "/metrics?", unknown_crowded[1024] = "/no-such-path?";
    for (int i = 0; i < 70; i++) {
        char arg[16];
        snprintf(arg, sizeof arg, "%sa%d=1", i ? "&" : "", i);
        strcat(crowded, arg);
        strcat(unknown_crowded, arg);
    }
    unknown = http_request("GET", unknown_crowded, NULL, NULL, 0);
    assert_problem(unknown, 404, NULL);
    http_res_free(unknown);
    r = http_request("GET", crowded, NULL, NULL, 0);
    assert_problem(r, 404, NULL);
    http_res_free(r);
    const char *right[] = {"Authorization: Bearer scrape-token-0123456789", NULL};
    r = http_request("GET", "/metrics", right, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "nexus_http_requests_total"));
    http_res_free(r);
    expect_problem(http_request("GET", crowded, right, NULL, 0), 400, NULL);
    harness_stop(&closed);
    harness_use(&server);
    http_res_free(http_expect("GET", "/metrics", NULL, NULL, 200)); /* loopback: allowed */
    r = http_expect("POST", "/metrics", NULL, NULL, 405);
    assert_string_equal(http_header(r, "Allow"), "GET, HEAD, OPTIONS");
    http_res_free(r);
}

static void test_two_content_lengths_are_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                             "Content-Length: 44\r\n\r\n"
                             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_content_length_with_chunked_is_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

static void test_unknown_transfer_encoding_is_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("POST /healthz HTTP/1.1\r\nHost: x\r\n"
                             "Transfer-Encoding: gzip\r\n\r\n");
}

static void test_two_transfer_encodings_are_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

static void test_missing_host_is_rejected(void **state) {
    (void)state;
    char out[8192];
    const char *raw = "GET /healthz HTTP/1.1\r\n\r\n";
    raw_exchange(raw, strlen(raw), out, sizeof out, 3000);
    assert_int_equal(strncmp(out, "HTTP/1.1 400", 12), 0);
}

/* A Content-Length with white space before its colon is no header
 * libmicrohttpd frames by: its body would run as the next request. */
static void test_framing_a_proxy_may_read_otherwise_is_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : 54\r\n\r\n"
                             "GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect_raw_400_and_close("POST /api/v1/auth/login HTTP/1.0\r\nHost: x\r\n"
                             "Connection: keep-alive\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
                             "GET /healthz HTTP/1.0\r\n\r\n");
    expect_raw_400_and_close("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/json\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 2\r\n\r\n{}");
}

/* A header continued on a folded line (obs-fold, RFC 9112 5.2):
 * libmicrohttpd 0.9.75 appends the line to the header's name, so a folded
 * Content-Length or Transfer-Encoding frames no body for it, and the body
 * would run as the next request on the connection. */
static void test_folded_framing_header_is_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 45\r\n\r\n"
                             "GET /api/v1/products/1?fields=id HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_raw_400_and_close("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n"
                             "\tchunked\r\n\r\n0\r\n\r\n"
                             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_raw_400_and_close("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             " x\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* White space after a value is no part of it (RFC 9112 5). */
static void test_request_id_with_trailing_white_space_is_echoed(void **state) {
    (void)state;
    char out[8192];
    const char *raw = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc \t\r\n"
                      "Connection: close\r\n\r\n";
    raw_exchange(raw, strlen(raw), out, sizeof out, 3000);
    assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(out, "X-Request-Id: abc\r\n"));
}

/* Query parameters are bounded: 64 in all, unknown ones counted. */
static void test_at_most_64_query_parameters(void **state) {
    (void)state;
    char path[1024];
    size_t n = (size_t)snprintf(path, sizeof path, "/healthz?");
    for (int i = 0; i < 65; i++) {
        n += (size_t)snprintf(path + n, sizeof path - n, "%su%d=1", i ? "&" : "", i);
        if (i == 63)
            http_res_free(http_expect("GET", path, NULL, NULL, 200));
    }
    http_res_free(http_expect("GET", path, NULL, NULL, 400));
    /* the route first: an unknown path is a 404, a wrong method a 405 */
    char other[1024];
    snprintf(other, sizeof other, "/nope%s", strchr(path, '?'));
    http_res_free(http_expect("GET", other, NULL, NULL, 404));
    http_res_free(http_expect("DELETE", "/healthz?a=1", NULL, NULL, 405));
    snprintf(other, sizeof other, "/healthz%s", strchr(path, '?'));
    http_res_free(http_expect("DELETE", other, NULL, NULL, 405));
    /* an encoded slash makes the path unknown, with any query: it was
     * routed as the decoded path (400, 405 or 204 with its Allow) */
    snprintf(other, sizeof other, "/api/v1/products%%2F1%s", strchr(path, '?'));
    http_res_free(http_expect("GET", other, NULL, NULL, 404));
    http_res_free(http_expect("POST", other, NULL, NULL, 404));
    http_res_free(http_expect("OPTIONS", other, NULL, NULL, 404));
    /* empty ones ("&&") are none */
    char empty[128] = "/healthz?a=1";
    for (int i = 0; i < 70; i++)
        strcat(empty, "&");
    http_res_free(http_expect("GET", empty, NULL, NULL, 200));
}

/* Appends n pieces "<sep><name><i>=1" (name NULL: sep alone) to path. */
static void append_pieces(char *path, size_t cap, int n, const char *sep, const char *name) {
    size_t len = strlen(path);
    for (int i = 0; i < n; i++)
        len += name ? (size_t)snprintf(path + len, cap - len, "%s%s%d=1", sep, name, i)
                    : (size_t)snprintf(path + len, cap - len, "%s", sep);
}

/* What counts against the 64 is what a route could read: not an empty
 * first piece, "&=", nor a name holding an encoded NUL. */
static void test_query_parameters_counted_are_those_read(void **state) {
    (void)state;
    char path[2048] = "/healthz?";
    append_pieces(path, sizeof path, 64, "&", "u");
    http_res_free(http_expect("GET", path, NULL, NULL, 200));
    append_pieces(path, sizeof path, 30, "&=", NULL);
    append_pieces(path, sizeof path, 2, "&%00", "z");
    http_res_free(http_expect("GET", path, NULL, NULL, 200));
    append_pieces(path, sizeof path, 1, "&", "v");
    http_res_free(http_expect("GET", path, NULL, NULL, 400));
    /* pieces, read or not, are bounded too: each costs the library memory */
    char empties[1024] = "/healthz?a=1";
    append_pieces(empties, sizeof empties, 255, "&", NULL); /* 256 pieces */
    http_res_free(http_expect("GET", empties, NULL, NULL, 200));
    append_pieces(empties, sizeof empties, 1, "&=", NULL);
    http_res_free(http_expect("GET", empties, NULL, NULL, 400));
    append_pieces(empties, sizeof empties, 600, "&", NULL);
    http_res_free(http_expect("GET", empties, NULL, NULL, 400));
}

static void test_two_hosts_are_rejected(void **state) {
    (void)state;
    expect_raw_400_and_close("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
}

static void test_keep_alive_pipelining_still_works(void **state) {
    (void)state;
    char out[16384];
    const char *raw = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(raw, strlen(raw), out, sizeof out, 3000);
    const char *second = strstr(out + 1, "HTTP/1.1 200");
    assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
    assert_non_null(second);
}

/* A request without a body answered from its headers (a 404, a 405, a
 * 401, a preflight) keeps the connection for the next one. */
static void test_early_answers_keep_the_connection(void **state) {
    (void)state;
    char out[32768];
    const char *raw = "GET /api/v1/products/abc HTTP/1.1\r\nHost: x\r\n\r\n"
                      "DELETE /api/v1/products HTTP/1.1\r\nHost: x\r\n\r\n"
                      "DELETE /api/v1/products/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "OPTIONS /api/v1/products HTTP/1.1\r\nHost: x\r\n"
                      "Origin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_exchange(raw, strlen(raw), out, sizeof out, 3000);
    static const char *const statuses[] = {"HTTP/1.1 404", "HTTP/1.1 405", "HTTP/1.1 401",
                                           "HTTP/1.1 204", "HTTP/1.1 200"};
    const char *at = out;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        at = strstr(at, statuses[i]);
        if (!at)
            fail_msg("answer %zu (%s) missing from: %.2000s", i + 1, statuses[i], out);
        at += 12;
    }
    /* only the last answer, asked to, closes */
    const char *last = strstr(out, "HTTP/1.1 200"), *close = strstr(out, "Connection: close");
    assert_true(close == NULL || close > last);
}

/* ---- BIND_ADDR ------------------------------------------------------------- */

/* Whether a TCP connection to ip:port is accepted. Every 127/8 address is
 * this host's loopback, so 127.0.0.2 is "another local address". */
static bool accepts_connections(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_by_default_every_local_address_is_served(void **state) {
    (void)state;
    assert_true(accepts_connections("127.0.0.1", server.port));
    assert_true(accepts_connections("127.0.0.2", server.port));
}

static void test_bind_addr_serves_that_address_only(void **state) {
    (void)state;
    static const char *const env[] = {"BIND_ADDR=127.0.0.1", NULL};
    struct nexus_server bound = {0};
    harness_start_url(&bound, "http_bound", server.database_url, env);
    assert_true(harness_wait_status("/healthz", 200, 10000));
    assert_true(accepts_connections("127.0.0.1", bound.port));
    assert_false(accepts_connections("127.0.0.2", bound.port));
    harness_stop(&bound);
    harness_use(&server);
}

/* A second server on a port another one holds fails to start: it does not
 * share the port (and its connections) with the first. */
static void test_a_port_in_use_is_refused(void **state) {
    (void)state;
    static const char *const args[] = {"serve", NULL};
    char out[8192];
    /* the running server's PORT; it exits at once, 60 s only bound a mistake */
    int status = harness_run_within(&server, NULL, args, out, sizeof out, 60000);
    if (status != 1)
        fprintf(stderr, "second server: status %d\n%s\n", status, out);
    assert_int_equal(status, 1);
    assert_non_null(strstr(out, "cannot listen on"));
    assert_true(harness_wait_status("/healthz", 200, 10000)); /* the first one goes on */
}

/* ---- draining ---------------------------------------------------------- */

/* A server of its own reading the product list, held in PostgreSQL behind
 * a table lock that lock holds. */
struct held_read {
    struct nexus_server s;
    PGconn *lock, *watch;
    pthread_t reader;
    long status;
    char detail[256]; /* its problem's, if it answered one */
};

static void *list_products(void *arg) {
    struct held_read *h = arg;
    struct http_res *r = http_request("GET", "/api/v1/products?limit=1", NULL, NULL, 0);
    h->status = r ? r->status : -1;
    const char *detail = r ? json_string_value(json_object_get(r->json, "detail")) : NULL;
    snprintf(h->detail, sizeof h->detail, "%s", detail ? detail : "");
    http_res_free(r);
    return NULL;
}

static void held_read_start(struct held_read *h, const char *name, const char *grace) {
    /* nothing closes an idle connection on its own before the drain does */
    const char *env[] = {"DB_STATEMENT_TIMEOUT_MS=600000", "REQUEST_TIMEOUT=600",
                         "CONNECTION_TIMEOUT=600", grace, NULL};
    harness_start(&h->s, name, env);
    harness_use(&h->s);
    h->lock = PQconnectdb(h->s.database_url);
    h->watch = PQconnectdb(h->s.database_url);
    assert_int_equal(PQstatus(h->lock), CONNECTION_OK);
    assert_int_equal(PQstatus(h->watch), CONNECTION_OK);
    assert_true(harness_pg_exec(h->lock, "BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE"));
    h->status = 0;
    assert_int_equal(pthread_create(&h->reader, NULL, list_products, h), 0);
    /* (outside the lock's transaction, whose view of pg_stat_activity is fixed) */
    assert_true(harness_pg_wait_nonzero(h->watch, "SELECT count(*) FROM pg_stat_activity"
                                                  " WHERE wait_event_type = 'Lock'"
                                                  " AND datname = current_database()"));
}

static void held_read_end(struct held_read *h) {
    PQfinish(h->lock);
    PQfinish(h->watch);
    harness_stop(&h->s);
    harness_use(&server);
}

/* One GET /healthz on the open connection fd; what came back (up to the
 * end of the headers, at most cap - 1 bytes). */
static void healthz_on(int fd, char *out, size_t cap) {
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t got = 0;
    assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
    out[0] = '\0';
    while (got < cap - 1 && !strstr(out, "\r\n\r\n")) {
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        out[got] = '\0';
    }
}

static int connect_to(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval wait = {30, 0}; /* a bound on a hang */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    return fd;
}

/* On SIGTERM the server stops listening (a new connection is refused, not
 * accepted and closed unanswered, so a balancer may retry even a POST
 * elsewhere), answers on a connection kept open with Connection: close (so
 * that its client goes elsewhere for the next one), shuts down one that
 * stays idle but not one whose request has begun, finishes the request
 * it is serving (held here behind a table lock, released within the grace
 * period), and exits 0. */
static void test_sigterm_finishes_the_request_in_flight(void **state) {
    (void)state;
    struct held_read h;
    char head[4096];
    held_read_start(&h, "http-drain", "SHUTDOWN_GRACE=600");
    assert_true(accepts_connections("127.0.0.1", h.s.port));
    int kept = connect_to(h.s.port), idle = connect_to(h.s.port), slow = connect_to(h.s.port);
    healthz_on(kept, head, sizeof head);
    assert_non_null(strstr(head, " 200 "));
    assert_null(strstr(head, "Connection: close"));
    healthz_on(idle, head, sizeof head);
    static const char login_head[] = "POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\n"
                                     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{";
    assert_int_equal(send(slow, login_head, sizeof login_head - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof login_head - 1));
    assert_int_equal(kill(h.s.pid, SIGTERM), 0);
    bool refused = false;
    for (int i = 0; i < 1500 && !refused; i++) { /* 30 s: a bound on a hang */
        refused = !accepts_connections("127.0.0.1", h.s.port);
        if (!refused)
            usleep(20 * 1000);
    }
    assert_true(refused);
    healthz_on(kept, head, sizeof head);
    assert_non_null(strstr(head, " 200 "));
    assert_non_null(strstr(head, "Connection: close"));
    close(kept);
    /* a request begun keeps the grace period, however long its body takes
     * (longer than the second an idle connection gets) */
    usleep(1500 * 1000);
    assert_int_equal(send(slow, "}", 1, MSG_NOSIGNAL), 1);
    ssize_t got = recv(slow, head, sizeof head - 1, 0);
    head[got > 0 ? got : 0] = '\0';
    assert_non_null(strstr(head, "HTTP/1.1 4"));
    close(slow);
    assert_true(harness_pg_exec(h.lock, "COMMIT"));
    pthread_join(h.reader, NULL);
    assert_int_equal(h.status, 200);
    /* one left idle is shut down a second after its last request, not
     * kept until the grace period ends */
    assert_int_equal(recv(idle, head, sizeof head, 0), 0);
    close(idle);
    held_read_end(&h);
}

/* Once the grace period is over, a statement still running is cancelled:
 * its request answers 503 and the server exits 0, whatever holds the
 * statement up (here a lock kept until after the exit). */
static void stop_cancels_what_outlives_the_grace_period(const char *name, int sig) {
    struct held_read h;
    held_read_start(&h, name, "SHUTDOWN_GRACE=1");
    assert_int_equal(kill(h.s.pid, sig), 0);
    pthread_join(h.reader, NULL);
    assert_int_equal(h.status, 503);
    /* cancelled by the shutdown, not by DB_STATEMENT_TIMEOUT_MS */
    if (!strstr(h.detail, "shutting down"))
        fail_msg("detail: %s", h.detail);
    int exit_status = 0;
    pid_t got = 0;
    for (int i = 0; i < 1200 && got == 0; i++) { /* 120 s: a bound on a hang */
        got = waitpid(h.s.pid, &exit_status, WNOHANG);
        if (got == 0)
            usleep(100 * 1000);
    }
    assert_int_equal(got, h.s.pid); /* exited while the lock is still held */
    h.s.pid = 0;
    assert_true(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0);
    assert_true(harness_pg_exec(h.lock, "COMMIT"));
    held_read_end(&h); /* its database */
}

static void test_sigterm_cancels_what_outlives_the_grace_period(void **state) {
    (void)state;
    stop_cancels_what_outlives_the_grace_period("http-drain-cancel", SIGTERM);
}

/* SIGHUP (the terminal of a server run in the foreground closed) stops it
 * as SIGTERM does: it killed the process, and its requests with it. */
static void test_sighup_drains_as_sigterm_does(void **state) {
    (void)state;
    stop_cancels_what_outlives_the_grace_period("http-drain-hup", SIGHUP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_path_is_404_problem),
        cmocka_unit_test(test_trailing_slash_is_a_different_path),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_options_answers_204_with_allow),
        cmocka_unit_test(test_head_is_served_by_get_routes),
        cmocka_unit_test(test_sane_request_id_is_echoed),
        cmocka_unit_test(test_insane_request_id_is_replaced),
        cmocka_unit_test(test_generated_request_ids_differ),
        cmocka_unit_test(test_request_id_with_trailing_white_space_is_echoed),
        cmocka_unit_test(test_cors_preflight_for_allowed_origin),
        cmocka_unit_test(test_cors_preflight_of_a_path_whose_id_is_no_id),
        cmocka_unit_test(test_cors_other_origin_gets_no_allow_origin),
        cmocka_unit_test(test_cors_simple_request_echoes_allowed_origin),
        cmocka_unit_test(test_healthz_and_readyz),
        cmocka_unit_test(test_openapi_yaml_is_served),
        cmocka_unit_test(test_access_log_names_the_template_of_a_405),
        cmocka_unit_test(test_metrics_label_routes_by_template),
        cmocka_unit_test(test_metrics_report_database_connection_gauges),
        cmocka_unit_test(test_metrics_only_for_allowed_addresses_or_the_token),
        cmocka_unit_test(test_two_content_lengths_are_rejected),
        cmocka_unit_test(test_content_length_with_chunked_is_rejected),
        cmocka_unit_test(test_unknown_transfer_encoding_is_rejected),
        cmocka_unit_test(test_two_transfer_encodings_are_rejected),
        cmocka_unit_test(test_missing_host_is_rejected),
        cmocka_unit_test(test_two_hosts_are_rejected),
        cmocka_unit_test(test_at_most_64_query_parameters),
        cmocka_unit_test(test_query_parameters_counted_are_those_read),
        cmocka_unit_test(test_framing_a_proxy_may_read_otherwise_is_rejected),
        cmocka_unit_test(test_folded_framing_header_is_rejected),
        cmocka_unit_test(test_keep_alive_pipelining_still_works),
        cmocka_unit_test(test_early_answers_keep_the_connection),
        cmocka_unit_test(test_by_default_every_local_address_is_served),
        cmocka_unit_test(test_bind_addr_serves_that_address_only),
        cmocka_unit_test(test_a_port_in_use_is_refused),
        cmocka_unit_test(test_sigterm_finishes_the_request_in_flight),
        cmocka_unit_test(test_sigterm_cancels_what_outlives_the_grace_period),
        cmocka_unit_test(test_sighup_drains_as_sigterm_does),
    };
    return cmocka_run_group_tests_name("http", tests, start, stop);
}
