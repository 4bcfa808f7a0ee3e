"""Deploy correctness by whole kind (issue #9): each check scans every synthesized template.

Each kind has a generic check over the session's synthesis and a purpose-built bad construct
that the same check catches, so the check is known to bite.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from aws_cdk import App, CfnResource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from compliance.service_conditions import SERVICE_CONDITION_KEYS, principal_key, undocumented_condition_keys
from config import EnvironmentConfig, parse_environment
from config.defaults import EMBEDDED_ENVIRONMENTS
from config.loader import ConfigError
from config.models import LAMBDA_MIN_UNRESERVED_CONCURRENCY
from pci_constructs.card_vault import POST_ALIAS
from pci_constructs.detective_controls import GUARDDUTY_FEATURES
from pci_constructs.segmented_vpc import UNSIGNED_STS_ACTIONS, aws_owned_bucket_objects
from preflight.checks import (
    Account,
    Status,
    check_lambda_concurrency,
    pipeline_principals,
    required_principals,
)
from stacks.landing_zone import build_landing_zone, leave_out_empty_stacks
from tests.conftest import ROOT, Synthesized, new_app
from tests.template_scan import (
    Template,
    as_list,
    created_principals,
    database_users_reading_key_material,
    empty_templates,
    endpoint_gaps,
    foreign_alarm_actions,
    migration_phase_gaps,
    missing_log_groups,
    named_principals,
    of_type,
    references,
    reservations_by_region,
    reserved_concurrency,
    resources,
    retained_through_failed_create,
    role_users_without_policies,
    sdk_call_unmodelled_parameters,
    service_statements,
    trigger_function,
    unclassified_names,
)

ACCOUNT = "111111111111"
SMALL_BYTES = 128 * 1024
# Storage classes that take objects under 128 KB with varies_by_storage_class.
SMALL_OBJECT_CLASSES = {"GLACIER", "DEEP_ARCHIVE"}


def _template(stack: Stack) -> Template:
    return dict(App.of(stack).synth().get_stack_by_name(stack.stack_name).template)  # type: ignore[union-attr]


def _bad_stack(tmp_path: Path) -> Stack:
    return Stack(App(outdir=str(tmp_path)), "Bad", env={"account": ACCOUNT, "region": "us-east-1"})


# --- 1. Condition keys a service principal does not send -----------------------------------------


def _condition_findings(templates: Any) -> list[str]:
    findings = []
    for statement in service_statements(templates):
        if (principal_key(statement.service), statement.kind) not in SERVICE_CONDITION_KEYS:
            findings.append(f"{statement}: no documented entry in SERVICE_CONDITION_KEYS")
            continue
        bad = undocumented_condition_keys(statement.service, statement.kind, set(statement.condition_keys))
        if bad:
            findings.append(f"{statement}: {sorted(bad)} not sent by the service")
    return findings


def test_every_service_principal_statement_uses_documented_condition_keys(synthesized: Synthesized) -> None:
    statements = list(service_statements(synthesized.templates()))
    assert {s.kind for s in statements} >= {"key", "bucket", "topic", "trust", "log-group", "function"}
    assert _condition_findings(synthesized.templates()) == []


def test_every_table_entry_names_its_aws_source() -> None:
    assert all(entry.source for entry in SERVICE_CONDITION_KEYS.values())


def test_eventbridge_may_use_the_alerts_key_without_source_conditions(synthesized: Synthesized) -> None:
    for statement in service_statements(synthesized.templates()):
        if statement.service == "events.amazonaws.com" and statement.kind == "key":
            assert statement.condition_keys == frozenset()


def test_a_source_account_condition_on_an_eventbridge_key_grant_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    key = kms.Key(stack, "Key")
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        )
    )
    findings = _condition_findings([("Bad", _template(stack))])
    assert len(findings) == 1
    assert "aws:SourceAccount" in findings[0]


def test_an_unreviewed_service_principal_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    assert any("no documented entry" in f for f in _condition_findings([("Bad", _template(stack))]))


# --- 3. A resource that uses a role before the role's policies exist ------------------------------


def test_every_role_user_waits_for_the_roles_policies(synthesized: Synthesized) -> None:
    findings = [f"{name}: {f}" for name, t in synthesized.templates() for f in role_users_without_policies(t)]
    assert findings == []


def test_a_monitored_instance_without_the_policy_dependency_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    role = iam.Role(stack, "MonitoringRole", assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"))
    iam.ManagedPolicy(
        stack,
        "MonitoringPolicy",
        roles=[role],
        statements=[iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=["*"])],
    )
    rds.CfnDBInstance(
        stack, "Instance", db_instance_class="db.m7g.large", engine="postgres", monitoring_role_arn=role.role_arn
    )
    assert role_users_without_policies(_template(stack)) == [
        f"Instance uses {_logical(stack, role)} before {_logical_by_id(stack, 'MonitoringPolicy')}"
    ]


def _logical(stack: Stack, construct: Any) -> str:
    return str(stack.resolve(construct.node.default_child.logical_id))


def _logical_by_id(stack: Stack, construct_id: str) -> str:
    return _logical(stack, stack.node.find_child(construct_id))


# --- 4. Endpoint policies that block AWS-owned access the tiers need ------------------------------


def _required_endpoint_access(region: str) -> dict[str, list[tuple[str, str]]]:
    return {
        "s3": [("s3:GetObject", arn) for arn in aws_owned_bucket_objects("aws", region)],
        "sts": [(action, f"arn:aws:iam::{ACCOUNT}:role/*") for action in UNSIGNED_STS_ACTIONS],
    }


def test_every_endpoint_lets_aws_owned_access_through(synthesized: Synthesized) -> None:
    checked = 0
    for name, template in synthesized.templates():
        endpoints = of_type(template, "AWS::EC2::VPCEndpoint")
        if not endpoints:
            continue
        checked += len(endpoints)
        region = name.rsplit("-", 3)[-3:]
        assert endpoint_gaps(template, _required_endpoint_access("-".join(region))) == [], name
    assert checked


def test_a_same_account_only_s3_endpoint_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    vpc = ec2.Vpc(
        stack, "Vpc", availability_zones=["us-east-1a"], nat_gateways=0, restrict_default_security_group=False
    )
    endpoint = vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
    endpoint.add_to_policy(
        iam.PolicyStatement(
            principals=[iam.AnyPrincipal()],
            actions=["*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        )
    )
    gaps = endpoint_gaps(_template(stack), _required_endpoint_access("us-east-1"))
    assert len(gaps) == 3
    assert all("s3:GetObject" in gap for gap in gaps)


# --- 5. Log groups a service or a CDK-generated function would create implicitly ------------------


def test_every_log_group_written_to_exists_in_the_templates(synthesized: Synthesized) -> None:
    findings = [f"{name}: {f}" for name, t in synthesized.templates() for f in missing_log_groups(t)]
    assert findings == []


def test_every_log_group_is_encrypted_retained_and_kept_the_configured_days(synthesized: Synthesized) -> None:
    days = synthesized.config.log_retention_days
    for name, template in synthesized.templates():
        for logical_id, group in of_type(template, "AWS::Logs::LogGroup").items():
            props = group["Properties"]
            assert "KmsKeyId" in props, f"{name}/{logical_id}"
            assert props["RetentionInDays"] >= days, f"{name}/{logical_id}"
            assert group["DeletionPolicy"] == "RetainExceptOnCreate", f"{name}/{logical_id}"


def test_enhanced_monitoring_log_group_is_in_each_data_stack(synthesized: Synthesized) -> None:
    for region, regional in synthesized.zone.regions.items():
        template = synthesized.template(regional.data.stack_name)
        template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "RDSOSMetrics"})
        instance = next(iter(template.find_resources("AWS::RDS::DBInstance").values()))
        group_id = next(
            iter(template.find_resources("AWS::Logs::LogGroup", {"Properties": {"LogGroupName": "RDSOSMetrics"}}))
        )
        assert group_id in instance["DependsOn"], region


def test_a_function_without_its_log_group_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    findings = missing_log_groups(_template(stack))
    assert len(findings) == 1
    assert "only known at deploy time" in findings[0]


def test_enhanced_monitoring_without_rdsosmetrics_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    rds.CfnDBInstance(stack, "Instance", db_instance_class="db.m7g.large", engine="postgres", monitoring_interval=60)
    assert missing_log_groups(_template(stack)) == ["Instance: RDSOSMetrics"]


# --- 7. Lifecycle transitions that skip small objects ----------------------------------------------


def _small_object_skips(template: Template) -> list[str]:
    """Transitions that objects under 128 KB never make, per S3's default minimum transition size."""
    skips = []
    for logical_id, bucket in of_type(template, "AWS::S3::Bucket").items():
        lifecycle = bucket["Properties"].get("LifecycleConfiguration", {})
        varies = lifecycle.get("TransitionDefaultMinimumObjectSize") == "varies_by_storage_class"
        for rule in lifecycle.get("Rules", []):
            if int(rule.get("ObjectSizeGreaterThan", SMALL_BYTES)) < SMALL_BYTES:
                continue
            for transition in rule.get("Transitions", []):
                if not (varies and transition["StorageClass"] in SMALL_OBJECT_CLASSES):
                    skips.append(f"{logical_id}/{rule.get('Id')}: {transition['StorageClass']}")
    return skips


