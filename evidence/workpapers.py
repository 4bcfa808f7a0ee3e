"""Work papers an assessor asks for, generated from the same parsed model as the report and diagrams.

- Rule review (PCI DSS 1.2.5, 1.2.7): every security-group rule, NACL entry and route, the
  template's own description as the stated need, flags for 0.0.0.0/0, port 80, ephemeral ranges
  and a missing justification; the independent approval of each is not evidenced here.
- Inventory (12.5.1): every network, compute, data, key, logging and edge component with its
  type, name, stack, account, region and scope category, with the basis of the category.
- Keys (3.6.1, 3.7): each KMS key's rotation, the principals its key policy lets administer it
  versus use it (less what its Deny statements refuse, `evidence.iam_eval`), the identity policies that
  grant it, and the resources that reference it.

Each table is a statement about the templates; none says a control is in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from evidence.catalog import ANTI_MALWARE_CUSTOMER, ANTI_MALWARE_TEMPLATES
from evidence.diagrams import MASKED_LOGS
from evidence.iam_eval import (
    PRINCIPAL_ARN,
    PRINCIPAL_SERVICE,
    UNRESOLVED,
    Request,
    condition_holds,
    denied_by,
    has_unresolved,
    render,
)
from evidence.scope import CDE as SCOPE_CDE
from evidence.scope import CONNECTED as SCOPE_CONNECTED
from evidence.scope import OUT as SCOPE_OUT
from evidence.scope import ScopeModel, card_data_stores
from evidence.topology import AclEntry, RegionTopology, SgRule, Topology, display_name, in_cidr
from pci_constructs.audit_trail import SELECTOR_REASONS_METADATA
from pci_constructs.client_trust_store import REVOCATION_WAIVER_METADATA
from pci_constructs.lambda_bundling import SBOM_SOURCE_METADATA
from pci_constructs.sbom import sbom_label
from pci_constructs.segmented_vpc import NACL_NEED_METADATA
from pci_rules.model import Resource, TemplateModel

ANYWHERE = ("0.0.0.0/0", "::/0")
NOT_EVIDENCED = "requires independent approval: not evidenced"
MISSING_JUSTIFICATION = "no justification in the template"

# Scope categories: evidence/scope.py's one model (ScopeModel), for every paper and diagram.
CDE, CONNECTED, OUT = SCOPE_CDE, SCOPE_CONNECTED, SCOPE_OUT
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
        flags.append(MISSING_JUSTIFICATION)
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
    # AWS::EC2::NetworkAclEntry has no description property: the construct writes each entry's need
    # into its template metadata (NACL_NEED_METADATA, pci_constructs/segmented_vpc.py).
    need = entry.resource.metadata.get(NACL_NEED_METADATA)
    if not isinstance(need, str) or not need.strip():
        need = ""
        flags.append(MISSING_JUSTIFICATION)
    return [
        region,
        f"NACL {display_name(entry.acl)} #{entry.number}",
        "egress" if entry.egress else "ingress",
        f"{'ALLOW' if entry.allow else 'DENY'} {entry.protocol}",
        entry.cidr,
        need or "-",
        ", ".join(flags) or "-",
        entry.ref,
    ]


def _described(resource: Resource) -> str:
    description = resource.prop("Description")
    return description.strip() if isinstance(description, str) else ""


def _firewall_rows(model: TemplateModel, region: str) -> list[list[str]]:
    """Every Network Firewall policy's default actions and every rule of its rule groups: domain
    lists (one row per domain), Suricata rule strings (one row per rule), 5-tuple stateful rules and
    stateless rules. The stated need is the rule group's (or policy's) template description."""
    rows: list[list[str]] = []

    def row(holder: Resource, direction: str, traffic: str, peer: str, flags: list[str], ref: str) -> None:
        need = _described(holder)
        if not need:
            flags = [*flags, MISSING_JUSTIFICATION]
        name = holder.prop("RuleGroupName") or holder.prop("FirewallPolicyName") or display_name(holder)
        kind = "firewall rule group" if holder.type == "AWS::NetworkFirewall::RuleGroup" else "firewall policy"
        rows.append([region, f"{kind} {name}", direction, traffic, peer, need or "-", ", ".join(flags) or "-", ref])

    for policy in model.resources("AWS::NetworkFirewall::FirewallPolicy"):
        if model.stack_of(policy).region != region:
            continue
        body = policy.prop("FirewallPolicy") or {}
        ref = f"{policy.stack}/{policy.logical_id}"
        for field_name in ("StatelessDefaultActions", "StatelessFragmentDefaultActions", "StatefulDefaultActions"):
            actions = body.get(field_name) if isinstance(body, Mapping) else None
            if actions:
                text = ", ".join(map(str, actions))
                row(policy, "default action", f"{field_name}: {text}", "any traffic no rule matched", [], ref)
    for group in model.resources("AWS::NetworkFirewall::RuleGroup"):
        if model.stack_of(group).region != region:
            continue
        ref = f"{group.stack}/{group.logical_id}"
        source = group.prop("RuleGroup", "RulesSource") or {}
        if not isinstance(source, Mapping):
            continue
        listed = source.get("RulesSourceList")
        if isinstance(listed, Mapping):
            kind = str(listed.get("GeneratedRulesType", "?"))
            types = ", ".join(map(str, listed.get("TargetTypes") or []))
            for target in listed.get("Targets") or []:
                flags = [] if kind == "ALLOWLIST" else [f"{kind.lower()} entry"]
                row(group, "egress (stateful)", f"{kind} {types}", str(target), flags, ref)
        rules_string = source.get("RulesString")
        if isinstance(rules_string, str):
            for line in (li.strip() for li in rules_string.splitlines()):
                if line and not line.startswith("#"):
                    flags = ["0.0.0.0/0"] if " any " in f" {line} " else []
                    row(group, "stateful (Suricata)", line, "as the rule states", flags, ref)
        for rule in source.get("StatefulRules") or []:
            header = rule.get("Header") or {} if isinstance(rule, Mapping) else {}
            traffic = f"{rule.get('Action')} {header.get('Protocol')} port {header.get('DestinationPort')}"
            peer = f"{header.get('Source')} -> {header.get('Destination')} ({header.get('Direction')})"
            flags = (
                ["0.0.0.0/0"]
                if "ANY" in (str(header.get("Source")).upper(), str(header.get("Destination")).upper())
                else []
            )
            row(group, "stateful (5-tuple)", traffic, peer, flags, ref)
        stateless = source.get("StatelessRulesAndCustomActions") or {}
        for rule in (stateless.get("StatelessRules") or []) if isinstance(stateless, Mapping) else []:
            definition = rule.get("RuleDefinition") or {}
            match = json_text(definition.get("MatchAttributes"))
            row(
                group,
                f"stateless (priority {rule.get('Priority')})",
                ", ".join(map(str, definition.get("Actions") or [])),
                match,
                [],
                ref,
            )
    return rows


def _waf_statement(statement: Any) -> str:
    """A WAF rule statement in a line: managed group, rate limit, size, match, and/or/not."""
    if not isinstance(statement, Mapping) or not statement:
        return "?"
    kind, body = next(iter(statement.items()))
    body = body if isinstance(body, Mapping) else {}
    if kind == "ManagedRuleGroupStatement":
        overrides = [str(o.get("Name")) for o in body.get("RuleActionOverrides") or [] if isinstance(o, Mapping)]
        extra = f" (overridden: {', '.join(overrides)})" if overrides else ""
        return f"managed rule group {body.get('VendorName')}/{body.get('Name')}{extra}"
    if kind == "RateBasedStatement":
        window = body.get("EvaluationWindowSec", 300)
        return f"more than {body.get('Limit')} requests per {window} s per {body.get('AggregateKeyType')}"
    if kind == "SizeConstraintStatement":
        field_name = next(iter(body.get("FieldToMatch") or {"?": None}))
        return f"{field_name} size {body.get('ComparisonOperator')} {body.get('Size')} bytes"
    if kind in ("ByteMatchStatement", "RegexMatchStatement"):
        field_name = next(iter(body.get("FieldToMatch") or {"?": None}))
        value = body.get("SearchString") or body.get("RegexString")
        return f"{field_name} {body.get('PositionalConstraint', 'matches')} {value}"
    if kind in ("AndStatement", "OrStatement"):
        word = " and " if kind == "AndStatement" else " or "
        return "(" + word.join(_waf_statement(s) for s in body.get("Statements") or []) + ")"
    if kind == "NotStatement":
        return f"not {_waf_statement(body.get('Statement'))}"
    if kind == "LabelMatchStatement":
        return f"request carries label {body.get('Key')}"
    if kind == "IPSetReferenceStatement":
        return "source address in an IP set"
    if kind == "GeoMatchStatement":
        return f"country in {', '.join(map(str, body.get('CountryCodes') or []))}"
    return str(kind).removesuffix("Statement")


def _waf_rows(model: TemplateModel, region: str) -> list[list[str]]:
    """Every web ACL's default action and each of its rules in priority order. A WAF rule has no
    description property: the stated need is the rule's name and the web ACL's description."""
    rows: list[list[str]] = []
    for acl in model.resources("AWS::WAFv2::WebACL"):
        if model.stack_of(acl).region != region:
            continue
        ref = f"{acl.stack}/{acl.logical_id}"
        described = _described(acl)
        name = acl.prop("Name") or display_name(acl)
        missing = [] if described else [MISSING_JUSTIFICATION]
        default = next(iter(acl.prop("DefaultAction") or {"?": None}))
        flags = ["default allow"] if default == "Allow" else []
        rows.append(
            [
                region,
                f"web ACL {name}",
                "default action",
                default,
                "requests no rule matched",
                described or "-",
                ", ".join(flags + missing) or "-",
                ref,
            ]
        )
        for rule in sorted(
            acl.prop("Rules") or [], key=lambda r: r.get("Priority", 0) if isinstance(r, Mapping) else 0
        ):
            if not isinstance(rule, Mapping):
                continue
            if rule.get("Action"):
                action = next(iter(rule["Action"]))
            else:
                override = next(iter(rule.get("OverrideAction") or {"None": None}))
                action = "rule group's own actions" if override == "None" else f"{override} (override)"
            flags = ["count only"] if action in ("Count", "Count (override)") else []
            need = f"{rule.get('Name')}" + (f" (web ACL: {described})" if described else "")
            rows.append(
                [
                    region,
                    f"web ACL {name} rule {rule.get('Priority')} {rule.get('Name')}",
                    "ingress (HTTP requests)",
                    action,
                    _waf_statement(rule.get("Statement")),
                    need,
                    ", ".join(flags + missing) or "-",
                    ref,
                ]
            )
    return rows


def rule_review(topology: Topology) -> list[list[str]]:
    """Rows: region, control, direction, traffic, peer, stated need, flags, template reference:
    every security-group rule, NACL entry, Network Firewall policy default and rule-group rule, WAF
    web ACL default and rule, and route."""
    rows: list[list[str]] = []
    model = topology.model
    for region, regional in topology.regions.items():
        rows += [_sg_row(region, rule) for rule in regional.sg_rules]
        rows += [_acl_row(region, entry) for entry in regional.acl_entries]
        rows += _firewall_rows(model, region)
        rows += _waf_rows(model, region)
        for route in regional.routes:
            target = display_name(route.target) if route.target is not None else route.target_kind
            flags = ["0.0.0.0/0"] if route.destination in ANYWHERE else []
            # AWS::EC2::Route has no description property: the construct that makes a route writes its need into
            # the route's metadata (NACL_NEED_METADATA), a gateway endpoint into its own for the routes it adds.
            # A route with none is flagged (QSA reader r20b), like a rule with no description.
            need = route.source.metadata.get(NACL_NEED_METADATA)
            if not isinstance(need, str) or not need.strip():
                need = ""
                flags.append(MISSING_JUSTIFICATION)
            rows.append(
                [
                    region,
                    f"route table {display_name(route.route_table)}",
                    "route",
                    route.destination,
                    f"{route.target_kind}: {target}",
                    need or "-",
                    ", ".join(flags) or "-",
                    f"{route.source.stack}/{route.source.logical_id}",
                ]
            )
    return rows


RULE_REVIEW_HEADER = ("Region", "Control", "Direction", "Traffic", "Peer / target", "Stated need", "Flags", "Template")
RULE_DIFF_HEADER = ("Change", "Region", "Control", "Direction", "Template", "At the reviewed commit", "Now")
NONE_RECORDED = "none recorded"
# What identifies one rule across two synths: the control it belongs to, its direction and the template resource
# that makes it. A rule whose traffic, peer, stated need or flags differ under one such identity is "changed"
# when each side holds exactly one rule of it; otherwise the rules are listed as removed and added.
_RULE_IDENTITY = (0, 1, 2, 7)
_RULE_CONTENT = (3, 4, 5, 6)


def _rule_text(row: Sequence[str]) -> str:
    return "; ".join(f"{RULE_REVIEW_HEADER[i].lower()}: {row[i]}" for i in _RULE_CONTENT)


def rule_review_changes(current: Sequence[Sequence[str]], reviewed: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Rows of RULE_DIFF_HEADER: every rule in `current` and not in `reviewed` ("added"), in `reviewed` and not
    in `current` ("removed"), and each rule whose identity (region, control, direction, template) is one rule on
    both sides with different traffic, peer, stated need or flags ("changed"). Rows are rule-review rows
    (RULE_REVIEW_HEADER order); identical rows on both sides are unchanged and not listed; sorted, so the same
    two rule sets always give the same rows."""
    remaining_now = list(map(tuple, current))
    remaining_then = list(map(tuple, reviewed))
    then_counts: dict[tuple[str, ...], int] = {}
    for row in remaining_then:
        then_counts[row] = then_counts.get(row, 0) + 1
    unmatched_now = []
    for row in remaining_now:
        if then_counts.get(row, 0):
            then_counts[row] -= 1
        else:
            unmatched_now.append(row)
    unmatched_then = [row for row, n in then_counts.items() for _ in range(n)]

    def by_identity(rows: list[tuple[str, ...]]) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
        out: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for row in rows:
            out.setdefault(tuple(row[i] for i in _RULE_IDENTITY), []).append(row)
        return out

    now_ids, then_ids = by_identity(unmatched_now), by_identity(unmatched_then)
    changes: list[tuple[str, ...]] = []
    for identity in sorted(set(now_ids) | set(then_ids)):
        now, then = now_ids.get(identity, []), then_ids.get(identity, [])
        region, control, direction, template = identity
        if len(now) == 1 and len(then) == 1:
            changes.append(("changed", region, control, direction, template, _rule_text(then[0]), _rule_text(now[0])))
            continue
        changes += [("removed", region, control, direction, template, _rule_text(r), "-") for r in then]
        changes += [("added", region, control, direction, template, "-", _rule_text(r)) for r in now]
    return sorted(changes)


