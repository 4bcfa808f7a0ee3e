"""Metric filters and alarms on the trail's log group (PCI DSS 10.4.1.1, 10.7.2, 11.5.2).

The patterns follow the CIS AWS Foundations Benchmark monitoring controls,
which cover the critical security-control changes PCI DSS 10.7.2 names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from pci_constructs.alert_topic import alarm_topic, notify
from pci_constructs.permissions_boundary import PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE


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
    subscription. `alarm_name_prefix` names each alarm `<prefix><event name>` (a permissions
    boundary can then protect them by name); without it CloudFormation generates the names.
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
        alarm_name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not events:
            raise ValueError("events: at least one security event is required")
        names = [event.name for event in events]
        if len(set(names)) != len(names):
            raise ValueError(f"events: names must be unique, got {names}")
        self.topic = alarm_topic(
            self, "Topic", topic_key=topic_key, email=email, display_name="PCI landing zone security alerts"
        )
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
                alarm_name=None if alarm_name_prefix is None else f"{alarm_name_prefix}{event.name}",
                alarm_description=f"{event.description} (trail log group metric filter)",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            notify(alarm, self.topic)
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
        self.rule = rule_to_topic(
            self,
            description="New HIGH and CRITICAL Security Hub findings to the security alerts topic",
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
            topic=topic,
            sid="AllowSecurityHubFindingRule",
        )


def rule_to_topic(
    scope: Construct, *, description: str, event_pattern: dict[str, Any], topic: sns.Topic, sid: str
) -> events.CfnRule:
    """An EventBridge rule ("Rule" under `scope`) targeting `topic`, which admits this rule only (aws:SourceArn),
    tagged `pci-lz:protected=true` for the permissions boundary."""
    rule = events.CfnRule(
        scope,
        "Rule",
        description=description,
        state="ENABLED",
        event_pattern=event_pattern,
        targets=[events.CfnRule.TargetProperty(id="SecurityAlertsTopic", arn=topic.topic_arn)],
    )
    # The permissions boundary denies deleting, disabling or retargeting a rule with this tag.
    Tags.of(rule).add(PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    # EventBridge "Using resource-based policies for Amazon EventBridge" (Amazon SNS permissions): the
    # topic policy may name the rule in aws:SourceArn. Not so the key policy: see KeyRing.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
        )
    )
    return rule


def break_glass_event(role_arn: str) -> SecurityEvent:
    """Any assumption of, or call made with, the break-glass role (PCI DSS 8.2.2, 8.6.1, 10.2.1.2).

    The multi-region trail delivers every region's STS and API events to one log group, so one
    metric filter sees the role assumed through any regional STS endpoint. The assume-role event
    names the role in `requestParameters.roleArn` (in the role's account, also for cross-account
    callers); calls made with its session carry it in `userIdentity.sessionContext.sessionIssuer.arn`.
    """
    return SecurityEvent(
        "BreakGlassRoleUsed",
        "The break-glass role was assumed or used",
        f'{{ ($.requestParameters.roleArn = "{role_arn}")'
        f' || ($.userIdentity.sessionContext.sessionIssuer.arn = "{role_arn}") }}',
    )


class ComplianceChangeAlerts(Construct):
    """PCI DSS 8.3.6, 10.7.2: AWS Config rules turning NON_COMPLIANT reach the alerts topic.

    `rule_name_prefixes`: the Config rule names to watch (a conformance pack appends a suffix to
    each of its rules' names, so they are matched by prefix). EventBridge receives "Config Rules
    Compliance Change" events in the region that evaluated the rule ("Monitoring AWS Config with
    Amazon EventBridge"). Like FindingAlerts, the topic admits this rule only (aws:SourceArn).
    """

    rule: events.CfnRule

    def __init__(
        self, scope: Construct, construct_id: str, *, topic: sns.Topic, rule_name_prefixes: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        if not rule_name_prefixes:
            raise ValueError("rule_name_prefixes: name at least one Config rule prefix")
        self.rule = rule_to_topic(
            self,
            description="Watched AWS Config rules turning NON_COMPLIANT, to the security alerts topic",
            event_pattern={
                "source": ["aws.config"],
                "detail-type": ["Config Rules Compliance Change"],
                "detail": {
                    "configRuleName": [{"prefix": prefix} for prefix in rule_name_prefixes],
                    "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
                },
            },
            topic=topic,
            sid="AllowConfigComplianceRule",
        )
