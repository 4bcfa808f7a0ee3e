-- depends: 0029_data_key_epoch_by_database 0028_contract_0027
-- Post-deploy (contract) half of migration 0029 (red team r19c M1, issue 19, task w19h1), applied once
-- CloudFormation has updated every vault function: the API login records data keys only through
-- vault.save_data_key, which sets the configured shred epoch, so it can no longer keep an old epoch in use.
-- The Keys login's re-seal (migration 0025) goes through the same function in this release.
REVOKE INSERT ON vault.data_keys FROM card_vault_app;
REVOKE INSERT ON vault.data_keys FROM card_vault_keys;