def rule_review_changes_paper(
    current: Sequence[Sequence[str]],
    *,
    reviewed_commit: str | None,
    reviewed_file: Path | None,
    reviewed_name: str | None,
) -> WorkPaper:
    """The rule-level diff since the last review (PCI DSS v4.0.1 1.2.7 reviews, 1.2.2 changes): `current` is this
    synth's rule review; `reviewed_file` the rule review the last review examined (the JSON `write_workpapers`
    writes, `{"columns": [...], "rows": [{column: value}]}`), named in the configuration as `reviewed_name`.
    "none recorded" when no review is configured; "not evidenced" when a review is but its rule set is not
    recorded or not readable. Raises nothing: an unreadable file is stated in the paper."""
    title = "Rule review: changes since the last review (1.2.2, 1.2.7)"
    if not reviewed_commit:
        return WorkPaper(
            "rule-review-changes",
            title,
            f"Last reviewed rule set: {NONE_RECORDED} (no `evidence.last_reviewed_commit` in the environment"
            " configuration), so no change since a review can be listed.",
            RULE_DIFF_HEADER,
            ((NONE_RECORDED, *("-",) * 6),),
            frozenset({4}),
        )
    if reviewed_file is None or reviewed_name is None:
        return WorkPaper(
            "rule-review-changes",
            title,
            f"Last review at commit {reviewed_commit}; the rule set it examined is not recorded"
            " (`evidence.reviewed_rule_review` unset): the rule-level changes since: not evidenced.",
            RULE_DIFF_HEADER,
            (("not evidenced", *("-",) * 6),),
            frozenset({4}),
        )
    import hashlib
    import json

    try:
        raw = reviewed_file.read_bytes()
        body = json.loads(raw)
        columns = list(body["columns"])
        if columns != list(RULE_REVIEW_HEADER):
            raise ValueError(f"columns {columns} are not the rule review's")
        reviewed = [tuple(str(record[c]) for c in RULE_REVIEW_HEADER) for record in body["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return WorkPaper(
            "rule-review-changes",
            title,
            f"Last review at commit {reviewed_commit}; its rule set `{reviewed_name}` could not be read"
            f" ({type(error).__name__}: {error}): the rule-level changes since: not evidenced.",
            RULE_DIFF_HEADER,
            (("not evidenced", *("-",) * 6),),
            frozenset({4}),
        )
    rows = rule_review_changes(current, reviewed)
    counts = {kind: sum(1 for r in rows if r[0] == kind) for kind in ("added", "removed", "changed")}
    return WorkPaper(
        "rule-review-changes",
        title,
        f"Against the rule set the last review (commit {reviewed_commit}) examined, `{reviewed_name}` (SHA-256"
        f" {hashlib.sha256(raw).hexdigest()}, {len(reviewed)} rules; now {len(current)}): {counts['added']} added,"
        f" {counts['removed']} removed, {counts['changed']} changed"
        + ("" if rows else ": no rule changed since")
        + ". A rule is identified by its region, control, direction and template resource. That the recorded file"
        " is what the review examined, and each change's approval (1.2.2): not evidenced.",
        RULE_DIFF_HEADER,
        tuple(rows) or (("no change", *("-",) * 6),),
        frozenset({4}),
    )


def _is_vault_function(resource: Resource) -> bool:
    return resource.type == "AWS::Lambda::Function" and "/CardVault/" in f"/{resource.path}"


def inventory(model: TemplateModel, topology: Topology, scope: ScopeModel | None = None) -> list[list[str]]:
    """Rows: type, name, construct path, stack, account, region, scope category, basis (ScopeModel's),
    logical ID: every resource of every template (the rule: what a template creates is listed, CDK's
    own metadata resource and custom resources included, so the count equals the templates')."""
    scope = ScopeModel(model, topology) if scope is None else scope
    rows = []
    for resource in model.resources():
        stack = model.stack_of(resource)
        category, basis = scope.category(resource)
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
                resource.logical_id,
            ]
        )
    return sorted(rows, key=lambda r: (r[5], r[6], r[0], r[2], r[3], r[8]))


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


_IDENTITY_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
# The concrete cryptographic calls a use action (which may end in `*`) stands for, so a Deny's own wildcard
# (`kms:GenerateDataKey*`) is matched against a call, never against another pattern.
_CONCRETE_USE = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateMac",
    "kms:VerifyMac",
)
_VIA_SERVICE = "kms:ViaService"
# Context keys of the key itself a statement on `*` may narrow by ("AWS KMS condition keys", AWS KMS Developer
# Guide: kms:ResourceAliases; "Controlling access to AWS resources using tags", IAM User Guide: aws:ResourceTag).
_RESOURCE_KEYS = ("kms:resourcealiases", "aws:resourcetag/")


@dataclass(frozen=True)
class _Holder:
    """A principal an identity policy is attached to: its label and its ARN as a Deny's `aws:PrincipalArn` sees
    it (None: not known from the templates, a group's members or a role outside them)."""

    label: str
    arn: str | None


def _account(model: TemplateModel, stack: str) -> str:
    template = model.stacks.get(stack)
    return template.account if template is not None and template.account else UNRESOLVED


def _role_arn(model: TemplateModel, role: Resource) -> str:
    """The role's ARN, `arn:aws:iam::<account>:role<Path><RoleName>` ("IAM identifiers", IAM User Guide); a
    generated name is stood for by `<LogicalId>-generated` (a name pattern `*` matches it, no literal name does)."""
    path, name = role.prop("Path"), role.prop("RoleName")
    path = path if isinstance(path, str) else "/"
    name = name if isinstance(name, str) else f"{role.logical_id}-generated"
    return f"arn:aws:iam::{_account(model, role.stack)}:role{path}{name}"


def _known(model: TemplateModel, stack: str) -> dict[str, str]:
    """What `iam_eval.render` may substitute in a statement of `stack`: its account, region and role ARNs."""
    known = {"AWS::AccountId": _account(model, stack)}
    template = model.stacks.get(stack)
    if template is not None and template.region:
        known["AWS::Region"] = template.region
    for role in model.resources("AWS::IAM::Role"):
        if role.stack == stack:
            known[f"{role.logical_id}.Arn"] = _role_arn(model, role)
    return known


def _policy_holders(model: TemplateModel, policy: Resource) -> list[_Holder]:
    """Who an identity policy is attached to: its Roles/Users/Groups, and roles naming it."""
    holders: list[_Holder] = []
    for prop in ("Roles", "Users", "Groups"):
        for target in model.references(policy.stack, policy.prop(prop)):
            arn = _role_arn(model, target) if target.type == "AWS::IAM::Role" else None
            holders.append(_Holder(f"{target.type.split('::')[-1]} {display_name(target)}", arn))
        for literal in policy.prop(prop, default=[]) or []:
            if not isinstance(literal, str):
                continue
            named = next((r for r in model.resources("AWS::IAM::Role") if r.prop("RoleName") == literal), None)
            if prop == "Roles" and named is not None:
                holders.append(_Holder(f"Role {display_name(named)} ({named.stack})", _role_arn(model, named)))
            else:
                holders.append(_Holder(f"{prop[:-1]} {literal} ({UNVERIFIED})", None))
    for role in model.referrers(policy, "AWS::IAM::Role"):
        holders.append(_Holder(f"Role {display_name(role)}", _role_arn(model, role)))
    return sorted(set(holders), key=lambda h: h.label)


def _split_condition(statement: Mapping[str, Any]) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
    """An Allow's condition as (the kms:ViaService values it narrows to, its clauses on the key's own context
    keys, the other condition keys)."""
    vias: list[str] = []
    on_key: dict[str, dict[str, Any]] = {}
    other: list[str] = []
    for operator, clauses in (statement.get("Condition") or {}).items():
        if not isinstance(clauses, Mapping):
            continue
        for name, value in clauses.items():
            if name.lower() == _VIA_SERVICE.lower() and operator in ("StringEquals", "StringLike"):
                vias.extend(str(v) for v in (value if isinstance(value, list) else [value]))
            elif name.lower().startswith(_RESOURCE_KEYS):
                on_key.setdefault(operator, {})[name] = value
            else:
                other.append(name)
    return vias, on_key, sorted(set(other))


def _root_wide(statement: Mapping[str, Any]) -> bool:
    """The default key policy's statement: kms:* to the account root, unconditioned ("Default key policy", AWS KMS
    Developer Guide: it lets the account's IAM policies grant the key)."""
    return (
        statement.get("Effect") == "Allow"
        and "kms:*" in _actions(statement)
        and not statement.get("Condition")
        and ":root" in str(statement.get("Principal"))
    )


def _key_statements(key: Resource) -> list[Mapping[str, Any]]:
    return [s for s in key.prop("KeyPolicy", "Statement", default=[]) or [] if isinstance(s, Mapping)]


def _named_unconditional(statement: Mapping[str, Any]) -> bool:
    """A Deny naming principals (not `*`) without a condition: shown beside the principal it names."""
    return (
        not statement.get("Condition")
        and all(p != "*" for p in _principals(statement))
        and "AWS: *" not in (_principals(statement))
    )


def _evaluated_denies(model: TemplateModel, key: Resource, *, named: bool) -> list[dict[str, Any]]:
    """The key policy's Deny statements rendered for `iam_eval` (with `named`, the unconditional ones naming a
    principal too)."""
    known = _known(model, key.stack)
    return [
        render(dict(s), known)
        for s in _key_statements(key)
        if s.get("Effect") == "Deny" and (named or not _named_unconditional(s))
    ]


def _deny_services(denies: Sequence[Mapping[str, Any]]) -> list[str]:
    """The kms:ViaService values the Denies exempt (`StringNotEquals kms:ViaService`): the routes to try."""
    found: set[str] = set()
    for statement in denies:
        for operator, clauses in (statement.get("Condition") or {}).items():
            if operator.startswith("StringNot") and isinstance(clauses, Mapping):
                for name, value in clauses.items():
                    if name.lower() == _VIA_SERVICE.lower():
                        found.update(str(v) for v in (value if isinstance(value, list) else [value]))
    return sorted(found)


def _route(via: str, region: str | None) -> str:
    """A kms:ViaService pattern as one request's value: `s3.*.amazonaws.com` in the key's region."""
    return via.replace("*", region) if region and "*" in via else via


def use_verdict(
    denies: Sequence[Mapping[str, Any]],
    actions: Iterable[str],
    *,
    arn: str | None = None,
    service: str | None = None,
    vias: Sequence[str] = (),
    region: str | None = None,
) -> str:
    """What a key policy's Deny statements leave of a principal's use of the key, as a suffix for its label.

    `denies` are rendered Deny statements (`iam_eval.render`); `actions` the principal's allowed use actions
    (`kms:Decrypt`, `kms:GenerateDataKey*`); `arn` its principal ARN, or `service` its service principal
    (`logs.amazonaws.com`); `vias` the kms:ViaService values its own grant narrows it to, in `region` for a
    pattern. Returns "" when no Deny refuses anything, " through S only (kms:ViaService)" for a grant narrowed
    to a service, "; refused by SID" when every call on every route is refused, " through S only (SID refuses
    direct use)" when only a service the Deny exempts remains, " (SID refuses Encrypt, ...)" for a partial
    refusal, and a "not evaluated" note for a principal the templates do not name or a value resolved at deploy.
    Each request is evaluated as IAM does (an explicit Deny overrides any Allow: "Policy evaluation logic", IAM
    User Guide) by `evidence.iam_eval.denied_by`."""
    concrete = sorted({c for a in actions for c in _CONCRETE_USE if fnmatchcase(c.lower(), a.lower())})
    prefix = f" through {', '.join(vias)} only (kms:ViaService)" if vias else ""
    if not denies or not concrete:
        return prefix
    if arn is None and service is None:
        return prefix + " (the key policy's Denies not evaluated: principal not known from the templates)"
    unresolved = sorted(str(s.get("Sid", "Deny")) for s in denies if has_unresolved(s.get("Condition")))
    if unresolved or (arn is not None and has_unresolved(arn)):
        return prefix + f" (not evaluated against {', '.join(unresolved) or 'the Denies'}: a value resolved at deploy)"
    base: dict[str, str | tuple[str, ...]] = {"aws:PrincipalIsAWSService": "true" if service else "false"}
    if arn is not None:
        base[PRINCIPAL_ARN] = arn
    if service is not None:
        base[PRINCIPAL_SERVICE] = service
    routes: list[str | None] = [_route(v, region) for v in vias] if vias else [None, *_deny_services(denies)]
    allowed: dict[str | None, list[str]] = {}
    refusing: set[str] = set()
    try:
        for route in routes:
            context = dict(base) if route is None else {**base, _VIA_SERVICE: route}
            allowed[route] = []
            for action in concrete:
                sids = denied_by([dict(d) for d in denies], Request(action, context=context))
                refusing.update(sids)
                if not sids:
                    allowed[route].append(action)
    except NotImplementedError as error:
        return prefix + f" (the key policy's Denies not evaluated: {error})"
    names = ", ".join(sorted(refusing))
    if not refusing:
        return prefix
    if not any(allowed.values()):
        return f"{prefix}; refused by {names}"
    if vias:
        kept = {a for v in allowed.values() for a in v}
        return f"{prefix} ({names} refuses {', '.join(a.removeprefix('kms:') for a in concrete if a not in kept)})"
    direct = allowed[None]
    if not direct:
        remaining = [r for r in routes if r is not None and allowed[r]]
        return f" through {', '.join(map(str, remaining))} only ({names} refuses direct use)"
    refused = [a.removeprefix("kms:") for a in concrete if a not in direct]
    return f" ({names} refuses {', '.join(refused)})" if refused else ""


def deny_exemptions(model: TemplateModel, stack: str, statement: Mapping[str, Any]) -> list[str]:
    """Whom or what a conditional Deny leaves out, from its negated conditions (the Deny applies only where all
    of them hold, so each is an exemption): a role path or principals (`ArnNotLike`/`ArnNotEquals` on
    aws:PrincipalArn), a service route (`StringNotEquals kms:ViaService`), AWS service principals
    (`Bool[IfExists] aws:PrincipalIsAWSService false`), grants for AWS resources (`kms:GrantIsForAWSResource
    false`); a positive condition narrows whom the Deny applies to ("applies only where ..."). AWS global
    condition context keys (IAM User Guide) and "AWS KMS condition keys" (AWS KMS Developer Guide)."""
    out: list[str] = []
    for operator, clauses in sorted((statement.get("Condition") or {}).items()):
        if not isinstance(clauses, Mapping):
            continue
        base = operator.removeprefix("ForAnyValue:").removesuffix("IfExists")
        for name, value in sorted(clauses.items()):
            values = value if isinstance(value, list) else [value]
            lowered = name.lower()
            if lowered == "aws:principalarn" and base in ("ArnNotLike", "ArnNotEquals", "StringNotLike"):
                texts = []
                for item in values:
                    target = model.target(stack, item) if isinstance(item, Mapping) else None
                    rendered = render(item, _known(model, stack))
                    text = (
                        f"Role {display_name(target)}"
                        if target is not None
                        else (_principal_text(item) if has_unresolved(rendered) else str(rendered))
                    )
                    path = re.fullmatch(r"arn:[^:]*:iam::[^:]*:role(/.+/)\*", text)
                    texts.append(f"roles under the IAM path {path.group(1)} ({text})" if path else text)
                out.append(f"{', '.join(texts)} (aws:PrincipalArn)")
            elif lowered == _VIA_SERVICE.lower() and base.startswith("StringNot"):
                out.append(f"requests through {', '.join(map(_principal_text, values))} (kms:ViaService)")
            elif (
                lowered == "aws:principalisawsservice"
                and base == "Bool"
                and [str(v).lower() for v in values] == ["false"]
            ):
                out.append("AWS service principals (aws:PrincipalIsAWSService)")
            elif (
                lowered == "kms:grantisforawsresource"
                and base == "Bool"
                and [str(v).lower() for v in values] == ["false"]
            ):
                out.append("grants for AWS resources (kms:GrantIsForAWSResource)")
            else:
                out.append(f"requests where {operator} {name} {', '.join(map(_principal_text, values))} fails")
    return out


