-- Attribute and option terms in the products' default order.
--
-- A first page filtered on a rare attribute value found its products in
-- the terms' GIN index and sorted them (hundreds of heap visits for a
-- page of 20), and a common option pair was found by walking the
-- products' created_at index and probing each product's variants. These
-- tables hold each term's products in created_at order, so that the
-- default sort (and its cursors) reads a term's first entries and stops
-- after a page:
--
-- - product_attribute_order: one row per attribute term (the text of
--   nexus_attribute_terms, migration 0012) of each live active product;
-- - product_option_order: one row per option term (nexus_option_terms)
--   of each live active variant of a live active product, carrying the
--   variant's options_key and whether it is in stock, so that the other
--   option filters and in_stock=true are tested on the entry itself, on
--   the same variant.
--
-- Only what the public lists read is kept (a staff list with
-- include_inactive takes the plans of migration 0012). Kept by triggers,
-- so every writer (API, import, a hand-made UPDATE) keeps them right;
-- nexus seed fills them after its trigger-less load. No foreign key: a
-- product is soft-deleted, which removes its rows here, and the rare hard
-- delete is handled by a trigger, so the seed's bulk load has no
-- constraint to check again.

CREATE TABLE product_attribute_order (
    term       text NOT NULL,
    created_at timestamptz NOT NULL,
    product_id bigint NOT NULL
);
CREATE INDEX product_attribute_order_idx ON product_attribute_order (term, created_at, product_id);

CREATE TABLE product_option_order (
    term        text NOT NULL,
    created_at  timestamptz NOT NULL,
    product_id  bigint NOT NULL,
    variant_id  bigint NOT NULL,
    options_key text NOT NULL,
    in_stock    boolean NOT NULL
);
CREATE INDEX product_option_order_idx ON product_option_order (term, created_at, product_id)
    INCLUDE (options_key, in_stock);
-- A product's rows, found again when its variants change.
CREATE INDEX product_option_order_product_idx ON product_option_order (product_id);

-- Attribute rows: a product's rows are found through its own terms (no
-- second index to keep). The terms are spelled as nexus_attribute_terms
-- and nexus_option_terms spell them, written out here over each
-- (name, value) pair: a fifth cheaper for the seed's millions of rows
-- than unnesting those functions' arrays.
CREATE FUNCTION nexus_attribute_order_add(pid bigint, created timestamptz, a jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO product_attribute_order (term, created_at, product_id)
    SELECT e.key || '=' || lower(e.value), created, pid FROM jsonb_each_text(a) AS e
    WHERE e.value IS NOT NULL
$$;

CREATE FUNCTION nexus_attribute_order_remove(pid bigint, created timestamptz, a jsonb) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM product_attribute_order
    WHERE term = ANY (nexus_attribute_terms(a)) AND created_at = created AND product_id = pid
$$;

CREATE FUNCTION nexus_products_attribute_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.is_active AND OLD.deleted_at IS NULL THEN
        PERFORM nexus_attribute_order_remove(OLD.id, OLD.created_at, OLD.attributes);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.is_active AND NEW.deleted_at IS NULL THEN
        PERFORM nexus_attribute_order_add(NEW.id, NEW.created_at, NEW.attributes);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_attribute_order_insert AFTER INSERT ON products
    FOR EACH ROW WHEN (NEW.attributes <> '{}' AND NEW.is_active AND NEW.deleted_at IS NULL)
    EXECUTE FUNCTION nexus_products_attribute_order();
CREATE TRIGGER products_attribute_order_update
    AFTER UPDATE OF attributes, is_active, deleted_at, created_at ON products
    FOR EACH ROW WHEN ((OLD.attributes <> '{}' OR NEW.attributes <> '{}')
                       AND (OLD.attributes, OLD.is_active, OLD.deleted_at IS NULL, OLD.created_at)
                           IS DISTINCT FROM
                           (NEW.attributes, NEW.is_active, NEW.deleted_at IS NULL, NEW.created_at))
    EXECUTE FUNCTION nexus_products_attribute_order();
CREATE TRIGGER products_attribute_order_delete AFTER DELETE ON products
    FOR EACH ROW WHEN (OLD.attributes <> '{}' AND OLD.is_active AND OLD.deleted_at IS NULL)
    EXECUTE FUNCTION nexus_products_attribute_order();

-- Option rows of the given products (all of them when pids is NULL), from
-- their variants as they are now.
CREATE FUNCTION nexus_option_order_add(pids bigint[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO product_option_order (term, created_at, product_id, variant_id, options_key, in_stock)
    SELECT jsonb_build_array(lower(e.key), lower(e.value))::text, p.created_at, p.id, v.id,
           v.options_key, v.stock > 0
    FROM products p
    JOIN product_variants v ON v.product_id = p.id,
         jsonb_each_text(v.options) AS e
    WHERE (pids IS NULL OR p.id = ANY (pids)) AND p.is_active AND p.deleted_at IS NULL
      AND v.is_active AND v.deleted_at IS NULL AND v.options <> '{}'
$$;

CREATE FUNCTION nexus_option_order_refresh(pids bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM product_option_order WHERE product_id = ANY (pids);
    SELECT nexus_option_order_add(pids);
$$;

-- After each statement that wrote variants with options (a variant
-- without options has no term: the default variant of every product
-- written through its own columns costs nothing here).
CREATE FUNCTION nexus_variants_option_order() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pids bigint[];
BEGIN
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

CREATE TRIGGER product_variants_option_order_insert AFTER INSERT ON product_variants
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_option_order();
CREATE TRIGGER product_variants_option_order_update AFTER UPDATE ON product_variants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_option_order();
CREATE TRIGGER product_variants_option_order_delete AFTER DELETE ON product_variants
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_variants_option_order();

-- The product's own state: active, live, its created_at (the order), or
-- the product gone.
CREATE FUNCTION nexus_products_option_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nexus_option_order_refresh(ARRAY[OLD.id]);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_option_order_update AFTER UPDATE OF is_active, deleted_at, created_at ON products
    FOR EACH ROW WHEN (OLD.variant_options <> '[]' AND (OLD.is_active, OLD.deleted_at IS NULL, OLD.created_at)
                       IS DISTINCT FROM (NEW.is_active, NEW.deleted_at IS NULL, NEW.created_at))
    EXECUTE FUNCTION nexus_products_option_order();
CREATE TRIGGER products_option_order_delete AFTER DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION nexus_products_option_order();

-- Every product's rows at once: here, and after a bulk load that ran
-- without triggers (nexus seed).
CREATE FUNCTION nexus_term_order_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM product_attribute_order;
    INSERT INTO product_attribute_order (term, created_at, product_id)
    SELECT e.key || '=' || lower(e.value), p.created_at, p.id
    FROM products p, jsonb_each_text(p.attributes) AS e
    WHERE p.is_active AND p.deleted_at IS NULL AND e.value IS NOT NULL;
    DELETE FROM product_option_order;
    SELECT nexus_option_order_add(NULL);
$$;

SELECT nexus_term_order_rebuild();
