-- What the worker's purges look up: refresh tokens by their expiry, ended
-- logins by when they ended (revoked, or last used), and finished imports
-- by when they finished. Without them each purge would read its whole
-- table every minute.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX logins_revoked_idx ON logins (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX logins_idle_idx ON logins (last_used_at) WHERE revoked_at IS NULL;
CREATE INDEX imports_finished_idx ON imports (finished_at) WHERE status IN ('done', 'failed');
