/*
 * validate.c -- the validation rules of section 5 (see validate.h).
 *
 * One walk over each definition, with the type each selection set is on
 * (NULL where it is unknown: an unknown field or type was already
 * reported, and what is below it is walked only for its variables,
 * spreads and directives), checks the field, argument, value, directive
 * and fragment-type rules and records each definition's fragment spreads
 * and variable usages. The document-wide rules (names, cycles, unused
 * fragments, variables of each operation through the fragments it
 * reaches) then work on those records.
 */
#include "nexus/graphql/validate.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/merge.h"
#include "nexus/graphql/schema.h"
#include "nexus/graphql/values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct usage {
    const struct gql_value *var;
    struct gql_tref expected; /* len 0: the position's type is unknown */
    bool has_default;
    struct usage *next;
};

struct spread {
    const struct gql_selection *sel;
    struct spread *next;
};

struct def_info {
    const struct gql_definition *def;
    struct usage *usages;
    struct spread *spreads;
    int mark;
};

struct vctx {
    const struct gql_document *doc;
    struct gql_errors *errs;
    struct gql_arena arena;
    struct def_info defs[GQL_DEFINITION_MAX];
    size_t ndefs;
    struct def_info *current;
    bool has_cycle;
};

#define ERR(c, loc, ...) gql_error_add((c)->errs, GQL_CODE_VALIDATION, loc, __VA_ARGS__)

static struct def_info *fragment_info(struct vctx *c, const char *name) {
    for (size_t i = 0; i < c->ndefs; i++)
        if (c->defs[i].def->kind == GQL_DEF_FRAGMENT && strcmp(c->defs[i].def->name, name) == 0)
            return &c->defs[i];
    return NULL;
}

/* ---- variables met in values ------------------------------------------------ */

static void on_variable(void *ctx, const struct gql_value *var, struct gql_tref expected,
                        bool has_default) {
    struct vctx *c = ctx;
    struct usage *u = gql_arena_alloc(&c->arena, sizeof *u);
    u->var = var;
    u->expected = expected;
    u->has_default = has_default;
    u->next = c->current->usages;
    c->current->usages = u;
}

/* The variables of a value whose type is unknown. */
static void note_variables(struct vctx *c, const struct gql_value *v) {
    if (v->kind == GQL_VALUE_VARIABLE)
        on_variable(c, v, (struct gql_tref){"", 0}, false);
    for (const struct gql_value *i = v->kind == GQL_VALUE_LIST ? v->items : NULL; i; i = i->next)
        note_variables(c, i);
    for (const struct gql_object_field *f = v->kind == GQL_VALUE_OBJECT ? v->fields : NULL; f;
         f = f->next)
        note_variables(c, f->value);
}

static void check_value(struct vctx *c, const struct gql_value *v, const char *type,
                        bool has_default) {
    struct gql_value_check check = {c->errs, on_variable, c};
    gql_check_literal(&check, v, gql_tref(type), has_default);
}

/* ---- arguments ---------------------------------------------------------------- */

/* Who takes the arguments, for messages: a field or a directive. */
struct owner {
    const char *what;  /* "field" or "directive" */
    char label[160];   /* "Query.product" or "@skip" */
    char subject[160]; /* "Field \"product\"" or "Directive \"@skip\"" */
    bool known;        /* its argument definitions are known */
    const struct gql_input_def *defs;
    size_t count;
};

static const struct gql_argument *earlier_arg(const struct gql_argument *first,
                                              const struct gql_argument *a) {
    for (const struct gql_argument *b = first; b != a; b = b->next)
        if (strcmp(b->name, a->name) == 0)
            return b;
    return NULL;
}

static void check_given_args(struct vctx *c, const struct gql_argument *args,
                             const struct owner *o) {
    for (const struct gql_argument *a = args; a; a = a->next) {
        const struct gql_argument *twin = earlier_arg(args, a);
        const struct gql_input_def *def =
            o->known ? gql_schema_arg(o->defs, o->count, a->name) : NULL;
        if (twin) {
            struct gql_loc locs[] = {twin->loc, a->loc};
            gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                           "There can be only one argument named \"%.*s\".", GQL_NAME(a->name));
        }
        if (o->known && !def)
            ERR(c, &a->loc, "Unknown argument \"%.*s\" on %s \"%.*s\".", GQL_NAME(a->name), o->what,
                GQL_NAME(o->label));
        if (def)
            check_value(c, a->value, def->type, def->default_value != NULL);
        else
            note_variables(c, a->value);
    }
}

