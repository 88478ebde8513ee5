-- A variant's stock, price or sku write no longer rewrites its product's
-- option terms.
--
-- After each statement that wrote variants with options, two statement
-- triggers gave the products it touched their option terms again
-- (migration 0013: the product's facet_options columns) and their rows in
-- created_at order (migration 0019: product_option_order). Both ran for
-- any update of such a variant, and the second re-inserted the product's
-- rows with a statement whose plan could not use the product's key (its
-- `pids IS NULL OR p.id = ANY (pids)` was planned for any pids, so it
-- read every variant): a stock PATCH of one size of a T-shirt cost about
-- 50 ms of the database's time on a catalog of 200,000 products.
--
-- Now one trigger serves both, and an update passes on only the products
-- of variants whose terms can have changed: their options, whether they
-- are active or live, or their stock across zero (the in-stock terms).
-- The rows in created_at order are added by a statement planned for the
-- products it is given.

-- The rows in created_at order of the options of products pids (all of
-- them when pids is NULL, as a rebuild asks): planned per call, so that a
-- few products are found by their keys and a rebuild reads the tables.
CREATE OR REPLACE FUNCTION nexus_option_order_add(pids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_option_order (term, created_at, product_id, variant_id, options_key, in_stock)
    SELECT jsonb_build_array(lower(e.key), lower(e.value))::text, p.created_at, p.id, v.id,
           v.options_key, v.stock > 0
    FROM products p
    JOIN product_variants v ON v.product_id = p.id,
         jsonb_each_text(v.options) AS e
    WHERE (pids IS NULL OR p.id = ANY (pids)) AND p.is_active AND p.deleted_at IS NULL
      AND v.is_active AND v.deleted_at IS NULL AND v.options <> '{}';
END
$$;

-- The products whose option terms a statement on variants can have
-- changed, then their terms and rows in created_at order refreshed (the
-- terms not while a product's own trigger writes its one variant,
-- nexus.syncing, migration 0013; the rows not in a bulk load, which
-- rebuilds them, migration 0020).
CREATE FUNCTION nexus_variants_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        pids := ARRAY(SELECT DISTINCT product_id FROM new_rows WHERE options <> '{}');
    ELSIF TG_OP = 'UPDATE' THEN
        pids := ARRAY(SELECT DISTINCT x.pid
                      FROM new_rows n JOIN old_rows o ON o.id = n.id,
                           LATERAL (VALUES (n.product_id), (o.product_id)) AS x(pid)
                      WHERE (n.options <> '{}' OR o.options <> '{}')
                        AND (n.product_id, n.options, n.is_active, n.deleted_at, n.stock > 0)
                            IS DISTINCT FROM
                            (o.product_id, o.options, o.is_active, o.deleted_at, o.stock > 0));
    ELSE
        pids := ARRAY(SELECT DISTINCT product_id FROM old_rows WHERE options <> '{}');
    END IF;
    IF cardinality(pids) = 0 THEN
        RETURN NULL;
    END IF;
    IF current_setting('nexus.syncing', true) IS DISTINCT FROM 'on' THEN
        PERFORM nexus_facet_options_refresh(pids);
    END IF;
    IF NOT nexus_bulk_load() THEN
        PERFORM nexus_option_order_refresh(pids);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER product_variants_facet_options_insert ON product_variants;
DROP TRIGGER product_variants_facet_options_update ON product_variants;
DROP TRIGGER product_variants_facet_options_delete ON product_variants;
DROP TRIGGER product_variants_option_order_insert ON product_variants;
DROP TRIGGER product_variants_option_order_update ON product_variants;
DROP TRIGGER product_variants_option_order_delete ON product_variants;
DROP FUNCTION nexus_variants_facet_options();
DROP FUNCTION nexus_variants_option_order();

CREATE TRIGGER product_variants_terms_insert AFTER INSERT ON product_variants
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_terms();
CREATE TRIGGER product_variants_terms_update AFTER UPDATE ON product_variants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_terms();
CREATE TRIGGER product_variants_terms_delete AFTER DELETE ON product_variants
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_terms();
