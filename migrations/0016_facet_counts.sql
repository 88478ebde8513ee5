-- Facet counts kept with the writes, for the storefront's most common
-- facets: the whole catalog and one category, with no other filter.
--
-- Counting those from the products' facet terms (migration 0013) unnests
-- every matching product's terms: about 7.7 per product, 1.5 million over
-- 200,000 products. Here the counts are kept per scope and term: scope 0
-- is the whole catalog, any other scope a category (the products whose own
-- category it is); term 0 counts products, term -1 those in stock, and a
-- positive term the products holding that facet term (their attributes
-- and the option values of their active variants). A category's facets
-- sum the scopes of its subtree, a few thousand rows; moving a category
-- in the tree changes no row.
--
-- Writers never update a row: each statement that writes products
-- appends the difference it made (a statement trigger over its transition
-- tables), so concurrent writers never wait on one another here. The
-- sum of a scope and term's rows is the count; after appending, a writer
-- folds the rows of the keys it touched into one each, unless another
-- transaction is folding (one at a time, by an advisory lock held to the
-- end of the transaction, so folds never wait on each other or delete
-- the same row twice). A reader sums whatever rows it sees in its
-- snapshot, so every committed write is counted exactly, folded or not.
-- nexus seed loads with triggers off and rebuilds the counts once.

CREATE TABLE facet_counts (
    scope bigint NOT NULL,  -- 0: the whole catalog, else a category id
    term  integer NOT NULL, -- 0: products, -1: in stock, else facet_terms.id
    n     integer NOT NULL
);
CREATE INDEX facet_counts_idx ON facet_counts (scope, term) INCLUDE (n);

-- What a live active product counts: its category, whether it is in
-- stock and its terms (attributes, options of its active variants).
CREATE TYPE nexus_facet_item AS (category_id bigint, in_stock boolean, terms integer[]);

-- The rows of a set of products (sign 1 or -1), per scope and term.
CREATE FUNCTION nexus_facet_count_rows(items nexus_facet_item[], sign integer)
RETURNS TABLE (scope bigint, term integer, n integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT s.scope, t.term, sign
    FROM unnest(items) AS i,
         unnest(CASE WHEN i.category_id IS NULL THEN '{0}'::bigint[]
                     ELSE ARRAY[0, i.category_id] END) AS s(scope),
         unnest(i.terms || CASE WHEN i.in_stock THEN '{0,-1}'::integer[]
                                ELSE '{0}'::integer[] END) AS t(term)
$$;

-- Fold the rows of the given keys into one row each. Only one fold runs
-- at a time (the caller holds the lock); in READ COMMITTED each statement
-- sees the previous fold's result, so no row is deleted twice.
CREATE FUNCTION nexus_facet_counts_fold(scopes bigint[], terms integer[]) RETURNS void
LANGUAGE sql AS $$
    WITH k AS (SELECT DISTINCT s, t FROM unnest(scopes, terms) AS u(s, t)),
    gone AS (DELETE FROM facet_counts c USING k WHERE c.scope = k.s AND c.term = k.t
             RETURNING c.scope, c.term, c.n)
    INSERT INTO facet_counts (scope, term, n)
    SELECT scope, term, sum(n) FROM gone GROUP BY 1, 2 HAVING sum(n) <> 0
$$;

-- The difference between the products before (minus) and after (plus) a
-- statement, appended, then folded when no other fold runs.
CREATE FUNCTION nexus_facet_counts_apply(plus nexus_facet_item[], minus nexus_facet_item[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    scopes bigint[];
    terms integer[];
BEGIN
    WITH d AS (SELECT r.scope, r.term, sum(r.n) AS n
               FROM (SELECT * FROM nexus_facet_count_rows(plus, 1)
                     UNION ALL SELECT * FROM nexus_facet_count_rows(minus, -1)) r
               GROUP BY 1, 2 HAVING sum(r.n) <> 0),
    ins AS (INSERT INTO facet_counts (scope, term, n) SELECT scope, term, n FROM d
            RETURNING scope, term)
    SELECT array_agg(scope), array_agg(term) INTO scopes, terms FROM ins;
    IF scopes IS NOT NULL
       AND current_setting('transaction_isolation') = 'read committed'
       AND pg_try_advisory_xact_lock(hashtext('nexus_facet_counts_fold')) THEN
        PERFORM nexus_facet_counts_fold(scopes, terms);
    END IF;
END
$$;

CREATE FUNCTION nexus_products_facet_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    plus nexus_facet_item[] := '{}';
    minus nexus_facet_item[] := '{}';
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        plus := ARRAY(SELECT ROW(category_id, stock > 0, facet_attributes || facet_options)
                             ::nexus_facet_item
                      FROM new_rows WHERE is_active AND deleted_at IS NULL ORDER BY id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        minus := ARRAY(SELECT ROW(category_id, stock > 0, facet_attributes || facet_options)
                              ::nexus_facet_item
                       FROM old_rows WHERE is_active AND deleted_at IS NULL ORDER BY id);
    END IF;
    -- most updates change nothing counted (a name, a description, updated_at)
    IF plus IS DISTINCT FROM minus THEN
        PERFORM nexus_facet_counts_apply(plus, minus);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_facet_counts_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_products_facet_counts();
CREATE TRIGGER products_facet_counts_update AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_products_facet_counts();
CREATE TRIGGER products_facet_counts_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_products_facet_counts();

CREATE FUNCTION nexus_products_facet_counts_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM facet_counts;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_facet_counts_truncate AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_products_facet_counts_truncate();

-- Every count from the products at once: here, and after a bulk load that
-- ran without triggers (nexus seed). One row per key.
CREATE FUNCTION nexus_facet_counts_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM facet_counts;
    INSERT INTO facet_counts (scope, term, n)
    SELECT s.scope, t.term, count(*)
    FROM products p,
         unnest(CASE WHEN p.category_id IS NULL THEN '{0}'::bigint[]
                     ELSE ARRAY[0, p.category_id] END) AS s(scope),
         unnest(p.facet_attributes || p.facet_options
                || CASE WHEN p.stock > 0 THEN '{0,-1}'::integer[] ELSE '{0}'::integer[] END)
             AS t(term)
    WHERE p.is_active AND p.deleted_at IS NULL
    GROUP BY 1, 2;
$$;

SELECT nexus_facet_counts_rebuild();

-- Facet values are grouped as the filters compare them: attribute keys as
-- written, option names and every value case-insensitively. Kept with
-- each term, so a count groups on stored text instead of lower-casing
-- thousands of terms per request.
ALTER TABLE facet_terms
    ADD COLUMN lk text GENERATED ALWAYS AS (CASE WHEN kind = 1 THEN name ELSE lower(name) END)
        STORED,
    ADD COLUMN lv text GENERATED ALWAYS AS (lower(value)) STORED;
