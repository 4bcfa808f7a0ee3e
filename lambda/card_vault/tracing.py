"""X-Ray subsegments that record timing and outcome, never data (PCI DSS v4.0.1 3.3, 3.4.1, 10.2).

The vault writes its own subsegment documents to the X-Ray daemon that Lambda runs beside the
function, under the function's segment, instead of going through the X-Ray SDK:

- the SDK's recorder builds a botocore X-Ray client for centralized sampling when it is imported
  (about 200 ms of every cold start, measured with `python -X importtime`), which Lambda never
  uses: Lambda decides the sampling and passes it in `_X_AMZN_TRACE_ID`;
- the SDK's `in_subsegment` records any exception that leaves it, message and stack included, and
  Powertools' decorators record a function's return value (a detokenize answer holds a card number).

What a document can hold is fixed here, field by field: name, IDs, times, `fault` / `error` /
`throttle` flags and string annotations the code sets (the service, an exception's type name), and
for an AWS SDK call the service, operation, region, request ID and HTTP status. No argument, return
value, request or response body, or exception message is ever put in a document.

AWS docs: X-Ray Developer Guide, "Sending trace data to AWS X-Ray" (segment and subsegment
documents, the daemon's UDP header `{"format": "json", "version": 1}`) and "AWS X-Ray segment
documents" (fields, `namespace: aws`, the `aws` and `http` objects, name characters); Lambda
Developer Guide, "Visualize Lambda function invocations using AWS X-Ray" and "Defined runtime
environment variables" (`_X_AMZN_TRACE_ID`, `AWS_XRAY_DAEMON_ADDRESS`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from card_vault.pan import find_pans

P = ParamSpec("P")
R = TypeVar("R")

SERVICE = "card-vault"
DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
DEFAULT_DAEMON = ("127.0.0.1", 2000)
_ROOT = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_ID = re.compile(r"^[0-9a-f]{16}$")
_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9_]{1,500}$")

# The innermost open subsegment of this thread (or task): what a nested subsegment hangs from.
_current: ContextVar[Subsegment | None] = ContextVar("card_vault_subsegment", default=None)
_socket_lock = threading.Lock()
_socket: socket.socket | None = None


@dataclass(frozen=True)
class TraceContext:
    """The function segment's trace ID and segment ID from `_X_AMZN_TRACE_ID` (only when sampled)."""

    root: str
    parent: str


def subsegment_id() -> str:
    """A new subsegment ID (16 hex digits, X-Ray segment documents) that the vault's one normalizer does not
    read as a card number: about 1 in 2,700 random IDs is all decimal digits, and some of those pass Luhn, so
    the leak guard could not tell an ID from a PAN; drawing again costs nothing (red team r19g)."""
    while True:
        candidate = os.urandom(8).hex()
        if not find_pans(candidate):
            return candidate


def trace_context() -> TraceContext | None:
    """The invocation's trace context, or None when this invocation is not traced.

    Lambda sets `_X_AMZN_TRACE_ID` (`Root=1-...;Parent=<16 hex>;Sampled=1`) for each invocation
    of a function with active tracing; `AWS_XRAY_SDK_ENABLED=false` turns tracing off as it does
    for the SDK.
    """
    if os.environ.get("AWS_XRAY_SDK_ENABLED", "").strip().lower() == "false":
        return None
    parts = dict(p.split("=", 1) for p in os.environ.get("_X_AMZN_TRACE_ID", "").split(";") if "=" in p)
    root, parent = parts.get("Root", ""), parts.get("Parent", "")
    if parts.get("Sampled") != "1" or not _ROOT.match(root) or not _ID.match(parent):
        return None
    # A trace ID's Root can come from a client's X-Amzn-Trace-Id header ("Request tracing for your Application
    # Load Balancer", ELB User Guide: a header with a Root field is kept), and `1-<8 hex>-<24 hex>` of decimal
    # digits is one digit run to the normalizer: a client could write a card number into every document this
    # invocation sends. Such an invocation is not traced (red team r19g); its logs still mask the ID.
    if find_pans(root) or find_pans(parent):
        return None
    return TraceContext(root=root, parent=parent)


def daemon_address() -> tuple[str, int]:
    """`AWS_XRAY_DAEMON_ADDRESS` as (host, port): `host:port`, or the UDP part of `tcp:... udp:...`."""
    raw = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "").strip()
    for part in raw.split():
        if part.startswith("udp:"):
            raw = part.removeprefix("udp:")
            break
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit():
        return DEFAULT_DAEMON
    return host, int(port)


def _send(document: dict[str, Any]) -> None:
    """One UDP datagram to the daemon; a tracing failure never fails the function."""
    global _socket
    payload = DAEMON_HEADER + json.dumps(document, separators=(",", ":")).encode()
    try:
        with _socket_lock:
            if _socket is None:
                _socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _socket.sendto(payload, daemon_address())
    except OSError:
        pass


