/*
 * graphql_shape.c -- REST JSON renamed and reshaped for the GraphQL schema
 * (see graphql_shape.h).
 */
#include "nexus/api/graphql_shape.h"

#include "nexus/core/jsonscan.h"
#include "nexus/core/jsonw.h"
#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"
#include "nexus/model/category.h"
#include "nexus/model/product.h"
#include "nexus/model/variant.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* in_stock -> inStock */
static void camel(const char *key, char *out, size_t cap) {
    size_t n = 0;
    for (const char *c = key; *c && n + 1 < cap; c++) {
        if (*c == '_' && c[1]) {
            out[n++] = (char)toupper((unsigned char)*++c);
            continue;
        }
        out[n++] = *c;
    }
    out[n] = '\0';
}

static int by_first_key(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return variant_option_name_cmp(x, y);
}

/* An object's keys, sorted (owned array of borrowed keys). */
static const char **sorted_keys(const json_t *obj, size_t *n) {
    const char **keys = xcalloc(json_object_size(obj) + 1, sizeof *keys);
    const char *k;
    const json_t *v;
    *n = 0;
    json_object_foreach((json_t *)(uintptr_t)obj, k, v) keys[(*n)++] = k;
    qsort(keys, *n, sizeof *keys, by_first_key);
    return keys;
}

/* A JSON number's text (as PostgreSQL writes it) read as jansson would: an
 * integer when it has no fraction or exponent and fits 64 bits, else a
 * real (PostgreSQL writes 1e30 back as 31 digits); false beyond a double. */
bool gql_number_token(const char *s, size_t len, bool *integer, json_int_t *i, double *d) {
    /* Most are short integers: their digits read without a copy. */
    bool negative = len > 0 && s[0] == '-';
    size_t k = negative, digits = len - k;
    uint64_t v = 0;
    for (; k < len && s[k] >= '0' && s[k] <= '9' && digits <= 18; k++)
        v = v * 10 + (uint64_t)(s[k] - '0');
    if (k == len && digits > 0 && digits <= 18) {
        *integer = true;
        *i = negative ? -(json_int_t)v : (json_int_t)v;
        return true;
    }
    char token[400]; /* a double's digits, 309 at most, and a sign */
    if (len == 0 || len >= sizeof token)
        return false;
    memcpy(token, s, len);
    token[len] = '\0';
    errno = 0;
    *integer = false;
    if (!strpbrk(token, ".eE")) {
        *i = strtoll(token, NULL, 10);
        *integer = errno == 0;
        if (*integer)
            return true;
    }
    *d = strtod(token, NULL);
    return !isinf(*d) && !isnan(*d);
}

/* A number's text as `value` gives it: an integer in decimal, a real in
 * plain decimal as REST and PostgreSQL write it (core/numtext); 0 when it
 * does not fit. Both writers of attributes use it (graphql_row.c from the
 * jsonb text). */
size_t gql_attribute_number(bool integer, json_int_t i, double d, char *out, size_t cap) {
    if (integer) { /* digit arithmetic, not printf */
        char digits[24], *p = digits + sizeof digits;
        uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (i < 0)
            *--p = '-';
        size_t n = (size_t)(digits + sizeof digits - p);
        if (n >= cap)
            return 0;
        memcpy(out, p, n);
        out[n] = '\0';
        return n;
    }
    if (isinf(d) || isnan(d))
        return 0;
    return numtext_plain(d, out, cap);
}

/* An attribute's value as the attr.* filters compare it; NULL for a value
 * the list leaves out (see graphql_shape.h). */