def test_every_lifecycle_transition_takes_small_objects(synthesized: Synthesized) -> None:
    transitions = 0
    for name, template in synthesized.templates():
        transitions += sum(
            len(rule.get("Transitions", []))
            for bucket in of_type(template, "AWS::S3::Bucket").values()
            for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        )
        assert _small_object_skips(template) == [], name
    assert transitions


def test_archive_expiry_has_no_size_filter(synthesized: Synthesized) -> None:
    assert synthesized.zone.audit is not None
    template = synthesized.template(synthesized.zone.audit.trail.stack_name)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": Match.object_like(
                {
                    "Rules": Match.array_with(
                        [{"Id": "ExpireAfterRetention", "Status": "Enabled", "ExpirationInDays": 365}]
                    )
                }
            )
        },
    )


def test_a_default_lifecycle_transition_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    s3.Bucket(
        stack,
        "Bucket",
        lifecycle_rules=[
            s3.LifecycleRule(
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=_days(90))
                ]
            )
        ],
    )
    assert len(_small_object_skips(_template(stack))) == 1


def _days(days: int) -> Any:
    from aws_cdk import Duration

    return Duration.days(days)


# --- 8. GuardDuty features ------------------------------------------------------------------------


def test_every_detector_enables_rds_login_monitoring_and_the_other_features(synthesized: Synthesized) -> None:
    detectors = 0
    for _, template in synthesized.templates():
        for detector in of_type(template, "AWS::GuardDuty::Detector").values():
            detectors += 1
            features = {f["Name"]: f["Status"] for f in detector["Properties"]["Features"]}
            assert all(features.get(name) == "ENABLED" for name in GUARDDUTY_FEATURES), features
    assert detectors == len(synthesized.config.regions)