def key_users_by_grant(model: TemplateModel) -> dict[tuple[str, str], set[str]]:
    """Key -> the principals an identity policy (or a role's inline policy) or a KMS grant of the templates lets
    use it, each as `holder: calls[ through S only (kms:ViaService)][ mark]`.

    An Allow with a cryptographic action counts for a key its Resource references, and, when its Resource is
    `*`, for every key of the same account whose key policy lets the account's IAM policies grant it (the root
    kms:* statement, "Default key policy", AWS KMS Developer Guide) and whose aliases and tags satisfy the
    statement's kms:ResourceAliases / aws:ResourceTag conditions. A kms:ViaService condition narrows the use to
    that service ("kms:ViaService", AWS KMS Developer Guide). The key policy's Deny statements are then applied
    (`use_verdict`): a holder they refuse reads "refused by SID". A policy on `*` attached to no principal of the
    templates (a permissions boundary) is not counted. A KMS grant is listed as written (its grantee
    is resolved at deploy in these templates)."""
    found: dict[tuple[str, str], set[str]] = {}
    keys_ = list(model.resources("AWS::KMS::Key"))
    aliases: dict[tuple[str, str], tuple[str, ...]] = {}
    for alias in model.resources("AWS::KMS::Alias"):
        name = alias.prop("AliasName")
        for target in model.references(alias.stack, alias.prop("TargetKeyId")):
            if isinstance(name, str):
                aliases[target.key] = (*aliases.get(target.key, ()), name)
    denies = {key.key: _evaluated_denies(model, key, named=True) for key in keys_}
    open_to_iam = {key.key for key in keys_ if any(_root_wide(s) for s in _key_statements(key))}

    def key_context(key: Resource) -> dict[str, str | tuple[str, ...]]:
        context: dict[str, str | tuple[str, ...]] = {"kms:ResourceAliases": aliases.get(key.key, ())}
        for tag in key.prop("Tags", default=[]) or []:
            if isinstance(tag, Mapping) and isinstance(tag.get("Key"), str) and isinstance(tag.get("Value"), str):
                context[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
        return context

    def add(key: Resource, holders: list[_Holder], actions: list[str], statement: Mapping[str, Any]) -> None:
        vias, on_key, other = _split_condition(statement)
        try:
            if on_key and not condition_holds(render(on_key), key_context(key)):
                return
        except NotImplementedError:
            other = sorted({*other, *(k for clauses in on_key.values() for k in clauses)})
        calls = ", ".join(sorted({a.removeprefix("kms:") for a in actions}))
        note = f" (with conditions on {', '.join(other)})" if other else ""
        region = model.stacks[key.stack].region if key.stack in model.stacks else None
        for holder in holders:
            mark = use_verdict(denies[key.key], actions, arn=holder.arn, vias=vias, region=region)
            found.setdefault(key.key, set()).add(f"{holder.label}: {calls}{note}{mark}")

    def scan(stack: str, document: Any, holders: list[_Holder]) -> None:
        if not isinstance(document, Mapping):
            return
        for statement in document.get("Statement", []) or []:
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            actions = [a for a in _actions(statement) if _matches(a, _USE_ACTIONS)]
            if not actions:
                continue
            resources = statement.get("Resource")
            if resources == "*" or (isinstance(resources, list) and "*" in resources):
                # A policy attached to no principal of the templates (a permissions boundary among them, which only
                # limits) grants nothing on `*` there.
                holders = [h for h in holders if h.label != "not attached"]
                for key in keys_:
                    if key.key in open_to_iam and _account(model, key.stack) == _account(model, stack):
                        add(key, holders, actions, statement)
                continue
            for key in model.references(stack, resources):
                if key.type == "AWS::KMS::Key":
                    add(key, holders, actions, statement)

    for policy in model.resources(*_IDENTITY_POLICY_TYPES):
        scan(
            policy.stack,
            policy.prop("PolicyDocument"),
            _policy_holders(model, policy) or [_Holder("not attached", None)],
        )
    for role in model.resources("AWS::IAM::Role"):
        for inline in role.prop("Policies", default=[]) or []:
            if isinstance(inline, Mapping):
                scan(
                    role.stack,
                    inline.get("PolicyDocument"),
                    [_Holder(f"Role {display_name(role)} (inline)", _role_arn(model, role))],
                )
    for grant in model.resources("AWS::KMS::Grant"):
        operations = ", ".join(map(str, grant.prop("Operations", default=[]) or []))
        grantee = model.literal(grant.stack, grant.prop("GranteePrincipal"))
        who = grantee if isinstance(grantee, str) else "grantee resolved at deploy"
        for key in model.references(grant.stack, grant.prop("KeyId")):
            found.setdefault(key.key, set()).add(f"KMS grant to {who}: {operations}")
    return found


# AWS KMS API Reference, "EnableKeyRotation": automatic rotation is supported only on symmetric
# encryption keys (not asymmetric, HMAC, imported-material or custom-key-store keys); the default
# rotation period is 365 days (RotationPeriodInDays, 90-2560).
HMAC_ROTATION = (
    'no automatic rotation (AWS KMS rotates symmetric encryption keys only, "EnableKeyRotation",'
    " AWS KMS API Reference); cryptoperiod one year, the landing zone's choice: an operator adds a new"
    " key version (card_vault.hmac_key_versions [n, n+1], its own key and alias), runs the Keys function's"
    " rehash job (lambda/card_vault/keys.py) until no row is left, then drops the old version, which is"
    ' retained until its deletion is scheduled (README "Card vault key lifecycle and cryptoperiods")'
)


def _cryptoperiod(key: Resource, scope: ScopeModel | None) -> str:
    spec = key.prop("KeySpec")
    if scope is not None and key.key in scope.keyed_hash_keys:
        return HMAC_ROTATION
    if isinstance(spec, str) and spec.startswith("HMAC"):
        return (
            'no automatic rotation (HMAC key, "EnableKeyRotation", AWS KMS API Reference); cryptoperiod: not evidenced'
        )
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return f"no automatic rotation ({spec}); cryptoperiod: not evidenced"
    if key.prop("EnableKeyRotation") is True:
        days = _days(key.prop("RotationPeriodInDays")) or 365
        return f"key material rotated by AWS KMS every {days} days; earlier material still decrypts"
    return "automatic rotation off; cryptoperiod: not evidenced"


# AWS KMS Developer Guide, "Default key policy": the statement giving the account root kms:* lets IAM
# policies of the account grant the key; it is not a grant to the root user alone.
ROOT_STATEMENT = "kms:* to the account: any principal of the account whose IAM policy allows it"


def _rotation_text(key: Resource) -> str:
    """The key's own rotation properties: `EnableKeyRotation` and `RotationPeriodInDays` (default 365; AWS
    KMS API Reference, "EnableKeyRotation"), or the key spec KMS cannot rotate."""
    spec = key.prop("KeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT"):
        return f"not automatic: {spec} (AWS KMS rotates symmetric encryption keys only)"
    if key.prop("EnableKeyRotation") is True:
        days = _days(key.prop("RotationPeriodInDays"))
        return f"automatic, every {days} days (RotationPeriodInDays)" if days else "automatic, every 365 days (default)"
    return "off (EnableKeyRotation not true)"


def _condition_keys(statement: Mapping[str, Any]) -> list[str]:
    condition = statement.get("Condition") or {}
    return sorted({k for c in condition.values() if isinstance(c, Mapping) for k in c})


def _condition_text(statement: Mapping[str, Any]) -> str:
    """`operator key value[, value]` for each condition of a statement, values as the template states them."""
    parts = []
    for operator, clauses in sorted((statement.get("Condition") or {}).items()):
        if not isinstance(clauses, Mapping):
            continue
        for name, value in sorted(clauses.items()):
            values = value if isinstance(value, list) else [value]
            parts.append(f"{operator} {name} {', '.join(_principal_text(v) for v in values)}")
    return "; ".join(parts)


def _deny_text(model: TemplateModel, stack: str, statement: Mapping[str, Any]) -> str:
    """One Deny statement of a key policy: its Sid, the actions, whom it names, the condition under which it
    applies (the statement applies only where its condition holds) and what that condition exempts
    (`deny_exemptions`)."""
    actions = ", ".join(sorted(a.removeprefix("kms:") for a in _actions(statement)))
    who = ", ".join(_principals(statement)) or "no principal"
    when = _condition_text(statement)
    exempt = deny_exemptions(model, stack, statement)
    return (
        f"{statement.get('Sid') or 'Deny'}: denies {actions} to {who}"
        + (f" where {when}" if when else "")
        + (f" (exempt: {'; '.join(exempt)})" if exempt else "")
    )


def _deny_column(denies: list[str], account_wide: bool) -> str:
    text = "; ".join(denies) if denies else "no Deny statement"
    if account_wide:
        text += (
            "; the account-root statement (kms:* for the account) lets any principal of the account whose IAM policy"
            " allows it use the key, beyond those listed, except where a deny above applies (AWS KMS Developer"
            ' Guide, "Default key policy": it enables IAM policies)'
        )
    return text


def _account_limits(model: TemplateModel, key: Resource, denies: Sequence[Mapping[str, Any]]) -> str:
    """For the root kms:* statement: each Deny that refuses an ordinary principal of the account a direct use,
    with what it leaves (its exemptions)."""
    probe = f"arn:aws:iam::{_account(model, key.stack)}:role/any-role-of-the-account"
    limits = []
    for raw, rendered in zip(
        [s for s in _key_statements(key) if s.get("Effect") == "Deny" and not _named_unconditional(s)],
        denies,
        strict=True,
    ):
        verdict = use_verdict([rendered], _CONCRETE_USE, arn=probe)
        if verdict and "not evaluated" not in verdict:
            exempt = deny_exemptions(model, key.stack, raw)
            limits.append(f"{raw.get('Sid') or 'Deny'} leaves only: {'; '.join(exempt) or 'no one'}")
    return f"; limited by {'; '.join(limits)}" if limits else ""


def _principal_items(statement: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(label as `_principals` writes it, kind `AWS`/`Service`/`*`, the raw value) for each principal."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [
        (f"{kind}: {_principal_text(item)}", kind, item)
        for kind, value in sorted(principal.items())
        for item in (value if isinstance(value, list) else [value])
    ]


def keys(model: TemplateModel, scope: ScopeModel | None = None) -> list[list[str]]:
    """Rows: key, stack, rotation, administrators, users (key policy), resources that reference it,
    users by identity policy or grant, cryptoperiod and how the key is rotated, the stores it protects, and
    its Deny statements. A user of the key policy that a conditional Deny refuses reads "refused by SID", one
    left a service route only "through S only (SID refuses direct use)" (`use_verdict`)."""
    rows = []
    by_grant = key_users_by_grant(model)
    scope = ScopeModel(model) if scope is None else scope
    envelope, keyed = scope.envelope_keys, scope.keyed_hash_keys
    for key in model.resources("AWS::KMS::Key"):
        admins: set[str] = set()
        users: set[str] = set()
        denies: list[str] = []
        account_wide = False
        statements = _key_statements(key)
        conditional = _evaluated_denies(model, key, named=False)
        known = _known(model, key.stack)
        region = model.stacks[key.stack].region if key.stack in model.stacks else None
        # Unconditional denies naming a principal (not `*`): what that principal may never do, whatever an
        # allow says (AWS KMS Developer Guide, "Key policies in AWS KMS": an explicit deny overrides any allow).
        denied: dict[str, set[str]] = {}
        for statement in statements:
            if statement.get("Effect") == "Deny" and not statement.get("Condition"):
                for principal in _principals(statement):
                    if principal != "*":
                        denied.setdefault(principal, set()).update(_actions(statement))
        for statement in statements:
            if statement.get("Effect") == "Deny":
                denies.append(_deny_text(model, key.stack, statement))
                continue
            if statement.get("Effect") != "Allow":
                continue
            actions = _actions(statement)
            root_wide = _root_wide(statement)
            account_wide = account_wide or root_wide
            vias = _split_condition(statement)[0]
            for principal, kind, raw in _principal_items(statement):
                refused = denied.get(principal, set())
                admin = [a for a in actions if _matches(a, _ADMIN_ACTIONS) and a not in refused]
                use = [a for a in actions if _matches(a, _USE_ACTIONS) and not any(_matches(d, [a]) for d in refused)]
                label = principal
                if root_wide and principal.endswith(":root"):
                    label += f" ({ROOT_STATEMENT})"
                elif statement.get("Condition"):
                    label += f" (with conditions on {', '.join(_condition_keys(statement))})"
                if refused:
                    label += f" (denied {', '.join(sorted(a.removeprefix('kms:') for a in refused))})"
                if admin:
                    admins.add(label)
                if not use:
                    continue
                if root_wide and principal.endswith(":root"):
                    users.add(label + _account_limits(model, key, conditional))
                    continue
                rendered = render(raw, known)
                arn = (
                    f"arn:aws:iam::{_account(model, key.stack)}:role/any-role-of-the-account"
                    if rendered == "*"
                    else rendered
                )
                users.add(
                    label
                    + use_verdict(
                        conditional,
                        use,
                        arn=None if kind == "Service" else str(arn),
                        service=str(rendered) if kind == "Service" else None,
                        vias=vias,
                        region=region,
                    )
                )
        rotation = _rotation_text(key)
        referrers = sorted({f"{r.type.split('::')[-1]} {display_name(r)}" for r in model.referrers(key)})
        rows.append(
            [
                display_name(key),
                key.stack,
                rotation,
                "; ".join(sorted(admins)) or "-",
                "; ".join(sorted(users)) or "-",
                "; ".join(referrers) or "-",
                "; ".join(sorted(by_grant.get(key.key, set()))) or "none in the templates",
                _cryptoperiod(key, scope),
                _protected_stores(model, key, envelope, keyed),
                _deny_column(denies, account_wide),
            ]
        )
    return sorted(rows)


# The property by which each store type names the key that encrypts it (CloudFormation resource reference of
# each type); a key a store references any other way (a replication destination's key, a policy) is not one
# that protects it.
_KEY_PROPERTIES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "AWS::RDS::DBInstance": (
        (("KmsKeyId",), "storage, automated backups and snapshots"),
        (("PerformanceInsightsKMSKeyId",), "Performance Insights data"),
    ),
    "AWS::RDS::DBCluster": (
        (("KmsKeyId",), "storage, automated backups and snapshots"),
        (("PerformanceInsightsKmsKeyId",), "Performance Insights data"),
    ),
    "AWS::Logs::LogGroup": ((("KmsKeyId",), "log events"),),
    "AWS::SNS::Topic": ((("KmsMasterKeyId",), "messages at rest"),),
    "AWS::SecretsManager::Secret": ((("KmsKeyId",), "secret value"),),
    "AWS::CloudTrail::Trail": ((("KMSKeyId",), "log files, SSE-KMS"),),
    "AWS::DynamoDB::Table": ((("SSESpecification", "KMSMasterKeyId"), "items"),),
    "AWS::EFS::FileSystem": ((("KmsKeyId",), "files"),),
    "AWS::Lambda::Function": ((("KmsKeyArn",), "environment variables at rest"),),
    "AWS::Config::DeliveryChannel": ((("S3KmsKeyArn",), "configuration history and snapshots it delivers"),),
}


def _protected_stores(
    model: TemplateModel,
    key: Resource,
    envelope: Mapping[tuple[str, str], Resource],
    keyed: Mapping[tuple[str, str], Resource],
) -> str:
    """The stores a key protects: those whose encryption property names it (`_KEY_PROPERTIES`, a bucket's
    default SSE-KMS key, the EBS default-key call), each with what the property encrypts, the vault's fields
    when the vault's functions generate data keys under it (`VAULT_KMS_KEY_ID`), and the vault's keyed hash
    when they compute it with the key (a `*HMAC*` variable: the store table cites the same key for `pan_hmac`,
    QSA reader r20c LOW)."""
    found: list[tuple[str, str, str]] = []
    for store in model.referrers(key):
        what = [
            label
            for path, label in _KEY_PROPERTIES.get(store.type, ())
            if any(k.key == key.key for k in model.references(store.stack, store.prop(*path)))
        ]
        if store.type == "AWS::S3::Bucket":
            for rule in store.prop("BucketEncryption", "ServerSideEncryptionConfiguration", default=[]) or []:
                default = (rule or {}).get("ServerSideEncryptionByDefault") or {}
                if any(k.key == key.key for k in model.references(store.stack, default.get("KMSMasterKeyID"))):
                    what.append("objects, SSE-KMS")
        if store.type == "Custom::AWS" and "modifyEbsDefaultKmsKeyId" in json_text(store.prop("Create")):
            what.append(
                "the region's default EBS encryption key, ModifyEbsDefaultKmsKeyId: new volumes and snapshot copies"
            )
        if what:
            found.append((_resource_label(store), store.stack, "; ".join(what)))
    labels = [label for label, _, _ in found]
    found_text = sorted(
        f"{label}{f' in {stack}' if labels.count(label) > 1 else ''} ({what})" for label, stack, what in found
    )
    if key.key in envelope:
        found_text.append(
            "vault.cards PAN and vault.data_keys (envelope: the vault's data keys are generated under it)"
        )
    if key.key in keyed:
        found_text.append(
            "vault.cards pan_hmac (keyed hash of the PAN: the vault's functions compute it with this key)"
        )
    return "; ".join(found_text) or "none in the templates"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def workpapers_markdown(
    model: TemplateModel,
    topology: Topology,
    *,
    aoc_edition: str | None = None,
    aoc_date: str | None = None,
    root: Path | None = None,
) -> list[str]:
    """The work-paper sections of the report (Markdown lines)."""
    return papers_markdown(all_workpapers(model, topology, aoc_edition=aoc_edition, aoc_date=aoc_date, root=root))


