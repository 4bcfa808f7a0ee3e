"""A CloudWatch Logs group that is always KMS-encrypted and kept at least a year."""

from __future__ import annotations

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


class EncryptedLogGroup(Construct):
    """PCI DSS 10.5.1: logs retained >= 12 months; 3.5/10.3.2: encrypted with a customer key."""

    log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        retention_days: int,
        log_group_name: str | None = None,
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
        )
        retain(self.log_group)
