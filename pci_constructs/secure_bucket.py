"""The one S3 bucket construct of the landing zone (PCI DSS 3.5, 4.2, 10.2).

Every bucket: Block Public Access, versioning, ACLs disabled, TLS 1.2+ only,
server-side encryption (SSE-KMS with a bucket key; SSE-S3 only where AWS
requires it, with the reason given), server access logging (except for the
access-log bucket itself), lifecycle for old versions, retained on delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pci_constructs.retention import retain

MIN_TLS_VERSION = 1.2


class SecureBucket(Construct):
    """A bucket with the landing zone's defaults; options only add, never weaken."""

    bucket: s3.Bucket
    encryption_key: kms.IKey | None
    OWN_LIFECYCLE_RULES = 1  # rules of its own before the caller's `lifecycle_rules`

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        s3_managed_encryption_reason: str | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_prefix: str | None = None,
        is_access_log_target: bool = False,
        noncurrent_version_expiration_days: int = 365,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        object_lock_retention: s3.ObjectLockRetention | None = None,
        bucket_name: str | None = None,
        encryption_exempt_prefixes: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if (encryption_key is None) == (s3_managed_encryption_reason is None):
            raise ValueError(
                "give exactly one of encryption_key (SSE-KMS, the default choice) or"
                " s3_managed_encryption_reason (SSE-S3, only where an AWS service requires it)"
            )
        if is_access_log_target == (access_logs_bucket is not None):
            raise ValueError(
                "access_logs_bucket is required, except for the access-log bucket itself"
                " (is_access_log_target=True), which must not log to another bucket"
            )
        if noncurrent_version_expiration_days < 1:
            raise ValueError("noncurrent_version_expiration_days must be at least 1")
        self.encryption_key = encryption_key

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            enforce_ssl=True,
            minimum_tls_version=MIN_TLS_VERSION,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=access_logs_prefix,
            object_lock_enabled=object_lock_retention is not None or None,
            object_lock_default_retention=object_lock_retention,
            # S3 "Transitioning objects using Amazon S3 Lifecycle": with the default
            # (all_storage_classes_128K) objects under 128 KB never transition at all; this lets
            # them reach Glacier Flexible Retrieval / Deep Archive, and a rule's own
            # ObjectSizeGreaterThan filter (see LogArchive) takes precedence for the other classes.
            transition_default_minimum_object_size=s3.TransitionDefaultMinimumObjectSize.VARIES_BY_STORAGE_CLASS,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersionsAndAbortUploads",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *lifecycle_rules,
            ],
        )
        retain(self.bucket)
        self._deny_unexpected_encryption(encryption_key, encryption_exempt_prefixes)
        if is_access_log_target:
            self._deny_log_delivery_for_other_accounts()

    def _deny_put(
        self,
        sid: str,
        conditions: dict[str, Any],
        *,
        exempt_prefixes: Sequence[str] = (),
        principal: iam.IPrincipal | None = None,
    ) -> None:
        """Deny `s3:PutObject` to `principal` (everyone by default) under `conditions`, outside `exempt_prefixes`."""
        scope: dict[str, Any] = (
            {"not_resources": [self.bucket.arn_for_objects(f"{p}*") for p in exempt_prefixes]}
            if exempt_prefixes
            else {"resources": [self.bucket.arn_for_objects("*")]}
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[principal or iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                conditions=conditions,
                **scope,
            )
        )

    def _deny_log_delivery_for_other_accounts(self) -> None:
        """S3 log delivery writes here only for this account's buckets.

        The per-prefix grants CDK adds for source buckets in other stacks carry no
        `aws:SourceAccount` condition (cross-stack, it cannot name the source ARN), so
        one explicit deny closes the confused-deputy path for all of them.
        """
        # "Enabling Amazon S3 server access logging": the logging service principal sends aws:SourceAccount.
        self._deny_put(
            "DenyLogDeliveryForOtherAccounts",
            {"StringNotEquals": {"aws:SourceAccount": Stack.of(self).account}},
            principal=iam.ServicePrincipal("logging.s3.amazonaws.com"),
        )

    def _deny_unexpected_encryption(self, encryption_key: kms.IKey | None, exempt_prefixes: Sequence[str]) -> None:
        """The source guide's DenyUnEncryptedObjectUploads, tightened to the expected algorithm and key.

        A request that names no encryption gets the bucket default (the same algorithm and
        key), so nothing is stored unencrypted; a request that names another algorithm or
        another KMS key is denied. Denying requests without the header would break AWS log
        delivery services, which rely on the bucket default. `exempt_prefixes` are keys an
        AWS service writes with SSE-S3 whatever the bucket default (CloudTrail digest files).
        """
        expected = "aws:kms" if encryption_key else "AES256"
        self._deny_put(
            "DenyUnexpectedEncryptionAlgorithm",
            {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": expected}},
            exempt_prefixes=exempt_prefixes,
        )
        # SSE-C names no x-amz-server-side-encryption header, so the statement above lets it through;
        # objects under a key that AWS never holds are unreadable to the owner (a known ransomware path).
        self._deny_put(
            "DenyCustomerProvidedKeys",
            {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        )
        if encryption_key is not None:
            self._deny_put(
                "DenyOtherKmsKeys",
                {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": encryption_key.key_arn}},
                exempt_prefixes=exempt_prefixes,
            )
