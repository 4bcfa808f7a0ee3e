"""The certificate headers against the leaf the load balancer forwards (red team r19b; `card_vault.mtls`).

A client holding a valid certificate of its own writes a *single* subject header naming another client:
the case the repeated-header refusal cannot see (a load balancer that forwarded the client's copy instead
of its own). The leaf (`X-Amzn-Mtls-Clientcert-Leaf`, URL-encoded PEM, "Mutual authentication with TLS in
Application Load Balancer", ELB User Guide) is the certificate of the handshake, so the subject, issuer and
serial number must describe it. Through the handler in-process, against the embedded PostgreSQL.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from card_vault import mtls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vault.api_calls import payload
from tests.vault.cards import card_body
from tests.vault.conftest import CLIENT_ISSUER, CLIENT_SUBJECT, OTHER_SUBJECT, Captured, Database
from tests.vault.events import LEAF_SERIAL, FakeContext, alb_event, client_leaf

SUBJECT, ISSUER, SERIAL, LEAF = (
    mtls.SUBJECT_HEADER,
    mtls.ISSUER_HEADER,
    mtls.SERIAL_HEADER,
    mtls.LEAF_HEADER,
)
OWN_LEAF = client_leaf(CLIENT_SUBJECT, CLIENT_ISSUER)
OTHER_LEAF = client_leaf(OTHER_SUBJECT, CLIENT_ISSUER)
EVIL_ISSUER = "CN=Evil Corp Client CA,O=Evil Corp,C=GB"
assert OWN_LEAF is not None
assert OTHER_LEAF is not None


def _cards(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    assert row is not None
    return int(row[0])


def _event(method: str, path: str, body: object | None, changes: dict[str, str | None]) -> dict[str, Any]:
    """Client A's request with its own certificate headers, `changes` replacing (or, None, dropping) some."""
    event = alb_event(method, path, body, subject=CLIENT_SUBJECT, issuer=CLIENT_ISSUER)
    for name, value in changes.items():
        if value is None:
            event["multiValueHeaders"].pop(name, None)
        else:
            event["multiValueHeaders"][name] = [value]
    return event


def _handle(captured: Captured, event: dict[str, Any]) -> dict[str, Any]:
    from card_vault import api

    response: dict[str, Any] = api.handler(event, FakeContext())
    captured.add(response)
    return response


REFUSALS: dict[str, tuple[dict[str, str | None], str]] = {
    "forged-subject": ({SUBJECT: OTHER_SUBJECT}, "client certificate subject does not match its leaf"),
    "forged-issuer": ({ISSUER: EVIL_ISSUER}, "client certificate issuer does not match its leaf"),
    "forged-serial": ({SERIAL: f"{LEAF_SERIAL + 1:X}"}, "client certificate serial number does not match its leaf"),
    "no-serial": ({SERIAL: None}, "client certificate serial number does not match its leaf"),
    "other-leaf": ({LEAF: OTHER_LEAF}, "client certificate subject does not match its leaf"),
    "no-leaf": ({LEAF: None}, "client certificate leaf missing"),
    "garbage-leaf": ({LEAF: "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A"}, "unparseable"),
    "bad-escape": ({LEAF: "%ff%fe" + (OWN_LEAF or "")}, "client certificate leaf unparseable"),
}


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_headers_that_do_not_describe_the_leaf_are_refused_and_store_nothing(
    case: str, captured: Captured, database: Database, log_lines: io.StringIO
) -> None:
    changes, reason = REFUSALS[case]
    response = _handle(captured, _event("POST", "/v1/cards", card_body(), changes))
    assert response["statusCode"] == 403
    body = payload(response)
    assert body["error"] == "forbidden"
    assert reason in body["reason"]
    assert _cards(database) == 0
    logged = log_lines.getvalue()
    for value in changes.values():
        if value:
            assert value not in logged
            assert value not in response["body"]
    line = next(json.loads(x) for x in logged.splitlines() if "client certificate headers" in x)
    assert line["reason"] == body["reason"]
    assert str(line["subject_ref"]).startswith("sha256:")


@pytest.mark.usefixtures("installed")
def test_a_matching_leaf_is_served_whatever_the_serials_spelling(captured: Captured) -> None:
    """The serial number is a number: case, leading zeros and `:` separators are spellings of it."""
    created = _handle(captured, _event("POST", "/v1/cards", card_body(), {}))
    assert created["statusCode"] == 201
    token = payload(created)["token"]
    hex_serial = f"{LEAF_SERIAL:x}"
    for spelling in (hex_serial, "00" + hex_serial.upper(), ":".join(hex_serial[i : i + 2] for i in range(0, 8, 2))):
        assert _handle(captured, _event("GET", f"/v1/cards/{token}", None, {SERIAL: spelling}))["statusCode"] == 200


def test_headers_mode_checks_a_leaf_only_when_one_is_sent() -> None:
    own = {SUBJECT: CLIENT_SUBJECT, ISSUER: CLIENT_ISSUER}
    assert mtls.check(own, mode="headers") is None
    assert mtls.check(own, mode="verify") == "client certificate leaf missing"
    forged = {**own, LEAF: OTHER_LEAF or "", SERIAL: f"{LEAF_SERIAL:X}"}
    assert mtls.check(forged, mode="headers") == "client certificate subject does not match its leaf"


# Each header kept (None) or replaced by a value that differs from what the leaf says: another client's,
# a made-up one, or (None inside) dropped.
_FORGED_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz=,", min_size=4, max_size=24).map(lambda t: "zzforged" + t)
MUTATIONS = {
    SUBJECT: st.sampled_from([OTHER_SUBJECT, CLIENT_SUBJECT + ",CN=extra", ""]) | _FORGED_TEXT,
    ISSUER: st.sampled_from([EVIL_ISSUER, "CN=Example Corp Client CA", ""]) | _FORGED_TEXT,
    SERIAL: st.sampled_from([f"{LEAF_SERIAL + 1:X}", f"{LEAF_SERIAL - 1:x}", "0", ""]) | _FORGED_TEXT,
    LEAF: st.sampled_from(
        [OTHER_LEAF, client_leaf(CLIENT_SUBJECT, CLIENT_ISSUER, LEAF_SERIAL + 7), (OWN_LEAF or "")[:300], ""]
    )
    | _FORGED_TEXT,
}


@pytest.mark.usefixtures("installed")
def test_never_2xx_unless_every_certificate_header_matches_the_leaf(
    captured: Captured, database: Database, log_lines: io.StringIO
) -> None:
    token = payload(_handle(captured, _event("POST", "/v1/cards", card_body(), {})))["token"]

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        changes=st.fixed_dictionaries({}, optional={name: st.none() | mutation for name, mutation in MUTATIONS.items()})
    )
    def lookup(changes: dict[str, str | None]) -> None:
        start = len(log_lines.getvalue())
        replaced = {n: (None if v == "" else v) for n, v in changes.items()}
        response = _handle(captured, _event("GET", f"/v1/cards/{token}", None, replaced))
        if not changes:
            assert response["statusCode"] == 200
            return
        assert not 200 <= int(response["statusCode"]) < 300
        logged = log_lines.getvalue()[start:]
        for value in replaced.values():
            if value and len(value) >= 6:  # a digit or two is in every log line anyway
                assert value not in logged
                assert value not in response["body"]

    lookup()
    assert _cards(database) == 1
