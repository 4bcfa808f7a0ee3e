"""A compliant and a non-compliant template for each rule of `pci_rules/rules/workloads.py`.

The compliant case is the fork app's own resource (`tests.fork.app.WORKLOAD`), so the app the vacuity
test gates and the case that proves the rule passes are one; the non-compliant case changes the one
property the rule is about.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.fork.app import DMS_LOGGING, WORKLOAD

Resources = dict[str, dict[str, Any]]


def good(*logical_ids: str) -> Resources:
    return {i: {"Type": WORKLOAD[i][0], "Properties": copy.deepcopy(WORKLOAD[i][1])} for i in logical_ids}


def bad(logical_id: str, *others: str, **changes: Any) -> Resources:
    """The fork's resource with top-level properties replaced (None removes one), beside `others` as they are."""
    resources = good(logical_id, *others)
    properties = resources[logical_id]["Properties"]
    for key, value in changes.items():
        if value is None:
            properties.pop(key, None)
        else:
            properties[key] = value
    return resources


def _cdn(**config: Any) -> Resources:
    base = copy.deepcopy(WORKLOAD["Cdn"][1]["DistributionConfig"])
    for key, value in config.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return bad("Cdn", DistributionConfig=base)


def _origin(policy: str, protocols: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "Id": "api",
            "DomainName": "api.example.com",
            "CustomOriginConfig": {"OriginProtocolPolicy": policy, "OriginSSLProtocols": protocols},
        }
    ]


def _tokens(value: str) -> dict[str, str]:
    return {"HttpTokens": value}


def _dms_settings(drop: str) -> str:
    settings = copy.deepcopy(DMS_LOGGING)
    components = settings["Logging"]["LogComponents"]
    settings["Logging"]["LogComponents"] = [c for c in components if c["Id"] != drop]
    return json.dumps(settings)


def _inspector(*types: str) -> Resources:
    """An Inspector2 enable call as CDK's AwsCustomResource renders it."""
    call = json.dumps({"service": "Inspector2", "action": "enable", "parameters": {"resourceTypes": list(types)}})
    token = "arn:aws:lambda:us-east-1:111111111111:function:provider"
    return {"Inspector": {"Type": "Custom::AWS", "Properties": {"ServiceToken": token, "Create": call}}}


_VPC_PUBLIC = {"SubnetIds": ["subnet-0123456789abcdef0"], "EndpointPublicAccess": True}
_PLAIN_LISTENER = [{"Protocol": "HTTP", "LoadBalancerPort": "80", "InstancePort": "80"}]

