-- depends: 0020_detokenize_audit_caller 0021_card_search_settings 0019_contract_0018
-- Post-deploy (contract) half of migrations 0020 and 0021 (issue 19, task w19a), applied once
-- CloudFormation has updated every vault function: the previous release's functions go with their callers.

-- The detokenize login opens a card only through the five-argument function, which records the caller.
DROP FUNCTION vault.open_for_detokenize(text, text, text, text);
-- The API login reserves siblings only within the limit and window vault.card_search_settings holds.
DROP FUNCTION vault.reserve_siblings(text, text[], text[], integer[], integer, integer);
