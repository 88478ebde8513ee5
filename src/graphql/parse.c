/*
 * parse.c -- recursive descent over the executable-document grammar (see
 * parse.h). Every function returns NULL (or false) once an error has been
 * recorded; nothing after the first error is parsed.
 */
#include "nexus/graphql/parse.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct gql_lexer lx;
    struct gql_token tok;
    struct gql_arena *arena;
    struct gql_errors *errs;
    unsigned nesting;
    bool failed;
};

/* ---- tokens -------------------------------------------------------------- */

static bool advance(struct parser *p) {
    if (p->failed || !gql_lex(&p->lx, &p->tok))
        p->failed = true;
    return !p->failed;
}

static bool is(const struct parser *p, enum gql_tok kind) {
    return !p->failed && p->tok.kind == kind;
}

static bool is_keyword(const struct parser *p, const char *word) {
    return is(p, GQL_TOK_NAME) && p->tok.len == strlen(word) &&
           memcmp(p->tok.start, word, p->tok.len) == 0;
}

/* The current token, quoted for a message, e.g. Name "foo" or "}". */
static void describe(const struct parser *p, char *out, size_t cap) {
    enum gql_tok k = p->tok.kind;
    if (k == GQL_TOK_NAME || k == GQL_TOK_INT || k == GQL_TOK_FLOAT)
        snprintf(out, cap, "%s \"%.*s\"", gql_tok_name(k), p->tok.len > 40 ? 40 : (int)p->tok.len,
                 p->tok.start);
    else
        snprintf(out, cap, "%s", gql_tok_name(k));
}

static void *unexpected(struct parser *p, const char *expected) {
    char found[80];
    if (p->failed)
        return NULL;
    describe(p, found, sizeof found);
    if (expected)
        gql_error_add(p->errs, GQL_CODE_PARSE, &p->tok.loc, "Syntax Error: Expected %s, found %s.",
                      expected, found);
    else
        gql_error_add(p->errs, GQL_CODE_PARSE, &p->tok.loc, "Syntax Error: Unexpected %s.", found);
    p->failed = true;
    return NULL;
}

static bool expect(struct parser *p, enum gql_tok kind) {
    if (is(p, kind))
        return advance(p);
    unexpected(p, gql_tok_name(kind));
    return false;
}

static bool expect_keyword(struct parser *p, const char *word) {
    char quoted[32];
    if (is_keyword(p, word))
        return advance(p);
    snprintf(quoted, sizeof quoted, "\"%s\"", word);
    unexpected(p, quoted);
    return false;
}

static const char *name(struct parser *p) {
    if (!is(p, GQL_TOK_NAME))
        return unexpected(p, "Name");
    const char *n = gql_arena_strndup(p->arena, p->tok.start, p->tok.len);
    return advance(p) ? n : NULL;
}

static void *node(struct parser *p, size_t size) {
    return gql_arena_alloc(p->arena, size);
}

/* Nesting of selection sets, lists, objects and list types. */
static bool enter(struct parser *p) {
    if (p->nesting < GQL_NESTING_MAX) {
        p->nesting++;
        return true;
    }
    gql_error_add(p->errs, GQL_CODE_LIMIT, &p->tok.loc, "The document nests deeper than %d levels.",
                  GQL_NESTING_MAX);
    p->failed = true;
    return false;
}

static void leave(struct parser *p) {
    p->nesting--;
}

/* ---- values -------------------------------------------------------------- */

static struct gql_value *value(struct parser *p, bool constant);

static struct gql_value *list_value(struct parser *p, struct gql_value *v, bool constant) {
    struct gql_value **tail = &v->items;
    v->kind = GQL_VALUE_LIST;
    if (!enter(p) || !advance(p))
        return NULL;
    while (!p->failed && !is(p, GQL_TOK_BRACKET_R)) {
        if (!(*tail = value(p, constant)))
            return NULL;
        tail = &(*tail)->next;
    }
    leave(p);
    return expect(p, GQL_TOK_BRACKET_R) ? v : NULL;
}

static struct gql_value *object_value(struct parser *p, struct gql_value *v, bool constant) {
    struct gql_object_field **tail = &v->fields;
    v->kind = GQL_VALUE_OBJECT;
    if (!enter(p) || !advance(p))
        return NULL;
    while (!p->failed && !is(p, GQL_TOK_BRACE_R)) {
        struct gql_object_field *f = node(p, sizeof *f);
        f->loc = p->tok.loc;
        if (!(f->name = name(p)) || !expect(p, GQL_TOK_COLON) || !(f->value = value(p, constant)))
            return NULL;
        *tail = f;
        tail = &f->next;
    }
    leave(p);
    return expect(p, GQL_TOK_BRACE_R) ? v : NULL;
}

