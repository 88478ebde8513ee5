/*
 * resolve.c -- a resolver's failure (see resolve.h).
 */
#include "nexus/graphql/resolve.h"

#include "nexus/core/xmem.h"
#include "nexus/graphql/error.h"

#include <stdarg.h>
#include <stdlib.h>

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
