"""Issue 19, task w19a: the detokenize audit row names the caller's alias, and the sibling limit and window
are the database's configuration, not a parameter of the API login (migrations 0020, 0021 and
post/0022_contract_0020_0021.sql). Against the embedded PostgreSQL, handlers in-process."""

from __future__ import annotations

import random

import psycopg
import pytest
from card_vault import detokenize, migrate, runtime
from card_vault.models import TokenizeRequest
from card_vault.pan import luhn_valid
from card_vault.settings import VaultSettings
from card_vault.vault import Vault

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, Captured, Database
from tests.vault.events import FakeContext
from tests.vault.test_vault_migration_phases import staged  # noqa: F401 -- the fixture

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-detokenize"


# --- 1. the audit row records the caller's alias --------------------------------------------------------


def test_each_callers_audit_row_names_its_own_alias(
    vault: Vault, detokenizer: Vault, settings: VaultSettings, database: Database, captured: Captured
) -> None:
    """Two aliases, two rows, each its own alias; an event claiming another alias is refused and adds no row."""
    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id=CLIENT_ID).view.token
    runtime.install(detokenizer, settings)

    def invoke(alias: str, **extra: str) -> dict[str, object]:
        event = {"token": token, "reason_code": "chargeback", "ticket": "CASE-190", **extra}
        context = FakeContext(invoked_function_arn=f"{FUNCTION_ARN}:{alias}")
        answer: dict[str, object] = detokenize.handler(event, context)
        captured.add({k: v for k, v in answer.items() if k != "pan"})
        return {**answer, "request_id": context.aws_request_id}

    chargebacks = invoke("caller-chargebacks")
    fraud = invoke("caller-fraud")
    assert "pan" in chargebacks
    assert "pan" in fraud
    # The alias is the route IAM authorised; an event field cannot name another one.
    forged = invoke("caller-fraud", caller="caller-chargebacks")
    forged_alias = invoke("caller-fraud", invoked_function_arn=f"{FUNCTION_ARN}:caller-chargebacks")
    assert forged["error"] == forged_alias["error"] == "validation failed"
    with database.admin() as conn:
        rows = conn.execute(
            "SELECT request_id, caller, outcome FROM vault.detokenize_audit WHERE token = %s ORDER BY at", (token,)
        ).fetchall()
    assert rows == [
        (chargebacks["request_id"], "caller-chargebacks", "returned"),
        (fraud["request_id"], "caller-fraud", "returned"),
    ]


def test_the_detokenize_login_opens_a_card_only_with_a_caller(
    vault: Vault, database: Database, captured: Captured
) -> None:
    """The previous release's four-argument function is gone (post/0022), and a NULL caller is refused."""
    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id=CLIENT_ID).view.token
    url = database.role_urls["card_vault_detokenize"]
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute("SELECT * FROM vault.open_for_detokenize(%s, 'refund', 'CASE-5', 'req-5')", (token,))
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("SELECT * FROM vault.open_for_detokenize(%s, 'refund', 'CASE-5', 'req-5', NULL)", (token,))
    with database.admin() as conn:
        assert conn.execute("SELECT count(*) FROM vault.detokenize_audit WHERE token = %s", (token,)).fetchone() == (0,)


# --- 2. the sibling limit and window are the configuration's, in the database ---------------------------


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE vault.card_search_settings SET max_siblings = 100000, window_seconds = 60",
        "INSERT INTO vault.card_search_settings (max_siblings, window_seconds) VALUES (100000, 60)",
        "DELETE FROM vault.card_search_settings",
        "SELECT * FROM vault.card_search_settings",
        "SELECT * FROM vault.reserve_siblings('payments', ARRAY['411111'], ARRAY['1111'], ARRAY[1], 100000, 60)",
    ],
    ids=["raise-limit", "insert", "delete", "read", "pass-a-window"],
)
def test_the_api_login_cannot_write_the_settings_nor_pass_a_window(statement: str, database: Database) -> None:
    with (
        psycopg.connect(database.role_urls["card_vault_app"], autocommit=True) as conn,
        pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction)),
    ):
        conn.execute(statement)
    with database.admin() as conn:
        assert conn.execute("SELECT max_siblings, window_seconds FROM vault.card_search_settings").fetchall() == [
            (migrate.DEFAULT_MAX_SIBLINGS, migrate.DEFAULT_SIBLING_WINDOW_SECONDS)
        ]


