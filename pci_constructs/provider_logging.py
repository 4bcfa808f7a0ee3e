"""CDK's own custom-resource provider functions: an encrypted, retained log group, active tracing and
no AWS managed policy."""

from __future__ import annotations

from aws_cdk import CfnResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify

# "Visualize Lambda function invocations using AWS X-Ray" (AWS Lambda Developer Guide): what an actively
# traced function's role needs; X-Ray has no resource-level permissions for these actions.
TRACING_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
TRACING_REASON = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions in IAM; an"
    " actively traced function's role must name Resource '*' for them (every other statement names its resource)"
)


def trace_function(function: lambda_.Function, policy: iam.ManagedPolicy) -> None:
    """Active tracing on an L2 function CDK made for itself (an AwsCustomResource singleton), with the
    X-Ray actions in `policy`, the managed policy of the role the function runs as (never an inline
    policy CDK would add to the role). A policy that already allows them is left as it is."""
    cfn = function.node.default_child
    if not isinstance(cfn, lambda_.CfnFunction):
        raise TypeError(f"{function.node.path}: CDK changed its singleton function; review its tracing")
    cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
    if not policy.node.try_find_child("TracingGranted"):
        policy.add_statements(iam.PolicyStatement(actions=list(TRACING_ACTIONS), resources=["*"]))
        Construct(policy, "TracingGranted")  # a marker: the statement is in this policy once


def harden_provider(provider: Construct, *, log_key: kms.IKey, log_retention_days: int) -> EncryptedLogGroup:
    """Give a CDK `CustomResourceProvider` (raw `CfnResource`s: `Handler`, `Role`) its own log group.

    Such providers (the default-SG restriction, `aws_cdk.triggers`) are stack-wide singletons with no
    L2 to configure: they log to an implicit, unencrypted, never-expiring `/aws/lambda/<name>` group,
    and their role carries AWSLambdaBasicExecutionRole. Both are replaced: `LoggingConfig.LogGroup`
    ("Configuring advanced logging controls for Lambda functions", AWS Lambda Developer Guide) names
    a KMS-encrypted group kept `log_retention_days`, and a managed policy (an L2, which cdk-nag reads)
    allows writing to that group only and the X-Ray calls of active tracing (`TracingConfig`).
    Idempotent: a provider already hardened returns its existing group.
    Raises TypeError if CDK changes the provider's shape.
    """
    existing = provider.node.try_find_child("Logs")
    if isinstance(existing, EncryptedLogGroup):
        return existing
    handler, role = provider.node.find_child("Handler"), provider.node.find_child("Role")
    if not isinstance(handler, CfnResource) or not isinstance(role, CfnResource):
        raise TypeError(f"{provider.node.path}: CDK changed its provider; review this hardening")
    logs = EncryptedLogGroup(provider, "Logs", encryption_key=log_key, retention_days=log_retention_days)
    # A Ref to the group: CloudFormation creates the group before the function.
    handler.add_property_override("LoggingConfig", {"LogGroup": logs.log_group.log_group_name})
    handler.add_property_override("TracingConfig", {"Mode": "Active"})
    # The grants as an L2 managed policy (visible to cdk-nag and the rule pack, unlike an inline policy
    # written into the raw role), attached in place of AWSLambdaBasicExecutionRole; the function waits.
    policy = iam.ManagedPolicy(
        provider,
        "OwnLogGroupAndTracing",
        description="CDK provider function: its own log group and X-Ray tracing only",
        statements=[
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[logs.log_group.log_group_arn]
            ),
            iam.PolicyStatement(actions=list(TRACING_ACTIONS), resources=["*"]),
        ],
    )
    role.add_property_override("ManagedPolicyArns", [policy.managed_policy_arn])
    handler.node.add_dependency(policy)
    rendered = policy.node.default_child  # the finding is raised on the CfnManagedPolicy
    assert rendered is not None
    justify(
        provider,
        rendered,
        rule="AwsSolutions-IAM5[Resource::*]",
        reason=TRACING_REASON,
        requirement="PCI DSS v4.0.1 7.2.1",
    )
    return logs
