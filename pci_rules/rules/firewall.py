"""AWS Network Firewall posture (PCI DSS v4.0.1 1.3.2, 1.4.1, 1.5.1, 10.2.1; Security Hub NetworkFirewall.2-10)."""

from collections.abc import Iterator, Mapping

from pci_rules.model import Resource, TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_true

FIREWALL = "AWS::NetworkFirewall::Firewall"
# Stateless default actions that hand every packet to the stateful engine or drop it (NetworkFirewall.4/.5).
STATELESS_SAFE = ("aws:forward_to_sfe", "aws:drop")
DROPS = ("aws:drop_strict", "aws:drop_established")
ALERTS = ("aws:alert_strict", "aws:alert_established")


def _policy_problems(model: TemplateModel, policy: Resource) -> list[str]:
    body = policy.prop("FirewallPolicy") or {}
    problems = []
    groups = as_list(body.get("StatefulRuleGroupReferences")) + as_list(body.get("StatelessRuleGroupReferences"))
    if not groups:
        problems.append("the policy has no rule group")
    for key in ("StatelessDefaultActions", "StatelessFragmentDefaultActions"):
        actions = [str(a) for a in as_list(body.get(key))]
        if not actions or not any(a in STATELESS_SAFE for a in actions):
            problems.append(f"{key} neither forwards to the stateful engine nor drops")
    stateful = [str(a) for a in as_list(body.get("StatefulDefaultActions"))]
    if not any(a in DROPS for a in stateful) or not any(a in ALERTS for a in stateful):
        problems.append("stateful default action does not drop and alert (strict order)")
    for reference in groups:
        group = model.target(policy.stack, reference.get("ResourceArn") if isinstance(reference, Mapping) else None)
        if group is not None and not (group.prop("RuleGroup", "RulesSource") or {}):
            problems.append(f"rule group {group.logical_id} is empty")
    return problems


@rule(
    id="PCI4-NETWORK-FIREWALL-POSTURE",
    requirements=("1.3.2", "1.4.1", "10.2.1"),
    related=("1.5.1",),
    description=(
        "Every Network Firewall has a non-empty policy that drops and alerts by default, logs alerts and "
        "flows, and has delete and subnet-change protection."
    ),
    fix=(
        "Attach a strict-order policy with rule groups, StatefulDefaultActions aws:drop_established + "
        "aws:alert_established, a LoggingConfiguration (ALERT and FLOW), DeleteProtection and "
        "SubnetChangeProtection true."
    ),
)
def network_firewall_posture(model: TemplateModel) -> Iterator[Check]:
    for firewall in model.resources(FIREWALL):
        problems = []
        policy = model.target(firewall.stack, firewall.prop("FirewallPolicyArn"))
        if policy is None:
            problems.append("its policy is not in these templates")
        else:
            problems += _policy_problems(model, policy)
        logged = {
            str(d.get("LogType"))
            for c in model.attached(firewall, "AWS::NetworkFirewall::LoggingConfiguration", "FirewallArn")
            for d in as_list(c.prop("LoggingConfiguration", "LogDestinationConfigs"))
            if isinstance(d, Mapping)
        }
        missing = [t for t in ("ALERT", "FLOW") if t not in logged]
        if missing:
            problems.append(f"no {' and '.join(missing)} logging")
        for flag in ("DeleteProtection", "SubnetChangeProtection"):
            if not is_true(firewall.prop(flag)):
                problems.append(f"{flag} is not true")
        yield Check(firewall, not problems, "; ".join(problems))
