/*
 * test_imports.c -- POST /api/v1/imports end to end, with a real worker:
 * NDJSON and CSV (quotes, commas, newlines, BOM, CRLF), categories by id
 * or slug, upsert and create, atomic, row errors with their physical line
 * and the endpoint's messages, the errors stream, Idempotency-Key, and
 * what the request itself refuses (415, 400, 403, 413).
 */
#include "harness.h"

#include "nexus/core/config.h"
#include "nexus/core/xmem.h"
#include "nexus/db/db.h"
#include "nexus/db/imports.h"
#include "nexus/jobs/import.h"
#include "nexus/jobs/worker.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libpq-fe.h>

#define IMPORTS "/api/v1/imports"

static struct nexus_server server;
static char *staff_token;
static char *customer_token;
static struct nexus_server worker;
static struct nexus_server crash_worker; /* killed by its test (or by stop) */
static long long audio_id;

#define expect_sql(...) harness_expect_sql(&server, __VA_ARGS__)

/* POST an upload as token with the given Content-Type and extra header. */
static struct http_res *upload(const char *query, const char *token, const char *type,
                               const char *body, size_t len, const char *extra) {
    char auth[4200], ct[128], path[256];
    const char *h[4] = {0};
    size_t n = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h[n++] = auth;
    }
    snprintf(ct, sizeof ct, "Content-Type: %s", type);
    h[n++] = ct;
    if (extra)
        h[n++] = extra;
    snprintf(path, sizeof path, "%s%s", IMPORTS, query);
    return http_request("POST", path, h, body, len);
}

/* Wait until import id is done or failed; its JSON (owned). */
static json_t *await_import(long long id) {
    char location[64];
    snprintf(location, sizeof location, "%s/%lld", IMPORTS, id);
    struct http_res *r;
    for (int i = 0; i < 1200; i++) {
        r = call("GET", location, staff_token, NULL);
        expect_status(r, 200, "import");
        const char *status = jstr(r->json, "status");
        if (strcmp(status, "done") == 0 || strcmp(status, "failed") == 0) {
            json_t *j = json_incref(r->json);
            http_res_free(r);
            return j;
        }
        http_res_free(r);
        usleep(100 * 1000);
    }
    fail_msg("import %lld did not finish within 120 s", id);
    return NULL;
}

/* Upload and wait until the import is done or failed; its JSON (owned). */
static json_t *run_import(const char *query, const char *type, const char *body) {
    struct http_res *r = upload(query, staff_token, type, body, strlen(body), NULL);
    expect_status(r, 202, "upload");
    long long id = jint(r->json, "id");
    char location[64];
    snprintf(location, sizeof location, "%s/%lld", IMPORTS, id);
    assert_string_equal(http_header(r, "Location"), location);
    assert_string_equal(jstr(r->json, "status"), "queued");
    http_res_free(r);
    return await_import(id);
}

static void expect_counts(json_t *imp, long long rows, long long created, long long updated,
                          long long failed) {
    if (jint(imp, "rows") != rows || jint(imp, "created") != created ||
        jint(imp, "updated") != updated || jint(imp, "failed") != failed) {
        char *s = json_dumps(imp, JSON_COMPACT);
        fprintf(stderr, "import: %s\n", s);
        free(s);
    }
    assert_int_equal(jint(imp, "rows"), rows);
    assert_int_equal(jint(imp, "created"), created);
    assert_int_equal(jint(imp, "updated"), updated);
    assert_int_equal(jint(imp, "failed"), failed);
}

/* Run an import and assert its counts. */
static void import_counted(const char *query, const char *type, const char *body, long long rows,
                           long long created, long long updated) {
    json_t *imp = run_import(query, type, body);
    expect_counts(imp, rows, created, updated, 0);
    json_decref(imp);
}

/* Error i of the import is at line on field (NULL: null) with message. */
static void expect_error(json_t *imp, size_t i, long long line, const char *field,
                         const char *message) {
    json_t *e = json_array_get(json_object_get(imp, "errors"), i);
    json_t *f = e ? json_object_get(e, "field") : NULL;
    if (!e || jint(e, "line") != line ||
        (field ? !json_is_string(f) || strcmp(json_string_value(f), field) != 0
               : !json_is_null(f))) {
        char *s = json_dumps(imp, JSON_COMPACT);
        fprintf(stderr, "import: %s\n", s);
        free(s);
    }
    assert_non_null(e);
    assert_int_equal(jint(e, "line"), line);
    if (field)
        assert_string_equal(jstr(e, "field"), field);
    else
        assert_true(json_is_null(json_object_get(e, "field")));
    if (message)
        assert_string_equal(jstr(e, "message"), message);
}

/* ---- NDJSON ------------------------------------------------------------ */

/* GET path twice: the answer is then in the server's cache. */
static void cache_list(const char *path, size_t items) {
    for (int i = 0; i < 2; i++) {
        struct http_res *r = call("GET", path, NULL, NULL);
        expect_status(r, 200, "list");
        assert_int_equal(json_array_size(json_object_get(r->json, "items")), items);
        if (i == 1)
            assert_string_equal(http_header(r, "X-Cache"), "HIT");
        http_res_free(r);
    }
}

static void test_ndjson_rows_apply_and_bad_rows_are_reported(void **state) {
    (void)state;
    char body[1024];
    cache_list("/api/v1/products?q=ndjson%20lamp", 0);
    snprintf(body, sizeof body,
             "{\"sku\":\"NJ-1\",\"name\":\"Ndjson Lamp\",\"price\":\"10\",\"stock\":1,"
             "\"category\":\"audio\"}\n"
             "{\"sku\":\"NJ-2\",\"name\":\"Bad Price\",\"price\":10,\"stock\":1}\r\n"
             "\n"
             "{\"sku\":\"NJ-3\",\"name\":\"By Id\",\"price\":\"3.5\",\"stock\":0,"
             "\"category\":%lld,\"is_active\":false}\n"
             "{\"sku\":\"NJ-4\",\"name\":\"No Such Cat\",\"price\":\"1\",\"stock\":1,"
             "\"category\":\"nowhere\"}\n"
             "{\"sku\":",
             audio_id);
    json_t *imp = run_import("", "application/x-ndjson", body);
    assert_string_equal(jstr(imp, "status"), "done");
    assert_string_equal(jstr(imp, "format"), "ndjson");
    assert_string_equal(jstr(imp, "mode"), "upsert");
    expect_counts(imp, 5, 2, 0, 3);
    expect_error(imp, 0, 2, "price", "must be a string");
    expect_error(imp, 1, 5, "category", "no such category");
    expect_error(imp, 2, 6, NULL, NULL);
    assert_timestamp(jstr(imp, "started_at"));
    assert_timestamp(jstr(imp, "finished_at"));
    json_decref(imp);
    char want[64];
    snprintf(want, sizeof want, "1000|%lld|ndjson-lamp", audio_id);
    expect_sql(want, "SELECT price_cents || '|' || category_id || '|' || slug FROM products"
                     " WHERE sku = 'NJ-1'");
    expect_sql("false|350",
               "SELECT is_active || '|' || price_cents FROM products WHERE sku = 'NJ-3'");
    /* The catalog shows them at once: the worker's import invalidated the
     * answer the server had cached before it. */
    struct http_res *r = call("GET", "/api/v1/products?q=ndjson%20lamp", NULL, NULL);
    expect_status(r, 200, "list");
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 1);
    http_res_free(r);
}

/* attributes and images travel with a row and are validated like the
 * endpoint's; an upsert without them resets them, as a PUT does. */
static void test_ndjson_rows_carry_attributes_and_images(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"sku\":\"AT-1\",\"name\":\"Attr Lamp\",\"price\":\"5\",\"stock\":1,"
                   "\"attributes\":{\"brand\":\"Acme\",\"weight_g\":250,\"dimmable\":true},"
                   "\"images\":[{\"url\":\"https://img.example.com/a.jpg\",\"alt\":\"Front\"}]}\n"
                   "{\"sku\":\"AT-2\",\"name\":\"Bad Attr\",\"price\":\"5\",\"stock\":1,"
                   "\"attributes\":{\"Brand\":\"x\"}}\n"
                   "{\"sku\":\"AT-3\",\"name\":\"Bad Image\",\"price\":\"5\",\"stock\":1,"
                   "\"images\":[{\"url\":\"ftp://x\"}]}\n");
    expect_counts(imp, 3, 1, 0, 2);
    expect_error(imp, 0, 2, "attributes.Brand", NULL);
    expect_error(imp, 1, 3, "images[0].url", NULL);
    json_decref(imp);
    expect_sql("Acme|250|true|Front",
               "SELECT (attributes->>'brand') || '|' || (attributes->>'weight_g') || '|' ||"
               " (attributes->>'dimmable') || '|' || (images->0->>'alt') FROM products"
               " WHERE sku = 'AT-1'");
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"AT-1\",\"name\":\"Attr Lamp\",\"price\":\"5\",\"stock\":1}\n");
    expect_counts(imp, 1, 0, 1, 0);
    json_decref(imp);
    expect_sql("{}|[]", "SELECT attributes::text || '|' || images::text FROM products"
                        " WHERE sku = 'AT-1'");
}

/* The live variants of the live product named name, in position order:
 * sku:price_cents:stock:options:is_active, comma-separated. */
#define VARIANTS_OF(name)                                                                          \
    "SELECT string_agg(v.sku || ':' || v.price_cents || ':' || v.stock || ':' || v.options::text"  \
    " || ':' || v.is_active, ',' ORDER BY v.position, v.id) FROM product_variants v"               \
    " JOIN products p ON p.id = v.product_id WHERE p.name = '" name "'"                            \
    " AND p.deleted_at IS NULL AND v.deleted_at IS NULL"

/* A row may carry variants, validated as a create's; a row's sku names
 * the product owning a variant with that sku (not only the first). */
static void test_ndjson_rows_carry_variants(void **state) {
    (void)state;
    json_t *imp = run_import(
        "", "application/x-ndjson",
        "{\"name\":\"Var Tee\",\"variants\":[{\"sku\":\"VT-S\",\"price\":\"10\",\"stock\":1,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"VT-L\",\"price\":\"12\",\"stock\":2,"
        "\"options\":{\"Size\":\"L\"},\"is_active\":false}]}\n"
        "{\"name\":\"Twice\",\"variants\":[{\"sku\":\"VT-D\",\"price\":\"1\",\"stock\":1,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"VT-D\",\"price\":\"1\",\"stock\":1,"
        "\"options\":{\"Size\":\"M\"}}]}\n"
        "{\"name\":\"Same Options\",\"variants\":[{\"sku\":\"VT-O1\",\"price\":\"1\",\"stock\":1,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"VT-O2\",\"price\":\"1\",\"stock\":1,"
        "\"options\":{\"size\":\"s\"}}]}\n"
        "{\"name\":\"Both\",\"sku\":\"VT-B\",\"variants\":[{\"sku\":\"VT-B\",\"price\":\"1\","
        "\"stock\":1,\"options\":{}}]}\n");
    expect_counts(imp, 4, 1, 0, 3);
    expect_error(imp, 0, 2, "variants[1].sku", "already exists");
    expect_error(imp, 1, 3, "variants[1].options",
                 "another variant of this product has the same options");
    expect_error(imp, 2, 4, "variants", "give either variants or sku, price and stock");
    json_decref(imp);
    expect_sql("VT-S:1000:1:{\"Size\": \"S\"}:true,VT-L:1200:2:{\"Size\": \"L\"}:false",
               VARIANTS_OF("Var Tee"));
    expect_sql("VT-S|1000|1000|1|2", "SELECT sku || '|' || price_cents || '|' || price_max_cents"
                                     " || '|' || stock || '|' || variant_count FROM products"
                                     " WHERE name = 'Var Tee'");
    /* (price_max_cents and stock count active variants only.) The second
     * variant's sku names the product: it takes the row's price
     * and stock, the other variant stays, the product takes the rest. */
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"VT-L\",\"name\":\"Var Tee\",\"price\":\"15\",\"stock\":7,"
                     "\"description\":\"renamed\"}\n");
    expect_counts(imp, 1, 0, 1, 0);
    json_decref(imp);
    expect_sql("VT-S:1000:1:{\"Size\": \"S\"}:true,VT-L:1500:7:{\"Size\": \"L\"}:false",
               VARIANTS_OF("Var Tee"));
    expect_sql("1|renamed", "SELECT count(*) || '|' || min(description) FROM products"
                            " WHERE name = 'Var Tee' AND deleted_at IS NULL");
    /* A row with variants replaces the product's: matched by sku (options
     * may trade places), new ones added, missing ones deleted. */
    imp = run_import(
        "", "application/x-ndjson",
        "{\"name\":\"Var Tee\",\"variants\":[{\"sku\":\"VT-L\",\"price\":\"11\",\"stock\":3,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"VT-X\",\"price\":\"13\",\"stock\":4,"
        "\"options\":{\"Size\":\"XL\"}},{\"sku\":\"VT-S\",\"price\":\"9\",\"stock\":0,"
        "\"options\":{\"Size\":\"L\"}}]}\n"
        "{\"name\":\"Var Tee\",\"variants\":[{\"sku\":\"VT-L\",\"price\":\"11\",\"stock\":3,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"NJ-1\",\"price\":\"13\",\"stock\":4,"
        "\"options\":{\"Size\":\"XL\"}}]}\n");
    expect_counts(imp, 2, 0, 1, 1);
    expect_error(imp, 0, 2, "variants", "holds the SKUs of more than one product");
    json_decref(imp);
    expect_sql("VT-L:1100:3:{\"Size\": \"S\"}:true,VT-X:1300:4:{\"Size\": \"XL\"}:true,"
               "VT-S:900:0:{\"Size\": \"L\"}:true",
               VARIANTS_OF("Var Tee"));
    imp = run_import("", "application/x-ndjson",
                     "{\"name\":\"Var Tee\",\"variants\":[{\"sku\":\"VT-X\",\"price\":\"13\","
                     "\"stock\":4,\"options\":{\"Size\":\"XL\"}}]}\n");
    expect_counts(imp, 1, 0, 1, 0);
    json_decref(imp);
    expect_sql("VT-X:1300:4:{\"Size\": \"XL\"}:true", VARIANTS_OF("Var Tee"));
    expect_sql("VT-X|1300|4|1|[{\"name\": \"Size\", \"values\": [\"XL\"]}]",
               "SELECT sku || '|' || price_cents || '|' || stock || '|' || variant_count || '|'"
               " || variant_options::text FROM products WHERE name = 'Var Tee'");
    /* create mode: any sku of the row taken is the endpoint's 409 */
    imp = run_import("?mode=create", "application/x-ndjson",
                     "{\"name\":\"Var New\",\"variants\":[{\"sku\":\"VT-N\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"a\":\"c\"}},{\"sku\":\"VT-X\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"a\":\"b\"}}]}\n");
    expect_counts(imp, 1, 0, 0, 1);
    expect_error(imp, 0, 1, "variants[1].sku", "already exists");
    json_decref(imp);
    /* also when the skus are two products' */
    imp = run_import("?mode=create", "application/x-ndjson",
                     "{\"name\":\"Var Two\",\"variants\":[{\"sku\":\"VT-T\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"a\":\"c\"}},{\"sku\":\"VT-X\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"a\":\"b\"}},{\"sku\":\"NJ-1\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"a\":\"d\"}}]}\n");
    expect_counts(imp, 1, 0, 0, 1);
    expect_error(imp, 0, 1, "variants[1].sku", "already exists");
    json_decref(imp);
}

/* ---- CSV --------------------------------------------------------------- */

/* Rows apply in file order, also when two rows of one batch name one
 * product by different SKUs: a row with variants replaces its product's
 * set, so a SKU it drops is free for the rows after it, which make a
 * product of their own; rows without variants of one product each write
 * their own variant. */
static void test_rows_of_one_product_apply_in_file_order(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"name\":\"Order First\",\"variants\":[{\"sku\":\"OF-1\",\"price\":\"1\","
                   "\"stock\":1,\"options\":{\"Size\":\"M\"}},{\"sku\":\"OF-2\",\"price\":\"1\","
                   "\"stock\":1,\"options\":{\"Size\":\"L\"}}]}\n"
                   "{\"name\":\"Order Second\",\"variants\":[{\"sku\":\"OF-1\",\"price\":\"2\","
                   "\"stock\":1,\"options\":{\"Color\":\"Red\"}}]}\n"
                   "{\"name\":\"Order Third\",\"variants\":[{\"sku\":\"OF-2\",\"price\":\"3\","
                   "\"stock\":1,\"options\":{\"Size\":\"L\"}}]}\n"
                   "{\"sku\":\"OF-2\",\"name\":\"Order Third\",\"price\":\"4\",\"stock\":5}\n");
    expect_counts(imp, 4, 2, 2, 0);
    json_decref(imp);
    expect_sql("OF-1:200:1:{\"Color\": \"Red\"}:true", VARIANTS_OF("Order Second"));
    expect_sql("OF-2:400:5:{\"Size\": \"L\"}:true", VARIANTS_OF("Order Third"));
    expect_sql("0", "SELECT count(*) FROM products WHERE name = 'Order First'"
                    " AND deleted_at IS NULL");
    /* the other way round: rows without variants first, then the set */
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"OF-1\",\"name\":\"Order Second\",\"price\":\"5\",\"stock\":2}\n"
                     "{\"name\":\"Order Second\",\"variants\":[{\"sku\":\"OF-1\",\"price\":\"6\","
                     "\"stock\":3,\"options\":{\"Color\":\"Red\"}},{\"sku\":\"OF-5\","
                     "\"price\":\"7\",\"stock\":4,\"options\":{\"Color\":\"Blue\"}}]}\n");
    expect_counts(imp, 2, 0, 2, 0);
    json_decref(imp);
    expect_sql("OF-1:600:3:{\"Color\": \"Red\"}:true,OF-5:700:4:{\"Color\": \"Blue\"}:true",
               VARIANTS_OF("Order Second"));
}

