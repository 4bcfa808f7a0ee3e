"""The ALB trust store for client certificates (mutual TLS, verify mode; PCI DSS v4.0.1 8.3.1, 4.2.1).

The CA bundle (PEM, public certificates only) ships with the app as an S3 asset; Elastic Load
Balancing reads it from the CDK asset bucket when CloudFormation creates or updates the trust
store ("Mutual authentication with TLS in Application Load Balancer": the trust store takes a
CA certificates bundle from S3). A changed bundle is a new asset object key, so CloudFormation
updates the trust store in place.

Revocation (`revocation`): a PEM-encoded certificate revocation list, issued by a CA of the bundle,
in an S3 bucket the configuration names, added as `AWS::ElasticLoadBalancingV2::TrustStoreRevocation`
("Mutual authentication with TLS in Application Load Balancer", certificate revocation; AWS
re:Post "configure a CRL for mTLS in ELB"). Elastic Load Balancing reads the object when the
revocation is added (AddTrustStoreRevocations: InvalidRevocationContent for a bad format or
algorithm, TooManyTrustStoreRevocationEntries past the trust store's quota) and never fetches it
again: its `RevocationContents` "requires replacement" on update, so each new CRL is a new S3
object version written into the configuration and deployed; the replacement adds the new list
before CloudFormation removes the old.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct


@dataclass(frozen=True)
class RevocationList:
    """Where the CRL is: an object version in a versioned bucket (the version pins what is deployed)."""

    bucket: str
    key: str
    version: str


class ClientTrustStore(Construct):
    """`mutual_authentication` is what the HTTPS listener takes: verify mode, expired certificates refused."""

    bundle: s3_assets.Asset
    trust_store: elbv2.TrustStore
    mutual_authentication: elbv2.MutualAuthentication
    revocation: elbv2.TrustStoreRevocation | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ca_bundle: Path,
        name: str,
        revocation: RevocationList | None = None,
    ) -> None:
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
        self.revocation = None
        if revocation is not None:
            if not revocation.key or not revocation.version:
                raise ValueError("revocation: the CRL's key and object version are required")
            self.revocation = elbv2.TrustStoreRevocation(
                self,
                "Revocation",
                trust_store=self.trust_store,
                revocation_contents=[
                    elbv2.RevocationContent(
                        bucket=s3.Bucket.from_bucket_name(self, "CrlBucket", revocation.bucket),
                        key=revocation.key,
                        version=revocation.version,
                        revocation_type=elbv2.RevocationType.CRL,
                    )
                ],
            )
        self.mutual_authentication = elbv2.MutualAuthentication(
            mutual_authentication_mode=elbv2.MutualAuthenticationMode.VERIFY,
            trust_store=self.trust_store,
            ignore_client_certificate_expiry=False,
        )
