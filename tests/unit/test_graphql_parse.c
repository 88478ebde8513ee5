/*
 * test_graphql_parse.c -- the GraphQL lexer and parser (graphql/lexer,
 * graphql/parse): tokens and their locations, strings and block strings,
 * numbers, the executable grammar into the AST, and malformed or
 * oversized documents answered with one located error, never a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "nexus/core/xmem.h"
#include "nexus/graphql/lexer.h"
#include "nexus/graphql/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

struct lexed {
    struct gql_arena arena;
    struct gql_errors errs;
    struct gql_token toks[64];
    size_t count;
    bool ok;
};

/* Every token of src up to EOF (or the first error). */
static void lex_all(struct lexed *l, const char *src) {
    struct gql_lexer lx;
    memset(l, 0, sizeof *l);
    l->ok = gql_lexer_init(&lx, src, strlen(src), &l->arena, &l->errs);
    while (l->ok && l->count < 64) {
        l->ok = gql_lex(&lx, &l->toks[l->count]);
        if (!l->ok || l->toks[l->count++].kind == GQL_TOK_EOF)
            break;
    }
}

static void lexed_free(struct lexed *l) {
    gql_arena_free(&l->arena);
    gql_errors_clear(&l->errs);
}

#define STRLEN ((size_t)-1)

/* The one string token src holds, decoded (want_len STRLEN: strlen(want)). */
static void assert_string(const char *src, const char *want, size_t want_len) {
    struct lexed l;
    if (want_len == STRLEN)
        want_len = strlen(want);
    lex_all(&l, src);
    assert_true(l.ok);
    assert_int_equal(l.count, 2);
    assert_true(l.toks[0].kind == GQL_TOK_STRING || l.toks[0].kind == GQL_TOK_BLOCK_STRING);
    assert_int_equal(l.toks[0].value_len, want_len);
    assert_memory_equal(l.toks[0].value, want, want_len);
    lexed_free(&l);
}

/* src fails to lex with a message containing want, at line:column. */
static void assert_lex_error(const char *src, const char *want, uint32_t line, uint32_t column) {
    struct lexed l;
    lex_all(&l, src);
    assert_false(l.ok);
    assert_int_equal(l.errs.count, 1);
    if (!strstr(l.errs.items[0].message, want))
        fail_msg("\"%s\": got \"%s\", want \"%s\"", src, l.errs.items[0].message, want);
    assert_int_equal(l.errs.items[0].loc_count, 1);
    assert_int_equal(l.errs.items[0].locs[0].line, line);
    assert_int_equal(l.errs.items[0].locs[0].column, column);
    lexed_free(&l);
}

/* src fails to parse: one error with code, message containing want. */
static void assert_parse_error(const char *src, size_t len, const char *code, const char *want) {
    struct gql_errors errs = {0};
    struct gql_document *doc = gql_parse(src, len, &errs);
    assert_null(doc);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].code, code);
    if (!strstr(errs.items[0].message, want))
        fail_msg("got \"%s\", want \"%s\"", errs.items[0].message, want);
    gql_errors_clear(&errs);
}

static struct gql_document *parse_ok(const char *src) {
    struct gql_errors errs = {0};
    struct gql_document *doc = gql_parse(src, strlen(src), &errs);
    if (!doc)
        fail_msg("parse failed: %s", errs.items[0].message);
    assert_int_equal(errs.count, 0);
    return doc;
}

/* ---- lexer --------------------------------------------------------------- */

static void test_punctuators_names_and_locations(void **state) {
    (void)state;
    struct lexed l;
    lex_all(&l, "\xEF\xBB\xBF{ a , b # comment\r\n  ...\t$x: [Int!]! @d | & = ( ) }");
    assert_true(l.ok);
    enum gql_tok want[] = {
        GQL_TOK_BRACE_L,   GQL_TOK_NAME,   GQL_TOK_NAME,      GQL_TOK_SPREAD,  GQL_TOK_DOLLAR,
        GQL_TOK_NAME,      GQL_TOK_COLON,  GQL_TOK_BRACKET_L, GQL_TOK_NAME,    GQL_TOK_BANG,
        GQL_TOK_BRACKET_R, GQL_TOK_BANG,   GQL_TOK_AT,        GQL_TOK_NAME,    GQL_TOK_PIPE,
        GQL_TOK_AMP,       GQL_TOK_EQUALS, GQL_TOK_PAREN_L,   GQL_TOK_PAREN_R, GQL_TOK_BRACE_R,
        GQL_TOK_EOF,
    };
    assert_int_equal(l.count, sizeof want / sizeof *want);
    for (size_t i = 0; i < l.count; i++)
        assert_int_equal(l.toks[i].kind, want[i]);
    assert_int_equal(l.toks[0].loc.line, 1); /* the BOM counts as one character */
    assert_int_equal(l.toks[0].loc.column, 2);
    assert_int_equal(l.toks[2].loc.column, 8);
    assert_int_equal(l.toks[3].loc.line, 2); /* \r\n is one line terminator */
    assert_int_equal(l.toks[3].loc.column, 3);
    assert_int_equal(l.toks[4].loc.column, 7);
    lexed_free(&l);
}

