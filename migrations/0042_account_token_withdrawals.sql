-- A withdrawn token (the password changed, the account was deactivated)
-- was told from one that expired on its own only by its expiry, moved to
-- the moment of the withdrawal. A retried email job must make its token,
-- expired or not, work again for the time its message says, and must
-- never bring a withdrawn one back: the withdrawal is recorded apart.
ALTER TABLE account_tokens ADD COLUMN withdrawn_at timestamptz;
-- Which of the tokens already expired were withdrawn cannot be told: all
-- of them count as withdrawn, so a retry sends them as it did before.
UPDATE account_tokens SET withdrawn_at = expires_at
    WHERE expires_at <= now() AND used_at IS NULL AND replaced_at IS NULL;
