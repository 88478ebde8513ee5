/*
 * graphql_args.c -- GraphQL arguments written as REST query parameters
 * (see graphql_args.h).
 */
#include "nexus/api/graphql_args.h"

#include "nexus/api/product_filters.h"
#include "nexus/core/numtext.h"
#include "nexus/core/valuelist.h"
#include "nexus/db/products.h"
#include "nexus/http/problem.h"
#include "nexus/model/attributes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *value, *sort;
} SORTS[] = {
    {"CREATED_AT_DESC", "-created_at"},
    {"CREATED_AT_ASC", "created_at"},
    {"PRICE_ASC", "price"},
    {"PRICE_DESC", "-price"},
    {"NAME_ASC", "name"},
    {"NAME_DESC", "-name"},
};

void gql_args_init(struct gql_args *a, const struct request *caller) {
    memset(a, 0, sizeof *a);
    a->req.query_loaded = true; /* no connection: the query is what is added */
    a->req.principal = caller->principal;
    memcpy(a->req.request_id, caller->request_id, sizeof a->req.request_id);
}

bool gql_args_add(struct gql_args *a, const char *name, const char *value) {
    if (a->req.query_count == NX_MAX_QUERY_ARGS) {
        problem_detail(&a->req, NX_ERR_BAD_REQUEST, "too many filter values");
        return false;
    }
    struct query_arg *q = &a->req.query[a->req.query_count++];
    q->key = a->owned[a->owned_count++] = xstrdup(name);
    q->value = a->owned[a->owned_count++] = xstrdup(value);
    q->len = strlen(value);
    return true;
}

static bool add_string(struct gql_args *a, const json_t *obj, const char *field, const char *name) {
    const json_t *v = json_object_get(obj, field);
    return !json_is_string(v) || gql_args_add(a, name, json_string_value(v));
}

static bool add_bool(struct gql_args *a, const json_t *obj, const char *field, const char *name,
                     bool only_true) {
    const json_t *v = json_object_get(obj, field);
    if (!json_is_boolean(v) || (only_true && !json_is_true(v)))
        return true;
    return gql_args_add(a, name, json_is_true(v) ? "true" : "false");
}

enum nx_err gql_args_add_list(struct gql_args *a, const char *name, const json_t *values,
                              bool escaped) {
    struct buf b = {0};
    size_t i;
    const json_t *v;
    enum nx_err e = NX_OK;
    json_array_foreach(values, i, v) {
        const char *s = json_string_value(v);
        if (!s) { /* coercion refuses a null here: a second line */
            e = problem_detail(&a->req, NX_ERR_BAD_REQUEST, "%.60s: a value may not be null", name);
            break;
        }
        if ((!escaped && strchr(s, ',')) || !s[0]) {
            e = problem_detail(&a->req, NX_ERR_BAD_REQUEST, "%.60s: a value may not %s", name,
                               s[0] ? "contain a comma" : "be empty");
            break;
        }
        if (escaped)
            valuelist_append(&b, s);
        else
            buf_printf(&b, "%s%s", i ? "," : "", s);
    }
    if (e == NX_OK && b.len && !gql_args_add(a, name, b.data))
        e = NX_ERR_BAD_REQUEST;
    buf_clear(&b);
    return e;
}

/* A Float as the decimal text attr.<key>.min takes ("350", "1.5",
 * "0.0000001"): plain decimal, never an exponent, as REST reads it. */
static bool add_number(struct gql_args *a, const char *name, const json_t *v) {
    char text[NUMTEXT_BUF];
    if (!json_is_number(v))
        return true;
    if (!numtext_plain(json_number_value(v), text, sizeof text))
        return false;
    return gql_args_add(a, name, text);
}

/* "<prefix><name><suffix>", allocated: the name is the client's, of any
 * length, and the parameters' own rules judge it whole. */
static char *param_name(const char *prefix, const char *name, const char *suffix) {
    struct buf b = {0};
    buf_printf(&b, "%s%s%s", prefix, name ? name : "", suffix);
    return b.data;
}