static void test_columns_count_characters(void **state) {
    (void)state;
    struct lexed l;
    lex_all(&l, "\"h\xC3\xA9\xF0\x9F\x98\x80\" x\rz");
    assert_true(l.ok);
    assert_int_equal(l.toks[1].loc.column, 7); /* "hé😀" is 5 characters */
    assert_int_equal(l.toks[2].loc.line, 2);   /* a lone \r ends a line */
    lexed_free(&l);
}

static void test_strings_and_escapes(void **state) {
    (void)state;
    assert_string("\"\"", "", 0);
    assert_string("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", STRLEN);
    assert_string("\"caf\\u00e9 \\u00E9\"", "caf\xC3\xA9 \xC3\xA9", 8);
    assert_string("\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", 4); /* a surrogate pair */
    assert_string("\"unicode \xE2\x82\xAC\"", "unicode \xE2\x82\xAC", 11);
}

static void test_bad_strings(void **state) {
    (void)state;
    assert_lex_error("\"abc", "Unterminated string", 1, 5);
    assert_lex_error("\"ab\ncd\"", "Unterminated string", 1, 4);
    assert_lex_error("{ x(a: \"\\x\") }", "Invalid character escape sequence: \"\\x\".", 1, 9);
    assert_lex_error("\"\\u12\"", "Invalid Unicode escape sequence: \"\\u12\"\".", 1, 2);
    assert_lex_error("\"\\uD83D\"", "Invalid Unicode escape sequence: \"\\uD83D\".", 1, 2);
    assert_lex_error("\"\\uD83D\\u0041\"", "Invalid Unicode escape sequence: \"\\uD83D\".", 1, 2);
    assert_lex_error("\"\\uDE00\"", "Invalid Unicode escape sequence: \"\\uDE00\".", 1, 2);
    /* the escape is quoted with its characters whole, never a byte of one */
    assert_lex_error("\"\\\xC3\xA9\"", "Invalid character escape sequence: \"\\\xC3\xA9\".", 1, 2);
    assert_lex_error("\"\\u000\xC3\xA9\"", "Invalid Unicode escape sequence: \"\\u000\xC3\xA9\".",
                     1, 2);
    /* values are C strings from here on: a NUL would cut one short */
    assert_lex_error("\"a\\u0000b\"",
                     "A NUL character (\\u0000) is refused: no value here may hold one.", 1, 3);
    assert_lex_error("\"a\x01\"", "Invalid character within String: U+0001.", 1, 3);
    assert_lex_error("\"\xC3\x28\"", "Invalid UTF-8", 1, 2);
    assert_lex_error("\"\xED\xA0\x80\"", "Invalid UTF-8", 1, 2); /* an encoded surrogate */
    assert_lex_error("\"\xC0\xAF\"", "Invalid UTF-8", 1, 2);     /* an overlong form */
    assert_lex_error("\"\"\"abc", "Unterminated string", 1, 7);
    assert_lex_error("# \x02\n", "Invalid character: U+0002.", 1, 3);
}

static void test_block_strings(void **state) {
    (void)state;
    /* The specification's example: common indentation and blank first and
     * last lines removed. */
    assert_string("\"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\"",
                  "Hello,\n  World!\n\nYours,\n  GraphQL.", STRLEN);
    assert_string("\"\"\"  first\n    second\r\n      third\"\"\"", "  first\nsecond\n  third",
                  STRLEN);
    assert_string("\"\"\"a \\\"\"\" b\"\"\"", "a \"\"\" b", 7);
    assert_string("\"\"\"\\n is raw\"\"\"", "\\n is raw", 9);
    assert_string("\"\"\"\n\n  \t \n\"\"\"", "", 0);
    assert_string("\"\"\"\"\"\"", "", 0);
    assert_string("\"\"\"\n  a\n\n b\"\"\"", " a\n\nb", 5); /* blank lines have no indent */
}

