"""Data protection: the CDE database, its secret and rotation, buckets, EBS defaults, retention (issue 3)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App, CfnElement, Environment, Stack
from aws_cdk import assertions as cdk_assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from config import ConfigError, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from pci_constructs.encrypted_database import EncryptedDatabase
from pci_constructs.secure_bucket import SecureBucket
from stacks.landing_zone import stack_name
from tests.conftest import CDK_CONTEXT, Synthesized

STATEFUL_TYPES = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::RDS::DBInstance",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
)


def _resources(synthesized: Synthesized, resource_type: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, template in synthesized.templates():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == resource_type:
                yield name, logical_id, resource


def _logical_id(construct: Any) -> str:
    """The CloudFormation logical ID of a construct's resource, found by walking its default children."""
    element = construct
    while not isinstance(element, CfnElement):
        element = element.node.default_child
    stack = Stack.of(element)
    return str(stack.resolve(stack.get_logical_id(element)))


def _data(synthesized: Synthesized, region: str) -> tuple[cdk_assertions.Template, Any]:
    stack = synthesized.zone.regions[region].data
    return synthesized.template(stack.stack_name), stack


def _imports(value: Any, fragment: str) -> bool:
    """True when a property is a cross-stack import whose export name contains `fragment`."""
    return fragment in json.dumps(value) and "Fn::ImportValue" in json.dumps(value)


# --- The database -------------------------------------------------------------------------


def test_every_database_is_encrypted_private_protected_and_retained(synthesized: Synthesized) -> None:
    instances = list(_resources(synthesized, "AWS::RDS::DBInstance"))
    assert len(instances) == len(synthesized.config.regions)
    for name, logical_id, resource in instances:
        properties, where = resource["Properties"], f"{name}/{logical_id}"
        assert properties["StorageEncrypted"] is True, where
        assert _imports(properties["KmsKeyId"], "CardholderDataKey"), where
        assert properties.get("PubliclyAccessible", False) is False, where
        assert properties["DeletionProtection"] is True, where
        assert resource["DeletionPolicy"] in ("RetainExceptOnCreate", "Snapshot"), where


