"""Every role keeps its permissions boundary, as rendered (PCI DSS v4.0.1 7.2.1, 7.2.2).

An app that attaches its boundary with an Aspect (as the repository shipping this pack does) is exposed to
an escape hatch that runs after it (a
`add_property_deletion_override("PermissionsBoundary")`, a raw `CfnResource` role) would remove it
without anything else noticing. This rule reads the rendered templates, so it sees the result.
"""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule


@rule(
    id="PCI4-IAM-PERMISSIONS-BOUNDARY",
    requirements=("7.2.1", "7.2.2"),
    description="Every IAM role carries a permissions boundary in the rendered template.",
    fix="Set PermissionsBoundary on every role (CDK: iam.PermissionsBoundary.of(scope).apply(policy), or an"
    " Aspect that sets it on each CfnRole); never delete PermissionsBoundary with an escape hatch.",
)
def every_role_has_a_boundary(model: TemplateModel) -> Iterator[Check]:
    for role in model.resources("AWS::IAM::Role"):
        boundary = role.reference("PermissionsBoundary")  # presence only: an ARN built by Fn::Join is fine
        yield Check(role, bool(boundary), "" if boundary else "no PermissionsBoundary")
