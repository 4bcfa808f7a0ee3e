"""Customer-managed KMS keys, one per purpose (PCI DSS 3.6, 3.7)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from pci_constructs.retention import retain


def purpose_key(scope: Construct, construct_id: str, *, alias: str, description: str) -> kms.Key:
    """A symmetric key with the landing zone's non-negotiable settings."""
    key = kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        rotation_period=Duration.days(365),
        pending_window=Duration.days(30),
    )
    retain(key)
    return key


class KeyRing(Construct):
    """The per-region keys. `logs` encrypts CloudWatch Logs (flow logs, later trail and WAF logs)."""

    logs: kms.Key

    def __init__(self, scope: Construct, construct_id: str, *, alias_prefix: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.logs = purpose_key(
            self,
            "LogsKey",
            alias=f"alias/{alias_prefix}/logs",
            description="Encrypts CloudWatch Logs groups of the PCI landing zone",
        )
        # CloudWatch Logs may use the key only for log groups of this account and region.
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )
