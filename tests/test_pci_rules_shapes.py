"""Issue 21, QSA reader r21: the other shapes a CDK app renders for a resource a rule reads, each read by
its rule (CDK's `aws_eks.Cluster` custom resource, an Auto Scaling group's launch template, a stage a REST API
deployment makes, a CodeDeploy group naming its application by a literal), the encryption rules no
acknowledgment can accept, an activation that disables a root CA, the backup-vault Deny's conditions, the
CloudFront log bucket's ACLs, and the plugin's headings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pci_rules import TemplateModel, evaluate
from pci_rules.plugin import HEADING_DETAILS, violation_heading
from pci_rules.rule import Check
from pci_rules.rules import RULES
from pci_rules.rules._common import EKS_CDK_CLUSTER
from tests.pci_rule_cases import Resources, r

BY_ID = {rule.id: rule for rule in RULES}


def _failures(rule_id: str, resources: Resources, template: dict[str, Any] | None = None) -> list[str]:
    (result,) = evaluate(
        TemplateModel.from_templates({"S": {**(template or {}), "Resources": resources}}), [BY_ID[rule_id]]
    )
    assert result.examined, f"{rule_id} examined nothing"
    return [f"{c.resource.logical_id}: {c.detail}" for c in result.failures]


# --- CDK's aws_eks.Cluster: Custom::AWSCDK-EKS-Cluster and its Config ------------------------------------

_KEY = {"Fn::GetAtt": ["Key", "Arn"]}


def _cdk_cluster(**config: Any) -> Resources:
    """The custom resource CDK's stable `aws_eks.Cluster` renders (aws-eks/lib/cluster-resource.ts), compliant
    unless `config` replaces a key of its Config (None removes it)."""
    base: dict[str, Any] = {
        "name": "cde",
        "version": "1.33",
        "roleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        "encryptionConfig": [{"provider": {"keyArn": _KEY}, "resources": ["secrets"]}],
        "resourcesVpcConfig": {
            "subnetIds": [{"Ref": "Subnet"}],
            "endpointPublicAccess": False,
            "endpointPrivateAccess": True,
        },
        "logging": {
            "clusterLogging": [
                {"enabled": True, "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}
            ]
        },
    }
    for key, value in config.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return {"Cluster": r(EKS_CDK_CLUSTER, ServiceToken="arn:aws:lambda:x", Config=base, AttributesRevision=5)}


EKS_RULES = (
    "PCI4-EKS-PRIVATE-ENDPOINT",
    "PCI4-EKS-SUPPORTED-VERSION",
    "PCI4-EKS-SECRETS-ENCRYPTED",
    "PCI4-EKS-AUDIT-LOGGING",
    "PCI4-EKS-ALL-CONTROL-PLANE-LOGS",
)


@pytest.mark.parametrize("rule_id", EKS_RULES)
def test_every_eks_rule_passes_a_compliant_cdk_cluster_custom_resource(rule_id: str) -> None:
    assert _failures(rule_id, _cdk_cluster()) == []


@pytest.mark.parametrize(
    ("rule_id", "config", "detail"),
    [
        (
            "PCI4-EKS-PRIVATE-ENDPOINT",
            {"resourcesVpcConfig": {"subnetIds": [], "endpointPublicAccess": True}},
            "the API endpoint is public",
        ),
        # CDK's default EndpointAccess.PUBLIC_AND_PRIVATE, and an unset field (the EKS API's default: public)
        ("PCI4-EKS-PRIVATE-ENDPOINT", {"resourcesVpcConfig": {"subnetIds": []}}, "the API endpoint is public"),
        ("PCI4-EKS-SUPPORTED-VERSION", {"version": "1.27"}, "Version '1.27' is older than 1.32"),
        ("PCI4-EKS-SECRETS-ENCRYPTED", {"encryptionConfig": None}, "secrets are not envelope-encrypted"),
        ("PCI4-EKS-AUDIT-LOGGING", {"logging": None}, "audit logging is off"),
        (
            "PCI4-EKS-AUDIT-LOGGING",
            {"logging": {"clusterLogging": [{"enabled": False, "types": ["audit"]}]}},
            "audit logging is off",
        ),
        (
            "PCI4-EKS-ALL-CONTROL-PLANE-LOGS",
            {"logging": {"clusterLogging": [{"enabled": True, "types": ["api", "audit"]}]}},
            "log types off: authenticator, controllerManager, scheduler",
        ),
    ],
)
def test_every_eks_rule_fails_a_cdk_cluster_custom_resource_on_its_config(
    rule_id: str, config: dict[str, Any], detail: str
) -> None:
    assert _failures(rule_id, _cdk_cluster(**config)) == [f"Cluster: {detail}"]


# --- Auto Scaling groups launch from launch templates -------------------------------------------------

_TEMPLATE_DATA = {"Monitoring": {"Enabled": True}, "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["Profile", "Arn"]}}}


def _group(template_data: dict[str, Any], *, mixed: bool = False, template_id: Any = None) -> Resources:
    specification = {
        "LaunchTemplateId": template_id or {"Ref": "Template"},
        "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]},
    }
    launch = (
        {"MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": specification}}}
        if mixed
        else {"LaunchTemplate": specification}
    )
    return {
        "Group": r("AWS::AutoScaling::AutoScalingGroup", MinSize="1", MaxSize="1", **launch),
        "Template": r("AWS::EC2::LaunchTemplate", LaunchTemplateData=template_data),
    }


@pytest.mark.parametrize("mixed", [False, True])
@pytest.mark.parametrize(
    ("rule_id", "change", "detail"),
    [
        ("PCI4-EC2-NO-KEY-PAIR", {"KeyName": "shared-key"}, "launched with a key pair (its launch template)"),
        ("PCI4-EC2-DETAILED-MONITORING", {"Monitoring": None}, "detailed monitoring is off (its launch template)"),
        ("PCI4-EC2-INSTANCE-PROFILE", {"IamInstanceProfile": None}, "no instance profile (its launch template)"),
    ],
)
def test_an_auto_scaling_group_is_read_through_its_launch_template(
    rule_id: str, change: dict[str, Any], detail: str, mixed: bool
) -> None:
    assert _failures(rule_id, _group(_TEMPLATE_DATA, mixed=mixed)) == []
    data = {**_TEMPLATE_DATA, **change}
    bad = _group({k: v for k, v in data.items() if v is not None}, mixed=mixed)
    assert _failures(rule_id, bad) == [f"Group: {detail}"]


def test_a_group_whose_launch_template_is_not_in_the_templates_is_not_passed_unread() -> None:
    group = _group(_TEMPLATE_DATA, template_id="lt-0123456789abcdef0")
    assert _failures("PCI4-EC2-NO-KEY-PAIR", group) == ["Group: a launch template not in these templates: not read"]
    assert _failures("PCI4-EC2-INSTANCE-PROFILE", group) == [
        "Group: no instance profile (a launch template not in these templates)"
    ]


# --- A REST API stage a Deployment makes (StageDescription) -------------------------------------------


def _deployment(**description: Any) -> Resources:
    properties: dict[str, Any] = {"RestApiId": {"Ref": "Api"}, "StageName": "prod"}
    if description:
        properties["StageDescription"] = description
    return {
        "Api": r("AWS::ApiGateway::RestApi", Name="a", EndpointConfiguration={"Types": ["REGIONAL"]}),
        "Dep": r("AWS::ApiGateway::Deployment", **properties),
    }


def test_a_deployment_stage_is_read_for_tracing() -> None:
    assert _failures("PCI4-APIGW-XRAY", _deployment(TracingEnabled=True)) == []
    assert _failures("PCI4-APIGW-XRAY", _deployment(TracingEnabled=False)) == ["Dep: X-Ray tracing is off"]
    # a StageName with no StageDescription makes a stage with every setting at its default: tracing off
    assert _failures("PCI4-APIGW-XRAY", _deployment()) == ["Dep: X-Ray tracing is off"]


_ACCESS_LOG = {"DestinationArn": "arn:aws:logs:us-east-1:111122223333:log-group:api"}
_EVERY_METHOD_INFO = [{"ResourcePath": "/*", "HttpMethod": "*", "LoggingLevel": "INFO"}]


@pytest.mark.parametrize(
    ("description", "found"),
    [
        ({"AccessLogSetting": _ACCESS_LOG, "LoggingLevel": "ERROR"}, []),
        ({"AccessLogSetting": _ACCESS_LOG, "MethodSettings": _EVERY_METHOD_INFO}, []),
        (
            {},  # a LambdaRestApi's stage with neither: the QSA reader r21d's MEDIUM 4
            [
                "Dep: no access log destination (AccessLogSetting.DestinationArn); execution logging off (no"
                " LoggingLevel ERROR or INFO for every method, /* *)"
            ],
        ),
        (
            {"LoggingLevel": "INFO"},
            ["Dep: no access log destination (AccessLogSetting.DestinationArn)"],
        ),
        (
            {
                "AccessLogSetting": _ACCESS_LOG,
                "MethodSettings": [
                    *_EVERY_METHOD_INFO,
                    {"ResourcePath": "/~1cards", "HttpMethod": "POST", "LoggingLevel": "OFF"},
                ],
            },
            ["Dep: execution logging OFF on POST /~1cards"],
        ),
    ],
)
def test_a_rest_stage_needs_access_and_execution_logs(description: dict[str, Any], found: list[str]) -> None:
    resources = _deployment(**description) if description else _deployment()
    assert _failures("PCI4-APIGW-REST-STAGE-LOGGING", resources) == found


@pytest.mark.parametrize(
    ("description", "ok"),
    [
        ({"CacheClusterEnabled": True, "CachingEnabled": True, "CacheDataEncrypted": True}, True),
        ({"CacheClusterEnabled": True, "CacheDataEncrypted": False}, False),
        ({"CachingEnabled": True}, False),
        (
            {
                "CacheClusterEnabled": True,
                "MethodSettings": [
                    {"ResourcePath": "/*", "HttpMethod": "*", "CachingEnabled": True, "CacheDataEncrypted": False}
                ],
            },
            False,
        ),
        ({"TracingEnabled": True}, True),
    ],
)
def test_a_deployment_stage_is_read_for_cache_encryption(description: dict[str, Any], ok: bool) -> None:
    failures = _failures("PCI4-APIGW-CACHE-ENCRYPTED", _deployment(**description))
    assert failures == ([] if ok else ["Dep: a cache is not encrypted"])


# --- CodeDeploy: a group naming its application by a literal ------------------------------------------


def _codedeploy(config: str | None, *, platform: str = "Lambda", application: bool = True) -> Resources:
    group: dict[str, Any] = {"ApplicationName": "lam", "ServiceRoleArn": "arn:aws:iam::111111111111:role/x"}
    if config is not None:
        group["DeploymentConfigName"] = config
    resources = {"Grp": r("AWS::CodeDeploy::DeploymentGroup", **group)}
    if application:
        resources["CdApp"] = r("AWS::CodeDeploy::Application", ApplicationName="lam", ComputePlatform=platform)
    return resources


def test_a_group_naming_its_lambda_application_by_a_literal_is_examined() -> None:
    rule_id = "PCI4-CODEDEPLOY-LAMBDA-GRADUAL"
    assert _failures(rule_id, _codedeploy("CodeDeployDefault.LambdaCanary10Percent5Minutes")) == []
    all_at_once = ["Grp: CodeDeployDefault.LambdaAllAtOnce shifts all traffic at once"]
    assert _failures(rule_id, _codedeploy("CodeDeployDefault.LambdaAllAtOnce")) == all_at_once
    assert _failures(rule_id, _codedeploy(None)) == all_at_once  # the Lambda platform's default
    # the application is not in the templates: an all-at-once Lambda config is decisive
    assert _failures(rule_id, _codedeploy("CodeDeployDefault.LambdaAllAtOnce", application=False)) == all_at_once


def test_a_group_of_another_platform_named_by_a_literal_is_not_examined() -> None:
    (result,) = evaluate(
        TemplateModel.from_templates(
            {"S": {"Resources": _codedeploy("CodeDeployDefault.AllAtOnce", platform="Server")}}
        ),
        [BY_ID["PCI4-CODEDEPLOY-LAMBDA-GRADUAL"]],
    )
    assert result.examined == 0


# --- Data-store encryption can only be fixed; a customer-managed key can be acknowledged ----------------

STORE_ENCRYPTION_RULES = (
    "PCI4-SQS-ENCRYPTED",
    "PCI4-KINESIS-ENCRYPTED",
    "PCI4-REDSHIFT-ENCRYPTED",
    "PCI4-DOCDB-ENCRYPTED",
    "PCI4-NEPTUNE-ENCRYPTED",
    "PCI4-EFS-ENCRYPTED",
    "PCI4-DAX-ENCRYPTED",
    "PCI4-ATHENA-RESULTS-ENCRYPTED",
    "PCI4-RDS-STORAGE-ENCRYPTED",
    "PCI4-S3-ENCRYPTION",
)
# Pack 1.9.0 (QSA reader r21b item 2): these ask a customer-managed key of a store that is encrypted by default
# (DynamoDB always, SQS with SSE-SQS, CDK's Kinesis and Redshift with AWS managed keys). The key is key
# management (3.6.1, related), not encryption at rest, and a fork's store outside the CDE is acknowledged under
# governance (tests/test_acknowledgment_model.py), as PCI4-RDS-CUSTOMER-KEY always was. A store not encrypted at
# all is the never-acknowledgeable rule's finding (STORE_ENCRYPTION_RULES), not examined by these.
CUSTOMER_KEY_RULES = (
    "PCI4-DYNAMODB-KMS",
    "PCI4-SQS-CUSTOMER-KEY",
    "PCI4-KINESIS-CUSTOMER-KEY",
    "PCI4-REDSHIFT-KMS",
    "PCI4-S3-CUSTOMER-KEY",
)


@pytest.mark.parametrize("rule_id", STORE_ENCRYPTION_RULES)
def test_no_acknowledgment_accepts_an_unencrypted_data_store(rule_id: str) -> None:
    assert BY_ID[rule_id].acknowledgeable is False


@pytest.mark.parametrize("rule_id", CUSTOMER_KEY_RULES)
def test_a_customer_managed_key_rule_is_acknowledgeable_and_evidences_nothing(rule_id: str) -> None:
    assert BY_ID[rule_id].acknowledgeable is True
    assert BY_ID[rule_id].requirements == ()
    assert "3.6.1" in BY_ID[rule_id].related


@pytest.mark.parametrize(
    ("rule_id", "resources", "detail"),
    [
        (
            "PCI4-DYNAMODB-KMS",
            {"T": r("AWS::DynamoDB::Table", SSESpecification={"SSEEnabled": True, "SSEType": "KMS"})},
            "encrypted at rest with the AWS managed key aws/dynamodb, not a customer-managed KMS key",
        ),
        (
            "PCI4-DYNAMODB-KMS",
            {
                "T": r(
                    "AWS::DynamoDB::GlobalTable",
                    SSESpecification={"SSEEnabled": True, "SSEType": "KMS"},
                    Replicas=[{"Region": "eu-west-1", "SSESpecification": {"KMSMasterKeyId": "alias/aws/dynamodb"}}],
                )
            },
            "encrypted at rest with the AWS managed key aws/dynamodb, not a customer-managed KMS key",
        ),
        (
            "PCI4-DYNAMODB-KMS",
            {"T": r("AWS::DynamoDB::GlobalTable", Replicas=[{"Region": "eu-west-1"}])},
            "encrypted at rest with the AWS owned key, not a customer-managed KMS key",
        ),
        (
            "PCI4-KINESIS-CUSTOMER-KEY",
            {"T": r("AWS::Kinesis::Stream", StreamEncryption={"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"})},
            "encrypted at rest with an AWS managed key, not a customer-managed KMS key",
        ),
        ("PCI4-KINESIS-ENCRYPTED", {"T": r("AWS::Kinesis::Stream")}, "not encrypted at rest (no StreamEncryption)"),
        (
            "PCI4-SQS-CUSTOMER-KEY",
            {"T": r("AWS::SQS::Queue")},
            "encrypted at rest with SQS owned keys (SSE-SQS), not a customer-managed KMS key",
        ),
        (
            "PCI4-SQS-CUSTOMER-KEY",
            {"T": r("AWS::SQS::Queue", KmsMasterKeyId="alias/aws/sqs")},
            "encrypted at rest with the AWS managed key aws/sqs, not a customer-managed KMS key",
        ),
        (
            "PCI4-SQS-ENCRYPTED",
            {"T": r("AWS::SQS::Queue", SqsManagedSseEnabled=False)},
            "not encrypted at rest (SqsManagedSseEnabled false, no KmsMasterKeyId)",
        ),
        (
            "PCI4-REDSHIFT-KMS",
            {"T": r("AWS::Redshift::Cluster", Encrypted=True)},
            "encrypted at rest with a key AWS holds, not a customer-managed KMS key",
        ),
        (
            "PCI4-REDSHIFT-KMS",
            {"T": r("AWS::Redshift::Cluster")},
            "encrypted at rest with a key AWS holds, not a customer-managed KMS key",
        ),
        (
            "PCI4-S3-CUSTOMER-KEY",
            {"T": r("AWS::S3::Bucket")},
            "encrypted at rest with SSE-S3 (S3's default), not a customer-managed KMS key",
        ),
        (
            "PCI4-S3-CUSTOMER-KEY",
            {
                "T": r(
                    "AWS::S3::Bucket",
                    BucketEncryption={
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                        ]
                    },
                )
            },
            "encrypted at rest with SSE-KMS with the AWS managed key aws/s3, not a customer-managed KMS key",
        ),
        (
            "PCI4-REDSHIFT-ENCRYPTED",
            {"T": r("AWS::Redshift::Cluster", Encrypted=False)},
            "Encrypted is false (not encrypted at rest; Redshift refuses it for a new cluster)",
        ),
        (
            "PCI4-REDSHIFT-ENCRYPTED",
            {"T": r("AWS::Redshift::Cluster", SnapshotIdentifier="old")},
            "restored from a snapshot without Encrypted true: its encryption is the snapshot's",
        ),
    ],
)
def test_a_customer_key_finding_names_the_key_a_store_has_and_unencrypted_only_when_it_is(
    rule_id: str, resources: Resources, detail: str
) -> None:
    assert _failures(rule_id, resources) == [f"T: {detail}"]


def _passes(rule_id: str, resources: Resources) -> dict[str, str]:
    model = TemplateModel.from_templates({"S": {"Resources": resources}})
    (result,) = evaluate(model, [BY_ID[rule_id]])
    assert not result.failures
    return {c.resource.logical_id: c.detail for c in result.checks}


def test_a_store_the_service_encrypts_by_default_passes_and_the_pass_says_so() -> None:
    """QSA reader r21c: S3 applies SSE-S3 to every new object of a bucket that declares none (since 2023-01-05),
    and Redshift encrypts a new cluster unless Encrypted is false (CreateCluster: "Default: true"); the
    at-rest rules (never acknowledgeable) pass them and say why, and the key rules (acknowledgeable) ask the
    customer-managed key."""
    assert _passes("PCI4-S3-ENCRYPTION", {"T": r("AWS::S3::Bucket")}) == {
        "T": "declares no default encryption: S3 applies SSE-S3 to every new object"
    }
    assert _passes("PCI4-REDSHIFT-ENCRYPTED", {"T": r("AWS::Redshift::Cluster")}) == {
        "T": "Encrypted not set: Redshift encrypts a new cluster by default"
    }
    assert BY_ID["PCI4-S3-CUSTOMER-KEY"].acknowledgeable
    assert not BY_ID["PCI4-S3-ENCRYPTION"].acknowledgeable


def test_a_bucket_a_log_service_writes_to_keeps_sse_s3() -> None:
    """S3 server access logs and load-balancer access logs support SSE-S3 only: a bucket the templates make
    their destination passes PCI4-S3-CUSTOMER-KEY with SSE-S3 (declared or S3's default), and says which."""
    sse_s3 = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    resources = {
        "Data": r(
            "AWS::S3::Bucket",
            BucketEncryption={
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:k"}}
                ]
            },
            LoggingConfiguration={"DestinationBucketName": {"Ref": "AccessLogs"}},
        ),
        "AccessLogs": r("AWS::S3::Bucket", BucketEncryption=sse_s3),
        "AlbLogs": r("AWS::S3::Bucket"),
        "Alb": r(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            LoadBalancerAttributes=[{"Key": "access_logs.s3.bucket", "Value": {"Ref": "AlbLogs"}}],
        ),
    }
    assert _passes("PCI4-S3-CUSTOMER-KEY", resources) == {
        "Data": "",
        "AccessLogs": "SSE-S3: receives S3 server access logs, which support only SSE-S3",
        "AlbLogs": "SSE-S3: receives load-balancer access logs, which support only SSE-S3",
    }
    resources["Other"] = r("AWS::S3::Bucket", BucketEncryption=sse_s3)
    assert _failures("PCI4-S3-CUSTOMER-KEY", resources) == [
        "Other: encrypted at rest with SSE-S3 (declared), not a customer-managed KMS key"
    ]


