/*
 * test_model.c -- the model validators on plain JSON values, with no
 * request: what they find comes back as a core list of field errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/fielderr.h"
#include "nexus/model/catalog.h"
#include "nexus/model/category.h"
#include "nexus/model/fields.h"
#include "nexus/model/product.h"
#include "nexus/model/user.h"
#include "nexus/model/variant.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

struct want {
    const char *field;
    const char *message;
};

/* Each list is checked against a fixture: the body it came from, and the
 * list itself, freed at teardown. */
struct fixture {
    json_t *body;
    struct field_errors errs;
};

static int setup(void **state) {
    struct fixture *f = test_calloc(1, sizeof *f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    json_decref(f->body);
    fielderr_clear(&f->errs);
    test_free(f);
    return 0;
}

static json_t *body(struct fixture *f, const char *text) {
    json_error_t jerr;
    json_decref(f->body);
    f->body = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->body)
        fail_msg("bad test JSON (%s): %s", jerr.text, text);
    return f->body;
}

/* The list holds exactly want[0..n), in this order. */
static void expect_errors(const struct field_errors *errs, const struct want *want, size_t n) {
    for (size_t i = 0; i < fielderr_count(errs) && i < n; i++) {
        const struct field_error *fe = fielderr_at(errs, i);
        if (strcmp(fe->field, want[i].field) != 0 || strcmp(fe->message, want[i].message) != 0)
            fail_msg("entry %zu: %s \"%s\", want %s \"%s\"", i, fe->field, fe->message,
                     want[i].field, want[i].message);
    }
    if (fielderr_count(errs) != n)
        fail_msg("%zu entries, want %zu", fielderr_count(errs), n);
}

#define EXPECT(errs, ...)                                                                          \
    do {                                                                                           \
        static const struct want w_[] = {__VA_ARGS__};                                             \
        expect_errors(errs, w_, sizeof w_ / sizeof w_[0]);                                         \
    } while (0)

/* ---- the list itself ---------------------------------------------------- */

static void test_fielderr_keeps_order_and_formats_messages(void **state) {
    struct fixture *f = *state;
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_int_equal(fielderr_add(&f->errs, "a", "is required"), NX_ERR_VALIDATION);
    for (int i = 0; i < 9; i++)
        fielderr_add(&f->errs, "b", "must be at most %d characters", 10 * i);
    assert_int_equal(fielderr_count(&f->errs), 10);
    assert_string_equal(fielderr_at(&f->errs, 0)->field, "a");
    assert_string_equal(fielderr_at(&f->errs, 0)->message, "is required");
    assert_string_equal(fielderr_at(&f->errs, 9)->message, "must be at most 80 characters");
}

static void test_fielderr_clear_empties_and_allows_reuse(void **state) {
    struct fixture *f = *state;
    fielderr_add(&f->errs, "a", "x");
    fielderr_clear(&f->errs);
    assert_int_equal(fielderr_count(&f->errs), 0);
    fielderr_clear(&f->errs);
    fielderr_add(&f->errs, "b", "y");
    assert_int_equal(fielderr_count(&f->errs), 1);
    assert_string_equal(fielderr_at(&f->errs, 0)->field, "b");
}

/* ---- products ----------------------------------------------------------- */

static void test_product_create_names_every_bad_field_in_order(void **state) {
    struct fixture *f = *state;
    struct product_input in;
    json_t *b = body(f, "{\"color\": \"red\", \"sku\": \"bad sku!\", \"name\": \" \","
                        " \"price\": \"1.234\", \"stock\": -1, \"currency\": \"xyz\","
                        " \"category_id\": 0}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_CREATE, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"color", "is not a known field"},
           {"price", "must be a decimal from 0 to 99999999.99 with at most two decimals"},
           {"name", "must be 1 to 200 characters, not only white space"},
           {"sku", "must be 1 to 64 of A-Z a-z 0-9 . _ -"},
           {"stock", "must be an integer from 0 to 2147483647"},
           {"category_id", "no such category"},
           {"currency", "must be an ISO 4217 currency code such as USD"});
}

static void test_product_create_requires_its_fields(void **state) {
    struct fixture *f = *state;
    struct product_input in;
    assert_int_equal(
        product_input_parse(&f->errs, body(f, "{\"stock\": \"5\"}"), PRODUCT_CREATE, &in),
        NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"stock", "must be an integer"}, {"sku", "is required"},
           {"name", "is required"}, {"price", "is required"});
}

