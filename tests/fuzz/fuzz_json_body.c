/*
 * fuzz_json_body.c -- request bodies through every model validator.
 *
 * The input is a request body. It is parsed as the server does
 * (json_loadb with JSON_REJECT_DUPLICATES), and when it is an object it
 * goes through each validator: user_register_input, user_login_input,
 * user_self_patch_input, user_admin_patch_input, product_input_parse in
 * each mode and category_input_parse for create and patch, each with a
 * fresh, empty list of field errors.
 *
 * Guarantees checked: a validator answers NX_OK or NX_ERR_VALIDATION; a
 * refusal names at least one field (so the 422 says what is wrong) and
 * an acceptance names none; what is accepted obeys the documented rules
 * (lengths, email form, money, ISO currency, slug form, positive ids,
 * stock range).
 */
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

/* The outcome of one validator on a fresh list. */
static void check_outcome(struct field_errors *errs, enum nx_err e) {
    CHECK(e == NX_OK || e == NX_ERR_VALIDATION);
    size_t n = fielderr_count(errs);
    if (e == NX_OK) {
        CHECK(n == 0);
        return;
    }
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct field_error *entry = fielderr_at(errs, i);
        CHECK(entry->field && entry->message && entry->message[0]);
    }
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t err;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    users(body);
    products(body);
    categories(body);
    json_decref(body);
    return 0;
}
