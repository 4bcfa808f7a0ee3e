-- depends: 0014_client_scoped_functions
-- Post-deploy (contract) half of migration 0014 (red-team r19 F8), applied once CloudFormation has updated
-- every vault function: the API login reaches card rows only through the client-scoped functions.

-- The API login: nothing on vault.cards, and it reads the sibling counts only (no direct write; it could
-- still reset one through vault.count_siblings' window parameter until post/0019_contract_0018.sql dropped it).
REVOKE SELECT, UPDATE, DELETE ON vault.cards FROM card_vault_app;
REVOKE SELECT (token, client_id, brand, first6, last4, expiry_month, expiry_year),
    UPDATE (expiry_month, expiry_year, name_ciphertext, name_data_key_id) ON vault.cards FROM card_vault_app;
REVOKE INSERT, UPDATE ON vault.sibling_counts FROM card_vault_app;
