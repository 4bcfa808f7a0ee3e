"""ALB-facing Lambda: POST /v1/cards, POST /v1/cards/batch, GET/PATCH/DELETE /v1/cards/{token}, GET /v1/health.

- Authentication (PCI DSS v4.0.1 8.3): the ALB verifies the client certificate (mutual TLS,
  verify mode) and passes its subject and issuer in `X-Amzn-Mtls-Clientcert-Subject` / `-Issuer`;
  the pair must name a configured client. Missing -> 401, unknown -> 403, both with no detail.
- Certificate headers (red team r19b): the subject, issuer and serial-number headers must describe the
  leaf certificate the load balancer forwards (`X-Amzn-Mtls-Clientcert-Leaf`, parsed by `card_vault.mtls`),
  and in verify mode the leaf must be there; otherwise 403 with a fixed reason, nothing stored.
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
- Oracle bound (issue 19 finding 2): every tokenization draws on the client's budget per minute,
  kept and checked by the database inside the reservation (`vault.reserve_card_hashes`, migration 0034,
  with the limits the migration function wrote), so every instance shares it and the API's login cannot
  reset it (429 with Retry-After, nothing stored when spent); after a reset of the unlogged counts every
  reservation is refused for one window (migration 0033): a 429 that names no pair, counted in the
  `SiblingGuardClosed` metric, which alarms; known-card and new-card answers are counted per client
  (EMF metrics, dimension `client_id`), and a CloudWatch alarm per client fires when the known share is too high.
- Idempotency (`Idempotency-Key` on POST /v1/cards): the same key and request give the first
  answer again; the same key with another request gets 422. Keys are per client, live 24 hours.
- Health (GET /v1/health): the load balancer's check, no client certificate; says only whether
  the database answers.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from aws_lambda_powertools.event_handler import ALBResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from card_vault import mtls, runtime
from card_vault.jsonbody import BodyError, parse_object
from card_vault.logs import SERVICE, log_failure, vault_logger
from card_vault.models import (
    MAX_BATCH_CARDS,
    TOKEN_PATTERN,
    SensitiveAuthenticationDataError,
    TokenizeRequest,
    UpdateRequest,
    error_details,
    refuse_sad_fields,
)
from card_vault.pan import find_pans, luhn_valid, mask_pans, masked_view
from card_vault.settings import ClientSettings, Right
from card_vault.store import Reservation, SiblingReservationError
from card_vault.tracing import traced
from card_vault.vault import CardNotFoundError, Hashed, IdempotencyMismatchError, Tokenized

CLIENT_SUBJECT_HEADER = "x-amzn-mtls-clientcert-subject"
CLIENT_ISSUER_HEADER = "x-amzn-mtls-clientcert-issuer"
# Every header the load balancer's mutual TLS adds ("Mutual authentication with TLS in Application Load
# Balancer", ELB User Guide: -Serial-Number, -Issuer, -Subject, -Validity, -Leaf). The guide does not say a
# client-sent header of the same name is removed, and with single-value headers "the load balancer uses the
# last value sent by the client" for a repeated name (ELB API reference, TargetGroupAttribute
# lambda.multi_value_headers.enabled). The target group therefore sends multi-value headers
# ("Lambda functions as targets", ELB User Guide, multi-value headers) and a name given more than once is refused.
MTLS_HEADER_PREFIX = "x-amzn-mtls-clientcert-"
MTLS_HEADERS = frozenset(
    MTLS_HEADER_PREFIX + suffix for suffix in ("serial-number", "issuer", "subject", "validity", "leaf")
)
IDEMPOTENCY_KEY_HEADER = "idempotency-key"
MAX_BODY_BYTES = 4096
# 100 cards at the schema's maximum sizes fit, however a JSON encoder escapes them: 134,411 bytes with
# Python's json.dumps defaults, every name character an escaped astral letter (12 bytes). The web ACL in
# front allows the same limit on this path only (pci_constructs/card_vault.py BATCH_MAX_BODY_BYTES).
MAX_BATCH_BODY_BYTES = 147_456  # 144 KiB
HEALTH_PATH = "/v1/health"
# CloudWatch namespace and metrics of the known-card alarm (pci_constructs/card_vault.py reads these names).
METRIC_NAMESPACE = "PciLz/CardVault"
KNOWN_CARD_METRIC = "KnownCardAnswers"
NEW_CARD_METRIC = "NewCardAnswers"
# New cards sharing first six and last four with another card of the client (red-team r19 F1).
SIBLING_METRIC = "SiblingCards"
# Every card tokenized (known or new), all clients together (dimension `service` only): what the
# GenerateMac-volume alarm compares the account's CloudTrail GenerateMac events with (r19 F2).
TOKENIZED_METRIC = "CardsTokenized"
# Requests refused for a repeated (or single-value) X-Amzn-Mtls-Clientcert-* header.
FORGED_MTLS_METRIC = "ForgedMtlsHeaders"
# Tokenize requests refused because the database closed every reservation after a reset of its unlogged counts
# (a crash, failover or restore; migrations 0033, 0034): dimension `service` only, alarmed to the alerts topic.
GUARD_CLOSED_METRIC = "SiblingGuardClosed"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
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


def text_ref(text: str) -> str:
    """A fingerprint of client-supplied text for the log (`sha256:` + 16 hex): correlates repeats, reveals nothing."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def token_ref(token: str) -> str:
    """A fingerprint of a client-supplied token for the log: correlates repeats, reveals nothing."""
    return text_ref(token)


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


