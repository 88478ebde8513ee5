/*
 * fuzz_graphql.c -- GraphQL documents (graphql/lexer, parse, validate,
 * limits) on arbitrary bytes.
 *
 * Guarantees checked, besides "no crash, no read past len, no leak, no
 * deep recursion" (libFuzzer hands over exactly len bytes):
 *   - the lexer alone: tokens come in source order, with locations that
 *     never go back, and it stops (EOF or one error) within GQL_TOKEN_MAX
 *     tokens;
 *   - gql_parse returns a document and no error, or NULL and exactly one
 *     error, which has a code and a location when it is not the size limit;
 *   - gql_validate returns true exactly when it added no error, never more
 *     than GQL_ERRORS_MAX, each with a code and a location in the
 *     document's range of lines (but for limits and the note that the list
 *     was cut);
 *   - a valid document's operation is found, and its limits are measured
 *     with the depth and cost they report checked against the limits;
 *   - an operation within its limits has its variables coerced (those named
 *     n... given as 7) and, when they fit, is executed with no resolvers
 *     (introspection answers, other fields are null): data is an object,
 *     or null after an error, and every error is as above, a field's with
 *     a path.
 */
#include "nexus/graphql/coerce.h"
#include "nexus/graphql/exec.h"
#include "nexus/graphql/lexer.h"
#include "nexus/graphql/limits.h"
#include "nexus/graphql/parse.h"
#include "nexus/graphql/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_graphql: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint32_t line_count(const char *src, size_t len) {
    uint32_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += src[i] == '\n' || (src[i] == '\r' && (i + 1 == len || src[i + 1] != '\n'));
    return lines;
}

static void check_errors(const struct gql_errors *errs, size_t from, uint32_t lines) {
    CHECK(errs->count <= GQL_ERRORS_MAX);
    for (size_t i = from; i < errs->count; i++) {
        const struct gql_error *e = &errs->items[i];
        CHECK(e->code && e->message && e->message[0]);
        for (size_t k = 0; k < e->loc_count; k++)
            CHECK(e->locs[k].line >= 1 && e->locs[k].line <= lines && e->locs[k].column >= 1);
    }
}

static void lex_only(const char *src, size_t len) {
    struct gql_arena arena = {0};
    struct gql_errors errs = {0};
    struct gql_lexer lx;
    struct gql_token tok;
    struct gql_loc last = {0, 0};
    const char *last_start = src;
    size_t count = 0;
    if (gql_lexer_init(&lx, src, len, &arena, &errs)) {
        while (gql_lex(&lx, &tok) && tok.kind != GQL_TOK_EOF) {
            CHECK(tok.start >= last_start && tok.start + tok.len <= src + len);
            CHECK(tok.loc.line > last.line ||
                  (tok.loc.line == last.line && tok.loc.column > last.column));
            last = tok.loc;
            last_start = tok.start + tok.len;
            CHECK(++count <= GQL_TOKEN_MAX);
        }
    }
    CHECK(errs.count <= 1);
    gql_arena_free(&arena);
    gql_errors_clear(&errs);
}

static bool variable_is_7(void *ctx, const char *name, long long *value) {
    (void)ctx;
    *value = 7;
    return name[0] == 'n';
}

#define FUZZ_VALUES_MAX 20000 /* keeps an execution quick */

static void coerce_and_execute(const struct gql_document *doc, const struct gql_definition *op,
                               uint32_t lines) {
    struct gql_errors errs = {0};
    json_t *input = json_object();
    for (const struct gql_variable_def *v = op->variables; v; v = v->next)
        if (v->name[0] == 'n')
            json_object_set_new(input, v->name, json_integer(7));
    json_t *vars = gql_coerce_variables(op, input, &errs);
    CHECK(vars ? errs.count == 0 : errs.count > 0);
    if (vars) {
        struct gql_exec exec = {
            .doc = doc, .operation = op, .variables = vars, .values_max = FUZZ_VALUES_MAX};
        json_t *data = gql_execute(&exec, &errs);
        CHECK(json_is_object(data) || (json_is_null(data) && errs.count > 0));
        for (size_t i = 0; i < errs.count; i++)
            CHECK(strcmp(errs.items[i].code, GQL_CODE_LIMIT) == 0 || errs.items[i].path ||
                  (gql_errors_full(&errs) && i == errs.count - 1));
        json_decref(data);
    }
    check_errors(&errs, 0, lines);
    json_decref(vars);
    json_decref(input);
    gql_errors_clear(&errs);
}

static void validate_and_measure(const struct gql_document *doc, uint32_t lines) {
    struct gql_errors errs = {0};
    bool ok = gql_validate(doc, &errs);
    CHECK(ok == (errs.count == 0));
    check_errors(&errs, 0, lines);
    /* Located, except a limit and the note that the list was cut. */
    for (size_t i = 0; i < errs.count; i++)
        CHECK(strcmp(errs.items[i].code, GQL_CODE_LIMIT) == 0 || errs.items[i].loc_count > 0 ||
              (gql_errors_full(&errs) && i == errs.count - 1));
    if (ok) {
        const struct gql_definition *op = gql_operation(doc, NULL, &errs);
        CHECK(op || errs.count == 1);
        struct gql_measure m;
        if (op && gql_check_limits(doc, op, variable_is_7, NULL, &m, &errs)) {
            CHECK(m.depth <= GQL_DEPTH_MAX && m.cost <= GQL_COST_MAX &&
                  m.introspection_depth <= GQL_INTROSPECTION_DEPTH_MAX);
            coerce_and_execute(doc, op, lines);
        }
    }
    gql_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *src = (const char *)data;
    uint32_t lines = line_count(src, size);
    lex_only(src, size);
    struct gql_errors errs = {0};
    struct gql_document *doc = gql_parse(src, size, &errs);
    CHECK(doc ? errs.count == 0 : errs.count == 1);
    check_errors(&errs, 0, lines);
    if (!doc)
        CHECK(errs.items[0].loc_count == 1 || size > GQL_DOCUMENT_MAX);
    if (doc)
        validate_and_measure(doc, lines);
    gql_document_free(doc);
    gql_errors_clear(&errs);
    return 0;
}
