/*
 * test_product_extras.c -- product attributes and images: every rule, the
 * field each error names, the stored form of valid values, and URLs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/fielderr.h"
#include "nexus/model/attributes.h"
#include "nexus/model/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *load(const char *text) {
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("bad test JSON (%s): %s", jerr.text, text);
    return v;
}

/* Validate text as attributes (or images): the stored form when valid
 * (want_field NULL), else exactly one error on want_field. */
static void check(enum nx_err (*parse)(struct field_errors *, json_t *, struct buf *),
                  const char *text, const char *want_field, const char *want_stored) {
    struct field_errors errs = {0};
    struct buf out = {0};
    json_t *v = load(text);
    enum nx_err e = parse(&errs, v, &out);
    if (want_field) {
        if (fielderr_count(&errs) != 1 || strcmp(fielderr_at(&errs, 0)->field, want_field) != 0)
            fail_msg("%s: want one error on %s, got %zu (first: %s)", text, want_field,
                     fielderr_count(&errs),
                     fielderr_count(&errs) ? fielderr_at(&errs, 0)->field : "none");
        assert_int_equal(e, NX_ERR_VALIDATION);
        assert_int_equal(out.len, 0);
    } else {
        if (fielderr_count(&errs))
            fail_msg("%s: unexpected error on %s: %s", text, fielderr_at(&errs, 0)->field,
                     fielderr_at(&errs, 0)->message);
        assert_int_equal(e, NX_OK);
        assert_string_equal(out.data, want_stored);
    }
    buf_clear(&out);
    fielderr_clear(&errs);
    json_decref(v);
}

