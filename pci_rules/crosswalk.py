"""The Security Hub CSPM PCI DSS v4.0.1 crosswalk: every control of the standard, what checks it at synth.

`securityhub_pci_dss_v4_controls.json` (vendored, dated, with its source) lists the standard's controls:
ID, title, the resource types each evaluates, the v4.0.1 requirements it maps to, its AWS Config rule.
`MAPPINGS` says, for each control, which of this pack's rules checks the same property on the rendered
templates, or why none can: "runtime only" (it needs the live account: credential age, MFA devices,
rotation success, patch state) or "not applicable to templates" (CloudFormation has no property for it).
`CONFIG_PACK_RULES` adds the AWS Config rules of a PCI DSS 4.0 conformance pack that check a property a
template shows and that no Security Hub control of the standard covers; `AWS_PACK_SYNTH_RULES` those of AWS's
PCI DSS v4.0 pack that a synth rule checks and the project's pack does not deploy. `WATCHED_AFTER_DEPLOY` names, for
every rule of the pack, the AWS Config rule that keeps watching its property once deployed. `aws_requirements`
gives AWS's own PCI DSS v4 mapping of a Config rule (`aws_pci_dss_v4_config_mapping.json`, vendored from
the AWS Config Developer Guide, dated), shown beside this pack's requirements on every Config-rule row, and
`DEPARTURES` the reviewed reason wherever the two differ.

`python -m pci_rules.crosswalk` rewrites `CROSSWALK.md`; a test holds the committed file to it, fails
when a control marked applicable has no rule, and holds the README's coverage figure to `coverage()`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import cast

from pci_rules.rules import RULES

HERE = Path(__file__).resolve().parent
CONTROLS_FILE = HERE / "securityhub_pci_dss_v4_controls.json"
CROSSWALK_FILE = HERE / "CROSSWALK.md"

RULE = "rule"
RUNTIME = "runtime only"
NOT_APPLICABLE = "not applicable to templates"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    resource_types: tuple[str, ...]
    requirements: tuple[str, ...]
    config_rule: str
    details_read_from_control_page: bool
    details_page: str = ""


@dataclass(frozen=True)
class Mapping:
    """How the pack meets one control: `rules`, or the reason it is `runtime` only or `not_applicable`."""

    rules: tuple[str, ...] = ()
    runtime: str = ""
    not_applicable: str = ""
    note: str = ""

    @property
    def status(self) -> str:
        if self.rules:
            return RULE
        return RUNTIME if self.runtime else NOT_APPLICABLE

    @property
    def reason(self) -> str:
        return self.runtime or self.not_applicable


def rules(*ids: str, note: str = "") -> Mapping:
    return Mapping(rules=ids, note=note)


def runtime(reason: str) -> Mapping:
    return Mapping(runtime=reason)


def not_applicable(reason: str) -> Mapping:
    return Mapping(not_applicable=reason)


_USERS = "PCI4-IAM-NO-USERS refuses IAM users in the templates; the users' credential state lives in the account"
_SDK_POLICY = "PCI4-ACCOUNT-GUARD-VALUES checks the password policy the templates set by SDK call"

# PCI4-ES-IN-VPC, -NODE-TO-NODE-ENCRYPTION and -TLS12 read both domain types (pack 1.13.0); the control evaluates
# the Elasticsearch one, and its Opensearch.2/.3/.8 counterparts are not in the PCI DSS v4.0.1 standard.
_SEARCH_TYPES = (
    "also every AWS::OpenSearchService::Domain (CDK's aws_opensearchservice.Domain), which the control does not"
    " evaluate"
)
# The EKS rules read both shapes an app renders a cluster in.
_EKS_SHAPES = "AWS::EKS::Cluster and the Custom::AWSCDK-EKS-Cluster (its Config) CDK's aws_eks.Cluster renders"

MAPPINGS: dict[str, Mapping] = {
    "ACM.1": runtime(
        "a certificate's expiry date exists only once issued; PCI4-ELB-ACM-CERTIFICATE makes listeners use"
        " ACM certificates, which ACM renews"
    ),
    "ACM.2": rules("PCI4-ELB-ACM-CERTIFICATE", note="certificates requested in the templates (KeyAlgorithm)"),
    "APIGateway.9": rules("PCI4-APIGW-V2-ACCESS-LOGS"),
    "AppSync.2": rules("PCI4-APPSYNC-FIELD-LOGGING"),
    "AutoScaling.3": rules("PCI4-AUTOSCALING-LAUNCH-CONFIG-IMDSV2"),
    "Autoscaling.5": rules("PCI4-AUTOSCALING-LAUNCH-CONFIG-NO-PUBLIC-IP"),
    "CloudFront.1": rules("PCI4-CLOUDFRONT-DEFAULT-ROOT-OBJECT"),
    "CloudFront.3": rules("PCI4-CLOUDFRONT-VIEWER-HTTPS"),
    "CloudFront.5": rules("PCI4-CLOUDFRONT-LOGGING"),
    "CloudFront.6": rules("PCI4-CLOUDFRONT-WAF"),
    "CloudFront.9": rules("PCI4-CLOUDFRONT-ORIGIN-HTTPS"),
    "CloudFront.10": rules("PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3"),
    "CloudFront.12": runtime("whether the origin bucket exists is known only in the account (it may live elsewhere)"),
    "CloudTrail.2": rules("PCI4-TRAIL-KMS"),
    "CloudTrail.3": rules("PCI4-TRAIL-LOGGING", "PCI4-TRAIL-MULTI-REGION"),
    "CloudTrail.4": rules("PCI4-TRAIL-VALIDATION"),
    "CloudTrail.6": rules("PCI4-S3-PUBLIC-ACCESS-BLOCK", note="every bucket, the trail's included"),
    "CloudTrail.7": rules("PCI4-S3-ACCESS-LOGGING", note="every bucket, the trail's included"),
    "CodeBuild.1": rules("PCI4-CODEBUILD-HARDENED"),
    "CodeBuild.2": rules("PCI4-CODEBUILD-HARDENED"),
    "CodeBuild.3": rules("PCI4-CODEBUILD-HARDENED"),
    "DMS.1": rules("PCI4-DMS-INSTANCE-NOT-PUBLIC"),
    "DMS.6": rules("PCI4-DMS-MINOR-UPGRADES"),
    "DMS.7": rules("PCI4-DMS-TARGET-LOGGING"),
    "DMS.8": rules("PCI4-DMS-SOURCE-LOGGING"),
    "DMS.9": rules("PCI4-DMS-ENDPOINT-TLS"),
    "DMS.10": rules("PCI4-DMS-ENDPOINT-AUTHENTICATION"),
    "DMS.11": rules("PCI4-DMS-ENDPOINT-AUTHENTICATION"),
    "DMS.12": rules("PCI4-DMS-ENDPOINT-TLS"),
    "DocumentDB.2": rules("PCI4-DOCDB-BACKUP-RETENTION"),
    "DocumentDB.3": not_applicable("CloudFormation creates no manual cluster snapshot and cannot share one"),
    "DocumentDB.4": rules("PCI4-DOCDB-AUDIT-LOGS"),
    "DynamoDB.7": rules("PCI4-DAX-TLS"),
    # The account's IMDSv2 default (PCI4-ACCOUNT-GUARD-VALUES) is not on this row: that rule does not cite 2.2.6, and
    # EC2.8 examines instances, which PCI4-EC2-INSTANCE-IMDSV2 reads (QSA reader r21d, LOW).
    "EC2.8": rules("PCI4-EC2-INSTANCE-IMDSV2", note="instances and their launch templates"),
    "EC2.13": rules("PCI4-EC2-SG-NO-OPEN-INGRESS", note="no port open to the internet but 80/443 on an LB's group"),
    "EC2.14": rules("PCI4-EC2-SG-NO-OPEN-INGRESS"),
    "EC2.15": rules("PCI4-EC2-NO-AUTO-PUBLIC-IP"),
    "EC2.16": rules("PCI4-EC2-NACL-IN-USE"),
    "EC2.21": rules("PCI4-EC2-NACL-NO-OPEN-INGRESS"),
    "EC2.25": rules("PCI4-EC2-LAUNCH-TEMPLATE-NO-PUBLIC-IP"),
    "EC2.51": rules("PCI4-EC2-CLIENT-VPN-LOGGING"),
    "EC2.53": rules("PCI4-EC2-SG-NO-OPEN-INGRESS"),
    "EC2.54": rules("PCI4-EC2-SG-NO-OPEN-INGRESS"),
    "EC2.170": rules("PCI4-EC2-LAUNCH-TEMPLATE-IMDSV2"),
    "EC2.171": rules("PCI4-EC2-VPN-LOGGING"),
    "ECR.1": rules("PCI4-ECR-SCAN-ON-PUSH"),
    "ECS.2": rules("PCI4-ECS-SERVICE-NO-PUBLIC-IP"),
    "ECS.8": rules("PCI4-ECS-NO-SECRETS-IN-ENVIRONMENT"),
    "ECS.10": rules("PCI4-ECS-FARGATE-LATEST-PLATFORM"),
    "ECS.16": rules("PCI4-ECS-TASK-SET-NO-PUBLIC-IP"),
    "EFS.4": rules("PCI4-EFS-ACCESS-POINT-USER"),
    "EKS.1": rules("PCI4-EKS-PRIVATE-ENDPOINT", note=_EKS_SHAPES),
    "EKS.2": rules(
        "PCI4-EKS-SUPPORTED-VERSION", note=f"against a dated oldest supported version in the rule; {_EKS_SHAPES}"
    ),
    "EKS.3": rules("PCI4-EKS-SECRETS-ENCRYPTED", note=_EKS_SHAPES),
    "EKS.8": rules("PCI4-EKS-AUDIT-LOGGING", note=_EKS_SHAPES),
    "ElastiCache.2": rules("PCI4-ELASTICACHE-MINOR-UPGRADES"),
    "ElastiCache.5": rules("PCI4-ELASTICACHE-TRANSIT-ENCRYPTION"),
    "ElastiCache.6": rules("PCI4-ELASTICACHE-AUTH", note="every Redis OSS/Valkey group, not only earlier versions"),
    "ElasticBeanstalk.2": rules("PCI4-BEANSTALK-MANAGED-UPDATES"),
    "ElasticBeanstalk.3": rules("PCI4-BEANSTALK-STREAM-LOGS"),
    "ELB.3": rules("PCI4-CLB-HTTPS-LISTENERS"),
    "ELB.4": rules("PCI4-ELB-DROP-INVALID-HEADERS"),
    "ELB.8": rules("PCI4-CLB-TLS12-POLICY"),
    "ELB.12": rules("PCI4-ELB-DESYNC-MITIGATION"),
    "ELB.14": not_applicable(
        "AWS::ElasticLoadBalancing::LoadBalancer has no desync-mitigation attribute; it is set by API"
        " (default defensive)"
    ),
    "EMR.1": rules("PCI4-EMR-PRIMARY-NO-PUBLIC-IP"),
    "EMR.2": rules(
        "PCI4-ACCOUNT-GUARD-VALUES",
        note="the EMR block public access an SDK call sets (no CloudFormation resource has it)",
    ),
    "ES.2": rules("PCI4-ES-IN-VPC", note=_SEARCH_TYPES),
    "ES.3": rules("PCI4-ES-NODE-TO-NODE-ENCRYPTION", note=_SEARCH_TYPES),
    "ES.5": rules("PCI4-ES-AUDIT-LOGS"),
    "ES.8": rules("PCI4-ES-TLS12", note=_SEARCH_TYPES),
    "EventBridge.3": rules("PCI4-EVENTBRIDGE-BUS-POLICY"),
    "GuardDuty.1": rules("PCI4-GUARDDUTY-ENABLED"),
    "GuardDuty.6": rules("PCI4-GUARDDUTY-PROTECTIONS"),
    "GuardDuty.7": rules("PCI4-GUARDDUTY-PROTECTIONS", note="Runtime Monitoring, which covers EKS"),
    "GuardDuty.9": rules("PCI4-GUARDDUTY-PROTECTIONS"),
    "GuardDuty.10": rules("PCI4-GUARDDUTY-PROTECTIONS"),
    "IAM.3": runtime(f"access-key age; {_USERS}"),
    "IAM.5": runtime(f"MFA devices are registered in the account; {_USERS}"),
    "IAM.6": runtime("the root user's MFA device is registered in the account, not in a template"),
    "IAM.7": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.8": runtime(f"last use of a credential; {_USERS}"),
    "IAM.9": runtime("the root user's MFA device is registered in the account, not in a template"),
    "IAM.11": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.12": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.14": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.16": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.17": rules("PCI4-ACCOUNT-GUARD-VALUES", note=_SDK_POLICY),
    "IAM.18": runtime(
        "iam-policy-in-use with policyUsageType ANY passes when any IAM entity of the account has AWSSupportAccess,"
        " wherever it was made (often by the organization's baseline); a template shows only its own roles, so"
        " neither its absence nor its presence there decides the control"
    ),
    "IAM.19": runtime(f"MFA devices are registered in the account; {_USERS}"),
    "Inspector.1": rules("PCI4-INSPECTOR-EC2-ECR-SCANNING", note="where the templates enable Inspector"),
    "Inspector.2": rules("PCI4-INSPECTOR-EC2-ECR-SCANNING", note="where the templates enable Inspector"),
    "Inspector.3": rules("PCI4-INSPECTOR-LAMBDA-SCANNING", note="where the templates enable Inspector"),
    "Inspector.4": rules("PCI4-INSPECTOR-LAMBDA-SCANNING", note="where the templates enable Inspector"),
    "KMS.4": rules("PCI4-KMS-ROTATION"),
    "Lambda.1": rules(
        "PCI4-LAMBDA-NO-PUBLIC-ACCESS",
        "PCI4-LAMBDA-SERVICE-PERMISSION-SOURCE",
        note="no `*` without a source condition, no unauthenticated URL; a service principal names its source",
    ),
    "Lambda.2": rules("PCI4-LAMBDA-SUPPORTED-RUNTIME"),
    "MQ.2": rules("PCI4-MQ-AUDIT-LOGS"),
    "MQ.3": rules("PCI4-MQ-MINOR-UPGRADES"),
    "MSK.1": rules("PCI4-MSK-IN-TRANSIT"),
    "MSK.3": rules("PCI4-MSK-CONNECT-IN-TRANSIT"),
    "Neptune.2": rules("PCI4-NEPTUNE-AUDIT-LOGS"),
    "Neptune.3": not_applicable("CloudFormation creates no manual cluster snapshot and cannot share one"),
    "Opensearch.5": rules("PCI4-OPENSEARCH-AUDIT-LOGS"),
    "Opensearch.10": runtime("whether a service software update is pending is known only in the account"),
    "RDS.2": rules("PCI4-RDS-NOT-PUBLIC"),
    "RDS.9": rules("PCI4-RDS-LOG-EXPORTS"),
    "RDS.13": rules("PCI4-RDS-MINOR-UPGRADES"),
    "RDS.20": rules("PCI4-RDS-EVENT-SUBSCRIPTION-CRITICAL"),
    "RDS.21": rules("PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG"),
    "RDS.22": rules("PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG"),
    "RDS.24": rules("PCI4-RDS-CUSTOM-MASTER-USERNAME"),
    "RDS.25": rules("PCI4-RDS-CUSTOM-MASTER-USERNAME"),
    "RDS.34": rules("PCI4-RDS-LOG-EXPORTS"),
    "RDS.35": rules("PCI4-RDS-MINOR-UPGRADES"),
    "RDS.36": rules("PCI4-RDS-LOG-EXPORTS"),
    "RDS.37": rules("PCI4-RDS-LOG-EXPORTS"),
    "Redshift.1": rules("PCI4-REDSHIFT-NOT-PUBLIC"),
    "Redshift.2": rules("PCI4-REDSHIFT-REQUIRE-TLS"),
    "Redshift.4": rules("PCI4-REDSHIFT-AUDIT-LOGGING"),
    "Redshift.15": rules("PCI4-EC2-SG-NO-OPEN-INGRESS", note="no security group admits the internet"),
    "Route53.2": rules("PCI4-ROUTE53-QUERY-LOGGING"),
    "S3.1": rules("PCI4-ACCOUNT-GUARD-VALUES", note="the account's Block Public Access set by SDK call"),
    "S3.5": rules("PCI4-S3-TLS-ONLY"),
    "S3.8": rules("PCI4-S3-PUBLIC-ACCESS-BLOCK"),
    "S3.9": rules("PCI4-S3-ACCESS-LOGGING", note="a bucket receiving access logs is exempt (the control fails it)"),
    "S3.15": rules(
        "PCI4-TRAIL-ARCHIVE-OBJECT-LOCK",
        note="the audit archive only; other buckets are versioned (PCI4-S3-VERSIONING), the control fails them",
    ),
    "S3.17": rules(
        "PCI4-S3-CUSTOMER-KEY",
        "PCI4-S3-ENCRYPTION",
        note="SSE-S3 allowed where a log service requires it; the control fails those",
    ),
    "S3.19": rules("PCI4-S3-ACCESS-POINT-BPA"),
    "S3.22": rules("PCI4-TRAIL-DATA-EVENTS"),
    "S3.23": rules("PCI4-TRAIL-DATA-EVENTS"),
    "S3.24": rules("PCI4-S3-MRAP-BPA"),
    "SageMaker.1": rules("PCI4-SAGEMAKER-NO-DIRECT-INTERNET"),
    "SecretsManager.1": rules("PCI4-SECRET-ROTATION"),
    "SecretsManager.2": runtime("whether the last rotation succeeded is known only in the account"),
    "SecretsManager.4": rules("PCI4-SECRET-ROTATION", note="rotation schedule <= 90 days"),
    "SSM.2": runtime("patch compliance is reported by the instances at run time"),
    "SSM.3": runtime("association compliance is reported by the instances at run time"),
    "StepFunctions.1": rules("PCI4-STEPFUNCTIONS-LOGGING"),
    "Transfer.2": rules("PCI4-TRANSFER-NO-FTP"),
    "WAF.1": not_applicable(
        "AWS WAF Classic has no CloudFormation resource for logging; PCI4-WAF-LOGGING covers AWS WAF (v2)"
    ),
    "WAF.11": rules("PCI4-WAF-LOGGING"),
}

# Controls whose rule another change of the pack brings: control -> the rule it maps to once present
# (none at present; Lambda.1's source rule arrived with issue 18).
AWAITED_RULES: dict[str, str] = {}


def _awaited(control_id: str) -> Mapping:
    awaited = AWAITED_RULES[control_id]
    return Mapping(rules=(awaited,)) if any(r.id == awaited for r in RULES) else Mapping()


@dataclass(frozen=True)
class ConfigPackRule:
    """An AWS Config rule of a PCI DSS 4.0 conformance pack that checks a property a template shows and
    that no Security Hub control of the standard covers."""

    name: str
    resource_types: tuple[str, ...]
    rules: tuple[str, ...]
    note: str = ""


# From the project's conformance pack (compliance/conformance/pci-dss-v4.json, the managed rules of AWS's
# "Operational Best Practices for PCI DSS 4.0" sample, not a copy of it): those whose property a template
# shows and whose Config rule no control of the standard above uses.
CONFIG_PACK_RULES: tuple[ConfigPackRule, ...] = (
    ConfigPackRule("cloud-trail-cloud-watch-logs-enabled", ("AWS::CloudTrail::Trail",), ("PCI4-TRAIL-CLOUDWATCH",)),
    ConfigPackRule(
        "multi-region-cloudtrail-enabled",
        ("AWS::CloudTrail::Trail",),
        ("PCI4-TRAIL-MULTI-REGION", "PCI4-TRAIL-MANAGEMENT-EVENTS"),
    ),
    ConfigPackRule("cloudwatch-log-group-encrypted", ("AWS::Logs::LogGroup",), ("PCI4-LOGS-KMS-RETAINED",)),
    ConfigPackRule("cw-loggroup-retention-period-check", ("AWS::Logs::LogGroup",), ("PCI4-LOGS-KMS-RETAINED",)),
    ConfigPackRule("s3-bucket-public-read-prohibited", ("AWS::S3::Bucket",), ("PCI4-S3-PUBLIC-ACCESS-BLOCK",)),
    ConfigPackRule("s3-bucket-public-write-prohibited", ("AWS::S3::Bucket",), ("PCI4-S3-PUBLIC-ACCESS-BLOCK",)),
    ConfigPackRule("vpc-flow-logs-enabled", ("AWS::EC2::VPC",), ("PCI4-EC2-FLOW-LOGS",)),
    ConfigPackRule(
        "vpc-default-security-group-closed", ("AWS::EC2::SecurityGroup",), ("PCI4-EC2-DEFAULT-SG-RESTRICTED",)
    ),
    ConfigPackRule("ec2-instance-no-public-ip", ("AWS::EC2::Instance",), ("PCI4-EC2-NO-AUTO-PUBLIC-IP",)),
    ConfigPackRule("encrypted-volumes", ("AWS::EC2::Volume",), ("PCI4-EC2-VOLUME-ENCRYPTED",)),
    ConfigPackRule("ec2-ebs-encryption-by-default", ("AWS::::Account",), ("PCI4-EC2-EBS-DEFAULT-ENCRYPTION",)),
    ConfigPackRule(
        "rds-storage-encrypted",
        ("AWS::RDS::DBInstance",),
        ("PCI4-RDS-STORAGE-ENCRYPTED", "PCI4-RDS-INHERITED-ENCRYPTION"),
    ),
    ConfigPackRule(
        "kms-cmk-not-scheduled-for-deletion", ("AWS::KMS::Key",), ("PCI4-KMS-DELETION-WINDOW", "PCI4-STATEFUL-RETAINED")
    ),
    ConfigPackRule("iam-policy-no-statements-with-admin-access", ("AWS::IAM::Policy",), ("PCI4-IAM-NO-STAR-ACTIONS",)),
    ConfigPackRule("iam-user-no-policies-check", ("AWS::IAM::User",), ("PCI4-IAM-NO-USERS",)),
    ConfigPackRule(
        "alb-http-to-https-redirection-check",
        ("AWS::ElasticLoadBalancingV2::Listener",),
        ("PCI4-ELB-HTTP-REDIRECT-ONLY",),
    ),
    ConfigPackRule("alb-waf-enabled", ("AWS::ElasticLoadBalancingV2::LoadBalancer",), ("PCI4-ELB-WAF",)),
    ConfigPackRule("elb-logging-enabled", ("AWS::ElasticLoadBalancingV2::LoadBalancer",), ("PCI4-ELB-ACCESS-LOGS",)),
    ConfigPackRule("sns-encrypted-kms", ("AWS::SNS::Topic",), ("PCI4-SNS-ENCRYPTED",)),
    ConfigPackRule("securityhub-enabled", ("AWS::::Account",), ("PCI4-SECURITYHUB-PCI-V401",)),
    ConfigPackRule("ebs-snapshot-public-restorable-check", ("AWS::::Account",), ("PCI4-ACCOUNT-GUARD-VALUES",)),
    ConfigPackRule("ssm-document-not-public", ("AWS::SSM::Document",), ("PCI4-ACCOUNT-GUARD-VALUES",)),
    ConfigPackRule("netfw-logging-enabled", ("AWS::NetworkFirewall::Firewall",), ("PCI4-NETWORK-FIREWALL-POSTURE",)),
    # Pack 1.15.0 (issue 21): offered in all supported AWS regions on its page (AWS Config Developer Guide,
    # rds-instance-deletion-protection-enabled) and in the vendored managed-rule list, so the project pack holds it.
    ConfigPackRule(
        "rds-instance-deletion-protection-enabled", ("AWS::RDS::DBInstance",), ("PCI4-RDS-DELETION-PROTECTION",)
    ),
)

_LAUNCHED = "the rule also reads every Auto Scaling group's launch templates (LaunchTemplate, MixedInstancesPolicy)"
_REST_STAGES = "the rule also reads the stage an AWS::ApiGateway::Deployment makes from its StageDescription"
_CF = ("AWS::CloudFront::Distribution",)
_INSTANCE = ("AWS::EC2::Instance",)

# AWS's PCI DSS v4.0 pack rules (the vendored list) that a synth rule checks but that the project's own pack
# does not deploy: several are offered in some regions only (the CloudFront ones in US East (N. Virginia)
# only, per each rule's page in the AWS Config Developer Guide), and a conformance pack deployed in every
# region of the environment cannot hold them. After deploy they are watched by AWS's pack
# (`audit.conformance_packs.aws_managed`, the managed PCI-DSS_V4 pack, or `aws_sample_s3_uri`, the sample
# template this list is vendored from). Resource types are the vendored list's; the three with none
# there name the type their synth rule reads.
AWS_PACK_SYNTH_RULES: tuple[ConfigPackRule, ...] = (
    ConfigPackRule(
        "api-gw-cache-enabled-and-encrypted",
        ("AWS::ApiGateway::Stage",),
        ("PCI4-APIGW-CACHE-ENCRYPTED",),
        note=f"partial: a stage with no cache passes (the Config rule also fails it); {_REST_STAGES}",
    ),
    ConfigPackRule("api-gw-endpoint-type-check", ("AWS::ApiGateway::RestApi",), ("PCI4-APIGW-ENDPOINT-TYPE",)),
    ConfigPackRule("api-gw-xray-enabled", ("AWS::ApiGateway::Stage",), ("PCI4-APIGW-XRAY",), note=_REST_STAGES),
    ConfigPackRule("cloudfront-custom-ssl-certificate", _CF, ("PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE",)),
    ConfigPackRule(
        "cloudfront-origin-access-identity-enabled",
        _CF,
        ("PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS",),
        note="the rule takes origin access control (AWS's recommendation) as well as a legacy OAI",
    ),
    ConfigPackRule("cloudfront-s3-origin-access-control-enabled", _CF, ("PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS",)),
    ConfigPackRule("cloudfront-security-policy-check", _CF, ("PCI4-CLOUDFRONT-TLS12-POLICY",)),
    ConfigPackRule("cloudfront-sni-enabled", _CF, ("PCI4-CLOUDFRONT-SNI",)),
    ConfigPackRule(
        "codebuild-project-artifact-encryption", ("AWS::CodeBuild::Project",), ("PCI4-CODEBUILD-ARTIFACTS-ENCRYPTED",)
    ),
    ConfigPackRule(
        "codedeploy-lambda-allatonce-traffic-shift-disabled",
        ("AWS::CodeDeploy::DeploymentGroup",),
        ("PCI4-CODEDEPLOY-LAMBDA-GRADUAL",),
        note="the group's application is found by reference or by its literal name; where it is not in the"
        " templates, a CodeDeployDefault.Lambda* DeploymentConfigName decides",
    ),
    ConfigPackRule(
        "ec2-client-vpn-not-authorize-all",
        ("AWS::EC2::ClientVpnEndpoint",),
        ("PCI4-EC2-CLIENT-VPN-NOT-ALL",),
        note="the rule reads the endpoint's AWS::EC2::ClientVpnAuthorizationRule resources",
    ),
    ConfigPackRule(
        "ec2-instance-detailed-monitoring-enabled", _INSTANCE, ("PCI4-EC2-DETAILED-MONITORING",), note=_LAUNCHED
    ),
    ConfigPackRule("ec2-instance-profile-attached", _INSTANCE, ("PCI4-EC2-INSTANCE-PROFILE",), note=_LAUNCHED),
    ConfigPackRule("ec2-no-amazon-key-pair", _INSTANCE, ("PCI4-EC2-NO-KEY-PAIR",), note=_LAUNCHED),
    ConfigPackRule(
        "ec2-transit-gateway-auto-vpc-attach-disabled", ("AWS::EC2::TransitGateway",), ("PCI4-EC2-TGW-NO-AUTO-ACCEPT",)
    ),
    ConfigPackRule(
        "ecr-private-lifecycle-policy-configured", ("AWS::ECR::Repository",), ("PCI4-ECR-LIFECYCLE-POLICY",)
    ),
    ConfigPackRule(
        "ecs-task-definition-log-configuration", ("AWS::ECS::TaskDefinition",), ("PCI4-ECS-LOG-CONFIGURATION",)
    ),
    ConfigPackRule("ecs-task-definition-pid-mode-check", ("AWS::ECS::TaskDefinition",), ("PCI4-ECS-NO-HOST-PID",)),
    ConfigPackRule("eks-cluster-logging-enabled", ("AWS::EKS::Cluster",), ("PCI4-EKS-ALL-CONTROL-PLANE-LOGS",)),
    ConfigPackRule("eks-secrets-encrypted", ("AWS::EKS::Cluster",), ("PCI4-EKS-SECRETS-ENCRYPTED",)),
    # Data stores (pci_rules/rules/data_stores.py, pack 1.6.0). AWS Config records DocumentDB and Neptune
    # clusters as AWS::RDS::DBCluster (the vendored type); the synth rules read AWS::DocDB::DBCluster and
    # AWS::Neptune::DBCluster. Those with no type in the vendored list name their Config rule page's.
    ConfigPackRule("dax-encryption-enabled", ("AWS::DAX::Cluster",), ("PCI4-DAX-ENCRYPTED",)),
    ConfigPackRule(
        "docdb-cluster-encrypted",
        ("AWS::RDS::DBCluster",),
        ("PCI4-DOCDB-ENCRYPTED",),
        note="the rule reads AWS::DocDB::DBCluster",
    ),
    ConfigPackRule("dynamodb-pitr-enabled", ("AWS::DynamoDB::Table",), ("PCI4-DYNAMODB-PITR",)),
    ConfigPackRule(
        "dynamodb-table-encrypted-kms",
        ("AWS::DynamoDB::Table",),
        ("PCI4-DYNAMODB-KMS",),
        note="the rule asks a customer-managed key (the AWS managed alias/aws/dynamodb fails it)",
    ),
    ConfigPackRule(
        "dynamodb-table-encryption-enabled",
        ("AWS::DynamoDB::Table",),
        ("PCI4-DYNAMODB-KMS",),
        note="only SSE-KMS tables report an ENABLED status; the AWS owned key reports none; the rule asks a"
        " customer-managed key",
    ),
    ConfigPackRule(
        "elasticache-redis-cluster-automatic-backup-check",
        ("AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ReplicationGroup"),
        ("PCI4-ELASTICACHE-BACKUPS",),
        note="Redis OSS and Valkey, >= 15 days (the rule's default); memcached keeps no backups",
    ),
    ConfigPackRule(
        "kinesis-stream-encrypted",
        ("AWS::Kinesis::Stream",),
        ("PCI4-KINESIS-ENCRYPTED", "PCI4-KINESIS-CUSTOMER-KEY"),
        note="the rule asks a customer-managed key (the AWS managed alias/aws/kinesis fails it)",
    ),
    ConfigPackRule(
        "mq-cloudwatch-audit-logging-enabled",
        ("AWS::AmazonMQ::Broker",),
        ("PCI4-MQ-AUDIT-LOGS",),
        note="ActiveMQ brokers (RabbitMQ brokers have no audit log)",
    ),
    ConfigPackRule(
        "neptune-cluster-backup-retention-check",
        ("AWS::RDS::DBCluster",),
        ("PCI4-NEPTUNE-BACKUP-RETENTION",),
        note="the rule reads AWS::Neptune::DBCluster, >= 7 days (the rule's default)",
    ),
    ConfigPackRule(
        "neptune-cluster-encrypted",
        ("AWS::RDS::DBCluster",),
        ("PCI4-NEPTUNE-ENCRYPTED",),
        note="the rule reads AWS::Neptune::DBCluster",
    ),
    ConfigPackRule("redshift-backup-enabled", ("AWS::Redshift::Cluster",), ("PCI4-REDSHIFT-BACKUPS",)),
    ConfigPackRule(
        "redshift-cluster-kms-enabled",
        ("AWS::Redshift::Cluster",),
        ("PCI4-REDSHIFT-ENCRYPTED", "PCI4-REDSHIFT-KMS"),
        note="the rule asks a customer-managed key (KmsKeyId)",
    ),
    ConfigPackRule(
        "redshift-enhanced-vpc-routing-enabled", ("AWS::Redshift::Cluster",), ("PCI4-REDSHIFT-ENHANCED-VPC-ROUTING",)
    ),
    ConfigPackRule(
        "backup-recovery-point-manual-deletion-disabled",
        ("AWS::Backup::BackupVault",),
        ("PCI4-BACKUP-VAULT-NO-MANUAL-DELETION",),
    ),
    ConfigPackRule(
        "sns-topic-message-delivery-notification-enabled",
        ("AWS::SNS::Topic",),
        ("PCI4-SNS-DELIVERY-STATUS-LOGGING",),
        note="partial: topics with no subscriber in the templates, or with only e-mail or SMS subscribers, are"
        " not examined (the Config rule evaluates every AWS::SNS::Topic); a subscriber added outside the"
        " templates is seen after deploy only",
    ),
    ConfigPackRule("neptune-cluster-iam-database-authentication", ("AWS::RDS::DBCluster",), ("PCI4-NEPTUNE-IAM-AUTH",)),
    ConfigPackRule(
        "neptune-cluster-snapshot-encrypted",
        ("AWS::RDS::DBClusterSnapshot",),
        ("PCI4-NEPTUNE-ENCRYPTED",),
        note="snapshots of an encrypted cluster are encrypted; the rule reads the cluster",
    ),
    ConfigPackRule(
        "athena-workgroup-encrypted-at-rest", ("AWS::Athena::WorkGroup",), ("PCI4-ATHENA-RESULTS-ENCRYPTED",)
    ),
)

# AWS's own PCI DSS v4 mapping of each Config rule (pack 1.8.0, issue 21): `aws_pci_dss_v4_config_mapping.json`
# vendors, per rule the crosswalk places, the control IDs of two AWS Config Developer Guide pages exactly as
# each gives them, or "not found in the stored page": "Payment Card Industry Data Security Standard (PCI DSS)
# v4", the managed pack PCI-DSS_V4 (its stored copy holds the table's first row only), and "Operational Best
# Practices for PCI DSS 4.0 (Including global resource types)", the sample pack whose rule names
# `aws_pci_dss_v4_conformance_pack_rules.json` vendors (its whole table read). Both dated 2026-12-03.
AWS_MAPPING_FILE = HERE / "aws_pci_dss_v4_config_mapping.json"
READ = "read"
NOT_FOUND = "not found in the stored page"
MAPPING_SOURCES = ("managed_pack", "sample_pack")
SOURCE_LABELS = {"managed_pack": "managed pack PCI-DSS_V4", "sample_pack": "sample pack page"}


@cache
def aws_mapping() -> dict[str, dict[str, dict[str, object]]]:
    """Config rule name -> {"managed_pack" | "sample_pack": {"status": READ | NOT_FOUND, "control_ids": [...]}}.

    Raises KeyError/ValueError (via json) when the vendored file is malformed; tests/test_crosswalk.py holds
    its schema."""
    data = json.loads(AWS_MAPPING_FILE.read_text(encoding="utf-8"))
    return {entry["name"]: {s: entry[s] for s in MAPPING_SOURCES} for entry in data["rules"]}


def aws_requirements(config_rule: str) -> tuple[tuple[str, ...], str]:
    """AWS's PCI DSS v4 control IDs for `config_rule` and the page they were read from (a SOURCE_LABELS key):
    the managed pack's where its stored page gives them, else the sample pack page's; `((), "")` when neither
    stored page lists the rule (or the crosswalk does not place it)."""
    entry = aws_mapping().get(config_rule, {})
    for source in MAPPING_SOURCES:
        found = entry.get(source, {})
        if found.get("status") == READ:
            return tuple(str(q) for q in cast(list[str], found["control_ids"])), source
    return (), ""


def mapping_read_date() -> str:
    """The date the vendored mapping's pages were read (ISO 8601)."""
    return str(json.loads(AWS_MAPPING_FILE.read_text(encoding="utf-8"))["read"])


