/*
 * exec.c -- the execution core (see exec.h).
 */
#include "nexus/graphql/exec.h"

#include "nexus/core/err.h"
#include "nexus/core/jsonw.h"
#include "nexus/core/xmem.h"
#include "nexus/graphql/coerce.h"
#include "nexus/graphql/introspect.h"
#include "nexus/graphql/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A response path, linked from the leaf up: a key, or an index when key is
 * NULL. */
struct gql_path {
    const struct gql_path *prev;
    const char *key;
    size_t index;
};

/* The selections of one response key, in document order (CollectFields'
 * grouped field set). */
struct field_group {
    const char *key;
    size_t key_len;
    const struct gql_type_def *parent; /* the object type the fields are of */
    const struct gql_field_def *def;   /* the field's definition (NULL: none) */
    const struct gql_resolver *res;    /* its resolver, or NULL */
    const struct gql_type_def *named;  /* the named type of its field's type, or NULL */
    /* The member of the parent that holds the field's value when no
     * resolve function gives it: the field's name, or, for an alias of a
     * field with a batch function, a name of the alias's own (see
     * member_of). */
    const char *member;
    char *member_owned;   /* member when it is not the field's name */
    struct subfields *sf; /* subfields_of's answer, once it is known */
    json_t *args;         /* its arguments, coerced once; NULL when that failed */
    const struct gql_selection **fields;
    size_t count, cap;
};

struct field_set {
    struct field_group *groups;
    size_t count, cap;
};

/* A batch function that failed: the field of each of its items fails
 * with its error, at the item's own path, when the item resolves it. */
struct batch_fault {
    const struct gql_selection *sel;
    json_t *items; /* held */
    const char *code;
    char *message; /* owned */
};

/* The field set of a group's sub-selections for one object type: the
 * same for every object of that type, so collected once per request. */
struct subfields {
    const struct gql_type_def *type;
    const struct field_group *group;
    struct field_set set;
    struct gql_subfield *flat; /* the set as writers see it, made on first use */
};

/* A type reference's named type, remembered: type references are text,
 * and each value completed reads its field's. The executor reads only the
 * schema's references (static text, never freed), so what a thread found
 * holds for every request it runs. */
struct tref_memo {
    const char *s;
    size_t len;
    const struct gql_type_def *named;
};
#define TREF_MEMO 64
static _Thread_local struct tref_memo trefs[TREF_MEMO]; /* direct-mapped by address */

/* A field definition's resolver, remembered per thread for the table it
 * came from: resolver tables (exec.h) and field definitions are static,
 * and a request collects the fields of every selection set anew. */
struct resolver_memo {
    const struct gql_resolver *table;
    size_t table_count;
    const struct gql_field_def *def;
    const struct gql_resolver *res;
};
#define RESOLVER_MEMO 128
static _Thread_local struct resolver_memo resolver_memo[RESOLVER_MEMO];

/* Values by address, each held (so that no other value takes its address
 * while the request runs): open addressing, at most half full. */
struct held_set {
    json_t **slots;
    size_t cap, count;
};

/* What collecting a request's fields makes: the operation's field set
 * and each group's sub-field sets (subfields_of), with the groups'
 * resolvers and coerced arguments. It depends on the document, the
 * operation, the variables and the resolver table only, so for an
 * operation without variables it is kept with the document (see parse.h:
 * a list of these, one per operation and table) and serves every request
 * that runs it; otherwise it is the request's own. */
struct gql_exec_memo {
    const struct gql_definition *op;
    const struct gql_resolver *resolvers;
    size_t resolver_count;
    bool collected;               /* set holds the operation's fields */
    json_t *no_args;              /* the arguments of every field without any */
    struct field_set set;         /* the operation's */
    struct subfields **subfields; /* collected so far, each set once */
    size_t subfield_count, subfield_cap;
    struct gql_exec_memo *next;
};

struct run {
    const struct gql_exec *exec;
    struct gql_exec_memo *plan;
    struct gql_errors *errs;
    struct buf *out;         /* the answer, written as it completes */
    size_t values;           /* fields and list items completed so far */
    bool stopped;            /* the bound on values reached: no data at all */
    struct held_set batched; /* the objects and lists batched with their level */
    struct batch_fault *faults;
    size_t fault_count, fault_cap;
};

