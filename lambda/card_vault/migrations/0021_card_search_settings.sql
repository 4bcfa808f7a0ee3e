-- depends: 0020_detokenize_audit_caller
-- Issue 19 (red team r19b, task w19a): the sibling limit and window are no longer parameters the API
-- login passes. A shorter window could not reset a running one (migration 0018), but the caller chose
-- the length of the next window and the limit for the client it named. Now both live in
-- vault.card_search_settings, one row, written only by its owner (the migrating login: the migration
-- function sets them from the configuration at every run, `card_vault.migrate.set_card_search`), read
-- only inside vault.reserve_siblings (SECURITY DEFINER, owner card_vault_scoped). The API login has no
-- right on the table. Expand half; the previous release's six-argument function goes in
-- post/0022_contract_0020_0021.sql.
CREATE TABLE IF NOT EXISTS vault.card_search_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    max_siblings integer NOT NULL CHECK (max_siblings BETWEEN 1 AND 100000),
    window_seconds integer NOT NULL CHECK (window_seconds BETWEEN 60 AND 86400),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The defaults of `card_vault.card_search` until the migration function writes the configured values.
INSERT INTO vault.card_search_settings (max_siblings, window_seconds) VALUES (10, 3600)
    ON CONFLICT (singleton) DO NOTHING;
REVOKE ALL ON vault.card_search_settings FROM PUBLIC;
GRANT USAGE ON SCHEMA vault TO card_vault_scoped;
GRANT SELECT ON vault.card_search_settings TO card_vault_scoped;

-- Reserve `p_cards[i]` tokenizations of the pair (p_first6s[i], p_last4s[i]) for the client, all of a
-- pair or none, within the limit and window of vault.card_search_settings (returned with each row, for
-- the refusal's reason); otherwise as the six-argument function of migration 0018.
CREATE FUNCTION vault.reserve_siblings(
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

ALTER FUNCTION vault.reserve_siblings(text, text[], text[], integer[]) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.reserve_siblings(text, text[], text[], integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.reserve_siblings(text, text[], text[], integer[]) TO card_vault_app;
