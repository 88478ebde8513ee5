/*
 * jsonpath.c -- the field a position in a JSON document belongs to (see
 * jsonpath.h). One pass over the text up to the position, keeping for
 * each open object its current key and for each open array its current
 * index; nesting is bounded as jansson bounds it, keys are kept decoded
 * (cut at KEY_MAX bytes, between characters).
 */
#include "nexus/core/jsonpath.h"

#include "nexus/core/fielderr.h"
#include "nexus/core/parse.h"
#include "nexus/core/xmem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH: deeper, it reads nothing. It counts
 * every value on the way in, the innermost too: inside DEPTH_MAX arrays
 * and objects, even a number is a level too deep. */
#define DEPTH_MAX 2048
#define KEY_MAX   64 /* bytes of a key kept, decoded: longer keys are cut */

struct frame {
    char kind;      /* '{' or '[' */
    bool at_key;    /* in an object, before a key and its ':' */
    bool nul_key;   /* in an object, its current key holds a \u0000 */
    bool nul_field; /* inside the value of a key holding a \u0000, however deep */
    size_t index;
    char key[KEY_MAX + 1];
};

struct walk {
    const char *p, *end;
    struct frame *stack; /* grown as containers open, up to DEPTH_MAX */
    size_t depth, cap;
};

static struct walk walk_start(const char *text, size_t len) {
    return (struct walk){text, text + len, NULL, 0, 0};
}

static void walk_end(struct walk *w) {
    free(w->stack);
    w->stack = NULL;
}

