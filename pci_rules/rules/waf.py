"""What an AWS WAF web ACL holds (PCI DSS v4.0.1 6.4.2; Security Hub WAF.10, WAF.12)."""

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_true

# The AWS managed rule groups every web ACL in front of cardholder data runs ("AWS Managed Rules rule
# groups list", AWS WAF Developer Guide): OWASP-style common attacks and known bad inputs (Log4j...).
REQUIRED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def _managed_group(rule_: Mapping[str, Any]) -> str | None:
    statement = rule_.get("Statement") or {}
    group = statement.get("ManagedRuleGroupStatement") if isinstance(statement, Mapping) else None
    return str(group.get("Name")) if isinstance(group, Mapping) else None


def _blocked_labels(rules: list[Mapping[str, Any]]) -> set[str]:
    """The label keys (lower case) a Block rule of the web ACL matches: a LabelMatchStatement of scope LABEL,
    alone or among an AndStatement's statements (never under a NotStatement)."""
    keys = set()
    for rule_ in rules:
        if "Block" not in (rule_.get("Action") or {}):
            continue
        statement = rule_.get("Statement") or {}
        parts = [statement, *as_list((statement.get("AndStatement") or {}).get("Statements"))]
        for part in parts:
            label = part.get("LabelMatchStatement") if isinstance(part, Mapping) else None
            if isinstance(label, Mapping) and label.get("Scope") == "LABEL" and isinstance(label.get("Key"), str):
                keys.add(label["Key"].lower())
    return keys


def _weakened(rule_: Mapping[str, Any], blocked: set[str]) -> list[str]:
    """What keeps a managed group from blocking: OverrideAction Count, or a RuleActionOverrides entry whose
    ActionToUse is Allow, or Count on a rule whose label no Block rule of the web ACL matches
    ("RuleActionOverrides", AWS WAF API Reference; the group's rule labels are
    awswaf:managed:aws:<group>:<rule>, "AWS Managed Rules rule groups list", AWS WAF Developer Guide)."""
    if "Count" in (rule_.get("OverrideAction") or {}):
        return ["OverrideAction Count"]
    group = (rule_.get("Statement") or {}).get("ManagedRuleGroupStatement") or {}
    weakened = []
    for override in as_list(group.get("RuleActionOverrides")):
        if not isinstance(override, Mapping):
            continue
        name, action = str(override.get("Name")), override.get("ActionToUse") or {}
        if "Allow" in action:
            weakened.append(f"{name} overridden to Allow")
        elif "Count" in action and not any(key.endswith(":" + name.lower()) for key in blocked):
            weakened.append(f"{name} overridden to Count and not blocked by its label")
    return weakened


@rule(
    id="PCI4-WAF-WEB-ACL-CONTENT",
    requirements=("6.4.2",),
    description=(
        "Every web ACL has rules, runs the AWS Common and Known-bad-inputs groups in block mode, a default "
        "action and metrics on every rule."
    ),
    fix=(
        "Add AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet with OverrideAction None and no "
        "RuleActionOverrides to Allow, or to Count unless a later Block rule matches that rule's label; a "
        "DefaultAction, and CloudWatchMetricsEnabled on each rule."
    ),
)
def waf_web_acl_content(model: TemplateModel) -> Iterator[Check]:
    for acl in model.resources("AWS::WAFv2::WebACL"):
        rules = [r for r in as_list(acl.prop("Rules")) if isinstance(r, Mapping)]
        problems = [] if rules else ["the web ACL has no rule"]
        blocked = _blocked_labels(rules)
        groups = {name: _weakened(r, blocked) for r in rules if (name := _managed_group(r))}
        for group in REQUIRED_GROUPS:
            if group not in groups:
                problems.append(f"{group} is missing")
            elif groups[group]:
                problems.append(f"{group} does not block: {', '.join(groups[group])}")
        if not acl.prop("DefaultAction"):
            problems.append("no DefaultAction")
        unmetered = [
            str(r.get("Name"))
            for r in rules
            if not is_true((r.get("VisibilityConfig") or {}).get("CloudWatchMetricsEnabled"))
        ]
        if unmetered:
            problems.append(f"rules without CloudWatch metrics: {unmetered}")
        yield Check(acl, not problems, "; ".join(problems))