/* Rows of one upload that meet on one product, SKU or slug apply as if
 * one by one, in file order, even within one batch: two rows naming one
 * product by different SKUs (the last one's fields win, both count), a
 * refused row that does not count against the next, a SKU or a slug an
 * earlier row freed. */
static void test_rows_that_meet_apply_one_by_one(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"name\":\"Meet Two\",\"slug\":\"meet-a\",\"variants\":[{\"sku\":\"MT-S\","
                   "\"price\":\"1\",\"stock\":0,\"options\":{\"Size\":\"S\"}},{\"sku\":\"MT-M\","
                   "\"price\":\"1\",\"stock\":5,\"options\":{\"Size\":\"M\"}}]}\n"
                   "{\"name\":\"Meet Other\",\"slug\":\"meet-b\",\"variants\":[{\"sku\":\"MT-X\","
                   "\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"S\"}}]}\n");
    expect_counts(imp, 2, 2, 0, 0);
    json_decref(imp);
    /* one product by two SKUs: both rows count, the second's fields win */
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"MT-S\",\"name\":\"Meet First\",\"price\":\"2\",\"stock\":2,"
                     "\"attributes\":{\"row\":1}}\n"
                     "{\"sku\":\"MT-M\",\"name\":\"Meet Two\",\"description\":\"second\","
                     "\"price\":\"3\",\"stock\":3,\"attributes\":{\"row\":2}}\n");
    expect_counts(imp, 2, 0, 2, 0);
    json_decref(imp);
    expect_sql("second|{\"row\": 2}|meet-a",
               "SELECT description || '|' || attributes::text || '|' || slug FROM products"
               " WHERE name = 'Meet Two' AND deleted_at IS NULL");
    expect_sql("MT-S:200:2:{\"Size\": \"S\"}:true,MT-M:300:3:{\"Size\": \"M\"}:true",
               VARIANTS_OF("Meet Two"));
    /* a refused row's stock is not the next row's */
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"MT-S\",\"name\":\"Meet Two\",\"price\":\"2\","
                     "\"stock\":2147483647}\n"
                     "{\"sku\":\"MT-M\",\"name\":\"Meet Two\",\"price\":\"3\",\"stock\":6}\n");
    expect_counts(imp, 2, 0, 1, 1);
    expect_error(imp, 0, 1, "stock", NULL);
    json_decref(imp);
    expect_sql("8", "SELECT stock FROM products WHERE name = 'Meet Two' AND deleted_at IS NULL");
    /* a SKU and a slug the first row frees are the second's */
    imp = run_import(
        "", "application/x-ndjson",
        "{\"name\":\"Meet Two\",\"slug\":\"meet-c\",\"variants\":["
        "{\"sku\":\"MT-S\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"S\"}}]}\n"
        "{\"name\":\"Meet Other\",\"slug\":\"meet-a\",\"variants\":["
        "{\"sku\":\"MT-X\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"S\"}},"
        "{\"sku\":\"MT-M\",\"price\":\"4\",\"stock\":4,\"options\":{\"Size\":\"M\"}}]}\n");
    expect_counts(imp, 2, 0, 2, 0);
    json_decref(imp);
    expect_sql("meet-c",
               "SELECT slug FROM products WHERE name = 'Meet Two' AND deleted_at IS NULL");
    expect_sql("meet-a",
               "SELECT slug FROM products WHERE name = 'Meet Other' AND deleted_at IS NULL");
    expect_sql("MT-X:100:1:{\"Size\": \"S\"}:true,MT-M:400:4:{\"Size\": \"M\"}:true",
               VARIANTS_OF("Meet Other"));
    /* an update keeps its slug, so the name's slug is the new product's */
    imp = run_import("", "text/csv",
                     "sku,name,price,stock\nMT-X,Meet Slug,1,1\nMT-NEW,Meet Slug,1,1\n");
    expect_counts(imp, 2, 1, 1, 0);
    json_decref(imp);
    expect_sql("meet-a,meet-slug", "SELECT string_agg(p.slug, ',' ORDER BY p.id) FROM products p"
                                   " WHERE p.name = 'Meet Slug' AND p.deleted_at IS NULL");
    /* a row with variants updates the product any of its SKUs names, the
     * first one new: it keeps that product's slug and takes none */
    imp = run_import("", "text/csv", "sku,name,price,stock\nMT-B1,Meet Setup,1,1\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    imp = run_import("", "application/x-ndjson",
                     "{\"name\":\"Meet Bulb\",\"variants\":[{\"sku\":\"MT-B9\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"Size\":\"S\"}},{\"sku\":\"MT-B1\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"Size\":\"M\"}}]}\n"
                     "{\"sku\":\"MT-B2\",\"name\":\"Meet Bulb\",\"price\":\"1\",\"stock\":1}\n");
    expect_counts(imp, 2, 1, 1, 0);
    json_decref(imp);
    expect_sql("meet-setup,meet-bulb",
               "SELECT string_agg(p.slug, ',' ORDER BY p.id) FROM products p"
               " WHERE p.name = 'Meet Bulb' AND p.deleted_at IS NULL");
    /* rows refused a slug its product holds claim nothing: the product's
     * own row that gives it keeps it */
    imp = run_import("", "text/csv",
                     "sku,name,slug,price,stock\nMT-OWN,Meet Own,meet-own,1,1\n"
                     "MT-Q,Meet Q,,1,1\nMT-R,Meet R,,1,1\n");
    expect_counts(imp, 3, 3, 0, 0);
    json_decref(imp);
    imp = run_import("", "text/csv",
                     "sku,name,slug,price,stock\nMT-Q,Meet Q,meet-own,1,1\n"
                     "MT-R,Meet R,meet-own,1,1\nMT-OWN,Meet Own,meet-own,2,2\n");
    expect_counts(imp, 3, 0, 1, 2);
    expect_error(imp, 0, 2, "slug", "already exists");
    expect_error(imp, 1, 3, "slug", "already exists");
    json_decref(imp);
    expect_sql("meet-own:2", "SELECT slug || ':' || stock FROM products WHERE name = 'Meet Own'"
                             " AND deleted_at IS NULL");
    /* a row whose SKU an earlier row frees makes a product of its own,
     * after the rows of its batch: its slug is chosen then, on what they
     * left (the name's slug, taken by a new product after it: name-2) */
    imp = run_import("", "application/x-ndjson",
                     "{\"name\":\"Meet Pair\",\"variants\":[{\"sku\":\"MT-P1\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"Size\":\"S\"}},{\"sku\":\"MT-P2\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"Size\":\"M\"}}]}\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    imp = run_import("", "application/x-ndjson",
                     "{\"name\":\"Meet Pair\",\"variants\":[{\"sku\":\"MT-P1\",\"price\":\"1\","
                     "\"stock\":1,\"options\":{\"Size\":\"S\"}}]}\n"
                     "{\"sku\":\"MT-P2\",\"name\":\"Meet Freed\",\"price\":\"1\",\"stock\":1}\n"
                     "{\"sku\":\"MT-P3\",\"name\":\"Meet Freed\",\"price\":\"1\",\"stock\":1}\n");
    expect_counts(imp, 3, 2, 1, 0);
    json_decref(imp);
    expect_sql("MT-P3:meet-freed,MT-P2:meet-freed-2",
               "SELECT string_agg(p.sku || ':' || p.slug, ',' ORDER BY p.id) FROM products p"
               " WHERE p.name = 'Meet Freed' AND p.deleted_at IS NULL");
}

/* An import row is a product write: one that takes a variant's stock
 * from at least LOW_STOCK_THRESHOLD (5) to below it queues the same
 * low-stock alert as the API's writes, once. */
static void test_rows_that_take_stock_low_alert_staff(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"sku\":\"LOW-1\",\"name\":\"Low One\",\"price\":\"1\",\"stock\":10}\n"
                   "{\"name\":\"Low Set\",\"variants\":[{\"sku\":\"LOW-S\",\"price\":\"1\","
                   "\"stock\":9,\"options\":{\"Size\":\"S\"}}]}\n");
    expect_counts(imp, 2, 2, 0, 0);
    json_decref(imp);
    imp = run_import("", "text/csv", "sku,name,price,stock\nLOW-1,Low One,1,2\n");
    expect_counts(imp, 1, 0, 1, 0);
    json_decref(imp);
    imp = run_import("", "application/x-ndjson",
                     "{\"name\":\"Low Set\",\"variants\":[{\"sku\":\"LOW-S\",\"price\":\"1\","
                     "\"stock\":4,\"options\":{\"Size\":\"S\"}}]}\n"
                     "{\"sku\":\"LOW-1\",\"name\":\"Low One\",\"price\":\"1\",\"stock\":1}\n");
    expect_counts(imp, 2, 0, 2, 0);
    json_decref(imp);
    expect_sql(
        "LOW-1:2:5:Low One,LOW-S:4:5:Low Set",
        "SELECT string_agg(payload->>'sku' || ':' || (payload->>'stock') || ':' ||"
        " (payload->>'threshold') || ':' || (payload->>'name'), ',' ORDER BY payload->>'sku')"
        " FROM jobs WHERE kind = 'low_stock_alert' AND payload->>'sku' LIKE 'LOW-%%'");
}

/* An atomic import applies its batches in one transaction: a variant its
 * rows take below the threshold twice still alerts twice, as without
 * atomic. */
static void test_an_atomic_import_alerts_each_time_a_row_takes_stock_low(void **state) {
    (void)state;
    import_counted("", "text/csv", "sku,name,price,stock\nLOWAT-1,Low Twice,1,10\n", 1, 1, 0);
    import_counted("?atomic=true", "text/csv",
                   "sku,name,price,stock\nLOWAT-1,Low Twice,1,2\nLOWAT-1,Low Twice,1,10\n"
                   "LOWAT-1,Low Twice,1,1\n",
                   3, 0, 3);
    expect_sql("1,2", "SELECT string_agg(payload->>'stock', ',' ORDER BY payload->>'stock')"
                      " FROM jobs WHERE kind = 'low_stock_alert' AND payload->>'sku' = 'LOWAT-1'");
}

static void test_csv_quoting_bom_crlf_and_upsert(void **state) {
    (void)state;
    const char *body = "\xef\xbb\xbfsku,name,description,price,stock,category,is_active\r\n"
                       "CSV-1,\"Lamp, \"\"Big\"\"\",\"two\r\nlines\",12.50,4,audio,true\r\n"
                       "CSV-2,Desk,,7,x,,\r\n"
                       "CSV-3,Chair,,8,2,,false\r\n";
    json_t *imp = run_import("", "text/csv; charset=utf-8", body);
    assert_string_equal(jstr(imp, "status"), "done");
    assert_string_equal(jstr(imp, "format"), "csv");
    expect_counts(imp, 3, 2, 0, 1);
    expect_error(imp, 0, 4, "stock", "must be an integer");
    json_decref(imp);
    expect_sql("Lamp, \"Big\"|two\r\nlines|1250|4",
               "SELECT name || '|' || description || '|' || price_cents || '|' || stock"
               " FROM products WHERE sku = 'CSV-1'");
    /* The same skus again: updates. */
    imp = run_import("", "text/csv", "sku,name,price,stock\nCSV-1,Lamp Renamed,1,1\nCSV-3,C,2,2\n");
    expect_counts(imp, 2, 0, 2, 0);
    json_decref(imp);
    expect_sql("Lamp Renamed|lamp-big", "SELECT name || '|' || slug FROM products"
                                        " WHERE sku = 'CSV-1' AND deleted_at IS NULL");
}

/* A new product with variants is inserted with what they derive: running
 * nexus_product_derive over it changes nothing (its row version stays). */
static void test_new_products_hold_what_their_variants_derive(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"name\":\"Derived Tee\",\"variants\":[{\"sku\":\"DT-1\",\"price\":\"12\","
                   "\"stock\":3,\"options\":{\"Size\":\"M\",\"color\":\"Red\"}},{\"sku\":\"DT-2\","
                   "\"price\":\"9\",\"stock\":2,\"is_active\":false,\"options\":{\"size\":\"L\","
                   "\"Color\":\"red\"}},{\"sku\":\"DT-3\",\"price\":\"15\",\"stock\":4,"
                   "\"options\":{\"Size\":\"S\",\"color\":\"Blue\"}}]}\n"
                   "{\"name\":\"Derived Mug\",\"variants\":[{\"sku\":\"DM-1\",\"price\":\"5\","
                   "\"stock\":1,\"is_active\":false,\"options\":{}}]}\n");
    expect_counts(imp, 2, 2, 0, 0);
    json_decref(imp);
#define DERIVED_STATE                                                                              \
    "SELECT string_agg(xmin::text || ':' || price_cents || ':' || price_max_cents || ':' || stock" \
    " || ':' || variant_count || ':' || variant_active_count, ',' ORDER BY sku) FROM products"     \
    " WHERE sku IN ('DT-1', 'DM-1')"
    char *before = harness_sql_value(&server, DERIVED_STATE);
    free(harness_sql_value(&server, "SELECT count(nexus_product_derive(id)) FROM products"
                                    " WHERE sku IN ('DT-1', 'DM-1')"));
    expect_sql(before, DERIVED_STATE);
    free(before);
    /* and the option terms they were inserted with are the variants' */
    expect_sql("{Red,Blue,\"\",S,M,\"\"}|true|{}|true",
               "SELECT string_agg(ARRAY(SELECT t.value FROM facet_terms t"
               " WHERE t.id = ANY (p.facet_options) ORDER BY t.name DESC, t.value DESC)::text"
               " || '|' || (p.facet_options = nexus_facet_option_ids(p.id, false)"
               " AND p.facet_options_in_stock = nexus_facet_option_ids(p.id, true)"
               " AND p.facet_options_in_stock = p.facet_options)::text, '|' ORDER BY p.sku DESC)"
               " FROM products p WHERE p.sku IN ('DT-1', 'DM-1')");
    expect_sql("[{\"name\": \"color\", \"values\": [\"Red\", \"Blue\"]},"
               " {\"name\": \"Size\", \"values\": [\"M\", \"L\", \"S\"]}]",
               "SELECT variant_options FROM products WHERE sku = 'DT-1'");
}

/* Options spelled in every case, over many products: each
 * new product's summary is what nexus_variant_options computes from its
 * stored variants (the batch computes them all at once, not per product). */
static void test_option_summaries_match_the_stored_variants(void **state) {
    (void)state;
    /* each variant spells the product's three names as it likes; the
     * third value tells the variants apart */
    static const char *const sizes[][2] = {
        {"Size", "s"}, {"size", "S"}, {"SIZE", "M"}, {"size", "m"}};
    static const char *const colors[][2] = {
        {"Color", "Red"}, {"color", "red"}, {"COLOR", "RED"}, {"color", "Blue"}, {"Color", "blue"}};
    struct buf body = {0};
    unsigned seed = 12345;
    for (int p = 0; p < 150; p++) {
        buf_printf(&body, "{\"name\":\"Opt Product %d\",\"variants\":[", p);
        int variants = 1 + (int)(((seed = seed * 1103515245u + 12345u) >> 16) % 4u);
        for (int v = 0; v < variants; v++) {
            seed = seed * 1103515245u + 12345u;
            const char *const *size = sizes[(seed >> 16) % 4u], *const *color =
                                                                    colors[(seed >> 20) % 5u];
            buf_printf(&body,
                       "%s{\"sku\":\"OPT-%d-%d\",\"price\":\"%d\",\"stock\":%d,\"options\":"
                       "{\"%s\":\"%s\",\"%s\":\"%s\",\"%s\":\"v%d\"}}",
                       v ? "," : "", p, v, 1 + v, v % 3, size[0], size[1], color[0], color[1],
                       (seed >> 24) % 2u ? "Fit" : "fit", v);
        }
        buf_puts(&body, "]}\n");
    }
    json_t *imp = run_import("", "application/x-ndjson", body.data);
    expect_counts(imp, 150, 150, 0, 0);
    json_decref(imp);
    buf_clear(&body);
    expect_sql("150|0", "SELECT count(*) || '|' || count(*) FILTER (WHERE variant_options"
                        " IS DISTINCT FROM nexus_variant_options(id)) FROM products"
                        " WHERE left(sku, 4) = 'OPT-' AND deleted_at IS NULL");
}

/* Import a CSV that creates a product for each of its rows. */
static void csv_creates(const char *body, long long rows) {
    json_t *imp = run_import("", "text/csv", body);
    expect_counts(imp, rows, rows, 0, 0);
    json_decref(imp);
}

/* Rows without a slug get the one POST /products would give: the first
 * of base, base-2, ... that no live product and no earlier row has. */
