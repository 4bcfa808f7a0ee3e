"""Detokenize and purge functions, and the migrations (yoyo) they rely on."""

from __future__ import annotations

import io
import json

import pytest
from card_vault import detokenize, migrate, purge, runtime
from card_vault.models import TokenizeRequest
from card_vault.settings import HmacKeySettings, SettingsError, VaultSettings, from_environment
from card_vault.vault import Vault

from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Aws, Captured, Database, make_vault
from tests.vault.events import FakeContext


@pytest.fixture
def as_detokenizer(detokenizer: Vault, settings: VaultSettings) -> Vault:
    runtime.install(detokenizer, settings)
    return detokenizer


def test_detokenize_returns_number_and_logs_reason_not_number(
    vault: Vault, as_detokenizer: Vault, log_lines: io.StringIO
) -> None:
    pan = card_number()
    token = vault.tokenize(TokenizeRequest.model_validate(card_body(pan)), client_id=CLIENT_ID).view.token
    context = FakeContext(function_name="card-vault-detokenize")
    answer = detokenize.handler({"token": token, "reason_code": "chargeback", "ticket": "CASE-2026118"}, context)
    assert answer == {"token": token, "pan": pan}
    audit = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    entry = next(line for line in audit if line.get("event") == "detokenize")
    assert (entry["reason_code"], entry["ticket"]) == ("chargeback", "CASE-2026118")
    assert entry["token"] == token
    assert entry["function_request_id"] == context.aws_request_id  # joins CloudTrail's record of the caller


@pytest.mark.parametrize(
    "event",
    [
        {"token": "tok_" + "a" * 32},
        {"token": "x", "reason_code": "chargeback", "ticket": "CASE-1"},
        {"token": "tok_" + "a" * 32, "reason_code": "chargeback for a customer", "ticket": "CASE-1"},
        {"token": "tok_" + "a" * 32, "reason": "free text is no longer accepted", "ticket": "CASE-1"},
        {},
    ],
)
def test_detokenize_requires_token_and_reason(event: dict[str, str], as_detokenizer: Vault, captured: Captured) -> None:
    answer = detokenize.handler(event, FakeContext())
    captured.add(answer)
    assert answer["error"] == "validation failed"
    assert "pan" not in answer


def test_detokenize_tampered_record_fails_loudly(
    vault: Vault, as_detokenizer: Vault, database: Database, log_lines: io.StringIO
) -> None:
    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id=CLIENT_ID).view.token
    with database.admin() as conn:
        conn.execute("UPDATE vault.cards SET pan_ciphertext = pan_ciphertext || '\\x00'::bytea")
    answer = detokenize.handler(
        {"token": token, "reason_code": "fraud_investigation", "ticket": "FRAUD-7"}, FakeContext()
    )
    assert answer == {"error": "decryption failed"}
    assert '"level":"ERROR"' in log_lines.getvalue().replace(" ", "")
    assert "tampered" in log_lines.getvalue()


def test_detokenize_unknown_token(as_detokenizer: Vault) -> None:
    answer = detokenize.handler(
        {"token": "tok_" + "b" * 32, "reason_code": "customer_dispute", "ticket": "DSP-1"}, FakeContext()
    )
    assert answer == {"error": "not found"}


def test_purge_handler_deletes_expired(vault: Vault, settings: VaultSettings, database: Database, aws: Aws) -> None:
    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id=CLIENT_ID).view.token
    with database.admin() as conn:
        conn.execute("UPDATE vault.cards SET expiry_year = 2021 WHERE token = %s", (token,))
    runtime.install(make_vault(database, aws, "card_vault_purge"), settings)  # the purge function's own role
    assert purge.handler({"dry_run": True}, FakeContext()) == {"would_delete": 1}
    scheduled_event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert purge.handler(scheduled_event, FakeContext()) == {"deleted": 1}


def test_migrations_are_idempotent(database: Database) -> None:
    assert migrate.apply_migrations(_yoyo_url(database)) == []


def _yoyo_url(database: Database) -> str:
    from psycopg.conninfo import conninfo_to_dict

    from tests.vault.conftest import _as_url

    return _as_url(conninfo_to_dict(database.admin_url))


