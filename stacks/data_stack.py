"""Per-region data protection: buckets, database and secrets (PCI DSS 3.5-3.7, 8.6)."""

from __future__ import annotations

from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.key_ring import KeyRing
from pci_constructs.secure_bucket import SecureBucket
from pci_constructs.segmented_vpc import SegmentedVpc
from stacks.base import LandingZoneStack


class DataStack(LandingZoneStack):
    access_logs: SecureBucket

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
        self.keys, self.network = keys, network
        self.access_logs = SecureBucket(
            self,
            "AccessLogs",
            s3_managed_encryption_reason="S3 server access logging delivers only to SSE-S3 buckets",
            is_access_log_target=True,
        )