static void test_derived_slugs_are_the_endpoints(void **state) {
    (void)state;
    struct http_res *r =
        call("POST", "/api/v1/products", staff_token,
             "{\"sku\":\"SL-0\",\"name\":\"Same Name\",\"price\":\"1\",\"stock\":1}");
    expect_status(r, 201, "product");
    http_res_free(r);
    r = call("POST", "/api/v1/products", staff_token,
             "{\"sku\":\"SL-00\",\"name\":\"Other\",\"slug\":\"same-name-5\",\"price\":\"1\","
             "\"stock\":1}");
    expect_status(r, 201, "product");
    http_res_free(r);
    json_t *imp = run_import("", "text/csv",
                             "sku,name,slug,price,stock\n"
                             "SL-1,Same Name,,1,1\n"
                             "SL-2,Given,same-name-3,1,1\n"
                             "SL-3,Same Name,,1,1\n"
                             "SL-4,Same  name!,,1,1\n"
                             "SL-5,Given Late,same-name-6,1,1\n");
    expect_counts(imp, 5, 4, 0, 1);
    expect_sql("SL-0 same-name,SL-1 same-name-2,SL-2 same-name-3,SL-3 same-name-4,"
               "SL-4 same-name-6",
               "SELECT string_agg(sku || ' ' || slug, ',' ORDER BY sku) FROM products"
               " WHERE sku LIKE 'SL-_' AND deleted_at IS NULL");
    /* a later row giving the slug an earlier one took fails, as a second
     * POST would */
    expect_error(imp, 0, 6, "slug", "already exists");
    json_decref(imp);
    /* more taken candidates than the first question covers: asked again */
    struct buf body = {0};
    buf_puts(&body, "sku,name,price,stock\n");
    for (int i = 0; i < 12; i++)
        buf_printf(&body, "SLM-%02d,Many Name,1,1\n", i);
    csv_creates(body.data, 12);
    buf_clear(&body);
    csv_creates("sku,name,price,stock\nSLM-12,Many Name,1,1\nSLM-13,Many Name,1,1\n", 2);
    expect_sql("many-name,many-name-13,many-name-14",
               "SELECT string_agg(slug, ',' ORDER BY slug) FROM products"
               " WHERE sku IN ('SLM-00', 'SLM-12', 'SLM-13')");
}

/* A CSV without its header row (an empty upload, say from a file that was
 * not there) fails, its error on line 1, rather than end done with no
 * rows; an empty NDJSON upload is simply no products. */
static long long products_analyzed(void) {
    char *n = harness_sql_value(&server, "SELECT analyze_count FROM pg_stat_user_tables"
                                         " WHERE relname = 'products'");
    long long v = strtoll(n, NULL, 10);
    free(n);
    return v;
}

/* An import that writes a tenth of the catalog or more takes the
 * statistics again before it is done (analyze_count counts ANALYZE
 * statements, not autovacuum's); a small one leaves them. */
static void test_a_large_import_takes_the_statistics_again(void **state) {
    (void)state;
    char *live = harness_sql_value(&server, "SELECT count(*) FROM products");
    long long rows = strtoll(live, NULL, 10) / 5 + 20;
    free(live);
    struct buf csv = {0};
    buf_puts(&csv, "sku,name,price,stock\n");
    for (long long i = 0; i < rows; i++)
        buf_printf(&csv, "STATS-%lld,Stats %lld,1,1\n", i, i);
    long long before = products_analyzed();
    csv_creates(csv.data, rows);
    assert_true(products_analyzed() > before);
    before = products_analyzed();
    csv_creates("sku,name,price,stock\nSTATS-ONE,Stats one,1,1\n", 1);
    assert_int_equal(products_analyzed(), before);
    buf_clear(&csv);
}

/* A row past the limit is an error of its own that names the limit; the
 * rows after it are read. */
static void test_a_row_over_the_limit_says_the_limit(void **state) {
    (void)state;
    struct buf body = {0};
    buf_puts(&body, "{\"sku\":\"LONG-1\",\"name\":\"Long\",\"price\":\"1\",\"stock\":1,"
                    "\"description\":\"");
    for (int i = 0; i < 1024 * 1024; i++)
        buf_puts(&body, "x");
    buf_puts(&body, "\"}\n{\"sku\":\"LONG-2\",\"name\":\"Short\",\"price\":\"1\",\"stock\":1}\n");
    json_t *imp = run_import("", "application/x-ndjson", body.data);
    expect_counts(imp, 2, 1, 0, 1);
    expect_error(imp, 0, 1, NULL, "the row is too long: a row is at most 1048576 bytes");
    json_decref(imp);
    buf_clear(&body);
}

/* An upload in UTF-16 (a spreadsheet's "Unicode text", with its byte
 * order mark or without) or UTF-32 fails with one error that says so,
 * not one per row about NUL bytes. */
static void test_a_utf16_upload_is_told_it_must_be_utf8(void **state) {
    (void)state;
    static const struct {
        const char *type, *body;
        size_t len;
        const char *encoding;
    } UPLOADS[] = {
        {"text/csv", "\xff\xfes\0k\0u\0\r\0\n\0A\0\r\0\n\0", 18, "UTF-16"},
        {"application/x-ndjson", "\0{\0}\0\n\0{\0}\0\n", 12, "UTF-16"},
        {"text/csv", "\xff\xfe\0\0s\0\0\0\n\0\0\0", 12, "UTF-32"},
    };
    for (size_t i = 0; i < sizeof UPLOADS / sizeof *UPLOADS; i++) {
        struct http_res *r =
            upload("", staff_token, UPLOADS[i].type, UPLOADS[i].body, UPLOADS[i].len, NULL);
        expect_status(r, 202, "upload");
        json_t *imp = await_import(jint(r->json, "id"));
        http_res_free(r);
        char message[80];
        snprintf(message, sizeof message, "the file must be UTF-8 text (it looks like %s)",
                 UPLOADS[i].encoding);
        assert_string_equal(jstr(imp, "status"), "failed");
        expect_counts(imp, 0, 0, 0, 0);
        expect_error(imp, 0, 1, NULL, message);
        assert_int_equal(json_array_size(json_object_get(imp, "errors")), 1);
        json_decref(imp);
    }
}

static void test_csv_without_a_header_fails(void **state) {
    (void)state;
    static const char *const BODIES[] = {"", "\r\n\n", ",,,\r\n , ,\n"};
    for (size_t i = 0; i < 3; i++) {
        json_t *imp = run_import("", "text/csv", BODIES[i]);
        assert_string_equal(jstr(imp, "status"), "failed");
        expect_error(imp, 0, 1, NULL,
                     "the upload has no header row: a CSV starts with its column names");
        json_decref(imp);
    }
    json_t *imp = run_import("", "application/x-ndjson", "");
    assert_string_equal(jstr(imp, "status"), "done");
    expect_counts(imp, 0, 0, 0, 0);
    json_decref(imp);
}

/* CSV has no column for images: an upsert from CSV keeps the product's
 * (a CSV export edited and imported again loses none), and a product it
 * creates has none. */
static void test_csv_upsert_keeps_images(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"sku\":\"CIMG-1\",\"name\":\"Pictured\",\"price\":\"5\",\"stock\":1,"
                   "\"images\":[{\"url\":\"https://img.example.com/c.jpg\",\"alt\":\"Front\"}]}\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    imp = run_import("", "text/csv",
                     "sku,name,price,stock\r\nCIMG-1,Pictured Again,7,2\r\nCIMG-2,Bare,1,1\r\n");
    expect_counts(imp, 2, 1, 1, 0);
    json_decref(imp);
    expect_sql("CIMG-1|Pictured Again|700|2|[{\"alt\": \"Front\", \"url\": "
               "\"https://img.example.com/c.jpg\"}];CIMG-2|Bare|100|1|[]",
               "SELECT string_agg(sku || '|' || name || '|' || price_cents || '|' || stock || '|'"
               " || images::text, ';' ORDER BY sku) FROM products WHERE sku LIKE 'CIMG-%%'");
}

/* An integer past 64 bits is a number like any other: kept to a double's
 * precision from an NDJSON row and from a CSV cell, and exported again. */
static void test_integers_past_64_bits_are_numbers(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "application/x-ndjson",
                   "{\"sku\":\"WIDE-1\",\"name\":\"Wide One\",\"price\":\"1\",\"stock\":1,"
                   "\"attributes\":{\"mass\":12345678901234567890}}\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    imp = run_import(
        "", "text/csv",
        "sku,name,price,stock,attr.mass\r\nWIDE-2,Wide Two,1,1,-99999999999999999999\r\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    expect_sql("{\"mass\": 12345678901234567000}|{\"mass\": -100000000000000000000}",
               "SELECT string_agg(attributes::text, '|' ORDER BY sku) FROM products"
               " WHERE sku LIKE 'WIDE-%%'");
    struct http_res *r =
        call("GET", "/api/v1/exports/products?format=csv&q=wide", staff_token, NULL);
    expect_status(r, 200, "export");
    assert_non_null(strstr(r->body, ",12345678901234567000\r\n"));
    assert_non_null(strstr(r->body, ",-100000000000000000000\r\n"));
    http_res_free(r);
}

/* attr.<key> columns: a cell is a boolean, a number or a string as it
 * spells one; an empty cell leaves the attribute out. */
static void test_csv_attribute_columns(void **state) {
    (void)state;
    json_t *imp = run_import("", "text/csv",
                             "sku,name,price,stock,attr.brand,attr.weight_g,attr.wired\r\n"
                             "CA-1,Attr One,1,1,\"Acme, Inc\",250.5,true\r\n"
                             "CA-2,Attr Two,1,1,007,,FALSE\r\n"
                             "CA-3,Attr Three,1,1,,-1e3,\r\n"
                             "CA-4,Attr Four,1,1,x,1,\"\"\r\n");
    expect_counts(imp, 4, 4, 0, 0);
    json_decref(imp);
    expect_sql("{\"brand\": \"Acme, Inc\", \"wired\": true, \"weight_g\": 250.5}",
               "SELECT attributes::text FROM products WHERE sku = 'CA-1'");
    expect_sql("{\"brand\": \"007\", \"wired\": \"FALSE\"}",
               "SELECT attributes::text FROM products WHERE sku = 'CA-2'");
    expect_sql("{\"weight_g\": -1000}", "SELECT attributes::text FROM products WHERE sku = 'CA-3'");
    /* a bad key fails the import at its header; a bad value is the
     * endpoint's error on attributes.<key> */
    imp = run_import("", "text/csv", "sku,name,price,stock,attr.Brand\r\nCA-5,X,1,1,y\r\n");
    assert_string_equal(jstr(imp, "status"), "failed");
    expect_error(imp, 0, 1, "attr.Brand", NULL);
    json_decref(imp);
    char body[512];
    snprintf(body, sizeof body, "sku,name,price,stock,attr.note\r\nCA-6,X,1,1,%0201d\r\n", 0);
    imp = run_import("", "text/csv", body);
    expect_counts(imp, 1, 0, 0, 1);
    expect_error(imp, 0, 2, "attributes.note", "must be a string of 1 to 200 characters");
    json_decref(imp);
    /* a number is one however long it is written (an export writes 1e200
     * in full); one past a double has no value, as in a body */
    snprintf(body, sizeof body,
             "sku,name,price,stock,attr.big\r\nCA-7,X,1,1,1%0200d\r\nCA-8,X,1,1,1e400\r\n", 0);
    imp = run_import("", "text/csv", body);
    expect_counts(imp, 2, 1, 0, 1);
    expect_error(imp, 0, 3, "attributes.big", "is a number out of range");
    json_decref(imp);
    expect_sql("number", "SELECT jsonb_typeof(attributes->'big') FROM products WHERE sku = 'CA-7'");
    /* an NDJSON row reads its numbers as a body does: any count of
     * integers past 64 bits, and a key spelt with escapes named as it
     * reads */
    struct buf rows = {0};
    buf_puts(&rows, "{\"sku\":\"CA-9\",\"name\":\"X\",\"price\":\"1\",\"stock\":1,"
                    "\"n\":[");
    for (int i = 0; i < 65; i++)
        buf_printf(&rows, "%s99999999999999999999", i ? "," : "");
    buf_puts(&rows, "]}\n{\"sku\":\"CA-10\",\"name\":\"X\",\"price\":\"1\","
                    "\"st\\u006fck\":1e400}\n");
    imp = run_import("", "application/x-ndjson", rows.data);
    buf_clear(&rows);
    expect_counts(imp, 2, 0, 0, 2);
    expect_error(imp, 0, 1, "n", "is not a known field");
    expect_error(imp, 1, 2, "stock", "is a number out of range");
    json_decref(imp);
}

/* A header of many attr.<key> columns (an export of a catalog with many
 * keys) is read whole: 300 of them, one row with a value in the last. */
static void test_a_wide_csv_header_is_read(void **state) {
    (void)state;
    struct buf csv = {0};
    buf_puts(&csv, "sku,name,price,stock");
    for (int i = 0; i < 300; i++)
        buf_printf(&csv, ",attr.broad_%d", i);
    buf_puts(&csv, "\r\nBROADHDR-1,Broad,1,1");
    for (int i = 0; i < 300; i++)
        buf_puts(&csv, i == 299 ? ",7" : ",");
    buf_puts(&csv, "\r\n");
    json_t *imp = run_import("", "text/csv", csv.data);
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    buf_clear(&csv);
    expect_sql("{\"broad_299\": 7}",
               "SELECT attributes::text FROM products WHERE sku = 'BROADHDR-1'");
}

/* A row with other errors names an unknown category with them, as the
 * same body on POST /products does. */
static void test_an_unknown_category_is_named_with_other_errors(void **state) {
    (void)state;
    json_t *imp = run_import("", "application/x-ndjson",
                             "{\"sku\":\"UC-1\",\"name\":\"q\",\"price\":\"abc\",\"stock\":1,"
                             "\"category_id\":999999}\n"
                             "{\"sku\":\"UC-2\",\"name\":\"q\",\"price\":\"abc\",\"stock\":1,"
                             "\"category\":\"no-such-shelf\"}\n");
    expect_counts(imp, 2, 0, 0, 2);
    expect_error(imp, 0, 1, "price", NULL);
    expect_error(imp, 1, 1, "category_id", "no such category");
    expect_error(imp, 2, 2, "price", NULL);
    expect_error(imp, 3, 2, "category", "no such category");
    json_decref(imp);
}

/* What every unknown column's message ends with. */
#define KNOWN_COLUMNS                                                                              \
    ". Known columns: sku, name, slug, description, price, currency, stock, category, is_active, " \
    "attr.<key>"

static void test_csv_bad_header_fails_the_import(void **state) {
    (void)state;
    json_t *imp = run_import("", "text/csv", "sku,colour,price\nA,red,1\n");
    assert_string_equal(jstr(imp, "status"), "failed");
    expect_error(imp, 0, 1, "colour", "column 2 \"colour\" is not a known column" KNOWN_COLUMNS);
    json_decref(imp);
}

/* A header error names the column as given and says what to fix where it
 * is evident: spaces around a name, or another separator than commas. */
static void test_csv_header_errors_say_what_to_fix(void **state) {
    (void)state;
    json_t *imp = run_import("", "text/csv", "sku ,name,price,stock\nHDR-1,Header,1,1\n");
    assert_string_equal(jstr(imp, "status"), "failed");
    expect_error(
        imp, 0, 1, NULL,
        "column 1 \"sku \" is not a known column; remove the spaces around it" KNOWN_COLUMNS);
    json_decref(imp);
    imp = run_import("", "text/csv", "sku;name;price;stock\nHDR-1;Header;1;1\n");
    assert_string_equal(jstr(imp, "status"), "failed");
    expect_error(imp, 0, 1, "sku;name;price;stock",
                 "column 1 \"sku;name;price;stock\" is not a known column; columns must be "
                 "separated by commas" KNOWN_COLUMNS);
    json_decref(imp);
}

/* Rows of separators alone (what a spreadsheet leaves of rows it cleared)
 * are blank lines: skipped, not counted; a quoted empty cell is a value. */
static void test_csv_rows_of_separators_alone_are_skipped(void **state) {
    (void)state;
    json_t *imp = run_import(
        "", "text/csv", "sku,name,price,stock\nSEP-1,Separated,1,1\n,,,\r\n , ,\t,\n\"\",,,\n");
    assert_string_equal(jstr(imp, "status"), "done");
    expect_counts(imp, 2, 1, 0, 1);
    json_t *errors = json_object_get(imp, "errors");
    for (size_t i = 0; i < json_array_size(errors); i++)
        assert_int_equal(jint(json_array_get(errors, i), "line"), 5);
    json_decref(imp);
}

/* A CSV is_active says what it may hold; an NDJSON line that is not
 * UTF-8 is told so, as a CSV cell is. */
static void test_cells_and_lines_say_what_they_must_hold(void **state) {
    (void)state;
    json_t *imp =
        run_import("", "text/csv", "sku,name,price,stock,is_active\nACT-1,Active,1,1,TRUE\n");
    expect_counts(imp, 1, 0, 0, 1);
    expect_error(imp, 0, 2, "is_active", "must be true or false");
    json_decref(imp);
    imp = run_import("", "application/x-ndjson",
                     "{\"sku\":\"UTF-1\",\"name\":\"Cr\xe9me\",\"price\":\"1\",\"stock\":1}\n");
    expect_counts(imp, 1, 0, 0, 1);
    expect_error(imp, 0, 1, NULL, "the line is not valid UTF-8 (the file must be UTF-8 text)");
    json_decref(imp);
}

/* ---- the worker's log ------------------------------------------------------ */

