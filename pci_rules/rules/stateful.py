"""Stateful resources survive a stack deletion or replacement (PCI DSS v4.0.1 3.5, 10.5.1)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule

STATEFUL = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::SecretsManager::Secret",
    "AWS::DynamoDB::Table",
    "AWS::EC2::Volume",
    "AWS::EFS::FileSystem",
)
# RetainExceptOnCreate keeps the resource on every delete but the rollback of the create that made it
# ("DeletionPolicy attribute", CloudFormation Template Reference); UpdateReplacePolicy has no such value.
DELETION_KEEPS = ("Retain", "RetainExceptOnCreate", "Snapshot")
REPLACE_KEEPS = ("Retain", "Snapshot")


@rule(
    id="PCI4-STATEFUL-RETAINED",
    requirements=(),
    related=("3.5.1", "10.5.1"),
    description="Keys, buckets, log groups, databases, secrets, tables, volumes are retained on delete and replace.",
    fix=(
        "Set DeletionPolicy to RetainExceptOnCreate (or Retain) and UpdateReplacePolicy to Retain"
        " (CDK: removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)."
    ),
)
def stateful_retained(model: TemplateModel) -> Iterator[Check]:
    for resource in model.resources(*STATEFUL):
        problems = [
            f"{name} is {value or 'Delete'}"
            for name, value, keeps in (
                ("DeletionPolicy", resource.deletion_policy, DELETION_KEEPS),
                ("UpdateReplacePolicy", resource.update_replace_policy, REPLACE_KEEPS),
            )
            if value not in keeps
        ]
        yield Check(resource, not problems, "; ".join(problems))