@dataclass
class Subsegment:
    """An open subsegment: only the fields below ever reach a document."""

    name: str
    trace: TraceContext
    parent_id: str
    id: str = field(default_factory=lambda: subsegment_id())
    start_time: float = field(default_factory=time.time)
    annotations: dict[str, str] = field(default_factory=dict)
    fault: bool = False
    error: bool = False
    throttle: bool = False
    aws: dict[str, str] | None = None
    http_status: int | None = None

    def annotate(self, key: str, value: str) -> None:
        if not _ANNOTATION_KEY.match(key):
            raise ValueError(f"annotation key {key!r}: letters, digits and underscores only")
        self.annotations[key] = value

    def document(self, end_time: float) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace.root,
            "parent_id": self.parent_id,
            "type": "subsegment",
            "start_time": self.start_time,
            "end_time": end_time,
        }
        for flag in ("fault", "error", "throttle"):
            if getattr(self, flag):
                document[flag] = True
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.aws is not None:
            document["namespace"] = "aws"
            document["aws"] = dict(self.aws)
        if self.http_status is not None:
            document["http"] = {"response": {"status": self.http_status}}
        return document


def open_subsegment(name: str) -> Subsegment | None:
    """A subsegment under the current one (or the function segment); None when not traced."""
    trace = trace_context()
    if trace is None:
        return None
    parent = _current.get()
    parent_id = parent.id if parent is not None and parent.trace == trace else trace.parent
    return Subsegment(name=name[:200], trace=trace, parent_id=parent_id)


def close_subsegment(subsegment: Subsegment) -> None:
    _send(subsegment.document(time.time()))


@contextmanager
def subsegment(name: str) -> Iterator[Subsegment | None]:
    """Run the block in a subsegment; an exception marks it a fault, recorded by type name only."""
    opened = open_subsegment(name)
    if opened is None:
        yield None
        return
    token = _current.set(opened)
    try:
        yield opened
    except BaseException as err:
        opened.fault = True
        opened.annotate("ErrorType", type(err).__name__)  # a type name is code, not data
        raise
    finally:
        _current.reset(token)
        close_subsegment(opened)


def traced(function: Callable[P, R]) -> Callable[..., R]:
    """Run `function` in a subsegment `## <name>` that records no return value and no exception text.

    Typed `Callable[..., R]` as Powertools' decorators are: a handler's context may be any object
    with the Lambda context's attributes (the local server's, the tests').
    """
    name = f"## {function.__name__}"

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with subsegment(name) as opened:
            if opened is not None:
                opened.annotate("Service", SERVICE)
            return function(*args, **kwargs)

    return wrapper


# --- AWS SDK calls -----------------------------------------------------------------------------

_CONTEXT_KEY = "card_vault_subsegment"


def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    opened = open_subsegment(str(model.service_model.service_id))
    if opened is None:
        return
    opened.aws = {"operation": str(model.name)}
    if isinstance(context.get("client_region"), str):
        opened.aws["region"] = context["client_region"]
    context[_CONTEXT_KEY] = opened
    # The downstream service links its own segment to this subsegment (header not signed by SigV4).
    params.setdefault("headers", {})["X-Amzn-Trace-Id"] = f"Root={opened.trace.root};Parent={opened.id};Sampled=1"


def _after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    opened = context.pop(_CONTEXT_KEY, None)
    if not isinstance(opened, Subsegment):
        return
    metadata = parsed.get("ResponseMetadata") or {}
    status = getattr(http_response, "status_code", None) or metadata.get("HTTPStatusCode")
    if isinstance(status, int):
        opened.http_status = status
        opened.throttle = status == 429
        opened.error = 400 <= status < 500
        opened.fault = status >= 500
    if opened.aws is not None and isinstance(metadata.get("RequestId"), str):
        opened.aws["request_id"] = metadata["RequestId"]
    close_subsegment(opened)


def _after_call_error(context: dict[str, Any], exception: BaseException, **_: Any) -> None:
    opened = context.pop(_CONTEXT_KEY, None)
    if isinstance(opened, Subsegment):
        opened.fault = True
        opened.annotate("ErrorType", type(exception).__name__)
        close_subsegment(opened)


def trace_aws_calls(session: Any) -> None:
    """Record each AWS SDK call of the clients `session` (boto3 or botocore) creates from now on.

    botocore's events: `before-call` (the request dict, before signing), `after-call` (the HTTP
    response and the parsed answer) and `after-call-error` (the call raised, e.g. no connection).
    Only the operation name, region, request ID and status are kept: never a parameter or a field
    of the answer (a KMS answer holds key material).
    """
    events = session.events
    events.register("before-call", _before_call, unique_id="card-vault-trace-before-call")
    events.register("after-call", _after_call, unique_id="card-vault-trace-after-call")
    events.register("after-call-error", _after_call_error, unique_id="card-vault-trace-after-call-error")