static bool arg_given(const struct gql_argument *args, const char *name) {
    for (const struct gql_argument *a = args; a; a = a->next)
        if (strcmp(a->name, name) == 0)
            return true;
    return false;
}

static void check_arguments(struct vctx *c, const struct gql_argument *args, const struct owner *o,
                            const struct gql_loc *loc) {
    check_given_args(c, args, o);
    for (size_t i = 0; o->known && i < o->count; i++) {
        const struct gql_input_def *def = &o->defs[i];
        if (gql_tref_kind(gql_tref(def->type)) == GQL_KIND_NON_NULL && !def->default_value &&
            !arg_given(args, def->name))
            ERR(c, loc, "%s argument \"%s\" of type \"%s\" is required, but it was not provided.",
                o->subject, def->name, def->type);
    }
}

/* ---- directives ---------------------------------------------------------------- */

static unsigned bit_index(unsigned bit) {
    unsigned i = 0;
    while (bit > 1) {
        bit >>= 1;
        i++;
    }
    return i;
}

/* The first directive before d in its list with d's name, or NULL. */
static const struct gql_directive *repeated_directive(const struct gql_directive *first,
                                                      const struct gql_directive *d) {
    for (const struct gql_directive *e = first; e != d; e = e->next)
        if (strcmp(e->name, d->name) == 0)
            return e;
    return NULL;
}

static void check_directive(struct vctx *c, const struct gql_directive *list,
                            const struct gql_directive *d, unsigned location) {
    const struct gql_directive_def *def = gql_schema_directive(d->name);
    struct owner o = {.what = "directive", .known = def != NULL};
    if (!def) {
        ERR(c, &d->loc, "Unknown directive \"@%.*s\".", GQL_NAME(d->name));
        check_arguments(c, d->args, &o, &d->loc);
        return;
    }
    if (!(def->locations & location))
        ERR(c, &d->loc, "Directive \"@%s\" may not be used on %s.", d->name,
            gql_directive_location_name(bit_index(location)));
    const struct gql_directive *before = def->repeatable ? NULL : repeated_directive(list, d);
    if (before) {
        struct gql_loc locs[2] = {before->loc, d->loc};
        gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                       "The directive \"@%s\" can only be used once at this location.", d->name);
    }
    o.defs = def->args;
    o.count = def->arg_count;
    snprintf(o.label, sizeof o.label, "@%s", d->name);
    snprintf(o.subject, sizeof o.subject, "Directive \"@%s\"", d->name);
    check_arguments(c, d->args, &o, &d->loc);
}

static void check_directives(struct vctx *c, const struct gql_directive *list, unsigned location) {
    for (const struct gql_directive *d = list; d; d = d->next)
        check_directive(c, list, d, location);
}

/* ---- selections ---------------------------------------------------------------- */

static void walk_set(struct vctx *c, const struct gql_type_def *parent,
                     const struct gql_selection *set);

static void check_subselection(struct vctx *c, const struct gql_selection *sel,
                               const struct gql_field_def *fd) {
    const struct gql_type_def *named = gql_tref_named(gql_tref(fd->type));
    if (!named)
        return;
    if (gql_kind_is_leaf(named->kind) && sel->selections)
        ERR(c, &sel->selections_loc, /* at the selection set, as graphql-js reports it */
            "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", sel->name,
            fd->type);
    if (gql_kind_is_composite(named->kind) && !sel->selections)
        ERR(c, &sel->loc,
            "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean \"%s { "
            "... }\"?",
            sel->name, fd->type, sel->name);
}

static void walk_field(struct vctx *c, const struct gql_type_def *parent,
                       const struct gql_selection *sel) {
    const struct gql_field_def *fd = parent ? gql_schema_field(parent, sel->name) : NULL;
    struct owner o = {.what = "field", .known = fd != NULL};
    if (parent && !fd)
        ERR(c, &sel->loc, "Cannot query field \"%.*s\" on type \"%s\".", GQL_NAME(sel->name),
            parent->name);
    if (fd) {
        o.defs = fd->args;
        o.count = fd->arg_count;
        snprintf(o.label, sizeof o.label, "%s.%s", parent->name, sel->name);
        snprintf(o.subject, sizeof o.subject, "Field \"%s\"", sel->name);
        check_subselection(c, sel, fd);
    }
    check_arguments(c, sel->args, &o, &sel->loc);
    check_directives(c, sel->directives, GQL_LOC_FIELD);
    const struct gql_type_def *named = fd ? gql_tref_named(gql_tref(fd->type)) : NULL;
    if (sel->selections)
        walk_set(c, named && gql_kind_is_composite(named->kind) ? named : NULL, sel->selections);
}

