"""The ALB trust store for client certificates (mutual TLS, verify mode; PCI DSS v4.0.1 8.3.1, 4.2.1).

The CA bundle (PEM, public certificates only) ships with the app as an S3 asset; Elastic Load
Balancing reads it from the CDK asset bucket when CloudFormation creates or updates the trust
store ("Mutual authentication with TLS in Application Load Balancer": the trust store takes a
CA certificates bundle from S3). A changed bundle is a new asset object key, so CloudFormation
updates the trust store in place.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct


class ClientTrustStore(Construct):
    """`mutual_authentication` is what the HTTPS listener takes: verify mode, expired certificates refused."""

    bundle: s3_assets.Asset
    trust_store: elbv2.TrustStore
    mutual_authentication: elbv2.MutualAuthentication

    def __init__(self, scope: Construct, construct_id: str, *, ca_bundle: Path, name: str) -> None:
        super().__init__(scope, construct_id)
        text = ca_bundle.read_text(encoding="utf-8")
        if "PRIVATE KEY" in text or "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError(f"{ca_bundle}: must hold PEM CA certificates and no private key")
        self.bundle = s3_assets.Asset(self, "CaBundle", path=str(ca_bundle))
        self.trust_store = elbv2.TrustStore(
            self,
            "TrustStore",
            bucket=self.bundle.bucket,
            key=self.bundle.s3_object_key,
            trust_store_name=name,
        )
        self.mutual_authentication = elbv2.MutualAuthentication(
            mutual_authentication_mode=elbv2.MutualAuthenticationMode.VERIFY,
            trust_store=self.trust_store,
            ignore_client_certificate_expiry=False,
        )
