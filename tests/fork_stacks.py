"""What a fork adds without editing the project: its own stack, named by the `extra_stacks` context key.

`-c extra_stacks=tests.fork_stacks:add_signing` (or `"extra_stacks": "..."` in cdk.json) calls
`add_signing(scope, zone)` for every environment, in that environment's scope. So what the stack
cannot fix it justifies itself, with the fork's own governance (`justify`): an acknowledgment in one
environment file would leave every other environment's gate red (issue #18, fork trial finding 1).
`add_signing_acknowledged_in_env_file` is the same stack without its justification, for a fork with
a single environment that acknowledges it in that file instead. `add_orders` is fork trial r23f's
stack: an SQS queue and a Lambda consuming it in the application subnets, built with
`pci_constructs.vpc_function.VpcFunction`, which carries the role, the log group and its own
acknowledgment and checkov skip, so the fork writes neither.
"""

from __future__ import annotations

from datetime import date

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from pci_constructs.justification import justify
from pci_constructs.key_ring import only_grants_for_aws_resources
from pci_constructs.vpc_function import VpcFunction
from stacks.landing_zone import LandingZone, stack_name

# The fork's governance of what its stack justifies (PCI DSS v4.0.1 12.3.1): its own risk owner,
# never the project's maintainers; the gate refuses a passed review date or one over 12 months ahead.
INLINE_RULES = ("PCI.DSS.321-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy")
INLINE_REASON = (
    "The signer's one statement (kms:Sign on the report-signing key) is CDK's grant, kept inline"
    " on the only role that uses it"
)


class SigningStack(Stack):
    """A report-signing key (asymmetric, so AWS cannot rotate it) and a role that may sign with it.

    `justified=True`: the stack justifies its one finding itself (`justify`, with the fork's
    governance), so it passes the gate in every environment it is built in."""

    def __init__(self, scope: Construct, zone: LandingZone, *, justified: bool) -> None:
        config = zone.config
        super().__init__(
            scope,
            stack_name(config, "Signing", config.home_region),
            env={"account": config.account, "region": config.home_region},
        )
        key = kms.Key(
            self,
            "ReportSigning",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        only_grants_for_aws_resources(key)  # PCI4-KMS-GRANTS-FOR-AWS-RESOURCES: nobody delegates it with a grant
        self.signer = iam.Role(self, "Signer", assumed_by=iam.AccountPrincipal(config.account))
        key.grant(self.signer, "kms:Sign")
        if not justified:
            return
        for rule in INLINE_RULES:
            justify(
                self,
                self.signer.node.find_child("DefaultPolicy"),
                rule=rule,
                reason=INLINE_REASON,
                requirement="PCI DSS v4.0.1 7.2.2",
                risk_owner="acme-reporting",
                approver="acme-ciso",
                ticket="RISK-12",
                review_by=date(2027, 11, 1),
            )


def add_signing(scope: Construct, zone: LandingZone) -> None:
    """The signing stack, self-justified: what a fork names in cdk.json for every environment (the
    default app and every envs/ file, none of which acknowledges its finding)."""
    SigningStack(scope, zone, justified=True)


def add_signing_acknowledged_in_env_file(scope: Construct, zone: LandingZone) -> None:
    """The same stack, unjustified: its one environment file acknowledges the finding."""
    SigningStack(scope, zone, justified=False)


class OrdersStack(Stack):
    """An order queue (with its dead-letter queue) and a Lambda consuming it inside the workload VPC."""

    def __init__(self, scope: Construct, zone: LandingZone) -> None:
        config = zone.config
        region = config.home_region
        super().__init__(scope, stack_name(config, "Orders", region), env={"account": config.account, "region": region})
        home = zone.regions[region]
        key = home.keys.keys.cardholder_data
        network = home.network.network
        dlq = sqs.Queue(
            self,
            "OrdersDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        queue = sqs.Queue(
            self,
            "Orders",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(60),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=dlq),
        )
        group = ec2.SecurityGroup(
            self, "ConsumerSg", vpc=network.vpc, description="Order consumer: no egress", allow_all_outbound=False
        )
        self.consumer = VpcFunction(
            self,
            "Consumer",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return len(event['Records'])\n"),
            handler="index.handler",
            description="Acme order consumer",
            vpc=network.vpc,
            subnets=ec2.SubnetSelection(subnets=network.application_subnets.subnets),
            security_group=group,
            environment_key=key,
            log_key=home.keys.keys.logs,
            log_retention_days=config.log_retention_days,
            reserved_concurrency=5,
            dead_letter_queue=dlq,
            # The role takes no CDK grants (the event source's would be dropped): its data access is here.
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:ChangeMessageVisibility",
                    ],
                    resources=[queue.queue_arn],
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            ],
        )
        self.consumer.function.add_event_source(sources.SqsEventSource(queue, batch_size=10))


def add_orders(scope: Construct, zone: LandingZone) -> None:
    """Fork trial r23f's stack: a queue consumer in the VPC, with nothing acknowledged by the fork."""
    OrdersStack(scope, zone)