static json_t *attribute(const char *key, const json_t *v) {
    char number[GQL_NUMBER_BUF];
    json_t *text;
    const char *type = "NUMBER";
    if (json_is_string(v)) {
        text = json_incref((json_t *)(uintptr_t)v);
        type = "STRING";
    } else if (json_is_boolean(v)) {
        text = json_string(json_is_true(v) ? "true" : "false");
        type = "BOOLEAN";
    } else if (json_is_number(v) &&
               gql_attribute_number(json_is_integer(v), json_integer_value(v), json_real_value(v),
                                    number, sizeof number)) {
        text = json_string(number);
    } else {
        return NULL;
    }
    return json_pack("{s:s, s:o, s:s}", "key", key, "value", text, "type", type);
}

/* {"a": x, ...} as [{name_key: "a", value_key: f(x)}, ...] by name. */
static json_t *pairs(const json_t *obj, bool attributes) {
    size_t n;
    const char **keys = sorted_keys(obj, &n);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, keys[i]);
        json_t *item =
            attributes ? attribute(keys[i], v)
                       : json_pack("{s:s, s:O}", "name", keys[i], "value", (json_t *)(uintptr_t)v);
        if (item)
            json_array_append_new(out, item);
    }
    free(keys);
    return out;
}

static json_t *shape_object(const json_t *rest) {
    json_t *out = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)rest, key, v) {
        char name[64];
        camel(key, name, sizeof name);
        if (strcmp(key, "attributes") == 0 && json_is_object(v))
            json_object_set_new(out, name, pairs(v, true));
        else if (strcmp(key, "options") == 0 && json_is_object(v))
            json_object_set_new(out, name, pairs(v, false));
        else if (strcmp(key, "role") == 0 && json_is_string(v)) {
            char role[16] = {0};
            for (size_t i = 0; i + 1 < sizeof role && json_string_value(v)[i]; i++)
                role[i] = (char)toupper((unsigned char)json_string_value(v)[i]);
            json_object_set_new(out, name, json_string(role));
        } else
            json_object_set_new(out, name, gql_shape(v));
    }
    return out;
}

json_t *gql_shape(const json_t *rest) {
    if (json_is_object(rest))
        return shape_object(rest);
    if (!json_is_array(rest))
        return json_incref((json_t *)(uintptr_t)rest);
    json_t *out = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(rest, i, v) json_array_append_new(out, gql_shape(v));
    return out;
}

/* The JSON a model function wrote, reshaped. */
static json_t *shape_written(struct jsonw *w) {
    size_t len;
    char *text = jsonw_take(w, &len);
    json_t *rest = json_loadb(text, len, 0, NULL);
    free(text);
    NX_ASSERT(rest); /* the model writes valid JSON */
    json_t *out = gql_shape(rest);
    json_decref(rest);
    return out;
}