static long worker_log_size(void) {
    struct stat st;
    return stat(worker.log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* Whether the worker's log, from offset on, has the line of import id's
 * end (import.done or import.failed); the line into line. */
static bool has_end_line(long offset, long long id, char *line, size_t cap) {
    char done[64], failed[64];
    snprintf(done, sizeof done, "\"msg\":\"import %lld: ", id);
    snprintf(failed, sizeof failed, "\"msg\":\"import %lld failed: ", id);
    FILE *f = fopen(worker.log_path, "r");
    bool found = false;
    if (f && fseek(f, offset, SEEK_SET) == 0)
        while (!found && fgets(line, (int)cap, f))
            found = strstr(line, done) || strstr(line, failed);
    if (f)
        fclose(f);
    return found;
}

/* Run an import and wait for its end's line in the worker's log (written
 * once the import is seen ended); that line into line. */
static void import_logged(const char *query, const char *body, const char *status, char *line,
                          size_t cap) {
    long offset = worker_log_size();
    json_t *imp = run_import(query, "text/csv", body);
    assert_string_equal(jstr(imp, "status"), status);
    long long id = jint(imp, "id");
    json_decref(imp);
    for (int i = 0; i < 1000 && !has_end_line(offset, id, line, cap); i++)
        usleep(20 * 1000);
    if (!has_end_line(offset, id, line, cap))
        fail_msg("the worker logged no end of import %lld", id);
}

/* A failed import is logged as its own event, a warning that says why
 * (an operator finds failures by it); a finished one is import.done. */
static void test_a_failed_import_is_logged_as_failed(void **state) {
    (void)state;
    char line[4096];
    import_logged("", "sku ,name,price,stock\nLOG-1,Logged,1,1\n", "failed", line, sizeof line);
    assert_non_null(strstr(line, "\"level\":\"warn\",\"event\":\"import.failed\""));
    assert_non_null(strstr(line, " failed: line 1: column 1 \\\"sku \\\" is not a known column"));
    /* the header's own line, after a blank line and a row of separators */
    import_logged("", "\n,,\nsku ,name,price,stock\nLOG-5,Logged,1,1\n", "failed", line,
                  sizeof line);
    assert_non_null(strstr(line, " failed: line 3: column 1 \\\"sku \\\" is not a known column"));
    import_logged("?atomic=true", "sku,name,price,stock\nLOG-2,Logged,1,1\nLOG-3,,1,1\n", "failed",
                  line, sizeof line);
    assert_non_null(strstr(line, "\"event\":\"import.failed\""));
    assert_non_null(strstr(line, " failed: atomic, and 1 of its 2 rows failed: nothing applied"));
    import_logged("", "sku,name,price,stock\nLOG-4,Logged,1,1\n", "done", line, sizeof line);
    assert_non_null(strstr(line, "\"level\":\"info\",\"event\":\"import.done\""));
}

/* ---- modes ------------------------------------------------------------- */

static void test_create_mode_refuses_existing_skus(void **state) {
    (void)state;
    json_decref(run_import("", "text/csv", "sku,name,price,stock\nMODE-1,First,1,1\n"));
    json_t *imp = run_import("?mode=create", "text/csv",
                             "sku,name,price,stock\nMODE-1,Again,1,1\nMODE-2,New,1,1\n");
    assert_string_equal(jstr(imp, "mode"), "create");
    expect_counts(imp, 2, 1, 0, 1);
    expect_error(imp, 0, 2, "sku", "already exists");
    json_decref(imp);
    expect_sql("First", "SELECT name FROM products WHERE sku = 'MODE-1'");
}

static void test_atomic_applies_nothing_when_a_row_fails(void **state) {
    (void)state;
    json_t *imp = run_import("?atomic=true", "text/csv",
                             "sku,name,price,stock\nATOM-1,Fine,1,1\nATOM-2,Bad,-1,1\n");
    assert_string_equal(jstr(imp, "status"), "failed");
    assert_true(json_is_true(json_object_get(imp, "atomic")));
    expect_counts(imp, 2, 0, 0, 1);
    expect_error(imp, 0, 3, "price", NULL);
    json_decref(imp);
    expect_sql("0", "SELECT count(*) FROM products WHERE sku LIKE 'ATOM-%%'");
    imp = run_import("?atomic=true", "text/csv", "sku,name,price,stock\nATOM-1,Fine,1,1\n");
    assert_string_equal(jstr(imp, "status"), "done");
    expect_counts(imp, 1, 1, 0, 0);
    /* finished when it ended, not when its one transaction began (when
     * its rows were written) */
    expect_sql("t",
               "SELECT finished_at > (SELECT created_at FROM products WHERE sku = 'ATOM-1')"
               " FROM imports WHERE id = %lld",
               (long long)json_integer_value(json_object_get(imp, "id")));
    json_decref(imp);
}

/* ---- errors ------------------------------------------------------------ */

static void test_errors_stream_has_them_all(void **state) {
    (void)state;
    struct buf body = {0};
    buf_puts(&body, "sku,name,price,stock\n");
    for (int i = 0; i < 250; i++)
        buf_printf(&body, "ERR-%d,Row,%s,1\n", i, "bad");
    json_t *imp = run_import("", "text/csv", body.data);
    buf_clear(&body);
    expect_counts(imp, 250, 0, 0, 250);
    assert_int_equal(json_array_size(json_object_get(imp, "errors")), 100);
    /* the list shows it as GET does, with the same first 100 errors */
    struct http_res *listed = call("GET", IMPORTS "?limit=1", staff_token, NULL);
    expect_status(listed, 200, "list");
    assert_true(json_equal(json_array_get(json_object_get(listed->json, "items"), 0), imp));
    http_res_free(listed);
    char path[64];
    snprintf(path, sizeof path, "%s/%lld/errors", IMPORTS, jint(imp, "id"));
    json_decref(imp);
    struct http_res *r = call("GET", path, staff_token, NULL);
    expect_status(r, 200, "errors");
    assert_non_null(strstr(http_header(r, "Content-Type"), "application/x-ndjson"));
    size_t lines = 0;
    for (char *p = r->body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        json_t *e = json_loadb(p, strcspn(p, "\n"), 0, NULL);
        assert_non_null(e);
        assert_int_equal(jint(e, "line"), (long long)lines + 2);
        assert_string_equal(jstr(e, "field"), "price");
        json_decref(e);
        lines++;
    }
    assert_int_equal(lines, 250);
    http_res_free(r);
}

/* ---- the list ------------------------------------------------------------ */

/* Every page of GET /imports?<query>, following next_cursor: the ids in
 * order, comma-joined (owned). Checks the envelope of each page. */
static char *list_all(const char *query, int limit) {
    struct buf ids = {0};
    char path[4096];
    char *cursor = NULL;
    for (int page = 0; page < 1000; page++) {
        snprintf(path, sizeof path, "%s?limit=%d%s%s%s", IMPORTS, limit, query,
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        struct http_res *r = call("GET", path, staff_token, NULL);
        expect_status(r, 200, "imports list");
        json_t *items = json_object_get(r->json, "items");
        assert_true(json_array_size(items) <= (size_t)limit);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            /* the import JSON, its first errors included */
            assert_true(json_is_array(json_object_get(it, "errors")));
            assert_non_null(json_object_get(it, "status"));
            assert_timestamp(jstr(it, "created_at"));
            buf_printf(&ids, "%s%lld", ids.len ? "," : "", jint(it, "id"));
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        if (json_is_string(next))
            cursor = take(json_string_value(next));
        else
            assert_true(json_is_null(next));
        http_res_free(r);
        if (!cursor)
            return buf_take(&ids, NULL);
    }
    fail_msg("the list did not end");
    return NULL;
}

static void test_list_pages_newest_first(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        json_decref(run_import("", "text/csv", "sku,name,price,stock\nLIST-1,Listed,1,1\n"));
    char *want = harness_sql(&server, "SELECT id FROM imports WHERE status <> 'uploading'"
                                      " ORDER BY created_at DESC, id DESC");
    char *want_asc = harness_sql(&server, "SELECT id FROM imports WHERE status <> 'uploading'"
                                          " ORDER BY created_at, id");
    assert_non_null(want);
    assert_non_null(want_asc);
    char *got = list_all("", 2);
    assert_string_equal(got, want);
    free(got);
    got = list_all("&sort=-created_at", 100);
    assert_string_equal(got, want);
    free(got);
    got = list_all("&sort=created_at", 3);
    assert_string_equal(got, want_asc);
    free(got);
    free(want_asc);
    /* include_total counts them all */
    char *count = harness_sql(&server, "SELECT count(*) FROM imports WHERE status <> 'uploading'");
    struct http_res *r = call("GET", IMPORTS "?limit=1&include_total=true", staff_token, NULL);
    expect_status(r, 200, "total");
    assert_int_equal(jint(r->json, "total"), strtoll(count, NULL, 10));
    assert_int_equal(json_array_size(json_object_get(r->json, "items")), 1);
    /* the first item is the newest import, as GET shows it (less errors) */
    json_t *first = json_array_get(json_object_get(r->json, "items"), 0);
    assert_int_equal(jint(first, "id"), strtoll(want, NULL, 10));
    assert_string_equal(jstr(first, "status"), "done");
    expect_counts(first, 1, 0, 1, 0);
    /* a cursor is bound to its sort */
    char path[4096];
    snprintf(path, sizeof path, IMPORTS "?limit=1&sort=created_at&cursor=%s",
             jstr(r->json, "next_cursor"));
    expect_problem(call("GET", path, staff_token, NULL), 400, NULL);
    http_res_free(r);
    free(count);
    free(want);
}

static void test_list_checks(void **state) {
    (void)state;
    expect_problem(call("GET", IMPORTS "?limit=0", staff_token, NULL), 400, NULL);
    expect_problem(call("GET", IMPORTS "?limit=101", staff_token, NULL), 400, NULL);
    expect_problem(call("GET", IMPORTS "?sort=status", staff_token, NULL), 400, NULL);
    expect_problem(call("GET", IMPORTS "?include_total=maybe", staff_token, NULL), 400, NULL);
    expect_problem(call("GET", IMPORTS "?cursor=abc.def", staff_token, NULL), 400, NULL);
    /* a cursor of another list is refused */
    struct http_res *r = call("GET", "/api/v1/products?limit=1", NULL, NULL);
    expect_status(r, 200, "products");
    const char *other = jstr(r->json, "next_cursor");
    char path[4096];
    snprintf(path, sizeof path, IMPORTS "?cursor=%s", other);
    expect_problem(call("GET", path, staff_token, NULL), 400, NULL);
    http_res_free(r);
    expect_problem(call("GET", IMPORTS, customer_token, NULL), 403, NULL);
    expect_problem(call("GET", IMPORTS, NULL, NULL), 401, NULL);
}

/* ---- the request ---------------------------------------------------------- */

static void test_request_checks(void **state) {
    (void)state;
    const char *csv = "sku,name,price,stock\n";
    expect_problem(upload("", staff_token, "application/json", "{}", 2, NULL), 415, NULL);
    expect_problem(upload("?mode=merge", staff_token, "text/csv", csv, strlen(csv), NULL), 400,
                   NULL);
    expect_problem(upload("?mode=", staff_token, "text/csv", csv, strlen(csv), NULL), 400, NULL);
    expect_problem(upload("?atomic=yes", staff_token, "text/csv", csv, strlen(csv), NULL), 400,
                   NULL);
    /* an empty boolean parameter is ignored */
    json_t *empty = run_import("?atomic=", "text/csv", "sku,name,price,stock\nEMPTY-ATOM,A,1,1\n");
    assert_string_equal(json_string_value(json_object_get(empty, "status")), "done");
    assert_false(json_is_true(json_object_get(empty, "atomic")));
    json_decref(empty);
    expect_problem(upload("", customer_token, "text/csv", csv, strlen(csv), NULL), 403, NULL);
    expect_problem(upload("", NULL, "text/csv", csv, strlen(csv), NULL), 401, NULL);
    /* IMPORT_MAX_BYTES is 2 MiB here. */
    size_t big = 2 * 1024 * 1024 + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'x', big);
    expect_problem(upload("", staff_token, "text/csv", huge, big, NULL), 413, NULL);
    free(huge);
    expect_problem(call("GET", IMPORTS "/999999", staff_token, NULL), 404, NULL);
    expect_problem(call("GET", IMPORTS "/999999/errors", staff_token, NULL), 404, NULL);
    expect_problem(call("GET", IMPORTS "/1", customer_token, NULL), 403, NULL);
}

static void test_idempotency_key_answers_the_first_import(void **state) {
    (void)state;
    const char *csv = "sku,name,price,stock\nIDEM-IMP,Once,1,1\n";
    struct http_res *a =
        upload("", staff_token, "text/csv", csv, strlen(csv), "Idempotency-Key: import-once");
    struct http_res *b =
        upload("", staff_token, "text/csv", csv, strlen(csv), "Idempotency-Key: import-once");
    expect_status(a, 202, "first");
    expect_status(b, 202, "repeat");
    assert_string_equal(http_header(b, "Idempotent-Replayed"), "true");
    assert_int_equal(jint(a->json, "id"), jint(b->json, "id"));
    http_res_free(a);
    http_res_free(b);
    struct http_res *c = upload("?mode=create", staff_token, "text/csv", csv, strlen(csv),
                                "Idempotency-Key: import-once");
    expect_problem(c, 422, "Idempotency-Key");
    /* the same bytes as another format are another request; the media
     * type's case and parameters do not matter */
    c = upload("", staff_token, "application/x-ndjson", csv, strlen(csv),
               "Idempotency-Key: import-once");
    expect_problem(c, 422, "Idempotency-Key");
    c = upload("", staff_token, "Text/CSV; charset=utf-8", csv, strlen(csv),
               "Idempotency-Key: import-once");
    expect_status(c, 202, "the same type written otherwise");
    assert_string_equal(http_header(c, "Idempotent-Replayed"), "true");
    http_res_free(c);
}

/* A repeat of a keyed upload larger than a stored chunk is answered from
 * its key without storing its body again: no upload is left behind. */
static void test_a_keyed_repeat_stores_no_second_upload(void **state) {
    (void)state;
    struct buf csv = {0};
    buf_puts(&csv, "sku,name,price,stock\n");
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    for (int i = 0; csv.len < 600 * 1024; i++) /* more than a stored chunk (512 KiB) */
        buf_printf(&csv, "IDEM-BIG-%d,%s,1,1\n", i, name);
    const char *key = "Idempotency-Key: import-big-once";
    struct http_res *a = upload("", staff_token, "text/csv", csv.data, csv.len, key);
    expect_status(a, 202, "first");
    struct http_res *b = upload("", staff_token, "text/csv", csv.data, csv.len, key);
    expect_status(b, 202, "repeat");
    assert_string_equal(http_header(b, "Idempotent-Replayed"), "true");
    assert_int_equal(jint(a->json, "id"), jint(b->json, "id"));
    csv.data[csv.len - 2] = '2'; /* another body with the key */
    expect_problem(upload("", staff_token, "text/csv", csv.data, csv.len, key), 422,
                   "Idempotency-Key");
    expect_sql("1", "SELECT count(*) FROM imports WHERE id >= %lld",
               (long long)jint(a->json, "id"));
    expect_sql("0", "SELECT count(*) FROM imports WHERE status = 'uploading'");
    json_decref(await_import(jint(a->json, "id")));
    http_res_free(a);
    http_res_free(b);
    buf_clear(&csv);
}

/* ---- a key while its upload arrives ----------------------------------------- */

/* A keyed CSV upload of about 1 MiB (more than two stored chunks). */
static void big_csv(struct buf *csv, const char *tag) {
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    buf_puts(csv, "sku,name,price,stock\n");
    for (int i = 0; csv->len < 1024 * 1024; i++)
        buf_printf(csv, "%s-%d,%s,1,1\n", tag, i, name);
}

static void send_all(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* Poll sql (one value) until it is want; fails after 30 s. */
static void await_sql(const char *want, const char *sql) {
    for (int i = 0; i < 3000; i++) {
        char *v = harness_sql_value(&server, "%s", sql);
        bool there = strcmp(v, want) == 0;
        free(v);
        if (there)
            return;
        usleep(10 * 1000);
    }
    fail_msg("%s: never %s", sql, want);
}

/* Start an upload with key over a socket of the test's own (framing: its
 * Content-Length or Transfer-Encoding header), sending its headers and
 * first (already framed), and hold it once its first chunk is stored:
 * its headers have long been read, and its body has not all arrived.
 * The socket. */
static int hold_upload(const char *key, const char *framing, const char *first, size_t len) {
    char head[8192];
    int n = snprintf(head, sizeof head,
                     "POST " IMPORTS " HTTP/1.1\r\nHost: localhost\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: text/csv\r\n"
                     "Idempotency-Key: %s\r\n%s\r\nConnection: close\r\n\r\n",
                     staff_token, key, framing);
    assert_true(n > 0 && (size_t)n < sizeof head);
    expect_sql("0", "SELECT count(*) FROM imports WHERE status = 'uploading'");
    int fd = raw_connect();
    send_all(fd, head, (size_t)n);
    send_all(fd, first, len);
    await_sql("1", "SELECT count(*) FROM imports WHERE status = 'uploading'");
    return fd;
}

/* hold_upload of the first half of csv, sent with its Content-Length. */
static int hold_half(const struct buf *csv, const char *key) {
    char framing[64];
    snprintf(framing, sizeof framing, "Content-Length: %zu", csv->len);
    return hold_upload(key, framing, csv->data, csv->len / 2);
}

/* The answer on fd once the server closes it, NUL-ended in out. */
static void read_answer(int fd, char *out, size_t cap) {
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    out[got] = '\0';
}

/* Send the rest of the held upload and read its answer: its import id. */
static long long finish_upload(int fd, const struct buf *csv) {
    static char answer[64 * 1024];
    send_all(fd, csv->data + csv->len / 2, csv->len - csv->len / 2);
    read_answer(fd, answer, sizeof answer);
    const char *body = strstr(answer, "\r\n\r\n");
    assert_non_null(body);
    if (strncmp(answer, "HTTP/1.1 202 ", 13) != 0)
        fail_msg("the held upload was answered: %s", answer);
    json_t *imp = json_loads(body + 4, 0, NULL);
    assert_non_null(imp);
    long long id = jint(imp, "id");
    json_decref(imp);
    return id;
}

/* A repeat of body under key while its first upload is held: a 409. */
static void expect_repeat_in_progress(const char *key, const struct buf *body) {
    char header[128];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    expect_problem(upload("", staff_token, "text/csv", body->data, body->len, header), 409,
                   "Idempotency-Key");
}

/* The first upload under key ended without an answer kept: once its
 * claim is let go, a retry of body runs (no replay). */
static void expect_retry_runs(const char *key, const struct buf *body) {
    char header[128], claims[256];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    snprintf(claims, sizeof claims, "SELECT count(*) FROM idempotency_keys WHERE key = '%s'", key);
    await_sql("0", claims);
    /* the abandoned upload, which the worker would delete later */
    free(harness_sql_value(&server, "DELETE FROM imports WHERE status = 'uploading' RETURNING 1"));
    struct http_res *retry = upload("", staff_token, "text/csv", body->data, body->len, header);
    expect_status(retry, 202, "retry");
    assert_null(http_header(retry, "Idempotent-Replayed"));
    json_decref(await_import(jint(retry->json, "id")));
    http_res_free(retry);
}

/* A repeat sent while the first upload with its key is still arriving is
 * the 409 of a request in progress, answered on its headers; the first
 * then completes, and a later repeat replays it. */
static void test_a_repeat_while_the_first_upload_arrives_is_409(void **state) {
    (void)state;
    struct buf csv = {0};
    big_csv(&csv, "HELD");
    const char *key = "Idempotency-Key: import-held";
    int fd = hold_half(&csv, "import-held");
    expect_repeat_in_progress("import-held", &csv);
    long long id = finish_upload(fd, &csv);
    struct http_res *again = upload("", staff_token, "text/csv", csv.data, csv.len, key);
    expect_status(again, 202, "repeat");
    assert_string_equal(http_header(again, "Idempotent-Replayed"), "true");
    assert_int_equal(jint(again->json, "id"), id);
    http_res_free(again);
    csv.data[csv.len - 2] = '2'; /* another body with the key */
    expect_problem(upload("", staff_token, "text/csv", csv.data, csv.len, key), 422,
                   "Idempotency-Key");
    expect_sql("1", "SELECT count(*) FROM imports WHERE id >= %lld", id);
    json_decref(await_import(id));
    buf_clear(&csv);
}

/* An upload whose client goes before its body is in keeps nothing: its
 * key is let go, and a retry with it runs. */
static void test_a_key_whose_upload_was_abandoned_runs_again(void **state) {
    (void)state;
    struct buf csv = {0};
    big_csv(&csv, "GONE");
    int fd = hold_half(&csv, "import-gone");
    expect_repeat_in_progress("import-gone", &csv);
    close(fd);
    expect_retry_runs("import-gone", &csv);
    buf_clear(&csv);
}

/* An upload refused past IMPORT_MAX_BYTES once its body is in (chunked,
 * so no size was declared) keeps no answer (a 413): its key is let go,
 * and a retry with it runs. */
static void test_a_key_whose_upload_was_too_large_runs_again(void **state) {
    (void)state;
    static char answer[64 * 1024];
    struct buf body = {0}, chunk = {0};
    big_csv(&body, "HUGE");
    buf_printf(&chunk, "%zx\r\n", body.len);
    buf_append(&chunk, body.data, body.len);
    buf_puts(&chunk, "\r\n");
    int fd = hold_upload("import-huge", "Transfer-Encoding: chunked", chunk.data, chunk.len);
    expect_repeat_in_progress("import-huge", &body);
    /* twice more: past the 2 MiB IMPORT_MAX_BYTES of this server */
    send_all(fd, chunk.data, chunk.len);
    send_all(fd, chunk.data, chunk.len);
    send_all(fd, "0\r\n\r\n", 5);
    read_answer(fd, answer, sizeof answer);
    if (strncmp(answer, "HTTP/1.1 413 ", 13) != 0)
        fail_msg("the upload past the limit was answered: %s", answer);
    expect_retry_runs("import-huge", &body);
    buf_clear(&body);
    buf_clear(&chunk);
}

/* A claim left by a server that stopped mid-upload holds its key until it
 * expires, and no longer. */
static void test_a_claim_of_a_stopped_server_expires(void **state) {
    (void)state;
    const char *csv = "sku,name,price,stock\nCLAIM-LEFT,Left,1,1\n";
    const char *key = "Idempotency-Key: import-left";
    free(harness_sql_value(&server,
                           "INSERT INTO idempotency_keys (scope, path, key, claim, expires_at)"
                           " SELECT 'user:' || id, '" IMPORTS "', 'import-left', md5('left'),"
                           " now() + interval '1 hour' FROM users"
                           " WHERE email = 'imports-staff@example.com' RETURNING 1"));
    expect_problem(upload("", staff_token, "text/csv", csv, strlen(csv), key), 409,
                   "Idempotency-Key");
    free(harness_sql_value(&server, "UPDATE idempotency_keys SET expires_at = now()"
                                    " WHERE key = 'import-left' RETURNING 1"));
    struct http_res *r = upload("", staff_token, "text/csv", csv, strlen(csv), key);
    expect_status(r, 202, "after the claim expired");
    json_decref(await_import(jint(r->json, "id")));
    http_res_free(r);
}

/* ---- fixtures ------------------------------------------------------------- */

/* ---- the job run in this process: a lost lease, a resume ------------------ */

static const char *setting(const char *name, void *ud) {
    (void)ud;
    return strcmp(name, "DATABASE_URL") == 0 ? server.database_url : NULL;
}

/* An import's job run in this process, as a worker would: one config and
 * one connection of this thread for every such test (closed by stop). */
static struct config job_cfg;
static bool job_cfg_loaded;

struct held_job {
    struct job job;
    char *job_id;
};

/* Import id's job, running and held by holder; it runs as "this-worker". */
static void hold_job(struct held_job *h, const char *id, const char *holder) {
    char err[256];
    if (!job_cfg_loaded) {
        assert_true(config_load(&job_cfg, setting, NULL, err, sizeof err));
        nx_config = &job_cfg;
        job_cfg_loaded = true;
    }
    h->job_id = harness_sql_value(
        &server,
        "INSERT INTO jobs (kind, payload, state, locked_by, lease_expires_at, attempts)"
        " VALUES ('import', json_build_object('import_id', %s::bigint), 'running',"
        " '%s', now() + interval '1 hour', 1) RETURNING id",
        id, holder);
    h->job =
        (struct job){.id = strtoll(h->job_id, NULL, 10),
                     .payload = json_pack("{s:I}", "import_id", (json_int_t)strtoll(id, NULL, 10))};
    snprintf(h->job.kind, sizeof h->job.kind, "import");
    snprintf(h->job.worker, sizeof h->job.worker, "this-worker");
}

static bool run_held(struct held_job *h) {
    char err[256];
    struct db *db = db_thread("imports-jobs");
    assert_non_null(db);
    return import_job(&job_cfg, db, &h->job, err, sizeof err);
}

/* Run it as a bulk load would run a large upload (this one is small). */
static bool run_held_in_bulk(struct held_job *h) {
    int min_bytes = job_cfg.import_bulk_min_bytes;
    job_cfg.import_bulk_min_bytes = 100;
    bool done = run_held(h);
    job_cfg.import_bulk_min_bytes = min_bytes;
    return done;
}

static void empty_catalog(void) {
    char *emptied = harness_sql(&server, "TRUNCATE products, product_variants CASCADE");
    assert_non_null(emptied);
    free(emptied);
}

static void release_job(struct held_job *h) {
    free(harness_sql_value(&server, "DELETE FROM jobs WHERE id = %s RETURNING 1", h->job_id));
    json_decref(h->job.payload);
    free(h->job_id);
}

/* A runner whose worker no longer holds the job's lease (it ran out and
 * another worker claimed the job) saves no progress and commits no row:
 * its batch is rolled back and it stops. The holder applies the rows. */
static void test_a_runner_without_the_lease_applies_nothing(void **state) {
    (void)state;
    struct held_job h;
    /* an import queued by hand, its job held by another worker */
    char *id = harness_sql_value(
        &server, "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status)"
                 " SELECT id, 'csv', 'upsert', false, 'queued' FROM users LIMIT 1 RETURNING id),"
                 " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
                 " convert_to(E'sku,name,price,stock\\nLEASE-1,Leased,1,1\\n', 'UTF8') FROM i)"
                 " SELECT id FROM i");
    hold_job(&h, id, "other-worker");
    assert_false(run_held(&h));
    expect_sql("0", "SELECT count(*) FROM products WHERE sku = 'LEASE-1'");
#define IMPORT_STATE "SELECT rows || '|' || resume_line || '|' || status FROM imports WHERE id = %s"
    expect_sql("0|1|running", IMPORT_STATE, id);
    /* the holder runs it: once */
    free(harness_sql_value(&server,
                           "UPDATE jobs SET locked_by = 'this-worker' WHERE id = %s"
                           " RETURNING 1",
                           h.job_id));
    assert_true(run_held(&h));
    expect_sql("1|3|done", IMPORT_STATE, id);
    expect_sql("1", "SELECT count(*) FROM products WHERE sku = 'LEASE-1'");
    release_job(&h);
    free(id);
}

/* A trigger name that cancels (as PostgreSQL cancels a statement) every
 * insert into products for which the condition holds; stop_cancelling
 * drops it. */
static void cancel_inserts(const char *name, const char *condition) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
             " RAISE EXCEPTION 'cancelled' USING ERRCODE = '57014'; END $$",
             name);
    free(harness_sql(&server, sql));
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER %s BEFORE INSERT ON products FOR EACH ROW WHEN (%s)"
             " EXECUTE FUNCTION %s()",
             name, condition, name);
    free(harness_sql(&server, sql));
}

