"""ALB events and a Lambda context, as the load balancer and the runtime hand them to the handlers."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

# Request and trace IDs in tests are a counter, not uuid4: a random UUID has a digit run that passes
# Luhn about 1 in 147 times (digits split by `-` are one run to the normalizer), and the PAN guard
# would then flag a request ID in a log line or the audit table. The letters keep every digit run
# of these IDs at most 8 digits (test_fixed_ids_never_look_like_card_numbers).
_IDS = itertools.count(1)


def fixed_request_id() -> str:
    """A UUID-shaped Lambda request ID, unique in the session and the same on every run."""
    n = next(_IDS)
    return f"fa{n % 1_000_000:06d}-feed-4bad-abad-cafe{n // 1_000_000:08x}"


def fixed_trace_header() -> str:
    """An X-Ray trace header (`Root=1-<8 hex>-<24 hex>`) whose digit runs are short."""
    n = next(_IDS)
    return f"Root=1-cafe{n % 10_000:04d}-feedfacefeedfacefe{n // 10_000:06d}"


def fixed_trace_env() -> str:
    """`_X_AMZN_TRACE_ID` as Lambda sets it for a sampled invocation, from `fixed_trace_header`."""
    return f"{fixed_trace_header()};Parent=facefeed{next(_IDS) % 100_000_000:08d};Sampled=1"


TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/card-vault/0123456789abcdef"


@dataclass
class FakeContext:
    function_name: str = "card-vault-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-api"
    aws_request_id: str = field(default_factory=fixed_request_id)

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def alb_event(
    method: str,
    path: str,
    body: object | None = None,
    *,
    subject: str | None,
    issuer: str = "CN=Example Corp Client CA,O=Example Corp,C=GB",
    headers: dict[str, str] | None = None,
    repeated: dict[str, list[str]] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """The event of a target group with multi-value headers on: `multiValueHeaders`, no `headers`.

    `repeated` adds values after the ones above, as a client that sends a name twice would.
    """
    all_headers = {
        "host": "vault.example.com",
        "x-amzn-trace-id": fixed_trace_header(),
        "x-forwarded-proto": "https",
    }
    if body is not None or raw_body is not None:
        all_headers["content-type"] = "application/json"
    if subject is not None:
        all_headers["x-amzn-mtls-clientcert-subject"] = subject
        all_headers["x-amzn-mtls-clientcert-issuer"] = issuer
    all_headers.update(headers or {})
    multi = {name: [value] for name, value in all_headers.items()}
    for name, values in (repeated or {}).items():
        multi.setdefault(name, []).extend(values)
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
        "multiValueQueryStringParameters": {},
        "multiValueHeaders": multi,
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else ""),
        "isBase64Encoded": False,
    }
