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
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.flows import (
    alias_of,
    database_tls,
    deploy_triggers,
    grants,
    invoke_grants,
    key_reference,
    kms_key,
    log_group_of,
    request_elements,
    retention_text,
    schedules,
    short_actions,
    stored_elements,
)
from evidence.scope import CDE_OUTSIDE, ScopeModel, waf_log_destinations
from evidence.topology import (
    AclEntry,
    Member,
    RegionTopology,
    SgRule,
    display_name,
    in_cidr,
    service_name,
)
from pci_rules.model import Resource, TemplateModel

ANYWHERE = ("0.0.0.0/0", "::/0")
UNKNOWN = "unknown region"


@dataclass
class Node:
    id: str
    label: str  # lines separated by "\n"
    kind: str = "resource"  # styling class: resource, cde, internet, gateway, acl, key, log, flowless
    rows: tuple[tuple[str, str], ...] = ()  # (row text, template reference) for table nodes (ACLs)
    resource: tuple[str, str] | None = None  # (stack, logical id) a scope-shaded node draws (ScopeModel.kind_of)
    section: str = ""  # the page (Section.key) the node is drawn on when the diagram is split (evidence.pages)
    link: str = ""  # a page summary node: the name of the page it stands for (an anchor in the HTML)
    part: str = ""  # what the node is, in a word or two ("WAF", "callers"): a scope-split summary's subtitle


@dataclass
class Edge:
    source: str
    target: str
    label: str
    kind: str = "flow"  # flow (allowed traffic), route, deny, key, log, data
    refs: tuple[str, ...] = ()  # template references of the rules that allow it
    detail: str = ""  # a numbered hop's full text (what, protocol and port, in-transit encryption)
    tls: str = ""  # a data-flow hop's in-transit encryption ("" where the hop is not a transmission)
    data: str = ""  # the card-data elements a data-flow hop carries ("no PAN: ..." where none)
    ports: tuple[str, str] = ("", "")  # Graphviz tailport, headport ("" for none): parallel arrows kept apart


@dataclass
class Cluster:
    id: str
    label: str
    kind: str = "plain"  # plain, vpc, tier, cde, internet, scope
    nodes: list[str] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """One page of a split diagram: `key` names the page (`<diagram>-<key>`), `title` heads it,
    `summary` is the label of the one node that stands for the whole page on every other page
    (a tier's name and CIDRs), `kind` that node's shading, `cluster` the id of the cluster whose
    nodes belong to the page ("" where nodes name their section themselves)."""

    key: str
    title: str
    summary: str
    kind: str = "summary"
    cluster: str = ""
    home: str | None = None  # the cluster its summary node is drawn in (None: the one `cluster` sits in)
    rankdir: str = ""  # the page's Graphviz rankdir where it differs from the full drawing's


@dataclass
class Diagram:
    name: str
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    # (store, what it holds, protection mechanism, key as the templates reference it, retention)
    stores: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # A data flow's security-group rules on groups attached to nothing in these templates (group, direction,
    # traffic, peer, template rule): no data flows over them here, whatever is attached later inherits them.
    unattached_rules: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    rankdir: str = "TB"
    spacing: tuple[float, float] = (0.25, 0.5)  # Graphviz nodesep, ranksep (inches)
    xlabels: bool = False  # print each edge's label beside its arrow (DOT xlabel), adding no rank
    sections: list[Section] = field(default_factory=list)  # its pages, in reading order (evidence.pages)
    subtitle: str = ""  # a page's line under the title ("Page 2 of 7: Application tier ...")
    page_of: str = ""  # a page: the name of the full drawing it is a page of
    overview: str = ""  # the overview page's title ("" for none)
    # Pages draw another page as one summary node per scope class of its nodes (cde, connected, out), shaded by
    # it and drawn in that class's cluster (the data flow: its CDE boundary holds the CDE part of every stage).
    scoped_summaries: bool = False

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
        line = f"{kind}{plural}:"
        for name in names:  # wrapped at 44 characters: a wide box widens its whole rank, and the page with it
            if len(line) + len(name) + 2 > 44 and not line.endswith(":"):
                lines.append(line + ",")
                line = name
            else:
                line = f"{line} {name}" if line.endswith(":") else f"{line}, {name}"
        lines.append(line)
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


# A network rule allows a connection; it does not encrypt one. Where the destination is a listener or a
# database whose template sets the encryption, the flow names it; anywhere else it says so.
NOT_SET_BY_A_RULE = "not set by a network rule (the data-flow hops and the TLS work paper state each connection's)"


def flow_encryption(model: TemplateModel | None, members: Sequence[Member], protocol: str) -> str:
    """In-transit encryption of a security-group flow `protocol` ("tcp 443") into a group with `members`,
    from the templates: an Application Load Balancer's listener on that port ("TLS: HTTPS listener,
    <SslPolicy>" or "none: plain HTTP listener"), a PostgreSQL instance's parameter group
    (`evidence.flows.database_tls`), else `NOT_SET_BY_A_RULE`."""
    if model is None:
        return NOT_SET_BY_A_RULE
    port = protocol.removeprefix("tcp ")
    found: list[str] = []
    for member in members:
        resource = member.resource
        if resource.type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            for listener in model.resources("AWS::ElasticLoadBalancingV2::Listener"):
                refs = model.references(listener.stack, listener.prop("LoadBalancerArn"))
                if str(listener.prop("Port")) != port or not any(r.key == resource.key for r in refs):
                    continue
                if listener.prop("Protocol") == "HTTPS":
                    found.append(f"TLS: HTTPS listener, {listener.prop('SslPolicy')}")
                else:
                    found.append(f"none: plain {listener.prop('Protocol')} listener")
        elif resource.type == "AWS::RDS::DBInstance" and str(resource.prop("Port", default=port)) == port:
            found.append(database_tls(model, resource))
    return "; ".join(dict.fromkeys(found)) or NOT_SET_BY_A_RULE


def vpc_label(vpc: Resource, vpcs: Sequence[Resource]) -> str:
    """What tells one VPC of a region's `vpcs` from another on a drawing: the construct path of the stack that
    creates it (`prod/PciLz-prod-Network-us-east-1`: the Stage and stack name its environment), with the VPC's own
    name when that stack creates several."""
    parts = [p for p in vpc.path.split("/") if p not in ("Resource", "Default")]
    shown = display_name(vpc).split("/")
    prefix = parts[: len(parts) - len(shown)] if len(parts) > len(shown) and parts[-len(shown) :] == shown else []
    owner = "/".join(prefix) or vpc.stack
    shared = sum(1 for other in vpcs if other.stack == vpc.stack) > 1
    return f"{owner} {display_name(vpc)}" if shared else owner