def test_a_stock_cdk_table_and_queue_are_not_called_unencrypted() -> None:
    """The QSA reader's example (r21b item 2): a stock `ddb.Table` and `sqs.Queue` are encrypted at rest by
    default; their finding names the key, and cites 3.5.1.2/3.6.1 as "supports", not as a requirement."""
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as ddb
    from aws_cdk import aws_sqs as sqs

    app = cdk.App()
    stack = cdk.Stack(app, "Stock")
    ddb.Table(stack, "Table", partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING))
    sqs.Queue(stack, "Queue")
    model = TemplateModel.from_templates({"Stock": app.synth().get_stack_by_name("Stock").template})
    results = evaluate(model, [BY_ID["PCI4-DYNAMODB-KMS"], BY_ID["PCI4-SQS-CUSTOMER-KEY"]])
    details = [c.detail for result in results for c in result.failures]
    assert len(details) == 2
    assert all("customer-managed KMS key" in d and not d.startswith("not encrypted") for d in details), details
    assert all("unencrypted" not in d for d in details)
    # Encrypted by default, so the never-acknowledgeable encrypted-at-all rule passes the queue.
    (at_rest,) = evaluate(model, [BY_ID["PCI4-SQS-ENCRYPTED"]])
    assert at_rest.examined == 1
    assert not at_rest.failures
    for result in results:
        assert result.rule.citation().startswith("supports PCI DSS v4.0.1 3.5.1.2")