static void stop_cancelling(const char *name) {
    char sql[256];
    snprintf(sql, sizeof sql, "DROP TRIGGER %s ON products", name);
    free(harness_sql(&server, sql));
    snprintf(sql, sizeof sql, "DROP FUNCTION %s()", name);
    free(harness_sql(&server, sql));
}

/* An import whose every attempt fails ends failed when its last attempt
 * does, saying why, instead of running for good; before its last attempt
 * it stays running, to resume. The failure: a write PostgreSQL cancels. */
static void test_the_last_failed_attempt_ends_the_import(void **state) {
    (void)state;
    cancel_inserts("give_up_cancel", "NEW.sku LIKE 'GIVEUP-%'");
    char *id = harness_sql_value(
        &server, "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status)"
                 " SELECT id, 'csv', 'upsert', true, 'queued' FROM users LIMIT 1 RETURNING id),"
                 " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
                 " convert_to(E'sku,name,price,stock\\nGIVEUP-1,Given up,1,1\\n', 'UTF8') FROM i)"
                 " SELECT id FROM i");
    struct held_job h;
    hold_job(&h, id, "this-worker");
    h.job.attempts = 1;
    h.job.max_attempts = 2;
    assert_false(run_held(&h));
    expect_sql("running|0",
               "SELECT status || '|' || (SELECT count(*) FROM import_errors"
               " WHERE import_id = %s) FROM imports WHERE id = %s",
               id, id);
    h.job.attempts = 2; /* the last */
    assert_false(run_held(&h));
    expect_sql("failed|0|1|the import stopped on a server error at each of its attempts; upload "
               "it again",
               "SELECT i.status || '|' || i.created || '|' || e.line || '|' || e.message"
               " FROM imports i JOIN import_errors e ON e.import_id = i.id WHERE i.id = %s",
               id);
    expect_sql("0", "SELECT count(*) FROM products WHERE sku LIKE 'GIVEUP-%%'");
    release_job(&h);
    stop_cancelling("give_up_cancel");
    free(id);
}

/* An import queued by hand: a CSV of one row with sku, in chunk 0. */
static char *queued_import(const char *sku, bool atomic) {
    return harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status)"
        " SELECT id, 'csv', 'upsert', %s, 'queued' FROM users LIMIT 1 RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
        " convert_to(E'sku,name,price,stock\\n%s,Refunded,1,1\\n', 'UTF8') FROM i)"
        " SELECT id FROM i",
        atomic ? "true" : "false", sku);
}

/* An attempt that commits a batch counts as the first again: a worker
 * killed during each of many batches of a long import never uses up the
 * job's attempts. One whose work does not last (atomic: nothing commits
 * before the end) is not refunded. */
static void test_an_attempt_that_commits_a_batch_is_refunded(void **state) {
    (void)state;
    const char *sku[] = {"REFUND-1", "REFUND-2"};
    const char *attempts[] = {"1", "3"};
    for (int atomic = 0; atomic < 2; atomic++) {
        char *id = queued_import(sku[atomic], atomic);
        struct held_job h;
        hold_job(&h, id, "this-worker");
        free(harness_sql_value(&server, "UPDATE jobs SET attempts = 3 WHERE id = %s RETURNING 1",
                               h.job_id));
        h.job.attempts = 3;
        assert_true(run_held(&h));
        expect_sql("done", "SELECT status FROM imports WHERE id = %s", id);
        expect_sql(attempts[atomic], "SELECT attempts FROM jobs WHERE id = %s", h.job_id);
        release_job(&h);
        free(id);
    }
}

/* An attempt that resumes an upload already read to its end commits only
 * an empty last batch: no progress, so no refund (refunded, an attempt
 * failing after it, at the import's end, would be tried for good). */
static void test_an_attempt_without_progress_is_not_refunded(void **state) {
    (void)state;
    struct held_job h;
    char *id = harness_sql_value(
        &server,
        "WITH v (d) AS (VALUES (E'sku,name,price,stock\\nNOPROG-1,Read,1,1\\n')),"
        " i AS (INSERT INTO imports (user_id, format, mode, atomic, status, rows, created,"
        " resume_line, resume_offset) SELECT id, 'csv', 'upsert', false, 'running', 1, 1, 3,"
        " (SELECT octet_length(d) FROM v) FROM users LIMIT 1 RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data)"
        " SELECT i.id, 0, convert_to(v.d, 'UTF8') FROM i, v)"
        " SELECT id FROM i");
    hold_job(&h, id, "this-worker");
    free(harness_sql_value(&server, "UPDATE jobs SET attempts = 3 WHERE id = %s RETURNING 1",
                           h.job_id));
    h.job.attempts = 3;
    assert_true(run_held(&h));
    expect_sql("1|1|done",
               "SELECT rows || '|' || created || '|' || status FROM imports"
               " WHERE id = %s",
               id);
    expect_sql("3", "SELECT attempts FROM jobs WHERE id = %s", h.job_id);
    expect_sql("0", "SELECT count(*) FROM products WHERE sku = 'NOPROG-1'");
    release_job(&h);
    free(id);
}

/* The last attempt by count commits its first batch, so it is refunded
 * (counted as the first again), then fails on its second: the job is
 * retried, so the import stays running to resume rather than ending
 * failed on the count the attempt began with. */
static void test_a_refunded_last_attempt_that_fails_resumes(void **state) {
    (void)state;
    cancel_inserts("late_cancel", "NEW.sku = 'LATE-2001'");
    char *id = harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status)"
        " SELECT id, 'csv', 'upsert', false, 'queued' FROM users LIMIT 1 RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
        " convert_to(E'sku,name,price,stock\\n' || (SELECT string_agg(format('LATE-%%s,Late,1,1',"
        " n), E'\\n') FROM generate_series(1, 2001) n) || E'\\n', 'UTF8') FROM i)"
        " SELECT id FROM i");
    struct held_job h;
    hold_job(&h, id, "this-worker");
    free(harness_sql_value(&server,
                           "UPDATE jobs SET attempts = 3, max_attempts = 3 WHERE id = %s"
                           " RETURNING 1",
                           h.job_id));
    h.job.attempts = h.job.max_attempts = 3;
    assert_false(run_held(&h));
    expect_sql("1", "SELECT attempts FROM jobs WHERE id = %s", h.job_id);
    expect_sql("running|2000|0",
               "SELECT status || '|' || rows || '|' || (SELECT count(*) FROM import_errors"
               " WHERE import_id = %s) FROM imports WHERE id = %s",
               id, id);
    release_job(&h);
    stop_cancelling("late_cancel");
    free(id);
}

/* The write that ends an import after its last failed attempt can fail
 * with the outage that failed the attempt: the statement that makes the
 * job dead, recorded once the database is back, ends the import too, so
 * it never stays running with its job dead. A job whose payload names no
 * import is made dead all the same. */
static void test_the_statement_that_makes_a_job_dead_ends_its_import(void **state) {
    (void)state;
    char *id = queued_import("DEADFAIL-1", false);
    struct held_job h, bad;
    hold_job(&h, id, "this-worker"); /* loads job_cfg */
    hold_job(&bad, "0", "this-worker");
    free(harness_sql_value(&server,
                           "UPDATE jobs SET attempts = max_attempts, payload = CASE WHEN id = %s"
                           " THEN '{\"import_id\": \"x\"}' ELSE payload END"
                           " WHERE id IN (%s, %s) RETURNING 1",
                           bad.job_id, h.job_id, bad.job_id));
    struct held_job *both[] = {&h, &bad};
    for (int i = 0; i < 2; i++) {
        bool held = false;
        assert_int_equal(queue_fail(db_thread("imports-jobs"), &both[i]->job, "this-worker",
                                    "cannot reach the database", 0, &held),
                         NX_OK);
        assert_true(held);
        expect_sql("dead", "SELECT state FROM jobs WHERE id = %s", both[i]->job_id);
    }
    expect_sql("failed|true|0|1|" NX_IMPORT_FAILED_EACH_ATTEMPT,
               "SELECT i.status || '|' || (i.finished_at IS NOT NULL) || '|' ||"
               " (SELECT count(*) FROM import_chunks WHERE import_id = i.id) || '|' || e.line"
               " || '|' || e.message FROM imports i JOIN import_errors e ON e.import_id = i.id"
               " WHERE i.id = %s",
               id);
    release_job(&h);
    release_job(&bad);
    free(id);
}

