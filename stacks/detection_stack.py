"""Per-region detective controls: Config, Security Hub, GuardDuty, each behind its flag."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.detective_controls import ConfigRecorder, SecurityHub, ThreatDetection
from pci_constructs.key_ring import KeyRing
from stacks.base import LandingZoneStack

CONFORMANCE_PACK_TEMPLATE = Path(__file__).resolve().parent.parent / "compliance" / "conformance" / "pci-dss-v4.json"


def detection_enabled(config: EnvironmentConfig) -> bool:
    audit = config.audit
    return audit.config_enabled or audit.security_hub_enabled or audit.guardduty_enabled


class DetectionStack(LandingZoneStack):
    """One region's Config recorder and conformance pack, Security Hub and GuardDuty."""

    config_recorder: ConfigRecorder | None
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
        self.config_recorder = (
            ConfigRecorder(
                self,
                "Config",
                encryption_key=keys.s3_data,
                access_logs_bucket=access_logs_bucket,
                # IAM and other global resources are recorded once, in the home region.
                record_global_resources=region == config.home_region,
                conformance_pack_name=f"pci-lz-{config.name}-pci-dss-v4",
                conformance_pack_template=CONFORMANCE_PACK_TEMPLATE.read_text(encoding="utf-8"),
                retention_days=audit.archive_retention_days,
            )
            if audit.config_enabled
            else None
        )
        self.security_hub = (
            SecurityHub(
                self,
                "SecurityHub",
                aggregate_regions=config.additional_regions if region == config.home_region else (),
            )
            if audit.security_hub_enabled
            else None
        )
        self.threat_detection = ThreatDetection(self, "GuardDuty") if audit.guardduty_enabled else None
