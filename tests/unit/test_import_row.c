/*
 * test_import_row.c -- import rows (NDJSON and CSV) through the product
 * validator: the same messages as the endpoint, category references by id
 * or slug, CSV headers and cells.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/model/import_row.h"

#include <stdlib.h>
#include <string.h>

static struct record one_field(const char *text) {
    static struct record_field f;
    f = (struct record_field){text, strlen(text)};
    return (struct record){1, &f, 1, NULL, false};
}

/* The message recorded for field (NULL if none). */
static const char *message_for(const struct field_errors *errs, const char *field) {
    for (size_t i = 0; i < fielderr_count(errs); i++)
        if (strcmp(fielderr_at(errs, i)->field, field) == 0)
            return fielderr_at(errs, i)->message;
    return NULL;
}

/* What POST /products says about body: the message for field. */
static char *endpoint_message(const char *body, const char *field) {
    struct field_errors errs = {0};
    struct product_input in;
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(product_input_parse(&errs, j, PRODUCT_CREATE, &in), NX_ERR_VALIDATION);
    const char *m = message_for(&errs, field);
    assert_non_null(m);
    char *copy = strdup(m);
    fielderr_clear(&errs);
    json_decref(j);
    return copy;
}

static void test_ndjson_row_is_the_post_body(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_row row;
    struct record rec = one_field("{\"sku\":\"A-1\",\"name\":\"Lamp\",\"price\":\"9.5\",\"stock\":"
                                  "3,\"category\":\"lights\"}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_OK);
    assert_string_equal(row.in.sku, "A-1");
    assert_string_equal(row.in.price_cents, "950");
    assert_true(row.category.given && !row.category.is_id);
    assert_string_equal(row.category.text, "lights");
    import_row_clear(&row);
    rec =
        one_field("{\"sku\":\"A-2\",\"name\":\"Lamp\",\"price\":\"1\",\"stock\":0,\"category\":7}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_OK);
    assert_true(row.category.is_id);
    assert_string_equal(row.category.text, "7");
    import_row_clear(&row);
    assert_int_equal(fielderr_count(&errs), 0);
}

static void test_ndjson_errors_match_the_endpoint(void **state) {
    (void)state;
    const char *body = "{\"sku\":\"A 1\",\"name\":\"\",\"price\":19.99,\"stock\":\"5\",\"x\":1}";
    struct field_errors errs = {0};
    struct import_row row;
    struct record rec = one_field(body);
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    const char *fields[] = {"sku", "name", "price", "stock", "x"};
    for (size_t i = 0; i < 5; i++) {
        char *want = endpoint_message(body, fields[i]);
        assert_string_equal(message_for(&errs, fields[i]), want);
        free(want);
    }
    import_row_clear(&row);
    fielderr_clear(&errs);
}

static void test_ndjson_row_takes_variants_as_a_create(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_row row;
    struct record rec = one_field("{\"name\":\"Tee\",\"variants\":[{\"sku\":\"T-1\","
                                  "\"price\":\"1\",\"stock\":1,\"options\":{\"Size\":\"M\"}},"
                                  "{\"sku\":\"T-2\",\"price\":\"2.5\",\"stock\":0,\"options\":"
                                  "{\"Size\":\"L\"},\"is_active\":false}]}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_OK);
    assert_int_equal(row.variant_count, 2);
    assert_string_equal(row.variants[1].sku, "T-2");
    assert_string_equal(row.variants[1].price_cents, "250");
    assert_string_equal(row.variants[1].is_active, "false");
    assert_null(row.in.sku);
    import_row_clear(&row);
    assert_int_equal(fielderr_count(&errs), 0);
    /* each error is the endpoint's, under the endpoint's field names */
    const char *bad[][2] = {
        {"{\"name\":\"Tee\",\"sku\":\"T-1\",\"variants\":[{\"sku\":\"T-1\",\"price\":\"1\","
         "\"stock\":1,\"options\":{}}]}",
         "variants"},
        {"{\"name\":\"Tee\",\"variants\":[{\"sku\":\"T 1\",\"price\":\"1\",\"stock\":1,"
         "\"options\":{}}]}",
         "variants[0].sku"},
        {"{\"name\":\"Tee\",\"variants\":[]}", "variants"},
        {"{\"name\":\"Tee\",\"variants\":[{\"sku\":\"T-1\",\"price\":\"1\",\"stock\":1,"
         "\"options\":{\"Size\":\"M\"}},{\"sku\":\"T-2\",\"price\":\"1\",\"stock\":1,"
         "\"options\":{\"Color\":\"Red\"}}]}",
         "variants[1].options"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct variant_input *v = NULL;
        size_t n = 0;
        struct field_errors want = {0};
        struct product_input in;
        json_t *body = json_loads(bad[i][0], 0, NULL);
        assert_non_null(body);
        product_input_parse(&want, body, PRODUCT_CREATE, &in);
        if (in.variants)
            variant_inputs_parse(&want, in.variants, &v, &n);
        rec = one_field(bad[i][0]);
        assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
        assert_non_null(message_for(&errs, bad[i][1]));
        assert_string_equal(message_for(&errs, bad[i][1]), message_for(&want, bad[i][1]));
        import_row_clear(&row);
        fielderr_clear(&errs);
        variant_inputs_free(v, n);
        product_input_clear(&in);
        fielderr_clear(&want);
        json_decref(body);
    }
}

static void test_ndjson_malformed_and_conflicting_category(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_row row;
    struct record rec = one_field("{\"sku\":");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    assert_non_null(strstr(message_for(&errs, ""), "malformed JSON"));
    import_row_clear(&row);
    fielderr_clear(&errs);
    /* a line that is not UTF-8 is told so, as a CSV cell is */
    rec = one_field("{\"sku\":\"A-1\",\"name\":\"Cr\xe9me\",\"price\":\"1\"}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    assert_int_equal(fielderr_count(&errs), 1);
    assert_string_equal(message_for(&errs, ""),
                        "the line is not valid UTF-8 (the file must be UTF-8 text)");
    import_row_clear(&row);
    fielderr_clear(&errs);
    /* well-formed JSON that is no object is told so */
    static const char *const values[] = {"[1]", "5", "true", "null", "\"s\""};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        rec = one_field(values[i]);
        assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
        assert_string_equal(message_for(&errs, ""), "the row must be a JSON object");
        import_row_clear(&row);
        fielderr_clear(&errs);
    }
    /* a number out of range is named as the endpoint names it */
    rec = one_field("{\"sku\":\"B\",\"name\":\"B\",\"price\":\"1\",\"stock\":1e400,"
                    "\"attributes\":{\"n\":-1e999}}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    assert_int_equal(fielderr_count(&errs), 2);
    assert_string_equal(message_for(&errs, "stock"), "is a number out of range");
    assert_string_equal(message_for(&errs, "attributes.n"), "is a number out of range");
    import_row_clear(&row);
    fielderr_clear(&errs);
    rec = one_field("{\"sku\":\"B\",\"name\":\"B\",\"price\":\"1\",\"stock\":1,"
                    "\"category\":\"x\",\"category_id\":2}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    assert_non_null(message_for(&errs, "category"));
    import_row_clear(&row);
    fielderr_clear(&errs);
    rec =
        one_field("{\"sku\":\"B\",\"name\":\"B\",\"price\":\"1\",\"stock\":1,\"category\":\"Not A "
                  "Slug\"}");
    assert_int_equal(import_row_from_ndjson(&errs, &rec, &row), NX_ERR_VALIDATION);
    assert_string_equal(message_for(&errs, "category"), "must be a category id or slug");
    import_row_clear(&row);
    fielderr_clear(&errs);
}

/* What every unknown column's message ends with. */
#define KNOWN                                                                                      \
    ". Known columns: sku, name, slug, description, price, currency, stock, category, is_active, " \
    "attr.<key>"

static struct record csv(struct record_field *f, size_t n, const char *const *cells) {
    for (size_t i = 0; i < n; i++)
        f[i] = (struct record_field){cells[i], strlen(cells[i])};
    return (struct record){2, f, n, NULL, false};
}

static void test_csv_header_names_known_columns_once(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_columns cols;
    struct record_field f[4];
    const char *good[] = {"price", "sku", "name", "stock"};
    struct record h = csv(f, 4, good);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_OK);
    assert_int_equal(cols.at[COL_SKU], 1);
    assert_int_equal(cols.at[COL_CATEGORY], -1);
    const char *bad[] = {"sku", "colour", "sku", "attr.Brand"};
    h = csv(f, 4, bad);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_ERR_VALIDATION);
    assert_non_null(message_for(&errs, "colour"));
    assert_string_equal(message_for(&errs, "sku"), "the column is repeated");
    assert_non_null(strstr(message_for(&errs, "attr.Brand"), "the key must be"));
    fielderr_clear(&errs);
    /* attr.<key> columns: each key once */
    const char *attrs[] = {"sku", "attr.brand", "attr.weight_g", "attr.brand"};
    h = csv(f, 4, attrs);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_ERR_VALIDATION);
    assert_int_equal(cols.attr_count, 2);
    assert_string_equal(cols.attr_key[1], "weight_g");
    assert_int_equal(cols.attr_at[1], 2);
    assert_string_equal(message_for(&errs, "attr.brand"), "the column is repeated");
    fielderr_clear(&errs);
}

/* An export's header has a column per key of any of its products, more
 * than one product may have: up to IMPORT_ATTR_COLUMNS_MAX are read. */
static void test_csv_header_takes_a_catalogs_attribute_keys(void **state) {
    (void)state;
    enum { N = IMPORT_ATTR_COLUMNS_MAX + 1 };
    static char names[N][24];
    static const char *cells[N];
    static struct record_field f[N];
    static struct import_columns cols;
    struct field_errors errs = {0};
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "attr.k%zu", i);
        cells[i] = names[i];
    }
    struct record h = csv(f, N - 1, cells);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_OK);
    assert_int_equal(cols.attr_count, IMPORT_ATTR_COLUMNS_MAX);
    h = csv(f, N, cells);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_ERR_VALIDATION);
    assert_non_null(strstr(message_for(&errs, names[N - 1]), "at most 1000 attr.<key> columns"));
    fielderr_clear(&errs);
}

