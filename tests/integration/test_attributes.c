/*
 * test_attributes.c -- product attributes and images over HTTP: every
 * validation rule and the field it names, create/PUT/PATCH semantics
 * (PATCH replaces the whole value, PUT takes the defaults), what they do
 * to the ETag, updated_at and cached reads; and fields= on product and
 * category reads.
 */
#include "harness.h"

#include "nexus/core/xmem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PRODUCTS   "/api/v1/products"
#define CATEGORIES "/api/v1/categories"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;

static int start(void **state) {
    (void)state;
    harness_start(&server, "attributes", NULL);
    harness_staff_and_customer(&server, "attrs", &staff_token, &customer_token);
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    free(customer_token);
    staff_token = customer_token = NULL;
    harness_stop(&server);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* A valid product body with sku, plus the members of extra (a JSON
 * object text, may be "{}"). Owned. */
static char *product_body(const char *sku, const char *extra) {
    json_error_t err;
    json_t *b =
        json_pack("{s:s, s:s, s:s, s:i}", "sku", sku, "name", sku, "price", "5", "stock", 2);
    json_t *x = json_loads(extra, 0, &err);
    if (!x)
        fail_msg("bad test JSON (%s): %s", err.text, extra);
    json_object_update(b, x);
    json_decref(x);
    return dump(b);
}

static long long create(const char *sku, const char *extra) {
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, product_body(sku, extra));
    expect_status(r, 201, "create product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

static char *path_of(long long id) {
    char p[64];
    snprintf(p, sizeof p, PRODUCTS "/%lld", id);
    return take(p);
}

/* The compact JSON of member key of r's body. Owned. */
static char *member(const struct http_res *r, const char *key) {
    json_t *v = json_object_get(r->json, key);
    assert_non_null(v);
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void expect_member(const struct http_res *r, const char *key, const char *want) {
    char *got = member(r, key);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s: got %s, want %s\n", key, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* POST (create) and PATCH (of id) with the extra members: both 422 with
 * an error on field, and nothing written. */
static void expect_422(long long id, const char *extra, const char *field) {
    static int n;
    char sku[32];
    snprintf(sku, sizeof sku, "BAD-%d", ++n);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, product_body(sku, extra));
    if (r->status != 422)
        fprintf(stderr, "POST with %s: got %ld\n", extra, r->status);
    expect_problem(r, 422, field);
    char *path = path_of(id);
    r = call("PATCH", path, staff_token, extra);
    if (r->status != 422)
        fprintf(stderr, "PATCH with %s: got %ld\n", extra, r->status);
    expect_problem(r, 422, field);
    free(path);
}

static char *repeat(const char *unit, size_t n) {
    struct buf b = {0};
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, unit);
    return buf_take(&b, NULL);
}

/* expect_422 of {"attributes": {"key": before value after}} as written,
 * which jansson alone does not read (numbers past its range). */
static void expect_422_as_written(long long id, const char *key, const char *before,
                                  const char *value, const char *after, const char *field) {
    struct buf attributes = {0}, body = {0};
    buf_printf(&attributes, "\"attributes\": {\"%s\": %s%s%s}", key, before, value, after);
    buf_printf(&body, "{\"sku\": \"AI-AS-WRITTEN\", \"name\": \"x\", \"price\": \"5\", %s}",
               attributes.data);
    expect_problem(call("POST", PRODUCTS, staff_token, body.data), 422, field);
    buf_clear(&body);
    buf_printf(&body, "{%s}", attributes.data);
    char *path = path_of(id);
    expect_problem(call("PATCH", path, staff_token, body.data), 422, field);
    free(path);
    buf_clear(&body);
    buf_clear(&attributes);
}

/* ---- attributes and images ---------------------------------------------- */

static void test_create_and_read_back(void **state) {
    (void)state;
    long long id = create("AI-1", "{\"attributes\": {\"brand\": \"Acme\", \"weight_g\": 350,"
                                  " \"waterproof\": true, \"ratio\": 0.25},"
                                  " \"images\": [{\"url\": \"https://cdn.example.com/a.jpg\","
                                  " \"alt\": \"Front\"}, {\"url\": \"http://x.example/b.png\"}]}");
    char *path = path_of(id);
    /* jsonb keeps keys ordered by length, then bytes */
    const char *attrs = "{\"brand\":\"Acme\",\"ratio\":0.25,\"weight_g\":350,\"waterproof\":true}";
    const char *images = "[{\"alt\":\"Front\",\"url\":\"https://cdn.example.com/a.jpg\"},"
                         "{\"alt\":\"\",\"url\":\"http://x.example/b.png\"}]";
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "get");
    expect_member(r, "attributes", attrs);
    expect_member(r, "images", images);
    http_res_free(r);
    r = call("GET", PRODUCTS "?q=AI-1&limit=100", NULL, NULL);
    expect_status(r, 200, "list");
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 1);
    char *a = json_dumps(json_object_get(json_array_get(items, 0), "attributes"), JSON_COMPACT);
    char *i = json_dumps(json_object_get(json_array_get(items, 0), "images"), JSON_COMPACT);
    assert_string_equal(a, attrs);
    assert_string_equal(i, images);
    free(a);
    free(i);
    http_res_free(r);
    free(path);
}