def metric_timestamp(now_ms: int | None = None) -> int:
    """The EMF timestamp (epoch milliseconds), moved by a millisecond or two when its 13 digits pass Luhn.

    A millisecond epoch is 13 digits; one in ten passes the Luhn check, and every PAN scanner
    (the vault's own log masker and test guard, a DLP tool on the log group) would flag it as a card number.
    """
    stamp = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    while luhn_valid(str(stamp)):
        stamp -= 1
    return stamp


def count_answers(client_id: str, results: list[Tokenized], siblings: int = 0) -> None:
    """Known-card, new-card and sibling-card answers of one request as EMF metrics (dimension `client_id`).

    Powertools' metrics package is imported here, by the first tokenization, not with the handler.
    """
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    metrics.set_timestamp(metric_timestamp())
    metrics.add_dimension("client_id", client_id)
    metrics.add_metric(KNOWN_CARD_METRIC, MetricUnit.Count, sum(1 for r in results if not r.created))
    metrics.add_metric(NEW_CARD_METRIC, MetricUnit.Count, sum(1 for r in results if r.created))
    metrics.add_metric(SIBLING_METRIC, MetricUnit.Count, siblings)
    metrics.flush_metrics()
    total = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    total.set_timestamp(metric_timestamp())
    total.add_metric(TOKENIZED_METRIC, MetricUnit.Count, len(results))
    total.flush_metrics()


