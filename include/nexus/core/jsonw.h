/*
 * jsonw.h -- a small streaming JSON writer for hot responses.
 *
 * Writes compact JSON straight into a buffer, with no tree in between: the
 * product list and the product read are written this way (building and
 * dumping jansson trees was most of their cost). The output equals what
 * jansson's json_dumpb(JSON_COMPACT) gives for the same values in the same
 * order, byte for byte (tests compare the two). jansson still parses.
 *
 * Commas are placed by the writer: a value after a key, or the first in
 * its object or array, has none. Nesting is bounded by JSONW_MAX_DEPTH.
 */
#ifndef NEXUS_CORE_JSONW_H
#define NEXUS_CORE_JSONW_H

#include "nexus/core/xmem.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define JSONW_MAX_DEPTH 16

struct jsonw {
    struct buf out;
    unsigned depth;
    bool after_key;
    bool has_item[JSONW_MAX_DEPTH + 1]; /* per level: a value was written */
};

void jsonw_object_open(struct jsonw *w);
void jsonw_object_close(struct jsonw *w);
void jsonw_array_open(struct jsonw *w);
void jsonw_array_close(struct jsonw *w);
/* A member's name; its value comes next. */
void jsonw_key(struct jsonw *w, const char *key);
/* The same for a name given as a string literal that JSON holds as it is
 * (letters, digits, '_'): its quoted form is made by the compiler and
 * copied, not escaped (the hot writers name dozens of members per item). */
#define jsonw_member(w, name) jsonw_key_quoted((w), "\"" name "\":", sizeof("\"" name "\":") - 1)
void jsonw_key_quoted(struct jsonw *w, const char *quoted, size_t len);
void jsonw_string(struct jsonw *w, const char *s);
/* A string of len bytes (PostgreSQL gives the length of every value). */
void jsonw_stringn(struct jsonw *w, const char *s, size_t len);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Bytes that are already one JSON value. */
void jsonw_raw(struct jsonw *w, const char *json, size_t len);

/* A jansson value and everything in it, as json_dumpb(JSON_COMPACT)
 * writes it (members in their order), without its buffer callbacks: for
 * answers built as trees. Its nesting does not count towards
 * JSONW_MAX_DEPTH (the recursion is as deep as the value). */
void jsonw_value(struct jsonw *w, const json_t *v);
/* The same appended to b, with no separator before it. */
void jsonw_put_value(struct buf *b, const json_t *v);
/* An integer appended to b, with no separator before it. */
void jsonw_put_int(struct buf *b, int64_t v);

/* One valid JSON value as some other encoder spelled it (PostgreSQL's
 * jsonb text: white space between tokens, its own string escapes),
 * written compact with strings escaped as jansson escapes them. Numbers,
 * literals and member order are kept as they are. */
void jsonw_text(struct jsonw *w, const char *json, size_t len);
/* The same appended to b, with no separator before it. */
void jsonw_put_text(struct buf *b, const char *json, size_t len);

/* Hand the bytes over (the caller frees them) and reset the writer. */
char *jsonw_take(struct jsonw *w, size_t *len);
void jsonw_clear(struct jsonw *w);

#endif
