"""The network a set of templates declares, read from the same `TemplateModel` the rules read.

CDK-free: VPCs; subnets per Availability Zone with their tier; route tables and routes
(internet gateway, NAT gateway, firewall or gateway-load-balancer endpoints, gateway endpoints);
network ACL entries; every security-group rule (inline `SecurityGroupIngress`/`SecurityGroupEgress`
and separate `AWS::EC2::SecurityGroupIngress`/`Egress` resources, by group reference or CIDR);
what is attached to each security group (load balancers, functions, databases, proxies, endpoints);
KMS keys; WAF associations; load-balancer targets. The PCI DSS v4.0.1 1.2.3 network diagram and
1.2.4 data-flow diagram are drawn from this (evidence/diagrams.py), never by hand.

A subnet's tier is CDK's `aws-cdk:subnet-name` tag (the `SubnetConfiguration` name), else its
`Name` tag; a tier is in the cardholder data environment when a subnet of it is tagged
`pci-scope: cde`. Tiers the landing zone does not know (a firewall tier, say) are kept as they are.
Sources: CloudFormation User Guide, "AWS::EC2::SecurityGroup Ingress", "AWS::EC2::NetworkAclEntry",
"AWS::EC2::Route"; Amazon VPC User Guide, "Control traffic to your AWS resources using security groups".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pci_rules.model import Resource, TemplateModel

SUBNET_NAME_TAG = "aws-cdk:subnet-name"
SCOPE_TAG = "pci-scope"
CDE_SCOPE = "cde"
UNKNOWN_REGION = "unknown-region"
# CDK writes this egress rule when a group may send nothing (`allow_all_outbound=False` and no rule):
# ICMP type 252 code 86 to 255.255.255.255/32, which matches no traffic.
NO_EGRESS_MARKER = {"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp", "FromPort": 252, "ToPort": 86}
PROTOCOL_NAMES = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
SG_RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
# The tiers the segmented VPC creates, in the order a diagram lays them out; others follow by name.
KNOWN_TIER_ORDER = ("Public", "Application", "Cde")


def _tags(resource: Resource) -> dict[str, Any]:
    tags = resource.prop("Tags", default=[])
    if not isinstance(tags, list):
        return {}
    return {str(t.get("Key")): t.get("Value") for t in tags if isinstance(t, Mapping)}


def ports(protocol: str, from_port: Any, to_port: Any) -> str:
    """`tcp 443`, `tcp 1024-65535`, `all` (protocol -1), `icmp 3:4` (type:code)."""
    name = PROTOCOL_NAMES.get(str(protocol), str(protocol))
    if name == "all":
        return "all traffic"
    if name in ("icmp", "icmpv6"):
        return f"{name} {from_port}:{to_port}"
    if from_port is None and to_port is None:
        return f"{name} all ports"
    if from_port in (0, -1) and to_port in (65535, -1):
        return f"{name} all ports"
    return f"{name} {from_port}" if from_port == to_port else f"{name} {from_port}-{to_port}"


@dataclass(frozen=True)
class Subnet:
    resource: Resource
    vpc: Resource | None
    az: str
    tier: str
    cidr: str | None
    cde: bool
    route_table: Resource | None
    network_acl: Resource | None

    @property
    def label(self) -> str:
        return f"{self.tier} {self.az}"


@dataclass(frozen=True)
class Route:
    """A route of a route table: `target_kind` is internet-gateway, nat-gateway, vpc-endpoint
    (Network Firewall or Gateway Load Balancer), gateway-endpoint (S3/DynamoDB prefix list),
    transit-gateway, peering, or other."""

    route_table: Resource
    destination: str
    target_kind: str
    target: Resource | None
    source: Resource  # the AWS::EC2::Route, or the gateway endpoint for an implicit prefix-list route


@dataclass(frozen=True)
class AclEntry:
    resource: Resource
    acl: Resource
    number: int
    egress: bool
    allow: bool
    protocol: str
    cidr: str

    @property
    def ref(self) -> str:
        return f"{self.resource.stack}/{self.resource.logical_id}"

    @property
    def text(self) -> str:
        way = "out to" if self.egress else "in from"
        return f"#{self.number} {'ALLOW' if self.allow else 'DENY'} {self.protocol} {way} {self.cidr}"


@dataclass(frozen=True)
class SgRule:
    """One security-group rule. `group` is the group the rule belongs to; the peer is another group
    (`peer_group`), a CIDR (`peer_cidr`), or a prefix list (`peer_prefix_list`)."""

    ref: str  # "<stack>/<logical id>" for a rule resource, "<stack>/<logical id>/<Property>/<index>" inline
    group: Resource
    egress: bool
    protocol: str
    peer_group: Resource | None
    peer_cidr: str | None
    peer_prefix_list: str | None
    description: str

    @property
    def allows_nothing(self) -> bool:
        return self.egress and self.peer_cidr == NO_EGRESS_MARKER["CidrIp"] and self.protocol == "icmp 252:86"


@dataclass(frozen=True)
class Member:
    """A resource attached to a security group, with the subnets it is placed in."""

    resource: Resource
    kind: str
    name: str
    subnets: tuple[Resource, ...]


@dataclass
class RegionTopology:
    region: str
    vpcs: list[Resource] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    acl_entries: list[AclEntry] = field(default_factory=list)
    security_groups: list[Resource] = field(default_factory=list)
    sg_rules: list[SgRule] = field(default_factory=list)
    members: dict[tuple[str, str], list[Member]] = field(default_factory=dict)  # SG key -> members
    internet_gateways: list[Resource] = field(default_factory=list)
    nat_gateways: list[tuple[Resource, Resource | None]] = field(default_factory=list)  # (NAT, its subnet)
    endpoints: list[Resource] = field(default_factory=list)
    endpoint_vpcs: dict[tuple[str, str], Resource] = field(default_factory=dict)  # endpoint key -> its VPC
    load_balancers: list[Resource] = field(default_factory=list)
    functions: list[Resource] = field(default_factory=list)  # Lambda functions placed in a VPC
    databases: list[Resource] = field(default_factory=list)
    proxies: list[Resource] = field(default_factory=list)
    kms_keys: list[Resource] = field(default_factory=list)
    web_acl_associations: list[tuple[Resource, Resource]] = field(default_factory=list)  # (web ACL, resource)

    @property
    def tiers(self) -> list[str]:
        names = {s.tier for s in self.subnets}
        known = [t for t in KNOWN_TIER_ORDER if t in names]
        return known + sorted(names - set(known))

    def tier_subnets(self, tier: str) -> list[Subnet]:
        return sorted((s for s in self.subnets if s.tier == tier), key=lambda s: (s.az, s.resource.logical_id))

    def is_cde_tier(self, tier: str) -> bool:
        return any(s.cde for s in self.subnets if s.tier == tier)

    def subnet(self, resource: Resource) -> Subnet | None:
        return next((s for s in self.subnets if s.resource.key == resource.key), None)


class Topology:
    """The network of every region of a model; `regions` maps region name to its topology."""

    def __init__(self, model: TemplateModel) -> None:
        self.model = model

    @cached_property
    def regions(self) -> dict[str, RegionTopology]:
        out: dict[str, RegionTopology] = {}
        for region in sorted({self._region(r) for r in self.model.resources()}):
            topo = self._read(region)
            if topo.vpcs or topo.security_groups or topo.load_balancers:
                out[region] = topo
        return out

    def _region(self, resource: Resource) -> str:
        return self.model.stack_of(resource).region or UNKNOWN_REGION

    def _in(self, region: str, *types: str) -> list[Resource]:
        return [r for r in self.model.resources(*types) if self._region(r) == region]

    def _ref(self, resource: Resource, value: Any, *types: str) -> Resource | None:
        found = self.model.references(resource.stack, value)
        return next((r for r in found if not types or r.type in types), None)

    def subnets_of(self, resource: Resource) -> tuple[Resource, ...]:
        """The subnets a resource is placed in: referenced anywhere in its properties, or through
        its DB subnet group."""
        found = self.model.references(resource.stack, dict(resource.properties))
        subnets = [r for r in found if r.type == "AWS::EC2::Subnet"]
        for group in (r for r in found if r.type == "AWS::RDS::DBSubnetGroup"):
            subnets += [
                r for r in self.model.references(group.stack, group.prop("SubnetIds")) if r.type == "AWS::EC2::Subnet"
            ]
        unique = {s.key: s for s in subnets}
        return tuple(unique.values())

    # -- reading one region ------------------------------------------------------------------------
    def _read(self, region: str) -> RegionTopology:
        topo = RegionTopology(region=region)
        topo.vpcs = self._in(region, "AWS::EC2::VPC")
        route_tables = self._associations(region, "AWS::EC2::SubnetRouteTableAssociation", "RouteTableId")
        acls = self._associations(region, "AWS::EC2::SubnetNetworkAclAssociation", "NetworkAclId")
        for subnet in self._in(region, "AWS::EC2::Subnet"):
            tags = _tags(subnet)
            tier = tags.get(SUBNET_NAME_TAG) or tags.get("Name") or "Untiered"
            cidr = self.model.literal(subnet.stack, subnet.prop("CidrBlock"))
            az = self.model.literal(subnet.stack, subnet.prop("AvailabilityZone"))
            topo.subnets.append(
                Subnet(
                    resource=subnet,
                    vpc=self._ref(subnet, subnet.prop("VpcId"), "AWS::EC2::VPC"),
                    az=az if isinstance(az, str) else "unknown AZ",
                    tier=str(tier),
                    cidr=cidr if isinstance(cidr, str) else None,
                    cde=str(tags.get(SCOPE_TAG, "")).lower() == CDE_SCOPE,
                    route_table=route_tables.get(subnet.key),
                    network_acl=acls.get(subnet.key),
                )
            )
        topo.routes = list(self._routes(region))
        topo.acl_entries = sorted(self._acl_entries(region), key=lambda e: (e.acl.key, e.egress, e.number))
        topo.security_groups = self._in(region, "AWS::EC2::SecurityGroup")
        topo.sg_rules = list(self._sg_rules(region))
        topo.internet_gateways = self._in(region, "AWS::EC2::InternetGateway")
        for nat in self._in(region, "AWS::EC2::NatGateway"):
            topo.nat_gateways.append((nat, self._ref(nat, nat.prop("SubnetId"), "AWS::EC2::Subnet")))
        topo.endpoints = self._in(region, "AWS::EC2::VPCEndpoint")
        for endpoint in topo.endpoints:
            vpc = self._ref(endpoint, endpoint.prop("VpcId"), "AWS::EC2::VPC")
            if vpc is not None:
                topo.endpoint_vpcs[endpoint.key] = vpc
        topo.load_balancers = self._in(region, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        topo.functions = [f for f in self._in(region, "AWS::Lambda::Function") if f.prop("VpcConfig")]
        topo.databases = self._in(region, "AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
        topo.proxies = self._in(region, "AWS::RDS::DBProxy")
        topo.kms_keys = self._in(region, "AWS::KMS::Key")
        for assoc in self._in(region, "AWS::WAFv2::WebACLAssociation"):
            acl = self._ref(assoc, assoc.prop("WebACLArn"), "AWS::WAFv2::WebACL")
            target = self._ref(assoc, assoc.prop("ResourceArn"))
            if acl is not None and target is not None:
                topo.web_acl_associations.append((acl, target))
        for group in topo.security_groups:
            topo.members[group.key] = self._members(group)
        return topo

    def _associations(self, region: str, assoc_type: str, prop: str) -> dict[tuple[str, str], Resource]:
        out = {}
        for assoc in self._in(region, assoc_type):
            subnet = self._ref(assoc, assoc.prop("SubnetId"), "AWS::EC2::Subnet")
            target = self._ref(assoc, assoc.prop(prop))
            if subnet is not None and target is not None:
                out[subnet.key] = target
        return out

    def _routes(self, region: str) -> Iterator[Route]:
        kinds = (
            ("GatewayId", "internet-gateway"),
            ("NatGatewayId", "nat-gateway"),
            ("VpcEndpointId", "vpc-endpoint"),
            ("TransitGatewayId", "transit-gateway"),
            ("VpcPeeringConnectionId", "peering"),
        )
        for route in self._in(region, "AWS::EC2::Route"):
            table = self._ref(route, route.prop("RouteTableId"), "AWS::EC2::RouteTable")
            if table is None:
                continue
            destination = (
                self.model.literal(route.stack, route.prop("DestinationCidrBlock"))
                or self.model.literal(route.stack, route.prop("DestinationIpv6CidrBlock"))
                or self.model.literal(route.stack, route.prop("DestinationPrefixListId"))
                or "(resolved at deploy)"
            )
            kind, target = "other", None
            for prop, name in kinds:
                if route.prop(prop) is not None:
                    kind, target = name, self._ref(route, route.prop(prop))
                    break
            if kind == "internet-gateway" and target is not None and target.type != "AWS::EC2::InternetGateway":
                kind = "virtual-private-gateway"
            yield Route(table, str(destination), kind, target, route)
        for endpoint in self._in(region, "AWS::EC2::VPCEndpoint"):
            if endpoint.prop("VpcEndpointType") == "Gateway":
                for table in self.model.references(endpoint.stack, endpoint.prop("RouteTableIds")):
                    yield Route(table, f"{service_name(endpoint)} prefix list", "gateway-endpoint", endpoint, endpoint)

    def _acl_entries(self, region: str) -> Iterator[AclEntry]:
        for entry in self._in(region, "AWS::EC2::NetworkAclEntry"):
            acl = self._ref(entry, entry.prop("NetworkAclId"), "AWS::EC2::NetworkAcl")
            if acl is None:
                continue
            port_range = entry.prop("PortRange") or {}
            icmp = entry.prop("Icmp") or {}
            protocol = str(entry.prop("Protocol"))
            if PROTOCOL_NAMES.get(protocol) in ("icmp", "icmpv6"):
                text = ports(protocol, icmp.get("Type"), icmp.get("Code"))
            else:
                text = ports(protocol, port_range.get("From"), port_range.get("To"))
            cidr = self.model.literal(entry.stack, entry.prop("CidrBlock") or entry.prop("Ipv6CidrBlock"))
            yield AclEntry(
                resource=entry,
                acl=acl,
                number=int(entry.prop("RuleNumber", default=0)),
                egress=entry.prop("Egress") in (True, "true"),
                allow=str(entry.prop("RuleAction", default="allow")).lower() == "allow",
                protocol=text,
                cidr=str(cidr) if cidr is not None else "(resolved at deploy)",
            )

    def _sg_rule(self, ref: str, group: Resource, body: Mapping[str, Any], egress: bool, stack: str) -> SgRule:
        peer_prop = "DestinationSecurityGroupId" if egress else "SourceSecurityGroupId"
        peer_group = None
        if body.get(peer_prop) is not None:
            peer_group = self.model.target(stack, body[peer_prop])
        cidr = body.get("CidrIp") or body.get("CidrIpv6")
        prefix = body.get("DestinationPrefixListId") if egress else body.get("SourcePrefixListId")
        literal_cidr = self.model.literal(stack, cidr) if cidr is not None else None
        return SgRule(
            ref=ref,
            group=group,
            egress=egress,
            protocol=ports(str(body.get("IpProtocol")), body.get("FromPort"), body.get("ToPort")),
            peer_group=peer_group,
            peer_cidr=str(literal_cidr) if cidr is not None else None,
            peer_prefix_list=str(self.model.literal(stack, prefix)) if prefix is not None else None,
            description=str(body.get("Description") or ""),
        )

    def _sg_rules(self, region: str) -> Iterator[SgRule]:
        for group in self._in(region, "AWS::EC2::SecurityGroup"):
            for prop, egress in (("SecurityGroupIngress", False), ("SecurityGroupEgress", True)):
                for index, body in enumerate(group.prop(prop, default=[]) or []):
                    ref = f"{group.stack}/{group.logical_id}/{prop}/{index}"
                    yield self._sg_rule(ref, group, body, egress, group.stack)
        for rule in self._in(region, *SG_RULE_TYPES):
            owner = self.model.target(rule.stack, rule.prop("GroupId"))
            if owner is None:
                continue
            egress = rule.type == "AWS::EC2::SecurityGroupEgress"
            yield self._sg_rule(f"{rule.stack}/{rule.logical_id}", owner, rule.properties, egress, rule.stack)

    def _members(self, group: Resource) -> list[Member]:
        members = []
        for user in self.model.referrers(group):
            if user.type in (*SG_RULE_TYPES, "AWS::EC2::SecurityGroup"):
                continue
            members.append(Member(user, member_kind(user), display_name(user), self.subnets_of(user)))
        return sorted(members, key=lambda m: (m.kind, m.name))


def service_name(endpoint: Resource) -> str:
    """`s3`, `kms`, ... from a VPC endpoint's ServiceName (a literal or a Join ending in `.s3`)."""
    value = endpoint.prop("ServiceName")
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1]
    parts = value.get("Fn::Join", ["", []])[1] if isinstance(value, Mapping) else []
    tail = parts[-1] if parts and isinstance(parts[-1], str) else "service"
    return tail.rsplit(".", 1)[-1]


