"""Per-region segmented network (PCI DSS 1.2-1.4, 10.2 flow logs)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.segmented_vpc import SegmentedVpc
from stacks.base import LandingZoneStack


class NetworkStack(LandingZoneStack):
    network: SegmentedVpc

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, region: str, log_key: kms.IKey
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, region=region, description="PCI landing zone: segmented three-tier VPC"
        )
        self.network = SegmentedVpc(
            self,
            "Network",
            cidr=config.regions[region].vpc_cidr,
            availability_zones=self.availability_zones,
            allowed_ingress_cidrs=config.allowed_ingress_cidrs,
            app_port=config.app_port,
            db_port=config.db_port,
            log_key=log_key,
            log_retention_days=config.log_retention_days,
            database_behind_proxy=config.database.enable_proxy,
        )
        network = self.network
        # What the data and edge stacks take from here; the proxy flag decides who imports the
        # application group, so every group, the VPC and every subnet is pinned (see pin_exports).
        self.pin_exports(
            network.vpc.vpc_id,
            *(
                subnet.subnet_id
                for tier in (network.public_subnets, network.application_subnets, network.cde_subnets)
                for subnet in tier.subnets
            ),
            *(
                group.security_group_id
                for group in (
                    network.edge_security_group,
                    network.application_security_group,
                    network.database_security_group,
                    network.endpoint_security_group,
                )
            ),
        )
