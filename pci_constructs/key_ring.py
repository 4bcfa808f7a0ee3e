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
    """The per-region keys, one per purpose, so a grant on one never opens another.

    - cardholder_data: the CDE database, its snapshots and the vault's envelope encryption
    - logs: CloudWatch Logs groups (flow, database, WAF, trail logs) and CloudTrail files
    - secrets: Secrets Manager secrets
    - s3_data: S3 buckets that hold data (not the SSE-S3 access-log targets)
    - alerts: the security-alarm SNS topic
    """

    cardholder_data: kms.Key
    logs: kms.Key
    secrets: kms.Key
    s3_data: kms.Key
    alerts: kms.Key

    def __init__(self, scope: Construct, construct_id: str, *, alias_prefix: str) -> None:
        super().__init__(scope, construct_id)

        def key(construct_id: str, purpose: str, description: str) -> kms.Key:
            return purpose_key(self, construct_id, alias=f"alias/{alias_prefix}/{purpose}", description=description)

        self.cardholder_data = key("CardholderDataKey", "cardholder-data", "Encrypts cardholder data (database, vault)")
        self.logs = key("LogsKey", "logs", "Encrypts CloudWatch Logs groups and CloudTrail log files")
        self.secrets = key("SecretsKey", "secrets", "Encrypts Secrets Manager secrets")
        self.s3_data = key("S3DataKey", "s3-data", "Encrypts S3 data buckets")
        self.alerts = key("AlertsKey", "alerts", "Encrypts the security alerts SNS topic")
        self._allow_log_services()
        self._allow_alert_publishers()

    def _allow_log_services(self) -> None:
        stack = Stack.of(self)
        account, region, partition = stack.account, stack.region, stack.partition
        # CloudWatch Logs may use the key only for log groups of this account and region.
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:log-group:*"
                    }
                },
            )
        )
        # CloudTrail encrypts log files for trails of this account only.
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptThisAccountsTrails",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account}:trail/*"
                    },
                    "StringEquals": {"aws:SourceAccount": account},
                },
            )
        )
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )

    def _allow_alert_publishers(self) -> None:
        account = Stack.of(self).account
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmAndEventPublishers",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
