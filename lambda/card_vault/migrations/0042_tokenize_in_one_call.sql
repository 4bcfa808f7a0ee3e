-- depends: 0037_function_limits_and_sliding_budget
-- Issue 19, "Speed and footprint" (task w24B): a single card tokenized in one database round trip instead of two.
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
-- Additive only: vault.reserve_tokenizations and vault.tokenize_card stay (the previous release's code, the batch and
-- the Idempotency-Key paths use them), so there is no contract half.
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
