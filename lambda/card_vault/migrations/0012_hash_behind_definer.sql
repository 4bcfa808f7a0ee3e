-- depends: 0011_detokenize_audit
-- Red-team finding F2 (issue 19; PCI DSS v4.0.1 3.5.1, 3.5.1.1, 7.2.2): the API login read
-- `pan_hmac` beside `first6`/`last4`, and its IAM role may call kms:GenerateMac, so it could
-- read every stored hash and recover any number offline with at most 100,000 GenerateMac calls
-- (a 16-digit card: 6 middle digits, the last of which is a Luhn digit inside the last four).
-- Now the API login cannot read, filter on, or insert a keyed hash: duplicate detection and the
-- insert itself go through two SECURITY DEFINER functions owned by a role that cannot log in,
-- with a fixed search_path. Each call answers for one (client, hash) the caller already holds:
-- the stored card's token and masked view, or nothing, never another client's row or a list.
-- What stays: a caller with the API's rights can still test one guessed number per GenerateMac
-- call; the CloudWatch alarm on GenerateMac volume (README, "Card vault threat model") watches that.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_tokenizer') THEN
        CREATE ROLE card_vault_tokenizer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    -- ALTER FUNCTION ... OWNER TO needs the migrating login to be able to SET ROLE to the owner.
    IF NOT pg_has_role(current_user, 'card_vault_tokenizer', 'USAGE') THEN
        EXECUTE format('GRANT card_vault_tokenizer TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA vault TO card_vault_tokenizer;
GRANT SELECT (token, client_id, pan_hmac, hmac_key_version, brand, first6, last4, expiry_month, expiry_year),
    INSERT, UPDATE (expiry_month, expiry_year) ON vault.cards TO card_vault_tokenizer;

-- Insert a card unless the client holds its keyed hash already; the stored (or new) row either way.
-- A later expiry replaces the stored one (a reissued card, migration 0003).
CREATE FUNCTION vault.store_card(
    p_client_id text, p_token text, p_pan_hmac bytea, p_hmac_key_version smallint, p_format_version smallint,
    p_data_key_id uuid, p_pan_ciphertext bytea, p_name_ciphertext bytea, p_brand text, p_first6 text,
    p_last4 text, p_expiry_month smallint, p_expiry_year smallint
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    INSERT INTO vault.cards AS c (client_id, token, pan_hmac, hmac_key_version, format_version, data_key_id,
        pan_ciphertext, name_ciphertext, brand, first6, last4, expiry_month, expiry_year)
    VALUES (p_client_id, p_token, p_pan_hmac, p_hmac_key_version, p_format_version, p_data_key_id,
        p_pan_ciphertext, p_name_ciphertext, p_brand, p_first6, p_last4, p_expiry_month, p_expiry_year)
    ON CONFLICT (client_id, pan_hmac) DO UPDATE
        SET expiry_year = EXCLUDED.expiry_year, expiry_month = EXCLUDED.expiry_month
        WHERE (EXCLUDED.expiry_year, EXCLUDED.expiry_month) > (c.expiry_year, c.expiry_month)
    RETURNING c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year;
    IF NOT FOUND THEN  -- stored already with a later or equal expiry (a new statement: a new snapshot)
        RETURN QUERY
        SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
        FROM vault.cards c WHERE c.client_id = p_client_id AND c.pan_hmac = p_pan_hmac;
    END IF;
END
$$;

-- The client's card hashed under an older key version (a rotation in progress), its expiry raised
-- when the one sent is later; no row when there is none.
CREATE FUNCTION vault.find_card_under(
    p_client_id text, p_hmac_key_version smallint, p_pan_hmac bytea, p_expiry_year smallint, p_expiry_month smallint
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    UPDATE vault.cards c SET expiry_year = p_expiry_year, expiry_month = p_expiry_month
    WHERE c.client_id = p_client_id AND c.hmac_key_version = p_hmac_key_version AND c.pan_hmac = p_pan_hmac
      AND (c.expiry_year, c.expiry_month) < (p_expiry_year, p_expiry_month);
    RETURN QUERY
    SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
    FROM vault.cards c
    WHERE c.client_id = p_client_id AND c.hmac_key_version = p_hmac_key_version AND c.pan_hmac = p_pan_hmac;
END
$$;

ALTER FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text, text,
    smallint, smallint) OWNER TO card_vault_tokenizer;
ALTER FUNCTION vault.find_card_under(text, smallint, bytea, smallint, smallint) OWNER TO card_vault_tokenizer;
REVOKE ALL ON FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text,
    text, smallint, smallint) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.find_card_under(text, smallint, bytea, smallint, smallint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.store_card(text, text, bytea, smallint, smallint, uuid, bytea, bytea, text, text,
    text, smallint, smallint) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.find_card_under(text, smallint, bytea, smallint, smallint) TO card_vault_app;

-- The API login loses the keyed hash, the key version and its direct insert (a unique violation on a
-- guessed hash would be the same oracle without the function) in post/0016_contract_0012.sql, a
-- post-deploy migration: the API code of the previous release still inserts directly until
-- CloudFormation has updated the function (expand here, contract after the update).

-- Red-team finding F3: an idempotency replay answered with a disposed card's token and masked view
-- (POST with a key, DELETE, POST again: 201 and a dead token). Each key now names its card, and
-- deleting the card (DELETE /v1/cards/{token} or the purge) deletes its keys in the same statement
-- (ON DELETE CASCADE runs inside the deleting transaction, with the table owner's rights), so a
-- replay can only answer with a card that still exists. Keys of cards deleted before this
-- migration are deleted here. The column stays nullable until post/0016_contract_0012.sql: the
-- previous release's code, still live until the functions are updated, writes keys without it.
ALTER TABLE vault.idempotency_keys ADD COLUMN token text;
DELETE FROM vault.idempotency_keys k
    WHERE NOT EXISTS (SELECT FROM vault.cards c WHERE c.token = (k.response::json ->> 'token'));
UPDATE vault.idempotency_keys SET token = (response::json ->> 'token');
ALTER TABLE vault.idempotency_keys ADD CONSTRAINT idempotency_keys_card
    FOREIGN KEY (token) REFERENCES vault.cards (token) ON DELETE CASCADE;
CREATE INDEX idempotency_keys_token ON vault.idempotency_keys (token);
GRANT UPDATE (token) ON vault.idempotency_keys TO card_vault_app;

-- Red-team finding F5: the detokenize login could INSERT any audit row it liked (any token, any
-- outcome, rows for calls that never happened) and read ciphertexts without writing one. Now it can
-- do neither directly: `vault.open_for_detokenize` reads the sealed card number and appends the
-- audit row in one statement, its outcome ('returned' when a ciphertext was read, 'not_found'
-- otherwise) set from what the read found; `vault.record_tampered` appends a 'tampered' row only
-- for a token this request read. Both are owned by a role that cannot log in, with a fixed
-- search_path. The caller still supplies the reason code, ticket and request ID (validated by the
-- table's CHECKs): those are what it claims, and CloudTrail's Lambda data event ties the request ID
-- to the calling principal.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_audit_writer') THEN
        CREATE ROLE card_vault_audit_writer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT pg_has_role(current_user, 'card_vault_audit_writer', 'USAGE') THEN
        EXECUTE format('GRANT card_vault_audit_writer TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA vault TO card_vault_audit_writer;
GRANT SELECT (token, format_version, data_key_id, pan_ciphertext) ON vault.cards TO card_vault_audit_writer;
GRANT SELECT (token, reason_code, ticket, request_id, outcome),
    INSERT (token, reason_code, ticket, request_id, outcome) ON vault.detokenize_audit TO card_vault_audit_writer;

CREATE FUNCTION vault.open_for_detokenize(p_token text, p_reason_code text, p_ticket text, p_request_id text)
RETURNS TABLE (format_version smallint, data_key_id uuid, pan_ciphertext bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    found_card record;
    was_found boolean;
BEGIN
    SELECT c.format_version, c.data_key_id, c.pan_ciphertext INTO found_card
    FROM vault.cards c WHERE c.token = p_token;
    was_found := FOUND;
    INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome)
    VALUES (p_token, p_reason_code, p_ticket, p_request_id,
            CASE WHEN was_found THEN 'returned' ELSE 'not_found' END);
    IF was_found THEN
        RETURN QUERY SELECT found_card.format_version, found_card.data_key_id, found_card.pan_ciphertext;
    END IF;
END
$$;

CREATE FUNCTION vault.record_tampered(p_token text, p_request_id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO vault.detokenize_audit (token, reason_code, ticket, request_id, outcome)
    SELECT a.token, a.reason_code, a.ticket, a.request_id, 'tampered' FROM vault.detokenize_audit a
    WHERE a.token = p_token AND a.request_id = p_request_id AND a.outcome = 'returned'
    LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no detokenize read of this token in this request' USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

ALTER FUNCTION vault.open_for_detokenize(text, text, text, text) OWNER TO card_vault_audit_writer;
ALTER FUNCTION vault.record_tampered(text, text) OWNER TO card_vault_audit_writer;
REVOKE ALL ON FUNCTION vault.open_for_detokenize(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.record_tampered(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.open_for_detokenize(text, text, text, text) TO card_vault_detokenize;
GRANT EXECUTE ON FUNCTION vault.record_tampered(text, text) TO card_vault_detokenize;
-- The detokenize login's direct audit INSERT and ciphertext SELECT go in post/0016_contract_0012.sql,
-- once the previous release's detokenize code (which uses them) has been replaced.
