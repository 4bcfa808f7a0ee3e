-- depends: 0014_client_scoped_functions
-- Batch tokenization in one round trip (issue 19, speed): vault.store_cards takes a batch's cards as
-- arrays (one element per card) and stores each through vault.store_card, in order, in the caller's
-- statement, so a batch is one statement, one transaction and one durable commit. Each card keeps
-- store_card's answer exactly: a card the client holds already (or sent earlier in the same batch)
-- answers with its stored token, a later expiry replaces the stored one. `ord` is the card's
-- 1-based position; a card deleted concurrently between store_card's two statements has no row.
-- The API login's rights do not change: each element answers for a (client, hash) the caller holds.
CREATE FUNCTION vault.store_cards(
    p_client_id text, p_hmac_key_version smallint, p_tokens text[], p_pan_hmacs bytea[],
    p_format_versions smallint[], p_data_key_ids uuid[], p_pan_ciphertexts bytea[], p_name_ciphertexts bytea[],
    p_brands text[], p_first6s text[], p_last4s text[], p_expiry_months smallint[], p_expiry_years smallint[]
) RETURNS TABLE (ord integer, token text, brand text, first6 text, last4 text, expiry_month smallint,
    expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_tokens), 0);
BEGIN
    IF n > 1000 THEN
        RAISE EXCEPTION 'store_cards: at most 1000 cards per call, got %', n USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF n <> coalesce(cardinality(p_pan_hmacs), 0) OR n <> coalesce(cardinality(p_format_versions), 0)
        OR n <> coalesce(cardinality(p_data_key_ids), 0) OR n <> coalesce(cardinality(p_pan_ciphertexts), 0)
        OR n <> coalesce(cardinality(p_name_ciphertexts), 0) OR n <> coalesce(cardinality(p_brands), 0)
        OR n <> coalesce(cardinality(p_first6s), 0) OR n <> coalesce(cardinality(p_last4s), 0)
        OR n <> coalesce(cardinality(p_expiry_months), 0) OR n <> coalesce(cardinality(p_expiry_years), 0) THEN
        RAISE EXCEPTION 'store_cards: every array must hold one element per card' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. n LOOP
        RETURN QUERY
        SELECT i, s.token, s.brand, s.first6, s.last4, s.expiry_month, s.expiry_year
        FROM vault.store_card(p_client_id, p_tokens[i], p_pan_hmacs[i], p_hmac_key_version, p_format_versions[i],
            p_data_key_ids[i], p_pan_ciphertexts[i], p_name_ciphertexts[i], p_brands[i], p_first6s[i],
            p_last4s[i], p_expiry_months[i], p_expiry_years[i]) AS s;
    END LOOP;
END
$$;

ALTER FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[]) OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[]) TO card_vault_app;