MEMBER_KINDS = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Load balancer",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::RDS::DBInstance": "RDS DB instance",
    "AWS::RDS::DBCluster": "RDS DB cluster",
    "AWS::RDS::DBProxy": "RDS Proxy",
    "AWS::EC2::VPCEndpoint": "Interface endpoint",
    "AWS::SecretsManager::RotationSchedule": "Secret rotation function",
    "AWS::EC2::Instance": "EC2 instance",
    "AWS::ECS::Service": "ECS service",
}


def member_kind(resource: Resource) -> str:
    return MEMBER_KINDS.get(resource.type, resource.type.removeprefix("AWS::"))


def display_name(resource: Resource) -> str:
    """A short name a reader recognises: the resource's own name property, else its construct id."""
    if resource.type == "AWS::EC2::VPCEndpoint":
        return service_name(resource)
    for prop in ("DBInstanceIdentifier", "DBClusterIdentifier", "DBProxyName", "FunctionName", "FirewallName", "Name"):
        value = resource.prop(prop)
        if isinstance(value, str):
            return value
    parts = [p for p in resource.path.split("/")[1:] if p not in ("Resource", "Default")]
    return "/".join(parts[-2:]) if parts else resource.logical_id


def in_cidr(cidr: str, network: str) -> bool:
    """Whether `cidr` lies inside `network` (False when either is not a literal CIDR)."""
    try:
        return ipaddress.ip_network(cidr, strict=False).subnet_of(ipaddress.ip_network(network, strict=False))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
