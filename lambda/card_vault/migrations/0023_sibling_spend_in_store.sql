-- depends: 0021_card_search_settings
-- Red team r19b M2 (issue 19, task w19a; PCI DSS v4.0.1 3.5.1, 7.2.1, 7.2.2; PCI Tokenization Product
-- Security Guidelines: no PAN recovery from tokens without the vault's detokenization). Expand half; the
-- contract is post/0024_contract_0023.sql.
--
-- Until now vault.store_card, vault.store_cards and vault.find_card_under counted nothing: the API's code
-- called vault.reserve_siblings first, but the API's database login could call the three directly and
-- test any number of guessed keyed hashes of one (first six, last four) pair, so the sibling limit bound
-- the API's code and not its login. Now:
--
-- 1. A reservation is a number of *unspent* tokenizations of a (client, first six, last four) pair, in the
--    pair's window (vault.sibling_counts.unspent, added by vault.reserve_siblings with the count itself,
--    emptied with it when the window ends, so credits never outlive their window).
-- 2. Every card vault.store_card or vault.store_cards answers for spends one unspent tokenization of the
--    pair the call names for it, inside the function (vault.spend_siblings, which the API login cannot
--    call); without one the whole statement fails (SQLSTATE CV001) and nothing is stored or answered.
-- 3. The pair spent is the card's own: a card is looked up only among the client's cards of that pair
--    (unique index (client_id, first6, last4, pan_hmac); the lookup of an older key version's hash, which
--    vault.find_card_under did alone, is now a step of vault.store_card, within the same pair), and a new
--    card is stored with that pair. A caller naming a pair that is not the card's finds no stored card
--    (the stored card has its true pair) and gets a new card in the named pair, exactly as for a wrong
--    guess: credits reserved for a made-up pair answer nothing about any other pair's cards. The vault
--    cannot read the number inside the ciphertext, so it does not verify the pair against it; it makes
--    a wrong pair answer nothing instead.
--
-- What the previous release needs until the contract half: the unique constraint (client_id, pan_hmac)
-- (its tests' statements and the re-hash job's duplicate detection: a card and its re-hash have the same
-- pair, so the new index catches the same duplicates) and the five-argument vault.find_card_under (the
-- previous API code during an HMAC key rotation). Between the two triggers of one deploy both still
-- answer as before: a caller naming a wrong pair for a stored card's hash meets the old constraint's
-- unique violation, and find_card_under counts nothing. post/0024_contract_0023.sql takes both away.

ALTER TABLE vault.sibling_counts ADD COLUMN IF NOT EXISTS unspent integer NOT NULL DEFAULT 0
    CHECK (unspent >= 0);

-- IF NOT EXISTS: on a large table, build it beforehand with CREATE UNIQUE INDEX CONCURRENTLY (README,
-- migrations). Every honestly stored card satisfies it already (the pair is a function of the number).
CREATE UNIQUE INDEX IF NOT EXISTS cards_client_pair_pan_hmac_unique ON vault.cards (client_id, first6, last4, pan_hmac);

