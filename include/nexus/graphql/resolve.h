/*
 * resolve.h -- what a resolver of the executor (exec.h) is given and
 * answers: a field to resolve for one source or, batched, for a list of
 * them, and the table that names resolvers by type and field.
 */
#ifndef NEXUS_GRAPHQL_RESOLVE_H
#define NEXUS_GRAPHQL_RESOLVE_H

#include "nexus/core/xmem.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/schema.h"

#include <jansson.h>

/* One field to resolve, for one source (resolve) or a list of them
 * (batch). */
struct gql_field_call {
    void *ctx;                              /* gql_exec.ctx */
    const struct gql_type_def *parent_type; /* the object type of the source */
    const struct gql_field_def *field;
    const struct gql_selection *selection; /* the field's first selection */
    /* All the selections merged into the field (selection is the first). */
    const struct gql_selection *const *selections;
    size_t selection_count;
    const json_t *args;      /* the coerced arguments */
    const json_t *variables; /* the coerced variables */
    /* batch: the member of each source to store the field's value in,
     * where the default resolver reads it: the field's name, or a name
     * of its own for an alias (so aliases of one field with different
     * arguments do not share it). */
    const char *member;
    json_t *source;  /* resolve: the parent's value */
    json_t *sources; /* batch: an array of them */
    /* Set by gql_field_fail. */
    char *error;
    const char *code;
};

/* The field's value, a new reference; NULL for null. After gql_field_fail
 * the value is ignored and the field is an error. */
typedef json_t *(*gql_resolve_fn)(struct gql_field_call *call);
/* Prepare the field of every source of call->sources (see above). */
typedef void (*gql_batch_fn)(struct gql_field_call *call);

/* A selected field of an object written by a gql_write_fn: its response
 * key and its definition (CollectFields' result: fragments, directives and
 * merged selections already applied). */
struct gql_subfield {
    const char *key;
    const struct gql_field_def *def;
};

/* One field to write straight to the answer, for one source. */
struct gql_write_call {
    void *ctx;                              /* gql_exec.ctx */
    const struct gql_type_def *parent_type; /* the object type of the source */
    const struct gql_field_def *field;
    const char *member; /* as gql_field_call's: where a batch stored it */
    json_t *source;
    /* When the field's named type is an object type: the fields selected
     * of it, in response order; else NULL and 0. */
    const struct gql_subfield *subfields;
    size_t subfield_count;
    struct buf *out;
    /* Set by the writer: the fields and list items it wrote below the
     * field (they count towards the executor's bound on values). */
    size_t values;
};

/* A member's name and its colon for a response key: keys are GraphQL
 * names ([_A-Za-z][_0-9A-Za-z]*), which JSON writes without escapes. */
void gql_put_key(struct buf *out, const char *key);

/* Write the field's completed value to call->out (exactly the bytes the
 * executor's completion of the resolved value would write) and answer
 * true; or write nothing and answer false, and the field resolves and
 * completes as usual (a value it cannot write, an error to report). */
typedef bool (*gql_write_fn)(struct gql_write_call *call);

struct gql_resolver {
    const char *type, *field;
    gql_resolve_fn resolve; /* NULL: the source's member */
    gql_batch_fn batch;     /* may be NULL */
    gql_write_fn write;     /* may be NULL; tried before resolve */
};

/* Whether a field called name may be selected anywhere below the call's
 * field (any depth, inline fragments included): false only when it is
 * certainly not, so a fragment spread, whose fragment is not looked at,
 * counts as yes. For work that only a selected field needs. */
bool gql_field_may_select(const struct gql_field_call *call, const char *name);

/* Whether the call's field selects nothing but fields named in names (a
 * NULL-terminated list) right below it, inline fragments included: false
 * when it may select another (a fragment spread, not looked at, may). */
bool gql_field_selects_only(const struct gql_field_call *call, const char *const *names);

/* Fail the field with a message (and code: NULL for GQL_CODE_FIELD). */
void gql_field_fail(struct gql_field_call *call, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
