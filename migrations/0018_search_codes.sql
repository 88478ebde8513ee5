-- The index of characters and character pairs (migration 0006) with
-- integer keys.
--
-- The same keys as before, each as one number: a character as its code
-- point, a pair of adjacent characters as (first + 1) * 2^21 + second
-- (code points are below 2^21, so the two kinds never meet and no key is
-- 0). The mapping is one to one, so a word's keys are contained in a
-- text's exactly when they were as text, and every search answers as
-- before. Text keys were compared with the database's collation (strcoll
-- for anything but "C"); bigint keys compare as numbers, which makes the
-- index about a third cheaper to build and every write to it cheaper.

-- Every character and every pair of adjacent characters of t (repeats
-- included; GIN keeps each key once per row). The pairs come from
-- regexp_matches (the first pair, the third, ..., then the second, the
-- fourth, ...), the cheapest way found per row; written out here rather
-- than called, as a nested call costs a third more. Costly per row all
-- the same, hence its COST: a plan reads it from the index, where
-- containment is exact.
CREATE FUNCTION nexus_search_codes(t text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 100 AS $$
    SELECT ARRAY(SELECT ascii(c)::bigint FROM unnest(string_to_array(t, NULL)) AS c)
        || ARRAY(SELECT ((ascii(m[1])::bigint + 1) << 21) + ascii(substr(m[1], 2))
                 FROM regexp_matches(t, '..', 'g') AS m)
        || ARRAY(SELECT ((ascii(m[1])::bigint + 1) << 21) + ascii(substr(m[1], 2))
                 FROM regexp_matches(substr(t, 2), '..', 'g') AS m)
$$;

-- What a text containing the word w must hold: its one character, else
-- its pairs of adjacent characters (the keys from 2^21 up; for two
-- characters, the one pair). An empty word gives 0, which no text holds,
-- as '' was before.
CREATE FUNCTION nexus_search_word_codes(w text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN length(w) <= 1 THEN ARRAY[ascii(w)::bigint]
           ELSE ARRAY(SELECT k FROM unnest(nexus_search_codes(w)) AS k WHERE k >= 2097152)
           END
$$;

DROP INDEX products_grams_idx;
CREATE INDEX products_grams_idx ON products
    USING gin (nexus_search_codes(lower(name || ' ' || description))) WHERE deleted_at IS NULL;

DROP FUNCTION nexus_search_grams(text);
DROP FUNCTION nexus_search_word_grams(text);

-- The indexes a bulk `nexus seed` dropped and has still to build. The seed
-- commits its rows with this list, then builds the indexes on two
-- connections at once, each committed with the removal of its row; a seed
-- interrupted meanwhile finishes them when run again.
CREATE TABLE seed_pending_indexes (
    name text PRIMARY KEY,
    definition text NOT NULL
);
