-- Card vault schema (PCI DSS v4.0.1 3.5.1: the PAN is stored only as AES-256-GCM ciphertext and
-- an HMAC-SHA-256 keyed hash; 3.4.1: first six / last four kept for the masked view).
-- The stored format is described in card_vault/envelope.py.

CREATE SCHEMA IF NOT EXISTS vault;

CREATE TABLE vault.data_keys (
    id uuid PRIMARY KEY,
    wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) BETWEEN 1 AND 6144),
    kms_key_arn text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vault.cards (
    token text PRIMARY KEY CHECK (token ~ '^tok_[A-Za-z0-9_-]{32}$'),
    pan_hmac bytea NOT NULL CHECK (octet_length(pan_hmac) = 32),
    format_version smallint NOT NULL CHECK (format_version >= 1),
    data_key_id uuid NOT NULL REFERENCES vault.data_keys (id),
    pan_ciphertext bytea NOT NULL,
    name_ciphertext bytea NOT NULL,
    brand text NOT NULL,
    first6 char(6) NOT NULL CHECK (first6 ~ '^[0-9]{6}$'),
    last4 char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    expiry_month smallint NOT NULL CHECK (expiry_month BETWEEN 1 AND 12),
    expiry_year smallint NOT NULL CHECK (expiry_year BETWEEN 2000 AND 2099),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One row per card number: concurrent submissions of one card race on this constraint.
    CONSTRAINT cards_pan_hmac_unique UNIQUE (pan_hmac)
);

CREATE INDEX cards_expiry ON vault.cards (expiry_year, expiry_month);