/* The value of the 4 hex digits at p (before end), or -1. */
static long hex4(const char *p, const char *end) {
    long v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The \u escape at p (its backslash) as UTF-8 into out, a surrogate pair
 * read as one character; its length in the text into *n. \u0000 and a
 * lone surrogate stay as written (a NUL cannot be part of a name). */
static size_t decode_u_escape(const char *p, const char *end, char out[6], size_t *n) {
    long c = hex4(p + 2, end), low = -1;
    if (c >= 0xD800 && c <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u')
        low = hex4(p + 8, end);
    *n = 6;
    if (c < 0)
        return 0;
    if (low >= 0xDC00 && low <= 0xDFFF) {
        *n = 12;
        return utf8_encode((uint32_t)(0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00)),
                           (unsigned char *)out);
    }
    if (c == 0 || (c >= 0xD800 && c <= 0xDFFF)) {
        memcpy(out, p, 6);
        return 6;
    }
    return utf8_encode((uint32_t)c, (unsigned char *)out);
}

/* The character of a string's content at p (before end), its escape
 * decoded, into out: its length there; its length in the text into *n. */
static size_t key_character(const char *p, const char *end, char out[6], size_t *n) {
    static const char ESCAPED[] = "\"\\/bfnrt", MEANT[] = "\"\\/\b\f\n\r\t";
    unsigned char lead = (unsigned char)*p;
    if (lead == '\\' && end - p >= 2 && p[1] == 'u') {
        size_t k = decode_u_escape(p, end, out, n);
        if (k)
            return k;
    }
    const char *simple = lead == '\\' && end - p >= 2 ? memchr(ESCAPED, p[1], 8) : NULL;
    if (simple) {
        out[0] = MEANT[simple - ESCAPED];
        *n = 2;
        return 1;
    }
    /* a UTF-8 sequence whole (the string is UTF-8 in a document that reads) */
    size_t k = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    k = k <= (size_t)(end - p) ? k : 1;
    memcpy(out, p, k);
    *n = k;
    return k;
}

/* A key's content text[0..len) into key, its escapes decoded, as much as
 * KEY_MAX bytes hold without cutting a character. */
static void keep_key(const char *text, const char *end, char *key) {
    size_t used = 0;
    while (text < end) {
        char c[6];
        size_t n, k = key_character(text, end, c, &n);
        if (used + k > KEY_MAX)
            break;
        memcpy(key + used, c, k);
        used += k;
        text += n;
    }
    key[used] = '\0';
}

/* Past a string starting at p (its opening quote); its content into key
 * when key is not NULL. False when it does not end before w->end. */
static bool skip_string(struct walk *w, char *key) {
    const char *start = ++w->p;
    while (w->p < w->end && *w->p != '"')
        w->p += *w->p == '\\' ? 2 : 1;
    if (w->p >= w->end)
        return false;
    if (key)
        keep_key(start, w->p, key);
    w->p++;
    return true;
}

static struct frame *top_frame(const struct walk *w) {
    return w->depth ? &w->stack[w->depth - 1] : NULL;
}

/* Whether a value at f (NULL: the top level) is under a key holding a
 * \u0000, its own or one further up. */
static bool under_nul_key_at(const struct frame *f) {
    return f && (f->nul_field || (f->kind == '{' && f->nul_key));
}

static bool open_container(struct walk *w, char kind) {
    if (w->depth == DEPTH_MAX)
        return false;
    bool nul_field = under_nul_key_at(top_frame(w));
    if (w->depth == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 8;
        w->stack = xrealloc(w->stack, w->cap * sizeof *w->stack);
    }
    w->stack[w->depth++] = (struct frame){kind, kind == '{', false, nul_field, 0, ""};
    w->p++;
    return true;
}

/* Whether a value starts at w->p past DEPTH_MAX: one inside DEPTH_MAX
 * arrays and objects, a scalar too. */
static bool value_too_deep(const struct walk *w) {
    const struct frame *top = top_frame(w);
    char c = *w->p;
    bool scalar = c == '"' ? !top || !top->at_key : c && strchr("-0123456789tfn", c);
    return w->depth == DEPTH_MAX && scalar;
}

/* One token at w->p; false when the text stops reading as JSON. */
static bool step(struct walk *w) {
    struct frame *top = top_frame(w);
    char c = *w->p;
    if (value_too_deep(w))
        return false;
    if (c == '{' || c == '[')
        return open_container(w, c);
    if (c == '}' || c == ']') {
        if (!top || top->kind != (c == '}' ? '{' : '['))
            return false;
        w->depth--;
        w->p++;
        return true;
    }
    if (c == '"')
        return skip_string(w, top && top->at_key ? top->key : NULL);
    if (c == ':' || c == ',') {
        if (top && c == ':')
            top->at_key = false;
        else if (top && top->kind == '{')
            top->at_key = true;
        else if (top)
            top->index++;
        w->p++;
        return true;
    }
    w->p++; /* white space, a number's or a literal's bytes */
    return true;
}

/* piece after out's used bytes, as much of it as cap holds without
 * cutting a character; false when it did not all fit. */
static bool put_piece(char *out, size_t cap, size_t *used, const char *piece) {
    size_t n = strlen(piece), room = cap - 1 - *used;
    bool whole = n <= room;
    if (!whole)
        for (n = room; n > 0 && ((unsigned char)piece[n] & 0xC0) == 0x80;)
            n--; /* piece[n], the first byte left out, continues a character */
    memcpy(out + *used, piece, n);
    *used += n;
    out[*used] = '\0';
    return whole;
}

/* The levels this thread's write_path went through (jsonpath.h). */
static _Thread_local size_t levels_written;

size_t jsonpath_levels_written(void) {
    return levels_written;
}

/* The path of the walk's position into out (cap bytes, at least 1): as
 * much of it as fits, whatever the depth, cut between characters. A key
 * below the top level always has its '.', so that an empty key is seen
 * ("" and "a" under an empty key are "." and ".a", not "" and "a"); so
 * each level below the first writes a byte, and the path is full after
 * fewer than cap of them. */
static void write_path(const struct walk *w, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < w->depth; i++) {
        const struct frame *f = &w->stack[i];
        levels_written++;
        char piece[KEY_MAX + 2];
        if (f->kind == '[')
            snprintf(piece, sizeof piece, "[%zu]", f->index);
        else
            snprintf(piece, sizeof piece, "%s%s", i ? "." : "", f->key);
        if (!put_piece(out, cap, &used, piece))
            return;
    }
}

