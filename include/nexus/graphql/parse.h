/*
 * parse.h -- the executable-document grammar of GraphQL (October 2021,
 * section 2) by recursive descent, into an AST kept in one arena.
 *
 * gql_parse reads operations (query, mutation and subscription: all are
 * parsed; validation refuses what the schema cannot run), variable
 * definitions with their types, defaults and directives, selection sets,
 * fields with aliases and arguments, fragment spreads, inline fragments,
 * fragment definitions, and every value (variables, Int, Float, String,
 * Boolean, null, enum values, lists, objects).
 *
 * A type-system definition or extension (`type`, `schema`, `scalar`,
 * `interface`, `union`, `enum`, `input`, `directive`, `extend`, or one of
 * those after a description string) is not parsed into the AST: it is
 * kept as a GQL_DEF_TYPE_SYSTEM definition with its location, its tokens
 * skipped up to its closing brace or the next definition keyword, so the
 * validator reports it ("Executable Definitions").
 *
 * Bounds: those of the lexer (GQL_DOCUMENT_MAX bytes, GQL_TOKEN_MAX tokens),
 * GQL_NESTING_MAX nested selection sets, lists, objects and list types
 * together (checked as the parser descends, so hostile input cannot
 * exhaust the stack), and GQL_DEFINITION_MAX definitions. The first error
 * stops parsing: gql_parse then returns NULL with one error in errs.
 *
 * Names and decoded strings are NUL-terminated in the arena. Lists of
 * siblings are singly linked through `next`, in document order.
 */
#ifndef NEXUS_GRAPHQL_PARSE_H
#define NEXUS_GRAPHQL_PARSE_H

#include "nexus/graphql/arena.h"
#include "nexus/graphql/error.h"

#include <stdbool.h>
#include <stddef.h>

#define GQL_NESTING_MAX    64
#define GQL_DEFINITION_MAX 100

enum gql_value_kind {
    GQL_VALUE_VARIABLE, /* text: the name, without "$" */
    GQL_VALUE_INT,      /* text: the literal as written ("-0", "42") */
    GQL_VALUE_FLOAT,    /* text: the literal as written ("1.5e3") */
    GQL_VALUE_STRING,   /* text, len: the decoded value (block strings too) */
    GQL_VALUE_BOOLEAN,  /* boolean */
    GQL_VALUE_NULL,
    GQL_VALUE_ENUM,   /* text: the name */
    GQL_VALUE_LIST,   /* items */
    GQL_VALUE_OBJECT, /* fields */
};

struct gql_object_field;

struct gql_value {
    enum gql_value_kind kind;
    struct gql_loc loc;
    const char *text;
    size_t len;
    bool boolean;
    struct gql_value *items;         /* GQL_VALUE_LIST, linked by next */
    struct gql_object_field *fields; /* GQL_VALUE_OBJECT */
    struct gql_value *next;          /* the next item of the enclosing list */
};

struct gql_object_field {
    const char *name;
    struct gql_loc loc;
    struct gql_value *value;
    struct gql_object_field *next;
};

struct gql_argument {
    const char *name;
    struct gql_loc loc;
    struct gql_value *value;
    struct gql_argument *next;
};

struct gql_directive {
    const char *name; /* without "@" */
    struct gql_loc loc;
    struct gql_argument *args;
    struct gql_directive *next;
};

enum gql_type_kind { GQL_TYPE_NAMED, GQL_TYPE_LIST, GQL_TYPE_NON_NULL };

/* A variable's type: [Int!]! is NON_NULL(LIST(NON_NULL(NAMED Int))). */
struct gql_type_ref {
    enum gql_type_kind kind;
    struct gql_loc loc;
    const char *name;              /* GQL_TYPE_NAMED */
    const struct gql_type_ref *of; /* GQL_TYPE_LIST, GQL_TYPE_NON_NULL */
};

enum gql_selection_kind { GQL_SEL_FIELD, GQL_SEL_SPREAD, GQL_SEL_INLINE };

struct gql_selection {
    enum gql_selection_kind kind;
    struct gql_loc loc;
    const char *alias;            /* GQL_SEL_FIELD: NULL without one */
    const char *name;             /* the field's name, or the spread fragment's */
    const char *type_condition;   /* GQL_SEL_INLINE: NULL without "on Type" */
    struct gql_loc condition_loc; /* the type condition's name */
    struct gql_argument *args;    /* GQL_SEL_FIELD */
    struct gql_directive *directives;
    struct gql_selection *selections; /* NULL: no selection set (never empty) */
    struct gql_loc selections_loc;    /* its "{" */
    struct gql_loc name_loc;          /* GQL_SEL_SPREAD: the fragment's name */
    struct gql_selection *next;
};

/* The response key of a field: its alias, else its name. */
const char *gql_response_name(const struct gql_selection *field);

struct gql_variable_def {
    const char *name;        /* without "$" */
    struct gql_loc loc;      /* its "$" */
    struct gql_loc name_loc; /* its name */
    const struct gql_type_ref *type;
    struct gql_value *default_value; /* NULL without one */
    struct gql_directive *directives;
    struct gql_variable_def *next;
};

enum gql_definition_kind { GQL_DEF_OPERATION, GQL_DEF_FRAGMENT, GQL_DEF_TYPE_SYSTEM };
enum gql_operation_type { GQL_OP_QUERY, GQL_OP_MUTATION, GQL_OP_SUBSCRIPTION };

struct gql_definition {
    enum gql_definition_kind kind;
    struct gql_loc loc;
    enum gql_operation_type operation; /* GQL_DEF_OPERATION */
    /* The operation's name (NULL when anonymous), the fragment's name, or
     * for a type-system definition the name it defines (its first keyword,
     * "type", ..., when none follows). */
    const char *name;
    struct gql_loc name_loc;            /* where name is: the operation's or fragment's */
    bool schema;                        /* a schema definition or extension: it has no name */
    struct gql_variable_def *variables; /* GQL_DEF_OPERATION */
    const char *type_condition;         /* GQL_DEF_FRAGMENT */
    struct gql_loc condition_loc;       /* the type condition's name */
    struct gql_directive *directives;
    struct gql_selection *selections; /* never NULL for operations and fragments */
    struct gql_definition *next;
};

struct gql_limits_memo;
struct gql_exec_memo;

struct gql_document {
    struct gql_arena arena; /* owns everything below */
    struct gql_definition *definitions;
    /* Memos of later stages, made on first use and kept as long as the
     * document (its owner runs one request with it at a time): the
     * measures of operations without variables (limits.c, in the arena)
     * and the field sets the executor collected for them (exec.c, freed
     * by exec_memo_free). NULL until then. */
    struct gql_limits_memo *limits_memo;
    struct gql_exec_memo *exec_memo;
    void (*exec_memo_free)(struct gql_exec_memo *memo);
};

/* Parse len bytes of src (not necessarily NUL-terminated). NULL and one
 * error in errs when the document is not GraphQL or exceeds a bound; free
 * a document with gql_document_free. */
struct gql_document *gql_parse(const char *src, size_t len, struct gql_errors *errs);
void gql_document_free(struct gql_document *doc);

/* "query", "mutation" or "subscription". */
const char *gql_operation_name(enum gql_operation_type op);

#endif
