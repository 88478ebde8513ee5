/*
 * coerce.c -- variables, arguments and literals to values (see coerce.h).
 */
#include "nexus/graphql/coerce.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/values.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 80 /* bytes of a faulty value quoted in a message */

/* ---- variables ------------------------------------------------------------ */

struct input {
    struct gql_errors *errs;
    const struct gql_variable_def *var;
    struct buf path; /* where in the variable's value: "filter.attributes[0]" */
    size_t values;   /* values read so far */
    bool failed;
};

/* A value as messages quote it: compact JSON (graphql-js prints it with
 * its own inspect(), which agrees for strings, numbers, booleans and null).
 * Owned by the caller; NULL without a value. */
static char *shown_value(const json_t *value) {
    return value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* How many bytes of s (NULL: none) a message quotes: at most about
 * SHOWN_MAX, and never part of a character. */
static size_t shown_length(const char *s) {
    return s ? utf8_prefix(s, strlen(s), SHOWN_MAX) : 0;
}

__attribute__((format(printf, 3, 4))) static void fault(struct input *in, const json_t *value,
                                                        const char *fmt, ...) {
    struct buf why = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&why, fmt, ap);
    va_end(ap);
    char *shown = shown_value(value);
    size_t kept = shown_length(shown);
    bool cut = shown && shown[kept];
    bool nested = strchr(in->path.data, '.') || strchr(in->path.data, '[');
    gql_error_add(in->errs, GQL_CODE_BAD_INPUT, &in->var->loc,
                  "Variable \"$%.*s\" got invalid value%s%.*s%s%s%s%s; %s", GQL_NAME(in->var->name),
                  shown ? " " : "", (int)kept, shown ? shown : "", cut ? "..." : "",
                  nested ? " at \"" : "", nested ? in->path.data : "", nested ? "\"" : "",
                  why.data);
    free(shown);
    buf_clear(&why);
    in->failed = true;
}

static json_t *coerce_input(struct input *in, const json_t *v, struct gql_tref type,
                            unsigned depth);

/* A value the scalar cannot represent, in the words of graphql-js 16's
 * parseValue: what, then the value. */
static void cannot_represent(struct input *in, const json_t *v, const char *what, const char *end) {
    char *shown = shown_value(v);
    size_t kept = shown_length(shown);
    fault(in, v, "%s%.*s%s%s", what, (int)kept, shown ? shown : "",
          shown && shown[kept] ? "..." : "", end);
    free(shown);
}

static json_t *coerce_scalar(struct input *in, const json_t *v, const struct gql_type_def *t) {
    const char *n = t->name;
    if (strcmp(n, "Int") == 0) {
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        /* 1.0 is an Int, as JSON cannot tell them apart */
        if (d >= INT32_MIN && d <= INT32_MAX && d == (double)(json_int_t)d)
            return json_integer((json_int_t)d);
        if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
            json_integer_value(v) <= INT32_MAX)
            return json_integer(json_integer_value(v));
        /* graphql-js tells an integer out of range from anything else */
        bool integral = json_is_integer(v) || (json_is_real(v) && d == floor(d));
        cannot_represent(in, v,
                         integral ? "Int cannot represent non 32-bit signed integer value: "
                                  : "Int cannot represent non-integer value: ",
                         "");
    } else if (strcmp(n, "Float") == 0) {
        if (json_is_number(v) && isfinite(json_number_value(v)))
            return json_real(json_number_value(v));
        cannot_represent(in, v, "Float cannot represent non numeric value: ", "");
    } else if (strcmp(n, "String") == 0) {
        if (json_is_string(v))
            return json_incref((json_t *)v);
        cannot_represent(in, v, "String cannot represent a non string value: ", "");
    } else if (strcmp(n, "Boolean") == 0) {
        if (json_is_boolean(v))
            return json_incref((json_t *)v);
        cannot_represent(in, v, "Boolean cannot represent a non boolean value: ", "");
    } else if (json_is_string(v)) { /* ID */
        return json_incref((json_t *)v);
    } else if (json_is_integer(v)) {
        return json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v) && fabs(json_real_value(v)) <= 9007199254740992.0 &&
               json_real_value(v) == floor(json_real_value(v))) {
        /* 2000.0 and 2e3 are integers, as JSON cannot tell them apart */
        return json_sprintf("%.0f", json_real_value(v));
    } else {
        cannot_represent(in, v, "ID cannot represent value: ", "");
    }
    return NULL;
}