def test_database_runs_multi_az_postgres_with_backups_insights_monitoring_and_iam_auth(
    synthesized: Synthesized,
) -> None:
    database = synthesized.config.database
    for region in synthesized.config.regions:
        template, _ = _data(synthesized, region)
        template.has_resource_properties(
            "AWS::RDS::DBInstance",
            {
                "Engine": "postgres",
                "EngineVersion": Match.string_like_regexp(r"^1[7-9]"),
                "MultiAZ": True,
                "DBInstanceClass": f"db.{database.instance_type}",
                "StorageType": "gp3",
                "BackupRetentionPeriod": database.backup_retention_days,
                "DeleteAutomatedBackups": False,
                "CopyTagsToSnapshot": True,
                "AutoMinorVersionUpgrade": True,
                "EnableIAMDatabaseAuthentication": True,
                "EnablePerformanceInsights": True,
                "PerformanceInsightsKMSKeyId": Match.object_like(
                    {"Fn::ImportValue": Match.string_like_regexp("CardholderDataKey")}
                ),
                "MonitoringInterval": 60,
                "MonitoringRoleArn": Match.any_value(),
                "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
                "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            },
        )
        assert database.backup_retention_days >= 7


def test_database_lives_in_the_cde_subnets_behind_the_database_group(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        (subnet_group,) = template.find_resources("AWS::RDS::DBSubnetGroup").values()
        subnet_ids = subnet_group["Properties"]["SubnetIds"]
        assert len(subnet_ids) == synthesized.config.az_count
        assert all(_imports(subnet, "CdeSubnet") for subnet in subnet_ids)
        instance = template.to_json()["Resources"][_logical_id(stack.database.instance)]
        (group,) = instance["Properties"]["VPCSecurityGroups"]
        assert _imports(group, "DatabaseSecurityGroup")


def test_parameter_group_forces_tls_and_logs_connections(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, _ = _data(synthesized, region)
        template.has_resource_properties(
            "AWS::RDS::DBParameterGroup",
            {
                "Family": Match.string_like_regexp(r"^postgres1[7-9]$"),
                "Parameters": Match.object_like(
                    {
                        "rds.force_ssl": "1",
                        "ssl_min_protocol_version": "TLSv1.2",
                        "log_connections": "1",
                        "log_disconnections": "1",
                        # pgaudit object auditing of the vault's audit trail (red-team r19 F5), no parameters
                        "shared_preload_libraries": Match.string_like_regexp(r"(^|,)pgaudit(,|$)"),
                        "pgaudit.role": "rds_pgaudit",
                        "pgaudit.log_parameter": "0",
                    }
                ),
            },
        )
        template.has_resource_properties(
            "AWS::RDS::DBInstance", {"DBParameterGroupName": Match.object_like({"Ref": Match.any_value()})}
        )


def test_database_logs_go_to_encrypted_groups_kept_a_year_created_first(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        identifier = f"pci-lz-{synthesized.config.name}-cde"
        resources = template.to_json()["Resources"]
        instance = resources[_logical_id(stack.database.instance)]
        for export in ("postgresql", "upgrade"):
            group = stack.database.log_groups[export].log_group
            log_group = resources[_logical_id(group)]
            assert log_group["Properties"]["LogGroupName"] == f"/aws/rds/instance/{identifier}/{export}"
            assert log_group["Properties"]["RetentionInDays"] >= 365
            assert _imports(log_group["Properties"]["KmsKeyId"], "LogsKey")
            assert log_group["DeletionPolicy"] == "RetainExceptOnCreate"
            assert _logical_id(group) in instance["DependsOn"]


def test_master_secret_is_generated_encrypted_with_the_secrets_key_and_retained(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        secret = template.to_json()["Resources"][_logical_id(stack.database.master_secret)]
        assert _imports(secret["Properties"]["KmsKeyId"], "SecretsKey")
        assert "GenerateSecretString" in secret["Properties"]
        assert "SecretString" not in secret["Properties"]
        assert secret["DeletionPolicy"] == "RetainExceptOnCreate"


def test_every_database_secret_rotates_within_thirty_days_from_the_application_tier(
    synthesized: Synthesized,
) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        resources = template.to_json()["Resources"]
        attachment_id = _logical_id(stack.database.attached_secret)
        (attachment,) = [r for r in resources.values() if r["Type"] == "AWS::SecretsManager::SecretTargetAttachment"]
        assert attachment["Properties"]["TargetId"] == {"Ref": _logical_id(stack.database.instance)}
        (schedule,) = [r for r in resources.values() if r["Type"] == "AWS::SecretsManager::RotationSchedule"]
        properties = schedule["Properties"]
        assert properties["SecretId"] == {"Ref": attachment_id}
        rate = re.fullmatch(r"rate\((\d+) days?\)", properties["RotationRules"]["ScheduleExpression"])
        assert rate is not None
        assert 1 <= int(rate[1]) <= 30
        hosted = properties["HostedRotationLambda"]
        assert hosted["RotationType"] == "PostgreSQLSingleUser"
        assert _imports(hosted["KmsKeyArn"], "SecretsKey")
        assert _imports(hosted["VpcSubnetIds"], "ApplicationSubnet")
        assert "CdeSubnet" not in json.dumps(hosted["VpcSubnetIds"])
        assert hosted["VpcSecurityGroupIds"] == {
            "Fn::GetAtt": [_logical_id(stack.database.rotation_security_group), "GroupId"]
        }
        assert "AWS::SecretsManager-2024-09-16" in _as_list(template.to_json()["Transform"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_password_appears_in_any_template(synthesized: Synthesized) -> None:
    for name, template in synthesized.templates():
        assert "Parameters" not in template or not any("password" in key.lower() for key in template["Parameters"]), (
            name
        )
        for output_name in template.get("Outputs", {}):
            assert "password" not in output_name.lower(), f"{name}: output {output_name}"
        for _, resource in template["Resources"].items():
            password = resource.get("Properties", {}).get("MasterUserPassword")
            if password is not None:
                assert "{{resolve:secretsmanager:" in json.dumps(password), name


def test_rotation_function_reaches_only_the_endpoints_and_the_database(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        rotation_group = {"Fn::GetAtt": [_logical_id(stack.database.rotation_security_group), "GroupId"]}
        resources = template.to_json()["Resources"].values()
        egress = [r["Properties"] for r in resources if r["Type"] == "AWS::EC2::SecurityGroupEgress"]
        rotation_egress = sorted(
            (e["FromPort"], e["ToPort"], json.dumps(e["DestinationSecurityGroupId"]))
            for e in egress
            if e["GroupId"] == rotation_group
        )
        assert [(low, high) for low, high, _ in rotation_egress] == [
            (443, 443),
            (synthesized.config.db_port, synthesized.config.db_port),
        ]
        assert "EndpointSecurityGroup" in rotation_egress[0][2]
        assert "DatabaseSecurityGroup" in rotation_egress[1][2]


def test_database_group_admits_only_the_database_port_from_known_groups(synthesized: Synthesized) -> None:
    port = synthesized.config.db_port
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        resources = template.to_json()["Resources"].values()
        for resource in resources:
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress":
                assert "CidrIp" not in properties
                assert "CidrIpv6" not in properties
                assert (properties["FromPort"], properties["ToPort"]) == (port, port)
        # Within this stack the database group is opened to exactly the proxy and the rotation function.
        to_database = [
            r["Properties"]["SourceSecurityGroupId"]
            for r in resources
            if r["Type"] == "AWS::EC2::SecurityGroupIngress" and _imports(r["Properties"]["GroupId"], "Database")
        ]
        expected = [
            {"Fn::GetAtt": [_logical_id(group), "GroupId"]}
            for group in (stack.database.rotation_security_group, stack.database.proxy_security_group)
        ]
        assert sorted(map(json.dumps, to_database)) == sorted(map(json.dumps, expected))


def test_proxy_requires_tls_and_iam_and_sits_in_the_cde(synthesized: Synthesized) -> None:
    assert synthesized.config.database.enable_proxy
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        template.has_resource_properties(
            "AWS::RDS::DBProxy",
            {
                "EngineFamily": "POSTGRESQL",
                "RequireTLS": True,
                # End to end IAM (issue 9, case 6): no secret, so never the master user's.
                "DefaultAuthScheme": "IAM_AUTH",
                "Auth": Match.absent(),
                "VpcSecurityGroupIds": [{"Fn::GetAtt": [_logical_id(stack.database.proxy_security_group), "GroupId"]}],
            },
        )
        (proxy,) = template.find_resources("AWS::RDS::DBProxy").values()
        assert all(_imports(subnet, "CdeSubnet") for subnet in proxy["Properties"]["VpcSubnetIds"])
        (target_group,) = template.find_resources("AWS::RDS::DBProxyTargetGroup").values()
        assert "Tags" not in target_group["Properties"], "CloudFormation rejects tags on proxy target groups"
        proxy_ingress = [
            r["Properties"]
            for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"]
            == {"Fn::GetAtt": [_logical_id(stack.database.proxy_security_group), "GroupId"]}
        ]
        # The application tier (a fork's workloads) and the database-client group of the vault's functions.
        assert len(proxy_ingress) == 2
        sources = [i["SourceSecurityGroupId"] for i in proxy_ingress]
        assert sum(_imports(source, "ApplicationSecurityGroup") for source in sources) == 1
        client = {"Fn::GetAtt": [_logical_id(stack.database.function_client_security_group), "GroupId"]}
        assert client in sources


def test_database_roles_carry_no_aws_managed_or_inline_policies(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, _ = _data(synthesized, region)
        for role in template.find_resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]
            assert "Policies" not in role["Properties"]
        template.resource_count_is("AWS::IAM::Policy", 0)


# --- S3 -------------------------------------------------------------------------------------


def test_every_bucket_is_encrypted_private_versioned_retained_and_tls_only(synthesized: Synthesized) -> None:
    policies = {
        json.dumps(r["Properties"]["Bucket"]): r["Properties"]["PolicyDocument"]["Statement"]
        for _, _, r in _resources(synthesized, "AWS::S3::BucketPolicy")
    }
    buckets = list(_resources(synthesized, "AWS::S3::Bucket"))
    assert buckets
    for name, logical_id, bucket in buckets:
        properties, where = bucket["Properties"], f"{name}/{logical_id}"
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], where
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, where
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, where
        assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], where
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate", where
        statements = policies[json.dumps({"Ref": logical_id})]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert any(s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"} for s in denies), where
        assert any(s.get("Condition", {}).get("NumericLessThan") == {"s3:TlsVersion": 1.2} for s in denies), where
        assert any(
            "s3:x-amz-server-side-encryption" in s.get("Condition", {}).get("StringNotEqualsIfExists", {})
            for s in denies
        ), where
        assert any(
            s.get("Condition", {}).get("Null") == {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}
            for s in denies
        ), f"{where}: SSE-C uploads must be denied"


def _small_stack() -> Stack:
    app = App(context=CDK_CONTEXT)  # the project's feature flags: access logs by bucket policy, not ACL
    return Stack(app, "UnderTest", env=Environment(account="111111111111", region="eu-west-1"))


def test_kms_bucket_uses_a_bucket_key_and_refuses_other_keys() -> None:
    stack = _small_stack()
    key = kms.Key(stack, "Key")
    logs_bucket = SecureBucket(
        stack, "Logs", s3_managed_encryption_reason="access-log target", is_access_log_target=True
    )
    SecureBucket(stack, "Data", encryption_key=key, access_logs_bucket=logs_bucket.bucket, access_logs_prefix="data/")
    template = cdk_assertions.Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "BucketKeyEnabled": True,
                            "ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"}),
                        }
                    )
                ]
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "data/"}),
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "DenyUnexpectedEncryptionAlgorithm",
                                "Effect": "Deny",
                                "Condition": {
                                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
                                },
                            }
                        ),
                        Match.object_like({"Sid": "DenyOtherKmsKeys", "Effect": "Deny"}),
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one of encryption_key"),
        ({"s3_managed_encryption_reason": "x", "is_access_log_target": False}, "access_logs_bucket is required"),
        (
            {
                "s3_managed_encryption_reason": "x",
                "is_access_log_target": True,
                "noncurrent_version_expiration_days": 0,
            },
            "noncurrent_version_expiration_days",
        ),
    ],
)
def test_secure_bucket_rejects_conflicting_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SecureBucket(_small_stack(), "Bucket", **options)


