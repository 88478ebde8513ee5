-- Facet counts per category subtree: a product counts in its own
-- category's scope and in the scope of every category above it (and in
-- scope 0, the whole catalog), so one category's facets read one scope,
-- as the whole catalog's do, instead of summing the scopes of its subtree
-- (about 30,000 rows for a top-level category at 200,000 products).
--
-- Writers still only append differences (migration 0016); a statement's
-- difference is grouped per (category, term) first, then added to the
-- category and each of its ancestors. The ancestors are read from the
-- tree, so a category moved in the tree changes the scopes of its old
-- and new ancestors. Such a move is rare and done in its own transaction:
-- one category's move takes its own scope's counts from its old
-- ancestors' scopes and adds them to its new ones'; a statement moving
-- several counts the scopes they change again from the products. To keep
-- every count exact, a move
-- and the writers of counts exclude each other with one advisory lock:
-- writers take it shared (never waiting on one another), a statement
-- that may move categories takes it exclusively before it touches a row
-- (so that no writer ever holds it while waiting for a category row the
-- move has locked), and counts after its rows are written. In READ
-- COMMITTED each statement after taking the lock sees the tree and the
-- counts as they are once the other side has committed.

-- Each category with itself and every category above it.
CREATE FUNCTION nexus_category_scopes(ids bigint[])
RETURNS TABLE (category_id bigint, scope bigint)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up (category_id, scope) AS (
        SELECT id, id FROM unnest(ids) AS u(id) WHERE id IS NOT NULL
        UNION
        SELECT up.category_id, c.parent_id FROM up JOIN categories c ON c.id = up.scope
        WHERE c.parent_id IS NOT NULL)
    SELECT category_id, scope FROM up
$$;

-- The rows of a set of products (sign 1 or -1), per scope and term: per
-- (category, term) first, then scope 0 and each category's scopes (the
-- tree walked here, not through nexus_category_scopes: a function taking
-- a subquery is not inlined, and would be planned again on every call).
CREATE OR REPLACE FUNCTION nexus_facet_count_rows(items nexus_facet_item[], sign integer)
RETURNS TABLE (scope bigint, term integer, n integer)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE d AS (
        SELECT i.category_id, t.term, (count(*) * sign)::integer AS n
        FROM unnest(items) AS i,
             unnest(i.terms || CASE WHEN i.in_stock THEN '{0,-1}'::integer[]
                                    ELSE '{0}'::integer[] END) AS t(term)
        GROUP BY 1, 2),
    up (category_id, scope) AS (
        SELECT DISTINCT category_id, category_id FROM d WHERE category_id IS NOT NULL
        UNION
        SELECT up.category_id, c.parent_id FROM up JOIN categories c ON c.id = up.scope
        WHERE c.parent_id IS NOT NULL)
    SELECT 0::bigint, d.term, sum(d.n)::integer FROM d GROUP BY d.term
    UNION ALL
    SELECT up.scope, d.term, sum(d.n)::integer FROM d JOIN up ON up.category_id = d.category_id
    GROUP BY 1, 2
$$;

-- The writers' entry point (migration 0016) keeps its name: the tree
-- lock first, then, in statements of their own that see the tree as any
-- committed move left it, the append and fold of before.
ALTER FUNCTION nexus_facet_counts_apply(nexus_facet_item[], nexus_facet_item[])
    RENAME TO nexus_facet_counts_append;