static char *repeat(const char *unit, size_t n) {
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

static void test_valid_attributes_are_stored_compact(void **state) {
    (void)state;
    check(attributes_parse, "{}", NULL, "{}");
    check(attributes_parse,
          "{\"brand\": \"Acme\", \"weight_g\": 350, \"waterproof\": true, \"ratio\": 0.1,"
          " \"t\": -2.5e3, \"big\": 1e300, \"x9_\": false}",
          NULL,
          "{\"brand\":\"Acme\",\"weight_g\":350,\"waterproof\":true,\"ratio\":0.1,\"t\":-2.5e+03,"
          "\"big\":1e+300,\"x9_\":false}");
}

static void test_attribute_keys(void **state) {
    (void)state;
    char text[128];
    check(attributes_parse, "{\"Weight\": 1}", "attributes.Weight", NULL);
    check(attributes_parse, "{\"1a\": 1}", "attributes.1a", NULL);
    check(attributes_parse, "{\"_a\": 1}", "attributes._a", NULL);
    check(attributes_parse, "{\"a-b\": 1}", "attributes.a-b", NULL);
    check(attributes_parse, "{\"\": 1}", "attributes.", NULL);
    char *k40 = repeat("k", 40), *k41 = repeat("k", 41);
    char stored[64];
    snprintf(text, sizeof text, "{\"%s\": 1}", k40);
    snprintf(stored, sizeof stored, "{\"%s\":1}", k40);
    check(attributes_parse, text, NULL, stored);
    snprintf(text, sizeof text, "{\"%s\": 1}", k41);
    char field[64];
    snprintf(field, sizeof field, "attributes.%s", k41);
    check(attributes_parse, text, field, NULL);
    free(k40);
    free(k41);
}

static void test_attribute_count(void **state) {
    (void)state;
    struct buf text = {0}, stored = {0};
    buf_puts(&text, "{");
    for (int i = 0; i < 51; i++)
        buf_printf(&text, "%s\"k%d\": %d", i ? ", " : "", i, i);
    buf_puts(&text, "}");
    check(attributes_parse, text.data, "attributes", NULL);
    buf_clear(&text);
    buf_puts(&text, "{");
    buf_puts(&stored, "{");
    for (int i = 0; i < 50; i++) {
        buf_printf(&text, "%s\"k%d\": %d", i ? ", " : "", i, i);
        buf_printf(&stored, "%s\"k%d\":%d", i ? "," : "", i, i);
    }
    buf_puts(&text, "}");
    buf_puts(&stored, "}");
    check(attributes_parse, text.data, NULL, stored.data);
    buf_clear(&text);
    buf_clear(&stored);
}

/* Strings count code points: 200 two-byte characters fit, 201 do not. */
static void test_attribute_values(void **state) {
    (void)state;
    check(attributes_parse, "{\"a\": null}", "attributes.a", NULL);
    check(attributes_parse, "{\"a\": [1]}", "attributes.a", NULL);
    check(attributes_parse, "{\"a\": {\"b\": 1}}", "attributes.a", NULL);
    check(attributes_parse, "{\"a\": \"\"}", "attributes.a", NULL);
    char *e200 = repeat("\xc3\xa9", 200), *e201 = repeat("\xc3\xa9", 201);
    struct buf text = {0}, stored = {0};
    buf_printf(&text, "{\"a\": \"%s\"}", e200);
    buf_printf(&stored, "{\"a\":\"%s\"}", e200);
    check(attributes_parse, text.data, NULL, stored.data);
    buf_clear(&text);
    buf_printf(&text, "{\"a\": \"%s\"}", e201);
    check(attributes_parse, text.data, "attributes.a", NULL);
    buf_clear(&text);
    buf_clear(&stored);
    free(e200);
    free(e201);
    check(attributes_parse, "[]", "attributes", NULL);
    check(attributes_parse, "\"x\"", "attributes", NULL);
}

static void test_valid_images_are_stored_with_alt(void **state) {
    (void)state;
    check(images_parse, "[]", NULL, "[]");
    check(images_parse,
          "[{\"url\": \"https://cdn.example.com/a.jpg\"},"
          " {\"alt\": \"Side\", \"url\": \"http://img.example.com:8080/p/b.png?w=300&h=200#x\"}]",
          NULL,
          "[{\"url\":\"https://cdn.example.com/a.jpg\",\"alt\":\"\"},"
          "{\"url\":\"http://img.example.com:8080/p/b.png?w=300&h=200#x\",\"alt\":\"Side\"}]");
}

static void test_image_errors_name_their_place(void **state) {
    (void)state;
    check(images_parse, "{}", "images", NULL);
    check(images_parse, "[1]", "images[0]", NULL);
    check(images_parse, "[{\"url\": \"https://a.example/x\"}, {\"alt\": \"x\"}]", "images[1].url",
          NULL);
    check(images_parse, "[{\"url\": \"ftp://a.example/x\"}]", "images[0].url", NULL);
    check(images_parse, "[{\"url\": 5}]", "images[0].url", NULL);
    check(images_parse, "[{\"url\": \"https://a.example/x\", \"size\": 1}]", "images[0].size",
          NULL);
    check(images_parse, "[{\"url\": \"https://a.example/x\", \"alt\": null}]", "images[0].alt",
          NULL);
    char *alt201 = repeat("a", 201);
    struct buf text = {0};
    buf_printf(&text, "[{\"url\": \"https://a.example/x\", \"alt\": \"%s\"}]", alt201);
    check(images_parse, text.data, "images[0].alt", NULL);
    buf_clear(&text);
    free(alt201);
    buf_puts(&text, "[");
    for (int i = 0; i < 21; i++)
        buf_printf(&text, "%s{\"url\": \"https://a.example/%d\"}", i ? ", " : "", i);
    buf_puts(&text, "]");
    check(images_parse, text.data, "images", NULL);
    buf_clear(&text);
}

static void test_urls(void **state) {
    (void)state;
    static const char *const good[] = {
        "http://a.example",
        "https://cdn.example.com/img/a%20b.jpg",
        "HTTPS://CDN.EXAMPLE.COM/A.JPG",
        "https://127.0.0.1:8443/x",
        "https://[2001:db8::1]/x.png",
        "http://[::1]:8080/x",
        "http://[::ffff:192.0.2.1]/x",
        "http://[1:2:3:4:5:6:7:8]/x",
        "https://a.example/p?q=1&r=a,b;c=d~e#frag/x?y",
        "https://a.example/%E2%82%AC",
        "https://a-b.example/x",
        "https://1a.example/x",
        "https://10.0.0.255/x",
        "https://a.b2/x",
    };
    static const char *const bad[] = {
        "",
        "a.example/x.jpg",
        "/x.jpg",
        "ftp://a.example/x",
        "javascript:alert(1)",
        "https://",
        "https:///x",
        "https://a.example/x y",
        "https://a.example/x\ty",
        "https://a.example/\x7f",
        "https://user:pw@a.example/x",
        "https://a.example:0/x",
        "https://a.example:65536/x",
        "https://a.example:/x",
        "https://a..example/x",
        "https://.a.example/x",
        "https://a_b.example/x",
        "https://-/x",
        "https://-a.example/x",
        "https://a-.example/x",
        "https://a.example-/x",
        "https://1.2.3.4.5/x",
        "https://256.1.1.1/x",
        "https://1.2.3/x",
        "https://1.2.3.04444/x",
        "https://1.2.3.4./x",
        "https://a.example/%zz",
        "https://a.example/%4",
        "https://a.example/<x>",
        "https://a.example/\"x\"",
        "https://a.example/x#a#b",
        "https://[zz]/x",
        "http://[::::]/a.jpg",
        "http://[:::]/x",
        "http://[:.]/x",
        "https://[1.2:3]/x",
        "http://[fffff::1]/x",
        "http://[1:2:3:4:5:6:7:8:9]/x",
        "http://[fe80::1%25eth0]/x",
        "https://a.example/caf\xc3\xa9",
        "http:/a.example",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!url_is_http(good[i], strlen(good[i])))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (url_is_http(bad[i], strlen(bad[i])))
            fail_msg("accepted %s", bad[i]);
    /* 2,048 characters is the limit */
    char *path = repeat("a", 2048 - strlen("https://a.example/"));
    struct buf url = {0};
    buf_printf(&url, "https://a.example/%s", path);
    assert_true(url_is_http(url.data, url.len));
    buf_puts(&url, "a");
    assert_false(url_is_http(url.data, url.len));
    buf_clear(&url);
    free(path);
}

/* A product body: absent values take their defaults on create and
 * replace, and stay "not given" on PATCH; wrong types name the field. */
static void test_product_body(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct product_input in;
    json_t *b = load("{\"sku\": \"A-1\", \"name\": \"A\", \"price\": \"1\", \"stock\": 1}");
    assert_int_equal(product_input_parse(&errs, b, PRODUCT_CREATE, &in), NX_OK);
    assert_string_equal(in.extras.attributes, "{}");
    assert_string_equal(in.extras.images, "[]");
    product_input_clear(&in);
    assert_int_equal(product_input_parse(&errs, b, PRODUCT_PATCH, &in), NX_OK);
    assert_null(in.extras.attributes);
    assert_null(in.extras.images);
    product_input_clear(&in);
    json_decref(b);
    b = load("{\"attributes\": {\"color\": \"red\"}, \"images\": []}");
    assert_int_equal(product_input_parse(&errs, b, PRODUCT_PATCH, &in), NX_OK);
    assert_string_equal(in.extras.attributes, "{\"color\":\"red\"}");
    assert_string_equal(in.extras.images, "[]");
    product_input_clear(&in);
    json_decref(b);
    b = load("{\"attributes\": [], \"images\": {}}");
    assert_int_equal(product_input_parse(&errs, b, PRODUCT_PATCH, &in), NX_ERR_VALIDATION);
    assert_int_equal(fielderr_count(&errs), 2);
    assert_string_equal(fielderr_at(&errs, 0)->field, "attributes");
    assert_string_equal(fielderr_at(&errs, 1)->field, "images");
    product_input_clear(&in);
    json_decref(b);
    fielderr_clear(&errs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_attributes_are_stored_compact),
        cmocka_unit_test(test_attribute_keys),
        cmocka_unit_test(test_attribute_count),
        cmocka_unit_test(test_attribute_values),
        cmocka_unit_test(test_valid_images_are_stored_with_alt),
        cmocka_unit_test(test_image_errors_name_their_place),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_product_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