def _pair_answers(
    captured: Captured, first6: str, last4: str, count: int, rng: random.Random
) -> list[dict[str, object]]:
    """Tokenize `count` different Luhn-valid 16-digit numbers of one (first six, last four) pair."""
    answers: list[dict[str, object]] = []
    while len(answers) < count:
        number = first6 + f"{rng.randrange(10**6):06d}" + last4
        if luhn_valid(number):
            answers.append(call(captured, "POST", "/v1/cards", card_body(number)))
    return answers


@pytest.mark.usefixtures("installed")
def test_changing_the_configuration_and_rerunning_migrate_changes_the_limit(
    database: Database, captured: Captured
) -> None:
    """The migration function writes `card_vault.card_search` from its environment at every run."""
    rng = random.Random(19_021)
    first6, last4 = "411111", card_number("4", 16, rng)[-4:]

    def rerun_migrate(max_siblings: int) -> None:
        environ = {"VAULT_SIBLING_LIMIT": str(max_siblings), "VAULT_SIBLING_WINDOW_SECONDS": "7200"}
        assert migrate.apply_migrations(_yoyo(database)) == []  # nothing pending: only the configuration changed
        limit, window = migrate.card_search_from(environ)
        migrate.set_card_search(database.admin_url, max_siblings=limit, window_seconds=window)

    rerun_migrate(2)
    answers = _pair_answers(captured, first6, last4, 3, rng)
    assert [a["statusCode"] for a in answers] == [201, 201, 429]
    reason = str(payload(answers[-1])["reason"])
    assert "sent 2 cards" in reason
    assert "within 120 minutes" in reason
    rerun_migrate(4)  # the running window keeps its end; the new limit applies to the next reservation
    answers = _pair_answers(captured, first6, last4, 3, rng)
    assert [a["statusCode"] for a in answers] == [201, 201, 429]
    assert "sent 4 cards" in str(payload(answers[-1])["reason"])


def _yoyo(database: Database) -> str:
    """The admin login as the postgresql:// URL yoyo reads (socket directory as `host`)."""
    from psycopg.conninfo import conninfo_to_dict

    from tests.vault.conftest import _as_url

    return _as_url(conninfo_to_dict(database.admin_url))


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"VAULT_SIBLING_LIMIT": "ten"}, "VAULT_SIBLING_LIMIT: not an integer"),
        ({"VAULT_SIBLING_LIMIT": "0"}, "VAULT_SIBLING_LIMIT: must be 1-100000"),
        ({"VAULT_SIBLING_WINDOW_SECONDS": "59"}, "VAULT_SIBLING_WINDOW_SECONDS: must be 60-86400"),
    ],
    ids=["not-integer", "zero-limit", "short-window"],
)
def test_a_bad_card_search_setting_fails_the_migration_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        migrate.card_search_from(environ)


def test_the_defaults_when_the_environment_names_none() -> None:
    assert migrate.card_search_from({}) == (migrate.DEFAULT_MAX_SIBLINGS, migrate.DEFAULT_SIBLING_WINDOW_SECONDS)


# --- expand / contract: the previous release's calls work until the post-deploy phase -------------------

PREVIOUS_RESERVE = (
    "SELECT granted FROM vault.reserve_siblings('payments', ARRAY['411111'], ARRAY['1111'], ARRAY[1], 10, 3600)"
)
PREVIOUS_OPEN = "SELECT count(*) FROM vault.open_for_detokenize('tok_" + "D" * 32 + "', 'refund', 'CASE-9', 'old-9')"


def test_the_previous_releases_calls_work_until_the_contract(staged: dict[str, str]) -> None:  # noqa: F811
    """Between the phases the previous code's six-argument reservation and four-argument read still run
    (its functions are updated after the pre-deploy phase); the post-deploy phase drops both."""
    with psycopg.connect(staged["card_vault_app"], autocommit=True) as conn:
        assert conn.execute(PREVIOUS_RESERVE).fetchone() == (True,)
    with psycopg.connect(staged["card_vault_detokenize"], autocommit=True) as conn:
        assert conn.execute(PREVIOUS_OPEN).fetchone() == (0,)
    migrate.apply_migrations(staged["yoyo"], "post")
    for role, statement in (("card_vault_app", PREVIOUS_RESERVE), ("card_vault_detokenize", PREVIOUS_OPEN)):
        with psycopg.connect(staged[role], autocommit=True) as conn, pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute(statement)
