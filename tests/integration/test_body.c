/*
 * test_body.c -- the request body rules every JSON route shares, exercised
 * on POST /api/v1/auth/register: content type (415), size (413), JSON
 * syntax (400), fields (422), and the order in which those checks run
 * after routing (404/405) and authentication (401/403).
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define REGISTER "/api/v1/auth/register"
#define ONE_MIB  ((size_t)1048576)

static struct nexus_server server;

static int start(void **state) {
    (void)state;
    harness_start(&server, "body_rules", NULL);
    return 0;
}

static int stop(void **state) {
    (void)state;
    harness_stop(&server);
    return 0;
}

/* Send body with the given Content-Type line ("Content-Type: ..."; the
 * bare "Content-Type:" makes libcurl send none) and optional extra header. */
static struct http_res *send_raw_body(const char *method, const char *path, const char *ctype_line,
                                      const char *extra, const char *body, size_t len) {
    const char *headers[3] = {ctype_line, extra, NULL};
    return http_request(method, path, headers, body, len);
}

static struct http_res *send_json(const char *path, const char *body) {
    return send_raw_body("POST", path, "Content-Type: application/json", NULL, body, strlen(body));
}

static void expect_problem_and_free(struct http_res *r, long status, const char *field) {
    assert_problem(r, status, field);
    http_res_free(r);
}

static const char *title_of(const struct http_res *r) {
    return json_string_value(json_object_get(r->json, "title"));
}

/* A valid register body for email, padded with spaces to total bytes
 * (when total is larger than the JSON itself). Owned by the caller. */
static char *padded_register_body(const char *email, size_t total) {
    char json[256];
    int n =
        snprintf(json, sizeof json,
                 "{\"email\":\"%s\",\"password\":\"long enough pw\",\"name\":\"Big Body\"}", email);
    assert_true(n > 0 && (size_t)n < total);
    char *body = malloc(total + 1);
    assert_non_null(body);
    memcpy(body, json, (size_t)n);
    memset(body + n, ' ', total - (size_t)n);
    body[total] = '\0';
    return body;
}

/* ---- content type ------------------------------------------------------ */

static void test_missing_content_type_is_415(void **state) {
    (void)state;
    const char *body = "{\"email\":\"noct@example.com\",\"password\":\"password1\",\"name\":\"N\"}";
    struct http_res *r = send_raw_body("POST", REGISTER, "Content-Type:", NULL, body, strlen(body));
    assert_problem(r, 415, NULL);
    assert_string_equal(title_of(r), "Unsupported Media Type");
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
}

static void test_text_plain_is_415(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"plain@example.com\",\"password\":\"password1\",\"name\":\"P\"}";
    expect_problem_and_free(
        send_raw_body("POST", REGISTER, "Content-Type: text/plain", NULL, body, strlen(body)), 415,
        NULL);
}

static void test_json_lookalike_media_types_are_415(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"alike@example.com\",\"password\":\"password1\",\"name\":\"A\"}";
    const char *types[] = {"Content-Type: application/jsonx", "Content-Type: application/json-seq",
                           "Content-Type: application/x-www-form-urlencoded",
                           "Content-Type: text/json"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        expect_problem_and_free(send_raw_body("POST", REGISTER, types[i], NULL, body, strlen(body)),
                                415, NULL);
}

static void test_json_with_charset_parameter_is_accepted(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"charset@example.com\",\"password\":\"password1\",\"name\":\"Charset\"}";
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json; charset=utf-8", NULL, body,
                      strlen(body));
    assert_int_equal(r->status, 201);
    assert_string_equal(json_string_value(json_object_get(r->json, "email")),
                        "charset@example.com");
    http_res_free(r);
}

/* A body is read as UTF-8: declared in another charset, or in a content
 * coding, it would be misread, so it is refused before it is read. */
