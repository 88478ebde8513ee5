-- Product variants: a product is sold as 1..100 live variants, each with
-- its own SKU, price, stock and options ({"Size": "M", "Color": "Red"}).
--
-- The product keeps sku, price_cents and stock as columns derived from its
-- variants (nexus_product_derive), so every list filter, sort order and
-- index over products works unchanged: sku is the first live variant's (by
-- position, then id), price_cents the lowest active price (the first
-- variant's when none is active), stock the sum over active variants.
-- Every existing product moves onto one default variant carrying its sku,
-- price and stock, so nothing a client already reads changes.

-- The options as a key for duplicate detection: names and values
-- lower-cased ({"Size": "M"} and {"size": "m"} are one). Going through
-- jsonb again puts the lower-cased names in jsonb's own order, so the key
-- does not depend on the order or the case they came in. One expression
-- (the function is inlined), as cheap as a seed of millions of variants
-- needs it to be.
CREATE FUNCTION nexus_option_key(o jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(o::text)::jsonb::text
$$;

-- The option names alone, lower-cased, in that same order: all live
-- variants of a product have the same.
CREATE FUNCTION nexus_option_names(o jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_path_query_array(lower(o::text)::jsonb, '$.keyvalue().key')::text
$$;

CREATE TABLE product_variants (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku          text NOT NULL CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    price_cents  bigint NOT NULL CHECK (price_cents >= 0 AND price_cents <= 9999999999),
    -- The last line of defence for stock: no write, however concurrent,
    -- takes it below zero.
    stock        integer NOT NULL CONSTRAINT product_variants_stock_check CHECK (stock >= 0),
    options      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    options_key  text NOT NULL GENERATED ALWAYS AS (nexus_option_key(options)) STORED,
    option_names text NOT NULL GENERATED ALWAYS AS (nexus_option_names(options)) STORED,
    is_active    boolean NOT NULL DEFAULT true,
    position     integer NOT NULL DEFAULT 1 CHECK (position BETWEEN 1 AND 1000000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);

-- A SKU is unique among live variants; soft-deleting a variant or its
-- product (which soft-deletes the variants) frees it.
CREATE UNIQUE INDEX product_variants_sku_key ON product_variants (sku) WHERE deleted_at IS NULL;
-- One product's live variants differ in their options.
CREATE UNIQUE INDEX product_variants_options_key ON product_variants (product_id, options_key)
    WHERE deleted_at IS NULL;
CREATE INDEX product_variants_product_idx ON product_variants (product_id, position, id)
    WHERE deleted_at IS NULL;

CREATE TRIGGER product_variants_touch BEFORE UPDATE ON product_variants
    FOR EACH ROW EXECUTE FUNCTION nexus_touch_updated_at();

-- Derived from the variants besides sku, price_cents and stock: the top of
-- the price range, the live and the active variant counts, and the options
-- ([{"name", "values"}]). The defaults are those of one active variant
-- without options, which is what every existing product gets below.
ALTER TABLE products
    ADD COLUMN price_max_cents bigint,
    ADD COLUMN variant_count integer NOT NULL DEFAULT 1,
    ADD COLUMN variant_active_count integer NOT NULL DEFAULT 1,
    ADD COLUMN variant_options jsonb NOT NULL DEFAULT '[]';

-- Filling the new column is not a change a client sees: updated_at stays.
ALTER TABLE products DISABLE TRIGGER products_touch;
UPDATE products SET price_max_cents = price_cents;
ALTER TABLE products ENABLE TRIGGER products_touch;
ALTER TABLE products ALTER COLUMN price_max_cents SET NOT NULL;

INSERT INTO product_variants (product_id, sku, price_cents, stock, options, position, is_active,
                              created_at, updated_at)
SELECT id, sku, price_cents, stock, '{}', 1, true, created_at, updated_at
FROM products WHERE deleted_at IS NULL ORDER BY id;

-- Recompute one product's derived columns from its variants, writing the
-- row only when something changed. nexus.deriving tells the sync trigger
-- below that this write is not a client's.
CREATE FUNCTION nexus_product_derive(pid bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('nexus.deriving', 'on', true);
    UPDATE products p
    SET sku = d.sku, price_cents = d.price_min, price_max_cents = d.price_max, stock = d.stock,
        variant_count = d.live, variant_active_count = d.active, variant_options = d.options
    FROM (
        SELECT f.sku,
               coalesce(a.price_min, f.price_cents) AS price_min,
               coalesce(a.price_max, f.price_cents) AS price_max,
               coalesce(a.stock, 0) AS stock, a.live, a.active, o.options
        FROM (SELECT sku, price_cents FROM product_variants
              WHERE product_id = pid AND deleted_at IS NULL
              ORDER BY position, id LIMIT 1) f,
             (SELECT min(price_cents) FILTER (WHERE is_active) AS price_min,
                     max(price_cents) FILTER (WHERE is_active) AS price_max,
                     sum(stock) FILTER (WHERE is_active)::integer AS stock,
                     count(*)::integer AS live,
                     count(*) FILTER (WHERE is_active)::integer AS active
              FROM product_variants WHERE product_id = pid AND deleted_at IS NULL) a,
             (SELECT nexus_variant_options(pid) AS options) o
    ) d
    WHERE p.id = pid
      AND (p.sku, p.price_cents, p.price_max_cents, p.stock, p.variant_count,
           p.variant_active_count, p.variant_options)
          IS DISTINCT FROM
          (d.sku, d.price_min, d.price_max, d.stock, d.live, d.active, d.options);
    PERFORM set_config('nexus.deriving', 'off', true);
END
$$;

-- The options of a product's live variants: names sorted (case-insensitively;
-- spelled as the first variant that has them spells them), each with its
-- values in variant order, a value repeated in another case counted once.
CREATE FUNCTION nexus_variant_options(pid bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH o AS (
        SELECT e.k, e.v, v.position, v.id
        FROM product_variants v, jsonb_each_text(v.options) AS e(k, v)
        WHERE v.product_id = pid AND v.deleted_at IS NULL),
    names AS (
        SELECT DISTINCT ON (lower(k)) lower(k) AS lk, k FROM o ORDER BY lower(k), position, id),
    vals AS (
        SELECT DISTINCT ON (lower(k), lower(v)) lower(k) AS lk, v, position, id
        FROM o ORDER BY lower(k), lower(v), position, id)
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', n.k, 'values',
               (SELECT jsonb_agg(vals.v ORDER BY vals.position, vals.id)
                FROM vals WHERE vals.lk = n.lk)) ORDER BY n.lk, n.k), '[]')
    FROM names n
$$;

-- A product written through its own columns (a v1 body, an import) gets
-- one default variant carrying its sku, price and stock, unless the writer
-- brings the variants itself (nexus.explicit_variants).
CREATE FUNCTION nexus_products_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.price_max_cents := coalesce(NEW.price_max_cents, NEW.price_cents);
    RETURN NEW;
END
$$;

CREATE TRIGGER products_before_insert BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION nexus_products_before_insert();

CREATE FUNCTION nexus_products_default_variants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nexus.explicit_variants', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO product_variants (product_id, sku, price_cents, stock, options, position,
                                      created_at, updated_at)
        SELECT id, sku, price_cents, stock, '{}', 1, created_at, updated_at
        FROM new_products ORDER BY id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_default_variants AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_products_default_variants();

-- A write of sku, price_cents or stock through the product's own columns
-- (an import's upsert) goes to its one live variant; with several it
-- cannot say which, so the variants keep theirs and the product its
-- derived values. The API refuses such a write before it gets here.
CREATE FUNCTION nexus_products_sync_variant() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    live integer;
    active boolean;
BEGIN
    IF current_setting('nexus.deriving', true) = 'on'
       OR (NEW.sku, NEW.price_cents, NEW.stock) = (OLD.sku, OLD.price_cents, OLD.stock) THEN
        RETURN NEW;
    END IF;
    SELECT count(*), bool_or(is_active) INTO live, active
    FROM product_variants WHERE product_id = NEW.id AND deleted_at IS NULL;
    IF live <> 1 THEN
        NEW.sku := OLD.sku;
        NEW.price_cents := OLD.price_cents;
        NEW.stock := OLD.stock;
        RETURN NEW;
    END IF;
    UPDATE product_variants SET sku = NEW.sku, price_cents = NEW.price_cents, stock = NEW.stock
    WHERE product_id = NEW.id AND deleted_at IS NULL;
    NEW.price_max_cents := NEW.price_cents;
    IF NOT active THEN
        NEW.stock := 0;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER products_sync_variant BEFORE UPDATE OF sku, price_cents, stock ON products
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION nexus_products_sync_variant();

-- Soft-deleting a product soft-deletes its variants, freeing their SKUs.
CREATE FUNCTION nexus_products_delete_variants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_variants SET deleted_at = NEW.deleted_at
    WHERE product_id = NEW.id AND deleted_at IS NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_delete_variants AFTER UPDATE OF deleted_at ON products
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION nexus_products_delete_variants();
