"""Regional detective controls: AWS Config, Security Hub, GuardDuty (PCI DSS 10.4.1.1, 11.5.1, 11.5.2).

All three are regional services, so each configured region gets its own; an
account that already runs them (AWS Control Tower, an Organizations delegated
administrator) sets the matching `audit.*_mode` to `existing` or `off` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_config as config
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

from pci_constructs.secure_bucket import SecureBucket

PCI_DSS_V401_STANDARD = "standards/pci-dss/v/4.0.1"
FSBP_STANDARD = "standards/aws-foundational-security-best-practices/v/1.0.0"
# GuardDuty detector features ("AWS::GuardDuty::Detector CFNFeatureConfiguration") this landing zone turns on.
RDS_LOGIN_EVENTS = "RDS_LOGIN_EVENTS"
# Lambda Protection: network activity of every function, the card vault's included (GuardDuty.6; PCI DSS 11.5.1).
LAMBDA_NETWORK_LOGS = "LAMBDA_NETWORK_LOGS"
GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", RDS_LOGIN_EVENTS, LAMBDA_NETWORK_LOGS, "RUNTIME_MONITORING")


def conformance_pack(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    template_body: str | None = None,
    template_s3_uri: str | None = None,
) -> config.CfnConformancePack:
    """A conformance pack from a template body (the project's) or an S3 URI (a template the account's owner
    keeps, such as AWS's PCI DSS 4.0 sample); its rules need a configuration recorder in the region.

    Raises ValueError on an empty template body, or unless exactly one source is given. With an
    account-managed recorder (AWS Control Tower, "existing" mode) this is all the landing zone adds.
    """
    if (template_body is None) == (template_s3_uri is None):
        raise ValueError("conformance_pack: give exactly one of template_body and template_s3_uri")
    if template_body is not None and not template_body.strip():
        raise ValueError("conformance_pack_template: the template body is empty")
    return config.CfnConformancePack(
        scope, construct_id, conformance_pack_name=name, template_body=template_body, template_s3_uri=template_s3_uri
    )


class ConfigRecorder(Construct):
    """PCI DSS 11.5.2 (change detection), 10.2.1, 12.5.1 (inventory): every supported resource, continuously.

    A recorder for all supported resource types (global ones such as IAM only
    where `record_global_resources`, i.e. in one region), a delivery channel to
    a KMS-encrypted bucket of its own (Config cannot deliver to an Object Lock
    bucket), and a conformance pack whose template body ships with the project (none when
    `conformance_pack_template` is None). `ready` lists what any other pack must wait for.
    """

    history: SecureBucket
    role: iam.Role
    recorder: config.CfnConfigurationRecorder
    delivery_channel: config.CfnDeliveryChannel
    conformance_pack: config.CfnConformancePack | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs_bucket: s3.IBucket,
        record_global_resources: bool,
        conformance_pack_name: str,
        conformance_pack_template: str | None,
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.history = SecureBucket(
            self,
            "History",
            encryption_key=encryption_key,
            access_logs_bucket=access_logs_bucket,
            access_logs_prefix="config-history/",
            noncurrent_version_expiration_days=retention_days,
        )
        bucket = self.history.bucket
        delivery_prefix = bucket.arn_for_objects(f"AWSLogs/{Aws.ACCOUNT_ID}/Config/*")
        self.role = iam.Role(
            self,
            "Role",
            description="AWS Config: read resource configurations, deliver history to its bucket",
            # "Permissions for the IAM role assigned to AWS Config": the trust's aws:SourceAccount condition.
            assumed_by=iam.ServicePrincipal(
                "config.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        delivery_policy = iam.ManagedPolicy(
            self,
            "DeliveryPolicy",
            description="AWS Config delivery into its history bucket, encrypted with the bucket's key",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=["s3:GetBucketAcl", "s3:ListBucket"], resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[delivery_prefix],
                    conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                ),
                iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[encryption_key.key_arn]),
            ],
        )
        self.recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=self.role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=True, include_global_resource_types=record_global_resources
            ),
        )
        self.delivery_channel = config.CfnDeliveryChannel(
            self,
            "DeliveryChannel",
            s3_bucket_name=bucket.bucket_name,
            s3_kms_key_arn=encryption_key.key_arn,
            config_snapshot_delivery_properties=config.CfnDeliveryChannel.ConfigSnapshotDeliveryPropertiesProperty(
                delivery_frequency="TwentyFour_Hours"
            ),
        )
        # The recorder starts recording (and delivering) with the role's permissions in place.
        self.recorder.node.add_dependency(delivery_policy)
        # Config needs the recorder before a delivery channel, and the channel's permissions in place.
        self.delivery_channel.node.add_dependency(self.recorder, delivery_policy)
        self.conformance_pack = None
        if conformance_pack_template is not None:
            self.conformance_pack = conformance_pack(
                self, "ConformancePack", name=conformance_pack_name, template_body=conformance_pack_template
            )
            # Rules evaluate what the recorder records; both must exist first.
            self.conformance_pack.node.add_dependency(*self.ready)

    @property
    def ready(self) -> tuple[Construct, ...]:
        """What a conformance pack depends on: the recorder and its delivery channel."""
        return (self.recorder, self.delivery_channel)


class SecurityHub(Construct):
    """PCI DSS 10.4.1.1, 11.5.1: Security Hub with the PCI DSS v4.0.1 and AWS Foundational standards only.

    In the home region, `aggregate_regions` links the other regions' findings
    (GuardDuty's included) into this hub, so one alert rule there sees them all.
    """

    hub: securityhub.CfnHub | None
    standards: dict[str, securityhub.CfnStandard]
    aggregator: securityhub.CfnFindingAggregator | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        aggregate_regions: Sequence[str] = (),
        existing_hub: bool = False,
    ) -> None:
        """`existing_hub`: the account is already subscribed (AWS Control Tower, Organizations); only the
        standards are enabled on it. Raises ValueError when aggregating into the region itself, or when
        `aggregate_regions` is given with an existing hub (an account has one aggregator, the admin's)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if stack.region in aggregate_regions:
            raise ValueError(f"aggregate_regions: {stack.region} is the aggregating region itself")
        if existing_hub and aggregate_regions:
            raise ValueError("aggregate_regions: an existing hub keeps the account's own finding aggregator")
        self.hub = (
            None
            if existing_hub
            else securityhub.CfnHub(
                self,
                "Hub",
                enable_default_standards=False,
                control_finding_generator="SECURITY_CONTROL",
                auto_enable_controls=True,
            )
        )
        self.standards = {}
        for construct_id_, standard in (("PciDssV401", PCI_DSS_V401_STANDARD), ("Fsbp", FSBP_STANDARD)):
            cfn_standard = securityhub.CfnStandard(
                self,
                construct_id_,
                standards_arn=f"arn:{stack.partition}:securityhub:{stack.region}::{standard}",
            )
            if self.hub is not None:
                cfn_standard.node.add_dependency(self.hub)
            self.standards[standard] = cfn_standard
        self.aggregator = None
        if aggregate_regions and self.hub is not None:
            self.aggregator = securityhub.CfnFindingAggregator(
                self, "FindingAggregator", region_linking_mode="SPECIFIED_REGIONS", regions=list(aggregate_regions)
            )
            self.aggregator.node.add_dependency(self.hub)


class ThreatDetection(Construct):
    """PCI DSS 11.5.1 (intrusion detection), 5.2: GuardDuty with S3, RDS login, Lambda and runtime monitoring.

    Runtime monitoring manages its agent on EKS, ECS Fargate and EC2; where a
    region does not offer a feature yet, GuardDuty reports it and keeps the rest.
    """

    detector: guardduty.CfnDetector

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        enabled = "ENABLED"
        self.detector = guardduty.CfnDetector(
            self,
            "Detector",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            features=[
                guardduty.CfnDetector.CFNFeatureConfigurationProperty(name="S3_DATA_EVENTS", status=enabled),
                # RDS Protection: login activity of the CDE database (PCI DSS 10.2.1.4, 11.5.1).
                guardduty.CfnDetector.CFNFeatureConfigurationProperty(name=RDS_LOGIN_EVENTS, status=enabled),
                # Lambda Protection: the vault's functions' network activity ("Lambda Protection in GuardDuty").
                guardduty.CfnDetector.CFNFeatureConfigurationProperty(name=LAMBDA_NETWORK_LOGS, status=enabled),
                guardduty.CfnDetector.CFNFeatureConfigurationProperty(
                    name="RUNTIME_MONITORING",
                    status=enabled,
                    additional_configuration=[
                        guardduty.CfnDetector.CFNFeatureAdditionalConfigurationProperty(name=agent, status=enabled)
                        for agent in ("EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT")
                    ],
                ),
            ],
        )
