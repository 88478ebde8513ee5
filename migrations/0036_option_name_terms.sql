-- Option names counted as products.
--
-- Facets rank option names by how many products have them. A product's
-- option terms (migration 0013) held one term per value, so a name could
-- only be ranked by the sum of its values' counts, where a product that
-- offers five sizes counted five times for "Size". Each product now also
-- holds one term per option name, the option kind with the empty value
-- (no option value is empty): its count is the number of products with
-- that name, kept and filtered like every other term's.

CREATE OR REPLACE FUNCTION nexus_facet_option_ids(pid bigint, in_stock boolean) RETURNS integer[]
LANGUAGE sql AS $$
    WITH e AS (SELECT e.key, e.value
               FROM product_variants v, jsonb_each_text(v.options) AS e
               WHERE v.product_id = pid AND v.deleted_at IS NULL AND v.is_active
                 AND (v.stock > 0 OR NOT in_stock) AND e.value IS NOT NULL)
    SELECT nexus_facet_term_ids(2::smallint, array_agg(g.name), array_agg(g.value))
    FROM (SELECT min(key) AS name, min(value) AS value FROM e GROUP BY lower(key), lower(value)
          UNION ALL
          SELECT min(key), '' FROM e GROUP BY lower(key)) g
$$;

-- The existing catalog's name terms, without touching updated_at (the
-- facet counts follow through their statement trigger).
ALTER TABLE products DISABLE TRIGGER products_touch;
UPDATE products SET facet_options = nexus_facet_option_ids(id, false),
                    facet_options_in_stock = nexus_facet_option_ids(id, true)
WHERE deleted_at IS NULL AND (facet_options <> '{}' OR facet_options_in_stock <> '{}');
ALTER TABLE products ENABLE TRIGGER products_touch;
