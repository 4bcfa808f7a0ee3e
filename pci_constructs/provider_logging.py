"""CDK's own custom-resource provider functions: an encrypted, retained log group and no AWS managed policy."""

from __future__ import annotations

from aws_cdk import CfnResource
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup


def harden_provider(provider: Construct, *, log_key: kms.IKey, log_retention_days: int) -> EncryptedLogGroup:
    """Give a CDK `CustomResourceProvider` (raw `CfnResource`s: `Handler`, `Role`) its own log group.

    Such providers (the default-SG restriction, `aws_cdk.triggers`) are stack-wide singletons with no
    L2 to configure: they log to an implicit, unencrypted, never-expiring `/aws/lambda/<name>` group,
    and their role carries AWSLambdaBasicExecutionRole. Both are replaced: `LoggingConfig.LogGroup`
    ("Configuring advanced logging controls for Lambda functions", AWS Lambda Developer Guide) names
    a KMS-encrypted group kept `log_retention_days`, and an inline policy (the role's second entry
    after CDK's own) allows writing to that group only. Idempotent: a provider already hardened
    returns its existing group. Raises TypeError if CDK changes the provider's shape.
    """
    existing = provider.node.try_find_child("Logs")
    if isinstance(existing, EncryptedLogGroup):
        return existing
    handler, role = provider.node.find_child("Handler"), provider.node.find_child("Role")
    if not isinstance(handler, CfnResource) or not isinstance(role, CfnResource):
        raise TypeError(f"{provider.node.path}: CDK changed its provider; review this hardening")
    logs = EncryptedLogGroup(provider, "Logs", encryption_key=log_key, retention_days=log_retention_days)
    # A Ref to the group: CloudFormation creates the group before the function.
    handler.add_property_override("LoggingConfig", {"LogGroup": logs.log_group.log_group_name})
    role.add_property_deletion_override("ManagedPolicyArns")
    role.add_property_override(
        "Policies.1",
        {
            "PolicyName": "OwnLogGroup",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": logs.log_group.log_group_arn,
                    }
                ],
            },
        },
    )
    return logs
