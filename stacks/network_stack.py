"""Per-region segmented network (PCI DSS 1.2-1.4, 10.2 flow logs)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig
from pci_constructs.egress_firewall import EgressFirewall
from pci_constructs.segmented_vpc import SegmentedVpc
from stacks.base import LandingZoneStack


class NetworkStack(LandingZoneStack):
    network: SegmentedVpc
    egress_firewall: EgressFirewall | None

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
            egress_firewall_subnets=config.egress.mode == "firewall",
        )
        self.egress_firewall = None
        network = self.network
        if network.firewall_subnets is not None and network.egress_subnets is not None:
            self.egress_firewall = EgressFirewall(
                self,
                "EgressFirewall",
                name_prefix=f"pci-lz-{config.name}",
                vpc=network.vpc,
                firewall_subnets=network.firewall_subnets.subnets,
                application_subnets=network.application_subnets.subnets,
                egress_subnets=network.egress_subnets.subnets,
                allowed_domains=config.egress.allowed_domains,
                log_key=log_key,
                log_retention_days=config.log_retention_days,
            )
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