def test_roles_have_only_their_grants(database: Database) -> None:
    with database.admin() as conn:
        rows = conn.execute(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE table_schema = 'vault' AND grantee LIKE 'card_vault_%' ORDER BY 1, 2, 3"
        ).fetchall()
        supers = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'card_vault_%'"
            " AND (rolsuper OR rolcreaterole OR rolcreatedb)"
        ).fetchall()
    assert rows == [
        # nothing on data keys since post/0030 (through vault.save_data_key, which sets the epoch: 0029), nothing
        # on cards, the idempotency keys or the sibling counts: only through SECURITY DEFINER
        # functions, each for one client (0012, 0014, 0018); nothing on a tokenize budget since post/0035 (the
        # budget is spent inside vault.reserve_tokenizations: 0034, red team r19d finding 4)
        ("card_vault_auditor", "detokenize_audit", "SELECT"),
        ("card_vault_detokenize", "data_keys", "SELECT"),
        ("card_vault_detokenize", "detokenize_budget", "INSERT"),  # per-caller rate limit (migration 0013)
        ("card_vault_detokenize", "detokenize_budget", "SELECT"),
        ("card_vault_detokenize", "detokenize_budget", "UPDATE"),
        # re-wraps data keys; makes the current shred epoch's and deletes unused older ones (0025); column
        # grants on cards only
        ("card_vault_keys", "data_keys", "DELETE"),
        ("card_vault_keys", "data_keys", "SELECT"),
        ("card_vault_keys", "shred_epochs", "INSERT"),  # the shred ledger (migration 0025)
        ("card_vault_keys", "shred_epochs", "SELECT"),
        ("card_vault_keys", "shred_epochs", "UPDATE"),
        ("card_vault_purge", "cards", "DELETE"),
        ("card_vault_purge", "idempotency_keys", "DELETE"),
        # reads the sibling limit and window in vault.reserve_tokenizations; none of the logins has a right (0021)
        ("card_vault_scoped", "card_search_settings", "SELECT"),
        ("card_vault_scoped", "cards", "DELETE"),  # owns vault.get_card/delete_card/update_card (0014)
        # owns vault.save_data_key, which records each data key under the configured epoch (0029)
        ("card_vault_scoped", "data_key_settings", "SELECT"),
        ("card_vault_scoped", "data_keys", "INSERT"),
        ("card_vault_scoped", "idempotency_keys", "INSERT"),  # owns vault.idempotent_answer and
        ("card_vault_scoped", "idempotency_keys", "SELECT"),  # vault.remember_idempotent_key (0018)
        ("card_vault_scoped", "idempotency_keys", "UPDATE"),
        # the hash-bound credits (0027): reserved by vault.reserve_tokenizations, spent by vault.spend_card_hashes
        ("card_vault_scoped", "sibling_counts", "INSERT"),
        ("card_vault_scoped", "sibling_counts", "SELECT"),
        ("card_vault_scoped", "sibling_counts", "UPDATE"),
        ("card_vault_scoped", "sibling_credits", "DELETE"),
        ("card_vault_scoped", "sibling_credits", "INSERT"),
        ("card_vault_scoped", "sibling_credits", "SELECT"),
        ("card_vault_scoped", "sibling_credits", "UPDATE"),
        # the reset guard of vault.reserve_tokenizations (0033): the unlogged sentinel, the logged closing time
        ("card_vault_scoped", "sibling_guard", "SELECT"),
        ("card_vault_scoped", "sibling_guard", "UPDATE"),
        ("card_vault_scoped", "sibling_sentinel", "INSERT"),
        ("card_vault_scoped", "sibling_sentinel", "SELECT"),
        # the tokenize budget of vault.reserve_tokenizations (0034): the limits the migration function writes, and
        # the unlogged spend
        ("card_vault_scoped", "tokenize_limits", "SELECT"),
        ("card_vault_scoped", "tokenize_settings", "SELECT"),
        ("card_vault_scoped", "tokenize_spend", "INSERT"),
        ("card_vault_scoped", "tokenize_spend", "SELECT"),
        ("card_vault_scoped", "tokenize_spend", "UPDATE"),
        # owns vault.dispose_unreadable_card, which records each card the re-seal could not open (0036)
        ("card_vault_scoped", "unreadable_cards", "INSERT"),
        ("card_vault_scoped", "unreadable_cards", "SELECT"),
        ("card_vault_scoped", "unreadable_cards", "UPDATE"),
        ("card_vault_tokenizer", "cards", "INSERT"),  # owns vault.tokenize_card; cannot log in
        # owns vault.refuse_stale_data_key, the trigger comparing each card's data keys' epoch with it (0031)
        ("card_vault_tokenizer", "data_key_settings", "SELECT"),
    ]
    assert supers == []


def test_master_url_verifies_tls() -> None:
    url = migrate.master_url(
        {"username": "cde_admin", "password": "p@ss:w/rd", "host": "db.example", "port": 5432, "dbname": "cde"},
        migrate.MIGRATIONS / "ca.pem",
    )
    assert "sslmode=verify-full" in url
    assert "p%40ss%3Aw%2Frd" in url


def test_settings_from_environment_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="VAULT_DB_HOST"):
        from_environment({"VAULT_KMS_KEY_ID": "k", "VAULT_HMAC_KEYS": '[{"version": 1, "key_id": "h"}]'})
    settings = from_environment(
        {
            "VAULT_KMS_KEY_ID": "k",
            "VAULT_HMAC_KEYS": '[{"version": 1, "key_id": "h"}]',
            "VAULT_DB_HOST": "proxy.example",
            "VAULT_DB_NAME": "cde",
            "VAULT_DB_USER": "card_vault_app",
            "VAULT_CLIENTS": '[{"id": "pay", "subject": "CN=a", "issuer": "CN=ca", "rights": ["lookup"]}]',
        }
    )
    assert settings.client("CN=a", "CN=ca") == settings.clients[0]
    assert settings.clients[0].rights == {"lookup"}
    assert settings.client("CN=a", "CN=other-ca") is None  # the issuer is checked too


def test_iam_conninfo_verifies_the_proxy_certificate() -> None:
    settings = VaultSettings(
        kms_key_id="k",
        hmac_keys=(HmacKeySettings(version=1, key_id="h"),),
        db_host="proxy.example",
        db_name="cde",
        db_user="card_vault_app",
    )

    class Rds:
        def generate_db_auth_token(self, **kwargs: object) -> str:
            assert kwargs == {"DBHostname": "proxy.example", "Port": 5432, "DBUsername": "card_vault_app"}
            return "signed-token"

    conninfo = runtime.iam_conninfo(settings, Rds())()
    assert "sslmode=verify-full" in conninfo
    assert "rds-proxy-ca-bundle.pem" in conninfo
    assert "password=signed-token" in conninfo
