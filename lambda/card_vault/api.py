"""ALB-facing Lambda: POST /v1/cards, GET /v1/cards/{token}, DELETE /v1/cards/{token}.

- Authentication (PCI DSS v4.0.1 8.3): the ALB verifies the client certificate (mutual TLS,
  verify mode) and passes its subject and issuer in `X-Amzn-Mtls-Clientcert-Subject` / `-Issuer`;
  the pair must name a configured client. Missing -> 401, unknown -> 403, both with no detail.
- Authorization (7.2): each client has its own token domain (its ID) and rights (`tokenize`,
  `lookup`, `dispose`, granted separately); a token of another client's domain is not found.
- Input (6.2.4): JSON only, at most `MAX_BODY_BYTES`, unknown fields and sensitive
  authentication data refused with 422 (3.3.1), every rule in `card_vault.models`.
- Output (3.4.1): only the masked view; every response carries `SECURITY_HEADERS` and passes
  through `mask_pans` as a last line of defence.
- Events (10.2.1): tokenization, lookup, disposal, refusals and authentication failures are
  logged with the client subject and the ALB trace ID (its `Root=` part only) as correlation
  ID; a token that finds no card is logged as a fingerprint (`token_ref`), never as sent.
- Telemetry: traces record timing and outcome only, never a response or an exception's text
  (`card_vault.tracing.traced`).
- Hostile JSON (`card_vault.jsonbody`): deep nesting and repeated keys get 400, never a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import ALBResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from card_vault import runtime
from card_vault.jsonbody import BodyError, parse_object
from card_vault.logs import vault_logger
from card_vault.models import (
    TOKEN_PATTERN,
    SensitiveAuthenticationDataError,
    TokenizeRequest,
    error_details,
    refuse_sad_fields,
)
from card_vault.pan import mask_pans
from card_vault.settings import ClientSettings, Right
from card_vault.tracing import traced
from card_vault.vault import CardNotFoundError

CLIENT_SUBJECT_HEADER = "x-amzn-mtls-clientcert-subject"
CLIENT_ISSUER_HEADER = "x-amzn-mtls-clientcert-issuer"
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
# The load balancer's own trace ID; whatever else a client put in X-Amzn-Trace-Id is ignored.
_TRACE_ROOT = re.compile(r"(?:^|;)Root=(1-[0-9a-f]{8}-[0-9a-f]{24})(?:;|$)")

logger = vault_logger()


def token_ref(token: str) -> str:
    """A fingerprint of a client-supplied token for the log: correlates repeats, reveals nothing."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def trace_root(header: str | None) -> str | None:
    """`Root=1-...` from the ALB's X-Amzn-Trace-Id header (nothing else a client put there), or None."""
    match = _TRACE_ROOT.search(header or "")
    return f"Root={match.group(1)}" if match else None


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body, ensure_ascii=False)
    )


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

    def _caller(resolver: ALBResolver) -> ClientSettings | None:
        headers = resolver.current_event.headers
        _, settings = runtime.current()
        return settings.client(headers.get(CLIENT_SUBJECT_HEADER) or "", headers.get(CLIENT_ISSUER_HEADER) or "")

    def _authorize(resolver: ALBResolver, next_middleware: Any) -> Response[str]:
        """401 without a verified client certificate, 403 when its subject and issuer name no client."""
        headers = resolver.current_event.headers
        subject = headers.get(CLIENT_SUBJECT_HEADER)
        if not subject or not headers.get(CLIENT_ISSUER_HEADER):
            logger.warning("request refused: no verified client certificate", extra={"event": "auth_failure"})
            return _error(401, "unauthorized")
        if _caller(resolver) is None:
            logger.warning("request refused: client not allowed", extra={"event": "auth_failure", "client": subject})
            return _error(403, "forbidden")
        response: Response[str] = next_middleware(resolver)
        return response

    def _client(right: Right) -> ClientSettings | Response[str]:
        """The calling client when it holds `right`, else a 403 (logged with the client's ID)."""
        client = _caller(app)
        assert client is not None  # checked by _authorize
        if right not in client.rights:
            logger.warning(
                "request refused: right not granted", extra={"event": "forbidden", "client": client.id, "right": right}
            )
            return _error(403, "forbidden")
        return client

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
            return parse_object(raw)
        except BodyError as err:
            logger.info("request refused: body", extra={"event": "bad_body", "reason": str(err)})
            if err.status == 422:
                return _error(422, "validation failed", [{"field": "body", "reason": str(err)}])
            return _error(err.status, str(err))

    @app.post("/v1/cards")
    @traced
    def tokenize() -> Response[str]:
        caller = _client("tokenize")
        if isinstance(caller, Response):
            return caller
        client = caller.id
        body = _json_body()
        if isinstance(body, Response):
            return body
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
            details = error_details(err, TokenizeRequest)
            logger.info(
                "tokenize refused: validation",
                extra={"event": "validation_failed", "client": client, "details": details},
            )
            return _error(422, "validation failed", details)
        vault, _ = runtime.current()
        result = vault.tokenize(request, client_id=client)
        logger.info(
            "card tokenized" if result.created else "card already tokenized",
            extra={"event": "tokenize", "client": client, "token": result.view.token, "brand": result.view.brand},
        )
        return _json(201 if result.created else 200, result.view.model_dump())

    @app.get("/v1/cards/<token>")
    @traced
    def lookup(token: str) -> Response[str]:
        caller = _client("lookup")
        if isinstance(caller, Response):
            return caller
        client = caller.id
        if not _TOKEN.match(token):
            return _error(404, "not found")
        vault, _ = runtime.current()
        try:
            view = vault.lookup(token, client_id=client)
        except CardNotFoundError:
            logger.info(
                "lookup: no such card",
                extra={"event": "lookup_missing", "client": client, "token_ref": token_ref(token)},
            )
            return _error(404, "not found")
        logger.info("card looked up", extra={"event": "lookup", "client": client, "token": token})
        return _json(200, view.model_dump())

    @app.delete("/v1/cards/<token>")
    @traced
    def dispose(token: str) -> Response[str]:
        caller = _client("dispose")
        if isinstance(caller, Response):
            return caller
        client = caller.id
        if not _TOKEN.match(token):
            return _error(404, "not found")
        vault, _ = runtime.current()
        try:
            vault.dispose(token, client_id=client)
        except CardNotFoundError:
            logger.info(
                "dispose: no such card",
                extra={"event": "dispose_missing", "client": client, "token_ref": token_ref(token)},
            )
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


@logger.inject_lambda_context
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") if isinstance(event, dict) else None
    header = headers.get("x-amzn-trace-id") if isinstance(headers, dict) else None
    logger.set_correlation_id(trace_root(header if isinstance(header, str) else None))
    return handle(app, event, context)