/* ---- past what jansson refuses in a document that reads ------------------ */

/* Field errors this file adds to a caller's list: the first NAMED_MAX. */
#define NAMED_MAX JSONPATH_NAMED_MAX

static bool naming_done(const struct field_errors *out) {
    return fielderr_count(out) >= NAMED_MAX;
}

static void name_field(struct field_errors *out, const char *field, const char *message) {
    if (!naming_done(out))
        fielderr_add(out, field, "%s", message);
}

/* A copy of a document being written as it is walked: the text up to
 * copied is in out, changed where a number or a key had to be. */
struct rewrite {
    struct walk w;
    const char *copied;
    struct buf out;
    struct field_errors *named;    /* NULL: reals past a double stay as written */
    bool nul_keys;                 /* keys holding \u0000 are named and changed */
    bool nul_strings;              /* string values holding \u0000 are named */
    bool ones_doubled;             /* keys are written apart (see write_key) */
    bool nul_key_met, one_key_met; /* a key held \u0000, one held \u0001 */
    struct buf added;              /* where out has bytes the text has not (struct added) */
};

/* Bytes a copy has where the text has none: "e0" after an integer, a key's
 * escape written longer. */
struct added {
    size_t at, bytes; /* the offset in the copy of the first of them, their count */
};

/* The next bytes written into the copy are bytes more than the text has. */
static void note_added(struct rewrite *r, size_t bytes) {
    struct added a = {r->out.len, bytes};
    buf_append(&r->added, &a, sizeof a);
}

/* Name the field at the walk's position, while fewer than NAMED_MAX are:
 * its path costs a step per open container (up to DEPTH_MAX), so a body
 * of many such values deep down must not write one each. */
static void name_position(struct rewrite *r, const char *message) {
    if (naming_done(r->named))
        return;
    char field[128];
    write_path(&r->w, field, sizeof field);
    name_field(r->named, field, message);
}

