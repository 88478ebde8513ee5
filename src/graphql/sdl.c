/*
 * sdl.c -- the schema's tables as SDL text (see sdl.h), following
 * graphql-js's printSchema and printBlockString rule for rule.
 */
#include "nexus/graphql/sdl.h"

#include "nexus/graphql/schema.h"

#include <stdbool.h>
#include <string.h>

#define LONG_LINE 70 /* a longer description gets lines of its own */

static bool is_white(char c) {
    return c == ' ' || c == '\t';
}

/* printBlockString for a description without line breaks or """ (the
 * tables hold none). */
static void block_string(struct buf *out, const char *s) {
    size_t n = strlen(s);
    bool trailing = n > 0 && (s[n - 1] == '"' || s[n - 1] == '\\');
    bool multiple = n > LONG_LINE || trailing;
    buf_puts(out, "\"\"\"");
    if (multiple && !(n > 0 && is_white(s[0])))
        buf_puts(out, "\n");
    buf_puts(out, s);
    if (multiple)
        buf_puts(out, "\n");
    buf_puts(out, "\"\"\"");
}

/* printDescription: nothing without one. */
static void description(struct buf *out, const char *d, const char *indent, bool first) {
    if (!d)
        return;
    if (indent[0] && !first)
        buf_printf(out, "\n%s", indent);
    else
        buf_puts(out, indent);
    struct buf b = {0};
    block_string(&b, d);
    for (const char *p = b.data; *p; p++) {
        buf_append(out, p, 1);
        if (*p == '\n')
            buf_puts(out, indent);
    }
    buf_clear(&b);
    buf_puts(out, "\n");
}

static void deprecated(struct buf *out, const char *reason) {
    if (!reason)
        return;
    if (strcmp(reason, "No longer supported") == 0)
        buf_puts(out, " @deprecated");
    else
        buf_printf(out, " @deprecated(reason: \"%s\")", reason);
}

static void input_value(struct buf *out, const struct gql_input_def *v) {
    buf_printf(out, "%s: %s", v->name, v->type);
    if (v->default_value)
        buf_printf(out, " = %s", v->default_value);
}

static void args(struct buf *out, const struct gql_input_def *a, size_t n, const char *indent) {
    bool described = false;
    for (size_t i = 0; i < n; i++)
        described = described || a[i].description;
    if (n == 0)
        return;
    buf_puts(out, described ? "(\n" : "(");
    for (size_t i = 0; i < n; i++) {
        if (described) {
            description(out, a[i].description, "    ", i == 0);
            buf_printf(out, "  %s", indent);
        } else if (i > 0) {
            buf_puts(out, ", ");
        }
        input_value(out, &a[i]);
        if (described)
            buf_puts(out, "\n");
    }
    buf_printf(out, "%s)", described ? indent : "");
}

static void object(struct buf *out, const struct gql_type_def *t) {
    buf_printf(out, "type %s {\n", t->name);
    for (size_t i = 0; i < t->field_count; i++) {
        const struct gql_field_def *f = &t->fields[i];
        description(out, f->description, "  ", i == 0);
        buf_printf(out, "  %s", f->name);
        args(out, f->args, f->arg_count, "  ");
        buf_printf(out, ": %s", f->type);
        deprecated(out, f->deprecation_reason);
        buf_puts(out, "\n");
    }
    buf_puts(out, "}");
}

static void enumeration(struct buf *out, const struct gql_type_def *t) {
    buf_printf(out, "enum %s {\n", t->name);
    for (size_t i = 0; i < t->enum_value_count; i++) {
        description(out, t->enum_values[i].description, "  ", i == 0);
        buf_printf(out, "  %s", t->enum_values[i].name);
        deprecated(out, t->enum_values[i].deprecation_reason);
        buf_puts(out, "\n");
    }
    buf_puts(out, "}");
}

static void input_object(struct buf *out, const struct gql_type_def *t) {
    buf_printf(out, "input %s {\n", t->name);
    for (size_t i = 0; i < t->input_field_count; i++) {
        description(out, t->input_fields[i].description, "  ", i == 0);
        buf_puts(out, "  ");
        input_value(out, &t->input_fields[i]);
        buf_puts(out, "\n");
    }
    buf_puts(out, "}");
}

static bool built_in(const struct gql_type_def *t) {
    static const char *const scalars[] = {"Int", "Float", "String", "Boolean", "ID"};
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        if (strcmp(t->name, scalars[i]) == 0)
            return true;
    return strncmp(t->name, "__", 2) == 0;
}

void gql_schema_sdl(struct buf *out) {
    size_t n;
    const struct gql_type_def *types = gql_schema_types(&n);
    description(out, gql_schema_description(), "", true);
    buf_printf(out, "schema {\n  query: %s\n}", gql_schema_query_type()->name);
    for (size_t i = 0; i < n; i++) {
        const struct gql_type_def *t = &types[i];
        if (built_in(t))
            continue;
        buf_puts(out, "\n\n");
        description(out, t->description, "", true);
        if (t->kind == GQL_KIND_OBJECT)
            object(out, t);
        else if (t->kind == GQL_KIND_ENUM)
            enumeration(out, t);
        else if (t->kind == GQL_KIND_INPUT_OBJECT)
            input_object(out, t);
        else
            buf_printf(out, "scalar %s", t->name);
    }
}