def mapping_counts() -> dict[str, int]:
    """Per source page, how many of the vendored rules it lists (status READ)."""
    return {
        source: sum(1 for entry in aws_mapping().values() if entry[source].get("status") == READ)
        for source in MAPPING_SOURCES
    }


def rule_requirements(rule_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The union of the synth rules' PCI DSS v4.0.1 requirements, evidenced (`Rule.requirements`) and related
    (`Rule.related`), in the rules' own order: what the crosswalk compares with AWS's mapping."""
    by_id = {r.id: r for r in RULES}
    return tuple(
        dict.fromkeys(q for rule_id in rule_ids for q in (*by_id[rule_id].requirements, *by_id[rule_id].related))
    )


def _requirements_cell(rule_ids: tuple[str, ...]) -> str:
    """`rule_requirements` as a cell: a requirement no rule of the row evidences is marked "(related)"."""
    by_id = {r.id: r for r in RULES}
    evidenced = {q for rule_id in rule_ids for q in by_id[rule_id].requirements}
    cited = rule_requirements(rule_ids)
    return ", ".join(q if q in evidenced else f"{q} (related)" for q in cited) or "-"


# Rules that evidence no requirement (`Rule.requirements` empty, only `related`) are kept in the pack for the
# control they stand in for: a Security Hub PCI DSS v4.0.1 control mapped to them, or a Config rule AWS maps to
# PCI DSS v4 (`aws_requirements`). A rule with neither says here why the pack keeps it (pack 1.9.0, QSA reader
# r21b); tests/test_pci_rules.py fails for a support-only rule with no reason and for a stale entry.
SUPPORT_ONLY_REASONS: dict[str, str] = {
    "PCI4-RDS-PROXY-TLS": "TLS from clients to an RDS proxy, inside the VPC: internal transit, which 4.2.1 (open,"
    " public networks) does not ask; kept because a proxy that accepts clear text would expose credentials"
    " and query results to anything on the subnet",
    "PCI4-RDS-TLS-FORCED": "a database that refuses connections without TLS, inside the VPC: internal transit,"
    " which 4.2.1 (open, public networks) does not ask; kept so no client, the proxy included, can fall back to"
    " clear text",
    "PCI4-SNS-TLS-ONLY": "a topic policy that refuses requests without TLS (aws:SecureTransport); publishers reach"
    " SNS over AWS's API, internal transit rather than open public networks, so it supports 4.2.1 only",
    "PCI4-SQS-ENCRYPTED": "a queue's encryption at rest, as Security Hub FSBP SQS.1 checks it (not a control of"
    " the PCI DSS standard); supports 3.5.1.2 where a queue carries account data",
    "PCI4-SQS-CUSTOMER-KEY": "a queue's key in the owner's hands (its key policy), which 3.6.1's procedures"
    " govern; supports 3.5.1.2 and 3.6.1 where a queue carries account data",
    "PCI4-EFS-ENCRYPTED": "a file system's encryption at rest, which efs-encrypted-check watches after deploy;"
    " supports 3.5.1.2 where the file system holds account data",
    "PCI4-SNS-ENCRYPTED": "a topic's encryption under a KMS key, which the Config rule sns-encrypted-kms watches"
    " after deploy; supports 3.5.1 and 10.3.2 where a topic carries account data or audit records",
    "PCI4-LAMBDA-ENV-ENCRYPTED": "a function's environment encrypted under a customer key, so configuration"
    " values are readable only through the key policy; supports 3.5.1 where an environment would carry PAN",
    "PCI4-EC2-EBS-DEFAULT-ENCRYPTION": "the account's default encryption of new EBS volumes, which the Config"
    " rule ec2-ebs-encryption-by-default watches after deploy; disk-level encryption, supports 3.5.1.2",
    "PCI4-EC2-VOLUME-ENCRYPTED": "a volume's encryption, which the Config rule encrypted-volumes watches after"
    " deploy; disk-level encryption, supports 3.5.1.2",
    "PCI4-RDS-STORAGE-ENCRYPTED": "a database's storage encryption, which the Config rule rds-storage-encrypted"
    " watches after deploy; disk-level encryption of a database, supports 3.5.1.2 beside a field-level"
    " encryption of stored PAN (3.5.1)",
    "PCI4-RDS-INHERITED-ENCRYPTION": "the owner's verified record that a restored or replicated database's source"
    " is encrypted, where the templates cannot show it; the Config rule rds-storage-encrypted reads the"
    " database's actual encryption after deploy; disk-level encryption, supports 3.5.1.2",
    "PCI4-RDS-CUSTOMER-KEY": "the database key's policy in the owner's hands, which 3.6.1's procedures govern",
    "PCI4-RDS-DELETION-PROTECTION": "a stateful database cannot be deleted by one stack update; supports 3.5.1"
    " and 10.5.1 only as a guard against losing the store",
    "PCI4-RDS-BACKUPS": "automated backups the incident response plan's data backup processes rely on (12.10.1)",
    "PCI4-STATEFUL-RETAINED": "stateful resources (keys, logs, databases) survive a stack deletion; supports"
    " 3.5.1 and 10.5.1 only as a guard against losing them",
    "PCI4-ELASTICACHE-ENCRYPTED-AT-REST": "a replication group's encryption at rest, which the Config rule"
    " elasticache-repl-grp-encrypted-at-rest watches after deploy; storage-level encryption, supports 3.5.1.2",
    "PCI4-OPENSEARCH-ENCRYPTED-AT-REST": "a domain's encryption at rest, which the Config rules"
    " opensearch-encrypted-at-rest and elasticsearch-encrypted-at-rest watch after deploy; storage-level"
    " encryption, supports 3.5.1.2",
}


def support_reason(rule_id: str) -> str:
    """Why the pack keeps a rule whose `requirements` are empty: the Security Hub controls mapped to it, else
    AWS's mapping of the Config rules the crosswalk places for it, else `SUPPORT_ONLY_REASONS`; "" when none."""
    controls_ = [c.id for c in controls() if rule_id in mapping(c.id).rules]
    if controls_:
        return "stands in for Security Hub " + ", ".join(controls_)
    mapped = [
        f"{entry.name} ({', '.join(aws_requirements(entry.name)[0])})"
        for entry in (*AWS_PACK_SYNTH_RULES, *CONFIG_PACK_RULES)
        if rule_id in entry.rules and aws_requirements(entry.name)[0]
    ]
    if mapped:
        return "stands in for AWS's mapping of " + "; ".join(mapped)
    return SUPPORT_ONLY_REASONS.get(rule_id, "")


# Where this pack's requirements for a Config-rule row (its synth rules' requirements, and for a row of the
# project's conformance pack that pack's PciDssV401Requirements too) differ from AWS's mapping of the same
# Config rule (`aws_pci_dss_v4_config_mapping.json`), the reviewed reason, keyed by Config rule name.
# Reviewed 2026-12-03 against the requirement texts (evidence/catalog.py TITLES; the v4.0.1 requirement and
# applicability notes). Recurring grounds: A1 (multi-tenant service providers) and A3 (designated entities,
# DESV) apply only to entities of those kinds, which a landing zone does not make its forks; 5.3.4 is the
# anti-malware solution's own logs; 10.6.3 protects time-synchronization settings; the 10.2.1.x and 10.2.2
# sub-requirements are the events and details a log captures, which turning a log on does not decide.
# tests/test_crosswalk.py fails for a difference without a reason here, and for a reason with no difference.
_A1 = "A1 (multi-tenant service providers only)"
_A3 = "A3 (designated entities' supplemental validation only)"
DEPARTURES: dict[str, str] = {
    "multi-region-cloudtrail-enabled": "10.2.1 is the trail's coverage and 10.2.2 its record contents (the"
    " project pack, compliance/conformance/pci-dss-v4.json in the repository that ships this pack, maps"
    " the same two); of the events of 10.2.1.1-10.2.1.7, the rule's management-event half (no"
    " ExcludeManagementEventSources, PCI4-TRAIL-MANAGEMENT-EVENTS) evidences 10.2.1.7 and supports 10.2.1.1;"
    " the other events are what data-event selectors record (PCI4-TRAIL-DATA-EVENTS), 10.3.1 is read access"
    " to the log files (bucket and key policies), 10.6.3 time"
    f" settings and 5.3.4 anti-malware logs, none of them a trail's region scope; {_A1}",
    "cw-loggroup-retention-period-check": "10.5.1 (12 months' retention) is AWS's and ours; the rule's KMS half"
    " adds 10.3.2 (logs protected from modification). 3.2.1 and 3.3.x limit how long account data and SAD are"
    " kept, and a log group keeps neither by design; 5.3.4 is the anti-malware solution's own logs",
    "netfw-logging-enabled": "PCI4-NETWORK-FIREWALL-POSTURE checks the egress firewall's whole posture, so it"
    " cites 1.3.2, 1.4.1 and 1.5.1 besides the logging's 10.2.1 (the project pack maps 1.3.2, 10.2.1). The"
    " 10.2.1.x events and 10.2.2 details are the firewall log's fixed format, 10.3.1 is access to the log files,"
    f" 10.6.3 time settings, 5.3.4 anti-malware logs; {_A1}",
    "api-gw-cache-enabled-and-encrypted": "cache encryption is storage-level, 3.5.1.2's subject; it does not"
    " render a cached PAN unreadable to callers (3.5.1), and a response cache holds no authentication factors"
    " (8.3.2; the API's authorizer tokens are not cached by this setting)",
    "api-gw-endpoint-type-check": "1.4.1 (NSCs between trusted and untrusted networks) is what a regional or"
    " private endpoint gives: the owner's own WAF or VPC endpoint in front. 1.2.8 is NSC configuration files;"
    " 1.3.1, 1.3.2, 1.4.2, 1.4.4 and 1.5.1 are the security groups, NACLs and routes the network rules check,"
    f" not the endpoint type; {_A1}",
    "api-gw-xray-enabled": "a trace is not an audit log, so 10.2.x, 10.3.1, 10.4.x and 10.6.3 (the logs, their"
    " review and time) are not cited; 10.7.2 is related only: the trace helps locate a failure once an alarm"
    " detects it, but 10.7.2.b"
    " examines that a failure of a critical security control generates an alert, which a trace is not."
    f" 10.7.1 is the service-provider form of 10.7.2; 5.3.4 anti-malware logs; {_A1}; {_A3}",
    "cloudfront-custom-ssl-certificate": "the owner's certificate on the viewer connection is 4.2.1 (strong"
    " cryptography in transmission). It is not an NSC (1.2, 1.3, 1.4, 1.5), not stored-data encryption or its"
    " keys (3.5, 3.6, 3.7 protect stored account data) and not the inventory of trusted certificates (4.2.1.1,"
    f" kept by the entity); {_A1}",
    "cloudfront-origin-access-identity-enabled": "an S3 origin reachable only through the distribution (OAC"
    " or OAI) keeps the bucket from direct access from the internet, 1.4.4; 10.3.4 is change detection on"
    " audit logs, and the origin bucket holds content, not logs",
    "cloudfront-s3-origin-access-control-enabled": "origin access control makes the bucket answer only the"
    " distribution's signed requests, 1.4.4 (no direct access from untrusted networks); 10.3.4 is change"
    " detection on audit logs, and a content origin is not a log store",
    "cloudfront-security-policy-check": "1.2.5 is AWS's and ours; the minimum viewer TLS version is also 4.2.1,"
    " strong cryptography for PAN over the internet. 2.2.5 governs insecure protocols that remain (their"
    " justification and added protection); this rule leaves none to justify",
    "cloudfront-sni-enabled": "1.2.5 is AWS's and ours (no dedicated-IP endpoint admitting clients without SNI)."
    " 2.2.5 governs insecure services or protocols that remain, with a justification; SNI-only serving is not"
    " an insecure protocol and removes the legacy path instead",
    "codebuild-project-artifact-encryption": "build artifacts are the pipeline's templates and bundles, not"
    " stored PAN (3.5.1) nor authentication factors (8.3.2); that artifact encryption is not switched off is a"
    " security parameter of the build service, 2.2.6",
    "codedeploy-lambda-allatonce-traffic-shift-disabled": "6.5.5 forbids live PANs in pre-production and 6.5.6"
    " removes test data and accounts before production; neither concerns how traffic shifts to a new version."
    " A gradual shift with rollback is part of the change procedure for production components, 6.5.1",
    "ec2-client-vpn-not-authorize-all": "an authorization rule granting every client access to a network is"
    " access control by need to know, 7.2.1, on top of the VPN's network path; the NSC requirements (1.2, 1.3,"
    f" 1.4, 1.5) are the security groups and NACLs the client VPN reaches through; {_A1}",
    "ec2-instance-detailed-monitoring-enabled": "one-minute metrics are not audit logs (10.2.1.1) nor their"
    " review (10.4.x) or time settings (10.6.3); they let an alarm detect a failed instance within minutes, so"
    " 10.7.2 is related only (10.7.2.b examines the alert a failed control generates, which a metric is not),"
    f" and 10.7.1 is its service-provider form; {_A3}",
    "ec2-instance-profile-attached": "an instance profile gives the instance role credentials instead of keys"
    " in scripts or files, 8.6.2. What the role may do is 7.2 and 7.3 (the IAM rules check policies); 8.2.7"
    " (third-party remote access), 8.2.8 (session idle timeout) and 8.3.4 (lockout) concern user sessions",
    "ec2-no-amazon-key-pair": "a shared EC2 key pair is a shared credential, 8.2.2; 8.2.1 (unique IDs), 8.2.4"
    " and 8.2.5 (adding and removing user IDs) and 8.3.11 (individual tokens) are user-account processes the"
    " key pair's absence does not show",
    "ec2-transit-gateway-auto-vpc-attach-disabled": "no attachment accepted unreviewed keeps an unreviewed route"
    " from reaching the CDE, 1.3.1; 1.2.8 (NSC configuration files), 1.3.2 (outbound), 1.4.2 and 1.5.1 are"
    f" enforced by the groups, NACLs and egress firewall, not by attachment acceptance; {_A1}",
    "ecr-private-lifecycle-policy-configured": "3.2.1 (a retention and disposal rule) is AWS's and ours; 3.3.x"
    " forbids storing SAD after authorization, which a retention rule does not prevent, and 10.5.1 retains audit"
    " logs, which an image repository is not (its lifecycle policy deletes, the opposite)",
    "ecs-task-definition-log-configuration": "a container log configuration turns the task's logs on, 10.2.1;"
    " the events and details (10.2.1.x, 10.2.2) are the application's, access to the logs is 10.3.1, 10.6.3"
    f" time settings, 5.3.4 anti-malware logs; {_A1}",
    "ecs-task-definition-pid-mode-check": "sharing the host's process namespace is a security parameter of the"
    " task (2.2.6); 1.4.5 limits disclosure of internal IP addresses and routing, which PidMode does not touch",
    "eks-cluster-logging-enabled": "all five control-plane logs on is 10.2.1; the events and details they record"
    " (10.2.1.x, 10.2.2) are EKS's fixed formats, 10.3.1 read access to the log group, 10.6.3 time settings,"
    f" 5.3.4 anti-malware logs; {_A1}",
    "eks-secrets-encrypted": "3.5.1 is AWS's and Security Hub EKS.3's (the evidence does not cite it:"
    " Kubernetes secrets hold no PAN); 8.3.2 would need the secrets to be authentication factors, which the"
    " templates cannot show",
    "dax-encryption-enabled": "DAX encryption at rest is storage-level, 3.5.1.2's subject; it leaves cached items"
    " readable to the cluster's clients, so it is not 3.5.1, and a cache of table items holds no authentication"
    " factors by design (8.3.2)",
    "docdb-cluster-encrypted": "DocumentDB storage encryption is disk-level, 3.5.1.2's subject, not the 3.5.1"
    " mechanism; 8.3.2 would need the collections to hold authentication factors, which the templates cannot"
    " show",
    "dynamodb-pitr-enabled": "point-in-time recovery is the restore path the incident response plan's data"
    " backup processes use, so 12.10.1 is related (12.10.1.a examines the plan, a document). It lengthens"
    " retention, so 3.2.1 (keep data to a minimum) and 3.3.x (no SAD after authorization) are not served;"
    " 10.3.3 and 10.5.1 concern the audit log files' backup and retention, which a table's recovery window"
    " does not decide whatever the table holds",
    "dynamodb-table-encrypted-kms": "server-side encryption under a customer key is storage-level, 3.5.1.2's"
    " subject: items are served decrypted to any reader with table access, so not 3.5.1; authentication factors"
    " (8.3.2) are not what a table is checked for"
    "; 3.6.1 is related for the customer-managed key this pack asks (its key policy is the owner's,"
    " which 3.6.1's key-management procedures govern), never evidence",
    "dynamodb-table-encryption-enabled": "the table's SSE status (KMS) is storage-level encryption, 3.5.1.2's"
    " subject, and renders nothing unreadable to the table's readers (3.5.1); whether the items are"
    " authentication factors (8.3.2) is not in the table's settings"
    "; 3.6.1 is related for the customer-managed key this pack asks (its key policy is the owner's,"
    " which 3.6.1's key-management procedures govern), never evidence",
    "elasticache-redis-cluster-automatic-backup-check": "snapshots with a retention are the recovery the plan's"
    " data backup processes rely on (12.10.1, related: its testing procedure examines the plan); 10.3.3 backs up"
    " audit log files to a central log server or media, which a cache's snapshots are not, whatever it caches",
    "kinesis-stream-encrypted": "stream encryption under a customer key is storage-level, 3.5.1.2's subject;"
    " consumers read records decrypted, so not 3.5.1; records as authentication factors (8.3.2) are not"
    " visible in the stream's settings"
    "; 3.6.1 is related for the customer-managed key this pack asks (its key policy is the owner's,"
    " which 3.6.1's key-management procedures govern), never evidence",
    "mq-cloudwatch-audit-logging-enabled": "the broker's audit log on is 10.2.1 and its delivery to CloudWatch"
    " Logs, a central store, 10.3.3 (as Security Hub MQ.2's rule cites); 10.2.1.x and 10.2.2 are the log's"
    f" fixed events and fields, 10.3.1 access to it, 10.6.3 time, 5.3.4 anti-malware logs; {_A1}",
    "neptune-cluster-backup-retention-check": "a backup retention of at least seven days is the recovery the"
    " plan's data backup processes rely on (12.10.1, related: its testing procedure examines the plan); 10.3.3"
    " backs up audit log files to a central log server or media, which a cluster's retention window does not"
    " decide, whatever the graph holds",
    "neptune-cluster-encrypted": "Neptune storage encryption is disk-level, 3.5.1.2's subject, not the 3.5.1"
    " mechanism; 8.3.2 would need the graph to hold authentication factors",
    "redshift-backup-enabled": "automated snapshots within 1-35 days are the recovery the plan's data backup"
    " processes rely on (12.10.1, related: its testing procedure examines the plan); 10.3.3 is the prompt backup"
    " of audit log files to a central log server or media, which a warehouse's snapshots are not, whatever it"
    " holds",
    "redshift-cluster-kms-enabled": "cluster encryption under a customer key is disk-level, 3.5.1.2's subject,"
    " not 3.5.1 (queries return plaintext); whether the warehouse holds authentication factors (8.3.2) is not"
    " in its settings"
    "; 3.6.1 is related for the customer-managed key this pack asks (its key policy is the owner's,"
    " which 3.6.1's key-management procedures govern), never evidence",
    "redshift-enhanced-vpc-routing-enabled": "COPY and UNLOAD traffic kept in the VPC is restricted by the"
    " VPC's egress controls, 1.3.2; inbound restriction (1.3.1) and NSCs between networks (1.4.1, 1.4.2, 1.4.4)"
    " are the security groups and public-access setting other rules check",
    "backup-recovery-point-manual-deletion-disabled": "a vault policy denying recovery-point deletion protects"
    " the backups the plan's data backup processes need (12.10.1, related: its testing procedure examines the"
    " plan). It is not access assignment (7.2, 7.3), user"
    " authentication (8.2, 8.3), disk encryption key access (3.5.1.3) or audit log protection (10.3.2"
    " examines the audit log files' own protections, which a vault policy over recovery points does not"
    f" set, whatever the vault holds); {_A1}; {_A3}",
    "sns-topic-message-delivery-notification-enabled": "delivery-status logs of a topic are logs of a system"
    " component reviewed periodically, 10.4.2; they are not the security events of 10.4.1, nor 10.2.1.1's access"
    " to cardholder data, 10.6.3's time, 10.7's control failures, 11.5 or 11.6's change detection or 12.10's"
    f" plan; {_A3}",
    "neptune-cluster-iam-database-authentication": "IAM database authentication authenticates every connection"
    " (8.3.1) and removes the application account's static password (8.6.3); access assignment (7.2, 7.3),"
    " 8.2.7, 8.2.8 (remote access, idle sessions) and 8.3.4 (lockout) are user-session controls it does not"
    " set",
    "neptune-cluster-snapshot-encrypted": "a snapshot of an encrypted cluster is encrypted alike, disk-level,"
    " 3.5.1.2's subject, not 3.5.1; 8.3.2 would need the graph to hold authentication factors",
    "athena-workgroup-encrypted-at-rest": "result encryption (SSE-KMS or CSE-KMS) is storage-level, 3.5.1.2's"
    " subject; results are returned decrypted to the workgroup's users (not 3.5.1) and query results are not"
    " authentication factors (8.3.2)",
    "acm-pca-root-ca-disabled": "a disabled root, the subordinate issuing, keeps the trust anchor of the TLS"
    " certificates out of use, 4.2.1's strong cryptography in transmission. 3.5, 3.6 and 3.7 protect keys of"
    " stored account data, which a TLS CA is not; 4.2.1.1 is the entity's inventory of trusted keys and"
    " certificates",
    "appsync-associated-with-waf": "a web ACL in front of a GraphQL API is 6.4.2's automated technical solution"
    " (6.4.1 is superseded by it from 31 March 2025); the NSC requirements 1.2, 1.3, 1.4, 1.5 are the network"
    f" controls, which AppSync has none of; {_A1}",
    "cloudtrail-security-trail-enabled": "the pack checks the security-trail properties one by one: multi-region"
    " and logging (10.2.1, 10.2.2), management events read and write with no source excluded (10.2.1.7, the"
    " creation and deletion of system-level objects; 10.2.1.1 supported by KMS events, not evidenced),"
    " validation (10.3.4), KMS (10.3.2; 3.5.1 as Security Hub CloudTrail.2 cites,"
    " excluded from the evidence); 10.3.3 and 10.5.1 are the archive's (PCI4-TRAIL-ARCHIVE-OBJECT-LOCK, -CLOUDWATCH),"
    f" 5.3.4 anti-malware logs; {_A1}",
    "cloudwatch-alarm-action-check": "an alarm with an action reaches someone, so an automated review raises its"
    " finding (10.4.1.1) and a failed control is alerted (10.7.2). It is not a log (10.2.1.1), a daily or"
    " periodic manual review (10.4.1, 10.4.2, 10.4.3), time (10.6.3), 10.7.1 (service providers), change"
    f" detection (11.5, 11.6) or the plan (12.10); {_A3}",
    "db-instance-backup-enabled": "seven days of automated backups are the recovery the plan's data backup"
    " processes rely on (12.10.1, related: its testing procedure examines the plan); 10.3.3 backs up audit log"
    " files to a central log server or media, which a database's automated backups are not, whatever it holds",
    "eks-cluster-oldest-supported-version": "a cluster on a version about to leave standard support is flagged"
    " for the yearly review of technologies in use, 12.3.4; 6.3.3 is installing security updates, which a"
    " version in support makes possible but this check does not show",
    "elb-acm-certificate-required": "an ACM certificate on a Classic Load Balancer listener is 4.2.1. It is not"
    " an NSC (1.2, 1.3, 1.4, 1.5), 2.2.7 (administrative access), stored-data keys (3.5, 3.6, 3.7), 4.2.1.1"
    f" (the entity's inventory) or authentication factors (8.3.2); {_A1}",
    "netfw-policy-default-action-fragment-packets": "the pack checks the firewall's whole posture (stateful"
    " default drop and alert, logging: 1.3.2, 1.4.1, 1.5.1, 10.2.1). 1.2.8 (configuration files), 1.3.1 and"
    " 1.4.2 (inbound: the firewall filters egress only) and 1.4.3 (anti-spoofing, done by security groups and"
    f" NACLs) are not what the egress firewall's fragment action shows; {_A1}",
    "netfw-policy-default-action-full-packets": "the default stateless action forwarding to the stateful"
    " engine is part of the egress posture that restricts outbound traffic (1.3.2, 1.4.1, 1.5.1) and logs it"
    " (10.2.1); 1.4.3 is anti-spoofing, which the security groups and NACLs do",
    "rds-cluster-iam-authentication-enabled": "IAM authentication on every MySQL/PostgreSQL cluster"
    " authenticates each connection (8.3.1) without a static application password (8.6.3); 7.2 and 7.3 are the"
    " IAM policies the IAM rules check; 8.2.7, 8.2.8 and 8.3.4 are user-session controls",
    "rds-instance-iam-authentication-enabled": "IAM authentication on a stand-alone instance authenticates each"
    " connection (8.3.1) and retires the static application password (8.6.3); access assignment (7.2, 7.3),"
    " remote access and idle sessions (8.2.7, 8.2.8) and lockout (8.3.4) are not this setting",
    "s3-account-level-public-access-blocks": "PCI4-ACCOUNT-GUARD-VALUES checks every account guard the app sets"
    " by SDK call, so it also cites the password policy's 2.2.1 and 8.3.x/8.6.3; for Block Public Access it"
    " cites 1.4.4. The NSCs of 1.2, 1.3, 1.4 and 1.5, 3.5.1.3 and 10.3.2 (log buckets have their own block,"
    f" PCI4-S3-PUBLIC-ACCESS-BLOCK) are not the account setting's; {_A1}; {_A3}",
    "s3-bucket-versioning-enabled": "10.3.4 is AWS's and ours; PCI4-S3-VERSIONING also cites 10.5.1 because log"
    " buckets keep overwritten and deleted objects' earlier versions for the retention period",
    "service-catalog-shared-within-organization": "sharing a portfolio with the organization rather than single"
    " accounts limits who may launch its products, 7.2.1; 12.4.2.1 documents a service provider's quarterly"
    " reviews, which a share type does not",
    "waf-global-rule-not-empty": "a WAF Classic rule with predicates is part of 6.4.2's automated technical"
    " solution (6.4.1 is superseded by it from 31 March 2025); the NSCs of 1.2, 1.3, 1.4 and 1.5 are network"
    f" controls, which a WAF rule's content is not; {_A1}",
    "waf-global-webacl-not-empty": "a WAF Classic web ACL with rules is 6.4.2's automated technical solution"
    " (6.4.1, superseded by it from 31 March 2025, is not cited); the NSCs of 1.2, 1.3, 1.4 and 1.5 are the"
    f" network controls, not the web ACL's rule list; {_A1}",
    "wafv2-rulegroup-logging-enabled": "PCI4-WAF-RULE-GROUP-CONTENT checks rule groups' rules and metrics"
    " together, as part of 6.4.2's solution; a rule group's CloudWatch metrics are not audit logs (10.2.1.1), a"
    f" log review (10.4.x), time (10.6.3) or a control-failure alert (10.7); {_A3}",
    "wafv2-rulegroup-not-empty": "a rule group with rules is part of 6.4.2's automated technical solution;"
    " 6.4.1 is superseded by 6.4.2 from 31 March 2025 (its applicability notes), so only 6.4.2 is cited",
    "wafv2-webacl-not-empty": "a web ACL with the promised managed groups in block mode is 6.4.2; 6.4.1 (review"
    " or a solution, superseded by 6.4.2 from 31 March 2025) is not cited for a check that requires the solution",
}

AWS_PACK_WATCHER = "(AWS's PCI DSS v4.0 pack)"

NO_CONFIG_RULE = "none: no AWS Config managed rule checks this property; the synth rule is the control"

# AWS Config rules watching a rule's property on a resource type its control's Config rule does not evaluate,
# named beside the control's (AWS Config Developer Guide, each rule's page: the opensearch-* rules "do not
# evaluate Elasticsearch domains", the elasticsearch-* ones evaluate AWS::Elasticsearch::Domain only). None is
# in either conformance pack; Security Hub's Opensearch.2, .3 and .8 use them outside the PCI DSS v4.0.1
# standard (pack 1.13.0).
WATCHED_ALSO: dict[str, tuple[str, ...]] = {
    "PCI4-ES-IN-VPC": ("opensearch-in-vpc-only",),
    "PCI4-ES-NODE-TO-NODE-ENCRYPTION": ("opensearch-node-to-node-encryption-check",),
    "PCI4-ES-TLS12": ("opensearch-https-required",),
    # opensearch-encrypted-at-rest evaluates the OpenSearch type, elasticsearch-encrypted-at-rest
    # AWS::Elasticsearch::Domain only (each rule's page); no control of the standard uses either (pack 1.14.0).
    "PCI4-OPENSEARCH-ENCRYPTED-AT-REST": ("opensearch-encrypted-at-rest", "elasticsearch-encrypted-at-rest"),
}

# The AWS Config rule that keeps watching each rule's property after deploy, for rules the controls and
# the conformance-pack rules above do not already name one for.
WATCHED_AFTER_DEPLOY_EXTRA: dict[str, str] = {
    "PCI4-APIGW-REST-STAGE-LOGGING": "api-gw-execution-logging-enabled (the execution-log half; Security Hub"
    " APIGateway.1, which is not in the PCI DSS v4.0.1 standard)",
    "PCI4-IAM-PERMISSIONS-BOUNDARY": NO_CONFIG_RULE,
    "PCI4-CARD-DATA-FIELD-ENCRYPTION": NO_CONFIG_RULE,
    "PCI4-CONFIG-ALL-RESOURCES": "none: AWS Config evaluates its own recorder through Security Hub Config.1",
    "PCI4-SNS-TLS-ONLY": NO_CONFIG_RULE,
    "PCI4-ALARM-ACTIONS": "cloudwatch-alarm-action-check",
    "PCI4-EC2-SG-NO-ALL-PORTS-EGRESS": NO_CONFIG_RULE,
    "PCI4-ELB-HTTPS-TLS12": "elbv2-predefined-security-policy-ssl-check",
    "PCI4-ELB-PUBLIC-SUBNETS-ONLY": NO_CONFIG_RULE,
    "PCI4-ELB-DELETION-PROTECTION": "elb-deletion-protection-enabled",
    # QSA reader r21e (pack 1.12.0): AWS Config managed rules no pack here deploys and no control of the
    # standard uses (AWS Config Developer Guide, each rule's page).
    "PCI4-ELASTICACHE-ENCRYPTED-AT-REST": "elasticache-repl-grp-encrypted-at-rest",
    "PCI4-LAMBDA-IN-VPC": "lambda-inside-vpc",
    "PCI4-LAMBDA-ENV-ENCRYPTED": NO_CONFIG_RULE,
    "PCI4-LAMBDA-LOG-GROUP": NO_CONFIG_RULE,
    "PCI4-IAM-NO-ADMIN-POLICY": "iam-policy-blacklisted-check",
    "PCI4-IAM-NO-AWS-MANAGED-POLICY": "iam-policy-blacklisted-check",
    "PCI4-IAM-TRUST-SCOPED": NO_CONFIG_RULE,
    "PCI4-IAM-NO-SERVICE-WILDCARD": "iam-policy-no-statements-with-full-access",
    "PCI4-KMS-NO-PUBLIC-PRINCIPAL": NO_CONFIG_RULE,
    "PCI4-KMS-CUSTODIAN-SEPARATION": NO_CONFIG_RULE,
    "PCI4-KMS-NO-DECRYPT-ON-ALL-KEYS": "iam-inline-policy-blocked-kms-actions, iam-customer-policy-blocked-kms-actions",
    "PCI4-KMS-GRANTS-FOR-AWS-RESOURCES": NO_CONFIG_RULE,
    "PCI4-EC2-SG-NO-ALLOW-ALL-EGRESS": NO_CONFIG_RULE,
    "PCI4-EC2-CDE-NO-INTERNET-ROUTE": NO_CONFIG_RULE,
    "PCI4-RDS-CUSTOMER-KEY": NO_CONFIG_RULE,
    "PCI4-RDS-TLS-FORCED": NO_CONFIG_RULE,
    "PCI4-RDS-BACKUPS": "db-instance-backup-enabled",
    "PCI4-RDS-PROXY-TLS": NO_CONFIG_RULE,
    "PCI4-RDS-IAM-AUTH": "rds-instance-iam-authentication-enabled",
    "PCI4-RDS-PROXY-IAM": NO_CONFIG_RULE,
    "PCI4-S3-VERSIONING": "s3-bucket-versioning-enabled",
    "PCI4-S3-ACLS-DISABLED": "s3-bucket-acl-prohibited",
    "PCI4-SECRET-CUSTOMER-KEY": "secretsmanager-using-cmk",
    "PCI4-STATEFUL-RETAINED": NO_CONFIG_RULE,
    "PCI4-WAF-WEB-ACL-CONTENT": "wafv2-webacl-not-empty",
    "PCI4-TEMPLATE-PARAMETERS-RESOLVED": "none: deployed parameters have values; this guards the other rules",
    "PCI4-TEMPLATE-NO-TRANSFORMS": "none: a deployed stack is already expanded; this guards the other rules",
    # In neither conformance pack: Security Hub's AWS Foundational Security Best Practices standard, which the
    # landing zone subscribes beside PCI DSS v4.0.1, watches them (SQS.1, EFS.1).
    "PCI4-SQS-ENCRYPTED": "none in either pack: Security Hub FSBP SQS.1 checks encryption at rest (SSE-SQS passes it)",
    "PCI4-SQS-CUSTOMER-KEY": NO_CONFIG_RULE,
    "PCI4-EFS-ENCRYPTED": "none in either pack: Security Hub FSBP EFS.1 (efs-encrypted-check)",
}


@cache
def controls() -> tuple[Control, ...]:
    data = json.loads(CONTROLS_FILE.read_text(encoding="utf-8"))
    return tuple(
        Control(
            id=c["id"],
            title=c["title"],
            resource_types=tuple(c["resource_types"]),
            requirements=tuple(c["requirements"]),
            config_rule=c["config_rule"],
            details_read_from_control_page=bool(c["details_read_from_control_page"]),
            details_page=str(c.get("details_page", "")),
        )
        for c in data["controls"]
    )


def source() -> dict[str, str]:
    data = json.loads(CONTROLS_FILE.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k != "controls"}


def mapping(control_id: str) -> Mapping:
    if control_id in AWAITED_RULES:
        return _awaited(control_id)
    return MAPPINGS[control_id]


def applicable(control: Control) -> bool:
    """Marked applicable to templates: not runtime only and not not-applicable."""
    found = mapping(control.id)
    return not found.runtime and not found.not_applicable


# How much of a control its synth rule checks. "full" (every other control with a rule): the rule checks what
# the control checks. "partial": the rule checks less (the reason says what). "conditional": the rule can only
# examine what the app sets by SDK call (`Custom::AWS`, an AwsCustomResource) or declares (a trail, a detector);
# an app that does not set the account guard or declare the resource leaves the control unexamined at synth.
PARTIAL: dict[str, str] = {
    "EMR.1": "the rule reads subnets of the templates only; an imported subnet is read by the control after launch",
    "S3.9": "the rule exempts buckets that receive server access logs, which the control does not; it fails a bucket"
    " that logs to itself (a LoggingConfiguration with no other DestinationBucketName), which the control passes",
    "S3.15": "the rule asks Object Lock of the audit archive only; the control asks it of every bucket",
    "S3.17": "the rule allows SSE-S3 on buckets a log service writes to; the control asks SSE-KMS everywhere",
}
_ACCOUNT_SETTING = "an account setting: examined only where the app sets it by SDK call (AwsCustomResource)"
_INSPECTOR = "Amazon Inspector: examined only where the app enables it by SDK call or resource"
_DETECTOR = (
    "examined only where the templates declare a detector (AWS::GuardDuty::Detector); an app that enables"
    " GuardDuty outside them leaves the control unexamined at synth"
)
_TRAIL = (
    "examined only where the templates declare a trail (AWS::CloudTrail::Trail); an app whose trail is"
    " created outside them (an organization trail) leaves the control unexamined at synth"
)
CONDITIONAL: dict[str, str] = {
    **dict.fromkeys(("IAM.7", "IAM.11", "IAM.12", "IAM.14", "IAM.16", "IAM.17", "S3.1", "EMR.2"), _ACCOUNT_SETTING),
    **dict.fromkeys(("Inspector.1", "Inspector.2", "Inspector.3", "Inspector.4"), _INSPECTOR),
    "GuardDuty.1": _DETECTOR,
    **dict.fromkeys(("GuardDuty.6", "GuardDuty.7", "GuardDuty.9", "GuardDuty.10"), _DETECTOR),
    **dict.fromkeys(("CloudTrail.3", "S3.22", "S3.23"), _TRAIL),
}

# Resource types of controls that evaluate the account (or the account's one resource of a kind in a Region):
# the control fails where the account has none, while a synth rule over the templates examines only what they
# declare. A control of these types whose rules examine nothing on an app without the resource (no rule fails on
# absence) is "conditional", never "full" (QSA reader r21d HIGH; tests/test_pci_rules_coverage.py derives it).
# GuardDuty: "you can have only one detector per account per Region" (GuardDuty API Reference, CreateDetector).
ACCOUNT_LEVEL_TYPES: frozenset[str] = frozenset({"AWS::::Account", "AWS::GuardDuty::Detector"})


def coverage_kind(control_id: str) -> str:
    """ "full", "partial" or "conditional" for a control with a rule, "" for one without."""
    if not mapping(control_id).rules:
        return ""
    return "conditional" if control_id in CONDITIONAL else "partial" if control_id in PARTIAL else "full"


def _same_or_nested(a: str, b: str) -> bool:
    """One requirement is the other, or a sub-requirement of it (3.5.1.1 under 3.5.1)."""
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


def related_only(control_id: str) -> bool:
    """Whether the control's synth rules only support its requirements: no rule of it has one of the control's
    requirements (or a sub- or parent requirement) among its evidenced `requirements`, every match being in
    `related` (pack 1.9.0). False for a control with no rule. Raises KeyError for an unknown control ID."""
    rule_ids = mapping(control_id).rules
    if not rule_ids:
        return False
    control = next(c for c in controls() if c.id == control_id)
    by_id = {r.id: r for r in RULES}
    evidenced = {q for rule_id in rule_ids if rule_id in by_id for q in by_id[rule_id].requirements}
    return not any(_same_or_nested(q, c) for q in evidenced for c in control.requirements)


def coverage_kinds() -> dict[str, int]:
    """Applicable controls by how their rule covers them: full, partial, conditional, and none."""
    counts = {"full": 0, "partial": 0, "conditional": 0, "none": 0}
    for control in controls():
        if applicable(control):
            counts[coverage_kind(control.id) or "none"] += 1
    return counts


def unverified() -> int:
    """Controls whose resource type, requirements and Config rule were not read from the control's page."""
    return sum(1 for c in controls() if not c.details_read_from_control_page)


def coverage() -> tuple[int, int]:
    """(controls with a synth rule, controls applicable to templates)."""
    marked = [c for c in controls() if applicable(c)]
    return sum(1 for c in marked if mapping(c.id).rules), len(marked)


# AWS's own "Operational Best Practices for PCI DSS v4.0" conformance pack (awslabs/aws-config-rules; its rule
# names and scoped resource types vendored in `aws_pci_dss_v4_conformance_pack_rules.json`, dated, with the
# commit). Every rule of it, scoped or not, is used by a Security Hub control above, mapped by CONFIG_PACK_RULES
# or AWS_PACK_SYNTH_RULES, or decided in AWS_PACK_REVIEWED (below). A rule a refresh of the vendored list adds
# lands here until it is reviewed (QSA review of issue 21, item 5); a test holds the five sets disjoint and their
# union to the vendored list, so a new rule cannot appear unseen. Empty since pack 1.6.0.
AWS_PACK_FILE = HERE / "aws_pci_dss_v4_conformance_pack_rules.json"
AWS_PACK_AWAITING_REVIEW: frozenset[str] = frozenset()


# The reviewed decision for every other rule of AWS's pack (QSA review of issue 21, item 5): a synth rule
# checks the property (`rules`), or the answer needs the live account ("runtime only"), or a template cannot
# hold it ("not applicable to templates"), or the rule asks parameters only the owner can set
# ("parameterised"). Each names the AWS pages it rests on.
PARAMETERISED = "parameterised: the owner sets its parameters"
DECISION_KINDS = (RULE, RUNTIME, NOT_APPLICABLE, PARAMETERISED)


@dataclass(frozen=True)
class PackRuleDecision:
    """One reviewed rule of AWS's PCI DSS v4.0 conformance pack: `kind` (one of DECISION_KINDS), the reason in
    words an assessor reads, the AWS pages it rests on, and the synth rules where `kind` is RULE."""

    name: str
    kind: str
    reason: str
    pages: str
    rules: tuple[str, ...] = ()


def _checked(name: str, rules: tuple[str, ...], reason: str, pages: str) -> PackRuleDecision:
    return PackRuleDecision(name, RULE, reason, pages, rules)


def _runtime(name: str, reason: str, pages: str) -> PackRuleDecision:
    return PackRuleDecision(name, RUNTIME, reason, pages)


def _not_applicable(name: str, reason: str, pages: str) -> PackRuleDecision:
    return PackRuleDecision(name, NOT_APPLICABLE, reason, pages)


def _parameterised(name: str, reason: str, pages: str) -> PackRuleDecision:
    return PackRuleDecision(name, PARAMETERISED, reason, pages)


_CONFIG = "AWS Config Developer Guide"
_CFN = "CloudFormation Template Reference"
_BACKUP_REASON = (
    "a resource is in a backup plan when a plan's resource assignment selects it by ARN, by tag or by resource"
    " type; that assignment may live in another stack, in an AWS Organizations backup policy, or be made after"
    " deploy, and the -protected-by- rules also ask for a recovery point within a period: only the account"
    " answers. What a template declares is checked at synth: backup retention by PCI4-RDS-BACKUPS and the data-store"
    " backup rules, object versions by PCI4-S3-VERSIONING"
)
_BACKUP_PAGES = (
    "'Assigning resources to a backup plan' (AWS Backup Developer Guide); 'Backup policies' (AWS Organizations"
    " User Guide)"
)
_BACKUP_RULES = (
    "aurora-resources-protected-by-backup-plan",
    "dynamodb-in-backup-plan",
    "dynamodb-resources-protected-by-backup-plan",
    "ebs-in-backup-plan",
    "ebs-resources-protected-by-backup-plan",
    "ec2-resources-protected-by-backup-plan",
    "efs-in-backup-plan",
    "efs-resources-protected-by-backup-plan",
    "fsx-resources-protected-by-backup-plan",
    "rds-in-backup-plan",
    "rds-resources-protected-by-backup-plan",
    "s3-resources-protected-by-backup-plan",
)

AWS_PACK_REVIEWED: tuple[PackRuleDecision, ...] = (
    _checked(
        "acm-pca-root-ca-disabled",
        ("PCI4-ACMPCA-NO-ROOT-CA",),
        "the Config rule fails a root CA whose status is not DISABLED; a template sets a CA's status through its"
        " AWS::ACMPCA::CertificateAuthorityActivation (Status ACTIVE|DISABLED, default ACTIVE): the synth rule"
        " passes a Type ROOT CA only when its activation sets DISABLED",
        f"acm-pca-root-ca-disabled ({_CONFIG}); AWS::ACMPCA::CertificateAuthority and"
        f" AWS::ACMPCA::CertificateAuthorityActivation ({_CFN})",
    ),
    _checked(
        "appsync-associated-with-waf",
        ("PCI4-APPSYNC-WAF",),
        "an AWS::WAFv2::WebACLAssociation whose ResourceArn is the GraphQL API; an association made outside the"
        " templates (Firewall Manager) is not seen and the API fails until acknowledged",
        f"appsync-associated-with-waf ({_CONFIG}); AWS::WAFv2::WebACLAssociation ({_CFN})",
    ),
    _checked(
        "cloudtrail-security-trail-enabled",
        (
            "PCI4-TRAIL-MULTI-REGION",
            "PCI4-TRAIL-VALIDATION",
            "PCI4-TRAIL-KMS",
            "PCI4-TRAIL-LOGGING",
            "PCI4-TRAIL-MANAGEMENT-EVENTS",
        ),
        "the synth rules ask of every trail what the Config rule asks of one (global service events,"
        " multi-region, log file validation, KMS, logging), and PCI4-TRAIL-MANAGEMENT-EVENTS (pack 1.15.0) asks"
        " what the Config rule asks of at least one: a multi-region trail of the account recording management"
        " events, read and write, excluding no event source. Defaults relied on: a trail with no event selector"
        " records every read and write management event; a basic selector's IncludeManagementEvents defaults to"
        " true, ReadWriteType to All and ExcludeManagementEventSources to empty; an advanced selector with"
        " eventCategory Equals Management and no readOnly field records read and write events, and only an"
        " eventSource field (NotEquals kms.amazonaws.com or rdsdata.amazonaws.com) excludes a source",
        f"cloudtrail-security-trail-enabled ({_CONFIG}); AWS::CloudTrail::Trail EventSelector and"
        f" AdvancedEventSelector ({_CFN}); EventSelector and AdvancedFieldSelector (AWS CloudTrail API Reference)",
    ),
    _checked(
        "cloudwatch-alarm-action-check",
        ("PCI4-ALARM-ACTIONS",),
        "the synth rule asks what the Config rule's documented defaults ask (pack 1.15.0): an ALARM action"
        " (alarmActionRequired true), an INSUFFICIENT_DATA action (insufficientDataActionRequired true) and"
        " ActionsEnabled not false; no OK action (okActionRequired false). Decision: an alarm that cannot be"
        " evaluated is a failed detection control (10.7.2), so it notifies too; the action changes no alarm's"
        " state (TreatMissingData still reads missing data points; notBreaching or breaching keep an alarm out of"
        " INSUFFICIENT_DATA when a period has no data)",
        f"cloudwatch-alarm-action-check ({_CONFIG}); 'Configuring how CloudWatch alarms treat missing data'"
        " (Amazon CloudWatch User Guide)",
    ),
    _checked(
        "db-instance-backup-enabled",
        ("PCI4-RDS-BACKUPS",),
        "BackupRetentionPeriod of every DB instance and cluster is at least 7 days, so automated backups are"
        " on (the Config rule asks them on; its optional retention parameter is the owner's to set)",
        f"db-instance-backup-enabled ({_CONFIG}); AWS::RDS::DBInstance BackupRetentionPeriod ({_CFN})",
    ),
    _checked(
        "eks-cluster-oldest-supported-version",
        ("PCI4-EKS-SUPPORTED-VERSION",),
        "the Config rule's oldestVersionSupported parameter is the rule's dated EKS_OLDEST_SUPPORTED",
        f"eks-cluster-oldest-supported-version ({_CONFIG}); 'Understand the Kubernetes version lifecycle on EKS'"
        " (Amazon EKS User Guide)",
    ),
    _checked(
        "elb-acm-certificate-required",
        ("PCI4-CLB-ACM-CERTIFICATE",),
        "every HTTPS/SSL listener's SSLCertificateId of a Classic Load Balancer is an ACM certificate",
        f"elb-acm-certificate-required ({_CONFIG}); AWS::ElasticLoadBalancing::LoadBalancer Listeners ({_CFN})",
    ),
    *(_runtime(name, _BACKUP_REASON, f"{name} ({_CONFIG}); {_BACKUP_PAGES}") for name in _BACKUP_RULES),
    _runtime(
        "cloudformation-stack-notification-check",
        "a stack's notification ARNs are a CreateStack/UpdateStack parameter given at deploy (cdk deploy"
        " --notification-arns), not template content; only the deployed stack shows them",
        f"cloudformation-stack-notification-check ({_CONFIG}); CreateStack NotificationARNs (AWS CloudFormation"
        " API Reference)",
    ),
    _parameterised(
        "cloudwatch-alarm-settings-check",
        "it compares alarms of one metricName (required) with the threshold, period and statistic the owner"
        " chooses; the pack has no such values to hold a template to",
        f"cloudwatch-alarm-settings-check ({_CONFIG})",
    ),
    _parameterised(
        "cloudwatch-alarm-resource-check",
        "it asks an alarm on the owner's metricName for every resource of the owner's resourceType (both"
        " required); which resources need which alarm is the owner's monitoring design",
        f"cloudwatch-alarm-resource-check ({_CONFIG})",
    ),
    _parameterised(
        "codepipeline-deployment-count-check",
        "it counts the deployments of a pipeline's first deployment stage against the owner's deploymentLimit,"
        " a release-policy value the pack cannot know",
        f"codepipeline-deployment-count-check ({_CONFIG})",
    ),
    _runtime(
        "ec2-volume-inuse-check",
        "whether a volume is attached is its state in the account: an AWS::EC2::VolumeAttachment, an instance"
        " launched later or the workload may attach it, and detach it after deploy",
        f"ec2-volume-inuse-check ({_CONFIG}); AWS::EC2::VolumeAttachment ({_CFN})",
    ),
    _parameterised(
        "internet-gateway-authorized-vpc-only",
        "it fails an internet gateway attached to a VPC not in the owner's AuthorizedVpcIds; the templates' own"
        " VPCs are checked by PCI4-EC2-CDE-NO-INTERNET-ROUTE (no CDE subnet routes to the internet)",
        f"internet-gateway-authorized-vpc-only ({_CONFIG})",
    ),
    _checked(
        "netfw-policy-default-action-fragment-packets",
        ("PCI4-NETWORK-FIREWALL-POSTURE",),
        "StatelessFragmentDefaultActions must forward to the stateful engine or drop (aws:forward_to_sfe or"
        " aws:drop); the Config rule compares them with the actions its required parameter lists",
        f"netfw-policy-default-action-fragment-packets ({_CONFIG}); AWS::NetworkFirewall::FirewallPolicy ({_CFN})",
    ),
    _checked(
        "netfw-policy-default-action-full-packets",
        ("PCI4-NETWORK-FIREWALL-POSTURE",),
        "StatelessDefaultActions must forward to the stateful engine or drop (aws:forward_to_sfe or aws:drop);"
        " the Config rule compares them with the actions its required parameter lists",
        f"netfw-policy-default-action-full-packets ({_CONFIG}); AWS::NetworkFirewall::FirewallPolicy ({_CFN})",
    ),
    _not_applicable(
        "neptune-cluster-snapshot-public-encrypted",
        "CloudFormation creates no manual Neptune cluster snapshot and cannot share one (as Neptune.3)",
        f"neptune-cluster-snapshot-public-encrypted ({_CONFIG}); AWS::Neptune::DBCluster ({_CFN})",
    ),
    _checked(
        "rds-cluster-iam-authentication-enabled",
        ("PCI4-RDS-IAM-AUTH",),
        "EnableIAMDatabaseAuthentication on every MySQL/PostgreSQL (Aurora included) DB cluster",
        f"rds-cluster-iam-authentication-enabled ({_CONFIG}); AWS::RDS::DBCluster ({_CFN})",
    ),
    _checked(
        "rds-instance-iam-authentication-enabled",
        ("PCI4-RDS-IAM-AUTH",),
        "EnableIAMDatabaseAuthentication on every MySQL, MariaDB or PostgreSQL DB instance outside a cluster",
        f"rds-instance-iam-authentication-enabled ({_CONFIG}); AWS::RDS::DBInstance ({_CFN})",
    ),
    _not_applicable(
        "rds-db-security-group-not-allowed",
        "DB security groups (AWS::RDS::DBSecurityGroup) belong to EC2-Classic, retired on 2022-08-15; a DB in a"
        " VPC uses VPC security groups, which PCI4-EC2-SG-NO-OPEN-INGRESS checks",
        f"rds-db-security-group-not-allowed ({_CONFIG}); CreateDBSecurityGroup (Amazon RDS API Reference)",
    ),
    _checked(
        "s3-account-level-public-access-blocks",
        ("PCI4-ACCOUNT-GUARD-VALUES",),
        "conditional: the account's Block Public Access has no CloudFormation resource; it is checked where the"
        " app sets it by SDK call (PutPublicAccessBlock in an AwsCustomResource), as S3.1",
        f"s3-account-level-public-access-blocks ({_CONFIG}); PutPublicAccessBlock (AWS S3 Control API Reference)",
    ),
    _parameterised(
        "s3-bucket-blacklisted-actions-prohibited",
        "it fails a bucket policy granting the owner's blacklistedActionPattern to other accounts; public"
        " bucket policies are refused at synth by PCI4-S3-PUBLIC-ACCESS-BLOCK (Block Public Access on every bucket)",
        f"s3-bucket-blacklisted-actions-prohibited ({_CONFIG})",
    ),
    _not_applicable(
        "s3-bucket-mfa-delete-enabled",
        "AWS::S3::Bucket VersioningConfiguration has only Status: MFA delete is enabled only by the bucket"
        " owner's root user with an MFA code through PutBucketVersioning, never by CloudFormation; the audit"
        " archive's deletions are refused by Object Lock instead (PCI4-TRAIL-ARCHIVE-OBJECT-LOCK)",
        f"s3-bucket-mfa-delete-enabled ({_CONFIG}); AWS::S3::Bucket VersioningConfiguration ({_CFN});"
        " 'Configuring MFA delete' (Amazon S3 User Guide)",
    ),
    _parameterised(
        "s3-bucket-policy-not-more-permissive",
        "it compares each bucket policy with the owner's controlPolicy; there is no policy to compare with"
        " until the owner writes one",
        f"s3-bucket-policy-not-more-permissive ({_CONFIG})",
    ),
    _checked(
        "s3-bucket-versioning-enabled",
        ("PCI4-S3-VERSIONING",),
        "VersioningConfiguration Status Enabled on every bucket (MFA delete, the rule's optional"
        " isMfaDeleteEnabled, is not applicable: see s3-bucket-mfa-delete-enabled)",
        f"s3-bucket-versioning-enabled ({_CONFIG}); AWS::S3::Bucket VersioningConfiguration ({_CFN})",
    ),
    _runtime(
        "secretsmanager-secret-unused",
        "when a secret was last accessed (LastAccessedDate) is known only in the account",
        f"secretsmanager-secret-unused ({_CONFIG}); DescribeSecret (AWS Secrets Manager API Reference)",
    ),
    _runtime(
        "security-account-information-provided",
        "the account's security alternate contact is set with the Account Management API (PutAlternateContact),"
        " which no CloudFormation resource holds, so no template sets or shows it",
        f"security-account-information-provided ({_CONFIG}); PutAlternateContact (AWS Account Management API"
        " Reference)",
    ),
    _checked(
        "service-catalog-shared-within-organization",
        ("PCI4-SERVICECATALOG-ORG-SHARE",),
        "an AWS::ServiceCatalog::PortfolioShare takes an AccountId only, so every share a template makes is the"
        " account share the Config rule fails; organization shares are made by API",
        f"service-catalog-shared-within-organization ({_CONFIG}); AWS::ServiceCatalog::PortfolioShare ({_CFN});"
        " CreatePortfolioShare (AWS Service Catalog API Reference)",
    ),
    _runtime(
        "macie-status-check",
        "whether Amazon Macie is enabled in each Region of the account is account state, usually set for member"
        " accounts by the organization's delegated Macie administrator; a template shows only an"
        " AWS::Macie::Session it creates itself",
        f"macie-status-check ({_CONFIG}); AWS::Macie::Session ({_CFN})",
    ),
    _runtime(
        "macie-auto-sensitive-data-discovery-check",
        "automated sensitive data discovery is configured by the Macie administrator account"
        " (UpdateAutomatedDiscoveryConfiguration); AWS::Macie::Session has no property for it",
        f"macie-auto-sensitive-data-discovery-check ({_CONFIG}); AWS::Macie::Session ({_CFN})",
    ),
    _runtime(
        "shield-drt-access",
        "it applies only to an account subscribed to AWS Shield Advanced (a subscription made in the console or"
        " by CreateSubscription, not by the templates), and the SRT role may be associated in any stack or by"
        " API (AssociateDRTRole)",
        f"shield-drt-access ({_CONFIG}); AssociateDRTRole (AWS Shield API Reference)",
    ),
    _not_applicable(
        "waf-global-rulegroup-not-empty",
        "CloudFormation has no AWS WAF Classic rule group resource (AWS::WAF:: has WebACL, Rule and the match"
        " sets only), so no template declares one; AWS WAF (v2) rule groups are PCI4-WAF-RULE-GROUP-CONTENT",
        f"waf-global-rulegroup-not-empty ({_CONFIG}); 'AWS WAF Classic resource type reference' ({_CFN})",
    ),
    _checked(
        "waf-global-rule-not-empty",
        ("PCI4-WAF-CLASSIC-NOT-EMPTY",),
        "every AWS::WAF::Rule has Predicates",
        f"waf-global-rule-not-empty ({_CONFIG}); AWS::WAF::Rule ({_CFN})",
    ),
    _checked(
        "waf-global-webacl-not-empty",
        ("PCI4-WAF-CLASSIC-NOT-EMPTY",),
        "every AWS::WAF::WebACL has Rules",
        f"waf-global-webacl-not-empty ({_CONFIG}); AWS::WAF::WebACL ({_CFN})",
    ),
    _checked(
        "wafv2-rulegroup-logging-enabled",
        ("PCI4-WAF-RULE-GROUP-CONTENT",),
        "VisibilityConfig CloudWatchMetricsEnabled true on every AWS WAF (v2) rule group",
        f"wafv2-rulegroup-logging-enabled ({_CONFIG}); AWS::WAFv2::RuleGroup VisibilityConfig ({_CFN})",
    ),
    _checked(
        "wafv2-rulegroup-not-empty",
        ("PCI4-WAF-RULE-GROUP-CONTENT",),
        "every AWS WAF (v2) rule group has Rules",
        f"wafv2-rulegroup-not-empty ({_CONFIG}); AWS::WAFv2::RuleGroup ({_CFN})",
    ),
    _checked(
        "wafv2-webacl-not-empty",
        ("PCI4-WAF-WEB-ACL-CONTENT",),
        "every web ACL has rules (and the managed groups the README promises, in block mode)",
        f"wafv2-webacl-not-empty ({_CONFIG}); AWS::WAFv2::WebACL ({_CFN})",
    ),
)


def aws_pack_rules() -> list[dict[str, object]]:
    """The vendored rules of AWS's PCI DSS v4.0 conformance pack: name, source identifier, resource types."""
    rules: list[dict[str, object]] = json.loads(AWS_PACK_FILE.read_text(encoding="utf-8"))["rules"]
    return rules


# AWS Config managed rules (pack 1.15.0, issue 21): each rule's source identifier, region line and resource types,
# vendored with its provenance and date (`aws_config_managed_rules.json`). A conformance pack holding a rule its
# region does not offer fails to deploy there, so the project pack holds only rules offered in every region, and
# the test holding it to this list (tests/test_conformance_pack_rules.py) fails on any other.
MANAGED_RULES_FILE = HERE / "aws_config_managed_rules.json"
ALL_REGIONS = "All supported AWS regions"


@cache
def managed_rules() -> dict[str, dict[str, str]]:
    """Source identifier -> {"region": the page's AWS Region line, "resource_types": ...}, from the vendored list.
    Raises KeyError/ValueError (via json) when the file is malformed."""
    data = json.loads(MANAGED_RULES_FILE.read_text(encoding="utf-8"))
    return {
        str(r["identifier"]): {"region": str(r["region"]), "resource_types": str(r["resource_types"])}
        for r in data["rules"]
    }


def managed_rules_source() -> dict[str, str]:
    """The vendored list's provenance: what, where it was copied from, when."""
    return cast(dict[str, str], json.loads(MANAGED_RULES_FILE.read_text(encoding="utf-8"))["source"])


@dataclass(frozen=True)
class KeptOut:
    """A Config rule that watches a synth rule's property after deploy and that the project pack does not hold:
    its source identifier, the AWS Region line of its stored page (read 2026-12-04; the stricter of that page
    and the vendored list decides), and why it stays out."""

    identifier: str
    stored_page_region: str
    reason: str


_REGIONS = "not offered in every region (its page's AWS Region line, quoted): a pack holding it fails to deploy there"
_PARAMETERS = "and it needs a parameter only the owner can set"
# The Config rules named in WATCHED_AFTER_DEPLOY_EXTRA and WATCHED_ALSO that no pack holds (QSA reader r21c's
# "nothing watches them"), each decided (pack 1.15.0). Region lines from each rule's page, AWS Config Developer Guide,
# read 2026-12-04.
NOT_IN_PROJECT_PACK: dict[str, KeptOut] = {
    "elasticache-repl-grp-encrypted-at-rest": KeptOut(
        "ELASTICACHE_REPL_GRP_ENCRYPTED_AT_REST",
        "All supported AWS regions except Asia Pacific (Thailand), Middle East (UAE), Asia Pacific (Malaysia), Asia"
        " Pacific (Melbourne), AWS GovCloud (US-East), AWS GovCloud (US-West), Mexico (Central), Israel (Tel Aviv),"
        " Asia Pacific (Taipei), Canada West (Calgary) Region",
        _REGIONS,
    ),
    "opensearch-encrypted-at-rest": KeptOut(
        "OPENSEARCH_ENCRYPTED_AT_REST",
        "All supported AWS regions except China (Beijing), Asia Pacific (Thailand), Middle East (UAE), Asia Pacific"
        " (Hyderabad), ... Europe (Zurich) Region (15 regions)",
        _REGIONS,
    ),
    "elasticsearch-encrypted-at-rest": KeptOut(
        "ELASTICSEARCH_ENCRYPTED_AT_REST",
        "All supported AWS regions except Asia Pacific (Taipei) Region",
        _REGIONS + " (the vendored list says all regions; the stored page is stricter)",
    ),
    "api-gw-execution-logging-enabled": KeptOut(
        "API_GW_EXECUTION_LOGGING_ENABLED", "All supported AWS regions except Asia Pacific (Taipei) Region", _REGIONS
    ),
    "elbv2-predefined-security-policy-ssl-check": KeptOut(
        "ELBV2_PREDEFINED_SECURITY_POLICY_SSL_CHECK",
        "All supported AWS regions except Middle East (Bahrain), Asia Pacific (Thailand), Asia Pacific (Jakarta),"
        " ... Europe (Zurich) Region (14 regions)",
        f"{_REGIONS}, {_PARAMETERS} (sslPolicies, no default)",
    ),
    "elb-deletion-protection-enabled": KeptOut(
        "ELB_DELETION_PROTECTION_ENABLED",
        "All supported AWS regions except Asia Pacific (Osaka) Region",
        _REGIONS + " (the vendored list says all regions; the stored page is stricter)",
    ),
    "lambda-inside-vpc": KeptOut(
        "LAMBDA_INSIDE_VPC",
        "All supported AWS regions except China (Beijing), Asia Pacific (Thailand), AWS GovCloud (US-East), AWS"
        " GovCloud (US-West), Mexico (Central), Asia Pacific (Taipei), China (Ningxia) Region",
        _REGIONS,
    ),
    "iam-policy-blacklisted-check": KeptOut(
        "IAM_POLICY_BLACKLISTED_CHECK",
        "All supported AWS regions except Asia Pacific (Thailand), Middle East (UAE), Asia Pacific (Hyderabad),"
        " ... Europe (Zurich) Region (11 regions)",
        _REGIONS,
    ),
    "iam-policy-no-statements-with-full-access": KeptOut(
        "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
        "(its stored page's region line was not in the excerpt read; the vendored list excludes 12 regions)",
        _REGIONS,
    ),
    "iam-inline-policy-blocked-kms-actions": KeptOut(
        "IAM_INLINE_POLICY_BLOCKED_KMS_ACTIONS",
        "All supported AWS regions except Asia Pacific (Thailand), Middle East (UAE), Asia Pacific (Hyderabad),"
        " ... Europe (Zurich) Region (11 regions)",
        f"{_REGIONS}, {_PARAMETERS} (blockedActionsPatterns)",
    ),
    "iam-customer-policy-blocked-kms-actions": KeptOut(
        "IAM_CUSTOMER_POLICY_BLOCKED_KMS_ACTIONS",
        "All supported AWS regions except Asia Pacific (Thailand), Middle East (UAE), Asia Pacific (Hyderabad),"
        " ... Europe (Zurich) Region (11 regions)",
        f"{_REGIONS}, {_PARAMETERS} (blockedActionsPatterns)",
    ),
    "s3-bucket-acl-prohibited": KeptOut(
        "S3_BUCKET_ACL_PROHIBITED",
        "All supported AWS regions except Asia Pacific (Thailand), Asia Pacific (Malaysia), Mexico (Central), Asia"
        " Pacific (Taipei), Canada West (Calgary) Region",
        _REGIONS,
    ),
    "secretsmanager-using-cmk": KeptOut(
        "SECRETSMANAGER_USING_CMK",
        "All supported AWS regions except Asia Pacific (Taipei) Region",
        _REGIONS + " (the vendored list says all regions; the stored page is stricter)",
    ),
}


def citable() -> int:
    """Applicable controls a QSA can cite as checked at synth: fully (not partial or conditional), by rules that
    evidence the control's requirements (not related only), from details read from the control's page (not `*`)."""
    return sum(
        1
        for c in controls()
        if applicable(c)
        and coverage_kind(c.id) == "full"
        and not related_only(c.id)
        and c.details_read_from_control_page
    )


def coverage_sentence() -> str:
    """The headline is the citable figure (`citable`); every count it leaves out follows."""
    kinds = coverage_kinds()
    total = coverage()[1]
    return (
        f"{citable()} of the {total} Security Hub PCI DSS v4.0.1 controls applicable to templates are fully checked"
        " by a synth rule that evidences the control's PCI DSS requirements, from details read from the control's"
        f" page (the figure to cite). Counting every rule: {kinds['full']} fully checked, {kinds['partial']} partially,"
        f" {kinds['conditional']} conditionally"
        " (only where the app sets the account setting by SDK call or declares the trail or detector),"
        f" {kinds['none']} not;"
        f" {related_only_count()} of those with a rule are checked by rules whose findings support the control's"
        f" PCI DSS requirements without evidencing them (marked related only), and {unverified_applicable()} are"
        " counted from details not yet read from the control's page (marked `*`)"
    )


def related_only_count() -> int:
    """Applicable controls with a rule whose rules only support the control's requirements (`related_only`)."""
    return sum(1 for c in controls() if applicable(c) and related_only(c.id))


def unverified_applicable() -> int:
    """Applicable controls (counted in the coverage figure) whose details were not read from their page."""
    return sum(1 for c in controls() if applicable(c) and not c.details_read_from_control_page)


def _config_rule_name(text: str) -> str:
    return text.split(" ", 1)[0] if not text.startswith("custom") else f"Security Hub CSPM custom rule ({text})"


def watched_after_deploy() -> dict[str, str]:
    """Every rule of the pack -> the AWS Config rule(s) watching its property after deploy."""
    watched: dict[str, list[str]] = {r.id: [] for r in RULES}
    for control in controls():
        for rule_id in mapping(control.id).rules:
            name = _config_rule_name(control.config_rule)
            if rule_id in watched and name not in watched[rule_id]:
                watched[rule_id].append(name)
    for rule_id, also in WATCHED_ALSO.items():
        watched[rule_id] += [name for name in also if name not in watched[rule_id]]
    named: list[tuple[str, tuple[str, ...]]] = [(e.name, e.rules) for e in CONFIG_PACK_RULES]
    named += [(d.name, d.rules) for d in AWS_PACK_REVIEWED]
    for config_rule, rule_ids in named:
        for rule_id in rule_ids:
            if config_rule not in watched[rule_id]:
                watched[rule_id].append(config_rule)
    for extra in AWS_PACK_SYNTH_RULES:
        for rule_id in extra.rules:
            watched[rule_id].append(f"{extra.name} {AWS_PACK_WATCHER}")
    out = {}
    for rule_id, names in watched.items():
        out[rule_id] = ", ".join(names) if names else WATCHED_AFTER_DEPLOY_EXTRA.get(rule_id, "")
    return out


# Which pack holds each watching Config rule (QSA reader r21c). The project pack is the conformance pack of the
# landing zone that ships this pack (its Detection stack deploys this file; it is not in the standalone
# distribution, so the crosswalk is generated in that repository); AWS's pack is the vendored rule list of
# AWS's PCI DSS v4.0 sample template (`aws_pci_dss_v4_conformance_pack_rules.json`), which the managed
# PCI-DSS_V4 pack is read as (its own rule list is not stored). Security Hub's PCI DSS v4.0.1 standard runs each
# control's rule as a service-linked Config rule of its own, in no pack.
PROJECT_PACK_FILE = HERE.parent / "compliance" / "conformance" / "pci-dss-v4.json"
PROJECT_PACK_PREFIX = "pci-dss-v4-"
# That landing zone's default configuration (config.models: ConformancePacksConfig.project true, aws_managed
# and aws_sample_s3_uri unset; AuditConfig.security_hub_mode create); tests/test_crosswalk.py holds them equal.
DEFAULT_PROJECT_PACK = True
DEFAULT_AWS_PACK = False
DEFAULT_SECURITY_HUB = True
BOTH_PACKS = "both packs"
PROJECT_PACK = "project pack"
AWS_PACK = "AWS's pack"
NEITHER_PACK = "neither pack"


# The crosswalk and the rules speak of any CDK app using this pack (its own distribution), not of the landing
# zone that ships it (QSA reader r21c). A mention that must stay is listed here with the reason it holds for any
# app; tests/test_crosswalk.py fails on any other "landing zone" in the crosswalk or in the rules' text.
LANDING_ZONE_MENTIONS: dict[str, str] = {
    "of the landing zone that ships this pack": "names where the project pack file is kept (the repository this"
    " pack is distributed from), which the Held-by column is read from: a fact of the data, whatever app reads it",
}


@cache
def project_pack_rules() -> frozenset[str]:
    """The Config rule names of the landing zone's own conformance pack (`PROJECT_PACK_FILE`)."""
    if not PROJECT_PACK_FILE.is_file():
        raise FileNotFoundError(
            f"{PROJECT_PACK_FILE}: the crosswalk is generated in the repository that ships this pack, whose"
            " conformance pack it reads"
        )
    pack = json.loads(PROJECT_PACK_FILE.read_text(encoding="utf-8"))
    return frozenset(
        str(body["Properties"]["ConfigRuleName"]).removeprefix(PROJECT_PACK_PREFIX)
        for body in pack["Resources"].values()
        if body.get("Type") == "AWS::Config::ConfigRule"
    )


@cache
def aws_pack_rule_names() -> frozenset[str]:
    return frozenset(str(r["name"]) for r in aws_pack_rules())


def pack_holding(config_rule: str) -> str:
    """Which conformance pack holds `config_rule`: both, the project's, AWS's, or neither."""
    project, aws = config_rule in project_pack_rules(), config_rule in aws_pack_rule_names()
    if project and aws:
        return BOTH_PACKS
    return PROJECT_PACK if project else AWS_PACK if aws else NEITHER_PACK


def _config_rule_names(text: str) -> list[str]:
    """The AWS Config managed rule names in a watcher cell (not the reasons a rule has none)."""
    names = [part.split(" (", 1)[0].strip() for part in text.split(", ")]
    return [n for n in names if n and all(c.islower() or c.isdigit() or c == "-" for c in n) and "-" in n]


def _security_hub_controls(rule_id: str) -> list[str]:
    return [c.id for c in controls() if rule_id in mapping(c.id).rules]


def watching_packs() -> dict[str, tuple[str, str]]:
    """Every rule -> (which pack holds each Config rule watching it, and Security Hub's controls; whether one
    of them runs in the landing zone's default configuration)."""
    out: dict[str, tuple[str, str]] = {}
    for rule_id, text in watched_after_deploy().items():
        names = _config_rule_names(text)
        hub = _security_hub_controls(rule_id)
        parts = [f"{name}: {pack_holding(name)}" for name in names]
        if hub:
            parts.append(f"Security Hub {', '.join(hub)}")
        holders = {pack_holding(n) for n in names}
        by_default = [
            *([PROJECT_PACK] if DEFAULT_PROJECT_PACK and holders & {PROJECT_PACK, BOTH_PACKS} else []),
            *([AWS_PACK] if DEFAULT_AWS_PACK and holders & {AWS_PACK, BOTH_PACKS} else []),
            *(["Security Hub"] if DEFAULT_SECURITY_HUB and hub else []),
        ]
        if by_default:
            default = "yes: " + ", ".join(by_default)
        elif names:
            default = "no: only with AWS's pack (`audit.conformance_packs.aws_managed`)"
            if not holders & {AWS_PACK, BOTH_PACKS}:
                default = "no: in neither pack"
        else:
            default = "no Config rule"
        out[rule_id] = ("; ".join(parts) or "-", default)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _aws_cell(config_rule: str) -> str:
    ids, source = aws_requirements(config_rule)
    return f"{', '.join(ids)} ({SOURCE_LABELS[source]})" if ids else "not on either stored page"


def _mapping_cells(config_rule: str, rule_ids: tuple[str, ...]) -> str:
    """The row's cells for this pack's requirements, AWS's mapping and the reviewed departure."""
    ours = _requirements_cell(rule_ids)
    return f" {ours} | {_cell(_aws_cell(config_rule))} | {_cell(DEPARTURES.get(config_rule, '-'))} |"


def render() -> str:
    meta = source()
    lines = [
        "# Security Hub CSPM PCI DSS v4.0.1 crosswalk",
        "",
        "Generated by `python -m pci_rules.crosswalk` from `securityhub_pci_dss_v4_controls.json` and"
        " `pci_rules/crosswalk.py`; a test fails when this file differs from what they generate.",
        "",
        f"- Control list: {meta['source']} (retrieved {meta['retrieved']}: {meta['retrieved_how']}).",
        f"- Control details: {meta['details_source']}. {meta['note']}.",
        f"- **Coverage: {coverage_sentence()}** "
        f"({len(controls())} controls in the standard; the rest need the live account or have no template property).",
        f"- Why {meta['listed_count']} controls: {meta['count_note']}.",
        f"- {unverified()} of the {len(controls())} controls are marked `*`: their details are not yet verified"
        " against the control's page.",
        f"- AWS's mapping of each Config rule (`{AWS_MAPPING_FILE.name}`, read {mapping_read_date()}): the control IDs"
        " of the AWS Config Developer Guide pages 'Payment Card Industry Data Security Standard (PCI DSS) v4'"
        " (the managed pack PCI-DSS_V4; its stored copy holds the table's first row only) and 'Operational Best"
        " Practices for PCI DSS 4.0 (Including global resource types)' (the sample pack, whole table), as each"
        f" gives them. {mapping_counts()['sample_pack']} of the {len(aws_mapping())} Config rules the crosswalk"
        f" places are on the sample pack page, {mapping_counts()['managed_pack']} on the stored managed-pack page."
        f" Where this pack's requirements (evidenced and related) differ from AWS's, the reason is given"
        f" ({len(DEPARTURES)} rows, `crosswalk.DEPARTURES`). The departures are provisional: they were reviewed"
        " against the sample pack page, and stand until the managed pack's page, whose stored copy holds one"
        " row, is read whole.",
        "",
        "## Controls",
        "",
        "| Control | Title | Resource type | PCI DSS v4.0.1 | Synth rule, or why none"
        " | AWS Config rule (after deploy) |",
        "|---|---|---|---|---|---|",
    ]
    for control in controls():
        found = mapping(control.id)
        if found.rules:
            what = ", ".join(f"`{r}`" for r in found.rules) + (f" ({found.note})" if found.note else "")
        else:
            awaited = AWAITED_RULES.get(control.id)
            what = (
                f"**{found.status}**: {found.reason}" if found.reason else f"**applicable, rule awaited**: `{awaited}`"
            )
        detail = "" if control.details_read_from_control_page else " *"
        name = f"[{control.id}]({control.details_page})" if control.details_page else control.id
        kind = coverage_kind(control.id)
        why = PARTIAL.get(control.id) or CONDITIONAL.get(control.id)
        if kind:
            what = f"{what} — **{kind}**" + (f": {why}" if why else "")
            if related_only(control.id):
                what += (
                    f" — **related only**: the rule's findings support {', '.join(control.requirements)}"
                    " but evidence none of them (the report does not count them)"
                )
        lines.append(
            f"| {name}{detail} | {_cell(control.title)} | {', '.join(control.resource_types)} |"
            f" {', '.join(control.requirements)} | {_cell(what)} | {_cell(control.config_rule)} |"
        )
    lines += [
        "",
        "Each control's ID links the section of the AWS page its resource type, requirements and Config rule were"
        " read from. \\* not yet read from the control's page (see above).",
        "",
        "## AWS Config conformance-pack rules no control covers",
        "",
        "| AWS Config rule | Resource type | Synth rule | PCI DSS v4.0.1 (this pack) | AWS's mapping"
        " | Why they differ |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.name} | {', '.join(e.resource_types)} | {', '.join(f'`{r}`' for r in e.rules)} |"
        + _mapping_cells(e.name, e.rules)
        for e in CONFIG_PACK_RULES
    ]
    kinds = {kind: sum(1 for d in AWS_PACK_REVIEWED if d.kind == kind) for kind in DECISION_KINDS}
    lines += [
        "",
        "## Other rules of AWS's PCI DSS v4.0 conformance pack: the reviewed decision",
        "",
        f'{len(AWS_PACK_REVIEWED)} rules of AWS\'s "Operational Best Practices for PCI DSS v4.0" pack'
        " (`aws_pci_dss_v4_conformance_pack_rules.json`) that no Security Hub control above and no row of the"
        f" table above covers: {kinds[RULE]} checked by a synth rule, {kinds[RUNTIME]} runtime only,"
        f" {kinds[NOT_APPLICABLE]} not applicable to templates, {kinds[PARAMETERISED]} parameterised;"
        f" {len(AWS_PACK_AWAITING_REVIEW)} still awaiting review (`crosswalk.AWS_PACK_AWAITING_REVIEW`).",
        "",
        "| AWS Config rule | Decision | Synth rule | Reason | AWS pages | PCI DSS v4.0.1 (this pack) | AWS's mapping"
        " | Why they differ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {d.name} | {'synth rule' if d.kind == RULE else d.kind} | {', '.join(f'`{r}`' for r in d.rules)} |"
        f" {_cell(d.reason)} | {_cell(d.pages)} |" + _mapping_cells(d.name, d.rules)
        for d in sorted(AWS_PACK_REVIEWED, key=lambda d: d.name)
    ]
    lines += [
        "",
        "## AWS's PCI DSS v4.0 conformance-pack rules checked at synth",
        "",
        'Rules of AWS\'s "Operational Best Practices for PCI DSS v4.0" pack (vendored list) that no control'
        " covers and the project pack (`compliance/conformance/pci-dss-v4.json` in the repository that ships this"
        " pack) does not deploy (some are"
        " offered in a few regions only); AWS's pack"
        " watches them after deploy (`audit.conformance_packs.aws_managed: PCI-DSS_V4`, whose rules vary by region,"
        " or `aws_sample_s3_uri`, the sample template this list is vendored from).",
        "",
        "| AWS Config rule | Resource type | Synth rule | PCI DSS v4.0.1 (this pack) | AWS's mapping"
        " | Why they differ |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.name} | {', '.join(e.resource_types)} | {', '.join(f'`{r}`' for r in e.rules)}"
        + (f" ({_cell(e.note)})" if e.note else "")
        + " |"
        + _mapping_cells(e.name, e.rules)
        for e in AWS_PACK_SYNTH_RULES
    ]
    lines += [
        "",
        "## AWS Config rules that watch a synth rule and that the project pack does not hold",
        "",
        f"{len(NOT_IN_PROJECT_PACK)} Config rules watching a synth rule, in no pack and no control of the standard."
        " Each was considered for the project pack (pack 1.15.0): a conformance pack holding a rule its region does"
        " not offer fails to deploy there, so the pack holds only rules offered in every region. Region lines are"
        " those of each rule's page (AWS Config Developer Guide, read 2026-12-04) beside the vendored list"
        f" (`{MANAGED_RULES_FILE.name}`: {managed_rules_source()['copied_from']}, retrieved"
        f" {managed_rules_source()['retrieved']}); the stricter decides.",
        "",
        "| AWS Config rule | Identifier | AWS Region (stored page) | AWS Region (vendored list)"
        " | Why not in the project pack |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {k.identifier} | {_cell(k.stored_page_region)} |"
            f" {_cell(managed_rules()[k.identifier]['region'])} | {_cell(k.reason)} |"
            for name, k in sorted(NOT_IN_PROJECT_PACK.items())
        ),
        "",
        "## Every synth rule and the AWS Config rule that watches it after deploy",
        "",
        "A rule's PCI DSS v4.0.1 requirements are those whose testing procedure examines the property it checks"
        " (printed in its findings, counted as evidence); its related requirements are those the property"
        " supports without evidencing them (carried for this crosswalk and AWS's mapping, never counted as"
        " evidence; `pci_rules.rule.Rule.related`).",
        "",
        "",
        "Which pack holds each watching Config rule: the project pack (`compliance/conformance/pci-dss-v4.json` of"
        " the landing zone that ships this pack), AWS's pack (the vendored rule list of AWS's PCI DSS v4.0 sample"
        " template, read as the managed `PCI-DSS_V4` pack, whose own list is not stored), both or neither;"
        " Security Hub's PCI DSS v4.0.1 standard runs each control's Config rule itself, in no pack. \"By"
        " default\" says whether one of them runs in that repository's default configuration (the project pack"
        " and Security Hub on, no AWS pack); any other app deploys the packs it chooses.",
        "",
        "| Synth rule | PCI DSS v4.0.1 (evidence) | Related (not evidence) | AWS Config rule | Held by | By default |",
        "|---|---|---|---|---|---|",
    ]
    watched = watched_after_deploy()
    packs = watching_packs()
    lines += [
        f"| `{r.id}` | {', '.join(r.requirements) or '-'} | {', '.join(r.related) or '-'} | {_cell(watched[r.id])} |"
        f" {_cell(packs[r.id][0])} | {_cell(packs[r.id][1])} |"
        for r in RULES
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python -m pci_rules.crosswalk [OUTPUT]`: write the crosswalk (default `pci_rules/CROSSWALK.md`)."""
    parser = argparse.ArgumentParser(prog="python -m pci_rules.crosswalk", description="Write the crosswalk.")
    parser.add_argument("output", nargs="?", type=Path, default=CROSSWALK_FILE, help="default: %(default)s")
    target: Path = parser.parse_args(argv).output
    target.write_text(render(), encoding="utf-8")
    with_rule, total = coverage()
    print(f"{target}: {with_rule}/{total} applicable controls with a synth rule")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
