"""Detokenize answers only through a configured caller's alias (security review r27, H1): an identity policy of the
account can allow an unqualified invocation, or one through a version, which no alias's resource policy names. The
deployed function carries its aliases in `VAULT_DETOKENIZE_CALLERS`; any other qualifier is refused before the
budget is taken or the card read, with no card number and no audit row."""

from __future__ import annotations

import pytest
from card_vault import runtime
from card_vault.settings import SettingsError, VaultSettings, from_environment
from card_vault.vault import Vault
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.vault.cards import card_body
from tests.vault.conftest import Captured, Database

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-detokenize"
CALLERS = ("caller-chargebacks", "caller-fraud")
HYPOTHESIS_SEED = 27_0001
print(f"hypothesis seed of the detokenize caller tests: {HYPOTHESIS_SEED}")


def _audited(database: Database, token: str) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.detokenize_audit WHERE token = %s", (token,)).fetchone()
    assert row is not None
    return int(row[0])


def test_only_a_configured_alias_is_answered(
    vault: Vault, detokenizer: Vault, settings: VaultSettings, database: Database, captured: Captured
) -> None:
    from card_vault import detokenize
    from card_vault.models import TokenizeRequest

    from tests.vault.events import FakeContext

    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id="payments").view.token
    runtime.install(detokenizer, settings.model_copy(update={"detokenize_callers": CALLERS}))
    event = {"token": token, "reason_code": "chargeback", "ticket": "CASE-27"}

    def invoke(arn: str) -> dict[str, object]:
        answer: dict[str, object] = detokenize.handler(event, FakeContext(invoked_function_arn=arn))
        captured.add({k: v for k, v in answer.items() if k != "pan"})
        return answer

    for refused_arn in (FUNCTION_ARN, f"{FUNCTION_ARN}:7", f"{FUNCTION_ARN}:$LATEST", f"{FUNCTION_ARN}:caller-x"):
        answer = invoke(refused_arn)
        assert "pan" not in answer, refused_arn
        assert answer["error"] == "caller not allowed"
    assert _audited(database, token) == 0
    assert "pan" in invoke(f"{FUNCTION_ARN}:caller-fraud")
    assert _audited(database, token) == 1


@seed(HYPOTHESIS_SEED)
@settings(max_examples=200, deadline=None)
@given(qualifier=st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_$-]{1,40}", fullmatch=True)))
def test_no_other_qualifier_is_a_caller(qualifier: str) -> None:
    """Whatever qualifier an invocation carries, `caller_of` names a configured caller only for that alias."""
    from card_vault import detokenize

    arn = f"{FUNCTION_ARN}:{qualifier}" if qualifier else FUNCTION_ARN
    assert (detokenize.caller_of(arn) in CALLERS) == (qualifier in CALLERS)


def test_callers_setting_is_read_and_checked() -> None:
    base = {
        "VAULT_KMS_KEY_ID": "arn:aws:kms:eu-west-1:000000000000:key/k",
        "VAULT_HMAC_KEYS": '[{"version": 1, "key_id": "arn:aws:kms:eu-west-1:000000000000:key/h"}]',
        "VAULT_DATABASE_URL": "postgresql://x@localhost/db",
    }
    assert from_environment({**base, "VAULT_DETOKENIZE_CALLERS": '["caller-a"]'}).detokenize_callers == ("caller-a",)
    assert from_environment(base).detokenize_callers is None
    for bad in ('["caller a"]', "[]", '["' + "x" * 129 + '"]'):
        with pytest.raises(SettingsError, match="VAULT_DETOKENIZE_CALLERS"):
            from_environment({**base, "VAULT_DETOKENIZE_CALLERS": bad})