# --- EBS --------------------------------------------------------------------------------------


def test_ebs_encryption_by_default_is_switched_on_with_the_block_storage_key(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template, stack = _data(synthesized, region)
        calls = [json.dumps(r["Properties"]["Create"]) for r in template.find_resources("Custom::AWS").values()]
        assert len(calls) == 2
        assert any("enableEbsEncryptionByDefault" in call for call in calls)
        (key_call,) = [call for call in calls if "modifyEbsDefaultKmsKeyId" in call]
        assert "BlockStorageKey" in key_call
        assert "KmsKeyId" in key_call
        ebs = stack.ebs_default_encryption
        resources = template.to_json()["Resources"]
        assert _logical_id(ebs.enable) in resources[_logical_id(ebs.default_key)]["DependsOn"]
        policy = resources[_logical_id(ebs.policy)]["Properties"]["PolicyDocument"]["Statement"]
        actions = {a for s in policy for a in _as_list(s["Action"])}
        assert actions == {
            "ec2:EnableEbsEncryptionByDefault",
            "ec2:GetEbsEncryptionByDefault",
            "ec2:GetEbsDefaultKmsKeyId",
            "ec2:ModifyEbsDefaultKmsKeyId",
            "kms:DescribeKey",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",  # active tracing of CDK's singleton function (issue 18)
            "xray:PutTelemetryRecords",
        }
        (wildcard,) = [s for s in policy if s["Resource"] == "*" and s["Action"][0].startswith("ec2:")]
        assert wildcard["Condition"] == {"StringEquals": {"aws:RequestedRegion": region}}


def test_any_launch_template_encrypts_its_volumes(synthesized: Synthesized) -> None:
    """Encryption by default covers volumes; a launch template still says so itself (none is defined yet)."""
    for name, logical_id, template in _resources(synthesized, "AWS::EC2::LaunchTemplate"):
        data = template["Properties"]["LaunchTemplateData"]
        for mapping in data.get("BlockDeviceMappings", []):
            if "Ebs" in mapping:
                assert mapping["Ebs"].get("Encrypted") is True, f"{name}/{logical_id}"


# --- Everything stateful survives `cdk destroy` ------------------------------------------------


def test_every_stateful_resource_is_retained(synthesized: Synthesized) -> None:
    seen = set()
    for resource_type in STATEFUL_TYPES:
        for name, logical_id, resource in _resources(synthesized, resource_type):
            seen.add(resource_type)
            assert resource.get("DeletionPolicy") in ("RetainExceptOnCreate", "Snapshot"), f"{name}/{logical_id}"
            assert resource.get("UpdateReplacePolicy") in ("Retain", "Snapshot"), f"{name}/{logical_id}"
    assert seen == set(STATEFUL_TYPES)


# --- Configuration and construct validation ----------------------------------------------------


def _environment(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data.update(changes)
    return data


def test_default_database_configuration() -> None:
    config = parse_environment(_environment())
    assert config.database.enable_proxy is True
    assert config.database.credential_rotation_days <= 30
    assert config.database.backup_retention_days >= 7


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"database": {"backup_retention_days": 6}}, "database.backup_retention_days"),
        ({"database": {"credential_rotation_days": 31}}, "database.credential_rotation_days"),
        ({"database": {"instance_type": "db.m7g.large"}}, "database.instance_type"),
        (
            {"database": {"allocated_storage_gib": 200, "max_allocated_storage_gib": 100}},
            "max_allocated_storage_gib",
        ),
        ({"database": {"unknown": 1}}, "database.unknown"),
        ({"db_port": 5433}, "RDS Proxy for PostgreSQL listens on 5432"),
        ({"key_administrator_role_arns": ["arn:aws:iam::111111111111:user/alice"]}, "not an IAM role ARN"),
        ({"key_administrator_role_arns": ["arn:aws:iam::222222222222:role/custodian"]}, "account 222222222222"),
    ],
)
def test_bad_data_protection_settings_are_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_environment(_environment(**changes))