# -- the remaining work papers (issue 20): data stores, TLS, logging, software, segmentation,
# responsibility; each also written as CSV and JSON beside the report (`write_workpapers`). ------------
_STORE_TYPES = (
    "AWS::S3::Bucket",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::SecretsManager::Secret",
    "AWS::DynamoDB::Table",
    "AWS::EFS::FileSystem",
    "AWS::Logs::LogGroup",
)
# Amazon S3 User Guide, "Understanding and managing Amazon S3 storage classes": objects in S3 Glacier
# Flexible Retrieval and S3 Glacier Deep Archive must be restored before they can be read; every other
# class (Glacier Instant Retrieval included) is read in milliseconds.
_RESTORE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
IMMEDIATE_DAYS, RETAINED_DAYS = 90, 365  # PCI DSS v4.0.1 10.5.1: 3 months immediately available, 12 retained
UNVERIFIED = "outside the templates: unverified"
TEST_DATE = "test date: not evidenced"
# What the card vault's database holds (lambda/card_vault/migrations/0001_vault_schema.sql, vault.cards).
VAULT_ELEMENTS = (
    "PAN (AES-256-GCM ciphertext, field-level envelope encryption under the cardholder-data key);"
    " PAN keyed hash (HMAC-SHA-256, duplicate detection); cardholder name (AES-256-GCM ciphertext);"
    " first six / last four digits (truncated PAN); expiry month and year; brand."
    " No sensitive authentication data (the API rejects CVV/PIN/track fields)"
)


@dataclass(frozen=True)
class WorkPaper:
    """One work paper: a table with its title, what it states and what it cannot show."""

    slug: str
    title: str
    intro: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    code_columns: frozenset[int] = frozenset()

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


