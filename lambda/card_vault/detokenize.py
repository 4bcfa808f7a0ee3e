"""Detokenize Lambda: returns a card number to an authorized caller, never through the ALB.

Invoked directly (`lambda:InvokeFunction`) by the one IAM role the configuration names; the
function has no URL and no load-balancer target. Event:
`{"token": "tok_...", "reason_code": "chargeback", "ticket": "CASE-2026118"}`; the reason is an
enumerated code (`models.DETOKENIZE_REASONS`) and the ticket a case-system key, both logged with
the request ID, which CloudTrail's Lambda data event for the same call records with the caller's
identity (PCI DSS v4.0.1 3.4.2, 7.2.1, 10.2.1.1, 10.2.2).

Every call that names a valid token, reason and ticket appends a row to `vault.detokenize_audit`
(token, reason code, ticket, request ID, outcome, time, and the caller's alias (migration 0020); never
the card number): the ciphertext is
read by `vault.open_for_detokenize`, which writes the row in the same statement, so the role can
neither read a card without a record nor write a record of its own choosing (migration 0012).

Rate limit per caller: each configured caller role invokes the function through its own alias
(`caller-<role name>`, a resource policy naming that role only; "Using Lambda aliases in event sources
and permissions policies", Lambda Developer Guide: a permission on an alias lets the principal invoke
that alias's ARN only), so the alias in the invoked ARN names the caller. Each caller draws on a
budget per minute shared by every instance (`vault.detokenize_budget`); over it the answer is
`{"error": "rate limit exceeded", "reason", "retry_after"}` and nothing is read or audited.

The caller in the audit row is the alias of `context.invoked_function_arn` (the route IAM authorised),
never a field of the event: an event naming a caller is refused like any unknown field
(`DetokenizeRequest` forbids extra fields), so a caller can be recorded as no alias but its own, unless an
identity policy of this account grants it another's.

Answers `{"token", "pan"}` or `{"error", ...}`; never raises, so no traceback reaches the
runtime's own log. The trace records neither the answer nor an exception (`tracing.traced`):
the answer holds the card number.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from card_vault import runtime
from card_vault.envelope import DecryptionError
from card_vault.logs import log_failure, vault_logger
from card_vault.models import DetokenizeRequest, error_details
from card_vault.settings import DETOKENIZE_WINDOW_SECONDS
from card_vault.tracing import traced
from card_vault.vault import CardNotFoundError

logger = vault_logger()
_ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def caller_of(invoked_function_arn: str) -> str:
    """The caller a detokenize invocation is counted for: the alias in the invoked ARN
    (`arn:aws:lambda:<region>:<account>:function:<name>:<alias>`), else `unqualified` (only an identity
    policy of this account can allow that) or `version-<n>`. The handler answers only the callers of
    `VAULT_DETOKENIZE_CALLERS` (the deployed function's configured aliases)."""
    parts = invoked_function_arn.split(":")
    qualifier = parts[7] if len(parts) == 8 else ""
    if qualifier.isdigit():
        return f"version-{qualifier}"
    return qualifier if qualifier and _ALIAS.match(qualifier) else "unqualified"


@logger.inject_lambda_context
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = DetokenizeRequest.model_validate(event)
    except ValidationError as err:
        details = error_details(err, DetokenizeRequest)
        logger.warning("detokenize refused: validation", extra={"event": "detokenize_refused", "details": details})
        return {"error": "validation failed", "details": details}
    audit = {
        "event": "detokenize",
        "token": request.token,
        "reason_code": request.reason_code,
        "ticket": request.ticket,
    }
    try:
        vault, settings = runtime.current()
        caller = caller_of(str(getattr(context, "invoked_function_arn", "") or ""))
        if settings.detokenize_callers is not None and caller not in settings.detokenize_callers:
            logger.warning("detokenize refused: caller", extra={**audit, "outcome": "refused", "caller": caller})
            return {
                "error": "caller not allowed",
                "reason": "invoke the function through your own caller alias; another qualifier or none is refused",
            }
        budget = vault.take_detokenize_budget(
            caller, limit=settings.detokenize_per_minute, window_seconds=DETOKENIZE_WINDOW_SECONDS
        )
        if not budget.granted:
            logger.warning(
                "detokenize refused: rate limit",
                extra={**audit, "outcome": "rate_limited", "caller": caller, "retry_after": budget.retry_after},
            )
            return {
                "error": "rate limit exceeded",
                "reason": (
                    f"this caller may detokenize {settings.detokenize_per_minute} cards per minute;"
                    f" retry after {budget.retry_after} seconds"
                ),
                "retry_after": budget.retry_after,
            }
        audit["caller"] = caller
        outcome = "returned"
        try:
            pan = vault.detokenize(
                request.token,
                reason_code=request.reason_code,
                ticket=request.ticket,
                request_id=str(getattr(context, "aws_request_id", "") or "unknown"),
                caller=caller,
            )
        except CardNotFoundError:
            outcome, pan = "not_found", ""
        except DecryptionError:
            outcome, pan = "tampered", ""
    except Exception as err:
        log_failure(logger, "detokenize failed", err, **audit, outcome="error")
        return {"error": "internal error"}
    if outcome == "not_found":
        logger.warning("detokenize: no such card", extra={**audit, "outcome": outcome})
        return {"error": "not found"}
    if outcome == "tampered":
        logger.error("detokenize: ciphertext failed authentication", extra={**audit, "outcome": outcome})
        return {"error": "decryption failed"}
    logger.info("card detokenized", extra={**audit, "outcome": outcome})
    return {"token": request.token, "pan": pan}
