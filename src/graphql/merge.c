/*
 * merge.c -- Field Selection Merging (see merge.h and validate.h).
 *
 * A selection set (or several, merged) is flattened into the fields it
 * selects, through inline fragments and each named fragment once; the
 * fields are sorted by response name; in each group every field is
 * compared with the first; then the sub-selections of each group are
 * checked as one merged set, recursively.
 */
#include "nexus/graphql/merge.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/schema.h"

#include <stdlib.h>
#include <string.h>

struct collected {
    const struct gql_selection *sel;
    const struct gql_type_def *parent; /* NULL: unknown */
    const struct gql_field_def *def;   /* NULL: unknown */
    size_t order;
};

struct fields {
    struct collected *items;
    size_t len, cap;
};

/* Selection sets merged into one, each with its parent type. */
struct sets {
    const struct gql_selection **sets;
    const struct gql_type_def **parents;
    size_t len;
};

struct mctx {
    const struct gql_document *doc;
    struct gql_errors *errs;
    size_t work;
    bool over;
    const struct gql_definition *frags[GQL_DEFINITION_MAX];
    unsigned seen[GQL_DEFINITION_MAX];
    size_t nfrags;
    unsigned generation;
    /* The pairs reported: a fragment is checked from each place it is
     * spread and on its own, and each conflict is reported once. */
    const struct gql_selection *reported[GQL_ERRORS_MAX][2];
    size_t nreported;
};

static bool spend(struct mctx *m) {
    if (m->over || ++m->work <= GQL_VALIDATION_WORK_MAX)
        return !m->over;
    m->over = true;
    gql_error_add(m->errs, GQL_CODE_LIMIT, NULL,
                  "The document is too complex to validate: its selections, with fragments "
                  "expanded, exceed %d fields.",
                  GQL_VALIDATION_WORK_MAX);
    return false;
}

static bool too_deep(struct mctx *m, unsigned depth) {
    if (depth <= GQL_EXPANDED_DEPTH_MAX || m->over)
        return m->over;
    m->over = true;
    gql_error_add(m->errs, GQL_CODE_LIMIT, NULL,
                  "The document nests fields deeper than %d levels with fragments expanded.",
                  GQL_EXPANDED_DEPTH_MAX);
    return true;
}

/* ---- collecting fields ------------------------------------------------------ */

static void push(struct fields *f, const struct gql_selection *sel,
                 const struct gql_type_def *parent) {
    if (f->len == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->items = xrealloc(f->items, f->cap * sizeof *f->items);
    }
    struct collected *c = &f->items[f->len];
    c->sel = sel;
    c->parent = parent;
    c->def = parent ? gql_schema_field(parent, sel->name) : NULL;
    c->order = f->len++;
}

static long fragment_index(const struct mctx *m, const char *name) {
    for (size_t i = 0; i < m->nfrags; i++)
        if (strcmp(m->frags[i]->name, name) == 0)
            return (long)i;
    return -1;
}

static void collect(struct mctx *m, struct fields *out, const struct gql_selection *set,
                    const struct gql_type_def *parent) {
    for (const struct gql_selection *s = set; s && spend(m); s = s->next) {
        if (s->kind == GQL_SEL_FIELD) {
            push(out, s, parent);
        } else if (s->kind == GQL_SEL_INLINE) {
            collect(m, out, s->selections,
                    s->type_condition ? gql_schema_type(s->type_condition) : parent);
        } else {
            long i = fragment_index(m, s->name);
            if (i < 0 || m->seen[i] == m->generation)
                continue;
            m->seen[i] = m->generation;
            collect(m, out, m->frags[i]->selections, gql_schema_type(m->frags[i]->type_condition));
        }
    }
}

/* ---- comparing two fields ----------------------------------------------------- */

static bool same_value(const struct gql_value *a, const struct gql_value *b);

static size_t field_count(const struct gql_object_field *f) {
    size_t n = 0;
    for (; f; f = f->next)
        n++;
    return n;
}

