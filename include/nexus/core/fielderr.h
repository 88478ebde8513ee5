/*
 * fielderr.h -- the findings of a validation: one entry per bad field.
 *
 * Validators (model/) add entries and know nothing of where they end up:
 * the HTTP edge renders them as the "errors" of a 422, a batch import can
 * report them per row. Entries keep the order in which they were added.
 * The list holds one entry per finding, so its length is bounded by the
 * input that was validated; it owns copies of its strings.
 */
#ifndef NEXUS_CORE_FIELDERR_H
#define NEXUS_CORE_FIELDERR_H

#include "nexus/core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct field_error {
    char *field;
    char *message;
};

/* Zero-initialised is an empty list. */
struct field_errors {
    struct field_error *items;
    size_t count;
    size_t cap;
};

/* Add an entry for field with a printf-style message; returns
 * NX_ERR_VALIDATION, so a validator can write `e = fielderr_add(...)`. */
enum nx_err fielderr_add(struct field_errors *list, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t fielderr_count(const struct field_errors *list);

/* Entry i (0 <= i < count), in the order added. */
const struct field_error *fielderr_at(const struct field_errors *list, size_t i);

/* Whether an entry names field: one entry per bad field. */
bool fielderr_names(const struct field_errors *list, const char *field);

/* Add a copy of each entry of from to list, in order. */
void fielderr_append(struct field_errors *list, const struct field_errors *from);

/* Free every entry; the list is empty (and reusable) afterwards. */
void fielderr_clear(struct field_errors *list);

#endif
