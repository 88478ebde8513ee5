/*
 * lexer.h -- the lexical grammar of GraphQL (October 2021, section 2.1).
 *
 * Tokens are produced one at a time. Ignored tokens (the byte order mark,
 * spaces, tabs, line terminators, commas, comments) are skipped. Each token
 * carries the line and column (from 1; a column counts Unicode characters)
 * of its first character.
 *
 * Strings are decoded into the arena: escapes (\" \\ \/ \b \f \n \r \t and
 * \uXXXX, where a high surrogate followed by \u and a low surrogate is one
 * character and a lone surrogate is an error), and block strings with the
 * specification's BlockStringValue (common indentation removed, blank
 * first and last lines dropped). The source must be UTF-8; control
 * characters other than tab, line feed and carriage return are errors
 * anywhere, and line terminators inside a "string". Numbers follow the
 * grammar's lookahead rules: 01, 1., .5, 1e, 0x1 are errors; -0 is an Int.
 *
 * Bounds: a source over GQL_DOCUMENT_MAX bytes is refused before it is
 * read, and the GQL_TOKEN_MAX+1st token is an error. Every error is
 * recorded with its location in the caller's list (GQL_CODE_PARSE or
 * GQL_CODE_LIMIT) and gql_lex returns false; the lexer is then done.
 */
#ifndef NEXUS_GRAPHQL_LEXER_H
#define NEXUS_GRAPHQL_LEXER_H

#include "nexus/graphql/arena.h"
#include "nexus/graphql/error.h"

#include <stdbool.h>
#include <stddef.h>

#define GQL_DOCUMENT_MAX 65536 /* bytes */
#define GQL_TOKEN_MAX    10000

enum gql_tok {
    GQL_TOK_EOF,
    GQL_TOK_BANG,      /* ! */
    GQL_TOK_DOLLAR,    /* $ */
    GQL_TOK_AMP,       /* & */
    GQL_TOK_PAREN_L,   /* ( */
    GQL_TOK_PAREN_R,   /* ) */
    GQL_TOK_SPREAD,    /* ... */
    GQL_TOK_COLON,     /* : */
    GQL_TOK_EQUALS,    /* = */
    GQL_TOK_AT,        /* @ */
    GQL_TOK_BRACKET_L, /* [ */
    GQL_TOK_BRACKET_R, /* ] */
    GQL_TOK_BRACE_L,   /* { */
    GQL_TOK_PIPE,      /* | */
    GQL_TOK_BRACE_R,   /* } */
    GQL_TOK_NAME,
    GQL_TOK_INT,
    GQL_TOK_FLOAT,
    GQL_TOK_STRING,
    GQL_TOK_BLOCK_STRING,
};

struct gql_token {
    enum gql_tok kind;
    struct gql_loc loc;
    const char *start; /* the token's bytes in the source */
    size_t len;
    char *value; /* strings: the decoded value in the arena (NUL-terminated) */
    size_t value_len;
};

struct gql_lexer {
    const char *src;
    size_t len, pos;
    uint32_t line;
    size_t line_start; /* byte offset of the current line */
    size_t col_pos;    /* a byte offset on the current line and its column, */
    uint32_t col;      /* so columns are counted once per line */
    size_t tokens;
    struct gql_arena *arena;
    struct gql_errors *errs;
    bool failed;
};

/* False (with an error recorded) when src is longer than GQL_DOCUMENT_MAX. */
bool gql_lexer_init(struct gql_lexer *lx, const char *src, size_t len, struct gql_arena *arena,
                    struct gql_errors *errs);
/* The next token (GQL_TOK_EOF at the end); false after an error. */
bool gql_lex(struct gql_lexer *lx, struct gql_token *tok);
/* A token kind as the parser's messages name it ("Name", "\"{\"", ...). */
const char *gql_tok_name(enum gql_tok kind);

#endif
