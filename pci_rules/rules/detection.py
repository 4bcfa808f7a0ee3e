"""Detective controls and alerting (PCI DSS v4.0.1 10.4.1.1, 10.7.2, 11.5.1, 11.5.2)."""

from collections.abc import Iterator

from pci_rules.model import TemplateModel
from pci_rules.rule import Check, rule
from pci_rules.rules._common import as_list, is_customer_key, is_false, is_true, statements


@rule(
    id="PCI4-GUARDDUTY-ENABLED",
    requirements=("11.5.1",),
    description="Every GuardDuty detector is enabled.",
    fix="Set Enable: true on the AWS::GuardDuty::Detector.",
)
def guardduty_enabled(model: TemplateModel) -> Iterator[Check]:
    for detector in model.resources("AWS::GuardDuty::Detector"):
        on = is_true(detector.prop("Enable"))
        yield Check(detector, on, "" if on else "Enable is not true")


@rule(
    id="PCI4-CONFIG-ALL-RESOURCES",
    requirements=("11.5.2", "10.2.1"),
    description="Every AWS Config recorder records all supported resource types (change detection).",
    fix="Set RecordingGroup AllSupported: true (with IncludeGlobalResourceTypes in one region).",
)
def config_all_resources(model: TemplateModel) -> Iterator[Check]:
    for recorder in model.resources("AWS::Config::ConfigurationRecorder"):
        group = recorder.prop("RecordingGroup")
        ok = group is None or is_true(recorder.prop("RecordingGroup", "AllSupported"))
        yield Check(recorder, ok, "" if ok else "records only some resource types")


@rule(
    id="PCI4-SNS-ENCRYPTED",
    requirements=(),
    related=("3.5.1", "10.3.2"),
    description="Every SNS topic is encrypted with a customer-managed KMS key.",
    fix="Set KmsMasterKeyId on the AWS::SNS::Topic (CDK: master_key=...).",
)
def sns_encrypted(model: TemplateModel) -> Iterator[Check]:
    for topic in model.resources("AWS::SNS::Topic"):
        ok = is_customer_key(topic.prop("KmsMasterKeyId"))
        yield Check(topic, ok, "" if ok else "no customer-managed KmsMasterKeyId")


@rule(
    id="PCI4-SNS-TLS-ONLY",
    requirements=(),
    related=("4.2.1",),  # internal transit, not open public networks (evidence.catalog INTERNAL_TRANSIT)
    description="Every SNS topic policy denies publishing without TLS.",
    fix="Add a Deny statement with Bool aws:SecureTransport false (CDK: enforce_ssl=True).",
)
def sns_tls_only(model: TemplateModel) -> Iterator[Check]:
    for topic in model.resources("AWS::SNS::Topic"):
        enforced = any(
            s.get("Effect") == "Deny"
            and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
            for p in model.referrers(topic, "AWS::SNS::TopicPolicy")
            for s in statements(p.prop("PolicyDocument"))
        )
        yield Check(topic, enforced, "" if enforced else "no topic policy denies aws:SecureTransport false")


# AWS Config cloudwatch-alarm-action-check, with its documented defaults (AWS Config Developer Guide, the rule's
# page): alarmActionRequired true, insufficientDataActionRequired true ("at least one action when the alarm
# transitions to the INSUFFICIENT_DATA state"), okActionRequired false. The rule asks what those defaults ask
# (pack 1.15.0): an alarm whose data stops arriving, or that CloudWatch cannot evaluate, tells someone too. Its
# TreatMissingData is the owner's: with notBreaching or breaching, missing data points keep the alarm in OK or
# ALARM, so the INSUFFICIENT_DATA action fires only when the alarm cannot be evaluated at all.
@rule(
    id="PCI4-ALARM-ACTIONS",
    requirements=("10.4.1.1", "10.7.2"),
    description="Every CloudWatch alarm notifies someone when it fires and when it has insufficient data.",
    fix=(
        "Give the alarm AlarmActions and InsufficientDataActions (an SNS topic; CDK: add_alarm_action and"
        " add_insufficient_data_action) and leave ActionsEnabled on."
    ),
)
def alarm_actions(model: TemplateModel) -> Iterator[Check]:
    for alarm in model.resources("AWS::CloudWatch::Alarm"):
        problems = [
            f"no {what} action"
            for what, prop in (("alarm", "AlarmActions"), ("INSUFFICIENT_DATA", "InsufficientDataActions"))
            if not as_list(alarm.prop(prop))
        ]
        if is_false(alarm.prop("ActionsEnabled")):
            problems.append("ActionsEnabled is false")
        yield Check(alarm, not problems, "; ".join(problems))
