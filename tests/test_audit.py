"""Audit and detection (issue 6): trail, log archive and its replica, alarms, Config/Security Hub/GuardDuty.

Most tests read the session's one synthesis of the default app (flags on, two
regions). One extra app, built once for this module, turns every detector flag
off, configures a single region and an organization trail with narrowed data
events; a few construct-level cases need no synthesis at all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Capture, Match, Template

from compliance.acknowledgments import ACKNOWLEDGMENTS
from compliance.gate import GateReport, gate_zones, synthesize
from compliance.registry import Acknowledgment, AcknowledgmentError, apply_acknowledgments
from config import ConfigError, EnvironmentConfig, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from pci_constructs import card_vault, mac_volume_alarm
from pci_constructs.detective_controls import AWS_MANAGED_PCI_DSS_V4, CONFORMS_ROLE, ManagedConformancePack
from pci_constructs.log_archive import ArchiveReplication, LogArchive
from pci_constructs.permissions_boundary import conformance_pack_role_name
from pci_constructs.security_alarms import SECURITY_EVENTS, SecurityAlarms, SecurityEvent
from stacks.audit_stack import archive_replication, log_archive_bucket_name
from stacks.detection_stack import CONFORMANCE_PACK_TEMPLATE
from stacks.landing_zone import LandingZone, build_landing_zone, stack_name
from tests.conftest import Synthesized, new_app

MIN_RETENTION = 365
DETECTOR_TYPES = (
    "AWS::Config::ConfigurationRecorder",
    "AWS::Config::DeliveryChannel",
    "AWS::Config::ConformancePack",
    "AWS::SecurityHub::Hub",
    "AWS::SecurityHub::Standard",
    "AWS::SecurityHub::FindingAggregator",
    "AWS::GuardDuty::Detector",
)
ORG_ID = "o-abcdefghij"
CHD_BUCKET = "example-cardholder-data"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:card-vault"
# What the owner of a one-region environment writes in that environment's file (`acknowledgments`):
# the default environment has two regions and needs none of this.
SINGLE_REGION_ARCHIVE = tuple(
    {
        "path": "PciLz-default-Audit-*/LogArchive",
        "rule": rule,
        "reason": "Test environment with one region: the archive is object-locked but has no second-region copy",
        "requirement": "PCI DSS v4.0.1 10.5.1",
        "owner": "test-environment owner",
        "review_by": (date.today() + timedelta(days=90)).isoformat(),
    }
    for rule in ("PCI.DSS.321-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled")
)
# The flags-off environment narrows S3 data events to its cardholder-data bucket on purpose, which
# PCI4-TRAIL-DATA-EVENTS refuses (Security Hub S3.22/S3.23 ask for every bucket): it accepts that itself.
NARROWED_DATA_EVENTS = {
    "path": "PciLz-default-Audit-*/Trail",
    "rule": "PCI4-TRAIL-DATA-EVENTS",
    "reason": "Test environment: object-level events are recorded for the one cardholder-data bucket only",
    "requirement": "PCI DSS v4.0.1 10.2.1",
    "owner": "test-environment owner",
    "review_by": (date.today() + timedelta(days=90)).isoformat(),
}


def _environment(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(EMBEDDED_ENVIRONMENTS["default"]))
    audit = {**data.get("audit", {}), **overrides.pop("audit", {})}
    return {**data, **overrides, "audit": audit}


def _audit(synthesized: Synthesized) -> Template:
    return synthesized.template(stack_name(synthesized.config, "Audit", synthesized.config.home_region))


def _replica(synthesized: Synthesized) -> Template:
    region = synthesized.config.replica_region
    assert region is not None
    return synthesized.template(stack_name(synthesized.config, "AuditReplica", region))


def _only(template: Template, resource_type: str) -> Mapping[str, Any]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    (resource,) = found.values()
    return resource


def _statements(template: Template) -> list[dict[str, Any]]:
    return [s for policy in template.find_resources("AWS::S3::BucketPolicy").values() for s in _doc(policy)]


def _doc(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    matches = [s for s in statements if s.get("Sid") == sid]
    assert len(matches) == 1, f"expected one statement {sid}, found {len(matches)}"
    return matches[0]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- CloudTrail ------------------------------------------------------------------------------


def test_one_multi_region_trail_in_the_whole_app(synthesized: Synthesized) -> None:
    trails = [
        (name, r)
        for name, template in synthesized.templates()
        for r in template.get("Resources", {}).values()
        if r["Type"] == "AWS::CloudTrail::Trail"
    ]
    assert [name for name, _ in trails] == [stack_name(synthesized.config, "Audit", synthesized.config.home_region)]
    props = trails[0][1]["Properties"]
    assert props["IsMultiRegionTrail"] is True
    assert props["IncludeGlobalServiceEvents"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["IsLogging"] is True
    assert props["IsOrganizationTrail"] is False
    assert props["KMSKeyId"]
    assert props["CloudWatchLogsLogGroupArn"]
    assert props["CloudWatchLogsRoleArn"]


def test_trail_delivers_to_the_log_archive_encrypted_with_the_logs_key(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    trail = _only(template, "AWS::CloudTrail::Trail")["Properties"]
    archive = _only(template, "AWS::S3::Bucket")["Properties"]
    assert archive["BucketName"] == log_archive_bucket_name(synthesized.config, synthesized.config.home_region)
    assert trail["S3BucketName"] == {"Ref": next(iter(template.find_resources("AWS::S3::Bucket")))}
    bucket_key = archive["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket_key["SSEAlgorithm"] == "aws:kms"
    # SecureBucket denies uploads under any other key, so the trail must use the archive's own key.
    assert trail["KMSKeyId"] == bucket_key["KMSMasterKeyID"]
    assert "LogsKey" in json.dumps(trail["KMSKeyId"])


def _selectors(template: Template) -> list[dict[str, Any]]:
    selectors: list[dict[str, Any]] = _only(template, "AWS::CloudTrail::Trail")["Properties"]["AdvancedEventSelectors"]
    return selectors


def _fields(selector: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["Field"]: f for f in selector["FieldSelectors"]}


def _data_selector(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    found = [
        _fields(s)
        for s in _selectors(template)
        if _fields(s).get("resources.type", {}).get("Equals") == [resource_type]
    ]
    assert len(found) == 1, f"expected one data-event selector for {resource_type}"
    assert found[0]["eventCategory"]["Equals"] == ["Data"]
    return found[0]


def test_management_events_read_and_write(synthesized: Synthesized) -> None:
    selectors = [_fields(s) for s in _selectors(_audit(synthesized))]
    management = [f for f in selectors if f["eventCategory"]["Equals"] == ["Management"]]
    assert len(management) == 1
    # No readOnly field: CloudTrail records both read and write events; no event source excluded.
    assert set(management[0]) == {"eventCategory"}


def test_s3_data_events_cover_every_bucket_but_the_archive_by_default(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    arn = _data_selector(template, "AWS::S3::Object")["resources.ARN"]
    assert set(arn) == {"Field", "NotStartsWith"}
    archive_id = next(iter(template.find_resources("AWS::S3::Bucket")))
    assert archive_id in json.dumps(arn["NotStartsWith"])


def test_lambda_data_events_cover_every_function_by_default(synthesized: Synthesized) -> None:
    assert "resources.ARN" not in _data_selector(_audit(synthesized), "AWS::Lambda::Function")


def test_only_this_trail_may_write_to_the_archive(synthesized: Synthesized) -> None:
    config = synthesized.config
    statements = _statements(_audit(synthesized))
    trail_arn = f"arn:aws:cloudtrail:{config.home_region}:{config.account}:trail/pci-lz-{config.name}-trail"
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows, "CloudTrail needs its allow statements"
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    write = _by_sid(statements, "CloudTrailWrite")
    assert write["Action"] == "s3:PutObject"
    assert f"/AWSLogs/{config.account}/*" in json.dumps(write["Resource"])
    others = _by_sid(statements, "OnlyCloudTrailWritesHere")
    assert others["Effect"] == "Deny"
    assert others["Principal"] == {"AWS": "*"}
    assert others["Condition"] == {"StringNotEqualsIfExists": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}}


@pytest.mark.parametrize("which", ["Audit", "AuditReplica"])
def test_archive_deletes_are_denied_to_everyone(synthesized: Synthesized, which: str) -> None:
    template = _audit(synthesized) if which == "Audit" else _replica(synthesized)
    deny = _by_sid(_statements(template), "DenyDeletingAuditLogs")
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert "Condition" not in deny
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:BypassGovernanceRetention"} <= set(
        _as_list(deny["Action"])
    )


def test_trail_log_group_is_encrypted_and_kept_a_year(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    group_id, group = next(iter(template.find_resources("AWS::Logs::LogGroup").items()))
    assert group["Properties"]["RetentionInDays"] >= MIN_RETENTION
    assert group["Properties"]["KmsKeyId"]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    trail = _only(template, "AWS::CloudTrail::Trail")["Properties"]
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_every_log_group_in_the_app_is_encrypted_and_kept_a_year(synthesized: Synthesized) -> None:
    groups = [
        (name, logical_id, r["Properties"])
        for name, template in synthesized.templates()
        for logical_id, r in template.get("Resources", {}).items()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]
    assert len(groups) >= 2  # flow logs per region and the trail's group at least
    for name, logical_id, props in groups:
        assert props.get("RetentionInDays", 0) >= MIN_RETENTION, f"{name}/{logical_id}"
        assert props.get("KmsKeyId"), f"{name}/{logical_id}"


def test_trail_delivery_role_is_scoped_to_this_trail(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    trust = _only(template, "AWS::IAM::Role")["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    # No source conditions: no CloudTrail page says the service sends them when it assumes the role (#9).
    assert "Condition" not in trust
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": Match.any_value(),
                    }
                ]
            }
        },
    )


# --- Log archive and its replica --------------------------------------------------------------


@pytest.mark.parametrize("which", ["Audit", "AuditReplica"])
def test_archive_is_object_locked_for_at_least_a_year(synthesized: Synthesized, which: str) -> None:
    template = _audit(synthesized) if which == "Audit" else _replica(synthesized)
    bucket = _only(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["ObjectLockEnabled"] is True
    retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Days"] >= MIN_RETENTION
    assert retention["Mode"] == synthesized.config.audit.object_lock_mode
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("which", ["Audit", "AuditReplica"])
def test_archive_lifecycle_keeps_90_days_at_hand_then_archives_then_expires(
    synthesized: Synthesized, which: str
) -> None:
    template = _audit(synthesized) if which == "Audit" else _replica(synthesized)
    rules = _only(template, "AWS::S3::Bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    archive_rule = next(r for r in rules if r["Id"] == "ImmediateThenArchive")
    transitions = {t["StorageClass"]: t["TransitionInDays"] for t in archive_rule["Transitions"]}
    assert transitions["GLACIER_IR"] == 90
    assert transitions["GLACIER"] > 90
    assert archive_rule["ObjectSizeGreaterThan"] == "0"  # small CloudTrail files transition too
    expiry = next(r for r in rules if r["Id"] == "ExpireAfterRetention")
    assert expiry["ExpirationInDays"] == synthesized.config.audit.archive_retention_days >= MIN_RETENTION
    assert "ObjectSizeGreaterThan" not in expiry


def test_archive_replicates_to_the_second_region_with_a_key_there(synthesized: Synthesized) -> None:
    config = synthesized.config
    replication = archive_replication(config)
    assert replication is not None
    assert replication.replica_region != config.home_region
    rules = _only(_audit(synthesized), "AWS::S3::Bucket")["Properties"]["ReplicationConfiguration"]
    assert rules["Role"] == f"arn:aws:iam::{config.account}:role/{replication.role_name}"
    (rule,) = rules["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{replication.replica_bucket_name}"
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"] == (
        f"arn:aws:kms:{replication.replica_region}:{config.account}:{replication.replica_key_alias}"
    )


def test_replica_side_owns_the_names_the_source_side_uses(synthesized: Synthesized) -> None:
    replication = archive_replication(synthesized.config)
    assert replication is not None
    replica = _replica(synthesized)
    assert _only(replica, "AWS::S3::Bucket")["Properties"]["BucketName"] == replication.replica_bucket_name
    assert "ReplicationConfiguration" not in _only(replica, "AWS::S3::Bucket")["Properties"]
    alias = _only(replica, "AWS::KMS::Alias")["Properties"]
    assert alias["AliasName"] == replication.replica_key_alias
    assert "S3DataKey" in json.dumps(alias["TargetKeyId"])  # the replica region's KeyRing s3_data key
    role = _only(replica, "AWS::IAM::Role")["Properties"]
    assert role["RoleName"] == replication.role_name
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "Condition" not in trust  # no S3 page says replication sends source conditions to STS (#9)
    only_replication = _by_sid(_statements(replica), "OnlyReplicationWritesHere")
    assert only_replication["Effect"] == "Deny"
    assert only_replication["Action"] == "s3:PutObject"


def test_replica_stack_deploys_before_the_audit_stack(synthesized: Synthesized) -> None:
    audit = synthesized.zone.audit
    assert audit is not None
    assert audit.replica is not None
    assert audit.replica.region == synthesized.config.replica_region
    assert audit.replica in audit.trail.dependencies


# --- Security alarms ---------------------------------------------------------------------------


def test_at_least_twelve_metric_filters_each_with_an_alarm_to_the_encrypted_topic(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    filters = template.find_resources("AWS::Logs::MetricFilter")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    assert len(filters) >= 12
    metrics = {
        (t["MetricNamespace"], t["MetricName"])
        for f in filters.values()
        for t in f["Properties"]["MetricTransformations"]
    }
    # The card vault's GenerateMac-volume alarm (metric math on its own filter, r19 F2) is tested apart.
    math = {k: a for k, a in alarms.items() if "Metrics" in a["Properties"]}
    single = {k: a for k, a in alarms.items() if k not in math}
    alarmed = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in single.values()}
    alarmed |= {
        (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"])
        for a in math.values()
        for q in a["Properties"]["Metrics"]
        if "MetricStat" in q and q["MetricStat"]["Metric"]["Namespace"] != card_vault.METRIC_NAMESPACE
    }
    assert metrics == alarmed
    assert len(alarms) == len(filters)
    assert len(math) == (1 if synthesized.config.card_vault else 0)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    for alarm in single.values():
        assert alarm["Properties"]["Threshold"] == 1


def test_generate_mac_volume_alarm_compares_cloudtrail_with_tokenizations(synthesized: Synthesized) -> None:
    """r19 F2: the home region's GenerateMac CloudTrail events against the vault's CardsTokenized metric."""
    vault = synthesized.config.card_vault
    assert vault is not None
    template = _audit(synthesized)
    region = synthesized.config.home_region
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": mac_volume_alarm.generate_mac_pattern(region),
            "MetricTransformations": [
                Match.object_like({"MetricName": mac_volume_alarm.MAC_METRIC, "MetricValue": "1"})
            ],
        },
    )
    period = vault.known_card_alarm.period_minutes * 60
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": vault.generate_mac_alarm_margin,
            "ComparisonOperator": "GreaterThanThreshold",
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Expression": f"FILL(mac, 0) - {len(vault.hmac_key_versions)} * FILL(cards, 0)",
                            "ReturnData": True,
                        }
                    ),
                    Match.object_like(
                        {
                            "Id": "cards",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": card_vault.METRIC_NAMESPACE,
                                    "MetricName": card_vault.TOKENIZED_METRIC,
                                    "Dimensions": [{"Name": "service", "Value": card_vault.SERVICE_NAME}],
                                },
                                "Period": period,
                                "Stat": "Sum",
                            },
                        }
                    ),
                ]
            ),
        },
    )


def test_alarms_may_publish_to_the_topic(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    allow = _by_sid(_doc(_only(template, "AWS::SNS::TopicPolicy")), "AllowThisAccountsAlarms")
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == synthesized.config.account


@pytest.mark.parametrize("event", SECURITY_EVENTS, ids=lambda e: e.name)
def test_security_event_patterns_are_well_formed(event: SecurityEvent) -> None:
    pattern = event.pattern
    assert pattern.startswith("{ ")
    assert pattern.endswith(" }")
    depth = 0
    for char in pattern:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth >= 0, pattern
    assert depth == 0, pattern
    assert pattern.count('"') % 2 == 0, pattern


def test_required_security_events_are_watched() -> None:
    required = {
        "RootAccountUsage",
        "UnauthorizedApiCalls",
        "ConsoleSignInWithoutMfa",
        "IamPolicyChanges",
        "CloudTrailConfigChanges",
        "ConsoleSignInFailures",
        "KmsKeyDisabledOrScheduledForDeletion",
        "S3BucketPolicyChanges",
        "SecurityGroupChanges",
        "NetworkAclChanges",
        "RouteTableChanges",
        "VpcChanges",
        "ConfigChanges",
    }
    assert required <= {event.name for event in SECURITY_EVENTS}


def test_alert_topic_is_kms_encrypted_tls_only_and_mails_the_configured_address(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    topic = _only(template, "AWS::SNS::Topic")["Properties"]
    assert "AlertsKey" in json.dumps(topic["KmsMasterKeyId"])
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": synthesized.config.alarm_email}
    )
    tls_only = [
        s
        for s in _doc(_only(template, "AWS::SNS::TopicPolicy"))
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert tls_only


def test_security_alarms_reject_duplicate_event_names() -> None:
    stack = Stack(App(), "S", env=Environment(account="111111111111", region="us-east-1"))
    group = logs.LogGroup(stack, "G")
    event = SecurityEvent("Same", "twice", "{ $.eventName = X }")
    with pytest.raises(ValueError, match="names must be unique"):
        SecurityAlarms(
            stack,
            "A",
            log_group=group,
            topic_key=kms.Key(stack, "K"),
            email="a@example.com",
            metric_namespace="N",
            events=(event, event),
        )


# --- Config, Security Hub, GuardDuty (flags on: the default) -----------------------------------


def _detection(synthesized: Synthesized, region: str) -> Template:
    return synthesized.template(stack_name(synthesized.config, "Detection", region))


@pytest.fixture(params=["us-east-1", "us-west-2"])
def region(request: pytest.FixtureRequest, synthesized: Synthesized) -> str:
    value: str = request.param
    assert value in synthesized.config.regions
    return value


def test_config_records_everything_and_global_resources_in_the_home_region_only(
    synthesized: Synthesized, region: str
) -> None:
    recorder = _only(_detection(synthesized, region), "AWS::Config::ConfigurationRecorder")["Properties"]
    group = recorder["RecordingGroup"]
    assert group["AllSupported"] is True
    assert group["IncludeGlobalResourceTypes"] is (region == synthesized.config.home_region)


def test_config_delivers_to_its_own_kms_encrypted_bucket(synthesized: Synthesized, region: str) -> None:
    template = _detection(synthesized, region)
    channel_resource = _only(template, "AWS::Config::DeliveryChannel")
    channel = channel_resource["Properties"]
    (recorder_id,) = template.find_resources("AWS::Config::ConfigurationRecorder")
    assert recorder_id in channel_resource["DependsOn"]
    (bucket_id,) = template.find_resources("AWS::S3::Bucket")
    assert channel["S3BucketName"] == {"Ref": bucket_id}
    assert "S3DataKey" in json.dumps(channel["S3KmsKeyArn"])
    assert "ObjectLockEnabled" not in template.find_resources("AWS::S3::Bucket")[bucket_id]["Properties"]


def test_conformance_pack_ships_the_repository_template(synthesized: Synthesized, region: str) -> None:
    pack = _only(_detection(synthesized, region), "AWS::Config::ConformancePack")
    assert pack["Properties"]["TemplateBody"] == CONFORMANCE_PACK_TEMPLATE.read_text(encoding="utf-8")
    # Rules evaluate what the recorder records: both the recorder and the channel come first.
    assert len(pack["DependsOn"]) == 2


def test_conformance_pack_maps_every_rule_to_pci_dss_v401() -> None:
    template = json.loads(CONFORMANCE_PACK_TEMPLATE.read_text(encoding="utf-8"))
    rules = template["Resources"]
    assert len(rules) >= 30
    identifiers = []
    for logical_id, rule in rules.items():
        assert rule["Type"] == "AWS::Config::ConfigRule", logical_id
        assert rule["Properties"]["Source"]["Owner"] == "AWS", logical_id
        requirements = rule["Metadata"]["PciDssV401Requirements"]
        # A rule the review maps to no requirement (tests/test_evidence_catalog.py) says so where Config shows it.
        named = ", ".join(requirements) if requirements else "no requirement"
        assert rule["Properties"]["Description"].startswith(f"PCI DSS v4.0.1 {named}: "), logical_id
        identifiers.append(rule["Properties"]["Source"]["SourceIdentifier"])
    assert len(identifiers) == len(set(identifiers))
    covered = {r.split(".")[0] for rule in rules.values() for r in rule["Metadata"]["PciDssV401Requirements"]}
    assert {"1", "3", "4", "7", "8", "10", "11"} <= covered
    assert len(CONFORMANCE_PACK_TEMPLATE.read_bytes()) < 51_200  # Config's TemplateBody limit


def test_security_hub_enables_pci_dss_v401_and_fsbp_only(synthesized: Synthesized, region: str) -> None:
    template = _detection(synthesized, region)
    hub = _only(template, "AWS::SecurityHub::Hub")["Properties"]
    assert hub["EnableDefaultStandards"] is False
    arns = {s["Properties"]["StandardsArn"] for s in template.find_resources("AWS::SecurityHub::Standard").values()}
    assert arns == {
        f"arn:aws:securityhub:{region}::standards/pci-dss/v/4.0.1",
        f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
    }


def test_home_security_hub_aggregates_the_other_regions(synthesized: Synthesized, region: str) -> None:
    config = synthesized.config
    aggregators = _detection(synthesized, region).find_resources("AWS::SecurityHub::FindingAggregator")
    if region != config.home_region:
        assert aggregators == {}
        return
    (aggregator,) = aggregators.values()
    assert aggregator["Properties"] == {
        "RegionLinkingMode": "SPECIFIED_REGIONS",
        "Regions": list(config.additional_regions),
    }


def test_new_high_and_critical_findings_reach_the_alert_topic(synthesized: Synthesized) -> None:
    template = _audit(synthesized)
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    rules = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"EventPattern": {"source": ["aws.securityhub"]}}}
    )
    (rule_id,) = rules
    rule = rules[rule_id]["Properties"]
    assert rule["EventPattern"]["detail"]["findings"]["Severity"]["Label"] == ["HIGH", "CRITICAL"]
    assert rule["Targets"][0]["Arn"] == {"Ref": topic_id}
    allow = _by_sid(_doc(_only(template, "AWS::SNS::TopicPolicy")), "AllowSecurityHubFindingRule")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_only_known_publishers_may_use_the_alert_topic(synthesized: Synthesized) -> None:
    for statement in _doc(_only(_audit(synthesized), "AWS::SNS::TopicPolicy")):
        if statement["Effect"] == "Allow":
            assert statement.get("Condition"), statement


def test_guardduty_has_s3_protection_and_runtime_monitoring(synthesized: Synthesized, region: str) -> None:
    detector = _only(_detection(synthesized, region), "AWS::GuardDuty::Detector")["Properties"]
    assert detector["Enable"] is True
    features = {f["Name"]: f for f in detector["Features"]}
    assert features["S3_DATA_EVENTS"]["Status"] == "ENABLED"
    assert features["RDS_LOGIN_EVENTS"]["Status"] == "ENABLED"
    assert features["LAMBDA_NETWORK_LOGS"]["Status"] == "ENABLED"
    assert features["RUNTIME_MONITORING"]["Status"] == "ENABLED"
    agents = {c["Name"]: c["Status"] for c in features["RUNTIME_MONITORING"]["AdditionalConfiguration"]}
    assert set(agents.values()) == {"ENABLED"}


# --- One small app with every flag off, one region, an organization trail ----------------------


@pytest.fixture(scope="module")
def flags_off(tmp_path_factory: pytest.TempPathFactory) -> tuple[LandingZone, GateReport, dict[str, dict[str, Any]]]:
    data = _environment(
        audit={
            "config_mode": "off",
            "security_hub_mode": "off",
            "guardduty_mode": "off",
            "organization_trail": True,
            "organization_id": ORG_ID,
            "s3_data_event_buckets": [CHD_BUCKET],
            "lambda_data_event_functions": [FUNCTION_ARN],
        }
    )
    data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    data["acknowledgments"] = [*SINGLE_REGION_ARCHIVE, NARROWED_DATA_EVENTS]
    config = parse_environment(data)
    outdir = tmp_path_factory.mktemp("cdk.out.audit-flags-off")
    app = new_app(outdir)
    zone = build_landing_zone(app, config)
    gate = gate_zones(app, [zone])
    assembly, report = synthesize(app, gate)
    assert assembly is not None, "\n".join(map(str, report.findings))
    return zone, report, {a.stack_name: a.template for a in assembly.stacks}


def test_flags_off_app_passes_the_gate_once_the_single_region_archive_is_acknowledged(
    flags_off: tuple[LandingZone, GateReport, Any],
) -> None:
    _, report, _ = flags_off
    assert report.passed, "\n".join(map(str, report.findings))
    single_region = {f.rule for f in report.acknowledged if f.path.startswith("PciLz-default-Audit-")}
    assert {a["rule"] for a in SINGLE_REGION_ARCHIVE} <= single_region


def test_flags_off_creates_no_config_security_hub_or_guardduty(
    flags_off: tuple[LandingZone, GateReport, dict[str, dict[str, Any]]],
) -> None:
    zone, _, templates = flags_off
    assert zone.audit is not None
    assert zone.audit.detection == {}
    types = {r["Type"] for t in templates.values() for r in t.get("Resources", {}).values()}
    assert not types & set(DETECTOR_TYPES)
    assert "AWS::CloudTrail::Trail" in types  # the trail and alarms are not optional


def test_one_region_means_no_replica_and_the_synth_says_so(
    flags_off: tuple[LandingZone, GateReport, dict[str, dict[str, Any]]],
) -> None:
    zone, _, templates = flags_off
    assert zone.audit is not None
    assert zone.audit.replica is None
    assert not any("AuditReplica" in name for name in templates)
    audit = zone.audit.trail
    archive = Template.from_json(templates[audit.stack_name])
    assert "ReplicationConfiguration" not in _only(archive, "AWS::S3::Bucket")["Properties"]
    Annotations.from_stack(audit).has_info("*", Match.string_like_regexp("Only one region is configured"))


def test_organization_trail_and_narrowed_data_events(
    flags_off: tuple[LandingZone, GateReport, dict[str, dict[str, Any]]],
) -> None:
    zone, _, templates = flags_off
    assert zone.audit is not None
    template = Template.from_json(templates[zone.audit.trail.stack_name])
    assert _only(template, "AWS::CloudTrail::Trail")["Properties"]["IsOrganizationTrail"] is True
    write = _by_sid(_statements(template), "CloudTrailWrite")
    assert f"/AWSLogs/{ORG_ID}/*" in json.dumps(write["Resource"])
    assert _data_selector(template, "AWS::S3::Object")["resources.ARN"]["StartsWith"] == [f"arn:aws:s3:::{CHD_BUCKET}/"]
    assert _data_selector(template, "AWS::Lambda::Function")["resources.ARN"]["Equals"] == [FUNCTION_ARN]


def test_each_detector_flag_is_independent(tmp_path: Path) -> None:
    config = parse_environment(_environment(audit={"config_mode": "off"}))
    zone = build_landing_zone(new_app(tmp_path), config)
    assert zone.audit is not None
    for detection in zone.audit.detection.values():
        assert detection.config_recorder is None
        assert detection.security_hub is not None
        assert detection.threat_detection is not None


# --- Configuration and construct validation (no synthesis) ---------------------------------------


def test_default_audit_configuration() -> None:
    audit = parse_environment(_environment()).audit
    assert (audit.config_mode, audit.security_hub_mode, audit.guardduty_mode) == ("create", "create", "create")
    assert audit.organization_trail is False
    assert audit.archive_retention_days >= MIN_RETENTION
    assert audit.s3_data_event_buckets is None
    assert audit.lambda_data_event_functions is None


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        ({"archive_retention_days": 300}, r"audit\.archive_retention_days: .*under the 365 days"),
        ({"object_lock_mode": "NONE"}, r"audit\.object_lock_mode"),
        ({"organization_trail": True}, r"audit\.organization_trail needs organization_id"),
        ({"organization_id": "org-1"}, r"audit\.organization_id"),
        ({"s3_data_event_buckets": []}, r"audit\.s3_data_event_buckets: .*at least one bucket"),
        ({"s3_data_event_buckets": ["Not_A_Bucket"]}, r"audit\.s3_data_event_buckets: .*not S3 bucket names"),
        ({"lambda_data_event_functions": ["card-vault"]}, r"audit\.lambda_data_event_functions: .*not Lambda"),
        (
            {"lambda_data_event_functions": ["arn:aws:lambda:us-east-1:222222222222:function:x"]},
            r"audit\.lambda_data_event_functions: .*not in account 111111111111",
        ),
        ({"unknown_option": True}, r"audit\.unknown_option"),
    ],
)
def test_bad_audit_configuration_is_rejected(audit: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_environment(_environment(audit=audit))


def test_single_region_environment_has_no_replica_region() -> None:
    data = _environment()
    data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    config: EnvironmentConfig = parse_environment(data)
    assert config.replica_region is None
    assert archive_replication(config) is None


def test_archive_bucket_names_fit_s3_limits() -> None:
    data = _environment(name="a" * 21)
    config = parse_environment(data)
    for region in ("us-east-1", "ap-southeast-2", "us-gov-west-1"):
        assert len(log_archive_bucket_name(config, region)) <= 63


def _archive_stack() -> tuple[Stack, kms.Key, s3.Bucket]:
    stack = Stack(App(), "S", env=Environment(account="111111111111", region="us-east-1"))
    return stack, kms.Key(stack, "K"), s3.Bucket(stack, "Logs")


def test_log_archive_refuses_less_than_a_year() -> None:
    stack, key, logs_bucket = _archive_stack()
    with pytest.raises(ValueError, match="at least 365"):
        LogArchive(
            stack,
            "A",
            encryption_key=key,
            access_logs_bucket=logs_bucket,
            retention_days=180,
            object_lock_mode="COMPLIANCE",
            bucket_name="example-archive",
        )


def test_log_archive_compliance_mode() -> None:
    stack, key, logs_bucket = _archive_stack()
    LogArchive(
        stack,
        "A",
        encryption_key=key,
        access_logs_bucket=logs_bucket,
        retention_days=400,
        object_lock_mode="COMPLIANCE",
        bucket_name="example-archive",
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::Bucket",
        {"ObjectLockConfiguration": {"Rule": {"DefaultRetention": {"Days": 400, "Mode": "COMPLIANCE"}}}},
    )


def test_replication_must_leave_the_region() -> None:
    with pytest.raises(ValueError, match="must differ"):
        ArchiveReplication(
            source_region="us-east-1",
            source_bucket_name="a",
            replica_region="us-east-1",
            replica_bucket_name="example-archive",
            role_name="r",
            replica_key_alias="alias/x",
        )


def test_conditional_acknowledgment_may_match_nothing_but_a_plain_one_may_not() -> None:
    stack = Stack(App(), "Tiny")
    s3.Bucket(stack, "Bucket")
    reason = "A reason long enough for the registry's specific-reason rule to accept"
    absent = Acknowledgment(
        path="Tiny/Replica",
        rule="AwsSolutions-S1",
        reason=reason,
        requirement="PCI DSS v4.0.1 10.5.1",
        owner="test-environment owner",
        review_by=date.today() + timedelta(days=90),
    )
    conditional = dataclasses.replace(absent, conditional=True)
    assert apply_acknowledgments(stack.node.root, [conditional]) == {conditional: []}  # type: ignore[arg-type]
    with pytest.raises(AcknowledgmentError, match="stale"):
        apply_acknowledgments(stack.node.root, [absent])  # type: ignore[arg-type]


def test_audit_acknowledgments_are_conditional_and_match_the_default_app(synthesized: Synthesized) -> None:
    """They vanish with a flag or a region (a `when` condition on the configuration, or `conditional`);
    in the default app (everything on) each must still match."""
    audit_entries = [e for e in ACKNOWLEDGMENTS if "-Audit" in e.path or "-Detection-" in e.path]
    assert audit_entries
    for entry in audit_entries:
        assert entry.conditional or entry.when, entry
        assert synthesized.gate.acknowledged_paths[entry], entry


def test_digest_files_are_exempt_from_the_encryption_denies(synthesized: Synthesized) -> None:
    """CloudTrail writes digest files with SSE-S3; denying them would silently break log-file validation."""
    statements = _statements(_audit(synthesized))
    for sid in ("DenyUnexpectedEncryptionAlgorithm", "DenyOtherKmsKeys"):
        exempt = [s for s in statements if s.get("Sid") == sid and "NotResource" in s]
        assert exempt, sid
        assert all("/AWSLogs/*/CloudTrail-Digest/*" in json.dumps(s["NotResource"]) for s in exempt)


def test_replica_region_can_be_pinned_and_is_validated() -> None:
    data = _environment()
    data["regions"]["eu-west-1"] = {
        "vpc_cidr": "10.30.0.0/16",
        "certificate_arn": f"arn:aws:acm:eu-west-1:{data['account']}:certificate/00000000-0000-4000-8000-000000000003",
    }
    data["regions"] = {
        "us-east-1": data["regions"]["us-east-1"],
        **{k: v for k, v in data["regions"].items() if k != "us-east-1"},
    }
    data["audit"] = {**data.get("audit", {}), "replica_region": "eu-west-1"}
    config = parse_environment(data)
    assert config.replica_region == "eu-west-1"
    replication = archive_replication(config)
    assert replication is not None
    assert replication.role_name.endswith("-eu-west-1")
    assert len(replication.role_name) <= 64
    data["audit"]["replica_region"] = "us-east-1"
    with pytest.raises(ConfigError, match=r"audit\.replica_region 'us-east-1' must be one of regions and not the home"):
        parse_environment(data)


# --- Conformance packs: the project's, AWS's sample from the owner's bucket, or both -------------------

SAMPLE_URI = "s3://config-templates-{region}/Operational-Best-Practices-for-PCI-DSS-4.0.yaml"


def test_the_projects_pack_alone_by_default() -> None:
    packs = parse_environment(_environment()).audit.conformance_packs
    assert packs.project is True
    assert packs.aws_sample_s3_uri is None


@pytest.mark.parametrize("project", [True, False], ids=["both", "aws-sample-only"])
def test_aws_sample_pack_from_the_owners_bucket_in_each_region(tmp_path: Path, project: bool) -> None:
    packs = {"project": project, "aws_sample_s3_uri": SAMPLE_URI}
    config = parse_environment(_environment(audit={"conformance_packs": packs}))
    zone = build_landing_zone(new_app(tmp_path), config)
    assert zone.audit is not None
    assert zone.audit.detection
    for region, detection in zone.audit.detection.items():
        sample = detection.aws_sample_pack
        assert sample is not None
        assert sample.template_s3_uri == SAMPLE_URI.replace("{region}", region)
        assert sample.template_body is None
        recorder = detection.config_recorder
        assert recorder is not None
        assert set(sample.node.dependencies) == set(recorder.ready)
        assert (detection.conformance_pack is not None) is project


def test_a_bad_template_uri_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"aws_sample_s3_uri.*not the S3 URI of a conformance pack template"):
        parse_environment(_environment(audit={"conformance_packs": {"aws_sample_s3_uri": "https://x/y.yaml"}}))


def test_the_aws_sample_pack_needs_aws_config() -> None:
    audit = {"config_mode": "off", "conformance_packs": {"aws_sample_s3_uri": SAMPLE_URI}}
    with pytest.raises(ConfigError, match=r"conformance_packs.aws_sample_s3_uri needs AWS Config"):
        parse_environment(_environment(audit=audit))


# --- AWS's managed PCI DSS v4 pack, deployed by its source identifier ----------------------------------


def test_the_aws_managed_pack_is_off_by_default() -> None:
    assert parse_environment(_environment()).audit.conformance_packs.aws_managed is None


@pytest.mark.parametrize("project", [True, False], ids=["both", "aws-managed-only"])
def test_aws_managed_pack_by_name_in_each_region(tmp_path: Path, project: bool) -> None:
    """PutConformancePack with Source.SourceIdentifier ("PutConformancePack", "ConformancePackSource", AWS
    Config API Reference) by the project's own function, which waits for the pack's status, deleted with the
    stack; the function's role is the named one the boundary exempts."""
    packs = {"project": project, "aws_managed": AWS_MANAGED_PCI_DSS_V4}
    config = parse_environment(_environment(audit={"conformance_packs": packs}))
    zone = build_landing_zone(new_app(tmp_path), config)
    assert zone.audit is not None
    assert zone.audit.detection
    for region, detection in zone.audit.detection.items():
        managed = detection.aws_managed_pack
        assert managed is not None
        assert managed.source_identifier == "PCI-DSS_V4"
        assert (detection.conformance_pack is not None) is project
        assert detection.aws_sample_pack is None
        recorder = detection.config_recorder
        assert recorder is not None
        assert set(recorder.ready) <= set(managed.pack.node.dependencies)
        if project:
            continue  # the rendered resources once, in the managed-only app (one synthesis, not two)
        template = Template.from_stack(detection)
        name = f"pci-lz-{config.name}-aws-pci-dss-v4"
        # The project's own function (pinned boto3, whose botocore models Source) answers CloudFormation
        # after the pack is complete; CloudFormation gives up a minute after the function must have answered.
        function = Capture()
        template.has_resource_properties(
            "Custom::ConfigManagedConformancePack",
            {
                "ServiceToken": {"Fn::GetAtt": [function, "Arn"]},
                "ConformancePackName": name,
                "SourceIdentifier": "PCI-DSS_V4",
                "ServiceTimeout": "960",  # "AWS::CloudFormation::CustomResource": Type String
            },
        )
        rendered_function = template.to_json()["Resources"][function.as_string()]
        assert rendered_function["Properties"]["Handler"] == "managed_pack.handler.handler"
        assert rendered_function["Properties"]["Timeout"] == 900
        assert rendered_function["Properties"]["TracingConfig"] == {"Mode": "Active"}
        assert not template.find_resources("Custom::AWS")
        # No template, no S3 URI: CloudFormation's resource cannot take a source, so none of it is a copy.
        packs_rendered = template.find_resources("AWS::Config::ConformancePack")
        assert not packs_rendered
        template.has_resource_properties(
            "AWS::IAM::Role", {"RoleName": conformance_pack_role_name(config.name, region)}
        )
        account = config.account
        template.has_resource_properties(
            "AWS::IAM::ManagedPolicy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            {
                                "Action": ["config:DeleteConformancePack", "config:PutConformancePack"],
                                "Effect": "Allow",
                                "Resource": f"arn:aws:config:{region}:{account}:conformance-pack/{name}/*",
                            },
                            {
                                # With X-Ray's actions, which have no resource-level permissions either.
                                "Action": Match.array_with(["config:DescribeConformancePackStatus"]),
                                "Effect": "Allow",
                                "Resource": "*",
                            },
                            {
                                "Action": "iam:CreateServiceLinkedRole",
                                "Condition": {"StringEquals": {"iam:AWSServiceName": "config-conforms.amazonaws.com"}},
                                "Effect": "Allow",
                                "Resource": f"arn:aws:iam::{account}:role/{CONFORMS_ROLE}",
                            },
                        ]
                    )
                }
            },
        )