static void test_defaults_are_empty(void **state) {
    (void)state;
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, product_body("AI-2", "{}"));
    expect_status(r, 201, "create");
    expect_member(r, "attributes", "{}");
    expect_member(r, "images", "[]");
    http_res_free(r);
}

static void test_every_rule_names_its_field(void **state) {
    (void)state;
    long long id = create("AI-3", "{\"attributes\": {\"keep\": 1}}");
    char *path = path_of(id);
    char *long_text = repeat("\xc3\xa9", 201), *long_key = repeat("k", 41);
    char *long_url = repeat("a", 2049 - strlen("https://a.example/"));
    char *long_alt = repeat("a", 201);
    struct buf many = {0}, body = {0};
    struct {
        const char *extra;
        const char *field;
    } cases[] = {
        {"{\"attributes\": []}", "attributes"},
        {"{\"attributes\": null}", "attributes"},
        {"{\"attributes\": \"x\"}", "attributes"},
        {"{\"attributes\": {\"Weight\": 1}}", "attributes.Weight"},
        {"{\"attributes\": {\"9lives\": 1}}", "attributes.9lives"},
        {"{\"attributes\": {\"a-b\": 1}}", "attributes.a-b"},
        {"{\"attributes\": {\"weight_g\": null}}", "attributes.weight_g"},
        {"{\"attributes\": {\"weight_g\": [1]}}", "attributes.weight_g"},
        {"{\"attributes\": {\"weight_g\": {\"v\": 1}}}", "attributes.weight_g"},
        {"{\"attributes\": {\"brand\": \"\"}}", "attributes.brand"},
        {"{\"images\": {}}", "images"},
        {"{\"images\": null}", "images"},
        {"{\"images\": [\"https://a.example/x\"]}", "images[0]"},
        {"{\"images\": [{\"alt\": \"no url\"}]}", "images[0].url"},
        {"{\"images\": [{\"url\": \"https://a.example/1\"}, {\"url\": \"ftp://a.example/x\"}]}",
         "images[1].url"},
        {"{\"images\": [{\"url\": \"/relative.jpg\"}]}", "images[0].url"},
        {"{\"images\": [{\"url\": \"https://a.example/a b\"}]}", "images[0].url"},
        {"{\"images\": [{\"url\": \"https:///x\"}]}", "images[0].url"},
        {"{\"images\": [{\"url\": 7}]}", "images[0].url"},
        {"{\"images\": [{\"url\": \"https://a.example/x\", \"alt\": 1}]}", "images[0].alt"},
        {"{\"images\": [{\"url\": \"https://a.example/x\", \"width\": 100}]}", "images[0].width"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_422(id, cases[i].extra, cases[i].field);
    /* lengths and counts, at the limit and one past it */
    buf_printf(&body, "{\"attributes\": {\"brand\": \"%s\"}}", long_text);
    expect_422(id, body.data, "attributes.brand");
    buf_clear(&body);
    buf_printf(&body, "{\"attributes\": {\"%s\": 1}}", long_key);
    char field[64];
    snprintf(field, sizeof field, "attributes.%s", long_key);
    expect_422(id, body.data, field);
    buf_clear(&body);
    buf_printf(&body, "{\"images\": [{\"url\": \"https://a.example/%s\"}]}", long_url);
    expect_422(id, body.data, "images[0].url");
    buf_clear(&body);
    buf_printf(&body, "{\"images\": [{\"url\": \"https://a.example/\", \"alt\": \"%s\"}]}",
               long_alt);
    expect_422(id, body.data, "images[0].alt");
    buf_clear(&body);
    buf_puts(&many, "{\"attributes\": {");
    for (int i = 0; i < 51; i++)
        buf_printf(&many, "%s\"k%d\": %d", i ? ", " : "", i, i);
    buf_puts(&many, "}}");
    expect_422(id, many.data, "attributes");
    buf_clear(&many);
    buf_puts(&many, "{\"images\": [");
    for (int i = 0; i < 21; i++)
        buf_printf(&many, "%s{\"url\": \"https://a.example/%d\"}", i ? ", " : "", i);
    buf_puts(&many, "]}");
    expect_422(id, many.data, "images");
    buf_clear(&many);
    /* the failed writes changed nothing */
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_member(r, "attributes", "{\"keep\":1}");
    http_res_free(r);
    free(long_text);
    free(long_key);
    free(long_url);
    free(long_alt);
    free(path);
}

/* A number is one whatever its digits, however many there are and
 * however deep: integers past 64 bits are read as doubles (an array of
 * them is no attribute value), a real past a double is its field's 422,
 * and a key spelt with escapes is named as it reads. */
static void test_numbers_past_range_are_named_however_many_and_deep(void **state) {
    (void)state;
    long long id = create("AI-RANGE", "{\"attributes\": {\"keep\": 1}}");
    char *path = path_of(id);
    struct buf value = {0}, field = {0};
    for (int i = 0; i < 65; i++)
        buf_printf(&value, "%s99999999999999999999", i ? "," : "");
    expect_422_as_written(id, "a", "[", value.data, "]", "attributes.a");
    /* 1e400 inside 70 arrays: the field's path cut at 127 bytes */
    char *open = repeat("[", 70), *close = repeat("]", 70), *items = repeat("[0]", 70);
    buf_printf(&field, "attributes.a%s", items);
    field.data[127] = '\0';
    expect_422_as_written(id, "a", open, "1e400", close, field.data);
    expect_422_as_written(id, "w\\u0065ight", "", "1e400", "", "attributes.weight");
    /* a key longer than a path keeps is cut between characters: "a" and
     * 40 é are 81 bytes, and 64 would end inside the 32nd é */
    char *e40 = repeat("\xc3\xa9", 40), *e31 = repeat("\xc3\xa9", 31);
    char long_key[128], cut_key[128];
    snprintf(long_key, sizeof long_key, "a%s", e40);
    snprintf(cut_key, sizeof cut_key, "attributes.a%s", e31);
    expect_422_as_written(id, long_key, "", "1e400", "", cut_key);
    free(e40);
    free(e31);
    expect_problem(call("POST", PRODUCTS, staff_token,
                        "{\"sku\": \"AI-RANGE-2\", \"name\": \"x\", \"price\": \"1\","
                        " \"st\\u006fck\": 1e400}"),
                   422, "stock");
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_member(r, "attributes", "{\"keep\":1}");
    http_res_free(r);
    buf_clear(&value);
    buf_clear(&field);
    free(open);
    free(close);
    free(items);
    free(path);
}

/* A 422 whose one error is a key holding a NUL, named as written. */
static void expect_nul_key_alone(struct http_res *r) {
    assert_problem(r, 422, "a\\u0000");
    json_t *errors = json_object_get(r->json, "errors");
    if (json_array_size(errors) != 1)
        fprintf(stderr, "%s\n", r->body);
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(jstr(json_array_get(errors, 0), "message"),
                        "must not contain a NUL character");
    http_res_free(r);
}

/* A key holding a NUL is its field's one error, on a create and a PATCH
 * alike: beside a key holding \u0001 (no duplicate of it), and with what
 * its value holds, however deep, not named again. */
static void test_a_key_holding_a_nul_is_its_fields_one_error(void **state) {
    (void)state;
    long long id = create("AI-NUL-KEY", "{}");
    char *path = path_of(id);
    static const char *const BODIES[] = {
        "{\"a\\u0000\": 1, \"a\\u0001\": 2}",
        "{\"a\\u0001\": 2, \"a\\u0000\": 1}",
        "{\"a\\u0000\": {\"b\": \"\\u0000\", \"c\": 1e400}}",
        "{\"a\\u0000\": [1e400]}",
    };
    for (size_t i = 0; i < sizeof BODIES / sizeof *BODIES; i++) {
        expect_nul_key_alone(call("POST", PRODUCTS, staff_token, BODIES[i]));
        expect_nul_key_alone(call("PATCH", path, staff_token, BODIES[i]));
    }
    free(path);
}

/* At the limits: 50 keys, 20 images, 200 characters (400 bytes) of
 * text, a 2,048-character URL: accepted. */
static void test_limits_are_accepted(void **state) {
    (void)state;
    struct buf b = {0};
    char *text = repeat("\xc3\xa9", 200), *url = repeat("a", 2048 - strlen("https://a.example/"));
    buf_puts(&b, "{\"attributes\": {");
    for (int i = 0; i < 49; i++)
        buf_printf(&b, "\"k%d\": %d, ", i, i);
    buf_printf(&b, "\"text\": \"%s\"}, \"images\": [", text);
    for (int i = 0; i < 19; i++)
        buf_printf(&b, "{\"url\": \"https://a.example/%d\"}, ", i);
    buf_printf(&b, "{\"url\": \"https://a.example/%s\", \"alt\": \"%s\"}]}", url, text);
    struct http_res *r = call_owned("POST", PRODUCTS, staff_token, product_body("AI-4", b.data));
    expect_status(r, 201, "limits");
    assert_int_equal(json_object_size(json_object_get(r->json, "attributes")), 50);
    assert_int_equal(json_array_size(json_object_get(r->json, "images")), 20);
    http_res_free(r);
    buf_clear(&b);
    free(text);
    free(url);
}

static void test_patch_replaces_and_put_resets(void **state) {
    (void)state;
    long long id = create("AI-5", "{\"attributes\": {\"a\": 1, \"b\": \"x\"},"
                                  " \"images\": [{\"url\": \"https://a.example/1\"}]}");
    char *path = path_of(id);
    struct http_res *r = call("PATCH", path, staff_token, "{\"attributes\": {\"c\": false}}");
    expect_status(r, 200, "patch attributes");
    expect_member(r, "attributes", "{\"c\":false}");
    expect_member(r, "images", "[{\"alt\":\"\",\"url\":\"https://a.example/1\"}]");
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"images\": [{\"url\": \"https://a.example/2\"}]}");
    expect_status(r, 200, "patch images");
    expect_member(r, "images", "[{\"alt\":\"\",\"url\":\"https://a.example/2\"}]");
    expect_member(r, "attributes", "{\"c\":false}");
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"name\": \"Renamed\"}");
    expect_status(r, 200, "patch name");
    expect_member(r, "attributes", "{\"c\":false}");
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"attributes\": {}, \"images\": []}");
    expect_status(r, 200, "patch to empty");
    expect_member(r, "attributes", "{}");
    expect_member(r, "images", "[]");
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"attributes\": {\"d\": 2}}");
    http_res_free(r);
    /* PUT without them: the defaults, like every other optional field */
    r = call_owned("PUT", path, staff_token, product_body("AI-5", "{}"));
    expect_status(r, 200, "put");
    expect_member(r, "attributes", "{}");
    expect_member(r, "images", "[]");
    http_res_free(r);
    r = call_owned("PUT", path, staff_token,
                   product_body("AI-5", "{\"attributes\": {\"e\": \"y\"}, \"images\":"
                                        " [{\"url\": \"https://a.example/3\", \"alt\": \"3\"}]}"));
    expect_status(r, 200, "put with");
    expect_member(r, "attributes", "{\"e\":\"y\"}");
    expect_member(r, "images", "[{\"alt\":\"3\",\"url\":\"https://a.example/3\"}]");
    http_res_free(r);
    free(path);
}