WORKLOAD_CASES: dict[str, tuple[Resources, Resources]] = {
    "PCI4-APIGW-V2-ACCESS-LOGS": (good("HttpApiStage"), bad("HttpApiStage", AccessLogSettings=None)),
    "PCI4-APPSYNC-FIELD-LOGGING": (good("GraphApi"), bad("GraphApi", LogConfig={"FieldLogLevel": "NONE"})),
    "PCI4-STEPFUNCTIONS-LOGGING": (good("StateMachine"), bad("StateMachine", LoggingConfiguration={"Level": "OFF"})),
    "PCI4-CLOUDFRONT-DEFAULT-ROOT-OBJECT": (good("Cdn"), _cdn(DefaultRootObject=None)),
    "PCI4-CLOUDFRONT-VIEWER-HTTPS": (
        good("Cdn"),
        _cdn(DefaultCacheBehavior={"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all"}),
    ),
    "PCI4-CLOUDFRONT-LOGGING": (good("Cdn"), _cdn(Logging=None)),
    "PCI4-CLOUDFRONT-WAF": (good("Cdn"), _cdn(WebACLId=None)),
    "PCI4-CLOUDFRONT-ORIGIN-HTTPS": (good("Cdn"), _cdn(Origins=_origin("http-only", ["TLSv1.2"]))),
    "PCI4-CLOUDFRONT-ORIGIN-NO-SSLV3": (good("Cdn"), _cdn(Origins=_origin("https-only", ["SSLv3", "TLSv1.2"]))),
    "PCI4-EC2-LAUNCH-TEMPLATE-IMDSV2": (
        good("Template"),
        bad("Template", LaunchTemplateData={"MetadataOptions": {"HttpTokens": "optional"}}),
    ),
    "PCI4-EC2-INSTANCE-IMDSV2": (
        good("Instance", "Template"),
        bad("Instance", "Template", MetadataOptions=_tokens("optional")),
    ),
    "PCI4-EC2-LAUNCH-TEMPLATE-NO-PUBLIC-IP": (
        good("Template"),
        bad(
            "Template",
            LaunchTemplateData={
                "MetadataOptions": {"HttpTokens": "required"},
                "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True}],
            },
        ),
    ),
    "PCI4-AUTOSCALING-LAUNCH-CONFIG-IMDSV2": (good("LaunchConfig"), bad("LaunchConfig", MetadataOptions=None)),
    "PCI4-AUTOSCALING-LAUNCH-CONFIG-NO-PUBLIC-IP": (
        good("LaunchConfig"),
        bad("LaunchConfig", AssociatePublicIpAddress=True),
    ),
    "PCI4-EC2-NACL-IN-USE": (good("Acl", "AclAssociation"), good("Acl")),
    "PCI4-EC2-VPN-LOGGING": (good("Vpn"), bad("Vpn", VpnTunnelOptionsSpecifications=[{}])),
    "PCI4-EC2-CLIENT-VPN-LOGGING": (good("ClientVpn"), bad("ClientVpn", ConnectionLogOptions={"Enabled": False})),
    "PCI4-ECR-SCAN-ON-PUSH": (good("Repository"), bad("Repository", ImageScanningConfiguration=None)),
    "PCI4-ECS-SERVICE-NO-PUBLIC-IP": (
        good("Service"),
        bad("Service", NetworkConfiguration={"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED"}}),
    ),
    "PCI4-ECS-TASK-SET-NO-PUBLIC-IP": (
        good("TaskSet"),
        bad("TaskSet", NetworkConfiguration={"AwsVpcConfiguration": {"AssignPublicIp": "ENABLED"}}),
    ),
    "PCI4-ECS-NO-SECRETS-IN-ENVIRONMENT": (
        good("Task"),
        bad(
            "Task",
            ContainerDefinitions=[
                {"Name": "app", "Image": "x", "Environment": [{"Name": "AWS_SECRET_ACCESS_KEY", "Value": "x"}]}
            ],
        ),
    ),
    "PCI4-ECS-FARGATE-LATEST-PLATFORM": (good("Service"), bad("Service", PlatformVersion="1.3.0")),
    "PCI4-EKS-PRIVATE-ENDPOINT": (good("Kubernetes"), bad("Kubernetes", ResourcesVpcConfig=_VPC_PUBLIC)),
    "PCI4-EKS-SUPPORTED-VERSION": (good("Kubernetes"), bad("Kubernetes", Version="1.27")),
    "PCI4-EKS-SECRETS-ENCRYPTED": (good("Kubernetes"), bad("Kubernetes", EncryptionConfig=None)),
    "PCI4-EKS-AUDIT-LOGGING": (
        good("Kubernetes"),
        bad("Kubernetes", Logging={"ClusterLogging": {"EnabledTypes": [{"Type": "api"}]}}),
    ),
    "PCI4-DAX-TLS": (good("Dax"), bad("Dax", ClusterEndpointEncryptionType="NONE")),
    "PCI4-ELASTICACHE-MINOR-UPGRADES": (good("Cache"), bad("Cache", AutoMinorVersionUpgrade=False)),
    "PCI4-ELASTICACHE-TRANSIT-ENCRYPTION": (good("Cache"), bad("Cache", TransitEncryptionEnabled=None)),
    "PCI4-ELASTICACHE-AUTH": (good("Cache"), bad("Cache", UserGroupIds=None)),
    # Both CloudFormation types of a search domain (pack 1.13.0); tests/test_pci_rules_r21f.py fails the OpenSearch one.
    "PCI4-ES-IN-VPC": (good("Elasticsearch", "Search"), bad("Elasticsearch", VPCOptions=None)),
    "PCI4-ES-NODE-TO-NODE-ENCRYPTION": (
        good("Elasticsearch", "Search"),
        bad("Elasticsearch", NodeToNodeEncryptionOptions={"Enabled": False}),
    ),
    "PCI4-ES-AUDIT-LOGS": (good("Elasticsearch"), bad("Elasticsearch", LogPublishingOptions=None)),
    "PCI4-ES-TLS12": (
        good("Elasticsearch", "Search"),
        bad(
            "Elasticsearch",
            DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"},
        ),
    ),
    "PCI4-OPENSEARCH-AUDIT-LOGS": (good("Search"), bad("Search", LogPublishingOptions=None)),
    "PCI4-DOCDB-BACKUP-RETENTION": (good("Documents"), bad("Documents", BackupRetentionPeriod=None)),
    "PCI4-DOCDB-AUDIT-LOGS": (good("Documents"), bad("Documents", EnableCloudwatchLogsExports=["profiler"])),
    "PCI4-NEPTUNE-AUDIT-LOGS": (good("Graph"), bad("Graph", EnableCloudwatchLogsExports=None)),
    "PCI4-REDSHIFT-NOT-PUBLIC": (good("Warehouse"), bad("Warehouse", PubliclyAccessible=True)),
    "PCI4-REDSHIFT-REQUIRE-TLS": (
        good("Warehouse", "WarehouseParams"),
        bad("Warehouse", ClusterParameterGroupName=None),
    ),
    "PCI4-REDSHIFT-AUDIT-LOGGING": (good("Warehouse"), bad("Warehouse", LoggingProperties=None)),
    "PCI4-DMS-INSTANCE-NOT-PUBLIC": (good("Replication"), bad("Replication", PubliclyAccessible=None)),
    "PCI4-DMS-MINOR-UPGRADES": (good("Replication"), bad("Replication", AutoMinorVersionUpgrade=False)),
    "PCI4-DMS-TARGET-LOGGING": (
        good("ReplicationTask"),
        bad("ReplicationTask", ReplicationTaskSettings=_dms_settings("TARGET_APPLY")),
    ),
    "PCI4-DMS-SOURCE-LOGGING": (
        good("ReplicationTask"),
        bad("ReplicationTask", ReplicationTaskSettings=_dms_settings("SOURCE_CAPTURE")),
    ),
    "PCI4-DMS-ENDPOINT-TLS": (good("SourceEndpoint"), bad("SourceEndpoint", SslMode="none")),
    "PCI4-DMS-ENDPOINT-AUTHENTICATION": (
        good("GraphEndpoint"),
        bad("GraphEndpoint", NeptuneSettings={"IamAuthEnabled": False}),
    ),
    "PCI4-EFS-ACCESS-POINT-USER": (good("FilesAccessPoint"), bad("FilesAccessPoint", PosixUser=None)),
    "PCI4-MQ-AUDIT-LOGS": (good("Broker"), bad("Broker", Logs={"General": True})),
    "PCI4-MQ-MINOR-UPGRADES": (good("Broker"), bad("Broker", AutoMinorVersionUpgrade=False)),
    "PCI4-MSK-IN-TRANSIT": (
        good("Kafka"),
        bad("Kafka", EncryptionInfo={"EncryptionInTransit": {"ClientBroker": "TLS_PLAINTEXT"}}),
    ),
    "PCI4-MSK-CONNECT-IN-TRANSIT": (
        good("Connector"),
        bad("Connector", KafkaClusterEncryptionInTransit={"EncryptionType": "PLAINTEXT"}),
    ),
    "PCI4-EVENTBRIDGE-BUS-POLICY": (good("Bus"), bad("Bus", Policy=None)),
    "PCI4-ROUTE53-QUERY-LOGGING": (good("Zone"), bad("Zone", QueryLoggingConfig=None)),
    "PCI4-TRANSFER-NO-FTP": (good("Sftp"), bad("Sftp", Protocols=["SFTP", "FTP"])),
    "PCI4-SAGEMAKER-NO-DIRECT-INTERNET": (good("Notebook"), bad("Notebook", DirectInternetAccess=None)),
    "PCI4-BEANSTALK-MANAGED-UPDATES": (
        good("Beanstalk"),
        bad("Beanstalk", OptionSettings=WORKLOAD["Beanstalk"][1]["OptionSettings"][1:]),
    ),
    "PCI4-BEANSTALK-STREAM-LOGS": (
        good("Beanstalk"),
        bad("Beanstalk", OptionSettings=WORKLOAD["Beanstalk"][1]["OptionSettings"][:1]),
    ),
    "PCI4-CLB-HTTPS-LISTENERS": (good("Classic"), bad("Classic", Listeners=_PLAIN_LISTENER)),
    "PCI4-CLB-TLS12-POLICY": (good("Classic"), bad("Classic", Policies=None)),
    "PCI4-S3-ACCESS-POINT-BPA": (
        good("DataAccessPoint"),
        bad("DataAccessPoint", PublicAccessBlockConfiguration={"BlockPublicPolicy": False}),
    ),
    "PCI4-S3-MRAP-BPA": (
        good("GlobalAccessPoint"),
        bad("GlobalAccessPoint", PublicAccessBlockConfiguration={"RestrictPublicBuckets": False}),
    ),
    "PCI4-RDS-EVENT-SUBSCRIPTION-CRITICAL": (good("DbEvents"), bad("DbEvents", EventCategories=["backup"])),
    "PCI4-RDS-EVENT-SUBSCRIPTION-CONFIG": (
        good("DbParameterEvents"),
        bad("DbParameterEvents", EventCategories=["notification"]),
    ),
    "PCI4-EMR-PRIMARY-NO-PUBLIC-IP": (
        good("Emr"),
        {
            **bad("Emr", Instances={**WORKLOAD["Emr"][1]["Instances"], "Ec2SubnetId": {"Ref": "Open"}}),
            "Open": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-1", "MapPublicIpOnLaunch": True}},
        },
    ),
    "PCI4-LAMBDA-NO-PUBLIC-ACCESS": (good("PartnerInvoke"), bad("PartnerInvoke", Principal="*")),
    "PCI4-INSPECTOR-EC2-ECR-SCANNING": (_inspector("EC2", "ECR", "LAMBDA"), _inspector("LAMBDA", "LAMBDA_CODE")),
}
