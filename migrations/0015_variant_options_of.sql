-- The options summary of variants given in their order (position, then
-- id), so that a writer that has a product's variants before they are
-- stored (an import's batch) inserts the product with what
-- nexus_product_derive would compute, and never rewrites it. Each name
-- spelled as its first variant spells it, sorted case-insensitively; each
-- value in variant order, a value repeated in another case counted once.
CREATE FUNCTION nexus_options_of(opts jsonb[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH o AS (
        SELECT e.k, e.v, u.i
        FROM unnest(opts) WITH ORDINALITY AS u(options, i), jsonb_each_text(u.options) AS e(k, v)),
    names AS (
        SELECT DISTINCT ON (lower(k)) lower(k) AS lk, k FROM o ORDER BY lower(k), i),
    vals AS (
        SELECT DISTINCT ON (lower(k), lower(v)) lower(k) AS lk, v, i
        FROM o ORDER BY lower(k), lower(v), i)
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', names.k, 'values',
               (SELECT jsonb_agg(vals.v ORDER BY vals.i) FROM vals WHERE vals.lk = names.lk))
               ORDER BY names.lk, names.k), '[]')
    FROM names
$$;

CREATE OR REPLACE FUNCTION nexus_variant_options(pid bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT nexus_options_of(ARRAY(SELECT options FROM product_variants
                                  WHERE product_id = pid AND deleted_at IS NULL
                                  ORDER BY position, id))
$$;