/* A change of images changes the ETag and updated_at; the old tag no
 * longer matches, and a cached read shows the change at once. */
static void test_images_change_etag_and_cached_reads(void **state) {
    (void)state;
    long long id = create("AI-6", "{\"images\": [{\"url\": \"https://a.example/1\"}]}");
    char *path = path_of(id);
    struct http_res *r = call("GET", path, NULL, NULL);
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "cached get");
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    char *etag = take(http_header(r, "ETag")), *updated = take(jstr(r->json, "updated_at"));
    http_res_free(r);
    r = call("PATCH", path, staff_token, "{\"images\": [{\"url\": \"https://a.example/2\"}]}");
    expect_status(r, 200, "patch images");
    assert_string_not_equal(http_header(r, "ETag"), etag);
    assert_string_not_equal(jstr(r->json, "updated_at"), updated);
    char *patched = take(http_header(r, "ETag"));
    http_res_free(r);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    r = call_h("GET", path, NULL, NULL, inm);
    expect_status(r, 200, "old tag does not match");
    expect_member(r, "images", "[{\"alt\":\"\",\"url\":\"https://a.example/2\"}]");
    assert_string_equal(http_header(r, "ETag"), patched);
    http_res_free(r);
    /* an If-Match with the old tag is stale */
    snprintf(inm, sizeof inm, "If-Match: %s", etag);
    expect_problem(call_h("PATCH", path, staff_token, "{\"attributes\": {\"a\": 1}}", inm), 412,
                   NULL);
    /* attributes too */
    r = call("PATCH", path, staff_token, "{\"attributes\": {\"a\": 1}}");
    expect_status(r, 200, "patch attributes");
    assert_string_not_equal(http_header(r, "ETag"), patched);
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_member(r, "attributes", "{\"a\":1}");
    http_res_free(r);
    free(etag);
    free(updated);
    free(patched);
    free(path);
}

