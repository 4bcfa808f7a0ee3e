"""Issue 19, task w19b, finding 4: distinguished names written with escapes (`\\$`, `\\,`, RFC 4514 hex
pairs), `OID.` prefixes or `OID=#hex` values compare equal to the parsed leaf certificate's names, and a
changed name still does not. Through `card_vault.mtls.check`, on real certificates built in the test."""

from __future__ import annotations

from card_vault import mtls
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vault.events import leaf_for_names

_SERIAL = 0x1F2E3D4C5B6A
_CUSTOM_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1")


def _leaf(subject: x509.Name, issuer: x509.Name) -> str:
    return leaf_for_names(subject, issuer, _SERIAL)


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
    max_size=12,  # a common name is at most 64 characters, however each is escaped
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


# --- finding 6: the masker's one normalizer takes more separators --------------------------------------

_NEW_SEPARATORS = [*"#!$%&'\"()[]{}<>@^`", "\u0301", "\u20dd", "%20", "%2D", "%2d", "&nbsp;", "&#160;", "&#45;"]


def _luhn_complete(body: str) -> str:
    digits = [int(d) for d in body]
    total = sum(d if i % 2 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(reversed(digits)))
    return body + str((10 - total % 10) % 10)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    length=st.integers(13, 19),
    separators=st.lists(st.sampled_from(_NEW_SEPARATORS), min_size=1, max_size=3),
    context=st.sampled_from(["{}", "card {} end", '{{"note": "{}"}}', "x={}&y=1"]),
)
def test_card_numbers_written_with_the_new_separators_are_masked(
    data: st.DataObject, length: int, separators: list[str], context: str
) -> None:
    from card_vault.pan import ascii_digits, find_pans, mask_pans

    number = _luhn_complete(data.draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1)))
    cuts = sorted(data.draw(st.sets(st.integers(1, length - 1), min_size=1, max_size=4)))
    parts = [number[a:b] for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
    written = "".join(separators).join(parts)
    text = context.format(written)
    assert find_pans(text)
    masked = mask_pans(text)
    assert "[PAN masked" in masked
    assert number not in ascii_digits(masked)


def _ordinary_lines(count: int) -> list[str]:
    """JSON log lines, Lambda START and REPORT lines: ISO timestamps, UUIDs, durations, counts (seeded)."""
    import datetime as dt
    import json
    import random
    import uuid

    rng = random.Random(19)
    lines = []
    for index in range(count):
        at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.uniform(0, 3e7))
        request_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        lines.append(
            [
                json.dumps(
                    {
                        "level": "INFO",
                        "timestamp": at.isoformat(timespec="milliseconds"),
                        "request_id": str(request_id),
                        "duration_ms": round(rng.uniform(0, 500), 3),
                        "status": rng.choice([200, 201, 403, 404, 422]),
                        "count": rng.randrange(1000),
                    }
                ),
                f"[{at:%Y-%m-%d %H:%M:%S},{rng.randrange(1000):03d}] START RequestId: {request_id} Version: $LATEST",
                f"REPORT RequestId: {request_id} Duration: {rng.uniform(1, 900):.2f} ms Billed Duration:"
                f" {rng.randrange(1, 900)} ms Memory Size: 512 MB Max Memory Used: {rng.randrange(60, 200)} MB",
            ][index % 3]
        )
    return lines


def test_ordinary_log_lines_are_rarely_masked() -> None:
    """The wider separators add no false positives on ordinary lines: under 2% of 3,000 are flagged (the
    flagged ones are UUIDs whose digit groups, joined by `-`, hold a Luhn-valid run, as before)."""
    from card_vault.pan import find_pans

    lines = _ordinary_lines(3000)
    flagged = sum(1 for line in lines if find_pans(line))
    assert flagged / len(lines) < 0.02
