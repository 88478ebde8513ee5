-- A btree index entry holds at most 2,704 bytes. Two covering indexes of
-- products carried values that can be longer, and a write of a product
-- that made such an entry failed with an error, for values well within
-- the contract's limits:
--
-- - products_created_text_idx (migration 0023) carried the search text,
--   the name and description lower-cased (up to about 40 KB): an active
--   product whose text did not compress below the limit (an ordinary
--   3,000-character description) could not be created, written or
--   activated. It now holds the products whose text is under 2,600 bytes,
--   and the few longer ones have an index of their own by the same key,
--   without the text; a walk merges the two in order.
-- - products_facets_idx (migration 0026) carried three arrays of a
--   product's terms, up to 650 of them (50 attributes, 100 variants of
--   three options with every value its own, all in stock). It now carries
--   the in-stock option terms only while the three arrays together hold
--   at most 600 terms; a count reads a larger product's from the table
--   (nexus_product_options_in_stock, by the id the index now carries).
--   Without them an entry holds the attribute and option terms, at most
--   about 1,500 bytes.
--
-- Adding the column rewrites the table and rebuilds its indexes, holding
-- writes and reads of products until it is done.
ALTER TABLE products ADD COLUMN facet_options_in_stock_head integer[] GENERATED ALWAYS AS (
    CASE WHEN coalesce(cardinality(facet_attributes), 0)
              + coalesce(cardinality(facet_options), 0)
              + coalesce(cardinality(facet_options_in_stock), 0) <= 600
         THEN coalesce(facet_options_in_stock, '{}') END) STORED;

DROP INDEX products_created_text_idx;
CREATE INDEX products_created_text_idx ON products (created_at, id) INCLUDE (search_text)
    WHERE is_active AND deleted_at IS NULL AND (octet_length(search_text) < 2600);
CREATE INDEX products_created_long_text_idx ON products (created_at, id)
    WHERE is_active AND deleted_at IS NULL AND NOT (octet_length(search_text) < 2600);

-- Called only for a product whose terms the index leaves out: rare, so
-- priced as cheap, lest the planner price every row of a count at an
-- index probe (it then left the covering index and parallel workers,
-- and compiled the statement: a count of in-stock facets took 470 ms
-- instead of 140 at 100,000 products). PL/pgSQL, so it is never inlined.
CREATE FUNCTION nexus_product_options_in_stock(pid bigint) RETURNS integer[]
    LANGUAGE plpgsql STABLE PARALLEL SAFE COST 1 AS $$
BEGIN
    RETURN (SELECT facet_options_in_stock FROM products WHERE id = pid);
END
$$;

DROP INDEX products_facets_idx;
CREATE INDEX products_facets_idx ON products (category_id)
    INCLUDE (price_cents, in_stock, facet_attributes, facet_options, facet_options_in_stock_head,
             id)
    WHERE is_active AND deleted_at IS NULL;
