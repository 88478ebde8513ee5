/*
 * graphql_shape.c -- REST JSON renamed and reshaped for the GraphQL schema
 * (see graphql_shape.h).
 */
#include "nexus/api/graphql_shape.h"

#include "nexus/core/jsonw.h"
#include "nexus/core/xmem.h"
#include "nexus/model/category.h"
#include "nexus/model/product.h"
#include "nexus/model/variant.h"

#include <ctype.h>
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
    return strcmp(x, y);
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

/* An attribute's value as the attr.* filters compare it. */
static json_t *attribute(const char *key, const json_t *v) {
    const char *type = json_is_string(v) ? "STRING" : json_is_boolean(v) ? "BOOLEAN" : "NUMBER";
    json_t *text;
    if (json_is_string(v))
        text = json_incref((json_t *)(uintptr_t)v);
    else if (json_is_boolean(v))
        text = json_string(json_is_true(v) ? "true" : "false");
    else {
        char *dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        text = json_string(dumped ? dumped : "");
        free(dumped);
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
        json_array_append_new(out, attributes ? attribute(keys[i], v)
                                              : json_pack("{s:s, s:O}", "name", keys[i], "value",
                                                          (json_t *)(uintptr_t)v));
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

json_t *gql_product_row(const PGresult *r, int row, bool staff) {
    struct jsonw w = {0};
    product_write_json(&w, r, row, staff);
    return shape_written(&w);
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