-- Reserve as migration 0021 does, and add the reserved cards to the pair's unspent tokenizations (a window
-- ended: both start afresh). Same signature and result: the running code calls it unchanged.
CREATE OR REPLACE FUNCTION vault.reserve_siblings(
    p_client_id text, p_first6s text[], p_last4s text[], p_cards integer[]
) RETURNS TABLE (first6 text, last4 text, granted boolean, earlier integer, retry_after integer,
    max_siblings integer, window_seconds integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    p_limit integer;
    p_window_seconds integer;
    v_now timestamptz := clock_timestamp();
    r record;
    v_count integer;
    v_end timestamptz;
BEGIN
    SELECT s.max_siblings, s.window_seconds INTO p_limit, p_window_seconds FROM vault.card_search_settings s;
    IF p_window_seconds IS NULL OR p_window_seconds NOT BETWEEN 60 AND 86400
       OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'reserve_siblings: vault.card_search_settings holds no window of 60-86400 seconds and limit of 1-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(p_first6s), 0) <> coalesce(cardinality(p_last4s), 0)
       OR coalesce(cardinality(p_first6s), 0) <> coalesce(cardinality(p_cards), 0)
       OR coalesce(cardinality(p_first6s), 0) > 1000 OR EXISTS (SELECT FROM unnest(p_cards) n WHERE n IS NULL OR n < 1) THEN
        RAISE EXCEPTION 'reserve_siblings: one count of at least 1 per pair, at most 1000 pairs'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT n.f::bpchar AS f, n.l::bpchar AS l, sum(n.k)::integer AS k
        FROM unnest(p_first6s, p_last4s, p_cards) AS n(f, l, k) GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        v_count := NULL;
        INSERT INTO vault.sibling_counts AS s (client_id, first6, last4, window_start, window_end, siblings, unspent)
        SELECT p_client_id, r.f, r.l, v_now, v_now + make_interval(secs => p_window_seconds), r.k, r.k
        WHERE r.k <= p_limit
        ON CONFLICT (client_id, first6, last4) DO UPDATE
            SET siblings = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                THEN EXCLUDED.siblings ELSE s.siblings + EXCLUDED.siblings END,
                unspent = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                               THEN EXCLUDED.unspent ELSE s.unspent + EXCLUDED.unspent END,
                window_start = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                    THEN EXCLUDED.window_start ELSE s.window_start END,
                window_end = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                  THEN EXCLUDED.window_end
                                  ELSE coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) END
            WHERE coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
               OR s.siblings + EXCLUDED.siblings <= p_limit
        RETURNING s.siblings, s.window_end INTO v_count, v_end;
        IF v_count IS NOT NULL THEN
            RETURN QUERY SELECT r.f::text, r.l::text, true, v_count - r.k,
                greatest(1, ceil(extract(epoch FROM v_end - v_now))::integer), p_limit, p_window_seconds;
        ELSE
            SELECT coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) INTO v_end
            FROM vault.sibling_counts s WHERE s.client_id = p_client_id AND s.first6 = r.f AND s.last4 = r.l;
            RETURN QUERY SELECT r.f::text, r.l::text, false, NULL::integer,
                greatest(1, ceil(extract(epoch FROM coalesce(v_end, v_now + make_interval(secs => p_window_seconds)) - v_now))::integer), p_limit, p_window_seconds;
        END IF;
    END LOOP;
END
$$;

