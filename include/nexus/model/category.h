/*
 * category.h -- categories: validated input from JSON, rows to JSON.
 */
#ifndef NEXUS_MODEL_CATEGORY_H
#define NEXUS_MODEL_CATEGORY_H

#include "nexus/core/fielderr.h"
#include "nexus/model/catalog.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* Columns of every query that returns categories, in this order. */
enum category_col {
    CC_ID,
    CC_NAME,
    CC_SLUG,
    CC_DESCRIPTION,
    CC_PARENT_ID,
    CC_CREATED_AT,
    CC_UPDATED_AT,
    CC_SORT_NAME
};

struct category_input {
    const char *name;        /* NULL: not given */
    const char *slug;        /* NULL: not given (derive on create) */
    const char *description; /* NULL: not given; "" for JSON null */
    bool has_parent;
    int64_t parent_id; /* 0: null */
};

/* POST (create: name required) or PATCH (all optional). */
enum nx_err category_input_parse(struct field_errors *errs, json_t *body, bool create,
                                 struct category_input *in);

json_t *category_to_json(const PGresult *r, int row);

/* The top-level member names of category JSON, in the order it has them. */
extern const char *const category_field_names[];
extern const size_t category_field_count;

#endif
