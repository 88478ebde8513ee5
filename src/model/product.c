/*
 * product.c -- product validation and serialisation.
 */
#include "nexus/model/product.h"

#include "nexus/core/parse.h"
#include "nexus/model/catalog.h"
#include "nexus/model/fields.h"
#include "nexus/model/variant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum nx_err parse_price(struct field_errors *errs, json_t *body, struct product_input *in) {
    json_t *v = json_object_get(body, "price");
    if (!v)
        return NX_OK;
    if (!json_is_string(v))
        return fielderr_add(errs, "price", "must be a decimal string such as \"19.99\"");
    enum nx_err e = price_parse(errs, v, "price", in->price_cents);
    in->has_price = e == NX_OK;
    return e;
}

static enum nx_err parse_numbers(struct field_errors *errs, json_t *body,
                                 struct product_input *in) {
    enum nx_err e = NX_OK;
    json_t *stock = json_object_get(body, "stock");
    json_t *category = json_object_get(body, "category_id");
    json_t *currency = json_object_get(body, "currency");
    if (json_is_integer(stock)) {
        e = stock_parse(errs, stock, "stock", in->stock);
        in->has_stock = true;
    }
    if (json_is_integer(category) && json_integer_value(category) < 1)
        e = fielderr_add(errs, "category_id", "no such category");
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
    /* A create takes sku, price and stock or variants; a replace takes
     * sku, price and stock as its variants allow (product_variant_fields). */
    bool variants = mode == PRODUCT_CREATE && json_object_get(body, "variants");
    bool own = mode == PRODUCT_CREATE && !variants;
    const struct field_spec spec[] = {
        {"sku", FIELD_STRING, own},
        {"name", FIELD_STRING, full},
        {"slug", FIELD_STRING, false},
        {"description", FIELD_STRING_OR_NULL, false},
        {"price", FIELD_STRING, own},
        {"currency", FIELD_STRING, false},
        {"stock", FIELD_INTEGER, own},
        {"category_id", FIELD_INTEGER_OR_NULL, false},
        {"is_active", FIELD_BOOL, false},
        {"attributes", FIELD_ANY, false},
        {"images", FIELD_ANY, false},
        {"variants", FIELD_ARRAY, false}, /* last: only a create takes it */
    };
    size_t specs = sizeof spec / sizeof spec[0] - (mode != PRODUCT_CREATE);
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, specs);
    /* One entry per bad field: variants that are no array were named by
     * fields_check, and variants beside sku, price and stock are named
     * here; neither is looked into (variant_inputs_parse). */
    json_t *list = json_object_get(body, "variants");
    bool both = json_object_get(body, "sku") || json_object_get(body, "price") ||
                json_object_get(body, "stock");
    if (variants && json_is_array(list) && both)
        e = fielderr_add(errs, "variants", "give either variants or sku, price and stock");
    in->variants = variants && json_is_array(list) && !both ? list : NULL;
    /* fields_check already named a price of the wrong type */
    json_t *price = json_object_get(body, "price");
    if (!price || json_is_string(price))
        if (parse_price(errs, body, in) != NX_OK)
            e = NX_ERR_VALIDATION;
    if (catalog_text_fields(errs, body, full, &in->name, &in->slug, &in->description) != NX_OK)
        e = NX_ERR_VALIDATION;
    in->sku = field_string(body, "sku");
    if (in->sku && !sku_is_valid(in->sku))
        e = fielderr_add(errs, "sku", "must be " SKU_RULE);
    if (parse_numbers(errs, body, in) != NX_OK)
        e = NX_ERR_VALIDATION;
    json_t *active = json_object_get(body, "is_active");
    if (json_is_boolean(active))
        in->is_active = json_is_true(active) ? "true" : "false";
    if (product_extras_parse(errs, body, full, &in->extras) != NX_OK)
        e = NX_ERR_VALIDATION;
    if (full)
        fill_defaults(in);
    return e;
}

void product_input_clear(struct product_input *in) {
    product_extras_clear(&in->extras);
}

bool product_input_writes_row(const struct product_input *in) {
    return in->sku || in->name || in->slug || in->description || in->has_price ||
           in->has_currency || in->has_stock || in->has_category || in->is_active ||
           in->extras.attributes || in->extras.images;
}