static struct gql_value *variable(struct parser *p, struct gql_value *v, bool constant) {
    if (constant) { /* named as graphql-js names it */
        struct gql_loc at = p->tok.loc;
        const char *n = advance(p) && is(p, GQL_TOK_NAME) ? name(p) : NULL;
        if (!p->failed)
            gql_error_add(p->errs, GQL_CODE_PARSE, &at,
                          "Syntax Error: Unexpected variable \"$%.*s\" in constant value.",
                          GQL_NAME(n ? n : ""));
        p->failed = true;
        return NULL;
    }
    v->kind = GQL_VALUE_VARIABLE;
    if (!advance(p) || !(v->text = name(p)))
        return NULL;
    v->len = strlen(v->text);
    return v;
}

/* Int, Float, String, true, false, null, enum values. */
static struct gql_value *scalar_value(struct parser *p, struct gql_value *v) {
    enum gql_tok k = p->tok.kind;
    if (k == GQL_TOK_STRING || k == GQL_TOK_BLOCK_STRING) {
        v->kind = GQL_VALUE_STRING;
        v->text = p->tok.value;
        v->len = p->tok.value_len;
    } else if (k == GQL_TOK_INT || k == GQL_TOK_FLOAT || k == GQL_TOK_NAME) {
        v->kind = k == GQL_TOK_INT     ? GQL_VALUE_INT
                  : k == GQL_TOK_FLOAT ? GQL_VALUE_FLOAT
                                       : GQL_VALUE_ENUM;
        v->text = gql_arena_strndup(p->arena, p->tok.start, p->tok.len);
        v->len = p->tok.len;
        if (is_keyword(p, "true") || is_keyword(p, "false")) {
            v->kind = GQL_VALUE_BOOLEAN;
            v->boolean = is_keyword(p, "true");
        } else if (is_keyword(p, "null"))
            v->kind = GQL_VALUE_NULL;
    } else
        return unexpected(p, NULL);
    return advance(p) ? v : NULL;
}

static struct gql_value *value(struct parser *p, bool constant) {
    struct gql_value *v = node(p, sizeof *v);
    v->loc = p->tok.loc;
    if (is(p, GQL_TOK_BRACKET_L))
        return list_value(p, v, constant);
    if (is(p, GQL_TOK_BRACE_L))
        return object_value(p, v, constant);
    if (is(p, GQL_TOK_DOLLAR))
        return variable(p, v, constant);
    return scalar_value(p, v);
}

/* ---- arguments, directives, types ---------------------------------------- */

static bool arguments(struct parser *p, struct gql_argument **out, bool constant) {
    struct gql_argument **tail = out;
    if (!is(p, GQL_TOK_PAREN_L))
        return !p->failed;
    if (!advance(p))
        return false;
    do {
        struct gql_argument *a = node(p, sizeof *a);
        a->loc = p->tok.loc;
        if (!(a->name = name(p)) || !expect(p, GQL_TOK_COLON) || !(a->value = value(p, constant)))
            return false;
        *tail = a;
        tail = &a->next;
    } while (!p->failed && !is(p, GQL_TOK_PAREN_R));
    return expect(p, GQL_TOK_PAREN_R);
}

static bool directives(struct parser *p, struct gql_directive **out, bool constant) {
    struct gql_directive **tail = out;
    while (is(p, GQL_TOK_AT)) {
        struct gql_directive *d = node(p, sizeof *d);
        d->loc = p->tok.loc;
        if (!advance(p) || !(d->name = name(p)) || !arguments(p, &d->args, constant))
            return false;
        *tail = d;
        tail = &d->next;
    }
    return !p->failed;
}

static const struct gql_type_ref *type_ref(struct parser *p) {
    struct gql_type_ref *t = node(p, sizeof *t);
    t->loc = p->tok.loc;
    if (is(p, GQL_TOK_BRACKET_L)) {
        t->kind = GQL_TYPE_LIST;
        if (!enter(p) || !advance(p) || !(t->of = type_ref(p)) || !expect(p, GQL_TOK_BRACKET_R))
            return NULL;
        leave(p);
    } else {
        t->kind = GQL_TYPE_NAMED;
        if (!(t->name = name(p)))
            return NULL;
    }
    if (!is(p, GQL_TOK_BANG))
        return t;
    struct gql_type_ref *nn = node(p, sizeof *nn);
    nn->kind = GQL_TYPE_NON_NULL;
    nn->loc = t->loc;
    nn->of = t;
    return advance(p) ? nn : NULL;
}

