-- A key keeps the first request's answer whatever it was: a refusal (a
-- 4xx the handler answered) is replayed like a success, so the same
-- request gets the same answer and the key cannot carry another body.
-- The server's own failures (5xx) and 429 are never kept.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_status_check;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_status_check
    CHECK (status BETWEEN 200 AND 499 AND status <> 429);
