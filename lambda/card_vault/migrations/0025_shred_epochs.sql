-- depends: 0023_sibling_spend_in_store
-- Issue 19 finding 8, "deleted is not gone" (task w19b; PCI DSS v4.0.1 3.2.1, 3.7.5, 9.4.7): crypto-shredding.
-- Data keys are wrapped by one of a set of per-period KMS keys, the shred epochs (card_vault.shred_epochs in
-- the configuration, one retained CloudFormation key per epoch). Every data key records its epoch, and every
-- card the epoch of its card number's data key, so the Keys job (`card_vault.keys`, jobs `reseal` and `shred`)
-- can find the live cards of an expiring epoch, seal them again under the current epoch, delete the old
-- epoch's data keys once no card uses them, and, once the epoch held no card and no data key for the backup
-- retention, schedule its KMS key for deletion. After that every WAL, snapshot and point-in-time-recovery
-- copy of a card deleted in that epoch holds ciphertext under a data key only that KMS key could unwrap.
-- Epoch 0 is the cardholder-data key (every data key before this migration, and the vault without epochs):
-- it also encrypts the database's storage, so the job never schedules it for deletion.
-- Expand only: the previous release's code inserts data keys without an epoch (the default, 0, is right
-- for it: it wraps under the cardholder-data key) and cards through vault.store_card (the trigger sets
-- their epoch).

ALTER TABLE vault.data_keys ADD COLUMN shred_epoch smallint NOT NULL DEFAULT 0 CHECK (shred_epoch BETWEEN 0 AND 9999);
CREATE INDEX data_keys_shred_epoch ON vault.data_keys (shred_epoch);
ALTER TABLE vault.cards ADD COLUMN shred_epoch smallint CHECK (shred_epoch BETWEEN 0 AND 9999);
UPDATE vault.cards c SET shred_epoch = d.shred_epoch FROM vault.data_keys d WHERE d.id = c.data_key_id;
CREATE INDEX cards_shred_epoch ON vault.cards (shred_epoch);

-- The card's epoch is its card number's data key's, set by the database whoever writes the row (the
-- tokenizer's vault.store_card, the previous release's direct insert until post/0016 ran, the Keys job's
-- re-seal): no login chooses it. SECURITY DEFINER, owned by card_vault_tokenizer (cannot log in), which
-- reads two columns of vault.data_keys, neither of them key material. The cardholder name's data key
-- (`name_data_key_id`, the update path) is found by the Keys job through its data key row.
GRANT SELECT (id, shred_epoch) ON vault.data_keys TO card_vault_tokenizer;
CREATE FUNCTION vault.set_card_shred_epoch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.shred_epoch := (SELECT d.shred_epoch FROM vault.data_keys d WHERE d.id = NEW.data_key_id);
    RETURN NEW;
END
$$;
ALTER FUNCTION vault.set_card_shred_epoch() OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.set_card_shred_epoch() FROM PUBLIC;
CREATE TRIGGER cards_shred_epoch BEFORE INSERT OR UPDATE OF data_key_id, shred_epoch ON vault.cards
    FOR EACH ROW EXECUTE FUNCTION vault.set_card_shred_epoch();

-- One row per epoch the Keys job has seen configured: when it first found the epoch without a card or a
-- data key (`emptied_at`, reset if one appears again), and when it scheduled the epoch's KMS key for
-- deletion and for which date. Holds no card data.
CREATE TABLE vault.shred_epochs (
    epoch smallint PRIMARY KEY CHECK (epoch BETWEEN 1 AND 9999),
    kms_key_arn text NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    emptied_at timestamptz,
    deletion_scheduled_at timestamptz,
    deletion_date timestamptz
);
REVOKE ALL ON vault.shred_epochs FROM PUBLIC;

-- The Keys login: re-seals a card in place (new ciphertexts and data keys, the same token, hash, masked
-- columns and expiry), makes data keys under the current epoch and deletes the old epoch's unused ones,
-- and keeps the epoch ledger. It still deletes no card.
GRANT SELECT (name_ciphertext, name_data_key_id, shred_epoch) ON vault.cards TO card_vault_keys;
GRANT UPDATE (pan_ciphertext, name_ciphertext, data_key_id, name_data_key_id) ON vault.cards TO card_vault_keys;
GRANT INSERT, DELETE ON vault.data_keys TO card_vault_keys;
GRANT SELECT, INSERT, UPDATE ON vault.shred_epochs TO card_vault_keys;
-- pgaudit object auditing (migration 0013): every re-seal and every data-key deletion is logged.
GRANT UPDATE (pan_ciphertext, name_ciphertext, data_key_id, name_data_key_id) ON vault.cards TO rds_pgaudit;
GRANT UPDATE, DELETE ON vault.shred_epochs TO rds_pgaudit;
