"""Network segmentation and its logs (PCI DSS v4.0.1 1.3, 1.4, 10.2)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import ANYWHERE, as_list, is_cde_subnet, is_true, sdk_action, sdk_calls

SG = "AWS::EC2::SecurityGroup"
EDGE_PORTS = frozenset({80, 443})
TCP = ("tcp", "6", 6)


def _ports(entry: Mapping[str, Any]) -> tuple[Any, Any]:
    return entry.get("FromPort"), entry.get("ToPort")


def _edge_security_groups(model: TemplateModel) -> set[tuple[str, str]]:
    """Security groups attached to an internet-facing load balancer: the only ones that may face 0.0.0.0/0."""
    found = set()
    for lb in model.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        if lb.prop("Scheme") != "internal":
            found |= {g.key for g in model.references(lb.stack, lb.prop("SecurityGroups"))}
    return found


def _open_ingress(stack: str, model: TemplateModel, entry: Mapping[str, Any]) -> bool:
    cidrs = {model.literal(stack, entry.get("CidrIp")), model.literal(stack, entry.get("CidrIpv6"))}
    return bool(cidrs & ANYWHERE)


def _edge_port(entry: Mapping[str, Any]) -> bool:
    low, high = _ports(entry)
    return entry.get("IpProtocol") in TCP and low == high and low in EDGE_PORTS


@rule(
    id="PCI4-EC2-SG-NO-OPEN-INGRESS",
    requirements=("1.3.1", "1.4.2"),
    description="No security group admits 0.0.0.0/0 or ::/0, except TCP 80/443 on an internet-facing LB's group.",
    fix="Admit other security groups or known CIDRs; only the edge LB's group may take 80/443 from anywhere.",
)
def sg_no_open_ingress(model: TemplateModel) -> Iterator[Check]:
    edge = _edge_security_groups(model)
    for group in model.resources(SG):
        bad = [
            f"{e.get('IpProtocol')} {_ports(e)}"
            for e in as_list(group.prop("SecurityGroupIngress"))
            if isinstance(e, Mapping)
            and _open_ingress(group.stack, model, e)
            and not (group.key in edge and _edge_port(e))
        ]
        yield Check(group, not bad, f"open to the internet: {bad}" if bad else "")
    for ingress in model.resources("AWS::EC2::SecurityGroupIngress"):
        target = model.target(ingress.stack, ingress.prop("GroupId"))
        entry = {k: ingress.reference(k) for k in ingress.properties}
        bad_one = _open_ingress(ingress.stack, model, entry) and not (
            target is not None and target.key in edge and _edge_port(entry)
        )
        yield Check(ingress, not bad_one, f"open to the internet: {_ports(entry)}" if bad_one else "")


@rule(
    id="PCI4-EC2-SG-NO-ALLOW-ALL-EGRESS",
    requirements=("1.3.2",),
    description="No security group allows all protocols to 0.0.0.0/0 or ::/0 outbound.",
    fix="Replace allow-all egress with the ports and peers the workload needs (CDK: allow_all_outbound=False).",
)
def sg_no_allow_all_egress(model: TemplateModel) -> Iterator[Check]:
    def allow_all(stack: str, entry: Any) -> bool:
        return (
            isinstance(entry, Mapping)
            and str(entry.get("IpProtocol")) == "-1"
            and bool(
                {model.literal(stack, entry.get("CidrIp")), model.literal(stack, entry.get("CidrIpv6"))} & ANYWHERE
            )
        )

    for group in model.resources(SG):
        bad = any(allow_all(group.stack, e) for e in as_list(group.prop("SecurityGroupEgress")))
        yield Check(group, not bad, "allows all traffic out to the internet" if bad else "")
    for egress in model.resources("AWS::EC2::SecurityGroupEgress"):
        bad = allow_all(egress.stack, {k: egress.reference(k) for k in egress.properties})
        yield Check(egress, not bad, "allows all traffic out to the internet" if bad else "")


@rule(
    id="PCI4-EC2-NACL-NO-OPEN-INGRESS",
    requirements=("1.3.1", "1.4.2"),
    description="No network ACL admits 0.0.0.0/0 or ::/0 inbound, except TCP 80/443 to the public tier.",
    fix="Allow inbound only from known CIDRs; a NACL that must take return traffic from the internet is acknowledged.",
)
def nacl_no_open_ingress(model: TemplateModel) -> Iterator[Check]:
    for entry in model.resources("AWS::EC2::NetworkAclEntry"):
        if is_true(entry.prop("Egress")) or str(entry.prop("RuleAction")).lower() != "allow":
            continue
        cidrs = {
            model.literal(entry.stack, entry.prop("CidrBlock")),
            model.literal(entry.stack, entry.prop("Ipv6CidrBlock")),
        }
        if not cidrs & ANYWHERE:
            yield Check(entry, True)
            continue
        low, high = entry.prop("PortRange", "From"), entry.prop("PortRange", "To")
        edge = str(entry.prop("Protocol")) == "6" and low == high and low in EDGE_PORTS
        nacl = model.target(entry.stack, entry.prop("NetworkAclId"))
        public_tier = nacl is not None and not any(_nacl_subnets_in_cde(model, nacl))
        ok = edge and public_tier
        yield Check(
            entry, ok, "" if ok else f"admits the internet on protocol {entry.prop('Protocol')} ports {low}-{high}"
        )


def _nacl_subnets_in_cde(model: TemplateModel, nacl: Resource) -> Iterator[bool]:
    for association in model.referrers(nacl, "AWS::EC2::SubnetNetworkAclAssociation"):
        subnet = model.target(association.stack, association.prop("SubnetId"))
        yield subnet is not None and is_cde_subnet(subnet)


@rule(
    id="PCI4-EC2-CDE-NO-INTERNET-ROUTE",
    requirements=("1.4.4", "1.3.1"),
    description="A CDE subnet (tagged pci-scope=cde) has no route to an internet, NAT or egress-only gateway.",
    fix="Give CDE subnets route tables without routes to IGW/NAT; reach AWS services via VPC endpoints.",
    acknowledgeable=False,
)
def cde_no_internet_route(model: TemplateModel) -> Iterator[Check]:
    internet = {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"}
    for subnet in model.resources("AWS::EC2::Subnet"):
        if not is_cde_subnet(subnet):
            continue
        tables = [
            t
            for a in model.referrers(subnet, "AWS::EC2::SubnetRouteTableAssociation")
            if (t := model.target(a.stack, a.prop("RouteTableId"))) is not None
        ]
        bad = []
        for table in tables:
            for route in model.referrers(table, "AWS::EC2::Route"):
                gateways = [
                    model.target(route.stack, route.prop(k))
                    for k in ("GatewayId", "NatGatewayId", "EgressOnlyInternetGatewayId")
                ]
                if any(g is not None and g.type in internet for g in gateways) or model.literal(
                    route.stack, route.prop("GatewayId")
                ) not in (None, "local"):
                    bad.append(route.logical_id)
        yield Check(subnet, not bad, f"routes to the internet: {bad}" if bad else "")


@rule(
    id="PCI4-EC2-FLOW-LOGS",
    requirements=("10.2.1",),
    description="Every VPC has a flow log that records all traffic (accepted and rejected).",
    fix="Add an AWS::EC2::FlowLog with ResourceType VPC and TrafficType ALL to an encrypted destination.",
)
def vpc_flow_logs(model: TemplateModel) -> Iterator[Check]:
    for vpc in model.resources("AWS::EC2::VPC"):
        logged = any(f.prop("TrafficType") == "ALL" for f in model.attached(vpc, "AWS::EC2::FlowLog", "ResourceId"))
        yield Check(vpc, logged, "" if logged else "no flow log with TrafficType ALL")


@rule(
    id="PCI4-EC2-NO-AUTO-PUBLIC-IP",
    requirements=("1.3.1", "1.4.4"),
    description="No subnet assigns public IPv4 addresses to instances automatically.",
    fix="Set MapPublicIpOnLaunch: false on every subnet (CDK: map_public_ip_on_launch=False).",
)
def subnet_no_public_ip(model: TemplateModel) -> Iterator[Check]:
    for subnet in model.resources("AWS::EC2::Subnet"):
        public = is_true(subnet.prop("MapPublicIpOnLaunch"))
        yield Check(subnet, not public, "MapPublicIpOnLaunch is true" if public else "")


@rule(
    id="PCI4-EC2-DEFAULT-SG-RESTRICTED",
    requirements=("1.2.1", "1.3.1"),
    description="Every VPC's default security group has its rules removed at deployment.",
    fix="Restrict the default group (CDK: restrict_default_security_group=True, or an SDK call revoking its rules).",
)
def default_sg_restricted(model: TemplateModel) -> Iterator[Check]:
    for vpc in model.resources("AWS::EC2::VPC"):
        restricted = any(
            r.type.startswith("Custom::") and "DefaultSecurityGroup" in str(r.properties) for r in model.referrers(vpc)
        )
        yield Check(vpc, restricted, "" if restricted else "the default security group keeps its rules")


@rule(
    id="PCI4-EC2-EBS-DEFAULT-ENCRYPTION",
    # Related to 3.5.1.2, not evidence: EBS encryption by default is disk-level encryption, the subject of 3.5.1.2:
    # on non-removable
    # media PAN must also be rendered unreadable by a 3.5.1 mechanism (the vault's field-level
    # encryption), so this is not 3.5.1 itself.
    requirements=(),
    related=("3.5.1.2",),
    description="Where the app sets EBS encryption by default (an SDK call at deployment), it turns it on.",
    fix="Call EnableEbsEncryptionByDefault (and ModifyEbsDefaultKmsKeyId) at deployment in each region, not"
    " DisableEbsEncryptionByDefault.",
)
def ebs_default_encryption(model: TemplateModel) -> Iterator[Check]:
    # EBS encryption by default is an account setting per Region with no CloudFormation resource: an app sets it by
    # SDK call (`Custom::AWS`, an AwsCustomResource), or the organisation sets it outside the app. Only the calls
    # are examined; an app that makes none has nothing examined ("not evidenced"), as for the other account-level
    # settings (README, "What it does not do"), not a failure on every VPC (QSA reader r21d, LOW).
    for resource in model.resources():
        if not resource.type.startswith("Custom::"):
            continue
        calls = sdk_calls(resource)
        text = (" ".join(sdk_action(c) for _, c in calls) if calls else str(resource.properties)).lower()
        if "disableebsencryptionbydefault" in text:
            yield Check(resource, False, "turns EBS encryption by default off (DisableEbsEncryptionByDefault)")
        elif "enableebsencryptionbydefault" in text:
            yield Check(resource, True, "turns EBS encryption by default on")


@rule(
    id="PCI4-EC2-VOLUME-ENCRYPTED",
    # Related to 3.5.1.2, not evidence: EBS volume encryption is disk-level encryption, the subject of 3.5.1.2: on
    # non-removable
    # media PAN must also be rendered unreadable by a 3.5.1 mechanism (the vault's field-level
    # encryption), so this is not 3.5.1 itself.
    requirements=(),
    related=("3.5.1.2",),
    description="Every EBS volume and instance block device is encrypted.",
    fix="Set Encrypted: true (and a KmsKeyId) on AWS::EC2::Volume and every BlockDeviceMappings Ebs.",
    acknowledgeable=False,
)
def volumes_encrypted(model: TemplateModel) -> Iterator[Check]:
    for volume in model.resources("AWS::EC2::Volume"):
        encrypted = is_true(volume.prop("Encrypted"))
        yield Check(volume, encrypted, "" if encrypted else "Encrypted is not true")
    for holder in model.resources("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"):
        mappings = holder.prop("BlockDeviceMappings") or holder.prop("LaunchTemplateData", "BlockDeviceMappings")
        bad = [
            m.get("DeviceName")
            for m in as_list(mappings)
            if isinstance(m, Mapping) and "Ebs" in m and not is_true((m.get("Ebs") or {}).get("Encrypted"))
        ]
        yield Check(holder, not bad, f"unencrypted block devices {bad}" if bad else "")