static void test_customers_cannot_write_them(void **state) {
    (void)state;
    long long id = create("AI-7", "{}");
    char *path = path_of(id);
    expect_problem(call("PATCH", path, customer_token, "{\"attributes\": {\"a\": 1}}"), 403, NULL);
    free(path);
}

/* ---- fields= ------------------------------------------------------------ */

/* The member names of obj, comma-joined in order. Owned. */
static char *keys_of(json_t *obj) {
    struct buf b = {0};
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        buf_printf(&b, "%s%s", b.len ? "," : "", key);
    }
    buf_puts(&b, "");
    return buf_take(&b, NULL);
}

static void expect_keys(json_t *obj, const char *want) {
    char *got = keys_of(obj);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "keys %s, want %s\n", got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_fields_on_a_product(void **state) {
    (void)state;
    long long id = create("AF-1", "{\"attributes\": {\"color\": \"red\"}}");
    char path[128];
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    struct http_res *full = call("GET", path, NULL, NULL);
    expect_status(full, 200, "full");
    snprintf(path, sizeof path, PRODUCTS "/%lld?fields=price,name,attributes", id);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "partial");
    /* id always, and the order of the full representation */
    expect_keys(r->json, "id,name,price,attributes");
    assert_string_equal(jstr(r->json, "name"), "AF-1");
    expect_member(r, "attributes", "{\"color\":\"red\"}");
    /* a partial representation has a tag of its own */
    const char *tag = http_header(r, "ETag");
    assert_non_null(tag);
    assert_string_not_equal(tag, http_header(full, "ETag"));
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", tag);
    struct http_res *again = call_h("GET", path, NULL, NULL, inm);
    expect_status(again, 304, "partial tag, same fields");
    http_res_free(again);
    snprintf(path, sizeof path, PRODUCTS "/%lld", id);
    again = call_h("GET", path, NULL, NULL, inm);
    expect_status(again, 200, "partial tag, full representation");
    http_res_free(again);
    snprintf(inm, sizeof inm, "If-Match: %s", tag);
    expect_problem(call_h("PATCH", path, staff_token, "{\"stock\": 3}", inm), 412, NULL);
    snprintf(path, sizeof path, PRODUCTS "/%lld?fields=id", id);
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_keys(r->json, "id");
    http_res_free(r);
    http_res_free(full);
}

