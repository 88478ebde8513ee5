/*
 * fuzz_json_body.c -- request bodies through every model validator.
 *
 * The input is a request body. It is read each way the server reads a
 * JSON body (http/server.c), duplicate keys refused in all of them:
 *   - any JSON value (JSON_DECODE_ANY), an object of which goes through
 *     every validator: user_register_input, user_login_input,
 *     user_self_patch_input, user_admin_patch_input,
 *     user_reset_request_input, user_token_input with and without a
 *     password, product_input_parse in each mode and category_input_parse
 *     for create and patch, each with a fresh, empty list of field errors;
 *   - for the routes whose handlers read strings holding a NUL themselves
 *     (login and password-reset, ROUTE_NUL_STRINGS), once more with
 *     JSON_ALLOW_NUL when that is what stopped the first reading, and
 *     past numbers jansson does not keep (core/jsonpath) when that stops
 *     it too: an object goes through their validators;
 *   - past such numbers and NULs (jsonpath_load_past_numbers) for the
 *     other routes: an object with no field named goes through every
 *     validator; one with fields named goes through the validators of the
 *     routes that take it to refuse after their 404 and 412
 *     (ROUTE_MISSING_FIRST).
 *
 * Guarantees checked: a validator answers NX_OK or NX_ERR_VALIDATION; a
 * refusal names at least one field (so the 422 says what is wrong) and
 * an acceptance names none; what is accepted obeys the documented rules
 * (lengths, email form, money, ISO currency, slug form, positive ids,
 * stock range). An email a login or a reset request takes holds no NUL,
 * and a login's password and a token are taken whole, NULs and all.
 * Reading past numbers (as an import row is read too) reads a body that
 * a plain reading takes as that reading does, naming no field; the fields it names are at most
 * JSONPATH_NAMED_MAX, each with a message.
 */
#include "nexus/core/jsonpath.h"
#include "nexus/core/parse.h"
#include "nexus/model/catalog.h"
#include "nexus/model/category.h"
#include "nexus/model/fields.h"
#include "nexus/model/product.h"
#include "nexus/model/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json_body: check failed: %s (line %d)\n", #cond, __LINE__);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Each entry names a field and says what is wrong with it. */
static void check_entries(const struct field_errors *errs) {
    for (size_t i = 0; i < fielderr_count(errs); i++) {
        const struct field_error *entry = fielderr_at(errs, i);
        CHECK(entry->field && entry->message && entry->message[0]);
    }
}

/* The outcome of one validator on a fresh list. */
static void check_outcome(struct field_errors *errs, enum nx_err e) {
    CHECK(e == NX_OK || e == NX_ERR_VALIDATION);
    size_t n = fielderr_count(errs);
    if (e == NX_OK) {
        CHECK(n == 0);
        return;
    }
    CHECK(n > 0);
    check_entries(errs);
}

static void check_name(const char *name) {
    size_t n = utf8_length(name);
    CHECK(n >= 1 && n <= 200);
}

static void check_password(const char *pw, size_t len) {
    CHECK(pw);
    size_t n = utf8_length(pw);
    CHECK(n >= NX_PASSWORD_MIN && n <= NX_PASSWORD_MAX);
    CHECK(len >= strlen(pw));
}

static void check_email(const char *email) {
    char again[NX_EMAIL_MAX + 1];
    CHECK(email[0] != '\0');
    CHECK(email_normalize(email, again, sizeof again));
    CHECK(strcmp(again, email) == 0); /* already normalised */
}

static void users(json_t *body) {
    struct field_errors errs = {0};
    struct user_input in;

    enum nx_err e = user_register_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK) {
        check_email(in.email);
        CHECK(in.name);
        check_name(in.name);
        check_password(in.password, in.password_len);
    }
    fielderr_clear(&errs);

    e = user_login_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK) {
        CHECK(in.password);
        if (in.email[0])
            check_email(in.email);
    }
    fielderr_clear(&errs);

    e = user_self_patch_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK) {
        if (in.name)
            check_name(in.name);
        if (in.password) {
            check_password(in.password, in.password_len);
            CHECK(in.current_password);
        }
    }
    fielderr_clear(&errs);

    e = user_admin_patch_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK) {
        if (in.name)
            check_name(in.name);
        if (in.role)
            CHECK(strcmp(in.role, "customer") == 0 || strcmp(in.role, "staff") == 0 ||
                  strcmp(in.role, "admin") == 0);
        if (in.is_active)
            CHECK(strcmp(in.is_active, "true") == 0 || strcmp(in.is_active, "false") == 0);
    }
    fielderr_clear(&errs);
}

