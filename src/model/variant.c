/*
 * variant.c -- variant validation and serialisation.
 */
#include "nexus/model/variant.h"

#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"
#include "nexus/model/fields.h"
#include "nexus/model/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int compare_text(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* The names, lower-cased and sorted, joined by '\n' into key. Each name
 * has room for 4 bytes a character: lowering may lengthen one. */
static void names_key(char names[][NX_OPTION_TEXT_MAX * 4 + 1], size_t n, char *key, size_t cap) {
    qsort(names, n, sizeof names[0], compare_text);
    key[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(key);
        snprintf(key + len, cap - len, "%s%s", i ? "\n" : "", names[i]);
    }
}

/* Like a name, an option name or value that is only white space would
 * show a blank choice. */
static bool option_text_ok(const char *s) {
    return display_name_valid(s, NX_OPTION_TEXT_MAX);
}

/* {"Size": "M", ...}: 0..3 names, each 1..50 characters, no two the same
 * but for case; each value a string of 1..50 characters; neither only
 * white space. Names are
 * compared lower-cased as the database lower-cases them (utf8_lower), so
 * that what it takes for one name ("É" and "é") is one here too. */
static enum nx_err parse_options(struct field_errors *errs, json_t *v, const char *field,
                                 struct variant_input *in) {
    char names[NX_OPTIONS_MAX][NX_OPTION_TEXT_MAX * 4 + 1];
    size_t n = 0;
    const char *name;
    json_t *value;
    if (json_object_size(v) > NX_OPTIONS_MAX)
        return fielderr_add(errs, field, "must have at most %d options", NX_OPTIONS_MAX);
    json_object_foreach(v, name, value) {
        if (!option_text_ok(name))
            return fielderr_add(errs, field,
                                "option names must be 1 to %d characters, not only white space",
                                NX_OPTION_TEXT_MAX);
        if (!json_is_string(value) || !option_text_ok(json_string_value(value)))
            return fielderr_add(
                errs, field,
                "option values must be strings of 1 to %d characters, not only white space",
                NX_OPTION_TEXT_MAX);
        utf8_lower(name, strlen(name), names[n], sizeof names[n]);
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], names[n]) == 0)
                return fielderr_add(errs, field, "names an option twice (case-insensitively)");
        n++;
    }
    names_key(names, n, in->names_key, sizeof in->names_key);
    in->options = json_dumps(v, JSON_COMPACT);
    NX_ASSERT(in->options);
    return NX_OK;
}

static enum nx_err parse_values(struct field_errors *errs, json_t *body, enum variant_mode mode,
                                const char *prefix, struct variant_input *in) {
    enum nx_err e = NX_OK;
    char field[64];
    json_t *v;
    in->sku = field_string(body, "sku");
    snprintf(field, sizeof field, "%ssku", prefix);
    if (in->sku && !sku_is_valid(in->sku))
        e = fielderr_add(errs, field, "must be " SKU_RULE);
    snprintf(field, sizeof field, "%sprice", prefix);
    if ((v = json_object_get(body, "price")) && json_is_string(v)) {
        if (price_parse(errs, v, field, in->price_cents) != NX_OK)
            e = NX_ERR_VALIDATION;
        in->has_price = true;
    }
    snprintf(field, sizeof field, "%sstock", prefix);
    if ((v = json_object_get(body, "stock")) && json_is_integer(v)) {
        if (stock_parse(errs, v, field, in->stock) != NX_OK)
            e = NX_ERR_VALIDATION;
        in->has_stock = true;
    }
    snprintf(field, sizeof field, "%soptions", prefix);
    if ((v = json_object_get(body, "options")) && json_is_object(v))
        if (parse_options(errs, v, field, in) != NX_OK)
            e = NX_ERR_VALIDATION;
    if ((v = json_object_get(body, "is_active")) && json_is_boolean(v))
        in->is_active = json_is_true(v) ? "true" : "false";
    snprintf(field, sizeof field, "%sposition", prefix);
    /* a product's variants take no position: that is an unknown field */
    if (mode != VARIANT_EMBEDDED && (v = json_object_get(body, "position")) && json_is_integer(v)) {
        json_int_t p = json_integer_value(v);
        if (p < 1 || p > NX_VARIANT_POSITION_MAX)
            e = fielderr_add(errs, field, "must be an integer from 1 to %d",
                             NX_VARIANT_POSITION_MAX);
        snprintf(in->position, sizeof in->position, "%lld", (long long)p);
        in->has_position = true;
    }
    return e;
}

/* fields_check, with each entry's field name after prefix. */
static enum nx_err check_fields(struct field_errors *errs, json_t *body, enum variant_mode mode,
                                const char *prefix) {
    bool full = mode != VARIANT_PATCH;
    const struct field_spec spec[] = {
        {"sku", FIELD_STRING, full},      {"price", FIELD_STRING, full},
        {"stock", FIELD_INTEGER, full},   {"options", FIELD_OBJECT, full},
        {"is_active", FIELD_BOOL, false}, {"position", FIELD_INTEGER, false},
    };
    size_t n = sizeof spec / sizeof spec[0] - (mode == VARIANT_EMBEDDED);
    if (!*prefix)
        return fields_check(errs, body, spec, n);
    struct field_errors mine = {0};
    enum nx_err e = fields_check(&mine, body, spec, n);
    for (size_t i = 0; i < fielderr_count(&mine); i++) {
        const struct field_error *f = fielderr_at(&mine, i);
        struct buf name = {0};
        buf_printf(&name, "%s%s", prefix, f->field);
        fielderr_add(errs, name.data, "%s", f->message);
        buf_clear(&name);
    }
    fielderr_clear(&mine);
    return e;
}

