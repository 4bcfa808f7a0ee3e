"""Per-region data protection: buckets, database, secrets, EBS defaults (PCI DSS 3.5-3.7, 8.6)."""

from __future__ import annotations

from typing import Literal

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.ebs_default_encryption import EbsDefaultEncryption
from pci_constructs.encrypted_database import ENHANCED_MONITORING_LOG_GROUP, EncryptedDatabase
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.key_ring import KeyRing
from pci_constructs.permissions_boundary import ebs_guard_role_name
from pci_constructs.secure_bucket import SecureBucket
from pci_constructs.segmented_vpc import SegmentedVpc
from stacks.base import LandingZoneStack
from stacks.workload_stack import card_vault_database_users, proxy_parameter_name


class DataStack(LandingZoneStack):
    access_logs: SecureBucket
    database: EncryptedDatabase
    enhanced_monitoring_logs: EncryptedLogGroup
    ebs_default_encryption: EbsDefaultEncryption

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        region: str,
        keys: KeyRing,
        network: SegmentedVpc,
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, region=region, description="PCI landing zone: encrypted data stores"
        )
        self.access_logs = SecureBucket(
            self,
            "AccessLogs",
            s3_managed_encryption_reason="S3 server access logging delivers only to SSE-S3 buckets",
            is_access_log_target=True,
        )
        # RDS enhanced monitoring writes every instance's OS metrics of the region into one log group,
        # RDSOSMetrics, and creates it unencrypted with 30-day retention if it is missing ("Setting up and
        # enabling Enhanced Monitoring"). Created here first, encrypted with the logs key (the key lets
        # CloudWatch Logs use it for any log group of this account and region) and kept the configured days.
        self.enhanced_monitoring_logs = EncryptedLogGroup(
            self,
            "EnhancedMonitoringLogs",
            encryption_key=keys.logs,
            retention_days=config.log_retention_days,
            log_group_name=ENHANCED_MONITORING_LOG_GROUP,
        )
        database = config.database
        self.database = EncryptedDatabase(
            self,
            "Database",
            vpc=network.vpc,
            database_subnets=ec2.SubnetSelection(subnets=network.cde_subnets.subnets),
            database_security_group=network.database_security_group,
            client_security_group=network.application_security_group,
            rotation_subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
            endpoint_security_group=network.endpoint_security_group,
            instance_identifier=f"pci-lz-{config.name}-cde",
            port=config.db_port,
            storage_key=keys.cardholder_data,
            secrets_key=keys.secrets,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
            instance_type=database.instance_type,
            allocated_storage_gib=database.allocated_storage_gib,
            max_allocated_storage_gib=database.max_allocated_storage_gib,
            backup_retention_days=database.backup_retention_days,
            rotation_days=database.credential_rotation_days,
            database_name=database.database_name,
            enable_proxy=database.enable_proxy,
            proxy_database_users=card_vault_database_users(config),
            proxy_max_connections_percent=database.proxy_max_connections_percent,
        )
        self.database.instance.node.add_dependency(self.enhanced_monitoring_logs)
        if self.database.proxy is not None:
            # The workload reads the proxy through SSM parameters, not exports: turning the proxy off
            # deletes it (and would delete an export the workload still imports) before the workload
            # stack is updated to connect to the instance.
            published: tuple[tuple[Literal["endpoint", "arn"], str], ...] = (
                ("endpoint", self.database.proxy.endpoint),
                ("arn", self.database.proxy.db_proxy_arn),
            )
            for attribute, value in published:
                ssm.StringParameter(
                    self,
                    f"Proxy{attribute.capitalize()}Parameter",
                    parameter_name=proxy_parameter_name(config, attribute),
                    string_value=value,
                    description=f"RDS Proxy {attribute} of the CDE database, read by the card vault at deploy",
                )
        # Edge, Audit, AuditReplica and Detection log here; the last two exist only in some configurations.
        self.pin_exports(self.access_logs.bucket.bucket_name)
        # The card vault's Workload stack reads these; `card_vault.enabled: false` removes it from the app,
        # but the deployed stack keeps importing them until it is destroyed (issue #22), and it reads the
        # instance's resource ID only with the proxy off.
        resource_id = self.database.instance.instance_resource_id
        assert resource_id is not None  # an instance defined here always has its DbiResourceId attribute
        self.pin_exports(
            self.database.instance.db_instance_endpoint_address,
            resource_id,
            self.database.attached_secret.secret_arn,
            self.database.function_client_security_group.security_group_id,
        )
        self.ebs_default_encryption = EbsDefaultEncryption(
            self,
            "EbsDefaultEncryption",
            encryption_key=keys.block_storage,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
            # A named guard role: the permissions boundary denies these settings to every other role.
            role_name=ebs_guard_role_name(config.name, region),
        )
