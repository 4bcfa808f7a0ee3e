"""Issue 19, task w19b, finding 4: distinguished names written with escapes (`\\$`, `\\,`, RFC 4514 hex
pairs), `OID.` prefixes or `OID=#hex` values compare equal to the parsed leaf certificate's names, and a
changed name still does not. Through `card_vault.mtls.check`, on real certificates built in the test."""

from __future__ import annotations

from urllib.parse import quote

from card_vault import mtls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

_KEY = ec.generate_private_key(ec.SECP256R1())
_SERIAL = 0x1F2E3D4C5B6A
_CUSTOM_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1")


def _leaf(subject: x509.Name, issuer: x509.Name) -> str:
    import datetime as dt

    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(_KEY.public_key())
        .serial_number(_SERIAL)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        .sign(_KEY, hashes.SHA256())
    )
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode(), safe="+=/")


def _headers(subject_header: str, issuer_header: str, leaf: str) -> dict[str, str]:
    return {
        mtls.SUBJECT_HEADER: subject_header,
        mtls.ISSUER_HEADER: issuer_header,
        mtls.SERIAL_HEADER: f"{_SERIAL:x}",
        mtls.LEAF_HEADER: leaf,
    }


SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pay, Inc."),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client-3"),
        x509.NameAttribute(_CUSTOM_OID, "abc"),
        x509.NameAttribute(NameOID.COMMON_NAME, "client$1.com"),
    ]
)
ISSUER = x509.Name(
    [x509.NameAttribute(NameOID.COMMON_NAME, "Demo CA+1"), x509.NameAttribute(NameOID.COUNTRY_NAME, "GB")]
)
LEAF = _leaf(SUBJECT, ISSUER)
OID = _CUSTOM_OID.dotted_string


def test_escaped_spellings_of_the_leafs_names_are_accepted() -> None:
    """The red team's `CN=client\\$1.com` and the other spellings RFC 2253 / 4514 renderers use."""
    issuer = r"C=GB,CN=Demo CA\+1"
    for subject in (
        rf"CN=client\$1.com,{OID}=abc,OU=client-3,O=Pay\, Inc.,C=US",  # `\$`: escaped, though not special
        rf"CN=client\241.com,{OID}=abc,OU=client-3,O=Pay\2C Inc.,C=US",  # hex pairs
        rf"CN=client\241.com,{OID}=abc,OU=client-3,O=Pay\2c Inc.,C=US",  # lower-case hex pairs
        rf"CN=client$1.com,OID.{OID}=abc,OU=client-3,O=Pay\, Inc.,C=US",  # OpenSSL's OID. prefix
        rf"CN=client$1.com,{OID}=#0c03616263,OU=client-3,O=Pay\, Inc.,C=US",  # OID=#hex (UTF8String "abc")
        rf"CN=client$1.com,{OID}=#1303616263,OU=client-3,O=Pay\, Inc.,C=US",  # #hex PrintableString "abc"
        SUBJECT.rfc4514_string(),
    ):
        assert mtls.check(_headers(subject, issuer, LEAF), mode="verify") is None, subject


def test_changed_names_are_still_refused() -> None:
    issuer = r"C=GB,CN=Demo CA\+1"
    for subject in (
        rf"CN=client\$2.com,{OID}=abc,OU=client-3,O=Pay\, Inc.,C=US",
        rf"CN=client\242.com,{OID}=abc,OU=client-3,O=Pay\2C Inc.,C=US",
        rf"CN=client$1.com,{OID}=#0c03616264,OU=client-3,O=Pay\, Inc.,C=US",  # "abd"
        rf"CN=client$1.com,{OID}=#0c0461626364,OU=client-3,O=Pay\, Inc.,C=US",  # "abcd"
        rf"CN=client$1.com,{OID}=#0c0361626,OU=client-3,O=Pay\, Inc.,C=US",  # odd hex
        rf"CN=client$1.com,{OID}=abc,OU=client-3,O=Pay\, Inc.",  # an RDN fewer
        rf"OU=client-3,CN=client$1.com,{OID}=abc,O=Pay\, Inc.,C=US",  # RDNs reordered
        rf"CN=client$1.com,{OID}=abc,OU=client-3,O=Pay\=#0c03616263,C=US",  # `\=#` is a value, not hex
    ):
        reason = mtls.check(_headers(subject, issuer, LEAF), mode="verify")
        assert reason == "client certificate subject does not match its leaf", subject
    other_issuer = r"C=GB,CN=Demo CA\+2"
    reason = mtls.check(_headers(SUBJECT.rfc4514_string(), other_issuer, LEAF), mode="verify")
    assert reason == "client certificate issuer does not match its leaf"


def _escape_everything(value: str) -> str:
    """`value` with every character but letters and digits written as a backslash escape: specials as
    `\\c`, others as `\\c` or as their UTF-8 hex pairs, alternately."""
    out = []
    for index, char in enumerate(value):
        if char.isascii() and char.isalnum():
            out.append(char)
        elif char in ',+"\\<>;=# ' or index % 2:
            out.append("\\" + char)
        else:
            out.append("".join(f"\\{byte:02x}" for byte in char.encode("utf-8")))
    return "".join(out)


_VALUES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x00"),
    min_size=1,
    max_size=24,
).filter(lambda v: v.strip() == v)


@settings(max_examples=150, deadline=None)
@given(common_name=_VALUES, organization=_VALUES, other=_VALUES)
def test_any_escaped_spelling_names_the_same_certificate_and_no_other(
    common_name: str, organization: str, other: str
) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    header = f"CN={_escape_everything(common_name)},O={_escape_everything(organization)}"
    assert mtls.name_matches(header, subject)
    if other != common_name:
        assert not mtls.name_matches(f"CN={_escape_everything(other)},O={_escape_everything(organization)}", subject)
