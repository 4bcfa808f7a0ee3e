-- depends: 0033_sibling_reset_fails_closed
-- Red team r19d finding 4 (issue 19, task w19j; PCI DSS v4.0.1 3.5.1; PCI Tokenization Product Security
-- Guidelines: no PAN recovery from tokens without the vault's detokenization). The per-client tokenize budget
-- bound only the honest client: the API function checked it with a limit it passed, in vault.tokenize_budget,
-- a table its login could INSERT and UPDATE, so the login reset its own `used`. Now the database keeps both:
--
-- 1. The limits: vault.tokenize_limits (one row per configured client) and vault.tokenize_settings (the default
--    for a client ID with no row), written only by their owner, the migrating login, from the migration
--    function's environment at every run (`card_vault.migrate.set_tokenize_limits`, VAULT_TOKENIZE_LIMITS), as
--    vault.card_search_settings is (migration 0021). No vault login has a right on them.
-- 2. The spend: vault.tokenize_spend, UNLOGGED as the old table (no WAL flush at commit); only card_vault_scoped
--    writes it, inside vault.reserve_tokenizations. A crash, failover or restore empties it with the sibling
--    tables, and the reset guard of migration 0033 then closes every reservation for `window_seconds` (at least
--    5 minutes; the budget's window is 60 s), so an emptied budget gives nothing back.
-- 3. vault.reserve_tokenizations, the API's reservation from this release (every answering function spends a
--    reservation, migration 0027), checks the reset guard, then takes one unit of the client's budget per keyed
--    hash (one per card, two during an HMAC key rotation, as the sibling credits: migration 0026), all or none,
--    then reserves the siblings (migration 0033's function, now vault.reserve_sibling_hashes, its owner's only).
--    Two more columns: `refusal` says why a pair was refused: `reset` (the guard closed every reservation after a
--    reset of the unlogged tables: the API counts it in the `SiblingGuardClosed` metric, which alarms), `budget`
--    (the client's budget of this minute is spent), `siblings` (the pair's limit), NULL when granted;
--    `budget_per_minute` is the client's limit applied.
--
-- Between the phases (expand here, contract in post/0035_contract_0034.sql): the previous release's code takes
-- its own budget in vault.tokenize_budget (its grants stay until post/0035), then calls vault.reserve_card_hashes,
-- which now goes through vault.reserve_tokenizations (its seven columns unchanged), so it keeps working and draws
-- on both budgets. Both count the same cards with the configured limits, so neither binds earlier, except when the
-- deploy changes a client's limit (the lower one binds until the function is updated) and during an HMAC key
-- rotation (the database counts two per card, the previous code one). Until post/0035 the login can still write
-- vault.tokenize_budget, which no longer binds anything: the database's budget does. post/0035 drops
-- vault.reserve_card_hashes and vault.tokenize_budget.
CREATE TABLE vault.tokenize_settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_per_minute integer NOT NULL CHECK (default_per_minute BETWEEN 1 AND 2000000),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- `card_vault.tokenize_per_minute`'s default until the migration function writes the configured value.
INSERT INTO vault.tokenize_settings (default_per_minute) VALUES (600) ON CONFLICT (singleton) DO NOTHING;
CREATE TABLE vault.tokenize_limits (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$'),
    per_minute integer NOT NULL CHECK (per_minute BETWEEN 1 AND 2000000),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNLOGGED TABLE vault.tokenize_spend (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$'),
    window_start timestamptz NOT NULL,
    used integer NOT NULL CHECK (used >= 0)
);
REVOKE ALL ON vault.tokenize_settings, vault.tokenize_limits, vault.tokenize_spend FROM PUBLIC;
GRANT SELECT ON vault.tokenize_settings, vault.tokenize_limits TO card_vault_scoped;
GRANT SELECT, INSERT, UPDATE ON vault.tokenize_spend TO card_vault_scoped;

-- Migration 0033's function, under its own name: the sibling reservation itself, reached only through
-- vault.reserve_tokenizations (its owner's EXECUTE only).
CREATE FUNCTION vault.reserve_sibling_hashes(
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
        RAISE EXCEPTION 'reserve_sibling_hashes: vault.card_search_settings holds no window of 60-86400 seconds and limit of 1-100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n <> coalesce(cardinality(p_last4s), 0) OR n <> coalesce(cardinality(p_pan_hmacs), 0) OR n > 1000
       OR EXISTS (SELECT FROM unnest(p_first6s, p_last4s, p_pan_hmacs) AS x(f, l, h)
                  WHERE f IS NULL OR l IS NULL OR h IS NULL) THEN
        RAISE EXCEPTION 'reserve_sibling_hashes: one first six, last four and keyed hash per credit, at most 1000'
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
ALTER FUNCTION vault.reserve_sibling_hashes(text, text[], text[], bytea[]) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.reserve_sibling_hashes(text, text[], text[], bytea[]) FROM PUBLIC;

CREATE FUNCTION vault.reserve_tokenizations(
    p_client_id text, p_first6s text[], p_last4s text[], p_pan_hmacs bytea[]
) RETURNS TABLE (first6 text, last4 text, granted boolean, earlier integer, retry_after integer,
    max_siblings integer, window_seconds integer, refusal text, budget_per_minute integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := clock_timestamp();
    v_limit integer;
    v_window_seconds integer;
    v_budget integer;
    v_start timestamptz;
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
    SELECT coalesce((SELECT l.per_minute FROM vault.tokenize_limits l WHERE l.client_id = p_client_id),
                    (SELECT s.default_per_minute FROM vault.tokenize_settings s)) INTO v_budget;
    IF v_budget IS NULL THEN
        RAISE EXCEPTION 'reserve_tokenizations: vault.tokenize_settings holds no default budget'
            USING ERRCODE = 'invalid_parameter_value';
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
    -- The client's budget for this minute (a fixed window on the database's clock), n units all or none.
    v_start := to_timestamp(floor(extract(epoch FROM v_now) / 60) * 60);
    v_taken := NULL;
    IF n <= v_budget THEN
        INSERT INTO vault.tokenize_spend AS b (client_id, window_start, used)
        VALUES (p_client_id, v_start, n)
        ON CONFLICT (client_id) DO UPDATE
            SET used = CASE WHEN b.window_start = EXCLUDED.window_start THEN b.used + EXCLUDED.used ELSE EXCLUDED.used END,
                window_start = EXCLUDED.window_start
            WHERE b.window_start <> EXCLUDED.window_start OR b.used + EXCLUDED.used <= v_budget
        RETURNING b.used INTO v_taken;
    END IF;
    IF v_taken IS NULL THEN
        RETURN QUERY
        SELECT x.f::text, x.l::text, false, NULL::integer,
            greatest(1, ceil(extract(epoch FROM v_start + interval '60 seconds' - v_now))::integer),
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

ALTER FUNCTION vault.reserve_tokenizations(text, text[], text[], bytea[]) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.reserve_tokenizations(text, text[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.reserve_tokenizations(text, text[], text[], bytea[]) TO card_vault_app;

-- The previous release's entry point (its seven columns), until post/0035 drops it: the same budget, guard and
-- reservation, so neither name is a way around the budget.
CREATE OR REPLACE FUNCTION vault.reserve_card_hashes(
    p_client_id text, p_first6s text[], p_last4s text[], p_pan_hmacs bytea[]
) RETURNS TABLE (first6 text, last4 text, granted boolean, earlier integer, retry_after integer,
    max_siblings integer, window_seconds integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.first6, r.last4, r.granted, r.earlier, r.retry_after, r.max_siblings, r.window_seconds
    FROM vault.reserve_tokenizations(p_client_id, p_first6s, p_last4s, p_pan_hmacs) r
$$;