def network_diagram(topo: RegionTopology, scope: ScopeModel | None = None) -> Diagram:
    """Tiers as clusters (the tiers whose subnets store, process or transmit PAN inside a CDE-boundary
    cluster), subnets per AZ, gateways, firewall endpoints inside their subnets, endpoints, the WAF
    in front of the load balancer, every security group with what is attached to it (shaded by
    scope), every allowed flow, and a legend. Without `scope`, the CDE is the subnets tagged
    pci-scope=cde."""
    diagram = Diagram(
        name=f"network-{topo.region}",
        title=f"PCI DSS v4.0.1 1.2.3 network diagram: {topo.region} (generated from the synthesized templates)",
        # Left to right: top to bottom put every subnet, group and gateway of a tier in one rank and drew
        # a region 4,400 pt wide and 800 pt high (10 parts at a legible scale); left to right, 6.
        rankdir="LR",
    )
    ids = _Ids()
    internet = Cluster("cluster_internet", "Internet and AWS public endpoints", "internet")
    diagram.clusters.append(internet)
    vpc_clusters: dict[tuple[str, str], Cluster] = {}
    cde_clusters: dict[tuple[str, str], Cluster] = {}  # VPC key -> its CDE boundary
    tier_clusters: dict[tuple[tuple[str, str], str], Cluster] = {}
    several = len(topo.vpcs) > 1
    for vpc in topo.vpcs:
        cidr = vpc.prop("CidrBlock")
        # Two VPCs of one region (a delivery synth's stages, a fork's second VPC) may share a construct path and
        # a CIDR: each is labelled by the stack that creates it, which names its environment.
        owner = f" ({vpc_label(vpc, topo.vpcs)})" if several else ""
        vpc_cluster = Cluster(
            ids("cluster_vpc"),
            f"VPC {display_name(vpc)} {cidr if isinstance(cidr, str) else ''}".strip() + owner,
            "vpc",
        )
        vpc_clusters[vpc.key] = vpc_cluster
        diagram.clusters.append(vpc_cluster)
        cde = Cluster(ids("cluster_cde"), "CDE boundary (stores, processes or transmits PAN)", "cde")
        for tier in topo.tiers:
            if not any(s.vpc is not None and s.vpc.key == vpc.key for s in topo.tier_subnets(tier)):
                continue
            why = _tier_scope(topo, scope, tier)
            tier_cluster = Cluster(ids("cluster_tier"), f"{tier} tier{f' ({why})' if why else ''}", "tier")
            tier_clusters[(vpc.key, tier)] = tier_cluster
            (cde.clusters if why else vpc_cluster.clusters).append(tier_cluster)
        if cde.clusters:
            vpc_cluster.clusters.append(cde)
            cde_clusters[vpc.key] = cde
    # One page per tier (evidence.pages): the tier's name and CIDRs stand for it on every other page.
    vpcs_by_key = {v.key: v for v in topo.vpcs}
    for number, ((vpc_key, tier), tier_cluster) in enumerate(tier_clusters.items()):
        label = vpc_label(vpcs_by_key[vpc_key], topo.vpcs) if several else ""
        vpc_part = f"{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}-" if several else ""
        cidrs = [s.cidr for s in topo.tier_subnets(tier) if s.vpc is not None and s.vpc.key == vpc_key and s.cidr]
        head = tier_cluster.label.split("\n")[0]
        diagram.sections.append(
            Section(
                f"{vpc_part}{re.sub(r'[^a-z0-9]+', '-', tier.lower()).strip('-') or f'tier{number}'}",
                f"{head}" + (f", VPC of {label}" if several else ""),
                "\n".join([head, *(", ".join(cidrs[i : i + 2]) for i in range(0, len(cidrs), 2))]),
                # Shaded by scope: every tier of the VPC outside the boundary is in the CDE's account and network.
                "cde" if _tier_scope(topo, scope, tier) else "connected",
                tier_cluster.id,
            )
        )
    diagram.sections.append(
        Section(
            "internet",
            "Internet and AWS public endpoints",
            "Internet and AWS public endpoints",
            "internet",
            internet.id,
        )
    )
    diagram.overview = "tiers, the flows between them and the CDE boundary"

    # Subnets, one node per AZ. The NACLs' entries are not drawn (their tables made every region's
    # diagram several pages wide): each tier's label names its NACL and how many entries it holds, and
    # the rule review (evidence/workpapers.py) lists every entry with its stated need.
    subnet_nodes: dict[tuple[str, str], str] = {}
    entries_by_acl: dict[tuple[str, str], list[AclEntry]] = {}
    for entry in topo.acl_entries:
        entries_by_acl.setdefault(entry.acl.key, []).append(entry)
    acls_by_cluster: dict[str, dict[tuple[str, str], Resource]] = {}
    cluster: Cluster | None
    for subnet in topo.subnets:
        cluster = tier_clusters.get((subnet.vpc.key, subnet.tier)) if subnet.vpc is not None else None
        subnet_nodes[subnet.resource.key] = diagram.add(
            Node(
                ids("subnet"),
                f"{subnet.tier} subnet {subnet.az}\n{subnet.cidr or ''}".strip(),
                "cde" if _tier_scope(topo, scope, subnet.tier) else "subnet",
            ),
            cluster,
        )
        if subnet.network_acl is not None and cluster is not None:
            acls_by_cluster.setdefault(cluster.id, {})[subnet.network_acl.key] = subnet.network_acl
    for tier_cluster in tier_clusters.values():
        acls = acls_by_cluster.get(tier_cluster.id, {})
        if acls:
            summary = "; ".join(
                f"NACL {display_name(acl)}: {len(entries_by_acl.get(key, []))} entries"
                for key, acl in sorted(acls.items())
            )
            tier_cluster.label += f"\n{summary} (rule review)"

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
            diagram.edges.append(Edge(subnet_nodes[sub.resource.key], gateway_nodes[nat.key], "", "route"))
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
    subnet_routes: dict[str, list[str]] = {}
    tables_to_subnets: dict[tuple[str, str], list[str]] = {}
    for subnet in topo.subnets:
        if subnet.route_table is not None:
            tables_to_subnets.setdefault(subnet.route_table.key, []).append(subnet_nodes[subnet.resource.key])
    for route in topo.routes:
        target = route.target
        if target is None:
            continue
        if target.key not in gateway_nodes:
            home = _firewall_cluster(topo, target, tier_clusters)
            where = f" {home[1]}" if home is not None else ""
            gateway_nodes[target.key] = diagram.add(
                Node(
                    ids("gw"),
                    f"{_route_target_label(route.target_kind, target)}{where}\n{display_name(target)}",
                    "gateway",
                ),
                home[0] if home is not None else None,
            )
        for subnet_node in tables_to_subnets.get(route.route_table.key, []):
            # The route's destination goes into the subnet's label: parallel edge labels overprint.
            diagram.edges.append(Edge(subnet_node, gateway_nodes[target.key], "", "route"))
            subnet_routes.setdefault(subnet_node, []).append(
                f"route {route.destination} -> {_short_target(diagram.nodes[gateway_nodes[target.key]].label)}"
            )
    for subnet_node, lines in subnet_routes.items():
        diagram.nodes[subnet_node].label += "\n" + "\n".join(sorted(set(lines)))

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
        in_cde = (group_tier is not None and bool(_tier_scope(topo, scope, group_tier))) or (
            scope is not None and any(scope.category(m.resource)[0] == "CDE" for m in members)
        )
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
            # A range inside a VPC (the whole VPC's included) is drawn in that VPC's outline, not outside it
            # (QSA reader r20b LOW: "Any address in the VPC" sat outside the VPC).
            home = internet if kind == "internet" else None
            if home is None and rule.peer_cidr is not None:
                home = next(
                    (
                        vpc_clusters[v.key]
                        for v in topo.vpcs
                        if v.key in vpc_clusters
                        and isinstance(v.prop("CidrBlock"), str)
                        and in_cidr(rule.peer_cidr, v.prop("CidrBlock"))
                    ),
                    None,
                )
            cidr_nodes[value] = diagram.add(Node(ids("cidr"), label, kind), home)
        return cidr_nodes[value]

    flows: dict[tuple[str, str, str], list[SgRule]] = {}
    for rule in topo.sg_rules:
        if rule.allows_nothing:
            continue
        here, there = group_nodes[rule.group.key], peer_node(rule)
        ends = (here, there) if rule.egress else (there, here)
        flows.setdefault((*ends, rule.protocol), []).append(rule)
    destination_groups: dict[tuple[str, str, str], Resource] = {}
    for rule in topo.sg_rules:
        if not rule.allows_nothing:
            here, there = group_nodes[rule.group.key], peer_node(rule)
            ends = (here, there) if rule.egress else (there, here)
            target = rule.peer_group if rule.egress else rule.group
            if target is not None:
                destination_groups.setdefault((*ends, rule.protocol), target)
    for (from_node, to_node, protocol), rules in flows.items():
        by_reference = any(r.peer_group is not None for r in rules)
        how = "SG reference" if by_reference else "CIDR"
        sides = "+".join(sorted({"egress" if r.egress else "ingress" for r in rules}))
        label = f"{protocol}\n{how} ({sides})"
        target = destination_groups.get((from_node, to_node, protocol))
        members = topo.members.get(target.key, []) if target is not None else []
        tls = flow_encryption(scope.model if scope is not None else None, members, protocol)
        diagram.edges.append(Edge(from_node, to_node, label, "flow", tuple(r.ref for r in rules), tls=tls))
    # The WAF in front of each load balancer it is associated with: a regional service, not in the VPC, but in
    # the card-data path (it inspects the first 8 KB of each request body the load balancer sends it), so
    # inside the CDE boundary of the load balancer's
    # VPC, in a box of its own that says it is not in the VPC; drawn on the load balancer's tier page.
    section_of_cluster = {section.cluster: section.key for section in diagram.sections}
    clusters_by_node = {n: c for c in _all_clusters(diagram.clusters) for n in c.nodes}
    regional_boxes: dict[str, Cluster] = {}
    for web_acl, target in topo.web_acl_associations:
        lb_groups = [g for g in topo.security_groups if any(m.resource.key == target.key for m in topo.members[g.key])]
        placed = [
            sub for g in lb_groups for m in topo.members[g.key] if m.resource.key == target.key for sub in m.subnets
        ]
        lb_vpcs = {found.vpc.key for sub in placed if (found := topo.subnet(sub)) is not None and found.vpc is not None}
        boundary = next((cde_clusters[v] for v in sorted(lb_vpcs) if v in cde_clusters), None)
        for group in lb_groups:
            lb_home = clusters_by_node.get(group_nodes[group.key])
            box: Cluster | None = internet
            if boundary is not None and (scope is None or scope.kind_of(web_acl) == "cde"):
                if boundary.id not in regional_boxes:
                    regional_boxes[boundary.id] = Cluster(
                        ids("cluster_regional"), "Regional service, not in the VPC", "plain"
                    )
                    boundary.clusters.insert(0, regional_boxes[boundary.id])
                box = regional_boxes[boundary.id]
            waf = diagram.add(
                Node(
                    f"waf{len(diagram.nodes)}",
                    f"AWS WAF web ACL\n{display_name(web_acl)}",
                    "cde",
                    section=section_of_cluster.get(lb_home.id, "") if lb_home is not None else "",
                ),
                box,
            )
            # The load balancer sends each request to AWS WAF (its first 8 KB of body for an ALB: "Considerations
            # for managing body inspection in AWS WAF", AWS WAF Developer Guide).
            diagram.edges.append(
                Edge(
                    waf,
                    group_nodes[group.key],
                    "inspects each request the load balancer sends it",
                    "flow",
                    tls=AWS_INTERNAL,
                )
            )
    for number, flow in enumerate((e for e in diagram.edges if e.kind == "flow"), start=1):
        flow.detail, flow.label = flow.label, f"F{number}"
    _split_large_tiers(diagram)
    _legend(diagram, flows=False)
    return diagram


# A tier with more boxes than this, security groups among them, is drawn on two pages: its subnets with their
# routes and gateways, and its security groups (three AZs' application tier was a page and a half wide).
TIER_PAGE_NODES = 5


def _split_large_tiers(diagram: Diagram) -> None:
    """A tier too large for one printed page (more than TIER_PAGE_NODES boxes: the application tier's
    subnets and nine security groups) becomes two sections, its subnets with their routes and gateways,
    and its security groups."""
    clusters = {c.id: c for c in _all_clusters(diagram.clusters)}
    parents = {inner.id: c.id for c in clusters.values() for inner in c.clusters}
    out: list[Section] = []
    for section in diagram.sections:
        tier = clusters.get(section.cluster)
        groups = [n for n in tier.nodes if n.startswith("sg")] if tier is not None else []
        if tier is None or len(tier.nodes) <= TIER_PAGE_NODES or not groups or len(groups) == len(tier.nodes):
            out.append(section)
            continue
        home = parents.get(tier.id)
        for suffix, what, test in (
            ("subnets", "subnets, routes and gateways", lambda n: not n.startswith("sg")),
            ("security-groups", "security groups and their flows", lambda n: n.startswith("sg")),
        ):
            key = f"{section.key}-{suffix}"
            for node_id in tier.nodes:
                if test(node_id):
                    diagram.nodes[node_id].section = key
            out.append(Section(key, f"{section.title}: {what}", f"{section.summary}\n({what})", section.kind, "", home))
    diagram.sections[:] = out


def _all_clusters(clusters: Iterable[Cluster]) -> Iterable[Cluster]:
    for cluster in clusters:
        yield cluster
        yield from _all_clusters(cluster.clusters)


def _short_target(label: str) -> str:
    """A route target's node label, short enough for a line of a subnet's label."""
    first = label.split("\n")[0]
    for long, short in (
        ("AWS Network Firewall endpoint", "firewall"),
        ("Firewall / Gateway Load Balancer endpoint", "GWLB endpoint"),
        ("NAT gateway", "NAT"),
        ("Internet gateway", "internet gateway"),
    ):
        first = first.replace(long, short)
    return first


def _tier_scope(topo: RegionTopology, scope: ScopeModel | None, tier: str) -> str:
    """Why a tier is inside the CDE boundary ("" when it is not): tagged, or hosting a CDE component (the
    vault's functions, the load balancer that terminates card-data TLS: `ScopeModel.hosted`)."""
    if topo.is_cde_tier(tier):
        return "CDE: tagged pci-scope=cde"
    if scope is not None:
        hosted = [scope.hosted[s.resource.key][1] for s in topo.tier_subnets(tier) if s.resource.key in scope.hosted]
        if hosted:
            return "CDE: " + ", ".join(dict.fromkeys(hosted))
    return ""


def _firewall_cluster(
    topo: RegionTopology, target: Resource, tier_clusters: Mapping[tuple[tuple[str, str], str], Cluster]
) -> tuple[Cluster, str] | None:
    """The tier cluster of a Network Firewall's subnet (its endpoint lives there), with the AZ."""
    if target.type != "AWS::NetworkFirewall::Firewall":
        return None
    for mapping in target.prop("SubnetMappings", default=[]) or []:
        for subnet in topo.subnets:
            ref = mapping.get("SubnetId") if isinstance(mapping, Mapping) else None
            if isinstance(ref, Mapping) and ref.get("Ref") == subnet.resource.logical_id and subnet.vpc is not None:
                cluster = tier_clusters.get((subnet.vpc.key, subnet.tier))
                if cluster is not None and subnet.resource.stack == target.stack:
                    return cluster, subnet.az
    return None


