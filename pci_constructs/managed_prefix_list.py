"""The ID of an AWS-managed prefix list, looked up at deploy time (never at synth): PCI DSS v4.0.1 1.3.1, 1.3.2.

A security-group rule names a CIDR, a prefix list or a group ("AWS::EC2::SecurityGroupEgress",
CloudFormation Template Reference). A function in a subnet routed to the S3 gateway endpoint reaches
Amazon S3 only if its group lets traffic out to S3 ("Gateway endpoints for Amazon S3", Amazon VPC
AWS PrivateLink Guide: "You can reference the ID of the prefix list for Amazon S3 in security group
rules"); the list's ID (`pl-...`) differs per region and account partition, and no CloudFormation
resource attribute gives it (`AWS::EC2::VPCEndpoint` returns no prefix list). A synth-time lookup would
call AWS, so the ID comes from one EC2 call at deploy time, through CDK's `AwsCustomResource`:
`DescribeManagedPrefixLists` with the filter `prefix-list-name` ("DescribeManagedPrefixLists", Amazon EC2
API Reference: filters `owner-id`, `prefix-list-id`, `prefix-list-name`; the response's `PrefixLists` are
`ManagedPrefixList` items with `PrefixListId`). The S3 list is named `com.amazonaws.<region>.s3`
("AWS-managed prefix lists", Amazon VPC User Guide: available AWS-managed prefix lists). A name that
matches no list leaves `PrefixLists` empty: the attribute `PrefixLists.0.PrefixListId` is then absent from
the custom resource's response and CloudFormation fails the rule that reads it ("Vendor response doesn't
contain ... key"), so a wrong name fails the deploy and never yields an empty rule.

Least privilege: the call's role may only describe prefix lists (`ec2:DescribeManagedPrefixLists`, a
Describe action that takes no resource in its request, "DescribeManagedPrefixLists", Amazon EC2 API
Reference, so the statement names `*`, held to this region with `aws:RequestedRegion`), write to its own
encrypted log group and send its X-Ray traces. The findings CDK's shared SDK-call function raises are
justified here (`_SDK_FUNCTION_REASONS`).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from pci_constructs.ebs_default_encryption import SINGLETON_FUNCTION_ID, singleton_waits_for
from pci_constructs.encrypted_log_group import EncryptedLogGroup
from pci_constructs.justification import justify
from pci_constructs.provider_logging import TRACING_REASON

DESCRIBE_ACTION = "ec2:DescribeManagedPrefixLists"
PREFIX_LIST_ID_PATH = "PrefixLists.0.PrefixListId"
DESCRIBE_REASON = (
    "EC2's DescribeManagedPrefixLists is a Describe action whose request names no resource (Amazon EC2 API"
    " Reference), so its statement names Resource '*', held to this region by aws:RequestedRegion; it only"
    " reads the ID of an AWS-managed prefix list"
)
_SDK_FUNCTION_REASONS = (
    (
        ("PCI4-LAMBDA-IN-VPC", "PCI.DSS.321-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC"),
        "CDK's deploy-time SDK-call function answers CloudFormation through a pre-signed S3 URL in AWS's own"
        " account, which the VPC's S3 gateway endpoint (this account's principals only) refuses; it only reads"
        " an AWS-managed prefix list's ID (EC2 DescribeManagedPrefixLists), holds no cardholder data, logs to its"
        " own encrypted group",
        "PCI DSS v4.0.1 1.3.1",
    ),
    (
        ("NIST.800.53.R5-LambdaConcurrency",),
        "CDK's deploy-time SDK-call function runs once per create or update of the lookup; reserving"
        " concurrency for it would fail in accounts whose unreserved pool may not drop below 100",
        "PCI DSS v4.0.1 2.2.1",
    ),
    (
        ("NIST.800.53.R5-LambdaDLQ",),
        "CloudFormation invokes CDK's SDK-call function synchronously; a failed DescribeManagedPrefixLists fails"
        " and rolls back the deployment, so a dead-letter queue would never receive anything",
        "PCI DSS v4.0.1 2.2.1",
    ),
)


def s3_prefix_list_name(region: str) -> str:
    """`com.amazonaws.<region>.s3`, the AWS-managed prefix list of Amazon S3 in `region`."""
    return f"com.amazonaws.{region}.s3"


class ManagedPrefixListLookup(Construct):
    """`prefix_list_id`: a deploy-time token, the ID of the AWS-managed prefix list named `prefix_list_name`
    in this stack's region (for `ec2.Peer.prefix_list`).

    Raises TypeError when the stack already has CDK's AwsCustomResource singleton function: it would run
    this call as another construct's role (the singleton takes the role of the first AwsCustomResource of
    its stack), so the permissions written here would not be the ones in force.
    """

    role: iam.Role
    policy: iam.ManagedPolicy
    log_group: EncryptedLogGroup
    lookup: cr.AwsCustomResource
    prefix_list_id: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix_list_name: str,
        log_key: kms.IKey,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if stack.node.try_find_child(SINGLETON_FUNCTION_ID) is not None:
            raise TypeError(
                f"{stack.stack_name} already has CDK's AwsCustomResource function: it would make this lookup with"
                " another construct's role; put the lookup in a stack of its own"
            )
        self.log_group = EncryptedLogGroup(self, "Logs", encryption_key=log_key, retention_days=log_retention_days)
        self.role = iam.Role(
            self,
            "Role",
            description=f"Reads the ID of the AWS-managed prefix list {prefix_list_name} (PCI landing zone)",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Describe AWS-managed prefix lists in this region, and the function's own log group",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=[DESCRIBE_ACTION],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": stack.region}},
                ),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group.log_group_arn],
                ),
            ],
        )
        describe = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [prefix_list_name]}]},
            # Only the one field: a custom resource's response is limited to 4 KB (CDK AwsSdkCall outputPaths).
            output_paths=[PREFIX_LIST_ID_PATH],
            physical_resource_id=cr.PhysicalResourceId.of(prefix_list_name),
        )
        self.lookup = cr.AwsCustomResource(
            self,
            "Lookup",
            on_create=describe,
            on_update=describe,
            role=self.role,
            log_group=self.log_group.log_group,
            install_latest_aws_sdk=False,
        )
        self.lookup.node.add_dependency(self.policy)  # the call waits for its permissions
        singleton_waits_for(self, self.policy)  # also traces the singleton: X-Ray's statement names "*"
        self.prefix_list_id = self.lookup.get_response_field(PREFIX_LIST_ID_PATH)
        rendered = self.policy.node.default_child
        assert rendered is not None
        justify(
            self,
            rendered,
            rule="AwsSolutions-IAM5[Resource::*]",
            reason=f"{DESCRIBE_REASON}; {TRACING_REASON}",
            requirement="PCI DSS v4.0.1 7.2.1",
        )
        function = stack.node.try_find_child(SINGLETON_FUNCTION_ID)
        function_resource = function.node.default_child if function is not None else None
        assert function_resource is not None, "AwsCustomResource creates its singleton function at stack level"
        for rules, reason, requirement in _SDK_FUNCTION_REASONS:
            for rule in rules:
                justify(self, function_resource, rule=rule, reason=reason, requirement=requirement)
