"""Databases whose storage encryption is inherited (snapshot restores, read replicas, point-in-time restores,
replicating clusters): the templates decide it where the source is one of their encrypted databases; otherwise the
owner verifies the source and acknowledges PCI4-RDS-INHERITED-ENCRYPTION (QSA reader r21f: a fork restoring a
database could not pass the gate at all while the never-acknowledgeable PCI4-RDS-STORAGE-ENCRYPTED judged it)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pci_rules import TemplateModel, evaluate
from pci_rules.rules import RULES
from pci_rules.rules.rds import INHERITED_FROM
from tests.pci_rule_cases import DB_OK, r

BY_ID = {rule.id: rule for rule in RULES}
STORED = "PCI4-RDS-STORAGE-ENCRYPTED"
INHERITED = "PCI4-RDS-INHERITED-ENCRYPTION"
NOT_STORED = {k: v for k, v in DB_OK.items() if k != "StorageEncrypted"}


def _checks(rule_id: str, resources: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    return {c.resource.logical_id: (c.passed, c.detail) for c in result.checks}


def _source(encrypted: bool, type_: str = "AWS::RDS::DBInstance") -> dict[str, Any]:
    return r(type_, **{**DB_OK, "StorageEncrypted": encrypted})


@pytest.mark.parametrize(
    ("type_", "prop", "value"),
    [
        ("AWS::RDS::DBInstance", "SourceDBInstanceIdentifier", {"Ref": "Source"}),
        (
            "AWS::RDS::DBInstance",
            "SourceDBInstanceIdentifier",
            {"Fn::Join": ["", ["arn:aws:rds:us-east-1:111111111111:db:", {"Ref": "Source"}]]},
        ),
        ("AWS::RDS::DBCluster", "SourceDBClusterIdentifier", {"Ref": "Source"}),
        ("AWS::RDS::DBCluster", "ReplicationSourceIdentifier", {"Fn::GetAtt": ["Source", "DBClusterArn"]}),
    ],
)
@pytest.mark.parametrize("encrypted", [True, False])
def test_a_copy_of_a_database_in_the_templates_has_its_encryption(
    type_: str, prop: str, value: Any, encrypted: bool
) -> None:
    resources = {"Source": _source(encrypted, type_), "Copy": r(type_, **NOT_STORED, **{prop: value})}
    passed, detail = _checks(STORED, resources)["Copy"]
    assert passed is encrypted
    assert detail.startswith(f"a copy of S/Source ({prop}), whose storage is ")
    assert _checks(INHERITED, resources)["Copy"][0], "the templates decide it: not the owner's to verify"


def test_an_unencrypted_replica_source_fails_the_never_acknowledgeable_rule_twice() -> None:
    resources = {
        "Source": _source(False),
        "Copy": r("AWS::RDS::DBInstance", SourceDBInstanceIdentifier={"Ref": "Source"}),
    }
    failures = {k for k, (ok, _) in _checks(STORED, resources).items() if not ok}
    assert failures == {"Source", "Copy"}
    assert not BY_ID[STORED].acknowledgeable


def test_a_chain_of_copies_follows_to_the_first_source() -> None:
    resources = {
        "Source": _source(True),
        "Replica": r("AWS::RDS::DBInstance", **NOT_STORED, SourceDBInstanceIdentifier={"Ref": "Source"}),
        "ReplicaOfReplica": r("AWS::RDS::DBInstance", **NOT_STORED, SourceDBInstanceIdentifier={"Ref": "Replica"}),
    }
    assert _checks(STORED, resources)["ReplicaOfReplica"][0]


def test_a_cycle_of_copies_is_not_decided_by_the_templates() -> None:
    resources = {
        "A": r("AWS::RDS::DBCluster", **NOT_STORED, ReplicationSourceIdentifier={"Ref": "B"}),
        "B": r("AWS::RDS::DBCluster", **NOT_STORED, ReplicationSourceIdentifier={"Ref": "A"}),
    }
    assert _checks(STORED, resources) == {}
    assert {k: ok for k, (ok, _) in _checks(INHERITED, resources).items()} == {"A": False, "B": False}


@pytest.mark.parametrize(
    ("type_", "prop"),
    [(t, p) for t, props in INHERITED_FROM.items() for p in props],
)
def test_a_source_outside_the_templates_is_the_owners_to_verify(type_: str, prop: str) -> None:
    value = "arn:aws:rds:us-east-1:222222222222:db:elsewhere" if "Arn" in prop else "elsewhere-1"
    resources = {"Db": r(type_, **DB_OK, **{prop: value})}
    passed, detail = _checks(INHERITED, resources)["Db"]
    cluster_decides = type_ == "AWS::RDS::DBCluster" and prop == "SnapshotIdentifier"
    if cluster_decides:  # StorageEncrypted true and KmsKeyId: the cluster's own encryption
        assert passed
        assert _checks(STORED, resources)["Db"][0]
        return
    assert not passed
    assert "which these templates do not show" in detail
    assert _checks(STORED, resources) == {}


@given(
    encrypted=st.booleans(),
    depth=st.integers(min_value=0, max_value=4),
    outside=st.booleans(),
)
def test_every_database_is_judged_by_exactly_one_of_the_two_rules(encrypted: bool, depth: int, outside: bool) -> None:
    """Generated chains of replicas: each database is examined by the never-acknowledgeable rule when the
    templates decide its encryption and fails the acknowledgeable one otherwise, never neither."""
    first: dict[str, Any] = (
        r("AWS::RDS::DBInstance", **NOT_STORED, DBSnapshotIdentifier="snap-1") if outside else _source(encrypted)
    )
    resources: dict[str, Any] = {"Db0": first}
    for i in range(1, depth + 1):
        resources[f"Db{i}"] = r("AWS::RDS::DBInstance", **NOT_STORED, SourceDBInstanceIdentifier={"Ref": f"Db{i - 1}"})
    stored, inherited = _checks(STORED, resources), _checks(INHERITED, resources)
    for name in resources:
        if outside:
            assert name not in stored, name
            assert not inherited[name][0], name
        else:
            assert stored[name][0] is encrypted, name
            assert name == "Db0" or inherited[name][0], name