static void test_fields_on_product_lists(void **state) {
    (void)state;
    create("AF-2", "{}");
    create("AF-3", "{}");
    struct http_res *r =
        call("GET", PRODUCTS "?q=AF-&limit=1&include_total=true&sort=name&fields=sku", NULL, NULL);
    expect_status(r, 200, "list");
    expect_keys(r->json, "items,next_cursor,total");
    json_t *items = json_object_get(r->json, "items");
    assert_int_equal(json_array_size(items), 1);
    expect_keys(json_array_get(items, 0), "id,sku");
    assert_true(jint(r->json, "total") >= 2);
    /* the next page, with the same fields, keeps choosing them */
    char path[512];
    snprintf(path, sizeof path, PRODUCTS "?q=AF-&limit=1&sort=name&fields=sku&cursor=%s",
             jstr(r->json, "next_cursor"));
    http_res_free(r);
    r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "page 2");
    expect_keys(json_array_get(json_object_get(r->json, "items"), 0), "id,sku");
    http_res_free(r);
    r = call("GET", PRODUCTS "?fields=images,in_stock&in_stock=true&min_price=1", NULL, NULL);
    expect_status(r, 200, "filtered list");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r->json, "items"), i, item) {
        expect_keys(item, "id,in_stock,images");
    }
    assert_true(json_array_size(json_object_get(r->json, "items")) > 0);
    http_res_free(r);
}