def test_an_unknown_managed_pack_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"conformance_packs\.aws_managed"):
        parse_environment(_environment(audit={"conformance_packs": {"aws_managed": "PCI-DSS_V3"}}))


def test_the_aws_managed_pack_needs_aws_config() -> None:
    audit = {"config_mode": "off", "conformance_packs": {"aws_managed": "PCI-DSS_V4"}}
    with pytest.raises(ConfigError, match=r"conformance_packs.aws_managed needs AWS Config"):
        parse_environment(_environment(audit=audit))


def test_the_managed_pack_and_the_sample_template_are_not_both_deployed() -> None:
    packs = {"aws_managed": "PCI-DSS_V4", "aws_sample_s3_uri": SAMPLE_URI}
    with pytest.raises(ConfigError, match=r"give aws_managed or aws_sample_s3_uri, not both"):
        parse_environment(_environment(audit={"conformance_packs": packs}))


def test_the_managed_pack_construct_refuses_an_unknown_source() -> None:
    stack = Stack(App(), "S", env=Environment(account="111111111111", region="us-east-1"))
    key = kms.Key(stack, "K")
    with pytest.raises(ValueError, match="source_identifier 'X': not one of"):
        ManagedConformancePack(
            stack, "P", name="p", source_identifier="X", role_name="r", log_key=key, log_retention_days=365
        )
