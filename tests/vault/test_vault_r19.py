"""The red team's remaining r19 findings, each attacked the way the red team did (handlers in-process,
the embedded PostgreSQL, moto's KMS), asserting the fixed property.

F1: a search of a stored card's middle digits (almost every answer a new card) is refused after the
configured number of "sibling" cards per first six and last four, stored card or not, and counted
(`SiblingCards`, `NewCardAnswers`).
F7: the one normalizer (`card_vault.pan`, also the suite's leak guard) reads comma-, colon-,
semicolon- and 4+-space-separated groups and superscript/circled digits; an unknown certificate
subject is logged only as a fingerprint.
"""

from __future__ import annotations

import io
import json
import random
import unicodedata
from collections.abc import Iterator

import psycopg
import pytest
from card_vault import pan as pan_module
from card_vault import runtime
from card_vault.pan import ascii_digits, find_pans, luhn_valid, mask_pans
from card_vault.settings import VaultSettings
from card_vault.vault import Vault
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import Captured, Database, set_card_search

HYPOTHESIS_SEED = 19_1907
RNG_SEED = 1907
print(f"hypothesis seed of the card-vault r19 tests: {HYPOTHESIS_SEED}")

# --- F7: the masker's missed shapes ---------------------------------------------------------------

# ASCII, fullwidth, superscript, subscript, circled, dingbat negative circled, Arabic-Indic digits.
_SUPERSCRIPT = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
_CIRCLED = "\u24ea" + "".join(chr(0x2460 + n) for n in range(9))
_DIGIT_SCRIPTS = [
    "0123456789",
    "".join(chr(0xFF10 + n) for n in range(10)),
    _SUPERSCRIPT,
    "".join(chr(0x2080 + n) for n in range(10)),
    _CIRCLED,
    "\u24ff" + "".join(chr(0x2776 + n) for n in range(9)),
    "".join(chr(0x660 + n) for n in range(10)),
]
_LOOSE_SEPARATORS = [",", ":", ";", ", ", " : ", "    ", "        ", "\t\t\t\t", ",\u00a0", " ;  "]


@st.composite
def loosely_written_pans(draw: st.DrawFn) -> tuple[str, str]:
    """(a card number, written in groups as printed, with a separator the strict reading does not take)."""
    prefix = draw(st.sampled_from(["4", "51", "37", "6011", "36"]))
    length = {"37": 15, "36": 14}.get(prefix, 16)
    number = card_number(prefix, length, random.Random(draw(st.integers(0, 2**32))))
    script = draw(st.sampled_from(_DIGIT_SCRIPTS))
    separator = draw(st.sampled_from(_LOOSE_SEPARATORS))
    if length == 15:
        groups = [4, 6, 5]
    elif length == 14:
        groups = [4, 6, 4]
    else:
        groups = draw(st.sampled_from([[4, 4, 4, 4], [3, 3, 3, 3, 3, 1], [5, 5, 5, 1]]))
    digits = [script[int(d)] for d in number]
    chunks, start = [], 0
    for size in groups:
        chunks.append("".join(digits[start : start + size]))
        start += size
    return number, separator.join(chunks)


@seed(HYPOTHESIS_SEED)
@settings(max_examples=300, deadline=None)
@given(
    written=loosely_written_pans(),
    before=st.sampled_from(["", "card ", "pan=", "[", "«"]),
    after=st.sampled_from(["", " ok", "]", "»"]),
)
def test_comma_colon_and_wide_space_groups_in_any_digit_script_are_found_and_masked(
    written: tuple[str, str], before: str, after: str
) -> None:
    number, shape = written
    text = f"{before}{shape}{after}"
    assert ascii_digits(shape) == number
    assert find_pans(text), repr(text)
    masked = mask_pans(text)
    assert not find_pans(masked)
    assert number not in ascii_digits(masked)


@seed(HYPOTHESIS_SEED)
@settings(max_examples=200, deadline=None)
@given(script=st.sampled_from(_DIGIT_SCRIPTS), number_seed=st.integers(0, 2**32))
def test_superscript_and_circled_digits_unseparated_are_found(script: str, number_seed: int) -> None:
    number = card_number("4", 16, random.Random(number_seed))
    written = "".join(script[int(d)] for d in number)
    assert find_pans(f"x {written} y")
    assert number not in ascii_digits(mask_pans(f"x {written} y"))