/* One more field or list item; false (with the one error) past the bound. */
static bool count_value(struct run *r, const struct gql_selection *sel) {
    if (r->stopped)
        return false;
    size_t max = r->exec->values_max ? r->exec->values_max : GQL_EXEC_VALUES_MAX;
    if (++r->values <= max)
        return true;
    r->stopped = true;
    gql_error_add(r->errs, GQL_CODE_LIMIT, &sel->loc,
                  "The response would have more than %zu values.", max);
    return false;
}

/* ---- type references ------------------------------------------------------- */

/* gql_tref_named, gql_tref_kind and gql_tref_of with the names looked up
 * once per request. */
static const struct gql_type_def *tnamed(struct gql_tref t) {
    struct tref_memo *m = &trefs[(((uintptr_t)t.s >> 2) ^ t.len) % TREF_MEMO];
    if (m->s != t.s || m->len != t.len)
        *m = (struct tref_memo){t.s, t.len, gql_tref_named(t)};
    return m->named;
}

static enum gql_kind tkind(struct gql_tref t) {
    if (t.len > 0 && t.s[t.len - 1] == '!')
        return GQL_KIND_NON_NULL;
    if (t.len > 0 && t.s[0] == '[')
        return GQL_KIND_LIST;
    const struct gql_type_def *named = tnamed(t);
    return named ? named->kind : GQL_KIND_SCALAR;
}

static struct gql_tref tof(struct gql_tref t) {
    if (t.len > 0 && t.s[t.len - 1] == '!')
        return (struct gql_tref){t.s, t.len - 1};
    if (t.len >= 2 && t.s[0] == '[')
        return (struct gql_tref){t.s + 1, t.len - 2};
    return t;
}

/* ---- errors ---------------------------------------------------------------- */

static json_t *path_json(const struct gql_path *p) {
    json_t *a = p->prev ? path_json(p->prev) : json_array();
    json_array_append_new(a, p->key ? json_string(p->key) : json_integer((json_int_t)p->index));
    return a;
}

__attribute__((format(printf, 5, 6))) static void field_error(struct run *r, const char *code,
                                                              const struct gql_selection *sel,
                                                              const struct gql_path *path,
                                                              const char *fmt, ...) {
    struct buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    gql_error_add(r->errs, code, &sel->loc, "%s", b.data);
    buf_clear(&b);
    json_t *a = path_json(path);
    char *text = json_dumps(a, JSON_COMPACT);
    gql_error_set_path(r->errs, text);
    free(text);
    json_decref(a);
}

/* ---- CollectFields ------------------------------------------------------------ */

static const struct gql_resolver *find_resolver(const struct run *r, const char *type,
                                                const struct gql_field_def *def, const char *field);

/* The arguments of a group's field (its first selection's: merged fields
 * have equal ones), coerced once for every object: they depend only on the
 * document and the variables. NULL when they fail (a variable's null for
 * a non-null argument): each resolution then coerces and reports it. */
static json_t *coerce_args(const struct run *r, const struct gql_field_def *def,
                           const struct gql_selection *field) {
    if (!def)
        return NULL;
    if (def->arg_count == 0 && !field->args) /* validated: no arguments given */
        return json_incref(r->plan->no_args);
    struct gql_errors ignored = {0};
    json_t *args = gql_coerce_arguments(def->args, def->arg_count, field->args, r->exec->variables,
                                        &field->loc, &ignored);
    gql_errors_clear(&ignored);
    return args;
}

/* Where a batch function stores the field of each parent, and where the
 * default resolver reads it: per response key, not per field name, so
 * that `a: products(first: 2)` and `b: products(first: 5)` of one parent
 * are two members ("@a", "@b": never a field's name, which has no "@",
 * nor a hidden member of a resolver). An alias of a field without a
 * batch function reads the field's own member (a row's column). */
static void member_of(struct field_group *g, const char *name) {
    g->member = g->def ? g->def->name : name;
    if (!g->res || !g->res->batch || strcmp(g->key, g->member) == 0)
        return;
    size_t n = strlen(g->key);
    g->member_owned = xmalloc(n + 2);
    g->member_owned[0] = '@';
    memcpy(g->member_owned + 1, g->key, n + 1);
    g->member = g->member_owned;
}

