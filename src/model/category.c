/*
 * category.c -- category validation and serialisation.
 */
#include "nexus/model/category.h"

#include "nexus/model/fields.h"

#include <stdlib.h>
#include <string.h>

enum nx_err catalog_text_fields(struct field_errors *errs, json_t *body, bool derive,
                                const char **name, const char **slug, const char **description) {
    enum nx_err e = NX_OK;
    char derived[NX_SLUG_MAX + 2];
    json_t *d = json_object_get(body, "description");
    *name = field_string(body, "name");
    *slug = field_string(body, "slug");
    *description = json_is_null(d) ? "" : json_string_value(d);
    if (*name) {
        if (!display_name_valid(*name, NX_NAME_MAX))
            e = fielderr_add(errs, "name", "must be 1 to 200 characters, not only white space");
    }
    if (derive && !*slug && *name && e == NX_OK && !slug_from_name(*name, derived, NX_SLUG_MAX))
        e = fielderr_add(errs, "slug", "cannot be derived from this name; give one");
    if (*slug && !slug_is_valid(*slug))
        e = fielderr_add(errs, "slug",
                         "must be lower-case letters, digits and single hyphens, at most 100 "
                         "characters, not all digits");
    if (*description && utf8_length(*description) > NX_DESCRIPTION_MAX)
        e = fielderr_add(errs, "description", "must be at most 10000 characters");
    return e;
}

enum nx_err category_input_parse(struct field_errors *errs, json_t *body, bool create,
                                 struct category_input *in) {
    const struct field_spec spec[] = {
        {"name", FIELD_STRING, create},
        {"slug", FIELD_STRING, false},
        {"description", FIELD_STRING_OR_NULL, false},
        {"parent_id", FIELD_INTEGER_OR_NULL, false},
    };
    memset(in, 0, sizeof *in);
    enum nx_err e = fields_check(errs, body, spec, 4);
    if (catalog_text_fields(errs, body, create, &in->name, &in->slug, &in->description) != NX_OK)
        e = NX_ERR_VALIDATION;
    json_t *parent = json_object_get(body, "parent_id");
    in->has_parent = parent && (json_is_null(parent) || json_is_integer(parent));
    in->parent_id = json_is_integer(parent) ? (int64_t)json_integer_value(parent) : 0;
    if (json_is_integer(parent) && in->parent_id < 1)
        e = fielderr_add(errs, "parent_id", "no such category");
    return e;
}

const char *const category_field_names[] = {
    "id", "name", "slug", "description", "parent_id", "created_at", "updated_at",
};
const size_t category_field_count = sizeof category_field_names / sizeof category_field_names[0];

json_t *category_to_json(const PGresult *r, int row) {
    json_t *c = json_object();
    json_object_set_new(c, "id", json_integer(strtoll(PQgetvalue(r, row, CC_ID), NULL, 10)));
    json_object_set_new(c, "name", json_string(PQgetvalue(r, row, CC_NAME)));
    json_object_set_new(c, "slug", json_string(PQgetvalue(r, row, CC_SLUG)));
    json_object_set_new(c, "description", json_string(PQgetvalue(r, row, CC_DESCRIPTION)));
    json_object_set_new(c, "parent_id",
                        PQgetisnull(r, row, CC_PARENT_ID)
                            ? json_null()
                            : json_integer(strtoll(PQgetvalue(r, row, CC_PARENT_ID), NULL, 10)));
    json_object_set_new(c, "created_at", json_string(PQgetvalue(r, row, CC_CREATED_AT)));
    json_object_set_new(c, "updated_at", json_string(PQgetvalue(r, row, CC_UPDATED_AT)));
    return c;
}
