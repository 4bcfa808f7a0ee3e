-- depends: 0004_client_domains
-- Keyed-hash key versions (issue 19, findings 3 and 6; PCI DSS v4.0.1 3.5.1.1, 3.6.1, 3.7.4).
-- The keyed hash moves from a Secrets Manager key (which the API role could read, beside the
-- hashes and the first six / last four it reads) to a KMS HMAC key that never leaves KMS. Every
-- row records the version of the key that made its hash. Rows stored before this migration were
-- hashed under the retired Secrets Manager key: version 0. No role computes version 0 any more,
-- so until the re-hash job (`card_vault.keys`, job `rehash`) has moved them to the current
-- version, a client submitting such a card again gets a second token for it; the job then
-- reports that pair as a conflict and leaves both rows (see the README, "Key lifecycle").
-- The default stays for one release: during the deploy the previous API code (hashing with the
-- Secrets Manager key, version 0) may still insert until CloudFormation has updated the function;
-- this release's code always names the version.
ALTER TABLE vault.cards ADD COLUMN hmac_key_version smallint NOT NULL DEFAULT 0
    CHECK (hmac_key_version BETWEEN 0 AND 1000);
-- The re-hash job finds the rows of an old version without a full scan.
CREATE INDEX cards_hmac_key_version ON vault.cards (hmac_key_version);
-- When a data key was last re-encrypted under the configured KMS key (the rewrap job).
ALTER TABLE vault.data_keys ADD COLUMN rewrapped_at timestamptz;

GRANT SELECT (hmac_key_version) ON vault.cards TO card_vault_app;
