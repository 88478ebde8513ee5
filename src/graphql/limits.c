/*
 * limits.c -- depth and cost of an operation, fragments expanded (see
 * limits.h). A fragment's measure does not depend on where it is spread
 * (a list above it multiplies its cost afterwards), so each fragment is
 * measured once: the work is linear in the document.
 */
#include "nexus/graphql/limits.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/schema.h"
#include "nexus/graphql/values.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COST_CAP 1000000000000ULL /* sums saturate here: far over any limit */

struct measure {
    unsigned depth, intro;
    unsigned long long cost;
    unsigned long long each; /* selected on each edge: the connection above multiplies it */
};

struct memo {
    const struct gql_definition *fragment;
    struct measure m;
    bool done;
};

struct lctx {
    const struct gql_definition *op;
    unsigned nesting; /* of measure_set calls: bounded, like the stack they use */
    bool too_deep;
    gql_int_variable_fn var;
    void *ctx;
    struct memo memo[GQL_DEFINITION_MAX];
    size_t nmemo;
};

static unsigned long long add(unsigned long long a, unsigned long long b) {
    return a + b > COST_CAP ? COST_CAP : a + b;
}

static unsigned long long mul(unsigned long long a, unsigned long long b) {
    return b && a > COST_CAP / b ? COST_CAP : a * b;
}

static void combine(struct measure *into, struct measure m) {
    into->depth = m.depth > into->depth ? m.depth : into->depth;
    into->intro = m.intro > into->intro ? m.intro : into->intro;
    into->cost = add(into->cost, m.cost);
    into->each = add(into->each, m.each);
}

/* ---- `first` ------------------------------------------------------------------ */

static bool variable_default(const struct gql_definition *op, const char *name, long long *n) {
    for (const struct gql_variable_def *v = op->variables; v; v = v->next)
        if (strcmp(v->name, name) == 0 && v->default_value &&
            v->default_value->kind == GQL_VALUE_INT)
            return gql_int_literal(v->default_value->text, n);
    return false;
}

/* The `first` of a connection field: the literal, the request's variable,
 * the variable's default, or the argument's default in the schema. */
static unsigned long long first_of(const struct lctx *l, const struct gql_field_def *fd,
                                   const struct gql_selection *sel) {
    const struct gql_input_def *def = gql_schema_arg(fd->args, fd->arg_count, "first");
    long long fallback = 0, n;
    if (def && def->default_value && !gql_int_literal(def->default_value, &fallback))
        fallback = 0;
    n = fallback;
    for (const struct gql_argument *a = sel->args; a; a = a->next) {
        if (strcmp(a->name, "first") != 0)
            continue;
        const struct gql_value *v = a->value;
        if (v->kind == GQL_VALUE_INT && !gql_int_literal(v->text, &n))
            n = fallback;
        else if (v->kind == GQL_VALUE_VARIABLE && !(l->var && l->var(l->ctx, v->text, &n)) &&
                 !variable_default(l->op, v->text, &n))
            n = fallback;
        if (n == GQL_VARIABLE_NULL)
            n = fallback;
    }
    return n > 0 ? (unsigned long long)n : 0;
}

/* ---- selections ------------------------------------------------------------------ */

static struct measure measure_set(struct lctx *l, const struct gql_type_def *parent,
                                  const struct gql_selection *set);

static struct measure measure_field(struct lctx *l, const struct gql_type_def *parent,
                                    const struct gql_selection *sel) {
    struct measure m = {0}, sub = {0};
    const struct gql_field_def *fd = parent ? gql_schema_field(parent, sel->name) : NULL;
    const struct gql_type_def *t = fd ? gql_tref_named(gql_tref(fd->type)) : NULL;
    if (sel->selections)
        sub = measure_set(l, t && gql_kind_is_composite(t->kind) ? t : NULL, sel->selections);
    if (strcmp(sel->name, "__schema") == 0 || strcmp(sel->name, "__type") == 0) {
        m.intro = 1 + sub.depth; /* all below is introspection */
        return m;
    }
    m.depth = 1 + sub.depth;
    m.intro = sub.intro;
    unsigned long long n = !fd                          ? 0
                           : fd->cost == GQL_COST_FIRST ? first_of(l, fd, sel)
                           : fd->cost == GQL_COST_LIST  ? fd->list_size
                           : fd->cost == GQL_COST_ROW   ? 1
                                                        : 0;
    if (fd && fd->cost == GQL_COST_EACH)
        m.each = add(sub.cost, sub.each);
    else if (fd && fd->cost == GQL_COST_FIRST) /* totalCount, pageInfo: once */
        m.cost = add(add(n, mul(n, sub.each)), sub.cost);
    else if (fd && fd->cost == GQL_COST_LIST)
        m.cost = add(n, mul(n, add(sub.cost, sub.each)));
    else
        m.cost = add(n, add(sub.cost, sub.each));
    return m;
}