static void test_other_charsets_and_content_codings_are_415(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"latin@example.com\",\"password\":\"password1\",\"name\":\"L\"}";
    expect_problem_and_free(send_raw_body("POST", REGISTER,
                                          "Content-Type: application/json; charset=latin1", NULL,
                                          body, strlen(body)),
                            415, NULL);
    struct http_res *r = send_raw_body("POST", REGISTER, "Content-Type: application/json",
                                       "Content-Encoding: gzip", body, strlen(body));
    assert_problem(r, 415, NULL);
    assert_non_null(strstr(jstr(r->json, "detail"), "Content-Encoding"));
    http_res_free(r);
    /* a second line adds to the list */
    const char *two_lines[] = {"Content-Type: application/json", "Content-Encoding: identity",
                               "Content-Encoding: gzip", NULL};
    expect_problem_and_free(http_request("POST", REGISTER, two_lines, body, strlen(body)), 415,
                            NULL);
    r = send_raw_body("POST", REGISTER, "Content-Type: application/json",
                      "Content-Encoding: identity", body, strlen(body));
    assert_int_equal(r->status, 201);
    http_res_free(r);
}

static void test_media_type_is_case_insensitive(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"upper-ct@example.com\",\"password\":\"password1\",\"name\":\"Upper\"}";
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: Application/JSON", NULL, body, strlen(body));
    assert_int_equal(r->status, 201);
    http_res_free(r);
}

/* ---- JSON syntax ------------------------------------------------------- */

static void test_empty_body_is_400(void **state) {
    (void)state;
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, "", 0);
    assert_problem(r, 400, NULL);
    assert_string_equal(title_of(r), "Bad Request");
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
}