static void group_add(const struct run *r, struct field_set *set, const struct gql_type_def *parent,
                      const struct gql_selection *field) {
    const char *key = gql_response_name(field);
    struct field_group *g = NULL;
    for (size_t i = 0; i < set->count && !g; i++)
        if (strcmp(set->groups[i].key, key) == 0)
            g = &set->groups[i];
    if (!g) {
        if (set->count == set->cap) {
            set->cap = set->cap ? set->cap * 2 : 8;
            set->groups = xrealloc(set->groups, set->cap * sizeof *set->groups);
        }
        g = &set->groups[set->count++];
        memset(g, 0, sizeof *g);
        g->key = key;
        g->key_len = strlen(key);
        g->parent = parent;
        g->def = gql_schema_field(parent, field->name);
        g->res = find_resolver(r, parent->name, g->def, field->name);
        g->named = g->def ? tnamed(gql_tref(g->def->type)) : NULL;
        g->args = coerce_args(r, g->def, field);
        member_of(g, field->name);
    }
    if (g->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 2;
        g->fields = xrealloc(g->fields, g->cap * sizeof *g->fields);
    }
    g->fields[g->count++] = field;
}

static void field_set_free(struct field_set *set) {
    for (size_t i = 0; i < set->count; i++) {
        free(set->groups[i].fields);
        free(set->groups[i].member_owned);
        json_decref(set->groups[i].args);
    }
    free(set->groups);
    memset(set, 0, sizeof *set);
}

/* The `if` of @skip or @include: a literal, or a variable (validated as
 * Boolean!, or Boolean with a default: a null or absent one is false). */
static bool directive_if(const struct gql_directive *d, const json_t *vars) {
    for (const struct gql_argument *a = d->args; a; a = a->next) {
        if (strcmp(a->name, "if") != 0)
            continue;
        if (a->value->kind == GQL_VALUE_BOOLEAN)
            return a->value->boolean;
        if (a->value->kind == GQL_VALUE_VARIABLE)
            return json_is_true(json_object_get(vars, a->value->text));
    }
    return false;
}

static bool included(const struct gql_directive *ds, const json_t *vars) {
    for (const struct gql_directive *d = ds; d; d = d->next) {
        if (strcmp(d->name, "skip") == 0 && directive_if(d, vars))
            return false;
        if (strcmp(d->name, "include") == 0 && !directive_if(d, vars))
            return false;
    }
    return true;
}

struct visited {
    const char *names[GQL_DEFINITION_MAX];
    size_t count;
};

static bool visit(struct visited *v, const char *name) {
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->names[i], name) == 0)
            return false;
    if (v->count < GQL_DEFINITION_MAX)
        v->names[v->count++] = name;
    return true;
}

/* The schema has no interfaces or unions: a condition applies to the
 * object type it names. */
static bool applies(const char *condition, const struct gql_type_def *type) {
    return !condition || strcmp(condition, type->name) == 0;
}

static void collect(const struct run *r, const struct gql_type_def *type,
                    const struct gql_selection *sels, struct visited *visited,
                    struct field_set *out) {
    const json_t *vars = r->exec->variables;
    for (const struct gql_selection *s = sels; s; s = s->next) {
        if (!included(s->directives, vars))
            continue;
        if (s->kind == GQL_SEL_FIELD) {
            group_add(r, out, type, s);
        } else if (s->kind == GQL_SEL_INLINE) {
            if (applies(s->type_condition, type))
                collect(r, type, s->selections, visited, out);
        } else if (visit(visited, s->name)) {
            const struct gql_definition *f = gql_fragment(r->exec->doc, s->name);
            if (f && applies(f->type_condition, type))
                collect(r, type, f->selections, visited, out);
        }
    }
}

/* CollectSubfields: the fields of every selection of a group, merged. */
static void collect_subfields(const struct run *r, const struct gql_type_def *type,
                              const struct field_group *g, struct field_set *out) {
    for (size_t i = 0; i < g->count; i++) {
        struct visited visited = {.count = 0};
        collect(r, type, g->fields[i]->selections, &visited, out);
    }
}

/* The sub-fields of g for objects of type: collected on first use, then
 * the same set (the variables do not change during a request). Groups are
 * stable in memory once collected, so they key the sets below them. */
