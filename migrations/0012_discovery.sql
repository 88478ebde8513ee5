-- Discovery: attribute and option filters and facet counts.
--
-- An attribute or option filter is a lookup of terms: each product's
-- attributes and each variant's options become an array of text terms
-- with a GIN index, and a filter asks for an overlap with the terms of
-- its values. Both sides are made by the functions below, in SQL, so
-- they lower-case and spell values the same way.

-- An attribute as "key=value", value as jsonb's text of it ("350",
-- "true", "Acme"), lower-cased: string values compare case-insensitively.
-- Keys are [a-z][a-z0-9_]* (the API checks them), so '=' ends the key.
CREATE FUNCTION nexus_attribute_terms(a jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(e.key || '=' || lower(e.value)), '{}')
    FROM jsonb_each_text(a) AS e
$$;

-- The terms an attr.<key>=v1,v2 filter looks for: vals is the list as
-- sent, split on commas.
CREATE FUNCTION nexus_attribute_query(k text, vals text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(k || '=' || lower(x)) FROM unnest(string_to_array(vals, ',')) AS x
$$;

-- A numeric attribute's value; NULL when the key is absent or its value
-- is not a number (attr.<key>.min/max never match those).
CREATE FUNCTION nexus_attribute_number(a jsonb, k text) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(a -> k) = 'number' THEN (a ->> k)::numeric END
$$;

-- An option as the JSON text ["name", "value"], both lower-cased: option
-- names may hold any character, and JSON quoting keeps name and value
-- apart.
CREATE FUNCTION nexus_option_terms(o jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(jsonb_build_array(lower(e.key), lower(e.value))::text), '{}')
    FROM jsonb_each_text(o) AS e
$$;

CREATE FUNCTION nexus_option_query(n text, vals text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(jsonb_build_array(lower(n), lower(x))::text)
    FROM unnest(string_to_array(vals, ',')) AS x
$$;

-- What the public and staff lists read: every live product.
CREATE INDEX products_attribute_terms_idx ON products
    USING gin (nexus_attribute_terms(attributes)) WHERE deleted_at IS NULL;
-- Only active variants count for option filters.
CREATE INDEX product_variants_option_terms_idx ON product_variants
    USING gin (nexus_option_terms(options)) WHERE deleted_at IS NULL AND is_active;

-- Numeric attributes, one row per product and key, for the ranges of
-- attr.<key>.min/.max: a B-tree on (key, value) finds a narrow range at
-- once, which no index on the jsonb column can. Kept by triggers, so
-- every writer (API, import, a hand-made UPDATE) keeps it right; a
-- soft-deleted product keeps its rows (every query asks for live
-- products anyway).
CREATE TABLE product_attribute_numbers (
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      numeric NOT NULL,
    PRIMARY KEY (key, value, product_id)
);
CREATE INDEX product_attribute_numbers_product_idx ON product_attribute_numbers (product_id);

-- The rows of one product, from its attributes.
CREATE FUNCTION nexus_attribute_numbers_fill(pid bigint, a jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO product_attribute_numbers (product_id, key, value)
    SELECT pid, e.key, (e.value #>> '{}')::numeric FROM jsonb_each(a) AS e
    WHERE jsonb_typeof(e.value) = 'number'
$$;

CREATE FUNCTION nexus_products_attribute_numbers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM product_attribute_numbers WHERE product_id = NEW.id;
    END IF;
    PERFORM nexus_attribute_numbers_fill(NEW.id, NEW.attributes);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_attribute_numbers_insert AFTER INSERT ON products
    FOR EACH ROW WHEN (NEW.attributes <> '{}')
    EXECUTE FUNCTION nexus_products_attribute_numbers();
CREATE TRIGGER products_attribute_numbers_update AFTER UPDATE OF attributes ON products
    FOR EACH ROW WHEN (OLD.attributes IS DISTINCT FROM NEW.attributes)
    EXECUTE FUNCTION nexus_products_attribute_numbers();

-- Every product's rows at once: here, and after a bulk load that ran
-- without triggers (nexus seed).
CREATE FUNCTION nexus_attribute_numbers_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM product_attribute_numbers;
    INSERT INTO product_attribute_numbers (product_id, key, value)
    SELECT p.id, e.key, (e.value #>> '{}')::numeric
    FROM products p, jsonb_each(p.attributes) AS e WHERE jsonb_typeof(e.value) = 'number';
$$;

SELECT nexus_attribute_numbers_rebuild();