static void test_block_string_moves_lines(void **state) {
    (void)state;
    struct lexed l;
    lex_all(&l, "\"\"\"a\nb\r\nc\"\"\" x");
    assert_true(l.ok);
    assert_int_equal(l.toks[0].loc.line, 1);
    assert_int_equal(l.toks[1].loc.line, 3);
    assert_int_equal(l.toks[1].loc.column, 6);
    lexed_free(&l);
}

static void test_numbers(void **state) {
    (void)state;
    const char *ints[] = {"0", "-0", "42", "-123", "2147483648"};
    const char *floats[] = {"1.5", "-0.0", "1e10", "1E+2", "6.0221413e-23", "0e0"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        struct lexed l;
        lex_all(&l, ints[i]);
        assert_true(l.ok);
        assert_int_equal(l.toks[0].kind, GQL_TOK_INT);
        assert_int_equal(l.toks[0].len, strlen(ints[i]));
        lexed_free(&l);
    }
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
        struct lexed l;
        lex_all(&l, floats[i]);
        assert_true(l.ok);
        assert_int_equal(l.toks[0].kind, GQL_TOK_FLOAT);
        lexed_free(&l);
    }
}

static void test_bad_numbers(void **state) {
    (void)state;
    assert_lex_error("01", "unexpected digit after 0: \"1\".", 1, 2);
    assert_lex_error("-01", "unexpected digit after 0", 1, 3);
    assert_lex_error("1.", "expected digit but got: <EOF>.", 1, 3);
    assert_lex_error(".5", "Unexpected character: \".\".", 1, 1);
    assert_lex_error("1.e5", "expected digit", 1, 3);
    assert_lex_error("1e", "expected digit", 1, 3);
    assert_lex_error("1e+", "expected digit", 1, 4);
    assert_lex_error("-", "expected digit", 1, 2);
    assert_lex_error("- 1", "expected digit", 1, 2);
    assert_lex_error("0x1F", "Invalid number, expected digit but got: \"x\".", 1, 2);
    assert_lex_error("123abc", "expected digit but got: \"a\".", 1, 4);
    assert_lex_error("1.5.1", "expected digit but got: \".\".", 1, 4);
    assert_lex_error("1.5e", "expected digit", 1, 5);
}

static void test_unexpected_characters(void **state) {
    (void)state;
    assert_lex_error("{ a ? }", "Unexpected character: \"?\".", 1, 5);
    assert_lex_error("{ a ' }", "Unexpected single quote character", 1, 5);
    assert_lex_error("{ a .. }", "Unexpected character: \".\".", 1, 5);
    assert_lex_error("\xE2\x82\xAC", "Unexpected character: U+20AC.", 1, 1);
    assert_lex_error("\xFF", "Invalid UTF-8 byte 0xFF", 1, 1);
}

static void test_nul_byte_is_an_error(void **state) {
    (void)state;
    assert_parse_error("{ a\0 }", 6, GQL_CODE_PARSE, "Unexpected character: U+0000.");
}

/* ---- parser ------------------------------------------------------------------ */

