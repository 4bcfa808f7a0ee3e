"""The egress allow-list: Network Firewall per AZ, symmetric routes through it, domain rules, logging."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import assertions as cdk_assertions
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from config.models import EgressConfig
from pci_constructs.egress_firewall import STATEFUL_DEFAULT_ACTIONS, EgressFirewall
from pci_constructs.segmented_vpc import SegmentedVpc, Tier
from stacks.landing_zone import stack_name
from tests.conftest import Synthesized, new_app

REGIONS = ("us-east-1", "us-west-2")


@pytest.fixture(scope="module", params=REGIONS)
def region(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def template(synthesized: Synthesized, region: str) -> cdk_assertions.Template:
    return synthesized.template(stack_name(synthesized.config, "Network", region))


def _resources(template: cdk_assertions.Template, kind: str) -> list[Any]:
    return list(template.find_resources(kind).values())


def _ref(construct: Any, token: str) -> Any:
    return Stack.of(construct).resolve(token)


def _endpoint_of(route: dict[str, Any]) -> str:
    """The firewall a route's VpcEndpointId is taken from (Fn::Select 1 of Fn::Split of Fn::Select 0 EndpointIds)."""
    select = route["VpcEndpointId"]["Fn::Select"]
    assert select[0] == 1
    split = select[1]["Fn::Split"]
    assert split[0] == ":"
    inner = split[1]["Fn::Select"]
    assert inner[0] == 0
    get_att = inner[1]["Fn::GetAtt"]
    assert get_att[1] == "EndpointIds"
    return str(get_att[0])


def test_default_egress_mode_is_firewall() -> None:
    assert EgressConfig().mode == "firewall"


def test_one_firewall_per_az_each_with_one_subnet(
    synthesized: Synthesized, template: cdk_assertions.Template, region: str
) -> None:
    firewalls = _resources(template, "AWS::NetworkFirewall::Firewall")
    assert len(firewalls) == synthesized.config.az_count
    for firewall in firewalls:
        props = firewall["Properties"]
        assert len(props["SubnetMappings"]) == 1, "one mapping: EndpointIds then has exactly one element"
        assert props["DeleteProtection"] is True
        assert props["SubnetChangeProtection"] is True


def test_routes_are_symmetric_per_az(synthesized: Synthesized, region: str) -> None:
    """App subnet (zone z) -> firewall z; the NAT's egress subnet (zone z) returns that subnet's CIDR via firewall z."""
    stack = synthesized.zone.regions[region].network
    network = stack.network
    firewall = stack.egress_firewall
    assert firewall is not None
    assert network.egress_subnets is not None
    assert network.firewall_subnets is not None
    template = synthesized.template(stack.stack_name)
    routes = [r["Properties"] for r in _resources(template, "AWS::EC2::Route")]
    firewall_ids = {zone: stack.resolve(fw.ref)["Ref"] for zone, fw in firewall.firewalls.items()}
    for app_subnet in network.application_subnets.subnets:
        zone = app_subnet.availability_zone
        table = _ref(network, app_subnet.route_table.route_table_id)
        (default,) = [r for r in routes if r["RouteTableId"] == table and r["DestinationCidrBlock"] == "0.0.0.0/0"]
        assert _endpoint_of(default) == firewall_ids[zone]
        (egress_subnet,) = [s for s in network.egress_subnets.subnets if s.availability_zone == zone]
        egress_table = _ref(network, egress_subnet.route_table.route_table_id)
        (back,) = [
            r
            for r in routes
            if r["RouteTableId"] == egress_table and r["DestinationCidrBlock"] == app_subnet.ipv4_cidr_block
        ]
        assert _endpoint_of(back) == firewall_ids[zone]
    for fw_subnet in network.firewall_subnets.subnets:
        table = _ref(network, fw_subnet.route_table.route_table_id)
        (default,) = [r for r in routes if r["RouteTableId"] == table and r["DestinationCidrBlock"] == "0.0.0.0/0"]
        assert "NatGatewayId" in default


def test_nat_gateways_sit_in_the_egress_subnets_not_the_public_tier(synthesized: Synthesized, region: str) -> None:
    """So the ALB's traffic to its targets never crosses the firewall (it would be routed one way only)."""
    stack = synthesized.zone.regions[region].network
    network = stack.network
    assert network.egress_subnets is not None
    egress = {_ref(network, s.subnet_id)["Ref"] for s in network.egress_subnets.subnets}
    template = synthesized.template(stack.stack_name)
    nats = _resources(template, "AWS::EC2::NatGateway")
    assert nats
    assert all(n["Properties"]["SubnetId"]["Ref"] in egress for n in nats)
    public_tables = [_ref(network, s.route_table.route_table_id) for s in network.public_subnets.subnets]
    for route in _resources(template, "AWS::EC2::Route"):
        if route["Properties"]["RouteTableId"] in public_tables:
            assert "VpcEndpointId" not in route["Properties"], "the public tier's routes must not cross the firewall"


def test_domain_allow_list_rule_group(synthesized: Synthesized, template: cdk_assertions.Template) -> None:
    template.has_resource_properties(
        "AWS::NetworkFirewall::RuleGroup",
        {
            "Type": "STATEFUL",
            "RuleGroup": {
                "RulesSource": {
                    "RulesSourceList": {
                        "GeneratedRulesType": "ALLOWLIST",
                        "TargetTypes": ["TLS_SNI", "HTTP_HOST"],
                        "Targets": list(synthesized.config.egress.allowed_domains),
                    }
                },
                "StatefulRuleOptions": {"RuleOrder": "STRICT_ORDER"},
            },
        },
    )


