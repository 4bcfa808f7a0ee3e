"""The audit trail and its archive (home region), and the archive's copy (second region).

Deployed once per environment, after the regional stacks: AuditReplicaStack in
the first additional region, then AuditStack in the home region. Both only
receive keys and buckets from the regional stacks of their own region; they
meet each other through names derived from configuration (see ArchiveReplication).
"""

from __future__ import annotations

from aws_cdk import Annotations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.audit_trail import AuditTrail
from pci_constructs.key_ring import KeyRing
from pci_constructs.log_archive import ArchiveReplication, LogArchive, ReplicaWriter
from pci_constructs.mac_volume_alarm import MacVolumeAlarm
from pci_constructs.permissions_boundary import (
    operator_role_name,
    trail_alarm_name_prefix,
    trail_log_group_name,
    trail_metric_namespace,
)
from pci_constructs.security_alarms import (
    SECURITY_EVENTS,
    ComplianceChangeAlerts,
    FindingAlerts,
    SecurityAlarms,
    SecurityEvent,
    break_glass_event,
)
from stacks.base import LandingZoneStack
from stacks.keys_stack import key_alias


def log_archive_bucket_name(config: EnvironmentConfig, region: str) -> str:
    """Globally unique and known before deployment, so the other region can name it (at most 61 characters)."""
    return f"pcilz-{config.name}-logs-{config.account}-{region}"


def archive_replication(config: EnvironmentConfig) -> ArchiveReplication | None:
    """The archive's copy goes to the first additional region; None when only one region is configured."""
    if config.replica_region is None:
        return None
    return ArchiveReplication(
        source_region=config.home_region,
        source_bucket_name=log_archive_bucket_name(config, config.home_region),
        replica_region=config.replica_region,
        replica_bucket_name=log_archive_bucket_name(config, config.replica_region),
        # IAM names are account-wide: the region keeps a moved replica from colliding with the old one.
        role_name=f"pci-lz-{config.name}-archive-repl-{config.replica_region}",
        replica_key_alias=key_alias(config, "log-archive-replica"),
    )


def _log_archive(
    scope: Construct,
    construct_id: str,
    config: EnvironmentConfig,
    *,
    encryption_key: kms.IKey,
    access_logs_bucket: s3.IBucket,
    region: str,
) -> LogArchive:
    """The archive and its replica share retention, lock mode and naming."""
    return LogArchive(
        scope,
        construct_id,
        encryption_key=encryption_key,
        access_logs_bucket=access_logs_bucket,
        bucket_name=log_archive_bucket_name(config, region),
        retention_days=config.audit.archive_retention_days,
        object_lock_mode=config.audit.object_lock_mode,
    )


class AuditReplicaStack(LandingZoneStack):
    """The log archive's copy in a second region; deploys before AuditStack, which replicates into it."""

    archive: LogArchive
    writer: ReplicaWriter

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        replication: ArchiveReplication,
        keys: KeyRing,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=replication.replica_region,
            description="PCI landing zone: cross-region copy of the audit-log archive",
        )
        self.archive = _log_archive(
            self,
            "LogArchiveReplica",
            config,
            encryption_key=keys.s3_data,
            access_logs_bucket=access_logs_bucket,
            region=replication.replica_region,
        )
        self.writer = ReplicaWriter(self, "ReplicaWriter", archive=self.archive, replication=replication)