static json_t *coerce_enum(struct input *in, const json_t *v, const struct gql_type_def *t) {
    if (json_is_string(v) && gql_schema_enum_value(t, json_string_value(v)))
        return json_incref((json_t *)v);
    if (!json_is_string(v)) {
        struct buf what = {0};
        buf_printf(&what, "Enum \"%s\" cannot represent non-string value: ", t->name);
        cannot_represent(in, v, what.data, ".");
        buf_clear(&what);
    } else {
        fault(in, v, "Value \"%.*s\" does not exist in \"%s\" enum.",
              (int)shown_length(json_string_value(v)), json_string_value(v), t->name);
    }
    return NULL;
}

static json_t *coerce_object(struct input *in, const json_t *v, const struct gql_type_def *t,
                             unsigned depth) {
    if (!json_is_object(v)) {
        fault(in, v, "Expected type \"%s\" to be an object.", t->name);
        return NULL;
    }
    const char *key;
    json_t *item;
    json_object_foreach((json_t *)v, key, item) {
        if (!gql_schema_input_field(t, key)) {
            fault(in, v, "Field \"%.*s\" is not defined by type \"%s\".", GQL_NAME(key), t->name);
            return NULL;
        }
    }
    json_t *out = json_object();
    size_t mark = in->path.len;
    for (size_t i = 0; i < t->input_field_count && !in->failed; i++) {
        const struct gql_input_def *def = &t->input_fields[i];
        const json_t *given = json_object_get(v, def->name);
        struct gql_tref ft = gql_tref(def->type);
        if (given) {
            buf_printf(&in->path, ".%s", def->name);
            json_t *c = coerce_input(in, given, ft, depth + 1);
            if (c)
                json_object_set_new(out, def->name, c);
            in->path.len = mark;
            in->path.data[mark] = '\0';
        } else if (def->default_value) {
            json_object_set_new(out, def->name, gql_default_value(def->default_value, ft));
        } else if (gql_tref_kind(ft) == GQL_KIND_NON_NULL) {
            fault(in, v, "Field \"%s\" of required type \"%s\" was not provided.", def->name,
                  def->type);
        }
    }
    if (in->failed)
        json_decref(out), out = NULL;
    return out;
}

static json_t *coerce_list(struct input *in, const json_t *v, struct gql_tref type,
                           unsigned depth) {
    struct gql_tref item = gql_tref_of(type);
    if (!json_is_array(v)) { /* one value is a list of one */
        json_t *c = coerce_input(in, v, item, depth);
        return c ? json_pack("[o]", c) : NULL;
    }
    json_t *out = json_array();
    size_t mark = in->path.len, i;
    json_t *x;
    json_array_foreach((json_t *)v, i, x) {
        buf_printf(&in->path, "[%zu]", i);
        json_t *c = coerce_input(in, x, item, depth + 1);
        in->path.len = mark;
        in->path.data[mark] = '\0';
        if (!c)
            break;
        json_array_append_new(out, c);
    }
    if (in->failed)
        json_decref(out), out = NULL;
    return out;
}

/* NULL when it fails (with the error added); json null for null. */
static json_t *coerce_input(struct input *in, const json_t *v, struct gql_tref type,
                            unsigned depth) {
    enum gql_kind kind = gql_tref_kind(type);
    if (kind == GQL_KIND_NON_NULL) {
        if (!json_is_null(v))
            return coerce_input(in, v, gql_tref_of(type), depth);
        fault(in, v, "Expected non-nullable type \"%.*s\" not to be null.", (int)type.len, type.s);
        return NULL;
    }
    /* counted once per value, past its non-null wrapper */
    if (++in->values > GQL_INPUT_VALUES_MAX || depth > GQL_INPUT_DEPTH_MAX) {
        if (!in->failed)
            fault(in, NULL, "the value has more than %d values or %d levels of nesting.",
                  GQL_INPUT_VALUES_MAX, GQL_INPUT_DEPTH_MAX);
        return NULL;
    }
    if (json_is_null(v))
        return json_null();
    if (kind == GQL_KIND_LIST)
        return coerce_list(in, v, type, depth);
    const struct gql_type_def *t = gql_tref_named(type);
    if (t->kind == GQL_KIND_INPUT_OBJECT)
        return coerce_object(in, v, t, depth);
    if (t->kind == GQL_KIND_ENUM)
        return coerce_enum(in, v, t);
    return coerce_scalar(in, v, t);
}

