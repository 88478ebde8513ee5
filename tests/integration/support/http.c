/*
 * http.c -- a small libcurl client and assertions for integration tests.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    struct http_res *res = ud;
    size_t bytes = size * n;
    char *grown = realloc(res->body, res->len + bytes + 1);
    if (!grown)
        return 0;
    res->body = grown;
    memcpy(res->body + res->len, data, bytes);
    res->len += bytes;
    res->body[res->len] = '\0';
    return bytes;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    struct http_res *res = ud;
    size_t bytes = size * n;
    if (bytes >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after 100) */
        for (size_t i = 0; i < res->header_count; i++) {
            free(res->header_names[i]);
            free(res->header_values[i]);
        }
        res->header_count = 0;
        return bytes;
    }
    const char *colon = memchr(data, ':', bytes);
    if (!colon || res->header_count == HTTP_MAX_HEADERS)
        return bytes;
    size_t vlen = bytes - (size_t)(colon + 1 - data);
    const char *v = colon + 1;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    res->header_names[res->header_count] = strndup(data, (size_t)(colon - data));
    res->header_values[res->header_count] = strndup(v, vlen);
    res->header_count++;
    return bytes;
}

struct http_res *http_request(const char *method, const char *path, const char *const *headers,
                              const char *body, size_t len) {
    struct http_res *res = calloc(1, sizeof *res);
    CURL *c = curl_easy_init();
    struct curl_slist *list = NULL;
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", harness_port(), path);
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    else
        res->status = -1;
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (res->body && res->len)
        res->json = json_loadb(res->body, res->len, 0, NULL);
    return res;
}

struct http_res *http_expect(const char *method, const char *path, const char *token,
                             const char *json_body, long status) {
    char auth[4200];
    const char *headers[4] = {0};
    size_t n = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (json_body)
        headers[n++] = "Content-Type: application/json";
    struct http_res *res =
        http_request(method, path, headers, json_body, json_body ? strlen(json_body) : 0);
    if (res->status != status)
        fprintf(stderr, "%s %s: expected %ld, got %ld: %s\n", method, path, status, res->status,
                res->body ? res->body : "");
    assert_int_equal(res->status, status);
    return res;
}

const char *http_header(const struct http_res *res, const char *name) {
    for (size_t i = 0; i < res->header_count; i++)
        if (strcasecmp(res->header_names[i], name) == 0)
            return res->header_values[i];
    return NULL;
}

size_t http_header_count(const struct http_res *res, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < res->header_count; i++)
        n += strcasecmp(res->header_names[i], name) == 0;
    return n;
}

void http_res_free(struct http_res *res) {
    if (!res)
        return;
    for (size_t i = 0; i < res->header_count; i++) {
        free(res->header_names[i]);
        free(res->header_values[i]);
    }
    json_decref(res->json);
    free(res->body);
    free(res);
}

static bool has_field_error(json_t *errors, const char *field) {
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && strcmp(f, field) == 0)
            return true;
    }
    return false;
}

void assert_problem(const struct http_res *res, long status, const char *field) {
    if (res->status != status)
        fprintf(stderr, "expected %ld, got %ld: %s\n", status, res->status,
                res->body ? res->body : "");
    assert_int_equal(res->status, status);
    const char *ct = http_header(res, "Content-Type");
    assert_non_null(ct);
    assert_string_equal(ct, "application/problem+json");
    assert_non_null(res->json);
    assert_int_equal(json_integer_value(json_object_get(res->json, "status")), status);
    assert_string_equal(json_string_value(json_object_get(res->json, "type")), "about:blank");
    assert_non_null(json_string_value(json_object_get(res->json, "title")));
    assert_non_null(json_string_value(json_object_get(res->json, "request_id")));
    json_t *errors = json_object_get(res->json, "errors");
    if (field) {
        if (!has_field_error(errors, field))
            fprintf(stderr, "no error for field '%s' in %s\n", field, res->body);
        assert_true(has_field_error(errors, field));
    }
}

bool harness_wait_status(const char *path, long want, int timeout_ms) {
    for (int waited = 0;; waited += 100) {
        struct http_res *r = http_request("GET", path, NULL, NULL, 0);
        bool ok = r->status == want;
        http_res_free(r);
        if (ok)
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep(100 * 1000);
    }
}

size_t raw_exchange(const char *bytes, size_t len, char *out, size_t cap, int timeout_ms) {
    return raw_exchange_sent(bytes, len, NULL, out, cap, timeout_ms);
}

int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)harness_port()),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

size_t raw_exchange_sent(const char *bytes, size_t len, size_t *sent_out, char *out, size_t cap,
                         int timeout_ms) {
    int fd = raw_connect();
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, bytes + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    if (sent_out)
        *sent_out = sent;
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < cap && poll(&p, 1, timeout_ms) > 0) {
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}
