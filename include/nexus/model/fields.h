/*
 * fields.h -- allowlist validation of JSON request bodies.
 *
 * Each endpoint declares the keys it accepts and their JSON types. Anything
 * else is one field error per offending field (a 422 at the HTTP edge):
 * unknown keys (this is what stops "role": "admin" on register), missing
 * required keys, and values of the wrong JSON type ("stock": "5").
 */
#ifndef NEXUS_MODEL_FIELDS_H
#define NEXUS_MODEL_FIELDS_H

#include "nexus/core/fielderr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum field_type {
    FIELD_STRING,
    FIELD_STRING_OR_NULL,
    FIELD_BOOL,
    FIELD_INTEGER,
    FIELD_INTEGER_OR_NULL,
    FIELD_OBJECT,
    FIELD_ARRAY,
    FIELD_ANY, /* any JSON value: the field's own validator checks it */
};

struct field_spec {
    const char *name;
    enum field_type type;
    bool required;
};

/* Check obj against specs; adds every problem to errs and returns NX_OK or
 * NX_ERR_VALIDATION. */
enum nx_err fields_check(struct field_errors *errs, json_t *obj, const struct field_spec *specs,
                         size_t n);

/* Number of Unicode code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

/* A name for people to read: 1 to max code points, not only white space
 * (Unicode's, the no-break and ideographic spaces included). */
bool display_name_valid(const char *s, size_t max);

/* Trim, lower-case and check an email address into out (cap >= 255).
 * False when it does not look like an address. */
bool email_normalize(const char *in, char *out, size_t cap);

/* Any address as given, trimmed and lower-cased like email_normalize's,
 * whether or not it is well-formed: false only when it is empty, longer
 * than 254 characters, or does not fit cap. One of more than 254 bytes in
 * at most 254 characters can be no account's (addresses are kept to 254
 * bytes): out is then "". What a request that must not tell valid from
 * invalid addresses keys its work on. */
bool email_as_given(const char *in, char *out, size_t cap);

/* A string field's value, or NULL when absent or null. */
const char *field_string(json_t *obj, const char *name);

#endif
