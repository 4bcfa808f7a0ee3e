"""Calling the ALB handler in-process as the load balancer would, recording every response for the PAN guard."""

from __future__ import annotations

import json
from typing import Any

from card_vault import api

from tests.vault.conftest import CLIENT_SUBJECT, Captured
from tests.vault.events import FakeContext, alb_event


def call(captured: Captured, method: str, path: str, body: object | None = None, **kwargs: Any) -> dict[str, Any]:
    """The handler's response to one ALB event (subject `CLIENT_SUBJECT` unless given), recorded in `captured`."""
    kwargs.setdefault("subject", CLIENT_SUBJECT)
    response: dict[str, Any] = api.handler(alb_event(method, path, body, **kwargs), FakeContext())
    captured.add(response)
    return response


def payload(response: dict[str, Any]) -> dict[str, Any]:
    """The response body as JSON (`{}` for an empty body)."""
    return json.loads(response["body"]) if response["body"] else {}
