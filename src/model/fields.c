/*
 * fields.c -- body allowlists, string lengths, email normalisation.
 */
#include "nexus/model/fields.h"

#include <ctype.h>
#include <string.h>

static const struct field_spec *find_spec(const struct field_spec *specs, size_t n,
                                          const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(specs[i].name, key) == 0)
            return &specs[i];
    return NULL;
}

static const char *type_error(const struct field_spec *s, json_t *v) {
    switch (s->type) {
    case FIELD_STRING:
        return json_is_string(v) ? NULL : "must be a string";
    case FIELD_STRING_OR_NULL:
        return json_is_string(v) || json_is_null(v) ? NULL : "must be a string or null";
    case FIELD_BOOL:
        return json_is_boolean(v) ? NULL : "must be a boolean";
    case FIELD_INTEGER:
        return json_is_integer(v) ? NULL : "must be an integer";
    case FIELD_INTEGER_OR_NULL:
        return json_is_integer(v) || json_is_null(v) ? NULL : "must be an integer or null";
    case FIELD_OBJECT:
        return json_is_object(v) ? NULL : "must be an object";
    case FIELD_ARRAY:
        return json_is_array(v) ? NULL : "must be an array";
    case FIELD_ANY:
        return NULL;
    }
    return "has the wrong type";
}

enum nx_err fields_check(struct field_errors *errs, json_t *obj, const struct field_spec *specs,
                         size_t n) {
    enum nx_err e = NX_OK;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const struct field_spec *s = find_spec(specs, n, key);
        const char *why = s ? type_error(s, v) : "is not a known field";
        if (why)
            e = fielderr_add(errs, key, "%s", why);
    }
    for (size_t i = 0; i < n; i++)
        if (specs[i].required && !json_object_get(obj, specs[i].name))
            e = fielderr_add(errs, specs[i].name, "is required");
    return e;
}

size_t utf8_length(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The length of the white-space character at s (Unicode White_Space,
 * as UTF-8), or 0. */
static size_t white_space_at(const unsigned char *s) {
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    if (s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) /* NEL, NO-BREAK SPACE */
        return 2;
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* OGHAM SPACE MARK */
        return 3;
    if (s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) /* U+2000-200A, 2028, */
        return 3;                                                       /* 2029, 202F */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) /* MEDIUM MATHEMATICAL SPACE */
        return 3;
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) /* IDEOGRAPHIC SPACE */
        return 3;
    return 0;
}

bool display_name_valid(const char *s, size_t max) {
    size_t n = utf8_length(s);
    if (n < 1 || n > max)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t w; *p && (w = white_space_at(p)) > 0;)
        p += w;
    return *p != '\0';
}

const char *field_string(json_t *obj, const char *name) {
    return json_string_value(json_object_get(obj, name));
}

static bool valid_local(const char *s, size_t n) {
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>@[\\]", c) || (c == '.' && s[i + 1] == '.'))
            return false;
    }
    return true;
}

/* Labels of letters, digits and hyphens, at least two, no empty label. */
static bool valid_domain(const char *s, size_t n) {
    size_t label = 0, dots = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            dots++;
        } else if (isalnum(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return dots > 0 && label > 0 && s[n - 1] != '-';
}

/* in without the white space around it: its start, its length in *n. */
static const char *trimmed(const char *in, size_t *n) {
    while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
        in++;
    size_t len = strlen(in);
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\n' ||
                   in[len - 1] == '\r'))
        len--;
    *n = len;
    return in;
}

static void lower_into(const char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
}

bool email_as_given(const char *in, char *out, size_t cap) {
    size_t n;
    in = trimmed(in, &n);
    if (n == 0 || cap == 0)
        return false;
    if (n > 254) { /* no account has it: "" if it is at most 254 characters */
        size_t chars = 0;
        for (size_t i = 0; i < n && chars <= 254; i++)
            chars += ((unsigned char)in[i] & 0xC0) != 0x80;
        out[0] = '\0';
        return chars <= 254;
    }
    if (n >= cap)
        return false;
    lower_into(in, n, out);
    return true;
}

bool email_normalize(const char *in, char *out, size_t cap) {
    size_t n;
    in = trimmed(in, &n);
    if (n == 0 || n > 254 || n >= cap)
        return false;
    const char *at = memchr(in, '@', n);
    if (!at || memchr(at + 1, '@', n - (size_t)(at - in) - 1))
        return false;
    size_t local = (size_t)(at - in);
    if (!valid_local(in, local) || !valid_domain(at + 1, n - local - 1))
        return false;
    lower_into(in, n, out);
    return true;
}