-- Spend one unspent tokenization per element of (p_first6s[i], p_last4s[i]) from the client's reservations
-- in their running windows, a pair's whole demand or the statement fails (SQLSTATE CV001, nothing spent:
-- the caller's statement aborts with it). Pairs in (first six, last four) order, as vault.reserve_siblings
-- locks them. Only the store functions' owner may call it; the API login may not.
CREATE FUNCTION vault.spend_siblings(p_client_id text, p_first6s text[], p_last4s text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    r record;
BEGIN
    IF coalesce(cardinality(p_first6s), 0) <> coalesce(cardinality(p_last4s), 0) THEN
        RAISE EXCEPTION 'spend_siblings: one last four per first six' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT n.f::bpchar AS f, n.l::bpchar AS l, count(*)::integer AS k
        FROM unnest(p_first6s, p_last4s) AS n(f, l) GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        UPDATE vault.sibling_counts s SET unspent = s.unspent - r.k
        WHERE s.client_id = p_client_id AND s.first6 = r.f AND s.last4 = r.l
          AND s.window_end > v_now AND s.unspent >= r.k;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no sibling reservation covers this card''s first six and last four'
                USING ERRCODE = 'CV001';
        END IF;
    END LOOP;
END
$$;

-- The card, within its (client, first six, last four): found under an older key version (p_older_versions[j]
-- with hash p_older_hmacs[j], a rotation in progress), else stored, or found under the current version;
-- a later expiry replaces the stored one. Spends nothing itself: only the two public functions below call
-- it, after spending. Not callable by the API login.
CREATE FUNCTION vault.store_card_in_pair(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint, p_older_versions smallint[], p_older_hmacs bytea[]
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_first6 bpchar := p_first6::bpchar;
    v_last4 bpchar := p_last4::bpchar;
BEGIN
    IF coalesce(cardinality(p_older_versions), 0) <> coalesce(cardinality(p_older_hmacs), 0)
       OR coalesce(cardinality(p_older_versions), 0) > 8 THEN
        RAISE EXCEPTION 'store_card: one hash per older key version, at most 8' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR j IN 1 .. coalesce(cardinality(p_older_versions), 0) LOOP
        UPDATE vault.cards c SET expiry_year = p_expiry_year, expiry_month = p_expiry_month
        WHERE c.client_id = p_client_id AND c.first6 = v_first6 AND c.last4 = v_last4
          AND c.hmac_key_version = p_older_versions[j] AND c.pan_hmac = p_older_hmacs[j]
          AND (c.expiry_year, c.expiry_month) < (p_expiry_year, p_expiry_month);
        RETURN QUERY
        SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
        FROM vault.cards c
        WHERE c.client_id = p_client_id AND c.first6 = v_first6 AND c.last4 = v_last4
          AND c.hmac_key_version = p_older_versions[j] AND c.pan_hmac = p_older_hmacs[j];
        IF FOUND THEN
            RETURN;
        END IF;
    END LOOP;
    RETURN QUERY
    INSERT INTO vault.cards AS c (client_id, token, pan_hmac, hmac_key_version, format_version, data_key_id,
        pan_ciphertext, name_ciphertext, brand, first6, last4, expiry_month, expiry_year)
    VALUES (p_client_id, p_token, p_pan_hmac, p_hmac_key_version, p_format_version, p_data_key_id,
        p_pan_ciphertext, p_name_ciphertext, p_brand, v_first6, v_last4, p_expiry_month, p_expiry_year)
    ON CONFLICT (client_id, first6, last4, pan_hmac) DO UPDATE
        SET expiry_year = EXCLUDED.expiry_year, expiry_month = EXCLUDED.expiry_month
        WHERE (EXCLUDED.expiry_year, EXCLUDED.expiry_month) > (c.expiry_year, c.expiry_month)
    RETURNING c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year;
    IF NOT FOUND THEN  -- stored already with a later or equal expiry (a new statement: a new snapshot)
        RETURN QUERY
        SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
        FROM vault.cards c
        WHERE c.client_id = p_client_id AND c.first6 = v_first6 AND c.last4 = v_last4 AND c.pan_hmac = p_pan_hmac;
    END IF;
END
$$;

-- One card, spending one unspent tokenization of (p_first6, p_last4) first; the older key versions' hashes
-- are looked up within that pair (this is what the five-argument vault.find_card_under did, uncounted).
CREATE FUNCTION vault.store_card(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint, p_older_versions smallint[], p_older_hmacs bytea[]
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM vault.spend_siblings(p_client_id, ARRAY[p_first6], ARRAY[p_last4]);
    RETURN QUERY SELECT * FROM vault.store_card_in_pair(p_client_id, p_token, p_pan_hmac, p_hmac_key_version,
        p_format_version, p_data_key_id, p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4,
        p_expiry_month, p_expiry_year, p_older_versions, p_older_hmacs);
END
$$;

-- The previous release's signature (migration 0012), same answer, now spending and looking up within the pair.
CREATE OR REPLACE FUNCTION vault.store_card(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM vault.spend_siblings(p_client_id, ARRAY[p_first6], ARRAY[p_last4]);
    RETURN QUERY SELECT * FROM vault.store_card_in_pair(p_client_id, p_token, p_pan_hmac, p_hmac_key_version,
        p_format_version, p_data_key_id, p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4,
        p_expiry_month, p_expiry_year, ARRAY[]::smallint[], ARRAY[]::bytea[]);
END
$$;

-- A batch (migration 0015's arrays), spending one unspent tokenization per card of its pair first, all or
-- the statement fails; `p_older_hmacs` holds each card's hash under each of `p_older_versions`, card by card
-- (card i, version j at (i - 1) * cardinality(p_older_versions) + j).
CREATE FUNCTION vault.store_cards(
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
    k integer := coalesce(cardinality(p_older_versions), 0);
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
    PERFORM vault.spend_siblings(p_client_id, p_first6s, p_last4s);
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

-- The previous release's batch signature (migration 0015), now spending as above.
CREATE OR REPLACE FUNCTION vault.store_cards(
    p_client_id text, p_hmac_key_version smallint, p_tokens text[], p_pan_hmacs bytea[],
    p_format_versions smallint[], p_data_key_ids uuid[], p_pan_ciphertexts bytea[], p_name_ciphertexts bytea[],
    p_brands text[], p_first6s text[], p_last4s text[], p_expiry_months smallint[], p_expiry_years smallint[]
) RETURNS TABLE (ord integer, token text, brand text, first6 text, last4 text, expiry_month smallint,
    expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT * FROM vault.store_cards(p_client_id, p_hmac_key_version, p_tokens, p_pan_hmacs,
        p_format_versions, p_data_key_ids, p_pan_ciphertexts, p_name_ciphertexts, p_brands, p_first6s, p_last4s,
        p_expiry_months, p_expiry_years, ARRAY[]::smallint[], ARRAY[]::bytea[]);
END
$$;

ALTER FUNCTION vault.spend_siblings(text, text[], text[]) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.store_card_in_pair(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) OWNER TO card_vault_tokenizer;
ALTER FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) OWNER TO card_vault_tokenizer;
ALTER FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[], smallint[], bytea[]) OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.spend_siblings(text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.store_card_in_pair(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text,
    text, smallint, smallint, smallint[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[], smallint[], bytea[]) FROM PUBLIC;
-- The store functions' owner spends; the API login calls only the public store functions.
GRANT EXECUTE ON FUNCTION vault.spend_siblings(text, text[], text[]) TO card_vault_tokenizer;
GRANT EXECUTE ON FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.store_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[], smallint[], bytea[]) TO card_vault_app;