static void test_csv_cells_spell_the_body(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_columns cols;
    struct import_row row;
    struct record_field hf[9], rf[9];
    const char *names[] = {"sku",      "name",  "slug",     "description", "price",
                           "currency", "stock", "category", "is_active"};
    struct record h = csv(hf, 9, names);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_OK);
    const char *cells[] = {"A-1", "Lamp, big", "", "", "12", "eur", "7", "12", "false"};
    struct record r = csv(rf, 9, cells);
    assert_int_equal(import_row_from_csv(&errs, &cols, &r, &row), NX_OK);
    assert_string_equal(row.in.stock, "7");
    assert_string_equal(row.in.currency, "EUR");
    assert_string_equal(row.in.is_active, "false");
    assert_string_equal(row.in.description, "");
    assert_null(row.in.slug);
    assert_true(row.category.given && row.category.is_id);
    import_row_clear(&row);
    /* a stock cell is the JSON integer it spells: -0 is 0, as in a body */
    const char *zero[] = {"A-0", "Lamp", "", "", "1", "", "-0", "", ""};
    r = csv(rf, 9, zero);
    assert_int_equal(import_row_from_csv(&errs, &cols, &r, &row), NX_OK);
    assert_string_equal(row.in.stock, "0");
    import_row_clear(&row);
    /* Bad cells get the endpoint's messages for the same values. */
    const char *bad[] = {"A-2", "Lamp", "", "", "1.999", "", "5x", "", "yes"};
    r = csv(rf, 9, bad);
    assert_int_equal(import_row_from_csv(&errs, &cols, &r, &row), NX_ERR_VALIDATION);
    const char *body = "{\"sku\":\"A\",\"name\":\"L\",\"price\":\"1.999\",\"stock\":\"5x\","
                       "\"is_active\":\"yes\"}";
    const char *fields[] = {"price", "stock"};
    for (size_t i = 0; i < 2; i++) {
        char *want = endpoint_message(body, fields[i]);
        assert_string_equal(message_for(&errs, fields[i]), want);
        free(want);
    }
    /* a cell says what it may hold, where a body's is_active is a boolean */
    assert_string_equal(message_for(&errs, "is_active"), "must be true or false");
    import_row_clear(&row);
    fielderr_clear(&errs);
    /* A row with another number of fields than the header. */
    r = csv(rf, 3, bad);
    assert_int_equal(import_row_from_csv(&errs, &cols, &r, &row), NX_ERR_VALIDATION);
    assert_non_null(message_for(&errs, ""));
    import_row_clear(&row);
    fielderr_clear(&errs);
}

