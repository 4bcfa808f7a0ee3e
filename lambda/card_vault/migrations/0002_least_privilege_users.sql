-- depends: 0001_vault_schema
-- One login per function, each with only the grants it needs (PCI DSS v4.0.1 7.2.1, 7.2.2, 8.2.2).
-- How each logs in (IAM database authentication on AWS) is set by card_vault.migrate after the
-- migrations, never here: no password is written into SQL that the DDL log would keep.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_app') THEN
        CREATE ROLE card_vault_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_detokenize') THEN
        CREATE ROLE card_vault_detokenize LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_purge') THEN
        CREATE ROLE card_vault_purge LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA vault TO card_vault_app, card_vault_detokenize, card_vault_purge;

-- Tokenize, masked lookup, disposal: never reads a ciphertext back.
GRANT INSERT ON vault.cards TO card_vault_app;
GRANT SELECT (token, pan_hmac, brand, first6, last4, expiry_month, expiry_year) ON vault.cards TO card_vault_app;
GRANT DELETE ON vault.cards TO card_vault_app;
GRANT INSERT ON vault.data_keys TO card_vault_app;

-- Detokenize: reads one ciphertext and its wrapped data key; writes nothing.
GRANT SELECT (token, format_version, data_key_id, pan_ciphertext) ON vault.cards TO card_vault_detokenize;
GRANT SELECT ON vault.data_keys TO card_vault_detokenize;

-- Purge: finds expired cards and deletes them.
GRANT SELECT (token, expiry_month, expiry_year) ON vault.cards TO card_vault_purge;
GRANT DELETE ON vault.cards TO card_vault_purge;