static void test_malformed_json_is_400(void **state) {
    (void)state;
    const char *bodies[] = {"{\"email\":", "{email: \"a@b.co\"}", "{\"email\":\"a@b.co\",}",
                            "not json at all", "{\"email\":\"a@b.co\"} trailing"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        expect_problem_and_free(send_json(REGISTER, bodies[i]), 400, NULL);
    /* placed in the text as sent, after an integer past 64 bits too */
    const char *paths[] = {REGISTER, "/api/v1/auth/login"};
    for (size_t i = 0; i < 2; i++) {
        struct http_res *r =
            send_json(paths[i], "{\"a\":123456789012345678901234567890,\"b\":tru}");
        assert_problem(r, 400, NULL);
        assert_string_equal(jstr(r->json, "detail"), "malformed JSON at line 1, column 43");
        http_res_free(r);
    }
    /* a raw NUL byte is malformed wherever it is, also right after a value
     * (where a lenient parser would take it for the value's end) */
    static const char NUL_AFTER_VALUE[] =
        "{\"email\":\"nul@example.com\",\"password\":\"password1\",\"name\":\"N\",\"x\":1\0}";
    for (size_t i = 0; i < 2; i++) {
        struct http_res *r = send_raw_body("POST", paths[i], "Content-Type: application/json", NULL,
                                           NUL_AFTER_VALUE, sizeof NUL_AFTER_VALUE - 1);
        assert_problem(r, 400, NULL);
        assert_string_equal(jstr(r->json, "detail"),
                            "malformed JSON (a raw NUL byte) at line 1, column 67");
        http_res_free(r);
    }
}

/* A real past a double is well-formed JSON with no value to keep: a 422
 * naming each one's field, unless the body is malformed besides (then 400,
 * as any malformed body). An integer past 64 bits is read as the nearest
 * double, and validation decides (here "age" is not a field of the body). */
static void test_numbers_out_of_range_are_422(void **state) {
    (void)state;
    struct http_res *r =
        send_json(REGISTER, "{\"email\":\"big@example.com\", \"age\": 1e400,"
                            " \"attributes\": {\"w\": [1, {\"x\": -1e400}]}, \"name\": \"Big\"}");
    assert_problem(r, 422, "age");
    assert_problem(r, 422, "attributes.w[1].x");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 2);
    http_res_free(r);
    const char *malformed[] = {"{\"age\": 1e400", "{\"age\": 1e400, \"age\": 1}", "[1e400]",
                               "1e400", "{\"age\": 123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        expect_problem_and_free(send_json(REGISTER, malformed[i]), 400, NULL);
    r = send_json(REGISTER, "{\"email\":\"big@example.com\", \"age\": 12345678901234567890,"
                            " \"name\": \"Big\", \"password\": \"password1\"}");
    assert_problem(r, 422, "age");
    assert_non_null(strstr(r->body, "is not a known field"));
    http_res_free(r);
    /* a key named is cut between characters, never inside one: "a" and
     * 40 é are 81 bytes, and 64 would end inside the 32nd é */
    char key[128], body[256];
    size_t n = (size_t)snprintf(key, sizeof key, "a");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(key + n, sizeof key - n, "\xc3\xa9");
    snprintf(body, sizeof body, "{\"email\":\"big@example.com\", \"%s\": 1e400}", key);
    key[63] = '\0';
    expect_problem_and_free(send_json(REGISTER, body), 422, key);
    /* an empty key is a level of its own: "a" under one is ".a" */
    r = send_json(REGISTER, "{\"\": {\"a\": 1e400}, \"a\": 1e400}");
    assert_problem(r, 422, ".a");
    assert_problem(r, 422, "a");
    http_res_free(r);
}

static void test_json_array_body_is_400(void **state) {
    (void)state;
    expect_problem_and_free(send_json(REGISTER,
                                      "[{\"email\":\"arr@example.com\",\"password\":\"password1\","
                                      "\"name\":\"Arr\"}]"),
                            400, NULL);
    expect_problem_and_free(send_json(REGISTER, "[]"), 400, NULL);
}

static void test_json_scalar_body_is_400(void **state) {
    (void)state;
    expect_problem_and_free(send_json(REGISTER, "\"arr@example.com\""), 400, NULL);
    expect_problem_and_free(send_json(REGISTER, "42"), 400, NULL);
    expect_problem_and_free(send_json(REGISTER, "null"), 400, NULL);
    /* told as what it is: well-formed JSON that is no object */
    struct http_res *r = send_json(REGISTER, "null");
    assert_string_equal(jstr(r->json, "detail"), "the body must be a JSON object");
    http_res_free(r);
}

static void test_duplicate_key_is_400(void **state) {
    (void)state;
    struct http_res *r =
        send_json(REGISTER, "{\"email\":\"a@b.co\",\"email\":\"c@d.co\",\"password\":\"password1\","
                            "\"name\":\"Dup\"}");
    assert_problem(r, 400, NULL);
    http_res_free(r);
    /* The same key spelled with an escape is still the same key. */
    r = send_json(REGISTER, "{\"email\":\"a@b.co\",\"\\u0065mail\":\"c@d.co\","
                            "\"password\":\"password1\",\"name\":\"Dup\"}");
    assert_problem(r, 400, NULL);
    http_res_free(r);
    char *n = harness_sql(&server, "SELECT count(*) FROM users WHERE email IN ('a@b.co','c@d.co')");
    assert_non_null(n);
    assert_string_equal(n, "0");
    free(n);
}

static void test_invalid_utf8_is_400(void **state) {
    (void)state;
    expect_problem_and_free(
        send_json(REGISTER, "{\"email\":\"bad\xff\xfe@example.com\",\"password\":\"password1\","
                            "\"name\":\"Bad\"}"),
        400, NULL);
    expect_problem_and_free(send_json(REGISTER,
                                      "{\"email\":\"lone@example.com\",\"password\":\"password1\","
                                      "\"name\":\"\xc3\"}"),
                            400, NULL);
}

static void test_deeply_nested_json_is_400(void **state) {
    (void)state;
    size_t depth = 200000;
    char *body = malloc(2 * depth + 1);
    assert_non_null(body);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    body[2 * depth] = '\0';
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, body, 2 * depth);
    assert_problem(r, 400, NULL);
    /* well-formed, so not called malformed */
    assert_string_equal(jstr(r->json, "detail"),
                        "JSON nested deeper than 2048 levels at line 1, column 2049");
    http_res_free(r);
    free(body);
    /* each array and object is a level, and so is the value innermost:
     * an object and 2,046 arrays around a number are 2,048 */
    char deep[16 + 2 * 2047];
    for (size_t arrays = 2046; arrays <= 2047; arrays++) {
        size_t n = (size_t)snprintf(deep, sizeof deep, "{\"email\": ");
        memset(deep + n, '[', arrays);
        deep[n + arrays] = '1';
        memset(deep + n + arrays + 1, ']', arrays);
        n += 2 * arrays + 1;
        deep[n++] = '}';
        r = send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, deep, n);
        assert_problem(r, arrays == 2046 ? 422 : 400, arrays == 2046 ? "email" : NULL);
        if (arrays == 2047)
            assert_non_null(strstr(jstr(r->json, "detail"), "JSON nested deeper than 2048 levels"));
        http_res_free(r);
    }
    /* and the server is still there */
    http_res_free(http_expect("GET", "/healthz", NULL, NULL, 200));
}

/* ---- size ---------------------------------------------------------------- */

