-- depends: 0034_tokenize_budget_in_database 0030_contract_0029
-- Post-deploy (contract) half of migration 0034 (red team r19d finding 4, issue 19, task w19j), applied once
-- CloudFormation has updated every vault function: the API function no longer takes its tokenize budget itself
-- (vault.reserve_tokenizations does, in vault.tokenize_spend), so the table the previous release's code wrote, and
-- the API login's INSERT and UPDATE on it with which the login reset its own `used`, go, with the previous
-- release's entry point.
REVOKE ALL ON vault.tokenize_budget FROM card_vault_app;
DROP TABLE vault.tokenize_budget;
DROP FUNCTION vault.reserve_card_hashes(text, text[], text[], bytea[]);
