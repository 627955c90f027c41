-- Users, orders (items as JSONB, one row per checkout) and the transactional outbox.
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case, so "Alice" cannot shadow "alice".
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    items           jsonb NOT NULL,
    cart_id         text NOT NULL,
    idempotency_key text,
    receipt_key     text,
    failure_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- One order per cart: two concurrent checkouts of the same cart cannot both commit.
    CONSTRAINT orders_user_cart_key UNIQUE (user_id, cart_id),
    -- A retried checkout with the same key finds the first order instead of making another.
    CONSTRAINT orders_user_idempotency_key UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_user_id_idx ON orders (user_id, created_at DESC);

-- Messages committed with the order and relayed to SQS afterwards, so an SQS outage at checkout
-- delays the message instead of losing it.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload     jsonb NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
