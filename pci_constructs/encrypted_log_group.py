"""A CloudWatch Logs group that is always KMS-encrypted and kept at least a year."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from pci_constructs.retention import retain

_RETENTION = {
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def cloudwatch_logs_key_statement(scope: Construct) -> iam.PolicyStatement:
    """Key-policy statement letting CloudWatch Logs use a key for log groups of `scope`'s account and region.

    "Encrypt log data in CloudWatch Logs using AWS KMS" (CloudWatch Logs User Guide): the regional
    service principal, these actions, and `kms:EncryptionContext:aws:logs:arn` limited to this
    account's log groups in this region. (A log group's own ARN cannot be named: the key policy would
    then depend on the log group that depends on the key.) Identical for every log group of a stack,
    so CDK renders it once per key however many groups use the key.
    """
    stack = Stack.of(scope)
    account, region, partition = stack.account, stack.region, stack.partition
    return iam.PolicyStatement(
        sid="AllowCloudWatchLogsForThisAccountLogGroups",
        principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={
            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:log-group:*"}
        },
    )


def card_number_protection() -> logs.DataProtectionPolicy:
    """A CloudWatch Logs data protection policy: audit and mask the managed identifier `CreditCardNumber`.

    "Help protect sensitive log data with masking" and "Understanding data protection policies"
    (CloudWatch Logs User Guide): events are scanned and masked as they are ingested (not those
    ingested before the policy), a reader without `logs:Unmask` sees asterisks, and the one audit
    statement reports findings (here to no destination: the finding metrics only). CloudFormation
    sets it through `AWS::Logs::LogGroup` `DataProtectionPolicy`; CDK's `DataProtectionPolicy`
    renders the Audit and Deidentify (MaskConfig) statements. Only log groups of the Standard class
    support it, which is every group this project creates.
    """
    return logs.DataProtectionPolicy(
        name="card-numbers",
        description="Audit and mask card numbers in what this group ingests (PCI DSS 3.3, 3.4.1)",
        identifiers=[logs.DataIdentifier.CREDITCARDNUMBER],
    )


class EncryptedLogGroup(Construct):
    """PCI DSS 10.5.1: logs retained >= 12 months; 3.5/10.3.2: encrypted with a customer key.

    The key's policy gets the CloudWatch Logs statement (`cloudwatch_logs_key_statement`), so a
    caller's own key works; without it CloudFormation fails to create the group (AccessDenied from
    logs:CreateLogGroup / AssociateKmsKey). An imported key's policy cannot be changed from here:
    its owner must already allow CloudWatch Logs, and the synth says so (a warning on the group).
    `mask_card_numbers` adds `card_number_protection()`, for a group that may ingest request data no
    code of ours masks first.
    Raises ValueError for a retention CloudWatch Logs does not offer or under 365 days.
    """

    log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        retention_days: int,
        log_group_name: str | None = None,
        mask_card_numbers: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if retention_days not in _RETENTION:
            raise ValueError(f"retention_days={retention_days}: must be one of {sorted(_RETENTION)} (>= 365)")
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            encryption_key=encryption_key,
            retention=_RETENTION[retention_days],
            data_protection_policy=card_number_protection() if mask_card_numbers else None,
        )
        retain(self.log_group)
        added = encryption_key.add_to_resource_policy(cloudwatch_logs_key_statement(self)).statement_added
        if not added:
            Annotations.of(self).add_warning_v2(
                "pci-lz:ImportedLogKey",
                "The encryption key is imported, so its key policy cannot be extended here: it must already allow"
                " CloudWatch Logs (see 'Encrypt log data in CloudWatch Logs using AWS KMS'), or creating the"
                " log group fails at deploy.",
            )
