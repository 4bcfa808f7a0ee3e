-- depends: 0013_card_search_and_audit_guards
-- Red-team r19 F8 (issue 19; PCI DSS v4.0.1 7.2.1, 7.2.2): the API login could SELECT every client's
-- tokens and masked digits and UPDATE or DELETE any row by raw SQL; client domains were the vault's
-- own WHERE clauses. Now it holds no right on vault.cards at all: lookup, disposal, update and the
-- sibling count go through SECURITY DEFINER functions owned by a role that cannot log in (fixed
-- search_path), each acting on one (client, token) pair the caller names, never listing anything.
-- What stays: a holder of the API login who knows another client's token and ID can act on that one
-- card through the functions (one login serves every client; only a login per client would stop it);
-- it can no longer find a token it does not already hold.
-- Correction (red team r19b L4): vault.count_siblings below is not what the line above claims for it. It
-- took the window from its caller, so a call naming another window length reset a client's count, and it
-- counted any token the caller named, made-up ones included (an oracle on a client's masked digits). It is
-- replaced by vault.reserve_siblings (migration 0018) and dropped in post/0019_contract_0018.sql.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'card_vault_scoped') THEN
        CREATE ROLE card_vault_scoped NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    IF NOT pg_has_role(current_user, 'card_vault_scoped', 'USAGE') THEN
        EXECUTE format('GRANT card_vault_scoped TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA vault TO card_vault_scoped;
GRANT SELECT (token, client_id, brand, first6, last4, expiry_month, expiry_year),
    UPDATE (expiry_month, expiry_year, name_ciphertext, name_data_key_id), DELETE ON vault.cards TO card_vault_scoped;
GRANT SELECT, INSERT, UPDATE ON vault.sibling_counts TO card_vault_scoped;

-- The client's card by token (the masked view), or no row.
CREATE FUNCTION vault.get_card(p_client_id text, p_token text)
RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
    FROM vault.cards c WHERE c.token = p_token AND c.client_id = p_client_id
$$;

-- Delete the client's card (its idempotency keys go with it, migration 0012); whether it existed.
CREATE FUNCTION vault.delete_card(p_client_id text, p_token text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM vault.cards c WHERE c.token = p_token AND c.client_id = p_client_id;
    RETURN FOUND;
END
$$;

-- Set the expiry (both or neither) and/or the sealed cardholder name (with its data key) of the
-- client's card; the masked view, or no row. Never returns the sealed name.
CREATE FUNCTION vault.update_card(
    p_client_id text, p_token text, p_expiry_month smallint, p_expiry_year smallint,
    p_name_ciphertext bytea, p_name_data_key_id uuid
) RETURNS TABLE (token text, brand text, first6 text, last4 text, expiry_month smallint, expiry_year smallint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF (p_expiry_month IS NULL) <> (p_expiry_year IS NULL) OR (p_name_ciphertext IS NULL) <> (p_name_data_key_id IS NULL)
       OR (p_expiry_month IS NULL AND p_name_ciphertext IS NULL) THEN
        RAISE EXCEPTION 'update_card: expiry month and year together, name and its data key together, one of them'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Constant assignments only: the owner may write the sealed name, never read it.
    IF p_expiry_month IS NOT NULL THEN
        UPDATE vault.cards c SET expiry_month = p_expiry_month, expiry_year = p_expiry_year
        WHERE c.token = p_token AND c.client_id = p_client_id;
    END IF;
    IF p_name_ciphertext IS NOT NULL THEN
        UPDATE vault.cards c SET name_ciphertext = p_name_ciphertext, name_data_key_id = p_name_data_key_id
        WHERE c.token = p_token AND c.client_id = p_client_id;
    END IF;
    RETURN QUERY
    SELECT c.token, c.brand, c.first6::text, c.last4::text, c.expiry_month, c.expiry_year
    FROM vault.cards c WHERE c.token = p_token AND c.client_id = p_client_id;
END
$$;

-- Count the new cards (tokens with their first six and last four) that share first six and last four
-- with another card of the client into the window's sibling counts (migration 0013); how many did.
CREATE FUNCTION vault.count_siblings(
    p_client_id text, p_tokens text[], p_first6 text[], p_last4 text[], p_window_seconds integer
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_window timestamptz := to_timestamp(
        floor(extract(epoch FROM clock_timestamp()) / p_window_seconds) * p_window_seconds);
    counted integer;
BEGIN
    WITH fresh AS (
        SELECT * FROM unnest(p_tokens, p_first6::bpchar[], p_last4::bpchar[]) AS n(token, first6, last4)
    ), sib AS (
        SELECT n.first6, n.last4, count(*)::integer AS k FROM fresh n
        WHERE EXISTS (
            SELECT 1 FROM vault.cards c
            WHERE c.client_id = p_client_id AND c.first6 = n.first6 AND c.last4 = n.last4 AND c.token <> n.token
        )
        GROUP BY n.first6, n.last4
    ), upserted AS (
        INSERT INTO vault.sibling_counts AS s (client_id, first6, last4, window_start, siblings)
        SELECT p_client_id, sib.first6, sib.last4, v_window, sib.k FROM sib
        ON CONFLICT (client_id, first6, last4) DO UPDATE
            SET siblings = CASE WHEN s.window_start = EXCLUDED.window_start
                                THEN s.siblings + EXCLUDED.siblings ELSE EXCLUDED.siblings END,
                window_start = EXCLUDED.window_start
        RETURNING 1
    )
    SELECT coalesce(sum(k), 0)::integer INTO counted FROM sib;
    RETURN counted;
END
$$;

ALTER FUNCTION vault.get_card(text, text) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.delete_card(text, text) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.update_card(text, text, smallint, smallint, bytea, uuid) OWNER TO card_vault_scoped;
ALTER FUNCTION vault.count_siblings(text, text[], text[], text[], integer) OWNER TO card_vault_scoped;
REVOKE ALL ON FUNCTION vault.get_card(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.delete_card(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.update_card(text, text, smallint, smallint, bytea, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION vault.count_siblings(text, text[], text[], text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vault.get_card(text, text) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.delete_card(text, text) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.update_card(text, text, smallint, smallint, bytea, uuid) TO card_vault_app;
GRANT EXECUTE ON FUNCTION vault.count_siblings(text, text[], text[], text[], integer) TO card_vault_app;

-- The API login loses everything on vault.cards and its writes to the sibling counts in
-- post/0017_contract_0014.sql, a post-deploy migration: the previous release's lookup, PATCH, DELETE and
-- sibling count use them until CloudFormation has updated the API function (expand here, contract after).