class AuditStack(LandingZoneStack):
    """Home region: the multi-region trail, the object-locked archive, the security alarms."""

    archive: LogArchive
    trail: AuditTrail
    alarms: SecurityAlarms
    finding_alerts: FindingAlerts
    compliance_alerts: ComplianceChangeAlerts | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        keys: KeyRing,
        access_logs_bucket: s3.IBucket,
        replication: ArchiveReplication | None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=config.home_region,
            description="PCI landing zone: CloudTrail, log archive, security alarms",
        )
        audit = config.audit
        # The archive's default key is the trail's key: SecureBucket denies uploads under any other key.
        self.archive = _log_archive(
            self,
            "LogArchive",
            config,
            encryption_key=keys.logs,
            access_logs_bucket=access_logs_bucket,
            region=config.home_region,
        )
        if replication is not None:
            self.archive.replicate_to(replication)
        else:
            Annotations.of(self.archive).add_info(
                "Only one region is configured: the log archive is not replicated to a second region."
                " The compliance gate reports S3BucketReplicationEnabled on it; add a region, or"
                " acknowledge the single-region archive in this environment's file (acknowledgments) with your reason."
            )
        self.trail = AuditTrail(
            self,
            "Trail",
            trail_name=f"pci-lz-{config.name}-trail",
            bucket=self.archive.bucket,
            encryption_key=keys.logs,
            log_retention_days=config.log_retention_days,
            s3_data_event_buckets=audit.s3_data_event_buckets,
            lambda_data_event_functions=audit.lambda_data_event_functions,
            organization_id=audit.organization_id if audit.organization_trail else None,
            # Fixed names the permissions boundary protects (pci_constructs/permissions_boundary.py).
            log_group_name=trail_log_group_name(config.name),
        )
        self.alarms = SecurityAlarms(
            self,
            "SecurityAlarms",
            log_group=self.trail.log_group,
            topic_key=keys.alerts,
            email=config.alarm_email,
            metric_namespace=trail_metric_namespace(config.name),
            events=_security_events(self, config),
            alarm_name_prefix=trail_alarm_name_prefix(config.name),
        )
        # The home region's card-vault alarms notify this topic; its ARN travels by SSM parameter, never
        # by an export the audit stack would have to keep while a switched-off vault stack still imports it.
        ssm.StringParameter(
            self,
            "AlertsTopicArn",
            parameter_name=f"/pci-lz/{config.name}/alerts/topic-arn",
            string_value=self.alarms.topic.topic_arn,
            description="ARN of the security alerts SNS topic (home region), for alarms of other stacks",
        )
        vault = config.card_vault
        self.mac_volume_alarm = (
            MacVolumeAlarm(
                self,
                "VaultGenerateMacVolume",
                log_group=self.trail.log_group,
                metric_namespace=trail_metric_namespace(config.name),
                region=config.home_region,
                hmac_key_versions=len(vault.hmac_key_versions),
                margin=vault.generate_mac_alarm_margin,
                period_minutes=vault.known_card_alarm.period_minutes,
                topic=self.alarms.topic,
                # The boundary protects the trail's alarms by this prefix (pci_constructs/permissions_boundary.py).
                alarm_name=f"{trail_alarm_name_prefix(config.name)}VaultGenerateMacVolume",
            )
            if vault is not None and vault.enabled
            else None
        )
        self.finding_alerts = FindingAlerts(self, "FindingAlerts", topic=self.alarms.topic)
        # The conformance pack (Detection stack, home region) evaluates the IAM password policy.
        self.compliance_alerts = (
            ComplianceChangeAlerts(
                self,
                "ComplianceAlerts",
                topic=self.alarms.topic,
                rule_name_prefixes=WATCHED_CONFIG_RULE_PREFIXES,
            )
            if audit.config_mode != "off"
            else None
        )


# The conformance pack's IAM_PASSWORD_POLICY rule (compliance/conformance/pci-dss-v4.json).
WATCHED_CONFIG_RULE_PREFIXES = ("pci-dss-v4-iam-password-policy",)


def _security_events(stack: LandingZoneStack, config: EnvironmentConfig) -> tuple[SecurityEvent, ...]:
    """The standard events, and the break-glass role's use when the environment has one."""
    if not config.identity.break_glass_principals:
        return SECURITY_EVENTS
    role_arn = f"arn:{stack.partition}:iam::{stack.account}:role/{operator_role_name(config.name, 'break-glass')}"
    return (*SECURITY_EVENTS, break_glass_event(role_arn))
