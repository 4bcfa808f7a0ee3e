"""Per-region workload: the card vault behind the edge's load balancer (PCI DSS 3.2-3.7, 7.2, 8.3, 10.2)."""

from __future__ import annotations

from typing import Literal

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.alert_topic import RegionalAlertTopic
from pci_constructs.card_vault import (
    DATABASE_USERS,
    CardSearchGuard,
    CardVault,
    ClientCrlCheck,
    DetokenizeLimits,
    KnownCardAlarm,
    ReservedConcurrency,
    ShredEpochs,
    VaultClient,
    VaultDatabase,
)
from pci_constructs.encrypted_database import EncryptedDatabase
from pci_constructs.key_ring import KeyRing
from pci_constructs.permissions_boundary import protected_alarm_name_prefix
from pci_constructs.protected_alb import ProtectedAlb
from pci_constructs.segmented_vpc import SegmentedVpc
from stacks.base import LandingZoneStack
from stacks.keys_stack import key_alias_prefix


def card_vault_enabled(config: EnvironmentConfig) -> bool:
    return config.card_vault is not None and config.card_vault.enabled


def card_vault_database_users(config: EnvironmentConfig) -> tuple[str, ...]:
    """The database users the proxy logs in as (none without the vault)."""
    return DATABASE_USERS if card_vault_enabled(config) else ()


def proxy_parameter_name(config: EnvironmentConfig, attribute: Literal["endpoint", "arn"]) -> str:
    """SSM parameter (regional) where the data stack publishes an attribute of its RDS Proxy."""
    return f"/pci-lz/{config.name}/database/proxy-{attribute}"


def alerts_topic_parameter_name(config: EnvironmentConfig) -> str:
    """SSM parameter (home region) where the audit stack publishes the security alerts topic's ARN."""
    return f"/pci-lz/{config.name}/alerts/topic-arn"


def vault_target_group_name(environment: str) -> str:
    """The card vault's ALB target group: fixed, so the API's permission can name it as SourceArn.

    Unique per account and region (a target group's scope) because the environment name is, and at
    most 31 characters for any valid name (`name` is 2-21). Fixed after the first deploy like `name`."""
    return f"pcilz-{environment}-api"