static void test_body_of_exactly_1_mib_is_accepted(void **state) {
    (void)state;
    char *body = padded_register_body("one-mib@example.com", ONE_MIB);
    assert_int_equal(strlen(body), ONE_MIB);
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, body, ONE_MIB);
    if (r->status != 201)
        fprintf(stderr, "1 MiB body: got %ld: %s\n", r->status, r->body ? r->body : "");
    assert_int_not_equal(r->status, 413);
    assert_int_equal(r->status, 201);
    http_res_free(r);
    free(body);
}

static void test_body_one_byte_over_1_mib_is_413(void **state) {
    (void)state;
    char *body = padded_register_body("over-mib@example.com", ONE_MIB + 1);
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, body, ONE_MIB + 1);
    assert_problem(r, 413, NULL);
    assert_string_equal(title_of(r), "Content Too Large");
    assert_null(json_object_get(r->json, "errors"));
    http_res_free(r);
    free(body);
    char *n =
        harness_sql(&server, "SELECT count(*) FROM users WHERE email = 'over-mib@example.com'");
    assert_non_null(n);
    assert_string_equal(n, "0");
    free(n);
}

static void test_chunked_body_one_byte_over_1_mib_is_413(void **state) {
    (void)state;
    char *body = padded_register_body("chunked-over@example.com", ONE_MIB + 1);
    struct http_res *r = send_raw_body("POST", REGISTER, "Content-Type: application/json",
                                       "Transfer-Encoding: chunked", body, ONE_MIB + 1);
    assert_problem(r, 413, NULL);
    assert_string_equal(title_of(r), "Content Too Large");
    http_res_free(r);
    free(body);
    char *n =
        harness_sql(&server, "SELECT count(*) FROM users WHERE email = 'chunked-over@example.com'");
    assert_non_null(n);
    assert_string_equal(n, "0");
    free(n);
}

static void test_chunked_body_of_exactly_1_mib_is_accepted(void **state) {
    (void)state;
    char *body = padded_register_body("chunked-mib@example.com", ONE_MIB);
    struct http_res *r = send_raw_body("POST", REGISTER, "Content-Type: application/json",
                                       "Transfer-Encoding: chunked", body, ONE_MIB);
    if (r->status != 201)
        fprintf(stderr, "chunked 1 MiB body: got %ld: %s\n", r->status, r->body ? r->body : "");
    assert_int_equal(r->status, 201);
    http_res_free(r);
    free(body);
}

/* An oversize body of total bytes with hand-written chunked framing,
 * split over many chunks so the limit is checked on the running total:
 * 413, however far past the cap it runs. */
static void expect_chunked_413(const char *email, size_t total) {
    const char *head = "POST " REGISTER " HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: close\r\n\r\n";
    char *body = padded_register_body(email, total);
    size_t chunk = 65536, cap = strlen(head) + total + 16 * (total / chunk + 2) + 16, used = 0;
    char *raw = malloc(cap);
    assert_non_null(raw);
    used += (size_t)snprintf(raw, cap, "%s", head);
    for (size_t off = 0; off < total;) {
        size_t n = total - off < chunk ? total - off : chunk;
        used += (size_t)snprintf(raw + used, cap - used, "%zx\r\n", n);
        memcpy(raw + used, body + off, n);
        used += n;
        used += (size_t)snprintf(raw + used, cap - used, "\r\n");
        off += n;
    }
    used += (size_t)snprintf(raw + used, cap - used, "0\r\n\r\n");
    char out[8192];
    raw_exchange(raw, used, out, sizeof out, 20000);
    if (strncmp(out, "HTTP/1.1 413", 12) != 0)
        fprintf(stderr, "got: %.300s\n", out);
    assert_int_equal(strncmp(out, "HTTP/1.1 413", 12), 0);
    assert_non_null(strstr(out, "application/problem+json"));
    assert_non_null(strstr(out, "Content Too Large"));
    free(raw);
    free(body);
}

static void test_raw_chunked_body_over_1_mib_in_many_chunks_is_413(void **state) {
    (void)state;
    expect_chunked_413("raw-chunked@example.com", ONE_MIB + 1);
}

/* Twelve times the cap: the rest is read and dropped, and the 413 comes
 * (the connection was cut, unanswered, past 8 MiB over the cap). */
