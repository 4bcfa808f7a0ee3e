"""The tamper-evident audit-log archive and its copy in a second region (PCI DSS 10.3.3, 10.5.1).

Logs stay in S3 Standard for 90 days (immediately available), move to Glacier
Instant Retrieval, then Glacier Flexible Retrieval, and expire when the
retention ends. S3 Object Lock keeps every version for at least that long and
the bucket policy denies deletes to everyone.

Replication crosses regions, and CDK cannot reference a resource of another
region's stack. Both sides therefore meet on names derived from configuration:
the replica side (deployed first, in the second region) owns the replication
role, its write permissions and an alias of its KMS key; the source side
attaches its read permissions to that role by name and points its replication
rule at the replica bucket's name and key alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pci_constructs.secure_bucket import REPLICATION_DESTINATION_ACTIONS, BucketReplication, SecureBucket

IMMEDIATELY_AVAILABLE_DAYS = 90  # PCI DSS 10.5.1: the last three months at hand
FLEXIBLE_RETRIEVAL_AFTER_DAYS = 180
MIN_RETENTION_DAYS = 365
# A transition rule filtered on size > 0 bytes overrides S3's 128 KB default minimum for transitions.
TRANSITION_OBJECTS_LARGER_THAN_BYTES = 0

ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]


@dataclass(frozen=True)
class ArchiveReplication:
    """The link between the archive and its copy, by names both sides derive from configuration."""

    source_region: str
    source_bucket_name: str
    replica_region: str
    replica_bucket_name: str
    role_name: str
    replica_key_alias: str  # "alias/...", created by the replica side for the replica bucket's key

    def __post_init__(self) -> None:
        if self.source_region == self.replica_region:
            raise ValueError("replica_region must differ from source_region: a copy in the same region is no copy")
        if not self.replica_key_alias.startswith("alias/"):
            raise ValueError(f"replica_key_alias {self.replica_key_alias!r} must start with 'alias/'")


class LogArchive(Construct):
    """PCI DSS 10.5.1 (12 months, 3 immediately available), 10.3.2-10.3.4 (protected from change and deletion).

    An object-locked SecureBucket with the archive lifecycle. Deletes of objects,
    versions and the bucket, and bypassing governance retention, are denied to
    every principal in the bucket policy.
    """

    secure_bucket: SecureBucket
    bucket: s3.Bucket

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs_bucket: s3.IBucket,
        retention_days: int,
        object_lock_mode: ObjectLockMode,
        bucket_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"retention_days={retention_days}: PCI DSS 10.5.1 needs at least {MIN_RETENTION_DAYS}")
        if object_lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"object_lock_mode={object_lock_mode!r}: choose GOVERNANCE or COMPLIANCE")
        retention = Duration.days(retention_days)
        lock = (
            s3.ObjectLockRetention.compliance(retention)
            if object_lock_mode == "COMPLIANCE"
            else s3.ObjectLockRetention.governance(retention)
        )
        self.secure_bucket = SecureBucket(
            self,
            "Archive",
            bucket_name=bucket_name,
            encryption_key=encryption_key,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix=f"{bucket_name}/",
            object_lock_retention=lock,
            noncurrent_version_expiration_days=retention_days,
            # CloudTrail writes digest files with SSE-S3 whatever the bucket default; log-file
            # validation (PCI DSS 10.3.4) depends on them arriving.
            encryption_exempt_prefixes=["AWSLogs/*/CloudTrail-Digest/"],
            lifecycle_rules=[
                # Most CloudTrail files are under 128 KB, which S3 skips by default ("Transitioning
                # objects using Amazon S3 Lifecycle", minimum object size): a size filter on the rule
                # takes precedence over that default, so every non-empty object transitions.
                s3.LifecycleRule(
                    id="ImmediateThenArchive",
                    object_size_greater_than=TRANSITION_OBJECTS_LARGER_THAN_BYTES,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(IMMEDIATELY_AVAILABLE_DAYS),
                        ),
                        # Retention is at least 365 days, so Flexible Retrieval's 90-day minimum always fits.
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=Duration.days(FLEXIBLE_RETRIEVAL_AFTER_DAYS),
                        ),
                    ],
                ),
                # Expiry has no size filter: every object, whatever its size, leaves when retention ends.
                s3.LifecycleRule(id="ExpireAfterRetention", expiration=retention),
            ],
        )
        self.bucket = self.secure_bucket.bucket
        # CloudFormation types ObjectSizeGreaterThan as a string; CDK writes the number (cfn-lint W9003).
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            f"LifecycleConfiguration.Rules.{SecureBucket.OWN_LIFECYCLE_RULES}.ObjectSizeGreaterThan",
            str(TRANSITION_OBJECTS_LARGER_THAN_BYTES),
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyDeletingAuditLogs",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:DeleteBucket",
                    "s3:BypassGovernanceRetention",
                ],
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
            )
        )

    def replicate_to(self, replication: ArchiveReplication) -> None:
        """Copy every new log object to the replica bucket, re-encrypted there with the replica's own key.

        The role is the replica side's (see `ReplicaWriter`); this side grants it read on
        this bucket and decrypt on this bucket's key, through S3 in this region only.
        """
        stack = Stack.of(self)
        if stack.region != replication.source_region:
            raise ValueError(f"replicate_to: this archive is in {stack.region}, not {replication.source_region}")
        self.secure_bucket.replicate_to(_bucket_replication(self, replication))


def _bucket_replication(scope: Construct, replication: ArchiveReplication) -> BucketReplication:
    """The archive link as a SecureBucket replication, the role and key named by configuration."""
    stack = Stack.of(scope)
    partition, account = stack.partition, stack.account
    return BucketReplication(
        role=iam.Role.from_role_name(scope, "ReplicationRole", replication.role_name),
        destination_bucket_arn=f"arn:{partition}:s3:::{replication.replica_bucket_name}",
        destination_region=replication.replica_region,
        destination_key_arn=(
            f"arn:{partition}:kms:{replication.replica_region}:{account}:{replication.replica_key_alias}"
        ),
        rule_id=f"AuditLogsTo-{replication.replica_region}",
    )


class ReplicaWriter(Construct):
    """PCI DSS 10.5.1: the replica side of the archive copy; only S3 replication writes into the replica.

    Owns the replication role (trusted by S3; only this account can pass it to a bucket), its
    permission to write replicas into `archive` and encrypt them with the replica
    key, and the key alias the source side names in its replication rule. Plain
    uploads into the replica are denied to everyone.
    """

    role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive: LogArchive,
        replication: ArchiveReplication,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if stack.region != replication.replica_region:
            raise ValueError(f"ReplicaWriter belongs in {replication.replica_region}, not {stack.region}")
        key = archive.secure_bucket.encryption_key
        assert key is not None  # LogArchive always passes a key
        kms.Alias(self, "KeyAlias", alias_name=replication.replica_key_alias, target_key=key)
        self.role = iam.Role(
            self,
            "Role",
            role_name=replication.role_name,
            description=(
                f"S3 replication of the audit-log archive from {replication.source_region} into {stack.region}"
            ),
            # "Setting up permissions for live replication" documents this trust without conditions and no
            # S3 page says replication sends aws:SourceArn/SourceAccount to STS; with them the role could
            # fail to be assumed. Another account cannot point its bucket at this role: naming it in a
            # replication configuration needs iam:PassRole on it, which only this account can grant.
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
        )
        iam.ManagedPolicy(
            self,
            "ReplicaWritePolicy",
            description="Write replicas of the audit-log archive into the replica bucket, encrypted with its key",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=list(REPLICATION_DESTINATION_ACTIONS),
                    resources=[archive.bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ),
            ],
        )
        archive.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyReplicationWritesHere",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[archive.bucket.arn_for_objects("*")],
            )
        )
