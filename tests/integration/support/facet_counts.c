/*
 * facet_counts.c -- the facet counts kept with the writes (migrations
 * 0016, 0017) against a count from scratch over the products: a product
 * counts in scope 0 and in the scope of its category and of every
 * category above it.
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

#define KEPT "SELECT scope, term, sum(n) AS n FROM facet_counts GROUP BY 1, 2 HAVING sum(n) <> 0"
#define FROM_SCRATCH                                                                               \
    "SELECT s.scope, t.term, count(*) AS n FROM products p,"                                       \
    " LATERAL (SELECT 0::bigint UNION ALL (WITH RECURSIVE up AS (SELECT c.id, c.parent_id"         \
    " FROM categories c WHERE c.id = p.category_id UNION ALL SELECT c.id, c.parent_id"             \
    " FROM categories c JOIN up ON c.id = up.parent_id) SELECT id FROM up)) AS s(scope),"          \
    " unnest(p.facet_attributes || p.facet_options || CASE WHEN p.stock > 0"                       \
    " THEN '{0,-1}'::integer[] ELSE '{0}'::integer[] END) AS t(term)"                              \
    " WHERE p.is_active AND p.deleted_at IS NULL GROUP BY 1, 2"

void harness_expect_facet_counts_exact(const struct nexus_server *s, const char *when) {
    char *diff = harness_sql(s, "SELECT count(*) FROM ((" KEPT " EXCEPT " FROM_SCRATCH
                                ") UNION ALL (" FROM_SCRATCH " EXCEPT " KEPT ")) d");
    if (!diff || strcmp(diff, "0") != 0)
        fail_msg("after %s: %s kept facet counts differ from the products", when,
                 diff ? diff : "(no answer)");
    free(diff);
}
