-- depends: 0031_current_epoch_data_keys_only
-- Red team r19d finding 2 (issue 19, task w19i; PCI DSS v4.0.1 3.6.1, 3.7.5): vault.save_data_key (0029) compares
-- only the KMS key ARN its caller supplies with the configured one. The API's login could record a data key made
-- under another KMS key (its own, or one outside the vault's shred epochs) with the configured ARN passed: the
-- vault cannot read its cards, and no shred epoch's key deletion makes them unreadable. The database cannot call
-- KMS, so the vault does not take the API's word: the Keys job (`{"job": "verify"}`, run first by the daily
-- `rotate`) decrypts each data key not yet verified with the recorded KMS key pinned (`KeyId` on Decrypt: "If you
-- specify a different KMS key, the Decrypt operation fails", "Decrypt", AWS KMS API Reference; the error is
-- IncorrectKeyException) and records `verified_at`, or, when KMS answers the key is not the one recorded (or the
-- ciphertext is not KMS's), `quarantined_at` (the EMF metric DataKeyQuarantined, alarmed). A quarantined data key
-- takes no further card (the trigger of 0031 refuses it, SQLSTATE CV005); the cards already under it are the
-- re-seal's `unreadable` ones (alarmed) until disposed of. Between a data key's creation and the next run (at
-- most a day) its cards are unverified; a data key is the API's for at most its 5 minutes.
ALTER TABLE vault.data_keys ADD COLUMN verified_at timestamptz;
ALTER TABLE vault.data_keys ADD COLUMN quarantined_at timestamptz;
GRANT UPDATE (verified_at, quarantined_at) ON vault.data_keys TO card_vault_keys;
GRANT SELECT (quarantined_at) ON vault.data_keys TO card_vault_tokenizer;
-- pgaudit object auditing (migration 0013): every verification and quarantine is logged.
GRANT UPDATE (verified_at, quarantined_at) ON vault.data_keys TO rds_pgaudit;

CREATE OR REPLACE FUNCTION vault.refuse_stale_data_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_current smallint := (SELECT s.shred_epoch FROM vault.data_key_settings s);
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.data_key_id IS DISTINCT FROM OLD.data_key_id) THEN
        IF (SELECT d.shred_epoch FROM vault.data_keys d WHERE d.id = NEW.data_key_id) IS DISTINCT FROM v_current THEN
            RAISE EXCEPTION 'the card number''s data key is not of the current shred epoch' USING ERRCODE = 'CV004';
        END IF;
        IF (SELECT d.quarantined_at FROM vault.data_keys d WHERE d.id = NEW.data_key_id) IS NOT NULL THEN
            RAISE EXCEPTION 'the card number''s data key is quarantined' USING ERRCODE = 'CV005';
        END IF;
    END IF;
    IF NEW.name_data_key_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.name_data_key_id IS DISTINCT FROM OLD.name_data_key_id) THEN
        IF (SELECT d.shred_epoch FROM vault.data_keys d WHERE d.id = NEW.name_data_key_id) IS DISTINCT FROM v_current THEN
            RAISE EXCEPTION 'the cardholder name''s data key is not of the current shred epoch' USING ERRCODE = 'CV004';
        END IF;
        IF (SELECT d.quarantined_at FROM vault.data_keys d WHERE d.id = NEW.name_data_key_id) IS NOT NULL THEN
            RAISE EXCEPTION 'the cardholder name''s data key is quarantined' USING ERRCODE = 'CV005';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
