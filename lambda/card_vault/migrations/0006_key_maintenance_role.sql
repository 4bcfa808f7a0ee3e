-- depends: 0005_hmac_key_versions
-- The key-maintenance login (issue 19, finding 6; PCI DSS v4.0.1 3.6.1, 3.7.4, 7.2.2): the
-- operator-run jobs of `card_vault.keys` re-hash rows under the current HMAC key version
-- (reads the ciphertext to decrypt the number, writes the hash and its version) and re-wrap
-- data keys under the configured KMS key (reads and rewrites the wrapped key). It changes no
-- ciphertext, token, masked column or expiry, and deletes nothing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_keys') THEN
        CREATE ROLE card_vault_keys LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA vault TO card_vault_keys;
GRANT SELECT (token, client_id, format_version, data_key_id, pan_ciphertext, pan_hmac, hmac_key_version)
    ON vault.cards TO card_vault_keys;
GRANT UPDATE (pan_hmac, hmac_key_version) ON vault.cards TO card_vault_keys;
GRANT SELECT ON vault.data_keys TO card_vault_keys;
GRANT UPDATE (wrapped_key, kms_key_arn, rewrapped_at) ON vault.data_keys TO card_vault_keys;
