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

#include <stdbool.h>
#include <stddef.h>

/* The path of the value text (len bytes) is reading at byte offset into
 * out (cap bytes, NUL-terminated; a longer path is cut). False when the
 * offset is not inside a member or an item (the top level, a key), or the
 * text up to it does not read as JSON. */
bool jsonpath_at(const char *text, size_t len, size_t offset, char *out, size_t cap);

/* Overwrite the number that ends at byte offset end of text with a 0 and
 * spaces (same length), so that the rest of the document can be read. */
void jsonpath_zero_number(char *text, size_t end);

#endif