static bool variable_definitions(struct parser *p, struct gql_variable_def **out) {
    struct gql_variable_def **tail = out;
    if (!is(p, GQL_TOK_PAREN_L))
        return !p->failed;
    if (!advance(p))
        return false;
    do {
        struct gql_variable_def *v = node(p, sizeof *v);
        v->loc = p->tok.loc;
        if (!expect(p, GQL_TOK_DOLLAR))
            return false;
        v->name_loc = p->tok.loc;
        if (!(v->name = name(p)) || !expect(p, GQL_TOK_COLON) || !(v->type = type_ref(p)))
            return false;
        if (is(p, GQL_TOK_EQUALS) && (!advance(p) || !(v->default_value = value(p, true))))
            return false;
        if (!directives(p, &v->directives, true))
            return false;
        *tail = v;
        tail = &v->next;
    } while (!p->failed && !is(p, GQL_TOK_PAREN_R));
    return expect(p, GQL_TOK_PAREN_R);
}

/* ---- selections ---------------------------------------------------------- */

static bool selection_set(struct parser *p, struct gql_selection **out, struct gql_loc *loc);

static struct gql_selection *field(struct parser *p) {
    struct gql_selection *s = node(p, sizeof *s);
    s->kind = GQL_SEL_FIELD;
    s->loc = p->tok.loc;
    if (!(s->name = name(p)))
        return NULL;
    if (is(p, GQL_TOK_COLON)) {
        s->alias = s->name;
        if (!advance(p) || !(s->name = name(p)))
            return NULL;
    }
    if (!arguments(p, &s->args, false) || !directives(p, &s->directives, false))
        return NULL;
    if (is(p, GQL_TOK_BRACE_L) && !selection_set(p, &s->selections, &s->selections_loc))
        return NULL;
    return s;
}

/* "on Type": the type's name, its place in *loc. */
static const char *type_condition(struct parser *p, struct gql_loc *loc) {
    if (!expect_keyword(p, "on"))
        return NULL;
    *loc = p->tok.loc;
    return name(p);
}

/* After "...": a fragment spread or an inline fragment. */
static struct gql_selection *fragment(struct parser *p) {
    struct gql_selection *s = node(p, sizeof *s);
    s->loc = p->tok.loc;
    if (!advance(p))
        return NULL;
    if (is(p, GQL_TOK_NAME) && !is_keyword(p, "on")) {
        s->kind = GQL_SEL_SPREAD;
        s->name_loc = p->tok.loc;
        if (!(s->name = name(p)) || !directives(p, &s->directives, false))
            return NULL;
        return s;
    }
    s->kind = GQL_SEL_INLINE;
    if (is_keyword(p, "on") && !(s->type_condition = type_condition(p, &s->condition_loc)))
        return NULL;
    if (!directives(p, &s->directives, false) ||
        !selection_set(p, &s->selections, &s->selections_loc))
        return NULL;
    return s;
}

static bool selection_set(struct parser *p, struct gql_selection **out, struct gql_loc *loc) {
    struct gql_selection **tail = out;
    *loc = p->tok.loc;
    if (!expect(p, GQL_TOK_BRACE_L) || !enter(p))
        return false;
    do {
        if (!(*tail = is(p, GQL_TOK_SPREAD) ? fragment(p) : field(p)))
            return false;
        tail = &(*tail)->next;
    } while (!p->failed && !is(p, GQL_TOK_BRACE_R));
    leave(p);
    return expect(p, GQL_TOK_BRACE_R);
}

/* ---- definitions --------------------------------------------------------- */

static const char *const type_system_words[] = {
    "schema", "scalar", "type", "interface", "union", "enum", "input", "directive", "extend",
};

static const char *type_system_keyword(const struct parser *p) {
    for (size_t i = 0; i < sizeof type_system_words / sizeof *type_system_words; i++)
        if (is_keyword(p, type_system_words[i]))
            return type_system_words[i];
    return NULL;
}

static bool starts_definition(const struct parser *p) {
    return is_keyword(p, "query") || is_keyword(p, "mutation") || is_keyword(p, "subscription") ||
           is_keyword(p, "fragment") || type_system_keyword(p) || is(p, GQL_TOK_STRING) ||
           is(p, GQL_TOK_BLOCK_STRING);
}

/* Skip the rest of a type-system definition: to the "}" that closes its
 * body, or up to the next definition keyword outside brackets. */
static bool skip_type_system(struct parser *p) {
    long depth = 0;
    while (!p->failed && !is(p, GQL_TOK_EOF) && !(depth == 0 && starts_definition(p))) {
        enum gql_tok k = p->tok.kind;
        depth += k == GQL_TOK_BRACE_L || k == GQL_TOK_PAREN_L || k == GQL_TOK_BRACKET_L;
        depth -= k == GQL_TOK_BRACE_R || k == GQL_TOK_PAREN_R || k == GQL_TOK_BRACKET_R;
        if (depth < 0)
            return unexpected(p, NULL), false;
        if (!advance(p))
            return false;
        if (depth == 0 && k == GQL_TOK_BRACE_R)
            break;
    }
    if (depth > 0 && !p->failed)
        return unexpected(p, NULL), false;
    return !p->failed;
}

static bool type_system(struct parser *p, struct gql_definition *d) {
    d->kind = GQL_DEF_TYPE_SYSTEM;
    if ((is(p, GQL_TOK_STRING) || is(p, GQL_TOK_BLOCK_STRING)) && !advance(p))
        return false;
    if (!(d->name = type_system_keyword(p)))
        return unexpected(p, NULL), false;
    if (!advance(p))
        return false;
    /* "extend type ...": the keyword after extend is part of it */
    const char *what = d->name;
    if (strcmp(d->name, "extend") == 0 && (what = type_system_keyword(p)) && !advance(p))
        return false;
    d->schema = what && strcmp(what, "schema") == 0;
    /* the name it defines ("directive @name"), for messages */
    if (what && strcmp(what, "directive") == 0 && is(p, GQL_TOK_AT) && !advance(p))
        return false;
    if (!d->schema && is(p, GQL_TOK_NAME) && !(d->name = name(p)))
        return false;
    return skip_type_system(p);
}

static bool operation(struct parser *p, struct gql_definition *d) {
    d->kind = GQL_DEF_OPERATION;
    d->operation = GQL_OP_QUERY;
    if (is(p, GQL_TOK_BRACE_L))
        return selection_set(p, &d->selections, &(struct gql_loc){0});
    d->operation = is_keyword(p, "mutation")       ? GQL_OP_MUTATION
                   : is_keyword(p, "subscription") ? GQL_OP_SUBSCRIPTION
                                                   : GQL_OP_QUERY;
    if (!advance(p))
        return false;
    d->name_loc = p->tok.loc;
    if (is(p, GQL_TOK_NAME) && !(d->name = name(p)))
        return false;
    return variable_definitions(p, &d->variables) && directives(p, &d->directives, false) &&
           selection_set(p, &d->selections, &(struct gql_loc){0});
}

static bool fragment_definition(struct parser *p, struct gql_definition *d) {
    d->kind = GQL_DEF_FRAGMENT;
    if (!advance(p))
        return false;
    if (is_keyword(p, "on"))
        return unexpected(p, NULL), false;
    d->name_loc = p->tok.loc;
    return (d->name = name(p)) && (d->type_condition = type_condition(p, &d->condition_loc)) &&
           directives(p, &d->directives, false) &&
           selection_set(p, &d->selections, &(struct gql_loc){0});
}

static struct gql_definition *definition(struct parser *p) {
    struct gql_definition *d = node(p, sizeof *d);
    bool ok;
    d->loc = p->tok.loc;
    if (is(p, GQL_TOK_BRACE_L) || is_keyword(p, "query") || is_keyword(p, "mutation") ||
        is_keyword(p, "subscription"))
        ok = operation(p, d);
    else if (is_keyword(p, "fragment"))
        ok = fragment_definition(p, d);
    else if (starts_definition(p))
        ok = type_system(p, d);
    else
        ok = (unexpected(p, NULL), false);
    return ok ? d : NULL;
}

static bool document(struct parser *p, struct gql_document *doc) {
    struct gql_definition **tail = &doc->definitions;
    size_t count = 0;
    if (!advance(p))
        return false;
    do {
        if (++count > GQL_DEFINITION_MAX) {
            gql_error_add(p->errs, GQL_CODE_LIMIT, &p->tok.loc,
                          "The document has more than %d definitions.", GQL_DEFINITION_MAX);
            return false;
        }
        if (!(*tail = definition(p)))
            return false;
        tail = &(*tail)->next;
    } while (!p->failed && !is(p, GQL_TOK_EOF));
    return !p->failed;
}

struct gql_document *gql_parse(const char *src, size_t len, struct gql_errors *errs) {
    struct gql_document *doc = xcalloc(1, sizeof *doc);
    struct parser p = {.arena = &doc->arena, .errs = errs};
    if (gql_lexer_init(&p.lx, src, len, &doc->arena, errs) && document(&p, doc))
        return doc;
    gql_document_free(doc);
    return NULL;
}

void gql_document_free(struct gql_document *doc) {
    if (!doc)
        return;
    if (doc->exec_memo_free)
        doc->exec_memo_free(doc->exec_memo);
    gql_arena_free(&doc->arena);
    free(doc);
}

const char *gql_response_name(const struct gql_selection *field) {
    return field->alias ? field->alias : field->name;
}

const char *gql_operation_name(enum gql_operation_type op) {
    return op == GQL_OP_MUTATION       ? "mutation"
           : op == GQL_OP_SUBSCRIPTION ? "subscription"
                                       : "query";
}
