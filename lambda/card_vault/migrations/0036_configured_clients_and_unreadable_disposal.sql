-- depends: 0034_tokenize_budget_in_database
-- Red team r19e finding 1 (issue 19, task w19f; PCI DSS v4.0.1 3.5.1, 3.7.5; PCI Tokenization Product Security
-- Guidelines): the API's login named any client ID. vault.reserve_tokenizations gave an ID without a
-- vault.tokenize_limits row the default budget (600 a minute), so invented IDs each got a budget and their own
-- sibling windows (one pair granted 20 times over 20 IDs), and cards stored under invented IDs (junk ciphertext
-- under a current-epoch data key) were accepted; at the next epoch they were `unreadable` to the re-seal, kept their
-- epoch `in_use` for `shred`, and no client certificate maps to them, so only SQL by hand released the shred.
--
-- 1. "Configured" is the database's: vault.tokenize_limits holds exactly the configuration's clients (the migration
--    function writes one row per `card_vault.clients` entry at every run and deletes the others:
--    `card_vault.migrate.set_tokenize_limits`; the construct resolves each client's own limit or the vault's
--    default, so every configured client has a row). vault.reserve_tokenizations refuses any other client ID
--    (SQLSTATE CV006, nothing spent or reserved); vault.tokenize_settings' default is no longer a budget anyone
--    gets (kept for the previous release's code until a later contract migration).
-- 2. A trigger on vault.cards (SECURITY DEFINER, owned by card_vault_tokenizer, which cannot log in) refuses, for
--    every writer, a card inserted under, or moved to, a client ID with no vault.tokenize_limits row (CV006). A card
--    of a client later removed from the configuration stays, and keeps being resealed (its client_id unchanged).
-- 3. Disposal of cards nobody can read: vault.dispose_unreadable_card(token), SECURITY DEFINER (owner
--    card_vault_scoped), run by the Keys login (card_vault_keys) from its re-seal for each card it could not open.
--    Only a card still under another shred epoch than the current one (the re-seal's own candidates) is eligible.
--    The first report records it in vault.unreadable_cards (its token's SHA-256, client, epoch, when) and answers
--    `marked`; a report at least 20 hours after the first (the next daily `rotate`) deletes the card and answers
--    `disposed` (`waiting` in between; `not_eligible` for a card of the current epoch or none). The day between
--    is the operators' time: the first report raises `ResealUnreadable` (alarmed), the disposal
--    `UnreadableDisposed` (alarmed). The Keys login could already make any card unreadable (it rewrites
--    ciphertexts to re-seal them); this gives it no card it could not already destroy, and no read.
CREATE OR REPLACE FUNCTION vault.reserve_tokenizations(
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

-- Unchanged: owner card_vault_scoped, EXECUTE for card_vault_app only (migration 0034).

GRANT SELECT (client_id) ON vault.tokenize_limits TO card_vault_tokenizer;
CREATE FUNCTION vault.refuse_unconfigured_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.client_id IS DISTINCT FROM OLD.client_id)
       AND NOT EXISTS (SELECT FROM vault.tokenize_limits l WHERE l.client_id = NEW.client_id) THEN
        RAISE EXCEPTION 'the card''s client ID is not a configured client' USING ERRCODE = 'CV006';
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION vault.refuse_unconfigured_client() OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.refuse_unconfigured_client() FROM PUBLIC;
CREATE TRIGGER cards_configured_client BEFORE INSERT OR UPDATE OF client_id ON vault.cards
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_unconfigured_client();

-- One row per card the re-seal reported unreadable: no card data (the token's SHA-256, not the token).
CREATE TABLE vault.unreadable_cards (
    token_sha256 bytea PRIMARY KEY CHECK (octet_length(token_sha256) = 32),
    client_id text NOT NULL,
    shred_epoch smallint,
    first_reported_at timestamptz NOT NULL DEFAULT now(),
    disposed_at timestamptz
);
REVOKE ALL ON vault.unreadable_cards FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON vault.unreadable_cards TO card_vault_scoped;
GRANT SELECT (id, shred_epoch) ON vault.data_keys TO card_vault_scoped;
GRANT SELECT (token, client_id, data_key_id, name_data_key_id, shred_epoch), DELETE ON vault.cards TO card_vault_scoped;
-- pgaudit object auditing (migration 0013): every report and disposal is logged.
GRANT INSERT, UPDATE ON vault.unreadable_cards TO rds_pgaudit;

CREATE FUNCTION vault.dispose_unreadable_card(p_token text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '4MB' AS $$
DECLARE
    v_current smallint := (SELECT s.shred_epoch FROM vault.data_key_settings s);
    v_hash bytea := sha256(convert_to(coalesce(p_token, ''), 'UTF8'));
    v_client text;
    v_epoch smallint;
    v_first timestamptz;
BEGIN
    SELECT c.client_id, c.shred_epoch INTO v_client, v_epoch
    FROM vault.cards c JOIN vault.data_keys p ON p.id = c.data_key_id
    LEFT JOIN vault.data_keys n ON n.id = c.name_data_key_id
    WHERE c.token = p_token AND (p.shred_epoch IS DISTINCT FROM v_current
                                 OR coalesce(n.shred_epoch, v_current) IS DISTINCT FROM v_current)
    FOR UPDATE OF c;
    IF v_client IS NULL THEN
        RETURN 'not_eligible';
    END IF;
    INSERT INTO vault.unreadable_cards AS u (token_sha256, client_id, shred_epoch)
    VALUES (v_hash, v_client, v_epoch)
    ON CONFLICT (token_sha256) DO NOTHING
    RETURNING u.first_reported_at INTO v_first;
    IF v_first IS NOT NULL THEN
        RETURN 'marked';
    END IF;
    SELECT u.first_reported_at INTO v_first FROM vault.unreadable_cards u WHERE u.token_sha256 = v_hash;
    IF v_first > clock_timestamp() - interval '20 hours' THEN
        RETURN 'waiting';
    END IF;
    DELETE FROM vault.cards c WHERE c.token = p_token;
    UPDATE vault.unreadable_cards u SET disposed_at = clock_timestamp() WHERE u.token_sha256 = v_hash;
    RETURN 'disposed';
END
$$;
ALTER FUNCTION vault.dispose_unreadable_card(text) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.dispose_unreadable_card(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.dispose_unreadable_card(text) TO card_vault_keys;
