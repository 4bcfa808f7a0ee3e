-- depends: 0003_reissued_expiry
-- Token domains per client (issue 19, finding 4): every card belongs to the client that
-- tokenized it; duplicate detection, lookup and disposal see only that client's cards
-- (PCI DSS v4.0.1 7.2.1, 7.2.2; PCI Tokenization Product Security Guidelines, token domains).
-- Cards stored before this migration belong to the domain `legacy`, which no client has until
-- the configuration names one so.
ALTER TABLE vault.cards ADD COLUMN client_id text NOT NULL DEFAULT 'legacy'
    CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$');
ALTER TABLE vault.cards ALTER COLUMN client_id DROP DEFAULT;
ALTER TABLE vault.cards DROP CONSTRAINT cards_pan_hmac_unique;
-- One row per card number and client: concurrent submissions of one card by one client race here.
ALTER TABLE vault.cards ADD CONSTRAINT cards_client_pan_hmac_unique UNIQUE (client_id, pan_hmac);

GRANT SELECT (client_id) ON vault.cards TO card_vault_app;