static void test_a_chunked_body_far_past_the_cap_still_gets_its_413(void **state) {
    (void)state;
    expect_chunked_413("far-chunked@example.com", 12 * ONE_MIB);
}

/* An OPTIONS that sends a body gets its 204 and an orderly close: the body
 * is drained, never left unread in a closed socket (a reset, which can
 * destroy the 204 before the client reads it, or fail the client's
 * write). A body larger than the socket buffers, written whole. */
static void test_options_with_a_body_closes_in_order(void **state) {
    (void)state;
    size_t total = 3 * ONE_MIB;
    char head[256];
    int h = snprintf(head, sizeof head,
                     "OPTIONS /api/v1/products HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     total);
    char *raw = malloc((size_t)h + total);
    assert_non_null(raw);
    memcpy(raw, head, (size_t)h);
    memset(raw + h, ' ', total);
    int fd = raw_connect();
    size_t sent = 0;
    while (sent < (size_t)h + total) {
        ssize_t n = send(fd, raw + sent, (size_t)h + total - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    char out[4096];
    size_t got = 0;
    ssize_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < sizeof out && poll(&p, 1, 30000) > 0) {
        n = recv(fd, out + got, sizeof out - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    int error = n < 0 ? errno : 0;
    close(fd);
    free(raw);
    out[got] = '\0';
    assert_int_equal(sent, (size_t)h + total);
    assert_int_equal(strncmp(out, "HTTP/1.1 204", 12), 0);
    if (n != 0)
        fail_msg("the connection ended with %zd (%s), not an orderly close", n, strerror(error));
}

/* A request with a body of total bytes and a Content-Length, written in
 * full before the answer is read, as a client that does not wait for
 * "100 Continue" writes it (one that gives up when a write fails, as many
 * do: every byte must be taken). What came back is in out. */
static void send_whole(const char *path, size_t total, char *out, size_t cap) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, total);
    size_t used = (size_t)n;
    char *raw = malloc(used + total);
    assert_non_null(raw);
    memcpy(raw, head, used);
    memset(raw + used, ' ', total);
    size_t sent = 0;
    raw_exchange_sent(raw, used + total, &sent, out, cap, 5000);
    if (sent != used + total)
        fprintf(stderr, "%s: %zu of %zu bytes sent\n", path, sent, used + total);
    assert_int_equal(sent, used + total);
    free(raw);
}

/* A body larger than the socket buffers, refused on its headers: the
 * server answers at once and closes the connection without reading the
 * body, and the client, still writing it, gets the answer and not a
 * reset (the socket is drained before it is closed). Several times each,
 * as the reset depended on timing. */
static void test_refusal_of_a_body_sent_whole_arrives(void **state) {
    (void)state;
    const char *paths[] = {"/api/v1/products", "/api/v1/nothing-here", REGISTER};
    const size_t sizes[] = {3 * ONE_MIB, 3 * ONE_MIB, 3 * ONE_MIB};
    const char *wanted[] = {"HTTP/1.1 401", "HTTP/1.1 404", "HTTP/1.1 413"};
    for (int round = 0; round < 9; round++) {
        char out[8192];
        send_whole(paths[round % 3], sizes[round % 3], out, sizeof out);
        if (strncmp(out, wanted[round % 3], 12) != 0)
            fprintf(stderr, "round %d got: %.300s\n", round, out);
        assert_int_equal(strncmp(out, wanted[round % 3], 12), 0);
        assert_non_null(strstr(out, "Connection: close"));
    }
}

static void test_small_chunked_body_is_accepted(void **state) {
    (void)state;
    const char *body =
        "{\"email\":\"chunked-small@example.com\",\"password\":\"password1\",\"name\":\"Ch\"}";
    struct http_res *r = send_raw_body("POST", REGISTER, "Content-Type: application/json",
                                       "Transfer-Encoding: chunked", body, strlen(body));
    assert_int_equal(r->status, 201);
    http_res_free(r);
}

/* ---- fields ------------------------------------------------------------ */

static void test_field_of_wrong_type_is_422_naming_it(void **state) {
    (void)state;
    struct http_res *r =
        send_json(REGISTER, "{\"email\":123,\"password\":\"password1\",\"name\":\"Typed\"}");
    assert_problem(r, 422, "email");
    assert_string_equal(title_of(r), "Unprocessable Content");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    http_res_free(r);
    r = send_json(REGISTER, "{\"email\":\"typed@example.com\",\"password\":12345678,"
                            "\"name\":[\"x\"]}");
    assert_problem(r, 422, "password");
    assert_problem(r, 422, "name");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 2);
    http_res_free(r);
    r = send_json(REGISTER, "{\"email\":null,\"password\":\"password1\",\"name\":\"Typed\"}");
    assert_problem(r, 422, "email");
    http_res_free(r);
}

static void test_unknown_field_is_422_naming_it(void **state) {
    (void)state;
    struct http_res *r =
        send_json(REGISTER, "{\"email\":\"unknown-field@example.com\",\"password\":\"password1\","
                            "\"name\":\"Unknown\",\"nickname\":\"x\"}");
    assert_problem(r, 422, "nickname");
    assert_int_equal(json_array_size(json_object_get(r->json, "errors")), 1);
    http_res_free(r);
    char *n = harness_sql(&server,
                          "SELECT count(*) FROM users WHERE email = 'unknown-field@example.com'");
    assert_non_null(n);
    assert_string_equal(n, "0");
    free(n);
}

static void test_read_only_fields_are_unknown_fields(void **state) {
    (void)state;
    struct http_res *r =
        send_json(REGISTER, "{\"email\":\"readonly@example.com\",\"password\":\"password1\","
                            "\"name\":\"RO\",\"id\":7,\"created_at\":\"2026-01-01T00:00:00Z\","
                            "\"is_active\":true}");
    assert_problem(r, 422, "id");
    assert_problem(r, 422, "created_at");
    assert_problem(r, 422, "is_active");
    http_res_free(r);
}

/* ---- check order --------------------------------------------------------- */

static void test_unknown_path_is_404_before_415(void **state) {
    (void)state;
    const char *body = "{}";
    struct http_res *r = send_raw_body("POST", "/api/v1/auth/nope", "Content-Type: text/plain",
                                       NULL, body, strlen(body));
    assert_problem(r, 404, NULL);
    http_res_free(r);
    r = send_raw_body("POST", "/api/v1/auth/register/", "Content-Type:", NULL, body, strlen(body));
    assert_problem(r, 404, NULL);
    http_res_free(r);
}

static void test_wrong_method_is_405_before_415(void **state) {
    (void)state;
    const char *body = "{}";
    struct http_res *r =
        send_raw_body("PUT", REGISTER, "Content-Type: text/plain", NULL, body, strlen(body));
    assert_problem(r, 405, NULL);
    assert_non_null(http_header(r, "Allow"));
    assert_non_null(strstr(http_header(r, "Allow"), "POST"));
    http_res_free(r);
}

static void test_authentication_is_401_before_415(void **state) {
    (void)state;
    const char *body = "{\"name\":\"x\"}";
    struct http_res *r = send_raw_body("PATCH", "/api/v1/users/me", "Content-Type: text/plain",
                                       NULL, body, strlen(body));
    assert_problem(r, 401, NULL);
    assert_non_null(http_header(r, "WWW-Authenticate"));
    http_res_free(r);
    r = send_raw_body("PATCH", "/api/v1/users/me", "Content-Type:", "Authorization: Bearer junk",
                      body, strlen(body));
    assert_problem(r, 401, NULL);
    http_res_free(r);
}

static void test_role_is_403_before_415(void **state) {
    (void)state;
    http_res_free(
        http_expect("POST", REGISTER, NULL,
                    "{\"email\":\"order-customer@example.com\",\"password\":\"password1\","
                    "\"name\":\"Order\"}",
                    201));
    struct http_res *r =
        http_expect("POST", "/api/v1/auth/login", NULL,
                    "{\"email\":\"order-customer@example.com\",\"password\":\"password1\"}", 200);
    char auth[4200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s",
             json_string_value(json_object_get(r->json, "access_token")));
    http_res_free(r);
    const char *body = "{\"role\":\"admin\"}";
    r = send_raw_body("PATCH", "/api/v1/users/1", "Content-Type: text/plain", auth, body,
                      strlen(body));
    assert_problem(r, 403, NULL);
    http_res_free(r);
    /* With the admin role, the same request gets as far as the 415. */
    char *ok = harness_sql(
        &server, "UPDATE users SET role = 'admin' WHERE email = 'order-customer@example.com'");
    assert_non_null(ok);
    free(ok);
    r = send_raw_body("PATCH", "/api/v1/users/1", "Content-Type: text/plain", auth, body,
                      strlen(body));
    assert_problem(r, 415, NULL);
    http_res_free(r);
}

static void test_content_type_is_415_before_413(void **state) {
    (void)state;
    char *body = padded_register_body("ct-before-size@example.com", ONE_MIB + 1);
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: text/plain", NULL, body, ONE_MIB + 1);
    assert_problem(r, 415, NULL);
    http_res_free(r);
    free(body);
}

static void test_size_is_413_before_json_syntax(void **state) {
    (void)state;
    char *body = malloc(ONE_MIB + 2);
    assert_non_null(body);
    memset(body, '{', ONE_MIB + 1);
    body[ONE_MIB + 1] = '\0';
    struct http_res *r =
        send_raw_body("POST", REGISTER, "Content-Type: application/json", NULL, body, ONE_MIB + 1);
    assert_problem(r, 413, NULL);
    http_res_free(r);
    free(body);
}

static void test_json_syntax_is_400_before_fields(void **state) {
    (void)state;
    /* Unknown fields and a malformed tail: syntax wins. */
    expect_problem_and_free(send_json(REGISTER, "{\"role\":\"admin\",\"x\":1,"), 400, NULL);
}

static void test_errors_carry_request_id_matching_header(void **state) {
    (void)state;
    const char *h[] = {"Content-Type: text/plain", "X-Request-Id: body-rules-req-1", NULL};
    struct http_res *r = http_request("POST", REGISTER, h, "{}", 2);
    assert_problem(r, 415, NULL);
    assert_string_equal(http_header(r, "X-Request-Id"), "body-rules-req-1");
    assert_string_equal(json_string_value(json_object_get(r->json, "request_id")),
                        "body-rules-req-1");
    http_res_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_content_type_is_415),
        cmocka_unit_test(test_text_plain_is_415),
        cmocka_unit_test(test_json_lookalike_media_types_are_415),
        cmocka_unit_test(test_json_with_charset_parameter_is_accepted),
        cmocka_unit_test(test_other_charsets_and_content_codings_are_415),
        cmocka_unit_test(test_media_type_is_case_insensitive),
        cmocka_unit_test(test_empty_body_is_400),
        cmocka_unit_test(test_malformed_json_is_400),
        cmocka_unit_test(test_numbers_out_of_range_are_422),
        cmocka_unit_test(test_json_array_body_is_400),
        cmocka_unit_test(test_json_scalar_body_is_400),
        cmocka_unit_test(test_duplicate_key_is_400),
        cmocka_unit_test(test_invalid_utf8_is_400),
        cmocka_unit_test(test_deeply_nested_json_is_400),
        cmocka_unit_test(test_body_of_exactly_1_mib_is_accepted),
        cmocka_unit_test(test_body_one_byte_over_1_mib_is_413),
        cmocka_unit_test(test_chunked_body_one_byte_over_1_mib_is_413),
        cmocka_unit_test(test_chunked_body_of_exactly_1_mib_is_accepted),
        cmocka_unit_test(test_raw_chunked_body_over_1_mib_in_many_chunks_is_413),
        cmocka_unit_test(test_a_chunked_body_far_past_the_cap_still_gets_its_413),
        cmocka_unit_test(test_options_with_a_body_closes_in_order),
        cmocka_unit_test(test_refusal_of_a_body_sent_whole_arrives),
        cmocka_unit_test(test_small_chunked_body_is_accepted),
        cmocka_unit_test(test_field_of_wrong_type_is_422_naming_it),
        cmocka_unit_test(test_unknown_field_is_422_naming_it),
        cmocka_unit_test(test_read_only_fields_are_unknown_fields),
        cmocka_unit_test(test_unknown_path_is_404_before_415),
        cmocka_unit_test(test_wrong_method_is_405_before_415),
        cmocka_unit_test(test_authentication_is_401_before_415),
        cmocka_unit_test(test_role_is_403_before_415),
        cmocka_unit_test(test_content_type_is_415_before_413),
        cmocka_unit_test(test_size_is_413_before_json_syntax),
        cmocka_unit_test(test_json_syntax_is_400_before_fields),
        cmocka_unit_test(test_errors_carry_request_id_matching_header),
    };
    return cmocka_run_group_tests_name("body", tests, start, stop);
}