class WorkloadStack(LandingZoneStack):
    """Composes the card vault from the keys, network, database and edge of its region."""

    vault: CardVault
    alarm_topic: sns.ITopic
    regional_alerts: RegionalAlertTopic | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        region: str,
        keys: KeyRing,
        network: SegmentedVpc,
        database: EncryptedDatabase,
        alb: ProtectedAlb,
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, region=region, description="PCI landing zone: card vault workload"
        )
        vault = config.card_vault
        if vault is None:
            raise ValueError("WorkloadStack needs card_vault configured")
        # Home region: the security alerts topic, by its ARN from the audit stack's SSM parameter (not an
        # export: the vault can be switched off, and the audit stack must never keep an export for it).
        # Elsewhere: CloudWatch alarms notify a topic of their own region, so the region gets one.
        self.regional_alerts = None
        if region == config.home_region:
            self.alarm_topic = sns.Topic.from_topic_arn(
                self,
                "AlertsTopic",
                ssm.StringParameter.value_for_string_parameter(self, alerts_topic_parameter_name(config)),
            )
        else:
            self.regional_alerts = RegionalAlertTopic(
                self,
                "VaultAlerts",
                topic_key=keys.alerts,
                email=config.alarm_email,
                display_name=f"PCI landing zone card-vault alerts ({region})",
            )
            self.alarm_topic = self.regional_alerts.topic
        resource_id = database.instance.instance_resource_id
        assert resource_id is not None  # an instance defined here always has its DbiResourceId attribute
        self.vault = CardVault(
            self,
            "CardVault",
            alias_prefix=key_alias_prefix(config),
            key_administrator_role_arns=config.key_administrator_role_arns,
            vpc=network.vpc,
            subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
            endpoint_security_group=network.endpoint_security_group,
            database=VaultDatabase(
                proxy=self._proxy(config, database),
                instance_endpoint=database.instance.db_instance_endpoint_address,
                instance_resource_id=resource_id,
                port=database.port,
                database_name=config.database.database_name,
                master_secret=database.attached_secret,
                database_security_group=network.database_security_group,
                client_security_group=database.function_client_security_group,
            ),
            cardholder_data_key=keys.cardholder_data,
            secrets_key=keys.secrets,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
            listener=alb.https_listener,
            listener_rule_priority=vault.listener_rule_priority,
            target_group_name=vault_target_group_name(config.name),
            clients=tuple(
                VaultClient(
                    client_id=c.id,
                    subject=c.subject,
                    issuer=c.issuer,
                    rights=c.rights,
                    tokenize_per_minute=c.tokenize_per_minute or vault.tokenize_per_minute,
                    known_card_alarm_percent=c.known_card_alarm_percent or vault.known_card_alarm.percent,
                    new_card_alarm_count=c.new_card_alarm_count or vault.card_search.new_card_alarm_count,
                )
                for c in vault.clients
            ),
            alarm_topic=self.alarm_topic,
            known_card_alarm=KnownCardAlarm(
                min_answers=vault.known_card_alarm.min_answers, period_minutes=vault.known_card_alarm.period_minutes
            ),
            card_search=CardSearchGuard(
                max_siblings=vault.card_search.max_siblings,
                window_minutes=vault.card_search.window_minutes,
                sibling_alarm_count=vault.card_search.sibling_alarm_count,
            ),
            detokenize_limits=DetokenizeLimits(
                per_minute=vault.detokenize_per_minute, alarm_count=vault.detokenize_alarm_count
            ),
            detokenize_caller_role_arns=vault.detokenize_caller_role_arns,
            purge_grace_days=vault.purge_grace_days,
            purge_schedule_hour_utc=vault.purge_schedule_hour_utc,
            reserved_concurrency=ReservedConcurrency(
                api=vault.reserved_concurrency.api,
                detokenize=vault.reserved_concurrency.detokenize,
                purge=vault.reserved_concurrency.purge,
                migration=vault.reserved_concurrency.migration,
            ),
            hmac_key_versions=vault.hmac_key_versions,
            decrypt_cache_max_age_seconds=vault.decrypt_cache_max_age_seconds,
            shred_epochs=None
            if vault.shred_epochs is None
            else ShredEpochs(
                epochs=vault.shred_epochs.epochs,
                epoch_days=vault.shred_epochs.epoch_days,
                deletion_window_days=vault.shred_epochs.deletion_window_days,
                schedule_hour_utc=vault.shred_epochs.schedule_hour_utc,
                # The longest a WAL, snapshot or PITR copy of a deleted card lives.
                backup_retention_days=config.database.backup_retention_days,
            ),
            # Out of a boundary role's reach (DeleteAlarms, DisableAlarmActions, PutMetricAlarm, SetAlarmState).
            alarm_name_prefix=f"{protected_alarm_name_prefix(config.name)}vault-",
            # One list for every region's trust store, one check: in the home region, whose S3 gateway endpoint
            # serves the CRL's bucket (a gateway endpoint reaches its own region's buckets only).
            client_crl=(
                ClientCrlCheck(
                    bucket=crl.bucket,
                    key=crl.key,
                    version=crl.version,
                    warn_days=crl.warn_days_before_next_update,
                    schedule_hour_utc=vault.purge_schedule_hour_utc,
                    kms_key_arn=crl.kms_key_arn,
                )
                if (crl := vault.client_crl) is not None and region == config.home_region
                else None
            ),
        )

    def _proxy(self, config: EnvironmentConfig, database: EncryptedDatabase) -> rds.IDatabaseProxy | None:
        """The data stack's proxy, read from its SSM parameters at deploy (CloudFormation resolves them).

        Not an export: with `database.enable_proxy` turned off the data stack deletes the proxy
        before this stack stops using it, and CloudFormation refuses to delete an imported export.
        """
        if database.proxy is None:
            return None
        self.add_stack_dependency(Stack.of(database), "the proxy's SSM parameters must exist first")
        return rds.DatabaseProxy.from_database_proxy_attributes(
            self,
            "DatabaseProxy",
            db_proxy_arn=ssm.StringParameter.value_for_string_parameter(self, proxy_parameter_name(config, "arn")),
            # A literal (a token would be an export again), as the Data stack names it: the subnet count in it.
            db_proxy_name=database.proxy_name or "",
            endpoint=ssm.StringParameter.value_for_string_parameter(self, proxy_parameter_name(config, "endpoint")),
            security_groups=[],
        )
