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


def _counts(rule_: Mapping[str, Any]) -> bool:
    """A managed group run in count mode (OverrideAction Count, or every rule overridden to Count) blocks nothing."""
    if "Count" in (rule_.get("OverrideAction") or {}):
        return True
    group = (rule_.get("Statement") or {}).get("ManagedRuleGroupStatement") or {}
    overrides = [o for o in as_list(group.get("RuleActionOverrides")) if isinstance(o, Mapping)]
    return any(o.get("Name") == "*" for o in overrides)


@rule(
    id="PCI4-WAF-WEB-ACL-CONTENT",
    requirements=("6.4.2",),
    description=(
        "Every web ACL has rules, runs the AWS Common and Known-bad-inputs groups in block mode, a default "
        "action and metrics on every rule."
    ),
    fix=(
        "Add AWSManagedRulesCommonRuleSet and AWSManagedRulesKnownBadInputsRuleSet with OverrideAction None, "
        "a DefaultAction, and CloudWatchMetricsEnabled on each rule."
    ),
)
def waf_web_acl_content(model: TemplateModel) -> Iterator[Check]:
    for acl in model.resources("AWS::WAFv2::WebACL"):
        rules = [r for r in as_list(acl.prop("Rules")) if isinstance(r, Mapping)]
        problems = [] if rules else ["the web ACL has no rule"]
        blocking = {name for r in rules if (name := _managed_group(r)) and not _counts(r)}
        problems += [f"{g} is missing or only counts" for g in REQUIRED_GROUPS if g not in blocking]
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