static enum nx_err add_attribute(struct gql_args *a, const json_t *attr) {
    const char *key = json_string_value(json_object_get(attr, "key"));
    const json_t *values = json_object_get(attr, "values");
    /* Judged here, before it is part of a parameter's name: there a key
     * such as "weight_g.min" would read as a key and a bound. */
    if (!key || !attribute_key_is_valid(key))
        return problem_detail(&a->req, NX_ERR_BAD_REQUEST,
                              "filter.attributes (key \"%.60s\"): " ATTRIBUTE_KEY_RULE,
                              key ? key : "");
    char *name = param_name("attr.", key, "");
    enum nx_err e;
    /* A filter with nothing to compare still names its key, which the
     * parameters check as REST's `attr.<key>=` (an empty value is ignored,
     * a malformed key is refused). */
    if (json_array_size(values) == 0 && !json_is_number(json_object_get(attr, "min")) &&
        !json_is_number(json_object_get(attr, "max")))
        e = gql_args_add(a, name, "") ? NX_OK : NX_ERR_BAD_REQUEST;
    else
        e = gql_args_add_list(a, name, values, true);
    free(name);
    static const char *const BOUNDS[] = {"min", "max"};
    for (size_t i = 0; i < 2 && e == NX_OK; i++) {
        name = param_name("attr.", key, i ? ".max" : ".min");
        if (!add_number(a, name, json_object_get(attr, BOUNDS[i])))
            e = NX_ERR_BAD_REQUEST;
        free(name);
    }
    return e;
}

/* The conditions of the filter's attributes and options, counted as
 * REST counts the attr.* and option.* parameters they become: an
 * attribute's values, min and max one each, an option's values one, and
 * an empty list (a parameter with an empty value) none. */
static size_t discovery_conditions(const json_t *attrs, const json_t *options) {
    size_t n = 0, i;
    const json_t *v;
    json_array_foreach(attrs, i, v) {
        n += json_array_size(json_object_get(v, "values")) > 0;
        n += json_is_number(json_object_get(v, "min"));
        n += json_is_number(json_object_get(v, "max"));
    }
    json_array_foreach(options, i, v) {
        n += json_array_size(json_object_get(v, "values")) > 0;
    }
    return n;
}

static enum nx_err add_discovery(struct gql_args *a, const json_t *filter) {
    const json_t *attrs = json_object_get(filter, "attributes");
    const json_t *options = json_object_get(filter, "options");
    if (discovery_conditions(attrs, options) > NX_DISCOVERY_MAX)
        return problem_detail(&a->req, NX_ERR_BAD_REQUEST,
                              "filter.attributes and filter.options: at most %d conditions are "
                              "allowed (an attribute's values, min and max count one each, an "
                              "option's values one)",
                              NX_DISCOVERY_MAX);
    size_t i;
    const json_t *v;
    enum nx_err e = NX_OK;
    json_array_foreach(attrs, i, v) {
        if (e == NX_OK)
            e = add_attribute(a, v);
    }
    json_array_foreach(options, i, v) {
        if (e != NX_OK)
            break;
        char *name = param_name("option.", json_string_value(json_object_get(v, "name")), "");
        e = gql_args_add_list(a, name, json_object_get(v, "values"), true);
        free(name);
    }
    return e;
}

enum nx_err gql_args_filter(struct gql_args *a, const json_t *filter) {
    if (!json_is_object(filter))
        return NX_OK;
    bool ok = add_string(a, filter, "category", "category") && add_string(a, filter, "q", "q") &&
              add_string(a, filter, "minPrice", "min_price") &&
              add_string(a, filter, "maxPrice", "max_price") &&
              add_bool(a, filter, "inStock", "in_stock", false) &&
              add_string(a, filter, "currency", "currency") &&
              add_string(a, filter, "sku", "sku") &&
              add_bool(a, filter, "includeInactive", "include_inactive", true);
    return ok ? add_discovery(a, filter) : NX_ERR_BAD_REQUEST;
}

const char *gql_args_sort(const char *value) {
    for (size_t i = 0; value && i < sizeof SORTS / sizeof SORTS[0]; i++)
        if (strcmp(SORTS[i].value, value) == 0)
            return SORTS[i].sort;
    return "-created_at";
}

/* The schema's default of `first`, which an explicit null also means (as
 * null means the default of `sort` and `after`). */
#define FIRST_DEFAULT 20

