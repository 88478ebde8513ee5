-- A withdrawn reset link (the password changed, was reset, or the account
-- was deactivated) was known as withdrawn only by its token's row, which
-- the worker deletes JOB_RETENTION after it expired: a dead email job
-- retried after that stored its token afresh, and the link worked again.
-- The time of the user's last withdrawal is kept with the user, and a
-- token of a request made before it is stored withdrawn already.
ALTER TABLE users ADD COLUMN reset_links_withdrawn_at timestamptz;
-- Withdrawals and resets before this migration are known by the tokens
-- not purged yet.
UPDATE users u SET reset_links_withdrawn_at = t.at
    FROM (SELECT user_id, max(greatest(withdrawn_at, used_at)) AS at FROM account_tokens
          WHERE kind = 'password_reset' GROUP BY user_id) t
    WHERE u.id = t.user_id AND t.at IS NOT NULL;
