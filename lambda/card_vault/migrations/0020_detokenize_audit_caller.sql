-- depends: 0018_idempotency_and_sibling_reservation
-- Issue 19 (red team r19, task w19a): the detokenize audit row records the caller, the function alias
-- (`caller-<role name>`) the invocation came through. Expand half; the contract is
-- post/0022_contract_0020_0021.sql. PCI DSS v4.0.1 10.2.1.1, 10.2.2 (user identification in each event).
--
-- Where the caller comes from: the detokenize function takes it from its Lambda context
-- (`context.invoked_function_arn`, "Using the Lambda context object to retrieve Python function
-- information", Lambda Developer Guide), never from the event. Each alias's resource policy names one
-- IAM role ("Using Lambda aliases in event sources and permissions policies"), so the alias is the
-- IAM-authorised route of the call. The function still passes the value to the database, so the
-- database login could name another alias; what it cannot do is read a ciphertext without a row, or write
-- a row without a read (migration 0012). The CHECK keeps the value to an alias's shape.
ALTER TABLE vault.detokenize_audit ADD COLUMN IF NOT EXISTS caller text
    CHECK (caller ~ '^[A-Za-z0-9_-]{1,128}$');
GRANT SELECT (caller), INSERT (caller) ON vault.detokenize_audit TO card_vault_audit_writer;

CREATE FUNCTION vault.open_for_detokenize(
    p_token text, p_reason_code text, p_ticket text, p_request_id text, p_caller text
) RETURNS TABLE (format_version smallint, data_key_id uuid, pan_ciphertext bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    found_card record;
    was_found boolean;
BEGIN
    IF p_caller IS NULL THEN
        RAISE EXCEPTION 'open_for_detokenize: the caller is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.format_version, c.data_key_id, c.pan_ciphertext INTO found_card
    FROM vault.cards c WHERE c.token = p_token;
    was_found := FOUND;
    INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome, caller)
    VALUES (p_token, p_reason_code, p_ticket, p_request_id,
            CASE WHEN was_found THEN 'returned' ELSE 'not_found' END, p_caller);
    IF was_found THEN
        RETURN QUERY SELECT found_card.format_version, found_card.data_key_id, found_card.pan_ciphertext;
    END IF;
END
$$;
ALTER FUNCTION vault.open_for_detokenize(text, text, text, text, text) OWNER TO card_vault_audit_writer;
REVOKE ALL ON FUNCTION vault.open_for_detokenize(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.open_for_detokenize(text, text, text, text, text) TO card_vault_detokenize;

-- A 'tampered' row names the caller of the read it follows (same signature: the previous code still calls it).
CREATE OR REPLACE FUNCTION vault.record_tampered(p_token text, p_request_id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome, caller)
    SELECT a.token, a.reason_code, a.ticket, a.request_id, 'tampered', a.caller FROM vault.detokenize_audit a
    WHERE a.token = p_token AND a.request_id = p_request_id AND a.outcome = 'returned'
    LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no detokenize read of this token in this request' USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;
-- The previous release's four-argument open_for_detokenize (no caller) stays until the contract half.