static struct subfields *subfields_of(struct run *r, const struct gql_type_def *type,
                                      const struct field_group *g) {
    struct gql_exec_memo *p = r->plan;
    if (g->sf && g->sf->type == type)
        return g->sf;
    for (size_t i = 0; i < p->subfield_count; i++)
        if (p->subfields[i]->type == type && p->subfields[i]->group == g)
            return p->subfields[i];
    if (p->subfield_count == p->subfield_cap) {
        p->subfield_cap = p->subfield_cap ? 2 * p->subfield_cap : 16;
        p->subfields = xrealloc(p->subfields, p->subfield_cap * sizeof *p->subfields);
    }
    struct subfields *sf = xcalloc(1, sizeof *sf);
    sf->type = type;
    sf->group = g;
    collect_subfields(r, type, g, &sf->set);
    p->subfields[p->subfield_count++] = sf;
    ((struct field_group *)(uintptr_t)g)->sf = sf; /* a memo: the group is otherwise as it was */
    return sf;
}

static const struct field_set *subfields(struct run *r, const struct gql_type_def *type,
                                         const struct field_group *g) {
    return &subfields_of(r, type, g)->set;
}

/* The sub-fields of g for objects of type, as a gql_write_fn sees them. */
static const struct gql_subfield *flat_subfields(struct run *r, const struct gql_type_def *type,
                                                 const struct field_group *g, size_t *n) {
    struct subfields *sf = subfields_of(r, type, g);
    if (!sf->flat) {
        sf->flat = xcalloc(sf->set.count + 1, sizeof *sf->flat);
        for (size_t i = 0; i < sf->set.count; i++)
            sf->flat[i] = (struct gql_subfield){sf->set.groups[i].key, sf->set.groups[i].def};
    }
    *n = sf->set.count;
    return sf->flat;
}

static void plan_clear(struct gql_exec_memo *p) {
    for (size_t i = 0; i < p->subfield_count; i++) {
        field_set_free(&p->subfields[i]->set);
        free(p->subfields[i]->flat);
        free(p->subfields[i]);
    }
    free(p->subfields);
    field_set_free(&p->set);
    json_decref(p->no_args);
}

static void plans_free(struct gql_exec_memo *p) {
    while (p) {
        struct gql_exec_memo *next = p->next;
        plan_clear(p);
        free(p);
        p = next;
    }
}

/* The plan kept with the document for the operation (without variables)
 * and the resolver table: found, or new (and not collected yet). */
static struct gql_exec_memo *plan_kept(const struct gql_exec *exec) {
    struct gql_document *doc = (struct gql_document *)(uintptr_t)exec->doc; /* a memo only */
    for (struct gql_exec_memo *p = doc->exec_memo; p; p = p->next)
        if (p->op == exec->operation && p->resolvers == exec->resolvers &&
            p->resolver_count == exec->resolver_count)
            return p;
    struct gql_exec_memo *p = xcalloc(1, sizeof *p);
    *p = (struct gql_exec_memo){.op = exec->operation,
                                .resolvers = exec->resolvers,
                                .resolver_count = exec->resolver_count,
                                .no_args = json_object(),
                                .next = doc->exec_memo};
    doc->exec_memo = p;
    doc->exec_memo_free = plans_free;
    return p;
}

/* ---- resolvers ------------------------------------------------------------------- */

static const struct gql_resolver *find_in(const struct gql_resolver *t, size_t n, const char *type,
                                          const char *field) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].type, type) == 0 && strcmp(t[i].field, field) == 0)
            return &t[i];
    return NULL;
}

static const struct gql_resolver *find_resolver_in_tables(const struct run *r, const char *type,
                                                          const char *field) {
    const struct gql_resolver *found =
        find_in(r->exec->resolvers, r->exec->resolver_count, type, field);
    size_t n;
    const struct gql_resolver *intro = gql_introspection_resolvers(&n);
    return found ? found : find_in(intro, n, type, field);
}

/* The resolver of the field def (named field) of type: remembered by def,
 * since a type's definitions are an array of consecutive slots. */
static const struct gql_resolver *find_resolver(const struct run *r, const char *type,
                                                const struct gql_field_def *def,
                                                const char *field) {
    if (!def)
        return find_resolver_in_tables(r, type, field);
    struct resolver_memo *m = &resolver_memo[((uintptr_t)def / sizeof *def) % RESOLVER_MEMO];
    if (m->def != def || m->table != r->exec->resolvers ||
        m->table_count != r->exec->resolver_count)
        *m = (struct resolver_memo){r->exec->resolvers, r->exec->resolver_count, def,
                                    find_resolver_in_tables(r, type, field)};
    return m->res;
}

/* ---- completion ------------------------------------------------------------------ */

