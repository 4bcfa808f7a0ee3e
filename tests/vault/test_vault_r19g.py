"""Red team r19g's findings, attacked through the handlers in-process (embedded PostgreSQL, moto's KMS), the
suite's leak guard over every sink (now scanning trace identifiers too):

- a cardholder name written in Unicode numbers that are not decimal digits (superscript, circled, Roman
  numerals: `\\w` matches them, `\\d` does not) carried a card number past validation into the store;
- a trace ID whose Root or Parent is PAN-shaped (a client can write the Root through the load balancer's
  X-Amzn-Trace-Id header) went into every segment document the invocation sent to X-Ray;
- random subsegment IDs can be PAN-shaped, so the leak guard skipped identifiers and could not see the above.
"""

from __future__ import annotations

import random
import unicodedata

import pytest
from card_vault import tracing
from card_vault.models import valid_name
from card_vault.pan import find_pans
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import Captured, Database, XRayDaemon

HYPOTHESIS_SEED = 19_0719
print(f"hypothesis seed of the card-vault r19g tests: {HYPOTHESIS_SEED}")

pytestmark = pytest.mark.usefixtures("installed")

_SUPERSCRIPT = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
_CIRCLED = "\u24ea" + "".join(chr(0x2460 + n) for n in range(9))


def _rows(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    assert row is not None
    return int(row[0])


def _written(pan: str, script: str) -> str:
    return "".join(script[int(d)] for d in pan)


@pytest.mark.parametrize("script", [_SUPERSCRIPT, _CIRCLED], ids=["superscript", "circled"])
def test_a_name_carrying_a_pan_in_unicode_numbers_is_refused_and_nothing_is_stored(
    captured: Captured, database: Database, script: str
) -> None:
    pan = card_number("4", 16, random.Random(1907))
    name = _written(pan, script)
    assert find_pans(name), "the attack writes a card number the normalizer reads"
    before = _rows(database)
    response = call(captured, "POST", "/v1/cards", {**card_body(), "cardholder_name": name})
    assert response["statusCode"] == 422
    assert name not in response["body"]
    assert _rows(database) == before


@seed(HYPOTHESIS_SEED)
@settings(max_examples=200, deadline=None)
@given(
    letters=st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=2, max_size=10),
    number=st.characters(whitelist_categories=("Nd", "Nl", "No")),
)
def test_no_character_of_a_unicode_number_category_is_a_letter_of_a_name(letters: str, number: str) -> None:
    assert unicodedata.category(number)[0] == "N"
    with pytest.raises(ValueError, match="letters"):
        valid_name(letters + number)


def _pan_shaped_trace_env() -> str:
    pan = card_number("4", 16, random.Random(2026))
    root = f"1-{pan[:8]}-{pan[8:]}00000000"
    assert find_pans(root)
    return f"Root={root};Parent=facefeed00000001;Sampled=1"


def test_an_invocation_whose_trace_id_is_pan_shaped_sends_nothing_to_xray(
    captured: Captured, tracing_on: XRayDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", _pan_shaped_trace_env())
    created = call(captured, "POST", "/v1/cards", card_body())
    assert created["statusCode"] == 201, "the request is served, untraced"
    assert tracing_on.drain() == []
    assert tracing.trace_context() is None


def test_an_ordinary_trace_id_is_traced_and_the_guard_reads_its_identifiers(
    captured: Captured, tracing_on: XRayDaemon
) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body()))["token"]
    call(captured, "GET", f"/v1/cards/{token}")
    segments = tracing_on.segments(tracing_on.drain())
    assert segments, "traced as before"
    assert all({"id", "trace_id"} <= set(s) for s in segments)


def test_a_pan_shaped_parent_is_not_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    pan = card_number("4", 16, random.Random(19))
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root=1-cafe0001-feedfacefeedfacefe000001;Parent={pan};Sampled=1")
    assert tracing.trace_context() is None


def test_a_subsegment_id_is_never_pan_shaped(monkeypatch: pytest.MonkeyPatch) -> None:
    pan = card_number("4", 16, random.Random(5))
    draws: list[bytes] = [bytes.fromhex(pan), bytes.fromhex("cafefeedfacebead")]

    def urandom(n: int) -> bytes:
        assert n == 8
        return draws.pop(0)

    monkeypatch.setattr("card_vault.tracing.os.urandom", urandom)
    assert tracing.subsegment_id() == "cafefeedfacebead"
    assert draws == []