def test_a_global_table_with_customer_keys_on_every_replica_passes() -> None:
    key = {"Fn::GetAtt": ["Key", "Arn"]}
    table = r(
        "AWS::DynamoDB::GlobalTable",
        SSESpecification={"SSEEnabled": True, "SSEType": "KMS"},
        Replicas=[{"Region": "eu-west-1", "SSESpecification": {"KMSMasterKeyId": key}}],
    )
    assert _failures("PCI4-DYNAMODB-KMS", {"T": table}) == []


# --- An activation that disables a root CA --------------------------------------------------------------


def _root_ca(status: str | None) -> Resources:
    resources = {"Root": r("AWS::ACMPCA::CertificateAuthority", Type="ROOT", KeyAlgorithm="RSA_2048")}
    if status is not None:
        resources["Activation"] = r(
            "AWS::ACMPCA::CertificateAuthorityActivation",
            CertificateAuthorityArn={"Fn::GetAtt": ["Root", "Arn"]},
            Certificate="-----BEGIN CERTIFICATE-----",
            Status=status,
        )
    return resources


@pytest.mark.parametrize(("status", "ok"), [("DISABLED", True), ("ACTIVE", False), (None, False)])
def test_a_root_ca_passes_only_when_its_activation_disables_it(status: str | None, ok: bool) -> None:
    failures = _failures("PCI4-ACMPCA-NO-ROOT-CA", _root_ca(status))
    assert failures == (
        [] if ok else ["Root: a ROOT certificate authority whose activation does not set Status DISABLED"]
    )


