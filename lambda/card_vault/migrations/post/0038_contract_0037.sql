-- depends: 0037_function_limits_and_sliding_budget 0035_contract_0034
-- Post-deploy (contract) half of migration 0037 (red team r19e finding 2, issue 19, task w19f): TEMP on this database
-- goes from PUBLIC (PostgreSQL's default grant to every role) and from the API login. No vault login and no
-- definer function creates a temporary table (the previous release's code neither), so `CREATE TEMP TABLE` as any
-- vault login is refused and a temporary table is no longer a place the login can spill to. The database's owner
-- (the migrating login) keeps its own right.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM card_vault_app', current_database());
END
$$;