static struct measure measure_spread(struct lctx *l, const struct gql_selection *sel) {
    for (size_t i = 0; i < l->nmemo; i++)
        if (strcmp(l->memo[i].fragment->name, sel->name) == 0) {
            struct memo *memo = &l->memo[i];
            if (!memo->done) {
                memo->done = true; /* a cycle (never in a valid document) measures 0 */
                memo->m = measure_set(l, gql_schema_type(memo->fragment->type_condition),
                                      memo->fragment->selections);
            }
            return memo->m;
        }
    return (struct measure){0};
}

/* Selection sets nested deeper than this (fragments expanded) are far
 * over every limit; they are not measured further. */
#define NESTING_MAX 128

static struct measure measure_set(struct lctx *l, const struct gql_type_def *parent,
                                  const struct gql_selection *set) {
    struct measure total = {0};
    if (l->nesting >= NESTING_MAX) {
        l->too_deep = true;
        return total;
    }
    l->nesting++;
    for (const struct gql_selection *s = set; s; s = s->next) {
        if (s->kind == GQL_SEL_FIELD)
            combine(&total, measure_field(l, parent, s));
        else if (s->kind == GQL_SEL_SPREAD)
            combine(&total, measure_spread(l, s));
        else
            combine(&total,
                    measure_set(l, s->type_condition ? gql_schema_type(s->type_condition) : parent,
                                s->selections));
    }
    l->nesting--;
    return total;
}

/* ---- the check ----------------------------------------------------------------------- */

static bool report(struct gql_errors *errs, const struct gql_definition *op,
                   const struct measure *m) {
    bool ok = true;
    if (m->depth > GQL_DEPTH_MAX)
        ok = false, gql_error_add(errs, GQL_CODE_LIMIT, &op->loc,
                                  "The operation is %u fields deep; at most %d are allowed.",
                                  m->depth, GQL_DEPTH_MAX);
    if (m->intro > GQL_INTROSPECTION_DEPTH_MAX)
        ok = false, gql_error_add(errs, GQL_CODE_LIMIT, &op->loc,
                                  "The operation's introspection is %u fields deep; at most %d "
                                  "are allowed.",
                                  m->intro, GQL_INTROSPECTION_DEPTH_MAX);
    if (m->cost > GQL_COST_MAX)
        ok = false, gql_error_add(errs, GQL_CODE_LIMIT, &op->loc,
                                  "The operation costs %llu; at most %d is allowed (a connection "
                                  "costs its first and counts what each edge selects that many "
                                  "times, a list without first 10 items, a row 1).",
                                  m->cost, GQL_COST_MAX);
    return ok;
}

/* The measure of op with the request's variables. */
static struct measure measure_op(const struct gql_document *doc, const struct gql_definition *op,
                                 gql_int_variable_fn var, void *ctx) {
    struct lctx *l = xcalloc(1, sizeof *l);
    l->op = op;
    l->var = var;
    l->ctx = ctx;
    for (const struct gql_definition *d = doc->definitions; d; d = d->next)
        if (d->kind == GQL_DEF_FRAGMENT && l->nmemo < GQL_DEFINITION_MAX)
            l->memo[l->nmemo++].fragment = d;
    struct measure m = measure_set(
        l, op->operation == GQL_OP_QUERY ? gql_schema_query_type() : NULL, op->selections);
    if (l->too_deep) /* at least this deep: more than either limit */
        m.depth = NESTING_MAX;
    free(l);
    return m;
}

/* The measure of an operation without variables depends on the document
 * alone: kept with it (see parse.h), in its arena. */
struct gql_limits_memo {
    const struct gql_definition *op;
    struct measure m;
    struct gql_limits_memo *next;
};

static struct measure measure_kept(const struct gql_document *doc,
                                   const struct gql_definition *op) {
    for (const struct gql_limits_memo *k = doc->limits_memo; k; k = k->next)
        if (k->op == op)
            return k->m;
    struct gql_document *owned = (struct gql_document *)(uintptr_t)doc; /* a memo only */
    struct gql_limits_memo *k = gql_arena_alloc(&owned->arena, sizeof *k);
    *k = (struct gql_limits_memo){op, measure_op(doc, op, NULL, NULL), doc->limits_memo};
    owned->limits_memo = k;
    return k->m;
}

bool gql_check_limits(const struct gql_document *doc, const struct gql_definition *op,
                      gql_int_variable_fn var, void *ctx, struct gql_measure *out,
                      struct gql_errors *errs) {
    struct measure m = op->variables ? measure_op(doc, op, var, ctx) : measure_kept(doc, op);
    if (out)
        *out = (struct gql_measure){m.depth, m.intro, m.cost};
    return report(errs, op, &m);
}