static void test_product_create_accepts_valid_body_with_defaults(void **state) {
    struct fixture *f = *state;
    struct product_input in;
    json_t *b = body(f, "{\"sku\": \"BK-1\", \"name\": \"A Book\", \"price\": \"19.99\","
                        " \"stock\": 3}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_CREATE, &in), NX_OK);
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_string_equal(in.price_cents, "1999");
    assert_string_equal(in.currency, "USD");
    assert_string_equal(in.is_active, "true");
    assert_string_equal(in.description, "");
}

static void test_product_patch_accepts_empty_body(void **state) {
    struct fixture *f = *state;
    struct product_input in;
    assert_int_equal(product_input_parse(&f->errs, body(f, "{}"), PRODUCT_PATCH, &in), NX_OK);
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_null(in.sku);
    assert_false(in.has_price);
}

/* ---- categories --------------------------------------------------------- */

static void test_category_create_reports_slug_and_parent(void **state) {
    struct fixture *f = *state;
    struct category_input in;
    json_t *b = body(f, "{\"name\": \"Books\", \"slug\": \"Bad Slug\", \"parent_id\": 0}");
    assert_int_equal(category_input_parse(&f->errs, b, true, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs,
           {"slug", "must be lower-case letters, digits and single hyphens, at most 100 "
                    "characters, not all digits"},
           {"parent_id", "no such category"});
}

static void test_category_create_needs_a_name_a_slug_can_come_from(void **state) {
    struct fixture *f = *state;
    struct category_input in;
    assert_int_equal(category_input_parse(&f->errs, body(f, "{\"name\": \"!!!\"}"), true, &in),
                     NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"slug", "cannot be derived from this name; give one"});
}

/* White space of any kind is not a name; a name may hold some. */
static void test_names_are_not_only_white_space(void **state) {
    (void)state;
    static const char *const blank[] = {
        "", " ", "\t\r\n", "\xc2\xa0", " \xe3\x80\x80 ", "\xe2\x80\x83\xe2\x80\xaf"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++)
        assert_false(display_name_valid(blank[i], 200));
    assert_true(display_name_valid("\xc2\xa0"
                                   "a"
                                   "\xc2\xa0",
                                   200));
    assert_true(display_name_valid("\xe2\x80\x8b", 200)); /* ZERO WIDTH SPACE: not white space */
    assert_true(display_name_valid("\xc3\xa9", 1));
    assert_false(display_name_valid("ab", 1));
}

static void test_category_patch_accepts_null_parent(void **state) {
    struct fixture *f = *state;
    struct category_input in;
    json_t *b = body(f, "{\"description\": null, \"parent_id\": null}");
    assert_int_equal(category_input_parse(&f->errs, b, false, &in), NX_OK);
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_true(in.has_parent);
    assert_int_equal(in.parent_id, 0);
    assert_string_equal(in.description, "");
}

/* ---- users -------------------------------------------------------------- */

static void test_user_register_reports_role_email_and_password(void **state) {
    struct fixture *f = *state;
    struct user_input in;
    json_t *b = body(f, "{\"email\": \"nope\", \"password\": \"short\", \"name\": \"Ann\","
                        " \"role\": \"admin\"}");
    assert_int_equal(user_register_input(&f->errs, b, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"role", "is not a known field"}, {"email", "must be a valid email address"},
           {"password", "must be 8 to 128 characters"});
}

static void test_user_register_accepts_and_normalises_email(void **state) {
    struct fixture *f = *state;
    struct user_input in;
    json_t *b = body(f, "{\"email\": \" Ann@Example.COM \", \"password\": \"long enough\","
                        " \"name\": \"Ann\"}");
    assert_int_equal(user_register_input(&f->errs, b, &in), NX_OK);
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_string_equal(in.email, "ann@example.com");
    assert_int_equal(in.password_len, strlen("long enough"));
}

static void test_user_login_takes_malformed_email_as_failed_login(void **state) {
    struct fixture *f = *state;
    struct user_input in;
    json_t *b = body(f, "{\"email\": \"nope\", \"password\": \"whatever\"}");
    assert_int_equal(user_login_input(&f->errs, b, &in), NX_OK);
    assert_int_equal(fielderr_count(&f->errs), 0);
    assert_string_equal(in.email, "");
}

static void test_user_self_patch_needs_current_password(void **state) {
    struct fixture *f = *state;
    struct user_input in;
    json_t *b = body(f, "{\"password\": \"a new password\"}");
    assert_int_equal(user_self_patch_input(&f->errs, b, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"current_password", "is required to change the password"});
}

static void test_user_admin_patch_checks_role_and_types(void **state) {
    struct fixture *f = *state;
    struct user_input in;
    json_t *b = body(f, "{\"role\": \"root\", \"is_active\": 1, \"name\": \"\"}");
    assert_int_equal(user_admin_patch_input(&f->errs, b, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"is_active", "must be a boolean"},
           {"name", "must be 1 to 200 characters, not only white space"},
           {"role", "must be customer, staff or admin"});
}

/* ---- variants ------------------------------------------------------------ */

static void test_variant_create_checks_every_field(void **state) {
    struct fixture *f = *state;
    struct variant_input in;
    json_t *b = body(f, "{\"sku\": \"A B\", \"price\": \"1.001\", \"stock\": -1,"
                        " \"options\": {\"Size\": \"M\", \"size\": \"L\"}, \"position\": 0}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_CREATE, "", &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"sku", "must be 1 to 64 of A-Z a-z 0-9 . _ -"},
           {"price", "must be a decimal from 0 to 99999999.99 with at most two decimals"},
           {"stock", "must be an integer from 0 to 2147483647"},
           {"options", "names an option twice (case-insensitively)"},
           {"position", "must be an integer from 1 to 1000000"});
    variant_input_clear(&in);
}

static void test_variant_options_bounds(void **state) {
    struct fixture *f = *state;
    struct variant_input in;
    json_t *b = body(f, "{\"options\": {\"A\": \"1\", \"B\": \"2\", \"C\": \"3\", \"D\": \"4\"}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_ERR_VALIDATION);
    b = body(f, "{\"options\": {\"Size\": 5}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_ERR_VALIDATION);
    b = body(f, "{\"options\": {\"\": \"M\"}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_ERR_VALIDATION);
    b = body(f, "{\"options\": {\" \": \"M\"}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_ERR_VALIDATION);
    b = body(f, "{\"options\": {\"Size\": \"\\t\\u3000\"}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_ERR_VALIDATION);
    EXPECT(
        &f->errs, {"options", "must have at most 3 options"},
        {"options", "option values must be strings of 1 to 50 characters, not only white space"},
        {"options", "option names must be 1 to 50 characters, not only white space"},
        {"options", "option names must be 1 to 50 characters, not only white space"},
        {"options", "option values must be strings of 1 to 50 characters, not only white space"});
    b = body(f, "{\"options\": {\"Size\": \"M\", \"Color\": \"Red\"}}");
    assert_int_equal(variant_input_parse(&f->errs, b, VARIANT_PATCH, "", &in), NX_OK);
    assert_string_equal(in.names_key, "color\nsize");
    assert_string_equal(in.options, "{\"Size\":\"M\",\"Color\":\"Red\"}");
    variant_input_clear(&in);
}

static void test_product_variants_name_their_element(void **state) {
    struct fixture *f = *state;
    struct variant_input *v = NULL;
    size_t n = 0;
    json_t *b = body(
        f, "[{\"sku\": \"A\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Size\": \"S\"}},"
           " {\"sku\": \"B\", \"price\": \"x\", \"stock\": 1, \"options\": {\"Size\": \"M\"},"
           " \"position\": 2},"
           " {\"sku\": \"C\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Color\": \"Red\"}},"
           " 7]");
    assert_int_equal(variant_inputs_parse(&f->errs, b, &v, &n), NX_ERR_VALIDATION);
    EXPECT(
        &f->errs, {"variants[1].position", "is not a known field"},
        {"variants[1].price", "must be a decimal from 0 to 99999999.99 with at most two decimals"},
        {"variants[2].options", "must have the option names of variants[0]"},
        {"variants[3]", "must be an object"});
    variant_inputs_free(v, n);
    fielderr_clear(&f->errs);
    b = body(f, "[]");
    assert_int_equal(variant_inputs_parse(&f->errs, b, &v, &n), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"variants", "must hold 1 to 100 variants"});
    variant_inputs_free(v, n);
}

/* variants[0]'s options refused: the others take the option names of the
 * first variant whose options parsed, and are not refused for lacking
 * those of variants[0]. */
static void test_product_variants_follow_the_first_parsed_options(void **state) {
    struct fixture *f = *state;
    struct variant_input *v = NULL;
    size_t n = 0;
    json_t *b = body(
        f, "[{\"sku\": \"E1\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Size\": \"\"}},"
           " {\"sku\": \"E2\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Size\": \"M\"}},"
           " {\"sku\": \"E3\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Size\": \"L\"}}]");
    assert_int_equal(variant_inputs_parse(&f->errs, b, &v, &n), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"variants[0].options",
                      "option values must be strings of 1 to 50 characters, not only white space"});
    variant_inputs_free(v, n);
    fielderr_clear(&f->errs);
    /* not an object, then a variant whose options parsed: it sets the names */
    b = body(
        f, "[7, {\"sku\": \"E2\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Size\": \"M\"}},"
           " {\"sku\": \"E3\", \"price\": \"1\", \"stock\": 1, \"options\": {\"Color\": \"R\"}},"
           " {\"sku\": \"E4\", \"price\": \"1\", \"stock\": 1, \"options\": {\"size\": \"L\"}}]");
    assert_int_equal(variant_inputs_parse(&f->errs, b, &v, &n), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"variants[0]", "must be an object"},
           {"variants[2].options", "must have the option names of variants[1]"});
    variant_inputs_free(v, n);
}

/* A product's variants spell each option name as the first variant whose
 * options parsed spells it (lower-cased as the database lower-cases
 * names: "ÉPAISSEUR" is "Épaisseur"); values keep their own spelling. */
static void test_product_variants_spell_names_as_the_first(void **state) {
    struct fixture *f = *state;
    struct variant_input *v = NULL;
    size_t n = 0;
    json_t *b = body(f, "[7, {\"sku\": \"F1\", \"price\": \"1\", \"stock\": 1,"
                        " \"options\": {\"Épaisseur\": \"1mm\", \"Color\": \"Red\"}},"
                        " {\"sku\": \"F2\", \"price\": \"1\", \"stock\": 1,"
                        " \"options\": {\"COLOR\": \"blue\", \"ÉPAISSEUR\": \"2mm\"}}]");
    assert_int_equal(variant_inputs_parse(&f->errs, b, &v, &n), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"variants[0]", "must be an object"});
    assert_string_equal(v[1].options, "{\"Épaisseur\":\"1mm\",\"Color\":\"Red\"}");
    assert_string_equal(v[2].options, "{\"Color\":\"blue\",\"Épaisseur\":\"2mm\"}");
    variant_inputs_free(v, n);
}

/* The address space the process uses, in bytes (Linux; 0: unknown). */
static size_t address_space_in_use(void) {
    unsigned long pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (!fp)
        return 0;
    if (fscanf(fp, "%lu", &pages) != 1)
        pages = 0;
    fclose(fp);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* A body of far more elements than a product may have variants is refused
 * on its count before anything is allocated for its elements: in a child
 * whose address space may grow by only 64 MiB, 200,000 elements (some
 * 140 MB of variant inputs) are refused as 101 are. */
static void test_product_variants_too_many_allocate_nothing_for_them(void **state) {
    struct fixture *f = *state;
    json_t *b = body(f, "[]");
    for (int i = 0; i < 200000; i++)
        assert_int_equal(json_array_append_new(b, json_integer(0)), 0);
    size_t used = address_space_in_use();
    if (!used)
        skip();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {.rlim_cur = used + ((size_t)64 << 20),
                             .rlim_max = used + ((size_t)64 << 20)};
        struct field_errors errs = {0};
        struct variant_input *v = NULL;
        size_t n = 1;
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(2);
        enum nx_err e = variant_inputs_parse(&errs, b, &v, &n);
        const struct field_error *fe = fielderr_count(&errs) == 1 ? fielderr_at(&errs, 0) : NULL;
        bool ok = e == NX_ERR_VALIDATION && fe && strcmp(fe->field, "variants") == 0 &&
                  strcmp(fe->message, "must hold 1 to 100 variants") == 0 && v && n == 0;
        variant_inputs_free(v, n);
        fielderr_clear(&errs);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d (out of memory?)", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_product_replace_and_its_variants(void **state) {
    struct fixture *f = *state;
    struct product_input in;
    json_t *b = body(f, "{\"name\": \"Tee\", \"stock\": 3}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_REPLACE, &in), NX_OK);
    assert_int_equal(product_variant_fields(&f->errs, &in, PRODUCT_REPLACE, 1), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"sku", "is required"}, {"price", "is required"});
    fielderr_clear(&f->errs);
    assert_int_equal(product_variant_fields(&f->errs, &in, PRODUCT_PATCH, 3), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"stock", "the product has several variants: set it on a variant"});
    fielderr_clear(&f->errs);
    /* a value refused already keeps its one entry */
    product_input_clear(&in);
    b = body(f, "{\"sku\": \"!!\", \"stock\": -1, \"price\": \"2\"}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_PATCH, &in), NX_ERR_VALIDATION);
    assert_int_equal(product_variant_fields(&f->errs, &in, PRODUCT_PATCH, 3), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"sku", "must be 1 to 64 of A-Z a-z 0-9 . _ -"},
           {"stock", "must be an integer from 0 to 2147483647"},
           {"price", "the product has several variants: set it on a variant"});
    fielderr_clear(&f->errs);
    product_input_clear(&in);
    b = body(f, "{\"name\": \"x\", \"sku\": \"!!\"}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_REPLACE, &in), NX_ERR_VALIDATION);
    assert_int_equal(product_variant_fields(&f->errs, &in, PRODUCT_REPLACE, 2), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"sku", "must be 1 to 64 of A-Z a-z 0-9 . _ -"});
    fielderr_clear(&f->errs);
    product_input_clear(&in);
    b = body(f, "{\"name\": \"Tee\", \"sku\": \"T\", \"variants\": []}");
    assert_int_equal(product_input_parse(&f->errs, b, PRODUCT_CREATE, &in), NX_ERR_VALIDATION);
    EXPECT(&f->errs, {"variants", "give either variants or sku, price and stock"});
}

/* Assigned codes, the newest included; withdrawn, unassigned and
 * malformed ones are refused. */
static void test_currencies_are_the_assigned_iso_4217_codes(void **state) {
    (void)state;
    static const char *const assigned[] = {"USD", "eur", "XCG", "ZWG", "VED",
                                           "SLE", "ANG", "XTS", "XXX"};
    static const char *const refused[] = {"HRK", "SLL", "XXY", "EURO", "US", ""};
    char out[4];
    for (size_t i = 0; i < sizeof assigned / sizeof *assigned; i++)
        assert_true(currency_normalize(assigned[i], out));
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        assert_false(currency_normalize(refused[i], out));
}

#define FT(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        FT(test_fielderr_keeps_order_and_formats_messages),
        FT(test_fielderr_clear_empties_and_allows_reuse),
        FT(test_product_create_names_every_bad_field_in_order),
        FT(test_product_create_requires_its_fields),
        FT(test_product_create_accepts_valid_body_with_defaults),
        FT(test_product_patch_accepts_empty_body),
        FT(test_category_create_reports_slug_and_parent),
        FT(test_category_create_needs_a_name_a_slug_can_come_from),
        FT(test_category_patch_accepts_null_parent),
        cmocka_unit_test(test_names_are_not_only_white_space),
        cmocka_unit_test(test_currencies_are_the_assigned_iso_4217_codes),
        FT(test_user_register_reports_role_email_and_password),
        FT(test_user_register_accepts_and_normalises_email),
        FT(test_user_login_takes_malformed_email_as_failed_login),
        FT(test_user_self_patch_needs_current_password),
        FT(test_user_admin_patch_checks_role_and_types),
        FT(test_variant_create_checks_every_field),
        FT(test_variant_options_bounds),
        FT(test_product_variants_name_their_element),
        FT(test_product_variants_follow_the_first_parsed_options),
        FT(test_product_variants_spell_names_as_the_first),
        FT(test_product_variants_too_many_allocate_nothing_for_them),
        FT(test_product_replace_and_its_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