/* Can an object of type a be of type b? Only object types exist here. */
static bool possible(const struct gql_type_def *a, const struct gql_type_def *b) {
    return a == b || a->kind != GQL_KIND_OBJECT || b->kind != GQL_KIND_OBJECT;
}

static void walk_spread(struct vctx *c, const struct gql_type_def *parent,
                        const struct gql_selection *sel) {
    struct spread *s = gql_arena_alloc(&c->arena, sizeof *s);
    s->sel = sel;
    s->next = c->current->spreads;
    c->current->spreads = s;
    check_directives(c, sel->directives, GQL_LOC_FRAGMENT_SPREAD);
    struct def_info *f = fragment_info(c, sel->name);
    if (!f) {
        ERR(c, &sel->name_loc, "Unknown fragment \"%.*s\".", GQL_NAME(sel->name));
        return;
    }
    const struct gql_type_def *t = gql_schema_type(f->def->type_condition);
    if (parent && t && gql_kind_is_composite(t->kind) && !possible(parent, t))
        ERR(c, &sel->loc,
            "Fragment \"%.*s\" cannot be spread here as objects of type \"%s\" can never be of "
            "type \"%s\".",
            GQL_NAME(sel->name), parent->name, t->name);
}

/* The type a fragment's condition names, after checking it exists and is
 * composite; NULL when it is not usable. */
static const struct gql_type_def *condition_type(struct vctx *c, const char *name,
                                                 const char *fragment, const struct gql_loc *loc) {
    const struct gql_type_def *t = gql_schema_type(name);
    if (!t) {
        ERR(c, loc, "Unknown type \"%.*s\".", GQL_NAME(name));
        return NULL;
    }
    if (gql_kind_is_composite(t->kind))
        return t;
    if (fragment)
        ERR(c, loc, "Fragment \"%.*s\" cannot condition on non composite type \"%s\".",
            GQL_NAME(fragment), name);
    else
        ERR(c, loc, "Fragment cannot condition on non composite type \"%s\".", name);
    return NULL;
}

static void walk_inline(struct vctx *c, const struct gql_type_def *parent,
                        const struct gql_selection *sel) {
    const struct gql_type_def *t = parent;
    if (sel->type_condition) {
        t = condition_type(c, sel->type_condition, NULL, &sel->condition_loc);
        if (parent && t && !possible(parent, t))
            ERR(c, &sel->loc,
                "Fragment cannot be spread here as objects of type \"%s\" can never be of type "
                "\"%s\".",
                parent->name, t->name);
    }
    check_directives(c, sel->directives, GQL_LOC_INLINE_FRAGMENT);
    walk_set(c, t, sel->selections);
}

static void walk_set(struct vctx *c, const struct gql_type_def *parent,
                     const struct gql_selection *set) {
    for (const struct gql_selection *s = set; s; s = s->next) {
        if (s->kind == GQL_SEL_FIELD)
            walk_field(c, parent, s);
        else if (s->kind == GQL_SEL_SPREAD)
            walk_spread(c, parent, s);
        else
            walk_inline(c, parent, s);
    }
}

/* ---- definitions ---------------------------------------------------------------- */

static const struct gql_variable_def *earlier_variable(const struct gql_variable_def *first,
                                                       const struct gql_variable_def *v) {
    for (const struct gql_variable_def *w = first; w != v; w = w->next)
        if (strcmp(w->name, v->name) == 0)
            return w;
    return NULL;
}

static const char *named_of(const struct gql_type_ref *t) {
    while (t->kind != GQL_TYPE_NAMED)
        t = t->of;
    return t->name;
}

