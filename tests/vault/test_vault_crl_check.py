"""The client-CRL check (`card_vault.crl_check`, issue 19 finding 9): reads the configured object version from
S3 (moto), parses it with `cryptography`, reports the days to `nextUpdate` as an EMF metric, and fails the
invocation when the object cannot be read or parsed. No AWS call leaves the process."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from typing import Any

import pytest
from card_vault import crl_check
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.vault.conftest import Aws
from tests.vault.events import FakeContext

BUCKET = "pci-lz-test-client-crl"
_BUCKETS = itertools.count()
KEY = "clients/crl.pem"


def _crl(next_update_in: dt.timedelta) -> bytes:
    """A PEM CRL signed by a throwaway CA, `nextUpdate` that far from now (negative: passed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Corp Client CA")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(now - dt.timedelta(days=30) + min(next_update_in, dt.timedelta(0)))
        .next_update(now + next_update_in)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def crl_object(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh versioned bucket (moto's mock lives for the module), named in the function's environment."""
    bucket = f"{BUCKET}-{next(_BUCKETS)}"
    s3 = aws.session.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.session.region_name})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("VAULT_CRL_BUCKET", bucket)
    monkeypatch.setenv("VAULT_CRL_KEY", KEY)
    monkeypatch.setenv("VAULT_CRL_WARN_DAYS", "14")
    return bucket


def _put(aws: Aws, body: bytes, monkeypatch: pytest.MonkeyPatch) -> str:
    bucket = os.environ["VAULT_CRL_BUCKET"]
    version = str(aws.session.client("s3").put_object(Bucket=bucket, Key=KEY, Body=body)["VersionId"])
    monkeypatch.setenv("VAULT_CRL_VERSION", version)
    return version


def _context() -> Any:
    """The runtime's context object, as the tests' fake stands in for it."""
    return FakeContext(function_name="card-vault-crl-check")


def _output(capfd: pytest.CaptureFixture[str]) -> str:
    """What the function printed (its log lines and EMF), printed again for the suite's PAN guard."""
    out = capfd.readouterr().out
    print(out, end="")
    return out


def _emf(out: str) -> list[float]:
    values: list[float] = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if crl_check.DAYS_METRIC in document:
                assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == crl_check.METRIC_NAMESPACE
                value = document[crl_check.DAYS_METRIC]
                values.extend(float(v) for v in (value if isinstance(value, list) else [value]))
    return values


@pytest.mark.usefixtures("crl_object")
@pytest.mark.parametrize(
    ("days", "status"), [(60, "ok"), (15, "ok"), (13, "due"), (1, "due"), (-2, "expired")], ids=str
)
def test_the_check_reports_the_days_to_next_update(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], days: int, status: str
) -> None:
    _put(aws, _crl(dt.timedelta(days=days, hours=1)), monkeypatch)
    answer = crl_check.handler({}, _context())
    assert answer["status"] == status
    assert answer["warn_days"] == 14
    assert days < answer["days_left"] < days + 1.1
    emitted = _emf(_output(capfd))
    assert len(emitted) == 1
    assert emitted[0] == pytest.approx(answer["days_left"], abs=0.01)


@pytest.mark.usefixtures("crl_object")
def test_the_configured_version_is_read_not_the_latest(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """The load balancer holds the version the deploy named: a newer upload is not what it serves."""
    deployed = _put(aws, _crl(dt.timedelta(days=3)), monkeypatch)
    _put(aws, _crl(dt.timedelta(days=90)), monkeypatch)
    monkeypatch.setenv("VAULT_CRL_VERSION", deployed)
    assert crl_check.handler({}, _context())["status"] == "due"


@pytest.mark.usefixtures("crl_object")
@pytest.mark.parametrize(
    ("body", "version", "reason"),
    [
        (b"-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n", None, "not a PEM-encoded CRL"),
        (None, "no-such-version", "s3:GetObject of the configured version failed"),
    ],
    ids=["not-a-crl", "missing-version"],
)
def test_an_unreadable_crl_fails_the_invocation(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    body: bytes | None,
    version: str | None,
    reason: str,
) -> None:
    _put(aws, body or _crl(dt.timedelta(days=30)), monkeypatch)
    if version is not None:
        monkeypatch.setenv("VAULT_CRL_VERSION", version)
    with pytest.raises(crl_check.CrlUnreadableError, match=reason):
        crl_check.handler({}, _context())
    assert _emf(_output(capfd)) == []  # no datapoint: the alarm treats the missing data as breaching


def test_the_days_are_measured_to_the_lists_own_next_update() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pem = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(now - dt.timedelta(days=1))
        .next_update(now + dt.timedelta(days=7, hours=12))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    next_update, days = crl_check.days_to_next_update(pem, now)
    assert next_update == now + dt.timedelta(days=7, hours=12)
    assert days == 7.5
    with pytest.raises(crl_check.CrlUnreadableError, match="not a PEM-encoded CRL"):
        crl_check.days_to_next_update(b"not pem", now)
