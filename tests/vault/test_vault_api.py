"""The ALB handler end to end: authentication, validation, refusal of SAD, masking, headers."""

from __future__ import annotations

import io
import json

import pytest
from card_vault.vault import Vault

from tests.vault.api_calls import call, payload
from tests.vault.cards import card_body, card_number
from tests.vault.conftest import CLIENT_ID, CLIENT_SUBJECT, Captured, Database

pytestmark = pytest.mark.usefixtures("installed")


def rows(database: Database) -> int:
    with database.admin() as conn:
        row = conn.execute("SELECT count(*) FROM vault.cards").fetchone()
    assert row is not None
    return int(row[0])


def test_tokenize_then_masked_lookup(captured: Captured) -> None:
    pan = card_number("4", 16)
    created = call(captured, "POST", "/v1/cards", card_body(pan))
    assert created["statusCode"] == 201
    body = payload(created)
    assert set(body) == {"token", "brand", "first6", "last4", "expiry"}
    assert (body["first6"], body["last4"]) == (pan[:6], pan[-4:])
    looked_up = call(captured, "GET", f"/v1/cards/{body['token']}")
    assert looked_up["statusCode"] == 200
    assert payload(looked_up) == body


def test_same_card_twice_same_token(captured: Captured) -> None:
    pan = card_number()
    first = call(captured, "POST", "/v1/cards", card_body(pan))
    second = call(captured, "POST", "/v1/cards", card_body(pan))
    assert (first["statusCode"], second["statusCode"]) == (201, 200)
    assert payload(first)["token"] == payload(second)["token"]


def test_delete_disposes_of_the_card(captured: Captured, database: Database) -> None:
    token = payload(call(captured, "POST", "/v1/cards", card_body()))["token"]
    assert call(captured, "DELETE", f"/v1/cards/{token}")["statusCode"] == 204
    assert rows(database) == 0
    assert call(captured, "GET", f"/v1/cards/{token}")["statusCode"] == 404
    assert call(captured, "DELETE", f"/v1/cards/{token}")["statusCode"] == 404


@pytest.mark.parametrize("field", ["cvv", "CVC2", "cvv2", "pin", "pin_block", "track2", "track_data", "Track1"])
def test_sensitive_authentication_data_refused_and_not_stored(
    captured: Captured, database: Database, log_lines: io.StringIO, field: str
) -> None:
    response = call(captured, "POST", "/v1/cards", card_body(**{field: "123"}))
    assert response["statusCode"] == 422
    assert "sensitive authentication data" in payload(response)["error"]
    assert rows(database) == 0
    logged = log_lines.getvalue()
    assert "sad_refused" in logged
    assert '"123"' not in logged


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pan": "4111111111111112"}, "pan"),  # bad Luhn digit
        ({"pan": "9" * 15 + "5"}, "pan"),  # Luhn-valid, no brand
        ({"pan": "4111 1111 1111 1111"}, "pan"),
        ({"pan": 4111111111111111}, "pan"),
        ({"expiry_month": 13}, "expiry_month"),
        ({"expiry_year": 2020}, "body"),
        ({"cardholder_name": "<b>Ada</b>"}, "cardholder_name"),
        ({"cardholder_name": "A" * 27}, "cardholder_name"),
        ({"cardholder_name": "Ada 1"}, "cardholder_name"),
        ({"nickname": "x"}, "body"),  # an unknown field is never named back
    ],
)
def test_invalid_input_gets_422_with_reason(
    captured: Captured, database: Database, overrides: dict[str, object], field: str
) -> None:
    response = call(captured, "POST", "/v1/cards", {**card_body(), **overrides})
    assert response["statusCode"] == 422
    details = payload(response)["details"]
    assert any(d["field"] == field and d["reason"] for d in details), details
    assert rows(database) == 0


def test_expired_card_refused(captured: Captured, database: Database) -> None:
    response = call(captured, "POST", "/v1/cards", card_body(expiry_month=1, expiry_year=2025))
    assert response["statusCode"] == 422
    assert payload(response)["details"] == [{"field": "body", "reason": "card has expired"}]
    assert rows(database) == 0


def test_malformed_requests(captured: Captured) -> None:
    assert call(captured, "POST", "/v1/cards", raw_body="{not json")["statusCode"] == 400
    assert call(captured, "POST", "/v1/cards", raw_body="[1, 2]")["statusCode"] == 422
    big = json.dumps(card_body(cardholder_name="A" * 5000))
    assert call(captured, "POST", "/v1/cards", raw_body=big)["statusCode"] == 413
    wrong_type = call(captured, "POST", "/v1/cards", raw_body="{}", headers={"content-type": "text/plain"})
    assert wrong_type["statusCode"] == 415
    assert call(captured, "GET", "/v1/cards/not-a-token")["statusCode"] == 404
    assert call(captured, "GET", "/v2/anything")["statusCode"] == 404


def test_missing_client_certificate_is_401_without_detail(captured: Captured, database: Database) -> None:
    response = call(captured, "POST", "/v1/cards", card_body(), subject=None)
    assert response["statusCode"] == 401
    assert payload(response) == {"error": "unauthorized"}
    assert rows(database) == 0


def test_unlisted_client_is_403_without_detail(captured: Captured, database: Database) -> None:
    response = call(captured, "POST", "/v1/cards", card_body(), subject="CN=intruder,O=Elsewhere")
    assert response["statusCode"] == 403
    assert payload(response) == {"error": "forbidden"}
    assert rows(database) == 0


@pytest.mark.parametrize(("method", "subject"), [("POST", CLIENT_SUBJECT), ("GET", CLIENT_SUBJECT), ("GET", None)])
def test_security_headers_on_every_response(captured: Captured, method: str, subject: str | None) -> None:
    response = call(captured, method, "/v1/cards" if method == "POST" else "/v1/cards/x", card_body(), subject=subject)
    assert "headers" not in response  # the multi-value shape only
    headers = {name: values[0] for name, values in response["multiValueHeaders"].items()}
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"


def test_internal_error_has_no_detail_and_log_masks_the_number(
    captured: Captured, installed: Vault, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    pan = card_number()

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError(f"database said something about {pan}")

    monkeypatch.setattr(installed, "tokenize", boom)
    monkeypatch.setattr(installed, "tokenize_reserved", boom)  # the API's one-round-trip path (migration 0042)
    response = call(captured, "POST", "/v1/cards", card_body(pan))
    assert response["statusCode"] == 500
    assert payload(response) == {"error": "internal error"}
    logged = log_lines.getvalue()
    assert "RuntimeError" in logged
    assert "[PAN masked: 16 digits]" in logged


def test_audit_log_names_client_and_event(captured: Captured, log_lines: io.StringIO) -> None:
    call(captured, "POST", "/v1/cards", card_body())
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    events = [line for line in lines if line.get("event") == "tokenize"]
    assert events
    assert events[0]["client"] == CLIENT_ID  # the client ID its certificate maps to
    assert events[0]["correlation_id"].startswith("Root=1-")
