"""Account-level guards (PCI DSS 1.3, 1.4, 2.2, 3.5, 8.3) and IAM Access Analyzer (7.2.4, 1.3.1).

Native CloudFormation resources where one exists:

- `AWS::EC2::SnapshotBlockPublicAccess` (`block-all-sharing`): no EBS snapshot can be public.
- `AWS::SSM::ServiceSetting` `/ssm/documents/console/public-sharing-permission` = `Disable`.
- `AWS::AccessAnalyzer::Analyzer` (external access per region; unused access once, home region).

Deploy-time AWS SDK calls (`AwsCustomResource`) where CloudFormation has none, each with only
the IAM action it calls (the actions act on an account setting and have no resource type in the
Service Authorization Reference, so `Resource: "*"`, pinned to the stack's region where the
setting is regional):

- `iam:UpdateAccountPasswordPolicy` (global; "Setting an account password policy for IAM users").
- `s3:PutAccountPublicAccessBlock` through S3 Control `PutPublicAccessBlock` (account-wide, every
  region; "Blocking public access to your Amazon S3 storage").
- `ec2:EnableImageBlockPublicAccess` (`block-new-sharing`, regional; "Block public access to your AMIs").
- `ec2:ModifyInstanceMetadataDefaults` (IMDSv2 required, regional; "Configure instance metadata
  options for new instances").

Nothing is switched off when a stack is deleted: loosening a guard is never an automatic step.
The calls run under a role named `pci-lz-<env>-account-guards-<scope>`, the only roles the
permissions boundary lets change these settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_accessanalyzer as accessanalyzer
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from pci_constructs.ebs_default_encryption import singleton_waits_for
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.permissions_boundary import guard_role_name
from pci_constructs.retention import retain

SSM_PUBLIC_SHARING_SETTING = "/ssm/documents/console/public-sharing-permission"
# Two hops let containers on an instance reach IMDSv2 (AWS's recommendation for container hosts).
IMDS_HOP_LIMIT = 2
# Passwords IAM remembers: Security Hub IAM.16 (PCI DSS v4.0.1 standard, requirement 8.3.7) fails any value but 24,
# which is also the most IAM accepts ("Security Hub CSPM controls for IAM", iam-controls.html#iam-16).
REUSE_PREVENTION = 24


class _GuardCalls(Construct):
    """A named role, its managed policy and encrypted log group, and the SDK calls made with them."""

    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: EncryptedLogGroup
    calls: dict[str, cr.AwsCustomResource]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        statements: Sequence[iam.PolicyStatement],
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = EncryptedLogGroup(self, "Logs", encryption_key=log_key, retention_days=log_retention_days)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Sets account-level guards at deploy time (PCI landing zone)",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Only the account-level settings this stack sets, and the function's own log group",
            roles=[self.role],
            statements=[
                *statements,
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group.log_group_arn],
                ),
            ],
        )
        self.calls = {}

    def call(self, construct_id: str, *, service: str, action: str, parameters: Mapping[str, Any]) -> None:
        region = Stack.of(self).region
        sdk_call = cr.AwsSdkCall(
            service=service,
            action=action,
            parameters=dict(parameters),
            physical_resource_id=cr.PhysicalResourceId.of(f"{action}-{region}"),
        )
        resource = cr.AwsCustomResource(
            self,
            construct_id,
            on_create=sdk_call,
            on_update=sdk_call,
            role=self.role,
            log_group=self.log_group.log_group,
            install_latest_aws_sdk=False,
        )
        resource.node.add_dependency(self.policy)  # the call waits for its permissions
        singleton_waits_for(self, self.policy)
        self.calls[construct_id] = resource


class GlobalAccountGuards(Construct):
    """Home region, once per account: the IAM password policy and S3 Block Public Access for the account.

    Password policy (PCI DSS 8.3.6 length >= 12 with letters and digits, 8.3.7 no reuse of the last
    24 (Security Hub IAM.16 fails any value but 24; PCI DSS itself asks 4), 8.3.9 change within 90
    days): `min_length`, `reuse_prevention`, `max_age_days`; upper- and
    lower-case letters, digits and symbols all required; users may change their own password.
    """

    guards: _GuardCalls
    password_policy: dict[str, Any]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        min_length: int,
        reuse_prevention: int,
        max_age_days: int,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if min_length < 12 or reuse_prevention != REUSE_PREVENTION or not 1 <= max_age_days <= 90:
            raise ValueError(
                "password policy below PCI DSS 8.3.6/8.3.7/8.3.9 and Security Hub IAM.16: min_length >= 12,"
                f" reuse_prevention {REUSE_PREVENTION}, max_age_days 1..90"
            )
        account = Stack.of(self).account
        self.guards = _GuardCalls(
            self,
            "Calls",
            role_name=guard_role_name(environment, "global"),
            statements=[
                # IAM and S3 Control: these actions have no resource type, so "*" is all IAM accepts.
                iam.PolicyStatement(
                    actions=["iam:UpdateAccountPasswordPolicy", "s3:PutAccountPublicAccessBlock"],
                    resources=["*"],
                )
            ],
            log_key=log_key,
            log_retention_days=log_retention_days,
        )
        self.password_policy = {
            "MinimumPasswordLength": min_length,
            "RequireSymbols": True,
            "RequireNumbers": True,
            "RequireUppercaseCharacters": True,
            "RequireLowercaseCharacters": True,
            "AllowUsersToChangePassword": True,
            "MaxPasswordAge": max_age_days,
            "PasswordReusePrevention": reuse_prevention,
            "HardExpiry": False,
        }
        self.guards.call(
            "PasswordPolicy", service="IAM", action="updateAccountPasswordPolicy", parameters=self.password_policy
        )
        self.guards.call(
            "S3AccountPublicAccessBlock",
            service="S3Control",
            action="putPublicAccessBlock",
            parameters={
                "AccountId": account,
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            },
        )


class RegionalAccountGuards(Construct):
    """One region's guards: snapshot and AMI public-access blocks, IMDSv2 by default, SSM documents private."""

    snapshot_block_public_access: ec2.CfnSnapshotBlockPublicAccess
    ssm_document_sharing: ssm.CfnServiceSetting
    guards: _GuardCalls

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.snapshot_block_public_access = ec2.CfnSnapshotBlockPublicAccess(
            self, "SnapshotBlockPublicAccess", state="block-all-sharing"
        )
        self.ssm_document_sharing = ssm.CfnServiceSetting(
            self, "SsmDocumentPublicSharing", setting_id=SSM_PUBLIC_SHARING_SETTING, setting_value="Disable"
        )
        # Deleting either resource would switch its guard off; deleting the stack must loosen nothing.
        retain(self.snapshot_block_public_access, self.ssm_document_sharing)
        self.guards = _GuardCalls(
            self,
            "Calls",
            role_name=guard_role_name(environment, region),
            statements=[
                iam.PolicyStatement(
                    actions=["ec2:EnableImageBlockPublicAccess", "ec2:ModifyInstanceMetadataDefaults"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": region}},
                )
            ],
            log_key=log_key,
            log_retention_days=log_retention_days,
        )
        self.guards.call(
            "ImageBlockPublicAccess",
            service="EC2",
            action="enableImageBlockPublicAccess",
            parameters={"ImageBlockPublicAccessState": "block-new-sharing"},
        )
        self.guards.call(
            "InstanceMetadataDefaults",
            service="EC2",
            action="modifyInstanceMetadataDefaults",
            parameters={"HttpTokens": "required", "HttpPutResponseHopLimit": IMDS_HOP_LIMIT, "HttpEndpoint": "enabled"},
        )


class AccessAnalyzers(Construct):
    """IAM Access Analyzer: external access in this region; unused access when asked (home region only).

    Findings go to Security Hub, which the landing zone already alerts on (HIGH/CRITICAL).
    """

    external_access: accessanalyzer.CfnAnalyzer
    unused_access: accessanalyzer.CfnAnalyzer | None

    def __init__(
        self, scope: Construct, construct_id: str, *, environment: str, unused_access_age_days: int | None
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.external_access = accessanalyzer.CfnAnalyzer(
            self, "ExternalAccess", type="ACCOUNT", analyzer_name=f"pci-lz-{environment}-external-{region}"
        )
        self.unused_access = None
        if unused_access_age_days is not None:
            self.unused_access = accessanalyzer.CfnAnalyzer(
                self,
                "UnusedAccess",
                type="ACCOUNT_UNUSED_ACCESS",
                analyzer_name=f"pci-lz-{environment}-unused-access",
                analyzer_configuration=accessanalyzer.CfnAnalyzer.AnalyzerConfigurationProperty(
                    unused_access_configuration=accessanalyzer.CfnAnalyzer.UnusedAccessConfigurationProperty(
                        unused_access_age=unused_access_age_days
                    )
                ),
            )