/*
 * Values are written to run.out as they complete, as json_dumps would
 * write the tree (no tree is built). A completion answers false when an
 * error made it null where null is not allowed: what it wrote is then
 * rewound by the nearest nullable position above, which writes null.
 */
static bool complete(struct run *r, struct gql_tref type, const struct field_group *g,
                     json_t *value, const struct gql_path *path);
static bool execute_set(struct run *r, const struct gql_type_def *type, const struct field_set *set,
                        json_t *source, const struct gql_path *path);

/* What complete_nullable wrote. */
enum written { WROTE_VALUE, WROTE_NULL, WROTE_FAILED };

/* Inlined, so that the length of a literal is known when compiled; in
 * place when the buffer has room, as it mostly has. */
static inline void put(struct run *r, const char *text) {
    size_t n = strlen(text);
    struct buf *out = r->out;
    if (out->cap - out->len <= n) {
        buf_append(out, text, n);
        return;
    }
    memcpy(out->data + out->len, text, n + 1); /* with the terminator */
    out->len += n;
}

/* The key of n bytes and its colon. */
static void put_keyn(struct buf *out, const char *key, size_t n) {
    if (out->cap - out->len <= n + 3)
        buf_reserve(out, n + 3);
    char *p = out->data + out->len;
    p[0] = '"';
    memcpy(p + 1, key, n);
    memcpy(p + 1 + n, "\":", 3); /* with the terminator */
    out->len += n + 3;
}

void gql_put_key(struct buf *out, const char *key) {
    put_keyn(out, key, strlen(key));
}

static const char *group_field_name(const struct field_group *g) {
    return g->fields[0]->name;
}

static enum written complete_leaf(struct run *r, const struct gql_type_def *t,
                                  const struct field_group *g, json_t *v,
                                  const struct gql_path *path) {
    const char *n = t->name;
    json_t *out = NULL;
    if (t->kind == GQL_KIND_ENUM)
        out = json_is_string(v) && gql_schema_enum_value(t, json_string_value(v)) ? json_incref(v)
                                                                                  : NULL;
    else if (strcmp(n, "Int") == 0)
        out = json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                      json_integer_value(v) <= INT32_MAX
                  ? json_incref(v)
                  : NULL;
    else if (strcmp(n, "Float") == 0)
        out = json_is_number(v) ? json_real(json_number_value(v)) : NULL;
    else if (strcmp(n, "String") == 0)
        out = json_is_string(v) ? json_incref(v) : NULL;
    else if (strcmp(n, "Boolean") == 0)
        out = json_is_boolean(v) ? json_incref(v) : NULL;
    else if (json_is_integer(v)) /* ID */
        out = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        out = json_is_string(v) ? json_incref(v) : NULL;
    if (!out) {
        char *shown = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        const char *text = shown ? shown : "?";
        field_error(r, GQL_CODE_FIELD, g->fields[0], path, "%s cannot represent value: %.*s", n,
                    (int)utf8_prefix(text, strlen(text), 80), text);
        free(shown);
        return WROTE_FAILED;
    }
    jsonw_put_value(r->out, out);
    json_decref(out);
    return WROTE_VALUE;
}

static void batch_level(struct run *r, const struct gql_type_def *t, const struct field_group *g,
                        json_t *items, const struct gql_path *path);

static void batch_call(struct run *r, const struct gql_type_def *t, const struct gql_field_def *def,
                       const struct gql_resolver *res, const struct field_group *g, json_t *items) {
    const json_t *args = g->args;
    if (!args) /* each item's resolution reports it */
        return;
    struct gql_field_call call = {.ctx = r->exec->ctx,
                                  .parent_type = t,
                                  .field = def,
                                  .selection = g->fields[0],
                                  .selections = g->fields,
                                  .selection_count = g->count,
                                  .args = args,
                                  .variables = r->exec->variables,
                                  .member = g->member,
                                  .sources = items};
    res->batch(&call);
    if (call.error) { /* each item's field fails with it as it resolves */
        if (r->fault_count == r->fault_cap) {
            r->fault_cap = r->fault_cap ? 2 * r->fault_cap : 4;
            r->faults = xrealloc(r->faults, r->fault_cap * sizeof *r->faults);
        }
        r->faults[r->fault_count++] = (struct batch_fault){.sel = g->fields[0],
                                                           .items = json_incref(items),
                                                           .code = call.code,
                                                           .message = call.error};
    } else {
        free(call.error);
    }
}