# --- 9. Account-level singletons: create / existing / off ----------------------------------------


def _environment(**audit: Any) -> dict[str, Any]:
    data = dict(EMBEDDED_ENVIRONMENTS["default"])
    data["audit"] = {**data["audit"], **audit}
    return data


@pytest.mark.parametrize("old", ["config_enabled", "security_hub_enabled", "guardduty_enabled"])
def test_old_boolean_switches_are_rejected_naming_the_new_field(old: str) -> None:
    new = old.replace("_enabled", "_mode")
    with pytest.raises(ConfigError, match=rf"{old} was replaced by {new}"):
        parse_environment(_environment(**{old: False}))


def test_an_unknown_mode_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"audit\.guardduty_mode"):
        parse_environment(_environment(guardduty_mode="maybe"))


@pytest.fixture(scope="module")
def existing_everything(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Template]]:
    data = _environment(config_mode="existing", security_hub_mode="existing", guardduty_mode="existing")
    data["regions"] = {"us-east-1": data["regions"]["us-east-1"]}
    app = new_app(tmp_path_factory.mktemp("cdk.out.existing"))
    zone = build_landing_zone(app, parse_environment(data))
    assembly = app.synth()
    return zone, {a.stack_name: a.template for a in assembly.stacks}


def test_existing_modes_add_only_the_pack_and_the_standards(existing_everything: Any) -> None:
    zone, templates = existing_everything
    assert zone.audit is not None
    detection = zone.audit.detection["us-east-1"]
    types = [r["Type"] for r in templates[detection.stack_name]["Resources"].values()]
    assert sorted(t for t in types if t != "AWS::CDK::Metadata") == [
        "AWS::Config::ConformancePack",
        "AWS::SecurityHub::Standard",
        "AWS::SecurityHub::Standard",
    ]
    Annotations.from_stack(detection).has_info("*", Match.string_like_regexp("RDS_LOGIN_EVENTS"))
    Annotations.from_stack(detection).has_info("*", Match.string_like_regexp("finding aggregator"))


# --- Issue #18: a stack with nothing to create (CloudFormation refuses a template without resources) ---


