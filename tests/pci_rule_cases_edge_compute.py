"""A compliant and a non-compliant template for each rule of `pci_rules/rules/edge_compute.py`.

As in `tests/pci_rule_cases_workloads.py`: the compliant case is the fork app's own resource
(`tests.fork.app.WORKLOAD`), the non-compliant case changes the one property the rule is about.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fork.app import WORKLOAD
from tests.pci_rule_cases_workloads import Resources, bad, good


def _cdn(**config: Any) -> Resources:
    base = copy.deepcopy(WORKLOAD["Cdn"][1]["DistributionConfig"])
    for key, value in config.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return bad("Cdn", DistributionConfig=base)


def _certificate(**changes: Any) -> dict[str, Any]:
    certificate = dict(WORKLOAD["Cdn"][1]["DistributionConfig"]["ViewerCertificate"])
    certificate.update(changes)
    return certificate


def _s3_origin_without_access_control() -> list[dict[str, Any]]:
    origins: list[dict[str, Any]] = copy.deepcopy(WORKLOAD["Cdn"][1]["DistributionConfig"]["Origins"])
    for origin in origins:
        origin.pop("OriginAccessControlId", None)
    return origins


def _container(**changes: Any) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = copy.deepcopy(WORKLOAD["Task"][1]["ContainerDefinitions"])
    for key, value in changes.items():
        if value is None:
            containers[0].pop(key, None)
        else:
            containers[0][key] = value
    return containers


_DEFAULT_CERTIFICATE = {"CloudFrontDefaultCertificate": True}
_PLAIN_CACHE = [{"ResourcePath": "/*", "HttpMethod": "*", "CachingEnabled": True, "CacheDataEncrypted": False}]

EDGE_COMPUTE_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-APIGW-CACHE-ENCRYPTED": (
        good("RestStage", "RestApi"),
        bad("RestStage", "RestApi", MethodSettings=_PLAIN_CACHE),
    ),
    "PCI4-APIGW-ENDPOINT-TYPE": (good("RestApi"), bad("RestApi", EndpointConfiguration=None)),
    "PCI4-APIGW-REST-STAGE-LOGGING": (
        good("RestStage", "RestApi"),
        bad("RestStage", "RestApi", AccessLogSetting=None, MethodSettings=None),
    ),
    "PCI4-APIGW-XRAY": (good("RestStage", "RestApi"), bad("RestStage", "RestApi", TracingEnabled=False)),
    "PCI4-CLOUDFRONT-CUSTOM-CERTIFICATE": (good("Cdn"), _cdn(ViewerCertificate=_DEFAULT_CERTIFICATE)),
    "PCI4-CLOUDFRONT-TLS12-POLICY": (
        good("Cdn"),
        _cdn(ViewerCertificate=_certificate(MinimumProtocolVersion="TLSv1.1_2016")),
    ),
    "PCI4-CLOUDFRONT-SNI": (good("Cdn"), _cdn(ViewerCertificate=_certificate(SslSupportMethod="vip"))),
    "PCI4-CLOUDFRONT-S3-ORIGIN-ACCESS": (good("Cdn"), _cdn(Origins=_s3_origin_without_access_control())),
    "PCI4-CODEBUILD-ARTIFACTS-ENCRYPTED": (
        good("Build"),
        bad("Build", SecondaryArtifacts=[{"Type": "S3", "Location": "fork-artifacts", "EncryptionDisabled": True}]),
    ),
    "PCI4-CODEDEPLOY-LAMBDA-GRADUAL": (
        good("DeployGroup", "Deployer"),
        bad("DeployGroup", "Deployer", DeploymentConfigName=None),
    ),
    "PCI4-EC2-DETAILED-MONITORING": (good("Instance", "Template"), bad("Instance", "Template", Monitoring=False)),
    "PCI4-EC2-INSTANCE-PROFILE": (good("Instance", "Template"), bad("Instance", "Template", IamInstanceProfile=None)),
    "PCI4-EC2-NO-KEY-PAIR": (good("Instance", "Template"), bad("Instance", "Template", KeyName="ops")),
    "PCI4-EC2-CLIENT-VPN-NOT-ALL": (
        good("ClientVpnAccess", "ClientVpn"),
        bad("ClientVpnAccess", "ClientVpn", AccessGroupId=None, AuthorizeAllGroups=True),
    ),
    "PCI4-EC2-TGW-NO-AUTO-ACCEPT": (good("Transit"), bad("Transit", AutoAcceptSharedAttachments="enable")),
    "PCI4-ECR-LIFECYCLE-POLICY": (good("Repository"), bad("Repository", LifecyclePolicy=None)),
    "PCI4-ECS-NO-HOST-PID": (good("Task"), bad("Task", PidMode="host")),
    "PCI4-ECS-LOG-CONFIGURATION": (good("Task"), bad("Task", ContainerDefinitions=_container(LogConfiguration=None))),
    "PCI4-EKS-ALL-CONTROL-PLANE-LOGS": (
        good("Kubernetes"),
        bad("Kubernetes", Logging={"ClusterLogging": {"EnabledTypes": [{"Type": "api"}, {"Type": "audit"}]}}),
    ),
}


# Auto Scaling groups launching from a launch configuration (no launch template): the key-pair, detailed-monitoring
# and instance-profile rules read the launch configuration's KeyName, InstanceMonitoring and IamInstanceProfile
# ("AWS::AutoScaling::LaunchConfiguration", CloudFormation Template Reference).
def _configured_group(**configuration: Any) -> Resources:
    launch = copy.deepcopy(WORKLOAD["LaunchConfig"][1])
    launch.update({"InstanceMonitoring": True, "IamInstanceProfile": "fork-workload"})
    for key, value in configuration.items():
        if value is None:
            launch.pop(key, None)
        else:
            launch[key] = value
    group = {
        "MinSize": "1",
        "MaxSize": "2",
        "LaunchConfigurationName": {"Ref": "LaunchConfig"},
        "VPCZoneIdentifier": ["subnet-0123456789abcdef0"],
    }
    return {
        "LaunchConfig": {"Type": "AWS::AutoScaling::LaunchConfiguration", "Properties": launch},
        "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": group},
    }


LAUNCH_CONFIGURATION_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-EC2-DETAILED-MONITORING": (_configured_group(), _configured_group(InstanceMonitoring=False)),
    "PCI4-EC2-INSTANCE-PROFILE": (_configured_group(), _configured_group(IamInstanceProfile=None)),
    "PCI4-EC2-NO-KEY-PAIR": (_configured_group(), _configured_group(KeyName="ops")),
}
