/*
 * values.c -- literal values against input types (see values.h).
 */
#include "nexus/graphql/values.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_MAX 80

/* ---- printing ------------------------------------------------------------- */

static void print_value_into(struct buf *b, const struct gql_value *v, size_t max);

static void print_list(struct buf *b, const struct gql_value *v, size_t max) {
    buf_puts(b, "[");
    for (const struct gql_value *i = v->items; i && b->len < max; i = i->next) {
        if (i != v->items)
            buf_puts(b, ", ");
        print_value_into(b, i, max);
    }
    buf_puts(b, "]");
}

static void print_object(struct buf *b, const struct gql_value *v, size_t max) {
    buf_puts(b, "{");
    for (const struct gql_object_field *f = v->fields; f && b->len < max; f = f->next) {
        buf_printf(b, "%s%s: ", f == v->fields ? "" : ", ", f->name);
        print_value_into(b, f->value, max);
    }
    buf_puts(b, "}");
}

static void print_value_into(struct buf *b, const struct gql_value *v, size_t max) {
    switch (v->kind) {
    case GQL_VALUE_VARIABLE:
        buf_printf(b, "$%s", v->text);
        break;
    case GQL_VALUE_STRING:
        buf_json_string(b, v->text, v->len);
        break;
    case GQL_VALUE_BOOLEAN:
        buf_puts(b, v->boolean ? "true" : "false");
        break;
    case GQL_VALUE_NULL:
        buf_puts(b, "null");
        break;
    case GQL_VALUE_LIST:
        print_list(b, v, max);
        break;
    case GQL_VALUE_OBJECT:
        print_object(b, v, max);
        break;
    default: /* Int, Float, enum values: their text */
        buf_puts(b, v->text);
    }
}

void gql_print_value(struct buf *b, const struct gql_value *v, size_t max) {
    size_t start = b->len;
    print_value_into(b, v, start + max);
    gql_cut_text(b, start, max);
}

/* ---- errors --------------------------------------------------------------- */

static void expected(const struct gql_value_check *c, const struct gql_value *v,
                     struct gql_tref type) {
    struct buf b = {0};
    gql_print_value(&b, v, PRINT_MAX);
    gql_error_add(c->errs, GQL_CODE_VALIDATION, &v->loc,
                  "Expected value of type \"%.*s\", found %s.", (int)type.len, type.s, b.data);
    buf_clear(&b);
}

/* ---- scalars and enums ------------------------------------------------------ */

bool gql_int_literal(const char *text, long long *out) {
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || *end || n < INT32_MIN || n > INT32_MAX)
        return false;
    *out = n;
    return true;
}

static bool finite_float(const char *text) {
    char *end;
    double d = strtod(text, &end);
    return !*end && isfinite(d);
}

/* A literal the type cannot represent, in the words of graphql-js 16's
 * parseLiteral of the built-in scalars and enums. */
static void cannot_represent(const struct gql_value_check *c, const struct gql_value *v,
                             const char *what, const char *end) {
    struct buf b = {0};
    gql_print_value(&b, v, PRINT_MAX);
    gql_error_add(c->errs, GQL_CODE_VALIDATION, &v->loc, "%s%s%s", what, b.data, end);
    buf_clear(&b);
}

static void check_scalar(const struct gql_value_check *c, const struct gql_value *v,
                         const struct gql_type_def *t) {
    const char *n = t->name;
    long long i;
    if (strcmp(n, "Int") == 0) {
        if (v->kind != GQL_VALUE_INT)
            cannot_represent(c, v, "Int cannot represent non-integer value: ", "");
        else if (!gql_int_literal(v->text, &i))
            cannot_represent(c, v, "Int cannot represent non 32-bit signed integer value: ", "");
    } else if (strcmp(n, "Float") == 0) {
        if ((v->kind != GQL_VALUE_INT && v->kind != GQL_VALUE_FLOAT) || !finite_float(v->text))
            cannot_represent(c, v, "Float cannot represent non numeric value: ", "");
    } else if (strcmp(n, "String") == 0) {
        if (v->kind != GQL_VALUE_STRING)
            cannot_represent(c, v, "String cannot represent a non string value: ", "");
    } else if (strcmp(n, "Boolean") == 0) {
        if (v->kind != GQL_VALUE_BOOLEAN)
            cannot_represent(c, v, "Boolean cannot represent a non boolean value: ", "");
    } else if (strcmp(n, "ID") == 0) {
        if (v->kind != GQL_VALUE_STRING && v->kind != GQL_VALUE_INT)
            cannot_represent(c, v, "ID cannot represent a non-string and non-integer value: ", "");
    }
}

static void check_enum(const struct gql_value_check *c, const struct gql_value *v,
                       const struct gql_type_def *t) {
    if (v->kind == GQL_VALUE_ENUM && gql_schema_enum_value(t, v->text))
        return;
    if (v->kind == GQL_VALUE_ENUM) {
        gql_error_add(c->errs, GQL_CODE_VALIDATION, &v->loc,
                      "Value \"%.*s\" does not exist in \"%s\" enum.", GQL_NAME(v->text), t->name);
    } else {
        struct buf what = {0};
        buf_printf(&what, "Enum \"%s\" cannot represent non-enum value: ", t->name);
        cannot_represent(c, v, what.data, ".");
        buf_clear(&what);
    }
}

