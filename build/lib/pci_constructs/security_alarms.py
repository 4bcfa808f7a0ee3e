"""Metric filters and alarms on the trail's log group (PCI DSS 10.4.1.1, 10.7.2, 11.5.2).

The patterns follow the CIS AWS Foundations Benchmark monitoring controls,
which cover the critical security-control changes PCI DSS 10.7.2 names.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


@dataclass(frozen=True)
class SecurityEvent:
    name: str
    description: str
    pattern: str


def _any_event(*names: str, source: str | None = None) -> str:
    """A pattern matching any of `names`, optionally only from one event source."""
    any_name = " || ".join(f"($.eventName = {name})" for name in names)
    if source is None:
        return "{ " + any_name + " }"
    return f"{{ ($.eventSource = {source}) && ({any_name}) }}"


SECURITY_EVENTS: tuple[SecurityEvent, ...] = (
    SecurityEvent(
        "RootAccountUsage",
        "The root user made an API call or signed in",
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
    ),
    SecurityEvent(
        "UnauthorizedApiCalls",
        "API calls denied for lack of authorization",
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
    ),
    SecurityEvent(
        "ConsoleSignInWithoutMfa",
        "An IAM user signed in to the console without MFA",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes")'
        ' && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    ),
    SecurityEvent(
        "ConsoleSignInFailures",
        "Failed console sign-ins",
        '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
    ),
    SecurityEvent(
        "IamPolicyChanges",
        "IAM policies were created, changed, attached or detached",
        _any_event(
            "DeleteGroupPolicy",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "SetDefaultPolicyVersion",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        ),
    ),
    SecurityEvent(
        "CloudTrailConfigChanges",
        "A trail was created, changed, deleted, started or stopped",
        _any_event("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging", "PutEventSelectors"),
    ),
    SecurityEvent(
        "KmsKeyDisabledOrScheduledForDeletion",
        "A customer-managed KMS key was disabled or scheduled for deletion",
        _any_event("DisableKey", "ScheduleKeyDeletion", source="kms.amazonaws.com"),
    ),
    SecurityEvent(
        "S3BucketPolicyChanges",
        "A bucket policy, ACL, CORS, lifecycle or replication setting changed",
        _any_event(
            "PutBucketAcl",
            "PutBucketPolicy",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketPolicy",
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketReplication",
            source="s3.amazonaws.com",
        ),
    ),
    SecurityEvent(
        "SecurityGroupChanges",
        "A security group or one of its rules changed",
        _any_event(
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "ModifySecurityGroupRules",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ),
    ),
    SecurityEvent(
        "NetworkAclChanges",
        "A network ACL or one of its entries changed",
        _any_event(
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ),
    ),
    SecurityEvent(
        "NetworkGatewayChanges",
        "An internet, NAT or customer gateway changed",
        _any_event(
            "CreateCustomerGateway",
            "DeleteCustomerGateway",
            "AttachInternetGateway",
            "CreateInternetGateway",
            "DeleteInternetGateway",
            "DetachInternetGateway",
            "CreateNatGateway",
            "DeleteNatGateway",
        ),
    ),
    SecurityEvent(
        "RouteTableChanges",
        "A route table or route changed",
        _any_event(
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "DisassociateRouteTable",
        ),
    ),
    SecurityEvent(
        "VpcChanges",
        "A VPC, its peering or its ClassicLink setting changed",
        _any_event(
            "CreateVpc",
            "DeleteVpc",
            "ModifyVpcAttribute",
            "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection",
            "AttachClassicLinkVpc",
            "DetachClassicLinkVpc",
            "DisableVpcClassicLink",
            "EnableVpcClassicLink",
        ),
    ),
    SecurityEvent(
        "ConfigChanges",
        "AWS Config recording or delivery was stopped or changed",
        _any_event(
            "StopConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutDeliveryChannel",
            "PutConfigurationRecorder",
            source="config.amazonaws.com",
        ),
    ),
)


class SecurityAlarms(Construct):
    """PCI DSS 10.4.1.1 (automated log review), 10.7.2 (failures of critical controls), 11.5.2 (change detection).

    One metric filter and one alarm per security event on the trail's log group;
    every alarm notifies a KMS-encrypted, TLS-only SNS topic with an e-mail
    subscription.
    """

    topic: sns.Topic
    alarms: dict[str, cloudwatch.Alarm]
    metric_filters: dict[str, logs.MetricFilter]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group: logs.ILogGroup,
        topic_key: kms.IKey,
        email: str,
        metric_namespace: str,
        events: tuple[SecurityEvent, ...] = SECURITY_EVENTS,
    ) -> None:
        super().__init__(scope, construct_id)
        if not events:
            raise ValueError("events: at least one security event is required")
        names = [event.name for event in events]
        if len(set(names)) != len(names):
            raise ValueError(f"events: names must be unique, got {names}")
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="PCI landing zone security alerts",
            master_key=topic_key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(email))
        stack = Stack.of(self)
        # The topic policy holds only the TLS deny otherwise; let this account's alarms publish explicitly.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                },
            )
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms, self.metric_filters = {}, {}
        for event in events:
            metric_filter = logs.MetricFilter(
                self,
                f"{event.name}Filter",
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(event.pattern),
                metric_namespace=metric_namespace,
                metric_name=event.name,
                metric_value="1",
                default_value=0,
            )
            alarm = metric_filter.metric(statistic=cloudwatch.Stats.SUM, period=Duration.minutes(5)).create_alarm(
                self,
                f"{event.name}Alarm",
                alarm_description=f"{event.description} (trail log group metric filter)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.metric_filters[event.name] = metric_filter
            self.alarms[event.name] = alarm


class FindingAlerts(Construct):
    """PCI DSS 10.7.2, 11.5.1: new high and critical Security Hub findings (GuardDuty's included) reach people.

    Security Hub in the home region aggregates every configured region, so one
    EventBridge rule here covers them all. Written with the L1 rule so that the
    topic admits EventBridge for this rule only: the L2 SNS target grants
    publishing to every rule of every account.
    """

    rule: events.CfnRule

    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.Topic) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.CfnRule(
            self,
            "Rule",
            description="New HIGH and CRITICAL Security Hub findings to the security alerts topic",
            state="ENABLED",
            event_pattern={
                "source": ["aws.securityhub"],
                "detail-type": ["Security Hub Findings - Imported"],
                "detail": {
                    "findings": {
                        "Severity": {"Label": ["HIGH", "CRITICAL"]},
                        "Workflow": {"Status": ["NEW"]},
                        "RecordState": ["ACTIVE"],
                    }
                },
            },
            targets=[events.CfnRule.TargetProperty(id="SecurityAlertsTopic", arn=topic.topic_arn)],
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSecurityHubFindingRule",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.attr_arn}},
            )
        )
