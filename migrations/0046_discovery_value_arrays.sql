-- A value holding a comma could not be filtered on: attr.<key>= and
-- option.<name>= passed their list as sent, and these functions split it
-- on every comma, so option.B=x%2Cy looked for "x" or "y". The server
-- now splits the list itself (a backslash escapes a comma in a value)
-- and passes the values as an array.

CREATE FUNCTION nexus_attribute_query(k text, vals text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(k || '=' || lower(x)) FROM unnest(vals) AS x
$$;

CREATE FUNCTION nexus_option_query(n text, vals text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(jsonb_build_array(lower(n), lower(x))::text)
    FROM unnest(vals) AS x
$$;

DROP FUNCTION nexus_attribute_query(text, text);
DROP FUNCTION nexus_option_query(text, text);
