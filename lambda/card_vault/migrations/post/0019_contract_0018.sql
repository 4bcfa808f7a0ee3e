-- depends: 0018_idempotency_and_sibling_reservation 0017_contract_0014
-- Post-deploy (contract) half of migration 0018 (red team r19b H1, M3, L4), applied once CloudFormation
-- has updated every vault function: the API login reaches the idempotency keys and the sibling counts
-- only through vault.idempotent_answer, vault.remember_idempotent_key and vault.reserve_siblings.

REVOKE SELECT, INSERT, UPDATE ON vault.idempotency_keys FROM card_vault_app;
REVOKE UPDATE (token, request_hash, status, response, created_at, expires_at) ON vault.idempotency_keys
    FROM card_vault_app;
REVOKE SELECT ON vault.sibling_counts FROM card_vault_app;
-- The previous release's count (caller-chosen window, any token counted): gone with its only caller.
DROP FUNCTION vault.count_siblings(text, text[], text[], text[], integer);
