"""PCI DSS v4.0.1 1.2.3 network and 1.2.4 cardholder-data-flow diagrams, drawn from a `Topology`.

Each diagram is first built as a small neutral graph (`Diagram`: clusters, nodes, edges), then
written twice from that one graph: Graphviz DOT and Mermaid flowchart syntax (the subset GitHub
renders: `flowchart`, `subgraph`, quoted labels, `-->|"label"|`, `classDef`). Nothing is drawn by
hand: every security-group rule becomes a labelled edge (one edge per allowed flow; the egress rule
of one group and the matching ingress rule of its peer share it, and the edge's tooltip lists both
rules' template references), every network ACL entry a row of its tier's ACL table.

Output is deterministic: nodes are numbered in the order the templates list resources, and no
timestamp or absolute path is written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence.topology import (
    AclEntry,
    Member,
    RegionTopology,
    SgRule,
    display_name,
    in_cidr,
)
from pci_rules.model import Resource, TemplateModel

ANYWHERE = ("0.0.0.0/0", "::/0")


@dataclass
class Node:
    id: str
    label: str  # lines separated by "\n"
    kind: str = "resource"  # styling class: resource, cde, internet, gateway, acl, key, log, flowless
    rows: tuple[tuple[str, str], ...] = ()  # (row text, template reference) for table nodes (ACLs)


@dataclass
class Edge:
    source: str
    target: str
    label: str
    kind: str = "flow"  # flow (allowed traffic), route, deny, key, log, data
    refs: tuple[str, ...] = ()  # template references of the rules that allow it


@dataclass
class Cluster:
    id: str
    label: str
    kind: str = "plain"  # plain, vpc, tier, cde, internet, scope
    nodes: list[str] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


@dataclass
class Diagram:
    name: str
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)

    def add(self, node: Node, cluster: Cluster | None = None) -> str:
        if node.id not in self.nodes:
            self.nodes[node.id] = node
            if cluster is not None:
                cluster.nodes.append(node.id)
        return node.id


# -- the network diagram (1.2.3) ------------------------------------------------------------------
def _sg_name(group: Resource) -> str:
    parts = [p for p in group.path.split("/")[1:] if p not in ("Resource", "Default")]
    return parts[-1] if parts else group.logical_id


def _member_lines(members: list[Member]) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for member in members:
        by_kind.setdefault(member.kind, []).append(member.name)
    lines = []
    for kind, names in by_kind.items():
        plural = "s" if len(names) > 1 else ""
        lines.append(f"{kind}{plural}: {', '.join(names)}")
    return lines


def _group_tier(topo: RegionTopology, members: list[Member], group: Resource | None = None) -> str | None:
    """The one tier every member's subnets are in; for a group with nothing attached yet, the tier
    its construct name starts with (`ApplicationSecurityGroup` -> Application), else None."""
    tiers = {s.tier for m in members for sub in m.subnets if (s := topo.subnet(sub)) is not None}
    if not members and group is not None:
        name = _sg_name(group).lower()
        tiers = {t for t in topo.tiers if name.startswith(t.lower())}
    return tiers.pop() if len(tiers) == 1 else None


ROUTE_TARGET_LABELS = {
    "internet-gateway": "Internet gateway",
    "nat-gateway": "NAT gateway",
    "virtual-private-gateway": "Virtual private gateway",
    "transit-gateway": "Transit gateway",
    "peering": "VPC peering connection",
    "gateway-endpoint": "Gateway endpoint",
}


def _route_target_label(kind: str, target: Resource) -> str:
    """What a route points at, in AWS terms (a Network Firewall's endpoint, a GWLB endpoint...)."""
    if target.type == "AWS::NetworkFirewall::Firewall":
        return "AWS Network Firewall endpoint"
    if kind == "vpc-endpoint":
        return "Firewall / Gateway Load Balancer endpoint"
    return ROUTE_TARGET_LABELS.get(kind, target.type.removeprefix("AWS::"))


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"


def _cidr_label(topo: RegionTopology, cidr: str) -> tuple[str, str]:
    """(label, kind) for a CIDR peer: anywhere, a VPC, a tier's subnet, or the literal range."""
    if cidr in ANYWHERE:
        return f"Anywhere {cidr}\n(internet, AWS public endpoints)", "internet"
    for subnet in topo.subnets:
        if subnet.cidr == cidr:
            return f"{subnet.tier} subnet {subnet.az}\n{cidr}", "cde" if subnet.cde else "resource"
    for vpc in topo.vpcs:
        vpc_cidr = vpc.prop("CidrBlock")
        if isinstance(vpc_cidr, str) and vpc_cidr == cidr:
            return f"Any address in the VPC\n{cidr}", "resource"
    inside = any(isinstance(v.prop("CidrBlock"), str) and in_cidr(cidr, v.prop("CidrBlock")) for v in topo.vpcs)
    return (
        f"Addresses {cidr}\n(inside the VPC)" if inside else f"Addresses {cidr}"
    ), "internet" if not inside else "resource"


def network_diagram(topo: RegionTopology) -> Diagram:
    """Tiers as clusters (the CDE tiers inside a CDE-boundary cluster), subnets per AZ, gateways,
    endpoints, every security group with what is attached to it, every allowed flow."""
    diagram = Diagram(
        name=f"network-{topo.region}",
        title=f"PCI DSS v4.0.1 1.2.3 network diagram: {topo.region} (generated from the synthesized templates)",
    )
    ids = _Ids()
    internet = Cluster("cluster_internet", "Internet and AWS public endpoints", "internet")
    diagram.clusters.append(internet)
    vpc_clusters: dict[tuple[str, str], Cluster] = {}
    tier_clusters: dict[tuple[tuple[str, str], str], Cluster] = {}
    for vpc in topo.vpcs:
        cidr = vpc.prop("CidrBlock")
        vpc_cluster = Cluster(
            ids("cluster_vpc"), f"VPC {display_name(vpc)} {cidr if isinstance(cidr, str) else ''}".strip(), "vpc"
        )
        vpc_clusters[vpc.key] = vpc_cluster
        diagram.clusters.append(vpc_cluster)
        cde = Cluster(ids("cluster_cde"), "CDE boundary (subnets tagged pci-scope=cde)", "cde")
        for tier in topo.tiers:
            if not any(s.vpc is not None and s.vpc.key == vpc.key for s in topo.tier_subnets(tier)):
                continue
            tier_cluster = Cluster(ids("cluster_tier"), f"{tier} tier", "tier")
            tier_clusters[(vpc.key, tier)] = tier_cluster
            (cde.clusters if topo.is_cde_tier(tier) else vpc_cluster.clusters).append(tier_cluster)
        if cde.clusters:
            vpc_cluster.clusters.append(cde)

    # Subnets, one node per AZ, and their NACL tables.
    subnet_nodes: dict[tuple[str, str], str] = {}
    acl_nodes: dict[tuple[str, str], str] = {}
    entries_by_acl: dict[tuple[str, str], list[AclEntry]] = {}
    for entry in topo.acl_entries:
        entries_by_acl.setdefault(entry.acl.key, []).append(entry)
    cluster: Cluster | None
    for subnet in topo.subnets:
        cluster = tier_clusters.get((subnet.vpc.key, subnet.tier)) if subnet.vpc is not None else None
        subnet_nodes[subnet.resource.key] = diagram.add(
            Node(
                ids("subnet"),
                f"{subnet.tier} subnet {subnet.az}\n{subnet.cidr or ''}".strip(),
                "cde" if subnet.cde else "subnet",
            ),
            cluster,
        )
        acl = subnet.network_acl
        if acl is not None and acl.key not in acl_nodes:
            rows = tuple((e.text, e.ref) for e in entries_by_acl.get(acl.key, []))
            acl_nodes[acl.key] = diagram.add(
                Node(ids("acl"), f"Network ACL {display_name(acl)} ({subnet.tier} tier)", "acl", rows), cluster
            )
    # NACLs no subnet uses still hold entries that the templates declare.
    for acl_key, entries in entries_by_acl.items():
        if acl_key not in acl_nodes:
            acl = entries[0].acl
            acl_nodes[acl_key] = diagram.add(
                Node(
                    ids("acl"),
                    f"Network ACL {display_name(acl)} (no subnet associated)",
                    "acl",
                    tuple((e.text, e.ref) for e in entries),
                )
            )

    # Gateways and routes.
    gateway_nodes: dict[tuple[str, str], str] = {}
    for igw in topo.internet_gateways:
        gateway_nodes[igw.key] = diagram.add(
            Node(ids("igw"), f"Internet gateway\n{display_name(igw)}", "gateway"), internet
        )
    for nat, subnet_res in topo.nat_gateways:
        sub = topo.subnet(subnet_res) if subnet_res is not None else None
        cluster = tier_clusters.get((sub.vpc.key, sub.tier)) if sub is not None and sub.vpc is not None else None
        where = f" {sub.az}" if sub is not None else ""
        gateway_nodes[nat.key] = diagram.add(Node(ids("nat"), f"NAT gateway{where}", "gateway"), cluster)
        if sub is not None:
            diagram.edges.append(Edge(subnet_nodes[sub.resource.key], gateway_nodes[nat.key], "in subnet", "route"))
    for endpoint in topo.endpoints:
        if endpoint.prop("VpcEndpointType") in ("Gateway", "GatewayLoadBalancer"):
            kind = (
                "Gateway endpoint"
                if endpoint.prop("VpcEndpointType") == "Gateway"
                else "Gateway Load Balancer endpoint"
            )
            endpoint_vpc = topo.endpoint_vpcs.get(endpoint.key)
            gateway_nodes[endpoint.key] = diagram.add(
                Node(ids("gwe"), f"{kind}\n{display_name(endpoint)}", "gateway"),
                vpc_clusters.get(endpoint_vpc.key) if endpoint_vpc is not None else None,
            )
    tables_to_subnets: dict[tuple[str, str], list[str]] = {}
    for subnet in topo.subnets:
        if subnet.route_table is not None:
            tables_to_subnets.setdefault(subnet.route_table.key, []).append(subnet_nodes[subnet.resource.key])
    for route in topo.routes:
        target = route.target
        if target is None:
            continue
        if target.key not in gateway_nodes:
            gateway_nodes[target.key] = diagram.add(
                Node(ids("gw"), f"{_route_target_label(route.target_kind, target)}\n{display_name(target)}", "gateway")
            )
        for subnet_node in tables_to_subnets.get(route.route_table.key, []):
            diagram.edges.append(Edge(subnet_node, gateway_nodes[target.key], f"route {route.destination}", "route"))

    # Security groups, what is attached to each, and every flow their rules allow.
    group_nodes: dict[tuple[str, str], str] = {}
    for group in topo.security_groups:
        members = topo.members.get(group.key, [])
        lines = _member_lines(members) or ["nothing attached in these templates"]
        group_tier = _group_tier(topo, members, group)
        group_vpc = next((s.vpc for s in topo.subnets if s.tier == group_tier and s.vpc is not None), None)
        cluster = (
            tier_clusters.get((group_vpc.key, group_tier)) if group_vpc is not None and group_tier is not None else None
        )
        if cluster is None and len(vpc_clusters) == 1:
            cluster = next(iter(vpc_clusters.values()))
        no_egress = any(r.allows_nothing and r.group.key == group.key for r in topo.sg_rules)
        suffix = ["egress: none"] if no_egress else []
        in_cde = group_tier is not None and topo.is_cde_tier(group_tier)
        group_nodes[group.key] = diagram.add(
            Node(ids("sg"), "\n".join([f"SG {_sg_name(group)}", *lines, *suffix]), "cde" if in_cde else "resource"),
            cluster,
        )
    cidr_nodes: dict[str, str] = {}

    def peer_node(rule: SgRule) -> str:
        if rule.peer_group is not None:
            if rule.peer_group.key not in group_nodes:  # a group of another region or account
                group_nodes[rule.peer_group.key] = diagram.add(Node(ids("sg"), f"SG {_sg_name(rule.peer_group)}"))
            return group_nodes[rule.peer_group.key]
        value = rule.peer_cidr or f"prefix list {rule.peer_prefix_list}"
        if value not in cidr_nodes:
            label, kind = _cidr_label(topo, value) if rule.peer_cidr else (value, "internet")
            cidr_nodes[value] = diagram.add(Node(ids("cidr"), label, kind), internet if kind == "internet" else None)
        return cidr_nodes[value]

    flows: dict[tuple[str, str, str], list[SgRule]] = {}
    for rule in topo.sg_rules:
        if rule.allows_nothing:
            continue
        here, there = group_nodes[rule.group.key], peer_node(rule)
        ends = (here, there) if rule.egress else (there, here)
        flows.setdefault((*ends, rule.protocol), []).append(rule)
    for (from_node, to_node, protocol), rules in flows.items():
        by_reference = any(r.peer_group is not None for r in rules)
        how = "SG reference" if by_reference else "CIDR"
        sides = "+".join(sorted({"egress" if r.egress else "ingress" for r in rules}))
        label = f"{protocol}\n{how} ({sides})"
        diagram.edges.append(Edge(from_node, to_node, label, "flow", tuple(r.ref for r in rules)))
    return diagram


# -- the cardholder-data-flow diagram (1.2.4) ------------------------------------------------------
def _alias(model: TemplateModel, key: Resource) -> str:
    for alias in model.resources("AWS::KMS::Alias"):
        if any(t.key == key.key for t in model.references(alias.stack, alias.prop("TargetKeyId"))):
            return str(alias.prop("AliasName"))
    return display_name(key)


def _keys_of(model: TemplateModel, resource: Resource, *props: str) -> list[Resource]:
    found: list[Resource] = []
    for prop in props:
        found += [k for k in model.references(resource.stack, resource.prop(prop)) if k.type == "AWS::KMS::Key"]
    return found


def _lb_attribute(lb: Resource, key: str) -> Any:
    for attribute in lb.prop("LoadBalancerAttributes", default=[]) or []:
        if isinstance(attribute, Mapping) and attribute.get("Key") == key:
            return attribute.get("Value")
    return None


def _lambda_targets(model: TemplateModel, lb: Resource) -> list[Resource]:
    """Lambda functions behind the load balancer's listeners (default actions and listener rules)."""
    functions: dict[tuple[str, str], Resource] = {}
    for listener in model.referrers(lb, "AWS::ElasticLoadBalancingV2::Listener"):
        holders = [listener, *model.referrers(listener, "AWS::ElasticLoadBalancingV2::ListenerRule")]
        for holder in holders:
            for group in model.references(holder.stack, dict(holder.properties)):
                if group.type == "AWS::ElasticLoadBalancingV2::TargetGroup" and group.prop("TargetType") == "lambda":
                    for fn in model.references(group.stack, group.prop("Targets")):
                        if fn.type == "AWS::Lambda::Function":
                            functions[fn.key] = fn
    return list(functions.values())


def data_flow_diagram(model: TemplateModel, topo: RegionTopology) -> Diagram:
    """Client -> WAF -> load balancer -> what its security group may reach (the vault functions when
    present) -> RDS Proxy -> database, the KMS keys that protect each hop, and the audit-log flows."""
    diagram = Diagram(
        name=f"data-flow-{topo.region}",
        title=f"PCI DSS v4.0.1 1.2.4 cardholder-data-flow diagram: {topo.region} (generated from the templates)",
    )
    ids = _Ids()
    outside = Cluster("cluster_outside", "Outside (untrusted)", "internet")
    scope = Cluster("cluster_scope", "Transmits or processes card data (in PCI DSS scope)", "scope")
    cde = Cluster("cluster_cde", "CDE boundary: stores card data (subnets tagged pci-scope=cde)", "cde")
    keys = Cluster("cluster_keys", "Key management: AWS KMS (security-impacting)", "plain")
    logs = Cluster("cluster_logs", "Audit logs (PCI DSS 10)", "plain")
    diagram.clusters += [outside, scope, cde, keys, logs]
    client = diagram.add(Node("client", "Cardholder / client\n(browser or payment API caller)", "internet"), outside)

    group_of: dict[tuple[str, str], str] = {}  # SG key -> node
    lbs = [lb for lb in topo.load_balancers if lb.prop("Scheme", default="internet-facing") == "internet-facing"]
    flows = [r for r in topo.sg_rules if r.peer_group is not None and not r.allows_nothing]
    interface_only = {
        key for key, members in topo.members.items() if members and all(m.kind == "Interface endpoint" for m in members)
    }

    def group_node(group: Resource) -> str:
        if group.key not in group_of:
            members = topo.members.get(group.key, [])
            tier = _group_tier(topo, members, group)
            in_cde = tier is not None and topo.is_cde_tier(tier)
            lines = _member_lines(members) or ["workload attaches here (nothing in these templates)"]
            group_of[group.key] = diagram.add(
                Node(ids("n"), "\n".join([*lines, f"SG {_sg_name(group)}"]), "cde" if in_cde else "resource"),
                cde if in_cde else scope,
            )
        return group_of[group.key]

    key_users: list[tuple[Resource, str, str]] = []  # (key, node, what it protects)
    log_sinks: list[tuple[str, str, str]] = []  # (node, sink label, what)
    for lb in lbs:
        lb_groups = [
            g for g in model.references(lb.stack, lb.prop("SecurityGroups")) if g.type == "AWS::EC2::SecurityGroup"
        ]
        listeners = sorted(
            (
                f"{li.prop('Protocol')} {li.prop('Port')}"
                for li in model.referrers(lb, "AWS::ElasticLoadBalancingV2::Listener")
            ),
        )
        lb_node = diagram.add(
            Node(ids("n"), f"Application Load Balancer\n{display_name(lb)}\nlisteners: {', '.join(listeners)}"), scope
        )
        for group in lb_groups:
            group_of[group.key] = lb_node
        entry = lb_node
        for web_acl, target in topo.web_acl_associations:
            if target.key == lb.key:
                waf = diagram.add(Node(ids("n"), f"AWS WAF web ACL\n{display_name(web_acl)}"), scope)
                diagram.edges.append(Edge(waf, lb_node, "inspected requests", "data"))
                entry = waf
                for config in model.referrers(web_acl, "AWS::WAFv2::LoggingConfiguration"):
                    for dest in config.prop("LogDestinationConfigs", default=[]) or []:
                        name = str(dest).rsplit(":", 1)[-1] if isinstance(dest, str) else "log destination"
                        log_sinks.append((waf, f"WAF logs\n{name}", "request logs (redacted headers)"))
        https = [
            li for li in model.referrers(lb, "AWS::ElasticLoadBalancingV2::Listener") if li.prop("Protocol") == "HTTPS"
        ]
        tls = f"HTTPS {https[0].prop('Port')}, {https[0].prop('SslPolicy')}" if https else "HTTP"
        diagram.edges.append(Edge(client, entry, f"card data over {tls}", "data"))
        bucket = _lb_attribute(lb, "access_logs.s3.bucket")
        if _lb_attribute(lb, "access_logs.s3.enabled") == "true" and bucket is not None:
            found = model.references(lb.stack, bucket)
            log_sinks.append(
                (
                    lb_node,
                    f"S3 bucket\n{display_name(found[0]) if found else 'access logs'}",
                    "access + connection logs",
                )
            )
        for fn in _lambda_targets(model, lb):
            fn_groups = [
                g for g in model.references(fn.stack, fn.prop("VpcConfig")) if g.type == "AWS::EC2::SecurityGroup"
            ]
            target_node = (
                group_node(fn_groups[0])
                if fn_groups
                else diagram.add(Node(ids("n"), f"Lambda function\n{display_name(fn)}"), scope)
            )
            diagram.edges.append(Edge(lb_node, target_node, "invoke (Lambda target group)", "data"))

    # Follow security-group flows out of the load balancer's groups, group to group.
    reached = set(group_of)
    frontier = list(group_of)
    seen_edges: set[tuple[str, str, str]] = set()
    while frontier:
        current = frontier.pop(0)
        for rule in flows:
            if rule.egress and rule.group.key == current and rule.peer_group is not None:
                source, target = rule.group, rule.peer_group
            elif not rule.egress and rule.peer_group is not None and rule.peer_group.key == current:
                source, target = rule.peer_group, rule.group
            else:
                continue
            if target.key in interface_only:
                continue
            target_node = group_node(target)
            hop = (group_of[source.key], target_node, rule.protocol)
            if hop not in seen_edges:
                seen_edges.add(hop)
                diagram.edges.append(Edge(hop[0], hop[1], rule.protocol, "data", (rule.ref,)))
            if target.key not in reached:
                reached.add(target.key)
                frontier.append(target.key)

    for group_key, node in sorted(group_of.items()):
        for member in topo.members.get(group_key, []):
            res = member.resource
            if res.type == "AWS::RDS::DBProxy":
                if res.prop("RequireTLS") is True:
                    diagram.nodes[node].label += "\nTLS required"
                for secret_ref in model.references(res.stack, res.prop("Auth")):
                    secret = secret_ref
                    if secret.type == "AWS::SecretsManager::SecretTargetAttachment":
                        secret = next(iter(model.references(secret.stack, secret.prop("SecretId"))), secret)
                    key_users += [(k, node, "database credentials secret") for k in _keys_of(model, secret, "KmsKeyId")]
            elif res.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
                key_users += [(k, node, "storage, backups, snapshots") for k in _keys_of(model, res, "KmsKeyId")]
                key_users += [
                    (k, node, "Performance Insights") for k in _keys_of(model, res, "PerformanceInsightsKMSKeyId")
                ]
                exports = res.prop("EnableCloudwatchLogsExports", default=[]) or []
                if exports:
                    log_sinks.append(
                        (node, "CloudWatch Logs\ndatabase log groups", f"{', '.join(map(str, exports))} logs")
                    )
            elif res.type == "AWS::Lambda::Function":
                key_users += [(k, node, "environment variables") for k in _keys_of(model, res, "KmsKeyArn")]

    key_nodes: dict[tuple[str, str], str] = {}
    protects: dict[tuple[str, str], list[str]] = {}
    for key, node, what in key_users:
        if key.key not in key_nodes:
            rotation = "rotates yearly" if key.prop("EnableKeyRotation") is True else "no automatic rotation"
            key_nodes[key.key] = diagram.add(Node(ids("k"), f"KMS key {_alias(model, key)}\n{rotation}", "key"), keys)
        protects.setdefault((key_nodes[key.key], node), []).append(what)
    for (key_node, node), what_list in protects.items():
        diagram.edges.append(Edge(key_node, node, "encrypts " + "; ".join(what_list), "key"))
    sink_nodes: dict[str, str] = {}
    for node, sink, what in log_sinks:
        if sink not in sink_nodes:
            sink_nodes[sink] = diagram.add(Node(ids("l"), sink, "log"), logs)
        diagram.edges.append(Edge(node, sink_nodes[sink], what, "log"))
    for vpc in topo.vpcs:
        for flow_log in model.referrers(vpc, "AWS::EC2::FlowLog"):
            vpc_node = diagram.add(
                Node(ids("n"), f"VPC {display_name(vpc)}\nall traffic (flow logs)", "resource"), scope
            )
            sink = diagram.add(
                Node(ids("l"), f"CloudWatch Logs\nVPC flow logs ({flow_log.prop('TrafficType')})", "log"), logs
            )
            diagram.edges.append(Edge(vpc_node, sink, "flow log records", "log"))
    return diagram


# -- writers --------------------------------------------------------------------------------------
_DOT_STYLE = {
    "resource": 'fillcolor="#ffffff"',
    "subnet": 'fillcolor="#eef4fb"',
    "cde": 'fillcolor="#fde8e8", color="#b00020"',
    "internet": 'fillcolor="#f2f2f2"',
    "gateway": 'fillcolor="#fff6d5"',
    "acl": 'shape=plain, fillcolor="#ffffff"',
    "key": 'fillcolor="#e8f5e9"',
    "log": 'fillcolor="#ede7f6"',
}
_DOT_EDGE = {
    "flow": 'color="#1f5fa8", fontcolor="#1f5fa8", penwidth=1.6',
    "data": 'color="#b00020", fontcolor="#b00020", penwidth=2.2',
    "route": 'color="#888888", fontcolor="#666666", style=dashed',
    "key": 'color="#2e7d32", fontcolor="#2e7d32", style=dotted',
    "log": 'color="#5e35b1", fontcolor="#5e35b1", style=dashed',
}
_DOT_CLUSTER = {
    "plain": 'style="rounded", color="#999999"',
    "vpc": 'style="rounded", color="#1f5fa8", penwidth=2',
    "tier": 'style="rounded,filled", fillcolor="#f7f9fc", color="#7a8ca5"',
    "cde": 'style="rounded,filled,bold", fillcolor="#fff5f5", color="#b00020", penwidth=3, fontcolor="#b00020"',
    "internet": 'style="rounded,dashed", color="#999999"',
    "scope": 'style="rounded,filled", fillcolor="#fffaf0", color="#e08e0b", penwidth=2',
}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_node(node: Node) -> str:
    if node.rows:
        rows = "".join(
            f'<TR><TD ALIGN="LEFT" TITLE="{html.escape(ref)}">{html.escape(text)}</TD></TR>' for text, ref in node.rows
        )
        head = f'<TR><TD BGCOLOR="#e0e0e0"><B>{html.escape(node.label)}</B></TD></TR>'
        table = f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{head}{rows}</TABLE>'
        return f'  {node.id} [shape=plain, style=solid, fillcolor="#ffffff", label=<{table}>];'
    return f"  {node.id} [label={_dot_quote(node.label)}, {_DOT_STYLE.get(node.kind, '')}];"


def _dot_cluster(cluster: Cluster, nodes: Mapping[str, Node], indent: str) -> list[str]:
    lines = [
        f"{indent}subgraph {cluster.id} {{",
        f"{indent}  graph [label={_dot_quote(cluster.label)}, {_DOT_CLUSTER[cluster.kind]}];",
    ]
    for node_id in cluster.nodes:
        lines.append(indent + _dot_node(nodes[node_id]))
    for inner in cluster.clusters:
        lines += _dot_cluster(inner, nodes, indent + "  ")
    lines.append(f"{indent}}}")
    return lines


def _clustered(clusters: Iterable[Cluster]) -> set[str]:
    found: set[str] = set()
    for cluster in clusters:
        found.update(cluster.nodes)
        found |= _clustered(cluster.clusters)
    return found


def to_dot(diagram: Diagram, provenance: Sequence[str] = ()) -> str:
    """Graphviz DOT for `dot -Tsvg`/`-Tpng`; each flow edge's tooltip lists the rules that allow it.
    `provenance` lines are printed under the title (commit, time, hashes: see evidence.report)."""
    heading = "\n".join((diagram.title, *provenance))
    lines = [
        f"digraph {_dot_quote(diagram.name)} {{",
        f"  graph [label={_dot_quote(heading)}, labelloc=t, labeljust=l, fontsize=16, fontname=Helvetica,"
        " rankdir=TB, newrank=true, nodesep=0.25, ranksep=0.5, pad=0.2, dpi=80];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10];',
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    in_cluster = _clustered(diagram.clusters)
    for node in diagram.nodes.values():
        if node.id not in in_cluster:
            lines.append(_dot_node(node))
    # Top-level clusters in reverse: dot then lays internet -> public -> application -> CDE out
    # consistently from right to left, tiers in the order the topology lists them.
    for cluster in reversed(diagram.clusters):
        if cluster.nodes or cluster.clusters:
            lines += _dot_cluster(cluster, diagram.nodes, "  ")
    for edge in diagram.edges:
        attrs = [f"label={_dot_quote(edge.label)}", _DOT_EDGE[edge.kind]]
        if edge.refs:
            attrs.append(f"tooltip={_dot_quote('; '.join(edge.refs))}")
        lines.append(f"  {edge.source} -> {edge.target} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;"}
_MERMAID_SPECIAL = re.compile("[" + re.escape("".join(_MERMAID_ESCAPES)) + "]")


def mermaid_text(text: str) -> str:
    """A label safe inside Mermaid's quotes: entity codes for # " < > |, `<br/>` for line breaks."""
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_ESCAPES[m.group(0)], text).replace("\n", "<br/>")


_MERMAID_CLASSES = {
    "cde": "fill:#fde8e8,stroke:#b00020,color:#000",
    "internet": "fill:#f2f2f2,stroke:#999,color:#000",
    "gateway": "fill:#fff6d5,stroke:#c9a227,color:#000",
    "acl": "fill:#ffffff,stroke:#555,color:#000,text-align:left",
    "key": "fill:#e8f5e9,stroke:#2e7d32,color:#000",
    "log": "fill:#ede7f6,stroke:#5e35b1,color:#000",
    "subnet": "fill:#eef4fb,stroke:#7a8ca5,color:#000",
}
_MERMAID_CLUSTER = {
    "cde": "fill:#fff5f5,stroke:#b00020,stroke-width:3px,color:#b00020",
    "scope": "fill:#fffaf0,stroke:#e08e0b,stroke-width:2px",
}
_MERMAID_ARROW = {"flow": "-->", "data": "==>", "route": "-.->", "key": "-.->", "log": "-.->"}


def _mermaid_node(node: Node) -> str:
    label = node.label if not node.rows else "\n".join([node.label, *(text for text, _ in node.rows)])
    return f'{node.id}["{mermaid_text(label)}"]'


def _mermaid_cluster(cluster: Cluster, nodes: Mapping[str, Node], indent: str, styles: list[str]) -> list[str]:
    lines = [f'{indent}subgraph {cluster.id}["{mermaid_text(cluster.label)}"]']
    lines += [f"{indent}  {_mermaid_node(nodes[n])}" for n in cluster.nodes]
    for inner in cluster.clusters:
        lines += _mermaid_cluster(inner, nodes, indent + "  ", styles)
    lines.append(f"{indent}end")
    if cluster.kind in _MERMAID_CLUSTER:
        styles.append(f"  style {cluster.id} {_MERMAID_CLUSTER[cluster.kind]}")
    return lines


def to_mermaid(diagram: Diagram, provenance: Sequence[str] = ()) -> str:
    """Mermaid `flowchart LR` source (no fences): one node per diagram node, one arrow per edge;
    `provenance` lines as Mermaid comments under the header."""
    lines = ["flowchart LR", *(f"  %% {line}" for line in provenance)]
    in_cluster = _clustered(diagram.clusters)
    lines += [f"  {_mermaid_node(n)}" for n in diagram.nodes.values() if n.id not in in_cluster]
    styles: list[str] = []
    for cluster in diagram.clusters:
        if cluster.nodes or cluster.clusters:
            lines += _mermaid_cluster(cluster, diagram.nodes, "  ", styles)
    for edge in diagram.edges:
        lines.append(f'  {edge.source} {_MERMAID_ARROW[edge.kind]}|"{mermaid_text(edge.label)}"| {edge.target}')
    for kind, style in _MERMAID_CLASSES.items():
        lines.append(f"  classDef {kind} {style}")
    for kind in _MERMAID_CLASSES:
        members = [n.id for n in diagram.nodes.values() if n.kind == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind}")
    lines += styles
    return "\n".join(lines) + "\n"