static void test_fields_on_categories(void **state) {
    (void)state;
    struct http_res *r = call("POST", CATEGORIES, staff_token,
                              "{\"name\": \"Fields Cat\", \"slug\": \"fields-cat\"}");
    expect_status(r, 201, "category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    r = call("GET", CATEGORIES "/fields-cat?fields=slug,parent_id", NULL, NULL);
    expect_status(r, 200, "category item");
    expect_keys(r->json, "id,slug,parent_id");
    assert_int_equal(jint(r->json, "id"), id);
    http_res_free(r);
    r = call("GET", CATEGORIES "?fields=name&include_total=true", NULL, NULL);
    expect_status(r, 200, "category list");
    expect_keys(r->json, "items,next_cursor,total");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r->json, "items"), i, item) {
        expect_keys(item, "id,name");
    }
    http_res_free(r);
}

static void test_bad_fields_are_400(void **state) {
    (void)state;
    long long id = create("AF-4", "{}");
    char item[64];
    snprintf(item, sizeof item, PRODUCTS "/%lld", id);
    char *long_list = repeat("name,", 300);
    const char *bases[] = {item, PRODUCTS, CATEGORIES "/fields-cat", CATEGORIES};
    const char *values[] = {"nope", "",        "id,",     ",id",           "id,,name", "name,name",
                            "ID",   "name%20", "n%C3%A9", "category.name", long_list};
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            struct buf path = {0};
            buf_printf(&path, "%s?fields=%s", bases[b], values[v]);
            struct http_res *r = call("GET", path.data, NULL, NULL);
            if (r->status != 400)
                fprintf(stderr, "%s: %ld\n", path.data, r->status);
            assert_problem(r, 400, NULL);
            if (!strstr(jstr(r->json, "detail"), "fields"))
                fprintf(stderr, "%s: %s\n", path.data, r->body);
            assert_non_null(strstr(jstr(r->json, "detail"), "fields"));
            http_res_free(r);
            buf_clear(&path);
        }
    /* names of the other resource are unknown here */
    expect_problem(call("GET", CATEGORIES "?fields=price", NULL, NULL), 400, NULL);
    expect_problem(call("GET", PRODUCTS "?fields=parent_id", NULL, NULL), 400, NULL);
    /* a name that is shown, and a list with another separator, told so */
    struct http_res *r = call("GET", PRODUCTS "?fields=nope", NULL, NULL);
    assert_string_equal(jstr(r->json, "detail"), "fields: unknown field 'nope'");
    http_res_free(r);
    r = call("GET", PRODUCTS "?fields=name;price", NULL, NULL);
    assert_non_null(strstr(jstr(r->json, "detail"), "separated by commas"));
    http_res_free(r);
    free(long_list);
}

