"""A region's own alerts topic for alarms outside the home region (PCI DSS v4.0.1 10.4.1.1, 10.7.2).

CloudWatch alarms notify an SNS topic of their own region; the security alerts topic lives in the
home region (`SecurityAlarms`), so a workload's alarms in another region notify this topic: the
same KMS-encrypted, TLS-only shape and the same e-mail subscription.
"""

from __future__ import annotations

from aws_cdk import Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from pci_constructs.permissions_boundary import PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE


class RegionalAlertTopic(Construct):
    topic: sns.Topic

    def __init__(
        self, scope: Construct, construct_id: str, *, topic_key: kms.IKey, email: str, display_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        if "@" not in email:
            raise ValueError(f"email={email!r}: not an e-mail address")
        self.topic = alarm_topic(self, "Topic", topic_key=topic_key, email=email, display_name=display_name)


def alarm_topic(
    scope: Construct, construct_id: str, *, topic_key: kms.IKey, email: str, display_name: str
) -> sns.Topic:
    """An SNS topic for CloudWatch alarms: KMS-encrypted with `topic_key`, TLS only, one e-mail subscription,
    and a topic policy letting only this account's alarms of this region publish (CloudWatch "Confused deputy
    prevention": aws:SourceAccount and aws:SourceArn), tagged `pci-lz:protected=true` for the permissions
    boundary. Created as `construct_id` directly under `scope`, so
    the security alarms' topic keeps its logical ID."""
    topic = sns.Topic(scope, construct_id, display_name=display_name, master_key=topic_key, enforce_ssl=True)
    # The permissions boundary denies deleting, re-keying or re-permissioning a topic with this tag (the
    # topic's name is generated: a fixed name would replace it and make every subscriber confirm again).
    Tags.of(topic).add(PROTECTED_TAG_KEY, PROTECTED_TAG_VALUE)
    topic.add_subscription(subscriptions.EmailSubscription(email))
    stack = Stack.of(scope)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarms",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                },
            },
        )
    )
    return topic


def notify(alarm: cloudwatch.Alarm, topic: sns.ITopic) -> None:
    """Make `alarm` publish to `topic` (an SNS topic of the alarm's own region) when it enters ALARM and when it
    enters INSUFFICIENT_DATA (PCI DSS v4.0.1 10.4.1.1, 10.7.2).

    The INSUFFICIENT_DATA action is what AWS Config cloudwatch-alarm-action-check asks by default
    (insufficientDataActionRequired true; okActionRequired false: no OK action is added), and what the rule pack's
    PCI4-ALARM-ACTIONS checks. It changes no alarm's state: the alarm's TreatMissingData still decides how
    missing data points are read (AWS CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing
    data"); with notBreaching or breaching, as every alarm of this repository, a period without data keeps the
    alarm in OK or ALARM, so the INSUFFICIENT_DATA action fires only when CloudWatch cannot evaluate the alarm (its
    metric unavailable). The topic policy of `alarm_topic` already lets this account's alarms publish."""
    action = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_insufficient_data_action(action)
