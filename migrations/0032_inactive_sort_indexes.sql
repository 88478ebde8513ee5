-- The sort indexes of inactive products. The sort indexes (migrations
-- 0001 and after) hold active products only, which every public list
-- reads; a staff list with include_inactive=true found no index in its
-- order and read and sorted every product (1.2 s for a first page at a
-- million products). Such a list now takes the first rows of each kind
-- from its own index and keeps the first of both (db/products.c). Few
-- products are inactive, so these indexes are small, and no public list
-- can use them.
CREATE INDEX products_inactive_created_idx ON products (created_at, id)
    WHERE NOT is_active AND deleted_at IS NULL;
CREATE INDEX products_inactive_price_idx ON products (price_cents, id)
    WHERE NOT is_active AND deleted_at IS NULL;
CREATE INDEX products_inactive_name_idx ON products (lower(name), id)
    WHERE NOT is_active AND deleted_at IS NULL;
