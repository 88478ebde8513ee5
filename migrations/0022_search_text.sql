-- A product's name and description as one lower-cased text, kept with the
-- row. A search that walks the sort index checks each row it passes: as
-- an ILIKE over name || ' ' || description, that lower-cased both texts
-- per row, which cost most of the walk. PostgreSQL's ILIKE (for this
-- encoding) is exactly LIKE of the two lower-cased, so
-- search_text LIKE lower(pattern) answers what the ILIKE answered, from
-- the stored text, without lowering it again.
ALTER TABLE products
    ADD COLUMN search_text text GENERATED ALWAYS AS (lower(name || ' ' || description)) STORED;
