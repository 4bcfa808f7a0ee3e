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

Revocation is never silently absent (issue 19 finding 9): the construct takes exactly one of
`revocation` and `revocation_waiver`. Without a CRL Elastic Load Balancing checks no revocation at
all ("Mutual authentication with TLS in Application Load Balancer": revocation is checked only against
the CRLs added to the trust store), so a revoked client certificate is accepted until it expires; a
`RevocationWaiver` records that accepted risk with its governance (PCI DSS v4.0.1 12.3.1: owner,
approver other than the owner, approval date, ticket, a review at most 12 months ahead, reason), checked
by the rules the acknowledgment registry uses (pci_constructs/governance.py). The waiver is written into
the trust store's template metadata (`REVOCATION_WAIVER_METADATA`), where the evidence reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from pci_constructs.governance import PENDING, governance_problems, reason_problem

# The trust store's template metadata key holding the waiver of revocation (RevocationWaiver.metadata()).
REVOCATION_WAIVER_METADATA = "pci-lz:client-revocation-waiver"


@dataclass(frozen=True)
class RevocationList:
    """Where the CRL is: an object version in a versioned bucket (the version pins what is deployed)."""

    bucket: str
    key: str
    version: str


@dataclass(frozen=True, kw_only=True)
class RevocationWaiver:
    """The accepted risk of a trust store without a CRL: a revoked client certificate is accepted until it expires.

    `owner` accepts the risk; `approver` approved it (never the owner, compared case-insensitively;
    "pending" until known) on `approval_date` (a date, or "pending") under `ticket` (or "pending");
    `review_by` is the next review (not passed, at most 12 months ahead of the day the construct is built);
    `reason` says why (specific, at least 40 characters). PCI DSS v4.0.1 12.3.1.
    """

    reason: str
    owner: str
    review_by: date
    approver: str = PENDING
    approval_date: date | Literal["pending"] = PENDING
    ticket: str = PENDING

    def problems(self, today: date) -> list[str]:
        """Why the waiver is not acceptable on `today` (empty when it is)."""
        found = [p for p in (reason_problem(self.reason),) if p is not None]
        found += governance_problems(
            owner=self.owner,
            approver=self.approver,
            approval_date=self.approval_date,
            ticket=self.ticket,
            review_by=self.review_by,
            today=today,
        )
        return found

    def metadata(self) -> dict[str, str]:
        """The waiver as the trust store's template metadata: every field as text (dates in ISO form)."""
        return {
            "owner": self.owner,
            "approver": self.approver,
            "approval_date": self.approval_date.isoformat()
            if isinstance(self.approval_date, date)
            else self.approval_date,
            "ticket": self.ticket,
            "review_by": self.review_by.isoformat(),
            "reason": self.reason,
        }


class ClientTrustStore(Construct):
    """`mutual_authentication` is what the HTTPS listener takes: verify mode, expired certificates refused.

    Exactly one of `revocation` (the CRL, added as a `TrustStoreRevocation`) and `revocation_waiver`
    (no CRL: the accepted risk, written into the trust store's metadata) is required. Raises ValueError
    for neither, both, a waiver whose governance fails on `today` (default: the real date), a CRL
    without key or version, or a bundle that is not PEM certificates or holds a private key.
    """

    bundle: s3_assets.Asset
    trust_store: elbv2.TrustStore
    mutual_authentication: elbv2.MutualAuthentication
    revocation: elbv2.TrustStoreRevocation | None
    revocation_waiver: RevocationWaiver | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ca_bundle: Path,
        name: str,
        revocation: RevocationList | None = None,
        revocation_waiver: RevocationWaiver | None = None,
        today: date | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if revocation is None and revocation_waiver is None:
            raise ValueError(
                "ClientTrustStore: pass revocation (the client CA's CRL, RevocationList) or revocation_waiver"
                " (RevocationWaiver: the accepted risk of no revocation check, with owner, approver and review_by)"
            )
        if revocation is not None and revocation_waiver is not None:
            raise ValueError("ClientTrustStore: pass revocation or revocation_waiver, not both")
        if revocation_waiver is not None:
            problems = revocation_waiver.problems(today or date.today())
            if problems:
                raise ValueError("ClientTrustStore revocation_waiver: " + "; ".join(problems))
        self.revocation_waiver = revocation_waiver
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
        if revocation_waiver is not None:
            store = self.trust_store.node.default_child
            assert isinstance(store, elbv2.CfnTrustStore)
            store.add_metadata(REVOCATION_WAIVER_METADATA, revocation_waiver.metadata())
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
