-- A stock change, the commonest write a store makes, rewrote the product's
-- row into every index on products (13 of them, two GIN indexes of its
-- text among them): the facets' covering index carried stock, so no such
-- write could be a HOT update (a new row version on the same page, which
-- indexes do not see). The index now carries whether the product is in
-- stock, which a stock change alters only when it crosses zero, and the
-- table keeps a tenth of each page free so that the new version finds room
-- beside the old one. Facet and list filters on stock read in_stock.
--
-- Adding the column rewrites the table and rebuilds its indexes (about
-- 15 s at 100,000 products), holding writes and reads of products until
-- it is done.
ALTER TABLE products SET (fillfactor = 90);
ALTER TABLE products ADD COLUMN in_stock boolean GENERATED ALWAYS AS (stock > 0) STORED;

DROP INDEX products_facets_idx;
CREATE INDEX products_facets_idx ON products (category_id)
    INCLUDE (price_cents, in_stock, facet_attributes, facet_options, facet_options_in_stock)
    WHERE is_active AND deleted_at IS NULL;
