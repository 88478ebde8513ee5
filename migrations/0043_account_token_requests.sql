-- A token is made when the worker runs its email's job, which may be long
-- after the request that queued it (the worker was stopped, the job was
-- retried): which of two tokens a user asked for later is told by the
-- time each job was queued, kept here. Tokens made before take the time
-- they were made; a token stored without it (by a worker not upgraded
-- yet) takes the time it is stored.
ALTER TABLE account_tokens ADD COLUMN requested_at timestamptz NOT NULL DEFAULT now();
UPDATE account_tokens SET requested_at = created_at;
