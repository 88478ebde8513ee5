-- Word search for words the trigram index cannot serve.
--
-- pg_trgm finds a word through the trigrams of its runs of letters and
-- digits, so a word without three of them in a row ("tv", "4k", "x", "a-b")
-- has no trigram to look up and its ILIKE would read every row. This index
-- holds, per product, every character and every pair of adjacent characters
-- of lower(name || ' ' || description); a word that is a substring of that
-- text has all its pairs there (or, for one character, itself). The ILIKE
-- that goes with the index condition keeps the exact semantics.

-- Every character and every pair of adjacent characters of t (repeats
-- included; GIN keeps each key once per row). About 40 times the cost of
-- the ILIKE it narrows when computed per row, hence its COST: a plan reads
-- it from the index, where containment is exact and needs no recheck.
CREATE FUNCTION nexus_search_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 100 AS $$
    SELECT regexp_split_to_array(t, '')
        || ARRAY(SELECT m[1] FROM regexp_matches(t, '..', 'g') AS m)
        || ARRAY(SELECT m[1] FROM regexp_matches(substr(t, 2), '..', 'g') AS m)
$$;

-- What a text containing the word w must hold: w itself when it is one or
-- two characters long, else its pairs of adjacent characters.
CREATE FUNCTION nexus_search_word_grams(w text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN length(w) <= 2 THEN ARRAY[w]
           ELSE ARRAY(SELECT m[1] FROM regexp_matches(w, '..', 'g') AS m)
                || ARRAY(SELECT m[1] FROM regexp_matches(substr(w, 2), '..', 'g') AS m)
           END
$$;

CREATE INDEX products_grams_idx ON products
    USING gin (nexus_search_grams(lower(name || ' ' || description))) WHERE deleted_at IS NULL;
