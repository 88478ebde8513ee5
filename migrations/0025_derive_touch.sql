-- A write of a single-variant product's sku, price or stock alone (a stock
-- PATCH: the commonest write a store makes) goes to its variant, and the
-- product row changes only as what it derives: touch says to write the row
-- even when nothing derived changed, as a write of the product's own
-- fields does (version and updated_at move). The row is then written once
-- per such write instead of twice (an UPDATE of no column of its own,
-- then the derivation's), which halves what its indexes and triggers cost.
-- Without touch (every other caller), the function is what it was.
DROP FUNCTION nexus_product_derive(bigint);

CREATE FUNCTION nexus_product_derive(pid bigint, touch boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('nexus.deriving', 'on', true);
    UPDATE products p
    SET sku = d.sku, price_cents = d.price_min, price_max_cents = d.price_max, stock = d.stock,
        variant_count = d.live, variant_active_count = d.active, variant_options = d.options,
        version = p.version + touch::integer
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
      AND (touch
           OR (p.sku, p.price_cents, p.price_max_cents, p.stock, p.variant_count,
               p.variant_active_count, p.variant_options)
              IS DISTINCT FROM
              (d.sku, d.price_min, d.price_max, d.stock, d.live, d.active, d.options));
    PERFORM set_config('nexus.deriving', 'off', true);
END
$$;
