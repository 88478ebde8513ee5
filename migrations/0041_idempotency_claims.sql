-- An upload's body streams in for as long as REQUEST_TIMEOUT, long before
-- its answer can be kept: a repeat with its key meanwhile must find the
-- key taken (a 409), on every instance. So an upload claims its key when
-- its headers arrive, with a row that has a claim (a random token of the
-- request holding it) and no answer yet; its answer replaces the claim,
-- and a request that ends without one deletes it. A claim outlives its
-- request only when its server stopped: it expires like any row, after
-- REQUEST_TIMEOUT and a minute, and is then taken or purged.
ALTER TABLE idempotency_keys ADD COLUMN claim text CHECK (claim ~ '^[0-9a-f]{32}$');
ALTER TABLE idempotency_keys ALTER COLUMN fingerprint DROP NOT NULL;
ALTER TABLE idempotency_keys ALTER COLUMN status DROP NOT NULL;
-- A row is an answer (fingerprint and status, no claim) or a claim (no
-- fingerprint or status yet).
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_answer_or_claim_check
    CHECK (CASE WHEN claim IS NULL THEN fingerprint IS NOT NULL AND status IS NOT NULL
                ELSE fingerprint IS NULL AND status IS NULL END);
