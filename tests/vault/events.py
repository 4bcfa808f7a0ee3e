"""ALB events and a Lambda context, as the load balancer and the runtime hand them to the handlers."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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


# The serial number of every test client's leaf (X-Amzn-Mtls-Clientcert-Serial-Number, hexadecimal).
LEAF_SERIAL = 0x19A0_2026


@functools.cache
def _leaf_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def client_leaf(subject: str, issuer: str, serial: int = LEAF_SERIAL) -> str | None:
    """`X-Amzn-Mtls-Clientcert-Leaf` for a certificate of `subject` issued by `issuer`: URL-encoded PEM
    with `+=/` left as they are, as the load balancer sends it ("Mutual authentication with TLS in
    Application Load Balancer", ELB User Guide). None when either is no distinguished name. Signed by a
    key of the test session: the load balancer, not the vault, verifies the chain."""
    try:
        subject_name = x509.Name.from_rfc4514_string(subject)
        issuer_name = x509.Name.from_rfc4514_string(issuer)
    except ValueError:
        return None
    return leaf_for_names(subject_name, issuer_name, serial)


def leaf_for_names(subject_name: x509.Name, issuer_name: x509.Name, serial: int = LEAF_SERIAL) -> str:
    """`client_leaf` for names already parsed (names a string form would not round-trip)."""
    key = _leaf_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode(), safe="+=/")


def certificate_headers(subject: str, issuer: str, serial: int = LEAF_SERIAL) -> dict[str, str]:
    """The four headers the load balancer adds in verify mode for one client certificate (the leaf's
    subject, issuer and serial number, and the leaf itself; only subject and issuer when they are no names)."""
    headers = {"x-amzn-mtls-clientcert-subject": subject, "x-amzn-mtls-clientcert-issuer": issuer}
    leaf = client_leaf(subject, issuer, serial)
    if leaf is not None:
        headers["x-amzn-mtls-clientcert-serial-number"] = f"{serial:X}"
        headers["x-amzn-mtls-clientcert-leaf"] = leaf
    return headers


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
    """The event of a target group with multi-value headers on: `multiValueHeaders`, no `headers`; with
    `subject`, the certificate headers of verify mode for it (`certificate_headers`), which `headers` may replace.

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
        all_headers.update(certificate_headers(subject, issuer))
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
