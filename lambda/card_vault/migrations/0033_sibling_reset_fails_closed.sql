-- depends: 0032_verify_data_keys
-- Red team r19d finding 3 (issue 19, task w19i; PCI DSS v4.0.1 3.5.1; PCI Tokenization Product Security
-- Guidelines): vault.sibling_counts and vault.sibling_credits are UNLOGGED (migrations 0013, 0027: one durable
-- commit per tokenization, not two). PostgreSQL empties an unlogged table after a crash ("CREATE TABLE",
-- UNLOGGED: "an unlogged table is automatically truncated after a crash or unclean shutdown"), and one backend
-- killed (the OOM killer, a backend crash) makes the server restart every backend and run crash recovery: the
-- API's login, by running one memory-hungry statement, granted itself a fresh sibling budget for every pair.
--
-- 1. Fail closed after a reset. vault.sibling_sentinel, UNLOGGED, holds one row; vault.sibling_guard, logged,
--    when the reservations are closed until. vault.reserve_card_hashes finds the sentinel gone (every unlogged
--    table was emptied with it), puts it back and closes reservations for one window (card_search_settings'
--    window_seconds): every pair refused (granted false, retry_after the window's end; the API answers 429), so
--    no pair gets more than max_siblings per window across the reset. pg_postmaster_start_time() was not used:
--    a crash restart of the backends keeps the postmaster, and a restore keeps the time a copy recorded.
--    The cost: after a crash, failover or restore, no tokenization for one window (default 60 minutes).
-- 2. Bound the API login (ALTER ROLE ... SET: the login cannot change these for another session, and a
--    `SET` in its own session is refused for temp_file_limit, a superuser parameter, and allowed for the
--    others, which bound only its own statements): statement_timeout 10 s (the request functions' timeout),
--    idle_in_transaction_session_timeout 10 s, work_mem 4 MB, temp_file_limit 256 MB (when the migrating login
--    may set it: RDS's master user is not a superuser, and the statement is skipped with a WARNING if refused).
--    Its CONNECTION LIMIT is set at every run by the migration function from its environment
--    (`card_vault.migrate.set_api_connection_limit`, VAULT_API_CONNECTION_LIMIT: the API function's reserved
--    concurrency times its pool size of one, doubled for the proxy's connection churn).
CREATE UNLOGGED TABLE vault.sibling_sentinel (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO vault.sibling_sentinel (singleton) VALUES (true);
REVOKE ALL ON vault.sibling_sentinel FROM PUBLIC;
GRANT SELECT, INSERT ON vault.sibling_sentinel TO card_vault_scoped;
CREATE TABLE vault.sibling_guard (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    closed_until timestamptz NOT NULL DEFAULT '-infinity',
    reset_seen_at timestamptz
);
INSERT INTO vault.sibling_guard (singleton) VALUES (true);
REVOKE ALL ON vault.sibling_guard FROM PUBLIC;
GRANT SELECT, UPDATE ON vault.sibling_guard TO card_vault_scoped;

CREATE OR REPLACE FUNCTION vault.reserve_card_hashes(
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
    v_closed timestamptz;
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
    -- Red team r19d finding 3: the unlogged counts and credits were emptied (a crash restart, a failover, a
    -- restore): fail closed for one window, every pair refused, the refusal's retry_after the window's end.
    IF NOT EXISTS (SELECT FROM vault.sibling_sentinel) THEN
        INSERT INTO vault.sibling_sentinel (singleton) VALUES (true) ON CONFLICT (singleton) DO NOTHING;
        UPDATE vault.sibling_guard g SET closed_until = v_now + make_interval(secs => p_window_seconds),
            reset_seen_at = v_now;
    END IF;
    SELECT g.closed_until INTO v_closed FROM vault.sibling_guard g;
    IF v_closed > v_now THEN
        RETURN QUERY
        SELECT x.f::text, x.l::text, false, NULL::integer, greatest(1, ceil(extract(epoch FROM v_closed - v_now))::integer),
            p_limit, p_window_seconds
        FROM (SELECT DISTINCT u.f::bpchar AS f, u.l::bpchar AS l FROM unnest(p_first6s, p_last4s) AS u(f, l)) x
        ORDER BY 1, 2;
        RETURN;
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

ALTER ROLE card_vault_app SET statement_timeout = '10s';
ALTER ROLE card_vault_app SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE card_vault_app SET work_mem = '4MB';
DO $$
BEGIN
    ALTER ROLE card_vault_app SET temp_file_limit = '256MB';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'temp_file_limit not set for card_vault_app: % (set it in the parameter group)', SQLERRM;
END
$$;
