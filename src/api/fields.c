/*
 * fields.c -- fields= on catalog reads (see api/fields.h).
 */
#include "nexus/api/fields.h"

#include "nexus/core/jsonpick.h"
#include "nexus/http/problem.h"

#include <stdlib.h>
#include <string.h>

/* The entry of known spelled name[0..len), or NULL. */
static const char *known_name(const char *const *known, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0)
            return known[i];
    return NULL;
}

static bool chosen(const struct fields_choice *f, const char *name) {
    for (size_t i = 0; i < f->count; i++)
        if (f->keep[i] == name)
            return true;
    return false;
}

/* Add the name v[0..len) to out, or record why it cannot be. */
static enum nx_err add_name(struct request *req, const char *const *known, size_t n, const char *v,
                            size_t len, struct fields_choice *out) {
    const char *name = known_name(known, n, v, len);
    if (len == 0)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "fields must be a comma-separated list of field names, none empty");
    /* the name is shown when it is short and plain */
    bool plain = len <= 64 && strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") >= len;
    if (!name && plain)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "fields: unknown field '%.*s'", (int)len, v);
    if (!name)
        return problem_detail(req, NX_ERR_BAD_REQUEST,
                              "fields: unknown field (names are separated by commas, with no "
                              "spaces or other separators)");
    if (chosen(out, name))
        return problem_detail(req, NX_ERR_BAD_REQUEST, "fields: '%s' is repeated", name);
    NX_ASSERT(out->count < NX_FIELDS_MAX && n <= NX_FIELDS_MAX);
    out->keep[out->count++] = name;
    return NX_OK;
}

enum nx_err api_fields_parse(struct request *req, const char *const *known, size_t n,
                             struct fields_choice *out) {
    struct slice v;
    memset(out, 0, sizeof *out);
    enum nx_err e = request_query(req, "fields", &v);
    if (e != NX_OK || !v.ptr)
        return e;
    if (v.len > NX_FIELDS_TEXT_MAX)
        return problem_detail(req, NX_ERR_BAD_REQUEST, "fields is longer than %d bytes",
                              NX_FIELDS_TEXT_MAX);
    for (size_t start = 0;;) {
        const char *comma = memchr(v.ptr + start, ',', v.len - start);
        size_t end = comma ? (size_t)(comma - v.ptr) : v.len;
        if ((e = add_name(req, known, n, v.ptr + start, end - start, out)) != NX_OK)
            return e;
        if (!comma)
            break;
        start = end + 1;
    }
    const char *id = known_name(known, n, "id", 2);
    if (!chosen(out, id))
        out->keep[out->count++] = id;
    out->given = true;
    return NX_OK;
}

void api_fields_apply(const struct fields_choice *f, char **body, size_t *len) {
    if (!f->given)
        return;
    struct buf out = {0};
    jsonpick(&out, *body, *len, f->keep, f->count);
    free(*body);
    *body = buf_take(&out, len);
}
