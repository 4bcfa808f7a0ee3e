-- depends: 0026_one_credit_per_hash
-- Red team r19c H1 (issue 19, task w19h1; PCI DSS v4.0.1 3.5.1, 7.2.2; PCI Tokenization Product Security
-- Guidelines: no PAN recovery from tokens without the vault's detokenization). Expand half; the contract is
-- post/0028_contract_0027.sql.
--
-- Until now a sibling reservation was a number of unspent tokenizations of a (client, first six, last four)
-- pair, and vault.store_card spent one inside the caller's transaction and answered in it. The API's login
-- ran reserve (committed), BEGIN, store_card, read the answer (the stored card's token or its own), ROLLBACK:
-- the rollback undid the spend, the credit paid for the next guess, and the sibling limit was void (the red
-- team's m2rb.py: 1,000 guesses in 2.2 s, the card found). Rolling the reservation back with the answer (one
-- transaction) voided the count as well. vault.idempotent_answer's mismatch lock was undone the same way, and
-- it compared any number of fingerprints in one call. Now:
--
-- 1. A credit is bound to one keyed hash at reservation (vault.sibling_credits: client, first six, last four,
--    pan_hmac; vault.reserve_card_hashes takes one hash per credit, the card's current hash and, during an
--    HMAC key rotation, each older version's). vault.tokenize_card, vault.tokenize_cards and the seven-argument
--    vault.idempotent_answer compare a hash only by spending a credit of that exact (pair, hash) first
--    (vault.spend_card_hashes; SQLSTATE CV001 and nothing answered without one). A rollback restores a credit
--    that answers the same hash again: replaying an answer already read tells nothing new. What bounds the
--    distinct hashes answered is then the pair's count in its window, max_siblings, as the count of committed
--    reservations: each credit is counted once when reserved, and a reservation rolled back takes its
--    credits with it. The key version is not part of the binding: a hash value is 32 bytes of HMAC, so one
--    value tested as another version's hash tests no other card number (beyond a chance of 2^-256).
-- 2. The reservation must be committed before any answer: every answering function refuses (SQLSTATE CV002,
--    nothing spent or answered) when the calling transaction already has a transaction ID at entry
--    (pg_current_xact_id_if_assigned(): any earlier write of the transaction, in a SAVEPOINT or a rolled-back
--    subtransaction included; an xmin comparison would miss subtransactions). A reservation made in the same
--    transaction as an answer is such a write, so reservation and answer cannot be rolled back together, and
--    one transaction answers at most one call: a second call sees the first one's write. The API reserves in
--    its own autocommit statement, stores a single card or a batch in one autocommit statement, and stores an
--    Idempotency-Key request as the first statement of its transaction (store.py), so it is never refused.
-- 3. vault.idempotent_answer (seven arguments) answers 'replay' only when the key's own card (its token, in
--    this client) is of the named pair and holds one of the hashes sent under its key version, and the
--    stored fingerprint is one of those sent; every hash sent spends its credit first, so each guessed
--    number costs a hash-bound credit whether or not the mismatch lock survives (a rollback undoes the lock;
--    a guess then costs its credit). At most 9 fingerprints per call (one per key version held, current and
--    up to 8 older), one per hash: the fingerprint array no longer lets one call compare a list of guesses.
--    A key whose card was disposed of answers 'locked' (nothing to compare the hash with).
--
-- The API reserves a card's hashes, so it computes them (GenerateMac) before the reservation, not after: a
-- request refused for the sibling limit now makes its GenerateMac calls too (one per key version held).
-- Statements per tokenization are unchanged: one reservation, one store (or one key look-up and one store).
--
-- Between this migration and the function update of the same deploy (the window of expand/contract), the
-- previous release's code keeps working: vault.reserve_siblings(text, text[], text[], integer[]),
-- vault.store_card, vault.store_cards and the three-argument vault.idempotent_answer are left as migration
-- 0026 made them (their unbound credits, vault.sibling_counts.unspent, which the new reservation never adds
-- to, so a hash-bound credit pays for no old call and an unbound one for no new call). In that window H1
-- stays open through those functions, exactly as before this migration; post/0028_contract_0027.sql drops
-- them once every function runs the new code.

-- Unlogged as vault.sibling_counts (migration 0013): emptied with it after a crash or failover; one row per
-- (client, pair, hash) reserved and not yet spent; a spent-out row is deleted, an expired one when its pair is
-- reserved again.
CREATE UNLOGGED TABLE vault.sibling_credits (
    client_id text NOT NULL,
    first6 character(6) NOT NULL,
    last4 character(4) NOT NULL,
    pan_hmac bytea NOT NULL,
    window_end timestamptz NOT NULL,
    unspent integer NOT NULL CHECK (unspent >= 0),
    PRIMARY KEY (client_id, first6, last4, pan_hmac)
);
REVOKE ALL ON vault.sibling_credits FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON vault.sibling_credits TO card_vault_scoped;
-- The seven-argument vault.idempotent_answer compares the key's card's hash (owner card_vault_scoped).
GRANT SELECT (hmac_key_version, pan_hmac) ON vault.cards TO card_vault_scoped;

-- Refuse an answer inside a transaction that has written anything (point 2 above). Not callable by the API login.
CREATE FUNCTION vault.refuse_written_transaction() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'the vault answers only in a transaction that has written nothing before'
            USING ERRCODE = 'CV002';
    END IF;
END
$$;

-- Reserve one tokenization of the pair (p_first6s[i], p_last4s[i]) bound to the keyed hash p_pan_hmacs[i], for
-- every i: a pair's hashes all or none, within vault.card_search_settings' limit and window; one row lock per
-- pair, in (first six, last four) order. Result as vault.reserve_siblings (migration 0021), one row per pair.
CREATE FUNCTION vault.reserve_card_hashes(
    p_client_id text, p_first6s text[], p_last4s text[], p_pan_hmacs bytea[]
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
    n integer := coalesce(cardinality(p_first6s), 0);
BEGIN
    SELECT s.max_siblings, s.window_seconds INTO p_limit, p_window_seconds FROM vault.card_search_settings s;
    IF p_window_seconds IS NULL OR p_window_seconds NOT BETWEEN 60 AND 86400
       OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'reserve_card_hashes: vault.card_search_settings holds no window of 60-86400 seconds and limit of 1-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n <> coalesce(cardinality(p_last4s), 0) OR n <> coalesce(cardinality(p_pan_hmacs), 0) OR n > 1000
       OR EXISTS (SELECT FROM unnest(p_first6s, p_last4s, p_pan_hmacs) AS x(f, l, h)
                  WHERE f IS NULL OR l IS NULL OR h IS NULL) THEN
        RAISE EXCEPTION 'reserve_card_hashes: one first six, last four and keyed hash per credit, at most 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT x.f::bpchar AS f, x.l::bpchar AS l, count(*)::integer AS k
        FROM unnest(p_first6s, p_last4s) AS x(f, l) GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        v_count := NULL;
        INSERT INTO vault.sibling_counts AS s (client_id, first6, last4, window_start, window_end, siblings, unspent)
        SELECT p_client_id, r.f, r.l, v_now, v_now + make_interval(secs => p_window_seconds), r.k, 0
        WHERE r.k <= p_limit
        ON CONFLICT (client_id, first6, last4) DO UPDATE
            SET siblings = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                THEN EXCLUDED.siblings ELSE s.siblings + EXCLUDED.siblings END,
                unspent = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                               THEN 0 ELSE s.unspent END,
                window_start = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                    THEN EXCLUDED.window_start ELSE s.window_start END,
                window_end = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                  THEN EXCLUDED.window_end
                                  ELSE coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) END
            WHERE coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
               OR s.siblings + EXCLUDED.siblings <= p_limit
        RETURNING s.siblings, s.window_end INTO v_count, v_end;
        IF v_count IS NOT NULL THEN
            -- The pair's credits of an ended window go; this reservation's are bound to its hashes.
            DELETE FROM vault.sibling_credits c
            WHERE c.client_id = p_client_id AND c.first6 = r.f AND c.last4 = r.l AND c.window_end <= v_now;
            INSERT INTO vault.sibling_credits AS c (client_id, first6, last4, pan_hmac, window_end, unspent)
            SELECT p_client_id, r.f, r.l, x.h, v_end, count(*)::integer
            FROM unnest(p_first6s, p_last4s, p_pan_hmacs) AS x(f, l, h)
            WHERE x.f::bpchar = r.f AND x.l::bpchar = r.l GROUP BY x.h ORDER BY x.h
            ON CONFLICT (client_id, first6, last4, pan_hmac) DO UPDATE
                SET unspent = c.unspent + EXCLUDED.unspent, window_end = EXCLUDED.window_end;
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

-- Spend one credit of (p_first6s[i], p_last4s[i], p_pan_hmacs[i]) for every i, in their running window, each
-- (pair, hash)'s whole demand or the statement fails (SQLSTATE CV001, nothing spent: the caller's statement
-- aborts with it). In (first six, last four, hash) order. Only the answering functions' owners may call it.
CREATE FUNCTION vault.spend_card_hashes(p_client_id text, p_first6s text[], p_last4s text[], p_pan_hmacs bytea[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    r record;
    v_left integer;
BEGIN
    IF coalesce(cardinality(p_first6s), 0) <> coalesce(cardinality(p_last4s), 0)
       OR coalesce(cardinality(p_first6s), 0) <> coalesce(cardinality(p_pan_hmacs), 0) THEN
        RAISE EXCEPTION 'spend_card_hashes: one last four and keyed hash per first six' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT x.f::bpchar AS f, x.l::bpchar AS l, x.h AS h, count(*)::integer AS k
        FROM unnest(p_first6s, p_last4s, p_pan_hmacs) AS x(f, l, h) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    LOOP
        v_left := NULL;
        UPDATE vault.sibling_credits c SET unspent = c.unspent - r.k
        WHERE c.client_id = p_client_id AND c.first6 = r.f AND c.last4 = r.l AND c.pan_hmac = r.h
          AND c.window_end > v_now AND c.unspent >= r.k
        RETURNING c.unspent INTO v_left;
        IF v_left IS NULL THEN
            RAISE EXCEPTION 'no sibling reservation covers this keyed hash of this first six and last four'
                USING ERRCODE = 'CV001';
        END IF;
        IF v_left = 0 THEN
            DELETE FROM vault.sibling_credits c
            WHERE c.client_id = p_client_id AND c.first6 = r.f AND c.last4 = r.l AND c.pan_hmac = r.h;
        END IF;
    END LOOP;
END
$$;

-- One card (the arguments of vault.store_card, migration 0026): refused in a written transaction, then one
-- credit of (p_first6, p_last4) bound to p_pan_hmac and one bound to each older version's hash, then stored or
-- found within the pair as before.
CREATE FUNCTION vault.tokenize_card(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint, p_older_versions smallint[], p_older_hmacs bytea[]
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    k integer;
BEGIN
    PERFORM vault.refuse_written_transaction();
    k := vault.check_older_versions(p_hmac_key_version, p_older_versions);
    IF coalesce(cardinality(p_older_hmacs), 0) <> k THEN
        RAISE EXCEPTION 'tokenize_card: one hash per older key version' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM vault.spend_card_hashes(p_client_id, array_fill(p_first6, ARRAY[1 + k]), array_fill(p_last4, ARRAY[1 + k]),
        ARRAY[p_pan_hmac] || coalesce(p_older_hmacs, ARRAY[]::bytea[]));
    RETURN QUERY SELECT * FROM vault.store_card_in_pair(p_client_id, p_token, p_pan_hmac, p_hmac_key_version,
        p_format_version, p_data_key_id, p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4,
        p_expiry_month, p_expiry_year, p_older_versions, p_older_hmacs);
END
$$;

-- A batch (the arguments of vault.store_cards, migration 0026): refused in a written transaction, then one
-- credit per card and hash compared (its current hash and each older version's), all or none, then each card.
CREATE FUNCTION vault.tokenize_cards(
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
    k integer;
BEGIN
    PERFORM vault.refuse_written_transaction();
    k := vault.check_older_versions(p_hmac_key_version, p_older_versions);
    IF n > 1000 THEN
        RAISE EXCEPTION 'tokenize_cards: at most 1000 cards per call, got %', n USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF n <> coalesce(cardinality(p_pan_hmacs), 0) OR n <> coalesce(cardinality(p_format_versions), 0)
        OR n <> coalesce(cardinality(p_data_key_ids), 0) OR n <> coalesce(cardinality(p_pan_ciphertexts), 0)
        OR n <> coalesce(cardinality(p_name_ciphertexts), 0) OR n <> coalesce(cardinality(p_brands), 0)
        OR n <> coalesce(cardinality(p_first6s), 0) OR n <> coalesce(cardinality(p_last4s), 0)
        OR n <> coalesce(cardinality(p_expiry_months), 0) OR n <> coalesce(cardinality(p_expiry_years), 0)
        OR n * k <> coalesce(cardinality(p_older_hmacs), 0) THEN
        RAISE EXCEPTION 'tokenize_cards: every array must hold one element per card' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Card i's hashes: p_pan_hmacs[i], then p_older_hmacs[(i - 1) * k + 1 .. i * k].
    PERFORM vault.spend_card_hashes(p_client_id,
        ARRAY(SELECT p_first6s[i] FROM generate_series(1, n) i, generate_series(0, k) h ORDER BY i, h),
        ARRAY(SELECT p_last4s[i] FROM generate_series(1, n) i, generate_series(0, k) h ORDER BY i, h),
        ARRAY(SELECT CASE WHEN h = 0 THEN p_pan_hmacs[i] ELSE p_older_hmacs[(i - 1) * k + h] END
              FROM generate_series(1, n) i, generate_series(0, k) h ORDER BY i, h));
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

-- The live key's answer for this client (migration 0018's outcomes): no row (never used, or expired: nothing
-- spent, nothing of any card said); otherwise one credit of (p_first6, p_last4) per hash sent is spent first,
-- then 'replay' (the stored status and response) only when the key's card is this client's card of that pair
-- holding p_pan_hmacs[j] under p_hmac_key_versions[j] for some j and the stored fingerprint is one of
-- p_request_hashes (the request under each key version sent); else 'locked', and the key is locked from then on.
CREATE FUNCTION vault.idempotent_answer(
    p_client_id text, p_key_hash bytea, p_first6 text, p_last4 text, p_hmac_key_versions smallint[],
    p_pan_hmacs bytea[], p_request_hashes bytea[]
) RETURNS TABLE (outcome text, status smallint, response text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_pan_hmacs), 0);
    k record;
BEGIN
    PERFORM vault.refuse_written_transaction();
    IF n NOT BETWEEN 1 AND 9 OR n <> coalesce(cardinality(p_hmac_key_versions), 0)
       OR n <> coalesce(cardinality(p_request_hashes), 0)
       OR (SELECT count(DISTINCT v) FROM unnest(p_hmac_key_versions) v) <> n
       OR EXISTS (SELECT FROM unnest(p_hmac_key_versions, p_pan_hmacs, p_request_hashes) AS x(v, h, q)
                  WHERE v IS NULL OR h IS NULL OR q IS NULL) THEN
        RAISE EXCEPTION 'idempotent_answer: one keyed hash and fingerprint per distinct key version, 1-9'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT i.token, i.request_hash, i.status, i.response, i.mismatches INTO k FROM vault.idempotency_keys i
    WHERE i.client_id = p_client_id AND i.key_hash = p_key_hash AND i.expires_at > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM vault.spend_card_hashes(p_client_id, array_fill(p_first6, ARRAY[n]), array_fill(p_last4, ARRAY[n]),
        p_pan_hmacs);
    IF k.mismatches = 0 AND k.request_hash = ANY (p_request_hashes) AND EXISTS (
        SELECT FROM vault.cards c JOIN unnest(p_hmac_key_versions, p_pan_hmacs) AS x(v, h)
            ON c.hmac_key_version = x.v AND c.pan_hmac = x.h
        WHERE c.token = k.token AND c.client_id = p_client_id
          AND c.first6 = p_first6::bpchar AND c.last4 = p_last4::bpchar) THEN
        RETURN QUERY SELECT 'replay'::text, k.status, k.response;
        RETURN;
    END IF;
    UPDATE vault.idempotency_keys i SET mismatches = least(i.mismatches + 1, 32767)
    WHERE i.client_id = p_client_id AND i.key_hash = p_key_hash;
    RETURN QUERY SELECT 'locked'::text, NULL::smallint, NULL::text;
END
$$;

ALTER FUNCTION vault.refuse_written_transaction() OWNER TO card_vault_scoped;
ALTER FUNCTION vault.reserve_card_hashes(text, text[], text[], bytea[]) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.spend_card_hashes(text, text[], text[], bytea[]) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.idempotent_answer(text, bytea, text, text, smallint[], bytea[], bytea[]) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.tokenize_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) OWNER TO card_vault_tokenizer;
ALTER FUNCTION vault.tokenize_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[], text[],
    text[], text[], smallint[], smallint[], smallint[], bytea[]) OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.refuse_written_transaction() FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.reserve_card_hashes(text, text[], text[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.spend_card_hashes(text, text[], text[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.idempotent_answer(text, bytea, text, text, smallint[], bytea[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.tokenize_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.tokenize_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[], smallint[], bytea[]) FROM PUBLIC;
-- The answering functions' owners check and spend; the API login calls only the public ones.
GRANT EXECUTE ON FUNCTION vault.refuse_written_transaction() TO card_vault_tokenizer;
GRANT EXECUTE ON FUNCTION vault.spend_card_hashes(text, text[], text[], bytea[]) TO card_vault_tokenizer;
GRANT EXECUTE ON FUNCTION vault.reserve_card_hashes(text, text[], text[], bytea[]) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.idempotent_answer(text, bytea, text, text, smallint[], bytea[], bytea[]) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.tokenize_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.tokenize_cards(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[], smallint[], bytea[]) TO card_vault_app;
