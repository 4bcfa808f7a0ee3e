"""Per-region public edge: WAF-protected, TLS-only load balancer (PCI DSS 1.4, 4.2.1, 6.4.2, 10.2)."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config import EnvironmentConfig
from config.models import REPO_ROOT
from pci_constructs.card_vault import API_PATH_PREFIX, BATCH_MAX_BODY_BYTES, BATCH_PATH, CLIENT_HEADERS
from pci_constructs.client_trust_store import ClientTrustStore, RevocationList, RevocationWaiver
from pci_constructs.key_ring import KeyRing
from pci_constructs.protected_alb import ProtectedAlb
from pci_constructs.segmented_vpc import SegmentedVpc
from pci_constructs.web_acl import CardNumberBlock, LargeBodyPath, RegionalWebAcl
from stacks.base import LandingZoneStack


class EdgeStack(LandingZoneStack):
    """The only internet-facing entry point of a region; workloads add their targets to its listener.

    A workload attaches a target group and listener rules to `alb.https_listener`; until one
    does, every request gets a 404. Security response headers (HSTS, CSP, ...) are the
    workload's job: the load balancer does not add headers to responses.
    """

    web_acl: RegionalWebAcl
    alb: ProtectedAlb
    client_trust_store: ClientTrustStore | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        region: str,
        keys: KeyRing,
        network: SegmentedVpc,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=region,
            description="PCI landing zone: public load balancer behind AWS WAF",
        )
        edge = config.edge
        vault = config.card_vault
        vault_on = vault is not None and vault.enabled
        # The WAF web ACL and its association must share the ALB's stack: an association
        # (like the nag rules that look for it) refers to the load balancer in its own template.
        self.web_acl = RegionalWebAcl(
            self,
            "WebAcl",
            name=f"pci-lz-{config.name}-edge",
            rate_limit=edge.waf_rate_limit,
            rate_window_seconds=edge.waf_rate_window_seconds,
            max_body_bytes=edge.max_body_bytes,
            log_key=keys.logs,
            log_retention_days=config.log_retention_days,
            # A 100-card batch is past the 8 KB WAF inspects at an ALB: that one path gets its own limit.
            large_body_paths=[LargeBodyPath(path=BATCH_PATH, max_bytes=BATCH_MAX_BODY_BYTES)] if vault_on else [],
            # The WAF and ALB logs record request lines and headers the vault's masker never sees.
            card_number_block=(
                CardNumberBlock(path_prefix=API_PATH_PREFIX, headers=CLIENT_HEADERS) if vault_on else None
            ),
        )
        self.client_trust_store = None
        if vault is not None and vault.enabled:
            self.client_trust_store = ClientTrustStore(
                self,
                "ClientTrustStore",
                ca_bundle=REPO_ROOT / vault.client_ca_bundle,
                name=f"pci-lz-{config.name}-clients",
                revocation=(
                    RevocationList(bucket=crl.bucket, key=crl.key, version=crl.version)
                    if (crl := vault.client_crl) is not None
                    else None
                ),
                # No CRL: the configuration's accepted risk (card_vault.client_crl_waiver), exactly one of the two.
                # The configuration's model and the construct's carry the same six fields.
                revocation_waiver=(
                    RevocationWaiver(**waiver.model_dump()) if (waiver := vault.client_crl_waiver) is not None else None
                ),
            )
        self.alb = ProtectedAlb(
            self,
            "PublicAlb",
            vpc=network.vpc,
            subnets=ec2.SubnetSelection(subnets=network.public_subnets.subnets),
            security_group=network.edge_security_group,
            certificate_arn=config.regions[region].certificate_arn,
            tls_policy=edge.tls_policy,
            web_acl=self.web_acl,
            access_logs_bucket=access_logs_bucket,
            log_expiry_days=edge.alb_log_expiry_days,
            mutual_authentication=self.client_trust_store.mutual_authentication if self.client_trust_store else None,
        )
        # The card vault's listener rule is on this listener: pinned, so turning the vault off (which removes
        # the Workload stack from the app, not from the account) does not drop the export it imports.
        self.pin_exports(self.alb.https_listener.listener_arn)
