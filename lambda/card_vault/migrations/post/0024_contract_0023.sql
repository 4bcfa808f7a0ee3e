-- depends: 0023_sibling_spend_in_store 0022_contract_0020_0021
-- Post-deploy (contract) half of migration 0023 (red team r19b M2, issue 19, task w19a), applied once
-- CloudFormation has updated every vault function: what only the previous release used goes.

-- A card's duplicate is found within its (client, first six, last four) only: with the number-wide
-- constraint gone, a hash sent under a pair that is not its stored card's meets no unique violation and
-- stores a new card in the named pair, as a wrong guess does (cards_client_pair_pan_hmac_unique stays).
ALTER TABLE vault.cards DROP CONSTRAINT cards_client_pan_hmac_unique;
-- The older key versions' look-up is a step of vault.store_card, which spends a reservation first.
DROP FUNCTION vault.find_card_under(text, smallint, bytea, smallint, smallint);
-- The previous release's signatures of the store functions, with it.
DROP FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[]);
DROP FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint);
