"""A Lambda function in a VPC with the role, log group and acknowledgments a CDE function needs.

`VpcFunction` is what the card vault's functions are built from, made public for a fork's own
stack: the project's pinned Python runtime, the function in the subnets and security group it is
given, its environment encrypted under the caller's key, an `EncryptedLogGroup` (customer key,
retained, card numbers masked), X-Ray tracing, reserved concurrency and a dead-letter queue, and a
role that has every permission in customer-managed policies the function waits for (no AWS managed
policy, no inline default policy):

- `network_policy` holds only what every VPC function needs and IAM cannot scope: the network-interface
  actions and X-Ray's two write actions, `Resource: *`. The construct carries the acknowledgment of
  that finding (cdk-nag's AwsSolutions-IAM5, through `justify`) and the checkov CKV_AWS_111 skip, on
  that policy resource only, so the gate and checkov pass wherever the construct is used.
- `policy` holds the log group, the environment key, the dead-letter queue and the caller's own
  `statements`; nothing acknowledges anything on it, so a `*` the caller adds there is a finding.

CDK's grants (`queue.grant_consume_messages(fn.function)`, an event source's) go to the function's
role, which is `without_policy_updates()`: they are dropped. Pass what the function needs as
`statements`, or add it later with `fn.policy.add_statements(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify

# The project's Python runtime (the card vault's functions run on the same one).
RUNTIME = lambda_.Runtime.PYTHON_3_14

# "Giving Lambda functions access to resources in an Amazon VPC" (AWS Lambda Developer Guide,
# configuration-vpc) and the AWS managed policy AWSLambdaVPCAccessExecutionRole: Lambda creates and
# deletes the function's network interfaces with the execution role; DescribeNetworkInterfaces works
# only on "Resource": "*".
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# "Visualize Lambda function invocations using AWS X-Ray" (AWS Lambda Developer Guide, services-xray)
# and AWSXRayDaemonWriteAccess: PutTraceSegments and PutTelemetryRecords have no resource type.
TRACING_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

NETWORK_POLICY_REASON = (
    "this policy holds only the Lambda VPC network-interface actions (create, describe, delete, assign and"
    " unassign addresses) and X-Ray's PutTraceSegments/PutTelemetryRecords, which IAM does not scope to"
    " resources; the function's data access is in its other policy, which names its resources"
)
NETWORK_POLICY_REQUIREMENT = "PCI DSS v4.0.1 7.2.1, 7.2.2"
NO_DLQ_FINDINGS = ("NIST.800.53.R5-LambdaDLQ",)
_CHECKOV = "checkov"
_MEMORY_MB = 512


def _add_checkov_skip(resource: CfnResource, check: str, comment: str) -> None:
    existing = resource.get_metadata(_CHECKOV) or {}
    skips = [*existing.get("skip", []), {"id": check, "comment": comment}]
    resource.add_metadata(_CHECKOV, {**existing, "skip": skips})


class VpcFunction(Construct):
    """A Lambda function in the given subnets with a compliant role; see the module docstring.

    Attributes: `function` (the `lambda_.Function`), `role` (its `iam.Role`), `policy` and
    `network_policy` (its two `iam.ManagedPolicy`), `log_group` (the `EncryptedLogGroup`; its
    `logs.LogGroup` is `log_group.log_group`).
    """

    function: lambda_.Function
    role: iam.Role
    policy: iam.ManagedPolicy
    network_policy: iam.ManagedPolicy
    log_group: EncryptedLogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        environment_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int,
        reserved_concurrency: int,
        dead_letter_queue: sqs.IQueue | None,
        no_dead_letter_queue_reason: str | None = None,
        statements: Sequence[iam.PolicyStatement] = (),
        environment: Mapping[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = _MEMORY_MB,
        tracing: bool = True,
        mask_card_numbers: bool = True,
    ) -> None:
        """`dead_letter_queue`: the queue for failed asynchronous invocations, or None with
        `no_dead_letter_queue_reason` (a synchronously invoked function, say: the caller gets the error);
        `reserved_concurrency`: at least 1 (a ceiling on blast radius and on connections downstream);
        `statements`: the function's own data access, each naming its resources."""
        super().__init__(scope, construct_id)
        if reserved_concurrency < 1:
            raise ValueError(f"reserved_concurrency={reserved_concurrency}: must be at least 1")
        if (dead_letter_queue is None) == (no_dead_letter_queue_reason is None):
            raise ValueError("give exactly one of dead_letter_queue and no_dead_letter_queue_reason")
        self.log_group = EncryptedLogGroup(
            self,
            "Logs",
            encryption_key=log_key,
            retention_days=log_retention_days,
            mask_card_numbers=mask_card_numbers,
        )
        self.role = iam.Role(
            self, "Role", description=description, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        network_statements = [iam.PolicyStatement(actions=list(NETWORK_INTERFACE_ACTIONS), resources=["*"])]
        if tracing:
            network_statements.append(iam.PolicyStatement(actions=list(TRACING_ACTIONS), resources=["*"]))
        self.network_policy = iam.ManagedPolicy(
            self,
            "NetworkPolicy",
            description="Lambda VPC network interfaces and X-Ray writes (IAM scopes neither to resources)",
            roles=[self.role],
            statements=network_statements,
        )
        network_resource = cast(CfnResource, self.network_policy.node.default_child)
        justify(
            self,
            network_resource,
            rule="AwsSolutions-IAM5[Resource::*]",
            reason=NETWORK_POLICY_REASON,
            requirement=NETWORK_POLICY_REQUIREMENT,
        )
        _add_checkov_skip(network_resource, "CKV_AWS_111", f"{NETWORK_POLICY_REASON} [{NETWORK_POLICY_REQUIREMENT}]")
        own = [
            # "Sending Lambda function logs to CloudWatch Logs": the execution role writes the log streams.
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group.log_group_arn],
            ),
            # "Securing Lambda environment variables": with a customer managed key, Lambda decrypts the
            # environment with the execution role's kms:Decrypt.
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[environment_key.key_arn]),
        ]
        if dead_letter_queue is not None:
            # "Adding a dead-letter queue" (AWS Lambda Developer Guide, invocation-async-retain-records):
            # Lambda sends the failed event with the execution role's sqs:SendMessage.
            own.append(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]))
            queue_key = dead_letter_queue.encryption_master_key
            if queue_key is not None:
                # "Key management" (Amazon SQS Developer Guide, sqs-key-management): a producer of an
                # SSE-KMS queue needs kms:GenerateDataKey and kms:Decrypt on the queue's key.
                own.append(
                    iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[queue_key.key_arn])
                )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"{description}: its log group, environment key and own data access",
            roles=[self.role],
            statements=[*own, *statements],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=code,
            description=description,
            # Never the event in a log, never a response or an exception in a trace (card data).
            environment={
                **(environment or {}),
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
            },
            environment_encryption=environment_key,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            allow_public_subnet=False,
            timeout=timeout or Duration.seconds(30),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            log_group=self.log_group.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=self.role.without_policy_updates(),
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=dead_letter_queue,
        )
        # The function is created only once its role can create network interfaces and write logs.
        self.function.node.add_dependency(self.network_policy, self.policy)
        if no_dead_letter_queue_reason is not None:
            for rule in NO_DLQ_FINDINGS:
                justify(
                    self,
                    self.function,
                    rule=rule,
                    reason=no_dead_letter_queue_reason,
                    requirement="PCI DSS v4.0.1 10.7.2",
                )
            function_resource = cast(CfnResource, self.function.node.default_child)
            _add_checkov_skip(function_resource, "CKV_AWS_116", no_dead_letter_queue_reason)
