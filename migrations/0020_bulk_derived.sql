-- A bulk load's derived data, rebuilt once at its end.
--
-- Triggers keep what the products and variants derive in other tables:
-- the facet counts (migrations 0016, 0017) and the terms in created_at
-- order (0019), among others. Row by row, they were most of a large
-- import into an empty catalog; nexus seed loads with triggers off and
-- rebuilds those tables once. A bulk import cannot turn the triggers off
-- for everyone (API writes go on meanwhile), so those triggers step aside
-- in a transaction that set nexus.bulk_load, and the tables are rebuilt
-- from the products and variants at the end. (A bulk batch writes the
-- numeric attributes of migration 0012, which the attr.<key>.min/.max
-- filters read, and the products' attribute terms itself, per batch: those
-- never lag.)
--
-- Crash-safe: the transaction that writes with nexus.bulk_load on also
-- writes the one row of derived_rebuild_pending (nexus_bulk_load_begin,
-- its first statement), so any committed write the triggers skipped is
-- covered by a committed row; nexus_derived_rebuild deletes the row in
-- the transaction that rebuilds. A bulk batch holds the row until it
-- commits, so a rebuild that deletes it first waits for that batch (and
-- the next batch waits for the rebuild, then writes the row again).
--
-- Other writers keep their triggers. The rebuild replaces every row from
-- the tables, so what a writer did before it is covered; writers during
-- it wait: the rebuild holds products and variants in SHARE mode (as an
-- index build does) and the facet counts' tree lock exclusively (as a
-- category move does), so no write of products, variants or the category
-- tree interleaves with it. Meanwhile (from a bulk load's first batch to
-- its rebuild) the facet counts and the term order tables lag: they hold
-- only what the other writers did. Lists do not walk the term order
-- tables while the row is there (db/products); public facets read the
-- counts as they are.

CREATE TABLE derived_rebuild_pending (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    since timestamptz NOT NULL DEFAULT now()
);

-- First statement of a bulk load's transaction: the row, held to the
-- end of the transaction, and the triggers told to step aside in it.
CREATE FUNCTION nexus_bulk_load_begin() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO derived_rebuild_pending (one) VALUES (true)
    ON CONFLICT (one) DO UPDATE SET since = derived_rebuild_pending.since;
    PERFORM set_config('nexus.bulk_load', 'on', true);
END
$$;

CREATE FUNCTION nexus_bulk_load() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('nexus.bulk_load', true) = 'on', false)
$$;

-- The facet counts and term order tables from the products and variants,
-- in the caller's transaction (statements of their own: each sees what
-- committed before it). Used by nexus seed too, after its trigger-less
-- COPY.
CREATE FUNCTION nexus_derived_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM derived_rebuild_pending;
    LOCK TABLE products, product_variants IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(hashtext('nexus_facet_counts_tree'));
    PERFORM nexus_term_order_rebuild();
    PERFORM nexus_facet_counts_rebuild();
END
$$;

-- The statement triggers step aside (migration 0016's body otherwise).
CREATE OR REPLACE FUNCTION nexus_products_facet_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    plus nexus_facet_item[] := '{}';
    minus nexus_facet_item[] := '{}';
BEGIN
    IF nexus_bulk_load() THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        plus := ARRAY(SELECT ROW(category_id, stock > 0, facet_attributes || facet_options)
                             ::nexus_facet_item
                      FROM new_rows WHERE is_active AND deleted_at IS NULL ORDER BY id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        minus := ARRAY(SELECT ROW(category_id, stock > 0, facet_attributes || facet_options)
                              ::nexus_facet_item
                       FROM old_rows WHERE is_active AND deleted_at IS NULL ORDER BY id);
    END IF;
    -- most updates change nothing counted (a name, a description, updated_at)
    IF plus IS DISTINCT FROM minus THEN
        PERFORM nexus_facet_counts_apply(plus, minus);
    END IF;
    RETURN NULL;
END
$$;

-- (migration 0019's body otherwise)
CREATE OR REPLACE FUNCTION nexus_variants_option_order() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pids bigint[];
BEGIN
    IF nexus_bulk_load() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        pids := ARRAY(SELECT DISTINCT product_id FROM new_rows WHERE options <> '{}');
    ELSIF TG_OP = 'UPDATE' THEN
        pids := ARRAY(SELECT product_id FROM new_rows WHERE options <> '{}'
                      UNION SELECT product_id FROM old_rows WHERE options <> '{}');
    ELSE
        pids := ARRAY(SELECT DISTINCT product_id FROM old_rows WHERE options <> '{}');
    END IF;
    IF cardinality(pids) > 0 THEN
        PERFORM nexus_option_order_refresh(pids);
    END IF;
    RETURN NULL;
END
$$;

-- The row trigger of a new product is not even queued (a bulk load
-- inserts; the rare update of a row it inserted earlier keeps its
-- trigger, whose work the rebuild replaces).
DROP TRIGGER products_attribute_order_insert ON products;
CREATE TRIGGER products_attribute_order_insert AFTER INSERT ON products
    FOR EACH ROW WHEN (NEW.attributes <> '{}' AND NEW.is_active AND NEW.deleted_at IS NULL
                       AND NOT nexus_bulk_load())
    EXECUTE FUNCTION nexus_products_attribute_order();

-- A new product's attribute terms and numeric attributes: a bulk load's
-- batch writes them itself, for all its products in one statement each
-- (db/imports), instead of one function call per row here.
DROP TRIGGER products_facet_attributes_insert ON products;
CREATE TRIGGER products_facet_attributes_insert BEFORE INSERT ON products
    FOR EACH ROW WHEN (NEW.attributes <> '{}' AND NOT nexus_bulk_load())
    EXECUTE FUNCTION nexus_products_facet_attributes();
DROP TRIGGER products_attribute_numbers_insert ON products;
CREATE TRIGGER products_attribute_numbers_insert AFTER INSERT ON products
    FOR EACH ROW WHEN (NEW.attributes <> '{}' AND NOT nexus_bulk_load())
    EXECUTE FUNCTION nexus_products_attribute_numbers();
