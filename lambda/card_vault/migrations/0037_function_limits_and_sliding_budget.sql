-- depends: 0036_configured_clients_and_unreadable_disposal
-- Red team r19e findings 2 and 3 (issue 19, task w19f; PCI DSS v4.0.1 3.5.1; PCI Tokenization Product Security
-- Guidelines).
--
-- Finding 2: migration 0033's `ALTER ROLE card_vault_app SET work_mem / statement_timeout` are session defaults the
-- login may `SET` back for its own session (only temp_file_limit, a superuser parameter, it may not), and it held
-- TEMP, so a backend crash, and with it the reset guard's closure of every client's tokenization for one window,
-- stayed in its hands. Now:
-- 1. Every SECURITY DEFINER function a vault login may execute carries its own `SET work_mem = '4MB'` and
--    `SET hash_mem_multiplier = 2` ("CREATE FUNCTION", PostgreSQL 16: "The SET clause causes the specified
--    configuration parameter to be set to the specified value when the function is entered, and then restored to
--    its prior value when the function exits"), so whatever the login SETs in its session, the functions that read
--    and write the vault's tables run under those (tests/vault/test_vault_r19e.py reads them inside each).
--    Not per function: statement_timeout (a function's SET changes the setting, not the timer armed when the
--    calling statement began: the test shows a 1-second sleep under a function's 200 ms passing) and
--    temp_file_limit (a superuser parameter: a function's SET is refused at call time for its owner, who is not a
--    superuser). Those stay role defaults: temp_file_limit the login cannot change; statement_timeout it can.
-- 2. TEMP on this database is revoked from PUBLIC (the default grant; no vault login or definer function creates a
--    temporary table) and from card_vault_app in the contract half, post/0038_contract_0037.sql (a revoke is a
--    post-deploy step): from then `CREATE TEMP TABLE` as the login is refused.
--
-- Finding 3: the per-client tokenize budget's fixed minute allowed twice the budget across a minute's boundary.
-- vault.reserve_tokenizations now keeps a sliding window of 61 one-second buckets (vault.tokenize_spend.seconds and
-- .counts): never more than the budget in any 60 seconds; a client spending its whole budget in one second waits 61.
-- `used` and `window_start` stay filled (the window's total, the last reservation) for what reads them.
ALTER TABLE vault.tokenize_spend ADD COLUMN seconds bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE vault.tokenize_spend ADD COLUMN counts integer[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION vault.reserve_tokenizations(
    p_client_id text, p_first6s text[], p_last4s text[], p_pan_hmacs bytea[]
) RETURNS TABLE (first6 text, last4 text, granted boolean, earlier integer, retry_after integer,
    max_siblings integer, window_seconds integer, refusal text, budget_per_minute integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET work_mem = '4MB' SET hash_mem_multiplier = 2 AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    v_limit integer;
    v_window_seconds integer;
    v_budget integer;
    v_sec bigint;
    v_secs bigint[];
    v_counts integer[];
    v_used integer;
    v_retry bigint;
    v_taken integer;
    v_closed timestamptz;
    n integer := coalesce(cardinality(p_pan_hmacs), 0);
BEGIN
    SELECT s.max_siblings, s.window_seconds INTO v_limit, v_window_seconds FROM vault.card_search_settings s;
    IF v_window_seconds IS NULL OR v_window_seconds NOT BETWEEN 60 AND 86400
       OR v_limit IS NULL OR v_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'reserve_tokenizations: vault.card_search_settings holds no window of 60-86400 seconds and limit of 1-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_client_id IS NULL OR p_client_id !~ '^[a-z][a-z0-9-]{1,30}$'
       OR n <> coalesce(cardinality(p_first6s), 0) OR n <> coalesce(cardinality(p_last4s), 0) OR n > 1000
       OR EXISTS (SELECT FROM unnest(p_first6s, p_last4s, p_pan_hmacs) AS x(f, l, h)
                  WHERE f IS NULL OR l IS NULL OR h IS NULL) THEN
        RAISE EXCEPTION 'reserve_tokenizations: a client ID, one first six, last four and keyed hash per credit, at most 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Red team r19e finding 1: only a configured client (a vault.tokenize_limits row, written from the
    -- configuration's clients) is given a budget; any other client ID is refused, nothing spent or reserved.
    SELECT l.per_minute INTO v_budget FROM vault.tokenize_limits l WHERE l.client_id = p_client_id;
    IF v_budget IS NULL THEN
        RAISE EXCEPTION 'reserve_tokenizations: the client ID is not a configured client' USING ERRCODE = 'CV006';
    END IF;
    -- The reset guard (migration 0033), checked first: a reset refuses every pair, and spends no budget.
    IF NOT EXISTS (SELECT FROM vault.sibling_sentinel) THEN
        INSERT INTO vault.sibling_sentinel (singleton) VALUES (true) ON CONFLICT (singleton) DO NOTHING;
        UPDATE vault.sibling_guard g SET closed_until = v_now + make_interval(secs => v_window_seconds),
            reset_seen_at = v_now;
    END IF;
    SELECT g.closed_until INTO v_closed FROM vault.sibling_guard g;
    IF v_closed > v_now THEN
        RETURN QUERY
        SELECT x.f::text, x.l::text, false, NULL::integer, greatest(1, ceil(extract(epoch FROM v_closed - v_now))::integer),
            v_limit, v_window_seconds, 'reset'::text, v_budget
        FROM (SELECT DISTINCT u.f::bpchar AS f, u.l::bpchar AS l FROM unnest(p_first6s, p_last4s) AS u(f, l)) x
        ORDER BY 1, 2;
        RETURN;
    END IF;
    -- Red team r19e finding 3: a sliding window of 61 one-second buckets on the database's clock (the seconds
    -- v_sec-60 .. v_sec), n units all or none: at most the budget in any 60 seconds (the fixed minute of migration
    -- 0034 allowed twice the budget across a minute's boundary). The row is locked for the reservation.
    v_sec := floor(extract(epoch FROM v_now))::bigint;
    v_taken := NULL;
    v_retry := NULL;
    IF n <= v_budget THEN
        INSERT INTO vault.tokenize_spend (client_id, window_start, used) VALUES (p_client_id, v_now, 0)
        ON CONFLICT (client_id) DO NOTHING;
        SELECT b.seconds, b.counts INTO v_secs, v_counts
        FROM vault.tokenize_spend b WHERE b.client_id = p_client_id FOR UPDATE;
        SELECT coalesce(array_agg(x.s ORDER BY x.s), '{}'), coalesce(array_agg(x.c ORDER BY x.s), '{}'),
            coalesce(sum(x.c), 0)::integer
        INTO v_secs, v_counts, v_used
        FROM unnest(v_secs, v_counts) AS x(s, c) WHERE x.s >= v_sec - 60;
        IF v_used + n <= v_budget THEN
            IF cardinality(v_secs) > 0 AND v_secs[cardinality(v_secs)] = v_sec THEN
                v_counts[cardinality(v_counts)] := v_counts[cardinality(v_counts)] + n;
            ELSE
                v_secs := v_secs || v_sec;
                v_counts := v_counts || n;
            END IF;
            UPDATE vault.tokenize_spend b SET seconds = v_secs, counts = v_counts, used = v_used + n, window_start = v_now
            WHERE b.client_id = p_client_id;
            v_taken := v_used + n;
        ELSE
            -- When enough of the oldest seconds leave the window (second s leaves it at s + 61).
            SELECT min(y.s) + 61 - v_sec INTO v_retry
            FROM (SELECT x.s, sum(x.c) OVER (ORDER BY x.s) AS freed FROM unnest(v_secs, v_counts) AS x(s, c)) y
            WHERE v_used - y.freed + n <= v_budget;
        END IF;
    END IF;
    IF v_taken IS NULL THEN
        RETURN QUERY
        SELECT x.f::text, x.l::text, false, NULL::integer,
            greatest(1, least(61, coalesce(v_retry, 61)))::integer,
            v_limit, v_window_seconds, 'budget'::text, v_budget
        FROM (SELECT DISTINCT u.f::bpchar AS f, u.l::bpchar AS l FROM unnest(p_first6s, p_last4s) AS u(f, l)) x
        ORDER BY 1, 2;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.first6, r.last4, r.granted, r.earlier, r.retry_after, r.max_siblings, r.window_seconds,
        CASE WHEN r.granted THEN NULL ELSE 'siblings' END::text, v_budget
    FROM vault.reserve_sibling_hashes(p_client_id, p_first6s, p_last4s, p_pan_hmacs) r;
END
$$;


DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'vault' AND p.prosecdef AND p.prokind = 'f'
          AND EXISTS (SELECT FROM pg_roles r
                      WHERE r.rolname IN ('card_vault_app', 'card_vault_detokenize', 'card_vault_purge', 'card_vault_keys')
                        AND has_function_privilege(r.oid, p.oid, 'EXECUTE'))
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET work_mem = %L', f, '4MB');
        EXECUTE format('ALTER FUNCTION %s SET hash_mem_multiplier = %L', f, '2');
    END LOOP;
END
$$;
