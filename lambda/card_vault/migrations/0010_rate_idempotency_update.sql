-- depends: 0004_client_domains
-- Issue 19: the per-client tokenize budget (finding 2), idempotency keys on POST and the card
-- update path (PATCH). PCI DSS v4.0.1 3.2.1, 3.5.1, 6.2.4, 7.2.2.

-- Per-client tokenize budget, one row per client and fixed window, kept by the database so every
-- Lambda instance draws on the same budget. UNLOGGED: a transaction that writes only unlogged
-- tables commits without waiting for a WAL flush, so the check adds no durable commit to a
-- tokenization; a crash or failover empties the table (every client's window starts afresh),
-- which a rate limit tolerates. It holds no card data.
CREATE UNLOGGED TABLE vault.tokenize_budget (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$'),
    window_start timestamptz NOT NULL,
    used integer NOT NULL CHECK (used >= 0)
);
GRANT SELECT, INSERT, UPDATE ON vault.tokenize_budget TO card_vault_app;

-- Idempotency keys of POST /v1/cards: written in the same transaction as the card, so a stored
-- card always has its key and a retried request gets the first answer. The key is kept only as a
-- SHA-256 of what the client sent (client text never stored); the request fingerprint is derived
-- from the card number's keyed hash, never from the number itself (3.5.1).
CREATE TABLE vault.idempotency_keys (
    client_id text NOT NULL CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$'),
    key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    request_hash bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    status smallint NOT NULL CHECK (status BETWEEN 200 AND 299),
    response text NOT NULL CHECK (length(response) <= 1024),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, key_hash)
);
CREATE INDEX idempotency_keys_expiry ON vault.idempotency_keys (expires_at);
GRANT SELECT, INSERT ON vault.idempotency_keys TO card_vault_app;
-- An expired key may be taken over by a new request with the same key.
GRANT UPDATE (request_hash, status, response, created_at, expires_at) ON vault.idempotency_keys TO card_vault_app;
-- The daily purge deletes expired keys.
GRANT SELECT (expires_at), DELETE ON vault.idempotency_keys TO card_vault_purge;

-- Card update (PATCH /v1/cards/{token}): the cardholder name is sealed again under the current
-- data key, which may differ from the card number's; its own key column says which (NULL: the
-- card's `data_key_id`, as before this migration).
ALTER TABLE vault.cards ADD COLUMN name_data_key_id uuid REFERENCES vault.data_keys (id);
GRANT UPDATE (name_ciphertext, name_data_key_id) ON vault.cards TO card_vault_app;