static void account_tokens(json_t *body) {
    for (int with_password = 0; with_password < 2; with_password++) {
        struct field_errors errs = {0};
        struct token_input in;
        enum nx_err e = user_token_input(&errs, body, with_password, &in);
        check_outcome(&errs, e);
        if (e == NX_OK) {
            CHECK(in.token && in.token_len == json_string_length(json_object_get(body, "token")));
            if (with_password)
                check_password(in.password, in.password_len);
            else
                CHECK(!in.password);
        }
        fielderr_clear(&errs);
    }
}

/* A string member that holds no NUL: strlen sees all of it. */
static bool whole_string(json_t *body, const char *name) {
    json_t *v = json_object_get(body, name);
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* The validators of the routes that read strings holding a NUL
 * themselves (login, password reset). */
static void nul_string_routes(json_t *body) {
    struct field_errors errs = {0};
    struct user_input in;

    enum nx_err e = user_login_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK) {
        /* the whole password is checked, not the part before a NUL */
        CHECK(in.password &&
              in.password_len == json_string_length(json_object_get(body, "password")));
        if (in.email[0]) {
            CHECK(whole_string(body, "email")); /* never the address before a NUL */
            check_email(in.email);
        }
    }
    fielderr_clear(&errs);

    e = user_reset_request_input(&errs, body, &in);
    check_outcome(&errs, e);
    if (e == NX_OK && in.email[0]) {
        CHECK(whole_string(body, "email"));
        CHECK(strlen(in.email) <= NX_EMAIL_MAX);
    }
    fielderr_clear(&errs);
}

static void check_text_fields(const char *name, const char *slug, const char *description) {
    if (name)
        check_name(name);
    if (slug)
        CHECK(slug_is_valid(slug));
    if (description)
        CHECK(utf8_length(description) <= NX_DESCRIPTION_MAX);
}

static void check_product(const struct product_input *in, enum product_mode mode) {
    check_text_fields(in->name, in->slug, in->description);
    /* A create brings sku, price and stock, or variants instead; a
     * replace may omit them (its product's variants decide, later). */
    if (mode == PRODUCT_CREATE && in->variants)
        CHECK(!in->sku && !in->has_price && !in->has_stock);
    else if (mode == PRODUCT_CREATE)
        CHECK(in->sku && in->has_price && in->has_stock);
    if (mode != PRODUCT_PATCH)
        CHECK(in->name && in->has_currency && in->description && in->is_active);
    if (in->has_price) {
        int64_t cents;
        CHECK(parse_i64(in->price_cents, strlen(in->price_cents), 0, NX_MONEY_MAX_CENTS, &cents));
    }
    if (in->has_stock) {
        int64_t stock;
        CHECK(parse_i64(in->stock, strlen(in->stock), 0, INT32_MAX, &stock));
    }
    if (in->has_currency) {
        char again[4];
        CHECK(currency_normalize(in->currency, again) && strcmp(again, in->currency) == 0);
    }
    if (in->has_category && in->category_id[0]) {
        int64_t id;
        CHECK(parse_id(in->category_id, strlen(in->category_id), &id));
    }
    if (in->sku) {
        size_t n = strlen(in->sku);
        CHECK(n >= 1 && n <= 64);
    }
}

static void products(json_t *body) {
    static const enum product_mode modes[] = {PRODUCT_CREATE, PRODUCT_REPLACE, PRODUCT_PATCH};
    for (size_t i = 0; i < 3; i++) {
        struct field_errors errs = {0};
        struct product_input in;
        enum nx_err e = product_input_parse(&errs, body, modes[i], &in);
        check_outcome(&errs, e);
        if (e == NX_OK)
            check_product(&in, modes[i]);
        product_input_clear(&in);
        fielderr_clear(&errs);
    }
}

