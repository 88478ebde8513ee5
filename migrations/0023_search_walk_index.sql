-- The created_at order of the public catalog with each row's search text
-- (migration 0022) beside its key. A search by words in that order walks
-- the rows newest first and checks the words on each: from this index
-- the walk reads only the index (about fifteen rows to a page where the
-- table holds seven, and none of a row's other columns), and only the
-- page's rows are then read from the table.
CREATE INDEX products_created_text_idx ON products (created_at, id) INCLUDE (search_text)
    WHERE is_active AND deleted_at IS NULL;