/* A column as a string value. */
static json_t *text_at(const PGresult *r, int row, int col) {
    return json_stringn(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static json_int_t int_at(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static json_t *money_at(const PGresult *r, int row, int col) {
    char price[NX_MONEY_BUF];
    format_money(int_at(r, row, col), price, sizeof price);
    return json_string(price);
}

/* A jsonb column, parsed. PostgreSQL writes valid JSON, but a number
 * stored as 1e30 comes back as 31 digits, an integer jansson does not
 * read: such integers are read as reals (as graphql_row.c writes them).
 * A number beyond a double (only SQL by hand can store one) leaves the
 * column empty rather than failing the request. */
static json_t *jsonb_at(const PGresult *r, int row, int col, json_t *(*empty)(void)) {
    const char *text = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    json_t *v = json_loadb(text, len, 0, NULL);
    if (!v)
        v = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, NULL);
    return v ? v : empty();
}

/*
 * The members of product_write_json (model/product.c), built as values in
 * the schema's names straight from the columns: the page of a connection
 * is made of these, and writing each row as text to parse it back cost
 * more than the rest of the request together (docs/PERFORMANCE.md). The
 * tests compare every member with REST's answer.
 */
/* A jsonb string (its span, quotes included) decoded. */
static json_t *decoded(struct jsonspan quoted) {
    json_t *v = json_loadb(quoted.s, quoted.len, JSON_DECODE_ANY, NULL);
    if (json_is_string(v))
        return v;
    json_decref(v);
    return NULL;
}

/* The attributes column as an object of values, each number read by
 * gql_number_token as graphql_row.c reads it (jansson would read every
 * integer of the column as a real when one of them is beyond 64 bits);
 * a member whose value is no attribute is null, which pairs() leaves out. */
static json_t *attributes_at(const PGresult *r, int row) {
    struct jsonscan js;
    struct jsonspan key, v;
    bool first = true;
    json_t *out = json_object();
    jsonscan_init(&js, PQgetvalue(r, row, PC_ATTRIBUTES),
                  (size_t)PQgetlength(r, row, PC_ATTRIBUTES));
    if (!jsonscan_open(&js, '{'))
        return out;
    while (jsonscan_more(&js, '}', &first) && jsonscan_key(&js, &key) && jsonscan_value(&js, &v)) {
        json_t *name = decoded((struct jsonspan){key.s - 1, key.len + 2});
        bool integer;
        json_int_t i = 0;
        double d = 0;
        json_t *value = json_null();
        if (v.s[0] == '"')
            value = decoded(v);
        else if (jsonspan_is(v, "true") || jsonspan_is(v, "false"))
            value = json_boolean(v.s[0] == 't');
        else if ((v.s[0] == '-' || (v.s[0] >= '0' && v.s[0] <= '9')) &&
                 gql_number_token(v.s, v.len, &integer, &i, &d))
            value = integer ? json_integer(i) : json_real(d);
        if (name && value)
            json_object_set_new(out, json_string_value(name), value);
        else
            json_decref(value);
        json_decref(name);
    }
    return out;
}

json_t *gql_product_row(const PGresult *r, int row, bool staff) {
    json_int_t stock = int_at(r, row, PC_STOCK);
    json_t *attributes = attributes_at(r, row);
    json_t *category = json_null();
    if (!PQgetisnull(r, row, PC_CATEGORY_ID))
        category =
            json_pack("{s:I, s:o, s:o}", "id", int_at(r, row, PC_CATEGORY_ID), "name",
                      text_at(r, row, PC_CATEGORY_NAME), "slug", text_at(r, row, PC_CATEGORY_SLUG));
    json_t *out = json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:b, s:b, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:I,"
        " s:o, s:o}",
        "id", int_at(r, row, PC_ID), "sku", text_at(r, row, PC_SKU), "name",
        text_at(r, row, PC_NAME), "slug", text_at(r, row, PC_SLUG), "description",
        text_at(r, row, PC_DESCRIPTION), "price", money_at(r, row, PC_PRICE_CENTS), "currency",
        text_at(r, row, PC_CURRENCY), "stock", stock, "inStock", stock > 0, "isActive",
        PQgetvalue(r, row, PC_IS_ACTIVE)[0] == 't', "category", category, "createdAt",
        text_at(r, row, PC_CREATED_AT), "updatedAt", text_at(r, row, PC_UPDATED_AT), "priceRange",
        "min", money_at(r, row, PC_PRICE_CENTS), "max", money_at(r, row, PC_PRICE_MAX_CENTS),
        "options", jsonb_at(r, row, PC_VARIANT_OPTIONS, json_object), "variantCount",
        int_at(r, row, staff ? PC_VARIANT_COUNT : PC_VARIANT_ACTIVE_COUNT), "attributes",
        pairs(attributes, true), "images", jsonb_at(r, row, PC_IMAGES, json_array));
    json_decref(attributes);
    NX_ASSERT(out);
    return out;
}

json_t *gql_variant_row(const PGresult *r, int row) {
    struct jsonw w = {0};
    variant_write_json(&w, r, row);
    return shape_written(&w);
}

json_t *gql_category_row(const PGresult *r, int row) {
    json_t *rest = category_to_json(r, row);
    json_t *out = gql_shape(rest);
    json_decref(rest);
    return out;
}