static void copy_to(struct rewrite *r, const char *at) {
    buf_append(&r->out, r->copied, (size_t)(at - r->copied));
    r->copied = at;
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static const char *past_digits(const char *p, const char *end) {
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* Whether text[0..end) is a JSON number; whether an integer (no fraction,
 * no exponent) into *integer. */
static bool json_number(const char *p, const char *end, bool *integer) {
    p += p < end && *p == '-';
    if (p == end || !is_digit(*p))
        return false;
    p = *p == '0' ? p + 1 : past_digits(p, end);
    *integer = true;
    if (p < end && *p == '.') {
        if (++p == end || !is_digit(*p))
            return false;
        p = past_digits(p, end);
        *integer = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        p += p < end && (*p == '+' || *p == '-');
        if (p == end || !is_digit(*p))
            return false;
        p = past_digits(p, end);
        *integer = false;
    }
    return p == end;
}

bool jsonpath_is_number(const char *text, size_t len) {
    bool integer;
    return json_number(text, text + len, &integer);
}

enum number_range { NUMBER_KEPT, NUMBER_PAST_64_BITS, NUMBER_PAST_A_DOUBLE };

/* How jansson reads the JSON number text[0..end): what it keeps, an
 * integer past 64 bits (its strtoll's overflow) or a number past a double
 * (its strtod's overflow; an integer widened to a real can be one). */
static enum number_range number_range(const char *text, const char *end, bool integer) {
    size_t n = (size_t)(end - text);
    char small[64], *copy = n < sizeof small ? small : xmalloc(n + 1);
    memcpy(copy, text, n);
    copy[n] = '\0';
    enum number_range range = NUMBER_KEPT;
    errno = 0;
    if (integer && (strtoll(copy, NULL, 10), errno == ERANGE))
        range = NUMBER_PAST_64_BITS;
    errno = 0;
    if (!integer || range != NUMBER_KEPT) {
        double d = strtod(copy, NULL);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
            range = NUMBER_PAST_A_DOUBLE;
    }
    if (copy != small)
        free(copy);
    return range;
}

/* The number's position has a field: the walk is in a member's value or
 * an item. */
static bool in_a_field(const struct walk *w) {
    const struct frame *top = top_frame(w);
    return top && !(top->kind == '{' && top->at_key);
}

/* Whether the walk is in the value of a key holding a \u0000, at any
 * depth below it: that key, named already, is its field's one error. */
static bool under_nul_key(const struct rewrite *r) {
    return under_nul_key_at(top_frame(&r->w));
}

/* Past the number (or what looks like one) at the walk's position: an
 * integer past 64 bits gets "e0" after it, so that it reads as the nearest
 * double; a real past a double, in a field, is named and read as 0 (with
 * spaces for the rest of its digits). */
static void past_number(struct rewrite *r) {
    const char *start = r->w.p, *end = start;
    while (end < r->w.end && *end && strchr("0123456789+-.eE", *end))
        end++;
    r->w.p = end;
    bool integer;
    if (!json_number(start, end, &integer))
        return; /* jansson refuses it, as it is */
    enum number_range range = number_range(start, end, integer);
    if (range == NUMBER_PAST_64_BITS) {
        copy_to(r, end);
        note_added(r, 2);
        buf_puts(&r->out, "e0");
    } else if (range == NUMBER_PAST_A_DOUBLE && r->named && in_a_field(&r->w)) {
        /* a level too deep is not named, but still read as 0: jansson
         * then refuses the text for its depth, not for the number */
        if (r->w.depth < DEPTH_MAX && !under_nul_key(r))
            name_position(r, "is a number out of range");
        copy_to(r, start);
        buf_puts(&r->out, "0");
        for (const char *p = start + 1; p < end; p++)
            buf_puts(&r->out, " ");
        r->copied = end;
    }
}

/* The first \u0000 escape of a string's content from p (at a character)
 * to end (its closing quote), or NULL. */
static const char *next_nul_escape(const char *p, const char *end) {
    for (; p + 6 <= end; p += *p == '\\' ? 2 : 1)
        if (memcmp(p, "\\u0000", 6) == 0)
            return p;
    return NULL;
}

/* The first \u0000 or \u0001 escape of a string's content from p (at a
 * character) to end (its closing quote), or NULL. */
static const char *next_low_escape(const char *p, const char *end) {
    for (; p + 6 <= end; p += *p == '\\' ? 2 : 1)
        if (memcmp(p, "\\u000", 5) == 0 && (p[5] == '0' || p[5] == '1'))
            return p;
    return NULL;
}

/* A key's content from p to end into the copy, each \u0000 (which
 * jansson does not take in a key) written \u0001. That could make it
 * another key of its object, one holding \u0001: with ones_doubled,
 * \u0000 is written \u0001\u0002 and \u0001 \u0001\u0001, so that two
 * keys are equal in the copy exactly when they are in the text (a
 * duplicate is one there). */
static void write_key(struct rewrite *r, const char *p, const char *end) {
    for (p = next_low_escape(p, end); p; p = next_low_escape(p + 6, end)) {
        bool nul = p[5] == '0';
        r->nul_key_met = r->nul_key_met || nul;
        r->one_key_met = r->one_key_met || !nul;
        if (!nul && !r->ones_doubled)
            continue;
        copy_to(r, p);
        if (r->ones_doubled)
            note_added(r, 6);
        buf_puts(&r->out, !r->ones_doubled ? "\\u0001" : nul ? "\\u0001\\u0002" : "\\u0001\\u0001");
        r->copied = p + 6;
    }
}

/* After a key from start (its opening quote): when it holds \u0000, the
 * key is named like a value holding one (unless it is under such a key
 * itself), and written so that the rest reads. */
static void past_key(struct rewrite *r, const char *start) {
    const char *end = r->w.p - 1;
    struct frame *top = top_frame(&r->w);
    top->nul_key = next_nul_escape(start + 1, end) != NULL;
    if (top->nul_key && !top->nul_field)
        name_position(r, "must not contain a NUL character");
    write_key(r, start + 1, end);
}

/* After a string value from start (its opening quote): one holding a
 * \u0000 is its field's error, unless it is under a key holding one. */
static void past_string(struct rewrite *r, const char *start) {
    if (in_a_field(&r->w) && !under_nul_key(r) && next_nul_escape(start + 1, r->w.p - 1))
        name_position(r, "must not contain a NUL character");
}

/* The walk of rewrite, writing r's copy as it goes. */
static void rewrite_walk(struct rewrite *r) {
    while (r->w.p < r->w.end) {
        const struct frame *top = top_frame(&r->w);
        const char *at = r->w.p;
        bool key = *at == '"' && top && top->at_key;
        if (*at == '-' || is_digit(*at))
            past_number(r);
        else if (!step(&r->w))
            break;
        else if (key && r->nul_keys)
            past_key(r, at);
        else if (*at == '"' && r->nul_strings)
            past_string(r, at);
    }
    walk_end(&r->w);
}

/* The text rewritten past each number jansson refuses (and each key
 * holding a NUL when named is given: then each string value holding one
 * is named too when nul_strings), in one walk (two, see below): NULL when
 * nothing changed.
 * The walk stops where the text stops reading as JSON, or nests deeper
 * than jansson reads: jansson then refuses the text as it would have.
 * What the copy has that the text has not into *added. A text with a key
 * holding \u0000 and one holding \u0001 is walked twice, the second time
 * with ones_doubled (write_key). */
static char *rewrite(const char *text, size_t len, struct field_errors *named, bool nul_strings,
                     size_t *out_len, struct buf *added) {
    struct rewrite r = {.w = walk_start(text, len),
                        .copied = text,
                        .named = named,
                        .nul_keys = named != NULL,
                        .nul_strings = nul_strings};
    rewrite_walk(&r);
    if (r.nul_key_met && r.one_key_met) {
        /* written again with the keys apart (write_key); the fields are
         * named already, and the body is refused for them whatever the
         * copy's keys */
        struct field_errors again = {0};
        buf_clear(&r.out);
        buf_clear(&r.added);
        r = (struct rewrite){.w = walk_start(text, len),
                             .copied = text,
                             .named = &again,
                             .nul_keys = true,
                             .nul_strings = nul_strings,
                             .ones_doubled = true};
        rewrite_walk(&r);
        fielderr_clear(&again);
    }
    *added = r.added;
    if (r.copied == text)
        return NULL;
    copy_to(&r, text + len);
    return buf_take(&r.out, out_len);
}

/* An error of the copy's parse, placed in the client's text: the bytes
 * the copy added before it (added: struct added) moved it as many bytes,
 * and as many columns when on its line (they are ASCII). */
static void place_in_text(json_error_t *err, const char *copy, size_t copy_len,
                          const struct buf *added) {
    size_t at = err->position > 0 ? (size_t)err->position : 0;
    at = at < copy_len ? at : copy_len;
    size_t line_start = at, before = 0, on_line = 0;
    while (line_start > 0 && copy[line_start - 1] != '\n')
        line_start--;
    for (size_t i = 0; i < added->len / sizeof(struct added); i++) {
        struct added a;
        memcpy(&a, added->data + i * sizeof a, sizeof a);
        before += a.at < at ? a.bytes : 0;
        on_line += a.at < at && a.at >= line_start ? a.bytes : 0;
    }
    err->position -= (int)before;
    err->column -= (int)on_line;
}

/* Whether the text's first value is an object (its first byte past
 * white space is '{'). */
static bool an_object(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && text[i] && strchr(" \t\r\n", text[i]))
        i++;
    return i < len && text[i] == '{';
}

#define RAW_NUL "a raw NUL byte"

/* err as jansson would set it for a syntax error at text[at]. */
static void place_raw_nul(json_error_t *err, const char *text, size_t at) {
    memset(err, 0, sizeof *err);
    err->line = 1;
    for (size_t i = 0; i <= at; i++) {
        bool newline = i < at && text[i] == '\n';
        err->line += newline;
        /* a column counts characters: UTF-8 continuation bytes add none */
        err->column = newline ? 0 : err->column + ((text[i] & 0xC0) != 0x80);
    }
    err->position = (int)at + 1; /* bytes read, as jansson counts */
    snprintf(err->source, sizeof err->source, "<buffer>");
    snprintf(err->text, sizeof err->text, RAW_NUL);
    err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_invalid_syntax;
}

json_t *jsonpath_loadb(const char *text, size_t len, size_t flags, json_error_t *err) {
    const char *nul = memchr(text, '\0', len);
    if (!nul)
        return json_loadb(text, len, flags, err);
    if (err)
        place_raw_nul(err, text, (size_t)(nul - text));
    return NULL;
}

/* json_loadb, and once more past each number jansson refuses, and each
 * key holding a NUL when out_of_range is given (see the header); string
 * values holding one named when nul_strings. */
static json_t *load_past_numbers(const char *text, size_t len, size_t flags, json_error_t *err,
                                 struct field_errors *out_of_range, bool nul_strings) {
    json_t *v = jsonpath_loadb(text, len, flags, err);
    enum json_error_code code = v ? json_error_unknown : json_error_code(err);
    bool nul_key = code == json_error_null_byte_in_key && out_of_range;
    bool again = code == json_error_numeric_overflow || nul_key;
    if (!again && !(v && nul_strings))
        return v;
    size_t copy_len = 0;
    struct buf added = {0};
    /* read whole, the text is walked only to name its strings */
    char *copy = rewrite(text, len, out_of_range, nul_strings, &copy_len, &added);
    if (copy && again)
        v = json_loadb(copy, copy_len, flags, err);
    if (copy && !v)
        place_in_text(err, copy, copy_len, &added);
    free(copy);
    buf_clear(&added);
    return v;
}

/* Whether the text holds a \u0000 escape (or what looks like one). */
static bool has_nul_escape(const char *text, size_t len) {
    for (const char *p = memchr(text, '\\', len); p && (size_t)(p - text) + 6 <= len;
         p = memchr(p + 1, '\\', len - (size_t)(p + 1 - text)))
        if (memcmp(p, "\\u0000", 6) == 0)
            return true;
    return false;
}

json_t *jsonpath_load_past_numbers(const char *text, size_t len, size_t flags, json_error_t *err,
                                   struct field_errors *out_of_range) {
    json_error_t local;
    err = err ? err : &local;
    if (out_of_range && !an_object(text, len))
        out_of_range = NULL;
    /* in an object, a NUL written \u0000 is a field's error, not malformed
     * JSON (only that escape spells one: a raw NUL byte is malformed),
     * unless the caller takes strings holding one (JSON_ALLOW_NUL) */
    bool nul_named = out_of_range && !(flags & JSON_ALLOW_NUL) && has_nul_escape(text, len);
    if (nul_named)
        flags |= JSON_ALLOW_NUL;
    return load_past_numbers(text, len, flags, err, out_of_range, nul_named);
}

json_t *jsonpath_load_wide(const char *text, size_t len, size_t flags, json_error_t *err) {
    return jsonpath_load_past_numbers(text, len, flags, err, NULL);
}

bool jsonpath_at(const char *text, size_t len, size_t offset, char *out, size_t cap) {
    struct walk w = walk_start(text, offset < len ? offset : len);
    bool read = true;
    while (read && w.p < w.end)
        read = step(&w);
    bool found = read && in_a_field(&w);
    if (found)
        write_path(&w, out, cap);
    walk_end(&w);
    return found;
}

const char *jsonpath_fault(const json_error_t *err) {
    /* jansson's JSON_PARSER_MAX_DEPTH: levels as DEPTH_MAX counts them */
    if (json_error_code(err) == json_error_stack_overflow)
        return "JSON nested deeper than 2048 levels";
    return strcmp(err->text, RAW_NUL) == 0 ? "malformed JSON (" RAW_NUL ")" : "malformed JSON";
}