static void settle_in_test(void *ctx, const struct job *job) {
    (void)ctx;
    struct db *db = db_thread("imports-jobs");
    assert_non_null(db);
    job_dead(&job_cfg, db, job);
}

/* A job whose worker stopped during its last attempt is made dead by the
 * reaper, and its import ends failed, saying why, instead of running for
 * good; its upload is let go. */
static void test_an_import_whose_job_dies_ends_failed(void **state) {
    (void)state;
    char *id = queued_import("REAPED-1", false);
    struct held_job h;
    hold_job(&h, id, "gone-worker"); /* loads job_cfg */
    free(harness_sql_value(&server,
                           "UPDATE jobs SET attempts = max_attempts, lease_expires_at = now() -"
                           " interval '1 second' WHERE id = %s RETURNING 1",
                           h.job_id));
    /* this suite's worker reaps too (every second): whichever reaper takes
     * the job settles it, and the import ends failed either way */
    char *status = NULL;
    for (int i = 0; i < 300 && !(status && strcmp(status, "failed") == 0); i++) {
        int reaped = 0;
        free(status);
        assert_int_equal(queue_reap(db_thread("imports-jobs"), settle_in_test, NULL, &reaped),
                         NX_OK);
        status = harness_sql_value(&server, "SELECT status FROM imports WHERE id = %s", id);
        if (strcmp(status, "failed") != 0)
            usleep(100000);
    }
    assert_string_equal(status, "failed");
    free(status);
    expect_sql("dead", "SELECT state FROM jobs WHERE id = %s", h.job_id);
    expect_sql("failed|true|0|1|the worker stopped during each of its attempts before it applied"
               " another batch; upload the import again",
               "SELECT i.status || '|' || (i.finished_at IS NOT NULL) || '|' ||"
               " (SELECT count(*) FROM import_chunks WHERE import_id = i.id) || '|' || e.line"
               " || '|' || e.message FROM imports i JOIN import_errors e ON e.import_id = i.id"
               " WHERE i.id = %s",
               id);
    expect_sql("0", "SELECT count(*) FROM products WHERE sku = 'REAPED-1'");
    release_job(&h);
    free(id);
}

/* A worker that restarts reads the upload from the saved offset, not from
 * the start: bytes before it are never parsed again (here an open quote
 * that, read from the start, would swallow the next row into line 3), and
 * a CSV's header is read from the first chunk. */
static void test_a_resumed_import_reads_from_its_offset(void **state) {
    (void)state;
    struct held_job h;
    /* resume_offset: the start of "Three" (line 4) */
    char *id = harness_sql_value(
        &server,
        "WITH v (s, d) AS (VALUES (0, E'name,sku,stock,price\\nOne,RS-1,1,1\\n'),"
        " (1, E'\"Two,RS-2,1,1\\nThree,RS-3,3,3\\n')),"
        " i AS (INSERT INTO imports (user_id, format, mode, atomic, status, rows, created,"
        " resume_line, resume_offset) SELECT id, 'csv', 'upsert', false, 'running', 2, 1, 4,"
        " (SELECT octet_length(d) FROM v WHERE s = 0) + octet_length(E'\"Two,RS-2,1,1\\n')"
        " FROM users LIMIT 1 RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data)"
        " SELECT i.id, v.s, convert_to(v.d, 'UTF8') FROM i, v)"
        " SELECT id FROM i");
    hold_job(&h, id, "this-worker");
    assert_true(run_held(&h));
    expect_sql("3|2|0|done",
               "SELECT rows || '|' || created || '|' || failed || '|' || status"
               " FROM imports WHERE id = %s",
               id);
    expect_sql("RS-3:300:3", "SELECT string_agg(sku || ':' || price_cents || ':' || stock, ',')"
                             " FROM products WHERE sku LIKE 'RS-%%'");
    release_job(&h);
    free(id);
}

/* A large import into an empty catalog drops the indexes that serve only
 * readers and builds them at its end; the unique ones stay, so its rows
 * are checked as ever (a slug taken by an earlier row). A runner that
 * stops after the drop leaves them listed, and the run that finishes the
 * import builds them. Last of the group: it empties the catalog. */
static void test_an_import_into_an_empty_catalog_loads_in_bulk(void **state) {
    (void)state;
    struct held_job h;
#define INDEXES                                                                                    \
    "SELECT count(*) FROM pg_indexes WHERE tablename IN"                                           \
    " ('products', 'product_variants', 'product_attribute_numbers')"
    char *indexes = harness_sql_value(&server, INDEXES);
    char *sku_key = harness_sql_value(&server, "SELECT 'products_sku_key'::regclass::oid");
    empty_catalog();
    char *id = harness_sql_value(
        &server, "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status, bytes)"
                 " SELECT id, 'csv', 'upsert', false, 'queued', 100 FROM users LIMIT 1"
                 " RETURNING id),"
                 " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
                 " convert_to(E'sku,name,slug,price,stock\\nBULK-1,One,bulk-1,1,1\\n"
                 "BULK-2,Two,bulk-1,2,2\\nBULK-1,One again,bulk-1,3,3\\n', 'UTF8') FROM i)"
                 " SELECT id FROM i");
    hold_job(&h, id, "other-worker");
    int min_bytes = job_cfg.import_bulk_min_bytes;
    job_cfg.import_bulk_min_bytes = 100;
    /* the runner without the lease drops the indexes, then stops */
    assert_false(run_held(&h));
    expect_sql("true|true|false", "SELECT EXISTS (SELECT FROM seed_pending_indexes)"
                                  " || '|' || (to_regclass('products_grams_idx') IS NULL)"
                                  " || '|' || (to_regclass('products_sku_key') IS NULL)");
    free(harness_sql_value(&server,
                           "UPDATE jobs SET locked_by = 'this-worker' WHERE id = %s"
                           " RETURNING 1",
                           h.job_id));
    assert_true(run_held(&h));
    job_cfg.import_bulk_min_bytes = min_bytes;
    expect_sql("3|1|1|1|done",
               "SELECT rows || '|' || created || '|' || updated || '|' || failed || '|' || status"
               " FROM imports WHERE id = %s",
               id);
    expect_sql("BULK-1:One again:300", "SELECT string_agg(sku || ':' || name || ':' || price_cents,"
                                       " ',') FROM products");
    expect_sql("f", "SELECT EXISTS (SELECT FROM seed_pending_indexes)");
    expect_sql(indexes, INDEXES);
    expect_sql(sku_key, "SELECT 'products_sku_key'::regclass::oid");
    release_job(&h);
    free(id);
    free(indexes);
    free(sku_key);
}

/* The tables the triggers derive from products and variants (facet
 * counts summed per key, numeric attributes, terms in created_at order),
 * as one digest: equal before and after nexus_derived_rebuild when they
 * are what the triggers or a rebuild would make. */
#define DERIVED_DIGEST                                                                             \
    "SELECT count(*) || ':' || md5(string_agg(r, ',' ORDER BY r)) FROM ("                          \
    " SELECT 'c' || scope || ':' || term || ':' || sum(n) AS r FROM facet_counts"                  \
    " GROUP BY scope, term HAVING sum(n) <> 0"                                                     \
    " UNION ALL SELECT 'n' || product_id || ':' || key || ':' || value"                            \
    " FROM product_attribute_numbers"                                                              \
    " UNION ALL SELECT 'a' || term || ':' || created_at || ':' || product_id"                      \
    " FROM product_attribute_order"                                                                \
    " UNION ALL SELECT 'o' || term || ':' || created_at || ':' || product_id || ':' || variant_id" \
    " || ':' || options_key || ':' || in_stock FROM product_option_order) d"
#define DERIVED_COUNTS                                                                             \
    "SELECT (SELECT coalesce(sum(n), 0) FROM facet_counts WHERE scope = 0 AND term = 0)"           \
    " || '|' || (SELECT count(*) FROM product_attribute_numbers)"                                  \
    " || '|' || (SELECT count(*) FROM product_option_order)"                                       \
    " || '|' || EXISTS (SELECT FROM derived_rebuild_pending)"

/* The numeric attributes of the products, as their trigger writes them. */
#define NUMBERS                                                                                    \
    "SELECT p.id, e.key, (e.value #>> '{}')::numeric FROM products p, jsonb_each(p.attributes) e"  \
    " WHERE jsonb_typeof(e.value) = 'number'"

/* The digest as it is, once the tables are rebuilt (owned). */
static char *derived_rebuilt(void) {
    free(harness_sql_value(&server, "SELECT nexus_derived_rebuild()"));
    return harness_sql_value(&server, DERIVED_DIGEST);
}

/* An import queued by hand (owned id). */
static char *queue_import(const char *format, const char *data) {
    return harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status, bytes)"
        " SELECT id, '%s', 'upsert', false, 'queued', 100 FROM users LIMIT 1 RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT id, 0,"
        " convert_to(E'%s', 'UTF8') FROM i)"
        " SELECT id FROM i",
        format, data);
}

/* Run it here, loading in bulk from bulk_min_bytes (0: the default). */
static void run_queued(const char *id, int bulk_min_bytes) {
    struct held_job h;
    hold_job(&h, id, "this-worker");
    int min_bytes = job_cfg.import_bulk_min_bytes;
    if (bulk_min_bytes)
        job_cfg.import_bulk_min_bytes = bulk_min_bytes;
    assert_true(run_held(&h));
    job_cfg.import_bulk_min_bytes = min_bytes;
    release_job(&h);
}

/* A bulk import leaves the derived tables to one rebuild at its end: after
 * it they are what a rebuild makes (a product updated by a later batch
 * included). A transaction that wrote with the triggers stepping aside
 * and committed (a worker killed after such a batch) leaves the rebuild
 * pending, and the next import to finish does it. */
/* A bulk load applies two batches at once: rows that name a product the
 * batch before creates, and a slug it takes, come out as they would one
 * batch at a time (the later batch waits, or is applied again after it). */
static void test_bulk_batches_apply_as_in_file_order(void **state) {
    (void)state;
    struct held_job h;
    empty_catalog();
    char *id = harness_sql_value(
        &server,
        "WITH i AS (INSERT INTO imports (user_id, format, mode, atomic, status, bytes)"
        " SELECT id, 'csv', 'upsert', false, 'queued', 100 FROM users LIMIT 1 RETURNING id),"
        " r AS (SELECT g, CASE WHEN g BETWEEN 2001 AND 2050"
        " THEN format('TB-%%s,Bulk again,,2.00,2', g - 2000)"
        " WHEN g = 2100 THEN 'TB-2100,Bulk 2100,tb-100,1.00,1'"
        " ELSE format('TB-%%s,Bulk %%s,tb-%%s,1.00,1', g, g, g) END AS line"
        " FROM generate_series(1, 4500) g),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data) SELECT i.id, 0,"
        " convert_to(E'sku,name,slug,price,stock\\n' || string_agg(r.line, E'\\n' ORDER BY r.g)"
        " || E'\\n', 'UTF8') FROM i, r GROUP BY i.id)"
        " SELECT id FROM i");
    hold_job(&h, id, "this-worker");
    assert_true(run_held_in_bulk(&h));
    expect_sql("4500|4449|50|1|done",
               "SELECT rows || '|' || created || '|' || updated || '|' || failed || '|' || status"
               " FROM imports WHERE id = %s",
               id);
    expect_sql("2101|slug|already exists",
               "SELECT string_agg(line || '|' || field || '|' || message, ',') FROM import_errors"
               " WHERE import_id = %s",
               id);
    expect_sql("4449|50|4449",
               "SELECT count(*) || '|' || count(*) FILTER (WHERE name = 'Bulk again'"
               " AND price_cents = 200 AND stock = 2 AND slug = 'tb-' || substr(sku, 4))"
               " || '|' || count(DISTINCT slug) FROM products");
    /* ids in the file's order, whichever batch inserted first */
    expect_sql("0", "SELECT count(*) FROM (SELECT substr(sku, 4)::integer AS n,"
                    " lag(substr(sku, 4)::integer) OVER (ORDER BY id) AS before FROM products) o"
                    " WHERE n < before");
    expect_sql("false|false", "SELECT EXISTS (SELECT FROM seed_pending_indexes) || '|' ||"
                              " EXISTS (SELECT FROM derived_rebuild_pending)");
    release_job(&h);
    free(id);
}

static void test_a_bulk_import_rebuilds_what_the_triggers_derive(void **state) {
    (void)state;
    free(harness_sql(&server, "TRUNCATE products, product_variants, product_attribute_order,"
                              " product_option_order CASCADE"));
    char rows[1200];
    snprintf(
        rows, sizeof rows,
        "{\"sku\":\"DR-1\",\"name\":\"Derived One\",\"price\":\"10\",\"stock\":3,"
        "\"category_id\":%lld,\"attributes\":{\"brand\":\"Kalo\",\"weight_g\":120}}\\n"
        "{\"name\":\"Derived Tee\",\"category_id\":%lld,\"attributes\":{\"brand\":\"Lomi\"},"
        "\"variants\":[{\"sku\":\"DR-2S\",\"price\":\"5\",\"stock\":0,\"options\":{\"Size\":\"S\","
        "\"Color\":\"Red\"}},{\"sku\":\"DR-2M\",\"price\":\"6\",\"stock\":4,\"options\":"
        "{\"Size\":\"M\",\"Color\":\"red\"}}]}\\n"
        "{\"sku\":\"DR-3\",\"name\":\"Derived Off\",\"price\":\"1\",\"stock\":1,"
        "\"is_active\":false,\"attributes\":{\"weight_g\":7}}\\n"
        "{\"sku\":\"DR-1\",\"name\":\"Derived One\",\"price\":\"11\",\"stock\":0,"
        "\"category_id\":%lld,\"attributes\":{\"brand\":\"Vor\",\"weight_g\":130}}\\n",
        audio_id, audio_id, audio_id);
    char *id = queue_import("ndjson", rows);
    run_queued(id, 100);
    expect_sql("4|3|1|0|done",
               "SELECT rows || '|' || created || '|' || updated || '|' || failed || '|' || status"
               " FROM imports WHERE id = %s",
               id);
    free(id);
    /* two active products counted; DR-1's weight and DR-3's; 2 x 2 options */
    expect_sql("2|2|4|false", DERIVED_COUNTS);
    /* the products' attribute terms and numbers, written by the batches */
    expect_sql("0|0|0", "SELECT (SELECT count(*) FROM products WHERE facet_attributes"
                        " IS DISTINCT FROM nexus_facet_attribute_ids(attributes)) || '|' ||"
                        " (SELECT count(*) FROM (SELECT product_id, key, value"
                        " FROM product_attribute_numbers EXCEPT ALL " NUMBERS ") x) || '|' ||"
                        " (SELECT count(*) FROM (" NUMBERS " EXCEPT ALL SELECT product_id, key,"
                        " value FROM product_attribute_numbers) y)");
    char *digest = harness_sql_value(&server, DERIVED_DIGEST);
    char *rebuilt = derived_rebuilt();
    assert_string_equal(digest, rebuilt);
    free(digest);
    free(rebuilt);
    /* a bulk transaction committed (writing its products' attribute
     * terms itself, as a batch does): not counted, no term rows, the
     * rebuild pending; two products written before
     * with the same brand are in the term order table (a page's walk) */
    free(harness_sql(&server, "INSERT INTO products (sku, name, slug, price_cents, stock,"
                              " attributes) VALUES ('DR-7', 'Kept', 'dr-7', 100, 1,"
                              " '{\"brand\": \"Zed\"}'), ('DR-8', 'Kept', 'dr-8', 100, 1,"
                              " '{\"brand\": \"Zed\"}')"));
    free(harness_sql(&server, "BEGIN; SELECT nexus_bulk_load_begin();"
                              " INSERT INTO products (sku, name, slug, price_cents, stock,"
                              " attributes, facet_attributes) VALUES ('DR-9', 'Skipped',"
                              " 'dr-9', 100, 1, '{\"brand\": \"Zed\"}',"
                              " nexus_facet_attribute_ids('{\"brand\": \"Zed\"}')); COMMIT"));
    expect_sql("4|2|4|true", DERIVED_COUNTS);
    /* lists do not walk the lagging term order table: the newest first */
    struct http_res *r = call("GET", "/api/v1/products?attr.brand=Zed&limit=1", NULL, NULL);
    expect_status(r, 200, "list");
    assert_string_equal(jstr(json_array_get(json_object_get(r->json, "items"), 0), "sku"), "DR-9");
    http_res_free(r);
    /* the next import (not a bulk one: the catalog has products) rebuilds */
    id = queue_import("csv", "sku,name,price,stock\\nDR-10,After,1,1\\n");
    run_queued(id, 0);
    expect_sql("done", "SELECT status FROM imports WHERE id = %s", id);
    free(id);
    expect_sql("6|2|4|false", DERIVED_COUNTS);
    digest = harness_sql_value(&server, DERIVED_DIGEST);
    rebuilt = derived_rebuilt();
    assert_string_equal(digest, rebuilt);
    free(digest);
    free(rebuilt);
}

/* ---- the catalog cache and the import's end ------------------------------- */

#define PRODUCTS "/api/v1/products"

/* The name GET /products/{id} answers now (owned), and its X-Cache. */
static char *served_name(long long id, char *cache, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "%s/%lld", PRODUCTS, id);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "product");
    char *name = xstrdup(jstr(r->json, "name"));
    snprintf(cache, cap, "%s", http_header(r, "X-Cache") ? http_header(r, "X-Cache") : "");
    http_res_free(r);
    return name;
}

