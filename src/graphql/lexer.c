/*
 * lexer.c -- GraphQL tokens from UTF-8 source text (see lexer.h).
 */
#include "nexus/graphql/lexer.h"

#include "nexus/core/xmem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- positions and errors ---------------------------------------------- */

static struct gql_loc loc_at(struct gql_lexer *lx, size_t at) {
    if (lx->col_pos < lx->line_start || at < lx->col_pos) {
        lx->col_pos = lx->line_start;
        lx->col = 1;
    }
    for (; lx->col_pos < at; lx->col_pos++)
        if (((unsigned char)lx->src[lx->col_pos] & 0xC0) != 0x80)
            lx->col++;
    return (struct gql_loc){lx->line, lx->col};
}

__attribute__((format(printf, 3, 4))) static bool fail(struct gql_lexer *lx, size_t at,
                                                       const char *fmt, ...) {
    struct gql_loc loc = loc_at(lx, at);
    struct buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    gql_error_add(lx->errs, GQL_CODE_PARSE, &loc, "Syntax Error: %s", b.data);
    buf_clear(&b);
    lx->failed = true;
    return false;
}

/* A line terminator ends at end (exclusive): the next line starts there. */
static void new_line(struct gql_lexer *lx, size_t end) {
    lx->line++;
    lx->line_start = end;
    lx->pos = end;
}

