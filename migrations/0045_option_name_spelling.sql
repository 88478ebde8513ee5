-- One spelling of each option name per product, for the variants written
-- before writes agreed on one.
--
-- Writes used to store option names as each one spelled them, so a
-- product's variants could hold {"Size": "M"} beside {"SIZE": "S"} and a
-- client looking up options["Size"] missed some of them. Writes now take
-- the spelling of the product's first live variant (model/variant's
-- variant_options_spell_as); this gives the variants stored before the
-- same: each live variant of a product whose live variants spell a name
-- in more than one way takes, for each name, the spelling of the first
-- live variant (by position, then id, as the variants are listed) that
-- has it. Names are the same but for case when their lower() is, as the
-- writes compare them (utf8_same_lower is lower() of a C.UTF-8 database)
-- and as option_names and options_key (migration 0010) hold them, so
-- neither key changes.
--
-- Deleted variants keep their options as they were: nothing answers,
-- counts or exports them, and no write reads their spelling.
--
-- Finding the products reads every live variant's option names once; a
-- catalog with no mixed spelling writes nothing. Each product rewritten
-- is written as a variant write through the API writes it: its variants'
-- option terms and facet counts follow through their triggers, and the
-- product is derived again with its version and updated_at moved (its
-- ETag changes). A migration has no Redis, so the catalog cache bump it
-- owes is recorded as a write's would be when Redis is away
-- (cache_owed_bumps, migration 0031): the servers deliver it.
DO $$
DECLARE
    pids bigint[];
BEGIN
    pids := ARRAY(
        SELECT DISTINCT v.product_id
        FROM product_variants v, jsonb_object_keys(v.options) AS n(name)
        WHERE v.deleted_at IS NULL AND v.options <> '{}'
        GROUP BY v.product_id, lower(n.name)
        HAVING min(n.name) <> max(n.name)
        ORDER BY 1); -- written, and so locked, in id order
    IF cardinality(pids) = 0 THEN
        RETURN;
    END IF;

    WITH names AS (
        SELECT v.product_id, n.name, v.position, v.id
        FROM product_variants v, jsonb_object_keys(v.options) AS n(name)
        WHERE v.product_id = ANY (pids) AND v.deleted_at IS NULL),
    spelling AS (
        SELECT DISTINCT ON (product_id, lower(name)) product_id, lower(name) AS lk, name
        FROM names ORDER BY product_id, lower(name), position, id),
    respelled AS (
        SELECT v.id, jsonb_object_agg(s.name, o.value) AS options
        FROM product_variants v
        CROSS JOIN LATERAL jsonb_each(v.options) AS o
        JOIN spelling s ON s.product_id = v.product_id AND s.lk = lower(o.key)
        WHERE v.product_id = ANY (pids) AND v.deleted_at IS NULL
        GROUP BY v.id)
    UPDATE product_variants v SET options = r.options
    FROM respelled r
    WHERE v.id = r.id AND v.options <> r.options;

    PERFORM nexus_product_derive(pid, true) FROM unnest(pids) AS pid;

    INSERT INTO cache_owed_bumps DEFAULT VALUES;
    PERFORM pg_notify('nexus_cache_owed', '');
END
$$;
