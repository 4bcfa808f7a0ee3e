"""The segmented VPC: tiers, routes, NACLs, security groups, flow logs and endpoints."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import assertions as cdk_assertions
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from pci_constructs.segmented_vpc import SEGMENT_TIERS, SegmentedVpc, Tier
from stacks.landing_zone import stack_name
from tests.conftest import Synthesized, new_app

REGIONS = ("us-east-1", "us-west-2")


@pytest.fixture(scope="module", params=REGIONS)
def region(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def network_template(synthesized: Synthesized, region: str) -> cdk_assertions.Template:
    return synthesized.template(stack_name(synthesized.config, "Network", region))


def ref(construct: Any, token: str) -> Any:
    """The CloudFormation expression a token resolves to, e.g. {"Ref": "..."}; no logical IDs in tests."""
    return Stack.of(construct).resolve(token)


def resources(template: cdk_assertions.Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def test_vpc_uses_configured_cidr_and_three_tiers(
    synthesized: Synthesized, network_template: cdk_assertions.Template, region: str
) -> None:
    network_template.has_resource_properties(
        "AWS::EC2::VPC", {"CidrBlock": synthesized.config.regions[region].vpc_cidr}
    )
    subnets = resources(network_template, "AWS::EC2::Subnet")
    tiers = [
        tag["Value"]
        for subnet in subnets.values()
        for tag in subnet["Properties"]["Tags"]
        if tag["Key"] == "aws-cdk:subnet-name"
    ]
    assert sorted(tiers) == sorted([t.value for t in Tier] * synthesized.config.az_count)


def test_no_subnet_auto_assigns_public_ips(network_template: cdk_assertions.Template) -> None:
    for subnet in resources(network_template, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_azs_come_from_configuration(synthesized: Synthesized, region: str) -> None:
    stack = synthesized.zone.regions[region].network
    assert stack.availability_zones == synthesized.config.availability_zones(region)
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    assert manifest.get("missing", []) == [], "synth must need no context lookups"


def _routes_of(synthesized: Synthesized, region: str, tier: Tier) -> list[dict[str, Any]]:
    network = synthesized.zone.regions[region].network.network
    subnets = {
        Tier.PUBLIC: network.public_subnets,
        Tier.APPLICATION: network.application_subnets,
        Tier.CDE: network.cde_subnets,
    }[tier].subnets
    tables = [ref(network, s.route_table.route_table_id) for s in subnets]
    template = synthesized.template(stack_name(synthesized.config, "Network", region))
    return [
        r["Properties"]
        for r in resources(template, "AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] in tables
    ]


def test_cde_has_no_route_to_the_internet(synthesized: Synthesized, region: str) -> None:
    for route in _routes_of(synthesized, region, Tier.CDE):
        assert "GatewayId" not in route
        assert "NatGatewayId" not in route
        assert route.get("DestinationCidrBlock") != "0.0.0.0/0"


def test_application_tier_egresses_through_the_firewall_only(synthesized: Synthesized, region: str) -> None:
    """Default egress mode `firewall`: the default route names a Network Firewall endpoint, never NAT or IGW."""
    routes = _routes_of(synthesized, region, Tier.APPLICATION)
    defaults = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert defaults
    assert all("VpcEndpointId" in r and "NatGatewayId" not in r and "GatewayId" not in r for r in defaults)


def test_only_public_tier_routes_to_the_internet_gateway(synthesized: Synthesized, region: str) -> None:
    public = _routes_of(synthesized, region, Tier.PUBLIC)
    assert any("GatewayId" in r for r in public)


def _nacl_entries(synthesized: Synthesized, region: str, tier: Tier) -> list[dict[str, Any]]:
    network = synthesized.zone.regions[region].network.network
    acl = ref(network, network.network_acls[tier].network_acl_id)
    template = synthesized.template(stack_name(synthesized.config, "Network", region))
    return [
        e["Properties"]
        for e in resources(template, "AWS::EC2::NetworkAclEntry").values()
        if e["Properties"]["NetworkAclId"] == acl
    ]


def _ports(entry: dict[str, Any]) -> tuple[int, int]:
    return entry["PortRange"]["From"], entry["PortRange"]["To"]


def test_every_tier_has_its_own_nacl_of_allow_tcp_entries(synthesized: Synthesized, region: str) -> None:
    for tier in SEGMENT_TIERS:
        entries = _nacl_entries(synthesized, region, tier)
        assert entries
        assert all(e["Protocol"] == 6 for e in entries)


def test_cde_nacl_admits_only_the_database_port_from_the_application_tier(
    synthesized: Synthesized, region: str
) -> None:
    network = synthesized.zone.regions[region].network.network
    config = synthesized.config
    public = {s.ipv4_cidr_block for s in network.public_subnets.subnets}
    app = {s.ipv4_cidr_block for s in network.application_subnets.subnets}
    cde = {s.ipv4_cidr_block for s in network.cde_subnets.subnets}
    ephemeral = (1024, 65535)
    inbound = [e for e in _nacl_entries(synthesized, region, Tier.CDE) if not e["Egress"]]
    for entry in inbound:
        assert entry["CidrBlock"] not in public, "nothing reaches the CDE from the public tier"
        assert entry["CidrBlock"] in app | cde
        assert _ports(entry) in {(config.db_port, config.db_port), ephemeral}
    db_sources = {e["CidrBlock"] for e in inbound if _ports(e) == (config.db_port, config.db_port)}
    assert app <= db_sources


def test_application_nacl_admits_app_port_from_public_tier_only(synthesized: Synthesized, region: str) -> None:
    network = synthesized.zone.regions[region].network.network
    port = synthesized.config.app_port
    public = {s.ipv4_cidr_block for s in network.public_subnets.subnets}
    inbound = [e for e in _nacl_entries(synthesized, region, Tier.APPLICATION) if not e["Egress"]]
    assert {e["CidrBlock"] for e in inbound if _ports(e) == (port, port)} == public
    outbound = [e for e in _nacl_entries(synthesized, region, Tier.APPLICATION) if e["Egress"]]
    assert any(_ports(e) == (443, 443) and e["CidrBlock"] == "0.0.0.0/0" for e in outbound)


def test_public_nacl_is_stateless_correct(synthesized: Synthesized, region: str) -> None:
    entries = _nacl_entries(synthesized, region, Tier.PUBLIC)
    inbound = [_ports(e) for e in entries if not e["Egress"]]
    outbound = [_ports(e) for e in entries if e["Egress"]]
    assert (443, 443) in inbound
    assert (80, 80) not in inbound, "no port-80 listener to reach"
    assert (1024, 65535) in inbound, "replies of the load balancer's targets"
    assert (1024, 65535) in outbound, "replies to clients"


def test_behind_the_firewall_the_public_tier_admits_the_internet_on_443_only(
    synthesized: Synthesized, region: str
) -> None:
    """egress.mode firewall (the default) moved the NAT gateways to the egress tier: nothing in the
    public tier receives internet replies on ephemeral ports, and no NAT forwarding entry remains."""
    assert synthesized.config.egress.mode == "firewall"
    network = synthesized.zone.regions[region].network.network
    app = {s.ipv4_cidr_block for s in network.application_subnets.subnets}
    entries = _nacl_entries(synthesized, region, Tier.PUBLIC)
    open_inbound = {_ports(e) for e in entries if not e["Egress"] and e["CidrBlock"] == "0.0.0.0/0"}
    assert open_inbound == {(443, 443)}
    assert {e["CidrBlock"] for e in entries if not e["Egress"] and _ports(e) == (1024, 65535)} == app
    outbound = [e for e in entries if e["Egress"]]
    assert not any(_ports(e) == (443, 443) for e in outbound), "no NAT forwarding from the public tier"
    clients = set(synthesized.config.allowed_ingress_cidrs)
    assert {e["CidrBlock"] for e in outbound if _ports(e) == (1024, 65535)} == clients


def _public_entries(*, firewall: bool, tmp_path: Path) -> list[dict[str, Any]]:
    stack = Stack(new_app(tmp_path), "Nacls")
    network = SegmentedVpc(
        stack,
        "Network",
        cidr="10.0.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
        allowed_ingress_cidrs=["198.51.100.0/24", "203.0.113.0/25"],
        app_port=8443,
        db_port=5432,
        log_key=kms.Key(stack, "Key"),
        log_retention_days=365,
        egress_firewall_subnets=firewall,
    )
    public = stack.resolve(network.network_acls[Tier.PUBLIC].network_acl_id)
    template = cdk_assertions.Template.from_stack(stack)
    entries = template.find_resources("AWS::EC2::NetworkAclEntry", {"Properties": {"NetworkAclId": public}})
    return [r["Properties"] for r in entries.values()]


def test_with_nat_gateways_in_the_public_tier_it_forwards_and_takes_replies_from_anywhere(tmp_path: Path) -> None:
    entries = _public_entries(firewall=False, tmp_path=tmp_path)
    inbound = {(e["CidrBlock"], _ports(e)) for e in entries if not e["Egress"]}
    outbound = {(e["CidrBlock"], _ports(e)) for e in entries if e["Egress"]}
    assert ("0.0.0.0/0", (1024, 65535)) in inbound
    assert ("0.0.0.0/0", (443, 443)) in outbound
    assert ("0.0.0.0/0", (1024, 65535)) in outbound
    narrowed = _public_entries(firewall=True, tmp_path=tmp_path / "fw")
    assert ("0.0.0.0/0", (1024, 65535)) not in {(e["CidrBlock"], _ports(e)) for e in narrowed}


def _group_ref(synthesized: Synthesized, region: str, attribute: str) -> Any:
    network = synthesized.zone.regions[region].network.network
    return ref(network, getattr(network, attribute).security_group_id)


def _ingress(template: cdk_assertions.Template) -> list[dict[str, Any]]:
    inline = [
        rule
        for group in resources(template, "AWS::EC2::SecurityGroup").values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ]
    separate = [r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()]
    return inline + separate


def test_security_groups_chain_edge_app_proxy_database(
    synthesized: Synthesized, network_template: cdk_assertions.Template, region: str
) -> None:
    """Edge -> app in the network; with RDS Proxy on (default) app -> database goes through the proxy only."""
    config = synthesized.config
    assert config.database.enable_proxy
    edge = _group_ref(synthesized, region, "edge_security_group")
    app = _group_ref(synthesized, region, "application_security_group")
    database = _group_ref(synthesized, region, "database_security_group")
    network_template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"FromPort": config.app_port, "ToPort": config.app_port, "SourceSecurityGroupId": edge, "GroupId": app},
    )
    direct = [
        rule
        for name, template in synthesized.templates()
        for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        for rule in (r["Properties"] for r in template["Resources"].values() if r["Type"] == kind)
        if name.endswith(region)
        and {
            json.dumps(rule.get(field)) for field in ("GroupId", "SourceSecurityGroupId", "DestinationSecurityGroupId")
        }
        >= {json.dumps(database), json.dumps(app)}
    ]
    assert direct == [], "no app -> database rule may bypass the proxy"


def _tiny_network(tmp_path: Path, *, zones: list[str], database_behind_proxy: bool = False) -> SegmentedVpc:
    stack = Stack(new_app(tmp_path), "Tiny")
    return SegmentedVpc(
        stack,
        "Network",
        cidr="10.40.0.0/16",
        availability_zones=zones,
        allowed_ingress_cidrs=["0.0.0.0/0"],
        app_port=8443,
        db_port=5432,
        log_key=kms.Key(stack, "Key"),
        log_retention_days=365,
        database_behind_proxy=database_behind_proxy,
    )


def test_without_a_proxy_the_app_tier_reaches_the_database_directly(tmp_path: Path) -> None:
    network = _tiny_network(tmp_path, zones=["eu-west-1a", "eu-west-1b"])
    stack = Stack.of(network)
    template = cdk_assertions.Template.from_stack(stack)
    app = stack.resolve(network.application_security_group.security_group_id)
    database = stack.resolve(network.database_security_group.security_group_id)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": app, "GroupId": database},
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"FromPort": 5432, "DestinationSecurityGroupId": database, "GroupId": app},
    )


def test_no_open_ingress_except_the_edge_web_ports(network_template: cdk_assertions.Template) -> None:
    for group in resources(network_template, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            if rule.get("CidrIp") == "0.0.0.0/0":
                assert "load balancer" in group["Properties"]["GroupDescription"]
                assert rule["FromPort"] == rule["ToPort"]
                assert rule["FromPort"] == 443


def test_no_group_allows_all_outbound(network_template: cdk_assertions.Template) -> None:
    for group in resources(network_template, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            assert rule["IpProtocol"] != "-1", group["Properties"]["GroupDescription"]


def test_database_group_has_no_egress(synthesized: Synthesized, region: str) -> None:
    network = synthesized.zone.regions[region].network.network
    template = synthesized.template(stack_name(synthesized.config, "Network", region))
    database = ref(network, network.database_security_group.security_group_id)
    egress = [
        r
        for r in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == database
    ]
    assert egress == []
    # CDK's "no egress" marker: an impossible ICMP rule to 255.255.255.255/32.
    rules = [
        rule
        for group in resources(template, "AWS::EC2::SecurityGroup").values()
        if "CDE database" in group["Properties"]["GroupDescription"]
        for rule in group["Properties"]["SecurityGroupEgress"]
    ]
    assert rules
    assert all(r["CidrIp"] == "255.255.255.255/32" for r in rules)


def test_default_security_group_is_restricted(network_template: cdk_assertions.Template) -> None:
    network_template.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_flow_logs_capture_all_traffic_to_an_encrypted_year_long_group(
    synthesized: Synthesized, network_template: cdk_assertions.Template, region: str
) -> None:
    network = synthesized.zone.regions[region].network.network
    log_group = network.flow_log_group.log_group
    network_template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": ref(network, log_group.log_group_name),
        },
    )
    network_template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "KmsKeyId": Match.any_value(),
                "RetentionInDays": Match.any_value(),
            },
            "DeletionPolicy": "RetainExceptOnCreate",
        },
    )
    for group in resources(network_template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] >= 365


def test_flow_log_role_is_scoped_and_not_inline(network_template: cdk_assertions.Template) -> None:
    network_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Condition": Match.object_like({"StringEquals": {"aws:SourceAccount": "111111111111"}}),
                        }
                    )
                ]
            }
        },
    )
    network_template.resource_count_is("AWS::IAM::Policy", 0)


def test_private_endpoints_for_aws_apis(network_template: cdk_assertions.Template, region: str) -> None:
    network_template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"VpcEndpointType": "Gateway", "ServiceName": Match.object_like({"Fn::Join": Match.any_value()})},
    )
    interface = resources(network_template, "AWS::EC2::VPCEndpoint")
    services = {
        str(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1]
        for e in interface.values()
        if e["Properties"].get("VpcEndpointType") == "Interface"
    }
    assert services == {"kms", "secretsmanager", "logs", "sts", "xray"}
    for endpoint in interface.values():
        props = endpoint["Properties"]
        policy = props["PolicyDocument"]["Statement"]
        same_account, *aws_owned_access = policy
        assert same_account["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "111111111111"
        assert same_account["Action"] == "*"
        # The other statements (#9) are read-only or federation, on named resources only, never "*".
        for statement in aws_owned_access:
            assert statement["Resource"] != "*"
            assert set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]) <= {
                "s3:GetObject",
                "sts:AssumeRoleWithWebIdentity",
                "sts:AssumeRoleWithSAML",
            }
        if props.get("VpcEndpointType") == "Interface":
            assert props["PrivateDnsEnabled"] is True


def test_endpoint_group_admits_https_from_the_vpc_only(
    synthesized: Synthesized, network_template: cdk_assertions.Template, region: str
) -> None:
    cidr = synthesized.config.regions[region].vpc_cidr
    network_template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("Interface VPC endpoints"),
            "SecurityGroupIngress": [Match.object_like({"CidrIp": cidr, "FromPort": 443, "ToPort": 443})],
        },
    )


def test_cde_subnets_are_tagged_for_scope(network_template: cdk_assertions.Template) -> None:
    tagged = [
        s
        for s in resources(network_template, "AWS::EC2::Subnet").values()
        if {"Key": "pci-scope", "Value": "cde"} in s["Properties"]["Tags"]
    ]
    assert len(tagged) == 2


def test_subnets_fit_inside_the_vpc(synthesized: Synthesized, region: str) -> None:
    vpc = ipaddress.IPv4Network(synthesized.config.regions[region].vpc_cidr)
    network = synthesized.zone.regions[region].network.network
    for subnet in network.vpc.public_subnets + network.vpc.private_subnets + network.vpc.isolated_subnets:
        assert ipaddress.IPv4Network(subnet.ipv4_cidr_block).subnet_of(vpc)


def test_public_tier_reaches_the_application_tier_on_the_app_port_only(synthesized: Synthesized, region: str) -> None:
    """NACLs are evaluated lowest rule first: app-port allow, then public-source deny, then ephemeral allow."""
    network = synthesized.zone.regions[region].network.network
    port = synthesized.config.app_port
    public = {s.ipv4_cidr_block for s in network.public_subnets.subnets}
    inbound = sorted(
        (e for e in _nacl_entries(synthesized, region, Tier.APPLICATION) if not e["Egress"]),
        key=lambda e: e["RuleNumber"],
    )

    def first_match(source_in: set[str], port_number: int) -> str:
        for entry in inbound:
            low, high = _ports(entry)
            if low <= port_number <= high and (entry["CidrBlock"] in source_in or entry["CidrBlock"] == "0.0.0.0/0"):
                return str(entry["RuleAction"])
        return "deny"

    assert first_match(public, port) == "allow"
    for other in (1024, 5432, 22000, 65535):
        assert first_match(public, other) == "deny", other
    assert first_match({"203.0.113.10/32"}, 40000) == "allow", "replies to NAT-routed egress"


def test_subnet_slots_do_not_move_when_an_az_is_added(tmp_path: Path) -> None:
    """Tier i, zone letter j always owns slice 4*i + j: a third AZ only adds subnets."""
    network = ipaddress.IPv4Network("10.40.0.0/16")

    def cidrs(zones: list[str]) -> dict[str, str]:
        vpc = _tiny_network(tmp_path / str(len(zones)), zones=zones)
        return {
            f"{tier.value}-{subnet.availability_zone}": subnet.ipv4_cidr_block
            for tier, selected in (
                (Tier.PUBLIC, vpc.public_subnets),
                (Tier.APPLICATION, vpc.application_subnets),
                (Tier.CDE, vpc.cde_subnets),
            )
            for subnet in selected.subnets
        }

    two = cidrs(["eu-west-1a", "eu-west-1b"])
    three = cidrs(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    assert {k: three[k] for k in two} == two
    assert three["Cde-eu-west-1c"] == str(list(network.subnets(new_prefix=20))[2 * 4 + 2])


def test_zone_letters_outside_the_slots_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="end in a letter outside 'abcd'"):
        _tiny_network(tmp_path, zones=["us-east-1a", "us-east-1f"])
