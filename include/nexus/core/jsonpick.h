/*
 * jsonpick.h -- keep only some members of a JSON representation.
 *
 * The projection behind fields=: given the compact JSON of an object, or
 * of an array of objects (what core/jsonw and jansson's compact dump
 * write), copy it keeping only the top-level members of each object whose
 * names are listed, in the order the representation has them. It works
 * on the bytes, without a tree: kept members are copied as they are, so
 * the result is byte for byte what the writer would have written for
 * those members alone, and a response without fields= pays nothing.
 */
#ifndef NEXUS_CORE_JSONPICK_H
#define NEXUS_CORE_JSONPICK_H

#include "nexus/core/xmem.h"

#include <stddef.h>

/* Append to out the projection of json (len bytes, valid compact JSON,
 * an object or an array) onto the names keep[0..n). Anything else than an
 * object or an array of objects is copied as it is. */
void jsonpick(struct buf *out, const char *json, size_t len, const char *const *keep, size_t n);

#endif
