/*
 * fielderr.c -- a growable list of field/message pairs.
 */
#include "nexus/core/fielderr.h"

#include "nexus/core/xmem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum nx_err fielderr_add(struct field_errors *list, const char *field, const char *fmt, ...) {
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 4;
        list->items = xrealloc(list->items, list->cap * sizeof *list->items);
    }
    struct buf message = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&message, fmt, ap);
    va_end(ap);
    struct buf name = {0};
    buf_puts(&name, field);
    /* the response carries both as JSON strings: a byte of the client's
     * that is no UTF-8 must not make the answer fail */
    struct field_error *entry = &list->items[list->count++];
    entry->field = buf_take_utf8(&name);
    entry->message = buf_take_utf8(&message);
    return NX_ERR_VALIDATION;
}

size_t fielderr_count(const struct field_errors *list) {
    return list->count;
}

const struct field_error *fielderr_at(const struct field_errors *list, size_t i) {
    NX_ASSERT(i < list->count);
    return &list->items[i];
}

bool fielderr_names(const struct field_errors *list, const char *field) {
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].field, field) == 0)
            return true;
    return false;
}

void fielderr_append(struct field_errors *list, const struct field_errors *from) {
    for (size_t i = 0; i < from->count; i++)
        fielderr_add(list, from->items[i].field, "%s", from->items[i].message);
}

void fielderr_clear(struct field_errors *list) {
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].field);
        free(list->items[i].message);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->cap = 0;
}