def count_guard_closed() -> None:
    """One `SiblingGuardClosed` (EMF, dimension `service` only): a tokenize request refused because the database
    closed every reservation after a reset of its unlogged counts (migrations 0033, 0034). No client, pair or
    card in it."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    metrics.set_timestamp(metric_timestamp())
    metrics.add_metric(GUARD_CLOSED_METRIC, MetricUnit.Count, 1)
    metrics.flush_metrics()


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
        event = resolver.current_event
        if event.path == HEALTH_PATH and event.http_method == "GET":
            response_: Response[str] = next_middleware(resolver)  # the load balancer's check: no client
            return response_
        headers = event.headers
        subject = headers.get(CLIENT_SUBJECT_HEADER)
        if not subject or not headers.get(CLIENT_ISSUER_HEADER):
            logger.warning("request refused: no verified client certificate", extra={"event": "auth_failure"})
            return _error(401, "unauthorized")
        _, settings = runtime.current()
        leaf_refusal = mtls.check(headers, mode=settings.mtls_mode)
        if leaf_refusal is not None:
            # Header names and value fingerprints only (`_log_forged`), and the ForgedMtlsHeaders metric.
            _log_forged(
                leaf_refusal,
                sorted(n for n in mtls.CERTIFICATE_HEADERS if headers.get(n)),
                [text_ref(headers.get(n) or "") for n in sorted(mtls.CERTIFICATE_HEADERS) if headers.get(n)],
                subject_ref=text_ref(subject),
                issuer_ref=text_ref(headers.get(CLIENT_ISSUER_HEADER) or ""),
            )
            return _json(403, {"error": "forbidden", "reason": leaf_refusal})
        if _caller(resolver) is None:
            # The subject and issuer are the certificate's, chosen by whoever made it: never logged as sent
            # (red-team r19 F7), only as fingerprints that correlate repeats.
            logger.warning(
                "request refused: client not allowed",
                extra={
                    "event": "auth_failure",
                    "subject_ref": text_ref(subject),
                    "issuer_ref": text_ref(headers.get(CLIENT_ISSUER_HEADER) or ""),
                },
            )
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

    def _json_body(max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any] | Response[str]:
        event = app.current_event
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(415, "unsupported media type: send application/json")
        try:
            # A base64 body that is not base64, or not UTF-8 once decoded, is the client's error.
            raw = event.decoded_body or ""
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
            logger.info("request refused: body", extra={"event": "bad_body", "reason": "not base64 UTF-8"})
            return _error(400, "request body is not valid base64-encoded UTF-8")
        if len(raw.encode()) > max_bytes:
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
        key = _idempotency_key()
        if isinstance(key, Response):
            return key
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
        # Reserved before the key is looked at: a replay or a mismatch counts as a new sibling would,
        # so an Idempotency-Key is no way around the sibling limit or the metrics (red team r19b H1). The
        # card is hashed first: each credit is bound to one of its keyed hashes (red team r19c H1).
        hashed = vault.hash_cards([request])
        reservation = 0
        try:
            if key is None:
                # Reservation and store in one round trip (migration 0042), the reservation committed first.
                reserved, outcome = vault.tokenize_reserved(request, client_id=client, hashed=hashed[0])
                answered = _reservation_answer(caller, [reserved])
                if isinstance(answered, Response):
                    return answered
                reservation = answered
                assert outcome is not None  # a granted reservation answers the card
                result = outcome
            else:
                answered = _reserve_siblings(caller, hashed)
                if isinstance(answered, Response):
                    return answered
                reservation = answered
                result = vault.tokenize_idempotent(request, client_id=client, key=key, hashed=hashed[0])
        except SiblingReservationError:
            return _reservation_lapsed(caller)
        except IdempotencyMismatchError:
            logger.info(
                "tokenize refused: idempotency key reused",
                extra={"event": "idempotency_mismatch", "client": client},
            )
            count_answers(client, [], reservation)
            return _error(
                422,
                "validation failed",
                [
                    {
                        "field": "Idempotency-Key",
                        "reason": "was used with a different request; it answers no further request",
                    }
                ],
            )
        count_answers(client, [result], reservation)
        logger.info(
            "idempotent replay"
            if result.replayed
            else "card tokenized"
            if result.created
            else "card already tokenized",
            extra={"event": "tokenize", "client": client, "token": result.view.token, "brand": result.view.brand},
        )
        return _json(201 if result.created else 200, result.view.model_dump())

    def _idempotency_key() -> str | Response[str] | None:
        """The request's Idempotency-Key (None without one), or a 400 for one the vault does not accept."""
        key = app.current_event.headers.get(IDEMPOTENCY_KEY_HEADER)
        if key is None:
            return None
        if not _IDEMPOTENCY_KEY.match(key) or find_pans(key):
            return _error(
                400,
                "validation failed",
                [
                    {
                        "field": "Idempotency-Key",
                        "reason": "8-128 letters, digits, '-', '_', '.' or ':', not a card number",
                    }
                ],
            )
        return key

    def _too_many(status_error: str, reason: str, retry_after: int) -> Response[str]:
        return Response(
            status_code=429,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps({"error": status_error, "reason": reason}),
            headers={"Retry-After": str(retry_after)},
        )

    def _whole_request_refusal(client: ClientSettings, reservations: list[Reservation]) -> Response[str] | None:
        """A 429 for the whole request (nothing reserved, nothing stored) when the database refused it for the
        reset guard or the client's tokenize budget (migration 0034), else None. Neither names a pair or says
        anything about a card: the reset refuses every pair alike, with the guard's one closing time."""
        reasons = {r.refusal for r in reservations}
        if "reset" in reasons:
            retry_after = max(r.retry_after for r in reservations)
            logger.warning(
                "tokenize refused: reservations closed after a reset of the sibling counts",
                extra={"event": "guard_closed", "client": client.id, "retry_after": retry_after},
            )
            count_guard_closed()
            return _too_many(
                "tokenization paused",
                f"the vault is not tokenizing for now; retry after {retry_after} seconds",
                retry_after,
            )
        if "budget" in reasons:
            retry_after = max(r.retry_after for r in reservations)
            cards = sum(r.cards for r in reservations)
            logger.warning(
                "tokenize refused: rate limit",
                extra={"event": "rate_limited", "client": client.id, "cards": cards, "retry_after": retry_after},
            )
            per_minute = reservations[0].budget_per_minute
            return _too_many(
                "rate limit exceeded",
                f"this client may tokenize {per_minute} cards per minute; retry after {retry_after} seconds",
                retry_after,
            )
        return None

    def _sibling_reason(refused: list[Reservation]) -> str:
        """The 429's reason, from the limit and window the database applied (`vault.card_search_settings`)."""
        retry_after = max(r.retry_after for r in refused)
        return (
            f"this client sent {refused[0].max_siblings} cards with the same first six and last four digits"
            f" within {refused[0].window_seconds // 60} minutes; retry after {retry_after} seconds"
        )

    def _reservation_lapsed(client: ClientSettings) -> Response[str]:
        """A 429 for a card the database found no unspent reservation for (`SiblingReservationError`): the
        pair's window ended between this request's reservation and its store (milliseconds), nothing stored."""
        logger.warning(
            "tokenize refused: sibling reservation lapsed",
            extra={"event": "sibling_limited", "client": client.id, "retry_after": 1},
        )
        return Response(
            status_code=429,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(
                {"error": "card search refused", "reason": "the reservation lapsed; retry after 1 seconds"}
            ),
            headers={"Retry-After": "1"},
        )

    def _reservations(client: ClientSettings, hashed: list[Hashed]) -> list[Reservation]:
        vault, _ = runtime.current()
        return vault.reserve_siblings(client.id, hashed)

    def _reserve_siblings(client: ClientSettings, hashed: list[Hashed]) -> int | Response[str]:
        """The request's sibling cards once reserved, or a 429 (nothing stored) when the card's first six and
        last four reached the sibling limit, stored card or not: the refusal says nothing about whether this
        number is stored (red-team r19 F1)."""
        return _reservation_answer(client, _reservations(client, hashed))

    def _reservation_answer(client: ClientSettings, reservations: list[Reservation]) -> int | Response[str]:
        """`_reserve_siblings`' answer for reservations already taken."""
        whole = _whole_request_refusal(client, reservations)
        if whole is not None:
            return whole
        refused = [r for r in reservations if not r.granted]
        if not refused:
            return sum(r.siblings for r in reservations)
        retry_after = max(r.retry_after for r in refused)
        logger.warning(
            "tokenize refused: sibling limit",
            extra={"event": "sibling_limited", "client": client.id, "retry_after": retry_after},
        )
        return Response(
            status_code=429,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps({"error": "card search refused", "reason": _sibling_reason(refused)}),
            headers={"Retry-After": str(retry_after)},
        )

    def _validated(item: object) -> TokenizeRequest | list[dict[str, str]]:
        """One card of a batch: its request, or its errors (vault field names only, no value echoed)."""
        if not isinstance(item, dict):
            return [{"field": "body", "reason": "each card must be a JSON object"}]
        try:
            refuse_sad_fields(item)
            return TokenizeRequest.model_validate(item)
        except SensitiveAuthenticationDataError as err:
            return [{"field": "body", "reason": str(err)}]
        except ValidationError as err:
            return error_details(err, TokenizeRequest)

    @app.post("/v1/cards/batch")
    @traced
    def tokenize_batch() -> Response[str]:
        """Up to `MAX_BATCH_CARDS` cards in one transaction; each validated on its own (per-card errors)."""
        caller = _client("tokenize")
        if isinstance(caller, Response):
            return caller
        body = _json_body(MAX_BATCH_BODY_BYTES)
        if isinstance(body, Response):
            return body
        cards = body.get("cards")
        if set(body) != {"cards"} or not isinstance(cards, list) or not cards:
            return _error(422, "validation failed", [{"field": "cards", "reason": 'send {"cards": [1-100 cards]}'}])
        if len(cards) > MAX_BATCH_CARDS:
            return _error(
                422, "validation failed", [{"field": "cards", "reason": f"at most {MAX_BATCH_CARDS} cards per request"}]
            )
        checked: list[TokenizeRequest | list[dict[str, str]] | str] = [_validated(item) for item in cards]
        valid = [c for c in checked if isinstance(c, TokenizeRequest)]
        siblings = 0
        vault, _ = runtime.current()
        stored: list[Tokenized | None] = []
        if valid:
            # Every card hashed, then reserved in its pair's sibling count (one credit per keyed hash, red team
            # r19c H1) before anything is stored, a pair's cards all or none (red team r19b M2); cards of a
            # refused pair get a 429 each. Reservation and store are one round trip (migration 0042): the
            # database commits the reservation, then stores the granted pairs' cards only.
            hashed = vault.hash_cards(valid)
            try:
                reservations, stored = vault.tokenize_many_reserved(valid, client_id=caller.id, hashed=hashed)
            except SiblingReservationError:
                return _reservation_lapsed(caller)
            whole = _whole_request_refusal(caller, reservations)
            if whole is not None:
                return whole
            siblings = sum(r.siblings for r in reservations)
            searched = {r.pair for r in reservations if not r.granted}
            if searched:
                refused_pairs = [r for r in reservations if not r.granted]
                retry_after = max(r.retry_after for r in refused_pairs)
                reason = _sibling_reason(refused_pairs)
                checked = [
                    reason if isinstance(c, TokenizeRequest) and masked_view(c.pan) in searched else c for c in checked
                ]
                logger.warning(
                    "batch cards refused: sibling limit",
                    extra={"event": "sibling_limited", "client": caller.id, "retry_after": retry_after},
                )
        results = iter([outcome for outcome in stored if outcome is not None])
        answers: list[dict[str, Any]] = []
        outcomes: list[Tokenized] = []
        for index, item in enumerate(checked):
            if isinstance(item, TokenizeRequest):
                result = next(results)
                outcomes.append(result)
                answers.append({"index": index, "status": 201 if result.created else 200, **result.view.model_dump()})
            elif isinstance(item, str):
                answers.append({"index": index, "status": 429, "error": "card search refused", "reason": item})
            else:
                answers.append({"index": index, "status": 422, "details": item})
        if outcomes:
            count_answers(caller.id, outcomes, siblings)
        summary = {
            "created": sum(1 for r in outcomes if r.created),
            "existing": sum(1 for r in outcomes if not r.created),
            "refused": len(checked) - len(outcomes),
        }
        logger.info(
            "batch tokenized",
            extra={"event": "tokenize_batch", "client": caller.id, **{f"cards_{k}": v for k, v in summary.items()}},
        )
        return _json(200, {"results": answers, **summary})

    @app.patch("/v1/cards/<token>")
    @traced
    def update(token: str) -> Response[str]:
        """A new expiry and/or cardholder name for one of the client's cards."""
        caller = _client("update")
        if isinstance(caller, Response):
            return caller
        if not _TOKEN.match(token):
            return _error(404, "not found")
        body = _json_body()
        if isinstance(body, Response):
            return body
        try:
            refuse_sad_fields(body)
            request = UpdateRequest.model_validate(body)
        except SensitiveAuthenticationDataError as err:
            return _error(422, str(err))
        except ValidationError as err:
            details = error_details(err, UpdateRequest)
            logger.info(
                "update refused: validation",
                extra={"event": "validation_failed", "client": caller.id, "details": details},
            )
            return _error(422, "validation failed", details)
        vault, _ = runtime.current()
        try:
            view = vault.update(token, request, client_id=caller.id)
        except CardNotFoundError:
            logger.info(
                "update: no such card",
                extra={"event": "update_missing", "client": caller.id, "token_ref": token_ref(token)},
            )
            return _error(404, "not found")
        changed = sorted(k for k, v in request.model_dump().items() if v is not None)
        logger.info("card updated", extra={"event": "update", "client": caller.id, "token": token, "fields": changed})
        return _json(200, view.model_dump())

    @app.get(HEALTH_PATH)
    @traced
    def health() -> Response[str]:
        """200 when the database answers, else 503; nothing about the database in either answer."""
        try:
            vault, _ = runtime.current()
            ok = vault.healthy()
        except Exception as err:  # any failure is "unavailable"; its type is logged, never returned
            logger.warning("health check failed", extra={"event": "health", "error_type": type(err).__name__})
            ok = False
        return _json(200 if ok else 503, {"status": "ok" if ok else "unavailable"})

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
        log_failure(logger, "request failed", err, event="error")
        return _error(500, "internal error")

    return app