/* The failed batch that source's field sel belongs to, or NULL. */
static const struct batch_fault *
batch_fault_of(const struct run *r, const struct gql_selection *sel, const json_t *source) {
    for (size_t i = 0; i < r->fault_count; i++) {
        if (r->faults[i].sel != sel)
            continue;
        for (size_t k = 0; k < json_array_size(r->faults[i].items); k++)
            if (json_array_get(r->faults[i].items, k) == source)
                return &r->faults[i];
    }
    return NULL;
}

static size_t held_slot(const struct held_set *h, const json_t *v) {
    size_t i = (size_t)(((uintptr_t)v >> 4) * 0x9e3779b97f4a7c15u) & (h->cap - 1);
    while (h->slots[i] && h->slots[i] != v)
        i = (i + 1) & (h->cap - 1);
    return i;
}

static bool held_has(const struct held_set *h, const json_t *v) {
    return h->cap && h->slots[held_slot(h, v)] == v;
}

static void held_add(struct held_set *h, json_t *v) {
    if (2 * (h->count + 1) > h->cap) {
        struct held_set grown = {xcalloc(h->cap ? 2 * h->cap : 64, sizeof *h->slots),
                                 h->cap ? 2 * h->cap : 64, h->count};
        for (size_t i = 0; i < h->cap; i++)
            if (h->slots[i])
                grown.slots[held_slot(&grown, h->slots[i])] = h->slots[i];
        free(h->slots);
        *h = grown;
    }
    size_t i = held_slot(h, v);
    if (!h->slots[i]) {
        h->slots[i] = json_incref(v);
        h->count++;
    }
}

static void held_clear(struct held_set *h) {
    for (size_t i = 0; i < h->cap; i++)
        json_decref(h->slots[i]);
    free(h->slots);
}

/* Gather what the items hold in the field's member: an object, or the
 * objects of a list (then marked, so that its own completion does not
 * batch it again). */
static void gather(struct run *r, const char *name, bool list, json_t *items, json_t *children) {
    size_t i, k;
    json_t *item, *child;
    json_array_foreach(items, i, item) {
        json_t *member = json_object_get(item, name);
        if (!list && json_is_object(member))
            json_array_append(children, member);
        if (!list || !json_is_array(member))
            continue;
        held_add(&r->batched, member);
        json_array_foreach(member, k, child) {
            if (json_is_object(child))
                json_array_append(children, child);
        }
    }
}

/* The objects that a field without a resolve function holds in the items,
 * alone (edges' nodes) or in lists (children prepared by a batch
 * function): the next level, batched all together. */
static void batch_members(struct run *r, const struct gql_field_def *def,
                          const struct field_group *g, json_t *items, const struct gql_path *path) {
    struct gql_tref type = gql_tref(def->type);
    if (tkind(type) == GQL_KIND_NON_NULL)
        type = tof(type);
    bool list = tkind(type) == GQL_KIND_LIST;
    if (list) {
        type = tof(type);
        if (tkind(type) == GQL_KIND_NON_NULL)
            type = tof(type);
    }
    const struct gql_type_def *named = tnamed(type);
    if (tkind(type) == GQL_KIND_LIST || !named || named->kind != GQL_KIND_OBJECT)
        return;
    json_t *children = json_array();
    gather(r, g->member, list, items, children);
    if (json_array_size(children) > 0)
        batch_level(r, named, g, children, path);
    json_decref(children);
}

/* Before the items of a list of objects complete: the batch functions of
 * their fields, once for the list, then those of the objects the items hold
 * in member fields, level with them. */
static void batch_level(struct run *r, const struct gql_type_def *t, const struct field_group *g,
                        json_t *items, const struct gql_path *path) {
    size_t k;
    json_t *item;
    json_array_foreach(items, k, item) held_add(&r->batched, item);
    const struct field_set *set = subfields(r, t, g);
    for (size_t i = 0; i < set->count; i++) {
        const struct field_group *sub = &set->groups[i];
        const struct gql_resolver *res = sub->res;
        const struct gql_field_def *def = sub->def;
        if (!def || strcmp(def->name, "__typename") == 0)
            continue;
        if (res && res->batch)
            batch_call(r, t, def, res, sub, items);
        if (!res || !res->resolve)
            batch_members(r, def, sub, items, path);
    }
}

