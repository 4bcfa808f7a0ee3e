"""ALB-facing Lambda: POST /v1/cards, GET /v1/cards/{token}, DELETE /v1/cards/{token}.

- Authentication (PCI DSS v4.0.1 8.3): the ALB verifies the client certificate (mutual TLS,
  verify mode) and passes its subject in `X-Amzn-Mtls-Clientcert-Subject`; the subject must be
  in the allow-list. Missing -> 401, not allowed -> 403, both with no detail.
- Input (6.2.4): JSON only, at most `MAX_BODY_BYTES`, unknown fields and sensitive
  authentication data refused with 422 (3.3.1), every rule in `card_vault.models`.
- Output (3.4.1): only the masked view; every response carries `SECURITY_HEADERS` and passes
  through `mask_pans` as a last line of defence.
- Events (10.2.1): tokenization, lookup, disposal, refusals and authentication failures are
  logged with the client subject and the ALB trace ID as correlation ID.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.event_handler import ALBResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from card_vault import runtime
from card_vault.logs import vault_logger
from card_vault.models import (
    TOKEN_PATTERN,
    SensitiveAuthenticationDataError,
    TokenizeRequest,
    error_details,
    refuse_sad_fields,
)
from card_vault.pan import mask_pans
from card_vault.vault import CardNotFoundError

CLIENT_SUBJECT_HEADER = "x-amzn-mtls-clientcert-subject"
MAX_BODY_BYTES = 4096
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_TOKEN = re.compile(TOKEN_PATTERN)

logger = vault_logger()
tracer = Tracer(service="card-vault")


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _error(status: int, error: str, details: list[dict[str, str]] | None = None) -> Response[str]:
    body: dict[str, Any] = {"error": error}
    if details:
        body["details"] = details
    return _json(status, body)


def create_app() -> ALBResolver:
    """A resolver with the vault's routes.

    Not thread-safe: Powertools keeps the current event in class state (`BaseRouter.current_event`),
    so one event at a time per process, as Lambda delivers them.
    """
    app = ALBResolver()

    def _client_subject() -> str | None:
        return app.current_event.headers.get(CLIENT_SUBJECT_HEADER)

    def _authorize(resolver: ALBResolver, next_middleware: Any) -> Response[str]:
        """401 without a verified client certificate, 403 when its subject is not allow-listed."""
        subject = resolver.current_event.headers.get(CLIENT_SUBJECT_HEADER)
        _, settings = runtime.current()
        if not subject:
            logger.warning("request refused: no verified client certificate", extra={"event": "auth_failure"})
            return _error(401, "unauthorized")
        if subject not in settings.allowed_client_subjects:
            logger.warning("request refused: client not allowed", extra={"event": "auth_failure", "client": subject})
            return _error(403, "forbidden")
        response: Response[str] = next_middleware(resolver)
        return response

    app.use(middlewares=[_authorize])

    def _json_body() -> dict[str, Any] | Response[str]:
        event = app.current_event
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(415, "unsupported media type: send application/json")
        raw = event.decoded_body or ""
        if len(raw.encode()) > MAX_BODY_BYTES:
            return _error(413, "request body too large")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "body is not valid JSON")
        if not isinstance(body, dict):
            return _error(422, "validation failed", [{"field": "body", "reason": "must be a JSON object"}])
        return body

    @app.post("/v1/cards")
    @tracer.capture_method
    def tokenize() -> Response[str]:
        body = _json_body()
        if isinstance(body, Response):
            return body
        client = _client_subject()
        try:
            refuse_sad_fields(body)
        except SensitiveAuthenticationDataError as err:
            logger.warning(
                "tokenize refused: sensitive authentication data", extra={"event": "sad_refused", "client": client}
            )
            return _error(422, str(err))
        try:
            request = TokenizeRequest.model_validate(body)
        except ValidationError as err:
            details = error_details(err)
            logger.info(
                "tokenize refused: validation",
                extra={"event": "validation_failed", "client": client, "details": details},
            )
            return _error(422, "validation failed", details)
        vault, _ = runtime.current()
        result = vault.tokenize(request)
        logger.info(
            "card tokenized" if result.created else "card already tokenized",
            extra={"event": "tokenize", "client": client, "token": result.view.token, "brand": result.view.brand},
        )
        return _json(201 if result.created else 200, result.view.model_dump())

    @app.get("/v1/cards/<token>")
    @tracer.capture_method
    def lookup(token: str) -> Response[str]:
        client = _client_subject()
        if not _TOKEN.match(token):
            return _error(404, "not found")
        vault, _ = runtime.current()
        try:
            view = vault.lookup(token)
        except CardNotFoundError:
            logger.info("lookup: no such card", extra={"event": "lookup_missing", "client": client, "token": token})
            return _error(404, "not found")
        logger.info("card looked up", extra={"event": "lookup", "client": client, "token": token})
        return _json(200, view.model_dump())

    @app.delete("/v1/cards/<token>")
    @tracer.capture_method
    def dispose(token: str) -> Response[str]:
        client = _client_subject()
        if not _TOKEN.match(token):
            return _error(404, "not found")
        vault, _ = runtime.current()
        try:
            vault.dispose(token)
        except CardNotFoundError:
            logger.info("dispose: no such card", extra={"event": "dispose_missing", "client": client, "token": token})
            return _error(404, "not found")
        logger.info("card disposed of", extra={"event": "dispose", "client": client, "token": token})
        return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return _error(404, "not found")

    @app.exception_handler(Exception)
    def internal_error(err: Exception) -> Response[str]:
        logger.exception("request failed", extra={"event": "error", "error_type": type(err).__name__})
        return _error(500, "internal error")

    return app


def finish(response: dict[str, Any]) -> dict[str, Any]:
    """Security headers on every response; any card number in a body masked (last line of defence)."""
    headers = {**(response.get("headers") or {}), **SECURITY_HEADERS}
    response["headers"] = headers
    if isinstance(response.get("body"), str):
        response["body"] = mask_pans(response["body"])
    return response


app = create_app()


def handle(resolver: ALBResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one ALB event; never raises, never answers without the security headers."""
    try:
        return finish(resolver.resolve(event, context))
    except Exception as err:  # a failure outside the resolver (settings, middleware): no detail out
        logger.exception("request failed", extra={"event": "error", "error_type": type(err).__name__})
        return finish(
            {
                "statusCode": 500,
                "statusDescription": "500 Internal Server Error",
                "isBase64Encoded": False,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": "internal error"}),
            }
        )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.APPLICATION_LOAD_BALANCER)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
