-- depends: 0027_hash_bound_credits 0024_contract_0023
-- Post-deploy (contract) half of migration 0027 (red team r19c H1, issue 19, task w19h1), applied once
-- CloudFormation has updated every vault function: the previous release's reservation and answering functions,
-- whose credits were a count of the pair (unbound to a hash) and whose answers a rollback could take back with
-- the spend, go. From here the API login reserves only through vault.reserve_card_hashes and is answered only by
-- vault.tokenize_card, vault.tokenize_cards and the seven-argument vault.idempotent_answer.
DROP FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]);
DROP FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[], smallint[], bytea[]);
DROP FUNCTION vault.idempotent_answer(text, bytea, bytea[]);
DROP FUNCTION vault.reserve_siblings(text, text[], text[], integer[]);
DROP FUNCTION vault.spend_siblings(text, text[], text[]);
-- vault.sibling_counts.unspent (the unbound credits) stays: nothing adds to it any more and no remaining
-- function spends it; vault.reserve_card_hashes empties it when a pair's window ends.
