-- depends: 0027_hash_bound_credits
-- Red team r19c M1 (issue 19, task w19h1; PCI DSS v4.0.1 3.6.1, 3.7.5): the API login inserted vault.data_keys
-- rows itself and so chose each data key's shred_epoch (migration 0025) and kms_key_arn: by writing an old
-- epoch it kept that epoch in use forever, so the Keys job never drained it and its KMS key was never due for
-- deletion (crypto-shredding void). Now the epoch is the database's decision: vault.data_key_settings (one row,
-- written only by its owner, the migrating login, which sets it from its own environment at every run:
-- `card_vault.migrate.set_data_key_epoch`, VAULT_DATA_KEY_EPOCH and VAULT_DATA_KEY_KMS_KEY_ARN, the configured
-- current epoch and the KMS key that wraps new data keys) and vault.save_data_key, a SECURITY DEFINER function
-- that records every new data key under that epoch and refuses (SQLSTATE CV003, nothing stored) a data key
-- its caller names as wrapped by another KMS key than the configured one (the database cannot ask KMS which key
-- wrapped it: red team r19d finding 2; the Keys job's `verify`, migration 0032, checks it with KMS). Expand half: the previous release's code inserts data
-- keys directly until post/0030_contract_0029.sql revokes that; the Keys login (card_vault_keys) reseals
-- through the same function.
CREATE TABLE IF NOT EXISTS vault.data_key_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    shred_epoch smallint NOT NULL CHECK (shred_epoch BETWEEN 0 AND 9999),
    -- NULL until the migration function writes it (a local run without a configured key): any key accepted.
    kms_key_arn text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Epoch 0 (the cardholder-data key, migration 0025) until the migration function writes the configuration.
INSERT INTO vault.data_key_settings (shred_epoch, kms_key_arn) VALUES (0, NULL) ON CONFLICT (singleton) DO NOTHING;
REVOKE ALL ON vault.data_key_settings FROM PUBLIC;
GRANT SELECT ON vault.data_key_settings TO card_vault_scoped;
GRANT INSERT ON vault.data_keys TO card_vault_scoped;

-- Record one wrapped data key under the configured epoch; the epoch recorded. The KMS key named must be the
-- configured one (the ARN GenerateDataKey returns) when one is configured: the caller's claim, verified with KMS
-- by the Keys job (migration 0032), not here.
CREATE FUNCTION vault.save_data_key(p_id uuid, p_wrapped_key bytea, p_kms_key_arn text) RETURNS smallint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_epoch smallint;
    v_arn text;
BEGIN
    SELECT s.shred_epoch, s.kms_key_arn INTO v_epoch, v_arn FROM vault.data_key_settings s;
    IF v_epoch IS NULL THEN
        RAISE EXCEPTION 'save_data_key: vault.data_key_settings holds no epoch' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_arn IS NOT NULL AND p_kms_key_arn IS DISTINCT FROM v_arn THEN
        RAISE EXCEPTION 'save_data_key: the data key is not wrapped by the configured KMS key' USING ERRCODE = 'CV003';
    END IF;
    INSERT INTO vault.data_keys (id, wrapped_key, kms_key_arn, shred_epoch)
    VALUES (p_id, p_wrapped_key, p_kms_key_arn, v_epoch);
    RETURN v_epoch;
END
$$;
ALTER FUNCTION vault.save_data_key(uuid, bytea, text) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.save_data_key(uuid, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.save_data_key(uuid, bytea, text) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.save_data_key(uuid, bytea, text) TO card_vault_keys;