enum nx_err variant_input_parse(struct field_errors *errs, json_t *body, enum variant_mode mode,
                                const char *prefix, struct variant_input *in) {
    memset(in, 0, sizeof *in);
    enum nx_err e = check_fields(errs, body, mode, prefix);
    if (parse_values(errs, body, mode, prefix, in) != NX_OK)
        e = NX_ERR_VALIDATION;
    return e;
}

/* The name of reference (a JSON object) that is name but for case, else
 * name itself. */
static const char *spelling_of(json_t *reference, const char *name) {
    const char *key;
    json_t *value;
    json_object_foreach(reference, key, value) {
        if (utf8_same_lower(key, name))
            return key;
    }
    return name;
}

void variant_options_spell_as(struct variant_input *in, const char *reference) {
    json_t *ref = reference ? json_loads(reference, 0, NULL) : NULL;
    json_t *options = in->options ? json_loads(in->options, 0, NULL) : NULL;
    if (json_is_object(ref) && json_is_object(options)) {
        json_t *spelled = json_object();
        const char *name;
        json_t *value;
        json_object_foreach(options, name, value) {
            json_object_set(spelled, spelling_of(ref, name), value);
        }
        free(in->options);
        in->options = json_dumps(spelled, JSON_COMPACT);
        NX_ASSERT(in->options);
        json_decref(spelled);
    }
    json_decref(ref);
    json_decref(options);
}

void variant_input_clear(struct variant_input *in) {
    free(in->options);
    in->options = NULL;
}

enum nx_err variant_inputs_parse(struct field_errors *errs, json_t *array,
                                 struct variant_input **out, size_t *n) {
    size_t count = json_array_size(array);
    /* the count is checked before anything is allocated: a body may hold
     * far more elements than a product may have variants */
    if (count < 1 || count > NX_VARIANTS_MAX) {
        *n = 0;
        *out = xcalloc(1, sizeof **out);
        return fielderr_add(errs, "variants", "must hold 1 to %d variants", NX_VARIANTS_MAX);
    }
    *n = count;
    *out = xcalloc(count, sizeof **out);
    enum nx_err e = NX_OK;
    /* The option names are those of the first variant whose options
     * parsed (ref < count): one whose options are refused sets none. */
    size_t ref = count;
    for (size_t i = 0; i < count; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "variants[%zu].", i);
        json_t *v = json_array_get(array, i);
        char field[48];
        if (!json_is_object(v)) {
            snprintf(field, sizeof field, "variants[%zu]", i);
            e = fielderr_add(errs, field, "must be an object");
            continue;
        }
        if (variant_input_parse(errs, v, VARIANT_EMBEDDED, prefix, &(*out)[i]) != NX_OK)
            e = NX_ERR_VALIDATION;
        else if (ref < i && strcmp((*out)[i].names_key, (*out)[ref].names_key) != 0) {
            snprintf(field, sizeof field, "%soptions", prefix);
            e = fielderr_add(errs, field, "must have the option names of variants[%zu]", ref);
        } else if (ref < i)
            variant_options_spell_as(&(*out)[i], (*out)[ref].options);
        if (ref == count && (*out)[i].options)
            ref = i;
    }
    return e;
}

void variant_inputs_free(struct variant_input *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        variant_input_clear(&v[i]);
    free(v);
}

static int64_t int_at(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void variant_write_columns(struct jsonw *w, const PGresult *r, int row, int first) {
    char price[NX_MONEY_BUF];
    int64_t stock = int_at(r, row, first + VC_STOCK);
    format_money(int_at(r, row, first + VC_PRICE_CENTS), price, sizeof price);
    jsonw_object_open(w);
    jsonw_member(w, "id");
    jsonw_int(w, int_at(r, row, first + VC_ID));
    jsonw_member(w, "product_id");
    jsonw_int(w, int_at(r, row, first + VC_PRODUCT_ID));
    jsonw_member(w, "sku");
    jsonw_stringn(w, PQgetvalue(r, row, first + VC_SKU),
                  (size_t)PQgetlength(r, row, first + VC_SKU));
    jsonw_member(w, "price");
    jsonw_string(w, price);
    jsonw_member(w, "currency");
    jsonw_string(w, PQgetvalue(r, row, first + VC_CURRENCY));
    jsonw_member(w, "stock");
    jsonw_int(w, stock);
    jsonw_member(w, "in_stock");
    jsonw_bool(w, stock > 0);
    jsonw_member(w, "options");
    jsonw_text(w, PQgetvalue(r, row, first + VC_OPTIONS),
               (size_t)PQgetlength(r, row, first + VC_OPTIONS));
    jsonw_member(w, "is_active");
    jsonw_bool(w, PQgetvalue(r, row, first + VC_IS_ACTIVE)[0] == 't');
    jsonw_member(w, "position");
    jsonw_int(w, int_at(r, row, first + VC_POSITION));
    jsonw_member(w, "created_at");
    jsonw_string(w, PQgetvalue(r, row, first + VC_CREATED_AT));
    jsonw_member(w, "updated_at");
    jsonw_string(w, PQgetvalue(r, row, first + VC_UPDATED_AT));
    jsonw_object_close(w);
}

void variant_write_json(struct jsonw *w, const PGresult *r, int row) {
    variant_write_columns(w, r, row, 0);
}

char *variant_json(const PGresult *r, int row, size_t *len) {
    struct jsonw w = {0};
    variant_write_json(&w, r, row);
    return jsonw_take(&w, len);
}

int variant_option_name_cmp(const char *a, const char *b) {
    int c = strcasecmp(a, b);
    return c ? c : strcmp(a, b);
}
