"""The load balancer's client-certificate headers, cross-checked against the leaf certificate it forwards.

In mutual TLS verify mode the Application Load Balancer authenticates the client certificate during the
handshake and adds these headers to the request it forwards ("Mutual authentication with TLS in
Application Load Balancer", ELB User Guide, HTTP headers):

- `X-Amzn-Mtls-Clientcert-Serial-Number`: a hexadecimal representation of the leaf's serial number;
- `X-Amzn-Mtls-Clientcert-Issuer` / `-Subject`: RFC 2253 strings of the issuer's and subject's
  distinguished names;
- `X-Amzn-Mtls-Clientcert-Leaf`: the leaf certificate, URL-encoded PEM "with +=/ as safe characters"
  (so `+` is a plus sign, never a space: decoded with `unquote`, not `unquote_plus`).

The vault authorizes on subject and issuer. A client that wrote its own copy of one of those headers
(red team r19b: the guide does not say the load balancer removes client-sent copies) would have to
write a matching leaf, serial number, subject and issuer together: `check` refuses a request whose
subject, issuer or serial number does not match the leaf, and in verify mode one without a leaf or with
a leaf that does not parse. The leaf's signature is not verified here: the load balancer verified the
chain against the trust store during the handshake, and the check is that the headers all describe one
certificate.

Distinguished names are compared as parsed names (`x509.Name.from_rfc4514_string`, RFC 4514 being the
successor of RFC 2253), or as the string `cryptography` renders for the leaf; serial numbers as integers.
The reasons returned are fixed strings: no header value is ever echoed or logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote

from cryptography import x509

SUBJECT_HEADER = "x-amzn-mtls-clientcert-subject"
ISSUER_HEADER = "x-amzn-mtls-clientcert-issuer"
SERIAL_HEADER = "x-amzn-mtls-clientcert-serial-number"
LEAF_HEADER = "x-amzn-mtls-clientcert-leaf"
CERTIFICATE_HEADERS = frozenset({SUBJECT_HEADER, ISSUER_HEADER, SERIAL_HEADER, LEAF_HEADER})
# A leaf certificate is a few kilobytes; a larger header value is refused unparsed.
MAX_LEAF_CHARS = 32_768
MtlsMode = Literal["verify", "headers"]


@dataclass(frozen=True)
class Leaf:
    """What the check reads of a parsed leaf certificate."""

    subject: x509.Name
    issuer: x509.Name
    serial_number: int


@lru_cache(maxsize=256)
def parse_leaf(value: str) -> Leaf | None:
    """The leaf of an `X-Amzn-Mtls-Clientcert-Leaf` value (URL-encoded PEM), or None when it is not one
    certificate. Cached: a client sends the same leaf on every request."""
    if len(value) > MAX_LEAF_CHARS:
        return None
    try:
        pem = unquote(value, errors="strict").encode("ascii", errors="replace")
        if pem.count(b"-----BEGIN CERTIFICATE-----") != 1:
            return None
        cert = x509.load_pem_x509_certificate(pem)
        return Leaf(cert.subject, cert.issuer, cert.serial_number)
    except (ValueError, TypeError):  # bad escapes, not PEM, not DER inside, a name that does not decode
        return None


# RFC 4514 2.4 / RFC 2253 2.4: a backslash escapes one of these, or starts a pair of hex digits.
_SPECIAL = frozenset(',+"\\<>;=# ')
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
# OpenSSL-style `OID.1.2.3=` attribute types (RFC 4514 3 writes the dotted number alone).
_OID_PREFIX = re.compile(r"(^|(?<!\\)[,+])\s*OID\.(?=[0-9])", re.IGNORECASE)


def _parseable(header: str) -> str:
    """`header` with an escaped character that RFC 4514 does not list (`\\$`, which RFC 2253 renderers
    write) turned into its UTF-8 hex pairs, which `cryptography`'s parser takes, and `OID.` prefixes dropped."""

    def pairs(match: re.Match[str]) -> str:
        char = match.group(1)
        if char in _SPECIAL or char in _HEX:
            return match.group(0)
        return "".join(f"\\{byte:02x}" for byte in char.encode("utf-8"))

    return _HEX_VALUE.sub(_decoded_value, _OID_PREFIX.sub(r"\1", _ESCAPED.sub(pairs, header)))