static int64_t int_at(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void write_text(struct jsonw *w, const PGresult *r, int row, int col) {
    jsonw_stringn(w, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

/* A member whose value is a text column; name is a literal (jsonw_member). */
#define write_string(w, name, r, row, col)                                                         \
    do {                                                                                           \
        jsonw_member(w, name);                                                                     \
        write_text(w, r, row, col);                                                                \
    } while (0)

static void write_category(struct jsonw *w, const PGresult *r, int row) {
    jsonw_member(w, "category");
    if (PQgetisnull(r, row, PC_CATEGORY_ID)) {
        jsonw_null(w);
        return;
    }
    jsonw_object_open(w);
    jsonw_member(w, "id");
    jsonw_int(w, int_at(r, row, PC_CATEGORY_ID));
    write_string(w, "name", r, row, PC_CATEGORY_NAME);
    write_string(w, "slug", r, row, PC_CATEGORY_SLUG);
    jsonw_object_close(w);
}

static void write_derived(struct jsonw *w, const PGresult *r, int row, bool staff) {
    char price[NX_MONEY_BUF];
    jsonw_member(w, "price_range");
    jsonw_object_open(w);
    format_money(int_at(r, row, PC_PRICE_CENTS), price, sizeof price);
    jsonw_member(w, "min");
    jsonw_string(w, price);
    format_money(int_at(r, row, PC_PRICE_MAX_CENTS), price, sizeof price);
    jsonw_member(w, "max");
    jsonw_string(w, price);
    jsonw_object_close(w);
    jsonw_member(w, "options");
    jsonw_text(w, PQgetvalue(r, row, PC_VARIANT_OPTIONS),
               (size_t)PQgetlength(r, row, PC_VARIANT_OPTIONS));
    jsonw_member(w, "variant_count");
    jsonw_int(w, int_at(r, row, staff ? PC_VARIANT_COUNT : PC_VARIANT_ACTIVE_COUNT));
}

const char *const product_field_names[] = {
    "id",         "sku",         "name",     "slug",          "description", "price",
    "currency",   "stock",       "in_stock", "is_active",     "category",    "created_at",
    "updated_at", "price_range", "options",  "variant_count", "attributes",  "images",
    "variants",
};
const size_t product_field_count = sizeof product_field_names / sizeof product_field_names[0];

/* attributes and images, as PostgreSQL wrote their jsonb. */
static void write_extras(struct jsonw *w, const PGresult *r, int row) {
    jsonw_member(w, "attributes");
    jsonw_text(w, PQgetvalue(r, row, PC_ATTRIBUTES), (size_t)PQgetlength(r, row, PC_ATTRIBUTES));
    jsonw_member(w, "images");
    jsonw_text(w, PQgetvalue(r, row, PC_IMAGES), (size_t)PQgetlength(r, row, PC_IMAGES));
}

static void write_fields(struct jsonw *w, const PGresult *r, int row, bool staff) {
    char price[NX_MONEY_BUF];
    int64_t stock = int_at(r, row, PC_STOCK);
    format_money(int_at(r, row, PC_PRICE_CENTS), price, sizeof price);
    jsonw_member(w, "id");
    jsonw_int(w, int_at(r, row, PC_ID));
    write_string(w, "sku", r, row, PC_SKU);
    write_string(w, "name", r, row, PC_NAME);
    write_string(w, "slug", r, row, PC_SLUG);
    write_string(w, "description", r, row, PC_DESCRIPTION);
    jsonw_member(w, "price");
    jsonw_string(w, price);
    write_string(w, "currency", r, row, PC_CURRENCY);
    jsonw_member(w, "stock");
    jsonw_int(w, stock);
    jsonw_member(w, "in_stock");
    jsonw_bool(w, stock > 0);
    jsonw_member(w, "is_active");
    jsonw_bool(w, PQgetvalue(r, row, PC_IS_ACTIVE)[0] == 't');
    write_category(w, r, row);
    write_string(w, "created_at", r, row, PC_CREATED_AT);
    write_string(w, "updated_at", r, row, PC_UPDATED_AT);
    write_derived(w, r, row, staff);
    write_extras(w, r, row);
}

void product_write_json(struct jsonw *w, const PGresult *r, int row, bool staff) {
    jsonw_object_open(w);
    write_fields(w, r, row, staff);
    jsonw_object_close(w);
}

char *product_item_json(const PGresult *r, bool staff, size_t *len) {
    struct jsonw w = {0};
    jsonw_object_open(&w);
    write_fields(&w, r, 0, staff);
    jsonw_member(&w, "variants");
    jsonw_array_open(&w);
    for (int i = 0; i < PQntuples(r); i++)
        if (!PQgetisnull(r, i, PC_ITEM_VARIANT + VC_ID))
            variant_write_columns(&w, r, i, PC_ITEM_VARIANT);
    jsonw_array_close(&w);
    jsonw_object_close(&w);
    return jsonw_take(&w, len);
}

enum nx_err product_variant_fields(struct field_errors *errs, const struct product_input *in,
                                   enum product_mode mode, long long live) {
    const char *names[] = {"sku", "price", "stock"};
    bool given[] = {in->sku != NULL, in->has_price, in->has_stock};
    enum nx_err e = NX_OK;
    for (size_t i = 0; i < 3; i++) {
        /* one entry a field: a value already refused keeps its error */
        if (given[i] && live != 1)
            e = fielderr_names(errs, names[i])
                    ? NX_ERR_VALIDATION
                    : fielderr_add(errs, names[i],
                                   "the product has several variants: set it on a variant");
        /* not given, or given and refused already */
        if (!given[i] && live == 1 && mode == PRODUCT_REPLACE && !fielderr_names(errs, names[i]))
            e = fielderr_add(errs, names[i], "is required");
    }
    return e;
}