# -- the cardholder-data-flow diagram (1.2.4) ------------------------------------------------------
# Its pages (evidence.pages), by stage of the flow: each node's stage from its resource type.
FLOW_PAGES = (
    ("entry", "entry: caller, WAF and load balancer", "Entry\ncaller, WAF, load balancer"),
    (
        "functions",
        "the vault's functions, their callers, schedule and deploy triggers",
        "Vault functions\nand their callers",
    ),
    ("keys", "KMS keys and Secrets Manager secrets", "Keys and secrets\nKMS, Secrets Manager"),
    ("database", "proxy, database, backups and Performance Insights", "Database\nproxy, RDS, backups"),
    ("function-logs", "the functions' logs and traces", "Function logs\nand traces"),
    ("logs", "where the other logs end: edge, network and database", "Other logs\nedge, network, database"),
)
FLOW_STAGES = {
    "AWS::WAFv2::WebACL": "entry",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "entry",
    "AWS::Lambda::Function": "functions",
    "AWS::CloudFormation::CustomResource": "functions",
    "AWS::KMS::Key": "keys",
    "AWS::SecretsManager::Secret": "keys",
    "AWS::RDS::DBProxy": "database",
    "AWS::RDS::DBInstance": "database",
    "AWS::RDS::DBCluster": "database",
    "AWS::Logs::LogGroup": "logs",
    "AWS::S3::Bucket": "logs",
    "AWS::EC2::VPC": "logs",
}  # any other node: the stage it has most hops to (evidence.pages)
# What each node is, in a word or two: a scope-split summary lists its own members' (QSA reader r20b finding 10).
FLOW_PARTS = {
    "AWS::WAFv2::WebACL": "WAF",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "ALB",
    "AWS::Lambda::Function": "functions",
    "AWS::CloudFormation::CustomResource": "deploy triggers",
    "Custom::Trigger": "deploy triggers",
    "AWS::KMS::Key": "KMS keys",
    "AWS::SecretsManager::Secret": "secrets",
    "AWS::RDS::DBProxy": "proxy",
    "AWS::RDS::DBInstance": "RDS",
    "AWS::RDS::DBCluster": "RDS",
    "AWS::Logs::LogGroup": "log groups",
    "AWS::S3::Bucket": "buckets",
    "AWS::EC2::VPC": "VPC flow logs",
}
# The security-services diagram's pages, by family: each node's from its resource type.
SERVICE_PAGES = (
    ("audit", "the audit chain: trail, log groups, archive and replica", "Audit chain\ntrail, logs, archive"),
    ("detection", "detection and alerting: GuardDuty, Security Hub, Config, alarms", "Detection and alerting"),
    ("keys", "every KMS key and what it encrypts", "KMS keys"),
    ("access", "operator and break-glass access paths", "Operator and break-glass access"),
    ("deployment", "the deployment path: CDK bootstrap roles", "Deployment path\nCDK bootstrap roles"),
)
SERVICE_FAMILIES = {
    "AWS::CloudTrail::Trail": "audit",
    "AWS::Logs::LogGroup": "audit",
    "AWS::S3::Bucket": "audit",
    "AWS::GuardDuty::Detector": "detection",
    "AWS::SecurityHub::Hub": "detection",
    "AWS::SecurityHub::FindingAggregator": "detection",
    "AWS::Events::Rule": "detection",
    "AWS::SNS::Topic": "detection",
    "AWS::Config::ConfigurationRecorder": "detection",
    "AWS::KMS::Key": "keys",
    "AWS::IAM::Role": "access",
}


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


@dataclass(frozen=True)
class LambdaRoute:
    """One way a load balancer reaches a Lambda function: the listener or listener rule that forwards to a
    `lambda` target group, the conditions it matches, and the function's permissions for Elastic Load
    Balancing (`AWS::Lambda::Permission`)."""

    function: Resource
    target_group: Resource
    holder: Resource  # the listener (default action) or listener rule
    conditions: str
    permissions: tuple[Resource, ...]


def _rule_conditions(holder: Resource) -> str:
    """A listener rule's conditions as `field values` (path-pattern /v1/*), "default action" for a listener."""
    if holder.type == "AWS::ElasticLoadBalancingV2::Listener":
        return "default action"
    parts = []
    for condition in holder.prop("Conditions", default=[]) or []:
        if not isinstance(condition, Mapping):
            continue
        field_name = str(condition.get("Field"))
        config = next((v for k, v in condition.items() if k.endswith("Config") and isinstance(v, Mapping)), {})
        values = config.get("Values") or condition.get("Values") or []
        parts.append(f"{field_name} {', '.join(map(str, values)) if isinstance(values, list) else values}")
    return "; ".join(parts) or "no condition"


def _source_arn_text(model: TemplateModel, permission: Resource, target_group: Resource) -> str:
    """What a Lambda permission's SourceArn names: the route's target group, something else, or nothing."""
    value = permission.prop("SourceArn")
    if value is None:
        return "no SourceArn: the permission names no target group"
    if any(t.key == target_group.key for t in model.references(permission.stack, value)):
        return f"SourceArn: target group {display_name(target_group)}"
    literal = model.literal(permission.stack, value)
    return f"SourceArn: {literal}" if isinstance(literal, str) else "SourceArn: resolved at deploy"


def lambda_routes(model: TemplateModel, lb: Resource) -> list[LambdaRoute]:
    """Every listener and listener rule of `lb` that forwards to a `lambda` target group, per function
    ("Use Lambda functions as targets of an Application Load Balancer", Elastic Load Balancing User Guide: the
    load balancer invokes the function itself, with Elastic Load Balancing's permission on the function)."""
    routes: dict[tuple[tuple[str, str], tuple[str, str], tuple[str, str]], LambdaRoute] = {}
    for listener in model.referrers(lb, "AWS::ElasticLoadBalancingV2::Listener"):
        for holder in [listener, *model.referrers(listener, "AWS::ElasticLoadBalancingV2::ListenerRule")]:
            for group in model.references(holder.stack, dict(holder.properties)):
                if group.type != "AWS::ElasticLoadBalancingV2::TargetGroup" or group.prop("TargetType") != "lambda":
                    continue
                for fn in model.references(group.stack, group.prop("Targets")):
                    if fn.type != "AWS::Lambda::Function":
                        continue
                    permissions = tuple(
                        p
                        for p in model.referrers(fn, "AWS::Lambda::Permission")
                        if str(p.prop("Principal")).startswith("elasticloadbalancing.")
                    )
                    routes[(fn.key, group.key, holder.key)] = LambdaRoute(
                        fn, group, holder, _rule_conditions(holder), permissions
                    )
    return [routes[k] for k in sorted(routes)]


