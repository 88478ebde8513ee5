-- A product with one live variant keeps that variant's own columns on its
-- row, so that reading the product as an item needs no probe of the
-- variants table: for a one-variant product (every v1 product, and most of
-- a real catalog), the probe was about a third of the item statement's
-- cost in PostgreSQL.
--
-- The solo_* columns are the one live variant's id, stock, options,
-- active flag, position and timestamps (its sku and price are the
-- product's own sku and price_cents already); all NULL when the product
-- has none or several live variants. Every writer keeps them:
-- nexus_product_derive (after any write of variants), the default variant
-- of a product created without variants (its id taken before the insert),
-- the write of a product's own stock that goes to its variant, and the
-- bulk loads (a seed, an import), which write them with the rows.
ALTER TABLE products
    ADD COLUMN solo_variant_id bigint,
    ADD COLUMN solo_stock integer,
    ADD COLUMN solo_options jsonb,
    ADD COLUMN solo_is_active boolean,
    ADD COLUMN solo_position integer,
    ADD COLUMN solo_created_at timestamptz,
    ADD COLUMN solo_updated_at timestamptz;

-- Derive as before, and the solo columns from the first live variant when
-- it is the only one.
CREATE OR REPLACE FUNCTION nexus_product_derive(pid bigint, touch boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('nexus.deriving', 'on', true);
    UPDATE products p
    SET sku = d.sku, price_cents = d.price_min, price_max_cents = d.price_max, stock = d.stock,
        variant_count = d.live, variant_active_count = d.active, variant_options = d.options,
        solo_variant_id = d.s_id, solo_stock = d.s_stock, solo_options = d.s_options,
        solo_is_active = d.s_active, solo_position = d.s_position,
        solo_created_at = d.s_created, solo_updated_at = d.s_updated,
        version = p.version + touch::integer
    FROM (
        SELECT f.sku,
               coalesce(a.price_min, f.price_cents) AS price_min,
               coalesce(a.price_max, f.price_cents) AS price_max,
               coalesce(a.stock, 0) AS stock, a.live, a.active, o.options,
               CASE WHEN a.live = 1 THEN f.id END AS s_id,
               CASE WHEN a.live = 1 THEN f.stock END AS s_stock,
               CASE WHEN a.live = 1 THEN f.options END AS s_options,
               CASE WHEN a.live = 1 THEN f.is_active END AS s_active,
               CASE WHEN a.live = 1 THEN f.position END AS s_position,
               CASE WHEN a.live = 1 THEN f.created_at END AS s_created,
               CASE WHEN a.live = 1 THEN f.updated_at END AS s_updated
        FROM (SELECT id, sku, price_cents, stock, options, is_active, position, created_at,
                     updated_at
              FROM product_variants
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
      AND (touch
           OR (p.sku, p.price_cents, p.price_max_cents, p.stock, p.variant_count,
               p.variant_active_count, p.variant_options, p.solo_variant_id, p.solo_stock,
               p.solo_options, p.solo_is_active, p.solo_position, p.solo_created_at,
               p.solo_updated_at)
              IS DISTINCT FROM
              (d.sku, d.price_min, d.price_max, d.stock, d.live, d.active, d.options, d.s_id,
               d.s_stock, d.s_options, d.s_active, d.s_position, d.s_created, d.s_updated));
    PERFORM set_config('nexus.deriving', 'off', true);
END
$$;

-- A product created without variants: its default variant's id is taken
-- here, so that the row is written once with its solo columns.
CREATE OR REPLACE FUNCTION nexus_products_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.price_max_cents := coalesce(NEW.price_max_cents, NEW.price_cents);
    IF current_setting('nexus.explicit_variants', true) IS DISTINCT FROM 'on' THEN
        NEW.solo_variant_id := nextval(pg_get_serial_sequence('product_variants', 'id'));
        NEW.solo_stock := NEW.stock;
        NEW.solo_options := '{}';
        NEW.solo_is_active := true;
        NEW.solo_position := 1;
        NEW.solo_created_at := NEW.created_at;
        NEW.solo_updated_at := NEW.updated_at;
    END IF;
    RETURN NEW;
END
$$;

-- The default variants take the ids their products hold; a product
-- inserted without one (by a writer that gave its derived columns itself)
-- derives it.
CREATE OR REPLACE FUNCTION nexus_products_default_variants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nexus.explicit_variants', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO product_variants (id, product_id, sku, price_cents, stock, options, position,
                                      created_at, updated_at)
        OVERRIDING SYSTEM VALUE
        SELECT coalesce(solo_variant_id,
                        nextval(pg_get_serial_sequence('product_variants', 'id'))),
               id, sku, price_cents, stock, '{}', 1, created_at, updated_at
        FROM new_products ORDER BY id;
        PERFORM nexus_product_derive(id) FROM new_products WHERE solo_variant_id IS NULL;
    END IF;
    RETURN NULL;
END
$$;

-- A write of sku, price_cents or stock through the product's own columns
-- goes to its one live variant (migration 0010); the row takes the
-- variant's stock and time of writing as its solo columns.
CREATE OR REPLACE FUNCTION nexus_products_sync_variant() RETURNS trigger
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
    WHERE product_id = NEW.id AND deleted_at IS NULL
    RETURNING stock, updated_at INTO NEW.solo_stock, NEW.solo_updated_at;
    NEW.price_max_cents := NEW.price_cents;
    IF NOT active THEN
        NEW.stock := 0;
    END IF;
    RETURN NEW;
END
$$;

-- The existing catalog's solo columns, without touching updated_at or
-- running the triggers of the columns it does not change.
ALTER TABLE products DISABLE TRIGGER USER;
UPDATE products p
SET solo_variant_id = v.id, solo_stock = v.stock, solo_options = v.options,
    solo_is_active = v.is_active, solo_position = v.position, solo_created_at = v.created_at,
    solo_updated_at = v.updated_at
FROM product_variants v
WHERE v.product_id = p.id AND v.deleted_at IS NULL AND p.variant_count = 1;
ALTER TABLE products ENABLE TRIGGER USER;
