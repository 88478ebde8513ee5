/*
 * test_product_export.c -- products written in the import format: RFC
 * 4180 quoting, the header, and the round trip through the import's own
 * reader and row validator (core/records, model/import_row), which must
 * give back every field as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/records.h"
#include "nexus/model/import_row.h"
#include "nexus/model/product_export.h"

#include <stdlib.h>
#include <string.h>

static char *quoted(const char *s) {
    struct buf b = {0};
    csv_field(&b, s, strlen(s));
    return buf_take(&b, NULL);
}

static void test_csv_fields_are_quoted_only_when_needed(void **state) {
    (void)state;
    const char *cases[][2] = {
        {"plain text", "plain text"},           {"", ""},
        {"  spaces kept  ", "  spaces kept  "}, {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},   {"\"", "\"\"\"\""},
        {"two\r\nlines", "\"two\r\nlines\""},   {"cr\r", "\"cr\r\""},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = quoted(cases[i][0]);
        assert_string_equal(got, cases[i][1]);
        free(got);
    }
}

static void test_header_is_the_import_columns(void **state) {
    (void)state;
    struct buf b = {0};
    product_export_header(&b, EXPORT_NDJSON, NULL);
    assert_int_equal(b.len, 0);
    product_export_header(&b, EXPORT_CSV, NULL);
    assert_string_equal(b.data,
                        "sku,name,slug,description,price,currency,stock,category,is_active\r\n");
    buf_clear(&b);
    for (int c = 0; c < COL__COUNT; c++)
        assert_string_equal(product_export_fields[c].name, import_column_names[c]);
}

/* The columns an export reads: up to the stored jsonb ones. */
#define NCOLS (PC_IMAGES + 1)

/* A result with one product row (the product_col columns). */
static PGresult *product_row(const char *const values[NCOLS]) {
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[NCOLS];
    memset(attrs, 0, sizeof attrs);
    for (int c = 0; c < NCOLS; c++)
        attrs[c].name = (char *)"c";
    assert_true(PQsetResultAttrs(r, NCOLS, attrs));
    for (int c = 0; c < NCOLS; c++)
        assert_true(
            PQsetvalue(r, 0, c, (char *)values[c], values[c] ? (int)strlen(values[c]) : -1));
    return r;
}

struct read_back {
    struct import_columns cols;
    struct import_row row;
    int records;
    enum record_format format;
};

static enum nx_err on_record(void *ctx, const struct record *rec) {
    struct read_back *rb = ctx;
    struct field_errors errs = {0};
    enum nx_err e;
    if (rb->format == RECORD_CSV && rb->records++ == 0)
        e = import_columns_parse(&errs, rec, &rb->cols);
    else if (rb->format == RECORD_CSV)
        e = import_row_from_csv(&errs, &rb->cols, rec, &rb->row);
    else {
        rb->records++;
        e = import_row_from_ndjson(&errs, rec, &rb->row);
    }
    assert_int_equal(fielderr_count(&errs), 0);
    fielderr_clear(&errs);
    return e;
}

/* Export the row in format, read it back as an import would. */
static void read_back(const PGresult *r, enum export_format format, struct read_back *rb) {
    struct buf out = {0};
    memset(rb, 0, sizeof *rb);
    rb->format = format == EXPORT_CSV ? RECORD_CSV : RECORD_NDJSON;
    product_export_header(&out, format, NULL);
    product_export_row(&out, format, r, 0, NULL);
    struct records *rec = records_new(rb->format, 1 << 20, on_record, rb);
    assert_int_equal(records_feed(rec, out.data, out.len), NX_OK);
    assert_int_equal(records_finish(rec), NX_OK);
    records_free(rec);
    buf_clear(&out);
    assert_int_equal(rb->records, format == EXPORT_CSV ? 2 : 1);
}

static void test_rows_read_back_as_they_were(void **state) {
    (void)state;
    const char *description = "\"quoted\", two\r\nlines\nand \\ a tab\t \xf0\x9f\x8e\xa7 ";
    const char *with_category[NCOLS] = {
        "7",
        "SKU-1",
        "Lamp, \"Big\"",
        "lamp-big",
        description,
        "1990",
        "EUR",
        "5",
        "f",
        "3",
        "Lights",
        "lights",
        "t0",
        "t1",
        "lamp",
        "{\"brand\": \"Acme\", \"weight_g\": 250}",
        "[{\"alt\": \"Front\", \"url\": \"https://i.example.com/a.jpg\"}]"};
    const char *without[NCOLS] = {"8",  "SKU-2", "Plain", "plain", "",   "0",     "USD", "0", "t",
                                  NULL, NULL,    NULL,    "t0",    "t1", "plain", "{}",  "[]"};
    enum export_format formats[] = {EXPORT_NDJSON, EXPORT_CSV};
    for (size_t f = 0; f < 2; f++) {
        struct read_back rb;
        PGresult *r = product_row(with_category);
        read_back(r, formats[f], &rb);
        assert_string_equal(rb.row.in.sku, "SKU-1");
        assert_string_equal(rb.row.in.name, "Lamp, \"Big\"");
        assert_string_equal(rb.row.in.slug, "lamp-big");
        assert_string_equal(rb.row.in.description, description);
        assert_string_equal(rb.row.in.price_cents, "1990");
        assert_string_equal(rb.row.in.currency, "EUR");
        assert_string_equal(rb.row.in.stock, "5");
        assert_string_equal(rb.row.in.is_active, "false");
        assert_true(rb.row.category.given && !rb.row.category.is_id);
        assert_string_equal(rb.row.category.text, "lights");
        /* CSV has no attribute columns yet: its rows get the defaults */
        assert_string_equal(rb.row.in.extras.attributes,
                            f == 0 ? "{\"brand\":\"Acme\",\"weight_g\":250}" : "{}");
        import_row_clear(&rb.row);
        PQclear(r);
        r = product_row(without);
        read_back(r, formats[f], &rb);
        assert_string_equal(rb.row.in.description, "");
        assert_string_equal(rb.row.in.price_cents, "0");
        assert_string_equal(rb.row.in.is_active, "true");
        assert_false(rb.row.category.given);
        import_row_clear(&rb.row);
        PQclear(r);
    }
}

static void test_ndjson_line(void **state) {
    (void)state;
    const char *values[NCOLS] = {"8",  "S",  "N",  "n",  "d",  "5", "USD", "2147483647", "t",
                                 NULL, NULL, NULL, "t0", "t1", "n", "{}",  "[]"};
    PGresult *r = product_row(values);
    struct buf out = {0};
    product_export_row(&out, EXPORT_NDJSON, r, 0, NULL);
    assert_string_equal(out.data, "{\"sku\":\"S\",\"name\":\"N\",\"slug\":\"n\",\"description\":"
                                  "\"d\",\"price\":\"0.05\",\"currency\":\"USD\",\"stock\":"
                                  "2147483647,\"category\":null,\"is_active\":true,"
                                  "\"attributes\":{},\"images\":[]}\n");
    buf_clear(&out);
    PQclear(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_fields_are_quoted_only_when_needed),
        cmocka_unit_test(test_header_is_the_import_columns),
        cmocka_unit_test(test_rows_read_back_as_they_were),
        cmocka_unit_test(test_ndjson_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