static void check_variable_def(struct vctx *c, const struct gql_definition *op,
                               const struct gql_variable_def *v) {
    const struct gql_variable_def *twin = earlier_variable(op->variables, v);
    const struct gql_type_def *t = gql_schema_type(named_of(v->type));
    if (twin) {
        struct gql_loc locs[] = {twin->name_loc, v->name_loc};
        gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                       "There can be only one variable named \"$%.*s\".", GQL_NAME(v->name));
    }
    if (!t)
        ERR(c, &v->type->loc, "Unknown type \"%.*s\".", GQL_NAME(named_of(v->type)));
    else if (!gql_kind_is_input(t->kind))
        ERR(c, &v->type->loc, "Variable \"$%.*s\" cannot be non-input type \"%s\".",
            GQL_NAME(v->name), gql_type_text(&c->arena, v->type));
    else if (v->default_value)
        check_value(c, v->default_value, gql_type_text(&c->arena, v->type), false);
    check_directives(c, v->directives, GQL_LOC_VARIABLE_DEFINITION);
}

static const unsigned operation_location[] = {GQL_LOC_QUERY, GQL_LOC_MUTATION,
                                              GQL_LOC_SUBSCRIPTION};

static void walk_operation(struct vctx *c, const struct gql_definition *op) {
    if (op->operation != GQL_OP_QUERY)
        ERR(c, &op->loc,
            "The schema is not configured to execute %s operations: it has no %s root type, "
            "only queries run here.",
            gql_operation_name(op->operation), gql_operation_name(op->operation));
    for (const struct gql_variable_def *v = op->variables; v; v = v->next)
        check_variable_def(c, op, v);
    check_directives(c, op->directives, operation_location[op->operation]);
    walk_set(c, op->operation == GQL_OP_QUERY ? gql_schema_query_type() : NULL, op->selections);
}

static void walk_fragment(struct vctx *c, const struct gql_definition *f) {
    const struct gql_type_def *t = condition_type(c, f->type_condition, f->name, &f->condition_loc);
    check_directives(c, f->directives, GQL_LOC_FRAGMENT_DEFINITION);
    walk_set(c, t, f->selections);
}

static void walk_definitions(struct vctx *c) {
    for (size_t i = 0; i < c->ndefs && !gql_errors_full(c->errs); i++) {
        const struct gql_definition *d = c->defs[i].def;
        c->current = &c->defs[i];
        if (d->kind == GQL_DEF_OPERATION)
            walk_operation(c, d);
        else if (d->kind == GQL_DEF_FRAGMENT)
            walk_fragment(c, d);
        else if (d->schema)
            ERR(c, &d->loc, "The schema definition is not executable.");
        else
            ERR(c, &d->loc, "The \"%.*s\" definition is not executable.", GQL_NAME(d->name));
    }
}

/* ---- names ---------------------------------------------------------------------- */

static void check_names(struct vctx *c) {
    size_t operations = 0;
    for (size_t i = 0; i < c->ndefs; i++)
        operations += c->defs[i].def->kind == GQL_DEF_OPERATION;
    for (size_t i = 0; i < c->ndefs; i++) {
        const struct gql_definition *d = c->defs[i].def;
        if (d->kind == GQL_DEF_TYPE_SYSTEM)
            continue;
        if (d->kind == GQL_DEF_OPERATION && !d->name && operations > 1)
            ERR(c, &d->loc, "This anonymous operation must be the only defined operation.");
        for (size_t j = 0; d->name && j < i; j++) {
            const struct gql_definition *e = c->defs[j].def;
            if (e->kind != d->kind || !e->name || strcmp(e->name, d->name) != 0)
                continue;
            struct gql_loc locs[] = {e->name_loc, d->name_loc};
            gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                           d->kind == GQL_DEF_OPERATION
                               ? "There can be only one operation named \"%.*s\"."
                               : "There can be only one fragment named \"%.*s\".",
                           GQL_NAME(d->name));
            break;
        }
    }
}

/* ---- fragment cycles ------------------------------------------------------------- */

struct cycle_path {
    struct def_info *defs[GQL_DEFINITION_MAX + 1];
    const struct gql_selection *spreads[GQL_DEFINITION_MAX + 1];
};

/* A cycle's message names the fragments it passes through, the first
 * CYCLE_NAMES_MAX of them, then "...": a cycle through a hundred
 * fragments would repeat a hundred names in each of its errors. */
#define CYCLE_NAMES_MAX 5

/* The step-th fragment (from 1) of a cycle's "via" list. */
static void add_via(struct buf *via, size_t step, const char *name) {
    if (step <= CYCLE_NAMES_MAX)
        buf_printf(via, "%s\"%.*s\"", step > 1 ? ", " : " via ", GQL_NAME(name));
    else if (step == CYCLE_NAMES_MAX + 1)
        buf_puts(via, ", ...");
}