def finish(response: dict[str, Any]) -> dict[str, Any]:
    """Security headers on every response; any card number in a body masked (last line of defence).

    Always in the multi-value shape ("Lambda functions as targets", ELB User Guide: with multi-value
    headers enabled the load balancer reads `multiValueHeaders` of the response, not `headers`).
    """
    multi: dict[str, list[str]] = {}
    for name, value in (response.pop("headers", None) or {}).items():
        multi.setdefault(name, []).append(value)
    for name, values in (response.get("multiValueHeaders") or {}).items():
        multi.setdefault(name, []).extend(values if isinstance(values, list) else [values])
    for name, value in SECURITY_HEADERS.items():
        multi[name] = [value]
    response["multiValueHeaders"] = multi
    if isinstance(response.get("body"), str):
        response["body"] = mask_pans(response["body"])
    return response


def header_name_ref(name: str) -> str:
    """A header name for the log: one of the load balancer's own mTLS names as is, any other as a fingerprint."""
    return name if name in MTLS_HEADERS else text_ref(name)


def single_value_view(event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The event with `headers` made from `multiValueHeaders` (lower-case names, last value), and a refusal.

    The refusal (None when the request may go on) is a fixed reason, never client text:
    - any `X-Amzn-Mtls-Clientcert-*` name given more than once (case-insensitive): a client-sent copy
      beside the load balancer's;
    - an event without `multiValueHeaders` that carries such a header: repeats cannot be seen, so the
      target group's multi-value attribute is off and no certificate header can be trusted.
    Each refusal is logged with header names (fingerprints for names not the load balancer's) and value
    fingerprints only, and counted in the `ForgedMtlsHeaders` metric.
    """
    multi = event.get("multiValueHeaders")
    if not isinstance(multi, dict):
        headers = event.get("headers")
        names = [str(n).lower() for n in headers] if isinstance(headers, dict) else []
        if any(n.startswith(MTLS_HEADER_PREFIX) for n in names):
            _log_forged(
                "single-value event",
                sorted({header_name_ref(n) for n in names if n.startswith(MTLS_HEADER_PREFIX)}),
                [],
            )
            return event, "client certificate headers not in multi-value form"
        return event, None
    values: dict[str, list[str]] = {}
    for name, given in multi.items():
        listed = given if isinstance(given, list) else [given]
        values.setdefault(str(name).lower(), []).extend(v for v in listed if isinstance(v, str))
    view = {**event, "headers": {name: given[-1] for name, given in values.items() if given}}
    repeated = sorted(n for n, given in values.items() if n.startswith(MTLS_HEADER_PREFIX) and len(given) > 1)
    if repeated:
        refs = [text_ref(v) for n in repeated for v in values[n]]
        _log_forged("repeated", [header_name_ref(n) for n in repeated], refs)
        return view, "client certificate header repeated"
    return view, None


def _log_forged(kind: str, names: list[str], value_refs: list[str], **refs: str) -> None:
    """One log line (header names, `sha256:` fingerprints of values; `refs` more fingerprints) and one
    `ForgedMtlsHeaders` metric for a request refused for its certificate headers."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    logger.warning(
        "request refused: client certificate headers",
        extra={"event": "auth_failure", "reason": kind, "headers": names, "value_refs": value_refs, **refs},
    )
    metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    metrics.set_timestamp(metric_timestamp())
    metrics.add_metric(FORGED_MTLS_METRIC, MetricUnit.Count, 1)
    metrics.flush_metrics()


app = create_app()


def handle(resolver: ALBResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one ALB event; never raises, never answers without the security headers."""
    try:
        view, refusal = single_value_view(event) if isinstance(event, dict) else (event, None)
        if refusal is not None:
            return finish(
                {
                    "statusCode": 403,
                    "statusDescription": "403 Forbidden",
                    "isBase64Encoded": False,
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"error": "forbidden", "reason": refusal}),
                }
            )
        return finish(resolver.resolve(view, context))
    except Exception as err:  # a failure outside the resolver (settings, middleware): no detail out
        log_failure(logger, "request failed", err, event="error")
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
    multi = event.get("multiValueHeaders") if isinstance(event, dict) else None
    headers = event.get("headers") if isinstance(event, dict) else None
    given = multi.get("x-amzn-trace-id") if isinstance(multi, dict) else None
    header = given[-1] if isinstance(given, list) and given else None
    if header is None and isinstance(headers, dict):
        header = headers.get("x-amzn-trace-id")
    logger.set_correlation_id(trace_root(header if isinstance(header, str) else None))
    return handle(app, event, context)