/* ---- input objects ------------------------------------------------------------- */

/* The first field of the list named as f is (f itself when none before). */
static const struct gql_object_field *first_named(const struct gql_object_field *list,
                                                  const struct gql_object_field *f) {
    for (const struct gql_object_field *g = list; g != f; g = g->next)
        if (strcmp(g->name, f->name) == 0)
            return g;
    return f;
}

static bool given(const struct gql_value *v, const char *name) {
    for (const struct gql_object_field *f = v->fields; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return true;
    return false;
}

static void check_object(const struct gql_value_check *c, const struct gql_value *v,
                         const struct gql_type_def *t, struct gql_tref shown) {
    if (v->kind != GQL_VALUE_OBJECT) {
        expected(c, v, shown);
        return;
    }
    for (const struct gql_object_field *f = v->fields; f; f = f->next) {
        const struct gql_input_def *def = gql_schema_input_field(t, f->name);
        const struct gql_object_field *first = first_named(v->fields, f);
        if (first != f)
            gql_error_addv(c->errs, GQL_CODE_VALIDATION, (struct gql_loc[]){first->loc, f->loc}, 2,
                           "There can be only one input field named \"%.*s\".", GQL_NAME(f->name));
        else if (!def)
            gql_error_add(c->errs, GQL_CODE_VALIDATION, &f->loc,
                          "Field \"%.*s\" is not defined by type \"%s\".", GQL_NAME(f->name),
                          t->name);
        else
            gql_check_literal(c, f->value, gql_tref(def->type), def->default_value != NULL);
    }
    for (size_t i = 0; i < t->input_field_count; i++) {
        const struct gql_input_def *def = &t->input_fields[i];
        if (gql_tref_kind(gql_tref(def->type)) == GQL_KIND_NON_NULL && !def->default_value &&
            !given(v, def->name))
            gql_error_add(c->errs, GQL_CODE_VALIDATION, &v->loc,
                          "Field \"%s.%s\" of required type \"%s\" was not provided.", t->name,
                          def->name, def->type);
    }
}

/* ---- any literal ---------------------------------------------------------------- */

/* shown: the type messages name (a non-null type's, around the type
 * being checked). */
static void check_literal(const struct gql_value_check *c, const struct gql_value *v,
                          struct gql_tref type, struct gql_tref shown, bool has_default) {
    enum gql_kind kind = gql_tref_kind(type);
    if (v->kind == GQL_VALUE_VARIABLE) {
        if (c->on_variable)
            c->on_variable(c->ctx, v, shown, has_default);
        return;
    }
    if (kind == GQL_KIND_NON_NULL) {
        if (v->kind == GQL_VALUE_NULL)
            expected(c, v, shown);
        else
            check_literal(c, v, gql_tref_of(type), shown, false);
        return;
    }
    if (v->kind == GQL_VALUE_NULL)
        return;
    if (kind == GQL_KIND_LIST) {
        struct gql_tref item = gql_tref_of(type);
        if (v->kind != GQL_VALUE_LIST)
            check_literal(c, v, item, item, false);
        for (const struct gql_value *i = v->kind == GQL_VALUE_LIST ? v->items : NULL; i;
             i = i->next)
            check_literal(c, i, item, item, false);
        return;
    }
    const struct gql_type_def *t = gql_tref_named(type);
    if (!t) /* an unknown type: reported where the type is named */
        return;
    if (t->kind == GQL_KIND_INPUT_OBJECT)
        check_object(c, v, t, shown);
    else if (t->kind == GQL_KIND_ENUM)
        check_enum(c, v, t);
    else
        check_scalar(c, v, t);
}

void gql_check_literal(const struct gql_value_check *c, const struct gql_value *v,
                       struct gql_tref type, bool has_default) {
    check_literal(c, v, type, type, has_default);
}

/* ---- types ------------------------------------------------------------------------ */

static void type_text(struct buf *b, const struct gql_type_ref *t) {
    if (t->kind == GQL_TYPE_NAMED) {
        buf_puts(b, t->name);
    } else if (t->kind == GQL_TYPE_LIST) {
        buf_puts(b, "[");
        type_text(b, t->of);
        buf_puts(b, "]");
    } else {
        type_text(b, t->of);
        buf_puts(b, "!");
    }
}

const char *gql_type_text(struct gql_arena *a, const struct gql_type_ref *t) {
    struct buf b = {0};
    type_text(&b, t);
    const char *s = gql_arena_strndup(a, b.data, b.len);
    buf_clear(&b);
    return s;
}

bool gql_types_compatible(struct gql_tref var, struct gql_tref loc) {
    enum gql_kind vk = gql_tref_kind(var), lk = gql_tref_kind(loc);
    if (lk == GQL_KIND_NON_NULL)
        return vk == GQL_KIND_NON_NULL && gql_types_compatible(gql_tref_of(var), gql_tref_of(loc));
    if (vk == GQL_KIND_NON_NULL)
        return gql_types_compatible(gql_tref_of(var), loc);
    if (lk == GQL_KIND_LIST)
        return vk == GQL_KIND_LIST && gql_types_compatible(gql_tref_of(var), gql_tref_of(loc));
    return vk != GQL_KIND_LIST && gql_tref_equal(var, loc);
}