static enum written complete_list(struct run *r, struct gql_tref type, const struct field_group *g,
                                  json_t *v, const struct gql_path *path) {
    if (!json_is_array(v)) {
        field_error(r, GQL_CODE_FIELD, g->fields[0], path, "Expected a list for field \"%s\".",
                    group_field_name(g));
        return WROTE_FAILED;
    }
    struct gql_tref item = tof(type);
    const struct gql_type_def *named = tnamed(item);
    if (named && named->kind == GQL_KIND_OBJECT && json_array_size(v) > 0 &&
        !held_has(&r->batched, v))
        batch_level(r, named, g, v, path);
    size_t i;
    json_t *x;
    put(r, "[");
    json_array_foreach(v, i, x) {
        struct gql_path p = {.prev = path, .index = i};
        if (i)
            put(r, ",");
        if (!count_value(r, g->fields[0]) || !complete(r, item, g, json_incref(x), &p))
            return WROTE_FAILED;
    }
    put(r, "]");
    return WROTE_VALUE;
}

/* An object that no list brought (a root field's, a parent's): a level of
 * its own, so that its fields' batch functions prepare it too. */
static void batch_alone(struct run *r, const struct gql_type_def *t, const struct field_group *g,
                        json_t *v, const struct gql_path *path) {
    if (t->kind != GQL_KIND_OBJECT || !json_is_object(v) || held_has(&r->batched, v))
        return;
    json_t *one = json_array();
    json_array_append(one, v);
    batch_level(r, t, g, one, path);
    json_decref(one);
}

static enum written complete_nullable(struct run *r, struct gql_tref type,
                                      const struct field_group *g, json_t *v,
                                      const struct gql_path *path) {
    if (!v || json_is_null(v)) {
        put(r, "null");
        return WROTE_NULL;
    }
    if (tkind(type) == GQL_KIND_LIST)
        return complete_list(r, type, g, v, path);
    const struct gql_type_def *t = tnamed(type);
    if (gql_kind_is_leaf(t->kind))
        return complete_leaf(r, t, g, v, path);
    batch_alone(r, t, g, v, path);
    return execute_set(r, t, subfields(r, t, g), v, path) ? WROTE_VALUE : WROTE_FAILED;
}

/* Takes value's reference. */
static bool complete(struct run *r, struct gql_tref type, const struct field_group *g,
                     json_t *value, const struct gql_path *path) {
    size_t mark = r->out->len;
    bool ok;
    if (tkind(type) == GQL_KIND_NON_NULL) {
        enum written w = complete_nullable(r, tof(type), g, value, path);
        if (w == WROTE_NULL)
            field_error(r, GQL_CODE_FIELD, g->fields[0], path,
                        "Cannot return null for non-nullable field %s.%s.", g->parent->name,
                        group_field_name(g));
        ok = w == WROTE_VALUE;
    } else {
        ok = complete_nullable(r, type, g, value, path) != WROTE_FAILED;
        if (!ok && !r->stopped) { /* an error below stops here */
            r->out->len = mark;
            put(r, "null");
            ok = true;
        }
    }
    json_decref(value);
    return ok;
}

/* ---- fields ------------------------------------------------------------------------ */

/* The field's resolved value (new), or NULL after an error. */
static json_t *resolve(struct run *r, const struct gql_type_def *type,
                       const struct gql_field_def *def, const struct field_group *g, json_t *source,
                       const struct gql_path *path, bool *failed) {
    const struct gql_selection *sel = g->fields[0];
    if (strcmp(def->name, "__typename") == 0)
        return json_string(type->name);
    json_t *args = g->args ? json_incref(g->args)
                           : gql_coerce_arguments(def->args, def->arg_count, sel->args,
                                                  r->exec->variables, &sel->loc, r->errs);
    if (!args) { /* the error has no path yet */
        json_t *a = path_json(path);
        char *text = json_dumps(a, JSON_COMPACT);
        gql_error_set_path(r->errs, text);
        free(text), json_decref(a);
        *failed = true;
        return NULL;
    }
    const struct gql_resolver *res = g->res;
    const struct batch_fault *fault = batch_fault_of(r, sel, source);
    json_t *value = NULL;
    if (fault) {
        field_error(r, fault->code, sel, path, "%s", fault->message);
        *failed = true;
    } else if (res && res->resolve) {
        struct gql_field_call call = {.ctx = r->exec->ctx,
                                      .parent_type = type,
                                      .field = def,
                                      .selection = sel,
                                      .selections = g->fields,
                                      .selection_count = g->count,
                                      .args = args,
                                      .variables = r->exec->variables,
                                      .source = source};
        value = res->resolve(&call);
        if (call.error) {
            field_error(r, call.code, sel, path, "%s", call.error);
            json_decref(value), value = NULL;
            *failed = true;
        }
        free(call.error);
    } else if (json_is_object(source)) {
        value = json_incref(json_object_get(source, g->member));
    }
    json_decref(args);
    return value;
}