/* Input objects are unordered (spec 2.9.8): {a: 1, b: 2} is {b: 2, a: 1}.
 * A literal's field names are unique (Input Object Field Uniqueness). */
static bool same_fields(const struct gql_object_field *a, const struct gql_object_field *b) {
    if (field_count(a) != field_count(b))
        return false;
    for (; a; a = a->next) {
        const struct gql_object_field *twin = b;
        while (twin && strcmp(twin->name, a->name) != 0)
            twin = twin->next;
        if (!twin || !same_value(a->value, twin->value))
            return false;
    }
    return true;
}

static bool same_value(const struct gql_value *a, const struct gql_value *b) {
    if (a->kind != b->kind || a->boolean != b->boolean || a->len != b->len)
        return false;
    if (a->text && memcmp(a->text, b->text, a->len) != 0)
        return false;
    const struct gql_value *x = a->items, *y = b->items;
    for (; x && y; x = x->next, y = y->next)
        if (!same_value(x, y))
            return false;
    return !x && !y && same_fields(a->fields, b->fields);
}

static size_t arg_count(const struct gql_argument *a) {
    size_t n = 0;
    for (; a; a = a->next)
        n++;
    return n;
}

static bool same_args(const struct gql_argument *a, const struct gql_argument *b) {
    if (arg_count(a) != arg_count(b))
        return false;
    for (; a; a = a->next) {
        const struct gql_argument *twin = b;
        while (twin && strcmp(twin->name, a->name) != 0)
            twin = twin->next;
        if (!twin || !same_value(a->value, twin->value))
            return false;
    }
    return true;
}

/* SameResponseShape, as far as the two types go: wrappers and leaf types
 * must match; composite sub-fields are compared by the merged check. */
static bool same_shape(struct gql_tref a, struct gql_tref b) {
    for (;;) {
        enum gql_kind ka = gql_tref_kind(a), kb = gql_tref_kind(b);
        if ((ka == GQL_KIND_NON_NULL) != (kb == GQL_KIND_NON_NULL) ||
            (ka == GQL_KIND_LIST) != (kb == GQL_KIND_LIST))
            return false;
        if (ka != GQL_KIND_NON_NULL && ka != GQL_KIND_LIST)
            break;
        a = gql_tref_of(a);
        b = gql_tref_of(b);
    }
    const struct gql_type_def *ta = gql_tref_named(a), *tb = gql_tref_named(b);
    if (!ta || !tb || (!gql_kind_is_leaf(ta->kind) && !gql_kind_is_leaf(tb->kind)))
        return true;
    return ta == tb;
}

static bool object_type(const struct gql_type_def *t) {
    return t && t->kind == GQL_KIND_OBJECT;
}

/* Why a and b cannot merge (into why), or false when they can. */
static bool conflict(const struct collected *a, const struct collected *b, struct buf *why) {
    bool same_parent = a->parent == b->parent || !object_type(a->parent) || !object_type(b->parent);
    if (same_parent && strcmp(a->sel->name, b->sel->name) != 0)
        buf_printf(why, "\"%.*s\" and \"%.*s\" are different fields", GQL_NAME(a->sel->name),
                   GQL_NAME(b->sel->name));
    else if (same_parent && !same_args(a->sel->args, b->sel->args))
        buf_puts(why, "they have differing arguments");
    else if (a->def && b->def && !same_shape(gql_tref(a->def->type), gql_tref(b->def->type)))
        buf_printf(why, "they return conflicting types \"%s\" and \"%s\"", a->def->type,
                   b->def->type);
    return why->len > 0;
}

/* ---- one merged set --------------------------------------------------------------- */