def _days(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _resource_label(resource: Resource) -> str:
    return f"{resource.type.split('::')[-1]} {display_name(resource)}"


def _key_text(model: TemplateModel, resource: Resource, value: Any) -> str:
    """`KMS key <name> (<alias>)` for a key the templates create, the literal ARN/alias otherwise."""
    if value is None:
        return "none"
    key = next((r for r in model.references(resource.stack, value) if r.type == "AWS::KMS::Key"), None)
    if key is None:
        literal = model.literal(resource.stack, value)
        return f"KMS key {literal} ({UNVERIFIED})" if isinstance(literal, str) else "KMS key resolved at deploy"
    aliases = sorted(
        str(a.prop("AliasName"))
        for a in model.referrers(key, "AWS::KMS::Alias")
        if isinstance(a.prop("AliasName"), str)
    )
    return f"KMS key {display_name(key)}" + (f" ({', '.join(aliases)})" if aliases else "")


def _where(model: TemplateModel, resource: Resource) -> str:
    stack = model.stack_of(resource)
    return f"{stack.account}/{stack.region}"


def _bucket_by_name(model: TemplateModel, name: str) -> Resource | None:
    return next((b for b in model.resources("AWS::S3::Bucket") if b.prop("BucketName") == name), None)


def _lifecycle(bucket: Resource) -> tuple[int | None, int | None, list[str]]:
    """(days current objects are kept, days they stay immediately readable, transitions) from the
    bucket's enabled lifecycle rules that apply to every object (no prefix or tag filter)."""
    expiry: int | None = None
    restore_after: int | None = None
    transitions: list[str] = []
    for rule in bucket.prop("LifecycleConfiguration", "Rules", default=[]) or []:
        if not isinstance(rule, Mapping) or rule.get("Status") != "Enabled":
            continue
        if rule.get("Prefix") or (rule.get("TagFilters")) or (rule.get("Filter") or {}).get("Prefix"):
            continue
        days = _days(rule.get("ExpirationInDays"))
        if days is not None:
            expiry = days if expiry is None else min(expiry, days)
        for step in rule.get("Transitions") or []:
            at = _days(step.get("TransitionInDays"))
            transitions.append(f"{step.get('StorageClass')} after {at} days")
            if step.get("StorageClass") in _RESTORE_CLASSES and at is not None:
                restore_after = at if restore_after is None else min(restore_after, at)
    return expiry, restore_after, transitions


def _object_lock(bucket: Resource) -> str | None:
    rule = bucket.prop("ObjectLockConfiguration", "Rule", "DefaultRetention")
    if not isinstance(rule, Mapping):
        return "Object Lock enabled, no default retention" if bucket.prop("ObjectLockEnabled") else None
    period = f"{rule.get('Days')} days" if rule.get("Days") else f"{rule.get('Years')} years"
    return f"Object Lock {rule.get('Mode')} {period} (default retention)"


def _bucket_policy_statements(model: TemplateModel, bucket: Resource) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for policy in model.attached(bucket, "AWS::S3::BucketPolicy", "Bucket"):
        out += [s for s in policy.prop("PolicyDocument", "Statement", default=[]) or [] if isinstance(s, Mapping)]
    return out


def _tls_only(model: TemplateModel, bucket: Resource) -> str:
    statements = _bucket_policy_statements(model, bucket)
    denies_plain = any(
        s.get("Effect") == "Deny" and "aws:SecureTransport" in json_text(s.get("Condition")) for s in statements
    )
    minimum = next(
        (
            str(s["Condition"]["NumericLessThan"]["s3:TlsVersion"])
            for s in statements
            if s.get("Effect") == "Deny" and "s3:TlsVersion" in json_text(s.get("Condition"))
        ),
        None,
    )
    if not denies_plain:
        return "plain HTTP not denied by the bucket policy"
    return f"TLS only (bucket policy), minimum TLS {minimum}" if minimum else "TLS only (bucket policy)"


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _bucket_token(bucket: Resource) -> str:
    """The bucket's name as a selector value holds it: the literal BucketName, else a stand-in naming the resource."""
    name = bucket.prop("BucketName")
    return name if isinstance(name, str) else f"<bucket {bucket.stack}/{bucket.logical_id}>"


def _selector_text(model: TemplateModel, stack: str, value: Any) -> str | None:
    """A selector value as text: a literal, a Join of literals and bucket references (`Ref` is the name,
    `GetAtt Arn` the ARN), pseudo parameters rendered; None when a part is known only at deploy."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        texts = [_selector_text(model, stack, part) for part in parts]
        return None if any(t is None for t in texts) else str(separator).join(t for t in texts if t is not None)
    target = model.target(stack, value)
    if target is not None and target.type == "AWS::S3::Bucket":
        token = _bucket_token(target)
        return f"arn:aws:s3:::{token}" if isinstance(value, Mapping) and "Fn::GetAtt" in value else token
    rendered = render(value)
    return None if has_unresolved(rendered) else str(rendered)


_FIELD_TESTS: dict[str, Callable[[str, list[str]], bool]] = {
    "Equals": lambda v, xs: v in xs,
    "NotEquals": lambda v, xs: v not in xs,
    "StartsWith": lambda v, xs: any(v.startswith(x) for x in xs),
    "NotStartsWith": lambda v, xs: not any(v.startswith(x) for x in xs),
    "EndsWith": lambda v, xs: any(v.endswith(x) for x in xs),
    "NotEndsWith": lambda v, xs: not any(v.endswith(x) for x in xs),
}


def _advanced_selector_covers(
    model: TemplateModel, stack: str, selector: Mapping[str, Any], obj: str
) -> tuple[bool | None, str]:
    """Whether an advanced event selector records data events on the object ARN `obj` (None: a value is known
    only at deploy), and a qualifier ("reads only", "writes only", "some event names"). The fields ANDed, the
    values of one operator ORed ("AdvancedFieldSelector", AWS CloudTrail API Reference)."""
    fields = [f for f in selector.get("FieldSelectors", []) or [] if isinstance(f, Mapping)]
    qualifier = ""
    for field_ in fields:
        name = str(field_.get("Field"))
        for operator, test in _FIELD_TESTS.items():
            if operator not in field_:
                continue
            raw = field_[operator]
            values = [_selector_text(model, stack, v) for v in (raw if isinstance(raw, list) else [raw])]
            if any(v is None for v in values):
                return None, ""
            texts = [v for v in values if v is not None]
            if name == "eventCategory" and not test("Data", texts):
                return False, ""
            if name == "resources.type" and not test("AWS::S3::Object", texts):
                return False, ""
            if name == "resources.ARN" and not test(obj, texts):
                return False, ""
            if name == "readOnly":
                qualifier = "reads only" if test("true", texts) and not test("false", texts) else "writes only"
            if name == "eventName":
                qualifier = "some event names only"
    categories = [f for f in fields if f.get("Field") == "eventCategory"]
    types = [f for f in fields if f.get("Field") == "resources.type"]
    return (bool(categories) and bool(types)), qualifier


def trail_object_coverage(model: TemplateModel, bucket: Resource) -> str:
    """Whether a trail of the templates records object-level (S3 data) events on the bucket, from each trail's
    AdvancedEventSelectors or EventSelectors (DataResources of type AWS::S3::Object, prefix match), its region
    scope (IsMultiRegionTrail) and account (an organization trail records every member account): "object-level
    access recorded by trail T (selector S)", or "not recorded (excluded by the selector S of trail T: reason)"
    with the reason the trail's `pci-lz:selector-exclusions` metadata gives, or "not recorded: no trail's data
    event selector includes it". AWS CloudTrail User Guide, "Logging data events"; a value known only at deploy
    reads "not evidenced"."""
    obj = f"arn:aws:s3:::{_bucket_token(bucket)}/object"
    template = model.stacks.get(bucket.stack)
    recorded: list[str] = []
    excluded: list[str] = []
    unknown: list[str] = []
    for trail in model.resources("AWS::CloudTrail::Trail"):
        trail_stack = model.stacks.get(trail.stack)
        name = display_name(trail)
        if trail.prop("IsOrganizationTrail") is not True and (
            trail_stack is None or template is None or trail_stack.account != template.account
        ):
            continue
        if trail.prop("IsMultiRegionTrail") is not True and (
            trail_stack is None or template is None or trail_stack.region != template.region
        ):
            continue
        reasons = trail.metadata.get(SELECTOR_REASONS_METADATA) or {}
        for selector in trail.prop("AdvancedEventSelectors", default=[]) or []:
            if not isinstance(selector, Mapping):
                continue
            label = str(selector.get("Name") or "unnamed")
            covers, qualifier = _advanced_selector_covers(model, trail.stack, selector, obj)
            s3_selector = "AWS::S3::Object" in json_text(selector)
            if covers is None and s3_selector:
                unknown.append(f"trail {name} (selector {label!r}: a value known only at deploy)")
            elif covers:
                recorded.append(f"trail {name} (selector {label!r}{', ' + qualifier if qualifier else ''})")
            elif s3_selector:
                reason = reasons.get(label) if isinstance(reasons, Mapping) else None
                excluded.append(f"the selector {label!r} of trail {name}" + (f": {reason}" if reason else ""))
        for selector in trail.prop("EventSelectors", default=[]) or []:
            for data in (selector or {}).get("DataResources", []) or []:
                if not isinstance(data, Mapping) or data.get("Type") != "AWS::S3::Object":
                    continue
                values = [_selector_text(model, trail.stack, v) for v in data.get("Values", []) or []]
                if any(v is None for v in values):
                    unknown.append(f"trail {name} (event selector: a value known only at deploy)")
                elif any(obj.startswith(v) for v in values if v is not None):
                    kind = str(selector.get("ReadWriteType") or "All")
                    recorded.append(f"trail {name} (event selector, {kind})")
    if recorded:
        return f"object-level access recorded by {'; '.join(recorded)}"
    if unknown:
        return f"object-level access: not evidenced ({'; '.join(unknown)})"
    if excluded:
        return f"object-level access not recorded (excluded by {'; '.join(excluded)})"
    return "object-level access not recorded: no trail's data event selector includes it"


# -- log sources and their destinations -----------------------------------------------------------------
@dataclass(frozen=True)
class LogFlow:
    source: str
    source_ref: str
    destination: Resource | None
    destination_text: str


def log_flows(model: TemplateModel) -> list[LogFlow]:
    """Every log source the templates configure and where it writes."""
    flows: list[LogFlow] = []

    def ref(resource: Resource) -> str:
        return f"{resource.stack}/{resource.logical_id}"

    def add(source: str, resource: Resource, target: Resource | None, text: str = "") -> None:
        label = f"{_resource_label(target)} ({target.stack})" if target is not None else "?"
        flows.append(LogFlow(source, ref(resource), target, text or label))

    for trail in model.resources("AWS::CloudTrail::Trail"):
        name = f"CloudTrail trail {display_name(trail)}"
        add(name, trail, model.target(trail.stack, trail.prop("S3BucketName")), "")
        group = model.target(trail.stack, trail.prop("CloudWatchLogsLogGroupArn"))
        if group is not None:
            add(name, trail, group)
    for flow_log in model.resources("AWS::EC2::FlowLog"):
        target = model.target(flow_log.stack, flow_log.prop("LogGroupName")) or model.target(
            flow_log.stack, flow_log.prop("LogDestination")
        )
        add(f"VPC flow log ({flow_log.prop('TrafficType')})", flow_log, target)
    for config in model.resources("AWS::NetworkFirewall::LoggingConfiguration"):
        for destination in config.prop("LoggingConfiguration", "LogDestinationConfigs", default=[]) or []:
            where = destination.get("LogDestination") or {}
            target = model.target(config.stack, where.get("logGroup")) or model.target(
                config.stack, where.get("bucketName")
            )
            add(f"Network Firewall {destination.get('LogType', '').lower()} log", config, target)
    groups_by_name: dict[tuple[str, str], Resource] = {}
    for group in model.resources("AWS::Logs::LogGroup"):
        if isinstance(group.prop("LogGroupName"), str):
            groups_by_name[(_where(model, group), str(group.prop("LogGroupName")))] = group

    def named(resource: Resource, name: str) -> Resource | None:
        """A log group by name in the resource's own account and region (names repeat across regions)."""
        return groups_by_name.get((_where(model, resource), name))

    for config in model.resources("AWS::WAFv2::LoggingConfiguration"):
        for arn in config.prop("LogDestinationConfigs", default=[]) or []:
            target = model.target(config.stack, arn)
            if target is None and isinstance(arn, str):
                target = named(config, arn.split(":log-group:", 1)[-1].removesuffix(":*"))
            add("AWS WAF web ACL log", config, target, "" if target else str(arn))
    for balancer in model.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {
            str(a.get("Key")): a.get("Value") for a in balancer.prop("LoadBalancerAttributes", default=[]) or []
        }
        for kind in ("access_logs", "connection_logs"):
            if str(attributes.get(f"{kind}.s3.enabled")) == "true":
                target = model.target(balancer.stack, attributes.get(f"{kind}.s3.bucket"))
                add(f"load balancer {kind.replace('_', ' ')} ({display_name(balancer)})", balancer, target)
    for bucket in model.resources("AWS::S3::Bucket"):
        logging = bucket.prop("LoggingConfiguration")
        if isinstance(logging, Mapping):
            target = model.target(bucket.stack, logging.get("DestinationBucketName"))
            add(f"S3 server access log of {display_name(bucket)}", bucket, target)
        for rule in bucket.prop("ReplicationConfiguration", "Rules", default=[]) or []:
            arn = (rule.get("Destination") or {}).get("Bucket")
            target = model.target(bucket.stack, arn)
            if target is None and isinstance(arn, str):
                target = _bucket_by_name(model, arn.removeprefix("arn:aws:s3:::"))
            add(f"replication of {display_name(bucket)}", bucket, target, "" if target else str(arn))
    for instance in model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        identifier = instance.prop("DBInstanceIdentifier") or instance.prop("DBClusterIdentifier")
        kind = "instance" if instance.type == "AWS::RDS::DBInstance" else "cluster"
        for export in instance.prop("EnableCloudwatchLogsExports", default=[]) or []:
            target = named(instance, f"/aws/rds/{kind}/{identifier}/{export}")
            add(f"RDS {export} log ({display_name(instance)})", instance, target, "" if target else "CloudWatch Logs")
        if _days(instance.prop("MonitoringInterval")):
            target = named(instance, "RDSOSMetrics")  # RDS User Guide, "Setting up Enhanced Monitoring"
            add(
                f"RDS enhanced monitoring ({display_name(instance)})",
                instance,
                target,
                "" if target else "RDSOSMetrics",
            )
    for proxy in model.resources("AWS::RDS::DBProxy"):
        target = named(proxy, f"/aws/rds/proxy/{proxy.prop('DBProxyName')}")
        if target is not None:
            add(f"RDS Proxy log ({display_name(proxy)})", proxy, target)
    for channel in model.resources("AWS::Config::DeliveryChannel"):
        add("AWS Config history and snapshots", channel, model.target(channel.stack, channel.prop("S3BucketName")))
    for function in model.resources("AWS::Lambda::Function"):
        target = model.target(function.stack, function.prop("LoggingConfig", "LogGroup"))
        if target is None:
            name = function.prop("FunctionName")
            target = named(function, f"/aws/lambda/{name}") if isinstance(name, str) else None
        if target is not None:
            add(f"Lambda function {display_name(function)}", function, target)
    for schedule in model.resources("AWS::SecretsManager::RotationSchedule"):
        name = schedule.prop("HostedRotationLambda", "RotationLambdaName")
        target = named(schedule, f"/aws/lambda/{name}") if isinstance(name, str) else None
        if target is not None:
            add(f"hosted rotation function {name}", schedule, target)
    reached = {f.destination.key for f in flows if f.destination is not None}
    for group in model.resources("AWS::Logs::LogGroup"):
        if group.key not in reached:
            writer = "/".join(p for p in group.path.split("/")[1:-1] if p not in ("LogGroup", "Logs")) or group.path
            flows.append(
                LogFlow(f"{writer} (writer named by the construct path)", ref(group), group, _resource_label(group))
            )
    return flows


def _destination_facts(model: TemplateModel, target: Resource | None) -> tuple[str, int | None, int | None, str]:
    """(immutability, retention days (None: never expires), immediately available days, encryption)."""
    if target is None:
        return ("not evidenced", None, None, "not evidenced")
    if target.type == "AWS::Logs::LogGroup":
        days = _days(target.prop("RetentionInDays"))
        return (
            "CloudWatch Logs: no API changes a stored event; deleting the group needs logs:DeleteLogGroup"
            f" (deletion policy {target.deletion_policy or 'Delete'})",
            days,
            days,
            _key_text(model, target, target.prop("KmsKeyId")) if target.prop("KmsKeyId") else "CloudWatch Logs default",
        )
    if target.type == "AWS::S3::Bucket":
        expiry, restore_after, _ = _lifecycle(target)
        parts = [p for p in (_object_lock(target),) if p]
        if target.prop("VersioningConfiguration", "Status") == "Enabled":
            parts.append("versioned (an overwrite keeps the prior version)")
        parts.append(f"deletion policy {target.deletion_policy or 'Delete'}")
        immediate = restore_after if restore_after is not None else expiry
        return ("; ".join(parts), expiry, immediate, _bucket_encryption(model, target))
    return ("not evidenced", None, None, "not evidenced")


def _bucket_encryption(model: TemplateModel, bucket: Resource) -> str:
    rules = bucket.prop("BucketEncryption", "ServerSideEncryptionConfiguration", default=[]) or []
    for rule in rules:
        default = (rule or {}).get("ServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
            return f"SSE-KMS, {_key_text(model, bucket, default.get('KMSMasterKeyID'))}"
        if default.get("SSEAlgorithm") == "AES256":
            return "SSE-S3 (AES-256, S3-managed keys)"
    return "S3 default (SSE-S3)"


def _retention_text(days: int | None, minimum: int) -> str:
    if days is None:
        return "never expires (kept until deleted)"
    flag = "" if days >= minimum else f" (below {minimum} days: flag)"
    return f"{days} days{flag}"


def logging_paper(model: TemplateModel) -> WorkPaper:
    rows = []
    for flow in log_flows(model):
        immutability, retention, immediate, encryption = _destination_facts(model, flow.destination)
        region = model.stacks[flow.source_ref.split("/", 1)[0]].region or "unknown"
        rows.append(
            (
                region,
                flow.source,
                flow.destination_text,
                encryption,
                immutability,
                _retention_text(retention, RETAINED_DAYS),
                _retention_text(immediate, IMMEDIATE_DAYS),
                flow.source_ref,
            )
        )
    return WorkPaper(
        "logging",
        "Logging (10.2.1, 10.3.2, 10.3.3, 10.5.1)",
        "Every log source the templates configure, where it is written, how it is protected from change, how long"
        f" it is kept and how long it stays immediately available (10.5.1: at least {RETAINED_DAYS} days kept,"
        f" the last {IMMEDIATE_DAYS} immediately available; S3 Glacier Flexible Retrieval and Deep Archive"
        " need a restore, so they end the immediately available period). Whether each source is actually"
        " logging after deploy: not evidenced here (the Config rules and a live check show that).",
        (
            "Region",
            "Source",
            "Destination",
            "Encryption",
            "Immutability",
            "Retention",
            "Immediately available",
            "Template",
        ),
        tuple(sorted(rows)),
        frozenset({7}),
    )


# -- data stores -------------------------------------------------------------------------------------
def _vault_regions(model: TemplateModel) -> set[str]:
    return {model.stack_of(f).region or "" for f in model.resources("AWS::Lambda::Function") if _is_vault_function(f)}


def _bucket_purposes(model: TemplateModel) -> dict[tuple[str, str], list[str]]:
    """Store key -> the log sources `log_flows` finds writing to it (buckets and log groups)."""
    purposes: dict[tuple[str, str], list[str]] = {}
    for flow in log_flows(model):
        if flow.destination is not None and flow.destination.type in ("AWS::S3::Bucket", "AWS::Logs::LogGroup"):
            purposes.setdefault(flow.destination.key, []).append(flow.source)
    return purposes


def _log_writers(model: TemplateModel) -> dict[tuple[str, str], list[Resource]]:
    """Log group key -> the resources `log_flows` finds writing to it."""
    writers: dict[tuple[str, str], list[Resource]] = {}
    for flow in log_flows(model):
        if flow.destination is None or flow.destination.type != "AWS::Logs::LogGroup":
            continue
        stack, _, logical_id = flow.source_ref.partition("/")
        writer = model.resource(stack, logical_id)
        if writer is not None:
            writers.setdefault(flow.destination.key, []).append(writer)
    return writers


def data_protection_text(group: Resource) -> str:
    """A log group's CloudWatch Logs data protection policy, read from its `DataProtectionPolicy`: the data
    identifiers each statement names and what it does (Audit: findings reported; Deidentify/MaskConfig: shown
    masked to readers without logs:Unmask, the event itself kept; Amazon CloudWatch Logs User Guide, "Help
    protect sensitive log data with masking"). "none" when the group has no policy."""
    policy = group.prop("DataProtectionPolicy")
    if not isinstance(policy, Mapping):
        return "no data protection policy"
    parts = []
    for statement in policy.get("Statement", []) or []:
        if not isinstance(statement, Mapping):
            continue
        names = sorted(str(i).rsplit("/", 1)[-1] for i in statement.get("DataIdentifier", []) or [])
        operation = statement.get("Operation") or {}
        verbs = []
        if isinstance(operation, Mapping):
            if "Audit" in operation:
                verbs.append("audits")
            if "Deidentify" in operation:
                verbs.append("masks")
        parts.append(f"{' and '.join(verbs) or 'names'} {', '.join(names) or 'no identifier'}")
    text = "; ".join(parts) or "a policy with no statement"
    return f"data protection policy {text} (masked events are kept: logs:Unmask reads them in clear)"


def data_stores_paper(model: TemplateModel) -> WorkPaper:
    rows = []
    vault_regions = _vault_regions(model)
    purposes = _bucket_purposes(model)
    pan_stores = card_data_stores(model)
    writers = _log_writers(model)
    for store in model.resources(*_STORE_TYPES):
        stack = model.stack_of(store)
        region = stack.region or "unknown"
        elements = "no card data: no card-vault function or request log writes here"
        if store.type == "AWS::S3::Bucket":
            written = purposes.get(store.key, [])
            purpose = "logs: " + "; ".join(sorted(set(written))) if written else f"bucket ({store.path})"
            if store.key in pan_stores:
                elements = pan_stores[store.key][1]
            elif written:
                elements = "no card data: written only by " + "; ".join(sorted(set(written)))
            expiry, _restore_after, transitions = _lifecycle(store)
            retention = _retention_text(expiry, RETAINED_DAYS) + (f"; {', '.join(transitions)}" if transitions else "")
            lock = _object_lock(store)
            retention += f"; {lock}" if lock else ""
            public = store.prop("PublicAccessBlockConfiguration") or {}
            blocked = all(
                public.get(k)
                for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
            )
            protection = "; ".join(
                [
                    _bucket_encryption(model, store),
                    _tls_only(model, store),
                    "all public access blocked" if blocked else "public access not fully blocked",
                ]
            )
            logging = store.prop("LoggingConfiguration")
            access = []
            if isinstance(logging, Mapping):
                target = model.target(store.stack, logging.get("DestinationBucketName"))
                access.append(f"server access logs to {display_name(target) if target else 'a bucket'}")
            access.append(trail_object_coverage(model, store))
            access_text = "; ".join(access) or "none in the templates"
        elif store.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
            vault = region in vault_regions
            purpose = "card vault store (vault.cards, vault.data_keys)" if vault else "CDE database (no workload here)"
            elements = VAULT_ELEMENTS if vault else "none written by the templates; a workload may add card data"
            backups = store.prop("BackupRetentionPeriod")
            retention = (
                "cards until the vault's daily purge deletes those past expiry plus the grace period"
                if vault
                else "until the application deletes it"
            ) + f"; automated backups {backups} days; deletion policy {store.deletion_policy or 'Delete'}"
            encrypted = store.prop("StorageEncrypted") or store.prop("KmsKeyId") is not None
            protection = "; ".join(
                [
                    f"storage encrypted, {_key_text(model, store, store.prop('KmsKeyId'))}"
                    if encrypted
                    else "storage NOT encrypted",
                    "not publicly accessible" if not store.prop("PubliclyAccessible") else "PUBLICLY ACCESSIBLE",
                    "IAM database authentication" if store.prop("EnableIAMDatabaseAuthentication") else "password auth",
                    "deletion protection" if store.prop("DeletionProtection") else "no deletion protection",
                ]
            )
            exports = store.prop("EnableCloudwatchLogsExports", default=[]) or []
            access_text = (
                f"engine logs exported ({', '.join(exports)}); connections and disconnections per the parameter"
                " group (TLS work paper)"
                if exports
                else "no engine log export"
            )
        elif store.type == "AWS::SecretsManager::Secret":
            description = store.prop("Description")
            attached = [
                target
                for attachment in model.referrers(store, "AWS::SecretsManager::SecretTargetAttachment")
                if (target := model.target(attachment.stack, attachment.prop("TargetId"))) is not None
            ]
            if isinstance(description, str):
                purpose = description
            elif attached:
                purpose = "master credentials of " + ", ".join(_resource_label(t) for t in attached)
            else:
                purpose = f"secret ({store.path})"
            if "HMAC" in str(description):
                elements = "the keyed-hash key (3.5.1.1), no card data"
            rotations = list(model.referrers(store, "AWS::SecretsManager::RotationSchedule")) + [
                r
                for attachment in model.referrers(store, "AWS::SecretsManager::SecretTargetAttachment")
                for r in model.referrers(attachment, "AWS::SecretsManager::RotationSchedule")
            ]
            every = next(
                (
                    r.prop("RotationRules", "ScheduleExpression") or r.prop("RotationRules", "AutomaticallyAfterDays")
                    for r in rotations
                ),
                None,
            )
            retention = f"until deleted; rotated {every}" if every else "until deleted; not rotated by the templates"
            retention += f"; deletion policy {store.deletion_policy or 'Delete'}"
            protection = f"encrypted, {_key_text(model, store, store.prop('KmsKeyId'))}"
            access_text = (
                "CloudTrail management events (GetSecretValue)"
                if any(True for _ in model.resources("AWS::CloudTrail::Trail"))
                else "no trail in these templates"
            )
        elif store.type == "AWS::Logs::LogGroup":
            written = purposes.get(store.key, [])
            purpose = "logs: " + "; ".join(sorted(set(written))) if written else f"log group ({store.path})"
            retention = _retention_text(_days(store.prop("RetentionInDays")), RETAINED_DAYS)
            retention += f"; deletion policy {store.deletion_policy or 'Delete'}"
            by = writers.get(store.key, [])
            if store.key in pan_stores:
                elements = pan_stores[store.key][1]
            elif by and all(_is_vault_function(w) for w in by):
                elements = MASKED_LOGS
            elif written:
                elements = "no card data: written only by " + "; ".join(sorted(set(written)))
            else:
                elements = "not evidenced: no writer found in the templates"
            key = store.prop("KmsKeyId")
            protection = "; ".join(
                [
                    _key_text(model, store, key)
                    if key is not None
                    else "CloudWatch Logs default encryption (no KMS key)",
                    data_protection_text(store),
                ]
            )
            # "Logging CloudWatch Logs API and console operations in AWS CloudTrail" (Amazon CloudWatch Logs User
            # Guide): CloudTrail records CloudWatch Logs API calls; which read calls a trail records is not stated
            # by the templates.
            access_text = (
                "CloudTrail management events (CloudWatch Logs API calls); the reads a trail records: not evidenced"
                if any(True for _ in model.resources("AWS::CloudTrail::Trail"))
                else "no trail in these templates"
            )
        else:
            purpose = store.path
            retention = f"deletion policy {store.deletion_policy or 'Delete'}"
            protection = "see the template"
            access_text = "not evidenced"
        rows.append(
            (
                region,
                _resource_label(store),
                store.stack,
                purpose,
                retention,
                elements,
                protection,
                access_text,
                f"{store.stack}/{store.logical_id}",
            )
        )
    return WorkPaper(
        "data-stores",
        "Data stores (3.2.1, 3.5.1, 10.2.1)",
        "Every store the templates create (buckets, databases, secrets, log groups): what it holds, how long,"
        " which card-data elements (a log group that may receive a card number with its data protection policy),"
        " how it is protected and how access to it is logged. The stores' actual contents (3.5.1.b examines"
        " them) and data written outside the templates: not evidenced.",
        (
            "Region",
            "Store",
            "Stack",
            "Purpose",
            "Retention",
            "Card-data elements",
            "Protection",
            "Access logging",
            "Template",
        ),
        tuple(sorted(rows)),
        frozenset({8}),
    )


# -- TLS ---------------------------------------------------------------------------------------------
def _certificate_source(model: TemplateModel, listener: Resource) -> str:
    sources = []
    for certificate in listener.prop("Certificates", default=[]) or []:
        value = (certificate or {}).get("CertificateArn")
        created = model.target(listener.stack, value)
        if created is not None and created.type == "AWS::CertificateManager::Certificate":
            sources.append(
                f"ACM certificate created by the templates ({created.prop('ValidationMethod') or 'DNS'} validation)"
            )
        else:
            literal = model.literal(listener.stack, value)
            sources.append(f"ACM certificate {literal} ({UNVERIFIED})" if literal else "certificate resolved at deploy")
    return "; ".join(sources) or "none"


def _trust_store(model: TemplateModel, listener: Resource) -> str:
    mutual = listener.prop("MutualAuthentication")
    if not isinstance(mutual, Mapping) or mutual.get("Mode") in (None, "off"):
        return "none (no client certificates)"
    store = model.target(listener.stack, mutual.get("TrustStoreArn"))
    text = f"mTLS mode {mutual.get('Mode')}"
    if store is not None:
        key = store.prop("CaCertificatesBundleS3Key")
        text += (
            f"; trust store {display_name(store)}, CA bundle s3://{store.prop('CaCertificatesBundleS3Bucket')}/{key}"
        )
        if isinstance(key, str):
            asset = key.split(".", 1)[0][:12]
            text += f" (CDK asset {asset}…: the configured client CA bundle; the CA's issuance: {UNVERIFIED})"
        text += "; " + _client_revocation(model, store)
    if mutual.get("IgnoreClientCertificateExpiry"):
        text += "; EXPIRED CLIENT CERTIFICATES ACCEPTED"
    return text


def _client_revocation(model: TemplateModel, store: Resource) -> str:
    """How the trust store checks client certificate revocation: the CRL object versions its
    `TrustStoreRevocation`s add, else the waiver the trust store's metadata records
    (`REVOCATION_WAIVER_METADATA`, pci_constructs/client_trust_store.py), else that nothing says.
    ELB checks revocation only against the CRLs added to the trust store ("Mutual authentication with TLS
    in Application Load Balancer", certificate revocation)."""
    crls = [
        f"s3://{content.get('S3Bucket')}/{content.get('S3Key')}@{content.get('S3ObjectVersion') or 'latest'}"
        for revocation in model.resources("AWS::ElasticLoadBalancingV2::TrustStoreRevocation")
        if revocation.stack == store.stack
        and (target := model.target(revocation.stack, revocation.prop("TrustStoreArn"))) is not None
        and target.key == store.key
        for content in revocation.prop("RevocationContents", default=[]) or []
        if isinstance(content, Mapping)
    ]
    if crls:
        return f"client certificate revocation: CRL {', '.join(sorted(crls))}"
    waiver = store.metadata.get(REVOCATION_WAIVER_METADATA)
    if isinstance(waiver, Mapping):
        return (
            f"client certificate revocation: not checked: waived by {waiver.get('owner')}, approved by"
            f" {waiver.get('approver')} on {waiver.get('approval_date')}, ticket {waiver.get('ticket')}, review by"
            f" {waiver.get('review_by')}: {waiver.get('reason')}"
        )
    return "client certificate revocation: NOT CHECKED (no CRL, no waiver recorded)"


def tls_paper(model: TemplateModel) -> WorkPaper:
    rows = []
    for listener in model.resources("AWS::ElasticLoadBalancingV2::Listener"):
        actions = listener.prop("DefaultActions", default=[]) or []
        redirect = next((a.get("RedirectConfig") for a in actions if a.get("Type") == "redirect"), None)
        redirect_text = (
            f"redirects to {redirect.get('Protocol')}:{redirect.get('Port')} ({redirect.get('StatusCode')})"
            if isinstance(redirect, Mapping)
            else "-"
        )
        protocol = str(listener.prop("Protocol"))
        encrypted = protocol in ("HTTPS", "TLS")
        rows.append(
            (
                model.stack_of(listener).region or "unknown",
                f"listener {display_name(listener)}",
                f"{protocol} {listener.prop('Port')}",
                str(listener.prop("SslPolicy") or ("ELB default policy" if encrypted else "- (no TLS)")),
                _certificate_source(model, listener) if encrypted else "-",
                redirect_text if not encrypted else "-",
                _trust_store(model, listener) if encrypted else "-",
                f"{listener.stack}/{listener.logical_id}",
            )
        )
    for proxy in model.resources("AWS::RDS::DBProxy"):
        rows.append(
            (
                model.stack_of(proxy).region or "unknown",
                f"RDS Proxy {display_name(proxy)}",
                f"{proxy.prop('EngineFamily')} (5432)"
                if proxy.prop("EngineFamily") == "POSTGRESQL"
                else str(proxy.prop("EngineFamily")),
                "TLS required (RequireTLS)" if proxy.prop("RequireTLS") else "TLS NOT required",
                "AWS-managed proxy certificate (Amazon root CAs)",
                "-",
                f"client auth: {proxy.prop('DefaultAuthScheme') or 'secrets'}",
                f"{proxy.stack}/{proxy.logical_id}",
            )
        )
    for group in model.resources("AWS::RDS::DBParameterGroup", "AWS::RDS::DBClusterParameterGroup"):
        parameters = group.prop("Parameters") or {}
        if not isinstance(parameters, Mapping):
            continue
        force = parameters.get("rds.force_ssl")
        rows.append(
            (
                model.stack_of(group).region or "unknown",
                f"database parameter group {display_name(group)}",
                f"{group.prop('Family')} engine connections",
                f"rds.force_ssl={force if force is not None else 'unset'};"
                f" ssl_min_protocol_version={parameters.get('ssl_min_protocol_version', 'unset')}",
                "RDS certificate authority (the instance's CACertificateIdentifier)",
                "-",
                "-",
                f"{group.stack}/{group.logical_id}",
            )
        )
    for bucket in model.resources("AWS::S3::Bucket"):
        rows.append(
            (
                model.stack_of(bucket).region or "unknown",
                f"S3 bucket {display_name(bucket)}",
                "HTTPS (S3 API)",
                _tls_only(model, bucket),
                "AWS-managed S3 certificate",
                "-",
                "-",
                f"{bucket.stack}/{bucket.logical_id}",
            )
        )
    return WorkPaper(
        "tls",
        "TLS (4.2.1, 4.2.1.1)",
        "Every TLS endpoint the templates configure: listener, policy, certificate source, redirects and the"
        " mutual-TLS trust store. Certificates and CAs the templates only reference are outside the templates"
        " and unverified; the inventory of trusted keys and certificates (4.2.1.1) must cover them.",
        (
            "Region",
            "Endpoint",
            "Protocol and port",
            "Policy",
            "Certificate source",
            "Redirect",
            "mTLS trust store",
            "Template",
        ),
        tuple(sorted(rows)),
        frozenset({7}),
    )


# -- software -----------------------------------------------------------------------------------------
def _function_sbom(function: Resource, root: Path, sharing: Mapping[str, Sequence[str]] | None = None) -> str:
    """The function's SBOM as `make audit` names it (`sbom_label`, shared with ci_tools/supply_chain.py), from
    the requirements file the template's metadata records (`SBOM_SOURCE_METADATA`, written by the bundler);
    "missing" when the template records none (CDK's own providers, a function bundled another way) or the
    file is not in the tree, so `make audit` builds no SBOM for it."""
    source = function.metadata.get(SBOM_SOURCE_METADATA)
    if not isinstance(source, str) or not (root / source).is_file():
        return "missing"
    # The SBOM is of a requirements file, not of one function: a function bundled with another's dependency set
    # (the Keys job with detokenize's) is named beside it, not credited with an SBOM of its own (QSA reader r20c).
    shared = [name for name in (sharing or {}).get(source, ()) if name != display_name(function)]
    return (
        f"sbom/{sbom_label(source)}.cdx.json: written by `make audit`, not in this set; the dependencies of {source}"
        + (f", the same set bundled into {', '.join(shared)}" if shared else "")
    )


# How the software paper's code digest of an asset directory is computed, so an assessor can repeat it.
CODE_DIGEST_RULE = (
    "the SHA-256 of the `sha256sum` listing of every file of the built asset directory, sorted by path:"
    " `cd cdk.out/asset.<hash> && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum"
    " | sha256sum` (the CLI zips that directory when it publishes the asset)"
)


def directory_digest(directory: Path) -> str:
    """CODE_DIGEST_RULE: SHA-256 over "<sha256>  <relative path>\\n" of every file, sorted by path bytes.
    os.scandir and plain strings: the vault's bundles hold ~2,000 files, and pathlib's per-file objects cost
    more CPU than hashing their 80 MB (SHA-256 runs at ~1.7 GB/s with the CPU's SHA extensions)."""
    import hashlib
    import os

    files: list[tuple[bytes, str]] = []
    # os.scandir's entries carry their type, so no file costs a stat of its own; as `find -type f` (and
    # os.walk with isfile) it lists regular files and links to them, and does not descend linked directories.
    folders = [(str(directory), "")]
    while folders:
        folder, relative = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if not entry.is_symlink():
                        folders.append((entry.path, f"{relative}{entry.name}/"))
                elif entry.is_file():
                    files.append((f"{relative}{entry.name}".encode(), entry.path))
    listing = hashlib.sha256()
    for listed, path in sorted(files):
        with open(path, "rb") as handle:
            listing.update(hashlib.file_digest(handle, "sha256").hexdigest().encode() + b"  " + listed + b"\n")
    return listing.hexdigest()


class _AssetFiles:
    """The built asset of a CDK asset hash, from the asset manifests beside each stack's template."""

    def __init__(self, model: TemplateModel) -> None:
        self.model = model
        self._sources: dict[Path, dict[str, Path]] = {}
        self._digests: dict[Path, str] = {}

    def _directory_sources(self, directory: Path) -> dict[str, Path]:
        if directory not in self._sources:
            import json

            found: dict[str, Path] = {}
            for manifest in sorted(directory.glob("*.assets.json")):
                for asset_hash, body in (json.loads(manifest.read_text(encoding="utf-8")).get("files") or {}).items():
                    source = (body.get("source") or {}).get("path")
                    if isinstance(source, str):
                        found[asset_hash] = directory / source
            self._sources[directory] = found
        return self._sources[directory]

    def digest(self, stack: str, asset_hash: str) -> tuple[str, str] | None:
        """(sha256, what was hashed) of the asset as cdk.out holds it, or None when it is not there."""
        path = self.model.stacks[stack].template_path
        if path is None:
            return None
        source = self._directory_sources(Path(path).parent).get(asset_hash)
        if source is None or not source.exists():
            return None
        if source not in self._digests:
            if source.is_dir():
                self._digests[source] = directory_digest(source)
            else:
                import hashlib

                with source.open("rb") as handle:
                    self._digests[source] = hashlib.file_digest(handle, "sha256").hexdigest()
        kind = "built asset directory" if source.is_dir() else "asset file"
        return self._digests[source], f"{kind} {source.name}"


def software_paper(model: TemplateModel, root: Path) -> WorkPaper:
    import hashlib

    rows = []
    assets = _AssetFiles(model)
    sharing: dict[str, list[str]] = {}
    for function in model.resources("AWS::Lambda::Function"):
        source = function.metadata.get(SBOM_SOURCE_METADATA)
        if isinstance(source, str) and display_name(function) not in sharing.get(source, []):
            sharing.setdefault(source, []).append(display_name(function))
    for function in model.resources("AWS::Lambda::Function"):
        code = function.prop("Code") or {}
        key = code.get("S3Key") if isinstance(code, Mapping) else None
        if isinstance(code, Mapping) and isinstance(code.get("ZipFile"), str):
            digest = f"inline code sha256:{hashlib.sha256(code['ZipFile'].encode()).hexdigest()}"
        elif isinstance(key, str) and re.fullmatch(r"[0-9a-f]{64}\.(zip|jar)", key):
            asset_hash = key.split(".", 1)[0]
            built = assets.digest(function.stack, asset_hash)
            digest = (
                f"sha256:{built[0]} ({built[1]}); CDK asset {asset_hash}"
                if built is not None
                else f"code not in the assembly: not evidenced; CDK asset {asset_hash}"
            )
        elif isinstance(code, Mapping) and code.get("ImageUri"):
            digest = f"container image {model.literal(function.stack, code['ImageUri']) or 'resolved at deploy'}"
        else:
            digest = "not evidenced (code resolved at deploy)"
        sbom = _function_sbom(function, root, {k: sorted(v) for k, v in sharing.items()})
        description = function.prop("Description")
        rows.append(
            (
                model.stack_of(function).region or "unknown",
                f"Lambda {display_name(function)}",
                description if isinstance(description, str) else f"{function.prop('Handler')} ({function.path})",
                str(function.prop("Runtime") or "container image"),
                digest,
                sbom,
                f"{function.stack}/{function.logical_id}",
            )
        )
    for schedule in model.resources("AWS::SecretsManager::RotationSchedule"):
        hosted = schedule.prop("HostedRotationLambda")
        if isinstance(hosted, Mapping):
            rows.append(
                (
                    model.stack_of(schedule).region or "unknown",
                    f"hosted rotation {hosted.get('RotationLambdaName')}",
                    f"Secrets Manager hosted rotation ({hosted.get('RotationType')}), an AWS-published application",
                    f"AWS-chosen ({UNVERIFIED})",
                    f"AWS Serverless Application Repository code ({UNVERIFIED})",
                    "missing",
                    f"{schedule.stack}/{schedule.logical_id}",
                )
            )
    for database in model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        rows.append(
            (
                model.stack_of(database).region or "unknown",
                f"{database.type.split('::')[-1]} {display_name(database)}",
                "managed database engine",
                f"{database.prop('Engine')} {database.prop('EngineVersion')}"
                + ("; minor versions upgraded automatically" if database.prop("AutoMinorVersionUpgrade") else ""),
                "AWS-managed engine build (not evidenced)",
                "missing (managed service)",
                f"{database.stack}/{database.logical_id}",
            )
        )
    return WorkPaper(
        "software",
        "Software (6.3.2, 6.3.3)",
        "Every piece of code the templates deploy: what it does, its runtime, the SHA-256 of its code as the"
        f" assembly holds it ({CODE_DIGEST_RULE}) beside the CDK asset hash (the S3 object name the function's"
        " code is read from; for the vault's functions a hash of the bundle's inputs), and its software bill of"
        " materials: `make audit` writes a CycloneDX SBOM for each"
        " `lambda/<name>/requirements.txt` into its own `sbom/` directory, not part of this evidence set (not in"
        ' its MANIFEST); "missing" where no SBOM source is known. An SBOM is of a dependency set: functions'
        " bundled with the same set are named together. Vulnerability status: `make audit`.",
        ("Region", "Component", "Function", "Runtime", "Code SHA-256", "SBOM", "Template"),
        tuple(sorted(rows)),
        frozenset({6}),
    )


# -- segmentation --------------------------------------------------------------------------------------
def _cde_accounts(model: TemplateModel) -> set[str]:
    return {
        model.stack_of(r).account or ""
        for r in model.resources("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::Lambda::Function")
        if r.type != "AWS::Lambda::Function" or _is_vault_function(r)
    }


INTERNET_ZONE = "internet"
# PCI DSS v4.0.1 1.4.x: the internet is an untrusted network (a network outside the entity's control), not an
# "out-of-scope" system set; 11.4.5 tests isolation of the CDE from both.
UNTRUSTED = "untrusted network"
UNATTACHED = "attached to nothing in these templates"
# What the paper cannot do: it is a plan and template evidence. PCI DSS v4.0.1 11.4.5 (and 11.4.6 for service
# providers) asks a penetration test of the segmentation controls in use, by the entity's methodology, by a
# qualified and organizationally independent tester, confirming they isolate the CDE from all out-of-scope
# systems.
DEPLOYED_TEST = (
    "a test of the deployed network must still: from a host in each out-of-scope set listed here and from the"
    " internet, attempt every TCP and UDP port and ICMP towards every CDE subnet and component (not only the"
    " ports the templates allow) and confirm that only the listed traffic passes; confirm the deployed security"
    " groups, NACLs, routes, peering, transit-gateway and VPN attachments match these templates (nothing added"
    " outside them) and that no network interface uses a group attached to nothing here; be performed by a"
    " qualified, organizationally independent tester under the entity's penetration-testing methodology, at"
    " least every 12 months and after any change to a segmentation control (every 6 months for service"
    " providers, 11.4.6), with its date and result recorded"
)


def _zone_of_cidr(regional: RegionTopology, cidr: str | None) -> set[str]:
    """The tiers (or the internet) a CIDR covers or lies in."""
    if cidr is None:
        return set()
    if cidr in ANYWHERE:
        return {INTERNET_ZONE, *(s.tier for s in regional.subnets)}
    tiers = {s.tier for s in regional.subnets if s.cidr and (in_cidr(s.cidr, cidr) or in_cidr(cidr, s.cidr))}
    inside = any(isinstance(v.prop("CidrBlock"), str) and in_cidr(cidr, v.prop("CidrBlock")) for v in regional.vpcs)
    return tiers if inside else {INTERNET_ZONE}


def cde_tiers(regional: RegionTopology, scope: ScopeModel) -> list[str]:
    """The tiers inside the CDE boundary: tagged pci-scope=cde, or hosting a CDE component (the vault's
    functions, the load balancer that terminates card-data TLS, an endpoint the PAN passes: `ScopeModel.hosted`)."""
    return [
        t
        for t in regional.tiers
        if regional.is_cde_tier(t) or any(s.resource.key in scope.hosted for s in regional.tier_subnets(t))
    ]


def boundary_rows(regional: RegionTopology, scope: ScopeModel) -> list[tuple[str, ...]]:
    """One row per edge of the CDE: between each CDE tier (`cde_tiers`) and each zone outside the boundary (the
    internet, every connected-to tier), with the NACLs on both sides and the security groups whose rules cross
    it, each with what it lets through. Two CDE tiers share no CDE edge: the boundary is not between them."""
    inside = cde_tiers(regional, scope)
    if not inside:
        return []
    outside = [INTERNET_ZONE, *(t for t in regional.tiers if t not in inside)]
    tier_of_subnet = {s.resource.key: s.tier for s in regional.subnets}
    group_zones = {
        key: {tier_of_subnet[sub.key] for m in members for sub in m.subnets if sub.key in tier_of_subnet}
        for key, members in regional.members.items()
    }
    cidr_zones: dict[str | None, set[str]] = {}

    def zones_of(cidr: str | None) -> set[str]:
        if cidr not in cidr_zones:
            cidr_zones[cidr] = _zone_of_cidr(regional, cidr)
        return cidr_zones[cidr]

    crossing = []  # (rule, zones of its group, zones of its peer)
    for rule in regional.sg_rules:
        if rule.allows_nothing:
            continue
        if rule.peer_group is not None:
            there = group_zones.get(rule.peer_group.key, set())
        elif rule.peer_cidr in ANYWHERE:  # a rule for the internet, not a path between tiers
            there = {INTERNET_ZONE}
        else:
            there = zones_of(rule.peer_cidr)
        crossing.append((rule, group_zones.get(rule.group.key, set()), there))
    acl_of_tier: dict[str, dict[tuple[str, str], Resource]] = {}
    for subnet in regional.subnets:
        if subnet.network_acl is not None:
            acl_of_tier.setdefault(subnet.tier, {})[subnet.network_acl.key] = subnet.network_acl
    entries_of: dict[tuple[str, str], list[AclEntry]] = {}
    for entry in regional.acl_entries:
        entries_of.setdefault(entry.acl.key, []).append(entry)
    rows: list[tuple[str, ...]] = []
    for cde_tier in inside:
        for other in outside:
            acl_text = []
            for tier, peer_tier in ((cde_tier, other), (other, cde_tier)):
                for acl in acl_of_tier.get(tier, {}).values():
                    entries = [e for e in entries_of.get(acl.key, []) if peer_tier in zones_of(e.cidr)]
                    allowed = "; ".join(e.text for e in entries) or "no entry for it (default deny)"
                    acl_text.append(f"NACL {display_name(acl)} ({tier} tier): {allowed}")
            sg_text = {
                f"SG {display_name(rule.group)}: {rule.protocol} {'to' if rule.egress else 'from'} {_peer(rule)}"
                for rule, here, there in crossing
                if (cde_tier in here and other in there) or (other in here and cde_tier in there)
            }
            rows.append(
                (
                    regional.region,
                    f"boundary {cde_tier} tier (CDE) / {other}"
                    + (" tier (connected-to)" if other != INTERNET_ZONE else f" ({UNTRUSTED})"),
                    "; ".join(acl_text) or "no NACL",
                    "; ".join(sorted(sg_text)) or "no security-group rule crosses it",
                    f"from the {other} side, only the listed traffic reaches the {cde_tier} tier, and back (11.4.5)",
                    TEST_DATE,
                )
            )
    return rows


def _vpc_cidr(model: TemplateModel, vpc: Resource) -> str | None:
    cidr = model.literal(vpc.stack, vpc.prop("CidrBlock"))
    return cidr if isinstance(cidr, str) else None


def _overlaps(a: str, b: str) -> bool:
    return in_cidr(a, b) or in_cidr(b, a)


def _paths_towards_cde(regional: RegionTopology, inside: list[str], cidrs: list[str]) -> list[str]:
    """What in the templates lets traffic from `cidrs` (an out-of-scope network's addresses; empty when unknown)
    towards the CDE tiers `inside`: routes of the CDE route tables that leave the VPC other than to the internet
    edge and the egress firewall (peering, transit gateway, virtual private gateway, other), and the CDE tiers'
    NACL entries and CDE-attached security-group rules admitting those addresses (those for the whole internet
    are the internet row's: a network outside the VPC reaches them as the internet does)."""
    subnets = [s for s in regional.subnets if s.tier in inside]
    tables = {s.route_table.key for s in subnets if s.route_table is not None}
    found = [
        f"route {r.destination} -> {r.target_kind} ({display_name(r.route_table)})"
        for r in regional.routes
        if r.route_table.key in tables
        and r.target_kind in {"peering", "transit-gateway", "virtual-private-gateway", "other"}
    ]
    acls = {s.network_acl.key for s in subnets if s.network_acl is not None}
    tier_of = {s.resource.key: s.tier for s in regional.subnets}
    cde_groups = {
        key
        for key, members in regional.members.items()
        if any(tier_of.get(sub.key) in inside for m in members for sub in m.subnets)
    }
    for cidr in cidrs:
        found += [
            f"NACL {display_name(e.acl)} {e.text}"
            for e in regional.acl_entries
            if e.acl.key in acls and e.allow and not e.egress and e.cidr not in ANYWHERE and _overlaps(e.cidr, cidr)
        ]
        found += [
            f"SG {display_name(r.group)}: {r.protocol} from {_peer(r)}"
            for r in regional.sg_rules
            if r.group.key in cde_groups
            and not r.egress
            and r.peer_cidr is not None
            and r.peer_cidr not in ANYWHERE
            and _overlaps(r.peer_cidr, cidr)
        ]
    return list(dict.fromkeys(found))


def _out_of_scope_rows(
    model: TemplateModel, topology: Topology, scope: ScopeModel, outside: TemplateModel | None
) -> list[tuple[str, ...]]:
    """One row per out-of-scope network or system set the templates show, with the checks from it towards the
    CDE (QSA reader r20b, finding 6): the internet (an untrusted network), every VPC of the templates with no
    CDE tier, and the other environments of the configuration (`outside`: the stacks of the same synth that are
    not this set's, such as the delivery's tooling account and the other stages)."""
    rows: list[tuple[str, ...]] = []
    for region, regional in topology.regions.items():
        inside = cde_tiers(regional, scope)
        if not inside:
            continue
        admitted = sorted(
            {
                f"SG {display_name(r.group)}: {r.protocol} from {_peer(r)}"
                for r in regional.sg_rules
                if not r.egress and r.peer_cidr in ANYWHERE and regional.members.get(r.group.key)
            }
        )
        gateways = ", ".join(display_name(g) for g in regional.internet_gateways) or "none"
        rows.append(
            (
                region,
                f"internet ({UNTRUSTED}, 1.4.1): internet gateways {gateways}",
                f"CDE tiers ({', '.join(inside)}) from an {UNTRUSTED}",
                "inbound from anywhere: " + ("; ".join(admitted) or "no security-group rule admits it"),
                "from the internet, only the listed traffic reaches the CDE (the load balancer's listener), and"
                " nothing reaches the tiers without an internet route (1.4.2, 11.4.5)",
                TEST_DATE,
            )
        )
        cde_vpcs = {s.vpc.key for s in regional.subnets if s.tier in inside and s.vpc is not None}
        for vpc in regional.vpcs:
            if vpc.key in cde_vpcs:
                continue
            cidr = _vpc_cidr(model, vpc)
            paths = _paths_towards_cde(regional, inside, [cidr] if cidr else [])
            rows.append(
                (
                    region,
                    f"VPC {display_name(vpc)} ({cidr or 'CIDR resolved at deploy'}, no CDE tier)",
                    "out-of-scope network",
                    (
                        "; ".join(paths)
                        or "no peering, transit-gateway or VPN route, NACL entry or security-group rule"
                        " of the CDE admits it in the templates"
                    )
                    + "; otherwise it reaches the CDE only as the internet does (the internet row)",
                    "no connection from this VPC reaches the CDE (11.4.5)",
                    TEST_DATE,
                )
            )
    for name, stacks in _environments(outside):
        accounts = sorted({s.account or "account resolved at deploy" for s in stacks})
        own = TemplateModel(stacks)
        cidrs = sorted({c for v in own.resources("AWS::EC2::VPC") if (c := _vpc_cidr(own, v))})
        checks = []
        for region, regional in topology.regions.items():
            inside = cde_tiers(regional, scope)
            mine = [r for r in regional.vpcs if (c := _vpc_cidr(model, r)) and any(_overlaps(c, o) for o in cidrs)]
            paths = _paths_towards_cde(regional, inside, cidrs) if inside else []
            routes = [p for p in paths if p.startswith("route ")]
            others = [p for p in paths if not p.startswith("route ")]
            if routes:
                checks.append(f"{region}: " + "; ".join(routes))
            elif others and mine:
                checks.append(
                    f"{region}: its VPC addresses overlap this environment's own ({', '.join(cidrs)}), so the CDE's"
                    " rules for them cannot tell the two apart; no peering, transit-gateway or VPN route of the CDE"
                    " reaches it (overlapping VPCs cannot be peered)"
                )
            elif others:
                checks.append(f"{region}: " + "; ".join(others))
        rows.append(
            (
                "-",
                f"environment {name} (account {', '.join(accounts)}"
                + (f"; VPC {', '.join(cidrs)}" if cidrs else "; no VPC")
                + ")",
                TOOLING_CATEGORY if name == TOOLING else OTHER_ENVIRONMENT,
                (
                    "; ".join(checks)
                    or "no peering, transit-gateway or VPN route, NACL entry or security-group rule of"
                    " the CDE admits it in the templates"
                )
                + "; otherwise it reaches the CDE only as the internet does (the internet rows)",
                TOOLING_EXPECTED if name == TOOLING else "no connection from this environment reaches the CDE (11.4.5)",
                TEST_DATE,
            )
        )
    return rows


TOOLING = "delivery (tooling)"
OTHER_ENVIRONMENT = "out-of-scope environment (another environment of the configuration)"
# The delivery tooling (pipeline, GitHub OIDC deploy roles, artifact buckets) deploys the CDE's stacks: it can
# impact the CDE's configuration, so it is security-impacting (PCI DSS v4.0.1 section 4, "connected-to or
# security-impacting" system components), never an out-of-scope set, though no network path joins them.
TOOLING_CATEGORY = (
    "security-impacting (the delivery tooling of the configuration: it deploys the CDE's stacks through"
    " CloudFormation and its deploy roles, not over a network connection)"
)
TOOLING_EXPECTED = (
    "no network connection from it reaches the CDE (11.4.5); its access to the CDE is deployment, governed by"
    " its deploy roles (7.2, 8) and change control (6.5.1)"
)


def _environments(outside: TemplateModel | None) -> list[tuple[str, list[Any]]]:
    """The other environments of one synth, by nested assembly (the top-level stacks are the delivery's own)."""
    if outside is None:
        return []
    by: dict[str, list[Any]] = {}
    for stack in outside.stacks.values():
        by.setdefault(stack.assembly.removeprefix("assembly-") or TOOLING, []).append(stack)
    return sorted(by.items())


def _firewall_policy_text(model: TemplateModel, firewall: Resource) -> str:
    """What a Network Firewall's policy allows, from the templates: its stateful rule order and default
    actions, and each rule group it references with its rule count (domain lists by their targets)."""
    policies = [
        p
        for p in model.references(firewall.stack, firewall.prop("FirewallPolicyArn"))
        if p.type == "AWS::NetworkFirewall::FirewallPolicy"
    ]
    if not policies:
        return "its policy is not in these templates: not evidenced"
    parts = []
    for policy in policies:
        body = policy.prop("FirewallPolicy") or {}
        if not isinstance(body, Mapping):
            continue
        order = (body.get("StatefulEngineOptions") or {}).get("RuleOrder") or "DEFAULT_ACTION_ORDER"
        defaults = ", ".join(map(str, body.get("StatefulDefaultActions") or [])) or "none (pass)"
        stateless = ", ".join(map(str, body.get("StatelessDefaultActions") or [])) or "none"
        groups = []
        for reference in body.get("StatefulRuleGroupReferences") or []:
            for group in model.references(policy.stack, (reference or {}).get("ResourceArn")):
                source = group.prop("RuleGroup", "RulesSource") or {}
                listed = source.get("RulesSourceList") if isinstance(source, Mapping) else None
                if isinstance(listed, Mapping):
                    targets = listed.get("Targets") or []
                    kind = listed.get("GeneratedRulesType", "?")
                    types = ", ".join(map(str, listed.get("TargetTypes") or []))
                    domains = f"{len(targets)} domain" + ("" if len(targets) == 1 else "s")
                    groups.append(f"{display_name(group)}: {kind} {types}, {domains}")
                else:
                    groups.append(f"{display_name(group)} (rule review lists its rules)")
        parts.append(
            f"policy {display_name(policy)}: stateless default {stateless}; stateful {order}, default {defaults};"
            f" rule groups: {'; '.join(groups) or 'none'}"
        )
    return "; ".join(parts) or "not evidenced"


def containment_statement(topology: Topology, scope: ScopeModel, rows: Sequence[Sequence[str]]) -> str:
    """What contains the CDE, in a sentence per region, from the same parsed model as the rows: the CDE tiers
    (`cde_tiers`) with their VPC, the segmentation controls a test must exercise (counted by kind from the
    rows: NACLs, route tables, security groups of CDE systems, groups attached to nothing, Network Firewalls),
    and the out-of-scope and untrusted sets (the rows whose region is "-" or whose separates column names an
    out-of-scope or untrusted network) a test must start from."""
    sentences = []
    for region, regional in topology.regions.items():
        inside = cde_tiers(regional, scope)
        if not inside:
            sentences.append(f"In {region} no tier holds a CDE component: nothing to contain there.")
            continue
        vpcs = sorted({display_name(s.vpc) for s in regional.subnets if s.tier in inside and s.vpc is not None})
        mine = [r for r in rows if r[0] == region]
        counts = (
            (sum(1 for r in mine if r[1].startswith("NACL ")), "NACL", "NACLs"),
            (sum(1 for r in mine if r[1].startswith("route table ")), "route table", "route tables"),
            (
                sum(1 for r in mine if r[1].startswith("SG ") and UNATTACHED not in r[1]),
                "security group of CDE systems",
                "security groups of CDE systems",
            ),
            (
                sum(1 for r in mine if r[1].startswith("SG ") and UNATTACHED in r[1]),
                f"security group {UNATTACHED}",
                f"security groups {UNATTACHED}",
            ),
            (sum(1 for r in mine if r[1].startswith("Network Firewall ")), "Network Firewall", "Network Firewalls"),
        )
        controls = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)
        sentences.append(
            f"In {region} the CDE is the {', '.join(inside)} tiers of VPC {', '.join(vpcs) or 'unknown'}; it is"
            f" contained by {controls or 'no segmentation control in these templates'}, each a row below."
        )
    # The sets a test starts from, by kind (each is a row below, so no account or address is repeated here): the
    # internet row of each region, every VPC with no CDE tier, and every row outside a region (accounts, other
    # environments, the delivery tooling, environments outside the templates) but the closing "deployed network".
    kinds: tuple[tuple[str, Callable[[Sequence[str]], bool]], ...] = (
        ("the internet (an untrusted network)", lambda r: r[1].startswith("internet (")),
        ("VPC with no CDE tier", lambda r: r[2] == "out-of-scope network"),
        ("other environment of the configuration", lambda r: r[2] == OTHER_ENVIRONMENT),
        ("account without CDE components", lambda r: r[1].startswith("account ") and r[2] != TOOLING_CATEGORY),
        ("delivery tooling (security-impacting)", lambda r: r[2] == TOOLING_CATEGORY),
        (
            "environments outside these templates (to be listed by the entity)",
            lambda r: r[1].startswith("environments outside these templates"),
        ),
    )
    listed = "; ".join(
        f"{label} ({n} row{'' if n == 1 else 's'})"
        for label, test in kinds
        if (n := len({(r[0], r[1]) for r in rows if test(r)}))
    )
    return (
        " ".join(sentences)
        + " A segmentation test must exercise those controls from each of these sets, each a row below: "
        + (listed or "none in these templates")
        + "."
    )


def segmentation_paper(
    model: TemplateModel,
    topology: Topology,
    scope: ScopeModel | None = None,
    outside: TemplateModel | None = None,
) -> WorkPaper:
    """The 11.4.5 plan: the CDE's edges, the controls that isolate it, each out-of-scope network or system set
    the templates show (`outside`: the stacks of the same synth outside this set) with the checks from it
    towards the CDE, and what a test of the deployed network must still do (`DEPLOYED_TEST`)."""
    scope = ScopeModel(model, topology) if scope is None else scope
    rows: list[tuple[str, ...]] = []
    for region, regional in topology.regions.items():
        rows += boundary_rows(regional, scope)
        inside = cde_tiers(regional, scope)
        cde_subnets = [s for s in regional.subnets if s.tier in inside]
        acls = {s.network_acl.key: s.network_acl for s in cde_subnets if s.network_acl is not None}
        for acl in acls.values():
            entries = [e for e in regional.acl_entries if e.acl.key == acl.key and e.allow]
            allowed = "; ".join(e.text for e in entries) or "nothing allowed"
            rows.append(
                (
                    region,
                    f"NACL {display_name(acl)} (CDE subnets)",
                    "CDE tier from every other network",
                    allowed,
                    "from each connected-to and out-of-scope network, only the listed traffic"
                    " reaches the CDE subnets (11.4.5)",
                    TEST_DATE,
                )
            )
        tables = {s.route_table.key: (s.route_table, s.tier) for s in cde_subnets if s.route_table is not None}
        for table, tier in tables.values():
            routes = [r for r in regional.routes if r.route_table.key == table.key]
            text = "; ".join(f"{r.destination} -> {r.target_kind}" for r in routes) or "local routes only"
            kinds = {r.target_kind for r in routes}
            if "internet-gateway" in kinds:
                # The CDE's internet edge (the load balancer's tier): what the internet reaches is the security
                # groups' to say (the boundary row with the internet, and the SG rows below).
                separates, test = (
                    f"{tier} tier (CDE edge) from the internet",
                    "the internet reaches only what this tier's security groups admit (the boundary row with the"
                    " internet lists them); nothing else of the CDE is routed to the internet gateway (11.4.5)",
                )
            elif kinds & {"vpc-endpoint", "nat-gateway"}:
                separates, test = (
                    f"{tier} tier (CDE) from the internet",
                    "outbound only, through the egress firewall's allow-list; no inbound path from the internet"
                    " (11.4.5)",
                )
            else:
                separates, test = (f"{tier} tier (CDE) from the internet", "no path to or from the internet (11.4.5)")
            rows.append(
                (region, f"route table {display_name(table)} ({tier} tier, CDE)", separates, text, test, TEST_DATE)
            )
        cde_groups = set()
        for key, members in regional.members.items():
            if any(scope.category(m.resource)[0] == CDE for m in members):
                cde_groups.add(key)
        for group in regional.security_groups:
            ingress = [r for r in regional.sg_rules if r.group.key == group.key and not r.egress]
            text = "; ".join(f"{r.protocol} from {_peer(r)}" for r in ingress) or "no ingress"
            if not regional.members.get(group.key):
                # Not skipped (r20b finding 6): a group nothing uses here can be attached later or outside them.
                egress = [
                    r for r in regional.sg_rules if r.group.key == group.key and r.egress and not r.allows_nothing
                ]
                text += "; " + ("; ".join(f"{r.protocol} to {_peer(r)}" for r in egress) or "no egress")
                rows.append(
                    (
                        region,
                        f"SG {display_name(group)} ({UNATTACHED})",
                        "nothing yet: its rules apply to whatever is attached to it later",
                        text,
                        "no network interface of the deployed account uses it, or what does is in the inventory"
                        " with its scope (11.4.5)",
                        TEST_DATE,
                    )
                )
                continue
            if group.key not in cde_groups:
                continue
            rows.append(
                (
                    region,
                    f"SG {display_name(group)} (CDE systems)",
                    "CDE systems from other systems",
                    text,
                    "only the listed sources connect (11.4.5)",
                    TEST_DATE,
                )
            )
        for firewall in model.resources("AWS::NetworkFirewall::Firewall"):
            if model.stack_of(firewall).region == region:
                # Which tiers' traffic it filters: the subnets whose route table sends a route to this firewall's
                # endpoint (topology resolves the endpoint to its firewall); CDE tiers first.
                routed = {
                    s.tier
                    for s in regional.subnets
                    if s.route_table is not None
                    and any(
                        r.route_table.key == s.route_table.key and r.target is not None and r.target.key == firewall.key
                        for r in regional.routes
                    )
                }
                filtered = [t for t in regional.tiers if t in routed]
                through = (
                    ", ".join(f"{t} tier ({'CDE' if t in inside else 'connected-to'})" for t in filtered)
                    or "no route table of these templates routes to it"
                )
                rows.append(
                    (
                        region,
                        f"Network Firewall {display_name(firewall)} ({scope.category(firewall)[0]})",
                        f"traffic routed through it ({through}) from the internet",
                        _firewall_policy_text(model, firewall),
                        "only what the policy's rules allow passes, in both directions of each routed tier (11.4.5)",
                        TEST_DATE,
                    )
                )
    rows += _out_of_scope_rows(model, topology, scope, outside)
    cde_accounts = _cde_accounts(model) - {""}
    environments: dict[str, set[str]] = {}
    for stack in model.stacks.values():
        if stack.account and stack.account not in cde_accounts:
            environments.setdefault(stack.account, set()).add(stack.assembly.removeprefix("assembly-") or "app")
    nested = any(s.assembly for s in model.stacks.values())
    for account, names in sorted(environments.items()):
        tooling = nested and names == {"app"}  # the App's own stacks beside Stages: the delivery tooling
        rows.append(
            (
                "-",
                f"account {account} ({TOOLING if tooling else ', '.join(sorted(names))})",
                TOOLING_CATEGORY if tooling else "out-of-scope environment",
                "no network connection to the CDE in the templates",
                TOOLING_EXPECTED if tooling else "no connection from this environment reaches the CDE (11.4.5)",
                TEST_DATE,
            )
        )
    rows.append(
        (
            "-",
            "environments outside these templates (other AWS accounts, corporate and on-premises networks)",
            "out-of-scope environments",
            "not evidenced: list them",
            "no connection from any of them reaches the CDE (11.4.5)",
            TEST_DATE,
        )
    )
    rows.append(
        (
            "-",
            "the deployed network (every row above)",
            f"the CDE from every out-of-scope set and the {UNTRUSTED}",
            "this paper is a plan and template evidence, not a test",
            DEPLOYED_TEST,
            TEST_DATE,
        )
    )
    return WorkPaper(
        "segmentation",
        "Segmentation testing (11.4.5, 11.4.6)",
        containment_statement(topology, scope, rows)
        + " The rows: each edge of the CDE (a CDE tier with the internet, an"
        f" {UNTRUSTED} (1.4.1), and with every connected-to tier; for a boundary row the third column names the"
        " NACLs, the fourth the security-group rules that cross it); then each control listed above with what the"
        " templates allow through it and the test a penetration tester performs against it; then each"
        " out-of-scope network or system set with what in the templates reaches the CDE from it. This paper is a"
        " plan and template evidence, not a test: "
        + DEPLOYED_TEST
        + ". The test itself, its date and its result: not evidenced.",
        ("Region", "Control to test", "Separates", "What the templates allow", "Test", "Test date"),
        tuple(rows),
    )


# -- responsibility matrix ---------------------------------------------------------------------------
_RESPONSIBILITY = (
    (
        "1",
        "network infrastructure of the services used",
        "VPC tiers, security groups, NACLs, routes, Network Firewall, WAF (rule review, segmentation)",
        "approve rules, review every six months (1.2.7)",
    ),
    (
        "2",
        "hypervisor and managed-service hosts",
        "hardened service settings (IMDSv2, parameter groups)",
        "configuration standards for anything added",
    ),
    (
        "3",
        "storage media and their destruction",
        "KMS keys, field-level encryption, keyed hash, retention (data stores, keys)",
        "key custodians, cryptoperiods, retention policy",
    ),
    (
        "4",
        "the AWS endpoints' TLS",
        "TLS policies, certificates referenced, mTLS (TLS)",
        "certificate inventory and renewal (4.2.1.1)",
    ),
    ("5", "managed-service hosts", ANTI_MALWARE_TEMPLATES, ANTI_MALWARE_CUSTOMER),
    ("6", "managed-service software", "pinned runtimes, SBOM (software), WAF", "secure development, patching"),
    ("7", "AWS staff access to the infrastructure", "least-privilege roles, key policies", "access model, reviews"),
    (
        "8",
        "AWS staff authentication",
        "MFA conditions, IAM database authentication",
        "identity provider, MFA for every person",
    ),
    (
        "9",
        "physical security of the data centres (the whole requirement for the services used)",
        "none",
        "media and devices the customer handles",
    ),
    ("10", "the logging services' own integrity", "trail, log groups, archive (logging)", "daily review (10.4.1)"),
    (
        "11",
        "testing of the AWS infrastructure",
        "GuardDuty, Security Hub, Config rules",
        "scans, ASV, penetration and segmentation tests (segmentation)",
    ),
    ("12", "its own security programme", "none", "policies, risk assessment, incident response, TPSP list"),
)


def responsibility_paper(model: TemplateModel, *, aoc_edition: str | None, aoc_date: str | None) -> WorkPaper:
    if aoc_edition and aoc_date:
        citation = f"AWS PCI DSS Attestation of Compliance, {aoc_edition}, dated {aoc_date}"
        state = "as recorded in the environment configuration; its content not reproduced here"
    else:
        citation = "AWS PCI DSS Attestation of Compliance: edition and date unverified"
        state = (
            "unverified: set evidence.aws_aoc_edition and evidence.aws_aoc_date from AWS Artifact (sign-in required)"
        )
    rows = [
        (f"Requirement {number}", f"{aws} (per the {citation})", lz, customer)
        for number, aws, lz, customer in _RESPONSIBILITY
    ]
    services = sorted({r.type.split("::")[1] for r in model.resources() if r.type.startswith("AWS::")} - {"CDK"})
    rows.append(
        (
            "AWS services used by the templates",
            "each must be listed in the AOC's services in scope: unverified",
            ", ".join(services),
            "confirm each service against the AOC",
        )
    )
    return WorkPaper(
        "responsibility",
        "Responsibility matrix (12.8.5, 12.9)",
        f"Who does what: AWS as a third-party service provider ({citation}; {state}), what these templates"
        " implement, and what the customer must do. AWS's share is the AOC's and AWS's customer responsibility"
        " matrix; this table points to it without reproducing it.",
        ("Requirement", "AWS", "These templates", "Customer"),
        tuple(rows),
    )


# -- the existing tables as work papers, and the writers -------------------------------------------------
def all_workpapers(
    model: TemplateModel,
    topology: Topology,
    *,
    aoc_edition: str | None = None,
    aoc_date: str | None = None,
    root: Path | None = None,
    scope: ScopeModel | None = None,
    outside: TemplateModel | None = None,
    reviewed_commit: str | None = None,
    reviewed_rule_review: str | None = None,
) -> list[WorkPaper]:
    """Every work paper, in report order; scope categories from `scope` (one ScopeModel per assembly); `outside`
    is the stacks of the same synth outside this set (the segmentation paper's other environments);
    `reviewed_commit` and `reviewed_rule_review` (a path relative to `root`) the last review's commit and the
    rule review it examined, from the environment's `evidence:` block (the rule-review changes paper)."""
    root = Path(__file__).resolve().parent.parent if root is None else root
    scope = ScopeModel(model, topology) if scope is None else scope
    review = rule_review(topology)
    flagged = sum(1 for row in review if row[6] != "-")
    changes = rule_review_changes_paper(
        review,
        reviewed_commit=reviewed_commit,
        reviewed_file=root / reviewed_rule_review if reviewed_rule_review else None,
        reviewed_name=reviewed_rule_review,
    )
    return [
        WorkPaper(
            "rule-review",
            "Rule review (1.2.5, 1.2.7)",
            "Every security-group rule, NACL entry, Network Firewall default action and rule-group rule, WAF"
            f" web ACL default action and rule, and route of the templates ({len(review)}; {flagged} flagged)."
            " The stated need is the template's own description (a NACL entry's and a route's is its"
            " `pci-lz:need` metadata, a gateway endpoint's prefix-list route's the endpoint's; a WAF rule's its"
            " name and the web ACL's description)."
            f" Each: {NOT_EVIDENCED}; review date: not evidenced. The rules added, removed and changed since the"
            " last recorded review: the next paper.",
            RULE_REVIEW_HEADER,
            tuple(tuple(r) for r in review),
            frozenset({7}),
        ),
        changes,
        WorkPaper(
            "inventory",
            "Inventory (12.5.1)",
            f"Every resource of every template ({sum(1 for _ in model.resources())}: what the templates create is"
            " listed, CDK's own metadata and custom resources included), with the scope category the templates support"
            " and its basis; components outside the templates are not listed and are unverified.",
            ("Type", "Name", "Construct path", "Stack", "Account", "Region", "Scope", "Basis", "Logical ID"),
            tuple(tuple(r) for r in inventory(model, topology, scope)),
            frozenset({2}),
        ),
        WorkPaper(
            "keys",
            "Keys (3.6.1, 3.7)",
            "Rotation from each key's EnableKeyRotation, RotationPeriodInDays and KeySpec. From each key policy:"
            " principals allowed key-administration actions versus cryptographic use, less what an unconditional"
            " Deny naming that principal refuses it (shown beside it); the account root's kms:* statement is"
            " shown as what it is, a grant to any principal of the account an IAM policy allows; every Deny"
            " statement with its actions, principals, conditions and what those conditions exempt (a role path,"
            " requests through a service, AWS service principals). From the identity policies, role inline"
            " policies and KMS grants of the templates: who else may use the key (a statement on `*` counts for"
            " every key of its account whose key policy lets IAM policies grant it and whose aliases and tags meet"
            ' its conditions; a kms:ViaService condition reads "through <service> only"). Each user, of the key'
            " policy or an identity policy, is checked against the key policy's Deny statements: one a Deny refuses"
            ' reads "refused by <Sid>", one left only a service route "through <service> only (<Sid> refuses direct'
            ' use)" (evidence.iam_eval; explicit deny wins: IAM User Guide, "Policy evaluation logic").'
            " The stores each key protects, from the encryption property of each store"
            " that names it (a key referenced any other way protects nothing here). Each key's cryptoperiod and"
            " how it is rotated. Key custodians' acknowledgments (3.6.1.2) and cryptoperiod approval: not"
            " evidenced.",
            (
                "Key",
                "Stack",
                "Rotation",
                "Administrators (key policy)",
                "Users (key policy)",
                "Referenced by",
                "Users (identity policies and grants)",
                "Cryptoperiod and rotation",
                "Stores it protects",
                "Deny of use to other principals (key policy)",
            ),
            tuple(tuple(r) for r in keys(model, scope)),
        ),
        data_stores_paper(model),
        tls_paper(model),
        logging_paper(model),
        software_paper(model, root),
        segmentation_paper(model, topology, scope, outside),
        responsibility_paper(model, aoc_edition=aoc_edition, aoc_date=aoc_date),
    ]


WORKPAPER_DIR = "workpapers"
NOT_VERIFIED = "not verified (no live check supplied it)"


@dataclass(frozen=True)
class DeployedState:
    """What `make evidence-live` read from the account (evidence/live.py): a one-line summary for
    the provenance block and its work papers (drift, conformance pack, Security Hub controls)."""

    summary: str
    papers: tuple[WorkPaper, ...]


def _placeholder(paper: WorkPaper) -> str:
    return f"WORKPAPER-PLACEHOLDER-{paper.slug}"


def papers_markdown(papers: Iterable[WorkPaper], *, for_html: bool = False) -> list[str]:
    """The work-paper sections of the report (Markdown lines), each linking its CSV and JSON. With
    `for_html`, each table is a placeholder that `insert_paper_tables` replaces with an HTML table
    (markdown-it spends ~0.1 s CPU on tables this size; the evidence budget is 0.5 s)."""
    out = ["## Work papers", ""]
    for paper in papers:
        files = ", ".join(f"[{paper.slug}.{ext}]({WORKPAPER_DIR}/{paper.slug}.{ext})" for ext in ("csv", "json"))
        out += [f"### {paper.title}", "", paper.intro, "", f"Files: {files}", ""]
        if for_html:
            out += [_placeholder(paper), ""]
            continue
        rows = [[_code(c) if i in paper.code_columns else c for i, c in enumerate(row)] for row in paper.rows]
        out += [*_table(list(paper.header), rows), ""]
    return out


def paper_table_html(paper: WorkPaper) -> str:
    """The paper's table as HTML, every cell escaped (cells come from templates)."""
    from html import escape

    def cell(index: int, text: str) -> str:
        return f"<td><code>{escape(text)}</code></td>" if index in paper.code_columns else f"<td>{escape(text)}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in paper.header)
    body = "\n".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in paper.rows)
    return f"<table>\n<thead>\n<tr>{head}</tr>\n</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def insert_paper_tables(html_text: str, papers: Iterable[WorkPaper]) -> str:
    """Replace each paper's placeholder paragraph (markdown-it output) with its HTML table."""
    for paper in papers:
        html_text = html_text.replace(f"<p>{_placeholder(paper)}</p>", paper_table_html(paper), 1)
    return html_text


def write_workpapers(directory: Path, papers: Iterable[WorkPaper]) -> list[Path]:
    """`<directory>/workpapers/<slug>.csv` and `.json` for each paper; the files written."""
    import csv
    import io
    import json

    target = directory / WORKPAPER_DIR
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for paper in papers:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(paper.header)
        writer.writerows(paper.rows)
        csv_path = target / f"{paper.slug}.csv"
        csv_path.write_text(buffer.getvalue(), encoding="utf-8")
        json_path = target / f"{paper.slug}.json"
        body = {"title": paper.title, "statement": paper.intro, "columns": list(paper.header), "rows": paper.records()}
        json_path.write_text(json.dumps(body, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        written += [csv_path, json_path]
    return written