static void categories(json_t *body) {
    for (int create = 0; create < 2; create++) {
        struct field_errors errs = {0};
        struct category_input in;
        enum nx_err e = category_input_parse(&errs, body, create, &in);
        check_outcome(&errs, e);
        if (e == NX_OK) {
            check_text_fields(in.name, in.slug, in.description);
            if (create)
                CHECK(in.name);
            if (in.has_parent)
                CHECK(in.parent_id >= 0);
        }
        fielderr_clear(&errs);
    }
}

static void every_validator(json_t *body) {
    users(body);
    account_tokens(body);
    products(body);
    categories(body);
}

/* The validators of the routes that take a body whose reading named
 * fields, and refuse it after their 404 and 412: the validators must
 * cope with what such a body holds (a number read as 0, a NUL). */
static void missing_first_routes(json_t *body) {
    static const enum product_mode modes[] = {PRODUCT_REPLACE, PRODUCT_PATCH};
    struct field_errors errs = {0};
    struct user_input user;
    check_outcome(&errs, user_self_patch_input(&errs, body, &user));
    fielderr_clear(&errs);
    check_outcome(&errs, user_admin_patch_input(&errs, body, &user));
    fielderr_clear(&errs);
    for (size_t i = 0; i < 2; i++) {
        struct product_input product;
        check_outcome(&errs, product_input_parse(&errs, body, modes[i], &product));
        product_input_clear(&product);
        fielderr_clear(&errs);
    }
    struct category_input category;
    check_outcome(&errs, category_input_parse(&errs, body, 0, &category));
    fielderr_clear(&errs);
}

/* Whether the server reads a body past numbers and NULs after a first
 * reading stopped with this error (http/server.c, parse_json_body). */
static bool read_past(enum json_error_code code) {
    return code == json_error_numeric_overflow || code == json_error_null_character ||
           code == json_error_null_byte_in_key;
}

/* Read past numbers and NULs with flags: NULL, or a document whose
 * fields named are in *named (at most JSONPATH_NAMED_MAX, each with a
 * message), and that equals the plain reading with flags where there
 * is one. */
static json_t *load_past(const uint8_t *data, size_t size, size_t flags,
                         struct field_errors *named) {
    json_t *plain = jsonpath_loadb((const char *)data, size, flags, NULL);
    json_t *past = jsonpath_load_past_numbers((const char *)data, size, flags, NULL, named);
    size_t n = fielderr_count(named);
    CHECK(n <= JSONPATH_NAMED_MAX);
    check_entries(named);
    if (plain)
        CHECK(past && json_equal(past, plain) && n == 0);
    json_decref(plain);
    return past;
}

/* The login and password-reset routes (ROUTE_NUL_STRINGS). */
static void as_nul_string_route(const uint8_t *data, size_t size, enum json_error_code first) {
    enum { FLAGS = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL };
    json_error_t err;
    struct field_errors named = {0};
    json_t *body = NULL;
    if (first == json_error_null_character)
        body = jsonpath_loadb((const char *)data, size, FLAGS, &err);
    if (!body && read_past(first == json_error_null_character ? json_error_code(&err) : first))
        body = load_past(data, size, FLAGS, &named);
    if (json_is_object(body) && fielderr_count(&named) == 0)
        nul_string_routes(body);
    fielderr_clear(&named);
    json_decref(body);
}

/* Every other route with a JSON body. */
static void as_other_route(const uint8_t *data, size_t size, enum json_error_code first) {
    struct field_errors named = {0};
    json_t *body = read_past(first) ? load_past(data, size, JSON_REJECT_DUPLICATES, &named) : NULL;
    if (json_is_object(body) && fielderr_count(&named) == 0)
        every_validator(body);
    else if (json_is_object(body))
        missing_first_routes(body);
    fielderr_clear(&named);
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t err;
    json_t *body =
        jsonpath_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (json_is_object(body)) {
        every_validator(body);
        nul_string_routes(body);
    }
    if (!body) {
        as_nul_string_route(data, size, json_error_code(&err));
        as_other_route(data, size, json_error_code(&err));
    } else {
        /* as an import row reads a line: the same document, no field named */
        struct field_errors named = {0};
        json_decref(load_past(data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &named));
        fielderr_clear(&named);
    }
    json_decref(body);
    return 0;
}
