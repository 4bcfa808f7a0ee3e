"""No principal can delegate a customer-managed key with a grant (PCI DSS v4.0.1 3.6.1, 7.2.2).

A key policy's root statement (`kms:*` for the account) lets any IAM principal with kms:CreateGrant
hand the key to anyone, outside the key policy. The key policy must deny kms:CreateGrant unless
kms:GrantIsForAWSResource is true (an integrated AWS service asking on the caller's behalf).
"""

from collections.abc import Iterator, Mapping
from typing import Any

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, statements


def _denies_other_grants(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    if not any(a in ("kms:CreateGrant", "kms:*", "*") for a in as_list(statement.get("Action"))):
        return False
    principal = statement.get("Principal")
    if principal not in ("*", {"AWS": "*"}):
        return False
    condition = statement.get("Condition", {})
    value = condition.get("Bool", {}).get("kms:GrantIsForAWSResource") if isinstance(condition, Mapping) else None
    return str(value).lower() == "false"


@rule(
    id="PCI4-KMS-GRANTS-FOR-AWS-RESOURCES",
    requirements=("3.6.1", "7.2.2"),
    description="Every customer-managed key's policy denies kms:CreateGrant unless kms:GrantIsForAWSResource.",
    fix="Add a key policy statement: Effect Deny, Principal '*', Action kms:CreateGrant, Resource '*',"
    " Condition Bool kms:GrantIsForAWSResource 'false' (CDK: key.add_to_resource_policy(...)).",
)
def kms_grants_only_for_aws_resources(model: TemplateModel) -> Iterator[Check]:
    for key in model.resources("AWS::KMS::Key"):
        ok = any(_denies_other_grants(s) for s in statements(key.prop("KeyPolicy") or {}))
        yield Check(key, ok, "" if ok else "any kms:CreateGrant holder may delegate the key")
