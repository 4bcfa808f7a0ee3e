"""Scheduled purge: deletes cards past their expiry month plus the grace period (PCI DSS v4.0.1 3.2.1).

Invoked by an EventBridge rule on a schedule with `{}` (`{"dry_run": true}` only counts).
Answers `{"deleted": n}` or `{"would_delete": n}`; a failure raises, so the invocation is
recorded as failed and the function's error alarm fires.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from card_vault import runtime
from card_vault.logs import log_failure, vault_logger, without_database_detail
from card_vault.models import PurgeRequest
from card_vault.tracing import traced

logger = vault_logger()


@logger.inject_lambda_context
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    try:
        return _purge(event)
    except Exception as err:
        clean = without_database_detail(err)
        if clean is err:
            raise
        log_failure(logger, "purge failed", err, event="purge")
        raise clean from None  # the runtime logs the raised text: no database DETAIL in it (red team r19d)


def _purge(event: dict[str, Any]) -> dict[str, int]:
    request = PurgeRequest.model_validate({k: v for k, v in event.items() if k == "dry_run"})
    vault, settings = runtime.current()
    count = vault.purge(grace_days=settings.purge_grace_days, dry_run=request.dry_run)
    if not request.dry_run:
        keys = vault.purge_idempotency_keys()
        logger.info("expired idempotency keys deleted", extra={"event": "purge_idempotency_keys", "deleted": keys})
    key = "would_delete" if request.dry_run else "deleted"
    logger.info("expired cards purged", extra={"event": "purge", key: count, "grace_days": settings.purge_grace_days})
    return {key: count}