def test_no_template_of_the_default_app_or_the_delivery_is_empty(synthesized: Synthesized, delivered: Any) -> None:
    delivery = [(a.stack_name, a.template) for a in delivered.assembly.stacks_recursively]
    assert empty_templates([*synthesized.templates(), *delivery]) == []


def test_detection_with_nothing_to_create_leaves_its_stack_out(tmp_path: Path) -> None:
    """Found by the generated environments (LZ_GENERATED_SEED=1881293589): Config and Security Hub
    off, GuardDuty existing. The GuardDuty note moves to the region's AccountGuards stack."""
    data = _environment(config_mode="off", security_hub_mode="off", guardduty_mode="existing")
    data["regions"] = {"us-east-1": data["regions"]["us-east-1"]}
    app = new_app(tmp_path)
    zone = build_landing_zone(app, parse_environment(data))
    assembly = app.synth()
    assert zone.audit is not None
    assert zone.audit.detection == {}
    names = [a.stack_name for a in assembly.stacks]
    assert not [n for n in names if "-Detection-" in n]
    assert empty_templates((a.stack_name, a.template) for a in assembly.stacks) == []
    guards = zone.account_guards["us-east-1"]
    Annotations.from_stack(guards).has_info("*", Match.string_like_regexp("RDS_LOGIN_EVENTS"))


def test_an_empty_stack_is_caught_and_left_out(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    env = {"account": ACCOUNT, "region": "us-east-1"}
    Stack(app, "Empty", env=env)
    kept = Stack(app, "Kept", env=env)
    s3.CfnBucket(kept, "Bucket")
    waited_for = Stack(app, "WaitedFor", env=env)
    kept.add_dependency(waited_for)
    templates = [(a.stack_name, a.template) for a in app.synth().stacks]
    assert sorted(empty_templates(templates)) == ["Empty", "WaitedFor"]
    app = App(outdir=str(tmp_path / "pruned"))
    Stack(app, "Empty", env=env)
    kept = Stack(app, "Kept", env=env)
    s3.CfnBucket(kept, "Bucket")
    waited_for = Stack(app, "WaitedFor", env=env)
    kept.add_dependency(waited_for)
    assert leave_out_empty_stacks(app) == ["Empty"]  # a stack another waits for stays (and the scan names it)
    assert sorted(a.stack_name for a in app.synth().stacks) == ["Kept", "WaitedFor"]


def test_existing_standards_do_not_wait_for_a_hub(existing_everything: Any) -> None:
    _, templates = existing_everything
    for template in templates.values():
        for standard in of_type(template, "AWS::SecurityHub::Standard").values():
            assert not as_list(standard.get("DependsOn", []))


# --- Issue #22 fault 1: reservations an account's Lambda quota cannot hold ------------------------


def _regional_templates(assembly: Any) -> list[tuple[str, Template]]:
    return [(artifact.environment.region, artifact.template) for artifact in assembly.stacks]


def _concurrency_account(region: str, total: int, unreserved: int) -> Account:
    """An Account whose Lambda answers GetAccountSettings (botocore Stubber: moto lacks it) and whose
    landing zone is not deployed yet."""
    client = boto3.client("lambda", region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    settings = {"AccountLimit": {"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": unreserved}}
    stubber.add_response("get_account_settings", settings, {})
    stubber.activate()
    cloudformation = mock.Mock()
    cloudformation.get_paginator.return_value.paginate.side_effect = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "Stack with id x does not exist"}}, "ListStackResources"
    )
    account = Account(mock.Mock(), region)
    account._clients[("lambda", region)] = client
    account._clients[("cloudformation", region)] = cloudformation
    return account


def _preflight_status(config: EnvironmentConfig, region: str, quota: int) -> Status:
    single = config.model_copy(update={"regions": {region: config.regions[region]}})
    (result,) = check_lambda_concurrency(_concurrency_account(region, quota, quota), single)
    return result.status


def _unchecked_reservations(templates: list[tuple[str, Template]], config: EnvironmentConfig) -> list[str]:
    """Regions whose templates reserve more than preflight checks the account's quota for: an account
    with exactly the minimum unreserved pool plus what the templates reserve must pass the check, and
    one less must fail it."""
    wrong = []
    for region, total in sorted(reservations_by_region(templates).items()):
        quota = LAMBDA_MIN_UNRESERVED_CONCURRENCY + total
        if total and _preflight_status(config, region, quota - 1) is not Status.FAIL:
            wrong.append(f"{region}: the templates reserve {total}, more than preflight checks for")
        if _preflight_status(config, region, quota) is not Status.PASS:
            wrong.append(f"{region}: preflight asks for more than the templates reserve ({total})")
    return wrong


