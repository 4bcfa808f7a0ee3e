"""Per-region detective controls: Config, Security Hub, GuardDuty, each behind its flag."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations
from aws_cdk import aws_config as config_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.detective_controls import (
    ConfigRecorder,
    ManagedConformancePack,
    SecurityHub,
    ThreatDetection,
    conformance_pack,
)
from pci_constructs.key_ring import KeyRing
from pci_constructs.permissions_boundary import conformance_pack_role_name
from stacks.base import LandingZoneStack

CONFORMANCE_PACK_TEMPLATE = Path(__file__).resolve().parent.parent / "compliance" / "conformance" / "pci-dss-v4.json"


GUARDDUTY_EXISTING_NOTE = (
    "audit.guardduty_mode is 'existing': no detector is created here (a region has one per account)."
    " On the account's detector, turn on S3 protection, RDS Protection (RDS_LOGIN_EVENTS: the CDE"
    " database's logins), Lambda Protection (LAMBDA_NETWORK_LOGS: the card vault's functions) and"
    " Runtime Monitoring with agent management, or PCI DSS 11.5.1 is not met."
)

SECURITY_HUB_EXISTING_NOTE = (
    "audit.security_hub_mode is 'existing': only the PCI DSS v4.0.1 and FSBP standards are enabled here."
    " The finding alerts rule in the home region sees other regions' findings only if the account's"
    " finding aggregator is in the home region; otherwise they alert wherever the aggregator is."
)


def detection_enabled(config: EnvironmentConfig) -> bool:
    """Whether a Detection stack would create anything: Config and Security Hub add resources in
    `create` and `existing` (the pack, the standards), GuardDuty only in `create` (`existing` is a
    note). A stack with no resources is left out: CloudFormation refuses a template without any."""
    audit = config.audit
    return audit.config_mode != "off" or audit.security_hub_mode != "off" or audit.guardduty_mode == "create"


class DetectionStack(LandingZoneStack):
    """One region's Config recorder and conformance pack, Security Hub and GuardDuty.

    Each follows its `audit.*_mode`: `create` builds the account-level singleton, `existing` adds
    only what sits on top of one the account already has (AWS Control Tower), `off` nothing.
    """

    config_recorder: ConfigRecorder | None
    conformance_pack: config_.CfnConformancePack | None
    # AWS's PCI DSS 4.0 sample pack from the account owner's bucket (audit.conformance_packs.aws_sample_s3_uri).
    aws_sample_pack: config_.CfnConformancePack | None
    # AWS's managed PCI DSS v4 pack by its source identifier (audit.conformance_packs.aws_managed).
    aws_managed_pack: ManagedConformancePack | None
    security_hub: SecurityHub | None
    threat_detection: ThreatDetection | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        region: str,
        keys: KeyRing,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=region,
            description="PCI landing zone: AWS Config, Security Hub and GuardDuty in this region",
        )
        audit = config.audit
        pack_name = f"pci-lz-{config.name}-pci-dss-v4"
        packs = audit.conformance_packs
        pack_template = CONFORMANCE_PACK_TEMPLATE.read_text(encoding="utf-8") if packs.project else None
        self.config_recorder, self.conformance_pack, self.aws_sample_pack = None, None, None
        if audit.config_mode == "create":
            self.config_recorder = ConfigRecorder(
                self,
                "Config",
                encryption_key=keys.s3_data,
                access_logs_bucket=access_logs_bucket,
                # IAM and other global resources are recorded once, in the home region.
                record_global_resources=region == config.home_region,
                conformance_pack_name=pack_name,
                conformance_pack_template=pack_template,
                retention_days=audit.archive_retention_days,
            )
            self.conformance_pack = self.config_recorder.conformance_pack
        elif audit.config_mode == "existing" and pack_template is not None:
            # The account's recorder (Control Tower's) evaluates the pack's rules.
            self.conformance_pack = conformance_pack(
                self, "ConformancePack", name=pack_name, template_body=pack_template
            )
        if audit.config_mode != "off" and packs.aws_sample_s3_uri is not None:
            self.aws_sample_pack = conformance_pack(
                self,
                "AwsSampleConformancePack",
                name=f"pci-lz-{config.name}-aws-pci-dss-4",
                template_s3_uri=packs.aws_sample_s3_uri.replace("{region}", region),
            )
            if self.config_recorder is not None:
                self.aws_sample_pack.node.add_dependency(*self.config_recorder.ready)
        self.aws_managed_pack = None
        if audit.config_mode != "off" and packs.aws_managed is not None:
            self.aws_managed_pack = ManagedConformancePack(
                self,
                "AwsManagedConformancePack",
                name=f"pci-lz-{config.name}-aws-pci-dss-v4",
                source_identifier=packs.aws_managed,
                # A named role: the permissions boundary denies putting or deleting a pack to every other role.
                role_name=conformance_pack_role_name(config.name, region),
                log_key=keys.logs,
                log_retention_days=config.log_retention_days,
            )
            if self.config_recorder is not None:
                self.aws_managed_pack.pack.node.add_dependency(*self.config_recorder.ready)
        self.security_hub = None
        if audit.security_hub_mode != "off":
            create_hub = audit.security_hub_mode == "create"
            self.security_hub = SecurityHub(
                self,
                "SecurityHub",
                aggregate_regions=config.additional_regions if create_hub and region == config.home_region else (),
                existing_hub=not create_hub,
            )
        if audit.security_hub_mode == "existing" and region == config.home_region:
            Annotations.of(self).add_info(SECURITY_HUB_EXISTING_NOTE)
        self.threat_detection = ThreatDetection(self, "GuardDuty") if audit.guardduty_mode == "create" else None
        if audit.guardduty_mode == "existing":
            Annotations.of(self).add_info(GUARDDUTY_EXISTING_NOTE)