# --- The backup vault's Deny: no condition but an exemption of named principals ---------------------------

_DELETION = ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:PutBackupVaultAccessPolicy"]


def _vault(condition: dict[str, Any] | None) -> Resources:
    statement: dict[str, Any] = {"Effect": "Deny", "Principal": "*", "Resource": "*", "Action": _DELETION}
    if condition is not None:
        statement["Condition"] = condition
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return {"Vault": r("AWS::Backup::BackupVault", BackupVaultName="cde-vault", AccessPolicy=policy)}


@pytest.mark.parametrize(
    ("condition", "ok"),
    [
        (None, True),
        ({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/break-glass"}}, True),
        ({"StringNotLike": {"aws:PrincipalArn": ["arn:aws:iam::111111111111:role/backup-*"]}}, True),
        # the QSA's repro: a Deny that applies to one principal nobody uses
        ({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/nobody"}}, False),
        ({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, False),
        ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:iam::111111111111:role/x"}}, False),
    ],
)
def test_a_deletion_deny_with_a_condition_other_than_a_principal_exemption_is_refused(
    condition: dict[str, Any] | None, ok: bool
) -> None:
    failures = _failures("PCI4-BACKUP-VAULT-NO-MANUAL-DELETION", _vault(condition))
    assert failures == ([] if ok else ["Vault: no access-policy statement denies deleting recovery points"])


# --- The bucket CloudFront writes standard logs to needs ACLs ---------------------------------------------


_ACLS_ON = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}


def _logged_distribution(bucket: Any) -> Resources:
    return {
        "Logs": r(
            "AWS::S3::Bucket", BucketName="cdn-logs", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        ),
        "Other": r("AWS::S3::Bucket", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}),
        "Cdn": r("AWS::CloudFront::Distribution", DistributionConfig={"Enabled": True, "Logging": {"Bucket": bucket}}),
    }


@pytest.mark.parametrize(
    "bucket",
    [
        {"Fn::GetAtt": ["Logs", "RegionalDomainName"]},
        {"Fn::GetAtt": ["Logs", "DomainName"]},
        "cdn-logs.s3.amazonaws.com",
    ],
)
def test_the_bucket_a_distribution_logs_to_is_exempt_from_the_acl_rule_and_no_other(bucket: Any) -> None:
    resources = _logged_distribution(bucket)
    assert _failures("PCI4-CLOUDFRONT-LOGGING", resources) == []
    assert _failures("PCI4-S3-ACLS-DISABLED", resources) == ["Other: ACLs are not disabled"]


# --- The plugin's heading and the variant's label ----------------------------------------------------------


def test_the_violation_heading_names_the_rule_and_what_was_wrong_on_each_resource() -> None:
    model = TemplateModel.from_templates({"S": {"Resources": _cdk_cluster(logging=None)}})
    (result,) = evaluate(model, [BY_ID["PCI4-EKS-AUDIT-LOGGING"]])
    heading = violation_heading(result.rule, result.failures)
    assert heading == (
        "PCI4-EKS-AUDIT-LOGGING: Every EKS cluster sends its audit log to CloudWatch Logs."
        " (PCI DSS v4.0.1 10.2.1). Cluster: audit logging is off"
    )


def test_the_heading_names_the_first_details_then_how_many_more() -> None:
    (resource,) = TemplateModel.from_templates({"S": {"Resources": _cdk_cluster()}}).resources()
    failures = [Check(resource, False, f"problem {i}") for i in range(HEADING_DETAILS + 2)]
    heading = violation_heading(BY_ID["PCI4-EKS-AUDIT-LOGGING"], failures)
    assert heading.endswith(f"Cluster: problem {HEADING_DETAILS - 1}; and 2 more")


def test_the_variant_label_is_given_only_where_a_choice_reached_the_resource() -> None:
    template = {
        "Parameters": {"Tracing": {"Type": "String", "Default": "false", "AllowedValues": ["false", "true"]}},
    }
    resources = {
        "Chosen": r("AWS::ApiGateway::Stage", RestApiId="a", TracingEnabled={"Ref": "Tracing"}),
        "Plain": r("AWS::ApiGateway::Stage", RestApiId="a", TracingEnabled=False),
    }
    details = _failures("PCI4-APIGW-XRAY", resources, template)
    assert "Plain: X-Ray tracing is off" in details
    assert "Chosen: X-Ray tracing is off (with every Parameter at its Default)" in details


def _rules_named(value: Any) -> set[str]:
    if isinstance(value, dict):
        named = {str(value["rule"])} if "rule" in value else set()
        return named.union(*(_rules_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_rules_named(v) for v in value))
    return set()


def test_no_landing_zone_acknowledgment_or_environment_file_names_a_store_encryption_rule() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    files = [root / "compliance" / "acknowledgments.yaml", *sorted((root / "envs").glob("*.yaml"))]
    named = set().union(*(_rules_named(yaml.safe_load(f.read_text(encoding="utf-8"))) for f in files))
    assert named, "no acknowledgment read"
    assert not {n.split("[")[0] for n in named} & set(STORE_ENCRYPTION_RULES)


@pytest.mark.parametrize(
    ("rule_id", "resource"),
    [
        ("PCI4-SQS-CUSTOMER-KEY", r("AWS::SQS::Queue", SqsManagedSseEnabled=False)),
        ("PCI4-KINESIS-CUSTOMER-KEY", r("AWS::Kinesis::Stream")),
        ("PCI4-REDSHIFT-KMS", r("AWS::Redshift::Cluster", Encrypted=False)),
        ("PCI4-REDSHIFT-KMS", r("AWS::Redshift::Cluster", SnapshotIdentifier="old")),
    ],
)
def test_an_unencrypted_store_is_left_to_the_rule_that_cannot_be_acknowledged(rule_id: str, resource: Any) -> None:
    """An acknowledgment of the customer-key rule cannot hide an unencrypted store: the key rule does not examine
    it, and the encrypted-at-all rule (never acknowledgeable) fails it."""
    model = TemplateModel.from_templates({"S": {"Resources": {"T": resource}}})
    (result,) = evaluate(model, [BY_ID[rule_id]])
    assert result.examined == 0
    at_rest = {"PCI4-SQS-CUSTOMER-KEY": "PCI4-SQS-ENCRYPTED", "PCI4-KINESIS-CUSTOMER-KEY": "PCI4-KINESIS-ENCRYPTED"}
    (guard,) = evaluate(model, [BY_ID[at_rest.get(rule_id, "PCI4-REDSHIFT-ENCRYPTED")]])
    assert guard.failures
    assert not guard.rule.acknowledgeable


# --- S3 server access logging to the bucket itself (QSA reader r21d MEDIUM 5) ----------------------------


@pytest.mark.parametrize(
    "logging",
    [
        {"LogFilePrefix": "access/"},  # CDK's server_access_logs_prefix alone: "log to current bucket"
        {},
        {"DestinationBucketName": {"Ref": "Data"}, "LogFilePrefix": "access/"},
    ],
)
def test_a_bucket_that_logs_to_itself_is_told_so_not_that_it_has_no_logging(logging: dict[str, Any]) -> None:
    resources = {"Data": r("AWS::S3::Bucket", LoggingConfiguration=logging)}
    assert _failures("PCI4-S3-ACCESS-LOGGING", resources) == [
        "Data: logs to itself (LoggingConfiguration without another DestinationBucketName: S3 stores the bucket's"
        " access logs in the bucket they audit); name another bucket"
    ]


def test_a_bucket_without_logging_configuration_has_no_server_access_logging() -> None:
    assert _failures("PCI4-S3-ACCESS-LOGGING", {"Data": r("AWS::S3::Bucket")}) == ["Data: no server access logging"]


def test_ebs_default_encryption_set_outside_the_app_is_not_evidenced_not_a_failure() -> None:
    """QSA reader r21d LOW: an organisation that enables EBS encryption by default outside the app leaves no call
    in the templates; its VPCs do not fail, the rule examines nothing and says so."""
    vpc = {"Vpc": r("AWS::EC2::VPC", CidrBlock="10.0.0.0/16")}
    (result,) = evaluate(
        TemplateModel.from_templates({"S": {"Resources": vpc}}), [BY_ID["PCI4-EC2-EBS-DEFAULT-ENCRYPTION"]]
    )
    assert result.examined == 0
    assert result.evidence.startswith("not evidenced")
