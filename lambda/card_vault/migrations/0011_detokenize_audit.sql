-- depends: 0010_rate_idempotency_update
-- Detokenization audit trail (issue 19; PCI DSS v4.0.1 10.2.1.1, 10.2.2, 10.3.2): one row per
-- detokenize call, appended by the detokenize role, read by the auditor role only, never changed.
-- What it holds: the token, the enumerated reason code, the ticket reference, the Lambda request
-- ID (CloudTrail's Lambda data event for the same request ID names the calling IAM principal), the
-- outcome and the time. Never the card number.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_auditor') THEN
        -- No login of its own: grant it to a named auditor login (which logs in by IAM).
        CREATE ROLE card_vault_auditor NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

CREATE TABLE vault.detokenize_audit (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    token text NOT NULL CHECK (token ~ '^tok_[A-Za-z0-9_-]{32}$'),
    reason_code text NOT NULL CHECK (reason_code IN ('chargeback', 'customer_dispute', 'fraud_investigation',
        'recurring_payment', 'refund', 'network_token_provisioning', 'legal_request')),
    ticket text NOT NULL CHECK (ticket ~ '^[A-Z][A-Z0-9]{1,9}-[0-9]{1,10}$'),
    request_id text NOT NULL CHECK (request_id ~ '^[A-Za-z0-9-]{1,64}$'),
    outcome text NOT NULL CHECK (outcome IN ('returned', 'not_found', 'tampered'))
);
CREATE INDEX detokenize_audit_at ON vault.detokenize_audit (at);

REVOKE ALL ON vault.detokenize_audit FROM PUBLIC;
GRANT INSERT (token, reason_code, ticket, request_id, outcome) ON vault.detokenize_audit TO card_vault_detokenize;
GRANT USAGE ON SCHEMA vault TO card_vault_auditor;
GRANT SELECT ON vault.detokenize_audit TO card_vault_auditor;

-- Append-only whatever the grants say (the owner included): UPDATE, DELETE and TRUNCATE refused.
CREATE FUNCTION vault.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'vault.detokenize_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER detokenize_audit_append_only BEFORE UPDATE OR DELETE ON vault.detokenize_audit
    FOR EACH ROW EXECUTE FUNCTION vault.refuse_audit_change();
CREATE TRIGGER detokenize_audit_no_truncate BEFORE TRUNCATE ON vault.detokenize_audit
    FOR EACH STATEMENT EXECUTE FUNCTION vault.refuse_audit_change();