/* A cell that is not UTF-8 (a Latin-1 file) is its field's error, in every
 * column: read as anything else, it would store a value nobody wrote. */
static void test_cells_not_utf8_are_their_fields_errors(void **state) {
    (void)state;
    struct field_errors errs = {0};
    struct import_columns cols;
    struct import_row row;
    struct record_field hf[10], rf[10];
    const char *names[] = {"sku",      "name",  "slug",     "description", "price",
                           "currency", "stock", "category", "is_active",   "attr.brand"};
    struct record h = csv(hf, 10, names);
    assert_int_equal(import_columns_parse(&errs, &h, &cols), NX_OK);
    /* Latin-1 bytes, a truncated sequence, an overlong '/', a surrogate */
    const char *cells[] = {"A\xb0",      "Cr\xe8me", "s\xff", "d\xc3",    "1\xb0",
                           "EU\xc0\xaf", "4\xb0",    "c\xe9", "tr\xffue", "\xed\xa0\x80"};
    struct record r = csv(rf, 10, cells);
    assert_int_equal(import_row_from_csv(&errs, &cols, &r, &row), NX_ERR_VALIDATION);
    for (size_t i = 0; i < 9; i++)
        assert_non_null(strstr(message_for(&errs, names[i]), "not valid UTF-8"));
    assert_non_null(strstr(message_for(&errs, "attributes.brand"), "not valid UTF-8"));
    assert_int_equal(fielderr_count(&errs), 10);
    import_row_clear(&row);
    fielderr_clear(&errs);
}

