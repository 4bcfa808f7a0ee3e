"""ALB events and a Lambda context, as the load balancer and the runtime hand them to the handlers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/card-vault/0123456789abcdef"


@dataclass
class FakeContext:
    function_name: str = "card-vault-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:000000000000:function:card-vault-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

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
    raw_body: str | None = None,
) -> dict[str, Any]:
    all_headers = {
        "host": "vault.example.com",
        "x-amzn-trace-id": f"Root=1-67890abc-{uuid.uuid4().hex[:24]}",
        "x-forwarded-proto": "https",
    }
    if body is not None or raw_body is not None:
        all_headers["content-type"] = "application/json"
    if subject is not None:
        all_headers["x-amzn-mtls-clientcert-subject"] = subject
        all_headers["x-amzn-mtls-clientcert-issuer"] = issuer
    all_headers.update(headers or {})
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": all_headers,
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else ""),
        "isBase64Encoded": False,
    }