enum nx_err gql_args_page(struct gql_args *a, const json_t *args, bool with_cursor) {
    const json_t *given = json_object_get(args, "first");
    json_int_t first = json_is_integer(given) ? json_integer_value(given) : FIRST_DEFAULT;
    char text[24];
    if (first < 1 || first > 100)
        return problem_detail(&a->req, NX_ERR_BAD_REQUEST, "first must be from 1 to 100");
    snprintf(text, sizeof text, "%lld", (long long)first);
    bool ok =
        gql_args_add(a, "limit", text) &&
        gql_args_add(a, "sort", gql_args_sort(json_string_value(json_object_get(args, "sort")))) &&
        (!with_cursor || add_string(a, args, "after", "cursor"));
    return ok ? NX_OK : NX_ERR_BAD_REQUEST;
}

/* The GraphQL argument each REST parameter was written from. */
static const struct {
    const char *param, *argument;
} ARGUMENTS[] = {
    {"category", "filter.category"},
    {"q", "filter.q"},
    {"min_price", "filter.minPrice"},
    {"max_price", "filter.maxPrice"},
    {"in_stock", "filter.inStock"},
    {"currency", "filter.currency"},
    {"sku", "filter.sku"},
    {"include_inactive", "filter.includeInactive"},
    {"cursor", "after"},
    {"limit", "first"},
    {"price_buckets", "priceBuckets"},
};

/* "attr.<key>[.min|.max]" or "option.<name>" (n bytes) as the input object
 * it came from, and the bound ("filter.attributes (key \"w\").min"); false
 * for any other name. A key holds no '.' (add_attribute refuses one). */
static bool discovery_argument(const char *name, size_t n, struct buf *out) {
    size_t key = 0, bound = 0;
    const char *list = NULL, *field = NULL;
    if (n >= 5 && strncmp(name, "attr.", 5) == 0) {
        key = 5, list = "filter.attributes", field = "key";
        if (n - key > 4 &&
            (memcmp(name + n - 4, ".min", 4) == 0 || memcmp(name + n - 4, ".max", 4) == 0))
            bound = 4;
    } else if (n >= 7 && strncmp(name, "option.", 7) == 0) {
        key = 7, list = "filter.options", field = "name";
    }
    if (list)
        buf_printf(out, "%s (%s \"%.*s\")%.*s", list, field, (int)(n - key - bound), name + key,
                   (int)bound, name + n - bound);
    return list != NULL;
}

/* Where the parameter name that starts detail ends. An attribute key or
 * an option name may hold spaces: those run to the sentence after them. */
static size_t param_end(const char *detail) {
    size_t n = strcspn(detail, " :");
    if (strncmp(detail, "attr.", 5) != 0 && strncmp(detail, "option.", 7) != 0)
        return n;
    static const char *const AFTER[] = {": ", " must ", " repeats "};
    const char *end = NULL;
    for (size_t i = 0; i < sizeof AFTER / sizeof *AFTER; i++) {
        const char *at = strstr(detail, AFTER[i]);
        if (at && (!end || at < end))
            end = at;
    }
    return end ? (size_t)(end - detail) : n;
}

/* The argument a query parameter's name (n bytes) came from, into out;
 * false when it names none. */
static bool argument_of(const char *name, size_t n, struct buf *out) {
    for (size_t i = 0; i < sizeof ARGUMENTS / sizeof ARGUMENTS[0]; i++)
        if (strlen(ARGUMENTS[i].param) == n && strncmp(name, ARGUMENTS[i].param, n) == 0) {
            buf_printf(out, "%s", ARGUMENTS[i].argument);
            return true;
        }
    return discovery_argument(name, n, out);
}

void gql_args_detail(const char *detail, char *out, size_t cap) {
    /* "query parameter 'attr.brand' is repeated": the quoted name */
    static const char QUOTED[] = "query parameter '";
    const char *name = detail, *close = NULL;
    if (strncmp(detail, QUOTED, sizeof QUOTED - 1) == 0 &&
        (close = strchr(detail + sizeof QUOTED - 1, '\'')))
        name = detail + sizeof QUOTED - 1;
    size_t n = close ? (size_t)(close - name) : param_end(detail);
    struct buf b = {0};
    if (!argument_of(name, n, &b))
        name = detail, n = 0, close = NULL; /* a sentence that names no parameter */
    snprintf(out, cap, "%s%s", b.len ? b.data : "", close ? close + 1 : name + n);
    buf_clear(&b);
}

void gql_args_clear(struct gql_args *a) {
    for (size_t i = 0; i < a->owned_count; i++)
        free(a->owned[i]);
    request_clear(&a->req);
}