static void test_parses_operations_and_fragments(void **state) {
    (void)state;
    struct gql_document *doc =
        parse_ok("query Page($first: Int = 10, $ids: [ID!]! @skip(if: true)) @include(if: $on) {\n"
                 "  top: products(first: $first, filter: {q: \"x\", attributes: [{key: \"k\", min: "
                 "1.5}]}) {\n"
                 "    ...Edges @skip(if: false)\n"
                 "    ... on ProductConnection { totalCount }\n"
                 "    ... @include(if: true) { pageInfo { hasNextPage } }\n"
                 "  }\n"
                 "}\n"
                 "fragment Edges on ProductConnection { edges { node { id } } }\n"
                 "mutation M { a } subscription { b }\n"
                 "{ c(v: null, e: PRICE_ASC, t: true, f: false, l: [], o: {}) }\n");
    const struct gql_definition *op = doc->definitions;
    assert_int_equal(op->kind, GQL_DEF_OPERATION);
    assert_int_equal(op->operation, GQL_OP_QUERY);
    assert_string_equal(op->name, "Page");
    const struct gql_variable_def *v = op->variables;
    assert_string_equal(v->name, "first");
    assert_int_equal(v->type->kind, GQL_TYPE_NAMED);
    assert_string_equal(v->default_value->text, "10");
    v = v->next;
    assert_int_equal(v->type->kind, GQL_TYPE_NON_NULL);
    assert_int_equal(v->type->of->kind, GQL_TYPE_LIST);
    assert_int_equal(v->type->of->of->kind, GQL_TYPE_NON_NULL);
    assert_string_equal(v->type->of->of->of->name, "ID");
    assert_string_equal(v->directives->name, "skip");
    assert_string_equal(op->directives->args->value->text, "on");
    const struct gql_selection *f = op->selections;
    assert_string_equal(f->alias, "top");
    assert_string_equal(f->name, "products");
    assert_string_equal(gql_response_name(f), "top");
    assert_int_equal(f->loc.line, 2);
    assert_int_equal(f->loc.column, 3);
    assert_int_equal(f->args->value->kind, GQL_VALUE_VARIABLE);
    const struct gql_value *filter = f->args->next->value;
    assert_int_equal(filter->kind, GQL_VALUE_OBJECT);
    assert_string_equal(filter->fields->value->text, "x");
    const struct gql_value *attrs = filter->fields->next->value;
    assert_int_equal(attrs->kind, GQL_VALUE_LIST);
    assert_int_equal(attrs->items->fields->next->value->kind, GQL_VALUE_FLOAT);
    const struct gql_selection *s = f->selections;
    assert_int_equal(s->kind, GQL_SEL_SPREAD);
    assert_string_equal(s->name, "Edges");
    assert_int_equal(s->next->kind, GQL_SEL_INLINE);
    assert_string_equal(s->next->type_condition, "ProductConnection");
    assert_null(s->next->next->type_condition);
    assert_string_equal(s->next->next->directives->name, "include");
    const struct gql_definition *frag = op->next;
    assert_int_equal(frag->kind, GQL_DEF_FRAGMENT);
    assert_string_equal(frag->type_condition, "ProductConnection");
    assert_int_equal(frag->next->operation, GQL_OP_MUTATION);
    assert_int_equal(frag->next->next->operation, GQL_OP_SUBSCRIPTION);
    assert_null(frag->next->next->name);
    const struct gql_definition *anon = frag->next->next->next;
    assert_null(anon->name);
    enum gql_value_kind kinds[] = {GQL_VALUE_NULL,    GQL_VALUE_ENUM, GQL_VALUE_BOOLEAN,
                                   GQL_VALUE_BOOLEAN, GQL_VALUE_LIST, GQL_VALUE_OBJECT};
    const struct gql_argument *a = anon->selections->args;
    for (size_t i = 0; i < 6; i++, a = a->next)
        assert_int_equal(a->value->kind, kinds[i]);
    assert_null(a);
    gql_document_free(doc);
}

static void test_type_system_definitions_are_kept_for_validation(void **state) {
    (void)state;
    struct gql_document *doc = parse_ok("\"\"\"A dog\"\"\" type Dog implements Pet & Node { "
                                        "name(x: Int = 1): String! @deprecated }\n"
                                        "scalar Date @specifiedBy(url: \"https://example.com\")\n"
                                        "union U = A | B\n"
                                        "extend schema { query: Query }\n"
                                        "{ me { id } }\n");
    /* named as graphql-js names them: the type, or "schema" */
    const char *names[] = {"Dog", "Date", "U", "extend"};
    const struct gql_definition *d = doc->definitions;
    for (size_t i = 0; i < 4; i++, d = d->next) {
        assert_int_equal(d->kind, GQL_DEF_TYPE_SYSTEM);
        assert_string_equal(d->name, names[i]);
        assert_int_equal(d->schema, i == 3);
        assert_int_equal(d->loc.line, i + 1);
    }
    assert_int_equal(d->kind, GQL_DEF_OPERATION);
    gql_document_free(doc);
}

static void test_malformed_documents(void **state) {
    (void)state;
    struct {
        const char *src, *want;
    } cases[] = {
        {"", "Unexpected <EOF>"},
        {"{}", "Expected Name, found \"}\""},
        {"{ a", "Expected Name, found <EOF>"},
        {"{ a(b) }", "Expected \":\", found \")\""},
        {"{ a() }", "Expected Name, found \")\""},
        {"query ($a: ) { a }", "Expected Name, found \")\""},
        {"query ($a Int) { a }", "Expected \":\", found Name \"Int\""},
        {"query ($a: Int = $b) { a }", "Unexpected variable \"$b\" in constant value."},
        {"query Q", "Expected \"{\", found <EOF>"},
        {"fragment on on T { a }", "Unexpected Name \"on\""},
        {"fragment F T { a }", "Expected \"on\", found Name \"T\""},
        {"{ ... on { a } }", "Expected Name, found \"{\""},
        {"{ ... }", "Expected \"{\", found \"}\""},
        {"{ a(x: [1, 2) }", "Unexpected \")\""},
        {"{ a(x: {b 1}) }", "Expected \":\", found Int \"1\""},
        {"{ a } }", "Unexpected \"}\""},
        {"\"desc\" { a }", "Unexpected \"{\""},
        {"notakeyword { a }", "Unexpected Name \"notakeyword\""},
        {"type T { a: Int ", "Unexpected <EOF>"},
        {"{ a @ }", "Expected Name, found \"}\""},
        {"query ($a: [Int) { a }", "Expected \"]\", found \")\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_parse_error(cases[i].src, strlen(cases[i].src), GQL_CODE_PARSE, cases[i].want);
}

static void test_errors_carry_locations(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    const char *src = "{\n  a(x: 1)\n  b(y: )\n}";
    assert_null(gql_parse(src, strlen(src), &errs));
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].locs[0].line, 3);
    assert_int_equal(errs.items[0].locs[0].column, 8);
    gql_errors_clear(&errs);
}

