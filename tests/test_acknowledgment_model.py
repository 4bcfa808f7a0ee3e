"""The acknowledgment model: a validated data file, selectors on what a resource is, governance, adoption."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3

from compliance.acknowledgments import ACKNOWLEDGMENTS, REGISTRY_FILE, load_registry
from compliance.applied import applied_acknowledgments, read_applied_acknowledgments
from compliance.gate import gate_zones, synthesize
from compliance.predicates import nacl_allows_ephemeral_ingress_from_anywhere
from compliance.registry import PENDING, Acknowledgment, AcknowledgmentError, apply_acknowledgments
from config import ConfigError, EnvironmentConfig, load_environment, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from tests.conftest import Synthesized, new_app

TODAY = date.today()
REVIEW_BY = TODAY + timedelta(days=90)
REASON = "Exports are written once by a job whose every call CloudTrail data events already record"


def _registry(tmp_path: Path, entries: list[dict[str, Any]], **defaults: Any) -> Path:
    path = tmp_path / "acks.yaml"
    data = {"defaults": {"owner": "platform-security", "review_by": REVIEW_BY, **defaults}, "entries": entries}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "id": "tiny-exports",
        "rule": "AwsSolutions-S1",
        "path": "Tiny/Exports",
        "reason": REASON,
        "requirement": "PCI DSS v4.0.1 10.2.1",
        **overrides,
    }
    return {key: value for key, value in entry.items() if value is not None}


def test_the_registry_is_a_data_file_every_entry_with_its_governance() -> None:
    assert REGISTRY_FILE.suffix == ".yaml"
    assert load_registry() == ACKNOWLEDGMENTS
    for entry in ACKNOWLEDGMENTS:
        assert entry.id, entry
        assert entry.owner
        assert entry.approver
        assert entry.ticket
        assert entry.approval_date == PENDING or isinstance(entry.approval_date, date)
        assert entry.approver.lower() != entry.owner.lower()


# The packs that carry one check under one name (`PCI.DSS.321-X` and `NIST.800.53.R5-X` are cdk-nag's one rule X
# in two packs); a `[...]` finding sub-ID names a finding of its rule.
_MIRRORED_PACKS = ("PCI.DSS.321-", "NIST.800.53.R5-", "HIPAA.Security-")


def _one_rule(rule: str) -> str:
    bare = rule.split("[", 1)[0]
    return next((bare.removeprefix(p) for p in _MIRRORED_PACKS if bare.startswith(p)), bare)


def test_an_id_means_one_rule_on_one_kind_of_resource(synthesized: Synthesized) -> None:
    """QSA reader r20c MEDIUM 6: `detection-config-role-iam4` covered two rules and
    `identity-platformadministrator-role-iam-no-aws-managed-policy` also the auditor's and break-glass roles: an id an
    environment adopts must mean one thing. Its rules are one check (cdk-nag's mirrored packs aside), and every
    construct it matched renders one kind of resource (its own: `<path>` or `<path>/Resource`)."""
    from pci_rules.model import TemplateModel

    by_id: dict[str, set[str]] = {}
    for entry in ACKNOWLEDGMENTS:
        by_id.setdefault(entry.id, set()).add(_one_rule(entry.rule))
    several = {entry_id: rules for entry_id, rules in by_id.items() if len(rules) > 1}
    assert several == {}
    assert by_id["detection-config-role-iam4"] == {"AwsSolutions-IAM4"}
    model = TemplateModel.from_assembly(synthesized.outdir)
    types_at: dict[str, str] = {}
    for resource in model.resources():
        types_at[resource.path] = resource.type
        types_at.setdefault(resource.path.removesuffix("/Resource"), resource.type)
    kinds: dict[str, set[str]] = {}
    for entry, paths in synthesized.gate.acknowledged_paths.items():
        for path in paths:
            if (kind := types_at.get(path.lstrip("/"))) is not None:
                kinds.setdefault(entry.id, set()).add(kind)
    assert kinds["identity-platformadministrator-role-iam-no-aws-managed-policy"] == {"AWS::IAM::Role"}
    assert {entry_id: k for entry_id, k in kinds.items() if len(k) > 1} == {}
    reason = next(e.reason for e in ACKNOWLEDGMENTS if e.id == "edge-sg-open-to-clients")
    assert "payment page" not in reason
    assert "no web page is served" in reason


def test_no_entry_names_a_nacl_entry_number_or_a_logical_id() -> None:
    for entry in ACKNOWLEDGMENTS:
        last = entry.path.rsplit("/", 1)[-1]
        assert not (last.startswith(("In", "Out")) and last[-3:].isdigit()), entry
        assert not any(c.isdigit() for c in last[-8:]) or last.startswith("AWS679f53"), entry


def test_one_entry_expands_per_rule_and_path(tmp_path: Path) -> None:
    entry = _entry(rule=None, path=None, rules=["AwsSolutions-S1", "AwsSolutions-S10"], paths=["T/A", "T/B"])
    entries = load_registry(_registry(tmp_path, [entry]))
    assert {(e.rule, e.path) for e in entries} == {
        ("AwsSolutions-S1", "T/A"),
        ("AwsSolutions-S1", "T/B"),
        ("AwsSolutions-S10", "T/A"),
        ("AwsSolutions-S10", "T/B"),
    }
    assert {e.id for e in entries} == {"tiny-exports"}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"severity": "low"}, "Extra inputs are not permitted"),
        ({"rules": ["AwsSolutions-S1"]}, "exactly one of rule or rules"),
        ({"paths": ["Tiny/Other"]}, "exactly one of path or paths"),
        ({"reason": "short"}, "at least 40 characters"),
        ({"requirement": 10}, "valid string"),
        ({"review_by": "next year"}, "review_by"),
        ({"id": "Bad Id"}, "id"),
    ],
)
def test_the_registry_file_is_validated_strictly(tmp_path: Path, overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(AcknowledgmentError, match=problem):
        load_registry(_registry(tmp_path, [_entry(**overrides)]))


def test_registry_ids_are_unique(tmp_path: Path) -> None:
    with pytest.raises(AcknowledgmentError, match="unique"):
        load_registry(_registry(tmp_path, [_entry(), _entry(path="Tiny/Other")]))


def _ack(**overrides: Any) -> Acknowledgment:
    fields: dict[str, Any] = {
        "path": "Tiny/Exports",
        "rule": "AwsSolutions-S1",
        "reason": REASON,
        "requirement": "PCI DSS v4.0.1 10.2.1",
        "owner": "platform-security",
        "review_by": REVIEW_BY,
        **overrides,
    }
    return Acknowledgment(**fields)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"approver": "Platform-Security"}, "approver must differ from the owner"),
        ({"approval_date": TODAY + timedelta(days=3)}, "approval_date .* is in the future"),
        ({"ticket": ""}, "ticket must name"),
        ({"predicate": "nacl_allows_ephemeral_ingress_from_anywhere"}, "name it"),
        ({"resource_type": "AWS::S3::Bucket", "predicate": "is_nice"}, "unknown predicate 'is_nice'"),
        ({"resource_type": "Bucket"}, "not a CloudFormation type"),
        ({"when": ("proxy_is_on",)}, r"unknown condition\(s\) \['proxy_is_on'\]"),
    ],
)
def test_governance_and_selectors_are_checked(overrides: dict[str, Any], problem: str) -> None:
    assert any(__import__("re").search(problem, p) for p in _ack(**overrides).problems()), _ack(**overrides).problems()


def test_pending_governance_is_accepted() -> None:
    assert _ack(approver=PENDING, approval_date=PENDING, ticket=PENDING).problems() == []
    assert _ack(approver="risk-committee", approval_date=TODAY, ticket="RISK-1").problems() == []


def test_a_resource_predicate_selects_by_what_the_entry_does_not_where_it_sits(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Tiny")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[])
    acl = ec2.NetworkAcl(stack, "Acl", vpc=vpc)
    for number, (cidr, low, high) in enumerate(
        [("10.0.0.0/16", 443, 443), ("0.0.0.0/0", 1024, 65535), ("0.0.0.0/0", 443, 443)], start=1
    ):
        acl.add_entry(
            f"In{number * 10}",
            cidr=ec2.AclCidr.ipv4(cidr),
            rule_number=number * 10,
            traffic=ec2.AclTraffic.tcp_port_range(low, high),
            direction=ec2.TrafficDirection.INGRESS,
        )
    entry = _ack(
        path="Tiny/Acl",
        rule="PCI4-EC2-NACL-NO-OPEN-INGRESS",
        resource_type="AWS::EC2::NetworkAclEntry",
        predicate="nacl_allows_ephemeral_ingress_from_anywhere",
    )
    matched = apply_acknowledgments(stack.node.root, [entry])  # type: ignore[arg-type]
    assert matched[entry] == ["Tiny/Acl/In20/Resource"]  # the third entry (443 from anywhere) is not excused
    entries = [c for c in acl.node.find_all() if isinstance(c, ec2.CfnNetworkAclEntry)]
    assert [nacl_allows_ephemeral_ingress_from_anywhere(c) for c in entries] == [False, True, False]


def test_a_predicate_that_selects_nothing_says_what_was_searched(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Tiny")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[])
    ec2.NetworkAcl(stack, "Acl", vpc=vpc).add_entry(
        "In100",
        cidr=ec2.AclCidr.ipv4("10.0.0.0/16"),
        rule_number=100,
        traffic=ec2.AclTraffic.tcp_port(443),
        direction=ec2.TrafficDirection.INGRESS,
    )
    entry = _ack(
        path="Tiny/Acl",
        rule="PCI4-EC2-NACL-NO-OPEN-INGRESS",
        resource_type="AWS::EC2::NetworkAclEntry",
        predicate="nacl_allows_ephemeral_ingress_from_anywhere",
    )
    with pytest.raises(AcknowledgmentError) as raised:
        apply_acknowledgments(stack.node.root, [entry])  # type: ignore[arg-type]
    message = str(raised.value)
    assert "1 of them AWS::EC2::NetworkAclEntry, none satisfying nacl_allows_ephemeral_ingress_from_anywhere" in (
        message
    )


@dataclass
class _Zone:
    config: EnvironmentConfig
    scope_path: str = ""


def _config(**fields: Any) -> EnvironmentConfig:
    return parse_environment({**EMBEDDED_ENVIRONMENTS["default"], **fields})


def _tiny_with_exports(tmp_path: Path) -> Stack:
    stack = Stack(new_app(tmp_path), "Tiny")
    s3.Bucket(stack, "Exports", enforce_ssl=True)  # no server access logging: AwsSolutions-S1
    return stack


def test_a_when_condition_applies_an_entry_only_where_its_reason_holds(tmp_path: Path) -> None:
    stack = _tiny_with_exports(tmp_path)
    behind_proxy = _ack(when=("database_proxy_enabled",))
    direct = _ack(when=("database_proxy_disabled",), reason=REASON + ", directly")
    zone = _Zone(_config())  # the default: proxy on
    gate = gate_zones(stack.node.root, [zone], acknowledgments=[behind_proxy, direct])  # type: ignore[arg-type]
    assert gate.acknowledged_paths == {behind_proxy: ["Tiny/Exports"], direct: []}
    _, report = synthesize(stack.node.root, gate)  # type: ignore[arg-type]
    assert "AwsSolutions-S1" not in {f.rule for f in report.findings}
    assert report.unused == ()


def test_adoption_changes_the_owner_in_the_evidence_never_the_verdict(tmp_path: Path) -> None:
    entry = _ack(id="tiny-exports")
    adoption = {
        "entry": "tiny-exports",
        "owner": "acme-data-platform",
        "approver": "acme-ciso",
        "ticket": "RISK-7",
        "review_by": REVIEW_BY.isoformat(),
    }
    verdicts = []
    for adopt in ([], [adoption]):
        stack = _tiny_with_exports(tmp_path / str(len(adopt)))
        gate = gate_zones(stack.node.root, [_Zone(_config(adopt=adopt))], acknowledgments=[entry])  # type: ignore[arg-type]
        _, report = synthesize(stack.node.root, gate)  # type: ignore[arg-type]
        verdicts.append((report.passed, report.findings))
        (applied,) = applied_acknowledgments(gate)
        assert applied.adopted is bool(adopt)
        assert applied.constructs == ("Tiny/Exports",)
        assert applied.governance.owner == "platform-security"
        assert applied.governance_in("").owner == ("acme-data-platform" if adopt else "platform-security")
        (read_back,) = read_applied_acknowledgments(stack.node.root.outdir)  # type: ignore[attr-defined]
        assert read_back == applied
    assert verdicts[0] == verdicts[1]
    assert "AwsSolutions-S1" not in {f.rule for f in verdicts[0][1]}  # the entry applied either way


def test_adopting_an_unknown_entry_is_refused_with_the_known_ids(tmp_path: Path) -> None:
    stack = _tiny_with_exports(tmp_path)
    config = _config(adopt=[{"entry": "no-such-entry", "owner": "acme", "review_by": REVIEW_BY.isoformat()}])
    with pytest.raises(AcknowledgmentError, match=r"adopts 'no-such-entry'.*tiny-exports"):
        gate_zones(stack.node.root, [_Zone(config)], acknowledgments=[_ack(id="tiny-exports")])  # type: ignore[arg-type]


def test_an_adoptions_own_problems_are_evidence_not_a_failure(tmp_path: Path) -> None:
    stack = _tiny_with_exports(tmp_path)
    config = _config(adopt=[{"entry": "tiny-exports", "owner": "acme", "approver": "acme", "review_by": "2020-01-01"}])
    gate = gate_zones(stack.node.root, [_Zone(config)], acknowledgments=[_ack(id="tiny-exports")])  # type: ignore[arg-type]
    (adoption,) = gate.adoptions
    assert any("expired" in p for p in adoption.problems)
    assert any("differ from the owner" in p for p in adoption.problems)
    _, report = synthesize(stack.node.root, gate)  # type: ignore[arg-type]
    assert "AwsSolutions-S1" not in {f.rule for f in report.findings}
    assert report.unused == ()


def test_environment_entries_carry_the_same_governance_fields() -> None:
    with pytest.raises(ConfigError, match="approval_date"):
        parse_environment(
            {
                **EMBEDDED_ENVIRONMENTS["default"],
                "acknowledgments": [
                    {
                        "path": "Tiny/Exports",
                        "rule": "AwsSolutions-S1",
                        "reason": REASON,
                        "requirement": "PCI DSS v4.0.1 10.2.1",
                        "owner": "acme",
                        "approval_date": "soon",
                        "review_by": REVIEW_BY.isoformat(),
                    }
                ],
            }
        )


def test_the_default_apps_applied_acknowledgments_carry_governance(synthesized: Synthesized) -> None:
    applied = applied_acknowledgments(synthesized.gate)
    registry = [a for a in applied if not a.entry.carried_by]
    assert len(registry) == len(ACKNOWLEDGMENTS) + len(synthesized.config.acknowledgments)
    assert read_applied_acknowledgments(synthesized.outdir) == applied
    rds11 = {a.id: bool(a.constructs) for a in applied if a.rule == "AwsSolutions-RDS11"}
    assert rds11 == {"database-default-port-behind-proxy": True, "database-default-port-direct": False}
    assert load_environment(None).database.enable_proxy


def test_a_fork_acknowledges_the_customer_key_rules_for_a_store_outside_the_cde(tmp_path: Path) -> None:
    """Pack 1.9.0 (QSA reader r21b item 2): a stock DynamoDB table or SQS queue outside the CDE is encrypted at
    rest with an AWS owned key; the customer-managed-key rules (related to 3.5.1.2 and 3.6.1, evidence of
    neither) are acknowledged for it like any finding, with governance. An unencrypted store still can only be
    fixed: an entry for PCI4-DOCDB-ENCRYPTED is refused."""
    from aws_cdk import aws_dynamodb as ddb
    from aws_cdk import aws_sqs as sqs

    stack = Stack(new_app(tmp_path), "Tiny")
    ddb.Table(stack, "Sessions", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING))
    sqs.Queue(stack, "Jobs")
    reason = "Holds session IDs and job names only; outside the CDE (no account data), reviewed by the QSA"
    table = _ack(path="Tiny/Sessions", rule="PCI4-DYNAMODB-KMS", reason=reason, requirement="PCI DSS v4.0.1 3.6.1")
    queue = _ack(path="Tiny/Jobs", rule="PCI4-SQS-CUSTOMER-KEY", reason=reason, requirement="PCI DSS v4.0.1 3.6.1")
    bare_gate = gate_zones(stack.node.root, [_Zone(_config())], acknowledgments=[])  # type: ignore[arg-type]
    _, bare = synthesize(stack.node.root, bare_gate)  # type: ignore[arg-type]
    found = {f.rule.split("::")[-1] for f in bare.findings}
    assert {"PCI4-DYNAMODB-KMS", "PCI4-SQS-CUSTOMER-KEY"} <= found

    stack = Stack(new_app(tmp_path / "acked"), "Tiny")
    ddb.Table(stack, "Sessions", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING))
    sqs.Queue(stack, "Jobs")
    gate = gate_zones(stack.node.root, [_Zone(_config())], acknowledgments=[table, queue])  # type: ignore[arg-type]
    assert gate.acknowledged_paths == {table: ["Tiny/Sessions"], queue: ["Tiny/Jobs"]}
    _, report = synthesize(stack.node.root, gate)  # type: ignore[arg-type]
    assert not {"PCI4-DYNAMODB-KMS", "PCI4-SQS-CUSTOMER-KEY"} & {f.rule.split("::")[-1] for f in report.findings}

    for rule in ("PCI4-DOCDB-ENCRYPTED", "PCI4-SQS-ENCRYPTED"):
        never = _ack(path="Tiny/Jobs", rule=rule, reason=reason)
        assert any("can never be acknowledged" in p for p in never.problems()), rule


def test_every_acknowledgment_cites_a_reviewed_requirement_of_its_rule() -> None:
    """QSA reader r20e (issue 20 item 1): the exception register cited requirements the finding does not concern
    (Lambda concurrency under 6.4.3 and 2.2.1, cfn-lint's hard-coded zones under 12.5.2). Each entry's requirement
    is one its rule has a reviewed reason for (compliance.requirement_review), or the registry's statement that no
    PCI DSS requirement applies."""
    from compliance.registry import NO_REQUIREMENT
    from compliance.requirement_review import REVIEWED_REQUIREMENTS, rule_family

    unreviewed = []
    for ack in ACKNOWLEDGMENTS:
        reviewed = REVIEWED_REQUIREMENTS.get(rule_family(ack.rule), {})
        cited = (
            [NO_REQUIREMENT]
            if ack.requirement == NO_REQUIREMENT
            else ack.requirement.removeprefix("PCI DSS v4.0.1 ").split(", ")
        )
        unreviewed += [(ack.id, ack.rule, requirement) for requirement in cited if requirement not in reviewed]
    assert not unreviewed
    assert all(reason.strip() for reasons in REVIEWED_REQUIREMENTS.values() for reason in reasons.values())
    by_id = {ack.id: ack.requirement for ack in ACKNOWLEDGMENTS}
    assert by_id["data-sdk-call-function-lambdaconcurrency"] == NO_REQUIREMENT
    assert by_id["identity-sdk-call-function-lambdaconcurrency"] == NO_REQUIREMENT
    assert by_id["configured-availability-zones"] == NO_REQUIREMENT