/* The cache keys on fields=: a choice of fields and none are two
 * entries with two bodies, and the names' order makes no new one. */
static void test_cache_keys_on_fields(void **state) {
    (void)state;
    long long id = create("AF-5", "{}");
    char full_path[64], id_path[96], two_path[128], owt_path[128];
    snprintf(full_path, sizeof full_path, PRODUCTS "/%lld", id);
    snprintf(id_path, sizeof id_path, PRODUCTS "/%lld?fields=id", id);
    snprintf(two_path, sizeof two_path, PRODUCTS "/%lld?fields=sku,name", id);
    snprintf(owt_path, sizeof owt_path, PRODUCTS "/%lld?fields=name,sku", id);
    const char *paths[] = {full_path,
                           id_path,
                           PRODUCTS "?fields=id&limit=3",
                           PRODUCTS "?limit=3",
                           CATEGORIES "?fields=id",
                           CATEGORIES};
    char *bodies[6];
    for (size_t i = 0; i < 6; i++) {
        struct http_res *r = call("GET", paths[i], NULL, NULL);
        expect_status(r, 200, paths[i]);
        http_res_free(r);
        r = call("GET", paths[i], NULL, NULL);
        expect_status(r, 200, paths[i]);
        assert_string_equal(http_header(r, "X-Cache"), "HIT");
        bodies[i] = take(r->body);
        http_res_free(r);
    }
    for (size_t i = 0; i < 6; i += 2)
        assert_string_not_equal(bodies[i], bodies[i + 1]);
    struct http_res *r = call("GET", id_path, NULL, NULL);
    expect_keys(r->json, "id");
    http_res_free(r);
    r = call("GET", two_path, NULL, NULL);
    http_res_free(r);
    r = call("GET", owt_path, NULL, NULL);
    expect_status(r, 200, "other order");
    assert_string_equal(http_header(r, "X-Cache"), "HIT");
    expect_keys(r->json, "id,sku,name");
    http_res_free(r);
    /* a write shows in a cached partial read at once */
    r = call("PATCH", full_path, staff_token, "{\"name\": \"AF-5 renamed\"}");
    expect_status(r, 200, "rename");
    http_res_free(r);
    r = call("GET", owt_path, NULL, NULL);
    assert_string_equal(jstr(r->json, "name"), "AF-5 renamed");
    http_res_free(r);
    for (size_t i = 0; i < 6; i++)
        free(bodies[i]);
}

/* ---- seed --------------------------------------------------------------- */

