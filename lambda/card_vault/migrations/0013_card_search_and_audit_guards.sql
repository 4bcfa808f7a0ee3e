-- depends: 0012_hash_behind_definer
-- Red-team r19 (issue 19): F1 the middle-digit search, the detokenize rate limit, F5 pgaudit object auditing.
-- PCI DSS v4.0.1 3.5.1, 10.2.1.1, 10.2.1.2, 10.4.1.1.

-- F1: a search of a stored card's middle digits sends Luhn-valid numbers with that card's first six
-- and last four; almost every one is a new card (201), so the known-card share never alarms. Each new
-- card that shares first six and last four with another card of the same client is a "sibling"; the
-- API counts them per (client, first six, last four) and fixed window here and refuses every tokenize
-- of that pair (new or stored alike, so the refusal itself is no oracle) once the window holds the
-- configured number. UNLOGGED as vault.tokenize_budget (migration 0010): no WAL flush, emptied by a
-- crash or failover (the window starts afresh). It holds no card data beyond the masked digits the
-- API already reads. Counted on creation, so disposing of the siblings does not reset the count.
CREATE UNLOGGED TABLE vault.sibling_counts (
    client_id text NOT NULL CHECK (client_id ~ '^[a-z][a-z0-9-]{1,30}$'),
    first6 char(6) NOT NULL CHECK (first6 ~ '^[0-9]{6}$'),
    last4 char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    window_start timestamptz NOT NULL,
    siblings integer NOT NULL CHECK (siblings >= 0),
    PRIMARY KEY (client_id, first6, last4)
);
GRANT SELECT, INSERT, UPDATE ON vault.sibling_counts TO card_vault_app;
-- Whether a new card has a sibling: the client's cards by masked digits (the API reads these columns already).
-- IF NOT EXISTS: on a large table, build it beforehand with CREATE INDEX CONCURRENTLY (README, migrations).
CREATE INDEX IF NOT EXISTS cards_client_masked ON vault.cards (client_id, first6, last4);

-- Detokenization rate limit per caller (issue 19): each caller role invokes the function through its
-- own alias (its resource policy names that role only), the function reads the alias from its invoked
-- ARN; one row per caller and fixed window, unlogged like the tokenize budget.
CREATE UNLOGGED TABLE vault.detokenize_budget (
    caller text PRIMARY KEY CHECK (caller ~ '^[A-Za-z0-9_-]{1,128}$'),
    window_start timestamptz NOT NULL,
    used integer NOT NULL CHECK (used >= 0)
);
GRANT SELECT, INSERT, UPDATE ON vault.detokenize_budget TO card_vault_detokenize;

-- F5: pgaudit object auditing ("Setting up the pgAudit extension" and "Auditing database objects",
-- RDS User Guide): statements that touch an object on which the role named by `pgaudit.role`
-- (rds_pgaudit, set in the parameter group) holds a privilege are logged, by whoever runs them. Any
-- UPDATE, DELETE or TRUNCATE of the audit trail, the master user's `session_replication_role` path
-- included, and every deletion of a card. `pgaudit.log_parameter` stays off (the parameter group
-- says so): bind parameters are never logged, so the log holds statement text only (the vault's
-- statements are constants; values travel separately). The role cannot log in and has no members.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_pgaudit') THEN
        CREATE ROLE rds_pgaudit NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;
GRANT UPDATE, DELETE, TRUNCATE ON vault.detokenize_audit TO rds_pgaudit;
GRANT DELETE, TRUNCATE ON vault.cards TO rds_pgaudit;
GRANT UPDATE (pan_hmac, hmac_key_version) ON vault.cards TO rds_pgaudit;
GRANT UPDATE, DELETE, TRUNCATE ON vault.data_keys TO rds_pgaudit;
-- The extension itself needs the library loaded (shared_preload_libraries, a static parameter: the
-- instance must reboot first); card_vault.migrate.ensure_pgaudit creates it at every migration run
-- once it is, so this migration does not wait for the reboot.
