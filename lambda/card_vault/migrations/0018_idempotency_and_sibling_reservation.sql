-- depends: 0015_store_cards
-- Red team r19b (issue 19; PCI DSS v4.0.1 3.5.1, 7.2.1, 7.2.2). Expand half; the contract is
-- post/0019_contract_0018.sql.
--
-- H1: an Idempotency-Key sent again with other middle digits answered 422 for a wrong guess and replayed
-- the first 201 (with the card's token) for the right one, outside the sibling count and every metric:
-- a full-PAN oracle. Now (a) the API reserves every card-bearing tokenize, replays and mismatches
-- included, in its (first six, last four) pair's sibling count BEFORE it looks at the key, and (b) a key
-- sent with a different request is locked: that answer and every later use of the key, right guess or
-- wrong, get the same 422, so a key answers at most one guess beyond its first request.
-- M3: the API login read and rewrote every client's keys (their response column holds each client's
-- tokens and masked digits). The key table is reached only through the two client-scoped functions
-- below, owned by card_vault_scoped (NOLOGIN, migration 0014), each acting on one (client, key hash).
-- M2/L4: sibling counts were read first and counted after the cards were stored (concurrent batches all
-- passed; the count function took its window from the caller, so a call with another window reset a
-- client's count, and counted made-up tokens). vault.reserve_siblings reserves atomically before the
-- insert and reads no card at all; a pair's window ends at the end the row recorded, whatever window a
-- later call names, so no call can lower a count before its own window has ended.

ALTER TABLE vault.idempotency_keys ADD COLUMN IF NOT EXISTS mismatches smallint NOT NULL DEFAULT 0
    CHECK (mismatches >= 0);
ALTER TABLE vault.sibling_counts ADD COLUMN IF NOT EXISTS window_end timestamptz;
GRANT SELECT, INSERT, UPDATE ON vault.idempotency_keys TO card_vault_scoped;

-- The live key's answer for this client: no row (never used, or expired); 'replay' with the stored
-- status and response when the stored fingerprint is one of `p_request_hashes` (the request under each
-- HMAC key version held); else 'locked' (status and response NULL), and the key is locked from then on.
CREATE FUNCTION vault.idempotent_answer(p_client_id text, p_key_hash bytea, p_request_hashes bytea[])
RETURNS TABLE (outcome text, status smallint, response text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    k record;
BEGIN
    SELECT i.request_hash, i.status, i.response, i.mismatches INTO k FROM vault.idempotency_keys i
    WHERE i.client_id = p_client_id AND i.key_hash = p_key_hash AND i.expires_at > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF k.mismatches = 0 AND k.request_hash = ANY (p_request_hashes) THEN
        RETURN QUERY SELECT 'replay'::text, k.status, k.response;
        RETURN;
    END IF;
    UPDATE vault.idempotency_keys i SET mismatches = least(i.mismatches + 1, 32767)
    WHERE i.client_id = p_client_id AND i.key_hash = p_key_hash;
    RETURN QUERY SELECT 'locked'::text, NULL::smallint, NULL::text;
END
$$;

-- Store the answer for the client's card `p_token` under the key unless a live key holds one (an
-- expired key is taken over, unlocked); whether it was stored. The card must be the client's.
CREATE FUNCTION vault.remember_idempotent_key(
    p_client_id text, p_key_hash bytea, p_token text, p_request_hash bytea, p_status smallint, p_response text,
    p_ttl_seconds integer
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_ttl_seconds IS NULL OR p_ttl_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'remember_idempotent_key: ttl 1-86400 seconds' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM vault.cards c WHERE c.token = p_token AND c.client_id = p_client_id) THEN
        RAISE EXCEPTION 'remember_idempotent_key: the token is no card of this client' USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO vault.idempotency_keys AS k
        (client_id, key_hash, token, request_hash, status, response, expires_at)
    VALUES (p_client_id, p_key_hash, p_token, p_request_hash, p_status, p_response,
        now() + make_interval(secs => p_ttl_seconds))
    ON CONFLICT (client_id, key_hash) DO UPDATE
        SET token = EXCLUDED.token, request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,
            response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at, mismatches = 0
        WHERE k.expires_at <= now();
    RETURN FOUND;
END
$$;

-- Reserve `p_cards[i]` tokenizations of the pair (p_first6s[i], p_last4s[i]) for the client, all of a
-- pair or none: granted when the pair's count in its window plus the cards stays within `p_limit`
-- (a window ended: the count starts afresh with a window of `p_window_seconds`). One row per pair,
-- in (first six, last four) order (concurrent reservations lock rows in the same order). `earlier`:
-- the pair's count in its window before this reservation; `retry_after`: seconds to the window's end.
CREATE FUNCTION vault.reserve_siblings(
    p_client_id text, p_first6s text[], p_last4s text[], p_cards integer[], p_limit integer, p_window_seconds integer
) RETURNS TABLE (first6 text, last4 text, granted boolean, earlier integer, retry_after integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    r record;
    v_count integer;
    v_end timestamptz;
BEGIN
    IF p_window_seconds IS NULL OR p_window_seconds NOT BETWEEN 60 AND 86400
       OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'reserve_siblings: window 60-86400 seconds, limit 1-100000' USING ERRCODE = 'invalid_parameter_value';
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
        INSERT INTO vault.sibling_counts AS s (client_id, first6, last4, window_start, window_end, siblings)
        SELECT p_client_id, r.f, r.l, v_now, v_now + make_interval(secs => p_window_seconds), r.k
        WHERE r.k <= p_limit
        ON CONFLICT (client_id, first6, last4) DO UPDATE
            SET siblings = CASE WHEN coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) <= v_now
                                THEN EXCLUDED.siblings ELSE s.siblings + EXCLUDED.siblings END,
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
                greatest(1, ceil(extract(epoch FROM v_end - v_now))::integer);
        ELSE
            SELECT coalesce(s.window_end, s.window_start + make_interval(secs => p_window_seconds)) INTO v_end
            FROM vault.sibling_counts s WHERE s.client_id = p_client_id AND s.first6 = r.f AND s.last4 = r.l;
            RETURN QUERY SELECT r.f::text, r.l::text, false, NULL::integer,
                greatest(1, ceil(extract(epoch FROM coalesce(v_end, v_now + make_interval(secs => p_window_seconds)) - v_now))::integer);
        END IF;
    END LOOP;
END
$$;

ALTER FUNCTION vault.idempotent_answer(text, bytea, bytea[]) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.remember_idempotent_key(text, bytea, text, bytea, smallint, text, integer) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.reserve_siblings(text, text[], text[], integer[], integer, integer) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.idempotent_answer(text, bytea, bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.remember_idempotent_key(text, bytea, text, bytea, smallint, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.reserve_siblings(text, text[], text[], integer[], integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.idempotent_answer(text, bytea, bytea[]) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.remember_idempotent_key(text, bytea, text, bytea, smallint, text, integer) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.reserve_siblings(text, text[], text[], integer[], integer, integer) TO card_vault_app;
