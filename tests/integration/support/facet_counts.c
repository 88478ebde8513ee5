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
/* every category with itself and each category above it, and every
 * product with no category in scope 0 alone (category ids start at 1) */
#define FROM_SCRATCH                                                                               \
    "SELECT s.scope, t.term, count(*) AS n FROM products p JOIN (WITH RECURSIVE up (cat, scope)"   \
    " AS (SELECT id, id FROM categories UNION ALL SELECT up.cat, c.parent_id FROM up"              \
    " JOIN categories c ON c.id = up.scope WHERE c.parent_id IS NOT NULL)"                         \
    " SELECT cat, scope FROM up UNION ALL SELECT id, 0 FROM categories UNION ALL SELECT 0, 0) s"   \
    " ON s.cat = coalesce(p.category_id, 0),"                                                      \
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
