/*
 * solo_variants.c -- the solo columns of products (migration 0028)
 * against their variants: a live product with one live variant holds its
 * id, stock, options, active flag, position and timestamps; any other
 * holds none.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SOLO_MISMATCHES                                                                            \
    " FROM products p LEFT JOIN LATERAL (SELECT v.id, v.stock, v.options,"                         \
    " v.is_active, v.position, v.created_at, v.updated_at FROM product_variants v"                 \
    " WHERE v.product_id = p.id AND v.deleted_at IS NULL AND NOT EXISTS (SELECT 1"                 \
    " FROM product_variants w WHERE w.product_id = p.id AND w.deleted_at IS NULL"                  \
    " AND w.id <> v.id)) s ON true WHERE p.deleted_at IS NULL"                                     \
    " AND (p.solo_variant_id, p.solo_stock, p.solo_options, p.solo_is_active, p.solo_position,"    \
    " p.solo_created_at, p.solo_updated_at) IS DISTINCT FROM (s.id, s.stock, s.options,"           \
    " s.is_active, s.position, s.created_at, s.updated_at)"

void harness_expect_solo_variants_exact(const struct nexus_server *s, const char *when) {
    char *diff = harness_sql(s, "SELECT count(*)" SOLO_MISMATCHES);
    if (diff && strcmp(diff, "0") != 0) {
        char *rows = harness_sql(s, "SELECT string_agg(format('product %s: holds %s, variant %s',"
                                    " p.id, row(p.solo_variant_id, p.solo_stock, p.solo_options,"
                                    " p.solo_is_active, p.solo_position, p.solo_created_at,"
                                    " p.solo_updated_at), row(s.*)), E'\\n')" SOLO_MISMATCHES);
        fprintf(stderr, "%s\n", rows ? rows : "");
        free(rows);
    }
    if (!diff || strcmp(diff, "0") != 0)
        fail_msg("after %s: %s products' solo columns differ from their variants", when,
                 diff ? diff : "(no answer)");
    free(diff);
}
