-- Idempotency keys: the answer to the first POST made with a key, kept so
-- that a retry of the same request gets that answer instead of running
-- again. A row is written in the transaction of the change it answers for,
-- so it exists exactly when that change does.

CREATE TABLE idempotency_keys (
    scope        text NOT NULL CHECK (length(scope) BETWEEN 1 AND 128),
    path         text NOT NULL CHECK (length(path) BETWEEN 1 AND 2048),
    key          text NOT NULL CHECK (key ~ '^[\x20-\x7e]{1,255}$'),
    fingerprint  text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    status       integer NOT NULL CHECK (status BETWEEN 200 AND 299),
    content_type text,
    headers      jsonb NOT NULL DEFAULT '{}',
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, path, key)
);

-- The worker deletes expired keys oldest first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
