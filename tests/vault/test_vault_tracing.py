"""The vault's own X-Ray path (`card_vault.tracing`): documents the daemon accepts, nested under the
function's segment, AWS SDK calls recorded by operation only, and never the X-Ray SDK at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from card_vault import tracing
from card_vault.vault import Vault

from tests.vault.api_calls import call
from tests.vault.cards import card_body
from tests.vault.conftest import Captured, XRayDaemon

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"
# Every field a document may carry (X-Ray Developer Guide, "AWS X-Ray segment documents"); the
# vault sets no other, so nothing it did not choose can reach X-Ray.
DOCUMENT_FIELDS = {
    "name", "id", "trace_id", "parent_id", "type", "start_time", "end_time",
    "fault", "error", "throttle", "annotations", "namespace", "aws", "http",
}  # fmt: skip
AWS_FIELDS = {"operation", "region", "request_id"}


def _documents(daemon: XRayDaemon) -> list[dict[str, Any]]:
    datagrams = daemon.drain()
    assert all(d.startswith('{"format": "json", "version": 1}\n') for d in datagrams), datagrams[:1]
    return daemon.segments(datagrams)


def test_subsegments_nest_under_the_function_segment_and_record_the_kms_call(
    installed: Vault, tracing_on: XRayDaemon, captured: Captured
) -> None:
    trace = tracing.trace_context()
    assert trace is not None
    assert call(captured, "POST", "/v1/cards", card_body())["statusCode"] == 201
    documents = _documents(tracing_on)
    by_name = {str(d["name"]): d for d in documents}
    handler, tokenize = by_name["## handler"], by_name["## tokenize"]
    assert {d["trace_id"] for d in documents} == {trace.root}
    assert handler["parent_id"] == trace.parent  # Lambda's function segment
    assert tokenize["parent_id"] == handler["id"]
    assert tokenize["annotations"] == {"Service": "card-vault"}
    kms = [d for d in documents if d.get("namespace") == "aws" and d["name"] == "KMS"]
    assert kms, sorted(by_name)
    # The keyed hash (GenerateMac, in KMS) and then the first data key of the process (GenerateDataKey).
    assert [d["aws"]["operation"] for d in kms] == ["GenerateMac", "GenerateDataKey"]
    assert kms[0]["parent_id"] == tokenize["id"]
    assert kms[0]["http"] == {"response": {"status": 200}}
    for document in documents:
        assert set(document) <= DOCUMENT_FIELDS, document
        assert document["type"] == "subsegment"
        assert float(document["end_time"]) >= float(document["start_time"])
        assert set(document.get("aws") or {}) <= AWS_FIELDS, document


def test_nothing_is_sent_for_an_unsampled_or_untraced_invocation(
    installed: Vault, tracing_on: XRayDaemon, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = os.environ["_X_AMZN_TRACE_ID"].split(";")[0]
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"{root};Parent=53995c3f42cd8ad8;Sampled=0")
    call(captured, "POST", "/v1/cards", card_body())
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    call(captured, "POST", "/v1/cards", card_body())
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"{root};Parent=53995c3f42cd8ad8;Sampled=1")
    monkeypatch.setenv("AWS_XRAY_SDK_ENABLED", "false")
    call(captured, "POST", "/v1/cards", card_body())
    assert _documents(tracing_on) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("169.254.79.129:2000", ("169.254.79.129", 2000)),
        ("tcp:127.0.0.1:2000 udp:127.0.0.2:2001", ("127.0.0.2", 2001)),
        ("", tracing.DEFAULT_DAEMON),
        ("no-port", tracing.DEFAULT_DAEMON),
    ],
    ids=["lambda", "tcp-and-udp", "unset", "no-port"],
)
def test_daemon_address(value: str, expected: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", value)
    assert tracing.daemon_address() == expected


def test_a_daemon_that_cannot_be_reached_never_fails_the_function(
    installed: Vault, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "daemon.invalid:2000")  # the name does not resolve
    assert call(captured, "POST", "/v1/cards", card_body())["statusCode"] == 201


def test_an_annotation_key_outside_the_documented_characters_is_refused(tracing_on: XRayDaemon) -> None:
    with tracing.subsegment("## check") as opened:
        assert opened is not None
        with pytest.raises(ValueError, match="annotation key"):
            opened.annotate("bad key", "x")
    tracing_on.drain()


def test_the_handler_modules_import_neither_the_xray_sdk_nor_what_the_first_invocation_loads() -> None:
    """The cold import leaves out the X-Ray SDK entirely, and boto3 and psycopg until first use."""
    code = (
        "import json, sys; import card_vault.api, card_vault.detokenize, card_vault.purge; "
        "print(json.dumps(sorted(m for m in ('aws_xray_sdk', 'boto3', 'psycopg', 'psycopg_pool') if m in sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(LAMBDA), "POWERTOOLS_TRACE_DISABLED": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
