-- The options summary of a product's variants (migration 0015), with the
-- same results, in PL/pgSQL. Every variant write and every product write
-- derives the product's columns (nexus_product_derive), which computes
-- this summary. A LANGUAGE sql function that is not inlined is parsed and
-- planned again on every call from another function; PL/pgSQL keeps each
-- statement's plan for the session. The two nested SQL functions cost a
-- product write about 130 us of PostgreSQL's CPU, half of its derivation.
CREATE OR REPLACE FUNCTION nexus_options_of(opts jsonb[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (
        WITH o AS (
            SELECT e.k, e.v, u.i
            FROM unnest(opts) WITH ORDINALITY AS u(options, i),
                 jsonb_each_text(u.options) AS e(k, v)),
        names AS (
            SELECT DISTINCT ON (lower(k)) lower(k) AS lk, k FROM o ORDER BY lower(k), i),
        vals AS (
            SELECT DISTINCT ON (lower(k), lower(v)) lower(k) AS lk, v, i
            FROM o ORDER BY lower(k), lower(v), i)
        SELECT coalesce(jsonb_agg(jsonb_build_object('name', names.k, 'values',
                   (SELECT jsonb_agg(vals.v ORDER BY vals.i) FROM vals WHERE vals.lk = names.lk))
                   ORDER BY names.lk, names.k), '[]')
        FROM names);
END
$$;

CREATE OR REPLACE FUNCTION nexus_variant_options(pid bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN nexus_options_of(ARRAY(SELECT options FROM product_variants
                                  WHERE product_id = pid AND deleted_at IS NULL
                                  ORDER BY position, id));
END
$$;