static void coerce_variable(struct input *in, const json_t *input, json_t *out,
                            struct gql_arena *scratch) {
    const struct gql_variable_def *var = in->var;
    const char *text = gql_type_text(scratch, var->type);
    struct gql_tref type = gql_tref(text);
    const json_t *given = json_object_get(input, var->name);
    if (!given && var->default_value) {
        json_object_set_new(out, var->name, gql_literal_value(var->default_value, type, NULL));
    } else if (!given && var->type->kind == GQL_TYPE_NON_NULL) {
        gql_error_add(in->errs, GQL_CODE_BAD_INPUT, &var->loc,
                      "Variable \"$%.*s\" of required type \"%s\" was not provided.",
                      GQL_NAME(var->name), text);
    } else if (given && json_is_null(given) && var->type->kind == GQL_TYPE_NON_NULL) {
        gql_error_add(in->errs, GQL_CODE_BAD_INPUT, &var->loc,
                      "Variable \"$%.*s\" of non-null type \"%s\" must not be null.",
                      GQL_NAME(var->name), text);
    } else if (given) {
        buf_printf(&in->path, "%.*s", GQL_NAME(var->name)); /* for messages: cut as they quote it */
        json_t *c = coerce_input(in, given, type, 0);
        if (c)
            json_object_set_new(out, var->name, c);
    }
}

json_t *gql_coerce_variables(const struct gql_definition *op, const json_t *input,
                             struct gql_errors *errs) {
    size_t before = errs->count;
    if (input && !json_is_object(input)) {
        gql_error_add(errs, GQL_CODE_BAD_INPUT, NULL, "The variables must be a JSON object.");
        return NULL;
    }
    struct gql_arena scratch = {0};
    json_t *out = json_object();
    size_t values = 0;
    for (const struct gql_variable_def *v = op->variables; v && !gql_errors_full(errs);
         v = v->next) {
        struct input in = {.errs = errs, .var = v, .values = values};
        buf_puts(&in.path, "");
        coerce_variable(&in, input, out, &scratch);
        values = in.values;
        buf_clear(&in.path);
    }
    gql_arena_free(&scratch);
    if (errs->count > before)
        json_decref(out), out = NULL;
    return out;
}

/* ---- literals ---------------------------------------------------------------- */

static json_t *literal_object(const struct gql_value *v, const struct gql_type_def *t,
                              const json_t *vars) {
    json_t *out = json_object();
    for (size_t i = 0; i < t->input_field_count; i++) {
        const struct gql_input_def *def = &t->input_fields[i];
        const struct gql_value *given = NULL;
        for (const struct gql_object_field *f = v->fields; f && !given; f = f->next)
            if (strcmp(f->name, def->name) == 0)
                given = f->value;
        bool absent_variable =
            given && given->kind == GQL_VALUE_VARIABLE && !json_object_get(vars, given->text);
        if (given && !absent_variable)
            json_object_set_new(out, def->name,
                                gql_literal_value(given, gql_tref(def->type), vars));
        else if (def->default_value)
            json_object_set_new(out, def->name,
                                gql_default_value(def->default_value, gql_tref(def->type)));
    }
    return out;
}

static json_t *literal_scalar(const struct gql_value *v, const struct gql_type_def *t) {
    switch (v->kind) {
    case GQL_VALUE_INT:
        if (strcmp(t->name, "Float") == 0)
            return json_real(strtod(v->text, NULL));
        if (strcmp(t->name, "ID") == 0)
            return json_string(v->text);
        return json_integer(strtoll(v->text, NULL, 10));
    case GQL_VALUE_FLOAT:
        return json_real(strtod(v->text, NULL));
    case GQL_VALUE_STRING:
        return json_stringn(v->text, v->len);
    case GQL_VALUE_BOOLEAN:
        return json_boolean(v->boolean);
    case GQL_VALUE_ENUM:
        return json_string(v->text);
    default:
        return json_null();
    }
}

json_t *gql_literal_value(const struct gql_value *v, struct gql_tref type, const json_t *vars) {
    if (gql_tref_kind(type) == GQL_KIND_NON_NULL)
        type = gql_tref_of(type);
    if (v->kind == GQL_VALUE_VARIABLE) {
        json_t *x = json_object_get(vars, v->text);
        return x ? json_incref(x) : json_null();
    }
    if (v->kind == GQL_VALUE_NULL)
        return json_null();
    if (gql_tref_kind(type) == GQL_KIND_LIST) {
        struct gql_tref item = gql_tref_of(type);
        if (v->kind != GQL_VALUE_LIST)
            return json_pack("[o]", gql_literal_value(v, item, vars));
        json_t *out = json_array();
        for (const struct gql_value *i = v->items; i; i = i->next)
            json_array_append_new(out, gql_literal_value(i, item, vars));
        return out;
    }
    const struct gql_type_def *t = gql_tref_named(type);
    if (v->kind == GQL_VALUE_OBJECT && t && t->kind == GQL_KIND_INPUT_OBJECT)
        return literal_object(v, t, vars);
    return t ? literal_scalar(v, t) : json_null();
}

