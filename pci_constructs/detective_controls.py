"""Regional detective controls: AWS Config, Security Hub, GuardDuty (PCI DSS 10.4.1.1, 11.5.1, 11.5.2).

All three are regional services, so each configured region gets its own; an
account that already runs them (AWS Control Tower, an Organizations delegated
administrator) sets the matching `audit.*_mode` to `existing` or `off` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, CustomResource, Duration, Stack
from aws_cdk import aws_config as config
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

from pci_constructs.card_vault import RUNTIME  # every Python function of the landing zone runs one runtime
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify
from pci_constructs.lambda_bundling import python_asset, record_sbom_source
from pci_constructs.provider_logging import TRACING_ACTIONS, TRACING_REASON
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


# Source identifiers of AWS Config managed conformance packs this landing zone deploys by name: "Payment Card
# Industry Data Security Standard (PCI DSS) v4" (AWS Config Developer Guide, managed conformance packs:
# "Source identifier: PCI-DSS_V4"; all commercial and AWS GovCloud (US) Regions, not the China Regions).
AWS_MANAGED_PCI_DSS_V4 = "PCI-DSS_V4"
AWS_MANAGED_PACKS = (AWS_MANAGED_PCI_DSS_V4,)
# The service-linked role PutConformancePack creates when the account has none ("PutConformancePack", AWS
# Config API Reference; its policy is ConfigConformsServiceRolePolicy, AWS Managed Policy Reference).
CONFORMS_SERVICE = "config-conforms.amazonaws.com"
CONFORMS_ROLE = f"aws-service-role/{CONFORMS_SERVICE}/AWSServiceRoleForConfigConforms"
# Why the managed pack's deploy-time function carries these findings (its justifications).
_FUNCTION_REASONS = (
    (
        ("PCI4-LAMBDA-IN-VPC", "PCI.DSS.321-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC"),
        "The managed conformance pack's deploy-time function answers CloudFormation through a pre-signed S3 URL"
        " in AWS's own account, which the VPC's S3 gateway endpoint (this account's principals only) refuses; it"
        " only puts, watches and deletes the managed conformance pack (AWS Config API), holds no cardholder data,"
        " logs to its own encrypted group",
        "PCI DSS v4.0.1 1.3.1",
    ),
    (
        ("NIST.800.53.R5-LambdaConcurrency",),
        "The managed conformance pack's deploy-time function runs once per create, update or delete of the pack;"
        " reserving concurrency for it would fail in accounts whose unreserved pool may not drop below 100",
        "PCI DSS v4.0.1 2.2.1",
    ),
    (
        ("NIST.800.53.R5-LambdaDLQ",),
        "The managed conformance pack's deploy-time function answers CloudFormation itself on every path (a"
        " failure is a FAILED answer that fails and rolls back the deployment), so a dead-letter queue would"
        " only hold requests the stack has already failed",
        "PCI DSS v4.0.1 2.2.1",
    ),
)
PACK_ID_REASON = (
    "AWS Config appends an ID it generates to a conformance pack's ARN (conformance-pack/<name>/<id>), unknown"
    " before the pack exists; the statement names this pack's name and region, only the ID is a wildcard"
)
STATUS_REASON = (
    "DescribeConformancePackStatus is a read of deployment states; the function asks it for this pack's name"
    " only, and no conformance-pack ARN exists before the pack does"
)
# The custom resource's type: evidence/live.py (CONFORMANCE_PACK_TYPES) and preflight/names.py (NAME_PROPERTIES)
# read its ConformancePackName, the pack's name.
MANAGED_PACK_RESOURCE_TYPE = "Custom::ConfigManagedConformancePack"
# The deploy-time function's package (lambda/managed_pack) and its pinned requirements beside it.
MANAGED_PACK_PACKAGE = Path(__file__).resolve().parent.parent / "lambda" / "managed_pack"
MANAGED_PACK_REQUIREMENTS = MANAGED_PACK_PACKAGE / "requirements.txt"
# Lambda's maximum ("Configure Lambda function timeout", AWS Lambda Developer Guide: up to 900 seconds).
FUNCTION_TIMEOUT = Duration.minutes(15)
# CloudFormation fails the request if no answer comes within ServiceTimeout seconds
# ("AWS::CloudFormation::CustomResource": 1-3600, default 3600): the function answers before its own
# timeout, so a crashed invocation fails the stack a minute after the function could have answered.
SERVICE_TIMEOUT = Duration.minutes(16)


class ManagedConformancePack(Construct):
    """An AWS Config managed conformance pack, deployed by its source identifier (PCI DSS 11.5.2, 12.4).

    CloudFormation's `AWS::Config::ConformancePack` takes a template body, an S3 URI or an SSM document,
    not a managed pack's `Source` (its registry schema has no such property; CDK's `CfnConformancePack`
    neither), so a custom resource of the project's own (`lambda/managed_pack/handler.py`, Python with a
    pinned boto3) calls `PutConformancePack` with `Source.SourceIdentifier` on create and update
    ("PutConformancePack" and "ConformancePackSource", AWS Config API Reference: with a source, no template,
    template URI, SSM document or delivery bucket is given), waits until `DescribeConformancePackStatus`
    says CREATE_COMPLETE/UPDATE_COMPLETE (a CREATE_FAILED/UPDATE_FAILED pack fails the deploy with AWS
    Config's reason), and calls `DeleteConformancePack` when the stack is deleted, waiting until the pack
    is gone (a pack holds rules and their evaluations, not data: the recorder's history bucket keeps the
    configuration items).

    Why not CDK's `AwsCustomResource`: it makes the call with the AWS SDK for JavaScript v3, and
    `@aws-sdk/client-config-service` has no `Source` member in `PutConformancePackRequest`, in 3.621.0 nor in
    3.1124.0 (the npm registry's latest, read 2026-12-03; its schema serializes only modelled members, so the source
    would be dropped), whichever SDK the Lambda runtime bundles (Lambda no longer documents which) or
    `install_latest_aws_sdk` downloads. botocore 1.44.8 (`lambda/constraints.txt`) has `Source`, and the
    bundle carries it: `tests/test_managed_pack_handler.py` loads that model and drives the handler
    through botocore's Stubber.

    Least privilege: the function's role (`role_name`, a guard role's name: the permissions boundary denies
    putting or deleting a conformance pack to every other role) may put and delete only this pack
    ("Actions, resources, and condition keys for AWS Config", Service Authorization Reference: both act
    on the ConformancePack resource type, `conformance-pack/<name>/<id>`), read deployment states
    (`DescribeConformancePackStatus`, on '*': `STATUS_REASON`), create only Config's conformance-pack
    service-linked role ("PutConformancePack": the API creates `AWSServiceRoleForConfigConforms` when the
    account has none, and that role, not the caller, creates the pack's Config rules, so the caller needs
    no `config:PutConfigRule`; no `iam:PassRole`, no S3: a managed source takes no delivery bucket), write
    only to its own log group and send its X-Ray traces. The findings a deploy-time function and the
    generated pack ID raise are justified here, each with its reason (`_FUNCTION_REASONS`, `PACK_ID_REASON`).
    Raises ValueError on a source identifier not in `AWS_MANAGED_PACKS`.
    """

    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: EncryptedLogGroup
    function: lambda_.Function
    pack: CustomResource
    name: str
    source_identifier: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        source_identifier: str,
        role_name: str,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if source_identifier not in AWS_MANAGED_PACKS:
            raise ValueError(f"source_identifier {source_identifier!r}: not one of {list(AWS_MANAGED_PACKS)}")
        stack = Stack.of(self)
        self.name, self.source_identifier = name, source_identifier
        self.log_group = EncryptedLogGroup(self, "Logs", encryption_key=log_key, retention_days=log_retention_days)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"Deploys AWS Config's managed conformance pack {source_identifier} (PCI landing zone)",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        pack_arn = f"arn:{stack.partition}:config:{stack.region}:{stack.account}:conformance-pack/{name}/*"
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Put, watch and delete one managed conformance pack, and the function's own log group",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["config:PutConformancePack", "config:DeleteConformancePack"], resources=[pack_arn]
                ),
                iam.PolicyStatement(actions=["config:DescribeConformancePackStatus"], resources=["*"]),
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[f"arn:{stack.partition}:iam::{stack.account}:role/{CONFORMS_ROLE}"],
                    conditions={"StringEquals": {"iam:AWSServiceName": CONFORMS_SERVICE}},
                ),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group.log_group_arn],
                ),
                iam.PolicyStatement(actions=list(TRACING_ACTIONS), resources=["*"]),
            ],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler="managed_pack.handler.handler",
            code=python_asset(package=MANAGED_PACK_PACKAGE, requirements=MANAGED_PACK_REQUIREMENTS, runtime=RUNTIME),
            description=f"Puts, waits for and deletes AWS Config's managed conformance pack {source_identifier}",
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=self.role.without_policy_updates(),
        )
        record_sbom_source(self.function, MANAGED_PACK_REQUIREMENTS)
        self.function.node.add_dependency(self.policy)  # the function acts only once its permissions exist
        self.pack = CustomResource(
            self,
            "Pack",
            service_token=self.function.function_arn,
            resource_type=MANAGED_PACK_RESOURCE_TYPE,
            properties={"ConformancePackName": name, "SourceIdentifier": source_identifier},
            service_timeout=SERVICE_TIMEOUT,
        )
        rendered = self.policy.node.default_child
        assert rendered is not None
        for rule, reason in (("*", TRACING_REASON), (pack_arn, PACK_ID_REASON)):
            justify(
                self,
                rendered,
                rule=f"AwsSolutions-IAM5[Resource::{rule}]",
                reason=reason if rule != "*" else f"{reason}; {STATUS_REASON}",
                requirement="PCI DSS v4.0.1 7.2.1",
            )
        function_resource = self.function.node.default_child
        assert function_resource is not None
        for rules, reason, requirement in _FUNCTION_REASONS:
            for rule in rules:
                justify(self, function_resource, rule=rule, reason=reason, requirement=requirement)


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