/* Bytes of the line terminator at pos (\n, \r\n or \r), or 0. */
static size_t terminator_len(const struct gql_lexer *lx, size_t pos) {
    if (pos >= lx->len)
        return 0;
    if (lx->src[pos] == '\n')
        return 1;
    if (lx->src[pos] != '\r')
        return 0;
    return pos + 1 < lx->len && lx->src[pos + 1] == '\n' ? 2 : 1;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* The code point at pos and its length in bytes, or 0 when the bytes there
 * are not well-formed UTF-8 (overlong forms, surrogates, past U+10FFFF). */
static size_t decode_utf8(const struct gql_lexer *lx, size_t pos, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)lx->src + pos;
    size_t avail = lx->len - pos;
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > avail)
        return 0;
    uint32_t c = n == 1 ? s[0] : s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static void put_utf8(struct buf *b, uint32_t c) {
    unsigned char out[4];
    size_t n = 0;
    if (c < 0x80) {
        out[n++] = (unsigned char)c;
    } else if (c < 0x800) {
        out[n++] = (unsigned char)(0xC0 | (c >> 6));
        out[n++] = (unsigned char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out[n++] = (unsigned char)(0xE0 | (c >> 12));
        out[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[n++] = (unsigned char)(0x80 | (c & 0x3F));
    } else {
        out[n++] = (unsigned char)(0xF0 | (c >> 18));
        out[n++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        out[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[n++] = (unsigned char)(0x80 | (c & 0x3F));
    }
    buf_append(b, out, n);
}

/* The character at pos as graphql-js's messages show one: "x" for
 * printable ASCII ('"' for a quote), U+XXXX for others, <EOF> past the
 * end. */
static void shown_char(const struct gql_lexer *lx, size_t pos, char *out, size_t cap) {
    uint32_t cp;
    if (pos >= lx->len)
        snprintf(out, cap, "<EOF>");
    else if (lx->src[pos] == '"')
        snprintf(out, cap, "'\"'");
    else if (lx->src[pos] >= 0x20 && lx->src[pos] < 0x7F)
        snprintf(out, cap, "\"%c\"", lx->src[pos]);
    else if (decode_utf8(lx, pos, &cp) > 0)
        snprintf(out, cap, "U+%04X", (unsigned)cp);
    else
        snprintf(out, cap, "0x%02X", (unsigned char)lx->src[pos]);
}

/* One source character at pos that is not a line terminator: its length,
 * or 0 after recording an error (bad UTF-8, a control character; where
 * says in what). */
static size_t source_char_in(struct gql_lexer *lx, size_t pos, uint32_t *cp, const char *where) {
    size_t n = decode_utf8(lx, pos, cp);
    if (n == 0)
        return fail(lx, pos, "Invalid UTF-8 byte 0x%02X.", (unsigned char)lx->src[pos]), 0;
    if (*cp < 0x20 && *cp != '\t')
        return fail(lx, pos, "Invalid character%s: U+%04X.", where, (unsigned)*cp), 0;
    return n;
}

static size_t source_char(struct gql_lexer *lx, size_t pos, uint32_t *cp) {
    return source_char_in(lx, pos, cp, "");
}

/* ---- ignored tokens ------------------------------------------------------ */

static bool skip_comment(struct gql_lexer *lx) {
    uint32_t cp;
    lx->pos++;
    while (lx->pos < lx->len && !terminator_len(lx, lx->pos)) {
        size_t n = source_char(lx, lx->pos, &cp);
        if (n == 0)
            return false;
        lx->pos += n;
    }
    return true;
}

static bool skip_ignored(struct gql_lexer *lx) {
    while (lx->pos < lx->len) {
        const unsigned char *s = (const unsigned char *)lx->src + lx->pos;
        size_t t = terminator_len(lx, lx->pos);
        if (s[0] == ' ' || s[0] == '\t' || s[0] == ',')
            lx->pos++;
        else if (t)
            new_line(lx, lx->pos + t);
        else if (s[0] == '#') {
            if (!skip_comment(lx))
                return false;
        } else if (s[0] == 0xEF && lx->len - lx->pos >= 3 && s[1] == 0xBB && s[2] == 0xBF)
            lx->pos += 3;
        else
            break;
    }
    return true;
}

/* ---- names and numbers --------------------------------------------------- */

static bool is_name_start(char c) {
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static char at(const struct gql_lexer *lx, size_t pos) {
    return pos < lx->len ? lx->src[pos] : '\0';
}

static void lex_name(struct gql_lexer *lx, struct gql_token *tok) {
    size_t p = lx->pos + 1;
    while (is_name_start(at(lx, p)) || is_digit(at(lx, p)))
        p++;
    tok->kind = GQL_TOK_NAME;
    tok->len = p - lx->pos;
}

/* Digits from *p; false (with an error) when there is none. */
static bool digits(struct gql_lexer *lx, size_t *p) {
    char shown[16];
    shown_char(lx, *p, shown, sizeof shown);
    if (!is_digit(at(lx, *p)))
        return fail(lx, *p, "Invalid number, expected digit but got: %s.", shown);
    while (is_digit(at(lx, *p)))
        (*p)++;
    return true;
}

static bool lex_number(struct gql_lexer *lx, struct gql_token *tok) {
    size_t p = lx->pos;
    bool is_float = false;
    if (at(lx, p) == '-')
        p++;
    if (at(lx, p) == '0') {
        if (is_digit(at(lx, ++p)))
            return fail(lx, p, "Invalid number, unexpected digit after 0: \"%c\".", at(lx, p));
    } else if (!digits(lx, &p))
        return false;
    if (at(lx, p) == '.') {
        p++;
        is_float = true;
        if (!digits(lx, &p))
            return false;
    }
    if (at(lx, p) == 'e' || at(lx, p) == 'E') {
        p++;
        is_float = true;
        if (at(lx, p) == '+' || at(lx, p) == '-')
            p++;
        if (!digits(lx, &p))
            return false;
    }
    if (at(lx, p) == '.' || is_name_start(at(lx, p)))
        return fail(lx, p, "Invalid number, expected digit but got: \"%c\".", at(lx, p));
    tok->kind = is_float ? GQL_TOK_FLOAT : GQL_TOK_INT;
    tok->len = p - lx->pos;
    return true;
}

/* ---- strings ------------------------------------------------------------- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits after "\u" at p, or -1. */
static long hex4(const struct gql_lexer *lx, size_t p) {
    long v = 0;
    if (lx->len - p < 6 || lx->src[p] != '\\' || lx->src[p + 1] != 'u')
        return -1;
    for (size_t i = 2; i < 6; i++) {
        int h = hex_value(lx->src[p + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* An escape that is no character: its six bytes quoted, as graphql-js
 * quotes them. */
static size_t bad_unicode_escape(struct gql_lexer *lx, size_t p) {
    size_t n = utf8_prefix(lx->src + p, lx->len - p, 6); /* a character is quoted whole */
    return fail(lx, p, "Invalid Unicode escape sequence: \"%.*s\".", (int)n, lx->src + p), 0;
}

/* \uXXXX at p (and its low surrogate after a high one): bytes consumed. */
static size_t unicode_escape(struct gql_lexer *lx, size_t p, struct buf *out) {
    long hi = hex4(lx, p);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF)) /* no hex digits, a lone low surrogate */
        return bad_unicode_escape(lx, p);
    if (hi == 0) /* values are C strings past here: it would cut them short */
        return fail(lx, p, "A NUL character (\\u0000) is refused: no value here may hold one."), 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        put_utf8(out, (uint32_t)hi);
        return 6;
    }
    long lo = hex4(lx, p + 6);
    if (lo < 0xDC00 || lo > 0xDFFF) /* a lone high surrogate */
        return bad_unicode_escape(lx, p);
    put_utf8(out, 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00));
    return 12;
}

/* The escape at p (a backslash): bytes consumed, or 0 after an error. */
static size_t escape(struct gql_lexer *lx, size_t p, struct buf *out) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = at(lx, p + 1);
    if (c == 'u')
        return unicode_escape(lx, p, out);
    const char *hit = c ? strchr(from, c) : NULL;
    if (!hit) {
        size_t n = utf8_prefix(lx->src + p, lx->len - p, 2); /* "\\é" whole */
        return fail(lx, p, "Invalid character escape sequence: \"%.*s\".", (int)n, lx->src + p), 0;
    }
    buf_append(out, &to[hit - from], 1);
    return 2;
}

static void take_string(struct gql_lexer *lx, struct gql_token *tok, struct buf *b) {
    tok->value = gql_arena_strndup(lx->arena, b->data ? b->data : "", b->len);
    tok->value_len = b->len;
    buf_clear(b);
}

static bool lex_string(struct gql_lexer *lx, struct gql_token *tok) {
    struct buf b = {0};
    size_t p = lx->pos + 1, n;
    uint32_t cp;
    while (p < lx->len && lx->src[p] != '"' && !terminator_len(lx, p)) {
        n = lx->src[p] == '\\' ? escape(lx, p, &b) : source_char_in(lx, p, &cp, " within String");
        if (n == 0)
            return buf_clear(&b), false;
        if (lx->src[p] != '\\')
            buf_append(&b, lx->src + p, n);
        p += n;
    }
    if (p >= lx->len || lx->src[p] != '"')
        return buf_clear(&b), fail(lx, p, "Unterminated string.");
    tok->kind = GQL_TOK_STRING;
    tok->len = p + 1 - lx->pos;
    take_string(lx, tok, &b);
    return true;
}

static bool starts(const struct gql_lexer *lx, size_t p, const char *s) {
    size_t n = strlen(s);
    return lx->len - p >= n && memcmp(lx->src + p, s, n) == 0;
}

/* ---- block strings ------------------------------------------------------- */

struct line {
    const char *s;
    size_t len;
};

static size_t indent_of(struct line l) {
    size_t i = 0;
    while (i < l.len && (l.s[i] == ' ' || l.s[i] == '\t'))
        i++;
    return i;
}

/* Split raw at its line terminators; the caller frees *lines. */
static size_t split_lines(const char *raw, size_t len, struct line **lines) {
    size_t count = 1, start = 0;
    for (size_t i = 0; i < len; i++)
        count += raw[i] == '\n' || (raw[i] == '\r' && (i + 1 == len || raw[i + 1] != '\n'));
    *lines = xcalloc(count, sizeof **lines);
    size_t k = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && raw[i] != '\n' && raw[i] != '\r')
            continue;
        (*lines)[k++] = (struct line){raw + start, i - start};
        if (i < len && raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    return k;
}

/* BlockStringValue (specification 2.9.4) of raw into out. */
static void block_string_value(const char *raw, size_t len, struct buf *out) {
    struct line *lines;
    size_t count = split_lines(raw, len, &lines), common = (size_t)-1;
    for (size_t i = 1; i < count; i++) {
        size_t indent = indent_of(lines[i]);
        if (indent < lines[i].len && indent < common)
            common = indent;
    }
    for (size_t i = 1; i < count && common != (size_t)-1; i++) {
        size_t cut = common < lines[i].len ? common : lines[i].len;
        lines[i].s += cut;
        lines[i].len -= cut;
    }
    size_t first = 0, last = count;
    while (first < last && indent_of(lines[first]) == lines[first].len)
        first++;
    while (last > first && indent_of(lines[last - 1]) == lines[last - 1].len)
        last--;
    for (size_t i = first; i < last; i++) {
        if (i > first)
            buf_append(out, "\n", 1);
        buf_append(out, lines[i].s, lines[i].len);
    }
    free(lines);
}

static bool lex_block_string(struct gql_lexer *lx, struct gql_token *tok) {
    struct buf raw = {0}, value = {0};
    size_t p = lx->pos + 3, n, start_line_pos = lx->pos;
    uint32_t cp;
    while (p < lx->len && !starts(lx, p, "\"\"\"")) {
        if (starts(lx, p, "\\\"\"\"")) {
            buf_append(&raw, "\"\"\"", 3);
            p += 4;
        } else if ((n = terminator_len(lx, p)) != 0) {
            buf_append(&raw, lx->src + p, n);
            new_line(lx, p + n);
            p += n;
        } else if ((n = source_char_in(lx, p, &cp, " within String")) != 0) {
            buf_append(&raw, lx->src + p, n);
            p += n;
        } else
            return buf_clear(&raw), false;
    }
    if (p >= lx->len)
        return buf_clear(&raw), fail(lx, p, "Unterminated string.");
    block_string_value(raw.data ? raw.data : "", raw.len, &value);
    buf_clear(&raw);
    tok->kind = GQL_TOK_BLOCK_STRING;
    tok->len = p + 3 - start_line_pos;
    take_string(lx, tok, &value);
    lx->pos = start_line_pos; /* gql_lex advances by tok->len */
    return true;
}

/* ---- tokens -------------------------------------------------------------- */

static bool punctuator(struct gql_lexer *lx, struct gql_token *tok) {
    static const char chars[] = "!$&():=@[]{|}";
    static const enum gql_tok kinds[] = {
        GQL_TOK_BANG,    GQL_TOK_DOLLAR, GQL_TOK_AMP,     GQL_TOK_PAREN_L,   GQL_TOK_PAREN_R,
        GQL_TOK_COLON,   GQL_TOK_EQUALS, GQL_TOK_AT,      GQL_TOK_BRACKET_L, GQL_TOK_BRACKET_R,
        GQL_TOK_BRACE_L, GQL_TOK_PIPE,   GQL_TOK_BRACE_R,
    };
    char c = lx->src[lx->pos];
    const char *hit = c ? strchr(chars, c) : NULL;
    if (hit) {
        tok->kind = kinds[hit - chars];
        tok->len = 1;
        return true;
    }
    if (starts(lx, lx->pos, "...")) {
        tok->kind = GQL_TOK_SPREAD;
        tok->len = 3;
        return true;
    }
    return false;
}

static bool unexpected(struct gql_lexer *lx) {
    uint32_t cp;
    unsigned char c = (unsigned char)lx->src[lx->pos];
    char shown[16];
    if (c == '\'')
        return fail(lx, lx->pos,
                    "Unexpected single quote character ('), did you mean to use a double quote "
                    "(\")?");
    if (c >= 0x80 && decode_utf8(lx, lx->pos, &cp) == 0)
        return fail(lx, lx->pos, "Invalid UTF-8 byte 0x%02X.", c);
    shown_char(lx, lx->pos, shown, sizeof shown);
    return fail(lx, lx->pos, "Unexpected character: %s.", shown);
}

static bool lex_token(struct gql_lexer *lx, struct gql_token *tok) {
    char c = lx->src[lx->pos];
    if (punctuator(lx, tok))
        return true;
    if (is_name_start(c)) {
        lex_name(lx, tok);
        return true;
    }
    if (c == '-' || is_digit(c))
        return lex_number(lx, tok);
    if (starts(lx, lx->pos, "\"\"\""))
        return lex_block_string(lx, tok);
    if (c == '"')
        return lex_string(lx, tok);
    return unexpected(lx);
}

bool gql_lexer_init(struct gql_lexer *lx, const char *src, size_t len, struct gql_arena *arena,
                    struct gql_errors *errs) {
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
    lx->arena = arena;
    lx->errs = errs;
    if (len > GQL_DOCUMENT_MAX) {
        gql_error_add(errs, GQL_CODE_LIMIT, NULL,
                      "The document is %zu bytes; at most %d are accepted.", len, GQL_DOCUMENT_MAX);
        lx->failed = true;
        return false;
    }
    return true;
}

bool gql_lex(struct gql_lexer *lx, struct gql_token *tok) {
    memset(tok, 0, sizeof *tok);
    if (lx->failed || !skip_ignored(lx))
        return false;
    tok->loc = loc_at(lx, lx->pos);
    tok->start = lx->src + lx->pos;
    if (lx->pos >= lx->len) {
        tok->kind = GQL_TOK_EOF;
        return true;
    }
    if (++lx->tokens > GQL_TOKEN_MAX) {
        gql_error_add(lx->errs, GQL_CODE_LIMIT, &tok->loc, "The document has more than %d tokens.",
                      GQL_TOKEN_MAX);
        lx->failed = true;
        return false;
    }
    if (!lex_token(lx, tok))
        return false;
    lx->pos += tok->len;
    return true;
}

const char *gql_tok_name(enum gql_tok kind) {
    static const char *const names[] = {
        "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
        "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
        "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
    };
    return names[kind];
}