def test_policy_drops_and_alerts_everything_else(template: cdk_assertions.Template) -> None:
    template.has_resource_properties(
        "AWS::NetworkFirewall::FirewallPolicy",
        {
            "FirewallPolicy": {
                "StatelessDefaultActions": ["aws:forward_to_sfe"],
                "StatelessFragmentDefaultActions": ["aws:forward_to_sfe"],
                "StatefulDefaultActions": list(STATEFUL_DEFAULT_ACTIONS),
                "StatefulEngineOptions": {"RuleOrder": "STRICT_ORDER", "StreamExceptionPolicy": "DROP"},
                "StatefulRuleGroupReferences": [Match.object_like({"Priority": 100})],
            }
        },
    )
    assert STATEFUL_DEFAULT_ACTIONS == ("aws:drop_established", "aws:alert_established")


def test_alert_and_flow_logs_are_encrypted_and_retained(
    synthesized: Synthesized, template: cdk_assertions.Template
) -> None:
    configs = _resources(template, "AWS::NetworkFirewall::LoggingConfiguration")
    assert len(configs) == synthesized.config.az_count
    for config in configs:
        types = {d["LogType"] for d in config["Properties"]["LoggingConfiguration"]["LogDestinationConfigs"]}
        assert types == {"ALERT", "FLOW"}
    groups = [
        g
        for g in template.find_resources("AWS::Logs::LogGroup").values()
        if "network-firewall" in str(g["Properties"].get("LogGroupName", ""))
    ]
    assert len(groups) == 2
    for group in groups:
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] >= 365
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"


def test_log_delivery_policy_is_scoped_to_this_account(template: cdk_assertions.Template) -> None:
    (policy,) = _resources(template, "AWS::Logs::ResourcePolicy")
    text = str(policy["Properties"]["PolicyDocument"])
    assert "delivery.logs.amazonaws.com" in text
    assert "aws:SourceAccount" in text


def test_existing_subnets_keep_their_slots(synthesized: Synthesized, region: str) -> None:
    """Firewall and egress tiers take halves of slot 12 + zone; tiers 0-2 keep slice 4*i + j."""
    network = synthesized.zone.regions[region].network.network
    vpc = ipaddress.IPv4Network(synthesized.config.regions[region].vpc_cidr)
    slices = list(vpc.subnets(new_prefix=vpc.prefixlen + 4))
    for index, tier in enumerate((network.public_subnets, network.application_subnets, network.cde_subnets)):
        for subnet in tier.subnets:
            assert subnet.ipv4_cidr_block == str(slices[index * 4 + "abcd".index(subnet.availability_zone[-1])])
    assert network.firewall_subnets is not None
    assert network.egress_subnets is not None
    for half, tier in enumerate((network.firewall_subnets, network.egress_subnets)):
        for subnet in tier.subnets:
            slot = slices[12 + "abcd".index(subnet.availability_zone[-1])]
            assert subnet.ipv4_cidr_block == str(list(slot.subnets(prefixlen_diff=1))[half])


def _vpc(tmp_path: Path, *, firewall: bool) -> tuple[Stack, SegmentedVpc]:
    app = new_app(tmp_path)
    stack = Stack(app, "Net", env={"account": "111111111111", "region": "us-east-1"})
    network = SegmentedVpc(
        stack,
        "Network",
        cidr="10.40.0.0/22",
        availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
        allowed_ingress_cidrs=["0.0.0.0/0"],
        app_port=8443,
        db_port=5432,
        log_key=kms.Key(stack, "Key"),
        log_retention_days=365,
        egress_firewall_subnets=firewall,
    )
    return stack, network


def test_nat_mode_keeps_nat_in_the_public_tier_and_no_firewall_tiers(tmp_path: Path) -> None:
    stack, network = _vpc(tmp_path, firewall=False)
    assert network.firewall_subnets is None
    assert network.egress_subnets is None
    template = cdk_assertions.Template.from_stack(stack)
    names = {
        tag["Value"]
        for subnet in template.find_resources("AWS::EC2::Subnet").values()
        for tag in subnet["Properties"]["Tags"]
        if tag["Key"] == "aws-cdk:subnet-name"
    }
    assert names == {Tier.PUBLIC.value, Tier.APPLICATION.value, Tier.CDE.value}
    template.resource_count_is("AWS::NetworkFirewall::Firewall", 0)


def test_smallest_vpc_still_fits_firewall_subnets(tmp_path: Path) -> None:
    """A /22 VPC: firewall and egress subnets are /27, above Network Firewall's /28 minimum."""
    _, network = _vpc(tmp_path, firewall=True)
    assert network.firewall_subnets is not None
    for subnet in network.firewall_subnets.subnets:
        assert ipaddress.IPv4Network(subnet.ipv4_cidr_block).prefixlen <= 28


def test_firewall_refuses_mismatched_zones(tmp_path: Path) -> None:
    stack, network = _vpc(tmp_path, firewall=True)
    assert network.firewall_subnets is not None
    assert network.egress_subnets is not None
    with pytest.raises(ValueError, match="same availability zones"):
        EgressFirewall(
            stack,
            "Firewall",
            name_prefix="pci-lz-test",
            vpc=network.vpc,
            firewall_subnets=network.firewall_subnets.subnets[:2],
            application_subnets=network.application_subnets.subnets,
            egress_subnets=network.egress_subnets.subnets,
            allowed_domains=[".example.net"],
            log_key=kms.Key(stack, "LogKey"),
            log_retention_days=365,
        )


@pytest.mark.parametrize("domains", [("Example.COM",), ("http://x.example",), ("a.example", "a.example")])
def test_bad_domains_fail_early(domains: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="allowed_domains"):
        EgressConfig(allowed_domains=domains)
