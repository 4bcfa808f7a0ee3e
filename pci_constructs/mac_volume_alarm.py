"""An alarm when the account's KMS `GenerateMac` requests outrun the card vault's tokenizations (issue 19, r19 F2).

The vault's API role may call `kms:GenerateMac` on the keyed-hash keys: one guessed card number per
request, checked through `vault.tokenize_card` (migration 0027; `vault.store_card` before it). The API
itself makes one `GenerateMac` per tokenized card and HMAC key version held (`card_vault.hmac_key_versions`).
Anyone else holding that right (a stolen session of the API role, code running in the function) makes
requests the vault's own metrics never see;
CloudTrail records every one: KMS logs `GenerateMac` as a management event ("GenerateMac", AWS KMS
Developer Guide, "Logging AWS KMS API calls with AWS CloudTrail": `eventSource` kms.amazonaws.com,
`eventName` GenerateMac, `awsRegion`), which the landing zone's multi-region trail delivers to its
CloudWatch Logs group in the home region.

A metric filter on that group ("Filter pattern syntax for metric filters", CloudWatch Logs User Guide)
counts the home region's `GenerateMac` events; an alarm computes
`mac - versions * cards tokenized` over one period from the vault's EMF metric `CardsTokenized`
(every client, dimension `service`) of the same region and alarms when it passes `margin`. Expected
above the margin: the key maintenance function's re-hash job (one `GenerateMac` per re-hashed card) and
idempotent retries during a rotation (one per older version). Not covered: the vault's other regions (a CloudWatch alarm
reads metrics of its own region; the trail's log group is in the home region only).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from pci_constructs.alert_topic import notify
from pci_constructs.card_vault import METRIC_NAMESPACE, SERVICE_NAME, TOKENIZED_METRIC

MAC_METRIC = "KmsGenerateMacRequests"


def generate_mac_pattern(region: str) -> str:
    """The filter pattern of the home region's `GenerateMac` CloudTrail events."""
    return f'{{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "GenerateMac") && ($.awsRegion = "{region}") }}'


class MacVolumeAlarm(Construct):
    """Metric filter on the trail's log group and the GenerateMac-versus-tokenize alarm.

    Raises ValueError for a key version count other than 1 or 2, a margin below 1 or a period outside 1-60
    minutes.
    """

    metric_filter: logs.MetricFilter
    alarm: cloudwatch.Alarm

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group: logs.ILogGroup,
        metric_namespace: str,
        region: str,
        hmac_key_versions: int,
        margin: int,
        period_minutes: int,
        topic: sns.ITopic,
        alarm_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if hmac_key_versions not in (1, 2):
            raise ValueError(f"hmac_key_versions={hmac_key_versions}: 1, or 2 during a rotation")
        if margin < 1:
            raise ValueError(f"margin={margin}: must be at least 1")
        if not 1 <= period_minutes <= 60:
            raise ValueError(f"period_minutes={period_minutes}: must be 1-60")
        period = Duration.minutes(period_minutes)
        self.metric_filter = logs.MetricFilter(
            self,
            "GenerateMacFilter",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(generate_mac_pattern(region)),
            metric_namespace=metric_namespace,
            metric_name=MAC_METRIC,
            metric_value="1",
            default_value=0,
        )
        tokenized = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=TOKENIZED_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic=cloudwatch.Stats.SUM,
            period=period,
        )
        excess = cloudwatch.MathExpression(
            expression=f"FILL(mac, 0) - {hmac_key_versions} * FILL(cards, 0)",
            using_metrics={
                "mac": self.metric_filter.metric(statistic=cloudwatch.Stats.SUM, period=period),
                "cards": tokenized,
            },
            period=period,
            label="GenerateMac requests beyond the vault's tokenizations",
        )
        self.alarm = excess.create_alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"More than {margin} KMS GenerateMac requests in {period_minutes} minutes in {region} beyond"
                f" {hmac_key_versions} per card the vault tokenized: a search of card numbers with the API"
                " role's keyed-hash right outside the vault's code, or a re-hash job (issue 19 r19 F2;"
                " PCI DSS v4.0.1 3.5.1.1, 10.4.1.1)"
            ),
            threshold=margin,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify(self.alarm, topic)
