"""CloudFormation custom resource: an AWS Config managed conformance pack by its source identifier.

CloudFormation sends `Create`, `Update` and `Delete` requests ("Custom resource request objects",
AWS CloudFormation User Guide) with `ResourceProperties` `{"ConformancePackName": str,
"SourceIdentifier": str}`. The handler

- on Create and Update calls `PutConformancePack` with `Source.SourceIdentifier` ("PutConformancePack",
  "ConformancePackSource", AWS Config API Reference), then polls `DescribeConformancePackStatus`
  ("DescribeConformancePackStatus", "ConformancePackStatusDetail") every `POLL_SECONDS` until the pack is
  CREATE_COMPLETE/UPDATE_COMPLETE with `LastUpdateCompletedTime` at or after `LastUpdateRequestedTime`
  (the put it made, not an earlier one); CREATE_FAILED/UPDATE_FAILED fails the request with
  `ConformancePackStatusReason`;
- on Delete calls `DeleteConformancePack` and polls until `NoSuchConformancePackException` (gone);
  DELETE_FAILED fails the request with its reason; a pack already gone is success;
- answers CloudFormation by one HTTPS PUT of the response object to the request's pre-signed
  `ResponseURL` ("Custom resource response objects", AWS CloudFormation User Guide), on every path: an
  error of any kind is a FAILED answer with its reason, never an unanswered request. A pack still in
  progress when fewer than `POLL_SECONDS + ANSWER_MARGIN_SECONDS` of the invocation remain is FAILED,
  naming its state, so the answer always precedes the function's timeout.

The physical resource ID is the pack's name: a renamed pack is a replacement, after which CloudFormation
deletes the old name ("Custom resource request objects": Update with a new PhysicalResourceId).
Nothing from the request but the pack's name and source, and AWS Config's own status text, is logged or
answered.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

POLL_SECONDS = 15
# Seconds kept back from the invocation's remaining time for the answer to CloudFormation itself.
ANSWER_MARGIN_SECONDS = 30
# "Custom resource response objects": the whole response must stay under 4,096 bytes.
MAX_REASON_CHARACTERS = 1000
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
FAILED = frozenset({"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"})
NO_SUCH_PACK = "NoSuchConformancePackException"

Sender = Callable[[str, bytes], None]


class PackError(Exception):
    """The pack did not reach the state the request asks for; the message is the FAILED answer's reason."""


def pack_status(client: Any, name: str) -> dict[str, Any] | None:
    """The pack's `ConformancePackStatusDetail`, or None when AWS Config knows no pack of that name."""
    try:
        details = client.describe_conformance_pack_status(ConformancePackNames=[name])["ConformancePackStatusDetails"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == NO_SUCH_PACK:
            return None
        raise
    return details[0] if details else None


def _done(detail: dict[str, Any]) -> bool:
    """Complete, and completed after the latest requested change (the put this request made)."""
    completed, requested = detail.get("LastUpdateCompletedTime"), detail.get("LastUpdateRequestedTime")
    fresh = completed is not None and (requested is None or completed >= requested)
    return detail["ConformancePackState"] in COMPLETE and fresh


def wait_for(
    client: Any, name: str, *, gone: bool, seconds_left: Callable[[], float], sleep: Callable[[float], None]
) -> str:
    """Poll until the pack is complete (or, with `gone`, deleted); returns the final state ("DELETED").

    Raises PackError on a *_FAILED state (with AWS Config's reason) or when time runs out.
    """
    state = "unknown"
    while True:
        detail = pack_status(client, name)
        if detail is None:
            if gone:
                return "DELETED"
            state = "not yet listed"
        else:
            state = detail["ConformancePackState"]
            if state in FAILED:
                reason = detail.get("ConformancePackStatusReason") or "AWS Config gave no reason"
                raise PackError(f"conformance pack {name}: {state}: {reason}")
            if not gone and _done(detail):
                return str(state)
        if seconds_left() < POLL_SECONDS + ANSWER_MARGIN_SECONDS:
            raise PackError(
                f"conformance pack {name}: still {state} when the deploy function had to answer;"
                " DescribeConformancePackStatus shows how it ends"
            )
        sleep(POLL_SECONDS)


def put_pack(client: Any, name: str, source: str, **wait: Any) -> dict[str, str]:
    """PutConformancePack with only a name and a managed source, then wait; the answer's Data."""
    arn = client.put_conformance_pack(ConformancePackName=name, Source={"SourceIdentifier": source})[
        "ConformancePackArn"
    ]
    state = wait_for(client, name, gone=False, **wait)
    return {"ConformancePackArn": arn, "ConformancePackState": state}


def delete_pack(client: Any, name: str, **wait: Any) -> dict[str, str]:
    """DeleteConformancePack, then wait until it is gone; a pack already gone is success."""
    try:
        client.delete_conformance_pack(ConformancePackName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != NO_SUCH_PACK:
            raise
    return {"ConformancePackState": wait_for(client, name, gone=True, **wait)}


def send_response(url: str, body: bytes) -> None:
    """PUT the response object to CloudFormation's pre-signed S3 URL (HTTPS only)."""
    if not url.startswith("https://"):
        raise ValueError("ResponseURL is not an HTTPS URL")
    request = urllib.request.Request(  # noqa: S310 -- the scheme is checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 -- the scheme is checked above
        pass


def handler(
    event: dict[str, Any],
    context: Any,
    *,
    client: Any = None,
    send: Sender = send_response,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Handle one CloudFormation request and answer it (see the module docstring)."""
    properties = event.get("ResourceProperties", {})
    request_type = event.get("RequestType")
    name = str(properties.get("ConformancePackName", ""))
    status, reason, data = "SUCCESS", "", {}
    physical_id = name or event.get("PhysicalResourceId", "none")

    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    wait = {"seconds_left": seconds_left, "sleep": sleep}
    try:
        config = client if client is not None else boto3.client("config")
        if request_type in ("Create", "Update"):
            data = put_pack(config, name, str(properties["SourceIdentifier"]), **wait)
        elif request_type == "Delete":
            # The pack this resource made is the one its physical ID names (a rename deletes the old name).
            physical_id = str(event.get("PhysicalResourceId") or name)
            data = delete_pack(config, physical_id, **wait)
        else:
            raise PackError(f"unknown request type {request_type!r}")
        logger.info("conformance pack %s: %s %s", physical_id, request_type, data.get("ConformancePackState"))
    except Exception as error:  # every error is a FAILED answer, never an unanswered request
        status, reason = "FAILED", str(error)
        logger.error("conformance pack %s: %s failed: %s", physical_id, request_type, reason)
    answer = {
        "Status": status,
        "Reason": reason[:MAX_REASON_CHARACTERS] or f"{request_type} {status}",
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "NoEcho": False,
        "Data": data,
    }
    send(str(event.get("ResponseURL", "")), json.dumps(answer).encode("utf-8"))
