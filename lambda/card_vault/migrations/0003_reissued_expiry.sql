-- depends: 0002_least_privilege_users
-- A reissued card (same number, later expiry) updates the stored expiry in the tokenize
-- statement itself (INSERT ... ON CONFLICT DO UPDATE), so the purge never deletes a live card.
-- The API role may change the expiry columns and nothing else (PCI DSS v4.0.1 3.2.1, 7.2.2).
GRANT UPDATE (expiry_month, expiry_year) ON vault.cards TO card_vault_app;
