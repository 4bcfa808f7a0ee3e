"""The red team's remaining r19 findings, each attacked the way the red team did (handlers in-process,
the embedded PostgreSQL, moto's KMS), asserting the fixed property.

F7: the one normalizer (`card_vault.pan`, also the suite's leak guard) reads comma-, colon-,
semicolon- and 4+-space-separated groups and superscript/circled digits; an unknown certificate
subject is logged only as a fingerprint.
"""

from __future__ import annotations

import io
import random
import unicodedata

import pytest
from card_vault import pan as pan_module
from card_vault.pan import ascii_digits, find_pans, mask_pans
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.vault.api_calls import call
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import Captured

HYPOTHESIS_SEED = 19_1907
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