def test_preflight_counts_every_reservation_the_templates_make(synthesized: Synthesized) -> None:
    templates = _regional_templates(synthesized.assembly)
    reserved = reservations_by_region(templates)
    assert set(reserved) == set(synthesized.config.regions)
    assert all(total > 0 for total in reserved.values())
    assert _unchecked_reservations(templates, synthesized.config) == []


def test_a_reservation_preflight_does_not_know_of_is_caught(synthesized: Synthesized, tmp_path: Path) -> None:
    """A function of some stack reserving concurrency outside the vault's configuration."""
    stack = _bad_stack(tmp_path)
    lambda_.Function(
        stack,
        "Reserving",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        reserved_concurrent_executions=3,
    )
    templates = [*_regional_templates(synthesized.assembly), ("us-east-1", _template(stack))]
    assert _unchecked_reservations(templates, synthesized.config) == [
        "us-east-1: the templates reserve 30, more than preflight checks for"
    ]


def test_reservations_follow_the_configuration_and_dropped_ones_carry_their_justification(tmp_path: Path) -> None:
    data = copy.deepcopy(EMBEDDED_ENVIRONMENTS["default"])
    data["regions"] = {data["home_region"]: data["regions"][data["home_region"]]}
    data["card_vault"]["reserved_concurrency"] = {"api": 4, "detokenize": None, "purge": None, "migration": None}
    config = parse_environment(data)
    app = new_app(tmp_path)
    zone = build_landing_zone(app, config)
    workload = zone.regions[config.home_region].workload
    assert workload is not None
    template = _template(workload)
    assert sorted(reserved_concurrency(template).values()) == [4]
    unreserved = [
        r
        for r in of_type(template, "AWS::Lambda::Function").values()
        if "ReservedConcurrentExecutions" not in r["Properties"]
        and "card_vault" in str(r["Properties"].get("Handler", ""))
    ]
    assert len(unreserved) == 4  # the key-maintenance function reserves none by default
    for resource in unreserved:
        skips = {s["id"] for s in resource["Metadata"]["checkov"]["skip"]}
        assert "CKV_AWS_115" in skips
    assert reservations_by_region([(config.home_region, template)]) == {config.home_region: 4}
    assert config.card_vault is not None
    assert config.card_vault.reserved_concurrency.total == 4


def test_one_minimum_unreserved_figure_everywhere() -> None:
    """Lambda's minimum unreserved pool is stated once (config.models); no text states another."""
    stated = re.compile(r"unreserved[^.\n]{0,60}?(?:below|minus|at least|keeps?)\D{0,20}(\d+)", re.IGNORECASE)
    wrong = []
    for path in (*ROOT.glob("*.md"), *ROOT.glob("*/**/*.py"), *ROOT.glob("*/*.yaml"), *ROOT.glob("envs/*")):
        if ".venv" in path.parts or "node_modules" in path.parts or path.name == Path(__file__).name:
            continue
        for number in stated.findall(path.read_text(encoding="utf-8", errors="replace")):
            if int(number) != LAMBDA_MIN_UNRESERVED_CONCURRENCY:
                wrong.append(f"{path.relative_to(ROOT)}: {number}")
    assert wrong == []


# --- Issue #22 fault 3: a resource policy naming a principal nothing creates first -----------------

_ANY_ACCOUNT = re.compile(r"^arn:aws(?:-[a-z-]+)?:iam::\d{12}:root$")


def undeclared_principals(stacks: Any, declared: set[str]) -> list[str]:
    """Roles and users named in a resource, key, trust or function policy that neither preflight
    checks (`declared`) nor a stack deployed before the naming one creates. `stacks` are cloud
    assembly stack artifacts (their dependencies say what deploys first)."""
    by_id = {artifact.id: artifact for artifact in stacks}

    def before(artifact: Any) -> set[str]:
        seen: set[str] = set()
        pending = [d.id for d in artifact.dependencies]
        while pending:
            current = pending.pop()
            if current in by_id and current not in seen:
                seen.add(current)
                pending += [d.id for d in by_id[current].dependencies]
        return seen

    wrong = []
    for artifact in stacks:
        created = {name for other in before(artifact) for name in created_principals(by_id[other].template)}
        for named in named_principals([(artifact.stack_name, artifact.template)]):
            arn = named.principal
            if arn == "*" or _ANY_ACCOUNT.match(arn) or arn in declared:
                continue
            if arn.split(":", 5)[-1] in created:
                continue
            wrong.append(str(named))
    return sorted(set(wrong))


