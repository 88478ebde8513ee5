-- A bulk load may apply two of its batches at once, each on a connection
-- of its own. Each batch's transaction now holds the pending row of
-- migration 0020 with a share lock instead of writing it: a rebuild's
-- DELETE still waits for every batch that holds it, and two batches no
-- longer wait for each other's commit on their first statement.
CREATE OR REPLACE FUNCTION nexus_bulk_load_begin() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        INSERT INTO derived_rebuild_pending (one) VALUES (true) ON CONFLICT (one) DO NOTHING;
        PERFORM FROM derived_rebuild_pending FOR SHARE;
        EXIT WHEN FOUND; -- else a rebuild deleted it in between: again
    END LOOP;
    PERFORM set_config('nexus.bulk_load', 'on', true);
END
$$;

-- A product inserted with its price_max_cents (every product a bulk
-- import inserts) skips the row trigger that would only copy it.
DROP TRIGGER products_before_insert ON products;
CREATE TRIGGER products_before_insert BEFORE INSERT ON products
    FOR EACH ROW WHEN (NEW.price_max_cents IS NULL) EXECUTE FUNCTION nexus_products_before_insert();