def test_the_other_digit_list_is_every_no_character_with_a_digit_value() -> None:
    """`_OTHER_DIGITS` against this Python's Unicode database: every character with a digit value is read."""
    others = [chr(c) for c in range(0x110000) if unicodedata.digit(chr(c), None) is not None]
    missed = [f"U+{ord(c):04X}" for c in others if not pan_module._DIGIT_RUN.fullmatch(c)]
    assert not missed, f"digits the normalizer does not read (unicodedata {unicodedata.unidata_version}): {missed}"
    assert all(ascii_digits(c) == str(unicodedata.digit(c)) for c in others)


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-12-01 23:04:45,123+0000 took 1796166748.3064876 s",
        "start_time: 1796166748.3064876, end_time: 1796166748.4101",
        "counts: 1, 0, 0, 1, 1, 0, 2, 1, 0, 0, 1, 0, 1, 1",
        "10:15:30; 11:20:45; 12:25:50; 13:30:55",
        "ids 12, 345, 6789, 12345, 678901",
    ],
    ids=["log-timestamp", "trace-times", "digit-list", "clock-times", "mixed-lengths"],
)
def test_timestamps_and_mixed_number_lists_are_left_alone(text: str) -> None:
    assert mask_pans(text) == text


@pytest.mark.usefixtures("installed")
def test_unknown_certificate_subject_is_logged_as_a_fingerprint(captured: Captured, log_lines: io.StringIO) -> None:
    hostile = f"CN=<script>{card_number()}</script>,O=Evil Corp"
    response = call(captured, "POST", "/v1/cards", card_body(), subject=hostile)
    assert response["statusCode"] == 403
    logged = log_lines.getvalue()
    assert "Evil Corp" not in logged
    assert "<script>" not in logged
    assert '"subject_ref":"sha256:' in logged.replace(" ", "")


# --- F1: the middle-digit search answers 201 almost always ---------------------------------------

SIBLING_LIMIT = 5


def _emf_metrics(out: str, name: str) -> list[int]:
    """The values of EMF metric `name` in the captured stdout (one JSON document per line)."""
    values: list[int] = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if name in document:
                value = document[name]
                values.extend(int(v) for v in (value if isinstance(value, list) else [value]))
    return values


def _middle_digit_guesses(target: str) -> Iterator[str]:
    """Luhn-valid numbers with the target's first six and last four, middle digits counted up (the red team)."""
    middle = len(target) - 10
    for n in range(10 ** (middle - 1)):
        free = f"{n:0{middle - 1}d}"
        for last_middle in "0123456789":
            guess = target[:6] + free + last_middle + target[-4:]
            if luhn_valid(guess):
                yield guess
                break


@pytest.fixture
def sibling_limited(vault: Vault, settings: VaultSettings, database: Database) -> VaultSettings:
    set_card_search(database, max_siblings=SIBLING_LIMIT)  # the configuration, as the migration writes it
    runtime.install(vault, settings)
    return settings


@pytest.mark.usefixtures("sibling_limited")
@pytest.mark.parametrize("length", [13, 16], ids=["13-digit", "16-digit"])
def test_middle_digit_search_is_refused_within_the_sibling_limit(
    length: int, captured: Captured, capfd: pytest.CaptureFixture[str], database: Database
) -> None:
    target = card_number("4", length, random.Random(RNG_SEED + length))
    token = payload(call(captured, "POST", "/v1/cards", card_body(target)))["token"]
    known = payload(call(captured, "GET", f"/v1/cards/{token}"))  # what lookup tells the attacker
    statuses = []
    found = False
    for guess in _middle_digit_guesses(known["first6"] + "0" * (length - 10) + known["last4"]):
        response = call(captured, "POST", "/v1/cards", card_body(guess))
        statuses.append(response["statusCode"])
        if response["statusCode"] == 200:
            found = True
            break
        if response["statusCode"] == 429:
            body = payload(response)
            assert body["error"] == "card search refused"
            assert int(response["multiValueHeaders"]["Retry-After"][0]) >= 1
        if len(statuses) >= 3 * SIBLING_LIMIT:
            break
    assert not found, "the search reached the stored card"
    # The pair's window holds SIBLING_LIMIT cards, the stored card's own tokenization included (migration
    # 0018 reserves every card), then every attempt was refused, the stored card's own number included:
    # the refusal says nothing about whether a number is stored.
    assert statuses[: SIBLING_LIMIT - 1] == [201] * (SIBLING_LIMIT - 1)
    assert set(statuses[SIBLING_LIMIT - 1 :]) == {429}
    assert call(captured, "POST", "/v1/cards", card_body(target))["statusCode"] == 429
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    assert row == (SIBLING_LIMIT,)
    # Disposing of the siblings does not reset the count.
    with database.admin() as conn:
        conn.execute("DELETE FROM vault.cards WHERE token <> %s", (token,))
    assert call(captured, "POST", "/v1/cards", card_body(next(_middle_digit_guesses(target))))["statusCode"] == 429
    out, _ = capfd.readouterr()
    print(out, end="")
    assert sum(_emf_metrics(out, "SiblingCards")) == SIBLING_LIMIT - 1


