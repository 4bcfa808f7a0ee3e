-- depends: 0012_hash_behind_definer
-- Post-deploy (contract) half of migration 0012, applied by the post-deploy migration trigger once
-- CloudFormation has updated every vault function: what 0012 made unnecessary is taken away only
-- when no code of the previous release still uses it (red-team findings F2, F3, F5; issue 19).

-- The API login: no keyed hash, no key version, no direct insert (a unique violation on a guessed
-- hash would be the same oracle without vault.store_card).
REVOKE SELECT (pan_hmac, hmac_key_version) ON vault.cards FROM card_vault_app;
REVOKE INSERT ON vault.cards FROM card_vault_app;

-- Keys written by the previous release between the two halves carry no token (or, when they replaced
-- an expired key, the old key's): keys whose card is gone go, the others name their card.
DELETE FROM vault.idempotency_keys k
    WHERE k.token IS DISTINCT FROM (k.response::json ->> 'token')
      AND NOT EXISTS (SELECT FROM vault.cards c WHERE c.token = (k.response::json ->> 'token'));
UPDATE vault.idempotency_keys SET token = (response::json ->> 'token')
    WHERE token IS DISTINCT FROM (response::json ->> 'token');
ALTER TABLE vault.idempotency_keys ALTER COLUMN token SET NOT NULL;

-- The detokenize login reads ciphertexts and appends audit rows only through
-- vault.open_for_detokenize and vault.record_tampered.
REVOKE INSERT ON vault.detokenize_audit FROM card_vault_detokenize;
REVOKE INSERT (token, reason_code, ticket, request_id, outcome) ON vault.detokenize_audit FROM card_vault_detokenize;
REVOKE SELECT (token, format_version, data_key_id, pan_ciphertext) ON vault.cards FROM card_vault_detokenize;
