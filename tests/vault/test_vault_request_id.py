"""The runtime's request ID is the one value the log masker leaves whole (issue 19, task w19a; `card_vault.logs`).

About 1 in 147 random UUIDs holds a Luhn-valid digit run (measured here over a seeded sample, as the README
says), which masking would partly replace in the line's `function_request_id`. The exemption covers that key's
value only when it is the one the Lambda context gave the Logger and has a UUID's shape. The property that
matters is the other side: a card number a client controls, placed anywhere else in the line (the message,
an `extra` value, a nested one, an `extra` overriding the key, the exception text, the X-Ray trace ID, whose
Root a client can send), is still masked (hypothesis).

The lines are written to a buffer of this module's own Logger, never to the service's handlers: an exempt
request ID passes Luhn by construction, and the suite's PAN guard reads the service's output.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import random
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger
from card_vault.logs import MaskingFormatter
from card_vault.pan import find_pans
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vault.cards import card_number
from tests.vault.events import FakeContext

SEED = 147
SAMPLE = 50_000


def _uuids(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    while True:
        yield str(uuid.UUID(int=rng.getrandbits(128), version=4))


# Request IDs that pass Luhn somewhere (what the exemption is for), drawn once, reproducibly.
LUHN_IDS = [u for u, _ in zip((u for u in _uuids(SEED) if find_pans(u)), range(24), strict=False)]


def test_about_1_in_147_random_uuids_hold_a_luhn_valid_run() -> None:
    """The README's figure, measured: 50,000 seeded uuid4s."""
    hits = sum(1 for u, _ in zip(_uuids(SEED), range(SAMPLE), strict=False) if find_pans(u))
    assert round(SAMPLE / hits) == 147


class Lines:
    """A Logger of its own (not the service's), formatted by the vault's masking formatter into a buffer."""

    def __init__(self, name: str) -> None:
        self.buffer = io.StringIO()
        self.logger = Logger(
            service=name, logger_formatter=MaskingFormatter(), logger_handler=logging.StreamHandler(self.buffer)
        )
        logging.getLogger(name).propagate = False  # never into caplog or the service's handlers

    def last(self) -> str:
        return self.buffer.getvalue().splitlines()[-1]


_NAMES = itertools.count()


def _lines() -> Lines:
    # A new logger name each time: Powertools sets a named logger up only once.
    return Lines(f"rid-test-{next(_NAMES)}")


@pytest.fixture
def lines() -> Lines:
    return _lines()


def _log_in_invocation(lines: Lines, request_id: str, emit: object) -> str:
    @lines.logger.inject_lambda_context
    def handler(event: object, context: object) -> None:
        assert callable(emit)
        emit()

    handler({}, FakeContext(aws_request_id=request_id))
    return lines.last()


@pytest.mark.parametrize("request_id", LUHN_IDS[:6])
def test_the_runtime_request_id_stays_whole(lines: Lines, request_id: str) -> None:
    line = _log_in_invocation(lines, request_id, lambda: lines.logger.info("card tokenized"))
    assert json.loads(line)["function_request_id"] == request_id
    assert find_pans(line.replace(request_id, "")) == []


def test_an_extra_overriding_the_key_is_masked(lines: Lines) -> None:
    request_id, other = LUHN_IDS[0], LUHN_IDS[1]
    line = _log_in_invocation(lines, request_id, lambda: lines.logger.info("x", extra={"function_request_id": other}))
    assert other not in line
    assert find_pans(line) == []


def test_a_value_of_another_shape_is_masked(lines: Lines) -> None:
    """Only a UUID is exempt: a request ID of any other shape (not what Lambda sends) is masked as usual."""
    pan = card_number(rng=random.Random(SEED))
    line = _log_in_invocation(lines, pan, lambda: lines.logger.info("x"))
    assert pan not in line
    assert find_pans(line) == []


_SEPARATORS = st.sampled_from(["", " ", "-", ".", "  ", "\t", "_", "/"])
_PLACES = st.sampled_from(["message", "extra", "nested", "override", "exception", "trace", "beside"])


@settings(max_examples=60, deadline=None)
@given(
    request_id=st.sampled_from(LUHN_IDS),
    seed=st.integers(min_value=0, max_value=10**6),
    length=st.sampled_from([13, 15, 16, 19]),
    separator=_SEPARATORS,
    place=_PLACES,
)
def test_a_card_number_anywhere_a_client_writes_is_still_masked(
    request_id: str, seed: int, length: int, separator: str, place: str
) -> None:
    digits = card_number(length=length, rng=random.Random(seed))
    pan = separator.join(digits[i : i + 4] for i in range(0, length, 4))
    lines = _lines()
    trace = f"Root=1-{digits[:8]}-{digits[8:]:0<24};Sampled=1"  # a client's X-Amzn-Trace-Id Root, kept by the ALB

    def emit() -> None:
        if place == "message":
            lines.logger.info(f"request for {pan}")
        elif place == "extra":
            lines.logger.info("x", extra={"reason": pan})
        elif place == "nested":
            lines.logger.info("x", extra={"details": [{"field": "pan", "value": pan}]})
        elif place == "override":
            lines.logger.info("x", extra={"function_request_id": pan})
        elif place == "exception":
            try:
                raise ValueError(pan)
            except ValueError:
                lines.logger.exception("failed")
        elif place == "beside":  # digits written up to the request ID's own field, as close as JSON allows
            lines.logger.info("x", extra={"a": pan + request_id, "b": request_id + pan})
        else:
            lines.logger.info("x")

    with pytest.MonkeyPatch.context() as patch:
        if place == "trace":
            patch.setenv("_X_AMZN_TRACE_ID", trace)
        line = _log_in_invocation(lines, request_id, emit)
    field = f'"function_request_id":"{request_id}"'
    assert (field in line) == (place != "override")
    # Everything but the runtime's own field holds no card number (the client's included).
    rest = line.replace(field, '"function_request_id":""', 1)
    assert find_pans(rest) == []
    assert digits not in line