@pytest.mark.usefixtures("sibling_limited")
def test_batch_search_refuses_each_searched_card(captured: Captured) -> None:
    """A batch reserves its cards before storing any (red team r19b M2): a pair's cards all or none."""
    target = card_number("4", 16, random.Random(RNG_SEED))
    call(captured, "POST", "/v1/cards", card_body(target))
    guesses = [g for _, g in zip(range(2 * SIBLING_LIMIT), _middle_digit_guesses(target), strict=False)]
    first = payload(call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(g) for g in guesses]}))
    assert [r["status"] for r in first["results"]] == [429] * len(guesses)  # past the limit: none stored
    few = guesses[: SIBLING_LIMIT - 1]
    second = payload(call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(g) for g in few]}))
    assert [r["status"] for r in second["results"]] == [201] * len(few)  # exactly up to the limit
    third = payload(call(captured, "POST", "/v1/cards/batch", {"cards": [card_body(target), card_body()]}))
    assert [r["status"] for r in third["results"]] == [429, 201]
    assert "token" not in third["results"][0]


@pytest.mark.usefixtures("sibling_limited")
def test_legitimate_different_cards_are_not_refused(captured: Captured, capfd: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(RNG_SEED)
    statuses = [
        call(captured, "POST", "/v1/cards", card_body(card_number("4", 16, rng)))["statusCode"]
        for _ in range(4 * SIBLING_LIMIT)
    ]
    assert statuses == [201] * len(statuses)
    out, _ = capfd.readouterr()
    print(out, end="")
    assert sum(_emf_metrics(out, "NewCardAnswers")) == len(statuses)
    assert sum(_emf_metrics(out, "SiblingCards")) == 0


# --- F5: pgaudit object auditing of the audit trail -----------------------------------------------


def test_pgaudit_role_audits_every_change_of_the_audit_trail(database: Database) -> None:
    """Migration 0013: the role pgaudit.role names holds UPDATE/DELETE/TRUNCATE of the audit trail (so pgaudit
    logs them whoever runs them, the master user's session_replication_role path included) and of card
    deletions, cannot log in, and has no members; the extension waits for its library (embedded: not loaded)."""
    from card_vault import migrate

    with database.admin() as conn:
        privileges = {
            (table, privilege)
            for table in ("detokenize_audit", "cards", "data_keys")
            for privilege in ("UPDATE", "DELETE", "TRUNCATE")
            if conn.execute(
                "SELECT has_table_privilege('rds_pgaudit', %s, %s)", (f"vault.{table}", privilege)
            ).fetchone()
            == (True,)
        }
        role = conn.execute(
            "SELECT rolcanlogin, (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid)"
            " FROM pg_roles r WHERE rolname = 'rds_pgaudit'"
        ).fetchone()
        preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    assert {("detokenize_audit", p) for p in ("UPDATE", "DELETE", "TRUNCATE")} <= privileges
    assert {("cards", "DELETE"), ("cards", "TRUNCATE"), ("data_keys", "UPDATE")} <= privileges
    assert role == (False, 0)
    expected = "not loaded" if "pgaudit" not in str(preload) else "created"
    assert migrate.ensure_pgaudit(database.admin_url) in {expected, "present"}


# --- Detokenization: a rate limit per caller --------------------------------------------------------

DETOKENIZE_LIMIT = 3
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-detokenize"


def test_detokenize_is_rate_limited_per_caller_alias(
    vault: Vault, detokenizer: Vault, settings: VaultSettings, database: Database, captured: Captured
) -> None:
    """Each caller role invokes its own alias; its budget per minute is shared by every instance, another
    caller's is its own, and a refused call reads nothing and adds no audit row."""
    from card_vault import detokenize
    from card_vault.models import TokenizeRequest

    from tests.vault.events import FakeContext

    token = vault.tokenize(TokenizeRequest.model_validate(card_body()), client_id="payments").view.token
    runtime.install(detokenizer, settings.model_copy(update={"detokenize_per_minute": DETOKENIZE_LIMIT}))
    event = {"token": token, "reason_code": "chargeback", "ticket": "CASE-19"}

    def invoke(alias: str) -> dict[str, object]:
        answer: dict[str, object] = detokenize.handler(
            event, FakeContext(invoked_function_arn=f"{FUNCTION_ARN}:{alias}")
        )
        captured.add({k: v for k, v in answer.items() if k != "pan"})
        return answer

    first = [invoke("caller-chargebacks") for _ in range(DETOKENIZE_LIMIT + 2)]
    assert ["pan" in a for a in first] == [True] * DETOKENIZE_LIMIT + [False, False]
    refused = first[-1]
    assert refused["error"] == "rate limit exceeded"
    assert f"{DETOKENIZE_LIMIT} cards per minute" in str(refused["reason"])
    assert 1 <= int(str(refused["retry_after"])) <= 60
    assert "pan" in invoke("caller-fraud")  # another caller's budget is its own
    with database.admin() as conn:
        audited = conn.execute("SELECT count(*) FROM vault.detokenize_audit WHERE token = %s", (token,)).fetchone()
    assert audited == (DETOKENIZE_LIMIT + 1,)
    assert detokenize.caller_of(FUNCTION_ARN) == "unqualified"
    assert detokenize.caller_of(f"{FUNCTION_ARN}:7") == "version-7"


# --- F8: the API login's rights are client-scoped -----------------------------------------------------


@pytest.mark.usefixtures("installed")
def test_client_b_cannot_reach_client_a_card_by_raw_sql_with_the_api_login(
    database: Database, captured: Captured
) -> None:
    """Migration 0014: the API login holds no right on vault.cards; raw SQL cannot list, read, change or
    delete any row, and the client-scoped functions answer nothing for client B's ID and A's token."""
    from tests.vault.conftest import OTHER_ID

    a_token = payload(call(captured, "POST", "/v1/cards", card_body()))["token"]
    app = database.role_urls["card_vault_app"]
    raw = {
        "list tokens": "SELECT token FROM vault.cards",
        "read A's row": f"SELECT first6, last4 FROM vault.cards WHERE token = '{a_token}'",
        "change A's expiry": f"UPDATE vault.cards SET expiry_year = 2099 WHERE token = '{a_token}'",
        "delete A's card": f"DELETE FROM vault.cards WHERE token = '{a_token}'",
        "lower a sibling count": "UPDATE vault.sibling_counts SET siblings = 0",
    }
    outcomes = {}
    for name, statement in raw.items():
        try:
            with psycopg.connect(app, autocommit=True) as conn:
                conn.execute(statement)
            outcomes[name] = "allowed"
        except psycopg.errors.InsufficientPrivilege:
            outcomes[name] = "refused"
    assert outcomes == dict.fromkeys(raw, "refused")
    with psycopg.connect(app, autocommit=True) as conn:
        read = conn.execute("SELECT * FROM vault.get_card(%s, %s)", (OTHER_ID, a_token)).fetchall()
        changed = conn.execute(
            "SELECT * FROM vault.update_card(%s, %s, 1::smallint, 2099::smallint, NULL, NULL)", (OTHER_ID, a_token)
        ).fetchall()
        deleted = conn.execute("SELECT vault.delete_card(%s, %s)", (OTHER_ID, a_token)).fetchone()
    assert (read, changed, deleted) == ([], [], (False,))
    still = payload(call(captured, "GET", f"/v1/cards/{a_token}"))
    assert still["token"] == a_token
    assert not still["expiry"].startswith("2099")
