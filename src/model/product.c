/*
 * product.c -- product validation and serialisation.
 */
#include "nexus/model/product.h"

#include "nexus/core/parse.h"
#include "nexus/model/fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sku_is_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static enum nx_err parse_price(struct field_errors *errs, json_t *body, struct product_input *in) {
    json_t *v = json_object_get(body, "price");
    int64_t cents;
    if (!v)
        return NX_OK;
    if (!json_is_string(v))
        return fielderr_add(errs, "price", "must be a decimal string such as \"19.99\"");
    if (!parse_money(json_string_value(v), json_string_length(v), &cents))
        return fielderr_add(errs, "price",
                            "must be a decimal from 0 to 99999999.99 with at most two decimals");
    snprintf(in->price_cents, sizeof in->price_cents, "%lld", (long long)cents);
    in->has_price = true;
    return NX_OK;
}

static enum nx_err parse_numbers(struct field_errors *errs, json_t *body,
                                 struct product_input *in) {
    enum nx_err e = NX_OK;
    json_t *stock = json_object_get(body, "stock");
    json_t *category = json_object_get(body, "category_id");
    json_t *currency = json_object_get(body, "currency");
    if (json_is_integer(stock)) {
        json_int_t n = json_integer_value(stock);
        if (n < 0 || n > INT32_MAX)
            e = fielderr_add(errs, "stock", "must be an integer from 0 to 2147483647");
        snprintf(in->stock, sizeof in->stock, "%lld", (long long)n);
        in->has_stock = true;
    }
    if (json_is_integer(category) && json_integer_value(category) < 1)
        e = fielderr_add(errs, "category_id", "must be the id of an existing category");
    if (json_is_integer(category) || json_is_null(category)) {
        in->has_category = true;
        if (json_is_integer(category))
            snprintf(in->category_id, sizeof in->category_id, "%lld",
                     (long long)json_integer_value(category));
    }
    if (json_is_string(currency)) {
        if (!currency_normalize(json_string_value(currency), in->currency))
            e = fielderr_add(errs, "currency", "must be an ISO 4217 currency code such as USD");
        in->has_currency = true;
    }
    return e;
}

/* Create and replace take defaults for what is not given. */
static void fill_defaults(struct product_input *in) {
    if (!in->description)
        in->description = "";
    if (!in->has_currency)
        memcpy(in->currency, "USD", 4);
    in->has_currency = true;
    in->has_category = true; /* "" is null */
    if (!in->is_active)
        in->is_active = "true";
}

enum nx_err product_input_parse(struct field_errors *errs, json_t *body, enum product_mode mode,
                                struct product_input *in) {
    bool full = mode != PRODUCT_PATCH;
    const struct field_spec spec[] = {
        {"sku", FIELD_STRING, full},      {"name", FIELD_STRING, full},
        {"slug", FIELD_STRING, false},    {"description", FIELD_STRING_OR_NULL, false},
        {"price", FIELD_STRING, full},    {"currency", FIELD_STRING, false},
        {"stock", FIELD_INTEGER, full},   {"category_id", FIELD_INTEGER_OR_NULL, false},
        {"is_active", FIELD_BOOL, false},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, sizeof spec / sizeof spec[0]);
    /* fields_check already named a price of the wrong type */
    json_t *price = json_object_get(body, "price");
    if (!price || json_is_string(price))
        if (parse_price(errs, body, in) != NX_OK)
            e = NX_ERR_VALIDATION;
    if (catalog_text_fields(errs, body, full, &in->name, &in->slug, &in->description) != NX_OK)
        e = NX_ERR_VALIDATION;
    in->sku = field_string(body, "sku");
    if (in->sku && !sku_is_valid(in->sku))
        e = fielderr_add(errs, "sku", "must be 1 to 64 of A-Z a-z 0-9 . _ -");
    if (parse_numbers(errs, body, in) != NX_OK)
        e = NX_ERR_VALIDATION;
    json_t *active = json_object_get(body, "is_active");
    if (json_is_boolean(active))
        in->is_active = json_is_true(active) ? "true" : "false";
    if (full)
        fill_defaults(in);
    return e;
}

static json_t *embedded_category(const PGresult *r, int row) {
    if (PQgetisnull(r, row, PC_CATEGORY_ID))
        return json_null();
    json_t *c = json_object();
    json_object_set_new(c, "id",
                        json_integer(strtoll(PQgetvalue(r, row, PC_CATEGORY_ID), NULL, 10)));
    json_object_set_new(c, "name", json_string(PQgetvalue(r, row, PC_CATEGORY_NAME)));
    json_object_set_new(c, "slug", json_string(PQgetvalue(r, row, PC_CATEGORY_SLUG)));
    return c;
}

json_t *product_to_json(const PGresult *r, int row) {
    char price[NX_MONEY_BUF];
    long long stock = strtoll(PQgetvalue(r, row, PC_STOCK), NULL, 10);
    format_money(strtoll(PQgetvalue(r, row, PC_PRICE_CENTS), NULL, 10), price, sizeof price);
    json_t *p = json_object();
    json_object_set_new(p, "id", json_integer(strtoll(PQgetvalue(r, row, PC_ID), NULL, 10)));
    json_object_set_new(p, "sku", json_string(PQgetvalue(r, row, PC_SKU)));
    json_object_set_new(p, "name", json_string(PQgetvalue(r, row, PC_NAME)));
    json_object_set_new(p, "slug", json_string(PQgetvalue(r, row, PC_SLUG)));
    json_object_set_new(p, "description", json_string(PQgetvalue(r, row, PC_DESCRIPTION)));
    json_object_set_new(p, "price", json_string(price));
    json_object_set_new(p, "currency", json_string(PQgetvalue(r, row, PC_CURRENCY)));
    json_object_set_new(p, "stock", json_integer(stock));
    json_object_set_new(p, "in_stock", json_boolean(stock > 0));
    json_object_set_new(p, "is_active", json_boolean(PQgetvalue(r, row, PC_IS_ACTIVE)[0] == 't'));
    json_object_set_new(p, "category", embedded_category(r, row));
    json_object_set_new(p, "created_at", json_string(PQgetvalue(r, row, PC_CREATED_AT)));
    json_object_set_new(p, "updated_at", json_string(PQgetvalue(r, row, PC_UPDATED_AT)));
    return p;
}
