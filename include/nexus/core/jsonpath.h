/*
 * jsonpath.h -- the field a position in a JSON document belongs to.
 *
 * When a parser stops inside a document (jansson refuses a number beyond
 * the range it keeps: an integer past 64 bits, a real past a double), the
 * text before that position is valid JSON: this names the value being
 * read there the way validation errors name fields, members by key and
 * array items by index ("stock", "attributes.weight_g",
 * "variants[1].price"), so the error can be a 422 on that field.
 */
#ifndef NEXUS_CORE_JSONPATH_H
#define NEXUS_CORE_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* How many fields one document's loading names at most (the first). */
#define JSONPATH_NAMED_MAX 64

/* The path of the value text (len bytes) is reading at byte offset into
 * out (cap bytes, NUL-terminated; a longer path is cut between
 * characters). Keys are named with their escapes decoded ("st\u006fck"
 * is stock; \u0000 stays as written). False when the offset is not inside
 * a member or an item (the top level, a key), or the text up to it does
 * not read as JSON (or nests deeper than 2,048 levels, as jansson: each
 * array and object is a level, and so is the value innermost). */
bool jsonpath_at(const char *text, size_t len, size_t offset, char *out, size_t cap);

/* json_loadb, refusing a raw NUL byte anywhere in the text first: jansson
 * reads one right after a number or a literal as the token's end and goes
 * on ({"a":1<NUL>} is {"a":1}), where JSON has no place for one (in a
 * string it is written \u0000). err (may be NULL) places the byte as
 * jansson places its errors: line, column (characters) and position. */
json_t *jsonpath_loadb(const char *text, size_t len, size_t flags, json_error_t *err);

/* jsonpath_loadb, with every integer past 64 bits read as the nearest double,
 * as a real of the same digits would be (a JSON number is a number
 * whatever its digits); err (may be NULL) as json_loadb's for the last
 * attempt. One pass over the text and a second parse, whatever the count
 * of such numbers. */
json_t *jsonpath_load_wide(const char *text, size_t len, size_t flags, json_error_t *err);

/* Whether text[0..len) is one JSON number (RFC 8259's grammar), whatever
 * its size. */
bool jsonpath_is_number(const char *text, size_t len);

struct field_errors;

/* jsonpath_load_wide, and in an object also past reals beyond a double
 * (and integers beyond one): each is read as 0 and its field named in
 * *out_of_range ("is a number out of range"), which the caller answers
 * instead of the value read. A request body and an import row read their
 * numbers this way, so both name the same fields. A key holding a NUL
 * (\u0000) is named the same way ("must not contain a NUL character"),
 * and the rest of the object read; so is a string value holding one,
 * unless flags hold JSON_ALLOW_NUL (the caller takes such strings). At
 * most JSONPATH_NAMED_MAX fields are named, the first in the text; there
 * is at least one whenever any is. A value under a key holding a NUL,
 * however deep, is not named again, the key being its field; such a key
 * is read as another key, never as one of its object's other keys, so
 * that two keys are duplicates only when they are in the text. */
json_t *jsonpath_load_past_numbers(const char *text, size_t len, size_t flags, json_error_t *err,
                                   struct field_errors *out_of_range);

/* How many container levels this thread has gone through writing the
 * paths of fields so far (each named field costs one per level it is
 * deep): a measure of that work, for tests to bound. */
size_t jsonpath_levels_written(void);

/* What stopped a parse, for a client's message: "malformed JSON", a raw
 * NUL byte, or that the document nests deeper than the parser goes, 2,048 levels
 * (well-formed, but refused all the same): each array and object is a
 * level, and so is the value innermost ([[1]] is three). */
const char *jsonpath_fault(const json_error_t *err);

#endif
