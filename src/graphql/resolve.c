/*
 * resolve.c -- a resolver's failure (see resolve.h).
 */
#include "nexus/graphql/resolve.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static bool may_select(const struct gql_selection *sels, const char *name) {
    for (const struct gql_selection *s = sels; s; s = s->next) {
        if (s->kind == GQL_SEL_SPREAD || (s->kind == GQL_SEL_FIELD && strcmp(s->name, name) == 0))
            return true;
        if (may_select(s->selections, name))
            return true;
    }
    return false;
}

bool gql_field_may_select(const struct gql_field_call *call, const char *name) {
    for (size_t i = 0; i < call->selection_count; i++)
        if (may_select(call->selections[i]->selections, name))
            return true;
    return call->selection_count == 0; /* not told: it may */
}

static bool named_in(const char *name, const char *const *names) {
    for (; *names; names++)
        if (strcmp(name, *names) == 0)
            return true;
    return false;
}

static bool selects_only(const struct gql_selection *sels, const char *const *names) {
    for (const struct gql_selection *s = sels; s; s = s->next) {
        if (s->kind == GQL_SEL_SPREAD || (s->kind == GQL_SEL_FIELD && !named_in(s->name, names)))
            return false;
        if (s->kind == GQL_SEL_INLINE && !selects_only(s->selections, names))
            return false;
    }
    return true;
}

bool gql_field_selects_only(const struct gql_field_call *call, const char *const *names) {
    for (size_t i = 0; i < call->selection_count; i++)
        if (!selects_only(call->selections[i]->selections, names))
            return false;
    return call->selection_count > 0; /* not told: it may select anything */
}

void gql_field_fail(struct gql_field_call *call, const char *code, const char *fmt, ...) {
    struct buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(call->error);
    call->error = buf_take(&b, NULL);
    call->code = code ? code : GQL_CODE_FIELD;
}
