"""Red team r19c M3 (issue 19, task w19d): a card number split by a tab, line feed, carriage return or any
other character JSON escapes is masked (`card_vault.logs.MaskingFormatter.serialize`).

The attack (the red team's logline.py): `json.dumps` writes U+0009 as the two characters `\\t` (and U+000A,
U+000D, U+0008, U+000C as `\\n`, `\\r`, `\\b`, `\\f`; every other control character as `\\u00XX`), and a
masker that reads only the serialised line sees `4111\\t1111...`, where `t` separates nothing. The property
(hypothesis): whatever separator class splits the number, in whatever part of the record (message, `extra`
value, nested value, key, exception text), neither the line as written nor the line decoded (`json.loads`,
what CloudWatch Logs Insights shows) holds a card number.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import random
from typing import Any

from aws_lambda_powertools import Logger
from card_vault.logs import MaskingFormatter
from card_vault.pan import find_pans
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vault.cards import card_number

# Every class of separator: the characters JSON writes as a two-character escape, the control characters it
# writes as \u00XX, Unicode spaces and dashes written as themselves, and ASCII punctuation.
JSON_SHORT_ESCAPES = ["\t", "\n", "\r", "\b", "\f"]
JSON_UNICODE_ESCAPES = ["\x0b", "\x1c", "\x1d", "\x1e", "\x1f"]
UNICODE_SEPARATORS = ["\u00a0", "\u2003", "\u200b", "\u3000", "\u2013", "\u2212", "\ufeff"]
ASCII_SEPARATORS = [" ", "-", ".", "/", "\\", '"', "_"]
# The escapes written out as text (a client's value quoting JSON, or a line quoted in another).
WRITTEN_ESCAPES = ["\\t", "\\n", "\\r", "\\u0009", "\\u000a", "\\u00a0", "\\x0b"]
SEPARATORS = WRITTEN_ESCAPES + JSON_SHORT_ESCAPES + JSON_UNICODE_ESCAPES + UNICODE_SEPARATORS + ASCII_SEPARATORS

_NAMES = itertools.count()


def _logger() -> tuple[Logger, io.StringIO]:
    buffer = io.StringIO()
    name = f"w19d-logs-{next(_NAMES)}"
    logger = Logger(service=name, logger_formatter=MaskingFormatter(), logger_handler=logging.StreamHandler(buffer))
    logging.getLogger(name).propagate = False  # never into caplog or the service's handlers
    return logger, buffer


def _split(pan: str, separators: list[str]) -> str:
    groups = [pan[i : i + 4] for i in range(0, len(pan), 4)]
    out = groups[0]
    for i, group in enumerate(groups[1:]):
        out += separators[i % len(separators)] + group
    return out


def _assert_clean(line: str) -> None:
    assert not find_pans(line), line
    decoded = json.loads(line)
    assert not find_pans(json.dumps(decoded, ensure_ascii=False)), line

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in [k, *strings(v)]]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    for text in strings(decoded):
        assert not find_pans(text), text


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    length=st.sampled_from([13, 15, 16, 19]),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4),
    where=st.sampled_from(["message", "extra", "nested", "key", "exception"]),
)
def test_a_card_number_split_by_any_separator_class_is_masked(
    seed: int, length: int, separators: list[str], where: str
) -> None:
    pan = card_number(length=length, rng=random.Random(seed))
    value = _split(pan, separators)
    assert find_pans(value), "the split number is a card number to the masker's own finder"
    logger, buffer = _logger()
    if where == "message":
        logger.info(f"card {value} seen")
    elif where == "extra":
        logger.info("x", extra={"v": value})
    elif where == "nested":
        logger.info("x", extra={"v": {"list": [1, {"deep": value}]}})
    elif where == "key":
        logger.info("x", extra={"v": {value: 1}})
    else:
        try:
            raise ValueError(value)
        except ValueError:
            logger.exception("failed")
    _assert_clean(buffer.getvalue().splitlines()[-1])


def test_the_red_teams_logline_cases_are_masked() -> None:
    """logline.py's cases, each separator by itself, in the message and in an `extra` value."""
    pan = "4111111111111111"
    cases = {
        "tab": _split(pan, ["\t"]),
        "newline": _split(pan, ["\n"]),
        "cr": _split(pan, ["\r"]),
        "u0009 as typed": _split(pan, ["\u0009"]),
        "nbsp": _split(pan, ["\u00a0"]),
        "quote": _split(pan, ['"']),
        "backslash": _split(pan, ["\\"]),
        "fullwidth": pan.translate(str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))),
        "arabic": pan.translate(str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))),
    }
    logger, buffer = _logger()
    for name, value in cases.items():
        logger.info("x", extra={"v": value, "case": name})
        logger.info(f"msg {value}")
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 * len(cases)
    for line in lines:
        _assert_clean(line)


def test_an_object_logged_through_json_default_is_masked() -> None:
    """A non-JSON value becomes a string through `json_default` (str) and is masked before serialisation."""

    class Carrier:
        def __str__(self) -> str:
            return "pan\t4111\t1111\t1111\t1111"

    logger, buffer = _logger()
    logger.info("x", extra={"v": Carrier()})
    _assert_clean(buffer.getvalue().splitlines()[-1])
