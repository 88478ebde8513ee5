/*
 * fields.h -- fields= on catalog reads: which top-level members of a
 * product or category (item or list item) the answer keeps.
 *
 * fields=id,name,price keeps those members and id, always, in the order
 * of the full representation; a list keeps its envelope (items,
 * next_cursor, total) and projects each item. An empty value, an empty
 * name, an unknown or repeated name, or a value over NX_FIELDS_TEXT_MAX
 * bytes is a 400 naming the parameter. The projection works on the bytes
 * of the written answer (core/jsonpick.h), so one implementation serves
 * every resource and a read without fields= does no extra work.
 *
 * A partial product item has its own ETag, the tag of its bytes like any
 * representation: it never equals the full item's ETag (unless every
 * field was asked for, when the bytes are the same), so If-None-Match
 * cannot confuse the two, and an If-Match with a partial tag is a 412.
 */
#ifndef NEXUS_API_FIELDS_H
#define NEXUS_API_FIELDS_H

#include "nexus/http/request.h"

#include <stdbool.h>
#include <stddef.h>

#define NX_FIELDS_MAX      32
#define NX_FIELDS_TEXT_MAX 1024

struct fields_choice {
    bool given;
    size_t count;
    const char *keep[NX_FIELDS_MAX + 1]; /* entries of known, "id" among them */
};

/* Read fields= against the resource's member names known[0..n) (which
 * include "id"); out->given is false without the parameter. */
enum nx_err api_fields_parse(struct request *req, const char *const *known, size_t n,
                             struct fields_choice *out);

/* When fields were given, replace *body (*len bytes, malloc'd: an object
 * or an array of objects) by its projection. */
void api_fields_apply(const struct fields_choice *f, char **body, size_t *len);

#endif
