"""The account's (or organization's) multi-region CloudTrail trail (PCI DSS 10.2, 10.3, 10.5).

Written with the L1 `CfnTrail` on purpose: the L2 `Trail` adds bucket-policy
statements without an `aws:SourceArn` condition and supports only basic event
selectors, which cannot exclude the archive bucket from S3 data events.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup

_CLOUDTRAIL = "cloudtrail.amazonaws.com"
# Template metadata on the trail: {advanced event selector name: why it leaves out what it leaves out}, so the
# evidence states the reason beside the stores a selector excludes (evidence.workpapers.trail_object_coverage).
SELECTOR_REASONS_METADATA = "pci-lz:selector-exclusions"
ARCHIVE_EXCLUSION_REASON = (
    "the trail's own archive: recording object-level events on it would record CloudTrail's own deliveries,"
    " each of which would be delivered there again (the trail would feed itself)"
)
S3_SELECTOR_NAME = "S3 object-level access"


def _field(name: str, **operator: Sequence[str]) -> cloudtrail.CfnTrail.AdvancedFieldSelectorProperty:
    return cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field=name, **operator)


class AuditTrail(Construct):
    """PCI DSS 10.2.1 (all access and admin actions), 10.3.2-10.3.4 (log integrity), 10.5.1 (retention).

    One multi-region trail with global service events, log-file validation, KMS
    encryption, delivery to the log archive and to an encrypted log group;
    management events (read and write), S3 data events and Lambda data events.
    The archive bucket's policy lets only this trail write into it.
    """

    trail: cloudtrail.CfnTrail
    trail_arn: str
    log_group: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_name: str,
        bucket: s3.Bucket,
        encryption_key: kms.IKey,
        log_retention_days: int,
        s3_data_event_buckets: Sequence[str] | None,
        lambda_data_event_functions: Sequence[str] | None,
        organization_id: str | None = None,
        log_group_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if s3_data_event_buckets is not None and not s3_data_event_buckets:
            raise ValueError("s3_data_event_buckets: give at least one bucket, or None for every bucket")
        if lambda_data_event_functions is not None and not lambda_data_event_functions:
            raise ValueError("lambda_data_event_functions: give at least one function ARN, or None for every function")
        stack = Stack.of(self)
        partition, account, region = stack.partition, stack.account, stack.region
        self.trail_arn = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail_name}"

        # A fixed `log_group_name` lets a permissions boundary name the group (the landing zone's does).
        self.log_group = EncryptedLogGroup(
            self,
            "LogGroup",
            encryption_key=encryption_key,
            retention_days=log_retention_days,
            log_group_name=log_group_name,
        ).log_group
        delivery_role = iam.Role(
            self,
            "LogsDeliveryRole",
            description="Lets CloudTrail deliver this trail's events to its encrypted log group",
            # "Sending events to CloudWatch Logs" documents this trust without conditions; no CloudTrail page
            # says the service sends aws:SourceArn when it assumes the delivery role, and if it does not, the
            # trail fails to create. Only this account can pass the role to a trail (iam:PassRole).
            assumed_by=iam.ServicePrincipal(_CLOUDTRAIL),
        )
        delivery_policy = iam.ManagedPolicy(
            self,
            "LogsDeliveryPolicy",
            description="Write trail events to the trail's log group only",
            roles=[delivery_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        bucket_policy = self._only_this_trail_writes(bucket, account, organization_id)

        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            is_organization_trail=organization_id is not None,
            kms_key_id=encryption_key.key_arn,
            s3_bucket_name=bucket.bucket_name,
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=delivery_role.role_arn,
            advanced_event_selectors=self._event_selectors(
                partition, bucket.bucket_name, s3_data_event_buckets, lambda_data_event_functions
            ),
        )
        self.trail.node.add_dependency(delivery_policy, bucket_policy)
        if s3_data_event_buckets is None:
            self.trail.add_metadata(SELECTOR_REASONS_METADATA, {S3_SELECTOR_NAME: ARCHIVE_EXCLUSION_REASON})

    def _only_this_trail_writes(self, bucket: s3.Bucket, account: str, organization_id: str | None) -> s3.BucketPolicy:
        """CloudTrail's documented bucket policy limited to this trail (`aws:SourceArn`); any other writer is denied.

        Source: "Amazon S3 bucket policy for CloudTrail" (aws:SourceArn, s3:x-amz-acl).
        """
        principal = iam.ServicePrincipal(_CLOUDTRAIL)
        this_trail = {"aws:SourceArn": self.trail_arn}
        prefixes = [f"AWSLogs/{account}/*"]
        if organization_id is not None:
            prefixes.append(f"AWSLogs/{organization_id}/*")
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheck",
                principals=[principal],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": this_trail},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWrite",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(prefix) for prefix in prefixes],
                conditions={"StringEquals": {**this_trail, "s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyCloudTrailWritesHere",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringNotEqualsIfExists": {"aws:PrincipalServiceName": _CLOUDTRAIL}},
            )
        )
        assert bucket.policy is not None  # created by the statements above
        return bucket.policy

    @staticmethod
    def _event_selectors(
        partition: str,
        archive_bucket_name: str,
        s3_buckets: Sequence[str] | None,
        functions: Sequence[str] | None,
    ) -> list[cloudtrail.CfnTrail.AdvancedEventSelectorProperty]:
        """Management events (read and write), S3 object access and Lambda invocations."""
        s3_arn = f"arn:{partition}:s3:::"
        s3_scope = (
            _field("resources.ARN", starts_with=[f"{s3_arn}{name}/" for name in s3_buckets])
            if s3_buckets is not None
            # Every bucket but the archive: logging the trail's own deliveries would feed itself.
            else _field("resources.ARN", not_starts_with=[f"{s3_arn}{archive_bucket_name}/"])
        )
        lambda_scope = [] if functions is None else [_field("resources.ARN", equal_to=list(functions))]
        return [
            cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                name="All management events, read and write",
                field_selectors=[_field("eventCategory", equal_to=["Management"])],
            ),
            cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                name=S3_SELECTOR_NAME,
                field_selectors=[
                    _field("eventCategory", equal_to=["Data"]),
                    _field("resources.type", equal_to=["AWS::S3::Object"]),
                    s3_scope,
                ],
            ),
            cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                name="Lambda invocations",
                field_selectors=[
                    _field("eventCategory", equal_to=["Data"]),
                    _field("resources.type", equal_to=["AWS::Lambda::Function"]),
                    *lambda_scope,
                ],
            ),
        ]