/* GET product id twice: its answer is then in the server's cache, with
 * the name want. */
static void cache_product(long long id, const char *want) {
    char cache[16];
    for (int i = 0; i < 2; i++) {
        char *name = served_name(id, cache, sizeof cache);
        assert_string_equal(name, want);
        free(name);
    }
    assert_string_equal(cache, "HIT");
}

/* A product of sku named name, created through the API and cached: its id. */
static long long cached_product(const char *sku, const char *name) {
    char body[256];
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"%s\",\"price\":\"1\",\"stock\":1}", sku,
             name);
    struct http_res *r = call("POST", PRODUCTS, staff_token, body);
    expect_status(r, 201, "product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    cache_product(id, name);
    return id;
}

/* A product of sku, cached under its name before, then renamed after by
 * a commit the cache does not see (as a worker's that stopped before its
 * bump): still served as before. Its id. */
static long long renamed_behind_the_cache(const char *sku, const char *before, const char *after) {
    long long id = cached_product(sku, before);
    free(harness_sql_value(&server, "UPDATE products SET name = '%s' WHERE sku = '%s' RETURNING 1",
                           after, sku));
    cache_product(id, before);
    return id;
}

static void expect_served_name(long long id, const char *want) {
    char cache[16];
    char *name = served_name(id, cache, sizeof cache);
    assert_string_equal(name, want);
    free(name);
}

/* Wait until import id (of one row) ends, and require it done with no
 * error, its row created or updated as said. */
static void expect_one_row_done(const char *id, long long created, long long updated) {
    json_t *imp = await_import(strtoll(id, NULL, 10));
    assert_string_equal(jstr(imp, "status"), "done");
    expect_counts(imp, 1, created, updated, 0);
    assert_int_equal(json_array_size(json_object_get(imp, "errors")), 0);
    json_decref(imp);
}

/* An import of one CSV row (sku, name) put in by hand in status, with
 * mode and atomic; applied: its progress saved as if the row had been
 * applied (a product created). Its id (owned). */
static char *hand_import(const char *sku, const char *name, const char *mode, bool atomic,
                         const char *status, bool applied) {
    return harness_sql_value(
        &server,
        "WITH v (d) AS (VALUES (E'sku,name,price,stock\\n%s,%s,1,1\\n')),"
        " i AS (INSERT INTO imports (user_id, format, mode, atomic, status, rows, created,"
        " resume_line, resume_offset) SELECT id, 'csv', '%s', %s, '%s', %d, %d, %d,"
        " CASE WHEN %s THEN (SELECT octet_length(d) FROM v) ELSE 0 END FROM users LIMIT 1"
        " RETURNING id),"
        " c AS (INSERT INTO import_chunks (import_id, seq, data)"
        " SELECT i.id, 0, convert_to(v.d, 'UTF8') FROM i, v)"
        " SELECT id FROM i",
        sku, name, mode, atomic ? "true" : "false", status, applied, applied, applied ? 3 : 1,
        applied ? "true" : "false");
}

/* The import's job, enqueued for this suite's worker as if attempts
 * attempts had been made before: its id (owned). */
static char *enqueue_job(const char *import_id, int attempts) {
    return harness_sql_value(&server,
                             "INSERT INTO jobs (kind, payload, attempts) VALUES ('import',"
                             " json_build_object('import_id', %s::bigint), %d) RETURNING id",
                             import_id, attempts);
}

static PGconn *test_connection(void) {
    PGconn *c = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

/* Wait until a statement of the database waits for a lock, with query
 * (a LIKE pattern) when it is not NULL. */
static void await_lock_wait(PGconn *watch, const char *query) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
             " AND datname = current_database() AND query LIKE '%s'",
             query ? query : "%");
    assert_true(harness_pg_wait_nonzero(watch, sql));
}

/* An atomic import is done only once the catalog cache was bumped for its
 * rows: a client that polls it until done, then reads a product it read
 * before, reads the import's version. Here the import is held at the
 * statement that makes it done (it deletes the upload's chunks, which a
 * transaction of the test holds): by then its rows are committed and the
 * cache bumped, and it is still running. Before, the rows and 'done'
 * committed together, and the bump came after. */
static void test_an_atomic_import_is_done_after_its_cache_bump(void **state) {
    (void)state;
    long long product = cached_product("ORDER-1", "Before done");
    char *id = hand_import("ORDER-1", "After done", "upsert", true, "queued", false);
    PGconn *held = test_connection(), *watch = test_connection();
    assert_true(harness_pg_exec(held, "BEGIN"));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT 1 FROM import_chunks WHERE import_id = %s FOR UPDATE", id);
    assert_true(harness_pg_exec(held, sql));
    char *job = enqueue_job(id, 0);
    await_lock_wait(watch, "%DELETE FROM import_chunks%");
    expect_sql("running|1|0|1",
               "SELECT status || '|' || rows || '|' || created || '|' || updated"
               " FROM imports WHERE id = %s",
               id);
    expect_served_name(product, "After done");
    assert_true(harness_pg_exec(held, "ROLLBACK"));
    expect_one_row_done(id, 0, 1);
    PQfinish(held);
    PQfinish(watch);
    free(job);
    free(id);
}

/* An atomic import whose rows an earlier attempt committed (its progress
 * saved while it still runs) is not applied again: the next attempt bumps
 * the catalog cache and makes it done, its counters as they were. Here in
 * create mode, where a second application would fail its row (the SKU
 * taken) and the import with it. */
static void test_an_atomic_import_whose_rows_committed_is_only_ended(void **state) {
    (void)state;
    /* the earlier attempt's commit, which the cache has not seen */
    long long product = renamed_behind_the_cache("MARK-1", "Before mark", "After mark");
    char *id = hand_import("MARK-1", "After mark", "create", true, "running", true);
    char *job = enqueue_job(id, 0);
    expect_one_row_done(id, 1, 0);
    expect_sql("1", "SELECT count(*) FROM products WHERE sku = 'MARK-1'");
    expect_served_name(product, "After mark");
    free(job);
    free(id);
}

/* A job made dead ends an atomic import whose rows committed (its cache
 * bump owed with them) 'done', as it is, with no error: its rows are in
 * the catalog. */
static void test_a_dead_job_ends_an_applied_atomic_import_done(void **state) {
    (void)state;
    char *id = hand_import("DEADMARK-1", "Applied", "create", true, "running", true);
    struct held_job h;
    hold_job(&h, id, "this-worker");
    free(harness_sql_value(&server,
                           "UPDATE jobs SET attempts = max_attempts WHERE id = %s"
                           " RETURNING 1",
                           h.job_id));
    bool held = false;
    assert_int_equal(queue_fail(db_thread("imports-jobs"), &h.job, "this-worker",
                                "cannot reach the database", 0, &held),
                     NX_OK);
    assert_true(held);
    expect_sql("dead", "SELECT state FROM jobs WHERE id = %s", h.job_id);
    expect_sql("done|1|0|0",
               "SELECT i.status || '|' || i.created || '|' || (SELECT count(*) FROM import_errors"
               " WHERE import_id = i.id) || '|' || (SELECT count(*) FROM import_chunks"
               " WHERE import_id = i.id) FROM imports i WHERE i.id = %s",
               id);
    release_job(&h);
    free(id);
}

/* A later attempt bumps the catalog cache before it ends anything, even
 * an import already done: the attempt before may have stopped between
 * its last commit and its bump. */
static void test_a_later_attempt_bumps_the_cache_of_a_done_import(void **state) {
    (void)state;
    long long product = renamed_behind_the_cache("AGAIN-1", "Before again", "After again");
    char *id = hand_import("AGAIN-1", "After again", "upsert", false, "done", true);
    char *job = enqueue_job(id, 1);
    PGconn *watch = test_connection();
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = %s AND state = 'done'", job);
    assert_true(harness_pg_wait_nonzero(watch, sql));
    expect_served_name(product, "After again");
    PQfinish(watch);
    free(job);
    free(id);
}

static void kill_crash_worker(void) {
    if (crash_worker.pid <= 0)
        return;
    assert_int_equal(kill(crash_worker.pid, SIGKILL), 0);
    assert_int_equal(waitpid(crash_worker.pid, NULL, 0), crash_worker.pid);
    crash_worker.pid = 0;
}

/* A worker killed after a batch committed and before it bumped the
 * catalog cache loses no invalidation: the bump was recorded as owed in
 * the batch's transaction, and the servers deliver it. The worker is held
 * there by the test: its attempt (a later one) is refunded right after
 * the commit, which waits for a lock of the test on the job's row; the
 * batch itself first waits for the test's lock on the product, while the
 * product is cached again (the attempt bumps once as it starts). */
static void test_a_worker_killed_before_its_bump_loses_no_invalidation(void **state) {
    (void)state;
    harness_stop(&worker);
    harness_start_worker(&server, &crash_worker, "imports-crash-worker", NULL);
    long long product = cached_product("CRASH-1", "Before crash");
    char *id = hand_import("CRASH-1", "After crash", "upsert", false, "queued", false);
    PGconn *on_product = test_connection(), *on_job = test_connection(), *watch = test_connection();
    assert_true(harness_pg_exec(on_product, "BEGIN"));
    assert_true(
        harness_pg_exec(on_product, "SELECT 1 FROM products WHERE sku = 'CRASH-1' FOR UPDATE"));
    char *job = enqueue_job(id, 1);
    await_lock_wait(watch, NULL);
    cache_product(product, "Before crash");
    char sql[256];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", job);
    assert_true(harness_pg_exec(on_job, sql));
    assert_true(harness_pg_exec(on_product, "COMMIT"));
    await_lock_wait(watch, "UPDATE jobs SET attempts = 1%");
    kill_crash_worker();
    assert_true(harness_pg_exec(on_job, "ROLLBACK"));
    expect_sql("After crash", "SELECT name FROM products WHERE sku = 'CRASH-1'");
    /* what is owed is delivered (and forgotten) by the server */
    char *owed = NULL;
    for (int i = 0; i < 600 && !(owed && strcmp(owed, "0") == 0); i++) {
        free(owed);
        owed = harness_sql_value(&server, "SELECT count(*) FROM cache_owed_bumps");
        if (strcmp(owed, "0") != 0)
            usleep(50 * 1000);
    }
    assert_string_equal(owed, "0");
    free(owed);
    expect_served_name(product, "After crash");
    /* the import resumes with this suite's worker, and ends */
    harness_start_worker(&server, &worker, "imports-worker", NULL);
    free(harness_sql_value(&server,
                           "UPDATE jobs SET state = 'pending', locked_by = NULL,"
                           " lease_expires_at = NULL WHERE id = %s RETURNING 1",
                           job));
    expect_one_row_done(id, 0, 1);
    PQfinish(on_product);
    PQfinish(on_job);
    PQfinish(watch);
    free(job);
    free(id);
}

/* ---- rows equal to their products -------------------------------------- */

/* Three products as a store's feed gives them: one with attributes,
 * images and a category, one with a slug of its own, one with three
 * variants; a's stock, b's brand and the second variant's stock as
 * given. */
static char *same_feed(int a_stock, const char *b_brand, int c_stock) {
    struct buf feed = {0};
    buf_printf(
        &feed,
        "{\"sku\":\"SAME-A\",\"name\":\"Same A\",\"description\":\"d\",\"price\":\"5.00\","
        "\"stock\":%d,\"category\":\"audio\",\"attributes\":{\"brand\":\"Acme\",\"weight\":1.50},"
        "\"images\":[{\"url\":\"https://img.example.com/a.jpg\",\"alt\":\"Front\"}]}\n"
        "{\"sku\":\"SAME-B\",\"name\":\"Same B\",\"slug\":\"same-b\",\"price\":\"7\",\"stock\":1,"
        "\"attributes\":{\"brand\":\"%s\"}}\n"
        "{\"name\":\"Same C\",\"variants\":[{\"sku\":\"SAME-C1\",\"price\":\"1\",\"stock\":1,"
        "\"options\":{\"Size\":\"S\"}},{\"sku\":\"SAME-C2\",\"price\":\"2\",\"stock\":%d,"
        "\"options\":{\"Size\":\"M\"}},{\"sku\":\"SAME-C3\",\"price\":\"3\",\"stock\":0,"
        "\"options\":{\"Size\":\"L\"},\"is_active\":false}]}\n",
        a_stock, b_brand, c_stock);
    return feed.data;
}

/* What a write of the product holding sku would move: its row version
 * (xmin), version and updated_at, its variants' row versions, and the
 * ETag of its GET. Owned. */
static char *written_state(const char *sku) {
    char *id = harness_sql_value(&server,
                                 "SELECT product_id FROM product_variants WHERE sku = '%s'"
                                 " AND deleted_at IS NULL",
                                 sku);
    char *rows = harness_sql_value(
        &server,
        "SELECT p.xmin || '|' || p.version || '|' || p.updated_at || '|' || (SELECT"
        " string_agg(v.xmin::text, ',' ORDER BY v.id) FROM product_variants v"
        " WHERE v.product_id = p.id) FROM products p WHERE p.id = %s",
        id);
    char path[64];
    snprintf(path, sizeof path, "%s/%s", PRODUCTS, id);
    struct http_res *r = call("GET", path, NULL, NULL);
    expect_status(r, 200, "product");
    struct buf state = {0};
    buf_printf(&state, "%s|%s", rows, http_header(r, "ETag"));
    http_res_free(r);
    free(rows);
    free(id);
    return state.data;
}

/* Product sku was not written since its state was before (which is
 * freed). */
static void expect_kept(const char *sku, char *before) {
    char *now = written_state(sku);
    if (strcmp(now, before) != 0)
        fprintf(stderr, "%s was written\n", sku);
    assert_string_equal(now, before);
    free(now);
    free(before);
}

static void expect_rewritten(const char *sku, char *before) {
    char *now = written_state(sku);
    assert_string_not_equal(now, before);
    free(now);
    free(before);
}

/* The catalog cache's generation once no bump is owed any more. */
static long long settled_generation(void) {
    await_sql("0", "SELECT count(*) FROM cache_owed_bumps");
    return harness_catalog_generation(&server);
}

/* An upsert row equal to its product (and its variants) counts as
 * updated and writes nothing: the product's version, updated_at and ETag
 * stay, and a batch of such rows bumps no cache generation. A row that
 * differs rewrites its product alone. */
static void test_rows_equal_to_their_products_are_not_written(void **state) {
    (void)state;
    char *feed = same_feed(3, "Acme", 2);
    import_counted("", "application/x-ndjson", feed, 3, 3, 0);
    char *a = written_state("SAME-A"), *b = written_state("SAME-B"), *c = written_state("SAME-C2");
    long long gen = settled_generation();
    import_counted("", "application/x-ndjson", feed, 3, 0, 3);
    import_counted("?atomic=true", "application/x-ndjson", feed, 3, 0, 3);
    assert_int_equal(harness_catalog_generation(&server), gen);
    expect_kept("SAME-A", a);
    expect_kept("SAME-B", b);
    expect_kept("SAME-C2", c);
    /* the CSV of b, which keeps its slug and images */
    b = written_state("SAME-B");
    import_counted("", "text/csv", "sku,name,price,stock,attr.brand\nSAME-B,Same B,7,1,Acme\n", 1,
                   0, 1);
    assert_int_equal(harness_catalog_generation(&server), gen);
    expect_kept("SAME-B", b);
    free(feed);
    /* a's stock and b's attribute: those two only, in one bump at least */
    a = written_state("SAME-A");
    b = written_state("SAME-B");
    c = written_state("SAME-C2");
    feed = same_feed(4, "Other", 2);
    import_counted("", "application/x-ndjson", feed, 3, 0, 3);
    assert_true(harness_catalog_generation(&server) > gen);
    expect_rewritten("SAME-A", a);
    expect_rewritten("SAME-B", b);
    expect_kept("SAME-C2", c);
    expect_sql("4|Acme,1|Other", "SELECT p.stock || '|' || (p.attributes->>'brand') FROM products p"
                                 " WHERE p.sku IN ('SAME-A', 'SAME-B') ORDER BY p.sku");
    free(feed);
    /* one variant's stock: that product only */
    a = written_state("SAME-A");
    c = written_state("SAME-C2");
    gen = settled_generation();
    feed = same_feed(4, "Other", 5);
    import_counted("", "application/x-ndjson", feed, 3, 0, 3);
    assert_true(harness_catalog_generation(&server) > gen);
    expect_kept("SAME-A", a);
    expect_rewritten("SAME-C2", c);
    expect_sql("SAME-C1:100:1:{\"Size\": \"S\"}:true,SAME-C2:200:5:{\"Size\": \"M\"}:true,"
               "SAME-C3:300:0:{\"Size\": \"L\"}:false",
               VARIANTS_OF("Same C"));
    expect_sql("6", "SELECT stock FROM products WHERE name = 'Same C'");
    free(feed);
}

static int start(void **state) {
    (void)state;
    const char *env[] = {"IMPORT_MAX_BYTES=2097152", NULL};
    harness_start(&server, "imports", env);
    harness_staff_and_customer(&server, "imports", &staff_token, &customer_token);
    struct http_res *r = call("POST", "/api/v1/categories", staff_token, "{\"name\":\"Audio\"}");
    expect_status(r, 201, "category");
    audio_id = jint(r->json, "id");
    http_res_free(r);
    harness_start_worker(&server, &worker, "imports-worker", env);
    return 0;
}

static int stop(void **state) {
    (void)state;
    if (job_cfg_loaded) {
        db_close_all();
        nx_config = NULL;
        config_clear(&job_cfg);
    }
    kill_crash_worker();
    harness_stop(&worker);
    free(staff_token);
    free(customer_token);
    harness_stop(&server);
    return 0;
}

