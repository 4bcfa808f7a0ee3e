"""Forged mutual-TLS headers: a client with its own valid certificate adds `X-Amzn-Mtls-Clientcert-*`
headers naming another client (the ELB User Guide does not say the load balancer removes client-sent
copies). The target group sends multi-value headers; a repeated name is refused with 403, nothing
stored, a log line and a metric with no header value in them. Through the handler, against the
embedded PostgreSQL, with the PAN guard (`leak_guard`) on.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from card_vault import api, runtime
from card_vault.settings import VaultSettings
from card_vault.vault import Vault

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_SUBJECT, OTHER_SUBJECT, Captured, Database
from tests.vault.events import FakeContext, alb_event

ISSUER = "CN=Example Corp Client CA,O=Example Corp,C=GB"


def cards(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    assert row is not None
    return int(row[0])


def forged_lines(log_lines: io.StringIO) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "request refused: client certificate headers"]


# The other client's subject before or after the caller's own (which copy is the load balancer's is not
# documented), under the load balancer's lower-case name or another spelling (names are case-insensitive).
LEAF = "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A"
CASES = {
    "subject-after": ("x-amzn-mtls-clientcert-subject", {"x-amzn-mtls-clientcert-subject": [OTHER_SUBJECT]}, False),
    "subject-before": ("x-amzn-mtls-clientcert-subject", {"x-amzn-mtls-clientcert-subject": [OTHER_SUBJECT]}, True),
    "subject-mixed-case": (
        "x-amzn-mtls-clientcert-subject",
        {"X-Amzn-Mtls-Clientcert-Subject": [OTHER_SUBJECT]},
        False,
    ),
    "issuer": ("x-amzn-mtls-clientcert-issuer", {"x-amzn-mtls-clientcert-issuer": [ISSUER]}, False),
    "leaf": ("x-amzn-mtls-clientcert-leaf", {"x-amzn-mtls-clientcert-leaf": [LEAF, LEAF]}, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_repeated_certificate_header_is_refused_and_stores_nothing(
    installed: Vault,
    database: Database,
    captured: Captured,
    log_lines: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    case: str,
) -> None:
    name, repeated, forged_first = CASES[case]
    event = alb_event("POST", "/v1/cards", card_body(), subject=CLIENT_SUBJECT, repeated=repeated)
    if forged_first:
        event["multiValueHeaders"][name].reverse()
    response = api.handler(event, FakeContext())
    captured.add(response)
    assert response["statusCode"] == 403
    assert payload(response) == {"error": "forbidden", "reason": "client certificate header repeated"}
    assert "headers" not in response
    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert cards(database) == 0
    [line] = forged_lines(log_lines)
    assert line["reason"] == "repeated"
    assert line["headers"] == [name]
    text = json.dumps(line)
    assert OTHER_SUBJECT not in text
    assert CLIENT_SUBJECT not in text
    assert "BEGIN" not in text
    refs = line["value_refs"]
    assert isinstance(refs, list)
    assert len(refs) >= 2
    assert all(str(ref).startswith("sha256:") for ref in refs)
    out, err = capfd.readouterr()
    metrics = [json.loads(x) for x in out.splitlines() if '"ForgedMtlsHeaders"' in x]
    assert [m["ForgedMtlsHeaders"] for m in metrics] in ([1.0], [[1.0]], [1], [[1]])
    assert OTHER_SUBJECT not in out
    # Back to the output the PAN guard (`leak_guard`) reads when the test ends.
    sys.stdout.write(out)
    sys.stderr.write(err)


def test_a_card_number_in_a_forged_header_reaches_no_sink(
    installed: Vault, database: Database, captured: Captured, log_lines: io.StringIO
) -> None:
    """Name and value are the client's: a card number in either is neither logged nor echoed (the PAN guard
    fails the test otherwise)."""
    pan = card_number("4", 16)
    event = alb_event(
        "GET",
        "/v1/cards/x",
        subject=CLIENT_SUBJECT,
        repeated={"x-amzn-mtls-clientcert-subject": [pan], f"x-amzn-mtls-clientcert-{pan}": [pan, pan]},
    )
    response = api.handler(event, FakeContext())
    captured.add(response)
    assert response["statusCode"] == 403
    [line] = forged_lines(log_lines)
    assert "x-amzn-mtls-clientcert-subject" in line["headers"]  # type: ignore[operator]
    assert pan not in log_lines.getvalue()


def test_single_value_event_with_certificate_headers_is_refused(installed: Vault, captured: Captured) -> None:
    """Target group attribute off: repeats are invisible, so no certificate header is trusted."""
    event = alb_event("GET", "/v1/cards/x", subject=CLIENT_SUBJECT)
    single = {name: values[-1] for name, values in event.pop("multiValueHeaders").items()}
    response = api.handler({**event, "headers": single}, FakeContext())
    captured.add(response)
    assert response["statusCode"] == 403
    assert payload(response)["reason"] == "client certificate headers not in multi-value form"


def test_normal_requests_still_work_in_the_multi_value_shape(
    installed: Vault, database: Database, captured: Captured
) -> None:
    created = call(captured, "POST", "/v1/cards", card_body())
    assert created["statusCode"] == 201
    assert created["multiValueHeaders"]["Content-Type"] == ["application/json"]
    token = payload(created)["token"]
    looked_up = call(captured, "GET", f"/v1/cards/{token}")
    assert looked_up["statusCode"] == 200
    assert "headers" not in looked_up
    assert cards(database) == 1
    # Other headers repeated are not refused (last value, as the load balancer would pass without the attribute).
    again = call(captured, "GET", f"/v1/cards/{token}", repeated={"accept": ["*/*", "application/json"]})
    assert again["statusCode"] == 200
    health = call(captured, "GET", "/v1/health", subject=None)
    assert health["statusCode"] == 200


def test_local_server_keeps_every_value_of_a_repeated_header(
    vault: Vault, settings: VaultSettings, captured: Captured
) -> None:
    """`make vault-local` builds the event as the load balancer does with the attribute on (and runs in
    `headers` mode: curl sends no leaf; benchmarks/vault_env.py)."""
    from benchmarks.vault_local import alb_event as local_event

    runtime.install(vault, settings.model_copy(update={"mtls_mode": "headers"}))

    sent = [
        ("X-Amzn-Mtls-Clientcert-Subject", CLIENT_SUBJECT),
        ("X-Amzn-Mtls-Clientcert-Issuer", ISSUER),
        ("X-Amzn-Mtls-Clientcert-Subject", OTHER_SUBJECT),
    ]
    event = local_event("GET", "/v1/cards/x", sent, "")
    assert event["multiValueHeaders"]["x-amzn-mtls-clientcert-subject"] == [CLIENT_SUBJECT, OTHER_SUBJECT]
    response = api.handler(event, FakeContext())
    captured.add(response)
    assert response["statusCode"] == 403
    alone = api.handler(local_event("GET", "/v1/cards/x", sent[:2], ""), FakeContext())
    captured.add(alone)
    assert alone["statusCode"] == 404