static void report_cycle(struct vctx *c, struct cycle_path *p, size_t from, size_t to) {
    struct buf via = {0};
    struct gql_loc locs[GQL_ERROR_LOCS_MAX];
    size_t n = 0;
    for (size_t i = from; i <= to; i++) {
        if (i > from)
            add_via(&via, i - from, p->spreads[i - 1]->name);
        if (n < GQL_ERROR_LOCS_MAX)
            locs[n++] = p->spreads[i]->loc;
    }
    gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, n,
                   "Cannot spread fragment \"%.*s\" within itself%s.",
                   GQL_NAME(p->defs[from]->def->name), via.data ? via.data : "");
    buf_clear(&via);
    c->has_cycle = true;
}

static void find_cycles(struct vctx *c, struct cycle_path *p, size_t depth) {
    struct def_info *f = p->defs[depth];
    f->mark = 1;
    for (const struct spread *s = f->spreads; s; s = s->next) {
        struct def_info *t = fragment_info(c, s->sel->name);
        if (!t || t->mark == 2)
            continue;
        p->spreads[depth] = s->sel;
        if (t->mark == 1) {
            size_t from = depth;
            while (p->defs[from] != t)
                from--;
            report_cycle(c, p, from, depth);
        } else {
            p->defs[depth + 1] = t;
            find_cycles(c, p, depth + 1);
        }
    }
    f->mark = 2;
}

static void check_cycles(struct vctx *c) {
    struct cycle_path path;
    for (size_t i = 0; i < c->ndefs; i++)
        c->defs[i].mark = 0;
    for (size_t i = 0; i < c->ndefs; i++) {
        if (c->defs[i].def->kind != GQL_DEF_FRAGMENT || c->defs[i].mark)
            continue;
        path.defs[0] = &c->defs[i];
        find_cycles(c, &path, 0);
    }
}

/* ---- reach ----------------------------------------------------------------------- */

/* Mark (mark = stamp) every fragment reachable from d's spreads. */
static void reach(struct vctx *c, struct def_info *d, int stamp) {
    for (const struct spread *s = d->spreads; s; s = s->next) {
        struct def_info *t = fragment_info(c, s->sel->name);
        if (t && t->mark != stamp) {
            t->mark = stamp;
            reach(c, t, stamp);
        }
    }
}

static void check_unused_fragments(struct vctx *c) {
    for (size_t i = 0; i < c->ndefs; i++)
        c->defs[i].mark = 0;
    for (size_t i = 0; i < c->ndefs; i++)
        if (c->defs[i].def->kind == GQL_DEF_OPERATION)
            reach(c, &c->defs[i], 1);
    /* A fragment is used when a spread of its name is reached (a second
     * fragment of one name is reported by the name rule only). */
    for (size_t i = 0; i < c->ndefs; i++)
        if (c->defs[i].def->kind == GQL_DEF_FRAGMENT &&
            fragment_info(c, c->defs[i].def->name)->mark != 1)
            ERR(c, &c->defs[i].def->loc, "Fragment \"%.*s\" is never used.",
                GQL_NAME(c->defs[i].def->name));
}

/* ---- variables of each operation ------------------------------------------------- */

static const struct gql_variable_def *variable_def(const struct gql_definition *op,
                                                   const char *name) {
    for (const struct gql_variable_def *v = op->variables; v; v = v->next)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

/* IsVariableUsageAllowed (5.8.5). */
static bool usage_allowed(struct vctx *c, const struct gql_variable_def *v, const struct usage *u) {
    struct gql_tref var = gql_tref(gql_type_text(&c->arena, v->type)), loc = u->expected;
    if (gql_tref_kind(loc) == GQL_KIND_NON_NULL && gql_tref_kind(var) != GQL_KIND_NON_NULL) {
        bool default_given = v->default_value && v->default_value->kind != GQL_VALUE_NULL;
        if (!default_given && !u->has_default)
            return false;
        loc = gql_tref_of(loc);
    }
    return gql_types_compatible(var, loc);
}

static void check_usage(struct vctx *c, const struct gql_definition *op, const struct usage *u) {
    const struct gql_variable_def *v = variable_def(op, u->var->text);
    if (!v) {
        struct gql_loc locs[] = {u->var->loc, op->loc};
        if (op->name)
            gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                           "Variable \"$%.*s\" is not defined by operation \"%.*s\".",
                           GQL_NAME(u->var->text), GQL_NAME(op->name));
        else
            gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                           "Variable \"$%.*s\" is not defined.", GQL_NAME(u->var->text));
        return;
    }
    const struct gql_type_def *t = gql_schema_type(named_of(v->type));
    if (u->expected.len == 0 || !t || !gql_kind_is_input(t->kind) || usage_allowed(c, v, u))
        return;
    struct gql_loc locs[] = {v->loc, u->var->loc};
    gql_error_addv(c->errs, GQL_CODE_VALIDATION, locs, 2,
                   "Variable \"$%.*s\" of type \"%s\" used in position expecting type \"%.*s\".",
                   GQL_NAME(v->name), gql_type_text(&c->arena, v->type), (int)u->expected.len,
                   u->expected.s);
}

