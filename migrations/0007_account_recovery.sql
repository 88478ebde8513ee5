-- Account recovery and verification: verified emails, one-time account
-- tokens (password reset, email verification), and what a user sees of
-- their logins.

ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- A login's public id is a number (API ids are integers); its uuid stays
-- the token family id carried by access tokens. last_used_at and
-- user_agent are refreshed each time the login's refresh token is used.
ALTER TABLE logins
    ADD COLUMN number       bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN user_agent   text NOT NULL DEFAULT ''
                            CHECK (char_length(user_agent) <= 256);
UPDATE logins SET last_used_at = created_at;
ALTER TABLE logins
    ALTER COLUMN last_used_at SET NOT NULL,
    ALTER COLUMN last_used_at SET DEFAULT now();
CREATE UNIQUE INDEX logins_number_key ON logins (number);

-- One-time tokens sent by email. Only the SHA-256 of a token is kept, so
-- the database never holds a usable one. A token is used at most once
-- (used_at is set in the transaction of the change it authorises), and a
-- newer token of the same kind for the same user replaces it.
CREATE TABLE account_tokens (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    kind        text NOT NULL CHECK (kind IN ('password_reset', 'email_verify')),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    replaced_at timestamptz
);

CREATE INDEX account_tokens_open_idx ON account_tokens (user_id, kind)
    WHERE used_at IS NULL AND replaced_at IS NULL;
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);