/* The field written by its resolver's write function (see resolve.h):
 * false when there is none, it declines, a batch of the field failed
 * for this source, or what it wrote would pass the bound on values (the
 * usual completion then reports each where it falls). */
static bool written(struct run *r, const struct gql_type_def *type, const struct field_group *g,
                    json_t *source) {
    const struct gql_resolver *res = g->res;
    if (!res || !res->write || !g->args || (res->batch && batch_fault_of(r, g->fields[0], source)))
        return false;
    struct gql_write_call call = {.ctx = r->exec->ctx,
                                  .parent_type = type,
                                  .field = g->def,
                                  .member = g->member,
                                  .source = source,
                                  .out = r->out};
    if (g->named && g->named->kind == GQL_KIND_OBJECT)
        call.subfields = flat_subfields(r, g->named, g, &call.subfield_count);
    size_t mark = r->out->len;
    size_t max = r->exec->values_max ? r->exec->values_max : GQL_EXEC_VALUES_MAX;
    if (!res->write(&call) || r->values + call.values > max) {
        r->out->len = mark;
        return false;
    }
    r->values += call.values;
    return true;
}

static bool execute_set(struct run *r, const struct gql_type_def *type, const struct field_set *set,
                        json_t *source, const struct gql_path *path) {
    bool first = true;
    put(r, "{");
    for (size_t i = 0; i < set->count; i++) {
        const struct field_group *g = &set->groups[i];
        const struct gql_field_def *def = g->def;
        if (!count_value(r, g->fields[0]))
            return false;
        if (!def) /* validated: cannot happen */
            continue;
        if (!first)
            put(r, ",");
        first = false;
        put_keyn(r->out, g->key, g->key_len);
        if (written(r, type, g, source))
            continue;
        struct gql_path p = {.prev = path, .key = g->key};
        bool failed = false;
        json_t *value = resolve(r, type, def, g, source, &p, &failed);
        struct gql_tref t = gql_tref(def->type);
        if (failed && tkind(t) == GQL_KIND_NON_NULL) /* the error climbs */
            return false;
        if (failed) /* null where the type allows it */
            put(r, "null");
        else if (!complete(r, t, g, value, &p))
            return false;
    }
    put(r, "}");
    return true;
}

void gql_execute_text(const struct gql_exec *exec, struct gql_errors *errs, struct buf *out) {
    size_t start = out->len;
    struct gql_exec_memo own = {.no_args = NULL};
    struct gql_exec_memo *plan = exec->operation->variables ? &own : plan_kept(exec);
    if (plan == &own)
        own.no_args = json_object();
    struct run r = {.exec = exec, .plan = plan, .errs = errs, .out = out};
    const struct gql_type_def *query = gql_schema_query_type();
    if (!plan->collected) {
        struct visited visited = {.count = 0};
        collect(&r, query, exec->operation->selections, &visited, &plan->set);
        plan->collected = true;
    }
    json_t *root = exec->root ? json_incref(exec->root) : json_object();
    bool ok = execute_set(&r, query, &plan->set, root, NULL);
    json_decref(root);
    held_clear(&r.batched);
    if (plan == &own)
        plan_clear(&own);
    for (size_t i = 0; i < r.fault_count; i++)
        json_decref(r.faults[i].items), free(r.faults[i].message);
    free(r.faults);
    if (!ok || r.stopped) { /* a partial answer would be arbitrary */
        out->len = start;
        buf_puts(out, "null");
    }
}

json_t *gql_execute(const struct gql_exec *exec, struct gql_errors *errs) {
    struct buf text = {0};
    gql_execute_text(exec, errs, &text);
    json_t *data = json_loadb(text.data, text.len, JSON_DECODE_ANY, NULL);
    buf_clear(&text);
    NX_ASSERT(data); /* written as JSON */
    return data;
}
