"""Findings the gate used to miss: a role whose boundary an escape hatch removed, all-ports egress."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from compliance.gate import GateReport, register_gates, synthesize
from tests.conftest import Synthesized, new_app


@jsii.implements(IAspect)
class _DropBoundary:
    """An escape hatch that runs after every other Aspect and deletes the rendered boundary."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::IAM::Role":
            node.add_property_deletion_override("PermissionsBoundary")


def _gate(stack: Stack) -> GateReport:
    app = stack.node.root
    _, report = synthesize(app, register_gates(app, acknowledgments=()))  # type: ignore[arg-type]
    return report


def _rules_at(report: GateReport, path: str) -> set[str]:
    return {f.rule for f in report.findings if f.path.startswith(path)}


def test_a_boundary_removed_by_an_escape_hatch_fails_the_gate(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path / "bad"), "Roles")
    boundary = iam.ManagedPolicy.from_managed_policy_name(stack, "Boundary", "pcilz-boundary")
    iam.Role(stack, "Kept", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), permissions_boundary=boundary)
    iam.Role(stack, "Dropped", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), permissions_boundary=boundary)
    Aspects.of(stack.node.find_child("Dropped")).add(_DropBoundary(), priority=1000)  # after the boundary's own
    report = _gate(stack)
    assert "PCI4-IAM-PERMISSIONS-BOUNDARY" in _rules_at(report, "Roles/Dropped")
    assert "PCI4-IAM-PERMISSIONS-BOUNDARY" not in _rules_at(report, "Roles/Kept")


def test_every_role_of_the_default_app_keeps_its_boundary(synthesized: Synthesized) -> None:
    roles = [
        (name, logical)
        for name, template in synthesized.templates()
        for logical, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::IAM::Role"
    ]
    assert roles
    missing = [
        (name, logical)
        for name, template in synthesized.templates()
        for logical, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::IAM::Role" and not resource["Properties"].get("PermissionsBoundary")
    ]
    assert not missing
    assert not [f for f in synthesized.report.acknowledged if f.rule.endswith("PCI4-IAM-PERMISSIONS-BOUNDARY")]


def test_all_ports_egress_to_the_internet_fails_the_gate_but_one_port_passes(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Groups")
    vpc = ec2.Vpc(
        stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[], restrict_default_security_group=False
    )
    wide = ec2.SecurityGroup(stack, "Wide", vpc=vpc, allow_all_outbound=False)
    wide.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.all_tcp(), "every TCP port out")
    narrow = ec2.SecurityGroup(stack, "Narrow", vpc=vpc, allow_all_outbound=False)
    narrow.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS out")
    report = _gate(stack)
    assert "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS" in _rules_at(report, "Groups/Wide")
    assert "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS" not in _rules_at(report, "Groups/Narrow")