def test_a_non_default_port_is_accepted_without_the_proxy() -> None:
    config = parse_environment(_environment(db_port=6543, database={"enable_proxy": False}))
    assert config.db_port == 6543


def _database_options(stack: Stack, **changes: Any) -> dict[str, Any]:
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"])
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc)
    key = kms.Key(stack, "Key")
    options: dict[str, Any] = {
        "vpc": vpc,
        "database_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        "database_security_group": group,
        "client_security_group": group,
        "rotation_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        "endpoint_security_group": group,
        "instance_identifier": "cde-db",
        "port": 5432,
        "storage_key": key,
        "secrets_key": key,
        "log_key": key,
        "log_retention_days": 365,
        "instance_type": "m7g.large",
        "allocated_storage_gib": 100,
        "max_allocated_storage_gib": 200,
        "backup_retention_days": 7,
        "rotation_days": 30,
        "database_name": "cde",
        "enable_proxy": True,
    }
    options.update(changes)
    return options


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rotation_days": 31}, "rotation_days=31"),
        ({"backup_retention_days": 3}, "backup_retention_days=3"),
        ({"instance_identifier": "Bad--Name-"}, "instance_identifier"),
        ({"port": 6543}, "RDS Proxy for PostgreSQL listens on 5432"),
        ({"max_allocated_storage_gib": 50}, "max_allocated_storage_gib"),
    ],
)
def test_encrypted_database_rejects_weak_or_conflicting_options(changes: dict[str, Any], message: str) -> None:
    stack = _small_stack()
    with pytest.raises(ValueError, match=re.escape(message)):
        EncryptedDatabase(stack, "Database", **_database_options(stack, **changes))