static bool used_in(const struct def_info *d, const char *name) {
    for (const struct usage *u = d->usages; u; u = u->next)
        if (strcmp(u->var->text, name) == 0)
            return true;
    return false;
}

static void check_operation_variables(struct vctx *c, struct def_info *op, int stamp) {
    op->mark = stamp;
    reach(c, op, stamp);
    for (size_t i = 0; i < c->ndefs; i++)
        for (const struct usage *u = c->defs[i].mark == stamp ? c->defs[i].usages : NULL; u;
             u = u->next)
            check_usage(c, op->def, u);
    for (const struct gql_variable_def *v = op->def->variables; v; v = v->next) {
        bool used = false;
        for (size_t i = 0; i < c->ndefs && !used; i++)
            used = c->defs[i].mark == stamp && used_in(&c->defs[i], v->name);
        if (used)
            continue;
        if (op->def->name)
            ERR(c, &v->loc, "Variable \"$%.*s\" is never used in operation \"%.*s\".",
                GQL_NAME(v->name), GQL_NAME(op->def->name));
        else
            ERR(c, &v->loc, "Variable \"$%.*s\" is never used.", GQL_NAME(v->name));
    }
}

static void check_variables(struct vctx *c) {
    for (size_t i = 0; i < c->ndefs; i++)
        c->defs[i].mark = 0;
    int stamp = 0;
    for (size_t i = 0; i < c->ndefs; i++)
        if (c->defs[i].def->kind == GQL_DEF_OPERATION)
            check_operation_variables(c, &c->defs[i], ++stamp);
}

/* ---- entry points ------------------------------------------------------------------ */

bool gql_validate(const struct gql_document *doc, struct gql_errors *errs) {
    struct vctx *c = xcalloc(1, sizeof *c);
    size_t before = errs->count;
    c->doc = doc;
    c->errs = errs;
    for (const struct gql_definition *d = doc->definitions; d && c->ndefs < GQL_DEFINITION_MAX;
         d = d->next)
        c->defs[c->ndefs++].def = d;
    check_names(c);
    walk_definitions(c);
    check_cycles(c);
    check_unused_fragments(c);
    check_variables(c);
    if (!c->has_cycle && !gql_errors_full(errs))
        gql_check_merging(doc, errs);
    gql_arena_free(&c->arena);
    free(c);
    return errs->count == before;
}

const struct gql_definition *gql_fragment(const struct gql_document *doc, const char *name) {
    for (const struct gql_definition *d = doc->definitions; d; d = d->next)
        if (d->kind == GQL_DEF_FRAGMENT && strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

const struct gql_definition *gql_operation(const struct gql_document *doc, const char *name,
                                           struct gql_errors *errs) {
    const struct gql_definition *found = NULL;
    bool named = name != NULL; /* "" names an operation too, and none has it */
    for (const struct gql_definition *d = doc->definitions; d; d = d->next) {
        if (d->kind != GQL_DEF_OPERATION || (named && (!d->name || strcmp(d->name, name) != 0)))
            continue;
        if (found && !named) {
            gql_error_add(errs, GQL_CODE_VALIDATION, NULL,
                          "The document has several operations: operationName must name one.");
            return NULL;
        }
        found = found ? found : d;
    }
    if (!found && named)
        gql_error_add(errs, GQL_CODE_VALIDATION, NULL, "Unknown operation named \"%.*s\".",
                      GQL_NAME(name));
    else if (!found)
        gql_error_add(errs, GQL_CODE_VALIDATION, NULL, "The document has no operation.");
    return found;
}
