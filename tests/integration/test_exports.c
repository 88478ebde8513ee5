/*
 * test_exports.c -- GET /api/v1/exports/products end to end: both formats
 * (RFC 4180 quoting, unicode, inactive and deleted products, variants,
 * several batches), the product list's filters and their 400s, access, the round
 * trip (export, import into an empty catalog with the same categories,
 * export again: the same bytes), and a database failure in the middle of
 * a stream, which must break the transfer rather than end it cleanly.
 */
#include "harness.h"

#include "nexus/core/xmem.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define EXPORTS     "/api/v1/exports/products"
#define CSV_COLUMNS "sku,name,slug,description,price,currency,stock,category,is_active"
/* ...and one attr.<key> column per key a product in the export has */
#define CSV_HEADER       CSV_COLUMNS ",attr.brand,attr.weight_g,attr.wired\r\n"
#define CSV_HEADER_EMPTY CSV_COLUMNS "\r\n"
/* Products seeded by SQL besides the varied ones: several batches. */
#define BULK 1200
/* The varied products that are live (one more is deleted). */
#define VARIED 10
/* The NDJSON line of the product with several variants. */
#define VARIANTS_LINE                                                                              \
    "{\"name\":\"Var Tee\",\"slug\":\"var-tee\",\"description\":\"\",\"currency\":\"USD\","        \
    "\"category\":null,\"is_active\":true,\"attributes\":{},\"images\":[],\"variants\":["          \
    "{\"sku\":\"VAR-M\",\"price\":\"12.00\",\"stock\":0,\"options\":{\"Size\":\"M\",\"Color\":"    \
    "\"Caf\xc3\xa9 \\\"Noir\\\"\"},\"is_active\":false},{\"sku\":\"VAR-S\",\"price\":\"10.50\","   \
    "\"stock\":4,\"options\":{\"Size\":\"S\",\"Color\":\"Red\"},\"is_active\":true}]}\n"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;

/* ---- helpers -------------------------------------------------------------- */

static struct http_res *export_as(const char *token, const char *query) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s", EXPORTS, query);
    return call("GET", path, token, NULL);
}

/* The export's body as token (owned; *len its length), asserting a 200
 * of the format's type. */
