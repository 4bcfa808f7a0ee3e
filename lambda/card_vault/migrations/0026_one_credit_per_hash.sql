-- depends: 0025_shred_epochs
-- Red team r19c H2 (issue 19, task w19d; PCI DSS v4.0.1 3.5.1, 7.2.2; PCI Tokenization Product Security
-- Guidelines: no PAN recovery from tokens without the vault's detokenization). Expand only: nothing is dropped.
--
-- Until now one unspent tokenization bought up to nine guesses: vault.store_card and vault.store_cards looked a
-- card up under each of up to 8 `p_older_versions` hashes and then stored (or found) the main hash, all for one
-- credit, and nothing checked that the versions were distinct or different from the current one, so the API's
-- login tested nine keyed hashes of one (first six, last four) pair per credit. Now every hash a call makes the
-- vault compare costs one unspent tokenization of the pair: a card costs 1 + cardinality(p_older_versions)
-- (the API reserves that many, `card_vault.vault.CardVault.reserve_siblings`: one outside an HMAC key
-- rotation, two during one), and the older versions must be distinct, not NULL and not the current version
-- (SQLSTATE 22023 otherwise, nothing spent). A credit answers one hash, whatever the login sends.
--
-- Between this migration and the function update of the same deploy, the previous release's API code reserves
-- one per card: during an HMAC key rotation its calls (two hashes) fail with CV001 until the function is
-- updated; outside a rotation (one hash) nothing changes.

-- The checks, shared by both store functions (reads nothing: not a definer function). Not callable by the API login.
CREATE FUNCTION vault.check_older_versions(p_hmac_key_version smallint, p_older_versions smallint[])
RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k integer := coalesce(cardinality(p_older_versions), 0);
BEGIN
    IF k > 8 OR EXISTS (SELECT FROM unnest(p_older_versions) v WHERE v IS NULL OR v = p_hmac_key_version)
       OR (SELECT count(DISTINCT v) FROM unnest(p_older_versions) v) <> k THEN
        RAISE EXCEPTION 'store_card: at most 8 distinct older key versions, none of them the current version'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN k;
END
$$;

-- One card: 1 + cardinality(p_older_versions) unspent tokenizations of (p_first6, p_last4) first.
CREATE OR REPLACE FUNCTION vault.store_card(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint, p_older_versions smallint[], p_older_hmacs bytea[]
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    k integer := vault.check_older_versions(p_hmac_key_version, p_older_versions);
BEGIN
    PERFORM vault.spend_siblings(p_client_id, array_fill(p_first6, ARRAY[1 + k]), array_fill(p_last4, ARRAY[1 + k]));
    RETURN QUERY SELECT * FROM vault.store_card_in_pair(p_client_id, p_token, p_pan_hmac, p_hmac_key_version,
        p_format_version, p_data_key_id, p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4,
        p_expiry_month, p_expiry_year, p_older_versions, p_older_hmacs);
END
$$;

-- A batch: 1 + cardinality(p_older_versions) unspent tokenizations of each card's pair first, all or none.
CREATE OR REPLACE FUNCTION vault.store_cards(
    p_client_id text, p_hmac_key_version smallint, p_tokens text[], p_pan_hmacs bytea[],
    p_format_versions smallint[], p_data_key_ids uuid[], p_pan_ciphertexts bytea[], p_name_ciphertexts bytea[],
    p_brands text[], p_first6s text[], p_last4s text[], p_expiry_months smallint[], p_expiry_years smallint[],
    p_older_versions smallint[], p_older_hmacs bytea[]
) RETURNS TABLE (ord integer, token text, brand text, first6 text, last4 text, expiry_month smallint,
    expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_tokens), 0);
    k integer := vault.check_older_versions(p_hmac_key_version, p_older_versions);
BEGIN
    IF n > 1000 THEN
        RAISE EXCEPTION 'store_cards: at most 1000 cards per call, got %', n USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF n <> coalesce(cardinality(p_pan_hmacs), 0) OR n <> coalesce(cardinality(p_format_versions), 0)
        OR n <> coalesce(cardinality(p_data_key_ids), 0) OR n <> coalesce(cardinality(p_pan_ciphertexts), 0)
        OR n <> coalesce(cardinality(p_name_ciphertexts), 0) OR n <> coalesce(cardinality(p_brands), 0)
        OR n <> coalesce(cardinality(p_first6s), 0) OR n <> coalesce(cardinality(p_last4s), 0)
        OR n <> coalesce(cardinality(p_expiry_months), 0) OR n <> coalesce(cardinality(p_expiry_years), 0)
        OR n * k <> coalesce(cardinality(p_older_hmacs), 0) THEN
        RAISE EXCEPTION 'store_cards: every array must hold one element per card' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM vault.spend_siblings(p_client_id,
        ARRAY(SELECT p_first6s[i] FROM generate_series(1, n) i, generate_series(0, k) h),
        ARRAY(SELECT p_last4s[i] FROM generate_series(1, n) i, generate_series(0, k) h));
    FOR i IN 1 .. n LOOP
        RETURN QUERY
        SELECT i, s.token, s.brand, s.first6, s.last4, s.expiry_month, s.expiry_year
        FROM vault.store_card_in_pair(p_client_id, p_tokens[i], p_pan_hmacs[i], p_hmac_key_version,
            p_format_versions[i], p_data_key_ids[i], p_pan_ciphertexts[i], p_name_ciphertexts[i], p_brands[i],
            p_first6s[i], p_last4s[i], p_expiry_months[i], p_expiry_years[i], p_older_versions,
            CASE WHEN k = 0 THEN ARRAY[]::bytea[] ELSE p_older_hmacs[(i - 1) * k + 1 : i * k] END) AS s;
    END LOOP;
END
$$;

ALTER FUNCTION vault.check_older_versions(smallint, smallint[]) OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.check_older_versions(smallint, smallint[]) FROM PUBLIC;