static int by_response_name(const void *x, const void *y) {
    const struct collected *a = x, *b = y;
    int c = strcmp(gql_response_name(a->sel), gql_response_name(b->sel));
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

static void check_sets(struct mctx *m, const struct sets *in, unsigned depth);

static bool reported_before(struct mctx *m, const struct gql_selection *a,
                            const struct gql_selection *b) {
    for (size_t i = 0; i < m->nreported; i++)
        if ((m->reported[i][0] == a && m->reported[i][1] == b) ||
            (m->reported[i][0] == b && m->reported[i][1] == a))
            return true;
    if (m->nreported < GQL_ERRORS_MAX) {
        m->reported[m->nreported][0] = a;
        m->reported[m->nreported++][1] = b;
    }
    return false;
}

/* Compare the group's fields with its first; at most one error a group. */
static void check_group(struct mctx *m, const struct collected *g, size_t n) {
    struct buf why = {0};
    for (size_t i = 1; i < n; i++) {
        if (!conflict(&g[0], &g[i], &why))
            continue;
        if (reported_before(m, g[0].sel, g[i].sel))
            break;
        struct gql_loc locs[] = {g[0].sel->loc, g[i].sel->loc};
        gql_error_addv(
            m->errs, GQL_CODE_VALIDATION, locs, 2,
            "Fields \"%.*s\" conflict because %s. Use different aliases on the fields to "
            "fetch both if this was intentional.",
            GQL_NAME(gql_response_name(g[0].sel)), why.data);
        break;
    }
    buf_clear(&why);
}

/* The sub-selections of a group, merged, checked as one set. */
static void check_children(struct mctx *m, const struct collected *g, size_t n, unsigned depth) {
    struct sets sub = {xcalloc(n, sizeof *sub.sets), xcalloc(n, sizeof *sub.parents), 0};
    for (size_t i = 0; i < n; i++) {
        if (!g[i].sel->selections)
            continue;
        const struct gql_type_def *t = g[i].def ? gql_tref_named(gql_tref(g[i].def->type)) : NULL;
        sub.sets[sub.len] = g[i].sel->selections;
        sub.parents[sub.len++] = t && gql_kind_is_composite(t->kind) ? t : NULL;
    }
    if (sub.len)
        check_sets(m, &sub, depth + 1);
    free(sub.sets);
    free(sub.parents);
}

static void check_sets(struct mctx *m, const struct sets *in, unsigned depth) {
    struct fields f = {0};
    if (too_deep(m, depth))
        return;
    m->generation++;
    for (size_t i = 0; i < in->len; i++)
        collect(m, &f, in->sets[i], in->parents[i]);
    if (f.len > 1)
        qsort(f.items, f.len, sizeof *f.items, by_response_name);
    for (size_t i = 0, j; i < f.len && !m->over && !gql_errors_full(m->errs); i = j) {
        for (j = i + 1; j < f.len && strcmp(gql_response_name(f.items[i].sel),
                                            gql_response_name(f.items[j].sel)) == 0;)
            j++;
        check_group(m, &f.items[i], j - i);
        check_children(m, &f.items[i], j - i, depth);
    }
    free(f.items);
}

bool gql_check_merging(const struct gql_document *doc, struct gql_errors *errs) {
    struct mctx *m = xcalloc(1, sizeof *m);
    size_t before = errs->count;
    m->doc = doc;
    m->errs = errs;
    for (const struct gql_definition *d = doc->definitions; d; d = d->next)
        if (d->kind == GQL_DEF_FRAGMENT && m->nfrags < GQL_DEFINITION_MAX)
            m->frags[m->nfrags++] = d;
    for (const struct gql_definition *d = doc->definitions; d && !m->over; d = d->next) {
        if (d->kind == GQL_DEF_TYPE_SYSTEM)
            continue;
        const struct gql_type_def *t = d->kind == GQL_DEF_FRAGMENT
                                           ? gql_schema_type(d->type_condition)
                                       : d->operation == GQL_OP_QUERY ? gql_schema_query_type()
                                                                      : NULL;
        const struct gql_type_def *parents[] = {t && gql_kind_is_composite(t->kind) ? t : NULL};
        const struct gql_selection *sets[] = {d->selections};
        check_sets(m, &(struct sets){sets, parents, 1}, 0);
    }
    free(m);
    return errs->count == before;
}