def test_data_stack_names_follow_the_landing_zone_convention(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        assert synthesized.zone.regions[region].data.stack_name == stack_name(synthesized.config, "Data", region)


def test_references_flow_one_way_into_the_data_stack(synthesized: Synthesized) -> None:
    """The data stack imports from keys and network; neither imports anything from it."""
    for region in synthesized.config.regions:
        data_name = stack_name(synthesized.config, "Data", region)
        for part in ("Keys", "Network"):
            upstream = json.dumps(synthesized.template(stack_name(synthesized.config, part, region)).to_json())
            assert f"{data_name}:" not in upstream, f"{part} reaches back into {data_name}"
        data = json.dumps(synthesized.template(data_name).to_json())
        for part in ("Keys", "Network"):
            assert f"{stack_name(synthesized.config, part, region)}:Exports" in data


def test_access_log_bucket_refuses_log_delivery_for_other_accounts(synthesized: Synthesized) -> None:
    for region in synthesized.config.regions:
        template = synthesized.template(stack_name(synthesized.config, "Data", region))
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Sid": "DenyLogDeliveryForOtherAccounts",
                                    "Effect": "Deny",
                                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                                    "Action": "s3:PutObject",
                                    "Condition": {"StringNotEquals": {"aws:SourceAccount": synthesized.config.account}},
                                }
                            )
                        ]
                    )
                }
            },
        )