/* A message holds UTF-8 only, whatever bytes it was given: each byte of
 * none becomes U+FFFD, where it is (a quote goes on after it). */
static void test_error_messages_are_utf8(void **state) {
    (void)state;
    struct gql_errors errs = {0};
    gql_error_add(&errs, GQL_CODE_PARSE, NULL, "Quoted \"%s\" here.", "a\xC3");
    gql_error_add(&errs, GQL_CODE_PARSE, NULL, "%s", "\xE2\x82\xAC ok");
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.items[0].message, "Quoted \"a\xEF\xBF\xBD\" here.");
    assert_string_equal(errs.items[1].message, "\xE2\x82\xAC ok");
    gql_errors_clear(&errs);
}

/* ---- limits -------------------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
    struct buf b = {0};
    buf_puts(&b, head);
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, unit);
    buf_puts(&b, tail);
    return buf_take(&b, NULL);
}

static void test_size_limit(void **state) {
    (void)state;
    char *big = repeat("{ a ", " ", 1u << 20, "}"); /* a 1 MiB document */
    assert_parse_error(big, strlen(big), GQL_CODE_LIMIT, "at most 65536");
    free(big);
    char *fits = repeat("{ a ", " ", GQL_DOCUMENT_MAX - 5, "}");
    assert_int_equal(strlen(fits), GQL_DOCUMENT_MAX);
    gql_document_free(parse_ok(fits));
    free(fits);
}

static void test_token_limit(void **state) {
    (void)state;
    char *many = repeat("{", " a", GQL_TOKEN_MAX - 2, " }");
    gql_document_free(parse_ok(many));
    free(many);
    char *over = repeat("{", " a", GQL_TOKEN_MAX - 1, " }");
    assert_parse_error(over, strlen(over), GQL_CODE_LIMIT, "more than 10000 tokens");
    free(over);
    char *aliases = repeat("{", " a: b", 10000, " }"); /* 10,000 aliases */
    assert_parse_error(aliases, strlen(aliases), GQL_CODE_LIMIT, "tokens");
    free(aliases);
}

static void test_nesting_limit(void **state) {
    (void)state;
    char *deep = repeat("", "{ a ", GQL_NESTING_MAX, "");
    char *doc = repeat(deep, "}", GQL_NESTING_MAX, "");
    gql_document_free(parse_ok(doc));
    free(deep);
    free(doc);
    /* 1,000 levels of selection sets, lists, objects and list types. */
    const char *heads[] = {"", "{ a(x: ", "{ a(x: ", "query ($v: "};
    const char *units[] = {"{ a ", "[", "{b: ", "["};
    for (size_t i = 0; i < 4; i++) {
        char *hostile = repeat(heads[i], units[i], 1000, "");
        assert_parse_error(hostile, strlen(hostile), GQL_CODE_LIMIT, "deeper than 64 levels");
        free(hostile);
    }
}

static void test_definition_limit(void **state) {
    (void)state;
    char *ok = repeat("", "query { a } ", GQL_DEFINITION_MAX, "");
    gql_document_free(parse_ok(ok));
    free(ok);
    char *over = repeat("", "query { a } ", GQL_DEFINITION_MAX + 1, "");
    assert_parse_error(over, strlen(over), GQL_CODE_LIMIT, "more than 100 definitions");
    free(over);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_punctuators_names_and_locations),
        cmocka_unit_test(test_columns_count_characters),
        cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_block_strings),
        cmocka_unit_test(test_block_string_moves_lines),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_unexpected_characters),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_parses_operations_and_fragments),
        cmocka_unit_test(test_type_system_definitions_are_kept_for_validation),
        cmocka_unit_test(test_malformed_documents),
        cmocka_unit_test(test_errors_carry_locations),
        cmocka_unit_test(test_error_messages_are_utf8),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_definition_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
