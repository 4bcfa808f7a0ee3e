"""Findings the gate used to miss: a role whose boundary an escape hatch removed, all-ports egress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_targets as elb_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from compliance.gate import GateReport, register_gates, synthesize
from tests.conftest import Synthesized, new_app
from tests.template_scan import functions_with_open_egress, functions_without_active_tracing


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


# --- Issue #18 scanner kinds 1 and 2: a service's invoke permission without a source; a function's
# security group open to the internet.


def _function(stack: Stack, name: str, **props: object) -> lambda_.Function:
    return lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        **props,  # type: ignore[arg-type]
    )


def test_a_load_balancer_permission_without_a_source_fails_the_gate(tmp_path: Path) -> None:
    """CDK's own LambdaTarget grants elasticloadbalancing.amazonaws.com with no SourceArn/SourceAccount."""
    stack = Stack(new_app(tmp_path), "Targets", env={"account": "111111111111", "region": "us-east-1"})
    bare = _function(stack, "Bare")
    elbv2.ApplicationTargetGroup(
        stack, "BareTargets", target_type=elbv2.TargetType.LAMBDA, targets=[elb_targets.LambdaTarget(bare)]
    )
    scoped = _function(stack, "Scoped")
    scoped.add_permission(
        "FromAlb",
        principal=iam.ServicePrincipal("elasticloadbalancing.amazonaws.com"),
        source_arn="arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/scoped/*",
        source_account="111111111111",
    )
    report = _gate(stack)
    assert "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE" in _rules_at(report, "Targets/Bare")
    assert "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE" not in _rules_at(report, "Targets/Scoped")


def test_every_service_permission_of_the_default_app_names_its_source(synthesized: Synthesized) -> None:
    permissions = [
        (name, logical, resource["Properties"])
        for name, template in synthesized.templates()
        for logical, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::Lambda::Permission"
    ]
    services = [p for p in permissions if str(p[2]["Principal"]).endswith(".amazonaws.com")]
    assert services
    assert not [p for p in services if "SourceArn" not in p[2] and "SourceAccount" not in p[2]]
    alb = [p for _, _, p in services if p["Principal"] == "elasticloadbalancing.amazonaws.com"]
    assert alb
    for permission in alb:  # both: the target group by its fixed name, and this account
        assert "targetgroup/pcilz-default-api/*" in json.dumps(permission["SourceArn"])
        assert permission["SourceAccount"] == synthesized.config.account


def test_a_function_on_a_group_open_to_the_internet_is_caught(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Functions", env={"account": "111111111111", "region": "us-east-1"})
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, restrict_default_security_group=False)
    subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    tier = ec2.SecurityGroup(stack, "Tier", vpc=vpc, allow_all_outbound=False)
    tier.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS anywhere (an application tier)")
    endpoints = ec2.SecurityGroup(stack, "Endpoints", vpc=vpc, allow_all_outbound=False)
    own = ec2.SecurityGroup(stack, "Own", vpc=vpc, allow_all_outbound=False)
    own.add_egress_rule(endpoints, ec2.Port.tcp(443), "to the endpoints")
    _function(stack, "OnTier", vpc=vpc, vpc_subnets=subnets, security_groups=[tier])
    _function(stack, "OnOwn", vpc=vpc, vpc_subnets=subnets, security_groups=[own])
    _function(stack, "CdkGroup", vpc=vpc, vpc_subnets=subnets)  # CDK's own group: all traffic out
    templates = [(a.stack_name, a.template) for a in stack.node.root.synth().stacks]  # type: ignore[attr-defined]
    found = functions_with_open_egress(templates)
    assert any("/OnTier" in f for f in found)
    assert any("/CdkGroup" in f for f in found)
    assert not any("/OnOwn" in f for f in found)


def test_no_function_of_the_default_app_has_egress_to_the_internet(synthesized: Synthesized) -> None:
    """Every function in a VPC (the vault's four, the rotation's is AWS's) on groups of exact egress."""
    assert functions_with_open_egress(synthesized.templates()) == []


def test_each_vault_function_has_its_own_group_of_exact_egress(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        workload = synthesized.zone.regions[region].workload
        assert workload is not None
        groups = workload.vault.security_groups
        assert sorted(groups) == ["Api", "Detokenize", "Keys", "Purge"]
        template = synthesized.template(workload.stack_name)
        for name, group in groups.items():
            logical = workload.get_logical_id(group.node.default_child)  # type: ignore[arg-type]
            rules = [
                r["Properties"]
                for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()
                if r["Properties"]["GroupId"] == {"Fn::GetAtt": [logical, "GroupId"]}
            ]
            expected = [] if name == "Purge" else [443]
            assert sorted(r["FromPort"] for r in rules) == expected
            assert all("EndpointSecurityGroup" in json.dumps(r["DestinationSecurityGroupId"]) for r in rules)


# --- Issue #18 scanner kind 5: CDK's own functions untraced, their grants invisible to cdk-nag.


def test_every_function_of_the_default_app_and_the_delivery_traces_actively(
    synthesized: Synthesized, delivered: Any
) -> None:
    delivery = [(a.stack_name, a.template) for a in delivered.assembly.stacks_recursively]
    assert functions_without_active_tracing([*synthesized.templates(), *delivery]) == []


def test_an_untraced_function_is_caught(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Untraced", env={"account": "111111111111", "region": "us-east-1"})
    _function(stack, "Plain")
    _function(stack, "Traced", tracing=lambda_.Tracing.ACTIVE)
    templates = [(a.stack_name, a.template) for a in stack.node.root.synth().stacks]  # type: ignore[attr-defined]
    found = functions_without_active_tracing(templates)
    assert len(found) == 1
    assert found[0].startswith("Untraced/Plain")


def test_cdk_providers_grant_through_a_managed_policy_cdk_nag_reads(synthesized: Synthesized) -> None:
    """The project's grant to a raw provider role is a managed policy, not a second inline policy
    (CDK's own first inline policy of the provider stays: CDK writes it)."""
    provider_roles = 0
    for name, template in synthesized.templates():
        for logical, role in template.get("Resources", {}).items():
            if role["Type"] == "AWS::IAM::Role" and "CustomResourceProviderRole" in logical:
                provider_roles += 1
                assert len(role["Properties"].get("Policies", [])) <= 1, f"{name}/{logical}: a second inline policy"
                (arn,) = role["Properties"]["ManagedPolicyArns"]
                assert "OwnLogGroupAndTracing" in json.dumps(arn)
    assert provider_roles