static char *export_body_as(const char *token, const char *query, size_t *len) {
    struct http_res *r = export_as(token, query);
    expect_status(r, 200, "export");
    bool csv = strstr(query, "format=csv") != NULL;
    assert_string_equal(http_header(r, "Content-Type"),
                        csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
    assert_non_null(strstr(http_header(r, "Content-Disposition"), "attachment"));
    assert_string_equal(http_header(r, "Transfer-Encoding"), "chunked");
    char *body = xstrndup(r->body ? r->body : "", r->len);
    *len = r->len;
    http_res_free(r);
    return body;
}

static char *export_body(const char *query, size_t *len) {
    return export_body_as(staff_token, query, len);
}

/* A staff login on s (owned): servers of a single test need no customer. */
static char *staff_login(const struct nexus_server *s, const char *prefix) {
    char email[128];
    snprintf(email, sizeof email, "%s-staff@example.com", prefix);
    harness_create_user(s, email, "staff", "catalog-password");
    return harness_login(email, "catalog-password");
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static long long create_category(const char *token, const char *body) {
    struct http_res *r = call("POST", "/api/v1/categories", token, body);
    expect_status(r, 201, "category");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

struct categories {
    long long audio, lighting, kitchen, headphones;
};

/* The same categories (the same slugs) wherever they are made. */
static void create_categories(const char *token, struct categories *c) {
    char body[128];
    c->audio = create_category(token, "{\"name\":\"Audio\"}");
    c->lighting = create_category(token, "{\"name\":\"Lighting\"}");
    c->kitchen = create_category(token, "{\"name\":\"Kitchen & Bath\"}");
    snprintf(body, sizeof body, "{\"name\":\"Headphones\",\"parent_id\":%lld}", c->audio);
    c->headphones = create_category(token, body);
}

/* POST a product (a JSON text, consumed); returns its id. */
static long long create_product(char *json) {
    struct http_res *r = call_owned("POST", "/api/v1/products", staff_token, json);
    expect_status(r, 201, "product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

/* A catalog with every kind of text a format must carry, plus BULK plain
 * products (some inactive) for several batches. */
static void seed_catalog(void) {
    struct categories c;
    create_categories(staff_token, &c);
    create_product(json_body("{s:s,s:s,s:s,s:s,s:i,s:I}", "sku", "Q-1", "name", "Lamp, \"Big\" one",
                             "description", "two\r\nlines, \"quoted\"\nand a bare LF", "price",
                             "19.90", "stock", 5, "category_id", (json_int_t)c.audio));
    create_product(json_body("{s:s,s:s,s:s,s:s,s:s,s:i,s:I}", "sku", "U-1", "name",
                             "Caf\xc3\xa9 \xc3\x9cn\xc3\xaf"
                             "c\xc3\xb6"
                             "d\xc3\xa9 \xe2\x98\x95 "
                             "\xe6\x97\xa5\xe6\x9c\xac",
                             "description",
                             "emoji \xf0\x9f\x8e\xa7"
                             " and a tab\there",
                             "price", "0", "currency", "EUR", "stock", 0, "category_id",
                             (json_int_t)c.kitchen));
    create_product(json_body("{s:s,s:s,s:s,s:s,s:i,s:I,s:b}", "sku", "INACTIVE-1", "name",
                             "Hidden Lamp", "description", "  padded  ", "price", "7.05", "stock",
                             3, "category_id", (json_int_t)c.lighting, "is_active", 0));
    create_product(json_body("{s:s,s:s,s:s,s:i,s:n}", "sku", "NOCAT-1", "name", "No Category",
                             "price", "99999999.99", "stock", 2147483647, "category_id"));
    create_product(json_body("{s:s,s:s,s:s,s:s,s:i}", "sku", "SLASH-1", "name", "Comma,Only",
                             "description", "C:\\path\\ and \"\\\\\"", "price", "1.5", "stock", 1));
    create_product(json_body("{s:s,s:s,s:s,s:s,s:s,s:i}", "sku", "LEAD-Q", "name", "x\"y", "slug",
                             "lead-quote-custom", "description", "\"starts with a quote", "price",
                             "2", "stock", 2));
    create_product(json_body("{s:s,s:s,s:s,s:i,s:I,s:{s:s,s:i,s:b},s:[{s:s,s:s},{s:s}]}", "sku",
                             "HP-1", "name", "Wired Headphones", "price", "49", "stock", 9,
                             "category_id", (json_int_t)c.headphones, "attributes", "brand",
                             "Acme \"Pro\"", "weight_g", 250, "wired", 1, "images", "url",
                             "https://img.example.com/hp-1/front.jpg", "alt", "Front, left", "url",
                             "https://img.example.com/hp-1/side.jpg"));
    /* strings an attr.<key> cell would read as a number or a boolean */
    create_product(json_body("{s:s,s:s,s:s,s:s,s:i,s:{s:s,s:s,s:s}}", "sku", "CR-1", "name",
                             "Carriage", "description", "ends with CR\r", "price", "3", "stock", 1,
                             "attributes", "brand", "1.50", "weight_g", "-1", "wired", "true"));
    /* Several variants, the first inactive (positions given out of
     * order); and one variant with options. */
    long long tee = create_product(
        json_body("{s:s,s:[{s:s,s:s,s:i,s:{s:s,s:s}},{s:s,s:s,s:i,s:{s:s,s:s},s:b}]}", "name",
                  "Var Tee", "variants", "sku", "VAR-S", "price", "10.5", "stock", 4, "options",
                  "Size", "S", "Color", "Red", "sku", "VAR-M", "price", "12", "stock", 0, "options",
                  "Size", "M", "Color", "Caf\xc3\xa9 \"Noir\"", "is_active", 0));
    char vpath[96];
    snprintf(vpath, sizeof vpath, "/api/v1/products/%lld/variants", tee);
    struct http_res *vr = call("GET", vpath, staff_token, NULL);
    expect_status(vr, 200, "variants");
    assert_string_equal(jstr(json_array_get(json_object_get(vr->json, "items"), 0), "sku"),
                        "VAR-S");
    snprintf(vpath + strlen(vpath), sizeof vpath - strlen(vpath), "/%lld",
             jint(json_array_get(json_object_get(vr->json, "items"), 0), "id"));
    http_res_free(vr);
    vr = call("PATCH", vpath, staff_token, "{\"position\":5}");
    expect_status(vr, 200, "variant position");
    http_res_free(vr);
    create_product(json_body("{s:s,s:[{s:s,s:s,s:i,s:{s:s}}]}", "name", "One Option", "variants",
                             "sku", "OPT-1", "price", "3", "stock", 2, "options", "Size", "XL"));
    char path[64];
    snprintf(path, sizeof path, "/api/v1/products/%lld",
             create_product(json_body("{s:s,s:s,s:s,s:i}", "sku", "DEL-1", "name", "Deleted",
                                      "price", "1", "stock", 1)));
    struct http_res *r = call("DELETE", path, staff_token, NULL);
    expect_status(r, 204, "delete");
    http_res_free(r);
    char *done = harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO products (sku, name, slug, description, price_cents, currency,"
        " stock, category_id, is_active) SELECT 'BULK-' || g, 'Bulk ' || g, 'bulk-' || g,"
        " 'Bulk item, number ' || g, g * 7, 'USD', g %% 5, %lld, g %% 3 <> 0"
        " FROM generate_series(1, %d) g RETURNING 1) SELECT count(*) FROM i",
        c.lighting, BULK);
    free(done);
}

/* ---- the formats ---------------------------------------------------------- */

static void test_ndjson_lines_are_import_rows(void **state) {
    (void)state;
    size_t len;
    char *body = export_body("?format=ndjson", &len);
    assert_int_equal(count_lines(body), VARIED + BULK);
    assert_true(len > 0 && body[len - 1] == '\n');
    /* The first line is the first product, every field as an import row. */
    char *nl = strchr(body, '\n');
    assert_non_null(nl);
    const char *want =
        "{\"sku\":\"Q-1\",\"name\":\"Lamp, \\\"Big\\\" one\",\"slug\":\"lamp-big-one\","
        "\"description\":\"two\\r\\nlines, \\\"quoted\\\"\\nand a bare LF\",\"price\":\"19.90\","
        "\"currency\":\"USD\",\"stock\":5,\"category\":\"audio\",\"is_active\":true,"
        "\"attributes\":{},\"images\":[]}\n";
    assert_int_equal(nl - body + 1, strlen(want));
    assert_memory_equal(body, want, strlen(want));
    /* Every line parses; inactive ones are there, the deleted one not. */
    size_t inactive = 0;
    bool nocat = false;
    for (char *p = body; *p; p = strchr(p, '\n') + 1) {
        json_error_t err;
        json_t *o = json_loadb(p, strcspn(p, "\n"), JSON_REJECT_DUPLICATES, &err);
        assert_non_null(o);
        /* a product with variants has them instead of sku, price and stock */
        assert_int_equal(json_object_size(o), json_object_get(o, "variants") ? 9 : 11);
        inactive += json_is_false(json_object_get(o, "is_active"));
        const char *sku = json_string_value(json_object_get(o, "sku"));
        assert_true(sku || json_object_get(o, "variants"));
        if (sku && strcmp(sku, "DEL-1") == 0)
            fail_msg("the deleted product was exported");
        if (sku && strcmp(sku, "NOCAT-1") == 0) {
            nocat = true;
            assert_true(json_is_null(json_object_get(o, "category")));
            assert_string_equal(jstr(o, "price"), "99999999.99");
            assert_int_equal(jint(o, "stock"), 2147483647);
        }
        json_decref(o);
    }
    assert_true(nocat);
    assert_int_equal(inactive, 1 + BULK / 3);
    assert_non_null(strstr(body, "\n" VARIANTS_LINE));
    assert_non_null(strstr(body, "\n{\"name\":\"One Option\",\"slug\":\"one-option\","
                                 "\"description\":\"\",\"currency\":\"USD\",\"category\":null,"
                                 "\"is_active\":true,\"attributes\":{},\"images\":[],\"variants\":"
                                 "[{\"sku\":\"OPT-1\",\"price\":\"3.00\",\"stock\":2,\"options\":"
                                 "{\"Size\":\"XL\"},\"is_active\":true}]}\n"));
    /* attributes and images written compact, as every answer is */
    assert_non_null(strstr(body,
                           ",\"attributes\":{\"brand\":\"Acme \\\"Pro\\\"\",\"wired\":true,"
                           "\"weight_g\":250},\"images\":[{\"alt\":\"Front, left\",\"url\":"
                           "\"https://img.example.com/hp-1/front.jpg\"},{\"alt\":\"\",\"url\":"
                           "\"https://img.example.com/hp-1/side.jpg\"}]}\n"));
    free(body);
}

static void test_csv_quotes_per_rfc_4180(void **state) {
    (void)state;
    size_t len;
    char *body = export_body("?format=csv", &len);
    const char *first = CSV_HEADER
        "Q-1,\"Lamp, \"\"Big\"\" one\",lamp-big-one,\"two\r\nlines, \"\"quoted\"\"\nand a bare "
        "LF\",19.90,USD,5,audio,true,,,\r\n";
    assert_memory_equal(body, first, strlen(first));
    assert_non_null(strstr(body, "\r\nNOCAT-1,No Category,no-category,,99999999.99,USD,"
                                 "2147483647,,true,,,\r\n"));
    assert_non_null(strstr(body, "\r\nSLASH-1,\"Comma,Only\",comma-only,\"C:\\path\\ and "
                                 "\"\"\\\\\"\"\",1.50,USD,1,,true,,,\r\n"));
    assert_non_null(strstr(body, "\r\nINACTIVE-1,Hidden Lamp,hidden-lamp,  padded  ,7.05,USD,3,"
                                 "lighting,false,,,\r\n"));
    assert_non_null(strstr(body, "\r\nLEAD-Q,\"x\"\"y\",lead-quote-custom,\"\"\"starts with a "
                                 "quote\",2.00,USD,2,,true,,,\r\n"));
    assert_non_null(strstr(body, "\r\nCR-1,Carriage,carriage,\"ends with CR\r\",3.00,USD,1,,"
                                 "true,\"\"\"1.50\"\"\",\"\"\"-1\"\"\",\"\"\"true\"\"\"\r\n"));
    assert_null(strstr(body, "DEL-1"));
    /* attributes in their columns: a string, a number, a boolean */
    assert_non_null(strstr(body, "\r\nHP-1,Wired Headphones,wired-headphones,,49.00,USD,9,"
                                 "headphones,true,\"Acme \"\"Pro\"\"\",250,true\r\n"));
    /* CSV has no variants: sku, price and stock are the first variant's */
    assert_non_null(strstr(body, "\r\nVAR-M,Var Tee,var-tee,,12.00,USD,0,,true,,,\r\n"));
    /* header + one record per product: count the records' sku starts */
    size_t records = 0;
    for (const char *p = body; (p = strstr(p, "\r\n")); p += 2)
        records += p[2] != '\0' && strchr("QUINSLHCBVO", p[2]) != NULL && p[3] != ' ';
    assert_int_equal(records, VARIED + BULK);
    free(body);
}

/* ---- filters -------------------------------------------------------------- */

/* The export of query has lines lines, one of which holds text (unless
 * NULL). */
static void expect_export_lines(const char *query, size_t lines, const char *text) {
    size_t len;
    char *body = export_body(query, &len);
    assert_int_equal(count_lines(body), lines);
    if (text)
        assert_non_null(strstr(body, text));
    free(body);
}

static void test_filters_are_the_lists(void **state) {
    (void)state;
    size_t len;
    /* category includes descendants: audio has Q-1 and (via headphones) HP-1 */
    expect_export_lines("?format=ndjson&category=audio", 2, "\"sku\":\"HP-1\"");
    expect_export_lines("?format=csv&q=hidden%20lamp", 2, NULL);
    expect_export_lines("?format=ndjson&currency=eur&max_price=1", 1, "\"sku\":\"U-1\"");
    expect_export_lines("?format=ndjson&include_inactive=false&category=lighting", BULK - BULK / 3,
                        NULL);
    char *body = export_body("?format=ndjson&in_stock=false&min_price=1000", &len);
    char *want = harness_sql_value(&server, "SELECT count(*) FROM products WHERE deleted_at IS NULL"
                                            " AND stock = 0 AND price_cents >= 100000");
    assert_int_equal(count_lines(body), strtoll(want, NULL, 10));
    free(want);
    free(body);
    /* nothing matches: the header alone, or nothing */
    body = export_body("?format=csv&category=no-such-category", &len);
    assert_string_equal(body, CSV_HEADER_EMPTY);
    free(body);
    /* the attr.<key> columns are those of the products exported */
    body = export_body("?format=csv&category=headphones", &len);
    assert_memory_equal(body, CSV_HEADER, strlen(CSV_HEADER));
    free(body);
    body = export_body("?format=csv&category=kitchen-bath", &len);
    assert_memory_equal(body, CSV_HEADER_EMPTY, strlen(CSV_HEADER_EMPTY));
    free(body);
    /* a variant's SKU, the product's own or not; the export's inactive
     * products too; a deleted product's none */
    expect_export_lines("?format=ndjson&sku=VAR-M", 1, "\"name\":\"Var Tee\"");
    expect_export_lines("?format=ndjson&sku=INACTIVE-1", 1, "\"sku\":\"INACTIVE-1\"");
    body = export_body("?format=ndjson&sku=DEL-1", &len);
    assert_int_equal(len, 0);
    free(body);
    body = export_body("?q=zzzzqqqq", &len); /* ndjson by default */
    assert_int_equal(len, 0);
    free(body);
}

/* A HEAD answers the GET's headers and nothing after them: a stream's
 * last chunk written there would be read as the start of the next
 * response on the connection. */
static void test_head_sends_no_body(void **state) {
    (void)state;
    char raw[4096], out[16384];
    int n = snprintf(raw, sizeof raw,
                     "HEAD /api/v1/exports/products?format=csv HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     staff_token);
    assert_true(n > 0 && (size_t)n < sizeof raw);
    raw_exchange(raw, (size_t)n, out, sizeof out, 5000);
    assert_int_equal(strncmp(out, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(out, "Content-Type: text/csv"));
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    assert_string_equal(end + 4, "");
}

/* An export's access log line counts the bytes it streamed, like any
 * other answer's (it said 0). */
static void test_access_log_counts_the_streamed_bytes(void **state) {
    (void)state;
    char id[64], header[96], line[4096], want[64];
    /* the log may hold earlier runs' lines: an id of this run's own */
    snprintf(id, sizeof id, "export-bytes-%d-%lld", (int)getpid(), (long long)time(NULL));
    snprintf(header, sizeof header, "X-Request-Id: %s", id);
    struct http_res *r = call_h("GET", EXPORTS "?format=ndjson", staff_token, NULL, header);
    expect_status(r, 200, "export");
    snprintf(want, sizeof want, "\"bytes\":%zu,", r->len);
    assert_true(r->len > 1000);
    http_res_free(r);
    const char *got = harness_access_line(&server, id, line, sizeof line);
    if (!strstr(got, want))
        fail_msg("want %s in the access log line: %s", want, got);
}

static void test_bad_requests(void **state) {
    (void)state;
    expect_problem(export_as(staff_token, "?format=xml"), 400, NULL);
    expect_problem(export_as(staff_token, "?format="), 400, NULL); /* not a filter */
    expect_problem(export_as(staff_token, "?format=csv&min_price=abc"), 400, NULL);
    expect_problem(export_as(staff_token, "?category=bad!slug"), 400, NULL);
    expect_problem(export_as(staff_token, "?in_stock=maybe"), 400, NULL);
    expect_problem(export_as(staff_token, "?currency=EURO"), 400, NULL);
    expect_problem(export_as(staff_token, "?sku=VAR%20M"), 400, NULL);
    expect_problem(export_as(staff_token, "?include_inactive=2"), 400, NULL);
    expect_problem(export_as(staff_token, "?format=csv&format=ndjson"), 400, NULL);
    expect_problem(export_as(customer_token, "?format=csv"), 403, NULL);
    expect_problem(export_as(NULL, "?format=csv"), 401, NULL);
}

/* ---- the round trip ------------------------------------------------------- */

/* Upload body to the current server as token and wait for the import. */
static void import_and_wait(const char *token, const char *type, const char *body, size_t len) {
    char auth[4200], ct[64];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    snprintf(ct, sizeof ct, "Content-Type: %s", type);
    const char *h[] = {auth, ct, NULL};
    struct http_res *r = http_request("POST", "/api/v1/imports", h, body, len);
    expect_status(r, 202, "import");
    char location[64];
    snprintf(location, sizeof location, "%s", http_header(r, "Location"));
    http_res_free(r);
    for (int i = 0; i < 1200; i++) { /* two minutes for a slow machine */
        r = call("GET", location, token, NULL);
        expect_status(r, 200, "import");
        if (strcmp(jstr(r->json, "status"), "done") == 0) {
            assert_int_equal(jint(r->json, "created"), VARIED + BULK);
            assert_int_equal(jint(r->json, "failed"), 0);
            http_res_free(r);
            return;
        }
        assert_string_not_equal(jstr(r->json, "status"), "failed");
        http_res_free(r);
        usleep(100 * 1000);
    }
    fail_msg("the import did not finish within two minutes");
}

static void expect_same_bytes(const char *a, size_t a_len, const char *b, size_t b_len,
                              const char *what) {
    size_t i = 0;
    while (i < a_len && i < b_len && a[i] == b[i])
        i++;
    if (i != a_len || i != b_len)
        fprintf(stderr, "%s: the exports differ at byte %zu (lengths %zu and %zu): ...%.60s\n",
                what, i, a_len, b_len, a + (i > 20 ? i - 20 : 0));
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
}

/* Import the export of one format into an empty catalog with the same
 * categories; both of its exports equal the original's. */
static void round_trip(const char *format, const char *type) {
    char query[64], name[64];
    size_t len, ndjson_len, csv_len, again_len;
    snprintf(query, sizeof query, "?format=%s", format);
    char *original = export_body(query, &len);
    char *ndjson = export_body("?format=ndjson", &ndjson_len);
    char *csv = export_body("?format=csv", &csv_len);
    struct nexus_server copy, worker;
    char *copy_staff;
    struct categories c;
    snprintf(name, sizeof name, "exports-copy-%s", format);
    harness_start(&copy, name, NULL);
    copy_staff = staff_login(&copy, name);
    create_categories(copy_staff, &c);
    snprintf(name, sizeof name, "exports-copy-%s-worker", format);
    harness_start_worker(&copy, &worker, name, NULL);
    import_and_wait(copy_staff, type, original, len);
    /* CSV carries neither images nor variants, so only the NDJSON copy
     * keeps them; the CSV copy must keep everything else (attributes, and
     * each product's first variant as it was). */
    if (strcmp(format, "ndjson") == 0) {
        char *again_ndjson = export_body_as(copy_staff, "?format=ndjson", &again_len);
        expect_same_bytes(ndjson, ndjson_len, again_ndjson, again_len, "ndjson");
        free(again_ndjson);
    }
    char *again;
    again = export_body_as(copy_staff, "?format=csv", &again_len);
    expect_same_bytes(csv, csv_len, again, again_len, "csv");
    free(again);
    harness_stop(&worker);
    harness_stop(&copy);
    harness_use(&server);
    free(copy_staff);
    free(original);
    free(ndjson);
    free(csv);
}

static void test_ndjson_round_trip_is_byte_identical(void **state) {
    (void)state;
    round_trip("ndjson", "application/x-ndjson");
}

static void test_csv_round_trip_is_byte_identical(void **state) {
    (void)state;
    round_trip("csv", "text/csv");
}

/* ---- more attribute keys than an import reads ------------------------------ */

/* Product n of the "Manykeys" products: 50 attribute keys of its own. */
static long long create_many_keys(int n) {
    char sku[32], name[32], key[16];
    json_t *attrs = json_object();
    for (int k = 0; k < 50; k++) {
        snprintf(key, sizeof key, "k%04d", n * 50 + k);
        json_object_set_new(attrs, key, json_integer(k));
    }
    snprintf(sku, sizeof sku, "KEYS-%d", n);
    snprintf(name, sizeof name, "Manykeys %d", n);
    json_t *body = json_pack("{s:s,s:s,s:s,s:i,s:o}", "sku", sku, "name", name, "price", "1.00",
                             "stock", 1, "attributes", attrs);
    long long id = create_product(json_dumps(body, JSON_COMPACT));
    json_decref(body);
    return id;
}

/* An import reads at most 1,000 attr.<key> columns: a CSV export of
 * products with exactly that many keys is one, and one with more is
 * refused before its first byte (a 422 on format) rather than written as
 * a file no import would read; NDJSON, which has no such bound, is not. */
static void test_csv_with_more_keys_than_an_import_reads_is_a_422(void **state) {
    (void)state;
    long long ids[21];
    size_t len;
    for (int n = 0; n < 20; n++)
        ids[n] = create_many_keys(n);
    char *csv = export_body("?format=csv&q=manykeys", &len);
    char *header_end = strstr(csv, "\r\n");
    assert_non_null(header_end);
    *header_end = '\0';
    size_t columns = 1;
    for (const char *c = csv; *c; c++)
        columns += *c == ',';
    assert_int_equal(columns, 9 + 1000);
    free(csv);
    ids[20] = create_many_keys(20);
    struct http_res *r = export_as(staff_token, "?format=csv&q=manykeys");
    assert_problem(r, 422, "format");
    assert_null(http_header(r, "Transfer-Encoding"));
    http_res_free(r);
    free(export_body("?format=ndjson&q=manykeys", &len));
    for (int n = 0; n < 21; n++) {
        char path[64];
        snprintf(path, sizeof path, "/api/v1/products/%lld", ids[n]);
        http_res_free(http_expect("DELETE", path, staff_token, NULL, 204));
    }
    free(export_body("?format=csv", &len)); /* the other products' again */
}

/* ---- a failure mid-stream ------------------------------------------------- */

struct partial {
    PGconn *locker;
    size_t received;
    bool locked;
};

/* A small receive window: the server cannot have sent (or buffered) the
 * whole export by the time the first bytes arrive. */
static int small_window(void *clientp, curl_socket_t fd, curlsocktype purpose) {
    (void)clientp;
    (void)purpose;
    int size = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    return CURL_SOCKOPT_OK;
}

/* On the first bytes, lock the products table: the next batch waits for
 * the lock until the statement timeout (DB_STATEMENT_TIMEOUT_MS, 5 s by
 * default) fails it; the lock is held until the transfer has ended. */
static size_t on_part(char *data, size_t size, size_t n, void *ctx) {
    struct partial *p = ctx;
    (void)data;
    p->received += size * n;
    if (!p->locked) {
        p->locked = harness_pg_exec((struct pg_conn *)p->locker, "BEGIN") &&
                    harness_pg_exec((struct pg_conn *)p->locker,
                                    "LOCK TABLE products IN ACCESS EXCLUSIVE MODE");
        assert_true(p->locked);
    }
    return size * n;
}

static void test_database_failure_breaks_the_stream(void **state) {
    (void)state;
    struct nexus_server big;
    harness_start(&big, "exports-abort", NULL);
    char *staff = staff_login(&big, "exports-abort");
    /* about 10 MB of export, far more than the sockets (with the client's
     * window of 4 KiB) and the server's buffers hold; this database is the
     * test's own, so the search indexes, which would make the inserts
     * slow, go first */
    free(harness_sql_value(&big, "DROP INDEX products_search_idx, products_grams_idx;"
                                 " SELECT 1"));
    free(harness_sql_value(&big, "WITH i AS (INSERT INTO products (sku, name, slug, description,"
                                 " price_cents, stock) SELECT 'BIG-' || g, 'Big ' || g,"
                                 " 'big-' || g, repeat('x', 1000), g, 1"
                                 " FROM generate_series(1, 10000) g RETURNING 1)"
                                 " SELECT count(*) FROM i"));
    struct partial p = {.locker = PQconnectdb(big.database_url)};
    assert_int_equal(PQstatus(p.locker), CONNECTION_OK);
    char url[256], auth[4200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s?format=ndjson", big.port, EXPORTS);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", staff);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, small_window);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 4096L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_part);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &p);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    assert_true(harness_pg_exec((struct pg_conn *)p.locker, "ROLLBACK"));
    PQfinish(p.locker);
    /* The 200 had begun; the transfer broke instead of ending. */
    if (rc != CURLE_PARTIAL_FILE)
        fprintf(stderr, "curl: %s after %zu bytes\n", curl_easy_strerror(rc), p.received);
    assert_int_equal(status, 200);
    assert_int_equal(rc, CURLE_PARTIAL_FILE);
    assert_true(p.received > 0 && p.received < 10000u * 1000u);
    /* and the server goes on serving */
    harness_use(&big);
    size_t len;
    char *body = export_body_as(staff, "?format=csv&min_price=99.99", &len);
    assert_int_equal(count_lines(body), 3); /* the header, BIG-9999 and BIG-10000 */
    free(body);
    harness_stop(&big);
    harness_use(&server);
    free(staff);
}

/* ---- fixtures ------------------------------------------------------------- */

static int start(void **state) {
    (void)state;
    harness_start(&server, "exports", NULL);
    harness_staff_and_customer(&server, "exports", &staff_token, &customer_token);
    seed_catalog();
    return 0;
}

static int stop(void **state) {
    (void)state;
    free(staff_token);
    free(customer_token);
    harness_stop(&server);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_lines_are_import_rows),
        cmocka_unit_test(test_csv_quotes_per_rfc_4180),
        cmocka_unit_test(test_filters_are_the_lists),
        cmocka_unit_test(test_head_sends_no_body),
        cmocka_unit_test(test_access_log_counts_the_streamed_bytes),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_ndjson_round_trip_is_byte_identical),
        cmocka_unit_test(test_csv_round_trip_is_byte_identical),
        cmocka_unit_test(test_csv_with_more_keys_than_an_import_reads_is_a_422),
        cmocka_unit_test(test_database_failure_breaks_the_stream),
    };
    return harness_run_group("exports", tests, sizeof tests / sizeof tests[0], start, stop);
}
