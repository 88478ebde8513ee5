-- A marker that keeps a statement's plan serial. The page of one word
-- read from the word indexes is planned once for any word (a prepared
-- statement's generic plan), which cannot see the word: PostgreSQL then
-- guesses it in 0.5% of the rows, and at a million products that makes
-- the plan parallel, while a rare word's page (a few hundred matches,
-- fetched and sorted) took thirty times as long through two workers. A
-- statement that names a function marked PARALLEL UNSAFE is never
-- planned parallel; this one is immutable too, so the planner folds it
-- to true and it costs nothing when the statement runs.
CREATE FUNCTION nexus_serial_plan() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS $$ SELECT true $$;
