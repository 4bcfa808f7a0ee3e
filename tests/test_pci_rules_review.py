"""The rule changes of the issue-21 QSA review: each with a compliant and a non-compliant case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pci_rule_cases import DB_OK, _selector, _trail, r
from tests.test_pci_rules import _run

# --- RDS.35: the cluster's AutoMinorVersionUpgrade ---------------------------------------------------


def test_a_cluster_without_minor_upgrades_fails_and_one_with_them_passes() -> None:
    examined, failures = _run("PCI4-RDS-MINOR-UPGRADES", {"C": r("AWS::RDS::DBCluster", AutoMinorVersionUpgrade=False)})
    assert examined == 1
    assert failures == ["C: AutoMinorVersionUpgrade is false"]
    assert _run("PCI4-RDS-MINOR-UPGRADES", {"C": r("AWS::RDS::DBCluster")})[1] == []
    assert _run("PCI4-RDS-MINOR-UPGRADES", {"Db": r("AWS::RDS::DBInstance", **DB_OK)})[1] == []


# --- S3.22/S3.23: data events on every bucket, not one ----------------------------------------------

_LAMBDA = _selector("AWS::Lambda::Function")


def _basic(*values: Any) -> dict[str, Any]:
    data = [{"Type": "AWS::S3::Object", "Values": list(values)}, {"Type": "AWS::Lambda::Function", "Values": ["x"]}]
    return {"ReadWriteType": "All", "DataResources": data}


def _basic_trail(*values: Any) -> dict[str, Any]:
    trail = _trail([])
    props = trail["Trail"]["Properties"]
    del props["AdvancedEventSelectors"]
    props["EventSelectors"] = [_basic(*values)]
    return trail


LIMITED = {
    "one bucket by StartsWith": [
        _selector("AWS::S3::Object", {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::data/"]}),
        _LAMBDA,
    ],
    "one object by Equals": [
        _selector("AWS::S3::Object", {"Field": "resources.ARN", "Equals": ["arn:aws:s3:::data/key"]}),
        _LAMBDA,
    ],
    "some events by eventName": [
        _selector("AWS::S3::Object", {"Field": "eventName", "Equals": ["GetObject"]}),
        _LAMBDA,
    ],
}


@pytest.mark.parametrize("case", sorted(LIMITED))
def test_an_advanced_selector_limited_to_some_buckets_or_events_fails(case: str) -> None:
    _, failures = _run("PCI4-TRAIL-DATA-EVENTS", _trail(LIMITED[case]))
    assert any("limited to some buckets or events" in f for f in failures), failures


def test_an_advanced_selector_on_every_bucket_passes() -> None:
    every = _selector("AWS::S3::Object", {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::"]})
    assert _run("PCI4-TRAIL-DATA-EVENTS", _trail([every, _LAMBDA]))[1] == []
    assert _run("PCI4-TRAIL-DATA-EVENTS", _trail([_selector("AWS::S3::Object"), _LAMBDA]))[1] == []


@pytest.mark.parametrize("value", ["arn:aws:s3", "arn:aws:s3:::"])
def test_a_basic_selector_on_every_bucket_passes(value: str) -> None:
    assert _run("PCI4-TRAIL-DATA-EVENTS", _basic_trail(value))[1] == []


def test_a_basic_selector_on_one_bucket_fails() -> None:
    _, failures = _run("PCI4-TRAIL-DATA-EVENTS", _basic_trail("arn:aws:s3:::data/"))
    assert any("limited to some buckets or events" in f for f in failures), failures