def _flow_label(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _endpoint_port(topo: RegionTopology, service: str) -> str:
    """Protocol and port a function reaches an AWS API on from the VPC, and through which endpoint."""
    if any(service_name(e) == service for e in topo.endpoints if e.prop("VpcEndpointType") == "Interface"):
        return f"HTTPS 443 ({service} interface endpoint)"
    return f"HTTPS 443 (public {service} endpoint)"


def _endpoint_tls(topo: RegionTopology, service: str) -> str:
    """In-transit encryption to an AWS API: TLS, inside the VPC to its interface endpoint when there is one
    ("Access an AWS service using an interface VPC endpoint", AWS PrivateLink Guide)."""
    if any(service_name(e) == service for e in topo.endpoints if e.prop("VpcEndpointType") == "Interface"):
        return "TLS to the interface endpoint (traffic stays on the AWS network)"
    return "TLS (AWS API over the NAT and egress firewall)"


def _statement_logging(model: TemplateModel, db: Resource) -> str:
    """What the parameter group makes PostgreSQL log of statements (`log_statement`)."""
    for group in model.references(db.stack, db.prop("DBParameterGroupName")):
        params = group.prop("Parameters", default={}) or {}
        if group.type == "AWS::RDS::DBParameterGroup" and params.get("log_statement") is not None:
            return f"connections and statements as log_statement={params.get('log_statement')} logs them"
    return "connections and errors (log_statement not set: PostgreSQL's default, none)"


def _legend(diagram: Diagram, *, flows: bool) -> None:
    """A legend cluster: what each shade and (on a data-flow diagram) each arrow style means."""
    legend = Cluster("cluster_legend", "Legend", "legend")
    diagram.clusters.append(legend)
    entries = [
        ("cde", "CDE: stores, processes\nor transmits PAN"),
        ("connected", "Connected-to /\nsecurity-impacting"),
        ("out", "Outside the templates:\nunverified"),
    ]  # two lines each: the legend is one row of the heading, no wider than a page's title
    for kind, text in entries:
        diagram.add(Node(f"legend_{kind}", text, kind), legend)
    if flows:
        diagram.add(
            Node(
                "legend_arrows",
                "Arrows: bold red = card data; blue = call;\ngreen dotted = key use; purple dashed = logs",
                "note",
            ),
            legend,
        )
    # A page's summary node (evidence.pages): dashed and heavier, shaded by the scope of what it stands for.
    diagram.add(Node("legend_summary", "Dashed box: another\npage, shaded by scope", "summary"), legend)


# The card-data elements each hop carries come from the templates: every function that handles card data
# states what it receives, sends, stores and reads (`pci-lz:card-data` metadata, evidence.flows.card_data);
# a hop to or from a function that states nothing reads "not stated in the templates".
NO_CARD_DATA = "no card data"
MASKED_LOGS = (
    "no PAN: masked at source (`card_vault.logs.MaskingFormatter` runs `card_vault.pan.mask_pans` on every line)"
)
AT_REST = "at rest (KMS key use, no network transmission of card data)"
AWS_INTERNAL = "AWS-internal service call (TLS)"
# KMS calls: what each sends to the KMS endpoint. GenerateMac sends its message, the cleartext PAN, to
# KMS over TLS (AWS KMS API Reference, "GenerateMac": Message, up to 4096 bytes), so that hop carries PAN
# and KMS is in the flow; the data-key calls send and receive keys only, the PAN is encrypted locally.
_KMS_DATA = {
    "GenerateMac": "cleartext PAN (the MAC's message) to the KMS endpoint; the keyed hash back",
    "VerifyMac": "cleartext PAN (the MAC's message) to the KMS endpoint",
    "GenerateDataKey": "no PAN: a data key back (plaintext and wrapped); the PAN is encrypted in the function",
    "Decrypt": "no PAN: a wrapped data key sent, the data key back; the PAN is decrypted in the function",
    "ReEncryptFrom": "no PAN: wrapped data keys only",
    "ReEncryptTo": "no PAN: wrapped data keys only",
    "DescribeKey": "no card data: key metadata",
}


def carries_card_data(data: str) -> bool:
    """Whether a hop's card-data text names card data: not "no card data", "no PAN: ...", "none ...", database
    credentials only, or a single element stated as "...: no card data" (the migration's DDL; in a list of
    several, as a backup's, the others are card data). Such a hop is drawn as a call (blue), never as a
    card-data hop (bold red), and the overview never merges the two classes."""
    text = data.strip()
    return not (
        text.startswith(("no card data", "no PAN", "none", "database credentials"))
        or (text.endswith(": no card data") and ", " not in text)
    )


def _kms_hop_data(actions: Iterable[str]) -> str:
    names = sorted({a.split(":", 1)[-1] for a in actions})
    pan = [n for n in names if _KMS_DATA.get(n, "").startswith("cleartext PAN")]
    if pan:
        return f"{_KMS_DATA[pan[0]]} ({', '.join(names)})"
    known = [_KMS_DATA[n] for n in names if n in _KMS_DATA]
    return known[0] if len(set(known)) == 1 else "no PAN: key material and metadata only"


def data_flow_diagram(model: TemplateModel, topo: RegionTopology, scope: ScopeModel | None = None) -> Diagram:
    """Card data from the caller to its final disposition: load balancer (TLS ends; it sends each
    request to AWS WAF, first 8 KB of the body) -> the vault's
    functions -> RDS Proxy -> database -> backups; detokenization to its named callers, the purge
    schedule, the migration trigger, every KMS and Secrets Manager call the functions' policies
    allow, and where each log ends. Every hop carries its protocol, port and in-transit encryption;
    `diagram.stores` lists every store with its mechanism and key reference."""
    scope = ScopeModel(model) if scope is None else scope
    diagram = Diagram(
        name=f"data-flow-{topo.region}",
        title=f"PCI DSS v4.0.1 1.2.4 cardholder-data-flow diagram: {topo.region} (generated from the templates)",
        rankdir="LR",
        spacing=(0.1, 0.25),
        xlabels=True,
    )
    ids = _Ids()
    outside = Cluster("cluster_outside", "Outside the templates: unverified", "out")
    cde = Cluster("cluster_cde", "CDE: stores, processes or transmits PAN", "cde")
    connected = Cluster("cluster_connected", "Connected-to / security-impacting", "connected")
    # Systems that send or receive PAN are CDE wherever they run (PCI DSS v4.0.1 section 4): the Payment API's
    # callers and the detokenizer's caller roles are outside the templates, so their controls are unverified,
    # but their scope category is CDE (a third party among them is a service provider under 12.8).
    # Drawn in the CDE cluster (no cluster of their own: the pages' overview keeps its height), each label
    # saying CDE_OUTSIDE.
    diagram.clusters += [outside, cde, connected]
    client = diagram.add(
        Node("client", f"Payment API caller (mTLS)\n{CDE_OUTSIDE}", "cde", section="entry", part="callers"),
        cde,
    )
    nodes: dict[tuple[str, str], str] = {}

    def node_for(resource: Resource, label: str, section: str = "") -> str:
        if resource.key not in nodes:
            kind = scope.kind_of(resource)
            cluster = {"cde": cde, "connected": connected}.get(kind, outside)
            node = Node(
                ids("n"),
                label,
                kind,
                resource=resource.key,
                section=section or FLOW_STAGES.get(resource.type, ""),
                part=FLOW_PARTS.get(resource.type, resource.type.split("::")[1]),
            )
            nodes[resource.key] = diagram.add(node, cluster)
        return nodes[resource.key]

    def edge(
        source: str,
        target: str,
        kind: str,
        *parts: str,
        refs: tuple[str, ...] = (),
        tls: str = "",
        data: str = "",
    ) -> None:
        label = _flow_label(*parts)
        if not any(e.source == source and e.target == target and e.label == label for e in diagram.edges):
            diagram.edges.append(Edge(source, target, label, kind, refs, tls=tls, data=data))

    def key_node(key: Resource) -> str:
        rotation = "rotates yearly" if key.prop("EnableKeyRotation") is True else "no automatic rotation"
        spec = key.prop("KeySpec")
        kind = f", {spec}" if isinstance(spec, str) and spec != "SYMMETRIC_DEFAULT" else ""
        return node_for(key, f"KMS key {alias_of(model, key)}\n{rotation}{kind}")

    def log_node(group: Resource, what: str, section: str = "logs") -> str:
        name = group.prop("LogGroupName")
        title = str(name) if isinstance(name, str) else display_name(group)
        days = group.prop("RetentionInDays")
        kept = f"kept {days} days" if days else "no retention set"
        return node_for(group, f"CloudWatch Logs: {what}\n{title}\n{kept}", section)

    def protect(store_node: str, key: Resource | None, what: str) -> None:
        if key is not None:
            edge(key_node(key), store_node, "key", f"encrypts {what}", "KMS (at rest)", tls=AT_REST, data=NO_CARD_DATA)

    lbs = [lb for lb in topo.load_balancers if lb.prop("Scheme", default="internet-facing") == "internet-facing"]
    functions: dict[tuple[str, str], Resource] = {}
    for lb in lbs:
        listeners = model.referrers(lb, "AWS::ElasticLoadBalancingV2::Listener")
        names = sorted(f"{li.prop('Protocol')} {li.prop('Port')}" for li in listeners)
        lb_node = node_for(lb, f"Application Load Balancer\n{display_name(lb)}\nlisteners: {', '.join(names)}")
        entry = lb_node
        request = request_elements(_lambda_targets(model, lb))
        for web_acl, target in topo.web_acl_associations:
            if target.key != lb.key:
                continue
            waf = node_for(web_acl, f"AWS WAF web ACL\n{display_name(web_acl)}")
            # The caller's TLS (and mTLS) ends at the load balancer, which sends each request to AWS WAF and
            # forwards it only on an allow; for an ALB the body AWS WAF inspects is its first 8 KB (8,192
            # bytes), fixed ("Considerations for managing body inspection in AWS WAF", AWS WAF Developer
            # Guide; `waf.fail_open.enabled` false: refused when WAF cannot be reached).
            edge(
                lb_node,
                waf,
                "data",
                "request sent for inspection (headers, first 8 KB of the body), verdict returned",
                "Elastic Load Balancing to AWS WAF",
                tls=AWS_INTERNAL,
                data=request,
            )
            for config in model.referrers(web_acl, "AWS::WAFv2::LoggingConfiguration"):
                for dest in _log_destinations(model, config):
                    if dest.type == "AWS::Logs::LogGroup":
                        holds, statement = scope.card_data_stores.get(dest.key, (True, "may hold PAN"))
                        edge(
                            waf,
                            log_node(dest, "WAF request logs"),
                            "data" if holds else "log",
                            "WAF request logs",
                            "AWS WAF log delivery to CloudWatch Logs",
                            tls=AWS_INTERNAL,
                            data=statement,
                        )
        https = [li for li in listeners if li.prop("Protocol") == "HTTPS"]
        for listener in https:
            mtls = listener.prop("MutualAuthentication", "Mode")
            edge(
                client,
                entry,
                "data",
                "PAN in the request body",
                f"HTTPS {listener.prop('Port')}",
                tls=f"TLS ({listener.prop('SslPolicy')}); "
                + (f"mutual TLS: {mtls}" if mtls else "no client certificate required"),
                data=request,
            )
        for listener in (li for li in listeners if li.prop("Protocol") == "HTTP"):
            redirect = any(a.get("Type") == "redirect" for a in listener.prop("DefaultActions", default=[]) or [])
            if redirect:
                edge(
                    client,
                    lb_node,
                    "flow",
                    f"HTTP {listener.prop('Port')}: 301 redirect to HTTPS only",
                    f"HTTP {listener.prop('Port')}",
                    tls="none: plain HTTP, which answers only with a redirect",
                    data="a PAN a client sends here has crossed the internet in clear; the load balancer answers"
                    " with a redirect and forwards nothing",
                )
        bucket = _lb_attribute(lb, "access_logs.s3.bucket")
        if _lb_attribute(lb, "access_logs.s3.enabled") == "true" and bucket is not None:
            for found in model.references(lb.stack, bucket):
                sse = found.prop(
                    "BucketEncryption",
                    "ServerSideEncryptionConfiguration",
                    0,
                    "ServerSideEncryptionByDefault",
                    "SSEAlgorithm",
                )
                sink = node_for(
                    found, f"S3 bucket {display_name(found)}\naccess + connection logs ({sse or 'default encryption'})"
                )
                # The request line as sent: a card number a client puts in a URL is logged. The hop says what the
                # store row and the scope say of the bucket (ScopeModel.card_data_stores), drawn as card data.
                holds = scope.card_data_stores.get(found.key, (True, ""))[0]
                edge(
                    lb_node,
                    sink,
                    "data" if holds else "log",
                    "access and connection logs",
                    "Elastic Load Balancing log delivery to S3",
                    tls=AWS_INTERNAL,
                    data=(
                        "may hold PAN (request line in access logs): the request line as the client sent it, client"
                        " address and TLS details, never the body"
                        if holds
                        else "request line as sent, client address and TLS details, never the body"
                    ),
                )
        by_function: dict[tuple[str, str], list[LambdaRoute]] = {}
        for route in lambda_routes(model, lb):
            by_function.setdefault(route.function.key, []).append(route)
        for routes in by_function.values():
            fn = routes[0].function
            functions[fn.key] = fn
            matched = "; ".join(
                f"{display_name(r.holder)} ({r.conditions}) -> target group {display_name(r.target_group)}"
                for r in routes
            )
            scoped = [
                f"{p.stack}/{p.logical_id} ({_source_arn_text(model, p, r.target_group)})"
                for r in routes
                for p in r.permissions
            ]
            # "Use Lambda functions as targets of an Application Load Balancer" (Elastic Load Balancing User
            # Guide): the load balancer invokes the function directly, not over a network connection (no
            # security-group rule applies), passing the request as JSON (method, path, query string, headers,
            # body; "Process Application Load Balancer requests with Lambda", AWS Lambda Developer Guide: a
            # synchronous invoke). The listener's TLS ends at the load balancer; how AWS protects the invoke
            # inside its network the templates cannot show.
            edge(
                lb_node,
                node_for(fn, f"Lambda function\n{display_name(fn)}"),
                "data",
                f"invoke, synchronous: the decrypted request as a JSON event (method, path, query string,"
                f" headers, body) and the function's JSON response back; routed by {matched}",
                "Lambda Invoke by Elastic Load Balancing (not a network connection: no security-group rule applies)",
                refs=(*(f"{r.holder.stack}/{r.holder.logical_id}" for r in routes), *dict.fromkeys(scoped)),
                tls="listener TLS ends at the load balancer; the invoke is inside AWS (Elastic Load Balancing to"
                " Lambda): its encryption in transit is AWS's, not evidenced by the templates",
                data=request_elements([fn]) + " (in the event's body and the response's body)",
            )
    for fn in scope.vault_functions:
        if model.stack_of(fn).region == topo.region or (model.stack_of(fn).region is None and len(model.stacks) == 1):
            functions[fn.key] = fn

    # Security-group flows from the functions and the load balancer's groups, member to member.
    member_nodes: dict[tuple[str, str], list[str]] = {}
    rotation_groups: set[tuple[str, str]] = set()  # the hosted rotation's groups: credentials only
    proxy_stores: list[Resource] = []
    function_of_node: dict[str, Resource] = {}  # a function's node -> the function (its own hop's card data)
    for group_key, members in topo.members.items():
        for member in members:
            res = member.resource
            if res.type == "AWS::SecretsManager::RotationSchedule":
                rotation_groups.add(group_key)
            if res.type == "AWS::Lambda::Function" and res.key in functions:
                fn_node_id = node_for(res, f"Lambda function\n{display_name(res)}")
                member_nodes.setdefault(group_key, []).append(fn_node_id)
                function_of_node[fn_node_id] = res
            elif res.type == "AWS::RDS::DBProxy":
                tls = "TLS required, IAM auth" if res.prop("RequireTLS") is True else "TLS not required"
                member_nodes.setdefault(group_key, []).append(node_for(res, f"RDS Proxy: {display_name(res)}\n{tls}"))
            elif res.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
                member_nodes.setdefault(group_key, []).append(
                    node_for(
                        res, f"RDS DB instance: {display_name(res)}\n{res.prop('Engine')} {res.prop('EngineVersion')}"
                    )
                )
            elif res.type == "AWS::SecretsManager::RotationSchedule" and res.prop("HostedRotationLambda") is not None:
                name = res.prop("HostedRotationLambda", "RotationLambdaName") or "hosted rotation"
                rotation_node = nodes.setdefault(
                    res.key,
                    diagram.add(
                        Node(
                            ids("n"),
                            f"Secrets Manager hosted rotation\n{name}\n(created by the transform)",
                            "out",
                            section="database",
                            part="hosted rotation",
                        ),
                        outside,
                    ),
                )
                member_nodes.setdefault(group_key, []).append(rotation_node)
    by_target: dict[tuple[str, str], Resource] = {}
    for group_key, members in topo.members.items():
        for member in members:
            if member.resource.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::RDS::DBProxy"):
                by_target[group_key] = member.resource

    def _functions_in(group_key: tuple[str, str]) -> list[Resource]:
        return [m.resource for m in topo.members.get(group_key, []) if m.resource.key in functions]

    clients_of: dict[tuple[str, str], list[Resource]] = {}  # a store's group -> the functions that reach it
    for rule in topo.sg_rules:
        if rule.peer_group is not None and not rule.allows_nothing:
            source_group, target_group = (rule.group, rule.peer_group) if rule.egress else (rule.peer_group, rule.group)
            reached = clients_of.setdefault(target_group.key, [])
            reached += [fn for fn in _functions_in(source_group.key) if fn not in reached]
    for rule in topo.sg_rules:
        if rule.peer_group is None or rule.allows_nothing:
            continue
        source_group, target_group = (rule.group, rule.peer_group) if rule.egress else (rule.peer_group, rule.group)
        store = by_target.get(target_group.key)
        if store is None:
            continue  # Lambda targets are invoked through the Lambda service; endpoints are drawn as calls
        if store.type == "AWS::RDS::DBProxy":
            tls = (
                "TLS required (RequireTLS), IAM authentication"
                if store.prop("RequireTLS") is True
                else "TLS not required"
            )
        else:
            tls = database_tls(model, store)
        # What the functions behind this hop state they store and read (the proxy's hop: all of them).
        # What the functions behind this hop state they store and read (`pci-lz:card-data`); the proxy's hop
        # to the database carries what its client functions do.
        source_store = by_target.get(source_group.key)
        sources = (
            clients_of.get(source_group.key, [])
            if source_store is not None and source_store.type == "AWS::RDS::DBProxy"
            else _functions_in(source_group.key)
        )
        carried = stored_elements(sources)
        if store.type != "AWS::RDS::DBProxy" and source_group.key in rotation_groups:
            carried = "database credentials only (the rotation changes the master password)"
        source_proxy = by_target.get(source_group.key)
        auth = (
            _proxy_auth(model, source_proxy)
            if source_proxy is not None and source_proxy.type == "AWS::RDS::DBProxy"
            else ""
        )
        for source in member_nodes.get(source_group.key, []):
            own = function_of_node.get(source)
            for sink in member_nodes.get(target_group.key, []):
                hop_data = stored_elements([own]) if own is not None else carried
                edge(
                    source,
                    sink,
                    "data" if carries_card_data(hop_data) else "flow",
                    f"PostgreSQL {rule.protocol}",
                    rule.protocol + (f"; {auth}" if auth else ""),
                    refs=(rule.ref,),
                    tls=tls,
                    data=hop_data,
                )
        if store.type == "AWS::RDS::DBProxy" and store not in proxy_stores:
            proxy_stores.append(store)

    # Each function: its invokers, schedule, deploy trigger, AWS API calls and log group.
    for fn in sorted(functions.values(), key=lambda f: f.path):
        fn_node = node_for(fn, f"Lambda function\n{display_name(fn)}")
        for caller, via_alias in invoke_grants(model, fn):
            if caller.startswith("arn:"):
                who = nodes.setdefault(
                    ("caller", caller),
                    diagram.add(
                        Node(
                            ids("n"),
                            # Its response carries the PAN: CDE, outside the templates (the cluster says so).
                            f"Caller role\n{caller.rsplit(':', 1)[-1]}\n{CDE_OUTSIDE}",
                            "cde",
                            section="functions",
                            part="callers",
                        ),
                        cde,
                    ),
                )
                edge(
                    who,
                    fn_node,
                    "data",
                    "lambda:InvokeFunction, response carries the PAN",
                    "HTTPS 443 (Lambda API)" + (f", its own alias {via_alias}" if via_alias else ""),
                    tls="TLS (AWS API)",
                    data=request_elements([fn]),
                )
        for expression in schedules(model, fn):
            timer = nodes.setdefault(
                ("schedule", expression + fn.logical_id),
                diagram.add(
                    Node(
                        ids("n"),
                        f"EventBridge schedule\n{expression}",
                        "connected",
                        section="functions",
                        part="schedule",
                    ),
                    connected,
                ),
            )
            edge(
                timer,
                fn_node,
                "flow",
                "scheduled invoke (purge of expired cards)",
                "EventBridge to Lambda",
                tls=AWS_INTERNAL,
                data="none: a schedule event (the purge deletes expired cards in the database)",
            )
        for trigger in deploy_triggers(model, fn):
            # Named: one function may have several (the migrations' pre- and post-deploy triggers).
            runner = node_for(trigger, f"CloudFormation deploy trigger {display_name(trigger)} (on change)")
            edge(
                runner,
                fn_node,
                "flow",
                "invoke at deploy (schema migration)",
                "CloudFormation to Lambda",
                tls=AWS_INTERNAL,
                data=NO_CARD_DATA,
            )
        fn_grants = grants(model, fn)
        # Keys the function uses only through what they protect (its environment, a secret it reads):
        # drawn once, as that key's "encrypts" edge.
        indirect = {k.key for k in [kms_key(model, fn, "KmsKeyArn")] if k is not None}
        for grant in fn_grants:
            if grant.target.type == "AWS::SecretsManager::Secret":
                indirect |= {k.key for k in [kms_key(model, grant.target, "KmsKeyId")] if k is not None}
        for grant in fn_grants:
            target = grant.target
            calls = short_actions(grant.actions)
            if target.type == "AWS::KMS::Key" and target.key not in indirect:
                carried = _kms_hop_data(grant.actions)
                edge(
                    fn_node,
                    key_node(target),
                    "data" if carried.startswith("cleartext PAN") else "key",
                    f"kms:{calls}",
                    _endpoint_port(topo, "kms"),
                    tls=_endpoint_tls(topo, "kms"),
                    data=carried,
                )
            elif target.type == "AWS::SecretsManager::Secret":
                role = "keyed-hash (HMAC) key" if target.key in scope.keyed_hash_keys else "database credentials"
                secret = node_for(target, f"Secrets Manager secret\n{display_name(target)}\n{role}")
                edge(
                    fn_node,
                    secret,
                    "flow",
                    f"secretsmanager:{calls}",
                    _endpoint_port(topo, "secretsmanager"),
                    tls=_endpoint_tls(topo, "secretsmanager"),
                    data=f"{role} (no card data)",
                )
                protect(secret, kms_key(model, target, "KmsKeyId"), "the secret")
        group = log_group_of(model, fn)
        if group is not None:
            edge(
                fn_node,
                log_node(group, f"{display_name(fn)} logs (no PAN)", "function-logs"),
                "log",
                "function logs",
                _endpoint_port(topo, "logs"),
                tls=_endpoint_tls(topo, "logs"),
                data=MASKED_LOGS,
            )
        if fn.prop("TracingConfig", "Mode") == "Active":
            if ("xray", topo.region) not in nodes:  # one X-Ray node per region, however many functions trace
                # X-Ray always encrypts traces at rest ("Data protection in AWS X-Ray", X-Ray Developer Guide);
                # the templates set neither its key nor its retention.
                nodes[("xray", topo.region)] = diagram.add(
                    Node(
                        ids("n"),
                        "AWS X-Ray: trace segments\nkept by X-Ray (retention not set here)",
                        "connected",
                        section="function-logs",
                        part="X-Ray",
                    ),
                    connected,
                )
                diagram.stores.append(
                    (
                        f"AWS X-Ray traces ({topo.region})",
                        "trace segments: names and timings, no PAN",
                        "X-Ray encryption at rest (its default; no KMS key set in the templates)",
                        "none in the templates",
                        "X-Ray's own (not set in the templates)",
                    )
                )
            tracer = nodes[("xray", topo.region)]
            edge(
                fn_node,
                tracer,
                "log",
                "trace segments (active tracing)",
                "UDP 2000 to the Lambda X-Ray daemon, which sends on over " + _endpoint_port(topo, "xray"),
                tls="daemon: inside the execution environment; to X-Ray: " + _endpoint_tls(topo, "xray"),
                data="no PAN: segment names and timings only (`card_vault.tracing.traced` records no arguments,"
                " results or request data)",
            )
        protect(fn_node, kms_key(model, fn, "KmsKeyArn"), "environment variables")

    # The proxy's own calls: the secrets it logs in with (and their key), or none with end-to-end IAM.
    for proxy in proxy_stores:
        proxy_node = nodes.get(proxy.key)
        for credential in _proxy_secrets(model, proxy) if proxy_node else []:
            secret_node = node_for(
                credential, f"Secrets Manager secret\n{display_name(credential)}\ndatabase credentials"
            )
            edge(
                proxy_node or "",
                secret_node,
                "flow",
                "secretsmanager:GetSecretValue (the proxy's role)",
                "HTTPS 443 (Secrets Manager API, from the proxy's AWS-managed network)",
                tls="TLS (AWS API)",
                data="database credentials (no card data)",
            )
            secret_key = kms_key(model, credential, "KmsKeyId")
            if secret_key is not None:
                edge(
                    proxy_node or "",
                    key_node(secret_key),
                    "key",
                    "kms:Decrypt through Secrets Manager (kms:ViaService)",
                    "Secrets Manager to KMS",
                    tls=AWS_INTERNAL,
                    data="no card data: the secret's data key",
                )

    # Databases: keys, backups, log exports.
    for db in topo.databases:
        db_node = node_for(db, f"RDS DB instance: {display_name(db)}\n{db.prop('Engine')} {db.prop('EngineVersion')}")
        key = kms_key(model, db, "KmsKeyId")
        protect(db_node, key, "storage, backups, snapshots")
        days = db.prop("BackupRetentionPeriod")
        kept = "kept after deletion" if db.prop("DeleteAutomatedBackups") is False else "deleted with the instance"
        backups = nodes.setdefault(
            ("backups", db.logical_id + db.stack),
            diagram.add(
                Node(
                    ids("n"),
                    f"Automated backups and snapshots\nretention {days} days ({kept})",
                    scope.kind_of(db),
                    section="database",
                    part="backups",
                ),
                cde if scope.kind_of(db) == "cde" else connected,
            ),
        )
        edge(
            db_node,
            backups,
            "data",
            "RDS backup",
            "RDS to its backup storage (AWS-internal)",
            tls="AWS-internal; encrypted at rest with the database's key",
            data="copies of the stored card data: " + stored_elements(list(functions.values()), reads=False),
        )
        protect(backups, key, "backups")
        statements = _statement_logging(model, db)
        for export in db.prop("EnableCloudwatchLogsExports", default=[]) or []:
            name = f"/aws/rds/instance/{display_name(db)}/{export}"
            group = next((g for g in model.resources("AWS::Logs::LogGroup") if g.prop("LogGroupName") == name), None)
            if group is not None:
                edge(
                    db_node,
                    log_node(group, f"database {export} log"),
                    "log",
                    f"database {export} log export",
                    "RDS log export to CloudWatch Logs",
                    tls=AWS_INTERNAL,
                    data=(
                        f"no PAN: {statements}; the functions send only encrypted or truncated card data"
                        if export == "postgresql"
                        else f"no PAN: the engine's {export} messages"
                    ),
                )
        insights_key = kms_key(model, db, "PerformanceInsightsKMSKeyId")
        if db.prop("EnablePerformanceInsights") is True:
            days = db.prop("PerformanceInsightsRetentionPeriod") or 7
            insights = nodes.setdefault(
                ("insights", db.logical_id + db.stack),
                diagram.add(  # may hold the ciphertext the statements carry: scoped like the database
                    Node(
                        ids("n"),
                        f"Performance Insights\n{display_name(db)}, kept {days} days",
                        scope.kind_of(db),
                        section="database",
                        part="Performance Insights",
                    ),
                    cde if scope.kind_of(db) == "cde" else connected,
                ),
            )
            edge(
                db_node,
                insights,
                "log",
                "Performance Insights samples",
                "RDS to Performance Insights (AWS-internal)",
                tls="AWS-internal; encrypted at rest with "
                + (alias_of(model, insights_key) if insights_key else "the AWS key"),
                data="statement text and waits: at most the ciphertext, keyed hash and first six / last four the"
                " statements carry, never cleartext PAN",
            )
            protect(insights, insights_key, "Performance Insights data")
            diagram.stores.append(
                (
                    f"Performance Insights of {display_name(db)}",
                    "database load samples with statement text (no cleartext PAN)",
                    "Performance Insights encryption (KMS)",
                    key_reference(model, insights_key),
                    f"{days} days",
                )
            )
        diagram.stores.append(
            (
                f"RDS {display_name(db)}",
                "tokens, encrypted PAN, keyed hash, first six / last four, expiry",
                _database_mechanism(model, scope, db),
                key_reference(model, key),
                f"until purged (daily schedule) or deleted; backups {days} days",
            )
        )
        diagram.stores.append(
            (
                f"RDS {display_name(db)} backups and snapshots",
                "copies of the database (encrypted PAN as stored)",
                "RDS storage encryption (AES-256, KMS)",
                key_reference(model, key),
                f"{days} days ({kept})",
            )
        )
    for vpc in topo.vpcs:
        for flow_log in model.referrers(vpc, "AWS::EC2::FlowLog"):
            vpc_node = node_for(vpc, f"VPC {display_name(vpc)}\nevery interface")
            for group in model.references(flow_log.stack, flow_log.prop("LogGroupName")) + model.references(
                flow_log.stack, flow_log.prop("LogDestination")
            ):
                if group.type == "AWS::Logs::LogGroup":
                    edge(
                        vpc_node,
                        log_node(group, f"VPC flow logs ({flow_log.prop('TrafficType')})"),
                        "log",
                        "VPC flow logs",
                        "VPC Flow Logs delivery to CloudWatch Logs",
                        tls=AWS_INTERNAL,
                        data="no PAN: packet metadata only (addresses, ports, bytes, accept or reject)",
                    )
    for resource_key in sorted(nodes):
        if not isinstance(resource_key[0], str) or resource_key[0] in (
            "caller",
            "schedule",
            "backups",
            "xray",
            "insights",
        ):
            continue
        held = model.resource(resource_key[0], resource_key[1])
        if held is None:
            continue
        if held.type == "AWS::Logs::LogGroup":
            # What the store holds is what its hops carry: the vault masks card numbers only in its own functions'
            # log lines, which are not the flow logs' or the database's (QSA reader r20c LOW).
            logged = dict.fromkeys(
                e.data for e in diagram.edges if e.target == nodes[resource_key] and e.data and e.kind == "log"
            )
            diagram.stores.append(
                (
                    f"log group {held.prop('LogGroupName') or display_name(held)}",
                    scope.card_data_stores[held.key][1]
                    if held.key in scope.card_data_stores
                    else "log events: " + ("; ".join(logged) if logged else "no hop into it is drawn"),
                    "CloudWatch Logs encryption (KMS)",
                    key_reference(model, kms_key(model, held, "KmsKeyId")),
                    retention_text(model, held),
                )
            )
        elif held.type == "AWS::S3::Bucket" and any(
            found.key == held.key
            for lb in lbs
            for found in model.references(lb.stack, _lb_attribute(lb, "access_logs.s3.bucket"))
        ):
            # The load balancer's access-log bucket is a store: each entry holds the request line as the client
            # sent it (method, URL with its query string, HTTP version), the user agent, the client's address and
            # the TLS protocol and cipher, never the body ("Access logs for your Application Load Balancer",
            # Elastic Load Balancing User Guide). A request WAF blocks is logged too.
            sse = (
                held.prop("BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault")
                or {}
            )
            algorithm = sse.get("SSEAlgorithm") if isinstance(sse, Mapping) else None
            key = kms_key(model, held, "BucketEncryption") if algorithm == "aws:kms" else None
            rules = held.prop("LifecycleConfiguration", "Rules", default=[]) or []
            days = next(
                (r.get("ExpirationInDays") for r in rules if isinstance(r, Mapping) and r.get("ExpirationInDays")), None
            )
            noncurrent = next(
                (
                    r["NoncurrentVersionExpiration"].get("NoncurrentDays")
                    for r in rules
                    if isinstance(r, Mapping) and isinstance(r.get("NoncurrentVersionExpiration"), Mapping)
                ),
                None,
            )
            kept = f"deleted after {days} days (lifecycle rule)" if days else "until deleted (no expiry rule)"
            kept += f"; replaced versions {noncurrent} days" if noncurrent else ""
            diagram.stores.append(
                (
                    f"S3 bucket {display_name(held)} (load balancer access and connection logs)",
                    "request lines as sent (method, URL and query string, HTTP version), user agents, client"
                    " addresses, TLS protocol and cipher; never a request body. "
                    + scope.card_data_stores.get(held.key, (True, "may hold PAN"))[1],
                    f"S3 server-side encryption ({algorithm or 'the bucket default'})",
                    key_reference(model, key)
                    if key is not None
                    else f"none in the templates ({algorithm or 'SSE-S3'}: S3-managed keys)",
                    kept,
                )
            )
        elif held.type == "AWS::SecretsManager::Secret":
            diagram.stores.append(
                (
                    f"secret {display_name(held)}",
                    "keyed-hash key" if held.key in scope.keyed_hash_keys else "database credentials",
                    "Secrets Manager envelope encryption (KMS)",
                    key_reference(model, kms_key(model, held, "KmsKeyId")),
                    "until deleted (retained)",
                )
            )
    # Groups attached to nothing (QSA reader r20f): their rules carry no flow in these templates, but they are
    # rules of the templates, and a resource attached to the group later (or outside them) inherits each one.
    for rule in topo.sg_rules:
        if topo.members.get(rule.group.key) or rule.allows_nothing:
            continue
        if rule.peer_group is not None:
            peer = f"SG {display_name(rule.peer_group)}"
        elif rule.peer_prefix_list:
            peer = f"prefix list {rule.peer_prefix_list}"
        else:
            peer = rule.peer_cidr or "unknown until deploy"
        diagram.unattached_rules.append(
            (
                f"SG {display_name(rule.group)}",
                "egress" if rule.egress else "ingress",
                rule.protocol,
                peer,
                rule.ref,
            )
        )
    diagram.unattached_rules.sort()
    # Number the hops: the diagram carries the number, the flow table beside it the full text, so no
    # label overprints another however many hops a region has.
    for number, hop in enumerate(diagram.edges, start=1):
        hop.detail, hop.label = hop.label, str(number)
    diagram.sections = [Section(key, title, summary, "summary") for key, title, summary in FLOW_PAGES]
    diagram.overview = "the stages of the flow, card data from its entry to its final disposition"
    diagram.scoped_summaries = True
    _legend(diagram, flows=True)
    return diagram


def _proxy_auth(model: TemplateModel, proxy: Resource) -> str:
    """How an RDS Proxy logs in to its database: end-to-end IAM (DefaultAuthScheme IAM_AUTH: an IAM
    token from the proxy's role, no Secrets Manager secret; "Configuring IAM authentication for RDS
    Proxy", RDS User Guide), or the Secrets Manager secrets of its `Auth` entries."""
    secrets = [
        s
        for auth in proxy.prop("Auth", default=[]) or []
        if isinstance(auth, Mapping)
        for s in model.references(proxy.stack, auth.get("SecretArn"))
    ]
    if proxy.prop("DefaultAuthScheme") == "IAM_AUTH" and not secrets:
        return "proxy to database by end-to-end IAM authentication (no Secrets Manager secret)"
    return "proxy to database with the credentials of " + (
        ", ".join(display_name(s) for s in secrets) or "secrets the templates do not name"
    )


def _proxy_secrets(model: TemplateModel, proxy: Resource) -> list[Resource]:
    """The Secrets Manager secrets an RDS Proxy reads its database credentials from (`Auth[].SecretArn`)."""
    found = []
    for auth in proxy.prop("Auth", default=[]) or []:
        if isinstance(auth, Mapping):
            found += [
                s for s in model.references(proxy.stack, auth.get("SecretArn")) if s.type.startswith("AWS::Secrets")
            ]
    return found


def _log_destinations(model: TemplateModel, config: Resource) -> list[Resource]:
    """Log groups a WAF logging configuration names, by reference or by a literal ARN of a group
    the templates create (`...:log-group:<name>`)."""
    return waf_log_destinations(model, config)


def _database_mechanism(model: TemplateModel, scope: ScopeModel, db: Resource) -> str:
    """Field-level protection the vault's functions are configured with, then the disk-level one."""
    parts = []
    for key in scope.envelope_keys.values():
        if model.stack_of(key).region == model.stack_of(db).region:
            parts.append(f"field-level AES-256-GCM envelope encryption, data keys under {alias_of(model, key)} (3.5.1)")
    for hmac in scope.keyed_hash_keys.values():
        if model.stack_of(hmac).region == model.stack_of(db).region:
            parts.append(f"keyed hash HMAC-SHA-256 with {display_name(hmac)} (3.5.1.1)")
    parts.append("disk-level: RDS storage encryption (not the 3.5.1 mechanism, 3.5.1.2)")
    return "; ".join(parts)


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
    "connected": 'fillcolor="#fff3d6", color="#b7791f"',
    "out": 'fillcolor="#f2f2f2", color="#777777", style="rounded,filled,dashed"',
    "note": 'shape=note, fillcolor="#ffffff", color="#999999"',
    "summary": 'fillcolor="#ffffff", color="#555555"',
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
    "connected": 'style="rounded,filled", fillcolor="#fffaf0", color="#b7791f", penwidth=2',
    "out": 'style="rounded,dashed", color="#777777"',
    "legend": 'style="rounded", color="#555555"',
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
    style = _DOT_STYLE.get(node.kind, "")
    if node.link:  # a page's summary node: dashed and heavier, linked to its page (an anchor in the HTML)
        style = re.sub(r',?\s*style="[^"]*"', "", style) + ', style="rounded,filled,dashed", penwidth=2,'
        style += f" URL={_dot_quote('#' + node.link)}, target=_top, tooltip={_dot_quote('page ' + node.link)}"
    return f"  {node.id} [label={_dot_quote(node.label)}, {style.lstrip(', ')}];"


_COLOR = re.compile(r'(fill)?color="([^"]*)"')


def _dot_heading(diagram: Diagram, provenance: Sequence[str]) -> str:
    """The graph's label, an HTML-like table: title, page line and provenance left-justified (provenance
    lines paired while the line stays HEADING_LINE characters short), then the legend's entries side by
    side, each shaded as the nodes it explains. As a cluster of its own the legend took a rank per
    entry (or a column a page high); the old centred 16 pt block took a quarter of every printed page."""
    paired: list[str] = []
    for line in provenance:
        if paired and len(paired[-1]) + len(line) + 2 <= HEADING_LINE:
            paired[-1] += f"; {line}"
        else:
            paired.append(line)
    text = [diagram.title, *([diagram.subtitle] if diagram.subtitle else []), *paired]
    # A row a line: lines joined by <BR/> are set closer than a browser's text boxes are high (they overlapped).
    rows = [f'<TR><TD ALIGN="LEFT">{html.escape(t)}</TD></TR>' for t in text]
    legend = next((c for c in diagram.clusters if c.kind == "legend"), None)
    if legend is not None:
        cells = []
        for node_id in legend.nodes:
            node = diagram.nodes[node_id]
            colors = {
                "fill" if fill else "line": value for fill, value in _COLOR.findall(_DOT_STYLE.get(node.kind, ""))
            }
            label = "<BR/>".join(html.escape(line) for line in node.label.split("\n"))
            cells.append(
                f'<TD BGCOLOR="{colors.get("fill", "#ffffff")}" COLOR="{colors.get("line", "#555555")}">'
                f'<FONT POINT-SIZE="10">{label}</FONT></TD>'
            )
        # Entries side by side, wrapped to a new row past LEGEND_ROW characters (their widest lines): one long
        # row set the width of every page it was wider than.
        grid: list[list[str]] = [[]]
        used = 0
        for node_id, cell in zip(legend.nodes, cells, strict=True):
            width = max(len(line) for line in diagram.nodes[node_id].label.split("\n")) + 3
            if grid[-1] and used + width > LEGEND_ROW:
                grid.append([])
                used = 0
            grid[-1].append(cell)
            used += width
        # A table a row: one grid would align the rows' cells in columns, each as wide as its widest entry.
        for number, row in enumerate(grid):
            head = f"<TD>{html.escape(legend.label)}:</TD>" if number == 0 else ""
            rows.append(
                f'<TR><TD ALIGN="LEFT"><TABLE BORDER="0" CELLBORDER="1" CELLSPACING="4" CELLPADDING="3">'
                f"<TR>{head}{''.join(row)}</TR></TABLE></TD></TR>"
            )
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _cluster_label(label: str) -> str:
    """A cluster's label; of several lines, a table row a line (lines set by "\\n" overprinted in the browser)."""
    if "\n" not in label:
        return _dot_quote(label)
    rows = "".join(f"<TR><TD>{html.escape(line)}</TD></TR>" for line in label.split("\n"))
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>>'


def _dot_cluster(cluster: Cluster, nodes: Mapping[str, Node], indent: str) -> list[str]:
    lines = [
        f"{indent}subgraph {cluster.id} {{",
        f"{indent}  graph [label={_cluster_label(cluster.label)}, fontsize={HEADING_PT}, margin={CLUSTER_MARGIN},"
        f" {_DOT_CLUSTER[cluster.kind]}];",
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


EDGE_PT = 10  # edge labels, as the nodes' text: at 9 pt they set how small every page had to be drawn
HEADING_PT = 12  # the title and provenance block's font size (nodes 10, edge labels 9)
HEADING_LINE = 130  # provenance lines are joined on one line while the line stays this short
# Points between a cluster's border and what it holds (Graphviz's default 8, https://graphviz.org/docs/attrs/margin/):
# three clusters stacked on a data-flow page (connected-to, CDE, outside) took a printed page's last 24 points.
CLUSTER_MARGIN = 4
LEGEND_ROW = 150  # legend entries (10 pt) side by side up to this many characters a row, then a new row


def to_dot(diagram: Diagram, provenance: Sequence[str] = ()) -> str:
    """Graphviz DOT for `dot -Tsvg`/`-Tpng`; each flow edge's tooltip lists the rules that allow it.
    `provenance` lines are printed under the title (commit, time, hashes: see evidence.report)."""
    lines = [
        f"digraph {_dot_quote(diagram.name)} {{",
        f"  graph [label={_dot_heading(diagram, provenance)}, labelloc=t, labeljust=l, fontsize={HEADING_PT},"
        " fontname=Helvetica,"
        f" rankdir={diagram.rankdir}, newrank=true, nodesep={diagram.spacing[0]}, ranksep={diagram.spacing[1]},"
        f" pad=0.2, dpi=80{', forcelabels=true' if diagram.xlabels else ''}];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10];',
        f"  edge [fontname=Helvetica, fontsize={EDGE_PT}];",
    ]
    in_cluster = _clustered(diagram.clusters)
    for node in diagram.nodes.values():
        if node.id not in in_cluster:
            lines.append(_dot_node(node))
    # Top-level clusters in reverse: dot then lays internet -> public -> application -> CDE out
    # consistently from right to left, tiers in the order the topology lists them.
    for cluster in reversed(diagram.clusters):
        if (cluster.nodes or cluster.clusters) and cluster.kind != "legend":  # the legend is in the heading
            lines += _dot_cluster(cluster, diagram.nodes, "  ")
    for edge in diagram.edges:
        # An edge's label (a data flow's hop number) as its external label: dot places an xlabel "near
        # the center of the edge" after the layout, so it adds no rank
        # (https://graphviz.org/docs/attrs/xlabel/); forcelabels=true
        # (https://graphviz.org/docs/attrs/forcelabels/) places every one even where it would overlap,
        # and the browser test's overlap check holds that none does. The data flow's hop numbers as
        # nodes on their arrows (the previous layout) doubled its ranks (15 parts, now 4); as the
        # edges' own labels, dot printed pairs of them over each other.
        label = "xlabel" if diagram.xlabels else "label"
        attrs = [f"{label}={_dot_quote(edge.label)}", _DOT_EDGE[edge.kind]]
        if edge.refs:
            attrs.append(f"tooltip={_dot_quote('; '.join(edge.refs))}")
        if edge.detail:
            attrs.append(f"comment={_dot_quote(edge.detail)}")
        attrs += [f"{name}={port}" for name, port in zip(("tailport", "headport"), edge.ports, strict=True) if port]
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
    "connected": "fill:#fff3d6,stroke:#b7791f,color:#000",
    "out": "fill:#f2f2f2,stroke:#777,stroke-dasharray:4,color:#000",
    "note": "fill:#ffffff,stroke:#999,color:#000",
    "summary": "fill:#ffffff,stroke:#555,stroke-width:2px,stroke-dasharray:4,color:#000",
}
_MERMAID_CLUSTER = {
    "cde": "fill:#fff5f5,stroke:#b00020,stroke-width:3px,color:#b00020",
    "scope": "fill:#fffaf0,stroke:#e08e0b,stroke-width:2px",
    "connected": "fill:#fffaf0,stroke:#b7791f,stroke-width:2px",
    "out": "fill:#fafafa,stroke:#777,stroke-dasharray:4",
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
    heading = [*([diagram.subtitle] if diagram.subtitle else []), *provenance]
    lines = ["flowchart LR", *(f"  %% {line}" for line in heading)]
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


# -- security services, deployment and access (1.2.3: the connections a VPC diagram cannot show) ----
def _trusted(statement: Mapping[str, Any]) -> list[str]:
    """Who a trust statement admits: the aws:PrincipalArn condition when present, else the principal."""
    condition = statement.get("Condition") or {}
    for operator in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
        value = (condition.get(operator) or {}).get("aws:PrincipalArn")
        if value is not None:
            return [str(v) for v in (value if isinstance(value, list) else [value])]
    principal = statement.get("Principal") or {}
    aws = principal.get("AWS") if isinstance(principal, Mapping) else None
    values = aws if isinstance(aws, list) else [aws] if aws is not None else []
    return [v for v in values if isinstance(v, str)]


def _principal_label(arn: str) -> str:
    account = arn.split(":")[4] if arn.count(":") >= 5 else "?"
    name = arn.split(":", 5)[-1]
    if "AWSReservedSSO_" in name:
        return f"IAM Identity Center permission set\n{name.rsplit('/', 1)[-1]}\naccount {account}"
    return f"{name}\naccount {account}"


def services_diagram(model: TemplateModel, scope: ScopeModel, assembly: Path | None = None) -> Diagram:
    """Per environment: the audit chain (trail -> log group and archive -> replica), detection
    (GuardDuty, Security Hub, Config) and alerting, every KMS key with what it encrypts here, the
    deployment path (the CDK bootstrap roles the assembly names) and the operator and break-glass
    access paths (the roles' trust policies, the alarms that watch them)."""
    diagram = Diagram(
        name="security-services",
        title="PCI DSS v4.0.1 1.2.3 security services, deployment and access paths (generated from the templates)",
        rankdir="LR",
        # Tighter than the default: 9 parts instead of 12. Its edge labels as xlabels took 6, but
        # dot printed several of them over role and account labels (the browser test's overlap check).
        spacing=(0.1, 0.25),
    )
    ids = _Ids()
    outside = Cluster("cluster_outside", "Outside the templates: unverified", "out")
    diagram.clusters.append(outside)
    regions: dict[str, Cluster] = {}
    nodes: dict[tuple[str, str], str] = {}

    def cluster_of(resource: Resource) -> Cluster:
        region = model.stack_of(resource).region or UNKNOWN
        if region not in regions:
            regions[region] = Cluster(ids("cluster_region"), f"Region {region}", "plain")
            diagram.clusters.append(regions[region])
        return regions[region]

    def node(resource: Resource, label: str, section: str = "") -> str:
        if resource.key not in nodes:
            # The region on each label: the same service in two regions is two nodes, not one label twice.
            region = model.stack_of(resource).region or UNKNOWN
            head, _, rest = label.partition("\n")
            text = f"{head} ({region})" + (f"\n{rest}" if rest else "")
            kind = scope.kind_of(resource)
            family = section or SERVICE_FAMILIES.get(resource.type, "")
            if family == "keys":  # a page of keys per region: every key of an environment was a page and a half
                family = f"keys-{region}"
            nodes[resource.key] = diagram.add(
                Node(ids("s"), text, kind, resource=resource.key, section=family), cluster_of(resource)
            )
        return nodes[resource.key]

    def link(source: str, target: str, kind: str, label: str) -> None:
        diagram.edges.append(Edge(source, target, label, kind))

    buckets_by_name = {
        str(b.prop("BucketName")): b
        for b in model.resources("AWS::S3::Bucket")
        if isinstance(b.prop("BucketName"), str)
    }
    for trail in model.resources("AWS::CloudTrail::Trail"):
        scope_text = "multi-region" if trail.prop("IsMultiRegionTrail") else "single region"
        trail_node = node(trail, f"CloudTrail trail {display_name(trail)}\n{scope_text}, log-file validation")
        for group in model.references(trail.stack, trail.prop("CloudWatchLogsLogGroupArn")):
            days = group.prop("RetentionInDays")
            group_node = node(group, f"CloudWatch Logs: trail\nkept {days} days; metric filters and alarms")
            link(trail_node, group_node, "log", "events (HTTPS, TLS)")
            filters = model.referrers(group, "AWS::Logs::MetricFilter")
            for topic in {t.key: t for f in filters for t in _alarm_topics(model, f)}.values():
                link(
                    group_node,
                    node(topic, f"SNS topic {display_name(topic)}\nsecurity alerts"),
                    "flow",
                    f"{len(filters)} metric filters -> alarms",
                )
        for bucket in model.references(trail.stack, trail.prop("S3BucketName")):
            lock = bucket.prop("ObjectLockConfiguration", "Rule", "DefaultRetention") or {}
            archive = node(
                bucket,
                f"S3 log archive {display_name(bucket)}\nObject Lock {lock.get('Mode', 'off')}"
                f" {lock.get('Days', '')} days",
            )
            link(trail_node, archive, "log", "log files (SSE-KMS)")
            for rule in bucket.prop("ReplicationConfiguration", "Rules", default=[]) or []:
                dest = str((rule.get("Destination") or {}).get("Bucket", "")).removeprefix("arn:aws:s3:::")
                replica = buckets_by_name.get(dest)
                if replica is not None:
                    node(replica, f"S3 archive replica {dest}")
                    link(archive, nodes[replica.key], "log", "replication, re-encrypted in the replica region")
    for detector in model.resources("AWS::GuardDuty::Detector"):
        guard = node(detector, "GuardDuty detector\nS3, RDS, Lambda, runtime")
        hubs = [
            h
            for h in model.resources("AWS::SecurityHub::Hub")
            if model.stack_of(h).region == model.stack_of(detector).region
        ]
        for hub in hubs:
            link(guard, node(hub, "Security Hub\nPCI DSS v4.0.1 + FSBP"), "flow", "findings")
    aggregators = list(model.resources("AWS::SecurityHub::FindingAggregator"))
    for hub in model.resources("AWS::SecurityHub::Hub"):
        hub_node = node(hub, "Security Hub\nPCI DSS v4.0.1 + FSBP")
        for aggregator in aggregators:
            if model.stack_of(aggregator).region != model.stack_of(hub).region:
                link(hub_node, node(aggregator, "Security Hub finding aggregator"), "flow", "findings (aggregated)")
    for rule in model.resources("AWS::Events::Rule"):
        pattern = rule.prop("EventPattern") or {}
        sources = pattern.get("source") if isinstance(pattern, Mapping) else None
        if not sources:
            continue
        for topic in model.references(rule.stack, rule.prop("Targets")):
            if topic.type == "AWS::SNS::Topic":
                rule_node = node(rule, f"EventBridge rule\n{', '.join(map(str, sources))}")
                link(
                    rule_node,
                    node(topic, f"SNS topic {display_name(topic)}\nsecurity alerts"),
                    "flow",
                    "matching events",
                )
    for subscription in model.resources("AWS::SNS::Subscription"):
        for topic in model.references(subscription.stack, subscription.prop("TopicArn")):
            if topic.key in nodes:
                who = diagram.add(
                    Node(
                        ids("s"),
                        f"{subscription.prop('Protocol')} subscriber\n(outside the templates: unverified)",
                        "out",
                        section="detection",
                    ),
                    outside,
                )
                link(nodes[topic.key], who, "flow", "alerts (HTTPS/TLS delivery)")
    for recorder in model.resources("AWS::Config::ConfigurationRecorder"):
        rec = node(recorder, "AWS Config recorder\nconformance pack (PCI DSS v4.0.1)")
        for channel in model.resources("AWS::Config::DeliveryChannel"):
            if model.stack_of(channel).region == model.stack_of(recorder).region:
                for bucket in model.references(channel.stack, channel.prop("S3BucketName")):
                    link(
                        rec,
                        node(bucket, f"S3 Config delivery\n{display_name(bucket)}", "detection"),
                        "log",
                        "snapshots and history",
                    )
    # Every key, with what it encrypts among the nodes above.
    for key in model.resources("AWS::KMS::Key"):
        rotation = "rotates yearly" if key.prop("EnableKeyRotation") is True else "no automatic rotation"
        key_node = node(key, f"KMS key {alias_of(model, key)}\n{rotation}")
        for user in model.referrers(key):
            if user.key in nodes and user.key != key.key:
                link(key_node, nodes[user.key], "key", "encrypts")
    # Operator and break-glass access: roles a person assumes (trust policies naming AWS principals).
    for role in model.resources("AWS::IAM::Role"):
        statements = role.prop("AssumeRolePolicyDocument", "Statement", default=[]) or []
        people = [
            s
            for s in statements
            if isinstance(s, Mapping) and isinstance(s.get("Principal"), Mapping) and "AWS" in s["Principal"]
        ]
        if not people:
            continue
        session = role.prop("MaxSessionDuration")
        role_node = node(role, f"IAM role {display_name(role)}\nsessions <= {session or 3600} s")
        for statement in people:
            condition = json.dumps(statement.get("Condition") or {})
            # Short: three such labels side by side overprinted each other at full length (browser test).
            mfa = "MFA required" if "aws:MultiFactorAuthPresent" in condition else "MFA at the IdP"
            for who in _trusted(statement):
                # One node per principal as a person reads it: a permission set's ARN patterns (with
                # and without the region segment) are one permission set.
                principal = ("principal", _principal_label(who))
                if principal not in nodes:
                    nodes[principal] = diagram.add(
                        Node(ids("s"), _principal_label(who), "out", section="access"), outside
                    )
                link(nodes[principal], role_node, "flow", f"sts:AssumeRole ({mfa})")
        arn_tail = f":role/{role.prop('RoleName')}"
        for metric in model.resources("AWS::Logs::MetricFilter"):
            if isinstance(role.prop("RoleName"), str) and arn_tail in str(metric.prop("FilterPattern")):
                for topic in _alarm_topics(model, metric):
                    link(
                        role_node,
                        node(topic, f"SNS topic {display_name(topic)}\nsecurity alerts"),
                        "flow",
                        "every use alarms",
                    )
    # Deployment: the CDK bootstrap roles the assembly names (created by `cdk bootstrap`, not here).
    if assembly is not None:
        from evidence.scope import _bootstrap_roles

        deployer = diagram.add(
            Node("deployer", "CDK CLI or pipeline\n(operator or CI credentials)", "out", section="deployment"), outside
        )
        seen: dict[str, str] = {}
        for kind, arn, _stack in _bootstrap_roles(assembly):
            if arn not in seen:
                seen[arn] = diagram.add(
                    Node(ids("s"), f"{kind}\n{arn.rsplit('/', 1)[-1]}", "out", section="deployment"), outside
                )
                link(deployer, seen[arn], "flow", "sts:AssumeRole")
        for arn, role_node in seen.items():
            if "-deploy-role-" in arn:
                region = arn.rsplit("-", 3)[-3:]
                exec_arn = arn.replace("-deploy-role-", "-cfn-exec-role-")
                if exec_arn in seen:
                    link(role_node, seen[exec_arn], "flow", f"CloudFormation deploy ({'-'.join(region)})")
    key_regions = sorted(
        {n.section.removeprefix("keys-") for n in diagram.nodes.values() if n.section.startswith("keys-")}
    )
    for page, heading, summary_text in SERVICE_PAGES:
        if page != "keys":
            # The audit chain and the access paths top to bottom: left to right, each was two pages wide.
            diagram.sections.append(
                Section(page, heading, summary_text, rankdir="TB" if page in ("audit", "access") else "")
            )
            continue
        for where in key_regions:
            diagram.sections.append(Section(f"keys-{where}", f"{heading} ({where})", f"{summary_text}\n{where}"))
    diagram.overview = "the families of security services and the paths between them"
    _legend(diagram, flows=True)
    return diagram


def _alarm_topics(model: TemplateModel, metric_filter: Resource) -> list[Resource]:
    """SNS topics of the alarms on a metric filter's metric."""
    out = []
    for transform in metric_filter.prop("MetricTransformations", default=[]) or []:
        name = transform.get("MetricName") if isinstance(transform, Mapping) else None
        for alarm in model.resources("AWS::CloudWatch::Alarm"):
            if alarm.prop("MetricName") == name and alarm.stack == metric_filter.stack:
                out += [
                    t for t in model.references(alarm.stack, alarm.prop("AlarmActions")) if t.type == "AWS::SNS::Topic"
                ]
    return out
