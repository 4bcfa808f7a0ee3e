"""A three-tier VPC segmented for PCI DSS 1.2-1.4.

Tiers: public (load balancer and NAT only), application (private, HTTPS egress
through NAT), CDE (isolated: no route to the internet). Security groups chain
edge -> app -> database by reference; NACLs repeat the same tier boundaries
statelessly (the public tier reaches the application tier on the app port only,
the CDE only from the application tier), so a mistake in a security group does
not open a path between tiers on its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jsii
from aws_cdk import Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify
from pci_constructs.provider_logging import harden_provider

EPHEMERAL_PORTS = ec2.AclTraffic.tcp_port_range(1024, 65535)
ANYWHERE = "0.0.0.0/0"
HTTPS = 443


# AWS-owned buckets that workloads in the application tier read through the S3 gateway endpoint:
# - ECR image layers: "Amazon ECR interface VPC endpoints (AWS PrivateLink)", minimum Amazon S3 bucket
#   permissions for Amazon ECR (prod-<region>-starport-layer-bucket);
# - Amazon Linux 2023 and Amazon Linux 2 package repositories (dnf/yum through the gateway endpoint).
AWS_OWNED_BUCKET_OBJECTS = (
    "prod-{region}-starport-layer-bucket/*",
    "al2023-repos-{region}-de612dc2/*",
    "amazonlinux-2-repos-{region}/*",
)
# STS calls made without AWS credentials, so no aws:PrincipalAccount: they need their own statement.
UNSIGNED_STS_ACTIONS = ("sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")


def aws_owned_bucket_objects(partition: str, region: str) -> list[str]:
    """Object ARNs of the AWS-owned buckets above in `region`."""
    return [f"arn:{partition}:s3:::{pattern.format(region=region)}" for pattern in AWS_OWNED_BUCKET_OBJECTS]


class Tier(StrEnum):
    PUBLIC = "Public"
    APPLICATION = "Application"
    CDE = "Cde"
    # With the egress firewall only: its endpoints, and the NAT gateways behind it.
    FIREWALL = "Firewall"
    EGRESS = "Egress"


# The three segmentation tiers (each with its own NACL) own slices 0-11; the two egress tiers share the
# last four slices and keep the VPC's default NACL: Network Firewall is the control on that path.
SEGMENT_TIERS = (Tier.PUBLIC, Tier.APPLICATION, Tier.CDE)
_FULL_SLOT_TIERS = len(SEGMENT_TIERS)


AZ_SLOT_LETTERS = "abcd"
# The construct ID CDK gives the stack-wide provider behind `restrict_default_security_group`.
DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


@jsii.implements(ec2.IIpAddresses)
class TierSlotAddresses:
    """Gives each (tier, AZ letter) a fixed sixteenth of the VPC CIDR.

    CDK's default allocator hands out subnet CIDRs one after another, so adding an AZ
    re-addresses every later subnet (and the database, endpoints and NAT inside them).
    Here tier i, zone letter j always gets slice 4*i + j: growing from two AZs to three
    only adds subnets. The egress firewall's two small tiers (firewall endpoints, NAT gateways)
    split slice 12 + j in halves, so turning the firewall on leaves every existing subnet alone.
    """

    def __init__(self, network: ipaddress.IPv4Network) -> None:
        self._network = network
        self._slices = list(network.subnets(new_prefix=network.prefixlen + 4))

    def allocate_vpc_cidr(self) -> ec2.VpcIpamOptions:
        return ec2.VpcIpamOptions(cidr_block=str(self._network))

    def allocate_subnets_cidr(
        self, *, requested_subnets: Sequence[ec2.RequestedSubnet | dict[str, Any]], vpc_cidr: str
    ) -> ec2.SubnetIpamOptions:
        tiers = [tier.value for tier in Tier]
        allocated = []
        for requested in requested_subnets:
            request = ec2.RequestedSubnet(**requested) if isinstance(requested, dict) else requested
            tier = tiers.index(request.configuration.name)
            zone = AZ_SLOT_LETTERS.index(request.availability_zone[-1])
            allocated.append(ec2.AllocatedSubnet(cidr=self._slot(tier, zone)))
        return ec2.SubnetIpamOptions(allocated_subnets=allocated)

    def _slot(self, tier: int, zone: int) -> str:
        slots = len(AZ_SLOT_LETTERS)
        if tier < _FULL_SLOT_TIERS:
            return str(self._slices[tier * slots + zone])
        halves = list(self._slices[_FULL_SLOT_TIERS * slots + zone].subnets(prefixlen_diff=1))
        return str(halves[tier - _FULL_SLOT_TIERS])


@dataclass(frozen=True)
class _AclRule:
    """One NACL entry: traffic to or from each of `cidrs`."""

    direction: ec2.TrafficDirection
    traffic: ec2.AclTraffic
    cidrs: Sequence[str]
    # The business need, written into the entry's template metadata (NACL_NEED_METADATA): a NACL
    # entry has no description property, and the rule review (PCI DSS 1.2.5) reads the need there.
    need: str
    action: ec2.Action = ec2.Action.ALLOW
    # Why an entry that admits the internet is needed (the construct's justification of
    # PCI4-EC2-NACL-NO-OPEN-INGRESS on it); None for every other entry.
    open_ingress_reason: str | None = None


# The template metadata key of each NACL entry's business need (PCI DSS 1.2.5), which
# evidence/workpapers.py's rule review reads: AWS::EC2::NetworkAclEntry has no description property.
NACL_NEED_METADATA = "pci-lz:need"
VPC3_REASON = (
    "AwsSolutions advises security groups instead of NACLs; PCI DSS asks for both layers, so the"
    " tier NACLs (public, application, CDE) are deliberate defence in depth"
)
IGW_ROUTE_REASON = (
    "The public tier is the DMZ: its default route to the internet gateway is what lets the load"
    " balancer answer clients{nat}; no workload runs in it and the CDE route tables have no such route"
)
PUBLIC_EPHEMERAL_REASON = (
    "NACLs are stateless: the NAT gateways in this tier receive the replies to the application tier's"
    " outbound HTTPS from any internet address on ephemeral ports 1024-65535; nothing else in the tier"
    " has a public address but the load balancer, whose security group admits only the client CIDRs"
)
APPLICATION_EPHEMERAL_REASON = (
    "NACLs are stateless: replies to this tier's own outbound HTTPS ({path}) arrive from internet"
    " addresses on ephemeral ports 1024-65535; nothing in the tier has a public address and its"
    " stateful security groups admit no such traffic"
)


class SegmentedVpc(Construct):
    """The landing zone's network. Exposes the tiers, their groups and the flow-log group."""

    vpc: ec2.Vpc
    public_subnets: ec2.SelectedSubnets
    application_subnets: ec2.SelectedSubnets
    cde_subnets: ec2.SelectedSubnets
    edge_security_group: ec2.SecurityGroup
    application_security_group: ec2.SecurityGroup
    database_security_group: ec2.SecurityGroup
    endpoint_security_group: ec2.SecurityGroup
    network_acls: dict[Tier, ec2.NetworkAcl]
    flow_log_group: EncryptedLogGroup
    firewall_subnets: ec2.SelectedSubnets | None
    egress_subnets: ec2.SelectedSubnets | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        availability_zones: Sequence[str],
        allowed_ingress_cidrs: Sequence[str],
        app_port: int,
        db_port: int,
        log_key: kms.IKey,
        log_retention_days: int,
        database_behind_proxy: bool = False,
        egress_firewall_subnets: bool = False,
    ) -> None:
        """`database_behind_proxy`: the application tier reaches the database only through a
        proxy that the data layer adds, so no direct app -> database rule is created here.
        `egress_firewall_subnets`: add the firewall and egress tiers and put the NAT gateways in the
        egress tier (pci_constructs/egress_firewall.py then routes the application tier through it)."""
        super().__init__(scope, construct_id)
        network = ipaddress.IPv4Network(cidr)
        if not 2 <= len(availability_zones) <= 3:
            raise ValueError("availability_zones: give 2 or 3 zones")
        if not allowed_ingress_cidrs:
            raise ValueError("allowed_ingress_cidrs: at least one source CIDR is required")
        if app_port == db_port:
            raise ValueError("app_port and db_port must differ")
        bad_zones = [az for az in availability_zones if az[-1] not in AZ_SLOT_LETTERS]
        if bad_zones:
            raise ValueError(f"availability_zones: {bad_zones} end in a letter outside {AZ_SLOT_LETTERS!r}")

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=TierSlotAddresses(network),
            availability_zones=list(availability_zones),
            nat_gateways=len(availability_zones),
            nat_gateway_subnets=ec2.SubnetSelection(
                subnet_group_name=(Tier.EGRESS if egress_firewall_subnets else Tier.PUBLIC).value
            ),
            restrict_default_security_group=True,
            subnet_configuration=[
                # Nothing in any tier gets a public IP by default: the ALB and NAT gateways
                # bring their own addresses.
                ec2.SubnetConfiguration(
                    name=Tier.PUBLIC.value,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=Tier.APPLICATION.value,
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                ),
                ec2.SubnetConfiguration(
                    name=Tier.CDE.value,
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                ),
                *(self._egress_tiers() if egress_firewall_subnets else ()),
            ],
        )
        self.public_subnets = self._tier(Tier.PUBLIC)
        self.application_subnets = self._tier(Tier.APPLICATION)
        self.cde_subnets = self._tier(Tier.CDE)
        for subnet in self.cde_subnets.subnets:
            Tags.of(subnet).add("pci-scope", "cde")
        self.firewall_subnets = self._tier(Tier.FIREWALL) if egress_firewall_subnets else None
        self.egress_subnets = self._tier(Tier.EGRESS) if egress_firewall_subnets else None

        self._create_security_groups(network, allowed_ingress_cidrs, app_port, db_port, database_behind_proxy)
        self._create_network_acls(
            network, allowed_ingress_cidrs, app_port, db_port, nat_in_public_tier=not egress_firewall_subnets
        )
        self._justify_internet_routes(nat_in_public_tier=not egress_firewall_subnets)
        self._create_endpoints()

        self.flow_log_group = EncryptedLogGroup(
            self,
            "FlowLogs",
            encryption_key=log_key,
            retention_days=log_retention_days,
        )
        self._create_flow_log()
        self._harden_default_sg_provider(log_key, log_retention_days)

    def _harden_default_sg_provider(self, log_key: kms.IKey, log_retention_days: int) -> None:
        """CDK's default-SG provider: its own encrypted, retained log group, no AWS managed policy.

        `restrict_default_security_group` adds a stack-wide singleton function built from raw
        `CfnResource`s (no L2 to configure): it logs to an implicit, unencrypted, never-expiring
        group, and its role carries AWSLambdaBasicExecutionRole. Both are replaced here, once
        per stack: `LoggingConfig.LogGroup` ("Configuring advanced logging controls for Lambda
        functions", AWS Lambda Developer Guide) and an inline policy limited to that group.
        It stays outside the VPC (see the acknowledgment): its reply goes to CloudFormation's
        pre-signed S3 URL, which the S3 gateway endpoint's account-only policy would refuse.
        """
        provider = Stack.of(self).node.try_find_child(DEFAULT_SG_PROVIDER)
        if isinstance(provider, Construct):  # no provider when the flag is off
            harden_provider(provider, log_key=log_key, log_retention_days=log_retention_days)
            handler = provider.node.try_find_child("Handler")
            if handler is not None:
                justify(
                    self,
                    handler,
                    rule="PCI4-LAMBDA-IN-VPC",
                    reason=(
                        "CDK's default-security-group provider runs only during deployment, to empty the VPC's"
                        " default group through EC2 APIs, and answers CloudFormation through a pre-signed S3 URL"
                        " in AWS's own account, which a VPC's account-only S3 gateway endpoint refuses; it holds"
                        " no cardholder data and logs to its own encrypted, retained group"
                    ),
                    requirement="PCI DSS v4.0.1 1.3.1",
                )

    @staticmethod
    def _egress_tiers() -> tuple[ec2.SubnetConfiguration, ...]:
        """Firewall endpoints (default route to the NAT gateway of their AZ) and the NAT gateways' own subnets."""
        return (
            ec2.SubnetConfiguration(name=Tier.FIREWALL.value, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(
                name=Tier.EGRESS.value, subnet_type=ec2.SubnetType.PUBLIC, map_public_ip_on_launch=False
            ),
        )

    def _tier(self, tier: Tier) -> ec2.SelectedSubnets:
        return self.vpc.select_subnets(subnet_group_name=tier.value)

    @staticmethod
    def _cidrs(subnets: ec2.SelectedSubnets) -> list[str]:
        return [subnet.ipv4_cidr_block for subnet in subnets.subnets]

    def _create_security_groups(
        self,
        network: ipaddress.IPv4Network,
        allowed_ingress_cidrs: Sequence[str],
        app_port: int,
        db_port: int,
        database_behind_proxy: bool,
    ) -> None:
        """Edge -> app -> database (or -> the data stack's proxy, which alone reaches the database)."""

        def group(construct_id: str, description: str) -> ec2.SecurityGroup:
            return ec2.SecurityGroup(
                self,
                construct_id,
                vpc=self.vpc,
                description=description,
                allow_all_outbound=False,
            )

        self.edge_security_group = group("EdgeSecurityGroup", "Public load balancer: HTTPS in, app tier out")
        self.application_security_group = group("ApplicationSecurityGroup", "Application tier: from the edge only")
        self.database_security_group = group("DatabaseSecurityGroup", "CDE database: from the application tier only")
        self.endpoint_security_group = group(
            "EndpointSecurityGroup", "Interface VPC endpoints: HTTPS from inside the VPC"
        )

        for source in allowed_ingress_cidrs:
            peer = ec2.Peer.ipv4(source)
            self.edge_security_group.add_ingress_rule(peer, ec2.Port.tcp(HTTPS), "HTTPS from allowed clients")
        self.edge_security_group.add_egress_rule(
            self.application_security_group, ec2.Port.tcp(app_port), "To application targets"
        )
        self.application_security_group.add_ingress_rule(
            self.edge_security_group, ec2.Port.tcp(app_port), "From the load balancer"
        )
        self.application_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "HTTPS to AWS endpoints and via NAT"
        )
        if not database_behind_proxy:
            self.application_security_group.add_egress_rule(
                self.database_security_group, ec2.Port.tcp(db_port), "To the CDE database"
            )
            self.database_security_group.add_ingress_rule(
                self.application_security_group, ec2.Port.tcp(db_port), "From the application tier"
            )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(str(network)), ec2.Port.tcp(HTTPS), "HTTPS from inside the VPC"
        )

    def _create_network_acls(
        self,
        network: ipaddress.IPv4Network,
        allowed_ingress_cidrs: Sequence[str],
        app_port: int,
        db_port: int,
        *,
        nat_in_public_tier: bool,
    ) -> None:
        """Each tier's entries, narrowed to what the egress mode needs.

        With the NAT gateways in the public tier (`egress.mode: nat`) it forwards the application
        tier's HTTPS and takes the replies from anywhere; behind the Network Firewall the NAT
        gateways sit in the egress tier, so the public tier admits ephemeral ports only from the
        application tier (replies of instance and IP targets; an ALB invokes Lambda targets
        without a network connection, "Lambda functions as targets", ELB User Guide) and replies
        only to the client CIDRs.
        """
        inbound, outbound = ec2.TrafficDirection.INGRESS, ec2.TrafficDirection.EGRESS
        public = self._cidrs(self.public_subnets)
        app = self._cidrs(self.application_subnets)
        cde = self._cidrs(self.cde_subnets)
        vpc = [str(network)]
        https = ec2.AclTraffic.tcp_port(HTTPS)
        app_traffic, db_traffic = ec2.AclTraffic.tcp_port(app_port), ec2.AclTraffic.tcp_port(db_port)

        rules: dict[Tier, list[_AclRule]] = {
            Tier.PUBLIC: [
                _AclRule(inbound, https, allowed_ingress_cidrs, need="HTTPS from the API clients to the load balancer"),
                *(
                    (
                        _AclRule(
                            inbound, https, app, need="application-tier HTTPS egress forwarded by the NAT gateways"
                        ),
                        _AclRule(
                            inbound,
                            EPHEMERAL_PORTS,
                            [ANYWHERE],
                            need="replies to NAT-forwarded flows (stateless NACL)",
                            open_ingress_reason=PUBLIC_EPHEMERAL_REASON,
                        ),
                    )
                    if nat_in_public_tier
                    else (
                        _AclRule(
                            inbound,
                            EPHEMERAL_PORTS,
                            app,
                            need="application-tier replies to the load balancer's targets",
                        ),
                    )
                ),
                _AclRule(outbound, app_traffic, app, need="load balancer to its targets in the application tier"),
                *(
                    (
                        _AclRule(outbound, https, [ANYWHERE], need="NAT gateways forwarding application-tier HTTPS"),
                        _AclRule(
                            outbound,
                            EPHEMERAL_PORTS,
                            [ANYWHERE],
                            need="replies to API clients and to NAT-forwarded flows (stateless NACL)",
                        ),
                    )
                    if nat_in_public_tier
                    else (
                        _AclRule(
                            outbound,
                            EPHEMERAL_PORTS,
                            allowed_ingress_cidrs,
                            need="load balancer replies to the API clients (stateless NACL)",
                        ),
                    )
                ),
            ],
            Tier.APPLICATION: [
                _AclRule(inbound, app_traffic, public, need="load balancer to the application port"),
                _AclRule(inbound, https, app + cde, need="HTTPS to the interface endpoints, which live in this tier"),
                # The public tier reaches this tier on the app port only: without this deny, the
                # ephemeral allow below would admit it on every port >= 1024. Replies to NAT-routed
                # egress carry the remote server's address, never a public-subnet one.
                _AclRule(
                    inbound,
                    EPHEMERAL_PORTS,
                    public,
                    need="deny: the public tier reaches this tier on the application port only",
                    action=ec2.Action.DENY,
                ),
                _AclRule(
                    inbound,
                    EPHEMERAL_PORTS,
                    [ANYWHERE],
                    need="replies to this tier's HTTPS egress and database calls (stateless NACL)",
                    open_ingress_reason=APPLICATION_EPHEMERAL_REASON.format(
                        path="through the NAT gateways" if nat_in_public_tier else "through the Network Firewall"
                    ),
                ),
                _AclRule(
                    outbound,
                    https,
                    [ANYWHERE],
                    need="HTTPS to the interface endpoints and out through the NAT gateways or the firewall",
                ),
                _AclRule(outbound, db_traffic, cde, need="the vault's functions to the database proxy in the CDE"),
                _AclRule(outbound, EPHEMERAL_PORTS, vpc, need="replies to the load balancer and to endpoint callers"),
            ],
            Tier.CDE: [
                _AclRule(inbound, db_traffic, app + cde, need="database clients, and proxy-to-database across zones"),
                _AclRule(inbound, EPHEMERAL_PORTS, app + cde, need="replies to the CDE's HTTPS and database calls"),
                _AclRule(outbound, EPHEMERAL_PORTS, app + cde, need="database replies to its clients"),
                _AclRule(outbound, https, app, need="AWS APIs only through the interface endpoints"),
                _AclRule(outbound, db_traffic, cde, need="proxy to database across zones"),
            ],
        }
        subnets = {
            Tier.PUBLIC: self.public_subnets,
            Tier.APPLICATION: self.application_subnets,
            Tier.CDE: self.cde_subnets,
        }
        self.network_acls = {}
        for tier, tier_rules in rules.items():
            acl = ec2.NetworkAcl(
                self,
                f"{tier.value}Nacl",
                vpc=self.vpc,
                subnet_selection=ec2.SubnetSelection(subnets=subnets[tier].subnets),
            )
            justify(self, acl, rule="AwsSolutions-VPC3", reason=VPC3_REASON, requirement="PCI DSS v4.0.1 1.2.1, 1.3.1")
            numbers = {inbound: 100, outbound: 100}
            for rule in tier_rules:
                for cidr in rule.cidrs:
                    number = numbers[rule.direction]
                    numbers[rule.direction] += 10
                    entry = acl.add_entry(
                        f"{'In' if rule.direction == inbound else 'Out'}{number}",
                        cidr=ec2.AclCidr.ipv4(cidr),
                        rule_number=number,
                        traffic=rule.traffic,
                        direction=rule.direction,
                        rule_action=rule.action,
                    )
                    entry_resource = entry.node.default_child
                    assert isinstance(entry_resource, ec2.CfnNetworkAclEntry)
                    entry_resource.add_metadata(NACL_NEED_METADATA, rule.need)
                    if rule.open_ingress_reason is not None:
                        justify(
                            self,
                            entry,
                            rule="PCI4-EC2-NACL-NO-OPEN-INGRESS",
                            reason=rule.open_ingress_reason,
                            requirement="PCI DSS v4.0.1 1.3.1, 1.4.2",
                        )
            self.network_acls[tier] = acl

    def _justify_internet_routes(self, *, nat_in_public_tier: bool) -> None:
        """The public subnets' default route to the internet gateway (cdk-nag's PCI DSS 3.2.1 and
        NIST packs flag every such route); the egress tier's are the EgressFirewall's to justify."""
        reason = IGW_ROUTE_REASON.format(nat=" and the NAT gateways forward egress" if nat_in_public_tier else "")
        for subnet in self.public_subnets.subnets:
            route = subnet.node.try_find_child("DefaultRoute")
            if route is None:
                continue
            for rule in ("PCI.DSS.321-VPCNoUnrestrictedRouteToIGW", "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW"):
                justify(self, route, rule=rule, reason=reason, requirement="PCI DSS v4.0.1 1.4.1, 1.4.2")
            # The rule review's stated need (evidence/workpapers.py): a route has no description property.
            if isinstance(route, ec2.CfnRoute):
                route.add_metadata(NACL_NEED_METADATA, reason)

    def _create_flow_log(self) -> None:
        """ALL traffic (PCI DSS 10.2), delivered by a role whose permissions are a managed policy.

        The L2 `add_flow_log` writes an inline policy; a customer-managed policy keeps
        the role's permissions reviewable on their own (PCI DSS 7.2).
        """
        stack = Stack.of(self)
        log_group = self.flow_log_group.log_group
        role = iam.Role(
            self,
            "FlowLogRole",
            description="Lets VPC Flow Logs deliver to its encrypted log group",
            # "IAM role for publishing flow logs to CloudWatch Logs": aws:SourceAccount and aws:SourceArn.
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:vpc-flow-log/*"
                    },
                },
            ),
        )
        delivery_policy = iam.ManagedPolicy(
            self,
            "FlowLogDeliveryPolicy",
            description="Write VPC flow log records to the flow-log group only",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[log_group.log_group_arn],
                )
            ],
        )
        flow_log = ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.vpc.vpc_id,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=log_group.log_group_name,
            deliver_logs_permission_arn=role.role_arn,
            max_aggregation_interval=60,
        )
        flow_log.node.add_dependency(delivery_policy)  # delivery starts at once, with the role's permissions

    def _create_endpoints(self) -> None:
        """Private paths to AWS APIs; each endpoint only serves principals of this account."""
        stack = Stack.of(self)
        account = stack.account
        same_account_only = iam.PolicyStatement(
            sid="OnlyThisAccountsPrincipals",
            principals=[iam.AnyPrincipal()],
            actions=["*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:PrincipalAccount": account}},
        )
        s3 = self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[ec2.SubnetSelection(subnet_group_name=Tier.APPLICATION.value)],
        )
        s3.add_to_policy(same_account_only)
        # The rule review's stated need of the prefix-list routes this endpoint adds (evidence/workpapers.py).
        endpoint_resource = s3.node.default_child
        if isinstance(endpoint_resource, ec2.CfnVPCEndpoint):
            endpoint_resource.add_metadata(
                NACL_NEED_METADATA,
                "The application tier reaches S3 (the landing zone's buckets, ECR layers, OS repositories) over"
                " AWS's network under this endpoint's same-account policy, not through the firewall and NAT",
            )
        # Requests to AWS-owned buckets are signed by AWS (ECR hands out layer URLs) or anonymous (the
        # Amazon Linux repositories): aws:PrincipalAccount never matches them, so read-only access to
        # exactly those buckets is allowed on its own (see AWS_OWNED_BUCKET_OBJECTS for the sources).
        s3.add_to_policy(
            iam.PolicyStatement(
                sid="AwsOwnedBucketsTheTiersNeed",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=aws_owned_bucket_objects(stack.partition, stack.region),
            )
        )
        services = {
            "KmsEndpoint": ec2.InterfaceVpcEndpointAwsService.KMS,
            "SecretsManagerEndpoint": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            "LogsEndpoint": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
            "StsEndpoint": ec2.InterfaceVpcEndpointAwsService.STS,
            # Lambda functions in the VPC send trace segments to X-Ray through it (no NAT path needed).
            "XRayEndpoint": ec2.InterfaceVpcEndpointAwsService.XRAY,
        }
        # Web-identity and SAML federation (EKS IRSA, CI OIDC) call STS unsigned, so aws:PrincipalAccount is
        # absent: allow them through the endpoint for this account's roles only ("Control access to VPC
        # endpoints using endpoint policies"; STS "AssumeRoleWithWebIdentity" needs no AWS credentials).
        federation = iam.PolicyStatement(
            sid="FederationIntoThisAccountsRoles",
            principals=[iam.AnyPrincipal()],
            actions=list(UNSIGNED_STS_ACTIONS),
            resources=[f"arn:{stack.partition}:iam::{account}:role/*"],
        )
        for construct_id, service in services.items():
            endpoint = self.vpc.add_interface_endpoint(
                construct_id,
                service=service,
                subnets=ec2.SubnetSelection(subnet_group_name=Tier.APPLICATION.value),
                security_groups=[self.endpoint_security_group],
                private_dns_enabled=True,
                open=False,
            )
            endpoint.add_to_policy(same_account_only)
            if construct_id == "StsEndpoint":
                endpoint.add_to_policy(federation)