/* Read a header of n cells (at most 8), which it refuses: its errors into
 * errs. */
static void refused_header(struct field_errors *errs, size_t n, const char *const *cells) {
    static struct import_columns cols;
    struct record_field f[8];
    assert_true(n <= 8);
    struct record h = csv(f, n, cells);
    assert_int_equal(import_columns_parse(errs, &h, &cols), NX_ERR_VALIDATION);
}

/* An unknown column is named when its name is short text without white
 * space, in any script. */
static void test_csv_header_names_unknown_columns_in_any_script(void **state) {
    (void)state;
    struct field_errors errs = {0};
    const char *bad[] = {"sku", "na\xc3\xafve", " name", "x\xff"};
    refused_header(&errs, 4, bad);
    assert_string_equal(message_for(&errs, "na\xc3\xafve"),
                        "column 2 \"na\xc3\xafve\" is not a known column" KNOWN);
    assert_string_equal(
        message_for(&errs, ""),
        "column 3 \" name\" is not a known column; remove the spaces around it" KNOWN);
    assert_int_equal(fielderr_count(&errs), 3); /* column 4 is not text: not its field */
    assert_string_equal(fielderr_at(&errs, 2)->message,
                        "column 4 \"x\\ufffd\" is not a known column" KNOWN);
    fielderr_clear(&errs);
}

/* A header error quotes its cell (bounded, escaped), lists the columns,
 * and says what to fix when it is evident: white space around a name, or
 * columns separated by something else than commas. */
static void test_csv_header_errors_say_what_to_fix(void **state) {
    (void)state;
    struct field_errors errs = {0};
    const char *spaced[] = {"sku ", "\tname", "price", "attr.brand ", "colour"};
    refused_header(&errs, 5, spaced);
    assert_int_equal(fielderr_count(&errs), 4);
    assert_string_equal(fielderr_at(&errs, 0)->field, "");
    assert_string_equal(
        fielderr_at(&errs, 0)->message,
        "column 1 \"sku \" is not a known column; remove the spaces around it" KNOWN);
    assert_string_equal(
        fielderr_at(&errs, 1)->message,
        "column 2 \"\\tname\" is not a known column; remove the spaces around it" KNOWN);
    assert_string_equal(fielderr_at(&errs, 2)->message,
                        "column 4 \"attr.brand \": the key must be 1 to 40 of a-z, 0-9 and _, "
                        "starting with a letter; remove the spaces around it");
    assert_string_equal(message_for(&errs, "colour"),
                        "column 5 \"colour\" is not a known column" KNOWN);
    fielderr_clear(&errs);
    /* a file separated by semicolons or tabs is one column */
    const char *other[] = {"sku;name;price;stock", "sku\tname\tprice"};
    for (size_t i = 0; i < 2; i++) {
        refused_header(&errs, 1, other + i);
        assert_non_null(
            strstr(fielderr_at(&errs, 0)->message,
                   " is not a known column; columns must be separated by commas. Known columns:"));
        fielderr_clear(&errs);
    }
    refused_header(&errs, 1, other);
    assert_string_equal(message_for(&errs, "sku;name;price;stock"),
                        "column 1 \"sku;name;price;stock\" is not a known column; columns must be "
                        "separated by commas" KNOWN);
    fielderr_clear(&errs);
    /* a long cell is quoted up to 64 bytes */
    char lng[201];
    memset(lng, 'x', 200);
    lng[200] = '\0';
    const char *cells[] = {lng};
    refused_header(&errs, 1, cells);
    char want[300];
    snprintf(want, sizeof want, "column 1 \"%.64s\"... is not a known column" KNOWN, lng);
    assert_string_equal(fielderr_at(&errs, 0)->message, want);
    fielderr_clear(&errs);
}

