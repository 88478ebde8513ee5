/*
 * valuelist.h -- the list of values attr.<key>= and option.<name>= take:
 * values separated by commas, where a backslash escapes the next
 * character ("\," is a comma inside a value, "\\" a backslash). Every
 * value stays writable, and a list of plain values means what it always
 * did.
 */
#ifndef NEXUS_CORE_VALUELIST_H
#define NEXUS_CORE_VALUELIST_H

#include "nexus/core/xmem.h"

#include <stddef.h>

enum valuelist_error {
    VALUELIST_OK,
    VALUELIST_EMPTY_VALUE, /* ",a", "a,,b", "a," */
    VALUELIST_BAD_ESCAPE,  /* a backslash before anything but ',' or '\', or at the end */
};

/* s[0..len) (len > 0) as a PostgreSQL text[] literal of its values,
 * unescaped and quoted ({"x,y","z"}), appended to array; *count is the
 * number of values. On an error, array holds a part of the literal. */
enum valuelist_error valuelist_to_array(const char *s, size_t len, struct buf *array,
                                        size_t *count);

/* value as the next item of list: a comma first unless list is empty,
 * then the value with its commas and backslashes escaped. */
void valuelist_append(struct buf *list, const char *value);

#endif
