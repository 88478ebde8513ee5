/*
 * error.h -- GraphQL errors as the specification shapes them: a message,
 * the locations (line and column, from 1) it refers to, and a code for
 * `extensions.code`.
 *
 * Codes (docs/GRAPHQL.md):
 *   GRAPHQL_PARSE_FAILED       the document is not GraphQL (lexer, parser)
 *   GRAPHQL_VALIDATION_FAILED  a rule of the specification's "Validation"
 *                              section does not hold, or the operation is
 *                              a mutation or a subscription
 *   GRAPHQL_LIMIT_EXCEEDED     a bound of this server: document size,
 *                              tokens, nesting, definitions, depth, cost,
 *                              or the work validation may do
 *   GRAPHQL_BAD_USER_INPUT     a request's variables do not fit their
 *                              types (coerce.h)
 *   INTERNAL_SERVER_ERROR      a field could not be resolved (exec.h); the
 *                              error has the field's path
 *
 * A list keeps at most GQL_ERRORS_MAX errors; the one that would exceed it
 * is replaced by a last error saying the list was cut, and later ones are
 * dropped (gql_errors_full tells a caller to stop).
 */
#ifndef NEXUS_GRAPHQL_ERROR_H
#define NEXUS_GRAPHQL_ERROR_H

#include "nexus/core/xmem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A name of the client's as a message quotes it, with "%.*s": at most
 * GQL_NAME_MAX bytes of it, cut after a whole character (a key of the
 * variables may be any text), so that a long name is not repeated whole. */
#define GQL_NAME_MAX 100
#define GQL_NAME(s)  (int)utf8_prefix((s), strlen(s), GQL_NAME_MAX), (s)

/* A message is at most GQL_MESSAGE_MAX bytes (then "..."), whatever it
 * quotes: with GQL_ERRORS_MAX, a bound on a list's text. */
#define GQL_MESSAGE_MAX 1024

#define GQL_ERRORS_MAX     100
#define GQL_ERROR_LOCS_MAX 4

#define GQL_CODE_PARSE      "GRAPHQL_PARSE_FAILED"
#define GQL_CODE_VALIDATION "GRAPHQL_VALIDATION_FAILED"
#define GQL_CODE_LIMIT      "GRAPHQL_LIMIT_EXCEEDED"
#define GQL_CODE_BAD_INPUT  "GRAPHQL_BAD_USER_INPUT"
#define GQL_CODE_FIELD      "INTERNAL_SERVER_ERROR"

struct gql_loc {
    uint32_t line, column;
};

struct gql_error {
    char *message; /* owned */
    const char *code;
    struct gql_loc locs[GQL_ERROR_LOCS_MAX];
    size_t loc_count;
    char *path; /* owned: the field's response path as a JSON array, or NULL */
};

struct gql_errors {
    struct gql_error *items; /* owned */
    size_t count, cap;
    bool full;
};

/* Append an error with up to one location (loc_count 0 or 1). */
void gql_error_add(struct gql_errors *errs, const char *code, const struct gql_loc *loc,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Append an error with n locations (at most GQL_ERROR_LOCS_MAX are kept). */
void gql_error_addv(struct gql_errors *errs, const char *code, const struct gql_loc *locs, size_t n,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Give the last error added the path path_json (copied); nothing when
 * the list is full. */
void gql_error_set_path(struct gql_errors *errs, const char *path_json);
bool gql_errors_full(const struct gql_errors *errs);
/* Cut what b holds from start on to about max bytes, after a whole
 * character, ending it with "..." when it was longer. */
void gql_cut_text(struct buf *b, size_t start, size_t max);
void gql_errors_clear(struct gql_errors *errs);

#endif
