-- Sign-out and password change end every token issued before them: each token carries the user's
-- generation at issue time (claim "gen"), and a token whose generation is below the user's is refused.
ALTER TABLE users ADD COLUMN token_generation bigint NOT NULL DEFAULT 1;
