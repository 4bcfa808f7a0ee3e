"""Scheduled check of the client CRL the trust store holds (issue 19 finding 9; PCI DSS v4.0.1 8.3.1, 4.2.1).

The load balancer reads the CRL (`card_vault.client_crl`: bucket, key, object version) once, when
CloudFormation adds it to the trust store (`AWS::ElasticLoadBalancingV2::TrustStoreRevocation`), and never
fetches it again ("Mutual authentication with TLS in Application Load Balancer", certificate revocation;
the resource's `RevocationContents` "requires replacement"): a list whose `nextUpdate` passes stays in the
trust store until the next deploy, and nothing in AWS says so. This function, run on a schedule by an
EventBridge rule, reads the same object version from S3 (`s3:GetObject` with `VersionId`, "GetObject",
Amazon S3 API Reference) through the VPC's S3 gateway endpoint, parses it with `cryptography`, and emits
`ClientCrlDaysToNextUpdate` (EMF, namespace `PciLz/CardVault`, dimension `service`): days, a float, negative
once `nextUpdate` has passed. An alarm (pci_constructs/card_vault.py) fires at or below
`warn_days_before_next_update`, as `make preflight` warns.

Event: ignored (`{}`). Environment: `VAULT_CRL_BUCKET`, `VAULT_CRL_KEY`, `VAULT_CRL_VERSION`,
`VAULT_CRL_WARN_DAYS`. Answers `{"next_update": "<ISO 8601 UTC>", "days_left": float, "warn_days": int,
"status": "ok" | "due" | "expired"}`. Raises `CrlUnreadableError` (the object cannot be read, is larger
than `MAX_CRL_BYTES`, is not a PEM-encoded CRL or has no nextUpdate): the invocation fails, and the
function's error alarm fires. A CRL holds certificate serial numbers and the issuer's name, no card data.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from card_vault.logs import SERVICE, vault_logger
from card_vault.pan import luhn_valid

logger = vault_logger()
# The same bound as make preflight's read of the object (preflight/checks.py MAX_CRL_BYTES).
MAX_CRL_BYTES = 50 * 1024 * 1024
METRIC_NAMESPACE = "PciLz/CardVault"
DAYS_METRIC = "ClientCrlDaysToNextUpdate"


class CrlUnreadableError(RuntimeError):
    """The configured CRL object version could not be read or parsed; the message names what failed."""


def days_to_next_update(pem: bytes, now: dt.datetime) -> tuple[dt.datetime, float]:
    """`(nextUpdate, days from now to it)` of a PEM-encoded CRL; negative days once it has passed.

    Raises CrlUnreadableError when `pem` is not a PEM-encoded CRL or has no nextUpdate."""
    from cryptography import x509

    try:
        crl = x509.load_pem_x509_crl(pem)
    except ValueError:
        raise CrlUnreadableError("the object is not a PEM-encoded CRL") from None
    next_update = crl.next_update_utc
    if next_update is None:
        raise CrlUnreadableError("the CRL has no nextUpdate: its freshness cannot be checked")
    return next_update, (next_update - now).total_seconds() / 86_400


def _timestamp() -> int:
    """EMF epoch milliseconds, moved back a millisecond while its 13 digits pass Luhn (as the API's)."""
    stamp = time.time_ns() // 1_000_000
    while luhn_valid(str(stamp)):
        stamp -= 1
    return stamp


def _emit(days_left: float) -> None:
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
    metrics.set_timestamp(_timestamp())
    metrics.add_metric(DAYS_METRIC, MetricUnit.NoUnit, round(days_left, 3))
    metrics.flush_metrics()


def _read(bucket: str, key: str, version: str) -> bytes:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read(MAX_CRL_BYTES + 1)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "unknown")
        raise CrlUnreadableError(f"s3:GetObject of the configured version failed: {code}") from None
    except BotoCoreError as err:
        raise CrlUnreadableError(f"s3:GetObject of the configured version failed: {type(err).__name__}") from None
    if len(body) > MAX_CRL_BYTES:
        raise CrlUnreadableError(f"the object is larger than {MAX_CRL_BYTES} bytes")
    return bytes(body)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bucket, key, version = (os.environ[name] for name in ("VAULT_CRL_BUCKET", "VAULT_CRL_KEY", "VAULT_CRL_VERSION"))
    warn_days = int(os.environ["VAULT_CRL_WARN_DAYS"])
    where = {"event": "crl_check", "bucket": bucket, "key": key, "version": version}
    try:
        next_update, days_left = days_to_next_update(_read(bucket, key, version), dt.datetime.now(dt.UTC))
    except CrlUnreadableError as err:
        logger.error("client CRL check failed", extra={**where, "reason": str(err)})
        raise
    status = "expired" if days_left <= 0 else "due" if days_left <= warn_days else "ok"
    _emit(days_left)
    answer = {
        "next_update": next_update.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": round(days_left, 3),
        "warn_days": warn_days,
        "status": status,
    }
    (logger.info if status == "ok" else logger.warning)("client CRL checked", extra={**where, **answer})
    return answer