# An `=#hex` value (RFC 4514 2.4: the BER encoding of the value) of one of these string types.
_HEX_VALUE = re.compile(r"(?<!\\)=#([0-9A-Fa-f]{4,1024})(?=[,+]|$)")
_STRING_TAGS = {
    0x0C: "utf-8",
    0x12: "ascii",
    0x13: "ascii",
    0x14: "latin-1",
    0x16: "ascii",
    0x1A: "ascii",
    0x1C: "utf-32-be",
    0x1E: "utf-16-be",
}


def _decoded_value(match: re.Match[str]) -> str:
    """`=` and the value a `#hex` string-type DER value encodes, every byte as a hex pair; unchanged otherwise."""
    der = bytes.fromhex(match.group(1)) if len(match.group(1)) % 2 == 0 else b""
    if len(der) < 2 or der[0] not in _STRING_TAGS or der[1] >= 0x80 or der[1] != len(der) - 2:
        return match.group(0)  # not a short-form string value: left as it is (it then matches no leaf name)
    try:
        text = der[2:].decode(_STRING_TAGS[der[0]])
    except UnicodeDecodeError:
        return match.group(0)
    return "=" + "".join(f"\\{byte:02x}" for byte in text.encode("utf-8"))


def _attributes(name: x509.Name) -> tuple[frozenset[tuple[str, str | bytes]], ...]:
    """A name as its RDNs' (dotted OID, value) sets: the ASN.1 string type (a `#hex` value's own tag) aside."""
    return tuple(frozenset((a.oid.dotted_string, a.value) for a in rdn) for rdn in name.rdns)


@lru_cache(maxsize=512)
def name_matches(header: str, name: x509.Name) -> bool:
    """Whether an RFC 2253 / RFC 4514 header value names `name`: as `cryptography` renders it, or parsed and
    compared attribute by attribute (OID and value, in RDN order), escapes decoded first (`\\,`, `\\$`,
    hex pairs such as `\\2C`) and `OID=#hex` values read as the DER value they encode. Cached (names are
    hashable): a client sends the same pair on every request. Never raises: an unparseable value is False."""
    if header == name.rfc4514_string():
        return True
    try:
        return _attributes(x509.Name.from_rfc4514_string(_parseable(header))) == _attributes(name)
    except ValueError:
        return False


def serial_matches(header: str, serial_number: int) -> bool:
    """Whether a hexadecimal header value (case, leading zeros and `:` separators aside) is `serial_number`."""
    digits = header.replace(":", "").strip()
    if not digits or len(digits) > 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return False
    return int(digits, 16) == serial_number


def check(headers: Mapping[str, str], *, mode: MtlsMode) -> str | None:
    """None when the certificate headers describe one leaf, else a fixed reason for the 403.

    `headers` are the request's (lower-case names, one value each: repeats are refused before this).
    `verify` (the deployed vault) needs the leaf; `headers` (local runs only) checks a leaf when one is sent.
    """
    leaf_value = headers.get(LEAF_HEADER)
    if not leaf_value:
        return "client certificate leaf missing" if mode == "verify" else None
    leaf = parse_leaf(leaf_value)
    if leaf is None:
        return "client certificate leaf unparseable"
    if not name_matches(headers.get(SUBJECT_HEADER) or "", leaf.subject):
        return "client certificate subject does not match its leaf"
    if not name_matches(headers.get(ISSUER_HEADER) or "", leaf.issuer):
        return "client certificate issuer does not match its leaf"
    if not serial_matches(headers.get(SERIAL_HEADER) or "", leaf.serial_number):
        return "client certificate serial number does not match its leaf"
    return None
