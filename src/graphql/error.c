/*
 * error.c -- the bounded list of GraphQL errors.
 */
#include "nexus/graphql/error.h"

#include "nexus/core/xmem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static struct gql_error *next_slot(struct gql_errors *errs, const char *code) {
    if (errs->full)
        return NULL;
    if (errs->count == errs->cap) {
        errs->cap = errs->cap ? errs->cap * 2 : 8;
        errs->items = xrealloc(errs->items, errs->cap * sizeof *errs->items);
    }
    struct gql_error *e = &errs->items[errs->count++];
    memset(e, 0, sizeof *e);
    e->code = code;
    if (errs->count == GQL_ERRORS_MAX) {
        errs->full = true;
        e->code = GQL_CODE_LIMIT; /* in validation and in execution alike */
        e->message = xstrdup("Too many errors: the list was cut here.");
        return NULL;
    }
    return e;
}

__attribute__((format(printf, 5, 0))) static void add(struct gql_errors *errs, const char *code,
                                                      const struct gql_loc *locs, size_t n,
                                                      const char *fmt, va_list ap) {
    struct gql_error *e = next_slot(errs, code);
    if (!e)
        return;
    struct buf b = {0};
    buf_vprintf(&b, fmt, ap);
    gql_cut_text(&b, 0, GQL_MESSAGE_MAX);
    /* A message quotes the client's text, cut at a character's end; a
     * quoted byte of a document that is no UTF-8 becomes U+FFFD: the
     * error must not be lost. */
    e->message = buf_take_utf8(&b);
    for (size_t i = 0; i < n && i < GQL_ERROR_LOCS_MAX; i++)
        e->locs[e->loc_count++] = locs[i];
}

void gql_error_add(struct gql_errors *errs, const char *code, const struct gql_loc *loc,
                   const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add(errs, code, loc, loc ? 1 : 0, fmt, ap);
    va_end(ap);
}

void gql_error_addv(struct gql_errors *errs, const char *code, const struct gql_loc *locs, size_t n,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add(errs, code, locs, n, fmt, ap);
    va_end(ap);
}

void gql_error_set_path(struct gql_errors *errs, const char *path_json) {
    if (errs->full || errs->count == 0)
        return;
    struct gql_error *e = &errs->items[errs->count - 1];
    free(e->path);
    e->path = xstrdup(path_json);
}

void gql_cut_text(struct buf *b, size_t start, size_t max) {
    if (b->len - start <= max) /* b->data may be NULL */
        return;
    size_t kept = utf8_prefix(b->data + start, b->len - start, max);
    if (kept < b->len - start) {
        b->len = start + kept;
        b->data[b->len] = '\0';
        buf_puts(b, "...");
    }
}

bool gql_errors_full(const struct gql_errors *errs) {
    return errs->full;
}

void gql_errors_clear(struct gql_errors *errs) {
    for (size_t i = 0; i < errs->count; i++)
        free(errs->items[i].message), free(errs->items[i].path);
    free(errs->items);
    memset(errs, 0, sizeof *errs);
}
