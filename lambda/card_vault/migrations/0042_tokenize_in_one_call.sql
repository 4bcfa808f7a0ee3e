-- depends: 0037_function_limits_and_sliding_budget
-- Issue 19, "Speed and footprint" (task w24B): a single card, and a batch, tokenized in one database round trip
-- instead of two.
--
-- Until now the API login ran vault.reserve_tokenizations (autocommit, committed), then vault.tokenize_card
-- (autocommit): two statements, two round trips, because migration 0027's rule 2 requires the reservation to be
-- committed before any answer (every answering function refuses, SQLSTATE CV002, in a transaction that already has a
-- transaction ID), so reservation and answer can never be rolled back together (red team r19c H1).
--
-- vault.tokenize_one keeps that rule and makes both steps one CALL: it reserves (the same function, the same budget,
-- sibling limit, reset guard and configured-client check, migrations 0034, 0036, 0037), COMMITs, and only then stores
-- or finds the card through vault.tokenize_card (which refuses a written transaction as before, and spends the
-- credits just committed). "Transaction Management", PostgreSQL 16 documentation (PL/pgSQL chapter): "In procedures
-- invoked by the CALL command ... it is possible to end transactions using the commands COMMIT and ROLLBACK. A new
-- transaction is started automatically after a transaction is ended", and "Transaction control is only possible in
-- CALL or DO invocations from the top level or nested CALL or DO invocations without any other intervening
-- command": a CALL inside the caller's own transaction block (BEGIN ... CALL ... ROLLBACK, the H1 attack) fails at
-- the COMMIT ("invalid transaction termination"), the reservation rolls back with the error and nothing is
-- answered. So no caller can hold the reservation and the answer in one transaction, exactly as before.
--
-- SECURITY INVOKER, no SET clause, by necessity: "A SECURITY DEFINER procedure cannot execute transaction control
-- statements" and "If a SET clause is attached to a procedure, then that procedure cannot execute transaction
-- control statements" ("CREATE PROCEDURE", PostgreSQL 16). It therefore runs with the API login's own rights and
-- calls only the two definer functions the login may already call (GRANTs of migrations 0027 and 0034); every name
-- it uses is schema-qualified. It grants nothing the two statements did not.
--
-- The reservation's COMMIT writes only unlogged tables (vault.tokenize_spend, vault.sibling_counts,
-- vault.sibling_credits; vault.sibling_guard only on a reset), so it waits for no WAL flush; the store's commit is
-- the one durable commit of the tokenization, as before. A refused reservation (budget, reset, sibling limit)
-- answers its reason and stores nothing; granted is the reservation's answer, token NULL then.
--
-- vault.tokenize_batch (below) does the same for a batch: one reservation call for every card, COMMIT, then
-- vault.tokenize_cards for the granted pairs' cards only.
--
-- Additive only: vault.reserve_tokenizations, vault.tokenize_card and vault.tokenize_cards stay (the previous
-- release's code and the Idempotency-Key path use them), so there is no contract half.
CREATE PROCEDURE vault.tokenize_one(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint, p_older_versions smallint[], p_older_hmacs bytea[],
    OUT granted boolean, OUT earlier integer, OUT retry_after integer, OUT max_siblings integer,
    OUT window_seconds integer, OUT refusal text, OUT budget_per_minute integer,
    OUT token text, OUT brand text, OUT first6 text, OUT last4 text, OUT expiry_month smallint,
    OUT expiry_year smallint
)
LANGUAGE plpgsql AS $$
DECLARE
    k integer := coalesce(pg_catalog.cardinality(p_older_hmacs), 0);
    r record;
    s record;
BEGIN
    -- One pair, 1 + k credits (the card's hash under the current and each older HMAC key version sent).
    SELECT * INTO STRICT r FROM vault.reserve_tokenizations(p_client_id,
        pg_catalog.array_fill(p_first6, ARRAY[1 + k]), pg_catalog.array_fill(p_last4, ARRAY[1 + k]),
        ARRAY[p_pan_hmac] || coalesce(p_older_hmacs, ARRAY[]::bytea[]));
    granted := r.granted;
    earlier := r.earlier;
    retry_after := r.retry_after;
    max_siblings := r.max_siblings;
    window_seconds := r.window_seconds;
    refusal := r.refusal;
    budget_per_minute := r.budget_per_minute;
    IF NOT r.granted THEN
        RETURN;
    END IF;
    -- The reservation is committed before anything is answered (migration 0027, rule 2); refused inside the
    -- caller's own transaction block.
    COMMIT;
    -- No row when the stored card was deleted between tokenize_card's two statements: token NULL, the caller retries.
    SELECT * INTO s FROM vault.tokenize_card(p_client_id, p_token, p_pan_hmac, p_hmac_key_version,
        p_format_version, p_data_key_id, p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4,
        p_expiry_month, p_expiry_year, p_older_versions, p_older_hmacs);
    token := s.token;
    brand := s.brand;
    first6 := s.first6;
    last4 := s.last4;
    expiry_month := s.expiry_month;
    expiry_year := s.expiry_year;
END
$$;

REVOKE ALL ON PROCEDURE vault.tokenize_one(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint, smallint[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE vault.tokenize_one(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text,
    text, smallint, smallint, smallint[], bytea[]) TO card_vault_app;

-- The batch the same way (vault.tokenize_cards' arguments): every card's credits reserved in one call of
-- vault.reserve_tokenizations (in (first six, last four, hash) order, as the API sends them), then, unless the whole
-- request was refused (the reset guard or the client's budget: nothing stored) or no pair was granted, COMMIT and
-- vault.tokenize_cards for the cards of the granted pairs only. Out: one element per reserved pair (r_*), and one
-- per stored card (s_*; s_ords[j] the card's 1-based position in the arrays sent). A refused pair's cards are not
-- sent on: nothing of theirs is compared or stored, as when the API dropped them between its two statements.
CREATE PROCEDURE vault.tokenize_batch(
    p_client_id text, p_hmac_key_version smallint, p_tokens text[], p_pan_hmacs bytea[],
    p_format_versions smallint[], p_data_key_ids uuid[], p_pan_ciphertexts bytea[], p_name_ciphertexts bytea[],
    p_brands text[], p_first6s text[], p_last4s text[], p_expiry_months smallint[], p_expiry_years smallint[],
    p_older_versions smallint[], p_older_hmacs bytea[],
    OUT r_first6s text[], OUT r_last4s text[], OUT r_granted boolean[], OUT r_earlier integer[],
    OUT r_retry_after integer[], OUT r_max_siblings integer[], OUT r_window_seconds integer[], OUT r_refusals text[],
    OUT r_budgets integer[],
    OUT s_ords integer[], OUT s_tokens text[], OUT s_brands text[], OUT s_first6s text[], OUT s_last4s text[],
    OUT s_expiry_months smallint[], OUT s_expiry_years smallint[]
)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(pg_catalog.cardinality(p_tokens), 0);
    k integer := coalesce(pg_catalog.cardinality(p_older_versions), 0);
    keep integer[];
BEGIN
    IF n = 0 OR n * k <> coalesce(pg_catalog.cardinality(p_older_hmacs), 0)
       OR n <> coalesce(pg_catalog.cardinality(p_first6s), 0) OR n <> coalesce(pg_catalog.cardinality(p_last4s), 0)
       OR n <> coalesce(pg_catalog.cardinality(p_pan_hmacs), 0) THEN
        RAISE EXCEPTION 'tokenize_batch: one first six, last four and keyed hash per card, k older hashes each'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Card i's credits: its current hash, then p_older_hmacs[(i - 1) * k + 1 .. i * k].
    WITH credits AS (
        SELECT p_first6s[i] AS f, p_last4s[i] AS l,
               CASE WHEN h = 0 THEN p_pan_hmacs[i] ELSE p_older_hmacs[(i - 1) * k + h] END AS m
        FROM pg_catalog.generate_series(1, n) i, pg_catalog.generate_series(0, k) h
    ), ordered AS (
        SELECT ARRAY(SELECT f FROM credits ORDER BY f, l, m) AS fs, ARRAY(SELECT l FROM credits ORDER BY f, l, m) AS ls,
               ARRAY(SELECT m FROM credits ORDER BY f, l, m) AS ms
    )
    SELECT pg_catalog.array_agg(r.first6), pg_catalog.array_agg(r.last4), pg_catalog.array_agg(r.granted),
           pg_catalog.array_agg(r.earlier), pg_catalog.array_agg(r.retry_after), pg_catalog.array_agg(r.max_siblings),
           pg_catalog.array_agg(r.window_seconds), pg_catalog.array_agg(r.refusal),
           pg_catalog.array_agg(r.budget_per_minute)
    INTO r_first6s, r_last4s, r_granted, r_earlier, r_retry_after, r_max_siblings, r_window_seconds, r_refusals,
         r_budgets
    FROM ordered, vault.reserve_tokenizations(p_client_id, ordered.fs, ordered.ls, ordered.ms) r;
    IF 'reset' = ANY (r_refusals) OR 'budget' = ANY (r_refusals) OR NOT (true = ANY (r_granted)) THEN
        RETURN;
    END IF;
    keep := ARRAY(
        SELECT i FROM pg_catalog.generate_series(1, n) i
        WHERE EXISTS (SELECT FROM unnest(r_first6s, r_last4s, r_granted) AS g(f, l, ok)
                      WHERE g.ok AND g.f = p_first6s[i] AND g.l = p_last4s[i])
        ORDER BY i);
    -- The reservation is committed before anything is answered (migration 0027, rule 2); refused inside the
    -- caller's own transaction block.
    COMMIT;
    SELECT pg_catalog.array_agg(keep[t.ord] ORDER BY t.ord), pg_catalog.array_agg(t.token ORDER BY t.ord),
           pg_catalog.array_agg(t.brand ORDER BY t.ord), pg_catalog.array_agg(t.first6 ORDER BY t.ord),
           pg_catalog.array_agg(t.last4 ORDER BY t.ord), pg_catalog.array_agg(t.expiry_month ORDER BY t.ord),
           pg_catalog.array_agg(t.expiry_year ORDER BY t.ord)
    INTO s_ords, s_tokens, s_brands, s_first6s, s_last4s, s_expiry_months, s_expiry_years
    FROM vault.tokenize_cards(p_client_id, p_hmac_key_version,
        ARRAY(SELECT p_tokens[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_pan_hmacs[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_format_versions[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_data_key_ids[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_pan_ciphertexts[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_name_ciphertexts[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_brands[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_first6s[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_last4s[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_expiry_months[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        ARRAY(SELECT p_expiry_years[i] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o) ORDER BY o),
        p_older_versions,
        ARRAY(SELECT p_older_hmacs[(x.i - 1) * k + h] FROM pg_catalog.unnest(keep) WITH ORDINALITY AS x(i, o),
              pg_catalog.generate_series(1, k) h ORDER BY x.o, h)) t;
END
$$;

REVOKE ALL ON PROCEDURE vault.tokenize_batch(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[], smallint[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE vault.tokenize_batch(text, smallint, text[], bytea[], smallint[], uuid[], bytea[], bytea[],
    text[], text[], text[], smallint[], smallint[], smallint[], bytea[]) TO card_vault_app;
