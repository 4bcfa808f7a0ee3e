-- depends: 0029_data_key_epoch_by_database
-- Red team r19d finding 1 (issue 19, task w19i; PCI DSS v4.0.1 3.6.1, 3.7.5): M1 was still open through the card
-- writers. vault.save_data_key (0029) records every new data key under the configured epoch, but
-- vault.store_card_in_pair (0023, behind vault.tokenize_card/tokenize_cards) and vault.update_card (0014) took any
-- data_key_id / name_data_key_id: the API's login, holding an epoch-1 data key's id after epoch 2 was made
-- current, stored new cards (and new sealed names) under it, so epoch 1 was never drained and its KMS key never
-- due for deletion. Now a trigger on vault.cards, SECURITY DEFINER (owned by card_vault_tokenizer, which cannot log
-- in), refuses (SQLSTATE CV004, nothing written) a card number's or cardholder name's data key whose shred epoch
-- is not vault.data_key_settings.shred_epoch, the configured current one, on every insert and on every update
-- that changes the column: every writer (the definer functions above, the Keys login's re-seal, the migrating
-- login) is held to it, so no contract half is needed. An update that keeps a column as it is (a card still of
-- an older epoch, awaiting its re-seal, whose expiry or name changes) is not refused for that column.
-- The window of a deploy that makes a new epoch current: from the migration function's run (it writes the new
-- epoch) to the function update, an instance of the API on the previous configuration has its new data keys
-- refused already (CV003, 0029) and now its cached one too (CV004): tokenize and name updates fail (500) for
-- that window rather than write into the old epoch.
GRANT SELECT ON vault.data_key_settings TO card_vault_tokenizer;

CREATE FUNCTION vault.refuse_stale_data_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_current smallint := (SELECT s.shred_epoch FROM vault.data_key_settings s);
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.data_key_id IS DISTINCT FROM OLD.data_key_id)
       AND (SELECT d.shred_epoch FROM vault.data_keys d WHERE d.id = NEW.data_key_id) IS DISTINCT FROM v_current THEN
        RAISE EXCEPTION 'the card number''s data key is not of the current shred epoch' USING ERRCODE = 'CV004';
    END IF;
    IF NEW.name_data_key_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.name_data_key_id IS DISTINCT FROM OLD.name_data_key_id)
       AND (SELECT d.shred_epoch FROM vault.data_keys d WHERE d.id = NEW.name_data_key_id) IS DISTINCT FROM v_current THEN
        RAISE EXCEPTION 'the cardholder name''s data key is not of the current shred epoch' USING ERRCODE = 'CV004';
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION vault.refuse_stale_data_key() OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.refuse_stale_data_key() FROM PUBLIC;
CREATE TRIGGER cards_current_epoch_data_keys BEFORE INSERT OR UPDATE OF data_key_id, name_data_key_id ON vault.cards
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_stale_data_key();