/* A product with variants RACE-<tag>-A {Size: A} and RACE-<tag>-B {Size: B};
 * its id. */
static long long two_variant_product(const char *tag) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"Race %s\",\"variants\":["
             "{\"sku\":\"RACE-%s-A\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"A\"}},"
             "{\"sku\":\"RACE-%s-B\",\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"B\"}}]}",
             tag, tag, tag);
    struct http_res *r = call("POST", "/api/v1/products", staff_token, body);
    expect_status(r, 201, "product");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

/* Run the import of body while a transaction of the test's own holds the
 * write given (as the API's write holds it, not yet committed); commit it
 * once the import waits for it. The import's JSON (owned). */
static json_t *import_beside_write(const char *write, const char *body) {
    PGconn *held = PQconnectdb(server.database_url);
    PGconn *watch = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(held), CONNECTION_OK);
    assert_int_equal(PQstatus(watch), CONNECTION_OK);
    assert_true(harness_pg_exec(held, "BEGIN"));
    assert_true(harness_pg_exec(held, write));
    struct http_res *r = upload("", staff_token, "application/x-ndjson", body, strlen(body), NULL);
    expect_status(r, 202, "upload");
    long long id = jint(r->json, "id");
    http_res_free(r);
    assert_true(harness_pg_wait_nonzero(watch, "SELECT count(*) FROM pg_stat_activity"
                                               " WHERE wait_event_type = 'Lock'"
                                               " AND datname = current_database()"));
    assert_true(harness_pg_exec(held, "COMMIT"));
    PQfinish(held);
    PQfinish(watch);
    return await_import(id);
}

/* A row naming a product by a SKU, while a DELETE of that product commits:
 * the row comes after the delete, so its SKUs are free and it makes a new
 * product; the deleted one keeps no live variant (before, the row wrote
 * the deleted product's variants back, holding its SKUs for good). */
static void test_a_row_after_its_products_delete_makes_a_new_product(void **state) {
    (void)state;
    char write[256];
    long long id = two_variant_product("DEL");
    snprintf(write, sizeof write,
             "UPDATE products SET deleted_at = now(), version = version + 1 WHERE id = %lld", id);
    json_t *imp = import_beside_write(
        write,
        "{\"name\":\"Race DEL\",\"variants\":["
        "{\"sku\":\"RACE-DEL-A\",\"price\":\"2\",\"stock\":2,\"options\":{\"Size\":\"A\"}},"
        "{\"sku\":\"RACE-DEL-X\",\"price\":\"2\",\"stock\":2,\"options\":{\"Size\":\"X\"}}]}\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    expect_sql("0",
               "SELECT count(*) FROM product_variants WHERE product_id = %lld"
               " AND deleted_at IS NULL",
               id);
    expect_sql("RACE-DEL-A,RACE-DEL-X",
               "SELECT string_agg(v.sku, ',' ORDER BY v.sku) FROM product_variants v"
               " JOIN products p ON p.id = v.product_id WHERE p.deleted_at IS NULL"
               " AND v.deleted_at IS NULL AND v.sku LIKE 'RACE-DEL-%%'");
}

/* A row naming a product only by the SKU of a variant whose DELETE
 * commits meanwhile: that SKU is free, so the row makes a new product,
 * and the product keeps its other variant (before, the row rewrote the
 * product: the deleted variant back under a new id, the other gone). */
static void test_a_row_after_its_variants_delete_makes_a_new_product(void **state) {
    (void)state;
    char write[256];
    long long id = two_variant_product("VAR");
    /* as DELETE /products/{id}/variants/{vid} writes it */
    snprintf(write, sizeof write,
             "SELECT 1 FROM products WHERE id = %lld FOR UPDATE;"
             " UPDATE product_variants SET deleted_at = now() WHERE sku = 'RACE-VAR-A';"
             " SELECT nexus_product_derive(%lld, true)",
             id, id);
    json_t *imp = import_beside_write(
        write, "{\"name\":\"Race VAR\",\"variants\":[{\"sku\":\"RACE-VAR-A\",\"price\":\"2\","
               "\"stock\":2,\"options\":{\"Size\":\"A\"}}]}\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    expect_sql("RACE-VAR-B",
               "SELECT string_agg(sku, ',') FROM product_variants WHERE product_id = %lld"
               " AND deleted_at IS NULL",
               id);
    expect_sql("1",
               "SELECT count(*) FROM product_variants v JOIN products p ON p.id = v.product_id"
               " WHERE v.sku = 'RACE-VAR-A' AND v.deleted_at IS NULL AND p.deleted_at IS NULL"
               " AND p.id <> %lld AND p.slug <> 'race-var'",
               id);
}

static long long nexus_connections(void) {
    char *n = harness_sql_value(&server, "SELECT count(*) FROM pg_stat_activity"
                                         " WHERE datname = current_database()"
                                         " AND application_name = 'nexus'");
    long long count = strtoll(n, NULL, 10);
    free(n);
    return count;
}

/* An import's appliers are threads of their own, which the cache bump
 * after each batch gave connections: they closed only with the worker,
 * so each import left one to PostgreSQL (and one to Redis) open, until
 * PostgreSQL refused new connections and imports failed. */
static void test_imports_leave_no_connections_open(void **state) {
    (void)state;
    char body[256];
    snprintf(body, sizeof body,
             "{\"sku\":\"CONN-0\",\"name\":\"Connection Lamp\","
             "\"price\":\"1\",\"stock\":1}\n");
    json_decref(run_import("", "application/x-ndjson", body));
    long long before = nexus_connections();
    for (int i = 1; i <= 8; i++) {
        snprintf(body, sizeof body,
                 "{\"sku\":\"CONN-%d\",\"name\":\"Connection Lamp %d\",\"price\":\"1\","
                 "\"stock\":1}\n",
                 i, i);
        json_t *imp = run_import("", "application/x-ndjson", body);
        assert_string_equal(jstr(imp, "status"), "done");
        json_decref(imp);
    }
    long long after = nexus_connections();
    if (after > before + 2)
        fprintf(stderr, "connections: %lld before 8 imports, %lld after\n", before, after);
    /* the server's threads may connect meanwhile; 8 imports left 8 */
    assert_true(after <= before + 2);
}

/* ---- the locks a batch shares with the API's writes ------------------------ */

/* Upload a CSV import without waiting for it; its id. */
static long long start_import(const char *body) {
    struct http_res *r = upload("", staff_token, "text/csv", body, strlen(body), NULL);
    expect_status(r, 202, "upload");
    long long id = jint(r->json, "id");
    http_res_free(r);
    return id;
}

/* Wait (on watch) until a session of the server or its worker waits for
 * a lock. */
static void wait_for_a_waiter(PGconn *watch) {
    assert_true(harness_pg_wait_nonzero(watch, "SELECT count(*) FROM pg_locks l"
                                               " JOIN pg_stat_activity a ON a.pid = l.pid"
                                               " WHERE NOT l.granted AND a.application_name ="
                                               " 'nexus' AND a.datname = current_database()"));
}

/* Whether sql (one boolean) answers true on c. */
static bool pg_true(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return yes;
}

static void connect_two(PGconn **a, PGconn **b) {
    *a = PQconnectdb(server.database_url);
    *b = PQconnectdb(server.database_url);
    assert_int_equal(PQstatus(*a), CONNECTION_OK);
    assert_int_equal(PQstatus(*b), CONNECTION_OK);
}

/* End tx (its commit, or its rollback when !ok) and close watch, then
 * wait for import id, which must be done; its JSON (owned). */
static json_t *release_and_await(PGconn *tx, PGconn *watch, bool ok, long long id) {
    assert_true(harness_pg_exec(tx, ok ? "COMMIT" : "ROLLBACK"));
    PQfinish(tx);
    PQfinish(watch);
    json_t *imp = await_import(id);
    assert_string_equal(jstr(imp, "status"), "done");
    return imp;
}

/* The import's rows all applied (created, updated), the order of its
 * locks right (ok, or else failure), and the products as sql shows them
 * what want says. Frees imp. */
static void expect_held_import(json_t *imp, long long created, long long updated, bool ok,
                               const char *failure, const char *want, const char *sql) {
    expect_counts(imp, created + updated, created, updated, 0);
    json_decref(imp);
    if (!ok)
        fail_msg("%s", failure);
    expect_sql(want, "%s", sql);
}

/* A category's move that also changes its slug holds the category's row
 * for update, then takes the facet counts' tree lock (exclusively). A
 * batch set a new product's category (its foreign key's check: key
 * share) in a statement after an earlier one of its own (an updated
 * product's counts) took the tree lock: each waited for the other, a
 * deadlock. A batch now locks its categories before its first write: tx
 * holds what the move holds, and the batch waits for it without the tree
 * lock, which the move then takes at once. */
static void test_a_batch_locks_its_categories_before_the_tree_lock(void **state) {
    (void)state;
    char *category = harness_sql_value(&server, "INSERT INTO categories (name, slug)"
                                                " VALUES ('Held Move', 'held-move') RETURNING id");
    json_t *imp = run_import("", "text/csv",
                             "sku,name,price,stock,category\nHELD-CAT-1,Held Lamp,1,1,audio\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    PGconn *tx, *watch;
    connect_two(&tx, &watch);
    char sql[160];
    snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM categories WHERE id = %s FOR UPDATE", category);
    assert_true(harness_pg_exec(tx, sql));
    /* the lamp leaves its category (its counts change), a desk comes in the held one */
    long long id = start_import("sku,name,price,stock,category\nHELD-CAT-1,Held Lamp,1,1,\n"
                                "HELD-CAT-2,Held Desk,1,1,held-move\n");
    wait_for_a_waiter(watch);
    bool tree_free = pg_true(tx, "SELECT pg_try_advisory_xact_lock("
                                 "hashtext('nexus_facet_counts_tree'))");
    imp = release_and_await(tx, watch, true, id);
    char want[64];
    snprintf(want, sizeof want, "HELD-CAT-1|,HELD-CAT-2|%s", category);
    free(category);
    expect_held_import(imp, 1, 1, tree_free,
                       "the batch held the tree lock while it waited for its category", want,
                       "SELECT sku || '|' || coalesce(category_id::text, '') FROM products"
                       " WHERE sku LIKE 'HELD-CAT-%' ORDER BY sku");
}

/* An API write giving a SKU locks it, then writes the variant, then the
 * product's row, which derives its SKU from it. A batch making a product
 * of that SKU wrote the product's row, then its variant: each waited for
 * the other's write (the two unique keys of a SKU), a deadlock. A batch
 * now locks each of its SKUs before its first write: tx holds what the
 * write holds after its variant's, and the batch waits for the SKU's
 * lock; the write derives its row, and the batch, after it, updates the
 * product that now holds the SKU. */
static void test_a_batch_locks_its_skus_before_its_first_write(void **state) {
    (void)state;
    json_t *imp = run_import("", "text/csv", "sku,name,price,stock\nHELD-SKU-OLD,Held Sku,1,1\n");
    expect_counts(imp, 1, 1, 0, 0);
    json_decref(imp);
    char *product =
        harness_sql_value(&server, "SELECT product_id FROM product_variants"
                                   " WHERE sku = 'HELD-SKU-OLD' AND deleted_at IS NULL");
    PGconn *tx, *watch;
    connect_two(&tx, &watch);
    assert_true(harness_pg_exec(tx, "BEGIN; SELECT pg_advisory_xact_lock(-7350084,"
                                    " hashtext('HELD-SKU')); UPDATE product_variants"
                                    " SET sku = 'HELD-SKU' WHERE sku = 'HELD-SKU-OLD'"
                                    " AND deleted_at IS NULL"));
    long long id = start_import("sku,name,price,stock\nHELD-SKU,Held Sku New,2,2\n");
    wait_for_a_waiter(watch);
    bool on_the_sku = pg_true(watch, "SELECT bool_and(l.locktype = 'advisory') FROM pg_locks l"
                                     " JOIN pg_stat_activity a ON a.pid = l.pid"
                                     " WHERE NOT l.granted AND a.application_name = 'nexus'"
                                     " AND a.datname = current_database()");
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT nexus_product_derive(%s)", product);
    bool derived = harness_pg_exec(tx, sql);
    imp = release_and_await(tx, watch, derived, id);
    assert_true(derived);
    char want[64];
    snprintf(want, sizeof want, "%s|Held Sku New|200", product);
    free(product);
    expect_held_import(imp, 0, 1, on_the_sku, "the batch wrote before it took the SKU's lock", want,
                       "SELECT id || '|' || name || '|' || price_cents FROM products"
                       " WHERE sku = 'HELD-SKU' AND deleted_at IS NULL");
}

/* Whatever the tests above wrote, every product's solo columns are its
 * one live variant's (the item reads them instead of the variants). */
static void test_solo_columns_follow_the_variants(void **state) {
    (void)state;
    harness_expect_solo_variants_exact(&server, "the tests above");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_rows_apply_and_bad_rows_are_reported),
        cmocka_unit_test(test_ndjson_rows_carry_attributes_and_images),
        cmocka_unit_test(test_ndjson_rows_carry_variants),
        cmocka_unit_test(test_rows_equal_to_their_products_are_not_written),
        cmocka_unit_test(test_rows_of_one_product_apply_in_file_order),
        cmocka_unit_test(test_rows_that_meet_apply_one_by_one),
        cmocka_unit_test(test_rows_that_take_stock_low_alert_staff),
        cmocka_unit_test(test_an_atomic_import_alerts_each_time_a_row_takes_stock_low),
        cmocka_unit_test(test_csv_quoting_bom_crlf_and_upsert),
        cmocka_unit_test(test_derived_slugs_are_the_endpoints),
        cmocka_unit_test(test_a_large_import_takes_the_statistics_again),
        cmocka_unit_test(test_new_products_hold_what_their_variants_derive),
        cmocka_unit_test(test_option_summaries_match_the_stored_variants),
        cmocka_unit_test(test_csv_attribute_columns),
        cmocka_unit_test(test_an_unknown_category_is_named_with_other_errors),
        cmocka_unit_test(test_a_wide_csv_header_is_read),
        cmocka_unit_test(test_integers_past_64_bits_are_numbers),
        cmocka_unit_test(test_csv_upsert_keeps_images),
        cmocka_unit_test(test_a_row_over_the_limit_says_the_limit),
        cmocka_unit_test(test_a_utf16_upload_is_told_it_must_be_utf8),
        cmocka_unit_test(test_csv_without_a_header_fails),
        cmocka_unit_test(test_csv_bad_header_fails_the_import),
        cmocka_unit_test(test_csv_header_errors_say_what_to_fix),
        cmocka_unit_test(test_csv_rows_of_separators_alone_are_skipped),
        cmocka_unit_test(test_cells_and_lines_say_what_they_must_hold),
        cmocka_unit_test(test_a_failed_import_is_logged_as_failed),
        cmocka_unit_test(test_create_mode_refuses_existing_skus),
        cmocka_unit_test(test_atomic_applies_nothing_when_a_row_fails),
        cmocka_unit_test(test_errors_stream_has_them_all),
        cmocka_unit_test(test_list_pages_newest_first),
        cmocka_unit_test(test_list_checks),
        cmocka_unit_test(test_request_checks),
        cmocka_unit_test(test_idempotency_key_answers_the_first_import),
        cmocka_unit_test(test_a_keyed_repeat_stores_no_second_upload),
        cmocka_unit_test(test_a_repeat_while_the_first_upload_arrives_is_409),
        cmocka_unit_test(test_a_key_whose_upload_was_abandoned_runs_again),
        cmocka_unit_test(test_a_key_whose_upload_was_too_large_runs_again),
        cmocka_unit_test(test_a_claim_of_a_stopped_server_expires),
        cmocka_unit_test(test_a_runner_without_the_lease_applies_nothing),
        cmocka_unit_test(test_the_last_failed_attempt_ends_the_import),
        cmocka_unit_test(test_a_resumed_import_reads_from_its_offset),
        cmocka_unit_test(test_an_attempt_that_commits_a_batch_is_refunded),
        cmocka_unit_test(test_an_attempt_without_progress_is_not_refunded),
        cmocka_unit_test(test_a_refunded_last_attempt_that_fails_resumes),
        cmocka_unit_test(test_the_statement_that_makes_a_job_dead_ends_its_import),
        cmocka_unit_test(test_an_import_whose_job_dies_ends_failed),
        cmocka_unit_test(test_an_import_into_an_empty_catalog_loads_in_bulk),
        cmocka_unit_test(test_a_bulk_import_rebuilds_what_the_triggers_derive),
        cmocka_unit_test(test_bulk_batches_apply_as_in_file_order),
        cmocka_unit_test(test_imports_leave_no_connections_open),
        cmocka_unit_test(test_a_row_after_its_products_delete_makes_a_new_product),
        cmocka_unit_test(test_a_row_after_its_variants_delete_makes_a_new_product),
        cmocka_unit_test(test_a_batch_locks_its_categories_before_the_tree_lock),
        cmocka_unit_test(test_a_batch_locks_its_skus_before_its_first_write),
        cmocka_unit_test(test_solo_columns_follow_the_variants),
        cmocka_unit_test(test_an_atomic_import_is_done_after_its_cache_bump),
        cmocka_unit_test(test_an_atomic_import_whose_rows_committed_is_only_ended),
        cmocka_unit_test(test_a_dead_job_ends_an_applied_atomic_import_done),
        cmocka_unit_test(test_a_later_attempt_bumps_the_cache_of_a_done_import),
        cmocka_unit_test(test_a_worker_killed_before_its_bump_loses_no_invalidation),
    };
    return harness_run_group("imports", tests, sizeof tests / sizeof tests[0], start, stop);
}
