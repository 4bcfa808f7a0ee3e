"""PCI DSS v4.0.1 rules that read rendered CloudFormation templates.

An importable package with no dependency on the landing zone's stacks or
configuration: `TemplateModel` parses templates (a cloud assembly directory, or
the template paths a CDK policy-validation plugin is handed), each rule is one
small function over that model, and `evaluate` runs them. The compliance
evidence and the diagrams read the same model, so they cannot disagree.
"""

__version__ = "1.15.0"

from pci_rules.model import Resource, StackTemplate, TemplateModel
from pci_rules.rule import Check, Rule, RuleResult, evaluate, rule

__all__ = [
    "Check",
    "Resource",
    "Rule",
    "RuleResult",
    "StackTemplate",
    "TemplateModel",
    "__version__",
    "evaluate",
    "rule",
]
