-- Catalog cache bumps a process could not deliver: Redis was unreachable
-- after the write committed. The process keeps trying, but if it stops
-- first, nothing would tell the other instances (or itself, restarted)
-- that the entries from before the write are stale until they expire.
-- Any process that reaches Redis delivers them (a bump of every item and
-- list) and then deletes the rows it saw.
CREATE TABLE cache_owed_bumps (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owed_at timestamptz NOT NULL DEFAULT now()
);
