"""QSA reader and outside CDK team's read of pack 1.12.0 (r21f): each finding with the compliant case and the one
the rule missed or misdescribed (pack 1.13.0)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pci_rules import TemplateModel, crosswalk, evaluate
from pci_rules.check import check_report
from pci_rules.rules import RULES
from tests.fork.app import WORKLOAD
from tests.pci_rule_cases import DB_OK, r
from tests.pci_rule_cases_workloads import Resources, bad, good

BY_ID = {rule.id: rule for rule in RULES}


def _failures(rule_id: str, resources: Resources) -> list[str]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    assert result.examined, f"{rule_id} examined nothing"
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


def _checks(rule_id: str, resources: Resources) -> list[tuple[str, bool, str]]:
    (result,) = evaluate(TemplateModel.from_templates({"S": {"Resources": resources}}), [BY_ID[rule_id]])
    return [(c.resource.logical_id, c.passed, c.detail) for c in result.checks]


# --- MEDIUM: the search-domain rules read AWS::OpenSearchService::Domain too --------------------------------

SEARCH_RULES = ("PCI4-ES-IN-VPC", "PCI4-ES-NODE-TO-NODE-ENCRYPTION", "PCI4-ES-TLS12")


@pytest.mark.parametrize("rule_id", SEARCH_RULES)
def test_the_fork_apps_opensearch_domain_is_examined_and_passes(rule_id: str) -> None:
    assert WORKLOAD["Search"][0] == "AWS::OpenSearchService::Domain"
    checks = _checks(rule_id, good("Search"))
    assert [(logical_id, passed) for logical_id, passed, _ in checks] == [("Search", True)]


@pytest.mark.parametrize(
    ("rule_id", "changes", "detail"),
    [
        ("PCI4-ES-IN-VPC", {"VPCOptions": None}, "not in a VPC (no VPCOptions.SubnetIds)"),
        (
            "PCI4-ES-NODE-TO-NODE-ENCRYPTION",
            {"NodeToNodeEncryptionOptions": {"Enabled": False}},
            "node-to-node traffic is not encrypted (Enabled False)",
        ),
        (
            "PCI4-ES-TLS12",
            {"DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"}},
            "HTTPS with TLS 1.2+ is not enforced (EnforceHTTPS True, TLSSecurityPolicy 'Policy-Min-TLS-1-0-2019-07')",
        ),
        (
            "PCI4-ES-TLS12",
            {"DomainEndpointOptions": {"EnforceHTTPS": False, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"}},
            "HTTPS with TLS 1.2+ is not enforced (EnforceHTTPS False, TLSSecurityPolicy 'Policy-Min-TLS-1-2-2019-07')",
        ),
    ],
)
def test_a_non_compliant_opensearch_domain_fails(rule_id: str, changes: dict[str, Any], detail: str) -> None:
    assert _failures(rule_id, bad("Search", **changes)) == [f"Search: {detail}"]


@pytest.mark.parametrize("policy", ["Policy-Min-TLS-1-2-2019-07", "Policy-Min-TLS-1-2-PFS-2023-10"])
def test_both_tls_1_2_policies_pass_an_opensearch_domain(policy: str) -> None:
    options = {"EnforceHTTPS": True, "TLSSecurityPolicy": policy}
    assert _failures("PCI4-ES-TLS12", bad("Search", DomainEndpointOptions=options)) == []


def test_the_crosswalk_names_the_opensearch_config_rules_and_keeps_the_coverage_figure() -> None:
    watched = crosswalk.watched_after_deploy()
    assert watched["PCI4-ES-IN-VPC"] == "elasticsearch-in-vpc-only, opensearch-in-vpc-only"
    assert watched["PCI4-ES-NODE-TO-NODE-ENCRYPTION"] == (
        "elasticsearch-node-to-node-encryption-check, opensearch-node-to-node-encryption-check"
    )
    assert watched["PCI4-ES-TLS12"] == "elasticsearch-https-required, opensearch-https-required"
    packs = crosswalk.watching_packs()
    assert packs["PCI4-ES-IN-VPC"][0] == (
        "elasticsearch-in-vpc-only: neither pack; opensearch-in-vpc-only: neither pack; Security Hub ES.2"
    )
    # Opensearch.2/.3/.8 are not in the PCI DSS v4.0.1 standard: no control joins the list
    assert not [c.id for c in crosswalk.controls() if c.id in ("Opensearch.2", "Opensearch.3", "Opensearch.8")]
    for control_id in ("ES.2", "ES.3", "ES.8"):
        assert "AWS::OpenSearchService::Domain" in crosswalk.mapping(control_id).note


# --- LOW: an EC2 instance with no launch template is not said to have one -----------------------------------

_INSTANCE_RULES = [
    ("PCI4-EC2-DETAILED-MONITORING", "Monitoring", "detailed monitoring is off"),
    ("PCI4-EC2-INSTANCE-PROFILE", "IamInstanceProfile", "no instance profile"),
]


@pytest.mark.parametrize(("rule_id", "key", "finding"), _INSTANCE_RULES)
def test_an_instance_without_a_launch_template_names_its_own_property(rule_id: str, key: str, finding: str) -> None:
    resources = {"Vm": r("AWS::EC2::Instance", ImageId="ami-0123456789abcdef0")}
    assert _failures(rule_id, resources) == [f"Vm: {finding} (its own {key} not set, no launch template)"]


@pytest.mark.parametrize(("rule_id", "key", "finding"), _INSTANCE_RULES)
def test_an_instance_with_a_launch_template_names_it(rule_id: str, key: str, finding: str) -> None:
    resources = {
        "Vm": r("AWS::EC2::Instance", LaunchTemplate={"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"}),
        "Template": r("AWS::EC2::LaunchTemplate", LaunchTemplateData={}),
    }
    assert _failures(rule_id, resources) == [f"Vm: {finding} (its launch template)"]
    resources["Vm"] = r("AWS::EC2::Instance", LaunchTemplate={"LaunchTemplateId": "lt-0123456789abcdef0"})
    assert _failures(rule_id, resources) == [f"Vm: {finding} (a launch template not in these templates)"]


def test_the_imdsv2_finding_says_whether_the_instance_has_a_launch_template() -> None:
    resources = {"Vm": r("AWS::EC2::Instance", ImageId="ami-0123456789abcdef0")}
    assert _failures("PCI4-EC2-INSTANCE-IMDSV2", resources) == [
        "Vm: HttpTokens None (no MetadataOptions and no launch template), not 'required'"
    ]


# --- LOW: PCI4-REDSHIFT-REQUIRE-TLS says what require_ssl is -------------------------------------------------


def _warehouse_with(value: str | None) -> Resources:
    resources = good("Warehouse", "WarehouseParams")
    parameters = [] if value is None else [{"ParameterName": "require_ssl", "ParameterValue": value}]
    resources["WarehouseParams"]["Properties"]["Parameters"] = parameters
    return resources


def test_an_explicit_require_ssl_false_is_named_not_called_unset() -> None:
    assert _failures("PCI4-REDSHIFT-REQUIRE-TLS", good("Warehouse", "WarehouseParams")) == []
    assert _failures("PCI4-REDSHIFT-REQUIRE-TLS", _warehouse_with("false")) == [
        "Warehouse: require_ssl is 'false' in its parameter group, not true"
    ]
    assert _failures("PCI4-REDSHIFT-REQUIRE-TLS", _warehouse_with(None)) == [
        "Warehouse: require_ssl is not set in its parameter group"
    ]


# --- LOW: pci_rules.check prints each finding once ------------------------------------------------------------


def test_a_finding_in_both_the_report_and_the_results_file_is_printed_once(tmp_path: Path) -> None:
    violation = {
        "ruleName": "PCI4-SQS-ENCRYPTED",
        "severity": "fatal",
        "violatingConstructs": [{"constructPath": "Small/Bare"}],
    }
    report = {"pluginReports": [{"pluginName": "PCI-DSS-v4.0.1", "violations": [violation, violation]}]}
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    findings = [
        {"rule": "PCI4-SQS-ENCRYPTED", "path": "Small/Bare", "status": "open"},
        {"rule": "PCI4-S3-ACCESS-LOGGING", "path": "Small/Plain", "status": "open"},
        {"rule": "PCI4-S3-ACCESS-LOGGING", "path": "Small/Plain", "status": "open"},
    ]
    (tmp_path / "pci-dss-v4-results.json").write_text(json.dumps({"findings": findings}))
    assert check_report(tmp_path) == [
        "PCI4-SQS-ENCRYPTED at Small/Bare: open (fatal) in validation-report.json",
        "PCI4-S3-ACCESS-LOGGING at Small/Plain: open in pci-dss-v4-results.json",
    ]


# --- LOW: a database restored from a snapshot ----------------------------------------------------------------


def _cluster(**changes: Any) -> Resources:
    properties = {**DB_OK, "Engine": "aurora-postgresql", **changes}
    return {"Db": r("AWS::RDS::DBCluster", **{k: v for k, v in properties.items() if v is not None})}


def test_a_cluster_restored_without_storage_encrypted_is_not_determinable_and_is_the_owners_to_verify() -> None:
    resources = _cluster(SnapshotIdentifier="snap-1", StorageEncrypted=None)
    (failure,) = _failures("PCI4-RDS-INHERITED-ENCRYPTION", resources)
    assert "restored from a snapshot (SnapshotIdentifier 'snap-1')" in failure
    assert "its storage encryption is its source's, which these templates do not show" in failure
    assert failure.endswith("set StorageEncrypted true and KmsKeyId to encrypt the restored cluster")
    assert BY_ID["PCI4-RDS-INHERITED-ENCRYPTION"].acknowledgeable
    assert _checks("PCI4-RDS-STORAGE-ENCRYPTED", resources) == [], "not the never-acknowledgeable rule's"


def test_a_cluster_restored_with_storage_encrypted_but_no_key_inherits_the_snapshots() -> None:
    (failure,) = _failures("PCI4-RDS-INHERITED-ENCRYPTION", _cluster(SnapshotIdentifier="snap-1", KmsKeyId=None))
    assert "its storage encryption is its source's" in failure


def test_a_cluster_restored_with_storage_encrypted_and_a_key_passes_and_says_why() -> None:
    (check,) = _checks("PCI4-RDS-STORAGE-ENCRYPTED", _cluster(SnapshotIdentifier="snap-1"))
    assert check == (
        "Db",
        True,
        "restored from a snapshot (SnapshotIdentifier) with StorageEncrypted true and KmsKeyId: encrypted with"
        " that key whatever the snapshot",
    )


@pytest.mark.parametrize("declared", [None, True])
def test_an_instance_restored_from_a_snapshot_is_the_owners_to_verify_whatever_it_declares(
    declared: bool | None,
) -> None:
    properties = {**DB_OK, "DBSnapshotIdentifier": "snap-1", "StorageEncrypted": declared}
    resources = {"Db": r("AWS::RDS::DBInstance", **{k: v for k, v in properties.items() if v is not None})}
    (failure,) = _failures("PCI4-RDS-INHERITED-ENCRYPTION", resources)
    assert "restored from a snapshot (DBSnapshotIdentifier 'snap-1')" in failure
    assert "which these templates do not show" in failure


def test_a_new_database_says_what_storage_encrypted_is() -> None:
    resources = {"Db": r("AWS::RDS::DBInstance", **{**DB_OK, "StorageEncrypted": "false"})}
    assert _failures("PCI4-RDS-STORAGE-ENCRYPTED", resources) == ["Db: StorageEncrypted is 'false', not true"]
    assert _failures("PCI4-RDS-STORAGE-ENCRYPTED", {"Db": r("AWS::RDS::DBInstance", **DB_OK)}) == []


# --- pack 1.14.0: an instance whose launch template is not in the templates ------------------------------------


def test_an_instance_whose_launch_template_is_elsewhere_is_not_passed_unread_for_its_key_pair() -> None:
    elsewhere = {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "1"}
    resources = {"Instance": r("AWS::EC2::Instance", ImageId="ami-1", LaunchTemplate=elsewhere)}
    assert _failures("PCI4-EC2-NO-KEY-PAIR", resources) == [
        "Instance: a launch template not in these templates: not read"
    ]
    own = {"Instance": r("AWS::EC2::Instance", ImageId="ami-1", LaunchTemplate=elsewhere, KeyName="ops")}
    assert _failures("PCI4-EC2-NO-KEY-PAIR", own) == ["Instance: launched with a key pair (its own)"]
    assert _failures("PCI4-EC2-NO-KEY-PAIR", {"Instance": r("AWS::EC2::Instance", ImageId="ami-1")}) == []