/* Read a row whose is_active cell is active (under the header
 * sku,name,price,stock,is_active): its answer, its errors into errs. */
static enum nx_err row_with_is_active(struct field_errors *errs, const char *active) {
    static struct import_columns cols;
    struct import_row row;
    struct record_field hf[5], rf[5];
    const char *names[] = {"sku", "name", "price", "stock", "is_active"};
    const char *cells[] = {"A-1", "Lamp", "1", "1", active};
    struct record h = csv(hf, 5, names), r = csv(rf, 5, cells);
    assert_int_equal(import_columns_parse(errs, &h, &cols), NX_OK);
    enum nx_err e = import_row_from_csv(errs, &cols, &r, &row);
    import_row_clear(&row);
    return e;
}

/* A CSV is_active cell says what it may hold: a spreadsheet's TRUE or 1
 * is refused as "must be true or false", not as no boolean. */
static void test_csv_is_active_must_be_true_or_false(void **state) {
    (void)state;
    struct field_errors errs = {0};
    static const char *const refused[] = {"TRUE", "FALSE", "1", "0", "True", " true"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_int_equal(row_with_is_active(&errs, refused[i]), NX_ERR_VALIDATION);
        assert_int_equal(fielderr_count(&errs), 1);
        assert_string_equal(message_for(&errs, "is_active"), "must be true or false");
        fielderr_clear(&errs);
    }
    static const char *const taken[] = {"true", "false", ""};
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++)
        assert_int_equal(row_with_is_active(&errs, taken[i]), NX_OK);
    assert_int_equal(fielderr_count(&errs), 0);
}

/* Which strings an attr.<key> cell carries as themselves: the export
 * writes every other string as a JSON string, which reads back as it. */
static void test_cells_that_read_as_their_own_text(void **state) {
    (void)state;
    /* a text of number characters that is no JSON number is text, also
     * where it starts with a number past a double */
    static const char *const own[] = {"Acme",   "1.5 kg",   "True",     "\"half",
                                      "x\"",    "-",        "12-34",    "1.2.3",
                                      "1e400e", "2E500-12", "-1E+999-", "99999999999999999999-1"};
    static const char *const other[] = {"1.50", "-1", "1e3", "true", "false", "\"q\"", "", "1e400"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        assert_true(import_cell_is_text(own[i], strlen(own[i])));
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        assert_false(import_cell_is_text(other[i], strlen(other[i])));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_row_is_the_post_body),
        cmocka_unit_test(test_ndjson_errors_match_the_endpoint),
        cmocka_unit_test(test_ndjson_row_takes_variants_as_a_create),
        cmocka_unit_test(test_ndjson_malformed_and_conflicting_category),
        cmocka_unit_test(test_csv_header_names_known_columns_once),
        cmocka_unit_test(test_csv_header_takes_a_catalogs_attribute_keys),
        cmocka_unit_test(test_csv_cells_spell_the_body),
        cmocka_unit_test(test_cells_that_read_as_their_own_text),
        cmocka_unit_test(test_cells_not_utf8_are_their_fields_errors),
        cmocka_unit_test(test_csv_header_names_unknown_columns_in_any_script),
        cmocka_unit_test(test_csv_header_errors_say_what_to_fix),
        cmocka_unit_test(test_csv_is_active_must_be_true_or_false),
    };
    return cmocka_run_group_tests_name("import_row", tests, NULL, NULL);
}