CREATE FUNCTION nexus_facet_counts_apply(plus nexus_facet_item[], minus nexus_facet_item[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- no category moves until this transaction ends
    PERFORM pg_advisory_xact_lock_shared(hashtext('nexus_facet_counts_tree'));
    PERFORM nexus_facet_counts_append(plus, minus);
END
$$;

-- The given scopes counted again from the products (one row per key).
CREATE FUNCTION nexus_facet_counts_recount(scopes bigint[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM facet_counts WHERE scope = ANY (scopes) AND scope <> 0;
    INSERT INTO facet_counts (scope, term, n)
    WITH RECURSIVE down (scope, id) AS (
        SELECT s, s FROM unnest(scopes) AS u(s) WHERE s IS NOT NULL AND s <> 0
        UNION
        SELECT down.scope, c.id FROM down JOIN categories c ON c.parent_id = down.id)
    SELECT down.scope, t.term, count(*)
    FROM down JOIN products p ON p.category_id = down.id,
         unnest(p.facet_attributes || p.facet_options
                || CASE WHEN p.stock > 0 THEN '{0,-1}'::integer[] ELSE '{0}'::integer[] END)
             AS t(term)
    WHERE p.is_active AND p.deleted_at IS NULL
    GROUP BY 1, 2;
$$;

CREATE FUNCTION nexus_categories_facet_lock() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('nexus_facet_counts_tree'));
    RETURN NULL;
END
$$;

-- One category moved: its own scope, exact for its subtree, taken from
-- the scopes of its old ancestors and added to those of its new ones (the
-- ones above both unchanged), then folded. Its old parent's ancestors are
-- read from the tree as it is now: the move cannot have changed them,
-- since the old parent is not in the moved subtree.
CREATE FUNCTION nexus_facet_counts_move(moved bigint, old_parent bigint, new_parent bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    scopes bigint[];
    terms integer[];
BEGIN
    WITH old_up AS (SELECT scope FROM nexus_category_scopes(ARRAY[old_parent])),
    new_up AS (SELECT scope FROM nexus_category_scopes(ARRAY[new_parent])),
    changed (scope, sign) AS (SELECT scope, -1 FROM (SELECT * FROM old_up EXCEPT
                                                     SELECT * FROM new_up) o
                              UNION ALL
                              SELECT scope, 1 FROM (SELECT * FROM new_up EXCEPT
                                                    SELECT * FROM old_up) n),
    ins AS (INSERT INTO facet_counts (scope, term, n)
            SELECT g.scope, c.term, (g.sign * sum(c.n))::integer
            FROM facet_counts c CROSS JOIN changed g
            WHERE c.scope = moved
            GROUP BY g.scope, g.sign, c.term HAVING sum(c.n) <> 0
            RETURNING scope, term)
    SELECT array_agg(scope), array_agg(term) INTO scopes, terms FROM ins;
    -- no other writer runs (the tree lock is held exclusively)
    IF scopes IS NOT NULL
       AND pg_try_advisory_xact_lock(hashtext('nexus_facet_counts_fold')) THEN
        PERFORM nexus_facet_counts_fold(scopes, terms);
    END IF;
END
$$;

-- The scopes a move changes. One category moved (what the API does):
-- nexus_facet_counts_move. Several in one statement: the old parents and
-- every category above them in the tree as it was (the moved rows' old
-- parents put back), and the new parents and every category above them
-- now, counted again from the products.
CREATE FUNCTION nexus_categories_facet_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    scopes bigint[];
    moves bigint[];
BEGIN
    SELECT array_agg(n.id) INTO moves FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.parent_id IS DISTINCT FROM o.parent_id;
    IF moves IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(moves) = 1 THEN
        PERFORM nexus_facet_counts_move(n.id, o.parent_id, n.parent_id)
        FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.id = moves[1];
        RETURN NULL;
    END IF;
    WITH RECURSIVE moved AS (
        SELECT o.parent_id AS old_parent, n.parent_id AS new_parent
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.parent_id IS DISTINCT FROM o.parent_id),
    was AS (SELECT c.id, CASE WHEN o.id IS NULL THEN c.parent_id ELSE o.parent_id END AS parent_id
            FROM categories c LEFT JOIN old_rows o ON o.id = c.id),
    up_was (id) AS (SELECT old_parent FROM moved WHERE old_parent IS NOT NULL
                    UNION SELECT w.parent_id FROM up_was JOIN was w ON w.id = up_was.id
                          WHERE w.parent_id IS NOT NULL)
    SELECT ARRAY(SELECT id FROM up_was
                 UNION SELECT s.scope FROM nexus_category_scopes(
                     ARRAY(SELECT new_parent FROM moved)) s)
    INTO scopes;
    PERFORM nexus_facet_counts_recount(scopes);
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_facet_lock BEFORE UPDATE OF parent_id ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_categories_facet_lock();
CREATE TRIGGER categories_facet_counts AFTER UPDATE ON categories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_categories_facet_counts();

-- Every count from the products at once (here, and after nexus seed's
-- bulk load without triggers): per (category, term) in one pass over the
-- products, then rolled up into the scopes of each category's ancestors.
CREATE OR REPLACE FUNCTION nexus_facet_counts_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM facet_counts;
    INSERT INTO facet_counts (scope, term, n)
    WITH d AS (SELECT p.category_id, t.term, count(*) AS n
               FROM products p,
                    unnest(p.facet_attributes || p.facet_options
                           || CASE WHEN p.stock > 0 THEN '{0,-1}'::integer[]
                                   ELSE '{0}'::integer[] END) AS t(term)
               WHERE p.is_active AND p.deleted_at IS NULL
               GROUP BY 1, 2)
    SELECT 0, d.term, sum(d.n) FROM d GROUP BY d.term
    UNION ALL
    SELECT s.scope, d.term, sum(d.n)
    FROM d JOIN nexus_category_scopes(ARRAY(SELECT id FROM categories)) s
        ON s.category_id = d.category_id
    GROUP BY 1, 2;
$$;

SELECT nexus_facet_counts_rebuild();
