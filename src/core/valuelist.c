/*
 * valuelist.c -- comma-separated values with backslash escapes: see
 * valuelist.h.
 */
#include "nexus/core/valuelist.h"

/* c as a character of a quoted array element: '"' and '\' escaped. */
static void array_char(struct buf *array, char c) {
    if (c == '"' || c == '\\')
        buf_append(array, "\\", 1);
    buf_append(array, &c, 1);
}

enum valuelist_error valuelist_to_array(const char *s, size_t len, struct buf *array,
                                        size_t *count) {
    size_t value_len = 0;
    *count = 1;
    buf_puts(array, "{\"");
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ',') {
            if (value_len == 0)
                return VALUELIST_EMPTY_VALUE;
            buf_puts(array, "\",\"");
            ++*count;
            value_len = 0;
            continue;
        }
        if (s[i] == '\\' && (i + 1 == len || (s[i + 1] != ',' && s[i + 1] != '\\')))
            return VALUELIST_BAD_ESCAPE;
        i += s[i] == '\\'; /* the escaped character, taken as it is */
        array_char(array, s[i]);
        value_len++;
    }
    if (value_len == 0)
        return VALUELIST_EMPTY_VALUE;
    buf_puts(array, "\"}");
    return VALUELIST_OK;
}

void valuelist_append(struct buf *list, const char *value) {
    if (list->len)
        buf_append(list, ",", 1);
    for (const char *c = value; *c; c++) {
        if (*c == ',' || *c == '\\')
            buf_append(list, "\\", 1);
        buf_append(list, c, 1);
    }
}
