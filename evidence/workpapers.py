"""Work papers an assessor asks for, generated from the same parsed model as the report and diagrams.

- Rule review (PCI DSS 1.2.5, 1.2.7): every security-group rule, NACL entry and route, the
  template's own description as the stated need, flags for 0.0.0.0/0, port 80, ephemeral ranges
  and a missing justification; the independent approval of each is not evidenced here.
- Inventory (12.5.1): every network, compute, data, key, logging and edge component with its
  type, name, stack, account, region and scope category, with the basis of the category.
- Keys (3.6.1, 3.7): each KMS key's rotation, the principals its key policy lets administer it
  versus use it, and the resources that reference it.

Each table is a statement about the templates; none says a control is in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evidence.topology import AclEntry, RegionTopology, SgRule, Topology, display_name
from pci_rules.model import Resource, TemplateModel

ANYWHERE = ("0.0.0.0/0", "::/0")
NOT_EVIDENCED = "requires independent approval: not evidenced"

# Scope categories (PCI DSS v4.0.1 scoping: CDE systems store, process or transmit account data;
# connected-to and security-impacting systems can affect their security).
CDE, CONNECTED, OUT = "CDE", "connected-to / security-impacting", "out of scope (no connection evidenced)"

_CDE_TYPES = {
    "AWS::WAFv2::WebACL": "inspects every card-data request before the load balancer",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "terminates TLS of card-data requests",
    "AWS::ElasticLoadBalancingV2::Listener": "terminates TLS of card-data requests",
    "AWS::RDS::DBInstance": "stores tokenized card data",
    "AWS::RDS::DBCluster": "stores tokenized card data",
    "AWS::RDS::DBProxy": "transmits card-data queries to the database",
}
_INVENTORY_TYPES = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::RouteTable",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::VPCEndpoint",
    "AWS::NetworkFirewall::Firewall",
    "AWS::WAFv2::WebACL",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::Lambda::Function",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBProxy",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::CloudTrail::Trail",
    "AWS::GuardDuty::Detector",
    "AWS::SecurityHub::Hub",
    "AWS::Config::ConfigurationRecorder",
)
_ADMIN_ACTIONS = ("kms:*", "kms:Put*", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:Disable*", "kms:DisableKey")
_USE_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:ReEncrypt",
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " / ")


def _code(text: str) -> str:
    return f"`{text.replace('`', '')}`"


def _peer(rule: SgRule) -> str:
    if rule.peer_group is not None:
        return f"SG {display_name(rule.peer_group)}"
    if rule.peer_prefix_list:
        return f"prefix list {rule.peer_prefix_list}"
    return rule.peer_cidr or "unknown until deploy"


def _port_flags(protocol: str) -> list[str]:
    flags = []
    numbers = protocol.split(" ", 1)[1] if " " in protocol else ""
    if numbers in ("80", "80-80"):
        flags.append("port 80")
    if "-" in numbers:
        low, _, high = numbers.partition("-")
        if low.isdigit() and high.isdigit() and int(low) <= 1024 and int(high) >= 65535:
            flags.append("ephemeral range")
    if protocol in ("all traffic",) or protocol.endswith("all ports"):
        flags.append("all ports")
    return flags


def _sg_row(region: str, rule: SgRule) -> list[str]:
    flags = _port_flags(rule.protocol)
    if rule.peer_cidr in ANYWHERE:
        flags.append("0.0.0.0/0")
    if not rule.description.strip():
        flags.append("no justification in the template")
    if rule.allows_nothing:
        flags = ["CDK's no-egress marker (matches no traffic)"]
    return [
        region,
        f"SG {display_name(rule.group)}",
        "egress" if rule.egress else "ingress",
        rule.protocol,
        _peer(rule),
        rule.description or "-",
        ", ".join(flags) or "-",
        rule.ref,
    ]


def _acl_row(region: str, entry: AclEntry) -> list[str]:
    flags = _port_flags(entry.protocol)
    if entry.cidr in ANYWHERE:
        flags.append("0.0.0.0/0")
    flags.append("no justification in the template")  # NACL entries carry no description field
    return [
        region,
        f"NACL {display_name(entry.acl)} #{entry.number}",
        "egress" if entry.egress else "ingress",
        f"{'ALLOW' if entry.allow else 'DENY'} {entry.protocol}",
        entry.cidr,
        "-",
        ", ".join(flags),
        entry.ref,
    ]


def rule_review(topology: Topology) -> list[list[str]]:
    """Rows: region, control, direction, traffic, peer, stated need, flags, template reference."""
    rows: list[list[str]] = []
    for region, regional in topology.regions.items():
        rows += [_sg_row(region, rule) for rule in regional.sg_rules]
        rows += [_acl_row(region, entry) for entry in regional.acl_entries]
        for route in regional.routes:
            target = display_name(route.target) if route.target is not None else route.target_kind
            flags = ["0.0.0.0/0"] if route.destination in ANYWHERE else []
            rows.append(
                [
                    region,
                    f"route table {display_name(route.route_table)}",
                    "route",
                    route.destination,
                    f"{route.target_kind}: {target}",
                    "-",
                    ", ".join(flags) or "-",
                    f"{route.source.stack}/{route.source.logical_id}",
                ]
            )
    return rows


def _in_cde_subnets(resource: Resource, regional: RegionTopology | None, topology: Topology) -> bool:
    if regional is None:
        return False
    for subnet in topology.subnets_of(resource):
        found = regional.subnet(subnet)
        if found is not None and found.cde:
            return True
    return False


def _is_vault_function(resource: Resource) -> bool:
    return resource.type == "AWS::Lambda::Function" and "/CardVault/" in f"/{resource.path}"


def _vault_subnets(model: TemplateModel, topology: Topology) -> set[tuple[str, str]]:
    return {
        subnet.key
        for function in model.resources("AWS::Lambda::Function")
        if _is_vault_function(function)
        for subnet in topology.subnets_of(function)
    }


def scope_category(model: TemplateModel, topology: Topology, resource: Resource) -> tuple[str, str]:
    """(category, basis) of one component, from what the templates say about it."""
    stack = model.stack_of(resource)
    regional = topology.regions.get(stack.region or "")
    if resource.type in _CDE_TYPES:
        return CDE, _CDE_TYPES[resource.type]
    if resource.type == "AWS::EC2::Subnet" and regional is not None:
        found = regional.subnet(resource)
        if found is not None and found.cde:
            return CDE, f"{found.tier} tier subnet (CDE tier)"
        if resource.key in _vault_subnets(model, topology):
            return CDE, "hosts the card-vault functions"
    if resource.type == "AWS::Lambda::Function":
        if _is_vault_function(resource):
            return CDE, "card-vault function: handles card numbers or the card-data store"
        if _in_cde_subnets(resource, regional, topology):
            return CDE, "placed in a CDE subnet"
    if resource.type == "AWS::KMS::Key":
        protected = {r.type for r in model.referrers(resource)}
        if protected & {"AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::Lambda::Function"}:
            return CDE, "protects cardholder data (database storage or vault envelope/keyed-hash keys)"
        return CONNECTED, "protects logs or configuration of the environment"
    if stack.region is not None or stack.account is not None:
        return CONNECTED, "same account and network as the CDE, or logs/monitors it"
    return OUT, "no account or region recorded"


def inventory(model: TemplateModel, topology: Topology) -> list[list[str]]:
    """Rows: type, name, construct path, stack, account, region, scope category, basis."""
    rows = []
    for resource in model.resources(*_INVENTORY_TYPES):
        stack = model.stack_of(resource)
        category, basis = scope_category(model, topology, resource)
        rows.append(
            [
                resource.type,
                display_name(resource),
                resource.path,
                resource.stack,
                stack.account or "unknown",
                stack.region or "unknown",
                category,
                basis,
            ]
        )
    return sorted(rows, key=lambda r: (r[5], r[6], r[0], r[2]))


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, Mapping):
        return []
    out = []
    for kind, value in sorted(principal.items()):
        for item in value if isinstance(value, list) else [value]:
            out.append(f"{kind}: {_principal_text(item)}")
    return out


def _principal_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        return "".join(p if isinstance(p, str) else "{" + str(next(iter(p.values()), "?")) + "}" for p in parts)
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return f"role {target[0] if isinstance(target, list) else target}"
    return "resolved at deploy"


def _actions(statement: Mapping[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else [str(a) for a in actions]


def _matches(action: str, wanted: Iterable[str]) -> bool:
    """Whether a policy action (which may end in `*`) grants any of the wanted actions."""
    for want in wanted:
        if action == want:
            return True
        if action.endswith("*") and want.rstrip("*").startswith(action[:-1]):
            return True
        if want.endswith("*") and want != "kms:*" and action.startswith(want[:-1]):
            return True
    return False


def keys(model: TemplateModel) -> list[list[str]]:
    """Rows: key, stack, rotation, administrators, users, resources that reference it."""
    rows = []
    for key in model.resources("AWS::KMS::Key"):
        admins: set[str] = set()
        users: set[str] = set()
        for statement in key.prop("KeyPolicy", "Statement", default=[]) or []:
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            actions = _actions(statement)
            principals = _principals(statement)
            if statement.get("Condition"):
                principals = [f"{p} (with conditions)" for p in principals]
            if any(_matches(a, _ADMIN_ACTIONS) for a in actions):
                admins.update(principals)
            if any(_matches(a, _USE_ACTIONS) for a in actions):
                users.update(principals)
        rotation = "yes (yearly or as configured)" if key.prop("EnableKeyRotation") else "no"
        if key.prop("KeySpec") not in (None, "SYMMETRIC_DEFAULT"):
            rotation += f"; {key.prop('KeySpec')}"
        referrers = sorted({f"{r.type.split('::')[-1]} {display_name(r)}" for r in model.referrers(key)})
        rows.append(
            [
                display_name(key),
                key.stack,
                rotation,
                "; ".join(sorted(admins)) or "-",
                "; ".join(sorted(users)) or "-",
                "; ".join(referrers) or "-",
            ]
        )
    return sorted(rows)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def workpapers_markdown(model: TemplateModel, topology: Topology) -> list[str]:
    """The work-paper sections of the report (Markdown lines)."""
    review = rule_review(topology)
    flagged = sum(1 for row in review if row[6] != "-")
    out = [
        "## Work papers",
        "",
        "### Rule review (1.2.5, 1.2.7)",
        "",
        f"Every security-group rule, NACL entry and route of the templates ({len(review)}; {flagged} flagged)."
        f" The stated need is the template's own description. Each: {NOT_EVIDENCED}; review date: not evidenced.",
        "",
        *_table(
            ["Region", "Control", "Direction", "Traffic", "Peer / target", "Stated need", "Flags", "Template"],
            [[*row[:7], _code(row[7])] for row in review],
        ),
        "",
        "### Inventory (12.5.1)",
        "",
        "System components the templates create, with the scope category the templates support and its"
        " basis; components outside the templates are not listed and are unverified.",
        "",
        *_table(
            ["Type", "Name", "Construct path", "Stack", "Account", "Region", "Scope", "Basis"],
            [[r[0], r[1], _code(r[2]), *r[3:]] for r in inventory(model, topology)],
        ),
        "",
        "### Keys (3.6.1, 3.7)",
        "",
        "From each key policy: principals allowed key-administration actions versus cryptographic use."
        " Key custodians' acknowledgments (3.6.1.2) and cryptoperiod approval: not evidenced.",
        "",
        *_table(
            ["Key", "Stack", "Rotation", "Administrators (key policy)", "Users (key policy)", "Referenced by"],
            keys(model),
        ),
        "",
    ]
    return out