def test_every_principal_a_policy_names_exists_first_or_is_checked_by_preflight(synthesized: Synthesized) -> None:
    declared = set(required_principals(synthesized.config))
    assert undeclared_principals(synthesized.assembly.stacks, declared) == []


def test_every_principal_of_the_delivery_exists_first_or_is_checked(delivered: Any) -> None:
    declared = set(pipeline_principals(delivered.config))
    for entry in delivered.config.environments:
        declared |= set(required_principals(entry.config))
    assert undeclared_principals(delivered.assembly.stacks_recursively, declared) == []


def test_a_resource_policy_naming_an_undeclared_principal_is_caught(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    env = {"account": ACCOUNT, "region": "us-east-1"}
    later = Stack(app, "Later", env=env)
    iam.Role(later, "Made", role_name="made-later", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bad = Stack(app, "Bad", env=env)
    function = lambda_.Function(
        bad,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    function.add_permission("Caller", principal=iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/nobody-made-me"))
    function.add_permission("Later", principal=iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/made-later"))
    kms.Key(bad, "Key").add_to_resource_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=["*"],
            principals=[iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/checked-by-preflight")],
        )
    )
    stacks = app.synth().stacks
    declared = {f"arn:aws:iam::{ACCOUNT}:role/checked-by-preflight"}
    found = undeclared_principals(stacks, declared)
    # made-later is created by a stack that does not deploy before Bad: named too early.
    assert sorted(f.split(" names ")[1] for f in found) == [
        f"arn:aws:iam::{ACCOUNT}:role/made-later",
        f"arn:aws:iam::{ACCOUNT}:role/nobody-made-me",
    ]
    bad.add_dependency(later)
    found = undeclared_principals(app.synth(force=True).stacks, declared)
    assert [f.split(" names ")[1] for f in found] == [f"arn:aws:iam::{ACCOUNT}:role/nobody-made-me"]


# --- Issue #22 fault 5: a deploy-time trigger that waits no longer than its function runs ---------


def trigger_headroom_gaps(template: Template) -> list[str]:
    """Each Custom::Trigger must wait at least twice its function's timeout, and its provider's own
    Lambda must outlive the wait (a migration that runs long then fails with its own error)."""
    functions = of_type(template, "AWS::Lambda::Function")
    gaps = []
    for logical_id, trigger in of_type(template, "Custom::Trigger").items():
        props = trigger["Properties"]
        handler, _ = trigger_function(template, trigger)
        function_s = int(functions[handler]["Properties"].get("Timeout", 3))
        wait_s = int(props.get("Timeout", function_s * 1000)) // 1000
        provider = next(iter(references(props["ServiceToken"])))
        provider_s = int(resources(template)[provider]["Properties"].get("Timeout", 900))
        if wait_s < 2 * function_s:
            gaps.append(f"{logical_id} waits {wait_s} s for a function that may run {function_s} s")
        if wait_s >= provider_s:
            gaps.append(f"{logical_id} waits {wait_s} s, as long as its provider may run ({provider_s} s)")
    return gaps


def test_every_trigger_waits_well_beyond_its_function(synthesized: Synthesized) -> None:
    triggers_seen = 0
    for _, template in synthesized.templates():
        triggers_seen += len(of_type(template, "Custom::Trigger"))
        assert trigger_headroom_gaps(template) == []
    assert triggers_seen == 2 * len(synthesized.config.regions)  # the vault's pre- and post-deploy migrations


# --- Issue 19: a contract migration while the previous code still runs ------------------------------


def test_every_post_deploy_migration_runs_after_every_function_update(synthesized: Synthesized, delivered: Any) -> None:
    """Expand / contract: each template's post-deploy migration trigger waits for every other resource of
    its stack (each vault function's update included), in the default app and the delivery."""
    delivery = [(a.stack_name, a.template) for a in delivered.assembly.stacks_recursively]
    for stack, template in [*synthesized.templates(), *delivery]:
        assert migration_phase_gaps(template, POST_ALIAS) == [], stack
    posts = [
        t
        for _, template in synthesized.templates()
        for t in of_type(template, "Custom::Trigger").values()
        if trigger_function(template, t)[1] == POST_ALIAS
    ]
    assert len(posts) == len(synthesized.config.regions)


def test_a_contract_migration_racing_the_function_update_is_caught(tmp_path: Path) -> None:
    from aws_cdk import triggers

    def migrated_api(stack: Stack) -> tuple[triggers.TriggerFunction, lambda_.Function]:
        code = lambda_.Code.from_inline("def handler(event, context): pass")
        runtime = lambda_.Runtime.PYTHON_3_13
        migrate = triggers.TriggerFunction(stack, "Migrate", runtime=runtime, handler="index.handler", code=code)
        api = lambda_.Function(stack, "Api", runtime=runtime, handler="index.handler", code=code)
        migrate.execute_before(api)
        return migrate, api

    stack = _bad_stack(tmp_path / "no-post")
    migrate, _ = migrated_api(stack)
    pre = migrate.node.find_child("Trigger").node.find_child("Default").node.default_child
    assert isinstance(pre, CfnResource)
    assert migration_phase_gaps(_template(stack), POST_ALIAS) == [
        f"{_logical(stack, migrate)} has a pre-deploy trigger ({stack.resolve(pre.logical_id)})"
        " and no post-deploy trigger"
    ]
    stack = _bad_stack(tmp_path / "racing")
    migrate, api = migrated_api(stack)
    alias = lambda_.Alias(stack, "Post", alias_name=POST_ALIAS, version=migrate.current_version)
    post = triggers.Trigger(stack, "MigratePost", handler=migrate)  # waits for nothing: races the update
    default = post.node.find_child("Default").node.default_child
    assert isinstance(default, CfnResource)
    default.add_property_override("HandlerArn", alias.function_arn)
    gaps = migration_phase_gaps(_template(stack), POST_ALIAS)
    assert f"{stack.resolve(default.logical_id)} (post-deploy) may run before {_logical(stack, api)}" in gaps


def test_a_trigger_waiting_only_its_function_timeout_is_caught(tmp_path: Path) -> None:
    from aws_cdk import Duration, triggers

    stack = _bad_stack(tmp_path)
    triggers.TriggerFunction(
        stack,
        "Migrate",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        timeout=Duration.minutes(5),
    )
    assert (
        trigger_headroom_gaps(_template(stack))
        == ["MigrateTriggerC8C9B43F waits 300 s for a function that may run 300 s"]
        or len(trigger_headroom_gaps(_template(stack))) == 1
    )


# --- A database login beside key material (issue 19, finding 3) ----------------------------------


def test_no_database_user_role_can_read_key_material(synthesized: Synthesized) -> None:
    """No role that logs in to a database by IAM can read a secret value: hashes, truncated PANs and the
    key that made them never meet in one role (the keyed hash lives in KMS, GenerateMac only)."""
    scanned = 0
    for name, template in synthesized.templates():
        scanned += 1
        assert database_users_reading_key_material(template) == [], name
    assert scanned


def test_a_database_user_reading_a_secret_is_caught(tmp_path: Path) -> None:
    stack = _bad_stack(tmp_path)
    role = iam.Role(stack, "Api", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    iam.ManagedPolicy(
        stack,
        "ApiPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["rds-db:connect"], resources=["arn:aws:rds-db:us-east-1:111111111111:dbuser:prx-1/app"]
            ),
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=["arn:aws:secretsmanager:us-east-1:111111111111:secret:hmac"],
            ),
        ],
    )
    findings = database_users_reading_key_material(_template(stack))
    assert len(findings) == 1
    assert "secretsmanager:GetSecretValue" in findings[0]


# --- Alarm actions stay in the alarm's region (issue 19: the vault's known-card alarms per region) -------------


def test_every_alarm_notifies_a_topic_of_its_own_region(synthesized: Synthesized) -> None:
    regions = {artifact.stack_name: artifact.environment.region for artifact in synthesized.assembly.stacks}
    faults = [
        fault
        for name, template in synthesized.templates()
        for fault in foreign_alarm_actions(name, template, regions[name])
    ]
    assert not faults, faults
    alarms = sum(len(of_type(t, "AWS::CloudWatch::Alarm")) for _, t in synthesized.templates())
    assert alarms > 0


def test_an_alarm_on_another_regions_topic_is_caught(tmp_path: Path) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
    from aws_cdk import aws_sns as sns

    app = new_app(tmp_path)
    stack = Stack(app, "Elsewhere", env={"account": ACCOUNT, "region": "us-west-2"})
    topic = sns.Topic.from_topic_arn(stack, "HomeTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts")
    alarm = cloudwatch.Metric(namespace="X", metric_name="Y").create_alarm(
        stack, "Alarm", threshold=1, evaluation_periods=1
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    template = app.synth().get_stack_by_name("Elsewhere").template
    assert foreign_alarm_actions("Elsewhere", template, "us-west-2")
    assert not foreign_alarm_actions("Elsewhere", template, "us-east-1")


# --- Issue #22: retained resources a rolled-back first create would leave behind ---------------------


def _every_template(synthesized: Synthesized, delivered: Any) -> list[tuple[str, Template]]:
    return [
        *synthesized.templates(),
        *((a.stack_name, a.template) for a in delivered.assembly.stacks_recursively),
    ]


def test_no_resource_survives_the_rollback_of_its_own_create(synthesized: Synthesized, delivered: Any) -> None:
    templates = _every_template(synthesized, delivered)
    assert retained_through_failed_create(templates) == []
    kept = [r for _, t in templates for r in resources(t).values() if r.get("DeletionPolicy") == "RetainExceptOnCreate"]
    assert kept
    assert all(r["UpdateReplacePolicy"] == "Retain" for r in kept)


def test_a_retained_fixed_name_bucket_is_caught(tmp_path: Path) -> None:
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_logs as logs

    from pci_constructs.retention import retain

    stack = _bad_stack(tmp_path)
    s3.Bucket(stack, "Named", bucket_name="pci-lz-fixed-name", removal_policy=RemovalPolicy.RETAIN)
    retain(logs.LogGroup(stack, "Kept", log_group_name="/pci-lz/kept"))
    (finding,) = retained_through_failed_create([("Bad", _template(stack))])
    assert "AWS::S3::Bucket, fixed name pci-lz-fixed-name" in finding


# --- Issue #22: every fixed physical name is one preflight looks up (or knowingly not) ---------------


def test_every_name_like_property_of_every_template_is_classified(synthesized: Synthesized, delivered: Any) -> None:
    assert unclassified_names(_every_template(synthesized, delivered)) == []


def test_a_name_preflight_cannot_look_up_is_caught(tmp_path: Path) -> None:
    from aws_cdk import aws_events as events

    stack = _bad_stack(tmp_path)
    events.Rule(stack, "Rule", rule_name="pci-lz-nightly", schedule=events.Schedule.rate(_days(1)))
    assert unclassified_names([("Bad", _template(stack))]) == ["Bad: AWS::Events::Rule.Name"]


def test_preflight_counts_the_firewalls_the_templates_create(synthesized: Synthesized) -> None:
    from preflight.checks import firewalls_created

    per_region: dict[str, int] = {}
    for artifact in synthesized.assembly.stacks:
        count = len(of_type(artifact.template, "AWS::NetworkFirewall::Firewall"))
        per_region[artifact.environment.region] = per_region.get(artifact.environment.region, 0) + count
    assert set(per_region.values()) == {firewalls_created(synthesized.config)}
    assert firewalls_created(synthesized.config) > 0


# --- Issue #21: a deploy-time SDK call names only members of the operation's API model -----------------------


def test_every_sdk_call_parameter_is_in_the_operations_api_model(synthesized: Synthesized, delivered: Any) -> None:
    """CDK's AwsCustomResource calls go through the AWS SDK for JavaScript v3, which serializes only
    modelled members: an unmodelled parameter is dropped and the call silently does less."""
    templates = _every_template(synthesized, delivered)
    assert any(of_type(t, "Custom::AWS") for _, t in templates), "the scan must have calls to read"
    assert sdk_call_unmodelled_parameters(templates) == []


def test_an_sdk_call_with_a_parameter_the_model_lacks_is_caught(tmp_path: Path) -> None:
    from aws_cdk import custom_resources as cr

    stack = _bad_stack(tmp_path)
    call = cr.AwsSdkCall(
        service="ConfigService",
        action="putConformancePack",
        # A misspelt member: the JavaScript SDK would send a pack with a name and nothing else.
        parameters={"ConformancePackName": "p", "Sourse": {"SourceIdentifier": "PCI-DSS_V4"}},
        physical_resource_id=cr.PhysicalResourceId.of("p"),
    )
    cr.AwsCustomResource(
        stack,
        "Pack",
        on_create=call,
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        install_latest_aws_sdk=False,
    )
    findings = sdk_call_unmodelled_parameters([("Bad", _template(stack))])
    # Named by the phase and the member's path, not the hashed logical ID.
    assert [f.split(" ", 1)[1] for f in findings] == ["Create: putConformancePack.Sourse is not in the API model"]
