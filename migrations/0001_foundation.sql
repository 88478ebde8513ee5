-- Shared building blocks for the tables that follow.

-- Trigram indexes serve case-insensitive substring search over the catalog.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Keep updated_at truthful whatever path changes a row.
CREATE OR REPLACE FUNCTION nexus_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