/* The tables' defaults are Int, Boolean, enum and escape-free String
 * literals: read them without the parser. */
json_t *gql_default_value(const char *text, struct gql_tref type) {
    struct gql_value v = {.kind = GQL_VALUE_ENUM, .text = text, .len = strlen(text)};
    if (text[0] == '"') {
        v.kind = GQL_VALUE_STRING;
        v.text = text + 1;
        v.len = v.len >= 2 ? v.len - 2 : 0;
    } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        v.kind = GQL_VALUE_BOOLEAN;
        v.boolean = text[0] == 't';
    } else if (strcmp(text, "null") == 0) {
        v.kind = GQL_VALUE_NULL;
    } else if (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) {
        v.kind = strpbrk(text, ".eE") ? GQL_VALUE_FLOAT : GQL_VALUE_INT;
    }
    return gql_literal_value(&v, type, NULL);
}

/* ---- arguments ------------------------------------------------------------------ */

/* Whether a null stands in a non-null position of v (of type): its place
 * appended to path. A variable's null passes validation where the
 * variable has a default (the allowed-position exception of the spec), so
 * it is found here, when the argument is coerced, as a field error. */
static bool null_misplaced(const json_t *v, struct gql_tref type, struct buf *path) {
    if (gql_tref_kind(type) == GQL_KIND_NON_NULL) {
        if (!v || json_is_null(v))
            return true;
        type = gql_tref_of(type);
    }
    if (!v || json_is_null(v))
        return false;
    size_t at = path->len;
    if (gql_tref_kind(type) == GQL_KIND_LIST) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            buf_printf(path, "[%zu]", i);
            if (null_misplaced(item, gql_tref_of(type), path))
                return true;
            path->len = at;
        }
        return false;
    }
    const struct gql_type_def *t = gql_tref_named(type);
    for (size_t i = 0; t && t->kind == GQL_KIND_INPUT_OBJECT && i < t->input_field_count; i++) {
        const struct gql_input_def *f = &t->input_fields[i];
        buf_printf(path, ".%s", f->name);
        if (null_misplaced(json_object_get(v, f->name), gql_tref(f->type), path))
            return true;
        path->len = at;
    }
    return false;
}

json_t *gql_coerce_arguments(const struct gql_input_def *defs, size_t n,
                             const struct gql_argument *args, const json_t *vars,
                             const struct gql_loc *loc, struct gql_errors *errs) {
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        const struct gql_input_def *def = &defs[i];
        struct gql_tref type = gql_tref(def->type);
        const struct gql_argument *given = NULL;
        for (const struct gql_argument *a = args; a && !given; a = a->next)
            if (strcmp(a->name, def->name) == 0)
                given = a;
        bool absent = !given || (given->value->kind == GQL_VALUE_VARIABLE &&
                                 !json_object_get(vars, given->value->text));
        json_t *value = NULL;
        if (!absent)
            value = gql_literal_value(given->value, type, vars);
        else if (def->default_value)
            value = gql_default_value(def->default_value, type);
        if ((!value || json_is_null(value)) && gql_tref_kind(type) == GQL_KIND_NON_NULL) {
            gql_error_add(errs, GQL_CODE_BAD_INPUT, given ? &given->value->loc : loc,
                          "Argument \"%s\" of non-null type \"%s\" must not be null.", def->name,
                          def->type);
            json_decref(value);
            json_decref(out);
            return NULL;
        }
        struct buf path = {0};
        buf_puts(&path, def->name);
        if (value && null_misplaced(value, type, &path)) {
            gql_error_add(errs, GQL_CODE_BAD_INPUT, given ? &given->value->loc : loc,
                          "Argument \"%s\" has invalid value: %s must not be null.", def->name,
                          path.data);
            buf_clear(&path);
            json_decref(value);
            json_decref(out);
            return NULL;
        }
        buf_clear(&path);
        if (value)
            json_object_set_new(out, def->name, value);
    }
    return out;
}