static void expect_sql_value(const struct nexus_server *s, const char *sql, const char *want) {
    char *got = harness_sql_value(s, "%s", sql);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s: got %s, want %s\n", sql, got, want);
    assert_string_equal(got, want);
    free(got);
}

/* The demo catalog: 3 to 8 attributes of all three kinds, 1 to 4 https
 * images, every one of them a value the API itself accepts. */
static void test_seed_gives_valid_attributes_and_images(void **state) {
    (void)state;
    struct nexus_server seeded;
    char out[4096], *staff, *customer;
    harness_start(&seeded, "attributes_seed", NULL);
    const char *args[] = {"seed", "--products", "300", "--categories", "52", NULL};
    assert_int_equal(harness_run(&seeded, NULL, args, NULL, out, sizeof out), 0);
    expect_sql_value(&seeded,
                     "SELECT count(*) FROM products WHERE (SELECT count(*) FROM"
                     " jsonb_object_keys(attributes)) NOT BETWEEN 3 AND 8"
                     " OR jsonb_array_length(images) NOT BETWEEN 1 AND 4",
                     "0");
    expect_sql_value(&seeded,
                     "SELECT count(*) FROM products, jsonb_array_elements(images) i"
                     " WHERE i->>'url' NOT LIKE 'https://%' OR i->>'alt' = ''",
                     "0");
    expect_sql_value(&seeded,
                     "SELECT string_agg(DISTINCT jsonb_typeof(v), ',') FROM products,"
                     " jsonb_each(attributes) a(k, v)",
                     "boolean,number,string");
    harness_staff_and_customer(&seeded, "seeded", &staff, &customer);
    harness_use(&seeded);
    char *ids = harness_sql_value(&seeded, "SELECT string_agg(id::text, ',') FROM (SELECT id FROM"
                                           " products ORDER BY id LIMIT 25) x");
    long long list[25];
    size_t n = parse_ids(ids, list, 25);
    assert_int_equal(n, 25);
    for (size_t i = 0; i < n; i++) {
        char *path = path_of(list[i]);
        struct http_res *r = call("GET", path, staff, NULL);
        expect_status(r, 200, "seeded product");
        json_t *b = json_pack("{s:O, s:O}", "attributes", json_object_get(r->json, "attributes"),
                              "images", json_object_get(r->json, "images"));
        char *before = dump(json_pack("[O, O]", json_object_get(r->json, "attributes"),
                                      json_object_get(r->json, "images")));
        http_res_free(r);
        r = call_owned("PATCH", path, staff, dump(b));
        expect_status(r, 200, "seeded values written back");
        char *after = dump(json_pack("[O, O]", json_object_get(r->json, "attributes"),
                                     json_object_get(r->json, "images")));
        assert_string_equal(after, before);
        http_res_free(r);
        free(before);
        free(after);
        free(path);
    }
    harness_use(&server);
    free(staff);
    free(customer);
    harness_stop(&seeded);
}

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants). */
static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_read_back),
        cmocka_unit_test(test_defaults_are_empty),
        cmocka_unit_test(test_every_rule_names_its_field),
        cmocka_unit_test(test_numbers_past_range_are_named_however_many_and_deep),
        cmocka_unit_test(test_a_key_holding_a_nul_is_its_fields_one_error),
        cmocka_unit_test(test_limits_are_accepted),
        cmocka_unit_test(test_patch_replaces_and_put_resets),
        cmocka_unit_test(test_images_change_etag_and_cached_reads),
        cmocka_unit_test(test_customers_cannot_write_them),
        cmocka_unit_test(test_fields_on_a_product),
        cmocka_unit_test(test_fields_on_product_lists),
        cmocka_unit_test(test_fields_on_categories),
        cmocka_unit_test(test_bad_fields_are_400),
        cmocka_unit_test(test_cache_keys_on_fields),
        cmocka_unit_test(test_seed_gives_valid_attributes_and_images),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
    };
    return harness_run_group("attributes", tests, sizeof tests / sizeof tests[0], start, stop);
}
