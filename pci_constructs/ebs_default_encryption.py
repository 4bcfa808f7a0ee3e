"""Account-level EBS encryption by default, with the region's customer-managed EBS key (PCI DSS 3.5.1).

CloudFormation has no resource for this regional account setting, so two AWS SDK calls run
at deploy time (never at synth): `EnableEbsEncryptionByDefault` and `ModifyEbsDefaultKmsKeyId`.
Every volume and snapshot copy created afterwards in the region is encrypted, whoever creates it.
Deleting the stack leaves the setting on: turning encryption off is never an automatic step.

`role_name` fixes the name of the calls' role. The landing zone passes
`pci_constructs.permissions_boundary.ebs_guard_role_name` (`pci-lz-<env>-account-guards-ebs-<region>`),
the only role its permissions boundary lets modify, reset or disable these settings.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.provider_logging import trace_function

# Construct ID of the function every AwsCustomResource of a stack shares (aws-cdk-lib custom_resources).
SINGLETON_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"


def singleton_waits_for(scope: Construct, policy: iam.ManagedPolicy) -> None:
    """CDK's AwsCustomResource singleton function (one per stack) names the calls' role too: make it
    wait for the role's separately attached policy, or it may be created before it can act."""
    function = Stack.of(scope).node.try_find_child(SINGLETON_FUNCTION_ID)
    assert function is not None, "AwsCustomResource creates its singleton function at stack level"
    function.node.add_dependency(policy)
    if not isinstance(function, lambda_.Function):
        raise TypeError(f"{function.node.path}: CDK changed the AwsCustomResource singleton; review its tracing")
    trace_function(function, policy)  # the role the singleton runs as is the one `policy` is attached to


# These EC2 actions act on an account setting: IAM knows no resource type for them.
EBS_DEFAULT_ACTIONS = (
    "ec2:EnableEbsEncryptionByDefault",
    "ec2:GetEbsEncryptionByDefault",
    "ec2:GetEbsDefaultKmsKeyId",
    "ec2:ModifyEbsDefaultKmsKeyId",
)


class EbsDefaultEncryption(Construct):
    """Turns on EBS encryption by default in this stack's region (PCI DSS v4.0.1 3.5.1).

    Least privilege: the function's role may change only the EBS default settings, in this
    region, describe only the given key, and write only to its own encrypted log group.
    """

    enable: cr.AwsCustomResource
    default_key: cr.AwsCustomResource
    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: EncryptedLogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = EncryptedLogGroup(
            self, "FunctionLogs", encryption_key=log_key, retention_days=log_retention_days
        )
        self.role = iam.Role(
            self,
            "FunctionRole",
            role_name=role_name,
            description="Sets EBS encryption by default and its KMS key in this region",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "FunctionPolicy",
            description="EBS default-encryption settings of this region, and the function's own log group",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=list(EBS_DEFAULT_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": stack.region}},
                ),
                iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[encryption_key.key_arn]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group.log_group_arn],
                ),
            ],
        )

        def sdk_call(action: str, parameters: dict[str, str] | None = None) -> cr.AwsSdkCall:
            return cr.AwsSdkCall(
                service="EC2",
                action=action,
                parameters=parameters,
                physical_resource_id=cr.PhysicalResourceId.of(f"{action}-{stack.region}"),
            )

        def setting(construct_id: str, call: cr.AwsSdkCall) -> cr.AwsCustomResource:
            # Both share CDK's singleton function, so both name the same role and log group.
            resource = cr.AwsCustomResource(
                self,
                construct_id,
                on_create=call,
                on_update=call,
                role=self.role,
                log_group=self.log_group.log_group,
                install_latest_aws_sdk=False,
            )
            resource.node.add_dependency(self.policy)  # the call waits for its permissions
            return resource

        self.enable = setting("EnableByDefault", sdk_call("enableEbsEncryptionByDefault"))
        self.default_key = setting(
            "DefaultKey", sdk_call("modifyEbsDefaultKmsKeyId", {"KmsKeyId": encryption_key.key_arn})
        )
        self.default_key.node.add_dependency(self.enable)
        singleton_waits_for(self, self.policy)
