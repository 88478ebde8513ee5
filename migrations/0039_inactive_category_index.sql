-- Inactive products by category. The category indexes hold active
-- products only (what the public reads), so a staff count or facets over
-- a category with include_inactive=true read every product of the
-- catalog. With this index beside them, each side of the category is
-- found from an index (products.c: products_add_filters). Inactive
-- products are few, so the index is small and costs writes little.
CREATE INDEX products_inactive_category_idx ON products (category_id)
    WHERE NOT is_active AND deleted_at IS NULL;
